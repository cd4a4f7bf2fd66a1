//! Owns one client connection after TLS: framing IMAP commands out of the byte stream
//! (lines, synchronising and non-synchronising literals, AUTHENTICATE continuation lines), the
//! limits on their size, the pre-login and idle timeouts, and the goodbye at shutdown. Each
//! complete command goes to the [`Session`]; malformed ones get BAD and the connection carries on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imap_codec::decode::Decoder;
use imap_codec::imap_types::auth::AuthenticateData;
use imap_codec::imap_types::command::{Command, CommandBody};
use imap_codec::imap_types::core::Tag;
use imap_codec::imap_types::IntoStatic;
use imap_codec::{AuthenticateDataCodec, CommandCodec, IdleDoneCodec};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::Config;
use crate::framing::{Frame, FrameLimits, Framer};
use crate::hub::HubRegistry;
use crate::session::{Flow, ResponseSink, Session};

/// Limits and timeouts of one connection, from the configuration.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub max_literal_bytes: u32,
    pub max_command_bytes: u32,
    pub prelogin_timeout: Duration,
    pub idle_timeout: Duration,
    /// Interval of `* OK` keepalives during IDLE.
    pub idle_keepalive: Duration,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        ConnectionLimits {
            max_literal_bytes: config.imap.max_literal_bytes,
            max_command_bytes: config.imap.max_command_bytes,
            prelogin_timeout: config.prelogin_timeout(),
            idle_timeout: config.idle_timeout(),
            idle_keepalive: Duration::from_secs(config.imap.idle_keepalive_secs),
        }
    }
}

/// Bytes read from the client at a time while it sends much (an APPEND's literal).
const READ_BYTES: usize = 16 * 1024;
/// Bytes read at a time otherwise: what an idle connection holds for reading.
const IDLE_READ_BYTES: usize = 1024;

/// Sizes the read buffer for the next read: large while the client fills it (bulk data), small
/// again once a read leaves it half empty between messages, so idle connections hold little.
fn size_read_buffer(buffer: &mut Vec<u8>, last_read: usize, in_message: bool) {
    if last_read == buffer.len() && buffer.len() < READ_BYTES {
        buffer.resize(READ_BYTES, 0);
    } else if last_read < buffer.len() / 2 && !in_message && buffer.len() > IDLE_READ_BYTES {
        buffer.truncate(IDLE_READ_BYTES);
        buffer.shrink_to_fit();
    }
}

// The task of a connection holds its future for as long as the connection lasts, sized for the
// largest state it can be in. The futures of commands (`Session::handle` and the like, which
// reach Graph, the store and the MIME code) are boxed where they are awaited, so they take memory
// only while a command runs, not in every idle connection.

/// What the next complete message on the wire is.
enum Expecting {
    Command,
    AuthenticateData(Tag<'static>),
}

/// Serves one connection until LOGOUT, a timeout, shutdown, or the peer going away.
pub fn serve<S>(
    stream: S,
    peer: SocketAddr,
    registry: Arc<HubRegistry>,
    limits: ConnectionLimits,
    shutdown: watch::Receiver<bool>,
) -> impl std::future::Future<Output = std::io::Result<()>> + Send
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    // Split before the future is made, so it holds two handles rather than the TLS stream itself
    // (over a kilobyte) for the whole connection.
    let (reader, writer) = tokio::io::split(stream);
    serve_halves(reader, writer, peer, registry, limits, shutdown)
}

async fn serve_halves<R, W>(
    mut reader: R,
    mut writer: W,
    peer: SocketAddr,
    registry: Arc<HubRegistry>,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()>
where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin,
{
    let mut session = Session::new(registry, peer);
    let after_login = FrameLimits::after_login(limits.max_command_bytes, limits.max_literal_bytes);
    let mut framer = Framer::new(FrameLimits::before_login());
    let mut expecting = Expecting::Command;
    let prelogin_deadline = Instant::now() + limits.prelogin_timeout;
    let mut read_buf = vec![0u8; IDLE_READ_BYTES];

    writer.write_all(&Session::greeting()).await?;
    writer.flush().await?;

    loop {
        // Limits follow the session's phase; they apply from the next message on.
        framer.set_limits(if session.is_authenticated() {
            after_login
        } else {
            FrameLimits::before_login()
        });
        let literals = matches!(expecting, Expecting::Command);
        let Some(frame) = framer.next(literals) else {
            let deadline = if session.is_authenticated() {
                Instant::now() + limits.idle_timeout
            } else {
                prelogin_deadline
            };
            let read = tokio::select! {
                read = reader.read(&mut read_buf) => read?,
                _ = tokio::time::sleep_until(deadline) => {
                    let text: &[u8] = if session.is_authenticated() {
                        b"* BYE Autologout; idle for too long\r\n"
                    } else {
                        b"* BYE Login timed out\r\n"
                    };
                    writer.write_all(text).await?;
                    writer.flush().await?;
                    tracing::debug!(%peer, "connection timed out");
                    return Ok(());
                }
                _ = shutdown.changed() => {
                    writer.write_all(b"* BYE Server shutting down\r\n").await?;
                    writer.flush().await?;
                    return Ok(());
                }
            };
            if read == 0 {
                return Ok(());
            }
            framer.push(&read_buf[..read]);
            size_read_buffer(&mut read_buf, read, framer.in_message());
            continue;
        };

        let answer_tag = match &expecting {
            Expecting::Command => framer.tag().unwrap_or("*").to_string(),
            Expecting::AuthenticateData(tag) => tag.inner().to_string(),
        };
        match frame {
            Frame::Message => {}
            Frame::ContinueLiteral => {
                writer.write_all(b"+ Ready for literal data\r\n").await?;
                writer.flush().await?;
                continue;
            }
            Frame::LiteralRefused { length } => {
                // Refusing instead of sending `+` lets the client go on (RFC 3501 7.5).
                let line = format!(
                    "{answer_tag} NO [TOOBIG] literal of {length} bytes exceeds the limit of {} bytes\r\n",
                    framer.limits().max_literal_bytes
                );
                writer.write_all(line.as_bytes()).await?;
                writer.flush().await?;
                continue;
            }
            Frame::TooBig => {
                crate::metrics::METRICS.oversized_command();
                let line = format!(
                    "{answer_tag} BAD [TOOBIG] {}\r\n",
                    too_big_reason(session.is_authenticated())
                );
                writer.write_all(line.as_bytes()).await?;
                writer.flush().await?;
                expecting = Expecting::Command;
                continue;
            }
            Frame::Broken => {
                crate::metrics::METRICS.oversized_command();
                tracing::info!(%peer, "unframeable or oversized literal: connection closed");
                let line = format!(
                    "{answer_tag} BAD [TOOBIG] {}\r\n* BYE Literal refused\r\n",
                    too_big_reason(session.is_authenticated())
                );
                writer.write_all(line.as_bytes()).await?;
                writer.flush().await?;
                writer.shutdown().await.ok();
                return Ok(());
            }
        }

        let mut sink = ResponseSink::new(&mut writer);
        let flow = match &expecting {
            Expecting::Command => match CommandCodec::default().decode(framer.message()) {
                Ok((b"", command)) => {
                    let command = command.into_static();
                    tracing::debug!(%peer, tag = command.tag.inner(), command = command.body.name(), "command");
                    Box::pin(session.handle(command, &mut sink)).await?
                }
                _ => match lenient_login(framer.message()) {
                    Some(command) => Box::pin(session.handle(command, &mut sink)).await?,
                    None => {
                        sink.push(
                            format!("{answer_tag} BAD syntax error in command\r\n").as_bytes(),
                        );
                        Flow::Continue
                    }
                },
            },
            Expecting::AuthenticateData(tag) => {
                let tag = tag.clone();
                match AuthenticateDataCodec::default().decode(framer.message()) {
                    Ok((b"", AuthenticateData::Continue(data))) => {
                        let data = data.declassify().to_vec();
                        Box::pin(session.authenticate_data(&tag, Some(data), &mut sink)).await
                    }
                    Ok((b"", AuthenticateData::Cancel)) => {
                        Box::pin(session.authenticate_data(&tag, None, &mut sink)).await
                    }
                    _ => {
                        sink.push(
                            format!("{} BAD malformed SASL data\r\n", tag.inner()).as_bytes(),
                        );
                        Flow::Continue
                    }
                }
            }
        };
        expecting = Expecting::Command;
        match flow {
            Flow::Continue => {}
            Flow::AuthenticateData(tag) => {
                sink.push(b"+ \r\n");
                expecting = Expecting::AuthenticateData(tag);
            }
            Flow::Close => {
                sink.flush().await?;
                drop(sink);
                writer.shutdown().await.ok();
                return Ok(());
            }
            Flow::Idle(tag) => {
                sink.push(b"+ idling\r\n");
                sink.flush().await?;
                drop(sink);
                let go_on = idle(
                    &tag,
                    &mut session,
                    &mut framer,
                    &mut reader,
                    &mut writer,
                    &mut read_buf,
                    &limits,
                    &mut shutdown,
                )
                .await?;
                if !go_on {
                    return Ok(());
                }
                continue;
            }
        }
        sink.flush().await?;
        if *shutdown.borrow() {
            drop(sink);
            writer.write_all(b"* BYE Server shutting down\r\n").await?;
            writer.flush().await?;
            return Ok(());
        }
    }
}

fn too_big_reason(authenticated: bool) -> String {
    if authenticated {
        "command exceeds imap.max_command_bytes or imap.max_literal_bytes".to_string()
    } else {
        format!(
            "command exceeds the {} bytes allowed before login",
            crate::framing::PRELOGIN_MAX_MESSAGE_BYTES
        )
    }
}

/// Stays in IDLE (RFC 2177) until the client's DONE: sends what changes in the selected folder
/// as it is learned (one poller per folder in the hub, whatever the number of idling sessions),
/// `* OK` keepalives, and BYE at the idle limit or shutdown. Returns whether to go on reading
/// commands.
#[allow(clippy::too_many_arguments)]
async fn idle<R, W>(
    tag: &Tag<'static>,
    session: &mut Session,
    framer: &mut Framer,
    reader: &mut R,
    writer: &mut W,
    read_buf: &mut Vec<u8>,
    limits: &ConnectionLimits,
    shutdown: &mut watch::Receiver<bool>,
) -> std::io::Result<bool>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Send + Unpin,
{
    let mut changes = session.idle_watch();
    let mut keepalive = tokio::time::interval_at(
        Instant::now() + limits.idle_keepalive,
        limits.idle_keepalive,
    );
    let deadline = Instant::now() + limits.idle_timeout;
    loop {
        if let Some(frame) = framer.next(false) {
            let done = frame == Frame::Message
                && IdleDoneCodec::default()
                    .decode(framer.message())
                    .is_ok_and(|(remainder, _)| remainder.is_empty());
            let line = if done {
                format!("{} OK IDLE terminated\r\n", tag.inner())
            } else {
                format!("{} BAD expected DONE\r\n", tag.inner())
            };
            writer.write_all(line.as_bytes()).await?;
            writer.flush().await?;
            return Ok(true);
        }
        tokio::select! {
            read = reader.read(read_buf) => {
                let read = read?;
                if read == 0 {
                    return Ok(false);
                }
                framer.push(&read_buf[..read]);
                size_read_buffer(read_buf, read, framer.in_message());
            }
            changed = async {
                match changes.as_mut() {
                    Some(receiver) => receiver.changed().await,
                    None => std::future::pending().await,
                }
            } => {
                if changed.is_err() {
                    changes = None;
                    continue;
                }
                let mut sink = ResponseSink::new(writer);
                let go_on = Box::pin(session.idle_updates(&mut sink)).await;
                sink.flush().await?;
                if !go_on {
                    return Ok(false);
                }
            }
            _ = keepalive.tick() => {
                writer.write_all(b"* OK Still here\r\n").await?;
                writer.flush().await?;
            }
            _ = tokio::time::sleep_until(deadline) => {
                writer.write_all(b"* BYE Autologout; idle for too long\r\n").await?;
                writer.flush().await?;
                return Ok(false);
            }
            _ = shutdown.changed() => {
                writer.write_all(b"* BYE Server shutting down\r\n").await?;
                writer.flush().await?;
                return Ok(false);
            }
        }
    }
}

/// `tag LOGIN name secret` where the name is a bare word holding `\`, which is not an atom
/// character: Python's imaplib sends the login name unquoted, and the `tenant\client\mailbox`
/// form is one Exchange accepted. Bare words and quoted strings are taken; nothing else.
fn lenient_login(message: &[u8]) -> Option<Command<'static>> {
    let line = message
        .strip_suffix(b"\r\n")
        .or_else(|| message.strip_suffix(b"\n"))?;
    let mut words = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        let (word, after) = if rest[0] == b'"' {
            let mut word = Vec::new();
            let mut index = 1;
            loop {
                match *rest.get(index)? {
                    b'"' => break,
                    b'\\' => {
                        word.push(*rest.get(index + 1)?);
                        index += 2;
                    }
                    byte => {
                        word.push(byte);
                        index += 1;
                    }
                }
            }
            (word, &rest[index + 1..])
        } else {
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            (rest[..end].to_vec(), &rest[end..])
        };
        if word.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return None;
        }
        words.push(word);
        rest = match after.split_first() {
            Some((b' ', tail)) => tail,
            Some(_) => return None,
            None => after,
        };
    }
    let [tag, verb, name, secret] = <[Vec<u8>; 4]>::try_from(words).ok()?;
    if !verb.eq_ignore_ascii_case(b"LOGIN") || !name.contains(&b'\\') {
        return None;
    }
    let tag = Tag::try_from(String::from_utf8(tag).ok()?).ok()?;
    let body = CommandBody::login(name, secret).ok()?;
    Some(Command { tag, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphClient;
    use crate::store::UidStore;
    use tokio::io::{AsyncBufReadExt, BufReader};

    /// A registry whose Graph and identity platform are a closed loopback port.
    fn offline_registry(dir: &std::path::Path) -> Arc<HubRegistry> {
        crate::tls::install_crypto_provider();
        let mut config = Config::default();
        config.graph.base_url = "http://127.0.0.1:9/v1.0".into();
        config.identity.authority = "http://127.0.0.1:9".into();
        config.graph.max_retries = 0;
        let store = UidStore::open_sqlite(&dir.join("uids.sqlite")).unwrap();
        let graph = GraphClient::new(&config.graph, &config.identity.authority).unwrap();
        Arc::new(HubRegistry::new(Arc::new(config), graph, store))
    }

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_literal_bytes: 1024,
            max_command_bytes: 1024,
            prelogin_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            idle_keepalive: Duration::from_secs(30),
        }
    }

    /// Sends `input` on a fresh connection and returns everything the server said until it
    /// closed or went quiet.
    async fn converse(input: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (client, server) = tokio::io::duplex(1 << 16);
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let task = tokio::spawn(serve(
            server,
            peer,
            offline_registry(dir.path()),
            limits(),
            shutdown_rx,
        ));
        let (read, mut write) = tokio::io::split(client);
        write.write_all(input).await.unwrap();
        let mut reader = BufReader::new(read);
        let mut transcript = String::new();
        loop {
            let mut line = String::new();
            match tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await {
                Ok(Ok(0)) | Err(_) => break,
                Ok(Ok(_)) => {
                    let done = line.starts_with("Z ");
                    transcript.push_str(&line);
                    if done {
                        break;
                    }
                }
                Ok(Err(_)) => break,
            }
        }
        drop(write);
        // The server ends after LOGOUT or when the client goes; a panic would show here.
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Err(err)) if err.is_panic() => panic!("the connection task panicked: {err}"),
            _ => transcript,
        }
    }

    /// Every open connection holds its task's future for as long as it lasts: with commands
    /// boxed, an idle connection costs a few hundred bytes of it, not the ~14 KiB of the largest
    /// command (issue 13, item 4).
    #[tokio::test]
    async fn a_connection_future_stays_small() {
        let dir = tempfile::tempdir().unwrap();
        // A stream as large as a TLS one, which the future must not hold.
        struct Large {
            inner: tokio::io::DuplexStream,
            _bulk: [u8; 4096],
        }
        impl AsyncRead for Large {
            fn poll_read(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
            }
        }
        impl AsyncWrite for Large {
            fn poll_write(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
            }
            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_flush(cx)
            }
            fn poll_shutdown(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
            }
        }
        let (_client, server) = tokio::io::duplex(64);
        let server = Large {
            inner: server,
            _bulk: [0; 4096],
        };
        let (_shutdown_tx, shutdown_rx) = watch::channel(false);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let future = serve(
            server,
            peer,
            offline_registry(dir.path()),
            limits(),
            shutdown_rx,
        );
        let size = std::mem::size_of_val(&future);
        assert!(
            size <= 2048,
            "the future of a connection takes {size} bytes"
        );
    }

    #[tokio::test]
    async fn greeting_capability_and_logout() {
        let transcript = converse(b"a CAPABILITY\r\nZ LOGOUT\r\n").await;
        assert!(
            transcript.starts_with("* OK [CAPABILITY IMAP4rev1"),
            "{transcript}"
        );
        assert!(
            transcript.contains("* CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN"),
            "{transcript}"
        );
        assert!(
            transcript.contains("a OK CAPABILITY completed"),
            "{transcript}"
        );
        assert!(transcript.contains("* BYE"), "{transcript}");
        assert!(transcript.contains("Z OK LOGOUT completed"), "{transcript}");
    }

    #[tokio::test]
    async fn malformed_commands_get_bad_and_the_connection_survives() {
        let transcript = converse(
            b"a NOSUCHCOMMAND\r\n\r\nb FETCH\r\nc SELECT INBOX\r\n\x00\xff garbage\r\nd NOOP\r\nZ LOGOUT\r\n",
        )
        .await;
        assert!(transcript.contains("a BAD"), "{transcript}");
        assert!(transcript.contains("b BAD"), "{transcript}");
        assert!(
            transcript.contains("c BAD SELECT is not valid before login"),
            "{transcript}"
        );
        assert!(transcript.contains("d OK NOOP completed"), "{transcript}");
        assert!(transcript.contains("Z OK LOGOUT"), "{transcript}");
    }

    #[tokio::test]
    async fn literals_sync_nonsync_and_too_big_before_login() {
        // A synchronising literal gets `+`; one over the pre-login limit is refused and the
        // command skipped.
        let transcript = converse(
            b"a LOGIN {5}\r\nx.com {3}\r\nabc\r\nb LOGIN {9000}\r\nc NOOP\r\nZ LOGOUT\r\n",
        )
        .await;
        assert!(
            transcript.contains("+ Ready for literal data"),
            "{transcript}"
        );
        assert!(
            transcript.contains("a NO [AUTHENTICATIONFAILED]"),
            "{transcript}"
        );
        assert!(
            transcript
                .contains("b NO [TOOBIG] literal of 9000 bytes exceeds the limit of 8192 bytes"),
            "{transcript}"
        );
        assert!(transcript.contains("c OK NOOP"), "{transcript}");
        // A non-synchronising literal over the pre-login limit ends the connection: nobody is
        // owed the bandwidth of reading it.
        let mut input = b"a LOGIN {52428801+}\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3000));
        input.extend_from_slice(b" y\r\nb NOOP\r\nZ LOGOUT\r\n");
        let transcript = converse(&input).await;
        assert!(transcript.contains("a BAD [TOOBIG]"), "{transcript}");
        assert!(transcript.contains("* BYE"), "{transcript}");
        assert!(!transcript.contains("b OK NOOP"), "{transcript}");
        // A line over the pre-login limit is refused, and the connection goes on.
        let mut input = b"a LOGIN ".to_vec();
        input.extend(std::iter::repeat_n(b'x', 20_000));
        input.extend_from_slice(b" y\r\nb NOOP\r\nZ LOGOUT\r\n");
        let transcript = converse(&input).await;
        assert!(
            transcript
                .contains("a BAD [TOOBIG] command exceeds the 8192 bytes allowed before login"),
            "{transcript}"
        );
        assert!(transcript.contains("b OK NOOP"), "{transcript}");
    }

    #[tokio::test]
    async fn unreachable_identity_platform_is_unavailable() {
        let transcript = converse(
            b"a LOGIN contoso.example/11111111-2222-3333-4444-555555555555/alice s3cr3t-value\r\nZ LOGOUT\r\n",
        )
        .await;
        assert!(transcript.contains("a NO [UNAVAILABLE]"), "{transcript}");
        assert!(!transcript.contains("s3cr3t-value"), "{transcript}");
    }

    #[tokio::test]
    async fn authenticate_plain_without_initial_response_and_cancel() {
        let transcript =
            converse(b"a AUTHENTICATE PLAIN\r\n*\r\nb AUTHENTICATE PLAIN\r\n%%%\r\nZ LOGOUT\r\n")
                .await;
        assert!(transcript.contains("+ \r\n"), "{transcript}");
        assert!(
            transcript.contains("a BAD AUTHENTICATE cancelled"),
            "{transcript}"
        );
        assert!(
            transcript.contains("b BAD malformed SASL data"),
            "{transcript}"
        );
        assert!(transcript.contains("Z OK LOGOUT"), "{transcript}");
    }

    #[test]
    fn backslash_login_names_are_taken_bare_or_quoted() {
        let command =
            lenient_login(b"a1 LOGIN contoso.example\\x\\alice \"se\\\"cret\"\r\n").unwrap();
        assert_eq!(command.tag.inner(), "a1");
        match command.body {
            CommandBody::Login { username, password } => {
                assert_eq!(username.as_ref(), b"contoso.example\\x\\alice");
                assert_eq!(password.declassify().as_ref(), b"se\"cret");
            }
            _ => panic!("not a LOGIN command"),
        }
        assert!(lenient_login(b"a1 LOGIN plain secret\r\n").is_none());
        assert!(lenient_login(b"a1 SELECT a\\b\r\n").is_none());
        assert!(lenient_login(b"a1 LOGIN a\\b \"unterminated\r\n").is_none());
        assert!(lenient_login(b"a1 LOGIN a\\b s x\r\n").is_none());
    }

    #[tokio::test]
    async fn random_input_never_panics() {
        let mut rng = fastrand::Rng::with_seed(7);
        let alphabet: &[u8] = b"a1 *(){}[]<>\"\\+-.:%\r\n\0\xffLOGINFETCHBODY";
        for _ in 0..40 {
            let len = rng.usize(0..400);
            let mut input: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.usize(..alphabet.len())])
                .collect();
            input.extend_from_slice(b"\r\nZ LOGOUT\r\n");
            // `converse` fails the test if the connection task panicked.
            let transcript = converse(&input).await;
            assert!(transcript.starts_with("* OK"), "{transcript}");
        }
    }
}
