//! The resumption-PSK chain: when a PSK may be used, and forgetting a peer.

use super::*;
use crate::dake::Mode;

impl Peer {
    /// Records a committed session in the PSK chain: full mode starts a new chain.
    pub(crate) fn note_psk_chain(&mut self, mode: Mode, now_ms: u64) {
        match mode {
            Mode::Full => {
                self.psk_uses = 0;
                self.psk_full_at = now_ms;
            }
            Mode::Psk => self.psk_uses = self.psk_uses.saturating_add(1),
        }
    }
}

impl Account {
    /// The PSKs to offer (as initiator) or accept (as responder) with `peer`, if its chain
    /// is within the policy: the one renewed at the last session's first ML-KEM mix (if this
    /// side took that step), then the one its DAKE derived. Otherwise none, and the DAKE runs
    /// in full mode, which authenticates the peer's long-term ML-KEM key again instead of
    /// trusting a chain of sessions forever.
    pub(super) fn usable_psks(&self, peer: &str, now_ms: u64) -> Vec<ResumptionPsk> {
        let Some(p) = self.peers.get(peer) else {
            return Vec::new();
        };
        let fresh = p.psk_uses < self.policy.psk_max_uses
            && now_ms.saturating_sub(p.psk_full_at) < self.policy.psk_max_age_ms;
        if !fresh {
            return Vec::new();
        }
        [&p.psk_renewed, &p.psk]
            .into_iter()
            .flatten()
            .map(ResumptionPsk::duplicate)
            .collect()
    }

    /// Drops the resumption PSK shared with `peer` (the user's `distrust`): the next DAKE
    /// runs in full mode and authenticates the peer's long-term ML-KEM key again.
    pub fn drop_psk(&mut self, peer: &str) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.psk = None;
            p.psk_renewed = None;
            p.psk_uses = 0;
        }
    }

    /// Forgets what was learnt about `peer` (the shell's `*otr forget`): the resumption PSK,
    /// the cached profile and its attestation, the session a re-key replaced, any running handshake or session
    /// awaiting confirmation, the accepted keys and a held handshake. The next DAKE with the peer runs in full mode. A current
    /// session, the queue and the peer's settings (auto-respond, budget) stay; end the session
    /// with [`Account::finish`].
    pub fn forget_peer(&mut self, peer: &str) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        p.psk = None;
        p.psk_renewed = None;
        p.psk_uses = 0;
        p.psk_full_at = 0;
        p.profile = None;
        p.attestation = None;
        p.has_our_profile = false;
        p.previous = None;
        p.handshake = Handshake::Idle;
        p.unconfirmed = None;
        p.auth_i_resend = None;
        self.forget_keys(peer);
    }
}
