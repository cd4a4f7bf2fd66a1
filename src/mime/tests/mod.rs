//! Tests of the whole module: RFC 3501 rules on small messages, Dovecot's
//! answers on a corpus of tricky ones (`dovecot_answers`), and a hostile
//! input loop that must never panic.

mod dovecot_answers;
mod support;

use super::*;
use support::*;

fn spec(part: &[u32], kind: SectionKind) -> SectionSpec {
    SectionSpec::new(part.to_vec(), kind)
}

fn section_text(message: &ParsedMessage, part: &[u32], kind: SectionKind) -> Option<String> {
    message
        .section(&spec(part, kind))
        .map(|data| String::from_utf8_lossy(&data).into_owned())
}

const MULTIPART: &str = "From: a@example.com\r\n\
Subject: parts\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
first\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
To: x@example.com\r\n\
X-Other: 1\r\n\
subject: inner\r\n\
\r\n\
inner body\r\n\
--b--\r\n";

#[test]
fn part_one_of_a_single_part_message_is_its_body() {
    let message = ParsedMessage::parse("Subject: s\r\n\r\nbody\r\n");
    assert_eq!(
        section_text(&message, &[1], SectionKind::Full).as_deref(),
        Some("body\r\n")
    );
    assert_eq!(section_text(&message, &[2], SectionKind::Full), None);
    assert_eq!(section_text(&message, &[1, 1], SectionKind::Full), None);
    assert_eq!(section_text(&message, &[0], SectionKind::Full), None);
}

#[test]
fn sections_of_a_multipart_with_an_enclosed_message() {
    let message = ParsedMessage::parse(MULTIPART);
    assert_eq!(
        section_text(&message, &[], SectionKind::Full).as_deref(),
        Some(MULTIPART)
    );
    assert_eq!(
        section_text(&message, &[1], SectionKind::Full).as_deref(),
        Some("first")
    );
    assert_eq!(
        section_text(&message, &[1], SectionKind::Mime).as_deref(),
        Some("Content-Type: text/plain\r\n\r\n")
    );
    // HEADER and TEXT need a message/rfc822 part.
    assert_eq!(section_text(&message, &[1], SectionKind::Header), None);
    assert_eq!(section_text(&message, &[1], SectionKind::Text), None);
    assert_eq!(
        section_text(&message, &[2], SectionKind::Header).as_deref(),
        Some("To: x@example.com\r\nX-Other: 1\r\nsubject: inner\r\n\r\n")
    );
    assert_eq!(
        section_text(&message, &[2], SectionKind::Text).as_deref(),
        Some("inner body")
    );
    // 2.1 is the body of the enclosed (single part) message.
    assert_eq!(
        section_text(&message, &[2, 1], SectionKind::Full).as_deref(),
        Some("inner body")
    );
    assert_eq!(section_text(&message, &[3], SectionKind::Full), None);
    // MIME needs a part number.
    assert_eq!(section_text(&message, &[], SectionKind::Mime), None);
}

#[test]
fn header_fields_are_verbatim_in_message_order_and_case_insensitive() {
    let message = ParsedMessage::parse(MULTIPART);
    let names = vec!["SUBJECT".to_owned(), "to".to_owned()];
    assert_eq!(
        section_text(&message, &[2], SectionKind::HeaderFields(names.clone())).as_deref(),
        Some("To: x@example.com\r\nsubject: inner\r\n\r\n")
    );
    assert_eq!(
        section_text(&message, &[2], SectionKind::HeaderFieldsNot(names)).as_deref(),
        Some("X-Other: 1\r\n\r\n")
    );
    assert_eq!(
        section_text(
            &message,
            &[],
            SectionKind::HeaderFields(vec!["X-None".to_owned()])
        )
        .as_deref(),
        Some("\r\n")
    );
}

#[test]
fn folded_fields_are_returned_whole() {
    let raw = "Subject: one\r\n two\r\nTo: a@b\r\n\r\nx";
    let message = ParsedMessage::parse(raw);
    assert_eq!(
        section_text(
            &message,
            &[],
            SectionKind::HeaderFields(vec!["subject".to_owned()])
        )
        .as_deref(),
        Some("Subject: one\r\n two\r\n\r\n")
    );
    let values: Vec<Vec<u8>> = message
        .header_values("SUBJECT")
        .map(|v| v.into_owned())
        .collect();
    assert_eq!(values, vec![b"one two".to_vec()]);
}

#[test]
fn bare_lf_becomes_crlf_and_sizes_follow() {
    let message = ParsedMessage::parse("Subject: x\n\nline\n");
    assert_eq!(message.raw(), b"Subject: x\r\n\r\nline\r\n");
    assert_eq!(message.size(), message.raw().len());
    let mut out = Vec::new();
    message.body_structure(&mut out, false);
    assert_eq!(
        out,
        b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 6 1)"
    );
}

#[test]
fn missing_content_type_is_text_plain_us_ascii() {
    let message = ParsedMessage::parse("MIME-Version: 1.0\r\n\r\nx");
    let mut out = Vec::new();
    message.body_structure(&mut out, true);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 1 0 NIL NIL NIL NIL)"
    );
}

#[test]
fn envelope_defaults_sender_and_reply_to_to_from() {
    let message = ParsedMessage::parse("From: a@b\r\n\r\n");
    let mut out = Vec::new();
    message.envelope(&mut out);
    assert_eq!(
        String::from_utf8_lossy(&out),
        "(NIL NIL ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"
    );
}

#[test]
fn part_numbers_cover_every_part() {
    let message = ParsedMessage::parse(MULTIPART);
    assert_eq!(message.part_numbers(), vec![vec![1], vec![2], vec![2, 1]]);
    let single = ParsedMessage::parse("Subject: x\r\n\r\nbody");
    assert_eq!(single.part_numbers(), vec![vec![1]]);
}

#[test]
fn binary_of_a_missing_part_is_none() {
    let message = ParsedMessage::parse(MULTIPART);
    assert_eq!(message.binary(&[7]), Ok(None));
    assert_eq!(message.binary_size(&[7]), Ok(None));
}

#[test]
fn deep_nesting_is_bounded() {
    let mut raw = String::new();
    for level in 0..2000 {
        raw.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n"
        ));
    }
    raw.push_str("Content-Type: text/plain\r\n\r\ndeep\r\n");
    let message = ParsedMessage::parse(raw.clone());
    exercise(&message);

    let mut nested = String::new();
    for _ in 0..2000 {
        nested.push_str("Content-Type: message/rfc822\r\n\r\n");
    }
    nested.push_str("Subject: bottom\r\n\r\nbody");
    exercise(&ParsedMessage::parse(nested));
}

#[test]
fn many_parts_are_bounded() {
    let mut raw = String::from("Content-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..12_000 {
        raw.push_str("--b\r\n\r\nx\r\n");
    }
    raw.push_str("--b--\r\n");
    let message = ParsedMessage::parse(raw);
    assert!(message.part_numbers().len() < 10_001);
    let mut out = Vec::new();
    message.body_structure(&mut out, true);
    assert!(!out.is_empty());
}

/// Calls everything the session can call on a message, checking the
/// invariants that hold for any input.
fn exercise(message: &ParsedMessage) {
    let mut out = Vec::new();
    message.envelope(&mut out);
    message.body_structure(&mut out, true);
    message.body_structure(&mut out, false);
    assert_eq!(message.size(), message.raw().len());
    assert_eq!(
        message.section(&spec(&[], SectionKind::Full)).as_deref(),
        Some(message.raw())
    );
    let header = message
        .section(&spec(&[], SectionKind::Header))
        .unwrap_or_default()
        .len();
    let text = message
        .section(&spec(&[], SectionKind::Text))
        .unwrap_or_default()
        .len();
    assert_eq!(header + text, message.size());
    let _ = message.binary(&[]);
    let _ = message.binary_size(&[]);
    let _ = message.header_values("from").count();
    let names = vec!["From".to_owned(), "Content-Type".to_owned()];
    for part in message.part_numbers().into_iter().take(200) {
        for kind in [
            SectionKind::Full,
            SectionKind::Mime,
            SectionKind::Header,
            SectionKind::Text,
            SectionKind::HeaderFields(names.clone()),
            SectionKind::HeaderFieldsNot(names.clone()),
        ] {
            if let Some(data) = message.section(&spec(&part, kind)) {
                assert!(data.len() <= message.size() * 2 + 64);
            }
        }
        let _ = message.binary(&part);
        let _ = message.binary_size(&part);
    }
}

/// A small deterministic generator, so failures reproduce.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound.max(1) as u64) as usize
    }
}

/// Pieces that make MIME parsers take unusual paths.
const FRAGMENTS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b"--b\r\n",
    b"--b--\r\n",
    b"--",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: multipart/digest; boundary=\"b\"\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"MIME-Version: 1.0\r\n",
    b"From: \"a\\\" b\" <@r:x@y>, g: a@b, (c) <;\r\n",
    b"To: undisclosed-recipients:;\r\n",
    b"Subject: =?utf-8?q?x?= \t\r\n more\r\n",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2; filename*1=x\r\n",
    b"Content-Type: text/plain; a*1=b; a*=c; \"\r\n",
    b"=?=\"\\(()<>@[]\x00\xff",
    b" \t",
    b":",
];

fn random_message(rng: &mut Xorshift) -> Vec<u8> {
    let mut raw = Vec::new();
    let pieces = rng.below(40);
    for _ in 0..pieces {
        if rng.below(4) == 0 {
            let len = rng.below(12);
            raw.extend((0..len).map(|_| rng.next() as u8));
        } else {
            raw.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
    }
    raw
}

#[test]
fn hostile_input_never_panics() {
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let corpus: Vec<&[u8]> = vec![MULTIPART.as_bytes()];
    for _ in 0..4000 {
        let raw = random_message(&mut rng);
        exercise(&ParsedMessage::parse(raw));
    }
    // Every truncation and a few corruptions of a real multipart.
    for base in corpus {
        for end in 0..=base.len() {
            exercise(&ParsedMessage::parse(base[..end].to_vec()));
        }
        for _ in 0..500 {
            let mut raw = base.to_vec();
            let at = rng.below(raw.len());
            raw[at] = rng.next() as u8;
            let cut = rng.below(raw.len());
            raw.insert(cut, b'\n');
            exercise(&ParsedMessage::parse(raw));
        }
    }
}

#[test]
fn fetch_rendering_of_missing_sections_is_an_empty_literal() {
    let message = ParsedMessage::parse("Subject: x\r\n\r\nbody");
    assert_fetch(&message, "BODY.PEEK[3.MIME]", b"BODY[3.MIME] {0}\r\n");
}

#[test]
fn section_names_are_echoed_like_dovecot() {
    let name = |part: &[u32], kind: SectionKind| {
        let mut out = Vec::new();
        spec(part, kind).write_name(&mut out);
        String::from_utf8(out).expect("ascii")
    };
    assert_eq!(name(&[], SectionKind::Full), "");
    assert_eq!(name(&[1, 2], SectionKind::Full), "1.2");
    assert_eq!(name(&[], SectionKind::Header), "HEADER");
    assert_eq!(name(&[2], SectionKind::Text), "2.TEXT");
    assert_eq!(name(&[3], SectionKind::Mime), "3.MIME");
    assert_eq!(
        name(
            &[],
            SectionKind::HeaderFields(vec!["From".to_owned(), "x-spam flag".to_owned()])
        ),
        "HEADER.FIELDS (FROM \"X-SPAM FLAG\")"
    );
    assert_eq!(
        name(
            &[1],
            SectionKind::HeaderFieldsNot(vec!["subject".to_owned()])
        ),
        "1.HEADER.FIELDS.NOT (SUBJECT)"
    );
}
