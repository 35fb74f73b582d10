//! Exponent arithmetic modulo q = (p-1)/2 for the SMP proofs, and the range check on the
//! proof responses a peer sends.
//!
//! libotr draws every SMP exponent as 1536 random bits and never reduces it: it raises to the
//! full value and reduces only where it computes a response `D = r - secret·c mod q`
//! (`gcry_mpi_mulm` then `gcry_mpi_subm`, both mod q). We do the same, with the reduction and
//! the arithmetic in Montgomery form mod q, which is constant time in both secrets.

use std::sync::OnceLock;

use crypto_bigint::modular::{FixedMontyForm, FixedMontyParams};
use crypto_bigint::{Odd, U1536};
use zeroize::Zeroize;

use crate::group::SecretExponent;

/// q = (p-1)/2, as libotr's `SM_ORDER_S` (checked against `group::q()` in the tests).
const MODP1536_Q_HEX: &str = concat!(
    "7FFFFFFFFFFFFFFFE487ED5110B4611A62633145C06E0E68",
    "948127044533E63A0105DF531D89CD9128A5043CC71A026E",
    "F7CA8CD9E69D218D98158536F92F8A1BA7F09AB6B6A8E122",
    "F242DABB312F3F637A262174D31BF6B585FFAE5B7A035BF6",
    "F71C35FDAD44CFD2D74F9208BE258FF324943328F6722D9E",
    "E1003E5C50B1DF82CC6D241B0E2AE9CD348B1FD47E9267AF",
    "C1B2AE91EE51D6CB0E3179AB1042A95DCF6A9483B84B4B36",
    "B3861AA7255E4C0278BA36046511B993FFFFFFFFFFFFFFFF",
);

/// Bytes of a random SMP exponent (libotr's `randomExponent`: 192 bytes, 1536 bits).
pub const RANDOM_EXPONENT_BYTES: usize = 192;

fn q_params() -> &'static FixedMontyParams<{ U1536::LIMBS }> {
    static PARAMS: OnceLock<FixedMontyParams<{ U1536::LIMBS }>> = OnceLock::new();
    // `from_be_hex` is evaluated at compile time: an even or malformed constant would not build.
    const Q: Odd<U1536> = Odd::<U1536>::from_be_hex(MODP1536_Q_HEX);
    PARAMS.get_or_init(|| FixedMontyParams::new(Q))
}

/// A fresh random exponent of 1536 bits, as libotr draws them (not reduced mod q).
pub fn random(rng: &mut (impl rand_core::CryptoRng + ?Sized)) -> SecretExponent {
    SecretExponent::random(rng, RANDOM_EXPONENT_BYTES)
}

/// The proof response `(r - secret·c) mod q`, constant time in `r` and `secret`; `c` is a
/// public challenge. Montgomery conversion reduces inputs up to 2^1536 - 1 (anything below
/// R = 2^1536), so the unreduced 1536-bit exponents go in as they are.
pub fn response(r: &SecretExponent, secret: &SecretExponent, c: &U1536) -> U1536 {
    let params = q_params();
    let mut rm = FixedMontyForm::new(r.value(), params);
    let mut sm = FixedMontyForm::new(secret.value(), params);
    let cm = FixedMontyForm::new(c, params);
    let mut sc = sm.mul(&cm);
    let d = rm.sub(&sc).retrieve();
    rm.zeroize();
    sm.zeroize();
    sc.zeroize();
    d
}

/// libotr's `check_expon`: a proof response must satisfy 1 <= D < q.
pub fn is_valid_response(d: &U1536) -> bool {
    let q = q_params().modulus().as_ref();
    !bool::from(d.is_zero()) && d < q
}

#[cfg(test)]
mod tests {
    use super::*;
    use crypto_bigint::NonZero;
    use rand::{Rng, SeedableRng};

    fn q() -> U1536 {
        *q_params().modulus().as_ref()
    }

    #[test]
    fn q_is_half_of_p_minus_one() {
        assert_eq!(&q(), crate::group::q());
    }

    #[test]
    fn response_matches_schoolbook_arithmetic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let q_nz = NonZero::new(q()).into_option().expect("q is not zero");
        let p_minus_1 = crate::group::p().wrapping_sub(&U1536::ONE);
        // Random full-width values (often >= q, sometimes >= 2q) and the extremes.
        let mut cases = vec![
            (U1536::MAX, U1536::MAX),
            (U1536::ZERO, U1536::ONE),
            (q(), q()),
            (p_minus_1, U1536::from_u8(3)),
        ];
        for _ in 0..20 {
            let mut a = [0u8; 192];
            let mut b = [0u8; 192];
            rng.fill_bytes(&mut a);
            rng.fill_bytes(&mut b);
            cases.push((U1536::from_be_slice(&a), U1536::from_be_slice(&b)));
        }
        for (r, x) in cases {
            let mut cb = [0u8; 32];
            rng.fill_bytes(&mut cb);
            let c = U1536::from_be_slice(&[[0u8; 160].as_slice(), &cb].concat());
            let d = response(
                &SecretExponent::from_value(r),
                &SecretExponent::from_value(x),
                &c,
            );
            // Independently: r mod q, x·c mod q via a double-width remainder, then r - xc mod q.
            let rq = r.rem_vartime(&q_nz);
            let xq = x.rem_vartime(&q_nz);
            let (lo, hi) = xq.widening_mul(&c);
            let xc = U1536::rem_wide_vartime((lo, hi), &q_nz);
            let expected = rq.sub_mod(&xc, &q_nz);
            assert_eq!(d, expected);
            assert!(d < q());
        }
    }

    #[test]
    fn responses_are_range_checked_as_libotr_does() {
        assert!(!is_valid_response(&U1536::ZERO));
        assert!(is_valid_response(&U1536::ONE));
        assert!(is_valid_response(&q().wrapping_sub(&U1536::ONE)));
        assert!(!is_valid_response(&q()));
        assert!(!is_valid_response(&U1536::MAX));
    }
}
