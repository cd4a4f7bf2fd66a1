//! `imap2graph loadtest` (issue 13, item 1), run as operations run it: the built binary with
//! `--json`, briefly, with both workloads, against the demo gateway (with its metrics) and
//! against a private Dovecot over TLS; each run must end without a failed command or a
//! consistency error, with every command of its workload counted. A last test points it at a
//! small IMAP server that lies (a wrong Message-ID and size for an appended UID, a sequence
//! number beyond what it announced, flags a STORE did not set, an EXPUNGE that removes
//! nothing, other bytes for a section) and requires the checks to see each lie.

mod common;
#[path = "common/dovecot_server.rs"]
mod dovecot_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{Gateway, ALICE, SECRET};
use serde_json::Value;

/// Long enough for a few rounds of each workload on a loaded two-core machine.
const SECONDS: &str = "4";

/// Runs `imap2graph loadtest ARGS --json` and returns its report.
fn loadtest(args: &[&str]) -> Value {
    let mut command = common::binary_command();
    command.arg("loadtest").args(args).arg("--json");
    let output = common::run(command, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|err| {
        panic!(
            "loadtest printed no JSON report ({err}, {}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
            output.status
        )
    });
    for secret in [SECRET, "loadtest-secret"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "the password was printed"
        );
    }
    if !stderr.trim().is_empty() {
        eprintln!("loadtest's stderr:\n{stderr}");
    }
    report
}

fn per_command(report: &Value, name: &str) -> u64 {
    report["per_command"][name]["count"].as_u64().unwrap_or(0)
}

/// No failed command and no discrepancy.
fn assert_clean(report: &Value, what: &str) {
    assert_eq!(report["errors"], 0, "{what}: commands failed: {report:#}");
    assert_eq!(
        report["consistency_errors"], 0,
        "{what}: consistency errors: {report:#}"
    );
    assert!(
        report["consistency"]
            .as_object()
            .is_some_and(|kinds| kinds.is_empty()),
        "{what}: {report:#}"
    );
    assert!(
        report["commands_per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{what}: {report:#}"
    );
}

/// Every command a round of the workload sends was counted, in sane proportions.
fn assert_workload_counted(report: &Value, workload: &str, sessions: u64, what: &str) {
    assert_eq!(per_command(report, "LOGIN"), sessions, "{what}: {report:#}");
    assert_eq!(
        per_command(report, "LOGOUT"),
        sessions,
        "{what}: {report:#}"
    );
    match workload {
        "um" => {
            let appends = per_command(report, "APPEND");
            assert!(appends >= sessions, "{what}: {report:#}");
            // Each round: APPEND, NOOP, STATUS, two UID FETCHes, UID STORE \Seen and \Deleted,
            // EXPUNGE; a round cut by the deadline stops early.
            for (name, per_round) in [
                ("NOOP", 1),
                ("STATUS", 1),
                ("UID FETCH", 2),
                ("UID STORE", 2),
                ("EXPUNGE", 1),
            ] {
                let count = per_command(report, name);
                assert!(
                    count >= per_round * (appends - sessions)
                        && count <= per_round * appends + sessions,
                    "{what}: {count} {name} for {appends} APPENDs: {report:#}"
                );
            }
        }
        _ => {
            for name in [
                "APPEND",
                "FETCH",
                "UID FETCH",
                "UID STORE",
                "NOOP",
                "EXPUNGE",
            ] {
                assert!(
                    per_command(report, name) > 0,
                    "{what}: no {name} counted: {report:#}"
                );
            }
        }
    }
    for (name, figures) in report["per_command"].as_object().expect("per_command") {
        let p50 = figures["p50_ms"].as_f64().unwrap_or(-1.0);
        let p99 = figures["p99_ms"].as_f64().unwrap_or(-1.0);
        assert!(p50 >= 0.0 && p99 >= p50, "{what}: {name}: {figures}");
    }
}

#[test]
fn both_workloads_against_the_demo_gateway() {
    let dir = common::temp_dir();
    let gateway =
        Gateway::demo_with_env(dir.path(), &[("IMAP2GRAPH_METRICS_LISTEN", "127.0.0.1:0")]);
    let metrics = format!("http://{}/metrics", gateway.metrics_address());
    let target = gateway.imap.to_string();
    let user = common::login_name(ALICE);
    let cert = gateway.cert.display().to_string();
    for workload in ["um", "mixed"] {
        let report = loadtest(&[
            "--target",
            &target,
            "--tls",
            "--ca-file",
            &cert,
            "--tls-name",
            "localhost",
            "--user",
            &user,
            "--password",
            SECRET,
            "--sessions",
            "3",
            "--workload",
            workload,
            "--duration",
            SECONDS,
            "--mp3-kib",
            "16",
            "--metrics",
            &metrics,
        ]);
        let what = format!("{workload} against the gateway");
        assert_clean(&report, &what);
        assert_workload_counted(&report, workload, 3, &what);
        assert!(
            report["graph_requests_per_command"].as_f64().unwrap_or(0.0) > 0.0,
            "{what}: {report:#}"
        );
        assert_eq!(report["graph_429"], 0, "{what}: {report:#}");
        eprintln!("{what}: {report}");
    }
    gateway.stop();
}

#[test]
fn both_workloads_against_dovecot() {
    let dovecot =
        dovecot_server::DovecotServer::start(common::binary().as_ref(), "loadtest-secret");
    let seed: Vec<Vec<u8>> = (0..5)
        .map(|n| {
            format!(
                "From: a@example.org\r\nSubject: seed {n}\r\nMessage-ID: <seed{n}@example.org>\r\n\r\nbody {n}\r\n"
            )
            .into_bytes()
        })
        .collect();
    for user in ["user1", "user2"] {
        dovecot.seed(user, &seed);
    }
    let cert = dovecot.cert.display().to_string();
    for workload in ["um", "mixed"] {
        let report = loadtest(&[
            "--target",
            &dovecot.address,
            "--tls",
            "--ca-file",
            &cert,
            "--tls-name",
            "localhost",
            "--user",
            "user%d",
            "--password",
            "loadtest-secret",
            "--mailboxes",
            "2",
            "--sessions",
            "4",
            "--workload",
            workload,
            "--duration",
            SECONDS,
            "--mp3-kib",
            "16",
        ]);
        let what = format!("{workload} against Dovecot");
        assert_clean(&report, &what);
        assert_workload_counted(&report, workload, 4, &what);
        assert!(
            report.get("graph_429").is_none(),
            "no --metrics, no Graph figures"
        );
        eprintln!("{what}: {report}");
    }
    assert!(
        !dovecot.log().contains("Panic") && !dovecot.log().contains("Fatal"),
        "{}",
        dovecot.log()
    );
}

// ---------------------------------------------------------------------------------------------
// A server that lies, to show the checks can fail.

/// Serves one connection: answers as a server would, except for the lies listed above.
fn lying_session(stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut out = stream;
    let mut exists = 2u32;
    let mut next_uid = 10u32;
    let _ = out.write_all(b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS IDLE] liar ready\r\n");
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end().to_string();
        let (tag, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let upper = rest.to_ascii_uppercase();
        let reply = if upper.starts_with("LOGIN") {
            format!("{tag} OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS IDLE] in\r\n")
        } else if upper.starts_with("SELECT") || upper.starts_with("EXAMINE") {
            format!("* {exists} EXISTS\r\n* OK [UIDVALIDITY 1] v\r\n{tag} OK [READ-WRITE] s\r\n")
        } else if upper.starts_with("APPEND") {
            let length: usize = line
                .rsplit_once('{')
                .and_then(|(_, n)| n.trim_end_matches(['}', '+']).parse().ok())
                .unwrap_or(0);
            let mut literal = vec![0u8; length + 2];
            if reader.read_exact(&mut literal).is_err() {
                return;
            }
            exists += 1;
            next_uid += 1;
            format!("* {exists} EXISTS\r\n{tag} OK [APPENDUID 1 {next_uid}] a\r\n")
        } else if upper.starts_with("NOOP") {
            // Lie: a sequence number beyond the count announced.
            format!("* {} FETCH (FLAGS ())\r\n{tag} OK n\r\n", exists + 5)
        } else if upper.starts_with("UID FETCH") {
            let uid: u32 = upper["UID FETCH ".len()..]
                .split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if upper.contains("BODY.PEEK[2]") {
                // Lie: other bytes for the attachment.
                format!("* {exists} FETCH (UID {uid} BODY[2] {{4}}\r\nAAAA)\r\n{tag} OK f\r\n")
            } else {
                // Lie: another Message-ID, and a size that is not the appended length.
                let header = "Message-ID: <not-what-you-appended@liar>\r\n\r\n";
                format!(
                    "* {exists} FETCH (UID {uid} FLAGS () RFC822.SIZE 5 BODY[HEADER.FIELDS (MESSAGE-ID)] {{{}}}\r\n{header})\r\n{tag} OK f\r\n",
                    header.len()
                )
            }
        } else if upper.starts_with("UID STORE") {
            let uid: u32 = upper["UID STORE ".len()..]
                .split([' ', ','])
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            // Lie: the flags did not change.
            format!("* {exists} FETCH (UID {uid} FLAGS ())\r\n{tag} OK s\r\n")
        } else if upper.starts_with("STATUS") {
            format!("* STATUS INBOX (MESSAGES {exists} UNSEEN 1)\r\n{tag} OK s\r\n")
        } else if upper.starts_with("LOGOUT") {
            let _ = out.write_all(format!("* BYE bye\r\n{tag} OK o\r\n").as_bytes());
            return;
        } else {
            // Lie (for EXPUNGE): nothing is ever expunged.
            format!("{tag} OK done\r\n")
        };
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn the_checks_catch_a_lying_server() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || lying_session(stream));
        }
    });
    let report = loadtest(&[
        "--target",
        &address,
        "--user",
        "liar",
        "--password",
        "loadtest-secret",
        "--sessions",
        "1",
        "--duration",
        "1",
        "--mp3-kib",
        "1",
    ]);
    for kind in [
        "uid_message_id",
        "append_size",
        "seq_beyond_exists",
        "flags_after_store",
        "expunged_still_present",
        "section_bytes",
    ] {
        assert!(
            report["consistency"][kind]["count"].as_u64().unwrap_or(0) > 0,
            "{kind} was not found: {report:#}"
        );
    }
    assert!(
        report["consistency_errors"].as_u64().unwrap_or(0) >= 6,
        "{report:#}"
    );
    assert_eq!(report["errors"], 0, "the liar refuses nothing: {report:#}");
}
