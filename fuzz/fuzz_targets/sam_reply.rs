//! The SAM bridge's replies and the I2P names in them: `otrbnc::upstream::sam::reply::Reply::parse`
//! and `sam::dest` (base64 destinations, `.b32.i2p` addresses, I2P host names) on arbitrary
//! bytes. Every byte here comes from the local router's socket (or the config for host names).
//!
//! Properties:
//! * nothing panics;
//! * a parsed reply came from at most `MAX_REPLY_LEN` bytes of UTF-8, and its topic and kind
//!   are non-empty words of printable ASCII without `=`;
//! * `b32_address` gives 52 lowercase base32 characters plus `.b32.i2p`, and is the same for a
//!   destination and for any bytes appended to it (private keys);
//! * whatever `is_public_destination` accepts has a b32 address and is an I2P host.
#![no_main]

use otrbnc::upstream::sam::dest;
use otrbnc::upstream::sam::reply::{MAX_REPLY_LEN, Reply};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    if let Ok(reply) = Reply::parse(data) {
        assert!(data.len() <= MAX_REPLY_LEN);
        assert!(std::str::from_utf8(data).is_ok());
        let head = reply.head();
        let (topic, kind) = head.split_once(' ').expect("TOPIC KIND");
        for w in [topic, kind] {
            assert!(
                !w.is_empty() && w.bytes().all(|b| b.is_ascii_graphic() && b != b'='),
                "{head:?}"
            );
        }
        let _ = (reply.result(), reply.message(), reply.get("VALUE"));
    }
    let text = String::from_utf8_lossy(data);
    let _ = dest::is_i2p_host(&text);
    if let Some(addr) = dest::b32_address(&text) {
        let b32 = addr.strip_suffix(".b32.i2p").expect("suffix");
        assert_eq!(b32.len(), 52);
        assert!(
            b32.bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        );
    }
    if dest::is_public_destination(&text) {
        assert!(dest::is_i2p_host(&text));
        assert!(dest::b32_address(&text).is_some());
    }
}
