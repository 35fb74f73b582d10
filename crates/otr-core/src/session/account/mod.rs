//! The account: one local identity talking to many peers. It routes every received line to
//! the peer's fragment reassembly, handshake or session, and queues transmits and events.

use std::collections::{HashMap, VecDeque};

mod ahead;
mod ahead_ct;
mod attestation;
mod incoming;
mod legacy;
mod outgoing;
mod pinning;
mod psk;
mod smp;
mod strangers;
mod timers;

pub use legacy::Protocol;
pub use pinning::Accepted;
pub(crate) use pinning::Held;

use super::event::{
    EndReason, Event, Received, SendError, SendOutcome, SmpCommandError, SmpEvent, Transmit,
};
use super::peer::{Established, Handshake, Peer, Unconfirmed};
use super::policy::Policy;
use crate::crypto::CryptoError;
use crate::dake::{self, DakeError, DakeOutput, Local, ResumptionPsk};
use crate::fragment::irc_split::Joined;
use crate::fragment::{self, fragmenter};
use crate::limits::{
    ERROR_REPLY_INTERVAL_MS, MAX_ACCEPTED_KEYS, MAX_PLAINTEXT_BYTES, MAX_QUEUED_BYTES,
    MAX_QUEUED_MESSAGES,
};
use crate::profile::{
    Attestation, AttestationError, ClientProfile, DEFAULT_PROFILE_LIFETIME_SECS, Fingerprint,
    LongTermKeys, ProfileError,
};
use crate::ratchet::{Ratchet, RatchetError};
use crate::smp::{SmpOutput, SmpStatus};
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
    /// Where an SMP run stands (idle without a session).
    pub smp: SmpStatus,
    /// The key of a handshake held for the user's decision (see [`Account::accept_key`]).
    pub held: Option<Fingerprint>,
    /// The protocol of the private session (while encrypted).
    pub protocol: Option<Protocol>,
    /// The peer's OTRv3 DSA fingerprint (in an OTRv3/v2 session).
    pub legacy_fingerprint: Option<[u8; 20]>,
    /// The peer's ML-DSA-87 attestation of the profile shown (the session's, else the cached
    /// one) verified: see [`Account::is_attested`].
    pub attested: bool,
}

/// One local OTRv4+ identity and its sessions with every peer.
pub struct Account {
    keys: LongTermKeys,
    profile: ClientProfile,
    /// Our ML-DSA-87 attestation of `profile` (re-signed with it).
    attestation: Attestation,
    tag: u32,
    policy: Policy,
    peers: HashMap<String, Peer>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Our OTRv3 identity (`None` until the caller provides it; see
    /// [`Account::set_legacy_identity`]).
    legacy: Option<legacy::LegacyIdentity>,
    /// OTRv3/v2 input from peers kept until the identity exists.
    legacy_backlog: VecDeque<(String, legacy::Backlog)>,
    /// [`Event::LegacyKeyNeeded`] was raised and not yet answered.
    legacy_key_requested: bool,
}

/// Our attestation of our own profile.
fn sign_attestation(
    keys: &LongTermKeys,
    profile: &ClientProfile,
) -> Result<Attestation, CryptoError> {
    Attestation::sign(keys, profile).map_err(|e| match e {
        AttestationError::Crypto(c) => c,
        _ => CryptoError::Internal,
    })
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
        let attestation = sign_attestation(&keys, &profile)?;
        Ok(Account {
            keys,
            profile,
            attestation,
            tag,
            policy,
            peers: HashMap::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            legacy: None,
            legacy_backlog: VecDeque::new(),
            legacy_key_requested: false,
        })
    }

    /// Creates an account that reuses a profile signed earlier (persisted by the caller), so
    /// peers that cached it keep recognising it by hash. The profile is used only if it
    /// verifies, belongs to these keys and this tag, and is not close to expiry; otherwise a
    /// new one is signed. [`Account::profile`] shows which was used.
    pub fn with_stored_profile(
        keys: LongTermKeys,
        tag: u32,
        policy: Policy,
        profile: &[u8],
        now_ms: u64,
    ) -> Result<Self, CryptoError> {
        let mut account = Account::new(keys, tag, policy, now_ms)?;
        let now = ms_to_unix(now_ms);
        if let Ok(stored) = ClientProfile::decode_and_verify(profile, now)
            && stored.fingerprint() == account.profile.fingerprint()
            && stored.owner_tag() == account.tag
            && stored.expiry() - now > PROFILE_REFRESH_MARGIN_SECS
        {
            account.attestation = sign_attestation(&account.keys, &stored)?;
            account.profile = stored;
        }
        Ok(account)
    }

    /// The peer's most recently verified profile (to cache it across restarts).
    pub fn peer_profile(&self, peer: &str) -> Option<&ClientProfile> {
        self.peers.get(peer).and_then(|p| p.profile.as_ref())
    }

    /// Gives the account a profile for `peer` cached from an earlier run, so the next
    /// handshake can refer to it by hash. It is verified first (signatures, expiry); a peer
    /// that already has a profile keeps it. Returns the profile's fingerprint.
    pub fn remember_peer_profile(
        &mut self,
        peer: &str,
        bytes: &[u8],
        now_ms: u64,
    ) -> Result<Fingerprint, ProfileError> {
        let profile = ClientProfile::decode_and_verify(bytes, ms_to_unix(now_ms))?;
        let fingerprint = *profile.fingerprint();
        if let Some(p) = self.peer_mut(peer, now_ms)
            && p.profile.is_none()
        {
            p.profile = Some(profile);
        }
        Ok(fingerprint)
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

    /// The peer's state, created if needed, for something the user asked for: it always gets
    /// a slot (strangers are evicted for it). Lines from the network use `admit`.
    fn peer_mut(&mut self, peer: &str, now: u64) -> Option<&mut Peer> {
        self.admit(peer, now, false)
    }

    /// Whether to answer OTRv4+ offers from this peer by starting a handshake (the shell sets
    /// this for opted-in peers). Offers from other peers raise [`Event::OfferReceived`]. An
    /// opted-in peer always gets a slot and is never evicted; see
    /// [`Account::set_accept_offers`] for peers answered only because strangers are accepted.
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
    /// when the old name had a session or handshake (the live conversation wins). The keys
    /// accepted for the old name stay accepted for it too, so that whoever takes the old nick
    /// next is held unless it has one of them. Returns whether anything moved.
    pub fn rename_peer(&mut self, old: &str, new: &str) -> bool {
        if old == new {
            return false;
        }
        let Some(p) = self.peers.remove(old) else {
            return false;
        };
        let live = p.session.is_some() || p.handshaking();
        match self.peers.get(new) {
            Some(existing) if !live && !existing.is_disposable() => {
                // Keep what the new name already had; the old entry held nothing live.
                self.peers.insert(old.to_string(), p);
                false
            }
            _ => {
                let mut p = p;
                let accepted = p.accepted.clone();
                let legacy_accepted = p.legacy_accepted.clone();
                // Keys accepted for the new name before stay accepted for it.
                if let Some(existing) = self.peers.get(new) {
                    for fp in &existing.accepted {
                        if !p.accepted.contains(fp) && p.accepted.len() < MAX_ACCEPTED_KEYS {
                            p.accepted.push(*fp);
                        }
                    }
                }
                self.peers.insert(new.to_string(), p);
                if !accepted.is_empty() || !legacy_accepted.is_empty() {
                    let mut left = Peer::new(0);
                    left.accepted = accepted;
                    left.legacy_accepted = legacy_accepted;
                    self.peers.insert(old.to_string(), left);
                }
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
                smp: SmpStatus::Idle,
                held: None,
                protocol: None,
                legacy_fingerprint: None,
                attested: false,
            };
        };
        if p.legacy_private() {
            return self.legacy_session_info(p);
        }
        let state = if p.finished {
            State::Finished
        } else if p.session.is_some() {
            State::Encrypted
        } else if p.handshaking() {
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
            smp: p
                .session
                .as_ref()
                .map_or(SmpStatus::Idle, |s| s.smp.status()),
            held: p.held.as_ref().map(|h| *h.out.their_profile.fingerprint()),
            protocol: p.session.as_ref().map(|_| Protocol::V4Plus),
            legacy_fingerprint: None,
            attested: self.is_attested(peer),
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
        // Every deadline `handle_timeout` acts on must be here, or its work waits for some
        // unrelated timer (a replaced session's keys would live until the idle expiry).
        consider(self.profile_refresh_at());
        for p in self.peers.values() {
            if let Some(since) = p.handshake.since() {
                consider(since.saturating_add(self.policy.dake_timeout_ms));
            }
            if let Some((_, since)) = &p.previous {
                consider(since.saturating_add(PREVIOUS_SESSION_GRACE_MS));
            }
            if let Some(u) = &p.unconfirmed {
                consider(u.since.saturating_add(self.policy.dake_timeout_ms));
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
                if let Some(t) = s.smp.since() {
                    consider(t.saturating_add(self.policy.smp_timeout_ms));
                }
            }
            if let Some(t) = p.assembler.next_expiry() {
                consider(t);
            }
            if let Some(t) = p.joiner.next_expiry() {
                consider(t);
            }
            if let Some(h) = &p.held {
                consider(h.since.saturating_add(pinning::HELD_HANDSHAKE_MS));
            }
            if let Some(t) = self.legacy_expiry_at(p) {
                consider(t);
            }
            if let Some(t) = p.legacy_smp_since() {
                consider(t.saturating_add(self.policy.smp_timeout_ms));
            }
        }
        next
    }

    /// When our profile is due to be re-signed (milliseconds).
    fn profile_refresh_at(&self) -> u64 {
        let secs = self
            .profile
            .expiry()
            .saturating_sub(PROFILE_REFRESH_MARGIN_SECS);
        u64::try_from(secs).unwrap_or(0).saturating_mul(1000)
    }

    /// Memory held in fragment buffers across all peers (for tests and diagnostics).
    pub fn buffered_fragment_bytes(&self) -> usize {
        self.peers.values().map(Peer::buffered_bytes).sum()
    }

    /// Number of peers tracked.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }
}

#[cfg(test)]
mod tests;
