//! SMP through two accounts: TLVs inside encrypted data messages, fragmented for IRC.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::session::{Event, SmpCommandError, SmpEvent, State};
use otr_core::smp::{SmpError, SmpStatus};

mod support;
use support::*;

fn private_pair(seed: u64) -> Net {
    let mut net = Net::new(seed);
    net.alice
        .send(net.now, &mut net.rng, "bob", "hello")
        .unwrap();
    net.pump();
    assert_eq!(net.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(net.bob.session_info("alice").state, State::Encrypted);
    net.events_alice.clear();
    net.events_bob.clear();
    net
}

fn smp_events(events: &[Event]) -> Vec<SmpEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Smp { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn done(events: &[Event]) -> Option<(bool, bool, bool)> {
    smp_events(events).into_iter().find_map(|e| match e {
        SmpEvent::Done { result, .. } => Some((result.success, result.initiated, result.question)),
        _ => None,
    })
}

#[test]
fn question_answered_through_accounts_verifies_both_sides() {
    let mut net = private_pair(100);
    let (now, rng) = (net.now, &mut net.rng);
    net.alice
        .smp_start(
            now,
            rng,
            "bob",
            Some("Our first concert?"),
            "Nick Cave 2013",
        )
        .unwrap();
    net.wire.clear();
    net.pump();
    assert_eq!(
        smp_events(&net.events_bob),
        vec![SmpEvent::Request {
            question: Some("Our first concert?".into())
        }]
    );
    assert_eq!(
        net.bob.session_info("alice").smp,
        SmpStatus::AwaitingSecret {
            question: Some("Our first concert?".into())
        }
    );
    let (now, rng) = (net.now, &mut net.rng);
    net.bob
        .smp_respond(now, rng, "alice", "Nick Cave 2013")
        .unwrap();
    net.pump();
    assert_eq!(done(&net.events_alice), Some((true, true, true)));
    assert_eq!(done(&net.events_bob), Some((true, false, true)));
    // The bound fingerprint is the peer's.
    let fp_bob = net.bob.fingerprint();
    assert!(
        smp_events(&net.events_alice)
            .iter()
            .any(|e| matches!(e, SmpEvent::Done { fingerprint, .. } if *fingerprint == fp_bob))
    );
    // Nothing of the secret or question travels in the clear, and every line fits.
    net.assert_no_plaintext_on_wire(&["Nick Cave".into(), "concert".into()]);
    // The session still carries messages afterwards.
    let (now, rng) = (net.now, &mut net.rng);
    net.bob.send(now, rng, "alice", "after smp").unwrap();
    net.pump();
    assert_eq!(net.received_by_alice.last().unwrap(), "after smp");
}

#[test]
fn shared_secret_without_question_and_a_wrong_answer() {
    let mut net = private_pair(101);
    let (now, rng) = (net.now, &mut net.rng);
    net.alice.smp_start(now, rng, "bob", None, "pear").unwrap();
    net.pump();
    let (now, rng) = (net.now, &mut net.rng);
    net.bob.smp_respond(now, rng, "alice", "pear").unwrap();
    net.pump();
    assert_eq!(done(&net.events_alice), Some((true, true, false)));
    assert_eq!(done(&net.events_bob), Some((true, false, false)));
    net.events_alice.clear();
    net.events_bob.clear();
    let (now, rng) = (net.now, &mut net.rng);
    net.alice.smp_start(now, rng, "bob", None, "pear").unwrap();
    net.pump();
    let (now, rng) = (net.now, &mut net.rng);
    net.bob.smp_respond(now, rng, "alice", "plum").unwrap();
    net.pump();
    assert_eq!(done(&net.events_alice), Some((false, true, false)));
    assert_eq!(done(&net.events_bob), Some((false, false, false)));
}

#[test]
fn abort_reaches_the_peer_and_a_new_run_works() {
    let mut net = private_pair(102);
    let (now, rng) = (net.now, &mut net.rng);
    net.alice
        .smp_start(now, rng, "bob", Some("q"), "a")
        .unwrap();
    net.pump();
    let (now, rng) = (net.now, &mut net.rng);
    net.bob.smp_abort(now, rng, "alice").unwrap();
    net.pump();
    assert!(smp_events(&net.events_alice).contains(&SmpEvent::AbortedByPeer));
    assert_eq!(net.alice.session_info("bob").smp, SmpStatus::Idle);
    assert_eq!(net.bob.session_info("alice").smp, SmpStatus::Idle);
    assert_eq!(
        net.bob.smp_respond(net.now, &mut net.rng, "alice", "a"),
        Err(SmpCommandError::Smp(SmpError::NothingToAnswer))
    );
    let (now, rng) = (net.now, &mut net.rng);
    net.alice.smp_start(now, rng, "bob", None, "b").unwrap();
    net.pump();
    let (now, rng) = (net.now, &mut net.rng);
    net.bob.smp_respond(now, rng, "alice", "b").unwrap();
    net.pump();
    assert_eq!(done(&net.events_alice), Some((true, true, false)));
}

#[test]
fn unanswered_request_times_out_on_both_sides() {
    let mut net = private_pair(103);
    let (now, rng) = (net.now, &mut net.rng);
    net.alice.smp_start(now, rng, "bob", None, "a").unwrap();
    net.pump();
    let timeout = net.alice.policy().smp_timeout_ms;
    let deadline = net.alice.poll_timeout().unwrap();
    assert!(deadline <= net.now + timeout);
    net.now += timeout;
    let (now, rng) = (net.now, &mut net.rng);
    net.alice.handle_timeout(now, rng);
    net.pump();
    assert!(smp_events(&net.events_alice).contains(&SmpEvent::TimedOut));
    // Bob was told by Alice's abort.
    assert!(smp_events(&net.events_bob).contains(&SmpEvent::AbortedByPeer));
    assert_eq!(net.bob.session_info("alice").smp, SmpStatus::Idle);
}

#[test]
fn smp_needs_a_private_session() {
    let mut net = Net::new(104);
    let (now, rng) = (net.now, &mut net.rng);
    assert_eq!(
        net.alice.smp_start(now, rng, "bob", None, "x"),
        Err(SmpCommandError::NotPrivate)
    );
    assert!(net.alice.poll_transmit().is_none());
}

#[test]
fn cached_profiles_and_stored_own_profile_survive_a_restart() {
    use otr_core::profile::LongTermKeys;
    use otr_core::session::{Account, Policy};
    let mut net = private_pair(105);
    let bob_profile = net.alice.peer_profile("bob").unwrap().as_bytes().to_vec();
    // A restart with the same keys and tag reuses the stored profile byte for byte; other
    // keys or another tag get a freshly signed one.
    let mut rng = otr_core::testing::test_rng(105);
    let stored_keys = LongTermKeys::generate(&mut rng).unwrap().to_bytes();
    let keys = || LongTermKeys::from_bytes(stored_keys.expose()).unwrap();
    let first = Account::new(keys(), 0xA11CE, Policy::default(), net.now).unwrap();
    let stored = first.profile().as_bytes().to_vec();
    let later = net.now + 3_600_000;
    let again =
        Account::with_stored_profile(keys(), 0xA11CE, Policy::default(), &stored, later).unwrap();
    assert_eq!(again.profile().as_bytes(), &stored[..]);
    let other_tag =
        Account::with_stored_profile(keys(), 0xB0B0, Policy::default(), &stored, later).unwrap();
    assert_ne!(other_tag.profile().as_bytes(), &stored[..]);
    let other_keys = LongTermKeys::generate(&mut rng).unwrap();
    let other =
        Account::with_stored_profile(other_keys, 0xA11CE, Policy::default(), &stored, later)
            .unwrap();
    assert_ne!(other.profile().as_bytes(), &stored[..]);
    // Bob's cached profile is accepted and reported with its fingerprint.
    let fp = net
        .alice
        .remember_peer_profile("carol", &bob_profile, net.now)
        .unwrap();
    assert_eq!(fp, net.bob.fingerprint());
    assert!(
        net.alice
            .remember_peer_profile("dave", b"junk", net.now)
            .is_err()
    );
}
