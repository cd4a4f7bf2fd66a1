//! The message write path: create (JSON, or MIME as a draft), PATCH, move, copy, DELETE,
//! permanentDelete, send a draft, sendMail (JSON and MIME). Owns the validation of message
//! JSON bodies and the MIME rendering of JSON-built messages.
//!
//! Docs:
//! - <https://learn.microsoft.com/graph/api/user-post-messages>: create a draft from JSON,
//!   or from MIME with `Content-Type: text/plain` and a base64 body (always a draft); 201.
//! - Non-draft creation through `singleValueExtendedProperties` PR_MESSAGE_FLAGS
//!   (`Integer 0x0E07`, value without MSGFLAG_UNSENT 0x8) and delivery/submit times through
//!   PR_MESSAGE_DELIVERY_TIME (`SystemTime 0x0E06`) / PR_CLIENT_SUBMIT_TIME (`SystemTime
//!   0x0039`): not on the Graph pages; MS-OXCMSG 2.2.1.6 defines the flags and says the
//!   unsent flag is read-write only before the first save — which is why it works at
//!   creation only (<https://learn.microsoft.com/openspecs/exchange_server_protocols/ms-oxcmsg>).
//! - <https://learn.microsoft.com/graph/api/message-update>: subject, body, recipients
//!   "updatable only if isDraft = true"; isRead, flag, categories, importance,
//!   inferenceClassification, receipts always. The error code for updating a draft-only
//!   property of a sent message is not documented; we answer 400 ErrorInvalidRequest.
//! - <https://learn.microsoft.com/graph/api/message-move>, `message-copy`: body
//!   `{"destinationId": id or well-known name}`, 201 with the new message.
//! - <https://learn.microsoft.com/graph/api/message-delete>: 204. Where the item goes is not
//!   stated; issue 3 says Recoverable Items (well-known `recoverableitemsdeletions`), which is
//!   also what Outlook does for a delete outside Deleted Items, so that is where it goes.
//! - <https://learn.microsoft.com/graph/api/message-permanentdelete>: 204, gone from view.
//! - <https://learn.microsoft.com/graph/api/message-send> and
//!   <https://learn.microsoft.com/graph/api/user-sendmail>: 202 with no body; sendMail takes
//!   `{"message":…, "saveToSentItems": bool (default true)}` or MIME as base64 text/plain.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::errors::GraphError;
use super::messages::{lookup, render};
use super::{context_user, Ctx, GraphResponse, RespBody};
use crate::mime_view::Mailbox as Addr;
use crate::store::{Lookup, Mailbox, NewMessageProps, Store};

const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "importance",
    "isRead",
    "isDeliveryReceiptRequested",
    "isReadReceiptRequested",
    "categories",
    "flag",
    "internetMessageId",
    "internetMessageHeaders",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
    "attachments",
    "inferenceClassification",
];
const DRAFT_ONLY: &[&str] = &[
    "subject",
    "body",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "replyTo",
    "internetMessageId",
    "internetMessageHeaders",
];
const READ_ONLY: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "receivedDateTime",
    "sentDateTime",
    "hasAttachments",
    "bodyPreview",
    "parentFolderId",
    "conversationId",
    "conversationIndex",
    "isDraft",
    "webLink",
    "uniqueBody",
];

fn parse_json_body(ctx: &Ctx<'_>) -> Result<Map<String, Value>, GraphError> {
    super::json_body(ctx.req)
}

fn check_props(o: &Map<String, Value>, draft: bool) -> Result<(), GraphError> {
    for k in o.keys() {
        if k.starts_with('@') {
            continue;
        }
        if READ_ONLY.contains(&k.as_str()) {
            if k == "receivedDateTime" || k == "sentDateTime" {
                // Graph ignores these on write; set the MAPI properties instead.
                continue;
            }
            return Err(GraphError::invalid_request(format!(
                "The property '{k}' is read-only and cannot be set."
            )));
        }
        if !WRITABLE.contains(&k.as_str()) {
            return Err(GraphError::new(
                400,
                "RequestBroker--ParseUri",
                format!("Property '{k}' does not exist on type 'microsoft.graph.message'."),
            ));
        }
        if !draft && DRAFT_ONLY.contains(&k.as_str()) {
            return Err(GraphError::invalid_request(format!(
                "The property '{k}' can only be updated on a draft (isDraft = true)."
            )));
        }
    }
    Ok(())
}

fn recipients(v: Option<&Value>) -> Result<Vec<Addr>, GraphError> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let arr = v
        .as_array()
        .ok_or_else(|| GraphError::bad_request("Recipients must be an array."))?;
    arr.iter().map(recipient).collect()
}

fn recipient(r: &Value) -> Result<Addr, GraphError> {
    let e = &r["emailAddress"];
    let address = e["address"]
        .as_str()
        .filter(|a| a.contains('@'))
        .ok_or_else(|| {
            GraphError::new(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient is not valid.",
            )
        })?;
    Ok(Addr {
        name: e["name"].as_str().map(|s| s.to_string()),
        address: address.to_string(),
    })
}

fn fmt_addr(a: &Addr) -> String {
    match &a.name {
        Some(n) if !n.is_empty() => format!(
            "{} <{}>",
            if n.is_ascii() && !n.contains([',', '"', '<', '>', '@', ';', ':']) {
                n.clone()
            } else if n.is_ascii() {
                format!("\"{}\"", n.replace('"', "'"))
            } else {
                crate::seed::encode_header_text(n)
            },
            a.address
        ),
        _ => a.address.clone(),
    }
}

/// (name, content type, bytes, inline content id) of an attachment to render.
pub(crate) type NewAttachment = (String, String, Vec<u8>, Option<String>);

/// The item a message's MIME is written from: what Exchange keeps of a message (its
/// properties and attachments), not its MIME.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    from: Option<Addr>,
    to: Vec<Addr>,
    cc: Vec<Addr>,
    bcc: Vec<Addr>,
    reply_to: Vec<Addr>,
    subject: String,
    body_html: bool,
    body: String,
    date: i64,
    message_id: String,
    importance: Option<String>,
    pub(crate) attachments: Vec<NewAttachment>,
    /// Attached messages (itemAttachment): name and the message's MIME.
    items: Vec<(String, Vec<u8>)>,
    /// internetMessageHeaders (custom `x-` headers), In-Reply-To and References.
    extra_headers: Vec<(String, String)>,
}

/// Exchange's form of a date in a header field: UTC, day of month without a leading zero
/// (`Date: Mon, 10 Sep 2018 23:47:53 +0000` in the sample of
/// <https://learn.microsoft.com/graph/outlook-get-mime-message>).
fn exchange_date(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .format("%a, %-d %b %Y %H:%M:%S +0000")
        .to_string()
}

/// A boundary in Exchange's form, `_00N_` + the Message-ID's letters and digits + `_`
/// (Exchange's own MIME shows `_000_BYAPR15MB2423E0E4…namp_` for the alternative and `_004_…_`
/// around attachments; the rule behind the characters is not documented, only that a boundary
/// is new: it never is the one a client wrote).
fn exchange_boundary(kind: u8, message_id: &str) -> String {
    let tag: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(40)
        .collect();
    format!("_{kind:03}_{tag}_")
}

/// The MIME Exchange writes for an item (`$value` of a message created from JSON, or whose
/// MIME Exchange converted): MS-OXCMAIL 2.2.3 ("Converting a Message Object to MIME") —
/// header fields from the properties (From, To, Cc, Subject, Thread-Topic, Date in UTC,
/// Message-ID, X-MS-Has-Attach, X-MS-TNEF-Correlator, Content-Type before MIME-Version, in
/// the order of the outlook-get-mime-message sample), an HTML body as multipart/alternative
/// with a text/plain rendering, text in quoted-printable, and each file attachment in base64
/// with Content-Description and a Content-Disposition carrying size, creation-date and
/// modification-date (MS-OXCMAIL 2.2.3.4.2: "MIME writers SHOULD generate a
/// Content-Description header by using the value of the PidTagDisplayName property"). None of
/// what the client's own MIME had (boundaries, encodings, line lengths, other header fields)
/// survives.
pub(crate) fn render_mime(d: &Draft) -> Vec<u8> {
    let mut h = String::new();
    let list = |v: &[Addr]| v.iter().map(fmt_addr).collect::<Vec<_>>().join(", ");
    if let Some(f) = &d.from {
        h.push_str(&format!("From: {}\r\n", fmt_addr(f)));
    }
    if !d.to.is_empty() {
        h.push_str(&format!("To: {}\r\n", list(&d.to)));
    }
    if !d.cc.is_empty() {
        h.push_str(&format!("CC: {}\r\n", list(&d.cc)));
    }
    if !d.bcc.is_empty() {
        h.push_str(&format!("BCC: {}\r\n", list(&d.bcc)));
    }
    if !d.reply_to.is_empty() {
        h.push_str(&format!("Reply-To: {}\r\n", list(&d.reply_to)));
    }
    let subject = crate::seed::encode_header_text(&d.subject);
    h.push_str(&format!(
        "Subject: {subject}\r\nThread-Topic: {subject}\r\n"
    ));
    h.push_str(&format!("Date: {}\r\n", exchange_date(d.date)));
    h.push_str(&format!("Message-ID: {}\r\n", d.message_id));
    for (n, v) in &d.extra_headers {
        h.push_str(&format!("{n}: {}\r\n", crate::seed::encode_header_text(v)));
    }
    if let Some(i) = &d.importance {
        if i != "normal" {
            h.push_str(&format!("Importance: {i}\r\n"));
        }
    }
    let has_attachments = !d.attachments.is_empty() || !d.items.is_empty();
    h.push_str(&format!(
        "X-MS-Has-Attach: {}\r\nX-MS-TNEF-Correlator:\r\n",
        if has_attachments { "yes" } else { "" }
    ));
    let text_part = |ct: &str, text: &str| {
        let charset = if text.is_ascii() { "us-ascii" } else { "utf-8" };
        format!(
            "Content-Type: {ct}; charset=\"{charset}\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
            // One line end closes the text, as it does in the item's body: a body written
            // anew comes out the same however often it is.
            crate::seed::qp(text.replace("\r\n", "\n").strip_suffix('\n').unwrap_or(text))
        )
    };
    let body = if d.body_html {
        let b = exchange_boundary(0, &d.message_id);
        let plain = crate::mime_view::strip_html(&d.body);
        format!(
            "Content-Type: multipart/alternative;\r\n\tboundary=\"{b}\"\r\n\r\n--{b}\r\n{}\r\n--{b}\r\n{}\r\n--{b}--\r\n",
            text_part("text/plain", plain.trim()),
            text_part("text/html", &d.body)
        )
    } else {
        text_part("text/plain", &d.body)
    };
    if !has_attachments {
        // Content-Type comes before MIME-Version in Exchange's output.
        let (fields, rest) = body.split_once("\r\n\r\n").unwrap_or((&body, ""));
        h.push_str(&format!("{fields}\r\nMIME-Version: 1.0\r\n\r\n{rest}"));
        return h.into_bytes();
    }
    let b = exchange_boundary(4, &d.message_id);
    h.push_str(&format!(
        "Content-Type: multipart/mixed;\r\n\tboundary=\"{b}\"\r\nMIME-Version: 1.0\r\n\r\n--{b}\r\n{body}"
    ));
    let when = chrono::DateTime::from_timestamp(d.date, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    for (name, ct, bytes, cid) in &d.attachments {
        let n = crate::seed::encode_header_text(name);
        let disposition = if cid.is_some() {
            "inline"
        } else {
            "attachment"
        };
        h.push_str(&format!(
            "\r\n--{b}\r\nContent-Type: {ct}; name=\"{n}\"\r\nContent-Description: {n}\r\n\
             Content-Disposition: {disposition}; filename=\"{n}\"; size={};\r\n\
             \tcreation-date=\"{when}\";\r\n\tmodification-date=\"{when}\"\r\n",
            bytes.len()
        ));
        if let Some(c) = cid {
            h.push_str(&format!("Content-ID: <{c}>\r\n"));
        }
        h.push_str(&format!(
            "Content-Transfer-Encoding: base64\r\n\r\n{}",
            crate::seed::b64_lines(bytes)
        ));
    }
    let mut out = h.into_bytes();
    for (name, raw) in &d.items {
        out.extend_from_slice(
            format!(
                "\r\n--{b}\r\nContent-Type: message/rfc822\r\nContent-Description: {}\r\n\
                 Content-Disposition: attachment\r\n\r\n",
                crate::seed::encode_header_text(name)
            )
            .as_bytes(),
        );
        out.extend_from_slice(raw);
    }
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}

/// The item Exchange makes of a message it holds as MIME (a draft created from MIME, or any
/// message whose attachments change): its properties and attachments, without the attachment
/// at `skip` (one being deleted). Header fields with no property of their own are kept when
/// MS-OXCMAIL maps them to one: `X-` fields (2.2.3.2.x: stored as named properties in
/// PS_INTERNET_HEADERS), In-Reply-To and References (PidTagInReplyToId,
/// PidTagInternetReferences); the others (Received, Content-Class, Comments, …) are not
/// carried over. Whether Exchange writes every named X- property back is not documented.
pub(crate) fn draft_from_view(
    mb: &Mailbox,
    raw: &[u8],
    view: &crate::mime_view::MimeView,
    fallback_date: i64,
    skip: Option<usize>,
) -> Draft {
    let mut extra_headers = Vec::new();
    if let Some(parsed) = mail_parser::MessageParser::default().parse_headers(raw) {
        for header in parsed.headers_raw() {
            let (name, value) = header;
            let kept = name.len() > 2
                && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"))
                || name.eq_ignore_ascii_case("In-Reply-To")
                || name.eq_ignore_ascii_case("References");
            let regenerated = ["X-MS-Has-Attach", "X-MS-TNEF-Correlator"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(name));
            if kept && !regenerated {
                let unfolded: String = value
                    .split(['\r', '\n'])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                extra_headers.push((name.to_string(), unfolded));
            }
        }
    }
    let mut attachments = Vec::new();
    let mut items = Vec::new();
    for (i, a) in view.attachments.iter().enumerate() {
        if Some(i) == skip {
            continue;
        }
        if a.is_item {
            items.push((a.name.clone(), a.bytes.clone()));
        } else {
            attachments.push((
                a.name.clone(),
                a.content_type.clone(),
                a.bytes.clone(),
                if a.is_inline {
                    a.content_id.clone()
                } else {
                    None
                },
            ));
        }
    }
    let (body_html, body) = match (&view.body_html, &view.body_text) {
        (Some(h), _) => (true, h.clone()),
        (None, Some(t)) => (false, t.clone()),
        _ => (false, String::new()),
    };
    Draft {
        from: view.from.clone().or_else(|| {
            Some(Addr {
                name: Some(mb.display_name.clone()),
                address: mb.address.clone(),
            })
        }),
        to: view.to.clone(),
        cc: view.cc.clone(),
        bcc: view.bcc.clone(),
        reply_to: view.reply_to.clone(),
        subject: view.subject.clone(),
        body_html,
        body,
        date: view.date.unwrap_or(fallback_date),
        message_id: view
            .message_id
            .clone()
            .unwrap_or_else(|| fresh_message_id(mb)),
        importance: Some(view.importance.to_string()),
        attachments,
        items,
        extra_headers,
    }
}

fn parse_time(v: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.timestamp())
}

fn attachments_from(v: Option<&Value>) -> Result<Vec<NewAttachment>, GraphError> {
    let Some(Value::Array(a)) = v else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for att in a {
        let (name, ct, bytes, cid) = file_attachment(att)?;
        out.push((name, ct, bytes, cid));
    }
    Ok(out)
}

/// A `#microsoft.graph.fileAttachment` JSON body.
pub(crate) fn file_attachment(att: &Value) -> Result<NewAttachment, GraphError> {
    let ty = att["@odata.type"].as_str().unwrap_or("");
    if !ty.eq_ignore_ascii_case("#microsoft.graph.fileAttachment") {
        return Err(GraphError::not_implemented(&format!(
            "attachments of type '{ty}' (only #microsoft.graph.fileAttachment)"
        )));
    }
    let name = att["name"].as_str().unwrap_or("attachment").to_string();
    let ct = att["contentType"]
        .as_str()
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(att["contentBytes"].as_str().unwrap_or(""))
        .map_err(|_| GraphError::bad_request("contentBytes is not valid base64."))?;
    let cid = if att["isInline"].as_bool() == Some(true) {
        att["contentId"].as_str().map(|s| s.to_string())
    } else {
        None
    };
    Ok((name, ct, bytes, cid))
}

struct ExtProps {
    flags: Option<i64>,
    received: Option<i64>,
    sent: Option<i64>,
    other: Vec<(String, String)>,
}

fn ext_props(v: Option<&Value>) -> Result<ExtProps, GraphError> {
    let mut e = ExtProps {
        flags: None,
        received: None,
        sent: None,
        other: Vec::new(),
    };
    let Some(v) = v else { return Ok(e) };
    let arr = v.as_array().ok_or_else(|| {
        GraphError::bad_request("singleValueExtendedProperties must be an array.")
    })?;
    for p in arr {
        let id = p["id"]
            .as_str()
            .and_then(super::odata::normalise_ext_id)
            .ok_or_else(|| GraphError::bad_request("Invalid extended property id."))?;
        let value = match &p["value"] {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        match id.as_str() {
            "Integer 0xe07" => {
                e.flags =
                    Some(value.trim().parse().map_err(|_| {
                        GraphError::bad_request("PR_MESSAGE_FLAGS must be an integer.")
                    })?)
            }
            "SystemTime 0xe06" => {
                e.received = Some(parse_time(&value).ok_or_else(|| {
                    GraphError::bad_request("SystemTime values must be ISO 8601.")
                })?)
            }
            "SystemTime 0x39" => {
                e.sent = Some(parse_time(&value).ok_or_else(|| {
                    GraphError::bad_request("SystemTime values must be ISO 8601.")
                })?)
            }
            "Integer 0xe08" => {}
            _ => e.other.push((id, value)),
        }
    }
    Ok(e)
}

fn fresh_message_id(mb: &Mailbox) -> String {
    let domain = mb
        .address
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("localhost");
    let local = crate::ids::opaque(
        &[
            mb.user_id.as_bytes(),
            &mb.next_order.to_le_bytes(),
            b"msgid",
        ],
        24,
    );
    format!("<{local}@{domain}>")
}

/// `internetMessageHeaders` on create: "only custom headers that start with x- or X-"
/// (https://learn.microsoft.com/graph/api/resources/message, internetMessageHeaders); others
/// are refused with 400 InvalidInternetMessageHeader.
fn extra_headers(v: Option<&Value>) -> Result<Vec<(String, String)>, GraphError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let arr = v
        .as_array()
        .ok_or_else(|| GraphError::bad_request("internetMessageHeaders must be an array."))?;
    let mut out = Vec::new();
    for h in arr {
        let name = h["name"].as_str().unwrap_or("");
        let value = h["value"].as_str().unwrap_or("");
        let valid = name.len() > 2
            && name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"))
            && name.bytes().all(|c| c.is_ascii_graphic() && c != b':');
        if !valid || value.contains(['\r', '\n']) {
            return Err(GraphError::new(
                400,
                "InvalidInternetMessageHeader",
                format!(
                    "The internet message header name '{name}' should start with 'x-' or 'X-'."
                ),
            ));
        }
        out.push((name.to_string(), value.to_string()));
    }
    Ok(out)
}

fn draft_from_json(mb: &Mailbox, o: &Map<String, Value>, date: i64) -> Result<Draft, GraphError> {
    let body = &o.get("body").cloned().unwrap_or(Value::Null);
    if o.get("multiValueExtendedProperties")
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(GraphError::not_implemented("multiValueExtendedProperties"));
    }
    Ok(Draft {
        extra_headers: extra_headers(o.get("internetMessageHeaders"))?,
        from: match o.get("from") {
            Some(v) if !v.is_null() => Some(recipient(v)?),
            _ => Some(Addr {
                name: Some(mb.display_name.clone()),
                address: mb.address.clone(),
            }),
        },
        to: recipients(o.get("toRecipients"))?,
        cc: recipients(o.get("ccRecipients"))?,
        bcc: recipients(o.get("bccRecipients"))?,
        reply_to: recipients(o.get("replyTo"))?,
        subject: o
            .get("subject")
            .and_then(|s| s.as_str())
            .unwrap_or("")
            .to_string(),
        body_html: body["contentType"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("html")),
        body: body["content"].as_str().unwrap_or("").to_string(),
        date,
        message_id: o
            .get("internetMessageId")
            .and_then(|s| s.as_str())
            .map(|s| s.to_string())
            .unwrap_or_else(|| fresh_message_id(mb)),
        importance: o
            .get("importance")
            .and_then(|s| s.as_str())
            .map(|s| s.to_string()),
        attachments: attachments_from(o.get("attachments"))?,
        items: Vec::new(),
    })
}

fn validate_enum(v: &Value, allowed: &[&str], what: &str) -> Result<String, GraphError> {
    v.as_str()
        .and_then(|s| allowed.iter().find(|a| a.eq_ignore_ascii_case(s)))
        .map(|s| s.to_string())
        .ok_or_else(|| GraphError::bad_request(format!("Invalid value for {what}.")))
}

/// Applies the always-writable properties.
fn apply_common(
    mb: &mut Mailbox,
    id: &str,
    o: &Map<String, Value>,
    other_ext: Vec<(String, String)>,
) -> Result<(), GraphError> {
    let is_read = match o.get("isRead") {
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(GraphError::bad_request("isRead must be a boolean.")),
        None => None,
    };
    let flag = match o.get("flag") {
        Some(f) => Some(validate_enum(
            &f["flagStatus"],
            &["notFlagged", "flagged", "complete"],
            "flag.flagStatus",
        )?),
        None => None,
    };
    let categories = match o.get("categories") {
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|c| c.as_str().map(|s| s.to_string()))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| GraphError::bad_request("categories must be strings."))?,
        ),
        Some(_) => return Err(GraphError::bad_request("categories must be an array.")),
        None => None,
    };
    let importance = match o.get("importance") {
        Some(v) => Some(validate_enum(v, &["low", "normal", "high"], "importance")?),
        None => None,
    };
    mb.update_message(id, |m| {
        if let Some(r) = is_read {
            m.is_read = r;
        }
        if let Some(f) = flag {
            m.flag_status = f;
        }
        if let Some(c) = categories {
            m.categories = c;
        }
        if let Some(i) = importance {
            m.importance = i;
        }
        for (k, v) in other_ext {
            m.ext.insert(k, v);
        }
    });
    Ok(())
}

fn created_response(ctx: &Ctx<'_>, mb: &Mailbox, imm: &str) -> Result<GraphResponse, GraphError> {
    let m = mb
        .messages
        .get(imm)
        .ok_or_else(GraphError::item_not_found)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/messages/$entity", context_user(ctx))),
    );
    if let Value::Object(o) = render(mb, m, ctx)? {
        out.extend(o);
    }
    Ok(GraphResponse::json(201, Value::Object(out)))
}

fn is_mime_request(ctx: &Ctx<'_>) -> bool {
    ctx.req
        .header("content-type")
        .is_some_and(|c| c.to_ascii_lowercase().starts_with("text/plain"))
}

/// Decodes a base64 MIME body (Graph: 400 ErrorMimeContentInvalidBase64String otherwise).
fn mime_body(ctx: &Ctx<'_>) -> Result<Vec<u8>, GraphError> {
    let text: String = String::from_utf8_lossy(&ctx.req.body)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| {
            GraphError::new(
                400,
                "ErrorMimeContentInvalidBase64String",
                "Invalid base64 string for MIME content.",
            )
        })?;
    if raw.is_empty() {
        return Err(GraphError::new(
            400,
            "ErrorMimeContentInvalid",
            "The MIME content is empty.",
        ));
    }
    Ok(raw)
}

/// POST /messages or /mailFolders/{id}/messages. A draft created from MIME keeps it or has it
/// written anew from the item, as `mime` says ([`crate::MimeDrafts`]).
pub(crate) fn create(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    folder: Option<&str>,
    mime: &crate::MimeConfig,
) -> Result<GraphResponse, GraphError> {
    let folder_id = match folder {
        Some(f) => super::folders::lookup(mb, f)?.id.clone(),
        None => mb
            .folder_id_by_well_known("drafts")
            .ok_or_else(GraphError::item_not_found)?,
    };
    let now = chrono::Utc::now().timestamp();
    let key = format!("created/{}", mb.next_order + 1);
    if is_mime_request(ctx) {
        let mut raw = mime_body(ctx)?;
        if mime.drafts == crate::MimeDrafts::Regenerated {
            let view = crate::mime_view::parse(&raw);
            raw = render_mime(&draft_from_view(mb, &raw, &view, now, None));
        }
        let imm = mb.add_message(
            &folder_id,
            key.as_bytes(),
            raw,
            NewMessageProps {
                is_read: true,
                is_draft: true,
                received: Some(now),
                created: Some(now),
                ..Default::default()
            },
        );
        mb.touch_folder(&folder_id);
        return created_response(ctx, mb, &imm);
    }
    let o = parse_json_body(ctx)?;
    check_props(&o, true)?;
    let ext = ext_props(o.get("singleValueExtendedProperties"))?;
    // MSGFLAG_UNSENT (0x8) absent → not a draft; MSGFLAG_READ (0x1) → read.
    let is_draft = ext.flags.is_none_or(|f| f & 0x8 != 0);
    let received = ext.received.unwrap_or(now);
    let date = ext.sent.unwrap_or(received);
    let mut d = draft_from_json(mb, &o, date)?;
    // PR_IN_REPLY_TO_ID (String 0x1042) and PR_INTERNET_REFERENCES (String 0x1039) are what
    // Exchange renders as In-Reply-To and References in the item's MIME (MS-OXCMAIL 2.2.3.2.x
    // maps those header fields to these properties); Graph has no first-class property.
    for (id, header) in [
        ("String 0x1042", "In-Reply-To"),
        ("String 0x1039", "References"),
    ] {
        if let Some((_, v)) = ext.other.iter().find(|(k, _)| k == id) {
            if !v.is_empty() && !v.contains(['\r', '\n']) {
                d.extra_headers.push((header.to_string(), v.clone()));
            }
        }
    }
    let raw = render_mime(&d);
    let is_read = match o.get("isRead") {
        Some(Value::Bool(b)) => *b,
        _ => ext.flags.map(|f| f & 1 != 0).unwrap_or(is_draft),
    };
    let imm = mb.add_message(
        &folder_id,
        key.as_bytes(),
        raw,
        NewMessageProps {
            is_read,
            is_draft,
            received: Some(received),
            created: Some(now),
            ..Default::default()
        },
    );
    let mut o2 = o.clone();
    o2.remove("isRead");
    apply_common(mb, &imm, &o2, ext.other)?;
    mb.touch_folder(&folder_id);
    created_response(ctx, mb, &imm)
}

/// PATCH /messages/{id}.
pub(crate) fn patch(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let (imm, is_draft) = {
        let m = lookup(mb, id)?;
        (m.immutable_id.clone(), m.is_draft)
    };
    let o = parse_json_body(ctx)?;
    check_props(&o, is_draft)?;
    let ext = ext_props(o.get("singleValueExtendedProperties"))?;
    if ext.flags.is_some() && !is_draft {
        // MS-OXCMSG: MSGFLAG_UNSENT is read-only after the first save; read state goes
        // through isRead.
        return Err(GraphError::invalid_request(
            "PR_MESSAGE_FLAGS can only be set when the message is created.",
        ));
    }
    if is_draft && DRAFT_ONLY.iter().any(|k| o.contains_key(*k)) {
        let m = lookup(mb, &imm)?;
        let v = &m.view;
        let mut merged = Map::new();
        merged.insert("subject".into(), json!(v.subject));
        merged.insert(
            "body".into(),
            match (&v.body_html, &v.body_text) {
                (Some(h), _) => json!({"contentType": "html", "content": h}),
                (None, Some(t)) => json!({"contentType": "text", "content": t}),
                _ => json!({"contentType": "text", "content": ""}),
            },
        );
        let rl = |l: &[Addr]| Value::Array(l.iter().map(|a| a.to_json()).collect());
        merged.insert("toRecipients".into(), rl(&v.to));
        merged.insert("ccRecipients".into(), rl(&v.cc));
        merged.insert("bccRecipients".into(), rl(&v.bcc));
        merged.insert("replyTo".into(), rl(&v.reply_to));
        if let Some(f) = &v.from {
            merged.insert("from".into(), f.to_json());
        }
        if let Some(mid) = &v.message_id {
            merged.insert("internetMessageId".into(), json!(mid));
        }
        for k in DRAFT_ONLY {
            if let Some(val) = o.get(*k) {
                merged.insert(k.to_string(), val.clone());
            }
        }
        let mut d = draft_from_json(mb, &merged, v.date.unwrap_or(m.received))?;
        let item = draft_from_view(mb, &m.raw, v, m.received, None);
        d.attachments = item.attachments;
        d.items = item.items;
        if !o.contains_key("internetMessageHeaders") {
            d.extra_headers = item.extra_headers;
        }
        let raw = render_mime(&d);
        let view = crate::mime_view::parse(&raw);
        mb.update_message(&imm, |m| {
            m.raw = std::sync::Arc::new(raw);
            m.view = std::sync::Arc::new(view);
        });
    }
    apply_common(mb, &imm, &o, ext.other)?;
    let m = lookup(mb, &imm)?;
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(format!("{}/messages/$entity", context_user(ctx))),
    );
    if let Value::Object(r) = render(mb, m, ctx)? {
        out.extend(r);
    }
    Ok(GraphResponse::json(200, Value::Object(out)))
}

fn destination(ctx: &Ctx<'_>, mb: &Mailbox) -> Result<String, GraphError> {
    let o = parse_json_body(ctx)?;
    let dest = o
        .get("destinationId")
        .and_then(|d| d.as_str())
        .ok_or_else(|| GraphError::bad_request("destinationId is required."))?;
    match mb.folder(dest) {
        Lookup::Found(f) => Ok(f.id.clone()),
        Lookup::Malformed => Err(GraphError::id_malformed()),
        Lookup::NotFound => Err(GraphError::item_not_found()),
    }
}

/// POST /messages/{id}/move → 201 with the moved message (new default id).
pub(crate) fn move_to(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let imm = lookup(mb, id)?.immutable_id.clone();
    let dest = destination(ctx, mb)?;
    mb.move_message(&imm, &dest);
    created_response(ctx, mb, &imm)
}

/// POST /messages/{id}/copy → 201 with the copy.
pub(crate) fn copy_to(
    ctx: &Ctx<'_>,
    mb: &mut Mailbox,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let imm = lookup(mb, id)?.immutable_id.clone();
    let dest = destination(ctx, mb)?;
    let new_id = mb
        .copy_message(&imm, &dest)
        .ok_or_else(GraphError::item_not_found)?;
    created_response(ctx, mb, &new_id)
}

fn no_content(status: u16) -> GraphResponse {
    GraphResponse {
        status: axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::NO_CONTENT),
        headers: Vec::new(),
        body: RespBody::Empty,
    }
}

/// DELETE /messages/{id} → 204; the item moves to Recoverable Items.
pub(crate) fn delete(mb: &mut Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let m = lookup(mb, id)?;
    let imm = m.immutable_id.clone();
    let rec = mb
        .folder_id_by_well_known("recoverableitemsdeletions")
        .ok_or_else(GraphError::item_not_found)?;
    if m.folder_id == rec {
        mb.remove_message(&imm, "deleted");
    } else {
        mb.move_message(&imm, &rec);
    }
    Ok(no_content(204))
}

/// POST /messages/{id}/permanentDelete → 204.
pub(crate) fn permanent_delete(mb: &mut Mailbox, id: &str) -> Result<GraphResponse, GraphError> {
    let imm = lookup(mb, id)?.immutable_id.clone();
    mb.remove_message(&imm, "deleted");
    Ok(no_content(204))
}

/// Delivers a copy of a sent message to every local recipient's Inbox.
fn deliver_local(store: &mut Store, sender: &str, raw: &[u8], rcpts: &[String]) {
    let now = chrono::Utc::now().timestamp();
    let mut done = std::collections::HashSet::new();
    for r in rcpts {
        let Some(key) = store.mailbox_key(r) else {
            continue;
        };
        if key == sender || !done.insert(key.clone()) {
            continue;
        }
        if let Some(mb) = store.mailboxes.get_mut(&key) {
            if let Some(inbox) = mb.folder_id_by_well_known("inbox") {
                let k = format!("delivered/{}", mb.next_order + 1);
                mb.add_message(
                    &inbox,
                    k.as_bytes(),
                    raw.to_vec(),
                    NewMessageProps {
                        received: Some(now),
                        created: Some(now),
                        ..Default::default()
                    },
                );
                mb.touch_folder(&inbox);
            }
        }
    }
}

fn all_rcpts(v: &crate::mime_view::MimeView) -> Vec<String> {
    v.to.iter()
        .chain(v.cc.iter())
        .chain(v.bcc.iter())
        .map(|a| a.address.clone())
        .collect()
}

/// POST /messages/{id}/send → 202: the draft goes to Sent Items as a sent item.
pub(crate) fn send_draft(
    store: &mut Store,
    mailbox: &str,
    id: &str,
) -> Result<GraphResponse, GraphError> {
    let mb = store
        .mailboxes
        .get_mut(mailbox)
        .ok_or_else(GraphError::item_not_found)?;
    let m = lookup(mb, id)?;
    if !m.is_draft {
        return Err(GraphError::invalid_request(
            "Only a draft (isDraft = true) can be sent.",
        ));
    }
    let imm = m.immutable_id.clone();
    let raw = m.raw.as_ref().clone();
    let rcpts = all_rcpts(&m.view);
    if rcpts.is_empty() {
        return Err(GraphError::new(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid.",
        ));
    }
    let sent = mb
        .folder_id_by_well_known("sentitems")
        .ok_or_else(GraphError::item_not_found)?;
    mb.update_message(&imm, |m| {
        m.is_draft = false;
        m.is_read = true;
    });
    mb.move_message(&imm, &sent);
    let sender = mb.address.clone();
    deliver_local(store, &sender, &raw, &rcpts);
    Ok(no_content(202))
}

/// POST /users/{id}/sendMail → 202.
pub(crate) fn send_mail(
    ctx: &Ctx<'_>,
    store: &mut Store,
    mailbox: &str,
) -> Result<GraphResponse, GraphError> {
    let mb = store
        .mailboxes
        .get_mut(mailbox)
        .ok_or_else(GraphError::item_not_found)?;
    let now = chrono::Utc::now().timestamp();
    let (raw, save) = if is_mime_request(ctx) {
        (mime_body(ctx)?, true)
    } else {
        let o = parse_json_body(ctx)?;
        let msg = match o.get("message") {
            Some(Value::Object(m)) => m.clone(),
            _ => {
                return Err(GraphError::bad_request(
                    "The 'message' property is required.",
                ))
            }
        };
        check_props(&msg, true)?;
        let save = match o.get("saveToSentItems") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
            Some(_) => {
                return Err(GraphError::bad_request(
                    "saveToSentItems must be a boolean.",
                ))
            }
        };
        let d = draft_from_json(mb, &msg, now)?;
        if d.to.is_empty() && d.cc.is_empty() && d.bcc.is_empty() {
            return Err(GraphError::new(
                400,
                "ErrorInvalidRecipients",
                "At least one recipient isn't valid.",
            ));
        }
        (render_mime(&d), save)
    };
    let view = crate::mime_view::parse(&raw);
    let rcpts = all_rcpts(&view);
    if rcpts.is_empty() {
        return Err(GraphError::new(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid.",
        ));
    }
    if save {
        let sent = mb
            .folder_id_by_well_known("sentitems")
            .ok_or_else(GraphError::item_not_found)?;
        let k = format!("sent/{}", mb.next_order + 1);
        mb.add_message(
            &sent,
            k.as_bytes(),
            raw.clone(),
            NewMessageProps {
                is_read: true,
                received: Some(now),
                created: Some(now),
                ..Default::default()
            },
        );
        mb.touch_folder(&sent);
    }
    let sender = mb.address.clone();
    deliver_local(store, &sender, &raw, &rcpts);
    Ok(no_content(202))
}
