//! The gateway paces itself within Graph's limits (issue 13, item 2): with the emulator's
//! per-mailbox budget made small (100 requests per 10 s) and `[pacing]` set to match, several
//! imaplib sessions on one mailbox whose work needs far more than that budget all get OK, and
//! the emulator answers no 429. The same workload with pacing off does run into 429s, so the
//! first half can fail. Nothing here measures time.

mod common;

use common::*;
use serde_json::Value;

const SESSIONS: &str = "4";
const ROUNDS: &str = "14";

/// The emulator's limits for these tests: 100 requests per 10 s per application and mailbox,
/// the refused ones counted too (its default), four at once.
fn small_budget_emulator() -> EmulatorProcess {
    let emulator = EmulatorProcess::start();
    let answer = emulator.graph().request(
        "POST",
        "/_emulator/throttle",
        &[("Content-Type", "application/json")],
        br#"{"enabled": true, "maxRequests": 100, "requestWindowSecs": 10, "maxConcurrent": 4, "countRefused": true}"#,
    );
    assert_eq!(
        answer.status,
        200,
        "POST /_emulator/throttle: {}",
        String::from_utf8_lossy(&answer.body)
    );
    emulator
}

/// Runs the workload on voicemail's mailbox; returns its summary and the emulator's stats.
fn workload(env: &[(&str, &str)]) -> (Value, Value) {
    let emulator = small_budget_emulator();
    let dir = temp_dir();
    let gateway = Gateway::serve(dir.path(), &emulator.url, env);
    let output = gateway.python("pacing_workload.py", &[VOICEMAIL, SESSIONS, ROUNDS]);
    assert_success("python3 pacing_workload.py", &output, Some(&gateway));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Value = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("pacing_workload.py printed no summary:\n{stdout}"));
    let stats = emulator.graph().stats();
    gateway.stop();
    emulator.process.stop();
    (summary, stats)
}

/// Requests the emulator counted against voicemail's budget (each `$batch` entry on its own).
fn counted(stats: &Value) -> u64 {
    stats["mailboxRequests"][VOICEMAIL].as_u64().unwrap_or(0)
}

#[test]
fn paced_sessions_get_every_answer_ok_and_graph_never_throttles() {
    let (summary, stats) = workload(&[
        ("IMAP2GRAPH_PACING_MAILBOX_REQUESTS", "100"),
        ("IMAP2GRAPH_PACING_MAILBOX_WINDOW_SECS", "10"),
        ("IMAP2GRAPH_PACING_MAILBOX_BURST", "20"),
    ]);
    // 4 sessions × 14 rounds × 7 commands, plus LOGIN.
    assert_eq!(summary["ok"], 4 * (14 * 7 + 1), "{summary}");
    assert_eq!(summary["no"], 0, "{summary}");
    assert_eq!(summary["bad"], 0, "{summary}");
    assert_eq!(stats["throttled"], 0, "Graph answered 429: {stats}");
    assert!(
        counted(&stats) > 150,
        "the workload must need more than the 100-request budget to prove anything: {stats}"
    );
}

#[test]
fn without_pacing_the_same_workload_runs_into_graphs_limit() {
    let (summary, stats) = workload(&[("IMAP2GRAPH_PACING_ENABLED", "false")]);
    assert!(
        stats["throttled"].as_u64().unwrap_or(0) > 0,
        "with pacing off the emulator should have answered 429 (summary {summary}): {stats}"
    );
}
