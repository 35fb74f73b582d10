//! The local OTR identity: long-term keys and the instance tag, shared by every network.
//!
//! For now the identity is ephemeral: generated at start, never written to disk (the
//! OTRv4Plus app's behaviour). Persistent, encrypted identities come with the trust store.

use otr_core::profile::{Fingerprint, LongTermKeys};
use otr_core::secret::SecretVec;
use otr_core::session::{Account, Policy};

/// Long-term key material (serialised, zeroized on drop) and our instance tag.
pub struct Identity {
    keys: SecretVec,
    tag: u32,
    fingerprint: Fingerprint,
}

impl Identity {
    /// Generates a fresh identity (Ed448, ML-KEM-1024, ML-DSA-87 keys and an instance tag).
    pub fn generate() -> Result<Identity, String> {
        let mut rng = rand::rng();
        let keys = LongTermKeys::generate(&mut rng).map_err(|e| e.to_string())?;
        let fingerprint = keys.fingerprint();
        // Instance tags below 0x100 are reserved.
        let tag = rand::random_range(0x100..=u32::MAX);
        Ok(Identity {
            keys: keys.to_bytes(),
            tag,
            fingerprint,
        })
    }

    /// Our fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// An OTR account for one network, signed now.
    pub fn account(&self, policy: Policy, now_ms: u64) -> Result<Account, String> {
        let keys = LongTermKeys::from_bytes(self.keys.expose()).map_err(|e| e.to_string())?;
        Account::new(keys, self.tag, policy, now_ms).map_err(|e| e.to_string())
    }
}
