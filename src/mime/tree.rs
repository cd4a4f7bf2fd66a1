//! The MIME part tree of one message: where each part's header and body
//! lie in the raw bytes, how many lines they hold, and which header fields
//! each part has.
//!
//! Byte ranges decide BODY[section] contents and BODYSTRUCTURE sizes and
//! line counts, so they must match Dovecot's exactly, including on broken
//! MIME. This parser therefore follows the rules of Dovecot's
//! message-parser (2.3 series) rather than a general-purpose MIME library:
//! - a boundary line is `--` + any active boundary as a prefix (the longest
//!   match wins, innermost first), also inside headers of a part;
//! - the line break before a boundary line belongs to the boundary, not to
//!   the part that ends there;
//! - a part is MIME only below a multipart or when its header has
//!   MIME-Version or Content-Type; otherwise its Content-* fields are
//!   ignored and it is text/plain (message/rfc822 below multipart/digest);
//! - message/rfc822 bodies are parsed as messages whatever their
//!   Content-Transfer-Encoding;
//! - nesting stops at 100 levels and 10000 parts.
//!
//! The input is expected with CRLF line ends (see `ParsedMessage::parse`),
//! so Dovecot's "virtual" (CRLF) sizes are plain byte counts here.

use std::ops::Range;

use super::rfc822::{Rfc822Parser, Step};

const MAX_NESTED_PARTS: usize = 100;
const MAX_TOTAL_PARTS: usize = 10_000;
/// Dovecot truncates boundaries to 70 + 10 bytes.
const BOUNDARY_MAX_LEN: usize = 80;
/// How far a line without LF is examined for a boundary.
const BOUNDARY_END_MAX_LEN: usize = BOUNDARY_MAX_LEN + 4;
/// Longer header names are treated as if the line had no name.
const HEADER_NAME_MAX_LEN: usize = 1000;

/// One header field (a first line plus its continuation lines).
#[derive(Clone, Debug)]
pub(crate) struct HeaderField {
    /// The name without trailing white space; empty for a line with no
    /// colon (such a line is a header line with no name, as in Dovecot).
    pub name: Range<usize>,
    /// Start of the value: after the colon and the white space following
    /// it (if the first line is all white space, after one space only).
    pub value_start: usize,
    /// End of the value: the end of the last line, before its line break.
    pub value_end: usize,
    /// The whole field including its final line break, for HEADER.FIELDS.
    pub lines: Range<usize>,
}

impl HeaderField {
    /// The value unfolded the way Dovecot hands it to its parsers: line
    /// breaks inside the value become a bare LF (the white space that
    /// starts the continuation line stays). One quirk is kept: Dovecot
    /// joins a continuation line that is a single white space character
    /// without the line break (seen only where an address has an
    /// unterminated quote or comment; found by comparing with Dovecot).
    pub fn full_value<'a>(&self, raw: &'a [u8]) -> std::borrow::Cow<'a, [u8]> {
        let value = raw
            .get(self.value_start..self.value_end)
            .unwrap_or_default();
        if !value.windows(2).any(|w| w == b"\r\n") {
            return std::borrow::Cow::Borrowed(value);
        }
        let mut unfolded = Vec::with_capacity(value.len());
        let mut lines = value.split(|&b| b == b'\n');
        if let Some(first) = lines.next() {
            unfolded.extend_from_slice(first);
        }
        for line in lines {
            // Every line but the first follows a CRLF (input is CRLF only),
            // so the previous piece ends with the CR to drop.
            if unfolded.last() == Some(&b'\r') {
                unfolded.pop();
            }
            let content_len = line.len() - usize::from(line.last() == Some(&b'\r'));
            if content_len != 1 {
                unfolded.push(b'\n');
            }
            unfolded.extend_from_slice(line);
        }
        std::borrow::Cow::Owned(unfolded)
    }

    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.name.clone()).unwrap_or_default()
    }

    pub fn is_named(&self, raw: &[u8], name: &[u8]) -> bool {
        self.name(raw).eq_ignore_ascii_case(name)
    }
}

/// What kind of body a part has, as far as the tree is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Any leaf that is not text/*.
    Leaf,
    /// text/* (or no usable Content-Type): its line count is reported.
    Text,
    /// multipart/* (children may be empty when no boundary was usable).
    Multipart,
    /// message/rfc822 with exactly one child: the enclosed message.
    Message,
}

#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    /// Offset of the first header byte in the raw message.
    pub offset: usize,
    pub header_size: usize,
    pub header_lines: u32,
    pub body_size: usize,
    pub body_lines: u32,
    pub shape: Shape,
    /// MIME-Version or Content-Type seen, or a child of a multipart: only
    /// then do Content-* fields count.
    pub is_mime: bool,
    /// multipart/digest: children without Content-Type are message/rfc822.
    pub is_digest: bool,
    /// The part hit a nesting or part-count limit, so it is shown as
    /// application/octet-stream if it claimed to be multipart or a message.
    pub overflowed: bool,
    /// The header ended with an empty line.
    pub has_blank_line: bool,
    pub headers: Vec<HeaderField>,
}

impl Part {
    fn new(parent: Option<usize>, offset: usize) -> Part {
        Part {
            parent,
            children: Vec::new(),
            offset,
            header_size: 0,
            header_lines: 0,
            body_size: 0,
            body_lines: 0,
            shape: Shape::Leaf,
            is_mime: false,
            is_digest: false,
            overflowed: false,
            has_blank_line: false,
            headers: Vec::new(),
        }
    }

    pub fn header_range(&self) -> Range<usize> {
        self.offset..self.offset + self.header_size
    }

    pub fn body_range(&self) -> Range<usize> {
        let start = self.offset + self.header_size;
        start..start + self.body_size
    }
}

struct Boundary {
    text: Vec<u8>,
    owner: usize,
    closes: bool,
}

/// The parsed tree; part 0 is the message itself.
#[derive(Clone, Debug)]
pub(crate) struct PartTree {
    pub parts: Vec<Part>,
}

/// What to do next, as in Dovecot's parser state machine.
enum Next {
    Headers,
    BodyToBoundary,
    BodyToEnd,
    NewMimePart,
    Done,
}

struct TreeParser<'a> {
    raw: &'a [u8],
    pos: usize,
    parts: Vec<Part>,
    current: usize,
    boundaries: Vec<Boundary>,
    nested: usize,
}

pub(crate) fn parse_tree(raw: &[u8]) -> PartTree {
    let mut parser = TreeParser {
        raw,
        pos: 0,
        parts: vec![Part::new(None, 0)],
        current: 0,
        boundaries: Vec::new(),
        nested: 0,
    };
    parser.run();
    PartTree {
        parts: parser.parts,
    }
}

fn count_lines(data: &[u8]) -> u32 {
    let count = data.iter().filter(|&&b| b == b'\n').count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

impl<'a> TreeParser<'a> {
    fn run(&mut self) {
        let mut next = Next::Headers;
        loop {
            next = match next {
                Next::Headers => self.parse_headers(),
                Next::BodyToBoundary => self.parse_body_to_boundary(),
                Next::BodyToEnd => {
                    let end = self.raw.len();
                    self.add_body_block(self.pos, end);
                    self.pos = end;
                    Next::Done
                }
                Next::NewMimePart => {
                    self.append_part();
                    self.parts[self.current].is_mime = true;
                    Next::Headers
                }
                Next::Done => break,
            };
        }
        while self.parts[self.current].parent.is_some() {
            self.finish_part();
        }
    }

    fn part(&mut self) -> &mut Part {
        &mut self.parts[self.current]
    }

    fn append_part(&mut self) {
        let index = self.parts.len();
        // Where the parent's bytes counted so far end. This is the read
        // position, except after a blank line that was handed to an
        // enclosing boundary: Dovecot then places the child at that blank
        // line, and so do we.
        let parent = &self.parts[self.current];
        let offset = parent.offset + parent.header_size + parent.body_size;
        self.parts.push(Part::new(Some(self.current), offset));
        self.parts[self.current].children.push(index);
        self.current = index;
        self.nested += 1;
    }

    /// Adds the finished part's sizes to its parent and makes the parent
    /// current.
    fn finish_part(&mut self) {
        let Some(parent) = self.parts[self.current].parent else {
            return;
        };
        let (size, lines) = {
            let part = &self.parts[self.current];
            (
                part.header_size + part.body_size,
                part.header_lines.saturating_add(part.body_lines),
            )
        };
        let parent_part = &mut self.parts[parent];
        parent_part.body_size += size;
        parent_part.body_lines = parent_part.body_lines.saturating_add(lines);
        self.nested = self.nested.saturating_sub(1);
        self.current = parent;
    }

    fn add_body_block(&mut self, start: usize, end: usize) {
        if end <= start {
            return;
        }
        let lines = count_lines(&self.raw[start..end]);
        let part = self.part();
        part.body_size += end - start;
        part.body_lines = part.body_lines.saturating_add(lines);
    }

    fn too_deep(&self) -> bool {
        self.nested + 1 >= MAX_NESTED_PARTS
    }

    /// If a boundary line starts at `line_start`, the index of the matching
    /// boundary in `self.boundaries`.
    fn find_boundary_line(&mut self, line_start: usize) -> Option<usize> {
        let rest = self.raw.get(line_start..).unwrap_or_default();
        if rest.len() < 2 || &rest[..2] != b"--" || self.boundaries.is_empty() {
            return None;
        }
        if self.parts.len() >= MAX_TOTAL_PARTS {
            self.part().overflowed = true;
            return None;
        }
        let rest = &rest[2..];
        let (candidate, trailing_dashes) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let mut line = &rest[..lf];
                if line.last() == Some(&b'\r') {
                    line = &line[..line.len() - 1];
                }
                let dashes = line.len() > 2 && line.ends_with(b"--");
                (line, dashes)
            }
            None => (&rest[..rest.len().min(BOUNDARY_END_MAX_LEN)], false),
        };
        let mut best: Option<usize> = None;
        for index in (0..self.boundaries.len()).rev() {
            let boundary = &self.boundaries[index].text;
            if boundary.len() <= candidate.len()
                && candidate.starts_with(boundary)
                && best.is_none_or(|b| self.boundaries[b].text.len() < boundary.len())
            {
                best = Some(index);
                // "foo--" may be boundary "foo" closing or boundary "foo--".
                if boundary.len() == candidate.len()
                    || (trailing_dashes && boundary.len() + 2 == candidate.len())
                {
                    break;
                }
            }
        }
        let index = best?;
        let len = self.boundaries[index].text.len();
        self.boundaries[index].closes = rest.get(len..len + 2) == Some(b"--");
        Some(index)
    }

    fn parse_headers(&mut self) -> Next {
        let mut previous_newline = 0usize;
        let mut seen_content_type = false;
        let mut pending_boundary: Option<Vec<u8>> = None;
        let mut starts_multipart = false;
        let current = self.current;

        while self.pos < self.raw.len() {
            let line_start = self.pos;
            let at_blank_line =
                self.raw[line_start..].starts_with(b"\r\n") || self.raw[line_start] == b'\n';
            if at_blank_line && self.parts[current].is_mime {
                if let Some(text) = pending_boundary.take() {
                    if self.too_deep() {
                        self.part().overflowed = true;
                        self.part().shape = Shape::Leaf;
                    } else {
                        self.boundaries.push(Boundary {
                            text,
                            owner: current,
                            closes: false,
                        });
                        starts_multipart = true;
                    }
                }
            }
            if let Some(index) = self.find_boundary_line(line_start) {
                if self.boundaries[index].owner != current {
                    // The header ends here; the previous line break belongs
                    // to the boundary, so it moves to the parent's body.
                    self.move_last_newline_to_parent(previous_newline);
                    break;
                }
            }

            if at_blank_line {
                let len = if self.raw[line_start] == b'\n' { 1 } else { 2 };
                let part = self.part();
                part.header_size += len;
                part.header_lines += 1;
                part.has_blank_line = true;
                self.pos += len;
                // Dovecot looks for a boundary once more before it ends the
                // header: if the body starts with one (of an enclosing
                // multipart), the blank line is the line break that belongs
                // to that boundary.
                if let Some(index) = self.find_boundary_line(self.pos) {
                    if self.boundaries[index].owner != current {
                        self.move_last_newline_to_parent(len);
                    }
                }
                break;
            }

            let field = self.read_header_field();
            previous_newline = field_newline_len(&field);
            let name = field.name(self.raw);
            if name.eq_ignore_ascii_case(b"MIME-Version") {
                self.part().is_mime = true;
            } else if name.eq_ignore_ascii_case(b"Content-Type") {
                self.part().is_mime = true;
                if !seen_content_type {
                    seen_content_type = true;
                    pending_boundary = self.apply_content_type(&field);
                }
            }
            self.part().headers.push(field);
        }

        let part = &mut self.parts[current];
        if !part.is_mime {
            // Not MIME: whatever Content-Type said is forgotten.
            part.shape = Shape::Leaf;
            part.is_digest = false;
        }
        if !seen_content_type || !part.is_mime {
            let parent_is_digest = part.parent.is_some_and(|p| self.parts[p].is_digest);
            let part = &mut self.parts[current];
            part.shape = if parent_is_digest {
                Shape::Message
            } else {
                Shape::Text
            };
        }

        let part = &mut self.parts[current];
        if starts_multipart {
            return Next::BodyToBoundary;
        }
        // A multipart without a usable boundary falls through here: it is
        // shown as a multipart with no parts, its body read like a leaf's.
        if part.shape != Shape::Message {
            return self.body_until_boundary_or_end();
        }
        if !self.too_deep() && self.parts.len() < MAX_TOTAL_PARTS {
            self.append_part();
            return Next::Headers;
        }
        let part = self.part();
        part.overflowed = true;
        part.shape = Shape::Leaf;
        self.body_until_boundary_or_end()
    }

    fn move_last_newline_to_parent(&mut self, newline: usize) {
        if newline == 0 {
            return;
        }
        let part = &mut self.parts[self.current];
        part.header_size = part.header_size.saturating_sub(newline);
        part.header_lines = part.header_lines.saturating_sub(1);
        if let Some(parent) = part.parent {
            let parent = &mut self.parts[parent];
            parent.body_size += newline;
            parent.body_lines = parent.body_lines.saturating_add(1);
        }
    }

    fn body_until_boundary_or_end(&self) -> Next {
        if self.boundaries.is_empty() {
            Next::BodyToEnd
        } else {
            Next::BodyToBoundary
        }
    }

    /// Reads one header field at `self.pos` and counts it into the current
    /// part's header size.
    fn read_header_field(&mut self) -> HeaderField {
        let (field, lines) = read_header_field(self.raw, self.pos);
        self.pos = field.lines.end;
        let part = self.part();
        part.header_size += field.lines.len();
        part.header_lines = part.header_lines.saturating_add(lines);
        field
    }

    /// Applies the first Content-Type field to the current part: its shape,
    /// and the boundary a multipart will use.
    fn apply_content_type(&mut self, field: &HeaderField) -> Option<Vec<u8>> {
        let value = field.full_value(self.raw);
        let mut parser = Rfc822Parser::new(&value);
        parser.skip_lwsp();
        let mut content_type = Vec::new();
        let step = parser.parse_content_type(&mut content_type);
        let part = self.part();
        if content_type.eq_ignore_ascii_case(b"message/rfc822") {
            part.shape = Shape::Message;
        } else if content_type.len() >= 4
            && content_type[..4].eq_ignore_ascii_case(b"text")
            && (content_type.len() == 4 || content_type[4] == b'/')
        {
            part.shape = Shape::Text;
        } else if content_type.len() >= 10 && content_type[..10].eq_ignore_ascii_case(b"multipart/")
        {
            part.shape = Shape::Multipart;
            part.is_digest = content_type[10..].eq_ignore_ascii_case(b"digest");
        }
        if step == Step::Broken || part.shape != Shape::Multipart {
            return None;
        }
        parser
            .parse_parameters()
            .into_iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(b"boundary"))
            .map(|(_, mut boundary)| {
                boundary.truncate(BOUNDARY_MAX_LEN);
                boundary
            })
    }

    fn parse_body_to_boundary(&mut self) -> Next {
        // The body starts at a line start: a boundary may be its first line.
        if let Some(index) = self.find_boundary_line(self.pos) {
            return self.finish_at_boundary(index, self.pos, true);
        }
        let mut search = self.pos;
        while let Some(offset) = self.raw[search..].iter().position(|&b| b == b'\n') {
            let lf = search + offset;
            search = lf + 1;
            if let Some(index) = self.find_boundary_line(search) {
                let mut boundary_start = lf;
                if lf > self.pos && self.raw[lf - 1] == b'\r' {
                    boundary_start -= 1;
                }
                self.add_body_block(self.pos, boundary_start);
                return self.finish_at_boundary(index, boundary_start, false);
            }
        }
        Next::BodyToEnd
    }

    /// A boundary line was found at `at` (`first_line`: with no line break
    /// before it). Closes the parts it ends and decides what follows.
    fn finish_at_boundary(&mut self, index: usize, at: usize, first_line: bool) -> Next {
        let owner = self.boundaries[index].owner;
        let closes = self.boundaries[index].closes;
        let boundary_len = self.boundaries[index].text.len();
        while self.current != owner && self.parts[self.current].parent.is_some() {
            self.finish_part();
        }
        if closes {
            self.boundaries.truncate(index);
        } else {
            self.boundaries.truncate(index + 1);
        }
        let newline = if first_line {
            0
        } else if self.raw.get(at) == Some(&b'\r') {
            2
        } else {
            1
        };
        let line_end =
            (at + newline + 2 + boundary_len + if closes { 2 } else { 0 }).min(self.raw.len());
        self.add_body_block(at, line_end);
        self.pos = line_end;
        // The rest of the boundary line (transport padding) is skipped.
        match self.raw[self.pos..].iter().position(|&b| b == b'\n') {
            Some(offset) => {
                let end = self.pos + offset + 1;
                self.add_body_block(self.pos, end);
                self.pos = end;
            }
            None => {
                let end = self.raw.len();
                self.add_body_block(self.pos, end);
                self.pos = end;
                return Next::Done;
            }
        }
        match self.boundaries.last() {
            Some(top) if top.owner == self.current => Next::NewMimePart,
            Some(_) => Next::BodyToBoundary,
            None => Next::BodyToEnd,
        }
    }
}

/// End of the line content and end of the line (after LF) for the line
/// starting at `start`.
fn line_bounds(raw: &[u8], start: usize) -> (usize, usize) {
    match raw[start..].iter().position(|&b| b == b'\n') {
        Some(offset) => {
            let lf = start + offset;
            let content_end = if lf > start && raw[lf - 1] == b'\r' {
                lf - 1
            } else {
                lf
            };
            (content_end, lf + 1)
        }
        None => (raw.len(), raw.len()),
    }
}

/// Length of the line break that ends the field (0 at the end of input).
fn field_newline_len(field: &HeaderField) -> usize {
    field.lines.end.saturating_sub(field.value_end)
}

/// Reads the header field starting at `line_start` (first line and its
/// continuation lines); also returns how many line breaks it holds.
pub(crate) fn read_header_field(raw: &[u8], line_start: usize) -> (HeaderField, u32) {
    let (first_content_end, first_line_end) = line_bounds(raw, line_start);

    let colon = raw[line_start..first_content_end]
        .iter()
        .position(|&b| b == b':');
    let (name, value_start) = match colon {
        Some(offset) => {
            let colon = line_start + offset;
            let mut name_end = colon;
            while name_end > line_start && matches!(raw[name_end - 1], b' ' | b'\t') {
                name_end -= 1;
            }
            let mut value_start = colon + 1;
            while value_start < first_content_end && matches!(raw[value_start], b' ' | b'\t') {
                value_start += 1;
            }
            if value_start == first_content_end && colon + 1 < first_content_end {
                // All white space: skip just one.
                value_start = colon + 2;
            }
            if name_end - line_start > HEADER_NAME_MAX_LEN {
                (line_start..line_start, line_start)
            } else {
                (line_start..name_end, value_start)
            }
        }
        None => (line_start..line_start, line_start),
    };

    let mut content_end = first_content_end;
    let mut line_end = first_line_end;
    let mut lines = u32::from(first_line_end > first_content_end);
    while line_end > content_end && line_end < raw.len() && matches!(raw[line_end], b' ' | b'\t') {
        let (next_content_end, next_line_end) = line_bounds(raw, line_end);
        content_end = next_content_end;
        if next_line_end > next_content_end {
            lines += 1;
        }
        line_end = next_line_end;
    }
    (
        HeaderField {
            name,
            value_start,
            value_end: content_end,
            lines: line_start..line_end,
        },
        lines,
    )
}

/// A header read on its own from `offset` up to the first blank line or the
/// end of the input, ignoring MIME boundaries. Dovecot reads headers this
/// way for HEADER.FIELDS[.NOT] and for BINARY's rewritten headers, so a
/// part header cut short by a boundary runs on into what follows.
pub(crate) struct StandaloneHeader {
    pub fields: Vec<HeaderField>,
    /// The blank line that ended it, if any.
    pub blank_line: Option<Range<usize>>,
}

pub(crate) fn read_standalone_header(raw: &[u8], offset: usize) -> StandaloneHeader {
    let mut fields = Vec::new();
    let mut pos = offset;
    while pos < raw.len() {
        if raw[pos..].starts_with(b"\r\n") || raw[pos] == b'\n' {
            let len = if raw[pos] == b'\n' { 1 } else { 2 };
            return StandaloneHeader {
                fields,
                blank_line: Some(pos..pos + len),
            };
        }
        let (field, _) = read_header_field(raw, pos);
        pos = field.lines.end;
        fields.push(field);
    }
    StandaloneHeader {
        fields,
        blank_line: None,
    }
}
