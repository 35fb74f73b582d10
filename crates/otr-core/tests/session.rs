//! Account-level scenarios: two in-memory accounts exchanging lines as IRC would carry them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use otr_core::dake::Mode;
use otr_core::session::{Event, Received, SendOutcome, State};
use otr_core::testing::test_rng;

mod support;
use support::*;

#[test]
fn first_message_is_queued_then_delivered_encrypted() {
    let mut net = Net::new(1);
    let out = net
        .alice
        .send(net.now, &mut net.rng, "bob", "hello bob")
        .unwrap();
    assert_eq!(out, SendOutcome::Queued);
    assert_eq!(net.alice.session_info("bob").state, State::Handshaking);
    net.pump();
    assert_eq!(net.received_by_bob, vec!["hello bob"]);
    assert_eq!(net.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(net.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        net.alice.session_info("bob").fingerprint,
        Some(net.bob.fingerprint())
    );
    assert_eq!(
        net.bob.session_info("alice").fingerprint,
        Some(net.alice.fingerprint())
    );
    assert_eq!(
        net.alice.session_info("bob").ssid,
        net.bob.session_info("alice").ssid
    );
    net.assert_no_plaintext_on_wire(&["hello bob".into()]);
    // Both sides report the session; alice reports the queue release.
    assert!(
        net.events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { .. }))
    );
    assert!(
        net.events_bob
            .iter()
            .any(|e| matches!(e, Event::Private { .. }))
    );
    assert!(
        net.events_alice
            .iter()
            .any(|e| matches!(e, Event::QueueReleased { count: 1, .. }))
    );
}

#[test]
fn conversation_both_ways_with_long_and_unicode_messages() {
    let mut net = Net::new(2);
    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for i in 0..50 {
        let a = match i {
            7 => "é ü 漢字 🙂 ".repeat(40),
            13 => "x".repeat(2000),
            _ => format!("alice says {i}"),
        };
        let b = format!("bob answers {i} ✓");
        net.alice.send(net.now, &mut net.rng, "bob", &a).unwrap();
        net.pump();
        net.bob.send(net.now, &mut net.rng, "alice", &b).unwrap();
        net.pump();
        sent_a.push(a);
        sent_b.push(b);
    }
    assert_eq!(net.received_by_bob, sent_a);
    assert_eq!(net.received_by_alice, sent_b);
    let mut all = sent_a.clone();
    all.extend(sent_b.iter().cloned());
    net.assert_no_plaintext_on_wire(&all);
}

#[test]
fn repeat_contact_uses_psk_and_cached_profiles() {
    let mut net = Net::new(3);
    net.alice.send(net.now, &mut net.rng, "bob", "one").unwrap();
    let first = net.pump();
    net.alice.finish(net.now, &mut net.rng, "bob");
    net.pump();
    assert_eq!(net.bob.session_info("alice").state, State::Finished);
    net.bob.finish(net.now, &mut net.rng, "alice");
    net.alice.send(net.now, &mut net.rng, "bob", "two").unwrap();
    let second = net.pump();
    assert_eq!(net.received_by_bob, vec!["one", "two"]);
    assert_eq!(net.alice.session_info("bob").mode, Some(Mode::Psk));
    assert!(
        second * 4 < first,
        "repeat contact {second} B vs first {first} B"
    );
}

#[test]
fn glare_resolves_to_one_session() {
    let mut net = Net::new(4);
    // Both know each other from a first session, so both start with Identity directly.
    net.alice
        .send(net.now, &mut net.rng, "bob", "warm up")
        .unwrap();
    net.pump();
    net.alice.finish(net.now, &mut net.rng, "bob");
    net.pump();
    net.bob.finish(net.now, &mut net.rng, "alice");
    net.pump();
    net.alice
        .send(net.now, &mut net.rng, "bob", "from alice")
        .unwrap();
    net.bob
        .send(net.now, &mut net.rng, "alice", "from bob")
        .unwrap();
    net.pump();
    assert!(net.received_by_bob.contains(&"from alice".to_string()));
    assert_eq!(net.received_by_alice, vec!["from bob"]);
    assert_eq!(
        net.alice.session_info("bob").ssid,
        net.bob.session_info("alice").ssid
    );
}

#[test]
fn restarted_peer_rekeys() {
    let mut net = Net::new(5);
    net.alice
        .send(net.now, &mut net.rng, "bob", "before")
        .unwrap();
    net.pump();
    // Bob restarts: same long-term keys would be loaded from disk in real life; a brand-new
    // instance (new keys, new tag) is the harder case.
    net.bob = account(&mut net.rng, 0xB0B2);
    net.bob.set_auto_respond("alice", true);
    net.alice
        .send(net.now, &mut net.rng, "bob", "lost")
        .unwrap();
    net.pump();
    assert!(
        net.events_bob
            .iter()
            .any(|e| matches!(e, Event::Unreadable { .. }))
    );
    // Bob's new key is not the one alice accepted: the re-key is held for her decision.
    let new_key = net.bob.fingerprint();
    assert!(net.events_alice.iter().any(|e| matches!(
        e,
        Event::KeyNotAccepted { offered, .. } if *offered == new_key
    )));
    net.alice.accept_key(net.now, &mut net.rng, "bob", &new_key);
    net.pump();
    assert_eq!(net.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(net.bob.session_info("alice").state, State::Encrypted);
    assert!(
        net.events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { rekey: true, .. }))
    );
    net.alice
        .send(net.now, &mut net.rng, "bob", "after")
        .unwrap();
    net.pump();
    assert_eq!(
        net.received_by_bob.last().map(String::as_str),
        Some("after")
    );
}

#[test]
fn peer_that_never_answers_gets_nothing_in_plaintext() {
    let mut rng = test_rng(6);
    let mut alice = account(&mut rng, 0xA11CE);
    alice.set_auto_respond("carol", true);
    alice.send(T0, &mut rng, "carol", "secret one").unwrap();
    alice.send(T0, &mut rng, "carol", "secret two").unwrap();
    let mut lines = Vec::new();
    while let Some(t) = alice.poll_transmit() {
        lines.push(t.line);
    }
    assert_eq!(lines.len(), 1, "only the query goes out");
    // OTRv4+ first, then OTRv3 (on by default; the DSA key is made when a peer answers).
    assert!(lines[0].starts_with("?OTRvP3?"));
    assert!(!lines[0].contains("secret"));
    let deadline = alice.poll_timeout().unwrap();
    alice.handle_timeout(deadline, &mut rng);
    let mut told = false;
    while let Some(e) = alice.poll_event() {
        if let Event::NoAnswer { queued, .. } = e {
            assert_eq!(queued, 2);
            told = true;
        }
    }
    assert!(told);
    assert!(alice.poll_transmit().is_none());
}

#[test]
fn stranger_offer_is_reported_not_answered() {
    let mut rng = test_rng(7);
    let mut alice = account(&mut rng, 0xA11CE);
    let r = alice.handle_incoming(T0, &mut rng, "mallory", "?OTRvP? hi");
    assert_eq!(r, Received::Protocol);
    assert!(matches!(
        alice.poll_event(),
        Some(Event::OfferReceived { .. })
    ));
    assert!(alice.poll_transmit().is_none());
}

#[test]
fn garbage_flood_keeps_memory_bounded_and_sessions_working() {
    let mut net = Net::new(8);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    let mut rng = test_rng(9);
    use rand::RngExt;
    for i in 0..20_000u32 {
        let line = match i % 5 {
            0 => format!(
                "?OTR|{:08x}|{:08x}|00000000,00001,00400,{},",
                i,
                0x1234,
                "A".repeat(300)
            ),
            1 => format!("?OTR:{}.", "QUFB".repeat(rng.random_range(1..200))),
            2 => format!("?OTR|{:x}|1|0,{},{},zz,", i % 50, rng.random_range(1..5), 4),
            3 => "?OTR:AFA".to_string() + &"B".repeat(400),
            _ => format!("?OTRvP?{}", "x".repeat(i as usize % 300)),
        };
        net.alice
            .handle_incoming(net.now, &mut net.rng, "mallory", &line);
        net.alice
            .handle_incoming(net.now, &mut net.rng, "bob", &line);
        while net.alice.poll_transmit().is_some() {}
    }
    // 8 incomplete messages of at most 87,400 bytes per peer, plus a pending split line.
    assert!(net.alice.buffered_fragment_bytes() <= 2 * (8 * 87_400 + 87_400));
    net.alice
        .handle_timeout(net.now + 11 * 60 * 1000, &mut net.rng);
    assert!(net.alice.buffered_fragment_bytes() == 0);
    net.now += 11 * 60 * 1000;
    net.bob
        .send(net.now, &mut net.rng, "alice", "still works")
        .unwrap();
    net.pump();
    assert_eq!(net.received_by_alice, vec!["still works"]);
}

#[test]
fn strangers_traffic_is_never_buffered() {
    let mut rng = test_rng(10);
    let mut alice = account(&mut rng, 0xA11CE);
    for i in 0..500u32 {
        let frag = format!(
            "?OTR|{i:08x}|00000101|00000000,00001,00002,{},",
            "QUFB".repeat(80)
        );
        assert_eq!(
            alice.handle_incoming(T0, &mut rng, &format!("nick{}", i % 50), &frag),
            Received::Protocol
        );
    }
    assert_eq!(alice.buffered_fragment_bytes(), 0);
    let offers = std::iter::from_fn(|| alice.poll_event())
        .filter(|e| matches!(e, Event::OfferReceived { .. }))
        .count();
    assert_eq!(offers, 50, "one offer event per stranger per minute");
    assert!(
        alice.poll_transmit().is_none(),
        "nothing is sent to strangers"
    );
}

#[test]
fn messages_in_flight_across_a_rekey_still_decrypt() {
    let mut net = Net::new(11);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    net.bob
        .send(net.now, &mut net.rng, "alice", "sent before the re-key")
        .unwrap();
    let held: Vec<String> = std::iter::from_fn(|| net.bob.poll_transmit())
        .map(|t| t.line)
        .collect();
    net.alice.start(net.now, &mut net.rng, "bob");
    net.pump();
    assert!(
        net.events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { rekey: true, .. }))
    );
    let mut got = Vec::new();
    for line in held {
        if let Received::Message { text } =
            net.alice
                .handle_incoming(net.now, &mut net.rng, "bob", &line)
        {
            got.push(text);
        }
    }
    assert_eq!(got, vec!["sent before the re-key"]);
}

#[test]
fn messages_during_a_stalled_rekey_go_out_at_once_on_the_old_session() {
    let mut net = Net::new(12);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    net.alice.start(net.now, &mut net.rng, "bob");
    while net.alice.poll_transmit().is_some() {} // the Identity is lost
    assert_eq!(
        net.alice
            .send(net.now, &mut net.rng, "bob", "not held up")
            .unwrap(),
        SendOutcome::Sent
    );
    net.pump();
    assert_eq!(net.received_by_bob, vec!["hi", "not held up"]);
    // The re-key times out; the session goes on.
    net.now = net.alice.poll_timeout().unwrap();
    net.alice.handle_timeout(net.now, &mut net.rng);
    net.alice
        .send(net.now, &mut net.rng, "bob", "after")
        .unwrap();
    net.pump();
    assert_eq!(net.received_by_bob, vec!["hi", "not held up", "after"]);
}

#[test]
fn own_profile_is_resigned_before_it_expires() {
    let mut net = Net::new(13);
    let first = net.alice.profile().expiry();
    // Ten days on, bob (who only responds) still offers a valid profile and the DAKE works.
    net.now += 10 * 24 * 3600 * 1000;
    net.bob.handle_timeout(net.now, &mut net.rng);
    net.alice.handle_timeout(net.now, &mut net.rng);
    assert!(net.alice.profile().expiry() > first);
    net.alice
        .send(net.now, &mut net.rng, "bob", "ten days later")
        .unwrap();
    net.pump();
    assert_eq!(net.received_by_bob, vec!["ten days later"]);
}

#[test]
fn session_follows_a_nick_change() {
    let mut net = Net::new(14);
    net.alice.send(net.now, &mut net.rng, "bob", "hi").unwrap();
    net.pump();
    let ssid = net.alice.session_info("bob").ssid;
    // Bob is now "robert" on IRC; alice's side follows (bob's side sees alice unchanged).
    assert!(net.alice.rename_peer("bob", "robert"));
    assert_eq!(net.alice.session_info("robert").ssid, ssid);
    assert_eq!(net.alice.session_info("bob").state, State::Plaintext);
    net.alice
        .send(net.now, &mut net.rng, "robert", "after the nick change")
        .unwrap();
    let t = net.alice.poll_transmit().unwrap();
    assert_eq!(t.peer, "robert");
    let r = net
        .bob
        .handle_incoming(net.now, &mut net.rng, "alice", &t.line);
    assert_eq!(
        r,
        Received::Message {
            text: "after the nick change".into()
        }
    );
}

/// The server drops our Identity: the peer, told nothing came, asks again with a query, and
/// that query makes us send a new Identity instead of waiting out our handshake timeout.
#[test]
fn a_query_while_waiting_for_auth_r_restarts_the_handshake() {
    let mut net = Net::new(60);
    // bob asks; alice's Identity (her answer) is lost on the way.
    net.bob.start(net.now, &mut net.rng, "alice");
    let query = net.bob.poll_transmit().unwrap();
    let _ = net
        .alice
        .handle_incoming(net.now, &mut net.rng, "bob", &query.line);
    while net.alice.poll_transmit().is_some() {}
    assert_eq!(net.alice.session_info("bob").state, State::Handshaking);
    // bob's retry (his own handshake timed out, or the user typed start).
    net.now += 10_000;
    net.bob.start(net.now, &mut net.rng, "alice");
    net.bob
        .send(net.now, &mut net.rng, "alice", "again")
        .unwrap();
    net.pump();
    assert_eq!(net.received_by_alice, vec!["again"]);
    assert_eq!(net.alice.session_info("bob").state, State::Encrypted);
}
