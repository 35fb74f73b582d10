//! ML-DSA-87 (FIPS 204) through pqcrypto-mldsa: signs client profiles only, never
//! conversation content (which would make it non-repudiable).

use pqcrypto_mldsa::mldsa87;
use pqcrypto_traits::sign::{DetachedSignature as _, PublicKey as _, SecretKey as _};

use super::{CryptoError, overwrite};
use crate::secret::SecretVec;

/// Public key length.
pub const PK_LEN: usize = 2592;
/// Secret key length.
pub const SK_LEN: usize = 4896;
/// Signature length.
pub const SIG_LEN: usize = 4627;

/// An ML-DSA-87 public key.
#[derive(Clone, PartialEq, Eq)]
pub struct DsaPublic(Box<[u8; PK_LEN]>);

impl core::fmt::Debug for DsaPublic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DsaPublic(..)")
    }
}

impl DsaPublic {
    /// Checks the length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; PK_LEN] = bytes.try_into().map_err(|_| CryptoError::InvalidDsaKey)?;
        Ok(DsaPublic(Box::new(arr)))
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8; PK_LEN] {
        &self.0
    }

    /// Verifies a FIPS 204 (pure ML-DSA) signature with a context string.
    pub fn verify(&self, context: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        verify_raw(self.0.as_slice(), context, msg, sig)
    }
}

/// Verifies with raw bytes (for known-answer tests). Any length error is a bad signature.
pub fn verify_raw(pk: &[u8], context: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let pk = mldsa87::PublicKey::from_bytes(pk).map_err(|_| CryptoError::InvalidDsaKey)?;
    let sig = mldsa87::DetachedSignature::from_bytes(sig).map_err(|_| CryptoError::BadSignature)?;
    mldsa87::verify_detached_signature_ctx(&sig, msg, context, &pk)
        .map_err(|_| CryptoError::BadSignature)
}

/// An ML-DSA-87 key pair; the secret key is wiped on drop.
pub struct DsaKeypair {
    public: DsaPublic,
    secret: SecretVec,
}

impl DsaKeypair {
    /// Generates a key pair (randomness from the OS inside pqcrypto).
    pub fn generate() -> Result<Self, CryptoError> {
        let (pk, mut sk) = mldsa87::keypair();
        let secret = SecretVec::from_slice(sk.as_bytes());
        overwrite(&mut sk, zero_secret_key());
        Ok(DsaKeypair {
            public: DsaPublic::from_bytes(pk.as_bytes())?,
            secret,
        })
    }

    /// Rebuilds a key pair from stored bytes.
    pub fn from_parts(public: &[u8], secret: &[u8]) -> Result<Self, CryptoError> {
        if secret.len() != SK_LEN {
            return Err(CryptoError::InvalidDsaKey);
        }
        Ok(DsaKeypair {
            public: DsaPublic::from_bytes(public)?,
            secret: SecretVec::from_slice(secret),
        })
    }

    /// The public key.
    pub fn public(&self) -> &DsaPublic {
        &self.public
    }

    /// The secret key bytes, for storage.
    pub fn secret_bytes(&self) -> &SecretVec {
        &self.secret
    }

    /// Signs (hedged/randomised per FIPS 204) with a context string.
    pub fn sign(&self, context: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        // pqcrypto needs its own (Copy) key type: rebuilt for this call only, then wiped.
        let mut sk = mldsa87::SecretKey::from_bytes(self.secret.expose())
            .map_err(|_| CryptoError::InvalidDsaKey)?;
        let sig = mldsa87::detached_sign_ctx(msg, context, &sk);
        overwrite(&mut sk, zero_secret_key());
        Ok(sig.as_bytes().to_vec())
    }
}

fn zero_secret_key() -> Option<mldsa87::SecretKey> {
    mldsa87::SecretKey::from_bytes(&[0; SK_LEN]).ok()
}
