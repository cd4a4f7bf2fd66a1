//! The embedded uid store: one SQLite file, used from blocking tasks. Write transactions are
//! IMMEDIATE, taking the file's write lock at once, so two handles on one file wait for each
//! other instead of failing to upgrade a read lock. The semantics are those
//! of [`super::UidStore`]; the SQL is the PostgreSQL backend's wherever the two dialects agree.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    pending_migrations, uid_validity_now, FolderUids, Migrations, StoreError, StoredMessage,
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
                let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
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
                    tx.execute(
                        "DELETE FROM deleted WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
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
