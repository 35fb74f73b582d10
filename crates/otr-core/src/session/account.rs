//! The account: one local identity talking to many peers. It routes every received line to
//! the peer's fragment reassembly, handshake or session, and queues transmits and events.

use std::collections::{HashMap, VecDeque};

use super::event::{EndReason, Event, Received, SendError, SendOutcome, Transmit};
use super::peer::{Established, Handshake, Peer};
use super::policy::Policy;
use crate::crypto::CryptoError;
use crate::dake::{self, DakeError, DakeOutput, Local, ResumptionPsk};
use crate::fragment::irc_split::Joined;
use crate::fragment::{self, fragmenter};
use crate::limits::{
    ERROR_REPLY_INTERVAL_MS, MAX_PEERS, MAX_PLAINTEXT_BYTES, MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES,
};
use crate::profile::{
    ClientProfile, DEFAULT_PROFILE_LIFETIME_SECS, Fingerprint, LongTermKeys, ProfileError,
};
use crate::ratchet::{Ratchet, RatchetError};
use crate::wire::codec::DecodeError;
use crate::wire::dake::{AuthI, AuthR, Identity, ProfileRef, ProfileRequest};
use crate::wire::data::{DataMessage, FLAG_IGNORE_UNREADABLE};
use crate::wire::envelope;
use crate::wire::query::{self, Versions};
use crate::wire::tlv::{Payload, Tlv, types};
use crate::wire::{Header, MessageType, VERSION_CHAR};

/// Minimum interval between "offer received" events for one stranger.
const OFFER_EVENT_INTERVAL_MS: u64 = 60_000;
/// How long the session replaced by a re-key still decrypts late messages.
const PREVIOUS_SESSION_GRACE_MS: u64 = 120_000;
/// Re-sign our profile when less than this much of its lifetime is left.
const PROFILE_REFRESH_MARGIN_SECS: i64 = 7 * 24 * 3600;

/// The privacy state of a peer, as otrv4 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// No session.
    Plaintext,
    /// A handshake is running (messages are queued).
    Handshaking,
    /// A private session is established.
    Encrypted,
    /// The peer ended the session.
    Finished,
}

/// A snapshot of one peer's session, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// State.
    pub state: State,
    /// The peer's fingerprint (once a profile has been verified).
    pub fingerprint: Option<Fingerprint>,
    /// Session id (while encrypted).
    pub ssid: Option<[u8; 8]>,
    /// The peer's instance tag (while encrypted).
    pub their_tag: Option<u32>,
    /// Post-quantum authentication mode of the current session.
    pub mode: Option<dake::Mode>,
    /// Messages queued for the peer.
    pub queued: usize,
}

/// One local OTRv4+ identity and its sessions with every peer.
pub struct Account {
    keys: LongTermKeys,
    profile: ClientProfile,
    tag: u32,
    policy: Policy,
    peers: HashMap<String, Peer>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
}

fn ms_to_unix(now_ms: u64) -> i64 {
    i64::try_from(now_ms / 1000).unwrap_or(i64::MAX)
}

/// Why an incoming OTR message was dropped, and what to do about it (rustls-style mapping of
/// an error to its wire reaction).
enum Reaction {
    /// Drop silently.
    Ignore,
    /// Tell the peer we could not read it (rate-limited).
    ReplyUnreadable,
    /// The peer authenticated but broke the protocol: drop the session.
    EndSession,
}

impl Account {
    /// Creates an account. `tag` is this instance's tag (>= 0x100); the profile is signed now.
    pub fn new(
        keys: LongTermKeys,
        tag: u32,
        policy: Policy,
        now_ms: u64,
    ) -> Result<Self, CryptoError> {
        let tag = tag.max(crate::wire::MIN_INSTANCE_TAG);
        let profile = ClientProfile::sign(
            &keys,
            tag,
            ms_to_unix(now_ms) + DEFAULT_PROFILE_LIFETIME_SECS,
        )?;
        Ok(Account {
            keys,
            profile,
            tag,
            policy,
            peers: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        })
    }

    /// Our instance tag.
    pub fn instance_tag(&self) -> u32 {
        self.tag
    }

    /// Our fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        *self.profile.fingerprint()
    }

    /// Our current signed profile.
    pub fn profile(&self) -> &ClientProfile {
        &self.profile
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    fn local(&self) -> Local<'_> {
        Local {
            keys: &self.keys,
            profile: &self.profile,
            tag: self.tag,
        }
    }

    fn peer_mut(&mut self, peer: &str, now: u64) -> Option<&mut Peer> {
        if !self.peers.contains_key(peer) {
            if self.peers.len() >= MAX_PEERS {
                self.peers.retain(|_, p| !p.is_disposable());
                if self.peers.len() >= MAX_PEERS {
                    return None;
                }
            }
            self.peers.insert(peer.to_string(), Peer::new(now));
        }
        self.peers.get_mut(peer)
    }

    /// Whether to answer OTRv4+ offers from this peer by starting a handshake (the shell sets
    /// this for opted-in peers). Offers from other peers raise [`Event::OfferReceived`].
    pub fn set_auto_respond(&mut self, peer: &str, on: bool) {
        if let Some(p) = self.peer_mut(peer, 0) {
            p.auto_respond = on;
        }
    }

    /// The largest line (bytes of PRIVMSG text) the peer's server path allows.
    pub fn set_budget(&mut self, peer: &str, bytes: usize) {
        if let Some(p) = self.peer_mut(peer, 0) {
            p.budget = Some(bytes);
        }
    }

    /// The peer changed its nick: its session, handshake, queue and cached profile follow it.
    /// If state already exists under the new name, the renamed peer's state replaces it only
    /// when the old name had a session or handshake (the live conversation wins). Returns
    /// whether anything moved.
    pub fn rename_peer(&mut self, old: &str, new: &str) -> bool {
        if old == new {
            return false;
        }
        let Some(p) = self.peers.remove(old) else {
            return false;
        };
        let live = p.session.is_some() || p.handshake.is_running();
        match self.peers.get(new) {
            Some(existing) if !live && !existing.is_disposable() => {
                // Keep what the new name already had; the old entry held nothing live.
                self.peers.insert(old.to_string(), p);
                false
            }
            _ => {
                self.peers.insert(new.to_string(), p);
                true
            }
        }
    }

    /// Status of a peer.
    pub fn session_info(&self, peer: &str) -> SessionInfo {
        let Some(p) = self.peers.get(peer) else {
            return SessionInfo {
                state: State::Plaintext,
                fingerprint: None,
                ssid: None,
                their_tag: None,
                mode: None,
                queued: 0,
            };
        };
        let state = if p.finished {
            State::Finished
        } else if p.session.is_some() {
            State::Encrypted
        } else if p.handshake.is_running() {
            State::Handshaking
        } else {
            State::Plaintext
        };
        SessionInfo {
            state,
            fingerprint: p
                .session
                .as_ref()
                .map(|s| *s.their_profile.fingerprint())
                .or_else(|| p.profile.as_ref().map(|pr| *pr.fingerprint())),
            ssid: p.session.as_ref().map(|s| s.ssid),
            their_tag: p.session.as_ref().map(|s| s.ratchet.their_tag()),
            mode: p.session.as_ref().map(|s| s.mode),
            queued: p.queue.len(),
        }
    }

    /// The next line to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Account::handle_timeout`] should next be called (milliseconds, same clock as
    /// `now_ms` everywhere).
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next: Option<u64> = None;
        let mut consider = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        for p in self.peers.values() {
            if let Some(since) = p.handshake.since() {
                consider(since.saturating_add(self.policy.dake_timeout_ms));
            }
            if let Some(s) = &p.session {
                if s.unanswered {
                    consider(s.last_recv.saturating_add(self.policy.heartbeat_ms));
                }
                consider(
                    s.last_sent
                        .max(s.last_recv)
                        .saturating_add(self.policy.idle_expiry_ms),
                );
            }
            if let Some(t) = p.assembler.next_expiry() {
                consider(t);
            }
            if let Some(t) = p.joiner.next_expiry() {
                consider(t);
            }
        }
        next
    }

    // ---------------------------------------------------------------- sending

    /// Encodes, fragments and queues a binary OTR message for `peer`.
    fn transmit(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bin: &[u8],
        receiver: u32,
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

    fn send_payload(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        now: u64,
        flags: u8,
        payload: &Payload,
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
        self.transmit(rng, peer, &msg.encode(), receiver);
        Ok(())
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
        if p.session.is_some() && !p.handshake.is_running() {
            let payload = Payload {
                text: text.as_bytes().to_vec(),
                tlvs: Vec::new(),
            };
            self.send_payload(rng, peer, now_ms, 0, &payload)?;
            return Ok(SendOutcome::Sent);
        }
        if p.queue.len() >= MAX_QUEUED_MESSAGES || p.queued_bytes + text.len() > MAX_QUEUED_BYTES {
            return Err(SendError::QueueFull);
        }
        p.queue.push_back(text.to_string());
        p.queued_bytes += text.len();
        if !p.handshake.is_running() {
            self.start(now_ms, rng, peer);
        }
        Ok(SendOutcome::Queued)
    }

    /// Starts (or restarts) a private session with `peer`: a handshake directly when the
    /// peer's profile is known, otherwise a query message.
    pub fn start(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        self.refresh_profile(now_ms);
        let now_unix = ms_to_unix(now_ms);
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
            let v = Versions::ours();
            let line = query::format_query(&v, &self.policy.query_text);
            self.transmits.push_back(Transmit {
                peer: peer.to_string(),
                line,
            });
            if let Some(p) = self.peers.get_mut(peer) {
                p.handshake = Handshake::QuerySent { since: now_ms };
            }
        }
    }

    /// Sends an Identity message (we become the DAKE initiator).
    fn initiate(
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
        let psk = p.psk.as_ref().map(ResumptionPsk::duplicate);
        let result = dake::start(
            rng,
            &self.local(),
            query_versions,
            peer_profile.as_ref(),
            we_are_cached,
            psk,
        );
        match result {
            Ok((state, identity)) => {
                self.transmit(rng, peer, &identity.encode(), 0);
                if let Some(p) = self.peers.get_mut(peer) {
                    p.handshake = Handshake::WaitingAuthR {
                        state: Box::new(state),
                        since: now_ms,
                    };
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
        self.end_session(now_ms, rng, peer, EndReason::Requested);
        if let Some(p) = self.peers.get_mut(peer) {
            p.finished = false;
            p.handshake = Handshake::Idle;
            let dropped = p.queue.len();
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

    /// Ends every session (for shutdown).
    pub fn finish_all(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng) {
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            self.finish(now_ms, rng, &peer);
        }
    }

    fn end_session(
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

    fn refresh_profile(&mut self, now_ms: u64) {
        let now = ms_to_unix(now_ms);
        if self.profile.expiry() - now > PROFILE_REFRESH_MARGIN_SECS {
            return;
        }
        if let Ok(p) =
            ClientProfile::sign(&self.keys, self.tag, now + DEFAULT_PROFILE_LIFETIME_SECS)
        {
            self.profile = p;
            for peer in self.peers.values_mut() {
                peer.has_our_profile = false;
            }
        }
    }

    // ---------------------------------------------------------------- receiving

    /// Handles one line of text received from `peer` (a PRIVMSG body).
    pub fn handle_incoming(
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
        let Some(p) = self.peer_mut(peer, now_ms) else {
            return if looks_otr {
                Received::Protocol
            } else {
                Received::Plain
            };
        };
        if !p.is_engaged() {
            return self.on_stranger_line(now_ms, rng, peer, text);
        }
        let line = match p.joiner.push(now_ms, text).joined {
            Joined::Pending => return Received::Protocol,
            Joined::Complete(s) | Joined::Passthrough(s) => s,
        };
        if fragment::is_fragment(&line) {
            let pushed = p.assembler.push(now_ms, &line, our_tag);
            return match pushed {
                Ok(pushed) => match pushed.complete {
                    Some(m) => self.on_encoded(now_ms, rng, peer, &m),
                    None => Received::Protocol,
                },
                Err(_) => Received::Protocol,
            };
        }
        if envelope::is_encoded(&line) {
            return self.on_encoded(now_ms, rng, peer, &line);
        }
        if let Some(v) = query::parse_query(&line) {
            self.on_offer(now_ms, rng, peer, &v);
            return Received::Protocol;
        }
        if let Some((v, stripped)) = query::find_whitespace_tag(&line) {
            self.on_offer(now_ms, rng, peer, &v);
            return Received::Tagged { text: stripped };
        }
        Received::Plain
    }

    /// A peer we neither answer automatically nor talk to: nothing of theirs is buffered or
    /// processed (memory stays bounded however many nicks send us fragments); an OTR offer or
    /// any OTR message is reported, at most once a minute.
    fn on_stranger_line(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        text: &str,
    ) -> Received {
        if let Some((v, stripped)) = query::find_whitespace_tag(text) {
            self.on_offer(now_ms, rng, peer, &v);
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

    fn offer_event(&mut self, now_ms: u64, peer: &str) {
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

    fn on_offer(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        v: &Versions,
    ) {
        if !v.contains(VERSION_CHAR) {
            return;
        }
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        if !p.auto_respond {
            self.offer_event(now_ms, peer);
            return;
        }
        // Already handshaking as initiator: the peer's offer crossed ours; keep going.
        if matches!(
            p.handshake,
            Handshake::WaitingAuthR { .. } | Handshake::WaitingAuthI { .. }
        ) {
            return;
        }
        let mut advertised = Vec::new();
        advertised.extend(v.iter());
        self.refresh_profile(now_ms);
        self.initiate(now_ms, rng, peer, &advertised);
    }

    fn on_encoded(
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
            MessageType::Data => match self.on_data(now_ms, rng, peer, &bytes) {
                Ok(Some(text)) => return Received::Message { text },
                Ok(None) => Reaction::Ignore,
                Err(r) => r,
            },
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

    fn reply_unreadable(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        self.events.push_back(Event::Unreadable {
            peer: peer.to_string(),
        });
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.last_error_reply
            .is_some_and(|t| now_ms.saturating_sub(t) < ERROR_REPLY_INTERVAL_MS)
        {
            return;
        }
        p.last_error_reply = Some(now_ms);
        let restart = p.auto_respond && p.session.is_none() && !p.handshake.is_running();
        self.transmits.push_back(Transmit {
            peer: peer.to_string(),
            line: envelope::format_error("ERROR_1", "Unreadable encrypted message was received."),
        });
        // We have no session the peer's message belongs to (e.g. we restarted): re-key.
        if restart {
            self.initiate(now_ms, rng, peer, &[]);
        }
    }

    /// Resolves a profile sent in full or by hash. `Ok(None)` means "unknown hash".
    fn resolve_profile(
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
        }
    }

    fn on_identity(
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
        let we_started = p.handshake.is_running() || !p.queue.is_empty();
        if !p.auto_respond && !we_started && p.session.is_none() {
            self.offer_event(now_ms, peer);
            return Reaction::Ignore;
        }
        // Glare: both sent Identity. The larger glare key stays initiator.
        if let Handshake::WaitingAuthR { state, .. } = &p.handshake
            && state.glare_key() > dake::identity_glare_key(&msg)
        {
            return Reaction::Ignore;
        }
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
        let psk = self
            .peers
            .get(peer)
            .and_then(|p| p.psk.as_ref().map(ResumptionPsk::duplicate));
        let advertised = [VERSION_CHAR];
        match dake::respond(
            rng,
            &self.local(),
            &msg,
            their_profile.clone(),
            &advertised,
            psk.as_ref(),
        ) {
            Ok((state, auth_r)) => {
                self.transmit(rng, peer, &auth_r.encode(), msg.header.sender);
                if let Some(p) = self.peers.get_mut(peer) {
                    p.profile = Some(their_profile);
                    p.handshake = Handshake::WaitingAuthI {
                        state: Box::new(state),
                        since: now_ms,
                    };
                }
            }
            Err(e) => self.dake_failed(peer, e),
        }
        Reaction::Ignore
    }

    fn on_profile_request(
        &mut self,
        _now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = ProfileRequest::decode(bytes) else {
            return Reaction::Ignore;
        };
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
        p.has_our_profile = false;
        let Handshake::WaitingAuthR { state, .. } = &mut p.handshake else {
            return Reaction::Ignore;
        };
        if !state.sent_profile_by_hash() {
            return Reaction::Ignore;
        }
        let identity = state.resend_full(&local);
        self.transmit(rng, peer, &identity.encode(), 0);
        Reaction::Ignore
    }

    fn on_auth_r(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = AuthR::decode(bytes) else {
            return Reaction::Ignore;
        };
        let their_profile = match self.resolve_profile(peer, &msg.profile, now_ms) {
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
                self.transmit(rng, peer, &auth_i.encode(), receiver);
                self.established(now_ms, rng, peer, out);
            }
            Err(e) => self.dake_failed(peer, e),
        }
        Reaction::Ignore
    }

    fn on_auth_i(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = AuthI::decode(bytes) else {
            return Reaction::Ignore;
        };
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

    fn dake_failed(&mut self, peer: &str, error: DakeError) {
        self.events.push_back(Event::DakeFailed {
            peer: peer.to_string(),
            error,
        });
    }

    fn established(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        out: DakeOutput,
    ) {
        let kem_every = self.policy.kem_every;
        let tag = self.tag;
        let their_profile = out.their_profile.clone();
        let (ssid, mode, their_tag) = (out.ssid, out.mode, out.their_tag);
        let next_psk = out.next_psk.duplicate();
        let ratchet = match Ratchet::new(rng, out, tag, kem_every) {
            Ok(r) => r,
            Err(e) => {
                self.dake_failed(peer, DakeError::Crypto(e));
                return;
            }
        };
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let rekey = p.session.is_some();
        p.previous = p.session.take().map(|s| (s, now_ms));
        p.session = Some(Established {
            ratchet,
            their_profile: their_profile.clone(),
            ssid,
            mode,
            last_sent: now_ms,
            last_recv: now_ms,
            unanswered: false,
        });
        p.handshake = Handshake::Idle;
        p.finished = false;
        p.psk = Some(next_psk);
        p.profile = Some(their_profile.clone());
        p.has_our_profile = true;
        self.events.push_back(Event::Private {
            peer: peer.to_string(),
            their_tag,
            fingerprint: *their_profile.fingerprint(),
            ssid,
            mode,
            rekey,
        });
        self.release_queue(now_ms, rng, peer);
    }

    /// Sends everything queued for `peer` through its established session.
    fn release_queue(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng, peer: &str) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let queued: Vec<String> = p.queue.drain(..).collect();
        p.queued_bytes = 0;
        let count = queued.len();
        for text in queued {
            let payload = Payload {
                text: text.into_bytes(),
                tlvs: Vec::new(),
            };
            if self.send_payload(rng, peer, now_ms, 0, &payload).is_err() {
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

    fn on_data(
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
        let Some(p) = self.peers.get_mut(peer) else {
            return Err(Reaction::Ignore);
        };
        let Some(s) = p.session.as_mut() else {
            return Err(unreadable);
        };
        let plaintext = match s.ratchet.decrypt(rng, &msg) {
            Ok(pt) => pt,
            Err(RatchetError::Duplicate) => return Err(Reaction::Ignore),
            Err(_) => {
                // A message sent on the session a re-key just replaced.
                let Some((old, _)) = p.previous.as_mut() else {
                    return Err(unreadable);
                };
                match old.ratchet.decrypt(rng, &msg) {
                    Ok(pt) => {
                        let payload = Payload::decode(&pt).map_err(|_| Reaction::Ignore)?;
                        let text = String::from_utf8_lossy(&payload.text).into_owned();
                        return Ok((!text.is_empty()).then_some(text));
                    }
                    Err(RatchetError::Duplicate) => return Err(Reaction::Ignore),
                    Err(_) => return Err(unreadable),
                }
            }
        };
        s.last_recv = now_ms;
        // The message authenticated, so malformed contents mean a broken peer, not an attacker.
        let payload = Payload::decode(&plaintext).map_err(|_| Reaction::EndSession)?;
        let mut disconnected = false;
        for tlv in &payload.tlvs {
            // SMP TLVs (types 2..=7) are reserved for the SMP layer; padding and unknown
            // types are skipped.
            if tlv.tlv_type == types::DISCONNECTED {
                disconnected = true;
            }
        }
        if disconnected {
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

    // ---------------------------------------------------------------- timers

    /// Runs timers: handshake timeouts, heartbeats, idle expiry and fragment expiry.
    pub fn handle_timeout(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng) {
        self.refresh_profile(now_ms);
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            let Some(p) = self.peers.get_mut(&peer) else {
                continue;
            };
            p.assembler.expire(now_ms);
            let _ = p.joiner.expire(now_ms);
            if p.previous.as_ref().is_some_and(|(_, since)| {
                now_ms.saturating_sub(*since) >= PREVIOUS_SESSION_GRACE_MS
            }) {
                p.previous = None;
            }
            if let Some(since) = p.handshake.since()
                && now_ms.saturating_sub(since) >= self.policy.dake_timeout_ms
            {
                p.handshake = Handshake::Idle;
                if p.session.is_some() {
                    // A re-key that never completed: the current session still works, so what
                    // was queued behind the re-key goes out through it.
                    self.release_queue(now_ms, rng, &peer);
                } else {
                    self.events.push_back(Event::NoAnswer {
                        peer: peer.clone(),
                        queued: p.queue.len(),
                    });
                }
            }
            let Some(p) = self.peers.get_mut(&peer) else {
                continue;
            };
            let Some(s) = p.session.as_ref() else {
                continue;
            };
            let idle_since = s.last_sent.max(s.last_recv);
            if now_ms.saturating_sub(idle_since) >= self.policy.idle_expiry_ms {
                self.end_session(now_ms, rng, &peer, EndReason::Expired);
                continue;
            }
            if s.unanswered && now_ms.saturating_sub(s.last_recv) >= self.policy.heartbeat_ms {
                let heartbeat = Payload::default();
                let _ = self.send_payload(rng, &peer, now_ms, FLAG_IGNORE_UNREADABLE, &heartbeat);
            }
        }
        self.peers.retain(|_, p| !p.is_disposable());
    }

    /// Memory held in fragment buffers across all peers (for tests and diagnostics).
    pub fn buffered_fragment_bytes(&self) -> usize {
        self.peers
            .values()
            .map(|p| p.assembler.buffered_bytes() + p.joiner.pending_bytes())
            .sum()
    }

    /// Number of peers tracked.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
}
