//! Python's imaplib against the gateway: every login name form, LIST, SELECT, FETCH of every
//! message compared byte for byte with the emulator's MIME, failed logins with their response
//! codes, the voicemail mailbox, an unreachable Graph, and `* BYE` on SIGTERM. The client side
//! lives in `tests/clients/*.py`; each script prints what it checked and exits 1 on a failure.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn imaplib_logs_in_with_every_name_form() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    gateway.python_ok("login_forms.py", &[]);
    gateway.stop();
}

#[test]
fn imaplib_lists_and_selects_every_folder() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    gateway.python_ok("list_folders.py", &[]);
    gateway.stop();
}

#[test]
fn imaplib_fetches_every_message_of_alice_byte_for_byte() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("fetch_compare.py", &[ALICE, "--all"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}

#[test]
fn imaplib_session_commands_and_states() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    gateway.python_ok("session_commands.py", &[]);
    gateway.stop();
}

#[test]
fn imaplib_fetches_sections_and_items_exactly() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    for (mailbox, folder) in [
        (ALICE, "INBOX"),
        (ALICE, "Sent Items"),
        (ALICE, "&ANw-berpr&APw-fung"),
        (VOICEMAIL, "INBOX"),
    ] {
        let out = gateway.python_ok("fetch_sections.py", &[mailbox, folder, "60"]);
        assert!(out.contains("all checks passed"), "{out}");
    }
    gateway.stop();
}

#[test]
fn imaplib_reads_the_voicemail_mailbox() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("fetch_compare.py", &[VOICEMAIL, "--all"]);
    assert!(out.contains("all checks passed"), "{out}");
    // Voice messages carry an audio attachment; the bytes above are compared exactly, this
    // only makes sure the seed is what the test means to read.
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, VOICEMAIL, "inbox");
    let messages = graph.messages(&token, VOICEMAIL, &inbox);
    assert!(!messages.is_empty(), "voicemail's inbox is empty");
    let first = graph.mime(&token, VOICEMAIL, messages[0]["id"].as_str().expect("id"));
    assert!(
        String::from_utf8_lossy(&first)
            .to_ascii_lowercase()
            .contains("audio/mpeg"),
        "the first voice message has no audio/mpeg part"
    );
    gateway.stop();
}

#[test]
fn imaplib_failed_logins_answer_the_right_codes() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    gateway.python_ok("login_errors.py", &[]);
    gateway.stop();
}

#[test]
fn graph_unreachable_answers_unavailable() {
    let dir = temp_dir();
    // A port that was just free: nothing listens there.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let gateway = Gateway::serve(dir.path(), &format!("http://{closed}"), &[]);
    gateway.python_ok(
        "expect_login.py",
        &[&login_name(ALICE), "NO", "UNAVAILABLE"],
    );
    gateway.stop();
}

#[test]
fn sigterm_sends_bye_to_open_sessions_and_exits_0() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    require_program("python3", "python3");
    let mut child = Command::new("python3")
        .arg(client_script("hold_session.py"))
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(gateway.client_env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("cannot start python3");
    let mut reader = BufReader::new(child.stdout.take().expect("piped"));
    let mut seen = String::new();
    let ready = loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            break false;
        }
        seen.push_str(&line);
        if line.trim() == "READY" {
            break true;
        }
    };
    if !ready {
        let _ = child.kill();
        panic!(
            "hold_session.py did not get ready:\n{seen}\n--- gateway log ---\n{}",
            tail(&gateway.process.stderr_so_far(), 50)
        );
    }
    let started = Instant::now();
    let stopped = gateway.stop();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the gateway took {:?} to stop",
        started.elapsed()
    );
    let mut rest = String::new();
    for line in reader.lines() {
        let line = line.unwrap_or_default();
        rest.push_str(&line);
        rest.push('\n');
    }
    let status = child.wait().expect("python3");
    assert!(
        status.success(),
        "the open session saw no * BYE:\n{seen}{rest}\n--- gateway log ---\n{}",
        tail(&stopped.stderr, 50)
    );
}
