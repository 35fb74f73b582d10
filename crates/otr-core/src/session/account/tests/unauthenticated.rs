//! What an unauthenticated handshake message may change: nothing that outlives the handshake.

use super::*;

/// The Identity (as lines) a third party with keys of its own sends to `target`, which will
/// read it as coming from whatever nick the caller delivers it under.
pub(in crate::session::account) fn stranger_identity(
    rng: &mut StdRng,
    target: &Account,
    tag: u32,
) -> Vec<Transmit> {
    let mut mallory = account(rng, tag, Policy::default());
    mallory
        .remember_peer_profile("victim", target.profile().as_bytes(), T0)
        .unwrap();
    mallory.start(T0, rng, "victim");
    let lines = drain(&mut mallory);
    assert!(lines.len() > 1, "an Identity with a full profile");
    lines
}

#[test]
fn identity_from_a_stranger_caches_nothing() {
    let mut pair = Pair::established(101);
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.pump();
    let bob_fp = pair.bob.fingerprint();
    assert_eq!(pair.alice.session_info("bob").state, State::Plaintext);
    assert_eq!(pair.alice.session_info("bob").fingerprint, Some(bob_fp));

    let forged = stranger_identity(&mut pair.rng, &pair.alice, 0xBAD);
    pair.deliver_to_alice(&forged);
    assert!(
        drain(&mut pair.alice).iter().any(|t| t.peer == "bob"),
        "alice answers (she cannot know it is not bob yet)"
    );
    let still_bob = |a: &Account| {
        assert_eq!(
            a.peer_profile("bob").map(|p| *p.fingerprint()),
            Some(bob_fp)
        );
        assert_eq!(a.session_info("bob").fingerprint, Some(bob_fp));
    };
    still_bob(&pair.alice);
    // The handshake is never completed; when it times out nothing of it remains.
    let t = pair.alice.poll_timeout().unwrap();
    pair.alice.handle_timeout(t, &mut pair.rng);
    still_bob(&pair.alice);
    // And the next session with the real bob works as before.
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "hi")
        .unwrap();
    pair.pump();
    assert_eq!(pair.got_by_bob, vec!["hi"]);
    still_bob(&pair.alice);
}

#[test]
fn identity_from_a_stranger_caches_nothing_for_a_new_peer() {
    let mut rng = test_rng(102);
    let mut alice = account(&mut rng, ALICE, Policy::default());
    alice.set_auto_respond("bob", true);
    let forged = stranger_identity(&mut rng, &alice, 0xBAD);
    for t in &forged {
        alice.handle_incoming(T0, &mut rng, "bob", &t.line);
    }
    assert!(!drain(&mut alice).is_empty());
    assert!(alice.peer_profile("bob").is_none());
    assert_eq!(alice.session_info("bob").fingerprint, None);
}

/// `lines` (one unfragmented `?OTR:` line) as a binary message.
fn binary(lines: &[Transmit]) -> Vec<u8> {
    assert_eq!(lines.len(), 1, "one unfragmented line");
    envelope::decode(&lines[0].line).unwrap()
}

#[test]
fn auth_r_with_no_handshake_waiting_verifies_nothing() {
    let mut pair = Pair::new(301);
    // Alice's query, bob's Identity, and alice's Auth-R with her full profile.
    let auth_r = pair.alice_auth_r();
    assert!(matches!(
        AuthR::decode(&binary(&auth_r)).unwrap().profile,
        ProfileRef::Full(_)
    ));
    // Bob gave up on that handshake: the Auth-R finds nothing waiting for it.
    pair.bob.finish(pair.now, &mut pair.rng, "alice");
    while pair.bob.poll_event().is_some() {}
    let verified = crate::profile::verifications();
    pair.deliver_to_bob(&auth_r);
    assert_eq!(crate::profile::verifications(), verified);
    assert!(pair.bob.poll_event().is_none(), "no DakeFailed either");
    assert!(drain(&mut pair.bob).is_empty());
}

#[test]
fn identity_whose_profile_names_another_owner_verifies_nothing() {
    let mut rng = test_rng(302);
    let mut alice = account(&mut rng, ALICE, Policy::default());
    alice.set_auto_respond("bob", true);
    let mut mallory = account(&mut rng, 0xBAD, Policy::default());
    mallory
        .remember_peer_profile("alice", alice.profile().as_bytes(), T0)
        .unwrap();
    mallory.set_budget("alice", 100_000);
    mallory.start(T0, &mut rng, "alice");
    // The Identity (its CT_R sent ahead follows it).
    let mut msg = Identity::decode(&binary(&drain(&mut mallory)[..1])).unwrap();
    msg.header.sender = 0xB0B;
    let line = envelope::encode(&msg.encode());
    let verified = crate::profile::verifications();
    alice.handle_incoming(T0, &mut rng, "bob", &line);
    assert_eq!(crate::profile::verifications(), verified);
    assert!(drain(&mut alice).is_empty());
    assert!(matches!(
        alice.poll_event(),
        Some(Event::DakeFailed {
            error: DakeError::Profile(ProfileError::InstanceTag),
            ..
        })
    ));
}
