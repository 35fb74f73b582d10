use super::*;
use crate::testing::{ratchet_pair, test_rng};
use crate::wire::data::DataMessage;

mod kem_flow;

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
