//! Owns FETCH and UID FETCH: which messages, which data items (macros expanded), which bodies
//! must be downloaded, and the rendering of each item (RFC 3501 6.4.5 and 7.4.2).
//!
//! Bodies are asked of the hub twenty messages at a time, in order, and responses are flushed as
//! they are rendered, so fetching a whole folder holds at most one window of bodies in memory.

use std::borrow::Cow;

use bytes::Bytes;
use imap_codec::imap_types::core::AString;
use imap_codec::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItemName, Part, Section,
};
use imap_codec::imap_types::sequence::SequenceSet;

use super::sequence::resolve;
use super::{Refusal, ResponseSink, Selection};
use crate::hub::{HubError, MailboxHub, MessageFlags, MessageMeta};
use crate::mime::{self, BinaryError, ParsedMessage, SectionKind, SectionSpec};
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
                || items
                    .iter()
                    .any(|item| needs_raw_body(item, meta.size.is_some()));
            (position, meta, needs_body)
        })
        .collect();
    let folder_id = selection.folder.id.clone();
    let mut vanished = 0usize;
    let mut failure: Option<HubError> = None;
    let mut undecodable: Option<BinaryError> = None;
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
            if let Err(err) = render_message(
                out.buf(),
                position + 1,
                meta,
                &items,
                body.as_ref(),
                parsed.as_ref(),
            ) {
                undecodable = Some(err);
                continue;
            }
            out.flush_if_large().await?;
        }
    }
    Ok(match failure {
        Some(err) => Err(Refusal::from_hub(err)),
        // RFC 3516 4.3: a part whose encoding cannot be undone fails the FETCH.
        None if undecodable.is_some() => Err(Refusal::no(
            "UNKNOWN-CTE",
            undecodable.map(|e| e.to_string()).unwrap_or_default(),
        )),
        None if vanished > 0 => Err(Refusal::no(
            "EXPUNGEISSUED",
            format!("{vanished} message(s) were deleted elsewhere and could not be fetched"),
        )),
        None => Ok(if by_uid {
            "UID FETCH completed"
        } else {
            "FETCH completed"
        }
        .into()),
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

/// Renders one message's FETCH response into `buf`; nothing is written when an item cannot be
/// answered (BINARY of a part whose encoding cannot be undone).
fn render_message(
    buf: &mut Vec<u8>,
    sequence: usize,
    meta: &MessageMeta,
    items: &[MessageDataItemName<'_>],
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) -> Result<(), BinaryError> {
    let mut line = format!("* {sequence} FETCH (").into_bytes();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            line.push(b' ');
        }
        render_item(&mut line, meta, item, body, parsed)?;
    }
    line.extend_from_slice(b")\r\n");
    buf.extend_from_slice(&line);
    Ok(())
}

fn render_item(
    buf: &mut Vec<u8>,
    meta: &MessageMeta,
    item: &MessageDataItemName<'_>,
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) -> Result<(), BinaryError> {
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
            mime::write_body_literal(buf, raw);
        }
        MessageDataItemName::Rfc822Header => {
            buf.extend_from_slice(b"RFC822.HEADER ");
            write_section_data(
                buf,
                section(parsed, Vec::new(), SectionKind::Header).as_deref(),
            );
        }
        MessageDataItemName::Rfc822Text => {
            buf.extend_from_slice(b"RFC822.TEXT ");
            write_section_data(
                buf,
                section(parsed, Vec::new(), SectionKind::Text).as_deref(),
            );
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
            write_partial_origin(buf, partial);
            write_section_data(buf, data.as_deref().map(|d| apply_partial(d, partial)));
        }
        MessageDataItemName::Binary {
            section: part,
            partial,
            ..
        } => {
            let numbers: Vec<u32> = part.iter().map(|n| n.get()).collect();
            buf.extend_from_slice(b"BINARY[");
            buf.extend_from_slice(join_numbers(&numbers).as_bytes());
            buf.push(b']');
            write_partial_origin(buf, partial);
            match parsed.map(|p| p.binary(&numbers)).transpose()?.flatten() {
                Some(content) => {
                    let data = apply_partial(&content.data, partial);
                    mime::write_binary_literal(buf, data, content.literal8);
                }
                None => buf.extend_from_slice(b"NIL"),
            }
        }
        MessageDataItemName::BinarySize { section: part } => {
            let numbers: Vec<u32> = part.iter().map(|n| n.get()).collect();
            buf.extend_from_slice(b"BINARY.SIZE[");
            buf.extend_from_slice(join_numbers(&numbers).as_bytes());
            buf.extend_from_slice(b"] ");
            match parsed
                .map(|p| p.binary_size(&numbers))
                .transpose()?
                .flatten()
            {
                Some(size) => buf.extend_from_slice(size.to_string().as_bytes()),
                None => buf.extend_from_slice(b"NIL"),
            }
        }
    }
    Ok(())
}

fn join_numbers(numbers: &[u32]) -> String {
    numbers
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// `<origin>` after the section name of a partial fetch (RFC 3501 7.4.2).
fn write_partial_origin(buf: &mut Vec<u8>, partial: &Option<(u32, std::num::NonZeroU32)>) {
    if let Some((origin, _)) = partial {
        buf.extend_from_slice(format!("<{origin}>").as_bytes());
    }
    buf.push(b' ');
}

/// The octets `<origin.length>` asks for; empty when the origin is past the end.
fn apply_partial<'d>(data: &'d [u8], partial: &Option<(u32, std::num::NonZeroU32)>) -> &'d [u8] {
    match partial {
        Some((origin, length)) => {
            let start = (*origin as usize).min(data.len());
            let end = start.saturating_add(length.get() as usize).min(data.len());
            &data[start..end]
        }
        None => data,
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
        Section::HeaderFields(part, fields) => (
            part_numbers(part),
            SectionKind::HeaderFields(names(fields.as_ref())),
        ),
        Section::HeaderFieldsNot(part, fields) => (
            part_numbers(part),
            SectionKind::HeaderFieldsNot(names(fields.as_ref())),
        ),
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
            mime::write_astring(buf, bytes);
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

/// Section data: always a literal (as Dovecot sends it, even when empty), NIL when absent.
fn write_section_data(buf: &mut Vec<u8>, data: Option<&[u8]>) {
    match data {
        Some(data) => mime::write_body_literal(buf, data),
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
