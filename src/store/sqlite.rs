//! The embedded uid store: one SQLite file, used from blocking tasks. Write transactions are
//! IMMEDIATE, taking the file's write lock at once, so two handles on one file wait for each
//! other instead of failing to upgrade a read lock. The schema is created or migrated at open,
//! its version kept in `PRAGMA user_version`. The semantics are those of [`super::UidStore`];
//! the SQL is the PostgreSQL backend's wherever the two dialects agree.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{
    allocate, decode_held, decode_state, encode_held, pending_migrations, uid_validity_now,
    FolderChanges, FolderUids, HeldFlags, Migrations, Sighting, StoreError, StoredMessage,
    SyncedFolder, SyncedMessage, UidValidities,
};

#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    connection: Arc<Mutex<Connection>>,
}

/// The schema, step by step (see [`super::Migrations`]); the version reached is kept in
/// `PRAGMA user_version`.
const MIGRATIONS: Migrations = [
    // 1: UIDs, sizes, \Deleted marks, subscriptions.
    "
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
CREATE TABLE IF NOT EXISTS deleted (
    mailbox    TEXT NOT NULL,
    folder_id  TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (mailbox, folder_id, message_id)
);
CREATE TABLE IF NOT EXISTS subscriptions (
    mailbox    TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    subscribed BOOLEAN NOT NULL,
    PRIMARY KEY (mailbox, name)
);
",
    // 2: delta-sync state: the folder's deltaLink, each message's state as JSON.
    "
ALTER TABLE folders ADD COLUMN delta_link TEXT;
ALTER TABLE messages ADD COLUMN state TEXT;
",
    // 3: each mailbox's UIDVALIDITY counters, from the folders it has.
    "
CREATE TABLE uid_validities (
    mailbox         TEXT    NOT NULL PRIMARY KEY,
    highest         INTEGER NOT NULL,
    highest_created INTEGER NOT NULL
);
INSERT INTO uid_validities (mailbox, highest, highest_created)
SELECT mailbox, MAX(uid_validity), 0 FROM folders GROUP BY mailbox;
",
    // 4: each folder's \Recent claim: the highest UID some session has seen as recent. Messages
    // a store already knew before this step are not recent to anyone.
    "
ALTER TABLE folders ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 0;
UPDATE folders SET recent_uid = next_uid - 1;
",
    // 5: flags Graph cannot hold, kept per message as JSON (`super::HeldFlags`).
    "
CREATE TABLE held_flags (
    mailbox    TEXT NOT NULL,
    folder_id  TEXT NOT NULL,
    message_id TEXT NOT NULL,
    flags      TEXT NOT NULL,
    PRIMARY KEY (mailbox, folder_id, message_id)
);
",
    // 6: exact records of appended messages (`crate::exact`), by Graph id (a MOVE keeps it).
    "
CREATE TABLE exact_records (
    mailbox    TEXT    NOT NULL,
    message_id TEXT    NOT NULL,
    kind       INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (mailbox, message_id)
);
",
];

impl SqliteStore {
    /// Opens (creating if needed) the SQLite file and its schema.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let wrap = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).ok();
        }
        let mut connection = Connection::open(path).map_err(wrap)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(wrap)?;
        connection
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(wrap)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(wrap)?;
        migrate(&mut connection, path).map_err(|err| match err {
            Migration::Sqlite(source) => wrap(source),
            Migration::Refused(err) => err,
        })?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            connection: Arc::new(Mutex::new(connection)),
        })
    }
}

enum Migration {
    Sqlite(rusqlite::Error),
    Refused(StoreError),
}

impl From<rusqlite::Error> for Migration {
    fn from(err: rusqlite::Error) -> Self {
        Migration::Sqlite(err)
    }
}

/// Brings the file's schema to [`super::SCHEMA_VERSION`] in one IMMEDIATE transaction, so a second
/// process opening the file at the same time waits and then finds the work done.
fn migrate(connection: &mut Connection, path: &Path) -> Result<(), Migration> {
    let tx = connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let found: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let pending =
        pending_migrations(&MIGRATIONS, found, path.display()).map_err(Migration::Refused)?;
    for (version, sql) in pending {
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the version is a number of ours.
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
    }
    tx.commit()?;
    Ok(())
}

/// The folder's (UIDVALIDITY, next UID), its record made first when there is none, with a
/// UIDVALIDITY from the mailbox's counters. In an IMMEDIATE transaction: the file's write lock
/// makes the allocation atomic.
fn ensure_folder(
    tx: &Transaction<'_>,
    mailbox: &str,
    folder_id: &str,
    sighting: Sighting,
) -> Result<Result<(u32, i64), StoreError>, rusqlite::Error> {
    let read = |tx: &Transaction<'_>| {
        tx.query_row(
            "SELECT uid_validity, next_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
            params![mailbox, folder_id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
    };
    if let Some(folder) = read(tx)? {
        return Ok(Ok(folder));
    }
    let counters = tx
        .query_row(
            "SELECT highest, highest_created FROM uid_validities WHERE mailbox = $1",
            params![mailbox],
            |row| {
                Ok(UidValidities {
                    highest: row.get(0)?,
                    highest_created: row.get(1)?,
                })
            },
        )
        .optional()?
        .unwrap_or_default();
    let (uid_validity, after) = match counters.allocate(uid_validity_now(), sighting, mailbox) {
        Ok(allocated) => allocated,
        Err(exhausted) => return Ok(Err(exhausted)),
    };
    tx.execute(
        "INSERT INTO uid_validities (mailbox, highest, highest_created) VALUES ($1, $2, $3)
         ON CONFLICT (mailbox) DO UPDATE
         SET highest = excluded.highest, highest_created = excluded.highest_created",
        params![mailbox, after.highest, after.highest_created],
    )?;
    tx.execute(
        "INSERT INTO folders (mailbox, folder_id, uid_validity, next_uid) VALUES ($1, $2, $3, 1)",
        params![mailbox, folder_id, uid_validity],
    )?;
    Ok(Ok((uid_validity, 1)))
}

impl SqliteStore {
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

    pub async fn folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        sighting: Sighting,
    ) -> Result<FolderUids, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let (uid_validity, next_uid) = match ensure_folder(&tx, &mailbox, &folder_id, sighting)?
            {
                Ok(folder) => folder,
                Err(exhausted) => return Ok(Err(exhausted)),
            };
            tx.commit()?;
            Ok(Ok(FolderUids {
                uid_validity,
                uid_next: next_uid as u32,
            }))
        })
        .await?
    }

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

    pub async fn change_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        changes: FolderChanges,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let (uid_validity, next_uid) =
                match ensure_folder(&tx, &mailbox, &folder_id, Sighting::Seen)? {
                    Ok(folder) => folder,
                    Err(exhausted) => return Ok(Err(exhausted)),
                };
            // Id lists travel as one JSON array parameter, read back with json_each.
            let id_list = |ids: &[&str]| serde_json::Value::from(ids).to_string();
            if !changes.forget.is_empty() {
                let forget: Vec<&str> = changes.forget.iter().map(String::as_str).collect();
                for table in ["messages", "deleted", "held_flags"] {
                    tx.execute(
                        &format!(
                            "DELETE FROM {table} WHERE mailbox = $1 AND folder_id = $2
                             AND message_id IN (SELECT value FROM json_each($3))"
                        ),
                        params![mailbox, folder_id, id_list(&forget)],
                    )?;
                }
            }
            let present = id_list(&changes.present_ids());
            if changes.only_present {
                for table in ["messages", "deleted", "held_flags"] {
                    tx.execute(
                        &format!(
                            "DELETE FROM {table} WHERE mailbox = $1 AND folder_id = $2
                             AND message_id NOT IN (SELECT value FROM json_each($3))"
                        ),
                        params![mailbox, folder_id, present],
                    )?;
                }
            }
            for (message_id, uid) in &changes.renumber {
                tx.execute(
                    "DELETE FROM messages WHERE mailbox = $1 AND folder_id = $2
                     AND message_id = $3 AND uid = $4",
                    params![mailbox, folder_id, message_id, uid],
                )?;
            }
            let existing: HashMap<String, u32> = tx
                .prepare_cached(
                    "SELECT message_id, uid FROM messages WHERE mailbox = $1 AND folder_id = $2
                     AND message_id IN (SELECT value FROM json_each($3))",
                )?
                .query_map(params![mailbox, folder_id, present], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let (originals, copies) = changes.fresh_copies(&existing);
            for (original, copy) in originals.iter().zip(&copies) {
                tx.execute(
                    "INSERT INTO exact_records (mailbox, message_id, kind, data)
                     SELECT mailbox, ?3, kind, data FROM exact_records
                     WHERE mailbox = ?1 AND message_id = ?2
                     ON CONFLICT (mailbox, message_id) DO UPDATE SET kind = excluded.kind, data = excluded.data",
                    params![mailbox, original, copy],
                )?;
            }
            let allocation = match allocate(changes.present, &existing, next_uid, &folder_id) {
                Ok(allocation) => allocation,
                Err(exhausted) => return Ok(Err(exhausted)),
            };
            {
                let mut write = tx.prepare_cached(
                    "INSERT INTO messages (mailbox, folder_id, message_id, uid, state)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (mailbox, folder_id, message_id) DO UPDATE SET state = excluded.state",
                )?;
                for row in &allocation.writes {
                    write.execute(params![mailbox, folder_id, row.id, row.uid, row.state])?;
                }
            }
            tx.execute(
                "UPDATE folders SET next_uid = $1, delta_link = COALESCE($2, delta_link)
                 WHERE mailbox = $3 AND folder_id = $4",
                params![allocation.next_uid, changes.delta_link, mailbox, folder_id],
            )?;
            tx.commit()?;
            Ok(Ok((
                allocation.uids,
                FolderUids {
                    uid_validity,
                    uid_next: allocation.next_uid as u32,
                },
            )))
        })
        .await?
    }

    pub async fn synced_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<Option<SyncedFolder>, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            // One read transaction: the folder and its messages as of one moment.
            let tx = conn.transaction()?;
            let folder: Option<(u32, u32, Option<String>)> = tx
                .query_row(
                    "SELECT uid_validity, next_uid, delta_link FROM folders
                     WHERE mailbox = $1 AND folder_id = $2",
                    params![mailbox, folder_id],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()?;
            let Some((uid_validity, uid_next, Some(delta_link))) = folder else {
                return Ok(None);
            };
            let messages = tx
                .prepare_cached(
                    "SELECT message_id, uid, size, state FROM messages
                     WHERE mailbox = $1 AND folder_id = $2 ORDER BY uid",
                )?
                .query_map(params![mailbox, folder_id], |row| {
                    Ok(SyncedMessage {
                        id: row.get(0)?,
                        uid: row.get(1)?,
                        size: row.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                        state: decode_state(row.get(3)?),
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(Some(SyncedFolder {
                uids: FolderUids {
                    uid_validity,
                    uid_next,
                },
                delta_link,
                messages,
            }))
        })
        .await
    }

    pub async fn set_sizes(
        &self,
        mailbox: &str,
        folder_id: &str,
        sizes: Vec<(String, u64)>,
    ) -> Result<(), StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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

    pub async fn claim_recent(
        &self,
        mailbox: &str,
        folder_id: &str,
        through: u32,
    ) -> Result<u32, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let claimed: i64 = tx
                .query_row(
                    "SELECT recent_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
                    params![mailbox, folder_id],
                    |row| row.get(0),
                )
                .optional()?
                .unwrap_or(0);
            tx.execute(
                "UPDATE folders SET recent_uid = MAX(recent_uid, ?3) WHERE mailbox = ?1 AND folder_id = ?2",
                params![mailbox, folder_id, through as i64],
            )?;
            tx.commit()?;
            Ok(claimed as u32)
        })
        .await
    }

    pub async fn recent_claimed(&self, mailbox: &str, folder_id: &str) -> Result<u32, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let claimed: Option<i64> = conn
                .query_row(
                    "SELECT recent_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
                    params![mailbox, folder_id],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(claimed.unwrap_or(0) as u32)
        })
        .await
    }

    pub async fn deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT message_id FROM deleted WHERE mailbox = $1 AND folder_id = $2",
            )?;
            let rows = statement.query_map(params![mailbox, folder_id], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn set_deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
        message_ids: Vec<String>,
        deleted: bool,
    ) -> Result<(), StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for message_id in &message_ids {
                if deleted {
                    tx.execute(
                        "INSERT INTO deleted (mailbox, folder_id, message_id) VALUES ($1, $2, $3)
                         ON CONFLICT (mailbox, folder_id, message_id) DO NOTHING",
                        params![mailbox, folder_id, message_id],
                    )?;
                } else {
                    tx.execute(
                        "DELETE FROM deleted WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
                        params![mailbox, folder_id, message_id],
                    )?;
                }
            }
            tx.commit()
        })
        .await
    }

    pub async fn held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, HeldFlags>, StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        let rows: Vec<(String, String)> = self
            .with_connection(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT message_id, flags FROM held_flags WHERE mailbox = $1 AND folder_id = $2",
                )?;
                let rows = statement
                    .query_map(params![mailbox, folder_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect()
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, flags)| (id, decode_held(&flags)))
            .collect())
    }

    pub async fn set_held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
        held: Vec<(String, HeldFlags)>,
    ) -> Result<(), StoreError> {
        let (mailbox, folder_id) = (mailbox.to_string(), folder_id.to_string());
        let held: Vec<(String, Option<String>)> = held
            .into_iter()
            .map(|(id, flags)| (id, (!flags.is_empty()).then(|| encode_held(&flags))))
            .collect();
        self.with_connection(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for (message_id, flags) in &held {
                match flags {
                    Some(flags) => tx.execute(
                        "INSERT INTO held_flags (mailbox, folder_id, message_id, flags)
                         VALUES ($1, $2, $3, $4)
                         ON CONFLICT (mailbox, folder_id, message_id) DO UPDATE SET flags = $4",
                        params![mailbox, folder_id, message_id, flags],
                    )?,
                    None => tx.execute(
                        "DELETE FROM held_flags WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
                        params![mailbox, folder_id, message_id],
                    )?,
                };
            }
            tx.commit()
        })
        .await
    }

    /// The records of these messages (of that kind only, when given).
    pub async fn exact_records_of(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
        kind: Option<i16>,
    ) -> Result<Vec<(String, i16, Vec<u8>)>, StoreError> {
        let mailbox = mailbox.to_string();
        let ids = serde_json::Value::from(message_ids).to_string();
        self.with_connection(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT message_id, kind, data FROM exact_records WHERE mailbox = ?1
                 AND message_id IN (SELECT value FROM json_each(?2))
                 AND (?3 IS NULL OR kind = ?3)",
            )?;
            let rows = statement.query_map(params![mailbox, ids, kind], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
            rows.collect()
        })
        .await
    }

    pub async fn put_exact(
        &self,
        mailbox: &str,
        message_id: &str,
        kind: i16,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let (mailbox, message_id) = (mailbox.to_string(), message_id.to_string());
        self.with_connection(move |conn| {
            conn.execute(
                "INSERT INTO exact_records (mailbox, message_id, kind, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mailbox, message_id) DO UPDATE SET kind = excluded.kind, data = excluded.data",
                params![mailbox, message_id, kind, data],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn exact_orphans(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let mailbox = mailbox.to_string();
        let ids = serde_json::Value::from(message_ids).to_string();
        self.with_connection(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT r.message_id FROM exact_records r WHERE r.mailbox = ?1
                 AND r.message_id IN (SELECT value FROM json_each(?2))
                 AND NOT EXISTS (SELECT 1 FROM messages m
                                 WHERE m.mailbox = r.mailbox AND m.message_id = r.message_id)",
            )?;
            let rows = statement.query_map(params![mailbox, ids], |row| row.get(0))?;
            rows.collect()
        })
        .await
    }

    pub async fn drop_exact(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let mailbox = mailbox.to_string();
        let ids = serde_json::Value::from(message_ids).to_string();
        self.with_connection(move |conn| {
            conn.execute(
                "DELETE FROM exact_records WHERE mailbox = $1
                 AND message_id IN (SELECT value FROM json_each($2))",
                params![mailbox, ids],
            )
            .map(|_| ())
        })
        .await
    }

    pub async fn check(&self) -> Result<(), StoreError> {
        self.with_connection(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
            .await
    }

    pub async fn subscriptions(&self, mailbox: &str) -> Result<HashMap<String, bool>, StoreError> {
        let mailbox = mailbox.to_string();
        self.with_connection(move |conn| {
            let mut statement = conn
                .prepare_cached("SELECT name, subscribed FROM subscriptions WHERE mailbox = $1")?;
            let rows =
                statement.query_map(params![mailbox], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
        .await
    }

    pub async fn set_subscription(
        &self,
        mailbox: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let (mailbox, name) = (mailbox.to_string(), name.to_string());
        self.with_connection(move |conn| {
            conn.execute(
                "INSERT INTO subscriptions (mailbox, name, subscribed) VALUES ($1, $2, $3)
                 ON CONFLICT (mailbox, name) DO UPDATE SET subscribed = excluded.subscribed",
                params![mailbox, name, subscribed],
            )
            .map(|_| ())
        })
        .await
    }
}
