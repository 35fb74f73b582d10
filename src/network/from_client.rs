//! Lines from an attached client: control commands, OTR for opted-in nicks, local answers
//! (PING, CAP, QUIT), and byte-exact forwarding of everything else.

use bytes::Bytes;

use super::{ClientId, Net};
use crate::irc::{Cap, Line, build};

impl Net {
    pub(super) fn on_client_line(&mut self, id: ClientId, raw: Bytes) {
        let Some(line) = Line::parse(&raw) else {
            return;
        };
        let cmd = line.command.to_ascii_uppercase();
        match cmd.as_slice() {
            b"PING" => {
                let token = line.param_str(0).unwrap_or_default();
                let server = self.server_name();
                let pong = build::message(Some(&server), "PONG", &server, &token);
                self.clients.send_to(id, pong);
            }
            // The bouncer keeps the upstream; a client leaving only detaches.
            b"QUIT" => {
                self.clients.detach(id);
                self.sync_away();
            }
            b"AWAY" => self.client_away(id, &line),
            b"PONG" | b"PASS" | b"USER" => {}
            b"CAP" => self.client_cap(id, &line),
            // `/otr ...` and `/znc *otr ...` reach us as raw commands.
            b"OTR" => {
                let args = rest_after_command(&raw);
                self.control(id, &args);
            }
            // Only `ZNC *otr …` is ours: other ZNC commands go on to a ZNC (or soju) behind
            // otrbnc, so the two can be chained.
            b"ZNC" => {
                let args = rest_after_command(&raw);
                match args.split_once(' ') {
                    Some((module, rest)) if module.eq_ignore_ascii_case("*otr") => {
                        self.control(id, rest)
                    }
                    _ => self.forward_raw(id, &raw),
                }
            }
            b"PRIVMSG" | b"NOTICE" => self.client_message(id, &raw, &line),
            b"TAGMSG" => self.client_tagmsg(id, &raw, &line),
            b"CHATHISTORY" => self.client_chathistory(id, &line),
            b"JOIN" if !self.irc.registered => self.join_later(id, &line),
            b"JOIN" => {
                self.note_client_join(&line);
                self.forward_raw(id, &raw);
            }
            // Answered from tracked state where possible, only to this client.
            b"NAMES" | b"MODE" if self.answer_from_state(id, &line) => {}
            _ => self.forward_raw(id, &raw),
        }
    }

    /// Passes a client's line upstream unchanged, or says why it cannot.
    fn forward_raw(&mut self, id: ClientId, raw: &Bytes) {
        if !self.irc.registered {
            self.reply(
                id,
                "Not connected to the server yet; the command was NOT sent.",
            );
            return;
        }
        let line = self.upstream_form(raw);
        self.send_paced(vec![line]);
    }

    /// A client's line as the server may get it: without its tags when the server did not
    /// grant message-tags (otrbnc offers the capability whatever the server has; a server
    /// without it would take the tags for the command).
    fn upstream_form(&self, raw: &Bytes) -> Bytes {
        if raw.first() != Some(&b'@') || self.upstream_caps.has(Cap::MessageTags) {
            return raw.clone();
        }
        crate::irc::shape::without_tags(raw)
    }

    fn client_cap(&mut self, id: ClientId, line: &Line<'_>) {
        // What otrbnc offers follows what the server granted it; a change reaches clients
        // with cap-notify as CAP NEW/DEL (`Net::upstream_caps_changed`).
        let sub = line.param_str(0).unwrap_or_default().to_ascii_uppercase();
        let nick = self.irc.nick.clone();
        let offered = self.offered_caps();
        let text = match sub.as_str() {
            "LS" => {
                // `CAP LS 302` turns cap-notify on (IRCv3 capability negotiation 3.2).
                if line
                    .param_str(1)
                    .is_some_and(|v| v.parse::<u32>().is_ok_and(|v| v >= 302))
                    && let Some(caps) = self.clients.caps(id)
                {
                    self.clients.set_caps(id, caps.with(Cap::CapNotify));
                }
                format!(":otrbnc CAP {nick} LS :{}\r\n", offered.names())
            }
            "LIST" => {
                let caps = self.clients.caps(id).unwrap_or_default();
                format!(":otrbnc CAP {nick} LIST :{}\r\n", caps.names())
            }
            "REQ" => {
                let asked = line.param_str(1).unwrap_or_default();
                let mut caps = self.clients.caps(id).unwrap_or_default();
                let verb = if caps.apply_request(&asked, offered) {
                    self.clients.set_caps(id, caps);
                    "ACK"
                } else {
                    "NAK"
                };
                format!(":otrbnc CAP {nick} {verb} :{}\r\n", asked.trim())
            }
            // A client that sends CAP END after registration changes nothing.
            _ => return,
        };
        self.clients.send_to(id, Bytes::from(text));
    }

    /// A TAGMSG (typing notices, reactions, replies as client tags) passes upstream unless
    /// it is addressed to an opted-in nick: its tags would tell that nick's server, in the
    /// clear, what the user does in a private conversation (a reaction is text).
    fn client_tagmsg(&mut self, id: ClientId, raw: &Bytes, line: &Line<'_>) {
        let to_opted = line
            .param_str(0)
            .is_some_and(|targets| targets.split(',').any(|t| self.opted_target(t).is_some()));
        if to_opted {
            tracing::debug!("a TAGMSG to an opted-in nick was not sent");
            return;
        }
        // Tags are all a TAGMSG has: a server without message-tags gets nothing.
        if !self.upstream_caps.has(Cap::MessageTags) {
            return;
        }
        self.forward_raw(id, raw);
    }

    fn client_message(&mut self, id: ClientId, raw: &Bytes, line: &Line<'_>) {
        let notice = line.is("NOTICE");
        let (Some(targets), Some(text)) = (line.param_str(0), line.param(1)) else {
            let line = self.upstream_form(raw);
            self.send_paced(vec![line]);
            return;
        };
        let targets: Vec<&str> = targets.split(',').filter(|t| !t.is_empty()).collect();
        // Only *otr is ours; other `*` nicks (ZNC's *status, soju's BouncerServ aside) belong
        // to a bouncer behind otrbnc and pass upstream like any target.
        let control = |t: &str| t.eq_ignore_ascii_case("*otr");
        let any_special = targets
            .iter()
            .any(|t| control(t) || self.opted_target(t).is_some());
        if !any_special {
            if !self.irc.registered {
                self.reply(
                    id,
                    "Not connected to the server yet; the message was NOT sent.",
                );
                return;
            }
            let upstream = self.upstream_form(raw);
            if self.send_paced(vec![upstream]) {
                self.echo(id, line.command, line.param_str(0).as_deref(), text);
            }
            return;
        }
        let text_str = String::from_utf8_lossy(text).into_owned();
        for target in targets {
            if target.eq_ignore_ascii_case("*otr") {
                if !notice {
                    self.control(id, &text_str);
                }
            } else if let Some(nick) = self.opted_target(target) {
                self.otr_send(id, nick, &text_str, notice);
            } else {
                let cmd = if notice { "NOTICE" } else { "PRIVMSG" };
                let line = build::message(None, cmd, target, &text_str);
                if self.send_paced(vec![line]) {
                    self.echo(id, line_command(notice), Some(target), text);
                }
            }
        }
    }

    /// The opted-in nick a message target reaches, under any spelling the server would
    /// deliver to it (`bob@server`, `bob%host`, `@bob`, …: see `irc::target`). An opted-in nick
    /// is never taken for a channel, whatever CHANTYPES the server declared.
    fn opted_target<'t>(&self, target: &'t str) -> Option<&'t str> {
        let nick = crate::irc::target::addressed_nick(target);
        (!nick.is_empty() && self.otr.is_opted(&self.irc, nick)).then_some(nick)
    }

    /// Shows a sent message (as plaintext) to the other clients, and to the sender when it
    /// negotiated echo-message.
    pub(super) fn echo(
        &mut self,
        from: ClientId,
        command: &[u8],
        target: Option<&str>,
        text: &[u8],
    ) {
        let Some(target) = target else { return };
        let sender = self.clients.caps(from);
        let echo_self = sender.is_some_and(|c| c.has(Cap::EchoMessage));
        let prefix = self.irc.prefix();
        let cmd = String::from_utf8_lossy(command).to_ascii_uppercase();
        let text = String::from_utf8_lossy(text);
        let line = build::message(Some(&prefix), &cmd, target, &text);
        // Kept for named clients that are away: they see what was said from here.
        let folded = self.irc.fold(target);
        let persist = self
            .opted_target(target)
            .is_none_or(|nick| self.logged(nick));
        let kept = super::history::Kept {
            target: folded,
            persist,
        };
        self.clients.keep(&line, super::now_ms(), kept);
        self.clients.broadcast_where(&line, Some(from), |_| true);
        if echo_self {
            self.clients.send_to(from, line);
        }
    }
}

fn line_command(notice: bool) -> &'static [u8] {
    if notice { b"NOTICE" } else { b"PRIVMSG" }
}

/// The text after the command word (for `OTR args…` and `ZNC *otr args…`).
fn rest_after_command(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(crate::irc::line::trim_eol(raw)).into_owned();
    let s = s.trim_start();
    let s = match s.strip_prefix('@') {
        Some(r) => r.split_once(' ').map(|x| x.1).unwrap_or_default(),
        None => s,
    };
    let s = match s.strip_prefix(':') {
        Some(r) => r.split_once(' ').map(|x| x.1).unwrap_or_default(),
        None => s,
    };
    let rest = s.split_once(' ').map(|x| x.1).unwrap_or_default().trim();
    rest.strip_prefix(':').unwrap_or(rest).to_string()
}
