//! The arithmetic of each SMP step (OTRv3 §"Socialist Millionaires' Protocol", carried over to
//! OTRv4+ with every challenge bound to both fingerprints and the session id).
//!
//! Alice (initiator, secret x) and Bob (responder, secret y). g1 = 2.

use super::SmpError;
use super::group::{Element, Exponent, Public};
use super::messages::{Hash, Proof, Proof2, SMP_VERSION, Smp1, Smp2, Smp3, Smp4};
use crate::crypto::kdf::{self, Usage};
use crate::profile::Fingerprint;

/// Who is who in one SMP run, in initiator/responder order (both sides agree on it).
pub struct Roles<'a> {
    /// The fingerprint of the party that sent SMP1.
    pub initiator: &'a Fingerprint,
    /// The fingerprint of the other party.
    pub responder: &'a Fingerprint,
    /// The session id of the encrypted session carrying the run.
    pub ssid: &'a [u8; 8],
}

impl Roles<'_> {
    /// The challenge hash: step number, the run's binding, and the committed elements.
    fn challenge(&self, step: u8, a: &Element, b: Option<&Element>) -> Hash {
        let a = a.encode();
        let b = b.map(Element::encode);
        let head = [SMP_VERSION, step];
        let mut parts: Vec<&[u8]> =
            vec![&head, &self.initiator.0, &self.responder.0, self.ssid, &a];
        if let Some(b) = &b {
            parts.push(b);
        }
        kdf::hash(Usage::SmpChallenge, &parts)
    }

    /// The exponent each side feeds to SMP: the user's secret bound to both full
    /// fingerprints (classical and post-quantum keys), the session id and the question.
    pub fn secret(&self, question: Option<&str>, secret: &[u8]) -> Exponent {
        let h = kdf::derive::<64>(
            Usage::SmpSecret,
            &[
                &[SMP_VERSION],
                &self.initiator.0,
                &self.responder.0,
                self.ssid,
                question.unwrap_or("").as_bytes(),
                secret,
            ],
        );
        Exponent::from_hash(h.expose())
    }
}

fn g() -> Element {
    // The encoded generator always decodes; `g_pow` of 1 avoids a fallible path.
    Element::g_pow(&Exponent::from_hash(&[1]))
}

/// Proves knowledge of `secret` in `g^secret` with challenge tag `step`.
fn prove(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    step: u8,
    secret: &Exponent,
) -> Proof {
    let r = Exponent::random(rng);
    let c = roles.challenge(step, &Element::g_pow(&r), None);
    let d = r.respond(secret, &Public::from_hash(&c));
    Proof { c, d }
}

/// Checks a proof of knowledge of log_g(`y`).
fn check(roles: &Roles<'_>, step: u8, y: &Element, p: &Proof) -> Result<(), SmpError> {
    let c = Public::from_hash(&p.c);
    let commitment = g().pow_public(&p.d).mul(&y.pow_public(&c));
    if roles.challenge(step, &commitment, None) == p.c {
        Ok(())
    } else {
        Err(SmpError::BadProof)
    }
}

/// Alice's state after sending SMP1.
pub struct AfterSmp1 {
    pub(super) x: Exponent,
    pub(super) a2: Exponent,
    pub(super) a3: Exponent,
}

/// Bob's state after sending SMP2.
pub struct AfterSmp2 {
    pub(super) b3: Exponent,
    pub(super) g2: Element,
    pub(super) g3: Element,
    pub(super) g3a: Element,
    pub(super) pb: Element,
    pub(super) qb: Element,
}

/// Alice's state after sending SMP3.
pub struct AfterSmp3 {
    pub(super) a3: Exponent,
    pub(super) g3b: Element,
    pub(super) pa_pb: Element,
    pub(super) qa_qb: Element,
}

/// Alice: SMP1.
pub fn smp1(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    question: Option<String>,
    x: Exponent,
) -> (AfterSmp1, Smp1) {
    let a2 = Exponent::random(rng);
    let a3 = Exponent::random(rng);
    let msg = Smp1 {
        question,
        g2a: Element::g_pow(&a2),
        p2: prove(rng, roles, 1, &a2),
        g3a: Element::g_pow(&a3),
        p3: prove(rng, roles, 2, &a3),
    };
    (AfterSmp1 { x, a2, a3 }, msg)
}

/// Bob: checks SMP1's proofs (before asking the user for anything).
pub fn check_smp1(roles: &Roles<'_>, m: &Smp1) -> Result<(), SmpError> {
    check(roles, 1, &m.g2a, &m.p2)?;
    check(roles, 2, &m.g3a, &m.p3)
}

/// Proves that `p = g3^r4` and `q = g1^r4 · g2^s` (the exponent tag `step`).
fn prove_pq(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    step: u8,
    g2: &Element,
    g3: &Element,
    r4: &Exponent,
    s: &Exponent,
) -> Proof2 {
    let r5 = Exponent::random(rng);
    let r6 = Exponent::random(rng);
    let c = roles.challenge(
        step,
        &g3.pow_secret(&r5),
        Some(&Element::g_pow(&r5).mul(&g2.pow_secret(&r6))),
    );
    let cp = Public::from_hash(&c);
    Proof2 {
        c,
        d1: r5.respond(r4, &cp),
        d2: r6.respond(s, &cp),
    }
}

/// Checks a [`prove_pq`] proof.
fn check_pq(
    roles: &Roles<'_>,
    step: u8,
    g2: &Element,
    g3: &Element,
    p: &Element,
    q: &Element,
    pr: &Proof2,
) -> Result<(), SmpError> {
    let c = Public::from_hash(&pr.c);
    let first = g3.pow_public(&pr.d1).mul(&p.pow_public(&c));
    let second = g()
        .pow_public(&pr.d1)
        .mul(&g2.pow_public(&pr.d2))
        .mul(&q.pow_public(&c));
    if roles.challenge(step, &first, Some(&second)) == pr.c {
        Ok(())
    } else {
        Err(SmpError::BadProof)
    }
}

/// Proves that `r = base^e` and `g3x = g1^e` for the same e (tag `step`).
fn prove_r(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    step: u8,
    base: &Element,
    e: &Exponent,
) -> Proof {
    let r7 = Exponent::random(rng);
    let c = roles.challenge(step, &Element::g_pow(&r7), Some(&base.pow_secret(&r7)));
    let d = r7.respond(e, &Public::from_hash(&c));
    Proof { c, d }
}

fn check_r(
    roles: &Roles<'_>,
    step: u8,
    base: &Element,
    g3x: &Element,
    r: &Element,
    pr: &Proof,
) -> Result<(), SmpError> {
    let c = Public::from_hash(&pr.c);
    let first = g().pow_public(&pr.d).mul(&g3x.pow_public(&c));
    let second = base.pow_public(&pr.d).mul(&r.pow_public(&c));
    if roles.challenge(step, &first, Some(&second)) == pr.c {
        Ok(())
    } else {
        Err(SmpError::BadProof)
    }
}

/// Bob: SMP2 from a checked SMP1 and his secret y.
pub fn smp2(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    m1: &Smp1,
    y: &Exponent,
) -> (AfterSmp2, Smp2) {
    let b2 = Exponent::random(rng);
    let b3 = Exponent::random(rng);
    let g2 = m1.g2a.pow_secret(&b2);
    let g3 = m1.g3a.pow_secret(&b3);
    let r4 = Exponent::random(rng);
    let pb = g3.pow_secret(&r4);
    let qb = Element::g_pow(&r4).mul(&g2.pow_secret(y));
    let msg = Smp2 {
        g2b: Element::g_pow(&b2),
        p2: prove(rng, roles, 3, &b2),
        g3b: Element::g_pow(&b3),
        p3: prove(rng, roles, 4, &b3),
        pb,
        qb,
        pq: prove_pq(rng, roles, 5, &g2, &g3, &r4, y),
    };
    let state = AfterSmp2 {
        b3,
        g2,
        g3,
        g3a: m1.g3a,
        pb,
        qb,
    };
    (state, msg)
}

/// Alice: checks SMP2 and answers with SMP3.
pub fn smp3(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    st: AfterSmp1,
    m2: &Smp2,
) -> Result<(AfterSmp3, Smp3), SmpError> {
    check(roles, 3, &m2.g2b, &m2.p2)?;
    check(roles, 4, &m2.g3b, &m2.p3)?;
    let g2 = m2.g2b.pow_secret(&st.a2);
    let g3 = m2.g3b.pow_secret(&st.a3);
    check_pq(roles, 5, &g2, &g3, &m2.pb, &m2.qb, &m2.pq)?;
    let r4 = Exponent::random(rng);
    let pa = g3.pow_secret(&r4);
    let qa = Element::g_pow(&r4).mul(&g2.pow_secret(&st.x));
    let pq = prove_pq(rng, roles, 6, &g2, &g3, &r4, &st.x);
    let qa_qb = qa.div(&m2.qb);
    let ra = qa_qb.pow_secret(&st.a3);
    let r = prove_r(rng, roles, 7, &qa_qb, &st.a3);
    let next = AfterSmp3 {
        a3: st.a3,
        g3b: m2.g3b,
        pa_pb: pa.div(&m2.pb),
        qa_qb,
    };
    Ok((next, Smp3 { pa, qa, pq, ra, r }))
}

/// Bob: checks SMP3, learns the result and answers with SMP4.
pub fn smp4(
    rng: &mut impl rand_core::CryptoRng,
    roles: &Roles<'_>,
    st: &AfterSmp2,
    m3: &Smp3,
) -> Result<(bool, Smp4), SmpError> {
    check_pq(roles, 6, &st.g2, &st.g3, &m3.pa, &m3.qa, &m3.pq)?;
    let qa_qb = m3.qa.div(&st.qb);
    check_r(roles, 7, &qa_qb, &st.g3a, &m3.ra, &m3.r)?;
    let rb = qa_qb.pow_secret(&st.b3);
    let r = prove_r(rng, roles, 8, &qa_qb, &st.b3);
    let rab = m3.ra.pow_secret(&st.b3);
    let equal = m3.pa.div(&st.pb).ct_eq(&rab);
    Ok((equal, Smp4 { rb, r }))
}

/// Alice: checks SMP4 and learns the result.
pub fn finish(roles: &Roles<'_>, st: &AfterSmp3, m4: &Smp4) -> Result<bool, SmpError> {
    check_r(roles, 8, &st.qa_qb, &st.g3b, &m4.rb, &m4.r)?;
    let rab = m4.rb.pow_secret(&st.a3);
    Ok(st.pa_pb.ct_eq(&rab))
}
