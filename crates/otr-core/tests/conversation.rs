//! A seeded, randomised two-party conversation over the double ratchet, through the wire
//! encoding: send, deliver (in any order), drop, duplicate and tamper, with both sides talking.
//!
//! Asserts that every untampered message delivered for the first time decrypts exactly once to
//! what was sent, and that every tampered or replayed message is rejected without any change
//! to the receiver's state. Set `OTRBNC_SEED=<n>` to replay one seed; the seed is printed on
//! failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::ratchet::Ratchet;
use otr_core::testing::{ratchet_pair, test_rng};
use otr_core::wire::data::DataMessage;
use rand::RngExt;

struct InFlight {
    id: u64,
    bytes: Vec<u8>,
    text: Vec<u8>,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    delivered: u64,
    dropped: u64,
    replays: u64,
    tampered: u64,
}

fn check(seed: u64, cond: bool, what: &str) {
    assert!(cond, "seed {seed}: {what} (replay with OTRBNC_SEED={seed})");
}

fn deliver(
    seed: u64,
    rng: &mut rand::rngs::StdRng,
    to: &mut Ratchet,
    m: &InFlight,
    decrypted: &mut [bool],
) {
    let msg = DataMessage::decode(&m.bytes).unwrap();
    match to.decrypt(rng, &msg) {
        Ok(pt) => {
            check(seed, pt == m.text, "decrypted text differs");
            check(seed, !decrypted[m.id as usize], "message decrypted twice");
            decrypted[m.id as usize] = true;
        }
        Err(e) => check(
            seed,
            false,
            &format!("untampered message {} rejected: {e}", m.id),
        ),
    }
}

fn run(seed: u64, target: u64) -> Tally {
    let (mut a, mut b) = ratchet_pair(seed, 1);
    let mut rng = test_rng(seed ^ 0x5eed);
    let mut to_b: Vec<InFlight> = Vec::new();
    let mut to_a: Vec<InFlight> = Vec::new();
    let mut delivered_to_b: Vec<InFlight> = Vec::new();
    let mut delivered_to_a: Vec<InFlight> = Vec::new();
    let mut decrypted = vec![false; target as usize + 10];
    let mut t = Tally::default();

    while t.sent < target {
        let a_turn = rng.random_bool(0.5);
        let (sender, receiver, inbox, delivered) = if a_turn {
            (&mut a, &mut b, &mut to_b, &mut delivered_to_b)
        } else {
            (&mut b, &mut a, &mut to_a, &mut delivered_to_a)
        };
        let roll: u32 = rng.random_range(0..100);
        if roll < 40 || inbox.is_empty() {
            let len = rng.random_range(0..300usize);
            let text: Vec<u8> = (0..len).map(|_| rng.random_range(1..=255u8)).collect();
            let msg = sender.encrypt(0, &text).unwrap();
            inbox.push(InFlight {
                id: t.sent,
                bytes: msg.encode(),
                text,
            });
            t.sent += 1;
        } else if roll < 80 || inbox.len() > 100 {
            // Deliver a random one (reordering).
            let i = rng.random_range(0..inbox.len());
            let m = inbox.swap_remove(i);
            deliver(seed, &mut rng, receiver, &m, &mut decrypted);
            t.delivered += 1;
            delivered.push(m);
            if delivered.len() > 50 {
                delivered.remove(0);
            }
        } else if roll < 83 {
            inbox.swap_remove(rng.random_range(0..inbox.len()));
            t.dropped += 1;
        } else if roll < 90 {
            if delivered.is_empty() {
                continue;
            }
            let m = &delivered[rng.random_range(0..delivered.len())];
            let before = receiver.state_digest();
            let msg = DataMessage::decode(&m.bytes).unwrap();
            check(
                seed,
                receiver.decrypt(&mut rng, &msg).is_err(),
                "replay accepted",
            );
            check(
                seed,
                receiver.state_digest() == before,
                "replay changed state",
            );
            t.replays += 1;
        } else {
            let m = &inbox[rng.random_range(0..inbox.len())];
            let mut bytes = m.bytes.clone();
            let pos = rng.random_range(0..bytes.len());
            bytes[pos] ^= 1 << rng.random_range(0..8);
            let before = receiver.state_digest();
            if let Ok(msg) = DataMessage::decode(&bytes) {
                check(
                    seed,
                    receiver.decrypt(&mut rng, &msg).is_err(),
                    "tampered message accepted",
                );
            }
            check(
                seed,
                receiver.state_digest() == before,
                "tampered message changed state",
            );
            t.tampered += 1;
        }
    }
    // Deliver everything still in flight: all of it must decrypt.
    for m in to_b.drain(..) {
        deliver(seed, &mut rng, &mut b, &m, &mut decrypted);
        t.delivered += 1;
    }
    for m in to_a.drain(..) {
        deliver(seed, &mut rng, &mut a, &m, &mut decrypted);
        t.delivered += 1;
    }
    let (sa, sb) = (a.stats(), b.stats());
    check(
        seed,
        sa.dh_steps + sb.dh_steps > target / 10,
        "too few DH ratchet steps",
    );
    check(
        seed,
        sa.kem_steps + sb.kem_steps > target / 100,
        "too few KEM ratchet steps",
    );
    println!(
        "seed {seed}: sent {} delivered {} dropped {} replays {} tampered {}; DH steps {}, KEM steps {}",
        t.sent,
        t.delivered,
        t.dropped,
        t.replays,
        t.tampered,
        sa.dh_steps + sb.dh_steps,
        sa.kem_steps + sb.kem_steps
    );
    t
}

#[test]
fn randomised_conversation() {
    let seeds: Vec<u64> = match std::env::var("OTRBNC_SEED") {
        Ok(s) => vec![s.parse().expect("OTRBNC_SEED must be a number")],
        Err(_) => vec![0x0bc0_ffee, 42],
    };
    let mut total = 0;
    for seed in seeds {
        total += run(seed, 6_000).sent;
    }
    assert!(total >= 10_000 || std::env::var("OTRBNC_SEED").is_ok());
}
