//! Sequence numbers never drift (issue 10): twelve sessions at once on two folders do random
//! APPEND, STORE, EXPUNGE, UID EXPUNGE, MOVE, UID MOVE, COPY and NOOP while mail arrives
//! through Graph, each keeping its model of the folder from the untagged responses alone and
//! checking it against FETCH 1:* (UID, size, flags) and the Message-ID of every UID
//! (`tests/clients/sequence_drift.py`). Run on one gateway in each delta mode, on two
//! instances sharing a PostgreSQL uid store, and while Graph fails writes half-way (429 with
//! Retry-After, 503, connection resets).

mod common;

use common::*;

/// Sessions, and commands each sends, in every scenario.
const SESSIONS: &str = "12";
const OPERATIONS: &str = "100";

/// NOOP synchronises the folder every time, so the final check sees Graph as it is.
const FRESH_NOOP: (&str, &str) = ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0");

fn drive(gateway: &Gateway, ports: &str, extra: &[&str]) {
    let mut args = vec![ports, "--sessions", SESSIONS, "--ops", OPERATIONS];
    args.extend_from_slice(extra);
    let out = gateway.python_ok("sequence_drift.py", &args);
    assert!(out.contains("all checks passed"), "{out}");
}

in_each_delta_mode! {
    /// One gateway, its sessions racing each other and Graph's own deliveries.
    fn sessions_of_one_gateway_never_drift(mode: DeltaMode) {
        let dir = temp_dir();
        let env: Vec<(&str, &str)> = mode.env().into_iter().chain([FRESH_NOOP]).collect();
        let gateway = Gateway::demo_with_env(dir.path(), &env);
        drive(&gateway, &gateway.imap.port().to_string(), &[]);
        gateway.stop();
    }
}

/// Graph answers the write routes with 429 (Retry-After) and 503 now and then and resets
/// connections after acting; with one retry only, EXPUNGEs and MOVEs are confirmed in part.
#[test]
fn sessions_never_drift_when_graph_fails_half_way() {
    let dir = temp_dir();
    let gateway = Gateway::demo_with_env(
        dir.path(),
        &[FRESH_NOOP, ("IMAP2GRAPH_GRAPH_MAX_RETRIES", "1")],
    );
    drive(&gateway, &gateway.imap.port().to_string(), &["--faults"]);
    gateway.stop();
}

/// Two instances sharing one PostgreSQL uid store, the sessions taking them in turn.
#[test]
fn sessions_of_two_instances_never_drift() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let url = runtime.block_on(fresh_database());
    let emulator = EmulatorProcess::start();
    // One directory, so both instances present the certificate the client trusts; the uid
    // store is the database.
    let dir = temp_dir();
    let env = [("IMAP2GRAPH_STORE_URL", url.as_str()), FRESH_NOOP];
    let a = Gateway::serve(dir.path(), &emulator.url, &env);
    let b = Gateway::serve(dir.path(), &emulator.url, &env);
    let ports = format!("{},{}", a.imap.port(), b.imap.port());
    drive(&a, &ports, &[]);
    let (_, _) = (a.stop(), b.stop());
    emulator.process.stop();
}

/// A new database on the server `IMAP2GRAPH_TEST_POSTGRES` names; its URL.
async fn fresh_database() -> String {
    const URL_VARIABLE: &str = "IMAP2GRAPH_TEST_POSTGRES";
    let admin_url = std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{URL_VARIABLE} is not set: this test needs a PostgreSQL server (.ci/run and the \
             README show how)"
        )
    });
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|err| panic!("cannot connect to PostgreSQL at {URL_VARIABLE}: {err}"));
    tokio::spawn(connection);
    let name = format!("i2g_drift_{}_{}", std::process::id(), fastrand::u32(..));
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|err| panic!("cannot create database {name}: {err}"));
    let (base, _) = admin_url
        .split_once('?')
        .map_or((admin_url.as_str(), ""), |(base, query)| (base, query));
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{URL_VARIABLE} names no database"));
    format!("{server}/{name}")
}
