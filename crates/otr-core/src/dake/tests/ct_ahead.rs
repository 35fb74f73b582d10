//! The initiator's CT_R sent ahead: Auth-I without it binds the same transcript, so it
//! verifies exactly when the CT_R the responder holds is the initiator's.

use super::*;

/// Alice starts (no PSK, Bob's profile known) and sends CT_R ahead; Bob answers. Returns
/// Alice's state, the Ciphertext message, Bob's state and his Auth-R.
fn with_ct_ahead(
    alice: &Party,
    bob: &Party,
) -> (WaitingAuthR, CiphertextAhead, WaitingAuthI, AuthR) {
    let mut rng = test_rng(17);
    let (mut wait_r, identity) = start(
        &mut rng,
        &alice.local(),
        b"",
        Some(&bob.profile),
        false,
        false,
        Vec::new(),
    )
    .unwrap();
    assert!(!wait_r.ciphertext_sent_ahead());
    let ahead = wait_r.encapsulate_ahead(&bob.profile).unwrap().unwrap();
    assert!(wait_r.ciphertext_sent_ahead());
    assert!(
        wait_r.encapsulate_ahead(&bob.profile).unwrap().is_none(),
        "sent twice"
    );
    let (wait_i, auth_r) = respond(
        &mut rng,
        &bob.local(),
        &identity,
        alice.profile.clone(),
        b"P",
        &[],
        false,
    )
    .unwrap();
    (wait_r, ahead, wait_i, auth_r)
}

#[test]
fn auth_i_with_ct_sent_ahead_binds_the_ciphertext_like_auth_i_in_full() {
    let alice = Party::new(51, 0x101);
    let bob = Party::new(52, 0x202);
    let (wait_r, ahead, mut wait_i, auth_r) = with_ct_ahead(&alice, &bob);
    assert_eq!(
        (ahead.header.sender, ahead.header.receiver),
        (alice.tag, bob.tag)
    );
    let mut rng = test_rng(18);
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &auth_r, bob.profile.clone())
        .unwrap();
    assert!(auth_i.ct_sent_ahead && auth_i.ct_responder.is_none());
    assert_eq!(auth_i.encode().len(), 386);
    // The full form differs only by the ciphertext: the same σ_I and confirm.
    let full = wait_r.auth_i_in_full(&auth_i).unwrap();
    assert_eq!(full.ct_responder.as_deref(), Some(&*ahead.ct));
    assert!(!full.ct_sent_ahead);
    assert_eq!((&full.sigma, full.confirm), (&auth_i.sigma, auth_i.confirm));
    // Bob, holding no CT_R, completes on the full Auth-I ...
    assert!(!wait_i.holds_ciphertext());
    let full = AuthI::decode(&full.encode()).unwrap();
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &full).unwrap());
    // ... and, holding the one sent ahead, on the short one, with the same keys.
    let ahead = CiphertextAhead::decode(&ahead.encode()).unwrap();
    assert!(wait_i.hold_ciphertext(&ahead.ct));
    assert!(wait_i.holds_ciphertext());
    let auth_i = AuthI::decode(&auth_i.encode()).unwrap();
    let out_b = wait_i.on_auth_i(&bob.local(), &auth_i).unwrap();
    assert_agree(&out_a, &out_b);
    assert_eq!(out_b.mode, Mode::Full);
    assert_eq!(out_a.their_profile.fingerprint(), bob.profile.fingerprint());
}

#[test]
fn a_substituted_or_missing_ciphertext_sent_ahead_fails_the_dake() {
    let alice = Party::new(53, 0x101);
    let bob = Party::new(54, 0x202);
    let (wait_r, ahead, mut wait_i, auth_r) = with_ct_ahead(&alice, &bob);
    let mut rng = test_rng(19);
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &auth_r, bob.profile.clone())
        .unwrap();
    // Not received: Auth-I cannot be checked.
    assert_eq!(
        wait_i.on_auth_i(&bob.local(), &auth_i).err(),
        Some(DakeError::MissingCiphertext)
    );
    // Substituted: a valid encapsulation to Bob's key, made by someone else, fails σ_I.
    let (other, _) = bob.profile.kem_key().encapsulate().unwrap();
    assert!(wait_i.hold_ciphertext(other.as_bytes()));
    assert!(matches!(
        wait_i.on_auth_i(&bob.local(), &auth_i),
        Err(DakeError::Crypto(_))
    ));
    // Nothing else changed: Alice's CT_R, held in its place, completes the DAKE.
    assert!(wait_i.hold_ciphertext(&ahead.ct));
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &auth_i).unwrap());
}

#[test]
fn ciphertext_goes_ahead_only_without_psk_and_serves_only_its_profile() {
    let alice = Party::new(55, 0x101);
    let bob = Party::new(56, 0x202);
    let carol = Party::new(57, 0x202);
    // Made for Carol's profile (a substituted Profile message): Bob's Auth-R gets a fresh
    // CT_R in a full Auth-I, which Bob completes without holding anything.
    let mut rng = test_rng(20);
    let (mut wait_r, identity) = start(
        &mut rng,
        &alice.local(),
        b"P",
        None,
        false,
        false,
        Vec::new(),
    )
    .unwrap();
    let to_carol = wait_r.encapsulate_ahead(&carol.profile).unwrap().unwrap();
    let (wait_i, auth_r) = respond(
        &mut rng,
        &bob.local(),
        &identity,
        alice.profile.clone(),
        b"P",
        &[],
        false,
    )
    .unwrap();
    // Once per handshake: Bob's profile arriving later gets none of its own.
    assert!(wait_r.encapsulate_ahead(&bob.profile).unwrap().is_none());
    let mut rng = test_rng(21);
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &auth_r, bob.profile.clone())
        .unwrap();
    assert!(!auth_i.ct_sent_ahead);
    assert_ne!(auth_i.ct_responder.as_deref(), Some(&*to_carol.ct));
    assert!(auth_i.ct_responder.is_some());
    assert!(wait_r.auth_i_in_full(&auth_i).is_none());
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &auth_i).unwrap());

    // A PSK offered: nothing goes ahead, and a PSK-mode responder holds no CT_R.
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    let mut rng = test_rng(22);
    let (mut wait_r, identity) = start(
        &mut rng,
        &alice.local(),
        b"",
        Some(&bob.profile),
        false,
        true,
        vec![a.next_psk],
    )
    .unwrap();
    assert!(wait_r.encapsulate_ahead(&bob.profile).unwrap().is_none());
    assert!(!wait_r.ciphertext_sent_ahead());
    let (mut wait_i, auth_r) = respond(
        &mut rng,
        &bob.local(),
        &identity,
        alice.profile.clone(),
        b"P",
        std::slice::from_ref(&b.next_psk),
        false,
    )
    .unwrap();
    assert_eq!(wait_i.mode(), Mode::Psk);
    let (other, _) = bob.profile.kem_key().encapsulate().unwrap();
    assert!(!wait_i.hold_ciphertext(other.as_bytes()));
    assert!(!wait_i.holds_ciphertext());
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &auth_r, bob.profile.clone())
        .unwrap();
    assert!(auth_i.psk_mode());
    // An Auth-I claiming CT_R went ahead does not fit PSK mode.
    let claimed = AuthI {
        ct_sent_ahead: true,
        ..auth_i.clone()
    };
    assert_eq!(
        wait_i.on_auth_i(&bob.local(), &claimed).err(),
        Some(DakeError::ModeMismatch)
    );
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &auth_i).unwrap());
}
