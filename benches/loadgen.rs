//! Load generator: the gateway and the Graph emulator in one process, driven over real TLS by N
//! concurrent IMAP sessions that each repeat a workload (LOGIN, SELECT INBOX, UID FETCH of all
//! flags and sizes, UID FETCH of ten bodies, LOGOUT). It reports throughput, latency percentiles
//! per command, Graph requests per workload (counted by the emulator) and peak memory.
//!
//! `cargo bench --bench loadgen -- [--sessions N] [--iterations M] [--seconds S]`
//! Traffic stays on 127.0.0.1; the run is bounded by iterations and by time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use imap2graph_emulator::demo;

mod common;
use common::Client;

struct Options {
    sessions: usize,
    iterations: usize,
    seconds: u64,
}

fn options() -> Options {
    let mut options = Options {
        sessions: 10,
        iterations: 20,
        seconds: 60,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        let value = args.get(index + 1).and_then(|v| v.parse().ok());
        match (args[index].as_str(), value) {
            ("--sessions", Some(v)) => options.sessions = v,
            ("--iterations", Some(v)) => options.iterations = v,
            ("--seconds", Some(v)) => options.seconds = v as u64,
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

#[derive(Default)]
struct Latencies(BTreeMap<&'static str, Vec<Duration>>);

impl Latencies {
    fn record(&mut self, name: &'static str, took: Duration) {
        self.0.entry(name).or_default().push(took);
    }

    fn merge(&mut self, other: Latencies) {
        for (name, mut values) in other.0 {
            self.0.entry(name).or_default().append(&mut values);
        }
    }
}

async fn run_session(
    addr: std::net::SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    iterations: usize,
    deadline: Instant,
    seed: u64,
) -> std::io::Result<(Latencies, usize, usize)> {
    let mut latencies = Latencies::default();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut completed = 0;
    let mut bytes = 0;
    for _ in 0..iterations {
        if Instant::now() >= deadline {
            break;
        }
        let mut client = Client::connect(addr, tls.clone()).await?;
        let steps: Vec<(&'static str, String)> = vec![
            (
                "LOGIN",
                format!(
                    "LOGIN \"{}/{}/{}\" \"{}\"",
                    demo::TENANT,
                    demo::CLIENT_ID,
                    demo::ALICE,
                    demo::SECRET
                ),
            ),
            ("SELECT", "SELECT INBOX".into()),
            (
                "UID FETCH flags",
                "UID FETCH 1:* (UID FLAGS RFC822.SIZE)".into(),
            ),
            (
                "UID FETCH bodies",
                format!(
                    "UID FETCH {} BODY.PEEK[]",
                    (0..10)
                        .map(|_| rng.u32(1..=100).to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            ("LOGOUT", "LOGOUT".into()),
        ];
        for (name, text) in steps {
            let started = Instant::now();
            let (ok, received) = client.command(&text).await?;
            latencies.record(name, started.elapsed());
            bytes += received;
            if !ok {
                return Err(std::io::Error::other(format!("{name} failed")));
            }
        }
        completed += 1;
    }
    Ok((latencies, completed, bytes))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let setup = common::start(&[]).await;
        let (emulator, addr, tls) = (setup.emulator.clone(), setup.imap, setup.tls.clone());
        let before = emulator.stats_json();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(options.seconds);
        let sessions: Vec<_> = (0..options.sessions)
            .map(|i| {
                tokio::spawn(run_session(
                    addr,
                    tls.clone(),
                    options.iterations,
                    deadline,
                    i as u64,
                ))
            })
            .collect();
        let mut latencies = Latencies::default();
        let (mut workloads, mut bytes, mut failures) = (0usize, 0usize, 0usize);
        for session in sessions {
            match session.await {
                Ok(Ok((l, n, b))) => {
                    latencies.merge(l);
                    workloads += n;
                    bytes += b;
                }
                Ok(Err(err)) => {
                    failures += 1;
                    eprintln!("session failed: {err}");
                }
                Err(err) => {
                    failures += 1;
                    eprintln!("session panicked: {err}");
                }
            }
        }
        let elapsed = started.elapsed();
        let after = emulator.stats_json();
        let graph_requests =
            after["total"].as_u64().unwrap_or(0) - before["total"].as_u64().unwrap_or(0);
        println!(
            "loadgen: {} sessions x up to {} workloads, {:.1} s",
            options.sessions,
            options.iterations,
            elapsed.as_secs_f64()
        );
        println!(
            "workloads completed: {workloads} ({:.1}/s), failed sessions: {failures}",
            workloads as f64 / elapsed.as_secs_f64()
        );
        println!("IMAP bytes received: {:.1} MB", bytes as f64 / 1e6);
        println!(
            "Graph requests: {graph_requests} total, {:.1} per workload",
            graph_requests as f64 / workloads.max(1) as f64
        );
        println!("Graph requests by route: {}", after["routeTotals"]);
        println!("throttled by the emulator: {}", after["throttled"]);
        println!(
            "{:<18} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "command", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for (name, mut values) in latencies.0 {
            values.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{name:<18} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                values.len(),
                ms(percentile(&values, 0.5)),
                ms(percentile(&values, 0.9)),
                ms(percentile(&values, 0.99)),
                ms(*values.last().expect("non-empty")),
            );
        }
        if let Some(kib) = common::peak_rss_kib() {
            println!(
                "peak RSS (gateway + emulator + load generator): {:.1} MiB",
                kib as f64 / 1024.0
            );
        }
        setup.stop().await;
    });
}
