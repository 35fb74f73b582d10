//! Codec tests for the Profile and Ciphertext messages and the "sent ahead" flags of Auth-R
//! (the profile) and Auth-I (CT_R).
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
        ct_ephemeral: Some(Box::new([3; CT_LEN])),
        ct_initiator: Some(Box::new([4; CT_LEN])),
        second_psk: false,
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
        psk_ids: Vec::new(),
        y: [1; POINT_LEN],
        x: [2; X448_LEN],
        ek: Some(Box::new([3; EK_LEN])),
    };
    let mut bytes = identity.encode();
    assert_eq!(Identity::decode(&bytes).unwrap(), identity);
    bytes[HEADER_LEN] = FLAG_PROFILE_SENT_AHEAD;
    assert_eq!(
        Identity::decode(&bytes),
        Err(DecodeError::InvalidValue("flags"))
    );
    // Auth-I: 0x08 means CT_R sent ahead there, which PSK mode cannot have.
    let auth_i = AuthI {
        header: header(MessageType::AuthI),
        ct_responder: None,
        ct_sent_ahead: false,
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

fn auth_i(ct_responder: Option<Box<[u8; CT_LEN]>>, ct_sent_ahead: bool) -> AuthI {
    AuthI {
        header: header(MessageType::AuthI),
        ct_responder,
        ct_sent_ahead,
        sigma: Box::new([5; RING_SIG_LEN]),
        confirm: [6; CONFIRM_LEN],
    }
}

fn ciphertext_message(ct: [u8; CT_LEN]) -> CiphertextAhead {
    CiphertextAhead {
        header: header(MessageType::Ciphertext),
        ct: Box::new(ct),
    }
}

#[test]
fn ciphertext_message_is_header_then_one_ciphertext() {
    let msg = ciphertext_message([9; CT_LEN]);
    let bytes = msg.encode();
    assert_eq!(bytes.len(), HEADER_LEN + CT_LEN);
    assert_eq!(&bytes[..3], &[0x00, 0x50, 0x3A]);
    assert_eq!(&bytes[HEADER_LEN..], &[9; CT_LEN][..]);
    assert_eq!(CiphertextAhead::decode(&bytes).unwrap(), msg);
    // Anything but exactly one ciphertext is refused.
    assert_eq!(
        CiphertextAhead::decode(&bytes[..bytes.len() - 1]),
        Err(DecodeError::Truncated("ct responder"))
    );
    assert_eq!(
        CiphertextAhead::decode(&bytes[..HEADER_LEN]),
        Err(DecodeError::Truncated("ct responder"))
    );
    let mut long = bytes.clone();
    long.push(0);
    assert_eq!(
        CiphertextAhead::decode(&long),
        Err(DecodeError::TrailingBytes)
    );
    // Another type's header is not a Ciphertext message, nor is a Ciphertext message
    // anything else.
    let mut other = bytes.clone();
    other[2] = MessageType::Profile as u8;
    assert_eq!(
        CiphertextAhead::decode(&other),
        Err(DecodeError::UnknownType)
    );
    assert!(ProfileAhead::decode(&bytes).is_err());
    assert!(AuthI::decode(&bytes).is_err());
    assert!(ProfileRequest::decode(&bytes).is_err());
}

#[test]
fn auth_i_with_ct_sent_ahead_carries_no_ciphertext() {
    let full = auth_i(Some(Box::new([4; CT_LEN])), false);
    let ahead = auth_i(None, true);
    let psk = auth_i(None, false);
    let (full_bytes, ahead_bytes) = (full.encode(), ahead.encode());
    assert_eq!(ahead_bytes.len() + CT_LEN, full_bytes.len());
    assert_eq!(ahead_bytes.len(), psk.encode().len());
    assert_eq!(ahead_bytes[HEADER_LEN], FLAG_CT_SENT_AHEAD);
    assert_eq!(full_bytes[HEADER_LEN], 0);
    assert_eq!(psk.encode()[HEADER_LEN], FLAG_PSK);
    // Only the form differs: σ_I and confirm are the same bytes.
    assert_eq!(
        &ahead_bytes[HEADER_LEN + 1..],
        &full_bytes[HEADER_LEN + 1 + CT_LEN..]
    );
    let decoded = AuthI::decode(&ahead_bytes).unwrap();
    assert_eq!(decoded, ahead);
    assert!(decoded.ct_sent_ahead && !decoded.psk_mode());
    assert!(decoded.ct_responder.is_none());
    assert_eq!(decoded.encode(), ahead_bytes);
    assert!(AuthI::decode(&psk.encode()).unwrap().psk_mode());
    assert!(!AuthI::decode(&full_bytes).unwrap().psk_mode());
    // A CT_R given with the flag is not encoded: the flag says it went ahead.
    assert_eq!(
        auth_i(Some(Box::new([4; CT_LEN])), true).encode(),
        ahead_bytes
    );
}

#[test]
fn ct_sent_ahead_flag_is_full_mode_only() {
    let ahead = auth_i(None, true).encode();
    // With the PSK flag too: refused, whatever follows.
    let mut both = ahead.clone();
    both[HEADER_LEN] = FLAG_PSK | FLAG_CT_SENT_AHEAD;
    assert_eq!(
        AuthI::decode(&both),
        Err(DecodeError::InvalidValue("flags"))
    );
    // Unknown bits stay refused.
    for bit in [0x01, 0x04, 0x10, 0x80] {
        let mut bytes = ahead.clone();
        bytes[HEADER_LEN] |= bit;
        assert_eq!(
            AuthI::decode(&bytes),
            Err(DecodeError::InvalidValue("flags")),
            "bit {bit:#04x}"
        );
    }
    // A full Auth-I with the flag set: the ciphertext is trailing bytes.
    let mut full = auth_i(Some(Box::new([4; CT_LEN])), false).encode();
    full[HEADER_LEN] = FLAG_CT_SENT_AHEAD;
    assert_eq!(AuthI::decode(&full), Err(DecodeError::TrailingBytes));
    // Auth-R's 0x08 is its own (the profile sent ahead), Identity has none.
    let mut auth_r_bytes = auth_r(ProfileRef::SentAhead).encode();
    assert!(AuthR::decode(&auth_r_bytes).is_ok());
    auth_r_bytes[2] = MessageType::AuthI as u8;
    assert!(AuthI::decode(&auth_r_bytes).is_err());
}

/// A PSK-offering Identity with its ephemeral ML-KEM key deferred, and the Auth-R that uses
/// the second PSK without a ciphertext: both round-trip, and the flags they rely on are
/// refused where they make no sense.
#[test]
fn deferred_kem_and_second_psk_round_trip() {
    let identity = Identity {
        header: header(MessageType::Identity),
        query_versions: Vec::new(),
        profile: ProfileRef::Hash([7; 32]),
        known_peer_profile: [8; 32],
        holds_peer_attestation: true,
        psk_ids: vec![[1; PSK_ID_LEN], [2; PSK_ID_LEN]],
        y: [1; POINT_LEN],
        x: [2; X448_LEN],
        ek: None,
    };
    let bytes = identity.encode();
    assert_eq!(Identity::decode(&bytes).unwrap(), identity);
    // Only what is small stays: no 1,568-byte key.
    assert!(bytes.len() < 300, "{}", bytes.len());
    assert_eq!(
        bytes[HEADER_LEN],
        FLAG_PROFILE_BY_HASH
            | FLAG_PSK
            | FLAG_SECOND_PSK
            | FLAG_KEM_DEFERRED
            | FLAG_HOLDS_ATTESTATION
    );
    // A second id without a first is refused.
    let mut bad = bytes.clone();
    bad[HEADER_LEN] &= !FLAG_PSK;
    assert_eq!(
        Identity::decode(&bad),
        Err(DecodeError::InvalidValue("flags"))
    );
    // At most two ids go out.
    let three = Identity {
        psk_ids: vec![[1; PSK_ID_LEN], [2; PSK_ID_LEN], [3; PSK_ID_LEN]],
        ..identity.clone()
    };
    assert_eq!(Identity::decode(&three.encode()).unwrap(), identity);

    let mut ar = auth_r(ProfileRef::Hash([9; 32]));
    ar.ct_ephemeral = None;
    ar.ct_initiator = None;
    ar.second_psk = true;
    let bytes = ar.encode();
    assert_eq!(AuthR::decode(&bytes).unwrap(), ar);
    assert!(bytes.len() < 600, "{}", bytes.len());
    // The second PSK exists only in PSK mode.
    let mut full = auth_r(ProfileRef::Hash([9; 32]));
    full.second_psk = true;
    assert!(!AuthR::decode(&full.encode()).unwrap().second_psk);
    let mut bad = full.encode();
    bad[HEADER_LEN] |= FLAG_SECOND_PSK;
    assert_eq!(AuthR::decode(&bad), Err(DecodeError::InvalidValue("flags")));
}
