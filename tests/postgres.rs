//! The PostgreSQL uid store, on a real PostgreSQL server: the same conformance checks as the
//! SQLite store, allocation raced from two handles, and two gateway processes sharing one
//! database that give every message the same UID.
//!
//! Needs `IMAP2GRAPH_TEST_POSTGRES`, a URL of a role that may create databases (`.ci/run` sets
//! it up; the README says how to run these tests locally). Each test makes its own database.

mod common;

use imap2graph::config::StoreConfig;
use imap2graph::store::{conformance, UidStore};
use serde_json::Value;

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

/// What imaplib sees (`uids.py`) through the gateway whose client environment is `env`.
fn uids(env: &[(String, String)]) -> Value {
    let output = python("uids.py", &[ALICE], env);
    assert_success("python3 uids.py", &output, None);
    let out = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(out.lines().last().unwrap_or(""))
        .unwrap_or_else(|err| panic!("uids.py printed no JSON ({err}):\n{out}"))
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
        let from_a = scope.spawn(|| uids(&env_a));
        let from_b = scope.spawn(|| uids(&env_b));
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
        uids(&c.client_env()),
        seen_a,
        "a new instance gave different UIDs"
    );
    c.stop();
}

#[test]
fn sessions_on_two_instances_see_each_others_changes() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(fresh_database("changes"));
    let emulator = EmulatorProcess::start();
    // One directory, so both instances present the certificate the client trusts; the uid
    // store is the database, not a file there.
    let dir = temp_dir();
    let env = [
        ("IMAP2GRAPH_STORE_URL", url.as_str()),
        ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0"),
    ];
    let a = Gateway::serve(dir.path(), &emulator.url, &env);
    let b = Gateway::serve(dir.path(), &emulator.url, &env);
    let out = a.python_ok("instances.py", &[&b.imap.port().to_string()]);
    assert!(out.contains("all checks passed"), "{out}");
    let (_, _) = (a.stop(), b.stop());
}
