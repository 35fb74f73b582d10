//! Root, chain and message keys.

use crate::crypto::kdf::{Usage, derive, hash};
use crate::secret::Secret;

/// Output of a root-key step: the new root key and the new chain key.
pub(crate) struct RootStep {
    pub root: Secret<32>,
    pub chain: Secret<32>,
}

/// `RK', CK = KDF(0x0B, [RK, DH output, KEM shared secret | "", KEM binding | ""], 64)`.
///
/// The KEM shared secret and the binding hash of the encapsulation key and ciphertext are
/// present only on the steps where the post-quantum ratchet completes.
pub(crate) fn root_step(
    root: &Secret<32>,
    dh: &Secret<56>,
    kem: Option<(&Secret<32>, &[u8; 32])>,
) -> RootStep {
    let empty: &[u8] = &[];
    let (ss, binding): (&[u8], &[u8]) = match kem {
        Some((ss, b)) => (ss.expose(), b),
        None => (empty, empty),
    };
    let out: Secret<64> = derive(Usage::RootStep, &[root.expose(), dh.expose(), ss, binding]);
    let (r, c) = out.expose().split_at(32);
    RootStep {
        root: Secret::from_slice(r).unwrap_or_else(|| Secret::from_array(&mut [0; 32])),
        chain: Secret::from_slice(c).unwrap_or_else(|| Secret::from_array(&mut [0; 32])),
    }
}

/// `KDF(0x13, [ek, ct], 32)`: binds the KEM exchange into the root step.
pub(crate) fn kem_binding(ek: &[u8], ct: &[u8]) -> [u8; 32] {
    hash(Usage::KemBinding, &[ek, ct])
}

/// A message key: AES-256 key and 96-bit nonce, used for exactly one message.
pub(crate) struct MessageKey {
    material: Secret<44>,
}

impl MessageKey {
    pub(crate) fn key(&self) -> Secret<32> {
        Secret::from_slice(self.material.expose().get(..32).unwrap_or_default())
            .unwrap_or_else(|| Secret::from_array(&mut [0; 32]))
    }

    pub(crate) fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n.copy_from_slice(self.material.expose().get(32..44).unwrap_or(&[0; 12]));
        n
    }
}

/// Advances a chain: returns the message key for the current position and the next chain key.
/// `MK = KDF(0x0E, [CK], 44)`, `CK' = KDF(0x0D, [CK], 32)`.
pub(crate) fn chain_step(ck: &Secret<32>) -> (MessageKey, Secret<32>) {
    let material = derive(Usage::MessageKey, &[ck.expose()]);
    let next = derive(Usage::ChainNext, &[ck.expose()]);
    (MessageKey { material }, next)
}
