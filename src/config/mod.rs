//! The configuration file (TOML), its defaults and its validation.
//!
//! Unknown keys are errors (`deny_unknown_fields`), and every check names the key it is about,
//! so a typo never silently falls back to a default. `config/otrbnc.example.toml` documents
//! every key; `otrbnc check-config` runs everything here without starting.

mod env;
mod secrets;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use env::apply_env;
pub use validate::ConfigError;

/// The default listen address: loopback only, the IRC port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6667";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where clients connect and how they log in.
    #[serde(default)]
    pub listen: Listen,
    /// Where state is kept.
    #[serde(default)]
    pub data: Data,
    /// Logging.
    #[serde(default)]
    pub log: Log,
    /// OTR defaults for every network.
    #[serde(default)]
    pub otr: Otr,
    /// The embedded Tor client (networks with `transport = "tor"`).
    #[serde(default)]
    pub tor: Tor,
    /// The I2P router's SAM bridge (networks with `transport = "i2p"`).
    #[serde(default)]
    pub i2p: I2p,
    /// Upstream networks by name (the name clients select with `PASS user/name:password`).
    #[serde(default)]
    pub networks: BTreeMap<String, Network>,
}

/// `[listen]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listen {
    /// `host:port`; loopback by default.
    #[serde(default = "default_listen")]
    pub address: String,
    /// The login name in `PASS user/network:password`.
    #[serde(default = "default_user")]
    pub user: String,
    /// Argon2id PHC string from `otrbnc hash-password`. This or `password_file` is required
    /// unless no config file is used.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// A file holding the password, or its hash (e.g. a Docker secret); read and, when it
    /// holds the password, hashed at start (`Config::resolve_password_file`).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Most clients attached at once (all networks).
    #[serde(default = "default_max_clients")]
    pub max_clients: usize,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            address: default_listen(),
            user: default_user(),
            password_hash: None,
            password_file: None,
            max_clients: default_max_clients(),
        }
    }
}

/// `[data]`: where state is kept, the passphrase it is encrypted with, and how much
/// message history is kept.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// State directory (default: the user's data dir, e.g. `~/.local/share/otrbnc`).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// Whether the OTR identity is kept (encrypted) across restarts.
    #[serde(default)]
    pub identity: IdentityMode,
    /// The store passphrase itself: the least safe place for it (see `store::passphrase`).
    #[serde(default)]
    pub passphrase: Option<String>,
    /// A file holding the store passphrase (mode 0600).
    #[serde(default)]
    pub passphrase_file: Option<PathBuf>,
    /// Messages kept per network (channels and queries), for named clients and CHATHISTORY.
    #[serde(default = "default_history_lines")]
    pub history_lines: usize,
    /// Days a kept message stays.
    #[serde(default = "default_history_days")]
    pub history_days: u32,
    /// Whether kept messages are also written (sealed) to `messages-<network>.log`, so they
    /// survive a restart (never with an ephemeral identity).
    #[serde(default = "default_true")]
    pub history_on_disk: bool,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            dir: None,
            identity: IdentityMode::default(),
            passphrase: None,
            passphrase_file: None,
            history_lines: default_history_lines(),
            history_days: default_history_days(),
            history_on_disk: true,
        }
    }
}

fn default_history_lines() -> usize {
    10_000
}
fn default_history_days() -> u32 {
    30
}
fn default_true() -> bool {
    true
}

impl Data {
    /// The state directory: `dir`, else the user's data dir + `otrbnc`, else `./otrbnc-data`.
    pub fn resolved_dir(&self) -> PathBuf {
        self.dir
            .clone()
            .or_else(|| dirs::data_dir().map(|d| d.join("otrbnc")))
            .unwrap_or_else(|| PathBuf::from("./otrbnc-data"))
    }
}

// By hand, so a logged or printed config never shows the passphrase.
impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Data")
            .field("dir", &self.dir)
            .field("identity", &self.identity)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("passphrase_file", &self.passphrase_file)
            .field("history_lines", &self.history_lines)
            .field("history_days", &self.history_days)
            .field("history_on_disk", &self.history_on_disk)
            .finish()
    }
}

/// `data.identity`: keep the OTR identity, or make a new one at every start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityMode {
    /// Kept in `<data dir>/identity.sealed`, so fingerprints survive restarts (the default).
    #[default]
    Persistent,
    /// Generated at start and never written: contacts see a new fingerprint every time.
    Ephemeral,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// A `tracing` filter: `info`, `debug`, `otrbnc=debug,info`, …
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: default_log_level(),
        }
    }
}

/// `[otr]`: behaviour for opted-in nicks and OTR timing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Otr {
    /// Send nothing in plaintext to an opted-in nick (messages wait for the private session).
    #[serde(default = "yes")]
    pub require_encryption: bool,
    /// Let NOTICEs to opted-in nicks through in clear (otherwise refused with a `*otr` notice).
    #[serde(default)]
    pub allow_plain_notice: bool,
    /// Let CTCP requests other than ACTION through in clear to opted-in nicks.
    #[serde(default)]
    pub allow_plain_ctcp: bool,
    /// Answer OTRv4+ offers from nicks that are not opted in (otherwise they are announced).
    #[serde(default)]
    pub accept_strangers: bool,
    /// Prefix for plaintext received from an opted-in nick.
    #[serde(default = "default_plain_marker")]
    pub plaintext_marker: String,
    /// A handshake or query without an answer after this many seconds is given up.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_secs: u64,
    /// Send a heartbeat this long after the last received message when we sent nothing.
    #[serde(default = "default_heartbeat")]
    pub heartbeat_secs: u64,
    /// End a session idle this long.
    #[serde(default = "default_idle")]
    pub idle_expiry_secs: u64,
    /// Warn in `*otr` when the upstream send queue delays messages by more than this.
    #[serde(default = "default_queue_warn")]
    pub queue_warn_secs: u64,
    /// Messages and notices kept for playback while no client is attached.
    #[serde(default = "default_playback")]
    pub playback_lines: usize,
    /// A nick's first key: accepted on first use (`"trust"`, the default) or held, with
    /// nothing sent, until `*otr accept` (`"hold"`). A key other than the accepted ones is
    /// always held. A network's own `first_contact` overrides this.
    #[serde(default)]
    pub first_contact: FirstContact,
    /// The OTR versions spoken: `["v4+", "v3"]` (the default) answers contacts whose clients
    /// speak only OTRv3 (libotr: irssi-otr, pidgin-otr, BitlBee, znc-otr); `["v4+"]` speaks
    /// OTRv4+ only. OTRv4+ is always preferred when both sides have it, and a nick that once
    /// used OTRv4+ is never answered in OTRv3. A network's `otr_versions` overrides this.
    #[serde(default = "default_versions")]
    pub versions: Vec<OtrVersion>,
    /// Start the handshake with an opted-in nick as soon as it is first seen online (joins a
    /// shared channel, is listed in one, or takes the nick), so the session is ready when
    /// the first message is typed. Off by default: it sends an OTR query to every opted-in
    /// nick that shows up, whether or not you write to them.
    #[serde(default)]
    pub warm_up: bool,
}

/// An OTR protocol version in `[otr] versions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum OtrVersion {
    /// OTRv4+, the post-quantum hybrid (always on).
    #[serde(rename = "v4+")]
    V4Plus,
    /// OTRv3, as libotr 4 speaks it: DSA-1024 and 1536-bit Diffie-Hellman, not post-quantum.
    #[serde(rename = "v3")]
    V3,
    /// OTRv2: accepted in the file only to be refused with a reason.
    #[serde(rename = "v2")]
    V2,
}

fn default_versions() -> Vec<OtrVersion> {
    vec![OtrVersion::V4Plus, OtrVersion::V3]
}

/// What to do with the first key a nick shows (see [`Otr::first_contact`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirstContact {
    /// Accept it on first use (TOFU).
    #[default]
    Trust,
    /// Hold the handshake until the user accepts the key with `*otr accept`.
    Hold,
}

impl Default for Otr {
    fn default() -> Self {
        Otr {
            require_encryption: true,
            allow_plain_notice: false,
            allow_plain_ctcp: false,
            accept_strangers: false,
            plaintext_marker: default_plain_marker(),
            handshake_timeout_secs: default_handshake_timeout(),
            heartbeat_secs: default_heartbeat(),
            idle_expiry_secs: default_idle(),
            queue_warn_secs: default_queue_warn(),
            playback_lines: default_playback(),
            first_contact: FirstContact::Trust,
            versions: default_versions(),
            warm_up: false,
        }
    }
}

/// `[tor]`: the embedded Tor client (arti), shared by every network with `transport = "tor"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tor {
    /// Tor's state and directory cache (default: `<data dir>/tor`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// An extra configuration file in arti's own format (`arti.toml`): bridges, a private
    /// test network, path rules. Its storage settings are ignored (`data_dir` decides).
    #[serde(default)]
    pub arti_config: Option<PathBuf>,
    /// How long a connection attempt waits for Tor to bootstrap before it gives up (and the
    /// network retries later, still over Tor).
    #[serde(default = "default_tor_bootstrap_timeout")]
    pub bootstrap_timeout_secs: u64,
    /// How long opening a stream through Tor may take (circuits, onion rendezvous).
    #[serde(default = "default_tor_connect_timeout")]
    pub connect_timeout_secs: u64,
}

impl Default for Tor {
    fn default() -> Self {
        Tor {
            data_dir: None,
            arti_config: None,
            bootstrap_timeout_secs: default_tor_bootstrap_timeout(),
            connect_timeout_secs: default_tor_connect_timeout(),
        }
    }
}

impl Tor {
    /// Tor's directory: `data_dir`, else `tor` inside the data directory.
    pub fn resolved_dir(&self, data: &Data) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| data.resolved_dir().join("tor"))
    }
}

/// `[i2p]`: how networks with `transport = "i2p"` reach the I2P router. Each such network gets
/// its own SAM session, so its own I2P destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct I2p {
    /// The router's SAM bridge, `host:port`.
    #[serde(default = "default_sam_address")]
    pub sam_address: String,
    /// A new I2P destination at every start (`transient`), or one kept in the encrypted store
    /// per network (`persistent`).
    #[serde(default)]
    pub destination: I2pDestination,
    /// How long creating a session (building its tunnels) may take.
    #[serde(default = "default_i2p_session_timeout")]
    pub session_timeout_secs: u64,
    /// How long a name lookup and opening a stream to the server may take.
    #[serde(default = "default_i2p_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Extra `SESSION CREATE` options (I2CP tunnel options such as `inbound.length`).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl Default for I2p {
    fn default() -> Self {
        I2p {
            sam_address: default_sam_address(),
            destination: I2pDestination::default(),
            session_timeout_secs: default_i2p_session_timeout(),
            connect_timeout_secs: default_i2p_connect_timeout(),
            options: BTreeMap::new(),
        }
    }
}

/// `i2p.destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum I2pDestination {
    /// New keys at every start: the server cannot link one run to the next (the default).
    #[default]
    Transient,
    /// Keys kept in `<data dir>/i2p-<network>.sealed`: the same I2P address across restarts.
    Persistent,
}

/// The default SAM bridge: i2pd's and Java I2P's.
pub const DEFAULT_SAM_ADDRESS: &str = "127.0.0.1:7656";

/// How the upstream connection is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TLS over a direct TCP connection (the default).
    Tls,
    /// A direct TCP connection without TLS: only when asked for by name.
    Plain,
    /// Through the embedded Tor client; TLS on top unless `tls = false`.
    Tor,
    /// Through an external SOCKS5 proxy (a Tor daemon or Tor Browser); TLS on top unless
    /// `tls = false`.
    Socks5,
    /// Through an I2P router's SAM bridge; no TLS unless `tls = true` (I2P already encrypts
    /// to the server's destination).
    I2p,
}

impl Transport {
    /// Whether connections go through an anonymising proxy, never directly.
    pub fn is_proxied(self) -> bool {
        matches!(self, Transport::Tor | Transport::Socks5 | Transport::I2p)
    }

    /// The name used in the configuration file.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Plain => "plain",
            Transport::Tor => "tor",
            Transport::Socks5 => "socks5",
            Transport::I2p => "i2p",
        }
    }
}

/// The default SOCKS5 proxy: a local Tor daemon's SocksPort.
pub const DEFAULT_SOCKS_PROXY: &str = "127.0.0.1:9050";

/// SASL mechanisms for upstream authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaslMechanism {
    /// Account name and password.
    Plain,
    /// The TLS client certificate.
    External,
}

/// `[networks.<name>]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Server host name.
    pub host: String,
    /// Server port (default 6697 with TLS, 6667 plain).
    #[serde(default)]
    pub port: Option<u16>,
    /// `tls` (default), `plain`, `tor`, `socks5` or `i2p`.
    #[serde(default = "default_transport")]
    pub transport: Transport,
    /// TLS on top of `tor` or `socks5` (default: on) or `i2p` (default: off). `tls` and
    /// `plain` decide it themselves.
    #[serde(default)]
    pub tls: Option<bool>,
    /// The SOCKS5 proxy for `transport = "socks5"` (default 127.0.0.1:9050).
    #[serde(default)]
    pub socks_proxy: Option<String>,
    /// Server name expected in the certificate (default: `host`).
    #[serde(default)]
    pub tls_server_name: Option<String>,
    /// Extra CA certificates (PEM) to trust besides the built-in web roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// Accept only certificates whose SHA-256 (of the DER leaf) is listed; hex, `:` allowed.
    #[serde(default)]
    pub tls_pin_sha256: Vec<String>,
    /// Client certificate and key (PEM) for SASL EXTERNAL / CertFP.
    #[serde(default)]
    pub tls_client_cert: Option<PathBuf>,
    /// Key for `tls_client_cert`.
    #[serde(default)]
    pub tls_client_key: Option<PathBuf>,
    /// Nick to register with. Without it the upstream connects when the first client
    /// attaches, with that client's nick, user name and real name.
    #[serde(default)]
    pub nick: Option<String>,
    /// Nicks to try, in order, when the server refuses `nick` during registration (in use,
    /// erroneous or unavailable); then variants of `nick` that fit the server's NICKLEN.
    #[serde(default)]
    pub alt_nicks: Vec<String>,
    /// User name (ident); default: the nick.
    #[serde(default)]
    pub username: Option<String>,
    /// Real name.
    #[serde(default)]
    pub realname: Option<String>,
    /// Server password (`PASS`).
    #[serde(default)]
    pub server_password: Option<String>,
    /// SASL mechanism.
    #[serde(default)]
    pub sasl_mechanism: Option<SaslMechanism>,
    /// SASL PLAIN account name (default: the nick).
    #[serde(default)]
    pub sasl_username: Option<String>,
    /// SASL PLAIN password.
    #[serde(default)]
    pub sasl_password: Option<String>,
    /// Never register without the account: when the server offers no SASL or the
    /// authentication fails, disconnect instead of continuing unauthenticated.
    #[serde(default)]
    pub sasl_required: bool,
    /// Overrides the automatic overall pace: seconds per line once the burst is spent
    /// (token bucket refill; 0: no overall bucket). Unset: chosen from the server (README
    /// "Pacing"). The window and the per-target limit apply either way.
    #[serde(default)]
    pub flood_interval_secs: Option<f64>,
    /// Overrides the automatic overall burst: lines that can be sent at once.
    #[serde(default)]
    pub flood_burst: Option<u32>,
    /// Nicks whose private messages go through OTR.
    #[serde(default)]
    pub otr_nicks: Vec<String>,
    /// The away message set upstream while no client is attached (empty: none). Clients'
    /// own `AWAY` counts per client: the user is away upstream only when every attached
    /// client is.
    #[serde(default = "default_auto_away")]
    pub auto_away_message: String,
    /// Channels joined at every connection: `"#chan"` or `"#chan key"` (channels joined at
    /// run time are kept in the data directory besides these).
    #[serde(default)]
    pub channels: Vec<String>,
    /// Overrides `[otr] first_contact` for this network.
    #[serde(default)]
    pub first_contact: Option<FirstContact>,
    /// Overrides `[otr] versions` for this network.
    #[serde(default)]
    pub otr_versions: Option<Vec<OtrVersion>>,
    /// Reconnect backoff bounds (seconds); jitter is added.
    #[serde(default = "default_reconnect_min")]
    pub reconnect_min_secs: u64,
    /// Upper bound of the reconnect backoff.
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_secs: u64,
    /// After this long without a line from the server, send it a PING.
    #[serde(default = "default_ping_interval")]
    pub ping_interval_secs: u64,
    /// Give the connection up (and reconnect) when nothing came this long after the PING.
    #[serde(default = "default_ping_timeout")]
    pub ping_timeout_secs: u64,
    /// Give a registration up (QUIT, reconnect later) when the server has not welcomed us
    /// this long after the connection came up.
    #[serde(default = "default_register_timeout")]
    pub register_timeout_secs: u64,
}

impl Network {
    /// Whether TLS runs on top of the transport.
    pub fn uses_tls(&self) -> bool {
        match self.transport {
            Transport::Tls => true,
            Transport::Plain => false,
            Transport::Tor | Transport::Socks5 => self.tls.unwrap_or(true),
            Transport::I2p => self.tls.unwrap_or(false),
        }
    }

    /// The port, defaulted by whether TLS is used.
    pub fn port(&self) -> u16 {
        self.port
            .unwrap_or(if self.uses_tls() { 6697 } else { 6667 })
    }

    /// Whether the host is an onion service address.
    pub fn is_onion(&self) -> bool {
        self.host.to_ascii_lowercase().ends_with(".onion")
    }

    /// Whether the host is an I2P name, `.b32.i2p` address or destination.
    pub fn is_i2p(&self) -> bool {
        crate::upstream::sam::dest::is_i2p_host(&self.host)
    }

    /// The SOCKS5 proxy address (`socks_proxy` or the default).
    pub fn socks_proxy(&self) -> &str {
        self.socks_proxy.as_deref().unwrap_or(DEFAULT_SOCKS_PROXY)
    }
}

fn yes() -> bool {
    true
}
fn default_listen() -> String {
    DEFAULT_LISTEN.to_string()
}
fn default_user() -> String {
    "otrbnc".to_string()
}
fn default_max_clients() -> usize {
    32
}
fn default_log_level() -> String {
    "info".to_string()
}
fn default_plain_marker() -> String {
    "[NOT ENCRYPTED] ".to_string()
}
fn default_handshake_timeout() -> u64 {
    // The slowest automatic pace is one line per second to one target (a server that drops
    // per target, or an unknown one): a first contact of ~84 lines takes about 80 s, plus a
    // 10 s rest if the server throttles anyway. Twice that leaves room for a slow peer.
    180
}
fn default_heartbeat() -> u64 {
    60
}
fn default_idle() -> u64 {
    6 * 3600
}
fn default_queue_warn() -> u64 {
    30
}
fn default_ping_interval() -> u64 {
    120
}
fn default_ping_timeout() -> u64 {
    60
}
fn default_register_timeout() -> u64 {
    // SASL over Tor and a server's ident and DNS lookups fit easily.
    60
}
fn default_playback() -> usize {
    500
}
fn default_transport() -> Transport {
    Transport::Tls
}
fn default_tor_bootstrap_timeout() -> u64 {
    // A first bootstrap downloads the consensus and microdescriptors: tens of seconds on a
    // good link, minutes on a slow one.
    180
}
fn default_tor_connect_timeout() -> u64 {
    // Onion services need a descriptor fetch, an introduction and a rendezvous circuit.
    120
}
fn default_sam_address() -> String {
    DEFAULT_SAM_ADDRESS.to_string()
}
fn default_i2p_session_timeout() -> u64 {
    // Building a session's tunnels: about 20 s on an idle local router, a minute or more on a
    // busy one or right after the router started.
    180
}
fn default_i2p_connect_timeout() -> u64 {
    // A .b32.i2p lookup asks floodfills for the server's lease set; then the stream opens.
    120
}
fn default_auto_away() -> String {
    "Auto away: no client attached".to_string()
}

fn default_reconnect_min() -> u64 {
    5
}
fn default_reconnect_max() -> u64 {
    600
}

/// Where the config file lives when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("otrbnc").join("otrbnc.toml"))
}

/// The system-wide config file, used when the user has none (the container image's place).
pub const SYSTEM_PATH: &str = "/etc/otrbnc/otrbnc.toml";

/// The config files looked for without `--config`, in order: the user's, then the system's.
pub fn default_paths() -> Vec<PathBuf> {
    default_path()
        .into_iter()
        .chain(std::iter::once(PathBuf::from(SYSTEM_PATH)))
        .collect()
}

impl Config {
    /// Parses and validates a config file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        Ok(config)
    }

    /// Reads, parses, applies environment overrides and validates, then reads
    /// `listen.password_file` if one is set.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let mut config = Config::read(path)?;
        config.validate()?;
        config.resolve_password_file()?;
        Ok(config)
    }

    /// Reads, parses and applies environment overrides, without validating: for callers that
    /// need one value (the health check needs only `listen.address`).
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
        let mut config = Config::parse(&text)?;
        apply_env(&mut config, |k| std::env::var(k).ok())?;
        Ok(config)
    }

    /// The embedded defaults used when no config file exists: loopback listener, one TLS
    /// network (Libera.Chat) that connects with the first client's nick.
    pub fn embedded() -> Config {
        let mut networks = BTreeMap::new();
        networks.insert(
            "libera".to_string(),
            Network {
                host: "irc.libera.chat".to_string(),
                port: None,
                transport: Transport::Tls,
                tls: None,
                socks_proxy: None,
                tls_server_name: None,
                tls_ca_file: None,
                tls_pin_sha256: Vec::new(),
                tls_client_cert: None,
                tls_client_key: None,
                nick: None,
                alt_nicks: Vec::new(),
                username: None,
                realname: None,
                server_password: None,
                sasl_mechanism: None,
                sasl_username: None,
                sasl_password: None,
                sasl_required: false,
                flood_interval_secs: None,
                flood_burst: None,
                otr_nicks: Vec::new(),
                auto_away_message: default_auto_away(),
                channels: Vec::new(),
                first_contact: None,
                otr_versions: None,
                reconnect_min_secs: default_reconnect_min(),
                reconnect_max_secs: default_reconnect_max(),
                ping_interval_secs: default_ping_interval(),
                ping_timeout_secs: default_ping_timeout(),
                register_timeout_secs: default_register_timeout(),
            },
        );
        Config {
            networks,
            ..Config::default()
        }
    }
}

#[cfg(test)]
mod tests;
