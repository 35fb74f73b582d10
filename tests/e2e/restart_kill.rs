//! (h, crash variant) bob's bouncer dies mid-conversation without a goodbye (SIGKILL) and
//! starts again with a new ephemeral identity. alice's bouncer still holds the old session:
//! its next message cannot be read by bob's new bouncer, which answers with an OTR error and
//! starts a new handshake. Both users are told; after the re-key messages flow again.

use std::time::Duration;

use crate::require_e2e;
use crate::support::ngircd::NgircdOpts;
use crate::support::scenario::{
    Pair, accept_new_key, assert_only_otr_to, deliver, sent_to, status_of,
};
use crate::support::{secs, token};

/// The first message starts a session: allow for the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(60);
/// A message through an established session.
const NEXT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bouncer_killed_mid_conversation_rekeys() {
    require_e2e!();
    // Ephemeral identities: the restarted bouncer comes back with a new key.
    let mut pair = Pair::start(NgircdOpts::no_penalties(), |c| {
        c.data_toml("identity = \"ephemeral\"\n")
    })
    .await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let before = [
        format!("before the crash from alice {}", token(12)),
        format!("before the crash from bob {}", token(12)),
    ];
    deliver(&a, &mut b, &before[0], FIRST).await;
    deliver(&b, &mut a, &before[1], NEXT).await;
    let (status_before, fp_before) = status_of(&mut a, "bob", NEXT).await;
    assert!(
        status_before.starts_with("bob: unverified"),
        "{status_before}"
    );

    // The crash: no finish message, no QUIT; the kernel closes the sockets.
    let mark_a = a.log().len();
    let otr_lines_before = sent_to(&pair.aud_b, "PRIVMSG", "alice").len();
    pair.b.kill();
    assert!(!pair.b.is_alive());
    drop(b);
    // alice and bob share no channel, so alice sees no QUIT: ngircd's log tells.
    pair.ngircd
        .wait_log(NEXT, "bob's connection closed", |l| {
            l.contains("User \"bob!~bob@127.0.0.1\" unregistered")
        })
        .await;
    assert_eq!(
        sent_to(&pair.aud_b, "PRIVMSG", "alice").len(),
        otr_lines_before,
        "the killed bouncer sent something to alice"
    );
    // alice's bouncer has no reason to think the session is gone.
    let (status_mid, _) = status_of(&mut a, "bob", NEXT).await;
    assert!(status_mid.starts_with("bob: unverified"), "{status_mid}");

    pair.b.restart().await;
    pair.aud_b
        .wait_for(secs(30), "bob's upstream registered again", |aud| {
            aud.registrations() >= 2
        })
        .await;
    let mut b2 = pair.attach_b().await;
    assert_eq!(b2.nick(), "bob");
    let mark_b = b2.log().len();

    // alice writes into the old session: bob's new bouncer cannot read it.
    let lost = format!("written into the old session {}", token(12));
    a.privmsg("bob", &lost).await;

    // alice is told: the OTR error, then that bob shows a new key, which carries nothing
    // until she accepts it; then the re-keyed session.
    a.wait_log(FIRST, "alice's *otr: error, new key held", |_| {
        let t = a.otr_texts_since(mark_a);
        t.iter().any(|t| t.contains("OTR error from bob"))
            && t.iter().any(|t| {
                t.starts_with("WARNING: a private session with bob completed under a NEW key")
            })
    })
    .await;
    assert!(
        !a.otr_texts_since(mark_a)
            .iter()
            .any(|t| t.contains("Private conversation with bob re-keyed")),
        "the new key was used before alice accepted it"
    );
    accept_new_key(&mut a, "bob", NEXT).await;
    a.wait_log(NEXT, "alice's *otr: re-keyed", |_| {
        a.otr_texts_since(mark_a)
            .iter()
            .any(|t| t.contains("Private conversation with bob re-keyed"))
    })
    .await;
    // bob is told: alice's message was unreadable, then the new session.
    b2.wait_log(NEXT, "bob's *otr: unreadable, then private", |_| {
        let t = b2.otr_texts_since(mark_b);
        t.iter().any(|t| t.contains("could not be decrypted"))
            && t.iter()
                .any(|t| t.contains("Private conversation with alice started"))
    })
    .await;
    let told_a = a.otr_texts_since(mark_a);
    let told_b = b2.otr_texts_since(mark_b);
    println!("alice's *otr after the crash:");
    for t in &told_a {
        println!("  {t}");
    }
    println!("bob's *otr after the restart:");
    for t in &told_b {
        println!("  {t}");
    }
    // The error notice is about an unreadable message; the re-keyed session is unverified.
    let err = told_a
        .iter()
        .find(|t| t.contains("OTR error from bob"))
        .unwrap();
    assert!(err.to_ascii_lowercase().contains("unreadable"), "{err}");
    assert!(
        told_a
            .iter()
            .any(|t| t == "Private conversation with bob re-keyed: private (OTRv4+), unverified."),
        "{told_a:?}"
    );
    // The conversation window on alice's side shows the warning too.
    assert!(
        a.log()[mark_a..].iter().any(|m| m.is_privmsg_from("bob")
            && m.text().starts_with("[otr] WARNING: bob showed a NEW key")),
        "no key-change warning in alice's conversation with bob"
    );

    // The lost message was not delivered (and is not resent by itself).
    tokio::time::sleep(secs(1)).await;
    assert!(
        !b2.texts_from("alice").contains(&lost),
        "the message sent into the old session was delivered"
    );

    // New key, new instance tag.
    let (status_after, fp_after) = status_of(&mut a, "bob", NEXT).await;
    assert!(
        status_after.starts_with("bob: unverified"),
        "{status_after}"
    );
    assert_ne!(fp_before, fp_after, "bob's fingerprint did not change");
    assert_ne!(
        status_before, status_after,
        "bob's instance tag did not change"
    );

    // alice sends it again; then messages flow both ways.
    deliver(&a, &mut b2, &lost, NEXT).await;
    let after = [
        format!("after the crash from bob {}", token(12)),
        format!("after the crash from alice {}", token(12)),
        format!("and bob once more {}", token(12)),
    ];
    deliver(&b2, &mut a, &after[0], NEXT).await;
    deliver(&a, &mut b2, &after[1], NEXT).await;
    deliver(&b2, &mut a, &after[2], NEXT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b2.texts_from("alice"),
        vec![lost.clone(), after[1].clone()],
        "bob's new client received"
    );

    // Exactly one error went from bob's bouncer to alice.
    let errors: Vec<String> = sent_to(&pair.aud_b, "PRIVMSG", "alice")
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.starts_with("?OTR Error"))
        .collect();
    assert_eq!(errors.len(), 1, "OTR errors from bob: {errors:?}");
    for c in [&a, &b2] {
        c.assert_never_received("?OTR");
    }
    let mut all: Vec<String> = before.to_vec();
    all.push(lost);
    all.extend(after);
    let refs: Vec<&[u8]> = all.iter().map(|t| t.as_bytes()).collect();
    pair.assert_absent(&refs);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    assert_eq!(pair.aud_b.connection_count(), 2);
    assert_eq!(pair.aud_a.connection_count(), 1);
}
