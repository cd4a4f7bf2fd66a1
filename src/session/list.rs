//! Owns LIST and LSUB name matching (RFC 3501 6.3.8): the reference joined to the pattern, `*`
//! matching any characters and `%` any but the hierarchy delimiter, INBOX in any case; and
//! which unsubscribed parents LSUB lists (6.3.9).

use std::collections::{BTreeSet, HashSet};

use crate::hub::normalise_inbox;

pub const DELIMITER: char = '/';

/// The canonical pattern: reference and mailbox pattern joined, INBOX normalised.
pub fn canonical_pattern(reference: &str, pattern: &str) -> String {
    let joined = if pattern.starts_with(DELIMITER) || reference.is_empty() {
        pattern.to_string()
    } else {
        format!("{reference}{pattern}")
    };
    normalise_inbox(&joined)
}

/// Whether `name` matches `pattern`.
pub fn matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    // Dynamic programming over (pattern position, name position): no exponential backtracking
    // on hostile patterns like `*%*%*%…`.
    let mut reachable = vec![false; name.len() + 1];
    reachable[0] = true;
    for &p in &pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            '*' | '%' => {
                let mut carrying = false;
                for i in 0..=name.len() {
                    carrying = carrying || reachable[i];
                    next[i] = carrying;
                    if p == '%' && i < name.len() && name[i] == DELIMITER {
                        carrying = false;
                    }
                }
            }
            literal => {
                for i in 0..name.len() {
                    if reachable[i] && name[i] == literal {
                        next[i + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[name.len()]
}

/// The names LSUB lists `\Noselect` because a `%` ending the pattern stops at them: each is
/// a parent of a subscribed name the pattern does not match, matches the pattern itself, and is
/// not subscribed (RFC 3501 6.3.9: with `foo/bar` subscribed and `foo` not, `%` lists `foo`,
/// `\Noselect`). As Dovecot answers: only a trailing `%` stops (`*y` or a literal name lists no
/// parent), a parent of several subscribed names once, a subscribed parent as it is. Sorted.
pub fn lsub_parents<'a>(
    pattern: &str,
    subscribed: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    if !pattern.ends_with('%') {
        return Vec::new();
    }
    let subscribed: HashSet<&str> = subscribed.into_iter().collect();
    let mut parents = BTreeSet::new();
    for name in subscribed.iter().filter(|name| !matches(pattern, name)) {
        let ancestors = name
            .match_indices(DELIMITER)
            .map(|(at, _)| &name[..at])
            .filter(|parent| !parent.is_empty());
        for parent in ancestors {
            if !subscribed.contains(parent) && matches(pattern, parent) {
                parents.insert(parent.to_string());
            }
        }
    }
    parents.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answers Dovecot 2.3 gives with `foo/bar`, `x/y/z`, `p/q`, `p/r`, `s` and `s/t`
    /// subscribed (every parent a folder).
    #[test]
    fn lsub_lists_unsubscribed_parents_where_a_trailing_percent_stops() {
        let subscribed = ["foo/bar", "x/y/z", "p/q", "p/r", "s", "s/t"];
        let parents = |pattern: &str| lsub_parents(pattern, subscribed);
        assert_eq!(parents("%"), ["foo", "p", "x"]);
        assert_eq!(parents("%/%"), ["x/y"]);
        assert_eq!(parents("x%"), ["x"]);
        assert_eq!(parents("x/%"), ["x/y"]);
        for none in [
            "*", "*/%", "%*", "*%", "foo", "%/y", "*y", "x*", "x/%/z", "%/%/%",
        ] {
            assert!(parents(none).is_empty(), "{none}: {:?}", parents(none));
        }
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "INBOX/Projects/2026"));
        assert!(matches("%", "INBOX"));
        assert!(!matches("%", "INBOX/Projects"));
        assert!(matches("INBOX/%", "INBOX/Projects"));
        assert!(!matches("INBOX/%", "INBOX/Projects/2026"));
        assert!(matches("INBOX/*", "INBOX/Projects/2026"));
        assert!(matches("*26", "INBOX/Projects/2026"));
        assert!(matches("%/%/2026", "INBOX/Projects/2026"));
        assert!(!matches("Sent", "Sent Items"));
        assert!(matches("Sent*", "Sent Items"));
        assert!(matches("", ""));
        assert!(matches(&"*%".repeat(200), "x"));
        assert!(!matches(&("*%".repeat(200) + "y"), "x"));
    }

    #[test]
    fn reference_and_inbox() {
        assert_eq!(canonical_pattern("", "inbox"), "INBOX");
        assert_eq!(canonical_pattern("Inbox/", "%"), "INBOX/%");
        assert_eq!(canonical_pattern("Archive/", "/x"), "/x");
    }
}
