//! Environment overrides, for containers: secrets and addresses without editing the file.
//!
//! | variable | key |
//! |---|---|
//! | `OTRBNC_LISTEN` | `listen.address` |
//! | `OTRBNC_USER` | `listen.user` |
//! | `OTRBNC_PASSWORD_HASH` | `listen.password_hash` (and unsets `listen.password_file`) |
//! | `OTRBNC_PASSWORD_FILE` | `listen.password_file` (and unsets `listen.password_hash`) |
//! | `OTRBNC_DATA_DIR` | `data.dir` |
//! | `OTRBNC_IDENTITY` | `data.identity` (`persistent` or `ephemeral`) |
//! | `OTRBNC_PASSPHRASE_FILE` | `data.passphrase_file` |
//! | `OTRBNC_LOG` | `log.level` |
//! | `OTRBNC_I2P_SAM` | `i2p.sam_address` |
//! | `OTRBNC_NET_<NAME>_HOST`, `_PORT`, `_TRANSPORT`, `_NICK`, `_SERVER_PASSWORD`, `_SASL_PASSWORD` | `networks.<name>.*` |
//!
//! `<NAME>` is the network name upper-cased with `-` and `.` as `_`.
//!
//! `OTRBNC_PASSPHRASE` (the store passphrase itself) is not copied into the config: it is read
//! when the passphrase is resolved (`store::passphrase`), so it never sits in a `Config`.

use super::{Config, ConfigError, IdentityMode, Transport};

/// The variable prefix for one network's overrides.
pub fn network_prefix(name: &str) -> String {
    let up: String = name
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_uppercase(),
        })
        .collect();
    format!("OTRBNC_NET_{up}_")
}

/// Applies overrides read through `get` (so tests need not touch the process environment).
pub fn apply_env(
    config: &mut Config,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    if let Some(v) = get("OTRBNC_LISTEN") {
        config.listen.address = v;
    }
    if let Some(v) = get("OTRBNC_USER") {
        config.listen.user = v;
    }
    // Either variable replaces whatever the file says about the password.
    match (get("OTRBNC_PASSWORD_HASH"), get("OTRBNC_PASSWORD_FILE")) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Invalid {
                key: "OTRBNC_PASSWORD_FILE".to_string(),
                reason: "OTRBNC_PASSWORD_HASH is set too; set only one of them".to_string(),
            });
        }
        (Some(h), None) => {
            config.listen.password_hash = Some(h);
            config.listen.password_file = None;
        }
        (None, Some(f)) => {
            config.listen.password_file = Some(f.into());
            config.listen.password_hash = None;
        }
        (None, None) => {}
    }
    if let Some(v) = get("OTRBNC_DATA_DIR") {
        config.data.dir = Some(v.into());
    }
    if let Some(v) = get("OTRBNC_IDENTITY") {
        config.data.identity = match v.as_str() {
            "persistent" => IdentityMode::Persistent,
            "ephemeral" => IdentityMode::Ephemeral,
            _ => {
                return Err(ConfigError::Invalid {
                    key: "OTRBNC_IDENTITY".to_string(),
                    reason: format!("{v:?} is neither \"persistent\" nor \"ephemeral\""),
                });
            }
        };
    }
    if let Some(v) = get("OTRBNC_PASSPHRASE_FILE") {
        config.data.passphrase_file = Some(v.into());
    }
    if let Some(v) = get("OTRBNC_LOG") {
        config.log.level = v;
    }
    if let Some(v) = get("OTRBNC_I2P_SAM") {
        config.i2p.sam_address = v;
    }
    for (name, net) in config.networks.iter_mut() {
        let p = network_prefix(name);
        if let Some(v) = get(&format!("{p}HOST")) {
            net.host = v;
        }
        if let Some(v) = get(&format!("{p}PORT")) {
            let port = v.parse().map_err(|_| ConfigError::Invalid {
                key: format!("{p}PORT"),
                reason: format!("{v:?} is not a port number"),
            })?;
            net.port = Some(port);
        }
        if let Some(v) = get(&format!("{p}TRANSPORT")) {
            net.transport = match v.as_str() {
                "tls" => Transport::Tls,
                "plain" => Transport::Plain,
                "tor" => Transport::Tor,
                "socks5" => Transport::Socks5,
                "i2p" => Transport::I2p,
                _ => {
                    return Err(ConfigError::Invalid {
                        key: format!("{p}TRANSPORT"),
                        reason: format!("{v:?} is not one of tls, plain, tor, socks5, i2p"),
                    });
                }
            };
        }
        if let Some(v) = get(&format!("{p}NICK")) {
            net.nick = Some(v);
        }
        if let Some(v) = get(&format!("{p}SERVER_PASSWORD")) {
            net.server_password = Some(v);
        }
        if let Some(v) = get(&format!("{p}SASL_PASSWORD")) {
            net.sasl_password = Some(v);
        }
    }
    Ok(())
}
