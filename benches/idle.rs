//! IDLE cost: Graph requests made while N sessions IDLE on one folder, for N = 1, 10, 100 by
//! default. The hub runs one poller per folder, so the count should not grow with N.
//!
//! `cargo bench --bench idle -- [--seconds S] [--sessions 1,10,100]` (default 60 s per N).
//! Traffic stays on 127.0.0.1; each run is bounded by its duration.

use std::time::Duration;

use imap2graph_emulator::demo;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

mod common;
use common::Client;

fn options() -> (u64, Vec<usize>) {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds = value("--seconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let sessions = value("--sessions")
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 10, 100]);
    (seconds, sessions)
}

async fn idle_session(setup: &common::Setup) -> Client {
    let mut client = Client::connect(setup.imap, setup.tls.clone())
        .await
        .expect("connect");
    let login = format!(
        "LOGIN \"{}/{}/{}\" \"{}\"",
        demo::TENANT,
        demo::CLIENT_ID,
        demo::ALICE,
        demo::SECRET
    );
    assert!(
        client.command(&login).await.expect("login").0,
        "LOGIN failed"
    );
    assert!(
        client.command("SELECT INBOX").await.expect("select").0,
        "SELECT failed"
    );
    client
        .stream
        .get_mut()
        .write_all(b"idle IDLE\r\n")
        .await
        .expect("IDLE");
    let mut line = String::new();
    client
        .stream
        .read_line(&mut line)
        .await
        .expect("continuation");
    assert!(line.starts_with('+'), "IDLE refused: {line}");
    client
}

fn main() {
    let (seconds, counts) = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        println!("idle: Graph requests while N sessions IDLE on alice's INBOX for {seconds} s (poll interval 10 s)");
        println!("{:>9} {:>15} {:>22}", "sessions", "Graph requests", "requests per session");
        for n in counts {
            let setup = common::start(&[]).await;
            let mut sessions = Vec::with_capacity(n);
            for _ in 0..n {
                sessions.push(idle_session(&setup).await);
            }
            let before = setup.emulator.stats_json()["total"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            let after = setup.emulator.stats_json()["total"].as_u64().unwrap_or(0);
            let requests = after - before;
            println!("{n:>9} {requests:>15} {:>22.2}", requests as f64 / n as f64);
            for mut session in sessions {
                let _ = session.stream.get_mut().write_all(b"DONE\r\nz LOGOUT\r\n").await;
            }
            setup.stop().await;
        }
    });
}
