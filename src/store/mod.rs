//! Owns the uid store: the only durable state of the gateway.
//!
//! Per folder it keeps UIDVALIDITY and the next UID; per message the (folder, Graph id) → UID map
//! and facts learned once and worth keeping (the exact RFC822.SIZE); the \Deleted marks, which
//! Graph has no place for and which every session and instance must see until EXPUNGE; and
//! each mailbox's folder subscriptions (SUBSCRIBE/UNSUBSCRIBE). UIDs are allocated here,
//! atomically, in the order the caller gives (ascending receivedDateTime), and never reused: a
//! message that disappears takes its UID with it, and `next_uid` only grows.
//!
//! Two backends with one schema and one meaning: an embedded SQLite file (`sqlite`, the
//! default) and a PostgreSQL database (`postgres`) that several gateway instances share, where
//! a row lock on the folder makes allocation atomic across processes.

mod postgres;
mod sqlite;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::config::StoreConfig;

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
const SCHEMA_VERSION: usize = 2;

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
    /// UIDVALIDITY is the time of first sight, so a folder recreated after the store was lost
    /// gets a larger one and clients resynchronise (RFC 3501 2.3.1.1).
    pub async fn folder(&self, mailbox: &str, folder_id: &str) -> Result<FolderUids, StoreError> {
        match &self.backend {
            Backend::Sqlite(store) => store.folder(mailbox, folder_id).await,
            Backend::Postgres(store) => store.folder(mailbox, folder_id).await,
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
        match &self.backend {
            Backend::Sqlite(store) => store.reconcile(mailbox, folder_id, new_ids, gone_ids).await,
            Backend::Postgres(store) => {
                store.reconcile(mailbox, folder_id, new_ids, gone_ids).await
            }
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
    /// message leaves the folder (`reconcile` with the id among `gone_ids`).
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

/// Seconds since the epoch, as a non-zero u32 (valid until 2106).
fn uid_validity_now() -> u32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    (secs.clamp(1, u32::MAX as u64)) as u32
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
        let mut tasks = Vec::new();
        for round in 0..4 {
            let handle = if round % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let mailbox = mailbox.clone();
            // Each task sees a different slice first, so they race to allocate.
            let mut mine = ids.clone();
            mine.rotate_left(round * 13);
            tasks.push(tokio::spawn(async move {
                handle.reconcile(&mailbox, "F", mine, vec![]).await
            }));
        }
        let mut answers = Vec::new();
        for task in tasks {
            let (uids, _) = task
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            answers.push(uids);
        }
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
}
