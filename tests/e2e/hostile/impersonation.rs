//! (a) The server plays bob with its own valid keys: against a contact verified by SMP, at
//! first contact under `first_contact = "hold"`, and beside a working session. Nothing typed
//! reaches the attacker's key before the user accepts it, and the user is told first.

use crate::require_e2e;
use crate::support::scenario::{accept_new_key, authq, deliver, status_of};
use crate::support::{secs, token};

use super::{FIRST, Hostile2, NEXT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_of_a_verified_contact_gets_nothing_until_accepted() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, mut b) = net.attach().await;
    deliver(&a, &mut b, &format!("hello bob {}", token(8)), FIRST).await;
    authq(
        &mut a,
        &mut b,
        "Our boat?",
        &format!("albatross {}", token(6)),
        NEXT,
    )
    .await;
    let (_, fp_bob) = status_of(&mut a, "bob", NEXT).await;
    assert!(fp_bob.ends_with("(verified by SMP)"), "{fp_bob}");

    // alice ends the session, so her next message waits for a new handshake; the server
    // answers that handshake as bob, with its own keys.
    a.otr("finish bob").await;
    a.expect_otr(NEXT, "ended", |t| {
        t.starts_with("Private conversation with bob ended")
    })
    .await;
    let mallory = net.evil.impersonate("bob");
    let mark = a.log().len();
    let secrets = [
        format!("for bob only {}", token(12)),
        format!("also for bob only {}", token(12)),
    ];
    a.privmsg("bob", &secrets[0]).await;
    let warning = a
        .expect_otr(FIRST, "the new-key warning", |t| {
            t.starts_with("WARNING: a private session with bob completed under a NEW key")
        })
        .await;
    // Both fingerprints, the lost verification and the exact command follow.
    let told = a.collect_for(secs(1)).await;
    let texts: Vec<String> = told
        .iter()
        .filter(|m| m.is_otr_control())
        .map(|m| m.text().to_string())
        .collect();
    let bob_display = fp_bob
        .trim_start_matches("  bob's fingerprint: ")
        .split(" (")
        .next()
        .unwrap()
        .to_string();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&bob_display) && t.contains("accepted key")),
        "{warning}\n{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&mallory.to_display()) && t.contains("new key")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("bob was VERIFIED under the old key")),
        "{texts:?}"
    );
    // Told before anything else: no "private" notice came first or at all.
    let before: Vec<String> = a.otr_texts_since(mark);
    assert!(
        !before
            .iter()
            .any(|t| t.starts_with("Private conversation with bob")),
        "{before:?}"
    );
    // More typed text waits too; the attacker decrypts nothing, nothing left in clear.
    a.privmsg("bob", &secrets[1]).await;
    tokio::time::sleep(secs(2)).await;
    assert!(net.evil.mallory_decrypted().is_empty());
    net.evil.assert_never_leaked(&[&secrets[0], &secrets[1]]);
    net.aud_a
        .assert_absent(&[secrets[0].as_bytes(), secrets[1].as_bytes()]);
    a.otr("status bob").await;
    a.expect_otr(NEXT, "queued", |t| {
        t.starts_with("bob: ") && t.contains("2 message(s) queued")
    })
    .await;
    a.expect_otr(NEXT, "held key", |t| {
        t.contains("a NEW key of bob waits for your decision") && t.contains(&mallory.to_display())
    })
    .await;

    // The user accepts the new key: the queue goes to it, and bob is shown unverified.
    accept_new_key(&mut a, "bob", NEXT).await;
    net.evil.expect_mallory_got(&secrets[0], NEXT).await;
    net.evil.expect_mallory_got(&secrets[1], NEXT).await;
    let (s, fp) = status_of(&mut a, "bob", NEXT).await;
    assert!(s.starts_with("bob: unverified"), "{s}");
    assert!(
        fp.contains(&mallory.to_display()) && fp.ends_with("(not verified)"),
        "{fp}"
    );
    net.aud_a
        .assert_absent(&[secrets[0].as_bytes(), secrets[1].as_bytes()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impostor_at_first_contact_is_held_under_the_hold_policy() {
    require_e2e!();
    let net = Hostile2::start(|c| c.otr_toml("first_contact = \"hold\"")).await;
    let (mut a, _b) = net.attach().await;
    let mallory = net.evil.impersonate("bob");
    let secret = format!("first words {}", token(12));
    a.privmsg("bob", &secret).await;
    let notice = a
        .expect_otr(FIRST, "first-contact hold", |t| {
            t.starts_with("bob shows a key you have not accepted yet")
        })
        .await;
    assert!(
        notice.text().contains("hold_first_contact is on"),
        "{notice}"
    );
    a.expect_otr(NEXT, "the key", |t| t.contains(&mallory.to_display()))
        .await;
    tokio::time::sleep(secs(2)).await;
    assert!(net.evil.mallory_decrypted().is_empty());
    net.evil.assert_never_leaked(&[&secret]);

    accept_new_key(&mut a, "bob", NEXT).await;
    net.evil.expect_mallory_got(&secret, NEXT).await;
    let (s, _) = status_of(&mut a, "bob", NEXT).await;
    assert!(s.starts_with("bob: unverified"), "{s}");
    net.aud_a.assert_absent(&[secret.as_bytes()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_session_survives_an_impostor_through_the_server() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, mut b) = net.attach().await;
    deliver(&a, &mut b, &format!("hello bob {}", token(8)), FIRST).await;
    let (_, fp_before) = status_of(&mut a, "bob", NEXT).await;

    // Beside the real bob, the server starts a handshake under bob's nick with its own keys.
    // The real bob's answers to that handshake are dropped, so mallory's arrive.
    let mallory = net.evil.impersonate_alongside("bob");
    net.evil.silence(Some("bob"));
    net.evil.mallory_start();
    a.expect_otr(FIRST, "the new-key warning", |t| {
        t.starts_with("WARNING: a private session with bob completed under a NEW key")
    })
    .await;
    net.evil.silence(None);
    // The session with the real bob carries on: the next message reaches bob, not mallory.
    let secret = format!("still only for bob {}", token(12));
    deliver(&a, &mut b, &secret, NEXT).await;
    assert!(net.evil.mallory_decrypted().is_empty());
    let (s, fp_after) = status_of(&mut a, "bob", NEXT).await;
    assert!(s.starts_with("bob: "), "{s}");
    assert_eq!(fp_after, fp_before, "the impostor replaced bob's key");
    assert!(!fp_after.contains(&mallory.to_display()));
    net.evil.assert_never_leaked(&[&secret]);
}
