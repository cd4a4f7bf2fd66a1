//! mbsync (isync) synchronising both ways with the gateway (issue 5, real clients): voicemail@'s
//! INBOX is pulled into a Maildir; then, locally, one message is marked seen, one is deleted and
//! one is added; a second run pushes all three, and Graph's own API on the emulator shows the
//! message read, the deleted one gone from the Inbox and the new one there as received mail.
//! mbsync fails a sync that APPENDs when the tagged OK lacks APPENDUID, so this also checks
//! APPENDUID the way a real client depends on it.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn write_config(dir: &Path, gateway: &Gateway, maildir: &Path) -> PathBuf {
    let config = dir.join("mbsyncrc");
    let text = format!(
        "IMAPAccount vm\n\
         Host localhost\n\
         Port {port}\n\
         User \"{user}\"\n\
         Pass \"{SECRET}\"\n\
         AuthMechs PLAIN\n\
         SSLType IMAPS\n\
         CertificateFile \"{cert}\"\n\
         Timeout 120\n\
         \n\
         IMAPStore far\n\
         Account vm\n\
         \n\
         MaildirStore near\n\
         Path \"{maildir}/\"\n\
         Inbox \"{maildir}/INBOX\"\n\
         \n\
         Channel vm\n\
         Far :far:\n\
         Near :near:\n\
         Patterns INBOX\n\
         Create Near\n\
         Sync All\n\
         Expunge Both\n\
         SyncState *\n",
        port = gateway.imap.port(),
        user = login_name(VOICEMAIL),
        cert = gateway.cert.display(),
        maildir = maildir.display(),
    );
    std::fs::write(&config, text).expect("cannot write mbsyncrc");
    config
}

fn mbsync(gateway: &Gateway, home: &Path, config: &Path) -> String {
    run_mbsync(gateway, home, config, "vm")
}

/// The Message-ID header of a message file.
fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines()
        .take_while(|line| !line.is_empty())
        .find(|line| line.len() > 11 && line[..11].eq_ignore_ascii_case("message-id:"))
        .map(|line| line[11..].trim().to_string())
}

#[test]
fn mbsync_pushes_flags_new_mail_and_deletions_to_graph() {
    let dir = temp_dir();
    let gateway = Gateway::demo(&dir.path().join("demo"));
    let maildir = dir.path().join("Mail");
    std::fs::create_dir_all(&maildir).expect("maildir");
    let config = write_config(dir.path(), &gateway, &maildir);
    mbsync(&gateway, dir.path(), &config);

    let cur = maildir.join("INBOX").join("cur");
    // mbsync files unread messages under new/, read ones under cur/.
    let mut files: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(maildir.join("INBOX").join(sub)).into_iter())
        .flat_map(|entries| entries.flatten().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "mbsync pulled {} messages", files.len());
    let graph = gateway.graph();
    let token = graph.token();
    let inbox = graph.well_known(&token, VOICEMAIL, "inbox");
    let read_state = |internet_id: &str| -> Option<bool> {
        graph
            .get_all(
                &token,
                &format!(
                    "/users/{}/mailFolders/{}/messages?$select=id,isRead,isDraft,internetMessageId,subject&$top=1000",
                    path_encode(VOICEMAIL),
                    path_encode(&inbox)
                ),
            )
            .into_iter()
            .find(|m| m["internetMessageId"].as_str() == Some(internet_id))
            .and_then(|m| m["isRead"].as_bool())
    };

    // Pick an unread message to mark seen locally, and another to delete.
    let unread = files
        .iter()
        .find(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            !name
                .rsplit_once(":2,")
                .is_some_and(|(_, flags)| flags.contains('S'))
        })
        .cloned()
        .expect("an unread voice message");
    let seen_id = message_id(&std::fs::read(&unread).unwrap()).expect("Message-ID");
    assert_eq!(read_state(&seen_id), Some(false), "{seen_id} unread before");
    let name = unread.file_name().unwrap().to_string_lossy().into_owned();
    let base = name.split(":2,").next().unwrap().to_string();
    std::fs::rename(&unread, cur.join(format!("{base}:2,S"))).unwrap();

    let doomed = files.iter().find(|f| **f != unread).cloned().unwrap();
    let doomed_id = message_id(&std::fs::read(&doomed).unwrap()).expect("Message-ID");
    std::fs::remove_file(&doomed).unwrap();

    let new_id = format!("<local-{}@pbx.example>", std::process::id());
    let new_message = format!(
        "From: PBX <pbx@contoso.example>\nTo: voicemail@contoso.example\nSubject: Added in the Maildir\nDate: Wed, 04 Mar 2026 09:00:00 +0000\nMessage-ID: {new_id}\nX-Caller-ID: +1 555 0199\n\nA message written locally.\n"
    );
    std::fs::write(
        maildir
            .join("INBOX")
            .join("new")
            .join("1772614800.local.host"),
        new_message,
    )
    .unwrap();

    let log = mbsync(&gateway, dir.path(), &config);
    assert!(
        log.contains("APPEND"),
        "mbsync appended nothing:\n{}",
        tail(&log, 40)
    );

    assert_eq!(
        read_state(&seen_id),
        Some(true),
        "the local \\Seen reached Graph's isRead"
    );
    assert_eq!(
        read_state(&doomed_id),
        None,
        "the locally deleted message is gone from Graph's Inbox"
    );
    assert_eq!(
        read_state(&new_id),
        Some(false),
        "the locally added message is in Graph's Inbox, unread"
    );
    let messages = graph.get_all(
        &token,
        &format!(
            "/users/{}/mailFolders/{}/messages?$select=isDraft,internetMessageId&$top=1000",
            path_encode(VOICEMAIL),
            path_encode(&inbox)
        ),
    );
    let added = messages
        .iter()
        .find(|m| m["internetMessageId"].as_str() == Some(new_id.as_str()))
        .expect("added message");
    assert_eq!(added["isDraft"], false, "APPENDed as received mail");

    // A third run has nothing left to do.
    let log = mbsync(&gateway, dir.path(), &config);
    assert!(
        !log.contains("APPEND"),
        "third run appended again:\n{}",
        tail(&log, 40)
    );
    gateway.stop();
}
