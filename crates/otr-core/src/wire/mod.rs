//! The binary and text formats of OTRv4+ messages.

pub mod codec;
pub mod dake;
pub mod data;
pub mod envelope;
pub mod query;
pub mod tlv;

use codec::{DecodeError, Reader, Writer};

/// The protocol version SHORT in every binary header: 0x0050, the ASCII code of `P`, the
/// character that stands for OTRv4+ in query messages and whitespace tags. Stock OTR uses
/// 0x0002..0x0004, so no stock implementation will parse an OTRv4+ message as its own.
pub const PROTOCOL_VERSION: u16 = 0x0050;

/// The version character of OTRv4+ in query messages, whitespace tags and client profiles.
pub const VERSION_CHAR: u8 = b'P';

/// Smallest valid instance tag (otrv4 §Instance Tags).
pub const MIN_INSTANCE_TAG: u32 = 0x100;

/// Message types. The numbers are otrv4's; the version field keeps them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// Data message.
    Data = 0x03,
    /// DAKE message 1.
    Identity = 0x35,
    /// DAKE message 2.
    AuthR = 0x36,
    /// DAKE message 3.
    AuthI = 0x37,
    /// Request to resend a DAKE message in full: an Identity with the full client profile
    /// (R → I), or, with the zero hash, the Auth-R or Auth-I that referred to something sent
    /// ahead and not received (the profile, I → R; CT_R, R → I).
    ProfileRequest = 0x38,
    /// The responder's client profile, sent while the initiator's Identity is still arriving,
    /// so that Auth-R need not carry it (docs/PROTOCOL.md §5.8).
    Profile = 0x39,
    /// The initiator's CT_R, sent as soon as it knows the responder's profile, so that Auth-I
    /// need not carry it (docs/PROTOCOL.md §5.9).
    Ciphertext = 0x3A,
}

impl MessageType {
    fn from_u8(b: u8) -> Result<Self, DecodeError> {
        Ok(match b {
            0x03 => MessageType::Data,
            0x35 => MessageType::Identity,
            0x36 => MessageType::AuthR,
            0x37 => MessageType::AuthI,
            0x38 => MessageType::ProfileRequest,
            0x39 => MessageType::Profile,
            0x3A => MessageType::Ciphertext,
            _ => return Err(DecodeError::UnknownType),
        })
    }
}

/// The common header: version, type, sender and receiver instance tags (11 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Message type.
    pub msg_type: MessageType,
    /// Sender instance tag (>= 0x100).
    pub sender: u32,
    /// Receiver instance tag (0 when not yet known, else >= 0x100).
    pub receiver: u32,
}

/// Header length in bytes.
pub const HEADER_LEN: usize = 11;

impl Header {
    /// Encodes the header.
    pub fn write(&self, w: &mut Writer) {
        w.u16(PROTOCOL_VERSION)
            .u8(self.msg_type as u8)
            .u32(self.sender)
            .u32(self.receiver);
    }

    /// Decodes and checks the header (version, type, instance-tag ranges).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if r.u16("version")? != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion);
        }
        let msg_type = MessageType::from_u8(r.u8("type")?)?;
        let sender = r.u32("sender tag")?;
        let receiver = r.u32("receiver tag")?;
        if sender < MIN_INSTANCE_TAG {
            return Err(DecodeError::InvalidValue("sender tag"));
        }
        if receiver != 0 && receiver < MIN_INSTANCE_TAG {
            return Err(DecodeError::InvalidValue("receiver tag"));
        }
        Ok(Header {
            msg_type,
            sender,
            receiver,
        })
    }

    /// Peeks at the header of an encoded message without consuming it.
    pub fn peek(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::read(&mut Reader::new(bytes))
    }
}
