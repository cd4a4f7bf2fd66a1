//! Owns FETCH and UID FETCH: which messages, which data items (macros expanded), which bodies
//! must be downloaded, and the rendering of each item (RFC 3501 6.4.5 and 7.4.2).
//!
//! Bodies are asked of the hub twenty messages at a time, in order, and responses are flushed as
//! they are rendered, so fetching a whole folder holds at most one window of bodies in memory.

use std::borrow::Cow;
use std::sync::Arc;

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
        let bodies = bodies_in_place(
            window.iter().map(|(_, _, needs_body)| *needs_body),
            hub.bodies(&folder_id, &needing).await,
        );
        for ((position, meta, _), body) in window.iter().zip(bodies) {
            let body = match body {
                None => None,
                Some(Ok(body)) => Some(body),
                Some(Err(HubError::Graph(err))) if err.is_not_found() => {
                    // Deleted behind our back: say nothing of it, and tell the client at the end.
                    vanished += 1;
                    continue;
                }
                Some(Err(err)) => {
                    failure = Some(err);
                    break 'windows;
                }
            };
            if let Some(body) = &body {
                let size = Some(body.len() as u64);
                if selection.messages[*position].size != size {
                    Arc::make_mut(&mut selection.messages)[*position].size = size;
                }
            }
            let parsed = match (&body, needs_structure) {
                (Some(body), true) => Some(ParsedMessage::parse(body.clone())),
                _ => None,
            };
            if let Err(err) = render_message(
                out.buf(),
                position + 1,
                meta,
                selection.recent.contains(&meta.uid),
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
        None if undecodable.is_some() => Err(undecodable
            .as_ref()
            .map(binary_refusal)
            .unwrap_or_else(|| Refusal::no("UNKNOWN-CTE", ""))),
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

/// Each message of a window with its body, or `None` when it needed none: the hub answered,
/// in order, only for the messages that needed one, so a message whose size is known must not
/// take the next one's body (which gave it the next one's RFC822.SIZE and BODY[]).
fn bodies_in_place<T>(needs: impl Iterator<Item = bool>, answers: Vec<T>) -> Vec<Option<T>> {
    let mut answers = answers.into_iter();
    needs
        .map(|needs| if needs { answers.next() } else { None })
        .collect()
}

/// The tagged NO for a part BINARY cannot decode, worded as Dovecot words it: `UNKNOWN-CTE` for
/// an encoding we do not know (RFC 3516 4.3), `PARSE` for invalid base64/QP data.
fn binary_refusal(err: &BinaryError) -> Refusal {
    Refusal::no(err.response_code(), err.to_string())
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
#[allow(clippy::too_many_arguments)]
fn render_message(
    buf: &mut Vec<u8>,
    sequence: usize,
    meta: &MessageMeta,
    recent: bool,
    items: &[MessageDataItemName<'_>],
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) -> Result<(), BinaryError> {
    let mut line = format!("* {sequence} FETCH (").into_bytes();
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            line.push(b' ');
        }
        render_item(&mut line, meta, recent, item, body, parsed)?;
    }
    line.extend_from_slice(b")\r\n");
    buf.extend_from_slice(&line);
    Ok(())
}

fn render_item(
    buf: &mut Vec<u8>,
    meta: &MessageMeta,
    recent: bool,
    item: &MessageDataItemName<'_>,
    body: Option<&Bytes>,
    parsed: Option<&ParsedMessage>,
) -> Result<(), BinaryError> {
    let raw = body.map(|b| &b[..]).unwrap_or_default();
    match item {
        MessageDataItemName::Uid => buf.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        MessageDataItemName::Flags => {
            buf.extend_from_slice(b"FLAGS (");
            write_flags(buf, &meta.flags, recent);
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
            let spec = requested
                .as_ref()
                .map(section_spec)
                .unwrap_or_else(|| SectionSpec::new(Vec::new(), SectionKind::Full));
            buf.extend_from_slice(b"BODY[");
            spec.write_name(buf);
            buf.push(b']');
            let data: Option<Cow<'_, [u8]>> = if requested.is_none() {
                Some(Cow::Borrowed(raw))
            } else {
                parsed.and_then(|parsed| parsed.section(&spec))
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
            // A part that does not exist is an empty literal, as Dovecot answers.
            let content = parsed.map(|p| p.binary(&numbers)).transpose()?.flatten();
            let (data, literal8) = content
                .as_ref()
                .map(|c| (c.data.as_slice(), c.literal8))
                .unwrap_or((&[], false));
            mime::write_binary_literal(buf, apply_partial(data, partial), literal8);
        }
        MessageDataItemName::BinarySize { section: part } => {
            let numbers: Vec<u32> = part.iter().map(|n| n.get()).collect();
            buf.extend_from_slice(b"BINARY.SIZE[");
            buf.extend_from_slice(join_numbers(&numbers).as_bytes());
            buf.extend_from_slice(b"] ");
            let size = parsed
                .map(|p| p.binary_size(&numbers))
                .transpose()?
                .flatten();
            buf.extend_from_slice(size.unwrap_or(0).to_string().as_bytes());
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
    parsed?.section(&SectionSpec::new(part, kind))
}

fn section_spec(section: &Section<'_>) -> SectionSpec {
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
    let (part, kind) = match section {
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
    };
    SectionSpec::new(part, kind)
}

/// Section data: always a literal, and an empty one for a section the message does not have
/// (as Dovecot answers; RFC 3501 leaves it open).
fn write_section_data(buf: &mut Vec<u8>, data: Option<&[u8]>) {
    mime::write_body_literal(buf, data.unwrap_or_default());
}

/// A message's flags as FETCH FLAGS shows them; `recent`: \Recent to this session.
pub(super) fn write_flags(buf: &mut Vec<u8>, flags: &MessageFlags, recent: bool) {
    // In Dovecot's order (\Answered \Flagged \Deleted \Seen \Draft \Recent, then keywords):
    // RFC 3501 leaves the order open, and a client comparing FLAGS strings then sees the same
    // text.
    let mut names: Vec<&str> = Vec::new();
    if flags.answered {
        names.push("\\Answered");
    }
    if flags.flagged {
        names.push("\\Flagged");
    }
    if flags.deleted {
        names.push("\\Deleted");
    }
    if flags.seen {
        names.push("\\Seen");
    }
    if flags.draft {
        names.push("\\Draft");
    }
    if recent {
        names.push("\\Recent");
    }
    if flags.forwarded {
        names.push("$Forwarded");
    }
    names.extend(flags.keywords.iter().map(String::as_str));
    buf.extend_from_slice(names.join(" ").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use imap_codec::imap_types::fetch::Macro;
    use std::sync::Arc;

    #[test]
    fn a_message_of_known_size_takes_no_other_messages_body() {
        // FETCH 1:4 RFC822.SIZE where messages 1 and 3 have known sizes: the hub answers for
        // 2 and 4 only.
        let needs = [false, true, false, true].into_iter();
        assert_eq!(
            bodies_in_place(needs, vec!["body of 2", "body of 4"]),
            vec![None, Some("body of 2"), None, Some("body of 4")]
        );
        assert_eq!(
            bodies_in_place([true, true].into_iter(), vec!["only"]),
            vec![Some("only"), None],
            "an answer missing stays missing"
        );
    }

    const MESSAGE: &[u8] = b"From: Bob <bob@example.com>\r\nSubject: Hello\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi there\r\n--b\r\nContent-Type: audio/mpeg\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n";

    fn meta() -> MessageMeta {
        MessageMeta {
            uid: 42,
            id: Arc::from("AAMkAD"),
            flags: MessageFlags {
                seen: true,
                answered: true,
                forwarded: true,
                keywords: vec!["Blue".into()],
                ..MessageFlags::default()
            },
            internal_date: chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
                .unwrap()
                .with_timezone(&chrono::Utc),
            size: None,
            has_attachments: true,
        }
    }

    #[test]
    fn binary_refusal_uses_the_error_response_code() {
        let unknown = binary_refusal(&BinaryError::UnknownTransferEncoding);
        assert_eq!(unknown.code, Some("UNKNOWN-CTE"));
        assert_eq!(unknown.text, "Unknown Content-Transfer-Encoding");
        assert!(!unknown.bad);
        let invalid = binary_refusal(&BinaryError::InvalidEncodedData);
        assert_eq!(invalid.code, Some("PARSE"));
        assert_eq!(invalid.text, "Invalid data in MIME part");
    }

    /// Renders the FETCH response for `items` (in IMAP syntax) of MESSAGE.
    fn render(items: &str) -> String {
        let command = format!("a FETCH 1 {items}\r\n");
        let (_, parsed_command) = imap_codec::decode::Decoder::decode(
            &imap_codec::CommandCodec::default(),
            command.as_bytes(),
        )
        .unwrap();
        let imap_codec::imap_types::command::CommandBody::Fetch {
            macro_or_item_names,
            ..
        } = parsed_command.body
        else {
            panic!("not a FETCH");
        };
        let items: Vec<MessageDataItemName<'_>> = match &macro_or_item_names {
            MacroOrMessageDataItemNames::Macro(m) => m.expand(),
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.clone(),
        };
        let body = Bytes::from_static(MESSAGE);
        let parsed = ParsedMessage::parse(body.clone());
        let mut buf = Vec::new();
        render_message(
            &mut buf,
            7,
            &meta(),
            false,
            &items,
            Some(&body),
            Some(&parsed),
        )
        .unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[test]
    fn flags_uid_date_and_size() {
        assert_eq!(
            render("(UID FLAGS INTERNALDATE RFC822.SIZE)"),
            format!(
                "* 7 FETCH (UID 42 FLAGS (\\Answered \\Seen $Forwarded Blue) INTERNALDATE \"04-Mar-2026 05:06:07 +0000\" RFC822.SIZE {})\r\n",
                MESSAGE.len()
            )
        );
        assert!(Macro::Fast.expand().len() == 3);
    }

    #[test]
    fn sections_and_partials() {
        assert_eq!(
            render("(BODY.PEEK[HEADER.FIELDS (subject)])"),
            "* 7 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: Hello\r\n\r\n)\r\n"
        );
        assert_eq!(
            render("(BODY[1])"),
            "* 7 FETCH (BODY[1] {8}\r\nhi there)\r\n"
        );
        assert_eq!(
            render("(BODY[1]<3.100>)"),
            "* 7 FETCH (BODY[1]<3> {5}\r\nthere)\r\n"
        );
        assert_eq!(
            render("(BODY[1]<300.2>)"),
            "* 7 FETCH (BODY[1]<300> {0}\r\n)\r\n"
        );
        assert_eq!(render("(BODY[9])"), "* 7 FETCH (BODY[9] {0}\r\n)\r\n");
        assert_eq!(
            render("(BODY[]<0.4>)"),
            "* 7 FETCH (BODY[]<0> {4}\r\nFrom)\r\n"
        );
        assert!(render("(RFC822.HEADER)").starts_with("* 7 FETCH (RFC822.HEADER {"));
    }

    #[test]
    fn binary_decodes_the_transfer_encoding() {
        assert_eq!(
            render("(BINARY.PEEK[2] BINARY.SIZE[2])"),
            "* 7 FETCH (BINARY[2] ~{3}\r\n\x00\x01\x02 BINARY.SIZE[2] 3)\r\n"
        );
    }

    #[test]
    fn structure_items() {
        let text = render("(ENVELOPE BODYSTRUCTURE)");
        assert!(
            text.starts_with(
                "* 7 FETCH (ENVELOPE (NIL \"Hello\" ((\"Bob\" NIL \"bob\" \"example.com\"))"
            ),
            "{text}"
        );
        assert!(
            text.contains("BODYSTRUCTURE ((\"text\" \"plain\""),
            "{text}"
        );
        assert!(text.contains("(\"audio\" \"mpeg\""), "{text}");
    }
}
