//! BODY[section] contents (RFC 3501 section 6.4.5): part lookup by number,
//! HEADER, HEADER.FIELDS (and .NOT), TEXT and MIME.
//!
//! Part numbers follow RFC 3501 and Dovecot: part 1 of a non-multipart is
//! its body; a message/rfc822 part's children are numbered from the
//! enclosed message's parts; HEADER, HEADER.FIELDS[.NOT] and TEXT after a
//! part number need a message/rfc822 part and apply to the enclosed
//! message; MIME is the part's own header (for a top-level single part
//! message, `1.MIME` is the message header, as Dovecot answers).
//! HEADER.FIELDS returns the matching fields verbatim, in message order,
//! and the blank line (always for the top-level header, only when present
//! for an enclosed message, as Dovecot); field names match
//! case-insensitively. Like Dovecot, HEADER.FIELDS[.NOT] reads the header
//! up to the first blank line even when a boundary cut the part's header
//! short (HEADER and MIME stop at the boundary).

use std::borrow::Cow;

use super::imap_string::is_astring_char;
use super::tree::{read_standalone_header, PartTree, Shape};

/// Which text of a part a BODY[...] section asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// `BODY[]` for the message, `BODY[1.2]` (the part's body) for a part.
    Full,
    /// `HEADER`: the message header, or the enclosed message's header.
    Header,
    /// `HEADER.FIELDS (names...)`.
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names...)`.
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`: the body of the message or of the enclosed message.
    Text,
    /// `MIME`: the MIME header of a part; needs a part number.
    Mime,
}

/// A BODY[...] section: a part path (empty for the message itself) and what
/// to take from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionSpec {
    pub part: Vec<u32>,
    pub kind: SectionKind,
}

impl SectionSpec {
    pub fn new(part: Vec<u32>, kind: SectionKind) -> SectionSpec {
        SectionSpec { part, kind }
    }

    /// Writes the section as the FETCH response names it, the way Dovecot
    /// echoes it: upper case, field names as atoms when they can be (a
    /// name the client quoted comes back as an atom here, where Dovecot
    /// would quote it again), e.g. `1.2.HEADER.FIELDS (FROM X-SPAM)`.
    pub fn write_name(&self, out: &mut Vec<u8>) {
        for (index, number) in self.part.iter().enumerate() {
            if index > 0 {
                out.push(b'.');
            }
            out.extend_from_slice(number.to_string().as_bytes());
        }
        let (suffix, names): (&[u8], Option<&Vec<String>>) = match &self.kind {
            SectionKind::Full => (b"", None),
            SectionKind::Header => (b"HEADER", None),
            SectionKind::HeaderFields(names) => (b"HEADER.FIELDS", Some(names)),
            SectionKind::HeaderFieldsNot(names) => (b"HEADER.FIELDS.NOT", Some(names)),
            SectionKind::Text => (b"TEXT", None),
            SectionKind::Mime => (b"MIME", None),
        };
        if !suffix.is_empty() && !self.part.is_empty() {
            out.push(b'.');
        }
        out.extend_from_slice(suffix);
        let Some(names) = names else {
            return;
        };
        out.extend_from_slice(b" (");
        for (index, name) in names.iter().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            let upper = name.to_ascii_uppercase();
            if !upper.is_empty() && upper.bytes().all(is_astring_char) {
                out.extend_from_slice(upper.as_bytes());
            } else {
                // Like Dovecot's quoting here: characters a quoted string
                // cannot hold are left out.
                out.push(b'"');
                for byte in upper.bytes() {
                    match byte {
                        b'"' | b'\\' => out.extend_from_slice(&[b'\\', byte]),
                        b'\r' | b'\n' | 0 => {}
                        _ if byte >= 0x80 => {}
                        _ => out.push(byte),
                    }
                }
                out.push(b'"');
            }
        }
        out.push(b')');
    }
}

/// Finds the part a path names; `Some(0)` for the empty path.
pub(crate) fn find_part(tree: &PartTree, path: &[u32]) -> Option<usize> {
    let mut index = 0usize;
    for (position, &number) in path.iter().enumerate() {
        let continues = position + 1 < path.len();
        let part = tree.parts.get(index)?;
        if number == 0 {
            return None;
        }
        if part.shape == Shape::Multipart {
            let child = usize::try_from(number - 1).ok()?;
            index = *part.children.get(child)?;
        } else if number != 1 || (continues && part.shape != Shape::Message) {
            return None;
        }
        let part = tree.parts.get(index)?;
        if continues && part.shape == Shape::Message {
            index = *part.children.first()?;
        }
    }
    Some(index)
}

/// The part whose header/text HEADER.*, TEXT refer to: the message itself
/// for an empty path, else the message enclosed in a message/rfc822 part.
fn message_part(tree: &PartTree, path: &[u32]) -> Option<usize> {
    let index = find_part(tree, path)?;
    if path.is_empty() {
        return Some(index);
    }
    let part = tree.parts.get(index)?;
    if part.shape != Shape::Message {
        return None;
    }
    part.children.first().copied()
}

pub(crate) fn section<'a>(
    raw: &'a [u8],
    tree: &PartTree,
    spec: &SectionSpec,
) -> Option<Cow<'a, [u8]>> {
    let slice = |range: std::ops::Range<usize>| raw.get(range).map(Cow::Borrowed);
    match &spec.kind {
        SectionKind::Full => {
            if spec.part.is_empty() {
                return Some(Cow::Borrowed(raw));
            }
            let index = find_part(tree, &spec.part)?;
            slice(tree.parts.get(index)?.body_range())
        }
        SectionKind::Mime => {
            if spec.part.is_empty() {
                return None;
            }
            let index = find_part(tree, &spec.part)?;
            slice(tree.parts.get(index)?.header_range())
        }
        SectionKind::Header => {
            let index = message_part(tree, &spec.part)?;
            slice(tree.parts.get(index)?.header_range())
        }
        SectionKind::Text => {
            let index = message_part(tree, &spec.part)?;
            slice(tree.parts.get(index)?.body_range())
        }
        SectionKind::HeaderFields(names) => {
            let index = message_part(tree, &spec.part)?;
            Some(Cow::Owned(filter_header(
                raw,
                tree,
                index,
                names,
                true,
                spec.part.is_empty(),
            )))
        }
        SectionKind::HeaderFieldsNot(names) => {
            let index = message_part(tree, &spec.part)?;
            Some(Cow::Owned(filter_header(
                raw, tree, index, names, false, false,
            )))
        }
    }
}

fn filter_header(
    raw: &[u8],
    tree: &PartTree,
    index: usize,
    names: &[String],
    include: bool,
    always_end_with_blank_line: bool,
) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(part) = tree.parts.get(index) else {
        return out;
    };
    let header = read_standalone_header(raw, part.offset);
    for field in &header.fields {
        let name = field.name(raw);
        let listed = names
            .iter()
            .any(|wanted| wanted.as_bytes().eq_ignore_ascii_case(name));
        if listed == include {
            out.extend_from_slice(raw.get(field.lines.clone()).unwrap_or_default());
        }
    }
    if let Some(blank_line) = header.blank_line {
        out.extend_from_slice(raw.get(blank_line).unwrap_or_default());
    } else if always_end_with_blank_line {
        // Dovecot adds the missing blank line for the top-level header
        // (and ends a last field cut off by the end of input first).
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}
