//! Owns the translation of a MIME message (what an IMAP client APPENDs) into what Graph can
//! create as a *received* message: the message JSON (recipients, subject, one body, ids, custom
//! `X-` headers, times and flags as extended properties) and the list of attachments to add
//! afterwards. Graph creates a message from MIME only as a draft
//! (https://learn.microsoft.com/en-us/graph/api/user-post-messages, "Create a message in MIME
//! format": always saved in the Drafts folder… as a draft), so non-drafts are rebuilt from JSON.
//!
//! Extended properties used (set at creation only, where Exchange allows them):
//! - PR_MESSAGE_FLAGS `Integer 0x0E07` without MSGFLAG_UNSENT (0x8) makes the item a sent or
//!   received message rather than a draft; MSGFLAG_READ (0x1) when read. MS-OXCMSG 2.2.1.6
//!   (https://learn.microsoft.com/en-us/openspecs/exchange_server_protocols/ms-oxcmsg) says the
//!   unsent flag can be changed only before the first save, which is why it goes in the create
//!   request; the way to pass it is
//!   https://learn.microsoft.com/en-us/graph/api/singlevaluelegacyextendedproperty-post-singlevalueextendedproperties
//!   ("include the extended property in the request body" of the create), and the recipe is
//!   discussed in https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/8631.
//! - PR_MESSAGE_DELIVERY_TIME `SystemTime 0x0E06` (receivedDateTime, the IMAP INTERNALDATE)
//!   and PR_CLIENT_SUBMIT_TIME `SystemTime 0x0039` (sentDateTime, the Date header): both are
//!   read-only as Graph properties (https://learn.microsoft.com/en-us/graph/api/resources/message).
//! - PR_LAST_VERB_EXECUTED `Integer 0x1081` for \Answered / $Forwarded.
//! - PR_IN_REPLY_TO_ID `String 0x1042` and PR_INTERNET_REFERENCES `String 0x1039`: Graph has no
//!   property for In-Reply-To and References, and `internetMessageHeaders` takes only `x-`
//!   headers on create (resources/message, internetMessageHeaders).

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders};
use serde_json::{json, Value};

use super::model::LAST_VERB_PROPERTY;
use super::mutate::NewAttachment;

/// Attachments whose bytes add up to this much go inside the create request; the rest are
/// added one by one (a Graph request body must stay under 4 MB, and base64 grows by a third).
const INLINE_IN_CREATE: usize = 2 * 1024 * 1024;

/// The state an appended message is created with.
#[derive(Debug, Clone, Default)]
pub struct CreateFlags {
    pub read: bool,
    pub flagged: bool,
    /// PR_LAST_VERB_EXECUTED value (102 answered, 104 forwarded).
    pub last_verb: Option<i64>,
    pub categories: Vec<String>,
}

/// A received-looking message to create: the JSON of the create request (with the first
/// attachments inside), and the attachments to add afterwards.
#[derive(Debug, Clone)]
pub struct ComposedMessage {
    pub json: Value,
    pub later_attachments: Vec<NewAttachment>,
    /// The message's `internetMessageId` (the MIME's Message-ID, or one made up when it has
    /// none), by which a creation whose answer was lost can be found again.
    pub internet_message_id: String,
}

/// Builds the create request of a non-draft message from its MIME. `received` is the IMAP
/// INTERNALDATE.
pub fn compose(mime: &[u8], received: DateTime<Utc>, flags: &CreateFlags) -> ComposedMessage {
    let parsed = MessageParser::default().parse(mime);
    let mut message = serde_json::Map::new();
    let mut properties = vec![
        json!({"id": "Integer 0x0E07", "value": if flags.read { "1" } else { "0" }}),
        json!({"id": "SystemTime 0x0E06", "value": iso(received)}),
    ];
    message.insert("isRead".into(), json!(flags.read));
    if flags.flagged {
        message.insert("flag".into(), json!({"flagStatus": "flagged"}));
    }
    if !flags.categories.is_empty() {
        message.insert("categories".into(), json!(flags.categories));
    }
    if let Some(verb) = flags.last_verb {
        properties.push(json!({"id": LAST_VERB_PROPERTY, "value": verb.to_string()}));
    }
    let mut attachments = Vec::new();
    if let Some(parsed) = &parsed {
        if let Some(subject) = parsed.subject() {
            message.insert("subject".into(), json!(subject));
        }
        for (key, address) in [("from", parsed.from()), ("sender", parsed.sender())] {
            if let Some(first) = address.and_then(|a| recipients(a).into_iter().next()) {
                message.insert(key.into(), first);
            }
        }
        for (key, address) in [
            ("toRecipients", parsed.to()),
            ("ccRecipients", parsed.cc()),
            ("bccRecipients", parsed.bcc()),
            ("replyTo", parsed.reply_to()),
        ] {
            let list = address.map(recipients).unwrap_or_default();
            if !list.is_empty() {
                message.insert(key.into(), Value::Array(list));
            }
        }
        if let Some(id) = parsed.message_id() {
            message.insert("internetMessageId".into(), json!(format!("<{id}>")));
        }
        if let Some(date) = parsed.date() {
            if let Some(sent) = DateTime::<Utc>::from_timestamp(date.to_timestamp(), 0) {
                properties.push(json!({"id": "SystemTime 0x0039", "value": iso(sent)}));
            }
        }
        if let Some(ids) = message_ids(parsed.in_reply_to()) {
            properties.push(json!({"id": "String 0x1042", "value": ids}));
        }
        if let Some(ids) = message_ids(parsed.references()) {
            properties.push(json!({"id": "String 0x1039", "value": ids}));
        }
        let custom: Vec<Value> = parsed
            .headers_raw()
            .filter(|(name, _)| name.len() > 2 && name[..2].eq_ignore_ascii_case("x-"))
            .filter(|(name, _)| name.bytes().all(|b| b.is_ascii_graphic() && b != b':'))
            .map(|(name, value)| json!({"name": name, "value": unfold(value)}))
            .collect();
        if !custom.is_empty() {
            message.insert("internetMessageHeaders".into(), Value::Array(custom));
        }
        // mail-parser offers text converted to HTML when there is no HTML part: take HTML only
        // when the message has it.
        let has_html = parsed.html_part(0).is_some_and(|part| part.is_text_html());
        let body = match parsed.body_html(0).filter(|_| has_html) {
            Some(html) => json!({"contentType": "html", "content": html}),
            None => {
                json!({"contentType": "text", "content": parsed.body_text(0).unwrap_or_default()})
            }
        };
        message.insert("body".into(), body);
        for part in parsed.attachments() {
            let content_type = part
                .content_type()
                .map(|ct| match ct.subtype() {
                    Some(sub) => format!("{}/{}", ct.ctype(), sub),
                    None => ct.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let name = part
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if part.is_message() {
                        "message.eml".into()
                    } else {
                        "attachment".into()
                    }
                });
            let is_inline = part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"))
                || (part.content_disposition().is_none() && part.content_id().is_some());
            attachments.push(NewAttachment {
                name,
                content_type,
                content_id: part
                    .content_id()
                    .map(|id| id.trim_matches(['<', '>']).to_string()),
                is_inline,
                bytes: Bytes::copy_from_slice(part.contents()),
            });
        }
    } else {
        message.insert(
            "body".into(),
            json!({"contentType": "text", "content": String::from_utf8_lossy(mime)}),
        );
    }
    message.insert(
        "singleValueExtendedProperties".into(),
        Value::Array(properties),
    );
    let mut inline = Vec::new();
    let mut later = Vec::new();
    let mut inline_bytes = 0usize;
    for attachment in attachments {
        if inline_bytes + attachment.bytes.len() <= INLINE_IN_CREATE {
            inline_bytes += attachment.bytes.len();
            inline.push(attachment.to_json());
        } else {
            later.push(attachment);
        }
    }
    if !inline.is_empty() {
        message.insert("attachments".into(), Value::Array(inline));
    }
    let internet_message_id = message
        .get("internetMessageId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            // RFC 5322 3.6.4 asks every message for a Message-ID; Exchange would add one.
            let id = format!("<{:032x}@imap2graph.invalid>", fastrand::u128(..));
            message.insert("internetMessageId".into(), json!(id));
            id
        });
    ComposedMessage {
        json: Value::Object(message),
        later_attachments: later,
        internet_message_id,
    }
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Graph's `recipient` objects for every address of a header (group members included).
fn recipients(address: &Address<'_>) -> Vec<Value> {
    address
        .iter()
        .filter_map(|addr| {
            let email = addr.address.as_deref()?;
            let mut object = json!({"emailAddress": {"address": email}});
            if let Some(name) = addr.name.as_deref().filter(|n| !n.is_empty()) {
                object["emailAddress"]["name"] = json!(name);
            }
            Some(object)
        })
        .collect()
}

/// `<a@b> <c@d>` from a header of message ids.
fn message_ids(value: &HeaderValue<'_>) -> Option<String> {
    let ids: Vec<String> = match value {
        HeaderValue::Text(id) => vec![format!("<{id}>")],
        HeaderValue::TextList(ids) => ids.iter().map(|id| format!("<{id}>")).collect(),
        _ => return None,
    };
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A raw header value unfolded (RFC 5322 2.2.3: line breaks removed) and trimmed.
fn unfold(value: &str) -> String {
    value
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect::<String>()
        .trim()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOICE: &[u8] = b"From: \"Caller One\" <caller@example.net>\r\nTo: Voicemail <voicemail@contoso.example>\r\nCc: a@x.example, B <b@x.example>\r\nSubject: Voice message from +1 555 0100\r\nDate: Tue, 03 Mar 2026 10:00:00 +0100\r\nMessage-ID: <vm-1@pbx.example>\r\nIn-Reply-To: <earlier@pbx.example>\r\nX-Caller-ID: +1 555\r\n 0100\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYou have a voice message.\r\n--b\r\nContent-Type: audio/mpeg; name=\"msg.mp3\"\r\nContent-Disposition: attachment; filename=\"msg.mp3\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--b--\r\n";

    fn property<'a>(json: &'a Value, id: &str) -> Option<&'a str> {
        json["singleValueExtendedProperties"]
            .as_array()?
            .iter()
            .find(|p| p["id"] == id)?["value"]
            .as_str()
    }

    #[test]
    fn a_voice_message_becomes_received_mail() {
        let received = DateTime::parse_from_rfc3339("2026-03-03T09:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let composed = compose(VOICE, received, &CreateFlags::default());
        let json = &composed.json;
        assert_eq!(json["subject"], "Voice message from +1 555 0100");
        assert_eq!(
            json["from"]["emailAddress"]["address"],
            "caller@example.net"
        );
        assert_eq!(json["from"]["emailAddress"]["name"], "Caller One");
        assert_eq!(json["ccRecipients"].as_array().unwrap().len(), 2);
        assert_eq!(json["internetMessageId"], "<vm-1@pbx.example>");
        assert_eq!(json["isRead"], false);
        assert_eq!(json["body"]["contentType"], "text");
        assert!(json["body"]["content"]
            .as_str()
            .unwrap()
            .contains("You have a voice message."));
        assert_eq!(json["internetMessageHeaders"][0]["name"], "X-Caller-ID");
        assert_eq!(json["internetMessageHeaders"][0]["value"], "+1 555 0100");
        assert_eq!(property(json, "Integer 0x0E07"), Some("0"));
        assert_eq!(
            property(json, "SystemTime 0x0E06"),
            Some("2026-03-03T09:00:05Z")
        );
        assert_eq!(
            property(json, "SystemTime 0x0039"),
            Some("2026-03-03T09:00:00Z")
        );
        assert_eq!(
            property(json, "String 0x1042"),
            Some("<earlier@pbx.example>")
        );
        let attachment = &json["attachments"][0];
        assert_eq!(attachment["name"], "msg.mp3");
        assert_eq!(attachment["contentType"], "audio/mpeg");
        assert_eq!(attachment["contentBytes"], "AAECAw==");
        assert!(composed.later_attachments.is_empty());
    }

    #[test]
    fn large_attachments_are_added_afterwards() {
        use base64::Engine;
        let big = vec![7u8; 3 * 1024 * 1024];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
        let mime = format!(
            "Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hi</p>\r\n--b\r\nContent-Type: audio/mpeg\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
        );
        let flags = CreateFlags {
            read: true,
            flagged: true,
            last_verb: Some(102),
            categories: vec!["Blue".into()],
        };
        let composed = compose(mime.as_bytes(), Utc::now(), &flags);
        assert_eq!(composed.json["body"]["contentType"], "html");
        assert!(composed.json.get("attachments").is_none());
        assert_eq!(composed.later_attachments.len(), 1);
        assert_eq!(composed.later_attachments[0].bytes.len(), big.len());
        assert_eq!(composed.json["flag"]["flagStatus"], "flagged");
        assert_eq!(composed.json["categories"][0], "Blue");
        assert_eq!(property(&composed.json, "Integer 0x0E07"), Some("1"));
        assert_eq!(property(&composed.json, LAST_VERB_PROPERTY), Some("102"));
    }
}
