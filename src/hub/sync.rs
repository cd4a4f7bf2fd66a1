//! Owns keeping a folder's index current with Graph. Each synchronisation is one round of the
//! folder's `messages/delta`: from this process's own index and deltaLink when it has them, else
//! from what the uid store kept (a restart, or a hub opened again), else a first round that names
//! every message. What a round brings (new UIDs, message states, removals, the deltaLink) goes to
//! the uid store in one transaction, so a restart resumes incrementally. When Graph no longer
//! knows the token, a full round rebuilds the index: messages still present keep their UIDs.
//!
//! Every delta item is a patch: an updated message may come with only the properties that
//! changed, and an item may be replayed unchanged
//! (https://learn.microsoft.com/en-us/graph/delta-query-overview, "Resource representation in
//! the delta query response" and "Replays"). So each item is merged into the message's state as
//! of the round's start (kept beside the deltaLink, or in the uid store), never taken for the
//! whole; a message not known yet whose item lacks what IMAP shows is read whole with a batched
//! GET; and an item that changes nothing (a replay) changes neither the store nor the index.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::graph::model::{DeltaRound, FollowupFlag, MessageSummary};
use crate::metrics::{DeltaRound as DeltaRoundKind, METRICS};
use crate::store::{FolderSync, MessageState, StoredMessage, SyncedFolder};

use super::{FolderIndex, FolderSnapshot, HubError, MailboxHub, MessageFlags, MessageMeta};

/// A round that changed nothing still moves the stored deltaLink forward this often, so a
/// restart does not replay long-settled changes (and tokens Graph may expire are not used).
const LINK_PERSIST_INTERVAL: Duration = Duration::from_secs(300);

/// Where a folder's next delta round starts, kept under the folder's sync lock.
#[derive(Default)]
pub(super) struct SyncPoint {
    /// When the folder was last synchronised with Graph.
    pub at: Option<Instant>,
    /// Where the next round starts, once a round has ended.
    pub delta_link: Option<String>,
    /// When the deltaLink was last written to the uid store.
    persisted_at: Option<Instant>,
    /// Each message's state as Graph gave it up to `delta_link`: what the next round's items
    /// are merged into.
    states: HashMap<Arc<str>, MessageState>,
    /// How to take back what the last round did to `states`.
    undo: Option<Undo>,
}

enum Undo {
    /// The states the round replaced (`None`: the message was not known before).
    Entries(Vec<(Arc<str>, Option<MessageState>)>),
    /// Every state, before a round that replaced them all.
    All(HashMap<Arc<str>, MessageState>),
}

impl SyncPoint {
    /// Takes back what the last round did to the known states, when the caller takes the
    /// round again from its start (a change made through the hub amended the index meanwhile).
    pub(super) fn undo_round(&mut self) {
        match self.undo.take() {
            Some(Undo::Entries(entries)) => {
                for (id, state) in entries.into_iter().rev() {
                    match state {
                        Some(state) => self.states.insert(id, state),
                        None => self.states.remove(&id),
                    };
                }
            }
            Some(Undo::All(states)) => self.states = states,
            None => {}
        }
    }
}

/// The message's state with what `summary` says of it over `known`: what the item leaves out
/// keeps its known value.
pub(super) fn merged_state(known: &MessageState, summary: &MessageSummary) -> MessageState {
    MessageState {
        received: summary.received_date_time.or(known.received),
        is_read: summary.is_read.unwrap_or(known.is_read),
        is_flagged: summary
            .flag
            .as_ref()
            .map_or(known.is_flagged, FollowupFlag::is_flagged),
        is_draft: summary.is_draft.unwrap_or(known.is_draft),
        last_verb: summary.last_verb().unwrap_or(known.last_verb),
        categories: summary
            .categories
            .clone()
            .unwrap_or_else(|| known.categories.clone()),
        has_attachments: summary.has_attachments.unwrap_or(known.has_attachments),
    }
}

/// The message's state as a whole object from Graph gives it (a GET, a PATCH answer).
pub(super) fn message_state(summary: &MessageSummary) -> MessageState {
    merged_state(&MessageState::default(), summary)
}

/// The index a round is applied to.
enum Start {
    /// This process's latest snapshot.
    Index(Arc<FolderSnapshot>),
    /// What the uid store kept; `unresolved` are messages it holds without a state (given
    /// their UID by APPEND or COPY after the last round).
    Stored {
        folder: SyncedFolder,
        unresolved: HashSet<String>,
    },
    /// Nothing: the round names every message.
    Scratch,
}

impl MailboxHub {
    /// Synchronises the folder with one delta round and returns its index: the `previous`
    /// snapshot itself when nothing changed.
    pub(super) async fn sync_folder(
        &self,
        folder_id: &str,
        index: &FolderIndex,
        point: &mut SyncPoint,
        previous: Option<Arc<FolderSnapshot>>,
    ) -> Result<Arc<FolderSnapshot>, HubError> {
        let mailbox = self.mailbox().as_str();
        let mut start = match (previous, point.delta_link.is_some()) {
            (Some(snapshot), true) => Start::Index(snapshot),
            _ => match self.store.synced_folder(mailbox, folder_id).await? {
                Some(folder) => {
                    point.delta_link = Some(folder.delta_link.clone());
                    let unresolved = folder
                        .messages
                        .iter()
                        .filter(|m| m.state.is_none())
                        .map(|m| m.id.clone())
                        .collect();
                    Start::Stored { folder, unresolved }
                }
                None => Start::Scratch,
            },
        };
        // A first round after a resumed one was refused is a resync.
        let mut first_kind = DeltaRoundKind::First;
        let (round, complete) = loop {
            let link = match start {
                Start::Scratch => None,
                _ => point.delta_link.clone(),
            };
            let Some(link) = link else {
                let round = self.graph.messages_delta(folder_id, None).await?;
                METRICS.delta_round(first_kind);
                break (round, true);
            };
            first_kind = DeltaRoundKind::Resync;
            match self.graph.messages_delta(folder_id, Some(&link)).await {
                Ok(round) => {
                    METRICS.delta_round(DeltaRoundKind::Resumed);
                    // A message the store holds without a state and this round does not name
                    // cannot be shown: only a full round tells what it is.
                    if let Start::Stored { unresolved, .. } = &start {
                        let named: HashSet<&str> = round
                            .changed
                            .iter()
                            .map(|m| m.id.as_str())
                            .chain(round.removed.iter().map(String::as_str))
                            .collect();
                        if unresolved.iter().any(|id| !named.contains(id.as_str())) {
                            start = Start::Scratch;
                            continue;
                        }
                    }
                    break (round, false);
                }
                Err(err) if err.is_sync_state_lost() => {
                    tracing::info!(mailbox = %self.mailbox(), folder = folder_id, error = %err,
                        "Graph no longer knows the folder's delta token; synchronising it from scratch");
                    start = Start::Scratch;
                }
                Err(err) => return Err(err.into()),
            }
        };
        self.apply_round(folder_id, index, point, start, round, complete)
            .await
    }

    /// Records a round in the uid store and applies it to the index it started from.
    async fn apply_round(
        &self,
        folder_id: &str,
        index: &FolderIndex,
        point: &mut SyncPoint,
        start: Start,
        round: DeltaRound<MessageSummary>,
        complete: bool,
    ) -> Result<Arc<FolderSnapshot>, HubError> {
        let mailbox = self.mailbox().as_str();
        let DeltaRound {
            changed,
            removed,
            delta_link,
        } = round;
        // A message may have left and come back meanwhile through another instance, under a
        // new UID, in items that change nothing else: the store then says so.
        let named_any = !changed.is_empty() || !removed.is_empty();
        // What the round's items are merged into: Graph's state of each message as of the
        // round's start.
        let stored: HashMap<&str, &MessageState> = match &start {
            Start::Stored { folder, .. } => folder
                .messages
                .iter()
                .filter_map(|m| Some((m.id.as_str(), m.state.as_ref()?)))
                .collect(),
            _ => HashMap::new(),
        };
        let shown: HashMap<&str, &MessageMeta> = match &start {
            Start::Index(snapshot) => snapshot.messages.iter().map(|m| (&*m.id, m)).collect(),
            _ => HashMap::new(),
        };
        // A message the index no longer shows left the folder through this hub (EXPUNGE,
        // MOVE): an item naming it is a replay from before, or news that it is back (moved
        // back in). Only the folder can tell, so it is read from there again, as a message not
        // known.
        let left = |id: &str| {
            matches!(start, Start::Index(_))
                && !shown.contains_key(id)
                && point.states.contains_key(id)
        };
        let known = |id: &str| match &start {
            Start::Index(_) if left(id) => None,
            Start::Index(_) => point.states.get(id),
            Start::Stored { .. } => stored.get(id).copied(),
            Start::Scratch => None,
        };
        let changed = self.read_unknown(folder_id, changed, &known, &left).await?;
        // A shown message whose item changes nothing IMAP shows of it (or only whether it has
        // attachments), or that a round names for the first time (appended or copied through
        // this hub), may have lost an attachment in Outlook: checked against its exact record,
        // if it has one (`exact`).
        let unexplained: Vec<String> = changed
            .iter()
            .filter(|summary| shown.contains_key(summary.id.as_str()))
            .filter(|summary| {
                known(&summary.id).is_none_or(|before| {
                    let state = merged_state(before, summary);
                    state == *before || state.has_attachments != before.has_attachments
                })
            })
            .map(|summary| summary.id.clone())
            .collect();
        let exact_gone = self.exact_parts_gone(unexplained).await;
        // An item that changes neither the state nor what the index shows (a replay) is left
        // out.
        let mut states: Vec<(String, MessageState)> = changed
            .iter()
            .filter_map(|summary| {
                let before = known(&summary.id);
                let state = before.map_or_else(
                    || message_state(summary),
                    |before| merged_state(before, summary),
                );
                let same = before == Some(&state)
                    && match &start {
                        Start::Index(_) => shown
                            .get(summary.id.as_str())
                            .is_none_or(|meta| shows(meta, &state)),
                        _ => true,
                    };
                (!same).then(|| (summary.id.clone(), state))
            })
            .collect();
        // New messages get UIDs in ascending receivedDateTime order.
        states.sort_by(|(a_id, a), (b_id, b)| {
            a.received.cmp(&b.received).then_with(|| a_id.cmp(b_id))
        });
        // A removal of a message not known (a replay) changes nothing.
        let removed: Vec<String> = match &start {
            Start::Index(_) => removed
                .into_iter()
                .filter(|id| {
                    point.states.contains_key(id.as_str()) || shown.contains_key(id.as_str())
                })
                .collect(),
            _ => removed,
        };
        let quiet = !complete && states.is_empty() && removed.is_empty();
        let persist = !quiet
            || point
                .persisted_at
                .is_none_or(|at| at.elapsed() >= LINK_PERSIST_INTERVAL);
        let recorded = if persist {
            let recorded = self
                .store
                .record_sync(
                    mailbox,
                    folder_id,
                    FolderSync {
                        complete,
                        changed: states.clone(),
                        removed: removed.clone(),
                        delta_link: delta_link.clone(),
                    },
                )
                .await?;
            point.persisted_at = Some(Instant::now());
            if !removed.is_empty() {
                self.drop_exact_of_gone(&removed).await;
            }
            Some(recorded)
        } else {
            None
        };
        let after_stored: Option<HashMap<Arc<str>, MessageState>> = match (&start, complete) {
            (Start::Index(_), false) => None,
            (_, true) => Some(HashMap::new()),
            _ => Some(
                stored
                    .iter()
                    .map(|(id, state)| (Arc::from(*id), (*state).clone()))
                    .collect(),
            ),
        };
        drop(shown);
        point.delta_link = Some(delta_link);
        point.undo = Some(match after_stored {
            None => {
                let mut entries = Vec::with_capacity(removed.len() + states.len());
                for id in &removed {
                    if let Some((id, old)) = point.states.remove_entry(id.as_str()) {
                        entries.push((id, Some(old)));
                    }
                }
                for (id, state) in &states {
                    let id: Arc<str> = Arc::from(id.as_str());
                    let old = point.states.insert(id.clone(), state.clone());
                    entries.push((id, old));
                }
                Undo::Entries(entries)
            }
            Some(mut all) => {
                for id in &removed {
                    all.remove(id.as_str());
                }
                for (id, state) in &states {
                    all.insert(Arc::from(id.as_str()), state.clone());
                }
                Undo::All(std::mem::replace(&mut point.states, all))
            }
        });
        // \Deleted marks and held flags may have changed on another instance; sizes were
        // learned here.
        let deleted = self.store.deleted(mailbox, folder_id).await?;
        let mut held = self.store.held_flags(mailbox, folder_id).await?;
        let held_for = |id: &str| held.get(id).cloned().unwrap_or_default();
        let learned: HashMap<Arc<str>, u64> = std::mem::take(
            &mut *index
                .learned_sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if let Start::Index(snapshot) = &start {
            let marks_kept = || {
                snapshot.messages.iter().all(|m| {
                    m.flags.deleted == deleted.contains(&*m.id) && m.flags.held == held_for(&m.id)
                })
            };
            // The common poll: nothing changed, and the snapshot is not copied.
            if quiet && !named_any && learned.is_empty() && marks_kept() {
                return Ok(snapshot.clone());
            }
        }
        // Sizes learned from bodies outlive a full round.
        let mut sizes: HashMap<String, u64> = if complete {
            self.store
                .messages(mailbox, folder_id)
                .await?
                .into_iter()
                .filter_map(|(id, stored)| Some((id, stored.size?)))
                .collect()
        } else {
            HashMap::new()
        };
        let (previous, mut uid_validity, mut uid_next, mut messages) = match start {
            Start::Index(snapshot) => {
                let messages = if complete {
                    HashMap::new()
                } else {
                    by_id(snapshot.messages.iter().cloned())
                };
                (
                    Some(snapshot.clone()),
                    snapshot.uid_validity,
                    snapshot.uid_next,
                    messages,
                )
            }
            Start::Stored { folder, .. } => {
                let messages = if complete {
                    HashMap::new()
                } else {
                    by_id(folder.messages.into_iter().filter_map(|m| {
                        let state = m.state?;
                        Some(synced_meta(m.uid, Arc::from(m.id), &state, m.size))
                    }))
                };
                (
                    None,
                    folder.uids.uid_validity,
                    folder.uids.uid_next,
                    messages,
                )
            }
            Start::Scratch => (None, 0, 0, HashMap::new()),
        };
        let uids = match recorded {
            Some((uids, folder)) => {
                uid_validity = folder.uid_validity;
                uid_next = folder.uid_next;
                uids
            }
            None => HashMap::new(),
        };
        let mut touched = !quiet || !learned.is_empty();
        for id in &removed {
            messages.remove(id.as_str());
        }
        for (id, state) in states {
            let existing = messages.get(id.as_str());
            let Some(uid) = uids.get(&id).copied().or_else(|| existing.map(|m| m.uid)) else {
                tracing::warn!(mailbox = %self.mailbox(), "a synchronised message got no UID");
                continue;
            };
            let size = existing.and_then(|m| m.size).or_else(|| sizes.remove(&id));
            let id = existing
                .map(|m| m.id.clone())
                .unwrap_or_else(|| Arc::from(id.as_str()));
            messages.insert(id.clone(), synced_meta(uid, id, &state, size));
        }
        if let (Some(previous), true) = (&previous, named_any) {
            let shown_up_to = previous.messages.last().map_or(0, |m| m.uid);
            touched |= self
                .complete_from_store(folder_id, shown_up_to, &mut messages)
                .await?;
        }
        touched |= self
            .supersede_in_round(folder_id, &exact_gone, &mut messages)
            .await;
        for message in messages.values_mut() {
            let marked = deleted.contains(&*message.id);
            if message.flags.deleted != marked {
                message.flags.deleted = marked;
                touched = true;
            }
            let kept = held.remove(&*message.id).unwrap_or_default();
            if message.flags.held != kept {
                message.flags = std::mem::take(&mut message.flags).holding(kept);
                touched = true;
            }
            if let Some(&size) = learned.get(&message.id) {
                message.size = Some(size);
            }
        }
        if let (false, Some(previous)) = (touched, previous) {
            return Ok(previous);
        }
        let mut messages: Vec<MessageMeta> = messages.into_values().collect();
        messages.sort_by_key(|m| m.uid);
        if let Some(last) = messages.last() {
            uid_next = uid_next.max(last.uid.saturating_add(1));
        }
        Ok(Arc::new(FolderSnapshot {
            folder_id: folder_id.to_string(),
            uid_validity,
            uid_next,
            messages,
            vanished: false,
            shared: Default::default(),
        }))
    }

    /// Brings `messages` to what the uid store holds in the folder above `shown_up_to`; whether
    /// anything changed. Another instance sharing the store gave those UIDs (APPEND, COPY,
    /// MOVE through it, or a message that left and came back): a message this round's delta did
    /// not name yet is read from the folder (left out if the folder no longer holds it), and a
    /// message known under another UID takes the store's. Shown only after a higher UID, such a
    /// message would stay hidden from every session that saw that one, as sequence numbers only
    /// grow at the end.
    async fn complete_from_store(
        &self,
        folder_id: &str,
        shown_up_to: u32,
        messages: &mut HashMap<Arc<str>, MessageMeta>,
    ) -> Result<bool, HubError> {
        let rows = self
            .store
            .messages(self.mailbox().as_str(), folder_id)
            .await?;
        let mut renumbered = false;
        for (id, row) in &rows {
            if let Some(meta) = messages.get_mut(id.as_str()) {
                if row.uid > shown_up_to && meta.uid != row.uid {
                    meta.uid = row.uid;
                    // A message renumbered because its appended bytes could no longer be had
                    // (`exact`) shows Graph's MIME now: another body, another size.
                    meta.size = row.size;
                    self.bodies.invalidate(&meta.id).await;
                    renumbered = true;
                }
            }
        }
        let mut missing: Vec<(String, StoredMessage)> = rows
            .into_iter()
            .filter(|(id, row)| row.uid > shown_up_to && !messages.contains_key(id.as_str()))
            .collect();
        if missing.is_empty() {
            return Ok(renumbered);
        }
        missing.sort_by_key(|(_, row)| row.uid);
        let ids: Vec<&str> = missing.iter().map(|(id, _)| id.as_str()).collect();
        let answers = self.graph.messages_by_id(folder_id, &ids).await?;
        let mut added = renumbered;
        for ((id, row), answer) in missing.iter().zip(answers) {
            match answer {
                Ok(whole) => {
                    let id: Arc<str> = Arc::from(id.as_str());
                    let meta = synced_meta(row.uid, id.clone(), &message_state(&whole), row.size);
                    messages.insert(id, meta);
                    added = true;
                }
                // Gone from the folder meanwhile: its removal comes in a later round.
                Err(err) if err.is_not_found() => {}
                Err(err) => return Err(err.into()),
            }
        }
        Ok(added)
    }

    /// The round's items, with each that names a message not `known` yet without everything
    /// IMAP shows of it, or one that `left` the folder through this hub, read whole from the
    /// folder, twenty to a `$batch`. A message the folder no longer holds is left out: its
    /// removal comes in a later round.
    async fn read_unknown<'k>(
        &self,
        folder_id: &str,
        changed: Vec<MessageSummary>,
        known: impl Fn(&str) -> Option<&'k MessageState>,
        left: impl Fn(&str) -> bool,
    ) -> Result<Vec<MessageSummary>, HubError> {
        let unknown: Vec<&str> = changed
            .iter()
            .filter(|m| (!m.is_whole() && known(&m.id).is_none()) || left(&m.id))
            .map(|m| m.id.as_str())
            .collect();
        if unknown.is_empty() {
            return Ok(changed);
        }
        let answers = self.graph.messages_by_id(folder_id, &unknown).await?;
        let mut read: HashMap<String, Option<MessageSummary>> = HashMap::new();
        for (id, answer) in unknown.iter().zip(answers) {
            match answer {
                Ok(whole) => read.insert(id.to_string(), Some(whole)),
                Err(err) if err.is_not_found() => read.insert(id.to_string(), None),
                Err(err) => return Err(err.into()),
            };
        }
        Ok(changed
            .into_iter()
            .filter_map(|m| read.remove(&m.id).unwrap_or(Some(m)))
            .collect())
    }
}

/// Whether the index shows the message as in `state` (\Deleted and the held flags, which Graph
/// does not hold, aside).
fn shows(meta: &MessageMeta, state: &MessageState) -> bool {
    let mut flags = MessageFlags::from_state(state).holding(meta.flags.held.clone());
    flags.deleted = meta.flags.deleted;
    meta.flags == flags
        && meta.internal_date == state.received.unwrap_or_default()
        && meta.has_attachments == state.has_attachments
}

/// A message of the index as its synchronised state shows it (\Deleted and the held flags are
/// set afterwards, from the store).
fn synced_meta(uid: u32, id: Arc<str>, state: &MessageState, size: Option<u64>) -> MessageMeta {
    MessageMeta {
        uid,
        id,
        flags: MessageFlags::from_state(state),
        internal_date: state.received.unwrap_or_default(),
        size,
        has_attachments: state.has_attachments,
    }
}

fn by_id(messages: impl Iterator<Item = MessageMeta>) -> HashMap<Arc<str>, MessageMeta> {
    messages.map(|m| (m.id.clone(), m)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: serde_json::Value) -> MessageSummary {
        serde_json::from_value(json).expect("a message item")
    }

    fn flagged_and_answered() -> MessageState {
        message_state(&item(serde_json::json!({
            "id": "m",
            "receivedDateTime": "2026-01-02T03:04:05Z",
            "isRead": false,
            "isDraft": false,
            "flag": {"flagStatus": "flagged"},
            "categories": ["Red category", "work"],
            "hasAttachments": true,
            "singleValueExtendedProperties": [{"id": "Integer 0x1081", "value": "103"}],
        })))
    }

    #[test]
    fn an_item_with_only_what_changed_keeps_the_rest() {
        let known = flagged_and_answered();
        let read = merged_state(
            &known,
            &item(serde_json::json!({"id": "m", "isRead": true})),
        );
        assert_eq!(
            read,
            MessageState {
                is_read: true,
                ..known.clone()
            }
        );
        // An id alone (a replay, or a change of what the gateway does not select) changes nothing.
        assert_eq!(
            merged_state(&known, &item(serde_json::json!({"id": "m"}))),
            known
        );
    }

    #[test]
    fn what_an_item_says_replaces_what_was_known() {
        let known = flagged_and_answered();
        let changed = merged_state(
            &known,
            &item(serde_json::json!({
                "id": "m",
                "flag": {"flagStatus": "notFlagged"},
                "categories": [],
                "singleValueExtendedProperties": [],
            })),
        );
        assert!(!changed.is_flagged);
        assert!(changed.categories.is_empty());
        assert_eq!(
            changed.last_verb, None,
            "an expanded list without the verb clears it"
        );
        assert_eq!(changed.received, known.received);
        assert!(changed.has_attachments);
    }

    #[test]
    fn only_a_whole_item_stands_for_an_unknown_message() {
        assert!(!item(serde_json::json!({"id": "m", "isRead": true})).is_whole());
        let whole = item(serde_json::json!({
            "id": "m",
            "receivedDateTime": "2026-01-02T03:04:05Z",
            "isRead": false,
            "isDraft": false,
            "flag": {"flagStatus": "notFlagged"},
            "categories": [],
            "hasAttachments": false,
            "singleValueExtendedProperties": [],
        }));
        assert!(whole.is_whole());
    }

    #[test]
    fn a_round_taken_back_restores_the_known_states() {
        let mut point = SyncPoint::default();
        let a: Arc<str> = Arc::from("a");
        point.states.insert(a.clone(), flagged_and_answered());
        point.undo = Some(Undo::Entries(vec![
            (a.clone(), Some(MessageState::default())),
            (Arc::from("b"), None),
        ]));
        point.states.insert(Arc::from("b"), MessageState::default());
        point.undo_round();
        assert_eq!(point.states.len(), 1);
        assert_eq!(point.states.get(&a), Some(&MessageState::default()));
    }
}
