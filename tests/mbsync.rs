//! mbsync (isync) against `imap2graph demo`: alice's whole mailbox pulled into a Maildir
//! (`Sync Pull`, `Create Near`, `Patterns *`), every folder holding what Graph holds, byte for
//! byte up to mbsync's own changes (LF line ends, an `X-TUID` header); then a second run that
//! transfers nothing. mbsync logs in with AUTHENTICATE PLAIN (authorization identity = login
//! name) and checks the certificate's host name, so it connects to `localhost`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

fn write_config(dir: &Path, gateway: &Gateway, maildir: &Path, auth_mech: &str) -> PathBuf {
    let config = dir.join("mbsyncrc");
    let text = format!(
        "IMAPAccount demo\n\
         Host localhost\n\
         Port {port}\n\
         User \"{user}\"\n\
         Pass \"{SECRET}\"\n\
         AuthMechs {auth_mech}\n\
         SSLType IMAPS\n\
         CertificateFile \"{cert}\"\n\
         Timeout 120\n\
         \n\
         IMAPStore far\n\
         Account demo\n\
         \n\
         MaildirStore near\n\
         Path \"{maildir}/\"\n\
         Inbox \"{maildir}/INBOX\"\n\
         SubFolders Verbatim\n\
         \n\
         Channel alice\n\
         Far :far:\n\
         Near :near:\n\
         Patterns *\n\
         Create Near\n\
         Sync Pull\n\
         SyncState *\n",
        port = gateway.imap.port(),
        user = login_name(ALICE),
        cert = gateway.cert.display(),
        maildir = maildir.display(),
    );
    std::fs::write(&config, text).expect("cannot write mbsyncrc");
    config
}

fn mbsync(gateway: &Gateway, home: &Path, config: &Path) -> String {
    run_mbsync(gateway, home, config, "alice")
}

/// Every message file of the Maildir: path relative to the root → contents.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let parent = path.parent().and_then(Path::file_name);
                if parent.is_some_and(|p| p == "cur" || p == "new") {
                    let relative = path.strip_prefix(root).expect("under root");
                    out.insert(
                        relative.display().to_string(),
                        std::fs::read(&path).expect("read a message file"),
                    );
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A Maildir message as mbsync stored it, made comparable with Graph's MIME: without the
/// X-TUID header mbsync adds, line ends as LF.
fn normalise_maildir(raw: &[u8]) -> Vec<u8> {
    let text = raw.to_vec();
    let mut out = Vec::with_capacity(text.len());
    let mut in_header = true;
    for line in text.split_inclusive(|b| *b == b'\n') {
        if in_header && (line == b"\n" || line == b"\r\n") {
            in_header = false;
        }
        if in_header && line.len() >= 7 && line[..7].eq_ignore_ascii_case(b"X-TUID:") {
            continue;
        }
        out.extend_from_slice(line);
    }
    crlf_to_lf(&out)
}

fn crlf_to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn body_fetches(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with(">>> ") && l.contains("FETCH") && l.contains("BODY.PEEK[]"))
        .collect()
}

#[test]
fn mbsync_pulls_the_whole_mailbox_then_transfers_nothing() {
    require_program("mbsync", "isync");
    let dir = temp_dir();
    let data = dir.path().join("gateway");
    let maildir = dir.path().join("Mail");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&maildir).unwrap();
    let gateway = Gateway::demo(&data);
    let config = write_config(dir.path(), &gateway, &maildir, "PLAIN");

    let first = mbsync(&gateway, dir.path(), &config);
    assert!(
        !body_fetches(&first).is_empty(),
        "the first mbsync run fetched no message:\n{first}"
    );

    // Every folder Graph holds is a Maildir folder with the same messages.
    let graph = gateway.graph();
    let token = graph.token();
    let folders = graph.folders(&token, ALICE);
    let files = snapshot(&maildir);
    let mut total = 0;
    let mut problems = Vec::new();
    for folder in &folders {
        let folder_dir = maildir.join(&folder.imap_name);
        if !folder_dir.join("cur").is_dir() {
            problems.push(format!(
                "{}: no Maildir folder {}",
                folder.imap_name,
                folder_dir.display()
            ));
            continue;
        }
        let prefix = format!("{}/", folder.imap_name);
        let mut got: Vec<Vec<u8>> = files
            .iter()
            .filter(|(path, _)| {
                path.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.starts_with("cur/") || rest.starts_with("new/"))
            })
            .map(|(_, raw)| normalise_maildir(raw))
            .collect();
        let mut expected: Vec<Vec<u8>> = graph
            .messages(&token, ALICE, &folder.id)
            .iter()
            .map(|m| crlf_to_lf(&graph.mime(&token, ALICE, m["id"].as_str().expect("id"))))
            .collect();
        total += expected.len();
        if got.len() != expected.len() {
            problems.push(format!(
                "{}: {} messages in the Maildir, {} in Graph",
                folder.imap_name,
                got.len(),
                expected.len()
            ));
            continue;
        }
        got.sort();
        expected.sort();
        let differing = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
        if differing > 0 {
            problems.push(format!(
                "{}: {differing} messages differ from Graph's MIME",
                folder.imap_name
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "the Maildir does not match the mailbox:\n{}\n--- mbsync ---\n{}",
        problems.join("\n"),
        tail(&first, 60)
    );
    assert!(total > 200, "only {total} messages in the seeded mailbox");
    assert_eq!(
        files.len(),
        total,
        "the Maildir holds messages outside Graph's folders"
    );

    // The second run transfers nothing and changes nothing.
    let second = mbsync(&gateway, dir.path(), &config);
    let fetches = body_fetches(&second);
    assert!(
        fetches.is_empty(),
        "the second mbsync run fetched messages again: {fetches:?}"
    );
    for forbidden in ["APPEND", "UID STORE", "EXPUNGE"] {
        assert!(
            !second
                .lines()
                .any(|l| l.starts_with(">>> ") && l.contains(forbidden)),
            "the second mbsync run sent {forbidden}:\n{second}"
        );
    }
    let after = snapshot(&maildir);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        files.keys().collect::<Vec<_>>(),
        "the second mbsync run changed the Maildir"
    );
    gateway.stop();
}

#[test]
fn mbsync_logs_in_with_imap_login_too() {
    // `AuthMechs LOGIN` makes mbsync send the IMAP LOGIN command (name quoted) instead of SASL.
    require_program("mbsync", "isync");
    let dir = temp_dir();
    let data = dir.path().join("gateway");
    let maildir = dir.path().join("Mail");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&maildir).unwrap();
    let gateway = Gateway::demo(&data);
    let config = write_config(dir.path(), &gateway, &maildir, "LOGIN");
    let log = mbsync(&gateway, dir.path(), &config);
    assert!(
        log.lines()
            .any(|l| l.starts_with(">>> ") && l.contains(" LOGIN ")),
        "mbsync did not use LOGIN:\n{log}"
    );
    let graph = gateway.graph();
    let token = graph.token();
    let total: u64 = graph
        .folders(&token, ALICE)
        .iter()
        .map(|f| f.total_item_count)
        .sum();
    assert_eq!(snapshot(&maildir).len() as u64, total, "messages pulled");
    gateway.stop();
}
