//! Owns the gateway's counters and their Prometheus text exposition
//! (https://prometheus.io/docs/instrumenting/exposition_formats/), served over plain HTTP at
//! `GET /metrics` on `metrics.listen` when it is set: what an operator watches under load —
//! sessions, logins, commands, Graph answers and throttling, delta rounds. Counters are
//! process-wide; label values come from bounded sets (command names, HTTP status codes), never
//! from what a client or Graph sent. The same listener answers `GET /healthz` for load
//! balancers: 200 while the uid store answers, 503 when it does not.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::store::UidStore;

/// The process's counters.
pub static METRICS: Metrics = Metrics::new();

/// How a folder's delta round began.
#[derive(Debug, Clone, Copy)]
pub enum DeltaRound {
    /// The folder's first synchronisation: every message named.
    First,
    /// From a deltaLink: only what changed.
    Resumed,
    /// Graph dropped the token: every message named again.
    Resync,
}

pub struct Metrics {
    sessions_open: AtomicI64,
    sessions: AtomicU64,
    logins_ok: AtomicU64,
    logins_refused: AtomicU64,
    commands: Mutex<BTreeMap<&'static str, u64>>,
    graph_answers: Mutex<BTreeMap<u16, u64>>,
    token_answers: Mutex<BTreeMap<u16, u64>>,
    graph_waits: AtomicU64,
    graph_transport_errors: AtomicU64,
    delta_first: AtomicU64,
    delta_resumed: AtomicU64,
    delta_resync: AtomicU64,
    oversized_commands: AtomicU64,
    refused_total: AtomicU64,
    refused_per_address: AtomicU64,
    refused_handshakes: AtomicU64,
    logins_delayed: AtomicU64,
    logins_refused_cached: AtomicU64,
    logins_refused_throttled: AtomicU64,
    graph_counted_requests: AtomicU64,
    pacing: [PacingWaits; 4],
}

/// The budget a Graph request waited for (`graph::pacing`).
#[derive(Debug, Clone, Copy)]
pub enum PacingBudget {
    /// The mailbox's requests per window.
    MailboxRequests,
    /// The mailbox's bytes uploaded per window.
    MailboxUpload,
    /// The application's requests per second over all mailboxes.
    Application,
    /// Graph answered 429 with a `Retry-After` for the mailbox.
    RetryAfter,
}

/// Time spent waiting for one budget: waits and their total in microseconds.
struct PacingWaits {
    waits: AtomicU64,
    micros: AtomicU64,
}

impl PacingWaits {
    const fn new() -> PacingWaits {
        PacingWaits {
            waits: AtomicU64::new(0),
            micros: AtomicU64::new(0),
        }
    }
}

/// Why a connection was closed at accept, before its TLS handshake.
#[derive(Debug, Clone, Copy)]
pub enum ConnectionRefusal {
    /// `imap.max_connections` reached.
    Total,
    /// `imap.max_connections_per_ip` reached for the client's address.
    PerAddress,
    /// `imap.max_handshakes` handshakes already in progress.
    Handshakes,
}

/// What login throttling did to one attempt.
#[derive(Debug, Clone, Copy)]
pub enum LoginThrottle {
    /// Made to wait after earlier failures.
    Delayed,
    /// Refused without asking the identity platform: this secret was refused moments ago.
    RefusedCached,
    /// Refused without asking the identity platform: too many failures, the wait would be too long.
    RefusedThrottled,
}

impl Metrics {
    const fn new() -> Metrics {
        Metrics {
            sessions_open: AtomicI64::new(0),
            sessions: AtomicU64::new(0),
            logins_ok: AtomicU64::new(0),
            logins_refused: AtomicU64::new(0),
            commands: Mutex::new(BTreeMap::new()),
            graph_answers: Mutex::new(BTreeMap::new()),
            token_answers: Mutex::new(BTreeMap::new()),
            graph_waits: AtomicU64::new(0),
            graph_transport_errors: AtomicU64::new(0),
            delta_first: AtomicU64::new(0),
            delta_resumed: AtomicU64::new(0),
            delta_resync: AtomicU64::new(0),
            oversized_commands: AtomicU64::new(0),
            refused_total: AtomicU64::new(0),
            refused_per_address: AtomicU64::new(0),
            refused_handshakes: AtomicU64::new(0),
            logins_delayed: AtomicU64::new(0),
            logins_refused_cached: AtomicU64::new(0),
            logins_refused_throttled: AtomicU64::new(0),
            graph_counted_requests: AtomicU64::new(0),
            pacing: [
                PacingWaits::new(),
                PacingWaits::new(),
                PacingWaits::new(),
                PacingWaits::new(),
            ],
        }
    }

    /// A connection was accepted; the guard counts it open until dropped.
    pub fn session_started(&'static self) -> SessionGuard {
        self.sessions.fetch_add(1, Ordering::Relaxed);
        self.sessions_open.fetch_add(1, Ordering::Relaxed);
        SessionGuard(self)
    }

    pub fn login(&self, ok: bool) {
        let counter = if ok {
            &self.logins_ok
        } else {
            &self.logins_refused
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One command, by its IMAP name.
    pub fn command(&self, name: &'static str) {
        *self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name)
            .or_default() += 1;
    }

    /// One answer from Graph, by HTTP status.
    pub fn graph_answer(&self, status: u16) {
        count_status(&self.graph_answers, status);
    }

    /// One answer of the identity platform's token endpoint, by HTTP status.
    pub fn token_answer(&self, status: u16) {
        count_status(&self.token_answers, status);
    }

    /// Graph asked the gateway to wait (429, 503, 504) and it did.
    pub fn graph_wait(&self) {
        self.graph_waits.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests sent to Graph as Outlook counts them against a mailbox's limits: each request
    /// of a `$batch` on its own.
    pub fn graph_counted_requests(&self, requests: u32) {
        self.graph_counted_requests
            .fetch_add(requests as u64, Ordering::Relaxed);
    }

    /// A Graph request waited this long for that budget before it was sent.
    pub fn pacing_wait(&self, budget: PacingBudget, waited: Duration) {
        let waits = &self.pacing[budget as usize];
        waits.waits.fetch_add(1, Ordering::Relaxed);
        waits
            .micros
            .fetch_add(waited.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn graph_transport_error(&self) {
        self.graph_transport_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn delta_round(&self, kind: DeltaRound) {
        let counter = match kind {
            DeltaRound::First => &self.delta_first,
            DeltaRound::Resumed => &self.delta_resumed,
            DeltaRound::Resync => &self.delta_resync,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A command over its size limits was refused (`BAD [TOOBIG]`).
    pub fn oversized_command(&self) {
        self.oversized_commands.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection was closed at accept.
    pub fn connection_refused(&self, why: ConnectionRefusal) {
        let counter = match why {
            ConnectionRefusal::Total => &self.refused_total,
            ConnectionRefusal::PerAddress => &self.refused_per_address,
            ConnectionRefusal::Handshakes => &self.refused_handshakes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn login_throttled(&self, what: LoginThrottle) {
        let counter = match what {
            LoginThrottle::Delayed => &self.logins_delayed,
            LoginThrottle::RefusedCached => &self.logins_refused_cached,
            LoginThrottle::RefusedThrottled => &self.logins_refused_throttled,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in Prometheus's text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let plain = |value: u64| vec![(String::new(), value.to_string())];
        metric(
            "imap2graph_sessions_open",
            "gauge",
            "IMAP connections open now.",
            vec![(
                String::new(),
                self.sessions_open.load(Ordering::Relaxed).to_string(),
            )],
        );
        metric(
            "imap2graph_sessions_total",
            "counter",
            "IMAP connections accepted.",
            plain(self.sessions.load(Ordering::Relaxed)),
        );
        metric(
            "imap2graph_logins_total",
            "counter",
            "LOGIN and AUTHENTICATE attempts, by result.",
            vec![
                (
                    "{result=\"ok\"}".into(),
                    self.logins_ok.load(Ordering::Relaxed).to_string(),
                ),
                (
                    "{result=\"refused\"}".into(),
                    self.logins_refused.load(Ordering::Relaxed).to_string(),
                ),
            ],
        );
        let commands = self
            .commands
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, n)| (format!("{{command=\"{name}\"}}"), n.to_string()))
            .collect();
        metric(
            "imap2graph_commands_total",
            "counter",
            "IMAP commands handled, by name.",
            commands,
        );
        metric(
            "imap2graph_graph_responses_total",
            "counter",
            "HTTP answers from Microsoft Graph, by status.",
            by_status(&self.graph_answers),
        );
        metric(
            "imap2graph_token_responses_total",
            "counter",
            "Answers of the identity platform's token endpoint, by status.",
            by_status(&self.token_answers),
        );
        metric(
            "imap2graph_graph_waits_total",
            "counter",
            "Times Graph asked the gateway to wait (429, 503, 504) before trying again.",
            plain(self.graph_waits.load(Ordering::Relaxed)),
        );
        metric(
            "imap2graph_graph_counted_requests_total",
            "counter",
            "Requests to Graph as Outlook counts them against a mailbox's limits (each request of a $batch on its own).",
            plain(self.graph_counted_requests.load(Ordering::Relaxed)),
        );
        let budgets = [
            ("mailbox_requests", PacingBudget::MailboxRequests),
            ("mailbox_upload", PacingBudget::MailboxUpload),
            ("application", PacingBudget::Application),
            ("retry_after", PacingBudget::RetryAfter),
        ];
        metric(
            "imap2graph_pacing_waits_total",
            "counter",
            "Graph requests held back to stay within Graph's limits, by the budget they waited for.",
            budgets
                .iter()
                .map(|(name, budget)| {
                    (
                        format!("{{budget=\"{name}\"}}"),
                        self.pacing[*budget as usize]
                            .waits
                            .load(Ordering::Relaxed)
                            .to_string(),
                    )
                })
                .collect(),
        );
        metric(
            "imap2graph_pacing_wait_seconds_total",
            "counter",
            "Time Graph requests spent held back to stay within Graph's limits, by budget.",
            budgets
                .iter()
                .map(|(name, budget)| {
                    let micros = self.pacing[*budget as usize].micros.load(Ordering::Relaxed);
                    (
                        format!("{{budget=\"{name}\"}}"),
                        format!("{:.6}", micros as f64 / 1e6),
                    )
                })
                .collect(),
        );
        metric(
            "imap2graph_graph_transport_errors_total",
            "counter",
            "Requests to Graph that failed without an answer (reset, timeout).",
            plain(self.graph_transport_errors.load(Ordering::Relaxed)),
        );
        metric(
            "imap2graph_delta_rounds_total",
            "counter",
            "Folder synchronisations with Graph's messages/delta, by how they began.",
            [
                ("first", &self.delta_first),
                ("resumed", &self.delta_resumed),
                ("resync", &self.delta_resync),
            ]
            .into_iter()
            .map(|(kind, n)| {
                (
                    format!("{{kind=\"{kind}\"}}"),
                    n.load(Ordering::Relaxed).to_string(),
                )
            })
            .collect(),
        );
        let labelled = |pairs: [(&str, &AtomicU64); 3], label: &str| {
            pairs
                .into_iter()
                .map(|(value, n)| {
                    (
                        format!("{{{label}=\"{value}\"}}"),
                        n.load(Ordering::Relaxed).to_string(),
                    )
                })
                .collect()
        };
        metric(
            "imap2graph_oversized_commands_total",
            "counter",
            "Commands refused with BAD [TOOBIG]: lines or literals over the limits.",
            plain(self.oversized_commands.load(Ordering::Relaxed)),
        );
        metric(
            "imap2graph_connections_refused_total",
            "counter",
            "Connections closed at accept, before TLS, by the limit they met.",
            labelled(
                [
                    ("total", &self.refused_total),
                    ("per_address", &self.refused_per_address),
                    ("handshakes", &self.refused_handshakes),
                ],
                "limit",
            ),
        );
        metric(
            "imap2graph_logins_throttled_total",
            "counter",
            "Logins slowed or refused by login throttling, by what was done.",
            labelled(
                [
                    ("delayed", &self.logins_delayed),
                    ("refused_cached", &self.logins_refused_cached),
                    ("refused_throttled", &self.logins_refused_throttled),
                ],
                "action",
            ),
        );
        if let Some(rss) = resident_memory_bytes() {
            metric(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory of the gateway process.",
                plain(rss),
            );
        }
        out
    }
}

/// The process's resident set, from /proc (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Linux's page size on the platforms the gateway ships for.
    Some(pages * 4096)
}

fn count_status(counts: &Mutex<BTreeMap<u16, u64>>, status: u16) {
    *counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(status)
        .or_default() += 1;
}

/// Samples labelled by status.
fn by_status(counts: &Mutex<BTreeMap<u16, u64>>) -> Vec<(String, String)> {
    counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(status, n)| (format!("{{status=\"{status}\"}}"), n.to_string()))
        .collect()
}

/// Counts one connection open while it lives.
pub struct SessionGuard(&'static Metrics);

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.sessions_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answers `GET /metrics` and `GET /healthz` on `listener` until `shutdown` turns true;
/// anything else gets 404.
pub async fn serve(listener: TcpListener, store: UidStore, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(answer(stream, store.clone()));
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Reads one request head (bounded in size and time) and answers it.
async fn answer(mut stream: TcpStream, store: UidStore) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), read_head)
        .await
        .is_err()
    {
        return;
    }
    let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let (method, path) = (words.next(), words.next());
    let (status, body) = match (method, path) {
        (Some(b"GET"), Some(b"/metrics")) => ("200 OK", METRICS.render()),
        (Some(b"GET"), Some(b"/healthz")) => {
            match tokio::time::timeout(Duration::from_secs(5), store.check()).await {
                Ok(Ok(())) => ("200 OK", "ok\n".to_string()),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "health check: the uid store does not answer");
                    (
                        "503 Service Unavailable",
                        "uid store unavailable\n".to_string(),
                    )
                }
                Err(_) => (
                    "503 Service Unavailable",
                    "uid store did not answer in time\n".to_string(),
                ),
            }
        }
        _ => (
            "404 Not Found",
            "only GET /metrics and GET /healthz are served here\n".to_string(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_help_type_and_labelled_samples() {
        let metrics = Metrics::new();
        metrics.command("FETCH");
        metrics.command("FETCH");
        metrics.graph_answer(429);
        metrics.delta_round(DeltaRound::Resumed);
        metrics.login(false);
        let text = metrics.render();
        assert!(text.contains("# TYPE imap2graph_commands_total counter"));
        assert!(text.contains("imap2graph_commands_total{command=\"FETCH\"} 2"));
        assert!(text.contains("imap2graph_graph_responses_total{status=\"429\"} 1"));
        assert!(text.contains("imap2graph_delta_rounds_total{kind=\"resumed\"} 1"));
        assert!(text.contains("imap2graph_logins_total{result=\"refused\"} 1"));
        assert!(text.contains("imap2graph_sessions_open 0"));
    }
}
