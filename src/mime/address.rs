//! RFC 5322 address lists (From, To, Cc, ...) as the ENVELOPE shows them.
//!
//! IMAP's ENVELOPE gives each address as (name route mailbox host) and
//! marks groups with a (NIL NIL "group" NIL) start and a
//! (NIL NIL NIL NIL) end (RFC 3501 section 7.4.2). Real headers are often
//! broken; this parser repairs them exactly as Dovecot does (2.3 series,
//! with its "fill missing" option used for ENVELOPE): a missing local part
//! becomes `MISSING_MAILBOX`, a missing domain `MISSING_DOMAIN`, an
//! unparsable `<...>` `SYNTAX_ERROR`, a bad route `INVALID_ROUTE`; dots are
//! not checked strictly (`.user.`@ is common in Japan); a comment after an
//! address becomes its name; encoded words stay encoded.

use super::rfc822::{Rfc822Parser, Step};

/// One ENVELOPE address (or a group marker).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Address {
    pub name: Option<Vec<u8>>,
    pub route: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub domain: Option<Vec<u8>>,
}

#[derive(Default)]
struct Pending {
    address: Address,
    invalid: bool,
}

struct AddressParser<'a> {
    parser: Rfc822Parser<'a>,
    addresses: Vec<Address>,
    current: Pending,
    scratch: Vec<u8>,
}

/// Parses an address-list header value (already unfolded). Returns an empty
/// list when there is no address at all.
pub(crate) fn parse_address_list(value: &[u8]) -> Vec<Address> {
    let mut parser = Rfc822Parser::new(value);
    parser.last_comment = Some(Vec::new());
    parser.replace_nul = true;
    let mut context = AddressParser {
        parser,
        addresses: Vec::new(),
        current: Pending::default(),
        scratch: Vec::new(),
    };
    if context.parser.skip_lwsp() > Step::AtEnd {
        context.parse_list();
    }
    context.addresses
}

impl AddressParser<'_> {
    fn push_current(&mut self) {
        let pending = std::mem::take(&mut self.current);
        self.addresses.push(pending.address);
    }

    fn push_current_filled(&mut self) {
        if self.current.address.mailbox.is_none() {
            self.current.address.mailbox = Some(b"MISSING_MAILBOX".to_vec());
            self.current.invalid = true;
        }
        if self
            .current
            .address
            .domain
            .as_ref()
            .is_none_or(|d| d.is_empty())
        {
            self.current.address.domain = Some(b"MISSING_DOMAIN".to_vec());
            self.current.invalid = true;
        }
        self.push_current();
    }

    /// Local part with dots allowed anywhere (`.a..b.`).
    fn parse_lenient_dot_atom(&mut self) -> Step {
        let mut step = Step::Broken;
        loop {
            while self.parser.peek() == b'.' {
                self.scratch.push(b'.');
                self.parser.advance();
                if self.parser.at_end() {
                    // The local part ended without "@domain"; that is fine.
                    return Step::AtEnd;
                }
                step = Step::More;
            }
            if self.parser.peek() == b'@' {
                break;
            }
            step = self.parser.parse_atom(&mut self.scratch);
            if !(step > Step::AtEnd && self.parser.peek() == b'.') {
                break;
            }
        }
        step
    }

    fn parse_local_part(&mut self) -> Step {
        self.scratch.clear();
        let step = if self.parser.peek() == b'"' {
            self.parser.parse_quoted_string(&mut self.scratch)
        } else {
            self.parse_lenient_dot_atom()
        };
        if step == Step::Broken {
            return Step::Broken;
        }
        self.current.address.mailbox = Some(self.scratch.clone());
        step
    }

    fn parse_domain(&mut self) -> Step {
        self.scratch.clear();
        let step = self.parser.parse_domain(&mut self.scratch);
        if step == Step::Broken {
            return Step::Broken;
        }
        self.current.address.domain = Some(self.scratch.clone());
        step
    }

    /// `@a,@b:` before the local part of an angle address.
    fn parse_route(&mut self) -> Step {
        self.scratch.clear();
        loop {
            if self.parser.at_end() {
                return Step::AtEnd;
            }
            if self.parser.peek() != b'@' {
                break;
            }
            if !self.scratch.is_empty() {
                self.scratch.push(b',');
            }
            self.scratch.push(b'@');
            let step = self.parser.parse_domain(&mut self.scratch);
            if step <= Step::AtEnd {
                return step;
            }
            while self.parser.skip_lwsp() > Step::AtEnd && self.parser.peek() == b',' {
                self.parser.advance();
            }
        }
        self.current.address.route = Some(self.scratch.clone());
        Step::More
    }

    fn parse_angle_address(&mut self) -> Step {
        self.parser.advance(); // '<'
        if self.parser.skip_lwsp() <= Step::AtEnd {
            return Step::Broken;
        }
        if self.parser.peek() == b'@' {
            if self.parse_route() > Step::AtEnd && self.parser.peek() == b':' {
                self.parser.advance();
            } else {
                self.current.address.route = Some(b"INVALID_ROUTE".to_vec());
                if self.parser.at_end() {
                    return Step::Broken;
                }
                // Try to continue anyway.
            }
            if self.parser.skip_lwsp() <= Step::AtEnd {
                return Step::Broken;
            }
        }
        if self.parser.peek() != b'>' {
            if self.parse_local_part() <= Step::AtEnd {
                return Step::Broken;
            }
            if self.parser.peek() == b'@' && self.parse_domain() <= Step::AtEnd {
                return Step::Broken;
            }
        }
        if self.parser.peek() != b'>' {
            return Step::Broken;
        }
        self.parser.advance();
        self.parser.skip_lwsp()
    }

    /// `[display-name] angle-addr`.
    fn parse_name_address(&mut self) -> Step {
        self.scratch.clear();
        if self.parser.parse_phrase(&mut self.scratch) <= Step::AtEnd || self.parser.peek() != b'<'
        {
            return Step::Broken;
        }
        self.current.address.name = if self.scratch.is_empty() {
            None
        } else {
            Some(self.scratch.clone())
        };
        if self.parse_angle_address() == Step::Broken {
            self.current.address.domain = Some(b"SYNTAX_ERROR".to_vec());
            self.current.invalid = true;
        }
        if self.parser.at_end() {
            Step::AtEnd
        } else {
            Step::More
        }
    }

    /// `local-part@domain`, possibly followed by a `(comment)` name, or a
    /// bare word / phrase without any address.
    fn parse_address_spec(&mut self) -> Step {
        if let Some(comment) = self.parser.last_comment.as_mut() {
            comment.clear();
        }
        let quoted = self.parser.peek() == b'"';
        let mut step = self.parse_local_part();
        if step <= Step::AtEnd {
            self.current.invalid = true;
        }
        let mut domain_step = None;
        if step != Step::AtEnd && !self.parser.at_end() && self.parser.peek() == b'@' {
            let parsed = self.parse_domain();
            domain_step = Some(parsed);
            if parsed <= Step::AtEnd {
                step = parsed;
            }
        }
        let comment = self.parser.last_comment.clone().unwrap_or_default();
        if !comment.is_empty() {
            self.current.address.name = Some(comment);
        } else if domain_step.is_none() {
            // A word without @domain is a mailbox, unless more words follow:
            // then it was a display name without an address.
            self.scratch.push(b' ');
            let before = self.scratch.len();
            self.parser.parse_phrase(&mut self.scratch);
            if self.scratch.len() != before {
                self.current.address.mailbox = None;
                self.current.address.name = Some(self.scratch.clone());
            } else if !quoted {
                self.current.address.domain = Some(Vec::new());
            }
            self.current.invalid = true;
            step = Step::Broken;
        }
        step
    }

    fn parse_mailbox(&mut self) -> Step {
        let start = self.parser.position();
        let mut step = self.parse_name_address();
        if step == Step::Broken {
            self.parser.set_position(start);
            step = self.parse_address_spec();
            let address = &mut self.current.address;
            if self.current.invalid
                && address.name.is_none()
                && address.mailbox.is_some()
                && address.domain.is_none()
            {
                address.name = address.mailbox.take();
            }
        }
        if step == Step::Broken {
            self.current.invalid = true;
        }
        self.push_current_filled();
        step
    }

    /// `display-name ":" [mailbox-list] ";"`. `None` when this is no group.
    fn parse_group(&mut self) -> Option<Step> {
        self.scratch.clear();
        if self.parser.parse_phrase(&mut self.scratch) <= Step::AtEnd || self.parser.peek() != b':'
        {
            return None;
        }
        // From here on this is a group, however broken.
        self.parser.advance();
        let mut step = self.parser.skip_lwsp();
        if step <= Step::AtEnd {
            self.current.invalid = true;
        }
        self.current.address.mailbox = Some(self.scratch.clone());
        self.push_current();

        if step > Step::AtEnd && self.parser.peek() != b';' {
            loop {
                // A broken mailbox is kept; try to continue anyway.
                self.parse_mailbox();
                if self.parser.at_end() || self.parser.peek() != b',' {
                    break;
                }
                self.parser.advance();
                if self.parser.skip_lwsp() <= Step::AtEnd {
                    step = Step::Broken;
                    break;
                }
            }
        }
        if step >= Step::AtEnd {
            if self.parser.at_end() || self.parser.peek() != b';' {
                step = Step::Broken;
            } else {
                self.parser.advance();
                step = self.parser.skip_lwsp();
            }
        }
        if step == Step::Broken {
            self.current.invalid = true;
        }
        self.push_current(); // the group end marker
        Some(if step == Step::AtEnd {
            Step::AtEnd
        } else {
            Step::More
        })
    }

    fn parse_address(&mut self) -> Step {
        let start = self.parser.position();
        if let Some(step) = self.parse_group() {
            return step;
        }
        self.parser.set_position(start);
        self.parse_mailbox()
    }

    fn parse_list(&mut self) {
        // Bounded by the input: every round consumes at least one byte
        // (a comma), and a round that does not stops the loop.
        loop {
            if self.parse_address() == Step::AtEnd {
                break;
            }
            if self.parser.at_end() || self.parser.peek() != b',' {
                break;
            }
            self.parser.advance();
            match self.parser.skip_lwsp() {
                Step::More => {}
                Step::AtEnd => break,
                Step::Broken => {
                    // Ends with garbage.
                    self.push_current_filled();
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(value: &str) -> Vec<[Option<String>; 4]> {
        parse_address_list(value.as_bytes())
            .into_iter()
            .map(|a| {
                let s = |v: Option<Vec<u8>>| v.map(|v| String::from_utf8_lossy(&v).into_owned());
                [s(a.name), s(a.route), s(a.mailbox), s(a.domain)]
            })
            .collect()
    }

    fn addr(
        name: Option<&str>,
        route: Option<&str>,
        mailbox: Option<&str>,
        domain: Option<&str>,
    ) -> [Option<String>; 4] {
        [name, route, mailbox, domain].map(|v| v.map(str::to_owned))
    }

    #[test]
    fn plain_and_named_addresses() {
        assert_eq!(
            show("a@b.example"),
            vec![addr(None, None, Some("a"), Some("b.example"))]
        );
        assert_eq!(
            show("\"a b\" <x@y>, John Q. Public <jqp@example.com>"),
            vec![
                addr(Some("a b"), None, Some("x"), Some("y")),
                addr(
                    Some("John Q. Public"),
                    None,
                    Some("jqp"),
                    Some("example.com")
                ),
            ]
        );
        assert_eq!(show("<x@y>"), vec![addr(None, None, Some("x"), Some("y"))]);
        assert_eq!(
            show("x@y (Comment Name)"),
            vec![addr(Some("Comment Name"), None, Some("x"), Some("y"))]
        );
    }

    #[test]
    fn encoded_words_stay_encoded() {
        assert_eq!(
            show("=?utf-8?q?J=C3=B6rg?= <j@x>"),
            vec![addr(
                Some("=?utf-8?q?J=C3=B6rg?="),
                None,
                Some("j"),
                Some("x")
            )]
        );
    }

    #[test]
    fn groups() {
        assert_eq!(
            show("undisclosed-recipients:;"),
            vec![
                addr(None, None, Some("undisclosed-recipients"), None),
                addr(None, None, None, None)
            ]
        );
        assert_eq!(
            show("Team: a@b, c@d;, e@f"),
            vec![
                addr(None, None, Some("Team"), None),
                addr(None, None, Some("a"), Some("b")),
                addr(None, None, Some("c"), Some("d")),
                addr(None, None, None, None),
                addr(None, None, Some("e"), Some("f")),
            ]
        );
        assert_eq!(
            show("undisclosed-recipients:"),
            vec![
                addr(None, None, Some("undisclosed-recipients"), None),
                addr(None, None, None, None)
            ]
        );
    }

    #[test]
    fn routes_and_broken_addresses() {
        assert_eq!(
            show("<@r1.example,@r2.example:x@y>"),
            vec![addr(
                None,
                Some("@r1.example,@r2.example"),
                Some("x"),
                Some("y")
            )]
        );
        assert_eq!(
            show("user"),
            vec![addr(None, None, Some("user"), Some("MISSING_DOMAIN"))]
        );
        assert_eq!(
            show("John Doe"),
            vec![addr(
                Some("John Doe"),
                None,
                Some("MISSING_MAILBOX"),
                Some("MISSING_DOMAIN")
            )]
        );
        assert_eq!(
            show("Name <broken"),
            vec![addr(
                Some("Name"),
                None,
                Some("broken"),
                Some("SYNTAX_ERROR")
            )]
        );
        assert_eq!(show(""), Vec::<[Option<String>; 4]>::new());
        assert_eq!(show("  "), Vec::<[Option<String>; 4]>::new());
        assert_eq!(
            show(".a.b.@x"),
            vec![addr(None, None, Some(".a.b."), Some("x"))]
        );
        assert_eq!(
            show("<>"),
            vec![addr(
                None,
                None,
                Some("MISSING_MAILBOX"),
                Some("MISSING_DOMAIN")
            )]
        );
    }
}
