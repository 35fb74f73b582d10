//! The four SMP messages as libotr 4.1 puts them in TLV values (`serialize_mpi_array` in
//! sm.c, the question handling in message.c):
//!
//! ```text
//! SMP1  (type 2) = INT 6  || MPI g2a || MPI c2 || MPI D2 || MPI g3a || MPI c3 || MPI D3
//! SMP1Q (type 7) = question bytes || 0x00 || the SMP1 value
//! SMP2  (type 3) = INT 11 || g2b c2 D2 g3b c3 D3 Pb Qb cP D5 D6   (MPIs)
//! SMP3  (type 4) = INT 8  || Pa Qa cP D5 D6 Ra cR D7               (MPIs)
//! SMP4  (type 5) = INT 3  || Rb cR D7                              (MPIs)
//! abort (type 6) = empty
//! ```
//!
//! The count must be exactly the expected one (libotr's `unserialize_mpi_array`); every MPI is
//! at most 192 bytes (`limits::MAX_MPI_BYTES`). libotr ignores bytes after the last MPI; we
//! refuse them, which costs nothing with libotr (it never sends any) and keeps one encoding
//! per message. Decoding also makes libotr's range checks: group elements in 2..=p-2
//! (`check_group_elem`) and proof responses in 1..q-1 (`check_expon`); challenges are taken
//! as they come and only compared with the recomputed hash.

use crypto_bigint::U1536;

use super::SmpError;
use super::exponent::is_valid_response;
use crate::codec::{DecodeError, Reader, Writer};
use crate::group;
use crate::tlv::{Tlv, types};

/// Longest question accepted or sent, in bytes.
pub const MAX_QUESTION_BYTES: usize = 1024;

/// A proof of knowledge of one exponent: challenge and response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof {
    /// The challenge (a SHA-256 value read as an integer).
    pub c: U1536,
    /// The response, 1 <= D < q.
    pub d: U1536,
}

/// A proof about two exponents at once (`cP`, `D5`, `D6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proof2 {
    /// The challenge.
    pub c: U1536,
    /// The response for the blinding exponent (D5).
    pub d1: U1536,
    /// The response for the secret (D6).
    pub d2: U1536,
}

/// SMP message 1 (with an optional question).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp1 {
    /// The question for the responder's user (UTF-8, read lossily).
    pub question: Option<String>,
    /// g1^a2.
    pub g2a: U1536,
    /// Proof of knowledge of a2 (hash version 1).
    pub p2: Proof,
    /// g1^a3.
    pub g3a: U1536,
    /// Proof of knowledge of a3 (hash version 2).
    pub p3: Proof,
}

/// SMP message 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp2 {
    /// g1^b2.
    pub g2b: U1536,
    /// Proof of knowledge of b2 (version 3).
    pub p2: Proof,
    /// g1^b3.
    pub g3b: U1536,
    /// Proof of knowledge of b3 (version 4).
    pub p3: Proof,
    /// g3^r4.
    pub pb: U1536,
    /// g1^r4 · g2^y.
    pub qb: U1536,
    /// Proof that Pb and Qb are well formed (version 5).
    pub pq: Proof2,
}

/// SMP message 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp3 {
    /// g3^r4.
    pub pa: U1536,
    /// g1^r4 · g2^x.
    pub qa: U1536,
    /// Proof that Pa and Qa are well formed (version 6).
    pub pq: Proof2,
    /// (Qa/Qb)^a3.
    pub ra: U1536,
    /// Proof that Ra uses a3 (version 7).
    pub r: Proof,
}

/// SMP message 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smp4 {
    /// (Qa/Qb)^b3.
    pub rb: U1536,
    /// Proof that Rb uses b3 (version 8).
    pub r: Proof,
}

/// The MPIs of one message, read in order with their checks.
struct Mpis<'a> {
    r: Reader<'a>,
}

impl<'a> Mpis<'a> {
    /// Reads the count and requires exactly `expected`.
    fn open(value: &'a [u8], expected: u32) -> Result<Self, SmpError> {
        let mut r = Reader::new(value);
        if r.u32("smp mpi count")? != expected {
            return Err(DecodeError::InvalidValue("smp mpi count").into());
        }
        Ok(Mpis { r })
    }

    fn raw(&mut self, field: &'static str) -> Result<U1536, SmpError> {
        let bytes = self.r.mpi(field)?;
        group::from_be(bytes).map_err(|_| DecodeError::LengthOutOfRange(field).into())
    }

    /// A group element: 2 <= x <= p-2, and in the subgroup of order q (see `in_subgroup`).
    fn element(&mut self, field: &'static str) -> Result<U1536, SmpError> {
        let bytes = self.r.mpi(field)?;
        let x = group::element_from_be(bytes).map_err(|_| SmpError::Value)?;
        if !in_subgroup(&x) {
            return Err(SmpError::Value);
        }
        Ok(x)
    }

    fn proof(&mut self) -> Result<Proof, SmpError> {
        let c = self.raw("smp challenge")?;
        let d = self.response()?;
        Ok(Proof { c, d })
    }

    fn proof2(&mut self) -> Result<Proof2, SmpError> {
        let c = self.raw("smp challenge")?;
        let d1 = self.response()?;
        let d2 = self.response()?;
        Ok(Proof2 { c, d1, d2 })
    }

    fn response(&mut self) -> Result<U1536, SmpError> {
        let d = self.raw("smp response")?;
        if !is_valid_response(&d) {
            return Err(SmpError::Value);
        }
        Ok(d)
    }

    fn finish(self) -> Result<(), SmpError> {
        Ok(self.r.finish()?)
    }
}

/// True if `x` is a quadratic residue mod p, i.e. in the subgroup of prime order q that g1 = 2
/// generates (p is a safe prime). libotr checks only the range; every value an honest peer
/// sends is a power of g1 or a quotient of such powers, so this refuses nothing libotr sends
/// and keeps a cheating peer from pushing elements of order 2q into the exchange.
fn in_subgroup(x: &U1536) -> bool {
    x.jacobi_symbol_vartime(group::p_params().modulus()) == crypto_bigint::JacobiSymbol::One
}

/// Appends `values` as libotr's `serialize_mpi_array`: the count, then minimal MPIs.
fn put_mpis(w: &mut Writer, values: &[&U1536]) {
    let count = u32::try_from(values.len()).unwrap_or(u32::MAX);
    w.u32(count);
    for v in values {
        w.mpi(&group::to_be(v));
    }
}

impl Smp1 {
    /// The TLV: type 7 with the question first when there is one, else type 2.
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::new();
        if let Some(q) = &self.question {
            // `start` refuses questions with a NUL; libotr cuts at the first one.
            w.raw(q.as_bytes()).u8(0);
        }
        put_mpis(
            &mut w,
            &[
                &self.g2a, &self.p2.c, &self.p2.d, &self.g3a, &self.p3.c, &self.p3.d,
            ],
        );
        let t = if self.question.is_some() {
            types::SMP1Q
        } else {
            types::SMP1
        };
        Tlv::new(t, w.finish())
    }

    /// Decodes an SMP1 (type 2) or SMP1Q (type 7) value.
    pub fn decode(tlv_type: u16, value: &[u8]) -> Result<Smp1, SmpError> {
        let (question, rest) = if tlv_type == types::SMP1Q {
            // The question runs to the first NUL (libotr: `memchr`), the MPIs follow it.
            let nul = value
                .iter()
                .position(|&b| b == 0)
                .ok_or(DecodeError::Truncated("smp question"))?;
            let q = value.get(..nul).unwrap_or_default();
            if q.len() > MAX_QUESTION_BYTES {
                return Err(SmpError::Question);
            }
            let rest = value.get(nul + 1..).unwrap_or_default();
            // libotr hands the user's bytes on as they are; we show them, lossily, as UTF-8.
            (Some(String::from_utf8_lossy(q).into_owned()), rest)
        } else {
            (None, value)
        };
        let mut m = Mpis::open(rest, 6)?;
        let g2a = m.element("g2a")?;
        let p2 = m.proof()?;
        let g3a = m.element("g3a")?;
        let p3 = m.proof()?;
        m.finish()?;
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
    /// The TLV (type 3).
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::new();
        put_mpis(
            &mut w,
            &[
                &self.g2b,
                &self.p2.c,
                &self.p2.d,
                &self.g3b,
                &self.p3.c,
                &self.p3.d,
                &self.pb,
                &self.qb,
                &self.pq.c,
                &self.pq.d1,
                &self.pq.d2,
            ],
        );
        Tlv::new(types::SMP2, w.finish())
    }

    /// Decodes an SMP2 value.
    pub fn decode(value: &[u8]) -> Result<Smp2, SmpError> {
        let mut m = Mpis::open(value, 11)?;
        let g2b = m.element("g2b")?;
        let p2 = m.proof()?;
        let g3b = m.element("g3b")?;
        let p3 = m.proof()?;
        let pb = m.element("pb")?;
        let qb = m.element("qb")?;
        let pq = m.proof2()?;
        m.finish()?;
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
    /// The TLV (type 4).
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::new();
        put_mpis(
            &mut w,
            &[
                &self.pa,
                &self.qa,
                &self.pq.c,
                &self.pq.d1,
                &self.pq.d2,
                &self.ra,
                &self.r.c,
                &self.r.d,
            ],
        );
        Tlv::new(types::SMP3, w.finish())
    }

    /// Decodes an SMP3 value.
    pub fn decode(value: &[u8]) -> Result<Smp3, SmpError> {
        let mut m = Mpis::open(value, 8)?;
        let pa = m.element("pa")?;
        let qa = m.element("qa")?;
        let pq = m.proof2()?;
        let ra = m.element("ra")?;
        let r = m.proof()?;
        m.finish()?;
        Ok(Smp3 { pa, qa, pq, ra, r })
    }
}

impl Smp4 {
    /// The TLV (type 5).
    pub fn encode(&self) -> Tlv {
        let mut w = Writer::new();
        put_mpis(&mut w, &[&self.rb, &self.r.c, &self.r.d]);
        Tlv::new(types::SMP4, w.finish())
    }

    /// Decodes an SMP4 value.
    pub fn decode(value: &[u8]) -> Result<Smp4, SmpError> {
        let mut m = Mpis::open(value, 3)?;
        let rb = m.element("rb")?;
        let r = m.proof()?;
        m.finish()?;
        Ok(Smp4 { rb, r })
    }
}

/// The abort TLV (type 6, empty).
pub fn abort_tlv() -> Tlv {
    Tlv::new(types::SMP_ABORT, Vec::new())
}
