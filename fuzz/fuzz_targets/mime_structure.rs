//! A message as the gateway serves it (`imap2graph::mime`): ENVELOPE, BODY, BODYSTRUCTURE,
//! BODY[section] and BINARY[part] / BINARY.SIZE of any bytes Graph may hand back as `$value`.
//!
//! Checks, besides "no panic":
//! - BODY[] is the input with bare LF turned into CRLF (the input itself when it had none), and
//!   RFC822.SIZE is its length;
//! - BODY[HEADER] is a prefix and BODY[TEXT] a suffix of BODY[];
//! - ENVELOPE (ten fields), BODY and BODYSTRUCTURE are each one well-formed list of NIL,
//!   numbers, quoted strings (7-bit, no CR/LF/NUL) and literals; the FETCH response the session
//!   writes with the three is one response to imap-codec's parser, nothing left over (when no
//!   deeper than imap-codec's own limit of eight nested bodies);
//! - every part `part_numbers()` names has a BODY[part]; BODY[part], BODY[part.MIME],
//!   BODY[part.HEADER] and BODY[part.TEXT] are pieces cut out of BODY[];
//! - when the whole message decodes for BINARY.SIZE, every part decodes for BINARY too;
//! - a body literal is `{n}\r\n` and exactly n octets (NUL sent as 0x80), a BINARY literal
//!   `~{n}\r\n` when it must be;
//! - unfolded header values hold no line feed.
#![no_main]

use std::borrow::Cow;

use imap2graph::mime::{self, ParsedMessage, SectionKind, SectionSpec};
use imap_codec::decode::Decoder;
use imap_codec::imap_types::response::{Data, Response};
use imap_codec::ResponseCodec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = ParsedMessage::parse(data.to_vec());
    let raw = message.raw();

    // BODY[] and RFC822.SIZE.
    let expected = mime::with_crlf_line_ends(bytes::Bytes::copy_from_slice(data));
    assert_eq!(raw, &expected[..]);
    if !has_bare_lf(data) {
        assert_eq!(raw, data);
    }
    assert!(!has_bare_lf(raw));
    assert_eq!(message.size(), raw.len());
    let whole = message
        .section(&SectionSpec::new(Vec::new(), SectionKind::Full))
        .expect("BODY[] always exists");
    assert_eq!(&whole[..], raw);

    // BODY[HEADER] and BODY[TEXT].
    if let Some(header) = message.section(&SectionSpec::new(Vec::new(), SectionKind::Header)) {
        assert!(raw.starts_with(&header), "BODY[HEADER] is not a prefix");
    }
    if let Some(text) = message.section(&SectionSpec::new(Vec::new(), SectionKind::Text)) {
        assert!(raw.ends_with(&text), "BODY[TEXT] is not a suffix");
    }

    // ENVELOPE, BODY and BODYSTRUCTURE: each one well-formed parenthesised list, and together
    // one FETCH response imap-codec's parser reads whole (when the structure is no deeper than
    // imap-codec's own nesting limit of eight bodies).
    let mut envelope = Vec::new();
    message.envelope(&mut envelope);
    let mut body = Vec::new();
    message.body_structure(&mut body, false);
    let mut structure = Vec::new();
    message.body_structure(&mut structure, true);
    for (what, list) in [
        ("ENVELOPE", &envelope),
        ("BODY", &body),
        ("BODYSTRUCTURE", &structure),
    ] {
        if let Err(err) = well_formed_list(list) {
            panic!("{what} is not well formed: {err}: {}", excerpt(list));
        }
    }
    assert_eq!(list_items(&envelope), 10, "ENVELOPE has ten fields");
    if max_depth(&structure) <= 7 {
        let mut response = b"* 1 FETCH (ENVELOPE ".to_vec();
        response.extend_from_slice(&envelope);
        response.extend_from_slice(b" BODY ");
        response.extend_from_slice(&body);
        response.extend_from_slice(b" BODYSTRUCTURE ");
        response.extend_from_slice(&structure);
        response.extend_from_slice(b")\r\n");
        match ResponseCodec::default().decode(&response) {
            Ok((rest, Response::Data(Data::Fetch { items, .. }))) => {
                assert!(rest.is_empty(), "bytes after the FETCH response");
                assert_eq!(items.as_ref().len(), 3);
            }
            Ok((_, other)) => panic!("not a FETCH response: {other:?}"),
            Err(err) => panic!("imap-codec refuses ({err:?}): {}", excerpt(&response)),
        }
    }

    // Every part: BODY[part], BODY[part.MIME], BINARY[part].
    let whole_decodes = matches!(message.binary_size(&[]), Ok(Some(_)));
    let parts = message.part_numbers();
    for part in parts.iter().take(64) {
        let body = message
            .section(&SectionSpec::new(part.clone(), SectionKind::Full))
            .expect("a numbered part has a body");
        assert_within(raw, &body, "BODY[part]");
        for kind in [SectionKind::Mime, SectionKind::Header, SectionKind::Text] {
            if let Some(section) = message.section(&SectionSpec::new(part.clone(), kind)) {
                assert_within(raw, &section, "BODY[part.MIME/HEADER/TEXT]");
            }
        }
        let binary = message.binary(part);
        if whole_decodes {
            assert!(
                matches!(binary, Ok(Some(_))),
                "BINARY.SIZE[] decodes but BINARY[{part:?}] does not: {binary:?}"
            );
        }
        if let Ok(Some(content)) = binary {
            let mut out = Vec::new();
            mime::write_binary_literal(&mut out, &content.data, content.literal8);
            let prefix = format!(
                "{}{{{}}}\r\n",
                if content.literal8 { "~" } else { "" },
                content.data.len()
            );
            assert!(out.starts_with(prefix.as_bytes()));
            assert_eq!(out.len(), prefix.len() + content.data.len());
        }
        let _ = message.binary_size(part);
    }
    // Parts that do not exist: no answer, no panic.
    let missing = [
        vec![0],
        vec![parts.len() as u32 + 1],
        vec![1, 1, 1, 1],
        vec![u32::MAX],
    ];
    for part in missing {
        let _ = message.section(&SectionSpec::new(part.clone(), SectionKind::Full));
        let _ = message.binary(&part);
        let _ = message.binary_size(&part);
    }

    // HEADER.FIELDS and .NOT: each a piece of the header (or the blank line alone).
    let names = vec!["subject".to_string(), "FROM".to_string(), "x-".to_string()];
    for kind in [
        SectionKind::HeaderFields(names.clone()),
        SectionKind::HeaderFieldsNot(names),
    ] {
        let spec = SectionSpec::new(Vec::new(), kind);
        if let Some(fields) = message.section(&spec) {
            let mut literal = Vec::new();
            mime::write_body_literal(&mut literal, &fields);
            let prefix = format!("{{{}}}\r\n", fields.len());
            assert!(literal.starts_with(prefix.as_bytes()));
            // NUL is sent as 0x80 (a literal cannot hold NUL); nothing else changes.
            let sent: Vec<u8> = fields
                .iter()
                .map(|&b| if b == 0 { 0x80 } else { b })
                .collect();
            assert_eq!(&literal[prefix.len()..], &sent[..]);
        }
        let mut name = Vec::new();
        spec.write_name(&mut name);
        assert!(!name.contains(&b'\r') && !name.contains(&b'\n'));
    }

    for name in ["subject", "from", "date", "message-id"] {
        for value in message.header_values(name) {
            // Unfolded: no line break left (a lone CR is not one, and stays).
            assert!(!value.contains(&b'\n'));
        }
    }
});

/// The start of a long text, for a panic message.
fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(2000)];
    format!(
        "{}{}",
        String::from_utf8_lossy(shown),
        if bytes.len() > shown.len() { "..." } else { "" }
    )
}

/// One parenthesised list of NIL, numbers, quoted strings, literals and lists, separated by
/// single spaces, lists also following each other directly (RFC 3501 9): what a client's tokenizer must be able to read. Quoted strings
/// hold no CR, LF, NUL or 8-bit octet and escape only `"` and `\`; a literal `{n}` is followed
/// by CRLF and exactly n octets.
fn well_formed_list(bytes: &[u8]) -> Result<(), String> {
    let mut at = 0;
    let mut depth = 0usize;
    // Whether the previous token ended a value (then a space or `)` must follow).
    let mut after_value = false;
    while at < bytes.len() {
        let byte = bytes[at];
        if depth == 0 && at > 0 {
            return Err(format!("text after the list at {at}"));
        }
        match byte {
            b'(' => {
                // Lists follow each other without a space (`1*address`, `1*body`).
                if after_value && bytes[at - 1] != b')' {
                    return Err(format!("`(` right after a value at {at}"));
                }
                depth += 1;
                at += 1;
                after_value = false;
            }
            b')' => {
                if depth == 0 {
                    return Err(format!("unbalanced `)` at {at}"));
                }
                depth -= 1;
                at += 1;
                after_value = true;
            }
            b' ' => {
                if !after_value {
                    return Err(format!("space not after a value at {at}"));
                }
                at += 1;
                after_value = false;
            }
            _ if depth == 0 => return Err("not a list".into()),
            _ if after_value => return Err(format!("two values without a space at {at}")),
            b'"' => {
                at += 1;
                loop {
                    match bytes.get(at) {
                        None => return Err("unterminated quoted string".into()),
                        Some(b'"') => break,
                        Some(b'\\') => match bytes.get(at + 1) {
                            Some(b'"' | b'\\') => at += 2,
                            _ => return Err(format!("bad escape at {at}")),
                        },
                        Some(&c) if c == 0 || c == b'\r' || c == b'\n' || c >= 0x80 => {
                            return Err(format!("octet {c:#x} in a quoted string at {at}"))
                        }
                        Some(_) => at += 1,
                    }
                }
                at += 1;
                after_value = true;
            }
            b'{' => {
                let close = bytes[at..]
                    .iter()
                    .position(|&b| b == b'}')
                    .ok_or("unterminated literal length")?;
                let digits = &bytes[at + 1..at + close];
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(format!("bad literal length at {at}"));
                }
                let length: usize = std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .ok_or("literal length too large")?;
                at += close + 1;
                if bytes.get(at..at + 2) != Some(b"\r\n") {
                    return Err(format!("no CRLF after a literal length at {at}"));
                }
                at += 2 + length;
                if at > bytes.len() {
                    return Err("literal longer than the rest".into());
                }
                after_value = true;
            }
            b'0'..=b'9' => {
                while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
                after_value = true;
            }
            b'N' if bytes[at..].starts_with(b"NIL") => {
                at += 3;
                after_value = true;
            }
            other => return Err(format!("unexpected octet {other:#x} at {at}")),
        }
    }
    if depth != 0 {
        return Err("unbalanced `(`".into());
    }
    Ok(())
}

/// The number of items of a well-formed list at its top level.
fn list_items(bytes: &[u8]) -> usize {
    let mut count = 0;
    let mut depth = 0usize;
    let mut at = 0;
    let mut in_value = false;
    while at < bytes.len() {
        match bytes[at] {
            b'(' => {
                if depth == 1 && !in_value {
                    count += 1;
                }
                depth += 1;
            }
            b')' => depth -= 1,
            b' ' => {
                if depth == 1 {
                    in_value = false;
                }
            }
            b'"' => {
                if depth == 1 && !in_value {
                    count += 1;
                    in_value = true;
                }
                at += 1;
                while bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                if depth == 1 && !in_value {
                    count += 1;
                    in_value = true;
                }
                let close = at + bytes[at..].iter().position(|&b| b == b'}').unwrap_or(0);
                let length: usize = std::str::from_utf8(&bytes[at + 1..close])
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                at = close + 2 + length;
            }
            _ => {
                if depth == 1 && !in_value {
                    count += 1;
                    in_value = true;
                }
            }
        }
        at += 1;
    }
    count
}

/// The deepest nesting of parentheses outside strings and literals.
fn max_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest, mut at) = (0usize, 0usize, 0usize);
    while at < bytes.len() {
        match bytes[at] {
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' {
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' => {
                let close = at + bytes[at..].iter().position(|&b| b == b'}').unwrap_or(0);
                let length: usize = std::str::from_utf8(&bytes[at + 1..close])
                    .ok()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0);
                at = close + 2 + length;
            }
            _ => {}
        }
        at += 1;
    }
    deepest
}

fn has_bare_lf(data: &[u8]) -> bool {
    data.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || data[i - 1] != b'\r'))
}

/// BODY[part], MIME, HEADER and TEXT are cut out of the message, never made up.
fn assert_within(raw: &[u8], section: &Cow<'_, [u8]>, what: &str) {
    match section {
        Cow::Borrowed(slice) => {
            let start = slice.as_ptr() as usize;
            let base = raw.as_ptr() as usize;
            assert!(
                slice.is_empty() || (start >= base && start + slice.len() <= base + raw.len()),
                "{what} is not a piece of the message"
            );
        }
        Cow::Owned(_) => panic!("{what} was rebuilt rather than cut out of the message"),
    }
}
