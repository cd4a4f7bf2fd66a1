//! Owns the IMAPS listener: accepting TCP connections, the PROXY v2 header of a load balancer
//! (when configured), the limits on connections overall and per client address, the TLS
//! handshake, and graceful shutdown (stop accepting, `* BYE` to open
//! sessions, exit within the grace period).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::connection::{self, ConnectionLimits};
use crate::hub::HubRegistry;
use crate::proxy;

/// Connections per client address, released when a connection ends.
#[derive(Default)]
struct PerAddress {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn try_take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.table.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Accepts connections until `shutdown` turns true, then waits up to the grace period for open
/// sessions (which have been sent `* BYE`) and returns.
pub async fn run(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    registry: Arc<HubRegistry>,
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let limits = ConnectionLimits::from_config(config);
    let overall = Arc::new(Semaphore::new(config.imap.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let max_per_address = config.imap.max_connections_per_ip;
    let proxy_protocol = config.imap.proxy_protocol;
    let proxy_trusted: Arc<Vec<IpAddr>> =
        Arc::new(config.proxy_trusted_addrs().unwrap_or_default());
    let handshake_timeout = limits.prelogin_timeout.min(Duration::from_secs(30));
    let mut connections = JoinSet::new();

    loop {
        let (mut tcp, tcp_peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        while connections.try_join_next().is_some() {}
        let slot_overall = overall.clone().try_acquire_owned().ok();
        let per_address = per_address.clone();
        let proxy_trusted = proxy_trusted.clone();
        let acceptor = acceptor.clone();
        let registry = registry.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _open = crate::metrics::METRICS.session_started();
            let _ = tcp.set_nodelay(true);
            let peer = if proxy_protocol {
                // Never empty: configuration refuses proxy_protocol without proxy_trusted.
                if !proxy_trusted.contains(&tcp_peer.ip()) {
                    tracing::warn!(peer = %tcp_peer, "connection from an address not in imap.proxy_trusted: closed");
                    return;
                }
                match tokio::time::timeout(handshake_timeout, proxy::read_header(&mut tcp)).await {
                    Ok(Ok(Ok(header))) => header.source.unwrap_or(tcp_peer),
                    Ok(Ok(Err(err))) => {
                        tracing::warn!(peer = %tcp_peer, error = %err, "bad PROXY header: closed");
                        return;
                    }
                    Ok(Err(_)) | Err(_) => {
                        tracing::debug!(peer = %tcp_peer, "no PROXY header arrived: closed");
                        return;
                    }
                }
            } else {
                tcp_peer
            };
            let slot_address = per_address.try_take(peer.ip(), max_per_address);
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    tracing::debug!(%peer, error = %err, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let (Some(_overall), Some(_address)) = (slot_overall, slot_address) else {
                tracing::warn!(%peer, "connection refused: too many connections");
                let mut tls = tls;
                let _ = tls
                    .write_all(b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n")
                    .await;
                let _ = tls.shutdown().await;
                return;
            };
            tracing::debug!(%peer, "connection opened");
            if let Err(err) = connection::serve(tls, peer, registry, limits, shutdown).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            tracing::debug!(%peer, "connection closed");
        });
    }

    tracing::info!(
        open = connections.len(),
        "shutting down: no longer accepting connections"
    );
    let grace = Duration::from_secs(config.imap.shutdown_grace_secs);
    if tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "grace period over: closing remaining connections"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Binds the listener; a clear error names the address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| std::io::Error::new(err.kind(), format!("cannot listen on {addr}: {err}")))
}
