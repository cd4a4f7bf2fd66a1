//! Owns the mailbox hub: one per Graph mailbox (and application) per process, shared by every
//! session of that mailbox. It holds the folder tree (kept with `mailFolders/delta`), each
//! folder's snapshot with UIDs from the uid store (kept with `messages/delta`, in `sync`), the
//! channel that tells sessions of a newer snapshot (one poller per watched folder), and message
//! bodies in a byte-bounded cache (a message APPENDed through the gateway rebuilt as appended
//! from its exact record, `exact`), so that sessions ask it for folders, messages and bodies
//! and never see HTTP. Changes to the mailbox (flags, expunge, copy and move, append, folders) are in
//! `write`.

#[cfg(test)]
mod consistency;
mod exact;
mod sync;
mod write;

pub use write::{AppendError, FlagUpdate, Transfer};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use moka::future::Cache;
use tokio::sync::watch;

use crate::categories;
use crate::config::Config;
use crate::graph::model::{DeltaRound, MailFolder, MessageSummary};
use crate::graph::{Credentials, GraphClient, GraphError, MailAccess, MailboxGraph};
use crate::login::MailboxName;
use crate::mime::with_crlf_line_ends;
use crate::store::{HeldFlags, MessageState, StoreError, UidStore};
use crate::throttle::LoginThrottle;

/// A folder tree this young is served from memory.
const FOLDER_TREE_FRESHNESS: Duration = Duration::from_secs(5);
/// Single bodies downloaded at once by one request for bodies.
const BODIES_IN_FLIGHT: usize = 4;
/// A folder synchronised this recently is served from memory (a session's SELECT right after
/// LIST).
const FOLDER_INDEX_FRESHNESS: Duration = Duration::from_secs(1);
/// Rounds of one synchronisation thrown away because a change made through this hub was
/// applied to the snapshot meanwhile, before the round is published as it is.
const SYNC_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{0}")]
    Store(String),
}

impl From<StoreError> for HubError {
    fn from(err: StoreError) -> Self {
        HubError::Store(err.to_string())
    }
}

/// SPECIAL-USE attributes (RFC 6154) of Graph's well-known folders.
pub fn special_use(well_known: &str) -> Option<&'static str> {
    Some(match well_known {
        "sentitems" => "\\Sent",
        "drafts" => "\\Drafts",
        "deleteditems" => "\\Trash",
        "junkemail" => "\\Junk",
        "archive" => "\\Archive",
        _ => return None,
    })
}

/// One folder as IMAP names it.
#[derive(Debug, Clone)]
pub struct Folder {
    pub id: String,
    /// Full IMAP name in UTF-8 with `/` between levels; the inbox is `INBOX`.
    pub name: String,
    pub well_known: Option<String>,
    pub has_children: bool,
    pub total: u32,
    pub unread: u32,
}

impl Folder {
    pub fn special_use(&self) -> Option<&'static str> {
        self.well_known.as_deref().and_then(special_use)
    }
}

/// Every folder of the mailbox, parents before children.
#[derive(Debug, Clone, Default)]
pub struct FolderTree {
    pub folders: Vec<Folder>,
}

impl FolderTree {
    /// The folder of that IMAP name; `INBOX` in any case, other names exactly (RFC 3501 5.1).
    pub fn find(&self, name: &str) -> Option<&Folder> {
        let name = normalise_inbox(name);
        self.folders.iter().find(|folder| folder.name == name)
    }
}

/// `inbox`, `Inbox/x` → `INBOX`, `INBOX/x`: INBOX is case-insensitive, also as a prefix.
pub fn normalise_inbox(name: &str) -> String {
    let (head, tail) = match name.split_once('/') {
        Some((head, tail)) => (head, Some(tail)),
        None => (name, None),
    };
    if head.eq_ignore_ascii_case("INBOX") {
        match tail {
            Some(tail) => format!("INBOX/{tail}"),
            None => "INBOX".into(),
        }
    } else {
        name.to_string()
    }
}

/// What IMAP shows of a message's state: Graph's state with what the gateway holds (\Deleted,
/// and the flags Graph cannot hold) merged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFlags {
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub forwarded: bool,
    pub draft: bool,
    pub deleted: bool,
    /// The categories' keywords and the keywords the gateway holds.
    pub keywords: Vec<String>,
    /// Categories no keyword shows (an empty name, or one a keyword already shows in another
    /// case): kept as they are when the keywords change.
    pub other_categories: Vec<String>,
    /// Graph's own \Draft, \Answered and $Forwarded, which the flags above may show otherwise.
    pub in_graph: GraphMarks,
    /// What of the flags above the gateway holds because Graph cannot.
    pub held: HeldFlags,
}

/// `isDraft` and PR_LAST_VERB_EXECUTED as Graph holds them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GraphMarks {
    pub draft: bool,
    pub answered: bool,
    pub forwarded: bool,
}

impl MessageFlags {
    /// The flags of a message as a whole object from Graph gives it. Public (doc-hidden) for
    /// the `graph_json` fuzz target.
    #[doc(hidden)]
    pub fn from_graph(summary: &MessageSummary) -> Self {
        Self::from_state(&sync::message_state(summary))
    }

    /// The flags of a message in that Graph state (\Deleted and the held flags, which Graph
    /// does not hold, unset).
    fn from_state(state: &MessageState) -> Self {
        let verb = state.last_verb;
        let in_graph = GraphMarks {
            draft: state.is_draft,
            // PR_LAST_VERB_EXECUTED: 102 EXCHIVERB_REPLYTOSENDER, 103 EXCHIVERB_REPLYTOALL,
            // 104 EXCHIVERB_FORWARD ([MS-OXOMSG] 2.2.1.5).
            answered: matches!(verb, Some(102 | 103)),
            forwarded: verb == Some(104),
        };
        let mut keywords: Vec<String> = Vec::new();
        let mut other_categories = Vec::new();
        for category in &state.categories {
            match categories::keyword_of(category) {
                Some(keyword) if !has_keyword(&keywords, &keyword) => keywords.push(keyword),
                _ => other_categories.push(category.clone()),
            }
        }
        MessageFlags {
            seen: state.is_read,
            flagged: state.is_flagged,
            answered: in_graph.answered,
            forwarded: in_graph.forwarded,
            draft: in_graph.draft,
            deleted: false,
            keywords,
            other_categories,
            in_graph,
            held: HeldFlags::default(),
        }
    }

    /// These flags with what the gateway holds now in place of what it held before.
    pub(crate) fn holding(mut self, held: HeldFlags) -> Self {
        self.keywords
            .retain(|keyword| !has_keyword(&self.held.keywords, keyword));
        for keyword in &held.keywords {
            if !has_keyword(&self.keywords, keyword) {
                self.keywords.push(keyword.clone());
            }
        }
        self.draft = held.draft.unwrap_or(self.in_graph.draft);
        self.answered = self.in_graph.answered || held.answered;
        self.forwarded = self.in_graph.forwarded || held.forwarded;
        self.held = held;
        self
    }

    /// The change from `old` to these flags, made to `current` instead: each flag the change
    /// sets or clears as it says, every other as `current` has it (what others changed since
    /// `old` was seen stays).
    pub(crate) fn rebased(&self, old: &MessageFlags, current: &MessageFlags) -> MessageFlags {
        let pick = |mine: bool, seen: bool, now: bool| if mine != seen { mine } else { now };
        let mut keywords: Vec<String> = current
            .keywords
            .iter()
            .filter(|k| !has_keyword(&old.keywords, k) || has_keyword(&self.keywords, k))
            .cloned()
            .collect();
        for keyword in &self.keywords {
            if !has_keyword(&old.keywords, keyword) && !has_keyword(&keywords, keyword) {
                keywords.push(keyword.clone());
            }
        }
        MessageFlags {
            seen: pick(self.seen, old.seen, current.seen),
            flagged: pick(self.flagged, old.flagged, current.flagged),
            answered: pick(self.answered, old.answered, current.answered),
            forwarded: pick(self.forwarded, old.forwarded, current.forwarded),
            draft: pick(self.draft, old.draft, current.draft),
            deleted: pick(self.deleted, old.deleted, current.deleted),
            keywords,
            ..current.clone()
        }
    }

    /// These flags as Graph holds them, without what the gateway holds.
    pub(crate) fn as_in_graph(&self) -> MessageFlags {
        self.clone().holding(HeldFlags::default())
    }

    /// What Graph holds of these flags, and what the gateway must hold for IMAP to show them,
    /// on a message whose flags were `old`. Graph gets what it can: the categories, and of
    /// \Answered and $Forwarded together the one set last (\Answered when both are new), as
    /// PR_LAST_VERB_EXECUTED is the last verb; \Draft stays Graph's.
    pub(crate) fn split(&self, old: &MessageFlags) -> (MessageFlags, HeldFlags) {
        let newly_answered = self.answered && !old.answered;
        let newly_forwarded = self.forwarded && !old.forwarded;
        let forward_in_graph = match (self.answered, self.forwarded) {
            (_, false) => false,
            (false, true) => true,
            (true, true) if newly_answered != newly_forwarded => newly_forwarded,
            (true, true) if newly_answered => false,
            (true, true) => old.in_graph.forwarded && !old.in_graph.answered,
        };
        let in_graph = GraphMarks {
            draft: old.in_graph.draft,
            answered: self.answered && !forward_in_graph,
            forwarded: forward_in_graph,
        };
        let (keywords, held_keywords): (Vec<String>, Vec<String>) = self
            .keywords
            .iter()
            .cloned()
            .partition(|keyword| categories::category_of(keyword).is_some());
        let held = HeldFlags {
            draft: (self.draft != in_graph.draft).then_some(self.draft),
            answered: self.answered && !in_graph.answered,
            forwarded: self.forwarded && !in_graph.forwarded,
            keywords: held_keywords,
        };
        let graph = MessageFlags {
            answered: in_graph.answered,
            forwarded: in_graph.forwarded,
            draft: in_graph.draft,
            keywords,
            in_graph,
            held: HeldFlags::default(),
            ..self.clone()
        };
        (graph, held)
    }

    /// The categories Graph holds for these flags: those no keyword shows, and those the
    /// keywords spell.
    pub(crate) fn categories(&self) -> Vec<String> {
        // A category shown by a keyword in another case goes with that keyword.
        let mut categories: Vec<String> = self
            .other_categories
            .iter()
            .filter(|c| categories::keyword_of(c).is_none_or(|k| has_keyword(&self.keywords, &k)))
            .cloned()
            .collect();
        for name in self
            .keywords
            .iter()
            .filter_map(|k| categories::category_of(k))
        {
            if !categories.contains(&name) {
                categories.push(name);
            }
        }
        categories
    }
}

/// Whether `keyword` is among `keywords` (IMAP keywords compare without regard to case).
fn has_keyword(keywords: &[String], keyword: &str) -> bool {
    keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword))
}

/// One message of a folder's index.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageMeta {
    pub uid: u32,
    pub id: Arc<str>,
    pub flags: MessageFlags,
    pub internal_date: DateTime<Utc>,
    /// Exact RFC822.SIZE once learned from the body.
    pub size: Option<u64>,
    /// Graph's `hasAttachments`: a hint that the body may be large.
    pub has_attachments: bool,
}

/// A folder's messages as of one synchronisation with Graph, ordered by UID.
#[derive(Debug, Clone)]
pub struct FolderSnapshot {
    pub folder_id: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: Vec<MessageMeta>,
    /// Graph says the folder no longer exists (deleted elsewhere): sessions that selected it
    /// must end.
    pub vanished: bool,
    /// `messages` as one list the sessions whose view of the folder is this snapshot share.
    pub shared: SharedMessages,
}

impl FolderSnapshot {
    /// The messages as a list shared with every session that asks, made at the first ask: a
    /// session keeps its own copy only while its view differs from the folder's (issue 13,
    /// item 4: ten thousand sessions on one folder hold its list once, not ten thousand times).
    pub fn shared_messages(&self) -> Arc<Vec<MessageMeta>> {
        self.shared
            .0
            .get_or_init(|| Arc::new(self.messages.clone()))
            .clone()
    }
}

/// A snapshot's messages shared by sessions ([`FolderSnapshot::shared_messages`]). A clone
/// starts empty: a snapshot is cloned to be amended, and the list would no longer match.
#[derive(Debug, Default)]
pub struct SharedMessages(std::sync::OnceLock<Arc<Vec<MessageMeta>>>);

impl Clone for SharedMessages {
    fn clone(&self) -> Self {
        SharedMessages::default()
    }
}

/// The folder tree as last synchronised, and Graph's flat list it was built from.
#[derive(Default)]
struct TreeState {
    tree: Option<Arc<FolderTree>>,
    at: Option<Instant>,
    folders: HashMap<String, MailFolder>,
    /// Where the next `mailFolders/delta` round starts.
    delta_link: Option<String>,
}

/// The answer to a body download other sessions may be waiting for.
type BodyReceiver = watch::Receiver<Option<Result<Bytes, HubError>>>;

/// Bodies one caller is downloading in a `$batch`; they stop counting as in flight when the
/// claim is dropped, answered or not.
struct DownloadClaim<'h> {
    hub: &'h MailboxHub,
    ids: Vec<Arc<str>>,
    positions: Vec<usize>,
    senders: Vec<watch::Sender<Option<Result<Bytes, HubError>>>>,
}

impl Drop for DownloadClaim<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.hub.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            in_flight.remove(id);
        }
    }
}

/// One folder's shared state: its latest snapshot, and the channel through which sessions learn
/// of a newer one (at the end of their commands, and while they IDLE).
#[derive(Default)]
struct FolderIndex {
    /// Held while the folder is synchronised, so concurrent asks share one round.
    sync: tokio::sync::Mutex<sync::SyncPoint>,
    latest: watch::Sender<Option<Arc<FolderSnapshot>>>,
    /// Exact sizes learned from bodies since the latest snapshot, for the next one.
    learned_sizes: Mutex<HashMap<Arc<str>, u64>>,
    /// Whether a poller task keeps this folder fresh for idling sessions.
    polled: AtomicBool,
    /// Set by [`MailboxHub::invalidate`]: the next snapshot lists the folder whatever its age.
    stale: AtomicBool,
    /// Held shared by each change made through this hub while Graph carries it out and it is
    /// applied to the snapshot, and exclusively by a synchronisation round: a round that
    /// overlapped a change could publish what the change undid (an expunged message back, an
    /// appended one gone), and sessions would announce EXISTS and EXPUNGE that Graph never saw.
    changing: Arc<tokio::sync::RwLock<()>>,
    /// Held while UIDs are allocated in the folder and their messages added to the snapshot,
    /// so messages enter it in UID order: a session only ever learns of UIDs above its last.
    allocating: Arc<tokio::sync::Mutex<()>>,
}

pub struct MailboxHub {
    graph: MailboxGraph,
    store: UidStore,
    bodies: Cache<Arc<str>, Bytes>,
    /// Bodies being downloaded in a `$batch` right now, by message id.
    in_flight: Mutex<HashMap<Arc<str>, BodyReceiver>>,
    include_hidden: bool,
    /// Well-known name → folder id.
    well_known: HashMap<String, String>,
    tree: tokio::sync::Mutex<TreeState>,
    indexes: Mutex<HashMap<String, Arc<FolderIndex>>>,
    /// Since when no session has held the hub, as the registry last looked.
    unused_since: Mutex<Option<Instant>>,
    /// How often a folder that sessions IDLE on is listed again.
    poll_interval: Duration,
    /// A round this recent serves a folder that changed through this hub since (`pacing`).
    sync_coalesce: Duration,
    /// How far freshness windows and IDLE polling stretch as the mailbox's budget runs out.
    tight_stretch: f64,
}

impl MailboxHub {
    pub fn mailbox(&self) -> &MailboxName {
        self.graph.mailbox()
    }

    /// How many times longer than usual memory may serve the mailbox's folders and IDLE
    /// polls may be apart: 1 while its Graph budget is plentiful, up to `pacing.tight_stretch`
    /// as it runs out (growing with the square of the budget spent, so a mailbox that spends
    /// a little hardly notices).
    fn stretch(&self) -> f64 {
        let tightness = self.graph.budget_tightness();
        1.0 + (self.tight_stretch - 1.0).max(0.0) * tightness * tightness
    }

    /// Whether this application may change the mailbox: false only when its token's roles
    /// grant reading mail and not `Mail.ReadWrite`. When the token cannot be had, Graph is left
    /// to answer the write (it would have needed the token anyway).
    pub async fn may_write(&self) -> bool {
        self.graph
            .mail_access()
            .await
            .map_or(true, MailAccess::may_write)
    }

    /// The folder tree, synchronised again when older than a few seconds or when `refresh`
    /// asks: one round of `mailFolders/delta` (or, when hidden folders are shown, which delta
    /// may not name, a listing of every level).
    pub async fn folders(&self, refresh: bool) -> Result<Arc<FolderTree>, HubError> {
        let mut state = self.tree.lock().await;
        if let (Some(tree), Some(at)) = (&state.tree, state.at) {
            if !refresh && at.elapsed() < FOLDER_TREE_FRESHNESS.mul_f64(self.stretch()) {
                return Ok(tree.clone());
            }
        }
        let changed = if self.include_hidden {
            state.folders = self.list_every_folder().await?;
            true
        } else {
            let round = match state.delta_link.clone() {
                Some(link) => match self.graph.folders_delta(Some(&link)).await {
                    Ok(round) => Some(round),
                    Err(err) if err.is_sync_state_lost() => None,
                    Err(err) => return Err(err.into()),
                },
                None => None,
            };
            let round = match round {
                Some(round) => round,
                None => {
                    let round = self.graph.folders_delta(None).await?;
                    state.folders.clear();
                    round
                }
            };
            self.merge_folders(&mut state, round).await?
        };
        state.at = Some(Instant::now());
        let tree = match &state.tree {
            Some(tree) if !changed => tree.clone(),
            _ => Arc::new(build_tree(
                &state.folders,
                &self.well_known,
                self.include_hidden,
            )),
        };
        state.tree = Some(tree.clone());
        Ok(tree)
    }

    /// Merges a round of `mailFolders/delta` into the folders known: each item is a patch
    /// (a folder whose counts changed may come with nothing but its counts, and an item may be
    /// replayed), so it updates the folder it names; a folder not known yet whose item does not
    /// say its name and parent is read whole, in one `$batch`. Whether the tree changed.
    async fn merge_folders(
        &self,
        state: &mut TreeState,
        round: DeltaRound<MailFolder>,
    ) -> Result<bool, HubError> {
        let unknown: Vec<&str> = round
            .changed
            .iter()
            .filter(|f| !f.is_placed() && !state.folders.contains_key(&f.id))
            .map(|f| f.id.as_str())
            .collect();
        let mut read = HashMap::new();
        if !unknown.is_empty() {
            let answers = self.graph.folders_by_id(&unknown).await?;
            for (id, answer) in unknown.iter().zip(answers) {
                match answer {
                    Ok(folder) => read.insert(id.to_string(), Some(folder)),
                    // Gone meanwhile: its removal comes in a later round.
                    Err(err) if err.is_not_found() => read.insert(id.to_string(), None),
                    Err(err) => return Err(err.into()),
                };
            }
        }
        let mut changed = false;
        for id in round.removed {
            changed |= state.folders.remove(&id).is_some();
        }
        for item in round.changed {
            let item = match read.remove(&item.id) {
                Some(Some(whole)) => whole,
                Some(None) => continue,
                None => item,
            };
            match state.folders.get_mut(&item.id) {
                Some(known) => {
                    let before = known.clone();
                    known.merge(item);
                    changed |= *known != before;
                }
                None => {
                    state.folders.insert(item.id.clone(), item);
                    changed = true;
                }
            }
        }
        state.delta_link = Some(round.delta_link);
        Ok(changed)
    }

    /// Every folder, listed level by level (the root's children, then theirs).
    async fn list_every_folder(&self) -> Result<HashMap<String, MailFolder>, HubError> {
        let mut folders = HashMap::new();
        let mut level = self.graph.list_root_folders(self.include_hidden).await?;
        while !level.is_empty() {
            let mut next = Vec::new();
            for folder in level {
                if folder.child_folder_count.unwrap_or(0) > 0 {
                    next.extend(
                        self.graph
                            .list_child_folders(&folder.id, self.include_hidden)
                            .await?,
                    );
                }
                folders.insert(folder.id.clone(), folder);
            }
            level = next;
        }
        Ok(folders)
    }

    /// The folder's messages with their UIDs, synchronised with Graph (or as synchronised within
    /// the last second). New messages get UIDs in ascending receivedDateTime order.
    pub async fn folder_snapshot(&self, folder_id: &str) -> Result<Arc<FolderSnapshot>, HubError> {
        self.fresh_snapshot(folder_id, FOLDER_INDEX_FRESHNESS).await
    }

    /// Like [`folder_snapshot`](Self::folder_snapshot), accepting a synchronisation up to
    /// `max_age` old. Every new snapshot is announced to the sessions that watch the folder.
    ///
    /// Asks for one folder share rounds: those that come while a round is under way wait for
    /// it and take it (if it is young enough for them). A folder changed through this hub
    /// since its last round (`invalidate`) is synchronised again unless that round ended
    /// within `pacing.sync_coalesce_ms`: the change is in the snapshot already, and a storm of
    /// APPENDs and SELECTs from many sessions then costs a round per window, not one each.
    /// Both windows stretch as the mailbox's Graph budget runs out; `max_age` zero always
    /// synchronises.
    pub async fn fresh_snapshot(
        &self,
        folder_id: &str,
        max_age: Duration,
    ) -> Result<Arc<FolderSnapshot>, HubError> {
        let index = self.index(folder_id);
        let mut point = index.sync.lock().await;
        let stale = index.stale.swap(false, Ordering::SeqCst);
        if let (Some(at), Some(snapshot)) = (point.at, index.latest.borrow().clone()) {
            let stretch = self.stretch();
            let mut window = max_age.mul_f64(stretch);
            if stale {
                window = window.min(self.sync_coalesce.mul_f64(stretch));
            }
            if at.elapsed() < window {
                if stale {
                    // Still owed a round: the next ask past the window takes it.
                    index.stale.store(true, Ordering::SeqCst);
                }
                return Ok(snapshot);
            }
        }
        let _no_change_under_way = index.changing.write().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let previous = index.latest.borrow().clone();
            let resume_from = point.delta_link.clone();
            let snapshot = match self
                .sync_folder(folder_id, &index, &mut point, previous.clone())
                .await
            {
                Ok(snapshot) => snapshot,
                Err(err) => {
                    if stale {
                        index.stale.store(true, Ordering::SeqCst);
                    }
                    let gone = matches!(&err, HubError::Graph(graph) if graph.is_not_found());
                    if gone && previous.as_ref().is_some_and(|snapshot| !snapshot.vanished) {
                        self.amend(folder_id, |snapshot| snapshot.vanished = true);
                    }
                    return Err(err);
                }
            };
            point.at = Some(Instant::now());
            // A change made through this hub (`write`) may have amended the snapshot while the
            // round was under way, and the round may predate it: then the round is taken
            // again, after the change, rather than undoing it for a moment.
            let mut published = false;
            index.latest.send_if_modified(|latest| {
                let unchanged = match (latest.as_ref(), previous.as_ref()) {
                    (Some(now), Some(before)) => Arc::ptr_eq(now, before),
                    (None, None) => true,
                    _ => false,
                };
                if unchanged || attempt == SYNC_ATTEMPTS {
                    published = true;
                    let modified = !latest.as_ref().is_some_and(|l| Arc::ptr_eq(l, &snapshot));
                    *latest = Some(snapshot.clone());
                    return modified;
                }
                false
            });
            if published {
                return Ok(snapshot);
            }
            // The next attempt applies the same changes (and any since) to the amended snapshot.
            point.delta_link = resume_from;
            point.undo_round();
        }
    }

    /// The latest snapshot of the folder, if any, without asking Graph.
    pub fn latest_snapshot(&self, folder_id: &str) -> Option<Arc<FolderSnapshot>> {
        self.index(folder_id).latest.borrow().clone()
    }

    /// A channel that carries each new snapshot of the folder. While anyone holds one, a single
    /// poller per folder (whatever the number of sessions) synchronises the folder every poll
    /// interval, with jitter, so that idling sessions learn of changes made elsewhere.
    pub fn watch(
        self: &Arc<Self>,
        folder_id: &str,
    ) -> watch::Receiver<Option<Arc<FolderSnapshot>>> {
        let index = self.index(folder_id);
        let receiver = index.latest.subscribe();
        if !index.polled.swap(true, Ordering::SeqCst) {
            let hub = Arc::downgrade(self);
            let folder_id = folder_id.to_string();
            let usual = self.poll_interval;
            tokio::spawn(async move {
                let mut interval = usual;
                loop {
                    // Jitter spreads pollers of many folders; small enough to keep a change within the
                    // interval plus a second.
                    let jitter = Duration::from_millis(fastrand::u64(
                        0..=(interval.as_millis() as u64 / 10).min(500),
                    ));
                    tokio::time::sleep(interval + jitter).await;
                    let Some(hub) = hub.upgrade() else { return };
                    // Polls come less often while the mailbox's budget is tight.
                    interval = usual.mul_f64(hub.stretch());
                    let index = hub.index(&folder_id);
                    if index.latest.receiver_count() == 0 {
                        index.polled.store(false, Ordering::SeqCst);
                        return;
                    }
                    if let Err(err) = hub.fresh_snapshot(&folder_id, usual / 2).await {
                        tracing::warn!(mailbox = %hub.mailbox(), error = %err, "polling a folder failed");
                    }
                }
            });
        }
        receiver
    }

    fn index(&self, folder_id: &str) -> Arc<FolderIndex> {
        let mut indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        indexes.entry(folder_id.to_string()).or_default().clone()
    }

    /// Gives up the folder indexes nobody is using (no one holds one, watches it or is
    /// synchronising it). A folder's next snapshot resumes from the uid store, as after a
    /// restart.
    fn release_indexes(&self) -> usize {
        let mut indexes = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        let before = indexes.len();
        indexes.retain(|_, index| {
            Arc::strong_count(index) > 1
                || index.latest.receiver_count() > 0
                || index.sync.try_lock().is_err()
        });
        before - indexes.len()
    }

    /// Marks the folder's snapshot out of date, after a change made through this hub, so the
    /// next snapshot (of any session) synchronises it again, even if a round is under way now
    /// (it may predate the change).
    pub fn invalidate(&self, folder_id: &str) {
        self.index(folder_id).stale.store(true, Ordering::SeqCst);
    }

    /// The MIME of each message, in order, from the cache or from Graph, with CRLF line ends
    /// (as IMAP serves it: RFC822.SIZE counts these bytes). Messages without
    /// attachments (small, as a rule) are fetched twenty to a `$batch`; the others one by one, a
    /// few at a time, so that no single answer holds many large bodies. The first time a body is
    /// seen its exact size goes to the uid store, so RFC822.SIZE never needs the body again.
    pub async fn bodies(
        &self,
        folder_id: &str,
        messages: &[&MessageMeta],
    ) -> Vec<Result<Bytes, HubError>> {
        let mut results: Vec<Option<Result<Bytes, HubError>>> = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.bodies.get(&message.id).await.map(Ok));
        }
        self.exact_bodies(folder_id, messages, &mut results).await;
        let missing_small: Vec<usize> = (0..messages.len())
            .filter(|&i| results[i].is_none() && !messages[i].has_attachments)
            .collect();
        if missing_small.len() > 1 {
            // Bodies another session is downloading right now are awaited, not asked again;
            // the rest go in one `$batch` that later askers can wait for in turn.
            let (mine, theirs) = self.claim_downloads(&missing_small, messages);
            if !mine.ids.is_empty() {
                let ids: Vec<&str> = mine.ids.iter().map(|id| &**id).collect();
                let answers: Vec<Result<Bytes, HubError>> =
                    match self.graph.messages_mime(&ids).await {
                        Ok(answers) => answers
                            .into_iter()
                            .map(|a| a.map(with_crlf_line_ends).map_err(HubError::from))
                            .collect(),
                        Err(err) => ids
                            .iter()
                            .map(|_| Err(HubError::from(err.clone())))
                            .collect(),
                    };
                for ((&i, answer), sender) in mine.positions.iter().zip(answers).zip(&mine.senders)
                {
                    if let Ok(body) = &answer {
                        self.bodies
                            .insert(messages[i].id.clone(), body.clone())
                            .await;
                    }
                    sender.send_replace(Some(answer.clone()));
                    results[i] = Some(answer);
                }
            }
            for (i, mut receiver) in theirs {
                // A download abandoned half-way (its session went) leaves the message to the
                // single downloads below.
                if let Ok(answer) = receiver.wait_for(Option::is_some).await {
                    results[i] = answer.clone();
                }
            }
        }
        let singles: Vec<usize> = (0..messages.len())
            .filter(|&i| results[i].is_none())
            .collect();
        let downloads: Vec<_> = singles.iter().map(|&i| self.body(messages[i])).collect();
        let fetched: Vec<Result<Bytes, HubError>> = stream::iter(downloads)
            .buffered(BODIES_IN_FLIGHT)
            .collect()
            .await;
        for (&i, answer) in singles.iter().zip(fetched) {
            results[i] = Some(answer);
        }
        let learned: Vec<(String, u64)> = messages
            .iter()
            .zip(&results)
            .filter_map(|(message, result)| match result {
                Some(Ok(body)) if message.size != Some(body.len() as u64) => {
                    Some((message.id.to_string(), body.len() as u64))
                }
                _ => None,
            })
            .collect();
        if !learned.is_empty() {
            let index = self.index(folder_id);
            let mut sizes = index
                .learned_sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            for (id, size) in &learned {
                sizes.insert(Arc::from(id.as_str()), *size);
            }
        }
        if let Err(err) = self
            .store
            .set_sizes(self.mailbox().as_str(), folder_id, learned)
            .await
        {
            // The sizes will be learned again from the next download; the answer stands.
            tracing::warn!(error = %err, "could not record message sizes");
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(HubError::Store("body not fetched".into()))))
            .collect()
    }

    /// The bodies of messages APPENDed through the gateway (those with an exact record, issue
    /// 11) that `results` lacks: the appended literal, rebuilt from the record and Graph's
    /// attachments, a few messages at a time. Messages whose record does not speak for their
    /// UID are left to Graph's MIME.
    async fn exact_bodies(
        &self,
        folder_id: &str,
        messages: &[&MessageMeta],
        results: &mut [Option<Result<Bytes, HubError>>],
    ) {
        // Each message's record, and the mark of an APPEND in progress that may be making it.
        let missing: Vec<String> = (0..messages.len())
            .filter(|&i| results[i].is_none())
            .flat_map(|i| {
                [
                    messages[i].id.to_string(),
                    crate::exact::pending_key(folder_id, messages[i].internal_date),
                ]
            })
            .collect();
        let mut records = match self
            .store
            .exact_records(self.mailbox().as_str(), missing)
            .await
        {
            Ok(records) => records,
            Err(err) => {
                // Graph's MIME is not what such a message showed: nothing is answered.
                let err = HubError::from(err);
                for result in results.iter_mut().filter(|r| r.is_none()) {
                    *result = Some(Err(err.clone()));
                }
                return;
            }
        };
        let with_record: Vec<(usize, _)> = (0..messages.len())
            .filter(|&i| results[i].is_none())
            .filter_map(|i| {
                let own = records.remove(&*messages[i].id);
                let record = own.or_else(|| {
                    let key = crate::exact::pending_key(folder_id, messages[i].internal_date);
                    records.get(&key).cloned()
                })?;
                Some((i, record))
            })
            .collect();
        let rebuilds = with_record.into_iter().map(|(i, record)| async move {
            (i, self.exact_body(folder_id, messages[i], record).await)
        });
        let rebuilt: Vec<_> = stream::iter(rebuilds)
            .buffered(BODIES_IN_FLIGHT)
            .collect()
            .await;
        for (i, outcome) in rebuilt {
            match outcome {
                Ok(exact::ExactBody::Literal(body)) => {
                    self.bodies
                        .insert(messages[i].id.clone(), body.clone())
                        .await;
                    results[i] = Some(Ok(body));
                }
                Ok(exact::ExactBody::FromGraph) => {}
                Err(err) => results[i] = Some(Err(err)),
            }
        }
    }

    /// Splits `positions` into the bodies this caller downloads (registered as in flight until
    /// the returned claim is dropped) and those another caller is downloading already.
    fn claim_downloads(
        &self,
        positions: &[usize],
        messages: &[&MessageMeta],
    ) -> (DownloadClaim<'_>, Vec<(usize, BodyReceiver)>) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let mut claim = DownloadClaim {
            hub: self,
            ids: Vec::new(),
            positions: Vec::new(),
            senders: Vec::new(),
        };
        let mut theirs = Vec::new();
        for &i in positions {
            let id = messages[i].id.clone();
            match in_flight.get(&id) {
                Some(receiver) => theirs.push((i, receiver.clone())),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    in_flight.insert(id.clone(), receiver);
                    claim.ids.push(id);
                    claim.positions.push(i);
                    claim.senders.push(sender);
                }
            }
        }
        (claim, theirs)
    }

    /// One message's MIME, from the cache or from Graph (concurrent asks share one download).
    async fn body(&self, message: &MessageMeta) -> Result<Bytes, HubError> {
        let graph = &self.graph;
        let id = message.id.clone();
        self.bodies
            .try_get_with(id.clone(), async move {
                graph.message_mime(&id).await.map(with_crlf_line_ends)
            })
            .await
            .map_err(|err: Arc<GraphError>| HubError::Graph((*err).clone()))
    }
}

/// The folders by IMAP name, from Graph's flat list: a folder whose parent is not in the
/// list (the root of the tree, should Graph name it, is not shown) is at the top; hidden
/// folders, and what is under them, are left out unless configured. Public (doc-hidden) for
/// the `graph_json` fuzz target.
#[doc(hidden)]
pub fn build_tree(
    folders: &HashMap<String, MailFolder>,
    well_known: &HashMap<String, String>,
    include_hidden: bool,
) -> FolderTree {
    let by_id: HashMap<&str, &str> = well_known
        .iter()
        .map(|(name, id)| (id.as_str(), name.as_str()))
        .collect();
    let root = well_known.get("msgfolderroot").map(String::as_str);
    let shown = |folder: &MailFolder| {
        Some(folder.id.as_str()) != root && (include_hidden || folder.is_hidden != Some(true))
    };
    let mut children: HashMap<&str, Vec<&MailFolder>> = HashMap::new();
    let mut level: Vec<(String, &MailFolder)> = Vec::new();
    for folder in folders.values().filter(|f| shown(f)) {
        match folder.parent_folder_id.as_deref() {
            Some(parent) if Some(parent) != root && folders.contains_key(parent) => {
                children.entry(parent).or_default().push(folder)
            }
            _ => level.push((String::new(), folder)),
        }
    }
    let mut tree = Vec::new();
    // Breadth first: each level's parents are named before their children.
    while !level.is_empty() {
        let mut next = Vec::new();
        for (parent_name, folder) in level {
            let well_known = by_id.get(folder.id.as_str()).map(|s| s.to_string());
            let leaf = sanitise_display_name(folder.display_name.as_deref().unwrap_or(""));
            let name = if parent_name.is_empty() {
                if well_known.as_deref() == Some("inbox") {
                    "INBOX".to_string()
                } else if leaf.eq_ignore_ascii_case("INBOX") {
                    // A user folder named "Inbox" beside the real one cannot be INBOX.
                    format!("{leaf}_")
                } else {
                    leaf
                }
            } else {
                format!("{parent_name}/{leaf}")
            };
            let under = children.get(folder.id.as_str());
            for child in under.into_iter().flatten() {
                next.push((name.clone(), *child));
            }
            tree.push(Folder {
                id: folder.id.clone(),
                name,
                well_known,
                has_children: under.is_some_and(|c| !c.is_empty()),
                total: folder.total_item_count.unwrap_or(0),
                unread: folder.unread_item_count.unwrap_or(0),
            });
        }
        level = next;
    }
    tree.sort_by(|a, b| a.name.cmp(&b.name));
    FolderTree { folders: tree }
}

/// A Graph display name as one level of an IMAP name: `/` is the hierarchy delimiter, so a `/`
/// inside a name is shown as U+2215 (DIVISION SLASH); control characters become spaces.
fn sanitise_display_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' => '\u{2215}',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if cleaned.is_empty() {
        "(unnamed)".into()
    } else {
        cleaned
    }
}

/// Every hub of the process, by application and mailbox, plus what they share. A hub outlives
/// its last session by [`HUB_LINGER`], so clients that log in for every check (voicemail
/// systems do) find the folder tree and well-known folders already known.
pub struct HubRegistry {
    config: Arc<Config>,
    graph: GraphClient,
    store: UidStore,
    bodies: Cache<Arc<str>, Bytes>,
    hubs: Cache<String, Arc<MailboxHub>>,
    login_throttle: LoginThrottle,
}

/// How long an unused hub is kept.
pub const HUB_LINGER: Duration = Duration::from_secs(10 * 60);

/// How long a hub without sessions keeps its folders' indexes (each message's UID, flags and
/// Graph state: hundreds of bytes per message), which a folder's next snapshot can rebuild from
/// the uid store; the folder tree stays for the whole [`HUB_LINGER`].
pub const INDEX_LINGER: Duration = Duration::from_secs(60);

impl HubRegistry {
    pub fn new(config: Arc<Config>, graph: GraphClient, store: UidStore) -> HubRegistry {
        let bodies = Cache::builder()
            .max_capacity(config.cache.body_bytes)
            .weigher(|key: &Arc<str>, body: &Bytes| {
                (key.len() + body.len()).try_into().unwrap_or(u32::MAX)
            })
            .time_to_idle(Duration::from_secs(config.cache.body_ttl_secs))
            .build();
        HubRegistry {
            login_throttle: LoginThrottle::new(config.login_throttle()),
            config,
            graph,
            store,
            bodies,
            hubs: Cache::builder().time_to_idle(HUB_LINGER).build(),
        }
    }

    /// Makes hubs that no session has held for `linger` give up their folder indexes; returns
    /// how many indexes went. Called every few seconds (`memory`): a hub only the registry
    /// holds is counted unused from the first call that sees it so.
    pub fn release_unused_indexes(&self, linger: Duration) -> usize {
        let mut released = 0;
        for (_, hub) in self.hubs.iter() {
            // The registry's own reference and the one this loop holds.
            let unused = Arc::strong_count(&hub) <= 2;
            let mut since = hub.unused_since.lock().unwrap_or_else(|e| e.into_inner());
            if !unused {
                *since = None;
                continue;
            }
            let since = *since.get_or_insert_with(Instant::now);
            if since.elapsed() >= linger {
                released += hub.release_indexes();
            }
        }
        released
    }

    /// Folder indexes held by all hubs, for tests and measurement.
    pub fn folder_indexes(&self) -> usize {
        self.hubs
            .iter()
            .map(|(_, hub)| hub.indexes.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// Login throttling, shared by every session of the process.
    pub fn login_throttle(&self) -> &LoginThrottle {
        &self.login_throttle
    }

    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The hub of this mailbox for this application, opened (and the mailbox checked) if none
    /// is open yet; concurrent logins share one opening. The credentials are those of the login
    /// that just succeeded, and become the hub's.
    pub async fn open(
        &self,
        credentials: Credentials,
        mailbox: MailboxName,
    ) -> Result<Arc<MailboxHub>, HubError> {
        let key = format!(
            "{}/{}/{}",
            credentials.tenant, credentials.client_id, mailbox
        );
        let opening = async {
            let graph = self.graph.mailbox(credentials.clone(), mailbox);
            let well_known = graph.well_known_folders().await?;
            Ok::<_, HubError>(Arc::new(MailboxHub {
                graph,
                store: self.store.clone(),
                bodies: self.bodies.clone(),
                in_flight: Mutex::new(HashMap::new()),
                include_hidden: self.config.imap.show_hidden_folders,
                well_known,
                tree: tokio::sync::Mutex::new(TreeState::default()),
                indexes: Mutex::new(HashMap::new()),
                unused_since: Mutex::new(None),
                poll_interval: Duration::from_secs(self.config.imap.idle_poll_secs),
                sync_coalesce: Duration::from_millis(self.config.pacing.sync_coalesce_ms),
                tight_stretch: self.config.pacing.tight_stretch as f64,
            }))
        };
        let hub = self
            .hubs
            .try_get_with(key, opening)
            .await
            .map_err(|err: Arc<HubError>| (*err).clone())?;
        hub.graph.set_credentials(credentials);
        Ok(hub)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_is_case_insensitive_also_as_prefix() {
        assert_eq!(normalise_inbox("inbox"), "INBOX");
        assert_eq!(normalise_inbox("Inbox/Projects"), "INBOX/Projects");
        assert_eq!(normalise_inbox("Inboxes"), "Inboxes");
        assert_eq!(normalise_inbox("Archive/inbox"), "Archive/inbox");
    }

    fn state(categories: &[&str], last_verb: Option<i64>, is_draft: bool) -> MessageState {
        MessageState {
            categories: categories.iter().map(|c| c.to_string()).collect(),
            last_verb,
            is_draft,
            ..MessageState::default()
        }
    }

    #[test]
    fn every_category_shows_as_its_keyword() {
        let flags =
            MessageFlags::from_state(&state(&["Blue", "Red category", "", "blue"], None, false));
        assert_eq!(flags.keywords, vec!["Blue", "Red&20category"]);
        assert_eq!(flags.other_categories, vec!["", "blue"]);
        assert_eq!(flags.categories(), vec!["", "blue", "Blue", "Red category"]);
        let mut without_blue = flags.clone();
        without_blue.keywords.retain(|k| k != "Blue");
        assert_eq!(
            without_blue.categories(),
            vec!["", "Red category"],
            "a category in another case goes with its keyword"
        );
    }

    #[test]
    fn held_flags_show_over_graphs_and_give_way_to_new_ones() {
        let graph = MessageFlags::from_state(&state(&["Blue"], Some(104), false));
        let held = HeldFlags {
            draft: Some(true),
            answered: true,
            forwarded: false,
            keywords: vec!["$MDNSent".into()],
        };
        let shown = graph.clone().holding(held.clone());
        assert!(shown.draft && shown.answered && shown.forwarded);
        assert_eq!(shown.keywords, vec!["Blue", "$MDNSent"]);
        let again = shown.clone().holding(HeldFlags::default());
        assert_eq!(again, graph, "what was held goes when nothing is");
        assert_eq!(shown.split(&shown), (graph, held), "split undoes holding");
    }

    #[test]
    fn a_change_made_over_others_keeps_theirs() {
        let seen = MessageFlags {
            seen: true,
            keywords: vec!["A".into(), "B".into()],
            ..MessageFlags::default()
        };
        let mine = MessageFlags {
            seen: false,
            keywords: vec!["a".into(), "C".into()],
            ..seen.clone()
        };
        let current = MessageFlags {
            answered: true,
            keywords: vec!["A".into(), "B".into(), "D".into()],
            ..seen.clone()
        };
        let rebased = mine.rebased(&seen, &current);
        assert!(!rebased.seen && rebased.answered);
        assert_eq!(rebased.keywords, vec!["A", "D", "C"]);
    }

    #[test]
    fn graph_gets_what_it_can_hold() {
        let old = MessageFlags::from_state(&state(&[], Some(102), true));
        let mut new = old.clone();
        new.forwarded = true;
        new.draft = false;
        new.keywords = vec!["$Junk".into(), "Red&20category".into(), "&41".into()];
        let (graph, held) = new.split(&old);
        assert!(
            graph.forwarded && !graph.answered && graph.draft,
            "the verb set last goes to Graph"
        );
        assert_eq!(graph.categories(), vec!["Red category"]);
        assert_eq!(
            held,
            HeldFlags {
                draft: Some(false),
                answered: true,
                forwarded: false,
                keywords: vec!["$Junk".into(), "&41".into()],
            }
        );
        let both_new = MessageFlags {
            answered: true,
            forwarded: true,
            ..MessageFlags::default()
        };
        let (graph, held) = both_new.split(&MessageFlags::default());
        assert!(graph.answered && !graph.forwarded && held.forwarded && !held.answered);
        let shown = graph.holding(held);
        let (graph, held) = shown.split(&shown);
        assert!(
            graph.answered && held.forwarded,
            "both kept: Graph keeps its verb"
        );
    }

    fn graph_folder(id: &str, parent: &str, name: &str, hidden: bool) -> (String, MailFolder) {
        (
            id.to_string(),
            MailFolder {
                id: id.to_string(),
                display_name: Some(name.to_string()),
                parent_folder_id: Some(parent.to_string()),
                child_folder_count: None,
                total_item_count: Some(1),
                unread_item_count: Some(0),
                is_hidden: Some(hidden),
            },
        )
    }

    #[test]
    fn the_tree_is_built_from_graphs_flat_folder_list() {
        let folders: HashMap<String, MailFolder> = [
            graph_folder("root", "none", "Top of Information Store", false),
            graph_folder("in", "root", "Inbox", false),
            graph_folder("p", "in", "Projects", false),
            graph_folder("q", "p", "a/b", false),
            graph_folder("h", "root", "Hidden", true),
            graph_folder("hc", "h", "Under hidden", false),
            graph_folder("u", "root", "inbox", false),
            graph_folder("orphan", "gone", "Elsewhere", false),
        ]
        .into_iter()
        .collect();
        let well_known: HashMap<String, String> = [("inbox", "in"), ("msgfolderroot", "root")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let names = |tree: &FolderTree| -> Vec<(String, bool)> {
            tree.folders
                .iter()
                .map(|f| (f.name.clone(), f.has_children))
                .collect()
        };
        let tree = build_tree(&folders, &well_known, false);
        assert_eq!(
            names(&tree),
            [
                ("Elsewhere".to_string(), false),
                ("INBOX".to_string(), true),
                ("INBOX/Projects".to_string(), true),
                ("INBOX/Projects/a\u{2215}b".to_string(), false),
                ("inbox_".to_string(), false),
            ]
        );
        assert_eq!(tree.find("inbox").map(|f| f.id.as_str()), Some("in"));
        let with_hidden = build_tree(&folders, &well_known, true);
        assert!(with_hidden
            .folders
            .iter()
            .any(|f| f.name == "Hidden/Under hidden"));
    }

    #[test]
    fn display_names_cannot_break_the_hierarchy() {
        assert_eq!(sanitise_display_name("a/b"), "a\u{2215}b");
        assert_eq!(sanitise_display_name("x\r\ny"), "x  y");
        assert_eq!(sanitise_display_name(""), "(unnamed)");
    }
}
