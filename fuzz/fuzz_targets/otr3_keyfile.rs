//! `otr3::keyfile`: the readers of libotr's files a user imports (private keys, fingerprints,
//! instance tags), which must hold up against any file.
//!
//! Input: the file's bytes, given to `parse_private_keys`; when they are UTF-8, also to
//! `parse_fingerprints` and `parse_instags`.
//!
//! Properties: no panic, and bounded work (the readers refuse files over 1 MiB, nesting over
//! 16, too many elements, accounts or lines); whatever a reader accepts, written back with the
//! matching writer, reads back the same: keys with the same account, protocol, public key and
//! x; fingerprint and instance tag entries equal.
#![no_main]

use otr3::keyfile::{
    parse_fingerprints, parse_instags, parse_private_keys, write_fingerprints, write_instags,
    write_private_keys,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    if let Ok(keys) = parse_private_keys(data) {
        let written = write_private_keys(&keys);
        let back = parse_private_keys(written.as_bytes()).expect("a written key file reads back");
        assert_eq!(back.len(), keys.len(), "number of keys");
        for (a, b) in keys.iter().zip(&back) {
            assert_eq!(a.account, b.account, "account");
            assert_eq!(a.protocol, b.protocol, "protocol");
            assert_eq!(a.key.public(), b.key.public(), "public key");
            assert_eq!(*a.key.x_bytes(), *b.key.x_bytes(), "x");
        }
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(entries) = parse_fingerprints(text) {
        let back = parse_fingerprints(&write_fingerprints(&entries));
        assert_eq!(back.as_ref(), Ok(&entries), "fingerprints");
    }
    if let Ok(tags) = parse_instags(text) {
        let back = parse_instags(&write_instags(&tags));
        assert_eq!(back.as_ref(), Ok(&tags), "instance tags");
    }
}
