//! TEMPORARY stand-in for `crate::mime` (being written in parallel); replaced before commit.
use std::borrow::Cow;

use bytes::Bytes;

pub struct ParsedMessage {
    raw: Bytes,
}

pub struct SectionSpec {
    pub part: Vec<u32>,
    pub kind: SectionKind,
}

pub enum SectionKind {
    Full,
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    Mime,
}

impl ParsedMessage {
    pub fn parse(raw: impl Into<Bytes>) -> Self {
        ParsedMessage { raw: raw.into() }
    }
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
    pub fn envelope(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    }
    pub fn body_structure(&self, out: &mut Vec<u8>, _extensible: bool) {
        out.extend_from_slice(format!("(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" {} 0)", self.raw.len()).as_bytes());
    }
    pub fn section(&self, spec: &SectionSpec) -> Option<Cow<'_, [u8]>> {
        let split = self.raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4).unwrap_or(self.raw.len());
        if !spec.part.is_empty() {
            return None;
        }
        match spec.kind {
            SectionKind::Full => Some(Cow::Borrowed(&self.raw[..])),
            SectionKind::Header => Some(Cow::Borrowed(&self.raw[..split])),
            SectionKind::Text => Some(Cow::Borrowed(&self.raw[split..])),
            _ => None,
        }
    }
}
