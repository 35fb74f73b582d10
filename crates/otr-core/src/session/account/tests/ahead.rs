//! The query sender's profile sent ahead of its Auth-R (docs/PROTOCOL.md §5.8, §6.1): when
//! it goes, what Auth-R then carries, and what a lost, substituted, forged or stray Profile
//! message does (nothing but a failed DAKE or one Profile-Request round trip).

use std::mem::{Discriminant, discriminant};

use super::*;
use crate::fragment::assembler::Assembler;
use crate::profile::DEFAULT_PROFILE_LIFETIME_SECS;
use crate::testing::TEST_NOW_UNIX;
use crate::wire::dake::{ProfileAhead, SENT_AHEAD_REQUEST};

/// The binary messages `lines` carry, reassembled.
pub(super) fn messages(lines: &[Transmit]) -> Vec<Vec<u8>> {
    let mut asm = Assembler::new();
    let mut out = Vec::new();
    for t in lines {
        if fragment::is_fragment(&t.line) {
            let to = fragment::parse_fragment(&t.line).unwrap().receiver_tag;
            if let Some(m) = asm.push(T0, &t.line, to).unwrap().complete {
                out.push(envelope::decode(&m).unwrap());
            }
        } else if envelope::is_encoded(&t.line) {
            out.push(envelope::decode(&t.line).unwrap());
        }
    }
    out
}

pub(super) fn types(lines: &[Transmit]) -> Vec<MessageType> {
    messages(lines)
        .iter()
        .map(|b| Header::peek(b).unwrap().msg_type)
        .collect()
}

/// The one Auth-R among `lines`.
pub(super) fn auth_r_of(lines: &[Transmit]) -> AuthR {
    let all = messages(lines);
    assert_eq!(all.len(), 1);
    AuthR::decode(&all[0]).unwrap()
}

pub(super) fn line(bin: &[u8]) -> Transmit {
    Transmit {
        peer: String::new(),
        line: envelope::encode(bin),
        bulk: false,
    }
}

fn profile_message(profile: &[u8], sender: u32, receiver: u32) -> Transmit {
    let msg = ProfileAhead {
        header: Header {
            msg_type: MessageType::Profile,
            sender,
            receiver,
        },
        profile: profile.to_vec(),
    };
    line(&msg.encode())
}

/// A properly signed profile of someone else (Carol) under `tag`, expiring at `expiry`.
fn carols_profile(seed: u64, tag: u32, expiry: i64) -> ClientProfile {
    let keys = LongTermKeys::generate(&mut test_rng(seed)).unwrap();
    ClientProfile::sign(&keys, tag, expiry).unwrap()
}

fn valid_until() -> i64 {
    TEST_NOW_UNIX + DEFAULT_PROFILE_LIFETIME_SECS
}

/// The fingerprint of the profile `a`'s handshake holds from a Profile message.
fn held(a: &Account, peer: &str) -> Option<Fingerprint> {
    match &a.peers[peer].handshake {
        Handshake::WaitingAuthR { profile_ahead, .. } => {
            profile_ahead.as_ref().map(|p| *p.fingerprint())
        }
        _ => None,
    }
}

pub(super) fn events(a: &mut Account) -> Vec<Event> {
    std::iter::from_fn(|| a.poll_event()).collect()
}

pub(super) fn kinds(events: &[Event]) -> Vec<Discriminant<Event>> {
    events.iter().map(discriminant).collect()
}

/// Alice's query to bob and bob's Identity in answer (several lines), undelivered: bob is
/// the initiator, alice the responder whose profile may go ahead.
pub(super) fn query_and_identity(pair: &mut Pair) -> Vec<Transmit> {
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let query = drain(&mut pair.alice);
    assert_eq!(query.len(), 1);
    pair.deliver_to_bob(&query);
    let identity = drain(&mut pair.bob);
    assert!(identity.len() > 1, "a first-contact Identity spans lines");
    assert_eq!(types(&identity), [MessageType::Identity]);
    identity
}

/// Relays both ways until both sides are quiet; the message types alice sent, in order.
pub(super) fn pump_types_from_alice(pair: &mut Pair) -> Vec<MessageType> {
    let mut sent = Vec::new();
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            return sent;
        }
        sent.extend(types(&a));
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
}

/// Alice's Profile message (sent on the first line of bob's Identity) and her Auth-R
/// (sent on the last), both undelivered.
pub(super) fn ahead_and_auth_r(
    pair: &mut Pair,
    identity: &[Transmit],
) -> (Vec<Transmit>, Vec<Transmit>) {
    pair.deliver_to_alice(&identity[..1]);
    let ahead = drain(&mut pair.alice);
    assert_eq!(types(&ahead), [MessageType::Profile]);
    pair.deliver_to_alice(&identity[1..]);
    let auth_r = drain(&mut pair.alice);
    assert_eq!(auth_r_of(&auth_r).profile, ProfileRef::SentAhead);
    (ahead, auth_r)
}

pub(super) fn private_event(events: &[Event]) -> (Fingerprint, dake::Mode, bool, bool) {
    events
        .iter()
        .find_map(|e| match e {
            Event::Private {
                fingerprint,
                mode,
                rekey,
                attested,
                ..
            } => Some((*fingerprint, *mode, *rekey, *attested)),
            _ => None,
        })
        .expect("a Private event")
}

/// A first contact (alice queries, bob initiates), its events on each side, and the pair;
/// with `ahead`, bob's Identity spans lines and alice's profile goes ahead of her Auth-R.
pub(super) fn first_contact(seed: u64, ahead: bool) -> (Pair, Vec<Event>, Vec<Event>) {
    let mut pair = Pair::new(seed);
    if !ahead {
        pair.bob.set_budget("alice", 100_000);
    }
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let sent_by_alice = pump_types_from_alice(&mut pair);
    pair.collect_events();
    let profiles = sent_by_alice
        .iter()
        .filter(|t| **t == MessageType::Profile)
        .count();
    assert_eq!(profiles, usize::from(ahead));
    let (a, b) = (pair.events_alice.clone(), pair.events_bob.clone());
    (pair, a, b)
}

#[test]
fn first_contact_with_the_profile_sent_ahead_completes_as_before() {
    let mut pair = Pair::new(901);
    let identity = query_and_identity(&mut pair);
    // The first Identity line: alice's profile goes, as normal lines, addressed to bob's tag.
    pair.deliver_to_alice(&identity[..1]);
    let ahead = drain(&mut pair.alice);
    assert_eq!(ahead.len(), 7);
    assert!(ahead.iter().all(|t| !t.bulk && t.peer == "bob"));
    let msg = ProfileAhead::decode(&messages(&ahead)[0]).unwrap();
    assert_eq!(msg.profile, pair.alice.profile().as_bytes());
    assert_eq!((msg.header.sender, msg.header.receiver), (ALICE, BOB));
    // Bob holds it, unauthenticated: nothing reported or cached, nothing sent but his CT_R
    // to it (docs/PROTOCOL.md §5.9).
    pair.deliver_to_bob(&ahead);
    let ct = drain(&mut pair.bob);
    assert_eq!(types(&ct), [MessageType::Ciphertext]);
    assert!(events(&mut pair.bob).is_empty());
    assert_eq!(held(&pair.bob, "alice"), Some(pair.alice.fingerprint()));
    assert!(pair.bob.peer_profile("alice").is_none());
    assert_eq!(pair.bob.session_info("alice").fingerprint, None);
    // The rest of the Identity: Auth-R refers to the profile and carries none of it.
    pair.deliver_to_alice(&identity[1..]);
    let auth_r = drain(&mut pair.alice);
    let len = auth_r_of(&auth_r).encode().len();
    assert_eq!(auth_r_of(&auth_r).profile, ProfileRef::SentAhead);
    assert!(len < 3700, "Auth-R is {len} bytes");
    assert_eq!(auth_r.len(), 14);
    pair.deliver_to_alice(&ct);
    assert!(drain(&mut pair.alice).is_empty());
    pair.deliver_to_bob(&auth_r);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    let (fp, mode, rekey, attested) = private_event(&pair.events_bob);
    assert_eq!(fp, pair.alice.fingerprint());
    assert_eq!((mode, rekey, attested), (dake::Mode::Full, false, false));
    let (fp, mode, rekey, attested) = private_event(&pair.events_alice);
    assert_eq!(fp, pair.bob.fingerprint());
    assert_eq!((mode, rekey, attested), (dake::Mode::Full, false, false));
    // Now it is cached, and the attestations arrived.
    assert_eq!(
        pair.bob.peer_profile("alice").unwrap().fingerprint(),
        &pair.alice.fingerprint()
    );
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
    // The PSK the DAKE derived carries the next one, attested from the start.
    pair.events_alice.clear();
    pair.events_bob.clear();
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    pair.pump();
    let (fp, mode, rekey, attested) = private_event(&pair.events_bob);
    assert_eq!(fp, pair.alice.fingerprint());
    assert_eq!((mode, rekey, attested), (dake::Mode::Psk, true, true));
}

#[test]
fn events_of_a_first_contact_are_the_same_with_the_profile_sent_ahead() {
    let (_, alice_before, bob_before) = first_contact(902, false);
    let (pair, alice_after, bob_after) = first_contact(902, true);
    assert_eq!(kinds(&alice_after), kinds(&alice_before));
    assert_eq!(kinds(&bob_after), kinds(&bob_before));
    assert!(pair.alice.is_attested("bob") && pair.bob.is_attested("alice"));
}

#[test]
fn the_profile_goes_ahead_once_only_from_the_query_sender_on_an_identity_line() {
    let mut pair = Pair::new(903);
    let identity = query_and_identity(&mut pair);
    // Plain text, a later Identity line, and the first line of another message type from
    // bob: nothing goes ahead.
    pair.alice
        .handle_incoming(pair.now, &mut pair.rng, "bob", "what is this?");
    pair.deliver_to_alice(&identity[2..3]);
    let mut not_identity = vec![0x00, 0x50, MessageType::AuthI as u8];
    not_identity.extend([0x42; 900]);
    let other = fragmenter::fragment(&envelope::encode(&not_identity), 400, 7, BOB, ALICE).unwrap();
    assert!(other.len() > 1);
    pair.alice
        .handle_incoming(pair.now, &mut pair.rng, "bob", &other[0]);
    assert!(drain(&mut pair.alice).is_empty());
    // The first Identity line: the profile goes, once.
    pair.deliver_to_alice(&identity[..1]);
    let ahead = drain(&mut pair.alice);
    assert_eq!(types(&ahead), [MessageType::Profile]);
    pair.deliver_to_bob(&ahead);
    pair.deliver_to_alice(&identity[..1]);
    let again = fragmenter::fragment(&messages_as_encoded(&identity), 400, 8, BOB, ALICE).unwrap();
    pair.alice
        .handle_incoming(pair.now, &mut pair.rng, "bob", &again[0]);
    assert!(drain(&mut pair.alice).is_empty(), "sent twice");
    // The Identity completes: Auth-R only. Bob, who answered the query, sent no Profile
    // message (his Identity was one message of its type), and sends none now.
    pair.deliver_to_alice(&identity[1..2]);
    pair.deliver_to_alice(&identity[3..]);
    let auth_r = drain(&mut pair.alice);
    assert_eq!(types(&auth_r), [MessageType::AuthR]);
    pair.deliver_to_bob(&auth_r);
    let auth_i = drain(&mut pair.bob);
    // Bob's CT_R went ahead when alice's Profile message arrived.
    assert_eq!(
        types(&auth_i),
        [MessageType::Ciphertext, MessageType::AuthI]
    );

    // A nick that answers a query with anything but an Identity gets nothing more.
    pair.alice.set_auto_respond("carol", true);
    pair.alice.start(pair.now, &mut pair.rng, "carol");
    assert_eq!(drain(&mut pair.alice).len(), 1);
    for text in ["hi, what is this?", "?OTR Error: no", "just text"] {
        pair.alice
            .handle_incoming(pair.now, &mut pair.rng, "carol", text);
    }
    pair.alice
        .handle_incoming(pair.now, &mut pair.rng, "carol", &other[0]);
    assert!(drain(&mut pair.alice).iter().all(|t| t.peer != "carol"));
}

/// The encoded `?OTR:` message `lines` reassemble to.
fn messages_as_encoded(lines: &[Transmit]) -> String {
    envelope::encode(&messages(lines)[0])
}

#[test]
fn an_identity_in_one_line_gets_auth_r_in_full() {
    let mut pair = Pair::new(904);
    pair.bob.set_budget("alice", 100_000);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let query = drain(&mut pair.alice);
    pair.deliver_to_bob(&query);
    let identity = drain(&mut pair.bob);
    assert_eq!(identity.len(), 1);
    pair.deliver_to_alice(&identity);
    let auth_r = drain(&mut pair.alice);
    assert!(matches!(auth_r_of(&auth_r).profile, ProfileRef::Full(_)));
    assert_eq!(types(&auth_r), [MessageType::AuthR]);
}

#[test]
fn no_profile_goes_ahead_to_a_peer_that_has_ours() {
    let mut pair = Pair::established(905);
    pair.alice.finish(pair.now, &mut pair.rng, "bob");
    pair.pump();
    // Alice lost bob's profile (so she queries), but bob has hers and says so.
    pair.alice.peers.get_mut("bob").unwrap().profile = None;
    assert!(pair.alice.peers["bob"].has_our_profile);
    // A repeat contact's Identity is small (no ephemeral ML-KEM key): short lines make it
    // span several.
    pair.bob.set_budget("alice", 120);
    let identity = query_and_identity(&mut pair);
    pair.deliver_to_alice(&identity[..1]);
    assert!(drain(&mut pair.alice).is_empty());
    pair.deliver_to_alice(&identity[1..]);
    let sent = pump_types_from_alice(&mut pair);
    assert!(!sent.contains(&MessageType::Profile));
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
}

#[test]
fn a_lost_profile_message_costs_one_profile_request() {
    let mut pair = Pair::new(906);
    let identity = query_and_identity(&mut pair);
    let (_lost, auth_r) = ahead_and_auth_r(&mut pair, &identity);
    let sent_ahead = auth_r_of(&auth_r);
    // Bob holds no profile: he asks for the one sent ahead.
    pair.deliver_to_bob(&auth_r);
    let request = drain(&mut pair.bob);
    let msgs = messages(&request);
    assert_eq!(msgs.len(), 1);
    let req = ProfileRequest::decode(&msgs[0]).unwrap();
    assert_eq!(req.unknown_hash, SENT_AHEAD_REQUEST);
    assert_eq!((req.header.sender, req.header.receiver), (BOB, ALICE));
    // Once per handshake: a replayed Auth-R gets no second request.
    pair.deliver_to_bob(&auth_r);
    assert!(drain(&mut pair.bob).is_empty());
    // Alice sends the same Auth-R with her full profile, once.
    pair.deliver_to_alice(&request);
    let resent = drain(&mut pair.alice);
    let full = auth_r_of(&resent);
    assert_eq!(
        full.profile,
        ProfileRef::Full(pair.alice.profile().as_bytes().to_vec())
    );
    assert_eq!(
        AuthR {
            profile: ProfileRef::SentAhead,
            ..full
        },
        sent_ahead,
        "same keys, ciphertexts and signature"
    );
    pair.deliver_to_alice(&request);
    assert!(drain(&mut pair.alice).is_empty(), "resent twice");
    pair.deliver_to_bob(&resent);
    pair.pump();
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(private_event(&pair.events_bob).0, pair.alice.fingerprint());
    let failed = |e: &Event| matches!(e, Event::DakeFailed { .. });
    assert!(!pair.events_alice.iter().any(failed));
    assert!(!pair.events_bob.iter().any(failed));
}

#[test]
fn a_substituted_profile_message_fails_the_dake_and_leaves_nothing() {
    // Carol signed valid profiles under alice's tag and under her own.
    for (seed, carol_tag) in [(907, ALICE), (908, 0xCA201)] {
        let carol = carols_profile(seed + 100, carol_tag, valid_until());
        let mut pair = Pair::new(seed);
        let identity = query_and_identity(&mut pair);
        let (_replaced, auth_r) = ahead_and_auth_r(&mut pair, &identity);
        pair.deliver_to_bob(&[profile_message(carol.as_bytes(), carol_tag, BOB)]);
        assert_eq!(held(&pair.bob, "alice"), Some(*carol.fingerprint()));
        assert!(events(&mut pair.bob).is_empty());
        // Bob's CT_R to Carol's key goes ahead; it serves no DAKE but one with her.
        assert_eq!(types(&drain(&mut pair.bob)), [MessageType::Ciphertext]);
        pair.deliver_to_bob(&auth_r);
        assert!(drain(&mut pair.bob).is_empty(), "no Auth-I");
        let ev = events(&mut pair.bob);
        let expected = |e: &DakeError| {
            if carol_tag == ALICE {
                matches!(e, DakeError::Crypto(_))
            } else {
                *e == DakeError::Profile(ProfileError::InstanceTag)
            }
        };
        assert!(
            matches!(ev.as_slice(), [Event::DakeFailed { error, .. }] if expected(error)),
            "{ev:?}"
        );
        // Nothing of Carol's is cached, shown or trusted.
        assert!(pair.bob.peer_profile("alice").is_none());
        let info = pair.bob.session_info("alice");
        assert_eq!((info.state, info.fingerprint), (State::Handshaking, None));
        assert!(pair.bob.peers["alice"].accepted.is_empty());
        assert!(pair.bob.peers["alice"].session.is_none());
        assert!(pair.bob.peers["alice"].unconfirmed.is_none());
        pair.pump();
        assert_eq!(pair.bob.session_info("alice").state, State::Handshaking);
        assert!(pair.bob.peer_profile("alice").is_none());
    }
}

#[test]
fn a_later_valid_profile_message_replaces_the_held_one() {
    let mut pair = Pair::new(909);
    let identity = query_and_identity(&mut pair);
    let (ahead, auth_r) = ahead_and_auth_r(&mut pair, &identity);
    let carol = carols_profile(1909, ALICE, valid_until());
    pair.deliver_to_bob(&[profile_message(carol.as_bytes(), ALICE, BOB)]);
    assert_eq!(held(&pair.bob, "alice"), Some(*carol.fingerprint()));
    pair.deliver_to_bob(&ahead);
    assert_eq!(held(&pair.bob, "alice"), Some(pair.alice.fingerprint()));
    pair.deliver_to_bob(&auth_r);
    pair.pump();
    assert_eq!(pair.bob.session_info("alice").state, State::Encrypted);
    assert_eq!(
        pair.bob.session_info("alice").fingerprint,
        Some(pair.alice.fingerprint())
    );
}

#[test]
fn invalid_profile_messages_are_ignored() {
    let mut pair = Pair::new(910);
    let identity = query_and_identity(&mut pair);
    let (_lost, auth_r) = ahead_and_auth_r(&mut pair, &identity);
    let alice_profile = pair.alice.profile().as_bytes().to_vec();
    let mut bad_signature = alice_profile.clone();
    *bad_signature.last_mut().unwrap() ^= 0x01;
    let mut bad_key = alice_profile.clone();
    bad_key[10] ^= 0x01;
    let expired = carols_profile(1910, ALICE, TEST_NOW_UNIX - 1);
    let bob_profile = pair.bob.profile().as_bytes().to_vec();
    let cases = [
        ("bad signature", profile_message(&bad_signature, ALICE, BOB)),
        ("bad key", profile_message(&bad_key, ALICE, BOB)),
        ("expired", profile_message(expired.as_bytes(), ALICE, BOB)),
        (
            "wrong instance tag",
            profile_message(&alice_profile, 0x999, BOB),
        ),
        (
            "not addressed to bob",
            profile_message(&alice_profile, ALICE, 0),
        ),
        ("bob's own", profile_message(&bob_profile, ALICE, BOB)),
        (
            "truncated",
            profile_message(&alice_profile[..1000], ALICE, BOB),
        ),
    ];
    for (name, msg) in cases {
        pair.deliver_to_bob(&[msg]);
        assert_eq!(held(&pair.bob, "alice"), None, "{name} was held");
        assert!(drain(&mut pair.bob).is_empty(), "{name}");
        assert!(events(&mut pair.bob).is_empty(), "{name}");
    }
    assert!(matches!(
        pair.bob.peers["alice"].handshake,
        Handshake::WaitingAuthR {
            profile_requested: false,
            ..
        }
    ));
    // Nothing was held: Auth-R gets a Profile-Request.
    pair.deliver_to_bob(&auth_r);
    assert_eq!(types(&drain(&mut pair.bob)), [MessageType::ProfileRequest]);
}

#[test]
fn a_profile_message_with_no_identity_outstanding_changes_nothing() {
    let mut pair = Pair::new(911);
    let alice_profile = pair.alice.profile().as_bytes().to_vec();
    let msg = profile_message(&alice_profile, ALICE, BOB);
    let check = |pair: &mut Pair, what: &str| {
        let before = pair.bob.session_info("alice");
        let verified = crate::profile::verifications();
        pair.deliver_to_bob(std::slice::from_ref(&msg));
        assert_eq!(crate::profile::verifications(), verified, "{what}");
        assert_eq!(pair.bob.session_info("alice"), before, "{what}");
        assert!(pair.bob.peer_profile("alice").is_none(), "{what}");
        assert!(drain(&mut pair.bob).is_empty(), "{what}");
        assert!(events(&mut pair.bob).is_empty(), "{what}");
    };
    // No handshake at all.
    check(&mut pair, "idle");
    assert!(matches!(pair.bob.peers["alice"].handshake, Handshake::Idle));
    // Bob sent a query (he would be the responder).
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    drain(&mut pair.bob);
    events(&mut pair.bob);
    check(&mut pair, "query sent");
    assert!(matches!(
        pair.bob.peers["alice"].handshake,
        Handshake::QuerySent { ahead: None, .. }
    ));
    // Bob answered alice's Identity (he is the responder).
    pair.bob.finish(pair.now, &mut pair.rng, "alice");
    pair.alice.set_budget("bob", 100_000);
    pair.alice
        .remember_peer_profile("bob", pair.bob.profile().as_bytes(), T0)
        .unwrap();
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    let identity = drain(&mut pair.alice);
    pair.deliver_to_bob(&identity);
    drain(&mut pair.bob);
    assert!(matches!(
        pair.bob.peers["alice"].handshake,
        Handshake::WaitingAuthI { .. }
    ));
    events(&mut pair.bob);
    check(&mut pair, "waiting for Auth-I");
}

#[test]
fn simultaneous_queries_send_nothing_ahead_and_glare_resolves() {
    let mut pair = Pair::new(912);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    let mut sent = Vec::new();
    loop {
        let a = drain(&mut pair.alice);
        let b = drain(&mut pair.bob);
        if a.is_empty() && b.is_empty() {
            break;
        }
        sent.extend(types(&a));
        sent.extend(types(&b));
        pair.deliver_to_bob(&a);
        pair.deliver_to_alice(&b);
    }
    pair.collect_events();
    assert!(sent.contains(&MessageType::Identity));
    assert!(!sent.contains(&MessageType::Profile));
    assert_eq!(
        pair.alice.session_info("bob").fingerprint,
        Some(pair.bob.fingerprint())
    );
    assert_eq!(
        pair.bob.session_info("alice").fingerprint,
        Some(pair.alice.fingerprint())
    );
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
    assert_eq!(
        pair.alice.session_info("bob").ssid,
        pair.bob.session_info("alice").ssid
    );
}

#[test]
fn profile_messages_during_glare_change_nothing() {
    // Both start a DAKE (each has the other's profile): two Identities cross. Each also gets
    // the other's genuine Profile message, which glare must not trip over.
    let mut pair = Pair::established(913);
    let old_ssid = pair.alice.session_info("bob").ssid;
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.bob.start(pair.now, &mut pair.rng, "alice");
    let alice_profile = pair.alice.profile().as_bytes().to_vec();
    let bob_profile = pair.bob.profile().as_bytes().to_vec();
    pair.deliver_to_bob(&[profile_message(&alice_profile, ALICE, BOB)]);
    pair.deliver_to_alice(&[profile_message(&bob_profile, BOB, ALICE)]);
    assert_eq!(held(&pair.bob, "alice"), Some(pair.alice.fingerprint()));
    assert_eq!(held(&pair.alice, "bob"), Some(pair.bob.fingerprint()));
    pair.events_alice.clear();
    pair.events_bob.clear();
    pair.pump();
    let (fp, _, rekey, _) = private_event(&pair.events_alice);
    assert_eq!((fp, rekey), (pair.bob.fingerprint(), true));
    let (fp, _, rekey, _) = private_event(&pair.events_bob);
    assert_eq!((fp, rekey), (pair.alice.fingerprint(), true));
    let ssid = pair.alice.session_info("bob").ssid;
    assert_ne!(ssid, old_ssid);
    assert_eq!(ssid, pair.bob.session_info("alice").ssid);
}
