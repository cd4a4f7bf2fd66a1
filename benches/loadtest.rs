//! The gateway against Dovecot under `imap2graph loadtest`, in one run: the same workload, the
//! same number of sessions over the same number of mailboxes holding the same seeded messages,
//! over TLS on loopback, first against `imap2graph serve` (with the Graph emulator seeded with
//! the mailboxes, `imap2graph emulator --seed`), then against a private Dovecot 2.3 (sdbox,
//! tests/common/dovecot_server.rs). It prints each run's table, then per workload the
//! gateway/Dovecot ratio of commands per second, latencies side by side, Graph requests per IMAP
//! command and 429s, and writes the figures to target/loadtest/latest.json.
//!
//! `cargo bench --bench loadtest -- [--sessions N] [--mailboxes M] [--seconds S]
//!  [--workload um|mixed|both] [--mp3-kib K]` (defaults: 100 sessions, 100 mailboxes, 60 s, both,
//! 32 KiB, as the imaptest figures). Both servers and the load generator share the
//! machine; Dovecot needs Debian's dovecot-imapd. Few mailboxes measure Graph's budget rather
//! than the gateway: it paces each mailbox to 10,000 requests per 10 minutes (about 17 a
//! second after the burst), so 10 mailboxes at 0.6 requests per command cap it near 280
//! commands a second, whatever Dovecot does.

#[path = "../tests/common/dovecot_server.rs"]
mod dovecot_server;
#[path = "../tests/common/mod.rs"]
mod harness;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// Seeded messages in each mailbox's Inbox, on both servers.
const SEEDED_PER_MAILBOX: usize = 10;
/// The password of every Dovecot user.
const DOVECOT_PASSWORD: &str = "loadtest-bench";

struct Options {
    sessions: usize,
    mailboxes: usize,
    seconds: u64,
    workloads: Vec<&'static str>,
    mp3_kib: usize,
}

fn options() -> Options {
    let mut options = Options {
        sessions: 100,
        mailboxes: 100,
        seconds: 60,
        workloads: vec!["um", "mixed"],
        mp3_kib: 32,
    };
    let args: Vec<String> = std::env::args().collect();
    let mut index = 1;
    while index < args.len() {
        let value = args.get(index + 1).cloned().unwrap_or_default();
        let number = value.parse::<u64>().ok();
        match (args[index].as_str(), number) {
            ("--sessions", Some(v)) => options.sessions = v as usize,
            ("--mailboxes", Some(v)) => options.mailboxes = v as usize,
            ("--seconds", Some(v)) => options.seconds = v,
            ("--mp3-kib", Some(v)) => options.mp3_kib = v as usize,
            ("--workload", _) => {
                options.workloads = match value.as_str() {
                    "um" => vec!["um"],
                    "mixed" => vec!["mixed"],
                    _ => vec!["um", "mixed"],
                }
            }
            // cargo bench adds --bench; anything unknown is skipped.
            _ => {
                index += 1;
                continue;
            }
        }
        index += 2;
    }
    options
}

fn mailbox(n: usize) -> String {
    format!("user{n}@{}", harness::TENANT)
}

/// The same messages for every mailbox of both servers.
fn seed_messages() -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(13);
    (0..SEEDED_PER_MAILBOX)
        .map(|n| {
            imap2graph::loadtest::workload::text_message(
                &format!("<seed{n}@loadtest.imap2graph.invalid>"),
                "subscriber@contoso.example",
                &mut rng,
            )
        })
        .collect()
}

/// `imap2graph loadtest … --json` against one server; its report.
fn loadtest(args: &[String]) -> Value {
    let mut command = harness::binary_command();
    command.arg("loadtest").args(args).arg("--json");
    let output = harness::run(command, Duration::from_secs(3600));
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|err| {
        panic!(
            "loadtest printed no report ({err}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn figure(report: &Value, key: &str) -> f64 {
    report[key].as_f64().unwrap_or(0.0)
}

fn print_side_by_side(gateway: &Value, dovecot: &Value) {
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "command", "gw p50", "dc p50", "gw p95", "dc p95", "gw p99", "dc p99"
    );
    let names = gateway["per_command"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (name, ours) in names {
        let theirs = &dovecot["per_command"][&name];
        let ms = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        println!(
            "{name:<12} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            ms(&ours, "p50_ms"),
            ms(theirs, "p50_ms"),
            ms(&ours, "p95_ms"),
            ms(theirs, "p95_ms"),
            ms(&ours, "p99_ms"),
            ms(theirs, "p99_ms"),
        );
    }
}

fn main() {
    let options = options();
    let seed = seed_messages();

    // The gateway: the emulator seeded with the mailboxes, `serve` with metrics.
    let seed_dir = harness::temp_dir();
    for n in 1..=options.mailboxes {
        let inbox = seed_dir.path().join(mailbox(n)).join("Inbox");
        std::fs::create_dir_all(&inbox).expect("seed directory");
        for (i, message) in seed.iter().enumerate() {
            std::fs::write(inbox.join(format!("{i:03}.eml")), message).expect("seed message");
        }
    }
    let mut command = harness::binary_command();
    command
        .args(["emulator", "--listen", "127.0.0.1:0", "--seed"])
        .arg(seed_dir.path());
    let (emulator, found) =
        harness::Process::spawn("imap2graph emulator", command, &["Graph emulator: "]);
    let graph_url = found[0].clone();
    let gateway_dir = harness::temp_dir();
    let connections = (options.sessions * 2).max(100).to_string();
    let gateway = harness::Gateway::serve(
        gateway_dir.path(),
        &graph_url,
        &[
            ("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0"),
            (
                "IMAP2GRAPH_IMAP_MAX_CONNECTIONS_PER_IP",
                connections.as_str(),
            ),
        ],
    );
    let metrics = format!("http://{}/metrics", gateway.metrics_address());

    // Dovecot with the same mailboxes and messages.
    let dovecot =
        dovecot_server::DovecotServer::start(Path::new(harness::binary()), DOVECOT_PASSWORD);
    for n in 1..=options.mailboxes {
        dovecot.seed(&format!("user{n}"), &seed);
    }

    let common = |workload: &str| -> Vec<String> {
        [
            "--tls",
            "--tls-name",
            "localhost",
            "--mailboxes",
            &options.mailboxes.to_string(),
            "--sessions",
            &options.sessions.to_string(),
            "--workload",
            workload,
            "--duration",
            &options.seconds.to_string(),
            "--mp3-kib",
            &options.mp3_kib.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let mut results = Vec::new();
    for workload in &options.workloads {
        let mut args = common(workload);
        args.extend([
            "--target".to_string(),
            gateway.imap.to_string(),
            "--ca-file".into(),
            gateway.cert.display().to_string(),
            "--user".into(),
            harness::login_name("user%d@contoso.example"),
            "--password".into(),
            harness::SECRET.into(),
            "--metrics".into(),
            metrics.clone(),
        ]);
        println!("--- {workload}: the gateway ---");
        let ours = loadtest(&args);
        let mut args = common(workload);
        args.extend([
            "--target".to_string(),
            dovecot.address.clone(),
            "--ca-file".into(),
            dovecot.cert.display().to_string(),
            "--user".into(),
            "user%d".into(),
            "--password".into(),
            DOVECOT_PASSWORD.into(),
        ]);
        println!("--- {workload}: Dovecot ---");
        let theirs = loadtest(&args);
        let ratio =
            figure(&ours, "commands_per_second") / figure(&theirs, "commands_per_second").max(1e-9);
        println!(
            "{workload}: {} sessions on {} mailboxes, {} s each",
            options.sessions, options.mailboxes, options.seconds
        );
        println!(
            "  gateway {:.1} commands/s ({} errors, {} consistency errors), Dovecot {:.1} \
             commands/s ({} errors, {} consistency errors): ratio {ratio:.2}",
            figure(&ours, "commands_per_second"),
            ours["errors"],
            ours["consistency_errors"],
            figure(&theirs, "commands_per_second"),
            theirs["errors"],
            theirs["consistency_errors"],
        );
        println!(
            "  Graph: {:.3} requests per IMAP command, {} answered 429",
            figure(&ours, "graph_requests_per_command"),
            ours["graph_429"]
        );
        if ours["consistency_errors"] != 0 {
            println!("  gateway discrepancies: {}", ours["consistency"]);
        }
        print_side_by_side(&ours, &theirs);
        results.push(json!({
            "workload": workload,
            "sessions": options.sessions,
            "mailboxes": options.mailboxes,
            "seconds": options.seconds,
            "mp3_kib": options.mp3_kib,
            "ratio": (ratio * 1000.0).round() / 1000.0,
            "gateway": ours,
            "dovecot": theirs,
        }));
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/loadtest");
    if std::fs::create_dir_all(&out).is_ok() {
        let path = out.join("latest.json");
        if std::fs::write(
            &path,
            serde_json::to_string_pretty(&results).unwrap_or_default(),
        )
        .is_ok()
        {
            println!("figures written to {}", path.display());
        }
    }
    drop(dovecot);
    gateway.stop();
    let _ = emulator.terminate();
}
