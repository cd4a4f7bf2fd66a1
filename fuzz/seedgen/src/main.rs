//! Writes the seed corpus of the fuzz targets into `fuzz/corpus/<target>/`: the messages of the
//! differential test's corpus (`tests/corpus`, built by code) for the MIME targets, and
//! hand-written commands, sequence sets, SEARCH keys, Graph answers and PROXY headers for the
//! others. Each file is named by what it is; the input layouts are the targets' own (see the
//! top of each `fuzz_targets/*.rs`).
//!
//! `cargo run --manifest-path fuzz/seedgen/Cargo.toml` from the repository root (any
//! toolchain). Seeds are kept small: a message is cut at [`MAX_MESSAGE`] octets.

#[path = "../../../tests/corpus/mod.rs"]
mod corpus;

use std::fs;
use std::path::{Path, PathBuf};

/// Longest message seed: longer corpus messages (the voice message) are cut here.
const MAX_MESSAGE: usize = 8 * 1024;
/// Longest message put behind a command in `sequence_search` seeds.
const MAX_SEARCH_MESSAGE: usize = 2 * 1024;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus");
    let messages: Vec<(String, Vec<u8>)> = corpus::corpus()
        .into_iter()
        .map(|m| {
            let mut raw = m.raw;
            raw.truncate(MAX_MESSAGE);
            (m.name.to_string(), raw)
        })
        .collect();

    let mut total = 0usize;
    let mut write = |target: &str, name: &str, data: &[u8]| {
        let dir: PathBuf = root.join(target);
        fs::create_dir_all(&dir).expect("create the corpus directory");
        fs::write(dir.join(name), data).expect("write a seed");
        total += data.len();
    };

    // MIME structure: the messages as Graph's $value would give them.
    for (name, raw) in &messages {
        write("mime_structure", name, raw);
    }

    // APPEND: flags octet, INTERNALDATE (4 octets, seconds), the message.
    for (index, (name, raw)) in messages.iter().enumerate() {
        let mut data = vec![index as u8 & 0x1f];
        data.extend_from_slice(
            &1_772_600_000u32
                .wrapping_add(index as u32 * 3600)
                .to_be_bytes(),
        );
        data.extend_from_slice(raw);
        write("append_compose", name, &data);
    }
    for (name, mime) in append_oddities() {
        let mut data = vec![1u8, 0x69, 0xa8, 0x4c, 0x00];
        data.extend_from_slice(mime);
        write("append_compose", name, &data);
    }

    // Sequence sets and SEARCH: folder header, command, NUL, message.
    let small: Vec<&(String, Vec<u8>)> = messages
        .iter()
        .filter(|(_, raw)| raw.len() <= MAX_SEARCH_MESSAGE)
        .collect();
    for (index, command) in commands().iter().enumerate() {
        let header = [
            (index as u8).wrapping_mul(37),
            4 + (index % 5) as u8,
            1,
            1,
            3,
            0,
            7,
            1,
            200,
            2,
        ];
        let mut data = header.to_vec();
        data.extend_from_slice(command.as_bytes());
        if command.contains("SEARCH") {
            let (_, raw) = small[index % small.len()];
            data.push(0);
            data.extend_from_slice(raw);
        }
        write("sequence_search", &format!("command_{index:02}"), &data);
    }

    // Command framing: chunking octet, then what a client sends.
    for (index, stream) in client_streams().iter().enumerate() {
        let mut data = vec![(index as u8).wrapping_mul(53)];
        data.extend_from_slice(stream);
        write("command_framing", &format!("stream_{index:02}"), &data);
    }

    // Graph answers: kind digit, then the JSON body.
    for (name, kind, body) in graph_answers() {
        let mut data = vec![b'0' + kind];
        data.extend_from_slice(body.as_bytes());
        write("graph_json", name, &data);
    }

    for (name, header) in proxy_headers() {
        write("proxy_header", name, &header);
    }

    for (index, login) in [
        "contoso.example/11111111-2222-3333-4444-555555555555/alice",
        "contoso.example\\11111111-2222-3333-4444-555555555555\\alice@contoso.example",
        "0d3a7c1e-0000-4000-8000-000000000001/11111111-2222-3333-4444-555555555555/\
         6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        "contoso.example/11111111-2222-3333-4444-555555555555\0alice@contoso.example",
        "contoso.example/11111111-2222-3333-4444-555555555555/../../me",
        "contoso.example/11111111-2222-3333-4444-555555555555/alice?$select=id",
    ]
    .iter()
    .enumerate()
    {
        write("login_name", &format!("login_{index}"), login.as_bytes());
    }

    for (index, name) in [
        "INBOX",
        "Sent Items",
        "&AMk-t&AOk-",
        "Entw&APw-rfe/2026",
        "&ZeVnLIqe-",
        "&AAA",
        "a&-b",
        "&U,BTFw-",
    ]
    .iter()
    .enumerate()
    {
        write("mailbox_name", &format!("name_{index}"), name.as_bytes());
    }

    eprintln!("seeds written under {}: {total} octets", root.display());
}

/// APPEND texts that are not quite messages.
fn append_oddities() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("odd_no_separator", b"just some text without a header"),
        ("odd_8bit_name", b"\xff\xffX-Header: boom\r\n\r\nbody\r\n"),
        ("odd_euro_name", "X\u{20ac}-Foo: bar\r\n\r\nbody\r\n".as_bytes()),
        ("odd_nul", b"Subject: a\0b\r\nX-Nul: \0\r\n\r\nbody\0\r\n"),
        ("odd_folded_first", b" folded: first\r\n\r\nbody\r\n"),
        ("odd_header_only", b"Subject: only a header\r\nX-Foo: bar"),
        (
            "odd_controls",
            b"Subject: bell\x07 and esc\x1b\r\nFrom: \"a\x01b\" <a@b.example>\r\nX-Del: \x7f\r\n\r\n\x08text\r\n",
        ),
        (
            "odd_attachment",
            b"Subject: att\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/octet-stream; name=\"a\r\n b.bin\"\r\nContent-Disposition: attachment\r\nContent-ID: <x\x01@y>\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n",
        ),
    ]
}

/// Commands with sequence sets and SEARCH keys, after the tag.
fn commands() -> Vec<String> {
    let mut commands: Vec<String> = [
        "FETCH 1:* (FLAGS)",
        "FETCH 2,4:*,7 (UID RFC822.SIZE)",
        "FETCH *:1 FLAGS",
        "FETCH 5:3 BODY.PEEK[HEADER]",
        "UID FETCH 1:* (FLAGS)",
        "UID FETCH 4294967295 (FLAGS)",
        "UID FETCH 20:* FLAGS",
        "UID FETCH 3,5,9:10 (ENVELOPE)",
        "STORE 1:3 +FLAGS.SILENT (\\Seen)",
        "UID STORE 1:* -FLAGS (\\Deleted)",
        "COPY 2:* Archive",
        "UID COPY 6,7,100 \"Sent Items\"",
        "MOVE 1 Trash",
        "UID MOVE *:4 Trash",
        "UID EXPUNGE 3:5",
        "UID EXPUNGE 1:4294967295",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for key in [
        "ALL",
        "UNSEEN",
        "SEEN FLAGGED",
        "KEYWORD blue",
        "UNKEYWORD $Forwarded",
        "UID 10:*",
        "UID 13:15",
        "2:4",
        "*",
        "SINCE 4-Mar-2026",
        "BEFORE 4-Mar-2026 ON 5-Mar-2026",
        "NEW OLD RECENT",
        "OR SEEN FROM x",
        "OR UNSEEN FROM x",
        "NOT (SEEN)",
        "NOT (OR DRAFT (DELETED UNANSWERED))",
        "CHARSET UTF-8 FROM {7+}\r\nj\u{fc}rgen",
        "FROM JURGEN@EXAMPLE",
        "TO alice CC bob BCC carol",
        "SUBJECT \"voice mail\"",
        "HEADER X-Caller 4255550101",
        "HEADER X-Missing \"\"",
        "BODY {6+}\r\n\u{fc}bung",
        "TEXT subject",
        "TEXT \"content-type: message\"",
        "SENTON 3-Mar-2026",
        "SENTBEFORE 4-Mar-2026 SENTSINCE 1-Jan-1970",
        "LARGER 100 SMALLER 100000",
        "CHARSET US-ASCII ANSWERED UNDRAFT UNFLAGGED UNDELETED",
        "CHARSET KOI8-R SUBJECT x",
        "UID SEARCH UID 1:* NOT UID 2",
        "UID SEARCH 1,3:*",
    ] {
        if key.starts_with("UID SEARCH") {
            commands.push(key.to_string());
        } else {
            commands.push(format!("SEARCH {key}"));
        }
    }
    commands
}

/// What clients send, from the greeting on: LOGIN in its forms, AUTHENTICATE PLAIN, literals
/// (synchronising and LITERAL+), APPEND, IDLE.
fn client_streams() -> Vec<Vec<u8>> {
    let login = "contoso.example/11111111-2222-3333-4444-555555555555/alice";
    let plain = "AGNvbnRvc28uZXhhbXBsZS8xMTExMTExMS0yMjIyLTMzMzMtNDQ0NC01NTU1NTU1NTU1NTUAc2VjcmV0";
    vec![
        format!("a LOGIN {login} secret\r\nb SELECT INBOX\r\nc LOGOUT\r\n").into_bytes(),
        format!("a LOGIN \"{login}\" \"sec\\\"ret\"\r\n").into_bytes(),
        format!(
            "a LOGIN {{{}}}\r\n{login} {{6}}\r\nsecret\r\nb NOOP\r\n",
            login.len()
        )
        .into_bytes(),
        format!("a LOGIN {{{}+}}\r\n{login} {{6+}}\r\nsecret\r\n", login.len()).into_bytes(),
        format!("a AUTHENTICATE PLAIN\r\n{plain}\r\nb CAPABILITY\r\n").into_bytes(),
        format!("a AUTHENTICATE PLAIN {plain}\r\n").into_bytes(),
        b"a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE PLAIN =\r\n".to_vec(),
        b"a CAPABILITY\r\nb NOOP\r\nc ID (\"name\" \"mbsync\")\r\nd LOGOUT\r\n".to_vec(),
        b"a LOGIN u p\r\nb APPEND INBOX (\\Seen) {23}\r\nSubject: hi\r\n\r\nhello\r\n\r\n"
            .to_vec(),
        b"a LOGIN u p\r\nb APPEND INBOX {23+}\r\nSubject: hi\r\n\r\nhello\r\n\r\nc IDLE\r\nDONE\r\n"
            .to_vec(),
        b"a LOGIN u p\r\nb SEARCH CHARSET UTF-8 SUBJECT {4}\r\n\xc3\xbcb\r\n".to_vec(),
        b"a LOGIN u {99999999}\r\n".to_vec(),
        b"a LOGIN u {4294967296}\r\n".to_vec(),
        b"a NOOP\nb NOOP\r\r\n\r\n* NOOP\r\n".to_vec(),
        b"\xff\xfe LOGIN \0 \0\r\n".to_vec(),
    ]
}

/// Graph answers: (name, kind, JSON). Kinds are the `graph_json` target's: 0 a page of a
/// messages delta round, 1 a page of a folders delta round, 2 a `$batch` answer, 3 a message,
/// 4 a page of folders, 5 an error body, 6 a token answer.
fn graph_answers() -> Vec<(&'static str, u8, &'static str)> {
    vec![
        (
            "delta_messages_first",
            0,
            r##"{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#Collection(message)","value":[{"@odata.type":"#microsoft.graph.message","@odata.etag":"W/\"CQAAABYAAAA\"","id":"AAMkAGI2AAA=","receivedDateTime":"2026-03-02T09:15:00Z","isRead":false,"isDraft":false,"hasAttachments":true,"categories":["Blue","Red category"],"flag":{"flagStatus":"flagged"},"singleValueExtendedProperties":[{"id":"Integer 0x1081","value":"102"}]},{"id":"AAMkAGI2AAB=","receivedDateTime":"2026-03-03T10:00:00Z","isRead":true,"isDraft":false,"hasAttachments":false,"categories":[],"flag":{"flagStatus":"notFlagged"},"singleValueExtendedProperties":[]}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$skiptoken=abc"}"##,
        ),
        (
            "delta_messages_changes",
            0,
            r##"{"value":[{"id":"AAMkAGI2AAA=","isRead":true},{"id":"AAMkAGI2AAB=","@removed":{"reason":"deleted"}},{"id":"AAMkAGI2AAA=","flag":{"flagStatus":"complete"}},{"id":"AAMkAGI2AAC=","@removed":{"reason":"changed"}},{"id":"AAMkAGI2AAC=","receivedDateTime":"2026-03-04T05:06:07Z","isRead":false,"isDraft":true,"hasAttachments":false,"categories":["$Label1"],"flag":{"flagStatus":"notFlagged"},"singleValueExtendedProperties":[{"id":"Integer 0x1081","value":" 104 "}]}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/inbox/messages/delta?$deltatoken=xyz"}"##,
        ),
        (
            "delta_messages_odd",
            0,
            r##"{"value":[{"id":"x","receivedDateTime":"not a date"},{"@removed":{}},{"id":1},[],null,{"id":"y","isRead":"yes"}],"@odata.nextLink":null}"##,
        ),
        (
            "delta_folders",
            1,
            r##"{"value":[{"id":"root","displayName":"Top of Information Store","parentFolderId":"x","childFolderCount":3},{"id":"in","displayName":"Inbox","parentFolderId":"root","totalItemCount":12,"unreadItemCount":3,"isHidden":false},{"id":"sub","displayName":"a/b\u0007c","parentFolderId":"in"},{"id":"gone","@removed":{"reason":"deleted"}},{"id":"in","unreadItemCount":2}],"@odata.deltaLink":"https://graph.microsoft.com/v1.0/users/alice@contoso.example/mailFolders/delta?$deltatoken=f"}"##,
        ),
        (
            "batch_answers",
            2,
            r##"{"responses":[{"id":"0","status":200,"headers":{"Content-Type":"application/json"},"body":{"id":"AAMkAGI2AAA=","isRead":true}},{"id":"1","status":429,"headers":{"Retry-After":"1.5"},"body":{"error":{"code":"ApplicationThrottled","message":"Application is over its MailboxConcurrency limit."}}},{"id":"2","status":404,"body":{"error":{"code":"ErrorItemNotFound","message":"The specified object was not found in the store."}}},{"id":"3","status":503,"headers":{"retry-after":"-1"}},{"id":"20","status":201,"body":null},{"id":"x","status":200}]}"##,
        ),
        (
            "batch_odd",
            2,
            r##"{"responses":[{"id":"0","status":70000},{"id":"1","status":200,"headers":{"Retry-After":7}},{"id":"01","status":500,"body":"<html>"}]}"##,
        ),
        (
            "message",
            3,
            r##"{"@odata.etag":"W/\"CQ\"","id":"AAMkAGI2AAA=","receivedDateTime":"2026-03-02T09:15:00Z","isRead":false,"isDraft":false,"hasAttachments":false,"categories":["Blue"],"flag":{"flagStatus":"Flagged"},"singleValueExtendedProperties":[{"id":"integer 0X1081","value":"103"}]}"##,
        ),
        (
            "folders_page",
            4,
            r##"{"value":[{"id":"in","displayName":"Inbox","parentFolderId":"root","childFolderCount":1,"totalItemCount":3,"unreadItemCount":1,"isHidden":false},{"id":"s","displayName":"Sent Items","parentFolderId":"root"},{"id":"c","displayName":"inbox","parentFolderId":"root"},{"id":"h","displayName":"Hidden","parentFolderId":"root","isHidden":true},{"id":"k","displayName":"","parentFolderId":"in"},{"id":"loop1","displayName":"L1","parentFolderId":"loop2"},{"id":"loop2","displayName":"L2","parentFolderId":"loop1"}],"@odata.nextLink":"https://graph.microsoft.com/v1.0/users/a/mailFolders?$skip=10"}"##,
        ),
        (
            "error_graph",
            5,
            r##"{"error":{"code":"SyncStateNotFound","message":"The sync state generation is not found.","innerError":{"date":"2026-03-02T09:15:00","request-id":"5e1e2a1e"}}}"##,
        ),
        (
            "error_token",
            5,
            r##"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215],"timestamp":"2026-03-02 09:15:00Z","trace_id":"t","correlation_id":"c"}"##,
        ),
        (
            "token",
            6,
            r##"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1QifQ.e30.c2ln"}"##,
        ),
    ]
}

fn proxy_headers() -> Vec<(&'static str, Vec<u8>)> {
    const SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    let with = |version_command: u8, family: u8, addresses: &[u8], after: &[u8]| {
        let mut header = SIGNATURE.to_vec();
        header.push(version_command);
        header.push(family);
        header.extend_from_slice(&(addresses.len() as u16).to_be_bytes());
        header.extend_from_slice(addresses);
        header.extend_from_slice(after);
        header
    };
    let v4 = [203, 0, 113, 7, 10, 0, 0, 1, 0xc8, 0x22, 0x03, 0xe1];
    let mut v4_tlv = v4.to_vec();
    v4_tlv.extend_from_slice(&[0x04, 0, 3, 1, 2, 3, 0x20, 0, 5, 1, 0, 0, 0, 0]);
    let mut v6 = [0u8; 36];
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[15] = 1;
    v6[32] = 0x01;
    v6[33] = 0xbb;
    let tls = b"\x16\x03\x01\x00\x05hello";
    vec![
        ("v4", with(0x21, 0x11, &v4, tls)),
        ("v4_tlvs", with(0x21, 0x11, &v4_tlv, tls)),
        ("v6", with(0x21, 0x21, &v6, tls)),
        ("local", with(0x20, 0x00, &[], tls)),
        ("unix", with(0x21, 0x31, &[0u8; 216], b"")),
        ("v4_short", with(0x21, 0x11, &v4[..6], b"")),
        ("v6_short", with(0x21, 0x21, &v6[..20], tls)),
        ("version_1", with(0x11, 0x11, &v4, b"")),
        ("command_5", with(0x25, 0x11, &v4, b"")),
        ("too_long", {
            let mut h = with(0x21, 0x11, &v4, b"");
            h[14] = 0x08;
            h[15] = 0x01;
            h
        }),
        (
            "text_v1",
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 993\r\n".to_vec(),
        ),
        ("tls_only", tls.to_vec()),
    ]
}
