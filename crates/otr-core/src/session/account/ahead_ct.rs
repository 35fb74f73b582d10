//! The initiator's CT_R sent ahead (docs/PROTOCOL.md §5.9, §6.1, §6.5). As soon as the
//! initiator knows the responder's profile (its Profile message, or our cache) and offered no
//! PSK, it encapsulates to the responder's long-term ML-KEM key and sends CT_R in a Ciphertext
//! message, so those lines cross the server on the initiator's budget while Auth-R arrives,
//! and Auth-I, which waits for Auth-R, is two lines instead of eight. The responder holds it,
//! unauthenticated, until Auth-I refers to it; the transcript binds it as it binds a CT_R
//! inside Auth-I.

use super::*;
use crate::session::peer::AuthIResend;
use crate::wire::dake::{CiphertextAhead, SENT_AHEAD_REQUEST};

impl Account {
    /// We sent Identity and know the responder's profile: CT_R goes now, as normal lines, at
    /// most once per handshake and only if we offered no PSK (the DAKE state decides both).
    pub(super) fn send_ciphertext_ahead(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        their_profile: &ClientProfile,
    ) {
        let Some(Handshake::WaitingAuthR { state, .. }) =
            self.peers.get_mut(peer).map(|p| &mut p.handshake)
        else {
            return;
        };
        // Nothing sent (or a failed encapsulation): Auth-I carries CT_R as before.
        let Ok(Some(msg)) = state.encapsulate_ahead(their_profile) else {
            return;
        };
        self.transmit(rng, peer, &msg.encode(), msg.header.receiver);
    }

    /// A Ciphertext message (we are the responder). It is looked at only while our Auth-R
    /// waits for Auth-I, from that handshake's initiator tag and addressed to ours, and held
    /// in the handshake state (the last one; none in PSK mode). It costs no computation, and
    /// anything else is ignored and changes nothing; nothing is reported.
    pub(super) fn on_ciphertext_ahead(&mut self, peer: &str, bytes: &[u8]) -> Reaction {
        let Ok(msg) = CiphertextAhead::decode(bytes) else {
            return Reaction::Ignore;
        };
        if msg.header.receiver != self.tag {
            return Reaction::Ignore;
        }
        let Some(Handshake::WaitingAuthI { state, .. }) =
            self.peers.get_mut(peer).map(|p| &mut p.handshake)
        else {
            return Reaction::Ignore;
        };
        if state.their_tag() == msg.header.sender {
            state.hold_ciphertext(&msg.ct);
        }
        Reaction::Ignore
    }

    /// An Auth-I from our handshake's initiator says CT_R went ahead, and we hold none (the
    /// Ciphertext message was lost): we ask for the Auth-I in full with a Profile-Request
    /// with the zero hash, once per handshake. Returns whether the Auth-I is to be dropped
    /// unreported (it cannot be checked without CT_R); other Auth-I messages go on to the DAKE.
    pub(super) fn ciphertext_missing(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        msg: &AuthI,
    ) -> bool {
        let our_tag = self.tag;
        let Some(Handshake::WaitingAuthI {
            state,
            ct_requested,
            ..
        }) = self.peers.get_mut(peer).map(|p| &mut p.handshake)
        else {
            return false;
        };
        if !msg.ct_sent_ahead
            || state.holds_ciphertext()
            || state.mode() != dake::Mode::Full
            || msg.header.sender != state.their_tag()
            || msg.header.receiver != our_tag
        {
            return false;
        }
        if *ct_requested {
            return true;
        }
        *ct_requested = true;
        let request = ProfileRequest {
            header: Header {
                msg_type: MessageType::ProfileRequest,
                sender: our_tag,
                receiver: msg.header.sender,
            },
            unknown_hash: SENT_AHEAD_REQUEST,
        };
        self.transmit(rng, peer, &request.encode(), msg.header.sender);
        true
    }

    /// Keeps `auth_i` (just sent) in full if it referred to our CT_R sent ahead; forgets the
    /// one kept before either way.
    pub(super) fn keep_auth_i_in_full(&mut self, peer: &str, resend: Option<AuthIResend>) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.auth_i_resend = resend;
        }
    }

    /// The responder asks for what we sent ahead (zero hash). If that is our CT_R, our
    /// Auth-I goes again in full (same CT_R, σ_I and confirm), once, to the tag it went to,
    /// and only while the session it derived waits aside or is held. What we had sent early
    /// on that session reached the responder before it could read it (it drops it quietly
    /// while it waits), so it goes again right behind.
    pub(super) fn resend_auth_i_in_full(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        msg: &ProfileRequest,
    ) {
        if msg.header.receiver != self.tag {
            return;
        }
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let due = p
            .auth_i_resend
            .as_ref()
            .is_some_and(|r| r.to == msg.header.sender && p.auth_i_resend_is_current(r));
        if !due {
            return;
        }
        let Some(resend) = p.auth_i_resend.take() else {
            return;
        };
        if let Some(u) = p.unconfirmed.as_mut() {
            u.early = 0;
        }
        self.transmit(rng, peer, &resend.auth_i, resend.to);
        self.send_early(now_ms, rng, peer);
    }

    /// Forgets a kept Auth-I whose session is no longer aside or held (confirmed, expired,
    /// dropped or replaced).
    pub(super) fn drop_stale_auth_i(&mut self, peer: &str) {
        if let Some(p) = self.peers.get_mut(peer)
            && p.auth_i_resend
                .as_ref()
                .is_some_and(|r| !p.auth_i_resend_is_current(r))
        {
            p.auth_i_resend = None;
        }
    }
}
