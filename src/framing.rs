//! Owns the framing of a client's byte stream into IMAP messages: command lines with their
//! synchronising and non-synchronising literals (RFC 3501 4.3, RFC 7888), and the single lines
//! of AUTHENTICATE data and IDLE's DONE. Sans-I/O: the connection pushes the bytes it read and
//! asks for the next frame.
//!
//! The size limits are enforced as bytes arrive, so what one connection holds is bounded by its
//! limits whatever the client sends: a line longer than the limit is dropped while it is read
//! (its first bytes kept for the tag), an oversized literal is refused before it is sent
//! (synchronising) or dropped as it comes (non-synchronising), and an announcement that cannot
//! be trusted ends the connection rather than letting literal bytes be read as commands. Before
//! login the limits are a few KB ([`FrameLimits::before_login`]); after it, the configured ones.

/// How much one message (a command with its literals) may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The lines of one message together, line endings included, literals not.
    pub max_line_bytes: usize,
    /// One literal.
    pub max_literal_bytes: u64,
    /// The literals of one message together.
    pub max_literals_bytes: u64,
    /// Whether a non-synchronising literal over the limit is read and dropped (the connection
    /// goes on) or ends the connection. Dropping costs bandwidth, not memory; before login
    /// nobody is owed that bandwidth.
    pub drop_oversized_literals: bool,
}

/// The limits before login: enough for LOGIN, AUTHENTICATE PLAIN, ID and CAPABILITY with the
/// longest login names and secrets, small enough that a thousand unauthenticated connections
/// hold a few MB.
pub const PRELOGIN_MAX_MESSAGE_BYTES: usize = 8 * 1024;

impl FrameLimits {
    pub fn before_login() -> FrameLimits {
        FrameLimits {
            max_line_bytes: PRELOGIN_MAX_MESSAGE_BYTES,
            max_literal_bytes: PRELOGIN_MAX_MESSAGE_BYTES as u64,
            max_literals_bytes: PRELOGIN_MAX_MESSAGE_BYTES as u64,
            drop_oversized_literals: false,
        }
    }

    /// The configured limits: `imap.max_command_bytes` for the lines of a command and
    /// `imap.max_literal_bytes` for each literal (with room for a few small literals beside the
    /// largest, such as APPEND's folder name).
    pub fn after_login(max_command_bytes: u32, max_literal_bytes: u32) -> FrameLimits {
        FrameLimits {
            max_line_bytes: max_command_bytes as usize,
            max_literal_bytes: max_literal_bytes as u64,
            max_literals_bytes: max_literal_bytes as u64 + max_command_bytes as u64,
            drop_oversized_literals: true,
        }
    }

    /// The most one message can hold in memory under these limits.
    pub fn max_message_bytes(&self) -> u64 {
        self.max_line_bytes as u64 + self.max_literals_bytes
    }
}

/// What the connection does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// A complete message; its bytes are [`Framer::message`].
    Message,
    /// A synchronising literal within the limits was announced: send a continuation request.
    ContinueLiteral,
    /// A synchronising literal over the limit was announced: answer the tag `NO [TOOBIG]`
    /// instead of a continuation (RFC 3501 7.5); the client sends no literal and the message
    /// ends here.
    LiteralRefused { length: u64 },
    /// The message exceeded a limit and was dropped as it arrived: answer the tag
    /// `BAD [TOOBIG]`.
    TooBig,
    /// The message's end cannot be found safely (a literal length that is not a number IMAP
    /// allows, or an oversized literal where the limits say not to read it): answer
    /// `BAD [TOOBIG]` and close the connection.
    Broken,
}

/// Bytes of a line's end kept to read a literal announcement (`~{4294967295+}\r\n` and more),
/// even when the line itself is dropped.
const TAIL_BYTES: usize = 16;
/// Bytes of a dropped message kept so its tag can be answered.
const TAG_BYTES: usize = 64;
/// A message buffer that grew past this is given back after its message.
const RETAINED_CAPACITY: usize = 16 * 1024;
/// An input buffer that grew past this is given back once everything in it is framed.
const RETAINED_INPUT: usize = 2 * 1024;

#[derive(Debug, Clone, Copy)]
enum State {
    /// Between messages: the next byte starts one.
    Idle,
    Line,
    Literal {
        remaining: u64,
    },
}

/// Splits bytes into messages within [`FrameLimits`].
#[derive(Debug)]
pub struct Framer {
    limits: FrameLimits,
    /// Bytes pushed and not yet framed, from `input_start`.
    input: Vec<u8>,
    input_start: usize,
    state: State,
    /// The current message, as far as it is kept.
    message: Vec<u8>,
    line_bytes: usize,
    literals_bytes: u64,
    /// The last bytes of the current line.
    tail: Vec<u8>,
    /// The current message broke a limit: its bytes are being dropped.
    dropping: bool,
}

impl Framer {
    pub fn new(limits: FrameLimits) -> Framer {
        Framer {
            limits,
            input: Vec::new(),
            input_start: 0,
            state: State::Idle,
            message: Vec::new(),
            line_bytes: 0,
            literals_bytes: 0,
            tail: Vec::with_capacity(TAIL_BYTES),
            dropping: false,
        }
    }

    /// Limits for the messages that start from now on (the one in progress keeps its own).
    pub fn set_limits(&mut self, limits: FrameLimits) {
        self.limits = limits;
    }

    pub fn limits(&self) -> FrameLimits {
        self.limits
    }

    /// Adds bytes read from the client. Push only when [`Framer::next`] returned `None`, so
    /// what is held unframed stays one read's worth.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.input_start == self.input.len() {
            // Everything was framed: give back what a burst of input left, so an idle
            // connection holds little.
            if self.input.capacity() > RETAINED_INPUT {
                self.input = Vec::with_capacity(bytes.len());
            }
            self.input.clear();
            self.input_start = 0;
        } else if self.input_start > self.input.len() / 2 {
            self.input.drain(..self.input_start);
            self.input_start = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Whether bytes are waiting to be framed.
    pub fn has_input(&self) -> bool {
        self.input_start < self.input.len()
    }

    /// Whether a message has begun and not ended.
    pub fn in_message(&self) -> bool {
        !matches!(self.state, State::Idle)
    }

    /// The bytes of the message the last [`Frame::Message`] announced, or the first bytes of a
    /// refused one.
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The tag of the current or last message, when its first word is one (for answering a
    /// message that cannot be decoded).
    pub fn tag(&self) -> Option<&str> {
        let end = self
            .message
            .iter()
            .position(|&b| b == b' ' || b == b'\r' || b == b'\n')?;
        let tag = std::str::from_utf8(&self.message[..end]).ok()?;
        // RFC 3501 9: tag = 1*<any ASTRING-CHAR except "+">.
        let valid = !tag.is_empty()
            && tag.bytes().all(|b| {
                b.is_ascii_graphic()
                    && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
            });
        valid.then_some(tag)
    }

    /// The next frame, or `None` when more bytes are needed. `literals` says whether a line may
    /// announce a literal: false for AUTHENTICATE data and IDLE's DONE, which are single lines.
    pub fn next(&mut self, literals: bool) -> Option<Frame> {
        loop {
            match self.state {
                State::Idle => {
                    if !self.has_input() {
                        return None;
                    }
                    self.start_message();
                }
                State::Line => {
                    let available = &self.input[self.input_start..];
                    let newline = available.iter().position(|&b| b == b'\n');
                    let take = newline.map_or(available.len(), |at| at + 1);
                    if take == 0 {
                        return None;
                    }
                    let chunk_start = self.input_start;
                    self.input_start += take;
                    let chunk = &self.input[chunk_start..chunk_start + take];
                    if !self.dropping {
                        let room = self.limits.max_line_bytes.saturating_sub(self.line_bytes);
                        self.message.extend_from_slice(&chunk[..take.min(room)]);
                    }
                    self.line_bytes = self.line_bytes.saturating_add(take);
                    if self.line_bytes > self.limits.max_line_bytes {
                        self.drop_message();
                    }
                    let chunk = &self.input[chunk_start..chunk_start + take];
                    keep_tail(&mut self.tail, chunk);
                    newline?;
                    let announcement = if literals {
                        announced_literal(&self.tail)
                    } else {
                        Announcement::None
                    };
                    self.tail.clear();
                    match announcement {
                        Announcement::None => return Some(self.end_message()),
                        Announcement::Unreadable => return Some(self.broken()),
                        Announcement::Literal { length, sync } => {
                            if let Some(frame) = self.announce(length, sync) {
                                return Some(frame);
                            }
                        }
                    }
                }
                // An empty literal (`{0}`, `~{0}`) has no bytes to wait for.
                State::Literal { remaining: 0 } => self.state = State::Line,
                State::Literal { remaining } => {
                    let available = (self.input.len() - self.input_start) as u64;
                    let take = available.min(remaining) as usize;
                    if take == 0 {
                        return None;
                    }
                    if !self.dropping {
                        self.message
                            .extend_from_slice(&self.input[self.input_start..][..take]);
                    }
                    self.input_start += take;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::Line
                    } else {
                        State::Literal { remaining }
                    };
                }
            }
        }
    }

    fn start_message(&mut self) {
        self.message.clear();
        if self.message.capacity() > RETAINED_CAPACITY {
            self.message.shrink_to(RETAINED_CAPACITY);
        }
        self.line_bytes = 0;
        self.literals_bytes = 0;
        self.tail.clear();
        self.dropping = false;
        self.state = State::Line;
    }

    /// A literal of `length` was announced at the end of the current line.
    fn announce(&mut self, length: u64, sync: bool) -> Option<Frame> {
        let total = self.literals_bytes.saturating_add(length);
        let fits =
            length <= self.limits.max_literal_bytes && total <= self.limits.max_literals_bytes;
        if sync {
            if self.dropping {
                // The client waits for a continuation: the refusal ends the message.
                return Some(self.end_message());
            }
            if !fits {
                self.state = State::Idle;
                return Some(Frame::LiteralRefused { length });
            }
            self.literals_bytes = total;
            self.state = State::Literal { remaining: length };
            return Some(Frame::ContinueLiteral);
        }
        if !fits {
            if !self.limits.drop_oversized_literals && length > self.limits.max_literal_bytes {
                return Some(self.broken());
            }
            self.drop_message();
        }
        self.literals_bytes = total;
        self.state = State::Literal { remaining: length };
        None
    }

    fn drop_message(&mut self) {
        if !self.dropping {
            self.dropping = true;
            self.message.truncate(TAG_BYTES);
            self.message.shrink_to(RETAINED_CAPACITY);
        }
    }

    fn end_message(&mut self) -> Frame {
        self.state = State::Idle;
        if self.dropping {
            Frame::TooBig
        } else {
            Frame::Message
        }
    }

    fn broken(&mut self) -> Frame {
        self.drop_message();
        self.state = State::Idle;
        // Nothing after this can be framed: drop what is buffered.
        self.input.clear();
        self.input_start = 0;
        Frame::Broken
    }
}

fn keep_tail(tail: &mut Vec<u8>, chunk: &[u8]) {
    if chunk.len() >= TAIL_BYTES {
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len() - TAIL_BYTES..]);
    } else {
        let overflow = (tail.len() + chunk.len()).saturating_sub(TAIL_BYTES);
        tail.drain(..overflow);
        tail.extend_from_slice(chunk);
    }
}

enum Announcement {
    None,
    Literal {
        length: u64,
        sync: bool,
    },
    /// `{digits}` whose number is not a 32-bit length (RFC 3501 9: number is 32 bits).
    Unreadable,
}

/// Reads `{N}` or `{N+}` at the end of a line (its last bytes, line ending included).
fn announced_literal(tail: &[u8]) -> Announcement {
    let line = tail
        .strip_suffix(b"\r\n")
        .or_else(|| tail.strip_suffix(b"\n"))
        .unwrap_or(tail);
    let Some(inner) = line.strip_suffix(b"}") else {
        return Announcement::None;
    };
    let (digits_and_open, sync) = match inner.strip_suffix(b"+") {
        Some(rest) => (rest, false),
        None => (inner, true),
    };
    let digit_count = digits_and_open
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digit_count == 0 {
        return Announcement::None;
    }
    let before = digits_and_open.len() - digit_count;
    if before == 0 {
        // All digits back to where the tail starts: more digits than any 32-bit number has,
        // if the line was longer than the tail; an announcement is a number after `{`.
        return if line.len() + 2 >= TAIL_BYTES {
            Announcement::Unreadable
        } else {
            Announcement::None
        };
    }
    if digits_and_open[before - 1] != b'{' {
        return Announcement::None;
    }
    let digits = &digits_and_open[before..];
    let length = std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|&length| length <= u32::MAX as u64);
    match length {
        Some(length) => Announcement::Literal { length, sync },
        None => Announcement::Unreadable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(line: usize, literal: u64) -> FrameLimits {
        FrameLimits {
            max_line_bytes: line,
            max_literal_bytes: literal,
            max_literals_bytes: literal * 2,
            drop_oversized_literals: true,
        }
    }

    /// Frames `input` pushed in chunks of `chunk` bytes; returns each frame with the message
    /// bytes (or tag) it came with.
    fn frames(framer: &mut Framer, input: &[u8], chunk: usize) -> Vec<(Frame, String)> {
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            framer.push(piece);
            while let Some(frame) = framer.next(true) {
                let text = match frame {
                    Frame::Message => String::from_utf8_lossy(framer.message()).into_owned(),
                    _ => framer.tag().unwrap_or("*").to_string(),
                };
                out.push((frame, text));
            }
        }
        out
    }

    #[test]
    fn lines_and_literals_in_any_split() {
        let input = b"a LOGIN {5}\r\nalice {3+}\r\nabc\r\nb NOOP\nc SELECT INBOX\r\n";
        for chunk in 1..input.len() {
            let mut framer = Framer::new(limits(1024, 1024));
            let got = frames(&mut framer, input, chunk);
            assert_eq!(
                got,
                vec![
                    (Frame::ContinueLiteral, "a".into()),
                    (
                        Frame::Message,
                        "a LOGIN {5}\r\nalice {3+}\r\nabc\r\n".into()
                    ),
                    (Frame::Message, "b NOOP\n".into()),
                    (Frame::Message, "c SELECT INBOX\r\n".into()),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn empty_literals_end_at_once() {
        let input = b"a APPEND INBOX {0}\r\n\r\nb APPEND INBOX ~{0+}\r\n\r\nc NOOP\r\n";
        for chunk in 1..input.len() {
            let mut framer = Framer::new(limits(1024, 1024));
            let got = frames(&mut framer, input, chunk);
            assert_eq!(
                got,
                vec![
                    (Frame::ContinueLiteral, "a".into()),
                    (Frame::Message, "a APPEND INBOX {0}\r\n\r\n".into()),
                    (Frame::Message, "b APPEND INBOX ~{0+}\r\n\r\n".into()),
                    (Frame::Message, "c NOOP\r\n".into()),
                ],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_long_line_is_dropped_as_it_arrives() {
        let mut framer = Framer::new(limits(100, 1024));
        framer.push(b"t1 LOGIN ");
        for _ in 0..1000 {
            framer.push(&[b'x'; 1000]);
            assert_eq!(framer.next(true), None);
            assert!(framer.message().len() <= 100, "{}", framer.message().len());
        }
        framer.push(b"\r\nt2 NOOP\r\n");
        assert_eq!(framer.next(true), Some(Frame::TooBig));
        assert_eq!(framer.tag(), Some("t1"));
        assert_eq!(framer.next(true), Some(Frame::Message));
        assert_eq!(framer.message(), b"t2 NOOP\r\n");
    }

    #[test]
    fn literal_limits_sync_and_nonsync() {
        let mut framer = Framer::new(limits(1024, 10));
        // A synchronising literal over the limit is refused; the client sends no literal.
        let got = frames(&mut framer, b"a APPEND x {11}\r\nb NOOP\r\n", 3);
        assert_eq!(
            got,
            vec![
                (Frame::LiteralRefused { length: 11 }, "a".into()),
                (Frame::Message, "b NOOP\r\n".into())
            ]
        );
        // A non-synchronising one is read and dropped, and the command refused.
        let mut input = b"a APPEND x {20+}\r\n".to_vec();
        input.extend([b'y'; 20]);
        input.extend(b"\r\nb NOOP\r\n");
        let got = frames(&mut framer, &input, 7);
        assert_eq!(
            got,
            vec![
                (Frame::TooBig, "a".into()),
                (Frame::Message, "b NOOP\r\n".into())
            ]
        );
        // Several literals within the limit each but not together.
        let mut input = b"a X {10+}\r\n".to_vec();
        input.extend([b'1'; 10]);
        input.extend(b" {10+}\r\n");
        input.extend([b'2'; 10]);
        input.extend(b" {10+}\r\n");
        input.extend([b'3'; 10]);
        input.extend(b"\r\n");
        let got = frames(&mut framer, &input, 5);
        assert_eq!(got, vec![(Frame::TooBig, "a".into())]);
        // A synchronising literal past the total is refused before it is sent.
        let mut input = b"a X {10+}\r\n".to_vec();
        input.extend([b'1'; 10]);
        input.extend(b" {10+}\r\n");
        input.extend([b'2'; 10]);
        input.extend(b" {1}\r\n");
        let got = frames(&mut framer, &input, 5);
        assert_eq!(got, vec![(Frame::LiteralRefused { length: 1 }, "a".into())]);
    }

    #[test]
    fn before_login_an_oversized_literal_ends_the_connection() {
        let mut framer = Framer::new(FrameLimits::before_login());
        framer.push(b"a LOGIN {52428801+}\r\nxxxx");
        assert_eq!(framer.next(true), Some(Frame::Broken));
        assert_eq!(framer.tag(), Some("a"));
        // A synchronising one is only refused.
        let mut framer = Framer::new(FrameLimits::before_login());
        framer.push(b"a LOGIN {52428801}\r\nb NOOP\r\n");
        assert_eq!(
            framer.next(true),
            Some(Frame::LiteralRefused { length: 52428801 })
        );
        assert_eq!(framer.next(true), Some(Frame::Message));
    }

    #[test]
    fn unreadable_lengths_end_the_connection() {
        for line in [
            &b"a LOGIN {4294967296}\r\n"[..],
            b"a LOGIN {99999999999999999999999999+}\r\n",
        ] {
            let mut framer = Framer::new(limits(1024, 1024));
            framer.push(line);
            assert_eq!(framer.next(true), Some(Frame::Broken), "{line:?}");
        }
        let mut framer = Framer::new(limits(1024, 1024));
        framer.push(b"a LOGIN {}\r\nb x{1a}\r\n");
        assert_eq!(framer.next(true), Some(Frame::Message));
        assert_eq!(framer.next(true), Some(Frame::Message));
    }

    #[test]
    fn single_line_messages_ignore_announcements() {
        let mut framer = Framer::new(limits(1024, 1024));
        framer.push(b"DONE {5}\r\nabc");
        assert_eq!(framer.next(false), Some(Frame::Message));
        assert_eq!(framer.message(), b"DONE {5}\r\n");
    }

    #[test]
    fn a_dropped_line_announcing_a_sync_literal_is_refused_at_once() {
        let mut framer = Framer::new(limits(20, 1024));
        let mut input = b"a APPEND ".to_vec();
        input.extend([b'x'; 100]);
        input.extend(b" {5}\r\nb NOOP\r\n");
        let got = frames(&mut framer, &input, 9);
        assert_eq!(
            got,
            vec![
                (Frame::TooBig, "a".into()),
                (Frame::Message, "b NOOP\r\n".into())
            ]
        );
    }

    #[test]
    fn buffers_are_given_back_after_a_large_message() {
        let mut framer = Framer::new(limits(1024, 1 << 20));
        let mut input = b"a APPEND x {100000+}\r\n".to_vec();
        input.extend([b'm'; 100000]);
        input.extend(b"\r\n");
        assert_eq!(frames(&mut framer, &input, 4096).len(), 1);
        framer.push(b"b NOOP\r\n");
        assert_eq!(framer.next(true), Some(Frame::Message));
        assert!(framer.message.capacity() <= RETAINED_CAPACITY);
    }
}
