//! fetchmail (Debian's `fetchmail`, IMAP over TLS with the gateway's certificate pinned) pulls
//! every voice message of voicemail@contoso.example through an MDA, as a mail-forwarding setup
//! would. fetchmail marks what it fetched `\Seen` (even with `keep`), which must reach Graph as
//! `isRead`; a second run, without `fetchall`, then finds nothing new.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::*;

fn run_fetchmail(gateway: &Gateway, home: &std::path::Path, fetch_all: bool) -> String {
    let fetchmail = require_program("fetchmail", "fetchmail");
    let out = home.join("delivered");
    std::fs::create_dir_all(&out).expect("delivery directory");
    let rc = home.join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set no syslog\n\
             poll 127.0.0.1 service {port} protocol IMAP\n  \
             user \"{user}\" there is root here\n  \
             password \"{SECRET}\"\n  \
             ssl sslcertck sslcertfile {cert} sslcommonname localhost\n  \
             keep{all}\n  \
             mda \"/bin/sh -c 'cat > {out}/msg.$$'\"\n",
            port = gateway.imap.port(),
            user = login_name(VOICEMAIL),
            cert = gateway.cert.display(),
            all = if fetch_all { " fetchall" } else { "" },
            out = out.display(),
        ),
    )
    .expect("cannot write fetchmailrc");
    // fetchmail refuses a run-control file others may read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&rc, std::fs::Permissions::from_mode(0o600))
            .expect("chmod fetchmailrc");
    }
    let mut command = Command::new(fetchmail);
    command
        .arg("-f")
        .arg(&rc)
        .args(["-v", "--nodetach", "--nosyslog"])
        .env("HOME", home);
    let output = run(command, CLIENT_TIMEOUT);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // fetchmail exits 1 when there was no mail: that is an answer, not a failure.
    let code = output.status.code();
    assert!(
        matches!(code, Some(0) | Some(1)),
        "fetchmail failed ({code:?}):\n{}\n--- gateway ---\n{}",
        tail(&log, 40),
        tail(&gateway.process.stderr_so_far(), 40)
    );
    log
}

/// CRLF turned into LF, as fetchmail delivers to an MDA.
fn unix_lines(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

#[test]
fn fetchmail_pulls_every_voice_message_and_marks_it_read() {
    let dir = temp_dir();
    let home = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, VOICEMAIL, "inbox");
    let messages = graph.messages(&token, VOICEMAIL, &inbox);
    assert!(messages.len() >= 10, "the demo voicemail box is too small");

    run_fetchmail(&gateway, home.path(), true);
    let delivered: Vec<Vec<u8>> = std::fs::read_dir(home.path().join("delivered"))
        .expect("delivery directory")
        .map(|entry| std::fs::read(entry.expect("entry").path()).expect("delivered file"))
        .collect();
    assert_eq!(delivered.len(), messages.len(), "one delivery per message");
    let delivered_lf: Vec<Vec<u8>> = delivered.iter().map(|raw| unix_lines(raw)).collect();
    let delivered_ids: HashSet<String> = delivered
        .iter()
        .filter_map(|raw| {
            let text = String::from_utf8_lossy(raw);
            text.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
                .map(|l| l[11..].trim().to_string())
        })
        .collect();
    for message in &messages {
        let id = message["internetMessageId"]
            .as_str()
            .expect("internetMessageId");
        assert!(delivered_ids.contains(id), "{id} was not delivered");
        // The message's own body arrives, with the line ends fetchmail hands an MDA (LF).
        let mime = graph.mime(&token, VOICEMAIL, message["id"].as_str().expect("id"));
        let body_start = mime
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("header end");
        let body = unix_lines(&mime[body_start + 4..]);
        assert!(
            delivered_lf.iter().any(|raw| raw.ends_with(&body)),
            "the body of {id} did not arrive intact"
        );
    }
    let after = graph.get_all(
        &token,
        &format!("/users/{VOICEMAIL}/mailFolders/{inbox}/messages?$select=id,isRead&$top=1000"),
    );
    let unread: Vec<&serde_json::Value> = after.iter().filter(|m| m["isRead"] != true).collect();
    assert!(
        unread.is_empty(),
        "fetchmail's \\Seen did not reach Graph for {unread:?}"
    );

    // Everything is seen now: a run without fetchall delivers nothing more.
    let log = run_fetchmail(&gateway, home.path(), false);
    let count = std::fs::read_dir(home.path().join("delivered"))
        .expect("dir")
        .count();
    assert_eq!(
        count,
        messages.len(),
        "the second run delivered again:\n{}",
        tail(&log, 30)
    );
    gateway.stop();
}
