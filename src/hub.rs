//! Owns the mailbox hub: one per Graph mailbox (and application) per process, shared by every
//! session of that mailbox. It holds the folder tree, gives each folder's messages their UIDs
//! through the uid store, and keeps message bodies in a byte-bounded cache, so that sessions ask
//! it for folders, messages and bodies and never see HTTP. Changes to the mailbox (flags,
//! expunge, copy and move, append, folders) are in `write`.

mod write;

pub use write::{FlagUpdate, Transfer};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use moka::future::Cache;
use tokio::sync::watch;

use crate::config::Config;
use crate::graph::model::{MailFolder, MessageSummary};
use crate::graph::{Credentials, GraphClient, GraphError, MailboxGraph};
use crate::login::MailboxName;
use crate::mime::with_crlf_line_ends;
use crate::store::{StoreError, UidStore};

/// A folder tree this young is served from memory.
const FOLDER_TREE_FRESHNESS: Duration = Duration::from_secs(5);
/// Single bodies downloaded at once by one request for bodies.
const BODIES_IN_FLIGHT: usize = 4;
/// A folder listing this young is served from memory (a session's SELECT right after LIST).
const FOLDER_INDEX_FRESHNESS: Duration = Duration::from_secs(1);

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

/// What IMAP shows of a message's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFlags {
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub forwarded: bool,
    pub draft: bool,
    pub deleted: bool,
    pub keywords: Vec<String>,
    /// Categories that cannot be shown as keywords (not atoms): kept as they are when the
    /// keywords change.
    pub other_categories: Vec<String>,
}

impl MessageFlags {
    fn from_graph(summary: &MessageSummary) -> Self {
        let verb = summary.last_verb();
        MessageFlags {
            seen: summary.is_read,
            flagged: summary.is_flagged(),
            // PR_LAST_VERB_EXECUTED: 102 EXCHIVERB_REPLYTOSENDER, 103 EXCHIVERB_REPLYTOALL,
            // 104 EXCHIVERB_FORWARD ([MS-OXOMSG] 2.2.1.5).
            answered: matches!(verb, Some(102 | 103)),
            forwarded: verb == Some(104),
            draft: summary.is_draft,
            deleted: false,
            keywords: summary
                .categories
                .iter()
                .filter(|c| is_keyword_atom(c))
                .cloned()
                .collect(),
            other_categories: summary
                .categories
                .iter()
                .filter(|c| !is_keyword_atom(c))
                .cloned()
                .collect(),
        }
    }
}

/// Categories that can be shown as IMAP keywords: non-empty atoms without `\` (RFC 3501 flag-keyword).
/// Others (with spaces, say) stay in Graph untouched and are not shown.
pub fn is_keyword_atom(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b > b' '
                && b < 0x7f
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
        })
}

/// One message of a folder's index.
#[derive(Debug, Clone)]
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

/// A folder's messages as of one listing, ordered by UID.
#[derive(Debug, Clone)]
pub struct FolderSnapshot {
    pub folder_id: String,
    pub uid_validity: u32,
    pub uid_next: u32,
    pub messages: Vec<MessageMeta>,
}

struct CachedTree {
    tree: Arc<FolderTree>,
    at: Instant,
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

/// One folder's shared state: its latest listing, and the channel through which sessions learn
/// of a newer one (at the end of their commands, and while they IDLE).
#[derive(Default)]
struct FolderIndex {
    /// Held while the folder is listed, so concurrent asks share one listing.
    listing: tokio::sync::Mutex<Option<Instant>>,
    latest: watch::Sender<Option<Arc<FolderSnapshot>>>,
    /// Whether a poller task keeps this folder fresh for idling sessions.
    polled: AtomicBool,
    /// Set by [`MailboxHub::invalidate`]: the next snapshot lists the folder whatever its age.
    stale: AtomicBool,
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
    tree: tokio::sync::Mutex<Option<CachedTree>>,
    indexes: Mutex<HashMap<String, Arc<FolderIndex>>>,
    /// How often a folder that sessions IDLE on is listed again.
    poll_interval: Duration,
}

impl MailboxHub {
    pub fn mailbox(&self) -> &MailboxName {
        self.graph.mailbox()
    }

    /// The folder tree, listed again when older than a few seconds or when `refresh` asks.
    pub async fn folders(&self, refresh: bool) -> Result<Arc<FolderTree>, HubError> {
        let mut cached = self.tree.lock().await;
        if let Some(cached) = cached.as_ref() {
            if !refresh && cached.at.elapsed() < FOLDER_TREE_FRESHNESS {
                return Ok(cached.tree.clone());
            }
        }
        let tree = Arc::new(self.list_folder_tree().await?);
        *cached = Some(CachedTree {
            tree: tree.clone(),
            at: Instant::now(),
        });
        Ok(tree)
    }

    async fn list_folder_tree(&self) -> Result<FolderTree, HubError> {
        let by_id: HashMap<&str, &str> = self
            .well_known
            .iter()
            .map(|(name, id)| (id.as_str(), name.as_str()))
            .collect();
        let mut folders = Vec::new();
        // Breadth first: each level's parents are known before their children are named.
        let mut level: Vec<(String, MailFolder)> = self
            .graph
            .list_root_folders(self.include_hidden)
            .await?
            .into_iter()
            .map(|folder| (String::new(), folder))
            .collect();
        while !level.is_empty() {
            let mut next = Vec::new();
            for (parent_name, folder) in level {
                let well_known = by_id.get(folder.id.as_str()).map(|s| s.to_string());
                let leaf = sanitise_display_name(&folder.display_name);
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
                let has_children = folder.child_folder_count.unwrap_or(0) > 0;
                if has_children {
                    for child in self
                        .graph
                        .list_child_folders(&folder.id, self.include_hidden)
                        .await?
                    {
                        next.push((name.clone(), child));
                    }
                }
                folders.push(Folder {
                    id: folder.id,
                    name,
                    well_known,
                    has_children,
                    total: folder.total_item_count.unwrap_or(0),
                    unread: folder.unread_item_count.unwrap_or(0),
                });
            }
            level = next;
        }
        folders.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(FolderTree { folders })
    }

    /// The folder's messages with their UIDs, listed from Graph (or from a listing made within
    /// the last second). New messages get UIDs in ascending receivedDateTime order.
    pub async fn folder_snapshot(&self, folder_id: &str) -> Result<Arc<FolderSnapshot>, HubError> {
        self.fresh_snapshot(folder_id, FOLDER_INDEX_FRESHNESS).await
    }

    /// Like [`folder_snapshot`](Self::folder_snapshot), accepting a listing up to `max_age` old.
    /// Every new listing is announced to the sessions that watch the folder.
    pub async fn fresh_snapshot(
        &self,
        folder_id: &str,
        max_age: Duration,
    ) -> Result<Arc<FolderSnapshot>, HubError> {
        let index = self.index(folder_id);
        let mut listed_at = index.listing.lock().await;
        let stale = index.stale.swap(false, Ordering::SeqCst);
        if let (false, Some(at), Some(snapshot)) =
            (stale, *listed_at, index.latest.borrow().clone())
        {
            if at.elapsed() < max_age {
                return Ok(snapshot);
            }
        }
        let snapshot = match self.list_folder(folder_id).await {
            Ok(snapshot) => Arc::new(snapshot),
            Err(err) => {
                if stale {
                    index.stale.store(true, Ordering::SeqCst);
                }
                return Err(err);
            }
        };
        *listed_at = Some(Instant::now());
        index.latest.send_replace(Some(snapshot.clone()));
        Ok(snapshot)
    }

    /// The latest listing of the folder, if any, without asking Graph.
    pub fn latest_snapshot(&self, folder_id: &str) -> Option<Arc<FolderSnapshot>> {
        self.index(folder_id).latest.borrow().clone()
    }

    /// A channel that carries each new listing of the folder. While anyone holds one, a single
    /// poller per folder (whatever the number of sessions) lists the folder every poll interval,
    /// with jitter, so that idling sessions learn of changes made elsewhere.
    pub fn watch(
        self: &Arc<Self>,
        folder_id: &str,
    ) -> watch::Receiver<Option<Arc<FolderSnapshot>>> {
        let index = self.index(folder_id);
        let receiver = index.latest.subscribe();
        if !index.polled.swap(true, Ordering::SeqCst) {
            let hub = Arc::downgrade(self);
            let folder_id = folder_id.to_string();
            let interval = self.poll_interval;
            tokio::spawn(async move {
                loop {
                    // Jitter spreads pollers of many folders; small enough to keep a change within the
                    // interval plus a second.
                    let jitter = Duration::from_millis(fastrand::u64(
                        0..=(interval.as_millis() as u64 / 10).min(500),
                    ));
                    tokio::time::sleep(interval + jitter).await;
                    let Some(hub) = hub.upgrade() else { return };
                    let index = hub.index(&folder_id);
                    if index.latest.receiver_count() == 0 {
                        index.polled.store(false, Ordering::SeqCst);
                        return;
                    }
                    if let Err(err) = hub.fresh_snapshot(&folder_id, interval / 2).await {
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

    async fn list_folder(&self, folder_id: &str) -> Result<FolderSnapshot, HubError> {
        let mailbox = self.mailbox().as_str();
        let mut summaries = self.graph.list_messages(folder_id).await?;
        let known = self.store.messages(mailbox, folder_id).await?;
        let deleted = self.store.deleted(mailbox, folder_id).await?;
        summaries.sort_by(|a, b| {
            a.received_date_time
                .cmp(&b.received_date_time)
                .then_with(|| a.id.cmp(&b.id))
        });
        summaries.dedup_by(|a, b| a.id == b.id);
        let new_ids: Vec<String> = summaries
            .iter()
            .filter(|s| !known.contains_key(&s.id))
            .map(|s| s.id.clone())
            .collect();
        let present: std::collections::HashSet<&str> =
            summaries.iter().map(|s| s.id.as_str()).collect();
        let gone_ids: Vec<String> = known
            .keys()
            .filter(|id| !present.contains(id.as_str()))
            .cloned()
            .collect();
        let (assigned, uids) = self
            .store
            .reconcile(mailbox, folder_id, new_ids, gone_ids)
            .await?;
        let mut messages: Vec<MessageMeta> = summaries
            .iter()
            .filter_map(|summary| {
                let (uid, size) = match known.get(&summary.id) {
                    Some(stored) => (stored.uid, stored.size),
                    None => (*assigned.get(&summary.id)?, None),
                };
                let mut flags = MessageFlags::from_graph(summary);
                flags.deleted = deleted.contains(&summary.id);
                Some(MessageMeta {
                    uid,
                    id: Arc::from(summary.id.as_str()),
                    flags,
                    internal_date: summary.received_date_time.unwrap_or_default(),
                    size,
                    has_attachments: summary.has_attachments,
                })
            })
            .collect();
        messages.sort_by_key(|m| m.uid);
        Ok(FolderSnapshot {
            folder_id: folder_id.to_string(),
            uid_validity: uids.uid_validity,
            uid_next: uids.uid_next,
            messages,
        })
    }

    /// Forgets the folder's cached listing, after a change made through this hub, so the next
    /// snapshot (of any session) lists it again, even if a listing is under way now (it may
    /// predate the change).
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
}

/// How long an unused hub is kept.
pub const HUB_LINGER: Duration = Duration::from_secs(10 * 60);

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
            config,
            graph,
            store,
            bodies,
            hubs: Cache::builder().time_to_idle(HUB_LINGER).build(),
        }
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
                tree: tokio::sync::Mutex::new(None),
                indexes: Mutex::new(HashMap::new()),
                poll_interval: Duration::from_secs(self.config.imap.idle_poll_secs),
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

    #[test]
    fn keywords_must_be_atoms() {
        assert!(is_keyword_atom("Blue"));
        assert!(is_keyword_atom("$Label1"));
        assert!(!is_keyword_atom("Red category"));
        assert!(!is_keyword_atom("\\Seen"));
        assert!(!is_keyword_atom(""));
    }

    #[test]
    fn display_names_cannot_break_the_hierarchy() {
        assert_eq!(sanitise_display_name("a/b"), "a\u{2215}b");
        assert_eq!(sanitise_display_name("x\r\ny"), "x  y");
        assert_eq!(sanitise_display_name(""), "(unnamed)");
    }
}
