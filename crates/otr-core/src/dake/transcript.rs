//! The canonical DAKE transcript. Both sides build it from the same values, whatever form the
//! profiles took on the wire (full or by hash), so every element is bound exactly once.

use crate::crypto::kdf::{Usage, hash};
use crate::crypto::ring_sig::RING_SIG_LEN;
use crate::wire::PROTOCOL_VERSION;

use super::Mode;

/// Domain label absorbed first.
const LABEL: &[u8] = b"OTRv4+ interactive DAKE";

pub(super) struct Transcript {
    pub tag_i: u32,
    pub tag_r: u32,
    pub query_versions: Vec<u8>,
    pub profile_i: [u8; 32],
    pub profile_r: [u8; 32],
    pub y_i: [u8; 57],
    pub x_i: [u8; 56],
    /// The ephemeral ML-KEM key, empty when deferred to the ratchet.
    pub ek: Vec<u8>,
    pub y_r: [u8; 57],
    pub x_r: [u8; 56],
    /// The ciphertext to it, empty when deferred.
    pub ct_e: Vec<u8>,
    pub mode: Mode,
    /// Full mode: the ciphertext to the initiator's long-term key. PSK mode: the PSK id.
    pub mode_part: Vec<u8>,
    /// Every PSK id the Identity offered, in its order (empty: none), so an id removed in
    /// flight fails σ_R instead of steering the responder to another PSK.
    pub psk_offered: Vec<u8>,
    /// Bit 0: the initiator holds the responder's attestation; bit 1: the other way round.
    pub attestation_flags: u8,
}

impl Transcript {
    fn with_parts<R>(&self, extra: &[&[u8]], f: impl FnOnce(&[&[u8]]) -> R) -> R {
        let version = PROTOCOL_VERSION.to_be_bytes();
        let tag_i = self.tag_i.to_be_bytes();
        let tag_r = self.tag_r.to_be_bytes();
        let mode = [match self.mode {
            Mode::Full => 0u8,
            Mode::Psk => 1u8,
        }];
        let attested = [self.attestation_flags];
        let mut parts: Vec<&[u8]> = vec![
            LABEL,
            &version,
            &tag_i,
            &tag_r,
            &self.query_versions,
            &self.profile_i,
            &self.profile_r,
            &self.y_i,
            &self.x_i,
            &self.ek,
            &self.y_r,
            &self.x_r,
            &self.ct_e,
            &mode,
            &self.mode_part,
            &self.psk_offered,
            &attested,
        ];
        parts.extend_from_slice(extra);
        f(&parts)
    }

    /// t_R, the message σ_R signs.
    pub fn auth_r_message(&self) -> [u8; 64] {
        self.with_parts(&[], |p| hash(Usage::AuthRMessage, p))
    }

    /// t_I, the message σ_I signs: the Auth-R transcript, σ_R and (full mode) CT_R.
    pub fn auth_i_message(&self, sigma_r: &[u8; RING_SIG_LEN], ct_r: &[u8]) -> [u8; 64] {
        self.with_parts(&[sigma_r, ct_r], |p| hash(Usage::AuthIMessage, p))
    }

    /// The hash of the whole transcript, mixed into K.
    pub fn transcript_hash(
        &self,
        sigma_r: &[u8; RING_SIG_LEN],
        ct_r: &[u8],
        sigma_i: &[u8; RING_SIG_LEN],
    ) -> [u8; 64] {
        self.with_parts(&[sigma_r, ct_r, sigma_i], |p| {
            hash(Usage::DakeTranscript, p)
        })
    }
}
