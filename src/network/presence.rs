//! Starting private sessions early, so the first message does not wait for a handshake:
//! `*otr enable` starts one at once; an opted-in nick whose messages wait (the server said it
//! was not there, or it never answered) starts again as soon as it is seen online; and with
//! `[otr] warm_up` every opted-in nick is started when it is first seen on a connection.
//! "Seen online" is a JOIN from it, a NICK change to it, or its name in a NAMES reply: the
//! server can fake any of these, which costs at most a query message to that nick.

use otr_core::session::State;

use super::{Net, now_ms};
use crate::irc::Line;

/// Most warm-up handshakes running at once: a NAMES reply may list many opted-in nicks,
/// and each first contact is tens of lines; the others start when they are written to.
const MAX_WARMING: usize = 4;

impl Net {
    /// Starts a private session with `nick` (folded to `key`) unless one exists or is being
    /// made. Returns whether it started one.
    pub(super) fn start_if_idle(&mut self, key: &str) -> bool {
        if !self.irc.registered || self.otr.account.session_info(key).state != State::Plaintext {
            return false;
        }
        let mut rng = rand::rng();
        self.otr.account.start(now_ms(), &mut rng, key);
        self.otr_drain();
        true
    }

    /// Looks at a line from the server for opted-in nicks that are online.
    pub(super) fn presence_seen(&mut self, cmd: &[u8], line: &Line<'_>) {
        if !self.irc.registered {
            return;
        }
        let nicks: Vec<String> = match cmd {
            b"JOIN" => line
                .source_nick()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .into_iter()
                .collect(),
            b"NICK" => line.param_str(0).into_iter().collect(),
            b"353" => line
                .param_str(3)
                .map(|items| {
                    items
                        .split_ascii_whitespace()
                        .map(|i| self.irc.modes.split_item(i).1.to_string())
                        .collect()
                })
                .unwrap_or_default(),
            _ => return,
        };
        for nick in nicks {
            self.seen_online(&nick);
        }
    }

    fn seen_online(&mut self, nick: &str) {
        if nick.is_empty() || self.irc.is_me(nick) {
            return;
        }
        let key = self.irc.fold(nick);
        if !self.otr.is_opted_key(&self.irc, &key) {
            return;
        }
        let info = self.otr.account.session_info(&key);
        if info.state != State::Plaintext {
            return;
        }
        let waiting = info.queued > 0;
        let warm =
            self.otr_cfg.warm_up && !self.otr.warmed.contains(&key) && self.warming() < MAX_WARMING;
        if !(waiting || warm) {
            return;
        }
        self.otr.warmed.insert(key.clone());
        tracing::debug!(network = %self.name, %nick, waiting, "seen online: starting OTR");
        self.start_if_idle(&key);
    }

    /// Warm-up handshakes still running.
    fn warming(&self) -> usize {
        self.otr
            .warmed
            .iter()
            .filter(|k| self.otr.account.session_info(k).state == State::Handshaking)
            .count()
    }
}
