//! Owns FETCH and UID FETCH: which messages, which data items (macros expanded), which bodies
//! must be downloaded, and the rendering of each item (RFC 3501 6.4.5 and 7.4.2).
//!
//! Bodies are asked of the hub twenty messages at a time, in order, and responses are flushed as
//! they are rendered, so fetching a whole folder holds at most one window of bodies in memory.

use std::borrow::Cow;

use bytes::Bytes;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Part, Section};
use imap_codec::imap_types::sequence::SequenceSet;

use super::mime_placeholder::{ParsedMessage, SectionKind, SectionSpec};
use super::sequence::resolve;
use super::{Refusal, ResponseSink, Selection};
use crate::hub::{HubError, MailboxHub, MessageFlags, MessageMeta};
use crate::wire;

/// Messages whose bodies are asked of the hub together: one `$batch` of small bodies.
const FETCH_WINDOW: usize = crate::graph::client::MAX_BATCH;

pub(super) async fn fetch(
    hub: &MailboxHub,
    selection: &mut Selection,
    set: &SequenceSet,
    items: &MacroOrMessageDataItemNames<'_>,
    by_uid: bool,
    out: &mut ResponseSink<'_>,
) -> std::io::Result<Result<String, Refusal>> {
    let positions = match resolve(set, &selection.uids(), by_uid) {
        Ok(positions) => positions,
        Err(err) => return Ok(Err(Refusal::bad(err.to_string()))),
    };
    let mut items: Vec<MessageDataItemName<'_>> = match items {
        MacroOrMessageDataItemNames::Macro(m) => m.expand(),
        MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.clone(),
    };
    if by_uid && !items.iter().any(|i| matches!(i, MessageDataItemName::Uid)) {
        items.insert(0, MessageDataItemName::Uid);
    }
    let needs_structure = items.iter().any(needs_structure);
    let wanted: Vec<(usize, MessageMeta, bool)> = positions
        .into_iter()
        .map(|position| {
            let meta = selection.messages[position].clone();
            let needs_body = needs_structure
                || items.iter().any(|item| needs_raw_body(item, meta.size.is_some()));
            (position, meta, needs_body)
        })
        .collect();
    let folder_id = selection.folder.id.clone();
    let mut vanished = 0usize;
    let mut failure: Option<HubError> = None;
    'windows: for window in wanted.chunks(FETCH_WINDOW) {
        let needing: Vec<&MessageMeta> = window
            .iter()
            .filter(|(_, _, needs_body)| *needs_body)
            .map(|(_, meta, _)| meta)
            .collect();
        let mut bodies = hub.bodies(&folder_id, &needing).await.into_iter();
        for (position, meta, needs_body) in window {
            let body = match (needs_body, bodies.next()) {
                (false, _) | (true, None) => None,
                (true, Some(Ok(body))) => Some(body),
                (true, Some(Err(HubError::Graph(err)))) if err.is_not_found() => {
                    // Deleted behind our back: say nothing of it, and tell the client at the end.
                    vanished += 1;
                    continue;
                }
                (true, Some(Err(err))) => {
                    failure = Some(err);
                    break 'windows;
                }
            };
            if let Some(body) = &body {
                selection.messages[*position].size = Some(body.len() as u64);
            }
            let parsed = match (&body, needs_structure) {
                (Some(body), true) => Some(ParsedMessage::parse(body.clone())),
                _ => None,
            };
            render_message(out.buf(), position + 1, meta, &items, body.as_ref(), parsed.as_ref());
            out.flush_if_large().await?;
        }
    }
    Ok(match failure {
        Some(err) => Err(Refusal::from_hub(err)),
        None if vanished > 0 => Err(Refusal::no(
            "EXPUNGEISSUED",
            format!("{vanished} message(s) were deleted elsewhere and could not be fetched"),
        )),
        None => Ok(if by_uid { "UID FETCH completed" } else { "FETCH completed" }.into()),
    })
}

fn needs_structure(item: &MessageDataItemName<'_>) -> bool {
    match item {
        MessageDataItemName::Body
        | MessageDataItemName::BodyStructure
        | MessageDataItemName::Envelope
        | MessageDataItemName::Rfc822Header
        | MessageDataItemName::Rfc822Text
        | MessageDataItemName::Binary { .. }
        | MessageDataItemName::BinarySize { .. } => true,
        MessageDataItemName::BodyExt { section, .. } => section.is_some(),
        _ => false,
    }
}

fn needs_raw_body(item: &MessageDataItemName<'_>, size_known: bool) -> bool {
    match item {
        MessageDataItemName::Rfc822 | MessageDataItemName::BodyExt { .. } => true,
        MessageDataItemName::Rfc822Size => !size_known,
        other => needs_structure(other),
    }
}

fn render_message(
    buf: &mut Vec<u8>,
    sequence: usize,
    meta: &MessageMeta,
    items: &[MessageDataItemName<'_>],
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) {
    buf.extend_from_slice(format!("* {sequence} FETCH (").as_bytes());
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            buf.push(b' ');
        }
        render_item(buf, meta, item, body, parsed);
    }
    buf.extend_from_slice(b")\r\n");
}

fn render_item(
    buf: &mut Vec<u8>,
    meta: &MessageMeta,
    item: &MessageDataItemName<'_>,
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) {
    let raw = body.map(|b| &b[..]).unwrap_or_default();
    match item {
        MessageDataItemName::Uid => buf.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        MessageDataItemName::Flags => {
            buf.extend_from_slice(b"FLAGS (");
            write_flags(buf, &meta.flags);
            buf.push(b')');
        }
        MessageDataItemName::InternalDate => {
            buf.extend_from_slice(b"INTERNALDATE ");
            wire::write_date_time(buf, &meta.internal_date);
        }
        MessageDataItemName::Rfc822Size => {
            let size = body.map(|b| b.len() as u64).or(meta.size).unwrap_or(0);
            buf.extend_from_slice(format!("RFC822.SIZE {size}").as_bytes());
        }
        MessageDataItemName::Rfc822 => {
            buf.extend_from_slice(b"RFC822 ");
            wire::write_literal(buf, raw);
        }
        MessageDataItemName::Rfc822Header => {
            buf.extend_from_slice(b"RFC822.HEADER ");
            write_section_data(buf, section(parsed, Vec::new(), SectionKind::Header).as_deref());
        }
        MessageDataItemName::Rfc822Text => {
            buf.extend_from_slice(b"RFC822.TEXT ");
            write_section_data(buf, section(parsed, Vec::new(), SectionKind::Text).as_deref());
        }
        MessageDataItemName::Envelope => {
            buf.extend_from_slice(b"ENVELOPE ");
            if let Some(parsed) = parsed {
                parsed.envelope(buf);
            }
        }
        MessageDataItemName::Body => {
            buf.extend_from_slice(b"BODY ");
            if let Some(parsed) = parsed {
                parsed.body_structure(buf, false);
            }
        }
        MessageDataItemName::BodyStructure => {
            buf.extend_from_slice(b"BODYSTRUCTURE ");
            if let Some(parsed) = parsed {
                parsed.body_structure(buf, true);
            }
        }
        MessageDataItemName::BodyExt {
            section: requested,
            partial,
            ..
        } => {
            buf.extend_from_slice(b"BODY[");
            write_section_name(buf, requested.as_ref());
            buf.push(b']');
            let data: Option<Cow<'_, [u8]>> = match requested {
                None => Some(Cow::Borrowed(raw)),
                Some(requested) => {
                    let (part, kind) = section_spec(requested);
                    section(parsed, part, kind)
                }
            };
            match partial {
                Some((origin, length)) => {
                    buf.extend_from_slice(format!("<{origin}> ").as_bytes());
                    let data = data.as_deref().map(|d| {
                        let start = (*origin as usize).min(d.len());
                        let end = start.saturating_add(length.get() as usize).min(d.len());
                        &d[start..end]
                    });
                    write_section_data(buf, data);
                }
                None => {
                    buf.push(b' ');
                    write_section_data(buf, data.as_deref());
                }
            }
        }
        MessageDataItemName::Binary { section, .. } | MessageDataItemName::BinarySize { section } => {
            // BINARY is not advertised yet; answer what RFC 3516 says for an unknown encoding.
            let _ = section;
            buf.extend_from_slice(b"BINARY[] NIL");
        }
    }
}

fn section<'a>(
    parsed: Option<&'a ParsedMessage>,
    part: Vec<u32>,
    kind: SectionKind,
) -> Option<Cow<'a, [u8]>> {
    parsed?.section(&SectionSpec { part, kind })
}

fn section_spec(section: &Section<'_>) -> (Vec<u32>, SectionKind) {
    let part_numbers = |part: &Option<Part>| -> Vec<u32> {
        part.as_ref()
            .map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
            .unwrap_or_default()
    };
    let names = |fields: &[AString<'_>]| -> Vec<String> {
        fields
            .iter()
            .map(|f| String::from_utf8_lossy(f.as_ref()).into_owned())
            .collect()
    };
    match section {
        Section::Part(part) => (part_numbers(&Some(part.clone())), SectionKind::Full),
        Section::Header(part) => (part_numbers(part), SectionKind::Header),
        Section::HeaderFields(part, fields) => {
            (part_numbers(part), SectionKind::HeaderFields(names(fields.as_ref())))
        }
        Section::HeaderFieldsNot(part, fields) => {
            (part_numbers(part), SectionKind::HeaderFieldsNot(names(fields.as_ref())))
        }
        Section::Text(part) => (part_numbers(part), SectionKind::Text),
        Section::Mime(part) => (part_numbers(&Some(part.clone())), SectionKind::Mime),
    }
}

fn write_section_name(buf: &mut Vec<u8>, section: Option<&Section<'_>>) {
    let Some(section) = section else {
        return;
    };
    let write_part = |buf: &mut Vec<u8>, part: &Part, dot: bool| {
        let numbers: Vec<String> = part.0.as_ref().iter().map(|n| n.to_string()).collect();
        buf.extend_from_slice(numbers.join(".").as_bytes());
        if dot {
            buf.push(b'.');
        }
    };
    let write_fields = |buf: &mut Vec<u8>, fields: &[AString<'_>]| {
        buf.extend_from_slice(b" (");
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                buf.push(b' ');
            }
            let bytes: &[u8] = field.as_ref();
            if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic() && !b"(){%*\"\\]".contains(b)) {
                buf.extend_from_slice(bytes);
            } else {
                wire::write_string(buf, bytes);
            }
        }
        buf.push(b')');
    };
    match section {
        Section::Part(part) => write_part(buf, part, false),
        Section::Header(part) => {
            if let Some(part) = part {
                write_part(buf, part, true);
            }
            buf.extend_from_slice(b"HEADER");
        }
        Section::HeaderFields(part, fields) => {
            if let Some(part) = part {
                write_part(buf, part, true);
            }
            buf.extend_from_slice(b"HEADER.FIELDS");
            write_fields(buf, fields.as_ref());
        }
        Section::HeaderFieldsNot(part, fields) => {
            if let Some(part) = part {
                write_part(buf, part, true);
            }
            buf.extend_from_slice(b"HEADER.FIELDS.NOT");
            write_fields(buf, fields.as_ref());
        }
        Section::Text(part) => {
            if let Some(part) = part {
                write_part(buf, part, true);
            }
            buf.extend_from_slice(b"TEXT");
        }
        Section::Mime(part) => {
            write_part(buf, part, true);
            buf.extend_from_slice(b"MIME");
        }
    }
}

/// Section data: a literal (clients expect one for body data), `""` when empty, NIL when absent.
fn write_section_data(buf: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        Some([]) => buf.extend_from_slice(b"\"\""),
        Some(data) => wire::write_literal(buf, data),
        None => buf.extend_from_slice(b"NIL"),
    }
}

pub(super) fn write_flags(buf: &mut Vec<u8>, flags: &MessageFlags) {
    let mut names: Vec<&str> = Vec::new();
    if flags.seen {
        names.push("\\Seen");
    }
    if flags.answered {
        names.push("\\Answered");
    }
    if flags.flagged {
        names.push("\\Flagged");
    }
    if flags.deleted {
        names.push("\\Deleted");
    }
    if flags.draft {
        names.push("\\Draft");
    }
    if flags.forwarded {
        names.push("$Forwarded");
    }
    names.extend(flags.keywords.iter().map(String::as_str));
    buf.extend_from_slice(names.join(" ").as_bytes());
}
