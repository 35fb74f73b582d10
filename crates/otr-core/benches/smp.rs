//! SMP figures: CPU time of each side's steps, and the size of each SMP message as a TLV, as
//! an encrypted data message and as IRC lines (fragmented at the default 400-byte budget).
//!
//! Run: `cargo bench -p otr-core --bench smp` (20 runs); `cargo test --benches` runs one.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use otr_core::profile::LongTermKeys;
use otr_core::session::{Account, Policy};
use otr_core::smp::{Session, Smp, SmpOutput};
use otr_core::testing::test_rng;

fn cpu_runs(runs: usize) -> (Vec<Duration>, Vec<Duration>) {
    let mut rng = test_rng(1);
    let fa = otr_core::profile::Fingerprint([1; otr_core::profile::FINGERPRINT_LEN]);
    let fb = otr_core::profile::Fingerprint([2; otr_core::profile::FINGERPRINT_LEN]);
    let ssid = [0u8; 8];
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
    let (mut alice, mut bob) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let (mut a, mut b) = (Smp::new(), Smp::new());
        let t = Instant::now();
        let m1 = a
            .start(&mut rng, &sa, Some("q"), "secret", 0)
            .unwrap()
            .pop()
            .unwrap();
        let mut ta = t.elapsed();
        let t = Instant::now();
        b.handle(&mut rng, &sb, &m1, 0);
        let m2 = b.respond(&mut rng, &sb, "secret").unwrap();
        let mut tb = t.elapsed();
        let t = Instant::now();
        let SmpOutput::Send(m3) = a.handle(&mut rng, &sa, &m2, 0) else {
            panic!("no SMP3")
        };
        ta += t.elapsed();
        let t = Instant::now();
        let SmpOutput::Done {
            send: Some(m4),
            result,
        } = b.handle(&mut rng, &sb, &m3, 0)
        else {
            panic!("no SMP4")
        };
        tb += t.elapsed();
        assert!(result.success);
        let t = Instant::now();
        let SmpOutput::Done { result, .. } = a.handle(&mut rng, &sa, &m4, 0) else {
            panic!("no result")
        };
        ta += t.elapsed();
        assert!(result.success);
        alice.push(ta);
        bob.push(tb);
    }
    (alice, bob)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Lines and bytes each SMP message takes on the wire between two accounts.
fn wire() -> Vec<(&'static str, usize, usize)> {
    let mut rng = test_rng(2);
    let now = 1_800_000_000_000;
    let mut a = Account::new(
        LongTermKeys::generate(&mut rng).unwrap(),
        0x1111,
        Policy::default(),
        now,
    )
    .unwrap();
    let mut b = Account::new(
        LongTermKeys::generate(&mut rng).unwrap(),
        0x2222,
        Policy::default(),
        now,
    )
    .unwrap();
    a.set_auto_respond("b", true);
    b.set_auto_respond("a", true);
    a.send(now, &mut rng, "b", "hi").unwrap();
    // Delivers everything pending; returns (lines, bytes) sent by the side that had output.
    fn pump(
        a: &mut Account,
        b: &mut Account,
        rng: &mut rand::rngs::StdRng,
        now: u64,
    ) -> (usize, usize) {
        let (mut lines, mut bytes) = (0, 0);
        loop {
            let mut moved = false;
            while let Some(t) = a.poll_transmit() {
                lines += 1;
                bytes += t.line.len();
                b.handle_incoming(now, rng, "a", &t.line);
                moved = true;
            }
            while let Some(t) = b.poll_transmit() {
                lines += 1;
                bytes += t.line.len();
                a.handle_incoming(now, rng, "b", &t.line);
                moved = true;
            }
            if !moved {
                return (lines, bytes);
            }
        }
    }
    pump(&mut a, &mut b, &mut rng, now);
    let mut rows = Vec::new();
    a.smp_start(now, &mut rng, "b", Some("q"), "secret")
        .unwrap();
    // One message at a time: SMP1 from a; b's SMP2 needs b's answer.
    let one = |from_a: bool, a: &mut Account, b: &mut Account, rng: &mut rand::rngs::StdRng| {
        let (src, dst, peer) = if from_a { (a, b, "a") } else { (b, a, "b") };
        let (mut lines, mut bytes) = (0, 0);
        let mut out = Vec::new();
        while let Some(t) = src.poll_transmit() {
            lines += 1;
            bytes += t.line.len();
            out.push(t.line);
        }
        for l in out {
            dst.handle_incoming(now, rng, peer, &l);
        }
        (lines, bytes)
    };
    let (l, by) = one(true, &mut a, &mut b, &mut rng);
    rows.push(("SMP1Q (alice)", l, by));
    b.smp_respond(now, &mut rng, "a", "secret").unwrap();
    let (l, by) = one(false, &mut a, &mut b, &mut rng);
    rows.push(("SMP2 (bob)", l, by));
    let (l, by) = one(true, &mut a, &mut b, &mut rng);
    rows.push(("SMP3 (alice)", l, by));
    let (l, by) = one(false, &mut a, &mut b, &mut rng);
    rows.push(("SMP4 (bob)", l, by));
    rows
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let runs = if bench { 20 } else { 1 };
    let (mut alice, mut bob) = cpu_runs(runs);
    println!("SMP over the 3072-bit group, {runs} run(s), this machine, one core:");
    println!(
        "  CPU per side (median): initiator {:.1} ms (SMP1 + SMP3 + result), responder {:.1} ms (check SMP1 + SMP2 + SMP4)",
        median(&mut alice).as_secs_f64() * 1e3,
        median(&mut bob).as_secs_f64() * 1e3
    );
    println!("  wire (TLV inside an encrypted data message, base64, fragmented at 400 bytes):");
    let rows = wire();
    let (mut tl, mut tb) = (0, 0);
    for (name, lines, bytes) in &rows {
        println!("    {name:<14} {lines:>3} IRC lines {bytes:>6} bytes");
        tl += lines;
        tb += bytes;
    }
    println!("    {:<14} {tl:>3} IRC lines {tb:>6} bytes", "total");
    assert!(
        rows.iter().all(|(_, l, _)| *l > 0),
        "an SMP message was not sent"
    );
}
