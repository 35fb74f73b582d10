//! Our own handshake messages reflected back to us are refused before anything happens.

use super::*;

/// What a reflected message must not change, captured before it arrives.
struct Snapshot {
    info: SessionInfo,
    profile: Option<Fingerprint>,
    glare: Option<[u8; 32]>,
}

fn snapshot(a: &Account, peer: &str) -> Snapshot {
    let p = &a.peers[peer];
    Snapshot {
        info: a.session_info(peer),
        profile: p.profile.as_ref().map(|pr| *pr.fingerprint()),
        glare: match &p.handshake {
            Handshake::WaitingAuthR { state, .. } => Some(state.glare_key()),
            _ => None,
        },
    }
}

fn assert_unchanged(a: &mut Account, peer: &str, before: &Snapshot) {
    let after = snapshot(a, peer);
    assert_eq!(after.info, before.info);
    assert_eq!(after.profile, before.profile);
    assert_eq!(after.glare, before.glare, "our handshake is untouched");
    let sent = drain(a);
    assert!(
        sent.is_empty(),
        "answered its own message: {} lines",
        sent.len()
    );
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(events.is_empty(), "{events:?}");
}

fn reflect(a: &mut Account, rng: &mut StdRng, lines: &[Transmit]) {
    for t in lines {
        a.handle_incoming(T0, rng, "bob", &t.line);
    }
}

#[test]
fn reflected_identity_with_full_profile_is_ignored() {
    let mut rng = test_rng(201);
    let mut alice = account(&mut rng, ALICE, Policy::default());
    let bob = account(&mut rng, BOB, Policy::default());
    alice.set_auto_respond("bob", true);
    alice
        .remember_peer_profile("bob", bob.profile().as_bytes(), T0)
        .unwrap();
    alice.start(T0, &mut rng, "bob");
    let identity = drain(&mut alice);
    assert!(identity.len() > 1, "our full profile goes out");
    let before = snapshot(&alice, "bob");
    assert!(before.glare.is_some());
    reflect(&mut alice, &mut rng, &identity);
    assert_unchanged(&mut alice, "bob", &before);
    // Also when no handshake of ours runs any more: our own profile is never answered.
    alice.finish(T0, &mut rng, "bob");
    let before = snapshot(&alice, "bob");
    reflect(&mut alice, &mut rng, &identity);
    assert_unchanged(&mut alice, "bob", &before);
}

#[test]
fn reflected_identity_by_hash_during_a_rekey_is_ignored() {
    let mut pair = Pair::established(202);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let identity = drain(&mut pair.alice);
    let before = snapshot(&pair.alice, "bob");
    assert!(before.glare.is_some());
    reflect(&mut pair.alice, &mut pair.rng, &identity);
    assert_unchanged(&mut pair.alice, "bob", &before);
    // The real re-key still completes.
    pair.deliver_to_bob(&identity);
    pair.pump();
    assert!(
        pair.events_alice
            .iter()
            .any(|e| matches!(e, Event::Private { rekey: true, .. }))
    );
}

#[test]
fn reflected_auth_r_is_ignored() {
    // Alice answers bob's Identity with an Auth-R. Handed back to alice, re-addressed to her,
    // while she waits for an Auth-R of her own, it carries her own tag and profile.
    let mut pair = Pair::new(203);
    let auth_r = pair.alice_auth_r();
    assert_eq!(auth_r.len(), 1, "one unfragmented line");
    let mut msg = AuthR::decode(&envelope::decode(&auth_r[0].line).unwrap()).unwrap();
    assert!(matches!(msg.profile, ProfileRef::Full(_)));
    msg.header.receiver = ALICE;
    let reflected = Transmit {
        peer: "alice".into(),
        line: envelope::encode(&msg.encode()),
        bulk: false,
    };

    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    drain(&mut pair.alice);
    while pair.alice.poll_event().is_some() {}
    let before = snapshot(&pair.alice, "bob");
    let verified = crate::profile::verifications();
    reflect(&mut pair.alice, &mut pair.rng, &[reflected]);
    assert_unchanged(&mut pair.alice, "bob", &before);
    assert_eq!(
        crate::profile::verifications(),
        verified,
        "refused unverified"
    );
}

#[test]
fn identity_carrying_our_ephemeral_keys_is_ignored() {
    let mut pair = Pair::established(204);
    pair.alice.set_budget("bob", 100_000);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let ours =
        Identity::decode(&envelope::decode(&drain(&mut pair.alice)[0].line).unwrap()).unwrap();
    // A stranger's valid Identity with alice's own ephemeral keys copied in.
    let mut rng = test_rng(205);
    let mut mallory = account(&mut rng, 0xBAD, Policy::default());
    mallory
        .remember_peer_profile("alice", pair.alice.profile().as_bytes(), T0)
        .unwrap();
    mallory.set_budget("alice", 100_000);
    mallory.start(T0, &mut rng, "alice");
    let mut theirs =
        Identity::decode(&envelope::decode(&drain(&mut mallory)[0].line).unwrap()).unwrap();
    theirs.y = ours.y;
    theirs.x = ours.x;
    let line = Transmit {
        peer: "alice".into(),
        line: envelope::encode(&theirs.encode()),
        bulk: false,
    };
    let before = snapshot(&pair.alice, "bob");
    while pair.alice.poll_event().is_some() {}
    reflect(&mut pair.alice, &mut pair.rng, &[line]);
    assert_unchanged(&mut pair.alice, "bob", &before);
}

#[test]
fn reflected_auth_i_is_ignored() {
    // Alice's Auth-I of one handshake, re-addressed to her while she answers another.
    let mut pair = Pair::established(206);
    pair.alice.set_budget("bob", 100_000);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let identity = drain(&mut pair.alice);
    pair.deliver_to_bob(&identity);
    let auth_r = drain(&mut pair.bob);
    pair.deliver_to_alice(&auth_r);
    let auth_i = drain(&mut pair.alice);
    assert_eq!(auth_i.len(), 1);
    let mut msg = AuthI::decode(&envelope::decode(&auth_i[0].line).unwrap()).unwrap();
    assert_eq!(msg.header.sender, ALICE);
    msg.header.receiver = ALICE;
    let reflected = Transmit {
        peer: "alice".into(),
        line: envelope::encode(&msg.encode()),
        bulk: false,
    };
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    let identity = drain(&mut pair.bob);
    pair.deliver_to_alice(&identity);
    drain(&mut pair.alice);
    while pair.alice.poll_event().is_some() {}
    assert!(matches!(
        pair.alice.peers["bob"].handshake,
        Handshake::WaitingAuthI { .. }
    ));
    let before = snapshot(&pair.alice, "bob");
    reflect(&mut pair.alice, &mut pair.rng, &[reflected]);
    assert_unchanged(&mut pair.alice, "bob", &before);
    assert!(matches!(
        pair.alice.peers["bob"].handshake,
        Handshake::WaitingAuthI { .. }
    ));
}

#[test]
fn reflected_data_messages_are_dropped_without_a_report() {
    let mut pair = Pair::established(205);
    // A data message of alice's, reflected to her as if from bob.
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "mine")
        .unwrap();
    let data = drain(&mut pair.alice);
    assert_eq!(data.len(), 1);
    std::iter::from_fn(|| pair.alice.poll_event()).for_each(drop);
    let before = snapshot(&pair.alice, "bob");
    let mut rng = test_rng(206);
    reflect(&mut pair.alice, &mut rng, &data);
    assert_unchanged(&mut pair.alice, "bob", &before);
}
