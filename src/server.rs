//! Owns the assembly of a running gateway from its configuration: TLS, the uid store, the Graph
//! client, the hub registry and the listener. The binary and the load generator both start the
//! gateway through here, so there is one wiring.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::graph::{GraphClient, GraphError};
use crate::hub::HubRegistry;
use crate::store::{StoreError, UidStore};
use crate::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("configuration: tls.{0}: a PEM file is required")]
    MissingTls(&'static str),
    #[error("configuration: tls: {0}")]
    Tls(#[from] TlsError),
    #[error("configuration: store: {0}")]
    Store(#[from] StoreError),
    #[error("HTTP client: {0}")]
    Graph(#[from] GraphError),
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything checked and opened, ready to accept connections.
pub struct Gateway {
    config: Arc<Config>,
    tls: tls::ReloadableTls,
    registry: Arc<HubRegistry>,
    store: UidStore,
}

impl Gateway {
    /// Loads the certificate, opens the uid store and builds the Graph client; fails before
    /// anything listens.
    pub async fn prepare(config: Config) -> Result<Gateway, ServeError> {
        tls::install_crypto_provider();
        let cert = config
            .tls
            .cert
            .as_deref()
            .ok_or(ServeError::MissingTls("cert"))?;
        let key = config
            .tls
            .key
            .as_deref()
            .ok_or(ServeError::MissingTls("key"))?;
        let tls = tls::ReloadableTls::load(cert, key)?;
        let store = UidStore::open(&config.store).await?;
        let graph = GraphClient::paced(&config.graph, &config.pacing, &config.identity.authority)?;
        let config = Arc::new(config);
        let registry = Arc::new(HubRegistry::new(config.clone(), graph, store.clone()));
        Ok(Gateway {
            config,
            tls,
            registry,
            store,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The TLS configuration, to reload the certificate while serving.
    pub fn tls(&self) -> &tls::ReloadableTls {
        &self.tls
    }

    /// The uid store, for the health check of the metrics endpoint.
    pub fn store(&self) -> &UidStore {
        &self.store
    }

    /// Serves on `listener` until `shutdown` turns true, then returns after the grace period.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: watch::Receiver<bool>,
    ) -> Result<(), ServeError> {
        let trimmer = tokio::spawn(crate::memory::give_back_freed_memory(
            self.registry.clone(),
            shutdown.clone(),
        ));
        let served =
            crate::listener::run(listener, self.tls, self.registry, &self.config, shutdown).await;
        trimmer.abort();
        served?;
        Ok(())
    }
}
