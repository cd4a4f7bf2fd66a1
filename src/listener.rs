//! Owns the IMAPS listener: accepting TCP connections, the limits applied at accept (connections
//! overall and per client address, handshakes in progress, open files), the PROXY v2 header of a
//! load balancer (when configured), the TLS handshake, and graceful shutdown (stop accepting,
//! `* BYE` to open sessions, exit within the grace period).
//!
//! Limits come before the handshake, so a flood of idle sockets costs a file descriptor for a
//! moment, never a handshake or a session: a connection over `imap.max_connections` or
//! `imap.max_connections_per_ip` is closed at once, without a word (a plain-text `* BYE` would be
//! garbage to a TLS client). Handshakes in progress are capped overall and per address; a
//! connection waits for its turn up to the handshake timeout, so one address cannot starve the
//! others and a burst of legitimate logins queues instead of failing.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::connection::{self, ConnectionLimits};
use crate::hub::HubRegistry;
use crate::metrics::{ConnectionRefusal, METRICS};
use crate::proxy;

/// File descriptors kept for everything but client connections: Graph and PostgreSQL
/// connections, the uid store, the metrics listener, certificates read at reload.
const RESERVED_FILES: u64 = 256;

/// Open connections and handshakes per client address, released when a connection ends.
struct PerAddress {
    entries: Mutex<HashMap<IpAddr, AddressEntry>>,
    max_handshakes: usize,
}

struct AddressEntry {
    connections: usize,
    handshakes: Arc<Semaphore>,
}

/// One connection's place in its address's count.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
    handshakes: Arc<Semaphore>,
}

impl PerAddress {
    fn new(max_handshakes: usize) -> Arc<PerAddress> {
        Arc::new(PerAddress {
            entries: Mutex::new(HashMap::new()),
            max_handshakes,
        })
    }

    fn try_take(self: &Arc<Self>, ip: IpAddr, limit: usize) -> Option<AddressSlot> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(ip).or_insert_with(|| AddressEntry {
            connections: 0,
            handshakes: Arc::new(Semaphore::new(self.max_handshakes)),
        });
        if entry.connections >= limit {
            return None;
        }
        entry.connections += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
            handshakes: entry.handshakes.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut entries = self.table.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(&self.ip) {
            entry.connections -= 1;
            if entry.connections == 0 {
                entries.remove(&self.ip);
            }
        }
    }
}

/// Waits for a handshake slot overall and for the client's address, up to `deadline`; gives up
/// at once when the client goes away meanwhile, so abandoned connections hold no slot.
async fn handshake_turn(
    overall: &Arc<Semaphore>,
    address: &AddressSlot,
    tcp: &TcpStream,
    deadline: tokio::time::Instant,
) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
    let turns = async {
        let address_turn = address.handshakes.clone().acquire_owned().await.ok()?;
        let overall_turn = overall.clone().acquire_owned().await.ok()?;
        Some((address_turn, overall_turn))
    };
    tokio::select! {
        turns = tokio::time::timeout_at(deadline, turns) => turns.ok().flatten(),
        () = peer_gone(tcp) => None,
    }
}

/// Returns when the peer has closed the connection (or it failed); never while it is open,
/// whether or not it has sent its first bytes.
async fn peer_gone(tcp: &TcpStream) {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(0) | Err(_) => {}
        Ok(_) => std::future::pending().await,
    }
}

/// Raises the soft limit of open files towards what `wanted` connections need (up to the hard
/// limit) and returns how many connections fit under it.
fn fit_open_files(wanted: usize) -> usize {
    let needed = wanted as u64 + RESERVED_FILES;
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return wanted;
    }
    if limit.rlim_cur < needed {
        let raised = libc::rlimit {
            rlim_cur: needed.min(limit.rlim_max),
            rlim_max: limit.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            tracing::info!(
                from = limit.rlim_cur,
                to = raised.rlim_cur,
                "raised the soft limit of open files"
            );
            limit.rlim_cur = raised.rlim_cur;
        }
    }
    if limit.rlim_cur >= needed {
        return wanted;
    }
    let fits = limit.rlim_cur.saturating_sub(RESERVED_FILES).max(1) as usize;
    tracing::warn!(
        configured = wanted,
        effective = fits,
        open_files = limit.rlim_cur,
        "imap.max_connections lowered to fit the open-file limit (raise it, e.g. LimitNOFILE= in the systemd unit)"
    );
    fits
}

/// Accepts connections until `shutdown` turns true, then waits up to the grace period for open
/// sessions (which have been sent `* BYE`) and returns.
pub async fn run(
    listener: TcpListener,
    tls: crate::tls::ReloadableTls,
    registry: Arc<HubRegistry>,
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::from_config(config);
    let overall = Arc::new(Semaphore::new(fit_open_files(config.imap.max_connections)));
    let handshakes = Arc::new(Semaphore::new(config.imap.max_handshakes));
    let per_address = PerAddress::new(config.imap.max_handshakes_per_ip);
    let max_per_address = config.imap.max_connections_per_ip;
    let proxy_protocol = config.imap.proxy_protocol;
    let proxy_trusted: Arc<Vec<IpAddr>> =
        Arc::new(config.proxy_trusted_addrs().unwrap_or_default());
    let handshake_timeout =
        Duration::from_secs(config.imap.handshake_timeout_secs).min(limits.prelogin_timeout);
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
        let Ok(slot_overall) = overall.clone().try_acquire_owned() else {
            METRICS.connection_refused(ConnectionRefusal::Total);
            tracing::warn!(peer = %tcp_peer, "connection refused at accept: imap.max_connections reached");
            continue;
        };
        if proxy_protocol && !proxy_trusted.contains(&tcp_peer.ip()) {
            tracing::warn!(peer = %tcp_peer, "connection from an address not in imap.proxy_trusted: closed");
            continue;
        }
        // Without PROXY the address is known now; with it, after the header.
        let slot_address = if proxy_protocol {
            None
        } else {
            match per_address.try_take(tcp_peer.ip(), max_per_address) {
                Some(slot) => Some(slot),
                None => {
                    METRICS.connection_refused(ConnectionRefusal::PerAddress);
                    tracing::warn!(peer = %tcp_peer, "connection refused at accept: imap.max_connections_per_ip reached");
                    continue;
                }
            }
        };
        let per_address = per_address.clone();
        let handshakes = handshakes.clone();
        // The certificate in use now: a reload (SIGHUP) applies to connections accepted after it.
        let acceptor = TlsAcceptor::from(tls.current());
        let registry = registry.clone();
        let limits = limits.clone();
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let _overall = slot_overall;
            let _open = METRICS.session_started();
            let _ = tcp.set_nodelay(true);
            let deadline = tokio::time::Instant::now() + handshake_timeout;
            let (peer, _address) = match slot_address {
                Some(slot) => (tcp_peer, slot),
                None => {
                    let peer = match tokio::time::timeout_at(deadline, proxy::read_header(&mut tcp)).await {
                        Ok(Ok(Ok(header))) => header.source.unwrap_or(tcp_peer),
                        Ok(Ok(Err(err))) => {
                            tracing::warn!(peer = %tcp_peer, error = %err, "bad PROXY header: closed");
                            return;
                        }
                        Ok(Err(_)) | Err(_) => {
                            tracing::debug!(peer = %tcp_peer, "no PROXY header arrived: closed");
                            return;
                        }
                    };
                    match per_address.try_take(peer.ip(), max_per_address) {
                        Some(slot) => (peer, slot),
                        None => {
                            METRICS.connection_refused(ConnectionRefusal::PerAddress);
                            tracing::warn!(%peer, "connection refused: imap.max_connections_per_ip reached");
                            return;
                        }
                    }
                }
            };
            let Some(turn) = handshake_turn(&handshakes, &_address, &tcp, deadline).await else {
                METRICS.connection_refused(ConnectionRefusal::Handshakes);
                tracing::warn!(%peer, "connection closed: no handshake slot within the handshake timeout");
                return;
            };
            let tls = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
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
            drop(turn);
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
