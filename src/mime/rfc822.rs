//! RFC 822/5322/2045 lexical tokens (atoms, quoted strings, comments,
//! domains, MIME tokens, Content-Type values and parameters) and the RFC 2231
//! parameter merge.
//!
//! IMAP servers disagree on broken input; we want Dovecot's answers, so this
//! tokenizer follows the rules of Dovecot's rfc822-parser and rfc2231-parser
//! (2.3 series): what counts as an atom, how folding and quoted-pairs are
//! handled, where parsing gives up. Values are kept as raw bytes: RFC 2047
//! encoded words are atoms like any other and stay encoded.

/// What a parsing step ended with, ordered so that comparisons read like
/// Dovecot's `-1 / 0 / 1` return codes (`step <= Step::AtEnd` means "no more
/// input to look at").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Step {
    /// The input is broken at this point.
    Broken,
    /// The token was read and the input is exhausted.
    AtEnd,
    /// The token was read and more input follows.
    More,
}

/// UTF-8 of U+FFFD, which Dovecot puts where a NUL was in quoted strings,
/// comments and domain literals.
pub(crate) const NUL_REPLACEMENT: &[u8] = "\u{FFFD}".as_bytes();

/// Characters of RFC 5322 `atext` (8-bit bytes count as atext, as in
/// Dovecot, so unencoded UTF-8 names still parse).
pub(crate) fn is_atext(byte: u8) -> bool {
    if byte >= 0x80 {
        return true;
    }
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'/'
                | b'='
                | b'?'
                | b'^'
                | b'_'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
        )
}

/// `atext` minus the MIME tspecials `/`, `=` and `?`: a MIME token character.
fn is_token_char(byte: u8) -> bool {
    is_atext(byte) && !matches!(byte, b'/' | b'=' | b'?')
}

/// A cursor over one header value.
pub(crate) struct Rfc822Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// When set, the text of the last comment skipped is kept here (used as
    /// a display name for `user@host (Name)`).
    pub last_comment: Option<Vec<u8>>,
    /// Replace NUL with U+FFFD inside quoted strings, comments and domain
    /// literals.
    pub replace_nul: bool,
}

impl<'a> Rfc822Parser<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Rfc822Parser {
            data,
            pos: 0,
            last_comment: None,
            replace_nul: false,
        }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    /// The current byte, or NUL past the end (Dovecot's values are
    /// NUL-terminated and its parser relies on reading that NUL).
    pub fn peek(&self) -> u8 {
        self.data.get(self.pos).copied().unwrap_or(0)
    }

    pub fn advance(&mut self) {
        if self.pos < self.data.len() {
            self.pos += 1;
        }
    }

    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn set_position(&mut self, pos: usize) {
        self.pos = pos.min(self.data.len());
    }

    fn remaining_state(&self) -> Step {
        if self.at_end() {
            Step::AtEnd
        } else {
            Step::More
        }
    }

    fn slice(&self, start: usize, end: usize) -> &'a [u8] {
        self.data.get(start..end).unwrap_or_default()
    }

    /// Skips a (possibly nested) comment; the cursor is on `(`.
    fn skip_comment(&mut self) -> Step {
        if let Some(comment) = self.last_comment.as_mut() {
            comment.clear();
        }
        let mut level = 1;
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    let text = self.slice(start, self.pos);
                    if let Some(comment) = self.last_comment.as_mut() {
                        comment.extend_from_slice(text);
                        comment.extend_from_slice(NUL_REPLACEMENT);
                        start = self.pos + 1;
                    }
                }
                b'(' => level += 1,
                b')' => {
                    level -= 1;
                    if level == 0 {
                        let text = self.slice(start, self.pos);
                        if let Some(comment) = self.last_comment.as_mut() {
                            comment.extend_from_slice(text);
                        }
                        self.pos += 1;
                        return self.remaining_state();
                    }
                }
                b'\n' => {
                    // Folding inside a comment: drop the line break.
                    let mut text = self.slice(start, self.pos);
                    if let Some(comment) = self.last_comment.as_mut() {
                        if text.last() == Some(&b'\r') {
                            text = &text[..text.len() - 1];
                        }
                        comment.extend_from_slice(text);
                        start = self.pos + 1;
                    }
                }
                b'\\' => {
                    self.pos += 1;
                    match self.data.get(self.pos) {
                        None => return Step::Broken,
                        // A quoted-pair may not escape CR, LF or NUL: keep
                        // the backslash and look at that byte normally.
                        Some(b'\r' | b'\n' | 0) => self.pos -= 1,
                        Some(_) => {
                            let text = self.slice(start, self.pos - 1);
                            if let Some(comment) = self.last_comment.as_mut() {
                                comment.extend_from_slice(text);
                            }
                            start = self.pos;
                        }
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Step::Broken
    }

    /// Skips white space, line breaks and comments.
    pub fn skip_lwsp(&mut self) -> Step {
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    if self.skip_comment() == Step::Broken {
                        return Step::Broken;
                    }
                }
                _ => break,
            }
        }
        self.remaining_state()
    }

    pub fn parse_atom(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() || !is_atext(self.peek()) {
            return Step::Broken;
        }
        let start = self.pos;
        while self.pos < self.data.len() && is_atext(self.data[self.pos]) {
            self.pos += 1;
        }
        out.extend_from_slice(self.slice(start, self.pos));
        if self.at_end() {
            Step::AtEnd
        } else {
            self.skip_lwsp()
        }
    }

    /// `dot-atom`, allowing white space around the dots (RFC 822).
    pub fn parse_dot_atom(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() || !is_atext(self.peek()) {
            return Step::Broken;
        }
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            if is_atext(self.data[self.pos]) {
                self.pos += 1;
                continue;
            }
            if start == self.pos {
                return Step::Broken;
            }
            out.extend_from_slice(self.slice(start, self.pos));
            let step = self.skip_lwsp();
            if step <= Step::AtEnd {
                return step;
            }
            if self.peek() != b'.' {
                return Step::More;
            }
            self.pos += 1;
            out.push(b'.');
            if self.skip_lwsp() <= Step::AtEnd {
                return Step::Broken;
            }
            start = self.pos;
        }
        out.extend_from_slice(self.slice(start, self.pos));
        Step::AtEnd
    }

    /// A MIME token (RFC 2045), `.` allowed. May be empty.
    pub fn parse_mime_token(&mut self, out: &mut Vec<u8>) -> Step {
        let start = self.pos;
        while self.pos < self.data.len()
            && (is_token_char(self.data[self.pos]) || self.data[self.pos] == b'.')
        {
            self.pos += 1;
        }
        out.extend_from_slice(self.slice(start, self.pos));
        if self.at_end() {
            Step::AtEnd
        } else {
            self.skip_lwsp()
        }
    }

    /// A quoted string; the cursor is on `"`. Escapes are removed, folding
    /// line breaks dropped.
    pub fn parse_quoted_string(&mut self, out: &mut Vec<u8>) -> Step {
        self.pos += 1;
        let mut start = self.pos;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    out.extend_from_slice(self.slice(start, self.pos));
                    out.extend_from_slice(NUL_REPLACEMENT);
                    start = self.pos + 1;
                }
                b'"' => {
                    out.extend_from_slice(self.slice(start, self.pos));
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut text = self.slice(start, self.pos);
                    if text.last() == Some(&b'\r') {
                        text = &text[..text.len() - 1];
                    }
                    out.extend_from_slice(text);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    match self.data.get(self.pos) {
                        None => return Step::Broken,
                        Some(b'\r' | b'\n' | 0) => self.pos -= 1,
                        Some(_) => {
                            out.extend_from_slice(self.slice(start, self.pos - 1));
                            start = self.pos;
                        }
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Step::Broken
    }

    /// Atext and dots, without skipping white space between them.
    fn parse_atom_or_dot(&mut self, out: &mut Vec<u8>) -> Step {
        let start = self.pos;
        while self.pos < self.data.len()
            && (is_atext(self.data[self.pos]) || self.data[self.pos] == b'.')
        {
            self.pos += 1;
        }
        out.extend_from_slice(self.slice(start, self.pos));
        if self.at_end() {
            Step::AtEnd
        } else {
            self.skip_lwsp()
        }
    }

    /// `phrase` (words joined by one space), as used for display names and
    /// group names.
    pub fn parse_phrase(&mut self, out: &mut Vec<u8>) -> Step {
        if self.at_end() {
            return Step::AtEnd;
        }
        if self.peek() == b'.' {
            return Step::Broken;
        }
        loop {
            let step = if self.peek() == b'"' {
                self.parse_quoted_string(out)
            } else {
                self.parse_atom_or_dot(out)
            };
            if step <= Step::AtEnd {
                return step;
            }
            let next = self.peek();
            if !is_atext(next) && next != b'"' && next != b'.' {
                break;
            }
            out.push(b' ');
        }
        self.skip_lwsp()
    }

    /// `[...]`; the cursor is on `[`. Brackets and backslashes are kept.
    fn parse_domain_literal(&mut self, out: &mut Vec<u8>) -> Step {
        let mut start = self.pos;
        self.pos += 1;
        while self.pos < self.data.len() {
            match self.data[self.pos] {
                0 if self.replace_nul => {
                    out.extend_from_slice(self.slice(start, self.pos));
                    out.extend_from_slice(NUL_REPLACEMENT);
                    start = self.pos + 1;
                }
                b'[' => return Step::Broken,
                b']' => {
                    out.extend_from_slice(self.slice(start, self.pos + 1));
                    self.pos += 1;
                    return self.skip_lwsp();
                }
                b'\n' => {
                    let mut text = self.slice(start, self.pos);
                    if text.last() == Some(&b'\r') {
                        text = &text[..text.len() - 1];
                    }
                    out.extend_from_slice(text);
                    start = self.pos + 1;
                }
                b'\\' => {
                    self.pos += 1;
                    match self.data.get(self.pos) {
                        None => return Step::Broken,
                        Some(b'\r' | b'\n' | 0) => {
                            out.extend_from_slice(self.slice(start, self.pos));
                            start = self.pos;
                            self.pos -= 1;
                        }
                        Some(_) => {}
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        Step::Broken
    }

    /// `"@" domain`; the cursor is on `@`. Appends the domain to `out`.
    pub fn parse_domain(&mut self, out: &mut Vec<u8>) -> Step {
        self.pos += 1;
        if self.skip_lwsp() <= Step::AtEnd {
            return Step::Broken;
        }
        if self.peek() == b'[' {
            self.parse_domain_literal(out)
        } else {
            self.parse_dot_atom(out)
        }
    }

    /// `type "/" subtype` of a Content-Type value. On a broken value `out`
    /// still holds what Dovecot keeps of it (the bare type, or nothing).
    pub fn parse_content_type(&mut self, out: &mut Vec<u8>) -> Step {
        let start_len = out.len();
        if self.skip_lwsp() <= Step::AtEnd {
            return Step::Broken;
        }
        if self.parse_mime_token(out) <= Step::AtEnd || out.len() == start_len {
            return Step::Broken;
        }
        if self.peek() != b'/' {
            out.truncate(start_len);
            return Step::Broken;
        }
        self.pos += 1;
        if self.skip_lwsp() <= Step::AtEnd {
            out.truncate(start_len);
            return Step::Broken;
        }
        out.push(b'/');
        let subtype_start = out.len();
        let step = self.parse_mime_token(out);
        if step == Step::Broken
            || out.len() == subtype_start
            || (!self.at_end() && self.peek() != b';')
        {
            out.truncate(start_len);
            return Step::Broken;
        }
        step
    }

    /// One `; attribute=value` parameter. `None` when the input is used up.
    fn parse_content_param(&mut self) -> Option<(Step, Vec<u8>, Vec<u8>)> {
        if self.at_end() {
            return None;
        }
        let mut key = Vec::new();
        let mut value = Vec::new();
        if self.peek() != b';' {
            return Some((Step::Broken, key, value));
        }
        self.pos += 1;
        if self.skip_lwsp() <= Step::AtEnd {
            return Some((Step::Broken, key, value));
        }
        if self.parse_mime_token(&mut key) <= Step::AtEnd {
            return Some((Step::Broken, key, value));
        }
        if self.peek() != b'=' {
            return Some((Step::Broken, key, value));
        }
        self.pos += 1;
        let mut step = self.skip_lwsp();
        if step <= Step::AtEnd {
            // Broken or missing value: keep the parameter with what we have.
        } else if self.peek() == b'"' {
            step = self.parse_quoted_string(&mut value);
        } else if self.peek() == b'=' {
            // Broken input seen in the wild: name==?utf-8?b?...?=
            while self.pos < self.data.len()
                && !matches!(self.data[self.pos], b';' | b' ' | b'\t' | b'\r' | b'\n')
            {
                value.push(self.data[self.pos]);
                self.pos += 1;
            }
            // Dovecot keeps this value as a C string: it ends at a NUL (and a literal must
            // not hold one, RFC 3501 9, CHAR8).
            if let Some(nul) = value.iter().position(|&b| b == 0) {
                value.truncate(nul);
            }
        } else {
            step = self.parse_mime_token(&mut value);
        }
        let step = if step == Step::Broken {
            Step::Broken
        } else {
            Step::More
        };
        Some((step, key, value))
    }

    /// All parameters after a Content-Type or Content-Disposition value,
    /// with RFC 2231 continuations merged as Dovecot does: `name*0*`,
    /// `name*1*`... become one `name*` parameter whose value stays
    /// percent-encoded (`charset'lang'text`); non-extended sections joining
    /// extended ones get their `%` escaped; when an index is missing the
    /// sections are returned as they were. Plain parameters come first, in
    /// header order, then the merged ones sorted by name.
    pub fn parse_parameters(&mut self) -> Vec<(Vec<u8>, Vec<u8>)> {
        struct Section {
            key: Vec<u8>,
            value: Vec<u8>,
            index: u32,
            extended: bool,
        }
        let previous_replace_nul = self.replace_nul;
        self.replace_nul = true;
        let mut result = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        // Dovecot reuses one struct for every section and does not reset the
        // index for `name*=`: keep that quirk so odd input merges alike.
        let mut last_index: u32 = 0;
        while let Some((step, key, value)) = self.parse_content_param() {
            if step == Step::Broken {
                if self.at_end() {
                    break;
                }
                self.pos += 1;
                continue;
            }
            let Some(star) = key.iter().position(|&b| b == b'*') else {
                result.push((key, value));
                continue;
            };
            let mut cursor = star;
            if cursor + 1 < key.len() {
                cursor += 1;
                last_index = 0;
                while let Some(&digit @ b'0'..=b'9') = key.get(cursor) {
                    last_index = last_index
                        .wrapping_mul(10)
                        .wrapping_add(u32::from(digit - b'0'));
                    cursor += 1;
                }
            }
            let extended = key.get(cursor) == Some(&b'*');
            if extended {
                cursor += 1;
            }
            if cursor < key.len() {
                result.push((key, value));
            } else {
                sections.push(Section {
                    key: key[..star].to_vec(),
                    value,
                    index: last_index,
                    extended,
                });
            }
        }
        self.replace_nul = previous_replace_nul;
        if sections.is_empty() {
            return result;
        }
        sections.sort_by(|a, b| a.key.cmp(&b.key).then(a.index.cmp(&b.index)));
        let mut first = 0;
        while first < sections.len() {
            let mut next = first;
            let mut complete = true;
            let mut have_extended = false;
            let mut expected_index = 0;
            while next < sections.len()
                && sections[next]
                    .key
                    .eq_ignore_ascii_case(&sections[first].key)
            {
                if sections[next].index != expected_index {
                    complete = false;
                }
                have_extended |= sections[next].extended;
                expected_index += 1;
                next += 1;
            }
            let group = &sections[first..next];
            if !complete {
                for section in group {
                    let mut key = section.key.clone();
                    key.push(b'*');
                    key.extend_from_slice(section.index.to_string().as_bytes());
                    if section.extended {
                        key.push(b'*');
                    }
                    result.push((key, section.value.clone()));
                }
            } else {
                let mut value = Vec::new();
                if !group[0].extended && have_extended {
                    value.extend_from_slice(b"''");
                }
                for section in group {
                    if !section.extended && have_extended {
                        for &byte in &section.value {
                            if byte == b'%' {
                                value.extend_from_slice(b"%25");
                            } else {
                                value.push(byte);
                            }
                        }
                    } else {
                        value.extend_from_slice(&section.value);
                    }
                }
                let mut key = group[0].key.clone();
                if have_extended {
                    key.push(b'*');
                }
                result.push((key, value));
            }
            first = next;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(value: &str) -> Vec<(String, String)> {
        let mut parser = Rfc822Parser::new(value.as_bytes());
        let mut content_type = Vec::new();
        parser.parse_content_type(&mut content_type);
        parser
            .parse_parameters()
            .into_iter()
            .map(|(k, v)| {
                (
                    String::from_utf8_lossy(&k).into_owned(),
                    String::from_utf8_lossy(&v).into_owned(),
                )
            })
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn content_type_and_simple_parameters() {
        let mut parser = Rfc822Parser::new(b"Text/Plain ; charset=\"utf-8\"; format=flowed");
        let mut ct = Vec::new();
        assert_eq!(parser.parse_content_type(&mut ct), Step::More);
        assert_eq!(ct, b"Text/Plain");
        assert_eq!(
            parser.parse_parameters(),
            vec![
                (b"charset".to_vec(), b"utf-8".to_vec()),
                (b"format".to_vec(), b"flowed".to_vec())
            ]
        );
    }

    #[test]
    fn broken_content_types_keep_what_dovecot_keeps() {
        let mut ct = Vec::new();
        assert_eq!(
            Rfc822Parser::new(b"text").parse_content_type(&mut ct),
            Step::Broken
        );
        assert_eq!(ct, b"text");
        let mut ct = Vec::new();
        assert_eq!(
            Rfc822Parser::new(b"text/plain junk").parse_content_type(&mut ct),
            Step::Broken
        );
        assert_eq!(ct, b"");
        let mut ct = Vec::new();
        assert_eq!(
            Rfc822Parser::new(b"text/").parse_content_type(&mut ct),
            Step::Broken
        );
        assert_eq!(ct, b"");
    }

    #[test]
    fn rfc2231_continuations_are_merged_and_kept_encoded() {
        assert_eq!(
            params("application/x; name*0*=utf-8''%E2%82%AC; name*1*=%20rate; name*2=.pdf"),
            vec![pair("name*", "utf-8''%E2%82%AC%20rate.pdf")]
        );
        assert_eq!(
            params("application/x; title*0=\"abc \"; title*1=\"100%\""),
            vec![pair("title", "abc 100%")]
        );
        assert_eq!(
            params("application/x; title*0=abc; title*1*=%41%"),
            vec![pair("title*", "''abc%41%")]
        );
        assert_eq!(
            params("application/x; a=1; t*1=x; t*2=y"),
            vec![pair("a", "1"), pair("t*1", "x"), pair("t*2", "y")]
        );
        assert_eq!(
            params("application/x; title*=us-ascii'en'a%20b"),
            vec![pair("title*", "us-ascii'en'a%20b")]
        );
    }

    #[test]
    fn broken_parameters_are_skipped() {
        assert_eq!(
            params("text/plain; a=b c; d=e"),
            vec![pair("a", "b"), pair("d", "e")]
        );
        assert_eq!(
            params("text/plain; name==?utf-8?q?x?="),
            vec![pair("name", "=?utf-8?q?x?=")]
        );
        assert_eq!(params("text/plain; a="), vec![pair("a", "")]);
        assert_eq!(params("text/plain; a=\"unterminated"), vec![]);
    }

    /// Found by the `mime_structure` fuzz target: a `name==…` value kept a NUL, which
    /// BODYSTRUCTURE then sent inside a literal (RFC 3501 forbids NUL there). Dovecot 2.3.19
    /// answers `("a" "=x" "b" "c")` for this header: the value ends at the NUL, the parameter
    /// after it is read as usual.
    #[test]
    fn a_broken_value_ends_at_a_nul_as_in_dovecot() {
        assert_eq!(
            params("e/p; a==x\0y z; b=c"),
            vec![pair("a", "=x"), pair("b", "c")]
        );
        assert_eq!(params("e/p;==\0"), vec![pair("", "=")]);
    }

    #[test]
    fn phrase_joins_words_and_keeps_encoded_words() {
        let mut parser = Rfc822Parser::new(b"=?utf-8?q?J=C3=B6rg?=  \"Q.\"  Public <x@y>");
        let mut out = Vec::new();
        assert_eq!(parser.parse_phrase(&mut out), Step::More);
        assert_eq!(out, b"=?utf-8?q?J=C3=B6rg?= Q. Public");
        assert_eq!(parser.peek(), b'<');
    }

    #[test]
    fn comments_are_captured_when_asked() {
        let mut parser = Rfc822Parser::new(b"  (John (the) \\) Doe)x");
        parser.last_comment = Some(Vec::new());
        assert_eq!(parser.skip_lwsp(), Step::More);
        assert_eq!(
            parser.last_comment.as_deref(),
            Some(&b"John (the) ) Doe"[..])
        );
    }
}
