//! The emulator's mail state: mailboxes, their folder trees and messages (raw MIME kept byte
//! for byte plus Outlook properties), ids, and the change log that delta queries read.
//! Owns `Store`, `Mailbox`, `Folder`, `Message` and the operations on them; it knows nothing
//! about HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::{SeedFolder, SeedMailbox, SeedMessage};
use crate::ids::{self, IdKind};
use crate::mime_view::{self, MimeView};

/// Well-known folder names and display names.
/// <https://learn.microsoft.com/graph/api/resources/mailfolder> ("Use well-known folder names
/// to access folders": archive, clutter, conflicts, conversationhistory, deleteditems, drafts,
/// inbox, junkemail, localfailures, msgfolderroot, outbox, recoverableitemsdeletions,
/// scheduled, searchfolders, sentitems, serverfailures, syncissues).
pub(crate) const WELL_KNOWN: &[(&str, &str)] = &[
    ("inbox", "Inbox"),
    ("sentitems", "Sent Items"),
    ("drafts", "Drafts"),
    ("deleteditems", "Deleted Items"),
    ("junkemail", "Junk Email"),
    ("archive", "Archive"),
    ("outbox", "Outbox"),
    ("conversationhistory", "Conversation History"),
    ("syncissues", "Sync Issues"),
];

/// Well-known folders below "Sync Issues", as Exchange creates them.
pub(crate) const SYNC_ISSUES_CHILDREN: &[(&str, &str)] = &[
    ("conflicts", "Conflicts"),
    ("localfailures", "Local Failures"),
    ("serverfailures", "Server Failures"),
];

#[derive(Clone, Debug, Default)]
pub(crate) struct Folder {
    pub id: String,
    pub display_name: String,
    pub parent_id: Option<String>,
    pub hidden: bool,
    pub well_known: Option<&'static str>,
    pub order: u64,
    pub changed_seq: u64,
    /// Sequence number at creation: a folder created since a delta token's state is new to it.
    pub created_seq: u64,
    /// When each property last changed, for delta's changed-only items.
    pub changed_props: PropertyChanges,
    /// totalItemCount, unreadItemCount and childFolderCount as last recorded, so a change of
    /// counts is known as such.
    pub counts: [i64; 3],
}

/// When each property of an item last changed (mailbox sequence numbers), by its Graph name.
pub(crate) type PropertyChanges = BTreeMap<&'static str, u64>;

/// The properties of a message that its MIME determines.
const MIME_PROPERTIES: &[&str] = &[
    "subject",
    "body",
    "bodyPreview",
    "uniqueBody",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "internetMessageId",
    "internetMessageHeaders",
    "sentDateTime",
    "hasAttachments",
    "isReadReceiptRequested",
    "conversationId",
    "conversationIndex",
    "singleValueExtendedProperties",
];

/// The Graph properties whose values differ between two states of a message (besides
/// changeKey and lastModifiedDateTime, which change with every update).
fn changed_message_properties(before: &Message, after: &Message) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut note = |changed: bool, names: &[&'static str]| {
        if changed {
            out.extend_from_slice(names);
        }
    };
    // PR_MESSAGE_FLAGS (0x0E07) follows isRead and isDraft.
    note(
        before.is_read != after.is_read,
        &["isRead", "singleValueExtendedProperties"],
    );
    note(
        before.is_draft != after.is_draft,
        &["isDraft", "singleValueExtendedProperties"],
    );
    note(before.flag_status != after.flag_status, &["flag"]);
    note(before.categories != after.categories, &["categories"]);
    note(before.importance != after.importance, &["importance"]);
    note(before.folder_id != after.folder_id, &["parentFolderId"]);
    note(before.rest_id != after.rest_id, &["id", "webLink"]);
    note(before.received != after.received, &["receivedDateTime"]);
    note(before.created != after.created, &["createdDateTime"]);
    note(before.ext != after.ext, &["singleValueExtendedProperties"]);
    note(
        !Arc::ptr_eq(&before.raw, &after.raw) || !Arc::ptr_eq(&before.view, &after.view),
        MIME_PROPERTIES,
    );
    out
}

#[derive(Clone, Debug)]
pub(crate) struct Message {
    pub immutable_id: String,
    pub rest_id: String,
    pub rest_generation: u32,
    pub folder_id: String,
    pub raw: Arc<Vec<u8>>,
    pub view: Arc<MimeView>,
    pub is_read: bool,
    pub is_draft: bool,
    /// followupFlag.flagStatus: notFlagged, flagged, complete.
    pub flag_status: String,
    pub categories: Vec<String>,
    pub importance: String,
    pub received: i64,
    pub created: i64,
    pub modified: i64,
    pub changed_seq: u64,
    /// Sequence number at creation (delta's changeType=created vs updated).
    pub created_seq: u64,
    pub change_count: u32,
    /// When each property last changed, for delta's changed-only items.
    pub changed_props: PropertyChanges,
    /// singleValueExtendedProperties by normalised id ("Integer 0x1081") → value as Graph
    /// renders it (a string).
    pub ext: BTreeMap<String, String>,
    pub order: u64,
}

impl Message {
    pub fn subject(&self) -> &str {
        &self.view.subject
    }
    pub fn id(&self, immutable: bool) -> &str {
        if immutable {
            &self.immutable_id
        } else {
            &self.rest_id
        }
    }
    pub fn change_key(&self) -> String {
        ids::opaque(
            &[
                self.immutable_id.as_bytes(),
                &self.change_count.to_le_bytes(),
            ],
            40,
        )
    }
}

/// A message that left a folder (deleted or moved out): what delta reports as `@removed`.
#[derive(Clone, Debug)]
pub(crate) struct Tombstone {
    pub folder_id: String,
    pub immutable_id: String,
    pub rest_id: String,
    pub seq: u64,
    /// "deleted" or "changed" (moved out of the folder).
    pub reason: &'static str,
}

#[derive(Clone, Debug)]
pub(crate) struct Mailbox {
    pub address: String,
    pub display_name: String,
    pub user_id: String,
    pub root_id: String,
    pub folders: BTreeMap<String, Folder>,
    pub messages: HashMap<String, Message>,
    pub by_rest_id: HashMap<String, String>,
    pub seq: u64,
    pub next_order: u64,
    pub tombstones: Vec<Tombstone>,
    pub folder_tombstones: Vec<(String, u64)>,
    /// Delta state tokens issued for this mailbox (Graph keeps them server-side too).
    pub delta: HashMap<String, crate::graph::delta::DeltaSession>,
    pub delta_counter: u64,
}

pub(crate) enum Lookup<'a, T> {
    Found(&'a T),
    Malformed,
    NotFound,
}

impl Mailbox {
    pub fn new(address: &str, display_name: &str) -> Mailbox {
        let lower = address.to_ascii_lowercase();
        let user_id = ids::guid(&[b"user", lower.as_bytes()]);
        let root_id = ids::make(IdKind::Folder, &user_id, &[b"msgfolderroot"]);
        let mut mb = Mailbox {
            address: lower,
            display_name: display_name.to_string(),
            user_id,
            root_id: root_id.clone(),
            folders: BTreeMap::new(),
            messages: HashMap::new(),
            by_rest_id: HashMap::new(),
            seq: 1,
            next_order: 0,
            tombstones: Vec::new(),
            folder_tombstones: Vec::new(),
            delta: HashMap::new(),
            delta_counter: 0,
        };
        // The root's parent is the non-IPM subtree root, which Graph never lists.
        let non_ipm = ids::make(IdKind::Folder, &mb.user_id, &[b"nonipmroot"]);
        mb.insert_folder(Folder {
            id: root_id.clone(),
            display_name: "Top of Information Store".to_string(),
            parent_id: Some(non_ipm.clone()),
            hidden: false,
            well_known: Some("msgfolderroot"),
            ..Folder::default()
        });
        mb.insert_folder(Folder {
            id: ids::make(IdKind::Folder, &mb.user_id, &[b"recoverableitemsdeletions"]),
            display_name: "Deletions".to_string(),
            parent_id: Some(non_ipm),
            hidden: true,
            well_known: Some("recoverableitemsdeletions"),
            ..Folder::default()
        });
        for (wk, name) in WELL_KNOWN {
            let f = Folder {
                id: ids::make(IdKind::Folder, &mb.user_id, &[wk.as_bytes()]),
                display_name: name.to_string(),
                parent_id: Some(root_id.clone()),
                hidden: false,
                well_known: Some(wk),
                ..Folder::default()
            };
            mb.insert_folder(f);
        }
        let sync = ids::make(IdKind::Folder, &mb.user_id, &[b"syncissues"]);
        for (wk, name) in SYNC_ISSUES_CHILDREN {
            let f = Folder {
                id: ids::make(IdKind::Folder, &mb.user_id, &[wk.as_bytes()]),
                display_name: name.to_string(),
                parent_id: Some(sync.clone()),
                hidden: false,
                well_known: Some(wk),
                ..Folder::default()
            };
            mb.insert_folder(f);
        }
        mb
    }

    fn insert_folder(&mut self, mut f: Folder) {
        self.next_order += 1;
        f.order = self.next_order;
        f.created_seq = f.changed_seq;
        self.folders.insert(f.id.clone(), f);
    }

    /// Records the counts of every folder as they are, without reporting a change (after
    /// seeding, which adds messages without touching their folders).
    pub fn settle_counts(&mut self) {
        let ids: Vec<String> = self.folders.keys().cloned().collect();
        for id in ids {
            let counts = self.folder_counts(&id);
            if let Some(f) = self.folders.get_mut(&id) {
                f.counts = counts;
            }
        }
    }

    /// totalItemCount, unreadItemCount, childFolderCount.
    fn folder_counts(&self, folder_id: &str) -> [i64; 3] {
        let (total, unread) = self.counts(folder_id);
        [total, unread, self.children(folder_id, true).len() as i64]
    }

    /// Applies `f` to a folder and records which of its properties changed, for
    /// mailFolders/delta.
    pub fn update_folder(&mut self, folder_id: &str, f: impl FnOnce(&mut Folder)) {
        let Some(folder) = self.folders.get_mut(folder_id) else {
            return;
        };
        let before = folder.clone();
        f(folder);
        let changed: Vec<&'static str> = [
            (before.display_name != folder.display_name, "displayName"),
            (before.parent_id != folder.parent_id, "parentFolderId"),
            (before.hidden != folder.hidden, "isHidden"),
        ]
        .into_iter()
        .filter_map(|(changed, name)| changed.then_some(name))
        .collect();
        if changed.is_empty() {
            return;
        }
        let seq = self.bump();
        if let Some(folder) = self.folders.get_mut(folder_id) {
            folder.changed_seq = seq;
            for name in changed {
                folder.changed_props.insert(name, seq);
            }
        }
    }

    pub fn bump(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Finds a folder by id or (case-insensitively) by well-known name.
    pub fn folder(&self, id_or_name: &str) -> Lookup<'_, Folder> {
        let lower = id_or_name.to_ascii_lowercase();
        if let Some(f) = self
            .folders
            .values()
            .find(|f| f.well_known.is_some_and(|w| w == lower))
        {
            return Lookup::Found(f);
        }
        match ids::parse(id_or_name) {
            None => Lookup::Malformed,
            Some(p) if p.kind != IdKind::Folder || p.mailbox_guid != self.user_id => {
                Lookup::NotFound
            }
            Some(_) => match self.folders.get(id_or_name) {
                Some(f) => Lookup::Found(f),
                None => Lookup::NotFound,
            },
        }
    }

    pub fn folder_id_by_well_known(&self, wk: &str) -> Option<String> {
        self.folders
            .values()
            .find(|f| f.well_known == Some(wk))
            .map(|f| f.id.clone())
    }

    /// Children of a folder, in creation order (well-known first, as created).
    pub fn children(&self, parent: &str, include_hidden: bool) -> Vec<&Folder> {
        let mut v: Vec<&Folder> = self
            .folders
            .values()
            .filter(|f| f.parent_id.as_deref() == Some(parent))
            .filter(|f| include_hidden || !f.hidden)
            .collect();
        v.sort_by_key(|f| f.order);
        v
    }

    pub fn counts(&self, folder_id: &str) -> (i64, i64) {
        let mut total = 0;
        let mut unread = 0;
        for m in self.messages.values() {
            if m.folder_id == folder_id {
                total += 1;
                if !m.is_read {
                    unread += 1;
                }
            }
        }
        (total, unread)
    }

    /// Finds or creates a user folder below `parent` by display name.
    pub fn ensure_child(&mut self, parent: &str, name: &str, hidden: bool) -> String {
        if let Some(f) = self
            .folders
            .values()
            .find(|f| f.parent_id.as_deref() == Some(parent) && f.display_name == name)
        {
            return f.id.clone();
        }
        let id = ids::make(
            IdKind::Folder,
            &self.user_id,
            &[b"user-folder", parent.as_bytes(), name.as_bytes()],
        );
        let seq = self.bump();
        self.insert_folder(Folder {
            id: id.clone(),
            display_name: name.to_string(),
            parent_id: Some(parent.to_string()),
            hidden,
            well_known: None,
            changed_seq: seq,
            ..Folder::default()
        });
        id
    }

    /// Resolves a seed path ("Inbox"/"Projects"/"2026"), creating user folders.
    pub fn ensure_path(&mut self, path: &[String], hidden: bool) -> String {
        let mut cur = self.root_id.clone();
        for (i, part) in path.iter().enumerate() {
            if i == 0 {
                if let Some((wk, _)) = WELL_KNOWN
                    .iter()
                    .find(|(_, name)| name.eq_ignore_ascii_case(part))
                {
                    if let Some(id) = self.folder_id_by_well_known(wk) {
                        cur = id;
                        continue;
                    }
                }
            }
            let last = i + 1 == path.len();
            cur = self.ensure_child(&cur, part, hidden && last);
        }
        cur
    }

    pub fn message(&self, id: &str) -> Lookup<'_, Message> {
        match ids::parse(id) {
            None => Lookup::Malformed,
            Some(p)
                if p.mailbox_guid != self.user_id
                    || !matches!(p.kind, IdKind::Message | IdKind::ImmutableMessage) =>
            {
                Lookup::NotFound
            }
            Some(p) => {
                let imm = if p.kind == IdKind::ImmutableMessage {
                    Some(id)
                } else {
                    self.by_rest_id.get(id).map(|s| s.as_str())
                };
                match imm.and_then(|i| self.messages.get(i)) {
                    Some(m) => Lookup::Found(m),
                    None => Lookup::NotFound,
                }
            }
        }
    }

    pub fn rest_id_for(&self, immutable_id: &str, generation: u32) -> String {
        ids::make(
            IdKind::Message,
            &self.user_id,
            &[immutable_id.as_bytes(), &generation.to_le_bytes()],
        )
    }

    /// Stores a new message in `folder_id`. `key` makes the id deterministic (seed path and
    /// index); runtime messages pass their mailbox order number.
    pub fn add_message(
        &mut self,
        folder_id: &str,
        key: &[u8],
        raw: Vec<u8>,
        props: NewMessageProps,
    ) -> String {
        let view = mime_view::parse(&raw);
        let immutable_id = ids::make(IdKind::ImmutableMessage, &self.user_id, &[key]);
        let rest_id = self.rest_id_for(&immutable_id, 0);
        let received = props
            .received
            .or(view.date)
            .unwrap_or(1_767_225_600 /* 2026-01-01 */);
        let created = props.created.unwrap_or(received);
        let seq = self.bump();
        self.next_order += 1;
        let importance = view.importance.to_string();
        let mut ext = BTreeMap::new();
        if let Some(v) = props.last_verb {
            ext.insert("Integer 0x1081".to_string(), v.to_string());
        }
        let m = Message {
            immutable_id: immutable_id.clone(),
            rest_id: rest_id.clone(),
            rest_generation: 0,
            folder_id: folder_id.to_string(),
            raw: Arc::new(raw),
            view: Arc::new(view),
            is_read: props.is_read,
            is_draft: props.is_draft,
            flag_status: if props.flagged {
                "flagged".to_string()
            } else {
                "notFlagged".to_string()
            },
            categories: props.categories,
            importance,
            received,
            created,
            modified: created,
            changed_seq: seq,
            created_seq: seq,
            change_count: 0,
            changed_props: PropertyChanges::new(),
            ext,
            order: self.next_order,
        };
        self.by_rest_id.insert(rest_id, immutable_id.clone());
        self.messages.insert(immutable_id.clone(), m);
        immutable_id
    }

    /// Records a change of a folder's counts (messages or child folders came or went, or were
    /// read), for mailFolders/delta; a folder whose counts are as recorded is not changed.
    pub fn touch_folder(&mut self, folder_id: &str) {
        if !self.folders.contains_key(folder_id) {
            return;
        }
        let counts = self.folder_counts(folder_id);
        let Some(recorded) = self.folders.get(folder_id).map(|f| f.counts) else {
            return;
        };
        if counts == recorded {
            return;
        }
        let seq = self.bump();
        if let Some(f) = self.folders.get_mut(folder_id) {
            f.changed_seq = seq;
            for (i, name) in ["totalItemCount", "unreadItemCount", "childFolderCount"]
                .into_iter()
                .enumerate()
            {
                if counts[i] != f.counts[i] {
                    f.changed_props.insert(name, seq);
                }
            }
            f.counts = counts;
        }
    }

    /// Applies `f` to a message and records the change (changeKey, lastModified, delta).
    pub fn update_message(&mut self, immutable_id: &str, f: impl FnOnce(&mut Message)) {
        let seq = self.bump();
        let now = chrono::Utc::now().timestamp();
        let folder = match self.messages.get_mut(immutable_id) {
            Some(m) => {
                let before = m.clone();
                f(m);
                m.changed_seq = seq;
                m.change_count += 1;
                m.modified = now;
                for name in changed_message_properties(&before, m)
                    .into_iter()
                    .chain(["changeKey", "lastModifiedDateTime"])
                {
                    m.changed_props.insert(name, seq);
                }
                m.folder_id.clone()
            }
            None => return,
        };
        self.touch_folder(&folder);
    }

    /// Moves a message: it leaves its folder (delta `@removed`, reason "changed") and, as
    /// Graph does without immutable ids, gets a new default id.
    pub fn move_message(&mut self, immutable_id: &str, dest: &str) {
        let Some(m) = self.messages.get(immutable_id) else {
            return;
        };
        let (old_folder, old_rest, gen) = (
            m.folder_id.clone(),
            m.rest_id.clone(),
            m.rest_generation + 1,
        );
        if old_folder == dest {
            return;
        }
        let seq = self.bump();
        self.tombstones.push(Tombstone {
            folder_id: old_folder.clone(),
            immutable_id: immutable_id.to_string(),
            rest_id: old_rest.clone(),
            seq,
            reason: "changed",
        });
        let new_rest = self.rest_id_for(immutable_id, gen);
        self.by_rest_id.remove(&old_rest);
        self.by_rest_id
            .insert(new_rest.clone(), immutable_id.to_string());
        let dest = dest.to_string();
        self.update_message(immutable_id, |m| {
            m.folder_id = dest.clone();
            m.rest_id = new_rest;
            m.rest_generation = gen;
        });
        self.touch_folder(&old_folder);
    }

    /// Copies a message into `dest`; the copy is a new item with new ids.
    pub fn copy_message(&mut self, immutable_id: &str, dest: &str) -> Option<String> {
        let m = self.messages.get(immutable_id)?.clone();
        let order = self.next_order + 1;
        let now = chrono::Utc::now().timestamp();
        let new_id = self.add_message(
            dest,
            format!("copy/{order}/{immutable_id}").as_bytes(),
            m.raw.as_ref().clone(),
            NewMessageProps {
                is_read: m.is_read,
                is_draft: m.is_draft,
                flagged: false,
                categories: m.categories.clone(),
                received: Some(m.received),
                created: Some(now),
                last_verb: None,
            },
        );
        if let Some(c) = self.messages.get_mut(&new_id) {
            c.flag_status = m.flag_status.clone();
            c.ext = m.ext.clone();
            c.importance = m.importance.clone();
        }
        self.touch_folder(dest);
        Some(new_id)
    }

    /// Removes a message from the mailbox for good (permanentDelete).
    pub fn remove_message(&mut self, immutable_id: &str, reason: &'static str) {
        let Some(m) = self.messages.remove(immutable_id) else {
            return;
        };
        self.by_rest_id.remove(&m.rest_id);
        let seq = self.bump();
        self.tombstones.push(Tombstone {
            folder_id: m.folder_id.clone(),
            immutable_id: m.immutable_id.clone(),
            rest_id: m.rest_id.clone(),
            seq,
            reason,
        });
        self.touch_folder(&m.folder_id);
    }

    /// Every folder below the root (recursively), parents before children.
    pub fn all_folders_under_root(&self) -> Vec<&Folder> {
        let mut out = Vec::new();
        let mut stack = vec![self.root_id.clone()];
        while let Some(p) = stack.pop() {
            for c in self.children(&p, true) {
                out.push(c);
                stack.push(c.id.clone());
            }
        }
        out
    }

    /// Creates a user folder; `None` when a sibling has the same name (case-insensitive).
    pub fn create_folder(&mut self, parent: &str, name: &str, hidden: bool) -> Option<String> {
        if self.folders.values().any(|f| {
            f.parent_id.as_deref() == Some(parent) && f.display_name.eq_ignore_ascii_case(name)
        }) {
            return None;
        }
        self.delta_counter += 1;
        let id = ids::make(
            IdKind::Folder,
            &self.user_id,
            &[
                b"created-folder",
                parent.as_bytes(),
                name.as_bytes(),
                &self.next_order.to_le_bytes(),
            ],
        );
        let seq = self.bump();
        self.insert_folder(Folder {
            id: id.clone(),
            display_name: name.to_string(),
            parent_id: Some(parent.to_string()),
            hidden,
            well_known: None,
            changed_seq: seq,
            ..Folder::default()
        });
        self.touch_folder(parent);
        Some(id)
    }

    /// Messages of a folder, newest received first (ties: newest stored first).
    pub fn folder_messages(&self, folder_id: &str) -> Vec<&Message> {
        let mut v: Vec<&Message> = self
            .messages
            .values()
            .filter(|m| m.folder_id == folder_id)
            .collect();
        v.sort_by(|a, b| b.received.cmp(&a.received).then(b.order.cmp(&a.order)));
        v
    }

    /// Every message of the mailbox (GET /users/{id}/messages), same order.
    pub fn all_messages(&self) -> Vec<&Message> {
        let mut v: Vec<&Message> = self.messages.values().collect();
        v.sort_by(|a, b| b.received.cmp(&a.received).then(b.order.cmp(&a.order)));
        v
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct NewMessageProps {
    pub is_read: bool,
    pub is_draft: bool,
    pub flagged: bool,
    pub categories: Vec<String>,
    pub received: Option<i64>,
    pub created: Option<i64>,
    pub last_verb: Option<i32>,
}

impl From<&SeedMessage> for NewMessageProps {
    fn from(s: &SeedMessage) -> Self {
        NewMessageProps {
            is_read: s.is_read,
            is_draft: s.is_draft,
            flagged: s.flagged,
            categories: s.categories.clone(),
            received: s.received,
            created: None,
            last_verb: s.last_verb,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Store {
    /// Keyed by lower-case SMTP address.
    pub mailboxes: BTreeMap<String, Mailbox>,
    /// Open attachment upload sessions by session id.
    pub uploads: HashMap<String, crate::graph::attachments::UploadSession>,
}

impl Store {
    pub fn from_seed(seed: &[SeedMailbox]) -> Store {
        let mut store = Store::default();
        for smb in seed {
            let mut mb = Mailbox::new(&smb.address, &smb.display_name);
            for folder in &smb.folders {
                seed_folder(&mut mb, folder);
            }
            mb.settle_counts();
            store.mailboxes.insert(mb.address.clone(), mb);
        }
        store
    }

    /// Finds a mailbox by SMTP address/UPN (case-insensitive) or user GUID.
    pub fn mailbox_key(&self, id: &str) -> Option<String> {
        let lower = id.to_ascii_lowercase();
        if self.mailboxes.contains_key(&lower) {
            return Some(lower);
        }
        self.mailboxes
            .values()
            .find(|m| m.user_id == lower)
            .map(|m| m.address.clone())
    }
}

fn seed_folder(mb: &mut Mailbox, folder: &SeedFolder) {
    let folder_id = mb.ensure_path(&folder.path, folder.hidden);
    let path = folder.path.join("/");
    for (i, sm) in folder.messages.iter().enumerate() {
        let key = format!("seed/{path}/{i}");
        mb.add_message(&folder_id, key.as_bytes(), sm.raw.clone(), sm.into());
    }
}
