//! Ed448 (RFC 8032) identity keys and the Edwards-curve arithmetic the ring signature needs.

use ed448_goldilocks_plus::{
    CompressedEdwardsY, EdwardsPoint, Scalar, Signature, SigningKey, VerifyingKey, WideScalarBytes,
};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::CryptoError;
use crate::secret::Secret;

/// Length of an encoded point (RFC 8032 §5.2.2).
pub const POINT_LEN: usize = 57;
/// Length of an encoded scalar (otrv4 SCALAR: 57 bytes little-endian, top byte zero).
pub const SCALAR_LEN: usize = 57;
/// Length of an Ed448 signature.
pub const SIGNATURE_LEN: usize = 114;
/// Length of an Ed448 secret seed.
pub const SEED_LEN: usize = 57;

/// A validated Ed448 public point: on the curve, in the prime-order subgroup, not the identity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicPoint {
    bytes: [u8; POINT_LEN],
    point: EdwardsPoint,
}

impl core::fmt::Debug for PublicPoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "PublicPoint({:02x}{:02x}..)",
            self.bytes[0], self.bytes[1]
        )
    }
}

impl PublicPoint {
    /// Decodes and validates a point (otrv4 "Verifying that a point is on the curve").
    pub fn from_bytes(bytes: &[u8; POINT_LEN]) -> Result<Self, CryptoError> {
        let point: Option<EdwardsPoint> = CompressedEdwardsY(*bytes).decompress().into();
        let point = point.ok_or(CryptoError::InvalidPoint)?;
        if bool::from(point.ct_eq(&EdwardsPoint::IDENTITY)) {
            return Err(CryptoError::InvalidPoint);
        }
        // Reject non-canonical encodings: the re-encoding must match byte for byte.
        if point.compress().0 != *bytes {
            return Err(CryptoError::InvalidPoint);
        }
        Ok(PublicPoint {
            bytes: *bytes,
            point,
        })
    }

    /// Decodes a point that only serves as a ring member its sender could sign for (the DAKE's
    /// ephemeral Y), returning `[4]Y`. Multiplying by the cofactor maps any curve point into
    /// the prime-order subgroup, and the sender, who knows y, knows the discrete log 4y of the
    /// result; so this is as good as the full subgroup check here and far cheaper. The
    /// encoding must still be canonical and the result must not be the identity.
    pub fn ring_member_from_bytes(bytes: &[u8; POINT_LEN]) -> Result<Self, CryptoError> {
        let point: Option<EdwardsPoint> = CompressedEdwardsY(*bytes).decompress_unchecked().into();
        let point = point.ok_or(CryptoError::InvalidPoint)?;
        if point.compress().0 != *bytes {
            return Err(CryptoError::InvalidPoint);
        }
        Self::from_point(point).cofactor_cleared()
    }

    /// `[4]P`; fails if that is the identity (P of small order).
    pub fn cofactor_cleared(&self) -> Result<Self, CryptoError> {
        let p4 = self.point.double().double();
        if bool::from(p4.ct_eq(&EdwardsPoint::IDENTITY)) {
            return Err(CryptoError::InvalidPoint);
        }
        Ok(Self::from_point(p4))
    }

    pub(crate) fn from_point(point: EdwardsPoint) -> Self {
        PublicPoint {
            bytes: point.compress().0,
            point,
        }
    }

    /// The 57-byte encoding.
    pub fn as_bytes(&self) -> &[u8; POINT_LEN] {
        &self.bytes
    }

    pub(crate) fn point(&self) -> &EdwardsPoint {
        &self.point
    }
}

/// A secret scalar mod q, wiped on drop.
pub(crate) struct SecretScalar(Scalar);

impl SecretScalar {
    /// A uniformly random scalar: 114 random bytes reduced mod q (bias < 2^-450).
    pub(crate) fn random(rng: &mut impl rand_core::CryptoRng) -> Self {
        let mut wide = WideScalarBytes::default();
        rng.fill_bytes(&mut wide);
        let s = Scalar::from_bytes_mod_order_wide(&wide);
        wide.as_mut_slice().zeroize();
        SecretScalar(s)
    }

    pub(crate) fn scalar(&self) -> &Scalar {
        &self.0
    }

    pub(crate) fn public(&self) -> PublicPoint {
        PublicPoint::from_point(EdwardsPoint::GENERATOR * self.0)
    }
}

impl Drop for SecretScalar {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Reduces 114 bytes mod q (used to hash to a scalar without bias).
pub(crate) fn scalar_from_wide(bytes: &[u8; 114]) -> Scalar {
    let mut wide = WideScalarBytes::default();
    wide.copy_from_slice(bytes);
    Scalar::from_bytes_mod_order_wide(&wide)
}

/// Encodes a scalar as an otrv4 SCALAR (57 bytes, little-endian).
pub(crate) fn scalar_to_bytes(s: &Scalar) -> [u8; SCALAR_LEN] {
    let mut out = [0u8; SCALAR_LEN];
    out[..56].copy_from_slice(&s.to_bytes());
    out
}

/// Decodes a canonical SCALAR (< q); anything else is rejected so encodings are unique.
///
/// The top byte is checked here because ed448-goldilocks-plus 0.18.1's
/// `Scalar::from_canonical_bytes` accepts a non-zero byte 56 (it ORs its two range checks)
/// and then ignores it, which would make ring signatures malleable.
pub(crate) fn scalar_from_bytes(bytes: &[u8; SCALAR_LEN]) -> Result<Scalar, CryptoError> {
    if bytes[SCALAR_LEN - 1] != 0 {
        return Err(CryptoError::InvalidScalar);
    }
    let mut arr = ed448_goldilocks_plus::ScalarBytes::default();
    arr.copy_from_slice(bytes);
    Option::<Scalar>::from(Scalar::from_canonical_bytes(&arr)).ok_or(CryptoError::InvalidScalar)
}

/// A long-term Ed448 signing key. No `Clone` or `Debug`; the seed is wiped on drop
/// (the wrapped `SigningKey` zeroizes itself too).
pub struct SigningSecret {
    key: SigningKey,
    public: PublicPoint,
}

impl SigningSecret {
    /// Generates a new key pair.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Self {
        let seed = Secret::<SEED_LEN>::random(rng);
        Self::from_seed(&seed)
    }

    /// Rebuilds a key pair from its 57-byte RFC 8032 seed.
    pub fn from_seed(seed: &Secret<SEED_LEN>) -> Self {
        let mut bytes = ed448_goldilocks_plus::SecretKey::default();
        bytes.copy_from_slice(seed.expose());
        let key = SigningKey::from_bytes(&bytes);
        bytes.as_mut_slice().zeroize();
        let public = PublicPoint::from_point(key.verifying_key().to_edwards());
        SigningSecret { key, public }
    }

    /// The seed, for storage.
    pub fn seed(&self) -> Secret<SEED_LEN> {
        let mut b: [u8; SEED_LEN] = self
            .key
            .as_bytes()
            .as_slice()
            .try_into()
            .unwrap_or([0; SEED_LEN]);
        Secret::from_array(&mut b)
    }

    /// The public key.
    pub fn public(&self) -> &PublicPoint {
        &self.public
    }

    /// Pure Ed448 signature (RFC 8032, with a context string for domain separation).
    pub fn sign(&self, context: &[u8], msg: &[u8]) -> Result<[u8; SIGNATURE_LEN], CryptoError> {
        let sig = self
            .key
            .sign_ctx(context, msg)
            .map_err(|_| CryptoError::ContextTooLong)?;
        Ok(sig.to_bytes())
    }

    /// Pure Ed448 signature with an empty context (exactly RFC 8032 §7.4's "Ed448").
    pub fn sign_raw(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.key.sign_raw(msg).to_bytes()
    }

    /// The secret scalar, for the ring signature.
    pub(crate) fn scalar(&self) -> SecretScalar {
        SecretScalar(self.key.to_scalar())
    }
}

/// Verifies an Ed448 signature with a context string.
pub fn verify(
    public: &PublicPoint,
    context: &[u8],
    msg: &[u8],
    sig: &[u8; SIGNATURE_LEN],
) -> Result<(), CryptoError> {
    check_signature_encoding(sig)?;
    let vk = VerifyingKey::from_bytes(public.as_bytes()).map_err(|_| CryptoError::InvalidPoint)?;
    let sig = Signature::from_bytes(sig).map_err(|_| CryptoError::BadSignature)?;
    vk.verify_ctx(&sig, context, msg)
        .map_err(|_| CryptoError::BadSignature)
}

/// Verifies a pure Ed448 signature with an empty context, accepting any public key that
/// RFC 8032 accepts (for known-answer tests; protocol keys go through [`PublicPoint`]).
pub fn verify_raw(public: &[u8; POINT_LEN], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    check_signature_encoding(sig)?;
    let vk = VerifyingKey::from_bytes(public).map_err(|_| CryptoError::InvalidPoint)?;
    let sig = Signature::from_slice(sig).map_err(|_| CryptoError::BadSignature)?;
    vk.verify_raw(&sig, msg)
        .map_err(|_| CryptoError::BadSignature)
}

/// Enforces the RFC 8032 §5.2.3 / §5.2.7 encoding rules the wrapped crate (0.18.1) skips, so
/// every signature has exactly one encoding:
/// * S < L: since L < 2^446 the last byte of S must be zero (the crate ignores that byte);
/// * R must decode canonically: the crate reads only the top bit of R's last byte and reduces
///   y mod p, so R is required to re-encode to the same 57 bytes.
fn check_signature_encoding(sig: &[u8]) -> Result<(), CryptoError> {
    if sig.len() != SIGNATURE_LEN || sig.last() != Some(&0) {
        return Err(CryptoError::BadSignature);
    }
    let r: [u8; POINT_LEN] = sig
        .get(..POINT_LEN)
        .and_then(|r| r.try_into().ok())
        .ok_or(CryptoError::BadSignature)?;
    let point: Option<EdwardsPoint> = CompressedEdwardsY(r).decompress_unchecked().into();
    match point {
        Some(p) if p.compress().0 == r => Ok(()),
        _ => Err(CryptoError::BadSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_rng;

    #[test]
    fn ring_member_decoding() {
        // The identity (y = 1) and the point of order 2 (y = p - 1) clear to the identity.
        let mut identity = [0u8; POINT_LEN];
        identity[0] = 1;
        assert!(PublicPoint::ring_member_from_bytes(&identity).is_err());
        let mut order2 = [0xffu8; POINT_LEN];
        order2[0] = 0xfe;
        order2[28] = 0xfe;
        order2[56] = 0;
        assert!(PublicPoint::ring_member_from_bytes(&order2).is_err());
        // A valid point decodes to [4]P; a non-canonical encoding (y + p) is rejected.
        let s = SecretScalar::random(&mut test_rng(1));
        let p = s.public();
        let cleared = PublicPoint::ring_member_from_bytes(p.as_bytes()).unwrap();
        assert_eq!(cleared, p.cofactor_cleared().unwrap());
        assert_ne!(cleared.as_bytes(), p.as_bytes());
        let mut bad = *p.as_bytes();
        bad[56] |= 0x01;
        assert!(PublicPoint::ring_member_from_bytes(&bad).is_err());
        assert!(PublicPoint::from_bytes(&bad).is_err());
    }

    /// What the DAKE takes as an ephemeral Y (docs/PROTOCOL.md §6.3): a point with a
    /// small-order component is refused, a prime-order point is kept as sent.
    #[test]
    fn dake_points_must_be_in_the_prime_order_subgroup() {
        let mut order2 = [0xffu8; POINT_LEN];
        order2[0] = 0xfe;
        order2[28] = 0xfe;
        order2[56] = 0;
        let t2: Option<EdwardsPoint> = CompressedEdwardsY(order2).decompress_unchecked().into();
        let p = SecretScalar::random(&mut test_rng(2)).public();
        let mixed = (*p.point() + t2.unwrap()).compress().0;
        assert!(PublicPoint::from_bytes(&mixed).is_err());
        assert!(PublicPoint::from_bytes(&order2).is_err());
        let kept = PublicPoint::from_bytes(p.as_bytes()).unwrap();
        assert_eq!(kept.as_bytes(), p.as_bytes());
    }
}
