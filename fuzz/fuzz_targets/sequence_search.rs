//! Sequence sets and SEARCH keys as the session meets them: a command line decoded by
//! imap-codec (as `connection` does), its sequence set resolved against a folder by
//! `session::sequence::resolve` (FETCH, STORE, COPY, MOVE, UID EXPUNGE) and its SEARCH keys
//! evaluated by the session's SEARCH code, for each message of a small folder whose UIDs,
//! flags and content come from the input.
//!
//! Input: octet 0 the flags of the messages (bit 0 \Seen, 1 \Flagged, 2 \Answered, 3
//! $Forwarded, 4 \Draft, 5 \Deleted, 6 size known, 7 UIDs near 2^32), octet 1 the number of
//! messages (mod 9) and which are \Recent (bits 4-7), octets 2..10 the gaps between UIDs, then the command after its tag
//! (`a ` is added, and CRLF when missing), then optionally NUL and the message content.
//!
//! Checks, besides "no panic":
//! - `resolve` names each message at most once, in order, only positions that exist, exactly
//!   the messages the set names (checked one by one, `*` being the last message or largest
//!   UID), and refuses a set only when a sequence number is past the last message;
//! - SEARCH's own reading of a sequence set or `UID` set agrees with `resolve`;
//! - for every SEARCH: an answer decided from the index alone is the answer with the content;
//!   with the content there is always an answer; NOT gives the opposite answer; RECENT, NEW and
//!   OLD follow the session's \Recent;
//! - the decoded command encodes (imap-codec) to text that decodes to a command encoded alike.
#![no_main]

use std::collections::HashSet;
use std::sync::Arc;

use imap2graph::hub::{MessageFlags, MessageMeta};
use imap2graph::session::sequence::{evaluate_search_key, resolve, SearchContent, SequenceError};
use imap_codec::decode::Decoder;
use imap_codec::encode::Encoder;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::CommandCodec;
use libfuzzer_sys::fuzz_target;

const HEADER: usize = 10;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let rest = &data[HEADER..];
    let (line, content) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], Some(&rest[nul + 1..])),
        None => (rest, None),
    };
    let folder = Folder::new(&data[..HEADER], content.unwrap_or_default().len());
    let mut command_text = b"a ".to_vec();
    command_text.extend_from_slice(line);
    if !command_text.ends_with(b"\r\n") {
        command_text.extend_from_slice(b"\r\n");
    }
    let Ok((_, command)) = CommandCodec::default().decode(&command_text) else {
        return;
    };
    check_round_trip(&command);
    match &command.body {
        CommandBody::Fetch {
            sequence_set, uid, ..
        }
        | CommandBody::Store {
            sequence_set, uid, ..
        }
        | CommandBody::Copy {
            sequence_set, uid, ..
        }
        | CommandBody::Move {
            sequence_set, uid, ..
        } => check_set(&folder, sequence_set, *uid),
        CommandBody::ExpungeUid { sequence_set } => check_set(&folder, sequence_set, true),
        CommandBody::Search { criteria, .. } => {
            check_search(&folder, criteria, content.unwrap_or_default())
        }
        _ => {}
    }
});

struct Folder {
    messages: Vec<MessageMeta>,
    uids: Vec<u32>,
    /// The UIDs \Recent to the session.
    recent: HashSet<u32>,
}

impl Folder {
    /// The messages all have the content given after the command, of `size` octets: when the
    /// index knows a size, it is that one (the hub learns it from the body).
    fn new(header: &[u8], size: usize) -> Folder {
        let bits = header[0];
        let count = usize::from(header[1] % 9);
        let mut uid: u32 = if bits & 0x80 != 0 { u32::MAX - 2048 } else { 0 };
        let mut messages = Vec::new();
        for (index, &gap) in header[2..2 + count].iter().enumerate() {
            uid = uid.saturating_add(u32::from(gap) + 1);
            if messages.last().is_some_and(|m: &MessageMeta| m.uid >= uid) {
                break;
            }
            // Flags differ from message to message: the bits turn with the position.
            let flags = bits.rotate_left(index as u32);
            messages.push(MessageMeta {
                uid,
                id: Arc::from(format!("id{uid}").as_str()),
                flags: MessageFlags {
                    seen: flags & 1 != 0,
                    flagged: flags & 2 != 0,
                    answered: flags & 4 != 0,
                    forwarded: flags & 8 != 0,
                    draft: flags & 16 != 0,
                    deleted: flags & 32 != 0,
                    keywords: vec!["Blue".into(), "$Label1".into()],
                    ..MessageFlags::default()
                },
                internal_date: chrono::DateTime::from_timestamp(
                    1_772_600_000 + i64::from(gap) * 86_400,
                    0,
                )
                .unwrap_or_default(),
                size: (flags & 64 != 0).then_some(size as u64),
                has_attachments: flags & 1 != 0,
            });
        }
        let uids = messages.iter().map(|m| m.uid).collect();
        // \Recent: messages picked by the high bits of the count octet.
        let recent = messages
            .iter()
            .enumerate()
            .filter(|(index, _)| (header[1] >> (4 + index % 4)) & 1 == 1)
            .map(|(_, m)| m.uid)
            .collect();
        Folder {
            messages,
            uids,
            recent,
        }
    }

    fn largest_uid(&self) -> u32 {
        self.uids.last().copied().unwrap_or(0)
    }
}

/// Whether `number` is in `set`, `*` being `largest`: the plain reading of RFC 3501 9.
fn names(set: &SequenceSet, number: u32, largest: u32) -> bool {
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => largest,
    };
    set.0.as_ref().iter().any(|sequence| match sequence {
        Sequence::Single(v) => value(v) == number,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            a.min(b) <= number && number <= a.max(b)
        }
    })
}

fn check_set(folder: &Folder, set: &SequenceSet, by_uid: bool) {
    let exists = folder.uids.len() as u32;
    let resolved = resolve(set, &folder.uids, by_uid);
    let past_end = set.0.as_ref().iter().any(|sequence| {
        let (a, b) = match sequence {
            Sequence::Single(v) => (v, v),
            Sequence::Range(a, b) => (a, b),
        };
        [a, b].into_iter().any(|v| match v {
            SeqOrUid::Value(n) => n.get() > exists,
            SeqOrUid::Asterisk => exists == 0,
        })
    });
    let positions = match resolved {
        Err(err) => {
            assert!(!by_uid, "a UID set is never refused");
            assert!(past_end, "refused a set that names no number past the end");
            match err {
                SequenceError::OutOfRange(n) => assert!(n > exists),
                SequenceError::Empty => assert_eq!(exists, 0),
            }
            return;
        }
        Ok(positions) => positions,
    };
    assert!(by_uid || !past_end, "accepted a number past the end");
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "not ascending");
    assert!(
        positions.iter().all(|&p| p < folder.uids.len()),
        "past the end"
    );
    for (index, meta) in folder.messages.iter().enumerate() {
        let sequence = index as u32 + 1;
        let wanted = if by_uid {
            !folder.uids.is_empty() && names(set, meta.uid, folder.largest_uid())
        } else {
            names(set, sequence, exists)
        };
        assert_eq!(
            positions.binary_search(&index).is_ok(),
            wanted,
            "message {sequence} (UID {}) wrongly {}",
            meta.uid,
            if wanted { "left out" } else { "named" }
        );
        // SEARCH's own reading of the set agrees.
        let key = if by_uid {
            SearchKey::Uid(set.clone())
        } else {
            SearchKey::SequenceSet(set.clone())
        };
        let searched = evaluate_search_key(
            &key,
            exists,
            folder.largest_uid(),
            &folder.recent,
            sequence,
            meta,
            None,
        );
        assert_eq!(searched, Some(wanted), "SEARCH disagrees with resolve");
    }
}

fn check_search(folder: &Folder, criteria: &Vec1<SearchKey<'_>>, content: &[u8]) {
    let key = SearchKey::And(criteria.clone());
    let not = SearchKey::Not(Box::new(key.clone()));
    let exists = folder.messages.len() as u32;
    // Read once, as the session reads a body once per SEARCH.
    let content = SearchContent::read(content);
    for (index, meta) in folder.messages.iter().enumerate() {
        let sequence = index as u32 + 1;
        let eval = |key: &SearchKey<'_>, content: Option<&SearchContent>| {
            evaluate_search_key(
                key,
                exists,
                folder.largest_uid(),
                &folder.recent,
                sequence,
                meta,
                content,
            )
        };
        let first = eval(&key, None);
        let second = eval(&key, Some(&content));
        assert!(second.is_some(), "no answer with the content");
        if let Some(first) = first {
            assert_eq!(Some(first), second, "the index and the content disagree");
        }
        assert_eq!(eval(&not, None), first.map(|b| !b));
        assert_eq!(eval(&not, Some(&content)), second.map(|b| !b));
        // RECENT, NEW and OLD are the session's \Recent (RFC 3501 6.4.4).
        let recent = folder.recent.contains(&meta.uid);
        assert_eq!(eval(&SearchKey::Recent, None), Some(recent));
        assert_eq!(
            eval(&SearchKey::New, None),
            Some(recent && !meta.flags.seen)
        );
        assert_eq!(eval(&SearchKey::Old, None), Some(!recent));
    }
}

/// What imap-codec writes for the command decodes to a command that it writes the same way
/// (imap-codec writes `*:1` as `1:*`, so the commands themselves may differ in form only).
fn check_round_trip(command: &Command<'_>) {
    let encoded = CommandCodec::default().encode(command).dump();
    match CommandCodec::default().decode(&encoded) {
        Ok((rest, again)) => {
            assert!(rest.is_empty());
            let again_encoded = CommandCodec::default().encode(&again).dump();
            assert_eq!(
                again_encoded,
                encoded,
                "{}",
                String::from_utf8_lossy(&encoded)
            );
        }
        Err(err) => panic!(
            "{err:?} decoding what was encoded: {}",
            String::from_utf8_lossy(&encoded)
        ),
    }
}
