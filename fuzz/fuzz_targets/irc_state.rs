//! `otrbnc::network::state::IrcState` fed arbitrary server lines (the input split on `\n`),
//! as a hostile server would send them, then asked for what otrbnc builds from it.
//!
//! Properties:
//! * nothing panics;
//! * the member counter behind the bound equals the members tracked, and stays within
//!   `MAX_MEMBERS`; at most `MAX_CHANNELS` channels, none with a name longer than allowed;
//! * every NAMES and MODE answer built from the state, and every line of the attach burst
//!   built here, is one line: CRLF at its end and no CR, LF or NUL before it;
//! * the JOIN lines for the channels tracked list every channel exactly once.
#![no_main]

use bytes::Bytes;
use otrbnc::irc::Line;
use otrbnc::network::joins::join_lines;
use otrbnc::network::members::MAX_MEMBERS;
use otrbnc::network::state::{IrcState, MAX_CHANNEL_NAME_BYTES, MAX_CHANNELS};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn one_line(l: &[u8]) -> bool {
    l.ends_with(b"\r\n")
        && !l[..l.len() - 2]
            .iter()
            .any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

fn check(data: &[u8]) {
    let mut s = IrcState::new("me");
    for raw in data.split(|&b| b == b'\n').take(4096) {
        let raw = Bytes::copy_from_slice(raw);
        if let Some(line) = Line::parse(&raw) {
            s.observe(&raw, &line);
        }
        let sum: usize = s.channels.values().map(|c| c.members.len()).sum();
        assert_eq!(sum, s.members_total(), "member counter out of step");
        assert!(sum <= MAX_MEMBERS);
        assert!(s.channels.len() <= MAX_CHANNELS);
    }
    let names: Vec<String> = s.channels.values().map(|c| c.name.clone()).collect();
    for name in &names {
        assert!(name.len() <= MAX_CHANNEL_NAME_BYTES);
        for l in s.names_reply(name).into_iter().flatten() {
            assert!(one_line(&l), "NAMES answer {l:?}");
        }
        for l in s.modes_reply(name).into_iter().flatten() {
            assert!(one_line(&l), "MODE answer {l:?}");
        }
    }
    // The burst's 353/366 are built here (the stored registration lines are 001–005 and
    // the MOTD, repeated as received).
    for l in s.welcome_burst() {
        let built = Line::parse(&l).is_some_and(|p| p.command == b"353" || p.command == b"366");
        if built {
            assert!(one_line(&l), "burst NAMES line {l:?}");
        }
    }
    let chans: Vec<(&str, Option<&str>)> = names.iter().map(|n| (n.as_str(), None)).collect();
    let listed: usize = join_lines(&chans, None)
        .iter()
        .map(|l| {
            let text = String::from_utf8_lossy(l);
            text.split(' ')
                .nth(1)
                .map_or(0, |c| c.trim_end().split(',').count())
        })
        .sum();
    // A name with a comma in it reads as two; servers do not allow commas in channel names.
    if names.iter().all(|n| !n.contains(',') && !n.contains(' ')) {
        assert_eq!(listed, names.len(), "JOIN lines for {names:?}");
    }
}
