//! ML-KEM-1024 (FIPS 203) through pqcrypto-mlkem.
//!
//! pqcrypto's key types are `Copy` and expose no mutable bytes, so we copy their bytes into our
//! own secret containers at once, rebuild a pqcrypto secret key only for the duration of one
//! call, and overwrite every pqcrypto secret we held with zeros afterwards
//! ([`super::overwrite`]). What the C code copies onto its own stack is not wiped.

use pqcrypto_mlkem::mlkem1024;
use pqcrypto_traits::kem::{Ciphertext as _, PublicKey as _, SecretKey as _, SharedSecret as _};

use super::{CryptoError, overwrite};
use crate::secret::{Secret, SecretVec};

/// Encapsulation key length.
pub const EK_LEN: usize = 1568;
/// Decapsulation key length (FIPS 203 expanded form).
pub const DK_LEN: usize = 3168;
/// Ciphertext length.
pub const CT_LEN: usize = 1568;
/// Shared-secret length.
pub const SS_LEN: usize = 32;

/// A validated ML-KEM-1024 encapsulation key.
#[derive(Clone, PartialEq, Eq)]
pub struct KemPublic(Box<[u8; EK_LEN]>);

impl core::fmt::Debug for KemPublic {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KemPublic(..)")
    }
}

impl KemPublic {
    /// Validates an encapsulation key: the length and the FIPS 203 §7.2 modulus check
    /// (every 12-bit coefficient of t̂ is below q = 3329).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; EK_LEN] = bytes.try_into().map_err(|_| CryptoError::InvalidKemKey)?;
        // t̂ occupies the first 384·k = 1536 bytes; 3 bytes hold two coefficients.
        for chunk in arr.get(..1536).unwrap_or_default().chunks_exact(3) {
            let &[b0, b1, b2] = chunk else {
                return Err(CryptoError::InvalidKemKey);
            };
            let (b0, b1, b2) = (u16::from(b0), u16::from(b1), u16::from(b2));
            let c0 = b0 | ((b1 & 0x0f) << 8);
            let c1 = (b1 >> 4) | (b2 << 4);
            if c0 >= 3329 || c1 >= 3329 {
                return Err(CryptoError::InvalidKemKey);
            }
        }
        Ok(KemPublic(Box::new(arr)))
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8; EK_LEN] {
        &self.0
    }

    /// Encapsulates: returns the ciphertext and the shared secret.
    pub fn encapsulate(&self) -> Result<(KemCiphertext, Secret<SS_LEN>), CryptoError> {
        let pk = mlkem1024::PublicKey::from_bytes(self.0.as_slice())
            .map_err(|_| CryptoError::InvalidKemKey)?;
        let (mut ss, ct) = mlkem1024::encapsulate(&pk);
        let secret = Secret::from_slice(ss.as_bytes());
        overwrite(&mut ss, zero_shared_secret());
        let ct = KemCiphertext::from_bytes(ct.as_bytes())?;
        Ok((ct, secret.ok_or(CryptoError::Internal)?))
    }
}

/// An ML-KEM-1024 ciphertext.
#[derive(Clone, PartialEq, Eq)]
pub struct KemCiphertext(Box<[u8; CT_LEN]>);

impl core::fmt::Debug for KemCiphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KemCiphertext(..)")
    }
}

impl KemCiphertext {
    /// Checks the length (any 1568 bytes are a ciphertext; bad ones decapsulate to a
    /// pseudo-random key by implicit rejection).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; CT_LEN] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidKemCiphertext)?;
        Ok(KemCiphertext(Box::new(arr)))
    }

    /// The encoded ciphertext.
    pub fn as_bytes(&self) -> &[u8; CT_LEN] {
        &self.0
    }
}

/// An ML-KEM-1024 key pair; the decapsulation key is wiped on drop.
pub struct KemKeypair {
    public: KemPublic,
    secret: SecretVec,
}

impl KemKeypair {
    /// Generates a key pair (randomness comes from the OS inside pqcrypto).
    pub fn generate() -> Result<Self, CryptoError> {
        let (pk, mut sk) = mlkem1024::keypair();
        let secret = SecretVec::from_slice(sk.as_bytes());
        overwrite(&mut sk, mlkem1024::SecretKey::from_bytes(&[0; DK_LEN]).ok());
        let public = KemPublic::from_bytes(pk.as_bytes())?;
        Ok(KemKeypair { public, secret })
    }

    /// Rebuilds a key pair from stored bytes, with the FIPS 203 §7.3 checks.
    pub fn from_parts(public: &[u8], secret: &[u8]) -> Result<Self, CryptoError> {
        check_decapsulation_key(secret)?;
        let public = KemPublic::from_bytes(public)?;
        // The expanded key embeds the encapsulation key at offset 1536.
        if secret.get(1536..1536 + EK_LEN) != Some(public.as_bytes().as_slice()) {
            return Err(CryptoError::InvalidKemKey);
        }
        Ok(KemKeypair {
            public,
            secret: SecretVec::from_slice(secret),
        })
    }

    /// The encapsulation key.
    pub fn public(&self) -> &KemPublic {
        &self.public
    }

    /// The decapsulation key bytes, for storage.
    pub fn secret_bytes(&self) -> &SecretVec {
        &self.secret
    }

    /// Decapsulates (implicit rejection: a bad ciphertext yields an unrelated key).
    pub fn decapsulate(&self, ct: &KemCiphertext) -> Result<Secret<SS_LEN>, CryptoError> {
        decapsulate_raw(self.secret.expose(), ct.as_bytes())
    }
}

/// FIPS 203 §7.3 decapsulation input check: the length, and that the hash H(ek) stored in the
/// expanded key (bytes 3136..3168) is SHA3-256 of the embedded encapsulation key
/// (bytes 1536..3104). pqcrypto does not perform it.
fn check_decapsulation_key(dk: &[u8]) -> Result<(), CryptoError> {
    use sha3::{Digest, Sha3_256};
    if dk.len() != DK_LEN {
        return Err(CryptoError::InvalidKemKey);
    }
    let ek = dk
        .get(1536..1536 + EK_LEN)
        .ok_or(CryptoError::InvalidKemKey)?;
    let stored = dk
        .get(1536 + EK_LEN..1536 + EK_LEN + 32)
        .ok_or(CryptoError::InvalidKemKey)?;
    let computed = Sha3_256::digest(ek);
    if bool::from(subtle::ConstantTimeEq::ct_eq(computed.as_slice(), stored)) {
        Ok(())
    } else {
        Err(CryptoError::InvalidKemKey)
    }
}

/// Decapsulates with a raw expanded decapsulation key (for known-answer tests), after the
/// FIPS 203 §7.3 input checks.
pub fn decapsulate_raw(dk: &[u8], ct: &[u8]) -> Result<Secret<SS_LEN>, CryptoError> {
    check_decapsulation_key(dk)?;
    let ct =
        mlkem1024::Ciphertext::from_bytes(ct).map_err(|_| CryptoError::InvalidKemCiphertext)?;
    let mut sk = mlkem1024::SecretKey::from_bytes(dk).map_err(|_| CryptoError::InvalidKemKey)?;
    let mut ss = mlkem1024::decapsulate(&ct, &sk);
    overwrite(&mut sk, mlkem1024::SecretKey::from_bytes(&[0; DK_LEN]).ok());
    let secret = Secret::from_slice(ss.as_bytes());
    overwrite(&mut ss, zero_shared_secret());
    secret.ok_or(CryptoError::Internal)
}

fn zero_shared_secret() -> Option<mlkem1024::SharedSecret> {
    mlkem1024::SharedSecret::from_bytes(&[0; SS_LEN]).ok()
}
