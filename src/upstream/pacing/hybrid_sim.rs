//! The pacer against a simulation of ircd-hybrid's flood control (8.2, `src/packet.c`): a
//! client's lines are parsed as they arrive while `sent_parsed` < 5; `flood_recalc` takes 2
//! off `sent_parsed` every 2 s and parses what waits; the client is killed ("Excess Flood")
//! when more than 2,560 bytes wait unparsed after a read. PINGs are lines like any other and
//! answered when parsed. Random traffic (handshake-sized batches to two peers, typed lines,
//! lines written outside the queue), every recalculation phase: nobody is killed, and the
//! lines the model credits as parsed on arrival let a 7-line message go at once.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::server::{Family, Profile};
use super::*;

const MAX_FLOOD: u32 = 5;
const RECVQ: usize = 2_560;
const RECALC: Duration = Duration::from_secs(2);

struct Hybrid {
    queue: VecDeque<Bytes>,
    sent_parsed: u32,
    next_recalc: Instant,
    /// Most bytes held unparsed after a read.
    peak: usize,
    pongs: Vec<String>,
}

impl Hybrid {
    fn new(first_recalc: Instant) -> Hybrid {
        Hybrid {
            queue: VecDeque::new(),
            sent_parsed: 0,
            next_recalc: first_recalc,
            peak: 0,
            pongs: Vec::new(),
        }
    }

    fn parse(&mut self) {
        while self.sent_parsed < MAX_FLOOD {
            let Some(line) = self.queue.pop_front() else {
                return;
            };
            self.sent_parsed += 1;
            if let Some(token) = line.strip_prefix(b"PING :") {
                self.pongs
                    .push(String::from_utf8_lossy(token).trim_end().to_string());
            }
        }
    }

    /// Runs the recalculations due by `now`.
    fn advance(&mut self, now: Instant) {
        while self.next_recalc <= now {
            self.sent_parsed = self.sent_parsed.saturating_sub(2);
            self.parse();
            self.next_recalc += RECALC;
        }
    }

    fn arrive(&mut self, line: Bytes, now: Instant) {
        self.advance(now);
        self.queue.push_back(line);
        self.parse();
        let held: usize = self.queue.iter().map(Bytes::len).sum();
        self.peak = self.peak.max(held);
    }
}

/// A handshake-sized fragment line (as otrbnc sends them: 456 bytes).
fn fragment(target: &str, n: u32) -> Bytes {
    let head = format!("PRIVMSG {target} :?OTR|1|2|3,{n:05},00009,");
    let pad = 456 - head.len() - 3;
    Bytes::from(format!("{head}{},\r\n", "A".repeat(pad)))
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs `steps` random events; returns the server's peak of unparsed bytes.
fn run(seed: u64, phase_ms: u64, steps: usize) -> usize {
    let t0 = Instant::now();
    let mut p = Pacer::new(Overrides::default(), t0);
    p.set_server(Profile::of(Family::Hybrid), t0);
    let mut server = Hybrid::new(t0 + Duration::from_millis(phase_ms));
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut now = t0;
    let mut n = 0;
    for _ in 0..steps {
        // What the client does next, after a pause of 0 to 6 s.
        now += Duration::from_millis(rng.below(6_000));
        n += 1;
        match rng.below(4) {
            0 | 1 => {
                let target = if rng.below(2) == 0 { "bob" } else { "carol" };
                let lines = (0..1 + rng.below(14) as u32)
                    .map(|i| fragment(target, n * 100 + i))
                    .collect();
                p.push(Lane::Of(target.to_string()), Class::Normal, lines)
                    .unwrap();
            }
            2 => p
                .push(
                    Lane::Of("bob".to_string()),
                    Class::Normal,
                    vec![Bytes::from(format!("PRIVMSG bob :typed {n}\r\n"))],
                )
                .unwrap(),
            _ => {
                // A PONG to the server's PING, written outside the queue.
                p.note_unpaced(now);
                server.arrive(Bytes::from_static(b"PONG :irc.test\r\n"), now);
            }
        }
        // Everything flows until the next event: lines as the pacer lets them go, the
        // server's recalculations and PONGs.
        let until = now + Duration::from_millis(rng.below(3_000));
        loop {
            while let Some(line) = p.pop(now) {
                server.arrive(line, now);
            }
            for token in std::mem::take(&mut server.pongs) {
                p.on_pong(&token);
            }
            while let Some(line) = p.pop(now) {
                server.arrive(line, now);
            }
            let next = [p.next_ready(now), Some(server.next_recalc)]
                .into_iter()
                .flatten()
                .filter(|t| *t > now)
                .min();
            match next {
                Some(t) if t <= until => {
                    now = t;
                    server.advance(now);
                    for token in std::mem::take(&mut server.pongs) {
                        p.on_pong(&token);
                    }
                }
                _ => break,
            }
        }
        now = until;
    }
    server.peak
}

#[test]
fn the_pacer_never_gets_a_client_killed_by_hybrid() {
    let mut worst = 0;
    for seed in 1..=24 {
        for phase_ms in [0, 300, 999, 1_500, 1_999] {
            let peak = run(seed, phase_ms, 150);
            assert!(
                peak <= RECVQ,
                "seed {seed}, phase {phase_ms} ms: {peak} bytes unparsed"
            );
            worst = worst.max(peak);
        }
    }
    // The credit is used: more than the window's 2,450 bytes were in flight at times,
    // of which the server held at most what the window allows.
    assert!(worst > 0);
}

#[test]
fn a_seven_line_message_goes_at_once_to_a_rested_hybrid_and_not_to_a_busy_one() {
    let t0 = Instant::now();
    let sent_at_once = |busy: usize| {
        let mut p = Pacer::new(Overrides::default(), t0);
        p.set_server(Profile::of(Family::Hybrid), t0);
        for _ in 0..busy {
            p.note_unpaced(t0);
        }
        let message = (0..7).map(|i| fragment("bob", i)).collect();
        p.push(Lane::Of("bob".to_string()), Class::Normal, message)
            .unwrap();
        std::iter::from_fn(|| p.pop(t0))
            .filter(|l| !l.starts_with(b"PING"))
            .count()
    };
    // Rested: 3 lines credited as parsed on arrival, 4 within the 2,450-byte window.
    assert_eq!(sent_at_once(0), 7);
    // Its budget just spent by other lines: the window's 5 lines, then a PONG to wait for.
    assert_eq!(sent_at_once(4), 5);
}

#[test]
fn lines_parsed_on_arrival_need_no_ping_until_many_wait_for_one() {
    let t0 = Instant::now();
    let mut p = Pacer::new(Overrides::default(), t0);
    p.set_server(Profile::of(Family::Hybrid), t0);
    // Three lines a rested server parses on arrival: no PING, however long it stays idle.
    p.push(
        Lane::Of("bob".to_string()),
        Class::Normal,
        (0..3).map(|i| fragment("bob", i)).collect(),
    )
    .unwrap();
    let mut out: Vec<Bytes> = std::iter::from_fn(|| p.pop(t0)).collect();
    out.extend(std::iter::from_fn(|| p.pop(t0 + Duration::from_secs(30))));
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(out.iter().all(|l| !l.starts_with(b"PING")));
    // One short line every 10 s (each parsed on arrival): a PING once 64 wait for one.
    let mut pings = 0;
    for i in 0..70u32 {
        let t = t0 + Duration::from_secs(40 + 10 * u64::from(i));
        p.push(
            Lane::Of("bob".to_string()),
            Class::Normal,
            vec![Bytes::from(format!("PRIVMSG bob :hi {i}\r\n"))],
        )
        .unwrap();
        for l in std::iter::from_fn(|| p.pop(t)).collect::<Vec<_>>() {
            if let Some(token) = l.strip_prefix(b"PING :") {
                pings += 1;
                p.on_pong(String::from_utf8_lossy(token).trim_end());
            }
        }
    }
    assert_eq!(pings, 1);
}

#[test]
fn on_hybrid_a_batch_gets_its_ping_when_the_window_is_full_or_after_a_quiet_spell() {
    let t0 = Instant::now();
    let mut p = Pacer::new(Overrides::default(), t0);
    p.set_server(Profile::of(Family::Hybrid), t0);
    // The server's budget spent elsewhere: nothing is credited.
    for _ in 0..4 {
        p.note_unpaced(t0);
    }
    let lane = || Lane::Of("bob".to_string());
    p.push(
        lane(),
        Class::Normal,
        (0..2).map(|i| fragment("bob", i)).collect(),
    )
    .unwrap();
    let mut out: Vec<Bytes> = std::iter::from_fn(|| p.pop(t0)).collect();
    out.extend(std::iter::from_fn(|| {
        p.pop(t0 + QUIET_PING - Duration::from_millis(10))
    }));
    assert_eq!(out.len(), 2, "room for more lines: no PING yet");
    // After a quiet spell the PING goes, so that the next exchange finds the window empty.
    let quiet: Vec<Bytes> = std::iter::from_fn(|| p.pop(t0 + QUIET_PING)).collect();
    assert!(
        quiet.len() == 1 && quiet[0].starts_with(b"PING :"),
        "{quiet:?}"
    );
    for l in &quiet {
        p.on_pong(String::from_utf8_lossy(&l[6..]).trim_end());
    }
    // Five more, again on a spent budget, fill the window: now the PING goes at once.
    let t1 = t0 + Duration::from_secs(31);
    for _ in 0..4 {
        p.note_unpaced(t1);
    }
    p.push(
        lane(),
        Class::Normal,
        (2..7).map(|i| fragment("bob", i)).collect(),
    )
    .unwrap();
    let out: Vec<Bytes> = std::iter::from_fn(|| p.pop(t1)).collect();
    assert_eq!(out.len(), 5, "{out:?}");
    // The PING waits for the server's parsing (the parse model), not for a quiet spell.
    let t2 = t1 + QUIET_PING - Duration::from_millis(10);
    assert!(p.next_ready(t1).is_some_and(|t| t < t2));
    let ping: Vec<Bytes> = std::iter::from_fn(|| p.pop(t2)).collect();
    assert!(
        ping.len() == 1 && ping[0].starts_with(b"PING :"),
        "{ping:?}"
    );
}
