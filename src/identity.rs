//! The local OTR identity: long-term keys and the instance tag, shared by every network.
//!
//! With `data.identity = "persistent"` (the default) the identity is kept encrypted in the
//! data directory (`store::identity_file`, via [`Identity::from_stored`] and
//! [`Identity::to_stored`]); with `"ephemeral"` it is generated at start ([`Identity::generate`])
//! and never written to disk (the OTRv4Plus app's behaviour).

use otr_core::profile::{Fingerprint, LongTermKeys};
use otr_core::secret::SecretVec;
use otr_core::session::{Account, Policy};

use crate::store::StoredIdentity;

/// Instance tags below this are reserved.
const MIN_INSTANCE_TAG: u32 = 0x100;

/// Long-term key material (serialised, zeroized on drop), our instance tag, the last
/// client profile signed for it (if one was stored) and the OTRv3 DSA key (once one was needed).
pub struct Identity {
    keys: SecretVec,
    tag: u32,
    fingerprint: Fingerprint,
    profile: Option<Vec<u8>>,
    legacy_key: Option<SecretVec>,
    legacy_fingerprint: Option<[u8; 20]>,
}

impl Identity {
    /// Generates a fresh identity (Ed448, ML-KEM-1024, ML-DSA-87 keys and an instance tag).
    pub fn generate() -> Result<Identity, String> {
        let mut rng = rand::rng();
        let keys = LongTermKeys::generate(&mut rng).map_err(|e| e.to_string())?;
        let fingerprint = keys.fingerprint();
        let tag = rand::random_range(MIN_INSTANCE_TAG..=u32::MAX);
        Ok(Identity {
            keys: keys.to_bytes(),
            tag,
            fingerprint,
            profile: None,
            legacy_key: None,
            legacy_fingerprint: None,
        })
    }

    /// Restores an identity read from the store, checking that the keys parse.
    pub fn from_stored(stored: StoredIdentity) -> Result<Identity, String> {
        let keys = LongTermKeys::from_bytes(stored.keys.expose())
            .map_err(|e| format!("the stored long-term keys are unusable: {e}"))?;
        if stored.tag < MIN_INSTANCE_TAG {
            return Err(format!(
                "the stored instance tag {:#x} is reserved",
                stored.tag
            ));
        }
        let legacy_fingerprint = match &stored.legacy_key {
            Some(k) => Some(
                otr3::dsa::PrivateKey::from_secret_bytes(k.expose())
                    .map_err(|e| format!("the stored OTRv3 key is unusable: {e}"))?
                    .public()
                    .fingerprint(),
            ),
            None => None,
        };
        Ok(Identity {
            fingerprint: keys.fingerprint(),
            keys: stored.keys,
            tag: stored.tag,
            profile: stored.profile,
            legacy_key: stored.legacy_key,
            legacy_fingerprint,
        })
    }

    /// A copy for the store (the keys are copied into a new wiped-on-drop buffer).
    pub fn to_stored(&self) -> StoredIdentity {
        StoredIdentity {
            keys: SecretVec::from_slice(self.keys.expose()),
            tag: self.tag,
            profile: self.profile.clone(),
            legacy_key: self
                .legacy_key
                .as_ref()
                .map(|k| SecretVec::from_slice(k.expose())),
        }
    }

    /// A copy of this identity with `key` as its OTRv3 key.
    pub fn with_legacy_key(&self, key: &otr3::dsa::PrivateKey) -> Identity {
        Identity {
            keys: SecretVec::from_slice(self.keys.expose()),
            tag: self.tag,
            fingerprint: self.fingerprint,
            profile: self.profile.clone(),
            legacy_key: Some(SecretVec::from_slice(&key.to_secret_bytes())),
            legacy_fingerprint: Some(key.public().fingerprint()),
        }
    }

    /// The OTRv3 DSA key, if one was made.
    pub fn legacy_key(&self) -> Option<otr3::dsa::PrivateKey> {
        let bytes = self.legacy_key.as_ref()?;
        otr3::dsa::PrivateKey::from_secret_bytes(bytes.expose()).ok()
    }

    /// The OTRv3 fingerprint (libotr's 20-byte SHA-1), if a key was made.
    pub fn legacy_fingerprint(&self) -> Option<[u8; 20]> {
        self.legacy_fingerprint
    }

    /// Our fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Our instance tag.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// The stored client profile, if any (not checked here: it may have expired).
    pub fn profile(&self) -> Option<&[u8]> {
        self.profile.as_deref()
    }

    /// Replaces the stored profile (after the account signed a new one).
    pub fn set_profile(&mut self, profile: Vec<u8>) {
        self.profile = Some(profile);
    }

    /// An OTR account for one network: it reuses the stored profile while that is valid
    /// for these keys, and signs a new one otherwise.
    pub fn account(&self, policy: Policy, now_ms: u64) -> Result<Account, String> {
        let keys = LongTermKeys::from_bytes(self.keys.expose()).map_err(|e| e.to_string())?;
        let mut account = match &self.profile {
            Some(p) => Account::with_stored_profile(keys, self.tag, policy, p, now_ms),
            None => Account::new(keys, self.tag, policy, now_ms),
        }
        .map_err(|e| e.to_string())?;
        if let Some(key) = self.legacy_key() {
            account.set_legacy_identity(key, now_ms, &mut rand::rng());
        }
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_survives_to_stored_and_from_stored() {
        let id = Identity::generate().unwrap();
        let back = Identity::from_stored(id.to_stored()).unwrap();
        assert_eq!(back.fingerprint(), id.fingerprint());
        assert_eq!(back.tag(), id.tag());
        assert!(back.tag() >= MIN_INSTANCE_TAG);
        assert!(back.profile().is_none());
    }

    /// An identity stored before profile format 0x02 (its saved profile is 0x01): the account
    /// signs a new 0x02 profile for the same keys instead of reusing it, so that LocalState
    /// saves the new one.
    #[test]
    fn a_stored_format_0x01_profile_is_re_signed_as_0x02() {
        const V1: &[u8] = include_bytes!("../crates/otr-core/tests/data/profile_v1.bin");
        const V1_KEYS: &[u8] = include_bytes!("../crates/otr-core/tests/data/profile_v1_keys.bin");
        let stored = StoredIdentity {
            keys: SecretVec::from_slice(V1_KEYS),
            tag: 0x1234,
            profile: Some(V1.to_vec()),
            legacy_key: None,
        };
        let id = Identity::from_stored(stored).unwrap();
        // The fixture profile was signed for 2027-01-29; "now" is before that.
        let account = id.account(Policy::default(), 1_800_000_000_000).unwrap();
        let signed = account.profile().as_bytes();
        assert_eq!(signed[0], 0x02);
        assert_ne!(Some(signed), id.profile());
        assert_eq!(account.fingerprint(), id.fingerprint());
        let migrated = otr_core::profile::migrate_v1(V1).unwrap();
        assert_eq!(migrated.new, id.fingerprint());
    }

    #[test]
    fn from_stored_rejects_unparseable_keys_and_reserved_tags() {
        let bad_keys = StoredIdentity {
            keys: SecretVec::from_slice(&[1, 2, 3]),
            tag: 0x1234,
            profile: None,
            legacy_key: None,
        };
        assert!(Identity::from_stored(bad_keys).is_err());
        let mut stored = Identity::generate().unwrap().to_stored();
        stored.tag = 0xff;
        match Identity::from_stored(stored) {
            Ok(_) => panic!("reserved tag accepted"),
            Err(e) => assert!(e.contains("reserved"), "{e}"),
        }
    }
}
