//! Owns the load test's IMAP client: one connection (TLS or plain) over tokio, commands sent
//! with tags and, for APPEND, a literal (LITERAL+ when the server offers it, else a synchronising
//! literal), IDLE, and every response read whole (literals included) and parsed into the
//! untagged responses the consistency checks need (EXISTS, EXPUNGE, FETCH, STATUS, SEARCH,
//! response codes), in the order the server sent them.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The longest response line (literals apart) the client accepts.
const MAX_LINE: usize = 1 << 20;
/// The largest literal the client accepts.
const MAX_LITERAL: usize = 256 << 20;

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// Why a command did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("the server closed the connection")]
    Closed,
    #[error("the server said BYE: {0}")]
    Bye(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("unreadable response: {0}")]
    Protocol(String),
}

impl ClientError {
    /// A short, bounded name for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientError::Io(_) => "io",
            ClientError::Closed => "closed",
            ClientError::Bye(_) => "bye",
            ClientError::Timeout(_) => "timeout",
            ClientError::Protocol(_) => "protocol",
        }
    }
}

/// The status of a tagged answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// A value inside a parenthesised response (FETCH items, STATUS, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Atom(String),
    /// A quoted string or a literal.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Nil,
}

impl Value {
    pub fn number(&self) -> Option<u64> {
        match self {
            Value::Atom(atom) => atom.parse().ok(),
            _ => None,
        }
    }

    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The atoms of a list (a FLAGS list).
    pub fn atoms(&self) -> Vec<String> {
        match self {
            Value::List(items) => items
                .iter()
                .filter_map(|item| match item {
                    Value::Atom(atom) => Some(atom.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// One untagged response, as far as the load test reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Untagged {
    Exists(u32),
    Expunge(u32),
    /// `* n FETCH (...)`: the sequence number and the items, names upper-cased.
    Fetch(u32, Vec<(String, Value)>),
    /// `* STATUS mailbox (NAME n ...)`.
    Status(Vec<(String, u64)>),
    /// `* SEARCH n...`.
    Search(Vec<u32>),
    Capability(Vec<String>),
    /// `* OK [CODE ...] text` and the like: the code's words.
    Code(Vec<String>),
    Bye(String),
    Other,
}

/// A command's answer: everything untagged before it, then the tagged status.
#[derive(Debug, Clone)]
pub struct Answer {
    pub untagged: Vec<Untagged>,
    pub status: Status,
    /// The response code's words, e.g. `["APPENDUID", "3", "41"]`.
    pub code: Vec<String>,
    pub text: String,
    /// Bytes received for this command.
    pub received: usize,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status == Status::Ok
    }

    /// Whether the command failed. A NO [EXPUNGEISSUED] is not a failure: RFC 2180 4.1.2 lets a
    /// server refuse a FETCH or STORE that names a message another session expunged, which is
    /// the mailbox being shared, not the server failing.
    pub fn failed(&self) -> bool {
        match self.status {
            Status::Ok => false,
            Status::No => !self
                .code
                .first()
                .is_some_and(|c| c.eq_ignore_ascii_case("EXPUNGEISSUED")),
            Status::Bad => true,
        }
    }

    /// A bounded name for a failed answer: `NO`, `BAD`, or with its code, `NO [UNAVAILABLE]`.
    pub fn failure_kind(&self) -> String {
        let status = match self.status {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
        };
        match self.code.first() {
            Some(code)
                if code.len() <= 24
                    && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
            {
                format!("{status} [{code}]")
            }
            _ => status.to_string(),
        }
    }
}

/// What a received response line is.
enum Line {
    Untagged(Vec<u8>),
    Continuation,
    Tagged(String, Vec<u8>),
}

/// One IMAP connection.
pub struct Client {
    stream: BufReader<Box<dyn Duplex>>,
    next_tag: u32,
    timeout: Duration,
    /// CAPABILITY as last announced.
    pub capabilities: Vec<String>,
    /// Untagged responses that arrived outside a command (IDLE leftovers).
    pending: Vec<Untagged>,
    /// LOGOUT was sent: BYE is the expected answer, not a failure.
    logging_out: bool,
}

/// How to reach the server.
#[derive(Clone)]
pub struct Target {
    pub address: String,
    /// The TLS configuration and the name to check, or None for plain IMAP.
    pub tls: Option<(
        Arc<rustls::ClientConfig>,
        rustls::pki_types::ServerName<'static>,
    )>,
    pub timeout: Duration,
}

impl Client {
    /// Connects, reads the greeting, and keeps its capabilities if it names them.
    pub async fn connect(target: &Target) -> Result<Client, ClientError> {
        let connecting = async {
            let tcp = TcpStream::connect(&target.address).await?;
            let _ = tcp.set_nodelay(true);
            let stream: Box<dyn Duplex> = match &target.tls {
                Some((config, name)) => {
                    let connector = tokio_rustls::TlsConnector::from(config.clone());
                    Box::new(connector.connect(name.clone(), tcp).await?)
                }
                None => Box::new(tcp),
            };
            Ok::<_, ClientError>(stream)
        };
        let stream = tokio::time::timeout(target.timeout, connecting)
            .await
            .map_err(|_| ClientError::Timeout(target.timeout))??;
        let mut client = Client {
            stream: BufReader::new(stream),
            next_tag: 0,
            timeout: target.timeout,
            capabilities: Vec::new(),
            pending: Vec::new(),
            logging_out: false,
        };
        let greeting = client.read_line_timed().await?;
        match greeting {
            Line::Untagged(raw) => match parse_untagged(&raw) {
                Untagged::Bye(text) => return Err(ClientError::Bye(text)),
                Untagged::Code(words) => client.note_capabilities(&words),
                _ => {}
            },
            _ => return Err(ClientError::Protocol("no greeting".into())),
        }
        Ok(client)
    }

    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    fn note_capabilities(&mut self, code: &[String]) {
        if code
            .first()
            .is_some_and(|c| c.eq_ignore_ascii_case("CAPABILITY"))
        {
            self.capabilities = code[1..].to_vec();
        }
    }

    fn tag(&mut self) -> String {
        self.next_tag += 1;
        format!("L{}", self.next_tag)
    }

    /// Sends `command` and reads up to its tagged answer.
    pub async fn command(&mut self, command: &str) -> Result<Answer, ClientError> {
        let tag = self.tag();
        self.logging_out = command.eq_ignore_ascii_case("LOGOUT");
        self.write(format!("{tag} {command}\r\n").as_bytes())
            .await?;
        self.answer(&tag, 0).await
    }

    /// Sends `before {n}` + `literal` + `after` (e.g. an APPEND), with LITERAL+ when offered.
    pub async fn command_with_literal(
        &mut self,
        before: &str,
        literal: &[u8],
        after: &str,
    ) -> Result<Answer, ClientError> {
        let tag = self.tag();
        if self.has_capability("LITERAL+") {
            let mut bytes = format!("{tag} {before} {{{}+}}\r\n", literal.len()).into_bytes();
            bytes.extend_from_slice(literal);
            bytes.extend_from_slice(format!("{after}\r\n").as_bytes());
            self.write(&bytes).await?;
            return self.answer(&tag, 0).await;
        }
        self.write(format!("{tag} {before} {{{}}}\r\n", literal.len()).as_bytes())
            .await?;
        let mut untagged = Vec::new();
        let mut received = 0;
        if let Some(answer) = self
            .until_continuation(&tag, &mut untagged, &mut received)
            .await?
        {
            return Ok(answer);
        }
        let mut bytes = literal.to_vec();
        bytes.extend_from_slice(format!("{after}\r\n").as_bytes());
        self.write(&bytes).await?;
        self.pending.append(&mut untagged);
        self.answer(&tag, received).await
    }

    /// IDLE for at most `wait`, or until the server reports a change (EXISTS, EXPUNGE, FETCH);
    /// then DONE and the tagged answer, with every untagged response seen meanwhile.
    pub async fn idle(&mut self, wait: Duration) -> Result<Answer, ClientError> {
        let tag = self.tag();
        self.write(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let mut untagged = Vec::new();
        let mut received = 0;
        if let Some(answer) = self
            .until_continuation(&tag, &mut untagged, &mut received)
            .await?
        {
            return Ok(answer);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.read_raw()).await {
                Err(_) => break,
                Ok(read) => {
                    let (line, size) = read?;
                    received += size;
                    if let Line::Untagged(raw) = line {
                        self.keep_untagged(&raw, &mut untagged)?;
                        if matches!(
                            untagged.last(),
                            Some(Untagged::Exists(_) | Untagged::Expunge(_) | Untagged::Fetch(..))
                        ) {
                            break;
                        }
                    }
                }
            }
        }
        self.write(b"DONE\r\n").await?;
        self.pending.append(&mut untagged);
        self.answer(&tag, received).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let stream = self.stream.get_mut();
        tokio::time::timeout(self.timeout, async {
            stream.write_all(bytes).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| ClientError::Timeout(self.timeout))??;
        Ok(())
    }

    async fn answer(&mut self, tag: &str, mut received: usize) -> Result<Answer, ClientError> {
        let mut untagged = std::mem::take(&mut self.pending);
        loop {
            let (line, size) = self.read_raw_timed().await?;
            received += size;
            match line {
                Line::Untagged(raw) => self.keep_untagged(&raw, &mut untagged)?,
                Line::Continuation => {
                    return Err(ClientError::Protocol(
                        "a continuation request nobody asked for".into(),
                    ))
                }
                Line::Tagged(got, rest) if got == tag => {
                    let mut answer = tagged_answer(&rest, untagged);
                    answer.received = received;
                    if let Some(first) = answer.code.first() {
                        if first.eq_ignore_ascii_case("CAPABILITY") {
                            let code = answer.code.clone();
                            self.note_capabilities(&code);
                        }
                    }
                    return Ok(answer);
                }
                Line::Tagged(..) => {}
            }
        }
    }

    /// Reads up to the server's continuation request, keeping the untagged responses and
    /// counting the octets; the tagged answer instead when the server ended the command there.
    async fn until_continuation(
        &mut self,
        tag: &str,
        untagged: &mut Vec<Untagged>,
        received: &mut usize,
    ) -> Result<Option<Answer>, ClientError> {
        loop {
            let (line, size) = self.read_raw_timed().await?;
            *received += size;
            match line {
                Line::Continuation => return Ok(None),
                Line::Untagged(raw) => self.keep_untagged(&raw, untagged)?,
                Line::Tagged(got, rest) if got == tag => {
                    let mut answer = tagged_answer(&rest, std::mem::take(untagged));
                    answer.received = *received;
                    return Ok(Some(answer));
                }
                Line::Tagged(..) => {}
            }
        }
    }

    fn keep_untagged(&mut self, raw: &[u8], into: &mut Vec<Untagged>) -> Result<(), ClientError> {
        let parsed = parse_untagged(raw);
        match &parsed {
            Untagged::Bye(text) if !self.logging_out => return Err(ClientError::Bye(text.clone())),
            Untagged::Capability(names) => self.capabilities = names.clone(),
            Untagged::Code(words) => {
                let words = words.clone();
                self.note_capabilities(&words);
            }
            _ => {}
        }
        into.push(parsed);
        Ok(())
    }

    async fn read_line_timed(&mut self) -> Result<Line, ClientError> {
        Ok(self.read_raw_timed().await?.0)
    }

    async fn read_raw_timed(&mut self) -> Result<(Line, usize), ClientError> {
        tokio::time::timeout(self.timeout, self.read_raw())
            .await
            .map_err(|_| ClientError::Timeout(self.timeout))?
    }

    /// One whole response: its line, and each literal it announces with the rest after it.
    async fn read_raw(&mut self) -> Result<(Line, usize), ClientError> {
        let mut raw = Vec::new();
        loop {
            let start = raw.len();
            let read = (&mut self.stream)
                .take((MAX_LINE + 2) as u64)
                .read_until(b'\n', &mut raw)
                .await?;
            if read == 0 {
                return Err(ClientError::Closed);
            }
            if !raw.ends_with(b"\n") {
                return Err(ClientError::Protocol("a response line too long".into()));
            }
            match literal_length(&raw[start..]) {
                Some(length) if length <= MAX_LITERAL => {
                    let at = raw.len();
                    raw.resize(at + length, 0);
                    self.stream.read_exact(&mut raw[at..]).await?;
                }
                Some(_) => return Err(ClientError::Protocol("a literal too large".into())),
                None => break,
            }
        }
        let size = raw.len();
        let line = if raw.starts_with(b"* ") {
            Line::Untagged(raw)
        } else if raw.starts_with(b"+") {
            Line::Continuation
        } else {
            let space = raw.iter().position(|&b| b == b' ').unwrap_or(raw.len());
            let tag = String::from_utf8_lossy(&raw[..space]).into_owned();
            let rest = raw.get(space + 1..).unwrap_or_default().to_vec();
            Line::Tagged(tag, rest)
        };
        Ok((line, size))
    }
}

/// `{n}` at the end of a line (before CRLF): the literal's length.
fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..])
        .ok()?
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// `OK [CODE args] text` after the tag.
fn tagged_answer(rest: &[u8], untagged: Vec<Untagged>) -> Answer {
    let text = String::from_utf8_lossy(rest).trim_end().to_string();
    let (status, after) = match text.split_once(' ') {
        Some((status, after)) => (status.to_ascii_uppercase(), after.to_string()),
        None => (text.to_ascii_uppercase(), String::new()),
    };
    let status = match status.as_str() {
        "OK" => Status::Ok,
        "NO" => Status::No,
        _ => Status::Bad,
    };
    let (code, text) = response_code(&after);
    Answer {
        untagged,
        status,
        code,
        text,
        received: 0,
    }
}

/// Splits `[CODE a b] text` into the code's words and the text.
fn response_code(text: &str) -> (Vec<String>, String) {
    if let Some(inner) = text.strip_prefix('[') {
        if let Some(end) = inner.find(']') {
            let words = inner[..end]
                .split_whitespace()
                .map(str::to_string)
                .collect();
            return (words, inner[end + 1..].trim().to_string());
        }
    }
    (Vec::new(), text.to_string())
}

/// Parses an untagged response (`* ...` with its literals inline).
pub fn parse_untagged(raw: &[u8]) -> Untagged {
    let body = raw.strip_prefix(b"* ").unwrap_or(raw);
    let body = body.strip_suffix(b"\r\n").unwrap_or(body);
    let first_end = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
    let first = String::from_utf8_lossy(&body[..first_end]).to_ascii_uppercase();
    let rest = body.get(first_end + 1..).unwrap_or_default();
    if let Ok(number) = first.parse::<u32>() {
        let second_end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let second = String::from_utf8_lossy(&rest[..second_end]).to_ascii_uppercase();
        let after = rest.get(second_end + 1..).unwrap_or_default();
        return match second.as_str() {
            "EXISTS" => Untagged::Exists(number),
            "EXPUNGE" => Untagged::Expunge(number),
            "FETCH" => match parse_fetch_items(after) {
                Some(items) => Untagged::Fetch(number, items),
                None => Untagged::Other,
            },
            _ => Untagged::Other,
        };
    }
    let text = || String::from_utf8_lossy(rest).into_owned();
    match first.as_str() {
        "OK" | "NO" | "BAD" | "PREAUTH" => Untagged::Code(response_code(&text()).0),
        "BYE" => Untagged::Bye(text()),
        "CAPABILITY" => {
            Untagged::Capability(text().split_whitespace().map(str::to_string).collect())
        }
        "SEARCH" => Untagged::Search(
            text()
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect(),
        ),
        "STATUS" => parse_status(rest).unwrap_or(Untagged::Other),
        _ => Untagged::Other,
    }
}

fn parse_status(rest: &[u8]) -> Option<Untagged> {
    let mut parser = Parser {
        input: rest,
        pos: 0,
    };
    parser.value()?; // the mailbox name
    parser.spaces();
    let Value::List(items) = parser.value()? else {
        return None;
    };
    let mut pairs = Vec::new();
    for pair in items.chunks(2) {
        if let [Value::Atom(name), value] = pair {
            pairs.push((name.to_ascii_uppercase(), value.number()?));
        }
    }
    Some(Untagged::Status(pairs))
}

/// `(NAME value NAME value ...)` of a FETCH response.
fn parse_fetch_items(input: &[u8]) -> Option<Vec<(String, Value)>> {
    let mut parser = Parser { input, pos: 0 };
    if parser.next()? != b'(' {
        return None;
    }
    let mut items = Vec::new();
    loop {
        parser.spaces();
        if parser.peek()? == b')' {
            return Some(items);
        }
        let name = parser.item_name()?;
        parser.spaces();
        let value = parser.value()?;
        items.push((name.to_ascii_uppercase(), value));
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// A FETCH item name: `BODY[HEADER.FIELDS (MESSAGE-ID)]<0>` holds spaces inside brackets.
    fn item_name(&mut self) -> Option<String> {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(byte) = self.peek() {
            match byte {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b' ' | b')' if depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        (self.pos > start)
            .then(|| String::from_utf8_lossy(&self.input[start..self.pos]).into_owned())
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            b'(' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.spaces();
                    if self.peek()? == b')' {
                        self.pos += 1;
                        return Some(Value::List(items));
                    }
                    items.push(self.value()?);
                }
            }
            b'"' => {
                self.pos += 1;
                let mut bytes = Vec::new();
                loop {
                    match self.next()? {
                        b'\\' => bytes.push(self.next()?),
                        b'"' => return Some(Value::Bytes(bytes)),
                        byte => bytes.push(byte),
                    }
                }
            }
            b'{' => {
                let close = self.input[self.pos..].iter().position(|&b| b == b'}')? + self.pos;
                let length: usize = std::str::from_utf8(&self.input[self.pos + 1..close])
                    .ok()?
                    .trim_end_matches('+')
                    .parse()
                    .ok()?;
                let mut start = close + 1;
                if self.input.get(start..start + 2) == Some(b"\r\n") {
                    start += 2;
                } else if self.input.get(start) == Some(&b'\n') {
                    start += 1;
                }
                let bytes = self.input.get(start..start + length)?.to_vec();
                self.pos = start + length;
                Some(Value::Bytes(bytes))
            }
            _ => {
                let start = self.pos;
                let mut depth = 0usize;
                while let Some(byte) = self.peek() {
                    match byte {
                        b'[' => depth += 1,
                        b']' => depth = depth.saturating_sub(1),
                        b' ' | b')' | b'(' if depth == 0 => break,
                        b'\r' | b'\n' => break,
                        _ => {}
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    return None;
                }
                let atom = String::from_utf8_lossy(&self.input[start..self.pos]).into_owned();
                Some(if atom.eq_ignore_ascii_case("NIL") {
                    Value::Nil
                } else {
                    Value::Atom(atom)
                })
            }
        }
    }
}

/// A string as an IMAP quoted string, or None when it needs a literal (CR, LF, NUL, 8-bit).
pub fn quoted(text: &str) -> Option<String> {
    if text
        .bytes()
        .any(|b| b == b'\r' || b == b'\n' || b == 0 || b >= 0x80)
    {
        return None;
    }
    Some(format!(
        "\"{}\"",
        text.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_items_with_sections_and_literals() {
        let raw = b"* 12 FETCH (UID 7 FLAGS (\\Seen $Forwarded) RFC822.SIZE 120 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n)\r\n";
        let Untagged::Fetch(12, items) = parse_untagged(raw) else {
            panic!("not a FETCH: {:?}", parse_untagged(raw));
        };
        assert_eq!(items[0], ("UID".into(), Value::Atom("7".into())));
        assert_eq!(items[1].1.atoms(), vec!["\\Seen", "$Forwarded"]);
        assert_eq!(items[2].1.number(), Some(120));
        assert_eq!(items[3].0, "BODY[HEADER.FIELDS (MESSAGE-ID)]");
        assert_eq!(items[3].1.bytes(), Some(&b"Message-ID: <a@b>\r\n\r\n"[..]));
    }

    #[test]
    fn status_search_exists_and_codes() {
        assert_eq!(
            parse_untagged(b"* STATUS \"INBOX\" (MESSAGES 3 UNSEEN 1)\r\n"),
            Untagged::Status(vec![("MESSAGES".into(), 3), ("UNSEEN".into(), 1)])
        );
        assert_eq!(
            parse_untagged(b"* SEARCH 2 5\r\n"),
            Untagged::Search(vec![2, 5])
        );
        assert_eq!(parse_untagged(b"* 4 EXISTS\r\n"), Untagged::Exists(4));
        assert_eq!(parse_untagged(b"* 2 EXPUNGE\r\n"), Untagged::Expunge(2));
        assert_eq!(
            parse_untagged(b"* OK [UIDVALIDITY 9] ok\r\n"),
            Untagged::Code(vec!["UIDVALIDITY".into(), "9".into()])
        );
        let answer = tagged_answer(b"OK [APPENDUID 9 41] done\r\n", Vec::new());
        assert!(answer.ok());
        assert_eq!(answer.code, vec!["APPENDUID", "9", "41"]);
        let refused = tagged_answer(b"NO [UNAVAILABLE] throttled\r\n", Vec::new());
        assert_eq!(refused.failure_kind(), "NO [UNAVAILABLE]");
    }

    #[test]
    fn literal_lengths() {
        assert_eq!(literal_length(b"* 1 FETCH (BODY[] {42}\r\n"), Some(42));
        assert_eq!(literal_length(b"* 1 FETCH (FLAGS ())\r\n"), None);
        assert_eq!(quoted("a\"b\\c").as_deref(), Some("\"a\\\"b\\\\c\""));
        assert_eq!(quoted("é"), None);
    }
}
