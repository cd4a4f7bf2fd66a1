//! The write path end to end with a real client (issue 5), checked through Graph's own API on
//! the emulator: the voicemail scenario (APPEND of a voice message with a 5 MB audio
//! attachment, fetched back byte for byte from a second session, STORE \Seen reaching isRead,
//! STORE \Deleted + EXPUNGE removing it), every write command with imaplib, and the Graph
//! requests each batched write costs. The client side is `tests/clients/write_*.py`.

mod common;

use common::*;

#[test]
fn voicemail_append_fetch_seen_and_expunge_through_graph() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("write_voicemail.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    println!("{out}");
    gateway.stop();
}

/// Every write command with imaplib against alice@, checked through Graph
/// (`tests/clients/write_flows.py`).
#[test]
fn imaplib_write_commands_reach_graph() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("write_flows.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}

/// Graph requests per write workload: STORE and EXPUNGE of 50 messages cost three `$batch`
/// requests each, a STORE that changes nothing costs none (`tests/clients/write_costs.py`).
#[test]
fn batched_writes_cost_one_request_per_twenty_messages() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("write_costs.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    println!("{out}");
    gateway.stop();
}

/// STORE, COPY, MOVE, EXPUNGE and APPEND while the emulator answers a third of the write
/// requests (also inside `$batch`) with 429 or 503, then APPEND and COPY while it cuts half of
/// its answers short after acting: every answer agrees with what Graph holds afterwards
/// (`tests/clients/write_faults.py`).
#[test]
fn writes_under_throttling_end_as_their_answers_say() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("write_faults.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}

/// `imap.max_literal_bytes` refuses a large APPEND before its literal is sent, and
/// `imap.expunge_mode = "trash"` makes EXPUNGE move to Deleted Items, with a gateway configured
/// through the environment (`tests/clients/write_modes.py`).
#[test]
fn append_limit_and_trash_expunge_mode() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[
            ("IMAP2GRAPH_IMAP_MAX_LITERAL_BYTES", "1048576"),
            ("IMAP2GRAPH_IMAP_EXPUNGE_MODE", "trash"),
        ],
    );
    let out = gateway.python_ok("write_modes.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}
