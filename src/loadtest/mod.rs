//! Owns `imap2graph loadtest`: N simulated subscribers over M mailboxes against any IMAP server
//! (this gateway, Dovecot, Exchange's own IMAP), over TLS or plain, for a fixed time, checking
//! consistency as they go; a live progress line on a terminal, a table or one JSON object at
//! the end, and with the gateway's metrics URL, Graph requests per IMAP command and 429s.
//!
//! - `client.rs`: the IMAP client (connection, commands, literals, IDLE, response parsing);
//! - `workload.rs`: what a subscriber does (`um`, `mixed`) and the messages it appends;
//! - `consistency.rs`: what each session may conclude from what it was sent, and the
//!   discrepancies found;
//! - `report.rs`: latencies and failures per command, the table and the JSON;
//! - `scrape.rs`: the gateway's Prometheus counters before and after.
//!
//! The password is held as a [`Secret`] and never printed.

pub mod client;
pub mod consistency;
pub mod report;
pub mod scrape;
pub mod workload;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::secret::Secret;
use client::Target;
use report::Summary;
use workload::{Settings, Shared, Subscriber, UmWait, Workload};

/// `imap2graph loadtest`'s command line.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// The IMAP server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,
    /// Speak TLS from the first byte (IMAPS). The certificate is checked against the system's
    /// trusted roots and the host name of --target, unless --ca-file or --insecure says
    /// otherwise.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: trust the certificates in this PEM file (e.g. a self-signed gateway's
    /// cert.pem) instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// With --tls: accept any certificate (the connection is encrypted, not authenticated).
    #[arg(long)]
    pub insecure: bool,
    /// With --tls: the name the certificate must carry (default: the host of --target).
    #[arg(long, value_name = "NAME")]
    pub tls_name: Option<String>,
    /// The login name; `%d` in it runs over 1..=M (e.g. `tenant/app/user%d@domain`).
    #[arg(long, value_name = "TEMPLATE")]
    pub user: String,
    /// The password (for the gateway, the application's client secret). Never printed; may
    /// come from IMAP2GRAPH_LOADTEST_PASSWORD instead, which `ps` does not show.
    #[arg(
        long,
        value_name = "SECRET",
        env = "IMAP2GRAPH_LOADTEST_PASSWORD",
        hide_env_values = true
    )]
    pub password: String,
    /// M: how many mailboxes the sessions spread over (session i uses mailbox i mod M + 1).
    #[arg(long, value_name = "M", default_value_t = 1)]
    pub mailboxes: usize,
    /// N: how many sessions run at once.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub sessions: usize,
    /// `um`: the unified-messaging server's workload; `mixed`: a general client's.
    #[arg(long, value_name = "um|mixed", default_value = "um")]
    pub workload: Workload,
    /// How long to run, seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub duration: u64,
    /// The gateway's Prometheus endpoint (http://ADDR/metrics, `metrics.listen`): read before
    /// and after to report Graph requests per IMAP command and 429s.
    #[arg(long, value_name = "URL")]
    pub metrics: Option<String>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Workload rounds per second over all sessions; 0 runs a closed loop (each session starts
    /// its next round when the last one is answered).
    #[arg(long, value_name = "PER_SEC", default_value_t = 0.0)]
    pub rate: f64,
    /// `um`: the size of the voice message's MP3 attachment, KiB.
    #[arg(long, value_name = "KIB", default_value_t = 32)]
    pub mp3_kib: usize,
    /// `um`: how a subscriber waits for the message-waiting change: `noop` polls, `idle` IDLEs
    /// (up to --idle-ms).
    #[arg(long, value_name = "noop|idle", default_value = "noop")]
    pub um_wait: UmWait,
    /// `um` with `--um-wait idle`: the longest IDLE, milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub idle_ms: u64,
    /// The folder the sessions work in.
    #[arg(long, value_name = "NAME", default_value = "INBOX")]
    pub folder: String,
    /// A command unanswered for this long counts as a timeout and its connection is dropped.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub timeout: u64,
}

/// Runs the load test and prints its report; fails when it could not run at all. Errors and
/// discrepancies are reported, not failures (scripts read `errors` and `consistency_errors`).
pub async fn run(options: Options) -> anyhow::Result<Summary> {
    anyhow::ensure!(options.sessions > 0, "--sessions must be at least 1");
    anyhow::ensure!(options.mailboxes > 0, "--mailboxes must be at least 1");
    anyhow::ensure!(
        options.rate >= 0.0 && options.rate.is_finite(),
        "--rate must be 0 (closed loop) or a positive number"
    );
    let target = target(&options)?;
    let metrics_before = match &options.metrics {
        Some(url) => Some(
            scrape::scrape(url)
                .await
                .with_context(|| format!("--metrics {url}"))?,
        ),
        None => None,
    };
    let started = tokio::time::Instant::now();
    let shared = Arc::new(Shared {
        target,
        settings: Settings {
            workload: options.workload,
            folder: options.folder.clone(),
            mp3_bytes: options.mp3_kib * 1024,
            um_wait: options.um_wait,
            idle_wait: Duration::from_millis(options.idle_ms),
            round_interval: (options.rate > 0.0)
                .then(|| Duration::from_secs_f64(options.sessions as f64 / options.rate)),
            run_id: format!("lt{}", chrono::Utc::now().format("%Y%m%d%H%M%S%3f")),
        },
        registry: Default::default(),
        found: Default::default(),
        live: Default::default(),
        deadline: started + Duration::from_secs(options.duration),
    });
    let password = Secret::new(options.password.clone());
    let sessions: Vec<_> = (0..options.sessions)
        .map(|index| {
            let user = login_for(&options.user, index % options.mailboxes + 1);
            let subscriber = Subscriber::new(shared.clone(), index, user, password.clone());
            tokio::spawn(subscriber.run())
        })
        .collect();
    let progress = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(progress(shared.clone(), options.duration)));
    let mut stats = report::Stats::default();
    for session in sessions {
        match session.await {
            Ok(theirs) => stats.merge(theirs),
            Err(err) => anyhow::bail!("a load test session failed: {err}"),
        }
    }
    let elapsed = started.elapsed();
    if let Some(progress) = progress {
        progress.abort();
        eprint!("\r\x1b[K");
    }
    let graph = match (&options.metrics, metrics_before) {
        (Some(url), Some(before)) => Some(
            scrape::scrape(url)
                .await
                .with_context(|| format!("--metrics {url}"))?
                .since(&before),
        ),
        _ => None,
    };
    Ok(Summary {
        target: options.target.clone(),
        workload: match options.workload {
            Workload::Um => "um".into(),
            Workload::Mixed => "mixed".into(),
        },
        sessions: options.sessions,
        mailboxes: options.mailboxes,
        elapsed,
        stats,
        consistency: shared.found.by_kind(),
        graph,
    })
}

/// The login name of mailbox `n`: `%d` in the template replaced by `n`.
pub fn login_for(template: &str, n: usize) -> String {
    template.replace("%d", &n.to_string())
}

/// The address and the TLS configuration `--target`, `--tls`, `--ca-file`, `--insecure` and
/// `--tls-name` ask for.
fn target(options: &Options) -> anyhow::Result<Target> {
    let timeout = Duration::from_secs(options.timeout.max(1));
    if !options.tls {
        anyhow::ensure!(
            options.ca_file.is_none() && !options.insecure && options.tls_name.is_none(),
            "--ca-file, --insecure and --tls-name need --tls"
        );
        return Ok(Target {
            address: options.target.clone(),
            tls: None,
            timeout,
        });
    }
    let host = match &options.tls_name {
        Some(name) => name.clone(),
        None => {
            let (host, _port) = options
                .target
                .rsplit_once(':')
                .context("--target must be HOST:PORT")?;
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string()
        }
    };
    let name = ServerName::try_from(host.clone())
        .with_context(|| format!("{host} is not a host name or address for TLS"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if options.insecure {
        Arc::new(crate::tls::AnyServerCertificate::new(provider.clone()))
    } else if let Some(path) = &options.ca_file {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("--ca-file {}", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("--ca-file {}", path.display()))?)
                .with_context(|| format!("--ca-file {}", path.display()))?;
        }
        rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .build()
        .with_context(|| format!("--ca-file {}", path.display()))?
    } else {
        Arc::new(
            rustls_platform_verifier::Verifier::new(provider.clone())
                .context("the system's trusted roots")?,
        )
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Target {
        address: options.target.clone(),
        tls: Some((Arc::new(config), name)),
        timeout,
    })
}

/// Rewrites one status line on the terminal every second.
async fn progress(shared: Arc<Shared>, duration: u64) {
    let started = tokio::time::Instant::now();
    let mut last = 0;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let commands = shared.live.commands.load(Ordering::Relaxed);
        let errors = shared.live.errors.load(Ordering::Relaxed);
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r\x1b[K{:>4}/{duration} s  {commands} commands  {} /s  {errors} errors  {} consistency errors",
            started.elapsed().as_secs(),
            commands - last,
            shared.found.total()
        );
        let _ = err.flush();
        last = commands;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_runs_over_the_mailboxes() {
        assert_eq!(
            login_for("contoso.example/app/user%d@contoso.example", 7),
            "contoso.example/app/user7@contoso.example"
        );
        assert_eq!(login_for("alice", 3), "alice");
    }
}
