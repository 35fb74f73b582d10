//! Strangers are bounded in number and memory; the user's peers always keep a slot.

use super::*;
use crate::limits::{MAX_STRANGER_FRAGMENT_BYTES, MAX_STRANGERS};

/// A stranger's valid Identity as one line with its full profile, the same naming the
/// profile by hash, and an incomplete fragment.
fn stranger_lines(rng: &mut StdRng, target: &Account) -> (String, String, String) {
    let mut mallory = account(rng, 0xBAD, Policy::default());
    mallory
        .remember_peer_profile("victim", target.profile().as_bytes(), T0)
        .unwrap();
    mallory.set_budget("victim", 100_000);
    mallory.start(T0, rng, "victim");
    let identity = drain(&mut mallory);
    // The Identity, then CT_R sent ahead to the cached profile (docs/PROTOCOL.md §5.9).
    assert_eq!(identity.len(), 2);
    let full = identity[0].line.clone();
    let mut msg = Identity::decode(&envelope::decode(&full).unwrap()).unwrap();
    msg.profile = ProfileRef::Hash(*mallory.profile().hash());
    let by_hash = envelope::encode(&msg.encode());
    let fragment = format!(
        "?OTR|00c0ffee|00000bad|00000000,00001,00002,{},",
        "QUFB".repeat(90)
    );
    (full, by_hash, fragment)
}

/// Runs a DAKE between `a` (as `a_name` to `b`) and `b` (as `b_name` to `a`), `b` initiating.
fn handshake(
    rng: &mut StdRng,
    now: u64,
    a: &mut Account,
    a_name: &str,
    b: &mut Account,
    b_name: &str,
) {
    b.start(now, rng, a_name);
    loop {
        let to_a = drain(b);
        let to_b = drain(a);
        if to_a.is_empty() && to_b.is_empty() {
            break;
        }
        for t in to_a {
            a.handle_incoming(now, rng, b_name, &t.line);
        }
        for t in to_b {
            b.handle_incoming(now, rng, a_name, &t.line);
        }
    }
}

#[test]
fn thousands_of_accepted_strangers_stay_bounded() {
    let mut pair = Pair::established(501);
    let mut rng = test_rng(502);
    let (full, by_hash, fragment) = stranger_lines(&mut rng, &pair.alice);
    let mut answered = 0;
    for i in 0..5_000u64 {
        let nick = format!("stranger{i}");
        pair.now = T0 + i * 10;
        // An offer (a fragment), accepted as the shell does with accept_strangers on.
        pair.alice
            .handle_incoming(pair.now, &mut pair.rng, &nick, &fragment);
        while let Some(e) = pair.alice.poll_event() {
            if let Event::OfferReceived { peer } = e {
                assert!(pair.alice.set_accept_offers(&peer, true, pair.now));
            }
        }
        pair.alice
            .handle_incoming(pair.now, &mut pair.rng, &nick, &fragment);
        // Every tenth Identity carries the full profile and leaves a handshake behind (an
        // Auth-R costs ~10 ms, so not all 5,000 do); the others name an unknown profile by
        // hash and are answered with a Profile-Request.
        let identity = if i % 10 == 0 { &full } else { &by_hash };
        pair.alice
            .handle_incoming(pair.now, &mut pair.rng, &nick, identity);
        answered += drain(&mut pair.alice)
            .iter()
            .filter(|t| t.peer == nick)
            .count()
            .min(1);
        assert!(pair.alice.peer_count() <= MAX_STRANGERS + 1, "at {i}");
        assert!(pair.alice.buffered_fragment_bytes() <= MAX_STRANGER_FRAGMENT_BYTES);
    }
    assert_eq!(answered, 5_000, "every accepted stranger was answered");
    assert!(
        pair.alice.buffered_fragment_bytes() > 0,
        "strangers' fragments are buffered"
    );
    let handshakes = pair
        .alice
        .peers
        .values()
        .filter(|p| p.handshake.is_running())
        .count();
    assert!(handshakes > 0 && handshakes <= MAX_STRANGERS);

    // The established peer's session still delivers, both ways.
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "still here")
        .unwrap();
    pair.bob
        .send(pair.now, &mut pair.rng, "alice", "me too")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, vec!["still here"]);
    assert_eq!(pair.got_by_alice, vec!["me too"]);

    // A peer the user opts in now gets a slot, and a session.
    pair.alice.set_auto_respond("carol", true);
    assert!(pair.alice.peers.contains_key("carol"));
    let mut carol = account(&mut rng, 0xCA201, Policy::default());
    carol.set_auto_respond("alice", true);
    handshake(
        &mut rng,
        pair.now,
        &mut pair.alice,
        "alice",
        &mut carol,
        "carol",
    );
    assert_eq!(pair.alice.session_info("carol").state, State::Encrypted);
    assert_eq!(carol.session_info("alice").state, State::Encrypted);
    assert!(pair.alice.peer_count() <= MAX_STRANGERS + 2);
}

#[test]
fn strangers_share_one_fragment_budget() {
    let mut rng = test_rng(503);
    let mut alice = account(&mut rng, ALICE, Policy::default());
    alice.set_auto_respond("bob", true);
    let piece = "QUFB".repeat(20_000);
    let mut now = T0;
    // Twenty accepted strangers, each filling its 8 incomplete messages with 80 KB pieces.
    for s in 0..20u32 {
        let nick = format!("stranger{s}");
        assert!(alice.set_accept_offers(&nick, true, now));
        for m in 0..8u32 {
            now += 1;
            let line = format!(
                "?OTR|{:08x}|00000bad|00000000,00001,00002,{piece},",
                s * 8 + m
            );
            alice.handle_incoming(now, &mut rng, &nick, &line);
            assert!(alice.buffered_fragment_bytes() <= MAX_STRANGER_FRAGMENT_BYTES);
        }
    }
    assert!(alice.buffered_fragment_bytes() > MAX_STRANGER_FRAGMENT_BYTES / 2);
    // The user's own peer is not a stranger: its buffers are its own (per-peer bound only).
    for m in 0..8u32 {
        let line = format!(
            "?OTR|{:08x}|00000b0b|00000000,00001,00002,{piece},",
            1000 + m
        );
        alice.handle_incoming(now, &mut rng, "bob", &line);
    }
    assert!(alice.peers["bob"].buffered_bytes() >= 8 * piece.len());
    // The most recent stranger kept its buffers; the oldest were evicted.
    assert!(alice.peers.contains_key("stranger19"));
    assert!(!alice.peers.contains_key("stranger0"));
}
