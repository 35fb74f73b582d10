//! Profile attestations in the shell (docs/PROTOCOL.md §4.4): a contact shows as *verified*
//! only when its fingerprint is trusted or SMP-verified AND its ML-DSA-87 attestation arrived
//! and verified; the attestation is stored beside the contact's profile so that later sessions
//! (after a restart too) start attested.

use otr_core::profile::{AttestationError, Fingerprint};

use super::Net;
use super::otr::OtrState;

/// What the user is told about a trusted contact whose attestation has not arrived yet.
pub const ATTESTATION_PENDING: &str =
    "fingerprint verified, post-quantum signature (ML-DSA) still to come";

impl OtrState {
    /// Whether the contact is verified: its fingerprint trusted (by hand or SMP) and its
    /// profile attested by its ML-DSA-87 key.
    pub fn is_verified(&self, key: &str, fp: &Fingerprint) -> bool {
        self.is_trusted(key, fp) && self.account.is_attested(key)
    }

    /// Keeps the peer's verified profile, and its attestation once held, in the trust store.
    pub fn store_peer_profile(&mut self, key: &str) {
        if let Some(profile) = self.account.peer_profile(key) {
            let bytes = profile.as_bytes().to_vec();
            self.trust.set_profile(key, &bytes);
        }
        if let Some(a) = self.account.peer_attestation(key) {
            let bytes = a.as_bytes().to_vec();
            self.trust.set_attestation(key, &bytes);
        }
    }
}

impl Net {
    /// The peer's attestation arrived and verified: store it, and say so (the contact may
    /// now show as verified).
    pub(super) fn otr_attested(&mut self, peer: &str, fingerprint: &Fingerprint) {
        self.otr.store_peer_profile(peer);
        self.save_trust();
        let nick = self.otr.display(peer);
        tracing::debug!(peer = %nick, "peer attested");
        if self.otr.is_verified(peer, fingerprint) {
            let text = format!(
                "{nick}'s post-quantum signature (ML-DSA-87) arrived and verified: {nick} is now verified."
            );
            self.notify(&text);
            self.in_conversation(peer, &text);
        } else {
            self.notify(&format!(
                "{nick}'s post-quantum signature (ML-DSA-87) arrived and verified."
            ));
        }
    }

    /// The peer sent an attestation that does not fit its profile: it was ignored.
    pub(super) fn otr_attestation_failed(&mut self, peer: &str, error: AttestationError) {
        let nick = self.otr.display(peer);
        tracing::debug!(peer = %nick, %error, "attestation refused");
        let text = format!(
            "WARNING: {nick} sent a post-quantum signature (ML-DSA) that does not match {nick}'s key ({error}). It was ignored; {nick} is NOT shown as verified until a valid one arrives."
        );
        self.notify(&text);
        self.in_conversation(peer, &text);
    }

    /// For a contact that is not attested yet, a sentence saying that it shows as verified
    /// only once its post-quantum signature has arrived (to follow a statement that its
    /// fingerprint is now verified); empty once attested.
    pub(super) fn attestation_note(&self, peer: &str) -> String {
        if self.otr.account.is_attested(peer) {
            String::new()
        } else {
            let nick = self.otr.display(peer);
            format!(
                " {nick}'s post-quantum signature (ML-DSA) has not arrived yet: {nick} shows as verified once it has."
            )
        }
    }
}

/// Restores the attestation stored with a peer's profile (verified again by the account).
pub(super) fn restore_attestation(
    account: &mut otr_core::session::Account,
    trust: &crate::store::TrustStore,
    nick: &str,
) {
    if let Some(bytes) = trust.attestation(nick) {
        let _ = account.remember_peer_attestation(nick, &bytes);
    }
}
