//! Owns keeping a folder's index current with Graph. Each synchronisation is one round of the
//! folder's `messages/delta`: from this process's own index and deltaLink when it has them, else
//! from what the uid store kept (a restart, or a hub opened again), else a first round that names
//! every message. What a round brings (new UIDs, message states, removals, the deltaLink) goes to
//! the uid store in one transaction, so a restart resumes incrementally. When Graph no longer
//! knows the token, a full round rebuilds the index: messages still present keep their UIDs.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::graph::model::{DeltaRound, MessageSummary};
use crate::metrics::{DeltaRound as DeltaRoundKind, METRICS};
use crate::store::{FolderSync, MessageState, SyncedFolder};

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
}

/// The message's state as Graph gave it, in the terms the uid store keeps.
pub(super) fn message_state(summary: &MessageSummary) -> MessageState {
    MessageState {
        received: summary.received_date_time,
        is_read: summary.is_read,
        is_flagged: summary.is_flagged(),
        is_draft: summary.is_draft,
        last_verb: summary.last_verb(),
        categories: summary.categories.clone(),
        has_attachments: summary.has_attachments,
    }
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
            mut changed,
            removed,
            delta_link,
        } = round;
        // New messages get UIDs in ascending receivedDateTime order.
        changed.sort_by(|a, b| {
            a.received_date_time
                .cmp(&b.received_date_time)
                .then_with(|| a.id.cmp(&b.id))
        });
        let quiet = !complete && changed.is_empty() && removed.is_empty();
        let persist = !quiet
            || point
                .persisted_at
                .is_none_or(|at| at.elapsed() >= LINK_PERSIST_INTERVAL);
        let states: Vec<(String, MessageState)> = changed
            .iter()
            .map(|m| (m.id.clone(), message_state(m)))
            .collect();
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
            Some(recorded)
        } else {
            None
        };
        point.delta_link = Some(delta_link);
        // \Deleted marks may have changed on another instance; sizes were learned here.
        let deleted = self.store.deleted(mailbox, folder_id).await?;
        let learned: HashMap<Arc<str>, u64> = std::mem::take(
            &mut *index
                .learned_sizes
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if let Start::Index(snapshot) = &start {
            let marks_kept = || {
                snapshot
                    .messages
                    .iter()
                    .all(|m| m.flags.deleted == deleted.contains(&*m.id))
            };
            // The common poll: nothing changed, and the snapshot is not copied.
            if quiet && learned.is_empty() && marks_kept() {
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
        for (summary, (id, state)) in changed.iter().zip(states) {
            let existing = messages.get(id.as_str());
            let Some(uid) = uids.get(&id).copied().or_else(|| existing.map(|m| m.uid)) else {
                tracing::warn!(mailbox = %self.mailbox(), "a synchronised message got no UID");
                continue;
            };
            let size = existing.and_then(|m| m.size).or_else(|| sizes.remove(&id));
            let id = existing
                .map(|m| m.id.clone())
                .unwrap_or_else(|| Arc::from(summary.id.as_str()));
            messages.insert(id.clone(), synced_meta(uid, id, &state, size));
        }
        for message in messages.values_mut() {
            let marked = deleted.contains(&*message.id);
            if message.flags.deleted != marked {
                message.flags.deleted = marked;
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
        }))
    }
}

/// A message of the index as its synchronised state shows it (\Deleted is set afterwards, from
/// the store's marks).
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
