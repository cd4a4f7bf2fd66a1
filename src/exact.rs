//! Owns the exact record of an appended message (issue 11): what the uid store keeps so that
//! IMAP gives back the literal a client APPENDed, byte for byte, although Graph holds the message
//! only as JSON and attachments (and gives back MIME it generates itself).
//!
//! Design:
//! - At APPEND the literal is read with mail-parser, as `graph::compose` reads it. Each attachment
//!   part that Graph will hold as a file attachment, and whose encoded body is at least
//!   [`MIN_REFERENCED`] bytes, is a *candidate*: its body is cut out of the literal and replaced
//!   by a reference, when re-encoding its decoded bytes reproduces the encoded bytes exactly:
//!   base64 with the client's line length, line end (CRLF or LF) and final line end, or the
//!   bytes themselves (7bit, 8bit, binary; an attached message). Anything else (quoted-printable,
//!   odd base64, text bodies, headers, boundaries, preambles and epilogues, small parts) stays
//!   in the record as it was written.
//! - A reference names the attachment as Graph holds it: its id in the created message (a
//!   hint: a COPY has other attachment ids), its name and content type (to find it again), and
//!   the decoded length and SHA-256 of its content, checked whenever it is read back. The record
//!   also holds the literal's length and SHA-256, checked after each rebuild.
//! - A record with no reference is the literal itself ([`StoredExact::Literal`]): never more
//!   than the message. A voice message (2.8 MB of MP3 in base64) keeps about its header
//!   fields, text part and boundaries: well under 1 %.
//! - Records are keyed by (mailbox, Graph message id): a MOVE keeps the immutable id and so the
//!   record; a COPY gives the copy's id a copy of the record; EXPUNGE (soft or hard) removes it.
//! - Reading (`MailboxHub::bodies`): a message with a record is rebuilt from it and its
//!   attachments' raw contents (`GET …/attachments/{id}/$value`,
//!   https://learn.microsoft.com/en-us/graph/api/attachment-get, "Get the raw contents of a file
//!   or item attachment"), one attachment at a time. When the bytes cannot be rebuilt (an
//!   attachment removed in Outlook, content changed), the record becomes
//!   [`StoredExact::Superseded`]: the old UID is never again shown with other bytes (FETCH of
//!   it fails), and the message is shown as Graph holds it under a new UID.
//! - Between Graph's creation of an appended message and its record, the record is
//!   [`StoredExact::Pending`]: another instance that sees the message in a delta round then
//!   answers a FETCH of it with NO rather than with Graph's bytes (which would be a second body
//!   under its UID). A record pending for long (the instance died half-way) no longer holds.

use base64::Engine;
use mail_parser::{Encoding, MessageParser};
use sha2::{Digest, Sha256};

use crate::graph::compose::attachment_label;

/// Encoded bodies shorter than this stay inline: a reference costs a Graph request each time
/// the message is read, and some 150 bytes of record.
pub const MIN_REFERENCED: usize = 8 * 1024;

/// Bytes taken at once for a rebuilt literal (Graph's messages are at most 150 MB).
const MAX_PREALLOCATED: u64 = 160 * 1024 * 1024;

/// The key under which an APPEND in progress marks the message it is making, before Graph
/// gives its id: its folder and receivedDateTime (the INTERNALDATE, to the second), which every
/// instance knows of a message it sees. A body of a message without a record whose key is
/// pending is not given until the APPEND ends.
pub fn pending_key(folder_id: &str, received: chrono::DateTime<chrono::Utc>) -> String {
    format!("pending:{folder_id}:{}", received.timestamp())
}

/// What the uid store holds for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredExact {
    /// The literal itself: nothing in it was worth a reference.
    Literal(Vec<u8>),
    /// The literal with large parts by reference.
    Parts(ExactRecord),
    /// The bytes could not be rebuilt: in `folder_id`, UIDs up to `uid` showed the appended
    /// literal and must never show anything else. The message has (or gets) a new UID there
    /// and is shown as Graph holds it.
    Superseded { folder_id: String, uid: u32 },
    /// The message is being APPENDed (created in Graph, its record not written yet), since
    /// `since` (Unix seconds): no instance shows Graph's bytes for it meanwhile.
    Pending { since: i64 },
}

/// The appended literal, as inline bytes and references to attachments, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactRecord {
    /// Length of the literal (RFC822.SIZE).
    pub length: u64,
    /// SHA-256 of the literal.
    pub digest: [u8; 32],
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Inline(Vec<u8>),
    Part(PartRef),
}

/// An encoded part body kept as the attachment Graph holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartRef {
    /// The attachment's id in the message the record was made for (or copied from).
    pub attachment_id: String,
    /// Name and content type as Graph was given them, to find the attachment in a copy.
    pub name: String,
    pub content_type: String,
    pub encoding: PartEncoding,
    pub decoded_length: u64,
    pub decoded_digest: [u8; 32],
}

/// How a part's decoded bytes were written in the literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartEncoding {
    /// As they are (7bit, 8bit, binary, an attached message).
    Identity,
    /// Base64 (RFC 2045 6.8) in lines of `line_length` characters (0: one line), each ended
    /// by CRLF or LF, the last one too when `final_break`.
    Base64 {
        line_length: u32,
        crlf: bool,
        final_break: bool,
    },
}

/// Why a record could not be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("attachment {0:?} is no longer in the message")]
    AttachmentGone(String),
    #[error("attachment {0:?} no longer holds what was appended")]
    AttachmentChanged(String),
    #[error("the rebuilt message differs from what was appended")]
    Literal,
}

/// The stored form is not one this code wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an exact record that does not decode: {0}")]
pub struct Undecodable(&'static str);

/// A part of the literal that may be kept by reference.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The encoded body's bytes in the literal.
    pub range: std::ops::Range<usize>,
    pub name: String,
    pub content_type: String,
    pub encoding: PartEncoding,
    pub decoded_length: u64,
    pub decoded_digest: [u8; 32],
}

/// An attachment of a message as Graph lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedAttachment {
    pub id: String,
    pub name: String,
    pub content_type: String,
    /// A fileAttachment (an item attachment's raw contents are MIME Graph generates).
    pub is_file: bool,
}

/// The attachment parts of `literal` that could be kept by reference: large enough, and
/// re-encoded exactly from their decoded bytes.
pub fn candidates(literal: &[u8]) -> Vec<Candidate> {
    let Some(parsed) = MessageParser::default().parse(literal) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for part in parsed.attachments() {
        let range = part.offset_body as usize..part.offset_end as usize;
        let Some(encoded) = literal.get(range.clone()) else {
            continue;
        };
        if encoded.len() < MIN_REFERENCED {
            continue;
        }
        let decoded = part.contents();
        let encoding = match part.encoding {
            Encoding::Base64 => match base64_layout(encoded) {
                Some(encoding) => encoding,
                None => continue,
            },
            Encoding::None => PartEncoding::Identity,
            Encoding::QuotedPrintable => continue,
        };
        if !encodes_to(decoded, encoding, encoded) {
            continue;
        }
        let (name, content_type) = attachment_label(part);
        found.push(Candidate {
            range,
            name,
            content_type,
            encoding,
            decoded_length: decoded.len() as u64,
            decoded_digest: Sha256::digest(decoded).into(),
        });
    }
    found
}

/// Whether `decoded` is the candidate's content.
pub fn digest_matches(candidate: &Candidate, decoded: &[u8]) -> bool {
    decoded.len() as u64 == candidate.decoded_length
        && <[u8; 32]>::from(Sha256::digest(decoded)) == candidate.decoded_digest
}

/// The attachment each candidate is, by name and content type in order (a name used twice
/// matches in turn); only file attachments. None where Graph lists none.
pub fn match_attachments(
    candidates: &[Candidate],
    listed: &[ListedAttachment],
) -> Vec<Option<String>> {
    let mut taken = vec![false; listed.len()];
    candidates
        .iter()
        .map(|candidate| {
            let at = listed.iter().enumerate().position(|(i, a)| {
                !taken[i] && a.is_file && same_label(a, &candidate.name, &candidate.content_type)
            })?;
            taken[at] = true;
            Some(listed[at].id.clone())
        })
        .collect()
}

fn same_label(listed: &ListedAttachment, name: &str, content_type: &str) -> bool {
    listed.name == name && listed.content_type.eq_ignore_ascii_case(content_type)
}

/// The record of `literal` with each candidate whose attachment is known (`attachment_ids`,
/// one per candidate) by reference.
pub fn record(
    literal: &[u8],
    candidates: &[Candidate],
    attachment_ids: &[Option<String>],
) -> StoredExact {
    let mut segments = Vec::new();
    let mut at = 0;
    for (candidate, id) in candidates.iter().zip(attachment_ids) {
        let Some(id) = id else { continue };
        if candidate.range.start < at
            || candidate.range.start > candidate.range.end
            || candidate.range.end > literal.len()
        {
            continue;
        }
        if candidate.range.start > at {
            segments.push(Segment::Inline(literal[at..candidate.range.start].to_vec()));
        }
        segments.push(Segment::Part(PartRef {
            attachment_id: id.clone(),
            name: candidate.name.clone(),
            content_type: candidate.content_type.clone(),
            encoding: candidate.encoding,
            decoded_length: candidate.decoded_length,
            decoded_digest: candidate.decoded_digest,
        }));
        at = candidate.range.end;
    }
    if segments.is_empty() {
        return StoredExact::Literal(literal.to_vec());
    }
    if at < literal.len() {
        segments.push(Segment::Inline(literal[at..].to_vec()));
    }
    StoredExact::Parts(ExactRecord {
        length: literal.len() as u64,
        digest: Sha256::digest(literal).into(),
        segments,
    })
}

impl ExactRecord {
    /// The references, in order.
    pub fn parts(&self) -> impl Iterator<Item = &PartRef> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Part(part) => Some(part),
            Segment::Inline(_) => None,
        })
    }

    /// The attachment of a listing that `part` (the `nth` reference with its name and type)
    /// is, when its id is not listed (a copy).
    pub fn find_again<'l>(
        &self,
        part: &PartRef,
        listed: &'l [ListedAttachment],
    ) -> Option<&'l ListedAttachment> {
        if let Some(same) = listed.iter().find(|a| a.id == part.attachment_id) {
            return Some(same);
        }
        let nth = self
            .parts()
            .take_while(|p| !std::ptr::eq(*p, part))
            .filter(|p| p.name == part.name && p.content_type == part.content_type)
            .count();
        listed
            .iter()
            .filter(|a| a.is_file && same_label(a, &part.name, &part.content_type))
            .nth(nth)
    }

    /// Bytes the uid store holds for it.
    pub fn stored_len(&self) -> usize {
        StoredExact::Parts(self.clone()).encode().1.len()
    }
}

/// Rebuilds a literal from its record: inline segments and each part's decoded bytes in turn,
/// checked as they come, so only the literal and one part are held at once.
pub struct Rebuild {
    out: Vec<u8>,
    hasher: Sha256,
}

impl Rebuild {
    pub fn new(record: &ExactRecord) -> Rebuild {
        Rebuild {
            // The length is the store's word: room for more than Graph's largest message is
            // not taken on it.
            out: Vec::with_capacity(
                usize::try_from(record.length.min(MAX_PREALLOCATED)).unwrap_or(0),
            ),
            hasher: Sha256::new(),
        }
    }

    pub fn inline(&mut self, bytes: &[u8]) {
        self.push(bytes);
    }

    /// Adds a part from its decoded bytes, after checking they are what was appended.
    pub fn part(&mut self, part: &PartRef, decoded: &[u8]) -> Result<(), Mismatch> {
        if decoded.len() as u64 != part.decoded_length
            || <[u8; 32]>::from(Sha256::digest(decoded)) != part.decoded_digest
        {
            return Err(Mismatch::AttachmentChanged(part.name.clone()));
        }
        encode(decoded, part.encoding, |piece| {
            self.out.extend_from_slice(piece);
            self.hasher.update(piece);
        });
        Ok(())
    }

    fn push(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.hasher.update(bytes);
    }

    /// The literal, once its length and digest are the record's.
    pub fn finish(self, record: &ExactRecord) -> Result<Vec<u8>, Mismatch> {
        if self.out.len() as u64 != record.length
            || <[u8; 32]>::from(self.hasher.finalize()) != record.digest
        {
            return Err(Mismatch::Literal);
        }
        Ok(self.out)
    }
}

/// The line layout of a base64 body, when it is regular: every line but the last
/// `line_length` long, one kind of line end throughout.
fn base64_layout(encoded: &[u8]) -> Option<PartEncoding> {
    let first_break = encoded.iter().position(|&b| b == b'\n');
    let (line_length, crlf) = match first_break {
        None => (0, false),
        Some(at) => {
            let crlf = at > 0 && encoded[at - 1] == b'\r';
            (at - usize::from(crlf), crlf)
        }
    };
    let final_break = first_break.is_some()
        && if crlf {
            encoded.ends_with(b"\r\n")
        } else {
            encoded.ends_with(b"\n") && !encoded.ends_with(b"\r\n")
        };
    // A single line ending in a break: the line's length is not known from a second one.
    let line_length = match first_break {
        Some(at) if at + 1 == encoded.len() => 0,
        _ => line_length,
    };
    Some(PartEncoding::Base64 {
        line_length: u32::try_from(line_length).ok()?,
        crlf,
        final_break,
    })
}

/// Whether `decoded`, encoded so, is `encoded`: compared piece by piece as it is encoded, with
/// no copy of the whole.
fn encodes_to(decoded: &[u8], encoding: PartEncoding, encoded: &[u8]) -> bool {
    let mut rest = encoded;
    let mut same = true;
    encode(decoded, encoding, |piece| {
        same = same && rest.starts_with(piece);
        if same {
            rest = &rest[piece.len()..];
        }
    });
    same && rest.is_empty()
}

/// Gives `decoded` encoded so to `sink`, a line (or line end) at a time.
fn encode(decoded: &[u8], encoding: PartEncoding, mut sink: impl FnMut(&[u8])) {
    let PartEncoding::Base64 {
        line_length,
        crlf,
        final_break,
    } = encoding
    else {
        sink(decoded);
        return;
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let line_end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let line_length = line_length as usize;
    if line_length == 0 {
        sink(engine.encode(decoded).as_bytes());
    } else if line_length % 4 == 0 {
        // Whole quanta per line: each line is encoded on its own, with no copy of the whole.
        let mut line = vec![0u8; line_length.min(decoded.len().div_ceil(3) * 4)];
        for (i, chunk) in decoded.chunks(line_length / 4 * 3).enumerate() {
            if i > 0 {
                sink(line_end);
            }
            let written = engine.encode_slice(chunk, &mut line).unwrap_or(0);
            sink(&line[..written]);
        }
    } else {
        let text = engine.encode(decoded);
        for (i, line) in text.as_bytes().chunks(line_length).enumerate() {
            if i > 0 {
                sink(line_end);
            }
            sink(line);
        }
    }
    if final_break {
        sink(line_end);
    }
}

/// Kinds of stored records (the store's `kind` column).
const KIND_LITERAL: i16 = 1;
const KIND_PARTS: i16 = 2;
const KIND_SUPERSEDED: i16 = 3;
const KIND_PENDING: i16 = 4;

impl StoredExact {
    /// The stored kind of a record of parts.
    pub const PARTS: i16 = KIND_PARTS;

    /// The store's (kind, data) of this record.
    pub fn encode(&self) -> (i16, Vec<u8>) {
        match self {
            StoredExact::Literal(bytes) => (KIND_LITERAL, bytes.clone()),
            StoredExact::Pending { since } => (KIND_PENDING, since.to_be_bytes().to_vec()),
            StoredExact::Superseded { folder_id, uid } => {
                let mut out = Vec::new();
                out.extend_from_slice(&uid.to_be_bytes());
                out.extend_from_slice(folder_id.as_bytes());
                (KIND_SUPERSEDED, out)
            }
            StoredExact::Parts(record) => {
                let mut out = Vec::new();
                out.extend_from_slice(&record.length.to_be_bytes());
                out.extend_from_slice(&record.digest);
                for segment in &record.segments {
                    match segment {
                        Segment::Inline(bytes) => {
                            out.push(0);
                            put_bytes(&mut out, bytes);
                        }
                        Segment::Part(part) => {
                            out.push(1);
                            put_bytes(&mut out, part.attachment_id.as_bytes());
                            put_bytes(&mut out, part.name.as_bytes());
                            put_bytes(&mut out, part.content_type.as_bytes());
                            match part.encoding {
                                PartEncoding::Identity => out.push(0),
                                PartEncoding::Base64 {
                                    line_length,
                                    crlf,
                                    final_break,
                                } => {
                                    out.push(1 | u8::from(crlf) << 1 | u8::from(final_break) << 2);
                                    out.extend_from_slice(&line_length.to_be_bytes());
                                }
                            }
                            out.extend_from_slice(&part.decoded_length.to_be_bytes());
                            out.extend_from_slice(&part.decoded_digest);
                        }
                    }
                }
                (KIND_PARTS, out)
            }
        }
    }

    /// A record from the store's (kind, data).
    pub fn decode(kind: i16, data: Vec<u8>) -> Result<StoredExact, Undecodable> {
        match kind {
            KIND_LITERAL => Ok(StoredExact::Literal(data)),
            KIND_PENDING => Ok(StoredExact::Pending {
                since: i64::from_be_bytes(Reader(&data).array()?),
            }),
            KIND_SUPERSEDED => {
                let mut reader = Reader(&data);
                let uid = u32::from_be_bytes(reader.array()?);
                let folder_id =
                    String::from_utf8(reader.0.to_vec()).map_err(|_| Undecodable("folder id"))?;
                Ok(StoredExact::Superseded { folder_id, uid })
            }
            KIND_PARTS => {
                let mut reader = Reader(&data);
                let length = u64::from_be_bytes(reader.array()?);
                let digest = reader.array()?;
                let mut segments = Vec::new();
                while !reader.0.is_empty() {
                    match reader.array::<1>()?[0] {
                        0 => segments.push(Segment::Inline(reader.bytes()?.to_vec())),
                        1 => {
                            let attachment_id = reader.text()?;
                            let name = reader.text()?;
                            let content_type = reader.text()?;
                            let flags = reader.array::<1>()?[0];
                            let encoding = if flags & 1 == 0 {
                                PartEncoding::Identity
                            } else {
                                PartEncoding::Base64 {
                                    line_length: u32::from_be_bytes(reader.array()?),
                                    crlf: flags & 2 != 0,
                                    final_break: flags & 4 != 0,
                                }
                            };
                            segments.push(Segment::Part(PartRef {
                                attachment_id,
                                name,
                                content_type,
                                encoding,
                                decoded_length: u64::from_be_bytes(reader.array()?),
                                decoded_digest: reader.array()?,
                            }));
                        }
                        _ => return Err(Undecodable("segment tag")),
                    }
                }
                Ok(StoredExact::Parts(ExactRecord {
                    length,
                    digest,
                    segments,
                }))
            }
            _ => Err(Undecodable("kind")),
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Parts are at most Graph's 150 MB: a u32 length always fits.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Reads a stored record, never past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Undecodable> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Undecodable("truncated"))?;
        self.0 = rest;
        Ok(*head)
    }

    fn bytes(&mut self) -> Result<&'a [u8], Undecodable> {
        let len = u32::from_be_bytes(self.array()?) as usize;
        if len > self.0.len() {
            return Err(Undecodable("truncated"));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn text(&mut self) -> Result<String, Undecodable> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| Undecodable("text"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A voice message as unified-messaging servers write it: MP3 in base64, 76-character
    /// lines, CRLF.
    pub(crate) fn voice_message(mp3_bytes: usize) -> Vec<u8> {
        let mut rng = fastrand::Rng::with_seed(7);
        let mp3: Vec<u8> = (0..mp3_bytes).map(|_| rng.u8(..)).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&mp3);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|l| std::str::from_utf8(l).unwrap())
            .collect();
        format!(
            "From: \"Caller\" <+15550100@pbx.example>\r\nTo: <vm@contoso.example>\r\n\
             Subject: Voice message\r\nDate: Sat, 9 Mar 2024 18:03:11 +0100\r\n\
             Message-ID: <vm-7@pbx.example>\r\nContent-Class: voice\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"----=_Part_1\"\r\n\r\n\
             This is a multi-part message in MIME format.\r\n------=_Part_1\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
             You have a new voice message.\r\n------=_Part_1\r\n\
             Content-Type: audio/mpeg; name=\"msg0001.mp3\"\r\n\
             Content-Transfer-Encoding: base64\r\n\
             Content-Disposition: attachment; filename=\"msg0001.mp3\"\r\n\r\n{}\r\n\
             ------=_Part_1--\r\n",
            lines.join("\r\n")
        )
        .into_bytes()
    }

    fn listed(candidates: &[Candidate]) -> Vec<ListedAttachment> {
        candidates
            .iter()
            .enumerate()
            .map(|(i, c)| ListedAttachment {
                id: format!("att-{i}"),
                name: c.name.clone(),
                content_type: c.content_type.clone(),
                is_file: true,
            })
            .collect()
    }

    /// Rebuilds `stored` with `decoded` giving each part's bytes.
    fn rebuilt(
        stored: &StoredExact,
        decoded: impl Fn(&PartRef) -> Vec<u8>,
    ) -> Result<Vec<u8>, Mismatch> {
        let StoredExact::Parts(record) = stored else {
            panic!("not a record of parts: {stored:?}");
        };
        let mut rebuild = Rebuild::new(record);
        for segment in &record.segments {
            match segment {
                Segment::Inline(bytes) => rebuild.inline(bytes),
                Segment::Part(part) => rebuild.part(part, &decoded(part))?,
            }
        }
        rebuild.finish(record)
    }

    fn mp3_of(literal: &[u8]) -> Vec<u8> {
        let parsed = MessageParser::default().parse(literal).unwrap();
        let mp3 = parsed.attachment(0).unwrap().contents().to_vec();
        mp3
    }

    #[test]
    fn a_voice_message_keeps_its_mp3_by_reference_and_comes_back_whole() {
        let literal = voice_message(2_100_000);
        let found = candidates(&literal);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "msg0001.mp3");
        assert_eq!(found[0].content_type, "audio/mpeg");
        assert_eq!(
            found[0].encoding,
            PartEncoding::Base64 {
                line_length: 76,
                crlf: true,
                final_break: false
            }
        );
        let ids = match_attachments(&found, &listed(&found));
        let stored = record(&literal, &found, &ids);
        let (kind, data) = stored.encode();
        assert_eq!(kind, KIND_PARTS);
        println!(
            "voice message of {} bytes: {} bytes of record ({:.4} per appended byte)",
            literal.len(),
            data.len(),
            data.len() as f64 / literal.len() as f64
        );
        assert!(
            data.len() * 100 < literal.len() / 2,
            "{} bytes kept of {}",
            data.len(),
            literal.len()
        );
        assert_eq!(StoredExact::decode(kind, data).unwrap(), stored);
        let mp3 = mp3_of(&literal);
        assert_eq!(rebuilt(&stored, |_| mp3.clone()).unwrap(), literal);
    }

    #[test]
    fn a_changed_or_shortened_attachment_is_a_mismatch() {
        let literal = voice_message(50_000);
        let found = candidates(&literal);
        let stored = record(
            &literal,
            &found,
            &match_attachments(&found, &listed(&found)),
        );
        let mut mp3 = mp3_of(&literal);
        mp3[10] ^= 1;
        assert_eq!(
            rebuilt(&stored, |_| mp3.clone()),
            Err(Mismatch::AttachmentChanged("msg0001.mp3".into()))
        );
        mp3.pop();
        assert!(rebuilt(&stored, |_| mp3.clone()).is_err());
    }

    #[test]
    fn base64_layouts_that_reencode_are_referenced_and_others_stay_inline() {
        let data: Vec<u8> = (0..30_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let lines = |n: usize, end: &str| -> String {
            b64.as_bytes()
                .chunks(n)
                .map(|l| std::str::from_utf8(l).unwrap())
                .collect::<Vec<_>>()
                .join(end)
        };
        let message = |body: String, cte: &str| -> Vec<u8> {
            format!(
                "Subject: x\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: {cte}\n\n{body}\n--b--\n"
            )
            .into_bytes()
        };
        for (body, referenced) in [
            (lines(76, "\n"), true),
            (lines(64, "\r\n"), true),
            (lines(75, "\n"), true),
            (b64.clone(), true),
            (format!("{}\n", lines(76, "\n")), true),
            // Lines of two lengths cannot be made again from the bytes.
            (format!("{}\n{}", &b64[..10], lines(76, "\n")), false),
        ] {
            let literal = message(body.clone(), "base64");
            let found = candidates(&literal);
            assert_eq!(found.len(), usize::from(referenced), "{:?}", &body[..90]);
            let stored = record(
                &literal,
                &found,
                &match_attachments(&found, &listed(&found)),
            );
            match &stored {
                StoredExact::Literal(bytes) => assert_eq!(bytes, &literal),
                StoredExact::Parts(_) => {
                    assert_eq!(rebuilt(&stored, |_| data.clone()).unwrap(), literal)
                }
                other => panic!("{other:?}"),
            }
        }
        // Quoted-printable stays inline.
        let qp = message("=41".repeat(5000), "quoted-printable");
        assert!(candidates(&qp).is_empty());
    }

    #[test]
    fn an_attached_message_is_kept_as_it_is_and_small_parts_stay_inline() {
        let inner = format!("Subject: inner\r\n\r\n{}", "line of text\r\n".repeat(1000));
        let literal = format!(
            "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n\
             {inner}\r\n--b\r\nContent-Type: image/png; name=s.png\r\nContent-Transfer-Encoding: base64\r\n\r\n\
             iVBORw0KGgo=\r\n--b--\r\n"
        )
        .into_bytes();
        let found = candidates(&literal);
        assert_eq!(found.len(), 1, "the small PNG stays inline");
        assert_eq!(found[0].encoding, PartEncoding::Identity);
        assert_eq!(found[0].name, "message.eml");
        let stored = record(
            &literal,
            &found,
            &match_attachments(&found, &listed(&found)),
        );
        let inner = inner.into_bytes();
        assert_eq!(rebuilt(&stored, |_| inner.clone()).unwrap(), literal);
    }

    #[test]
    fn parts_graph_does_not_list_stay_inline() {
        let literal = voice_message(20_000);
        let found = candidates(&literal);
        let item = vec![ListedAttachment {
            id: "x".into(),
            name: "msg0001.mp3".into(),
            content_type: "audio/mpeg".into(),
            is_file: false,
        }];
        let stored = record(&literal, &found, &match_attachments(&found, &item));
        assert_eq!(stored, StoredExact::Literal(literal));
    }

    #[test]
    fn a_copy_finds_its_attachments_by_name_and_type_in_order() {
        let literal = voice_message(20_000);
        let found = candidates(&literal);
        let stored = record(
            &literal,
            &found,
            &match_attachments(&found, &listed(&found)),
        );
        let StoredExact::Parts(record) = &stored else {
            panic!()
        };
        let part = record.parts().next().unwrap();
        let in_copy = vec![
            ListedAttachment {
                id: "other".into(),
                name: "notes.txt".into(),
                content_type: "text/plain".into(),
                is_file: true,
            },
            ListedAttachment {
                id: "new-id".into(),
                name: "msg0001.mp3".into(),
                content_type: "Audio/MPEG".into(),
                is_file: true,
            },
        ];
        assert_eq!(
            record.find_again(part, &in_copy).map(|a| a.id.as_str()),
            Some("new-id")
        );
        assert_eq!(record.find_again(part, &in_copy[..1]), None);
    }

    /// Random messages of many parts (base64 in every line layout, with and without a final
    /// line end, 7bit, quoted-printable, nested multiparts, small and large): whatever is kept
    /// by reference comes back byte for byte, the record is never larger than the message
    /// (but for its fixed header), and nothing panics.
    #[test]
    fn random_messages_come_back_whole() {
        let mut rng = fastrand::Rng::with_seed(2026);
        let mut referenced = 0;
        for round in 0..60 {
            let mut literal = format!(
                "Subject: round {round}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"o{round}\"\r\n\r\npre\r\n"
            );
            for part in 0..rng.usize(1..5) {
                literal.push_str(&format!("--o{round}\r\n"));
                let size = if rng.bool() {
                    rng.usize(0..200)
                } else {
                    rng.usize(8_000..40_000)
                };
                let data: Vec<u8> = (0..size).map(|_| rng.u8(..)).collect();
                let name = format!("f{part}.bin");
                match rng.u8(0..4) {
                    0 | 1 => {
                        let text = base64::engine::general_purpose::STANDARD.encode(&data);
                        let width = [60, 64, 72, 76, 77, 1000][rng.usize(0..6)];
                        let end = if rng.bool() { "\r\n" } else { "\n" };
                        let lines: Vec<&str> = text
                            .as_bytes()
                            .chunks(width)
                            .map(|l| std::str::from_utf8(l).unwrap())
                            .collect();
                        let trailing = if rng.bool() { end } else { "" };
                        literal.push_str(&format!(
                            "Content-Type: application/octet-stream; name={name}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}{trailing}\r\n",
                            lines.join(end)
                        ));
                    }
                    2 => {
                        let text: String = (0..size).map(|_| rng.alphanumeric()).collect();
                        literal.push_str(&format!(
                            "Content-Type: text/csv; name={name}\r\nContent-Disposition: attachment\r\n\r\n{text}\r\n"
                        ));
                    }
                    _ => {
                        let text: String = (0..size).map(|_| rng.alphanumeric()).collect();
                        literal.push_str(&format!(
                            "Content-Type: application/pdf; name={name}\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{text}=\r\n\r\n"
                        ));
                    }
                }
            }
            literal.push_str(&format!("--o{round}--\r\nepilogue\r\n"));
            let literal = literal.into_bytes();
            let found = candidates(&literal);
            let stored = record(
                &literal,
                &found,
                &match_attachments(&found, &listed(&found)),
            );
            let (_, data) = stored.encode();
            assert!(data.len() <= literal.len() + 40, "round {round}");
            let parsed = MessageParser::default().parse(&literal[..]).unwrap();
            match &stored {
                StoredExact::Literal(bytes) => assert_eq!(bytes, &literal),
                StoredExact::Parts(record) => {
                    referenced += record.parts().count();
                    // Names are unique in these messages: a part's bytes are those of the
                    // attachment of its name, as Graph would hold them.
                    let decoded_of = |part: &PartRef| -> Vec<u8> {
                        let start = found
                            .iter()
                            .find(|c| c.name == part.name)
                            .unwrap()
                            .range
                            .start;
                        parsed
                            .attachments()
                            .find(|p| p.offset_body as usize == start)
                            .unwrap()
                            .contents()
                            .to_vec()
                    };
                    assert_eq!(
                        rebuilt(&stored, decoded_of).unwrap(),
                        literal,
                        "round {round}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(referenced > 20, "only {referenced} parts were referenced");
    }

    #[test]
    fn stored_records_decode_and_broken_ones_are_refused() {
        let superseded = StoredExact::Superseded {
            folder_id: "AAMk=".into(),
            uid: 42,
        };
        let (kind, data) = superseded.encode();
        assert_eq!(StoredExact::decode(kind, data).unwrap(), superseded);
        let pending = StoredExact::Pending {
            since: 1_767_000_000,
        };
        let (kind, data) = pending.encode();
        assert_eq!(StoredExact::decode(kind, data).unwrap(), pending);
        let literal = voice_message(20_000);
        let found = candidates(&literal);
        let (kind, data) = record(
            &literal,
            &found,
            &match_attachments(&found, &listed(&found)),
        )
        .encode();
        for cut in [1, 10, 41, data.len() / 2, data.len() - 1] {
            assert!(StoredExact::decode(kind, data[..cut].to_vec()).is_err());
        }
        assert!(StoredExact::decode(9, Vec::new()).is_err());
    }
}
