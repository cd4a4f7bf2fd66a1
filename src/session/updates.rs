//! Owns how a session learns of changes made elsewhere (other sessions, other instances,
//! Outlook): the selected folder's newest snapshot is compared with the session's view, and the
//! differences become untagged responses (RFC 3501 7.3.1 EXISTS, 7.4.1 EXPUNGE, 7.4.2 FETCH),
//! sent at the end of a command and while the client IDLEs. Sequence numbers stay consistent
//! within the session: expunges are announced highest first, and only where the RFC allows.
//! A keyword new to the folder is named in an untagged FLAGS (and PERMANENTFLAGS) before the
//! first response that shows it (RFC 3501 7.2.6).

use std::collections::HashMap;
use std::sync::Arc;

use super::fetch::write_flags;
use super::Selection;
use crate::hub::{FolderSnapshot, MessageMeta};

/// Brings `selection` up to `snapshot` and writes the responses that say so; returns the UIDs
/// of the messages that arrived (after their EXISTS; the caller decides which are \Recent to
/// the session and says how many are). With `allow_expunge` false (during FETCH, STORE and
/// SEARCH) vanished messages stay in the view until a later command may announce them.
pub(super) fn apply(
    selection: &mut Selection,
    snapshot: &FolderSnapshot,
    allow_expunge: bool,
    out: &mut Vec<u8>,
) -> Vec<u32> {
    if snapshot.folder_id != selection.folder.id || snapshot.uid_validity != selection.uid_validity
    {
        return Vec::new();
    }
    announce_keywords(
        selection,
        snapshot
            .messages
            .iter()
            .flat_map(|m| m.flags.keywords.iter().map(String::as_str)),
        out,
    );
    let current: HashMap<u32, &MessageMeta> =
        snapshot.messages.iter().map(|m| (m.uid, m)).collect();
    if allow_expunge {
        for position in (0..selection.messages.len()).rev() {
            if !current.contains_key(&selection.messages[position].uid) {
                Arc::make_mut(&mut selection.messages).remove(position);
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", position + 1).as_bytes());
            }
        }
    }
    for position in 0..selection.messages.len() {
        let Some(theirs) = current.get(&selection.messages[position].uid) else {
            continue;
        };
        let mine = &selection.messages[position];
        let learned_size = mine.size.is_none() && theirs.size.is_some();
        if !learned_size && mine.flags == theirs.flags {
            continue;
        }
        let mine = &mut Arc::make_mut(&mut selection.messages)[position];
        if learned_size {
            mine.size = theirs.size;
        }
        if mine.flags != theirs.flags {
            mine.flags = theirs.flags.clone();
            out.extend_from_slice(
                format!("* {} FETCH (UID {} FLAGS (", position + 1, mine.uid).as_bytes(),
            );
            write_flags(out, &mine.flags, selection.recent.contains(&mine.uid));
            out.extend_from_slice(b"))\r\n");
        }
    }
    let last_uid = selection.messages.last().map(|m| m.uid).unwrap_or(0);
    let arrived: Vec<MessageMeta> = snapshot
        .messages
        .iter()
        .filter(|m| m.uid > last_uid)
        .cloned()
        .collect();
    let arrived_uids: Vec<u32> = arrived.iter().map(|m| m.uid).collect();
    if !arrived.is_empty() {
        Arc::make_mut(&mut selection.messages).extend(arrived);
        out.extend_from_slice(format!("* {} EXISTS\r\n", selection.messages.len()).as_bytes());
    }
    // A view that has caught up with the folder shares the snapshot's list again.
    if *selection.messages == snapshot.messages {
        selection.messages = snapshot.shared_messages();
    }
    selection.uid_next = selection.uid_next.max(snapshot.uid_next);
    arrived_uids
}

/// Makes the messages with UIDs above `claimed` among `arrived` \Recent to the session, and
/// says how many of the folder's messages now are (RFC 3501 7.3.2).
pub(super) fn add_recent(
    selection: &mut Selection,
    arrived: &[u32],
    claimed: u32,
    out: &mut Vec<u8>,
) {
    selection
        .recent
        .extend(arrived.iter().copied().filter(|&uid| uid > claimed));
    out.extend_from_slice(format!("* {} RECENT\r\n", selection.recent_count()).as_bytes());
}

/// The FLAGS and PERMANENTFLAGS responses of the selected folder: the system flags and every
/// keyword the session knows of (at SELECT or EXAMINE, and when a keyword new to it shows).
pub(super) fn write_flag_lists(selection: &Selection, out: &mut Vec<u8>) {
    let mut flags = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded");
    for keyword in &selection.keywords {
        flags.push(' ');
        flags.push_str(keyword);
    }
    out.extend_from_slice(format!("* FLAGS ({flags})\r\n").as_bytes());
    if selection.read_only {
        out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only folder\r\n");
    } else {
        let mut permanent =
            String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded");
        for keyword in &selection.keywords {
            permanent.push(' ');
            permanent.push_str(keyword);
        }
        out.extend_from_slice(
            format!("* OK [PERMANENTFLAGS ({permanent} \\*)] Flags kept in Exchange\r\n")
                .as_bytes(),
        );
    }
}

/// Records the keywords in `shown` the session has not been told of and, if there are any,
/// tells it (FLAGS and PERMANENTFLAGS) before a response shows them. Keywords compare without
/// regard to case, as IMAP's do.
pub(super) fn announce_keywords<'a>(
    selection: &mut Selection,
    shown: impl IntoIterator<Item = &'a str>,
    out: &mut Vec<u8>,
) {
    let mut new = false;
    for keyword in shown {
        if !selection
            .keywords
            .iter()
            .any(|known| known.eq_ignore_ascii_case(keyword))
        {
            selection.keywords.push(keyword.to_string());
            new = true;
        }
    }
    if new {
        selection.keywords.sort();
        write_flag_lists(selection, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::{Folder, MessageFlags};
    use std::sync::Arc;

    fn message(uid: u32, seen: bool) -> MessageMeta {
        MessageMeta {
            uid,
            id: Arc::from(format!("m{uid}").as_str()),
            flags: MessageFlags {
                seen,
                ..MessageFlags::default()
            },
            internal_date: chrono::DateTime::UNIX_EPOCH,
            size: None,
            has_attachments: false,
        }
    }

    fn snapshot(messages: Vec<MessageMeta>) -> FolderSnapshot {
        FolderSnapshot {
            folder_id: "F".into(),
            uid_validity: 7,
            uid_next: messages.last().map(|m| m.uid + 1).unwrap_or(1),
            messages,
            vanished: false,
            shared: Default::default(),
        }
    }

    fn selection(messages: Vec<MessageMeta>) -> Selection {
        Selection {
            folder: Folder {
                id: "F".into(),
                name: "INBOX".into(),
                well_known: Some("inbox".into()),
                has_children: false,
                total: 0,
                unread: 0,
            },
            uid_validity: 7,
            uid_next: messages.last().map(|m| m.uid + 1).unwrap_or(1),
            messages: Arc::new(messages),
            keywords: Vec::new(),
            read_only: false,
            recent: Default::default(),
        }
    }

    #[test]
    fn expunges_flags_and_new_mail() {
        let mut view = selection(vec![
            message(1, false),
            message(2, false),
            message(3, false),
            message(4, false),
        ]);
        let now = snapshot(vec![message(1, false), message(3, true), message(5, false)]);
        let mut out = Vec::new();
        apply(&mut view, &now, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* 4 EXPUNGE\r\n* 2 EXPUNGE\r\n* 2 FETCH (UID 3 FLAGS (\\Seen))\r\n* 3 EXISTS\r\n"
        );
        assert_eq!(
            view.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            vec![1, 3, 5]
        );
        assert_eq!(view.uid_next, 6);
        // Caught up with the folder, the view is the snapshot's shared list, not a copy.
        assert!(Arc::ptr_eq(&view.messages, &now.shared_messages()));
    }

    /// Sessions whose view is the folder's share one list of its messages (issue 13, item 4);
    /// one that changes its view gets a copy of its own and leaves the others' alone.
    #[test]
    fn sessions_share_the_folder_list_until_their_views_differ() {
        let now = snapshot(vec![message(1, false), message(2, false)]);
        let folder = selection(Vec::new()).folder;
        let mut first = super::super::selection_from(folder.clone(), &now, false);
        let second = super::super::selection_from(folder, &now, false);
        assert!(Arc::ptr_eq(&first.messages, &second.messages));
        Arc::make_mut(&mut first.messages).remove(0);
        assert!(!Arc::ptr_eq(&first.messages, &second.messages));
        assert_eq!(second.messages.len(), 2);
        // A view behind the folder (an EXPUNGE it may not announce yet) keeps its copy.
        let mut out = Vec::new();
        let mut behind = selection(vec![
            message(1, false),
            message(2, false),
            message(3, false),
        ]);
        apply(&mut behind, &now, false, &mut out);
        assert!(!Arc::ptr_eq(&behind.messages, &now.shared_messages()));
        assert_eq!(behind.messages.len(), 3);
    }

    #[test]
    fn no_expunge_where_forbidden() {
        let mut view = selection(vec![message(1, false), message(2, false)]);
        let now = snapshot(vec![message(2, true), message(3, false)]);
        let mut out = Vec::new();
        apply(&mut view, &now, false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* 2 FETCH (UID 2 FLAGS (\\Seen))\r\n* 3 EXISTS\r\n"
        );
        let mut out = Vec::new();
        apply(&mut view, &now, true, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "* 1 EXPUNGE\r\n");
    }

    #[test]
    fn a_keyword_new_to_the_session_is_named_before_it_shows() {
        let mut view = selection(vec![message(1, false)]);
        let mut tagged = message(1, false);
        tagged.flags.keywords = vec!["Blue".into()];
        let mut other = message(2, false);
        other.flags.keywords = vec!["blue".into(), "$Label1".into()];
        let now = snapshot(vec![tagged, other]);
        let mut out = Vec::new();
        apply(&mut view, &now, true, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Label1 Blue)\r\n\
             * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded $Label1 Blue \\*)] Flags kept in Exchange\r\n\
             * 1 FETCH (UID 1 FLAGS (Blue))\r\n* 2 EXISTS\r\n"
        );
        // Known keywords are not named again.
        let mut out = Vec::new();
        announce_keywords(&mut view, ["BLUE", "$label1"], &mut out);
        assert!(out.is_empty());
    }
}
