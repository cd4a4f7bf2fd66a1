//! getmail6 (Debian's `getmail6`: `LOGIN` with the name as an atom, IMAP over TLS with the
//! gateway's certificate as `ca_certs`) pulls every voice message of voicemail@contoso.example into
//! an mboxrd file, as a mail-collecting setup would: the bodies must be those Graph holds, and a
//! second run, which remembers what it took by UIDVALIDITY and UID, must take nothing.

mod common;

use std::process::Command;

use common::*;

/// One getmail run; its output.
fn run_getmail(gateway: &Gateway, home: &std::path::Path, mbox: &std::path::Path) -> String {
    let getmail = require_program("getmail", "getmail6");
    let rc = home.join("getmailrc");
    std::fs::write(
        &rc,
        format!(
            "[retriever]\n\
             type = SimpleIMAPSSLRetriever\n\
             server = 127.0.0.1\n\
             port = {port}\n\
             username = {user}\n\
             password = {SECRET}\n\
             mailboxes = (\"INBOX\",)\n\
             ca_certs = {cert}\n\
             \n\
             [destination]\n\
             type = Mboxrd\n\
             path = {mbox}\n\
             {user_line}\n\
             \n\
             [options]\n\
             read_all = false\n\
             delete = false\n\
             verbose = 2\n",
            port = gateway.imap.port(),
            user = login_name(VOICEMAIL),
            cert = gateway.cert.display(),
            mbox = mbox.display(),
            // getmail refuses to deliver as root; it hands delivery to an unprivileged user.
            user_line = if is_root() { "user = nobody" } else { "" },
        ),
    )
    .expect("write getmailrc");
    let mut command = Command::new(getmail);
    command
        .arg("--getmaildir")
        .arg(home)
        .arg("--rcfile")
        .arg(&rc);
    let output = run(command, CLIENT_TIMEOUT);
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && !log.contains("error"),
        "getmail failed ({:?}):\n{}\n--- gateway ---\n{}",
        output.status.code(),
        tail(&log, 40),
        tail(&gateway.process.stderr_so_far(), 40)
    );
    log
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

#[test]
fn getmail_collects_every_voice_message_once() {
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let home = temp_dir();
    let mbox = home.path().join("voicemail.mbox");
    std::fs::write(&mbox, b"").expect("create the mbox");
    #[cfg(unix)]
    {
        // Delivery runs as `nobody` when the tests run as root.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod the getmail directory");
        std::fs::set_permissions(&mbox, std::fs::Permissions::from_mode(0o666))
            .expect("chmod the mbox");
    }

    let first = run_getmail(&gateway, home.path(), &mbox);
    let collected = mbox_messages(&std::fs::read(&mbox).expect("read the mbox"));
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, VOICEMAIL, "inbox");
    let held = graph.ids_by_message_id(&token, VOICEMAIL, &inbox);
    assert_eq!(
        collected.len(),
        held.len(),
        "getmail collected {} of {} voice messages:\n{}",
        collected.len(),
        held.len(),
        tail(&first, 20)
    );
    for (message_id, body) in &collected {
        let id = held.get(message_id).unwrap_or_else(|| {
            panic!("getmail collected {message_id:?}, which Graph does not hold")
        });
        assert_eq!(
            body,
            &as_mbox_body(&graph.mime(&token, VOICEMAIL, id), MboxQuoting::Rd),
            "the body getmail collected of {message_id} differs from Graph's"
        );
    }

    let second = run_getmail(&gateway, home.path(), &mbox);
    assert!(
        second.contains("0 messages (0 bytes) retrieved"),
        "the second run took messages again (UIDs or UIDVALIDITY changed?):\n{}",
        tail(&second, 20)
    );
    assert_eq!(
        mbox_messages(&std::fs::read(&mbox).expect("read the mbox")).len(),
        held.len(),
        "the second run delivered messages again"
    );
    gateway.stop();
}
