//! The responder's profile sent ahead: Auth-R without the profile binds the same transcript,
//! so it verifies exactly when the profile the initiator holds is the responder's.

use super::*;

/// Alice initiates, Bob responds; returns Alice's state, Bob's and Bob's Auth-R (in full).
fn first_contact(alice: &Party, bob: &Party) -> (WaitingAuthR, WaitingAuthI, AuthR) {
    let mut rng = test_rng(7);
    let (wait_r, identity) = start(
        &mut rng,
        &alice.local(),
        b"P",
        None,
        false,
        false,
        Vec::new(),
    )
    .unwrap();
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
    (wait_r, wait_i, auth_r)
}

#[test]
fn auth_r_sent_ahead_binds_the_profile_like_auth_r_in_full() {
    let alice = Party::new(41, 0x101);
    let bob = Party::new(42, 0x202);
    let (wait_r, mut wait_i, full) = first_contact(&alice, &bob);
    assert!(matches!(full.profile, ProfileRef::Full(_)));
    assert!(!wait_i.profile_sent_ahead());
    let ahead = wait_i.refer_to_profile_sent_ahead();
    assert!(wait_i.profile_sent_ahead());
    assert_eq!(ahead.profile, ProfileRef::SentAhead);
    // Only the profile's form differs: σ_R signs a transcript that binds its hash.
    assert_eq!(
        AuthR {
            profile: full.profile.clone(),
            ..ahead.clone()
        },
        full
    );
    let ahead = AuthR::decode(&ahead.encode()).unwrap();
    let mut rng = test_rng(8);
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &ahead, bob.profile.clone())
        .unwrap();
    let out_b = wait_i.on_auth_i(&bob.local(), &auth_i).unwrap();
    assert_agree(&out_a, &out_b);
    assert_eq!(out_a.their_profile.fingerprint(), bob.profile.fingerprint());
}

#[test]
fn a_substituted_profile_sent_ahead_fails_the_dake() {
    let alice = Party::new(43, 0x101);
    let bob = Party::new(44, 0x202);
    // Carol signed a valid profile under Bob's instance tag, and one under her own.
    let carol_as_bob = Party::new(45, 0x202);
    let carol = Party::new(46, 0x303);
    let (wait_r, mut wait_i, _) = first_contact(&alice, &bob);
    let ahead = wait_i.refer_to_profile_sent_ahead();
    let mut rng = test_rng(9);
    let r = wait_r.on_auth_r(
        &mut rng,
        &alice.local(),
        &ahead,
        carol_as_bob.profile.clone(),
    );
    assert!(matches!(r, Err(DakeError::Crypto(_))));
    let r = wait_r.on_auth_r(&mut rng, &alice.local(), &ahead, carol.profile.clone());
    assert!(matches!(
        r,
        Err(DakeError::Profile(ProfileError::InstanceTag))
    ));
    // Alice's state is unchanged: Bob's own profile still completes the DAKE.
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &alice.local(), &ahead, bob.profile.clone())
        .unwrap();
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &auth_i).unwrap());
}

#[test]
fn auth_r_is_resent_in_full_once_with_the_same_keys_and_signature() {
    let alice = Party::new(47, 0x101);
    let bob = Party::new(48, 0x202);
    let (wait_r, mut wait_i, full) = first_contact(&alice, &bob);
    // Nothing to resend while Auth-R carried the profile.
    assert!(wait_i.resend_full(&bob.profile).is_none());
    let ahead = wait_i.refer_to_profile_sent_ahead();
    // A profile other than the one the transcript binds (Bob re-signed his) is not sent.
    let resigned = ClientProfile::sign(&bob.keys, bob.tag, NOW + 3600).unwrap();
    assert!(wait_i.resend_full(&resigned).is_none());
    let resent = wait_i.resend_full(&bob.profile).unwrap();
    assert_eq!(resent, full);
    assert_eq!(resent.sigma, ahead.sigma);
    assert!(wait_i.resend_full(&bob.profile).is_none(), "resent twice");
    let mut rng = test_rng(10);
    let (out_a, auth_i) = wait_r
        .on_auth_r(
            &mut rng,
            &alice.local(),
            &resent,
            resolve(&resent.profile, &bob.profile),
        )
        .unwrap();
    assert_agree(&out_a, &wait_i.on_auth_i(&bob.local(), &auth_i).unwrap());
}
