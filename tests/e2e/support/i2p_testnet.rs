//! The local I2P network from `scripts/i2p-testnet/start` (Debian's i2pd on loopback, with a
//! server tunnel in front of the test's auditor), found through `OTRBNC_I2P_TESTNET=<dir>`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::otrbnc::{BncConfig, toml_str};

/// The directory of a started test network.
pub const DIR_ENV: &str = "OTRBNC_I2P_TESTNET";
/// Turns "no I2P test network" from a skip into a failure (CI sets it).
pub const REQUIRE_ENV: &str = "OTRBNC_REQUIRE_I2P";
/// How long a test waits for a network that is still forming (started in the background
/// while the code builds).
const READY_WAIT: Duration = Duration::from_secs(420);

/// What the tests need to know about the running network.
#[derive(Debug, Clone)]
pub struct I2pTestnet {
    /// The network's directory.
    pub dir: PathBuf,
    /// The router's SAM bridge.
    pub sam: String,
    /// The server tunnel's address (`….b32.i2p`); it forwards to `target`.
    pub server: String,
    /// Where the server tunnel sends its connections (the test's auditor listens here).
    pub target: SocketAddr,
    /// `SESSION CREATE` options this network needs (zero hops, legacy lease sets).
    pub options: Vec<(String, String)>,
}

impl I2pTestnet {
    /// A bouncer `nick` (opted in to `peer`) reaching the server tunnel through the router,
    /// without TLS.
    pub fn bnc(&self, nick: &str, peer: &str) -> BncConfig {
        let options: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| format!("{} = {}", toml_str(k), toml_str(v)))
            .collect();
        let mut cfg = BncConfig::new(nick, self.target)
            .otr_nicks(&[peer])
            .transport("i2p")
            .i2p_toml(&format!("sam_address = {}", toml_str(&self.sam)))
            .i2p_toml("session_timeout_secs = 300")
            .i2p_toml("connect_timeout_secs = 300")
            .i2p_toml(&format!("options = {{ {} }}", options.join(", ")))
            .handshake_timeout(600);
        cfg.upstream_host = Some(self.server.clone());
        cfg
    }

    /// The running network, waiting for it if it is still forming. `None` (after a "skipped"
    /// line) when there is none and `OTRBNC_REQUIRE_I2P` is unset; a panic when it is set.
    pub async fn get(test: &str) -> Option<I2pTestnet> {
        super::found_or_skip(test, Self::find().await, REQUIRE_ENV)
    }

    async fn find() -> Result<I2pTestnet, String> {
        let (dir, env) =
            super::ready_network(DIR_ENV, "I2P", "scripts/i2p-testnet/start", READY_WAIT).await?;
        let get = |k: &str| {
            env.get(k)
                .cloned()
                .ok_or_else(|| format!("{}/env has no {k}", dir.display()))
        };
        let options = get("I2P_SESSION_OPTIONS")?
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(I2pTestnet {
            sam: get("I2P_SAM")?,
            server: get("I2P_SERVER_B32")?,
            target: get("I2P_SERVER_TARGET")?
                .parse()
                .map_err(|e| format!("I2P_SERVER_TARGET: {e}"))?,
            options,
            dir,
        })
    }
}

/// Returns early from a test when there is no I2P test network (or fails it when
/// `OTRBNC_REQUIRE_I2P=1`); otherwise evaluates to the network.
#[macro_export]
macro_rules! require_i2p {
    () => {
        match $crate::support::i2p_testnet::I2pTestnet::get(module_path!()).await {
            Some(t) => t,
            None => return,
        }
    };
}
