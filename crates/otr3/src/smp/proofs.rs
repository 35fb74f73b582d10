//! The SMP hash and the three zero-knowledge proofs of sm.c: knowledge of a discrete log,
//! equal coordinates (for P and Q), and equal logs (for R).
//!
//! Secret exponents go through `group::pow` (constant time); checks raise to the peer's
//! public challenge and responses with variable-time exponentiation.

use crypto_bigint::U1536;
use crypto_bigint::modular::FixedMontyForm;
use sha2::{Digest, Sha256};

use super::SmpError;
use super::exponent::{random, response};
use super::messages::{Proof, Proof2};
use crate::group::{self, SecretExponent};

/// g1 = 2.
pub fn g1() -> U1536 {
    U1536::from_u8(2)
}

/// `base^e mod p` for a public exponent (variable time in `e`).
pub fn pow_public(base: &U1536, e: &U1536) -> U1536 {
    FixedMontyForm::new(base, group::p_params())
        .pow_vartime(e)
        .retrieve()
}

/// `a / b mod p` (libotr: `gcry_mpi_invm` then `gcry_mpi_mulm`). Both are public elements in
/// 2..=p-2, so `b` is invertible; the fallback to 1 is unreachable.
pub fn div(a: &U1536, b: &U1536) -> U1536 {
    let pm = group::p_params();
    let inv = FixedMontyForm::new(b, pm)
        .invert_vartime()
        .into_option()
        .unwrap_or(FixedMontyForm::one(pm));
    (FixedMontyForm::new(a, pm) * inv).retrieve()
}

/// libotr's `otrl_sm_hash`: SHA-256 of the version byte, MPI(a) and, if given, MPI(b), read
/// as a big-endian integer. libotr does not reduce it mod q: it is used as it is both as an
/// exponent and as the value sent (an MPI of at most 32 bytes, leading zeros dropped).
pub fn hash(version: u8, a: &U1536, b: Option<&U1536>) -> U1536 {
    let mut h = Sha256::new();
    h.update([version]);
    h.update(group::to_mpi(a));
    if let Some(b) = b {
        h.update(group::to_mpi(b));
    }
    let digest: [u8; 32] = h.finalize().into();
    let mut wide = [0u8; group::ELEMENT_LEN];
    if let Some(tail) = wide.get_mut(group::ELEMENT_LEN - 32..) {
        tail.copy_from_slice(&digest);
    }
    U1536::from_be_slice(&wide)
}

/// The challenge a peer sent must equal the recomputed hash (libotr: `gcry_mpi_cmp`; an
/// integer comparison, so an MPI with leading zero bytes counts as the same value).
fn matches(sent: &U1536, computed: &U1536) -> Result<(), SmpError> {
    if sent == computed {
        Ok(())
    } else {
        Err(SmpError::BadProof)
    }
}

/// `otrl_sm_proof_know_log`: proves knowledge of x in g1^x.
pub fn prove_know_log(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    x: &SecretExponent,
    version: u8,
) -> Proof {
    let r = random(rng);
    let c = hash(version, &group::pow_g(r.value()), None);
    let d = response(&r, x, &c);
    Proof { c, d }
}

/// `otrl_sm_check_know_log`: c = h(g1^d · x^c).
pub fn check_know_log(pr: &Proof, x: &U1536, version: u8) -> Result<(), SmpError> {
    let gd = pow_public(&g1(), &pr.d);
    let xc = pow_public(x, &pr.c);
    matches(&pr.c, &hash(version, &group::mul(&gd, &xc), None))
}

/// The two generators both sides derive in the first half of the exchange.
pub struct Generators<'a> {
    /// g2 = g1^(a2·b2).
    pub g2: &'a U1536,
    /// g3 = g1^(a3·b3).
    pub g3: &'a U1536,
}

/// `otrl_sm_proof_equal_coords`: proves P = g3^r and Q = g1^r · g2^secret for the same r:
/// c = h(g3^r1, g1^r1 · g2^r2), D1 = r1 - r·c, D2 = r2 - secret·c (mod q).
pub fn prove_equal_coords(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    gens: &Generators<'_>,
    r: &SecretExponent,
    secret: &SecretExponent,
    version: u8,
) -> Proof2 {
    let r1 = random(rng);
    let r2 = random(rng);
    let first = group::pow(gens.g3, r1.value());
    let second = group::mul(&group::pow_g(r1.value()), &group::pow(gens.g2, r2.value()));
    let c = hash(version, &first, Some(&second));
    Proof2 {
        c,
        d1: response(&r1, r, &c),
        d2: response(&r2, secret, &c),
    }
}

/// `otrl_sm_check_equal_coords`: c = h(g3^D1 · P^c, g1^D1 · g2^D2 · Q^c).
pub fn check_equal_coords(
    pr: &Proof2,
    p: &U1536,
    q: &U1536,
    gens: &Generators<'_>,
    version: u8,
) -> Result<(), SmpError> {
    let first = group::mul(&pow_public(gens.g3, &pr.d1), &pow_public(p, &pr.c));
    let second = group::mul(
        &group::mul(&pow_public(&g1(), &pr.d1), &pow_public(gens.g2, &pr.d2)),
        &pow_public(q, &pr.c),
    );
    matches(&pr.c, &hash(version, &first, Some(&second)))
}

/// `otrl_sm_proof_equal_logs`: proves R = qab^x3 where g3x = g1^x3:
/// c = h(g1^r, qab^r), D = r - x3·c (mod q).
pub fn prove_equal_logs(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    qab: &U1536,
    x3: &SecretExponent,
    version: u8,
) -> Proof {
    let r = random(rng);
    let c = hash(
        version,
        &group::pow_g(r.value()),
        Some(&group::pow(qab, r.value())),
    );
    let d = response(&r, x3, &c);
    Proof { c, d }
}

/// `otrl_sm_check_equal_logs`: c = h(g1^D · g3o^c, qab^D · R^c), with g3o the peer's
/// g1^x3 from the first half.
pub fn check_equal_logs(
    pr: &Proof,
    r: &U1536,
    g3o: &U1536,
    qab: &U1536,
    version: u8,
) -> Result<(), SmpError> {
    let first = group::mul(&pow_public(&g1(), &pr.d), &pow_public(g3o, &pr.c));
    let second = group::mul(&pow_public(qab, &pr.d), &pow_public(r, &pr.c));
    matches(&pr.c, &hash(version, &first, Some(&second)))
}
