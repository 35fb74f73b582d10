//! Key pinning: a handshake under a key the user has not accepted for the nick carries
//! nothing until the user accepts that key. "mallory" plays a hostile server that answers
//! under bob's nick with its own valid keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::profile::{Fingerprint, LongTermKeys};
use otr_core::session::{Accepted, Account, Event, Policy, Received, SendOutcome, State};
use rand::rngs::StdRng;

mod support;
use support::*;

/// Moves lines between alice (as "alice") and `other` (as "bob") until both are quiet.
/// Returns what `other` decrypted and the events alice raised.
fn exchange(
    alice: &mut Account,
    other: &mut Account,
    rng: &mut StdRng,
    now: u64,
) -> (Vec<String>, Vec<Event>) {
    let mut decrypted = Vec::new();
    let mut events = Vec::new();
    loop {
        let mut moved = false;
        while let Some(t) = alice.poll_transmit() {
            if let Received::Message { text } = other.handle_incoming(now, rng, "alice", &t.line) {
                decrypted.push(text);
            }
            moved = true;
        }
        while let Some(t) = other.poll_transmit() {
            let _ = alice.handle_incoming(now, rng, "bob", &t.line);
            moved = true;
        }
        while let Some(e) = alice.poll_event() {
            events.push(e);
        }
        while other.poll_event().is_some() {}
        if !moved {
            return (decrypted, events);
        }
    }
}

fn mallory(rng: &mut StdRng) -> Account {
    let mut m = account(rng, 0x3A11);
    m.set_auto_respond("alice", true);
    m
}

fn key_not_accepted(events: &[Event]) -> Option<(Fingerprint, Vec<Fingerprint>, usize)> {
    events.iter().find_map(|e| match e {
        Event::KeyNotAccepted {
            offered,
            accepted,
            queued,
            ..
        } => Some((*offered, accepted.clone(), *queued)),
        _ => None,
    })
}

#[test]
fn an_impostor_with_its_own_keys_gets_nothing_until_accepted() {
    let mut net = Net::new(40);
    net.alice
        .send(net.now, &mut net.rng, "bob", "first")
        .unwrap();
    net.pump();
    assert_eq!(net.received_by_bob, vec!["first"]);
    let bob_fp = net.bob.fingerprint();

    // Alice restarts (her accepted key for bob restored from disk); the server answers for bob.
    let mut alice = account(&mut net.rng, 0xA11CF);
    alice.set_auto_respond("bob", true);
    alice.pin_key("bob", &bob_fp);
    let mut mal = mallory(&mut net.rng);
    let mal_fp = mal.fingerprint();
    assert_eq!(
        alice
            .send(net.now, &mut net.rng, "bob", "secret one")
            .unwrap(),
        SendOutcome::Queued
    );
    let (got, events) = exchange(&mut alice, &mut mal, &mut net.rng, net.now);
    assert!(got.is_empty(), "the impostor decrypted {got:?}");
    let (offered, accepted, queued) = key_not_accepted(&events).expect("alice was told");
    assert_eq!(offered, mal_fp);
    assert_eq!(accepted, vec![bob_fp]);
    assert_eq!(queued, 1);
    assert!(
        !events.iter().any(|e| matches!(e, Event::Private { .. })),
        "{events:?}"
    );
    let info = alice.session_info("bob");
    assert_eq!(info.queued, 1);
    assert_eq!(info.held, Some(mal_fp));
    assert_ne!(info.state, State::Encrypted);

    // More typed text stays queued too, and the impostor's messages do not restart anything.
    alice
        .send(net.now, &mut net.rng, "bob", "secret two")
        .unwrap();
    // No new handshake to the same server: the user decides on the held one first.
    assert!(alice.poll_transmit().is_none());
    let (got, _) = exchange(&mut alice, &mut mal, &mut net.rng, net.now);
    assert!(got.is_empty(), "the impostor decrypted {got:?}");
    assert_eq!(alice.session_info("bob").queued, 2);

    // The user accepts the new key: the queue goes to it, in order.
    let outcome = alice.accept_key(net.now, &mut net.rng, "bob", &mal_fp);
    assert_eq!(outcome, Accepted::SessionStarted);
    let (got, events) = exchange(&mut alice, &mut mal, &mut net.rng, net.now);
    assert_eq!(got, vec!["secret one", "secret two"]);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::Private { fingerprint, .. } if *fingerprint == mal_fp
    )));
    assert_eq!(alice.accepted_keys("bob"), &[bob_fp, mal_fp]);
}

#[test]
fn a_working_session_survives_an_impostor_handshake() {
    let mut net = Net::new(41);
    net.alice
        .send(net.now, &mut net.rng, "bob", "hello")
        .unwrap();
    net.pump();
    let ssid = net.alice.session_info("bob").ssid;
    let bob_fp = net.bob.fingerprint();

    // The server, as bob, starts a handshake with its own keys.
    let mut mal = mallory(&mut net.rng);
    mal.start(net.now, &mut net.rng, "alice");
    let (_, events) = exchange(&mut net.alice, &mut mal, &mut net.rng, net.now);
    assert!(key_not_accepted(&events).is_some(), "{events:?}");
    let info = net.alice.session_info("bob");
    assert_eq!(info.state, State::Encrypted);
    assert_eq!(info.ssid, ssid, "the impostor replaced the session");
    assert_eq!(info.fingerprint, Some(bob_fp));

    // Alice's next message goes out on the session with the real bob.
    assert_eq!(
        net.alice
            .send(net.now, &mut net.rng, "bob", "still bob")
            .unwrap(),
        SendOutcome::Sent
    );
    let line = net.alice.poll_transmit().expect("a data message");
    assert!(!matches!(
        mal.handle_incoming(net.now, &mut net.rng, "alice", &line.line),
        Received::Message { .. }
    ));
    assert_eq!(
        net.bob
            .handle_incoming(net.now, &mut net.rng, "alice", &line.line),
        Received::Message {
            text: "still bob".into()
        }
    );
}

#[test]
fn first_contact_is_held_when_the_policy_says_so() {
    let mut net = Net::new(42);
    let policy = Policy {
        hold_first_contact: true,
        ..Policy::default()
    };
    net.alice = Account::new(
        LongTermKeys::generate(&mut net.rng).unwrap(),
        0xA11CE,
        policy,
        T0,
    )
    .unwrap();
    net.alice.set_auto_respond("bob", true);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    assert!(net.received_by_bob.is_empty());
    let (offered, accepted, queued) = key_not_accepted(&net.events_alice).expect("told");
    assert_eq!(offered, net.bob.fingerprint());
    assert!(accepted.is_empty());
    assert_eq!(queued, 1);

    let bob_fp = net.bob.fingerprint();
    assert_eq!(
        net.alice.accept_key(net.now, &mut net.rng, "bob", &bob_fp),
        Accepted::SessionStarted
    );
    net.pump();
    assert_eq!(net.received_by_bob, vec!["hi"]);
}

#[test]
fn first_contact_is_trusted_on_first_use_by_default() {
    let mut net = Net::new(43);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    assert_eq!(net.received_by_bob, vec!["hi"]);
    assert_eq!(net.alice.accepted_keys("bob"), &[net.bob.fingerprint()]);
    assert!(key_not_accepted(&net.events_alice).is_none());
}

#[test]
fn a_held_handshake_is_wiped_in_time_and_accepting_later_starts_a_new_one() {
    let mut net = Net::new(44);
    let bob_fp = net.bob.fingerprint();
    net.alice.pin_key("bob", &Fingerprint([7; 56]));
    net.alice
        .send(net.now, &mut net.rng, "bob", "wait")
        .unwrap();
    net.pump();
    assert_eq!(net.alice.held_key("bob"), Some(bob_fp));
    let deadline = net.alice.poll_timeout().expect("a deadline");
    assert!(deadline <= net.now + 10 * 60 * 1000, "held past 10 minutes");
    net.now = deadline;
    net.alice.handle_timeout(net.now, &mut net.rng);
    assert_eq!(net.alice.held_key("bob"), None);
    assert_eq!(net.alice.session_info("bob").queued, 1);

    assert_eq!(
        net.alice.accept_key(net.now, &mut net.rng, "bob", &bob_fp),
        Accepted::HandshakeStarted
    );
    net.pump();
    assert_eq!(net.received_by_bob, vec!["wait"]);
}

#[test]
fn accepted_keys_stay_on_the_old_nick_after_a_nick_change() {
    let mut net = Net::new(45);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    let bob_fp = net.bob.fingerprint();
    assert!(net.alice.rename_peer("bob", "bob_afk"));
    assert_eq!(net.alice.accepted_keys("bob_afk"), &[bob_fp]);
    // Whoever takes "bob" now is held unless it has bob's key.
    assert_eq!(net.alice.accepted_keys("bob"), &[bob_fp]);
}
