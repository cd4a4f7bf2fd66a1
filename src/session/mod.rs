//! Owns one IMAP session's state machine (RFC 3501 3): not authenticated → authenticated →
//! selected → logout, the commands allowed in each state, and the responses they give. It asks
//! the mailbox hub for folders, messages and bodies, and writes responses into a
//! [`ResponseSink`]; it never sees a socket or a URL.

mod access;
mod fetch;
pub mod list;
mod mailboxes;
mod search;
pub mod sequence;
mod updates;
mod write;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imap_codec::imap_types::auth::AuthMechanism;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::{AString, Tag};
use imap_codec::imap_types::mailbox::{ListMailbox, Mailbox};
use imap_codec::imap_types::status::StatusDataItemName;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::graph::{AuthFailure, Credentials, GraphError};
use crate::hub::{Folder, FolderSnapshot, HubError, HubRegistry, MailboxHub, MessageMeta};
use crate::login::LoginName;
use crate::metrics::LoginThrottle;
use crate::secret::Secret;
use crate::throttle::NoTurn;
use crate::wire;

/// Capabilities before login: what is needed to log in.
pub const CAPABILITIES_PRE_AUTH: &str = "IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN ID";
/// Capabilities after login.
pub const CAPABILITIES: &str =
    "IMAP4rev1 SASL-IR LITERAL+ ID NAMESPACE UNSELECT CHILDREN SPECIAL-USE BINARY IDLE UIDPLUS MOVE";

/// Failed logins allowed on one connection before it is closed.
const MAX_FAILED_LOGINS: u32 = 3;
/// Pause after a failed login, to slow down guessing.
const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(500);
/// Flush FETCH output once this much is buffered.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Where responses go: a buffer in front of the connection's writer.
pub struct ResponseSink<'a> {
    buf: Vec<u8>,
    writer: &'a mut (dyn AsyncWrite + Send + Unpin),
}

impl<'a> ResponseSink<'a> {
    pub fn new(writer: &'a mut (dyn AsyncWrite + Send + Unpin)) -> Self {
        ResponseSink {
            buf: Vec::with_capacity(4096),
            writer,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.writer.write_all(&self.buf).await?;
            self.buf.clear();
        }
        self.writer.flush().await
    }

    async fn flush_if_large(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= FLUSH_THRESHOLD {
            self.flush().await?;
        }
        Ok(())
    }

    fn tagged(&mut self, tag: &Tag<'_>, status: &str, text: &str) {
        self.push(format!("{} {status} {text}\r\n", tag.inner()).as_bytes());
    }

    fn untagged(&mut self, text: &str) {
        self.push(format!("* {text}\r\n").as_bytes());
    }
}

/// What the connection does after a command.
#[derive(Debug)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Send `+ ` and read one line of SASL data for this AUTHENTICATE.
    AuthenticateData(Tag<'static>),
    /// Close the connection (after LOGOUT, or too many failed logins).
    Close,
    /// Send `+ idling` and stay in IDLE (RFC 2177) until the client's DONE.
    Idle(Tag<'static>),
}

struct Selection {
    folder: Folder,
    uid_validity: u32,
    uid_next: u32,
    /// The folder's messages as this session shows them: the snapshot's own shared list while
    /// they agree, a copy of its own (made on change) while they differ.
    messages: Arc<Vec<MessageMeta>>,
    /// The keywords named to the client in FLAGS so far, sorted.
    keywords: Vec<String>,
    /// Opened with EXAMINE, or by an application that may only read.
    read_only: bool,
    /// UIDs \Recent to this session (RFC 3501 2.3.2): claimed by it, read-write, before any
    /// other session; in a read-only one, those no session has claimed yet.
    recent: HashSet<u32>,
}

impl Selection {
    /// How many of the folder's messages are \Recent to the session.
    fn recent_count(&self) -> usize {
        self.messages
            .iter()
            .filter(|m| self.recent.contains(&m.uid))
            .count()
    }

    fn uids(&self) -> Vec<u32> {
        self.messages.iter().map(|m| m.uid).collect()
    }
}

enum State {
    NotAuthenticated,
    Authenticated {
        hub: Arc<MailboxHub>,
    },
    Selected {
        hub: Arc<MailboxHub>,
        selection: Box<Selection>,
    },
}

pub struct Session {
    registry: Arc<HubRegistry>,
    peer: SocketAddr,
    state: State,
    failed_logins: u32,
    /// The selected folder is read-only: opened with EXAMINE, or by an application that may
    /// only read mail.
    read_only: bool,
    /// BYE was sent (the selected folder was deleted elsewhere): the connection ends after the
    /// current command.
    ending: bool,
}

impl Session {
    pub fn new(registry: Arc<HubRegistry>, peer: SocketAddr) -> Session {
        Session {
            registry,
            peer,
            state: State::NotAuthenticated,
            failed_logins: 0,
            read_only: false,
            ending: false,
        }
    }

    pub fn greeting() -> Vec<u8> {
        format!("* OK [CAPABILITY {CAPABILITIES_PRE_AUTH}] imap2graph ready\r\n").into_bytes()
    }

    pub fn is_authenticated(&self) -> bool {
        !matches!(self.state, State::NotAuthenticated)
    }

    fn capabilities(&self) -> &'static str {
        if self.is_authenticated() {
            CAPABILITIES
        } else {
            CAPABILITIES_PRE_AUTH
        }
    }

    /// Runs one command; responses go to `out`, which the caller flushes.
    pub async fn handle(
        &mut self,
        command: Command<'static>,
        out: &mut ResponseSink<'_>,
    ) -> std::io::Result<Flow> {
        let tag = command.tag;
        let name = command.body.name();
        crate::metrics::METRICS.command(name);
        match command.body {
            CommandBody::Capability => {
                out.untagged(&format!("CAPABILITY {}", self.capabilities()));
                out.tagged(&tag, "OK", "CAPABILITY completed");
            }
            CommandBody::Noop => {
                self.synchronise_selected().await;
                self.push_updates(true, out).await;
                out.tagged(&tag, "OK", "NOOP completed");
            }
            CommandBody::Logout => {
                out.untagged("BYE imap2graph logging out");
                out.tagged(&tag, "OK", "LOGOUT completed");
                return Ok(Flow::Close);
            }
            CommandBody::Id { .. } => {
                out.push(
                    format!(
                        "* ID (\"name\" \"imap2graph\" \"version\" \"{}\")\r\n",
                        env!("CARGO_PKG_VERSION")
                    )
                    .as_bytes(),
                );
                out.tagged(&tag, "OK", "ID completed");
            }
            CommandBody::Login { username, password } if !self.is_authenticated() => {
                let username = username.as_ref().to_vec();
                let password = password.declassify().as_ref().to_vec();
                return Ok(self.login(&tag, &username, &password, None, out).await);
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } if !self.is_authenticated() => {
                if mechanism != AuthMechanism::Plain {
                    out.tagged(&tag, "NO", "[CANNOT] only AUTHENTICATE PLAIN is supported");
                    return Ok(Flow::Continue);
                }
                match initial_response {
                    Some(data) => {
                        let data = data.declassify().to_vec();
                        return Ok(self.authenticate_plain(&tag, &data, out).await);
                    }
                    None => return Ok(Flow::AuthenticateData(tag)),
                }
            }
            CommandBody::Login { .. } | CommandBody::Authenticate { .. } => {
                out.tagged(&tag, "BAD", "already authenticated");
            }
            CommandBody::Idle if self.is_authenticated() => {
                self.push_updates(true, out).await;
                if !self.ending {
                    return Ok(Flow::Idle(tag));
                }
            }
            _ if !self.is_authenticated() => {
                out.tagged(&tag, "BAD", &format!("{name} is not valid before login"));
            }
            body => self.handle_authenticated(tag, body, out).await?,
        }
        Ok(if self.ending {
            Flow::Close
        } else {
            Flow::Continue
        })
    }

    /// The client's answer to the `+ ` of an AUTHENTICATE without initial response; `None`
    /// when it cancelled with `*`.
    pub async fn authenticate_data(
        &mut self,
        tag: &Tag<'static>,
        data: Option<Vec<u8>>,
        out: &mut ResponseSink<'_>,
    ) -> Flow {
        match data {
            Some(data) => self.authenticate_plain(tag, &data, out).await,
            None => {
                out.tagged(tag, "BAD", "AUTHENTICATE cancelled");
                Flow::Continue
            }
        }
    }

    async fn authenticate_plain(
        &mut self,
        tag: &Tag<'static>,
        message: &[u8],
        out: &mut ResponseSink<'_>,
    ) -> Flow {
        // RFC 4616: authzid NUL authcid NUL passwd.
        let mut fields = message.splitn(3, |&b| b == 0);
        match (fields.next(), fields.next(), fields.next()) {
            (Some(authzid), Some(authcid), Some(password)) => {
                self.login(tag, authcid, password, Some(authzid), out).await
            }
            _ => {
                out.tagged(tag, "BAD", "malformed PLAIN message");
                Flow::Continue
            }
        }
    }

    async fn login(
        &mut self,
        tag: &Tag<'_>,
        username: &[u8],
        password: &[u8],
        authzid: Option<&[u8]>,
        out: &mut ResponseSink<'_>,
    ) -> Flow {
        let outcome = self.try_login(username, password, authzid).await;
        crate::metrics::METRICS.login(outcome.is_ok());
        match outcome {
            Ok(hub) => {
                self.registry
                    .login_throttle()
                    .succeeded_from(self.peer.ip());
                tracing::info!(peer = %self.peer, mailbox = %hub.mailbox(), "logged in");
                self.state = State::Authenticated { hub };
                out.tagged(tag, "OK", &format!("[CAPABILITY {CAPABILITIES}] Logged in"));
                Flow::Continue
            }
            Err((code, reason)) => {
                self.failed_logins += 1;
                if code != "UNAVAILABLE" {
                    // The client is to blame (a malformed name, a wrong secret, a mailbox it
                    // may not open): later attempts from its address are spaced out.
                    self.registry.login_throttle().failed_from(self.peer.ip());
                }
                tracing::info!(peer = %self.peer, code, reason = %reason, "login refused");
                tokio::time::sleep(FAILED_LOGIN_DELAY).await;
                out.tagged(tag, "NO", &format!("[{code}] {reason}"));
                if self.failed_logins >= MAX_FAILED_LOGINS {
                    out.untagged("BYE too many failed logins");
                    return Flow::Close;
                }
                Flow::Continue
            }
        }
    }

    /// Checks the login name, the secret (with the identity platform) and the mailbox (with
    /// Graph). Errors carry the response code and a reason that never repeats the secret.
    async fn try_login(
        &self,
        username: &[u8],
        password: &[u8],
        authzid: Option<&[u8]>,
    ) -> Result<Arc<MailboxHub>, (&'static str, String)> {
        let refused = |reason: String| ("AUTHENTICATIONFAILED", reason);
        let username =
            std::str::from_utf8(username).map_err(|_| refused("login name is not UTF-8".into()))?;
        let mut name = LoginName::parse(username).map_err(|err| refused(err.to_string()))?;
        if let Some(authzid) = authzid {
            let authzid = std::str::from_utf8(authzid).map_err(|_| {
                (
                    "AUTHORIZATIONFAILED",
                    "authorization identity is not UTF-8".to_string(),
                )
            })?;
            name = name
                .with_authorization_identity(username, authzid)
                .map_err(|err| ("AUTHORIZATIONFAILED", err.to_string()))?;
        }
        let config = self.registry.config();
        if !config.tenant_allowed(&name.tenant) || !config.client_allowed(&name.client_id) {
            return Err((
                "AUTHORIZATIONFAILED",
                "this gateway does not serve that tenant or application".into(),
            ));
        }
        let mailbox = name
            .mailbox
            .clone()
            .or_else(|| config.default_mailbox_for(&name.client_id))
            .ok_or((
                "AUTHORIZATIONFAILED",
                "no mailbox named and no default mailbox configured for this application"
                    .to_string(),
            ))?;
        let secret = std::str::from_utf8(password)
            .map_err(|_| refused("client secret is not UTF-8".into()))?;
        let credentials = Credentials {
            tenant: name.tenant,
            client_id: name.client_id,
            secret: Secret::new(secret),
        };
        self.check_secret(&credentials).await?;
        self.registry
            .open(credentials, mailbox)
            .await
            .map_err(|err| match err {
                HubError::Graph(err) if err.is_mailbox_refused() => (
                    "AUTHORIZATIONFAILED",
                    "mailbox not found, or not open to this application".to_string(),
                ),
                HubError::Graph(err) => login_refusal(err),
                HubError::Store(reason) => ("UNAVAILABLE", reason),
            })
    }

    /// Checks the secret with the identity platform, through login throttling: a secret the
    /// gateway holds a token for goes straight through; one refused moments ago is refused
    /// again without asking; others wait their turn after recent failures, or are refused when
    /// the turn is too far off.
    async fn check_secret(&self, credentials: &Credentials) -> Result<(), (&'static str, String)> {
        let graph = self.registry.graph();
        if graph.holds_token(credentials) {
            return Ok(());
        }
        let throttle = self.registry.login_throttle();
        let address = self.peer.ip();
        let turn = match throttle
            .turn(address, credentials, || graph.holds_token(credentials))
            .await
        {
            Ok(turn) => turn,
            Err(NoTurn::RefusedRecently) => {
                crate::metrics::METRICS.login_throttled(LoginThrottle::RefusedCached);
                return Err(login_refusal(GraphError::Auth(AuthFailure::InvalidSecret)));
            }
            Err(NoTurn::TooMany(wait)) => {
                crate::metrics::METRICS.login_throttled(LoginThrottle::RefusedThrottled);
                return Err((
                    "UNAVAILABLE",
                    format!(
                        "too many failed logins lately; try again in {} s",
                        wait.as_secs().max(1)
                    ),
                ));
            }
        };
        let checked = graph.authenticate(credentials).await;
        if let Err(GraphError::Auth(failure)) = &checked {
            let definitive = !matches!(failure, AuthFailure::Refused(_));
            throttle.refused(address, credentials, definitive);
        }
        drop(turn);
        checked.map_err(login_refusal)
    }

    /// Synchronises the selected folder again if its latest snapshot is older than
    /// `imap.noop_freshness_secs` (NOOP and CHECK), so polling clients cost bounded traffic.
    async fn synchronise_selected(&self) {
        if let State::Selected { hub, selection } = &self.state {
            let freshness = Duration::from_secs(self.registry.config().imap.noop_freshness_secs);
            if let Err(err) = hub.fresh_snapshot(&selection.folder.id, freshness).await {
                tracing::warn!(mailbox = %hub.mailbox(), error = %err, "could not synchronise the selected folder");
            }
        }
    }

    /// Writes what changed in the selected folder since the session last looked (from the
    /// hub's latest snapshot; no Graph request).
    /// A selected folder deleted elsewhere ends the session, as Dovecot ends it: nothing in
    /// IMAP lets a session stay in a folder that is gone.
    async fn push_updates(&mut self, allow_expunge: bool, out: &mut ResponseSink<'_>) {
        if let State::Selected { hub, selection } = &mut self.state {
            if let Some(snapshot) = hub.latest_snapshot(&selection.folder.id) {
                if snapshot.vanished {
                    if !self.ending {
                        out.untagged("BYE Selected mailbox was deleted, have to disconnect.");
                        self.ending = true;
                    }
                    return;
                }
                let arrived = updates::apply(selection, &snapshot, allow_expunge, out.buf());
                let Some(&highest) = arrived.last() else {
                    return;
                };
                // New mail is \Recent to the first read-write session to see it.
                let claimed = if selection.read_only {
                    hub.recent_claimed(&selection.folder.id).await
                } else {
                    hub.claim_recent(&selection.folder.id, highest).await
                };
                match claimed {
                    Ok(claimed) => updates::add_recent(selection, &arrived, claimed, out.buf()),
                    // Not knowing, claim nothing: a message is never recent to two sessions.
                    Err(err) => {
                        tracing::warn!(mailbox = %hub.mailbox(), error = %err, "could not claim \\Recent")
                    }
                }
            }
        }
    }

    /// While idling: the channel of new snapshots of the selected folder (none when no folder
    /// is selected; then only keepalives are sent).
    pub fn idle_watch(&self) -> Option<tokio::sync::watch::Receiver<Option<Arc<FolderSnapshot>>>> {
        match &self.state {
            State::Selected { hub, selection } => Some(hub.watch(&selection.folder.id)),
            _ => None,
        }
    }

    /// While idling: sends what changed. False when the session must end (it sent BYE).
    pub async fn idle_updates(&mut self, out: &mut ResponseSink<'_>) -> bool {
        self.push_updates(true, out).await;
        !self.ending
    }

    fn hub(&self) -> Option<Arc<MailboxHub>> {
        match &self.state {
            State::NotAuthenticated => None,
            State::Authenticated { hub } | State::Selected { hub, .. } => Some(hub.clone()),
        }
    }

    async fn handle_authenticated(
        &mut self,
        tag: Tag<'static>,
        body: CommandBody<'static>,
        out: &mut ResponseSink<'_>,
    ) -> std::io::Result<()> {
        let Some(hub) = self.hub() else {
            out.tagged(&tag, "BAD", "not logged in");
            return Ok(());
        };
        let selected = matches!(self.state, State::Selected { .. });
        if access::changes_mailbox(&body, selected) && !hub.may_write().await {
            finish(out, &tag, Err(access::no_permission(body.name())));
            return Ok(());
        }
        let result = match body {
            CommandBody::Namespace => {
                out.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                Ok("NAMESPACE completed".to_string())
            }
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => {
                self.list(&hub, "LIST", &reference, &mailbox_wildcard, out)
                    .await
            }
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => {
                self.list(&hub, "LSUB", &reference, &mailbox_wildcard, out)
                    .await
            }
            CommandBody::Select { mailbox, .. } => self.select(&hub, &mailbox, false, out).await,
            CommandBody::Examine { mailbox, .. } => self.select(&hub, &mailbox, true, out).await,
            CommandBody::Status {
                mailbox,
                item_names,
            } => self.status(&hub, &mailbox, &item_names, out).await,
            CommandBody::Create { mailbox } => mailboxes::create(&hub, &mailbox).await,
            CommandBody::Delete { mailbox } => mailboxes::delete(&hub, &mailbox).await,
            CommandBody::Rename { from, to } => mailboxes::rename(&hub, &from, &to).await,
            CommandBody::Subscribe { mailbox } => mailboxes::subscribe(&hub, &mailbox, true).await,
            CommandBody::Unsubscribe { mailbox } => {
                mailboxes::subscribe(&hub, &mailbox, false).await
            }
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => mailboxes::append(&hub, &mailbox, &flags, date.as_ref(), &message).await,
            body => {
                return self.handle_selected(tag, body, out).await;
            }
        };
        self.push_updates(true, out).await;
        finish(out, &tag, result);
        Ok(())
    }

    async fn handle_selected(
        &mut self,
        tag: Tag<'static>,
        body: CommandBody<'static>,
        out: &mut ResponseSink<'_>,
    ) -> std::io::Result<()> {
        let name = body.name();
        // RFC 3501 7.4.1: no EXPUNGE while answering FETCH, STORE or SEARCH (their UID forms
        // may have them).
        let allow_expunge = !matches!(
            body,
            CommandBody::Fetch { uid: false, .. }
                | CommandBody::Store { uid: false, .. }
                | CommandBody::Search { uid: false, .. }
        );
        if matches!(body, CommandBody::Check) {
            self.synchronise_selected().await;
        }
        let read_only = self.read_only;
        let expunge_mode = self.registry.config().imap.expunge_mode();
        let State::Selected { hub, selection } = &mut self.state else {
            out.tagged(&tag, "BAD", &format!("{name} needs a selected folder"));
            return Ok(());
        };
        let result = match body {
            CommandBody::Check => Ok("CHECK completed".to_string()),
            CommandBody::Close | CommandBody::Unselect => {
                let hub = hub.clone();
                // CLOSE in a read-write selection expunges, without untagged answers.
                let expunged = if matches!(body, CommandBody::Close) && !read_only {
                    write::expunge(&hub, selection, None, expunge_mode, true, out).await
                } else {
                    Ok(String::new())
                };
                self.state = State::Authenticated { hub };
                Ok(match expunged {
                    Ok(_) => format!("{name} completed"),
                    Err(refusal) => format!("{name} completed, but {}", refusal.text),
                })
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                ..
            } => {
                let hub = hub.clone();
                let items = if !read_only && write::fetch_sets_seen(&macro_or_item_names) {
                    write::mark_seen(&hub, selection, &sequence_set, uid).await;
                    write::with_flags(macro_or_item_names)
                } else {
                    macro_or_item_names
                };
                fetch::fetch(&hub, selection, &sequence_set, &items, uid, out).await?
            }
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
            } => {
                let hub = hub.clone();
                write::store(
                    &hub,
                    selection,
                    &sequence_set,
                    &kind,
                    &response,
                    &flags,
                    uid,
                    read_only,
                    out,
                )
                .await
            }
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            }
            | CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => {
                let hub = hub.clone();
                let moving = matches!(name, "MOVE");
                match mailboxes::destination(&hub, &mailbox).await {
                    Ok(destination) => {
                        write::transfer(
                            &hub,
                            selection,
                            &sequence_set,
                            uid,
                            &destination,
                            moving,
                            read_only,
                            out,
                        )
                        .await
                    }
                    Err(refusal) => Err(refusal),
                }
            }
            CommandBody::Expunge | CommandBody::ExpungeUid { .. } if read_only => Err(Refusal::no(
                "READ-ONLY",
                "the folder was opened with EXAMINE",
            )),
            CommandBody::Expunge => {
                let hub = hub.clone();
                write::expunge(&hub, selection, None, expunge_mode, false, out).await
            }
            CommandBody::ExpungeUid { sequence_set } => {
                let hub = hub.clone();
                write::expunge(
                    &hub,
                    selection,
                    Some(&sequence_set),
                    expunge_mode,
                    false,
                    out,
                )
                .await
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => {
                let hub = hub.clone();
                search::search(
                    &hub,
                    selection,
                    charset.as_ref(),
                    criteria.as_ref(),
                    uid,
                    out,
                )
                .await
            }
            _ => Err(Refusal::bad(format!("{name} is not supported"))),
        };
        self.push_updates(allow_expunge, out).await;
        finish(out, &tag, result);
        Ok(())
    }

    async fn find_folder(
        &self,
        hub: &MailboxHub,
        mailbox: &Mailbox<'_>,
    ) -> Result<Folder, Refusal> {
        folder_named(hub, mailbox).await
    }

    async fn list(
        &self,
        hub: &MailboxHub,
        command: &str,
        reference: &Mailbox<'_>,
        pattern: &ListMailbox<'_>,
        out: &mut ResponseSink<'_>,
    ) -> Result<String, Refusal> {
        let reference = mailbox_name(reference)?;
        let pattern_bytes: &[u8] = match pattern {
            ListMailbox::Token(token) => token.as_ref(),
            ListMailbox::String(string) => string.as_ref(),
        };
        let pattern = wire::utf7_decode(pattern_bytes).ok_or_else(not_modified_utf7)?;
        if pattern.is_empty() {
            // RFC 3501 6.3.8: the hierarchy delimiter and the root of the reference.
            let root = match reference.split_once('/') {
                Some((root, _)) => format!("{root}/"),
                None => String::new(),
            };
            let mut line = format!("* {command} (\\Noselect) \"/\" ").into_bytes();
            crate::mime::write_string(&mut line, wire::utf7_encode(&root).as_bytes());
            line.extend_from_slice(b"\r\n");
            out.push(&line);
            return Ok(format!("{command} completed"));
        }
        let canonical = list::canonical_pattern(&reference, &pattern);
        let tree = hub
            .folders(command == "LIST")
            .await
            .map_err(Refusal::from_hub)?;
        // LSUB: folders count as subscribed unless UNSUBSCRIBEd (CREATE records the folders it
        // makes as unsubscribed); subscribed names without a folder are listed \Noselect
        // (RFC 3501 6.3.9).
        let subscriptions = if command == "LSUB" {
            hub.subscriptions().await.map_err(Refusal::from_hub)?
        } else {
            Default::default()
        };
        let mut missing: Vec<&str> = subscriptions
            .iter()
            .filter(|(name, &subscribed)| subscribed && tree.find(name).is_none())
            .map(|(name, _)| name.as_str())
            .filter(|name| list::matches(&canonical, name))
            .collect();
        // Unsubscribed parents of subscribed folders, where a `%` stops at them (6.3.9).
        let parents = if command == "LSUB" {
            let folders = tree.folders.iter().map(|f| f.name.as_str());
            let named = subscriptions.iter().filter(|(_, &on)| on);
            let subscribed = folders
                .filter(|name| subscriptions.get(*name) != Some(&false))
                .chain(named.map(|(name, _)| name.as_str()));
            list::lsub_parents(&canonical, subscribed)
        } else {
            Vec::new()
        };
        missing.extend(parents.iter().map(String::as_str));
        missing.sort();
        for name in missing {
            let mut line = format!("* {command} (\\Noselect) \"/\" ").into_bytes();
            crate::mime::write_string(&mut line, wire::utf7_encode(name).as_bytes());
            line.extend_from_slice(b"\r\n");
            out.push(&line);
        }
        for folder in tree
            .folders
            .iter()
            .filter(|f| list::matches(&canonical, &f.name))
            .filter(|f| subscriptions.get(&f.name) != Some(&false))
        {
            let mut attributes = vec![if folder.has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            attributes.extend(folder.special_use());
            let mut line = format!("* {command} ({}) \"/\" ", attributes.join(" ")).into_bytes();
            crate::mime::write_string(&mut line, wire::utf7_encode(&folder.name).as_bytes());
            line.extend_from_slice(b"\r\n");
            out.push(&line);
        }
        Ok(format!("{command} completed"))
    }

    async fn select(
        &mut self,
        hub: &Arc<MailboxHub>,
        mailbox: &Mailbox<'_>,
        examine: bool,
        out: &mut ResponseSink<'_>,
    ) -> Result<String, Refusal> {
        // A failed SELECT leaves no folder selected (RFC 3501 6.3.1).
        self.state = State::Authenticated { hub: hub.clone() };
        // An application that may only read gets every folder as EXAMINE gives it.
        let read_only = examine || !hub.may_write().await;
        let folder = self.find_folder(hub, mailbox).await?;
        let snapshot = hub
            .folder_snapshot(&folder.id)
            .await
            .map_err(Refusal::from_hub)?;
        let selection = selection_from(folder, &snapshot, read_only);
        updates::write_flag_lists(&selection, out.buf());
        out.untagged(&format!("{} EXISTS", selection.messages.len()));
        let mut selection = selection;
        // \Recent: a read-write selection claims what no session has seen yet; a read-only one
        // only looks.
        let highest = selection.messages.last().map_or(0, |m| m.uid);
        let claimed = if read_only {
            hub.recent_claimed(&selection.folder.id).await
        } else {
            hub.claim_recent(&selection.folder.id, highest).await
        }
        .map_err(Refusal::from_hub)?;
        selection.recent = selection
            .messages
            .iter()
            .map(|m| m.uid)
            .filter(|&uid| uid > claimed)
            .collect();
        out.untagged(&format!("{} RECENT", selection.recent.len()));
        if let Some(first_unseen) = selection.messages.iter().position(|m| !m.flags.seen) {
            out.untagged(&format!("OK [UNSEEN {}] First unseen", first_unseen + 1));
        }
        out.untagged(&format!(
            "OK [UIDVALIDITY {}] UIDs valid",
            selection.uid_validity
        ));
        out.untagged(&format!(
            "OK [UIDNEXT {}] Predicted next UID",
            selection.uid_next
        ));
        let done = match (examine, read_only) {
            (true, _) => "[READ-ONLY] EXAMINE completed",
            (false, true) => "[READ-ONLY] SELECT completed; this application may only read mail",
            (false, false) => "[READ-WRITE] SELECT completed",
        };
        self.read_only = read_only;
        self.state = State::Selected {
            hub: hub.clone(),
            selection: Box::new(selection),
        };
        Ok(done.to_string())
    }

    async fn status(
        &self,
        hub: &MailboxHub,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
        out: &mut ResponseSink<'_>,
    ) -> Result<String, Refusal> {
        let folder = self.find_folder(hub, mailbox).await?;
        let snapshot = hub
            .folder_snapshot(&folder.id)
            .await
            .map_err(Refusal::from_hub)?;
        let mut values = Vec::new();
        for item in items {
            let (name, value) = match item {
                StatusDataItemName::Messages => ("MESSAGES", snapshot.messages.len() as u64),
                StatusDataItemName::Recent => {
                    let claimed = hub
                        .recent_claimed(&folder.id)
                        .await
                        .map_err(Refusal::from_hub)?;
                    let recent = snapshot.messages.iter().filter(|m| m.uid > claimed).count();
                    ("RECENT", recent as u64)
                }
                StatusDataItemName::UidNext => ("UIDNEXT", snapshot.uid_next as u64),
                StatusDataItemName::UidValidity => ("UIDVALIDITY", snapshot.uid_validity as u64),
                StatusDataItemName::Unseen => (
                    "UNSEEN",
                    snapshot.messages.iter().filter(|m| !m.flags.seen).count() as u64,
                ),
                StatusDataItemName::Deleted => (
                    "DELETED",
                    snapshot.messages.iter().filter(|m| m.flags.deleted).count() as u64,
                ),
                _ => return Err(Refusal::bad("unsupported STATUS item")),
            };
            values.push(format!("{name} {value}"));
        }
        let mut line = b"* STATUS ".to_vec();
        crate::mime::write_string(&mut line, wire::utf7_encode(&folder.name).as_bytes());
        line.extend_from_slice(format!(" ({})\r\n", values.join(" ")).as_bytes());
        out.push(&line);
        Ok("STATUS completed".into())
    }
}

fn selection_from(folder: Folder, snapshot: &FolderSnapshot, read_only: bool) -> Selection {
    let mut keywords: Vec<String> = Vec::new();
    for keyword in snapshot.messages.iter().flat_map(|m| &m.flags.keywords) {
        if !keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
            keywords.push(keyword.clone());
        }
    }
    keywords.sort();
    Selection {
        folder,
        uid_validity: snapshot.uid_validity,
        uid_next: snapshot.uid_next,
        messages: snapshot.shared_messages(),
        keywords,
        read_only,
        recent: HashSet::new(),
    }
}

/// The folder a client names; `NO [NONEXISTENT]` when there is none.
async fn folder_named(hub: &MailboxHub, mailbox: &Mailbox<'_>) -> Result<Folder, Refusal> {
    let name = mailbox_name(mailbox)?;
    let tree = hub.folders(false).await.map_err(Refusal::from_hub)?;
    if let Some(folder) = tree.find(&name) {
        return Ok(folder.clone());
    }
    // Made a moment ago elsewhere? Look once more before saying no.
    let tree = hub.folders(true).await.map_err(Refusal::from_hub)?;
    tree.find(&name)
        .cloned()
        .ok_or_else(|| Refusal::no("NONEXISTENT", "no such folder"))
}

/// The folder name a client gave, decoded from modified UTF-7. Only the canonical spelling is
/// taken (no UTF-8, which this server does not announce with UTF8=ACCEPT), so that one folder
/// never answers to two names.
fn mailbox_name(mailbox: &Mailbox<'_>) -> Result<String, Refusal> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".into()),
        Mailbox::Other(other) => {
            wire::utf7_decode(astring_bytes(other.inner())).ok_or_else(not_modified_utf7)
        }
    }
}

fn not_modified_utf7() -> Refusal {
    Refusal::bad(
        "folder names are modified UTF-7 in its one spelling (RFC 3501 5.1.3): printable ASCII \
         as itself, & as &-, other characters as one &...- run of base64 UTF-16",
    )
}

fn astring_bytes<'a>(value: &'a AString<'_>) -> &'a [u8] {
    value.as_ref()
}

/// A command's failure: NO with a response code, or BAD.
#[derive(Debug)]
pub struct Refusal {
    bad: bool,
    code: Option<&'static str>,
    text: String,
}

impl Refusal {
    fn no(code: &'static str, text: impl Into<String>) -> Self {
        Refusal {
            bad: false,
            code: Some(code),
            text: text.into(),
        }
    }

    fn bad(text: impl Into<String>) -> Self {
        Refusal {
            bad: true,
            code: None,
            text: text.into(),
        }
    }

    fn from_hub(err: HubError) -> Self {
        match err {
            HubError::Graph(err) if err.is_access_denied() => {
                tracing::warn!(error = %err, "Graph denied the application access");
                Refusal::no(
                    "NOPERM",
                    format!("Exchange denied this application access: {err}"),
                )
            }
            HubError::Graph(GraphError::Api { status: 404, .. }) => {
                Refusal::no("NONEXISTENT", "no such folder in the mailbox")
            }
            other => {
                tracing::warn!(error = %other, "command failed on Graph");
                Refusal::no("UNAVAILABLE", other.to_string())
            }
        }
    }

    /// NO for a command Graph carried out for some messages only: `[NOPERM]` when Graph denied
    /// access, otherwise no code (the text says what was done).
    fn partly_done(text: String, first_failure: Option<&HubError>) -> Self {
        let denied = matches!(first_failure, Some(HubError::Graph(err)) if err.is_access_denied());
        Refusal {
            bad: false,
            code: denied.then_some("NOPERM"),
            text,
        }
    }
}

fn finish(out: &mut ResponseSink<'_>, tag: &Tag<'_>, result: Result<String, Refusal>) {
    match result {
        Ok(text) => out.tagged(tag, "OK", &text),
        Err(refusal) if refusal.bad => out.tagged(tag, "BAD", &refusal.text),
        Err(refusal) => match refusal.code {
            Some(code) => out.tagged(tag, "NO", &format!("[{code}] {}", refusal.text)),
            None => out.tagged(tag, "NO", &refusal.text),
        },
    }
}

/// The response code and reason of a login that Graph or the identity platform refused.
fn login_refusal(err: GraphError) -> (&'static str, String) {
    match err {
        GraphError::Auth(failure) => ("AUTHENTICATIONFAILED", failure.reason()),
        GraphError::Unavailable(reason) => (
            "UNAVAILABLE",
            format!("Microsoft Graph unavailable: {reason}"),
        ),
        other => ("UNAVAILABLE", other.to_string()),
    }
}
