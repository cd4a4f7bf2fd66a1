//! BINARY[section] (RFC 3516): a part with its Content-Transfer-Encoding
//! undone.
//!
//! As in Dovecot: a leaf's body is decoded from base64 or quoted-printable
//! (7bit, 8bit and binary pass unchanged); a multipart or message/rfc822
//! part is rebuilt from its children, each child's header kept as is unless
//! the child was decoded, in which case its Content-Transfer-Encoding
//! fields are dropped and `Content-Transfer-Encoding: binary` is added
//! before the blank line. An encoding we cannot undo is an error
//! (`UNKNOWN-CTE`), and so is invalid base64 or quoted-printable data
//! (Dovecot refuses to serve it, too).

use super::content::{transfer_encoding_for_binary, TransferEncoding};
use super::tree::{read_standalone_header, PartTree};

/// Why BINARY cannot be answered for a part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BinaryError {
    /// The Content-Transfer-Encoding is not one we can decode: answer
    /// `NO [UNKNOWN-CTE]` (RFC 3516 section 4.3).
    UnknownTransferEncoding,
    /// The encoded data is not valid base64 / quoted-printable: Dovecot
    /// answers `NO [PARSE]`.
    InvalidEncodedData,
}

impl BinaryError {
    /// The response code of the tagged NO, as Dovecot sends it.
    pub fn response_code(&self) -> &'static str {
        match self {
            BinaryError::UnknownTransferEncoding => "UNKNOWN-CTE",
            BinaryError::InvalidEncodedData => "PARSE",
        }
    }
}

/// Dovecot's wording, so the tagged NO reads the same.
impl std::fmt::Display for BinaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinaryError::UnknownTransferEncoding => {
                f.write_str("Unknown Content-Transfer-Encoding")
            }
            BinaryError::InvalidEncodedData => f.write_str("Invalid data in MIME part"),
        }
    }
}

impl std::error::Error for BinaryError {}

/// Decoded content of a part for BINARY[...].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryContent {
    pub data: Vec<u8>,
    /// Send as literal8 (`~{n}`), as Dovecot does when a body was decoded
    /// or a part header or unencoded body holds NUL; otherwise a plain
    /// literal, with any NUL (e.g. in a preamble) sent as 0x80. Use
    /// [`write_binary_literal`](super::write_binary_literal).
    pub literal8: bool,
}

/// A part whose header or body BINARY changed, with the changed sizes.
#[derive(Clone, Debug)]
pub(crate) struct ConvertedPart {
    index: usize,
    header_size: Option<usize>,
    body_size: Option<usize>,
}

struct BinaryBuilder<'a> {
    raw: &'a [u8],
    tree: &'a PartTree,
    out: Vec<u8>,
    /// Raw bytes from here on are copied until the next decoded piece.
    copy_from: usize,
    /// Some leaf body was decoded.
    decoded_body: bool,
    has_nuls: bool,
    converted: Vec<ConvertedPart>,
}

fn build<'a>(
    raw: &'a [u8],
    tree: &'a PartTree,
    index: usize,
    include_header: bool,
) -> Result<BinaryBuilder<'a>, BinaryError> {
    let start = tree.parts.get(index).map(|p| p.offset).unwrap_or_default();
    let mut builder = BinaryBuilder {
        raw,
        tree,
        out: Vec::new(),
        copy_from: start,
        decoded_body: false,
        has_nuls: false,
        converted: Vec::new(),
    };
    builder.add_part(index, include_header, 0)?;
    Ok(builder)
}

/// BINARY[part]: the part (with its header for the whole message) decoded.
pub(crate) fn binary(
    raw: &[u8],
    tree: &PartTree,
    index: usize,
    include_header: bool,
) -> Result<BinaryContent, BinaryError> {
    let builder = build(raw, tree, index, include_header)?;
    if builder.decoded_body {
        return Ok(BinaryContent {
            data: builder.out,
            literal8: true,
        });
    }
    // Nothing was decoded: Dovecot sends the original bytes, limited to
    // the length the rebuilt text had (it differs only when a header was
    // rewritten to "binary" and the new field is shorter or longer).
    let Some(part) = tree.parts.get(index) else {
        return Ok(BinaryContent {
            data: Vec::new(),
            literal8: false,
        });
    };
    let start = if include_header {
        part.offset
    } else {
        part.offset + part.header_size
    };
    let end = start.saturating_add(builder.out.len()).min(raw.len());
    let data = raw.get(start..end).unwrap_or_default().to_vec();
    Ok(BinaryContent {
        data,
        literal8: builder.has_nuls,
    })
}

/// What decoding the whole message changes: BINARY.SIZE of any part is
/// derived from it. Computed once per message (see `ParsedMessage`).
pub(crate) type BinaryChanges = Result<Vec<ConvertedPart>, BinaryError>;

pub(crate) fn binary_changes(raw: &[u8], tree: &PartTree) -> BinaryChanges {
    build(raw, tree, 0, true).map(|builder| builder.converted)
}

/// BINARY.SIZE[part], computed as Dovecot computes it: the whole message is
/// decoded (so any undecodable part makes it fail), then the part's size is
/// adjusted by the size changes of the parts inside it. Parts whose header
/// was rewritten but whose body was not decoded (a multipart or
/// message/rfc822 with a base64 encoding, an empty encoded body) count
/// with an empty body; the arithmetic wraps like Dovecot's unsigned one.
///
/// Dovecot stores mail as it came; for a file with bare LF line ends its
/// computation mixes file offsets with CRLF sizes and can count a later
/// sibling part in. We only see CRLF text, so for such files our (correct)
/// answer differs from Dovecot's; RFC 3516 section 4.2 wants the size of
/// the decoded data, which is what we give.
pub(crate) fn binary_size(
    tree: &PartTree,
    changes: &[ConvertedPart],
    index: usize,
    include_header: bool,
) -> u64 {
    let Some(part) = tree.parts.get(index) else {
        return 0;
    };
    let as_u64 = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
    let range = part.offset..part.offset + part.header_size + part.body_size;
    let mut size = as_u64(part.header_size + part.body_size);
    let mut own_header_size = None;
    for converted in changes {
        let Some(changed) = tree.parts.get(converted.index) else {
            continue;
        };
        if !range.contains(&changed.offset) {
            continue;
        }
        let header_size = converted.header_size.unwrap_or(changed.header_size);
        if changed.offset == part.offset {
            own_header_size = Some(header_size);
        }
        size = size
            .wrapping_sub(as_u64(changed.header_size + changed.body_size))
            .wrapping_add(as_u64(header_size + converted.body_size.unwrap_or(0)));
    }
    if !include_header {
        size = size.wrapping_sub(as_u64(own_header_size.unwrap_or(part.header_size)));
    }
    size
}

impl BinaryBuilder<'_> {
    fn copy_until(&mut self, end: usize) {
        if end > self.copy_from {
            self.out
                .extend_from_slice(self.raw.get(self.copy_from..end).unwrap_or_default());
        }
        self.copy_from = self.copy_from.max(end);
    }

    fn record(&mut self, index: usize, header_size: Option<usize>, body_size: Option<usize>) {
        // A part's header and body are recorded in the same add_part call,
        // so only the last entry can be the same part.
        match self.converted.last_mut().filter(|c| c.index == index) {
            Some(existing) => {
                existing.header_size = header_size.or(existing.header_size);
                existing.body_size = body_size.or(existing.body_size);
            }
            None => self.converted.push(ConvertedPart {
                index,
                header_size,
                body_size,
            }),
        }
    }

    fn add_part(
        &mut self,
        index: usize,
        include_header: bool,
        depth: usize,
    ) -> Result<(), BinaryError> {
        let Some(part) = self.tree.parts.get(index) else {
            return Ok(());
        };
        // Dovecot reads a part's header here on its own, up to the first
        // blank line even past the part's end (see tree::read_standalone_header),
        // so a header cut short by a boundary takes the next part's fields.
        let standalone = read_standalone_header(self.raw, part.offset);
        let encoding = transfer_encoding_for_binary(self.raw, &standalone.fields);
        if encoding == TransferEncoding::Unknown {
            return Err(BinaryError::UnknownTransferEncoding);
        }
        let header_end = standalone
            .blank_line
            .as_ref()
            .map(|blank| blank.end)
            .or_else(|| standalone.fields.last().map(|field| field.lines.end))
            .unwrap_or(part.offset);
        if self
            .raw
            .get(part.offset..header_end)
            .unwrap_or_default()
            .contains(&0)
        {
            self.has_nuls = true;
        }
        let header = part.header_range();
        let decodes = matches!(
            encoding,
            TransferEncoding::Base64 | TransferEncoding::QuotedPrintable
        );
        if include_header {
            if decodes {
                self.copy_until(part.offset);
                let before = self.out.len();
                self.write_rewritten_header(part.offset);
                let rewritten = self.out.len() - before;
                self.record(index, Some(rewritten), None);
            } else {
                self.copy_until(header.end);
            }
        }
        self.copy_from = header.end;
        let body = part.body_range();

        if !part.children.is_empty() && depth < 200 {
            for &child in &part.children {
                self.add_part(child, true, depth + 1)?;
            }
            self.copy_until(body.end);
            return Ok(());
        }
        if body.is_empty() {
            self.copy_from = body.end;
            return Ok(());
        }
        let encoded = self.raw.get(body.clone()).unwrap_or_default();
        let decoded = match encoding {
            TransferEncoding::Base64 => {
                Some(decode_base64(encoded).ok_or(BinaryError::InvalidEncodedData)?)
            }
            TransferEncoding::QuotedPrintable => {
                Some(decode_quoted_printable(encoded).ok_or(BinaryError::InvalidEncodedData)?)
            }
            TransferEncoding::Identity | TransferEncoding::Unknown => None,
        };
        match decoded {
            Some(decoded) => {
                self.decoded_body = true;
                self.record(index, None, Some(decoded.len()));
                self.out.extend_from_slice(&decoded);
            }
            None => {
                if encoded.contains(&0) {
                    self.has_nuls = true;
                }
                self.out.extend_from_slice(encoded);
            }
        }
        self.copy_from = body.end;
        Ok(())
    }

    /// The header at `offset` (read up to its blank line, as Dovecot's
    /// header filter does) without Content-Transfer-Encoding fields, with
    /// `Content-Transfer-Encoding: binary` before the blank line.
    fn write_rewritten_header(&mut self, offset: usize) {
        let header = read_standalone_header(self.raw, offset);
        for field in &header.fields {
            if !field.is_named(self.raw, b"Content-Transfer-Encoding") {
                self.out
                    .extend_from_slice(self.raw.get(field.lines.clone()).unwrap_or_default());
            }
        }
        if let Some(blank_line) = header.blank_line {
            self.out
                .extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
            self.out
                .extend_from_slice(self.raw.get(blank_line).unwrap_or_default());
        }
    }
}

/// Value of each byte in the base64 alphabet; `INVALID` elsewhere,
/// `SKIPPED` for white space and line breaks.
const BASE64_TABLE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut index = 0;
    while index < alphabet.len() {
        table[alphabet[index] as usize] = index as u8;
        index += 1;
    }
    table[b' ' as usize] = SKIPPED;
    table[b'\t' as usize] = SKIPPED;
    table[b'\r' as usize] = SKIPPED;
    table[b'\n' as usize] = SKIPPED;
    table
};
const INVALID: u8 = 0xFF;
const SKIPPED: u8 = 0xFE;

/// Strict base64 as Dovecot decodes it: white space and line breaks are
/// skipped, anything else outside the alphabet is an error, padding is
/// required and nothing but white space may follow it.
pub(crate) fn decode_base64(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut filled = 0;
    let mut padding = 0;
    for &byte in encoded {
        let value = BASE64_TABLE[usize::from(byte)];
        if value == SKIPPED {
            continue;
        }
        if byte == b'=' {
            if filled < 2 {
                return None;
            }
            padding += 1;
            filled += 1;
            if padding > 2 {
                return None;
            }
            if filled == 4 {
                let bits = (u32::from(quad[0]) << 18)
                    | (u32::from(quad[1]) << 12)
                    | (u32::from(quad[2]) << 6);
                out.push((bits >> 16) as u8);
                if padding == 1 {
                    out.push((bits >> 8) as u8);
                }
                filled = 0;
            }
            continue;
        }
        if padding > 0 || value == INVALID {
            return None;
        }
        quad[filled] = value;
        filled += 1;
        if filled == 4 {
            let bits = (u32::from(quad[0]) << 18)
                | (u32::from(quad[1]) << 12)
                | (u32::from(quad[2]) << 6)
                | u32::from(quad[3]);
            out.extend_from_slice(&[(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            filled = 0;
        }
    }
    if filled != 0 {
        return None;
    }
    Some(out)
}

/// Quoted-printable as Dovecot decodes it: soft line breaks removed,
/// trailing white space before a line break dropped, line breaks written as
/// CRLF, lowercase hex accepted; `=` not followed by two hex digits (or by
/// a line break) is an error.
pub(crate) fn decode_quoted_printable(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut index = 0;
    while index < encoded.len() {
        let byte = encoded[index];
        match byte {
            b'=' => {
                // Soft line break: "=" [white space] CRLF.
                let mut after = index + 1;
                while after < encoded.len() && matches!(encoded[after], b' ' | b'\t') {
                    after += 1;
                }
                match encoded.get(after) {
                    Some(b'\n') => {
                        index = after + 1;
                        continue;
                    }
                    Some(b'\r') if encoded.get(after + 1) == Some(&b'\n') => {
                        index = after + 2;
                        continue;
                    }
                    None if after > index + 1 => return None,
                    _ => {}
                }
                let high = encoded
                    .get(index + 1)
                    .and_then(|&b| (b as char).to_digit(16))?;
                let low = encoded
                    .get(index + 2)
                    .and_then(|&b| (b as char).to_digit(16))?;
                out.push((high * 16 + low) as u8);
                index += 3;
            }
            b' ' | b'\t' => {
                let mut after = index;
                while after < encoded.len() && matches!(encoded[after], b' ' | b'\t') {
                    after += 1;
                }
                let at_line_end = match encoded.get(after) {
                    Some(b'\n') => true,
                    Some(b'\r') => encoded.get(after + 1) == Some(&b'\n'),
                    Some(_) => false,
                    None => true,
                };
                if !at_line_end {
                    out.extend_from_slice(&encoded[index..after]);
                }
                index = after;
            }
            b'\r' => {
                if encoded.get(index + 1) == Some(&b'\n') {
                    out.extend_from_slice(b"\r\n");
                    index += 2;
                } else {
                    return None;
                }
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                index += 1;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_strict() {
        assert_eq!(
            decode_base64(b"aGVs\r\nbG8=\r\n").as_deref(),
            Some(&b"hello"[..])
        );
        assert_eq!(decode_base64(b"aGk=").as_deref(), Some(&b"hi"[..]));
        assert_eq!(decode_base64(b"aA==").as_deref(), Some(&b"h"[..]));
        assert_eq!(decode_base64(b"").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64(b"aGVsbG8"), None);
        assert_eq!(decode_base64(b"aGk=aGk="), None);
        assert_eq!(decode_base64(b"a!Vs"), None);
    }

    #[test]
    fn quoted_printable_like_dovecot() {
        assert_eq!(
            decode_quoted_printable(b"a=3Db=\r\nc  \r\nd").as_deref(),
            Some(&b"a=bc\r\nd"[..])
        );
        assert_eq!(
            decode_quoted_printable(b"caf=c3=a9").as_deref(),
            Some("café".as_bytes())
        );
        assert_eq!(decode_quoted_printable(b"a=zz"), None);
        assert_eq!(
            decode_quoted_printable(b"trailing =  \r\nx").as_deref(),
            Some(&b"trailing x"[..])
        );
        assert_eq!(decode_quoted_printable(b"lone\rcr"), None);
        assert_eq!(decode_quoted_printable(b"end="), None);
    }
}
