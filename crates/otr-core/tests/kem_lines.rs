//! Account level: a typed message is one line whatever the ML-KEM state, the KEM material
//! goes out in bulk lines of its own, and exchanges complete when those lines arrive after
//! later typed lines (as a pacer sends them) or are lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::session::{Received, Transmit};
use otr_core::wire::data::{DataMessage, FLAG_MIX};
use otr_core::wire::envelope;

mod support;
use support::*;

/// The typed line's data message (typed lines are one unfragmented `?OTR:` message).
fn data_message(line: &str) -> DataMessage {
    assert!(
        envelope::is_encoded(line),
        "a typed line is fragmented: {line}"
    );
    DataMessage::decode(&envelope::decode(line).unwrap()).unwrap()
}

struct Talk {
    net: Net,
    /// Bulk lines waiting: (from alice?, line).
    bulk: Vec<(bool, Transmit)>,
    bulk_lines: usize,
    mixed_typed: usize,
    received: usize,
}

impl Talk {
    fn new(seed: u64) -> Talk {
        let mut net = Net::new(seed);
        net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
        net.pump();
        assert_eq!(net.received_by_bob, vec!["hi"]);
        Talk {
            net,
            bulk: Vec::new(),
            bulk_lines: 0,
            mixed_typed: 0,
            received: 0,
        }
    }

    fn deliver(&mut self, from_alice: bool, t: &Transmit) {
        let net = &mut self.net;
        let (to, peer) = if from_alice {
            (&mut net.bob, "alice")
        } else {
            (&mut net.alice, "bob")
        };
        if let Received::Message { .. } = to.handle_incoming(net.now, &mut net.rng, peer, &t.line) {
            self.received += 1;
        }
    }

    /// Collects what both sides want to send: typed (non-bulk) lines are delivered at once,
    /// bulk lines wait in `bulk` (unless `keep_bulk` drops them). Repeats until quiet.
    fn flush(&mut self, keep_bulk: &mut impl FnMut() -> bool) {
        loop {
            let mut out = Vec::new();
            while let Some(t) = self.net.alice.poll_transmit() {
                out.push((true, t));
            }
            while let Some(t) = self.net.bob.poll_transmit() {
                out.push((false, t));
            }
            if out.is_empty() {
                return;
            }
            for (from_alice, t) in out {
                assert!(t.line.len() <= 400);
                if t.bulk {
                    self.bulk_lines += 1;
                    if keep_bulk() {
                        self.bulk.push((from_alice, t));
                    }
                } else {
                    self.deliver(from_alice, &t);
                }
            }
        }
    }

    /// One side types a 5-byte message: exactly one line, not bulk. Then the lines held
    /// from before are delivered (after the typed one, as a pacer orders them).
    fn turn(&mut self, from_alice: bool, keep_bulk: &mut impl FnMut() -> bool) {
        let held = std::mem::take(&mut self.bulk);
        let net = &mut self.net;
        let (me, peer) = if from_alice {
            (&mut net.alice, "bob")
        } else {
            (&mut net.bob, "alice")
        };
        me.send(net.now, &mut net.rng, peer, "hello").unwrap();
        let typed = me.poll_transmit().unwrap();
        assert!(
            me.poll_transmit().is_none(),
            "a 5-byte message took more than one line"
        );
        assert!(!typed.bulk);
        let msg = data_message(&typed.line);
        assert!(matches!(msg.kem, otr_core::wire::data::KemField::None));
        self.mixed_typed += usize::from(msg.flags & FLAG_MIX != 0);
        self.deliver(from_alice, &typed);
        self.flush(keep_bulk);
        for (from_alice, t) in held {
            self.deliver(from_alice, &t);
        }
        self.flush(keep_bulk);
    }
}

#[test]
fn typed_messages_are_one_line_and_kem_material_goes_in_bulk_lines() {
    let mut talk = Talk::new(61);
    for turn in 0..40 {
        talk.turn(turn % 2 == 0, &mut || true);
    }
    assert_eq!(talk.received, 40, "a typed message was lost");
    // 40 turns at the default kem_every (3) hold several exchanges: each shows as a chain
    // of typed messages flagged MIX, which the peer could only read with the KEM secret.
    println!(
        "{} bulk lines; MIX typed messages {}",
        talk.bulk_lines, talk.mixed_typed
    );
    assert!(
        talk.mixed_typed >= 6,
        "MIX typed messages: {}",
        talk.mixed_typed
    );
    assert!(talk.bulk_lines >= 4 * 14, "bulk lines: {}", talk.bulk_lines);
}

#[test]
fn exchanges_complete_when_bulk_lines_are_lost() {
    use rand::RngExt;
    let mut talk = Talk::new(62);
    let mut rng = otr_core::testing::test_rng(63);
    let mut lost = 0;
    // One bulk line in ten is lost, so about half the KEM messages (7 lines each) are.
    let mut keep = || {
        let keep = rng.random_range(0..10) != 0;
        lost += usize::from(!keep);
        keep
    };
    for turn in 0..60 {
        talk.turn(turn % 2 == 0, &mut keep);
    }
    assert!(lost >= 5, "lost bulk lines: {lost}");
    assert_eq!(talk.received, 60, "a typed message was lost");
    println!(
        "lost {lost} of {} bulk lines; MIX typed messages {}",
        talk.bulk_lines, talk.mixed_typed
    );
    assert!(
        talk.mixed_typed >= 2,
        "MIX typed messages: {}",
        talk.mixed_typed
    );
}
