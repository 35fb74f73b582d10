//! The initiator's CT_R sent ahead of its Auth-I (docs/PROTOCOL.md §5.9, §6.1): when it
//! goes, what Auth-I then carries, and what a lost, substituted or stray Ciphertext message
//! does (nothing but a failed DAKE or one request and one Auth-I resent in full).

use super::ahead::{
    ahead_and_auth_r, events, first_contact, kinds, line, messages, private_event,
    query_and_identity, types,
};
use super::*;
use crate::wire::dake::{CiphertextAhead, SENT_AHEAD_REQUEST};

/// Bob's handshake (as initiator) sent CT_R ahead.
fn sent_ahead(a: &Account, peer: &str) -> bool {
    match &a.peers[peer].handshake {
        Handshake::WaitingAuthR { state, .. } => state.ciphertext_sent_ahead(),
        _ => false,
    }
}

/// Alice's handshake (as responder) holds a CT_R sent ahead.
fn holds(a: &Account, peer: &str) -> bool {
    match &a.peers[peer].handshake {
        Handshake::WaitingAuthI { state, .. } => state.holds_ciphertext(),
        _ => false,
    }
}

/// The one Auth-I among `lines`.
fn auth_i_of(lines: &[Transmit]) -> AuthI {
    let all = messages(lines);
    assert_eq!(all.len(), 1);
    AuthI::decode(&all[0]).unwrap()
}

fn ciphertext_message(
    ct: &[u8; crate::crypto::mlkem::CT_LEN],
    sender: u32,
    receiver: u32,
) -> Transmit {
    let msg = CiphertextAhead {
        header: Header {
            msg_type: MessageType::Ciphertext,
            sender,
            receiver,
        },
        ct: Box::new(*ct),
    };
    line(&msg.encode())
}

fn request(sender: u32, receiver: u32) -> Transmit {
    let msg = ProfileRequest {
        header: Header {
            msg_type: MessageType::ProfileRequest,
            sender,
            receiver,
        },
        unknown_hash: SENT_AHEAD_REQUEST,
    };
    line(&msg.encode())
}

/// A valid ML-KEM ciphertext to alice's long-term key that bob did not make.
fn forged_ct(pair: &Pair) -> Box<[u8; crate::crypto::mlkem::CT_LEN]> {
    let (ct, _) = pair.alice.profile().kem_key().encapsulate().unwrap();
    Box::new(*ct.as_bytes())
}

/// A first contact up to bob's Auth-I, nothing of it delivered past what is needed: alice's
/// query, bob's Identity, alice's Profile message (delivered), bob's CT_R sent ahead, alice's
/// Auth-R (delivered) and bob's Auth-I. Returns the Ciphertext and Auth-I lines.
fn up_to_auth_i(pair: &mut Pair) -> (Vec<Transmit>, Vec<Transmit>) {
    let identity = query_and_identity(pair);
    // The query's (LegacyKeyNeeded): none of this.
    events(&mut pair.alice);
    let (ahead, auth_r) = ahead_and_auth_r(pair, &identity);
    pair.deliver_to_bob(&ahead);
    let ct = drain(&mut pair.bob);
    assert_eq!(types(&ct), [MessageType::Ciphertext]);
    assert!(sent_ahead(&pair.bob, "alice"));
    pair.deliver_to_bob(&auth_r);
    let auth_i = drain(&mut pair.bob);
    assert!(auth_i_of(&auth_i).ct_sent_ahead);
    (ct, auth_i)
}

fn no_failure(events: &[Event]) -> bool {
    !events.iter().any(|e| matches!(e, Event::DakeFailed { .. }))
}

#[test]
fn first_contact_with_ct_r_sent_ahead_completes_with_the_same_keys() {
    let mut pair = Pair::new(921);
    let identity = query_and_identity(&mut pair);
    events(&mut pair.alice);
    pair.deliver_to_alice(&identity[..1]);
    let ahead = drain(&mut pair.alice);
    // Alice's profile reaches bob while his Identity is still going out: his CT_R to it
    // follows at once, as normal lines addressed to alice's tag.
    pair.deliver_to_bob(&ahead);
    let ct = drain(&mut pair.bob);
    assert_eq!(types(&ct), [MessageType::Ciphertext]);
    assert!(ct.len() <= 6, "{} lines", ct.len());
    assert!(ct.iter().all(|t| !t.bulk && t.peer == "alice"));
    let msg = CiphertextAhead::decode(&messages(&ct)[0]).unwrap();
    assert_eq!((msg.header.sender, msg.header.receiver), (BOB, ALICE));
    assert!(events(&mut pair.bob).is_empty());
    // The rest of the Identity, then the Ciphertext message: alice holds it, says nothing.
    pair.deliver_to_alice(&identity[1..]);
    let auth_r = drain(&mut pair.alice);
    assert_eq!(types(&auth_r), [MessageType::AuthR]);
    assert!(!holds(&pair.alice, "bob"));
    pair.deliver_to_alice(&ct);
    assert!(holds(&pair.alice, "bob"));
    assert!(drain(&mut pair.alice).is_empty());
    let ev = events(&mut pair.alice);
    assert!(ev.is_empty(), "{ev:?}");
    assert!(pair.alice.peer_profile("bob").is_none());
    // Auth-I refers to it: two normal lines at the 400-byte budget instead of eight.
    pair.deliver_to_bob(&auth_r);
    let auth_i = drain(&mut pair.bob);
    let short = auth_i_of(&auth_i);
    assert!(short.ct_sent_ahead && short.ct_responder.is_none());
    assert_eq!(short.encode().len(), 386);
    assert!(auth_i.len() <= 3, "{} lines", auth_i.len());
    assert!(auth_i.iter().all(|t| !t.bulk));
    pair.deliver_to_alice(&auth_i);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
    let (fp, mode, rekey, _) = private_event(&pair.events_alice);
    assert_eq!(
        (fp, mode, rekey),
        (pair.bob.fingerprint(), dake::Mode::Full, false)
    );
    let (fp, mode, rekey, _) = private_event(&pair.events_bob);
    assert_eq!(
        (fp, mode, rekey),
        (pair.alice.fingerprint(), dake::Mode::Full, false)
    );
    assert!(no_failure(&pair.events_alice) && no_failure(&pair.events_bob));
    // Both derived the same keys: the session carries messages both ways.
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "hi bob")
        .unwrap();
    pair.bob
        .send(pair.now, &mut pair.rng, "alice", "hi alice")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, ["hi bob"]);
    assert_eq!(pair.got_by_alice, ["hi alice"]);
    // Confirmed: the Auth-I kept in full lapsed, and a request gets nothing.
    assert!(pair.bob.peers["alice"].auth_i_resend.is_none());
    pair.deliver_to_bob(&[request(ALICE, BOB)]);
    assert!(drain(&mut pair.bob).is_empty());
}

#[test]
fn events_of_a_first_contact_are_the_same_with_ct_r_sent_ahead() {
    let (_, alice_before, bob_before) = first_contact(922, false);
    let mut pair = Pair::new(922);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let mut from_bob = Vec::new();
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            break;
        }
        from_bob.extend(messages(&b));
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
    pair.collect_events();
    let sent: Vec<MessageType> = from_bob
        .iter()
        .map(|b| Header::peek(b).unwrap().msg_type)
        .collect();
    assert_eq!(
        sent.iter()
            .filter(|t| **t == MessageType::Ciphertext)
            .count(),
        1
    );
    assert!(!sent.contains(&MessageType::ProfileRequest));
    let auth_i = from_bob.iter().find_map(|b| AuthI::decode(b).ok()).unwrap();
    assert!(auth_i.ct_sent_ahead);
    assert_eq!(kinds(&pair.events_alice), kinds(&alice_before));
    assert_eq!(kinds(&pair.events_bob), kinds(&bob_before));
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
}

#[test]
fn a_substituted_ciphertext_message_fails_the_dake_and_leaves_nothing() {
    let mut pair = Pair::new(923);
    let (ct, auth_i) = up_to_auth_i(&mut pair);
    // The server replaces bob's CT_R: alice holds the last one, a valid ciphertext to her
    // key that bob did not make.
    pair.deliver_to_alice(&ct);
    let forged = forged_ct(&pair);
    pair.deliver_to_alice(&[ciphertext_message(&forged, BOB, ALICE)]);
    assert!(holds(&pair.alice, "bob"));
    assert!(events(&mut pair.alice).is_empty());
    pair.deliver_to_alice(&auth_i);
    assert!(
        drain(&mut pair.alice).is_empty(),
        "no confirmation, no request"
    );
    let ev = events(&mut pair.alice);
    assert!(
        matches!(
            ev.as_slice(),
            [Event::DakeFailed {
                error: DakeError::Crypto(_),
                ..
            }]
        ),
        "{ev:?}"
    );
    // Nothing of bob's is cached, shown or trusted; alice still waits for an Auth-I.
    assert!(pair.alice.peer_profile("bob").is_none());
    let info = pair.alice.session_info("bob");
    assert_eq!((info.state, info.fingerprint), (State::Handshaking, None));
    assert!(pair.alice.peers["bob"].accepted.is_empty());
    assert!(pair.alice.peers["bob"].session.is_none());
    assert!(matches!(
        pair.alice.peers["bob"].handshake,
        Handshake::WaitingAuthI {
            ct_requested: false,
            ..
        }
    ));
    // Bob's session stays aside, unconfirmed.
    pair.pump();
    assert_eq!(pair.bob.session_info("alice").state, State::Handshaking);
    assert!(pair.bob.peers["alice"].unconfirmed.is_some());
    assert!(
        !pair
            .events_bob
            .iter()
            .any(|e| matches!(e, Event::Private { .. }))
    );
}

#[test]
fn a_lost_ciphertext_message_costs_one_request_and_one_auth_i_resent_in_full() {
    let mut pair = Pair::new(924);
    let (lost, auth_i) = up_to_auth_i(&mut pair);
    let short = auth_i_of(&auth_i);
    // Alice holds no CT_R: she asks for the Auth-I in full, with the zero hash.
    pair.deliver_to_alice(&auth_i);
    let asked = drain(&mut pair.alice);
    let msgs = messages(&asked);
    assert_eq!(msgs.len(), 1);
    let req = ProfileRequest::decode(&msgs[0]).unwrap();
    assert_eq!(req.unknown_hash, SENT_AHEAD_REQUEST);
    assert_eq!((req.header.sender, req.header.receiver), (ALICE, BOB));
    assert!(events(&mut pair.alice).is_empty());
    // Once per handshake: a replayed Auth-I gets no second request.
    pair.deliver_to_alice(&auth_i);
    assert!(drain(&mut pair.alice).is_empty());
    assert!(events(&mut pair.alice).is_empty());
    // Bob sends the same Auth-I with CT_R in it, once.
    pair.deliver_to_bob(&asked);
    let resent = drain(&mut pair.bob);
    let full = auth_i_of(&resent);
    let lost_ct = CiphertextAhead::decode(&messages(&lost)[0]).unwrap().ct;
    assert_eq!(full.ct_responder.as_deref(), Some(&*lost_ct));
    assert_eq!(
        AuthI {
            ct_responder: None,
            ct_sent_ahead: true,
            ..full
        },
        short,
        "same sigma_I and confirm"
    );
    pair.deliver_to_bob(&asked);
    assert!(drain(&mut pair.bob).is_empty(), "resent twice");
    pair.deliver_to_alice(&resent);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
    assert!(no_failure(&pair.events_alice) && no_failure(&pair.events_bob));
}

#[test]
fn no_ciphertext_goes_ahead_with_a_psk_or_after_the_held_profile_changed() {
    // A PSK offered (a re-key): bob's Identity, and Auth-I in PSK mode, even when alice's
    // profile arrives ahead.
    let mut pair = Pair::established(925);
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    assert_eq!(types(&drain(&mut pair.bob)), [MessageType::Identity]);
    let alice_profile = pair.alice.profile().as_bytes().to_vec();
    let msg = crate::wire::dake::ProfileAhead {
        header: Header {
            msg_type: MessageType::Profile,
            sender: ALICE,
            receiver: BOB,
        },
        profile: alice_profile,
    };
    pair.deliver_to_bob(&[line(&msg.encode())]);
    assert!(drain(&mut pair.bob).is_empty());
    assert!(!sent_ahead(&pair.bob, "alice"));

    // The held profile replaced (a substituted one first, under alice's tag): no second
    // CT_R, and Auth-I carries a fresh one in full.
    let mut pair = Pair::new(926);
    let identity = query_and_identity(&mut pair);
    let (ahead, auth_r) = ahead_and_auth_r(&mut pair, &identity);
    let carol = {
        let keys = LongTermKeys::generate(&mut test_rng(1926)).unwrap();
        ClientProfile::sign(
            &keys,
            ALICE,
            crate::testing::TEST_NOW_UNIX + crate::profile::DEFAULT_PROFILE_LIFETIME_SECS,
        )
        .unwrap()
    };
    let msg = crate::wire::dake::ProfileAhead {
        header: Header {
            msg_type: MessageType::Profile,
            sender: ALICE,
            receiver: BOB,
        },
        profile: carol.as_bytes().to_vec(),
    };
    pair.deliver_to_bob(&[line(&msg.encode())]);
    let to_carol = drain(&mut pair.bob);
    assert_eq!(types(&to_carol), [MessageType::Ciphertext]);
    pair.deliver_to_bob(&ahead);
    assert!(drain(&mut pair.bob).is_empty(), "a second CT_R");
    pair.deliver_to_bob(&auth_r);
    let auth_i = drain(&mut pair.bob);
    let full = auth_i_of(&auth_i);
    let carols_ct = CiphertextAhead::decode(&messages(&to_carol)[0]).unwrap().ct;
    assert!(!full.ct_sent_ahead);
    assert!(full.ct_responder.is_some());
    assert_ne!(full.ct_responder.as_deref(), Some(&*carols_ct));
    assert!(pair.bob.peers["alice"].auth_i_resend.is_none());
    // Alice held the CT_R made for Carol's key; the full Auth-I does not use it.
    pair.deliver_to_alice(&to_carol);
    assert!(holds(&pair.alice, "bob"));
    pair.deliver_to_alice(&auth_i);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert!(no_failure(&pair.events_alice) && no_failure(&pair.events_bob));
}

#[test]
fn a_stray_ciphertext_message_changes_nothing() {
    let mut pair = Pair::new(927);
    let forged = forged_ct(&pair);
    let check = |pair: &mut Pair, msg: &Transmit, what: &str| {
        let before = pair.alice.session_info("bob");
        let cached = pair.alice.peer_profile("bob").map(|p| *p.hash());
        pair.deliver_to_alice(std::slice::from_ref(msg));
        assert_eq!(pair.alice.session_info("bob"), before, "{what}");
        assert!(!holds(&pair.alice, "bob"), "{what}");
        assert!(drain(&mut pair.alice).is_empty(), "{what}");
        assert!(events(&mut pair.alice).is_empty(), "{what}");
        let after = pair.alice.peer_profile("bob").map(|p| *p.hash());
        assert_eq!(after, cached, "{what}");
    };
    let good = ciphertext_message(&forged, BOB, ALICE);
    // No handshake at all, a query sent, and our own Identity out (alice the initiator).
    check(&mut pair, &good, "idle");
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    drain(&mut pair.alice);
    events(&mut pair.alice);
    check(&mut pair, &good, "query sent");
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    drain(&mut pair.alice);
    events(&mut pair.alice);
    check(&mut pair, &good, "waiting for Auth-R");
    // Waiting for bob's Auth-I: from another tag, to another tag, or malformed.
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.alice.peers.get_mut("bob").unwrap().profile = None;
    let identity = query_and_identity(&mut pair);
    pair.deliver_to_alice(&identity);
    drain(&mut pair.alice);
    events(&mut pair.alice);
    assert!(matches!(
        pair.alice.peers["bob"].handshake,
        Handshake::WaitingAuthI { .. }
    ));
    check(
        &mut pair,
        &ciphertext_message(&forged, 0x999, ALICE),
        "other sender",
    );
    check(
        &mut pair,
        &ciphertext_message(&forged, BOB, 0x999),
        "other receiver",
    );
    check(
        &mut pair,
        &ciphertext_message(&forged, BOB, 0),
        "no receiver",
    );
    check(
        &mut pair,
        &ciphertext_message(&forged, ALICE, ALICE),
        "our own",
    );
    let mut short = CiphertextAhead {
        header: Header {
            msg_type: MessageType::Ciphertext,
            sender: BOB,
            receiver: ALICE,
        },
        ct: forged.clone(),
    }
    .encode();
    short.pop();
    check(&mut pair, &line(&short), "truncated");
    // From bob, addressed to alice: held (and only that).
    pair.deliver_to_alice(&[good]);
    assert!(holds(&pair.alice, "bob"));
    assert!(drain(&mut pair.alice).is_empty());
    assert!(events(&mut pair.alice).is_empty());
}

#[test]
fn glare_with_ct_r_sent_ahead_resolves() {
    // Both know each other's profile and hold no PSK: both start at once, each sends its
    // Identity and its CT_R right behind it.
    let mut pair = Pair::established(928);
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.pump();
    pair.alice.peers.get_mut("bob").unwrap().psk = None;
    pair.bob.peers.get_mut("alice").unwrap().psk = None;
    pair.events_alice.clear();
    pair.events_bob.clear();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    let mut sent = Vec::new();
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            break;
        }
        sent.extend(messages(&a));
        sent.extend(messages(&b));
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
    pair.collect_events();
    let kinds: Vec<MessageType> = sent
        .iter()
        .map(|b| Header::peek(b).unwrap().msg_type)
        .collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|t| **t == MessageType::Ciphertext)
            .count(),
        2
    );
    assert!(!kinds.contains(&MessageType::ProfileRequest));
    // The side that stayed initiator referred to its CT_R, which the other held.
    let auth_i: Vec<AuthI> = sent.iter().filter_map(|b| AuthI::decode(b).ok()).collect();
    assert_eq!(auth_i.len(), 1);
    assert!(auth_i[0].ct_sent_ahead);
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
    assert_eq!(private_event(&pair.events_alice).1, dake::Mode::Full);
    assert!(no_failure(&pair.events_alice) && no_failure(&pair.events_bob));
}

#[test]
fn a_dake_from_a_cached_profile_without_psk_sends_ct_r_ahead() {
    let mut pair = Pair::new(929);
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let out = drain(&mut pair.alice);
    // The Identity (its lines first), then CT_R to bob's cached profile, normal lines.
    assert_eq!(
        types(&out),
        [MessageType::Identity, MessageType::Ciphertext]
    );
    assert!(out.iter().all(|t| !t.bulk));
    let msgs = messages(&out);
    let ct = CiphertextAhead::decode(&msgs[1]).unwrap();
    assert_eq!((ct.header.sender, ct.header.receiver), (ALICE, BOB));
    pair.deliver_to_bob(&out);
    assert!(holds(&pair.bob, "alice"));
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    let auth_i = drain(&mut pair.alice);
    assert!(auth_i_of(&auth_i).ct_sent_ahead);
    assert!(auth_i.len() <= 3);
    pair.deliver_to_bob(&auth_i);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
    assert!(no_failure(&pair.events_alice) && no_failure(&pair.events_bob));
}

#[test]
fn an_early_message_behind_an_auth_i_whose_ct_r_was_lost_goes_again_behind_the_full_auth_i() {
    // Alice starts from bob's cached profile with a message queued: Identity, CT_R ahead.
    let mut pair = Pair::new(930);
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    // One line per message, to lose the Ciphertext message alone.
    pair.alice.set_budget("bob", 100_000);
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "early")
        .unwrap();
    let out = drain(&mut pair.alice);
    assert_eq!(
        types(&out),
        [MessageType::Identity, MessageType::Ciphertext]
    );
    assert_eq!(out.len(), 2);
    pair.deliver_to_bob(&out[..1]);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    // Auth-I refers to CT_R; the queued message goes right behind it (sent early).
    let out = drain(&mut pair.alice);
    assert_eq!(types(&out), [MessageType::AuthI, MessageType::Data]);
    events(&mut pair.bob);
    pair.deliver_to_bob(&out);
    // Bob asked for Auth-I in full and cannot read the message yet: he drops it quietly.
    let ev = events(&mut pair.bob);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Unreadable { .. })),
        "{ev:?}"
    );
    assert!(pair.got_by_bob.is_empty());
    let request = drain(&mut pair.bob);
    assert_eq!(
        types(&request),
        [MessageType::ProfileRequest],
        "no OTR error"
    );
    // Alice sends Auth-I in full and the message again behind it.
    pair.deliver_to_alice(&request);
    let again = drain(&mut pair.alice);
    assert_eq!(types(&again), [MessageType::AuthI, MessageType::Data]);
    pair.deliver_to_bob(&again);
    assert_eq!(pair.got_by_bob, ["early"]);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(pair.got_by_bob, ["early"], "once");
    assert_eq!(pair.alice.session_info("bob").queued, 0);
    let ev = events(&mut pair.bob);
    assert!(
        !ev.iter().any(|e| matches!(e, Event::Unreadable { .. })),
        "{ev:?}"
    );
}

/// A known limitation (SECURITY.md): the request for Auth-I in full is unauthenticated, so a
/// server that forges it after the responder has read the early messages, before its
/// confirmation reaches the initiator, gets them sent again, and the responder shows them
/// twice. Once per handshake, only while the session waits for its confirmation; nothing is
/// readable to anyone but the responder.
#[test]
fn a_forged_request_for_auth_i_in_full_can_show_an_early_message_twice_once() {
    let mut pair = Pair::new(931);
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    pair.alice.set_budget("bob", 100_000);
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "early")
        .unwrap();
    let out = drain(&mut pair.alice);
    pair.deliver_to_bob(&out);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    let out = drain(&mut pair.alice);
    assert_eq!(types(&out), [MessageType::AuthI, MessageType::Data]);
    pair.deliver_to_bob(&out);
    assert_eq!(pair.got_by_bob, ["early"]);
    let confirmation = drain(&mut pair.bob);
    // The server holds bob's confirmation back and forges his request, twice.
    for _ in 0..2 {
        pair.deliver_to_alice(&[request(BOB, ALICE)]);
    }
    let again = drain(&mut pair.alice);
    assert_eq!(
        types(&again),
        [MessageType::AuthI, MessageType::Data],
        "once"
    );
    pair.deliver_to_bob(&again);
    assert_eq!(pair.got_by_bob, ["early", "early"]);
    // After the confirmation a forged request does nothing.
    pair.deliver_to_alice(&confirmation);
    let after_commit = drain(&mut pair.alice); // her attestation, KEM material
    pair.deliver_to_alice(&[request(BOB, ALICE)]);
    assert!(drain(&mut pair.alice).is_empty());
    pair.deliver_to_bob(&after_commit);
    pair.pump();
    assert_eq!(pair.got_by_bob, ["early", "early"]);
}
