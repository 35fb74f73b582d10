//! Encodings of the DAKE messages: Identity, Auth-R, Auth-I, Profile-Request, Profile and
//! Ciphertext.
//!
//! Decoding only parses: keys, profiles and signatures are checked by the DAKE layer.

use super::codec::{DecodeError, Reader, Writer};
use super::{HEADER_LEN, Header, MessageType};
use crate::crypto::ed448::POINT_LEN;
use crate::crypto::mlkem::{CT_LEN, EK_LEN};
use crate::crypto::ring_sig::RING_SIG_LEN;
use crate::crypto::x448::X448_LEN;
use crate::profile::MAX_PROFILE_LEN;

/// Flag: the sender's profile is given by its 32-byte hash (the receiver has it cached).
pub const FLAG_PROFILE_BY_HASH: u8 = 0x01;
/// Flag: resumption PSK offered (Identity) or used (Auth-R, Auth-I).
pub const FLAG_PSK: u8 = 0x02;
/// Flag (Identity, Auth-R): the sender holds the receiver's profile attestation, for the
/// profile named by Identity's known peer hash (Identity) or for profile_I (Auth-R), so the
/// receiver need not send it again.
pub const FLAG_HOLDS_ATTESTATION: u8 = 0x04;
/// Flag (Auth-R only): the responder's profile went ahead in a Profile message, so Auth-R
/// carries neither the profile nor its hash.
pub const FLAG_PROFILE_SENT_AHEAD: u8 = 0x08;
/// Flag (Auth-I only, full mode only): CT_R went ahead in a Ciphertext message, so Auth-I
/// does not carry it.
pub const FLAG_CT_SENT_AHEAD: u8 = 0x08;
/// Flag (with [`FLAG_PSK`] only): Identity offers a second PSK id after the first; Auth-R
/// used that second one.
pub const FLAG_SECOND_PSK: u8 = 0x10;
/// Flag (Identity, Auth-R): no ephemeral ML-KEM key (Identity) or ciphertext (Auth-R); the
/// session's first ratchet KEM exchange brings the ephemeral post-quantum secret instead.
pub const FLAG_KEM_DEFERRED: u8 = 0x20;

/// The hash a Profile-Request carries to ask for what was sent ahead, i.e. for the Auth-R
/// (I → R) or Auth-I (R → I) that referred to it, in full. No profile hashes to zeros, so it
/// cannot be taken for a request by hash.
pub const SENT_AHEAD_REQUEST: [u8; 32] = [0; 32];

/// Length of a resumption-PSK identifier.
pub const PSK_ID_LEN: usize = 16;
/// Length of Auth-I's key-confirmation MAC.
pub const CONFIRM_LEN: usize = 32;

/// A profile sent in full or by reference.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ProfileRef {
    /// The full encoding.
    Full(Vec<u8>),
    /// The hash of a profile the receiver is expected to have cached.
    Hash([u8; 32]),
    /// Auth-R only: the profile went ahead in a Profile message (no bytes on the wire).
    SentAhead,
}

impl ProfileRef {
    fn flag(&self) -> u8 {
        match self {
            ProfileRef::Full(_) => 0,
            ProfileRef::Hash(_) => FLAG_PROFILE_BY_HASH,
            ProfileRef::SentAhead => FLAG_PROFILE_SENT_AHEAD,
        }
    }

    fn write(&self, w: &mut Writer) {
        match self {
            ProfileRef::Full(b) => {
                w.data(b);
            }
            ProfileRef::Hash(h) => {
                w.bytes(h);
            }
            ProfileRef::SentAhead => {}
        }
    }

    fn read(r: &mut Reader<'_>, flags: u8) -> Result<Self, DecodeError> {
        match (
            flags & FLAG_PROFILE_BY_HASH != 0,
            flags & FLAG_PROFILE_SENT_AHEAD != 0,
        ) {
            (true, true) => Err(DecodeError::InvalidValue("flags")),
            (true, false) => Ok(ProfileRef::Hash(r.array("profile hash")?)),
            (false, true) => Ok(ProfileRef::SentAhead),
            (false, false) => Ok(ProfileRef::Full(
                r.data(MAX_PROFILE_LEN, "profile")?.to_vec(),
            )),
        }
    }
}

fn attestation_flag(holds: bool) -> u8 {
    if holds { FLAG_HOLDS_ATTESTATION } else { 0 }
}

/// Reads the flags byte, refusing any bit outside `allowed`.
fn read_flags(r: &mut Reader<'_>, allowed: u8) -> Result<u8, DecodeError> {
    let flags = r.u8("flags")?;
    if flags & !allowed != 0 {
        return Err(DecodeError::InvalidValue("flags"));
    }
    Ok(flags)
}

/// DAKE message 1, sent by the initiator.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Identity {
    /// Header (type Identity).
    pub header: Header,
    /// The version characters the initiator saw the responder advertise (query message or
    /// whitespace tag), empty when it started from a cached profile. Bound into the transcript
    /// so a tampered advertisement (a downgrade attempt) is detected by the responder.
    pub query_versions: Vec<u8>,
    /// The initiator's client profile.
    pub profile: ProfileRef,
    /// Hash of the responder profile the initiator has cached, or zeros.
    pub known_peer_profile: [u8; 32],
    /// The initiator holds the responder's attestation of `known_peer_profile`.
    pub holds_peer_attestation: bool,
    /// Resumption PSK identifiers offered, in order of preference: none, one or two.
    pub psk_ids: Vec<[u8; PSK_ID_LEN]>,
    /// Ephemeral Ed448 point Y_I (ring member for deniability).
    pub y: [u8; POINT_LEN],
    /// Ephemeral X448 key X_I.
    pub x: [u8; X448_LEN],
    /// Ephemeral ML-KEM-1024 encapsulation key; `None` when deferred to the ratchet
    /// ([`FLAG_KEM_DEFERRED`]).
    pub ek: Option<Box<[u8; EK_LEN]>>,
}

impl Identity {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 2000);
        self.header.write(&mut w);
        let ids: Vec<&[u8; PSK_ID_LEN]> = self.psk_ids.iter().take(2).collect();
        let flags = self.profile.flag()
            | if ids.is_empty() { 0 } else { FLAG_PSK }
            | if ids.len() > 1 { FLAG_SECOND_PSK } else { 0 }
            | if self.ek.is_none() {
                FLAG_KEM_DEFERRED
            } else {
                0
            }
            | attestation_flag(self.holds_peer_attestation);
        w.u8(flags).short_data(&self.query_versions);
        self.profile.write(&mut w);
        w.bytes(&self.known_peer_profile);
        for id in ids {
            w.bytes(id);
        }
        w.bytes(&self.y).bytes(&self.x);
        if let Some(ek) = &self.ek {
            w.bytes(ek.as_slice());
        }
        w.into_vec()
    }

    /// Decodes the message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::Identity {
            return Err(DecodeError::UnknownType);
        }
        let flags = read_flags(
            &mut r,
            FLAG_PROFILE_BY_HASH
                | FLAG_PSK
                | FLAG_HOLDS_ATTESTATION
                | FLAG_SECOND_PSK
                | FLAG_KEM_DEFERRED,
        )?;
        if flags & FLAG_SECOND_PSK != 0 && flags & FLAG_PSK == 0 {
            return Err(DecodeError::InvalidValue("flags"));
        }
        let query_versions = r.short_data("query versions")?.to_vec();
        let profile = ProfileRef::read(&mut r, flags)?;
        let known_peer_profile = r.array("known peer profile")?;
        let mut psk_ids = Vec::new();
        if flags & FLAG_PSK != 0 {
            psk_ids.push(r.array("psk id")?);
        }
        if flags & FLAG_SECOND_PSK != 0 {
            psk_ids.push(r.array("second psk id")?);
        }
        let y = r.array("Y")?;
        let x = r.array("X")?;
        let ek = if flags & FLAG_KEM_DEFERRED == 0 {
            Some(Box::new(r.array("ek")?))
        } else {
            None
        };
        r.finish()?;
        Ok(Identity {
            header,
            query_versions,
            profile,
            known_peer_profile,
            holds_peer_attestation: flags & FLAG_HOLDS_ATTESTATION != 0,
            psk_ids,
            y,
            x,
            ek,
        })
    }
}

/// DAKE message 2, sent by the responder.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthR {
    /// Header (type Auth-R).
    pub header: Header,
    /// The responder's client profile.
    pub profile: ProfileRef,
    /// The responder holds the initiator's attestation of profile_I.
    pub holds_peer_attestation: bool,
    /// Ephemeral Ed448 point Y_R.
    pub y: [u8; POINT_LEN],
    /// Ephemeral X448 key X_R.
    pub x: [u8; X448_LEN],
    /// Encapsulation to the initiator's ephemeral ML-KEM key; `None` when the Identity
    /// deferred it ([`FLAG_KEM_DEFERRED`]).
    pub ct_ephemeral: Option<Box<[u8; CT_LEN]>>,
    /// Encapsulation to the initiator's long-term ML-KEM key (absent in PSK mode).
    pub ct_initiator: Option<Box<[u8; CT_LEN]>>,
    /// PSK mode with the second PSK id the Identity offered ([`FLAG_SECOND_PSK`]).
    pub second_psk: bool,
    /// Ring signature σ_R over the transcript.
    pub sigma: Box<[u8; RING_SIG_LEN]>,
}

impl AuthR {
    /// True when the responder accepted the offered resumption PSK.
    pub fn psk_mode(&self) -> bool {
        self.ct_initiator.is_none()
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 4000);
        self.header.write(&mut w);
        let flags = self.profile.flag()
            | if self.psk_mode() { FLAG_PSK } else { 0 }
            | if self.psk_mode() && self.second_psk {
                FLAG_SECOND_PSK
            } else {
                0
            }
            | if self.ct_ephemeral.is_none() {
                FLAG_KEM_DEFERRED
            } else {
                0
            }
            | attestation_flag(self.holds_peer_attestation);
        w.u8(flags);
        self.profile.write(&mut w);
        w.bytes(&self.y).bytes(&self.x);
        if let Some(ct) = &self.ct_ephemeral {
            w.bytes(ct.as_slice());
        }
        if let Some(ct) = &self.ct_initiator {
            w.bytes(ct.as_slice());
        }
        w.bytes(self.sigma.as_slice());
        w.into_vec()
    }

    /// Decodes the message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::AuthR {
            return Err(DecodeError::UnknownType);
        }
        let flags = read_flags(
            &mut r,
            FLAG_PROFILE_BY_HASH
                | FLAG_PSK
                | FLAG_HOLDS_ATTESTATION
                | FLAG_PROFILE_SENT_AHEAD
                | FLAG_SECOND_PSK
                | FLAG_KEM_DEFERRED,
        )?;
        if flags & FLAG_SECOND_PSK != 0 && flags & FLAG_PSK == 0 {
            return Err(DecodeError::InvalidValue("flags"));
        }
        let profile = ProfileRef::read(&mut r, flags)?;
        let y = r.array("Y")?;
        let x = r.array("X")?;
        let ct_ephemeral = if flags & FLAG_KEM_DEFERRED == 0 {
            Some(Box::new(r.array("ct ephemeral")?))
        } else {
            None
        };
        let ct_initiator = if flags & FLAG_PSK == 0 {
            Some(Box::new(r.array("ct initiator")?))
        } else {
            None
        };
        let sigma = Box::new(r.array("sigma")?);
        r.finish()?;
        Ok(AuthR {
            header,
            profile,
            holds_peer_attestation: flags & FLAG_HOLDS_ATTESTATION != 0,
            y,
            x,
            ct_ephemeral,
            ct_initiator,
            second_psk: flags & FLAG_SECOND_PSK != 0,
            sigma,
        })
    }
}

/// DAKE message 3, sent by the initiator.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuthI {
    /// Header (type Auth-I).
    pub header: Header,
    /// Encapsulation to the responder's long-term ML-KEM key: absent in PSK mode, and when it
    /// went ahead in a Ciphertext message (`ct_sent_ahead`).
    pub ct_responder: Option<Box<[u8; CT_LEN]>>,
    /// Full mode only: CT_R went ahead in a Ciphertext message (flag 0x08), so `ct_responder`
    /// is `None` and is not encoded. PSK mode is `ct_responder == None` without this flag.
    pub ct_sent_ahead: bool,
    /// Ring signature σ_I over the transcript.
    pub sigma: Box<[u8; RING_SIG_LEN]>,
    /// Key confirmation: proves the initiator derived the shared secret.
    pub confirm: [u8; CONFIRM_LEN],
}

impl AuthI {
    /// True when the message is in PSK mode (no CT_R, none sent ahead).
    pub fn psk_mode(&self) -> bool {
        self.ct_responder.is_none() && !self.ct_sent_ahead
    }

    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 2000);
        self.header.write(&mut w);
        let flags = if self.ct_sent_ahead {
            FLAG_CT_SENT_AHEAD
        } else if self.ct_responder.is_none() {
            FLAG_PSK
        } else {
            0
        };
        w.u8(flags);
        if let Some(ct) = self.ct_responder.as_ref().filter(|_| !self.ct_sent_ahead) {
            w.bytes(ct.as_slice());
        }
        w.bytes(self.sigma.as_slice()).bytes(&self.confirm);
        w.into_vec()
    }

    /// Decodes the message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::AuthI {
            return Err(DecodeError::UnknownType);
        }
        let flags = read_flags(&mut r, FLAG_PSK | FLAG_CT_SENT_AHEAD)?;
        // CT_R sent ahead exists only in full mode.
        if flags == FLAG_PSK | FLAG_CT_SENT_AHEAD {
            return Err(DecodeError::InvalidValue("flags"));
        }
        let ct_responder = if flags == 0 {
            Some(Box::new(r.array("ct responder")?))
        } else {
            None
        };
        let sigma = Box::new(r.array("sigma")?);
        let confirm = r.array("confirm")?;
        r.finish()?;
        Ok(AuthI {
            header,
            ct_responder,
            ct_sent_ahead: flags == FLAG_CT_SENT_AHEAD,
            sigma,
            confirm,
        })
    }
}

/// Sent by a responder that received an Identity whose profile hash it does not know (the
/// initiator answers by resending its Identity with the full profile). With
/// [`SENT_AHEAD_REQUEST`] as the hash, sent by an initiator that received an Auth-R referring
/// to a profile sent ahead that it does not hold (the responder answers by resending its
/// Auth-R with the full profile), or by a responder that received an Auth-I referring to a
/// CT_R sent ahead that it does not hold (the initiator answers by resending its Auth-I with
/// CT_R).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProfileRequest {
    /// Header (type Profile-Request).
    pub header: Header,
    /// The profile hash that could not be resolved.
    pub unknown_hash: [u8; 32],
}

impl ProfileRequest {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + 32);
        self.header.write(&mut w);
        w.bytes(&self.unknown_hash);
        w.into_vec()
    }

    /// Decodes the message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::ProfileRequest {
            return Err(DecodeError::UnknownType);
        }
        let unknown_hash = r.array("hash")?;
        r.finish()?;
        Ok(ProfileRequest {
            header,
            unknown_hash,
        })
    }
}

/// The responder's client profile, sent ahead of Auth-R while the initiator's Identity is
/// still arriving: the header followed by the profile's encoding, nothing else (the profile
/// is the rest of the message, so it needs no length).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProfileAhead {
    /// Header (type Profile).
    pub header: Header,
    /// The responder's encoded client profile (parsed and verified by the receiver).
    pub profile: Vec<u8>,
}

impl ProfileAhead {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + self.profile.len());
        self.header.write(&mut w);
        w.bytes(&self.profile);
        w.into_vec()
    }

    /// Decodes the message. The profile must be 1 to [`MAX_PROFILE_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::Profile {
            return Err(DecodeError::UnknownType);
        }
        let profile = r.rest();
        if profile.is_empty() || profile.len() > MAX_PROFILE_LEN {
            return Err(DecodeError::LengthOutOfRange("profile"));
        }
        Ok(ProfileAhead {
            header,
            profile: profile.to_vec(),
        })
    }
}

/// The initiator's CT_R (its encapsulation to the responder's long-term ML-KEM key), sent as
/// soon as it knows the responder's profile, so that Auth-I need not carry it: the header
/// followed by exactly one ML-KEM-1024 ciphertext.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CiphertextAhead {
    /// Header (type Ciphertext, receiver = the responder's tag).
    pub header: Header,
    /// CT_R (any 1,568 bytes are a ciphertext; a wrong one fails the DAKE at σ_I).
    pub ct: Box<[u8; CT_LEN]>,
}

impl CiphertextAhead {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(HEADER_LEN + CT_LEN);
        self.header.write(&mut w);
        w.bytes(self.ct.as_slice());
        w.into_vec()
    }

    /// Decodes the message: the header and exactly [`CT_LEN`] bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let header = Header::read(&mut r)?;
        if header.msg_type != MessageType::Ciphertext {
            return Err(DecodeError::UnknownType);
        }
        let ct = Box::new(r.array("ct responder")?);
        r.finish()?;
        Ok(CiphertextAhead { header, ct })
    }
}

#[cfg(test)]
mod tests;
