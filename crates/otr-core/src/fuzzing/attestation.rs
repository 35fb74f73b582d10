//! Fuzz target `attestation`: the value of a profile-attestation TLV (type 9), checked against
//! a fixed profile as a session checks it against the peer's.
//!
//! The first input byte picks the mode: even, the rest is the TLV value; odd, the rest is a
//! 2-byte offset and a patch XORed into the genuine attestation there (reaching the signature
//! check with a key that matches). Invariants: only the right length gets past the length
//! check, only the profile's own key past the key check, and an accepted attestation carries
//! that key; the TLV carrying the value decodes back to it.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use std::sync::OnceLock;

use crate::crypto::mldsa;
use crate::profile::{ATTESTATION_LEN, Attestation, AttestationError, ClientProfile, LongTermKeys};
use crate::testing::{TEST_NOW_UNIX, test_rng};
use crate::wire::tlv::{Payload, Tlv, types};

/// A profile and its genuine attestation, made once per process (ML-DSA keys are slow).
fn fixture() -> &'static (ClientProfile, Vec<u8>) {
    static FIXTURE: OnceLock<(ClientProfile, Vec<u8>)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let keys = LongTermKeys::generate(&mut test_rng(0xA77E_5700)).expect("keys");
        let profile = ClientProfile::sign(&keys, 0x0000_1234, TEST_NOW_UNIX + 3600).expect("sign");
        let attestation = Attestation::sign(&keys, &profile).expect("attest");
        let bytes = attestation.as_bytes().to_vec();
        (profile, bytes)
    })
}

/// The genuine attestation of the fixture profile (a seed).
pub fn genuine() -> Vec<u8> {
    fixture().1.clone()
}

/// Target body.
pub fn attestation(data: &[u8]) {
    let (profile, genuine) = fixture();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let candidate = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let mut v = genuine.clone();
        let (off, patch) = rest.split_at(rest.len().min(2));
        let off = off.iter().fold(0usize, |a, &b| (a << 8) | usize::from(b));
        for (i, b) in patch.iter().enumerate() {
            if let Some(x) = v.get_mut(off + i) {
                *x ^= b;
            }
        }
        v
    };
    let genuine_key = genuine.get(..mldsa::PK_LEN).expect("key");
    let key = candidate.get(..mldsa::PK_LEN);
    match Attestation::verify(&candidate, profile) {
        Ok(a) => {
            assert_eq!(a.as_bytes(), candidate.as_slice());
            assert!(a.is_for(profile));
            assert_eq!(key, Some(genuine_key), "accepted another key");
        }
        Err(AttestationError::Length) => assert_ne!(candidate.len(), ATTESTATION_LEN),
        Err(AttestationError::WrongKey) => {
            assert_eq!(candidate.len(), ATTESTATION_LEN);
            assert_ne!(key, Some(genuine_key), "the profile's own key refused");
        }
        Err(e) => {
            assert_eq!(candidate.len(), ATTESTATION_LEN, "{e}");
            assert_eq!(key, Some(genuine_key), "{e} for another key");
        }
    }
    if candidate.len() <= usize::from(u16::MAX) {
        let payload = Payload {
            text: Vec::new(),
            tlvs: vec![Tlv {
                tlv_type: types::PROFILE_ATTESTATION,
                value: candidate.clone(),
            }],
        };
        let back = Payload::decode(&payload.encode()).expect("payload decodes");
        assert_eq!(
            back.tlvs.first().map(|t| t.value.as_slice()),
            Some(&candidate[..])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// The target's invariants on random raw values and random patches of the genuine
        /// attestation (a stand-in for the fuzzer where cargo-fuzz is not at hand).
        #[test]
        fn random_inputs_keep_the_invariants(
            mode in any::<u8>(),
            off in 0u16..7300,
            patch in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let mut input = vec![mode];
            if mode & 1 == 1 {
                input.extend_from_slice(&off.to_be_bytes());
            }
            input.extend_from_slice(&patch);
            attestation(&input);
        }
    }

    #[test]
    fn the_genuine_attestation_and_its_alterations_keep_the_invariants() {
        let g = genuine();
        let mut raw = vec![0u8];
        raw.extend_from_slice(&g);
        attestation(&raw);
        assert!(Attestation::verify(&g, &fixture().0).is_ok());
        for patch in [
            &[0x00, 0x05, 0x01][..],
            &[0x0B, 0x00, 0x80],
            &[0x1C, 0x40, 0xFF],
        ] {
            let mut input = vec![1u8];
            input.extend_from_slice(patch);
            attestation(&input);
        }
        attestation(&[0]);
        attestation(&[2, 1, 2, 3]);
    }
}
