//! Rendering of IMAP strings (RFC 3501 section 4.3 and 9): quoted strings,
//! literals, `NIL` for nstrings, atoms for astrings.
//!
//! This module owns the choice between a quoted string and a literal for
//! every value the gateway sends, and it makes that choice the way Dovecot
//! does, so that answers compare byte for byte with Dovecot's:
//! - a value is quoted unless it holds CR, LF, NUL or an 8-bit byte, or more
//!   than four `"`/`\` (then a literal is shorter than the escapes);
//! - subjects and display names ("for humans") have runs of white space
//!   folded to one space and leading/trailing space removed, and become a
//!   literal whenever anything had to change;
//! - BODY[...] data is always sent as a literal with NUL turned into 0x80,
//!   BINARY[...] data with NUL as a literal8 (`~{n}`, RFC 3516).

/// Dovecot switches to a literal after this many quoted-specials, because
/// from there on a literal is usually shorter than the escaped string.
const QUOTED_MAX_ESCAPE_CHARS: usize = 4;

/// Writes `NIL` for `None`, otherwise the value as an IMAP string.
pub fn write_nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.extend_from_slice(b"NIL"),
        Some(value) => write_string(out, value),
    }
}

/// Writes `value` as a quoted string when IMAP allows it, else as a literal.
pub fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    let mut escapes = 0;
    for &byte in value {
        let needs_literal = match byte {
            b'"' | b'\\' => {
                escapes += 1;
                escapes > QUOTED_MAX_ESCAPE_CHARS
            }
            b'\r' | b'\n' | 0 => true,
            _ => byte >= 0x80,
        };
        if needs_literal {
            write_literal_raw(out, value);
            return;
        }
    }
    write_quoted(out, value);
}

/// Writes `value` as an atom when it is a valid non-empty astring atom other
/// than `NIL`, else as a string (quoted or literal).
pub fn write_astring(out: &mut Vec<u8>, value: &[u8]) {
    let is_atom = !value.is_empty()
        && value.iter().all(|&byte| is_astring_char(byte))
        && !value.eq_ignore_ascii_case(b"NIL");
    if is_atom {
        out.extend_from_slice(value);
    } else {
        write_string(out, value);
    }
}

/// Like [`write_nstring`], but CR and LF are dropped first (a space is put
/// where a line break was not followed by white space). Dovecot renders the
/// Date, In-Reply-To, Message-ID, Content-ID, Content-Description,
/// Content-MD5 and Content-Location values this way.
pub fn write_nstring_without_newlines(out: &mut Vec<u8>, value: Option<&[u8]>) {
    let Some(value) = value else {
        out.extend_from_slice(b"NIL");
        return;
    };
    if !value.iter().any(|&b| b == b'\r' || b == b'\n') {
        write_string(out, value);
        return;
    }
    let mut cleaned = Vec::with_capacity(value.len());
    for (index, &byte) in value.iter().enumerate() {
        if byte != b'\r' && byte != b'\n' {
            cleaned.push(byte);
            continue;
        }
        match value.get(index + 1) {
            None | Some(b' ' | b'\t' | b'\r' | b'\n') => {}
            Some(_) => cleaned.push(b' '),
        }
    }
    write_string(out, &cleaned);
}

/// Writes a value meant to be read by people (a subject, a display name):
/// white space runs (including CR, LF, TAB) become one space, leading and
/// trailing white space is dropped and NUL becomes 0x80. When nothing had to
/// change the value is quoted as is; otherwise Dovecot always sends a
/// literal, and so do we.
pub fn write_string_for_humans(out: &mut Vec<u8>, value: &[u8]) {
    let mut cleaned = Vec::with_capacity(value.len());
    let mut last_was_space = true;
    let mut modified = false;
    for &byte in value {
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                if byte != b' ' || last_was_space {
                    modified = true;
                }
                if !last_was_space {
                    cleaned.push(b' ');
                }
                last_was_space = true;
            }
            _ => {
                last_was_space = false;
                match byte {
                    0 => {
                        modified = true;
                        cleaned.push(0x80);
                    }
                    b'"' | b'\\' => {
                        modified = true;
                        cleaned.push(byte);
                    }
                    _ => {
                        if byte >= 0x80 {
                            modified = true;
                        }
                        cleaned.push(byte);
                    }
                }
            }
        }
    }
    if last_was_space && cleaned.last() == Some(&b' ') {
        cleaned.pop();
        modified = true;
    }
    if !modified {
        write_quoted(out, value);
    } else if cleaned.is_empty() {
        out.extend_from_slice(b"\"\"");
    } else {
        write_literal_raw(out, &cleaned);
    }
}

/// Writes BODY[...] data: always a literal, NUL bytes sent as 0x80 because a
/// literal must not contain NUL (RFC 3501 section 4.3; Dovecot does this).
pub fn write_body_literal(out: &mut Vec<u8>, data: &[u8]) {
    write_literal_header(out, data.len(), false);
    out.extend(data.iter().map(|&b| if b == 0 { 0x80 } else { b }));
}

/// Writes BINARY[...] data: a literal8 (`~{n}`) when `literal8` is set
/// (decoded content, or NUL bytes), otherwise a plain literal in which NUL
/// is sent as 0x80, like BODY[...].
pub fn write_binary_literal(out: &mut Vec<u8>, data: &[u8], literal8: bool) {
    if !literal8 {
        write_body_literal(out, data);
        return;
    }
    write_literal_header(out, data.len(), true);
    out.extend_from_slice(data);
}

/// `ASTRING-CHAR` of RFC 3501: `ATOM-CHAR` or `]`.
pub fn is_astring_char(byte: u8) -> bool {
    byte > 0x20 && byte < 0x7f && !matches!(byte, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\')
}

fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(b'"');
    for &byte in value {
        match byte {
            // Not representable in a quoted string; only reached from
            // callers that checked, kept as a guard.
            b'\r' | b'\n' | 0 => {}
            b'"' | b'\\' => {
                out.push(b'\\');
                out.push(byte);
            }
            _ if byte >= 0x80 => {}
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

fn write_literal_raw(out: &mut Vec<u8>, value: &[u8]) {
    write_literal_header(out, value.len(), false);
    out.extend_from_slice(value);
}

fn write_literal_header(out: &mut Vec<u8>, len: usize, literal8: bool) {
    if literal8 {
        out.push(b'~');
    }
    out.push(b'{');
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn nstring_quotes_plain_text_and_nil() {
        assert_eq!(render(|o| write_nstring(o, None)), "NIL");
        assert_eq!(render(|o| write_nstring(o, Some(b""))), "\"\"");
        assert_eq!(render(|o| write_nstring(o, Some(b"a b"))), "\"a b\"");
        assert_eq!(
            render(|o| write_nstring(o, Some(b"say \"hi\" \\"))),
            "\"say \\\"hi\\\" \\\\\""
        );
    }

    #[test]
    fn string_becomes_literal_for_newlines_8bit_nul_and_many_escapes() {
        assert_eq!(render(|o| write_string(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(render(|o| write_string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(render(|o| write_string(o, b"a\0b")), "{3}\r\na\0b");
        assert_eq!(
            render(|o| write_string(o, b"\"\"\"\"")),
            "\"\\\"\\\"\\\"\\\"\""
        );
        assert_eq!(
            render(|o| write_string(o, b"\"\"\"\"\"")),
            "{5}\r\n\"\"\"\"\""
        );
    }

    #[test]
    fn astring_uses_atoms_when_possible() {
        assert_eq!(render(|o| write_astring(o, b"INBOX")), "INBOX");
        assert_eq!(render(|o| write_astring(o, b"a]b")), "a]b");
        assert_eq!(render(|o| write_astring(o, b"nil")), "\"nil\"");
        assert_eq!(render(|o| write_astring(o, b"")), "\"\"");
        assert_eq!(render(|o| write_astring(o, b"a b")), "\"a b\"");
        assert_eq!(render(|o| write_astring(o, b"a*")), "\"a*\"");
    }

    #[test]
    fn nolf_removes_line_breaks() {
        assert_eq!(
            render(|o| write_nstring_without_newlines(o, Some(b"<a@b>\n <c@d>"))),
            "\"<a@b> <c@d>\""
        );
        assert_eq!(
            render(|o| write_nstring_without_newlines(o, Some(b"<a@b>\n<c@d>"))),
            "\"<a@b> <c@d>\""
        );
        assert_eq!(render(|o| write_nstring_without_newlines(o, None)), "NIL");
    }

    #[test]
    fn for_humans_folds_space_and_uses_literal_when_changed() {
        assert_eq!(
            render(|o| write_string_for_humans(o, b"Hello world")),
            "\"Hello world\""
        );
        assert_eq!(render(|o| write_string_for_humans(o, b"")), "\"\"");
        assert_eq!(render(|o| write_string_for_humans(o, b"   ")), "\"\"");
        assert_eq!(
            render(|o| write_string_for_humans(o, b"a\n\tb")),
            "{3}\r\na b"
        );
        assert_eq!(
            render(|o| write_string_for_humans(o, b" a  b ")),
            "{3}\r\na b"
        );
        assert_eq!(
            render(|o| write_string_for_humans(o, b"a\"b")),
            "{3}\r\na\"b"
        );
        let mut out = Vec::new();
        write_string_for_humans(&mut out, b"a\0");
        assert_eq!(out, b"{2}\r\na\x80");
    }

    #[test]
    fn literals_for_body_and_binary() {
        let mut out = Vec::new();
        write_body_literal(&mut out, b"a\0b");
        assert_eq!(out, b"{3}\r\na\x80b");
        let mut out = Vec::new();
        write_binary_literal(&mut out, b"a\0b", true);
        assert_eq!(out, b"~{3}\r\na\0b");
    }
}
