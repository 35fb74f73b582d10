//! OTRv3 policy in the account: downgrade pinning (also for a nick pinned from the trust
//! store after a restart), versions per nick, and what is offered.

use super::*;

fn events(a: &mut Account) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

fn with_dsa(rng: &mut StdRng) -> Account {
    let mut a = account(rng, ALICE, Policy::default());
    a.set_legacy_identity(otr3::testing::alice_key(), T0, rng);
    a.set_auto_respond("bob", true);
    a
}

#[test]
fn a_nick_pinned_from_the_trust_store_gets_no_otrv3() {
    let mut rng = test_rng(31);
    let mut alice = with_dsa(&mut rng);
    // After a restart the shell pins the OTRv4+ keys it stored for bob.
    alice.pin_key("bob", &Fingerprint([7; 56]));
    alice.start(T0, &mut rng, "bob");
    let query: Vec<String> = drain(&mut alice).into_iter().map(|t| t.line).collect();
    assert!(
        query[0].starts_with("?OTRvP?"),
        "no OTRv3 offered: {query:?}"
    );
    // An OTRv3 query from "bob" (a server stripping OTRv4+): nothing answered, user told.
    let r = alice.handle_incoming(T0, &mut rng, "bob", "?OTRv23?");
    assert_eq!(r, Received::Protocol);
    assert!(drain(&mut alice).is_empty());
    let ev = events(&mut alice);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::DowngradeRefused { version: 3, .. })),
        "{ev:?}"
    );
    // A D-H Commit as an OTRv3 client would send it: refused the same way, silently now
    // (the report is rate-limited), and nothing answered.
    let mut v3 = otr3::contact::Contact::new();
    v3.start(&mut rng, 3, T0);
    for line in v3.poll_lines(0x1234, 400) {
        alice.handle_incoming(T0 + 1, &mut rng, "bob", &line);
    }
    assert!(drain(&mut alice).is_empty());
    assert!(events(&mut alice).is_empty());
    // Still waiting for an OTRv4+ answer to its own query; no OTRv3 session.
    let info = alice.session_info("bob");
    assert_eq!(info.state, State::Handshaking);
    assert_eq!(info.protocol, None);
}

#[test]
fn an_unpinned_nick_is_offered_otrv3_unless_turned_off_for_it() {
    let mut rng = test_rng(32);
    let mut alice = with_dsa(&mut rng);
    alice.start(T0, &mut rng, "bob");
    assert!(drain(&mut alice)[0].line.starts_with("?OTRvP3?"));
    alice.set_legacy_versions(
        "bob",
        Some(otr3::contact::Versions {
            v3: false,
            v2: false,
        }),
    );
    alice.start(T0, &mut rng, "bob");
    assert!(drain(&mut alice)[0].line.starts_with("?OTRvP?"));
    // OTRv3 off for bob: its offer is refused as not allowed (not as a downgrade).
    alice.handle_incoming(T0, &mut rng, "bob", "?OTRv3?");
    let ev = events(&mut alice);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::VersionNotAllowed { version: 3, .. })),
        "{ev:?}"
    );
    assert!(drain(&mut alice).is_empty());
    // Back to the policy: an OTRv3 query is answered with a D-H Commit.
    alice.set_legacy_versions("bob", None);
    alice.handle_incoming(T0, &mut rng, "bob", "?OTRv3?");
    let out = drain(&mut alice);
    assert!(
        out.iter().any(|t| t.line.starts_with("?OTR:AAMC")),
        "{out:?}"
    );
}

#[test]
fn otrv2_is_never_spoken_by_default() {
    let mut rng = test_rng(33);
    let mut alice = with_dsa(&mut rng);
    alice.handle_incoming(T0, &mut rng, "bob", "?OTRv2?");
    assert!(drain(&mut alice).is_empty());
    let ev = events(&mut alice);
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::VersionNotAllowed { version: 2, .. })),
        "{ev:?}"
    );
}

/// An in-memory OTRv3 peer (the otr3 crate as "bob") made private with alice's account.
fn private_with_v3_peer(
    rng: &mut StdRng,
) -> (Account, otr3::contact::Contact, otr3::dsa::PrivateKey) {
    let mut alice = with_dsa(rng);
    let (bob, bob_key) = v3_ake(&mut alice, rng);
    assert_eq!(alice.session_info("bob").protocol, Some(Protocol::V3));
    (alice, bob, bob_key)
}

/// Runs an OTRv3 AKE between `alice` and an in-memory "bob" (bob's DSA key is the crate's
/// test key) started by bob's query, relaying until quiet.
fn v3_ake(
    alice: &mut Account,
    rng: &mut StdRng,
) -> (otr3::contact::Contact, otr3::dsa::PrivateKey) {
    let bob_key = otr3::testing::bob_key();
    let bob_fp = bob_key.public().fingerprint();
    let mut bob = otr3::contact::Contact::new();
    let versions = otr3::contact::Versions {
        v3: true,
        v2: false,
    };
    alice.handle_incoming(T0, rng, "bob", "?OTRv3?");
    let mut to_bob: Vec<String> = drain(alice).into_iter().map(|t| t.line).collect();
    for _ in 0..10 {
        if to_bob.is_empty() {
            break;
        }
        let local = otr3::conversation::Local {
            key: &bob_key,
            fingerprint: &bob_fp,
            tag: 0x0b0b,
            pad_block: 0,
        };
        for line in &to_bob {
            bob.receive(rng, &local, versions, line, T0);
        }
        for line in bob.poll_lines(0x0b0b, 400) {
            alice.handle_incoming(T0, rng, "bob", &line);
        }
        to_bob = drain(alice).into_iter().map(|t| t.line).collect();
    }
    (bob, bob_key)
}

#[test]
fn an_idle_otrv3_conversation_expires_like_an_otrv4_one() {
    let mut rng = test_rng(34);
    let (mut alice, _bob, _key) = private_with_v3_peer(&mut rng);
    events(&mut alice);
    let expiry = Policy::default().idle_expiry_ms;
    // The deadline is announced, and nothing happens before it.
    assert_eq!(alice.poll_timeout().map(|t| t <= T0 + expiry), Some(true));
    alice.handle_timeout(T0 + expiry - 1, &mut rng);
    assert_eq!(alice.session_info("bob").state, State::Encrypted);
    alice.handle_timeout(T0 + expiry, &mut rng);
    let ev = events(&mut alice);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::SessionEnded {
                reason: EndReason::Expired,
                ..
            }
        )),
        "{ev:?}"
    );
    // The peer is told (a disconnect data message), and nothing more can be sent privately.
    let out = drain(&mut alice);
    assert!(out.iter().any(|t| t.line.contains("?OTR")), "{out:?}");
    assert_eq!(alice.session_info("bob").protocol, None);
}

#[test]
fn an_otrv3_smp_run_left_unanswered_times_out() {
    let mut rng = test_rng(35);
    let (mut alice, _bob, _key) = private_with_v3_peer(&mut rng);
    events(&mut alice);
    alice
        .smp_start(T0, &mut rng, "bob", Some("question?"), "answer")
        .unwrap();
    drain(&mut alice);
    let timeout = Policy::default().smp_timeout_ms;
    assert!(alice.poll_timeout().is_some_and(|t| t <= T0 + timeout));
    alice.handle_timeout(T0 + timeout - 1, &mut rng);
    assert!(events(&mut alice).is_empty());
    alice.handle_timeout(T0 + timeout, &mut rng);
    let ev = events(&mut alice);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::Smp {
                event: SmpEvent::TimedOut,
                ..
            }
        )),
        "{ev:?}"
    );
    // The abort went to the peer and the run is over.
    assert!(!drain(&mut alice).is_empty());
    assert_eq!(alice.session_info("bob").smp, SmpStatus::Idle);
    assert_eq!(alice.session_info("bob").protocol, Some(Protocol::V3));
}

#[test]
fn an_otrv3_session_under_a_key_not_accepted_is_held_until_accepted() {
    let mut rng = test_rng(36);
    let mut alice = with_dsa(&mut rng);
    // bob's OTRv3 key accepted earlier (restored from the trust store) is not the one the
    // server now answers with.
    alice.pin_legacy_key("bob", &[0x42; 20]);
    alice
        .send(T0, &mut rng, "bob", "only for the real bob")
        .unwrap();
    drain(&mut alice);
    events(&mut alice);
    let (_bob, bob_key) = v3_ake(&mut alice, &mut rng);
    let offered = bob_key.public().fingerprint();
    let ev = events(&mut alice);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::LegacyKeyNotAccepted { offered: o, queued: 1, .. } if *o == offered
        )),
        "{ev:?}"
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::LegacyPrivate { .. })));
    // Nothing was released to it, new text waits too, and no SMP can run over it.
    let out = drain(&mut alice);
    assert!(
        out.iter().all(|t| !t.line.starts_with("?OTR:AAMD")),
        "{out:?}"
    );
    assert_eq!(
        alice.send(T0, &mut rng, "bob", "second").unwrap(),
        SendOutcome::Queued
    );
    assert!(
        drain(&mut alice)
            .iter()
            .all(|t| !t.line.starts_with("?OTR:AAMD"))
    );
    assert!(alice.smp_start(T0, &mut rng, "bob", None, "s").is_err());
    assert_eq!(alice.held_legacy_key("bob"), Some(offered));
    // The user accepts it: the session is private and the queue goes out.
    assert!(alice.accept_legacy_key(T0, &mut rng, "bob", &offered));
    let out = drain(&mut alice);
    assert_eq!(
        out.iter()
            .filter(|t| t.line.starts_with("?OTR:AAMD"))
            .count(),
        2
    );
    assert_eq!(alice.session_info("bob").protocol, Some(Protocol::V3));
}

#[test]
fn with_hold_first_contact_even_the_first_otrv3_key_waits() {
    let mut rng = test_rng(37);
    let mut alice = with_dsa(&mut rng);
    alice.set_hold_first_contact(true);
    let (_bob, bob_key) = v3_ake(&mut alice, &mut rng);
    assert_eq!(
        alice.held_legacy_key("bob"),
        Some(bob_key.public().fingerprint())
    );
    assert_eq!(alice.session_info("bob").protocol, None);
}

#[test]
fn a_forged_nick_change_leaves_the_old_nicks_otrv3_keys_pinned() {
    let mut rng = test_rng(38);
    let (mut alice, _bob, key) = private_with_v3_peer(&mut rng);
    let fp = key.public().fingerprint();
    alice.set_hold_first_contact(true);
    // The server says bob is now "bobby": the session follows the nick ...
    assert!(alice.rename_peer("bob", "bobby"));
    assert_eq!(alice.session_info("bobby").legacy_fingerprint, Some(fp));
    // ... and "bob" keeps bob's accepted key: a session under it is no first contact (with
    // hold_first_contact on, a first key would be held). The old nick stays opted in.
    alice.set_auto_respond("bob", true);
    let _ = v3_ake(&mut alice, &mut rng);
    assert_eq!(alice.held_legacy_key("bob"), None);
    assert_eq!(alice.session_info("bob").legacy_fingerprint, Some(fp));
}
