//! Owns the mapping between Outlook categories and IMAP keywords, both ways (README, "Flags,
//! keywords and Outlook categories"):
//!
//! - A category is shown as the keyword that spells it: every byte of its UTF-8 that may stand
//!   in an atom (RFC 3501 `ATOM-CHAR`) as itself, every other byte as `&` and two upper-case hex
//!   digits. Escaped are space, controls, `( ) { % * " \ ]`, bytes beyond ASCII, `&` itself, and
//!   a `$` that begins the name: `Red category` is `Red&20category`, `R&D` is `R&26D`, `$Label1`
//!   is `&24Label1`, `Été` is `&C3&89t&C3&A9`. A category that needs no escape shows as itself.
//! - A keyword names a category when it is the spelling of one: only escapes that must be there,
//!   so `&41` (an `A` that needs no escape), `&2`, `&ZZ` or an escape of bytes that are not UTF-8
//!   name none. Hex digits may come in either case, since IMAP keywords compare without regard
//!   to case; category names compare the same way (ASCII case), as Outlook's do.
//! - Keywords that begin with `$` are IMAP's own (`$MDNSent`, `$Junk`, `$NotJunk`, `$Label1`…):
//!   clients set them for themselves, not for the person reading mail in Outlook, so they are
//!   never categories. They, and keywords that spell no category, are kept by the gateway; the
//!   escaped leading `$` keeps a category named `$…` from ever meeting them.

/// The escape that begins two hex digits.
const ESCAPE: u8 = b'&';

/// Whether the byte may stand as itself in a keyword: an RFC 3501 `ATOM-CHAR` other than the
/// escape.
fn stands_as_itself(byte: u8) -> bool {
    byte > b' '
        && byte < 0x7f
        && !matches!(
            byte,
            b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']' | ESCAPE
        )
}

/// The keyword that shows the category, or `None` for an empty name (no keyword can show it).
pub fn keyword_of(category: &str) -> Option<String> {
    if category.is_empty() {
        return None;
    }
    let mut keyword = String::with_capacity(category.len());
    for (index, &byte) in category.as_bytes().iter().enumerate() {
        if stands_as_itself(byte) && !(index == 0 && byte == b'$') {
            keyword.push(char::from(byte));
        } else {
            keyword.push(char::from(ESCAPE));
            keyword.push_str(&format!("{byte:02X}"));
        }
    }
    Some(keyword)
}

/// The category a keyword spells, or `None` when the gateway keeps the keyword itself (IMAP's
/// own `$` keywords, and keywords that are not the spelling of any category).
pub fn category_of(keyword: &str) -> Option<String> {
    if keyword.starts_with('$') {
        return None;
    }
    let bytes = keyword.as_bytes();
    let mut name = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == ESCAPE {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            name.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            name.push(bytes[index]);
            index += 1;
        }
    }
    let name = String::from_utf8(name).ok()?;
    // Only the one spelling: no escape where none is needed, none missing.
    keyword_of(&name)
        .is_some_and(|spelled| spelled.eq_ignore_ascii_case(keyword))
        .then_some(name)
}

/// Whether two category names are one to IMAP (and to Outlook): equal without regard to ASCII
/// case.
pub fn same_category(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoms_show_as_themselves_and_others_escaped() {
        for (category, keyword) in [
            ("Blue", "Blue"),
            ("Red category", "Red&20category"),
            ("R&D", "R&26D"),
            ("$Label1", "&24Label1"),
            ("a$b", "a$b"),
            ("Été", "&C3&89t&C3&A9"),
            ("(x)*%\"\\]{", "&28x&29&2A&25&22&5C&5D&7B"),
            ("tab\there", "tab&09here"),
            ("[ok]", "[ok&5D"),
            ("&41", "&2641"),
        ] {
            assert_eq!(keyword_of(category).as_deref(), Some(keyword), "{category}");
            assert_eq!(category_of(keyword).as_deref(), Some(category), "{keyword}");
        }
        assert_eq!(keyword_of(""), None);
    }

    #[test]
    fn every_name_comes_back_and_no_two_names_share_a_keyword() {
        let names = [
            "Blue",
            "blue ",
            " blue",
            "&",
            "&&",
            "&26",
            "$",
            "$$",
            "a b",
            "a&20b",
            "日本",
            "x\u{7f}",
            "Red category",
            "Red&20category",
            "$Label1",
            "&24Label1",
        ];
        let keywords: Vec<String> = names.iter().map(|n| keyword_of(n).unwrap()).collect();
        for (name, keyword) in names.iter().zip(&keywords) {
            assert_eq!(category_of(keyword).as_deref(), Some(*name));
            assert!(keyword.bytes().all(|b| stands_as_itself(b) || b == ESCAPE));
        }
        for (i, a) in keywords.iter().enumerate() {
            for b in &keywords[i + 1..] {
                assert!(!a.eq_ignore_ascii_case(b), "{a} and {b}");
            }
        }
    }

    #[test]
    fn only_the_one_spelling_names_a_category() {
        for kept in [
            "&41",      // an A needs no escape
            "a&2",      // cut short
            "a&ZZ",     // not hex
            "&FF",      // not UTF-8
            "&C3",      // half a character
            "&",        // nothing after the escape
            "$MDNSent", // IMAP's own
            "$Forwarded",
            "&2",
        ] {
            assert_eq!(category_of(kept), None, "{kept}");
        }
        assert_eq!(
            category_of("red&20CATEGORY").as_deref(),
            Some("red CATEGORY")
        );
        assert_eq!(
            category_of("&c3&a9").as_deref(),
            Some("é"),
            "hex in either case"
        );
    }

    #[test]
    fn names_compare_without_regard_to_ascii_case() {
        assert!(same_category("Red category", "red CATEGORY"));
        assert!(!same_category("Red", "Red "));
    }
}
