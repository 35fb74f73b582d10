//! Account unit tests that need the peer state (hostile-server hardening, issue 16): two
//! in-memory accounts exchanging lines as IRC would carry them, plus attackers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod ahead;
mod attestation;
mod confirmation;
mod ct_ahead;
mod legacy;
mod psk;
mod reflection;
mod stall;
mod strangers;
mod timers;
mod unauthenticated;

use rand::rngs::StdRng;

use super::*;
use crate::testing::{TEST_NOW_UNIX, test_rng};

pub(super) const T0: u64 = TEST_NOW_UNIX as u64 * 1000;
pub(super) const ALICE: u32 = 0xA11CE;
pub(super) const BOB: u32 = 0xB0B;

pub(super) fn account(rng: &mut StdRng, tag: u32, policy: Policy) -> Account {
    Account::new(LongTermKeys::generate(rng).unwrap(), tag, policy, T0).unwrap()
}

/// Every line `a` wants to send, in order.
pub(super) fn drain(a: &mut Account) -> Vec<Transmit> {
    std::iter::from_fn(|| a.poll_transmit()).collect()
}

/// Two accounts that answer each other automatically.
pub(super) struct Pair {
    pub alice: Account,
    pub bob: Account,
    pub rng: StdRng,
    pub now: u64,
    pub got_by_alice: Vec<String>,
    pub got_by_bob: Vec<String>,
    pub events_alice: Vec<Event>,
    pub events_bob: Vec<Event>,
}

impl Pair {
    pub fn new(seed: u64) -> Self {
        Self::with_policy(seed, Policy::default())
    }

    pub fn with_policy(seed: u64, policy: Policy) -> Self {
        let mut rng = test_rng(seed);
        let mut alice = account(&mut rng, ALICE, policy.clone());
        let mut bob = account(&mut rng, BOB, policy);
        alice.set_auto_respond("bob", true);
        bob.set_auto_respond("alice", true);
        Pair {
            alice,
            bob,
            rng,
            now: T0,
            got_by_alice: Vec::new(),
            got_by_bob: Vec::new(),
            events_alice: Vec::new(),
            events_bob: Vec::new(),
        }
    }

    /// A pair with a private session (alice initiated).
    pub fn established(seed: u64) -> Self {
        let mut pair = Self::new(seed);
        pair.alice.start(pair.now, &mut pair.rng, "bob");
        pair.pump();
        assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
        assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
        pair
    }

    /// Alice's query, bob's Identity in answer, and alice's Auth-R (in one line, her full
    /// profile in it), which is returned undelivered. Bob's Identity is one line, so alice's
    /// profile does not go ahead of her Auth-R.
    pub fn alice_auth_r(&mut self) -> Vec<Transmit> {
        self.alice.start(self.now, &mut self.rng, "bob");
        self.bob.set_budget("alice", 100_000);
        let query = drain(&mut self.alice);
        self.deliver_to_bob(&query);
        let identity = drain(&mut self.bob);
        self.alice.set_budget("bob", 100_000);
        self.deliver_to_alice(&identity);
        drain(&mut self.alice)
    }

    /// Hands lines to bob as coming from alice.
    pub fn deliver_to_bob(&mut self, lines: &[Transmit]) {
        for t in lines {
            if let Received::Message { text } =
                self.bob
                    .handle_incoming(self.now, &mut self.rng, "alice", &t.line)
            {
                self.got_by_bob.push(text);
            }
        }
    }

    /// Hands lines to alice as coming from bob.
    pub fn deliver_to_alice(&mut self, lines: &[Transmit]) {
        for t in lines {
            if let Received::Message { text } =
                self.alice
                    .handle_incoming(self.now, &mut self.rng, "bob", &t.line)
            {
                self.got_by_alice.push(text);
            }
        }
    }

    pub fn collect_events(&mut self) {
        self.events_alice
            .extend(std::iter::from_fn(|| self.alice.poll_event()));
        self.events_bob
            .extend(std::iter::from_fn(|| self.bob.poll_event()));
    }

    /// Delivers every pending line both ways until both sides are quiet.
    pub fn pump(&mut self) {
        loop {
            let a = drain(&mut self.alice);
            let b = drain(&mut self.bob);
            if a.is_empty() && b.is_empty() {
                break;
            }
            assert!(a.iter().all(|t| t.peer == "bob"));
            assert!(b.iter().all(|t| t.peer == "alice"));
            self.deliver_to_bob(&a);
            self.deliver_to_alice(&b);
        }
        self.collect_events();
    }
}
