//! Identifiers: deterministic, Graph-looking opaque ids for users, folders, messages and
//! attachments, and their validation (malformed → 400 ErrorInvalidIdMalformed).
//!
//! Real Outlook REST ids are URL-safe base64 of a binary structure that starts with
//! `AAMk…` and embeds the mailbox; they are case-sensitive
//! (<https://learn.microsoft.com/graph/outlook-immutable-id>: "Immutable identifiers, like all
//! identifiers in Microsoft Graph, are case-sensitive"). We mimic that shape: a 4-byte
//! prefix, the mailbox GUID as ASCII, a kind byte, and 22 bytes of a SHA-256 over the
//! inputs, so the same seed always gives the same ids.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

const PREFIX: [u8; 4] = [0x00, 0x03, 0x24, 0x00];
const RAW_LEN: usize = 4 + 36 + 2 + 22;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IdKind {
    Folder = 1,
    /// A default (REST) message id: changes when the message moves.
    Message = 2,
    /// An immutable message id (`Prefer: IdType="ImmutableId"`).
    ImmutableMessage = 3,
    Attachment = 4,
}

impl IdKind {
    fn from_byte(b: u8) -> Option<IdKind> {
        match b {
            1 => Some(IdKind::Folder),
            2 => Some(IdKind::Message),
            3 => Some(IdKind::ImmutableMessage),
            4 => Some(IdKind::Attachment),
            _ => None,
        }
    }
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

/// A GUID (8-4-4-4-12, lower-case hex) derived from the inputs.
pub(crate) fn guid(parts: &[&[u8]]) -> String {
    let d = digest(parts);
    let h: String = d[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An opaque id of `kind` for the mailbox with user GUID `mailbox_guid`.
pub(crate) fn make(kind: IdKind, mailbox_guid: &str, parts: &[&[u8]]) -> String {
    let kind_byte = [kind as u8];
    let mut all: Vec<&[u8]> = vec![mailbox_guid.as_bytes(), &kind_byte];
    all.extend_from_slice(parts);
    let d = digest(&all);
    let mut raw = Vec::with_capacity(RAW_LEN);
    raw.extend_from_slice(&PREFIX);
    let g = mailbox_guid.as_bytes();
    let mut guid36 = [b'0'; 36];
    let n = g.len().min(36);
    guid36[..n].copy_from_slice(&g[..n]);
    raw.extend_from_slice(&guid36);
    raw.push(0x00);
    raw.push(kind as u8);
    raw.extend_from_slice(&d[..22]);
    URL_SAFE.encode(raw)
}

/// What a well-formed id says about itself.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedId {
    pub kind: IdKind,
    pub mailbox_guid: String,
}

/// Checks the shape of an id. `None` means malformed (Graph: 400 ErrorInvalidIdMalformed,
/// "Id is malformed."). Padding is required as the ids we issue carry it.
pub(crate) fn parse(id: &str) -> Option<ParsedId> {
    if id.is_empty() || id.len() > 400 {
        return None;
    }
    let raw = URL_SAFE.decode(id).ok()?;
    if raw.len() != RAW_LEN || raw[..4] != PREFIX || raw[40] != 0 {
        return None;
    }
    let kind = IdKind::from_byte(raw[41])?;
    let mailbox_guid = std::str::from_utf8(&raw[4..40]).ok()?.to_string();
    Some(ParsedId { kind, mailbox_guid })
}

/// A short opaque token (delta tokens, skip tokens, change keys, upload session ids).
pub(crate) fn opaque(parts: &[&[u8]], len: usize) -> String {
    let d = digest(parts);
    let s = URL_SAFE_NO_PAD.encode(d);
    s[..len.min(s.len())].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_deterministic() {
        let g = guid(&[b"alice@contoso.example"]);
        assert_eq!(g.len(), 36);
        let a = make(IdKind::Message, &g, &[b"x"]);
        let b = make(IdKind::Message, &g, &[b"x"]);
        assert_eq!(a, b);
        assert!(a.starts_with("AAMkA"));
        let p = parse(&a).expect("well formed");
        assert_eq!(p.kind, IdKind::Message);
        assert_eq!(p.mailbox_guid, g);
        assert!(parse("not-an-id").is_none());
        assert!(parse(&a.to_lowercase()).is_none() || a.to_lowercase() == a);
        assert!(parse("").is_none());
    }
}
