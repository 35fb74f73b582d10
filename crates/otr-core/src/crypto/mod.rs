//! Primitives behind small typed wrappers. Nothing outside this module touches a crypto crate.

pub mod aead;
pub mod ed448;
pub mod kdf;
pub mod mldsa;
pub mod mlkem;
pub mod modp;
pub mod ring_sig;
pub mod x448;

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
