//! libotr 4.1 against libotr 4.1 through the test peer (tests/libotr-peer, driver in
//! tests/libotr_support): proves the harness and its driver before tests use it as the OTRv3
//! reference peer. Two harness processes, relayed by the test.
//!
//! Without libotr5-dev the tests print "skipped" and pass, unless `OTRBNC_REQUIRE_E2E=1` (CI).

// Test code: a failed expectation is a panic with a message.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod libotr_support;

use std::path::Path;

use libotr_support::{
    LibotrPeer, MsgState, PeerEvent, PeerOpts, deliver, outs, pump, without_outs,
};

macro_rules! require_libotr {
    () => {
        if !libotr_support::available() {
            return;
        }
    };
}

fn spawn(dir: &Path, account: &str) -> LibotrPeer {
    LibotrPeer::spawn(&dir.join(account), account, &PeerOpts::default()).unwrap()
}

fn has_secure(events: &[PeerEvent], to: &str, version: u32) -> bool {
    events
        .iter()
        .any(|e| matches!(e, PeerEvent::Secure { to: t, version: v } if t == to && *v == version))
}

fn smp_events(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Smp { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn event_names(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Event { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// alice queries bob and the AKE runs to the end: both sides secure in protocol version 3.
fn secure_pair(dir: &Path) -> (LibotrPeer, LibotrPeer) {
    let mut alice = spawn(dir, "alice");
    let mut bob = spawn(dir, "bob");
    let query = alice.query("bob");
    assert!(
        outs(&query)[0].starts_with("?OTRv23?"),
        "libotr's query: {query:?}"
    );
    let ake = pump(&mut alice, &mut bob, query);
    assert!(has_secure(&ake.a, "bob", 3), "alice: {:?}", ake.a);
    assert!(has_secure(&ake.b, "alice", 3), "bob: {:?}", ake.b);
    // Fresh directories: each side learns the other's fingerprint now.
    let (afp, bfp) = (alice.fingerprint(), bob.fingerprint());
    assert!(
        ake.a.contains(&PeerEvent::NewFp {
            to: "bob".into(),
            fp: bfp
        }),
        "{:?}",
        ake.a
    );
    assert!(
        ake.b.contains(&PeerEvent::NewFp {
            to: "alice".into(),
            fp: afp
        }),
        "{:?}",
        ake.b
    );
    (alice, bob)
}

/// `from` sends `text`; `to` must show exactly that text, decrypted, and nothing else.
fn send_and_check(from: &mut LibotrPeer, to: &mut LibotrPeer, text: &str) -> Vec<String> {
    let (from_name, to_name) = (from.account().to_string(), to.account().to_string());
    let sent = from.send(&to_name, text);
    let lines = outs(&sent);
    assert!(!lines.is_empty(), "nothing sent for {text:?}: {sent:?}");
    assert_eq!(without_outs(&sent), vec![], "sending {text:?}");
    for l in &lines {
        assert!(l.starts_with("?OTR"), "not an OTR message: {l:?}");
        assert!(!l.contains(text), "plaintext on the wire: {l:?}");
    }
    let got = deliver(&sent, to, &from_name);
    assert_eq!(
        got,
        vec![PeerEvent::Msg {
            from: from_name,
            text: text.to_string(),
            encrypted: true
        }],
        "receiving {text:?}"
    );
    lines
}

#[test]
fn ake_then_messages_both_ways_with_fragments() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = secure_pair(dir.path());

    // Each side's status names the other's fingerprint and instance tag.
    let (afp, bfp) = (alice.fingerprint(), bob.fingerprint());
    let (a_st, b_st) = (alice.status("bob"), bob.status("alice"));
    assert_eq!(a_st.len(), 1, "{a_st:?}");
    assert_eq!(b_st.len(), 1, "{b_st:?}");
    assert_eq!(a_st[0].state, MsgState::Encrypted);
    assert_eq!(a_st[0].version, 3);
    assert_eq!(a_st[0].fingerprint.as_deref(), Some(bfp.as_str()));
    assert_eq!(b_st[0].fingerprint.as_deref(), Some(afp.as_str()));
    assert_eq!(a_st[0].their_instag, b_st[0].our_instag);
    assert_eq!(b_st[0].their_instag, a_st[0].our_instag);
    assert!(a_st[0].our_instag >= 0x100 && b_st[0].our_instag >= 0x100);
    assert_ne!(a_st[0].our_instag, b_st[0].our_instag);

    let long: String = (0..2000u32)
        .map(|i| char::from(b'a' + u8::try_from(i * 7 % 26).unwrap()))
        .collect();
    let texts = [
        "hello there".to_string(),
        long.clone(),
        "grüße, 世界 ☃ — ça va?".to_string(),
        "\x01ACTION waves\x01".to_string(),
        "tab\there, back\\slash, and a CR\r".to_string(),
    ];
    for text in &texts {
        for alice_sends in [true, false] {
            let lines = if alice_sends {
                send_and_check(&mut alice, &mut bob, text)
            } else {
                send_and_check(&mut bob, &mut alice, text)
            };
            if text.len() == 2000 {
                assert!(lines.len() > 1, "2,000 bytes in one line at max-msg 400");
            }
            // (A v3 data message is about 400 bytes before any text: short ones split too.)
            if lines.len() > 1 {
                for l in &lines {
                    assert!(l.len() <= 400, "fragment of {} bytes", l.len());
                    assert!(l.starts_with("?OTR|"), "not a v3 fragment: {l:?}");
                }
            }
        }
    }
}

#[test]
fn smp_with_a_question_right_and_wrong_answer() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = secure_pair(dir.path());
    assert_eq!(alice.status("bob")[0].trust, None);

    // Right answer: both succeed, and the asker trusts bob's fingerprint ("smp").
    let ask = alice.smpq("bob", "Our first café?", "Blue Door");
    let p = pump(&mut alice, &mut bob, ask);
    // (libotr also logs every SMP message, whose text is empty, as a heartbeat received.)
    let asked: Vec<_> =
        p.b.iter()
            .filter(|e| matches!(e, PeerEvent::Smp { .. }))
            .collect();
    assert_eq!(
        asked,
        [&PeerEvent::Smp {
            to: "alice".into(),
            event: "askq".into(),
            question: Some("Our first café?".into())
        }]
    );
    let answer = bob.smp_respond("alice", "Blue Door");
    let p = pump(&mut bob, &mut alice, answer);
    assert_eq!(
        smp_events(&p.b),
        ["progress", "success"],
        "alice: {:?}",
        p.b
    );
    assert_eq!(smp_events(&p.a), ["success"], "bob: {:?}", p.a);
    assert_eq!(alice.status("bob")[0].trust.as_deref(), Some("smp"));

    // Wrong answer (and no question this time): both fail, the trust is taken back.
    let ask = alice.smp("bob", "Blue Door");
    let p = pump(&mut alice, &mut bob, ask);
    assert_eq!(smp_events(&p.b), ["ask"], "bob: {:?}", p.b);
    let answer = bob.smp_respond("alice", "Red Door");
    let p = pump(&mut bob, &mut alice, answer);
    assert_eq!(
        smp_events(&p.b),
        ["progress", "failure"],
        "alice: {:?}",
        p.b
    );
    assert_eq!(smp_events(&p.a), ["failure"], "bob: {:?}", p.a);
    assert_eq!(alice.status("bob")[0].trust, None);
    assert_eq!(bob.status("alice")[0].trust, None);

    // Aborting mid-way tells the other side.
    let ask = alice.smp("bob", "x");
    pump(&mut alice, &mut bob, ask);
    let abort = bob.smp_abort("alice");
    let p = pump(&mut bob, &mut alice, abort);
    assert_eq!(smp_events(&p.b), ["aborted"], "alice: {:?}", p.b);

    // The session still works afterwards.
    send_and_check(&mut alice, &mut bob, "still private");
}

#[test]
fn finish_reaches_the_other_side() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = secure_pair(dir.path());

    let bye = alice.finish("bob");
    assert_eq!(outs(&bye).len(), 1, "{bye:?}");
    assert!(outs(&bye)[0].starts_with("?OTR:"), "{bye:?}");
    assert_eq!(alice.status("bob")[0].state, MsgState::Plaintext);

    let got = deliver(&bye, &mut bob, "alice");
    assert!(outs(&got).is_empty(), "{got:?}");
    assert_eq!(bob.status("alice")[0].state, MsgState::Finished);

    // bob's next text is refused, not sent in the clear.
    let refused = bob.send("alice", "are you there?");
    assert_eq!(outs(&refused), Vec::<String>::new());
    assert_eq!(event_names(&refused), ["CONNECTION_ENDED"]);

    // alice, back in plaintext, sends in the clear; bob (FINISHED) is warned it was unencrypted.
    let clear = alice.send("bob", "plain now");
    assert_eq!(outs(&clear), ["plain now"]);
    let got = deliver(&clear, &mut bob, "alice");
    assert_eq!(
        got,
        vec![PeerEvent::Event {
            to: "alice".into(),
            name: "RCVDMSG_UNENCRYPTED".into(),
            detail: Some("plain now".into())
        }]
    );
}

#[test]
fn heartbeat_after_the_clock_moves() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let (mut alice, mut bob) = secure_pair(dir.path());

    // bob sent during the AKE just now: no heartbeat yet.
    let sent = alice.send("bob", "before");
    let got = deliver(&sent, &mut bob, "alice");
    assert_eq!(event_names(&got), Vec::<String>::new(), "{got:?}");
    assert!(outs(&got).is_empty(), "{got:?}");

    // 70 s later on bob's clock (libotr reads time() from the harness): the next message
    // received makes bob send a heartbeat, which alice logs and does not show.
    bob.advance(70);
    let sent = alice.send("bob", "after");
    let got = deliver(&sent, &mut bob, "alice");
    assert!(
        got.contains(&PeerEvent::Msg {
            from: "alice".into(),
            text: "after".into(),
            encrypted: true
        }),
        "{got:?}"
    );
    assert_eq!(event_names(&got), ["LOG_HEARTBEAT_SENT"], "{got:?}");
    assert_eq!(outs(&got).len(), 1, "{got:?}");
    let beat = deliver(&got, &mut alice, "bob");
    assert_eq!(
        beat,
        vec![PeerEvent::Event {
            to: "bob".into(),
            name: "LOG_HEARTBEAT_RCVD".into(),
            detail: None
        }]
    );

    // Only once: bob has just sent.
    let sent = alice.send("bob", "again");
    let got = deliver(&sent, &mut bob, "alice");
    assert_eq!(event_names(&got), Vec::<String>::new(), "{got:?}");
}

#[test]
fn key_and_trust_survive_a_restart() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let (alice_fp, bob_fp, instag);
    {
        let (mut alice, mut bob) = secure_pair(dir.path());
        alice_fp = alice.fingerprint();
        bob_fp = bob.fingerprint();
        instag = alice.status("bob")[0].our_instag;
        // Lower case and without spaces is the same fingerprint.
        let typed = bob_fp.replace(' ', "").to_lowercase();
        assert_eq!(alice.trust("bob", &typed, "verified"), vec![]);
        assert_eq!(alice.status("bob")[0].trust.as_deref(), Some("verified"));
        alice.quit();
        bob.quit();
    }
    // libotr's own files, in libotr's formats.
    let a = dir.path().join("alice");
    let fps = std::fs::read_to_string(a.join("otr.fingerprints")).unwrap();
    let hex = bob_fp.replace(' ', "").to_lowercase();
    assert_eq!(fps.trim_end(), format!("bob\talice\tirc\t{hex}\tverified"));
    assert!(
        std::fs::read_to_string(a.join("otr.private_key"))
            .unwrap()
            .contains("(private-key")
    );
    assert!(
        std::fs::read_to_string(a.join("otr.instag"))
            .unwrap()
            .contains(&format!("alice\tirc\t{instag:08x}"))
    );

    // Run 2: same key, same instance tag, bob's fingerprint already known and still trusted.
    let mut alice = spawn(dir.path(), "alice");
    let mut bob = spawn(dir.path(), "bob");
    assert_eq!(alice.fingerprint(), alice_fp);
    assert_eq!(bob.fingerprint(), bob_fp);
    let query = alice.query("bob");
    let ake = pump(&mut alice, &mut bob, query);
    assert!(has_secure(&ake.a, "bob", 3), "{:?}", ake.a);
    assert!(
        !ake.a.iter().any(|e| matches!(e, PeerEvent::NewFp { .. })),
        "alice forgot bob's fingerprint: {:?}",
        ake.a
    );
    let st = alice.status("bob");
    assert_eq!(st[0].our_instag, instag);
    assert_eq!(st[0].fingerprint.as_deref(), Some(bob_fp.as_str()));
    assert_eq!(st[0].trust.as_deref(), Some("verified"));
    // bob never set a trust: known fingerprint, no trust.
    assert_eq!(bob.status("alice")[0].trust, None);
}

#[test]
fn plaintext_before_the_ake_and_instance_choice() {
    require_libotr!();
    let dir = tempfile::tempdir().unwrap();
    let mut alice = spawn(dir.path(), "alice");
    let mut bob = spawn(dir.path(), "bob");

    // No session yet: the text goes out as it is and is shown as plain.
    let sent = alice.send("bob", "hi, in the clear");
    assert_eq!(outs(&sent), ["hi, in the clear"]);
    let got = deliver(&sent, &mut bob, "alice");
    assert_eq!(
        got,
        vec![PeerEvent::Msg {
            from: "alice".into(),
            text: "hi, in the clear".into(),
            encrypted: false
        }]
    );
    assert_eq!(bob.status("alice")[0].state, MsgState::Plaintext);
    drop((alice, bob));

    // After the AKE, `send` can name bob's instance explicitly or take the most recent one.
    let (mut alice, mut bob) = secure_pair(dir.path());
    let tag = alice.status("bob")[0].their_instag;
    assert_eq!(alice.instance("bob", &format!("{tag:x}")), vec![]);
    send_and_check(&mut alice, &mut bob, "to your instance");
    assert_eq!(alice.instance("bob", "recent"), vec![]);
    send_and_check(&mut alice, &mut bob, "to the recent one");
    assert_eq!(alice.poll(), vec![]);
    assert_eq!(alice.status("bob").len(), 1);
}
