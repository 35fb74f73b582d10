use super::*;
use crate::testing::{alice_key, bob_key};

fn rng() -> impl CryptoRng {
    rand::rng()
}

fn send(out: AkeOutput) -> Message {
    match out {
        AkeOutput::Send(m) => m,
        _ => panic!("expected a message to send"),
    }
}

/// Runs an AKE where `b` commits; returns both outcomes (b's, a's).
fn run(a: &mut Ake, b: &mut Ake) -> (Box<AkeOutcome>, Box<AkeOutcome>) {
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let commit = b.start(&mut r);
    let dh_key = send(a.handle(&mut r, &commit, &ka));
    let reveal = send(b.handle(&mut r, &dh_key, &kb));
    let AkeOutput::Done {
        send: Some(sig),
        outcome: a_out,
    } = a.handle(&mut r, &reveal, &ka)
    else {
        panic!("alice completes on the reveal");
    };
    let AkeOutput::Done {
        send: None,
        outcome: b_out,
    } = b.handle(&mut r, &sig, &kb)
    else {
        panic!("bob completes on the signature");
    };
    (b_out, a_out)
}

#[test]
fn a_full_exchange_agrees_on_keys_and_identities() {
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let (bo, ao) = run(&mut a, &mut b);
    assert_eq!(bo.ssid, ao.ssid);
    assert_eq!(
        bo.their_long_term.fingerprint(),
        alice_key().public().fingerprint()
    );
    assert_eq!(
        ao.their_long_term.fingerprint(),
        bob_key().public().fingerprint()
    );
    assert_eq!(bo.their_dh, *ao.our_dh.public());
    assert_eq!(ao.their_dh, *bo.our_dh.public());
    assert!(bo.we_revealed && !ao.we_revealed);
    assert_eq!((bo.their_keyid, ao.their_keyid), (AKE_KEYID, AKE_KEYID));
    assert!(!a.in_progress() && !b.in_progress());
}

#[test]
fn a_tampered_reveal_or_signature_is_refused_and_the_state_kept() {
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let commit = b.start(&mut r);
    let dh_key = send(a.handle(&mut r, &commit, &ka));
    let reveal = send(b.handle(&mut r, &dh_key, &kb));
    let Message::RevealSignature {
        revealed_key,
        encrypted_sig,
        mac,
    } = reveal.clone()
    else {
        panic!("reveal");
    };
    let mut bad_sig = encrypted_sig.clone();
    bad_sig[10] ^= 1;
    let mut bad_key = revealed_key.clone();
    bad_key[0] ^= 1;
    for (m, want) in [
        (
            Message::RevealSignature {
                revealed_key: revealed_key.clone(),
                encrypted_sig: bad_sig,
                mac,
            },
            AkeError::BadMac,
        ),
        (
            Message::RevealSignature {
                revealed_key: bad_key,
                encrypted_sig: encrypted_sig.clone(),
                mac,
            },
            AkeError::BadCommitment,
        ),
    ] {
        match a.handle(&mut r, &m, &ka) {
            AkeOutput::Refused(e) => assert_eq!(e, want),
            _ => panic!("a tampered reveal must be refused"),
        }
    }
    // The honest reveal still completes: nothing changed on the refusals.
    let AkeOutput::Done {
        send: Some(sig), ..
    } = a.handle(&mut r, &reveal, &ka)
    else {
        panic!("the honest reveal completes");
    };
    let Message::Signature { encrypted_sig, mac } = sig.clone() else {
        panic!("signature");
    };
    let mut bad = mac;
    bad[0] ^= 1;
    assert!(matches!(
        b.handle(
            &mut r,
            &Message::Signature {
                encrypted_sig,
                mac: bad
            },
            &kb
        ),
        AkeOutput::Refused(AkeError::BadMac)
    ));
    assert!(matches!(
        b.handle(&mut r, &sig, &kb),
        AkeOutput::Done { .. }
    ));
}

#[test]
fn a_reveal_made_for_another_exchange_is_refused() {
    // Bob's reveal for a third party's D-H Key (relayed to alice by the server) is keyed
    // with a different D-H secret: alice refuses it.
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let commit = b.start(&mut r);
    let _ = send(a.handle(&mut r, &commit, &ka));
    // A third party answers bob's commit too; bob's reveal for it goes to alice.
    let mut c = Ake::new();
    let other_key = send(c.handle(&mut r, &commit, &ka));
    let mut b2 = Ake::new();
    b2.state = match &b.state {
        State::AwaitingDhKey {
            r: rr,
            ours,
            encrypted_gx,
            hashed_gx,
        } => State::AwaitingDhKey {
            r: rr.clone(),
            ours: ours.duplicate(),
            encrypted_gx: encrypted_gx.clone(),
            hashed_gx: *hashed_gx,
        },
        _ => panic!("bob awaits the D-H key"),
    };
    let reveal_for_c = send(b2.handle(&mut r, &other_key, &kb));
    assert!(matches!(
        a.handle(&mut r, &reveal_for_c, &ka),
        AkeOutput::Refused(AkeError::BadMac)
    ));
}

#[test]
fn commit_collision_the_higher_hash_keeps_its_commit() {
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let ca = a.start(&mut r);
    let cb = b.start(&mut r);
    let hash = |m: &Message| match m {
        Message::DhCommit { hashed_gx, .. } => hashed_gx.clone(),
        _ => panic!("commit"),
    };
    let a_higher = hash(&ca) > hash(&cb);
    let ra = a.handle(&mut r, &cb, &ka);
    let rb = b.handle(&mut r, &ca, &kb);
    let (winner_resend, loser_answer) = if a_higher { (ra, rb) } else { (rb, ra) };
    assert!(matches!(send(winner_resend), Message::DhCommit { .. }));
    assert!(matches!(send(loser_answer), Message::DhKey { .. }));
}

#[test]
fn retransmissions_follow_the_spec() {
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let (mut a, mut b) = (Ake::new(), Ake::new());
    let commit = b.start(&mut r);
    let k1 = send(a.handle(&mut r, &commit, &ka));
    // The commit again: the same D-H Key again.
    let k2 = send(a.handle(&mut r, &commit, &ka));
    assert_eq!(k1, k2);
    let reveal = send(b.handle(&mut r, &k1, &kb));
    // The same D-H Key again: the same reveal; another one: ignored.
    assert_eq!(send(b.handle(&mut r, &k1, &kb)), reveal);
    let other = Message::DhKey { gy: vec![5; 100] };
    assert!(matches!(b.handle(&mut r, &other, &kb), AkeOutput::Nothing));
    // Out-of-state messages are ignored.
    let mut idle = Ake::new();
    assert!(matches!(
        idle.handle(&mut r, &reveal, &ka),
        AkeOutput::Nothing
    ));
    assert!(matches!(idle.handle(&mut r, &k1, &ka), AkeOutput::Nothing));
    // A D-H value of 1 is refused.
    let mut fresh = Ake::new();
    let _ = fresh.start(&mut r);
    assert!(matches!(
        fresh.handle(&mut r, &Message::DhKey { gy: vec![1] }, &kb),
        AkeOutput::Refused(AkeError::BadDhValue)
    ));
    assert!(fresh.awaiting_dh_key());
}

#[test]
fn a_forked_exchange_completes_with_a_second_instance() {
    let (ka, kb) = (alice_key(), bob_key());
    let mut r = rng();
    let mut b = Ake::new();
    let commit = b.start(&mut r);
    let mut fork = b.fork_awaiting_dh_key().expect("awaiting the D-H key");
    let (mut a1, mut a2) = (Ake::new(), Ake::new());
    let k1 = send(a1.handle(&mut r, &commit, &ka));
    let k2 = send(a2.handle(&mut r, &commit, &ka));
    let rv1 = send(b.handle(&mut r, &k1, &kb));
    let rv2 = send(fork.handle(&mut r, &k2, &kb));
    assert!(matches!(
        a1.handle(&mut r, &rv1, &ka),
        AkeOutput::Done { .. }
    ));
    assert!(matches!(
        a2.handle(&mut r, &rv2, &ka),
        AkeOutput::Done { .. }
    ));
}
