//! The shared uid store: a PostgreSQL database used by every gateway instance behind a load
//! balancer. Same tables and meaning as the SQLite store (UIDs as BIGINT, since they are
//! unsigned 32-bit); allocation locks the folder's row (`SELECT … FOR UPDATE`), so two
//! instances never give one UID twice and agree on every message's UID. The schema is created
//! or migrated at start, under an advisory lock.
//!
//! Connections use TLS as `sslmode` in `store.url` says, with libpq's meanings (`tls`).

mod tls;

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::IsolationLevel;

use super::{
    allocate, decode_held, decode_state, encode_held, pending_migrations, uid_validity_now,
    FolderChanges, FolderUids, HeldFlags, Migrations, Sighting, StoreError, StoredMessage,
    SyncedFolder, SyncedMessage, UidValidities,
};

/// The schema, step by step (see [`super::Migrations`]); the version reached is kept in the
/// one-row table `schema_version`.
const MIGRATIONS: Migrations = [
    // 1: UIDs, sizes, \Deleted marks, subscriptions.
    "
CREATE TABLE IF NOT EXISTS folders (
    mailbox      TEXT   NOT NULL,
    folder_id    TEXT   NOT NULL,
    uid_validity BIGINT NOT NULL,
    next_uid     BIGINT NOT NULL,
    PRIMARY KEY (mailbox, folder_id)
);
CREATE TABLE IF NOT EXISTS messages (
    mailbox    TEXT   NOT NULL,
    folder_id  TEXT   NOT NULL,
    message_id TEXT   NOT NULL,
    uid        BIGINT NOT NULL,
    size       BIGINT,
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
    mailbox         TEXT   NOT NULL PRIMARY KEY,
    highest         BIGINT NOT NULL,
    highest_created BIGINT NOT NULL
);
INSERT INTO uid_validities (mailbox, highest, highest_created)
SELECT mailbox, MAX(uid_validity), 0 FROM folders GROUP BY mailbox;
",
    // 4: each folder's \Recent claim: the highest UID some session has seen as recent. Messages
    // a store already knew before this step are not recent to anyone.
    "
ALTER TABLE folders ADD COLUMN recent_uid BIGINT NOT NULL DEFAULT 0;
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
    mailbox    TEXT     NOT NULL,
    message_id TEXT     NOT NULL,
    kind       SMALLINT NOT NULL,
    data       BYTEA    NOT NULL,
    PRIMARY KEY (mailbox, message_id)
);
",
];

/// Where the schema's version is kept; a database made before versions were recorded has no
/// row (version 0).
const VERSION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version  INTEGER NOT NULL
);
";

/// The advisory lock key under which instances change the schema (the same key versions before
/// the migration list took, so they wait for each other too).
const SCHEMA_LOCK: i64 = 4242;

/// Connections kept open per gateway instance.
const POOL_SIZE: usize = 8;

#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

/// The error with its causes, so a refused TLS handshake says why (tokio-postgres and the
/// pool keep the reason in the source chain; none of them holds the URL).
fn pg_error(err: impl std::error::Error) -> StoreError {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    StoreError::Postgres(text)
}

/// Brings the database's schema to [`super::SCHEMA_VERSION`] in one transaction (PostgreSQL's DDL is
/// transactional), holding an advisory lock so instances starting together migrate one at a
/// time and the later ones find the work done.
async fn migrate(client: &mut tokio_postgres::Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .await
        .map_err(pg_error)?;
    tx.batch_execute(VERSION_TABLE).await.map_err(pg_error)?;
    let found: i32 = tx
        .query_opt("SELECT version FROM schema_version", &[])
        .await
        .map_err(pg_error)?
        .map_or(0, |row| row.get(0));
    let pending = pending_migrations(&MIGRATIONS, found.into(), "(PostgreSQL)")?;
    let mut reached = None;
    for (version, sql) in pending {
        tx.batch_execute(sql).await.map_err(pg_error)?;
        reached = Some(version);
    }
    if let Some(version) = reached {
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)
             ON CONFLICT (only_row) DO UPDATE SET version = excluded.version",
            &[&(version as i32)],
        )
        .await
        .map_err(pg_error)?;
    }
    tx.commit().await.map_err(pg_error)
}

/// The folder's (UIDVALIDITY, next UID), its row locked until `tx` ends; the row is made
/// first when there is none, with a UIDVALIDITY from the mailbox's counters, whose row lock
/// makes the allocation atomic across instances. Locks are taken counters first, then folder,
/// so two instances meeting a new folder wait for each other instead of deadlocking; the
/// later one finds the row made (the value it allocated is skipped, the counters still cover
/// it).
async fn ensure_folder(
    tx: &tokio_postgres::Transaction<'_>,
    mailbox: &str,
    folder_id: &str,
    sighting: Sighting,
) -> Result<(u32, i64), StoreError> {
    let lock_folder = || async {
        tx.query_opt(
            "SELECT uid_validity, next_uid FROM folders
             WHERE mailbox = $1 AND folder_id = $2 FOR UPDATE",
            &[&mailbox, &folder_id],
        )
        .await
        .map_err(pg_error)
        .map(|row| row.map(|row| (row.get::<_, i64>(0) as u32, row.get::<_, i64>(1))))
    };
    if let Some(folder) = lock_folder().await? {
        return Ok(folder);
    }
    tx.execute(
        "INSERT INTO uid_validities (mailbox, highest, highest_created) VALUES ($1, 0, 0)
         ON CONFLICT (mailbox) DO NOTHING",
        &[&mailbox],
    )
    .await
    .map_err(pg_error)?;
    let row = tx
        .query_one(
            "SELECT highest, highest_created FROM uid_validities WHERE mailbox = $1 FOR UPDATE",
            &[&mailbox],
        )
        .await
        .map_err(pg_error)?;
    let counters = UidValidities {
        highest: row.get(0),
        highest_created: row.get(1),
    };
    let (uid_validity, after) = counters.allocate(uid_validity_now(), sighting, mailbox)?;
    tx.execute(
        "UPDATE uid_validities SET highest = $1, highest_created = $2 WHERE mailbox = $3",
        &[&after.highest, &after.highest_created, &mailbox],
    )
    .await
    .map_err(pg_error)?;
    tx.execute(
        "INSERT INTO folders (mailbox, folder_id, uid_validity, next_uid)
         VALUES ($1, $2, $3, 1) ON CONFLICT (mailbox, folder_id) DO NOTHING",
        &[&mailbox, &folder_id, &i64::from(uid_validity)],
    )
    .await
    .map_err(pg_error)?;
    lock_folder()
        .await?
        .ok_or_else(|| StoreError::Postgres(format!("folder {folder_id}: row not made")))
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore, StoreError> {
        // Errors never repeat the URL: it may hold a password.
        let url = tls::PostgresUrl::parse(url).map_err(StoreError::Postgres)?;
        let config: tokio_postgres::Config = url
            .url
            .parse()
            .map_err(|_| StoreError::Postgres("store.url is not a valid PostgreSQL URL".into()))?;
        let connector = url.connector().map_err(StoreError::Postgres)?;
        let manager = Manager::from_config(
            config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(pg_error)?;
        let mut client = pool.get().await.map_err(pg_error)?;
        migrate(&mut client).await?;
        Ok(PostgresStore { pool })
    }

    pub async fn folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        sighting: Sighting,
    ) -> Result<FolderUids, StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let (uid_validity, next_uid) = ensure_folder(&tx, mailbox, folder_id, sighting).await?;
        tx.commit().await.map_err(pg_error)?;
        Ok(FolderUids {
            uid_validity,
            uid_next: next_uid as u32,
        })
    }

    pub async fn messages(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, StoredMessage>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT message_id, uid, size FROM messages WHERE mailbox = $1 AND folder_id = $2",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get::<_, String>(0),
                    StoredMessage {
                        uid: row.get::<_, i64>(1) as u32,
                        size: row.get::<_, Option<i64>>(2).map(|s| s as u64),
                    },
                )
            })
            .collect())
    }

    pub async fn change_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
        changes: FolderChanges,
    ) -> Result<(HashMap<String, u32>, FolderUids), StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // The folder's row lock serialises allocation in this folder across every instance.
        let (uid_validity, next_uid) =
            ensure_folder(&tx, mailbox, folder_id, Sighting::Seen).await?;
        // Every id list goes as one array parameter: one round trip per statement, whatever
        // the number of messages.
        if !changes.forget.is_empty() {
            for table in ["messages", "deleted", "held_flags"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE mailbox = $1 AND folder_id = $2
                         AND message_id = ANY($3)"
                    ),
                    &[&mailbox, &folder_id, &changes.forget],
                )
                .await
                .map_err(pg_error)?;
            }
        }
        let present = changes.present_ids();
        if changes.only_present {
            for table in ["messages", "deleted", "held_flags"] {
                tx.execute(
                    &format!(
                        "DELETE FROM {table} WHERE mailbox = $1 AND folder_id = $2
                         AND message_id NOT IN (SELECT UNNEST($3::TEXT[]))"
                    ),
                    &[&mailbox, &folder_id, &present],
                )
                .await
                .map_err(pg_error)?;
            }
        }
        for (message_id, uid) in &changes.renumber {
            tx.execute(
                "DELETE FROM messages WHERE mailbox = $1 AND folder_id = $2
                 AND message_id = $3 AND uid = $4",
                &[&mailbox, &folder_id, message_id, &i64::from(*uid)],
            )
            .await
            .map_err(pg_error)?;
        }
        let existing: HashMap<String, u32> = tx
            .query(
                "SELECT message_id, uid FROM messages
                 WHERE mailbox = $1 AND folder_id = $2 AND message_id = ANY($3)",
                &[&mailbox, &folder_id, &present],
            )
            .await
            .map_err(pg_error)?
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, i64>(1) as u32))
            .collect();
        let (originals, copies) = changes.fresh_copies(&existing);
        if !copies.is_empty() {
            tx.execute(
                "INSERT INTO exact_records (mailbox, message_id, kind, data)
                 SELECT r.mailbox, c.copy, r.kind, r.data
                 FROM UNNEST($2::TEXT[], $3::TEXT[]) AS c (original, copy)
                 JOIN exact_records r ON r.mailbox = $1 AND r.message_id = c.original
                 ON CONFLICT (mailbox, message_id) DO UPDATE SET kind = excluded.kind, data = excluded.data",
                &[&mailbox, &originals, &copies],
            )
            .await
            .map_err(pg_error)?;
        }
        let allocation = allocate(changes.present, &existing, next_uid, folder_id)?;
        if !allocation.writes.is_empty() {
            let ids: Vec<&str> = allocation.writes.iter().map(|w| w.id.as_str()).collect();
            let uids: Vec<i64> = allocation.writes.iter().map(|w| w.uid.into()).collect();
            let states: Vec<Option<&str>> = allocation
                .writes
                .iter()
                .map(|w| w.state.as_deref())
                .collect();
            tx.execute(
                "INSERT INTO messages (mailbox, folder_id, message_id, uid, state)
                 SELECT $1::TEXT, $2::TEXT, w.id, w.uid, w.state
                 FROM UNNEST($3::TEXT[], $4::BIGINT[], $5::TEXT[]) AS w (id, uid, state)
                 ON CONFLICT (mailbox, folder_id, message_id) DO UPDATE SET state = excluded.state",
                &[&mailbox, &folder_id, &ids, &uids, &states],
            )
            .await
            .map_err(pg_error)?;
        }
        tx.execute(
            "UPDATE folders SET next_uid = $1, delta_link = COALESCE($2, delta_link)
             WHERE mailbox = $3 AND folder_id = $4",
            &[
                &allocation.next_uid,
                &changes.delta_link,
                &mailbox,
                &folder_id,
            ],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok((
            allocation.uids,
            FolderUids {
                uid_validity,
                uid_next: allocation.next_uid as u32,
            },
        ))
    }

    pub async fn synced_folder(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<Option<SyncedFolder>, StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        // One snapshot: the folder and its messages as of one moment.
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(pg_error)?;
        let folder = tx
            .query_opt(
                "SELECT uid_validity, next_uid, delta_link FROM folders
                 WHERE mailbox = $1 AND folder_id = $2",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?;
        let Some(folder) = folder else {
            return Ok(None);
        };
        let Some(delta_link) = folder.get::<_, Option<String>>(2) else {
            return Ok(None);
        };
        let messages = tx
            .query(
                "SELECT message_id, uid, size, state FROM messages
                 WHERE mailbox = $1 AND folder_id = $2 ORDER BY uid",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?
            .into_iter()
            .map(|row| SyncedMessage {
                id: row.get(0),
                uid: row.get::<_, i64>(1) as u32,
                size: row.get::<_, Option<i64>>(2).map(|s| s as u64),
                state: decode_state(row.get(3)),
            })
            .collect();
        tx.commit().await.map_err(pg_error)?;
        Ok(Some(SyncedFolder {
            uids: FolderUids {
                uid_validity: folder.get::<_, i64>(0) as u32,
                uid_next: folder.get::<_, i64>(1) as u32,
            },
            delta_link,
            messages,
        }))
    }

    pub async fn set_sizes(
        &self,
        mailbox: &str,
        folder_id: &str,
        sizes: Vec<(String, u64)>,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let update = tx
            .prepare(
                "UPDATE messages SET size = $1 WHERE mailbox = $2 AND folder_id = $3 AND message_id = $4",
            )
            .await
            .map_err(pg_error)?;
        for (message_id, size) in &sizes {
            tx.execute(
                &update,
                &[&(*size as i64), &mailbox, &folder_id, message_id],
            )
            .await
            .map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)
    }

    pub async fn claim_recent(
        &self,
        mailbox: &str,
        folder_id: &str,
        through: u32,
    ) -> Result<u32, StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        // The row lock makes claims of one folder take turns across instances.
        let claimed: i64 = tx
            .query_opt(
                "SELECT recent_uid FROM folders WHERE mailbox = $1 AND folder_id = $2 FOR UPDATE",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?
            .map(|row| row.get(0))
            .unwrap_or(0);
        tx.execute(
            "UPDATE folders SET recent_uid = GREATEST(recent_uid, $3) WHERE mailbox = $1 AND folder_id = $2",
            &[&mailbox, &folder_id, &(through as i64)],
        )
        .await
        .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(claimed as u32)
    }

    pub async fn recent_claimed(&self, mailbox: &str, folder_id: &str) -> Result<u32, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let claimed: Option<i64> = client
            .query_opt(
                "SELECT recent_uid FROM folders WHERE mailbox = $1 AND folder_id = $2",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?
            .map(|row| row.get(0));
        Ok(claimed.unwrap_or(0) as u32)
    }

    pub async fn deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashSet<String>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT message_id FROM deleted WHERE mailbox = $1 AND folder_id = $2",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
    }

    pub async fn set_deleted(
        &self,
        mailbox: &str,
        folder_id: &str,
        message_ids: Vec<String>,
        deleted: bool,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        if deleted {
            client
                .execute(
                    "INSERT INTO deleted (mailbox, folder_id, message_id)
                     SELECT $1::TEXT, $2::TEXT, UNNEST($3::TEXT[])
                     ON CONFLICT (mailbox, folder_id, message_id) DO NOTHING",
                    &[&mailbox, &folder_id, &message_ids],
                )
                .await
                .map_err(pg_error)?;
        } else {
            client
                .execute(
                    "DELETE FROM deleted WHERE mailbox = $1 AND folder_id = $2 AND message_id = ANY($3)",
                    &[&mailbox, &folder_id, &message_ids],
                )
                .await
                .map_err(pg_error)?;
        }
        Ok(())
    }

    pub async fn held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
    ) -> Result<HashMap<String, HeldFlags>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT message_id, flags FROM held_flags WHERE mailbox = $1 AND folder_id = $2",
                &[&mailbox, &folder_id],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), decode_held(row.get(1))))
            .collect())
    }

    pub async fn set_held_flags(
        &self,
        mailbox: &str,
        folder_id: &str,
        held: Vec<(String, HeldFlags)>,
    ) -> Result<(), StoreError> {
        let mut client = self.pool.get().await.map_err(pg_error)?;
        let tx = client.transaction().await.map_err(pg_error)?;
        for (message_id, flags) in &held {
            if flags.is_empty() {
                tx.execute(
                    "DELETE FROM held_flags WHERE mailbox = $1 AND folder_id = $2 AND message_id = $3",
                    &[&mailbox, &folder_id, message_id],
                )
                .await
                .map_err(pg_error)?;
            } else {
                tx.execute(
                    "INSERT INTO held_flags (mailbox, folder_id, message_id, flags)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (mailbox, folder_id, message_id) DO UPDATE SET flags = $4",
                    &[&mailbox, &folder_id, message_id, &encode_held(flags)],
                )
                .await
                .map_err(pg_error)?;
            }
        }
        tx.commit().await.map_err(pg_error)
    }

    /// The records of these messages (of that kind only, when given).
    pub async fn exact_records_of(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
        kind: Option<i16>,
    ) -> Result<Vec<(String, i16, Vec<u8>)>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT message_id, kind, data FROM exact_records
                 WHERE mailbox = $1 AND message_id = ANY($2)
                 AND ($3::SMALLINT IS NULL OR kind = $3)",
                &[&mailbox, &message_ids, &kind],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect())
    }

    pub async fn put_exact(
        &self,
        mailbox: &str,
        message_id: &str,
        kind: i16,
        data: Vec<u8>,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        client
            .execute(
                "INSERT INTO exact_records (mailbox, message_id, kind, data) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (mailbox, message_id) DO UPDATE SET kind = excluded.kind, data = excluded.data",
                &[&mailbox, &message_id, &kind, &data],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub async fn exact_orphans(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT r.message_id FROM exact_records r
                 WHERE r.mailbox = $1 AND r.message_id = ANY($2)
                 AND NOT EXISTS (SELECT 1 FROM messages m
                                 WHERE m.mailbox = r.mailbox AND m.message_id = r.message_id)",
                &[&mailbox, &message_ids],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub async fn drop_exact(
        &self,
        mailbox: &str,
        message_ids: Vec<String>,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        client
            .execute(
                "DELETE FROM exact_records WHERE mailbox = $1 AND message_id = ANY($2)",
                &[&mailbox, &message_ids],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub async fn check(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        client.execute("SELECT 1", &[]).await.map_err(pg_error)?;
        Ok(())
    }

    pub async fn subscriptions(&self, mailbox: &str) -> Result<HashMap<String, bool>, StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        let rows = client
            .query(
                "SELECT name, subscribed FROM subscriptions WHERE mailbox = $1",
                &[&mailbox],
            )
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, bool>(1)))
            .collect())
    }

    pub async fn set_subscription(
        &self,
        mailbox: &str,
        name: &str,
        subscribed: bool,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(pg_error)?;
        client
            .execute(
                "INSERT INTO subscriptions (mailbox, name, subscribed) VALUES ($1, $2, $3)
                 ON CONFLICT (mailbox, name) DO UPDATE SET subscribed = excluded.subscribed",
                &[&mailbox, &name, &subscribed],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }
}
