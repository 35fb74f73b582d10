//! The ML-KEM exchange in messages of its own: typed messages stay one line, exchanges
//! complete despite loss, reordering and both sides offering, and nothing a replayed, forged
//! or late KEM line carries changes the state.

use super::*;
use crate::fragment::fragmenter;
use crate::wire::data::FLAG_MIX;
use crate::wire::envelope;
use crate::wire::tlv::Payload;
use rand::rngs::StdRng;
use subtle::ConstantTimeEq;

fn pad(text: &[u8]) -> Vec<u8> {
    Payload {
        text: text.to_vec(),
        tlvs: Vec::new(),
    }
    .padded(32)
    .encode()
}

/// PRIVMSG lines at a 400-byte budget, as the account sends them.
fn lines(msg: &DataMessage) -> usize {
    let encoded = envelope::encode(&msg.encode());
    fragmenter::fragment(&encoded, 400, 1, 0x1001, 0x2002)
        .unwrap()
        .len()
}

/// The KEM messages a ratchet owes now (what the account sends after each accepted message).
fn owed(r: &mut Ratchet) -> Vec<DataMessage> {
    let mut out = Vec::new();
    while let Some(m) = r.kem_message(&pad(b"")).unwrap() {
        assert_eq!(m.flags & FLAG_IGNORE_UNREADABLE, FLAG_IGNORE_UNREADABLE);
        assert!(!matches!(m.kem, KemField::None));
        out.push(m);
    }
    out
}

fn is_offer(m: &DataMessage) -> bool {
    matches!(m.kem, KemField::EncapsKey { .. })
}

fn is_answer(m: &DataMessage) -> bool {
    matches!(m.kem, KemField::Ciphertext { .. })
}

fn offer_number(m: &DataMessage) -> u32 {
    match m.kem {
        KemField::EncapsKey { offer, .. } | KemField::Ciphertext { offer, .. } => offer,
        KemField::None => 0,
    }
}

/// Two ratchets and the lines in flight between them. Typed messages and KEM messages wait
/// in separate queues, so tests can hold, drop or reorder the KEM lines.
struct Net {
    a: Ratchet,
    b: Ratchet,
    rng: StdRng,
    /// Typed messages in flight: (to a?, message).
    typed: Vec<(bool, DataMessage)>,
    /// KEM messages in flight: (to a?, message).
    kem: Vec<(bool, DataMessage)>,
    typed_sent: u64,
    typed_opened: u64,
}

impl Net {
    fn new(seed: u64, kem_every: u32) -> Net {
        let (a, b) = ratchet_pair(seed, kem_every);
        Net {
            a,
            b,
            rng: test_rng(seed ^ 0xfeed),
            typed: Vec::new(),
            kem: Vec::new(),
            typed_sent: 0,
            typed_opened: 0,
        }
    }

    fn side(&mut self, a: bool) -> &mut Ratchet {
        if a { &mut self.a } else { &mut self.b }
    }

    /// `a` (or b) types a 5-byte message: it must be one line with no KEM material.
    fn say(&mut self, from_a: bool) -> DataMessage {
        let m = self.side(from_a).encrypt(0, &pad(b"hello")).unwrap();
        assert_eq!(
            m.kem,
            KemField::None,
            "a typed message carries KEM material"
        );
        assert_eq!(lines(&m), 1, "a typed 5-byte message is not one line");
        self.typed.push((!from_a, m.clone()));
        self.typed_sent += 1;
        m
    }

    /// Delivers one message; the receiver's owed KEM messages join the KEM queue.
    fn deliver(&mut self, to_a: bool, m: &DataMessage) {
        let mut rng = std::mem::replace(&mut self.rng, test_rng(0));
        let r = self.side(to_a);
        let pt = r.decrypt(&mut rng, &roundtrip(m)).unwrap();
        self.rng = rng;
        if matches!(m.kem, KemField::None) {
            assert_eq!(pt, pad(b"hello"));
            self.typed_opened += 1;
        } else {
            assert_eq!(pt, pad(b""));
        }
        for k in owed(self.side(to_a)) {
            self.kem.push((!to_a, k));
        }
    }

    fn deliver_typed(&mut self) {
        for (to_a, m) in std::mem::take(&mut self.typed) {
            self.deliver(to_a, &m);
        }
    }

    /// Delivers every queued line, typed first (as a pacer does), until nothing is left.
    fn settle(&mut self) {
        while !self.typed.is_empty() || !self.kem.is_empty() {
            self.deliver_typed();
            for (to_a, m) in std::mem::take(&mut self.kem) {
                self.deliver(to_a, &m);
            }
        }
    }

    /// Delivers everything like [`Net::settle`], but each KEM line only if `keep` says so
    /// (it may hold a copy).
    fn pump(&mut self, mut keep: impl FnMut(bool, &DataMessage) -> bool) {
        while !self.typed.is_empty() || !self.kem.is_empty() {
            self.deliver_typed();
            for (to_a, m) in std::mem::take(&mut self.kem) {
                if keep(to_a, &m) {
                    self.deliver(to_a, &m);
                }
            }
        }
    }

    /// One turn of an alternating conversation, everything delivered.
    fn turn(&mut self, from_a: bool) {
        self.say(from_a);
        self.settle();
    }

    fn exchanges(&self) -> (u64, u64) {
        (self.a.stats().kem_steps, self.b.stats().kem_steps)
    }
}

#[test]
fn typed_messages_are_one_line_whatever_the_kem_state() {
    let mut net = Net::new(21, 1);
    let mut kem_lines = Vec::new();
    let mut mixed_typed = 0;
    for turn in 0..40 {
        // Typed messages go before the KEM lines the last delivery produced, so every KEM
        // state (offer pending, answer pending, secret to mix) meets a typed message.
        let m = net.say(turn % 2 == 0);
        mixed_typed += usize::from(m.flags & FLAG_MIX != 0);
        net.deliver_typed();
        for (to_a, k) in std::mem::take(&mut net.kem) {
            kem_lines.push(lines(&k));
            net.deliver(to_a, &k);
        }
    }
    net.settle();
    let (a, b) = net.exchanges();
    assert!(a >= 4 && b >= 4, "exchanges: a {a} b {b}");
    assert!(
        mixed_typed >= 4,
        "typed messages on MIX chains: {mixed_typed}"
    );
    assert!(kem_lines.iter().all(|&l| l == 7), "KEM lines {kem_lines:?}");
    assert_eq!(net.typed_opened, net.typed_sent);
}

/// Alternating turns for `kem_every` = k: (chains, completed exchanges, KEM messages).
/// `late`: each turn's KEM lines arrive after the next typed line (as a pacer sends them).
fn alternate(k: u32, turns: u32, late: bool) -> (u64, u64, u64) {
    let mut net = Net::new(23, k);
    let mut held = Vec::new();
    for turn in 0..turns {
        net.say(turn % 2 == 0);
        if late {
            net.deliver_typed();
            for (to_a, m) in std::mem::take(&mut held) {
                net.deliver(to_a, &m);
            }
            held = std::mem::take(&mut net.kem);
        } else {
            net.settle();
        }
    }
    net.kem.append(&mut held);
    net.settle();
    assert_eq!(net.typed_opened, net.typed_sent);
    let (a, b) = net.exchanges();
    // Each exchange is counted once by each side.
    assert!(a.abs_diff(b) <= 1, "the sides disagree: a {a} b {b}");
    let chains = net.a.stats().dh_steps + net.b.stats().dh_steps;
    let kem = net.a.stats().kem_messages + net.b.stats().kem_messages;
    (chains, (a + b) / 2, kem)
}

#[test]
fn exchanges_complete_in_an_alternating_conversation() {
    // docs/PROTOCOL.md §7.6: with KEM lines delivered before the next turn, one exchange
    // per 2·kem_every + 3 chains and two KEM messages (offer, answer) per exchange; with
    // KEM lines overtaken by the next typed line, at least as many and few re-sends.
    for k in [1, DEFAULT_KEM_EVERY] {
        let (chains, exchanges, kem) = alternate(k, 240, false);
        let per = chains as f64 / exchanges as f64;
        assert!(
            per <= f64::from(2 * k + 3) + 0.2,
            "k {k}: {per:.2} chains per exchange"
        );
        assert!(
            kem <= 2 * exchanges + 2,
            "k {k}: {kem} KEM messages, {exchanges} exchanges"
        );
        let (chains, exchanges, kem) = alternate(k, 240, true);
        let per = chains as f64 / exchanges as f64;
        assert!(
            per <= f64::from(2 * k + 3) + 0.2,
            "k {k} late: {per:.2} chains/exchange"
        );
        assert!(
            kem <= 2 * exchanges + 4,
            "k {k} late: {kem} KEM msgs, {exchanges} exchanges"
        );
    }
}

#[test]
fn a_lost_offer_is_sent_again_and_the_exchange_completes() {
    let mut net = Net::new(25, 1);
    let mut dropped = None;
    let mut answered = Vec::new();
    for turn in 0..30 {
        net.say(turn % 2 == 0);
        net.pump(|to_a, k| {
            if is_offer(k) && dropped.is_none() {
                dropped = Some((to_a, offer_number(k)));
                return false;
            }
            if is_answer(k) {
                answered.push((!to_a, offer_number(k)));
            }
            true
        });
    }
    let (a, b) = net.exchanges();
    let dropped = dropped.unwrap();
    assert!(
        answered.contains(&dropped),
        "offer {dropped:?} never answered"
    );
    assert!(a >= 3 && b >= 3, "exchanges: a {a} b {b}");
    assert_eq!(net.typed_opened, net.typed_sent);
}

#[test]
fn a_lost_answer_is_sent_again_and_the_exchange_completes() {
    let mut net = Net::new(27, 1);
    let mut dropped = Vec::new();
    let mut delivered = Vec::new();
    for turn in 0..30 {
        net.say(turn % 2 == 0);
        net.pump(|to_a, k| {
            // The first answer to each of the first three offers is lost.
            let id = (to_a, offer_number(k));
            if is_answer(k) && dropped.len() < 3 && !dropped.contains(&id) {
                dropped.push(id);
                return false;
            }
            if is_answer(k) {
                delivered.push(id);
            }
            true
        });
    }
    let (a, b) = net.exchanges();
    assert_eq!(dropped.len(), 3);
    for id in &dropped {
        assert!(delivered.contains(id), "answer {id:?} never sent again");
    }
    assert!(a >= 3 && b >= 3, "exchanges: a {a} b {b}");
    assert_eq!(net.typed_opened, net.typed_sent);
}

#[test]
fn kem_lines_late_and_reordered_still_complete_exchanges() {
    let mut net = Net::new(29, 1);
    let mut held: Vec<(bool, DataMessage)> = Vec::new();
    for turn in 0..40 {
        net.say(turn % 2 == 0);
        net.deliver_typed();
        held.append(&mut net.kem);
        // KEM lines arrive three turns late, newest first.
        if turn % 3 == 2 {
            for (to_a, k) in held.drain(..).rev() {
                net.deliver(to_a, &k);
            }
            net.deliver_typed();
            held.append(&mut net.kem);
        }
    }
    net.settle();
    let (a, b) = net.exchanges();
    assert!(a >= 3 && b >= 3, "exchanges: a {a} b {b}");
    assert_eq!(net.typed_opened, net.typed_sent);
}

#[test]
fn both_sides_offering_at_once_complete_both_exchanges() {
    let mut net = Net::new(31, 1);
    let mut both = false;
    // Hold all KEM lines until both sides have an offer out.
    for turn in 0..12 {
        net.say(turn % 2 == 0);
        net.deliver_typed();
        if net.a.kem.offer_number().is_some() && net.b.kem.offer_number().is_some() {
            both = true;
            break;
        }
    }
    assert!(both, "no simultaneous offers");
    let (a0, b0) = net.exchanges();
    for turn in 0..6 {
        net.turn(turn % 2 == 0);
    }
    // Each side mixed its own secret and the peer's.
    let (a, b) = net.exchanges();
    assert!(
        a >= a0 + 2 && b >= b0 + 2,
        "before {a0}/{b0}, after {a}/{b}"
    );
    assert_eq!(net.typed_opened, net.typed_sent);
}

/// Talks in turns, delivering in order, until the next line to deliver is the first of a
/// MIX chain; returns it undelivered with its recipient and plaintext.
fn until_mix(net: &mut Net) -> (bool, DataMessage, Vec<u8>) {
    for turn in 0..20 {
        net.say(turn % 2 == 0);
        loop {
            let mut queue = std::mem::take(&mut net.typed);
            queue.append(&mut net.kem);
            if queue.is_empty() {
                break;
            }
            for (to_a, m) in queue {
                if m.flags & FLAG_MIX != 0 {
                    let text = if m.kem == KemField::None {
                        b"hello".as_slice()
                    } else {
                        b""
                    };
                    return (to_a, m, pad(text));
                }
                net.deliver(to_a, &m);
            }
        }
    }
    panic!("no MIX chain in 20 turns")
}

#[test]
fn a_mix_chain_without_an_answered_offer_is_refused_and_changes_nothing() {
    let mut net = Net::new(33, 1);
    let (to_a, m, _) = until_mix(&mut net);
    let r = net.side(to_a);
    r.kem.forget_answer();
    let before = r.state_digest();
    let mut rng = test_rng(34);
    assert_eq!(r.decrypt(&mut rng, &m), Err(RatchetError::NoAnsweredOffer));
    assert_eq!(r.state_digest(), before);
}

#[test]
fn the_mix_chain_needs_the_kem_secret() {
    // Counterfactual (post-compromise security): everything the receiver holds except the
    // ML-KEM secret (root key, ratchet secret) does not open a message of the MIX chain.
    let mut net = Net::new(35, 1);
    let (to_a, m, text) = until_mix(&mut net);
    let r = net.side(to_a);
    let ad = m.associated_data();
    let dh = r.dhs.diffie_hellman(&m.ratchet_key).unwrap();
    let open_with = |step: keys::RootStep| {
        let (_, mk, _) = walk(&step.chain, 0, m.n, &m.ratchet_key);
        aead::open(&mk.key(), &mk.nonce(), &ad, &m.ciphertext)
    };
    assert!(
        open_with(root_step(&r.root, &dh, None)).is_err(),
        "KEM secret was ignored"
    );
    let secret = r.kem.answered_secret().unwrap();
    let step = root_step(&r.root, &dh, Some((&secret.ss, &secret.binding)));
    assert_eq!(open_with(step).unwrap(), text);
    let steps = r.stats().kem_steps;
    assert_eq!(r.decrypt(&mut test_rng(36), &m).unwrap(), text);
    assert_eq!(r.stats().kem_steps, steps + 1);
    assert_eq!(
        r.kem.answered_number(),
        None,
        "the answer is forgotten once mixed"
    );
}

#[test]
fn replayed_and_tampered_kem_lines_change_nothing() {
    let mut net = Net::new(37, 1);
    let mut seen = Vec::new();
    for turn in 0..12 {
        net.say(turn % 2 == 0);
        let mut kem = Vec::new();
        net.pump(|to_a, k| {
            kem.push((to_a, k.clone()));
            false
        });
        // Tampered copies first (every 11th byte, the flags, the KEM kind and offer number),
        // then the real line.
        while let Some((to_a, k)) = (!kem.is_empty()).then(|| kem.remove(0)) {
            let bytes = k.encode();
            let mut positions: Vec<usize> = (0..bytes.len()).step_by(11).collect();
            positions.extend([11, 76, 77, 78, 79, 80]);
            for i in positions {
                let mut bad = bytes.clone();
                bad[i] ^= 0x02;
                if let Ok(bad) = DataMessage::decode(&bad) {
                    let r = net.side(to_a);
                    let before = r.state_digest();
                    assert!(
                        r.decrypt(&mut test_rng(1), &bad).is_err(),
                        "byte {i} accepted"
                    );
                    assert_eq!(r.state_digest(), before, "byte {i} changed state");
                }
            }
            net.deliver(to_a, &k);
            seen.push((to_a, k));
            kem.append(&mut net.kem);
        }
        net.settle();
    }
    assert!(seen.iter().any(|(_, k)| is_offer(k)) && seen.iter().any(|(_, k)| is_answer(k)));
    for (to_a, k) in &seen {
        let r = net.side(*to_a);
        let before = r.state_digest();
        assert!(r.decrypt(&mut test_rng(2), k).is_err(), "replay accepted");
        assert_eq!(r.state_digest(), before, "replay changed state");
    }
}

#[test]
fn late_answers_and_offers_already_mixed_are_ignored() {
    let mut net = Net::new(39, 1);
    // Hold the first answer and let its re-send (on the answerer's next chain) complete the
    // exchange; hold the first re-sent offer too.
    let mut held_answer = None;
    let mut held_offer = None;
    let mut offers_seen = Vec::new();
    for turn in 0..16 {
        net.say(turn % 2 == 0);
        net.pump(|to_a, k| {
            if is_answer(k) && held_answer.is_none() {
                held_answer = Some((to_a, k.clone()));
                return false;
            }
            if is_offer(k) {
                let id = (to_a, offer_number(k));
                if offers_seen.contains(&id) && held_offer.is_none() {
                    held_offer = Some((to_a, k.clone()));
                    return false;
                }
                offers_seen.push(id);
            }
            true
        });
    }
    let (to_a, answer) = held_answer.unwrap();
    // The offerer has moved on (a later offer of its own, or none): the old answer is a no-op.
    let r = net.side(to_a);
    assert_ne!(r.kem.offer_number(), Some(offer_number(&answer)));
    let (steps, offer) = (r.stats().kem_steps, r.kem.offer_number());
    assert!(r.decrypt(&mut test_rng(3), &answer).is_ok());
    assert_eq!(r.stats().kem_steps, steps);
    assert_eq!(r.kem.offer_number(), offer);
    assert!(owed(r).is_empty());
    let (to_a, offer) = held_offer.unwrap();
    let r = net.side(to_a);
    let answered = r.kem.answered_number();
    assert!(r.decrypt(&mut test_rng(4), &offer).is_ok());
    assert_eq!(
        r.kem.answered_number(),
        answered,
        "an old offer was answered again"
    );
    assert!(owed(r).is_empty());
    // The conversation and the exchanges go on.
    let (a0, b0) = net.exchanges();
    for turn in 0..8 {
        net.turn(turn % 2 == 0);
    }
    let (a, b) = net.exchanges();
    assert!(a > a0 && b > b0);
    assert_eq!(net.typed_opened, net.typed_sent);
}

/// After a DAKE that deferred its ephemeral ML-KEM exchange (a repeat contact), the
/// responder's first chain offers an encapsulation key at once, before anything is typed;
/// once the exchange completed, each side derives the same renewed resumption PSK, once,
/// when it takes the root step that mixes the secret in.
#[test]
fn a_deferred_exchange_starts_at_once_and_renews_the_psk() {
    let (mut a, mut b) = crate::testing::resumed_ratchet_pair(21, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(22);
    // The initiator owes nothing; the responder's first chain owes its offer.
    assert!(owed(&mut a).is_empty());
    let offer = owed(&mut b);
    assert_eq!(offer.len(), 1);
    assert!(is_offer(&offer[0]));
    // The initiator answers it.
    let early = a.encrypt(0, &pad(b"sent early")).unwrap();
    assert_eq!(b.decrypt(&mut rng, &early).unwrap(), pad(b"sent early"));
    a.decrypt(&mut rng, &offer[0]).unwrap();
    let answer = owed(&mut a);
    assert!(answer.len() == 1 && is_answer(&answer[0]));
    assert!(a.take_renewed_psk().is_none() && b.take_renewed_psk().is_none());
    // The responder decapsulates; its next chain mixes the secret in: renewed here.
    b.decrypt(&mut rng, &answer[0]).unwrap();
    let renewed_b = b.take_renewed_psk().expect("responder renewed");
    assert!(b.take_renewed_psk().is_none(), "once");
    assert!(a.take_renewed_psk().is_none());
    // The initiator renews when the responder's MIX chain reaches it.
    let mixed = b.encrypt(0, &pad(b"on the mix chain")).unwrap();
    assert_eq!(mixed.flags & FLAG_MIX, FLAG_MIX);
    a.decrypt(&mut rng, &mixed).unwrap();
    let renewed_a = a.take_renewed_psk().expect("initiator renewed");
    assert_eq!(renewed_a.id, renewed_b.id);
    assert!(bool::from(renewed_a.secret.ct_eq(&renewed_b.secret)));
    assert_eq!((a.stats().kem_steps, b.stats().kem_steps), (1, 1));
    // Later exchanges do not renew it again.
    let mut net = Net {
        a,
        b,
        ..Net::new(23, DEFAULT_KEM_EVERY)
    };
    for i in 0..30 {
        net.turn(i % 2 == 0);
    }
    assert!(net.a.stats().kem_steps > 2);
    assert!(net.a.take_renewed_psk().is_none() && net.b.take_renewed_psk().is_none());
}

/// Without a deferred exchange (first contact) nothing is offered before `kem_every` chains.
#[test]
fn a_first_contact_offers_nothing_at_once() {
    let (mut a, mut b) = ratchet_pair(24, DEFAULT_KEM_EVERY);
    assert!(owed(&mut a).is_empty() && owed(&mut b).is_empty());
}

/// While the sender's queue still holds an earlier copy (`resend` false), an offer sent
/// before stays owed and is not sent again, though the chains that would re-send it pass;
/// once re-sends are allowed, it goes once, with the same offer number.
#[test]
fn a_resend_waits_while_the_earlier_copy_is_queued() {
    let (mut a, mut b) = crate::testing::resumed_ratchet_pair(31, DEFAULT_KEM_EVERY);
    let mut rng = test_rng(32);
    let first = b.kem_message_with(&pad(b""), false).unwrap().unwrap();
    assert!(is_offer(&first), "a first send goes whatever `resend` says");
    // The offer is never delivered; typed turns start new chains on both sides.
    let mut withheld = 0;
    for _ in 0..6 {
        let m = a.encrypt(0, &pad(b"hello")).unwrap();
        b.decrypt(&mut rng, &m).unwrap();
        if b.kem_message_with(&pad(b""), false).unwrap().is_none() {
            withheld += 1;
        }
        let m = b.encrypt(0, &pad(b"hello")).unwrap();
        a.decrypt(&mut rng, &m).unwrap();
    }
    assert_eq!(withheld, 6);
    let again = b.kem_message_with(&pad(b""), true).unwrap().unwrap();
    assert!(is_offer(&again));
    assert_eq!(offer_number(&again), offer_number(&first));
    assert!(
        b.kem_message_with(&pad(b""), true).unwrap().is_none(),
        "once"
    );
    // Delivered now, the exchange completes.
    a.decrypt(&mut rng, &again).unwrap();
    let answer = owed(&mut a);
    assert!(answer.len() == 1 && is_answer(&answer[0]));
    b.decrypt(&mut rng, &answer[0]).unwrap();
    assert_eq!(b.stats().kem_steps, 1);
}
