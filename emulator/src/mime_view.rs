//! Derives the Graph view of a stored message (subject, recipients, dates, body, preview,
//! attachments) from its raw MIME bytes with mail-parser. Owns `MimeView`; the raw bytes
//! themselves stay untouched in the store.

use base64::Engine;
use mail_parser::{Address, MessageParser, MimeHeaders, PartType};
use serde_json::{json, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mailbox {
    pub name: Option<String>,
    pub address: String,
}

impl Mailbox {
    /// Graph `recipient` JSON: `{"emailAddress":{"name":..,"address":..}}`.
    pub fn to_json(&self) -> Value {
        json!({"emailAddress": {
            "name": self.name.clone().unwrap_or_else(|| self.address.clone()),
            "address": self.address,
        }})
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AttachmentView {
    pub name: String,
    pub content_type: String,
    pub size: usize,
    pub is_inline: bool,
    pub content_id: Option<String>,
    /// Decoded content (for fileAttachment.contentBytes) or, for item attachments, the raw
    /// nested message.
    pub bytes: Vec<u8>,
    pub is_item: bool,
    /// A hash of name, type and content: what the attachment's id is made from, so that an
    /// attachment keeps its id when others are added or deleted (as Exchange's attachment
    /// numbers do) and when the MIME around it is written anew.
    pub fingerprint: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct MimeView {
    pub subject: String,
    pub from: Option<Mailbox>,
    pub sender: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub reply_to: Vec<Mailbox>,
    /// Date header, seconds since the epoch.
    pub date: Option<i64>,
    /// With angle brackets, as Graph shows internetMessageId.
    pub message_id: Option<String>,
    pub references_root: Option<String>,
    pub body_html: Option<String>,
    pub body_text: Option<String>,
    pub preview: String,
    pub importance: &'static str,
    pub read_receipt: bool,
    pub attachments: Vec<AttachmentView>,
}

fn mailboxes(addr: Option<&Address<'_>>) -> Vec<Mailbox> {
    let Some(addr) = addr else { return Vec::new() };
    addr.iter()
        .filter_map(|a| {
            Some(Mailbox {
                name: a.name().map(|s| s.to_string()).filter(|s| !s.is_empty()),
                address: a.address()?.to_string(),
            })
        })
        .collect()
}

/// Graph's bodyPreview: "The first 255 characters of the message body. It is in text format."
/// (<https://learn.microsoft.com/graph/api/resources/message>). Whitespace runs collapse to
/// one space (as Outlook does; the page does not say).
pub(crate) fn preview_of(text: &str) -> String {
    let mut out = String::new();
    let mut last_space = true;
    let mut n = 0;
    for c in text.chars() {
        if n >= 255 {
            break;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
                n += 1;
                last_space = true;
            }
        } else {
            out.push(c);
            n += 1;
            last_space = false;
        }
    }
    out.trim_end().to_string()
}

/// Crude HTML → text for previews of HTML-only messages.
pub(crate) fn strip_html(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

pub(crate) fn parse(raw: &[u8]) -> MimeView {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return MimeView {
            importance: "normal",
            ..MimeView::default()
        };
    };
    let body_text = msg.body_text(0).map(|c| c.into_owned());
    let html_parts = msg.html_body_count();
    let has_real_html = msg
        .html_bodies()
        .any(|p| matches!(p.body, PartType::Html(_)));
    let body_html = if html_parts > 0 && has_real_html {
        msg.body_html(0).map(|c| c.into_owned())
    } else {
        None
    };
    let preview_src = match (&body_text, &body_html) {
        (Some(t), _) => t.clone(),
        (None, Some(h)) => strip_html(h),
        _ => String::new(),
    };
    let importance = match msg
        .header_raw("Importance")
        .map(|s| s.trim().to_ascii_lowercase())
    {
        Some(s) if s.starts_with("high") => "high",
        Some(s) if s.starts_with("low") => "low",
        _ => match msg.header_raw("X-Priority").map(|s| s.trim().to_string()) {
            Some(s) if s.starts_with('1') || s.starts_with('2') => "high",
            Some(s) if s.starts_with('4') || s.starts_with('5') => "low",
            _ => "normal",
        },
    };
    let references_root = msg
        .references()
        .as_text_list()
        .and_then(|l| l.first().map(|s| s.to_string()))
        .or_else(|| msg.references().as_text().map(|s| s.to_string()));
    let mut attachments = Vec::new();
    for part in msg.attachments() {
        let is_item = matches!(part.body, PartType::Message(_));
        let disposition_inline = part
            .content_disposition()
            .map(|d| d.ctype().eq_ignore_ascii_case("inline"))
            .unwrap_or(false);
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(st) => format!("{}/{}", ct.ctype(), st),
                None => ct.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".to_string());
        let bytes: Vec<u8> = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
            PartType::Message(m) => m.raw_message().to_vec(),
            PartType::Multipart(_) => Vec::new(),
        };
        let name = part
            .attachment_name()
            .map(|s| s.to_string())
            .or_else(|| {
                if let PartType::Message(m) = &part.body {
                    m.subject().map(|s| s.to_string())
                } else {
                    None
                }
            })
            .unwrap_or_else(|| "attachment".to_string());
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (&name, &content_type, &bytes, is_item).hash(&mut hasher);
            hasher.finish()
        };
        attachments.push(AttachmentView {
            fingerprint,
            name,
            content_type,
            size: bytes.len(),
            is_inline: disposition_inline && part.content_id().is_some(),
            content_id: part.content_id().map(|s| s.to_string()),
            bytes,
            is_item,
        });
    }
    MimeView {
        subject: msg.subject().unwrap_or("").to_string(),
        from: mailboxes(msg.from()).into_iter().next(),
        sender: mailboxes(msg.sender()).into_iter().next(),
        to: mailboxes(msg.to()),
        cc: mailboxes(msg.cc()),
        bcc: mailboxes(msg.bcc()),
        reply_to: mailboxes(msg.reply_to()),
        date: msg.date().map(|d| d.to_timestamp()),
        message_id: msg.message_id().map(|m| format!("<{m}>")),
        references_root,
        preview: preview_of(&preview_src),
        body_html,
        body_text,
        importance,
        read_receipt: msg.header_raw("Disposition-Notification-To").is_some(),
        attachments,
    }
}

/// Standard base64 (Graph's Edm.Binary, e.g. fileAttachment.contentBytes).
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_fields() {
        let raw = b"From: Bob <bob@example.org>\r\nTo: alice@contoso.example\r\nSubject: =?UTF-8?B?w5xiZXI=?=\r\nMessage-ID: <x@y>\r\nDate: Mon, 5 Jan 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello   world\r\n";
        let v = parse(raw);
        assert_eq!(v.subject, "Über");
        assert_eq!(
            v.from.as_ref().map(|m| m.address.as_str()),
            Some("bob@example.org")
        );
        assert_eq!(v.message_id.as_deref(), Some("<x@y>"));
        assert_eq!(v.preview, "Hello world");
        assert_eq!(v.date, Some(1767600000));
        assert!(v.attachments.is_empty());
    }
}
