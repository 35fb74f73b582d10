//! `otr3::tlv::decode_all`: the TLVs after the NUL of a decrypted data message (padding,
//! disconnect, SMP, extra symmetric key, and anything a peer invents).
//!
//! Input: the bytes after the NUL.
//!
//! Properties: no panic; at most `MAX_TLVS` records are accepted (more is an error, however
//! the rest looks); whatever decodes re-encodes (`encode_all`, and `Tlv::encode_into` record
//! by record) to exactly the input; a decoding failure is never an input that is a whole
//! sequence of at most `MAX_TLVS` well-formed records.
#![no_main]

use otr3::limits::MAX_TLVS;
use otr3::tlv::{decode_all, encode_all};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

/// How many well-formed records `data` is, if it is a whole sequence of them.
fn records(data: &[u8]) -> Option<usize> {
    let (mut rest, mut count) = (data, 0);
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes(rest.get(2..4)?.try_into().ok()?));
        rest = rest.get(4 + len..)?;
        count += 1;
    }
    Some(count)
}

fn check(data: &[u8]) {
    let expected = records(data);
    match decode_all(data) {
        Ok(tlvs) => {
            assert!(tlvs.len() <= MAX_TLVS);
            assert_eq!(expected, Some(tlvs.len()));
            assert_eq!(encode_all(&tlvs), data, "not canonical");
            let mut one_by_one = Vec::new();
            for t in &tlvs {
                t.encode_into(&mut one_by_one);
            }
            assert_eq!(one_by_one, data);
        }
        Err(_) => assert!(
            expected.is_none_or(|n| n > MAX_TLVS),
            "{expected:?} well-formed records refused"
        ),
    }
}
