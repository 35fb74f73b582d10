//! CPU cost and wire size of OTRv3 as otrbnc speaks it to libotr peers: one D-H key pair (a
//! 1536-bit exponentiation, the unit of most costs here), each side of the AKE (target: at
//! most 10 ms each), a whole AKE between two `Contact`s (encoding, base64 and
//! fragments included), a 100-byte data message sealed and opened (one way, and alternating,
//! which adds a D-H key rotation per message), and a whole SMP run, both sides.
//!
//! The wire sizes (bytes and IRC lines at a 400-byte line budget, in libotr's fragment
//! format) are printed once, before the timings.
//!
//! Run: `cargo bench -p otr3 --bench v3` (release, well under a minute); `cargo test
//! --benches` (and scripts/test.sh) runs every benchmark once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use otr3::ake::{Ake, AkeOutput};
use otr3::contact::{Contact, Versions};
use otr3::conversation::{Event, Local, MsgState};
use otr3::dh::DhKeyPair;
use otr3::dsa::PrivateKey;
use otr3::message::{Message, VERSION_3};
use otr3::smp::{Session, Smp, SmpOutput};
use otr3::testing::{alice_key, bob_key};
use rand::SeedableRng;
use rand::rngs::StdRng;

const VERSIONS: Versions = Versions {
    v2: false,
    v3: true,
};
/// The line budget the wire figures use (otr-core's default for OTR lines).
const BUDGET: usize = 400;
const NOW: u64 = 1_700_000_000_000;
const TEXT_100: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopqrstuvwxyz!?";

struct Party {
    key: PrivateKey,
    fp: [u8; 20],
    tag: u32,
}

impl Party {
    fn new(key: PrivateKey, tag: u32) -> Party {
        let fp = key.public().fingerprint();
        Party { key, fp, tag }
    }

    fn local(&self) -> Local<'_> {
        Local {
            key: &self.key,
            fingerprint: &self.fp,
            tag: self.tag,
            pad_block: 0,
        }
    }
}

fn parties() -> (Party, Party) {
    (Party::new(alice_key(), 0x100), Party::new(bob_key(), 0x200))
}

fn send(out: AkeOutput) -> Message {
    match out {
        AkeOutput::Send(m) => m,
        _ => panic!("expected a message to send"),
    }
}

/// One AKE at the `Ake` level, bob committing; returns the time spent in bob's calls and in
/// alice's.
fn timed_ake(rng: &mut StdRng, alice: &PrivateKey, bob: &PrivateKey) -> (Duration, Duration) {
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let t = Instant::now();
    let commit = b.start(rng);
    let mut tb = t.elapsed();
    let t = Instant::now();
    let dh_key = send(a.handle(rng, &commit, alice));
    let mut ta = t.elapsed();
    let t = Instant::now();
    let reveal = send(b.handle(rng, &dh_key, bob));
    tb += t.elapsed();
    let t = Instant::now();
    let AkeOutput::Done {
        send: Some(sig), ..
    } = a.handle(rng, &reveal, alice)
    else {
        panic!("alice completes on the reveal")
    };
    ta += t.elapsed();
    let t = Instant::now();
    let AkeOutput::Done { send: None, .. } = b.handle(rng, &sig, bob) else {
        panic!("bob completes on the signature")
    };
    tb += t.elapsed();
    (tb, ta)
}

/// Lines bob and alice exchanged in one step.
#[derive(Default)]
struct Step {
    lines: usize,
    bytes: usize,
}

/// Two contacts, and a relay that delivers every line at once.
struct Pair {
    a: Party,
    b: Party,
    ca: Contact,
    cb: Contact,
    rng: StdRng,
}

impl Pair {
    fn new(seed: u64) -> Pair {
        let (a, b) = parties();
        Pair {
            a,
            b,
            ca: Contact::new(),
            cb: Contact::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Delivers side `from`'s pending lines to the other side; returns what went over.
    fn step(&mut self, from_bob: bool) -> Step {
        let (src, dst, sp, dp) = if from_bob {
            (&mut self.cb, &mut self.ca, &self.b, &self.a)
        } else {
            (&mut self.ca, &mut self.cb, &self.a, &self.b)
        };
        let mut s = Step::default();
        for line in src.poll_lines(sp.tag, BUDGET) {
            s.lines += 1;
            s.bytes += line.len();
            dst.receive(&mut self.rng, &dp.local(), VERSIONS, &line, NOW);
        }
        s
    }

    /// Relays until both sides are quiet.
    fn pump(&mut self) {
        loop {
            let moved = self.step(true).lines + self.step(false).lines;
            if moved == 0 {
                return;
            }
        }
    }

    fn ake(&mut self) {
        self.cb.start(&mut self.rng, VERSION_3, NOW);
        self.pump();
        assert_eq!(self.ca.state(), MsgState::Encrypted);
        assert_eq!(self.cb.state(), MsgState::Encrypted);
        self.ca.poll_events();
        self.cb.poll_events();
    }

    /// Seals `text` on one side and opens it on the other.
    fn message(&mut self, from_bob: bool, text: &str) {
        let (c, p) = if from_bob {
            (&mut self.cb, &self.b)
        } else {
            (&mut self.ca, &self.a)
        };
        c.send(&p.local(), text, NOW).unwrap();
        self.step(from_bob);
        let got = if from_bob { &mut self.ca } else { &mut self.cb };
        let events = got.poll_events();
        assert!(
            matches!(events.as_slice(), [(_, Event::Message(m))] if m == text),
            "not delivered"
        );
    }
}

/// Bytes and lines of each AKE message and of a 100-byte data message, at a 400-byte budget.
fn wire_sizes() {
    let mut p = Pair::new(1);
    p.cb.start(&mut p.rng, VERSION_3, NOW);
    let mut rows = Vec::new();
    for (name, from_bob) in [
        ("D-H Commit (bob)", true),
        ("D-H Key (alice)", false),
        ("Reveal Signature (bob)", true),
        ("Signature (alice)", false),
    ] {
        rows.push((name, p.step(from_bob)));
    }
    assert_eq!(p.ca.state(), MsgState::Encrypted);
    assert_eq!(p.cb.state(), MsgState::Encrypted);
    let total = Step {
        lines: rows.iter().map(|(_, s)| s.lines).sum(),
        bytes: rows.iter().map(|(_, s)| s.bytes).sum(),
    };
    rows.push(("AKE total", total));
    p.cb.send(&p.b.local(), TEXT_100, NOW).unwrap();
    rows.push(("data, 100-byte text", p.step(true)));
    println!("OTRv3 wire sizes (?OTR: text, fragmented as libotr does at {BUDGET} bytes a line):");
    for (name, s) in &rows {
        println!(
            "  {name:<24} {:>2} IRC line(s) {:>5} bytes",
            s.lines, s.bytes
        );
    }
    assert!(
        rows.iter().all(|(_, s)| s.lines > 0),
        "a message was not sent"
    );
}

fn bench_ake(c: &mut Criterion) {
    let (alice, bob) = (alice_key(), bob_key());
    let mut rng = StdRng::seed_from_u64(2);
    let mut g = c.benchmark_group("v3_ake");
    // The unit of most costs here: one 1536-bit exponentiation (g^x, x of 320 bits).
    g.bench_function("dh_key_pair", |bench| {
        bench.iter(|| DhKeyPair::generate(&mut rng))
    });
    g.bench_function("bob_commit_side", |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| timed_ake(&mut rng, &alice, &bob).0)
                .sum()
        })
    });
    g.bench_function("alice_dh_key_side", |bench| {
        bench.iter_custom(|iters| {
            (0..iters)
                .map(|_| timed_ake(&mut rng, &alice, &bob).1)
                .sum()
        })
    });
    let mut seed = 0;
    g.bench_function("two_contacts_full", |bench| {
        bench.iter_batched(
            || {
                seed += 1;
                Pair::new(seed)
            },
            |mut p| {
                p.ake();
                p
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_data(c: &mut Criterion) {
    let mut g = c.benchmark_group("v3_data_100B");
    let mut p = Pair::new(3);
    p.ake();
    g.bench_function("seal_open_one_way", |bench| {
        bench.iter(|| p.message(true, TEXT_100))
    });
    let mut p = Pair::new(4);
    p.ake();
    let mut from_bob = false;
    g.bench_function("seal_open_alternating", |bench| {
        bench.iter(|| {
            from_bob = !from_bob;
            p.message(from_bob, TEXT_100)
        })
    });
    g.finish();
}

fn bench_smp(c: &mut Criterion) {
    let (fa, fb, ssid) = ([1u8; 20], [2u8; 20], [3u8; 8]);
    let sa = Session {
        ours: &fa,
        theirs: &fb,
        ssid: &ssid,
    };
    let sb = Session {
        ours: &fb,
        theirs: &fa,
        ssid: &ssid,
    };
    let mut rng = StdRng::seed_from_u64(5);
    let mut g = c.benchmark_group("v3_smp");
    g.bench_function("run_both_sides", |bench| {
        bench.iter(|| {
            let (mut a, mut b) = (Smp::new(), Smp::new());
            let m1 = a
                .start(&mut rng, &sa, Some("q"), b"secret", 0)
                .unwrap()
                .pop()
                .unwrap();
            assert!(matches!(
                b.handle(&mut rng, &sb, &m1, 0),
                SmpOutput::Request { .. }
            ));
            let m2 = b.respond(&mut rng, &sb, b"secret").unwrap();
            let SmpOutput::Send(m3) = a.handle(&mut rng, &sa, &m2, 0) else {
                panic!("no SMP3")
            };
            let SmpOutput::Done {
                send: Some(m4),
                result,
            } = b.handle(&mut rng, &sb, &m3, 0)
            else {
                panic!("no SMP4")
            };
            assert!(result.success);
            let SmpOutput::Done { result, .. } = a.handle(&mut rng, &sa, &m4, 0) else {
                panic!("no result")
            };
            assert!(result.success);
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Small samples: the slowest benchmark (a whole SMP run) takes tens of milliseconds, and
    // the whole bench should stay under a minute.
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench_ake, bench_data, bench_smp
}

fn main() {
    wire_sizes();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
