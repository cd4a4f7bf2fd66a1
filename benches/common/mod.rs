//! What the benchmarks share: the gateway and the Graph emulator started in one process on
//! loopback, and a minimal IMAP client over TLS.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use imap2graph::config::Config;
use imap2graph::server::Gateway;
use imap2graph_emulator::Emulator;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// A running emulator and gateway.
pub struct Setup {
    pub emulator: Emulator,
    pub imap: SocketAddr,
    pub tls: Arc<rustls::ClientConfig>,
    stop: watch::Sender<bool>,
    gateway: tokio::task::JoinHandle<()>,
    emulator_task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// The gateway's uid store (SQLite).
    pub fn store_path(&self) -> std::path::PathBuf {
        self._dir.path().join("uids.sqlite")
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.gateway.await;
        self.emulator_task.abort();
    }
}

/// Starts the demo emulator and a gateway against it; `configure` adjusts the configuration.
pub async fn start(settings: &[(&str, u64)]) -> Setup {
    imap2graph::tls::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let emulator = Emulator::demo();
    let graph_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let graph_addr = graph_listener.local_addr().expect("addr");
    let (stop, stop_rx) = watch::channel(false);
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
    config.imap.max_connections_per_ip = 10_000;
    for (key, value) in settings {
        match *key {
            "idle_poll_secs" => config.imap.idle_poll_secs = *value,
            other => panic!("unknown bench setting {other}"),
        }
    }
    config.tls.cert = Some(cert);
    config.tls.key = Some(key);
    config.graph.base_url = format!("http://{graph_addr}/v1.0");
    config.identity.authority = format!("http://{graph_addr}");
    config.store.path = dir.path().join("uids.sqlite");
    let gateway = Gateway::prepare(config).await.expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let imap = listener.local_addr().expect("addr");
    let gateway = tokio::spawn(async move {
        let _ = gateway.serve(listener, stop_rx).await;
    });
    let tls = client_tls();
    Setup {
        emulator,
        imap,
        tls,
        stop,
        gateway,
        emulator_task,
        _dir: dir,
    }
}

/// A client TLS configuration that accepts the gateway's self-signed certificate on loopback.
pub fn client_tls() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(imap2graph::tls::AnyServerCertificate::new(
                provider,
            )))
            .with_no_client_auth(),
    )
}

pub type Stream = tokio_rustls::client::TlsStream<TcpStream>;

/// A minimal IMAP client: sends a command, reads to its tagged answer (literals included).
pub struct Client {
    pub stream: BufReader<Stream>,
    next_tag: u32,
}

impl Client {
    pub async fn connect(
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

    pub async fn command(&mut self, text: &str) -> std::io::Result<(bool, usize)> {
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

/// `Peak RSS` of this process, from /proc.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
