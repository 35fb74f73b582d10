//! The embedded Tor client (arti): one per process, bootstrapped in the background as soon as
//! otrbnc starts, with one isolated view of it per network so that two networks never share a
//! circuit. Host names go to the exit (or the onion service directory) as names: nothing here
//! resolves them locally, and nothing here opens a direct connection to the IRC server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arti_client::config::{CfgPath, TorClientConfigBuilder};
use arti_client::{BootstrapBehavior, DataStream, TorClient};
use futures_util::StreamExt;
use tokio::sync::watch;
use tor_rtcompat::PreferredRuntime;

use super::{TorSetupError, TorStatus, error_chain};
use crate::config;
use crate::upstream::transport::TransportError;

/// How long a failed bootstrap waits before arti is asked again.
const BOOTSTRAP_RETRY: Duration = Duration::from_secs(20);
/// Progress is reported to the user in steps of at least this many percent.
const PROGRESS_STEP: u8 = 20;

/// Parses a file in arti's own configuration format (`arti.toml`) into a builder.
fn parse_arti_config(text: &str) -> Result<TorClientConfigBuilder, String> {
    let builder: TorClientConfigBuilder = toml::from_str(text).map_err(|e| e.to_string())?;
    builder.build().map_err(|e| e.to_string())?;
    Ok(builder)
}

/// Checks a file in arti's own configuration format (`arti.toml`) as arti would read it.
pub fn check_arti_config(text: &str) -> Result<(), String> {
    parse_arti_config(text).map(drop)
}

/// The process's Tor client.
pub struct TorService {
    client: Arc<TorClient<PreferredRuntime>>,
    status: watch::Receiver<TorStatus>,
    bootstrap_timeout: Duration,
    connect_timeout: Duration,
}

impl TorService {
    /// Builds the client (no network traffic yet) and starts bootstrapping in the background.
    /// Must run inside the tokio runtime.
    pub fn start(cfg: &config::Tor, data: &config::Data) -> Result<Arc<TorService>, TorSetupError> {
        let dir = cfg.resolved_dir(data);
        // 0700: arti refuses state directories others can write to.
        crate::store::files::ensure_dir(&dir).map_err(|e| TorSetupError::Dir(e.to_string()))?;
        let mut builder = match &cfg.arti_config {
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| TorSetupError::ArtiConfig {
                        path: path.display().to_string(),
                        error: e.to_string(),
                    })?;
                parse_arti_config(&text).map_err(|error| TorSetupError::ArtiConfig {
                    path: path.display().to_string(),
                    error,
                })?
            }
            None => TorClientConfigBuilder::default(),
        };
        builder
            .storage()
            .state_dir(CfgPath::new_literal(dir.join("state")))
            .cache_dir(CfgPath::new_literal(dir.join("cache")));
        let arti_cfg = builder
            .build()
            .map_err(|e| TorSetupError::Arti(e.to_string()))?;
        // arti's TLS (rustls) needs a process-wide provider; the one our TLS already uses.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = TorClient::builder()
            .config(arti_cfg)
            .bootstrap_behavior(BootstrapBehavior::Manual)
            .create_unbootstrapped()
            .map_err(|e| TorSetupError::Arti(error_chain(&e)))?;
        let (tx, rx) = watch::channel(TorStatus::default());
        tokio::spawn(watch_progress(client.clone(), tx.clone()));
        tokio::spawn(bootstrap(client.clone(), tx));
        tracing::info!(dir = %dir.display(), "embedded Tor client started; bootstrapping");
        Ok(Arc::new(TorService {
            client,
            status: rx,
            bootstrap_timeout: Duration::from_secs(cfg.bootstrap_timeout_secs),
            connect_timeout: Duration::from_secs(cfg.connect_timeout_secs),
        }))
    }

    /// A view for one network: its own circuits (stream isolation), kept across reconnects.
    pub fn for_network(&self) -> TorRoute {
        TorRoute {
            client: self.client.isolated_client(),
            status: self.status.clone(),
            bootstrap_timeout: self.bootstrap_timeout,
            connect_timeout: self.connect_timeout,
            announced: AtomicBool::new(false),
        }
    }

    /// The current status.
    pub fn status(&self) -> TorStatus {
        self.status.borrow().clone()
    }
}

/// One network's way through Tor.
pub struct TorRoute {
    client: Arc<TorClient<PreferredRuntime>>,
    status: watch::Receiver<TorStatus>,
    bootstrap_timeout: Duration,
    connect_timeout: Duration,
    /// Whether this network's user has been told Tor is ready.
    announced: AtomicBool,
}

impl TorRoute {
    /// The shared client's status.
    pub fn status(&self) -> TorStatus {
        self.status.borrow().clone()
    }

    /// Waits for the bootstrap (telling `progress` how it goes), then opens a stream to
    /// `host:port` through Tor. The host name is resolved by the exit, or is an onion address.
    pub async fn connect(
        &self,
        host: &str,
        port: u16,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<DataStream, TransportError> {
        self.wait_bootstrapped(progress).await?;
        let addr = format!("{host}:{port}");
        tokio::time::timeout(self.connect_timeout, self.client.connect((host, port)))
            .await
            .map_err(|_| TransportError::Timeout(format!("{addr} through Tor")))?
            .map_err(|e| TransportError::Tor {
                addr,
                error: error_chain(&e),
            })
    }

    async fn wait_bootstrapped(
        &self,
        progress: &mut (dyn FnMut(String) + Send),
    ) -> Result<(), TransportError> {
        let mut rx = self.status.clone();
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.bootstrap_timeout;
        let mut told: Option<(u8, Option<String>)> = None;
        loop {
            let st = rx.borrow_and_update().clone();
            if st.ready {
                // Said once per network, and again after a wait the user was told about.
                if !self.announced.swap(true, Ordering::Relaxed) || told.is_some() {
                    progress(format!("Tor: {}.", st.describe()));
                }
                return Ok(());
            }
            let news = match &told {
                None => true,
                Some((p, b)) => st.percent >= p.saturating_add(PROGRESS_STEP) || *b != st.blocked,
            };
            if news {
                progress(format!("Tor: {}.", st.describe()));
                told = Some((st.percent, st.blocked.clone()));
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(TransportError::TorNotReady {
                            waited: started.elapsed().as_secs(),
                            status: "the Tor client stopped".to_string(),
                        });
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(TransportError::TorNotReady {
                        waited: started.elapsed().as_secs(),
                        status: rx.borrow().describe(),
                    });
                }
            }
        }
    }
}

/// Copies arti's bootstrap events into the status.
async fn watch_progress(client: Arc<TorClient<PreferredRuntime>>, tx: watch::Sender<TorStatus>) {
    let mut events = client.bootstrap_events();
    while let Some(ev) = events.next().await {
        let percent = (ev.as_frac().clamp(0.0, 1.0) * 100.0).round() as u8;
        let summary = ev.to_string();
        let blocked = ev.blocked().map(|b| b.to_string());
        tracing::debug!(percent, %summary, "tor bootstrap progress");
        tx.send_modify(|s| {
            if !s.ready {
                s.percent = percent;
            }
            s.summary = summary;
            s.blocked = blocked;
        });
    }
}

/// Bootstraps, retrying until it works (arti keeps the directory fresh afterwards).
async fn bootstrap(client: Arc<TorClient<PreferredRuntime>>, tx: watch::Sender<TorStatus>) {
    let started = Instant::now();
    loop {
        match client.bootstrap().await {
            Ok(()) => {
                let secs = started.elapsed().as_secs_f64();
                tracing::info!(secs, "embedded Tor client bootstrapped");
                tx.send_modify(|s| {
                    s.ready = true;
                    s.percent = 100;
                    s.error = None;
                    s.blocked = None;
                    s.bootstrap_secs = Some(secs);
                });
                return;
            }
            Err(e) => {
                let error = error_chain(&e);
                tracing::warn!(%error, retry_secs = BOOTSTRAP_RETRY.as_secs(), "Tor bootstrap failed");
                tx.send_modify(|s| s.error = Some(error));
                tokio::time::sleep(BOOTSTRAP_RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arti_config_fragments_are_checked() {
        let ok = "[path_rules]\nipv4_subnet_family_prefix = 33\n[address_filter]\nallow_local_addrs = true\n";
        assert!(parse_arti_config(ok).is_ok());
        let unknown_type = "[path_rules]\nipv4_subnet_family_prefix = \"x\"\n";
        assert!(parse_arti_config(unknown_type).is_err());
        // Authorities without fallbacks: arti itself refuses this.
        let no_fallbacks = "[tor_network.authorities]\nv3idents = [\"911F7C74212214823DDBDE3044B5B1AF3EFB98A0\"]\n";
        let e = parse_arti_config(no_fallbacks).err().unwrap_or_default();
        assert!(e.contains("fallback"), "{e}");
    }
}
