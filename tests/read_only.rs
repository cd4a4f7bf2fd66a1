//! An application granted only `Mail.Read` (the demo's read-only application), driven by
//! Python's imaplib: what its token's roles allow is what the gateway does. SELECT is
//! `[READ-ONLY]` with `PERMANENTFLAGS ()`, a body FETCH sets no `\Seen` in Graph, every write is
//! `NO [NOPERM]` without a Graph request, and reading works as for any application. The client
//! side is `tests/clients/read_only.py`.

mod common;

use common::*;

/// The demo's read-only application (a contract, like the read-write one's id and secret).
const READONLY_CLIENT_ID: &str = "22222222-3333-4444-5555-666666666666";
const READONLY_SECRET: &str = "demo-readonly-secret";

#[test]
fn a_read_only_application_reads_and_is_refused_every_write_without_graph() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let graph = gateway.graph();
    let out = gateway.python_ok("read_only.py", &[READONLY_CLIENT_ID, READONLY_SECRET]);
    println!("{out}");
    assert!(out.contains("all checks passed"), "{out}");
    // Graph never refused the gateway: it asked for nothing it was not granted.
    let stats = graph.stats();
    let denied: u64 = stats["routes"]
        .as_object()
        .map(|routes| {
            routes
                .values()
                .filter_map(|statuses| statuses["403"].as_u64())
                .sum()
        })
        .unwrap_or(0);
    assert_eq!(denied, 0, "Graph answered 403 to the gateway: {stats}");
    gateway.stop();
}
