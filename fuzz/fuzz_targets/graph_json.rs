//! Graph's answers as the gateway reads them (`imap2graph::graph`): pages of a delta round
//! merged entry by entry (`client::DeltaMerge`, what `MailboxGraph::delta_round` does with
//! each page), `$batch` answers, messages, folder pages, error bodies and token answers, each
//! through the serde types and functions the gateway uses.
//!
//! Input: the first octet picks the kind (`'0'`…`'6'`, any octet works modulo 7: 0 a page of
//! a messages delta round, 1 a page of a folders delta round, 2 a `$batch` answer, 3 a message,
//! 4 a page of folders, 5 an error body, 6 a token answer), the rest is the HTTP body.
//!
//! Checks, besides "no panic":
//! - a delta round names each item once, either changed or removed, in the order items first
//!   appear; a changed item carries, for each property, what its last entry since its last
//!   removal said; an item whose last entry is a removal is removed; cutting the entries into
//!   two pages anywhere gives the same round;
//! - what a message says of its flag, verb and completeness is what its JSON says, and so are
//!   the flags IMAP shows (`MessageFlags::from_graph`): every category a keyword or kept aside,
//!   each keyword naming its category in the one spelling both ways;
//! - the folder tree (`hub::build_tree`) of a folder list: each folder once, sorted, never the
//!   root nor (unless asked) a hidden one, every level non-empty without controls, a child named
//!   under its parent, INBOX only the inbox, every top folder shown;
//! - a folder merged with an update takes exactly the properties the update carries;
//! - `$batch`: a Retry-After read is finite, not negative and at most a day; an entry's error
//!   keeps its status; `decode_answers` answers once per entry, in order;
//! - an error body always gives an error with the status it came with, `HTTP<status>` as its
//!   code when the body is not Graph's documented shape (Graph), or an authentication failure
//!   or unavailability (identity platform);
//! - a token's roles are read without panicking, whatever the token.
#![no_main]

use std::collections::HashMap;
use std::time::Duration;

use imap2graph::categories::{category_of, keyword_of, same_category};
use imap2graph::graph::client::{decode_answers, parse_retry_after, DeltaMerge};
use imap2graph::graph::error::{parse_graph_error, parse_token_error};
use imap2graph::graph::model::{
    BatchResponses, DeltaPage, MailFolder, MessageSummary, Page, TokenResponse, LAST_VERB_PROPERTY,
};
use imap2graph::graph::token::MailAccess;
use imap2graph::graph::GraphError;
use imap2graph::hub::{build_tree, MessageFlags};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind.wrapping_sub(b'0') % 7 {
        0 => delta_round::<MessageSummary>(body, check_message),
        1 => {
            delta_round::<MailFolder>(body, |folder, json| check_folder(folder, json));
            if let Ok(page) = serde_json::from_slice::<DeltaPage>(body) {
                let folders: Vec<MailFolder> = page
                    .value
                    .into_iter()
                    .filter_map(|v| serde_json::from_value(v).ok())
                    .collect();
                check_tree(&folders, body.len() % 2 == 0);
            }
        }
        2 => batch(body),
        3 => {
            // Graph answers a message as a JSON object. serde's derive also reads a struct from
            // an array of its fields in order, a form Graph never sends, which the checks below
            // (by property name) do not model.
            if let Ok(json @ Value::Object(_)) = serde_json::from_slice::<Value>(body) {
                if let Ok(message) = serde_json::from_value::<MessageSummary>(json.clone()) {
                    check_message(&message, &json);
                }
            }
        }
        4 => {
            if let Ok(page) = serde_json::from_slice::<Page<MailFolder>>(body) {
                // Each folder merged with the next: a delta item over what was known.
                for pair in page.value.windows(2) {
                    let mut known = pair[0].clone();
                    known.merge(pair[1].clone());
                    check_merge(&pair[0], &pair[1], &known);
                }
                check_tree(&page.value, body.len() % 2 == 0);
            }
        }
        5 => errors(body),
        _ => {
            if let Ok(token) = serde_json::from_slice::<TokenResponse>(body) {
                let _ = MailAccess::of_token(&token.access_token);
                let _ = token.expires_in;
            }
            if let Ok(text) = std::str::from_utf8(body) {
                let access = MailAccess::of_token(text);
                assert_eq!(access.may_write(), access != MailAccess::ReadOnly);
            }
        }
    }
});

/// A page's entries merged as the gateway merges them, checked against a plain reading of the
/// delta overview, and against the same entries cut into two pages.
fn delta_round<T: serde::de::DeserializeOwned + std::fmt::Debug>(
    body: &[u8],
    check_item: impl Fn(&T, &Value),
) {
    let Ok(page) = serde_json::from_slice::<DeltaPage>(body) else {
        return;
    };
    let entries = page.value;
    let mut merge = DeltaMerge::default();
    let added = merge.add_page(entries.clone());

    // The plain reading: entries must be objects with a string id.
    let well_formed = entries.iter().all(|entry| {
        entry
            .as_object()
            .is_some_and(|o| o.get("id").is_some_and(Value::is_string))
    });
    assert_eq!(added.is_ok(), well_formed, "{added:?}");
    if !well_formed {
        return;
    }
    let mut order: Vec<String> = Vec::new();
    let mut latest: HashMap<String, Option<Map<String, Value>>> = HashMap::new();
    for entry in &entries {
        let entry = entry.as_object().unwrap();
        let id = entry["id"].as_str().unwrap().to_string();
        if !latest.contains_key(&id) {
            order.push(id.clone());
        }
        let state = if entry.contains_key("@removed") {
            None
        } else {
            let mut merged = latest.get(&id).cloned().flatten().unwrap_or_default();
            for (key, value) in entry {
                merged.insert(key.clone(), value.clone());
            }
            Some(merged)
        };
        latest.insert(id, state);
    }

    let link = "https://graph.microsoft.com/v1.0/delta?$deltatoken=x".to_string();
    let round = merge.finish::<T>(link.clone());

    // The same entries in two pages, cut where the input says.
    let cut = body.len() % (entries.len() + 1);
    let mut split = DeltaMerge::default();
    split
        .add_page(entries[..cut].to_vec())
        .expect("well formed");
    split
        .add_page(entries[cut..].to_vec())
        .expect("well formed");
    let split_round = split.finish::<T>(link.clone());
    assert_eq!(
        format!("{round:?}"),
        format!("{split_round:?}"),
        "a page boundary changed the round"
    );

    // Every merged item that reads as T: is the round's, in order.
    let expected_items: Vec<(String, Option<Map<String, Value>>)> = order
        .iter()
        .map(|id| (id.clone(), latest[id].clone()))
        .collect();
    let readable = expected_items.iter().all(|(_, item)| match item {
        None => true,
        Some(map) => serde_json::from_value::<T>(Value::Object(map.clone())).is_ok(),
    });
    let round = match round {
        Ok(round) => round,
        Err(err) => {
            assert!(!readable, "a round of readable items refused: {err}");
            assert!(matches!(err, GraphError::Decode(_)));
            return;
        }
    };
    assert!(readable, "a round with an unreadable item accepted");
    assert_eq!(round.delta_link, link);
    let removed: Vec<&String> = expected_items
        .iter()
        .filter(|(_, item)| item.is_none())
        .map(|(id, _)| id)
        .collect();
    assert_eq!(round.removed.iter().collect::<Vec<_>>(), removed);
    let changed: Vec<&Map<String, Value>> = expected_items
        .iter()
        .filter_map(|(_, item)| item.as_ref())
        .collect();
    assert_eq!(round.changed.len(), changed.len());
    for (item, json) in round.changed.iter().zip(changed) {
        let json = Value::Object(json.clone());
        let expected: T = serde_json::from_value(json.clone()).expect("readable");
        assert_eq!(format!("{item:?}"), format!("{expected:?}"));
        check_item(item, &json);
    }
}

/// What the gateway reads of a message is what its JSON says.
fn check_message(message: &MessageSummary, json: &Value) {
    assert_eq!(Some(message.id.as_str()), json["id"].as_str());
    let flagged = json
        .get("flag")
        .and_then(|f| f.get("flagStatus"))
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("flagged"));
    if let Some(flag) = &message.flag {
        assert_eq!(flag.is_flagged(), flagged);
    }
    let properties = json
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array);
    match (message.last_verb(), properties) {
        (None, None) => {}
        (Some(verb), Some(properties)) => {
            let expected = properties
                .iter()
                .find(|p| {
                    p.get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|id| id.eq_ignore_ascii_case(LAST_VERB_PROPERTY))
                })
                .and_then(|p| p.get("value"))
                .and_then(Value::as_str)
                .and_then(|v| v.trim().parse::<i64>().ok());
            assert_eq!(verb, expected);
        }
        (None, Some(_)) => panic!("extended properties present but not read"),
        (Some(_), None) => panic!("extended properties read from nowhere"),
    }
    let present = |key: &str| json.get(key).is_some_and(|v| !v.is_null());
    let whole = [
        "receivedDateTime",
        "isRead",
        "isDraft",
        "flag",
        "categories",
        "hasAttachments",
        "singleValueExtendedProperties",
    ]
    .iter()
    .all(|key| present(key));
    assert_eq!(message.is_whole(), whole);

    // The flags IMAP shows of it.
    let flags = MessageFlags::from_graph(message);
    assert_eq!(flags.seen, message.is_read.unwrap_or(false));
    assert_eq!(flags.flagged, flagged && message.flag.is_some());
    assert_eq!(flags.draft, message.is_draft.unwrap_or(false));
    let verb = message.last_verb().flatten();
    assert_eq!(flags.answered, matches!(verb, Some(102 | 103)));
    assert_eq!(flags.forwarded, verb == Some(104));
    assert!(!flags.deleted);
    let categories = message.categories.clone().unwrap_or_default();
    assert_eq!(
        flags.keywords.len() + flags.other_categories.len(),
        categories.len(),
        "a category lost or made up"
    );
    for (index, keyword) in flags.keywords.iter().enumerate() {
        let category = category_of(keyword).expect("a keyword from a category names it");
        assert!(categories.iter().any(|c| same_category(c, &category)));
        assert!(
            !flags.keywords[..index]
                .iter()
                .any(|k| k.eq_ignore_ascii_case(keyword)),
            "a keyword shown twice"
        );
    }
    // Each category and its keyword, both ways: one spelling.
    for category in &categories {
        if let Some(keyword) = keyword_of(category) {
            assert_eq!(category_of(&keyword).as_deref(), Some(category.as_str()));
            assert!(!keyword.is_empty());
            assert!(keyword.bytes().all(|b| b.is_ascii_graphic()
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')));
        }
    }
}

/// The folder tree IMAP shows of Graph's flat list: the first folder is the inbox, the parent
/// of the first folder the root.
fn check_tree(folders: &[MailFolder], include_hidden: bool) {
    let by_id: HashMap<String, MailFolder> =
        folders.iter().map(|f| (f.id.clone(), f.clone())).collect();
    let mut well_known = HashMap::new();
    if let Some(first) = folders.first() {
        well_known.insert("inbox".to_string(), first.id.clone());
        if let Some(parent) = &first.parent_folder_id {
            well_known.insert("msgfolderroot".to_string(), parent.clone());
        }
    }
    let root = well_known.get("msgfolderroot").cloned();
    let tree = build_tree(&by_id, &well_known, include_hidden);
    let shown: HashMap<&str, &imap2graph::hub::Folder> =
        tree.folders.iter().map(|f| (f.id.as_str(), f)).collect();
    assert_eq!(shown.len(), tree.folders.len(), "a folder shown twice");
    assert!(
        tree.folders.windows(2).all(|w| w[0].name <= w[1].name),
        "not sorted by name"
    );
    for folder in &tree.folders {
        let graph = by_id.get(&folder.id).expect("a folder Graph did not name");
        assert_ne!(Some(&folder.id), root.as_ref(), "the root shown");
        if !include_hidden {
            assert_ne!(graph.is_hidden, Some(true), "a hidden folder shown");
        }
        assert!(!folder.name.is_empty());
        for level in folder.name.split('/') {
            assert!(!level.is_empty(), "an empty level in {:?}", folder.name);
            assert!(!level.chars().any(char::is_control), "{:?}", folder.name);
        }
        if folder.name.eq_ignore_ascii_case("INBOX") {
            assert_eq!(folder.well_known.as_deref(), Some("inbox"));
            assert_eq!(folder.name, "INBOX");
        }
        let parent = graph
            .parent_folder_id
            .as_deref()
            .filter(|p| Some(*p) != root.as_deref() && by_id.contains_key(*p));
        match parent {
            Some(parent) => {
                let parent = shown.get(parent).expect("shown under a folder not shown");
                let leaf = folder
                    .name
                    .strip_prefix(&format!("{}/", parent.name))
                    .expect("a child's name is its parent's and a level");
                assert!(!leaf.contains('/'));
                assert!(parent.has_children);
            }
            None => assert!(!folder.name.contains('/'), "a top folder with a path"),
        }
        assert_eq!(folder.total, graph.total_item_count.unwrap_or(0));
        assert_eq!(folder.unread, graph.unread_item_count.unwrap_or(0));
        let has_children = tree
            .folders
            .iter()
            .any(|child| by_id[&child.id].parent_folder_id.as_deref() == Some(folder.id.as_str()));
        assert_eq!(folder.has_children, has_children);
    }
    // A top-level folder (no parent Graph named, or the root) is shown unless hidden.
    for folder in by_id.values() {
        let top = folder
            .parent_folder_id
            .as_deref()
            .is_none_or(|p| Some(p) == root.as_deref() || !by_id.contains_key(p));
        let hidden = !include_hidden && folder.is_hidden == Some(true);
        if top && !hidden && Some(&folder.id) != root.as_ref() {
            assert!(
                shown.contains_key(folder.id.as_str()),
                "a top folder not shown"
            );
        }
    }
}

fn check_folder(folder: &MailFolder, json: &Value) {
    assert_eq!(Some(folder.id.as_str()), json["id"].as_str());
    let placed = ["displayName", "parentFolderId"]
        .iter()
        .all(|key| json.get(*key).is_some_and(|v| !v.is_null()));
    assert_eq!(folder.is_placed(), placed);
}

/// `known.merge(update)` took what `update` carries and kept the rest of `before`.
fn check_merge(before: &MailFolder, update: &MailFolder, merged: &MailFolder) {
    fn taken<T: PartialEq + std::fmt::Debug>(
        before: &Option<T>,
        update: &Option<T>,
        merged: &Option<T>,
    ) {
        match update {
            Some(_) => assert_eq!(merged, update),
            None => assert_eq!(merged, before),
        }
    }
    assert_eq!(merged.id, before.id);
    taken(
        &before.display_name,
        &update.display_name,
        &merged.display_name,
    );
    taken(
        &before.parent_folder_id,
        &update.parent_folder_id,
        &merged.parent_folder_id,
    );
    taken(
        &before.child_folder_count,
        &update.child_folder_count,
        &merged.child_folder_count,
    );
    taken(
        &before.total_item_count,
        &update.total_item_count,
        &merged.total_item_count,
    );
    taken(
        &before.unread_item_count,
        &update.unread_item_count,
        &merged.unread_item_count,
    );
    taken(&before.is_hidden, &update.is_hidden, &merged.is_hidden);
}

/// A `$batch` answer as `MailboxGraph::batch` reads it.
fn batch(body: &[u8]) {
    let Ok(parsed) = serde_json::from_slice::<BatchResponses>(body) else {
        return;
    };
    let mut answers = Vec::new();
    for response in parsed.responses {
        if let Some(value) = response.header("Retry-After") {
            if let Some(wait) = parse_retry_after(value) {
                assert!(wait <= Duration::from_secs(86_400), "{wait:?}");
            }
        }
        let _ = response.id.parse::<usize>();
        answers.push(if (200..300).contains(&response.status) {
            Ok(response.body.unwrap_or(Value::Null))
        } else {
            let text = response.body.map(|b| b.to_string()).unwrap_or_default();
            let err = parse_graph_error(response.status, text.as_bytes());
            assert_eq!(err.status(), Some(response.status));
            Err(err)
        });
    }
    let expected: Vec<bool> = answers.iter().map(Result::is_ok).collect();
    let messages = decode_answers::<MessageSummary>(answers.clone(), "message");
    let folders = decode_answers::<MailFolder>(answers, "folder");
    assert_eq!(messages.len(), expected.len());
    assert_eq!(folders.len(), expected.len());
    for ((message, folder), was_ok) in messages.iter().zip(&folders).zip(expected) {
        if !was_ok {
            assert!(message.is_err() && folder.is_err());
        }
    }
}

/// Error bodies of Graph and of the identity platform, with a status from the body's length.
fn errors(body: &[u8]) {
    const STATUSES: [u16; 10] = [400, 401, 403, 404, 409, 410, 429, 500, 502, 503];
    let status = STATUSES[body.len() % STATUSES.len()];
    let graph = parse_graph_error(status, body);
    assert_eq!(graph.status(), Some(status));
    // A JSON object without Graph's `error` object is no Graph error (a body that is no JSON to
    // serde_json's Value may still be one to the gateway's struct, which skips what it ignores
    // unread; and serde reads a struct from an array too).
    if let Ok(Value::Object(json)) = serde_json::from_slice::<Value>(body) {
        if !json.get("error").is_some_and(Value::is_object) {
            assert_eq!(graph.code(), Some(format!("HTTP{status}").as_str()));
        }
    }
    let _ = graph.is_sync_state_lost();
    let _ = graph.is_mailbox_refused();
    let token = parse_token_error(status, body);
    match token {
        GraphError::Auth(failure) => {
            assert!(status < 500 && status != 429);
            let _ = failure.reason();
        }
        GraphError::Unavailable(_) => {}
        other => panic!("a token error read as {other:?}"),
    }
    if let Some(wait) = std::str::from_utf8(body).ok().and_then(parse_retry_after) {
        assert!(wait <= Duration::from_secs(86_400), "{wait:?}");
    }
}
