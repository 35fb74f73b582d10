//! Handshake messages anyone can inject must not stall an established session.

use super::*;

#[test]
fn replayed_identities_do_not_stall_an_established_session() {
    let mut pair = Pair::established(401);
    let mut rng = test_rng(402);
    let mut mallory = account(&mut rng, 0xBAD, Policy::default());
    mallory
        .remember_peer_profile("alice", pair.alice.profile().as_bytes(), T0)
        .unwrap();
    let mut sent = Vec::new();
    for minute in 0..30u64 {
        pair.now = T0 + minute * 60_000;
        // A fresh, valid Identity from a third party, under bob's nick.
        mallory.finish(pair.now, &mut rng, "alice");
        mallory.start(pair.now, &mut rng, "alice");
        let forged = drain(&mut mallory);
        assert!(!forged.is_empty());
        pair.deliver_to_alice(&forged);
        for _ in 0..if minute < 10 { 4 } else { 3 } {
            let text = format!("message {}", sent.len());
            let outcome = pair.alice.send(pair.now, &mut pair.rng, "bob", &text);
            assert_eq!(outcome, Ok(SendOutcome::Sent), "{text}");
            sent.push(text);
        }
        pair.pump();
        let now = pair.now;
        pair.alice.handle_timeout(now, &mut pair.rng);
        pair.bob.handle_timeout(now, &mut pair.rng);
        pair.pump();
    }
    assert_eq!(sent.len(), 100);
    assert_eq!(pair.got_by_bob, sent);
    assert_eq!(pair.alice.session_info("bob").queued, 0);
    assert!(
        !pair
            .events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { rekey: true, .. })),
        "delivered on the session established first"
    );
}

/// A query the server could not deliver (the shell calls `cancel_handshake` on its 401): the
/// queued messages stay, and the next `start` sends a new query instead of waiting for the
/// old handshake to time out; the session then carries them.
#[test]
fn a_cancelled_handshake_keeps_the_queue_and_starts_afresh() {
    let mut pair = Pair::new(405);
    let out = pair
        .alice
        .send(pair.now, &mut pair.rng, "bob", "kept for later")
        .unwrap();
    assert_eq!(out, SendOutcome::Queued);
    let lost = drain(&mut pair.alice);
    assert_eq!(lost.len(), 1, "one query line");
    assert_eq!(pair.alice.session_info("bob").state, State::Handshaking);
    assert!(pair.alice.cancel_handshake("bob"));
    assert!(
        !pair.alice.cancel_handshake("bob"),
        "nothing left to cancel"
    );
    let info = pair.alice.session_info("bob");
    assert_eq!(info.state, State::Plaintext);
    assert_eq!(info.queued, 1);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.got_by_bob, vec!["kept for later".to_string()]);
}
