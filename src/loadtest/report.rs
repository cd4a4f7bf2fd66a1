//! Owns the load test's figures: latencies and failures per command as sessions record them,
//! the live counters the progress line reads, and the end-of-run report as a table for people
//! and as one JSON object for scripts (`--json`). Nothing here ever holds the password.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{json, Value};

/// One command's figures in one session.
#[derive(Default)]
pub struct CommandStats {
    /// Latency of each answered command, microseconds.
    latencies_us: Vec<u32>,
    /// Failures by kind (`NO`, `NO [UNAVAILABLE]`, `BAD`, `timeout`, `io`…).
    errors: BTreeMap<String, u64>,
    /// The first failure of each kind, in words (the server's text, the I/O error).
    examples: BTreeMap<String, String>,
}

/// A failed command: a bounded kind for counting, and what was said, for the report.
pub struct Failure {
    pub kind: String,
    pub detail: String,
}

/// The row of connection set-ups (TCP and TLS to the greeting), counted apart from commands.
pub const CONNECT: &str = "CONNECT";

/// The longest detail kept for a failure.
const DETAIL_CHARS: usize = 200;

/// The figures of one session, merged into the run's at the end.
#[derive(Default)]
pub struct Stats {
    commands: BTreeMap<&'static str, CommandStats>,
}

/// Counters every session bumps as it goes, for the progress line.
#[derive(Default)]
pub struct Live {
    pub commands: AtomicU64,
    pub errors: AtomicU64,
}

impl Stats {
    /// A command answered (OK, or a failure of `failure` kind), after `took`.
    pub fn record(
        &mut self,
        name: &'static str,
        took: Duration,
        failure: Option<Failure>,
        live: &Live,
    ) {
        let entry = self.commands.entry(name).or_default();
        entry
            .latencies_us
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        live.commands.fetch_add(1, Ordering::Relaxed);
        if let Some(Failure { kind, detail }) = failure {
            entry
                .examples
                .entry(kind.clone())
                .or_insert_with(|| detail.chars().take(DETAIL_CHARS).collect());
            *entry.errors.entry(kind).or_default() += 1;
            live.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn merge(&mut self, other: Stats) {
        for (name, mut theirs) in other.commands {
            let ours = self.commands.entry(name).or_default();
            ours.latencies_us.append(&mut theirs.latencies_us);
            for (kind, n) in theirs.errors {
                *ours.errors.entry(kind).or_default() += n;
            }
            for (kind, detail) in theirs.examples {
                ours.examples.entry(kind).or_insert(detail);
            }
        }
    }

    /// IMAP commands answered; connections (the CONNECT row) are not commands.
    pub fn total_commands(&self) -> u64 {
        self.commands
            .iter()
            .filter(|(name, _)| **name != CONNECT)
            .map(|(_, c)| c.latencies_us.len() as u64)
            .sum()
    }

    pub fn total_errors(&self) -> u64 {
        self.commands.values().flat_map(|c| c.errors.values()).sum()
    }
}

/// What the gateway's metrics showed between the start and the end of the run.
#[derive(Debug, Clone, Default)]
pub struct GraphFigures {
    /// Requests to Graph (answers of every status, and transport failures).
    pub requests: u64,
    /// Of those, answered 429.
    pub throttled: u64,
    /// IMAP commands the gateway counted.
    pub imap_commands: u64,
}

/// Everything the end-of-run report shows.
pub struct Summary {
    pub target: String,
    pub workload: String,
    pub sessions: usize,
    pub mailboxes: usize,
    pub elapsed: Duration,
    pub stats: Stats,
    /// Discrepancies by kind, with examples.
    pub consistency: BTreeMap<&'static str, (u64, Vec<String>)>,
    pub graph: Option<GraphFigures>,
}

struct Row {
    count: u64,
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
    errors: u64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index.min(sorted.len() - 1)]) / 1000.0
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

impl Summary {
    fn seconds(&self) -> f64 {
        self.elapsed.as_secs_f64().max(1e-9)
    }

    fn rows(&self) -> Vec<(&'static str, Row, &CommandStats)> {
        self.stats
            .commands
            .iter()
            .map(|(name, stats)| {
                let mut sorted = stats.latencies_us.clone();
                sorted.sort_unstable();
                let row = Row {
                    count: sorted.len() as u64,
                    rate: sorted.len() as f64 / self.seconds(),
                    p50: percentile(&sorted, 0.50),
                    p95: percentile(&sorted, 0.95),
                    p99: percentile(&sorted, 0.99),
                    max: sorted.last().map_or(0.0, |&m| f64::from(m) / 1000.0),
                    errors: stats.errors.values().sum(),
                };
                (*name, row, stats)
            })
            .collect()
    }

    pub fn commands_per_second(&self) -> f64 {
        self.stats.total_commands() as f64 / self.seconds()
    }

    pub fn consistency_errors(&self) -> u64 {
        self.consistency.values().map(|(n, _)| n).sum()
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> Value {
        let per_command: serde_json::Map<String, Value> = self
            .rows()
            .into_iter()
            .map(|(name, row, stats)| {
                (
                    name.to_string(),
                    json!({
                        "count": row.count,
                        "per_second": round2(row.rate),
                        "p50_ms": round2(row.p50),
                        "p95_ms": round2(row.p95),
                        "p99_ms": round2(row.p99),
                        "max_ms": round2(row.max),
                        "errors": row.errors,
                        "errors_by_kind": stats.errors,
                        "error_examples": stats.examples,
                    }),
                )
            })
            .collect();
        let consistency: serde_json::Map<String, Value> = self
            .consistency
            .iter()
            .map(|(kind, (n, examples))| {
                (
                    kind.to_string(),
                    json!({ "count": n, "examples": examples }),
                )
            })
            .collect();
        let mut report = json!({
            "target": self.target,
            "workload": self.workload,
            "sessions": self.sessions,
            "mailboxes": self.mailboxes,
            "seconds": round2(self.seconds()),
            "commands": self.stats.total_commands(),
            "commands_per_second": round2(self.commands_per_second()),
            "errors": self.stats.total_errors(),
            "consistency_errors": self.consistency_errors(),
            "consistency": consistency,
            "per_command": per_command,
        });
        if let Some(graph) = &self.graph {
            report["graph_requests"] = json!(graph.requests);
            report["graph_requests_per_command"] = json!(
                (graph.requests as f64 / self.stats.total_commands().max(1) as f64 * 1000.0)
                    .round()
                    / 1000.0
            );
            report["graph_429"] = json!(graph.throttled);
            report["gateway_commands"] = json!(graph.imap_commands);
        }
        report
    }

    /// The report as a table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} workload against {}: {} sessions on {} mailbox(es), {:.1} s",
            self.workload,
            self.target,
            self.sessions,
            self.mailboxes,
            self.seconds()
        );
        let _ = writeln!(
            out,
            "{:<12} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  errors by kind",
            "command", "count", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"
        );
        let rows = self.rows();
        for (name, row, stats) in &rows {
            let kinds: Vec<String> = stats
                .errors
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            let _ = writeln!(
                out,
                "{name:<12} {:>8} {:>9.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}  {}",
                row.count,
                row.rate,
                row.p50,
                row.p95,
                row.p99,
                row.max,
                row.errors,
                kinds.join(", ")
            );
        }
        for (name, _, stats) in &rows {
            for (kind, detail) in &stats.examples {
                let _ = writeln!(out, "  {name} {kind}, first: {detail}");
            }
        }
        let _ = writeln!(
            out,
            "total: {} commands, {:.1} per second, {} errors, {} consistency errors",
            self.stats.total_commands(),
            self.commands_per_second(),
            self.stats.total_errors(),
            self.consistency_errors()
        );
        for (kind, (n, examples)) in &self.consistency {
            let _ = writeln!(out, "  {kind}: {n}");
            for example in examples {
                let _ = writeln!(out, "    e.g. {example}");
            }
        }
        if let Some(graph) = &self.graph {
            let _ = writeln!(
                out,
                "Graph: {} requests, {:.3} per IMAP command, {} answered 429",
                graph.requests,
                graph.requests as f64 / self.stats.total_commands().max(1) as f64,
                graph.throttled
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_counts_and_json_fields() {
        let live = Live::default();
        let mut stats = Stats::default();
        for ms in 1..=100u64 {
            stats.record("NOOP", Duration::from_millis(ms), None, &live);
        }
        stats.record(CONNECT, Duration::from_millis(3), None, &live);
        let refused = Failure {
            kind: "NO".into(),
            detail: "refused".into(),
        };
        stats.record("APPEND", Duration::from_millis(5), Some(refused), &live);
        let summary = Summary {
            target: "h:1".into(),
            workload: "mixed".into(),
            sessions: 1,
            mailboxes: 1,
            elapsed: Duration::from_secs(10),
            stats,
            consistency: BTreeMap::new(),
            graph: Some(GraphFigures {
                requests: 50,
                throttled: 2,
                imap_commands: 101,
            }),
        };
        let json = summary.to_json();
        assert_eq!(json["per_command"]["NOOP"]["count"], 100);
        assert_eq!(json["per_command"]["NOOP"]["p50_ms"], 51.0);
        assert_eq!(json["per_command"]["NOOP"]["p99_ms"], 99.0);
        assert_eq!(json["per_command"]["APPEND"]["errors"], 1);
        assert_eq!(
            json["per_command"]["APPEND"]["error_examples"]["NO"],
            "refused"
        );
        assert_eq!(json["errors"], 1);
        assert_eq!(json["commands_per_second"], 10.1);
        assert_eq!(json["graph_429"], 2);
        assert_eq!(json["consistency_errors"], 0);
        assert!(summary.render().contains("APPEND"));
        assert_eq!(json["commands"], 101, "connections are not commands");
        assert_eq!(json["per_command"][CONNECT]["count"], 1);
    }
}
