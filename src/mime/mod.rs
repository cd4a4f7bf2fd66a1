//! IMAP's view of one MIME message: given the raw RFC 5322 bytes of a
//! message, everything an IMAP4rev1 server (RFC 3501, RFC 3516 BINARY)
//! answers about it: ENVELOPE, BODY, BODYSTRUCTURE, BODY[section],
//! BINARY[section], BINARY.SIZE, and the rendering of IMAP strings.
//!
//! The answers are Dovecot's (2.3 series, the IMAP server most clients are
//! tested against, and the reference of the differential tests): where the
//! RFCs leave room, or the message is broken, this module does what
//! Dovecot does. Each submodule says which of its choices it copies.
//!
//! Line ends: Dovecot serves mail with CRLF line ends even when it stores
//! bare LF, and counts sizes that way. [`ParsedMessage::parse`] therefore
//! turns every bare LF into CRLF first; [`ParsedMessage::raw`] is that CRLF
//! text, which is what BODY[] must send and what RFC822.SIZE counts.
//!
//! Everything here is sans-I/O and total: any input bytes give an answer,
//! no input can panic.

mod address;
mod binary;
mod bodystructure;
mod content;
mod envelope;
mod imap_string;
mod rfc822;
mod section;
mod tree;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::OnceLock;

use bytes::Bytes;

pub use binary::{BinaryContent, BinaryError};
pub use imap_string::{
    is_astring_char, write_astring, write_binary_literal, write_body_literal, write_nstring,
    write_nstring_without_newlines, write_string, write_string_for_humans,
};
pub use section::{SectionKind, SectionSpec};

use tree::{parse_tree, PartTree};

/// One message, parsed once, answering every FETCH item about it.
#[derive(Clone, Debug)]
pub struct ParsedMessage {
    raw: Bytes,
    tree: PartTree,
    /// Decoding the whole message for BINARY.SIZE is the costly part of a
    /// FETCH of many BINARY.SIZE items; done at most once.
    binary_changes: OnceLock<binary::BinaryChanges>,
}

impl ParsedMessage {
    /// Parses a message. Never fails: broken MIME still gives the answers
    /// Dovecot gives for it. Bare LF line ends become CRLF (see the module
    /// documentation).
    pub fn parse(raw: impl Into<Bytes>) -> ParsedMessage {
        let raw = with_crlf_line_ends(raw.into());
        let tree = parse_tree(&raw);
        ParsedMessage {
            raw,
            tree,
            binary_changes: OnceLock::new(),
        }
    }

    /// The message as IMAP serves it (CRLF line ends): BODY[] / RFC822.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The message as shared bytes, for caches.
    pub fn raw_bytes(&self) -> Bytes {
        self.raw.clone()
    }

    /// RFC822.SIZE: the length of [`raw`](Self::raw).
    pub fn size(&self) -> usize {
        self.raw.len()
    }

    /// Writes the ENVELOPE, parentheses included.
    pub fn envelope(&self, out: &mut Vec<u8>) {
        if let Some(root) = self.tree.parts.first() {
            envelope::write_envelope(out, &self.raw, root);
        }
    }

    /// Writes BODYSTRUCTURE (`extensible`) or BODY, parentheses included.
    pub fn body_structure(&self, out: &mut Vec<u8>, extensible: bool) {
        out.push(b'(');
        bodystructure::write_part(out, &self.raw, &self.tree, 0, extensible);
        out.push(b')');
    }

    /// The contents of BODY[section]. `None` when the section does not
    /// exist in this message (a missing part, or HEADER/TEXT of a part that
    /// is not message/rfc822); Dovecot then answers an empty string.
    /// Partial fetches (`<offset.length>`) slice the result.
    pub fn section(&self, section: &SectionSpec) -> Option<Cow<'_, [u8]>> {
        section::section(&self.raw, &self.tree, section)
    }

    /// The contents of BINARY[part] (RFC 3516); an empty path is the whole
    /// message. `Ok(None)` when the part does not exist; BINARY.SIZE is the
    /// length of the data.
    pub fn binary(&self, part: &[u32]) -> Result<Option<BinaryContent>, BinaryError> {
        let Some(index) = section::find_part(&self.tree, part) else {
            return Ok(None);
        };
        binary::binary(&self.raw, &self.tree, index, part.is_empty()).map(Some)
    }

    /// Every part number this message has, depth first (`[1]`, `[1, 1]`,
    /// `[2]`...), as BODY[n] and BINARY[n] address them. A single-part
    /// message has `[1]`; the enclosed message of a message/rfc822 part `n`
    /// contributes `n.1`... (its body, or its parts when multipart).
    pub fn part_numbers(&self) -> Vec<Vec<u32>> {
        let mut numbers = Vec::new();
        let mut path = Vec::new();
        self.collect_part_numbers(0, &mut path, &mut numbers, 0);
        numbers
    }

    /// Adds the numbers below the message (or multipart) at `index`.
    fn collect_part_numbers(
        &self,
        index: usize,
        path: &mut Vec<u32>,
        numbers: &mut Vec<Vec<u32>>,
        depth: usize,
    ) {
        let Some(part) = self.tree.parts.get(index) else {
            return;
        };
        if depth > 256 {
            return;
        }
        let children: Vec<usize> = if part.shape == tree::Shape::Multipart {
            part.children.clone()
        } else {
            vec![index]
        };
        for (position, child) in children.into_iter().enumerate() {
            let number = u32::try_from(position + 1).unwrap_or(u32::MAX);
            path.push(number);
            numbers.push(path.clone());
            if let Some(child_part) = self.tree.parts.get(child) {
                match child_part.shape {
                    tree::Shape::Multipart if child != index => {
                        self.collect_part_numbers(child, path, numbers, depth + 1)
                    }
                    tree::Shape::Message => {
                        if let Some(&enclosed) = child_part.children.first() {
                            self.collect_part_numbers(enclosed, path, numbers, depth + 1);
                        }
                    }
                    _ => {}
                }
            }
            path.pop();
        }
    }

    /// BINARY.SIZE[part] (RFC 3516), as Dovecot computes it (which differs
    /// from the length of BINARY[part] when a multipart or message/rfc822
    /// part claims a base64 / quoted-printable encoding). `Ok(None)` when
    /// the part does not exist. Fails when any part of the message cannot
    /// be decoded.
    pub fn binary_size(&self, part: &[u32]) -> Result<Option<u64>, BinaryError> {
        let Some(index) = section::find_part(&self.tree, part) else {
            return Ok(None);
        };
        let changes = self
            .binary_changes
            .get_or_init(|| binary::binary_changes(&self.raw, &self.tree))
            .as_ref()
            .map_err(Clone::clone)?;
        Ok(Some(binary::binary_size(
            &self.tree,
            changes,
            index,
            part.is_empty(),
        )))
    }

    /// Values of the top-level header fields called `name` (case-insensitive),
    /// in order, raw (RFC 2047 words not decoded) and unfolded (line breaks
    /// removed), for SEARCH HEADER/FROM/SUBJECT...
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Cow<'a, [u8]>> + 'a {
        let raw: &'a [u8] = &self.raw;
        self.tree
            .parts
            .first()
            .map(|root| root.headers.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(move |field| field.is_named(raw, name.as_bytes()))
            .map(move |field| {
                let value = raw
                    .get(field.value_start..field.value_end)
                    .unwrap_or_default();
                if value.contains(&b'\n') {
                    Cow::Owned(
                        value
                            .iter()
                            .copied()
                            .filter(|&b| b != b'\r' && b != b'\n')
                            .collect(),
                    )
                } else {
                    Cow::Borrowed(value)
                }
            })
    }
}

/// Adds a CR before every LF that lacks one, as Dovecot does when it
/// serves mail; keeps the buffer when nothing changes.
/// The message with every bare LF turned into CRLF, as IMAP serves it; the same bytes when
/// there is none. The hub stores bodies this way, so BODY[] and RFC822.SIZE always agree.
pub fn with_crlf_line_ends(raw: Bytes) -> Bytes {
    let missing = raw
        .iter()
        .enumerate()
        .filter(|&(index, &byte)| byte == b'\n' && (index == 0 || raw[index - 1] != b'\r'))
        .count();
    if missing == 0 {
        return raw;
    }
    let mut converted = Vec::with_capacity(raw.len() + missing);
    let mut previous = 0u8;
    for &byte in raw.iter() {
        if byte == b'\n' && previous != b'\r' {
            converted.push(b'\r');
        }
        converted.push(byte);
        previous = byte;
    }
    Bytes::from(converted)
}
