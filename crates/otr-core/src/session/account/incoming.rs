//! Receiving: routing a line to reassembly, the DAKE or the ratchet, and the reactions.

use super::*;
use crate::profile::UncheckedProfile;
use crate::session::peer::AuthIResend;
use crate::wire::dake::SENT_AHEAD_REQUEST;

/// Which session a data message decrypted on.
enum Opened {
    /// The current session (possibly just committed by this very message).
    Current(Vec<u8>),
    /// The session a re-key replaced.
    Previous(Vec<u8>),
}

/// A handshake message refused before any signature was verified.
pub(super) enum Early {
    /// Drop it silently (a reflection of our own message).
    Ignore,
    /// Drop it and report the failure.
    Fail(DakeError),
}

impl Account {
    /// Handles one line of text received from `peer` (a PRIVMSG body).
    pub fn handle_incoming(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Received {
        let received = self.handle_line(now_ms, rng, peer, text);
        self.bound_stranger_buffers(peer);
        received
    }

    fn handle_line(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Received {
        // Errors are unauthenticated, so they only inform: the side that lost its session is
        // the one that starts a new DAKE (see `reply_unreadable`).
        if let Some((_code, message)) = envelope::parse_error(text) {
            return Received::Error { text: message };
        }
        let looks_otr = text.contains("?OTR");
        if !looks_otr
            && !text.contains(query::WHITESPACE_TAG_BASE)
            && !self.peers.get(peer).is_some_and(|p| p.joiner.is_pending())
        {
            return Received::Plain;
        }
        let our_tag = self.tag;
        let Some(p) = self.admit(peer, now_ms, true) else {
            return if looks_otr {
                Received::Protocol
            } else {
                Received::Plain
            };
        };
        p.last_activity = now_ms;
        if !p.is_engaged() {
            return self.on_stranger_line(now_ms, rng, peer, text);
        }
        let line = match p.joiner.push(now_ms, text).joined {
            Joined::Pending => return Received::Protocol,
            Joined::Complete(s) | Joined::Passthrough(s) => s,
        };
        if let Some(received) = self.on_legacy_line(now_ms, rng, peer, &line) {
            return received;
        }
        if fragment::is_fragment(&line) {
            let Some(p) = self.peers.get_mut(peer) else {
                return Received::Protocol;
            };
            let pushed = p.assembler.push(now_ms, &line, our_tag);
            return match pushed {
                Ok(pushed) => {
                    self.send_profile_ahead_if_due(now_ms, rng, peer, &line);
                    match pushed.complete {
                        Some(m) => self.on_encoded(now_ms, rng, peer, &m),
                        None => Received::Protocol,
                    }
                }
                Err(_) => Received::Protocol,
            };
        }
        if envelope::is_encoded(&line) {
            return self.on_encoded(now_ms, rng, peer, &line);
        }
        if let Some(v) = query::parse_query(&line) {
            self.on_offer(now_ms, rng, peer, &v, true);
            return Received::Protocol;
        }
        if let Some((v, stripped)) = query::find_whitespace_tag(&line) {
            self.on_offer(now_ms, rng, peer, &v, false);
            return Received::Tagged { text: stripped };
        }
        Received::Plain
    }

    /// A peer we neither answer automatically nor talk to: nothing of theirs is buffered or
    /// processed (memory stays bounded however many nicks send us fragments); an OTR offer or
    /// any OTR message is reported, at most once a minute.
    pub(super) fn on_stranger_line(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Received {
        if let Some((v, stripped)) = query::find_whitespace_tag(text) {
            self.on_offer(now_ms, rng, peer, &v, false);
            return Received::Tagged { text: stripped };
        }
        let offered = match query::parse_query(text) {
            Some(v) => v.contains(VERSION_CHAR),
            None => fragment::is_fragment(text) || envelope::is_encoded(text),
        };
        if offered {
            self.offer_event(now_ms, peer);
        }
        if text.contains("?OTR") {
            Received::Protocol
        } else {
            Received::Plain
        }
    }

    pub(super) fn offer_event(&mut self, now_ms: u64, peer: &str) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.last_offer_event
            .is_some_and(|t| now_ms.saturating_sub(t) < OFFER_EVENT_INTERVAL_MS)
        {
            return;
        }
        p.last_offer_event = Some(now_ms);
        self.events.push_back(Event::OfferReceived {
            peer: peer.to_string(),
        });
    }

    pub(super) fn on_offer(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        v: &Versions,
        query: bool,
    ) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        if !v.contains(VERSION_CHAR) {
            // No OTRv4+: an OTRv3/v2 offer is answered in that version if allowed.
            let legacy = v.contains(b'3') || v.contains(b'2');
            if !p.answers() {
                if legacy {
                    self.offer_event(now_ms, peer);
                }
                return;
            }
            self.on_legacy_offer(now_ms, rng, peer, v, query);
            return;
        }
        if !p.answers() {
            self.offer_event(now_ms, peer);
            return;
        }
        // A peer sends a query only from no handshake with us: if we wait for its Auth-R
        // (or for its confirmation of the session), our last handshake message was lost or the
        // peer started over, so a new Identity goes out. Waiting for its Auth-I, its Identity
        // is on its way: keep going. A whitespace tag is no such sign (clients tag plain
        // messages until they see OTR).
        let waiting_on_peer =
            matches!(p.handshake, Handshake::WaitingAuthR { .. }) || p.unconfirmed.is_some();
        if matches!(p.handshake, Handshake::WaitingAuthI { .. }) || waiting_on_peer && !query {
            return;
        }
        let mut advertised = Vec::new();
        advertised.extend(v.iter());
        self.refresh_profile(now_ms);
        self.initiate(now_ms, rng, peer, &advertised);
    }

    pub(super) fn on_encoded(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        encoded: &str,
    ) -> Received {
        let Ok(bytes) = envelope::decode(encoded) else {
            return Received::Protocol;
        };
        let Ok(header) = Header::peek(&bytes) else {
            return Received::Protocol;
        };
        // Our own data message reflected back (a handshake message is checked in its
        // handler): no peer has our instance tag, and it is not worth a report.
        if header.msg_type == MessageType::Data && header.sender == self.tag {
            return Received::Protocol;
        }
        if header.receiver != 0 && header.receiver != self.tag {
            // otrv4 discards messages for other instances of the same account. On IRC a nick
            // is one connection, so data for another tag means we restarted and lost the
            // session: say so (the peer re-keys), unless the sender asked for silence.
            if header.msg_type == MessageType::Data {
                let quiet = DataMessage::decode(&bytes)
                    .map_or(true, |m| m.flags & FLAG_IGNORE_UNREADABLE != 0);
                if !quiet {
                    self.reply_unreadable(now_ms, rng, peer);
                }
            }
            return Received::Protocol;
        }
        if let Some(p) = self.peers.get_mut(peer) {
            p.last_activity = now_ms;
        }
        let reaction = match header.msg_type {
            MessageType::Identity => self.on_identity(now_ms, rng, peer, &bytes),
            MessageType::AuthR => self.on_auth_r(now_ms, rng, peer, &bytes),
            MessageType::AuthI => self.on_auth_i(now_ms, rng, peer, &bytes),
            MessageType::ProfileRequest => self.on_profile_request(now_ms, rng, peer, &bytes),
            MessageType::Profile => self.on_profile_ahead(now_ms, rng, peer, &bytes),
            MessageType::Ciphertext => self.on_ciphertext_ahead(peer, &bytes),
            MessageType::Data => {
                let result = self.on_data(now_ms, rng, peer, &bytes);
                // An accepted message may have started a chain that offers ML-KEM material,
                // or brought an offer to answer: send it now, behind anything typed.
                self.send_kem(rng, peer);
                match result {
                    Ok(Some(text)) => return Received::Message { text },
                    Ok(None) => Reaction::Ignore,
                    Err(r) => r,
                }
            }
        };
        match reaction {
            Reaction::Ignore => {}
            Reaction::ReplyUnreadable => self.reply_unreadable(now_ms, rng, peer),
            Reaction::EndSession => {
                if let Some(p) = self.peers.get_mut(peer) {
                    p.session = None;
                }
                self.events.push_back(Event::SessionEnded {
                    peer: peer.to_string(),
                    reason: EndReason::Protocol,
                });
            }
        }
        Received::Protocol
    }

    pub(super) fn reply_unreadable(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        if !self.tell_unreadable(now_ms, peer) {
            return;
        }
        // Not while a handshake waits for the user's decision on its key: the peer's messages
        // belong to it, and a new handshake would only be held again.
        let restart = self.peers.get(peer).is_some_and(|p| {
            p.answers() && p.session.is_none() && !p.handshaking() && p.held.is_none()
        });
        // We have no session the peer's message belongs to (e.g. we restarted): re-key.
        if restart {
            self.initiate(now_ms, rng, peer, &[]);
        }
    }

    /// Reports an unreadable message to the user and, at most once per
    /// `ERROR_REPLY_INTERVAL_MS` and peer, to the peer (an OTR error, as libotr sends it);
    /// whether the peer was told.
    pub(super) fn tell_unreadable(&mut self, now_ms: u64, peer: &str) -> bool {
        self.events.push_back(Event::Unreadable {
            peer: peer.to_string(),
        });
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        if p.last_error_reply
            .is_some_and(|t| now_ms.saturating_sub(t) < ERROR_REPLY_INTERVAL_MS)
        {
            return false;
        }
        p.last_error_reply = Some(now_ms);
        self.transmits.push_back(Transmit {
            peer: peer.to_string(),
            line: envelope::format_error("ERROR_1", "Unreadable encrypted message was received."),
            bulk: false,
        });
        true
    }

    /// Resolves a profile sent in full or by hash. `Ok(None)` means "unknown hash".
    pub(super) fn resolve_profile(
        &self,
        peer: &str,
        r: &ProfileRef,
        now_ms: u64,
    ) -> Result<Option<ClientProfile>, ProfileError> {
        match r {
            ProfileRef::Full(bytes) => {
                // The same bytes as the verified profile we hold need no second verification.
                let cached = self
                    .peers
                    .get(peer)
                    .and_then(|p| p.profile.as_ref())
                    .filter(|pr| {
                        pr.as_bytes() == bytes.as_slice() && pr.is_valid_at(ms_to_unix(now_ms))
                    });
                match cached {
                    Some(pr) => Ok(Some(pr.clone())),
                    None => ClientProfile::decode_and_verify(bytes, ms_to_unix(now_ms)).map(Some),
                }
            }
            ProfileRef::Hash(h) => Ok(self
                .peers
                .get(peer)
                .and_then(|p| p.profile.as_ref())
                .filter(|pr| pr.hash() == h && pr.is_valid_at(ms_to_unix(now_ms)))
                .cloned()),
            // Held by the handshake, not the cache: see `profile_sent_ahead`.
            ProfileRef::SentAhead => Ok(None),
        }
    }

    /// Checks that cost no signature verification and come before any: the message is not
    /// our own handshake reflected back (our tag, our profile or our ephemeral keys), and a
    /// profile sent in full names the sender's instance tag as its owner.
    fn precheck(
        &self,
        peer: &str,
        sender: u32,
        profile: &ProfileRef,
        y: &[u8],
        x: &[u8],
    ) -> Result<(), Early> {
        if let Some(Handshake::WaitingAuthR { state, .. }) =
            self.peers.get(peer).map(|p| &p.handshake)
            && state.is_own_ephemeral(y, x)
        {
            return Err(Early::Ignore);
        }
        self.precheck_profile(sender, profile)
    }

    /// The profile part of `precheck`: not our own profile, and one sent in full names the
    /// sender's instance tag as its owner.
    pub(super) fn precheck_profile(&self, sender: u32, profile: &ProfileRef) -> Result<(), Early> {
        if sender == self.tag {
            return Err(Early::Ignore);
        }
        match profile {
            ProfileRef::Hash(h) if h == self.profile.hash() => Err(Early::Ignore),
            ProfileRef::Hash(_) => Ok(()),
            // It was checked like this when its Profile message arrived.
            ProfileRef::SentAhead => Ok(()),
            ProfileRef::Full(bytes) => {
                let unchecked = UncheckedProfile::parse(bytes)
                    .map_err(|e| Early::Fail(DakeError::Profile(e.into())))?;
                if unchecked.claimed_fingerprint() == *self.profile.fingerprint() {
                    return Err(Early::Ignore);
                }
                if unchecked.owner_tag() != sender {
                    return Err(Early::Fail(DakeError::Profile(ProfileError::InstanceTag)));
                }
                Ok(())
            }
        }
    }

    fn early(&mut self, peer: &str, early: Early) -> Reaction {
        if let Early::Fail(e) = early {
            self.dake_failed(peer, e);
        }
        Reaction::Ignore
    }

    pub(super) fn on_identity(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = Identity::decode(bytes) else {
            return Reaction::Ignore;
        };
        self.refresh_profile(now_ms);
        let Some(p) = self.peers.get(peer) else {
            return Reaction::Ignore;
        };
        let we_started = p.handshaking() || !p.queue.is_empty();
        if !p.answers() && !we_started && p.session.is_none() {
            self.offer_event(now_ms, peer);
            return Reaction::Ignore;
        }
        if let Err(early) = self.precheck(peer, msg.header.sender, &msg.profile, &msg.y, &msg.x) {
            return self.early(peer, early);
        }
        // The initiator echoes the versions our query offered (OTRv4+ and, where allowed,
        // OTRv3). A list without OTRv3 is no downgrade (OTRv4+ runs either way); anything
        // else means our query was altered in transit.
        let offered = self.our_query_versions(peer);
        let advertised: Vec<u8> = if msg.query_versions == offered {
            offered
        } else {
            vec![VERSION_CHAR]
        };
        if !msg.query_versions.is_empty() && msg.query_versions != advertised {
            self.dake_failed(peer, DakeError::Downgrade);
            return Reaction::Ignore;
        }
        let Some(p) = self.peers.get(peer) else {
            return Reaction::Ignore;
        };
        // Glare: both sent Identity. The larger glare key stays initiator.
        if let Handshake::WaitingAuthR { state, .. } = &p.handshake
            && state.glare_key() > dake::identity_glare_key(&msg)
        {
            return Reaction::Ignore;
        }
        // Our profile went ahead to this initiator (and is still the one we use).
        let sent_ahead = matches!(
            &p.handshake,
            Handshake::QuerySent { ahead: Some(a), .. }
                if a.to == msg.header.sender && a.profile_hash == *self.profile.hash()
        );
        let their_profile = match self.resolve_profile(peer, &msg.profile, now_ms) {
            Ok(Some(pr)) => pr,
            Ok(None) => {
                if let ProfileRef::Hash(h) = msg.profile {
                    let req = ProfileRequest {
                        header: Header {
                            msg_type: MessageType::ProfileRequest,
                            sender: self.tag,
                            receiver: msg.header.sender,
                        },
                        unknown_hash: h,
                    };
                    self.transmit(rng, peer, &req.encode(), msg.header.sender);
                }
                return Reaction::Ignore;
            }
            Err(e) => {
                self.dake_failed(peer, DakeError::Profile(e));
                return Reaction::Ignore;
            }
        };
        let psks = self.usable_psks(peer, now_ms);
        let holds_attestation = self.holds_attestation(peer, &their_profile);
        match dake::respond(
            rng,
            &self.local(),
            &msg,
            their_profile,
            &advertised,
            &psks,
            holds_attestation,
        ) {
            Ok((mut state, auth_r)) => {
                let auth_r = if sent_ahead {
                    state.refer_to_profile_sent_ahead()
                } else {
                    auth_r
                };
                self.transmit(rng, peer, &auth_r.encode(), msg.header.sender);
                // Nothing of an unauthenticated Identity is cached: the handshake state holds
                // the profile, and `established` stores it once the DAKE authenticated it.
                if let Some(p) = self.peers.get_mut(peer) {
                    p.handshake = Handshake::WaitingAuthI {
                        state: Box::new(state),
                        since: now_ms,
                        ct_requested: false,
                    };
                }
            }
            Err(e) => self.dake_failed(peer, e),
        }
        Reaction::Ignore
    }

    pub(super) fn on_profile_request(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = ProfileRequest::decode(bytes) else {
            return Reaction::Ignore;
        };
        if msg.unknown_hash == SENT_AHEAD_REQUEST {
            // What we sent ahead: our profile (we sent Auth-R) or CT_R (we sent Auth-I). Each
            // is answered only where it applies, once; the peer ignores a DAKE message it
            // does not wait for.
            self.resend_auth_i_in_full(now_ms, rng, peer, &msg);
            return self.on_sent_ahead_request(rng, peer, &msg);
        }
        if msg.unknown_hash != *self.profile.hash() {
            return Reaction::Ignore;
        }
        let local_profile = self.profile.clone();
        let local = Local {
            keys: &self.keys,
            profile: &local_profile,
            tag: self.tag,
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return Reaction::Ignore;
        };
        let Handshake::WaitingAuthR { state, .. } = &mut p.handshake else {
            return Reaction::Ignore;
        };
        if !state.sent_profile_by_hash() {
            return Reaction::Ignore;
        }
        p.has_our_profile = false;
        let identity = state.resend_full(&local);
        self.transmit(rng, peer, &identity.encode(), 0);
        Reaction::Ignore
    }

    pub(super) fn on_auth_r(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = AuthR::decode(bytes) else {
            return Reaction::Ignore;
        };
        // Cheap checks before the profile's signature (~4 ms): a handshake of ours waits for
        // this Auth-R, it is addressed to us, offers no PSK we did not, and is not our own.
        let Some(Handshake::WaitingAuthR { state, .. }) =
            self.peers.get(peer).map(|p| &p.handshake)
        else {
            return Reaction::Ignore;
        };
        if msg.header.receiver != self.tag {
            return Reaction::Ignore;
        }
        if msg.psk_mode() && !state.offered_psk() {
            self.dake_failed(peer, DakeError::ModeMismatch);
            return Reaction::Ignore;
        }
        if let Err(early) = self.precheck(peer, msg.header.sender, &msg.profile, &msg.y, &msg.x) {
            return self.early(peer, early);
        }
        let resolved = match msg.profile {
            ProfileRef::SentAhead => {
                Ok(self.profile_sent_ahead(now_ms, rng, peer, msg.header.sender))
            }
            _ => self.resolve_profile(peer, &msg.profile, now_ms),
        };
        let their_profile = match resolved {
            Ok(Some(pr)) => pr,
            Ok(None) => return Reaction::Ignore,
            Err(e) => {
                self.dake_failed(peer, DakeError::Profile(e));
                return Reaction::Ignore;
            }
        };
        let local = self.local();
        let Some(Handshake::WaitingAuthR { state, .. }) =
            self.peers.get(peer).map(|p| &p.handshake)
        else {
            return Reaction::Ignore;
        };
        match state.on_auth_r(rng, &local, &msg, their_profile) {
            Ok((out, auth_i)) => {
                let receiver = out.their_tag;
                // CT_R went ahead: the same Auth-I in full, for a responder that lost it.
                let resend = state.auth_i_in_full(&auth_i).map(|full| AuthIResend {
                    to: receiver,
                    ssid: out.ssid,
                    auth_i: full.encode(),
                });
                self.transmit(rng, peer, &auth_i.encode(), receiver);
                self.keep_auth_i_in_full(peer, resend);
                self.established(now_ms, rng, peer, out);
            }
            Err(e) => self.dake_failed(peer, e),
        }
        Reaction::Ignore
    }

    pub(super) fn on_auth_i(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = AuthI::decode(bytes) else {
            return Reaction::Ignore;
        };
        // Our own Auth-I reflected back: not even worth a report.
        if msg.header.sender == self.tag {
            return Reaction::Ignore;
        }
        if self.ciphertext_missing(rng, peer, &msg) {
            return Reaction::Ignore;
        }
        let local = self.local();
        let Some(Handshake::WaitingAuthI { state, .. }) =
            self.peers.get(peer).map(|p| &p.handshake)
        else {
            return Reaction::Ignore;
        };
        match state.on_auth_i(&local, &msg) {
            Ok(out) => self.established(now_ms, rng, peer, out),
            Err(e) => self.dake_failed(peer, e),
        }
        Reaction::Ignore
    }

    pub(super) fn dake_failed(&mut self, peer: &str, error: DakeError) {
        self.events.push_back(Event::DakeFailed {
            peer: peer.to_string(),
            error,
        });
    }

    /// A DAKE completed. The responder commits at once (Auth-I confirmed the key) and answers
    /// with a heartbeat that confirms it to the initiator; the initiator keeps the new
    /// session aside until that confirmation decrypts (docs/PROTOCOL.md §6.7).
    pub(super) fn established(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        out: DakeOutput,
    ) {
        if !self.admit_key(peer, out.their_profile.fingerprint()) {
            self.hold(now_ms, peer, out);
            return;
        }
        let role = out.role;
        let Some((session, next_psk)) = self.new_session(now_ms, rng, peer, out) else {
            return;
        };
        if role == dake::Role::Initiator {
            if let Some(p) = self.peers.get_mut(peer) {
                p.handshake = Handshake::Idle;
                p.unconfirmed = Some(Unconfirmed {
                    session,
                    next_psk,
                    since: now_ms,
                    early: 0,
                });
            }
            self.send_early(now_ms, rng, peer);
            return;
        }
        self.commit_session(now_ms, rng, peer, session, next_psk);
        let heartbeat = Payload::default();
        let _ = self.send_payload(rng, peer, now_ms, FLAG_IGNORE_UNREADABLE, &heartbeat);
        // A DAKE that deferred its ephemeral ML-KEM exchange: our first chain offers it now.
        self.send_kem(rng, peer);
        self.send_attestation_if_due(now_ms, rng, peer);
    }

    /// The session a completed DAKE starts (not yet the peer's current one).
    pub(super) fn new_session(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        out: DakeOutput,
    ) -> Option<(Established, ResumptionPsk)> {
        let their_profile = out.their_profile.clone();
        let (ssid, mode) = (out.ssid, out.mode);
        let attestation_due = !out.peer_holds_our_attestation;
        let next_psk = out.next_psk.duplicate();
        let ratchet = match Ratchet::new(rng, out, self.tag, self.policy.kem_every) {
            Ok(r) => r,
            Err(e) => {
                self.dake_failed(peer, DakeError::Crypto(e));
                return None;
            }
        };
        let session = Established {
            ratchet,
            their_profile,
            ssid,
            mode,
            last_sent: now_ms,
            last_recv: now_ms,
            unanswered: false,
            smp: crate::smp::Smp::new(),
            attestation_due,
        };
        Some((session, next_psk))
    }

    /// Makes `session` the peer's current session: the old one is kept briefly for late
    /// messages, the PSK and the peer's profile are stored, queued messages go out.
    pub(super) fn commit_session(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        session: Established,
        next_psk: ResumptionPsk,
    ) {
        let their_profile = session.their_profile.clone();
        let (ssid, mode, their_tag) = (session.ssid, session.mode, session.ratchet.their_tag());
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let rekey = p.session.is_some();
        let smp_was_running = p.session.as_ref().is_some_and(|s| s.smp.since().is_some());
        p.previous = p.session.take().map(|s| (s, now_ms));
        p.session = Some(session);
        p.handshake = Handshake::Idle;
        p.held = None;
        p.unconfirmed = None;
        p.auth_i_resend = None;
        p.finished = false;
        p.psk = Some(next_psk);
        p.psk_renewed = None;
        p.note_psk_chain(mode, now_ms);
        if p.attestation
            .as_ref()
            .is_some_and(|a| !a.is_for(&their_profile))
        {
            p.attestation = None;
        }
        let attested = p.attestation.is_some();
        p.profile = Some(their_profile.clone());
        p.has_our_profile = true;
        if smp_was_running {
            self.events.push_back(Event::Smp {
                peer: peer.to_string(),
                event: SmpEvent::SessionEnded,
            });
        }
        self.events.push_back(Event::Private {
            peer: peer.to_string(),
            their_tag,
            fingerprint: *their_profile.fingerprint(),
            ssid,
            mode,
            rekey,
            attested,
        });
        self.release_queue(now_ms, rng, peer);
    }

    /// Decrypts a data message on the session awaiting confirmation (which commits it: that
    /// message is the confirmation), else the current one, else the one a re-key replaced.
    fn open_data(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        msg: &DataMessage,
    ) -> Result<Opened, RatchetError> {
        let p = self.peers.get_mut(peer).ok_or(RatchetError::Unreadable)?;
        if let Some(u) = p.unconfirmed.as_mut()
            && let Ok(pt) = u.session.ratchet.decrypt(rng, msg)
        {
            if let Some(u) = p.unconfirmed.take() {
                // What went out early on this session arrived with it: not again.
                let early = u.early.min(p.queue.len());
                for text in p.queue.drain(..early) {
                    p.queued_bytes = p.queued_bytes.saturating_sub(text.len());
                }
                if early > 0 {
                    self.events.push_back(Event::QueueReleased {
                        peer: peer.to_string(),
                        count: early,
                    });
                }
                self.commit_session(now_ms, rng, peer, u.session, u.next_psk);
                self.send_attestation_if_due(now_ms, rng, peer);
            }
            return Ok(Opened::Current(pt));
        }
        let Some(s) = p.session.as_mut() else {
            return Err(RatchetError::Unreadable);
        };
        match s.ratchet.decrypt(rng, msg) {
            Ok(pt) => Ok(Opened::Current(pt)),
            Err(RatchetError::Duplicate) => Err(RatchetError::Duplicate),
            Err(e) => match p.previous.as_mut() {
                Some((old, _)) => old.ratchet.decrypt(rng, msg).map(Opened::Previous),
                None => Err(e),
            },
        }
    }

    /// A message sent on the session a re-key replaced. The peer still uses that session, so
    /// it may not have seen our confirmation of the new one: send it (again).
    fn on_late_message(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        plaintext: &[u8],
    ) -> Option<String> {
        let payload = Payload::decode(plaintext).ok()?;
        if payload.text.is_empty() {
            return None;
        }
        let heartbeat = Payload::default();
        let _ = self.send_payload(rng, peer, now_ms, FLAG_IGNORE_UNREADABLE, &heartbeat);
        Some(String::from_utf8_lossy(&payload.text).into_owned())
    }

    pub(super) fn on_data(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Result<Option<String>, Reaction> {
        let msg = DataMessage::decode(bytes).map_err(|_| Reaction::Ignore)?;
        let quiet = msg.flags & FLAG_IGNORE_UNREADABLE != 0;
        let unreadable = if quiet {
            Reaction::Ignore
        } else {
            Reaction::ReplyUnreadable
        };
        // Waiting for the Auth-I in full we asked for, what the initiator sent early behind
        // its first Auth-I cannot be read yet; it comes again behind the full one (§6.7).
        let waiting_full_auth_i = self.peers.get(peer).is_some_and(|p| {
            matches!(
                p.handshake,
                Handshake::WaitingAuthI {
                    ct_requested: true,
                    ..
                }
            )
        });
        let plaintext = match self.open_data(now_ms, rng, peer, &msg) {
            Ok(Opened::Current(pt)) => pt,
            Ok(Opened::Previous(pt)) => return Ok(self.on_late_message(now_ms, rng, peer, &pt)),
            Err(RatchetError::Duplicate) => return Err(Reaction::Ignore),
            Err(_) if waiting_full_auth_i => return Err(Reaction::Ignore),
            Err(_) => return Err(unreadable),
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return Err(Reaction::Ignore);
        };
        // The current session's first ML-KEM mix renews the resumption PSK.
        if let Some(renewed) = p
            .session
            .as_mut()
            .and_then(|s| s.ratchet.take_renewed_psk())
        {
            p.psk_renewed = Some(renewed);
        }
        let Some(s) = p.session.as_mut() else {
            return Err(Reaction::Ignore);
        };
        s.last_recv = now_ms;
        // The message authenticated, so malformed contents mean a broken peer, not an attacker.
        let payload = Payload::decode(&plaintext).map_err(|_| Reaction::EndSession)?;
        let mut disconnected = false;
        let mut smp_tlvs = Vec::new();
        let mut attestation = None;
        for tlv in &payload.tlvs {
            // Padding and unknown types are skipped; one attestation per message is checked.
            if tlv.tlv_type == types::DISCONNECTED {
                disconnected = true;
            } else if crate::smp::is_smp_tlv(tlv.tlv_type) {
                smp_tlvs.push(tlv);
            } else if tlv.tlv_type == types::PROFILE_ATTESTATION && attestation.is_none() {
                attestation = Some((s.their_profile.clone(), tlv.value.as_slice()));
            }
        }
        if let Some((profile, value)) = attestation {
            self.on_attestation(peer, &profile, value);
        }
        let Some(p) = self.peers.get_mut(peer) else {
            return Err(Reaction::Ignore);
        };
        let Some(s) = p.session.as_mut() else {
            return Err(Reaction::Ignore);
        };
        if !smp_tlvs.is_empty() && !disconnected {
            let ours = *self.profile.fingerprint();
            let theirs = *s.their_profile.fingerprint();
            let ssid = s.ssid;
            let session = crate::smp::Session {
                ours: &ours,
                theirs: &theirs,
                ssid: &ssid,
            };
            let outputs: Vec<SmpOutput> = smp_tlvs
                .into_iter()
                .map(|t| s.smp.handle(rng, &session, t, now_ms))
                .collect();
            self.on_smp_outputs(now_ms, rng, peer, theirs, outputs);
        }
        let Some(p) = self.peers.get_mut(peer) else {
            return Err(Reaction::Ignore);
        };
        let Some(s) = p.session.as_mut() else {
            return Err(Reaction::Ignore);
        };
        if disconnected {
            if s.smp.since().is_some() {
                self.events.push_back(Event::Smp {
                    peer: peer.to_string(),
                    event: SmpEvent::SessionEnded,
                });
            }
            p.session = None;
            p.finished = true;
            self.events.push_back(Event::PeerFinished {
                peer: peer.to_string(),
            });
        } else if !payload.text.is_empty() {
            s.unanswered = true;
        }
        if payload.text.is_empty() {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&payload.text).into_owned()))
    }
}
