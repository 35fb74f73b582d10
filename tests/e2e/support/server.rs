//! Any of the three IRC servers the tests run on — ngircd, ircd-hybrid and InspIRCd, each from
//! Debian with its packaged default flood settings — behind one type, so that a scenario runs
//! on each: `Server::start(ServerKind::Hybrid)`.

use std::net::SocketAddr;

use super::hybrid::Hybrid;
use super::inspircd::Inspircd;
use super::ngircd::{Ngircd, NgircdOpts};

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// ngircd (Debian package `ngircd`).
    Ngircd,
    /// ircd-hybrid (Debian package `ircd-hybrid`, unpacked beside ngircd: see `hybrid.rs`).
    Hybrid,
    /// InspIRCd 3 (Debian package `inspircd`).
    Inspircd,
}

impl ServerKind {
    /// All three, in the order reports list them.
    pub const ALL: [ServerKind; 3] = [ServerKind::Ngircd, ServerKind::Hybrid, ServerKind::Inspircd];

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Ngircd => "ngircd",
            ServerKind::Hybrid => "ircd-hybrid",
            ServerKind::Inspircd => "InspIRCd",
        }
    }

    /// The Debian package.
    pub fn package(self) -> &'static str {
        match self {
            ServerKind::Ngircd => "ngircd",
            ServerKind::Hybrid => "ircd-hybrid",
            ServerKind::Inspircd => "inspircd",
        }
    }

    /// What is missing to start one, if anything.
    pub fn missing(self) -> Option<String> {
        match self {
            ServerKind::Ngircd => {
                (!super::ngircd::installed()).then(|| "ngircd is not installed".to_string())
            }
            ServerKind::Hybrid => super::hybrid::missing(),
            ServerKind::Inspircd => super::inspircd::missing(),
        }
    }

    /// The version it reports.
    pub fn version(self) -> String {
        match self {
            ServerKind::Ngircd => super::ngircd::version(),
            ServerKind::Hybrid => super::hybrid::version(),
            ServerKind::Inspircd => super::inspircd::version(),
        }
    }

    /// Whether a test can run on it: `true`, or `false` after a "skipped" line, or a panic
    /// when `OTRBNC_REQUIRE_E2E` is set (CI installs all three with `scripts/test.sh`).
    pub fn available(self, test: &str) -> bool {
        let Some(why) = self.missing() else {
            return true;
        };
        let env = super::REQUIRE_ENV;
        if std::env::var_os(env).is_some_and(|v| !v.is_empty() && v != "0") {
            panic!("{test}: {why} and {env} is set; ./scripts/test.sh installs it");
        }
        eprintln!("{test}: skipped: {why} (set {env}=1 to make this a failure)");
        false
    }
}

/// What the harness needs of any server.
pub trait IrcServer {
    /// Where clients connect.
    fn addr(&self) -> SocketAddr;
    /// Everything it logged so far.
    fn log(&self) -> String;
    /// Its process id.
    fn pid(&self) -> Option<u32>;
}

impl IrcServer for Ngircd {
    fn addr(&self) -> SocketAddr {
        Ngircd::addr(self)
    }
    fn log(&self) -> String {
        Ngircd::log(self)
    }
    fn pid(&self) -> Option<u32> {
        Ngircd::pid(self)
    }
}

impl IrcServer for Hybrid {
    fn addr(&self) -> SocketAddr {
        self.daemon().addr()
    }
    fn log(&self) -> String {
        self.daemon().log()
    }
    fn pid(&self) -> Option<u32> {
        self.daemon().pid()
    }
}

impl IrcServer for Inspircd {
    fn addr(&self) -> SocketAddr {
        self.daemon().addr()
    }
    fn log(&self) -> String {
        self.daemon().log()
    }
    fn pid(&self) -> Option<u32> {
        self.daemon().pid()
    }
}

/// A running server of any kind, stopped on drop.
pub enum Server {
    /// ngircd with its default penalties.
    Ngircd(Ngircd),
    /// ircd-hybrid.
    Hybrid(Hybrid),
    /// InspIRCd.
    Inspircd(Inspircd),
}

impl Server {
    /// Starts a private instance of `kind` with its packaged default flood settings.
    pub async fn start(kind: ServerKind) -> Server {
        match kind {
            ServerKind::Ngircd => Server::Ngircd(Ngircd::start(NgircdOpts::default()).await),
            ServerKind::Hybrid => Server::Hybrid(Hybrid::start().await),
            ServerKind::Inspircd => Server::Inspircd(Inspircd::start().await),
        }
    }

    /// Which server this is.
    pub fn kind(&self) -> ServerKind {
        match self {
            Server::Ngircd(_) => ServerKind::Ngircd,
            Server::Hybrid(_) => ServerKind::Hybrid,
            Server::Inspircd(_) => ServerKind::Inspircd,
        }
    }

    fn inner(&self) -> &dyn IrcServer {
        match self {
            Server::Ngircd(s) => s,
            Server::Hybrid(s) => s,
            Server::Inspircd(s) => s,
        }
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        match self {
            Server::Ngircd(s) => s.is_alive(),
            Server::Hybrid(s) => s.daemon_mut().is_alive(),
            Server::Inspircd(s) => s.daemon_mut().is_alive(),
        }
    }

    /// Connections the server shut for a reason of its own, where its log says so (ngircd's
    /// does; hybrid and InspIRCd log no reasons by default: the auditors see their `ERROR`).
    pub fn logged_forced_disconnects(&self) -> Vec<String> {
        match self {
            Server::Ngircd(s) => s.forced_disconnects(),
            _ => Vec::new(),
        }
    }
}

impl IrcServer for Server {
    fn addr(&self) -> SocketAddr {
        self.inner().addr()
    }
    fn log(&self) -> String {
        self.inner().log()
    }
    fn pid(&self) -> Option<u32> {
        self.inner().pid()
    }
}
