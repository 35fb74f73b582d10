//! The ML-DSA-87 half of a client profile, sent inside the session instead of in the profile.
//!
//! `attestation = DSA-PK || ML-DSA-87(DSA, context "OTRv4+ client profile", profile body)`,
//! where the body is every byte of the profile before its Ed448 signature. It is valid for
//! exactly one profile: the key must hash to the profile's DSA-HASH (which the fingerprint
//! covers) and the signature must verify over that profile's body.

use super::{ClientProfile, LongTermKeys, PROFILE_SIG_CONTEXT, dsa_hash_of};
use crate::crypto::CryptoError;
use crate::crypto::mldsa::{self, DsaPublic};

/// Length of an attestation: ML-DSA-87 public key then signature.
pub const ATTESTATION_LEN: usize = mldsa::PK_LEN + mldsa::SIG_LEN;

/// Why an attestation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttestationError {
    /// Not `ATTESTATION_LEN` bytes.
    #[error("malformed profile attestation")]
    Length,
    /// The key does not hash to the profile's DSA-HASH (another peer's key, or another key).
    #[error("attestation key does not match the profile")]
    WrongKey,
    /// The ML-DSA-87 signature does not verify over the profile's body.
    #[error("attestation signature invalid")]
    BadSignature,
    /// No verified profile of the peer is held to check it against.
    #[error("no profile of the peer to attest")]
    UnknownProfile,
    /// Signing failed (our own attestation).
    #[error("attestation could not be signed: {0}")]
    Crypto(#[from] CryptoError),
}

/// An attestation verified for one profile (or made by us for our own).
#[derive(Clone, PartialEq, Eq)]
pub struct Attestation {
    bytes: Vec<u8>,
    profile_hash: [u8; 32],
}

impl core::fmt::Debug for Attestation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Attestation").finish_non_exhaustive()
    }
}

impl Attestation {
    /// Signs the attestation of our own `profile` (which must be signed with `keys`).
    pub fn sign(keys: &LongTermKeys, profile: &ClientProfile) -> Result<Self, AttestationError> {
        if profile.dsa_hash() != &keys.dsa_hash() {
            return Err(AttestationError::WrongKey);
        }
        let sig = keys.dsa.sign(PROFILE_SIG_CONTEXT, profile.body())?;
        let mut bytes = Vec::with_capacity(ATTESTATION_LEN);
        bytes.extend_from_slice(keys.dsa.public().as_bytes());
        bytes.extend_from_slice(&sig);
        if bytes.len() != ATTESTATION_LEN {
            return Err(CryptoError::Internal.into());
        }
        Ok(Attestation {
            bytes,
            profile_hash: *profile.hash(),
        })
    }

    /// Checks `bytes` as the attestation of `profile`: the length, then that the key hashes
    /// to the profile's DSA-HASH (cheap), then the ML-DSA-87 signature over its body.
    pub fn verify(bytes: &[u8], profile: &ClientProfile) -> Result<Self, AttestationError> {
        if bytes.len() != ATTESTATION_LEN {
            return Err(AttestationError::Length);
        }
        let (pk, sig) = bytes.split_at(mldsa::PK_LEN);
        if &dsa_hash_of(pk) != profile.dsa_hash() {
            return Err(AttestationError::WrongKey);
        }
        let key = DsaPublic::from_bytes(pk).map_err(|_| AttestationError::Length)?;
        key.verify(PROFILE_SIG_CONTEXT, profile.body(), sig)
            .map_err(|_| AttestationError::BadSignature)?;
        Ok(Attestation {
            bytes: bytes.to_vec(),
            profile_hash: *profile.hash(),
        })
    }

    /// The encoding (the TLV value and what a store keeps).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The ProfileHash of the profile this attestation is valid for.
    pub fn profile_hash(&self) -> &[u8; 32] {
        &self.profile_hash
    }

    /// Whether it is valid for `profile`.
    pub fn is_for(&self, profile: &ClientProfile) -> bool {
        &self.profile_hash == profile.hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_rng;

    const NOW: i64 = 1_800_000_000;

    fn party(seed: u64) -> (LongTermKeys, ClientProfile) {
        let mut rng = test_rng(seed);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + 100).unwrap();
        (keys, p)
    }

    #[test]
    fn own_attestation_verifies_for_its_profile_only() {
        let (keys, p) = party(20);
        let a = Attestation::sign(&keys, &p).unwrap();
        assert_eq!(a.as_bytes().len(), ATTESTATION_LEN);
        let v = Attestation::verify(a.as_bytes(), &p).unwrap();
        assert!(v.is_for(&p));
        // The same keys, re-signed with another expiry: another profile body.
        let q = ClientProfile::sign(&keys, 0x1234, NOW + 200).unwrap();
        assert_eq!(
            Attestation::verify(a.as_bytes(), &q).unwrap_err(),
            AttestationError::BadSignature
        );
        // Another party's profile: its DSA-HASH differs.
        let (_, other) = party(21);
        assert_eq!(
            Attestation::verify(a.as_bytes(), &other).unwrap_err(),
            AttestationError::WrongKey
        );
    }

    #[test]
    fn altered_attestations_are_refused() {
        let (keys, p) = party(22);
        let a = Attestation::sign(&keys, &p).unwrap();
        let mut bad = a.as_bytes().to_vec();
        bad[10] ^= 1;
        assert_eq!(
            Attestation::verify(&bad, &p).unwrap_err(),
            AttestationError::WrongKey
        );
        let mut bad = a.as_bytes().to_vec();
        bad[mldsa::PK_LEN + 100] ^= 1;
        assert_eq!(
            Attestation::verify(&bad, &p).unwrap_err(),
            AttestationError::BadSignature
        );
        assert_eq!(
            Attestation::verify(&a.as_bytes()[1..], &p).unwrap_err(),
            AttestationError::Length
        );
        // A key from another party with a valid signature of its own profile.
        let (keys2, p2) = party(23);
        let b = Attestation::sign(&keys2, &p2).unwrap();
        assert_eq!(
            Attestation::verify(b.as_bytes(), &p).unwrap_err(),
            AttestationError::WrongKey
        );
        assert!(Attestation::sign(&keys2, &p).is_err());
    }
}
