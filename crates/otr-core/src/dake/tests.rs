//! DAKE tests: both modes, glare keys, and MAL-BIND (every transcript element is bound).
#![allow(clippy::type_complexity)]

mod ahead;
mod ct_ahead;

use super::*;
use crate::profile::DEFAULT_PROFILE_LIFETIME_SECS;
use crate::testing::test_rng;

const NOW: i64 = 1_800_000_000;

struct Party {
    keys: LongTermKeys,
    profile: ClientProfile,
    tag: u32,
}

impl Party {
    fn new(seed: u64, tag: u32) -> Self {
        let keys = LongTermKeys::generate(&mut test_rng(seed)).unwrap();
        let profile = ClientProfile::sign(&keys, tag, NOW + DEFAULT_PROFILE_LIFETIME_SECS).unwrap();
        Party { keys, profile, tag }
    }
    fn local(&self) -> Local<'_> {
        Local {
            keys: &self.keys,
            profile: &self.profile,
            tag: self.tag,
        }
    }
}

fn resolve(r: &ProfileRef, cached: &ClientProfile) -> ClientProfile {
    match r {
        ProfileRef::Full(b) => ClientProfile::decode_and_verify(b, NOW).unwrap(),
        ProfileRef::Hash(h) => {
            assert_eq!(h, cached.hash());
            cached.clone()
        }
        ProfileRef::SentAhead => cached.clone(),
    }
}

/// Runs a DAKE through optional tampering hooks; returns both outputs or the first error.
#[allow(clippy::type_complexity)]
fn run(
    alice: &Party,
    bob: &Party,
    psk: Option<(ResumptionPsk, ResumptionPsk)>,
    tamper_identity: &dyn Fn(&mut Identity),
    tamper_auth_r: &dyn Fn(&mut AuthR),
    tamper_auth_i: &dyn Fn(&mut AuthI),
) -> Result<(DakeOutput, DakeOutput, usize), DakeError> {
    let (psk_a, psk_b) = match psk {
        Some((a, b)) => (vec![a], vec![b]),
        None => (Vec::new(), Vec::new()),
    };
    run_psks(
        alice,
        bob,
        psk_a,
        psk_b,
        tamper_identity,
        tamper_auth_r,
        tamper_auth_i,
    )
}

/// [`run`] with the PSKs the initiator offers and the responder holds given separately.
#[allow(clippy::type_complexity)]
fn run_psks(
    alice: &Party,
    bob: &Party,
    psk_a: Vec<ResumptionPsk>,
    psk_b: Vec<ResumptionPsk>,
    tamper_identity: &dyn Fn(&mut Identity),
    tamper_auth_r: &dyn Fn(&mut AuthR),
    tamper_auth_i: &dyn Fn(&mut AuthI),
) -> Result<(DakeOutput, DakeOutput, usize), DakeError> {
    let mut rng = test_rng(99);
    let cached = !psk_a.is_empty();
    let (wait_r, mut identity) = start(
        &mut rng,
        &alice.local(),
        b"P",
        cached.then_some(&bob.profile),
        cached,
        cached,
        psk_a,
    )?;
    tamper_identity(&mut identity);
    let identity = Identity::decode(&identity.encode())?;
    let mut bytes = identity.encode().len();
    let alice_profile = resolve(&identity.profile, &alice.profile);
    let (wait_i, mut auth_r) = respond(
        &mut rng,
        &bob.local(),
        &identity,
        alice_profile,
        b"P",
        &psk_b,
        cached,
    )?;
    tamper_auth_r(&mut auth_r);
    let auth_r = AuthR::decode(&auth_r.encode())?;
    bytes += auth_r.encode().len();
    let bob_profile = resolve(&auth_r.profile, &bob.profile);
    let (out_a, mut auth_i) = wait_r.on_auth_r(&mut rng, &alice.local(), &auth_r, bob_profile)?;
    tamper_auth_i(&mut auth_i);
    let auth_i = AuthI::decode(&auth_i.encode())?;
    bytes += auth_i.encode().len();
    let out_b = wait_i.on_auth_i(&bob.local(), &auth_i)?;
    Ok((out_a, out_b, bytes))
}

fn nothing<T>(_: &mut T) {}

fn assert_agree(a: &DakeOutput, b: &DakeOutput) {
    assert!(bool::from(a.root.ct_eq(&b.root)));
    assert_eq!(a.ssid, b.ssid);
    assert_eq!(a.next_psk.id, b.next_psk.id);
    assert!(bool::from(a.next_psk.secret.ct_eq(&b.next_psk.secret)));
    assert_eq!(a.their_ratchet, *b.our_ratchet.public());
    assert_eq!(b.their_ratchet, *a.our_ratchet.public());
}

#[test]
fn full_mode_agrees() {
    let alice = Party::new(1, 0x101);
    let bob = Party::new(2, 0x202);
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    assert_eq!(a.mode, Mode::Full);
    assert_eq!(a.role, Role::Initiator);
    assert_eq!(b.role, Role::Responder);
    assert_eq!(a.their_profile.fingerprint(), bob.profile.fingerprint());
    assert_eq!(b.their_profile.fingerprint(), alice.profile.fingerprint());
    assert_eq!(a.their_tag, 0x202);
    assert_eq!(b.their_tag, 0x101);
    assert_agree(&a, &b);
}

#[test]
fn psk_mode_agrees_and_chains() {
    let alice = Party::new(3, 0x101);
    let bob = Party::new(4, 0x202);
    let (a, b, full_bytes) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    let (a2, b2, psk_bytes) = run(
        &alice,
        &bob,
        Some((a.next_psk, b.next_psk)),
        &nothing,
        &nothing,
        &nothing,
    )
    .unwrap();
    assert_eq!(a2.mode, Mode::Psk);
    assert_agree(&a2, &b2);
    // No ML-KEM key or ciphertext at all: the ephemeral exchange is deferred to the ratchet.
    assert!(a2.kem_deferred && b2.kem_deferred);
    assert!(!a.kem_deferred && !b.kem_deferred);
    assert!(
        psk_bytes + 4 * 1568 < full_bytes,
        "{psk_bytes} vs {full_bytes}"
    );
    assert!(psk_bytes < 1100, "{psk_bytes}");
}

/// Two PSKs offered (the renewed one first): the responder uses the first it holds, and
/// says which; an initiator never takes a PSK it did not offer.
#[test]
fn the_first_offered_psk_the_responder_holds_is_used() {
    let alice = Party::new(41, 0x101);
    let bob = Party::new(42, 0x202);
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    let renewed = |n: u8| ResumptionPsk {
        id: [n; 16],
        secret: Secret::from_slice(&[n; 32]).unwrap(),
    };
    // Bob holds only the DAKE's PSK: the second id offered.
    let (a2, b2, _) = run_psks(
        &alice,
        &bob,
        vec![renewed(7), a.next_psk.duplicate()],
        vec![b.next_psk.duplicate()],
        &nothing,
        &|m: &mut AuthR| assert!(m.second_psk && m.psk_mode()),
        &nothing,
    )
    .unwrap();
    assert_eq!((a2.mode, b2.mode), (Mode::Psk, Mode::Psk));
    assert_agree(&a2, &b2);
    // Bob holds both: the first offered wins.
    let (a3, b3, _) = run_psks(
        &alice,
        &bob,
        vec![renewed(7), a.next_psk.duplicate()],
        vec![b.next_psk.duplicate(), renewed(7)],
        &nothing,
        &|m: &mut AuthR| assert!(!m.second_psk && m.psk_mode()),
        &nothing,
    )
    .unwrap();
    assert_agree(&a3, &b3);
    // Different keys from the two PSKs.
    assert_ne!(a2.ssid, a3.ssid);
    // A responder claiming a second PSK when one id was offered fails at the initiator.
    let r = run_psks(
        &alice,
        &bob,
        vec![a.next_psk.duplicate()],
        vec![b.next_psk.duplicate()],
        &nothing,
        &|m: &mut AuthR| m.second_psk = true,
        &nothing,
    );
    assert_eq!(r.err(), Some(DakeError::ModeMismatch));
}

/// MAL-BIND for the PSK offer and the deferral: removing or reordering offered ids, or
/// adding an ephemeral key or ciphertext in flight, fails the DAKE.
#[test]
fn psk_offer_and_deferral_are_bound() {
    let alice = Party::new(43, 0x101);
    let bob = Party::new(44, 0x202);
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    let other = || ResumptionPsk {
        id: [5; 16],
        secret: Secret::from_slice(&[5; 32]).unwrap(),
    };
    let other_ek = *KemKeypair::generate().unwrap().public().as_bytes();
    let (other_ct, _) = KemKeypair::generate()
        .unwrap()
        .public()
        .encapsulate()
        .unwrap();
    let other_ct = *other_ct.as_bytes();
    let id_cases: Vec<(&str, Box<dyn Fn(&mut Identity)>)> = vec![
        // Bob would fall back to the DAKE's PSK (the one a thief may hold).
        (
            "first id removed",
            Box::new(|m| m.psk_ids = m.psk_ids.split_off(1)),
        ),
        ("ids swapped", Box::new(|m| m.psk_ids.swap(0, 1))),
        (
            "ek added",
            Box::new(move |m| m.ek = Some(Box::new(other_ek))),
        ),
    ];
    for (name, f) in id_cases {
        let r = run_psks(
            &alice,
            &bob,
            vec![other(), a.next_psk.duplicate()],
            vec![b.next_psk.duplicate(), other()],
            &*f,
            &nothing,
            &nothing,
        );
        assert!(r.is_err(), "{name} was not detected");
    }
    let r = run_psks(
        &alice,
        &bob,
        vec![a.next_psk.duplicate()],
        vec![b.next_psk.duplicate()],
        &nothing,
        &|m: &mut AuthR| m.ct_ephemeral = Some(Box::new(other_ct)),
        &nothing,
    );
    assert_eq!(r.err(), Some(DakeError::ModeMismatch));
}

#[test]
fn wrong_psk_fails_mismatched_secret() {
    let alice = Party::new(5, 0x101);
    let bob = Party::new(6, 0x202);
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    // Same id, different secret on Alice's side: the confirmation must fail.
    let forged = ResumptionPsk {
        id: a.next_psk.id,
        secret: Secret::from_slice(&[9; 32]).unwrap(),
    };
    let err = run(
        &alice,
        &bob,
        Some((forged, b.next_psk)),
        &nothing,
        &nothing,
        &nothing,
    )
    .err()
    .unwrap();
    assert_eq!(err, DakeError::Confirmation);
}

#[test]
fn unknown_psk_falls_back_to_full() {
    let alice = Party::new(7, 0x101);
    let bob = Party::new(8, 0x202);
    let (a, _b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    let other = ResumptionPsk {
        id: [1; 16],
        secret: Secret::from_slice(&[2; 32]).unwrap(),
    };
    let (a2, b2, _) = run(
        &alice,
        &bob,
        Some((a.next_psk, other)),
        &nothing,
        &nothing,
        &nothing,
    )
    .unwrap();
    assert_eq!(a2.mode, Mode::Full);
    assert_agree(&a2, &b2);
    // The Identity offered a PSK, so it deferred the ephemeral ML-KEM exchange: full mode
    // without it (the long-term encapsulations still make K post-quantum secret).
    assert!(a2.kem_deferred && b2.kem_deferred);
}

/// MAL-BIND: changing any transcript element in flight makes the DAKE fail.
#[test]
fn every_transcript_element_is_bound() {
    let alice = Party::new(11, 0x101);
    let bob = Party::new(12, 0x202);
    let eve = Party::new(13, 0x303);
    let flip = |b: &mut [u8]| b[7] ^= 0x20;
    let other_x = *X448Secret::generate(&mut test_rng(5)).public();
    let other_y = *SecretScalar::random(&mut test_rng(6)).public().as_bytes();
    let other_ek = *KemKeypair::generate().unwrap().public().as_bytes();
    let (other_ct, _) = KemKeypair::generate()
        .unwrap()
        .public()
        .encapsulate()
        .unwrap();
    let other_ct = *other_ct.as_bytes();
    let eve_profile = eve.profile.as_bytes().to_vec();

    let id_cases: Vec<(&str, Box<dyn Fn(&mut Identity)>)> = vec![
        ("identity X", Box::new(move |m| m.x = other_x)),
        ("identity Y", Box::new(move |m| m.y = other_y)),
        (
            "identity ek",
            Box::new(move |m| m.ek = Some(Box::new(other_ek))),
        ),
        (
            "identity ek bit",
            Box::new(move |m| flip(&mut m.ek.as_mut().unwrap()[100..])),
        ),
        ("identity ek removed", Box::new(|m| m.ek = None)),
        (
            "identity versions",
            Box::new(|m| m.query_versions = b"P3".to_vec()),
        ),
        (
            "identity profile",
            Box::new(move |m| m.profile = ProfileRef::Full(eve_profile.clone())),
        ),
        ("identity sender tag", Box::new(|m| m.header.sender = 0x999)),
        (
            "identity attestation flag",
            Box::new(|m| m.holds_peer_attestation = !m.holds_peer_attestation),
        ),
    ];
    for (name, f) in id_cases {
        let r = run(&alice, &bob, None, &*f, &nothing, &nothing);
        assert!(r.is_err(), "{name} was not detected");
    }

    let eve_profile = eve.profile.as_bytes().to_vec();
    let ar_cases: Vec<(&str, Box<dyn Fn(&mut AuthR)>)> = vec![
        ("auth-r X", Box::new(move |m| m.x = other_x)),
        ("auth-r Y", Box::new(move |m| m.y = other_y)),
        (
            "auth-r ct_e",
            Box::new(move |m| m.ct_ephemeral = Some(Box::new(other_ct))),
        ),
        (
            "auth-r ct_e bit",
            Box::new(move |m| flip(&mut m.ct_ephemeral.as_mut().unwrap()[10..])),
        ),
        ("auth-r ct_e removed", Box::new(|m| m.ct_ephemeral = None)),
        (
            "auth-r ct_i",
            Box::new(move |m| m.ct_initiator = Some(Box::new(other_ct))),
        ),
        ("auth-r sigma", Box::new(move |m| flip(&mut m.sigma[..]))),
        (
            "auth-r profile",
            Box::new(move |m| m.profile = ProfileRef::Full(eve_profile.clone())),
        ),
        ("auth-r sender tag", Box::new(|m| m.header.sender = 0x999)),
        (
            "auth-r receiver tag",
            Box::new(|m| m.header.receiver = 0x999),
        ),
        (
            "auth-r attestation flag",
            Box::new(|m| m.holds_peer_attestation = !m.holds_peer_attestation),
        ),
    ];
    for (name, f) in ar_cases {
        let r = run(&alice, &bob, None, &nothing, &*f, &nothing);
        assert!(r.is_err(), "{name} was not detected");
    }

    let ai_cases: Vec<(&str, Box<dyn Fn(&mut AuthI)>)> = vec![
        (
            "auth-i ct_r",
            Box::new(move |m| m.ct_responder = Some(Box::new(other_ct))),
        ),
        (
            "auth-i ct_r bit",
            Box::new(move |m| flip(&mut m.ct_responder.as_mut().unwrap()[..])),
        ),
        ("auth-i sigma", Box::new(move |m| flip(&mut m.sigma[..]))),
        ("auth-i confirm", Box::new(move |m| m.confirm[0] ^= 1)),
        ("auth-i sender tag", Box::new(|m| m.header.sender = 0x999)),
    ];
    for (name, f) in ai_cases {
        let r = run(&alice, &bob, None, &nothing, &nothing, &*f);
        assert!(r.is_err(), "{name} was not detected");
    }
}

/// The "I hold your attestation" flags reach the other side's output (and, being in the
/// transcript, cannot be changed in flight: see `every_transcript_element_is_bound`).
#[test]
fn attestation_flags_reach_the_peer() {
    let alice = Party::new(31, 0x101);
    let bob = Party::new(32, 0x202);
    let (a, b, _) = run(&alice, &bob, None, &nothing, &nothing, &nothing).unwrap();
    assert!(!a.peer_holds_our_attestation && !b.peer_holds_our_attestation);
    let (a2, b2, _) = run(
        &alice,
        &bob,
        Some((a.next_psk, b.next_psk)),
        &nothing,
        &nothing,
        &nothing,
    )
    .unwrap();
    assert!(a2.peer_holds_our_attestation && b2.peer_holds_our_attestation);
    // The initiator's flag names a profile of Bob's that is not his current one: Bob does not
    // take it as holding his attestation.
    let (a3, b3, _) = run(
        &alice,
        &bob,
        Some((a2.next_psk, b2.next_psk)),
        &|m: &mut Identity| m.known_peer_profile = [7; 32],
        &nothing,
        &nothing,
    )
    .unwrap();
    assert!(a3.peer_holds_our_attestation);
    assert!(!b3.peer_holds_our_attestation);
}

#[test]
fn altered_version_advertisement_is_a_downgrade() {
    let alice = Party::new(21, 0x101);
    let bob = Party::new(22, 0x202);
    let r = run(
        &alice,
        &bob,
        None,
        &|m: &mut Identity| m.query_versions = b"3".to_vec(),
        &nothing,
        &nothing,
    );
    assert_eq!(r.err(), Some(DakeError::Downgrade));
}

#[test]
fn kem_contributions_change_the_key() {
    // Two runs with identical classical inputs still differ because ML-KEM randomness feeds K;
    // and a responder that decapsulates a different ct_e derives a different key (covered by
    // MAL-BIND above). Here: K depends on ss_e directly.
    let th = [1u8; 64];
    let dh = Secret::<56>::from_slice(&[2; 56]).unwrap();
    let a1 = Secret::<32>::from_slice(&[3; 32]).unwrap();
    let e1 = Secret::<32>::from_slice(&[4; 32]).unwrap();
    let e2 = Secret::<32>::from_slice(&[5; 32]).unwrap();
    let (k1, _) = finish(&th, &dh, Some(&e1), &a1, None);
    let (k2, _) = finish(&th, &dh, Some(&e2), &a1, None);
    assert!(!bool::from(k1.ct_eq(&k2)));
    let a2 = Secret::<32>::from_slice(&[6; 32]).unwrap();
    let (k3, _) = finish(&th, &dh, Some(&e1), &a2, None);
    assert!(!bool::from(k1.ct_eq(&k3)));
    let (k4, _) = finish(&th, &dh, Some(&e1), &a1, Some(&a2));
    assert!(!bool::from(k1.ct_eq(&k4)));
    let (k5, _) = finish(&th, &dh, None, &a1, None);
    assert!(!bool::from(k1.ct_eq(&k5)));
}
