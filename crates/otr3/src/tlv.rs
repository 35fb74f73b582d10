//! Type/Length/Value records carried after the NUL in a data message's plaintext.

use crate::codec::{DecodeError, Reader, Writer};
use crate::limits::MAX_TLVS;

/// OTRv3 TLV types.
pub mod types {
    /// Padding (ignored).
    pub const PADDING: u16 = 0;
    /// The sender ended the private conversation.
    pub const DISCONNECTED: u16 = 1;
    /// SMP message 1.
    pub const SMP1: u16 = 2;
    /// SMP message 2.
    pub const SMP2: u16 = 3;
    /// SMP message 3.
    pub const SMP3: u16 = 4;
    /// SMP message 4.
    pub const SMP4: u16 = 5;
    /// SMP abort.
    pub const SMP_ABORT: u16 = 6;
    /// SMP message 1 with a question.
    pub const SMP1Q: u16 = 7;
    /// Extra symmetric key (announced by the peer; otrbnc does not offer the key to anyone).
    pub const EXTRA_SYMMETRIC_KEY: u16 = 8;
}

/// One TLV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// The type (see [`types`]).
    pub tlv_type: u16,
    /// The value (at most 65535 bytes).
    pub value: Vec<u8>,
}

impl Tlv {
    /// A TLV of `tlv_type` with `value`.
    pub fn new(tlv_type: u16, value: Vec<u8>) -> Tlv {
        Tlv { tlv_type, value }
    }

    /// Appends the encoding to a byte vector.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let mut w = Writer::new();
        self.encode(&mut w);
        out.extend_from_slice(w.as_slice());
    }

    /// Appends the encoding to a writer. A value longer than 65535 bytes is cut there: no
    /// caller builds one (SMP messages are under 3 KB).
    pub fn encode(&self, w: &mut Writer) {
        let len = u16::try_from(self.value.len()).unwrap_or(u16::MAX);
        w.u16(self.tlv_type)
            .u16(len)
            .raw(self.value.get(..usize::from(len)).unwrap_or_default());
    }
}

/// Decodes the TLVs after a message's NUL. At most [`MAX_TLVS`] are accepted.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Tlv>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        if out.len() == MAX_TLVS {
            return Err(DecodeError::LengthOutOfRange("tlv count"));
        }
        let tlv_type = r.u16("tlv type")?;
        let len = r.u16("tlv length")?;
        let value = r.take(usize::from(len), "tlv value")?.to_vec();
        out.push(Tlv { tlv_type, value });
    }
    Ok(out)
}

/// Encodes TLVs back to back.
pub fn encode_all(tlvs: &[Tlv]) -> Vec<u8> {
    let mut w = Writer::new();
    for t in tlvs {
        t.encode(&mut w);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let tlvs = vec![
            Tlv::new(types::DISCONNECTED, vec![]),
            Tlv::new(7, vec![1, 2]),
        ];
        let enc = encode_all(&tlvs);
        assert_eq!(enc, [0, 1, 0, 0, 0, 7, 0, 2, 1, 2]);
        assert_eq!(decode_all(&enc), Ok(tlvs));
        assert!(decode_all(&[0, 1, 0, 3, 1]).is_err());
        assert!(decode_all(&[0, 1]).is_err());
        let many = encode_all(&vec![Tlv::new(0, vec![]); MAX_TLVS + 1]);
        assert!(decode_all(&many).is_err());
    }
}
