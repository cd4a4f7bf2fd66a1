//! The PostgreSQL uid store, on a real PostgreSQL server: the same conformance checks as the
//! SQLite store, allocation raced from two handles, the migration of a database made before
//! schema versions (and the refusal of a newer one), TLS as `sslmode` says, and two gateway
//! processes sharing one database that give every message the same UID.
//!
//! Needs `IMAP2GRAPH_TEST_POSTGRES`, a URL of a role that may create databases (`.ci/run` sets
//! it up; the README says how to run these tests locally). Each test makes its own database.

mod common;

use imap2graph::config::StoreConfig;
use imap2graph::store::{conformance, FolderSync, FolderUids, MessageState, StoreError, UidStore};

use common::*;

const URL_VARIABLE: &str = "IMAP2GRAPH_TEST_POSTGRES";

/// A fresh database on the test server; its URL.
async fn fresh_database(name_hint: &str) -> String {
    let admin_url = std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{URL_VARIABLE} is not set: these tests need a PostgreSQL server. Set it to a URL \
             such as postgres://imap2graph:imap2graph@127.0.0.1:5432/postgres of a role that \
             may create databases (.ci/run and the README show how)."
        )
    });
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {URL_VARIABLE}: {err}"));
    tokio::spawn(connection);
    let name = format!(
        "i2g_{name_hint}_{}_{}",
        std::process::id(),
        fastrand::u32(..)
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
    let mut config: tokio_postgres::Config = admin_url.parse().expect("valid URL");
    config.dbname(&name);
    // Rebuild a URL from the parts the tests need.
    let user = config.get_user().unwrap_or("postgres").to_string();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let (host, port) = match (config.get_hosts().first(), config.get_ports().first()) {
        (Some(tokio_postgres::config::Host::Tcp(host)), port) => {
            (host.clone(), port.copied().unwrap_or(5432))
        }
        _ => ("127.0.0.1".to_string(), 5432),
    };
    match password {
        Some(password) => format!("postgres://{user}:{password}@{host}:{port}/{name}"),
        None => format!("postgres://{user}@{host}:{port}/{name}"),
    }
}

/// The database a URL made by `fresh_database` names.
fn database_name(url: &str) -> String {
    url.rsplit('/').next().unwrap_or("").to_string()
}

async fn open(url: &str) -> UidStore {
    UidStore::open(&StoreConfig {
        url: Some(url.to_string()),
        ..StoreConfig::default()
    })
    .await
    .unwrap_or_else(|err| panic!("cannot open the PostgreSQL store: {err}"))
}

#[tokio::test]
async fn postgres_store_passes_the_conformance_checks() {
    let url = fresh_database("conformance").await;
    let (first, second) = (open(&url).await, open(&url).await);
    conformance::run(&first, &second, "")
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL store: {err}"));
    conformance::concurrent(&first, &second, "")
        .await
        .unwrap_or_else(|err| panic!("PostgreSQL store under concurrency: {err}"));
}

/// The tables as the gateway made them before schema versions were recorded (version 1, no
/// `schema_version` table), written out here so a change to the migrations cannot hide a break.
const VERSION_1_SQL: &str = "
    CREATE TABLE folders (
        mailbox TEXT NOT NULL, folder_id TEXT NOT NULL,
        uid_validity BIGINT NOT NULL, next_uid BIGINT NOT NULL,
        PRIMARY KEY (mailbox, folder_id));
    CREATE TABLE messages (
        mailbox TEXT NOT NULL, folder_id TEXT NOT NULL, message_id TEXT NOT NULL,
        uid BIGINT NOT NULL, size BIGINT,
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
    INSERT INTO folders VALUES ('late@x.example', 'L', 4000000000, 1);
";

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn postgres_store_migrates_a_version_1_database_and_refuses_a_newer_one() {
    let url = fresh_database("migration").await;
    let admin = connect(&url).await;
    admin.batch_execute(VERSION_1_SQL).await.unwrap();
    // Two instances starting together: one migrates, the other finds it done.
    let (first, second) = tokio::join!(open(&url), open(&url));
    let mailbox = "a@x.example";
    let known = first.messages(mailbox, "F").await.unwrap();
    assert_eq!(
        (
            known.len(),
            known["m1"].uid,
            known["m1"].size,
            known["m2"].uid
        ),
        (2, 1, Some(111), 2),
        "rows are kept"
    );
    assert_eq!(
        second.folder(mailbox, "F").await.unwrap(),
        FolderUids {
            uid_validity: 1000,
            uid_next: 3
        }
    );
    assert!(second.deleted(mailbox, "F").await.unwrap().contains("m2"));
    assert!(
        second.held_flags(mailbox, "F").await.unwrap().is_empty(),
        "the held flags' table is there, empty"
    );
    assert_eq!(first.synced_folder(mailbox, "F").await.unwrap(), None);
    // The migration takes each mailbox's highest UIDVALIDITY: a folder created next is above
    // it, from either instance.
    let created = second.created_folder("late@x.example", "M").await.unwrap();
    assert_eq!(created.uid_validity, 4_000_000_001);
    let seen = first.folder("late@x.example", "S").await.unwrap();
    assert!(seen.uid_validity > created.uid_validity, "{seen:?}");
    let (uids, _) = first
        .record_sync(
            mailbox,
            "F",
            FolderSync {
                complete: true,
                changed: vec![
                    ("m3".into(), MessageState::default()),
                    ("m1".into(), MessageState::default()),
                ],
                removed: vec![],
                delta_link: "link".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (uids["m3"], uids["m1"]),
        (3, 1),
        "UIDs continue after the kept ones"
    );
    let synced = second.synced_folder(mailbox, "F").await.unwrap().unwrap();
    let shown: Vec<(&str, u32, Option<u64>, bool)> = synced
        .messages
        .iter()
        .map(|m| (m.id.as_str(), m.uid, m.size, m.state.is_some()))
        .collect();
    assert_eq!(
        (synced.delta_link.as_str(), shown),
        (
            "link",
            vec![("m1", 1, Some(111), true), ("m3", 3, None, true)]
        )
    );
    assert!(second.deleted(mailbox, "F").await.unwrap().is_empty());

    let version: i32 = admin
        .query_one("SELECT version FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    admin
        .execute("UPDATE schema_version SET version = version + 1", &[])
        .await
        .unwrap();
    let config = StoreConfig {
        url: Some(url.clone()),
        ..StoreConfig::default()
    };
    match UidStore::open(&config).await {
        Err(StoreError::SchemaTooNew { found, known, .. }) => {
            assert_eq!((found, known), (i64::from(version) + 1, i64::from(version)))
        }
        Err(other) => panic!("refused for the wrong reason: {other}"),
        Ok(_) => panic!("a database newer than the code was opened"),
    }
}

/// Debian's PostgreSQL serves TLS with the "snakeoil" certificate made when `ssl-cert` was
/// installed: self-signed, naming the machine's host name (never 127.0.0.1).
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// How many connections to `url`'s database, other than this one, use TLS.
async fn encrypted_connections(url: &str) -> i64 {
    let dbname = database_name(url);
    let client = connect(url).await;
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid)
             WHERE datname = $1 AND ssl AND pid <> pg_backend_pid()",
            &[&dbname],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

#[tokio::test]
async fn postgres_store_speaks_tls_as_sslmode_says() {
    let url = fresh_database("tls").await;
    let server_tls: String = connect(&url)
        .await
        .query_one("SHOW ssl", &[])
        .await
        .expect("SHOW ssl")
        .get(0);
    assert_eq!(
        server_tls, "on",
        "the test server must offer TLS (Debian's postgresql does, with {SNAKEOIL})"
    );
    let work = |store: UidStore| async move {
        store
            .reconcile("tls@x.example", "F", vec!["m".into()], vec![])
            .await
            .map(|(uids, _)| uids["m"])
    };

    let required = open(&format!("{url}?sslmode=require")).await;
    assert_eq!(work(required.clone()).await.expect("sslmode=require"), 1);
    assert!(
        encrypted_connections(&url).await >= 1,
        "with sslmode=require the store's connection is not encrypted"
    );

    let chain = open(&format!("{url}?sslmode=verify-ca&sslrootcert={SNAKEOIL}")).await;
    assert_eq!(
        work(chain)
            .await
            .expect("sslmode=verify-ca with the server's certificate as root"),
        1
    );

    let full = UidStore::open(&StoreConfig {
        url: Some(format!("{url}?sslmode=verify-full&sslrootcert={SNAKEOIL}")),
        ..StoreConfig::default()
    })
    .await;
    let refused = match full {
        Ok(_) => panic!("verify-full accepted a certificate that does not name 127.0.0.1"),
        Err(err) => err.to_string(),
    };
    assert!(
        refused.to_lowercase().contains("certificate")
            && !refused.contains("imap2graph:imap2graph"),
        "verify-full's refusal should name the certificate and never the password: {refused}"
    );

    let bogus = UidStore::open(&StoreConfig {
        url: Some(format!("{url}?sslmode=sometimes")),
        ..StoreConfig::default()
    })
    .await;
    assert!(
        matches!(&bogus, Err(err) if err.to_string().contains("sslmode=sometimes")),
        "an unknown sslmode is refused by name"
    );
    drop(required);
}

#[test]
fn two_gateways_on_one_database_agree_on_uids() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(fresh_database("instances"));
    let emulator = EmulatorProcess::start();
    let (dir_a, dir_b) = (temp_dir(), temp_dir());
    let env = [("IMAP2GRAPH_STORE_URL", url.as_str())];
    let a = Gateway::serve(dir_a.path(), &emulator.url, &env);
    let b = Gateway::serve(dir_b.path(), &emulator.url, &env);
    // Both list every folder at once, racing to allocate.
    let (env_a, env_b) = (a.client_env(), b.client_env());
    let (seen_a, seen_b) = std::thread::scope(|scope| {
        let from_a = scope.spawn(|| client_view(&env_a, ALICE));
        let from_b = scope.spawn(|| client_view(&env_b, ALICE));
        (
            from_a.join().expect("client of gateway A"),
            from_b.join().expect("client of gateway B"),
        )
    });
    let folders = seen_a.as_object().expect("an object");
    let messages: usize = folders
        .values()
        .map(|f| f["uids"].as_object().map_or(0, |u| u.len()))
        .sum();
    assert!(messages > 100, "too few messages seen: {messages}");
    assert_eq!(seen_a, seen_b, "the two instances gave different UIDs");
    let (_, _) = (a.stop(), b.stop());
    // The store, not the instances, holds the UIDs: a third instance agrees too.
    let dir_c = temp_dir();
    let c = Gateway::serve(dir_c.path(), &emulator.url, &env);
    assert_eq!(
        client_view(&c.client_env(), ALICE),
        seen_a,
        "a new instance gave different UIDs"
    );
    c.stop();
}

#[test]
fn the_health_check_follows_the_database() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(fresh_database("health"));
    let emulator = EmulatorProcess::start();
    let dir = temp_dir();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[
            ("IMAP2GRAPH_STORE_URL", url.as_str()),
            ("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0"),
        ],
    );
    let address = gateway.metrics_address();
    assert_eq!(http_get(&address, "/healthz").0, "HTTP/1.1 200 OK");
    // The database goes away under the running gateway.
    let name = database_name(&url);
    let admin = std::env::var(URL_VARIABLE).expect("checked by fresh_database");
    runtime.block_on(async {
        connect(&admin)
            .await
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await
            .expect("drop the database");
    });
    let (status, body) = http_get(&address, "/healthz");
    assert_eq!(
        status, "HTTP/1.1 503 Service Unavailable",
        "the health check with the database gone: {body}"
    );
    gateway.stop();
    emulator.process.stop();
}

/// Two gateway instances on a fresh database `name` and one emulator, with NOOP synchronising
/// every time: in one directory, so both present the certificate the client trusts (the uid
/// store is the database, not a file there).
struct TwoInstances {
    a: Gateway,
    b: Gateway,
    emulator: EmulatorProcess,
    _dir: tempfile::TempDir,
}

impl TwoInstances {
    fn start(name: &str) -> TwoInstances {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let url = runtime.block_on(fresh_database(name));
        let emulator = EmulatorProcess::start();
        let dir = temp_dir();
        let env = [
            ("IMAP2GRAPH_STORE_URL", url.as_str()),
            ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0"),
        ];
        let a = Gateway::serve(dir.path(), &emulator.url, &env);
        let b = Gateway::serve(dir.path(), &emulator.url, &env);
        TwoInstances {
            a,
            b,
            emulator,
            _dir: dir,
        }
    }

    /// Runs the client script on the first instance with `args` and the second's port last;
    /// asserts it passed.
    fn run(&self, script: &str, args: &[&str]) {
        let port = self.b.imap.port().to_string();
        let mut args = args.to_vec();
        args.push(&port);
        let out = self.a.python_ok(script, &args);
        assert!(out.contains("all checks passed"), "{out}");
    }

    fn stop(self) {
        let (_, _) = (self.a.stop(), self.b.stop());
        self.emulator.process.stop();
    }
}

#[test]
fn sessions_on_two_instances_see_each_others_changes() {
    let instances = TwoInstances::start("changes");
    instances.run("instances.py", &[]);
    instances.stop();
}

#[test]
fn a_name_created_again_on_two_instances_gets_larger_uidvalidities() {
    // CREATE and DELETE of one name three times in a row, on A, B and A: each UIDVALIDITY
    // larger than the last, and both instances answer STATUS alike after each.
    let instances = TwoInstances::start("recreated");
    instances.run("folder_names.py", &["uidvalidity"]);
    instances.stop();
}

#[test]
fn flags_graph_cannot_hold_are_the_same_on_two_instances() {
    let instances = TwoInstances::start("held");
    let out = instances.a.python_ok("held_flags.py", &["set"]);
    assert!(out.contains("all checks passed"), "{out}");
    instances.run("held_flags.py", &["check"]);
    instances.stop();
}

#[test]
fn recent_is_claimed_once_across_instances() {
    // Sessions A on the first instance, B and C on the second: each new message is recent to
    // exactly one of them, whichever instance looks first.
    let instances = TwoInstances::start("recent");
    instances.run("recent.py", &[]);
    instances.stop();
}

#[test]
fn an_appended_voice_message_is_exact_on_both_instances() {
    // Issue 11: the voice message APPENDed through the first instance comes back byte for byte
    // from the second, which shares the uid store (tests/exact_append.rs for one instance).
    let instances = TwoInstances::start("exact");
    let out = instances.a.python_ok("exact_append.py", &["voice"]);
    assert!(out.contains("all checks passed"), "{out}");
    instances.run("exact_append.py", &["verify"]);
    instances.stop();
}
