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
//!
//! It also owns what an appended message must be for that translation to be honest, since the
//! bytes come straight from a client: a header section of RFC 5322 fields (2.2: `Name: value`
//! with a printable US-ASCII name, or a folded continuation), ended by a blank line or by the end
//! of the message (then it is all header). Anything else is not a message and is refused with
//! `[PARSE]` naming the line, rather than stored under made-up headers. Values may hold any
//! bytes (8-bit, NUL, controls: RFC 5322 4 reads them); what Graph would give back as MIME must
//! not hold NUL or other controls, so those become U+FFFD. A create request Graph would refuse
//! for its size is refused with `[TOOBIG]` before it is sent.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use mail_parser::{Address, HeaderValue, MessageParser, MessagePart, MimeHeaders};
use serde_json::{json, Value};

use super::model::LAST_VERB_PROPERTY;
use super::mutate::NewAttachment;

/// Attachments whose bytes add up to this much go inside the create request; the rest are
/// added one by one (a Graph request body must stay under 4 MB, and base64 grows by a third).
const INLINE_IN_CREATE: usize = 2 * 1024 * 1024;

/// The largest request body Graph takes: it answers 413 "The maximum request length supported
/// is 4MB" above it (the limit that outlook-large-attachments works around with upload sessions).
const GRAPH_REQUEST_LIMIT: usize = 4 * 1024 * 1024;

/// Bytes of a refused header line quoted back to the client.
const EXCERPT_BYTES: usize = 40;

/// Why a message cannot be appended: the IMAP response code (`PARSE`, `TOOBIG`, `CANNOT`) and
/// what is wrong, for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Unappendable {
    pub code: &'static str,
    pub reason: String,
}

impl Unappendable {
    fn new(code: &'static str, reason: impl Into<String>) -> Self {
        Unappendable {
            code,
            reason: reason.into(),
        }
    }
}

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

/// Checks that a draft, which Graph makes from its MIME in one request (base64 as
/// `text/plain`), is a message and fits in that request.
pub fn check_draft(mime: &[u8]) -> Result<(), Unappendable> {
    header_fields(mime)?;
    let request = mime.len().div_ceil(3) * 4;
    if request > GRAPH_REQUEST_LIMIT {
        return Err(Unappendable::new(
            "TOOBIG",
            format!(
                "a draft is made by Graph from its MIME in one request of at most \
                 {GRAPH_REQUEST_LIMIT} bytes, and this one is {request} bytes in base64; append \
                 it without \\Draft (attachments then go apart and may be far larger)"
            ),
        ));
    }
    Ok(())
}

/// Builds the create request of a non-draft message from its MIME. `received` is the IMAP
/// INTERNALDATE. Refuses what is not a message and what Graph could not take in one request.
pub fn compose(
    mime: &[u8],
    received: DateTime<Utc>,
    flags: &CreateFlags,
) -> Result<ComposedMessage, Unappendable> {
    let fields = header_fields(mime)?;
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
            message.insert("subject".into(), json!(graph_line(subject)));
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
            message.insert(
                "internetMessageId".into(),
                json!(format!("<{}>", graph_line(id))),
            );
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
        // From the checked fields, not mail-parser's raw headers, which leave out a value that
        // is not UTF-8; such a value is kept with U+FFFD where its bytes were.
        let custom: Vec<Value> = fields
            .iter()
            .filter(|field| field.name.len() > 2)
            .filter(|field| {
                field
                    .name
                    .get(..2)
                    .is_some_and(|p| p.eq_ignore_ascii_case("x-"))
            })
            .map(|field| {
                let value = graph_line(&unfold(&String::from_utf8_lossy(field.value)));
                json!({"name": field.name, "value": value})
            })
            .collect();
        if !custom.is_empty() {
            message.insert("internetMessageHeaders".into(), Value::Array(custom));
        }
        // mail-parser offers text converted to HTML when there is no HTML part: take HTML only
        // when the message has it.
        let has_html = parsed.html_part(0).is_some_and(|part| part.is_text_html());
        let body = match parsed.body_html(0).filter(|_| has_html) {
            Some(html) => json!({"contentType": "html", "content": graph_text(&html)}),
            None => json!({
                "contentType": "text",
                "content": graph_text(&parsed.body_text(0).unwrap_or_default()),
            }),
        };
        message.insert("body".into(), body);
        for part in parsed.attachments() {
            let (name, content_type) = attachment_label(part);
            let is_inline = part
                .content_disposition()
                .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"))
                || (part.content_disposition().is_none() && part.content_id().is_some());
            attachments.push(NewAttachment {
                name,
                content_type,
                content_id: part
                    .content_id()
                    .map(|id| graph_line(id.trim_matches(['<', '>']))),
                is_inline,
                bytes: Bytes::copy_from_slice(part.contents()),
            });
        }
    } else {
        // mail-parser read nothing from a header section that passed the check (not seen in
        // practice): keep the whole text rather than lose it.
        message.insert(
            "body".into(),
            json!({"contentType": "text", "content": graph_text(&String::from_utf8_lossy(mime))}),
        );
    }
    message.insert(
        "singleValueExtendedProperties".into(),
        Value::Array(properties),
    );
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
    // What is left of a request for attachments; `,"attachments":[]` and a comma each.
    let mut room = GRAPH_REQUEST_LIMIT
        .checked_sub(json_len(&message))
        .ok_or_else(|| {
            Unappendable::new(
                "TOOBIG",
                format!(
                    "the message's text and header fields come to {} bytes in Graph's create \
                     request, over the {GRAPH_REQUEST_LIMIT} bytes Graph takes in one request \
                     (attachments go apart and may be far larger)",
                    json_len(&message)
                ),
            )
        })?
        .saturating_sub(20);
    let mut inline = Vec::new();
    let mut later = Vec::new();
    let mut inline_bytes = 0usize;
    for attachment in attachments {
        let json = attachment.to_json();
        let size = json_len(&json) + 1;
        if inline_bytes + attachment.bytes.len() <= INLINE_IN_CREATE && size <= room {
            inline_bytes += attachment.bytes.len();
            room -= size;
            inline.push(json);
        } else {
            later.push(attachment);
        }
    }
    if !inline.is_empty() {
        message.insert("attachments".into(), Value::Array(inline));
    }
    Ok(ComposedMessage {
        json: Value::Object(message),
        later_attachments: later,
        internet_message_id,
    })
}

/// The name and content type Graph is given for an attachment part (as `compose` creates
/// it), by which an exact record (`crate::exact`) finds the attachment again.
pub(crate) fn attachment_label(part: &MessagePart<'_>) -> (String, String) {
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
    (graph_line(&name), graph_line(&content_type))
}

/// One field of the message's header section as the client sent it.
struct HeaderField<'a> {
    /// Printable US-ASCII without `:` (checked).
    name: &'a str,
    /// The bytes after the colon up to the next field, folding line ends included.
    value: &'a [u8],
}

/// The fields of the header section `mime` begins with (RFC 5322 2.2), up to the blank line
/// that ends it, or the end of the message when there is none (then it is all header). Line
/// ends are CRLF or a bare LF. A line that is neither `Name: value` (optional white space
/// before the colon, RFC 5322 4.5) nor the folded continuation of a field means the text is not
/// a message: `[PARSE]`, naming the line.
fn header_fields(mime: &[u8]) -> Result<Vec<HeaderField<'_>>, Unappendable> {
    if mime.is_empty() {
        return Err(Unappendable::new(
            "CANNOT",
            "an empty message cannot be appended",
        ));
    }
    let mut fields = Vec::new();
    // The field being read: its name and where its value starts.
    let mut open: Option<(&str, usize)> = None;
    let mut start = 0;
    let mut number = 0usize;
    while start < mime.len() {
        number += 1;
        let end = mime[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(mime.len(), |at| start + at);
        let line = &mime[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if matches!(line[0], b' ' | b'\t') {
            if open.is_none() {
                return Err(not_a_field(number, line));
            }
        } else {
            let name = line
                .iter()
                .position(|&b| b == b':')
                .map(|colon| (&line[..colon], start + colon + 1))
                .map(|(name, value)| (name.trim_ascii_end(), value))
                .filter(|(name, _)| {
                    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
                })
                .and_then(|(name, value)| Some((std::str::from_utf8(name).ok()?, value)));
            let Some(next) = name else {
                return Err(not_a_field(number, line));
            };
            if let Some((name, value)) = open.replace(next) {
                fields.push(HeaderField {
                    name,
                    value: &mime[value..start],
                });
            }
        }
        start = (end + 1).min(mime.len());
    }
    if let Some((name, value)) = open {
        fields.push(HeaderField {
            name,
            value: &mime[value..start.max(value)],
        });
    }
    Ok(fields)
}

fn not_a_field(number: usize, line: &[u8]) -> Unappendable {
    let shown = &line[..line.len().min(EXCERPT_BYTES)];
    let more = if line.len() > EXCERPT_BYTES {
        "..."
    } else {
        ""
    };
    let what = if number == 1 {
        "the message does not begin with a header field: line 1".to_string()
    } else {
        format!("header line {number}")
    };
    Unappendable::new(
        "PARSE",
        format!(
            "{what} (\"{}{more}\") is neither a field `Name: value` with a printable US-ASCII \
             name nor the folded continuation of one (RFC 5322 2.2); a message is its header \
             fields, a blank line, then its text",
            shown.escape_ascii()
        ),
    )
}

/// Text as Graph's MIME may carry it: NUL, DEL and the other C0 controls but tab, CR and LF
/// become U+FFFD (RFC 5322 4 reads them in obsolete syntax but never lets them be written), so
/// the reader sees that something was there.
fn graph_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\r' | '\n' => c,
            c if c.is_ascii_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// A one-line value (subject, names, addresses, ids, header values): as [`graph_text`], with
/// line breaks as spaces.
fn graph_line(text: &str) -> String {
    graph_text(text).replace(['\r', '\n'], " ")
}

/// Bytes of `value` as JSON.
fn json_len(value: &impl serde::Serialize) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len())
}

fn iso(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Graph's `recipient` objects for every address of a header (group members included).
fn recipients(address: &Address<'_>) -> Vec<Value> {
    address
        .iter()
        .filter_map(|addr| {
            let email = graph_line(addr.address.as_deref()?);
            let mut object = json!({"emailAddress": {"address": email}});
            if let Some(name) = addr.name.as_deref().filter(|n| !n.is_empty()) {
                object["emailAddress"]["name"] = json!(graph_line(name));
            }
            Some(object)
        })
        .collect()
}

/// `<a@b> <c@d>` from a header of message ids.
fn message_ids(value: &HeaderValue<'_>) -> Option<String> {
    let ids: Vec<String> = match value {
        HeaderValue::Text(id) => vec![format!("<{}>", graph_line(id))],
        HeaderValue::TextList(ids) => ids
            .iter()
            .map(|id| format!("<{}>", graph_line(id)))
            .collect(),
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
        let composed = compose(VOICE, received, &CreateFlags::default()).unwrap();
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
        let composed = compose(mime.as_bytes(), Utc::now(), &flags).unwrap();
        assert_eq!(composed.json["body"]["contentType"], "html");
        assert!(composed.json.get("attachments").is_none());
        assert_eq!(composed.later_attachments.len(), 1);
        assert_eq!(composed.later_attachments[0].bytes.len(), big.len());
        assert_eq!(composed.json["flag"]["flagStatus"], "flagged");
        assert_eq!(composed.json["categories"][0], "Blue");
        assert_eq!(property(&composed.json, "Integer 0x0E07"), Some("1"));
        assert_eq!(property(&composed.json, LAST_VERB_PROPERTY), Some("102"));
    }

    fn refused(mime: &[u8]) -> Unappendable {
        match compose(mime, Utc::now(), &CreateFlags::default()) {
            Ok(composed) => panic!(
                "{:?} was composed: {}",
                mime.escape_ascii().to_string(),
                composed.json
            ),
            Err(refused) => refused,
        }
    }

    fn composed(mime: &[u8]) -> Value {
        let json = compose(mime, Utc::now(), &CreateFlags::default())
            .unwrap_or_else(|err| panic!("{:?}: {err}", mime.escape_ascii().to_string()))
            .json;
        assert_graph_safe(&json);
        json
    }

    /// No string Graph is sent holds a control character but tab, CR and LF.
    fn assert_graph_safe(value: &Value) {
        match value {
            Value::String(text) => assert!(
                !text
                    .chars()
                    .any(|c| c.is_ascii_control() && !matches!(c, '\t' | '\r' | '\n')),
                "a control character reaches Graph: {text:?}"
            ),
            Value::Array(items) => items.iter().for_each(assert_graph_safe),
            Value::Object(map) => map.values().for_each(assert_graph_safe),
            _ => {}
        }
    }

    fn custom_header<'a>(json: &'a Value, name: &str) -> Option<&'a str> {
        json["internetMessageHeaders"]
            .as_array()?
            .iter()
            .find(|h| h["name"] == name)?["value"]
            .as_str()
    }

    #[test]
    fn header_lines_that_are_not_fields_are_refused_naming_the_line() {
        for (mime, line) in [
            (&b"\xff\xffX-Header: boom\r\n\r\nbody\r\n"[..], 1),
            ("X€-Foo: bar\r\nSubject: s\r\n\r\nbody\r\n".as_bytes(), 1),
            ("Subject: s\r\nX€-Foo: bar\r\n\r\nbody\r\n".as_bytes(), 2),
            (b"Subject: s\r\nFrom: a@example.com\r\n\xff: v\r\n\r\nb", 3),
            (b"Sub ject: space in the name\r\n\r\n", 1),
            (b"X-Ctl\x01: v\r\n\r\n", 1),
            (b"X-Nul\x00: v\r\n\r\n", 1),
            (b": no name\r\n\r\n", 1),
            (b" folded: before any field\r\nSubject: s\r\n\r\n", 1),
            (
                b"From sender@example.com Tue Mar  3 10:00:00 2026\r\nSubject: s\r\n\r\nb",
                1,
            ),
            (b"Subject: s\r\nthis line has no colon\r\n\r\nbody", 2),
        ] {
            let refused = refused(mime);
            assert_eq!(refused.code, "PARSE", "{refused}");
            let expected = if line == 1 {
                "line 1 (".to_string()
            } else {
                format!("header line {line} (")
            };
            assert!(refused.reason.contains(&expected), "{refused}");
            assert!(
                refused.reason.bytes().all(|b| (b' '..=b'~').contains(&b)),
                "the reason is not one line of ASCII: {refused}"
            );
            assert!(check_draft(mime).is_err(), "a draft of {refused}");
        }
        assert!(refused(b"\xff\xffX-Header: boom\r\n\r\n")
            .reason
            .contains("\\xff\\xffX-Header: boom"));
    }

    #[test]
    fn text_without_a_blank_line_is_all_header_or_not_a_message() {
        let json = composed(b"Subject: only a header\r\nX-Tag: last line, no line end");
        assert_eq!(json["subject"], "only a header");
        assert_eq!(json["body"]["content"], "");
        assert_eq!(
            custom_header(&json, "X-Tag"),
            Some("last line, no line end")
        );
        let refused = refused(b"hello world, no header at all\r\nsecond line\r\n");
        assert_eq!(refused.code, "PARSE");
        assert!(refused
            .reason
            .contains("does not begin with a header field"));
        assert_eq!(self::refused(&[b'a'; 100]).code, "PARSE");
    }

    #[test]
    fn header_values_with_any_bytes_are_kept_as_graph_can_hold_them() {
        let json = composed(
            b"Subject: a\x00b\x01c\x7f\r\nX-Nul: x\x00y\r\nX-Latin: \xe9t\xe9\r\nX-Utf8: caf\xc3\xa9\r\n\
              X-Folded: one\r\n\ttwo\r\nFrom: \"N\x07me\" <a\x00b@example.com>\r\n\r\nbody\r\n",
        );
        assert_eq!(json["subject"], "a\u{fffd}b\u{fffd}c\u{fffd}");
        assert_eq!(custom_header(&json, "X-Nul"), Some("x\u{fffd}y"));
        assert_eq!(custom_header(&json, "X-Latin"), Some("\u{fffd}t\u{fffd}"));
        assert_eq!(custom_header(&json, "X-Utf8"), Some("café"));
        assert_eq!(custom_header(&json, "X-Folded"), Some("one\ttwo"));
        assert_eq!(json["from"]["emailAddress"]["name"], "N\u{fffd}me");
        // 8-bit UTF-8 in a structured header (RFC 6532) is read as such.
        let json = composed("Subject: Grüße\r\nFrom: Jürgen <j@example.com>\r\n\r\nx".as_bytes());
        assert_eq!(json["subject"], "Grüße");
        assert_eq!(json["from"]["emailAddress"]["name"], "Jürgen");
    }

    #[test]
    fn nul_bytes_in_the_body_become_replacement_characters() {
        let json = composed(b"Subject: nul\r\n\r\nab\x00cd\x00\r\nline two\r\n");
        assert_eq!(
            json["body"]["content"],
            "ab\u{fffd}cd\u{fffd}\r\nline two\r\n"
        );
    }

    #[test]
    fn empty_messages_and_messages_of_line_ends() {
        assert_eq!(refused(b"").code, "CANNOT");
        assert_eq!(check_draft(b"").unwrap_err().code, "CANNOT");
        // No header fields and a body of blank lines: RFC 5322 allows both.
        let json = composed(b"\r\n\r\n\r\n");
        assert!(json.get("subject").is_none());
        assert!(json["body"]["content"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c == '\r' || c == '\n'));
        assert!(composed(b"\n\nbare LF\n")["body"]["content"]
            .as_str()
            .unwrap()
            .contains("bare LF"));
    }

    #[test]
    fn what_does_not_fit_in_one_graph_request_is_refused() {
        let mut mime = b"Subject: one long line\r\n\r\n".to_vec();
        mime.resize(mime.len() + GRAPH_REQUEST_LIMIT, b'a');
        let refused = refused(&mime);
        assert_eq!(refused.code, "TOOBIG", "{refused}");
        let mut header = b"X-Big: ".to_vec();
        header.resize(GRAPH_REQUEST_LIMIT + 10, b'h');
        header.extend_from_slice(b"\r\n\r\nsmall");
        assert_eq!(self::refused(&header).code, "TOOBIG");
        let draft = check_draft(&mime).unwrap_err();
        assert_eq!(draft.code, "TOOBIG", "{draft}");
        assert!(check_draft(VOICE).is_ok());
    }

    #[test]
    fn inline_attachments_leave_room_for_the_text() {
        use base64::Engine;
        let text = "a line of text\r\n".repeat(3 * 1024 * 1024 / 16);
        let encoded = base64::engine::general_purpose::STANDARD.encode(vec![9u8; 1024 * 1024]);
        let mime = format!(
            "Subject: long text\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--b--\r\n"
        );
        let composed = compose(mime.as_bytes(), Utc::now(), &CreateFlags::default()).unwrap();
        assert!(json_len(&composed.json) <= GRAPH_REQUEST_LIMIT);
        assert!(composed.json.get("attachments").is_none());
        assert_eq!(composed.later_attachments.len(), 1);
    }

    /// Random messages built from the bytes that break parsers: never a panic, and whatever is
    /// composed is safe for Graph.
    #[test]
    fn no_bytes_make_compose_panic() {
        const PIECES: &[&[u8]] = &[
            b"\r\n",
            b"\n",
            b"\r",
            b":",
            b" ",
            b"\t",
            b"\x00",
            b"\xff",
            b"\xc3",
            b"\xa9",
            b"\xe2\x82\xac",
            b"X-",
            b"Subject",
            b"From",
            b"To",
            b"Content-Type",
            b"multipart/mixed; boundary=b",
            b"--b",
            b"--b--",
            b"=?utf-8?q?",
            b"?=",
            b"=?",
            b"\"",
            b"<",
            b">",
            b"@",
            b";",
            b",",
            b"Content-Transfer-Encoding: base64",
            b"quoted-printable",
            b"=0",
            b"message/rfc822",
            b"name=\"",
            b"Message-ID",
            b"In-Reply-To",
            b"Date",
            b"a",
            b"\x01",
            b"\x7f",
        ];
        let mut rng = fastrand::Rng::with_seed(12);
        let mut composed = 0;
        for _ in 0..5000 {
            // Half begin as a message, so that the parts after the header are reached too.
            let mut mime = if rng.bool() {
                b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n".to_vec()
            } else {
                Vec::new()
            };
            for _ in 0..rng.usize(0..60) {
                mime.extend_from_slice(PIECES[rng.usize(..PIECES.len())]);
            }
            let _ = check_draft(&mime);
            if let Ok(message) = compose(&mime, Utc::now(), &CreateFlags::default()) {
                assert_graph_safe(&message.json);
                composed += 1;
            }
        }
        assert!(composed > 2000, "only {composed} of 5000 were messages");
    }
}
