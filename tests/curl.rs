//! curl (imaps, `-k`) against `imap2graph demo`: LIST, and FETCH of single messages compared
//! byte for byte with the MIME the emulator holds. curl logs in with AUTHENTICATE PLAIN, SASL-IR
//! and an empty authorization identity.

mod common;

use std::process::Command;

use common::*;

fn curl(gateway: &Gateway, user: &str, path: &str) -> std::process::Output {
    run(curl_command(gateway, user, SECRET, path), CLIENT_TIMEOUT)
}

fn curl_ok(gateway: &Gateway, user: &str, path: &str) -> Vec<u8> {
    let output = curl(gateway, user, path);
    assert_success(&format!("curl imaps://…/{path}"), &output, Some(gateway));
    output.stdout
}

/// The value of the first `Message-ID` header of a raw message.
fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let header = text.split("\r\n\r\n").next()?;
    let mut lines = header.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("message-id") {
            let mut value = value.trim().to_string();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push_str(next.trim());
                lines.next();
            }
            return Some(value);
        }
    }
    None
}

/// Fetches `folder;UID=uid` with curl and checks it against the emulator: the same bytes as
/// `$value` of the message with that Message-ID; returns the Graph message.
fn fetch_and_compare(
    gateway: &Gateway,
    folder_url: &str,
    folder_imap_name: &str,
    uid: u32,
) -> serde_json::Value {
    let fetched = curl_ok(
        gateway,
        &login_name(ALICE),
        &format!("{folder_url};UID={uid}"),
    );
    assert!(!fetched.is_empty(), "curl fetched nothing for UID {uid}");
    let graph = gateway.graph();
    let token = graph.token();
    let folder = graph
        .folders(&token, ALICE)
        .into_iter()
        .find(|f| f.imap_name == folder_imap_name)
        .unwrap_or_else(|| panic!("Graph has no folder {folder_imap_name}"));
    let messages = graph.messages(&token, ALICE, &folder.id);
    let id = message_id(&fetched).unwrap_or_else(|| {
        panic!(
            "the fetched message has no Message-ID:\n{}",
            String::from_utf8_lossy(&fetched[..fetched.len().min(2000)])
        )
    });
    let message = messages
        .iter()
        .find(|m| m["internetMessageId"].as_str() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no message with Message-ID {id} in Graph's {folder_imap_name}"))
        .clone();
    let expected = graph.mime(&token, ALICE, message["id"].as_str().expect("id"));
    if fetched != expected {
        let at = fetched
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(fetched.len().min(expected.len()));
        panic!(
            "curl's UID {uid} of {folder_imap_name} ({} octets) differs from $value ({} octets) \
             at octet {at}\n--- curl ---\n{}\n--- $value ---\n{}",
            fetched.len(),
            expected.len(),
            String::from_utf8_lossy(&fetched[at.saturating_sub(200)..fetched.len().min(at + 200)]),
            String::from_utf8_lossy(
                &expected[at.saturating_sub(200)..expected.len().min(at + 200)]
            ),
        );
    }
    // UIDs are given in ascending receivedDateTime: UID 1 is the oldest message.
    if uid == 1 {
        let oldest = messages
            .iter()
            .filter_map(|m| m["receivedDateTime"].as_str())
            .min()
            .expect("the folder is empty");
        assert_eq!(
            message["receivedDateTime"].as_str(),
            Some(oldest),
            "UID 1 of {folder_imap_name} is not the oldest message"
        );
    }
    message
}

#[test]
fn curl_lists_folders() {
    require_program("curl", "curl");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    // curl logs in with AUTHENTICATE PLAIN and an initial response (SASL-IR).
    let mut command = curl_command(&gateway, &login_name(ALICE), SECRET, "");
    command.arg("--verbose");
    let output = run(command, CLIENT_TIMEOUT);
    assert_success("curl --verbose imaps://…/", &output, Some(&gateway));
    let verbose = String::from_utf8_lossy(&output.stderr);
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("> ") && l.contains(" AUTHENTICATE PLAIN ")),
        "curl did not log in with AUTHENTICATE PLAIN and SASL-IR:\n{verbose}"
    );
    let listing = String::from_utf8(output.stdout).expect("LIST output is not UTF-8");
    let lines: Vec<&str> = listing.lines().collect();
    let find = |name: &str| {
        lines
            .iter()
            .find(|line| {
                line.ends_with(&format!(" \"{name}\"")) || line.ends_with(&format!(" {name}"))
            })
            .unwrap_or_else(|| panic!("curl's LIST has no {name}:\n{listing}"))
            .to_string()
    };
    assert!(find("INBOX").starts_with("* LIST ("), "{listing}");
    assert!(
        find("INBOX").contains("\"/\""),
        "delimiter is not /:\n{listing}"
    );
    assert!(find("Sent Items").contains("\\Sent"), "{listing}");
    assert!(find("Drafts").contains("\\Drafts"), "{listing}");
    assert!(find("Deleted Items").contains("\\Trash"), "{listing}");
    assert!(find("Junk Email").contains("\\Junk"), "{listing}");
    assert!(find("Archive").contains("\\Archive"), "{listing}");
    find("INBOX/R&AOk-unions");
    // Every Graph folder is listed.
    let graph = gateway.graph();
    let token = graph.token();
    for folder in graph.folders(&token, ALICE) {
        find(&folder.imap_name);
    }
    gateway.stop();
}

#[test]
fn curl_fetches_one_message_byte_for_byte() {
    require_program("curl", "curl");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    fetch_and_compare(&gateway, "INBOX", "INBOX", 1);
    fetch_and_compare(&gateway, "INBOX", "INBOX", 7);
    // A nested folder with a non-ASCII name (modified UTF-7, percent-encoded in the URL).
    fetch_and_compare(&gateway, "INBOX/R%26AOk-unions", "INBOX/R&AOk-unions", 1);
    gateway.stop();
}

#[test]
fn curl_with_two_part_name_opens_the_default_mailbox() {
    require_program("curl", "curl");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let via_default = curl_ok(&gateway, &format!("{TENANT}/{CLIENT_ID}"), "INBOX;UID=1");
    let via_full = curl_ok(&gateway, &login_name(ALICE), "INBOX;UID=1");
    assert!(!via_full.is_empty());
    assert_eq!(
        via_default, via_full,
        "the two-part name did not open alice's mailbox (the demo's default)"
    );
    gateway.stop();
}

#[test]
fn curl_wrong_secret_fails() {
    require_program("curl", "curl");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let output = run(
        curl_command(&gateway, &login_name(ALICE), "not-the-secret", ""),
        CLIENT_TIMEOUT,
    );
    assert!(
        !output.status.success(),
        "curl logged in with a wrong secret: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    // curl's exit code 67: "The user name, password, or similar was not accepted".
    assert_eq!(
        output.status.code(),
        Some(67),
        "curl: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    gateway.stop();
}

#[test]
fn the_demo_prints_a_curl_line_that_works() {
    // "prints how to connect (a ready curl line)": run the line the demo printed, as printed.
    require_program("curl", "curl");
    let dir = temp_dir();
    let gateway = Gateway::demo(dir.path());
    let stdout = gateway.process.stdout_so_far();
    let line = stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl "))
        .unwrap_or_else(|| panic!("the demo printed no curl line:\n{stdout}"));
    let user = line
        .split('\'')
        .nth(1)
        .unwrap_or_else(|| panic!("no quoted --user in {line:?}"));
    let url = line
        .split_whitespace()
        .find(|w| w.trim_matches('\'').starts_with("imaps://"))
        .unwrap_or_else(|| panic!("no imaps:// URL in {line:?}"))
        .trim_matches('\'');
    let mut command = Command::new("curl");
    command
        .args([
            "--silent",
            "--show-error",
            "-k",
            "--max-time",
            "60",
            "--user",
        ])
        .arg(user)
        .arg(url);
    let output = run(command, CLIENT_TIMEOUT);
    assert_success(
        &format!("the demo's curl line {line:?}"),
        &output,
        Some(&gateway),
    );
    assert!(
        !output.stdout.is_empty(),
        "the demo's curl line {line:?} printed nothing"
    );
    gateway.stop();
}

/// A message curl APPENDs (`--upload-file`) comes back byte for byte (issue 11): BODY[] with
/// curl, RFC822.SIZE and SEARCH by a header field, after the gateway restarts on the same uid
/// store and after COPY. Its parts are kept three ways: an audio attachment in base64 lines
/// of 76 (by reference to Graph's attachment), a quoted-printable text and a small PNG (inline
/// in the uid store), under header fields Graph has no place for.
#[test]
fn curl_appends_a_message_that_comes_back_as_written() {
    use base64::Engine;
    require_program("curl", "curl");
    let dir = temp_dir();
    let mut rng = fastrand::Rng::with_seed(11);
    let audio: Vec<u8> = (0..200_000).map(|_| rng.u8(..)).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&audio);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| std::str::from_utf8(line).expect("base64 is ASCII"))
        .collect();
    let message = format!(
        "Return-Path: <pbx@example.net>\r\nReceived: from pbx.example.net by mx.example.net;\r\n \
         Sat, 9 Mar 2024 18:03:12 +0100\r\nFrom: Caller <caller@example.net>\r\n\
         To: undisclosed-recipients:;\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= by curl\r\n\
         Date: Sat, 9 Mar 2024 18:03:11 +0100\r\nMessage-ID: <curl-exact-1@example.net>\r\n\
         Content-Class: voice\r\nContent-Language: de\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed;\r\n boundary=\"=_outer\"\r\n\r\npreamble\r\n--=_outer\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
         Eine Sprachnachricht f=C3=BCr Sie.=\r\n\r\n--=_outer\r\n\
         Content-Type: image/png; name=logo.png\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Description: logo\r\n\r\niVBORw0KGgo=\r\n--=_outer\r\n\
         Content-Type: audio/mpeg; name=\"call.mp3\"\r\nContent-Disposition: attachment; filename=\"call.mp3\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--=_outer--\r\nepilogue\r\n",
        lines.join("\r\n")
    )
    .into_bytes();
    // Not in the data directory, whose .eml files the demo would serve as mail of its own.
    let upload_dir = temp_dir();
    let file = upload_dir.path().join("message.eml");
    std::fs::write(&file, &message).expect("write the message");
    let user = login_name(ALICE);

    let emulator = EmulatorProcess::start();
    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let mut upload = curl_command(&gateway, &user, SECRET, "INBOX");
    upload.arg("--upload-file").arg(&file);
    let uploaded = run(upload, CLIENT_TIMEOUT);
    assert_success("curl --upload-file", &uploaded, Some(&gateway));
    let uid_of = |gateway: &Gateway| -> u32 {
        let mut search = curl_command(gateway, &user, SECRET, "INBOX");
        search
            .arg("--request")
            .arg("UID SEARCH HEADER Message-ID <curl-exact-1@example.net>");
        let output = run(search, CLIENT_TIMEOUT);
        assert_success("curl UID SEARCH", &output, Some(gateway));
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let uids: Vec<u32> = text
            .trim()
            .strip_prefix("* SEARCH")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|uid| uid.parse().ok())
            .collect();
        assert_eq!(
            uids.len(),
            1,
            "one message found by its Message-ID: {text:?} {}",
            gateway.stderr_so_far()
        );
        uids[0]
    };
    let size_of = |gateway: &Gateway, folder: &str, uid: u32| -> String {
        let mut fetch = curl_command(gateway, &user, SECRET, folder);
        fetch
            .arg("--request")
            .arg(format!("UID FETCH {uid} RFC822.SIZE"));
        let output = run(fetch, CLIENT_TIMEOUT);
        assert_success("curl UID FETCH RFC822.SIZE", &output, Some(gateway));
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    let uid = uid_of(&gateway);
    let fetched = curl_ok(&gateway, &user, &format!("INBOX;UID={uid}"));
    assert!(fetched == message, "BODY[] differs from what curl appended");
    let size = size_of(&gateway, "INBOX", uid);
    assert!(
        size.contains(&format!("RFC822.SIZE {}", message.len())),
        "{size}"
    );
    gateway.stop();

    let gateway = Gateway::serve(dir.path(), &emulator.url, &[]);
    let uid = uid_of(&gateway);
    let fetched = curl_ok(&gateway, &user, &format!("INBOX;UID={uid}"));
    assert!(fetched == message, "BODY[] differs after a restart");
    let mut copy = curl_command(&gateway, &user, SECRET, "INBOX");
    copy.arg("--request").arg(format!("UID COPY {uid} Archive"));
    assert_success("curl UID COPY", &run(copy, CLIENT_TIMEOUT), Some(&gateway));
    let mut search = curl_command(&gateway, &user, SECRET, "Archive");
    search
        .arg("--request")
        .arg("UID SEARCH HEADER Message-ID <curl-exact-1@example.net>");
    let output = run(search, CLIENT_TIMEOUT);
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let copied: u32 = text
        .split_whitespace()
        .last()
        .and_then(|uid| uid.parse().ok())
        .unwrap_or_else(|| panic!("the copy is found in Archive: {text:?}"));
    let fetched = curl_ok(&gateway, &user, &format!("Archive;UID={copied}"));
    assert!(fetched == message, "the copy's BODY[] differs");
    gateway.stop();
    emulator.process.stop();
}
