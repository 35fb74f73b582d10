//! Checks that name the offending key and say why.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{
    Config, Data, I2p, I2pDestination, IdentityMode, Network, SaslMechanism, Tor, Transport,
};

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
    /// Not valid TOML, an unknown key or a value of the wrong type (toml names the key).
    #[error("{0}")]
    Syntax(String),
    /// A value that parses but is not acceptable.
    #[error("{key}: {reason}")]
    Invalid {
        /// Dotted path of the key, e.g. `networks.libera.port`.
        key: String,
        /// Why it is refused.
        reason: String,
    },
}

/// Most `alt_nicks` per network (each costs a round trip while registering).
pub const MAX_ALT_NICKS: usize = 8;

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// Whether `nick` is something an IRC server could accept as a nick (RFC 2812 plus the
/// characters modern servers allow, Unicode included: Ergo and others take Unicode nicks);
/// used for config values and `*otr` arguments.
pub fn is_valid_nick(nick: &str) -> bool {
    let Some(first) = nick.chars().next() else {
        return false;
    };
    nick.len() <= 64
        && !first.is_ascii_digit()
        && !matches!(first, '#' | '&' | '$' | ':' | '*' | '-')
        && nick.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || "[]\\`_^{|}-".contains(c)
                || !c.is_ascii() && !c.is_control() && !c.is_whitespace()
        })
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Parses a certificate pin: 32 bytes as hex, colons and case ignored.
pub fn parse_pin(pin: &str) -> Option<[u8; 32]> {
    let clean: String = pin.chars().filter(|c| *c != ':').collect();
    let bytes = hex::decode(clean).ok()?;
    bytes.try_into().ok()
}

impl Config {
    /// Checks every value; the first problem is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen
            .address
            .parse::<SocketAddr>()
            .map_err(|e| invalid("listen.address", format!("not host:port ({e})")))?;
        if !is_valid_name(&self.listen.user) {
            return Err(invalid(
                "listen.user",
                "1-32 characters from A-Z a-z 0-9 _ . -",
            ));
        }
        match (&self.listen.password_hash, &self.listen.password_file) {
            (None, None) => {
                return Err(invalid(
                    "listen.password_hash",
                    "required (or listen.password_file): create one with `otrbnc hash-password`",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "listen.password_file",
                    "listen.password_hash is set too; set only one of them",
                ));
            }
            (Some(h), None) => crate::password::check_hash_format(h)
                .map_err(|e| invalid("listen.password_hash", e))?,
            (None, Some(f)) if f.as_os_str().is_empty() => {
                return Err(invalid("listen.password_file", "empty path"));
            }
            (None, Some(_)) => {}
        }
        if self.listen.max_clients == 0 || self.listen.max_clients > 1024 {
            return Err(invalid("listen.max_clients", "must be 1..=1024"));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                "not a log filter (try \"info\" or \"debug\")",
            ));
        }
        validate_data(&self.data)?;
        validate_tor(&self.tor)?;
        validate_i2p(&self.i2p)?;
        if self.i2p.destination == I2pDestination::Persistent
            && self.data.identity == IdentityMode::Ephemeral
            && self
                .networks
                .values()
                .any(|n| n.transport == Transport::I2p)
        {
            return Err(invalid(
                "i2p.destination",
                "\"persistent\" keeps the keys in the encrypted store, which data.identity = \"ephemeral\" does not use",
            ));
        }
        let otr = &self.otr;
        if !(5..=3600).contains(&otr.handshake_timeout_secs) {
            return Err(invalid("otr.handshake_timeout_secs", "must be 5..=3600"));
        }
        if !(1..=86_400).contains(&otr.heartbeat_secs) {
            return Err(invalid("otr.heartbeat_secs", "must be 1..=86400"));
        }
        if otr.idle_expiry_secs < 60 {
            return Err(invalid("otr.idle_expiry_secs", "must be at least 60"));
        }
        if otr.playback_lines > 100_000 {
            return Err(invalid("otr.playback_lines", "at most 100000"));
        }
        if otr.plaintext_marker.contains(['\r', '\n', '\0']) {
            return Err(invalid("otr.plaintext_marker", "no line breaks or NUL"));
        }
        validate_versions("otr.versions", &otr.versions)?;
        for (name, net) in &self.networks {
            if !is_valid_name(name) {
                return Err(invalid(
                    format!("networks.{name}"),
                    "network names are 1-32 characters from A-Z a-z 0-9 _ . -",
                ));
            }
            validate_network(name, net)?;
            if let Some(v) = &net.otr_versions {
                validate_versions(&format!("networks.{name}.otr_versions"), v)?;
            }
        }
        Ok(())
    }
}

fn validate_data(data: &Data) -> Result<(), ConfigError> {
    if data.history_lines > 5_000_000 {
        return Err(invalid("data.history_lines", "at most 5000000"));
    }
    if !(1..=3650).contains(&data.history_days) {
        return Err(invalid("data.history_days", "must be 1..=3650"));
    }
    if let Some(dir) = &data.dir
        && dir.as_os_str().is_empty()
    {
        return Err(invalid(
            "data.dir",
            "must not be empty (leave it out for the default)",
        ));
    }
    if data.passphrase.is_some() && data.passphrase_file.is_some() {
        return Err(invalid(
            "data.passphrase",
            "set data.passphrase or data.passphrase_file, not both",
        ));
    }
    if data.passphrase.as_ref().is_some_and(String::is_empty) {
        return Err(invalid(
            "data.passphrase",
            "must not be empty (leave it out to use another source)",
        ));
    }
    if let Some(p) = &data.passphrase_file
        && !p.is_file()
    {
        return Err(invalid(
            "data.passphrase_file",
            format!("{} is not a readable file", p.display()),
        ));
    }
    Ok(())
}

/// The keys that decide how the connection is routed. A `.onion` host is only ever reached
/// through Tor: with a direct transport it would be looked up in the local DNS.
fn validate_route(name: &str, net: &Network) -> Result<(), ConfigError> {
    let key = |k: &str| format!("networks.{name}.{k}");
    if net.tls.is_some() && !net.transport.is_proxied() {
        return Err(invalid(
            key("tls"),
            "only with transport = \"tor\", \"socks5\" or \"i2p\" (\"tls\" and \"plain\" decide TLS themselves)",
        ));
    }
    if let Some(proxy) = &net.socks_proxy {
        if net.transport != Transport::Socks5 {
            return Err(invalid(
                key("socks_proxy"),
                "only with transport = \"socks5\"",
            ));
        }
        if proxy.parse::<SocketAddr>().is_err() {
            return Err(invalid(
                key("socks_proxy"),
                format!("{proxy:?} is not an ip:port address"),
            ));
        }
    }
    tor_built(name, net, cfg!(feature = "tor"))?;
    if net.is_onion() && !matches!(net.transport, Transport::Tor | Transport::Socks5) {
        return Err(invalid(
            key("host"),
            format!(
                "a .onion host needs transport = \"tor\" or \"socks5\", not {:?}",
                net.transport.name()
            ),
        ));
    }
    Ok(())
}

/// `transport = "tor"` needs the embedded Tor client, which a build without the `tor` feature
/// (`built` false) does not have: refused, never connected some other way.
pub(crate) fn tor_built(name: &str, net: &Network, built: bool) -> Result<(), ConfigError> {
    if !built && net.transport == Transport::Tor {
        return Err(invalid(
            format!("networks.{name}.transport"),
            crate::upstream::tor::NOT_BUILT,
        ));
    }
    Ok(())
}

/// An I2P network reaches only I2P services, and an I2P name is only ever looked up by the
/// I2P router (or a SOCKS5 proxy that is one), never in the local DNS.
fn validate_i2p_route(name: &str, net: &Network) -> Result<(), ConfigError> {
    let key = |k: &str| format!("networks.{name}.{k}");
    let i2p_host = net.is_i2p() || net.host.to_ascii_lowercase().ends_with(".i2p");
    if net.transport == Transport::I2p {
        if !net.is_i2p() {
            return Err(invalid(
                key("host"),
                "transport = \"i2p\" needs an I2P host: a name.i2p from the router's address \
                 book, a .b32.i2p address or a base64 destination",
            ));
        }
        if net.port.is_some() {
            return Err(invalid(
                key("port"),
                "I2P destinations have no ports (SAM 3.1): the server's destination decides \
                 the service; remove the port",
            ));
        }
    } else if i2p_host && net.transport != Transport::Socks5 {
        return Err(invalid(
            key("host"),
            format!(
                "an I2P host needs transport = \"i2p\" (or \"socks5\" to a router's SOCKS \
                 proxy), not {:?}",
                net.transport.name()
            ),
        ));
    }
    Ok(())
}

fn validate_i2p(i2p: &I2p) -> Result<(), ConfigError> {
    let addr_ok = i2p
        .sam_address
        .rsplit_once(':')
        .is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(|c: char| c.is_whitespace() || c == '/')
                && port.parse::<u16>().is_ok_and(|p| p != 0)
        });
    if !addr_ok {
        return Err(invalid(
            "i2p.sam_address",
            format!("{:?} is not host:port", i2p.sam_address),
        ));
    }
    if !(10..=3600).contains(&i2p.session_timeout_secs) {
        return Err(invalid("i2p.session_timeout_secs", "must be 10..=3600"));
    }
    if !(10..=600).contains(&i2p.connect_timeout_secs) {
        return Err(invalid("i2p.connect_timeout_secs", "must be 10..=600"));
    }
    if i2p.options.len() > 64 {
        return Err(invalid("i2p.options", "at most 64 options"));
    }
    use crate::upstream::sam::command::{RESERVED_OPTIONS, is_word};
    for (k, v) in &i2p.options {
        if RESERVED_OPTIONS.contains(&k.as_str()) {
            return Err(invalid(
                format!("i2p.options.{k}"),
                "set by otrbnc itself (see i2p.destination)",
            ));
        }
        if !is_word(k, true) || !is_word(v, false) {
            return Err(invalid(
                format!("i2p.options.{k}"),
                "keys and values are 1-256 printable ASCII characters without spaces, quotes \
                 or backslashes (no = in keys)",
            ));
        }
    }
    Ok(())
}

fn validate_tor(tor: &Tor) -> Result<(), ConfigError> {
    if let Some(dir) = &tor.data_dir
        && dir.as_os_str().is_empty()
    {
        return Err(invalid(
            "tor.data_dir",
            "must not be empty (leave it out for the default)",
        ));
    }
    if let Some(p) = &tor.arti_config {
        let text = std::fs::read_to_string(p).map_err(|e| {
            invalid(
                "tor.arti_config",
                format!("cannot read {}: {e}", p.display()),
            )
        })?;
        crate::upstream::tor::check_arti_config(&text)
            .map_err(|e| invalid("tor.arti_config", format!("{}: {e}", p.display())))?;
    }
    if !(10..=3600).contains(&tor.bootstrap_timeout_secs) {
        return Err(invalid("tor.bootstrap_timeout_secs", "must be 10..=3600"));
    }
    if !(10..=600).contains(&tor.connect_timeout_secs) {
        return Err(invalid("tor.connect_timeout_secs", "must be 10..=600"));
    }
    Ok(())
}

fn validate_network(name: &str, net: &Network) -> Result<(), ConfigError> {
    let key = |k: &str| format!("networks.{name}.{k}");
    if net.host.is_empty() || net.host.contains(|c: char| c.is_whitespace() || c == '/') {
        return Err(invalid(key("host"), "a host name or address"));
    }
    if net.port == Some(0) {
        return Err(invalid(key("port"), "must be 1..=65535"));
    }
    validate_route(name, net)?;
    validate_i2p_route(name, net)?;
    let tls = net.uses_tls();
    for (k, set) in [
        ("tls_server_name", net.tls_server_name.is_some()),
        ("tls_ca_file", net.tls_ca_file.is_some()),
        ("tls_pin_sha256", !net.tls_pin_sha256.is_empty()),
        ("tls_client_cert", net.tls_client_cert.is_some()),
        ("tls_client_key", net.tls_client_key.is_some()),
    ] {
        if set && !tls {
            return Err(invalid(
                key(k),
                "only with TLS (transport = \"tls\", \"tor\"/\"socks5\" without tls = false, or \"i2p\" with tls = true)",
            ));
        }
    }
    for pin in &net.tls_pin_sha256 {
        if parse_pin(pin).is_none() {
            return Err(invalid(
                key("tls_pin_sha256"),
                format!("{pin:?} is not a SHA-256 in hex (64 hex digits)"),
            ));
        }
    }
    if net.tls_client_cert.is_some() != net.tls_client_key.is_some() {
        return Err(invalid(
            key("tls_client_cert"),
            "tls_client_cert and tls_client_key go together",
        ));
    }
    for (k, v) in [
        ("tls_ca_file", &net.tls_ca_file),
        ("tls_client_cert", &net.tls_client_cert),
        ("tls_client_key", &net.tls_client_key),
    ] {
        if let Some(p) = v
            && !p.is_file()
        {
            return Err(invalid(
                key(k),
                format!("{} is not a readable file", p.display()),
            ));
        }
    }
    if let Some(n) = &net.nick
        && !is_valid_nick(n)
    {
        return Err(invalid(key("nick"), format!("{n:?} is not a valid nick")));
    }
    if net.alt_nicks.len() > MAX_ALT_NICKS {
        return Err(invalid(
            key("alt_nicks"),
            format!("at most {MAX_ALT_NICKS} nicks"),
        ));
    }
    for n in &net.alt_nicks {
        if !is_valid_nick(n) {
            return Err(invalid(
                key("alt_nicks"),
                format!("{n:?} is not a valid nick"),
            ));
        }
    }
    for (k, v) in [
        ("username", &net.username),
        ("realname", &net.realname),
        ("server_password", &net.server_password),
        ("sasl_username", &net.sasl_username),
        ("sasl_password", &net.sasl_password),
    ] {
        if let Some(v) = v
            && (v.is_empty() || v.contains(['\r', '\n', '\0']))
        {
            return Err(invalid(
                key(k),
                "must be non-empty, without line breaks or NUL",
            ));
        }
    }
    if net
        .username
        .as_ref()
        .is_some_and(|u| u.contains([' ', '@']))
    {
        return Err(invalid(key("username"), "no spaces or @"));
    }
    match net.sasl_mechanism {
        Some(SaslMechanism::Plain) if net.sasl_password.is_none() => {
            return Err(invalid(key("sasl_password"), "required for SASL PLAIN"));
        }
        Some(SaslMechanism::External) if net.tls_client_cert.is_none() || !tls => {
            return Err(invalid(
                key("sasl_mechanism"),
                "EXTERNAL needs TLS and tls_client_cert / tls_client_key",
            ));
        }
        _ => {}
    }
    if net.sasl_required && net.sasl_mechanism.is_none() {
        return Err(invalid(
            key("sasl_required"),
            "needs sasl_mechanism (and its credentials)",
        ));
    }
    if let Some(i) = net.flood_interval_secs
        && (!i.is_finite() || !(0.0..=60.0).contains(&i))
    {
        return Err(invalid(
            key("flood_interval_secs"),
            "must be 0..=60 (0: no overall token bucket)",
        ));
    }
    if let Some(b) = net.flood_burst
        && !(1..=100).contains(&b)
    {
        return Err(invalid(key("flood_burst"), "must be 1..=100"));
    }
    for n in &net.otr_nicks {
        if !is_valid_nick(n) {
            return Err(invalid(
                key("otr_nicks"),
                format!("{n:?} is not a valid nick"),
            ));
        }
    }
    if net.channels.len() > crate::network::MAX_WANTED_CHANNELS {
        return Err(invalid(
            key("channels"),
            format!("at most {} channels", crate::network::MAX_WANTED_CHANNELS),
        ));
    }
    for c in &net.channels {
        let ok = crate::network::parse_configured_channel(c).is_some_and(|(name, key)| {
            name.len() <= 200
                && name.starts_with(['#', '&', '!', '+'])
                && !name.contains([',', '\x07', '\0', '\r', '\n'])
                && key.is_none_or(|k| k.len() <= 100 && !k.contains([',', '\0', '\r', '\n']))
        });
        if !ok {
            return Err(invalid(
                key("channels"),
                format!("{c:?} is not \"#channel\" or \"#channel key\""),
            ));
        }
    }
    if net.reconnect_min_secs == 0 || net.reconnect_min_secs > net.reconnect_max_secs {
        return Err(invalid(
            key("reconnect_min_secs"),
            "must be at least 1 and at most reconnect_max_secs",
        ));
    }
    for (name, v) in [
        ("ping_interval_secs", net.ping_interval_secs),
        ("ping_timeout_secs", net.ping_timeout_secs),
        ("register_timeout_secs", net.register_timeout_secs),
    ] {
        if !(1..=3600).contains(&v) {
            return Err(invalid(key(name), "must be 1..=3600"));
        }
    }
    Ok(())
}

/// `versions` lists OTRv4+ (always spoken) and optionally OTRv3; OTRv2 is refused with why.
fn validate_versions(key: &str, versions: &[super::OtrVersion]) -> Result<(), ConfigError> {
    use super::OtrVersion;
    if versions.contains(&OtrVersion::V2) {
        return Err(invalid(
            key,
            "OTRv2 is not supported: it has no instance tags, and python-potr, the only client that speaks nothing newer, does not run on current Python (Debian's python3-potr cannot even make a key). Use [\"v4+\", \"v3\"] or [\"v4+\"]",
        ));
    }
    if !versions.contains(&OtrVersion::V4Plus) {
        return Err(invalid(
            key,
            "must contain \"v4+\": otrbnc always speaks OTRv4+ (add \"v3\" for contacts whose clients speak only OTRv3)",
        ));
    }
    Ok(())
}
