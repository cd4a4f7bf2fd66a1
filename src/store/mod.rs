//! Owns the uid store: the only durable state of the gateway.
//!
//! Per folder it keeps UIDVALIDITY, the next UID and Graph's deltaLink of the folder's last
//! synchronisation; per mailbox the highest UIDVALIDITY given, so a folder the gateway creates
//! gets a larger one than any folder of the mailbox had (a name deleted and created again within
//! one second included); per message the (folder, Graph id) → UID map, facts learned once and worth
//! keeping (the exact RFC822.SIZE), and the message's state as of that synchronisation (what
//! IMAP shows of it: flags, INTERNALDATE), so a restart resumes the folder's delta sync instead
//! of listing it again; the \Deleted marks, which Graph has no place for and which every session
//! and instance must see until EXPUNGE; and each mailbox's folder subscriptions
//! (SUBSCRIBE/UNSUBSCRIBE); and per message APPENDed through the gateway its exact record
//! (`crate::exact`: what Graph cannot give back of the literal), by Graph id alone, since a
//! MOVE keeps the id. UIDs are allocated here, atomically, in the order the caller gives
//! (ascending receivedDateTime), and never reused: a message that disappears takes its UID with
//! it, and `next_uid` only grows.
//!
//! Two backends with one schema and one meaning: an embedded SQLite file (`sqlite`, the
//! default) and a PostgreSQL database (`postgres`) that several gateway instances share, where
//! a row lock on the folder makes allocation atomic across processes. Each backend's schema is
//! an ordered list of migrations, applied at start up to [`SCHEMA_VERSION`]; what the backends
//! share (the migration list's shape, UID allocation, the JSON of a message's state) is here.

mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::config::StoreConfig;
use crate::exact::{StoredExact, Undecodable};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("uid store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("uid store (PostgreSQL): {0}")]
    Postgres(String),
    #[error("uid store task failed: {0}")]
    Task(String),
    #[error("uid store: folder {0} has run out of UIDs")]
    UidsExhausted(String),
    #[error("uid store: mailbox {0} has run out of UIDVALIDITY values")]
    UidValiditiesExhausted(String),
    #[error(
        "uid store {store}: schema version {found} is newer than the version {known} this \
         gateway knows; refusing to open it (run a gateway at least as new as the one that \
         upgraded it)"
    )]
    SchemaTooNew {
        store: String,
        found: i64,
        known: i64,
    },
}

/// The schema version this code reads and writes.
const SCHEMA_VERSION: usize = 6;

/// One backend's schema as its history: step `i` takes a database from version `i` to `i + 1`,
/// so a new version appends a step (and raises [`SCHEMA_VERSION`], which makes every backend
/// add its own). Step 0 creates the version-1 tables `IF NOT EXISTS`: it also adopts a database
/// made before versions were recorded, which reads as version 0.
type Migrations = [&'static str; SCHEMA_VERSION];

/// The steps a database at version `found` still needs, each with the version it reaches.
/// A database newer than this code is refused: an older binary must not write to it.
fn pending_migrations(
    migrations: &Migrations,
    found: i64,
    store: impl std::fmt::Display,
) -> Result<impl Iterator<Item = (i64, &'static str)> + '_, StoreError> {
    let done = usize::try_from(found).unwrap_or(0);
    if done > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            store: store.to_string(),
            found,
            known: SCHEMA_VERSION as i64,
        });
    }
    Ok(migrations
        .iter()
        .enumerate()
        .skip(done)
        .map(|(step, sql)| (step as i64 + 1, *sql)))
}

/// UIDVALIDITY and UIDNEXT of one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderUids {
    pub uid_validity: u32,
    pub uid_next: u32,
}

/// What the store knows about one message of a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredMessage {
    pub uid: u32,
    /// Exact length of BODY[], once learned.
    pub size: Option<u64>,
}

/// A message's Graph state as of the folder's last synchronisation: what IMAP shows of it
/// (flags, INTERNALDATE) without asking Graph again.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageState {
    pub received: Option<chrono::DateTime<chrono::Utc>>,
    pub is_read: bool,
    pub is_flagged: bool,
    pub is_draft: bool,
    /// PR_LAST_VERB_EXECUTED.
    pub last_verb: Option<i64>,
    pub categories: Vec<String>,
    pub has_attachments: bool,
}

/// What IMAP shows of a message that Graph cannot hold, kept by the gateway (as \Deleted is):
/// merged over the message's Graph state wherever its flags are shown. Gone when the message
/// leaves the folder.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HeldFlags {
    /// \Draft where it differs from Graph's `isDraft`, which is fixed when a message is created.
    pub draft: Option<bool>,
    /// \Answered while Graph's PR_LAST_VERB_EXECUTED holds $Forwarded (it holds one verb).
    pub answered: bool,
    /// $Forwarded while Graph's PR_LAST_VERB_EXECUTED holds \Answered.
    pub forwarded: bool,
    /// Keywords that are no Outlook category (see `crate::categories`), as the client wrote them.
    pub keywords: Vec<String>,
}

impl HeldFlags {
    pub fn is_empty(&self) -> bool {
        *self == HeldFlags::default()
    }
}

/// One synchronisation of a folder with Graph, recorded in one transaction.
#[derive(Debug, Clone, Default)]
pub struct FolderSync {
    /// A full round (first synchronisation, or a resync after Graph dropped the delta token):
    /// the folder's messages not in `changed` leave the store (with their \Deleted marks).
    pub complete: bool,
    /// Messages new or changed, in the order new ones get UIDs (ascending receivedDateTime).
    pub changed: Vec<(String, MessageState)>,
    /// Messages that left the folder (their rows and \Deleted marks go; UIDs never reused).
    pub removed: Vec<String>,
    /// Graph's deltaLink, to resume from next time.
    pub delta_link: String,
}

/// What the store holds of a synchronised folder: enough to show it after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedFolder {
    pub uids: FolderUids,
    pub delta_link: String,
    /// Ordered by UID.
    pub messages: Vec<SyncedMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedMessage {
    pub id: String,
    pub uid: u32,
    pub size: Option<u64>,
    /// None for a message given its UID outside a synchronisation (APPEND, COPY) and not
    /// synchronised since.
    pub state: Option<MessageState>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

#[derive(Clone)]
pub struct UidStore {
    backend: Backend,
}

impl UidStore {
    /// The store the configuration names: `store.url` (PostgreSQL) when set, else the SQLite
    /// file at `store.path`. The schema is created or migrated here.
    pub async fn open(config: &StoreConfig) -> Result<UidStore, StoreError> {
        match &config.url {
            Some(url) => Ok(UidStore {
                backend: Backend::Postgres(postgres::PostgresStore::open(url).await?),
            }),
            None => Self::open_sqlite(&config.path),
        }
    }

    /// Opens (creating if needed) an SQLite file and its schema.
    pub fn open_sqlite(path: &std::path::Path) -> Result<UidStore, StoreError> {
        Ok(UidStore {
            backend: Backend::Sqlite(sqlite::SqliteStore::open(path)?),
        })
    }

    /// The folder's UIDVALIDITY and UIDNEXT, creating the folder's record at first sight.
    /// UIDVALIDITY is the time of first sight (see [`UidValidities`]), so a folder recreated
    /// after the store was lost gets a larger one and clients resynchronise (RFC 3501 2.3.1.1).
    pub async fn folder(&self, mailbox: &str, folder_id: &str) -> Result<FolderUids, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.folder(mailbox, folder_id, Sighting::Seen).await,
            Backend::Postgres(store) => store.folder(mailbox, folder_id, Sighting::Seen).await,
        }
    }

    /// Records a folder the gateway has just created (IMAP CREATE, or a parent RENAME made):
    /// its UIDVALIDITY is larger than every UIDVALIDITY given in the mailbox, so a name used
    /// before (deleted, or renamed away) never comes back with a UIDVALIDITY it had, however
    /// quickly (RFC 3501 2.3.1.1). A folder already recorded keeps its UIDs.
    pub async fn created_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<FolderUids, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.folder(mailbox, folder_id, Sighting::Created).await,
            Backend::Postgres(store) => store.folder(mailbox, folder_id, Sighting::Created).await,
        }
    }

    /// Every message the store knows in the folder, by Graph id.
    pub async fn messages(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, StoredMessage>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.messages(mailbox, folder_id).await,
            Backend::Postgres(store) => store.messages(mailbox, folder_id).await,
        }
    }

    /// Gives UIDs to `new_ids` (in the order given) and forgets `gone_ids`, in one transaction.
    /// Ids that already have a UID keep it. Returns the UID of every id in `new_ids` and the
    /// folder's UIDs afterwards.
    pub async fn reconcile(
        &self,
        mailbox: &str,
        folder_id: &str,
        new_ids: Vec<String>,
        gone_ids: Vec<String>,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        self.change_folder(
            mailbox,
            folder_id,
            FolderChanges::reconcile(new_ids, gone_ids),
        )
        .await
    }

    /// Records one synchronisation in one transaction: UIDs for ids in `changed` that have none
    /// (in the order given; ids that have one keep it), every `changed` message's state, the
    /// removals (or, when `complete`, every message not in `changed`), and the deltaLink.
    /// Returns the UID of every id in `changed` and the folder's UIDs afterwards.
    pub async fn record_sync(
        &self,
        mailbox: &str,
        folder_id: &str,
        sync: FolderSync,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        self.change_folder(mailbox, folder_id, FolderChanges::sync(sync))
            .await
    }

    async fn change_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        changes: FolderChanges,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.change_folder(mailbox, folder_id, changes).await,
            Backend::Postgres(store) => store.change_folder(mailbox, folder_id, changes).await,
        }
    }

    /// The folder as last synchronised, or None when it never was (no folder row, or no
    /// deltaLink).
    pub async fn synced_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<Option<SyncedFolder>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.synced_folder(mailbox, folder_id).await,
            Backend::Postgres(store) => store.synced_folder(mailbox, folder_id).await,
        }
    }

    /// Remembers the exact sizes of messages' MIME, learned from their bodies, in one
    /// transaction.
    pub async fn set_sizes(
        &self,
        mailbox: &str,
        folder_id: &str,
        sizes: Vec<(String, u64)>,
    ) -> Result<(), StoreError> {
        if sizes.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Sqlite(store) => store.set_sizes(mailbox, folder_id, sizes).await,
            Backend::Postgres(store) => store.set_sizes(mailbox, folder_id, sizes).await,
        }
    }
}

impl UidStore {
    /// \Recent (RFC 3501 2.3.2): claims for the calling session every UID of the folder above
    /// the last claim, up to `through`, and returns that last claim; the caller's recent
    /// messages are those with UIDs in (returned, through]. Atomic across instances sharing the
    /// store, so a message is recent to exactly one session.
    pub async fn claim_recent(
        &self,
        mailbox: &str,
        folder_id: &str,
        through: u32,
    ) -> Result<u32, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.claim_recent(mailbox, folder_id, through).await,
            Backend::Postgres(store) => store.claim_recent(mailbox, folder_id, through).await,
        }
    }

    /// The folder's last \Recent claim: messages above it are recent to no session yet (what
    /// EXAMINE and STATUS report, without claiming).
    pub async fn recent_claimed(&self, mailbox: &str, folder_id: &str) -> Result<u32, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.recent_claimed(mailbox, folder_id).await,
            Backend::Postgres(store) => store.recent_claimed(mailbox, folder_id).await,
        }
    }

    /// The messages of the folder marked \Deleted, by Graph id.
    pub async fn deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashSet<String>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.deleted(mailbox, folder_id).await,
            Backend::Postgres(store) => store.deleted(mailbox, folder_id).await,
        }
    }

    /// Marks (or unmarks) messages \Deleted, in one transaction. The mark goes when the
    /// message leaves the folder (`reconcile` with the id among `gone_ids`, or `record_sync`).
    pub async fn set_deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
        message_ids: Vec<String>,
        deleted: bool,
    ) -> Result<(), StoreError> {
        if message_ids.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Sqlite(store) => {
                store
                    .set_deleted(mailbox, folder_id, message_ids, deleted)
                    .await
            }
            Backend::Postgres(store) => {
                store
                    .set_deleted(mailbox, folder_id, message_ids, deleted)
                    .await
            }
        }
    }

    /// The flags the gateway holds for messages of the folder, by Graph id.
    pub async fn held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, HeldFlags>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.held_flags(mailbox, folder_id).await,
            Backend::Postgres(store) => store.held_flags(mailbox, folder_id).await,
        }
    }

    /// Replaces the flags held for these messages (an empty set removes them), in one
    /// transaction. They go when the message leaves the folder, as \Deleted marks do.
    pub async fn set_held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
        held: Vec<(String, HeldFlags)>,
    ) -> Result<(), StoreError> {
        if held.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Sqlite(store) => store.set_held_flags(mailbox, folder_id, held).await,
            Backend::Postgres(store) => store.set_held_flags(mailbox, folder_id, held).await,
        }
    }

    /// Whether the store answers a query now (for health checks).
    pub async fn check(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.check().await,
            Backend::Postgres(store) => store.check().await,
        }
    }

    /// The folder names the mailbox subscribed to (`true`) or unsubscribed from (`false`).
    /// A folder with no entry counts as subscribed.
    pub async fn subscriptions(&self, mailbox: &str) -> Result<HashMap<String, bool>, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.subscriptions(mailbox).await,
            Backend::Postgres(store) => store.subscriptions(mailbox).await,
        }
    }

    /// Records a SUBSCRIBE (`true`) or UNSUBSCRIBE (`false`) of a folder name.
    pub async fn set_subscription(
        &self,
        mailbox: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.set_subscription(mailbox, name, subscribed).await,
            Backend::Postgres(store) => store.set_subscription(mailbox, name, subscribed).await,
        }
    }
}

impl UidStore {
    /// The exact records (`crate::exact`) of these messages that have one, by Graph id; a
    /// record that does not decode is given as such (the caller must not show other bytes).
    pub async fn exact_records(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<HashMap<String, Result<StoredExact, Undecodable>>, StoreError> {
        if message_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = match &self.backend {
            Backend::Sqlite(store) => store.exact_records_of(mailbox, message_ids, None).await?,
            Backend::Postgres(store) => store.exact_records_of(mailbox, message_ids, None).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(id, kind, data)| (id, StoredExact::decode(kind, data)))
            .collect())
    }

    /// The exact records of parts (small: no literal) of these messages that have one.
    pub async fn exact_parts(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<Vec<(String, crate::exact::ExactRecord)>, StoreError> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let kind = StoredExact::PARTS;
        let rows = match &self.backend {
            Backend::Sqlite(store) => {
                store
                    .exact_records_of(mailbox, message_ids, Some(kind))
                    .await?
            }
            Backend::Postgres(store) => {
                store
                    .exact_records_of(mailbox, message_ids, Some(kind))
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .filter_map(|(id, kind, data)| match StoredExact::decode(kind, data) {
                Ok(StoredExact::Parts(record)) => Some((id, record)),
                _ => None,
            })
            .collect())
    }

    /// Keeps (or replaces) a message's exact record.
    pub async fn put_exact(
        &self,
        mailbox: &str,
        message_id: &str,
        record: &StoredExact,
    ) -> Result<(), StoreError> {
        let (kind, data) = record.encode();
        match &self.backend {
            Backend::Sqlite(store) => store.put_exact(mailbox, message_id, kind, data).await,
            Backend::Postgres(store) => store.put_exact(mailbox, message_id, kind, data).await,
        }
    }

    /// Gives UIDs to copies just made in the folder, as [`reconcile`](Self::reconcile) does,
    /// and, in the same transaction, each copy (second id) the exact record of its original
    /// (first id), where the original has one, but only when this gives the copy its UID:
    /// a copy another instance's synchronisation numbered first may have been shown with
    /// Graph's bytes already, and keeps them.
    pub async fn reconcile_copies(
        &self,
        mailbox: &str,
        folder_id: &str,
        copies: Vec<(String, String)>,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        let new_ids = copies.iter().map(|(_, copy)| copy.clone()).collect();
        let mut changes = FolderChanges::reconcile(new_ids, Vec::new());
        changes.copy_exact = copies;
        self.change_folder(mailbox, folder_id, changes).await
    }

    /// Of these messages, those with an exact record and no UID in any folder of the mailbox:
    /// gone from Graph, or moved where the gateway has not looked yet.
    pub async fn exact_orphans(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        match &self.backend {
            Backend::Sqlite(store) => store.exact_orphans(mailbox, message_ids).await,
            Backend::Postgres(store) => store.exact_orphans(mailbox, message_ids).await,
        }
    }

    /// Removes the exact records of messages gone from Graph.
    pub async fn drop_exact(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<(), StoreError> {
        if message_ids.is_empty() {
            return Ok(());
        }
        match &self.backend {
            Backend::Sqlite(store) => store.drop_exact(mailbox, message_ids).await,
            Backend::Postgres(store) => store.drop_exact(mailbox, message_ids).await,
        }
    }

    /// Gives a message of the folder a new UID in place of `old_uid` (its bytes as shown under
    /// that UID can no longer be had), keeping its \Deleted mark and held flags. When it no
    /// longer holds `old_uid` (another instance renumbered it already) it keeps the UID it has.
    /// Returns its UID afterwards and the folder's UIDs.
    pub async fn renumber(
        &self,
        mailbox: &str,
        folder_id: &str,
        message_id: &str,
        old_uid: u32,
    ) -> Result<(u32, FolderUids), StoreError> {
        let changes = FolderChanges {
            forget: Vec::new(),
            only_present: false,
            renumber: vec![(message_id.to_string(), old_uid)],
            copy_exact: Vec::new(),
            present: vec![(message_id.to_string(), None)],
            delta_link: None,
        };
        let (uids, folder) = self.change_folder(mailbox, folder_id, changes).await?;
        let uid = uids
            .get(message_id)
            .copied()
            .ok_or_else(|| StoreError::Task("renumbered message got no UID".into()))?;
        Ok((uid, folder))
    }
}

/// One transaction on a folder's messages, in the one shape both backends run: what
/// `reconcile`, `record_sync` and `renumber` ask for. In order: `forget`, then (when
/// `only_present`) everything not in `present`, then `renumber`, then UIDs and states for `present`, then `next_uid` and the
/// deltaLink.
struct FolderChanges {
    /// Ids whose rows and \Deleted marks go.
    forget: Vec<String>,
    /// Every row and \Deleted mark of the folder not in `present` goes too.
    only_present: bool,
    /// Message rows that go when they still hold that UID (their marks and held flags stay),
    /// so that, being in `present`, they get a new UID.
    renumber: Vec<(String, u32)>,
    /// (original, copy): each copy in `present` that gets its UID here gets the original's
    /// exact record.
    copy_exact: Vec<(String, String)>,
    /// Ids that must have a UID, each once, in allocation order, with the JSON of the state to
    /// store: None keeps an existing row's state (NULL for a new row).
    present: Vec<(String, Option<String>)>,
    /// The deltaLink to store; None keeps the folder's.
    delta_link: Option<String>,
}

impl FolderChanges {
    fn reconcile(new_ids: Vec<String>, gone_ids: Vec<String>) -> FolderChanges {
        FolderChanges {
            forget: gone_ids,
            only_present: false,
            renumber: Vec::new(),
            copy_exact: Vec::new(),
            present: Self::each_once(new_ids.into_iter().map(|id| (id, None))),
            delta_link: None,
        }
    }

    fn sync(sync: FolderSync) -> FolderChanges {
        let present = Self::each_once(
            sync.changed
                .into_iter()
                .map(|(id, state)| (id, Some(encode_state(&state)))),
        );
        // An id both removed and changed in one round is present: it came back.
        let named: HashSet<&str> = present.iter().map(|(id, _)| id.as_str()).collect();
        let forget = sync
            .removed
            .into_iter()
            .filter(|id| !named.contains(id.as_str()))
            .collect();
        FolderChanges {
            forget,
            only_present: sync.complete,
            renumber: Vec::new(),
            copy_exact: Vec::new(),
            present,
            delta_link: Some(sync.delta_link),
        }
    }

    /// Each id once, where it first appears, with the last state given for it.
    fn each_once(
        entries: impl Iterator<Item = (String, Option<String>)>,
    ) -> Vec<(String, Option<String>)> {
        let mut position: HashMap<String, usize> = HashMap::new();
        let mut unique: Vec<(String, Option<String>)> = Vec::new();
        for (id, state) in entries {
            match position.get(&id) {
                Some(&at) => {
                    if state.is_some() {
                        unique[at].1 = state;
                    }
                }
                None => {
                    position.insert(id.clone(), unique.len());
                    unique.push((id, state));
                }
            }
        }
        unique
    }

    fn present_ids(&self) -> Vec<&str> {
        self.present.iter().map(|(id, _)| id.as_str()).collect()
    }

    /// The (original, copy) pairs whose copy had no UID before this transaction.
    fn fresh_copies(&self, existing: &HashMap<String, u32>) -> (Vec<String>, Vec<String>) {
        self.copy_exact
            .iter()
            .filter(|(_, copy)| !existing.contains_key(copy))
            .cloned()
            .unzip()
    }
}

/// A message row to write: a new one with its new UID, or an existing one whose state changes.
struct MessageWrite {
    id: String,
    uid: u32,
    state: Option<String>,
}

/// The outcome of [`allocate`].
struct Allocation {
    /// The UID of every present id.
    uids: HashMap<String, u32>,
    writes: Vec<MessageWrite>,
    next_uid: i64,
}

/// Gives UIDs from `next_uid` on to the present ids `existing` (id → UID, as stored) lacks,
/// in order, and lists the rows to write.
fn allocate(
    present: Vec<(String, Option<String>)>,
    existing: &HashMap<String, u32>,
    mut next_uid: i64,
    folder_id: &str,
) -> Result<Allocation, StoreError> {
    let mut uids = HashMap::with_capacity(present.len());
    let mut writes = Vec::new();
    for (id, state) in present {
        let uid = match existing.get(&id) {
            Some(&uid) => {
                if state.is_some() {
                    writes.push(MessageWrite {
                        id: id.clone(),
                        uid,
                        state,
                    });
                }
                uid
            }
            None => {
                let uid = u32::try_from(next_uid)
                    .map_err(|_| StoreError::UidsExhausted(folder_id.to_string()))?;
                next_uid += 1;
                writes.push(MessageWrite {
                    id: id.clone(),
                    uid,
                    state,
                });
                uid
            }
        };
        uids.insert(id, uid);
    }
    Ok(Allocation {
        uids,
        writes,
        next_uid,
    })
}

/// The stored form of a message's state (the `state` column, in both backends).
fn encode_state(state: &MessageState) -> String {
    serde_json::to_string(state).expect("a MessageState is plain data and always serialises")
}

/// A stored state, or None when there is none or it cannot be read: the state only repeats
/// what Graph knows, so a message without one is asked about again rather than shown wrong.
fn decode_state(stored: Option<String>) -> Option<MessageState> {
    let stored = stored?;
    match serde_json::from_str(&stored) {
        Ok(state) => Some(state),
        Err(err) => {
            tracing::warn!(error = %err, "uid store: ignoring a message state that does not parse");
            None
        }
    }
}

/// Held flags as the store keeps them: JSON.
fn encode_held(held: &HeldFlags) -> String {
    serde_json::to_string(held).unwrap_or_default()
}

fn decode_held(stored: &str) -> HeldFlags {
    serde_json::from_str(stored).unwrap_or_else(|err| {
        tracing::warn!(error = %err, "uid store: ignoring held flags that do not parse");
        HeldFlags::default()
    })
}

/// Seconds since the epoch, as a non-zero u32 (valid until 2106).
fn uid_validity_now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    (secs.clamp(1, u32::MAX as u64)) as u32
}

/// How a folder's record comes to be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sighting {
    /// First seen in Graph (listed, synchronised): it may have existed for years.
    Seen,
    /// Just created by the gateway.
    Created,
}

/// One mailbox's UIDVALIDITY counters (table `uid_validities`): the highest UIDVALIDITY given
/// to any of its folders, and to a folder the gateway created.
///
/// A created folder gets max(now, highest + 1): larger than any folder of the mailbox had, so
/// a name deleted and created again within a second still gets a new, larger value (Dovecot's
/// `mailbox_uidvalidity_next` does the same per user). A folder first seen gets max(now,
/// highest created + 1): the time of first sight, as before, so the many folders seen at a
/// first start share the second and a store lost and made again gives them larger values; but
/// never at or below a value a created folder had, since a folder made in Outlook may take a
/// name the gateway created and deleted. Only creations faster than one a second move the
/// values ahead of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct UidValidities {
    highest: i64,
    highest_created: i64,
}

impl UidValidities {
    /// The UIDVALIDITY of a new folder record, and the counters after it.
    fn allocate(
        self,
        now: u32,
        sighting: Sighting,
        mailbox: &str,
    ) -> Result<(u32, UidValidities), StoreError> {
        let now = i64::from(now);
        let value = match sighting {
            Sighting::Seen => now.max(self.highest_created + 1),
            Sighting::Created => now.max(self.highest + 1),
        };
        let value = u32::try_from(value)
            .map_err(|_| StoreError::UidValiditiesExhausted(mailbox.to_string()))?;
        let after = UidValidities {
            highest: self.highest.max(value.into()),
            highest_created: match sighting {
                Sighting::Seen => self.highest_created,
                Sighting::Created => value.into(),
            },
        };
        Ok((value, after))
    }
}

/// The checks every backend must pass; run against SQLite here and against PostgreSQL by
/// `tests/postgres.rs`.
pub mod conformance {
    use super::*;

    fn check(condition: bool, what: &str) -> Result<(), String> {
        if condition {
            Ok(())
        } else {
            Err(what.to_string())
        }
    }

    /// UIDs allocated in order, kept, never reused; sizes remembered; folders and mailboxes
    /// independent. `reopen` gives a second handle on the same store (a restart, or another
    /// instance). Uses mailbox names under `prefix` so runs do not meet.
    pub async fn run(store: &UidStore, reopen: &UidStore, prefix: &str) -> Result<(), String> {
        let mailbox = format!("{prefix}a@x.example");
        let other = format!("{prefix}b@x.example");
        let err = |e: StoreError| e.to_string();
        let (uids, folder) = store
            .reconcile(
                &mailbox,
                "F1",
                vec!["m1".into(), "m2".into(), "m3".into()],
                vec![],
            )
            .await
            .map_err(err)?;
        check(
            (uids["m1"], uids["m2"], uids["m3"]) == (1, 2, 3),
            "first UIDs are 1, 2, 3",
        )?;
        check(folder.uid_next == 4, "UIDNEXT after three is 4")?;
        let (uids, folder2) = store
            .reconcile(
                &mailbox,
                "F1",
                vec!["m2".into(), "m4".into()],
                vec!["m3".into()],
            )
            .await
            .map_err(err)?;
        check(
            (uids["m2"], uids["m4"]) == (2, 4),
            "known ids keep their UID, new ones get 4",
        )?;
        check(folder2.uid_next == 5, "UIDNEXT grows to 5")?;
        check(
            folder2.uid_validity == folder.uid_validity,
            "UIDVALIDITY is stable",
        )?;
        store
            .set_sizes(&mailbox, "F1", vec![("m2".into(), 1234)])
            .await
            .map_err(err)?;

        let known = reopen.messages(&mailbox, "F1").await.map_err(err)?;
        check(known.len() == 3, "three messages known after m3 went")?;
        check(
            known.get("m2")
                == Some(&StoredMessage {
                    uid: 2,
                    size: Some(1234),
                }),
            "m2 keeps UID 2 and its size",
        )?;
        check(!known.contains_key("m3"), "m3 is forgotten")?;
        let folder3 = reopen.folder(&mailbox, "F1").await.map_err(err)?;
        check(
            folder3
                == FolderUids {
                    uid_validity: folder.uid_validity,
                    uid_next: 5,
                },
            "the other handle sees the same UIDVALIDITY and UIDNEXT",
        )?;
        let (uids, _) = reopen
            .reconcile(&mailbox, "F1", vec!["m3".into()], vec![])
            .await
            .map_err(err)?;
        check(
            uids["m3"] == 5,
            "a returning message gets a new UID, never its old one",
        )?;

        let (a, _) = store
            .reconcile(&other, "F1", vec!["m".into()], vec![])
            .await
            .map_err(err)?;
        let (b, _) = store
            .reconcile(&mailbox, "G", vec!["m".into()], vec![])
            .await
            .map_err(err)?;
        check(
            (a["m"], b["m"]) == (1, 1),
            "folders and mailboxes are independent",
        )?;

        // \Recent: a new folder's messages are recent to the first claim; each claim takes what
        // is above the last one, seen through either handle; a claim never goes back.
        check(
            reopen.recent_claimed(&mailbox, "F1").await.map_err(err)? == 0,
            "a new folder has no \\Recent claim",
        )?;
        check(
            store.claim_recent(&mailbox, "F1", 4).await.map_err(err)? == 0,
            "the first claim takes every UID",
        )?;
        check(
            reopen.claim_recent(&mailbox, "F1", 4).await.map_err(err)? == 4,
            "a second claim of the same UIDs gets none of them",
        )?;
        check(
            reopen.claim_recent(&mailbox, "F1", 2).await.map_err(err)? == 4,
            "a claim below the last changes nothing",
        )?;
        check(
            store.recent_claimed(&mailbox, "F1").await.map_err(err)? == 4,
            "the claim is where the highest one left it",
        )?;
        check(
            store.claim_recent(&other, "F1", 1).await.map_err(err)? == 0,
            "claims are per mailbox",
        )?;

        store
            .set_deleted(&mailbox, "F1", vec!["m2".into(), "m4".into()], true)
            .await
            .map_err(err)?;
        store
            .set_deleted(&mailbox, "F1", vec!["m2".into()], true)
            .await
            .map_err(err)?;
        let deleted = reopen.deleted(&mailbox, "F1").await.map_err(err)?;
        check(
            deleted == HashSet::from(["m2".to_string(), "m4".to_string()]),
            "\\Deleted marks are seen by the other handle",
        )?;
        store
            .set_deleted(&mailbox, "F1", vec!["m4".into()], false)
            .await
            .map_err(err)?;
        store
            .reconcile(&mailbox, "F1", vec![], vec!["m2".into()])
            .await
            .map_err(err)?;
        check(
            reopen
                .deleted(&mailbox, "F1")
                .await
                .map_err(err)?
                .is_empty(),
            "a mark goes when unset or when its message leaves the folder",
        )?;
        check(
            reopen.deleted(&other, "F1").await.map_err(err)?.is_empty(),
            "marks are per mailbox",
        )?;

        // Held flags: replaced whole, seen through the other handle, removed when emptied or
        // when the message leaves the folder (by reconcile or by a complete sync round).
        let held = |draft, keywords: &[&str]| HeldFlags {
            draft,
            answered: true,
            forwarded: false,
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
        };
        store
            .set_held_flags(
                &mailbox,
                "F1",
                vec![
                    ("m1".into(), held(Some(true), &["$MDNSent"])),
                    ("m3".into(), held(None, &[])),
                    ("m5".into(), held(Some(false), &["&41", "$Junk"])),
                ],
            )
            .await
            .map_err(err)?;
        store
            .set_held_flags(
                &mailbox,
                "F1",
                vec![
                    ("m1".into(), held(Some(false), &[])),
                    ("m3".into(), HeldFlags::default()),
                ],
            )
            .await
            .map_err(err)?;
        check(
            reopen.held_flags(&mailbox, "F1").await.map_err(err)?
                == HashMap::from([
                    ("m1".to_string(), held(Some(false), &[])),
                    ("m5".to_string(), held(Some(false), &["&41", "$Junk"])),
                ]),
            "held flags are replaced whole, and go when emptied",
        )?;
        check(
            reopen
                .held_flags(&other, "F1")
                .await
                .map_err(err)?
                .is_empty(),
            "held flags are per mailbox",
        )?;
        store
            .reconcile(&mailbox, "F1", vec![], vec!["m5".into()])
            .await
            .map_err(err)?;
        check(
            reopen.held_flags(&mailbox, "F1").await.map_err(err)?
                == HashMap::from([("m1".to_string(), held(Some(false), &[]))]),
            "held flags go when their message leaves the folder",
        )?;

        store
            .set_subscription(&mailbox, "Projects", false)
            .await
            .map_err(err)?;
        store
            .set_subscription(&mailbox, "Later", true)
            .await
            .map_err(err)?;
        store
            .set_subscription(&mailbox, "Later", false)
            .await
            .map_err(err)?;
        store
            .set_subscription(&mailbox, "Later", true)
            .await
            .map_err(err)?;
        let subscriptions = reopen.subscriptions(&mailbox).await.map_err(err)?;
        check(
            subscriptions
                == HashMap::from([("Projects".to_string(), false), ("Later".to_string(), true)]),
            "subscriptions are kept, the latest word wins",
        )?;
        check(
            reopen.subscriptions(&other).await.map_err(err)?.is_empty(),
            "subscriptions are per mailbox",
        )?;
        synchronisation(store, reopen, prefix).await?;
        exact_records(store, reopen, prefix).await?;
        uid_validities(store, reopen, prefix).await
    }

    /// Exact records: kept by mailbox and Graph id whatever the folder, seen by the other
    /// handle, copied to a copy's id, replaced, dropped; a renumbered message gets a new UID
    /// once, keeping its \Deleted mark.
    async fn exact_records(
        store: &UidStore,
        reopen: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}exact@x.example");
        let err = |e: StoreError| e.to_string();
        let literal = StoredExact::Literal(b"Subject: x\r\n\r\n\x00\xffbody".to_vec());
        let superseded = StoredExact::Superseded {
            folder_id: "F".into(),
            uid: 7,
        };
        store
            .put_exact(&mailbox, "m1", &literal)
            .await
            .map_err(err)?;
        // c3 was numbered by a synchronisation before its copy's UID came: it keeps Graph's
        // bytes.
        store
            .reconcile(&mailbox, "K", vec!["c3".into()], vec![])
            .await
            .map_err(err)?;
        let (copied, _) = store
            .reconcile_copies(
                &mailbox,
                "K",
                vec![
                    ("m1".into(), "c1".into()),
                    ("none".into(), "c2".into()),
                    ("m1".into(), "c3".into()),
                ],
            )
            .await
            .map_err(err)?;
        check(
            (copied["c3"], copied["c1"], copied["c2"]) == (1, 2, 3),
            "copies get UIDs in order",
        )?;
        let ids = || ["m1", "c1", "c2", "c3"].map(str::to_string).to_vec();
        let records = reopen.exact_records(&mailbox, ids()).await.map_err(err)?;
        check(
            records.len() == 2
                && records.get("m1") == Some(&Ok(literal.clone()))
                && records.get("c1") == Some(&Ok(literal.clone())),
            "a record is seen by the other handle and copied to a copy numbered with it, bytes \
             as they were",
        )?;
        reopen
            .put_exact(&mailbox, "c1", &superseded)
            .await
            .map_err(err)?;
        store
            .drop_exact(&mailbox, vec!["m1".into()])
            .await
            .map_err(err)?;
        let records = store.exact_records(&mailbox, ids()).await.map_err(err)?;
        check(
            records.len() == 1 && records.get("c1") == Some(&Ok(superseded)),
            "a record is replaced and dropped",
        )?;
        store
            .reconcile(&mailbox, "G", vec!["c1".into()], vec![])
            .await
            .map_err(err)?;
        store
            .put_exact(&mailbox, "o", &literal)
            .await
            .map_err(err)?;
        let orphans = reopen
            .exact_orphans(&mailbox, vec!["c1".into(), "o".into(), "m1".into()])
            .await
            .map_err(err)?;
        check(
            orphans == vec!["o".to_string()],
            "a record whose message has no UID in any folder is an orphan",
        )?;
        let parts = crate::exact::ExactRecord {
            length: 3,
            digest: [7; 32],
            segments: vec![crate::exact::Segment::Inline(b"abc".to_vec())],
        };
        store
            .put_exact(&mailbox, "p", &StoredExact::Parts(parts.clone()))
            .await
            .map_err(err)?;
        let only_parts = reopen
            .exact_parts(&mailbox, vec!["p".into(), "o".into(), "c1".into()])
            .await
            .map_err(err)?;
        check(
            only_parts == vec![("p".to_string(), parts)],
            "records of parts are read alone",
        )?;
        let (uids, _) = store
            .reconcile(&mailbox, "F", vec!["a".into(), "b".into()], vec![])
            .await
            .map_err(err)?;
        store
            .set_deleted(&mailbox, "F", vec!["a".into()], true)
            .await
            .map_err(err)?;
        let (first, folder) = store
            .renumber(&mailbox, "F", "a", uids["a"])
            .await
            .map_err(err)?;
        let (again, _) = reopen
            .renumber(&mailbox, "F", "a", uids["a"])
            .await
            .map_err(err)?;
        check(
            first == 3 && again == 3 && folder.uid_next == 4,
            "a renumbered message gets the next UID, once",
        )?;
        let known = reopen.messages(&mailbox, "F").await.map_err(err)?;
        check(
            known.get("a").map(|m| m.uid) == Some(3) && known.get("b").map(|m| m.uid) == Some(2),
            "only the renumbered message changes",
        )?;
        check(
            reopen
                .deleted(&mailbox, "F")
                .await
                .map_err(err)?
                .contains("a"),
            "a renumbered message keeps its \\Deleted mark",
        )
    }

    /// A folder the gateway creates gets a UIDVALIDITY larger than any the mailbox had, from
    /// either handle, however fast it goes (the same name deleted and created three times in a
    /// row); a folder first seen afterwards too; a recorded folder keeps its UIDs.
    async fn uid_validities(
        store: &UidStore,
        reopen: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}v@x.example");
        let err = |e: StoreError| e.to_string();
        let seen_a = store.folder(&mailbox, "A").await.map_err(err)?;
        let seen_b = reopen.folder(&mailbox, "B").await.map_err(err)?;
        check(
            seen_a.uid_next == 1 && seen_b.uid_next == 1,
            "a folder first seen starts at UID 1",
        )?;
        let mut highest = seen_a.uid_validity.max(seen_b.uid_validity);
        // Three creations of one name in a row: each is a new Graph folder.
        for (round, id) in ["N1", "N2", "N3"].into_iter().enumerate() {
            let handle = if round % 2 == 0 { store } else { reopen };
            let created = handle.created_folder(&mailbox, id).await.map_err(err)?;
            check(
                created.uid_validity > highest,
                "a created folder's UIDVALIDITY is larger than every one the mailbox had",
            )?;
            check(created.uid_next == 1, "a created folder starts at UID 1")?;
            highest = created.uid_validity;
        }
        check(
            reopen
                .folder(&mailbox, "N2")
                .await
                .map_err(err)?
                .uid_validity
                < highest,
            "a created folder keeps its UIDVALIDITY",
        )?;
        check(
            store.created_folder(&mailbox, "A").await.map_err(err)? == seen_a,
            "a folder already recorded keeps its UIDs when reported created",
        )?;
        let seen_later = reopen.folder(&mailbox, "C").await.map_err(err)?;
        check(
            seen_later.uid_validity > highest,
            "a folder first seen after creations gets a larger UIDVALIDITY than they had",
        )?;
        let (_, synced) = store
            .reconcile(&mailbox, "D", vec!["m".into()], vec![])
            .await
            .map_err(err)?;
        check(
            synced.uid_validity > highest,
            "a folder first met by an allocation does too",
        )?;
        Ok(())
    }

    /// A state that differs with `n`.
    fn state(n: i64) -> MessageState {
        MessageState {
            received: chrono::DateTime::from_timestamp(1_700_000_000 + n, 0),
            is_read: n % 2 == 0,
            is_flagged: n % 3 == 0,
            is_draft: false,
            last_verb: (n % 2 == 1).then_some(102),
            categories: vec![format!("tag{n}")],
            has_attachments: n > 5,
        }
    }

    fn round(
        complete: bool,
        changed: &[(&str, i64)],
        removed: &[&str],
        delta_link: &str,
    ) -> FolderSync {
        FolderSync {
            complete,
            changed: changed
                .iter()
                .map(|&(id, n)| (id.to_string(), state(n)))
                .collect(),
            removed: removed.iter().map(|id| id.to_string()).collect(),
            delta_link: delta_link.to_string(),
        }
    }

    /// (id, UID, size, state number) of every message, by UID.
    type Shown = Vec<(&'static str, u32, Option<u64>, Option<i64>)>;

    fn expect(shown: Shown) -> Vec<SyncedMessage> {
        shown
            .into_iter()
            .map(|(id, uid, size, n)| SyncedMessage {
                id: id.to_string(),
                uid,
                size,
                state: n.map(state),
            })
            .collect()
    }

    /// `record_sync` and `synced_folder`: rounds complete and incremental, UIDs never reused,
    /// sizes and \Deleted marks kept or dropped with their message, `reconcile`'s rows
    /// without a state, and the other handle seeing the same.
    async fn synchronisation(
        store: &UidStore,
        reopen: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}s@x.example");
        let err = |e: StoreError| e.to_string();
        check(
            store
                .synced_folder(&mailbox, "S")
                .await
                .map_err(err)?
                .is_none(),
            "an unknown folder was never synchronised",
        )?;
        store
            .reconcile(&mailbox, "R", vec!["r".into()], vec![])
            .await
            .map_err(err)?;
        check(
            store
                .synced_folder(&mailbox, "R")
                .await
                .map_err(err)?
                .is_none(),
            "a folder without a deltaLink was never synchronised",
        )?;

        let (uids, folder) = store
            .record_sync(
                &mailbox,
                "S",
                round(true, &[("a", 1), ("b", 2), ("c", 3)], &[], "link1"),
            )
            .await
            .map_err(err)?;
        check(
            uids == HashMap::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 3)]),
            "a first round gives UIDs in the order given",
        )?;
        check(
            folder.uid_next == 4,
            "UIDNEXT after a first round of three is 4",
        )?;
        let synced = reopen
            .synced_folder(&mailbox, "S")
            .await
            .map_err(err)?
            .ok_or("a synchronised folder is known")?;
        check(
            synced
                == SyncedFolder {
                    uids: folder,
                    delta_link: "link1".into(),
                    messages: expect(vec![
                        ("a", 1, None, Some(1)),
                        ("b", 2, None, Some(2)),
                        ("c", 3, None, Some(3)),
                    ]),
                },
            "the other handle sees the first round: UIDs, states, deltaLink",
        )?;

        store
            .set_sizes(&mailbox, "S", vec![("b".into(), 200)])
            .await
            .map_err(err)?;
        store
            .set_deleted(&mailbox, "S", vec!["a".into(), "c".into()], true)
            .await
            .map_err(err)?;
        let draft = HeldFlags {
            draft: Some(true),
            ..HeldFlags::default()
        };
        store
            .set_held_flags(
                &mailbox,
                "S",
                vec![("a".into(), draft.clone()), ("c".into(), draft.clone())],
            )
            .await
            .map_err(err)?;
        let (uids, folder) = store
            .record_sync(
                &mailbox,
                "S",
                round(false, &[("d", 4), ("b", 5)], &["c", "unknown"], "link2"),
            )
            .await
            .map_err(err)?;
        check(
            uids == HashMap::from([("d".into(), 4), ("b".into(), 2)]),
            "an incremental round gives new ids the next UIDs; changed ones keep theirs",
        )?;
        check(folder.uid_next == 5, "UIDNEXT grows to 5")?;
        let synced = reopen
            .synced_folder(&mailbox, "S")
            .await
            .map_err(err)?
            .ok_or("still synchronised")?;
        check(
            synced
                == SyncedFolder {
                    uids: folder,
                    delta_link: "link2".into(),
                    messages: expect(vec![
                        ("a", 1, None, Some(1)),
                        ("b", 2, Some(200), Some(5)),
                        ("d", 4, None, Some(4)),
                    ]),
                },
            "an incremental round changes states, keeps sizes, drops the removed",
        )?;
        check(
            reopen.deleted(&mailbox, "S").await.map_err(err)? == HashSet::from(["a".to_string()]),
            "a removed message's \\Deleted mark goes, others stay",
        )?;
        check(
            reopen.held_flags(&mailbox, "S").await.map_err(err)?
                == HashMap::from([("a".to_string(), draft.clone())]),
            "a removed message's held flags go, others stay",
        )?;

        let (uids, _) = store
            .record_sync(
                &mailbox,
                "S",
                round(false, &[("c", 3), ("a", 6)], &["a"], "link3"),
            )
            .await
            .map_err(err)?;
        check(
            uids == HashMap::from([("c".into(), 5), ("a".into(), 1)]),
            "a message that comes back gets a new UID; one both removed and changed stays",
        )?;
        check(
            reopen.deleted(&mailbox, "S").await.map_err(err)? == HashSet::from(["a".to_string()]),
            "a message both removed and changed keeps its \\Deleted mark",
        )?;

        let (uids, _) = reopen
            .reconcile(&mailbox, "S", vec!["x".into(), "b".into()], vec![])
            .await
            .map_err(err)?;
        check(uids["x"] == 6, "reconcile allocates after record_sync")?;
        let synced = store
            .synced_folder(&mailbox, "S")
            .await
            .map_err(err)?
            .ok_or("still synchronised")?;
        check(
            synced.delta_link == "link3",
            "reconcile keeps the deltaLink",
        )?;
        check(
            synced.messages
                == expect(vec![
                    ("a", 1, None, Some(6)),
                    ("b", 2, Some(200), Some(5)),
                    ("d", 4, None, Some(4)),
                    ("c", 5, None, Some(3)),
                    ("x", 6, None, None),
                ]),
            "reconcile's new rows have no state and it never clears one",
        )?;

        store
            .set_deleted(&mailbox, "S", vec!["x".into(), "d".into()], true)
            .await
            .map_err(err)?;
        let (uids, folder) = store
            .record_sync(
                &mailbox,
                "S",
                round(true, &[("d", 7), ("y", 8), ("b", 5)], &[], "link4"),
            )
            .await
            .map_err(err)?;
        check(
            uids == HashMap::from([("d".into(), 4), ("y".into(), 7), ("b".into(), 2)]),
            "a complete round keeps the UIDs of messages that stay; new ones get the next",
        )?;
        check(folder.uid_next == 8, "UIDNEXT never goes back")?;
        let synced = reopen
            .synced_folder(&mailbox, "S")
            .await
            .map_err(err)?
            .ok_or("still synchronised")?;
        check(
            synced
                == SyncedFolder {
                    uids: folder,
                    delta_link: "link4".into(),
                    messages: expect(vec![
                        ("b", 2, Some(200), Some(5)),
                        ("d", 4, None, Some(7)),
                        ("y", 7, None, Some(8)),
                    ]),
                },
            "a complete round drops the messages it does not name, keeps sizes of the rest",
        )?;
        check(
            reopen.deleted(&mailbox, "S").await.map_err(err)? == HashSet::from(["d".to_string()]),
            "a complete round drops the \\Deleted marks of the messages it drops",
        )?;
        check(
            store.synced_folder(&mailbox, "S").await.map_err(err)? == Some(synced),
            "both handles see the same folder",
        )?;
        Ok(())
    }

    /// Two handles allocating in one folder at the same time never give one UID twice, and
    /// agree on the UID of every message.
    pub async fn concurrent(
        store: &UidStore,
        other: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}c@x.example");
        let ids: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
        let answers = race(store, other, &ids, |handle, _, mine| {
            let mailbox = mailbox.clone();
            async move { handle.reconcile(&mailbox, "F", mine, vec![]).await }
        })
        .await?;
        for answer in &answers[1..] {
            check(
                answer == &answers[0],
                "every handle got the same UID for every message",
            )?;
        }
        let mut uids: Vec<u32> = answers[0].values().copied().collect();
        uids.sort_unstable();
        uids.dedup();
        check(uids.len() == ids.len(), "no UID was given twice")?;
        check(
            uids == (1..=50).collect::<Vec<u32>>(),
            "UIDs are 1..=50 without gaps",
        )?;
        concurrent_synchronisation(store, other, prefix).await?;
        concurrent_creations(store, other, prefix).await
    }

    /// Folders created at the same time through two handles get distinct UIDVALIDITYs, each
    /// larger than any the mailbox had before.
    async fn concurrent_creations(
        store: &UidStore,
        other: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}cv@x.example");
        let before = store
            .created_folder(&mailbox, "first")
            .await
            .map_err(|e| e.to_string())?;
        let mut tasks = Vec::new();
        for n in 0..8 {
            let handle = if n % 2 == 0 { store } else { other }.clone();
            let mailbox = mailbox.clone();
            tasks.push(tokio::spawn(async move {
                handle.created_folder(&mailbox, &format!("F{n}")).await
            }));
        }
        let mut values = Vec::new();
        for task in tasks {
            let created = task
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            values.push(created.uid_validity);
        }
        values.sort_unstable();
        values.dedup();
        check(
            values.len() == 8,
            "folders created at once get distinct UIDVALIDITYs",
        )?;
        check(
            values[0] > before.uid_validity,
            "each larger than any the mailbox had",
        )
    }

    /// Four tasks, alternately on `store` and `other`, each given `ids` rotated differently
    /// (so they race to allocate), run `work`; the UIDs each got.
    async fn race<F, Fut>(
        store: &UidStore,
        other: &UidStore,
        ids: &[String],
        work: F,
    ) -> Result<Vec<HashMap<String, u32>>, String>
    where
        F: Fn(UidStore, usize, Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<(HashMap<String, u32>, FolderUids), StoreError>>
            + Send
            + 'static,
    {
        let mut tasks = Vec::new();
        for round in 0..4 {
            let handle = if round % 2 == 0 { store } else { other };
            let mut mine = ids.to_vec();
            mine.rotate_left(round * 13);
            tasks.push(tokio::spawn(work(handle.clone(), round, mine)));
        }
        let mut answers = Vec::new();
        for task in tasks {
            let (uids, _) = task
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            answers.push(uids);
        }
        Ok(answers)
    }

    /// Complete rounds of one folder raced from two handles agree on every UID.
    async fn concurrent_synchronisation(
        store: &UidStore,
        other: &UidStore,
        prefix: &str,
    ) -> Result<(), String> {
        let mailbox = format!("{prefix}cs@x.example");
        let ids: Vec<String> = (0..50).map(|i| format!("m{i:02}")).collect();
        let answers = race(store, other, &ids, |handle, round, mine| {
            let mailbox = mailbox.clone();
            let sync = FolderSync {
                complete: true,
                changed: mine
                    .into_iter()
                    .map(|id| (id, state(round as i64)))
                    .collect(),
                removed: vec![],
                delta_link: format!("link{round}"),
            };
            async move { handle.record_sync(&mailbox, "F", sync).await }
        })
        .await?;
        for answer in &answers[1..] {
            check(
                answer == &answers[0],
                "racing rounds agree on the UID of every message",
            )?;
        }
        let synced = store
            .synced_folder(&mailbox, "F")
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the raced folder is synchronised")?;
        check(
            synced.messages.iter().map(|m| m.uid).collect::<Vec<u32>>()
                == (1..=50).collect::<Vec<u32>>(),
            "racing rounds give UIDs 1..=50, once each",
        )?;
        check(synced.uids.uid_next == 51, "UIDNEXT after 50 is 51")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_passes_the_conformance_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.sqlite");
        let store = UidStore::open_sqlite(&path).unwrap();
        let reopened = UidStore::open_sqlite(&path).unwrap();
        conformance::run(&store, &reopened, "").await.unwrap();
        conformance::concurrent(&store, &reopened, "")
            .await
            .unwrap();
    }

    /// The tables as the gateway made them before schema versions were recorded (version 1,
    /// `user_version` 0), written out here so a change to the migrations cannot hide a break.
    const VERSION_1_SQL: &str = "
        CREATE TABLE folders (
            mailbox TEXT NOT NULL, folder_id TEXT NOT NULL,
            uid_validity INTEGER NOT NULL, next_uid INTEGER NOT NULL,
            PRIMARY KEY (mailbox, folder_id));
        CREATE TABLE messages (
            mailbox TEXT NOT NULL, folder_id TEXT NOT NULL, message_id TEXT NOT NULL,
            uid INTEGER NOT NULL, size INTEGER,
            PRIMARY KEY (mailbox, folder_id, message_id), UNIQUE (mailbox, folder_id, uid));
        CREATE TABLE deleted (
            mailbox TEXT NOT NULL, folder_id TEXT NOT NULL, message_id TEXT NOT NULL,
            PRIMARY KEY (mailbox, folder_id, message_id));
        CREATE TABLE subscriptions (
            mailbox TEXT NOT NULL, name TEXT NOT NULL, subscribed BOOLEAN NOT NULL,
            PRIMARY KEY (mailbox, name));
        INSERT INTO folders VALUES ('a@x.example', 'F', 1000, 3);
        INSERT INTO messages VALUES ('a@x.example', 'F', 'm1', 1, 111), ('a@x.example', 'F', 'm2', 2, NULL);
        INSERT INTO deleted VALUES ('a@x.example', 'F', 'm2');
        INSERT INTO subscriptions VALUES ('a@x.example', 'Later', FALSE);
        INSERT INTO folders VALUES ('late@x.example', 'L', 4000000000, 1);
    ";

    fn user_version(path: &std::path::Path) -> i64 {
        rusqlite::Connection::open(path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn sqlite_migrates_a_version_1_file_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.sqlite");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(VERSION_1_SQL)
            .unwrap();
        let store = UidStore::open_sqlite(&path).unwrap();
        assert_eq!(user_version(&path), SCHEMA_VERSION as i64);
        let mailbox = "a@x.example";
        assert_eq!(
            store.messages(mailbox, "F").await.unwrap(),
            HashMap::from([
                (
                    "m1".to_string(),
                    StoredMessage {
                        uid: 1,
                        size: Some(111)
                    }
                ),
                ("m2".to_string(), StoredMessage { uid: 2, size: None }),
            ])
        );
        assert_eq!(
            store.folder(mailbox, "F").await.unwrap(),
            FolderUids {
                uid_validity: 1000,
                uid_next: 3
            }
        );
        assert_eq!(
            store.deleted(mailbox, "F").await.unwrap(),
            HashSet::from(["m2".to_string()])
        );
        assert!(store.held_flags(mailbox, "F").await.unwrap().is_empty());
        let held = HeldFlags {
            draft: Some(true),
            ..HeldFlags::default()
        };
        store
            .set_held_flags(mailbox, "F", vec![("m1".into(), held.clone())])
            .await
            .unwrap();
        assert_eq!(
            store.held_flags(mailbox, "F").await.unwrap(),
            HashMap::from([("m1".to_string(), held)])
        );
        assert_eq!(
            store.subscriptions(mailbox).await.unwrap(),
            HashMap::from([("Later".to_string(), false)])
        );
        assert_eq!(store.synced_folder(mailbox, "F").await.unwrap(), None);
        // The migration takes each mailbox's highest UIDVALIDITY: a folder created next is
        // above it, one first seen is not held back by it.
        assert_eq!(
            store
                .created_folder("late@x.example", "M")
                .await
                .unwrap()
                .uid_validity,
            4_000_000_001
        );
        assert!(
            store
                .folder("late@x.example", "S")
                .await
                .unwrap()
                .uid_validity
                > 4_000_000_001,
            "first seen after a creation: above it"
        );

        let state = MessageState {
            is_read: true,
            ..MessageState::default()
        };
        let (uids, folder) = store
            .record_sync(
                mailbox,
                "F",
                FolderSync {
                    complete: false,
                    changed: vec![("m3".into(), state.clone()), ("m1".into(), state.clone())],
                    removed: vec![],
                    delta_link: "link".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            uids,
            HashMap::from([("m3".to_string(), 3), ("m1".to_string(), 1)])
        );
        // Opening a migrated file again changes nothing.
        let reopened = UidStore::open_sqlite(&path).unwrap();
        assert_eq!(
            reopened.synced_folder(mailbox, "F").await.unwrap(),
            Some(SyncedFolder {
                uids: folder,
                delta_link: "link".into(),
                messages: vec![
                    SyncedMessage {
                        id: "m1".into(),
                        uid: 1,
                        size: Some(111),
                        state: Some(state.clone()),
                    },
                    SyncedMessage {
                        id: "m2".into(),
                        uid: 2,
                        size: None,
                        state: None,
                    },
                    SyncedMessage {
                        id: "m3".into(),
                        uid: 3,
                        size: None,
                        state: Some(state),
                    },
                ],
            })
        );
    }

    #[test]
    fn uid_validities_follow_the_clock_and_outgrow_what_was_given() {
        let fresh = UidValidities::default();
        let (seen, after) = fresh.allocate(1000, Sighting::Seen, "m").unwrap();
        assert_eq!(
            (seen, after.highest, after.highest_created),
            (1000, 1000, 0)
        );
        let (seen_again, after) = after.allocate(1000, Sighting::Seen, "m").unwrap();
        assert_eq!(
            seen_again, 1000,
            "folders first seen in one second share it"
        );
        let (created, after) = after.allocate(1000, Sighting::Created, "m").unwrap();
        assert_eq!((created, after.highest_created), (1001, 1001));
        let (created_again, after) = after.allocate(1000, Sighting::Created, "m").unwrap();
        assert_eq!(created_again, 1002, "creations within a second still grow");
        let (seen_later, after) = after.allocate(1000, Sighting::Seen, "m").unwrap();
        assert_eq!(
            seen_later, 1003,
            "a folder first seen after them is above them"
        );
        let (created_later, _) = after.allocate(5000, Sighting::Created, "m").unwrap();
        assert_eq!(created_later, 5000, "the clock wins when it is ahead");
        let full = UidValidities {
            highest: u32::MAX.into(),
            highest_created: 0,
        };
        assert!(matches!(
            full.allocate(1000, Sighting::Created, "m"),
            Err(StoreError::UidValiditiesExhausted(_))
        ));
    }

    #[test]
    fn sqlite_refuses_a_schema_newer_than_it_knows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.sqlite");
        drop(UidStore::open_sqlite(&path).unwrap());
        let future = SCHEMA_VERSION as i64 + 1;
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(&format!("PRAGMA user_version = {future}"))
            .unwrap();
        let refusal = UidStore::open_sqlite(&path).err().expect("refused");
        assert!(
            matches!(refusal, StoreError::SchemaTooNew { found, known, .. }
                if found == future && known == SCHEMA_VERSION as i64),
            "{refusal}"
        );
        let message = refusal.to_string();
        assert!(
            message.contains(&future.to_string()) && message.contains(&SCHEMA_VERSION.to_string()),
            "{message}"
        );
        assert_eq!(user_version(&path), future, "a refused file is left alone");
    }
}
