//! The in-memory network shared by the account-level tests: two accounts exchanging lines as
//! IRC would carry them.

use otr_core::profile::LongTermKeys;
use otr_core::session::{Account, Event, Policy, Received};
use otr_core::testing::test_rng;
use rand::rngs::StdRng;

pub const T0: u64 = 1_800_000_000_000;

pub struct Net {
    pub alice: Account,
    pub bob: Account,
    pub rng: StdRng,
    pub now: u64,
    /// Every line put on the wire, for audits.
    pub wire: Vec<(String, String)>,
    pub received_by_alice: Vec<String>,
    pub received_by_bob: Vec<String>,
    pub events_alice: Vec<Event>,
    pub events_bob: Vec<Event>,
}

pub fn account(rng: &mut StdRng, tag: u32) -> Account {
    Account::new(
        LongTermKeys::generate(rng).unwrap(),
        tag,
        Policy::default(),
        T0,
    )
    .unwrap()
}

impl Net {
    pub fn new(seed: u64) -> Self {
        let mut rng = test_rng(seed);
        let mut alice = account(&mut rng, 0xA11CE);
        let mut bob = account(&mut rng, 0xB0B);
        alice.set_auto_respond("bob", true);
        bob.set_auto_respond("alice", true);
        Net {
            alice,
            bob,
            rng,
            now: T0,
            wire: Vec::new(),
            received_by_alice: Vec::new(),
            received_by_bob: Vec::new(),
            events_alice: Vec::new(),
            events_bob: Vec::new(),
        }
    }

    /// Delivers every pending transmit until both sides are quiet. Returns bytes moved.
    pub fn pump(&mut self) -> usize {
        let mut bytes = 0;
        loop {
            let mut moved = false;
            while let Some(t) = self.alice.poll_transmit() {
                assert_eq!(t.peer, "bob");
                bytes += t.line.len();
                self.wire.push(("alice".into(), t.line.clone()));
                if let Received::Message { text } =
                    self.bob
                        .handle_incoming(self.now, &mut self.rng, "alice", &t.line)
                {
                    self.received_by_bob.push(text);
                }
                moved = true;
            }
            while let Some(t) = self.bob.poll_transmit() {
                assert_eq!(t.peer, "alice");
                bytes += t.line.len();
                self.wire.push(("bob".into(), t.line.clone()));
                if let Received::Message { text } =
                    self.alice
                        .handle_incoming(self.now, &mut self.rng, "bob", &t.line)
                {
                    self.received_by_alice.push(text);
                }
                moved = true;
            }
            while let Some(e) = self.alice.poll_event() {
                self.events_alice.push(e);
            }
            while let Some(e) = self.bob.poll_event() {
                self.events_bob.push(e);
            }
            if !moved {
                return bytes;
            }
        }
    }

    #[allow(dead_code)]
    pub fn assert_no_plaintext_on_wire(&self, secrets: &[String]) {
        for (_, line) in &self.wire {
            for s in secrets {
                assert!(!line.contains(s.as_str()), "plaintext leaked: {s}");
            }
            assert!(line.len() <= 400, "line over budget: {}", line.len());
        }
    }
}
