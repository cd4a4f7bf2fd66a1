//! BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2) of a part tree.
//!
//! Matches Dovecot's rendering, including where the RFC leaves a choice:
//! - text/* parts without a charset get `"charset" "us-ascii"` appended to
//!   their parameters; a part without (usable) Content-Type is
//!   `"text" "plain" ("charset" "us-ascii")`;
//! - Content-Transfer-Encoding defaults to `"7bit"`, and is shown as written;
//! - sizes count the encoded body with CRLF line ends; text/* and
//!   message/rfc822 parts add their body's line count;
//! - a multipart with no parts gets one empty text/plain part;
//! - a part over the nesting limit that claimed to be multipart or
//!   message/rfc822 is shown as application/octet-stream;
//! - extension data: body MD5 (the Content-MD5 value), disposition with
//!   parameters, language list, location; for multiparts the parameters,
//!   disposition, language and location.

use super::content::ContentFields;
use super::envelope::write_envelope;
use super::imap_string::{write_nstring_without_newlines, write_string};
use super::tree::{Part, PartTree, Shape};

const EMPTY_BODY: &[u8] = b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)";
const EMPTY_BODYSTRUCTURE: &[u8] =
    b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)";

fn write_parameters(
    out: &mut Vec<u8>,
    parameters: &[(Vec<u8>, Vec<u8>)],
    add_default_charset: bool,
) {
    if parameters.is_empty() && !add_default_charset {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut seen_charset = false;
    for (index, (name, value)) in parameters.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        seen_charset |= name.eq_ignore_ascii_case(b"charset");
        write_string(out, name);
        out.push(b' ');
        write_string(out, value);
    }
    if add_default_charset && !seen_charset {
        if !parameters.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(b"\"charset\" \"us-ascii\"");
    }
    out.push(b')');
}

/// Disposition, language and location: the extension data both kinds of
/// parts end with.
fn write_common_extensions(out: &mut Vec<u8>, fields: &ContentFields) {
    out.push(b' ');
    match &fields.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some((disposition, parameters)) => {
            out.push(b'(');
            write_string(out, disposition);
            out.push(b' ');
            write_parameters(out, parameters, false);
            out.push(b')');
        }
    }
    out.push(b' ');
    match &fields.languages {
        None => out.extend_from_slice(b"NIL"),
        Some(languages) => {
            out.push(b'(');
            for (index, language) in languages.iter().enumerate() {
                if index > 0 {
                    out.push(b' ');
                }
                write_string(out, language);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    write_nstring_without_newlines(out, fields.location.as_deref());
}

/// Writes the body structure of part `index` (without the surrounding
/// parentheses, as Dovecot's writer does).
pub(crate) fn write_part(
    out: &mut Vec<u8>,
    raw: &[u8],
    tree: &PartTree,
    index: usize,
    extended: bool,
) {
    let Some(part) = tree.parts.get(index) else {
        out.extend_from_slice(if extended {
            &EMPTY_BODYSTRUCTURE[1..EMPTY_BODYSTRUCTURE.len() - 1]
        } else {
            &EMPTY_BODY[1..EMPTY_BODY.len() - 1]
        });
        return;
    };
    let fields = ContentFields::of_part(raw, part);
    if part.parent.is_none() && is_plain_7bit(part, &fields) {
        write_plain_7bit(out, part, extended);
        return;
    }
    if part.shape == Shape::Multipart {
        write_multipart(out, raw, tree, part, &fields, extended);
    } else {
        write_single(out, raw, tree, part, &fields, extended);
    }
}

/// A message that is nothing but 7bit US-ASCII plain text. Dovecot caches
/// that fact and from then on answers with a fixed lowercase text (the
/// header's own spelling, e.g. `TEXT/PLAIN; CHARSET=US-ASCII`, shows only on
/// the very first computation); we always give the cached form.
fn is_plain_7bit(part: &Part, fields: &ContentFields) -> bool {
    if part.shape != Shape::Text || !part.children.is_empty() {
        return false;
    }
    if let Some((_, subtype)) = &fields.content_type {
        if !subtype.eq_ignore_ascii_case(b"plain") {
            return false;
        }
    }
    let charset_only = match fields.type_parameters.as_slice() {
        [] => true,
        [(name, value)] => {
            name.eq_ignore_ascii_case(b"charset") && value.eq_ignore_ascii_case(b"us-ascii")
        }
        _ => false,
    };
    charset_only
        && fields.id.is_none()
        && fields.description.is_none()
        && fields
            .transfer_encoding
            .as_ref()
            .is_none_or(|cte| cte.eq_ignore_ascii_case(b"7bit"))
        && fields.md5.is_none()
        && fields.disposition.is_none()
        && fields.languages.is_none()
        && fields.location.is_none()
}

fn write_plain_7bit(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.extend_from_slice(b"\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" ");
    out.extend_from_slice(part.body_size.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(part.body_lines.to_string().as_bytes());
    if extended {
        out.extend_from_slice(b" NIL NIL NIL NIL");
    }
}

fn write_children(out: &mut Vec<u8>, raw: &[u8], tree: &PartTree, part: &Part, extended: bool) {
    for &child in &part.children {
        out.push(b'(');
        write_part(out, raw, tree, child, extended);
        out.push(b')');
    }
}

fn write_multipart(
    out: &mut Vec<u8>,
    raw: &[u8],
    tree: &PartTree,
    part: &Part,
    fields: &ContentFields,
    extended: bool,
) {
    if part.children.is_empty() {
        out.extend_from_slice(if extended {
            EMPTY_BODYSTRUCTURE
        } else {
            EMPTY_BODY
        });
    } else {
        write_children(out, raw, tree, part, extended);
    }
    out.push(b' ');
    let subtype = fields
        .content_type
        .as_ref()
        .map(|(_, sub)| sub.as_slice())
        .unwrap_or_default();
    write_string(out, subtype);
    if !extended {
        return;
    }
    out.push(b' ');
    write_parameters(out, &fields.type_parameters, false);
    write_common_extensions(out, fields);
}

/// A part that should have been multipart or message/rfc822 but was cut
/// off by a limit (or a digest child without Content-Type that was not
/// parsed as a message).
fn is_truncated(part: &Part, tree: &PartTree, fields: &ContentFields) -> bool {
    match &fields.content_type {
        Some((main, sub)) => {
            (main.eq_ignore_ascii_case(b"message") && sub.eq_ignore_ascii_case(b"rfc822"))
                || main.eq_ignore_ascii_case(b"multipart")
        }
        None => part
            .parent
            .and_then(|p| tree.parts.get(p))
            .is_some_and(|p| p.is_digest),
    }
}

fn write_single(
    out: &mut Vec<u8>,
    raw: &[u8],
    tree: &PartTree,
    part: &Part,
    fields: &ContentFields,
    extended: bool,
) {
    let is_message = part.shape == Shape::Message;
    let is_text;
    if is_message {
        out.extend_from_slice(b"\"message\" \"rfc822\"");
        is_text = false;
    } else if is_truncated(part, tree, fields) {
        out.extend_from_slice(b"\"application\" \"octet-stream\"");
        is_text = false;
    } else {
        match &fields.content_type {
            None => {
                out.extend_from_slice(b"\"text\" \"plain\"");
                is_text = true;
            }
            Some((main, sub)) => {
                // The tree decided text-ness from the same field, so this
                // agrees with `part.shape == Shape::Text`.
                is_text = main.eq_ignore_ascii_case(b"text");
                write_string(out, main);
                out.push(b' ');
                write_string(out, sub);
            }
        }
    }
    out.push(b' ');
    write_parameters(out, &fields.type_parameters, is_text);
    out.push(b' ');
    write_nstring_without_newlines(out, fields.id.as_deref());
    out.push(b' ');
    write_nstring_without_newlines(out, fields.description.as_deref());
    out.push(b' ');
    match &fields.transfer_encoding {
        Some(encoding) => write_string(out, encoding),
        None => out.extend_from_slice(b"\"7bit\""),
    }
    out.push(b' ');
    out.extend_from_slice(part.body_size.to_string().as_bytes());
    if is_text {
        out.push(b' ');
        out.extend_from_slice(part.body_lines.to_string().as_bytes());
    } else if is_message {
        out.push(b' ');
        match part
            .children
            .first()
            .and_then(|&c| tree.parts.get(c).map(|p| (c, p)))
        {
            Some((child_index, child)) => {
                write_envelope(out, raw, child);
                out.push(b' ');
                out.push(b'(');
                write_part(out, raw, tree, child_index, extended);
                out.push(b')');
            }
            None => {
                out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
                out.extend_from_slice(if extended {
                    EMPTY_BODYSTRUCTURE
                } else {
                    EMPTY_BODY
                });
            }
        }
        out.push(b' ');
        out.extend_from_slice(part.body_lines.to_string().as_bytes());
    }
    if !extended {
        return;
    }
    out.push(b' ');
    write_nstring_without_newlines(out, fields.md5.as_deref());
    write_common_extensions(out, fields);
}
