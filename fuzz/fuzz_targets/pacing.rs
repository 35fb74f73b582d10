//! The send queue's reactions to a hostile server: the input is a program. Each step (first
//! byte) queues lines to one of three targets (normal or bulk, OTR or plaintext), takes what
//! may go, or feeds a server line built from the input (a PONG with a chosen token, a
//! "throttled" notice, 439, 707, 263, or the raw bytes) through `pacing::classify` and the
//! pacer, or moves the clock.
//!
//! Properties: no panic; lines and bytes in flight stay within the window (one line over
//! when nothing else is in flight); every line that leaves was queued (resent lines
//! included: nothing invented), every other line is one of our PINGs; a notice passed on is
//! the notice received.
#![no_main]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use otrbnc::irc::Line;
use otrbnc::upstream::pacing::server::{Family, Profile};
use otrbnc::upstream::pacing::window::ACK_TIMEOUT;
use otrbnc::upstream::pacing::{self, Class, Lane, Overrides, Pacer, Throttle};

const TARGETS: [&str; 3] = ["bob", "carol", "#chan"];

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut now = Instant::now();
    let families = [
        Family::Solanum,
        Family::Hybrid,
        Family::Ngircd,
        Family::Unknown,
        Family::Ircu,
    ];
    let family = families[usize::from(data.first().copied().unwrap_or(0)) % families.len()];
    let mut p = Pacer::new(Overrides::default(), now);
    // Without hybrid's credit: lines it counts as parsed on arrival leave the window on
    // purpose, so the window property below would not hold for them. Its own bound (what a
    // simulated hybrid holds unparsed) is shown by the pacer's `hybrid_sim` tests.
    let profile = Profile {
        credit: false,
        ..Profile::of(family)
    };
    p.set_server(profile, now);
    let limit = profile.window;
    let mut pushed: HashSet<Bytes> = HashSet::new();
    // Every server line fed in: a notice passed on to the clients must be one of them.
    let mut fed: HashSet<Vec<u8>> = HashSet::new();
    // Lines written and not yet acknowledged (parsed by the simulated server, or taken as
    // parsed by the pacer: a PONG with our token, even a forged one, or the acknowledgement
    // timeout), in order, with when they went.
    let mut in_flight: std::collections::VecDeque<(Bytes, Instant)> = Default::default();
    let mut n = 0u32;
    let mut i = 1;
    while i + 1 < data.len() {
        let (op, arg) = (data[i], data[i + 1]);
        i += 2;
        let target = TARGETS[usize::from(arg) % TARGETS.len()];
        match op % 8 {
            0 | 1 => {
                let count = u32::from(arg % 12) + 1;
                let otr = op & 0x10 != 0;
                let lines: Vec<Bytes> = (0..count)
                    .map(|k| {
                        n += 1;
                        let text = if otr {
                            format!("?OTR|1|2|{n},{k:05},{count:05},x,")
                        } else {
                            format!("plain {n}")
                        };
                        Bytes::from(format!("PRIVMSG {target} :{text}\r\n"))
                    })
                    .collect();
                let class = if op & 0x20 != 0 {
                    Class::Bulk
                } else {
                    Class::Normal
                };
                pushed.extend(lines.iter().cloned());
                let _ = p.push(Lane::Of(target.to_string()), class, lines);
            }
            2 => {
                while let Some(l) = p.pop(now) {
                    if !l.starts_with(b"PING :otrbnc-") {
                        assert!(pushed.contains(&l), "a line nobody queued");
                    }
                    let alone = in_flight.is_empty();
                    in_flight.push_back((l, now));
                    let lines = in_flight.len();
                    let bytes: usize = in_flight.iter().map(|(l, _)| l.len()).sum();
                    assert!(alone || lines <= limit.lines, "{lines} lines in flight");
                    assert!(alone || bytes <= limit.bytes, "{bytes} bytes in flight");
                }
            }
            3 => {
                // The server parses some lines, answering PINGs in order.
                for _ in 0..(arg % 8) {
                    let Some((l, _)) = in_flight.pop_front() else {
                        break;
                    };
                    if let Some(tok) = l.strip_prefix(b"PING :") {
                        let tok = String::from_utf8_lossy(tok).trim_end().to_string();
                        let passed = p.on_pong(&tok).expect("our token");
                        for notice in passed {
                            assert!(fed.contains(&notice[..]), "a notice nobody sent");
                        }
                    }
                }
            }
            4 => {
                let raw = match arg % 5 {
                    0 => format!(
                        ":srv NOTICE me :*** Message to {target} throttled due to flooding\r\n"
                    ),
                    1 => format!(":srv 439 me {target} :Please wait {arg} seconds.\r\n"),
                    2 => format!(":srv 707 me {target} :Targets changing too fast\r\n"),
                    3 => ":srv 263 me WHO :try again\r\n".to_string(),
                    _ => format!(":srv PONG srv :otrbnc-{arg}\r\n"),
                };
                fed.insert(raw.as_bytes().to_vec());
                if let Some(tok) = feed(&mut p, raw.as_bytes(), now) {
                    settle_through(&mut in_flight, &tok);
                }
            }
            5 => {
                let end = (i + usize::from(arg)).min(data.len());
                fed.insert(data[i..end].to_vec());
                if let Some(tok) = feed(&mut p, &data[i..end], now) {
                    settle_through(&mut in_flight, &tok);
                }
                i = end;
            }
            6 => now += Duration::from_millis(u64::from(arg) * 250),
            _ => {
                // The oldest PING unanswered for the timeout is taken as answered.
                let timed_out = in_flight
                    .iter()
                    .find(|(l, _)| l.starts_with(b"PING :otrbnc-"))
                    .filter(|(_, at)| now >= *at + ACK_TIMEOUT)
                    .map(|(l, _)| token_of(l));
                if let Some(tok) = timed_out {
                    settle_through(&mut in_flight, &tok);
                }
                let _ = p.on_timer(now);
                let _ = p.next_ready(now);
                let _ = p.delay(now);
            }
        }
    }
    for l in p.drain_all() {
        assert!(pushed.contains(&l), "a line nobody queued");
    }
}

fn token_of(ping: &[u8]) -> String {
    String::from_utf8_lossy(ping.strip_prefix(b"PING :").unwrap_or(ping))
        .trim_end()
        .to_string()
}

/// The pacer took the PING with `token` as answered: it and every line before it are no
/// longer in flight.
fn settle_through(in_flight: &mut std::collections::VecDeque<(Bytes, Instant)>, token: &str) {
    if let Some(at) = in_flight
        .iter()
        .position(|(l, _)| l.starts_with(b"PING :") && token_of(l) == token)
    {
        in_flight.drain(..=at);
    }
}

/// Feeds a server line; Some(token) when it was a PONG the pacer took as acknowledging.
fn feed(p: &mut Pacer, raw: &[u8], now: Instant) -> Option<String> {
    let line = Line::parse(raw)?;
    if line.is("PONG") {
        let tok = line.param_str(line.params.len().saturating_sub(1))?;
        return p.on_pong(&tok).map(|_| tok.to_string());
    }
    match pacing::classify(&line, |n| n == "me") {
        Some(Throttle::Dropped { target, rest }) => {
            let lane = target.to_ascii_lowercase();
            if let Some(back) = p.on_dropped(&lane, rest, Bytes::copy_from_slice(raw), now) {
                assert_eq!(&back[..], raw, "a passed notice is the notice received");
            }
        }
        Some(Throttle::TryAgain) => p.slow_down(now),
        None => {}
    }
    None
}
