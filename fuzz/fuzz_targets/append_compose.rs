//! APPEND: the MIME a client appends turned into Graph's create request
//! (`imap2graph::graph::compose`), and the check made of a draft's MIME.
//!
//! Input: octet 0 the flags (bit 0 \Seen, bit 1 \Flagged, bits 2-3 none/\Answered/$Forwarded/
//! other verb, bit 4 a keyword), octets 1..5 the INTERNALDATE (seconds), the rest the message.
//!
//! Checks, besides "no panic":
//! - a message is either composed or refused with a response code (PARSE, TOOBIG, CANNOT) and
//!   a reason;
//! - what is composed is a JSON object that serde_json writes and reads back to the same
//!   value, within Graph's 4 MB request limit, with `isRead`, the PR_MESSAGE_FLAGS property
//!   (read bit as asked, never "unsent") and the delivery time as asked, a body of type text or
//!   html, and the `internetMessageId` it reports;
//! - no text sent to Graph holds a C0 control or DEL other than tab, CR or LF, and one-line
//!   values (subject, addresses, ids, custom header fields, attachment names and types) no CR
//!   or LF either;
//! - each attachment left for later makes a JSON body that reads back the same;
//! - a draft whose header is refused is refused as a non-draft too, for the same reason.
#![no_main]

use chrono::{DateTime, Utc};
use imap2graph::graph::compose::{check_draft, compose, CreateFlags};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// What Graph takes in one request.
const GRAPH_REQUEST_LIMIT: usize = 4 * 1024 * 1024;

fuzz_target!(|data: &[u8]| {
    if data.len() < 5 {
        return;
    }
    let bits = data[0];
    let flags = CreateFlags {
        read: bits & 1 != 0,
        flagged: bits & 2 != 0,
        last_verb: match (bits >> 2) & 3 {
            0 => None,
            1 => Some(102),
            2 => Some(104),
            _ => Some(i64::from(bits)),
        },
        categories: if bits & 16 != 0 {
            vec!["Blue".into(), "$Label1".into()]
        } else {
            Vec::new()
        },
    };
    let seconds = u32::from_be_bytes([data[1], data[2], data[3], data[4]]);
    let received: DateTime<Utc> =
        DateTime::from_timestamp(i64::from(seconds), 0).expect("any u32 is a valid time");
    let mime = &data[5..];

    let draft = check_draft(mime);
    let composed = compose(mime, received, &flags);
    if let Err(refused) = &draft {
        if refused.code != "TOOBIG" {
            assert_eq!(
                composed.as_ref().err(),
                Some(refused),
                "draft refused, message not"
            );
        }
    }
    let composed = match composed {
        Err(refused) => {
            assert!(
                matches!(refused.code, "PARSE" | "TOOBIG" | "CANNOT"),
                "unknown response code {}",
                refused.code
            );
            assert!(!refused.reason.is_empty());
            assert!(
                !refused.reason.contains(['\r', '\n']),
                "a reason is one line"
            );
            return;
        }
        Ok(composed) => composed,
    };

    // serde_json writes it and reads it back unchanged; it fits in one Graph request.
    let text = serde_json::to_vec(&composed.json).expect("the JSON can be written");
    assert!(text.len() <= GRAPH_REQUEST_LIMIT, "{} bytes", text.len());
    let again: Value = serde_json::from_slice(&text).expect("serde_json reads what it wrote");
    assert_eq!(again, composed.json);
    let message = composed.json.as_object().expect("a JSON object");

    assert_eq!(message.get("isRead"), Some(&Value::Bool(flags.read)));
    let properties = message
        .get("singleValueExtendedProperties")
        .and_then(Value::as_array)
        .expect("extended properties");
    let property = |id: &str| {
        properties
            .iter()
            .find(|p| p.get("id").and_then(Value::as_str) == Some(id))
            .and_then(|p| p.get("value"))
            .and_then(Value::as_str)
    };
    assert_eq!(
        property("Integer 0x0E07"),
        Some(if flags.read { "1" } else { "0" }),
        "PR_MESSAGE_FLAGS: read as asked, never unsent"
    );
    let delivered = property("SystemTime 0x0E06").expect("the delivery time");
    assert_eq!(
        DateTime::parse_from_rfc3339(delivered).map(|d| d.with_timezone(&Utc)),
        Ok(received)
    );
    let body = message.get("body").expect("a body");
    assert!(matches!(
        body.get("contentType").and_then(Value::as_str),
        Some("text" | "html")
    ));
    let content = body.get("content").and_then(Value::as_str).expect("text");
    assert_text(content, false, "body");
    assert_eq!(
        message.get("internetMessageId").and_then(Value::as_str),
        Some(composed.internet_message_id.as_str())
    );

    // One-line values.
    for key in ["subject", "internetMessageId"] {
        if let Some(value) = message.get(key) {
            assert_text(value.as_str().expect("a string"), true, key);
        }
    }
    for key in [
        "from",
        "sender",
        "toRecipients",
        "ccRecipients",
        "bccRecipients",
        "replyTo",
        "internetMessageHeaders",
    ] {
        if let Some(value) = message.get(key) {
            all_strings(value, &mut |s| assert_text(s, true, key));
        }
    }
    for attachment in message
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for key in ["name", "contentType", "contentId"] {
            if let Some(value) = attachment.get(key).and_then(Value::as_str) {
                assert_text(value, true, key);
            }
        }
    }
    for attachment in &composed.later_attachments {
        assert_text(&attachment.name, true, "attachment name");
        assert_text(&attachment.content_type, true, "attachment type");
        let json = attachment.to_json();
        let text = serde_json::to_vec(&json).expect("the JSON can be written");
        let again: Value = serde_json::from_slice(&text).expect("serde_json reads it");
        assert_eq!(again, json);
    }
});

/// No C0 control (nor DEL) but tab, CR and LF; a one-line value no CR or LF either.
fn assert_text(text: &str, one_line: bool, what: &str) {
    for c in text.chars() {
        let allowed = if one_line {
            !c.is_ascii_control() || c == '\t'
        } else {
            !c.is_ascii_control() || matches!(c, '\t' | '\r' | '\n')
        };
        assert!(allowed, "{what} holds {c:?}: {text:?}");
    }
}

fn all_strings(value: &Value, check: &mut dyn FnMut(&str)) {
    match value {
        Value::String(s) => check(s),
        Value::Array(items) => items.iter().for_each(|v| all_strings(v, check)),
        Value::Object(map) => map.values().for_each(|v| all_strings(v, check)),
        _ => {}
    }
}
