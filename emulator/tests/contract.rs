//! Contract tests: HTTP straight at a served emulator, each assertion taken from the
//! Microsoft documentation cited beside the emulator code it exercises.

mod common;

use common::*;
use imap2graph_emulator::{
    demo, Emulator, EmulatorConfig, FaultConfig, ThrottleBody, ThrottleLimits,
};
use serde_json::{json, Value};

// ---------------------------------------------------------------- identity platform

#[tokio::test]
async fn token_success_shape() {
    let s = demo_server().await;
    let r = token_for(s.addr, demo::TENANT, demo::CLIENT_ID, demo::SECRET).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["token_type"], "Bearer");
    assert_eq!(j["expires_in"], 3599);
    assert_eq!(j["ext_expires_in"], 3599);
    assert!(j["access_token"].as_str().is_some_and(|t| t.len() > 20));
    // By tenant GUID too.
    let r = token_for(s.addr, demo::TENANT_ID, demo::CLIENT_ID, demo::SECRET).await;
    assert_eq!(r.status, 200);
}

fn assert_idp_error(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(j["error"], error);
    let d = j["error_description"].as_str().unwrap_or("");
    assert!(d.starts_with(&format!("AADSTS{code}:")), "{d}");
    assert_eq!(j["error_codes"], json!([code]));
    for k in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(j[k].is_string(), "missing {k}");
    }
    assert!(!r
        .body
        .windows(demo::SECRET.len())
        .any(|w| w == demo::SECRET.as_bytes()));
}

#[tokio::test]
async fn token_errors() {
    let s = demo_server().await;
    let r = token_for(s.addr, demo::TENANT, demo::CLIENT_ID, "wrong").await;
    assert_idp_error(&r, 401, "invalid_client", 7000215);
    let r = token_for(
        s.addr,
        demo::TENANT,
        "99999999-2222-3333-4444-555555555555",
        demo::SECRET,
    )
    .await;
    assert_idp_error(&r, 400, "unauthorized_client", 700016);
    let r = token_for(s.addr, "fabrikam.example", demo::CLIENT_ID, demo::SECRET).await;
    assert_idp_error(&r, 400, "invalid_request", 90002);
    let r = token_for(s.addr, "not_a_tenant!", demo::CLIENT_ID, demo::SECRET).await;
    assert_idp_error(&r, 400, "invalid_request", 900023);
    let r = request(
        s.addr,
        "POST",
        "/contoso.example/oauth2/v2.0/token",
        &[],
        &form(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::SECRET),
            ("scope", "https://graph.microsoft.com/Mail.Read"),
        ]),
    )
    .await;
    assert_idp_error(&r, 400, "invalid_scope", 70011);
    let r = request(
        s.addr,
        "POST",
        "/contoso.example/oauth2/v2.0/token",
        &[],
        &form(&[
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::SECRET),
        ]),
    )
    .await;
    assert_idp_error(&r, 400, "invalid_request", 900144);
}

#[tokio::test]
async fn token_with_http_basic() {
    use base64::Engine;
    let s = demo_server().await;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            demo::CLIENT_ID,
            demo::SECRET
        ))
    );
    let r = request(
        s.addr,
        "POST",
        "/contoso.example/oauth2/v2.0/token",
        &[("Authorization", &basic)],
        &form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ]),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:nope", demo::CLIENT_ID))
    );
    let r = request(
        s.addr,
        "POST",
        "/contoso.example/oauth2/v2.0/token",
        &[("Authorization", &bad)],
        &form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ]),
    )
    .await;
    assert_idp_error(&r, 401, "invalid_client", 7000215);
    assert!(r
        .header("WWW-Authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
}

// ---------------------------------------------------------------- Graph authentication

#[tokio::test]
async fn graph_requires_a_valid_token() {
    let s = demo_server().await;
    let path = format!("/v1.0/users/{ALICE_ENC}/mailFolders");
    let r = request(s.addr, "GET", &path, &[], b"").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "InvalidAuthenticationToken");
    assert!(r
        .header("WWW-Authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let inner = &r.json()["error"]["innerError"];
    assert!(inner["request-id"].is_string() && inner["date"].is_string());
    let t = token(s.addr).await;
    let forged = format!("{}x", &t[..t.len() - 1]);
    let r = get(s.addr, &forged, &format!("/users/{ALICE_ENC}/mailFolders")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "InvalidAuthenticationToken");
    // Another emulator's token is forged as far as this one is concerned.
    let other = demo_server().await;
    let t2 = token(other.addr).await;
    let r = get(s.addr, &t2, &format!("/users/{ALICE_ENC}/mailFolders")).await;
    assert_eq!(r.status, 401);
    // /me with an application token.
    let r = get(s.addr, &t, "/me/mailFolders").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "BadRequest");
}

#[tokio::test]
async fn expired_token_is_refused() {
    let mut c = EmulatorConfig::demo();
    c.token_lifetime_secs = 1;
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}")).await.status,
        200
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}")).await;
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").is_some());
}

#[tokio::test]
async fn unknown_mailbox_and_unimplemented_routes() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = get(s.addr, &t, "/users/nobody%40contoso.example/mailFolders").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "ErrorInvalidUser");
    // A mailbox of another tenant is not this application's to see.
    let r = get(s.addr, &t, "/users/bob%40fabrikam.example/mailFolders").await;
    assert_eq!(r.status, 404);
    let r = get(s.addr, &t, "/users/nomailbox%40contoso.example").await;
    assert_eq!(r.status, 200);
    let r = get(
        s.addr,
        &t,
        "/users/nomailbox%40contoso.example/mailFolders/inbox",
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "MailboxNotEnabledForRESTAPI");
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/calendar/events")).await;
    assert_eq!(r.status, 501);
    assert!(r.json()["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("/users/{id}/calendar/events")));
    let r = request(s.addr, "GET", "/v2.0/whatever", &[], b"").await;
    assert_eq!(r.status, 501);
}

// ---------------------------------------------------------------- folders

#[tokio::test]
async fn root_folders_are_paged_by_ten_with_absolute_next_links() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders")).await;
    assert_eq!(r.status, 200);
    let j = r.json();
    let first: Vec<Value> = j["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(first.len(), 10);
    let next = j["@odata.nextLink"].as_str().expect("nextLink");
    assert!(
        next.starts_with(&format!("http://{}/v1.0/", s.addr)),
        "{next}"
    );
    let r2 = request(
        s.addr,
        "GET",
        &link_target(next),
        &[("Authorization", &format!("Bearer {t}"))],
        b"",
    )
    .await;
    assert_eq!(r2.status, 200);
    let j2 = r2.json();
    let second = j2["value"].as_array().cloned().unwrap_or_default();
    assert!(!second.is_empty());
    assert!(j2.get("@odata.nextLink").is_none());
    let names: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|f| f["displayName"].as_str().unwrap_or("").to_string())
        .collect();
    for n in [
        "Inbox",
        "Sent Items",
        "Drafts",
        "Deleted Items",
        "Junk Email",
        "Archive",
        "Clients",
        "Überprüfung",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|x| x == "Sync State"),
        "hidden folder listed"
    );
    for f in first.iter().chain(second.iter()) {
        for k in [
            "id",
            "displayName",
            "parentFolderId",
            "childFolderCount",
            "unreadItemCount",
            "totalItemCount",
            "isHidden",
        ] {
            assert!(f.get(k).is_some(), "{k} missing in {f}");
        }
    }
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders?includeHiddenFolders=true&$top=100"),
    )
    .await;
    let j = r.json();
    let hidden: Vec<&Value> = j["value"]
        .as_array()
        .map(|a| a.iter().filter(|f| f["isHidden"] == true).collect())
        .unwrap_or_default();
    assert_eq!(hidden.len(), 1);
    assert!(j.get("@odata.nextLink").is_none());
}

#[tokio::test]
async fn folders_by_well_known_name_children_and_select() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await;
    assert_eq!(r.status, 200);
    let inbox = r.json();
    assert_eq!(inbox["displayName"], "Inbox");
    assert_eq!(inbox["childFolderCount"], 2);
    let inbox_id = inbox["id"].as_str().unwrap_or("").to_string();
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/{inbox_id}"),
    )
    .await;
    assert_eq!(r.json()["id"], inbox["id"]);
    let root = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/msgfolderroot"),
    )
    .await
    .json();
    assert_eq!(inbox["parentFolderId"], root["id"]);
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/{inbox_id}/childFolders?$select=displayName"),
    )
    .await;
    let j = r.json();
    let kids = j["value"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = kids
        .iter()
        .filter_map(|k| k["displayName"].as_str())
        .collect();
    assert!(
        names.contains(&"Projects") && names.contains(&"Réunions"),
        "{names:?}"
    );
    for k in &kids {
        let keys: Vec<&String> = k
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert!(
            keys.iter().all(|k| *k == "id" || *k == "displayName"),
            "{keys:?}"
        );
    }
    for wk in [
        "sentitems",
        "drafts",
        "deleteditems",
        "junkemail",
        "archive",
        "SentItems",
    ] {
        let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/{wk}")).await;
        assert_eq!(r.status, 200, "{wk}");
        let r = get(
            s.addr,
            &t,
            &format!("/users/voicemail%40contoso.example/mailFolders/{wk}"),
        )
        .await;
        assert_eq!(r.status, 200, "voicemail {wk}");
    }
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/nonsense!"),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "ErrorInvalidIdMalformed");
    // A well-formed id of another mailbox is unknown here.
    let vm_inbox = get(
        s.addr,
        &t,
        "/users/voicemail%40contoso.example/mailFolders/inbox",
    )
    .await
    .json();
    let r = get(
        s.addr,
        &t,
        &format!(
            "/users/{ALICE_ENC}/mailFolders/{}",
            vm_inbox["id"].as_str().unwrap_or("")
        ),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.error_code(), "ErrorItemNotFound");
}

// ---------------------------------------------------------------- messages

#[tokio::test]
async fn message_list_paging_top_maxpagesize_count_orderby() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let base = format!("/users/{ALICE_ENC}/mailFolders/inbox/messages");
    let r = get(s.addr, &t, &base).await;
    let j = r.json();
    assert_eq!(j["value"].as_array().map(|a| a.len()), Some(10));
    assert!(j["@odata.nextLink"].is_string());
    let inbox = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    let total = inbox["totalItemCount"].as_u64().unwrap_or(0) as usize;
    let unread = inbox["unreadItemCount"].as_u64().unwrap_or(0) as usize;
    assert!(total >= 100);
    // $top=1000 gets everything in one page; $count matches.
    let r = get(
        s.addr,
        &t,
        &format!("{base}?$top=1000&$count=true&$select=isRead,receivedDateTime"),
    )
    .await;
    let j = r.json();
    let all = j["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), total);
    assert_eq!(j["@odata.count"], total);
    assert_eq!(all.iter().filter(|m| m["isRead"] == false).count(), unread);
    let dates: Vec<&str> = all
        .iter()
        .filter_map(|m| m["receivedDateTime"].as_str())
        .collect();
    assert!(
        dates.windows(2).all(|w| w[0] >= w[1]),
        "default is newest first"
    );
    // Prefer: odata.maxpagesize, following nextLinks to the end.
    let auth = format!("Bearer {t}");
    let mut target = format!("/v1.0{base}?$select=id&$orderby=receivedDateTime%20asc");
    let mut seen = Vec::new();
    loop {
        let r = request(
            s.addr,
            "GET",
            &target,
            &[
                ("Authorization", &auth),
                ("Prefer", "odata.maxpagesize=37"),
                ("Prefer", "IdType=\"ImmutableId\""),
            ],
            b"",
        )
        .await;
        assert_eq!(r.status, 200);
        let pa = r.header("Preference-Applied").unwrap_or("").to_string();
        assert!(pa.contains("odata.maxpagesize=37"), "{pa}");
        let j = r.json();
        let page = j["value"].as_array().cloned().unwrap_or_default();
        assert!(page.len() <= 37);
        seen.extend(
            page.into_iter()
                .map(|m| m["id"].as_str().unwrap_or("").to_string()),
        );
        match j["@odata.nextLink"].as_str() {
            Some(l) => target = link_target(l),
            None => break,
        }
    }
    assert_eq!(seen.len(), total);
    let uniq: std::collections::HashSet<&String> = seen.iter().collect();
    assert_eq!(uniq.len(), total, "pages overlap");
    let first_asc = &seen[0];
    let last_desc = all.last().and_then(|m| m["id"].as_str()).unwrap_or("");
    assert_eq!(first_asc, last_desc);
    for bad in ["$top=0", "$top=1001", "$top=abc"] {
        let r = get(s.addr, &t, &format!("{base}?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}");
    }
    let r = get(s.addr, &t, &format!("{base}?$select=nope")).await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn message_shape_value_and_extended_properties() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = get(
        s.addr,
        &t,
        &format!(
            "/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=200&$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200x1081'%20or%20id%20eq%20'Integer%200x0E08')"
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    let j = r.json();
    let msgs = j["value"].as_array().cloned().unwrap_or_default();
    let answered = msgs
        .iter()
        .filter(|m| {
            m["singleValueExtendedProperties"]
                .as_array()
                .is_some_and(|a| a.iter().any(|p| p["id"] == "Integer 0x1081"))
        })
        .count();
    assert!(answered > 0, "some seeded messages are answered");
    for m in &msgs {
        let props = m["singleValueExtendedProperties"]
            .as_array()
            .expect("expanded");
        assert!(
            props.iter().any(|p| p["id"] == "Integer 0xe08"),
            "normalised id"
        );
        for k in [
            "id",
            "receivedDateTime",
            "sentDateTime",
            "subject",
            "from",
            "toRecipients",
            "ccRecipients",
            "isRead",
            "isDraft",
            "flag",
            "categories",
            "hasAttachments",
            "internetMessageId",
            "parentFolderId",
            "bodyPreview",
            "importance",
            "body",
            "changeKey",
            "@odata.etag",
        ] {
            assert!(m.get(k).is_some(), "{k} missing");
        }
    }
    assert!(msgs.iter().any(|m| m["hasAttachments"] == true));
    assert!(msgs.iter().any(|m| m["flag"]["flagStatus"] == "flagged"));
    assert!(msgs
        .iter()
        .any(|m| m["categories"].as_array().is_some_and(|c| !c.is_empty())));
    assert!(msgs
        .iter()
        .any(|m| m["subject"].as_str().is_some_and(|s| !s.is_ascii())));
    // GET one message, by immutable id, then its MIME.
    let id = msgs[0]["id"].as_str().unwrap_or("").to_string();
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["id"], id.as_str());
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.body.starts_with(b"From: ") && r.body.windows(2).any(|w| w == b"\r\n"));
    // Unknown and malformed ids.
    let mut chars: Vec<char> = id.chars().collect();
    let i = chars.len() - 5;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let other: String = chars.into_iter().collect();
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{other}")).await;
    assert!(r.status == 404 || r.status == 400, "{}", r.status);
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages/{id}"),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/archive/messages/{id}"),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/abc")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.error_code(), "ErrorInvalidIdMalformed");
    // Ids are case-sensitive.
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{}", id.to_lowercase()),
    )
    .await;
    assert_ne!(r.status, 200);
}

#[tokio::test]
async fn deliver_stores_bytes_verbatim() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let raw = b"From: Zed <zed@example.org>\r\nTo: alice@contoso.example\r\nSubject: hi\r\nDate: Tue, 1 Sep 2026 10:00:00 +0000\r\nMessage-ID: <zed.1@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nodd  spacing\tkept\r\n.\r\n";
    let r = request(
        s.addr,
        "POST",
        "/_emulator/mailboxes/alice@contoso.example/deliver?folder=inbox",
        &[("Content-Type", "message/rfc822")],
        raw,
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    let id = j["immutableId"].as_str().unwrap_or("").to_string();
    let r = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/messages/{id}/$value"),
    )
    .await;
    assert_eq!(r.body, raw.to_vec());
    let m = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{id}"))
        .await
        .json();
    assert_eq!(m["isRead"], false);
    assert_eq!(m["isDraft"], false);
    assert_eq!(m["subject"], "hi");
    assert_eq!(m["internetMessageId"], "<zed.1@example.org>");
    // The default (REST) id finds the same message.
    let rest = j["id"].as_str().unwrap_or("");
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/{rest}")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn users_by_upn_any_case_and_by_guid() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let u = get(s.addr, &t, "/users/Alice%40Contoso.Example").await;
    assert_eq!(u.status, 200);
    let guid = u.json()["id"].as_str().unwrap_or("").to_string();
    assert_eq!(guid.len(), 36);
    let r = get(s.addr, &t, &format!("/users/{guid}/mailFolders/inbox")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["displayName"], "Inbox");
}

#[tokio::test]
async fn demo_ids_are_deterministic() {
    let a = demo_server().await;
    let b = demo_server().await;
    let ta = token(a.addr).await;
    let tb = token(b.addr).await;
    let p = format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=50&$select=id");
    assert_eq!(
        get(a.addr, &ta, &p).await.json()["value"],
        get(b.addr, &tb, &p).await.json()["value"]
    );
    let v = "/users/voicemail%40contoso.example/mailFolders/inbox/messages?$top=50&$select=hasAttachments";
    let j = get(a.addr, &ta, v).await.json();
    let vm = j["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(vm.len(), 20);
    assert!(vm.iter().all(|m| m["hasAttachments"] == true));
}

// ---------------------------------------------------------------- $batch

#[tokio::test]
async fn batch_basics_limits_and_dependencies() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let body = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"},
        {"id": "2", "method": "GET", "url": "users/alice@contoso.example/mailFolders?$top=2", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.example/mailFolders", "dependsOn": ["2"]},
        {"id": "4", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox", "dependsOn": ["3"]},
    ]});
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    let resps = j["responses"].as_array().cloned().unwrap_or_default();
    let by = |id: &str| {
        resps
            .iter()
            .find(|x| x["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(by("1")["status"], 200);
    assert_eq!(by("1")["body"]["displayName"], "Inbox");
    assert_eq!(
        by("2")["body"]["value"].as_array().map(|a| a.len()),
        Some(2)
    );
    assert_eq!(by("3")["status"], 404);
    assert_eq!(by("4")["status"], 424);
    // Mixed sequential/parallel → 400.
    let mixed = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"},
        {"id": "2", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"},
        {"id": "3", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox", "dependsOn": ["1"]},
    ]});
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        mixed.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    // 21 requests → 400; duplicate ids → 400.
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"}))
        .collect();
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        json!({"requests": many}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    let dup = json!({"requests": [
        {"id": "a", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"},
        {"id": "A", "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"},
    ]});
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        dup.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 400);
    // $value inside a batch comes back base64.
    let id = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=1&$select=id"),
    )
    .await
    .json()["value"][0]["id"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let b = json!({"requests": [{"id": "v", "method": "GET", "url": format!("/users/alice@contoso.example/messages/{id}/$value")}]});
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        b.to_string().as_bytes(),
    )
    .await;
    let v = &r.json()["responses"][0];
    assert_eq!(v["status"], 200);
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v["body"].as_str().unwrap_or(""))
        .expect("base64 body");
    assert!(decoded.starts_with(b"From: "));
}

// ---------------------------------------------------------------- stats, throttling

#[tokio::test]
async fn stats_count_routes_and_statuses() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    for _ in 0..3 {
        get(
            s.addr,
            &t,
            &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages"),
        )
        .await;
    }
    get(s.addr, &t, &format!("/users/{ALICE_ENC}/messages/abc")).await;
    let r = request(s.addr, "GET", "/_emulator/stats", &[], b"").await;
    let j = r.json();
    assert_eq!(
        j["routes"]["GET /users/{id}/mailFolders/{id}/messages"]["200"],
        3
    );
    assert_eq!(j["routes"]["GET /users/{id}/messages/{id}"]["400"], 1);
    assert_eq!(j["total"], 4);
    assert_eq!(j["mailboxRequests"]["alice@contoso.example"], 4);
    assert!(j["peakConcurrency"]["alice@contoso.example"].as_u64() >= Some(1));
    assert_eq!(s.emu.stats_json()["total"], 4);
}

#[tokio::test]
async fn fifth_concurrent_request_is_throttled() {
    let mut c = EmulatorConfig::demo();
    c.faults = FaultConfig {
        latency_ms: 400,
        ..FaultConfig::default()
    };
    c.throttle = ThrottleLimits {
        body: ThrottleBody::Outlook,
        ..ThrottleLimits::default()
    };
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let t = t.clone();
        let addr = s.addr;
        tasks.push(tokio::spawn(async move {
            get(addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await
        }));
    }
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for task in tasks {
        let r = task.await.expect("task");
        if r.status == 429 {
            assert_eq!(r.error_code(), "ApplicationThrottled");
            assert!(r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("MailboxConcurrency")));
            retry_after = r.header("Retry-After").map(|s| s.to_string());
        }
        statuses.push(r.status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 200, 200, 200, 429]);
    assert!(retry_after.is_some());
    let j = s.emu.stats_json();
    assert_eq!(j["throttled"], 1);
    assert_eq!(j["peakConcurrency"]["alice@contoso.example"], 4);
}

#[tokio::test]
async fn throttle_limits_at_run_time() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let r = request(s.addr, "GET", "/_emulator/throttle", &[], b"").await;
    assert_eq!(r.json()["maxConcurrent"], 4);
    assert_eq!(r.json()["requestWindowSecs"], 600.0);
    let r = request(
        s.addr,
        "POST",
        "/_emulator/throttle",
        &[("Content-Type", "application/json")],
        br#"{"maxRequests": 1, "requestWindowSecs": 30}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    let p = format!("/users/{ALICE_ENC}/mailFolders/inbox");
    assert_eq!(get(s.addr, &t, &p).await.status, 200);
    assert_eq!(get(s.addr, &t, &p).await.status, 429);
    let r = request(
        s.addr,
        "POST",
        "/_emulator/throttle",
        &[],
        br#"{"enabled": false}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(get(s.addr, &t, &p).await.status, 200);
    let r = request(
        s.addr,
        "POST",
        "/_emulator/throttle",
        &[],
        br#"{"requestWindowSecs": -1}"#,
    )
    .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn request_window_limit() {
    let mut c = EmulatorConfig::demo();
    c.throttle.max_requests = 3;
    c.throttle.request_window = std::time::Duration::from_millis(1500);
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    let p = format!("/users/{ALICE_ENC}/mailFolders/inbox");
    for _ in 0..3 {
        assert_eq!(get(s.addr, &t, &p).await.status, 200);
    }
    let r = get(s.addr, &t, &p).await;
    assert_eq!(r.status, 429);
    let ra: f64 = r
        .header("Retry-After")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(ra > 0.0 && ra <= 1.5, "{ra}");
    // The throttling page's sample response (https://learn.microsoft.com/graph/throttling).
    let error = &r.json()["error"];
    assert_eq!(error["code"], "TooManyRequests");
    assert_eq!(error["message"], "Please retry again later.");
    assert_eq!(error["innerError"]["code"], "429");
    assert_eq!(error["innerError"]["status"], "429");
    assert_eq!(error["innerError"]["message"], "Please retry after");
    assert!(error["innerError"]["request-id"].is_string());
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(get(s.addr, &t, &p).await.status, 200);
}

/// "All requests accrue against your usage limits" (https://learn.microsoft.com/graph/throttling):
/// a client that keeps sending while throttled stays throttled past the first Retry-After,
/// one that waits gets through; with `countRefused` off the refused ones do not count.
#[tokio::test]
async fn refused_requests_count_against_the_window() {
    for count_refused in [true, false] {
        let mut c = EmulatorConfig::demo();
        c.throttle.max_requests = 2;
        c.throttle.request_window = std::time::Duration::from_millis(1000);
        c.throttle.count_refused = count_refused;
        let s = start(Emulator::with_config(c)).await;
        let t = token(s.addr).await;
        let p = format!("/users/{ALICE_ENC}/mailFolders/inbox");
        assert_eq!(get(s.addr, &t, &p).await.status, 200);
        assert_eq!(get(s.addr, &t, &p).await.status, 200);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let mut retry_after = 0.0f64;
        for _ in 0..3 {
            let r = get(s.addr, &t, &p).await;
            assert_eq!(r.status, 429);
            retry_after = r
                .header("Retry-After")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0.0);
        }
        // Counted, the three refusals keep the window full until they leave it (~1 s after
        // them); not counted, it empties when the first two leave (~0.5 s).
        if count_refused {
            assert!(retry_after > 0.6, "countRefused: Retry-After {retry_after}");
        } else {
            assert!(retry_after <= 0.6, "Retry-After {retry_after}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let expected = if count_refused { 429 } else { 200 };
        assert_eq!(
            get(s.addr, &t, &p).await.status,
            expected,
            "countRefused {count_refused}"
        );
        let r = request(s.addr, "GET", "/_emulator/throttle", &[], b"").await;
        assert_eq!(r.json()["countRefused"], count_refused);
    }
}

// ---------------------------------------------------------------- eml seed

#[tokio::test]
async fn from_eml_dir_loads_folders_byte_for_byte() {
    let dir = std::env::temp_dir().join(format!("i2g-emu-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let inbox = dir.join("bob@example.net").join("Inbox");
    let nested = dir.join("bob@example.net").join("Projects").join("Ärger");
    std::fs::create_dir_all(&inbox).expect("mkdir");
    std::fs::create_dir_all(&nested).expect("mkdir");
    let m1 =
        b"From: a@b.c\r\nSubject: one\r\nDate: Mon, 5 Jan 2026 08:00:00 +0000\r\n\r\nbody1\r\n"
            .to_vec();
    let m2 = b"From: a@b.c\nSubject: two (bare LF kept)\nDate: Tue, 6 Jan 2026 08:00:00 +0000\n\nbody2\n".to_vec();
    std::fs::write(inbox.join("001.eml"), &m1).expect("write");
    std::fs::write(inbox.join("002.eml"), &m2).expect("write");
    std::fs::write(nested.join("x.eml"), &m1).expect("write");
    std::fs::write(inbox.join("notes.txt"), b"ignored").expect("write");
    let emu = Emulator::from_eml_dir(&dir).expect("load");
    let s = start(emu).await;
    let t = token(s.addr).await;
    let j = get(
        s.addr,
        &t,
        "/users/bob%40example.net/mailFolders/inbox/messages?$orderby=receivedDateTime%20asc",
    )
    .await
    .json();
    let msgs = j["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(msgs.len(), 2);
    let id = msgs[1]["id"].as_str().unwrap_or("");
    let raw = get(
        s.addr,
        &t,
        &format!("/users/bob%40example.net/messages/{id}/$value"),
    )
    .await;
    assert_eq!(raw.body, m2);
    let folders = get(s.addr, &t, "/users/bob%40example.net/mailFolders?$top=50")
        .await
        .json();
    let projects = folders["value"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["displayName"] == "Projects").cloned())
        .expect("Projects folder");
    assert_eq!(projects["childFolderCount"], 1);
    for wk in [
        "sentitems",
        "drafts",
        "deleteditems",
        "junkemail",
        "archive",
    ] {
        let r = get(
            s.addr,
            &t,
            &format!("/users/bob%40example.net/mailFolders/{wk}"),
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- faults

#[tokio::test]
async fn injected_errors_latency_and_clearing() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let faults = json!({"seed": 7, "latencyMs": 150, "errors": [
        {"route": "GET /users/{id}/mailFolders/{id}", "status": 503, "probability": 1.0, "retryAfter": 0.5}
    ]});
    let r = request(
        s.addr,
        "POST",
        "/_emulator/faults",
        &[("Content-Type", "application/json")],
        faults.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    let started = std::time::Instant::now();
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("0.5"));
    assert_eq!(r.error_code(), "ServiceNotAvailable");
    // Other routes are unaffected by that rule.
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders"))
            .await
            .status,
        200
    );
    let r = request(s.addr, "DELETE", "/_emulator/faults", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn error_rates_are_deterministic_under_a_seed() {
    async fn pattern() -> Vec<u16> {
        let s = demo_server().await;
        let t = token(s.addr).await;
        s.emu.set_faults(FaultConfig {
            seed: 42,
            errors: vec![imap2graph_emulator::ErrorFault {
                route: "".into(),
                status: 500,
                probability: 0.5,
                retry_after: None,
            }],
            ..FaultConfig::default()
        });
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(
                get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
                    .await
                    .status,
            );
        }
        v
    }
    let a = pattern().await;
    let b = pattern().await;
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn connection_reset_and_slow_bodies() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let p = format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=50");
    let full = get(s.addr, &t, &p).await;
    s.emu.set_faults(FaultConfig {
        reset_probability: 1.0,
        ..FaultConfig::default()
    });
    let cut = get(s.addr, &t, &p).await;
    assert!(
        cut.body.len() < full.body.len(),
        "{} vs {}",
        cut.body.len(),
        full.body.len()
    );
    s.emu.set_faults(FaultConfig {
        slow_body_bytes_per_sec: 20_000,
        ..FaultConfig::default()
    });
    let started = std::time::Instant::now();
    let slow = get(
        s.addr,
        &t,
        &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=5"),
    )
    .await;
    assert_eq!(slow.status, 200);
    assert!(serde_json::from_slice::<Value>(&slow.body).is_ok());
    if slow.body.len() > 4_000 {
        assert!(started.elapsed() >= std::time::Duration::from_millis(100));
    }
}

#[tokio::test]
async fn early_token_expiry() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let p = format!("/users/{ALICE_ENC}/mailFolders/inbox");
    assert_eq!(get(s.addr, &t, &p).await.status, 200);
    s.emu.set_faults(FaultConfig {
        token_early_expiry_secs: Some(0),
        ..FaultConfig::default()
    });
    let r = get(s.addr, &t, &p).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "InvalidAuthenticationToken");
    s.emu.set_faults(FaultConfig::default());
    assert_eq!(get(s.addr, &t, &p).await.status, 200);
}

#[tokio::test]
async fn batch_entries_take_concurrency_slots() {
    let mut c = EmulatorConfig::demo();
    c.faults = FaultConfig {
        latency_ms: 400,
        ..FaultConfig::default()
    };
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    let addr = s.addr;
    let t2 = t.clone();
    let direct = tokio::spawn(async move {
        get(addr, &t2, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let reqs: Vec<Value> = (0..4)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/alice@contoso.example/mailFolders/inbox"}))
        .collect();
    let r = send(
        s.addr,
        &t,
        "POST",
        "/$batch",
        &[("Content-Type", "application/json")],
        json!({"requests": reqs}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    let statuses: Vec<u64> = r.json()["responses"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["status"].as_u64()).collect())
        .unwrap_or_default();
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        1,
        "{statuses:?}"
    );
    let throttled = r.json()["responses"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["status"] == 429).cloned())
        .unwrap_or(Value::Null);
    assert!(throttled["headers"]["Retry-After"].is_string());
    assert_eq!(direct.await.expect("direct").status, 200);
}

#[tokio::test]
async fn reset_restores_the_seed() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let before = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    request(
        s.addr,
        "POST",
        "/_emulator/mailboxes/alice@contoso.example/deliver",
        &[],
        b"Subject: x\r\n\r\ny\r\n",
    )
    .await;
    let mid = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    assert_ne!(before["totalItemCount"], mid["totalItemCount"]);
    let r = request(s.addr, "POST", "/_emulator/reset", &[], b"").await;
    assert_eq!(r.status, 200);
    let after = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    assert_eq!(before, after);
    assert_eq!(s.emu.stats_json()["total"], 1);
}

#[tokio::test]
async fn slow_bodies_hold_their_concurrency_slot() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    s.emu.set_faults(FaultConfig {
        slow_body_bytes_per_sec: 10_000,
        ..FaultConfig::default()
    });
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let t = t.clone();
        let addr = s.addr;
        tasks.push(tokio::spawn(async move {
            get(
                addr,
                &t,
                &format!("/users/{ALICE_ENC}/mailFolders/inbox/messages?$top=10"),
            )
            .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox")).await;
    assert_eq!(
        r.status, 429,
        "a fifth request while four bodies are still streaming"
    );
    for task in tasks {
        assert_eq!(task.await.expect("task").status, 200);
    }
}

#[tokio::test]
async fn synthetic_mailboxes_for_benchmarks() {
    let mut c = EmulatorConfig::demo();
    c.mailboxes.push(imap2graph_emulator::synthetic_mailbox(
        "bench@contoso.example",
        &["Inbox", "Archive/2025"],
        1500,
        1,
    ));
    let s = start(Emulator::with_config(c)).await;
    let t = token(s.addr).await;
    let started = std::time::Instant::now();
    let r = get(s.addr, &t, "/users/bench%40contoso.example/mailFolders/inbox/messages?$top=1000&$select=id,receivedDateTime").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"].as_array().map(|a| a.len()), Some(1000));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let f = get(
        s.addr,
        &t,
        "/users/bench%40contoso.example/mailFolders/inbox",
    )
    .await
    .json();
    assert_eq!(f["totalItemCount"], 1500);
}

#[tokio::test]
async fn hostile_input_never_panics() {
    let s = demo_server().await;
    let t = token(s.addr).await;
    let auth = format!("Bearer {t}");
    let paths = [
        "/v1.0/users/%00/mailFolders",
        "/v1.0/users/..%2F..%2Fetc/mailFolders",
        "/v1.0/users/alice%40contoso.example/mailFolders/%FF%FE",
        "/v1.0/users/alice%40contoso.example/messages/%E2%82%AC%E2%82%AC%E2%82%AC",
        "/v1.0/users/alice%40contoso.example/messages/AAAA====",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$top=99999999999999999999",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$skip=-1",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$orderby=receivedDateTime%20sideways",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$filter=receivedDateTime%20ge",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$filter=%20and%20and%20",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$expand=singleValueExtendedProperties(",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$expand=singleValueExtendedProperties($filter=id%20eq%20'Integer%200xFFFFFFFFF')",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages/delta?$skiptoken=%00",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages/delta?changeType=sideways",
        "/v1.0/users/alice%40contoso.example/mailFolders/inbox/messages?$select=,,,",
        "/v1.0/",
        "/v1.0",
        "/v1.0/users",
        "/v1.0/$batch",
    ];
    for p in paths {
        let r = request(
            s.addr,
            "GET",
            p,
            &[
                ("Authorization", &auth),
                ("Prefer", "odata.maxpagesize=0, IdType=\"\", ,,"),
            ],
            b"",
        )
        .await;
        assert!(r.status != 0 && r.status != 500, "{p}: {}", r.status);
    }
    let bodies: [&[u8]; 6] = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"{\"requests\": 5}",
        b"{\"requests\": [{\"id\": 1}]}",
    ];
    for (path, ct) in [
        ("/v1.0/$batch", "application/json"),
        (
            "/v1.0/users/alice%40contoso.example/messages",
            "application/json",
        ),
        ("/v1.0/users/alice%40contoso.example/messages", "text/plain"),
        (
            "/v1.0/users/alice%40contoso.example/sendMail",
            "application/json",
        ),
        (
            "/v1.0/users/alice%40contoso.example/mailFolders",
            "application/json",
        ),
    ] {
        for b in bodies {
            let r = request(
                s.addr,
                "POST",
                path,
                &[("Authorization", &auth), ("Content-Type", ct)],
                b,
            )
            .await;
            assert!(
                r.status != 0 && r.status != 500,
                "{path} {:?}: {}",
                String::from_utf8_lossy(b),
                r.status
            );
        }
    }
    let weird_batch = json!({"requests": [
        {"id": "1", "method": "BREW", "url": "/users/alice@contoso.example/mailFolders"},
        {"id": "2", "method": "GET", "url": "https://evil.example/users"},
        {"id": "3", "method": "POST", "url": "/users/alice@contoso.example/messages", "body": {"subject": 1}},
        {"id": "4", "method": "POST", "url": "/users/alice@contoso.example/messages", "headers": {"Content-Type": "text/plain"}, "body": "!!!"},
    ]});
    let r = request(
        s.addr,
        "POST",
        "/v1.0/$batch",
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        weird_batch.to_string().as_bytes(),
    )
    .await;
    assert!(r.status == 200 || r.status == 400, "{}", r.status);
    for range in ["bytes", "bytes 5-1/10", "bytes a-b/c", "bytes 0-0/0", ""] {
        let r = request(
            s.addr,
            "PUT",
            "/api/v2.0/Users('x')/Messages('y')/AttachmentSessions('z')?authtoken=q",
            &[("Content-Range", range)],
            b"x",
        )
        .await;
        assert!(r.status != 0 && r.status != 500, "{range}: {}", r.status);
    }
    let r = request(
        s.addr,
        "POST",
        "/%00/oauth2/v2.0/token",
        &[("Authorization", "Basic !!!")],
        b"grant_type=%FF",
    )
    .await;
    assert!(r.status == 400 || r.status == 401, "{}", r.status);
}
