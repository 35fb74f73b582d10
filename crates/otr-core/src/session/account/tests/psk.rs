//! The resumption-PSK chain returns to full mode by count, by age, and when a peer is
//! forgotten.

use super::*;
use crate::dake::Mode;

impl Pair {
    /// A re-key started by alice (or bob); returns the new session's mode on both sides.
    fn rekey(&mut self, by_alice: bool) -> Mode {
        let ssid = self.alice.session_info("bob").ssid;
        if by_alice {
            self.alice.start(self.now, &mut self.rng, "bob");
        } else {
            self.bob.start(self.now, &mut self.rng, "alice");
        }
        self.pump();
        let (a, b) = (
            self.alice.session_info("bob"),
            self.bob.session_info("alice"),
        );
        assert_ne!(a.ssid, ssid, "a new session");
        assert_eq!(a.ssid, b.ssid);
        assert_eq!(a.mode, b.mode);
        a.mode.unwrap()
    }
}

#[test]
fn full_mode_after_the_policy_s_number_of_resumptions() {
    let policy = Policy::default();
    assert_eq!(policy.psk_max_uses, 16);
    let mut pair = Pair::established(701);
    assert_eq!(pair.alice.session_info("bob").mode, Some(Mode::Full));
    for i in 0..policy.psk_max_uses {
        assert_eq!(pair.rekey(i % 2 == 0), Mode::Psk, "resumption {}", i + 1);
    }
    assert_eq!(pair.rekey(true), Mode::Full, "the chain is cut");
    assert_eq!(pair.rekey(false), Mode::Psk, "and a new one starts");
}

#[test]
fn full_mode_once_the_chain_is_older_than_the_policy_allows() {
    let policy = Policy::default();
    assert_eq!(policy.psk_max_age_ms, 7 * 24 * 3600 * 1000);
    let mut pair = Pair::established(702);
    pair.now = T0 + policy.psk_max_age_ms - 60_000;
    assert_eq!(pair.rekey(true), Mode::Psk);
    // Counted from the full-mode session the chain started with, not the last resumption.
    pair.now = T0 + policy.psk_max_age_ms;
    assert_eq!(pair.rekey(false), Mode::Full);
    pair.now += 60_000;
    assert_eq!(pair.rekey(true), Mode::Psk);
}

#[test]
fn forget_peer_drops_psk_profile_previous_and_handshake() {
    let mut pair = Pair::established(703);
    assert_eq!(pair.rekey(true), Mode::Psk);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    drain(&mut pair.alice);
    {
        let p = &pair.alice.peers["bob"];
        assert!(p.psk.is_some() && p.profile.is_some() && p.previous.is_some());
        assert!(p.handshake.is_running());
    }
    pair.alice.forget_peer("bob");
    let p = &pair.alice.peers["bob"];
    assert!(p.psk.is_none() && p.profile.is_none() && p.previous.is_none());
    assert!(!p.handshake.is_running());
    assert!(pair.alice.peer_profile("bob").is_none());
    assert_eq!(
        pair.alice.session_info("bob").state,
        State::Encrypted,
        "session kept"
    );
    // Whoever starts next, the DAKE runs in full mode.
    assert_eq!(pair.rekey(false), Mode::Full);
    pair.alice.forget_peer("bob");
    assert_eq!(pair.rekey(true), Mode::Full);
}

#[test]
fn drop_psk_makes_the_next_handshake_full_mode() {
    let mut pair = Pair::established(704);
    assert_eq!(pair.rekey(true), Mode::Psk);
    pair.alice.drop_psk("bob");
    assert!(pair.alice.peers["bob"].psk.is_none());
    assert_eq!(pair.rekey(true), Mode::Full);
}

impl Pair {
    /// The id of the PSK `who` renewed in its current session, if it did.
    fn renewed_id(&self, alice: bool) -> Option<[u8; 16]> {
        let (acc, peer) = if alice {
            (&self.alice, "bob")
        } else {
            (&self.bob, "alice")
        };
        acc.peers[peer].psk_renewed.as_ref().map(|p| p.id)
    }

    fn kem_steps(&self, alice: bool) -> u64 {
        let (acc, peer) = if alice {
            (&self.alice, "bob")
        } else {
            (&self.bob, "alice")
        };
        acc.peers[peer]
            .session
            .as_ref()
            .map_or(0, |s| s.ratchet.stats().kem_steps)
    }
}

/// A repeat contact (PSK mode) defers its ephemeral ML-KEM exchange to the ratchet: the
/// responder offers it right after the handshake, before anything is typed, and each side
/// renews the resumption PSK at the session's first KEM mix. The next DAKE then runs on the
/// renewed PSK; a side that missed the renewal offers the DAKE's PSK, which the other side
/// still holds: PSK mode either way.
#[test]
fn a_resumed_session_renews_its_psk_at_its_first_kem_exchange() {
    let mut pair = Pair::established(705);
    assert_eq!(pair.renewed_id(true), None);
    assert_eq!(pair.rekey(true), Mode::Psk);
    // Nothing typed: bob (responder) offered, alice answered, bob mixed in at his next chain.
    assert_eq!(
        pair.kem_steps(false),
        1,
        "the deferred exchange ran at once"
    );
    let bob_renewed = pair.renewed_id(false).expect("bob renewed");
    assert_eq!(
        pair.renewed_id(true),
        None,
        "alice has not seen bob's MIX chain"
    );

    // Alice, who missed the renewal, starts: she offers the DAKE's PSK, bob holds it too.
    let resumed = pair.clone_psk_ids();
    assert_eq!(pair.rekey(true), Mode::Psk);
    assert_ne!(resumed, pair.clone_psk_ids());

    // This time bob types after the exchange: alice takes the MIX step and renews as well.
    pair.bob
        .send(pair.now, &mut pair.rng, "alice", "after the exchange")
        .unwrap();
    pair.pump();
    let (a, b) = (pair.renewed_id(true), pair.renewed_id(false));
    assert!(a.is_some() && a == b, "{a:?} {b:?}");
    assert_ne!(a, Some(bob_renewed), "one per session");
    // Bob keeps only the renewed PSK: the next DAKE can only be PSK mode on that one.
    pair.bob.peers.get_mut("alice").unwrap().psk = None;
    assert_eq!(pair.rekey(true), Mode::Psk);
    // Without it, full mode.
    pair.bob.peers.get_mut("alice").unwrap().psk = None;
    pair.bob.peers.get_mut("alice").unwrap().psk_renewed = None;
    assert_eq!(pair.rekey(true), Mode::Full);
}

impl Pair {
    /// Both sides' DAKE-derived PSK ids.
    fn clone_psk_ids(&self) -> ([u8; 16], [u8; 16]) {
        let id = |acc: &Account, peer: &str| {
            acc.peers[peer]
                .psk
                .as_ref()
                .map(|p| p.id)
                .unwrap_or_default()
        };
        (id(&self.alice, "bob"), id(&self.bob, "alice"))
    }
}

/// The shell reports bulk lines still queued for the peer: meanwhile the account sends no
/// ML-KEM offer or answer a second time (each is 7 lines), and it does once the queue is
/// empty again.
#[test]
fn kem_material_is_not_sent_again_while_bulk_lines_wait() {
    let mut pair = Pair::established(706);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    // The handshake, without bob's bulk lines (his deferred offer) reaching alice.
    loop {
        let a = drain(&mut pair.alice);
        let b = typed_only(drain(&mut pair.bob));
        if a.is_empty() && b.is_empty() {
            break;
        }
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
    // Typed turns; bob's queue still holds his offer.
    pair.bob.set_bulk_backlog("alice", true);
    let mut bob_bulk = 0;
    for i in 0..6 {
        pair.alice
            .send(pair.now, &mut pair.rng, "bob", &format!("a{i}"))
            .unwrap();
        // Alice's own offers stay away too: bob's answer to one would be a first send.
        let a = typed_only(drain(&mut pair.alice));
        pair.deliver_to_bob(&a);
        pair.bob
            .send(pair.now, &mut pair.rng, "alice", &format!("b{i}"))
            .unwrap();
        let b = drain(&mut pair.bob);
        bob_bulk += b.iter().filter(|t| t.bulk).count();
        pair.deliver_to_alice(&typed_only(b));
    }
    assert_eq!(
        bob_bulk, 0,
        "nothing sent again while the queue holds the offer"
    );
    // The queue drained: the next message from alice brings the offer out once more.
    pair.bob.set_bulk_backlog("alice", false);
    pair.alice
        .send(pair.now, &mut pair.rng, "bob", "again")
        .unwrap();
    let a = typed_only(drain(&mut pair.alice));
    pair.deliver_to_bob(&a);
    let b = drain(&mut pair.bob);
    assert_eq!(b.iter().filter(|t| t.bulk).count(), 7, "one offer, 7 lines");
}

/// The lines that are not bulk (what a test lets through while holding ML-KEM material back).
fn typed_only(lines: Vec<Transmit>) -> Vec<Transmit> {
    lines.into_iter().filter(|t| !t.bulk).collect()
}
