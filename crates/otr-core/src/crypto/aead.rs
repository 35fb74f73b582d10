//! AES-256-GCM with a key used for exactly one message and a derived 96-bit nonce.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use super::CryptoError;
use crate::secret::Secret;

/// Authentication tag length.
pub const TAG_LEN: usize = 16;

/// The key as the cipher's key type, by reference: no copy of it is made on our side (the
/// cipher's expanded key schedule is wiped on drop by aes-gcm's `zeroize` feature).
fn key_ref(key: &Secret<32>) -> &Key<Aes256Gcm> {
    key.expose().into()
}

/// Encrypts `plaintext` bound to `aad`; returns ciphertext || tag.
pub fn seal(
    key: &Secret<32>,
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key_ref(key));
    cipher
        .encrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Internal)
}

/// Decrypts and authenticates; any failure is indistinguishable (`BadTag`).
pub fn open(
    key: &Secret<32>,
    nonce: &[u8; 12],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = Aes256Gcm::new(key_ref(key));
    cipher
        .decrypt(
            &Nonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| CryptoError::BadTag)
}

/// AES-256-GCM with an arbitrary key and 12-byte nonce, for known-answer tests.
pub fn open_raw(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
    let mut k = *key;
    let key = Secret::from_array(&mut k);
    open(&key, nonce, aad, ct).ok()
}

/// Encrypts with an arbitrary key, for known-answer tests.
pub fn seal_raw(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], pt: &[u8]) -> Option<Vec<u8>> {
    let mut k = *key;
    let key = Secret::from_array(&mut k);
    seal(&key, nonce, aad, pt).ok()
}
