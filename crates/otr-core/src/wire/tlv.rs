//! The plaintext inside a data message: `text [NUL TLV*]`, each TLV `SHORT type | SHORT len | value`.

use super::codec::{DecodeError, Reader, Writer};
use crate::limits::MAX_TLVS;

/// TLV types.
pub mod types {
    /// Padding; ignored.
    pub const PADDING: u16 = 0;
    /// The sender ended the session.
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
    /// Extra symmetric key: INT use, then use-specific data.
    pub const EXTRA_SYMMETRIC_KEY: u16 = 8;
    /// Profile attestation: the sender's ML-DSA-87 key and its signature over the sender's
    /// profile body (`crate::profile::Attestation`).
    pub const PROFILE_ATTESTATION: u16 = 9;
}

/// One TLV.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Tlv {
    /// Type.
    pub tlv_type: u16,
    /// Value.
    pub value: Vec<u8>,
}

/// Decoded plaintext: the human-readable part and the TLVs.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Payload {
    /// Message text (UTF-8 bytes; validated by the session layer).
    pub text: Vec<u8>,
    /// TLVs, in order.
    pub tlvs: Vec<Tlv>,
}

impl Payload {
    /// Encodes `text [NUL TLVs]`; the NUL is present only when there are TLVs.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(self.text.len() + 1 + self.tlvs.len() * 8);
        w.bytes(&self.text);
        if !self.tlvs.is_empty() {
            w.u8(0);
            for t in &self.tlvs {
                let len = u16::try_from(t.value.len()).unwrap_or(u16::MAX);
                w.u16(t.tlv_type)
                    .u16(len)
                    .bytes(t.value.get(..len as usize).unwrap_or_default());
            }
        }
        w.into_vec()
    }

    /// This payload with a padding TLV appended so its encoding is a multiple of `block`
    /// bytes (`block` 0: unchanged).
    pub fn padded(&self, block: usize) -> Payload {
        let mut padded = self.clone();
        if block == 0 {
            return padded;
        }
        // A padding TLV costs its 4-byte header, plus the NUL separator if it is the first TLV.
        let base = self.encode().len() + 4 + usize::from(self.tlvs.is_empty());
        padded.tlvs.push(Tlv {
            tlv_type: types::PADDING,
            value: vec![0; (block - base % block) % block],
        });
        padded
    }

    /// Decodes a plaintext. The text ends at the first NUL; malformed TLV data is an error
    /// (the message authenticated, so the peer is broken rather than an attacker).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let Some(nul) = bytes.iter().position(|&b| b == 0) else {
            return Ok(Payload {
                text: bytes.to_vec(),
                tlvs: Vec::new(),
            });
        };
        let text = bytes.get(..nul).unwrap_or_default().to_vec();
        let mut r = Reader::new(bytes.get(nul + 1..).unwrap_or_default());
        let mut tlvs = Vec::new();
        while r.remaining() > 0 {
            if tlvs.len() >= MAX_TLVS {
                return Err(DecodeError::LengthOutOfRange("tlv count"));
            }
            let tlv_type = r.u16("tlv type")?;
            let len = r.u16("tlv length")? as usize;
            let value = r.take(len, "tlv value")?.to_vec();
            tlvs.push(Tlv { tlv_type, value });
        }
        Ok(Payload { text, tlvs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let p = Payload {
            text: b"hi".to_vec(),
            tlvs: vec![
                Tlv {
                    tlv_type: types::DISCONNECTED,
                    value: vec![],
                },
                Tlv {
                    tlv_type: types::PADDING,
                    value: vec![0; 5],
                },
            ],
        };
        assert_eq!(Payload::decode(&p.encode()).unwrap(), p);
        let plain = Payload {
            text: b"no tlvs".to_vec(),
            tlvs: vec![],
        };
        assert_eq!(plain.encode(), b"no tlvs");
        assert_eq!(Payload::decode(b"no tlvs").unwrap(), plain);
    }

    #[test]
    fn padding_rounds_payloads_up() {
        for len in [0usize, 1, 26, 27, 28, 31, 32, 100, 400] {
            let p = Payload {
                text: vec![b'x'; len],
                tlvs: vec![],
            };
            let padded = p.padded(32).encode();
            assert_eq!(padded.len() % 32, 0, "text of {len}");
            assert!(padded.len() >= len + 5 && padded.len() < len + 5 + 32);
            assert_eq!(Payload::decode(&padded).unwrap().text, p.text);
        }
        let p = Payload {
            text: b"hi".to_vec(),
            tlvs: vec![],
        };
        assert_eq!(p.padded(0).encode(), b"hi");
    }

    #[test]
    fn truncated_tlv_rejected() {
        assert!(Payload::decode(b"x\0\0\x01\0\x05ab").is_err());
        assert!(Payload::decode(b"x\0\0").is_err());
    }
}
