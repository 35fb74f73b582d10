//! Registering a client while the server is away: otrbnc sends its own 001–005 (with the nick
//! and ISUPPORT of the last connection) and a MOTD-less end, so that clients which wait for
//! 001 stay connected, reach `*otr`, and show playback. When the server is back the client
//! gets a NICK if the nick changed, the server's ISUPPORT, and the JOINs of the kept channels.

use bytes::Bytes;

use super::{Link, Net};
use crate::network::state::replace_first_param;

/// otrbnc's name as the source of the numerics it makes itself.
const SOURCE: &str = "otrbnc";
/// ISUPPORT offered before any server declared its own (what RFC 1459 servers assume).
const DEFAULT_ISUPPORT: &str = "CASEMAPPING=rfc1459 CHANTYPES=#& PREFIX=(ov)@+";

impl Net {
    /// 001–005 and 422 from otrbnc, for a client attaching while the server is away.
    pub(super) fn offline_welcome(&self) -> Vec<Bytes> {
        let nick = if self.client_nick.is_empty() {
            "*"
        } else {
            self.client_nick.as_str()
        };
        let numeric =
            |num: &str, params: &str| Bytes::from(format!(":{SOURCE} {num} {nick} {params}\r\n"));
        let mut out = vec![
            numeric(
                "001",
                &format!(":Welcome to otrbnc, {nick} (network {})", self.name),
            ),
            numeric(
                "002",
                &format!(
                    ":Your host is otrbnc, running version {}",
                    env!("CARGO_PKG_VERSION")
                ),
            ),
            numeric("003", ":The server is not connected yet"),
            numeric(
                "004",
                &format!("{SOURCE} {} o o", env!("CARGO_PKG_VERSION")),
            ),
        ];
        if self.last_isupport.is_empty() {
            out.push(numeric(
                "005",
                &format!("{DEFAULT_ISUPPORT} :are supported by this server"),
            ));
        } else {
            out.extend(
                self.last_isupport
                    .iter()
                    .map(|l| replace_first_param(l, nick)),
            );
        }
        out.push(numeric(
            "422",
            ":No MOTD: the server is not connected yet (see /msg *otr status)",
        ));
        out
    }

    /// What a client attaching while the server is away is told.
    pub(super) fn offline_notice(&self) -> String {
        let what = match &self.link {
            Link::Up {
                connected: true, ..
            } => "registering with it now".to_string(),
            Link::Up { .. } => "connecting now".to_string(),
            Link::Down { retry_at: Some(t) } => format!(
                "reconnecting in {} s",
                t.saturating_duration_since(std::time::Instant::now())
                    .as_secs()
            ),
            Link::Down { retry_at: None } => "waiting for a nick".to_string(),
            Link::Disconnected => "disconnected by you; /msg *otr connect reconnects".to_string(),
            Link::Stopped { reason } => {
                format!("stopped after an error ({reason}); /msg *otr reconnect tries again")
            }
        };
        format!(
            "{} is not connected ({what}). Your channels are joined when it is; /msg *otr status tells more.",
            self.name
        )
    }

    /// Brings clients welcomed while the server was away in line with the server's
    /// ISUPPORT (at the end of the registration burst).
    pub(super) fn welcome_offline_clients(&mut self) {
        let nick = self.irc.nick.clone();
        let lines: Vec<Bytes> = self
            .irc
            .isupport_lines()
            .iter()
            .map(|l| replace_first_param(l, &nick))
            .collect();
        for id in self.clients.take_offline() {
            self.send_lines(id, lines.clone());
        }
        self.last_isupport = self.irc.isupport_lines().to_vec();
    }
}
