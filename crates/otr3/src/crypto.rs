//! The symmetric primitives of OTRv3: AES-128 in counter mode, SHA-1, SHA-256 and their
//! HMACs, with the key derivations `h1`/`h2` over the D-H secret's MPI ("secbytes").

use aes::Aes128;
use ctr::Ctr128BE;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A primitive refused its input (cannot happen with the sizes OTRv3 uses; kept typed so no
/// path can panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cryptographic primitive failed")]
pub struct CryptoError;

/// AES-128-CTR with the 16-byte initial counter `ctr_top || 0^8`, in place.
pub fn aes_ctr(key: &[u8; 16], ctr_top: &[u8; 8], buf: &mut [u8]) {
    let mut iv = [0u8; 16];
    if let Some(top) = iv.get_mut(..8) {
        top.copy_from_slice(ctr_top);
    }
    let mut cipher = Ctr128BE::<Aes128>::new(key.into(), (&iv).into());
    cipher.apply_keystream(buf);
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError)?;
    for p in parts {
        mac.update(p);
    }
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}

/// HMAC-SHA1 over `data`.
pub fn hmac_sha1(key: &[u8], data: &[u8]) -> Result<[u8; 20], CryptoError> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).map_err(|_| CryptoError)?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// SHA-256 of the concatenation of `parts`.
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// SHA-1 of the concatenation of `parts`.
pub fn sha1(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Sha1::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// `h2(b) = SHA256(b || secbytes)`: the AKE's key derivation.
pub fn h2(b: u8, secbytes: &[u8]) -> Zeroizing<[u8; 32]> {
    Zeroizing::new(sha256(&[&[b], secbytes]))
}

/// `h1(b) = SHA1(b || secbytes)`: the data messages' key derivation.
pub fn h1(b: u8, secbytes: &[u8]) -> Zeroizing<[u8; 20]> {
    Zeroizing::new(sha1(&[&[b], secbytes]))
}

/// Compares two MACs in constant time.
pub fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // RFC 4231 test case 2 and RFC 2202 test case 2 ("Jefe").
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]).expect("hmac");
        assert_eq!(
            hex::encode(*mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let mac = hmac_sha1(b"Jefe", b"what do ya want for nothing?").expect("hmac");
        assert_eq!(hex::encode(mac), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
        // NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt), first block.
        let key: [u8; 16] = hex::decode("2b7e151628aed2a6abf7158809cf4f3c")
            .expect("hex")
            .try_into()
            .expect("16");
        let iv = hex::decode("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff").expect("hex");
        let mut block = hex::decode("6bc1bee22e409f96e93d7e117393172a").expect("hex");
        // Our counter's low half is always zero, so check the primitive through the raw
        // cipher with the NIST IV and ours with a zero low half for consistency.
        let mut cipher =
            Ctr128BE::<Aes128>::new((&key).into(), iv.as_slice().try_into().expect("16"));
        cipher.apply_keystream(&mut block);
        assert_eq!(hex::encode(&block), "874d6191b620e3261bef6864990db6ce");
        let mut a = *b"sixteen byte msg and more";
        aes_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut a);
        aes_ctr(&key, &[0, 0, 0, 0, 0, 0, 0, 1], &mut a);
        assert_eq!(&a, b"sixteen byte msg and more");
        assert!(mac_eq(&[1, 2], &[1, 2]) && !mac_eq(&[1, 2], &[1, 3]) && !mac_eq(&[1], &[1, 2]));
    }
}
