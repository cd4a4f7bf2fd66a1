//! Contract tests for how delta pages represent items (`DeltaConfig`): an updated item whole or
//! with only the properties changed since the token's state, a new item always whole, and
//! replays of the previous page; set at start and at run time (`/_emulator/delta`).

mod common;

use std::collections::BTreeSet;

use common::*;
use imap2graph_emulator::{DeltaConfig, Emulator, EmulatorConfig, UpdatedItems};
use serde_json::{json, Value};

const JSON: (&str, &str) = ("Content-Type", "application/json");
const IMM: (&str, &str) = ("Prefer", "IdType=\"ImmutableId\"");
/// What the gateway selects and expands in messages/delta.
const MESSAGE_QUERY: &str = "$select=id,receivedDateTime,isRead,isDraft,flag,categories,hasAttachments&$expand=singleValueExtendedProperties(%24filter%3Did%20eq%20%27Integer%200x1081%27)";

async fn server(updated_items: UpdatedItems, replay: bool) -> Server {
    start(Emulator::with_config(EmulatorConfig {
        delta: DeltaConfig {
            updated_items,
            replay,
        },
        ..EmulatorConfig::demo()
    }))
    .await
}

fn keys(item: &Value) -> BTreeSet<&str> {
    item.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

const WHOLE_MESSAGE: &[&str] = &[
    "@odata.type",
    "@odata.etag",
    "id",
    "receivedDateTime",
    "isRead",
    "isDraft",
    "flag",
    "categories",
    "hasAttachments",
    "singleValueExtendedProperties",
];

fn message_delta(s: &Server, folder: &str) -> String {
    format!(
        "http://{}/v1.0/users/{ALICE_ENC}/mailFolders/{folder}/messages/delta?{MESSAGE_QUERY}",
        s.addr
    )
}

fn folder_delta(s: &Server) -> String {
    format!("http://{}/v1.0/users/{ALICE_ENC}/mailFolders/delta", s.addr)
}

async fn patch(s: &Server, t: &str, id: &str, body: Value) {
    let r = send(
        s.addr,
        t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/messages/{id}"),
        &[JSON, IMM],
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

async fn deliver(s: &Server, subject: &str) -> String {
    let raw = format!("From: x@y.z\r\nSubject: {subject}\r\n\r\nhi\r\n");
    let r = request(
        s.addr,
        "POST",
        "/_emulator/mailboxes/alice@contoso.example/deliver?folder=inbox",
        &[],
        raw.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    r.json()["immutableId"]
        .as_str()
        .expect("immutableId")
        .to_string()
}

/// The one entry of a round about `id`.
fn only<'a>(items: &'a [Value], id: &str) -> &'a Value {
    let about: Vec<&Value> = items.iter().filter(|i| i["id"] == id).collect();
    assert_eq!(about.len(), 1, "entries about {id}: {items:?}");
    about[0]
}

#[tokio::test]
async fn an_updated_message_carries_only_what_changed() {
    let s = server(UpdatedItems::Changed, false).await;
    let t = token(s.addr).await;
    let (items, delta) = round(&s, &t, &message_delta(&s, "inbox")).await;
    assert!(!items.is_empty());
    for item in &items {
        assert_eq!(keys(item), set(WHOLE_MESSAGE), "a first round is whole");
    }
    let id = items[0]["id"].as_str().expect("id").to_string();

    patch(&s, &t, &id, json!({"flag": {"flagStatus": "flagged"}})).await;
    let (changes, delta) = round(&s, &t, &delta).await;
    let item = only(&changes, &id);
    assert_eq!(
        keys(item),
        set(&["@odata.type", "@odata.etag", "id", "flag"])
    );
    assert_eq!(item["flag"]["flagStatus"], "flagged");

    patch(&s, &t, &id, json!({"isRead": true})).await;
    patch(
        &s,
        &t,
        &id,
        json!({"singleValueExtendedProperties": [{"id": "Integer 0x1081", "value": "102"}]}),
    )
    .await;
    let (changes, delta) = round(&s, &t, &delta).await;
    let item = only(&changes, &id);
    assert_eq!(
        keys(item),
        set(&[
            "@odata.type",
            "@odata.etag",
            "id",
            "isRead",
            "singleValueExtendedProperties"
        ])
    );
    assert_eq!(item["isRead"], true);
    assert_eq!(item["singleValueExtendedProperties"][0]["value"], "102");

    // A message new to the folder is whole, though the round reports changes.
    let new_id = deliver(&s, "new one").await;
    let (changes, delta) = round(&s, &t, &delta).await;
    assert_eq!(keys(only(&changes, &new_id)), set(WHOLE_MESSAGE));

    // Switched at run time: updated items whole from the next page on.
    let r = request(
        s.addr,
        "POST",
        "/_emulator/delta",
        &[JSON],
        br#"{"updatedItems": "whole"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    patch(&s, &t, &id, json!({"categories": ["Blue"]})).await;
    let (changes, _) = round(&s, &t, &delta).await;
    let item = only(&changes, &id);
    assert_eq!(keys(item), set(WHOLE_MESSAGE));
    assert_eq!(item["flag"]["flagStatus"], "flagged");
    assert_eq!(item["categories"], json!(["Blue"]));
}

#[tokio::test]
async fn a_message_moved_in_is_an_update_in_its_new_folder() {
    let s = server(UpdatedItems::Changed, false).await;
    let t = token(s.addr).await;
    let (inbox, _) = round(&s, &t, &message_delta(&s, "inbox")).await;
    let (_, archive_delta) = round(&s, &t, &message_delta(&s, "archive")).await;
    let id = inbox[0]["id"].as_str().expect("id").to_string();
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages/{id}/move"),
        &[JSON, IMM],
        json!({"destinationId": "archive"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    // Only its parentFolderId (not selected), changeKey and lastModifiedDateTime changed.
    let (changes, _) = round(&s, &t, &archive_delta).await;
    assert_eq!(
        keys(only(&changes, &id)),
        set(&["@odata.type", "@odata.etag", "id"])
    );
    // A copy is a new message: whole.
    let other = inbox[1]["id"].as_str().expect("id").to_string();
    let (_, archive_delta) = round(&s, &t, &message_delta(&s, "archive")).await;
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/messages/{other}/copy"),
        &[JSON, IMM],
        json!({"destinationId": "archive"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    let copy = r.json()["id"].as_str().expect("id").to_string();
    let (changes, _) = round(&s, &t, &archive_delta).await;
    assert_eq!(keys(only(&changes, &copy)), set(WHOLE_MESSAGE));
}

#[tokio::test]
async fn an_updated_folder_carries_only_what_changed() {
    let s = server(UpdatedItems::Changed, false).await;
    let t = token(s.addr).await;
    let whole = set(&[
        "id",
        "displayName",
        "parentFolderId",
        "childFolderCount",
        "unreadItemCount",
        "totalItemCount",
        "isHidden",
    ]);
    let (folders, delta) = round(&s, &t, &folder_delta(&s)).await;
    assert!(folders.iter().all(|f| keys(f) == whole), "{folders:?}");
    let inbox = get(s.addr, &t, &format!("/users/{ALICE_ENC}/mailFolders/inbox"))
        .await
        .json();
    let inbox_id = inbox["id"].as_str().expect("id").to_string();
    let (messages, _) = round(&s, &t, &message_delta(&s, "inbox")).await;
    let unread = messages
        .iter()
        .find(|m| m["isRead"] == false)
        .expect("an unread message");
    let read = messages
        .iter()
        .find(|m| m["isRead"] == true)
        .expect("a read message");

    // A flag changes no property of the folder: the folder is not reported.
    patch(
        &s,
        &t,
        read["id"].as_str().expect("id"),
        json!({"flag": {"flagStatus": "flagged"}}),
    )
    .await;
    let (changes, delta) = round(&s, &t, &delta).await;
    assert!(changes.is_empty(), "{changes:?}");

    // Read in Outlook: only the unread count.
    patch(
        &s,
        &t,
        unread["id"].as_str().expect("id"),
        json!({"isRead": true}),
    )
    .await;
    let (changes, delta) = round(&s, &t, &delta).await;
    let item = only(&changes, &inbox_id);
    assert_eq!(keys(item), set(&["id", "unreadItemCount"]));
    assert_eq!(
        item["unreadItemCount"].as_i64(),
        inbox["unreadItemCount"].as_i64().map(|n| n - 1)
    );

    // A new child folder is whole; its parent's child count changed.
    let r = send(
        s.addr,
        &t,
        "POST",
        &format!("/users/{ALICE_ENC}/mailFolders/{inbox_id}/childFolders"),
        &[JSON],
        json!({"displayName": "Sub"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 201);
    let sub = r.json()["id"].as_str().expect("id").to_string();
    let (changes, delta) = round(&s, &t, &delta).await;
    assert_eq!(keys(only(&changes, &sub)), whole);
    assert_eq!(
        keys(only(&changes, &inbox_id)),
        set(&["id", "childFolderCount"])
    );

    // Renamed: only its name.
    let r = send(
        s.addr,
        &t,
        "PATCH",
        &format!("/users/{ALICE_ENC}/mailFolders/{sub}"),
        &[JSON],
        json!({"displayName": "Renamed"}).to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    let (changes, _) = round(&s, &t, &delta).await;
    let item = only(&changes, &sub);
    assert_eq!(keys(item), set(&["id", "displayName"]));
    assert_eq!(item["displayName"], "Renamed");
}

#[tokio::test]
async fn replays_send_the_previous_page_again_unchanged() {
    let s = server(UpdatedItems::Changed, true).await;
    let t = token(s.addr).await;
    let prefer = [IMM, ("Prefer", "odata.maxpagesize=5")];
    let first = follow(&s, &t, &message_delta(&s, "inbox"), &prefer)
        .await
        .json();
    let page1 = first["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(page1.len(), 5);
    let next = first["@odata.nextLink"].as_str().expect("nextLink");
    let second = follow(&s, &t, next, &prefer).await.json();
    let page2 = second["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(page2[..5], page1[..], "page 2 begins with page 1 again");
    assert!(
        page2[5..].iter().all(|i| !page1.contains(i)),
        "then what page 2 has of its own"
    );

    // The rest of the round, then a change, then rounds without changes.
    let (_, delta) = round(&s, &t, second["@odata.nextLink"].as_str().expect("next")).await;
    let id = page1[0]["id"].as_str().expect("id").to_string();
    patch(&s, &t, &id, json!({"isRead": true})).await;
    let (changes, delta) = round(&s, &t, &delta).await;
    let sent = only(&changes, &id).clone();
    let (again, delta) = round(&s, &t, &delta).await;
    assert_eq!(again, vec![sent], "the change is replayed, unchanged");
    let (none, _) = round(&s, &t, &delta).await;
    assert!(none.is_empty(), "a replay is not replayed: {none:?}");
}

#[tokio::test]
async fn the_switch_is_set_at_start_and_at_run_time() {
    let s = server(UpdatedItems::Whole, true).await;
    let current = || async { request(s.addr, "GET", "/_emulator/delta", &[], b"").await };
    assert_eq!(
        current().await.json(),
        json!({"updatedItems": "whole", "replay": true})
    );
    let r = request(
        s.addr,
        "POST",
        "/_emulator/delta",
        &[JSON],
        br#"{"updatedItems": "changed"}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        current().await.json(),
        json!({"updatedItems": "changed", "replay": false}),
        "fields left out take their defaults"
    );
    let r = request(
        s.addr,
        "POST",
        "/_emulator/delta",
        &[JSON],
        br#"{"updatedItems": "some"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    let r = request(s.addr, "POST", "/_emulator/reset", &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        current().await.json(),
        json!({"updatedItems": "whole", "replay": true}),
        "a reset goes back to the configuration"
    );
    assert_eq!(
        Emulator::demo().delta_config(),
        DeltaConfig::default(),
        "the demo answers as the default"
    );
    assert_eq!(DeltaConfig::default().updated_items, UpdatedItems::Changed);
}
