//! Memory that returns (issue 13, item 4): what an idle authenticated session costs the gateway,
//! and what the gateway keeps once a load is over. The Graph emulator (`imap2graph emulator
//! --seed`) and the gateway (`imap2graph serve`) each run as their own process, so the resident
//! memory read (VmRSS from /proc) is the gateway's alone; the emulator's throttling is switched
//! off, as what is measured here is memory, not pacing.
//!
//! - Idle sessions: N sessions spread over M mailboxes, each logged in with INBOX selected and in
//!   IDLE; the figure is (RSS holding them − RSS before) / N, then the RSS once they left.
//! - After a load: S sessions over the M mailboxes repeat a voicemail-like round (LOGIN, SELECT
//!   INBOX, APPEND, UID FETCH of flags and sizes, FETCH of the newest bodies, STORE \Seen,
//!   LOGOUT) for D seconds; the figures are the RSS before, at its peak during, at its end, 10 s
//!   and L s after the last session left, beside the body cache's bound (`cache.body_bytes`).
//!
//! `cargo bench --bench memory -- [--idle 1000,10000] [--mailboxes 100] [--load-sessions 100]
//!   [--load-seconds 30] [--body-cache-mib 64] [--message-kib 32] [--messages 20]
//!   [--linger-seconds 100]`
//! With `IMAP2GRAPH_BENCH_WRAP="heaptrack -o /tmp/x"` the gateway runs under that command (a
//! heap profiler, whose own bookkeeping then inflates the RSS figures: read its report instead).
//! The gateway is killed (SIGKILL) at the end of each phase, so the report's "leaked" memory is
//! what it held at that moment.
//! Traffic stays on 127.0.0.1; every phase is bounded by its session count or its duration.

mod common;

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use imap2graph_emulator::demo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use common::Client;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;
/// How long RSS is left to settle before it is read: past the gateway's memory watcher's
/// interval (5 s), which gives freed memory back.
const SETTLE: Duration = Duration::from_secs(10);

struct Options {
    idle: Vec<usize>,
    mailboxes: usize,
    load_sessions: usize,
    load_seconds: u64,
    body_cache_mib: usize,
    message_kib: usize,
    seeded_messages: usize,
    linger_seconds: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let number =
        |name: &str, default: usize| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    Options {
        idle: value("--idle")
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .unwrap_or_else(|| vec![1000, 10_000]),
        mailboxes: number("--mailboxes", 100).max(1),
        load_sessions: number("--load-sessions", 100),
        load_seconds: number("--load-seconds", 30) as u64,
        body_cache_mib: number("--body-cache-mib", 64),
        message_kib: number("--message-kib", 32),
        seeded_messages: number("--messages", 20),
        linger_seconds: number("--linger-seconds", 100) as u64,
    }
}

fn mailbox(index: usize) -> String {
    format!("user{}@{}", index + 1, demo::TENANT)
}

fn login_command(mailbox: &str) -> String {
    format!(
        "LOGIN \"{}/{}/{}\" \"{}\"",
        demo::TENANT,
        demo::CLIENT_ID,
        mailbox,
        demo::SECRET
    )
}

/// A message of about `bytes` bytes, plain ASCII.
fn message(bytes: usize, serial: u64) -> String {
    let mut text = format!(
        "From: caller{serial}@example.net\r\nTo: subscriber@{}\r\nSubject: voice message {serial}\r\nMessage-ID: <bench-{serial}@example.net>\r\nDate: Thu, 03 Dec 2026 06:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n",
        demo::TENANT
    );
    let line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwx\r\n";
    while text.len() + line.len() <= bytes {
        text.push_str(line);
    }
    text
}

/// Seeds `mailboxes` mailboxes, each INBOX holding a few small messages.
fn write_seed(dir: &Path, mailboxes: usize, messages: usize) {
    for m in 0..mailboxes {
        let inbox = dir.join(mailbox(m)).join("Inbox");
        std::fs::create_dir_all(&inbox).expect("seed dir");
        for n in 0..messages {
            let serial = (m * messages + n) as u64;
            std::fs::write(inbox.join(format!("{n:03}.eml")), message(2 * KIB, serial))
                .expect("seed message");
        }
    }
}

/// A child process of this binary (or, under a wrapper, the wrapper and the imap2graph process
/// it started), killed when dropped: SIGKILL, so that a heap profiler's report of what was never
/// freed shows what the process held at that moment.
struct Process {
    child: Child,
    pid: u32,
}

impl Process {
    fn new(child: Child) -> Process {
        let pid = imap2graph_descendant(child.id()).unwrap_or(child.id());
        Process { child, pid }
    }
}

/// The process running this build's imap2graph among `pid` and its descendants.
fn imap2graph_descendant(pid: u32) -> Option<u32> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    if exe == Path::new(env!("CARGO_BIN_EXE_imap2graph")) {
        return Some(pid);
    }
    let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|child| child.parse().ok())
        .find_map(imap2graph_descendant)
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: kill only sends a signal, to a process this bench started.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
        // A wrapper is given time to write its report.
        let deadline = Instant::now() + Duration::from_secs(60);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `imap2graph ARGS` (under `IMAP2GRAPH_BENCH_WRAP` when set) and returns it with the
/// rest of the line it printed after `prefix`.
fn spawn(args: &[&str], prefix: &str) -> (Process, String) {
    let wrap = std::env::var("IMAP2GRAPH_BENCH_WRAP").unwrap_or_default();
    let mut words: Vec<String> = if prefix == "IMAPS: " {
        wrap.split_whitespace().map(str::to_string).collect()
    } else {
        Vec::new()
    };
    words.push(env!("CARGO_BIN_EXE_imap2graph").into());
    words.extend(args.iter().map(|a| a.to_string()));
    let mut child = Command::new(&words[0])
        .args(&words[1..])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", words[0]));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let found = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{} ended before printing {prefix:?}", words[0]))
            .expect("stdout");
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (Process::new(child), found)
}

/// The Graph emulator serving the seeded mailboxes, throttling off.
struct Graph {
    _process: Process,
    address: String,
}

impl Graph {
    async fn start(seed: &Path) -> Graph {
        let (process, url) = spawn(
            &[
                "emulator",
                "--listen",
                "127.0.0.1:0",
                "--seed",
                seed.to_str().expect("UTF-8 path"),
            ],
            "Graph emulator: ",
        );
        let address = url.trim_start_matches("http://").to_string();
        let answer = http_post(&address, "/_emulator/throttle", r#"{"enabled":false}"#).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        Graph {
            _process: process,
            address,
        }
    }
}

async fn http_post(address: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
}

/// The gateway as its own process.
struct Gateway {
    process: Process,
    imap: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start(graph: &Graph, body_cache_bytes: usize) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) =
            imap2graph::tls::write_self_signed(dir.path(), &["localhost".into()]).expect("cert");
        let config = format!(
            r#"[imap]
listen = "127.0.0.1:0"
max_connections = 19000
max_connections_per_ip = 19000
max_handshakes = 200
max_handshakes_per_ip = 200

[tls]
cert = "{cert}"
key = "{key}"

[graph]
base_url = "http://{graph}/v1.0"

[identity]
authority = "http://{graph}"

[store]
path = "{store}"

[cache]
body_bytes = {body_cache_bytes}
"#,
            cert = cert.display(),
            key = key.display(),
            graph = graph.address,
            store = dir.path().join("uids.sqlite").display(),
        );
        let path = dir.path().join("imap2graph.toml");
        std::fs::write(&path, config).expect("config");
        let (process, imap) = spawn(
            &["serve", "--config", path.to_str().expect("UTF-8 path")],
            "IMAPS: ",
        );
        Gateway {
            process,
            imap: imap.parse().expect("IMAPS address"),
            _dir: dir,
        }
    }

    /// VmRSS of the gateway process, in bytes.
    fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.pid))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .map(|kib: usize| kib * KIB)
            .expect("VmRSS")
    }
}

/// Raises this process's soft limit of open files to its hard limit: it holds one socket per
/// session it opens.
fn raise_open_files() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 1024;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
    }
    limit.rlim_cur
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB as f64)
}

/// A session logged in to `mailbox`, INBOX selected, in IDLE.
async fn idle_session(gateway: SocketAddr, mailbox: &str) -> Client {
    let mut client = Client::connect(gateway, common::client_tls())
        .await
        .expect("connect");
    let (ok, _) = client
        .command(&login_command(mailbox))
        .await
        .expect("LOGIN");
    assert!(ok, "LOGIN to {mailbox} failed");
    let (ok, _) = client.command("SELECT INBOX").await.expect("SELECT");
    assert!(ok, "SELECT INBOX of {mailbox} failed");
    client
        .stream
        .get_mut()
        .write_all(b"i IDLE\r\n")
        .await
        .expect("IDLE");
    let mut line = String::new();
    client
        .stream
        .read_line(&mut line)
        .await
        .expect("IDLE answer");
    assert!(line.starts_with('+'), "IDLE refused: {line}");
    client
}

/// Opens `count` idle sessions over `mailboxes` mailboxes, a few handshakes at a time.
async fn open_idle_sessions(gateway: SocketAddr, count: usize, mailboxes: usize) -> Vec<Client> {
    let turns = Arc::new(Semaphore::new(32));
    let opening: Vec<_> = (0..count)
        .map(|i| {
            let turns = turns.clone();
            tokio::spawn(async move {
                let _turn = turns.acquire_owned().await.expect("semaphore");
                idle_session(gateway, &mailbox(i % mailboxes)).await
            })
        })
        .collect();
    let mut sessions = Vec::with_capacity(count);
    for session in opening {
        sessions.push(session.await.expect("session task"));
    }
    sessions
}

async fn measure_idle(graph: &Graph, options: &Options, count: usize) {
    let gateway = Gateway::start(graph, options.body_cache_mib * MIB);
    // Warm up: every mailbox opened once (its hub, folder tree and INBOX listing exist) and
    // left, so the baseline holds what the sessions share.
    let warm = open_idle_sessions(gateway.imap, options.mailboxes, options.mailboxes).await;
    drop(warm);
    tokio::time::sleep(SETTLE).await;
    let before = gateway.rss();
    let started = Instant::now();
    let sessions = open_idle_sessions(gateway.imap, count, options.mailboxes).await;
    let opened_in = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let holding = gateway.rss();
    drop(sessions);
    tokio::time::sleep(SETTLE).await;
    let after = gateway.rss();
    let per_session = holding.saturating_sub(before) as f64 / count as f64 / KIB as f64;
    println!(
        "| {count:>8} | {:>9} | {:>11} | {:>11} | {per_session:>17.1} | {:>13} | {:>6.1} s |",
        options.mailboxes,
        mib(before),
        mib(holding),
        mib(after),
        opened_in.as_secs_f64()
    );
}

/// One round of the load: what a voicemail system does with a mailbox.
async fn load_round(
    gateway: SocketAddr,
    mailbox: &str,
    message_bytes: usize,
    serial: u64,
) -> std::io::Result<()> {
    let mut client = Client::connect(gateway, common::client_tls()).await?;
    let body = message(message_bytes, serial);
    let steps = [
        login_command(mailbox),
        "SELECT INBOX".into(),
        format!("APPEND INBOX {{{}+}}\r\n{body}", body.len()),
        "UID FETCH 1:* (UID FLAGS RFC822.SIZE)".into(),
        "FETCH 1:* (UID FLAGS RFC822.SIZE)".into(),
        "FETCH *:* BODY.PEEK[]".into(),
        "STORE *:* +FLAGS (\\Seen)".into(),
        "LOGOUT".into(),
    ];
    for step in steps {
        let (ok, _) = client.command(&step).await?;
        if !ok && step != "LOGOUT" {
            let name = step.split_whitespace().next().unwrap_or("");
            return Err(std::io::Error::other(format!("{name} failed")));
        }
    }
    Ok(())
}

async fn measure_load(graph: &Graph, options: &Options) {
    let bound = options.body_cache_mib * MIB;
    let gateway = Gateway::start(graph, bound);
    tokio::time::sleep(SETTLE).await;
    let before = gateway.rss();
    let deadline = Instant::now() + Duration::from_secs(options.load_seconds);
    let message_bytes = options.message_kib * KIB;
    let sessions: Vec<_> = (0..options.load_sessions)
        .map(|i| {
            let mailbox = mailbox(i % options.mailboxes);
            let imap = gateway.imap;
            tokio::spawn(async move {
                let (mut rounds, mut failures) = (0u64, 0u64);
                while Instant::now() < deadline {
                    let serial = (i as u64) << 32 | rounds;
                    match load_round(imap, &mailbox, message_bytes, serial).await {
                        Ok(()) => rounds += 1,
                        Err(err) => {
                            failures += 1;
                            if failures <= 3 {
                                eprintln!("load round on {mailbox} failed: {err}");
                            }
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
                (rounds, failures)
            })
        })
        .collect();
    let mut peak = before;
    let mut rounds = 0;
    let mut failures = 0;
    let mut waiting = sessions.into_iter();
    let mut current = waiting.next();
    while let Some(session) = current.as_mut() {
        tokio::select! {
            done = session => {
                let (r, f) = done.expect("load task");
                rounds += r;
                failures += f;
                current = waiting.next();
            }
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                peak = peak.max(gateway.rss());
            }
        }
    }
    let ended = gateway.rss();
    tokio::time::sleep(SETTLE).await;
    let settled = gateway.rss();
    let linger = Duration::from_secs(options.linger_seconds);
    tokio::time::sleep(linger.saturating_sub(SETTLE)).await;
    let lingered = gateway.rss();
    println!(
        "load: {} sessions over {} mailboxes for {} s, {} KiB messages: {rounds} rounds, {failures} failed",
        options.load_sessions, options.mailboxes, options.load_seconds, options.message_kib
    );
    let after_linger = format!("{} s later", options.linger_seconds);
    println!(
        "| {:>11} | {:>11} | {:>11} | {:>11} | {:>11} | {:>16} |",
        "RSS before", "RSS peak", "at the end", "10 s later", after_linger, "body cache bound"
    );
    println!(
        "|{:-<13}|{:-<13}|{:-<13}|{:-<13}|{:-<13}|{:-<18}|",
        "", "", "", "", "", ""
    );
    println!(
        "| {:>11} | {:>11} | {:>11} | {:>11} | {:>11} | {:>16} |",
        mib(before),
        mib(peak),
        mib(ended),
        mib(settled),
        mib(lingered),
        mib(bound)
    );
    println!(
        "after the load: {} above the RSS before it 10 s later, {} after {} s (folder indexes of hubs without sessions go after 60 s, idle Graph connections after 90 s); the body cache's bound is {}",
        mib(settled.saturating_sub(before)),
        mib(lingered.saturating_sub(before)),
        options.linger_seconds,
        mib(bound)
    );
}

fn main() {
    let options = options();
    let open_files = raise_open_files() as usize;
    imap2graph::tls::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let seed = tempfile::tempdir().expect("temp dir");
    write_seed(seed.path(), options.mailboxes, options.seeded_messages);
    runtime.block_on(async {
        let graph = Graph::start(seed.path()).await;
        println!(
            "Gateway memory per idle session: N sessions over M mailboxes, each logged in with INBOX selected and in IDLE (VmRSS of the gateway process; {} messages per INBOX; RSS after: 10 s after they left)",
            options.seeded_messages
        );
        println!(
            "| {:>8} | {:>9} | {:>11} | {:>11} | {:>17} | {:>13} | {:>8} |",
            "sessions", "mailboxes", "RSS before", "RSS holding", "KiB per session", "RSS after", "opened in"
        );
        println!(
            "|{:-<10}|{:-<11}|{:-<13}|{:-<13}|{:-<19}|{:-<15}|{:-<10}|",
            "", "", "", "", "", "", ""
        );
        for &count in &options.idle {
            if count + 64 > open_files {
                println!("| {count:>8} | skipped: this process may open {open_files} files |");
                continue;
            }
            measure_idle(&graph, &options, count).await;
        }
        if options.load_sessions > 0 && options.load_seconds > 0 {
            measure_load(&graph, &options).await;
        }
    });
}
