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

/// Long-term key material (serialised, zeroized on drop), our instance tag, and the last
/// client profile signed for it (if one was stored).
pub struct Identity {
    keys: SecretVec,
    tag: u32,
    fingerprint: Fingerprint,
    profile: Option<Vec<u8>>,
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
        Ok(Identity {
            fingerprint: keys.fingerprint(),
            keys: stored.keys,
            tag: stored.tag,
            profile: stored.profile,
        })
    }

    /// A copy for the store (the keys are copied into a new wiped-on-drop buffer).
    pub fn to_stored(&self) -> StoredIdentity {
        StoredIdentity {
            keys: SecretVec::from_slice(self.keys.expose()),
            tag: self.tag,
            profile: self.profile.clone(),
        }
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
        match &self.profile {
            Some(p) => Account::with_stored_profile(keys, self.tag, policy, p, now_ms),
            None => Account::new(keys, self.tag, policy, now_ms),
        }
        .map_err(|e| e.to_string())
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

    #[test]
    fn from_stored_rejects_unparseable_keys_and_reserved_tags() {
        let bad_keys = StoredIdentity {
            keys: SecretVec::from_slice(&[1, 2, 3]),
            tag: 0x1234,
            profile: None,
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
