//! Authentication between two bouncers on one ngircd: SMP with a question, the verified state
//! in `status` on both sides and across restarts of both, and a changed key for a verified
//! nick.

use std::time::Duration;

use crate::require_e2e;
use crate::support::client::Client;
use crate::support::scenario::{Pair, accept_new_key, assert_only_otr_to, deliver, status_of};
use crate::support::token;

/// The first message starts a session: allow for the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(60);
/// A message or an SMP run through an established session.
const NEXT: Duration = Duration::from_secs(30);

/// (2) alice asks bob a question with `authq`; bob sees the question and the exact command to
/// answer, answers with `auth`; both see the result, in `*otr`, in the conversation and in
/// `status`; the verified state survives restarting both bouncers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authq_answered_with_auth_verifies_and_survives_restarts() {
    require_e2e!();
    let mut pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    deliver(&a, &mut b, &format!("hello bob {}", token(8)), FIRST).await;
    deliver(&b, &mut a, &format!("hello alice {}", token(8)), NEXT).await;

    let question = "Which boat did we sail in 2019?";
    let answer = format!("the Albatross {}", token(6));
    a.otr(&format!("authq bob \"{question}\" {answer}")).await;
    a.expect_otr(NEXT, "waiting for bob", |t| {
        t.starts_with("Authenticating bob: waiting for bob to answer your question")
    })
    .await;
    let asked = b
        .expect_otr(NEXT, "alice's question", |t| t.contains(question))
        .await;
    assert!(
        asked.text().contains("answer with: auth alice <answer>"),
        "{}",
        asked.text()
    );
    b.expect(NEXT, |m| {
        m.is_privmsg_from("alice")
            && m.text().starts_with("[otr] alice asks you to authenticate")
            && m.text().contains(question)
    })
    .await;
    b.otr(&format!("auth alice {answer}")).await;
    a.expect_otr(NEXT, "you verified bob", |t| {
        t.starts_with("You verified bob")
    })
    .await;
    b.expect_otr(NEXT, "alice verified you", |t| {
        t.starts_with("alice verified you")
    })
    .await;
    a.expect(NEXT, |m| {
        m.is_privmsg_from("bob") && m.text().starts_with("[otr] You verified bob")
    })
    .await;

    let (sa, fa) = status_of(&mut a, "bob", NEXT).await;
    assert!(sa.starts_with("bob: private"), "{sa}");
    assert!(fa.ends_with("(verified by SMP)"), "{fa}");
    let (sb, fb) = status_of(&mut b, "alice", NEXT).await;
    assert!(sb.starts_with("alice: unverified"), "{sb}");
    assert!(
        fb.ends_with("(not verified; alice verified you by SMP)"),
        "{fb}"
    );

    // Neither the question nor the answer crossed the wire in clear.
    pair.assert_absent(&[question.as_bytes(), answer.as_bytes()]);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");

    // Restart both; before any new session the stored state shows, then a new session is
    // private and verified from the first message.
    drop(a);
    drop(b);
    pair.a.restart().await;
    pair.b.restart().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let (_, fa2) = status_of(&mut a, "bob", NEXT).await;
    assert_eq!(fa2, fa, "alice's view of bob after the restart");
    let (_, fb2) = status_of(&mut b, "alice", NEXT).await;
    assert_eq!(fb2, fb, "bob's view of alice after the restart");
    deliver(&a, &mut b, &format!("after restart {}", token(8)), FIRST).await;
    a.expect_otr(NEXT, "verified session", |t| {
        t == "Private conversation with bob started: private (OTRv4+), verified."
    })
    .await;
    let (sa3, fa3) = status_of(&mut a, "bob", NEXT).await;
    assert!(sa3.starts_with("bob: private"), "{sa3}");
    assert_eq!(fa3, fa);
    // Same keys: no key-change warning anywhere.
    assert!(
        !a.log()
            .iter()
            .any(|m| m.text().contains("key CHANGED") || m.text().contains("NEW key")),
        "a key change was announced after a restart with a persistent identity"
    );
}

/// (4) bob's key changes (his identity is deleted while he is stopped) after alice verified
/// him: alice is warned before anything from the new key is shown as private, and bob shows
/// as unverified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_key_of_a_verified_nick_is_announced_and_unverified() {
    require_e2e!();
    let mut pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    deliver(&a, &mut b, &format!("hello {}", token(8)), FIRST).await;
    let secret = format!("shared {}", token(8));
    a.otr(&format!("auth bob {secret}")).await;
    b.expect_otr(NEXT, "request", |t| t.starts_with("alice wants to verify"))
        .await;
    b.otr(&format!("auth bob-is-not-the-arg {secret}")).await; // wrong nick: refused
    b.expect_otr(NEXT, "refusal", |t| {
        t.starts_with("Authentication NOT started")
    })
    .await;
    b.otr(&format!("auth alice {secret}")).await;
    a.expect_otr(NEXT, "verified", |t| t.starts_with("You verified bob"))
        .await;
    b.expect_otr(NEXT, "mutual", |t| {
        t.starts_with("You and alice verified each other")
    })
    .await;
    let (_, fp_before) = status_of(&mut a, "bob", NEXT).await;
    assert!(
        fp_before.ends_with("(verified by SMP; bob verified you by SMP)"),
        "{fp_before}"
    );

    // bob loses his identity.
    drop(b);
    pair.b.stop_graceful().await.expect("bob stopped");
    let identity = pair.b.data_dir().join("identity.sealed");
    std::fs::remove_file(&identity).expect("remove bob's identity");
    pair.b.restart().await;
    let b = pair.attach_b().await;
    a.expect_otr(NEXT, "bob ended", |t| {
        t.starts_with("bob ended the private conversation")
    })
    .await;
    let mark = a.log().len();
    a.otr("start bob").await;
    let hello = format!("from bob's new key {}", token(8));
    // The new key is held: alice is warned, with the verification she loses, and nothing
    // is private with it until she accepts it.
    a.expect_otr(FIRST, "new-key warning", |t| {
        t.starts_with("WARNING: a private session with bob completed under a NEW key")
    })
    .await;
    accept_new_key(&mut a, "bob", NEXT).await;
    a.expect_otr(NEXT, "private", |t| {
        t.starts_with("Private conversation with bob started")
    })
    .await;
    deliver(&b, &mut a, &hello, NEXT).await;
    let log = a.log();
    let after: Vec<_> = log.iter().skip(mark).collect();
    let warn = after
        .iter()
        .position(|m| m.is_otr_control() && m.text().contains("bob was VERIFIED under the old key"))
        .expect("key-change warning to alice");
    let shown = after
        .iter()
        .position(|m| m.is_privmsg_from("bob") && m.text() == hello)
        .expect("bob's message");
    assert!(
        warn < shown,
        "the warning came after bob's message was shown"
    );
    assert!(
        after.iter().any(|m| m.is_otr_control()
            && m.text() == "Private conversation with bob started: private (OTRv4+), unverified."),
        "not shown as unverified"
    );
    let (s, fp_after) = status_of(&mut a, "bob", NEXT).await;
    assert!(s.starts_with("bob: unverified"), "{s}");
    assert!(fp_after.ends_with("(not verified)"), "{fp_after}");
    assert_ne!(fp_after, fp_before);
}

/// `*otr genkey` asks for confirmation, then replaces the key: sessions end, the peer is warned
/// of the change at the next session, and the new key is the one stored (it survives a
/// restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genkey_needs_confirmation_then_rotates_and_persists() {
    require_e2e!();
    let mut pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    deliver(&a, &mut b, &format!("hello {}", token(8)), FIRST).await;
    let own = |c: &mut Client| {
        c.log()
            .iter()
            .rev()
            .find(|m| m.is_otr_control() && m.text().starts_with("Your fingerprint: "))
            .map(|m| m.text().to_string())
    };
    a.otr("fingerprint").await;
    a.expect_otr(NEXT, "fingerprint", |t| t.starts_with("Your fingerprint: "))
        .await;
    let old = own(&mut a).unwrap();
    a.otr("genkey").await;
    a.expect_otr(NEXT, "confirmation request", |t| {
        t.contains("To go ahead: genkey confirm")
    })
    .await;
    a.otr("fingerprint").await;
    a.expect_otr(NEXT, "fingerprint", |t| t.starts_with("Your fingerprint: "))
        .await;
    assert_eq!(
        own(&mut a).unwrap(),
        old,
        "genkey without confirm changed the key"
    );
    a.otr("genkey confirm").await;
    a.expect_otr(NEXT, "new key", |t| t.starts_with("New key made: "))
        .await;
    b.expect_otr(NEXT, "alice ended", |t| {
        t.starts_with("alice ended the private conversation")
    })
    .await;
    a.otr("fingerprint").await;
    a.expect_otr(NEXT, "fingerprint", |t| t.starts_with("Your fingerprint: "))
        .await;
    let new = own(&mut a).unwrap();
    assert_ne!(new, old);
    b.otr("start alice").await;
    b.expect_otr(FIRST, "key change", |t| {
        t.starts_with("WARNING: a private session with alice completed under a NEW key")
    })
    .await;
    // The new key is the stored one.
    drop(a);
    pair.a.restart().await;
    let mut a = pair.attach_a().await;
    a.otr("fingerprint").await;
    a.expect_otr(NEXT, "fingerprint", |t| t.starts_with("Your fingerprint: "))
        .await;
    assert_eq!(own(&mut a).unwrap(), new);
}
