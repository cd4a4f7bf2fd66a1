//! Owns the hub's side of exact records (`crate::exact`, issue 11): making one when a message
//! is APPENDed, giving one to a copy, rebuilding the appended literal when a body is asked for,
//! and, when it can no longer be rebuilt, showing the message as Graph holds it under a new
//! UID (EXPUNGE of the old, EXISTS of the new), never other bytes under the UID that showed
//! the literal.

use std::sync::Arc;

use bytes::Bytes;

use super::{HubError, MailboxHub, MessageMeta};
use crate::exact::{
    self, Candidate, ExactRecord, ListedAttachment, Mismatch, Rebuild, Segment, StoredExact,
};
use crate::graph::GraphError;

/// What a message's record gives when its body is asked for.
pub(super) enum ExactBody {
    /// The appended literal.
    Literal(Bytes),
    /// No record speaks for this UID: the body is Graph's MIME.
    FromGraph,
}

/// A pending record older than this was left by an APPEND that never finished (its instance
/// stopped): the message is then shown as Graph holds it.
const PENDING_FOR: i64 = 10 * 60;

/// A Graph answer that says the attachment is not there (as opposed to Graph failing now).
fn is_absent(err: &GraphError) -> bool {
    err.is_not_found() || err.status() == Some(400)
}

impl MailboxHub {
    /// Marks a message an APPEND is making as pending in the uid store (see
    /// [`StoredExact::Pending`]): under its id once Graph gave it, before anything else
    /// happens to it, and before that under its pending key (`crate::exact::pending_key`).
    pub(super) async fn exact_pending(&self, key: &str) -> Result<(), HubError> {
        let pending = StoredExact::Pending {
            since: chrono::Utc::now().timestamp(),
        };
        Ok(self
            .store
            .put_exact(self.mailbox().as_str(), key, &pending)
            .await?)
    }

    /// The exact record of a message just created from `literal`: its large attachment parts
    /// by reference to the attachments Graph lists for it, the rest inline. `verify` downloads
    /// each referenced attachment first (a draft, whose attachments Exchange made from the
    /// MIME itself); without it the attachments are those the gateway uploaded. When Graph
    /// cannot list them, the record is the literal whole.
    pub(super) async fn exact_record(
        &self,
        message_id: &str,
        literal: &[u8],
        candidates: &[Candidate],
        verify: bool,
    ) -> StoredExact {
        if candidates.is_empty() {
            return StoredExact::Literal(literal.to_vec());
        }
        let listed = match self.graph.list_attachments(message_id).await {
            Ok(listed) => listed,
            Err(err) => {
                tracing::warn!(error = %err, "APPEND: attachments not listed; the exact record keeps the whole message");
                return StoredExact::Literal(literal.to_vec());
            }
        };
        let mut ids = exact::match_attachments(candidates, &listed);
        if verify {
            for (candidate, id) in candidates.iter().zip(ids.iter_mut()) {
                let Some(attachment_id) = id.as_deref() else {
                    continue;
                };
                let same = match self.graph.attachment_value(message_id, attachment_id).await {
                    Ok(bytes) => exact::digest_matches(candidate, &bytes),
                    Err(_) => false,
                };
                if !same {
                    *id = None;
                }
            }
        }
        exact::record(literal, candidates, &ids)
    }

    /// The body a message's stored record gives, for the message as `meta` shows it in the
    /// folder. Errors when the record cannot be rebuilt (then the message is given a new UID,
    /// which the folder's snapshot shows) or when Graph fails now.
    pub(super) async fn exact_body(
        &self,
        folder_id: &str,
        meta: &MessageMeta,
        stored: Result<StoredExact, exact::Undecodable>,
    ) -> Result<ExactBody, HubError> {
        let outcome = match stored {
            Ok(StoredExact::Literal(bytes)) => return Ok(ExactBody::Literal(Bytes::from(bytes))),
            Ok(StoredExact::Superseded {
                folder_id: superseded_in,
                uid,
            }) => {
                if superseded_in != folder_id || meta.uid > uid {
                    return Ok(ExactBody::FromGraph);
                }
                // This instance still shows the UID another one gave up.
                self.supersede(folder_id, meta, None).await;
                return Err(superseded_error());
            }
            Ok(StoredExact::Pending { since }) => {
                if chrono::Utc::now().timestamp().saturating_sub(since) > PENDING_FOR {
                    return Ok(ExactBody::FromGraph);
                }
                return Err(HubError::Store(
                    "the message is being appended through another connection; try again".into(),
                ));
            }
            Ok(StoredExact::Parts(record)) => self.rebuild(&meta.id, record).await,
            Err(undecodable) => Err(Rebuilt::Mismatch(
                Mismatch::Literal,
                undecodable.to_string(),
            )),
        };
        match outcome {
            Ok(bytes) => Ok(ExactBody::Literal(bytes)),
            Err(Rebuilt::Graph(err)) => Err(err.into()),
            Err(Rebuilt::Mismatch(mismatch, detail)) => {
                tracing::warn!(mailbox = %self.mailbox(), uid = meta.uid, %mismatch, detail,
                    "an appended message can no longer be given back as appended; it gets a new UID");
                self.supersede(folder_id, meta, Some(mismatch)).await;
                Err(superseded_error())
            }
        }
    }

    /// Rebuilds the literal from its record and the message's attachments, one at a time.
    /// A reference whose attachment id is not the message's (a copy) is found again in the
    /// message's list of attachments, and the record is updated with the ids found.
    async fn rebuild(&self, message_id: &str, mut record: ExactRecord) -> Result<Bytes, Rebuilt> {
        let mut rebuild = Rebuild::new(&record);
        let mut listed: Option<Vec<ListedAttachment>> = None;
        let mut found_again = false;
        for index in 0..record.segments.len() {
            let part = match &record.segments[index] {
                Segment::Inline(bytes) => {
                    rebuild.inline(bytes);
                    continue;
                }
                Segment::Part(part) => part,
            };
            let decoded = match self
                .graph
                .attachment_value(message_id, &part.attachment_id)
                .await
            {
                Ok(bytes) => bytes,
                Err(err) if is_absent(&err) => {
                    if listed.is_none() {
                        listed = Some(
                            self.graph
                                .list_attachments(message_id)
                                .await
                                .map_err(Rebuilt::Graph)?,
                        );
                    }
                    let attachments = listed.as_deref().unwrap_or_default();
                    let Some(again) = record.find_again(part, attachments) else {
                        return Err(Rebuilt::Mismatch(
                            Mismatch::AttachmentGone(part.name.clone()),
                            String::new(),
                        ));
                    };
                    let id = again.id.clone();
                    let bytes =
                        self.graph
                            .attachment_value(message_id, &id)
                            .await
                            .map_err(|err| match is_absent(&err) {
                                true => Rebuilt::Mismatch(
                                    Mismatch::AttachmentGone(part.name.clone()),
                                    err.to_string(),
                                ),
                                false => Rebuilt::Graph(err),
                            })?;
                    if let Segment::Part(part) = &mut record.segments[index] {
                        part.attachment_id = id;
                    }
                    found_again = true;
                    bytes
                }
                Err(err) => return Err(Rebuilt::Graph(err)),
            };
            let Segment::Part(part) = &record.segments[index] else {
                continue;
            };
            rebuild
                .part(part, &decoded)
                .map_err(|mismatch| Rebuilt::Mismatch(mismatch, String::new()))?;
        }
        let literal = rebuild
            .finish(&record)
            .map_err(|mismatch| Rebuilt::Mismatch(mismatch, String::new()))?;
        if found_again {
            // The next read goes straight to the attachments (best effort: the ids found are
            // found again next time otherwise).
            if let Err(err) = self
                .store
                .put_exact(
                    self.mailbox().as_str(),
                    message_id,
                    &StoredExact::Parts(record),
                )
                .await
            {
                tracing::warn!(error = %err, "could not record a copy's attachment ids");
            }
        }
        Ok(Bytes::from(literal))
    }

    /// Of these messages (named by a delta round for no reason IMAP shows), those whose
    /// exact record refers to an attachment Graph no longer lists (removed in Outlook). One
    /// list of attachments per message with a record of parts; errors leave a message to the
    /// check made when its body is read.
    pub(super) async fn exact_parts_gone(&self, ids: Vec<String>) -> Vec<String> {
        if ids.is_empty() {
            return Vec::new();
        }
        let records = match self.store.exact_parts(self.mailbox().as_str(), ids).await {
            Ok(records) => records,
            Err(err) => {
                tracing::warn!(error = %err, "could not read exact records");
                return Vec::new();
            }
        };
        let mut gone = Vec::new();
        for (id, record) in records {
            let listed = match self.graph.list_attachments(&id).await {
                Ok(listed) => listed,
                Err(err) => {
                    tracing::debug!(error = %err, "attachments not listed");
                    continue;
                }
            };
            if record
                .parts()
                .any(|part| record.find_again(part, &listed).is_none())
            {
                gone.push(id);
            }
        }
        gone
    }

    /// Drops the exact records of messages that left a folder (named removed by a delta
    /// round) and are gone from the mailbox: those with a UID in no folder are asked about, in
    /// one `$batch`; a message moved where the gateway has not looked yet keeps its record.
    pub(super) async fn drop_exact_of_gone(&self, removed: &[String]) {
        let mailbox = self.mailbox().as_str();
        let orphans = match self.store.exact_orphans(mailbox, removed.to_vec()).await {
            Ok(orphans) if !orphans.is_empty() => orphans,
            Ok(_) => return,
            Err(err) => {
                tracing::warn!(error = %err, "could not read exact records");
                return;
            }
        };
        let ids: Vec<&str> = orphans.iter().map(String::as_str).collect();
        let gone = match self.graph.messages_gone(&ids).await {
            Ok(gone) => gone,
            Err(err) => {
                tracing::debug!(error = %err, "could not ask whether messages are gone");
                return;
            }
        };
        let gone: Vec<String> = orphans
            .into_iter()
            .zip(gone)
            .filter_map(|(id, gone)| gone.then_some(id))
            .collect();
        if let Err(err) = self.store.drop_exact(mailbox, gone).await {
            tracing::warn!(error = %err, "could not drop exact records");
        }
    }

    /// Gives the messages of `gone` that `messages` (the index a synchronisation round is
    /// building, under the folder's sync lock) shows a new UID, their records saying their
    /// bytes ended with the old one; whether any changed.
    pub(super) async fn supersede_in_round(
        &self,
        folder_id: &str,
        gone: &[String],
        messages: &mut std::collections::HashMap<Arc<str>, MessageMeta>,
    ) -> bool {
        let mailbox = self.mailbox().as_str().to_string();
        let mut changed = false;
        for id in gone {
            let Some(meta) = messages.get_mut(id.as_str()) else {
                continue;
            };
            tracing::warn!(mailbox = %self.mailbox(), uid = meta.uid,
                "an attachment of an appended message was removed; the message gets a new UID");
            let superseded = StoredExact::Superseded {
                folder_id: folder_id.to_string(),
                uid: meta.uid,
            };
            if let Err(err) = self.store.put_exact(&mailbox, id, &superseded).await {
                tracing::warn!(error = %err, "could not record that a message changed");
                continue;
            }
            match self.store.renumber(&mailbox, folder_id, id, meta.uid).await {
                Ok((uid, _)) => {
                    meta.uid = uid;
                    meta.size = None;
                    self.bodies.invalidate(&meta.id).await;
                    self.index(folder_id)
                        .learned_sizes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&meta.id);
                    changed = true;
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not give a changed message a new UID")
                }
            }
        }
        changed
    }

    /// Gives up a message's exact bytes: its record says they ended with its UID in this
    /// folder, the message gets a new UID (once, whichever instance gets there first), and the
    /// folder's snapshot shows the old UID expunged and the new one, whose body is Graph's.
    async fn supersede(&self, folder_id: &str, meta: &MessageMeta, mismatch: Option<Mismatch>) {
        let mailbox = self.mailbox().as_str().to_string();
        if mismatch.is_some() {
            let superseded = StoredExact::Superseded {
                folder_id: folder_id.to_string(),
                uid: meta.uid,
            };
            if let Err(err) = self.store.put_exact(&mailbox, &meta.id, &superseded).await {
                // The record stays as it was: the next read tries again.
                tracing::warn!(error = %err, "could not record that a message changed");
                return;
            }
        }
        let _changing = self.changing(&[folder_id]).await;
        let allocating = self.allocating(folder_id).await;
        let (uid, _) = match self
            .store
            .renumber(&mailbox, folder_id, &meta.id, meta.uid)
            .await
        {
            Ok(renumbered) => renumbered,
            Err(err) => {
                tracing::warn!(error = %err, "could not give a changed message a new UID");
                return;
            }
        };
        self.bodies.invalidate(&meta.id).await;
        self.index(folder_id)
            .learned_sizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&meta.id);
        let id: Arc<str> = meta.id.clone();
        self.amend(folder_id, |snapshot| {
            snapshot.messages.retain(|m| m.id != id);
        });
        self.amend_arrived(
            folder_id,
            vec![MessageMeta {
                uid,
                size: None,
                ..meta.clone()
            }],
        );
        drop(allocating);
        self.invalidate(folder_id);
    }
}

/// Why a rebuild stopped.
enum Rebuilt {
    /// Graph failed now: the record stands, the next read tries again.
    Graph(GraphError),
    /// The bytes cannot be had again.
    Mismatch(Mismatch, String),
}

fn superseded_error() -> HubError {
    HubError::Store(
        "the message changed in the mailbox and can no longer be given as it was appended; it \
         is shown under a new UID"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::consistency::{demo_hub, emulator, folder, hub_of};
    use super::*;
    use crate::hub::MessageFlags;
    use crate::store::UidStore;
    use std::time::Duration;

    /// The message of `uid` in the folder's latest snapshot.
    fn meta(hub: &MailboxHub, folder_id: &str, uid: u32) -> Option<MessageMeta> {
        let snapshot = hub.latest_snapshot(folder_id)?;
        snapshot.messages.iter().find(|m| m.uid == uid).cloned()
    }

    /// The body the hub gives for `uid`, rebuilt (not from the cache).
    async fn rebuilt_body(hub: &MailboxHub, folder_id: &str, uid: u32) -> Result<Bytes, HubError> {
        let message = meta(hub, folder_id, uid).expect("the UID is in the snapshot");
        hub.bodies.invalidate(&message.id).await;
        hub.bodies(folder_id, &[&message]).await.remove(0)
    }

    #[tokio::test]
    async fn appended_bytes_come_back_after_copy_and_a_removed_attachment_gives_a_new_uid() {
        let (hub, _emulator, _dir) = demo_hub().await;
        let inbox = folder(&hub, "Voice").await;
        let literal = crate::exact::tests::voice_message(2_100_000);
        let (_, uid) = hub
            .append(&inbox, &literal, &MessageFlags::default(), None)
            .await
            .unwrap();
        let appended = meta(&hub, &inbox, uid).unwrap();
        assert_eq!(appended.size, Some(literal.len() as u64));
        assert_eq!(rebuilt_body(&hub, &inbox, uid).await.unwrap(), literal);

        // The store keeps well under 2 % of the message.
        let records = hub
            .store
            .exact_records(hub.mailbox().as_str(), vec![appended.id.to_string()])
            .await
            .unwrap();
        let stored = records[&*appended.id].clone().unwrap();
        let kept = stored.encode().1.len();
        assert!(matches!(stored, StoredExact::Parts(_)));
        assert!(kept * 100 < literal.len(), "{kept} of {}", literal.len());

        // A copy is exact too, its attachments found again by name.
        let copies = folder(&hub, "Copies").await;
        let transfer = hub
            .transfer(&inbox, &copies, std::slice::from_ref(&appended), false)
            .await
            .unwrap();
        let copy_uid = *transfer.results[0].as_ref().unwrap();
        assert_eq!(
            rebuilt_body(&hub, &copies, copy_uid).await.unwrap(),
            literal
        );

        // Outlook removes the MP3: the next round shows the message under a new UID, whose
        // body is Graph's; the old UID never gives other bytes.
        let attachments = hub.graph.list_attachments(&appended.id).await.unwrap();
        let mp3 = attachments
            .iter()
            .find(|a| a.name == "msg0001.mp3")
            .unwrap();
        hub.graph
            .delete_attachment(&appended.id, &mp3.id)
            .await
            .unwrap();
        hub.invalidate(&inbox);
        let snapshot = hub.fresh_snapshot(&inbox, Duration::ZERO).await.unwrap();
        let uids: Vec<u32> = snapshot.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids.len(), 1);
        assert!(uids[0] > uid, "{uids:?}");
        let body = rebuilt_body(&hub, &inbox, uids[0]).await.unwrap();
        assert_ne!(body, literal);
        assert!(!body.windows(11).any(|w| w == b"msg0001.mp3"));

        // The copy, fetched from its record, loses its bytes when its MP3 goes: the FETCH of
        // the old UID fails, and the snapshot shows the new UID.
        let copy = meta(&hub, &copies, copy_uid).unwrap();
        let attachments = hub.graph.list_attachments(&copy.id).await.unwrap();
        let mp3 = attachments
            .iter()
            .find(|a| a.name == "msg0001.mp3")
            .unwrap();
        hub.graph
            .delete_attachment(&copy.id, &mp3.id)
            .await
            .unwrap();
        assert!(rebuilt_body(&hub, &copies, copy_uid).await.is_err());
        let shown = hub.latest_snapshot(&copies).unwrap();
        let uids: Vec<u32> = shown.messages.iter().map(|m| m.uid).collect();
        assert_eq!(uids.len(), 1);
        assert!(uids[0] > copy_uid, "{uids:?}");
        let body = rebuilt_body(&hub, &copies, uids[0]).await.unwrap();
        assert_ne!(body, literal);

        // Records go with their messages: expunged for good through the gateway, or deleted in
        // Outlook.
        let record_of = |id: Arc<str>| {
            let hub = hub.clone();
            async move {
                hub.store
                    .exact_records(hub.mailbox().as_str(), vec![id.to_string()])
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(record_of(copy.id.clone()).await, 1);
        let expunged = hub
            .expunge(
                &copies,
                std::slice::from_ref(&copy.id),
                crate::config::ExpungeMode::Hard,
            )
            .await;
        assert!(expunged[0].is_ok());
        assert_eq!(record_of(copy.id.clone()).await, 0);
        assert_eq!(record_of(appended.id.clone()).await, 1);
        hub.graph
            .message_actions(
                &[&appended.id],
                &crate::graph::mutate::MessageAction::PermanentDelete,
            )
            .await
            .unwrap();
        hub.invalidate(&inbox);
        let snapshot = hub.fresh_snapshot(&inbox, Duration::ZERO).await.unwrap();
        assert!(snapshot.messages.is_empty());
        assert_eq!(record_of(appended.id.clone()).await, 0);
    }

    /// Two instances on one uid store: the second rebuilds the same bytes; when the MP3 goes,
    /// whichever instance notices first gives the message its new UID, and the other shows
    /// the old UID expunged and the new one, never Graph's bytes under the old UID.
    #[tokio::test]
    async fn two_instances_agree_on_the_bytes_and_on_the_new_uid() {
        let (_emulator, address) = emulator().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("uids.sqlite");
        let a = hub_of(address, UidStore::open_sqlite(&path).unwrap()).await;
        let b = hub_of(address, UidStore::open_sqlite(&path).unwrap()).await;
        let inbox = folder(&a, "Shared").await;
        let literal = crate::exact::tests::voice_message(300_000);
        let (_, uid) = a
            .append(&inbox, &literal, &MessageFlags::default(), None)
            .await
            .unwrap();
        b.invalidate(&inbox);
        let shown = b.fresh_snapshot(&inbox, Duration::ZERO).await.unwrap();
        assert_eq!(
            shown.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [uid]
        );
        let on_b = shown.messages[0].clone();
        assert_eq!(
            b.bodies(&inbox, &[&on_b]).await.remove(0).unwrap(),
            literal,
            "the other instance rebuilds the appended bytes"
        );

        let attachments = a.graph.list_attachments(&on_b.id).await.unwrap();
        let mp3 = attachments
            .iter()
            .find(|x| x.name == "msg0001.mp3")
            .unwrap();
        a.graph.delete_attachment(&on_b.id, &mp3.id).await.unwrap();
        a.invalidate(&inbox);
        let on_a = a.fresh_snapshot(&inbox, Duration::ZERO).await.unwrap();
        let new_uid = on_a.messages[0].uid;
        assert!(new_uid > uid);

        // B still shows the old UID until its next round: its cached body is the appended
        // literal, and without it the FETCH fails rather than give Graph's bytes.
        assert_eq!(b.bodies(&inbox, &[&on_b]).await.remove(0).unwrap(), literal);
        b.bodies.invalidate(&on_b.id).await;
        assert!(b.bodies(&inbox, &[&on_b]).await.remove(0).is_err());
        b.invalidate(&inbox);
        let shown = b.fresh_snapshot(&inbox, Duration::ZERO).await.unwrap();
        assert_eq!(
            shown.messages.iter().map(|m| m.uid).collect::<Vec<_>>(),
            [new_uid]
        );
        let body = b
            .bodies(&inbox, &[&shown.messages[0]])
            .await
            .remove(0)
            .unwrap();
        assert_ne!(body, literal);
    }

    /// While an APPEND is under way (its record pending) a body is not given at all; a record
    /// pending for long (an instance that stopped half-way) no longer holds.
    #[tokio::test]
    async fn a_pending_record_holds_back_the_body_for_a_while() {
        let (hub, _emulator, _dir) = demo_hub().await;
        let inbox = folder(&hub, "Pending").await;
        let literal = b"Subject: pending\r\nMessage-ID: <p@example.net>\r\n\r\nbody\r\n";
        let (_, uid) = hub
            .append(&inbox, literal, &MessageFlags::default(), None)
            .await
            .unwrap();
        let message = meta(&hub, &inbox, uid).unwrap();
        let mailbox = hub.mailbox().as_str().to_string();
        let now = chrono::Utc::now().timestamp();
        hub.store
            .put_exact(&mailbox, &message.id, &StoredExact::Pending { since: now })
            .await
            .unwrap();
        assert!(rebuilt_body(&hub, &inbox, uid).await.is_err());
        hub.store
            .put_exact(
                &mailbox,
                &message.id,
                &StoredExact::Pending {
                    since: now - 2 * PENDING_FOR,
                },
            )
            .await
            .unwrap();
        let body = rebuilt_body(&hub, &inbox, uid).await.unwrap();
        assert_ne!(&body[..], &literal[..], "Graph's own MIME");
    }
}
