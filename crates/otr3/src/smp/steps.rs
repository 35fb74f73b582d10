//! The arithmetic of each SMP step, in the order sm.c does it (`otrl_sm_step1` … `step5`).
//! Alice starts (secret x), Bob answers (secret y); g1 = 2.
//!
//! Received values arrive range-checked by `messages`; here every proof is verified before
//! anything derived from the message is kept.

use crypto_bigint::U1536;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::SmpError;
use super::exponent::random;
use super::messages::{Smp1, Smp2, Smp3, Smp4};
use super::proofs::{
    Generators, check_equal_coords, check_equal_logs, check_know_log, div, prove_equal_coords,
    prove_equal_logs, prove_know_log,
};
use crate::group::{self, SecretExponent};

/// The secret each side feeds to SMP, as libotr's `init_respond_smp` builds it:
/// SHA-256(0x01 || initiator's fingerprint || responder's fingerprint || ssid || secret),
/// the digest read as a 256-bit integer. The user's secret is hashed as given, with no
/// Unicode normalisation: libotr hashes the bytes it is handed and irssi-otr and pidgin-otr
/// hand it what the user typed (UTF-8), so a secret normalised on our side only would stop
/// matching the same secret typed on theirs.
pub fn combined_secret(
    initiator: &[u8; 20],
    responder: &[u8; 20],
    ssid: &[u8; 8],
    secret: &[u8],
) -> SecretExponent {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(initiator);
    h.update(responder);
    h.update(ssid);
    h.update(secret);
    let mut wide = Zeroizing::new([0u8; group::ELEMENT_LEN]);
    let mut digest: [u8; 32] = h.finalize().into();
    if let Some(tail) = wide.get_mut(group::ELEMENT_LEN - 32..) {
        tail.copy_from_slice(&digest);
    }
    digest.zeroize();
    SecretExponent::from_value(U1536::from_be_slice(wide.as_ref()))
}

/// Alice after sending SMP1.
pub struct AliceSent1 {
    x: SecretExponent,
    a2: SecretExponent,
    a3: SecretExponent,
}

/// Bob after sending SMP2.
pub struct BobSent2 {
    b3: SecretExponent,
    g2: Zeroizing<U1536>,
    g3: Zeroizing<U1536>,
    /// Alice's g3a (libotr's `g3o`).
    g3a: U1536,
    pb: U1536,
    qb: U1536,
}

/// Alice after sending SMP3.
pub struct AliceSent3 {
    a3: SecretExponent,
    /// Bob's g3b (libotr's `g3o`).
    g3b: U1536,
    pab: U1536,
    qab: U1536,
}

/// Alice: SMP1 (`otrl_sm_step1`).
pub fn smp1(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    question: Option<String>,
    x: SecretExponent,
) -> (AliceSent1, Smp1) {
    let a2 = random(rng);
    let a3 = random(rng);
    let msg = Smp1 {
        question,
        g2a: group::pow_g(a2.value()),
        p2: prove_know_log(rng, &a2, 1),
        g3a: group::pow_g(a3.value()),
        p3: prove_know_log(rng, &a3, 2),
    };
    (AliceSent1 { x, a2, a3 }, msg)
}

/// Bob: verifies SMP1's proofs (`otrl_sm_step2a`), before the user is asked anything.
pub fn check_smp1(m: &Smp1) -> Result<(), SmpError> {
    check_know_log(&m.p2, &m.g2a, 1)?;
    check_know_log(&m.p3, &m.g3a, 2)
}

/// Bob: SMP2 from a verified SMP1 and his secret y (`otrl_sm_step2a` second half, `step2b`).
pub fn smp2(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    m1: &Smp1,
    y: &SecretExponent,
) -> (BobSent2, Smp2) {
    let b2 = random(rng);
    let b3 = random(rng);
    let g2 = Zeroizing::new(group::pow(&m1.g2a, b2.value()));
    let g3 = Zeroizing::new(group::pow(&m1.g3a, b3.value()));
    let g2b = group::pow_g(b2.value());
    let p2 = prove_know_log(rng, &b2, 3);
    let g3b = group::pow_g(b3.value());
    let p3 = prove_know_log(rng, &b3, 4);
    let r4 = random(rng);
    let pb = group::pow(&g3, r4.value());
    let qb = group::mul(&group::pow_g(r4.value()), &group::pow(&g2, y.value()));
    let gens = Generators { g2: &g2, g3: &g3 };
    let pq = prove_equal_coords(rng, &gens, &r4, y, 5);
    let msg = Smp2 {
        g2b,
        p2,
        g3b,
        p3,
        pb,
        qb,
        pq,
    };
    let st = BobSent2 {
        b3,
        g2,
        g3,
        g3a: m1.g3a,
        pb,
        qb,
    };
    (st, msg)
}

/// Alice: verifies SMP2 and answers with SMP3 (`otrl_sm_step3`).
pub fn smp3(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    st: AliceSent1,
    m2: &Smp2,
) -> Result<(AliceSent3, Smp3), SmpError> {
    check_know_log(&m2.p2, &m2.g2b, 3)?;
    check_know_log(&m2.p3, &m2.g3b, 4)?;
    let g2 = Zeroizing::new(group::pow(&m2.g2b, st.a2.value()));
    let g3 = Zeroizing::new(group::pow(&m2.g3b, st.a3.value()));
    let gens = Generators { g2: &g2, g3: &g3 };
    check_equal_coords(&m2.pq, &m2.pb, &m2.qb, &gens, 5)?;
    let r4 = random(rng);
    let pa = group::pow(&g3, r4.value());
    let qa = group::mul(&group::pow_g(r4.value()), &group::pow(&g2, st.x.value()));
    let pq = prove_equal_coords(rng, &gens, &r4, &st.x, 6);
    let pab = div(&pa, &m2.pb);
    let qab = div(&qa, &m2.qb);
    let ra = group::pow(&qab, st.a3.value());
    let r = prove_equal_logs(rng, &qab, &st.a3, 7);
    let next = AliceSent3 {
        a3: st.a3,
        g3b: m2.g3b,
        pab,
        qab,
    };
    Ok((next, Smp3 { pa, qa, pq, ra, r }))
}

/// Bob: verifies SMP3, answers with SMP4 and learns the result (`otrl_sm_step4`).
pub fn smp4(
    rng: &mut (impl rand_core::CryptoRng + ?Sized),
    st: &BobSent2,
    m3: &Smp3,
) -> Result<(bool, Smp4), SmpError> {
    let gens = Generators {
        g2: &st.g2,
        g3: &st.g3,
    };
    check_equal_coords(&m3.pq, &m3.pa, &m3.qa, &gens, 6)?;
    let pab = div(&m3.pa, &st.pb);
    let qab = div(&m3.qa, &st.qb);
    check_equal_logs(&m3.r, &m3.ra, &st.g3a, &qab, 7)?;
    let rb = group::pow(&qab, st.b3.value());
    let r = prove_equal_logs(rng, &qab, &st.b3, 8);
    let rab = group::pow(&m3.ra, st.b3.value());
    Ok((equal(&rab, &pab), Smp4 { rb, r }))
}

/// Alice: verifies SMP4 and learns the result (`otrl_sm_step5`).
pub fn finish(st: &AliceSent3, m4: &Smp4) -> Result<bool, SmpError> {
    check_equal_logs(&m4.r, &m4.rb, &st.g3b, &st.qab, 8)?;
    let rab = group::pow(&m4.rb, st.a3.value());
    Ok(equal(&rab, &st.pab))
}

/// Rab == Pa/Pb, compared in constant time (the values depend on both secrets).
fn equal(a: &U1536, b: &U1536) -> bool {
    let a = Zeroizing::new(group::to_be(a));
    let b = Zeroizing::new(group::to_be(b));
    a.as_ref().ct_eq(b.as_ref()).into()
}
