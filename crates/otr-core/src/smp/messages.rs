//! The four SMP messages as TLV values. Every field has a fixed width, so a value is valid
//! only at its exact length:
//!
//! ```text
//! SMP1  = BYTE version || ELEM g2a || HASH c2 || EXP D2 || ELEM g3a || HASH c3 || EXP D3
//! SMP1Q = BYTE version || SHORT qlen || question (UTF-8) || the SMP1 fields
//! SMP2  = BYTE version || ELEM g2b || HASH c2 || EXP D2 || ELEM g3b || HASH c3 || EXP D3
//!         || ELEM Pb || ELEM Qb || HASH cP || EXP D5 || EXP D6
//! SMP3  = BYTE version || ELEM Pa || ELEM Qa || HASH cP || EXP D5 || EXP D6
//!         || ELEM Ra || HASH cR || EXP D7
//! SMP4  = BYTE version || ELEM Rb || HASH cR || EXP D7
//! ```
//!
//! ELEM and EXP are 384 bytes big-endian, HASH 32 bytes.

use super::SmpError;
use super::group::{Element, Public};
use crate::limits::MAX_SMP_QUESTION_BYTES;
use crate::wire::codec::{Reader, Writer};
use crate::wire::tlv::{Tlv, types};

/// The SMP wire version this implementation speaks.
pub const SMP_VERSION: u8 = 1;

/// A challenge hash.
pub type Hash = [u8; 32];

/// A Schnorr-style proof: challenge and response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    /// The challenge.
    pub c: Hash,
    /// The response.
    pub d: Public,
}

/// A proof of two exponents at once (`cP`, `D5`, `D6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof2 {
    /// The challenge.
    pub c: Hash,
    /// Response for the first exponent.
    pub d1: Public,
    /// Response for the second exponent.
    pub d2: Public,
}

/// SMP message 1 (optionally with a question).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp1 {
    /// The question for the responder's user, if any.
    pub question: Option<String>,
    /// g1^a2.
    pub g2a: Element,
    /// Proof of knowledge of a2.
    pub p2: Proof,
    /// g1^a3.
    pub g3a: Element,
    /// Proof of knowledge of a3.
    pub p3: Proof,
}

/// SMP message 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp2 {
    /// g1^b2.
    pub g2b: Element,
    /// Proof of knowledge of b2.
    pub p2: Proof,
    /// g1^b3.
    pub g3b: Element,
    /// Proof of knowledge of b3.
    pub p3: Proof,
    /// g3^r4.
    pub pb: Element,
    /// g1^r4 · g2^y.
    pub qb: Element,
    /// Proof that Pb and Qb are formed correctly.
    pub pq: Proof2,
}

/// SMP message 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp3 {
    /// g3^r4.
    pub pa: Element,
    /// g1^r4 · g2^x.
    pub qa: Element,
    /// Proof that Pa and Qa are formed correctly.
    pub pq: Proof2,
    /// (Qa/Qb)^a3.
    pub ra: Element,
    /// Proof that Ra uses a3.
    pub r: Proof,
}

/// SMP message 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp4 {
    /// (Qa/Qb)^b3.
    pub rb: Element,
    /// Proof that Rb uses b3.
    pub r: Proof,
}

fn elem(r: &mut Reader<'_>, field: &'static str) -> Result<Element, SmpError> {
    Ok(Element::decode(r.take(super::group::ELEMENT_LEN, field)?)?)
}

fn public(r: &mut Reader<'_>, field: &'static str) -> Result<Public, SmpError> {
    Ok(Public::decode(r.take(super::group::ELEMENT_LEN, field)?)?)
}

fn proof(r: &mut Reader<'_>) -> Result<Proof, SmpError> {
    Ok(Proof {
        c: r.array("smp challenge")?,
        d: public(r, "smp response")?,
    })
}

fn proof2(r: &mut Reader<'_>) -> Result<Proof2, SmpError> {
    Ok(Proof2 {
        c: r.array("smp challenge")?,
        d1: public(r, "smp response")?,
        d2: public(r, "smp response")?,
    })
}

fn version(r: &mut Reader<'_>) -> Result<(), SmpError> {
    if r.u8("smp version")? != SMP_VERSION {
        return Err(SmpError::Version);
    }
    Ok(())
}

fn put_proof(w: &mut Writer, p: &Proof) {
    w.bytes(&p.c).bytes(&p.d.encode());
}

fn put_proof2(w: &mut Writer, p: &Proof2) {
    w.bytes(&p.c).bytes(&p.d1.encode()).bytes(&p.d2.encode());
}

fn tlv(tlv_type: u16, w: Writer) -> Tlv {
    Tlv {
        tlv_type,
        value: w.into_vec(),
    }
}

impl Smp1 {
    /// The TLV (type SMP1, or SMP1Q with a question).
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::with_capacity(1700);
        w.u8(SMP_VERSION);
        if let Some(q) = &self.question {
            w.short_data(q.as_bytes());
        }
        w.bytes(&self.g2a.encode());
        put_proof(&mut w, &self.p2);
        w.bytes(&self.g3a.encode());
        put_proof(&mut w, &self.p3);
        let t = if self.question.is_some() {
            types::SMP1Q
        } else {
            types::SMP1
        };
        tlv(t, w)
    }

    /// Decodes an SMP1 or SMP1Q value.
    pub fn decode(tlv_type: u16, value: &[u8]) -> Result<Smp1, SmpError> {
        let mut r = Reader::new(value);
        version(&mut r)?;
        let question = if tlv_type == types::SMP1Q {
            let q = r.short_data("smp question")?;
            if q.len() > MAX_SMP_QUESTION_BYTES {
                return Err(SmpError::Question);
            }
            let q = core::str::from_utf8(q).map_err(|_| SmpError::Question)?;
            Some(q.to_string())
        } else {
            None
        };
        let g2a = elem(&mut r, "g2a")?;
        let p2 = proof(&mut r)?;
        let g3a = elem(&mut r, "g3a")?;
        let p3 = proof(&mut r)?;
        r.finish()?;
        Ok(Smp1 {
            question,
            g2a,
            p2,
            g3a,
            p3,
        })
    }
}

impl Smp2 {
    /// The TLV.
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::with_capacity(3200);
        w.u8(SMP_VERSION).bytes(&self.g2b.encode());
        put_proof(&mut w, &self.p2);
        w.bytes(&self.g3b.encode());
        put_proof(&mut w, &self.p3);
        w.bytes(&self.pb.encode()).bytes(&self.qb.encode());
        put_proof2(&mut w, &self.pq);
        tlv(types::SMP2, w)
    }

    /// Decodes an SMP2 value.
    pub fn decode(value: &[u8]) -> Result<Smp2, SmpError> {
        let mut r = Reader::new(value);
        version(&mut r)?;
        let g2b = elem(&mut r, "g2b")?;
        let p2 = proof(&mut r)?;
        let g3b = elem(&mut r, "g3b")?;
        let p3 = proof(&mut r)?;
        let pb = elem(&mut r, "pb")?;
        let qb = elem(&mut r, "qb")?;
        let pq = proof2(&mut r)?;
        r.finish()?;
        Ok(Smp2 {
            g2b,
            p2,
            g3b,
            p3,
            pb,
            qb,
            pq,
        })
    }
}

impl Smp3 {
    /// The TLV.
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::with_capacity(2400);
        w.u8(SMP_VERSION)
            .bytes(&self.pa.encode())
            .bytes(&self.qa.encode());
        put_proof2(&mut w, &self.pq);
        w.bytes(&self.ra.encode());
        put_proof(&mut w, &self.r);
        tlv(types::SMP3, w)
    }

    /// Decodes an SMP3 value.
    pub fn decode(value: &[u8]) -> Result<Smp3, SmpError> {
        let mut r = Reader::new(value);
        version(&mut r)?;
        let pa = elem(&mut r, "pa")?;
        let qa = elem(&mut r, "qa")?;
        let pq = proof2(&mut r)?;
        let ra = elem(&mut r, "ra")?;
        let rp = proof(&mut r)?;
        r.finish()?;
        Ok(Smp3 {
            pa,
            qa,
            pq,
            ra,
            r: rp,
        })
    }
}

impl Smp4 {
    /// The TLV.
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::with_capacity(820);
        w.u8(SMP_VERSION).bytes(&self.rb.encode());
        put_proof(&mut w, &self.r);
        tlv(types::SMP4, w)
    }

    /// Decodes an SMP4 value.
    pub fn decode(value: &[u8]) -> Result<Smp4, SmpError> {
        let mut r = Reader::new(value);
        version(&mut r)?;
        let rb = elem(&mut r, "rb")?;
        let rp = proof(&mut r)?;
        r.finish()?;
        Ok(Smp4 { rb, r: rp })
    }
}

/// The abort TLV.
pub fn abort_tlv() -> Tlv {
    Tlv {
        tlv_type: types::SMP_ABORT,
        value: Vec::new(),
    }
}
