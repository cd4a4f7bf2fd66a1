//! offlineimap3 (Debian's `offlineimap3`) mirrors voicemail@contoso.example into a Maildir,
//! read-only, trusting the gateway's certificate as its CA file. offlineimap logs in with
//! AUTHENTICATE PLAIN *without* an initial response (it waits for `+ `), unlike curl and mbsync.
//! A second run must copy nothing.

mod common;

use std::process::Command;

use common::*;

fn run_offlineimap(gateway: &Gateway, home: &std::path::Path) -> String {
    let offlineimap = require_program("offlineimap", "offlineimap3");
    let rc = home.join("offlineimaprc");
    std::fs::write(
        &rc,
        format!(
            "[general]\naccounts = vm\nmetadata = {home}/meta\nui = basic\n\n\
             [Account vm]\nlocalrepository = local\nremoterepository = remote\n\n\
             [Repository local]\ntype = Maildir\nlocalfolders = {home}/mail\n\n\
             [Repository remote]\ntype = IMAP\nremotehost = localhost\nremoteport = {port}\n\
             ssl = yes\nsslcacertfile = {cert}\n\
             remoteuser = {user}\nremotepass = {SECRET}\nreadonly = True\n",
            home = home.display(),
            port = gateway.imap.port(),
            cert = gateway.cert.display(),
            // offlineimap reads `%` as interpolation; the login name has none.
            user = login_name(VOICEMAIL),
        ),
    )
    .expect("cannot write offlineimaprc");
    let mut command = Command::new(offlineimap);
    command
        .arg("-c")
        .arg(&rc)
        .args(["-o", "-u", "basic", "-d", "imap"])
        .env("HOME", home);
    let output = run(command, CLIENT_TIMEOUT);
    assert_success("offlineimap", &output, Some(gateway));
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn offlineimap_mirrors_the_voicemail_box_then_copies_nothing() {
    let dir = temp_dir();
    let home = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, VOICEMAIL, "inbox");
    let expected = graph.messages(&token, VOICEMAIL, &inbox).len();

    let log = run_offlineimap(&gateway, home.path());
    // Its IMAP debug log shows the command without an initial response, and our `+ `.
    assert!(
        log.contains("AUTHENTICATE PLAIN\\r\\n'") && log.contains("reader < b'+ \\r\\n'"),
        "offlineimap did not log in with AUTHENTICATE PLAIN and a continuation:\n{}",
        tail(&log, 40)
    );
    let inbox_files = |home: &std::path::Path| -> usize {
        ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(home.join("mail/INBOX").join(sub)).ok())
            .map(|entries| entries.count())
            .sum()
    };
    assert_eq!(
        inbox_files(home.path()),
        expected,
        "offlineimap mirrored a different number of messages:\n{}",
        tail(&log, 40)
    );

    let second = run_offlineimap(&gateway, home.path());
    assert!(
        !second.contains("Copy message"),
        "the second run copied again:\n{}",
        tail(&second, 40)
    );
    assert_eq!(inbox_files(home.path()), expected);
    gateway.stop();
}
