//! A seeded, randomised two-party conversation over the double ratchet, through the wire
//! encoding: send, deliver (in any order), drop, duplicate and tamper, with both sides talking.
//! After every accepted message the receiver sends the ML-KEM messages it owes, as the
//! account does; they are delivered, reordered and dropped like any other line.
//!
//! Asserts that every untampered message delivered for the first time decrypts exactly once to
//! what was sent, that every tampered or replayed message is rejected without any change
//! to the receiver's state, and that KEM exchanges keep completing (also when a fifth of the
//! lines are dropped). Set `OTRBNC_SEED=<n>` to replay one seed; the seed is printed on
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
    /// Index into `decrypted`; KEM messages have none (they carry no text).
    id: Option<u64>,
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
    kem_messages: u64,
}

fn check(seed: u64, cond: bool, what: &str) {
    assert!(cond, "seed {seed}: {what} (replay with OTRBNC_SEED={seed})");
}

fn kem_payload() -> Vec<u8> {
    otr_core::wire::tlv::Payload::default().padded(32).encode()
}

/// Delivers `m`; the receiver's owed KEM messages go into `reply` (towards the sender).
fn deliver(
    seed: u64,
    rng: &mut rand::rngs::StdRng,
    to: &mut Ratchet,
    m: &InFlight,
    decrypted: &mut [bool],
    reply: &mut Vec<InFlight>,
    t: &mut Tally,
) {
    let msg = DataMessage::decode(&m.bytes).unwrap();
    match to.decrypt(rng, &msg) {
        Ok(pt) => {
            check(seed, pt == m.text, "decrypted text differs");
            if let Some(id) = m.id {
                check(seed, !decrypted[id as usize], "message decrypted twice");
                decrypted[id as usize] = true;
            }
        }
        Err(e) => check(
            seed,
            false,
            &format!("untampered message {:?} rejected: {e}", m.id),
        ),
    }
    let payload = kem_payload();
    while let Some(k) = to.kem_message(&payload).unwrap() {
        reply.push(InFlight {
            id: None,
            bytes: k.encode(),
            text: payload.clone(),
        });
        t.kem_messages += 1;
    }
}

fn run(seed: u64, target: u64, drop_percent: u32) -> Tally {
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
        let (sender, receiver, inbox, outbox, delivered) = if a_turn {
            (&mut a, &mut b, &mut to_b, &mut to_a, &mut delivered_to_b)
        } else {
            (&mut b, &mut a, &mut to_a, &mut to_b, &mut delivered_to_a)
        };
        let roll: u32 = rng.random_range(0..100);
        if roll < 40 || inbox.is_empty() {
            let len = rng.random_range(0..300usize);
            let text: Vec<u8> = (0..len).map(|_| rng.random_range(1..=255u8)).collect();
            let msg = sender.encrypt(0, &text).unwrap();
            inbox.push(InFlight {
                id: Some(t.sent),
                bytes: msg.encode(),
                text,
            });
            t.sent += 1;
        } else if roll < 80 - drop_percent || inbox.len() > 100 {
            // Deliver a random one (reordering).
            let i = rng.random_range(0..inbox.len());
            let m = inbox.swap_remove(i);
            deliver(seed, &mut rng, receiver, &m, &mut decrypted, outbox, &mut t);
            t.delivered += 1;
            delivered.push(m);
            if delivered.len() > 50 {
                delivered.remove(0);
            }
        } else if roll < 83 {
            // Dropped: 3 of the 43 delivery-or-drop rolls, plus `drop_percent` taken from
            // the deliveries (6: a fifth of the lines).
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
    // Deliver everything still in flight (and what that makes the sides send): all of it
    // must decrypt.
    while !to_a.is_empty() || !to_b.is_empty() {
        for m in std::mem::take(&mut to_b) {
            deliver(
                seed,
                &mut rng,
                &mut b,
                &m,
                &mut decrypted,
                &mut to_a,
                &mut t,
            );
            t.delivered += 1;
        }
        for m in std::mem::take(&mut to_a) {
            deliver(
                seed,
                &mut rng,
                &mut a,
                &m,
                &mut decrypted,
                &mut to_b,
                &mut t,
            );
            t.delivered += 1;
        }
    }
    let (sa, sb) = (a.stats(), b.stats());
    let chains = sa.dh_steps + sb.dh_steps;
    // Each completed exchange is counted by both sides.
    let exchanges = (sa.kem_steps + sb.kem_steps) / 2;
    check(
        seed,
        chains > target / 20,
        &format!("too few DH ratchet steps: {chains}"),
    );
    check(
        seed,
        exchanges > chains / 16,
        &format!("too few KEM exchanges: {exchanges} for {chains} chains"),
    );
    println!(
        "seed {seed}, drop_percent {drop_percent}: sent {} delivered {} dropped {} replays {} \
         tampered {}; chains {chains}, completed KEM exchanges {exchanges} (one per {:.1} \
         chains), KEM messages {}",
        t.sent,
        t.delivered,
        t.dropped,
        t.replays,
        t.tampered,
        chains as f64 / exchanges.max(1) as f64,
        t.kem_messages,
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
        total += run(seed, 6_000, 0).sent;
    }
    assert!(total >= 10_000 || std::env::var("OTRBNC_SEED").is_ok());
}

/// Servers drop lines: with a fifth of all lines (typed and KEM) lost, later messages still
/// decrypt and KEM exchanges still complete, through re-sent offers and answers.
#[test]
fn randomised_conversation_with_dropped_lines() {
    let seeds: Vec<u64> = match std::env::var("OTRBNC_SEED") {
        Ok(s) => vec![s.parse().expect("OTRBNC_SEED must be a number")],
        Err(_) => vec![0x0d20_9bed, 7],
    };
    for seed in seeds {
        let t = run(seed, 3_000, 6);
        assert!(
            t.dropped * 6 > t.sent,
            "seed {seed}: only {} dropped",
            t.dropped
        );
    }
}
