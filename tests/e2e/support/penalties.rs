//! A conversation under ngircd's default flood penalties: first contact, then long messages
//! both ways at once, with every delivery, disconnection and wire check. The end-to-end test
//! (`flood::conversation_under_default_flood_penalties`) runs it with a short pacing interval;
//! the `otr_e2e` benchmark's `penalties` part runs it with otrbnc's default pacing (minutes).

use std::time::{Duration, Instant};

use super::ngircd::NgircdOpts;
use super::otrbnc::BncConfig;
use super::scenario::{Pair, assert_only_otr_to, assert_reassembles};
use super::token;

/// What the conversation took.
#[derive(Debug, Clone)]
pub struct PenaltyFigures {
    /// From alice's first message to bob's client showing it (first contact).
    pub private_after: Duration,
    /// From alice's first message to the last long message arriving on both sides.
    pub all_after: Duration,
    /// Lines alice's and bob's bouncers sent the server.
    pub lines_up: (usize, usize),
}

/// A message of at least 1,500 characters: several fragments.
fn long_text(who: &str, i: usize) -> String {
    let mut s = format!("{who} long message {i} {} ", token(16));
    while s.len() < 1500 {
        s.push_str(&token(32));
        s.push(' ');
    }
    s
}

/// Two bouncers paced by `pace` on an ngircd with its default flood penalties: alice's first
/// message (first contact), then `per_side` messages of ~1,500 characters each way, sent at
/// once. Everything must arrive within `limit` of being sent, reassembled and in order;
/// nobody may be disconnected, flood-killed or re-registered; the wire carries only OTR to the
/// peer and none of the texts.
pub async fn conversation(
    pace: impl Fn(BncConfig) -> BncConfig,
    per_side: usize,
    limit: Duration,
) -> PenaltyFigures {
    let pair = Pair::start(NgircdOpts::default(), pace).await;
    let a = pair.attach_a().await;
    let mut b = pair.attach_b().await;

    let t0 = Instant::now();
    let hello = format!("hello under penalties {}", token(12));
    a.privmsg("bob", &hello).await;
    b.expect_text_from("alice", &hello, limit).await;
    let private_after = t0.elapsed();

    let to_bob: Vec<String> = (0..per_side).map(|i| long_text("alice", i)).collect();
    let to_alice: Vec<String> = (0..per_side).map(|i| long_text("bob", i)).collect();
    for (ab, ba) in to_bob.iter().zip(&to_alice) {
        a.privmsg("bob", ab).await;
        b.privmsg("alice", ba).await;
    }
    if let (Some(ab), Some(ba)) = (to_bob.last(), to_alice.last()) {
        b.expect_long_text_from("alice", ab, limit).await;
        a.expect_long_text_from("bob", ba, limit).await;
    }
    let figures = PenaltyFigures {
        private_after,
        all_after: t0.elapsed(),
        lines_up: (
            pair.aud_a.lines_to_server().len(),
            pair.aud_b.lines_to_server().len(),
        ),
    };
    let mut want: Vec<String> = vec![hello.clone()];
    want.extend(to_bob.iter().cloned());
    assert_reassembles(&b.texts_from("alice"), &want);
    assert_reassembles(&a.texts_from("bob"), &to_alice);

    // Nobody was disconnected or flood-killed.
    for (aud, who) in [(&pair.aud_a, "alice"), (&pair.aud_b, "bob")] {
        assert_eq!(aud.connection_count(), 1, "{who}'s upstream reconnected");
        assert_eq!(aud.open_count(), 1, "{who}'s upstream was closed");
        assert_eq!(aud.registrations(), 1);
        let errors: Vec<String> = aud
            .msgs_to_client()
            .iter()
            .filter(|m| m.command == "ERROR")
            .map(|m| m.line())
            .collect();
        assert!(errors.is_empty(), "{who}'s upstream got {errors:?}");
    }
    assert!(
        pair.ngircd.forced_disconnects().is_empty(),
        "ngircd shut connections down: {:?}",
        pair.ngircd.forced_disconnects()
    );
    for c in [&a, &b] {
        assert_eq!(
            c.log().iter().filter(|m| m.command == "001").count(),
            1,
            "{} saw a re-registration",
            c.label()
        );
        c.assert_never_received("?OTR");
    }
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    let mut needles: Vec<Vec<u8>> = vec![hello.into_bytes()];
    needles.extend(
        to_bob
            .iter()
            .chain(to_alice.iter())
            .flat_map(|t| [t.as_bytes()[..40].to_vec(), t.as_bytes()[700..740].to_vec()]),
    );
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    pair.assert_absent(&refs);
    figures
}
