//! The Content-* fields of one MIME part, as BODYSTRUCTURE reports them.
//!
//! Follows Dovecot: the first Content-Type, -Transfer-Encoding, -ID,
//! -Description, -MD5, -Language and -Location field counts, a later
//! Content-Disposition replaces an earlier one that had no parameters;
//! values are raw header text (RFC 2047 words stay encoded), parameter
//! names keep their case, RFC 2231 sections are merged but not decoded.
//! Parts that are not MIME (no MIME-Version/Content-Type at the top of a
//! message) have none of these fields.

use std::borrow::Cow;

use super::rfc822::{Rfc822Parser, Step};
use super::tree::{HeaderField, Part};

pub(crate) type Parameters = Vec<(Vec<u8>, Vec<u8>)>;

#[derive(Clone, Debug, Default)]
pub(crate) struct ContentFields {
    /// Content type and subtype as written (subtype empty when missing);
    /// `None` when there was no Content-Type.
    pub content_type: Option<(Vec<u8>, Vec<u8>)>,
    pub type_parameters: Parameters,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub transfer_encoding: Option<Vec<u8>>,
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<(Vec<u8>, Parameters)>,
    pub languages: Option<Vec<Vec<u8>>>,
    pub location: Option<Vec<u8>>,
}

/// Dovecot replaces NUL in these values with U+FFFD.
fn header_string(value: &[u8]) -> Vec<u8> {
    if !value.contains(&0) {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    for &byte in value {
        if byte == 0 {
            out.extend_from_slice(super::rfc822::NUL_REPLACEMENT);
        } else {
            out.push(byte);
        }
    }
    out
}

impl ContentFields {
    pub fn of_part(raw: &[u8], part: &Part) -> ContentFields {
        let mut fields = ContentFields::default();
        if !part.is_mime {
            return fields;
        }
        for header in &part.headers {
            let name = header.name(raw);
            if name.len() < 8 || !name[..8].eq_ignore_ascii_case(b"Content-") {
                continue;
            }
            let suffix = &name[8..];
            let value: Cow<'_, [u8]> = header.full_value(raw);
            if suffix.eq_ignore_ascii_case(b"Type") {
                if fields.content_type.is_none() {
                    fields.parse_content_type(&value);
                }
            } else if suffix.eq_ignore_ascii_case(b"Transfer-Encoding") {
                if fields.transfer_encoding.is_none() {
                    fields.transfer_encoding = parse_transfer_encoding(&value);
                }
            } else if suffix.eq_ignore_ascii_case(b"ID") {
                fields.id.get_or_insert_with(|| header_string(&value));
            } else if suffix.eq_ignore_ascii_case(b"MD5") {
                fields.md5.get_or_insert_with(|| header_string(&value));
            } else if suffix.eq_ignore_ascii_case(b"Description") {
                fields
                    .description
                    .get_or_insert_with(|| header_string(&value));
            } else if suffix.eq_ignore_ascii_case(b"Location") {
                fields.location.get_or_insert_with(|| header_string(&value));
            } else if suffix.eq_ignore_ascii_case(b"Language") {
                if fields.languages.is_none() {
                    fields.languages = parse_languages(&value);
                }
            } else if suffix.eq_ignore_ascii_case(b"Disposition") {
                let has_parameters = fields
                    .disposition
                    .as_ref()
                    .is_some_and(|(_, params)| !params.is_empty());
                if !has_parameters {
                    if let Some(disposition) = parse_disposition(&value) {
                        fields.disposition = Some(disposition);
                    }
                }
            }
        }
        fields
    }

    fn parse_content_type(&mut self, value: &[u8]) {
        let mut parser = Rfc822Parser::new(value);
        parser.skip_lwsp();
        let mut full = Vec::new();
        let step = parser.parse_content_type(&mut full);
        let (main, sub) = match full.iter().position(|&b| b == b'/') {
            Some(slash) => (full[..slash].to_vec(), full[slash + 1..].to_vec()),
            None => (full.clone(), Vec::new()),
        };
        self.content_type = Some((main, sub));
        if step == Step::Broken {
            // Broken: keep what was understood of the type, no parameters.
            return;
        }
        self.type_parameters = parser.parse_parameters();
    }
}

fn parse_transfer_encoding(value: &[u8]) -> Option<Vec<u8>> {
    let mut parser = Rfc822Parser::new(value);
    parser.skip_lwsp();
    let mut token = Vec::new();
    if parser.parse_mime_token(&mut token) != Step::Broken
        && parser.skip_lwsp() == Step::AtEnd
        && !token.is_empty()
    {
        Some(token)
    } else {
        None
    }
}

fn parse_disposition(value: &[u8]) -> Option<(Vec<u8>, Parameters)> {
    let mut parser = Rfc822Parser::new(value);
    parser.skip_lwsp();
    let mut token = Vec::new();
    if parser.parse_mime_token(&mut token) == Step::Broken {
        return None;
    }
    let parameters = parser.parse_parameters();
    Some((token, parameters))
}

/// `Content-Language: 1#Language-tag`, read as atoms separated by commas.
fn parse_languages(value: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut parser = Rfc822Parser::new(value);
    let mut languages = Vec::new();
    parser.skip_lwsp();
    loop {
        let mut atom = Vec::new();
        if parser.parse_atom(&mut atom) == Step::Broken {
            break;
        }
        languages.push(atom);
        if parser.at_end() || parser.peek() != b',' {
            break;
        }
        parser.advance();
        parser.skip_lwsp();
    }
    if languages.is_empty() {
        None
    } else {
        Some(languages)
    }
}

/// The Content-Transfer-Encoding as BINARY decoding understands it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// 7bit, 8bit, binary, or no field: bytes pass as they are.
    Identity,
    QuotedPrintable,
    Base64,
    Unknown,
}

/// Reads the transfer encoding for BINARY from a part's header fields.
/// Dovecot reads it with a plain header parse where the last
/// Content-Transfer-Encoding line wins and a folded value is not
/// understood; we do the same.
pub(crate) fn transfer_encoding_for_binary(raw: &[u8], fields: &[HeaderField]) -> TransferEncoding {
    let mut encoding = TransferEncoding::Identity;
    for header in fields {
        if !header.is_named(raw, b"Content-Transfer-Encoding") {
            continue;
        }
        let first_line_end = raw
            .get(header.value_start..header.value_end)
            .and_then(|value| value.windows(2).position(|w| w == b"\r\n"))
            .map(|offset| header.value_start + offset);
        if first_line_end.is_some() {
            // Continuation lines reach Dovecot's check as empty values.
            encoding = TransferEncoding::Unknown;
            continue;
        }
        encoding = classify_encoding(
            raw.get(header.value_start..header.value_end)
                .unwrap_or_default(),
        );
    }
    encoding
}

fn classify_encoding(value: &[u8]) -> TransferEncoding {
    let mut parser = Rfc822Parser::new(value);
    parser.skip_lwsp();
    let mut token = Vec::new();
    if parser.parse_mime_token(&mut token) == Step::More {
        parser.skip_lwsp();
        // RFC 2045 allows no parameters here; tolerate `;` like Dovecot.
        if parser.peek() != b';' {
            return TransferEncoding::Unknown;
        }
    }
    if token.eq_ignore_ascii_case(b"7bit")
        || token.eq_ignore_ascii_case(b"8bit")
        || token.eq_ignore_ascii_case(b"binary")
    {
        TransferEncoding::Identity
    } else if token.eq_ignore_ascii_case(b"base64") {
        TransferEncoding::Base64
    } else if token.eq_ignore_ascii_case(b"quoted-printable") {
        TransferEncoding::QuotedPrintable
    } else {
        TransferEncoding::Unknown
    }
}
