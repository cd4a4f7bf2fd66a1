//! Contract tests for the write path, folders, $filter and delta queries, HTTP straight at a
//! served emulator.

mod common;

use base64::Engine;
use common::*;
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const IMM: (&str, &str) = ("Prefer", "IdType=\"ImmutableId\"");

async fn post_json(s: &Server, t: &str, path: &str, body: Value, immutable: bool) -> Resp {
    let mut h = vec![JSON];
    if immutable {
        h.push(IMM);
    }
    send(s.addr, t, "POST", path, &h, body.to_string().as_bytes()).await
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A draft created from MIME: `$value` written anew from the item by default (Exchange's
/// conversion), byte for byte in the `kept` mode.
#[tokio::test]
async fn create_from_mime_is_a_draft_regenerated_or_kept() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let mime = b"From: alice@contoso.example\r\nTo: bob@fabrikam.example\r\nSubject: draft via MIME\r\nX-Custom: kept as a named property\r\nReceived: from nowhere\r\nDate: Sat, 9 Mar 2024 18:03:11 +0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"client-boundary\"\r\n\r\n--client-boundary\r\nContent-Type: text/plain\r\n\r\nhello\r\n--client-boundary\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--client-boundary--\r\n";
    let created = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages"),
        &[("Content-Type", "text/plain"), IMM],
        b64(mime).as_bytes(),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap_or("").to_string();
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    let text = String::from_utf8_lossy(&v.body).into_owned();
    assert_ne!(v.body, mime.to_vec());
    for wanted in [
        "Subject: draft via MIME\r\n",
        "Thread-Topic: draft via MIME\r\n",
        "Date: Sat, 9 Mar 2024 17:03:11 +0000\r\n",
        "X-Custom: kept as a named property\r\n",
        "X-MS-Has-Attach: yes\r\n",
        "boundary=\"_004_",
        "Content-Description: a.bin\r\n",
        "AAECAw==\r\n",
        "\r\n\r\nhello\r\n",
    ] {
        assert!(text.contains(wanted), "{wanted:?} not in {text}");
    }
    for gone in ["client-boundary", "Received:", "+0100"] {
        assert!(!text.contains(gone), "{gone:?} still in {text}");
    }
    s.emu.set_mime(imap2graph_emulator::MimeConfig {
        drafts: imap2graph_emulator::MimeDrafts::Kept,
    });
    let mime = b"From: alice@contoso.example\r\nTo: bob@fabrikam.example\r\nSubject: draft via MIME\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n";
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages"),
        &[("Content-Type", "text/plain"), IMM],
        b64(mime).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = r.json();
    assert_eq!(m["isDraft"], true);
    assert_eq!(m["subject"], "draft via MIME");
    let drafts = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/drafts"),
    )
    .await
    .json();
    assert_eq!(m["parentFolderId"], drafts["id"]);
    let id = m["id"].as_str().unwrap_or("");
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert_eq!(v.body, mime.to_vec());
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages"),
        &[("Content-Type", "text/plain")],
        b"%%% not base64 %%%",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "ErrorMimeContentInvalidBase64String");
}

#[tokio::test]
async fn create_from_json_with_message_flags_is_not_a_draft() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let body = json!({
        "subject": "Appended",
        "body": {"contentType": "text", "content": "kept"},
        "from": {"emailAddress": {"name": "Bob", "address": "bob@fabrikam.example"}},
        "toRecipients": [{"emailAddress": {"address": "alice@contoso.example"}}],
        "isRead": true,
        "categories": ["Blue category"],
        "flag": {"flagStatus": "flagged"},
        "singleValueExtendedProperties": [
            {"id": "Integer 0x0E07", "value": "1"},
            {"id": "SystemTime 0x0E06", "value": "2025-12-24T18:00:00Z"},
            {"id": "SystemTime 0x0039", "value": "2025-12-24T17:59:00Z"},
            {"id": "Integer 0x1081", "value": "102"},
            {"id": "String 0x1042", "value": "<parent@example.org>"},
            {"id": "String 0x1039", "value": "<root@example.org> <parent@example.org>"}
        ]
    });
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/archive/messages"),
        body,
        true,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = r.json();
    assert_eq!(m["isDraft"], false);
    assert_eq!(m["isRead"], true);
    assert_eq!(m["receivedDateTime"], "2025-12-24T18:00:00Z");
    assert_eq!(m["sentDateTime"], "2025-12-24T17:59:00Z");
    assert_eq!(m["flag"]["flagStatus"], "flagged");
    assert_eq!(m["categories"], json!(["Blue category"]));
    let id = m["id"].as_str().unwrap_or("").to_string();
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}?$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x1081')"),
    )
    .await;
    assert_eq!(r.json()["singleValueExtendedProperties"][0]["value"], "102");
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    let text = String::from_utf8_lossy(&v.body).into_owned();
    assert!(
        text.contains("In-Reply-To: <parent@example.org>\r\n"),
        "{text}"
    );
    assert!(text.contains("References: <root@example.org> <parent@example.org>\r\n"));
    // Without the flags it is a draft; draft-only properties can't be patched on non-drafts.
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({"subject": "plain draft"}),
        true,
    )
    .await;
    assert_eq!(r.json()["isDraft"], true);
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/messages/{id}"),
        &[JSON, IMM],
        json!({"subject": "changed"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({"bogus": 1}),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn patch_move_copy_delete_and_id_stability() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let list = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=3"),
    )
    .await
    .json();
    let imm = list["value"][0]["id"].as_str().unwrap_or("").to_string();
    // Default id of the same message (no Prefer header).
    let r = send(
        s.addr,
        &t,
        "GET",
        &format!("/users/{ALICE_ENC}/messages/{imm}?$select=id"),
        &[],
        b"",
    )
    .await;
    let rest = r.json()["id"].as_str().unwrap_or("").to_string();
    assert_ne!(rest, imm);
    // PATCH flags.
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/messages/{imm}"),
        &[JSON, IMM],
        json!({"isRead": false, "flag": {"flagStatus": "complete"}, "categories": ["x"],
               "singleValueExtendedProperties": [{"id": "Integer 0x1081", "value": "104"}]})
        .to_string()
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["isRead"], false);
    assert_eq!(j["flag"]["flagStatus"], "complete");
    assert_ne!(j["changeKey"], list["value"][0]["changeKey"]);
    // Move without immutable ids: new default id; the old one no longer resolves.
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages/{rest}/move"),
        &[JSON],
        json!({"destinationId": "archive"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    let moved_rest = r.json()["id"].as_str().unwrap_or("").to_string();
    assert_ne!(moved_rest, rest);
    assert_eq!(
        send(
            s.addr,
            &t,
            "GET",
            &format!("/users/{ALICE_ENC}/messages/{rest}"),
            &[],
            b""
        )
        .await
        .status,
        404
    );
    // The immutable id still finds it, now in Archive.
    let m = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{imm}"))
        .await
        .json();
    let archive = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/archive"),
    )
    .await
    .json();
    assert_eq!(m["parentFolderId"], archive["id"]);
    // Move with immutable ids keeps the id.
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{imm}/move"),
        json!({"destinationId": "inbox"}),
        true,
    )
    .await;
    assert_eq!(r.json()["id"], imm.as_str());
    // Copy: a new message.
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{imm}/copy"),
        json!({"destinationId": "junkemail"}),
        true,
    )
    .await;
    assert_eq!(r.status, 201);
    let copy = r.json()["id"].as_str().unwrap_or("").to_string();
    assert_ne!(copy, imm);
    let a = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{imm}/$value"),
    )
    .await
    .body;
    let b = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{copy}/$value"),
    )
    .await
    .body;
    assert_eq!(a, b);
    // DELETE goes to Recoverable Items, not Deleted Items.
    let deleted_before = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/deleteditems"),
    )
    .await
    .json()["totalItemCount"]
        .clone();
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/messages/{copy}"),
        &[IMM],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    let deleted_after = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/deleteditems"),
    )
    .await
    .json()["totalItemCount"]
        .clone();
    assert_eq!(deleted_before, deleted_after);
    let m = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{copy}"))
        .await
        .json();
    let rec = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/recoverableitemsdeletions"),
    )
    .await
    .json();
    assert_eq!(m["parentFolderId"], rec["id"]);
    // permanentDelete: gone.
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages/{copy}/permanentDelete"),
        &[IMM],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{copy}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn filters_and_inefficient_filter() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let base = format!("/users/{ALICE_ENC}/mailFolders/inbox/messages");
    let inbox = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    let r = get(
        s.addr,
        &t,
        &format!("{base}?$filter=isRead%20eq%20false&$top=1000&$count=true"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["@odata.count"], inbox["unreadItemCount"]);
    let all = get(
        s.addr,
        &t,
        &format!("{base}?$top=1000&$select=receivedDateTime"),
    )
    .await
    .json();
    let dates: Vec<String> = all["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["receivedDateTime"].as_str().map(|s| s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mid = &dates[dates.len() / 2];
    let expect = dates.iter().filter(|d| d.as_str() >= mid.as_str()).count();
    let r = get(s.addr, &t, &format!("{base}?$filter=receivedDateTime%20ge%20{mid}&$orderby=receivedDateTime%20desc&$top=1000")).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["value"].as_array().map(|a| a.len()), Some(expect));
    let r = get(
        s.addr,
        &t,
        &format!("{base}?$filter=isRead%20eq%20false&$orderby=receivedDateTime%20desc"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "InefficientFilter");
    let r = get(s.addr, &t, &format!("{base}?$filter=contains(subject,'x')")).await;
    assert_eq!(r.status, 501);
}

#[tokio::test]
async fn folder_create_rename_delete() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders"),
        json!({"displayName": "Reports"}),
        false,
    )
    .await;
    assert_eq!(r.status, 201);
    let f = r.json();
    let id = f["id"].as_str().unwrap_or("").to_string();
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders"),
        json!({"displayName": "reports"}),
        false,
    )
    .await;
    assert_eq!(r.status, 409);
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/{id}/childFolders"),
        json!({"displayName": "Q1"}),
        false,
    )
    .await;
    assert_eq!(r.status, 201);
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/mailFolders/{id}"),
        &[JSON],
        json!({"displayName": "Reports 2026"})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["displayName"], "Reports 2026");
    assert_eq!(r.json()["childFolderCount"], 1);
    // move: under Archive, same id; not into itself; not a well-known folder.
    let archive = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/archive"),
    )
    .await
    .json();
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/{id}/move"),
        json!({"destinationId": "archive"}),
        false,
    )
    .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["parentFolderId"], archive["id"]);
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/{id}/move"),
        json!({"destinationId": id}),
        false,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/move"),
        json!({"destinationId": "archive"}),
        false,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/mailFolders/inbox"),
        &[JSON],
        json!({"displayName": "x"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/mailFolders/inbox"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/mailFolders/{id}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    let f = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/{id}"))
        .await
        .json();
    let del = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/deleteditems"),
    )
    .await
    .json();
    assert_eq!(f["parentFolderId"], del["id"]);
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/mailFolders/{id}"),
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/{id}"))
            .await
            .status,
        404
    );
}

/// The one answer Exchange gives to a second folder of one name under one parent (compared
/// without regard to case): 409 ErrorFolderExists, with nothing changed. For create, rename,
/// move, and the move into Deleted Items that a DELETE is.
#[tokio::test]
async fn duplicate_sibling_names_are_refused_with_409() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let folders = format!("/users/{ALICE_ENC}/mailFolders");
    let create = |name: &str, parent: Option<&str>| {
        let path = match parent {
            Some(parent) => format!("{folders}/{parent}/childFolders"),
            None => folders.clone(),
        };
        let body = json!({ "displayName": name });
        let (s, t) = (&s, &t);
        async move { post_json(s, t, &path, body, false).await }
    };
    let refused = |r: &Resp, what: &str| {
        assert_eq!(
            r.status,
            409,
            "{what}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let error = &r.json()["error"];
        assert_eq!(error["code"], "ErrorFolderExists", "{what}");
        assert_eq!(
            error["message"], "A folder with the specified name already exists.",
            "{what}"
        );
        assert!(error["innerError"]["request-id"].is_string(), "{what}");
    };
    let id_of = |r: Resp| r.json()["id"].as_str().unwrap_or("").to_string();
    let first = create("Clash", None).await;
    assert_eq!(first.status, 201);
    let first = id_of(first);
    refused(
        &create("CLASH", None).await,
        "create beside a sibling of that name",
    );
    let other = create("Other", None).await;
    assert_eq!(other.status, 201);
    let other = id_of(other);
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("{folders}/{other}"),
        &[JSON],
        json!({"displayName": "clash"}).to_string().as_bytes(),
    )
    .await;
    refused(&r, "rename to a sibling's name");
    let shown = get(s.addr, &t, &format!("{folders}/{other}")).await.json();
    assert_eq!(
        shown["displayName"], "Other",
        "a refused rename changes nothing"
    );

    let holder = id_of(create("Holder", None).await);
    assert_eq!(create("Other", Some(&holder)).await.status, 201);
    let r = post_json(
        &s,
        &t,
        &format!("{folders}/{other}/move"),
        json!({ "destinationId": holder }),
        false,
    )
    .await;
    refused(&r, "move into a parent holding that name");
    let shown = get(s.addr, &t, &format!("{folders}/{other}")).await.json();
    assert_ne!(
        shown["parentFolderId"],
        holder.as_str(),
        "a refused move moves nothing"
    );

    // DELETE moves a folder into Deleted Items; one of that name there already refuses it.
    let delete = |id: String| {
        let (s, t, path) = (&s, &t, format!("{folders}/{id}"));
        async move { send(s.addr, t, "DELETE", &path, &[], b"").await }
    };
    assert_eq!(delete(first.clone()).await.status, 204);
    let again = id_of(create("Clash", None).await);
    refused(
        &delete(again.clone()).await,
        "delete beside a deleted folder of that name",
    );
    let shown = get(s.addr, &t, &format!("{folders}/{again}")).await.json();
    let deleted_items = get(s.addr, &t, &format!("{folders}/deleteditems"))
        .await
        .json();
    assert_ne!(
        shown["parentFolderId"], deleted_items["id"],
        "a refused delete leaves it"
    );
    // Renamed first, it goes.
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("{folders}/{again}"),
        &[JSON],
        json!({"displayName": "Clash (2)"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(delete(again).await.status, 204);
}

#[tokio::test]
async fn message_delta_rounds_changes_and_removals() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let first = format!(
        "http://{}/v1.0/users/{ALICE_ENC}/mailFolders/inbox/messages/delta?$select=subject,isRead",
        s.addr
    );
    let (items, delta) = round(&s, &t, &first).await;
    let inbox = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    assert_eq!(
        items.len() as u64,
        inbox["totalItemCount"].as_u64().unwrap_or(0)
    );
    // Nothing changed: empty round.
    let (none, delta) = round(&s, &t, &delta).await;
    assert!(none.is_empty());
    // A delivery, a read-flag change and a move out.
    let raw = b"From: x@y.z\r\nSubject: new one\r\n\r\nhi\r\n";
    let d = request(
        s.addr,
        "POST",
        "/_emulator/mailboxes/alice@contoso.example/deliver?folder=inbox",
        &[],
        raw,
    )
    .await
    .json();
    let new_id = d["immutableId"].as_str().unwrap_or("").to_string();
    let a = items[0]["id"].as_str().unwrap_or("").to_string();
    let b = items[1]["id"].as_str().unwrap_or("").to_string();
    send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/messages/{a}"),
        &[JSON, IMM],
        json!({"isRead": true}).to_string().as_bytes(),
    )
    .await;
    post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{b}/move"),
        json!({"destinationId": "archive"}),
        true,
    )
    .await;
    let (changes, delta2) = round(&s, &t, &delta).await;
    let ids: Vec<&str> = changes.iter().filter_map(|c| c["id"].as_str()).collect();
    assert!(
        ids.contains(&new_id.as_str()) && ids.contains(&a.as_str()) && ids.contains(&b.as_str()),
        "{changes:?}"
    );
    let removed = changes
        .iter()
        .find(|c| c["id"] == b.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(removed["@removed"]["reason"], "changed");
    let added = changes
        .iter()
        .find(|c| c["id"] == new_id.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(added["subject"], "new one");
    // Replaying an old deltaLink is allowed (duplicates possible).
    let (again, _) = round(&s, &t, &delta).await;
    assert!(again.len() >= 3);
    // Invalidated tokens → 410 SyncStateNotFound.
    let r = request(
        s.addr,
        "POST",
        "/_emulator/faults",
        &[JSON],
        json!({"invalidateDeltaTokens": true})
            .to_string()
            .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = follow(&s, &t, &delta2, &[IMM]).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.error_code(), "SyncStateNotFound");
    let r = follow(
        &s,
        &t,
        &format!(
            "http://{}/v1.0/users/{ALICE_ENC}/mailFolders/inbox/messages/delta?$deltatoken=bogus",
            s.addr
        ),
        &[IMM],
    )
    .await;
    assert_eq!(r.status, 410);
}

#[tokio::test]
async fn folder_delta_sees_new_folders() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let first = format!("http://{}/v1.0/users/{ALICE_ENC}/mailFolders/delta", s.addr);
    let (all, delta) = round(&s, &t, &first).await;
    assert!(all.iter().any(|f| f["displayName"] == "2026"));
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders"),
        json!({"displayName": "Fresh"}),
        false,
    )
    .await;
    assert_eq!(r.status, 201);
    let (changes, _) = round(&s, &t, &delta).await;
    assert!(
        changes.iter().any(|f| f["displayName"] == "Fresh"),
        "{changes:?}"
    );
}

#[tokio::test]
async fn send_mail_saves_and_delivers_locally() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let vm_before = get(
        s.addr,
        &t,
        "/users/voicemail%40contoso.example/mailFolders/inbox",
    )
    .await
    .json()["totalItemCount"]
        .as_u64()
        .unwrap_or(0);
    let sent_before = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/sentitems"),
    )
    .await
    .json()["totalItemCount"]
        .as_u64()
        .unwrap_or(0);
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/sendMail"), json!({
        "message": {"subject": "hello vm", "body": {"contentType": "text", "content": "hi"},
                     "toRecipients": [{"emailAddress": {"address": "voicemail@contoso.example"}}]},
        "saveToSentItems": true
    }), false).await;
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());
    let vm_after = get(
        s.addr,
        &t,
        "/users/voicemail%40contoso.example/mailFolders/inbox",
    )
    .await
    .json()["totalItemCount"]
        .as_u64()
        .unwrap_or(0);
    let sent_after = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/sentitems"),
    )
    .await
    .json()["totalItemCount"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(vm_after, vm_before + 1);
    assert_eq!(sent_after, sent_before + 1);
    let mime = b"From: alice@contoso.example\r\nTo: carol@contoso.example\r\nSubject: mime send\r\n\r\nx\r\n";
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/sendMail"),
        &[("Content-Type", "text/plain")],
        b64(mime).as_bytes(),
    )
    .await;
    assert_eq!(r.status, 202);
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/sendMail"),
        json!({"message": {"subject": "no rcpt"}}),
        false,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn roles_are_enforced_per_application() {
    use imap2graph_emulator::{demo, AppConfig, Emulator, EmulatorConfig, Secret};
    let mut c = EmulatorConfig::demo();
    c.tenants[0].apps.push(AppConfig {
        client_id: "22222222-2222-3333-4444-555555555555".into(),
        secret: Secret::new("reader-secret"),
        secret_expired: false,
        roles: vec!["Mail.Read".into()],
    });
    c.tenants[0].apps.push(AppConfig {
        client_id: "33333333-2222-3333-4444-555555555555".into(),
        secret: Secret::new("old-secret"),
        secret_expired: true,
        roles: vec!["Mail.Read".into()],
    });
    assert_eq!(format!("{:?}", Secret::new("reader-secret")), "***");
    let s = start(Emulator::with_config(c)).await;
    let r = token_for(
        s.addr,
        demo::TENANT,
        "22222222-2222-3333-4444-555555555555",
        "reader-secret",
    )
    .await;
    let t = r.json()["access_token"].as_str().unwrap_or("").to_string();
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
            .await
            .status,
        200
    );
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders"),
        json!({"displayName": "nope"}),
        false,
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.error_code(), "ErrorAccessDenied");
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/sendMail"),
        json!({"message": {}}),
        false,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = token_for(
        s.addr,
        demo::TENANT,
        "33333333-2222-3333-4444-555555555555",
        "old-secret",
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(r.json()["error_description"]
        .as_str()
        .is_some_and(|d| d.starts_with("AADSTS7000222:")));
}

#[tokio::test]
async fn sending_a_draft_moves_it_to_sent_items() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/messages"), json!({
        "subject": "to send", "toRecipients": [{"emailAddress": {"address": "voicemail@contoso.example"}}]
    }), true).await;
    let id = r.json()["id"].as_str().unwrap_or("").to_string();
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/messages/{id}"),
        &[JSON, IMM],
        json!({"subject": "edited draft"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["subject"], "edited draft");
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert!(String::from_utf8_lossy(&v.body).contains("Subject: edited draft"));
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages/{id}/send"),
        &[IMM],
        b"",
    )
    .await;
    assert_eq!(r.status, 202);
    let m = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{id}"))
        .await
        .json();
    let sent = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/sentitems"),
    )
    .await
    .json();
    assert_eq!(m["isDraft"], false);
    assert_eq!(m["parentFolderId"], sent["id"]);
}

#[tokio::test]
async fn attachments_list_get_value_and_add() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let j = get(
        s.addr,
        &t,
        "/users/voicemail%40contoso.example/mailFolders/inbox/messages?$top=1&$select=id",
    )
    .await
    .json();
    let id = j["value"][0]["id"].as_str().unwrap_or("").to_string();
    let r = get(
        s.addr,
        &t,
        &format!("/users/voicemail%40contoso.example/messages/{id}/attachments"),
    )
    .await;
    assert_eq!(r.status, 200);
    let list = r.json()["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(list.len(), 1);
    let a = &list[0];
    assert_eq!(a["@odata.type"], "#microsoft.graph.fileAttachment");
    assert_eq!(a["contentType"], "audio/mpeg");
    let aid = a["id"].as_str().unwrap_or("").to_string();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(a["contentBytes"].as_str().unwrap_or(""))
        .expect("b64");
    assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64));
    let r = get(
        s.addr,
        &t,
        &format!("/users/voicemail%40contoso.example/messages/{id}/attachments/{aid}/$value"),
    )
    .await;
    assert_eq!(r.body, bytes);
    assert!(r
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("audio/mpeg")));
    let r = get(
        s.addr,
        &t,
        &format!(
            "/users/voicemail%40contoso.example/messages/{id}/attachments/{aid}?$select=name,size"
        ),
    )
    .await;
    assert!(r.json().get("contentBytes").is_none());
    // Add a small attachment to a new draft.
    let d = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({"subject": "with file", "body": {"contentType": "text", "content": "see attached"}}),
        true,
    )
    .await
    .json();
    let did = d["id"].as_str().unwrap_or("").to_string();
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/messages/{did}/attachments"), json!({
        "@odata.type": "#microsoft.graph.fileAttachment", "name": "a.txt", "contentType": "text/plain",
        "contentBytes": b64(b"attached text")
    }), true).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let m = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{did}"))
        .await
        .json();
    assert_eq!(m["hasAttachments"], true);
    assert_eq!(m["body"]["contentType"], "html");
    assert!(m["body"]["content"]
        .as_str()
        .is_some_and(|c| c.contains("see attached")));
    let r = send(
        s.addr,
        &t,
        "GET",
        &format!("/users/{ALICE_ENC}/messages/{did}"),
        &[IMM, ("Prefer", "outlook.body-content-type=\"text\"")],
        b"",
    )
    .await;
    assert_eq!(
        r.json()["body"],
        json!({"contentType": "text", "content": "see attached\r\n"})
    );
    assert!(r
        .header("Preference-Applied")
        .is_some_and(|p| p.contains("outlook.body-content-type")));
}

/// `$value` of a message created from JSON is Exchange's rendering of the item, and changes
/// when an attachment is added or deleted; an attachment keeps its id when another one goes,
/// and a deleted one is gone (404).
#[tokio::test]
async fn attachments_added_and_deleted_change_the_mime() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let audio: Vec<u8> = (0..70_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let d = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages"),
        json!({
            "subject": "Voice message",
            "body": {"contentType": "text", "content": "You received a voice message."},
            "singleValueExtendedProperties": [
                {"id": "Integer 0x0E07", "value": "1"},
                {"id": "SystemTime 0x0039", "value": "2026-03-09T17:03:11Z"}
            ],
            "attachments": [{
                "@odata.type": "#microsoft.graph.fileAttachment", "name": "message.mp3",
                "contentType": "audio/mpeg", "contentBytes": b64(&audio)
            }]
        }),
        true,
    )
    .await;
    assert_eq!(d.status, 201, "{}", String::from_utf8_lossy(&d.body));
    let did = d.json()["id"].as_str().unwrap_or("").to_string();
    let value = |s: &Server, t: &str| {
        let path = format!("/users/{ALICE_ENC}/messages/{did}/$value");
        let (addr, t) = (s.addr, t.to_string());
        async move { String::from_utf8_lossy(&get(addr, &t, &path).await.body).into_owned() }
    };
    let first = value(&s, &t).await;
    for wanted in [
        "Date: Mon, 9 Mar 2026 17:03:11 +0000\r\n",
        "Content-Type: audio/mpeg; name=\"message.mp3\"\r\n",
        "Content-Disposition: attachment; filename=\"message.mp3\"; size=70000;",
        "Content-Transfer-Encoding: base64\r\n",
        "Content-Type: text/plain; charset=\"us-ascii\"\r\nContent-Transfer-Encoding: quoted-printable\r\n",
    ] {
        assert!(first.contains(wanted), "{wanted:?} not in {first}");
    }
    let list_ids = |s: &Server, t: &str| {
        let path = format!("/users/{ALICE_ENC}/messages/{did}/attachments?$select=id,name");
        let (addr, t) = (s.addr, t.to_string());
        async move {
            get(addr, &t, &path).await.json()["value"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|a| {
                    (
                        a["name"].as_str().unwrap_or("").to_string(),
                        a["id"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments"),
        json!({
            "@odata.type": "#microsoft.graph.fileAttachment", "name": "transcript.txt",
            "contentType": "text/plain", "contentBytes": b64(b"hello there")
        }),
        true,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let second = value(&s, &t).await;
    assert!(second.contains("name=\"transcript.txt\""), "{second}");
    let ids = list_ids(&s, &t).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let (mp3, transcript) = (ids[0].1.clone(), ids[1].1.clone());
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/{mp3}/$value"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, audio);
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/{mp3}"),
        &[IMM],
        b"",
    )
    .await;
    assert_eq!(r.status, 204, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.body.is_empty());
    let third = value(&s, &t).await;
    assert!(!third.contains("message.mp3"), "{third}");
    assert!(third.contains("name=\"transcript.txt\""), "{third}");
    assert_eq!(
        list_ids(&s, &t).await,
        vec![("transcript.txt".to_string(), transcript)]
    );
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/{mp3}"),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/{mp3}"),
        &[IMM],
        b"",
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn upload_session_in_chunks() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let d = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({"subject": "big"}),
        true,
    )
    .await
    .json();
    let did = d["id"].as_str().unwrap_or("").to_string();
    let size: usize = 5 * 1024 * 1024 + 123;
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/createUploadSession"),
        json!({"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": 1000}}),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error_code(),
        "ErrorAttachmentSizeShouldNotBeLessThanMinimumSize"
    );
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/createUploadSession"),
        json!({"AttachmentItem": {"attachmentType": "file", "name": "big.bin", "size": size}}),
        true,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let sess = r.json();
    assert_eq!(sess["nextExpectedRanges"], json!(["0-"]));
    let url = link_target(sess["uploadUrl"].as_str().unwrap_or(""));
    let chunk = 3 * 1024 * 1024;
    // An Authorization header is refused.
    let auth = format!("Bearer {t}");
    let range0 = format!("bytes 0-{}/{size}", chunk - 1);
    let r = request(
        s.addr,
        "PUT",
        &url,
        &[("Authorization", &auth), ("Content-Range", &range0)],
        &data[..chunk],
    )
    .await;
    assert_eq!(r.status, 401);
    // Out of order → 416.
    let bad = format!("bytes 10-{}/{size}", chunk + 9);
    let r = request(
        s.addr,
        "PUT",
        &url,
        &[("Content-Range", &bad)],
        &data[10..chunk + 10],
    )
    .await;
    assert_eq!(r.status, 416);
    let r = request(
        s.addr,
        "PUT",
        &url,
        &[
            ("Content-Range", &range0),
            ("Content-Type", "application/octet-stream"),
        ],
        &data[..chunk],
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["nextExpectedRanges"], json!([chunk.to_string()]));
    let range1 = format!("bytes {chunk}-{}/{size}", size - 1);
    let r = request(
        s.addr,
        "PUT",
        &url,
        &[("Content-Range", &range1)],
        &data[chunk..],
    )
    .await;
    assert_eq!(r.status, 201);
    assert!(r.body.is_empty());
    let loc = r.header("Location").unwrap_or("").to_string();
    let att_id = loc
        .rsplit("Attachments('")
        .next()
        .unwrap_or("")
        .trim_end_matches("')")
        .to_string();
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{did}/attachments/{att_id}/$value"),
    )
    .await;
    assert_eq!(v.status, 200);
    assert_eq!(v.body.len(), size);
    assert!(v.body == data);
    let stats = s.emu.stats_json();
    assert!(stats["bytesUploaded"].as_u64().unwrap_or(0) >= size as u64);
}

#[tokio::test]
async fn delta_with_received_filter() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let all = get(
        s.addr,
        &t,
        &format!(
            "/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=1000&$select=receivedDateTime"
        ),
    )
    .await
    .json();
    let dates: Vec<String> = all["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["receivedDateTime"].as_str().map(|s| s.to_string()))
                .collect()
        })
        .unwrap_or_default();
    let mid = dates[dates.len() / 3].clone();
    let expect = dates.iter().filter(|d| d.as_str() >= mid.as_str()).count();
    let first = format!("http://{}/v1.0/users/{ALICE_ENC}/mailFolders/inbox/messages/delta?$filter=receivedDateTime+ge+{mid}&$orderby=receivedDateTime+desc", s.addr);
    let (items, _) = round(&s, &t, &first).await;
    assert_eq!(items.len(), expect);
    let bad =
        format!("/users/{ALICE_ENC}/mailFolders/inbox/messages/delta?$filter=isRead%20eq%20false");
    assert_eq!(get(s.addr, &t, &bad).await.status, 400);
}

#[tokio::test]
async fn custom_internet_message_headers_on_create() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/messages"), json!({
        "subject": "hdr", "internetMessageHeaders": [{"name": "x-imap2graph-test", "value": "yes"}]
    }), true).await;
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap_or("").to_string();
    let v = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert!(String::from_utf8_lossy(&v.body).contains("x-imap2graph-test: yes\r\n"));
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({
            "subject": "hdr", "internetMessageHeaders": [{"name": "Received", "value": "forged"}]
        }),
        true,
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "InvalidInternetMessageHeader");
}

#[tokio::test]
async fn upload_budget_session_limits_and_orderby() {
    use imap2graph_emulator::{Emulator, EmulatorConfig};
    let mut c = EmulatorConfig::demo();
    c.throttle.max_upload_bytes = 4_000;
    // Outlook's body, which names the limit met.
    c.throttle.body = imap2graph_emulator::ThrottleBody::Outlook;
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    let big = json!({"subject": "x".repeat(2_500)});
    let r = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        big.clone(),
        true,
    )
    .await;
    assert_eq!(r.status, 201);
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/messages"), big, true).await;
    assert_eq!(r.status, 429);
    assert!(r.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("MailboxUploadSize")));
    assert!(r.header("Retry-After").is_some());
    // Reads are not uploads.
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
            .await
            .status,
        200
    );

    let s = demo_server().await;
    let t = token(s.addr).await;
    let d = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/messages"),
        json!({"subject": "s"}),
        true,
    )
    .await
    .json();
    let id = d["id"].as_str().unwrap_or("").to_string();
    let r = post_json(&s, &t, &format!("/users/{ALICE_ENC}/messages/{id}/attachments/createUploadSession"),
        json!({"AttachmentItem": {"attachmentType": "file", "name": "huge", "size": 200u64 * 1024 * 1024}}), true).await;
    assert_eq!(r.status, 413);
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$orderby=subject&$select=subject&$top=1000")).await;
    assert_eq!(r.status, 200);
    let subjects: Vec<String> = r.json()["value"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m["subject"].as_str().map(|s| s.to_lowercase()))
                .collect()
        })
        .unwrap_or_default();
    assert!(subjects.windows(2).all(|w| w[0] <= w[1]));
}

#[tokio::test]
async fn folder_delta_reports_removed_folders() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let f = post_json(
        &s,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders"),
        json!({"displayName": "Doomed"}),
        false,
    )
    .await
    .json();
    let fid = f["id"].as_str().unwrap_or("").to_string();
    let first = format!("http://{}/v1.0/users/{ALICE_ENC}/mailFolders/delta", s.addr);
    let (_, delta) = round(&s, &t, &first).await;
    // Delete twice: first into Deleted Items (an update), then for good (a removal).
    send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/mailFolders/{fid}"),
        &[],
        b"",
    )
    .await;
    let (changes, delta) = round(&s, &t, &delta).await;
    let moved = changes
        .iter()
        .find(|c| c["id"] == fid.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    let deleted_items = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/deleteditems"),
    )
    .await
    .json();
    assert_eq!(moved["parentFolderId"], deleted_items["id"]);
    send(
        s.addr,
        &t,
        "DELETE",
        &format!("/users/{ALICE_ENC}/mailFolders/{fid}"),
        &[],
        b"",
    )
    .await;
    let (changes, _) = round(&s, &t, &delta).await;
    let removed = changes
        .iter()
        .find(|c| c["id"] == fid.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(removed["@removed"]["reason"], "deleted");
}
