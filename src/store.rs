//! Owns the uid store: the only durable state of the gateway.
//!
//! Per folder it keeps UIDVALIDITY and the next UID; per message the (folder, Graph id) → UID map
//! and facts learned once and worth keeping (the exact RFC822.SIZE). UIDs are allocated here,
//! atomically, in the order the caller gives (ascending receivedDateTime), and never reused: a
//! message that disappears takes its UID with it, and `next_uid` only grows.
//!
//! The embedded store is one SQLite file used from blocking tasks; SQL is kept to what PostgreSQL
//! accepts too (`$n` placeholders in order, `ON CONFLICT`), so a shared store can follow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("uid store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("uid store task failed: {0}")]
    Task(String),
    #[error("uid store: folder {0} has run out of UIDs")]
    UidsExhausted(String),
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
pub struct UidStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS folders (
    mailbox      TEXT    NOT NULL,
    folder_id    TEXT    NOT NULL,
    uid_validity INTEGER NOT NULL,
    next_uid     INTEGER NOT NULL,
    PRIMARY KEY (mailbox, folder_id)
);
CREATE TABLE IF NOT EXISTS messages (
    mailbox    TEXT    NOT NULL,
    folder_id  TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    uid        INTEGER NOT NULL,
    size       INTEGER,
    PRIMARY KEY (mailbox, folder_id, message_id),
    UNIQUE (mailbox, folder_id, uid)
);
";

impl UidStore {
    /// Opens (creating if needed) the SQLite file and its schema.
    pub fn open(path: &Path) -> Result<UidStore, StoreError> {
        let wrap = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).ok();
        }
        let connection = Connection::open(path).map_err(wrap)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        connection.execute_batch(SCHEMA).map_err(wrap)?;
        Ok(UidStore {
            path: path.to_path_buf(),
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    async fn with_connection<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = connection
                .lock()
                .map_err(|_| StoreError::Task("connection lock poisoned".into()))?;
            work(&mut guard).map_err(|source| StoreError::Sqlite { path, source })
        })
        .await
        .map_err(|err| StoreError::Task(err.to_string()))?
    }

    /// The folder's UIDVALIDITY and UIDNEXT, creating the folder's record at first sight.
    /// UIDVALIDITY is the time of first sight, so a folder recreated after the store was lost
    /// gets a larger one and clients resynchronise (RFC 3501 2.3.1.1).
    pub async fn folder(&self, mailbox: &str, folder_id: &str) -> Result<FolderUids, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let fresh_validity = uid_validity_now();
            conn.execute(
                "INSERT INTO folders (mailbox, folder_id, uid_validity, next_uid)
                 VALUES ($1, $2, $3, 1) ON CONFLICT (mailbox, folder_id) DO NOTHING",
                params![mailbox, folder_id, fresh_validity],
            )?;
            conn.query_row(
                "SELECT uid_validity, next_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
                params![mailbox, folder_id],
                |row| {
                    Ok(FolderUids {
                        uid_validity: row.get(0)?,
                        uid_next: row.get(1)?,
                    })
                },
            )
        })
        .await
    }

    /// Every message the store knows in the folder, by Graph id.
    pub async fn messages(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, StoredMessage>, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT message_id, uid, size FROM messages WHERE mailbox = $1 AND folder_id = $2",
            )?;
            let rows = statement.query_map(params![mailbox, folder_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    StoredMessage {
                        uid: row.get(1)?,
                        size: row.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                    },
                ))
            })?;
            rows.collect()
        })
        .await
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
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        let exhausted_folder = folder_id.clone();
        let result = self
            .with_connection(move |conn| {
                let tx = conn.transaction()?;
                tx.execute(
                    "INSERT INTO folders (mailbox, folder_id, uid_validity, next_uid)
                     VALUES ($1, $2, $3, 1) ON CONFLICT (mailbox, folder_id) DO NOTHING",
                    params![mailbox, folder_id, uid_validity_now()],
                )?;
                let (uid_validity, mut next_uid): (u32, i64) = tx.query_row(
                    "SELECT uid_validity, next_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
                    params![mailbox, folder_id],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )?;
                for id in &gone_ids {
                    tx.execute(
                        "DELETE FROM messages WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
                        params![mailbox, folder_id, id],
                    )?;
                }
                let mut assigned = HashMap::with_capacity(new_ids.len());
                for id in new_ids {
                    let existing: Option<u32> = tx
                        .query_row(
                            "SELECT uid FROM messages WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
                            params![mailbox, folder_id, id],
                            |row| row.get(0),
                        )
                        .optional()?;
                    let uid = match existing {
                        Some(uid) => uid,
                        None => {
                            if next_uid > u32::MAX as i64 {
                                return Ok(None);
                            }
                            let uid = next_uid as u32;
                            tx.execute(
                                "INSERT INTO messages (mailbox, folder_id, message_id, uid) VALUES ($1, $2, $3, $4)",
                                params![mailbox, folder_id, id, uid],
                            )?;
                            next_uid += 1;
                            uid
                        }
                    };
                    assigned.insert(id, uid);
                }
                tx.execute(
                    "UPDATE folders SET next_uid = $1 WHERE mailbox = $2 AND folder_id = $3",
                    params![next_uid, mailbox, folder_id],
                )?;
                tx.commit()?;
                Ok(Some((
                    assigned,
                    FolderUids {
                        uid_validity,
                        uid_next: next_uid as u32,
                    },
                )))
            })
            .await?;
        result.ok_or(StoreError::UidsExhausted(exhausted_folder))
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
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction()?;
            for (message_id, size) in &sizes {
                tx.execute(
                    "UPDATE messages SET size = $1 WHERE mailbox = $2 AND folder_id = $3 AND message_id = $4",
                    params![*size as i64, mailbox, folder_id, message_id],
                )?;
            }
            tx.commit()
        })
        .await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uids_are_allocated_in_order_kept_and_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.sqlite");
        let store = UidStore::open(&path).unwrap();
        let (uids, folder) = store
            .reconcile(
                "a@x.example",
                "F1",
                vec!["m1".into(), "m2".into(), "m3".into()],
                vec![],
            )
            .await
            .unwrap();
        assert_eq!((uids["m1"], uids["m2"], uids["m3"]), (1, 2, 3));
        assert_eq!(folder.uid_next, 4);
        let validity = folder.uid_validity;

        let (uids, folder) = store
            .reconcile(
                "a@x.example",
                "F1",
                vec!["m2".into(), "m4".into()],
                vec!["m3".into()],
            )
            .await
            .unwrap();
        assert_eq!((uids["m2"], uids["m4"]), (2, 4));
        assert_eq!(folder.uid_next, 5);
        store
            .set_sizes("a@x.example", "F1", vec![("m2".into(), 1234)])
            .await
            .unwrap();
        drop(store);

        let reopened = UidStore::open(&path).unwrap();
        let known = reopened.messages("a@x.example", "F1").await.unwrap();
        assert_eq!(known.len(), 3);
        assert_eq!(
            known["m2"],
            StoredMessage {
                uid: 2,
                size: Some(1234)
            }
        );
        assert!(!known.contains_key("m3"));
        let folder = reopened.folder("a@x.example", "F1").await.unwrap();
        assert_eq!(
            folder,
            FolderUids {
                uid_validity: validity,
                uid_next: 5
            }
        );
        // m3 came back (say, moved back): it gets a new UID, never its old one.
        let (uids, _) = reopened
            .reconcile("a@x.example", "F1", vec!["m3".into()], vec![])
            .await
            .unwrap();
        assert_eq!(uids["m3"], 5);
    }

    #[tokio::test]
    async fn folders_and_mailboxes_are_independent() {
        let dir = tempfile::tempdir().unwrap();
        let store = UidStore::open(&dir.path().join("s.sqlite")).unwrap();
        let (a, _) = store
            .reconcile("a@x.example", "F", vec!["m".into()], vec![])
            .await
            .unwrap();
        let (b, _) = store
            .reconcile("b@x.example", "F", vec!["m".into()], vec![])
            .await
            .unwrap();
        let (c, _) = store
            .reconcile("a@x.example", "G", vec!["m".into()], vec![])
            .await
            .unwrap();
        assert_eq!((a["m"], b["m"], c["m"]), (1, 1, 1));
    }
}
