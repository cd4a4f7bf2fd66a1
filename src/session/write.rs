//! Owns the selected-state commands that change messages: STORE and UID STORE (RFC 3501
//! 6.4.6), EXPUNGE, UID EXPUNGE (RFC 4315) and the expunge of CLOSE, COPY / UID COPY with
//! COPYUID (RFC 4315), MOVE / UID MOVE (RFC 6851), and the implicit \Seen of a FETCH of a body
//! in a read-write selection. The hub carries each change out; this module decides what the
//! client asked for and answers with what Graph confirmed.

use std::sync::Arc;

use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName};
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;
use imap_codec::imap_types::IntoStatic;

use super::fetch::write_flags;
use super::sequence::resolve;
use super::{Refusal, ResponseSink, Selection};
use crate::config::ExpungeMode;
use crate::hub::{FlagUpdate, Folder, HubError, MailboxHub, MessageFlags};

/// The flags a STORE names.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct FlagSet {
    pub seen: bool,
    pub flagged: bool,
    pub answered: bool,
    pub forwarded: bool,
    pub deleted: bool,
    pub draft: bool,
    pub keywords: Vec<String>,
}

impl FlagSet {
    /// The flags of a STORE or APPEND; `\Recent` and unknown system flags are refused.
    pub fn parse(flags: &[Flag<'_>]) -> Result<FlagSet, Refusal> {
        let mut set = FlagSet::default();
        for flag in flags {
            match flag {
                Flag::Seen => set.seen = true,
                Flag::Flagged => set.flagged = true,
                Flag::Answered => set.answered = true,
                Flag::Deleted => set.deleted = true,
                Flag::Draft => set.draft = true,
                Flag::Keyword(atom) if atom.inner().eq_ignore_ascii_case("$Forwarded") => {
                    set.forwarded = true
                }
                Flag::Keyword(atom) => {
                    let keyword = atom.inner();
                    if !set.keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
                        set.keywords.push(keyword.to_string());
                    }
                }
                Flag::Extension(_) => {
                    return Err(Refusal::bad("unknown system flags cannot be stored"))
                }
            }
        }
        Ok(set)
    }

    /// The flags of a new message (APPEND).
    pub fn into_flags(self) -> MessageFlags {
        MessageFlags {
            seen: self.seen,
            flagged: self.flagged,
            answered: self.answered,
            forwarded: self.forwarded,
            draft: self.draft,
            deleted: self.deleted,
            keywords: self.keywords,
            ..MessageFlags::default()
        }
    }
}

/// The flags a message should have after a STORE of `kind` with `set`.
pub(super) fn stored_flags(old: &MessageFlags, kind: &StoreType, set: &FlagSet) -> MessageFlags {
    let mut new = old.clone();
    let has = |keywords: &[String], k: &str| keywords.iter().any(|x| x.eq_ignore_ascii_case(k));
    match kind {
        StoreType::Replace => {
            new.seen = set.seen;
            new.flagged = set.flagged;
            new.answered = set.answered;
            new.forwarded = set.forwarded;
            new.deleted = set.deleted;
            new.draft = set.draft;
            // A keyword the message has keeps its spelling (and its category its name).
            new.keywords = set
                .keywords
                .iter()
                .map(|k| {
                    old.keywords
                        .iter()
                        .find(|x| x.eq_ignore_ascii_case(k))
                        .unwrap_or(k)
                        .clone()
                })
                .collect();
        }
        StoreType::Add => {
            new.seen |= set.seen;
            new.flagged |= set.flagged;
            new.answered |= set.answered;
            new.forwarded |= set.forwarded;
            new.deleted |= set.deleted;
            new.draft |= set.draft;
            for keyword in &set.keywords {
                if !has(&new.keywords, keyword) {
                    new.keywords.push(keyword.clone());
                }
            }
        }
        StoreType::Remove => {
            new.seen &= !set.seen;
            new.flagged &= !set.flagged;
            new.answered &= !set.answered;
            new.forwarded &= !set.forwarded;
            new.deleted &= !set.deleted;
            new.draft &= !set.draft;
            new.keywords.retain(|k| !has(&set.keywords, k));
        }
    }
    new
}

/// Whether two flag states show the same to IMAP (keywords compared as sets).
fn same_flags(a: &MessageFlags, b: &MessageFlags) -> bool {
    let lower = |flags: &MessageFlags| {
        let mut keywords: Vec<String> = flags
            .keywords
            .iter()
            .map(|k| k.to_ascii_lowercase())
            .collect();
        keywords.sort();
        keywords.dedup();
        keywords
    };
    (
        a.seen,
        a.flagged,
        a.answered,
        a.forwarded,
        a.deleted,
        a.draft,
    ) == (
        b.seen,
        b.flagged,
        b.answered,
        b.forwarded,
        b.deleted,
        b.draft,
    ) && lower(a) == lower(b)
}

fn write_fetch_flags(
    out: &mut ResponseSink<'_>,
    sequence: usize,
    uid: Option<u32>,
    flags: &MessageFlags,
    recent: bool,
) {
    let mut line = format!("* {sequence} FETCH (").into_bytes();
    if let Some(uid) = uid {
        line.extend_from_slice(format!("UID {uid} ").as_bytes());
    }
    line.extend_from_slice(b"FLAGS (");
    write_flags(&mut line, flags, recent);
    line.extend_from_slice(b"))\r\n");
    out.push(&line);
}

fn read_only_refusal() -> Refusal {
    Refusal::no("READ-ONLY", "the folder was opened with EXAMINE")
}

/// STORE and UID STORE.
#[allow(clippy::too_many_arguments)]
pub(super) async fn store(
    hub: &MailboxHub,
    selection: &mut Selection,
    set: &SequenceSet,
    kind: &StoreType,
    response: &StoreResponse,
    flags: &[Flag<'_>],
    by_uid: bool,
    read_only: bool,
    out: &mut ResponseSink<'_>,
) -> Result<String, Refusal> {
    if read_only {
        return Err(read_only_refusal());
    }
    let wanted = FlagSet::parse(flags)?;
    let positions =
        resolve(set, &selection.uids(), by_uid).map_err(|e| Refusal::bad(e.to_string()))?;
    let requested: Vec<MessageFlags> = positions
        .iter()
        .map(|&p| stored_flags(&selection.messages[p].flags, kind, &wanted))
        .collect();
    let (changing, updates): (Vec<usize>, Vec<FlagUpdate>) = positions
        .iter()
        .zip(&requested)
        .filter(|(&p, new)| !same_flags(&selection.messages[p].flags, new))
        .map(|(&p, new)| {
            let message = &selection.messages[p];
            (
                p,
                FlagUpdate {
                    id: message.id.clone(),
                    old: message.flags.clone(),
                    new: new.clone(),
                    whole: matches!(kind, StoreType::Replace),
                },
            )
        })
        .unzip();
    let results = hub.set_flags(&selection.folder.id, &updates).await;
    let mut failed: Vec<HubError> = Vec::new();
    for (&position, result) in changing.iter().zip(results) {
        match result {
            Ok(held) => Arc::make_mut(&mut selection.messages)[position].flags = held,
            // Expunged elsewhere meanwhile: the STORE succeeds without it (RFC 2180 4.2.1), and
            // the EXPUNGE is announced when the session next learns of changes.
            Err(HubError::Graph(err)) if err.is_not_found() => {}
            Err(err) => failed.push(err),
        }
    }
    let shown: Vec<String> = positions
        .iter()
        .flat_map(|&p| selection.messages[p].flags.keywords.clone())
        .collect();
    super::updates::announce_keywords(selection, shown.iter().map(String::as_str), out.buf());
    let silent = matches!(response, StoreResponse::Silent);
    for (&position, expected) in positions.iter().zip(&requested) {
        let message = &selection.messages[position];
        // Flags other sessions changed meanwhile stay, and the client hears of them too.
        if !silent || !same_flags(&message.flags, expected) {
            write_fetch_flags(
                out,
                position + 1,
                by_uid.then_some(message.uid),
                &message.flags,
                selection.recent.contains(&message.uid),
            );
        }
    }
    let command = if by_uid { "UID STORE" } else { "STORE" };
    let Some(first) = failed.first() else {
        return Ok(format!("{command} completed"));
    };
    let differing = failed.len();
    tracing::warn!(mailbox = %hub.mailbox(), differing, reason = %first, "STORE changed not all messages");
    Err(Refusal::partly_done(
        format!(
            "{command} did not change all messages: {differing} of {} keep other flags than asked (the FETCH responses show them): {first}",
            positions.len()
        ),
        Some(first),
    ))
}

/// Whether a FETCH of these items sets \Seen (RFC 3501 6.4.5: BODY[…] without PEEK, RFC822,
/// RFC822.TEXT; RFC 3516: BINARY[…] without PEEK).
pub(super) fn fetch_sets_seen(items: &MacroOrMessageDataItemNames<'_>) -> bool {
    match items {
        MacroOrMessageDataItemNames::Macro(_) => false,
        MacroOrMessageDataItemNames::MessageDataItemNames(items) => items.iter().any(|item| {
            matches!(
                item,
                MessageDataItemName::BodyExt { peek: false, .. }
                    | MessageDataItemName::Binary { peek: false, .. }
                    | MessageDataItemName::Rfc822
                    | MessageDataItemName::Rfc822Text
            )
        }),
    }
}

/// The same items with FLAGS added (a FETCH that sets \Seen reports the new flags).
pub(super) fn with_flags(
    items: MacroOrMessageDataItemNames<'static>,
) -> MacroOrMessageDataItemNames<'static> {
    let mut list = match items {
        MacroOrMessageDataItemNames::Macro(m) => m
            .expand()
            .into_iter()
            .map(IntoStatic::into_static)
            .collect(),
        MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
    };
    if !list.iter().any(|i| matches!(i, MessageDataItemName::Flags)) {
        list.push(MessageDataItemName::Flags);
    }
    MacroOrMessageDataItemNames::MessageDataItemNames(list)
}

/// Sets \Seen, through Graph, on the unseen messages a body FETCH names (before their bodies
/// are sent). A failure is logged and the FETCH goes on: the FLAGS it reports say the truth.
pub(super) async fn mark_seen(
    hub: &MailboxHub,
    selection: &mut Selection,
    set: &SequenceSet,
    by_uid: bool,
) {
    let Ok(positions) = resolve(set, &selection.uids(), by_uid) else {
        return;
    };
    let (unseen, updates): (Vec<usize>, Vec<FlagUpdate>) = positions
        .into_iter()
        .filter(|&p| !selection.messages[p].flags.seen)
        .map(|p| {
            let message = &selection.messages[p];
            let mut new = message.flags.clone();
            new.seen = true;
            (
                p,
                FlagUpdate {
                    id: message.id.clone(),
                    old: message.flags.clone(),
                    new,
                    whole: false,
                },
            )
        })
        .unzip();
    if updates.is_empty() {
        return;
    }
    for (position, result) in unseen
        .into_iter()
        .zip(hub.set_flags(&selection.folder.id, &updates).await)
    {
        match result {
            Ok(held) => Arc::make_mut(&mut selection.messages)[position].flags = held,
            Err(err) => {
                tracing::warn!(mailbox = %hub.mailbox(), error = %err, "could not set \\Seen")
            }
        }
    }
}

/// EXPUNGE, UID EXPUNGE (`only` the UIDs of the set) and CLOSE (`silent`): removes exactly the
/// messages marked \Deleted in the uid store, and says so for each once Graph confirmed it.
pub(super) async fn expunge(
    hub: &MailboxHub,
    selection: &mut Selection,
    only: Option<&SequenceSet>,
    mode: ExpungeMode,
    silent: bool,
    out: &mut ResponseSink<'_>,
) -> Result<String, Refusal> {
    let marked = hub
        .deleted_ids(&selection.folder.id)
        .await
        .map_err(Refusal::from_hub)?;
    let in_set: Option<Vec<usize>> = match only {
        Some(set) => {
            Some(resolve(set, &selection.uids(), true).map_err(|e| Refusal::bad(e.to_string()))?)
        }
        None => None,
    };
    let positions: Vec<usize> = (0..selection.messages.len())
        .filter(|p| {
            in_set
                .as_ref()
                .is_none_or(|set| set.binary_search(p).is_ok())
        })
        .filter(|&p| marked.contains(&*selection.messages[p].id))
        .collect();
    let ids: Vec<Arc<str>> = positions
        .iter()
        .map(|&p| selection.messages[p].id.clone())
        .collect();
    let results = hub.expunge(&selection.folder.id, &ids, mode).await;
    let mut failed = 0usize;
    let mut first_error = None;
    // Highest first, so each number is right when the client reads it.
    for (&position, result) in positions.iter().zip(&results).rev() {
        match result {
            Ok(()) => {
                Arc::make_mut(&mut selection.messages).remove(position);
                if !silent {
                    out.push(format!("* {} EXPUNGE\r\n", position + 1).as_bytes());
                }
            }
            Err(err) => {
                failed += 1;
                first_error.get_or_insert(err);
            }
        }
    }
    if failed == 0 {
        return Ok("EXPUNGE completed".into());
    }
    Err(Refusal::partly_done(
        format!(
            "{failed} of {} messages marked \\Deleted could not be removed and are still there: {}",
            positions.len(),
            first_error.map(ToString::to_string).unwrap_or_default()
        ),
        first_error,
    ))
}

/// `1,3:5` for a list of UIDs (kept in the order given, which COPYUID pairs by position).
pub(super) fn uid_list(uids: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut index = 0;
    while index < uids.len() {
        let start = uids[index];
        let mut end = start;
        while index + 1 < uids.len() && uids[index + 1] == end.wrapping_add(1) {
            index += 1;
            end = uids[index];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        index += 1;
    }
    parts.join(",")
}

/// COPY, UID COPY, MOVE and UID MOVE into `destination`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn transfer(
    hub: &MailboxHub,
    selection: &mut Selection,
    set: &SequenceSet,
    by_uid: bool,
    destination: &Folder,
    moving: bool,
    read_only: bool,
    out: &mut ResponseSink<'_>,
) -> Result<String, Refusal> {
    let command = match (by_uid, moving) {
        (false, false) => "COPY",
        (true, false) => "UID COPY",
        (false, true) => "MOVE",
        (true, true) => "UID MOVE",
    };
    if moving && read_only {
        return Err(read_only_refusal());
    }
    if moving && destination.id == selection.folder.id {
        return Err(Refusal::no(
            "CANNOT",
            "MOVE into the folder itself changes nothing",
        ));
    }
    let positions =
        resolve(set, &selection.uids(), by_uid).map_err(|e| Refusal::bad(e.to_string()))?;
    if positions.is_empty() {
        return Ok(format!("{command} completed: no messages"));
    }
    let messages: Vec<_> = positions
        .iter()
        .map(|&p| selection.messages[p].clone())
        .collect();
    let transfer = hub
        .transfer(&selection.folder.id, &destination.id, &messages, moving)
        .await
        .map_err(Refusal::from_hub)?;
    let mut sources = Vec::new();
    let mut targets = Vec::new();
    let mut done = Vec::new();
    let mut first_error = None;
    for ((&position, message), result) in positions.iter().zip(&messages).zip(&transfer.results) {
        match result {
            Ok(uid) => {
                sources.push(message.uid);
                targets.push(*uid);
                done.push(position);
            }
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    let copyuid = (!sources.is_empty()).then(|| {
        format!(
            "[COPYUID {} {} {}]",
            transfer.uid_validity,
            uid_list(&sources),
            uid_list(&targets)
        )
    });
    if moving {
        // RFC 6851 4.3: COPYUID in an untagged OK before the EXPUNGEs.
        if let Some(copyuid) = &copyuid {
            out.push(format!("* OK {copyuid} Moved\r\n").as_bytes());
        }
        for &position in done.iter().rev() {
            Arc::make_mut(&mut selection.messages).remove(position);
            out.push(format!("* {} EXPUNGE\r\n", position + 1).as_bytes());
        }
    }
    match first_error {
        None if moving => Ok(format!("{command} completed")),
        None => Ok(format!("{} {command} completed", copyuid.unwrap_or_default())),
        Some(failure) => Err(Refusal::partly_done(
            format!(
                "{command} did not reach all messages: {} of {} were {}; the rest stay where they were: {failure}",
                done.len(),
                positions.len(),
                if moving { "moved" } else { "copied" }
            ),
            Some(failure),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(seen: bool, keywords: &[&str]) -> MessageFlags {
        MessageFlags {
            seen,
            keywords: keywords.iter().map(|k| k.to_string()).collect(),
            ..MessageFlags::default()
        }
    }

    #[test]
    fn store_kinds() {
        let old = MessageFlags {
            draft: true,
            ..flags(true, &["Blue"])
        };
        let set = FlagSet {
            flagged: true,
            keywords: vec!["blue".into(), "Green".into()],
            ..FlagSet::default()
        };
        let replaced = stored_flags(&old, &StoreType::Replace, &set);
        assert!(!replaced.seen && replaced.flagged && !replaced.draft);
        assert_eq!(replaced.keywords, vec!["Blue", "Green"]);
        let added = stored_flags(&old, &StoreType::Add, &set);
        assert!(added.seen && added.flagged);
        assert_eq!(added.keywords, vec!["Blue", "Green"]);
        let removed = stored_flags(&old, &StoreType::Remove, &set);
        assert!(removed.seen && !removed.flagged && removed.draft);
        assert!(removed.keywords.is_empty());
        let draft = FlagSet {
            draft: true,
            ..FlagSet::default()
        };
        assert!(!stored_flags(&old, &StoreType::Remove, &draft).draft);
        assert!(stored_flags(&flags(false, &[]), &StoreType::Add, &draft).draft);
        assert!(same_flags(
            &flags(false, &["A", "b"]),
            &flags(false, &["B", "a", "a"])
        ));
    }

    #[test]
    fn flag_lists_parse_with_keywords_and_forwarded() {
        let command = "a STORE 1 +FLAGS (\\Seen \\Deleted $forwarded Blue blue $Label1)\r\n";
        let (_, parsed) = imap_codec::decode::Decoder::decode(
            &imap_codec::CommandCodec::default(),
            command.as_bytes(),
        )
        .unwrap();
        let imap_codec::imap_types::command::CommandBody::Store { flags, .. } = parsed.body else {
            panic!("not a STORE");
        };
        let set = FlagSet::parse(&flags).unwrap();
        assert!(set.seen && set.deleted && set.forwarded && !set.flagged);
        assert_eq!(set.keywords, vec!["Blue", "$Label1"]);
        let new = set.into_flags();
        assert!(new.seen && new.deleted && new.forwarded);
    }

    #[test]
    fn uid_lists_compress_runs_in_order() {
        assert_eq!(uid_list(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_list(&[9, 4]), "9,4");
        assert_eq!(uid_list(&[]), "");
    }

    #[test]
    fn body_fetches_set_seen_but_peeks_do_not() {
        let items = |text: &str| {
            let command = format!("a FETCH 1 {text}\r\n");
            let (_, parsed) = imap_codec::decode::Decoder::decode(
                &imap_codec::CommandCodec::default(),
                command.as_bytes(),
            )
            .unwrap();
            match parsed.body {
                imap_codec::imap_types::command::CommandBody::Fetch {
                    macro_or_item_names,
                    ..
                } => fetch_sets_seen(&macro_or_item_names),
                _ => panic!("not a FETCH"),
            }
        };
        assert!(items("BODY[]"));
        assert!(items("(RFC822)"));
        assert!(items("(FLAGS RFC822.TEXT)"));
        assert!(!items("BODY.PEEK[]"));
        assert!(!items("(RFC822.HEADER RFC822.SIZE)"));
        assert!(!items("ALL"));
    }
}
