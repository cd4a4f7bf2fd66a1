//! The `imap2graph` binary: parses the command line, sets up logging, and wires the layers
//! together for `serve`, `demo`, `emulator`, `check`, `loadtest` and `cert`. The emulator is
//! wired in only here.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use imap2graph::config::Config;
use imap2graph::server::Gateway;
use imap2graph::{listener, tls};
use imap2graph_emulator::{demo, DeltaConfig, Emulator, EmulatorConfig, MimeConfig};
use tokio::sync::watch;

use cli::{Cli, Command, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
    tls::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("imap2graph: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("imap2graph: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => {
            let config = Config::load(&config)?;
            serve(config, shutdown_signal()).await
        }
        Command::Demo {
            imap,
            graph,
            data_dir,
            delta,
            mime,
        } => run_demo(imap, graph, data_dir, delta.config(), mime.config()).await,
        Command::Emulator {
            listen,
            seed,
            delta,
            mime,
        } => {
            let mut config = match seed {
                Some(dir) => EmulatorConfig::from_eml_dir(&dir)
                    .with_context(|| format!("loading the seed from {}", dir.display()))?,
                None => EmulatorConfig::demo(),
            };
            config.delta = delta.config();
            config.mime = mime.config();
            let emulator = Emulator::with_config(config);
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            println!("Graph emulator: http://{addr}");
            println!("  identity.authority = \"http://{addr}\"");
            println!("  graph.base_url     = \"http://{addr}/v1.0\"");
            let (sender, receiver) = watch::channel(false);
            tokio::spawn(forward_signal(sender));
            emulator
                .serve(listener, wait_for(receiver))
                .await
                .context("emulator")?;
            Ok(())
        }
        Command::Check {
            config: path,
            login,
            mailbox,
        } => {
            let config = Config::load(&path)?;
            let secret = imap2graph::check::read_secret()?;
            let rows = imap2graph::check::run(&config, &path, &login, &mailbox, secret).await;
            print!("{}", imap2graph::check::render(&rows));
            if rows.iter().any(|row| !row.ok) {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Loadtest(options) => {
            let json = options.json;
            let summary = imap2graph::loadtest::run(options).await?;
            if json {
                println!("{}", summary.to_json());
            } else {
                print!("{}", summary.render());
            }
            if summary.stats.total_errors() > 0 || summary.consistency_errors() > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Cert { out, name } => {
            let (cert, key) = tls::write_self_signed(&out, &name)?;
            println!("certificate: {}", cert.display());
            println!("private key: {}", key.display());
            Ok(())
        }
    }
}

/// The gateway: prepared (so configuration errors stop it before it listens), bound, served
/// until a graceful shutdown.
async fn serve(config: Config, shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let listen = config.listen_addr()?;
    let gateway = Gateway::prepare(config).await?;
    let listener = listener::bind(listen).await?;
    serve_bound(gateway, listener, shutdown).await
}

/// Starts the metrics listener when `metrics.listen` is set, announces the bound address
/// (`IMAPS: ADDR`, which scripts wait for) and serves.
async fn serve_bound(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    if let Some(address) = gateway.config().metrics_addr()? {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("metrics.listen: cannot listen on {address}"))?;
        let local = metrics.local_addr()?;
        tracing::info!(address = %local, "metrics listening");
        println!("Metrics: http://{local}/metrics");
        tokio::spawn(imap2graph::metrics::serve(
            metrics,
            gateway.store().clone(),
            shutdown.clone(),
        ));
    }
    tokio::spawn(reload_on_hangup(gateway.tls().clone()));
    let local = listener.local_addr()?;
    tracing::info!(address = %local, "IMAPS listening");
    println!("IMAPS: {local}");
    gateway.serve(listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn run_demo(
    imap: std::net::SocketAddr,
    graph: std::net::SocketAddr,
    data_dir: Option<PathBuf>,
    delta: DeltaConfig,
    mime: MimeConfig,
) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(default_demo_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !imap.ip().is_unspecified() && !names.contains(&imap.ip().to_string()) {
        names.push(imap.ip().to_string());
    }
    let (cert, key) = tls::ensure_self_signed(&data_dir, &names)?;

    let emulator = Emulator::with_config(EmulatorConfig {
        delta,
        mime,
        ..EmulatorConfig::demo()
    });
    let graph_listener = tokio::net::TcpListener::bind(graph)
        .await
        .with_context(|| format!("cannot listen on {graph}"))?;
    let graph_addr = graph_listener.local_addr()?;
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(forward_signal(sender));
    let emulator_task = tokio::spawn({
        let receiver = receiver.clone();
        async move { emulator.serve(graph_listener, wait_for(receiver)).await }
    });

    // The same `IMAP2GRAPH_<SECTION>_<KEY>` overrides as `serve` (limits, timeouts, caches); the
    // demo then sets where it listens, its certificate, its emulator and its store.
    let mut config = Config::from_toml_and_env("", std::env::vars())?;
    config.imap.listen = imap.to_string();
    config.tls.cert = Some(cert.clone());
    config.tls.key = Some(key);
    config.graph.base_url = format!("http://{graph_addr}/v1.0");
    config.identity.authority = format!("http://{graph_addr}");
    for client_id in [demo::CLIENT_ID, demo::READONLY_CLIENT_ID] {
        config
            .identity
            .default_mailbox
            .insert(client_id.to_string(), demo::ALICE.to_string());
    }
    config.store.path = data_dir.join("uids.sqlite");
    config.validate()?;
    let gateway = Gateway::prepare(config).await?;
    let imap_listener = listener::bind(imap).await?;
    let imap_addr = imap_listener.local_addr()?;

    println!("Graph emulator: http://{graph_addr}");
    println!("Certificate: {} (self-signed)", cert.display());
    println!(
        "Tenant {}, application (client) id {}, secret {}",
        demo::TENANT,
        demo::CLIENT_ID,
        demo::SECRET
    );
    println!(
        "Read-only application (Mail.Read only): client id {}, secret {}",
        demo::READONLY_CLIENT_ID,
        demo::READONLY_SECRET
    );
    println!("Mailboxes: {}, {}", demo::ALICE, demo::VOICEMAIL);
    println!("Try:");
    println!(
        "  curl -k --user '{}/{}/{}:{}' imaps://{}:{}/INBOX",
        demo::TENANT,
        demo::CLIENT_ID,
        demo::ALICE,
        demo::SECRET,
        if imap_addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            imap_addr.ip().to_string()
        },
        imap_addr.port()
    );
    let result = serve_bound(gateway, imap_listener, receiver).await;
    emulator_task.abort();
    result
}

/// `$XDG_DATA_HOME/imap2graph/demo`, or `~/.local/share/imap2graph/demo`, or the temp dir.
fn default_demo_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return Path::new(&dir).join("imap2graph/demo");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return Path::new(&home).join(".local/share/imap2graph/demo");
    }
    std::env::temp_dir().join("imap2graph-demo")
}

/// A receiver that turns true on SIGTERM or Ctrl-C.
/// Reloads the certificate and key on SIGHUP: connections accepted afterwards use them, open
/// sessions keep theirs. A file that does not load leaves the certificate in use as it is.
async fn reload_on_hangup(tls: tls::ReloadableTls) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!(
                    cert = %tls.cert_path().display(),
                    "TLS certificate and key reloaded"
                ),
                Err(err) => tracing::error!(
                    error = %err,
                    "TLS certificate and key not reloaded; the ones in use stay"
                ),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tls;
}

fn shutdown_signal() -> watch::Receiver<bool> {
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(forward_signal(sender));
    receiver
}

async fn forward_signal(sender: watch::Sender<bool>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                let _ = sender.send(true);
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutdown requested");
    let _ = sender.send(true);
}

async fn wait_for(mut receiver: watch::Receiver<bool>) {
    while !*receiver.borrow() {
        if receiver.changed().await.is_err() {
            // The sender is gone: nobody can ask for shutdown any more, so never return.
            std::future::pending::<()>().await;
        }
    }
}
