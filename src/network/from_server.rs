//! Lines from the server: registration, state tracking, and private messages that concern
//! OTR. Everything else is forwarded to the clients as the exact bytes received.

use bytes::Bytes;

use super::registration::SaslFailure;
use super::{Net, now_ms};
use crate::config::SaslMechanism;
use crate::irc::Line;
use crate::irc::caps::{Cap, CapSet, REQUESTED_UPSTREAM};
use crate::upstream::pacing::{self, Throttle};
use crate::upstream::sasl;

impl Net {
    pub(super) fn on_server_line(&mut self, raw: Bytes) {
        let Some(line) = Line::parse(&raw) else {
            return;
        };
        let cmd = line.command.to_ascii_uppercase();
        match cmd.as_slice() {
            // The answer to a PING of ours (acknowledgement or liveness): never for clients.
            b"PONG"
                if line
                    .params
                    .last()
                    .is_some_and(|t| t.starts_with(pacing::TOKEN_PREFIX.as_bytes())) =>
            {
                let token = line.param_str(line.params.len().saturating_sub(1));
                let token = token.unwrap_or_default();
                for notice in self.pacer.on_pong(&token).unwrap_or_default() {
                    self.clients.broadcast(&notice);
                }
                return;
            }
            b"PING" => {
                // The parameters echoed as sent (a server may tag or source its PING).
                let mut pong = b"PONG".to_vec();
                pong.extend_from_slice(crate::irc::line::after_command(&raw));
                pong.extend_from_slice(b"\r\n");
                self.send_now(Bytes::from(pong));
                return;
            }
            // The server closes the link: say so in *otr, not as a raw line a client would
            // take as its own disconnection.
            b"ERROR" => {
                let why = line
                    .params
                    .last()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .unwrap_or_default();
                tracing::warn!(network = %self.name, "the server closed the link");
                self.notify(&format!("The server {} closes the link: {why}", self.name));
                return;
            }
            b"CAP" => return self.on_cap(&line),
            b"AUTHENTICATE" => return self.on_authenticate(&line),
            b"900" | b"901" => {}
            b"903" => {
                self.reg.sasl_pending = false;
                self.send_now(Bytes::from_static(b"CAP END\r\n"));
                tracing::info!(network = %self.name, "SASL authentication succeeded");
                return;
            }
            b"902" | b"904" | b"905" | b"906" | b"907" | b"908" => {
                if self.reg.sasl_pending {
                    let why = line
                        .params
                        .last()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_default();
                    self.on_sasl_failed(SaslFailure::from_numeric(&cmd), &why);
                }
                return;
            }
            // Nick refused during registration: try another (after it, the replies to a
            // client's own NICK pass to the clients unchanged).
            b"433" | b"432" | b"437" if !self.irc.registered => {
                return self.on_nick_refused(&cmd, &line);
            }
            _ => {}
        }

        let was_registered = self.irc.registered;
        let old_nick = self.irc.nick.clone();
        // Someone else's nick change: an OTR session follows it (before the state forgets).
        if cmd == b"NICK"
            && let (Some(src), Some(new)) = (line.source_nick(), line.param_str(0))
        {
            let src = String::from_utf8_lossy(src).into_owned();
            if !self.irc.is_me(&src) {
                self.otr_nick_change(&src, &new);
            }
        }
        self.irc.observe(&raw, &line);
        self.presence_seen(&cmd, &line);
        if self.irc.nick != old_nick {
            self.otr.update_budgets(&self.irc);
            if self.irc.registered && cmd == b"NICK" {
                self.client_nick = self.irc.nick.clone();
            }
        }
        if !was_registered && self.irc.registered {
            self.on_registered();
        }
        if cmd == b"005" {
            // Kept across connections: the next registration's nick variants fit it.
            if let Some(n) = self.irc.nicklen {
                self.known_nicklen = Some(n);
            }
            self.otr.refold(&self.irc);
            self.joins.refold(self.irc.casemap);
            self.apply_pacing();
            self.clients.set_prefixes(self.irc.modes.symbols());
        }
        if cmd == b"004" {
            self.apply_pacing();
        }
        if self.irc.registered && self.on_throttle(&raw, &line) {
            return;
        }

        match cmd.as_slice() {
            b"305" | b"306" if self.away_replies > 0 => {
                // The answer to an AWAY otrbnc sent: each client had its own.
                self.away_replies -= 1;
                return;
            }
            b"PRIVMSG" | b"NOTICE" if self.private_from_server(&raw, &line) => return,
            b"INVITE" if self.keep_invite(&raw, &line) => return,
            // invite-notify: an invitation for someone else, for the clients that asked.
            b"INVITE" if !line.param_str(0).is_some_and(|t| self.irc.is_me(&t)) => {
                return self.clients.broadcast_to_cap(&raw, Cap::InviteNotify);
            }
            b"401" => self.otr_no_such_nick(&line),
            _ => {}
        }
        self.track_kept_channels(&cmd, &line);
        // The registration burst is not passed on: every client was welcomed when it
        // attached (by otrbnc itself while the server was away), and gets a NICK if ours
        // changed. Later MOTD, LUSERS or ISUPPORT lines answer a client's own request.
        if is_registration_numeric(&cmd) && !self.reg.burst_done {
            if cmd == b"376" || cmd == b"422" {
                self.reg.burst_done = true;
                self.welcome_offline_clients();
                self.join_kept();
            }
            return;
        }
        // Messages are kept for named clients (a CTCP request is not: it asks for an answer
        // now); everything else only goes to those attached.
        // (An INVITE reaching here is to us: one for someone else went to invite-notify
        // clients above.)
        let message = (matches!(cmd.as_slice(), b"PRIVMSG" | b"NOTICE")
            && !(cmd == b"PRIVMSG" && line.param(1).is_some_and(is_ctcp_request)))
            || cmd == b"INVITE";
        if message {
            let kept = self.kept_message(&line);
            self.clients.broadcast_kept(&raw, now_ms(), kept);
        } else {
            self.clients.broadcast(&raw);
        }
    }

    /// A reply saying the server dropped a line of ours or refused a command for load.
    /// Returns true when the line is held (it reaches the clients later only if otrbnc could
    /// not send the dropped lines again).
    fn on_throttle(&mut self, raw: &Bytes, line: &Line<'_>) -> bool {
        let Some(t) = pacing::classify(line, |n| self.irc.is_me(n)) else {
            return false;
        };
        let now = std::time::Instant::now();
        match t {
            Throttle::Dropped { target, rest } => {
                tracing::info!(network = %self.name, "the server dropped a message (flood control)");
                let lane = self.irc.fold(&target);
                self.pacer
                    .on_dropped(&lane, rest, raw.clone(), now)
                    .is_none()
            }
            Throttle::TryAgain => {
                tracing::info!(network = %self.name, "the server asks to wait (263): slowing down");
                self.pacer.slow_down(now);
                false
            }
        }
    }

    fn on_registered(&mut self) {
        tracing::info!(network = %self.name, "registered");
        // The backoff resets only when this connection has stayed registered a while (see
        // `registration::backoff_after_close`): a server that accepts, or even welcomes, and
        // closes at once is retried ever more slowly.
        self.registered_at = Some(std::time::Instant::now());
        self.last_close_reason = None;
        if self.irc.nick != self.client_nick {
            // Clients still use the nick of the last connection: tell them.
            let line =
                crate::irc::build::command(Some(&self.client_nick), &["NICK", &self.irc.nick]);
            self.clients.broadcast(&line);
        }
        self.client_nick = self.irc.nick.clone();
        // A new connection starts present: set away again if the user is.
        self.away_upstream = None;
        self.away_replies = 0;
        self.sync_away();
        self.otr.update_budgets(&self.irc);
        self.otr.warmed.clear();
        // The kept channels are joined at the end of the burst, once ISUPPORT (TARGMAX,
        // CASEMAPPING) is known.
    }

    fn on_cap(&mut self, line: &Line<'_>) {
        let sub = line.param(1).unwrap_or_default().to_ascii_uppercase();
        let list = line
            .params
            .last()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        match sub.as_slice() {
            b"LS" => {
                // `CAP * LS * :caps` continues, `CAP * LS :caps` ends.
                let more = line.params.len() >= 4 && line.param(2) == Some(b"*");
                self.reg.caps_offered = self.reg.caps_offered.union(CapSet::parse_list(&list));
                if more || self.irc.registered {
                    return;
                }
                let mut want = self.reg.caps_offered.intersection(REQUESTED_UPSTREAM);
                if self.cfg.sasl_mechanism.is_some() {
                    if self.reg.caps_offered.has(Cap::Sasl) {
                        want = want.with(Cap::Sasl);
                    } else if self.cfg.sasl_required {
                        return self.on_sasl_failed(SaslFailure::NotOffered, "");
                    } else {
                        self.notify(&format!(
                            "{} does not offer SASL; continuing without it.",
                            self.name
                        ));
                    }
                }
                if want.is_empty() {
                    self.set_upstream_caps(CapSet::EMPTY);
                    self.send_now(Bytes::from_static(b"CAP END\r\n"));
                } else {
                    let req = format!("CAP REQ :{}\r\n", want.names());
                    self.send_now(Bytes::from(req));
                }
            }
            b"ACK" => {
                let (added, removed) = cap_changes(&list);
                let granted = if self.irc.registered {
                    self.upstream_caps.union(added).minus(removed)
                } else {
                    // This connection's first grant replaces what the last one had.
                    added
                };
                self.set_upstream_caps(granted.without(Cap::Sasl));
                if self.irc.registered {
                    return;
                }
                if added.has(Cap::Sasl) {
                    let mech = match self.cfg.sasl_mechanism {
                        Some(SaslMechanism::External) => "EXTERNAL",
                        _ => "PLAIN",
                    };
                    self.reg.sasl_pending = true;
                    self.send_now(Bytes::from(format!("AUTHENTICATE {mech}\r\n")));
                } else {
                    self.cap_end_unless_sasl_required();
                }
            }
            b"NAK" if !self.irc.registered => {
                // The whole list was refused (a server that lists a capability it will not
                // grant). Registration goes on without them; SASL decides as before.
                tracing::info!(network = %self.name, refused = %list, "the server refused the capabilities asked for");
                self.set_upstream_caps(CapSet::EMPTY);
                self.cap_end_unless_sasl_required();
            }
            // cap-notify (implied by `CAP LS 302`): the server's offer changed.
            b"NEW" => {
                let new = CapSet::parse_list(&list);
                self.reg.caps_offered = self.reg.caps_offered.union(new);
                let want = new
                    .intersection(REQUESTED_UPSTREAM)
                    .minus(self.upstream_caps);
                if !want.is_empty() && self.irc.registered {
                    self.send_now(Bytes::from(format!("CAP REQ :{}\r\n", want.names())));
                }
            }
            b"DEL" => {
                let gone = CapSet::parse_list(&list);
                self.reg.caps_offered = self.reg.caps_offered.minus(gone);
                self.set_upstream_caps(self.upstream_caps.minus(gone));
            }
            _ => {}
        }
    }

    /// The caps we asked for were not all granted: with SASL configured and required, the
    /// refusal of `sasl` means no account, so no registration.
    fn cap_end_unless_sasl_required(&mut self) {
        if self.cfg.sasl_mechanism.is_some() && self.cfg.sasl_required {
            self.on_sasl_failed(SaslFailure::NotOffered, "");
        } else {
            self.send_now(Bytes::from_static(b"CAP END\r\n"));
        }
    }

    fn on_authenticate(&mut self, line: &Line<'_>) {
        if !self.reg.sasl_pending || line.param(0) != Some(b"+") {
            return;
        }
        let lines = match self.cfg.sasl_mechanism {
            Some(SaslMechanism::External) => sasl::external_lines(),
            _ => {
                let user = self
                    .cfg
                    .sasl_username
                    .clone()
                    .unwrap_or_else(|| self.irc.nick.clone());
                let pass = self.cfg.sasl_password.clone().unwrap_or_default();
                sasl::plain_lines(&user, &pass)
            }
        };
        for l in lines {
            self.send_now(Bytes::from(l));
        }
    }

    /// A PRIVMSG or NOTICE from the server. Returns true when it was handled here (and
    /// must not be forwarded as is).
    fn private_from_server(&mut self, raw: &Bytes, line: &Line<'_>) -> bool {
        // Channel text that is not OTR, the bulk of what a server sends, passes as it is.
        if line.param(1).is_some_and(|t| !t.starts_with(b"?OTR"))
            && line
                .param(0)
                .is_some_and(|t| self.irc.is_channel(&String::from_utf8_lossy(t)))
        {
            return false;
        }
        let (Some(src), Some(target), Some(text)) =
            (line.source_nick(), line.param_str(0), line.param(1))
        else {
            return false;
        };
        let src = String::from_utf8_lossy(src).into_owned();
        if self.irc.is_me(&src) {
            // An echo of our own message (self-message / echo-message servers): the
            // ciphertext of an OTR message is never shown.
            return text.starts_with(b"?OTR");
        }
        if !self.irc.is_me(&target) {
            return false;
        }
        let handled = if line.is("NOTICE") {
            self.otr_notice_from(&src, raw, line)
        } else {
            self.otr_privmsg_from(&src, raw, line, text)
        };
        if !handled && self.clients.is_empty() {
            // A private message or notice to us (NickServ, MemoServ) is kept for playback
            // while nobody is attached. A CTCP request is not: answered hours later by the
            // client that attaches, it would tell the asker nothing true.
            if !(line.is("PRIVMSG") && is_ctcp_request(text)) {
                let kept = self.kept_message(line);
                self.clients.broadcast_or_keep(raw.clone(), now_ms(), kept);
            }
            return true;
        }
        handled
    }

    /// An INVITE to us while nobody is attached: kept for playback. Returns true when kept.
    fn keep_invite(&mut self, raw: &Bytes, line: &Line<'_>) -> bool {
        let to_us = line.param_str(0).is_some_and(|t| self.irc.is_me(&t));
        if !to_us || !self.clients.is_empty() {
            return false;
        }
        let kept = self.kept_message(line);
        self.clients.broadcast_or_keep(raw.clone(), now_ms(), kept);
        true
    }

    /// How a message from the server is kept: in its channel's conversation, or the
    /// sender's for a private one; on disk.
    fn kept_message(&self, line: &Line<'_>) -> super::history::Kept {
        let target = line.param_str(0).unwrap_or_default();
        let conversation = if self.irc.is_channel(&target) {
            target
        } else {
            String::from_utf8_lossy(line.source_nick().unwrap_or_default()).into_owned()
        };
        super::history::Kept::stored(self.irc.fold(&conversation))
    }
}

/// The capabilities a `CAP ACK` list grants and withdraws (`-name`).
fn cap_changes(list: &str) -> (CapSet, CapSet) {
    let (mut added, mut removed) = (CapSet::EMPTY, CapSet::EMPTY);
    for item in list.split(' ') {
        match item.strip_prefix('-') {
            Some(name) => removed = removed.union(CapSet::parse_list(name)),
            None => added = added.union(CapSet::parse_list(item)),
        }
    }
    (added, removed)
}

/// A CTCP request (`\x01VERSION\x01`, `\x01PING …\x01`): any CTCP but ACTION, which is text.
fn is_ctcp_request(text: &[u8]) -> bool {
    let Some(body) = text.strip_prefix(b"\x01") else {
        return false;
    };
    let word = body
        .split(|b| *b == b' ' || *b == 1)
        .next()
        .unwrap_or_default();
    !word.eq_ignore_ascii_case(b"ACTION")
}

/// Numerics of the registration burst (welcome, ISUPPORT, LUSERS, MOTD).
fn is_registration_numeric(cmd: &[u8]) -> bool {
    matches!(
        cmd,
        b"001"
            | b"002"
            | b"003"
            | b"004"
            | b"005"
            | b"250"
            | b"251"
            | b"252"
            | b"253"
            | b"254"
            | b"255"
            | b"265"
            | b"266"
            | b"375"
            | b"372"
            | b"376"
            | b"422"
    )
}

#[cfg(test)]
mod tests {
    use super::is_ctcp_request;

    #[test]
    fn ctcp_requests_are_every_ctcp_but_action() {
        for req in [
            &b"\x01VERSION\x01"[..],
            b"\x01PING 12345\x01",
            b"\x01time\x01",
            b"\x01CLIENTINFO",
        ] {
            assert!(is_ctcp_request(req), "{req:?}");
        }
        for text in [
            &b"\x01ACTION waves\x01"[..],
            b"\x01action waves\x01",
            b"hello \x01VERSION\x01",
            b"",
        ] {
            assert!(!is_ctcp_request(text), "{text:?}");
        }
    }
}
