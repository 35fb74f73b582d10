//! The OTR side of a network: which nicks are opted in, the account that runs their
//! sessions, and the translation between IRC lines and the account's inputs and outputs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use otr_core::profile::Fingerprint;
use otr_core::session::{
    Account, EndReason, Event, Policy, Received, SendError, SendOutcome, SmpEvent, State,
};

use super::state::IrcState;
use super::{ClientId, Net, now_ms};
use crate::config;
use crate::identity::Identity;
use crate::irc::{CaseMapping, Line, build, ctcp};
use crate::store::{Observation, TrustStore};

/// OTR state of one network.
pub struct OtrState {
    /// The account (one identity, many peers), keyed by folded nick.
    pub account: Account,
    /// Opted-in nicks: folded under `folded_with` → as typed / last seen.
    opted: BTreeMap<String, String>,
    /// Every spelling a nick was opted in under: typed, configured, followed through a NICK
    /// change, and as stored (as typed, and the key it was folded to then). `opted` is folded
    /// from it again when the server's case mapping changes, so that no opt-in is lost.
    spellings: BTreeSet<String>,
    /// The case mapping `opted` and `display` are folded under.
    folded_with: CaseMapping,
    /// Current spelling of peers' nicks, for PRIVMSG targets.
    display: HashMap<String, String>,
    /// Keys seen, trusted by hand and verified by SMP, per folded nick (saved to disk unless
    /// the identity is ephemeral).
    pub trust: TrustStore,
    /// Runtime policy toggles.
    pub allow_plain_notice: bool,
    /// Let other CTCP through in clear.
    pub allow_plain_ctcp: bool,
    /// Answer strangers' offers.
    pub accept_strangers: bool,
    /// Hold a nick's first key until `accept` (otherwise it is trusted on first use).
    pub hold_first_contact: bool,
    /// Offers from strangers announced or answered lately (bounded per minute).
    pub offers: super::offers::OfferWindow,
    /// Never send plaintext to opted-in nicks.
    pub require_encryption: bool,
    /// Prefix for plaintext from opted-in nicks.
    pub marker: String,
    /// Opted-in nicks started on sight on this connection (`presence.rs`), folded.
    pub warmed: BTreeSet<String>,
}

/// The account policy from the `[otr]` config.
pub fn policy(cfg: &config::Otr) -> Policy {
    Policy {
        heartbeat_ms: cfg.heartbeat_secs * 1000,
        idle_expiry_ms: cfg.idle_expiry_secs * 1000,
        dake_timeout_ms: cfg.handshake_timeout_secs * 1000,
        legacy: otr3::contact::Versions {
            v3: cfg.versions.contains(&config::OtrVersion::V3),
            v2: false,
        },
        ..Policy::default()
    }
}

/// Hands the account what the trust store knows of each peer: the keys the user accepted
/// (every key in the store was: a session ran under it), which pins the peer to them, and the
/// profile cached last with its attestation, so the first handshake after a restart can refer
/// to it by hash and the peer need not send its attestation again. Expired or invalid
/// profiles (and attestations that do not verify for them) are skipped.
pub fn restore_peers(account: &mut Account, trust: &TrustStore) {
    let now = now_ms();
    for (nick, v3) in trust.nick_v3() {
        account.set_legacy_versions(nick, Some(otr3::contact::Versions { v3, v2: false }));
    }
    for (nick, entry) in trust.nicks() {
        for key in &entry.fingerprints {
            if let Some(fp) = parse_fingerprint(&key.fingerprint) {
                account.pin_key(nick, &fp);
            } else if let Some(fp) = otr3::dsa::parse_fingerprint(&key.fingerprint) {
                // An OTRv3 key: 40 hex digits.
                account.pin_legacy_key(nick, &fp);
            }
        }
        if entry.profile.is_some()
            && let Some(bytes) = trust.profile(nick)
            && account.remember_peer_profile(nick, &bytes, now).is_ok()
        {
            super::attestation::restore_attestation(account, trust, nick);
        }
    }
}

/// A fingerprint as the trust store writes it (hex digits, spaces allowed).
pub fn parse_fingerprint(hex: &str) -> Option<Fingerprint> {
    let digits: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = hex::decode(digits).ok()?;
    Some(Fingerprint(bytes.try_into().ok()?))
}

/// The privacy level shown to the user (pidgin's names).
pub fn level(state: State, trusted: bool) -> &'static str {
    match state {
        State::Plaintext | State::Handshaking => "plaintext",
        State::Encrypted if trusted => "private",
        State::Encrypted => "unverified",
        State::Finished => "finished",
    }
}

impl OtrState {
    /// The state for a network.
    pub fn new(
        identity: &Identity,
        cfg: &config::Otr,
        nicks: &[String],
        first_contact: config::FirstContact,
        trust: TrustStore,
    ) -> Result<Self, String> {
        let mut account = identity.account(policy(cfg), now_ms())?;
        restore_peers(&mut account, &trust);
        let fold = |n: &str| CaseMapping::default().fold(n);
        // The config's nicks, then those the user opted in at run time (remembered in the
        // store): all of them before the upstream connects, folded by the default mapping
        // (the coarsest) until the server declares its own.
        let mut opted: BTreeMap<String, String> =
            nicks.iter().map(|n| (fold(n), n.clone())).collect();
        let mut spellings: BTreeSet<String> = nicks.iter().cloned().collect();
        for (key, typed) in trust.opted_entries() {
            opted
                .entry(fold(typed))
                .or_insert_with(|| typed.to_string());
            // The key is all that is left of a spelling typed before this one under the same
            // key (the store keeps the last).
            spellings.extend([typed.to_string(), key.to_string()]);
        }
        let toggles = trust.policy();
        let hold_first_contact = toggles
            .hold_first_contact
            .unwrap_or(first_contact == config::FirstContact::Hold);
        account.set_hold_first_contact(hold_first_contact);
        let mut state = OtrState {
            account,
            display: HashMap::new(),
            opted,
            spellings,
            folded_with: CaseMapping::default(),
            trust,
            allow_plain_notice: toggles.allow_plain_notice.unwrap_or(cfg.allow_plain_notice),
            allow_plain_ctcp: toggles.allow_plain_ctcp.unwrap_or(cfg.allow_plain_ctcp),
            accept_strangers: toggles.accept_strangers.unwrap_or(cfg.accept_strangers),
            hold_first_contact,
            offers: Default::default(),
            require_encryption: cfg.require_encryption,
            marker: cfg.plaintext_marker.clone(),
            warmed: BTreeSet::new(),
        };
        state.rekey(CaseMapping::default());
        Ok(state)
    }

    /// Whether `nick` is opted in.
    pub fn is_opted(&self, irc: &IrcState, nick: &str) -> bool {
        self.is_opted_key(irc, &irc.fold(nick))
    }

    /// Whether the nick folded to `key` (by `irc`'s mapping) is opted in. Should `opted` be
    /// folded under another mapping than `irc`'s (`refold` follows every change, so it should
    /// not), the spellings are folded afresh.
    pub fn is_opted_key(&self, irc: &IrcState, key: &str) -> bool {
        if irc.casemap == self.folded_with {
            self.opted.contains_key(key)
        } else {
            self.spellings.iter().any(|s| irc.fold(s) == key)
        }
    }

    /// Opted-in nicks as typed.
    pub fn opted_nicks(&self) -> Vec<String> {
        self.opted.values().cloned().collect()
    }

    /// Opts a nick in.
    pub fn enable(&mut self, irc: &IrcState, nick: &str) -> bool {
        if self.folded_with != irc.casemap {
            self.refold(irc);
        }
        let k = irc.fold(nick);
        self.spellings.insert(nick.to_string());
        self.account.set_auto_respond(&k, true);
        self.account.set_budget(&k, irc.budget_for(nick));
        self.display.insert(k.clone(), nick.to_string());
        self.opted.insert(k, nick.to_string()).is_none()
    }

    /// Opts a nick out under every spelling that folds to it now (its session, if any, is
    /// left to the caller to end).
    pub fn disable(&mut self, irc: &IrcState, nick: &str) -> bool {
        if self.folded_with != irc.casemap {
            self.refold(irc);
        }
        let k = irc.fold(nick);
        self.spellings.retain(|s| irc.fold(s) != k);
        self.account.set_auto_respond(&k, false);
        self.opted.remove(&k).is_some()
    }

    /// Folds the opt-ins again by the case mapping in force (at connect and with each
    /// ISUPPORT line, as the server declares `CASEMAPPING`), and refreshes what the account
    /// knows of opted-in peers. Sessions stay under the key they have: a server that changes
    /// its mapping cannot move a conversation onto another nick.
    pub fn refold(&mut self, irc: &IrcState) {
        self.rekey(irc.casemap);
        self.update_budgets(irc);
    }

    /// Rebuilds `opted` and `display` from the spellings, folded by `casemap`. Spellings that
    /// now fold together share one key; every spelling keeps one.
    fn rekey(&mut self, casemap: CaseMapping) {
        let old = std::mem::take(&mut self.opted);
        let mut opted = BTreeMap::new();
        // The spelling shown so far stays shown where it still folds to its key.
        for shown in old.values() {
            opted
                .entry(casemap.fold(shown))
                .or_insert_with(|| shown.clone());
        }
        for s in &self.spellings {
            opted.entry(casemap.fold(s)).or_insert_with(|| s.clone());
        }
        for k in old.keys().filter(|k| !opted.contains_key(*k)) {
            self.account.set_auto_respond(k, false);
        }
        for k in opted.keys() {
            self.account.set_auto_respond(k, true);
        }
        let mut display: HashMap<String, String> = HashMap::new();
        for shown in self.display.values().chain(opted.values()) {
            display
                .entry(casemap.fold(shown))
                .or_insert_with(|| shown.clone());
        }
        self.display = display;
        self.opted = opted;
        self.folded_with = casemap;
    }

    /// Recomputes every opted-in peer's fragment budget from our current prefix.
    pub fn update_budgets(&mut self, irc: &IrcState) {
        for (k, nick) in &self.opted {
            self.account.set_budget(k, irc.budget_for(nick));
        }
    }

    /// The nick to address a peer by.
    pub fn display(&self, key: &str) -> String {
        self.display
            .get(key)
            .cloned()
            .unwrap_or_else(|| key.to_string())
    }

    /// Whether the fingerprint is trusted for the peer (by hand or by SMP).
    pub fn is_trusted(&self, key: &str, fp: &Fingerprint) -> bool {
        self.trust.is_trusted(key, &fp.0)
    }

    /// Marks a fingerprint trusted (or not) by hand.
    pub fn set_trusted(&mut self, key: &str, fp: &Fingerprint, on: bool) -> bool {
        let changed = self.trust.set_trusted(key, &fp.0, on);
        if !on {
            // Distrust also withdraws an SMP verification of this key.
            self.trust.set_smp_verified(key, &fp.0, false);
        }
        changed
    }

    /// Forgets keys, trust and the cached profile of a peer.
    pub fn forget(&mut self, key: &str) -> bool {
        self.trust.forget(key)
    }

    /// The privacy level of a peer now, with the protocol while private: `private (OTRv4+)`,
    /// `unverified (OTRv3, not post-quantum)`, `plaintext`, ...
    pub fn level_of(&self, key: &str) -> String {
        let info = self.account.session_info(key);
        // OTRv4+: verified only once the profile is attested too (docs/PROTOCOL.md §4.4).
        let (trusted, verified) = match (&info.legacy_fingerprint, &info.fingerprint) {
            (Some(fp), _) => {
                let t = self.trust.is_trusted(key, fp);
                (t, t)
            }
            (None, Some(fp)) => (self.is_trusted(key, fp), self.is_verified(key, fp)),
            (None, None) => (false, false),
        };
        let lvl = level(info.state, verified);
        if info.state != State::Encrypted {
            return lvl.to_string();
        }
        let proto = super::legacy::protocol_label(info.protocol);
        if trusted && !verified {
            format!(
                "{lvl} ({proto}; {})",
                super::attestation::ATTESTATION_PENDING
            )
        } else {
            format!("{lvl} ({proto})")
        }
    }
}

impl Net {
    /// A message typed by a client to an opted-in nick.
    pub(super) fn otr_send(&mut self, id: ClientId, target: &str, text: &str, notice: bool) {
        let key = self.irc.fold(target);
        self.otr.display.insert(key.clone(), target.to_string());
        let plain_ok = !self.otr.require_encryption;
        let body = match ctcp::parse(text) {
            Some(c) if c.command.eq_ignore_ascii_case("ACTION") && !notice => {
                format!("{}{}", ctcp::ME_PREFIX, c.args)
            }
            Some(c) => {
                if self.otr.allow_plain_ctcp || plain_ok {
                    self.forward_plain(id, target, text, notice);
                } else {
                    self.reply(
                        id,
                        &format!(
                            "CTCP {} to {target} was NOT sent: {target} is opted in to OTR and CTCP cannot be encrypted. To send CTCP in clear: policy allow_plain_ctcp on",
                            c.command
                        ),
                    );
                }
                return;
            }
            None if notice => {
                if self.otr.allow_plain_notice || plain_ok {
                    self.forward_plain(id, target, text, notice);
                } else {
                    self.reply(
                        id,
                        &format!(
                            "NOTICE to {target} was NOT sent: {target} is opted in to OTR and notices are not encrypted. To allow them in clear: policy allow_plain_notice on"
                        ),
                    );
                }
                return;
            }
            None => text.to_string(),
        };
        let mut rng = rand::rng();
        match self.otr.account.send(now_ms(), &mut rng, &key, &body) {
            Ok(outcome) => {
                if outcome == SendOutcome::Queued {
                    let info = self.otr.account.session_info(&key);
                    if info.queued == 1 {
                        self.reply(
                            id,
                            &format!(
                                "Starting a private conversation with {target}; your message is queued and will be sent encrypted once it is private."
                            ),
                        );
                    }
                }
                self.echo(id, b"PRIVMSG", Some(target), text.as_bytes());
            }
            Err(e) => {
                let why = match e {
                    SendError::Finished => format!(
                        "{target} ended the private conversation. Your message was NOT sent. Type: start {target} (new session) or finish {target}"
                    ),
                    other => format!("Your message to {target} was NOT sent: {other}."),
                };
                self.reply(id, &why);
            }
        }
        self.otr_drain();
    }

    fn forward_plain(&mut self, id: ClientId, target: &str, text: &str, notice: bool) {
        let cmd = if notice { "NOTICE" } else { "PRIVMSG" };
        let line = build::message(None, cmd, target, text);
        if self.send_paced(vec![line]) {
            self.echo(id, cmd.as_bytes(), Some(target), text.as_bytes());
        }
    }

    /// A private PRIVMSG from `src`. Returns true when handled (not to be forwarded as is).
    pub(super) fn otr_privmsg_from(
        &mut self,
        src: &str,
        raw: &Bytes,
        line: &Line<'_>,
        text: &[u8],
    ) -> bool {
        let key = self.irc.fold(src);
        let opted = self.otr.is_opted_key(&self.irc, &key);
        let Ok(text) = std::str::from_utf8(text) else {
            // Not UTF-8, so not OTR.
            return opted && self.deliver_marked(raw, line, &String::from_utf8_lossy(text));
        };
        if text.starts_with('\u{1}') && !text.contains("?OTR") {
            // CTCP in clear: ACTION from an opted-in nick is plaintext and marked.
            if opted
                && let Some(c) = ctcp::parse(text)
                && c.command.eq_ignore_ascii_case("ACTION")
            {
                let marked = ctcp::action(&format!("{}{}", self.otr.marker, c.args));
                return self.deliver_text(line, &marked, false);
            }
            return false;
        }
        if opted {
            self.otr.display.insert(key.clone(), src.to_string());
        }
        let mut rng = rand::rng();
        // ML-KEM material is not sent again while an earlier copy still waits in the queue.
        let backlog = self.pacer.bulk_len(&key) > 0;
        self.otr.account.set_bulk_backlog(&key, backlog);
        let received = self
            .otr
            .account
            .handle_incoming(now_ms(), &mut rng, &key, text);
        let received_kind = std::mem::discriminant(&received);
        tracing::debug!(peer = %src, ?received_kind, "private message from an opted-in or OTR peer");
        let handled = match received {
            Received::Plain => opted && self.deliver_marked(raw, line, text),
            Received::Tagged { text: shown } => {
                if opted {
                    self.deliver_marked(raw, line, &shown)
                } else {
                    self.deliver_text(line, &shown, true)
                }
            }
            Received::Message { text: decrypted } => {
                let shown = match decrypted.strip_prefix(ctcp::ME_PREFIX) {
                    Some(action) => ctcp::action(action),
                    None => decrypted,
                };
                self.deliver_text(line, &shown, true)
            }
            Received::Protocol => true,
            Received::Error { text } => {
                let who = self.otr.display(&key);
                self.notify(&format!(
                    "OTR error from {who}: {text} Your last message(s) to {who} may not have arrived; send them again once the conversation is private."
                ));
                true
            }
        };
        self.otr_drain();
        handled
    }

    /// A private NOTICE. OTR never travels in notices; plaintext from opted-in nicks is
    /// marked. Returns true when handled.
    pub(super) fn otr_notice_from(&mut self, src: &str, raw: &Bytes, line: &Line<'_>) -> bool {
        let key = self.irc.fold(src);
        if !self.otr.is_opted_key(&self.irc, &key) {
            return false;
        }
        let text = String::from_utf8_lossy(line.param(1).unwrap_or_default()).into_owned();
        if text.starts_with('\u{1}') {
            return false;
        }
        self.deliver_marked(raw, line, &text)
    }

    fn deliver_marked(&mut self, _raw: &Bytes, line: &Line<'_>, text: &str) -> bool {
        let marked = format!("{}{}", self.otr.marker, text);
        self.deliver_text(line, &marked, false)
    }

    /// Shows text from the line's source to the clients, rebuilt so that it cannot carry
    /// more than one IRC line per piece.
    fn deliver_text(&mut self, line: &Line<'_>, text: &str, decrypted: bool) -> bool {
        let source = String::from_utf8_lossy(line.source.unwrap_or_default()).into_owned();
        let cmd = String::from_utf8_lossy(line.command).to_ascii_uppercase();
        let me = self.irc.nick.clone();
        // A CTCP must stay one line: strip its inner line breaks rather than split it.
        let pieces = if text.starts_with('\u{1}') {
            vec![text.replace(['\r', '\n', '\0'], " ")]
        } else {
            build::sanitize_lines(text, build::CLIENT_TEXT_MAX)
        };
        let now = now_ms();
        let peer = String::from_utf8_lossy(line.source_nick().unwrap_or_default()).into_owned();
        let kept = self.kept_private(&peer, decrypted);
        for piece in pieces {
            let out = build::message(Some(&source), &cmd, &me, &piece);
            self.clients.broadcast_or_keep(out, now, kept.clone());
        }
        true
    }

    /// Sends what the account produced and tells the user about its events.
    pub(super) fn otr_drain(&mut self) {
        // Consecutive lines to one peer of one class go as a group (one message's fragments).
        let mut group: Vec<Bytes> = Vec::new();
        let mut group_key: Option<(String, bool)> = None;
        while let Some(t) = self.otr.account.poll_transmit() {
            let key = (t.peer.clone(), t.bulk);
            if group_key.as_ref() != Some(&key) && !group.is_empty() {
                let lines = std::mem::take(&mut group);
                let bulk = group_key.as_ref().is_some_and(|(_, b)| *b);
                self.send_paced_as(lines, class_of(bulk));
            }
            let nick = self.otr.display(&t.peer);
            tracing::debug!(peer = %nick, bytes = t.line.len(), bulk = t.bulk, "OTR line queued");
            group.push(build::message(None, "PRIVMSG", &nick, &t.line));
            group_key = Some(key);
        }
        if !group.is_empty() {
            let bulk = group_key.as_ref().is_some_and(|(_, b)| *b);
            self.send_paced_as(group, class_of(bulk));
        }
        while let Some(ev) = self.otr.account.poll_event() {
            self.otr_event(ev);
        }
    }

    /// The session with `peer` ended: its bulk lines still queued (ML-KEM offers and
    /// answers, the attestation) could only be discarded by the peer, and a new handshake
    /// would wait behind them in the server. An attestation not delivered is sent again in
    /// the next session.
    fn drop_session_bulk(&mut self, peer: &str) {
        let nick = self.otr.display(peer);
        let lane = self.irc.fold(&nick);
        let n = self.pacer.drop_bulk(&lane);
        if n > 0 {
            tracing::debug!(peer = %nick, lines = n, "bulk lines of an ended session dropped");
        }
    }

    /// Status text in the conversation with the peer, marked `[otr]`.
    pub(super) fn in_conversation(&mut self, key: &str, text: &str) {
        let nick = self.otr.display(key);
        let me = self.irc.nick.clone();
        let line = build::message(
            Some(&format!("{nick}!otr@otrbnc")),
            "PRIVMSG",
            &me,
            &format!("[otr] {text}"),
        );
        self.clients
            .broadcast_or_keep(line, now_ms(), super::history::Kept::memory());
    }

    /// How a private message from `peer` is kept: in its conversation, and on disk unless
    /// it was decrypted and the user did not ask for that conversation to be logged.
    pub(super) fn kept_private(&self, peer: &str, decrypted: bool) -> super::history::Kept {
        super::history::Kept {
            target: self.irc.fold(peer),
            persist: !decrypted || self.logged(peer),
        }
    }

    /// Whether the decrypted conversation with `nick` is written to the message log.
    pub(super) fn logged(&self, nick: &str) -> bool {
        self.otr.trust.is_logged(&self.irc.fold(nick))
    }

    fn otr_event(&mut self, ev: Event) {
        match ev {
            Event::Private {
                peer,
                fingerprint,
                rekey,
                mode,
                attested,
                ..
            } => {
                let nick = self.otr.display(&peer);
                let now_unix = now_ms() / 1000;
                let observed = self
                    .otr
                    .trust
                    .observe(&peer, &nick, &fingerprint.0, now_unix);
                self.otr.store_peer_profile(&peer);
                self.save_trust();
                let (changed, was_vouched) = match observed {
                    Observation::Changed {
                        previous_trusted_or_verified,
                    } => (true, previous_trusted_or_verified),
                    Observation::NotRemembered { first_key } => (!first_key, !first_key),
                    Observation::New | Observation::Known { .. } => (false, false),
                };
                let trusted = self.otr.is_trusted(&peer, &fingerprint);
                if changed {
                    // Announced before anything from the new key is shown as private.
                    let before = if was_vouched {
                        "a key you had verified"
                    } else {
                        "the key seen before"
                    };
                    self.notify(&format!(
                        "WARNING: {nick}'s key CHANGED from {before}. This can mean {nick} reinstalled, rotated keys or runs an ephemeral identity, or that someone is impersonating {nick}. {nick} is UNVERIFIED until you verify the new fingerprint {} (auth {nick} <secret>, or compare it and: trust {nick}).",
                        fingerprint.to_display()
                    ));
                    self.in_conversation(
                        &peer,
                        &format!("WARNING: {nick}'s key CHANGED; {nick} is unverified."),
                    );
                }
                let pending = format!(
                    "private (OTRv4+), {}",
                    super::attestation::ATTESTATION_PENDING
                );
                let lvl = match (trusted, attested) {
                    (true, true) => "private (OTRv4+), verified",
                    (true, false) => pending.as_str(),
                    (false, _) => "private (OTRv4+), unverified",
                };
                let what = if rekey { "re-keyed" } else { "started" };
                tracing::debug!(peer = %nick, ?mode, "session private");
                self.notify(&format!("Private conversation with {nick} {what}: {lvl}."));
                if !trusted && !changed && !rekey {
                    self.notify(&format!(
                        "{nick}'s fingerprint: {}. To verify {nick}: auth {nick} <shared secret>, or authq {nick} \"<question>\" <answer>, or compare the fingerprint over another channel and: trust {nick}",
                        fingerprint.to_display()
                    ));
                }
                self.in_conversation(&peer, &format!("Private conversation {what}: {lvl}."));
            }
            Event::KeyNotAccepted {
                peer,
                offered,
                accepted,
                queued,
            } => self.key_not_accepted(&peer, &offered, &accepted, queued),
            Event::Smp { peer, event } => self.otr_smp_event(&peer, event),
            Event::PeerAttested { peer, fingerprint } => self.otr_attested(&peer, &fingerprint),
            Event::AttestationFailed { peer, error } => self.otr_attestation_failed(&peer, error),
            Event::PeerFinished { peer } => {
                self.drop_session_bulk(&peer);
                let nick = self.otr.display(&peer);
                self.notify(&format!(
                    "{nick} ended the private conversation. Messages to {nick} are NOT sent until you type: start {nick} (new session) or finish {nick}"
                ));
                self.in_conversation(&peer, &format!("{nick} ended the private conversation."));
            }
            Event::SessionEnded { peer, reason } => {
                self.drop_session_bulk(&peer);
                let nick = self.otr.display(&peer);
                let why = match reason {
                    EndReason::Requested => "as requested",
                    EndReason::Expired => "after being idle",
                    EndReason::Protocol => "because of a protocol error",
                };
                self.notify(&format!("Private conversation with {nick} ended {why}."));
                self.in_conversation(&peer, "Private conversation ended.");
            }
            Event::DakeFailed { peer, error } => {
                let nick = self.otr.display(&peer);
                tracing::debug!(peer = %nick, %error, "handshake failed");
                self.notify(&format!("OTR handshake with {nick} failed: {error}"));
            }
            Event::OfferReceived { peer } => self.offer_received(&peer),
            Event::QueueReleased { peer, count } => {
                tracing::debug!(peer = %self.otr.display(&peer), count, "queued messages sent");
            }
            Event::NoAnswer {
                peer,
                queued,
                sent_unconfirmed: 0,
            } => {
                let nick = self.otr.display(&peer);
                self.notify(&format!(
                    "{nick} did not answer the request for a private conversation (no OTRv4+ on their side?). {queued} message(s) are still queued and were NOT sent. Retry: start {nick}; drop them: finish {nick}"
                ));
            }
            Event::NoAnswer {
                peer,
                queued,
                sent_unconfirmed,
            } => {
                let nick = self.otr.display(&peer);
                self.notify(&format!(
                    "{nick} never confirmed the private conversation. {queued} message(s) are still queued; {sent_unconfirmed} of them went out encrypted for {nick} alone and may have arrived, so they may arrive twice. They go again in the next private conversation. Retry: start {nick}; drop them: finish {nick}"
                ));
            }
            Event::QueueDropped { peer, count } => {
                let nick = self.otr.display(&peer);
                self.notify(&format!(
                    "{count} queued message(s) to {nick} were dropped and NOT sent."
                ));
            }
            Event::LegacyPrivate {
                peer,
                version,
                fingerprint,
                rekey,
                ..
            } => self.legacy_private(&peer, version, &fingerprint, rekey),
            Event::DowngradeRefused {
                peer,
                version,
                queued,
            } => self.legacy_refused(&peer, version, queued, true),
            Event::VersionNotAllowed {
                peer,
                version,
                queued,
            } => self.legacy_refused(&peer, version, queued, false),
            Event::LegacyKeyNotAccepted {
                peer,
                offered,
                accepted,
                queued,
            } => self.legacy_key_not_accepted(&peer, &offered, &accepted, queued),
            Event::LegacyKeyNeeded => self.legacy_key_needed(),
            Event::LateMessage { peer, text } => self.late_message(&peer, &text),
            Event::Unreadable { peer } => {
                let nick = self.otr.display(&peer);
                self.notify(&format!(
                    "A message from {nick} could not be decrypted (lost session state on one side?). A new session is being set up."
                ));
            }
        }
    }

    /// A peer changed nick: the session and the display name follow, and the new nick is
    /// opted in too. The old nick stays opted in: the NICK line may be forged by the server,
    /// and whoever takes the old nick next must not get plaintext meant for the peer.
    pub(super) fn otr_nick_change(&mut self, old: &str, new: &str) {
        let (ko, kn) = (self.irc.fold(old), self.irc.fold(new));
        // A session never moves onto a nick the user opted in already: the NICK line may be
        // forged, and messages typed to that nick would then go to the old nick's key, which
        // the user never accepted for it.
        if self.otr.is_opted_key(&self.irc, &kn) {
            if self.otr.is_opted_key(&self.irc, &ko) {
                self.notify(&format!(
                    "{old} is now known as {new}, for which OTR was already enabled: the private \
                     conversation with {old} does NOT move to {new}; messages to {new} go only to \
                     {new}'s own key."
                ));
            }
            return;
        }
        let moved = self.otr.account.rename_peer(&ko, &kn);
        // A server can put anything in a NICK line: a channel name would turn channel
        // messages into OTR to nobody.
        if self.otr.is_opted_key(&self.irc, &ko) && crate::config::validate::is_valid_nick(new) {
            self.otr.enable(&self.irc, new);
            let follow = if moved {
                " The private conversation follows."
            } else {
                ""
            };
            self.notify(&format!(
                "{old} is now known as {new}; OTR is now enabled for {new}.{follow} \
                 OTR stays enabled for {old} too (\"disable {old}\" turns it off)."
            ));
            if let Err(e) = self.remember_opt_in(new, true) {
                self.notify(&format!(
                    "WARNING: the opt-in of {new} could NOT be saved ({e}): after a restart \
                     messages to {new} would not be encrypted. Use \"enable {new}\" once fixed."
                ));
            }
        }
    }

    /// ERR_NOSUCHNICK: tell the user when OTR traffic was waiting for that nick.
    pub(super) fn otr_no_such_nick(&mut self, line: &Line<'_>) {
        let Some(nick) = line.param_str(1) else {
            return;
        };
        let key = self.irc.fold(&nick);
        if !self.otr.is_opted_key(&self.irc, &key) {
            return;
        }
        let info = self.otr.account.session_info(&key);
        // The query or handshake went nowhere: start again when the nick is seen online or
        // written to, instead of waiting for the handshake to time out.
        self.otr.account.cancel_handshake(&key);
        self.otr.warmed.remove(&key);
        if info.queued > 0 {
            self.notify(&format!(
                "{nick} is not on the network. {} queued message(s) were NOT sent; they stay queued and go out privately once {nick} is back (seen joining a channel you are in, or when you write again; finish {nick} drops them).",
                info.queued
            ));
        } else if info.state == State::Handshaking {
            self.notify(&format!(
                "{nick} is not on the network: the private conversation starts when you next write to {nick}."
            ));
        } else {
            self.notify(&format!(
                "{nick} is not on the network: your last message to {nick} was NOT delivered."
            ));
        }
    }

    /// Remembers an opt-in change in the trust store and saves it at once, so that it holds
    /// after a restart or a crash. On failure the change still holds until the restart; the
    /// error says why it will not after.
    pub(super) fn remember_opt_in(&mut self, nick: &str, on: bool) -> Result<(), String> {
        let key = self.irc.fold(nick);
        if on {
            self.otr
                .trust
                .set_opted(&key, nick, on)
                .map_err(|e| e.to_string())?;
        } else {
            // Also what was stored under another mapping and folds to the nick now, or it
            // would be opted in again at the next start.
            let stored: Vec<String> = self
                .otr
                .trust
                .opted_entries()
                .filter(|(k, typed)| {
                    *k == key || self.irc.fold(k) == key || self.irc.fold(typed) == key
                })
                .map(|(k, _)| k.to_string())
                .collect();
            for k in stored {
                self.otr
                    .trust
                    .set_opted(&k, nick, false)
                    .map_err(|e| e.to_string())?;
            }
        }
        self.otr
            .trust
            .save_if_dirty()
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Remembers the policy toggles as they are now and saves them at once.
    pub(super) fn remember_policy(&mut self) -> Result<(), String> {
        self.otr.trust.set_policy(crate::store::PolicyToggles {
            allow_plain_notice: Some(self.otr.allow_plain_notice),
            allow_plain_ctcp: Some(self.otr.allow_plain_ctcp),
            accept_strangers: Some(self.otr.accept_strangers),
            hold_first_contact: Some(self.otr.hold_first_contact),
        });
        self.otr
            .trust
            .save_if_dirty()
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Writes the trust store if it changed; a failure is told to the user (the change stays
    /// in memory and is retried with the next change).
    pub(super) fn save_trust(&mut self) {
        if let Err(e) = self.otr.trust.save_if_dirty() {
            tracing::warn!(error = %e, "cannot save the trust store");
            self.notify(&format!("Could not save the trust store: {e}"));
        }
    }

    fn otr_smp_event(&mut self, peer: &str, event: SmpEvent) {
        if self.legacy_smp_event(peer, &event) {
            return;
        }
        let nick = self.otr.display(peer);
        match event {
            SmpEvent::LegacyDone { .. } => {}
            SmpEvent::Request { question } => {
                let (notice, line) = match &question {
                    Some(q) => (
                        format!(
                            "{nick} wants to verify you and asks: \"{q}\" — answer with: auth {nick} <answer>"
                        ),
                        format!(
                            "{nick} asks you to authenticate: \"{q}\" — answer with /msg *otr auth {nick} <answer>"
                        ),
                    ),
                    None => (
                        format!(
                            "{nick} wants to verify that you both know a shared secret — answer with: auth {nick} <the same secret>"
                        ),
                        format!(
                            "{nick} asks you to authenticate with your shared secret — answer with /msg *otr auth {nick} <secret>"
                        ),
                    ),
                };
                self.notify(&notice);
                self.in_conversation(peer, &line);
            }
            SmpEvent::Done {
                result,
                fingerprint,
            } => {
                let text = if !result.success {
                    format!(
                        "Authentication with {nick} FAILED: the {} did not match. {nick} may not be who you think, or one of you typed it differently. {nick} is unverified.",
                        if result.question { "answer" } else { "secrets" }
                    )
                } else if result.initiated || !result.question {
                    // We chose the secret (or both typed the same one): the peer's key is
                    // verified for this nick.
                    self.otr
                        .trust
                        .observe(peer, &nick, &fingerprint.0, now_ms() / 1000);
                    self.otr.trust.set_smp_verified(peer, &fingerprint.0, true);
                    if !result.question {
                        self.otr.trust.set_verified_us(peer, &fingerprint.0);
                    }
                    self.save_trust();
                    let note = self.attestation_note(peer);
                    if result.initiated {
                        format!(
                            "You verified {nick}: the answer matched. {nick}'s fingerprint is now verified.{note}"
                        )
                    } else {
                        format!(
                            "You and {nick} verified each other: the shared secret matched. {nick}'s fingerprint is now verified.{note}"
                        )
                    }
                } else {
                    // Their question, our answer: they verified us. Not the other way round,
                    // since whoever asks chooses a question they can answer themselves.
                    self.otr
                        .trust
                        .observe(peer, &nick, &fingerprint.0, now_ms() / 1000);
                    self.otr.trust.set_verified_us(peer, &fingerprint.0);
                    self.save_trust();
                    format!(
                        "{nick} verified you (you answered their question). To verify {nick} in turn: authq {nick} \"<question>\" <answer>"
                    )
                };
                self.notify(&text);
                self.in_conversation(peer, &text);
            }
            SmpEvent::AbortedByPeer => {
                let text = format!("{nick} aborted the authentication.");
                self.notify(&text);
                self.in_conversation(peer, &text);
            }
            SmpEvent::Rejected { error } => {
                let text = format!(
                    "Authentication with {nick} aborted: {nick} sent an invalid message ({error})."
                );
                self.notify(&text);
                self.in_conversation(peer, &text);
            }
            SmpEvent::TimedOut => {
                let text = format!("Authentication with {nick} timed out and was aborted.");
                self.notify(&text);
                self.in_conversation(peer, &text);
            }
            SmpEvent::SessionEnded => {
                self.notify(&format!(
                    "Authentication with {nick} was interrupted: the private session ended."
                ));
            }
        }
    }

    /// Rebuilds the account when the shared identity was replaced (`genkey` on any network):
    /// sessions under the old key are ended first, so peers are told.
    pub(super) fn sync_identity(&mut self) {
        let generation = self.identity.generation();
        if generation == self.identity_gen {
            return;
        }
        let Some(identity) = self.identity.current() else {
            return;
        };
        self.otr_finish_all();
        match identity.account(policy(&self.otr_cfg), now_ms()) {
            Ok(mut account) => {
                restore_peers(&mut account, &self.otr.trust);
                account.set_hold_first_contact(self.otr.hold_first_contact);
                self.otr.account = account;
                self.otr.refold(&self.irc);
                self.identity_gen = generation;
                self.notify(&format!(
                    "Your OTR key was replaced. New fingerprint: {}",
                    identity.fingerprint().to_display()
                ));
            }
            Err(e) => self.notify(&format!("Cannot use the new OTR key: {e}")),
        }
    }

    pub(super) fn otr_timeout(&mut self) {
        let mut rng = rand::rng();
        self.otr.account.handle_timeout(now_ms(), &mut rng);
        self.otr_drain();
    }

    pub(super) fn otr_finish_all(&mut self) {
        let mut rng = rand::rng();
        self.otr.account.finish_all(now_ms(), &mut rng);
        self.otr_drain();
    }
}

/// The send-queue class of an OTR line.
fn class_of(bulk: bool) -> crate::upstream::pacing::Class {
    if bulk {
        crate::upstream::pacing::Class::Bulk
    } else {
        crate::upstream::pacing::Class::Normal
    }
}
