//! Containers for secret bytes.
//!
//! Every secret in the crate lives in one of these types. They zeroize on drop, have no
//! `Debug`, `Clone` or `Copy`, and compare in constant time. Duplicating a secret is an
//! explicit, crate-internal act (`duplicate`), used only where a transactional copy of state
//! is unavoidable.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A fixed-size secret.
pub struct Secret<const N: usize>([u8; N]);

impl<const N: usize> Secret<N> {
    /// Takes ownership of `bytes`; the caller's copy is wiped.
    pub fn from_array(bytes: &mut [u8; N]) -> Self {
        let s = Secret(*bytes);
        bytes.zeroize();
        s
    }

    /// Copies a slice of exactly `N` bytes; `None` on a length mismatch.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != N {
            return None;
        }
        // Copied straight into the container, with no intermediate array left behind.
        let mut s = Secret([0u8; N]);
        s.0.copy_from_slice(bytes);
        Some(s)
    }

    /// Fills a new secret from the RNG.
    pub fn random(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut s = Secret([0u8; N]);
        rng.fill_bytes(&mut s.0);
        s
    }

    /// The secret bytes. Callers must not copy them into unmanaged memory.
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }

    pub(crate) fn duplicate(&self) -> Self {
        Secret(self.0)
    }
}

impl<const N: usize> Drop for Secret<N> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for Secret<N> {}

impl<const N: usize> ConstantTimeEq for Secret<N> {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

/// A variable-size secret. Its capacity is fixed at creation so it never reallocates (a
/// growing `Vec` would leave unwiped copies behind).
pub struct SecretVec(Vec<u8>);

impl SecretVec {
    /// Copies `bytes` into a new secret buffer.
    pub fn from_slice(bytes: &[u8]) -> Self {
        let mut v = Vec::with_capacity(bytes.len());
        v.extend_from_slice(bytes);
        SecretVec(v)
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[allow(dead_code)] // kept symmetric with Secret::duplicate for staged state
    pub(crate) fn duplicate(&self) -> Self {
        SecretVec::from_slice(&self.0)
    }
}

impl Drop for SecretVec {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretVec {}

impl ConstantTimeEq for SecretVec {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        // Lengths of our secrets are public (fixed by the algorithm).
        if self.0.len() != other.0.len() {
            return subtle::Choice::from(0);
        }
        self.0.ct_eq(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_array_wipes_source() {
        let mut src = [7u8; 32];
        let s = Secret::<32>::from_array(&mut src);
        assert_eq!(src, [0u8; 32]);
        assert_eq!(s.expose(), &[7u8; 32]);
    }

    #[test]
    fn constant_time_eq_distinguishes() {
        let a = Secret::<4>::from_slice(&[1, 2, 3, 4]).unwrap();
        let b = Secret::<4>::from_slice(&[1, 2, 3, 5]).unwrap();
        assert!(bool::from(a.ct_eq(&a.duplicate())));
        assert!(!bool::from(a.ct_eq(&b)));
        assert!(Secret::<4>::from_slice(&[1, 2, 3]).is_none());
        let v = SecretVec::from_slice(&[1, 2]);
        assert!(!bool::from(v.ct_eq(&SecretVec::from_slice(&[1, 2, 3]))));
    }
}
