//! OTRv3 and OTRv2 (the `otr3` crate) inside the account: for peers whose clients run
//! libotr (irssi-otr, pidgin-otr, BitlBee, znc-otr) or python-potr. OTRv4+ always wins when
//! both sides offer it; a peer that has used OTRv4+ is never answered in an older version
//! (downgrade pinning); the versions allowed come from the policy and per-peer settings.

use super::*;
use otr3::contact::{Handled, Versions as LegacyVersions};
use otr3::conversation::{self, Local as LegacyLocal, MsgState};

/// The protocol of a private session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTRv4+ (post-quantum hybrid).
    V4Plus,
    /// OTRv3 (libotr 4): DSA and 1536-bit Diffie-Hellman, not post-quantum.
    V3,
    /// OTRv2 (python-potr): as OTRv3 without instance tags.
    V2,
}

impl Protocol {
    fn from_version(v: u16) -> Protocol {
        if v == otr3::message::VERSION_2 {
            Protocol::V2
        } else {
            Protocol::V3
        }
    }
}

/// Our OTRv3 identity.
pub(super) struct LegacyIdentity {
    key: otr3::dsa::PrivateKey,
    fingerprint: [u8; 20],
}

/// OTRv3/v2 input that arrived before the DSA key existed, replayed once it does.
pub(super) enum Backlog {
    Line(String),
    Offer { versions: Versions, query: bool },
}

/// Inputs kept while the DSA key is being generated (a second or two).
const MAX_BACKLOG: usize = 32;

/// Minimum interval between reports of refused OTRv3/v2 attempts from one peer.
const REFUSAL_EVENT_INTERVAL_MS: u64 = 60_000;

/// Whether `text` is an OTRv3/v2 message or fragment (v3/v2 binary messages start with the
/// bytes 00 03 / 00 02, "AAM"/"AAI" in base64).
fn is_legacy_line(text: &str) -> bool {
    otr3::fragment::parse(text).is_some()
        || text.starts_with("?OTR:AAM")
        || text.starts_with("?OTR:AAI")
}

impl Account {
    /// Gives the account its OTRv3 identity (a DSA key). OTRv3 (and OTRv2) follow the
    /// policy from the start, but the key is only needed once a peer answers in OTRv3: until
    /// then [`Event::LegacyKeyNeeded`] asks for it and what arrives is kept (bounded) and
    /// handled here.
    pub fn set_legacy_identity(
        &mut self,
        key: otr3::dsa::PrivateKey,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
    ) {
        let fingerprint = key.public().fingerprint();
        self.legacy = Some(LegacyIdentity { key, fingerprint });
        self.legacy_key_requested = false;
        for (peer, input) in std::mem::take(&mut self.legacy_backlog) {
            match input {
                Backlog::Line(line) => {
                    if let Some(Received::Message { text }) =
                        self.on_legacy_line(now_ms, rng, &peer, &line)
                    {
                        self.events.push_back(Event::LateMessage { peer, text });
                    }
                }
                Backlog::Offer { versions, query } => {
                    self.on_legacy_offer(now_ms, rng, &peer, &versions, query);
                }
            }
        }
    }

    /// Whether the policy allows OTRv3 or OTRv2 at all.
    fn legacy_wanted(&self) -> bool {
        self.policy.legacy.v3 || self.policy.legacy.v2
    }

    /// Asks for the DSA key (once until it is given).
    pub(super) fn request_legacy_key(&mut self) {
        if self.legacy.is_none() && self.legacy_wanted() && !self.legacy_key_requested {
            self.legacy_key_requested = true;
            self.events.push_back(Event::LegacyKeyNeeded);
        }
    }

    /// Keeps an input until the key exists; `false` if the key is there already.
    fn defer_until_key(&mut self, peer: &str, input: Backlog) -> bool {
        if self.legacy.is_some() {
            return false;
        }
        if self.legacy_backlog.len() >= MAX_BACKLOG {
            self.legacy_backlog.pop_front();
        }
        self.legacy_backlog.push_back((peer.to_string(), input));
        self.request_legacy_key();
        true
    }

    /// Adds an OTRv3 key to those accepted for `peer`, without touching any session (to
    /// restore the user's earlier decisions at start-up). At most `MAX_ACCEPTED_KEYS`; the
    /// oldest makes room.
    pub fn pin_legacy_key(&mut self, peer: &str, fingerprint: &[u8; 20]) {
        let Some(p) = self.peer_mut(peer, 0) else {
            return;
        };
        if p.legacy_accepted.contains(fingerprint) {
            return;
        }
        if p.legacy_accepted.len() >= MAX_ACCEPTED_KEYS {
            p.legacy_accepted.remove(0);
        }
        p.legacy_accepted.push(*fingerprint);
    }

    /// The OTRv3 key of a session held for the user's decision, if any.
    pub fn held_legacy_key(&self, peer: &str) -> Option<[u8; 20]> {
        self.peers.get(peer).and_then(|p| p.legacy_held)
    }

    /// The user accepts `fingerprint` as `peer`'s OTRv3 key: a session held under it becomes
    /// private and the queue goes out through it. Returns whether a held session was released.
    pub fn accept_legacy_key(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        fingerprint: &[u8; 20],
    ) -> bool {
        self.pin_legacy_key(peer, fingerprint);
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        if p.legacy_held != Some(*fingerprint) {
            return false;
        }
        p.legacy_held = None;
        let Some((version, their_tag, ssid)) = p
            .legacy
            .as_ref()
            .and_then(|c| c.best_conversation())
            .and_then(|c| {
                c.session()
                    .map(|(_, ssid)| (c.version(), c.their_tag(), ssid))
            })
        else {
            return false;
        };
        self.events.push_back(Event::LegacyPrivate {
            peer: peer.to_string(),
            version,
            their_tag,
            fingerprint: *fingerprint,
            ssid,
            rekey: false,
        });
        self.release_queue_with(now_ms, rng, peer, Account::legacy_send);
        true
    }

    /// Our OTRv3 fingerprint, if OTRv3 is on.
    pub fn legacy_fingerprint(&self) -> Option<[u8; 20]> {
        self.legacy.as_ref().map(|l| l.fingerprint)
    }

    /// Which OTRv3/v2 versions are allowed with `peer` (`None`: the policy's).
    pub fn set_legacy_versions(&mut self, peer: &str, versions: Option<LegacyVersions>) {
        if let Some(p) = self.peer_mut(peer, 0) {
            p.legacy_versions = versions;
        }
    }

    /// The versions allowed with `peer` now: none without an identity or once the peer has
    /// used OTRv4+.
    pub(super) fn legacy_allowed(&self, peer: &str) -> LegacyVersions {
        let none = LegacyVersions {
            v3: false,
            v2: false,
        };
        match self.peers.get(peer) {
            Some(p) if p.v4_pinned() => none,
            Some(p) => p.legacy_versions.unwrap_or(self.policy.legacy),
            None => self.policy.legacy,
        }
    }

    /// Every version character our query offers `peer`: OTRv4+ first, then what is allowed.
    pub(super) fn our_query_versions(&self, peer: &str) -> Vec<u8> {
        let mut v = vec![crate::wire::VERSION_CHAR];
        v.extend(self.legacy_query_chars(peer));
        v
    }

    /// The version characters our query offers `peer` besides OTRv4+.
    pub(super) fn legacy_query_chars(&self, peer: &str) -> Vec<u8> {
        let allowed = self.legacy_allowed(peer);
        let mut out = Vec::new();
        if allowed.v3 {
            out.push(b'3');
        }
        if allowed.v2 {
            out.push(b'2');
        }
        out
    }

    fn legacy_refused(&mut self, now_ms: u64, peer: &str, version: u16) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.last_legacy_refusal
            .is_some_and(|t| now_ms.saturating_sub(t) < REFUSAL_EVENT_INTERVAL_MS)
        {
            return;
        }
        p.last_legacy_refusal = Some(now_ms);
        let queued = p.queue.len();
        let peer = peer.to_string();
        self.events.push_back(if p.v4_pinned() {
            Event::DowngradeRefused {
                peer,
                version,
                queued,
            }
        } else {
            Event::VersionNotAllowed {
                peer,
                version,
                queued,
            }
        });
    }

    /// A query or whitespace tag without OTRv4+: start an OTRv3 (or v2) AKE if allowed.
    /// Returns whether the offer was for an older version at all.
    pub(super) fn on_legacy_offer(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        v: &Versions,
        query: bool,
    ) -> bool {
        let offered = if v.contains(b'3') {
            otr3::message::VERSION_3
        } else if v.contains(b'2') {
            otr3::message::VERSION_2
        } else {
            return false;
        };
        let allowed = self.legacy_allowed(peer);
        if (v.contains(b'3') && allowed.v3 || v.contains(b'2') && allowed.v2)
            && self.defer_until_key(
                peer,
                Backlog::Offer {
                    versions: *v,
                    query,
                },
            )
        {
            return true;
        }
        let version = if v.contains(b'3') && allowed.v3 {
            otr3::message::VERSION_3
        } else if v.contains(b'2') && allowed.v2 {
            otr3::message::VERSION_2
        } else {
            self.legacy_refused(now_ms, peer, offered);
            return true;
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return true;
        };
        let contact = p.legacy.get_or_insert_with(Box::default);
        // A query always starts an AKE, even while private: the peer lost its session (it
        // restarted) or its user asked for a new one, as libotr does. A whitespace tag does
        // not restart a running AKE or a private conversation (clients tag plain messages
        // until they see OTR).
        let busy = contact
            .conversations()
            .any(|c| c.ake_running() || c.state() == MsgState::Encrypted);
        if query || !busy {
            contact.start(rng, version, now_ms);
        }
        self.drain_legacy(now_ms, rng, peer);
        true
    }

    /// Handles an OTRv3/v2 message or fragment from an engaged peer; `None` if `line` is
    /// not one.
    pub(super) fn on_legacy_line(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        line: &str,
    ) -> Option<Received> {
        if !is_legacy_line(line) {
            return None;
        }
        let allowed = self.legacy_allowed(peer);
        if !allowed.v3 && !allowed.v2 {
            let version = if line.starts_with("?OTR:AAI") || line.starts_with("?OTR,") {
                otr3::message::VERSION_2
            } else {
                otr3::message::VERSION_3
            };
            self.legacy_refused(now_ms, peer, version);
            return Some(Received::Protocol);
        }
        if self.defer_until_key(peer, Backlog::Line(line.to_string())) {
            return Some(Received::Protocol);
        }
        let (Some(id), Some(p)) = (self.legacy.as_ref(), self.peers.get_mut(peer)) else {
            return Some(Received::Protocol);
        };
        let local = LegacyLocal {
            key: &id.key,
            fingerprint: &id.fingerprint,
            tag: self.tag,
            pad_block: self.policy.pad_block,
        };
        let handled = p
            .legacy
            .get_or_insert_with(Box::default)
            .receive(rng, &local, allowed, line, now_ms);
        if handled == Handled::Dropped
            && (line.starts_with("?OTR:AAI") || line.starts_with("?OTR,"))
            && !allowed.v2
        {
            self.legacy_refused(now_ms, peer, otr3::message::VERSION_2);
        }
        Some(match self.drain_legacy(now_ms, rng, peer) {
            Some(text) => Received::Message { text },
            None => Received::Protocol,
        })
    }

    /// Turns what the peer's OTRv3/v2 conversations produced into transmits and events;
    /// returns a decrypted message, if any.
    pub(super) fn drain_legacy(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) -> Option<String> {
        let budget = self
            .peers
            .get(peer)
            .and_then(|p| p.budget)
            .unwrap_or(self.policy.default_budget);
        let tag = self.tag;
        let (lines, events) = {
            let contact = self.peers.get_mut(peer)?.legacy.as_mut()?;
            (contact.poll_lines(tag, budget), contact.poll_events())
        };
        for line in lines {
            self.transmits.push_back(Transmit {
                peer: peer.to_string(),
                line,
                bulk: false,
            });
        }
        let mut text = None;
        for (their_tag, e) in events {
            match e {
                conversation::Event::Private {
                    fingerprint,
                    ssid,
                    rekey,
                    ..
                } => {
                    let version = self
                        .peers
                        .get(peer)
                        .and_then(|p| p.legacy.as_ref())
                        .and_then(|c| c.conversations().find(|c| c.their_tag() == their_tag))
                        .map_or(otr3::message::VERSION_3, |c| c.version());
                    let hold_first = self.policy.hold_first_contact;
                    let Some(p) = self.peers.get_mut(peer) else {
                        continue;
                    };
                    p.finished = false;
                    if matches!(p.handshake, Handshake::QuerySent { .. }) {
                        p.handshake = Handshake::Idle;
                    }
                    // Key pinning, as for OTRv4+: a key other than the accepted ones (or a
                    // first key, if the policy says so) is held for the user's decision.
                    if !p.legacy_accepted.contains(&fingerprint) {
                        if p.legacy_accepted.is_empty() && !hold_first {
                            p.legacy_accepted.push(fingerprint);
                        } else {
                            p.legacy_held = Some(fingerprint);
                            self.events.push_back(Event::LegacyKeyNotAccepted {
                                peer: peer.to_string(),
                                offered: fingerprint,
                                accepted: p.legacy_accepted.clone(),
                                queued: p.queue.len(),
                            });
                            continue;
                        }
                    }
                    p.legacy_held = None;
                    self.events.push_back(Event::LegacyPrivate {
                        peer: peer.to_string(),
                        version,
                        their_tag,
                        fingerprint,
                        ssid,
                        rekey,
                    });
                    self.release_queue_with(now_ms, rng, peer, Account::legacy_send);
                }
                // Nothing carried by a session under a held key is shown.
                conversation::Event::Message(t) => {
                    if self
                        .peers
                        .get(peer)
                        .is_some_and(|p| p.legacy_held.is_none())
                    {
                        text = Some(t);
                    }
                }
                conversation::Event::PeerFinished => {
                    if let Some(p) = self.peers.get_mut(peer)
                        && p.session.is_none()
                    {
                        p.finished = true;
                    }
                    self.events.push_back(Event::PeerFinished {
                        peer: peer.to_string(),
                    });
                }
                conversation::Event::Unreadable { quiet, .. } => {
                    if !quiet {
                        self.tell_unreadable(now_ms, peer);
                    }
                }
                conversation::Event::Smp(out) => {
                    if self
                        .peers
                        .get(peer)
                        .is_some_and(|p| p.legacy_held.is_none())
                    {
                        self.legacy_smp_event(peer, out);
                    }
                }
                conversation::Event::AkeRefused(_) | conversation::Event::ExtraKeyRequested => {}
            }
        }
        text
    }

    fn legacy_smp_event(&mut self, peer: &str, out: otr3::smp::SmpOutput) {
        use otr3::smp::SmpOutput as O;
        let fingerprint = self
            .peers
            .get(peer)
            .and_then(|p| p.legacy.as_ref())
            .and_then(|c| c.best_conversation())
            .and_then(|c| c.session())
            .map(|(fp, _)| fp);
        let event = match out {
            O::None | O::Send(_) => return,
            O::Request { question } => SmpEvent::Request { question },
            O::Done { result, .. } => match fingerprint {
                Some(fingerprint) => SmpEvent::LegacyDone {
                    result: crate::smp::SmpResult {
                        success: result.success,
                        initiated: result.initiated,
                        question: result.question,
                    },
                    fingerprint,
                },
                None => return,
            },
            O::AbortedByPeer => SmpEvent::AbortedByPeer,
            O::Rejected { .. } => SmpEvent::Rejected {
                error: crate::smp::SmpError::BadProof,
            },
        };
        self.events.push_back(Event::Smp {
            peer: peer.to_string(),
            event,
        });
    }

    /// Sends `text` in the peer's private OTRv3/v2 conversation.
    pub(super) fn legacy_send(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Result<(), SendError> {
        let (Some(id), Some(p)) = (self.legacy.as_ref(), self.peers.get_mut(peer)) else {
            return Err(SendError::Crypto);
        };
        let local = LegacyLocal {
            key: &id.key,
            fingerprint: &id.fingerprint,
            tag: self.tag,
            pad_block: self.policy.pad_block,
        };
        let contact = p.legacy.as_mut().ok_or(SendError::Crypto)?;
        contact.send(&local, text, now_ms).map_err(|e| match e {
            conversation::SendError::Finished => SendError::Finished,
            conversation::SendError::ContainsNul => SendError::ContainsNul,
            conversation::SendError::TooLong => SendError::TooLong,
            _ => SendError::Crypto,
        })?;
        self.drain_legacy(now_ms, rng, peer);
        Ok(())
    }

    /// Ends every OTRv3/v2 conversation with `peer` (telling each instance).
    pub(super) fn legacy_finish(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        self.legacy_end(now_ms, rng, peer, EndReason::Requested);
    }

    /// When the peer's private OTRv3/v2 conversation expires if nothing is sent or received.
    pub(super) fn legacy_expiry_at(&self, p: &Peer) -> Option<u64> {
        if !p.legacy_private() {
            return None;
        }
        let last = p.legacy.as_ref()?.last_private_activity_ms()?;
        Some(last.saturating_add(self.policy.idle_expiry_ms))
    }

    /// Ends the peer's OTRv3/v2 conversations, telling each instance and the user why.
    pub(super) fn legacy_end(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        reason: EndReason,
    ) {
        let (Some(id), Some(p)) = (self.legacy.as_ref(), self.peers.get_mut(peer)) else {
            return;
        };
        let Some(contact) = p.legacy.as_mut() else {
            return;
        };
        let was_private = contact.state() == MsgState::Encrypted;
        let local = LegacyLocal {
            key: &id.key,
            fingerprint: &id.fingerprint,
            tag: self.tag,
            pad_block: self.policy.pad_block,
        };
        contact.finish_all(&local, now_ms);
        self.drain_legacy(now_ms, rng, peer);
        if let Some(p) = self.peers.get_mut(peer) {
            p.legacy = None;
            p.legacy_held = None;
        }
        if was_private {
            self.events.push_back(Event::SessionEnded {
                peer: peer.to_string(),
                reason,
            });
        }
    }

    /// Runs an SMP command on the peer's private OTRv3/v2 conversation.
    pub(super) fn legacy_smp(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        command: LegacySmp<'_>,
    ) -> Result<(), SmpCommandError> {
        let (Some(id), Some(p)) = (self.legacy.as_ref(), self.peers.get_mut(peer)) else {
            return Err(SmpCommandError::NotPrivate);
        };
        let local = LegacyLocal {
            key: &id.key,
            fingerprint: &id.fingerprint,
            tag: self.tag,
            pad_block: self.policy.pad_block,
        };
        let contact = p.legacy.as_mut().ok_or(SmpCommandError::NotPrivate)?;
        let result = contact
            .with_best(|c| match command {
                LegacySmp::Start { question, secret } => {
                    c.smp_start(rng, &local, question, secret.as_bytes(), now_ms)
                }
                LegacySmp::Respond { secret } => {
                    c.smp_respond(rng, &local, secret.as_bytes(), now_ms)
                }
                LegacySmp::Abort => {
                    c.smp_abort(&local, now_ms);
                    Ok(())
                }
            })
            .ok_or(SmpCommandError::NotPrivate)?;
        self.drain_legacy(now_ms, rng, peer);
        result.map_err(|e| {
            SmpCommandError::Smp(match e {
                otr3::smp::SmpError::Secret => crate::smp::SmpError::Secret,
                otr3::smp::SmpError::Question => crate::smp::SmpError::Question,
                otr3::smp::SmpError::NothingToAnswer => crate::smp::SmpError::NothingToAnswer,
                otr3::smp::SmpError::TooManyFailures => crate::smp::SmpError::TooManyFailures,
                _ => crate::smp::SmpError::Unexpected,
            })
        })
    }

    /// Status of a peer whose private session is OTRv3/v2.
    pub(super) fn legacy_session_info(&self, p: &Peer) -> SessionInfo {
        let best = p.legacy.as_ref().and_then(|c| c.best_conversation());
        let session = best.and_then(|c| c.session());
        let smp = match best.map(|c| c.smp_status()) {
            Some(otr3::smp::SmpStatus::AwaitingSecret { question }) => {
                SmpStatus::AwaitingSecret { question }
            }
            Some(otr3::smp::SmpStatus::Running { initiated }) => SmpStatus::Running { initiated },
            _ => SmpStatus::Idle,
        };
        SessionInfo {
            state: State::Encrypted,
            fingerprint: None,
            ssid: session.map(|(_, ssid)| ssid),
            their_tag: best.map(|c| c.their_tag()),
            mode: None,
            queued: p.queue.len(),
            smp,
            held: None,
            protocol: best.map(|c| Protocol::from_version(c.version())),
            legacy_fingerprint: session.map(|(fp, _)| fp),
            attested: false,
        }
    }
}

/// An SMP command for an OTRv3/v2 conversation.
pub(super) enum LegacySmp<'a> {
    Start {
        question: Option<&'a str>,
        secret: &'a str,
    },
    Respond {
        secret: &'a str,
    },
    Abort,
}
