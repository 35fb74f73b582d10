//! The local Tor network from `scripts/tor-testnet/start` (Debian's tor daemons on loopback:
//! authorities, relays, an exit, an onion service, a client SocksPort), found through
//! `OTRBNC_TOR_TESTNET=<dir>`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::otrbnc::{BncConfig, toml_str};

/// The directory of a started test network.
pub const DIR_ENV: &str = "OTRBNC_TOR_TESTNET";
/// Turns "no Tor test network" from a skip into a failure (CI sets it).
pub const REQUIRE_ENV: &str = "OTRBNC_REQUIRE_TOR";
/// How long a test waits for a network that is still forming (the test script starts it in
/// the background while the code builds).
const READY_WAIT: Duration = Duration::from_secs(420);

/// What the tests need to know about the running network.
#[derive(Debug, Clone)]
pub struct TorTestnet {
    /// The network's directory.
    pub dir: PathBuf,
    /// arti's configuration for this network (authorities, fallbacks, path rules).
    pub arti_toml: PathBuf,
    /// The onion service's address (`….onion`); it forwards port 6667 to `onion_target`.
    pub onion: String,
    /// Where the onion service sends its connections.
    pub onion_target: SocketAddr,
    /// The address the exit relay's connections come from.
    pub exit_source: IpAddr,
    /// The address the onion service's connections come from.
    pub onion_source: IpAddr,
    /// A c-tor client's SocksPort on this network (an "external Tor").
    pub socks: SocketAddr,
}

/// How long after the network is ready the tests wait before they use it.
const SETTLE: Duration = Duration::from_secs(60);

impl TorTestnet {
    /// A bouncer `nick` (opted in to `peer`) reaching `upstream` through its embedded Tor
    /// client on this network, without TLS (the exit and the onion service lead to ngircd's
    /// plain port). Set `upstream_host` for a name such as the onion address.
    pub fn bnc(&self, nick: &str, peer: &str, upstream: SocketAddr) -> BncConfig {
        BncConfig::new(nick, upstream)
            .otr_nicks(&[peer])
            .transport("tor")
            .network_toml("tls = false")
            .tor_toml(&format!(
                "arti_config = {}",
                toml_str(&self.arti_toml.display().to_string())
            ))
            .tor_toml("bootstrap_timeout_secs = 300")
            .handshake_timeout(600)
    }

    /// Where the onion service is reached: its address, port 6667.
    pub fn onion_upstream(&self) -> (SocketAddr, String) {
        (SocketAddr::from(([127, 0, 0, 1], 6667)), self.onion.clone())
    }

    /// The running network, waiting for it to be ready if it is still forming. `None`
    /// (after a "skipped" line) when there is none and `OTRBNC_REQUIRE_TOR` is unset; a
    /// panic when it is set.
    pub async fn get(test: &str) -> Option<TorTestnet> {
        super::found_or_skip(test, Self::find().await, REQUIRE_ENV)
    }

    async fn find() -> Result<TorTestnet, String> {
        let (dir, env) =
            super::ready_network(DIR_ENV, "Tor", "scripts/tor-testnet/start", READY_WAIT).await?;
        // An arti client that bootstrapped the moment the network became ready once found no
        // usable guard for the next 300 s (1 run in 5, tests started at once by nextest; cause
        // not established). Start no earlier than one consensus lifetime (60 s) after `ready`,
        // as the tests always did when they ran minutes after the network formed.
        if let Ok(age) = std::fs::metadata(dir.join("ready"))
            .and_then(|m| m.modified())
            .map(|t| t.elapsed().unwrap_or_default())
        {
            tokio::time::sleep(SETTLE.saturating_sub(age)).await;
        }
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| format!("{}/env has no {k}", dir.display()))
        };
        let parse = |k: &str| -> Result<IpAddr, String> {
            get(k)?.parse().map_err(|e| format!("{k}: {e}"))
        };
        // `ip:port`, or a bare port on 127.0.0.1.
        let onion_target = match env.get("TOR_TESTNET_ONION_TARGET") {
            None => SocketAddr::from(([127, 0, 0, 1], 16667)),
            Some(t) => t
                .parse::<SocketAddr>()
                .or_else(|_| {
                    t.parse::<u16>()
                        .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
                })
                .map_err(|_| format!("TOR_TESTNET_ONION_TARGET: {t:?}"))?,
        };
        Ok(TorTestnet {
            arti_toml: env
                .get("TOR_TESTNET_ARTI_TOML")
                .map(PathBuf::from)
                .unwrap_or_else(|| dir.join("arti.toml")),
            onion: get("TOR_TESTNET_ONION")?,
            onion_target,
            exit_source: parse("TOR_TESTNET_EXIT_SOURCE")?,
            onion_source: parse("TOR_TESTNET_ONION_SOURCE")?,
            socks: get("TOR_TESTNET_SOCKS")?
                .parse()
                .map_err(|e| format!("TOR_TESTNET_SOCKS: {e}"))?,
            dir,
        })
    }
}

/// Returns early from a test when there is no Tor test network (or fails it when
/// `OTRBNC_REQUIRE_TOR=1`); otherwise evaluates to the network.
#[macro_export]
macro_rules! require_tor {
    () => {
        match $crate::support::tor_testnet::TorTestnet::get(module_path!()).await {
            Some(t) => t,
            None => return,
        }
    };
}
