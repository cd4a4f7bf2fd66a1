//! Owns LIST and LSUB name matching (RFC 3501 6.3.8): the reference joined to the pattern, `*`
//! matching any characters and `%` any but the hierarchy delimiter, INBOX in any case.

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

#[cfg(test)]
mod tests {
    use super::*;

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
