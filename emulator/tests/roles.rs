//! Contract tests of application permissions: the identity platform puts an application's
//! granted permissions in its token's `roles` claim (a JWT: header.payload.signature, each
//! base64url; https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference),
//! and Graph answers a call the roles do not cover with 403 `ErrorAccessDenied`, "Access is
//! denied. Check credentials and try again." (see `GraphError::access_denied`), also inside a
//! `$batch`, changing nothing.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use imap2graph_emulator::demo;
use serde_json::{json, Value};

/// The demo's read-only application's token.
async fn read_only_token(s: &Server) -> String {
    let r = token_for(
        s.addr,
        demo::TENANT,
        demo::READONLY_CLIENT_ID,
        demo::READONLY_SECRET,
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// The header and payload of a JWT, decoded (the signature only checked to be base64url).
fn jwt_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts");
    let decode = |part: &str| -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url without padding");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    assert!(URL_SAFE_NO_PAD.decode(parts[2]).is_ok(), "signature");
    (decode(parts[0]), decode(parts[1]))
}

fn assert_access_denied(r: &Resp) {
    assert_eq!(r.status, 403, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["error"]["code"], "ErrorAccessDenied");
    assert_eq!(
        j["error"]["message"],
        "Access is denied. Check credentials and try again."
    );
    assert!(j["error"]["innerError"]["request-id"].is_string());
    assert!(j["error"]["innerError"]["date"].is_string());
}

#[tokio::test]
async fn tokens_carry_the_applications_roles() {
    let s = demo_server().await;
    let (header, payload) = jwt_parts(&token(s.addr).await);
    assert_eq!(header["typ"], "JWT");
    assert_eq!(payload["appid"], demo::CLIENT_ID);
    assert_eq!(payload["tid"], demo::TENANT_ID);
    assert_eq!(payload["aud"], "https://graph.microsoft.com");
    let roles = payload["roles"].as_array().cloned().unwrap_or_default();
    assert!(roles.contains(&json!("Mail.ReadWrite")), "{roles:?}");

    let (_, payload) = jwt_parts(&read_only_token(&s).await);
    assert_eq!(payload["appid"], demo::READONLY_CLIENT_ID);
    assert_eq!(payload["roles"], json!(["Mail.Read"]));
    assert_eq!(payload["idtyp"], "app");
}

#[tokio::test]
async fn writes_without_mail_readwrite_are_denied_and_change_nothing() {
    let s = demo_server().await;
    let t = read_only_token(&s).await;
    let inbox = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await;
    assert_eq!(inbox.status, 200, "Mail.Read reads folders");
    let inbox_id = inbox.json()["id"].as_str().expect("id").to_string();
    let listed = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=1&$select=id,isRead,flag"),
    )
    .await;
    assert_eq!(listed.status, 200, "Mail.Read reads messages");
    let message = listed.json()["value"][0].clone();
    let id = message["id"].as_str().expect("id").to_string();
    let was_read = message["isRead"].clone();
    let raw = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert_eq!(raw.status, 200, "Mail.Read reads MIME");

    let json_type = [("Content-Type", "application/json")];
    let message_path = format!("/users/{ALICE_ENC}/messages/{id}");
    let patch = json!({"isRead": !was_read.as_bool().unwrap_or(false)}).to_string();
    let attempts: Vec<(&str, String, String)> = vec![
        ("PATCH", message_path.clone(), patch),
        ("DELETE", message_path.clone(), String::new()),
        (
            "POST",
            format!("{message_path}/copy"),
            json!({"destinationId": "deleteditems"}).to_string(),
        ),
        (
            "POST",
            format!("{message_path}/move"),
            json!({"destinationId": "deleteditems"}).to_string(),
        ),
        (
            "POST",
            format!("/users/{ALICE_ENC}/mailFolders/{inbox_id}/messages"),
            json!({"subject": "not allowed"}).to_string(),
        ),
        (
            "POST",
            format!("/users/{ALICE_ENC}/mailFolders"),
            json!({"displayName": "Not allowed"}).to_string(),
        ),
    ];
    for (method, path, body) in &attempts {
        let r = send(s.addr, &t, method, path, &json_type, body.as_bytes()).await;
        assert_access_denied(&r);
    }

    // Inside a $batch: the read is served, the write denied.
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": format!("/users/alice@contoso.example/messages/{id}?$select=isRead")},
        {"id": "2", "method": "PATCH", "url": format!("/users/alice@contoso.example/messages/{id}"),
         "headers": {"Content-Type": "application/json"}, "body": {"isRead": true, "flag": {"flagStatus": "flagged"}}},
    ]});
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &json_type,
        batch.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let responses = r.json()["responses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let by = |want: &str| {
        responses
            .iter()
            .find(|x| x["id"] == want)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by("1")["status"], 200);
    assert_eq!(by("2")["status"], 403);
    assert_eq!(by("2")["body"]["error"]["code"], "ErrorAccessDenied");

    // Nothing changed: the message is where it was, as it was; no folder was made.
    let again = get(
        s.addr,
        &t,
        &format!("{message_path}?$select=isRead,parentFolderId,flag"),
    )
    .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["isRead"], was_read);
    assert_eq!(again.json()["parentFolderId"], inbox_id.as_str());
    assert_eq!(again.json()["flag"], message["flag"]);
    let folders = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders?$top=100"),
    )
    .await;
    assert!(!String::from_utf8_lossy(&folders.body).contains("Not allowed"));

    // The read-write application may do what was denied.
    let rw = token(s.addr).await;
    let message_patch = json!({"isRead": !was_read.as_bool().unwrap_or(false)}).to_string();
    let r = send(
        s.addr,
        &rw,
        "PATCH",
        &message_path,
        &json_type,
        message_patch.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
