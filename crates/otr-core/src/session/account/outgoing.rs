//! Sending: encryption, fragmentation, queueing, starting and ending sessions.

use super::*;

impl Account {
    /// Encodes, fragments and queues a binary OTR message for `peer`.
    pub(super) fn transmit(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bin: &[u8],
        receiver: u32,
    ) {
        self.transmit_as(rng, peer, bin, receiver, false);
    }

    /// [`Account::transmit`], with the lines marked bulk (they may wait behind others).
    pub(super) fn transmit_as(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bin: &[u8],
        receiver: u32,
        bulk: bool,
    ) {
        let encoded = envelope::encode(bin);
        let budget = self
            .peers
            .get(peer)
            .and_then(|p| p.budget)
            .unwrap_or(self.policy.default_budget);
        let mut id = [0u8; 4];
        rng.fill_bytes(&mut id);
        match fragmenter::fragment(&encoded, budget, u32::from_be_bytes(id), self.tag, receiver) {
            Ok(lines) => {
                for line in lines {
                    self.transmits.push_back(Transmit {
                        peer: peer.to_string(),
                        line,
                        bulk,
                    });
                }
            }
            // Only an absurdly small budget gets here; there is no way to send, so nothing is.
            Err(_) => self.events.push_back(Event::DakeFailed {
                peer: peer.to_string(),
                error: DakeError::Decode(DecodeError::LengthOutOfRange("line budget")),
            }),
        }
    }

    pub(super) fn send_payload(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        now: u64,
        flags: u8,
        payload: &Payload,
    ) -> Result<(), SendError> {
        self.send_payload_as(rng, peer, now, flags, payload, false)
    }

    /// [`Account::send_payload`], its lines marked `bulk` or not.
    pub(super) fn send_payload_as(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        now: u64,
        flags: u8,
        payload: &Payload,
        bulk: bool,
    ) -> Result<(), SendError> {
        let encoded = payload.padded(self.policy.pad_block).encode();
        if encoded.len() > MAX_PLAINTEXT_BYTES {
            return Err(SendError::TooLong);
        }
        let (msg, receiver) = {
            let Some(s) = self.peers.get_mut(peer).and_then(|p| p.session.as_mut()) else {
                return Err(SendError::Crypto);
            };
            let msg = s
                .ratchet
                .encrypt(flags, &encoded)
                .map_err(|_| SendError::Crypto)?;
            s.last_sent = now;
            s.unanswered = false;
            (msg, s.ratchet.their_tag())
        };
        self.transmit_as(rng, peer, &msg.encode(), receiver, bulk);
        Ok(())
    }

    /// Tells the account whether the caller still holds bulk lines for `peer` that have not
    /// gone to the server (its send queue). While it does, ML-KEM offers and answers are not
    /// sent again: the copy waiting in the queue would only be followed by another one, each
    /// 7 lines, on a server that lets a line through every second or two.
    pub fn set_bulk_backlog(&mut self, peer: &str, backlog: bool) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.bulk_backlog = backlog;
        }
    }

    /// Sends the ML-KEM material the peer's session owes (an offer, an answer) in messages of
    /// their own, as bulk lines: nothing typed waits for them. While the shell still holds
    /// bulk lines for the peer, nothing is sent again (the earlier copy may not have left).
    pub(super) fn send_kem(&mut self, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        let payload = Payload::default().padded(self.policy.pad_block).encode();
        // At most an offer and an answer are owed at once.
        for _ in 0..2 {
            let Some(p) = self.peers.get_mut(peer) else {
                return;
            };
            let resend = !p.bulk_backlog;
            let Some(s) = p.session.as_mut() else {
                return;
            };
            let Ok(Some(msg)) = s.ratchet.kem_message_with(&payload, resend) else {
                return;
            };
            let receiver = s.ratchet.their_tag();
            self.transmit_as(rng, peer, &msg.encode(), receiver, true);
        }
    }

    /// Sends `text` privately to `peer`. Without a private session it is queued (never sent
    /// in the clear) and a handshake is started if none is running.
    pub fn send(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Result<SendOutcome, SendError> {
        if text.as_bytes().contains(&0) {
            return Err(SendError::ContainsNul);
        }
        if text.len() > MAX_PLAINTEXT_BYTES - 64 {
            return Err(SendError::TooLong);
        }
        let p = self.peer_mut(peer, now_ms).ok_or(SendError::TooManyPeers)?;
        if p.finished {
            return Err(SendError::Finished);
        }
        p.last_activity = now_ms;
        // A working session carries the message even while a handshake runs: a re-key (or an
        // Identity anyone can inject) must not hold the conversation up.
        if p.session.is_some() {
            let payload = Payload {
                text: text.as_bytes().to_vec(),
                tlvs: Vec::new(),
            };
            self.send_payload(rng, peer, now_ms, 0, &payload)?;
            return Ok(SendOutcome::Sent);
        }
        if p.legacy_private() {
            self.legacy_send(now_ms, rng, peer, text)?;
            return Ok(SendOutcome::Sent);
        }
        if p.queue.len() >= MAX_QUEUED_MESSAGES || p.queued_bytes + text.len() > MAX_QUEUED_BYTES {
            return Err(SendError::QueueFull);
        }
        p.queue.push_back(text.to_string());
        p.queued_bytes += text.len();
        if p.unconfirmed.is_some() {
            self.send_early(now_ms, rng, peer);
            return Ok(SendOutcome::Queued);
        }
        // A handshake held for the user's decision: a new one would reach the same key and
        // be held again; the user decides (`accept_key`) or restarts (`start`).
        if !p.handshaking() && p.held.is_none() {
            self.start(now_ms, rng, peer);
        }
        Ok(SendOutcome::Queued)
    }

    /// Starts (or restarts) a private session with `peer`: a handshake directly when the
    /// peer's profile is known, otherwise a query message.
    pub fn start(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        self.refresh_profile(now_ms);
        let now_unix = ms_to_unix(now_ms);
        let legacy_chars = self.legacy_query_chars(peer);
        let Some(p) = self.peer_mut(peer, now_ms) else {
            return;
        };
        p.finished = false;
        let known = p
            .profile
            .as_ref()
            .is_some_and(|pr| pr.is_valid_at(now_unix));
        if known {
            self.initiate(now_ms, rng, peer, &[]);
        } else {
            // OTRv4+ first; OTRv3/v2 only where allowed (never once the peer used OTRv4+).
            let mut v = Versions::ours();
            let offers_legacy = !legacy_chars.is_empty();
            for c in legacy_chars {
                let _ = v.push(c);
            }
            // A libotr peer answers at once: have the DSA key ready by then.
            if offers_legacy {
                self.request_legacy_key();
            }
            let line = query::format_query(&v, &self.policy.query_text);
            self.transmits.push_back(Transmit {
                peer: peer.to_string(),
                line,
                bulk: false,
            });
            if let Some(p) = self.peers.get_mut(peer) {
                p.handshake = Handshake::QuerySent {
                    since: now_ms,
                    ahead: None,
                };
            }
        }
    }

    /// Sends an Identity message (we become the DAKE initiator).
    pub(super) fn initiate(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        query_versions: &[u8],
    ) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        let peer_profile = p
            .profile
            .clone()
            .filter(|pr| pr.is_valid_at(ms_to_unix(now_ms)));
        let we_are_cached = p.has_our_profile && peer_profile.is_some();
        let holds_attestation = peer_profile
            .as_ref()
            .is_some_and(|pr| self.holds_attestation(peer, pr));
        let psks = self.usable_psks(peer, now_ms);
        let result = dake::start(
            rng,
            &self.local(),
            query_versions,
            peer_profile.as_ref(),
            holds_attestation,
            we_are_cached,
            psks,
        );
        match result {
            Ok((state, identity)) => {
                self.transmit(rng, peer, &identity.encode(), 0);
                if let Some(p) = self.peers.get_mut(peer) {
                    p.handshake = Handshake::WaitingAuthR {
                        state: Box::new(state),
                        since: now_ms,
                        profile_ahead: None,
                        profile_requested: false,
                    };
                }
                // The responder's profile is cached: CT_R can go right behind the Identity
                // (unless we offered a PSK).
                if let Some(their_profile) = &peer_profile {
                    self.send_ciphertext_ahead(rng, peer, their_profile);
                }
            }
            Err(error) => self.events.push_back(Event::DakeFailed {
                peer: peer.to_string(),
                error,
            }),
        }
    }

    /// Ends the private session with `peer` (sends a disconnect if one is established) and
    /// drops anything queued. Returns to plaintext.
    pub fn finish(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        self.legacy_finish(now_ms, rng, peer);
        let early = self.end_unconfirmed(rng, peer);
        self.end_session(now_ms, rng, peer, EndReason::Requested);
        if let Some(p) = self.peers.get_mut(peer) {
            p.finished = false;
            p.handshake = Handshake::Idle;
            p.unconfirmed = None;
            p.auth_i_resend = None;
            // Messages sent early on the session aside went out: not "dropped, NOT sent".
            let dropped = p.queue.len().saturating_sub(early);
            p.queue.clear();
            p.queued_bytes = 0;
            if dropped > 0 {
                self.events.push_back(Event::QueueDropped {
                    peer: peer.to_string(),
                    count: dropped,
                });
            }
        }
    }

    /// Gives up a handshake that cannot succeed (the server said the peer is not there),
    /// keeping the queued messages and any session: the next [`Account::start`] or message
    /// starts afresh instead of waiting for the handshake to time out. An unauthenticated
    /// reason can only cost a restart, as dropping the lines could. Returns whether a
    /// handshake was running.
    pub fn cancel_handshake(&mut self, peer: &str) -> bool {
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        if !p.handshake.is_running() {
            return false;
        }
        p.handshake = Handshake::Idle;
        true
    }

    /// Ends every session (for shutdown).
    pub fn finish_all(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng) {
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            self.finish(now_ms, rng, &peer);
        }
    }

    /// Without a current session, ends the session awaiting confirmation as a session is
    /// ended: the responder may have committed it and shown what we sent early on it, so it
    /// gets the disconnect too (unreadable and ignored if it never derived the session).
    /// Returns how many queued messages had gone out early on it.
    fn end_unconfirmed(&mut self, rng: &mut impl rand_core::CryptoRng, peer: &str) -> usize {
        let pad_block = self.policy.pad_block;
        let Some(p) = self.peers.get_mut(peer) else {
            return 0;
        };
        if p.session.is_some() {
            return 0;
        }
        let Some(mut u) = p.unconfirmed.take() else {
            return 0;
        };
        let payload = Payload {
            text: Vec::new(),
            tlvs: vec![Tlv {
                tlv_type: types::DISCONNECTED,
                value: Vec::new(),
            }],
        };
        let encoded = payload.padded(pad_block).encode();
        let msg = u.session.ratchet.encrypt(FLAG_IGNORE_UNREADABLE, &encoded);
        let receiver = u.session.ratchet.their_tag();
        if let Ok(msg) = msg {
            self.transmit(rng, peer, &msg.encode(), receiver);
        }
        self.events.push_back(Event::SessionEnded {
            peer: peer.to_string(),
            reason: EndReason::Requested,
        });
        u.early
    }

    pub(super) fn end_session(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        reason: EndReason,
    ) {
        let has_session = self.peers.get(peer).is_some_and(|p| p.session.is_some());
        if !has_session {
            return;
        }
        let payload = Payload {
            text: Vec::new(),
            tlvs: vec![Tlv {
                tlv_type: types::DISCONNECTED,
                value: Vec::new(),
            }],
        };
        let _ = self.send_payload(rng, peer, now_ms, FLAG_IGNORE_UNREADABLE, &payload);
        if let Some(p) = self.peers.get_mut(peer) {
            p.session = None;
        }
        self.events.push_back(Event::SessionEnded {
            peer: peer.to_string(),
            reason,
        });
    }

    pub(super) fn refresh_profile(&mut self, now_ms: u64) {
        let now = ms_to_unix(now_ms);
        if self.profile.expiry() - now > PROFILE_REFRESH_MARGIN_SECS {
            return;
        }
        if let Ok(p) =
            ClientProfile::sign(&self.keys, self.tag, now + DEFAULT_PROFILE_LIFETIME_SECS)
            && let Ok(a) = sign_attestation(&self.keys, &p)
        {
            self.profile = p;
            self.attestation = a;
            for peer in self.peers.values_mut() {
                peer.has_our_profile = false;
            }
        }
    }

    /// Sends what is queued for `peer` and not yet sent on the session awaiting the
    /// responder's confirmation, on that session (docs/PROTOCOL.md §6.7): only the responder
    /// can derive its keys, so nothing waits for the confirmation's extra hop. The messages
    /// stay queued until the confirmation arrives (then they are dropped from the queue); if
    /// the session aside is dropped instead, they go again on the next session.
    pub(super) fn send_early(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        let pad_block = self.policy.pad_block;
        let mut out = Vec::new();
        if let Some(p) = self.peers.get_mut(peer)
            && let Some(u) = p.unconfirmed.as_mut()
        {
            for text in p.queue.iter().skip(u.early) {
                let payload = Payload {
                    text: text.as_bytes().to_vec(),
                    tlvs: Vec::new(),
                };
                let encoded = payload.padded(pad_block).encode();
                if encoded.len() > MAX_PLAINTEXT_BYTES {
                    break;
                }
                let Ok(msg) = u.session.ratchet.encrypt(0, &encoded) else {
                    break;
                };
                u.early += 1;
                u.session.last_sent = now_ms;
                out.push((msg.encode(), u.session.ratchet.their_tag()));
            }
        }
        for (bin, receiver) in out {
            self.transmit(rng, peer, &bin, receiver);
        }
    }

    /// Sends everything queued for `peer` through its established session.
    pub(super) fn release_queue(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        self.release_queue_with(now_ms, rng, peer, |a, now, rng, peer, text| {
            let payload = Payload {
                text: text.as_bytes().to_vec(),
                tlvs: Vec::new(),
            };
            a.send_payload(rng, peer, now, 0, &payload)
        });
    }

    /// Sends everything queued for `peer` with `send` (OTRv4+ or OTRv3), stopping at the
    /// first failure, and reports how many went.
    pub(super) fn release_queue_with<R: rand_core::CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        peer: &str,
        send: impl Fn(&mut Account, u64, &mut R, &str, &str) -> Result<(), SendError>,
    ) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let queued: Vec<String> = p.queue.drain(..).collect();
        p.queued_bytes = 0;
        // Whatever a session aside sent early is in `queued` and goes now, on this session.
        if let Some(u) = p.unconfirmed.as_mut() {
            u.early = 0;
        }
        let count = queued.len();
        for text in queued {
            if send(self, now_ms, rng, peer, &text).is_err() {
                break;
            }
        }
        if count > 0 {
            self.events.push_back(Event::QueueReleased {
                peer: peer.to_string(),
                count,
            });
        }
    }
}
