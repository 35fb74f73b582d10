//! The binary OTRv3 and OTRv2 messages: the four AKE messages and the data message. OTRv2
//! messages are the same without the two instance tags in the header.
//!
//! The `?OTR:<base64>.` envelope around them is the same as OTRv4's and is handled by the
//! caller; this module sees the decoded bytes.

use crate::codec::{DecodeError, Reader, Writer};
use crate::limits::{MAX_MESSAGE_BYTES, MAX_REVEALED_MAC_BYTES};

/// Protocol version 2 (no instance tags).
pub const VERSION_2: u16 = 2;
/// Protocol version 3.
pub const VERSION_3: u16 = 3;
/// The smallest valid instance tag.
pub const MIN_INSTANCE_TAG: u32 = 0x100;

/// Message type bytes.
pub mod kind {
    /// D-H Commit.
    pub const DH_COMMIT: u8 = 0x02;
    /// Data.
    pub const DATA: u8 = 0x03;
    /// D-H Key.
    pub const DH_KEY: u8 = 0x0a;
    /// Reveal Signature.
    pub const REVEAL_SIGNATURE: u8 = 0x11;
    /// Signature.
    pub const SIGNATURE: u8 = 0x12;
}

/// The data message flag asking the receiver not to complain if it cannot read the message.
pub const FLAG_IGNORE_UNREADABLE: u8 = 0x01;

/// The common header. For version 2 both tags are 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 2 or 3.
    pub version: u16,
    /// Sender instance tag (0 in version 2).
    pub sender_tag: u32,
    /// Receiver instance tag (0 in version 2, or when not yet known).
    pub receiver_tag: u32,
}

impl Header {
    /// A version 3 header.
    pub fn v3(sender_tag: u32, receiver_tag: u32) -> Header {
        Header {
            version: VERSION_3,
            sender_tag,
            receiver_tag,
        }
    }

    /// A version 2 header.
    pub fn v2() -> Header {
        Header {
            version: VERSION_2,
            sender_tag: 0,
            receiver_tag: 0,
        }
    }

    fn encode(&self, w: &mut Writer, kind: u8) {
        w.u16(self.version).u8(kind);
        if self.version == VERSION_3 {
            w.u32(self.sender_tag).u32(self.receiver_tag);
        }
    }

    /// Whether the tags are acceptable for a receiver whose tag is `ours` (the spec's
    /// discard rules; version 2 carries no tags and always passes).
    pub fn tags_ok(&self, ours: u32) -> bool {
        if self.version == VERSION_2 {
            return true;
        }
        if self.sender_tag < MIN_INSTANCE_TAG {
            return false;
        }
        self.receiver_tag == 0 || self.receiver_tag == ours
    }
}

/// A data message. `mac` covers everything from the version to the end of `encrypted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMessage {
    /// Flags ([`FLAG_IGNORE_UNREADABLE`]).
    pub flags: u8,
    /// The sender's key id used for this message (> 0).
    pub sender_keyid: u32,
    /// The recipient's key id used for this message (> 0).
    pub recipient_keyid: u32,
    /// The sender's next D-H public key (MPI magnitude).
    pub next_dh: Vec<u8>,
    /// The top half of the AES-CTR counter.
    pub ctr: [u8; 8],
    /// The encrypted plaintext.
    pub encrypted: Vec<u8>,
    /// HMAC-SHA1 of the authenticated part.
    pub mac: [u8; 20],
    /// Old MAC keys revealed (a multiple of 20 bytes).
    pub old_mac_keys: Vec<u8>,
}

/// One OTRv3/v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// D-H Commit: AES-CTR_r(MPI(g^x)) and SHA-256(MPI(g^x)).
    DhCommit {
        /// The encrypted MPI of g^x.
        encrypted_gx: Vec<u8>,
        /// SHA-256 of the MPI of g^x.
        hashed_gx: Vec<u8>,
    },
    /// D-H Key: g^y (MPI magnitude).
    DhKey {
        /// g^y.
        gy: Vec<u8>,
    },
    /// Reveal Signature.
    RevealSignature {
        /// The AES key r of the commit.
        revealed_key: Vec<u8>,
        /// AES-CTR_c(X_B).
        encrypted_sig: Vec<u8>,
        /// HMAC-SHA256-160 of DATA(encrypted_sig).
        mac: [u8; 20],
    },
    /// Signature.
    Signature {
        /// AES-CTR_c'(X_A).
        encrypted_sig: Vec<u8>,
        /// HMAC-SHA256-160 of DATA(encrypted_sig).
        mac: [u8; 20],
    },
    /// Data.
    Data(DataMessage),
}

/// Bytes of D-H Commit fields we accept: an encrypted 192-byte MPI and a SHA-256.
const MAX_COMMIT_FIELD: usize = 4 + 192;
/// The encrypted X_B/X_A: a PUBKEY of up to 3072-bit DSA, a key id and a signature.
const MAX_ENCRYPTED_SIG: usize = 2048;

impl Message {
    /// The type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Message::DhCommit { .. } => kind::DH_COMMIT,
            Message::DhKey { .. } => kind::DH_KEY,
            Message::RevealSignature { .. } => kind::REVEAL_SIGNATURE,
            Message::Signature { .. } => kind::SIGNATURE,
            Message::Data(_) => kind::DATA,
        }
    }

    /// Encodes with `header`.
    pub fn encode(&self, header: &Header) -> Vec<u8> {
        let mut w = Writer::new();
        if let Message::Data(d) = self {
            w.raw(&data_authenticated(header, d));
            w.raw(&d.mac).data(&d.old_mac_keys);
            return w.finish();
        }
        header.encode(&mut w, self.kind());
        match self {
            Message::DhCommit {
                encrypted_gx,
                hashed_gx,
            } => {
                w.data(encrypted_gx).data(hashed_gx);
            }
            Message::DhKey { gy } => {
                w.mpi(gy);
            }
            Message::RevealSignature {
                revealed_key,
                encrypted_sig,
                mac,
            } => {
                w.data(revealed_key).data(encrypted_sig).raw(mac);
            }
            Message::Signature { encrypted_sig, mac } => {
                w.data(encrypted_sig).raw(mac);
            }
            Message::Data(_) => {}
        }
        w.finish()
    }

    /// Decodes a binary message.
    pub fn decode(bytes: &[u8]) -> Result<(Header, Message), DecodeError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::LengthOutOfRange("message"));
        }
        let mut r = Reader::new(bytes);
        let version = r.u16("version")?;
        if version != VERSION_2 && version != VERSION_3 {
            return Err(DecodeError::UnsupportedVersion);
        }
        let kind = r.u8("type")?;
        let header = if version == VERSION_3 {
            Header::v3(r.u32("sender tag")?, r.u32("receiver tag")?)
        } else {
            Header::v2()
        };
        let msg = match kind {
            kind::DH_COMMIT => Message::DhCommit {
                encrypted_gx: r.data(MAX_COMMIT_FIELD, "encrypted gx")?.to_vec(),
                hashed_gx: r.data(32, "hashed gx")?.to_vec(),
            },
            kind::DH_KEY => Message::DhKey {
                gy: r.mpi("gy")?.to_vec(),
            },
            kind::REVEAL_SIGNATURE => Message::RevealSignature {
                revealed_key: r.data(16, "revealed key")?.to_vec(),
                encrypted_sig: r.data(MAX_ENCRYPTED_SIG, "encrypted signature")?.to_vec(),
                mac: r.array("signature mac")?,
            },
            kind::SIGNATURE => Message::Signature {
                encrypted_sig: r.data(MAX_ENCRYPTED_SIG, "encrypted signature")?.to_vec(),
                mac: r.array("signature mac")?,
            },
            kind::DATA => Message::Data(DataMessage {
                flags: r.u8("flags")?,
                sender_keyid: r.u32("sender keyid")?,
                recipient_keyid: r.u32("recipient keyid")?,
                next_dh: r.mpi("next dh")?.to_vec(),
                ctr: r.array("ctr")?,
                encrypted: r.data(MAX_MESSAGE_BYTES, "encrypted message")?.to_vec(),
                mac: r.array("data mac")?,
                old_mac_keys: r.data(MAX_REVEALED_MAC_BYTES, "old mac keys")?.to_vec(),
            }),
            _ => return Err(DecodeError::UnknownType),
        };
        r.finish()?;
        Ok((header, msg))
    }
}

/// The part of a data message its MAC covers: version through the encrypted message.
pub fn data_authenticated(header: &Header, d: &DataMessage) -> Vec<u8> {
    let mut w = Writer::new();
    header.encode(&mut w, kind::DATA);
    w.u8(d.flags)
        .u32(d.sender_keyid)
        .u32(d.recipient_keyid)
        .mpi(&d.next_dh)
        .raw(&d.ctr)
        .data(&d.encrypted);
    w.finish()
}

/// The authenticated part of a received data message, exactly as it arrived (the MAC is
/// checked over the received bytes, not a re-encoding): everything before the MAC.
pub fn data_authenticated_raw<'a>(bytes: &'a [u8], d: &DataMessage) -> Option<&'a [u8]> {
    let tail = 20usize.checked_add(4)?.checked_add(d.old_mac_keys.len())?;
    bytes.get(..bytes.len().checked_sub(tail)?)
}

/// Reads only the header of a binary message (to route it before a full decode).
pub fn peek_header(bytes: &[u8]) -> Result<(Header, u8), DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.u16("version")?;
    if version != VERSION_2 && version != VERSION_3 {
        return Err(DecodeError::UnsupportedVersion);
    }
    let kind = r.u8("type")?;
    let header = if version == VERSION_3 {
        Header::v3(r.u32("sender tag")?, r.u32("receiver tag")?)
    } else {
        Header::v2()
    };
    Ok((header, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> DataMessage {
        DataMessage {
            flags: 1,
            sender_keyid: 1,
            recipient_keyid: 2,
            next_dh: vec![7; 192],
            ctr: [0, 0, 0, 0, 0, 0, 0, 1],
            encrypted: b"ciphertext".to_vec(),
            mac: [9; 20],
            old_mac_keys: vec![3; 40],
        }
    }

    #[test]
    fn every_message_round_trips_in_both_versions() {
        let msgs = [
            Message::DhCommit {
                encrypted_gx: vec![1; 196],
                hashed_gx: vec![2; 32],
            },
            Message::DhKey { gy: vec![5; 192] },
            Message::RevealSignature {
                revealed_key: vec![4; 16],
                encrypted_sig: vec![6; 300],
                mac: [8; 20],
            },
            Message::Signature {
                encrypted_sig: vec![6; 300],
                mac: [8; 20],
            },
            Message::Data(data()),
        ];
        for header in [Header::v3(0x1234_5678, 0x100), Header::v2()] {
            for m in &msgs {
                let enc = m.encode(&header);
                assert_eq!(Message::decode(&enc), Ok((header, m.clone())));
                assert_eq!(peek_header(&enc), Ok((header, m.kind())));
                // Every truncation is an error, never a panic.
                for cut in 0..enc.len() {
                    assert!(Message::decode(enc.get(..cut).unwrap_or_default()).is_err());
                }
            }
        }
    }

    #[test]
    fn the_libotr_base64_prefixes_match() {
        use base64::Engine as _;
        let enc = Message::Data(data()).encode(&Header::v3(0x100, 0x100));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&enc);
        assert!(b64.starts_with("AAMD"), "{b64}");
        let enc = Message::DhCommit {
            encrypted_gx: vec![],
            hashed_gx: vec![],
        }
        .encode(&Header::v3(0x100, 0));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&enc);
        assert!(b64.starts_with("AAMC"), "{b64}");
    }

    #[test]
    fn tag_rules() {
        assert!(Header::v3(0x100, 0).tags_ok(0x555));
        assert!(Header::v3(0x100, 0x555).tags_ok(0x555));
        assert!(!Header::v3(0x100, 0x556).tags_ok(0x555));
        assert!(!Header::v3(0xff, 0).tags_ok(0x555));
        assert!(!Header::v3(0x100, 0x20).tags_ok(0x555));
        assert!(Header::v2().tags_ok(0x555));
        assert_eq!(
            Message::decode(&[0, 4, 3]),
            Err(DecodeError::UnsupportedVersion)
        );
    }
}
