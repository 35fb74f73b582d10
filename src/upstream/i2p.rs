//! `transport = "i2p"`: the network's own SAM session on the I2P router, and one SAM stream
//! per upstream connection.
//!
//! The session (its tunnels, and so the network's I2P address) outlives upstream
//! connections: a reconnect to the IRC server opens a new stream on the same session. The
//! session is made again only when its control connection has closed (the router restarted
//! or dropped it) or the router says it no longer knows it.
//!
//! Fail closed: this route has no other way to the server. With the router down, every
//! attempt fails with a message saying so, and is retried later, again through I2P.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::BufReader;
use tokio::net::TcpStream;

use super::sam::command::Destination;
use super::sam::{SamConn, SamError, dest};
use crate::config::I2p;
use crate::store::I2pKeyFile;

/// How long connecting to the SAM bridge and `HELLO` may take: it is a local service.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// A network's way through I2P.
pub struct I2pRoute {
    network: String,
    sam: String,
    options: Vec<(String, String)>,
    session_timeout: Duration,
    connect_timeout: Duration,
    /// Stored keys (`i2p.destination = "persistent"`).
    keys: Option<tokio::sync::Mutex<I2pKeyFile>>,
    session: tokio::sync::Mutex<Option<Session>>,
    /// Our address while a session is up, for `*otr status`.
    address: std::sync::Mutex<Option<String>>,
}

/// A live SAM session: its id, and the task holding its control connection.
struct Session {
    id: String,
    alive: Arc<AtomicBool>,
    control: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // Closing the control connection ends the session on the router.
        self.control.abort();
    }
}

/// Why an I2P connection failed, with the SAM address for the message.
#[derive(Debug, thiserror::Error)]
#[error("through I2P (SAM {sam}): {error}")]
pub struct I2pError {
    /// The SAM bridge address.
    pub sam: String,
    /// What went wrong.
    pub error: SamError,
}

impl I2pRoute {
    /// The route of `network`; `keys` when its destination is persistent.
    pub fn new(network: &str, cfg: &I2p, keys: Option<I2pKeyFile>) -> I2pRoute {
        I2pRoute {
            network: network.to_string(),
            sam: cfg.sam_address.clone(),
            options: cfg
                .options
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            session_timeout: Duration::from_secs(cfg.session_timeout_secs),
            connect_timeout: Duration::from_secs(cfg.connect_timeout_secs),
            keys: keys.map(tokio::sync::Mutex::new),
            session: tokio::sync::Mutex::new(None),
            address: std::sync::Mutex::new(None),
        }
    }

    /// The SAM bridge address.
    pub fn sam(&self) -> &str {
        &self.sam
    }

    /// Whether the destination is kept across restarts.
    pub fn is_persistent(&self) -> bool {
        self.keys.is_some()
    }

    /// Our `.b32.i2p` address while a session is up.
    pub fn address(&self) -> Option<String> {
        self.address.lock().ok().and_then(|a| a.clone())
    }

    /// Opens a stream to `host` (a name, `.b32.i2p` or base64 destination), creating the
    /// session first if there is none. `progress` hears about the slow steps.
    pub async fn connect(
        &self,
        host: &str,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<BufReader<TcpStream>, I2pError> {
        self.try_connect(host, progress)
            .await
            .map_err(|error| I2pError {
                sam: self.sam.clone(),
                error,
            })
    }

    async fn try_connect(
        &self,
        host: &str,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<BufReader<TcpStream>, SamError> {
        let mut session = self.session.lock().await;
        if session
            .as_ref()
            .is_some_and(|s| !s.alive.load(Ordering::Acquire))
        {
            tracing::info!(network = %self.network, "I2P session ended; creating a new one");
            *session = None;
            self.set_address(None);
        }
        let id = match session.as_ref() {
            Some(s) => s.id.clone(),
            None => {
                let created = self.create_session(progress).await?;
                let id = created.id.clone();
                *session = Some(created);
                id
            }
        };
        let result = self.open_stream(&id, host).await;
        if let Err(e) = &result
            && e.result() == Some("INVALID_ID")
        {
            // The router forgot the session: make a new one at the next attempt.
            *session = None;
            self.set_address(None);
        }
        result
    }

    async fn create_session(
        &self,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<Session, SamError> {
        let started = Instant::now();
        let mut control = SamConn::open(&self.sam, HELLO_TIMEOUT).await?;
        progress(format!(
            "Creating an I2P session for {} (building tunnels; this can take a minute or two)…",
            self.network
        ));
        // Unique per run, so a session the router still holds from an earlier run does not
        // clash (DUPLICATED_ID).
        let id = format!("otrbnc-{}-{:08x}", self.network, rand::random::<u32>());
        let mut keys = match &self.keys {
            Some(k) => Some(k.lock().await),
            None => None,
        };
        let stored = keys
            .as_ref()
            .and_then(|k| k.keys().map(|s| zeroize::Zeroizing::new(s.to_string())));
        let destination = match &stored {
            Some(k) => Destination::Keys(k),
            None => Destination::Transient,
        };
        let private = control
            .create_session(&id, &destination, &self.options, self.session_timeout)
            .await?;
        if let Some(file) = keys.as_mut()
            && stored.is_none()
        {
            // A failure to store is told, not fatal: the session works, only the address will
            // be new next time.
            if let Err(e) = file.save(&private) {
                tracing::warn!(network = %self.network, error = %e, "cannot store the I2P keys");
                progress(format!("Could not store the I2P keys: {e}"));
            }
        }
        let address = dest::b32_address(&private);
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(network = %self.network, secs = format!("{secs:.1}"), "I2P session ready");
        tracing::debug!(network = %self.network, address = ?address, "I2P session address");
        progress(format!(
            "I2P session ready after {secs:.0} s; our I2P address: {}.",
            address.as_deref().unwrap_or("(unknown)")
        ));
        self.set_address(address);
        let alive = Arc::new(AtomicBool::new(true));
        let flag = alive.clone();
        let control = tokio::spawn(async move {
            control.closed().await;
            flag.store(false, Ordering::Release);
        });
        Ok(Session { id, alive, control })
    }

    async fn open_stream(&self, id: &str, host: &str) -> Result<BufReader<TcpStream>, SamError> {
        let mut conn = SamConn::open(&self.sam, HELLO_TIMEOUT).await?;
        let destination = if dest::is_public_destination(host) {
            host.to_string()
        } else {
            conn.lookup(host, self.connect_timeout).await?
        };
        conn.connect_stream(id, &destination, self.connect_timeout)
            .await
    }

    fn set_address(&self, address: Option<String>) {
        if let Ok(mut a) = self.address.lock() {
            *a = address;
        }
    }
}

impl I2pError {
    /// Whether retrying cannot help until the configuration or the router changes.
    pub fn is_permanent(&self) -> bool {
        self.error.is_permanent()
    }
}
