//! Key pinning: a DAKE that completes under a key the user has not accepted for the peer is
//! held, not used. Nothing queued or typed is encrypted to it, the working session (if any),
//! the resumption PSK and the cached profile stay as they were, and the caller is told with
//! [`Event::KeyNotAccepted`]. Only [`Account::accept_key`] (the user's decision) turns the
//! held handshake into the session.
//!
//! With no key accepted yet (first contact) the key is accepted on first use unless the policy
//! says to hold first contacts too ([`Policy::hold_first_contact`]).

use super::*;

/// How long a held handshake waits for the user's decision before it is wiped. Accepting the
/// key later starts a new handshake instead.
pub(super) const HELD_HANDSHAKE_MS: u64 = 10 * 60 * 1000;

/// A completed DAKE under a key the user has not accepted (yet).
pub(crate) struct Held {
    pub out: DakeOutput,
    pub since: u64,
}

/// What [`Account::accept_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The held handshake under this key became the session (queued messages were sent).
    SessionStarted,
    /// The key is accepted; no handshake under it was held, so a new one was started to send
    /// what is queued.
    HandshakeStarted,
    /// The key is accepted for future sessions; nothing was waiting.
    Remembered,
}

impl Account {
    /// Whether `fingerprint` may carry a session with `peer`. A first key is accepted here
    /// (trust on first use) unless the policy holds first contacts.
    pub(super) fn admit_key(&mut self, peer: &str, fingerprint: &Fingerprint) -> bool {
        let hold_first = self.policy.hold_first_contact;
        let Some(p) = self.peers.get_mut(peer) else {
            return false;
        };
        if p.accepted.contains(fingerprint) {
            return true;
        }
        if p.accepted.is_empty() && !hold_first {
            p.accepted.push(*fingerprint);
            return true;
        }
        false
    }

    /// Keeps a completed DAKE under an unaccepted key aside and tells the caller. The peer's
    /// session, queue, PSK and profile are untouched.
    pub(super) fn hold(&mut self, now_ms: u64, peer: &str, out: DakeOutput) {
        let offered = *out.their_profile.fingerprint();
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        p.handshake = Handshake::Idle;
        let accepted = p.accepted.clone();
        let queued = p.queue.len();
        p.held = Some(Held { out, since: now_ms });
        self.events.push_back(Event::KeyNotAccepted {
            peer: peer.to_string(),
            offered,
            accepted,
            queued,
        });
    }

    /// Records the user's decision that `fingerprint` is `peer`'s key. A handshake held under
    /// it becomes the session and the queue is released; otherwise, if messages are queued
    /// and nothing is running, a new handshake starts.
    pub fn accept_key(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        fingerprint: &Fingerprint,
    ) -> Accepted {
        self.pin_key(peer, fingerprint);
        let Some(p) = self.peers.get_mut(peer) else {
            return Accepted::Remembered;
        };
        let held = p
            .held
            .take_if(|h| h.out.their_profile.fingerprint() == fingerprint);
        if let Some(held) = held {
            if held.out.role == dake::Role::Responder {
                self.established(now_ms, rng, peer, held.out);
            } else if let Some((session, psk)) = self.new_session(now_ms, rng, peer, held.out) {
                // As initiator, the responder's confirmation came while the key was held and
                // was dropped unread: the user's decision stands in for it.
                self.commit_session(now_ms, rng, peer, session, psk);
                self.send_attestation_if_due(now_ms, rng, peer);
            }
            return Accepted::SessionStarted;
        }
        let idle = p.session.is_none() && !p.handshake.is_running();
        if idle && !p.queue.is_empty() {
            self.start(now_ms, rng, peer);
            return Accepted::HandshakeStarted;
        }
        Accepted::Remembered
    }

    /// Adds `fingerprint` to the keys accepted for `peer` without touching any session (to
    /// restore the user's earlier decisions at start-up). At most [`MAX_ACCEPTED_KEYS`] are
    /// kept; the oldest makes room.
    pub fn pin_key(&mut self, peer: &str, fingerprint: &Fingerprint) {
        let Some(p) = self.peer_mut(peer, 0) else {
            return;
        };
        if p.accepted.contains(fingerprint) {
            return;
        }
        if p.accepted.len() >= MAX_ACCEPTED_KEYS {
            p.accepted.remove(0);
        }
        p.accepted.push(*fingerprint);
    }

    /// Whether a peer's first key is held for the user's decision too.
    pub fn set_hold_first_contact(&mut self, on: bool) {
        self.policy.hold_first_contact = on;
    }

    /// Forgets the keys accepted for `peer` and any handshake held for a decision (the user's
    /// `forget`): its next key is a first contact again.
    pub(super) fn forget_keys(&mut self, peer: &str) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.accepted.clear();
            p.held = None;
            p.legacy_accepted.clear();
            p.legacy_held = None;
        }
    }

    /// The keys accepted for `peer`.
    pub fn accepted_keys(&self, peer: &str) -> &[Fingerprint] {
        self.peers.get(peer).map_or(&[], |p| p.accepted.as_slice())
    }

    /// The key of a handshake held for the user's decision, if any.
    pub fn held_key(&self, peer: &str) -> Option<Fingerprint> {
        self.peers
            .get(peer)
            .and_then(|p| p.held.as_ref())
            .map(|h| *h.out.their_profile.fingerprint())
    }

    /// Wipes held handshakes the user did not decide on in time.
    pub(super) fn expire_held(&mut self, now_ms: u64) {
        for p in self.peers.values_mut() {
            if p.held
                .as_ref()
                .is_some_and(|h| now_ms.saturating_sub(h.since) >= HELD_HANDSHAKE_MS)
            {
                p.held = None;
            }
        }
    }
}
