//! Codec tests for the Profile message and Auth-R's "profile sent ahead" flag.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;

fn header(msg_type: MessageType) -> Header {
    Header {
        msg_type,
        sender: 0x101,
        receiver: 0x202,
    }
}

fn auth_r(profile: ProfileRef) -> AuthR {
    AuthR {
        header: header(MessageType::AuthR),
        profile,
        holds_peer_attestation: false,
        y: [1; POINT_LEN],
        x: [2; X448_LEN],
        ct_ephemeral: Box::new([3; CT_LEN]),
        ct_initiator: Some(Box::new([4; CT_LEN])),
        sigma: Box::new([5; RING_SIG_LEN]),
    }
}

#[test]
fn profile_message_is_header_then_profile() {
    let msg = ProfileAhead {
        header: header(MessageType::Profile),
        profile: vec![9; 1843],
    };
    let bytes = msg.encode();
    assert_eq!(bytes.len(), HEADER_LEN + 1843);
    assert_eq!(&bytes[..3], &[0x00, 0x50, 0x39]);
    assert_eq!(ProfileAhead::decode(&bytes).unwrap(), msg);
    // Any length up to the profile bound decodes; the verification is the receiver's.
    let max = ProfileAhead {
        header: header(MessageType::Profile),
        profile: vec![9; MAX_PROFILE_LEN],
    };
    assert_eq!(ProfileAhead::decode(&max.encode()).unwrap(), max);
}

#[test]
fn profile_message_bounds_its_profile() {
    let empty = ProfileAhead {
        header: header(MessageType::Profile),
        profile: Vec::new(),
    };
    assert_eq!(
        ProfileAhead::decode(&empty.encode()),
        Err(DecodeError::LengthOutOfRange("profile"))
    );
    let long = ProfileAhead {
        header: header(MessageType::Profile),
        profile: vec![9; MAX_PROFILE_LEN + 1],
    };
    assert_eq!(
        ProfileAhead::decode(&long.encode()),
        Err(DecodeError::LengthOutOfRange("profile"))
    );
    // Another type's header is not a Profile message, nor is a Profile message anything else.
    let mut other = long.encode();
    other[2] = MessageType::ProfileRequest as u8;
    assert_eq!(ProfileAhead::decode(&other), Err(DecodeError::UnknownType));
    let ok = ProfileAhead {
        header: header(MessageType::Profile),
        profile: vec![9; 32],
    }
    .encode();
    assert!(ProfileRequest::decode(&ok).is_err());
}

#[test]
fn auth_r_sent_ahead_carries_no_profile_bytes() {
    let full = auth_r(ProfileRef::Full(vec![7; 1843])).encode();
    let hash = auth_r(ProfileRef::Hash([7; 32])).encode();
    let ahead = auth_r(ProfileRef::SentAhead).encode();
    assert_eq!(ahead.len() + 4 + 1843, full.len());
    assert_eq!(ahead.len() + 32, hash.len());
    assert_eq!(ahead[HEADER_LEN], FLAG_PROFILE_SENT_AHEAD);
    let decoded = AuthR::decode(&ahead).unwrap();
    assert_eq!(decoded.profile, ProfileRef::SentAhead);
    assert_eq!(decoded.encode(), ahead);
}

#[test]
fn sent_ahead_flag_is_auth_r_only_and_excludes_by_hash() {
    // Auth-R: by hash and sent ahead at once is refused.
    let mut both = auth_r(ProfileRef::Hash([7; 32])).encode();
    both[HEADER_LEN] |= FLAG_PROFILE_SENT_AHEAD;
    assert_eq!(
        AuthR::decode(&both),
        Err(DecodeError::InvalidValue("flags"))
    );
    // Identity: the flag is unknown.
    let identity = Identity {
        header: header(MessageType::Identity),
        query_versions: b"P".to_vec(),
        profile: ProfileRef::Hash([7; 32]),
        known_peer_profile: [0; 32],
        holds_peer_attestation: false,
        psk_id: None,
        y: [1; POINT_LEN],
        x: [2; X448_LEN],
        ek: Box::new([3; EK_LEN]),
    };
    let mut bytes = identity.encode();
    assert_eq!(Identity::decode(&bytes).unwrap(), identity);
    bytes[HEADER_LEN] = FLAG_PROFILE_SENT_AHEAD;
    assert_eq!(
        Identity::decode(&bytes),
        Err(DecodeError::InvalidValue("flags"))
    );
    // Auth-I: only the PSK flag.
    let auth_i = AuthI {
        header: header(MessageType::AuthI),
        ct_responder: None,
        sigma: Box::new([5; RING_SIG_LEN]),
        confirm: [6; CONFIRM_LEN],
    };
    let mut bytes = auth_i.encode();
    assert_eq!(AuthI::decode(&bytes).unwrap(), auth_i);
    bytes[HEADER_LEN] |= FLAG_PROFILE_SENT_AHEAD;
    assert_eq!(
        AuthI::decode(&bytes),
        Err(DecodeError::InvalidValue("flags"))
    );
}
