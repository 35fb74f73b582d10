//! `otrbnc::irc::shape::shape` on arbitrary lines and capability sets.
//!
//! Properties:
//! * it never panics;
//! * a line that `may_need_shaping` says cannot change comes back as the same bytes;
//! * with every capability the line comes back unchanged, unless it is not a line (its
//!   command starts with `@`: a second tag section), which is dropped for every client;
//! * a line shaped for a client without `message-tags` carries no tag but `time`, `account`,
//!   `batch` and `label`, and only those of capabilities it holds;
//! * shaping is idempotent: a shaped line shaped again for the same client is the same.
#![no_main]

use bytes::Bytes;
use otrbnc::irc::shape::{may_need_shaping, shape};
use otrbnc::irc::{Cap, CapSet, Line};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn check(data: &[u8]) {
    let Some((&bits, rest)) = data.split_first() else {
        return;
    };
    let Some((&bits2, line)) = rest.split_first() else {
        return;
    };
    let caps = CapSet::from_bits(u32::from(bits) | (u32::from(bits2) << 8));
    let raw = Bytes::copy_from_slice(line);
    let prefixes = b"~&@%+";
    let out = shape(&raw, caps, prefixes);
    if !may_need_shaping(&raw) {
        assert_eq!(out.as_ref(), Some(&raw), "an unshaped line changed");
    }
    let all = CapSet::from_bits(u32::MAX);
    match shape(&raw, all, prefixes) {
        Some(same) => assert_eq!(same, raw, "changed with every cap"),
        // Only a line whose command is a second tag section is dropped for everyone.
        None => assert!(
            Line::parse(&raw).is_some_and(|l| l.command.first() == Some(&b'@')),
            "dropped with every cap"
        ),
    }
    let Some(out) = out else {
        return;
    };
    if !caps.has(Cap::MessageTags)
        && let Some(tags) = Line::parse(&out).and_then(|l| l.tags)
    {
        for tag in tags.split(|&b| b == b';').filter(|t| !t.is_empty()) {
            let key = tag.split(|&b| b == b'=').next().unwrap_or_default();
            let ok = match key {
                b"time" => caps.has(Cap::ServerTime),
                b"account" => caps.has(Cap::AccountTag),
                b"batch" => caps.has(Cap::Batch),
                b"label" => caps.has(Cap::LabeledResponse),
                _ => false,
            };
            assert!(ok, "tag {key:?} reached a client without its capability");
        }
    }
    assert_eq!(
        shape(&out, caps, prefixes).as_ref(),
        Some(&out),
        "shaping twice changed the line"
    );
}
