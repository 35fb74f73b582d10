//! OTRv3 in the bouncer shell: the DSA key made on first need, the notices for OTRv3
//! sessions (labelled "not post-quantum"), refused downgrades and versions, and OTRv3 trust
//! and SMP results in the trust store (40-digit fingerprints beside the OTRv4+ ones).

use otr_core::session::{Protocol, SmpEvent, State};

use super::{Net, NetMsg, now_ms};
use crate::irc::build;
use crate::local_state::LegacyKey;
use crate::store::Observation;

/// How a private session's protocol is shown everywhere: status, notices, `[otr]` lines.
pub fn protocol_label(p: Option<Protocol>) -> &'static str {
    match p {
        Some(Protocol::V3) => "OTRv3, not post-quantum",
        Some(Protocol::V2) => "OTRv2, not post-quantum",
        Some(Protocol::V4Plus) | None => "OTRv4+",
    }
}

/// libotr's human form of a fingerprint: five groups of eight upper-case hex digits.
pub fn legacy_display(fp: &[u8; 20]) -> String {
    otr3::dsa::fingerprint_human(fp)
}

impl Net {
    /// The account asked for the OTRv3 key: give it, or have it made (about a second, on a
    /// blocking thread) and come back through the inbox.
    pub(super) fn legacy_key_needed(&mut self) {
        match self.identity.legacy_key_or_generate() {
            LegacyKey::Ready(key) => {
                let mut rng = rand::rng();
                self.otr
                    .account
                    .set_legacy_identity(key, now_ms(), &mut rng);
            }
            LegacyKey::Pending(mut rx) => {
                let inbox = self.inbox.clone();
                tokio::spawn(async move {
                    if rx.changed().await.is_ok() {
                        let _ = inbox.send(NetMsg::LegacyKeyReady).await;
                    }
                });
            }
        }
    }

    /// The OTRv3 key was made (by this network or another).
    pub(super) fn legacy_key_ready(&mut self) {
        if self.otr.account.legacy_fingerprint().is_some() {
            return;
        }
        let Some(key) = self.identity.current().and_then(|i| i.legacy_key()) else {
            self.notify(
                "Could not make the OTRv3 key: OTRv3 peers (irssi-otr, pidgin-otr, ...) cannot be answered. See the log.",
            );
            return;
        };
        let fp = legacy_display(&key.public().fingerprint());
        let mut rng = rand::rng();
        self.otr
            .account
            .set_legacy_identity(key, now_ms(), &mut rng);
        self.notify(&format!(
            "Made your OTRv3 key, for contacts whose clients speak only OTRv3 (libotr: irssi-otr, pidgin-otr, ...). Its fingerprint: {fp}"
        ));
    }

    /// An OTRv3 (or v2) session became private.
    pub(super) fn legacy_private(
        &mut self,
        peer: &str,
        version: u16,
        fingerprint: &[u8; 20],
        rekey: bool,
    ) {
        let nick = self.otr.display(peer);
        let observed = self
            .otr
            .trust
            .observe(peer, &nick, fingerprint, now_ms() / 1000);
        self.save_trust();
        let changed = matches!(
            observed,
            Observation::Changed { .. } | Observation::NotRemembered { first_key: false }
        );
        let trusted = self.otr.trust.is_trusted(peer, fingerprint);
        let proto = protocol_label(Some(if version == 2 {
            Protocol::V2
        } else {
            Protocol::V3
        }));
        let fp = legacy_display(fingerprint);
        if changed {
            self.notify(&format!(
                "WARNING: {nick}'s OTRv3 key CHANGED from the one seen before. This can mean {nick} reinstalled their client, or that someone is impersonating {nick}. {nick} is UNVERIFIED until you verify the new fingerprint {fp} (auth {nick} <secret>, or compare it and: trust {nick})."
            ));
            self.in_conversation(
                peer,
                &format!("WARNING: {nick}'s OTRv3 key CHANGED; {nick} is unverified."),
            );
        }
        let verified = if trusted { "verified" } else { "unverified" };
        let what = if rekey { "re-keyed" } else { "started" };
        self.notify(&format!(
            "Private conversation with {nick} {what}: private ({proto}), {verified}. {nick}'s client does not speak OTRv4+, so this session is not protected against a future quantum computer."
        ));
        if !trusted && !changed && !rekey {
            self.notify(&format!(
                "{nick}'s OTRv3 fingerprint: {fp}. To verify {nick}: auth {nick} <shared secret>, or authq {nick} \"<question>\" <answer>, or compare the fingerprint over another channel and: trust {nick}"
            ));
        }
        self.in_conversation(
            peer,
            &format!("Private conversation {what}: private ({proto}), {verified}."),
        );
    }

    /// An OTRv3/v2 attempt was refused (downgrade pinning, or a version the policy leaves off).
    pub(super) fn legacy_refused(
        &mut self,
        peer: &str,
        version: u16,
        queued: usize,
        downgrade: bool,
    ) {
        let nick = self.otr.display(peer);
        let kept = if queued > 0 {
            format!(" {queued} message(s) stay queued and were NOT sent.")
        } else {
            String::new()
        };
        let text = if downgrade {
            format!(
                "Refused an OTRv{version} session with {nick}: {nick} has used OTRv4+ with you before, so an older version now means someone (for example the IRC server) is stripping OTRv4+ from {nick}'s messages, or {nick} switched to a client without it. Nothing was sent in plaintext.{kept} If {nick} really changed clients: forget {nick} (then their next key is a first contact)."
            )
        } else if version == 2 {
            format!(
                "{nick}'s client offers only OTRv2 (python-potr, e.g. WeeChat's otr.py), which otrbnc does not speak. Nothing was sent in plaintext.{kept} {nick} needs a client with OTRv3 (irssi-otr, pidgin-otr, ...) or OTRv4+."
            )
        } else {
            format!(
                "{nick} offered OTRv{version}, which is off for {nick} (versions {nick} v4+,v3 turns it on). Nothing was sent in plaintext.{kept}"
            )
        };
        self.notify(&text);
    }

    /// A message decrypted after the OTRv3 key arrived (it waited for the key).
    pub(super) fn late_message(&mut self, peer: &str, text: &str) {
        let nick = self.otr.display(peer);
        let me = self.irc.nick.clone();
        let shown = match text.strip_prefix(crate::irc::ctcp::ME_PREFIX) {
            Some(action) => crate::irc::ctcp::action(action),
            None => text.to_string(),
        };
        let now = now_ms();
        let kept = self.kept_private(peer, true);
        for piece in build::sanitize_lines(&shown, build::CLIENT_TEXT_MAX) {
            let line = build::message(Some(&format!("{nick}!otr@otrbnc")), "PRIVMSG", &me, &piece);
            self.clients.broadcast_or_keep(line, now, kept.clone());
        }
    }

    /// An SMP run in an OTRv3 session completed: as for OTRv4+, with the DSA fingerprint.
    pub(super) fn legacy_smp_done(
        &mut self,
        peer: &str,
        result: otr_core::smp::SmpResult,
        fingerprint: &[u8; 20],
    ) {
        let nick = self.otr.display(peer);
        let text = if !result.success {
            format!(
                "Authentication with {nick} FAILED: the {} did not match. {nick} may not be who you think, or one of you typed it differently. {nick} is unverified.",
                if result.question { "answer" } else { "secrets" }
            )
        } else if result.initiated || !result.question {
            self.otr
                .trust
                .observe(peer, &nick, fingerprint, now_ms() / 1000);
            self.otr.trust.set_smp_verified(peer, fingerprint, true);
            if !result.question {
                self.otr.trust.set_verified_us(peer, fingerprint);
            }
            self.save_trust();
            if result.initiated {
                format!(
                    "You verified {nick}: the answer matched. {nick}'s OTRv3 fingerprint is now verified."
                )
            } else {
                format!(
                    "You and {nick} verified each other: the shared secret matched. {nick}'s OTRv3 fingerprint is now verified."
                )
            }
        } else {
            self.otr
                .trust
                .observe(peer, &nick, fingerprint, now_ms() / 1000);
            self.otr.trust.set_verified_us(peer, fingerprint);
            self.save_trust();
            format!(
                "{nick} verified you (you answered their question). To verify {nick} in turn: authq {nick} \"<question>\" <answer>"
            )
        };
        self.notify(&text);
        self.in_conversation(peer, &text);
    }

    /// Handles the OTRv3-only SMP outcome (the rest is shared with OTRv4+).
    pub(super) fn legacy_smp_event(&mut self, peer: &str, event: &SmpEvent) -> bool {
        if let SmpEvent::LegacyDone {
            result,
            fingerprint,
        } = event
        {
            self.legacy_smp_done(peer, *result, fingerprint);
            return true;
        }
        false
    }

    /// The peer's current OTRv3 fingerprint, while an OTRv3 session is private.
    pub(super) fn legacy_session_fingerprint(&self, key: &str) -> Option<[u8; 20]> {
        let info = self.otr.account.session_info(key);
        (info.state == State::Encrypted)
            .then_some(info.legacy_fingerprint)
            .flatten()
    }

    /// `*otr fingerprint`'s OTRv3 line.
    pub(super) fn legacy_fingerprint_line(&self) -> String {
        let allowed = self
            .otr_cfg
            .versions
            .contains(&crate::config::OtrVersion::V3);
        match self.otr.account.legacy_fingerprint() {
            Some(fp) => format!("Your OTRv3 fingerprint: {}", legacy_display(&fp)),
            None if allowed => "Your OTRv3 fingerprint: none yet (made the first time a contact's client speaks only OTRv3)".to_string(),
            None => "OTRv3 is off (versions = [\"v4+\"]).".to_string(),
        }
    }

    /// `*otr trust|distrust` while the session with the nick is OTRv3.
    pub(super) fn legacy_trust(
        &mut self,
        id: super::ClientId,
        nick: &str,
        key: &str,
        fp: &[u8; 20],
        on: bool,
    ) {
        self.otr.trust.observe(key, nick, fp, now_ms() / 1000);
        self.otr.trust.set_trusted(key, fp, on);
        if !on {
            self.otr.trust.set_smp_verified(key, fp, false);
        }
        self.save_trust();
        let shown = legacy_display(fp);
        let text = if on {
            format!("You now trust {nick}'s OTRv3 fingerprint {shown}.")
        } else {
            format!(
                "You no longer trust {nick}'s OTRv3 fingerprint {shown} (nor its SMP verification)."
            )
        };
        self.reply(id, &text);
    }

    /// `*otr versions <nick> [v4+|v4+,v3|default]`.
    pub(super) fn versions_command(
        &mut self,
        id: super::ClientId,
        nick: &str,
        choice: Option<&str>,
    ) {
        let key = self.irc.fold(nick);
        let network_v3 = self
            .otr_cfg
            .versions
            .contains(&crate::config::OtrVersion::V3);
        let stored = self
            .otr
            .trust
            .nick_v3()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v);
        let describe = |v3: bool| {
            if v3 {
                "OTRv4+ and OTRv3"
            } else {
                "OTRv4+ only"
            }
        };
        let set = match choice {
            None => {
                let (v3, whence) = match stored {
                    Some(v3) => (v3, "set for this nick"),
                    None => (network_v3, "the network's default"),
                };
                return self.reply(
                    id,
                    &format!("Versions with {nick}: {} ({whence}).", describe(v3)),
                );
            }
            Some("v4+") => Some(false),
            Some("v4+,v3" | "v3,v4+") => Some(true),
            Some("default") => None,
            Some(_) => {
                return self.reply(id, "Usage: versions <nick> [v4+|v4+,v3|default]");
            }
        };
        if let Err(e) = self.otr.trust.set_nick_v3(&key, set) {
            return self.reply(id, &format!("Not changed: {e}."));
        }
        self.save_trust();
        self.otr.account.set_legacy_versions(
            &key,
            set.map(|v3| otr3::contact::Versions { v3, v2: false }),
        );
        let now = describe(set.unwrap_or(network_v3));
        self.reply(id, &format!("Versions with {nick}: {now}."));
    }

    /// The core held an OTRv3 session under a key the user has not accepted: say so before
    /// anything else, with the keys and the command that accepts the new one.
    pub(super) fn legacy_key_not_accepted(
        &mut self,
        peer: &str,
        offered: &[u8; 20],
        accepted: &[[u8; 20]],
        queued: usize,
    ) {
        let nick = self.otr.display(peer);
        let shown = legacy_display(offered);
        let command = format!(
            "accept {nick} {}",
            hex::encode_upper(offered)
                .get(..super::pinning::MIN_ACCEPT_PREFIX)
                .unwrap_or_default()
        );
        let waiting = match queued {
            0 => "Nothing is sent to it".to_string(),
            n => format!("Nothing is sent to it: {n} message(s) stay queued"),
        };
        if accepted.is_empty() {
            self.notify(&format!(
                "{nick} shows an OTRv3 key you have not accepted yet (hold_first_contact is on):\n  key: {shown}\n{waiting}. Compare it with {nick} over another channel; if it is theirs: {command}"
            ));
        } else {
            let before: String = accepted
                .iter()
                .map(|fp| format!("\n  accepted key: {}", legacy_display(fp)))
                .collect();
            self.notify(&format!(
                "WARNING: an OTRv3 session with {nick} completed under a NEW key, not the one you accepted. This can mean {nick} reinstalled their client, or that someone (the server, for one) is impersonating {nick}.{before}\n  new key:      {shown}\n{waiting}.\nVerify the new key with {nick} over another channel; if it is theirs: {command}"
            ));
        }
        self.in_conversation(
            peer,
            &format!("WARNING: {nick}'s OTRv3 key waits for your decision; nothing was sent to it. See *otr."),
        );
    }

    /// `accept <nick> <prefix>` for a held OTRv3 key.
    pub(super) fn accept_legacy(
        &mut self,
        id: super::ClientId,
        nick: &str,
        key: &str,
        held: &[u8; 20],
        typed: &str,
    ) {
        let digits: String = typed
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        if digits.len() < super::pinning::MIN_ACCEPT_PREFIX
            || !hex::encode_upper(held).starts_with(&digits)
        {
            return self.reply(
                id,
                &format!(
                    "Not accepted: type at least the first {} hex digits of the OTRv3 key waiting for {nick} ({}). Nothing was sent.",
                    super::pinning::MIN_ACCEPT_PREFIX,
                    legacy_display(held)
                ),
            );
        }
        // Remembered first: the session that follows finds the key known, not changed.
        self.otr.trust.observe(key, nick, held, now_ms() / 1000);
        self.save_trust();
        let mut rng = rand::rng();
        self.otr
            .account
            .accept_legacy_key(now_ms(), &mut rng, key, held);
        self.reply(
            id,
            &format!(
                "Accepted {} as {nick}'s OTRv3 key; the private conversation under it starts now. {nick} is UNVERIFIED under it: auth {nick} <secret> or compare and: trust {nick}",
                legacy_display(held)
            ),
        );
        self.otr_drain();
    }
}
