//! Profile attestations (docs/PROTOCOL.md §4.4): sent once private as bulk lines, verified
//! against the profile the DAKE authenticated, cached with it so a repeat contact skips the
//! resend, and refused (with nothing changed) when they do not fit that profile.

use super::*;
use crate::profile::{Attestation, AttestationError};

/// Delivers every line both ways until quiet; returns how many bulk lines each side sent
/// (alice's, bob's). `deliver_bulk: false` drops them instead.
fn pump_bulk(pair: &mut Pair, deliver_bulk: bool) -> (usize, usize) {
    let (mut from_alice, mut from_bob) = (0, 0);
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            break;
        }
        from_alice += a.iter().filter(|t| t.bulk).count();
        from_bob += b.iter().filter(|t| t.bulk).count();
        let keep = |v: Vec<Transmit>| -> Vec<Transmit> {
            v.into_iter().filter(|t| deliver_bulk || !t.bulk).collect()
        };
        pair.deliver_to_bob(&keep(a));
        pair.deliver_to_alice(&keep(b));
    }
    pair.collect_events();
    (from_alice, from_bob)
}

fn attested_events(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::PeerAttested { .. }))
        .count()
}

fn failures(events: &[Event]) -> Vec<AttestationError> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::AttestationFailed { error, .. } => Some(*error),
            _ => None,
        })
        .collect()
}

/// A private pair whose attestations were lost on the way (bulk lines dropped).
fn private_unattested(seed: u64) -> Pair {
    let mut pair = Pair::new(seed);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (a, b) = pump_bulk(&mut pair, false);
    assert!(a > 0 && b > 0, "both sides send their attestation");
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert!(!pair.alice.is_attested("bob") && !pair.bob.is_attested("alice"));
    pair
}

/// Bob sends alice an attestation TLV of his choosing on his session.
fn bob_sends_attestation(pair: &mut Pair, value: Vec<u8>) {
    let payload = Payload {
        text: Vec::new(),
        tlvs: vec![Tlv {
            tlv_type: types::PROFILE_ATTESTATION,
            value,
        }],
    };
    let now = pair.now;
    pair.bob
        .send_payload_as(&mut pair.rng, "alice", now, 0, &payload, true)
        .unwrap();
    let lines = drain(&mut pair.bob);
    pair.deliver_to_alice(&lines);
    pair.collect_events();
}

#[test]
fn both_sides_attest_after_first_contact_in_bulk_lines_after_the_rest() {
    let mut pair = Pair::new(701);
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "hi")
        .unwrap();
    let mut order = Vec::new();
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            break;
        }
        order.extend(a.iter().map(|t| ("alice", t.bulk)));
        order.extend(b.iter().map(|t| ("bob", t.bulk)));
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
    pair.collect_events();
    // Before the attestations arrive, neither session was reported attested.
    for ev in pair.events_alice.iter().chain(&pair.events_bob) {
        if let Event::Private { attested, .. } = ev {
            assert!(!attested);
        }
    }
    assert_eq!(attested_events(&pair.events_alice), 1);
    assert_eq!(attested_events(&pair.events_bob), 1);
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
    assert!(pair.alice.session_info("bob").attested);
    assert_eq!(pair.got_by_bob, vec!["hi".to_string()]);
    // Each side's bulk lines come after its other lines of that turn: the queued "hi" and
    // the heartbeat that confirms the session are not held behind them.
    for who in ["alice", "bob"] {
        let mine: Vec<bool> = order
            .iter()
            .filter(|(w, _)| *w == who)
            .map(|(_, b)| *b)
            .collect();
        let first_bulk = mine.iter().position(|b| *b).unwrap();
        assert!(mine[first_bulk..].iter().all(|b| *b), "{who}: {mine:?}");
        assert!(first_bulk > 0);
    }
}

#[test]
fn a_cached_attestation_skips_the_resend_on_a_repeat_contact() {
    let mut pair = Pair::new(702);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (a, b) = pump_bulk(&mut pair, true);
    assert!(a > 0 && b > 0);
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
    // A new DAKE (both flags set, bound into its transcript): no attestation goes either way,
    // and the new session is attested from the start.
    pair.events_alice.clear();
    pair.events_bob.clear();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (a, b) = pump_bulk(&mut pair, true);
    // The only bulk lines are the deferred ML-KEM exchange of this PSK-mode session: bob's
    // offer and alice's answer, 7 lines each (an attestation is 28).
    assert_eq!((a, b), (7, 7));
    assert!(pair.events_alice.iter().any(|e| matches!(
        e,
        Event::Private {
            attested: true,
            rekey: true,
            ..
        }
    )));
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
    assert_eq!(attested_events(&pair.events_alice), 0);

    // After a restart the caller hands the stored profile and attestation back: the same
    // holds with a fresh account (it signs the same profile again, so bob's cache matches).
    let profile = pair.alice.peer_profile("bob").unwrap().as_bytes().to_vec();
    let attestation = pair
        .alice
        .peer_attestation("bob")
        .unwrap()
        .as_bytes()
        .to_vec();
    let keys = LongTermKeys::from_bytes(pair.alice.keys.to_bytes().expose()).unwrap();
    let mut alice2 = Account::new(keys, ALICE, Policy::default(), T0).unwrap();
    alice2.set_auto_respond("bob", true);
    alice2.remember_peer_profile("bob", &profile, T0).unwrap();
    assert!(!alice2.is_attested("bob"));
    alice2
        .remember_peer_attestation("bob", &attestation)
        .unwrap();
    assert!(alice2.is_attested("bob"));
    pair.alice = alice2;
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (a, b) = pump_bulk(&mut pair, true);
    assert_eq!((a, b), (0, 0));
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert!(pair.alice.is_attested("bob"));
}

#[test]
fn a_lost_attestation_is_sent_again_by_the_next_dake() {
    let mut pair = private_unattested(703);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (a, b) = pump_bulk(&mut pair, true);
    assert!(a > 0 && b > 0);
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
}

#[test]
fn attestations_that_do_not_fit_the_session_profile_are_refused() {
    let mut pair = private_unattested(704);
    let bob_profile = pair.bob.profile().clone();
    let genuine = pair.bob.attestation.as_bytes().to_vec();
    // Replayed from another peer: carol's valid attestation of her own profile.
    let carol = account(&mut pair.rng, 0xCA201, Policy::default());
    let carols = carol.attestation.as_bytes().to_vec();
    // Bob's key, with its signature altered.
    let mut bad_sig = genuine.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last - 9] ^= 1;
    // Bob's key and a valid signature, but over another profile of bob's (another expiry).
    let other = ClientProfile::sign(&pair.bob.keys, BOB, TEST_NOW_UNIX + 1000).unwrap();
    let for_other = Attestation::sign(&pair.bob.keys, &other).unwrap();
    assert_ne!(other.hash(), bob_profile.hash());
    // Another key altogether (bob's key with one byte changed) and a truncated one.
    let mut wrong_pk = genuine.clone();
    wrong_pk[3] ^= 1;
    let cases = [
        (carols, AttestationError::WrongKey),
        (bad_sig, AttestationError::BadSignature),
        (
            for_other.as_bytes().to_vec(),
            AttestationError::BadSignature,
        ),
        (wrong_pk, AttestationError::WrongKey),
        (genuine[..100].to_vec(), AttestationError::Length),
    ];
    for (value, expected) in cases {
        pair.events_alice.clear();
        bob_sends_attestation(&mut pair, value);
        assert_eq!(failures(&pair.events_alice), vec![expected]);
        assert!(!pair.alice.is_attested("bob"));
        assert!(pair.alice.peer_attestation("bob").is_none());
        assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    }
    // Nothing else changed: the session still carries messages, and the genuine one is taken.
    pair.bob
        .send(pair.now, &mut pair.rng, "alice", "still here")
        .unwrap();
    let lines = drain(&mut pair.bob);
    pair.deliver_to_alice(&lines);
    assert_eq!(pair.got_by_alice, vec!["still here".to_string()]);
    pair.events_alice.clear();
    bob_sends_attestation(&mut pair, genuine);
    assert_eq!(attested_events(&pair.events_alice), 1);
    assert!(pair.alice.is_attested("bob"));
    // Carol's attestation is refused for bob's stored profile too.
    assert_eq!(
        pair.alice
            .remember_peer_attestation("bob", carol.attestation.as_bytes())
            .unwrap_err(),
        AttestationError::WrongKey
    );
    assert_eq!(
        pair.alice
            .remember_peer_attestation("nobody", carol.attestation.as_bytes())
            .unwrap_err(),
        AttestationError::UnknownProfile
    );
}

#[test]
fn a_new_profile_of_the_peer_is_unattested_until_its_attestation_arrives() {
    let mut pair = Pair::new(705);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pump_bulk(&mut pair, true);
    assert!(pair.alice.is_attested("bob"));
    // Bob re-signs his profile (it nears expiry): alice's attestation is for the old one.
    pair.now += 8 * 24 * 3600 * 1000;
    pair.bob.refresh_profile(pair.now);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let (_, from_bob) = pump_bulk(&mut pair, false);
    assert!(from_bob > 0, "bob sends the attestation of his new profile");
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert!(!pair.alice.is_attested("bob"));
    assert!(pair.alice.peer_attestation("bob").is_none());
}
