//! Explicit key confirmation: the initiator commits a new session (replacing the working one
//! and rotating the PSK) only once the responder's first message on it decrypts.

use super::*;

fn psk_id(a: &Account, peer: &str) -> [u8; 16] {
    a.peers[peer].psk.as_ref().unwrap().id
}

fn rekeyed(events: &[Event]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::Private { rekey: true, .. }))
}

#[test]
fn initiator_rotates_the_psk_only_after_the_responder_s_confirmation() {
    let mut pair = Pair::established(601);
    let (old_psk, old_ssid) = (
        psk_id(&pair.alice, "bob"),
        pair.alice.session_info("bob").ssid,
    );
    assert_eq!(psk_id(&pair.bob, "alice"), old_psk);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let identity = drain(&mut pair.alice);
    pair.deliver_to_bob(&identity);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    let auth_i = drain(&mut pair.alice);
    pair.collect_events();
    // Alice derived the new session but committed nothing.
    assert_eq!(psk_id(&pair.alice, "bob"), old_psk);
    assert_eq!(pair.alice.session_info("bob").ssid, old_ssid);
    assert!(!rekeyed(&pair.events_alice));
    pair.deliver_to_bob(&auth_i);
    let confirmation = drain(&mut pair.bob);
    assert!(!confirmation.is_empty(), "bob confirms at once");
    pair.collect_events();
    let new_psk = psk_id(&pair.bob, "alice");
    assert_ne!(
        new_psk, old_psk,
        "bob rotated on Auth-I, which confirmed the key to him"
    );
    assert_eq!(psk_id(&pair.alice, "bob"), old_psk);
    assert!(!rekeyed(&pair.events_alice));
    pair.deliver_to_alice(&confirmation);
    pair.collect_events();
    assert_eq!(psk_id(&pair.alice, "bob"), new_psk);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
    assert_ne!(pair.alice.session_info("bob").ssid, old_ssid);
    assert!(rekeyed(&pair.events_alice));
    assert!(
        pair.got_by_alice.is_empty(),
        "the confirmation shows nothing"
    );
}

#[test]
fn without_confirmation_the_old_session_and_psk_stay() {
    let mut pair = Pair::established(602);
    let (old_psk, old_ssid) = (
        psk_id(&pair.alice, "bob"),
        pair.alice.session_info("bob").ssid,
    );
    // Someone who can answer as bob (here: bob's keys on another machine) completes the
    // DAKE with alice but never confirms it; the real bob never sees any of it.
    let bob_keys = LongTermKeys::from_bytes(pair.bob.keys.to_bytes().expose()).unwrap();
    let mut impostor = Account::new(bob_keys, BOB, Policy::default(), T0).unwrap();
    impostor.set_auto_respond("alice", true);
    pair.alice.set_budget("bob", 100_000);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    // Alice and the impostor talk (a Profile-Request, the full Identity, Auth-R) until alice
    // answers with Auth-I, which is lost.
    loop {
        let to_impostor = drain(&mut pair.alice);
        assert_eq!(to_impostor.len(), 1, "one unfragmented message");
        let bin = envelope::decode(&to_impostor[0].line).unwrap();
        if Header::peek(&bin).unwrap().msg_type == MessageType::AuthI {
            break;
        }
        impostor.handle_incoming(pair.now, &mut pair.rng, "alice", &to_impostor[0].line);
        pair.deliver_to_alice(&drain(&mut impostor));
    }
    pair.collect_events();
    assert!(!rekeyed(&pair.events_alice));
    let since = pair.now;
    let check = |pair: &mut Pair, n: usize| {
        assert_eq!(psk_id(&pair.alice, "bob"), old_psk);
        assert_eq!(psk_id(&pair.bob, "alice"), old_psk);
        assert_eq!(pair.alice.session_info("bob").ssid, old_ssid);
        let (a, b) = (format!("to bob {n}"), format!("to alice {n}"));
        assert_eq!(
            pair.alice.send(pair.now, &mut pair.rng, "bob", &a),
            Ok(SendOutcome::Sent)
        );
        pair.bob.send(pair.now, &mut pair.rng, "alice", &b).unwrap();
        pair.pump();
        assert_eq!(pair.got_by_bob.last(), Some(&a));
        assert_eq!(pair.got_by_alice.last(), Some(&b));
    };
    check(&mut pair, 1);
    // When the wait times out the session aside is dropped; nothing else changes.
    let t = since + Policy::default().dake_timeout_ms;
    pair.now = t;
    pair.alice.handle_timeout(t, &mut pair.rng);
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    check(&mut pair, 2);
    assert!(!rekeyed(&pair.events_alice));
}

#[test]
fn a_lost_confirmation_is_sent_again_when_the_initiator_writes_on_the_old_session() {
    let mut pair = Pair::established(603);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let identity = drain(&mut pair.alice);
    pair.deliver_to_bob(&identity);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    let auth_i = drain(&mut pair.alice);
    pair.deliver_to_bob(&auth_i);
    drain(&mut pair.bob); // the confirmation is lost
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "still on the old session")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, vec!["still on the old session"]);
    assert!(
        rekeyed(&pair.events_alice),
        "bob's new confirmation arrived"
    );
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
}

fn msg_type(t: &Transmit) -> MessageType {
    Header::peek(&envelope::decode(&t.line).unwrap())
        .unwrap()
        .msg_type
}

/// An established pair whose session alice finished (bob was told): profiles and PSK
/// cached on both sides, no session. Alice's next message starts a repeat contact, in which
/// she is the initiator.
fn finished(seed: u64) -> Pair {
    let mut pair = Pair::established(seed);
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.pump();
    pair.events_alice.clear();
    pair.events_bob.clear();
    pair.alice.set_budget("bob", 100_000);
    pair.bob.set_budget("alice", 100_000);
    pair
}

/// Alice writes `text` to bob with no session (a repeat contact: she is the initiator);
/// her Identity reaches bob and his Auth-R reaches her. Returns what alice sends next.
fn after_auth_r(pair: &mut Pair, text: &str) -> Vec<Transmit> {
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", text)
        .unwrap();
    let identity = drain(&mut pair.alice);
    assert_eq!(msg_type(&identity[0]), MessageType::Identity, "no query");
    pair.deliver_to_bob(&identity);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    drain(&mut pair.alice)
}

#[test]
fn the_initiators_queued_message_goes_with_auth_i_and_not_again_after_the_confirmation() {
    let mut pair = finished(604);
    // Auth-I, then the message on the session aside, at once: no wait for bob's confirmation.
    let out = after_auth_r(&mut pair, "hi again");
    let types: Vec<_> = out.iter().map(msg_type).collect();
    assert_eq!(types, [MessageType::AuthI, MessageType::Data]);
    pair.collect_events();
    assert!(
        !pair
            .events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { .. })),
        "alice has not committed"
    );
    // Typed while the confirmation is on its way: sent early too.
    assert_eq!(
        pair.alice.send(pair.now, &mut pair.rng, "bob", "second"),
        Ok(SendOutcome::Queued)
    );
    let second = drain(&mut pair.alice);
    assert_eq!(
        second.iter().map(msg_type).collect::<Vec<_>>(),
        [MessageType::Data]
    );
    pair.deliver_to_bob(&out);
    pair.deliver_to_bob(&second);
    assert_eq!(pair.got_by_bob, ["hi again", "second"]);
    // Bob's confirmation commits alice's session; nothing goes again.
    let confirmation = drain(&mut pair.bob);
    pair.deliver_to_alice(&confirmation);
    pair.collect_events();
    assert!(
        pair.events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { .. }))
    );
    assert!(
        pair.events_alice
            .iter()
            .any(|e| matches!(e, Event::QueueReleased { count: 2, .. }))
    );
    assert_eq!(pair.alice.session_info("bob").queued, 0);
    pair.pump();
    assert_eq!(pair.got_by_bob, ["hi again", "second"], "nothing twice");
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "third")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, ["hi again", "second", "third"]);
}

#[test]
fn an_early_message_stays_queued_until_confirmed_and_goes_again_on_the_next_session() {
    let mut pair = finished(605);
    let lost = after_auth_r(&mut pair, "kept");
    // The server swallows Auth-I and the message: bob never derives the session.
    assert_eq!(lost.len(), 2);
    assert_eq!(
        pair.alice.session_info("bob").queued,
        1,
        "kept until confirmed"
    );
    let t = pair.now + Policy::default().dake_timeout_ms;
    pair.now = t;
    pair.alice.handle_timeout(t, &mut pair.rng);
    pair.bob.handle_timeout(t, &mut pair.rng);
    pair.collect_events();
    assert!(pair.events_alice.iter().any(|e| matches!(
        e,
        Event::NoAnswer {
            queued: 1,
            sent_unconfirmed: 1,
            ..
        }
    )));
    assert_eq!(pair.alice.session_info("bob").queued, 1);
    // The next session carries it.
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.pump();
    assert_eq!(pair.got_by_bob, ["kept"]);
    assert_eq!(pair.alice.session_info("bob").queued, 0);
}

#[test]
fn an_early_message_reordered_before_auth_i_is_reported_on_both_sides() {
    let mut pair = finished(606);
    let out = after_auth_r(&mut pair, "overtook");
    assert_eq!(
        out.iter().map(msg_type).collect::<Vec<_>>(),
        [MessageType::AuthI, MessageType::Data]
    );
    // The server delivers the message before Auth-I: bob cannot read it yet.
    pair.deliver_to_bob(&out[1..]);
    pair.deliver_to_bob(&out[..1]);
    assert!(pair.got_by_bob.is_empty());
    pair.collect_events();
    assert!(
        pair.events_bob
            .iter()
            .any(|e| matches!(e, Event::Unreadable { .. })),
        "bob's user is told"
    );
    // Bob's error reply reaches alice after his confirmation: she is told it may be lost.
    let replies = drain(&mut pair.bob);
    let mut told = false;
    for t in &replies {
        if let Received::Error { .. } =
            pair.alice
                .handle_incoming(pair.now, &mut pair.rng, "bob", &t.line)
        {
            told = true;
        }
    }
    assert!(
        told,
        "alice's user is told the message may not have arrived"
    );
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "again")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, ["again"]);
}

#[test]
fn finishing_before_the_confirmation_ends_the_session_aside_on_both_sides() {
    let mut pair = finished(607);
    let out = after_auth_r(&mut pair, "then bye");
    pair.deliver_to_bob(&out);
    assert_eq!(pair.got_by_bob, ["then bye"]);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    drain(&mut pair.bob); // bob's confirmation is still on its way when alice finishes
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.collect_events();
    assert!(
        pair.events_alice
            .iter()
            .any(|e| matches!(e, Event::SessionEnded { .. })),
        "alice is told the conversation ended"
    );
    assert!(
        !pair
            .events_alice
            .iter()
            .any(|e| matches!(e, Event::QueueDropped { .. })),
        "the message went out: it is not reported as dropped and not sent"
    );
    pair.pump();
    assert_eq!(
        pair.bob.session_info("alice").state,
        State::Finished,
        "bob got the disconnect on the session he committed"
    );
    assert_eq!(pair.alice.session_info("bob").state, State::Plaintext);
}
