//! Live mailboxes: changes made behind the gateway's back (delivery, Outlook marking read,
//! deleting, moving) reach selected sessions — during IDLE and on NOOP — as untagged responses.
//! Driven by imaplib (`tests/clients/live_updates.py`) against `imap2graph serve` polling every
//! 2 s.

mod common;

use common::*;

#[test]
fn idle_and_noop_see_changes_made_elsewhere() {
    let emulator = EmulatorProcess::start();
    let dir = temp_dir();
    let gateway = Gateway::serve(
        dir.path(),
        &emulator.url,
        &[
            ("IMAP2GRAPH_IMAP_IDLE_POLL_SECS", "2"),
            ("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0"),
        ],
    );
    let out = gateway.python_ok("live_updates.py", &[]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}
