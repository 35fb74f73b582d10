//! otrbnc's protocol core (an `Account` with an OTRv3 identity) against libotr 4.1 itself,
//! through the libotr test peer (tests/libotr-peer, driver tests/libotr_support). The test
//! relays lines between the two as an IRC server would, and can play a hostile one: it
//! forges, replays, reorders and truncates what it relays.
//!
//! Without libotr5-dev the tests print "skipped" and pass, unless `OTRBNC_REQUIRE_E2E=1` (CI).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../../tests/libotr_support/mod.rs"]
mod libotr_support;

use libotr_support::{LibotrPeer, MsgState, PeerEvent, PeerOpts, outs};
use otr_core::profile::LongTermKeys;
use otr_core::session::{Account, Event, Policy, Protocol, Received, SmpEvent, State};
use rand::SeedableRng;
use rand::rngs::StdRng;

macro_rules! require_libotr {
    () => {
        if !libotr_support::available() {
            return;
        }
    };
}

/// The otrbnc side: alice's account, talking to "bob".
struct Core {
    account: Account,
    rng: StdRng,
    now: u64,
    events: Vec<Event>,
    messages: Vec<String>,
}

const BOB: &str = "bob";
const ALICE: &str = "alice";

impl Core {
    fn new(tag: u32) -> Core {
        Core::with_seed(tag, u64::from(tag))
    }

    /// A core whose randomness differs from another's with the same tag (a restart).
    fn with_seed(tag: u32, seed: u64) -> Core {
        let mut rng = StdRng::seed_from_u64(seed);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let now = 1_800_000_000_000;
        let mut account = Account::new(keys, tag, Policy::default(), now).unwrap();
        account.set_legacy_identity(otr3::testing::alice_key(), now, &mut rng);
        account.set_auto_respond(BOB, true);
        Core {
            account,
            rng,
            now,
            events: Vec::new(),
            messages: Vec::new(),
        }
    }

    /// Lines for bob, and events into `events`.
    fn out(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(t) = self.account.poll_transmit() {
            assert_eq!(t.peer, BOB);
            lines.push(t.line);
        }
        while let Some(e) = self.account.poll_event() {
            self.events.push(e);
        }
        lines
    }

    fn recv(&mut self, line: &str) -> Received {
        let r = self
            .account
            .handle_incoming(self.now, &mut self.rng, BOB, line);
        if let Received::Message { text } = &r {
            self.messages.push(text.clone());
        }
        r
    }

    fn send(&mut self, text: &str) -> Vec<String> {
        self.account
            .send(self.now, &mut self.rng, BOB, text)
            .unwrap();
        self.out()
    }

    fn private_v3(&self) -> bool {
        let info = self.account.session_info(BOB);
        info.state == State::Encrypted && info.protocol == Some(Protocol::V3)
    }

    fn took(&mut self) -> Vec<Event> {
        while let Some(e) = self.account.poll_event() {
            self.events.push(e);
        }
        std::mem::take(&mut self.events)
    }
}

/// Relays `lines` from the core to bob, bob's answers back, until both are quiet. Returns
/// bob's events.
fn relay(core: &mut Core, bob: &mut LibotrPeer, lines: Vec<String>) -> Vec<PeerEvent> {
    let mut bob_events = Vec::new();
    let mut pending = lines;
    for _ in 0..40 {
        if pending.is_empty() {
            return bob_events;
        }
        let mut back = Vec::new();
        for l in &pending {
            let ev = bob.recv(ALICE, l);
            back.extend(outs(&ev));
            bob_events.extend(ev);
        }
        let mut next = Vec::new();
        for l in back {
            core.recv(&l);
            next.extend(core.out());
        }
        pending = next;
    }
    panic!("still talking after 40 rounds");
}

/// Bob's `out` lines fed to the core, then the exchange relayed to quiet.
fn from_bob(core: &mut Core, bob: &mut LibotrPeer, events: &[PeerEvent]) -> Vec<PeerEvent> {
    let mut back = Vec::new();
    for l in outs(events) {
        core.recv(&l);
        back.extend(core.out());
    }
    relay(core, bob, back)
}

fn spawn_bob(dir: &std::path::Path) -> LibotrPeer {
    LibotrPeer::spawn(&dir.join("bob"), BOB, &PeerOpts::default()).unwrap()
}

fn bob_texts(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Msg {
                text,
                encrypted: true,
                ..
            } => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn bob_secure(events: &[PeerEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, PeerEvent::Secure { version: 3, .. }))
}

/// alice (core) starts by writing to bob; returns once both are private.
fn start_from_core(core: &mut Core, bob: &mut LibotrPeer, first: &str) -> Vec<PeerEvent> {
    let lines = core.send(first);
    assert!(
        lines.iter().any(|l| l.starts_with("?OTRvP3?")),
        "the query offers OTRv4+ and OTRv3: {lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains(first)), "no plaintext");
    let ev = relay(core, bob, lines);
    assert!(bob_secure(&ev), "libotr went secure: {ev:?}");
    assert!(core.private_v3(), "{:?}", core.account.session_info(BOB));
    ev
}

fn smp_names(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Smp { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn core_starts_and_twenty_messages_go_each_way() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0001);
    let ev = start_from_core(&mut core, &mut bob, "first, queued until private");
    assert_eq!(bob_texts(&ev), ["first, queued until private"]);
    let bob_fp = bob.fingerprint();
    let events = core.took();
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::LegacyPrivate { version: 3, fingerprint, .. }
                if otr3::dsa::fingerprint_human(fingerprint) == bob_fp
        )),
        "{events:?}"
    );
    // libotr sees alice's OTRv3 fingerprint, as `*otr fingerprint` prints it.
    let status = bob.status(ALICE);
    let ours = otr3::dsa::fingerprint_human(&core.account.legacy_fingerprint().unwrap());
    assert!(
        status.iter().any(|s| s.state == MsgState::Encrypted
            && s.version == 3
            && s.fingerprint.as_deref() == Some(ours.as_str())),
        "{status:?} vs {ours}"
    );
    // The peer's fingerprint as the core reports it is libotr's own.
    let theirs = core.account.session_info(BOB).legacy_fingerprint.unwrap();
    assert_eq!(otr3::dsa::fingerprint_human(&theirs), bob_fp);

    let long: String = "0123456789".repeat(200);
    let texts: Vec<String> = (0..20)
        .map(|i| match i {
            3 => "grüße, 你好, ☃".to_string(),
            7 => long.clone(),
            11 => "\u{1}ACTION waves\u{1}".to_string(),
            _ => format!("message {i} from otrbnc"),
        })
        .collect();
    for t in &texts {
        let lines = core.send(t);
        if t.len() == 2000 {
            assert!(lines.len() > 1 && lines.iter().all(|l| l.starts_with("?OTR|")));
            assert!(lines.iter().all(|l| l.len() <= 400), "{lines:?}");
        }
        assert!(
            !lines.iter().any(|l| l.contains("from otrbnc")),
            "no plaintext"
        );
        let ev = relay(&mut core, &mut bob, lines);
        assert_eq!(bob_texts(&ev), std::slice::from_ref(t));
    }
    for t in &texts {
        let reply = t.replace("otrbnc", "libotr");
        let ev = bob.send(ALICE, &reply);
        assert!(!outs(&ev).iter().any(|l| l.contains("from libotr")));
        if t.len() == 2000 {
            assert!(outs(&ev).len() > 1, "libotr fragments its 2,000 bytes too");
        }
        from_bob(&mut core, &mut bob, &ev);
        assert_eq!(core.messages.last(), Some(&reply));
    }
    assert_eq!(core.messages.len(), 20);
}

#[test]
fn libotr_starts_with_otr_init() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0002);
    let ev = bob.query(ALICE);
    let q = outs(&ev);
    assert!(q.iter().any(|l| l.contains("?OTRv23?")), "{q:?}");
    let ev = from_bob(&mut core, &mut bob, &ev);
    assert!(bob_secure(&ev), "{ev:?}");
    assert!(core.private_v3());
    let lines = core.send("hello libotr");
    assert_eq!(
        bob_texts(&relay(&mut core, &mut bob, lines)),
        ["hello libotr"]
    );
}

#[test]
fn smp_from_each_side_with_a_question_and_a_wrong_answer() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0003);
    start_from_core(&mut core, &mut bob, "hi");
    core.took();

    // otrbnc asks, with a question; libotr answers right.
    core.account
        .smp_start(core.now, &mut core.rng, BOB, Some("our cat?"), "tiger")
        .unwrap();
    let lines = core.out();
    let ev = relay(&mut core, &mut bob, lines);
    assert!(
        ev.iter().any(|e| matches!(
            e,
            PeerEvent::Smp { event, question: Some(q), .. } if event == "askq" && q == "our cat?"
        )),
        "{ev:?}"
    );
    let ev = bob.smp_respond(ALICE, "tiger");
    let ev2 = from_bob(&mut core, &mut bob, &ev);
    assert!(smp_names(&ev2).contains(&"success".to_string()), "{ev2:?}");
    let done: Vec<_> = core
        .took()
        .into_iter()
        .filter_map(|e| match e {
            Event::Smp {
                event: SmpEvent::LegacyDone { result, .. },
                ..
            } => Some(result.success),
            _ => None,
        })
        .collect();
    assert_eq!(done, [true]);

    // libotr asks with a question; otrbnc answers wrong: both fail.
    let ev = bob.smpq(ALICE, "the colour?", "blue");
    from_bob(&mut core, &mut bob, &ev);
    assert!(core.took().iter().any(|e| matches!(
        e,
        Event::Smp { event: SmpEvent::Request { question: Some(q) }, .. } if q == "the colour?"
    )));
    core.account
        .smp_respond(core.now, &mut core.rng, BOB, "green")
        .unwrap();
    let lines = core.out();
    let ev = relay(&mut core, &mut bob, lines);
    assert!(smp_names(&ev).contains(&"failure".to_string()), "{ev:?}");
    assert!(core.took().iter().any(|e| matches!(
        e,
        Event::Smp { event: SmpEvent::LegacyDone { result, .. }, .. } if !result.success
    )));

    // libotr asks, otrbnc answers right.
    let ev = bob.smpq(ALICE, "again?", "yes");
    from_bob(&mut core, &mut bob, &ev);
    core.took();
    core.account
        .smp_respond(core.now, &mut core.rng, BOB, "yes")
        .unwrap();
    let lines = core.out();
    let ev = relay(&mut core, &mut bob, lines);
    assert!(smp_names(&ev).contains(&"success".to_string()), "{ev:?}");
    // otrbnc asks and libotr answers wrong.
    core.account
        .smp_start(core.now, &mut core.rng, BOB, None, "right")
        .unwrap();
    let lines = core.out();
    relay(&mut core, &mut bob, lines);
    let ev = bob.smp_respond(ALICE, "wrong");
    let ev = from_bob(&mut core, &mut bob, &ev);
    assert!(smp_names(&ev).contains(&"failure".to_string()), "{ev:?}");
    assert!(core.took().iter().any(|e| matches!(
        e,
        Event::Smp { event: SmpEvent::LegacyDone { result, .. }, .. } if !result.success
    )));
}

#[test]
fn finish_on_either_side_is_reported_on_the_other() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0004);
    start_from_core(&mut core, &mut bob, "hi");
    // libotr ends: otrbnc reports it and refuses to send (nothing in plaintext).
    let ev = bob.finish(ALICE);
    from_bob(&mut core, &mut bob, &ev);
    assert!(
        core.took()
            .iter()
            .any(|e| matches!(e, Event::PeerFinished { .. }))
    );
    assert_eq!(core.account.session_info(BOB).state, State::Finished);
    assert!(
        core.account
            .send(core.now, &mut core.rng, BOB, "x")
            .is_err()
    );
    assert!(core.out().is_empty());
    // A new session, then otrbnc ends it: libotr goes to finished.
    core.account.start(core.now, &mut core.rng, BOB);
    let lines = core.out();
    let ev = relay(&mut core, &mut bob, lines);
    assert!(bob_secure(&ev), "{ev:?}");
    core.account.finish(core.now, &mut core.rng, BOB);
    let lines = core.out();
    relay(&mut core, &mut bob, lines);
    assert!(
        bob.status(ALICE)
            .iter()
            .any(|s| s.state == MsgState::Finished),
        "{:?}",
        bob.status(ALICE)
    );
}

fn spawn_named(dir: &std::path::Path, sub: &str) -> LibotrPeer {
    LibotrPeer::spawn(&dir.join(sub), BOB, &PeerOpts::default()).unwrap()
}

fn bob_event_names(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Event { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

fn unreadable_events(core: &mut Core) -> usize {
    core.took()
        .iter()
        .filter(|e| matches!(e, Event::Unreadable { .. }))
        .count()
}

#[test]
fn libotr_restarts_and_its_user_starts_again() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0005);
    start_from_core(&mut core, &mut bob, "before");
    bob.quit();
    let mut bob = spawn_bob(dir.path());
    // The restarted libotr cannot read what otrbnc sends: a data message from an instance it
    // does not know yet is dropped without a word (libotr's behaviour), and nothing comes back.
    let lines = core.send("lost");
    let ev = relay(&mut core, &mut bob, lines);
    assert!(bob_texts(&ev).is_empty() && outs(&ev).is_empty(), "{ev:?}");
    // Its user starts again (/otr init): a query, which otrbnc answers although private.
    let ev = bob.query(ALICE);
    let ev = from_bob(&mut core, &mut bob, &ev);
    assert!(bob_secure(&ev), "{ev:?}");
    assert!(core.private_v3());
    let lines = core.send("after the restart");
    assert_eq!(
        bob_texts(&relay(&mut core, &mut bob, lines)),
        ["after the restart"]
    );
}

#[test]
fn otrbnc_restarts_and_libotr_rekeys_on_its_error() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0006);
    start_from_core(&mut core, &mut bob, "before");
    // otrbnc restarts: a new account with the same identity and instance tag.
    let mut core = Core::with_seed(0x1111_0006, 99);
    let ev = bob.send(ALICE, "sent into the void");
    let mut back = Vec::new();
    for l in outs(&ev) {
        assert_eq!(core.recv(&l), Received::Protocol, "nothing shown");
        back.extend(core.out());
    }
    assert_eq!(unreadable_events(&mut core), 1);
    assert!(
        back.iter().any(|l| l.starts_with("?OTR Error:")),
        "{back:?}"
    );
    // libotr answers the error with a query (ERROR_START_AKE) and the AKE runs: libotr
    // reports a new session with the same fingerprint as "still secure". (libotr 4.1 keeps no
    // copy of messages it sent encrypted, so the lost one is not resent.)
    let ev = relay(&mut core, &mut bob, back);
    assert!(
        ev.iter()
            .any(|e| matches!(e, PeerEvent::Still { .. } | PeerEvent::Secure { .. })),
        "{ev:?}"
    );
    assert!(core.private_v3());
    assert!(core.messages.is_empty());
    let ev = bob.send(ALICE, "again");
    from_bob(&mut core, &mut bob, &ev);
    assert_eq!(core.messages, ["again"]);
    let lines = core.send("and back");
    assert_eq!(bob_texts(&relay(&mut core, &mut bob, lines)), ["and back"]);
}

#[test]
fn heartbeats_each_way() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_0007);
    start_from_core(&mut core, &mut bob, "hi");
    // libotr has sent nothing for 70 s when otrbnc's message arrives: it sends a heartbeat,
    // which otrbnc takes without showing anything.
    bob.advance(70);
    let lines = core.send("ping");
    let ev = relay(&mut core, &mut bob, lines);
    assert!(
        bob_event_names(&ev).contains(&"LOG_HEARTBEAT_SENT".to_string()),
        "{ev:?}"
    );
    assert!(core.messages.is_empty());
    assert_eq!(unreadable_events(&mut core), 0);
    // otrbnc has sent nothing for 70 s when libotr's message arrives: the same the other way.
    core.now += 70_000;
    let ev = bob.send(ALICE, "pong");
    let ev = from_bob(&mut core, &mut bob, &ev);
    assert_eq!(core.messages, ["pong"]);
    assert!(
        bob_event_names(&ev).contains(&"LOG_HEARTBEAT_RCVD".to_string()),
        "{ev:?}"
    );
    // Keys rotated on both sides: the conversation goes on.
    let lines = core.send("still here");
    assert_eq!(
        bob_texts(&relay(&mut core, &mut bob, lines)),
        ["still here"]
    );
}

#[test]
fn two_libotr_instances_on_one_nick() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut one = spawn_named(dir.path(), "one");
    let fp = one.fingerprint();
    // The same user at a second client: the same key, another instance tag.
    std::fs::create_dir_all(dir.path().join("two")).unwrap();
    std::fs::copy(
        dir.path().join("one/otr.private_key"),
        dir.path().join("two/otr.private_key"),
    )
    .unwrap();
    let mut two = spawn_named(dir.path(), "two");
    assert_eq!(fp, two.fingerprint());
    let mut core = Core::new(0x1111_0008);
    // Everything otrbnc sends to the nick reaches both; both answer.
    let mut pending = core.send("to whichever");
    let (mut ev1, mut ev2) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        if pending.is_empty() {
            break;
        }
        let mut back = Vec::new();
        for l in &pending {
            let a = one.recv(ALICE, l);
            let b = two.recv(ALICE, l);
            back.extend(outs(&a));
            back.extend(outs(&b));
            ev1.extend(a);
            ev2.extend(b);
        }
        pending = Vec::new();
        for l in back {
            core.recv(&l);
            pending.extend(core.out());
        }
    }
    assert!(bob_secure(&ev1) && bob_secure(&ev2), "{ev1:?}\n{ev2:?}");
    let tags: Vec<u32> = core
        .took()
        .iter()
        .filter_map(|e| match e {
            Event::LegacyPrivate { their_tag, .. } => Some(*their_tag),
            _ => None,
        })
        .collect();
    assert_eq!(
        tags.len(),
        2,
        "one private conversation per instance: {tags:?}"
    );
    assert_ne!(tags[0], tags[1]);
    // The queued message went to exactly one of them; the other is told it was for another
    // instance of the same account.
    assert_eq!(bob_texts(&ev1).len() + bob_texts(&ev2).len(), 1);
    // Both can write to otrbnc.
    let a = one.send(ALICE, "from one");
    for l in outs(&a) {
        core.recv(&l);
    }
    let b = two.send(ALICE, "from two");
    for l in outs(&b) {
        core.recv(&l);
    }
    assert_eq!(core.messages, ["from one", "from two"]);
    // otrbnc's next message goes to the instance heard from last.
    core.out();
    let lines = core.send("to the latest");
    let (mut got1, mut got2) = (Vec::new(), Vec::new());
    for l in &lines {
        got1.extend(one.recv(ALICE, l));
        got2.extend(two.recv(ALICE, l));
    }
    assert!(bob_texts(&got1).is_empty());
    assert_eq!(bob_texts(&got2), ["to the latest"]);
    assert!(
        bob_event_names(&got1).contains(&"RCVDMSG_FOR_OTHER_INSTANCE".to_string())
            || got1.is_empty(),
        "{got1:?}"
    );
}

fn flip_in_base64(line: &str, at_from_end: usize) -> String {
    use base64::Engine as _;
    let b64 = &line["?OTR:".len()..line.len() - 1];
    let mut bin = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let i = bin.len() - at_from_end;
    bin[i] ^= 0x40;
    format!(
        "?OTR:{}.",
        base64::engine::general_purpose::STANDARD.encode(bin)
    )
}

#[test]
fn forged_mac_and_replayed_message_are_refused_like_libotr_does() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = LibotrPeer::spawn(
        &dir.path().join("bob"),
        BOB,
        &PeerOpts {
            max_msg: 0,
            ..PeerOpts::default()
        },
    )
    .unwrap();
    let mut core = Core::new(0x1111_0009);
    start_from_core(&mut core, &mut bob, "hi");
    let ev = bob.send(ALICE, "genuine");
    let line = outs(&ev).pop().unwrap();
    assert!(
        line.starts_with("?OTR:AAMD"),
        "one unfragmented data message"
    );
    // A flipped ciphertext byte: the MAC fails; nothing is shown, the user is told, libotr
    // gets an error message (what libotr itself does).
    let forged = flip_in_base64(&line, 30);
    assert_eq!(core.recv(&forged), Received::Protocol);
    assert_eq!(unreadable_events(&mut core), 1);
    let back = core.out();
    assert!(
        back.iter().any(|l| l.starts_with("?OTR Error:")),
        "{back:?}"
    );
    // The genuine message still opens: the forgery changed no state.
    assert_eq!(
        core.recv(&line),
        Received::Message {
            text: "genuine".into()
        }
    );
    // The same message again: a replay, refused.
    assert_eq!(core.recv(&line), Received::Protocol);
    assert_eq!(unreadable_events(&mut core), 1);
    assert_eq!(core.messages, ["genuine"]);
    // libotr refuses a replay of ours the same way: unreadable, and an error back.
    core.out();
    let lines = core.send("once");
    let ev1 = bob.recv(ALICE, &lines[0]);
    assert_eq!(bob_texts(&ev1), ["once"]);
    let ev2 = bob.recv(ALICE, &lines[0]);
    assert!(bob_texts(&ev2).is_empty());
    assert!(
        bob_event_names(&ev2).contains(&"RCVDMSG_UNREADABLE".to_string()),
        "{ev2:?}"
    );
}

#[test]
fn fragments_out_of_order_or_truncated_are_dropped() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    let mut core = Core::new(0x1111_000a);
    start_from_core(&mut core, &mut bob, "hi");
    let long = "x".repeat(1500);
    let frags = outs(&bob.send(ALICE, &long));
    assert!(frags.len() >= 3, "{}", frags.len());
    // Out of order: the sequential reassembly drops it (as libotr does); nothing shown.
    let mut swapped = frags.clone();
    swapped.swap(0, 1);
    for l in &swapped {
        assert_eq!(core.recv(l), Received::Protocol);
    }
    // Truncated: the last piece never comes.
    for l in &frags[..frags.len() - 1] {
        assert_eq!(core.recv(l), Received::Protocol);
    }
    assert!(core.messages.is_empty());
    // A piece cut short is not a fragment of ours at all.
    let cut = &frags[1][..frags[1].len() - 5];
    core.recv(cut);
    assert!(core.messages.is_empty());
    // The conversation goes on: a complete message is read.
    let ev = bob.send(ALICE, "after the mess");
    for l in outs(&ev) {
        core.recv(&l);
    }
    assert_eq!(core.messages, ["after the mess"]);
}

#[test]
fn the_dsa_key_arrives_after_libotr_answered() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut bob = spawn_bob(dir.path());
    // An account without its OTRv3 key yet: it still offers OTRv3 and asks for the key.
    let mut rng = StdRng::seed_from_u64(7);
    let keys = LongTermKeys::generate(&mut rng).unwrap();
    let now = 1_800_000_000_000;
    let mut account = Account::new(keys, 0x1111_000b, Policy::default(), now).unwrap();
    account.set_auto_respond(BOB, true);
    let mut core = Core {
        account,
        rng,
        now,
        events: Vec::new(),
        messages: Vec::new(),
    };
    let lines = core.send("waits for the key");
    assert!(lines.iter().any(|l| l.starts_with("?OTRvP3?")), "{lines:?}");
    let needed = core
        .took()
        .iter()
        .filter(|e| matches!(e, Event::LegacyKeyNeeded))
        .count();
    assert_eq!(needed, 1);
    // libotr answers with its D-H Commit before the key exists: kept, nothing sent yet.
    let mut held = Vec::new();
    for l in &lines {
        held.extend(outs(&bob.recv(ALICE, l)));
    }
    for l in &held {
        assert_eq!(core.recv(l), Received::Protocol);
    }
    assert!(core.out().is_empty());
    // The key arrives: the commit is answered and the AKE completes.
    core.account
        .set_legacy_identity(otr3::testing::alice_key(), core.now, &mut core.rng);
    let lines = core.out();
    let ev = relay(&mut core, &mut bob, lines);
    assert!(bob_secure(&ev), "{ev:?}");
    assert_eq!(bob_texts(&ev), ["waits for the key"]);
}
