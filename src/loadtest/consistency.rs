//! Owns the load test's consistency checks: what each session may conclude from what it was
//! sent, and nothing more, since several sessions share a mailbox. Per session, the folder as
//! that session knows it — its message count from EXISTS and EXPUNGE, and the UID at each
//! sequence number it learnt — against which every FETCH and EXPUNGE is checked (RFC 3501 2.3.1.2,
//! 7.4.1: numbers only change through responses the session was sent; UIDs ascend with them).
//! Across sessions, what each UID of a folder (with its UIDVALIDITY) was first seen as — its
//! Message-ID and RFC822.SIZE — which never changes (RFC 3501 2.3.1.1), and what the load test
//! appended under it (APPENDUID, RFC 4315). Each discrepancy is counted by kind, and the first
//! few are kept as examples.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::client::{Untagged, Value};

/// The kinds of discrepancy, each a bounded name for reports.
pub mod kind {
    /// A UID came back with another Message-ID than it had (or than was appended under it).
    pub const UID_MESSAGE_ID: &str = "uid_message_id";
    /// An appended message's RFC822.SIZE is not the length of what was appended.
    pub const APPEND_SIZE: &str = "append_size";
    /// A UID's RFC822.SIZE changed between two looks.
    pub const SIZE_CHANGED: &str = "size_changed";
    /// BODY[] of a message is not RFC822.SIZE octets long.
    pub const SIZE_VS_BODY: &str = "size_vs_body";
    /// A section of an appended message (the voice attachment) is not what was appended.
    pub const SECTION_BYTES: &str = "section_bytes";
    /// The UID APPENDUID named does not come back at all.
    pub const APPENDED_MISSING: &str = "appended_missing";
    /// After STORE, the message's flags lack what was added or keep what was removed.
    pub const FLAGS_AFTER_STORE: &str = "flags_after_store";
    /// A FETCH, EXPUNGE or SEARCH names a sequence number beyond the session's message count.
    pub const SEQ_BEYOND_EXISTS: &str = "seq_beyond_exists";
    /// A sequence number's UID disagrees with what the session knew, or UIDs do not ascend.
    pub const UID_SEQ_MISMATCH: &str = "uid_seq_mismatch";
    /// EXISTS announced fewer messages than the session knew without EXPUNGE.
    pub const EXISTS_SHRANK: &str = "exists_shrank";
    /// A message this session marked \Deleted is still there after its EXPUNGE.
    pub const EXPUNGED_STILL_PRESENT: &str = "expunged_still_present";
}

/// How many examples of each kind are kept.
const EXAMPLES_PER_KIND: usize = 3;

/// The discrepancies of a run, shared by all sessions.
#[derive(Default)]
pub struct Discrepancies {
    total: AtomicU64,
    by_kind: Mutex<BTreeMap<&'static str, (u64, Vec<String>)>>,
}

impl Discrepancies {
    pub fn record(&self, kind: &'static str, example: impl FnOnce() -> String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        let mut by_kind = self.by_kind.lock().unwrap_or_else(|e| e.into_inner());
        let entry = by_kind.entry(kind).or_default();
        entry.0 += 1;
        if entry.1.len() < EXAMPLES_PER_KIND {
            entry.1.push(example());
        }
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Kind → (count, examples).
    pub fn by_kind(&self) -> BTreeMap<&'static str, (u64, Vec<String>)> {
        self.by_kind
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A folder as the server names it: the login, the folder name, its UIDVALIDITY.
pub type FolderKey = (String, String, u32);

/// What a UID is known as.
#[derive(Default, Clone)]
struct Known {
    message_id: Option<String>,
    size: Option<u64>,
    /// Set when the load test appended it: the appended length.
    appended_size: Option<u64>,
}

/// Every UID seen, across sessions.
#[derive(Default)]
pub struct Registry {
    uids: Mutex<HashMap<(FolderKey, u32), Known>>,
}

impl Registry {
    /// Records what the load test appended under `uid` (from APPENDUID or COPYUID); a UID
    /// already seen as another message is a discrepancy (one UID is one message).
    pub fn appended(
        &self,
        folder: &FolderKey,
        uid: u32,
        message_id: &str,
        size: Option<u64>,
        discrepancies: &Discrepancies,
    ) {
        let mut uids = self.uids.lock().unwrap_or_else(|e| e.into_inner());
        let known = uids.entry((folder.clone(), uid)).or_default();
        if let Some(had) = known.message_id.as_deref().filter(|had| *had != message_id) {
            discrepancies.record(kind::UID_MESSAGE_ID, || {
                format!(
                    "{} UID {uid}: given to {message_id}, earlier {had}",
                    folder.1
                )
            });
        }
        known.message_id = Some(message_id.to_string());
        known.appended_size = size;
        if let (Some(seen), Some(appended)) = (known.size, size) {
            if seen != appended {
                discrepancies.record(kind::APPEND_SIZE, || {
                    format!(
                        "{} UID {uid}: RFC822.SIZE {seen}, appended {appended} octets",
                        folder.1
                    )
                });
                known.appended_size = None;
            }
        }
    }

    /// Checks one look at `uid` against earlier ones, and remembers what was new.
    fn observe(
        &self,
        folder: &FolderKey,
        uid: u32,
        message_id: Option<&str>,
        size: Option<u64>,
        discrepancies: &Discrepancies,
    ) {
        let mut uids = self.uids.lock().unwrap_or_else(|e| e.into_inner());
        let known = uids.entry((folder.clone(), uid)).or_default();
        if let Some(seen) = message_id {
            match &known.message_id {
                Some(had) if had != seen => discrepancies.record(kind::UID_MESSAGE_ID, || {
                    format!("{} UID {uid}: Message-ID {seen}, earlier {had}", folder.1)
                }),
                Some(_) => {}
                None => known.message_id = Some(seen.to_string()),
            }
        }
        if let Some(size) = size {
            if let Some(appended) = known.appended_size {
                if appended != size {
                    discrepancies.record(kind::APPEND_SIZE, || {
                        format!(
                            "{} UID {uid}: RFC822.SIZE {size}, appended {appended} octets",
                            folder.1
                        )
                    });
                    // Counted once per message, not at every look.
                    known.appended_size = None;
                }
            }
            match known.size {
                Some(had) if had != size => discrepancies.record(kind::SIZE_CHANGED, || {
                    format!("{} UID {uid}: RFC822.SIZE {size}, earlier {had}", folder.1)
                }),
                Some(_) => {}
                None => known.size = Some(size),
            }
        }
    }
}

/// A folder as one session knows it.
pub struct View {
    pub folder: FolderKey,
    /// The UID at each sequence number, where the session learnt it.
    uids: Vec<Option<u32>>,
}

impl View {
    pub fn new(folder: FolderKey, exists: u32) -> View {
        View {
            folder,
            uids: vec![None; exists as usize],
        }
    }

    pub fn exists(&self) -> u32 {
        self.uids.len() as u32
    }

    /// The sequence number the session knows `uid` at.
    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        self.uids
            .iter()
            .position(|known| *known == Some(uid))
            .map(|index| index as u32 + 1)
    }

    /// Applies the untagged responses of one command in order, checking each.
    pub fn apply(&mut self, responses: &[Untagged], registry: &Registry, found: &Discrepancies) {
        for response in responses {
            match response {
                Untagged::Exists(count) => {
                    let count = *count as usize;
                    if count < self.uids.len() {
                        found.record(kind::EXISTS_SHRANK, || {
                            format!(
                                "{}: {count} EXISTS, {} known",
                                self.folder.1,
                                self.uids.len()
                            )
                        });
                        self.uids.truncate(count);
                    } else {
                        self.uids.resize(count, None);
                    }
                }
                Untagged::Expunge(seq) => {
                    let seq = *seq as usize;
                    if seq == 0 || seq > self.uids.len() {
                        found.record(kind::SEQ_BEYOND_EXISTS, || {
                            format!(
                                "{}: {seq} EXPUNGE with {} known",
                                self.folder.1,
                                self.uids.len()
                            )
                        });
                    } else {
                        self.uids.remove(seq - 1);
                    }
                }
                Untagged::Fetch(seq, items) => self.fetched(*seq, items, registry, found),
                _ => {}
            }
        }
    }

    /// Sequence numbers a SEARCH answered must be ones the session knows.
    pub fn check_search(&self, numbers: &[u32], found: &Discrepancies) {
        if let Some(&beyond) = numbers.iter().find(|&&n| n == 0 || n > self.exists()) {
            found.record(kind::SEQ_BEYOND_EXISTS, || {
                format!(
                    "{}: SEARCH found {beyond} with {} known",
                    self.folder.1,
                    self.exists()
                )
            });
        }
    }

    fn fetched(
        &mut self,
        seq: u32,
        items: &[(String, Value)],
        registry: &Registry,
        found: &Discrepancies,
    ) {
        let index = seq as usize;
        if index == 0 || index > self.uids.len() {
            found.record(kind::SEQ_BEYOND_EXISTS, || {
                format!(
                    "{}: FETCH of {seq} with {} known",
                    self.folder.1,
                    self.uids.len()
                )
            });
            return;
        }
        let Some(uid) = fetch_item(items, "UID")
            .and_then(Value::number)
            .and_then(|n| u32::try_from(n).ok())
        else {
            return;
        };
        match self.uids[index - 1] {
            Some(had) if had != uid => {
                found.record(kind::UID_SEQ_MISMATCH, || {
                    format!(
                        "{}: {seq} FETCH UID {uid}, known as UID {had}",
                        self.folder.1
                    )
                });
                self.uids[index - 1] = Some(uid);
            }
            Some(_) => {}
            None => {
                let below = self.uids[..index - 1].iter().rev().find_map(|u| *u);
                let above = self.uids[index..].iter().find_map(|u| *u);
                if below.is_some_and(|b| b >= uid) || above.is_some_and(|a| a <= uid) {
                    found.record(kind::UID_SEQ_MISMATCH, || {
                        format!(
                            "{}: {seq} FETCH UID {uid} between UIDs {below:?} and {above:?}",
                            self.folder.1
                        )
                    });
                }
                self.uids[index - 1] = Some(uid);
            }
        }
        let size = fetch_item(items, "RFC822.SIZE").and_then(Value::number);
        let body = fetch_item(items, "BODY[]").and_then(Value::bytes);
        let header = items
            .iter()
            .find(|(name, _)| name.starts_with("BODY[HEADER"))
            .and_then(|(_, value)| value.bytes());
        // RFC 2180 4.1.3: a message another session expunged, not yet announced to this one,
        // may be served as empty (Dovecot gives RFC822.SIZE 0 and an empty body): nothing to
        // compare then.
        if size == Some(0) || body.is_some_and(<[u8]>::is_empty) {
            return;
        }
        let message_id = header.or(body).and_then(header_message_id);
        if let (Some(size), Some(body)) = (size, body) {
            if size != body.len() as u64 {
                found.record(kind::SIZE_VS_BODY, || {
                    format!(
                        "{} UID {uid}: RFC822.SIZE {size}, BODY[] {} octets",
                        self.folder.1,
                        body.len()
                    )
                });
            }
        }
        registry.observe(&self.folder, uid, message_id.as_deref(), size, found);
    }
}

/// The value of a FETCH item by name.
pub fn fetch_item<'a>(items: &'a [(String, Value)], name: &str) -> Option<&'a Value> {
    items.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

/// The Message-ID field of a header (or of a whole message), unfolded and trimmed.
pub fn header_message_id(message: &[u8]) -> Option<String> {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(message.len());
    let header = String::from_utf8_lossy(&message[..end]);
    let mut lines = header.split("\r\n").peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if !name.trim().eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
            value.push(' ');
            value.push_str(next.trim());
            lines.next();
        }
        return Some(value.trim().to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(seq: u32, uid: u32) -> Untagged {
        Untagged::Fetch(seq, vec![("UID".into(), Value::Atom(uid.to_string()))])
    }

    fn folder() -> FolderKey {
        ("user".into(), "INBOX".into(), 1)
    }

    #[test]
    fn sequence_numbers_follow_exists_and_expunge() {
        let (registry, found) = (Registry::default(), Discrepancies::default());
        let mut view = View::new(folder(), 3);
        view.apply(&[fetch(1, 10), fetch(3, 30)], &registry, &found);
        assert_eq!(found.total(), 0);
        view.apply(&[Untagged::Expunge(1), fetch(2, 30)], &registry, &found);
        assert_eq!(found.total(), 0, "{:?}", found.by_kind());
        view.apply(&[Untagged::Exists(3), fetch(3, 40)], &registry, &found);
        assert_eq!(found.total(), 0);
        // Beyond the count, a UID moved, UIDs out of order, EXISTS shrinking.
        view.apply(&[fetch(4, 50)], &registry, &found);
        view.apply(&[fetch(2, 31)], &registry, &found);
        view.apply(&[Untagged::Exists(4), fetch(4, 35)], &registry, &found);
        view.apply(&[Untagged::Exists(2)], &registry, &found);
        let kinds = found.by_kind();
        assert_eq!(kinds[kind::SEQ_BEYOND_EXISTS].0, 1);
        assert_eq!(kinds[kind::UID_SEQ_MISMATCH].0, 2);
        assert_eq!(kinds[kind::EXISTS_SHRANK].0, 1);
    }

    #[test]
    fn a_uid_keeps_its_message_id_and_size() {
        let (registry, found) = (Registry::default(), Discrepancies::default());
        registry.appended(&folder(), 7, "<a@x>", Some(100), &found);
        let mut view = View::new(folder(), 1);
        let look = |id: &str, size: u64| {
            Untagged::Fetch(
                1,
                vec![
                    ("UID".into(), Value::Atom("7".into())),
                    ("RFC822.SIZE".into(), Value::Atom(size.to_string())),
                    (
                        "BODY[HEADER.FIELDS (MESSAGE-ID)]".into(),
                        Value::Bytes(format!("Message-ID: {id}\r\n\r\n").into_bytes()),
                    ),
                ],
            )
        };
        view.apply(&[look("<a@x>", 100)], &registry, &found);
        assert_eq!(found.total(), 0);
        view.apply(&[look("<b@x>", 101)], &registry, &found);
        let kinds = found.by_kind();
        assert_eq!(kinds[kind::UID_MESSAGE_ID].0, 1);
        assert_eq!(kinds[kind::APPEND_SIZE].0, 1);
        assert_eq!(kinds[kind::SIZE_CHANGED].0, 1);
    }

    #[test]
    fn message_ids_unfold() {
        assert_eq!(
            header_message_id(b"Subject: x\r\nMESSAGE-ID:\r\n <a@b>\r\n\r\nbody").as_deref(),
            Some("<a@b>")
        );
        assert_eq!(header_message_id(b"Subject: x\r\n\r\n"), None);
    }
}
