//! Memory per connection under hostile input: starts `imap2graph demo` as its own process and
//! reads its resident memory (VmRSS) while N connections each hold the worst their phase
//! allows, so the figure is the gateway's alone.
//!
//! Scenarios, each against a fresh gateway:
//! - idle before login: TLS done, nothing sent;
//! - before login, worst case: a command line up to the 8 KB pre-login limit announcing a
//!   literal of the same size, the literal sent but for its last byte (the most a connection can
//!   make the gateway hold before login);
//! - before login, a line without end (1 MB sent, dropped as it arrives);
//! - logged in with INBOX selected, idle;
//! - logged in, a line without end (1 MB sent; the line limit is imap.max_command_bytes);
//! - logged in, an APPEND literal of 1 MB sent but for its last byte (a literal is held until it
//!   is complete: the bound is imap.max_literal_bytes, 1 MB here).
//!
//! `cargo bench --bench hostile [-- --connections N]`

mod common;

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Stream = BufReader<tokio_rustls::client::TlsStream<TcpStream>>;

const MIB: usize = 1024 * 1024;

struct Gateway {
    child: Child,
    imap: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Gateway {
    fn start() -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_imap2graph"))
            .args(["demo", "--imap", "127.0.0.1:0", "--graph", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path())
            .env("IMAP2GRAPH_IMAP_MAX_CONNECTIONS_PER_IP", "10000")
            .env("IMAP2GRAPH_IMAP_MAX_HANDSHAKES_PER_IP", "100")
            .env("IMAP2GRAPH_IMAP_MAX_LITERAL_BYTES", MIB.to_string())
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start imap2graph demo");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let imap = loop {
            let line = lines
                .next()
                .expect("the demo printed its addresses")
                .expect("stdout");
            if let Some(address) = line.strip_prefix("IMAPS: ") {
                break address.parse().expect("IMAPS address");
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Gateway {
            child,
            imap,
            _dir: dir,
        }
    }

    fn rss(&self) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .expect("VmRSS")
            * 1024
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(gateway: &Gateway, tls: &Arc<rustls::ClientConfig>) -> Stream {
    let tcp = TcpStream::connect(gateway.imap).await.expect("connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let stream = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .expect("TLS");
    let mut stream = BufReader::new(stream);
    let mut greeting = String::new();
    stream.read_line(&mut greeting).await.expect("greeting");
    stream
}

async fn until_tagged(stream: &mut Stream, tag: &str) -> String {
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.expect("read") == 0 {
            return line;
        }
        if line.starts_with(tag) || line.starts_with('+') {
            return line;
        }
    }
}

async fn send(stream: &mut Stream, bytes: &[u8]) {
    stream.get_mut().write_all(bytes).await.expect("write");
    stream.get_mut().flush().await.expect("flush");
}

#[derive(Clone, Copy, Debug)]
enum Scenario {
    IdleBeforeLogin,
    WorstBeforeLogin,
    EndlessLineBeforeLogin,
    IdleLoggedIn,
    EndlessLineLoggedIn,
    LiteralLoggedIn,
}

impl Scenario {
    fn describe(self) -> &'static str {
        match self {
            Scenario::IdleBeforeLogin => "before login, idle after TLS",
            Scenario::WorstBeforeLogin => "before login, 8 KB line + 8 KB literal held",
            Scenario::EndlessLineBeforeLogin => "before login, 1 MB line without end",
            Scenario::IdleLoggedIn => "logged in, INBOX selected, idle",
            Scenario::EndlessLineLoggedIn => "logged in, 1 MB line without end",
            Scenario::LiteralLoggedIn => "logged in, 1 MB APPEND literal held",
        }
    }
}

async fn hold(scenario: Scenario, stream: &mut Stream) {
    let filler = vec![b'x'; MIB];
    match scenario {
        Scenario::IdleBeforeLogin => {}
        Scenario::WorstBeforeLogin => {
            let head = b"a LOGIN ";
            let tail = b" {8100}\r\n";
            let mut line = head.to_vec();
            line.extend(std::iter::repeat_n(b'n', 8100 - head.len() - tail.len()));
            line.extend_from_slice(tail);
            send(stream, &line).await;
            let answer = until_tagged(stream, "a ").await;
            assert!(answer.starts_with('+'), "{answer}");
            send(stream, &filler[..8099]).await;
        }
        Scenario::EndlessLineBeforeLogin => {
            send(stream, b"a LOGIN ").await;
            send(stream, &filler).await;
        }
        Scenario::IdleLoggedIn | Scenario::EndlessLineLoggedIn | Scenario::LiteralLoggedIn => {
            let login: &[u8] = b"l LOGIN contoso.example/11111111-2222-3333-4444-555555555555/alice@contoso.example demo-secret\r\ns SELECT INBOX\r\n";
            send(stream, login).await;
            let answer = until_tagged(stream, "s ").await;
            assert!(answer.starts_with("s OK"), "{answer}");
            match scenario {
                Scenario::EndlessLineLoggedIn => {
                    send(stream, b"a SELECT ").await;
                    send(stream, &filler).await;
                }
                Scenario::LiteralLoggedIn => {
                    send(stream, format!("a APPEND INBOX {{{MIB}+}}\r\n").as_bytes()).await;
                    send(stream, &filler[..MIB - 1]).await;
                }
                _ => {}
            }
        }
    }
}

fn main() {
    let connections: usize = std::env::args()
        .skip_while(|arg| arg != "--connections")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let tls = common::client_tls();
    println!("Gateway memory per connection, {connections} connections per scenario (VmRSS of the gateway process, demo with imap.max_literal_bytes = 1 MiB)");
    println!(
        "| {:<45} | {:>12} | {:>12} | {:>16} |",
        "scenario", "RSS before", "RSS holding", "per connection"
    );
    println!("|{:-<47}|{:->14}|{:->14}|{:->18}|", "", "", "", "");
    for scenario in [
        Scenario::IdleBeforeLogin,
        Scenario::WorstBeforeLogin,
        Scenario::EndlessLineBeforeLogin,
        Scenario::IdleLoggedIn,
        Scenario::EndlessLineLoggedIn,
        Scenario::LiteralLoggedIn,
    ] {
        let gateway = Gateway::start();
        runtime.block_on(async {
            // Warm up: one full session, so caches and the hub exist before the baseline.
            let mut warm = connect(&gateway, &tls).await;
            hold(Scenario::IdleLoggedIn, &mut warm).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let before = gateway.rss();
            let mut held = Vec::with_capacity(connections);
            for _ in 0..connections {
                let mut stream = connect(&gateway, &tls).await;
                hold(scenario, &mut stream).await;
                held.push(stream);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let holding = gateway.rss();
            let per = holding.saturating_sub(before) / connections;
            println!(
                "| {:<45} | {:>8} KiB | {:>8} KiB | {:>12} KiB |",
                scenario.describe(),
                before / 1024,
                holding / 1024,
                per / 1024
            );
            drop(warm);
            drop(held);
        });
    }
}
