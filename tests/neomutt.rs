//! neomutt (Debian's `neomutt`, run on a pseudo-terminal by `script`) reads and changes alice's
//! INBOX through `imap2graph demo`, the way a person at a terminal would: the login name is
//! percent-encoded in the folder URL (`%2F`, `%40`), the secret is `imap_pass`, the gateway's
//! certificate is pinned with `certificate_file`, and keystrokes pushed at start copy every message into a local mbox, flag
//! the first message, delete the second and sync the mailbox. The copies must carry the bodies
//! Graph holds, the flag must reach Graph, and the deleted message must leave the Inbox.

mod common;

use std::process::Command;

use common::*;

#[test]
fn neomutt_copies_flags_and_deletes_through_the_gateway() {
    let neomutt = require_program("neomutt", "neomutt");
    let script = require_program("script", "bsdutils");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let home = temp_dir();
    let mbox = home.path().join("copied.mbox");
    let rc = home.path().join("neomuttrc");
    std::fs::write(
        &rc,
        format!(
            "set folder = \"imaps://{user}@127.0.0.1:{port}/\"\n\
             set imap_pass = \"{SECRET}\"\n\
             set spoolfile = \"+INBOX\"\n\
             set certificate_file = \"{cert}\"\n\
             set ssl_verify_host = no\n\
             set header_cache = \"\"\n\
             set message_cachedir = \"\"\n\
             set mbox_type = mbox\n\
             set confirmcreate = no\n\
             set confirmappend = no\n\
             set delete = yes\n\
             set resolve = no\n\
             set quit = yes\n\
             set mail_check = 0\n\
             push \"<tag-pattern>~A<enter><tag-prefix><copy-message>{mbox}<enter>\
             <first-entry><flag-message><next-entry><delete-message><sync-mailbox><quit>\"\n",
            user = path_encode(&login_name(ALICE)),
            port = gateway.imap.port(),
            cert = gateway.cert.display(),
            mbox = mbox.display(),
        ),
    )
    .expect("write neomuttrc");
    let mut command = Command::new(script);
    command
        .arg("--quiet")
        .arg("--return")
        .arg("--command")
        .arg(format!("{} -n -F {}", neomutt.display(), rc.display()))
        .arg(home.path().join("screen.log"))
        .env("TERM", "xterm")
        .env("HOME", home.path());
    // A prompt nobody answers would wait for ever: two minutes is plenty for 140 messages.
    let output = run(command, std::time::Duration::from_secs(120));
    assert_success("neomutt (under script)", &output, Some(&gateway));

    let saved = std::fs::read(&mbox).unwrap_or_else(|err| {
        let screen = std::fs::read(home.path().join("screen.log")).unwrap_or_default();
        panic!(
            "neomutt wrote no mbox ({err}); its screen:\n{}",
            tail(&String::from_utf8_lossy(&screen), 30)
        )
    });
    let copied = mbox_messages(&saved);
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, ALICE, "inbox");
    let before = graph.ids_by_message_id(&token, ALICE, &inbox);
    // The deleted message is gone from Graph's Inbox now: one fewer than neomutt copied.
    assert_eq!(
        copied.len(),
        before.len() + 1,
        "neomutt copied {} messages; Graph's Inbox holds {} after one was deleted",
        copied.len(),
        before.len()
    );
    let (flagged, deleted) = (&copied[0].0, &copied[1].0);
    assert!(
        !before.contains_key(deleted),
        "the message deleted in neomutt ({deleted}) is still in Graph's Inbox"
    );
    let flagged_id = before
        .get(flagged)
        .unwrap_or_else(|| panic!("the flagged message {flagged} is gone from Graph's Inbox"));
    let state = graph
        .get(
            &token,
            &format!(
                "/users/{}/messages/{}?$select=flag",
                path_encode(ALICE),
                path_encode(flagged_id)
            ),
        )
        .json();
    assert_eq!(
        state["flag"]["flagStatus"], "flagged",
        "the flag set in neomutt did not reach Graph"
    );
    let mut compared = 0;
    for (message_id, body) in &copied[2..] {
        let id = before
            .get(message_id)
            .unwrap_or_else(|| panic!("neomutt copied {message_id:?}, which Graph does not hold"));
        assert_eq!(
            body,
            &as_mbox_body(&graph.mime(&token, ALICE, id), MboxQuoting::O),
            "the body neomutt saved of {message_id} differs from Graph's"
        );
        compared += 1;
    }
    assert!(compared > 100, "only {compared} bodies compared");
    gateway.stop();
}
