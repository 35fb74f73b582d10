//! `*otr` commands. Output goes only to the clients (never upstream).

use otr_core::session::{SmpCommandError, State};
use otr_core::smp::SmpStatus;

use super::net_commands::NetCommand;
use super::{ClientId, Net, now_ms};
use crate::config::validate::is_valid_nick;

/// Command, arguments, description (the `help` table).
const COMMANDS: &[(&str, &str, &str)] = &[
    ("help", "[command]", "this list, or help for one command"),
    (
        "status",
        "[nick]",
        "privacy level, fingerprints and instance tags (all opted-in nicks without an argument)",
    ),
    (
        "start",
        "<nick>",
        "start (or refresh) a private conversation",
    ),
    (
        "finish",
        "<nick|*>",
        "end the private conversation; drops messages still queued",
    ),
    (
        "enable",
        "<nick>",
        "opt a nick in: messages to it are encrypted, never sent in clear",
    ),
    (
        "disable",
        "<nick>",
        "opt a nick out: messages to it pass in clear again",
    ),
    (
        "auth",
        "<nick> <secret>",
        "verify nick with a secret you both know (SMP); also answers nick's pending question",
    ),
    (
        "authq",
        "<nick> \"<question>\" <answer>",
        "verify nick by asking a question only they can answer (SMP)",
    ),
    (
        "authabort",
        "<nick>",
        "abort a running authentication with nick",
    ),
    (
        "trust",
        "<nick>",
        "trust the nick's current fingerprint (after comparing it over another channel)",
    ),
    (
        "accept",
        "<nick> <fingerprint>",
        "accept the new key nick showed (at least its first 16 hex digits, as the warning gives them): releases what waits for it",
    ),
    (
        "distrust",
        "<nick>",
        "stop trusting the nick's current fingerprint",
    ),
    (
        "versions",
        "<nick> [v4+|v4+,v3|default]",
        "show or set the OTR versions spoken with a nick: OTRv4+ only, or OTRv4+ and OTRv3 (for clients that speak only OTRv3); default: the network's",
    ),
    (
        "fingerprint",
        "",
        "your own fingerprints (OTRv4+ and OTRv3)",
    ),
    (
        "genkey",
        "[confirm]",
        "replace your long-term key on every network (asks for confirmation)",
    ),
    (
        "policy",
        "[name on|off | <nick> log on|off]",
        "show or change: allow_plain_notice, allow_plain_ctcp, accept_strangers, hold_first_contact; or whether your private conversation with <nick> is written to the message log on disk (off by default)",
    ),
    (
        "forget",
        "<nick>",
        "forget the keys, trust and verification stored for a nick and end its session",
    ),
    (
        "connect",
        "[network]",
        "connect to the server now: after disconnect, after an error that stopped retries, or to skip the wait",
    ),
    ("reconnect", "[network]", "the same as connect"),
    (
        "disconnect",
        "[network [reason]]",
        "quit the server (QUIT with the reason) and stay disconnected until connect",
    ),
    (
        "jump",
        "[network]",
        "drop the connection and connect again at once, like ZNC's jump (one server per network here: the same server)",
    ),
    (
        "networks",
        "",
        "every configured network: state, nick, how it is reached, clients attached, channels joined",
    ),
    (
        "clients",
        "[network]",
        "the clients attached to the network: id, the nick they registered with, capabilities, since when",
    ),
];

/// Shown after the table: what `[network]` means.
const NETWORK_NOTE: &str =
    "[network]: another configured network by name; without it, this client's network.";

/// Splits arguments shell-style: whitespace separates, double quotes group, `\"` escapes.
pub fn split_args(input: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut has = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quotes => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                in_quotes = !in_quotes;
                has = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if has || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => cur.push(c),
        }
    }
    if has || !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Net {
    /// Runs one `*otr` command line from client `id`.
    pub(super) fn control(&mut self, id: ClientId, input: &str) {
        let args = split_args(input);
        let Some(cmd) = args.first().map(|c| c.to_ascii_lowercase()) else {
            return self.control(id, "help");
        };
        let arg = args.get(1).map(String::as_str);
        let cmd = match cmd.as_str() {
            "st" | "info" => "status".to_string(),
            "?" => "help".to_string(),
            other => other.to_string(),
        };
        let needs_nick = [
            "start",
            "finish",
            "enable",
            "disable",
            "trust",
            "distrust",
            "accept",
            "forget",
            "auth",
            "authq",
            "authabort",
        ];
        if needs_nick.contains(&cmd.as_str()) {
            let Some(nick) = arg else {
                return self.usage(id, &cmd);
            };
            if !(is_valid_nick(nick) || cmd == "finish" && nick == "*") {
                return self.reply(id, &format!("{nick:?} is not a valid nick."));
            }
        }
        match (cmd.as_str(), arg) {
            ("help", None) => {
                self.reply(
                    id,
                    "otrbnc *otr commands (also as raw commands: OTR <command> or ZNC *otr <command>):",
                );
                for (c, a, d) in COMMANDS {
                    self.reply(id, &format!("  {c} {a} — {d}"));
                }
                self.reply(id, NETWORK_NOTE);
            }
            ("help", Some(c)) => self.usage(id, &c.to_ascii_lowercase()),
            ("status", None) => self.status_all(id),
            ("connect" | "reconnect", net) => {
                self.network_command(id, NetCommand::Connect, net, None)
            }
            ("disconnect", net) => {
                let reason = args.get(2..).unwrap_or_default().join(" ");
                let reason = (!reason.is_empty()).then_some(reason);
                self.network_command(id, NetCommand::Disconnect, net, reason)
            }
            ("jump", net) => self.network_command(id, NetCommand::Jump, net, None),
            ("clients", net) => self.network_command(id, NetCommand::Clients, net, None),
            ("networks", None) => self.networks_list(id),
            ("networks", Some(_)) => self.usage(id, "networks"),
            ("status", Some(nick)) => self.status_one(id, nick),
            ("start", Some(nick)) => {
                let key = self.irc.fold(nick);
                if !self.otr.is_opted(&self.irc, nick) {
                    self.otr.enable(&self.irc, nick);
                    let saved = self.remember_opt_in(nick, true);
                    self.reply(id, &format!("OTR enabled for {nick}."));
                    self.tell_remembered(id, nick, saved, true);
                }
                let mut rng = rand::rng();
                self.otr.account.start(now_ms(), &mut rng, &key);
                self.reply(id, &format!("Starting a private conversation with {nick}…"));
                self.otr_drain();
            }
            ("finish", Some("*")) => {
                self.otr_finish_all();
                self.reply(id, "Ended every private conversation on this network.");
            }
            ("finish", Some(nick)) => {
                let key = self.irc.fold(nick);
                let info = self.otr.account.session_info(&key);
                let mut rng = rand::rng();
                self.otr.account.finish(now_ms(), &mut rng, &key);
                self.otr_drain();
                if info.state == State::Plaintext && info.queued == 0 {
                    self.reply(id, &format!("No private conversation with {nick} to end."));
                }
            }
            ("enable", Some(nick)) => {
                let new = self.otr.enable(&self.irc, nick);
                let saved = self.remember_opt_in(nick, true);
                if new {
                    // Started now, so the session is ready (or nearly) by the first message.
                    let key = self.irc.fold(nick);
                    let started = if self.start_if_idle(&key) {
                        " A private conversation is being started now."
                    } else {
                        " The first one starts the session."
                    };
                    self.reply(
                        id,
                        &format!("OTR enabled for {nick}: messages to {nick} are now encrypted and never sent in clear.{started}"),
                    );
                } else {
                    self.reply(id, &format!("OTR was already enabled for {nick}."));
                }
                self.tell_remembered(id, nick, saved, true);
            }
            ("disable", Some(nick)) => {
                let key = self.irc.fold(nick);
                let saved = self.remember_opt_in(nick, false);
                if self.otr.disable(&self.irc, nick) {
                    let mut rng = rand::rng();
                    self.otr.account.finish(now_ms(), &mut rng, &key);
                    self.otr_drain();
                    self.reply(id, &format!("OTR disabled for {nick}: messages to {nick} are sent in clear from now on."));
                } else {
                    self.reply(id, &format!("OTR was not enabled for {nick}."));
                }
                self.tell_remembered(id, nick, saved, false);
            }
            ("trust" | "distrust", Some(nick)) => {
                let key = self.irc.fold(nick);
                if let Some(fp) = self.legacy_session_fingerprint(&key) {
                    return self.legacy_trust(id, nick, &key, &fp, cmd == "trust");
                }
                let Some(fp) = self.otr.account.session_info(&key).fingerprint else {
                    return self.reply(id, &format!("No fingerprint known for {nick} yet: start a private conversation first."));
                };
                let on = cmd == "trust";
                self.otr.trust.observe(&key, nick, &fp.0, now_ms() / 1000);
                self.otr.set_trusted(&key, &fp, on);
                if !on {
                    // The next session re-authenticates the long-term key, not the PSK chain.
                    self.otr.account.drop_psk(&key);
                }
                self.save_trust();
                let text = if on {
                    format!("You now trust {nick}'s fingerprint {}.", fp.to_display())
                } else {
                    format!(
                        "You no longer trust {nick}'s fingerprint {} (nor its SMP verification).",
                        fp.to_display()
                    )
                };
                self.reply(id, &text);
            }
            ("accept", Some(nick)) => {
                let typed = args.get(2..).unwrap_or_default().join(" ");
                if typed.is_empty() {
                    return self.usage(id, "accept");
                }
                self.accept(id, nick, &typed);
            }
            ("auth", Some(nick)) => {
                let secret = args.get(2..).unwrap_or_default().join(" ");
                if secret.is_empty() {
                    return self.usage(id, "auth");
                }
                self.auth(id, nick, None, &secret);
            }
            ("authq", Some(nick)) => {
                let (Some(question), Some(_)) = (args.get(2), args.get(3)) else {
                    return self.usage(id, "authq");
                };
                let answer = args.get(3..).unwrap_or_default().join(" ");
                let question = question.clone();
                self.auth(id, nick, Some(&question), &answer);
            }
            ("authabort", Some(nick)) => {
                let key = self.irc.fold(nick);
                let mut rng = rand::rng();
                match self.otr.account.smp_abort(now_ms(), &mut rng, &key) {
                    Ok(()) => self.reply(id, &format!("Authentication with {nick} aborted.")),
                    Err(e) => {
                        self.reply(id, &format!("Cannot abort: {}.", smp_error_text(nick, &e)))
                    }
                }
                self.otr_drain();
            }
            ("forget", Some(nick)) => {
                let key = self.irc.fold(nick);
                self.otr.forget(&key);
                self.otr.account.forget_peer(&key);
                self.save_trust();
                let mut rng = rand::rng();
                self.otr.account.finish(now_ms(), &mut rng, &key);
                self.otr_drain();
                self.reply(
                    id,
                    &format!("Forgot the keys, trust and verification stored for {nick}."),
                );
            }
            ("versions", Some(nick)) => {
                let choice = args.get(2).map(String::as_str);
                self.versions_command(id, nick, choice);
            }
            ("fingerprint", _) => {
                let fp = self.otr.account.fingerprint();
                let tag = self.otr.account.instance_tag();
                self.reply(id, &format!("Your fingerprint: {}", fp.to_display()));
                self.reply(id, &self.legacy_fingerprint_line());
                let kind = if self.otr.trust.path().is_some() {
                    "The identity is stored encrypted in the data directory."
                } else {
                    "The identity is ephemeral: a new key is made at each start."
                };
                self.reply(id, &format!("Instance tag: {tag:08x}. {kind}"));
            }
            ("genkey", None) => {
                self.reply(id, "genkey replaces your long-term OTR key on every network and ends every private conversation. Your contacts will see a key-change warning and must verify you again (their trust and SMP verification of your old key no longer apply). Your own trust in others is kept. To go ahead: genkey confirm");
            }
            ("genkey", Some("confirm")) => {
                self.reply(
                    id,
                    "Generating a new OTR key (Ed448, ML-KEM-1024, ML-DSA-87)…",
                );
                let policy = super::otr::policy(&self.otr_cfg);
                match self.identity.rotate(&policy) {
                    Ok(identity) => {
                        let stored = if self.identity.is_persistent() {
                            " It is stored encrypted in the data directory."
                        } else {
                            " It is ephemeral, like the old one."
                        };
                        self.reply(
                            id,
                            &format!(
                                "New key made: {}.{stored} Private conversations under the old key are being ended.",
                                identity.fingerprint().to_display()
                            ),
                        );
                        self.sync_identity();
                    }
                    Err(e) => self.reply(
                        id,
                        &format!("The key was NOT replaced: {e}. The old key stays in use."),
                    ),
                }
            }
            ("genkey", Some(_)) => self.usage(id, "genkey"),
            ("policy", None) => {
                let p = format!(
                    "require_encryption {} · allow_plain_notice {} · allow_plain_ctcp {} · accept_strangers {} · hold_first_contact {}",
                    on_off(self.otr.require_encryption),
                    on_off(self.otr.allow_plain_notice),
                    on_off(self.otr.allow_plain_ctcp),
                    on_off(self.otr.accept_strangers),
                    on_off(self.otr.hold_first_contact)
                );
                self.reply(id, &p);
                let logged: Vec<String> = self
                    .otr
                    .trust
                    .logged()
                    .map(|n| self.otr.display(n))
                    .collect();
                let text = if logged.is_empty() {
                    "Private conversations written to the message log: none (`policy <nick> log on`).".to_string()
                } else {
                    format!(
                        "Private conversations written to the message log: {}.",
                        logged.join(", ")
                    )
                };
                self.reply(id, &text);
            }
            ("policy", Some(nick))
                if args.get(2).is_some_and(|a| a.eq_ignore_ascii_case("log")) =>
            {
                let on = match args.get(3).map(|v| v.to_ascii_lowercase()).as_deref() {
                    Some("on" | "yes" | "true") => true,
                    Some("off" | "no" | "false") => false,
                    _ => return self.usage(id, "policy"),
                };
                let folded = self.irc.fold(nick);
                match self.otr.trust.set_logged(&folded, on) {
                    Err(e) => self.reply(id, &format!("Not changed: {e}.")),
                    Ok(_) => {
                        let text = if on {
                            format!(
                                "Your private conversation with {nick} is now written to the message log on disk (sealed with the store key) from here on. What is on disk stays readable to whoever gets the store and its key: forward secrecy no longer covers it. `policy {nick} log off` stops it."
                            )
                        } else {
                            format!(
                                "Your private conversation with {nick} is no longer written to the message log from here on (what was written stays until it ages out)."
                            )
                        };
                        self.reply(id, &text);
                        if let Err(e) = self.otr.trust.save_if_dirty() {
                            self.reply(id, &format!("WARNING: this could NOT be saved ({e}): after a restart it is as before."));
                        }
                    }
                }
            }
            ("policy", Some(name)) => {
                let value = match args.get(2).map(|v| v.to_ascii_lowercase()).as_deref() {
                    Some("on" | "yes" | "true") => true,
                    Some("off" | "no" | "false") => false,
                    _ => return self.usage(id, "policy"),
                };
                let slot = match name {
                    "allow_plain_notice" => &mut self.otr.allow_plain_notice,
                    "allow_plain_ctcp" => &mut self.otr.allow_plain_ctcp,
                    "accept_strangers" => &mut self.otr.accept_strangers,
                    "hold_first_contact" => &mut self.otr.hold_first_contact,
                    _ => return self.usage(id, "policy"),
                };
                *slot = value;
                self.otr
                    .account
                    .set_hold_first_contact(self.otr.hold_first_contact);
                self.reply(id, &format!("{name} is now {}.", on_off(value)));
                if let Err(e) = self.remember_policy() {
                    self.reply(
                        id,
                        &format!("WARNING: this could NOT be saved ({e}): after a restart {name} is what the config says."),
                    );
                }
            }
            _ => self.reply(id, &format!("Unknown command {cmd:?}. Type: help")),
        }
    }

    /// Says whether an opt-in change will hold after a restart: loudly when it will not.
    fn tell_remembered(&mut self, id: ClientId, nick: &str, saved: Result<(), String>, on: bool) {
        match saved {
            Err(e) if on => self.reply(
                id,
                &format!("WARNING: OTR is enabled for {nick} now, but this could NOT be saved ({e}): after a restart messages to {nick} would NOT be encrypted. Fix the data directory, then enable {nick} again."),
            ),
            Err(e) => self.reply(
                id,
                &format!("WARNING: this could NOT be saved ({e}): after a restart OTR is enabled for {nick} again."),
            ),
            Ok(()) if self.otr.trust.path().is_none() => self.reply(
                id,
                "(identity = \"ephemeral\": nothing is kept across a restart, this included.)",
            ),
            Ok(()) => {}
        }
    }

    fn usage(&mut self, id: ClientId, cmd: &str) {
        match COMMANDS.iter().find(|(c, _, _)| *c == cmd) {
            Some((c, a, d)) => self.reply(id, &format!("Usage: {c} {a} — {d}")),
            None => self.reply(id, &format!("Unknown command {cmd:?}. Type: help")),
        }
    }

    fn status_all(&mut self, id: ClientId) {
        let fp = self.otr.account.fingerprint();
        self.reply(id, &format!("Your fingerprint: {}", fp.to_display()));
        self.reply(id, &self.legacy_fingerprint_line());
        let upstream = self.upstream_status();
        self.reply(id, &upstream);
        let nicks = self.otr.opted_nicks();
        if nicks.is_empty() {
            return self.reply(
                id,
                "No nick is opted in. To encrypt messages to a nick: enable <nick>",
            );
        }
        for nick in nicks {
            self.status_one(id, &nick);
        }
    }

    fn status_one(&mut self, id: ClientId, nick: &str) {
        let key = self.irc.fold(nick);
        let info = self.otr.account.session_info(&key);
        let opted = self.otr.is_opted(&self.irc, nick);
        let lvl = level_text(self.otr.level_of(&key), info.state);
        let mut text = format!(
            "{nick}: {lvl}{}",
            if opted { "" } else { " (OTR not enabled)" }
        );
        if info.queued > 0 {
            text.push_str(&format!(", {} message(s) queued", info.queued));
        }
        if let Some(tag) = info.their_tag {
            text.push_str(&format!(", their instance tag {tag:08x}"));
        }
        self.reply(id, &text);
        if let Some(held) = info.held {
            self.reply(
                id,
                &format!(
                    "  a NEW key of {nick} waits for your decision (nothing is sent to it): {}. If it is theirs: accept {nick} <its first 16 hex digits>",
                    held.to_display()
                ),
            );
        }
        if let Some(fp) = info.fingerprint {
            let mut trust = match self.otr.trust.key_status(&key, &fp.0) {
                Some(k) if k.smp_verified && k.trusted => "verified by SMP, trusted",
                Some(k) if k.smp_verified => "verified by SMP",
                Some(k) if k.trusted => "trusted",
                _ => "not verified",
            }
            .to_string();
            if self.otr.trust.verified_us(&key, &fp.0) {
                trust.push_str(&format!("; {nick} verified you by SMP"));
            }
            self.reply(
                id,
                &format!("  {nick}'s fingerprint: {} ({trust})", fp.to_display()),
            );
            if !info.attested {
                self.reply(
                    id,
                    &format!(
                        "  {nick}'s post-quantum profile signature (ML-DSA): not received yet ({nick} shows as verified only once it has)"
                    ),
                );
            }
        }
        if let Some(fp) = info.legacy_fingerprint {
            let trust = match self.otr.trust.key_status(&key, &fp) {
                Some(k) if k.smp_verified && k.trusted => "verified by SMP, trusted",
                Some(k) if k.smp_verified => "verified by SMP",
                Some(k) if k.trusted => "trusted",
                _ => "not verified",
            };
            self.reply(
                id,
                &format!(
                    "  {nick}'s OTRv3 fingerprint: {} ({trust})",
                    super::legacy::legacy_display(&fp)
                ),
            );
        }
        match info.smp {
            SmpStatus::AwaitingSecret { question: Some(q) } => self.reply(
                id,
                &format!("  {nick} asks you: \"{q}\" — answer with: auth {nick} <answer>"),
            ),
            SmpStatus::AwaitingSecret { question: None } => self.reply(
                id,
                &format!("  {nick} waits for your shared secret: auth {nick} <secret>"),
            ),
            SmpStatus::Running { .. } => {
                self.reply(id, &format!("  authentication with {nick} in progress"))
            }
            SmpStatus::Idle => {}
        }
    }
}

impl Net {
    /// `auth`/`authq`: answers the peer's pending request, or starts a run.
    fn auth(&mut self, id: ClientId, nick: &str, question: Option<&str>, secret: &str) {
        let key = self.irc.fold(nick);
        let info = self.otr.account.session_info(&key);
        let mut rng = rand::rng();
        let answering = question.is_none() && matches!(info.smp, SmpStatus::AwaitingSecret { .. });
        let result = if answering {
            self.otr
                .account
                .smp_respond(now_ms(), &mut rng, &key, secret)
        } else {
            self.otr
                .account
                .smp_start(now_ms(), &mut rng, &key, question, secret)
        };
        match result {
            Ok(()) if answering => self.reply(
                id,
                &format!("Answer sent to {nick}; the result follows in a few seconds."),
            ),
            Ok(()) => self.reply(
                id,
                &format!(
                    "Authenticating {nick}: waiting for {nick} to answer{}.",
                    if question.is_some() {
                        " your question"
                    } else {
                        " with the same secret"
                    }
                ),
            ),
            Err(e) => self.reply(
                id,
                &format!("Authentication NOT started: {}.", smp_error_text(nick, &e)),
            ),
        }
        self.otr_drain();
    }
}

fn smp_error_text(nick: &str, e: &SmpCommandError) -> String {
    match e {
        SmpCommandError::NotPrivate => {
            format!("there is no private conversation with {nick}; start one first: start {nick}")
        }
        other => other.to_string(),
    }
}

fn level_text(lvl: String, state: State) -> String {
    match state {
        State::Handshaking => format!("{lvl} (handshake running)"),
        _ => lvl,
    }
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_args("authq bob \"what is it?\" x"),
            vec!["authq", "bob", "what is it?", "x"]
        );
        assert_eq!(split_args("  a   b "), vec!["a", "b"]);
        assert_eq!(split_args("a \"\" b"), vec!["a", "", "b"]);
        assert_eq!(split_args("\"say \\\"hi\\\"\""), vec!["say \"hi\""]);
        assert!(split_args("").is_empty());
    }
}
