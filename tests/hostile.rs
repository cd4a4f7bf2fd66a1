//! Hostile clients over real TLS against the demo gateway (issue 12): memory held for a client
//! that has not logged in stays bounded whatever it sends, the configured limits hold after
//! login (LITERAL+ included), connection limits apply at accept (before any handshake), the
//! open-file limit is never reached, and through all of it another client logs in and works.
//!
//! Memory is read from the gateway's own /proc entry (VmRSS), before and while the hostile
//! connections hold what they sent.

mod common;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use common::client::Client;
use common::{Gateway, ALICE};

/// The gateway process's resident memory, in bytes.
fn rss(gateway: &Gateway) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", gateway.pid()))
        .expect("the gateway's /proc status");
    let kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc status");
    kb * 1024
}

fn open_files(gateway: &Gateway) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", gateway.pid()))
        .expect("the gateway's /proc fd")
        .count()
}

/// Sends `total` bytes of `x` in 64 KB writes.
fn send_filler(client: &mut Client, total: usize) {
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < total {
        let n = chunk.len().min(total - sent);
        client.send(&chunk[..n]);
        sent += n;
    }
}

/// How many of `sockets` the server has closed (EOF or reset) and how many it holds, a moment
/// after they connected without sending anything.
fn closed_and_held(sockets: &[TcpStream]) -> (usize, usize) {
    // Refusals happen at accept, so a moment is enough for every one of them.
    std::thread::sleep(Duration::from_secs(1));
    let mut closed = 0;
    for tcp in sockets {
        tcp.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let is_closed = match (&*tcp).read(&mut byte) {
            Ok(0) => true,
            Ok(_) => panic!("the gateway sent bytes before the TLS handshake"),
            Err(err) => matches!(
                err.kind(),
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
            ),
        };
        closed += usize::from(is_closed);
        tcp.set_nonblocking(false).unwrap();
    }
    (closed, sockets.len() - closed)
}

#[test]
fn memory_before_login_is_bounded_and_other_sessions_go_on() {
    let dir = common::temp_dir();
    let gateway = Gateway::demo(dir.path());
    let mut witness = Client::connect(&gateway);
    witness.login();
    assert!(witness.command("w1", "SELECT INBOX").starts_with("w1 OK"));
    let before = rss(&gateway);

    // Six clients that never log in send `a LOGIN ` and 45 MB without a line end.
    const SENT: usize = 45 * 1024 * 1024;
    let mut hostile: Vec<Client> = (0..6).map(|_| Client::connect(&gateway)).collect();
    for client in &mut hostile {
        client.send(b"a LOGIN ");
        send_filler(client, SENT);
    }
    // The witness session is unaffected while they hold what they sent.
    assert!(witness.command("w2", "NOOP").starts_with("w2 OK"));
    let fetched = witness.command("w3", "FETCH 1 (RFC822.SIZE FLAGS)");
    assert!(fetched.starts_with("w3 OK"), "{fetched}");
    let during = rss(&gateway);
    let growth = during.saturating_sub(before);
    eprintln!(
        "RSS before {} KiB, with 6 × {} MiB unterminated lines {} KiB (+{} KiB)",
        before / 1024,
        SENT >> 20,
        during / 1024,
        growth / 1024
    );
    assert!(
        growth < 24 * 1024 * 1024,
        "six unauthenticated connections that sent 45 MB each grew the gateway by {} KiB",
        growth / 1024
    );
    // When the line ends, it is refused as too big and the connection goes on.
    for client in &mut hostile {
        client.send(b"\r\n");
        assert_eq!(
            client.answer("a"),
            "a BAD [TOOBIG] command exceeds the 8192 bytes allowed before login"
        );
        assert_eq!(client.command("b", "NOOP"), "b OK NOOP completed");
    }
    // A non-synchronising literal over the pre-login limit ends the connection at once.
    let mut client = Client::connect(&gateway);
    client.send(b"a LOGIN {52428801+}\r\n");
    send_filler(&mut client, 64 * 1024);
    let answer = client.answer("a");
    assert!(answer.starts_with("a BAD [TOOBIG]"), "{answer}");
    assert!(client.line().starts_with("* BYE"));
    assert_eq!(client.line(), "", "the connection is closed");
    assert!(witness.command("w4", "NOOP").starts_with("w4 OK"));
}

#[test]
fn configured_limits_hold_after_login() {
    let dir = common::temp_dir();
    let gateway = Gateway::demo_with_env(
        dir.path(),
        &[("IMAP2GRAPH_IMAP_MAX_LITERAL_BYTES", "1048576")],
    );
    let mut client = Client::connect(&gateway);
    client.login();
    // A 70 KB NOOP line: over imap.max_command_bytes (64 KiB).
    let mut line = b"n1 NOOP ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 70 * 1024));
    line.extend_from_slice(b"\r\n");
    client.send(&line);
    let answer = client.answer("n1");
    assert!(answer.starts_with("n1 BAD [TOOBIG]"), "{answer}");
    // LITERAL+ past imap.max_literal_bytes: BAD [TOOBIG], the literal read and dropped.
    let before = rss(&gateway);
    client.send(b"a1 APPEND INBOX {1048577+}\r\n");
    send_filler(&mut client, 1048577);
    client.send(b"\r\n");
    let answer = client.answer("a1");
    assert!(answer.starts_with("a1 BAD [TOOBIG]"), "{answer}");
    assert_eq!(client.command("a2", "NOOP"), "a2 OK NOOP completed");
    // The synchronising form is refused before it is sent.
    let answer = client.command("a3", "APPEND INBOX {1048577}");
    assert!(answer.starts_with("a3 NO [TOOBIG]"), "{answer}");
    // A 40 MB line after login is dropped as it arrives.
    client.send(b"a4 SELECT ");
    send_filler(&mut client, 40 * 1024 * 1024);
    let during = rss(&gateway);
    client.send(b"\r\n");
    let answer = client.answer("a4");
    assert!(answer.starts_with("a4 BAD [TOOBIG]"), "{answer}");
    eprintln!(
        "RSS before {} KiB, after a dropped 1 MiB literal and with a 40 MiB line in flight {} KiB",
        before / 1024,
        during / 1024
    );
    assert!(
        during.saturating_sub(before) < 16 * 1024 * 1024,
        "a 40 MB line grew the gateway by {} KiB",
        during.saturating_sub(before) / 1024
    );
    // A literal within the limit still works.
    let message = b"From: a@example.com\r\nSubject: fits\r\n\r\nbody\r\n";
    client.send(format!("a5 APPEND INBOX {{{}+}}\r\n", message.len()).as_bytes());
    client.send(message);
    client.send(b"\r\n");
    let answer = client.answer("a5");
    assert!(answer.starts_with("a5 OK [APPENDUID"), "{answer}");
}

#[test]
fn connection_limits_apply_before_the_handshake() {
    let dir = common::temp_dir();
    let gateway = Gateway::demo_with_env(
        dir.path(),
        &[
            ("IMAP2GRAPH_IMAP_MAX_CONNECTIONS_PER_IP", "20"),
            ("IMAP2GRAPH_IMAP_MAX_HANDSHAKES_PER_IP", "4"),
            ("IMAP2GRAPH_IMAP_HANDSHAKE_TIMEOUT_SECS", "30"),
        ],
    );
    let files_before = open_files(&gateway);
    // 320 idle sockets from one address, sending nothing: all but 20 are closed at once.
    let idle: Vec<TcpStream> = (0..320)
        .map(|_| TcpStream::connect(gateway.imap).expect("connect"))
        .collect();
    assert_eq!(
        closed_and_held(&idle),
        (300, 20),
        "closed and held of 320 idle sockets"
    );
    let files_during = open_files(&gateway);
    assert!(
        files_during <= files_before + 20 + 4,
        "the gateway holds {files_during} files with 20 idle clients (before: {files_before})"
    );
    // Another client host logs in and works while they sit in (or wait for) their handshakes:
    // were it queued behind them, it would be closed at the handshake timeout instead.
    let mut other = Client::connect_from("127.0.0.2", &gateway);
    other.login();
    assert!(other.command("o1", "SELECT INBOX").starts_with("o1 OK"));
    drop(idle);
    assert_logged(
        gateway,
        "connection refused at accept: imap.max_connections_per_ip reached",
    );
}

#[test]
fn the_open_file_limit_is_never_reached() {
    let dir = common::temp_dir();
    // A hard limit of 400 open files with max_connections = 1000: the gateway lowers its
    // connection limit to fit, and refuses at accept instead of running out of descriptors.
    let gateway = Gateway::demo_with_env_and_file_limit(
        dir.path(),
        &[("IMAP2GRAPH_IMAP_MAX_CONNECTIONS_PER_IP", "1000")],
        400,
    );
    let mut sockets: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(gateway.imap).expect("connect"))
        .collect();
    assert_eq!(
        closed_and_held(&sockets),
        (300 - (400 - 256), 400 - 256),
        "closed and held of 300 idle sockets under a limit of 400 open files"
    );
    // Once they go (but five), a real client gets in: connections still waiting for their
    // handshake turn notice their client left, and free their places at once.
    sockets.truncate(5);
    let mut client = (0..40)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(250));
            Client::try_connect(&gateway)
        })
        .expect("no connection accepted after the idle sockets left");
    client.login();
    assert!(client.command("c1", "NOOP").starts_with("c1 OK"));
    drop(sockets);
    assert_logged(
        gateway,
        "imap.max_connections lowered to fit the open-file limit",
    );
}

/// Stops the gateway and checks its log says `wanted`, and never that it ran out of files.
fn assert_logged(gateway: Gateway, wanted: &str) {
    let log = gateway.stop().stderr;
    let tail = common::tail(&log, 20);
    assert!(log.contains(wanted), "no {wanted:?} in the log:\n{tail}");
    assert!(!log.contains("Too many open files"), "{tail}");
}

/// Token requests the emulator's identity platform refused so far.
fn refused_token_requests(gateway: &Gateway) -> u64 {
    let stats = gateway.graph().stats();
    stats["tokenRequests"]
        .as_object()
        .expect("tokenRequests in the emulator's stats")
        .iter()
        .filter(|(status, _)| status.as_str() != "200")
        .map(|(_, n)| n.as_u64().unwrap_or(0))
        .sum()
}

/// A sample of the gateway's Prometheus text, by its full name with labels.
fn metric(gateway: &Gateway, sample: &str) -> u64 {
    let (status, body) = common::http_get(&gateway.metrics_address(), "/metrics");
    assert!(status.contains("200"), "{status}");
    body.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {sample} in the metrics:\n{body}"))
}

#[test]
fn wrong_secrets_are_throttled_and_the_right_one_still_works() {
    let dir = common::temp_dir();
    let gateway = Gateway::demo_with_env(
        dir.path(),
        &[
            ("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0"),
            // Logins may wait up to 10 s for their turn, spaced by up to 4 s.
            ("IMAP2GRAPH_IMAP_PRELOGIN_TIMEOUT_SECS", "20"),
            ("IMAP2GRAPH_IMAP_LOGIN_DELAY_MAX_SECS", "4"),
        ],
    );
    // The messaging server is logged in already: its secret has a token.
    let mut witness = Client::connect(&gateway);
    witness.login();
    let name = common::login_name(ALICE);

    // 200 wrong secrets from one address over 50 parallel connections: half of them one
    // repeated secret, half all different.
    let answers: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..50)
            .map(|worker| {
                let (imap, cert) = (gateway.imap, gateway.cert.clone());
                let name = &name;
                scope.spawn(move || {
                    let connect = || Client::over(common::tls_connect(imap, &cert));
                    let mut answers = Vec::new();
                    let mut client = connect();
                    let mut failed_here = 0;
                    for attempt in 0..4 {
                        let secret = if worker % 2 == 0 {
                            "wrong-repeated".to_string()
                        } else {
                            format!("wrong-{worker}-{attempt}")
                        };
                        client.send(format!("g LOGIN \"{name}\" \"{secret}\"\r\n").as_bytes());
                        let lines = client.until_tagged("g");
                        failed_here += 1;
                        let closed = lines.iter().any(|line| line.starts_with("* BYE"));
                        // The tagged answer, or the BYE of a connection whose pre-login time
                        // ran out while it waited its turn.
                        let answer = lines
                            .iter()
                            .find(|line| line.starts_with("g "))
                            .or(lines.last())
                            .cloned()
                            .unwrap_or_default();
                        answers.push(answer);
                        // Three failed logins end a connection: open another.
                        if failed_here == 3 && !closed {
                            let bye = client.line();
                            assert!(bye.starts_with("* BYE"), "{bye:?} after {answers:?}");
                        }
                        if failed_here == 3 || closed {
                            client = connect();
                            failed_here = 0;
                        }
                    }
                    answers
                })
            })
            .collect();
        // Meanwhile the right secret logs in on a new connection, without waiting its turn.
        let mut right = Client::connect(&gateway);
        right.login();
        assert!(right.command("r1", "SELECT INBOX").starts_with("r1 OK"));
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("worker"))
            .collect()
    });
    assert_eq!(answers.len(), 200);
    for answer in &answers {
        assert!(
            answer.starts_with("g NO [AUTHENTICATIONFAILED]")
                || answer.starts_with("g NO [UNAVAILABLE] too many failed logins lately")
                || answer == "* BYE Login timed out",
            "{answer}"
        );
        assert!(
            !answer.contains("wrong-"),
            "a secret in an answer: {answer}"
        );
    }
    let asked = refused_token_requests(&gateway);
    let unavailable = answers.iter().filter(|a| a.contains("UNAVAILABLE")).count();
    eprintln!(
        "200 wrong secrets over 50 connections: {asked} reached the identity platform, \
         {unavailable} refused as too many"
    );
    assert!(
        asked <= 20,
        "{asked} of 200 wrong secrets reached the identity platform"
    );
    assert_eq!(
        metric(
            &gateway,
            "imap2graph_logins_throttled_total{action=\"refused_throttled\"}"
        ),
        unavailable as u64
    );
    // The repeated secret, from a fresh address, is refused without asking again.
    let before = refused_token_requests(&gateway);
    let mut fresh = Client::connect_from("127.0.0.3", &gateway);
    let answer = fresh.command("h", &format!("LOGIN \"{name}\" \"wrong-repeated\""));
    assert!(
        answer.starts_with("h NO [AUTHENTICATIONFAILED]"),
        "{answer}"
    );
    assert_eq!(refused_token_requests(&gateway), before);
    assert!(
        metric(
            &gateway,
            "imap2graph_logins_throttled_total{action=\"refused_cached\"}"
        ) >= 1
    );
    // The witness session never noticed.
    assert!(witness.command("w1", "SELECT INBOX").starts_with("w1 OK"));
}
