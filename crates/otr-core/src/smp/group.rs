//! Arithmetic in the RFC 3526 3072-bit group for SMP: group elements (public, validated on
//! decode) and exponents modulo q (secret, wiped on drop).
//!
//! Every exponentiation with a secret exponent goes through crypto-bigint's constant-time
//! Montgomery exponentiation over the full 3072-bit width, and exponent arithmetic
//! (`r - a·c mod q`) is done in Montgomery form modulo q, also constant time. Only values
//! that are public anyway (the peer's proof responses, challenges, group elements) are used
//! in variable-time operations.

use std::sync::OnceLock;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{JacobiSymbol, Odd, U3072};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::crypto::modp::MODP3072_P_HEX;

/// Bytes of an encoded group element or exponent (big-endian, fixed width).
pub const ELEMENT_LEN: usize = 384;

/// Why a received value was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Not exactly 384 bytes.
    #[error("wrong length")]
    Length,
    /// A group element outside 2..=p-2 or outside the order-q subgroup.
    #[error("group element out of range or not in the prime-order subgroup")]
    Element,
    /// An exponent not below q.
    #[error("exponent out of range")]
    Exponent,
}

struct Params {
    p: Odd<U3072>,
    p_mont: FixedMontyParams<{ U3072::LIMBS }>,
    q: U3072,
    q_mont: FixedMontyParams<{ U3072::LIMBS }>,
}

fn params() -> &'static Params {
    static PARAMS: OnceLock<Params> = OnceLock::new();
    PARAMS.get_or_init(|| {
        const P: Odd<U3072> = Odd::<U3072>::from_be_hex(MODP3072_P_HEX);
        // q = (p - 1) / 2 is odd (p is a safe prime), so it has Montgomery parameters too.
        let q = P.as_ref().wrapping_sub(&U3072::ONE).shr_vartime(1);
        let q_odd = Odd::new(q).into_option().unwrap_or(P);
        Params {
            p: P,
            p_mont: FixedMontyParams::new(P),
            q,
            q_mont: FixedMontyParams::new(q_odd),
        }
    })
}

fn from_fixed(bytes: &[u8]) -> Result<U3072, ValueError> {
    if bytes.len() != ELEMENT_LEN {
        return Err(ValueError::Length);
    }
    Ok(U3072::from_be_slice(bytes))
}

fn to_fixed(v: &U3072) -> [u8; ELEMENT_LEN] {
    let mut out = [0u8; ELEMENT_LEN];
    out.copy_from_slice(v.to_be_bytes().as_ref());
    out
}

/// A validated element of the order-q subgroup (public).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Element(U3072);

impl core::fmt::Debug for Element {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Element(..)")
    }
}

impl Element {
    /// Decodes a peer's element: exactly 384 bytes, 2 <= x <= p-2, and a quadratic residue
    /// mod p. For the safe prime p the quadratic residues are exactly the subgroup of prime
    /// order q, so this is the order check without an exponentiation. It rejects 0, 1 and
    /// p-1 (the elements of order 1 and 2) and everything of order 2q.
    pub fn decode(bytes: &[u8]) -> Result<Element, ValueError> {
        let x = from_fixed(bytes)?;
        let pr = params();
        let p_minus_1 = pr.p.as_ref().wrapping_sub(&U3072::ONE);
        if x.cmp_vartime(&U3072::from_u8(2)).is_lt() || x.cmp_vartime(&p_minus_1).is_ge() {
            return Err(ValueError::Element);
        }
        if x.jacobi_symbol_vartime(&pr.p) != JacobiSymbol::One {
            return Err(ValueError::Element);
        }
        Ok(Element(x))
    }

    /// Fixed-width big-endian encoding.
    pub fn encode(&self) -> [u8; ELEMENT_LEN] {
        to_fixed(&self.0)
    }

    /// The generator g = 2 raised to a secret exponent (constant time).
    pub fn g_pow(e: &Exponent) -> Element {
        Element::from_u64(2).pow_secret(e)
    }

    fn from_u64(v: u64) -> Element {
        Element(U3072::from_u64(v))
    }

    fn monty(&self) -> FixedMontyForm<{ U3072::LIMBS }> {
        FixedMontyForm::new(&self.0, &params().p_mont)
    }

    /// self^e for a secret exponent (constant time in `e`).
    pub fn pow_secret(&self, e: &Exponent) -> Element {
        Element(self.monty().pow(&e.0).retrieve())
    }

    /// self^e for a public exponent (variable time).
    pub fn pow_public(&self, e: &Public) -> Element {
        Element(self.monty().pow_vartime(&e.0).retrieve())
    }

    /// The group product.
    pub fn mul(&self, other: &Element) -> Element {
        Element(self.monty().mul(&other.monty()).retrieve())
    }

    /// self / other. Elements are units (validated or computed in the group), so the inverse
    /// exists; both are public values.
    pub fn div(&self, other: &Element) -> Element {
        let inv = other
            .monty()
            .invert_vartime()
            .into_option()
            .unwrap_or(FixedMontyForm::one(&params().p_mont));
        Element(self.monty().mul(&inv).retrieve())
    }

    /// Constant-time equality (the final SMP comparison involves values only the two
    /// parties can compute).
    pub fn ct_eq(&self, other: &Element) -> bool {
        self.encode().ct_eq(&other.encode()).into()
    }
}

/// A public exponent: a challenge or a proof response (0 <= v < q).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Public(U3072);

impl core::fmt::Debug for Public {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Public(..)")
    }
}

impl Public {
    /// Decodes a proof response: exactly 384 bytes and below q.
    pub fn decode(bytes: &[u8]) -> Result<Public, ValueError> {
        let v = from_fixed(bytes)?;
        if v.cmp_vartime(&params().q).is_ge() {
            return Err(ValueError::Exponent);
        }
        Ok(Public(v))
    }

    /// A challenge from a 32-byte hash (always below q).
    pub fn from_hash(h: &[u8; 32]) -> Public {
        let mut wide = [0u8; ELEMENT_LEN];
        if let Some(tail) = wide.get_mut(ELEMENT_LEN - 32..) {
            tail.copy_from_slice(h);
        }
        Public(U3072::from_be_slice(&wide))
    }

    /// Fixed-width big-endian encoding.
    pub fn encode(&self) -> [u8; ELEMENT_LEN] {
        to_fixed(&self.0)
    }
}

/// A secret exponent modulo q. Wiped on drop; no `Clone`, `Copy` or `Debug`.
pub struct Exponent(U3072);

impl Drop for Exponent {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Exponent {
    /// A uniformly random exponent in 1..q (rejection sampling on 3071-bit candidates; q is
    /// just below 2^3071, so a retry is astronomically rare).
    pub fn random(rng: &mut impl rand_core::CryptoRng) -> Exponent {
        let q = &params().q;
        let mut buf = [0u8; ELEMENT_LEN];
        loop {
            rng.fill_bytes(&mut buf);
            if let Some(top) = buf.first_mut() {
                *top &= 0x7f;
            }
            let v = U3072::from_be_slice(&buf);
            if v.cmp_vartime(q).is_lt() && !bool::from(v.is_zero()) {
                buf.zeroize();
                return Exponent(v);
            }
        }
    }

    /// An exponent from secret hash output, big-endian (callers pass at most 64 bytes, so
    /// the value is far below q; longer input keeps its last 384 bytes).
    pub fn from_hash(h: &[u8]) -> Exponent {
        let mut wide = [0u8; ELEMENT_LEN];
        let h = h
            .get(h.len().saturating_sub(ELEMENT_LEN)..)
            .unwrap_or_default();
        if let Some(tail) = wide.get_mut(ELEMENT_LEN - h.len()..) {
            tail.copy_from_slice(h);
        }
        let e = Exponent(U3072::from_be_slice(&wide));
        wide.zeroize();
        e
    }

    fn monty(&self) -> FixedMontyForm<{ U3072::LIMBS }> {
        FixedMontyForm::new(&self.0, &params().q_mont)
    }

    /// The Schnorr response `self - secret·c mod q`, where `self` is the proof's random
    /// exponent (constant time in both secrets).
    pub fn respond(&self, secret: &Exponent, c: &Public) -> Public {
        let c = FixedMontyForm::new(&c.0, &params().q_mont);
        Public(self.monty().sub(&secret.monty().mul(&c)).retrieve())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_rng as rng;

    fn p() -> U3072 {
        *params().p.as_ref()
    }

    #[test]
    fn generator_is_in_the_subgroup() {
        // 2 is a quadratic residue mod p (p = 7 mod 8), so g generates the order-q subgroup.
        assert!(Element::decode(&to_fixed(&U3072::from_u8(2))).is_ok());
        let one = Exponent::from_hash(&[1]);
        assert_eq!(Element::g_pow(&one), Element::from_u64(2));
    }

    #[test]
    fn rejects_identity_minus_one_zero_and_out_of_range() {
        let p = p();
        for bad in [
            U3072::ZERO,
            U3072::ONE,
            p.wrapping_sub(&U3072::ONE),
            p,
            p.wrapping_add(&U3072::from_u8(2)),
            U3072::MAX,
        ] {
            assert_eq!(
                Element::decode(&to_fixed(&bad)),
                Err(ValueError::Element),
                "{bad:?}"
            );
        }
        assert_eq!(Element::decode(&[2u8; 10]), Err(ValueError::Length));
    }

    #[test]
    fn rejects_elements_of_order_2q() {
        // p - 2 = -2 is a non-residue (since -1 is a non-residue and 2 a residue).
        let minus_two = p().wrapping_sub(&U3072::from_u8(2));
        assert_eq!(
            Element::decode(&to_fixed(&minus_two)),
            Err(ValueError::Element)
        );
        // And the generator times -1 likewise.
    }

    #[test]
    fn residues_have_order_q() {
        let mut rng = rng(7);
        let e = Exponent::random(&mut rng);
        let x = Element::g_pow(&e);
        let decoded = Element::decode(&x.encode()).expect("residue");
        let q = Public(params().q);
        assert_eq!(decoded.pow_public(&q), Element::from_u64(1));
    }

    #[test]
    fn responses_satisfy_the_schnorr_equation() {
        let mut rng = rng(9);
        let a = Exponent::random(&mut rng);
        let r = Exponent::random(&mut rng);
        let c = Public::from_hash(&[0xAB; 32]);
        let d = r.respond(&a, &c);
        // g^d · (g^a)^c == g^r
        let lhs = Element::from_u64(2)
            .pow_public(&d)
            .mul(&Element::g_pow(&a).pow_public(&c));
        assert_eq!(lhs, Element::g_pow(&r));
    }

    #[test]
    fn exponent_bounds_are_checked() {
        assert_eq!(
            Public::decode(&to_fixed(&params().q)),
            Err(ValueError::Exponent)
        );
        assert!(Public::decode(&to_fixed(&params().q.wrapping_sub(&U3072::ONE))).is_ok());
    }
}
