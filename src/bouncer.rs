//! The running bouncer: the listener, the networks, and an orderly shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::config::{Config, I2pDestination, Transport};
use crate::local_state::LocalState;
use crate::network::{self, NetMsg, NetworkHandle};
use crate::password::Verifier;
use crate::upstream::i2p::I2pRoute;
use crate::upstream::tor::TorService;
use crate::upstream::transport::Route;

/// How long shutdown waits for every network to say goodbye.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// What client connections share.
pub struct Hub {
    /// The login name.
    pub user: String,
    /// The password check.
    pub verifier: Arc<Verifier>,
    networks: BTreeMap<String, NetworkHandle>,
}

impl Hub {
    /// Whether a network of that name is configured.
    pub fn has_network(&self, name: &str) -> bool {
        self.networks.contains_key(name)
    }

    /// The network a client asked for; with one network the name may be left out.
    pub fn select_network(&self, name: Option<&str>) -> Result<NetworkHandle, String> {
        match name {
            Some(n) => self.networks.get(n).cloned().ok_or_else(|| {
                format!(
                    "Unknown network {n:?}; configured: {}",
                    self.networks.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }),
            None if self.networks.len() == 1 => self
                .networks
                .values()
                .next()
                .cloned()
                .ok_or_else(|| "no network configured".to_string()),
            None => Err(format!(
                "Select a network: PASS {}/<network>:<password> (configured: {})",
                self.user,
                self.networks.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
}

/// Errors that stop otrbnc from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        /// Address.
        addr: String,
        /// Why.
        error: std::io::Error,
    },
    /// Something else (identity, password hash, network set-up).
    #[error("{0}")]
    Setup(String),
}

/// Runs until SIGINT or SIGTERM.
pub async fn run(config: Config, state: LocalState) -> Result<(), StartError> {
    let hash = config
        .listen
        .password_hash
        .clone()
        .ok_or_else(|| StartError::Setup("listen.password_hash is not set".into()))?;
    let verifier = Arc::new(Verifier::new(hash).map_err(StartError::Setup)?);
    let listener = TcpListener::bind(&config.listen.address)
        .await
        .map_err(|error| StartError::Listen {
            addr: config.listen.address.clone(),
            error,
        })?;
    let mut opened = Vec::new();
    for (name, net) in &config.networks {
        let trust = state
            .trust_for(name)
            .map_err(|e| StartError::Setup(e.to_string()))?;
        let history = state
            .history_for(name, &config.data)
            .map_err(|e| StartError::Setup(e.to_string()))?;
        // Each I2P network has its own session, so its own destination.
        let i2p = if net.transport == Transport::I2p {
            let keys = if config.i2p.destination == I2pDestination::Persistent {
                state
                    .i2p_keys_for(name)
                    .map_err(|e| StartError::Setup(e.to_string()))?
            } else {
                None
            };
            Some(I2pRoute::new(name, &config.i2p, keys))
        } else {
            None
        };
        opened.push((network::Stores { trust, history }, i2p));
    }
    let (identity, file) = state.into_identity();
    let identity = Arc::new(crate::local_state::SharedIdentity::new(identity, file));
    // One embedded Tor client for every network that uses it, bootstrapping from now on.
    let tor = if config
        .networks
        .values()
        .any(|n| n.transport == Transport::Tor)
    {
        Some(
            TorService::start(&config.tor, &config.data)
                .map_err(|e| StartError::Setup(e.to_string()))?,
        )
    } else {
        None
    };
    let mut networks = BTreeMap::new();
    // Each network reaches the others through this, filled once they all run.
    let directory = network::new_directory();
    for ((name, net), (stores, i2p)) in config.networks.iter().zip(opened) {
        let route = Route::for_network(name, net, tor.as_ref(), i2p).map_err(StartError::Setup)?;
        let handle = network::spawn(
            name.clone(),
            net.clone(),
            config.otr.clone(),
            identity.clone(),
            stores,
            route,
            directory.clone(),
        )
        .map_err(StartError::Setup)?;
        networks.insert(name.clone(), handle);
    }
    // Set exactly once, here; a second set cannot happen.
    let _ = directory.set(networks.clone());
    let hub = Arc::new(Hub {
        user: config.listen.user.clone(),
        verifier,
        networks,
    });
    tracing::info!(address = %config.listen.address, networks = hub.networks.len(), "listening");
    let limit = Arc::new(Semaphore::new(config.listen.max_clients));
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _addr) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = limit.clone().try_acquire_owned() else {
                    tracing::warn!("too many clients; connection refused");
                    drop(stream);
                    continue;
                };
                let hub = hub.clone();
                tokio::spawn(async move {
                    crate::downstream::serve(stream, hub).await;
                    drop(permit);
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: ending private conversations");
    let mut waits = Vec::new();
    for handle in hub.networks.values() {
        let (done, wait) = oneshot::channel();
        if handle.tx.send(NetMsg::Shutdown { done }).await.is_ok() {
            waits.push(wait);
        }
    }
    let all = futures_util::future::join_all(waits);
    if tokio::time::timeout(SHUTDOWN_TIMEOUT, all).await.is_err() {
        tracing::warn!("some networks did not finish shutting down in time");
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
