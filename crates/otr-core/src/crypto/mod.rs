//! Primitives behind small typed wrappers. Nothing outside this module touches a crypto crate.

pub mod aead;
pub mod ed448;
pub mod kdf;
pub mod mldsa;
pub mod mlkem;
pub mod modp;
pub mod ring_sig;
pub mod x448;

/// Overwrites a pqcrypto value (`zero`: the all-zero value of its type, if it could be built)
/// in place. pqcrypto's key and shared-secret types are `Copy` and expose no mutable bytes,
/// so assigning a zeroed value is the only way to wipe the copy we hold; `black_box` keeps
/// the dead store from being optimised away. Copies pqcrypto made itself are out of reach.
pub(crate) fn overwrite<T>(value: &mut T, zero: Option<T>) {
    if let Some(zero) = zero {
        *value = zero;
    }
    std::hint::black_box(value);
}

/// Failures of a primitive. None carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// An Ed448 point failed to decode or validate.
    #[error("invalid Ed448 point")]
    InvalidPoint,
    /// A scalar was not canonical (>= q).
    #[error("non-canonical scalar")]
    InvalidScalar,
    /// A signature did not verify.
    #[error("signature verification failed")]
    BadSignature,
    /// A signature context exceeded 255 bytes.
    #[error("signature context too long")]
    ContextTooLong,
    /// The ring does not contain the signer exactly once.
    #[error("signer not in ring")]
    SignerNotInRing,
    /// X448 produced the all-zero output (low-order peer key).
    #[error("non-contributory Diffie-Hellman")]
    NonContributory,
    /// An ML-KEM key failed validation.
    #[error("invalid ML-KEM key")]
    InvalidKemKey,
    /// An ML-KEM ciphertext had the wrong length.
    #[error("invalid ML-KEM ciphertext")]
    InvalidKemCiphertext,
    /// An ML-DSA key had the wrong length.
    #[error("invalid ML-DSA key")]
    InvalidDsaKey,
    /// AEAD authentication failed.
    #[error("authentication tag mismatch")]
    BadTag,
    /// A primitive failed in a way that indicates a bug.
    #[error("internal cryptographic error")]
    Internal,
}

#[cfg(test)]
mod tests {
    use pqcrypto_mldsa::mldsa87;
    use pqcrypto_mlkem::mlkem1024;
    use pqcrypto_traits::kem::{SecretKey as _, SharedSecret as _};
    use pqcrypto_traits::sign::SecretKey as _;

    use super::overwrite;

    fn wiped_on_drop<T: zeroize::ZeroizeOnDrop>() {}

    #[test]
    fn hash_and_cipher_states_wipe_themselves() {
        // SHAKE absorbs every key the KDF derives from (shake's `zeroize` feature).
        wiped_on_drop::<shake::Shake256>();
        // The AES key schedule and GHASH key (aes-gcm's `zeroize` feature).
        wiped_on_drop::<aes_gcm::Aes256Gcm>();
    }

    #[test]
    fn pqcrypto_secrets_are_overwritten_in_place() {
        let (_, mut sk) = mlkem1024::keypair();
        overwrite(&mut sk, mlkem1024::SecretKey::from_bytes(&[0; 3168]).ok());
        assert!(sk.as_bytes().iter().all(|&b| b == 0));
        let mut ss = mlkem1024::SharedSecret::from_bytes(&[7; 32]).unwrap();
        overwrite(&mut ss, mlkem1024::SharedSecret::from_bytes(&[0; 32]).ok());
        assert!(ss.as_bytes().iter().all(|&b| b == 0));
        let (_, mut dsa) = mldsa87::keypair();
        overwrite(&mut dsa, mldsa87::SecretKey::from_bytes(&[0; 4896]).ok());
        assert!(dsa.as_bytes().iter().all(|&b| b == 0));
    }
}
