//! Owns what a simulated subscriber does: log in, select the folder, then repeat its workload
//! until the deadline (closed loop, or started at a fixed rate), reconnecting after a lost
//! connection, and at the end delete what it appended and log out.
//!
//! - `um`, the unified-messaging server's: deposit a voice message (APPEND of a MIME message
//!   with `Content-Class: voice` and an MP3 attachment), wait for the message-waiting change
//!   (NOOP, or IDLE), STATUS (MESSAGES UNSEEN) for the lamp, find the message and play it (its
//!   attachment section), mark it \Seen, delete it and EXPUNGE.
//! - `mixed`, a general client: LIST, SELECT/EXAMINE, FETCH of flags, envelopes and bodies,
//!   SEARCH, STORE, COPY, APPEND, EXPUNGE, NOOP, STATUS in random proportions.
//!
//! A session changes only messages it appended itself (their flags, their deletion), so what
//! it checks about them holds whatever the other sessions on the mailbox do; everything it is
//! sent goes through the consistency checks (consistency.rs).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::time::Instant;

use super::client::{quoted, Answer, Client, ClientError, Target, Untagged, Value};
use super::consistency::{self, fetch_item, kind, Discrepancies, Registry, View};
use super::report::{Failure, Live, Stats, CONNECT};
use crate::secret::Secret;

/// Which workload the sessions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// The unified-messaging server's: deposit, wait, STATUS, play, mark seen, delete.
    Um,
    /// A general client mix.
    Mixed,
}

/// How a `um` session waits for the message-waiting change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UmWait {
    /// Poll with NOOP.
    Noop,
    /// IDLE until a change or `--idle-ms`.
    Idle,
}

/// The run's settings every session reads.
pub struct Settings {
    pub workload: Workload,
    pub folder: String,
    pub mp3_bytes: usize,
    pub um_wait: UmWait,
    pub idle_wait: Duration,
    /// Time between the starts of one session's workload rounds, or None for closed loop.
    pub round_interval: Option<Duration>,
    /// Distinguishes this run's Message-IDs from earlier runs'.
    pub run_id: String,
}

/// What every session shares.
pub struct Shared {
    pub target: Target,
    pub settings: Settings,
    pub registry: Registry,
    pub found: Discrepancies,
    pub live: Live,
    pub deadline: Instant,
}

/// A message this session appended (or copied) and may change.
#[derive(Clone)]
struct Owned {
    uid: u32,
    message_id: String,
    size: u64,
}

/// One simulated subscriber.
pub struct Subscriber {
    shared: Arc<Shared>,
    index: usize,
    user: String,
    password: Secret,
    stats: Stats,
    rng: fastrand::Rng,
    appended: u64,
    /// The connection and the selected folder as this session knows it.
    client: Option<Client>,
    view: Option<View>,
    owned: Vec<Owned>,
    uidplus: bool,
}

/// A dropped connection ends the round; the subscriber reconnects.
type Step<T> = Result<T, ClientError>;

impl Subscriber {
    pub fn new(shared: Arc<Shared>, index: usize, user: String, password: Secret) -> Subscriber {
        Subscriber {
            rng: fastrand::Rng::with_seed(index as u64 ^ 0x5eed),
            shared,
            index,
            user,
            password,
            stats: Stats::default(),
            appended: 0,
            client: None,
            view: None,
            owned: Vec::new(),
            uidplus: false,
        }
    }

    /// Runs until the deadline; returns this session's figures.
    pub async fn run(mut self) -> Stats {
        let deadline = self.shared.deadline;
        let mut next_round = Instant::now();
        while Instant::now() < deadline {
            if self.client.is_none() {
                match self.open().await {
                    Ok(true) => {}
                    Ok(false) | Err(_) => {
                        self.client = None;
                        // Refused or unreachable: try again a little later, not in a hot loop.
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        continue;
                    }
                }
            }
            if let Some(interval) = self.shared.settings.round_interval {
                tokio::time::sleep_until(next_round.min(deadline)).await;
                next_round = next_round.max(Instant::now() - interval) + interval;
                if Instant::now() >= deadline {
                    break;
                }
            }
            let round = match self.shared.settings.workload {
                Workload::Um => self.um_round().await,
                Workload::Mixed => self.mixed_round().await,
            };
            if round.is_err() {
                self.client = None;
                self.view = None;
            }
        }
        let _ = self.close().await;
        self.stats
    }

    /// Connects, logs in, selects the folder. Ok(false) when the server refused a step.
    async fn open(&mut self) -> Step<bool> {
        let started = std::time::Instant::now();
        match Client::connect(&self.shared.target).await {
            Ok(client) => {
                self.stats
                    .record(CONNECT, started.elapsed(), None, &self.shared.live);
                self.client = Some(client);
            }
            Err(err) => {
                let failure = self.failure(err.kind().to_string(), err.to_string());
                self.stats
                    .record(CONNECT, started.elapsed(), Some(failure), &self.shared.live);
                return Err(err);
            }
        }
        let (Some(user), Some(password)) = (quoted(&self.user), quoted(self.password.expose()))
        else {
            let failure = self.failure(
                "not quotable".into(),
                "the user name or password holds CR, LF, NUL or 8-bit characters".into(),
            );
            self.stats
                .record("LOGIN", Duration::ZERO, Some(failure), &self.shared.live);
            return Ok(false);
        };
        if !self
            .exec("LOGIN", &format!("LOGIN {user} {password}"))
            .await?
            .ok()
        {
            return Ok(false);
        }
        let client = self.client.as_ref().expect("connected");
        if client.capabilities.is_empty() || !client.has_capability("IMAP4rev1") {
            self.exec("CAPABILITY", "CAPABILITY").await?;
        }
        self.uidplus = self
            .client
            .as_ref()
            .is_some_and(|c| c.has_capability("UIDPLUS"));
        self.select("SELECT").await
    }

    /// SELECT (or EXAMINE) the folder and start this session's view of it afresh.
    async fn select(&mut self, verb: &'static str) -> Step<bool> {
        self.view = None;
        let folder = self.shared.settings.folder.clone();
        let answer = self
            .exec(verb, &format!("{verb} {}", folder_argument(&folder)))
            .await?;
        if !answer.ok() {
            return Ok(false);
        }
        let validity = answer
            .untagged
            .iter()
            .find_map(|u| match u {
                Untagged::Code(words) if words.first().is_some_and(|w| w == "UIDVALIDITY") => {
                    words.get(1).and_then(|v| v.parse().ok())
                }
                _ => None,
            })
            .unwrap_or(0);
        let mut view = View::new((self.user.clone(), folder, validity), 0);
        view.apply(&answer.untagged, &self.shared.registry, &self.shared.found);
        self.view = Some(view);
        Ok(true)
    }

    async fn close(&mut self) -> Step<()> {
        if self.client.is_none() {
            return Ok(());
        }
        if !self.owned.is_empty() && self.view.as_ref().is_some_and(|_| true) {
            let uids: Vec<u32> = self.owned.iter().map(|o| o.uid).collect();
            self.delete(&uids).await?;
        }
        self.exec("LOGOUT", "LOGOUT").await.map(|_| ())
    }

    // -----------------------------------------------------------------------------------------
    // Commands, timed, counted and checked.

    async fn exec(&mut self, name: &'static str, command: &str) -> Step<Answer> {
        let client = self.client.as_mut().ok_or(ClientError::Closed)?;
        let started = std::time::Instant::now();
        let result = client.command(command).await;
        self.finish(name, started, result)
    }

    async fn run_literal(
        &mut self,
        name: &'static str,
        before: &str,
        literal: &[u8],
    ) -> Step<Answer> {
        let client = self.client.as_mut().ok_or(ClientError::Closed)?;
        let started = std::time::Instant::now();
        let result = client.command_with_literal(before, literal, "").await;
        self.finish(name, started, result)
    }

    async fn run_idle(&mut self) -> Step<Answer> {
        let wait = self.shared.settings.idle_wait;
        let client = self.client.as_mut().ok_or(ClientError::Closed)?;
        let started = std::time::Instant::now();
        let result = client.idle(wait).await;
        self.finish("IDLE", started, result)
    }

    fn finish(
        &mut self,
        name: &'static str,
        started: std::time::Instant,
        result: Step<Answer>,
    ) -> Step<Answer> {
        let took = started.elapsed();
        match &result {
            Ok(answer) => {
                let failure = answer
                    .failed()
                    .then(|| self.failure(answer.failure_kind(), answer.text.clone()));
                self.stats.record(name, took, failure, &self.shared.live);
                if let Some(view) = self.view.as_mut() {
                    view.apply(&answer.untagged, &self.shared.registry, &self.shared.found);
                }
            }
            Err(err) => {
                let failure = self.failure(err.kind().to_string(), err.to_string());
                self.stats
                    .record(name, took, Some(failure), &self.shared.live);
            }
        }
        result
    }

    /// A failure to count; should the server echo the password, it is blotted out.
    fn failure(&self, kind: String, detail: String) -> Failure {
        let secret = self.password.expose();
        let detail = if secret.is_empty() {
            detail
        } else {
            detail.replace(secret, "***")
        };
        Failure { kind, detail }
    }

    fn found(&self) -> &Discrepancies {
        &self.shared.found
    }

    fn folder_key(&self) -> Option<consistency::FolderKey> {
        self.view.as_ref().map(|v| v.folder.clone())
    }

    // -----------------------------------------------------------------------------------------
    // Steps both workloads use.

    /// APPENDs `message` and learns its UID (APPENDUID, else a SEARCH by Message-ID); the UID
    /// is recorded as that Message-ID's and owned by this session.
    async fn append(&mut self, message: &[u8], message_id: &str) -> Step<Option<u32>> {
        let folder = folder_argument(&self.shared.settings.folder);
        let answer = self
            .run_literal("APPEND", &format!("APPEND {folder}"), message)
            .await?;
        if !answer.ok() {
            return Ok(None);
        }
        let Some(mut key) = self.folder_key() else {
            return Ok(None);
        };
        let from_code = (answer.code.first().map(String::as_str) == Some("APPENDUID"))
            .then(|| {
                let validity = answer.code.get(1)?.parse().ok()?;
                let uid = answer.code.get(2)?.parse().ok()?;
                Some((validity, uid))
            })
            .flatten();
        let uid = match from_code {
            Some((validity, uid)) => {
                key.2 = validity;
                Some(uid)
            }
            None => {
                let answer = self
                    .exec(
                        "UID SEARCH",
                        &format!(
                            "UID SEARCH HEADER Message-ID {}",
                            quoted_or_atom(message_id)
                        ),
                    )
                    .await?;
                answer.untagged.iter().find_map(|u| match u {
                    Untagged::Search(uids) => uids.last().copied(),
                    _ => None,
                })
            }
        };
        let Some(uid) = uid else {
            self.found().record(kind::APPENDED_MISSING, || {
                format!("{message_id}: appended, but no UID found for it")
            });
            return Ok(None);
        };
        self.shared.registry.appended(
            &key,
            uid,
            message_id,
            Some(message.len() as u64),
            &self.shared.found,
        );
        self.owned.push(Owned {
            uid,
            message_id: message_id.to_string(),
            size: message.len() as u64,
        });
        Ok(Some(uid))
    }

    /// UID FETCH of `items` for `uid`: the FETCH that answered for it, if any.
    async fn fetch_uid(
        &mut self,
        name: &'static str,
        uid: u32,
        items: &str,
    ) -> Step<Option<Vec<(String, Value)>>> {
        let answer = self
            .exec(name, &format!("UID FETCH {uid} (UID {items})"))
            .await?;
        if !answer.ok() {
            return Ok(None);
        }
        let found = answer.untagged.into_iter().find_map(|u| match u {
            Untagged::Fetch(_, items)
                if fetch_item(&items, "UID").and_then(Value::number) == Some(u64::from(uid)) =>
            {
                Some(items)
            }
            _ => None,
        });
        if found.is_none() {
            self.found().record(kind::APPENDED_MISSING, || {
                format!("UID FETCH {uid}: no FETCH for an appended message")
            });
        }
        Ok(found)
    }

    /// `UID STORE uid ±FLAGS (flag)`, then checks the flags the server reported (or, when it
    /// reported none, asks for them).
    async fn store(&mut self, uid: u32, add: bool, flag: &str) -> Step<()> {
        let sign = if add { '+' } else { '-' };
        let answer = self
            .exec(
                "UID STORE",
                &format!("UID STORE {uid} {sign}FLAGS ({flag})"),
            )
            .await?;
        if !answer.ok() {
            return Ok(());
        }
        let seq = self.view.as_ref().and_then(|v| v.seq_of(uid));
        let reported = answer.untagged.iter().find_map(|u| match u {
            Untagged::Fetch(n, items)
                if fetch_item(items, "UID").and_then(Value::number) == Some(u64::from(uid))
                    || (Some(*n) == seq && fetch_item(items, "UID").is_none()) =>
            {
                fetch_item(items, "FLAGS").map(Value::atoms)
            }
            _ => None,
        });
        let flags = match reported {
            Some(flags) => flags,
            None => match self.fetch_uid("UID FETCH", uid, "FLAGS").await? {
                Some(items) => fetch_item(&items, "FLAGS")
                    .map(Value::atoms)
                    .unwrap_or_default(),
                None => return Ok(()),
            },
        };
        let has = flags.iter().any(|f| f.eq_ignore_ascii_case(flag));
        if has != add {
            self.found().record(kind::FLAGS_AFTER_STORE, || {
                format!(
                    "UID {uid}: {sign}FLAGS ({flag}) answered FLAGS ({})",
                    flags.join(" ")
                )
            });
        }
        Ok(())
    }

    /// Marks `uids` \Deleted, EXPUNGEs, and checks none of them is still there.
    async fn delete(&mut self, uids: &[u32]) -> Step<()> {
        let set = uid_set(uids);
        let answer = self
            .exec(
                "UID STORE",
                &format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"),
            )
            .await?;
        if !answer.ok() {
            return Ok(());
        }
        let answer = self.exec("EXPUNGE", "EXPUNGE").await?;
        if answer.ok() {
            if let Some(view) = &self.view {
                if let Some(&left) = uids.iter().find(|&&uid| view.seq_of(uid).is_some()) {
                    self.found().record(kind::EXPUNGED_STILL_PRESENT, || {
                        format!("UID {left} still known after EXPUNGE")
                    });
                }
            }
            self.owned.retain(|o| !uids.contains(&o.uid));
        }
        Ok(())
    }

    fn next_message_id(&mut self) -> String {
        self.appended += 1;
        format!(
            "<{}.{}.{}@loadtest.imap2graph.invalid>",
            self.shared.settings.run_id, self.index, self.appended
        )
    }

    // -----------------------------------------------------------------------------------------
    // The workloads.

    async fn um_round(&mut self) -> Step<()> {
        let message_id = self.next_message_id();
        let (message, audio) = voice_message(
            &message_id,
            &self.user,
            self.shared.settings.mp3_bytes,
            &mut self.rng,
        );
        let uid = self.append(&message, &message_id).await?;
        match self.shared.settings.um_wait {
            UmWait::Noop => self.exec("NOOP", "NOOP").await?,
            UmWait::Idle => self.run_idle().await?,
        };
        let folder = folder_argument(&self.shared.settings.folder);
        self.exec("STATUS", &format!("STATUS {folder} (MESSAGES UNSEEN)"))
            .await?;
        let Some(uid) = uid else {
            return Ok(());
        };
        self.fetch_uid(
            "UID FETCH",
            uid,
            "FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
        )
        .await?;
        if let Some(items) = self.fetch_uid("UID FETCH", uid, "BODY.PEEK[2]").await? {
            let played = fetch_item(&items, "BODY[2]").and_then(Value::bytes);
            if played != Some(audio.as_slice()) {
                self.found().record(kind::SECTION_BYTES, || {
                    format!(
                        "UID {uid}: BODY[2] is {} octets, the attachment appended {}",
                        played.map_or(0, <[u8]>::len),
                        audio.len()
                    )
                });
            }
        }
        self.store(uid, true, "\\Seen").await?;
        self.delete(&[uid]).await
    }

    async fn mixed_round(&mut self) -> Step<()> {
        if self.owned.len() >= 6 {
            let uids: Vec<u32> = self.owned.iter().take(4).map(|o| o.uid).collect();
            return self.delete(&uids).await;
        }
        let exists = self.view.as_ref().map_or(0, View::exists);
        let folder = folder_argument(&self.shared.settings.folder);
        let roll = self.rng.u32(0..100);
        match roll {
            0..10 => drop(self.exec("NOOP", "NOOP").await?),
            10..15 => drop(self.exec("LIST", "LIST \"\" \"*\"").await?),
            15..20 => drop(
                self.exec(
                    "STATUS",
                    &format!("STATUS {folder} (MESSAGES UIDNEXT UNSEEN)"),
                )
                .await?,
            ),
            20..23 => drop(self.select("SELECT").await?),
            23..25 => {
                self.select("EXAMINE").await?;
                self.select("SELECT").await?;
            }
            25..50 if exists > 0 => {
                let (first, items) = match roll {
                    25..40 => (self.rng.u32(1..=exists), "(UID FLAGS RFC822.SIZE)"),
                    40..45 => (
                        self.rng.u32(1..=exists),
                        "(UID ENVELOPE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])",
                    ),
                    _ => (self.rng.u32(1..=exists), "(UID RFC822.SIZE BODY.PEEK[])"),
                };
                let last = if roll < 40 {
                    (first + 9).min(exists)
                } else {
                    first
                };
                self.exec("FETCH", &format!("FETCH {first}:{last} {items}"))
                    .await?;
            }
            50..58 => {
                let answer = if roll % 2 == 0 {
                    self.exec("UID SEARCH", "UID SEARCH UNSEEN").await?
                } else {
                    let answer = self.exec("SEARCH", "SEARCH FLAGGED").await?;
                    if let (Some(view), true) = (&self.view, answer.ok()) {
                        for untagged in &answer.untagged {
                            if let Untagged::Search(numbers) = untagged {
                                view.check_search(numbers, &self.shared.found);
                            }
                        }
                    }
                    answer
                };
                drop(answer);
            }
            58..72 => {
                let message_id = self.next_message_id();
                let message = text_message(&message_id, &self.user, &mut self.rng);
                if let Some(uid) = self.append(&message, &message_id).await? {
                    self.fetch_uid(
                        "UID FETCH",
                        uid,
                        "FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
                    )
                    .await?;
                }
            }
            72..86 if !self.owned.is_empty() => {
                let uid = self.owned[self.rng.usize(..self.owned.len())].uid;
                let add = self.rng.bool();
                self.store(uid, add, "\\Flagged").await?;
            }
            86..92 if !self.owned.is_empty() && self.uidplus => {
                let original = self.owned[self.rng.usize(..self.owned.len())].clone();
                self.copy(&original).await?;
            }
            92..100 if !self.owned.is_empty() => {
                let uid = self.owned[0].uid;
                self.delete(&[uid]).await?;
            }
            _ => drop(self.exec("NOOP", "NOOP").await?),
        }
        Ok(())
    }

    /// COPY of an owned message into the same folder: the copy (COPYUID) is a new UID with the
    /// same Message-ID and size, owned too.
    async fn copy(&mut self, original: &Owned) -> Step<()> {
        let folder = folder_argument(&self.shared.settings.folder);
        let answer = self
            .exec("UID COPY", &format!("UID COPY {} {folder}", original.uid))
            .await?;
        if !answer.ok() || answer.code.first().map(String::as_str) != Some("COPYUID") {
            return Ok(());
        }
        let (Some(validity), Some(uid)) = (
            answer.code.get(1).and_then(|v| v.parse::<u32>().ok()),
            answer.code.get(3).and_then(|v| v.parse::<u32>().ok()),
        ) else {
            return Ok(());
        };
        let Some(mut key) = self.folder_key() else {
            return Ok(());
        };
        key.2 = validity;
        self.shared.registry.appended(
            &key,
            uid,
            &original.message_id,
            Some(original.size),
            &self.shared.found,
        );
        self.owned.push(Owned {
            uid,
            message_id: original.message_id.clone(),
            size: original.size,
        });
        self.fetch_uid(
            "UID FETCH",
            uid,
            "FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]",
        )
        .await?;
        Ok(())
    }
}

/// A folder name as a command argument.
fn folder_argument(folder: &str) -> String {
    quoted(folder).unwrap_or_else(|| folder.to_string())
}

fn quoted_or_atom(text: &str) -> String {
    quoted(text).unwrap_or_else(|| text.to_string())
}

/// `1,5,9` for a UID set.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// A voice message as a unified-messaging server deposits it: `Content-Class: voice`, a short
/// text part and an MP3 attachment of `mp3_bytes` (an MPEG audio frame header, then noise),
/// base64 in 76-column lines. Returns the message and the attachment's section text as
/// BODY[2] must give it back.
pub fn voice_message(
    message_id: &str,
    to: &str,
    mp3_bytes: usize,
    rng: &mut fastrand::Rng,
) -> (Vec<u8>, Vec<u8>) {
    let mut audio = vec![0xFF, 0xFB, 0x90, 0x64];
    audio.extend((4..mp3_bytes.max(4)).map(|_| rng.u8(..)));
    audio.truncate(mp3_bytes.max(4));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&audio);
    let section = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n");
    let caller = rng.u32(1000..10000);
    let seconds = mp3_bytes / 4000 + 1;
    let message = format!(
        "From: \"+1 555 010 {caller}\" <caller-{caller}@loadtest.imap2graph.invalid>\r\n\
         To: <{to}>\r\n\
         Subject: Voice message from +1 555 010 {caller} ({seconds} s)\r\n\
         Date: {date}\r\n\
         Message-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Class: voice\r\n\
         X-CallingTelephoneNumber: +1555010{caller}\r\n\
         X-VoiceMessageDuration: {seconds}\r\n\
         Content-Type: multipart/mixed; boundary=\"voice-boundary\"\r\n\
         \r\n\
         --voice-boundary\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         You received a voice message from +1 555 010 {caller}.\r\n\
         --voice-boundary\r\n\
         Content-Type: audio/mpeg; name=\"voicemessage.mp3\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"voicemessage.mp3\"\r\n\
         \r\n\
         {section}\r\n\
         --voice-boundary--\r\n",
        date = chrono::Utc::now().to_rfc2822(),
    );
    (message.into_bytes(), section.into_bytes())
}

/// A plain-text message of a few hundred octets to a few kilobytes.
pub fn text_message(message_id: &str, to: &str, rng: &mut fastrand::Rng) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "meeting", "report", "quarter", "lunch", "review", "budget", "draft", "call", "team",
        "plan", "update", "notes",
    ];
    let lines: Vec<String> = (0..rng.usize(5..60))
        .map(|_| {
            (0..10)
                .map(|_| WORDS[rng.usize(..WORDS.len())])
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    format!(
        "From: Load Test <sender@loadtest.imap2graph.invalid>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: {message_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         {body}\r\n",
        subject = lines[0].split(' ').take(4).collect::<Vec<_>>().join(" "),
        date = chrono::Utc::now().to_rfc2822(),
        body = lines.join("\r\n"),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_voice_message_carries_its_attachment_as_section_two() {
        let mut rng = fastrand::Rng::with_seed(1);
        let (message, section) = voice_message("<v@x>", "u@x", 1000, &mut rng);
        let text = String::from_utf8(message.clone()).unwrap();
        assert!(text.contains("Content-Class: voice\r\n"));
        assert!(text.contains(&format!(
            "\r\n\r\n{}\r\n--voice-boundary--\r\n",
            String::from_utf8(section.clone()).unwrap()
        )));
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(
                section
                    .iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .copied()
                    .collect::<Vec<u8>>(),
            )
            .unwrap();
        assert_eq!(decoded.len(), 1000);
        assert_eq!(&decoded[..2], &[0xFF, 0xFB]);
        assert_eq!(
            consistency::header_message_id(&message).as_deref(),
            Some("<v@x>")
        );
        assert!(section.split(|&b| b == b'\n').all(|line| line.len() <= 77));
    }
}
