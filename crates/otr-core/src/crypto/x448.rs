//! X448 (RFC 7748) Diffie-Hellman for the DAKE and the double ratchet.

use ed448_goldilocks_plus::x448::{PublicKey, StaticSecret};

use zeroize::Zeroize;

use super::CryptoError;
use crate::secret::Secret;

/// Length of an X448 public key and of a shared secret.
pub const X448_LEN: usize = 56;

/// An X448 public key (a u-coordinate). Every 56-byte string is a valid input to X448;
/// low-order inputs are caught when they produce an all-zero shared secret.
pub type X448Public = [u8; X448_LEN];

/// An X448 private key. Not `Clone`/`Debug`; the wrapped key zeroizes itself on drop.
pub struct X448Secret {
    secret: StaticSecret,
    public: X448Public,
}

impl X448Secret {
    /// Generates a fresh key pair.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut seed = Secret::<X448_LEN>::random(rng);
        Self::from_secret(&mut seed)
    }

    fn from_secret(seed: &mut Secret<X448_LEN>) -> Self {
        // The crate takes the key by value; wipe the copy we hand it.
        let mut bytes = *seed.expose();
        let secret = StaticSecret::from(bytes);
        bytes.zeroize();
        let public = PublicKey::from(&secret).to_bytes();
        X448Secret { secret, public }
    }

    /// The public key.
    pub fn public(&self) -> &X448Public {
        &self.public
    }

    /// X448(our, theirs). Fails on an all-zero output (a low-order peer key, RFC 7748 §6.2).
    pub fn diffie_hellman(&self, theirs: &X448Public) -> Result<Secret<X448_LEN>, CryptoError> {
        let ss = self.secret.diffie_hellman(&PublicKey::from(*theirs));
        if !ss.was_contributory() {
            return Err(CryptoError::NonContributory);
        }
        let mut bytes = ss.to_bytes();
        Ok(Secret::from_array(&mut bytes))
    }

    pub(crate) fn duplicate(&self) -> Self {
        X448Secret {
            secret: self.secret.clone(),
            public: self.public,
        }
    }
}

/// The raw RFC 7748 X448 function, for known-answer tests.
pub fn x448_raw(scalar: &[u8; X448_LEN], u: &[u8; X448_LEN]) -> [u8; X448_LEN] {
    ed448_goldilocks_plus::x448::x448(*scalar, *u)
}
