//! Test helpers: render one FETCH data item the way the session will, so
//! tests can compare whole items with what Dovecot sent.

use super::super::*;

/// Parses the section text of `BODY[...]` (e.g. `2.1.HEADER.FIELDS (To)`).
pub fn parse_section(text: &str) -> SectionSpec {
    let mut part = Vec::new();
    let mut rest = text;
    loop {
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        part.push(digits.parse().expect("part number"));
        rest = &rest[digits.len()..];
        match rest.strip_prefix('.') {
            Some(after) => rest = after,
            None => break,
        }
    }
    let names = |list: &str| -> Vec<String> {
        list.trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    let kind = if rest.is_empty() {
        SectionKind::Full
    } else if let Some(list) = rest.strip_prefix("HEADER.FIELDS.NOT") {
        SectionKind::HeaderFieldsNot(names(list))
    } else if let Some(list) = rest.strip_prefix("HEADER.FIELDS") {
        SectionKind::HeaderFields(names(list))
    } else if rest == "HEADER" {
        SectionKind::Header
    } else if rest == "TEXT" {
        SectionKind::Text
    } else if rest == "MIME" {
        SectionKind::Mime
    } else {
        panic!("unknown section {text}")
    };
    SectionSpec::new(part, kind)
}

/// `Ok(rendered item)`, or `Err` when the server must answer NO.
pub fn fetch(message: &ParsedMessage, item: &str) -> Result<Vec<u8>, BinaryError> {
    let mut out = Vec::new();
    match item {
        "ENVELOPE" => {
            out.extend_from_slice(b"ENVELOPE ");
            message.envelope(&mut out);
        }
        "BODYSTRUCTURE" => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            message.body_structure(&mut out, true);
        }
        "BODY" => {
            out.extend_from_slice(b"BODY ");
            message.body_structure(&mut out, false);
        }
        "RFC822.SIZE" => {
            out.extend_from_slice(format!("RFC822.SIZE {}", message.size()).as_bytes())
        }
        _ => {
            if let Some(section) = item
                .strip_prefix("BODY.PEEK[")
                .and_then(|s| s.strip_suffix(']'))
            {
                out.extend_from_slice(
                    format!("BODY[{}] ", section.to_ascii_uppercase()).as_bytes(),
                );
                let data = message.section(&parse_section(section)).unwrap_or_default();
                write_body_literal(&mut out, &data);
            } else if let Some(section) = item
                .strip_prefix("BINARY.PEEK[")
                .and_then(|s| s.strip_suffix(']'))
            {
                let spec = parse_section(section);
                let content = message.binary(&spec.part)?.unwrap_or(BinaryContent {
                    data: Vec::new(),
                    literal8: false,
                });
                out.extend_from_slice(format!("BINARY[{section}] ").as_bytes());
                write_binary_literal(&mut out, &content.data, content.literal8);
            } else if let Some(section) = item
                .strip_prefix("BINARY.SIZE[")
                .and_then(|s| s.strip_suffix(']'))
            {
                let spec = parse_section(section);
                let size = message.binary_size(&spec.part)?.unwrap_or(0);
                out.extend_from_slice(format!("BINARY.SIZE[{section}] {size}").as_bytes());
            } else {
                panic!("unknown fetch item {item}");
            }
        }
    }
    Ok(out)
}

#[track_caller]
pub fn assert_fetch(message: &ParsedMessage, item: &str, expected: &[u8]) {
    let actual = fetch(message, item).unwrap_or_else(|e| panic!("{item} failed: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&actual),
        String::from_utf8_lossy(expected),
        "FETCH {item}"
    );
    assert_eq!(actual, expected, "FETCH {item} (bytes)");
}

#[track_caller]
pub fn assert_fetch_fails(message: &ParsedMessage, item: &str) {
    if let Ok(actual) = fetch(message, item) {
        panic!(
            "FETCH {item} should fail, gave {}",
            String::from_utf8_lossy(&actual)
        );
    }
}
