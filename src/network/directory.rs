//! What one network knows of the others: their handles (to send them a command) and a short
//! summary each network keeps current (for `*otr networks`). Networks are separate tasks;
//! the directory is filled once, after every network was spawned.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use super::NetworkHandle;
use crate::irc::CapSet;

/// Every configured network's handle by name, set once at start.
pub type Directory = Arc<OnceLock<BTreeMap<String, NetworkHandle>>>;

/// A new, empty directory.
pub fn new_directory() -> Directory {
    Arc::new(OnceLock::new())
}

/// Where a network's upstream stands, as `*otr networks` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkState {
    /// The TCP/TLS (or Tor, I2P) connection is being opened.
    #[default]
    Connecting,
    /// Connected; registration with the server is running.
    Registering,
    /// Registered.
    Connected,
    /// Waiting to reconnect at this time.
    Retrying(Instant),
    /// No configured nick and no client has supplied one yet.
    AwaitingNick,
    /// Stopped after an error retrying cannot fix.
    Stopped,
    /// The user disconnected it; `connect` reconnects.
    DisconnectedByUser,
}

impl LinkState {
    /// The words for the user (`waiting to reconnect in N s` counts from `now`).
    pub fn text(self, now: Instant) -> String {
        match self {
            LinkState::Connecting => "connecting".into(),
            LinkState::Registering => "registering".into(),
            LinkState::Connected => "connected".into(),
            LinkState::Retrying(at) => format!(
                "waiting to reconnect in {} s",
                at.saturating_duration_since(now).as_secs()
            ),
            LinkState::AwaitingNick => "waiting for a client to supply a nick".into(),
            LinkState::Stopped => "stopped after an error (`connect` tries again)".into(),
            LinkState::DisconnectedByUser => "disconnected by you".into(),
        }
    }
}

/// A network's state in brief.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Upstream state.
    pub state: LinkState,
    /// The nick on the server (or the one it will register with).
    pub nick: String,
    /// Clients attached.
    pub clients: usize,
    /// Channels joined.
    pub channels: usize,
}

/// The part of a network other tasks may read: how it is reached (fixed) and its summary.
#[derive(Debug)]
pub struct NetInfo {
    /// How the server is reached, e.g. `irc.example.org:6697 over tls`.
    pub reached: String,
    summary: Mutex<Summary>,
    /// The capabilities the server granted (what a registering client is offered).
    upstream_caps: AtomicU32,
}

impl NetInfo {
    /// Info for a network reached as `reached`, with an empty summary.
    pub fn new(reached: String) -> NetInfo {
        NetInfo {
            reached,
            summary: Mutex::new(Summary::default()),
            upstream_caps: AtomicU32::new(0),
        }
    }

    /// The capabilities the server granted otrbnc.
    pub fn upstream_caps(&self) -> CapSet {
        CapSet::from_bits(self.upstream_caps.load(Ordering::Relaxed))
    }

    /// Records the capabilities the server granted otrbnc.
    pub fn set_upstream_caps(&self, caps: CapSet) {
        self.upstream_caps.store(caps.bits(), Ordering::Relaxed);
    }

    /// The latest summary.
    pub fn summary(&self) -> Summary {
        match self.summary.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the summary when it changed (the nick is copied only then).
    pub fn publish(&self, state: LinkState, nick: &str, clients: usize, channels: usize) {
        let mut s = match self.summary.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        s.state = state;
        s.clients = clients;
        s.channels = channels;
        if s.nick != nick {
            s.nick = nick.to_string();
        }
    }
}

/// The network called `name`: exact first, then ignoring ASCII case. `Err` lists the names.
pub fn lookup<'d>(
    dir: &'d BTreeMap<String, NetworkHandle>,
    name: &str,
) -> Result<(&'d str, &'d NetworkHandle), String> {
    dir.get_key_value(name)
        .or_else(|| dir.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)))
        .map(|(n, h)| (n.as_str(), h))
        .ok_or_else(|| {
            format!(
                "Unknown network {name:?}; configured: {}.",
                dir.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn handle(reached: &str) -> NetworkHandle {
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        NetworkHandle {
            tx,
            info: Arc::new(NetInfo::new(reached.to_string())),
        }
    }

    #[test]
    fn lookup_by_name_then_case_and_lists_the_names() {
        let mut dir = BTreeMap::new();
        dir.insert("libera".to_string(), handle("a"));
        dir.insert("OFTC".to_string(), handle("b"));
        assert_eq!(lookup(&dir, "libera").map(|(n, _)| n), Ok("libera"));
        assert_eq!(lookup(&dir, "oftc").map(|(n, _)| n), Ok("OFTC"));
        assert_eq!(
            lookup(&dir, "efnet").map(|(n, _)| n),
            Err("Unknown network \"efnet\"; configured: OFTC, libera.".to_string())
        );
    }

    #[test]
    fn states_read_as_the_user_sees_them() {
        let now = Instant::now();
        let at = now + Duration::from_secs(7);
        assert_eq!(
            LinkState::Retrying(at).text(now),
            "waiting to reconnect in 7 s"
        );
        assert_eq!(
            LinkState::Retrying(now).text(at),
            "waiting to reconnect in 0 s"
        );
        assert_eq!(
            LinkState::DisconnectedByUser.text(now),
            "disconnected by you"
        );
    }

    #[test]
    fn publish_keeps_the_latest() {
        let info = NetInfo::new("x".into());
        info.publish(LinkState::Connected, "alice", 2, 3);
        info.publish(LinkState::Registering, "alice_", 1, 0);
        assert_eq!(
            info.summary(),
            Summary {
                state: LinkState::Registering,
                nick: "alice_".into(),
                clients: 1,
                channels: 0
            }
        );
    }
}
