//! APPEND keeps the message exactly as the client wrote it (issue 11): a 2.8 MB voice message
//! comes back byte for byte (BODY[], RFC822.SIZE, every part, BINARY, ENVELOPE, BODYSTRUCTURE)
//! from a second session, after the gateway restarts on the same uid store, and after COPY and
//! MOVE; a message whose attachment an Outlook user deletes is shown under a new UID and never as
//! other bytes under the old one. Seen through imaplib (`tests/clients/exact_append.py`); the
//! emulator writes the MIME of what the gateway creates anew, as Exchange does, so only the
//! gateway can have kept the bytes. Drafts are checked in both of the emulator's MIME modes.
//! The same voice message on two instances sharing PostgreSQL is in `tests/postgres.rs`.

mod common;

use common::*;

/// The emulator's modes for drafts created from MIME (`--mime-drafts`).
const MIME_MODES: [&str; 2] = ["regenerated", "kept"];

#[test]
fn a_voice_message_comes_back_as_appended_also_after_a_restart() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let out = gateway.python_ok("exact_append.py", &["voice"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();

    // Same uid store, same Graph: the bytes come from what the store kept and Graph holds.
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let out = gateway.python_ok("exact_append.py", &["verify"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
    emulator.process.stop();
}

#[test]
fn copy_and_move_keep_the_appended_bytes() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let out = gateway.python_ok("exact_append.py", &["copymove"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
    emulator.process.stop();
}

in_each_delta_mode! {
    /// The session learns of the change from a delta round, whichever way Graph sends the item.
    fn an_attachment_deleted_in_outlook_gives_the_message_a_new_uid(mode: DeltaMode) {
        let dir = temp_dir();
        let emulator = EmulatorProcess::start_in(mode);
        let gateway = Gateway::serve(
            dir.path(),
            &emulator.url,
            &[("IMAP2GRAPH_IMAP_NOOP_FRESHNESS_SECS", "0")],
        );
        let out = gateway.python_ok("exact_append.py", &["outlook"]);
        assert!(out.contains("all checks passed"), "{out}");
        gateway.stop();
        emulator.process.stop();
    }
}

#[test]
fn a_draft_comes_back_as_appended_whatever_graph_does_with_its_mime() {
    let dir = temp_dir();
    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    for mode in MIME_MODES {
        // The script switches the emulator (`POST /_emulator/mime`) before it appends.
        let out = gateway.python_ok("exact_append.py", &["draft", mode]);
        assert!(out.contains("all checks passed"), "mode {mode}: {out}");
    }
    gateway.stop();
    emulator.process.stop();
}
