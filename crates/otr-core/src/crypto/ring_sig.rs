//! The otrv4 ring signature (appendix "Ring Signature Authentication"), over Ed448.
//!
//! A signature over a ring {A1, A2, A3} proves knowledge of the secret key of one of the three
//! points without revealing which. The DAKE uses rings such as {F_peer, H_self, Y_peer}: the
//! peer, who knows y_peer, could have produced it as well, which makes the DAKE deniable.
//!
//! Signing is constant-time in the signer's position: every position is computed both as
//! "signer" and as "decoy" and the result picked with `subtle` selection.

// Indices here are loop counters below 3 over `[_; 3]` arrays and constant offsets into
// fixed-size arrays; none comes from input.
#![allow(clippy::indexing_slicing)]

use ed448_goldilocks_plus::{EdwardsPoint, Scalar};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use super::CryptoError;
use super::ed448::{
    POINT_LEN, PublicPoint, SCALAR_LEN, SecretScalar, scalar_from_bytes, scalar_from_wide,
    scalar_to_bytes,
};
use super::kdf::{Usage, kdf_into};

/// Encoded length: (c1, r1, c2, r2, c3, r3), six 57-byte scalars.
pub const RING_SIG_LEN: usize = 6 * SCALAR_LEN;

/// The group order q as a 57-byte little-endian SCALAR, absorbed into the challenge as in otrv4.
const Q_LE: [u8; SCALAR_LEN] = {
    let be: [u8; 56] = [
        0x3f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7c, 0xca,
        0x23, 0xe9, 0xc4, 0x4e, 0xdb, 0x49, 0xae, 0xd6, 0x36, 0x90, 0x21, 0x6c, 0xc2, 0x72, 0x8d,
        0xc5, 0x8f, 0x55, 0x23, 0x78, 0xc2, 0x92, 0xab, 0x58, 0x44, 0xf3,
    ];
    let mut le = [0u8; SCALAR_LEN];
    let mut i = 0;
    while i < 56 {
        le[i] = be[55 - i];
        i += 1;
    }
    le
};

fn challenge(ring: &[&PublicPoint; 3], t: &[EdwardsPoint; 3], msg: &[u8]) -> Scalar {
    let g = EdwardsPoint::GENERATOR.compress().0;
    let t_enc: [[u8; POINT_LEN]; 3] = [t[0].compress().0, t[1].compress().0, t[2].compress().0];
    let mut wide = [0u8; 114];
    kdf_into(
        Usage::RingChallenge,
        &[
            &g,
            &Q_LE,
            ring[0].as_bytes(),
            ring[1].as_bytes(),
            ring[2].as_bytes(),
            &t_enc[0],
            &t_enc[1],
            &t_enc[2],
            msg,
        ],
        &mut wide,
    );
    scalar_from_wide(&wide)
}

/// Signs `msg` for `ring`, which must contain `public` (the signer's key) exactly once.
pub(crate) fn sign(
    rng: &mut impl rand_core::CryptoRng,
    secret: &SecretScalar,
    public: &PublicPoint,
    ring: [&PublicPoint; 3],
    msg: &[u8],
) -> Result<[u8; RING_SIG_LEN], CryptoError> {
    let is_signer: [Choice; 3] =
        core::array::from_fn(|i| ring[i].as_bytes().ct_eq(public.as_bytes()));
    let count: u8 = is_signer.iter().map(|c| c.unwrap_u8()).sum();
    if count != 1 {
        return Err(CryptoError::SignerNotInRing);
    }
    let t_nonce: [SecretScalar; 3] = core::array::from_fn(|_| SecretScalar::random(rng));
    let c_rand: [SecretScalar; 3] = core::array::from_fn(|_| SecretScalar::random(rng));
    let r_rand: [SecretScalar; 3] = core::array::from_fn(|_| SecretScalar::random(rng));

    // T_i = G·u_i + A_i·v_i with (u, v) = (t, 0) at the signer's position and (r_i, c_i)
    // elsewhere: the same constant-time computation at every position, whoever signs.
    let g = EdwardsPoint::GENERATOR;
    // Scalars are `Copy`: every plain copy of the nonce t (and c·a, from which the secret
    // key follows) is wiped here; the `SecretScalar`s wipe themselves on drop.
    let t_points: [EdwardsPoint; 3] = core::array::from_fn(|i| {
        let mut u =
            Scalar::conditional_select(r_rand[i].scalar(), t_nonce[i].scalar(), is_signer[i]);
        let v = Scalar::conditional_select(c_rand[i].scalar(), &Scalar::ZERO, is_signer[i]);
        let t = double_mul_ct(&u, &g, &v, ring[i].point());
        u.zeroize();
        t
    });
    let c = challenge(&ring, &t_points, msg);

    let mut sum_decoys = Scalar::ZERO;
    let mut t_signer = Scalar::ZERO;
    for i in 0..3 {
        sum_decoys += Scalar::conditional_select(c_rand[i].scalar(), &Scalar::ZERO, is_signer[i]);
        t_signer += Scalar::conditional_select(&Scalar::ZERO, t_nonce[i].scalar(), is_signer[i]);
    }
    let c_signer = c - sum_decoys;
    let mut c_a = c_signer * secret.scalar();
    let r_signer = t_signer - c_a;
    t_signer.zeroize();
    c_a.zeroize();

    let mut out = [0u8; RING_SIG_LEN];
    for i in 0..3 {
        let ci = Scalar::conditional_select(c_rand[i].scalar(), &c_signer, is_signer[i]);
        let ri = Scalar::conditional_select(r_rand[i].scalar(), &r_signer, is_signer[i]);
        let off = 2 * i * SCALAR_LEN;
        out[off..off + SCALAR_LEN].copy_from_slice(&scalar_to_bytes(&ci));
        out[off + SCALAR_LEN..off + 2 * SCALAR_LEN].copy_from_slice(&scalar_to_bytes(&ri));
    }
    Ok(out)
}

const WINDOW: usize = 4;

/// The multiples `[0]P .. [15]P`.
fn window_table(p: &EdwardsPoint) -> [EdwardsPoint; 1 << WINDOW] {
    let mut t = [EdwardsPoint::IDENTITY; 1 << WINDOW];
    for i in 1..(1 << WINDOW) {
        t[i] = t[i - 1].add(p);
    }
    t
}

/// The `w`-th 4-bit digit of a scalar, from its little-endian bits, without branches.
fn digit(bits: &[bool; 448], w: usize) -> usize {
    (0..WINDOW).fold(0, |acc, k| acc | (usize::from(bits[w * WINDOW + k]) << k))
}

/// Selects `table[d]` by scanning every entry with constant-time selection.
fn ct_lookup(table: &[EdwardsPoint; 1 << WINDOW], d: usize) -> EdwardsPoint {
    let mut out = EdwardsPoint::IDENTITY;
    for (j, entry) in table.iter().enumerate() {
        out.conditional_assign(entry, (j as u64).ct_eq(&(d as u64)));
    }
    out
}

/// `a·P + b·Q` in constant time with respect to the scalars: Straus' interleaving with 4-bit
/// fixed windows, every window doing four doublings and two additions of entries fetched by
/// a full constant-time table scan (entry 0 is the identity; Ed448's addition law is
/// complete, so adding it needs no special case). Used by the signer, whose scalars include
/// the secret nonce.
fn double_mul_ct(a: &Scalar, p: &EdwardsPoint, b: &Scalar, q: &EdwardsPoint) -> EdwardsPoint {
    let (tp, tq) = (window_table(p), window_table(q));
    let (mut ab, mut bb) = (a.bits(), b.bits());
    let mut acc = EdwardsPoint::IDENTITY;
    for w in (0..448 / WINDOW).rev() {
        for _ in 0..WINDOW {
            acc = acc.double();
        }
        // A fetched entry names a digit of the scalar (the nonce): wipe it after use.
        let mut e = ct_lookup(&tp, digit(&ab, w));
        acc = acc.add(&e);
        e = ct_lookup(&tq, digit(&bb, w));
        acc = acc.add(&e);
        e.zeroize();
    }
    ab.zeroize();
    bb.zeroize();
    acc
}

/// `a·P + b·Q` in variable time, for verification only (every input is public): Straus'
/// interleaving with 4-bit fixed windows. About 40% cheaper than two constant-time
/// multiplications with this curve crate.
fn double_mul_vartime(a: &Scalar, p: &EdwardsPoint, b: &Scalar, q: &EdwardsPoint) -> EdwardsPoint {
    let (tp, tq) = (window_table(p), window_table(q));
    let (ab, bb) = (a.bits(), b.bits());
    let mut acc = EdwardsPoint::IDENTITY;
    for w in (0..448 / WINDOW).rev() {
        for _ in 0..WINDOW {
            acc = acc.double();
        }
        let (da, db) = (digit(&ab, w), digit(&bb, w));
        if da != 0 {
            acc = acc.add(&tp[da]);
        }
        if db != 0 {
            acc = acc.add(&tq[db]);
        }
    }
    acc
}

/// Verifies a ring signature. Non-canonical scalars are rejected.
pub fn verify(
    ring: [&PublicPoint; 3],
    msg: &[u8],
    sig: &[u8; RING_SIG_LEN],
) -> Result<(), CryptoError> {
    let mut cs = [Scalar::ZERO; 3];
    let mut rs = [Scalar::ZERO; 3];
    for (i, chunk) in sig.chunks_exact(2 * SCALAR_LEN).enumerate().take(3) {
        let (c_bytes, r_bytes) = chunk.split_at(SCALAR_LEN);
        let c_arr: &[u8; SCALAR_LEN] =
            c_bytes.try_into().map_err(|_| CryptoError::InvalidScalar)?;
        let r_arr: &[u8; SCALAR_LEN] =
            r_bytes.try_into().map_err(|_| CryptoError::InvalidScalar)?;
        cs[i] = scalar_from_bytes(c_arr)?;
        rs[i] = scalar_from_bytes(r_arr)?;
    }
    let g = EdwardsPoint::GENERATOR;
    let t_points: [EdwardsPoint; 3] =
        core::array::from_fn(|i| double_mul_vartime(&rs[i], &g, &cs[i], ring[i].point()));
    let c = challenge(&ring, &t_points, msg);
    if bool::from((cs[0] + cs[1] + cs[2]).ct_eq(&c)) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_rng;

    fn keys(rng: &mut impl rand_core::CryptoRng) -> (SecretScalar, PublicPoint) {
        let s = SecretScalar::random(rng);
        let p = s.public();
        (s, p)
    }

    #[test]
    fn any_position_signs_and_verifies() {
        let mut rng = test_rng(1);
        let (a, pa) = keys(&mut rng);
        let (_, pb) = keys(&mut rng);
        let (_, pc) = keys(&mut rng);
        for ring in [[&pa, &pb, &pc], [&pb, &pa, &pc], [&pb, &pc, &pa]] {
            let sig = sign(&mut rng, &a, &pa, ring, b"msg").unwrap();
            verify(ring, b"msg", &sig).unwrap();
            assert!(verify(ring, b"msh", &sig).is_err());
            let other = [ring[1], ring[0], ring[2]];
            assert!(verify(other, b"msg", &sig).is_err());
        }
    }

    #[test]
    fn vartime_double_mul_matches_constant_time() {
        let mut rng = test_rng(4);
        for _ in 0..20 {
            let (a, b) = (
                SecretScalar::random(&mut rng),
                SecretScalar::random(&mut rng),
            );
            let q = SecretScalar::random(&mut rng).public();
            let g = EdwardsPoint::GENERATOR;
            let expect = g * a.scalar() + q.point() * b.scalar();
            assert_eq!(
                double_mul_vartime(a.scalar(), &g, b.scalar(), q.point()),
                expect
            );
        }
        let g = EdwardsPoint::GENERATOR;
        assert_eq!(double_mul_vartime(&Scalar::ZERO, &g, &Scalar::ONE, &g), g);
        assert_eq!(
            double_mul_vartime(&-Scalar::ONE, &g, &Scalar::ONE, &g),
            EdwardsPoint::IDENTITY
        );
    }

    #[test]
    fn signer_must_be_in_ring_once() {
        let mut rng = test_rng(2);
        let (a, pa) = keys(&mut rng);
        let (_, pb) = keys(&mut rng);
        let (_, pc) = keys(&mut rng);
        let (_, pd) = keys(&mut rng);
        assert!(sign(&mut rng, &a, &pa, [&pb, &pc, &pd], b"m").is_err());
        assert!(sign(&mut rng, &a, &pa, [&pa, &pa, &pd], b"m").is_err());
    }

    #[test]
    fn tampered_scalar_rejected() {
        let mut rng = test_rng(3);
        let (a, pa) = keys(&mut rng);
        let (_, pb) = keys(&mut rng);
        let (_, pc) = keys(&mut rng);
        let sig = sign(&mut rng, &a, &pa, [&pa, &pb, &pc], b"m").unwrap();
        for i in [0, 60, 200, 341] {
            let mut bad = sig;
            bad[i] ^= 1;
            assert!(verify([&pa, &pb, &pc], b"m", &bad).is_err(), "byte {i}");
        }
    }
}
