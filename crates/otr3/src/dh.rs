//! Diffie-Hellman key pairs in the 1536-bit group, as the AKE and the data messages use them.

use crypto_bigint::U1536;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::group::{self, SecretExponent};

/// Random bytes of a D-H private exponent: 320 bits, the spec's minimum and libotr's size.
pub const DH_SECRET_BYTES: usize = 40;
/// The same in bits: exponentiations with these secrets process this many bits (always all of
/// them, whatever the value), not the group's 1536.
const DH_SECRET_BITS: u32 = 320;

/// A D-H key pair (the private part wiped on drop; not `Clone`).
pub struct DhKeyPair {
    secret: SecretExponent,
    public: U1536,
}

impl DhKeyPair {
    /// A fresh key pair.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> DhKeyPair {
        let secret = SecretExponent::random(rng, DH_SECRET_BYTES);
        let public = group::pow_bits(&U1536::from_u8(2), secret.value(), DH_SECRET_BITS);
        DhKeyPair { secret, public }
    }

    /// An explicit copy (the type is not `Clone` so that copies of a secret are deliberate);
    /// used when two instances of a peer answer one D-H Commit.
    pub fn duplicate(&self) -> DhKeyPair {
        DhKeyPair {
            secret: SecretExponent::from_value(*self.secret.value()),
            public: self.public,
        }
    }

    /// The public value g^x.
    pub fn public(&self) -> &U1536 {
        &self.public
    }

    /// The public value's big-endian magnitude (what an MPI field carries).
    pub fn public_be(&self) -> Vec<u8> {
        be_trimmed(&self.public)
    }

    /// "secbytes": the minimal MPI of the shared secret `their^x`, from which both the
    /// AKE and the data message keys are derived.
    pub fn secbytes(&self, their: &U1536) -> Zeroizing<Vec<u8>> {
        let mut s = group::pow_bits(their, self.secret.value(), DH_SECRET_BITS);
        let out = Zeroizing::new(group::to_mpi(&s));
        zeroize::Zeroize::zeroize(&mut s);
        out
    }
}

/// A group element's minimal big-endian bytes.
pub fn be_trimmed(v: &U1536) -> Vec<u8> {
    let be = group::to_be(v);
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ends_derive_the_same_secbytes() {
        let mut rng = rand::rng();
        let a = DhKeyPair::generate(&mut rng);
        let b = DhKeyPair::generate(&mut rng);
        let sa = a.secbytes(b.public());
        assert_eq!(*sa, *b.secbytes(a.public()));
        // A minimal MPI: the length prefix matches and there is no leading zero byte.
        let len = u32::from_be_bytes([sa[0], sa[1], sa[2], sa[3]]) as usize;
        assert_eq!(len + 4, sa.len());
        assert_ne!(sa[4], 0);
        assert_eq!(group::from_be(&a.public_be()).expect("fits"), *a.public());
    }
}
