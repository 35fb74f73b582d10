//! The data message.
//!
//! ```text
//! header (11) | BYTE flags | INT pn | INT n | X448 ratchet key (56)
//! | BYTE kem kind (0 none, 1 encapsulation key, 2 ciphertext) | [INT offer | 1568 bytes]
//! | DATA AES-256-GCM(ciphertext || tag)
//! ```
//! Everything before the DATA field is the AEAD's associated data, so the header is
//! authenticated together with the ciphertext. KEM material travels in messages of its own
//! (empty text), so a typed message stays one IRC line.

use super::codec::{DecodeError, Reader, Writer};
use super::{Header, MessageType};
use crate::crypto::aead::TAG_LEN;
use crate::crypto::mlkem::{CT_LEN, EK_LEN};
use crate::crypto::x448::X448_LEN;
use crate::limits::MAX_PLAINTEXT_BYTES;

/// Flag: the receiver should not report failure to decrypt this message (heartbeats, TLVs).
pub const FLAG_IGNORE_UNREADABLE: u8 = 0x01;

/// Flag: this message's chain mixed the ML-KEM secret of the sender's last answered offer
/// into its root step (docs/PROTOCOL.md §7.4).
pub const FLAG_MIX: u8 = 0x02;

/// Every flag a data message may carry.
const KNOWN_FLAGS: u8 = FLAG_IGNORE_UNREADABLE | FLAG_MIX;

/// The KEM material a message carries for the post-quantum ratchet step.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum KemField {
    /// No KEM material.
    None,
    /// An ML-KEM-1024 encapsulation key offered to the peer, with the sender's number for
    /// this offer (1, 2, ... per session; a re-sent offer keeps its number).
    EncapsKey {
        /// The offer's number.
        offer: u32,
        /// The encapsulation key.
        ek: Box<[u8; EK_LEN]>,
    },
    /// A ciphertext encapsulated to the peer's offer number `offer`.
    Ciphertext {
        /// The number of the offer this answers.
        offer: u32,
        /// The ciphertext.
        ct: Box<[u8; CT_LEN]>,
    },
}

/// A parsed data message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DataMessage {
    /// Header (type Data).
    pub header: Header,
    /// Flags.
    pub flags: u8,
    /// Number of messages in the sender's previous sending chain.
    pub pn: u32,
    /// Message number in the current sending chain.
    pub n: u32,
    /// The sender's current ratchet public key.
    pub ratchet_key: [u8; X448_LEN],
    /// KEM material (only in the dedicated KEM messages).
    pub kem: KemField,
    /// AEAD ciphertext with tag.
    pub ciphertext: Vec<u8>,
}

impl DataMessage {
    /// Writes the authenticated header (everything before the ciphertext).
    pub fn encode_header(&self, w: &mut Writer) {
        self.header.write(w);
        w.u8(self.flags)
            .u32(self.pn)
            .u32(self.n)
            .bytes(&self.ratchet_key);
        match &self.kem {
            KemField::None => {
                w.u8(0);
            }
            KemField::EncapsKey { offer, ek } => {
                w.u8(1).u32(*offer).bytes(ek.as_slice());
            }
            KemField::Ciphertext { offer, ct } => {
                w.u8(2).u32(*offer).bytes(ct.as_slice());
            }
        }
    }

    /// The associated data for the AEAD.
    pub fn associated_data(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(2000);
        self.encode_header(&mut w);
        w.into_vec()
    }

    /// Encodes the whole message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(100 + self.ciphertext.len());
        self.encode_header(&mut w);
        w.data(&self.ciphertext);
        w.into_vec()
    }

    /// Decodes the message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::Data {
            return Err(DecodeError::UnknownType);
        }
        let flags = r.u8("flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(DecodeError::InvalidValue("flags"));
        }
        let pn = r.u32("pn")?;
        let n = r.u32("n")?;
        let ratchet_key = r.array("ratchet key")?;
        let kem = match r.u8("kem kind")? {
            0 => KemField::None,
            1 => KemField::EncapsKey {
                offer: r.u32("kem offer")?,
                ek: Box::new(r.array("kem ek")?),
            },
            2 => KemField::Ciphertext {
                offer: r.u32("kem offer")?,
                ct: Box::new(r.array("kem ct")?),
            },
            _ => return Err(DecodeError::InvalidValue("kem kind")),
        };
        let ciphertext = r.data(MAX_PLAINTEXT_BYTES + TAG_LEN, "ciphertext")?;
        if ciphertext.len() < TAG_LEN {
            return Err(DecodeError::Truncated("ciphertext"));
        }
        let ciphertext = ciphertext.to_vec();
        r.finish()?;
        Ok(DataMessage {
            header,
            flags,
            pn,
            n,
            ratchet_key,
            kem,
            ciphertext,
        })
    }
}
