//! Starting early (issue 19): `*otr enable` starts the handshake at once; messages queued
//! for a nick that was not on the network go out privately once it is seen online; and
//! `[otr] warm_up` starts the handshake when an opted-in nick is first seen.

use std::time::Duration;

use crate::require_e2e;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, assert_only_otr_to, sent_to};
use crate::support::{secs, token};

/// A whole first contact on ngircd without penalties or pacing.
const FIRST: Duration = Duration::from_secs(60);

fn started(nick: &str) -> impl Fn(&str) -> bool + '_ {
    move |t: &str| t.starts_with(&format!("Private conversation with {nick} started"))
}

/// `enable bob` with bob online: the session is private on both sides before anything is
/// typed, and the first message then goes out at once, encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_starts_the_session_before_the_first_message() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud_a, a_bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let (_aud_b, b_bnc) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&a_bnc).await;
    let mut b = scenario::attach(&b_bnc).await;
    a.otr("enable bob").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("OTR enabled for bob") && t.contains("being started now")
    })
    .await;
    a.expect_otr(FIRST, "private before typing", started("bob"))
        .await;
    b.expect_otr(FIRST, "private on bob's side", started("alice"))
        .await;
    let text = format!("first words {}", token(8));
    a.privmsg("bob", &text).await;
    b.expect_text_from("alice", &text, secs(20)).await;
    assert_only_otr_to(&aud_a, "bob");
    aud_a.assert_absent(&[text.as_bytes()]);
}

/// A message to bob while bob is not on the network stays queued (the server's 401 gives the
/// query up at once instead of after the handshake timeout) and goes out privately as soon as
/// bob joins a channel alice is in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_go_out_when_the_nick_is_seen_online() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    // The handshake timeout is long: only the sighting can start the session in time.
    let (aud_a, a_bnc) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr())
            .otr_nicks(&["bob"])
            .handshake_timeout(600),
    )
    .await;
    let mut a = scenario::attach(&a_bnc).await;
    a.join("#meet").await;
    let text = format!("waiting for you {}", token(8));
    a.privmsg("bob", &text).await;
    a.expect_otr(secs(20), "not on the network", |t| {
        t.starts_with("bob is not on the network") && t.contains("stay queued")
    })
    .await;
    let (_aud_b, b_bnc) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut b = scenario::attach(&b_bnc).await;
    b.join("#meet").await;
    b.expect_text_from("alice", &text, FIRST).await;
    a.expect_otr(secs(20), "private", started("bob")).await;
    assert_only_otr_to(&aud_a, "bob");
    aud_a.assert_absent(&[text.as_bytes()]);
}

/// With `warm_up = true`, bob joining a channel alice is in starts the handshake: both sides
/// are private without a message typed. Without it (the default), nothing is sent to bob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_up_starts_opted_in_nicks_on_sight_and_is_off_by_default() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud_cold, cold_bnc) =
        scenario::bouncer(&ng, BncConfig::new("carol", ng.addr()).otr_nicks(&["bob"])).await;
    let (_aud_a, a_bnc) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr())
            .otr_nicks(&["bob"])
            .otr_toml("warm_up = true"),
    )
    .await;
    let mut cold = scenario::attach(&cold_bnc).await;
    cold.join("#meet").await;
    let mut a = scenario::attach(&a_bnc).await;
    a.join("#meet").await;
    let (_aud_b, b_bnc) = scenario::bouncer(
        &ng,
        BncConfig::new("bob", ng.addr()).otr_nicks(&["alice", "carol"]),
    )
    .await;
    let mut b = scenario::attach(&b_bnc).await;
    b.join("#meet").await;
    a.expect_otr(FIRST, "warmed up", started("bob")).await;
    b.expect_otr(FIRST, "warmed up on bob's side", started("alice"))
        .await;
    // carol saw the same JOIN (she was in #meet first) and, warm-up being off, sent bob nothing.
    cold.collect_for(Duration::from_millis(500)).await;
    assert!(
        sent_to(&aud_cold, "PRIVMSG", "bob").is_empty(),
        "warm-up is off by default, yet carol's bouncer wrote to bob"
    );
    b.assert_never_received("Private conversation with carol");
}
