//! Owns the changes a session makes to a mailbox, in IMAP's terms, carried out through Graph
//! and the uid store: flags (the mapping of DESIGN.md: \Seen ↔ isRead, \Flagged ↔ flag,
//! \Answered/$Forwarded ↔ PR_LAST_VERB_EXECUTED, keywords ↔ categories, \Deleted in the uid
//! store), expunge, copy and move with UIDs allocated in the destination at once, append, and
//! folder creation, renaming, deletion and subscriptions. Each answer says what Graph (or the
//! store) confirmed, message by message, so sessions report what really happened.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{
    normalise_inbox, Folder, FolderSnapshot, FolderTree, GraphMarks, HubError, MailboxHub,
    MessageFlags, MessageMeta,
};
use crate::config::ExpungeMode;
use crate::graph::compose::{check_draft, compose, CreateFlags, Unappendable};
use crate::graph::model::LAST_VERB_PROPERTY;
use crate::graph::mutate::MessageAction;
use crate::graph::GraphError;
use crate::store::HeldFlags;

/// Why an APPEND did not happen.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Refused before anything was sent to Graph: not a message, or too big for Graph.
    #[error(transparent)]
    Unappendable(#[from] Unappendable),
    #[error(transparent)]
    Hub(#[from] HubError),
}

impl From<GraphError> for AppendError {
    fn from(err: GraphError) -> Self {
        AppendError::Hub(err.into())
    }
}

impl From<crate::store::StoreError> for AppendError {
    fn from(err: crate::store::StoreError) -> Self {
        AppendError::Hub(err.into())
    }
}

/// PR_LAST_VERB_EXECUTED values ([MS-OXOMSG] 2.2.1.5): reply to sender, forward; 0 clears.
const VERB_REPLY: i64 = 102;
const VERB_FORWARD: i64 = 104;
const VERB_NONE: i64 = 0;

/// One message's flags as they are and as the client wants them.
#[derive(Debug, Clone)]
pub struct FlagUpdate {
    pub id: Arc<str>,
    pub old: MessageFlags,
    pub new: MessageFlags,
    /// `new` is the whole set of flags asked for (STORE FLAGS), not a change to `old`.
    pub whole: bool,
}

/// The outcome of COPY or MOVE: the destination's UIDVALIDITY and, per message in the order
/// given, its UID in the destination or why it failed.
#[derive(Debug)]
pub struct Transfer {
    pub uid_validity: u32,
    pub results: Vec<Result<u32, HubError>>,
}

/// The PR_LAST_VERB_EXECUTED value that shows these flags.
fn verb_of(flags: &MessageFlags) -> i64 {
    if flags.answered {
        VERB_REPLY
    } else if flags.forwarded {
        VERB_FORWARD
    } else {
        VERB_NONE
    }
}

/// The PATCH that turns `old` into `new` in Graph, or `None` when Graph holds nothing to change:
/// both as Graph holds them (see [`MessageFlags::split`]). \Deleted is not Graph's, and \Draft
/// cannot change after creation.
pub fn graph_patch(old: &MessageFlags, new: &MessageFlags) -> Option<Value> {
    let mut patch = serde_json::Map::new();
    if old.seen != new.seen {
        patch.insert("isRead".into(), json!(new.seen));
    }
    if old.flagged != new.flagged {
        let status = if new.flagged { "flagged" } else { "notFlagged" };
        patch.insert("flag".into(), json!({ "flagStatus": status }));
    }
    if (old.answered, old.forwarded) != (new.answered, new.forwarded) {
        patch.insert(
            "singleValueExtendedProperties".into(),
            json!([{ "id": LAST_VERB_PROPERTY, "value": verb_of(new).to_string() }]),
        );
    }
    let (old_categories, new_categories) = (old.categories(), new.categories());
    let sorted = |names: &[String]| {
        let mut names = names.to_vec();
        names.sort();
        names
    };
    if sorted(&old_categories) != sorted(&new_categories) {
        patch.insert("categories".into(), json!(new_categories));
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// The flags Graph holds after a PATCH answered with `answer` (from the answer's body), where
/// the verb, which the answer does not carry, is what was written: `graph`'s (or unchanged).
fn confirmed(answer: MessageFlags, graph: &MessageFlags) -> MessageFlags {
    let in_graph = GraphMarks {
        answered: graph.answered,
        forwarded: graph.forwarded,
        ..answer.in_graph
    };
    MessageFlags {
        answered: in_graph.answered,
        forwarded: in_graph.forwarded,
        in_graph,
        ..answer
    }
}

impl MailboxHub {
    /// Applies a change this hub made to (or learned of) the folder's latest snapshot and
    /// announces it, so every session of the mailbox (and the one that made it) sees the change
    /// at the end of its next command without synchronising the folder again.
    pub(super) fn amend(&self, folder_id: &str, change: impl FnOnce(&mut FolderSnapshot)) {
        self.index(folder_id)
            .latest
            .send_if_modified(|latest| match latest {
                Some(snapshot) => {
                    let mut amended = (**snapshot).clone();
                    change(&mut amended);
                    *snapshot = Arc::new(amended);
                    true
                }
                None => false,
            });
    }

    /// Lists a folder this process has not listed yet, before new messages get UIDs in it, so
    /// that the messages already there get theirs first (in receivedDateTime order) and the
    /// new ones come after them.
    async fn ensure_listed(&self, folder_id: &str) -> Result<(), HubError> {
        if self.latest_snapshot(folder_id).is_none() {
            self.folder_snapshot(folder_id).await?;
        }
        Ok(())
    }

    /// Removes messages from the folder's latest snapshot.
    fn amend_removed(&self, folder_id: &str, gone: &[String]) {
        if gone.is_empty() {
            return;
        }
        self.amend(folder_id, |snapshot| {
            snapshot
                .messages
                .retain(|m| !gone.iter().any(|id| **id == *m.id));
        });
    }

    /// Holds off synchronisation rounds of these folders while a change is carried out and
    /// applied to their snapshots (changes share it). Folders are taken in one order, so
    /// changes and rounds never wait on each other in a ring.
    pub(super) async fn changing(
        &self,
        folder_ids: &[&str],
    ) -> Vec<tokio::sync::OwnedRwLockReadGuard<()>> {
        let mut ids = folder_ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut held = Vec::with_capacity(ids.len());
        for id in ids {
            held.push(self.index(id).changing.clone().read_owned().await);
        }
        held
    }

    /// Held from the allocation of new UIDs in the folder until their messages are in its
    /// snapshot, so they enter it in UID order.
    pub(super) async fn allocating(&self, folder_id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        self.index(folder_id).allocating.clone().lock_owned().await
    }

    /// Adds messages that just got their UIDs in the folder to its latest snapshot, so every
    /// session learns of them (EXISTS) before a later UID; a message it shows already stays.
    /// A UID beyond the snapshot's UIDNEXT follows UIDs another instance gave meanwhile: the
    /// next round shows those and it in order (the caller invalidates the folder).
    pub(super) fn amend_arrived(&self, folder_id: &str, mut arrived: Vec<MessageMeta>) {
        if arrived.is_empty() {
            return;
        }
        arrived.sort_by_key(|m| m.uid);
        self.amend(folder_id, |snapshot| {
            for message in arrived {
                let highest = snapshot.messages.last().map_or(0, |m| m.uid);
                if message.uid > snapshot.uid_next {
                    break;
                }
                if message.uid > highest && !snapshot.messages.iter().any(|m| m.id == message.id) {
                    snapshot.uid_next = snapshot.uid_next.max(message.uid + 1);
                    snapshot.messages.push(message);
                }
            }
        });
    }

    /// Changes flags: what Graph can hold with PATCHes twenty to a `$batch` (messages whose
    /// Graph state does not change cost nothing), \Deleted and what Graph cannot hold in the uid
    /// store. Each update is made over the message's flags as they are now, so what others
    /// changed meanwhile stays. Per update, in order: the flags now held, or why that message
    /// could not be changed.
    pub async fn set_flags(
        &self,
        folder_id: &str,
        updates: &[FlagUpdate],
    ) -> Vec<Result<MessageFlags, HubError>> {
        let _changing = self.changing(&[folder_id]).await;
        let mailbox = self.mailbox().as_str().to_string();
        let updates = &self.rebased(folder_id, updates).await;
        let splits: Vec<(MessageFlags, HeldFlags)> =
            updates.iter().map(|u| u.new.split(&u.old)).collect();
        let graph_olds: Vec<MessageFlags> = updates.iter().map(|u| u.old.as_in_graph()).collect();
        let mut results: Vec<Result<MessageFlags, HubError>> =
            graph_olds.iter().cloned().map(Ok).collect();
        let mut patches = Vec::new();
        let mut patched = Vec::new();
        for (index, update) in updates.iter().enumerate() {
            if let Some(patch) = graph_patch(&graph_olds[index], &splits[index].0) {
                patches.push((update.id.to_string(), patch));
                patched.push(index);
            }
        }
        if !patches.is_empty() {
            let verbs: Vec<bool> = patches
                .iter()
                .map(|(_, p)| p.get("singleValueExtendedProperties").is_some())
                .collect();
            match self.graph.patch_messages(patches).await {
                Ok(answers) => {
                    for ((&index, answer), verb_written) in patched.iter().zip(answers).zip(verbs) {
                        let graph = if verb_written {
                            &splits[index].0
                        } else {
                            &graph_olds[index]
                        };
                        results[index] = answer
                            .map(|summary| confirmed(MessageFlags::from_graph(&summary), graph))
                            .map_err(HubError::from);
                    }
                }
                Err(err) => {
                    for &index in &patched {
                        results[index] = Err(HubError::from(err.clone()));
                    }
                }
            }
        }
        let held_changes: Vec<usize> = (0..updates.len())
            .filter(|&i| results[i].is_ok() && splits[i].1 != updates[i].old.held)
            .collect();
        let stored = self
            .store
            .set_held_flags(
                &mailbox,
                folder_id,
                held_changes
                    .iter()
                    .map(|&i| (updates[i].id.to_string(), splits[i].1.clone()))
                    .collect(),
            )
            .await
            .map_err(HubError::from);
        for (index, result) in results.iter_mut().enumerate() {
            let held = if held_changes.contains(&index) {
                match &stored {
                    Ok(()) => splits[index].1.clone(),
                    Err(err) => {
                        *result = Err(err.clone());
                        continue;
                    }
                }
            } else {
                updates[index].old.held.clone()
            };
            if let Ok(flags) = result {
                *flags = std::mem::take(flags).holding(held);
                flags.deleted = updates[index].old.deleted;
            }
        }
        for deleted in [true, false] {
            let indexes: Vec<usize> = (0..updates.len())
                .filter(|&i| updates[i].old.deleted != deleted && updates[i].new.deleted == deleted)
                .filter(|&i| results[i].is_ok())
                .collect();
            if indexes.is_empty() {
                continue;
            }
            let ids = indexes.iter().map(|&i| updates[i].id.to_string()).collect();
            match self
                .store
                .set_deleted(&mailbox, folder_id, ids, deleted)
                .await
            {
                Ok(()) => {
                    for &i in &indexes {
                        if let Ok(flags) = &mut results[i] {
                            flags.deleted = deleted;
                        }
                    }
                }
                Err(err) => {
                    let err = HubError::from(err);
                    for &i in &indexes {
                        results[i] = Err(err.clone());
                    }
                }
            }
        }
        let held: HashMap<&str, &MessageFlags> = updates
            .iter()
            .zip(&results)
            .filter_map(|(u, r)| r.as_ref().ok().map(|flags| (&*u.id, flags)))
            .collect();
        self.amend(folder_id, |snapshot| {
            for message in &mut snapshot.messages {
                if let Some(flags) = held.get(&*message.id) {
                    message.flags = (*flags).clone();
                }
            }
        });
        results
    }

    /// The updates made to each message's flags as they are now (the folder's latest snapshot,
    /// with the held flags the uid store has now) rather than as the session last saw them, so
    /// that what other sessions and instances changed meanwhile stays.
    async fn rebased(&self, folder_id: &str, updates: &[FlagUpdate]) -> Vec<FlagUpdate> {
        let latest = self.latest_snapshot(folder_id);
        let shown: HashMap<&str, &MessageFlags> = latest
            .iter()
            .flat_map(|snapshot| snapshot.messages.iter())
            .map(|m| (&*m.id, &m.flags))
            .collect();
        let held = self
            .store
            .held_flags(self.mailbox().as_str(), folder_id)
            .await
            .inspect_err(|err| tracing::warn!(error = %err, "could not read held flags"))
            .ok();
        updates
            .iter()
            .map(|update| {
                let mut current = shown
                    .get(&*update.id)
                    .map_or_else(|| update.old.clone(), |flags| (*flags).clone());
                if let Some(held) = &held {
                    current = current.holding(held.get(&*update.id).cloned().unwrap_or_default());
                }
                let new = if update.whole {
                    MessageFlags {
                        other_categories: current.other_categories.clone(),
                        in_graph: current.in_graph,
                        held: current.held.clone(),
                        ..update.new.clone()
                    }
                } else {
                    update.new.rebased(&update.old, &current)
                };
                FlagUpdate {
                    id: update.id.clone(),
                    old: current,
                    new,
                    whole: update.whole,
                }
            })
            .collect()
    }

    /// The Graph ids of the folder's messages marked \Deleted, as the uid store holds them now
    /// (marks made by any session of any instance).
    pub async fn deleted_ids(
        &self,
        folder_id: &str,
    ) -> Result<std::collections::HashSet<String>, HubError> {
        Ok(self
            .store
            .deleted(self.mailbox().as_str(), folder_id)
            .await?)
    }

    /// Removes messages from a folder as `mode` says, twenty to a `$batch`. Per message, in
    /// order: `Ok` once Graph confirmed it is gone from the folder (or had already gone),
    /// the error otherwise. Gone messages leave the uid store with their \Deleted mark.
    pub async fn expunge(
        &self,
        folder_id: &str,
        ids: &[Arc<str>],
        mode: ExpungeMode,
    ) -> Vec<Result<(), HubError>> {
        if ids.is_empty() {
            return Vec::new();
        }
        let _changing = self.changing(&[folder_id]).await;
        let trash = self.well_known.get("deleteditems");
        let action = match mode {
            ExpungeMode::Soft => MessageAction::Delete,
            ExpungeMode::Hard => MessageAction::PermanentDelete,
            // In Deleted Items itself a move would change nothing.
            ExpungeMode::Trash if trash.is_some_and(|t| t == folder_id) => MessageAction::Delete,
            ExpungeMode::Trash => {
                MessageAction::Move(trash.cloned().unwrap_or_else(|| "deleteditems".to_string()))
            }
        };
        let refs: Vec<&str> = ids.iter().map(|id| &**id).collect();
        let results: Vec<Result<(), HubError>> =
            match self.graph.message_actions(&refs, &action).await {
                Ok(answers) => answers
                    .into_iter()
                    .map(|answer| match answer {
                        Ok(_) => Ok(()),
                        Err(err) if err.is_not_found() => Ok(()),
                        Err(err) => Err(HubError::from(err)),
                    })
                    .collect(),
                Err(err) => ids
                    .iter()
                    .map(|_| Err(HubError::from(err.clone())))
                    .collect(),
            };
        let gone: Vec<String> = ids
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(id, _)| id.to_string())
            .collect();
        self.amend_removed(folder_id, &gone);
        // Only a message deleted for good loses its exact record here: one moved to Deleted
        // Items keeps its id and record, and one deleted softly may still be read by its id
        // (by a session of another instance that has not learned of the EXPUNGE yet, which
        // must get the bytes it showed); synchronisation rounds drop records of messages Graph
        // no longer knows.
        if action == MessageAction::PermanentDelete {
            if let Err(err) = self
                .store
                .drop_exact(self.mailbox().as_str(), gone.clone())
                .await
            {
                tracing::warn!(error = %err, "could not drop the exact records of expunged messages");
            }
        }
        self.forget(folder_id, gone).await;
        if let ExpungeMode::Trash = mode {
            if let Some(trash) = trash {
                self.invalidate(trash);
            }
        }
        results
    }

    /// Drops messages that left a folder from the uid store (their UIDs are never reused).
    async fn forget(&self, folder_id: &str, gone: Vec<String>) {
        if gone.is_empty() {
            return;
        }
        if let Err(err) = self
            .store
            .reconcile(self.mailbox().as_str(), folder_id, Vec::new(), gone)
            .await
        {
            // The next full round of the folder reconciles them.
            tracing::warn!(error = %err, "could not forget messages that left a folder");
        }
    }

    /// COPY (`moving` false) or MOVE of messages into another folder, twenty to a `$batch`;
    /// the new messages get their UIDs in the destination at once, in the order given, and
    /// keep their \Deleted mark and the flags the gateway holds.
    pub async fn transfer(
        &self,
        source_id: &str,
        destination_id: &str,
        messages: &[MessageMeta],
        moving: bool,
    ) -> Result<Transfer, HubError> {
        let mailbox = self.mailbox().as_str().to_string();
        let action = if moving {
            MessageAction::Move(destination_id.to_string())
        } else {
            MessageAction::Copy(destination_id.to_string())
        };
        self.ensure_listed(destination_id).await?;
        let _changing = self.changing(&[source_id, destination_id]).await;
        let refs: Vec<&str> = messages.iter().map(|m| &*m.id).collect();
        let started = Utc::now() - chrono::Duration::seconds(5);
        let mut answers = self.graph.message_actions(&refs, &action).await?;
        if !moving {
            self.recover_lost_copies(destination_id, &refs, &mut answers, started)
                .await;
        }
        let new_ids: Vec<Result<String, HubError>> = answers
            .into_iter()
            .zip(messages)
            .map(|(answer, message)| match answer {
                Ok(Some(id)) => Ok(id),
                // Immutable ids survive a move; a copy always names its new id.
                Ok(None) if moving => Ok(message.id.to_string()),
                Ok(None) => Err(HubError::Graph(GraphError::Decode(
                    "copy answered without the new message's id".into(),
                ))),
                Err(err) => Err(HubError::from(err)),
            })
            .collect();
        let created: Vec<String> = new_ids
            .iter()
            .filter_map(|r| r.as_ref().ok().cloned())
            .collect();
        // Moved messages leave the source before they show in the destination: once they
        // do, another session may move them back, and its bookkeeping must come after this.
        if moving {
            let gone: Vec<String> = new_ids
                .iter()
                .zip(messages)
                .filter(|(r, _)| r.is_ok())
                .map(|(_, m)| m.id.to_string())
                .collect();
            self.amend_removed(source_id, &gone);
            self.forget(source_id, gone).await;
        }
        let allocating = self.allocating(destination_id).await;
        let (uids, folder) = if moving {
            self.store
                .reconcile(&mailbox, destination_id, created, Vec::new())
                .await?
        } else {
            // Each copy is exact too, when it gets its UID here (a move keeps its id, and so
            // its record).
            let copies: Vec<(String, String)> = new_ids
                .iter()
                .zip(messages)
                .filter_map(|(r, m)| Some((m.id.to_string(), r.as_ref().ok()?.clone())))
                .collect();
            self.store
                .reconcile_copies(&mailbox, destination_id, copies)
                .await?
        };
        let deleted: Vec<String> = new_ids
            .iter()
            .zip(messages)
            .filter(|(_, m)| m.flags.deleted)
            .filter_map(|(r, _)| r.as_ref().ok().cloned())
            .collect();
        if let Err(err) = self
            .store
            .set_deleted(&mailbox, destination_id, deleted, true)
            .await
        {
            tracing::warn!(error = %err, "could not carry \\Deleted marks to the destination");
        }
        let held: Vec<(String, HeldFlags)> = new_ids
            .iter()
            .zip(messages)
            .filter(|(_, m)| !m.flags.held.is_empty())
            .filter_map(|(r, m)| Some((r.as_ref().ok()?.clone(), m.flags.held.clone())))
            .collect();
        if let Err(err) = self
            .store
            .set_held_flags(&mailbox, destination_id, held)
            .await
        {
            tracing::warn!(error = %err, "could not carry held flags to the destination");
        }
        // The copies (or the moved messages) as the source showed them; the destination's next
        // round brings what Graph made of them.
        let arrived = new_ids
            .iter()
            .zip(messages)
            .filter_map(|(result, message)| {
                let id = result.as_ref().ok()?;
                Some(MessageMeta {
                    uid: *uids.get(id)?,
                    id: Arc::from(id.as_str()),
                    size: if moving { message.size } else { None },
                    ..message.clone()
                })
            })
            .collect();
        self.amend_arrived(destination_id, arrived);
        drop(allocating);
        self.invalidate(destination_id);
        let results = new_ids
            .into_iter()
            .map(|r| {
                let id = r?;
                uids.get(&id)
                    .copied()
                    .ok_or_else(|| HubError::Store("the destination UID was not allocated".into()))
            })
            .collect();
        Ok(Transfer {
            uid_validity: folder.uid_validity,
            results,
        })
    }

    /// Copies whose `$batch` answer was lost (a connection reset after Graph acted) may exist
    /// all the same: they are looked for among the messages created in the destination since
    /// the copy began, by the source's internetMessageId, each found copy taken once.
    async fn recover_lost_copies(
        &self,
        destination_id: &str,
        sources: &[&str],
        answers: &mut [Result<Option<String>, GraphError>],
        since: DateTime<Utc>,
    ) {
        let lost: Vec<usize> = (0..answers.len())
            .filter(|&i| matches!(answers[i], Err(GraphError::Unavailable(_))))
            .collect();
        if lost.is_empty() {
            return;
        }
        let lost_sources: Vec<&str> = lost.iter().map(|&i| sources[i]).collect();
        let (Ok(wanted), Ok(mut created)) = (
            self.graph.internet_message_ids(&lost_sources).await,
            self.graph.created_since(destination_id, since).await,
        ) else {
            return;
        };
        // Copies this command already knows about are not candidates.
        created.retain(|(id, _)| {
            !answers
                .iter()
                .any(|a| matches!(a, Ok(Some(known)) if known == id))
        });
        let mut found = 0usize;
        for (&index, internet_id) in lost.iter().zip(wanted) {
            let Some(internet_id) = internet_id else {
                continue;
            };
            if let Some(position) = created
                .iter()
                .position(|(_, id)| id.as_deref() == Some(internet_id.as_str()))
            {
                let (id, _) = created.remove(position);
                answers[index] = Ok(Some(id));
                found += 1;
            }
        }
        tracing::info!(
            mailbox = %self.mailbox(),
            lost = lost.len(),
            found,
            "COPY: answers were lost; looked for the copies Graph made"
        );
    }

    /// APPEND: creates the message in the folder (from JSON as received mail, or from its
    /// MIME as a draft when `flags.draft`), adds the large attachments, applies the flags and
    /// allocates its UID. What is not a message, or too big for Graph's create request, is
    /// refused before any request ([`AppendError::Unappendable`]). If Graph fails half-way the
    /// message is deleted for good, so nothing half-made stays behind. Returns (UIDVALIDITY,
    /// UID).
    pub async fn append(
        &self,
        folder_id: &str,
        mime: &[u8],
        flags: &MessageFlags,
        internal_date: Option<DateTime<Utc>>,
    ) -> Result<(u32, u32), AppendError> {
        // A draft from MIME is saved read, unflagged, without categories; other messages are
        // made with the flags Graph can hold.
        let as_created = MessageFlags {
            seen: flags.draft,
            draft: flags.draft,
            in_graph: GraphMarks {
                draft: flags.draft,
                ..GraphMarks::default()
            },
            ..MessageFlags::default()
        };
        let (graph, held) = flags.split(&as_created);
        // One moment for Graph's receivedDateTime and the snapshot's INTERNALDATE: taken twice,
        // the two could fall in different seconds, and INTERNALDATE would change under the
        // sessions when the next round brings Graph's value.
        let internal_date = internal_date.unwrap_or_else(Utc::now);
        let composed = if flags.draft {
            check_draft(mime)?;
            None
        } else {
            Some(compose(
                mime,
                internal_date,
                &CreateFlags {
                    read: graph.seen,
                    flagged: graph.flagged,
                    last_verb: (graph.answered || graph.forwarded).then(|| verb_of(&graph)),
                    categories: graph.categories(),
                },
            )?)
        };
        // What of the literal Graph will hold and give back (issue 11, `crate::exact`).
        let candidates = crate::exact::candidates(mime);
        self.ensure_listed(folder_id).await?;
        // Until its record is written, no instance shows a message Graph holds that may be this
        // one (`crate::exact`): its folder and receivedDateTime are marked pending.
        let pending = (!flags.draft).then(|| crate::exact::pending_key(folder_id, internal_date));
        if let Some(key) = &pending {
            self.exact_pending(key).await?;
        }
        let appended: Result<(u32, u32), AppendError> = async {
            self.ensure_listed(folder_id).await?;
            let _changing = self.changing(&[folder_id]).await;
            let mut draft_received = None;
            let id = if let Some(composed) = composed {
                let started = Utc::now() - chrono::Duration::seconds(5);
                let id = match self.graph.create_message(folder_id, composed.json).await {
                    Ok(id) => id,
                    // The answer was lost: Graph may have created it all the same.
                    Err(GraphError::Unavailable(reason)) => {
                        let found = self
                            .graph
                            .find_created(folder_id, started, &composed.internet_message_id)
                            .await?;
                        tracing::info!(
                            mailbox = %self.mailbox(),
                            found = found.is_some(),
                            "APPEND: the create answer was lost; looked for what Graph made"
                        );
                        found.ok_or(GraphError::Unavailable(reason))?
                    }
                    Err(err) => return Err(err.into()),
                };
                if let Err(err) = self.exact_pending(&id).await {
                    self.undo_create(&id).await;
                    return Err(err.into());
                }
                for attachment in &composed.later_attachments {
                    if let Err(err) = self.graph.add_attachment(&id, attachment).await {
                        self.undo_create(&id).await;
                        return Err(err.into());
                    }
                }
                id
            } else {
                let (id, received) = self.graph.create_mime_draft(folder_id, mime).await?;
                draft_received = received;
                if let Err(err) = self.exact_pending(&id).await {
                    self.undo_create(&id).await;
                    return Err(err.into());
                }
                if let Some(patch) = graph_patch(&as_created, &graph) {
                    if let Err(err) = self.patch_one(&id, patch).await {
                        self.undo_create(&id).await;
                        return Err(err.into());
                    }
                }
                id
            };
            let mailbox = self.mailbox().as_str().to_string();
            // The record is in the store before the message has a UID: no session ever reads it
            // without.
            let record = self.exact_record(&id, mime, &candidates, flags.draft).await;
            if let Err(err) = self.store.put_exact(&mailbox, &id, &record).await {
                self.undo_create(&id).await;
                return Err(err.into());
            }
            let allocating = self.allocating(folder_id).await;
            let (uids, folder) = self
                .store
                .reconcile(&mailbox, folder_id, vec![id.clone()], Vec::new())
                .await?;
            if flags.deleted {
                self.store
                    .set_deleted(&mailbox, folder_id, vec![id.clone()], true)
                    .await?;
            }
            if !held.is_empty() {
                self.store
                    .set_held_flags(&mailbox, folder_id, vec![(id.clone(), held.clone())])
                    .await?;
            }
            let uid = uids
                .get(&id)
                .copied()
                .ok_or_else(|| HubError::Store("the new message's UID was not allocated".into()))?;
            let size = mime.len() as u64;
            if let Err(err) = self
                .store
                .set_sizes(&mailbox, folder_id, vec![(id.clone(), size)])
                .await
            {
                tracing::warn!(error = %err, "could not record an appended message's size");
            }
            self.bodies
                .insert(Arc::from(id.as_str()), bytes::Bytes::copy_from_slice(mime))
                .await;
            // Sessions with the folder selected learn of it (EXISTS) at the end of their next
            // command; the next delta round brings what Graph made of it (size, attachments).
            let appended = MessageMeta {
                uid,
                id: Arc::from(id.as_str()),
                flags: MessageFlags {
                    deleted: flags.deleted,
                    ..graph.holding(held)
                },
                // A draft's time is Graph's, set when it was created: the one its answer gave,
                // so the next round does not change this UID's INTERNALDATE.
                internal_date: if flags.draft {
                    draft_received.unwrap_or_else(Utc::now)
                } else {
                    internal_date
                },
                size: Some(size),
                has_attachments: false,
            };
            self.amend_arrived(folder_id, vec![appended]);
            drop(allocating);
            self.invalidate(folder_id);
            Ok((folder.uid_validity, uid))
        }
        .await;
        if let Some(key) = pending {
            if let Err(err) = self
                .store
                .drop_exact(self.mailbox().as_str(), vec![key])
                .await
            {
                tracing::warn!(error = %err, "could not drop an APPEND's pending mark");
            }
        }
        appended
    }

    async fn patch_one(&self, id: &str, patch: Value) -> Result<(), HubError> {
        let mut answers = self
            .graph
            .patch_messages(vec![(id.to_string(), patch)])
            .await?;
        match answers.pop() {
            Some(answer) => answer.map(|_| ()).map_err(HubError::from),
            None => Err(HubError::Graph(GraphError::Decode(
                "$batch left the PATCH unanswered".into(),
            ))),
        }
    }

    async fn undo_create(&self, id: &str) {
        if let Err(err) = self.graph.permanent_delete(id).await {
            tracing::warn!(error = %err, "could not remove a half-made appended message");
            // Its pending record stays: no instance shows it for a while, then as Graph has it.
            return;
        }
        if let Err(err) = self
            .store
            .drop_exact(self.mailbox().as_str(), vec![id.to_string()])
            .await
        {
            tracing::warn!(error = %err, "could not drop a half-made message's record");
        }
    }

    /// CREATE: makes the folder and any missing folder above it. `name` is the full IMAP
    /// name (no trailing delimiter); the caller has checked it does not exist.
    pub async fn create_folder(&self, name: &str) -> Result<(), HubError> {
        let tree = self.folders(true).await?;
        let mut parent: Option<String> = None;
        let mut path = String::new();
        for level in name.split('/') {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(level);
            match tree.find(&path) {
                Some(existing) => parent = Some(existing.id.clone()),
                None => {
                    let created = self
                        .graph
                        .create_folder(parent.as_deref(), &display_name(level))
                        .await?;
                    // Recorded at once, so its UIDVALIDITY is above any this name had.
                    self.store
                        .created_folder(self.mailbox().as_str(), &created.id)
                        .await?;
                    parent = Some(created.id);
                }
            }
        }
        self.folders(true).await?;
        Ok(())
    }

    /// DELETE of a folder. Exchange moves it into Deleted Items (and deletes it for good from
    /// there), where a folder of that name may already be; folder names are unique among
    /// siblings, so the folder is first renamed to the lowest free "name (n)", n ≥ 2, and
    /// LIST never shows two folders of one name.
    pub async fn delete_folder(&self, folder: &Folder) -> Result<(), HubError> {
        let tree = self.folders(true).await?;
        let renamed = match name_in_deleted_items(&tree, folder) {
            Some(free) => {
                self.graph
                    .rename_folder(&folder.id, &display_name(&free))
                    .await?;
                true
            }
            None => false,
        };
        if let Err(err) = self.graph.delete_folder(&folder.id).await {
            if renamed {
                let (_, leaf) = split_parent(&folder.name);
                if let Err(undo) = self
                    .graph
                    .rename_folder(&folder.id, &display_name(leaf))
                    .await
                {
                    tracing::warn!(error = %undo, "could not give a folder whose DELETE failed its name back");
                }
            }
            self.folders(true).await?;
            return Err(err.into());
        }
        self.folders(true).await?;
        Ok(())
    }

    /// RENAME: a new display name, and a new parent when the hierarchy above changes (missing
    /// parents are created). The folder keeps its id, so its UIDs stay valid.
    pub async fn rename_folder(&self, folder: &Folder, new_name: &str) -> Result<(), HubError> {
        let (old_parent, _) = split_parent(&folder.name);
        let (new_parent, leaf) = split_parent(new_name);
        if old_parent != new_parent {
            let destination = match new_parent {
                None => "msgfolderroot".to_string(),
                Some(parent) => {
                    let tree = self.folders(true).await?;
                    match tree.find(parent) {
                        Some(found) => found.id.clone(),
                        None => {
                            self.create_folder(parent).await?;
                            let tree = self.folders(true).await?;
                            tree.find(parent)
                                .map(|f| f.id.clone())
                                .ok_or_else(|| HubError::Store("new parent not found".into()))?
                        }
                    }
                }
            };
            self.graph.move_folder(&folder.id, &destination).await?;
        }
        let (_, old_leaf) = split_parent(&folder.name);
        if old_leaf != leaf {
            self.graph
                .rename_folder(&folder.id, &display_name(leaf))
                .await?;
        }
        self.folders(true).await?;
        Ok(())
    }

    /// Claims \Recent for a read-write selection: the folder's UIDs above the last claim, up to
    /// `through`, become recent to the caller; returns the last claim (see
    /// [`crate::store::UidStore::claim_recent`]).
    pub async fn claim_recent(&self, folder_id: &str, through: u32) -> Result<u32, HubError> {
        Ok(self
            .store
            .claim_recent(self.mailbox().as_str(), folder_id, through)
            .await?)
    }

    /// The folder's last \Recent claim: messages above it are recent to no session yet.
    pub async fn recent_claimed(&self, folder_id: &str) -> Result<u32, HubError> {
        Ok(self
            .store
            .recent_claimed(self.mailbox().as_str(), folder_id)
            .await?)
    }

    /// Folder names subscribed (`true`) or unsubscribed (`false`); folders without an entry
    /// count as subscribed.
    pub async fn subscriptions(&self) -> Result<HashMap<String, bool>, HubError> {
        Ok(self.store.subscriptions(self.mailbox().as_str()).await?)
    }

    pub async fn set_subscription(&self, name: &str, subscribed: bool) -> Result<(), HubError> {
        Ok(self
            .store
            .set_subscription(self.mailbox().as_str(), &normalise_inbox(name), subscribed)
            .await?)
    }
}

/// The leaf name `folder` must take before DELETE moves it into Deleted Items, when a folder
/// there (or a sibling where it is) already has its name: "name (2)", "name (3)"…, the lowest
/// free in both places. Graph compares folder names without regard to case. None when the
/// name is free there, or when the folder is inside Deleted Items (DELETE removes it for good).
fn name_in_deleted_items(tree: &FolderTree, folder: &Folder) -> Option<String> {
    let trash = tree
        .folders
        .iter()
        .find(|f| f.well_known.as_deref() == Some("deleteditems"))?;
    if folder.id == trash.id || folder.name.starts_with(&format!("{}/", trash.name)) {
        return None;
    }
    let (parent, leaf) = split_parent(&folder.name);
    let leaves_under = |parent: Option<&str>| -> Vec<String> {
        tree.folders
            .iter()
            .filter(|f| f.id != folder.id && split_parent(&f.name).0 == parent)
            .map(|f| split_parent(&f.name).1.to_lowercase())
            .collect()
    };
    let in_trash = leaves_under(Some(trash.name.as_str()));
    if !in_trash.contains(&leaf.to_lowercase()) {
        return None;
    }
    let beside = leaves_under(parent);
    (2u32..).map(|n| format!("{leaf} ({n})")).find(|name| {
        let name = name.to_lowercase();
        !in_trash.contains(&name) && !beside.contains(&name)
    })
}

/// (`a/b`, `c`) of `a/b/c`; (`None`, `c`) of `c`.
fn split_parent(name: &str) -> (Option<&str>, &str) {
    match name.rsplit_once('/') {
        Some((parent, leaf)) => (Some(parent), leaf),
        None => (None, name),
    }
}

/// The Graph display name of one level of an IMAP name: the DIVISION SLASH that shows a `/`
/// inside a Graph name becomes `/` again.
fn display_name(level: &str) -> String {
    level.replace('\u{2215}', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> MessageFlags {
        MessageFlags {
            keywords: vec!["Blue".into(), "Red&20category".into()],
            ..MessageFlags::default()
        }
    }

    #[test]
    fn unchanged_graph_state_needs_no_request() {
        let old = flags();
        let mut new = old.clone();
        new.deleted = true;
        new.keywords = vec!["Red&20category".into(), "Blue".into(), "Blue".into()];
        assert_eq!(graph_patch(&old, &new), None);
    }

    #[test]
    fn each_flag_maps_to_its_graph_property() {
        let old = flags();
        let new = MessageFlags {
            seen: true,
            flagged: true,
            forwarded: true,
            keywords: vec!["Red&20category".into(), "Green".into()],
            ..old.clone()
        };
        let patch = graph_patch(&old, &new).unwrap();
        assert_eq!(patch["isRead"], true);
        assert_eq!(patch["flag"]["flagStatus"], "flagged");
        assert_eq!(
            patch["singleValueExtendedProperties"][0],
            json!({"id": "Integer 0x1081", "value": "104"})
        );
        assert_eq!(patch["categories"], json!(["Red category", "Green"]));
        let back = graph_patch(&new, &old).unwrap();
        assert_eq!(back["isRead"], false);
        assert_eq!(back["flag"]["flagStatus"], "notFlagged");
        assert_eq!(back["singleValueExtendedProperties"][0]["value"], "0");
    }

    #[test]
    fn the_verb_written_is_what_the_answer_holds() {
        let old = MessageFlags::default();
        let new = MessageFlags {
            answered: true,
            forwarded: true,
            keywords: vec!["$MDNSent".into(), "Red&20category".into()],
            ..old.clone()
        };
        let (graph, held) = new.split(&old);
        let patch = graph_patch(&old, &graph).unwrap();
        assert_eq!(patch["singleValueExtendedProperties"][0]["value"], "102");
        assert_eq!(patch["categories"], json!(["Red category"]));
        let answer = confirmed(MessageFlags::default(), &graph);
        assert!(answer.answered && !answer.forwarded && answer.in_graph.answered);
        let shown = answer.holding(held);
        assert!(shown.answered && shown.forwarded);
    }

    fn tree(names: &[(&str, Option<&str>)]) -> FolderTree {
        FolderTree {
            folders: names
                .iter()
                .map(|&(name, well_known)| Folder {
                    id: format!("id:{name}"),
                    name: name.to_string(),
                    well_known: well_known.map(str::to_string),
                    has_children: false,
                    total: 0,
                    unread: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn a_deleted_folder_takes_the_lowest_free_name_in_deleted_items() {
        let tree = tree(&[
            ("Deleted Items", Some("deleteditems")),
            ("Deleted Items/box", None),
            ("Deleted Items/Box (2)", None),
            ("Deleted Items/other", None),
            ("box", None),
            ("box (3)", None),
            ("fresh", None),
            ("a/box", None),
        ]);
        let named = |name: &str| tree.find(name).unwrap().clone();
        assert_eq!(
            name_in_deleted_items(&tree, &named("box")).as_deref(),
            Some("box (4)"),
            "free neither in Deleted Items (any case) nor beside it"
        );
        assert_eq!(
            name_in_deleted_items(&tree, &named("a/box")).as_deref(),
            Some("box (3)")
        );
        assert_eq!(name_in_deleted_items(&tree, &named("fresh")), None);
        assert_eq!(
            name_in_deleted_items(&tree, &named("Deleted Items/box")),
            None,
            "deleted for good from Deleted Items"
        );
    }

    #[test]
    fn names_split_into_parent_and_leaf() {
        assert_eq!(split_parent("a/b/c"), (Some("a/b"), "c"));
        assert_eq!(split_parent("c"), (None, "c"));
        assert_eq!(display_name("x\u{2215}y"), "x/y");
    }
}
