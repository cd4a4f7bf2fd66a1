//! Folder names over time, seen through imaplib (`tests/clients/folder_names.py`): a name
//! deleted and created again, three times in a row, gets a larger UIDVALIDITY each time (the
//! PostgreSQL variant, on two instances, is in `tests/postgres.rs`); LIST shows every name once
//! however often it is deleted, Deleted Items included; LSUB lists an unsubscribed parent of a
//! subscribed folder `\Noselect` where a `%` stops at it, as Dovecot's `imap` answers the same
//! commands (Debian's dovecot-imapd, run pre-authenticated over a pipe as `tests/dovecot.rs`
//! does).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use common::*;

#[test]
fn uidvalidity_grows_each_time_a_name_is_created_again() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("folder_names.py", &["uidvalidity"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}

#[test]
fn list_shows_each_name_once_however_often_it_is_deleted() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("folder_names.py", &["unique"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
}

#[test]
fn lsub_lists_unsubscribed_parents_as_dovecot_does() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let out = gateway.python_ok("folder_names.py", &["lsub"]);
    assert!(out.contains("all checks passed"), "{out}");
    gateway.stop();
    let json = out
        .lines()
        .find_map(|line| line.strip_prefix("LSUB-JSON "))
        .unwrap_or_else(|| panic!("no LSUB answers printed: {out}"));
    let gateway_answers: Value = serde_json::from_str(json).expect("LSUB answers as JSON");
    let patterns: Vec<&str> = gateway_answers
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    let dovecot_answers = dovecot_lsub(&patterns);
    for pattern in patterns {
        assert_eq!(
            gateway_answers[pattern], dovecot_answers[pattern],
            "LSUB \"\" \"{pattern}\": the gateway's (name, \\Noselect) lines, then Dovecot's"
        );
    }
}

/// Dovecot's LSUB answers, as (name, \Noselect) of each line naming a folder under `Lsub`, to
/// each pattern, with the folders the imaplib script makes and only `Lsub/child/leaf`
/// subscribed, as the script does (CREATE subscribes nothing, in either server).
fn dovecot_lsub(patterns: &[&str]) -> Value {
    const DOVECOT_IMAP: &str = "/usr/lib/dovecot/imap";
    assert!(
        std::path::Path::new(DOVECOT_IMAP).is_file(),
        "{DOVECOT_IMAP} is missing: install Debian's dovecot-imapd"
    );
    // Its own directory (not the test's private one), so `nobody` can reach it as root.
    let dir = tempfile::Builder::new()
        .prefix("imap2graph-dovecot-lsub-")
        .tempdir()
        .expect("temporary directory");
    let base = dir.path();
    let uid = uid();
    let root = uid == "0";
    let mail_uid = if root { "65534" } else { uid.as_str() };
    std::fs::write(
        base.join("dovecot.conf"),
        format!(
            "protocols = imap\n\
             mail_location = maildir:{base}/Maildir:LAYOUT=fs\n\
             namespace inbox {{\n  inbox = yes\n  separator = /\n}}\n\
             base_dir = {base}/run\n\
             state_dir = {base}/state\n\
             log_path = {base}/dovecot.log\n\
             ssl = no\n\
             mail_uid = {mail_uid}\n\
             mail_gid = {mail_uid}\n\
             first_valid_uid = 0\n\
             first_valid_gid = 0\n",
            base = base.display(),
        ),
    )
    .expect("write dovecot.conf");
    let mut script = String::new();
    for name in ["Lsub", "Lsub/child", "Lsub/child/leaf", "Lsub/other"] {
        script.push_str(&format!("c CREATE \"{name}\"\r\n"));
    }
    script.push_str("s SUBSCRIBE \"Lsub/child/leaf\"\r\n");
    for (n, pattern) in patterns.iter().enumerate() {
        script.push_str(&format!("l{n} LSUB \"\" \"{pattern}\"\r\n"));
    }
    script.push_str("z LOGOUT\r\n");
    let mut command = if root {
        let status = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(base)
            .status()
            .expect("chown");
        assert!(status.success(), "chown of the Dovecot directory failed");
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            DOVECOT_IMAP,
        ]);
        c
    } else {
        Command::new(DOVECOT_IMAP)
    };
    let mut child = command
        .arg("-c")
        .arg(base.join("dovecot.conf"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("USER", if root { "nobody" } else { "imap2graph-test" })
        .env("HOME", base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start Dovecot's imap");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    let output = child.wait_with_output().expect("Dovecot's imap");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && text.contains("z OK"),
        "Dovecot's imap failed ({}): {text}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut answers = serde_json::Map::new();
    let mut lines: Vec<Value> = Vec::new();
    let mut next = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("* LSUB (") {
            let (attributes, tail) = rest.split_once(')').expect("LSUB attributes");
            let name = tail
                .strip_prefix(" \"/\" ")
                .expect("LSUB delimiter")
                .trim_matches('"');
            if name == "Lsub" || name.starts_with("Lsub/") {
                let noselect = attributes.split(' ').any(|a| a == "\\Noselect");
                lines.push(serde_json::json!([name, noselect]));
            }
        } else if line.starts_with(&format!("l{next} ")) {
            assert!(line.contains(" OK "), "Dovecot refused an LSUB: {line}");
            answers.insert(patterns[next].to_string(), Value::Array(lines));
            lines = Vec::new();
            next += 1;
        }
    }
    assert_eq!(next, patterns.len(), "Dovecot answered every LSUB: {text}");
    Value::Object(answers)
}

fn uid() -> String {
    let output = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
