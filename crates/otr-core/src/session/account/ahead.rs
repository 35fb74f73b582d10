//! The responder's profile sent ahead (docs/PROTOCOL.md §5.8, §6.1, §6.5). The peer that sent
//! a query sends its profile as soon as the first line of the answering Identity arrives, so
//! the Identity and the profile cross the server at once and Auth-R, which waits for the
//! whole Identity, need not carry the profile. The initiator holds it, verified but not
//! authenticated, in its handshake state until Auth-R refers to it; the transcript binds it
//! as it binds a profile inside Auth-R.

use super::*;
use crate::fragment::parse_fragment;
use crate::session::peer::SentAhead;
use crate::wire::MIN_INSTANCE_TAG;
use crate::wire::dake::{ProfileAhead, SENT_AHEAD_REQUEST};

impl Account {
    /// A fragment line from `peer`, accepted by reassembly. If we sent the peer a query and
    /// this is the first piece of an Identity that spans several lines, our profile goes out
    /// now, once per query. Peers without OTR send no such piece, so they never get it.
    pub(super) fn send_profile_ahead_if_due(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        line: &str,
    ) {
        let Some(p) = self.peers.get(peer) else {
            return;
        };
        // A peer that has our current profile names it by hash in its Identity.
        if !matches!(p.handshake, Handshake::QuerySent { ahead: None, .. }) || p.has_our_profile {
            return;
        }
        let Ok(frag) = parse_fragment(line) else {
            return;
        };
        if frag.index != 1
            || frag.total < 2
            || frag.sender_tag < MIN_INSTANCE_TAG
            || frag.sender_tag == self.tag
            || !envelope::announces(frag.piece, MessageType::Identity)
        {
            return;
        }
        // The profile Auth-R will bind: re-signed now if due, not between here and Auth-R.
        self.refresh_profile(now_ms);
        let to = frag.sender_tag;
        let msg = ProfileAhead {
            header: Header {
                msg_type: MessageType::Profile,
                sender: self.tag,
                receiver: to,
            },
            profile: self.profile.as_bytes().to_vec(),
        };
        let profile_hash = *self.profile.hash();
        self.transmit(rng, peer, &msg.encode(), to);
        if let Some(p) = self.peers.get_mut(peer)
            && let Handshake::QuerySent { ahead, .. } = &mut p.handshake
        {
            *ahead = Some(SentAhead { to, profile_hash });
        }
    }

    /// A Profile message (we are the initiator). It is looked at only while our Identity
    /// waits for its Auth-R, checked as a profile inside Auth-R would be, and held in the
    /// handshake state (one per peer, the last valid one); anything else is ignored and
    /// changes nothing. Nothing is cached, trusted or reported before the DAKE completes.
    pub(super) fn on_profile_ahead(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        bytes: &[u8],
    ) -> Reaction {
        let Ok(msg) = ProfileAhead::decode(bytes) else {
            return Reaction::Ignore;
        };
        let Some(Handshake::WaitingAuthR { profile_ahead, .. }) =
            self.peers.get(peer).map(|p| &p.handshake)
        else {
            return Reaction::Ignore;
        };
        if msg.header.receiver != self.tag {
            return Reaction::Ignore;
        }
        // The one we hold again: nothing to verify or change.
        if profile_ahead
            .as_ref()
            .is_some_and(|held| held.as_bytes() == msg.profile.as_slice())
        {
            return Reaction::Ignore;
        }
        let profile = ProfileRef::Full(msg.profile);
        if self.precheck_profile(msg.header.sender, &profile).is_err() {
            return Reaction::Ignore;
        }
        let Ok(Some(verified)) = self.resolve_profile(peer, &profile, now_ms) else {
            return Reaction::Ignore;
        };
        if let Some(p) = self.peers.get_mut(peer)
            && let Handshake::WaitingAuthR { profile_ahead, .. } = &mut p.handshake
        {
            *profile_ahead = Some(Box::new(verified.clone()));
        }
        // Our CT_R to it goes ahead too (not for a later profile replacing this one).
        self.send_ciphertext_ahead(rng, peer, &verified);
        Reaction::Ignore
    }

    /// Auth-R from `responder` says its profile went ahead: the one we hold, if it is still
    /// valid. Otherwise the Profile message was lost (or never sent): we ask for the profile
    /// with a Profile-Request, once per handshake, and the responder sends Auth-R again in
    /// full.
    pub(super) fn profile_sent_ahead(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        responder: u32,
    ) -> Option<ClientProfile> {
        let now = ms_to_unix(now_ms);
        let p = self.peers.get_mut(peer)?;
        let Handshake::WaitingAuthR {
            profile_ahead,
            profile_requested,
            ..
        } = &mut p.handshake
        else {
            return None;
        };
        if let Some(held) = profile_ahead.as_ref().filter(|pr| pr.is_valid_at(now)) {
            return Some(ClientProfile::clone(held));
        }
        if *profile_requested {
            return None;
        }
        *profile_requested = true;
        let request = ProfileRequest {
            header: Header {
                msg_type: MessageType::ProfileRequest,
                sender: self.tag,
                receiver: responder,
            },
            unknown_hash: SENT_AHEAD_REQUEST,
        };
        self.transmit(rng, peer, &request.encode(), responder);
        None
    }

    /// The initiator asks for the profile we sent ahead: our Auth-R again, with the same keys
    /// and σ_R and the full profile, once per handshake.
    pub(super) fn on_sent_ahead_request(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        msg: &ProfileRequest,
    ) -> Reaction {
        if msg.header.receiver != self.tag {
            return Reaction::Ignore;
        }
        let our_profile = &self.profile;
        let Some(p) = self.peers.get_mut(peer) else {
            return Reaction::Ignore;
        };
        let Handshake::WaitingAuthI { state, .. } = &mut p.handshake else {
            return Reaction::Ignore;
        };
        if state.their_tag() != msg.header.sender {
            return Reaction::Ignore;
        }
        let Some(auth_r) = state.resend_full(our_profile) else {
            return Reaction::Ignore;
        };
        self.transmit(rng, peer, &auth_r.encode(), msg.header.sender);
        Reaction::Ignore
    }
}
