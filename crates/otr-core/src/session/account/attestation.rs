//! Profile attestations: each side sends its ML-DSA-87 key and signature over its profile
//! (TLV 9) once its session is private, unless the peer said in the DAKE that it holds them;
//! a received one is checked against the profile the DAKE authenticated and cached with it.
//! (docs/PROTOCOL.md §4.4.)

use super::*;

impl Account {
    /// Sends our attestation on the peer's current session if it is still due. Its lines are
    /// bulk: nothing typed waits for them.
    pub(super) fn send_attestation_if_due(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        let due = self
            .peers
            .get(peer)
            .and_then(|p| p.session.as_ref())
            .is_some_and(|s| s.attestation_due);
        if !due {
            return;
        }
        let payload = Payload {
            text: Vec::new(),
            tlvs: vec![Tlv {
                tlv_type: types::PROFILE_ATTESTATION,
                value: self.attestation.as_bytes().to_vec(),
            }],
        };
        if self
            .send_payload_as(rng, peer, now_ms, FLAG_IGNORE_UNREADABLE, &payload, true)
            .is_ok()
            && let Some(s) = self.peers.get_mut(peer).and_then(|p| p.session.as_mut())
        {
            s.attestation_due = false;
        }
    }

    /// An attestation TLV arrived on the session whose peer profile is `profile` (the one
    /// the DAKE authenticated). Already attested for that profile: nothing to do. Otherwise it
    /// is verified; only a valid one changes state.
    pub(super) fn on_attestation(&mut self, peer: &str, profile: &ClientProfile, value: &[u8]) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        if p.attestation.as_ref().is_some_and(|a| a.is_for(profile)) {
            return;
        }
        match Attestation::verify(value, profile) {
            Ok(a) => {
                p.attestation = Some(a);
                self.events.push_back(Event::PeerAttested {
                    peer: peer.to_string(),
                    fingerprint: *profile.fingerprint(),
                });
            }
            Err(error) => self.events.push_back(Event::AttestationFailed {
                peer: peer.to_string(),
                error,
            }),
        }
    }

    /// Whether the peer's ML-DSA-87 attestation of its profile is verified: the profile of
    /// the current session, or without one the cached profile. Until then the peer's profile
    /// is bound by Ed448 alone (its keys are still covered by the fingerprint).
    pub fn is_attested(&self, peer: &str) -> bool {
        let Some(p) = self.peers.get(peer) else {
            return false;
        };
        let Some(a) = &p.attestation else {
            return false;
        };
        match &p.session {
            Some(s) => a.is_for(&s.their_profile),
            None => p.profile.as_ref().is_some_and(|pr| a.is_for(pr)),
        }
    }

    /// The peer's verified attestation of its cached profile (to store beside it, see
    /// [`Account::peer_profile`]).
    pub fn peer_attestation(&self, peer: &str) -> Option<&Attestation> {
        let p = self.peers.get(peer)?;
        let profile = p.profile.as_ref()?;
        p.attestation.as_ref().filter(|a| a.is_for(profile))
    }

    /// Gives the account the peer's attestation stored from an earlier run, for the profile
    /// cached with [`Account::remember_peer_profile`]. It is verified first; with it the next
    /// DAKE tells the peer not to send it again.
    pub fn remember_peer_attestation(
        &mut self,
        peer: &str,
        bytes: &[u8],
    ) -> Result<(), AttestationError> {
        let p = self
            .peers
            .get_mut(peer)
            .ok_or(AttestationError::UnknownProfile)?;
        let profile = p.profile.as_ref().ok_or(AttestationError::UnknownProfile)?;
        let a = Attestation::verify(bytes, profile)?;
        p.attestation = Some(a);
        Ok(())
    }

    /// Whether we hold the peer's attestation of `profile`.
    pub(super) fn holds_attestation(&self, peer: &str, profile: &ClientProfile) -> bool {
        self.peers
            .get(peer)
            .and_then(|p| p.attestation.as_ref())
            .is_some_and(|a| a.is_for(profile))
    }
}
