//! Noticing a dead upstream: after `ping_interval_secs` without a line from the server a
//! PING goes out (ahead of the send queue), and without any line for `ping_timeout_secs` more
//! the connection is given up and a reconnect scheduled, as ZNC and soju do. A laptop suspend,
//! a NAT change or a dead Tor circuit otherwise leaves the network "connected" and deaf.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Link, Net};

/// When the server last said anything, and whether our PING is unanswered.
#[derive(Debug, Default)]
pub struct Liveness {
    /// The last line from the server (or the connection's start).
    pub last_heard: Option<Instant>,
    /// When our PING went out, while no line has come since.
    pub ping_sent: Option<Instant>,
}

impl Net {
    fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.cfg.ping_interval_secs)
    }

    fn ping_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.ping_timeout_secs)
    }

    /// Any line from the server proves the link alive.
    pub(super) fn heard(&mut self, now: Instant) {
        self.live.last_heard = Some(now);
        self.live.ping_sent = None;
    }

    /// When the liveness check is next due, while a connection is up.
    pub(super) fn liveness_deadline(&self) -> Option<Instant> {
        if !matches!(
            self.link,
            Link::Up {
                connected: true,
                ..
            }
        ) {
            return None;
        }
        match (self.live.ping_sent, self.live.last_heard) {
            (Some(sent), _) => Some(sent + self.ping_timeout()),
            (None, Some(heard)) => Some(heard + self.ping_interval()),
            (None, None) => None,
        }
    }

    /// Sends the PING, or gives the connection up when the PING went unanswered.
    pub(super) fn liveness_timer(&mut self, now: Instant) {
        let Some(due) = self.liveness_deadline() else {
            return;
        };
        if due > now {
            return;
        }
        if self.live.ping_sent.is_none() {
            self.live.ping_sent = Some(now);
            self.send_now(Bytes::from_static(b"PING :otrbnc-liveness\r\n"));
            return;
        }
        let silent = self
            .live
            .last_heard
            .map_or(Duration::ZERO, |t| now.duration_since(t));
        // A new generation: whatever the old connection task still reports is stale. Closing
        // drops the task's line sender, which makes it close the socket.
        self.generation += 1;
        self.on_closed(
            &format!("no answer from the server for {} s", silent.as_secs()),
            false,
        );
    }

    /// For `status`: how long since the server last said anything.
    pub(super) fn last_heard_text(&self, now: Instant) -> Option<String> {
        let heard = self.live.last_heard?;
        let secs = now.duration_since(heard).as_secs();
        Some(match self.live.ping_sent {
            Some(_) => {
                format!("the server last said something {secs} s ago (a PING is unanswered)")
            }
            None => format!("the server last said something {secs} s ago"),
        })
    }
}
