//! The network commands of `*otr`: `connect`, `disconnect`, `jump`, `networks`, `clients`.
//! With a network name they act on another network: its task gets a [`RemoteRequest`] and
//! answers the asking client directly, through the client's own line sender.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::directory::{self, LinkState};
use super::{CONTROL_SOURCE, ClientId, Link, Net, NetMsg, now_ms};
use crate::irc::build;

/// The QUIT reason of `disconnect` without one.
const DEFAULT_QUIT: &str = "Disconnected";
/// The QUIT reason of `jump`.
const JUMP_QUIT: &str = "Reconnecting";
/// How long `jump` waits for the old connection to close before connecting anyway.
const JUMP_WAIT: Duration = Duration::from_secs(2);
/// Longest QUIT reason passed on (bytes), well inside a 512-byte line.
const QUIT_MAX: usize = 300;

/// A network command another network's client asked this network to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetCommand {
    /// Connect now (also after `disconnect`).
    Connect,
    /// QUIT and stay disconnected until `Connect`.
    Disconnect,
    /// Drop the connection and connect again at once.
    Jump,
    /// List the attached clients.
    Clients,
}

/// A command from a client of another network, with where to answer.
#[derive(Debug)]
pub struct RemoteRequest {
    /// What to do.
    pub command: NetCommand,
    /// `disconnect`'s QUIT reason, if given.
    pub reason: Option<String>,
    /// The asking client's line sender.
    pub reply_to: mpsc::Sender<Bytes>,
    /// The asking client's nick (the target of the answer).
    pub nick: String,
}

/// Who asked: a client of this network, or a client of another one.
#[derive(Debug)]
enum Asker {
    Local(ClientId),
    Remote {
        tx: mpsc::Sender<Bytes>,
        nick: String,
    },
}

impl Net {
    /// Runs a network command on this network or, when `network` names another, sends it
    /// there.
    pub(super) fn network_command(
        &mut self,
        id: ClientId,
        command: NetCommand,
        network: Option<&str>,
        reason: Option<String>,
    ) {
        let Some(network) = network.filter(|n| *n != self.name) else {
            return self.run_net_command(&Asker::Local(id), command, reason);
        };
        let Some(dir) = self.directory.get() else {
            return self.reply(id, "The other networks are not known yet; try again.");
        };
        let (name, handle) = match directory::lookup(dir, network) {
            Ok(found) => found,
            Err(e) => return self.reply(id, &e),
        };
        if name == self.name {
            return self.run_net_command(&Asker::Local(id), command, reason);
        }
        let Some(reply_to) = self.clients.sender(id) else {
            return;
        };
        let request = RemoteRequest {
            command,
            reason,
            reply_to,
            nick: self.irc.nick.clone(),
        };
        // Never wait on another network's inbox from here: a full one is reported instead.
        let text = match handle.tx.try_send(NetMsg::Remote(request)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => {
                format!("The network {name} is busy; the command was NOT run. Try again.")
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                format!("The network {name} is not running; the command was NOT run.")
            }
        };
        self.reply(id, &text);
    }

    /// A command from another network's client.
    pub(super) fn on_remote(&mut self, r: RemoteRequest) {
        let asker = Asker::Remote {
            tx: r.reply_to,
            nick: r.nick,
        };
        self.run_net_command(&asker, r.command, r.reason);
        // The asker may ask `networks` as soon as it has the answer.
        self.publish_summary();
    }

    fn run_net_command(&mut self, to: &Asker, command: NetCommand, reason: Option<String>) {
        match command {
            NetCommand::Connect => {
                let text = self.connect_now();
                self.answer(to, &text);
            }
            NetCommand::Disconnect => {
                let text = self.disconnect_by_user(reason.as_deref());
                // Every client of this network learns it, and the asker wherever it is.
                self.notify(&text);
                if matches!(to, Asker::Remote { .. }) {
                    self.answer(to, &text);
                }
            }
            NetCommand::Jump => {
                let text = self.jump();
                self.answer(to, &text);
            }
            NetCommand::Clients => self.clients_list(to),
        }
    }

    fn answer(&mut self, to: &Asker, text: &str) {
        match to {
            Asker::Local(id) => self.reply(*id, text),
            Asker::Remote { tx, nick } => {
                for piece in build::sanitize_lines(text, build::CLIENT_TEXT_MAX) {
                    let line = build::message(Some(CONTROL_SOURCE), "PRIVMSG", nick, &piece);
                    // The asker left or cannot keep up: its own network drops it.
                    let _ = tx.try_send(line);
                }
            }
        }
    }

    /// `connect`: connect now, also after `disconnect` or a stop.
    fn connect_now(&mut self) -> String {
        if matches!(self.link, Link::Disconnected) {
            self.link = Link::Down { retry_at: None };
        }
        self.reconnect_now()
    }

    /// `disconnect`: QUIT, close, and stay down until `connect`.
    fn disconnect_by_user(&mut self, reason: Option<&str>) -> String {
        if matches!(self.link, Link::Disconnected) {
            return format!(
                "{} is disconnected already; `connect` reconnects.",
                self.name
            );
        }
        let dropped = self.drop_link(reason.unwrap_or(DEFAULT_QUIT));
        self.link = Link::Disconnected;
        self.last_close_reason = None;
        tracing::info!(network = %self.name, "disconnected by the user");
        let mut text = format!(
            "Disconnected from {}: it stays disconnected until `connect`.",
            self.name
        );
        if dropped > 0 {
            text.push_str(&format!(
                " {dropped} queued line(s) to the server were not sent."
            ));
        }
        text
    }

    /// `jump`: a new connection at once (one server per network: the same server). When
    /// connected, the new connection starts once the old one has written its QUIT and closed,
    /// so the server sees the old nick leave before the new one asks for it.
    fn jump(&mut self) -> String {
        let connected = matches!(
            self.link,
            Link::Up {
                connected: true,
                ..
            }
        );
        if !matches!(self.link, Link::Up { .. }) {
            return self.connect_now();
        }
        let old = self.generation;
        let dropped = self.drop_link(JUMP_QUIT);
        tracing::info!(network = %self.name, "jumping: a new connection");
        self.backoff = Duration::from_secs(self.cfg.reconnect_min_secs);
        self.last_close_reason = None;
        let mut text = if connected {
            self.jump_from = Some(old);
            self.link = Link::Down {
                retry_at: Some(Instant::now() + JUMP_WAIT),
            };
            format!(
                "Left {} (QUIT sent); a new connection follows as soon as the old one is closed.",
                self.name
            )
        } else {
            let connecting = self.reconnect_now();
            format!("Left {}. {connecting}", self.name)
        };
        if dropped > 0 {
            text.push_str(&format!(
                " {dropped} queued line(s) to the server were not sent."
            ));
        }
        text
    }

    /// The connection `jump` left has closed: connect, unless something else happened since
    /// (a `disconnect`, or the wait ran out and the new connection is under way).
    pub(super) fn jump_closed(&mut self) {
        self.jump_from = None;
        if matches!(self.link, Link::Down { retry_at: Some(_) }) {
            self.connect();
        }
    }

    /// Ends the current connection: QUIT when connected, the socket closed after it, the
    /// channels kept for the next registration. Returns the queued lines dropped.
    fn drop_link(&mut self, quit: &str) -> usize {
        let dropped = self.pacer.clear();
        if let Link::Up {
            tx,
            connected: true,
        } = &self.link
        {
            let _ = tx.try_send(quit_line(quit));
        }
        // The same bookkeeping as a connection that ended (see `on_closed`).
        if self.irc.registered {
            self.joins.reset_retries();
        }
        self.irc.registered = false;
        // Reports of the old connection are stale from now on; dropping its line sender
        // makes its task write what it holds (the QUIT last) and close the socket.
        self.generation += 1;
        self.link = Link::Down { retry_at: None };
        dropped
    }

    /// `networks`: one line per configured network.
    pub(super) fn networks_list(&mut self, id: ClientId) {
        let Some(dir) = self.directory.get() else {
            return self.reply(id, "The networks are not known yet; try again.");
        };
        let now = Instant::now();
        let mut lines = vec![format!("{} network(s):", dir.len())];
        for (name, handle) in dir {
            // Our own summary is current; the others' as of their last change.
            let s = if *name == self.name {
                self.summary()
            } else {
                handle.info.summary()
            };
            let mine = if *name == self.name {
                " (this one)"
            } else {
                ""
            };
            lines.push(format!(
                "  {name}{mine}: {} · nick {} · {} · {} client(s) · {} channel(s)",
                s.state.text(now),
                if s.nick.is_empty() { "?" } else { &s.nick },
                handle.info.reached,
                s.clients,
                s.channels
            ));
        }
        for line in lines {
            self.reply(id, &line);
        }
    }

    fn clients_list(&mut self, to: &Asker) {
        let now = now_ms();
        let list = self.clients.describe();
        let mut lines = vec![format!(
            "{} client(s) attached to {}:",
            list.len(),
            self.name
        )];
        for (id, caps, info) in list {
            let caps_text: Vec<&str> = caps.iter().map(crate::irc::Cap::name).collect();
            let (nick, since) = match info {
                Some(i) => (i.nick, since_text(i.since_ms, now)),
                None => ("?".to_string(), "?".to_string()),
            };
            let you = if matches!(to, Asker::Local(me) if *me == id) {
                " (you)"
            } else {
                ""
            };
            lines.push(format!(
                "  client {id}{you}: nick {nick} · caps {} · attached {since}",
                if caps_text.is_empty() {
                    "none".to_string()
                } else {
                    caps_text.join(", ")
                }
            ));
        }
        for line in lines {
            self.answer(to, &line);
        }
    }

    /// This network's state in brief.
    fn summary(&self) -> directory::Summary {
        directory::Summary {
            state: self.link_state(),
            nick: self.irc.nick.clone(),
            clients: self.clients.len(),
            channels: self.channels_joined(),
        }
    }

    /// Channels joined: none while not registered (they are rejoined at the next one).
    fn channels_joined(&self) -> usize {
        if self.irc.registered {
            self.irc.channels.len()
        } else {
            0
        }
    }

    fn link_state(&self) -> LinkState {
        match &self.link {
            Link::Up {
                connected: true, ..
            } if self.irc.registered => LinkState::Connected,
            Link::Up {
                connected: true, ..
            } => LinkState::Registering,
            Link::Up { .. } => LinkState::Connecting,
            Link::Down { retry_at: Some(t) } => LinkState::Retrying(*t),
            Link::Down { retry_at: None } => LinkState::AwaitingNick,
            Link::Stopped { .. } => LinkState::Stopped,
            Link::Disconnected => LinkState::DisconnectedByUser,
        }
    }

    /// Keeps the summary the other networks read current (after every event).
    pub(super) fn publish_summary(&self) {
        self.info.publish(
            self.link_state(),
            &self.irc.nick,
            self.clients.len(),
            self.channels_joined(),
        );
    }
}

/// `QUIT :reason` with the reason made one short line.
fn quit_line(reason: &str) -> Bytes {
    let clean: String = reason
        .chars()
        .map(|c| match c {
            '\r' | '\n' | '\0' => ' ',
            c => c,
        })
        .collect();
    let cut = build::split_utf8(&clean, QUIT_MAX)
        .first()
        .copied()
        .unwrap_or_default();
    Bytes::from(format!("QUIT :{cut}\r\n"))
}

/// `at 05:12:03 UTC (3 min ago)` for a moment in Unix milliseconds.
fn since_text(since_ms: u64, now_ms: u64) -> String {
    let secs = since_ms / 1000;
    let ago = now_ms.saturating_sub(since_ms) / 1000;
    let ago = match ago {
        0..60 => format!("{ago} s"),
        60..3600 => format!("{} min", ago / 60),
        3600..86_400 => format!("{} h {} min", ago / 3600, (ago % 3600) / 60),
        _ => format!("{} d {} h", ago / 86_400, (ago % 86_400) / 3600),
    };
    format!(
        "at {:02}:{:02}:{:02} UTC ({ago} ago)",
        (secs % 86_400) / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quit_reasons_stay_one_line() {
        assert_eq!(&quit_line("bye")[..], b"QUIT :bye\r\n");
        assert_eq!(
            &quit_line("a\r\nPRIVMSG #x :y")[..],
            b"QUIT :a  PRIVMSG #x :y\r\n"
        );
        let long = quit_line(&"é".repeat(400));
        assert!(long.len() <= QUIT_MAX + 8, "{}", long.len());
        assert!(std::str::from_utf8(&long).is_ok());
    }

    #[test]
    fn since_reads_as_a_time_and_an_age() {
        // 1970-01-02 01:02:03 UTC, seen 125 s later.
        let at = (86_400 + 3600 + 2 * 60 + 3) * 1000;
        assert_eq!(since_text(at, at + 125_000), "at 01:02:03 UTC (2 min ago)");
        assert_eq!(since_text(at, at), "at 01:02:03 UTC (0 s ago)");
        assert_eq!(
            since_text(at, at + 90_000_000),
            "at 01:02:03 UTC (1 d 1 h ago)"
        );
    }
}
