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

use imap2graph::config::Config;
use imap2graph::server::Gateway;
use imap2graph_emulator::{demo, Emulator};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

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

/// Accepts the gateway's self-signed certificate: the bench talks to itself on loopback.
#[derive(Debug)]
struct TrustLoopback(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for TrustLoopback {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type Stream = tokio_rustls::client::TlsStream<TcpStream>;

/// A minimal IMAP client: sends a command, reads to its tagged answer (literals included).
struct Client {
    stream: BufReader<Stream>,
    next_tag: u32,
}

impl Client {
    async fn connect(
        addr: std::net::SocketAddr,
        tls: Arc<rustls::ClientConfig>,
    ) -> std::io::Result<Client> {
        let tcp = TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(tls);
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("valid name");
        let stream = connector.connect(name, tcp).await?;
        let mut client = Client {
            stream: BufReader::new(stream),
            next_tag: 0,
        };
        let mut greeting = String::new();
        client.stream.read_line(&mut greeting).await?;
        Ok(client)
    }

    async fn command(&mut self, text: &str) -> std::io::Result<(bool, usize)> {
        self.next_tag += 1;
        let tag = format!("t{}", self.next_tag);
        self.stream
            .get_mut()
            .write_all(format!("{tag} {text}\r\n").as_bytes())
            .await?;
        let mut received = 0;
        loop {
            let mut line = Vec::new();
            let read = self.stream.read_until(b'\n', &mut line).await?;
            if read == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            received += read;
            if let Some(length) = literal_length(&line) {
                let mut literal = vec![0u8; length];
                self.stream.read_exact(&mut literal).await?;
                received += length;
                continue;
            }
            if line.starts_with(tag.as_bytes()) && line.get(tag.len()) == Some(&b' ') {
                let ok = line[tag.len() + 1..].starts_with(b"OK");
                return Ok((ok, received));
            }
        }
    }
}

fn literal_length(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|&b| b == b'{')?;
    std::str::from_utf8(&line[open + 1..])
        .ok()?
        .trim_end_matches('+')
        .parse()
        .ok()
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

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        imap2graph::tls::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let emulator = Emulator::demo();
        let graph_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let graph_addr = graph_listener.local_addr().expect("addr");
        let (stop_tx, stop_rx) = watch::channel(false);
        let emulator_task = tokio::spawn({
            let emulator = emulator.clone();
            let mut stop = stop_rx.clone();
            async move {
                let _ = emulator
                    .serve(graph_listener, async move {
                        let _ = stop.changed().await;
                    })
                    .await;
            }
        });
        let (cert, key) =
            imap2graph::tls::write_self_signed(dir.path(), &["localhost".into()]).expect("cert");
        let mut config = Config::default();
        config.imap.listen = "127.0.0.1:0".into();
        config.tls.cert = Some(cert);
        config.tls.key = Some(key);
        config.graph.base_url = format!("http://{graph_addr}/v1.0");
        config.identity.authority = format!("http://{graph_addr}");
        config.store.path = dir.path().join("uids.sqlite");
        let gateway = Gateway::prepare(config).await.expect("gateway");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let gateway_task = tokio::spawn(gateway.serve(listener, stop_rx.clone()));

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = Arc::new(
            rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(TrustLoopback(provider)))
                .with_no_client_auth(),
        );
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
        if let Some(kib) = peak_rss_kib() {
            println!(
                "peak RSS (gateway + emulator + load generator): {:.1} MiB",
                kib as f64 / 1024.0
            );
        }
        let _ = stop_tx.send(true);
        let _ = gateway_task.await;
        emulator_task.abort();
    });
}
