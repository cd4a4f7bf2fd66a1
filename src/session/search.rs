//! Owns SEARCH and UID SEARCH (RFC 3501 6.4.4): every search key, with NOT, OR and nesting, and
//! `CHARSET` US-ASCII or UTF-8.
//!
//! A search runs in two passes. The first decides every key it can from the folder index alone
//! (flags, UIDs, sequence numbers, INTERNALDATE, known sizes); a message whose answer still
//! depends on its content is then downloaded (through the hub, in `$batch` windows) and the
//! second pass reads its headers and text. String keys match case-insensitively as substrings
//! of the decoded values (RFC 2047 words, transfer encodings and charsets undone), as Dovecot
//! does; a header key matches the raw value too.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::NaiveDate;
use imap_codec::imap_types::core::{AString, Charset};
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use mail_parser::{Encoding, HeaderName, HeaderValue, Message, MessageParser, PartType};

use super::{Refusal, ResponseSink, Selection};
use crate::hub::{HubError, MailboxHub, MessageFlags, MessageMeta};

/// Messages whose bodies are asked of the hub together.
const SEARCH_WINDOW: usize = crate::graph::client::MAX_BATCH;

pub(super) async fn search(
    hub: &MailboxHub,
    selection: &mut Selection,
    charset: Option<&Charset<'_>>,
    criteria: &[SearchKey<'_>],
    by_uid: bool,
    out: &mut ResponseSink<'_>,
) -> Result<String, Refusal> {
    if let Some(charset) = charset {
        let name: &str = match charset {
            Charset::Atom(atom) => atom.inner(),
            Charset::Quoted(quoted) => quoted.inner(),
        };
        if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
            return Err(Refusal::no(
                "BADCHARSET (US-ASCII UTF-8)",
                "unsupported charset",
            ));
        }
    }
    let context = Context {
        exists: selection.messages.len() as u32,
        largest_uid: selection.messages.last().map(|m| m.uid).unwrap_or(0),
        recent: &selection.recent,
    };
    let key = SearchKey::And(
        criteria
            .to_vec()
            .try_into()
            .map_err(|_| Refusal::bad("SEARCH needs a key"))?,
    );
    let mut matched = Vec::new();
    let mut undecided = Vec::new();
    for (index, meta) in selection.messages.iter().enumerate() {
        match evaluate(&key, &context, index as u32 + 1, meta, None) {
            Some(true) => matched.push(index),
            Some(false) => {}
            None => undecided.push(index),
        }
    }
    let folder_id = selection.folder.id.clone();
    for window in undecided.chunks(SEARCH_WINDOW) {
        let metas: Vec<&MessageMeta> = window.iter().map(|&i| &selection.messages[i]).collect();
        let bodies = hub.bodies(&folder_id, &metas).await;
        for (&index, body) in window.iter().zip(bodies) {
            let body = match body {
                Ok(body) => body,
                // Gone meanwhile: it matches nothing.
                Err(HubError::Graph(err)) if err.is_not_found() => continue,
                Err(err) => return Err(Refusal::from_hub(err)),
            };
            let size = Some(body.len() as u64);
            if selection.messages[index].size != size {
                Arc::make_mut(&mut selection.messages)[index].size = size;
            }
            let content = Content::read(&body);
            let meta = &selection.messages[index];
            if evaluate(&key, &context, index as u32 + 1, meta, Some(&content)) == Some(true) {
                matched.push(index);
            }
        }
    }
    matched.sort_unstable();
    let mut line = String::from("* SEARCH");
    for index in matched {
        let number = if by_uid {
            selection.messages[index].uid
        } else {
            index as u32 + 1
        };
        line.push(' ');
        line.push_str(&number.to_string());
    }
    line.push_str("\r\n");
    out.push(line.as_bytes());
    Ok(if by_uid {
        "UID SEARCH completed"
    } else {
        "SEARCH completed"
    }
    .into())
}

struct Context<'a> {
    exists: u32,
    largest_uid: u32,
    /// The UIDs \Recent to the session.
    recent: &'a HashSet<u32>,
}

/// What the second pass knows of a message's content, lower-cased for matching.
struct Content {
    size: u64,
    /// (field name, decoded value, raw unfolded value), all lower case, in message order.
    headers: Vec<(String, String, String)>,
    /// Every header line of the message, of its MIME parts and of enclosed messages, as
    /// `name: raw value` and `name: decoded value`, lower case: what TEXT reads besides the body
    /// (Dovecot matches TEXT against each header's name, colon and value as one text).
    header_lines: Vec<String>,
    /// Decoded text of the text parts, enclosed messages' included.
    body: String,
    /// The first Date header's calendar date in its own time zone (RFC 3501: SENT* keys). As in
    /// Dovecot, a message without a valid Date header is dated 1 January 1970.
    sent_on: Option<NaiveDate>,
}

impl Content {
    fn read(raw: &[u8]) -> Content {
        let mut content = Content {
            size: raw.len() as u64,
            headers: Vec::new(),
            header_lines: Vec::new(),
            body: String::new(),
            sent_on: NaiveDate::from_ymd_opt(1970, 1, 1),
        };
        let Some(message) = MessageParser::default().parse(raw) else {
            return content;
        };
        for header in message.headers() {
            let raw_value = raw
                .get(header.offset_start as usize..header.offset_end as usize)
                .map(|v| String::from_utf8_lossy(v).replace(['\r', '\n'], ""))
                .unwrap_or_default();
            content.headers.push((
                header.name.as_str().to_lowercase(),
                decoded_value(&header.value).to_lowercase(),
                raw_value.trim().to_lowercase(),
            ));
        }
        // Dovecot reads the first Date header (mail-parser's `date()` gives the last one).
        let first_date = message
            .headers()
            .iter()
            .find(|header| header.name == HeaderName::Date);
        if let Some(HeaderValue::DateTime(date)) = first_date.map(|header| &header.value) {
            if date.is_valid() {
                content.sent_on =
                    NaiveDate::from_ymd_opt(date.year as i32, date.month as u32, date.day as u32)
                        .or(content.sent_on);
            }
        }
        content.read_parts(&message);
        content
    }

    /// Header lines and text of every part of `message`, enclosed messages included.
    fn read_parts(&mut self, message: &Message<'_>) {
        let raw = message.raw_message.as_ref();
        for part in &message.parts {
            for header in &part.headers {
                let name = header.name.as_str().to_lowercase();
                let raw_value = raw
                    .get(header.offset_start as usize..header.offset_end as usize)
                    .map(|v| String::from_utf8_lossy(v).replace(['\r', '\n'], ""))
                    .unwrap_or_default();
                self.header_lines
                    .push(format!("{name}: {}", raw_value.trim().to_lowercase()));
                self.header_lines.push(format!(
                    "{name}: {}",
                    decoded_value(&header.value).to_lowercase()
                ));
            }
            match &part.body {
                PartType::Text(text) | PartType::Html(text) => {
                    self.body.push_str(&text.to_lowercase());
                    self.body.push('\n');
                }
                // Dovecot reads an enclosed message only when it is not base64/QP encoded
                // (RFC 2046 5.2.1 allows only 7bit, 8bit and binary for message/rfc822).
                PartType::Message(nested) if part.encoding == Encoding::None => {
                    self.read_parts(nested)
                }
                _ => {}
            }
        }
    }

    /// SUBJECT as Dovecot 2.3 matches it: tabs in the Subject read as spaces (HEADER Subject
    /// and TEXT keep them), the search string as it is.
    fn subject_contains(&self, needle: &str) -> bool {
        self.headers.iter().any(|(name, decoded, raw)| {
            name == "subject"
                && (decoded.replace('\t', " ").contains(needle)
                    || raw.replace('\t', " ").contains(needle))
        })
    }

    fn header_contains(&self, names: &[&str], needle: &str) -> bool {
        self.headers.iter().any(|(name, decoded, raw)| {
            names.contains(&name.as_str()) && (decoded.contains(needle) || raw.contains(needle))
        })
    }
}

fn decoded_value(value: &HeaderValue<'_>) -> String {
    match value {
        HeaderValue::Text(text) => text.to_string(),
        HeaderValue::TextList(list) => list.join(" "),
        HeaderValue::Address(address) => address
            .iter()
            .map(|addr| {
                let name = addr.name.as_deref().unwrap_or_default();
                let email = addr.address.as_deref().unwrap_or_default();
                format!("{name} <{email}>")
            })
            .collect::<Vec<_>>()
            .join(", "),
        HeaderValue::DateTime(date) => date.to_rfc822(),
        HeaderValue::ContentType(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{sub}", ct.ctype()),
            None => ct.ctype().to_string(),
        },
        HeaderValue::Received(_) | HeaderValue::Empty => String::new(),
    }
}

fn text(value: &AString<'_>) -> String {
    String::from_utf8_lossy(value.as_ref()).to_lowercase()
}

/// `Some(answer)`, or `None` when the answer needs the content and `content` is `None`.
fn evaluate(
    key: &SearchKey<'_>,
    context: &Context,
    sequence: u32,
    meta: &MessageMeta,
    content: Option<&Content>,
) -> Option<bool> {
    let flags = &meta.flags;
    let internal_date = meta.internal_date.date_naive();
    let size = || content.map(|c| c.size).or(meta.size);
    let with_content = |test: &dyn Fn(&Content) -> bool| content.map(test);
    Some(match key {
        SearchKey::And(keys) => {
            let mut undecided = false;
            for key in keys.as_ref() {
                match evaluate(key, context, sequence, meta, content) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => undecided = true,
                }
            }
            return if undecided { None } else { Some(true) };
        }
        SearchKey::Or(a, b) => {
            let left = evaluate(a, context, sequence, meta, content);
            let right = evaluate(b, context, sequence, meta, content);
            return match (left, right) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            };
        }
        SearchKey::Not(key) => return evaluate(key, context, sequence, meta, content).map(|b| !b),
        SearchKey::All => true,
        SearchKey::SequenceSet(set) => in_set(set, sequence, context.exists),
        SearchKey::Uid(set) => in_set(set, meta.uid, context.largest_uid),
        SearchKey::Answered => flags.answered,
        SearchKey::Unanswered => !flags.answered,
        SearchKey::Deleted => flags.deleted,
        SearchKey::Undeleted => !flags.deleted,
        SearchKey::Draft => flags.draft,
        SearchKey::Undraft => !flags.draft,
        SearchKey::Flagged => flags.flagged,
        SearchKey::Unflagged => !flags.flagged,
        SearchKey::Seen => flags.seen,
        SearchKey::Unseen => !flags.seen,
        SearchKey::Recent => context.recent.contains(&meta.uid),
        SearchKey::New => context.recent.contains(&meta.uid) && !flags.seen,
        SearchKey::Old => !context.recent.contains(&meta.uid),
        SearchKey::Keyword(keyword) => has_keyword(flags, keyword.inner()),
        SearchKey::Unkeyword(keyword) => !has_keyword(flags, keyword.inner()),
        SearchKey::Before(date) => internal_date < *date.as_ref(),
        SearchKey::On(date) => internal_date == *date.as_ref(),
        SearchKey::Since(date) => internal_date >= *date.as_ref(),
        SearchKey::Larger(n) => size()? > *n as u64,
        SearchKey::Smaller(n) => size()? < *n as u64,
        SearchKey::SentBefore(date) => {
            with_content(&|c| c.sent_on.is_some_and(|d| d < *date.as_ref()))?
        }
        SearchKey::SentOn(date) => with_content(&|c| c.sent_on == Some(*date.as_ref()))?,
        SearchKey::SentSince(date) => {
            with_content(&|c| c.sent_on.is_some_and(|d| d >= *date.as_ref()))?
        }
        SearchKey::From(value) => with_content(&|c| c.header_contains(&["from"], &text(value)))?,
        SearchKey::To(value) => with_content(&|c| c.header_contains(&["to"], &text(value)))?,
        SearchKey::Cc(value) => with_content(&|c| c.header_contains(&["cc"], &text(value)))?,
        SearchKey::Bcc(value) => with_content(&|c| c.header_contains(&["bcc"], &text(value)))?,
        SearchKey::Subject(value) => with_content(&|c| c.subject_contains(&text(value)))?,
        SearchKey::Header(name, value) => {
            let name = text(name);
            let needle = text(value);
            with_content(&|c| c.header_contains(&[name.as_str()], &needle))?
        }
        SearchKey::Body(value) => with_content(&|c| c.body.contains(&text(value)))?,
        SearchKey::Text(value) => {
            let needle = text(value);
            with_content(&|c| {
                c.body.contains(&needle)
                    || c.header_lines.iter().any(|line| line.contains(&needle))
                    || c.headers.iter().any(|(name, decoded, raw)| {
                        name.contains(&needle) || decoded.contains(&needle) || raw.contains(&needle)
                    })
            })?
        }
    })
}

/// A message's content as SEARCH reads it, for the fuzz target `sequence_search` (re-exported
/// as `session::sequence::SearchContent`, since this module is private); not the gateway's API.
#[doc(hidden)]
pub struct SearchContent(Content);

impl SearchContent {
    pub fn read(raw: &[u8]) -> SearchContent {
        SearchContent(Content::read(raw))
    }
}

/// One message's answer to `key`, as SEARCH decides it: from the folder index alone when
/// `content` is `None` (`None` when the answer needs the content), else with the content too;
/// `recent` are the UIDs \Recent to the session. For the fuzz target `sequence_search`
/// (re-exported as `session::sequence::evaluate_search_key`, since this module is private);
/// not the gateway's API.
#[doc(hidden)]
pub fn evaluate_message(
    key: &SearchKey<'_>,
    exists: u32,
    largest_uid: u32,
    recent: &HashSet<u32>,
    sequence: u32,
    meta: &MessageMeta,
    content: Option<&SearchContent>,
) -> Option<bool> {
    let context = Context {
        exists,
        largest_uid,
        recent,
    };
    evaluate(key, &context, sequence, meta, content.map(|c| &c.0))
}

/// Whether the message has the keyword `wanted`; `$Forwarded` is the forwarded flag the gateway
/// keeps apart from the other keywords (Graph's last verb, not a category).
fn has_keyword(flags: &MessageFlags, wanted: &str) -> bool {
    (flags.forwarded && wanted.eq_ignore_ascii_case("$Forwarded"))
        || flags
            .keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(wanted))
}

/// Whether `number` is in the set, `*` being `largest`. Numbers past the end match nothing
/// (Dovecot ignores them in SEARCH rather than failing the command).
fn in_set(set: &SequenceSet, number: u32, largest: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => value(v) == number,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b)..=a.max(b)).contains(&number)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const RAW: &[u8] = b"From: =?utf-8?q?J=C3=BCrgen?= <jurgen@example.com>\r\nTo: alice@contoso.example\r\nSubject: =?utf-8?b?Vm9pY2UgbWFpbCDDvGJlcg==?=\r\nDate: Tue, 03 Mar 2026 23:30:00 -0500\r\nX-Caller: +14255550101\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCall me back about the =C3=BCbung.\r\n";

    fn meta(uid: u32, seen: bool) -> MessageMeta {
        MessageMeta {
            uid,
            id: Arc::from(format!("id{uid}").as_str()),
            flags: MessageFlags {
                seen,
                keywords: vec!["Blue".into()],
                ..MessageFlags::default()
            },
            internal_date: chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            size: None,
            has_attachments: false,
        }
    }

    fn key(text: &str) -> SearchKey<'static> {
        let command = format!("a SEARCH {text}\r\n");
        let (_, parsed) = imap_codec::decode::Decoder::decode(
            &imap_codec::CommandCodec::default(),
            command.as_bytes(),
        )
        .unwrap_or_else(|_| panic!("cannot parse {text}"));
        let imap_codec::imap_types::command::CommandBody::Search { criteria, .. } = parsed.body
        else {
            panic!("not SEARCH");
        };
        use imap_codec::imap_types::IntoStatic;
        SearchKey::And(criteria).into_static()
    }

    fn check(text: &str, with_content: bool) -> Option<bool> {
        let recent = HashSet::from([20]);
        let context = Context {
            exists: 5,
            largest_uid: 20,
            recent: &recent,
        };
        let content = Content::read(RAW);
        evaluate(
            &key(text),
            &context,
            3,
            &meta(12, false),
            with_content.then_some(&content),
        )
    }

    #[test]
    fn metadata_keys_decide_without_content() {
        assert_eq!(check("UNSEEN", false), Some(true));
        assert_eq!(check("SEEN", false), Some(false));
        assert_eq!(check("KEYWORD blue", false), Some(true));
        assert_eq!(check("UID 10:*", false), Some(true));
        assert_eq!(check("UID 13:15", false), Some(false));
        assert_eq!(check("2:4", false), Some(true));
        assert_eq!(check("*", false), Some(false));
        assert_eq!(check("SINCE 4-Mar-2026", false), Some(true));
        assert_eq!(check("BEFORE 4-Mar-2026", false), Some(false));
        assert_eq!(check("ON 4-Mar-2026", false), Some(true));
        assert_eq!(check("NEW", false), Some(false));
        assert_eq!(check("RECENT", false), Some(false));
        assert_eq!(check("OLD", false), Some(true));
        assert_eq!(check("OR SEEN FROM x", false), None);
        assert_eq!(check("OR UNSEEN FROM x", false), Some(true));
        assert_eq!(check("SEEN FROM x", false), Some(false));
        assert_eq!(check("NOT (SEEN)", false), Some(true));
    }

    #[test]
    fn content_keys_match_decoded_values() {
        assert_eq!(check("FROM jurgen", false), None);
        assert_eq!(check("CHARSET UTF-8 FROM {7+}\r\njürgen", true), Some(true));
        assert_eq!(check("FROM JURGEN@EXAMPLE", true), Some(true));
        assert_eq!(check("TO alice", true), Some(true));
        assert_eq!(check("CC alice", true), Some(false));
        assert_eq!(check("SUBJECT \"voice mail\"", true), Some(true));
        assert_eq!(check("HEADER X-Caller 4255550101", true), Some(true));
        assert_eq!(check("HEADER X-Caller \"\"", true), Some(true));
        assert_eq!(check("HEADER X-Missing \"\"", true), Some(false));
        assert_eq!(check("BODY {6+}\r\nübung", true), Some(true));
        assert_eq!(check("BODY subject", true), Some(false));
        assert_eq!(check("TEXT subject", true), Some(true));
        // The Date header is 3 March in its own zone, though 4 March in UTC.
        assert_eq!(check("SENTON 3-Mar-2026", true), Some(true));
        assert_eq!(check("SENTBEFORE 4-Mar-2026", true), Some(true));
        assert_eq!(check("SENTSINCE 4-Mar-2026", true), Some(false));
        assert_eq!(
            check(&format!("LARGER {}", RAW.len() - 1), true),
            Some(true)
        );
        assert_eq!(check(&format!("SMALLER {}", RAW.len()), true), Some(false));
    }

    /// Evaluates `text` against `raw` with content, as message 1 of 1.
    fn check_raw(raw: &[u8], text: &str, flags: MessageFlags) -> Option<bool> {
        let no_recent = HashSet::new();
        let context = Context {
            exists: 1,
            largest_uid: 1,
            recent: &no_recent,
        };
        let meta = MessageMeta {
            flags,
            ..meta(1, false)
        };
        evaluate(&key(text), &context, 1, &meta, Some(&Content::read(raw)))
    }

    #[test]
    fn forwarded_is_the_forwarded_keyword() {
        let forwarded = MessageFlags {
            forwarded: true,
            ..MessageFlags::default()
        };
        assert_eq!(
            check_raw(RAW, "KEYWORD $Forwarded", forwarded.clone()),
            Some(true)
        );
        assert_eq!(
            check_raw(RAW, "UNKEYWORD $forwarded", forwarded),
            Some(false)
        );
        assert_eq!(
            check_raw(RAW, "KEYWORD $Forwarded", MessageFlags::default()),
            Some(false)
        );
    }

    /// Dovecot 2.3: the first Date header counts; no (valid) Date means 1 January 1970.
    #[test]
    fn sent_dates_as_dovecot_reads_them() {
        let two = b"Date: Wed, 11 Mar 2026 10:00:00 +0000\r\nDate: Thu, 12 Mar 2026 10:00:00 +0000\r\n\r\nx\r\n";
        let none = MessageFlags::default;
        assert_eq!(check_raw(two, "SENTON 11-Mar-2026", none()), Some(true));
        assert_eq!(check_raw(two, "SENTON 12-Mar-2026", none()), Some(false));
        let missing = b"Subject: no date\r\n\r\nx\r\n";
        assert_eq!(check_raw(missing, "SENTON 1-Jan-1970", none()), Some(true));
        assert_eq!(
            check_raw(missing, "SENTBEFORE 1-Jan-2000", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(missing, "SENTSINCE 1-Jan-2000", none()),
            Some(false)
        );
        let invalid = b"Date: someday\r\n\r\nx\r\n";
        assert_eq!(check_raw(invalid, "SENTON 1-Jan-1970", none()), Some(true));
    }

    /// TEXT reads header lines whole (name, colon, value), of enclosed messages too; BODY reads
    /// the text of enclosed messages but not their headers.
    #[test]
    fn text_reads_header_lines_and_enclosed_messages() {
        let forward = b"From: a@example.com\r\nSubject: fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: inner@example.com\r\nSubject: level one\r\n\r\ninner text\r\n--b--\r\n";
        let none = MessageFlags::default;
        assert_eq!(
            check_raw(forward, "TEXT \"Subject: fwd\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(forward, "TEXT \"subject: LEVEL\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(forward, "TEXT \"content-type: message\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(forward, "BODY \"inner text\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(forward, "TEXT \"inner text\"", none()),
            Some(true)
        );
        assert_eq!(check_raw(forward, "SUBJECT level", none()), Some(false));
        let encoded = b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaW5uZXIKCmhpZGRlbiB0ZXh0Cg==\r\n--b--\r\n";
        assert_eq!(
            check_raw(encoded, "TEXT \"subject: inner\"", none()),
            Some(false)
        );
        assert_eq!(
            check_raw(encoded, "TEXT \"hidden text\"", none()),
            Some(false)
        );
    }

    #[test]
    fn subject_reads_tabs_as_spaces() {
        let raw = b"Subject: one\ttwo\r\nX-Tab: three\tfour\r\n\r\nx\r\n";
        let none = MessageFlags::default;
        assert_eq!(check_raw(raw, "SUBJECT \"one two\"", none()), Some(true));
        assert_eq!(check_raw(raw, "SUBJECT \"one\ttwo\"", none()), Some(false));
        assert_eq!(
            check_raw(raw, "HEADER Subject \"one\ttwo\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(raw, "HEADER X-Tab \"three\tfour\"", none()),
            Some(true)
        );
        assert_eq!(
            check_raw(raw, "HEADER X-Tab \"three four\"", none()),
            Some(false)
        );
    }

    /// Multi-byte charsets are decoded for SEARCH, in headers and bodies.
    #[test]
    fn shift_jis_is_decoded() {
        let raw = b"From: =?Shift_JIS?B?k/qWe4zq?= <jp@example.jp>\r\nSubject: =?Shift_JIS?B?g2WDWINn?=\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\x83\x65\x83\x58\x83\x67 \x93\xfa\x96\x7b\x8c\xea\r\n";
        let none = MessageFlags::default;
        let utf8 = |text: &str| format!("CHARSET UTF-8 {text}");
        let literal =
            |key: &str, value: &str| utf8(&format!("{key} {{{}+}}\r\n{value}", value.len()));
        assert_eq!(
            check_raw(raw, &literal("SUBJECT", "テスト"), none()),
            Some(true)
        );
        assert_eq!(check_raw(raw, &literal("FROM", "日本"), none()), Some(true));
        assert_eq!(
            check_raw(raw, &literal("BODY", "日本語"), none()),
            Some(true)
        );
    }
}
