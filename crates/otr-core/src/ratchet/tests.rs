use super::*;
use crate::testing::{ratchet_pair, test_rng};
use crate::wire::data::DataMessage;

fn roundtrip(msg: &DataMessage) -> DataMessage {
    DataMessage::decode(&msg.encode()).unwrap()
}

#[test]
fn both_sides_can_send_immediately() {
    let (mut a, mut b) = ratchet_pair(1, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(2);
    let m1 = a.encrypt(0, b"from a").unwrap();
    let m2 = b.encrypt(0, b"from b").unwrap();
    assert_eq!(b.decrypt(&mut rng, &roundtrip(&m1)).unwrap(), b"from a");
    assert_eq!(a.decrypt(&mut rng, &roundtrip(&m2)).unwrap(), b"from b");
}

#[test]
fn out_of_order_and_replay() {
    let (mut a, mut b) = ratchet_pair(3, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(4);
    let msgs: Vec<_> = (0..5).map(|i| a.encrypt(0, &[i]).unwrap()).collect();
    for i in [4usize, 0, 2, 1, 3] {
        assert_eq!(b.decrypt(&mut rng, &msgs[i]).unwrap(), vec![i as u8]);
    }
    for m in &msgs {
        assert!(b.decrypt(&mut rng, m).is_err(), "replay accepted");
    }
    assert_eq!(b.stats().skipped_keys, 0);
}

#[test]
fn tampering_leaves_state_unchanged() {
    let (mut a, mut b) = ratchet_pair(5, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(6);
    let m = b.encrypt(0, b"hello").unwrap();
    let bytes = m.encode();
    for i in (0..bytes.len()).step_by(7) {
        let mut bad = bytes.clone();
        bad[i] ^= 0x04;
        if let Ok(bad) = DataMessage::decode(&bad) {
            assert!(
                a.decrypt(&mut rng, &bad).is_err(),
                "byte {i} tamper accepted"
            );
        }
    }
    assert_eq!(a.decrypt(&mut rng, &m).unwrap(), b"hello");
}

#[test]
fn kem_steps_happen_and_alternate() {
    let (mut a, mut b) = ratchet_pair(7, 1);
    let mut rng = test_rng(8);
    let mut saw_ek = 0;
    let mut saw_ct = 0;
    for turn in 0..12 {
        let (s, r) = if turn % 2 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let m = s.encrypt(0, b"x").unwrap();
        match m.kem {
            KemField::EncapsKey(_) => saw_ek += 1,
            KemField::Ciphertext(_) => saw_ct += 1,
            KemField::None => {}
        }
        r.decrypt(&mut rng, &roundtrip(&m)).unwrap();
    }
    assert!(saw_ek >= 2 && saw_ct >= 2, "ek {saw_ek} ct {saw_ct}");
    assert!(a.stats().kem_steps >= 2 && b.stats().kem_steps >= 2);
}

#[test]
fn kem_secret_feeds_the_root_key() {
    // Counterfactual: derive the receiving chain for a KEM-answering message with and without
    // the ML-KEM shared secret. The real message must open only with the KEM-mixed chain; if
    // the sender ignored the KEM output, the KEM-free chain would open it instead.
    let (mut a, mut b) = ratchet_pair(9, 0);
    let mut rng = test_rng(10);
    let m = a.encrypt(0, b"1").unwrap();
    b.decrypt(&mut rng, &m).unwrap();
    let m = b.encrypt(0, b"2").unwrap();
    assert!(
        matches!(m.kem, KemField::EncapsKey(_)),
        "b should offer an ek"
    );
    a.decrypt(&mut rng, &m).unwrap();
    let answer = a.encrypt(0, b"3").unwrap();
    let KemField::Ciphertext(ct) = &answer.kem else {
        panic!("expected ct")
    };

    let ad = answer.associated_data();
    let dh = b.dhs.diffie_hellman(&answer.ratchet_key).unwrap();
    let open_with = |step: keys::RootStep| {
        let (_, mk, _) = walk(&step.chain, 0, answer.n, &answer.ratchet_key);
        aead::open(&mk.key(), &mk.nonce(), &ad, &answer.ciphertext)
    };
    assert!(
        open_with(root_step(&b.root, &dh, None)).is_err(),
        "KEM secret was ignored"
    );
    let kp = b.kem_pending.as_ref().unwrap();
    let ct = KemCiphertext::from_bytes(ct.as_slice()).unwrap();
    let ss = kp.decapsulate(&ct).unwrap();
    let binding = kem_binding(kp.public().as_bytes(), ct.as_bytes());
    assert_eq!(
        open_with(root_step(&b.root, &dh, Some((&ss, &binding)))).unwrap(),
        b"3"
    );

    assert_eq!(b.decrypt(&mut rng, &answer).unwrap(), b"3");
    assert_eq!(b.stats().kem_steps, 1);
}

#[test]
fn skip_cap_is_enforced() {
    let (mut a, mut b) = ratchet_pair(11, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(12);
    let mut last = None;
    for _ in 0..=(MAX_SKIP_PER_CHAIN + 1) {
        last = Some(a.encrypt(0, b"x").unwrap());
    }
    assert_eq!(
        b.decrypt(&mut rng, &last.unwrap()),
        Err(RatchetError::TooManySkipped)
    );
    let (mut a, mut b) = ratchet_pair(13, DEFAULT_KEM_EVERY);
    let mut last = None;
    for _ in 0..=MAX_SKIP_PER_CHAIN {
        last = Some(a.encrypt(0, b"x").unwrap());
    }
    b.decrypt(&mut rng, &last.unwrap()).unwrap();
    assert_eq!(b.stats().skipped_keys, MAX_SKIP_PER_CHAIN as usize);
}

#[test]
fn global_skipped_cap_evicts_oldest() {
    use crate::limits::MAX_SKIPPED_KEYS_TOTAL;
    let (mut a, mut b) = ratchet_pair(15, u32::MAX);
    let mut rng = test_rng(16);
    let mut first_of_round = Vec::new();
    for _ in 0..5 {
        let msgs: Vec<_> = (0..600).map(|_| a.encrypt(0, b"x").unwrap()).collect();
        b.decrypt(&mut rng, msgs.last().unwrap()).unwrap();
        first_of_round.push(msgs[0].clone());
        // b answers, so a starts a new chain in the next round.
        let r = b.encrypt(0, b"y").unwrap();
        a.decrypt(&mut rng, &r).unwrap();
    }
    // 5 x 599 keys were skipped; only the newest 2000 are kept.
    assert_eq!(b.stats().skipped_keys, MAX_SKIPPED_KEYS_TOTAL);
    assert_eq!(
        b.decrypt(&mut rng, &first_of_round[0]),
        Err(RatchetError::Unreadable)
    );
    assert_eq!(b.decrypt(&mut rng, &first_of_round[4]).unwrap(), b"x");
    assert_eq!(b.stats().skipped_keys, MAX_SKIPPED_KEYS_TOTAL - 1);
}
