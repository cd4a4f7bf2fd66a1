//! Owns the meaning of sequence sets (RFC 3501 9, `sequence-set`) against a selected folder:
//! message sequence numbers or UIDs, `*`, and ranges written either way round.

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

/// SEARCH's evaluation of one message, for the fuzz target `sequence_search` (the search
/// module itself is private to the session); not the gateway's API.
#[doc(hidden)]
pub use super::search::{evaluate_message as evaluate_search_key, SearchContent};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    #[error("invalid message sequence number: {0}")]
    OutOfRange(u32),
    #[error("no messages: * refers to nothing")]
    Empty,
}

/// The positions (0-based, ascending, without repeats) of the messages the set names.
/// `uids` are the folder's UIDs in ascending order, one per message.
pub fn resolve(set: &SequenceSet, uids: &[u32], by_uid: bool) -> Result<Vec<usize>, SequenceError> {
    let mut positions = Vec::new();
    for sequence in set.0.as_ref() {
        let (low, high) = match sequence {
            Sequence::Single(value) => (value, value),
            Sequence::Range(a, b) => (a, b),
        };
        if by_uid {
            // `*` is the largest UID in use; a range n:* always includes it even when n is
            // larger (RFC 3501 6.4.8). UIDs that name no message are ignored.
            let Some(&largest) = uids.last() else {
                continue;
            };
            let value = |v: &SeqOrUid| match v {
                SeqOrUid::Value(n) => n.get(),
                SeqOrUid::Asterisk => largest,
            };
            let (a, b) = (value(low), value(high));
            let (from, to) = (a.min(b), a.max(b));
            let start = uids.partition_point(|&uid| uid < from);
            let end = uids.partition_point(|&uid| uid <= to);
            positions.extend(start..end);
        } else {
            let exists = uids.len() as u32;
            let value = |v: &SeqOrUid| match v {
                SeqOrUid::Value(n) if n.get() <= exists => Ok(n.get()),
                SeqOrUid::Value(n) => Err(SequenceError::OutOfRange(n.get())),
                SeqOrUid::Asterisk if exists > 0 => Ok(exists),
                SeqOrUid::Asterisk => Err(SequenceError::Empty),
            };
            let (a, b) = (value(low)?, value(high)?);
            let (from, to) = (a.min(b), a.max(b));
            positions.extend((from as usize - 1)..(to as usize));
        }
    }
    positions.sort_unstable();
    positions.dedup();
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> SequenceSet {
        SequenceSet::try_from(text).unwrap()
    }

    #[test]
    fn sequence_numbers() {
        let uids = [3, 5, 9, 10];
        assert_eq!(
            resolve(&set("1:*"), &uids, false).unwrap(),
            vec![0, 1, 2, 3]
        );
        assert_eq!(resolve(&set("4:2"), &uids, false).unwrap(), vec![1, 2, 3]);
        assert_eq!(resolve(&set("*,1,1"), &uids, false).unwrap(), vec![0, 3]);
        assert_eq!(
            resolve(&set("5"), &uids, false),
            Err(SequenceError::OutOfRange(5))
        );
        assert_eq!(resolve(&set("*"), &[], false), Err(SequenceError::Empty));
    }

    #[test]
    fn uids() {
        let uids = [3, 5, 9, 10];
        assert_eq!(resolve(&set("1:*"), &uids, true).unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(resolve(&set("4:9"), &uids, true).unwrap(), vec![1, 2]);
        assert_eq!(resolve(&set("9:4"), &uids, true).unwrap(), vec![1, 2]);
        assert_eq!(resolve(&set("20:*"), &uids, true).unwrap(), vec![3]);
        assert_eq!(
            resolve(&set("6,7,100"), &uids, true).unwrap(),
            Vec::<usize>::new()
        );
        assert_eq!(
            resolve(&set("1:*"), &[], true).unwrap(),
            Vec::<usize>::new()
        );
    }
}
