//! `otr3::message`: the binary OTRv3/v2 messages (D-H Commit, D-H Key, Reveal Signature,
//! Signature, Data) as they arrive inside `?OTR:<base64>.`.
//!
//! Input: the decoded bytes of one message.
//!
//! Properties:
//! * nothing panics, and nothing over `MAX_MESSAGE_BYTES` decodes;
//! * `peek_header` agrees with `Message::decode` (same header and type byte) whenever the
//!   latter succeeds, and fails whenever the header is not one `decode` would read;
//! * what decodes re-encodes to exactly the input, unless an MPI (D-H Key's g^y, a data
//!   message's next D-H key) arrived with leading zero bytes, which decoding tolerates and
//!   encoding drops; then the re-encoding decodes to the same message with those zeros
//!   gone, and is itself canonical;
//! * for a data message, `data_authenticated_raw` is the input up to the MAC (and equals the
//!   re-encoded authenticated part when the input is canonical); on any other bytes or
//!   message it returns `None` or a prefix of the bytes, never panics.
#![no_main]

use otr3::limits::MAX_MESSAGE_BYTES;
use otr3::message::{
    DataMessage, Header, Message, VERSION_2, VERSION_3, data_authenticated, data_authenticated_raw,
    peek_header,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn strip(mpi: &[u8]) -> Vec<u8> {
    let start = mpi.iter().position(|&b| b != 0).unwrap_or(mpi.len());
    mpi.get(start..).unwrap_or_default().to_vec()
}

/// The message with its MPIs written minimally (what a re-encoding carries).
fn minimal(msg: &Message) -> Message {
    match msg {
        Message::DhKey { gy } => Message::DhKey { gy: strip(gy) },
        Message::Data(d) => Message::Data(DataMessage {
            next_dh: strip(&d.next_dh),
            ..d.clone()
        }),
        m => m.clone(),
    }
}

fn check(data: &[u8]) {
    let peeked = peek_header(data);
    let decoded = Message::decode(data);

    // A synthetic data message against the raw bytes: whatever its revealed keys claim,
    // the authenticated part is a prefix of the bytes or nothing.
    let claimed = usize::from(data.first().copied().unwrap_or(0)) * 20;
    let synthetic = DataMessage {
        flags: 0,
        sender_keyid: 1,
        recipient_keyid: 1,
        next_dh: Vec::new(),
        ctr: [0; 8],
        encrypted: Vec::new(),
        mac: [0; 20],
        old_mac_keys: vec![0; claimed],
    };
    if let Some(auth) = data_authenticated_raw(data, &synthetic) {
        assert_eq!(auth.len() + 24 + claimed, data.len());
    }

    let Ok((header, msg)) = decoded else {
        return;
    };
    assert!(data.len() <= MAX_MESSAGE_BYTES);
    assert!(header.version == VERSION_2 || header.version == VERSION_3);
    if header.version == VERSION_2 {
        assert_eq!(header, Header::v2());
    }
    assert_eq!(peeked, Ok((header, msg.kind())), "peek_header disagrees");

    let enc = msg.encode(&header);
    let canonical = minimal(&msg);
    if enc == data {
        assert_eq!(canonical, msg, "a canonical input had a non-minimal MPI");
    } else {
        // Only leading zeros of MPIs may make the difference.
        assert_ne!(
            canonical, msg,
            "re-encoding differs without a non-minimal MPI"
        );
        assert_eq!(
            Message::decode(&enc),
            Ok((header, canonical.clone())),
            "the re-encoding does not decode to the message"
        );
        assert_eq!(
            canonical.encode(&header),
            enc,
            "the re-encoding is not canonical"
        );
    }

    if let Message::Data(d) = &msg {
        let auth = data_authenticated_raw(data, d).expect("a decoded data message has a MAC");
        assert_eq!(auth.len() + 24 + d.old_mac_keys.len(), data.len());
        assert_eq!(Some(auth), data.get(..auth.len()));
        if enc == data {
            assert_eq!(auth, data_authenticated(&header, d).as_slice());
        }
        // The MAC follows the authenticated part.
        assert_eq!(data.get(auth.len()..auth.len() + 20), Some(&d.mac[..]));
        // Cut short, the bytes give a prefix or nothing.
        let half = data.get(..data.len() / 2).unwrap_or_default();
        if let Some(a) = data_authenticated_raw(half, d) {
            assert!(a.len() < half.len());
        }
    }
}
