//! Fingerprint migration to profile format 0x02 (docs/PROTOCOL.md §4.3): fingerprints now
//! cover the hash of the ML-DSA key instead of the key, so every peer's fingerprint changed
//! while its keys did not. A peer whose last profile was stored in format 0x01 keeps the trust
//! the user gave it: the trust and SMP flags of its old fingerprint move to the new one.
//!
//! Only a stored profile whose Ed448 and ML-DSA signatures verify counts, and only the key
//! it names moves. The 0x01 profile itself is dropped (it is refused on the wire now); its
//! ML-DSA key is not kept as an attestation, since no signature by it over the peer's new
//! profile exists yet: the peer sends one in its first session.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use otr_core::profile::migrate_v1;

use super::Model;

/// Migrates every nick whose stored profile is of format 0x01; whether anything changed.
pub(super) fn migrate(model: &mut Model) -> bool {
    let mut changed = false;
    let mut migrated = 0usize;
    for t in model.nicks.values_mut() {
        let Some(bytes) = t.profile.as_ref().and_then(|p| STANDARD.decode(p).ok()) else {
            continue;
        };
        if bytes.first() != Some(&0x01) {
            continue;
        }
        t.profile = None;
        t.attestation = None;
        changed = true;
        let Some(m) = migrate_v1(&bytes) else {
            continue;
        };
        let (old, new) = (hex::encode_upper(m.old.0), hex::encode_upper(m.new.0));
        let Some(i) = t.fingerprints.iter().position(|k| k.fingerprint == old) else {
            continue;
        };
        match t.fingerprints.iter().position(|k| k.fingerprint == new) {
            Some(j) => {
                // Both are known (cannot happen unless written by hand): merge into the new.
                let old_key = t.fingerprints.remove(i);
                let j = if j > i { j - 1 } else { j };
                if let Some(k) = t.fingerprints.get_mut(j) {
                    k.trusted |= old_key.trusted;
                    k.smp_verified |= old_key.smp_verified;
                    k.verified_us |= old_key.verified_us;
                    k.first_seen = k.first_seen.min(old_key.first_seen);
                    k.last_seen = k.last_seen.max(old_key.last_seen);
                }
            }
            None => {
                if let Some(k) = t.fingerprints.get_mut(i) {
                    k.fingerprint = new;
                }
            }
        }
        migrated += 1;
    }
    if migrated > 0 {
        tracing::info!(
            contacts = migrated,
            "moved contacts' trust to their new fingerprints (client profile format 0x02)"
        );
    }
    changed
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use otr_core::profile::{ClientProfile, LongTermKeys};

    use super::super::{KnownKey, NickTrust, TrustStore};
    use super::*;
    use crate::store::Passphrase;
    use crate::store::sealed::{SealedFile, TEST_PARAMS};

    /// A format-0x01 profile written by the code before format 0x02, its keys and the
    /// fingerprint that code showed (crates/otr-core/tests/data/README.md).
    const V1: &[u8] = include_bytes!("../../../crates/otr-core/tests/data/profile_v1.bin");
    const V1_KEYS: &[u8] =
        include_bytes!("../../../crates/otr-core/tests/data/profile_v1_keys.bin");
    const V1_FP: &str =
        include_str!("../../../crates/otr-core/tests/data/profile_v1_fingerprint.hex");

    fn key(fp: &str, trusted: bool, smp: bool) -> KnownKey {
        KnownKey {
            fingerprint: fp.to_string(),
            first_seen: 10,
            last_seen: 20,
            trusted,
            smp_verified: smp,
            verified_us: smp,
        }
    }

    /// A store file as the previous version wrote it: bob verified by SMP under his 0x01
    /// fingerprint with his 0x01 profile stored; carol trusted under a key her stored (bad)
    /// profile does not prove; dave with a 0x02 profile.
    fn write_old_store(dir: &std::path::Path, pass: &Passphrase) -> String {
        let old_fp = V1_FP.trim().to_string();
        let mut tampered = V1.to_vec();
        tampered[300] ^= 1;
        let keys = LongTermKeys::generate(&mut rand::rng()).unwrap();
        let dave = ClientProfile::sign(&keys, 0x4444, 1_800_000_000).unwrap();
        let nicks = BTreeMap::from([
            (
                "bob".to_string(),
                NickTrust {
                    display: "Bob".into(),
                    fingerprints: vec![
                        key(&"AB".repeat(56), false, false),
                        key(&old_fp, false, true),
                    ],
                    profile: Some(STANDARD.encode(V1)),
                    attestation: None,
                },
            ),
            (
                "carol".to_string(),
                NickTrust {
                    display: "carol".into(),
                    fingerprints: vec![key(&old_fp, true, false)],
                    profile: Some(STANDARD.encode(&tampered)),
                    attestation: None,
                },
            ),
            (
                "dave".to_string(),
                NickTrust {
                    display: "dave".into(),
                    fingerprints: vec![key(&hex::encode_upper(dave.fingerprint().0), true, false)],
                    profile: Some(STANDARD.encode(dave.as_bytes())),
                    attestation: None,
                },
            ),
        ]);
        let json = serde_json::json!({ "version": 1, "nicks": nicks });
        let path = dir.join(TrustStore::file_name("libera").unwrap());
        let file = SealedFile::create_with_params(&path, pass, TEST_PARAMS).unwrap();
        file.save(&serde_json::to_vec(&json).unwrap()).unwrap();
        old_fp
    }

    #[test]
    fn a_stored_v1_profile_moves_its_keys_trust_to_the_new_fingerprint() {
        let tmp = tempfile::tempdir().unwrap();
        let pass = Passphrase::new(zeroize::Zeroizing::new(b"pw".to_vec())).unwrap();
        let old_fp = write_old_store(tmp.path(), &pass);
        let new_fp = LongTermKeys::from_bytes(V1_KEYS).unwrap().fingerprint();
        let t = TrustStore::open_or_create(tmp.path(), "libera", &pass).unwrap();
        assert!(t.is_dirty(), "the migration is saved with the next save");

        // bob: the SMP verification (and "verified us") moved; the other key is untouched.
        let s = t.key_status("bob", &new_fp.0).unwrap();
        assert!(s.smp_verified && !s.trusted);
        assert!(t.verified_us("bob", &new_fp.0));
        assert!(t.is_trusted("bob", &new_fp.0));
        let old = hex::decode(&old_fp).unwrap();
        assert_eq!(t.key_status("bob", &old), None);
        assert_eq!(t.keys("bob").len(), 2);
        assert_eq!(t.profile("bob"), None, "the 0x01 profile is dropped");
        // carol: her stored profile does not verify, so nothing moved.
        assert!(t.is_trusted("carol", &old));
        assert!(!t.is_trusted("carol", &new_fp.0));
        assert_eq!(t.profile("carol"), None);
        // dave's 0x02 profile stays.
        assert!(t.profile("dave").is_some());

        // Saved and reopened: the same, and nothing left to migrate.
        t.save().unwrap();
        let t = TrustStore::open_or_create(tmp.path(), "libera", &pass).unwrap();
        assert!(!t.is_dirty());
        assert!(t.is_trusted("bob", &new_fp.0));
    }
}
