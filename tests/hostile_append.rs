//! Hostile APPENDs and mailbox names over real TLS against the demo gateway (issue 12, points 4
//! and 5), driven by Python's imaplib (`tests/clients/hostile_append.py`): header names and
//! values of any bytes, text with no header/body separator, NUL bytes (in a literal8, and in a
//! plain literal where they are a syntax error), a 40 MB single line, an empty message and one
//! of only CRLFs. Each ends in OK with a message FETCH gives back, or in a tagged NO with a
//! response code and a reason that leaves nothing in Graph; the connection and another session
//! stay usable after every answer. Invalid or non-canonical modified UTF-7 is BAD.

mod common;

use common::*;

#[test]
fn hostile_appends_store_a_message_or_answer_no_with_a_reason() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("hostile_append.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    let stopped = gateway.stop();
    assert!(
        !stopped.stderr.contains("panicked"),
        "the gateway panicked:\n{}",
        tail(&stopped.stderr, 60)
    );
}
