//! Owns the IMAP wire forms of dates and of mailbox names in modified UTF-7 (RFC 3501 5.1.3).
//! Strings and literals are written by `crate::mime`'s string writers, which make Dovecot's
//! choices.

use chrono::{DateTime, Utc};

/// INTERNALDATE's `date-time` form, e.g. `"02-Jan-2026 09:05:00 +0000"`.
pub fn write_date_time(out: &mut Vec<u8>, date: &DateTime<Utc>) {
    out.extend_from_slice(
        date.format("\"%d-%b-%Y %H:%M:%S +0000\"")
            .to_string()
            .as_bytes(),
    );
}

/// Encodes a UTF-8 mailbox name in modified UTF-7.
pub fn utf7_encode(name: &str) -> String {
    use base64::Engine;
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
        out.push('&');
        out.push_str(&encoded.replace('/', ","));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Decodes a modified UTF-7 mailbox name; `None` when it is not modified UTF-7 written the one
/// way RFC 3501 5.1.3 allows: printable US-ASCII as itself and `&` as `&-`; any other character
/// in a base64 run (`,` for `/`, no padding) of whole UTF-16 code units with surrogates paired,
/// no bits left over, and one run for adjacent characters (`&Jjo-&Jjo-` is `&JjomOg-` spelled
/// twice). So a folder has one spelling: the decoded name encodes back to exactly `name`.
pub fn utf7_decode(name: &[u8]) -> Option<String> {
    use base64::Engine;
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        match b {
            b'&' => {
                let end = tail.iter().position(|&c| c == b'-')?;
                let (encoded, after) = tail.split_at(end);
                if encoded.is_empty() {
                    out.push('&');
                } else {
                    // The standard alphabet with `,` for `/`; a `/` of its own is not in it.
                    if encoded.contains(&b'/') {
                        return None;
                    }
                    let standard: Vec<u8> = encoded
                        .iter()
                        .map(|&c| if c == b',' { b'/' } else { c })
                        .collect();
                    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(standard)
                        .ok()?;
                    if bytes.len() % 2 != 0 {
                        return None;
                    }
                    let units: Vec<u16> = bytes
                        .chunks_exact(2)
                        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                        .collect();
                    out.push_str(&String::from_utf16(&units).ok()?);
                }
                rest = &after[1..];
            }
            0x20..=0x7e => {
                out.push(b as char);
                rest = tail;
            }
            _ => return None,
        }
    }
    // Whatever else could be spelled two ways (encoded ASCII, split runs, left-over bits) encodes
    // back differently.
    (utf7_encode(&out).as_bytes() == name).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf7_round_trips() {
        // RFC 3501 5.1.3's example.
        assert_eq!(
            utf7_encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(utf7_encode("Überprüfung"), "&ANw-berpr&APw-fung");
        assert_eq!(utf7_encode("A&B"), "A&-B");
        for name in ["Überprüfung", "Réunions/été", "A&B", "plain", "😀 emoji"] {
            assert_eq!(
                utf7_decode(utf7_encode(name).as_bytes()).as_deref(),
                Some(name)
            );
        }
        assert_eq!(utf7_decode(b"&-"), Some("&".into()));
        assert_eq!(utf7_decode(b"a&-b&-"), Some("a&b&".into()));
        assert_eq!(utf7_decode(b"&JjomOg-"), Some("\u{263a}\u{263a}".into()));
        assert_eq!(utf7_decode(b""), Some(String::new()));
    }

    /// Every way RFC 3501 5.1.3 rules out, and every second spelling of a name, is refused.
    #[test]
    fn invalid_or_non_canonical_modified_utf7_is_refused() {
        for (name, why) in [
            (&b"&AAA"[..], "unterminated run"),
            (b"&Jjo", "unterminated run"),
            (b"&AGE-", "encodes printable ASCII ('a')"),
            (b"&ACY-", "encodes '&', which is written &-"),
            (b"&ACA-", "encodes a space"),
            (b"&Jjo-&Jjo-", "two adjacent runs where one belongs"),
            (b"&Jjp-", "bits left over that are not zero"),
            (b"&Jjo=-", "padding"),
            (b"&AA-", "not a whole UTF-16 code unit"),
            (b"&AAAA-", "24 bits: not a multiple of 16"),
            (b"&2D0-", "an unpaired high surrogate"),
            (b"&3gA-", "an unpaired low surrogate"),
            (b"&3gDYPQ-", "a low surrogate before the high one"),
            (b"&U/BTFw-", "'/' where modified base64 has ','"),
            (b"&U*BTFw-", "a character outside base64"),
            ("é".as_bytes(), "8-bit byte: UTF-8 is not modified UTF-7"),
            (b"a\tb", "control character"),
            (b"\x7f", "DEL"),
        ] {
            assert_eq!(
                utf7_decode(name),
                None,
                "{} ({why}) was accepted",
                name.escape_ascii()
            );
        }
        // The canonical spelling of each of those names that has one is accepted.
        for canonical in ["a", "&", " ", "\u{263a}\u{263a}", "😀"] {
            let spelled = utf7_encode(canonical);
            assert_eq!(utf7_decode(spelled.as_bytes()).as_deref(), Some(canonical));
        }
    }

    #[test]
    fn internal_date_form() {
        let date = DateTime::parse_from_rfc3339("2026-01-02T09:05:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut out = Vec::new();
        write_date_time(&mut out, &date);
        assert_eq!(out, b"\"02-Jan-2026 09:05:00 +0000\"");
    }
}
