//! Away as soju does it: each client is away on its own (`AWAY` from a client is answered to
//! that client alone); the user is away upstream only while every attached client is, with
//! the message set last, or while none is attached, with `auto_away_message` (empty: not).

use bytes::Bytes;

use super::Net;
use super::clients::ClientId;
use crate::irc::build;
use crate::irc::line::Line;

impl Net {
    /// A client's `AWAY [:text]`: noted for that client and answered to it (305/306); the
    /// server hears of it only when the user's state as a whole changes.
    pub(super) fn client_away(&mut self, id: ClientId, line: &Line<'_>) {
        let text = line.param_str(0).filter(|t| !t.is_empty());
        let (numeric, reply) = if text.is_some() {
            ("306", "You have been marked as being away")
        } else {
            ("305", "You are no longer marked as being away")
        };
        self.clients.set_away(id, text);
        let server = self.server_name();
        let nick = self.irc.nick.clone();
        self.clients
            .send_to(id, build::message(Some(&server), numeric, &nick, reply));
        self.sync_away();
    }

    /// Sends `AWAY` upstream when the user's away state as a whole differs from what the
    /// server has from us (only while registered: a new connection calls this again).
    pub(super) fn sync_away(&mut self) {
        if !self.irc.registered {
            return;
        }
        let want = self.clients.collective_away(&self.cfg.auto_away_message);
        if want == self.away_upstream {
            return;
        }
        let line = match &want {
            Some(text) => Bytes::from(format!("AWAY :{}\r\n", one_line(text))),
            None => Bytes::from_static(b"AWAY\r\n"),
        };
        self.away_upstream = want;
        self.away_replies += 1;
        self.send_paced(vec![line]);
    }
}

/// An away message as one bounded IRC parameter: no line breaks or NULs, at most
/// [`MAX_AWAY`] bytes.
fn one_line(text: &str) -> String {
    let mut t = text.replace(['\r', '\n', '\0'], " ");
    if t.len() > MAX_AWAY {
        let mut cut = MAX_AWAY;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
    }
    t
}

/// Longer than any server's AWAYLEN (commonly 160–390), within the 512-byte line.
const MAX_AWAY: usize = 400;

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn an_away_message_is_one_bounded_parameter() {
        assert_eq!(one_line("out\r\nQUIT :x"), "out  QUIT :x");
        let long = "é".repeat(300);
        let t = one_line(&long);
        assert!(t.len() <= 400 && t.chars().all(|c| c == 'é'));
    }
}
