//! What the user changes with `*otr` holds across a restart and a crash: a nick opted in with
//! `enable` (and not in the config) and a policy toggle. After either, the first message to
//! the nick is queued and goes as OTR, never in clear, and the session starts.

use std::time::Duration;

use crate::require_e2e;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, assert_only_otr_to};
use crate::support::{secs, token};

/// The first message starts a session: allow for the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(60);

/// How alice's bouncer goes down before it starts again.
#[derive(Clone, Copy, Debug)]
enum Down {
    /// SIGTERM: a graceful stop.
    Graceful,
    /// SIGKILL: a crash, nothing flushed on the way out.
    Crash,
}

async fn enable_then_restart(down: Down) {
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    // alice's config opts nobody in; bob's opts alice in.
    let (aud_a, mut bnc_a) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let (aud_b, bnc_b) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&bnc_a).await;
    let mut b = scenario::attach(&bnc_b).await;
    a.otr("enable bob").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("OTR enabled for bob")
    })
    .await;
    a.otr("policy allow_plain_notice on").await;
    a.expect_otr(secs(10), "policy answered", |t| {
        t.contains("allow_plain_notice is now on")
    })
    .await;
    assert!(
        !a.otr_texts()
            .iter()
            .any(|t| t.contains("could NOT be saved")),
        "{:?}",
        a.otr_texts()
    );
    drop(a);

    match down {
        Down::Graceful => {}
        Down::Crash => bnc_a.kill(),
    }
    bnc_a.restart().await;
    aud_a
        .wait_for(secs(30), "alice's upstream registered again", |aud| {
            aud.registrations() >= 2
        })
        .await;
    let mut a = scenario::attach(&bnc_a).await;
    let secret = format!("after the {down:?} restart {}", token(12));
    a.privmsg("bob", &secret).await;
    b.expect_text_from("alice", &secret, FIRST).await;
    aud_a.assert_absent(&[secret.as_bytes()]);
    aud_b.assert_absent(&[secret.as_bytes()]);
    assert_only_otr_to(&aud_a, "bob");
    a.otr("policy").await;
    a.expect_otr(secs(10), "the policy line", |t| {
        t.contains("allow_plain_notice on")
    })
    .await;
}

/// `enable bob` and a policy change, a graceful restart, then `/msg bob`: OTR only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_in_and_a_policy_change_survive_a_restart() {
    require_e2e!();
    enable_then_restart(Down::Graceful).await;
}

/// The same after SIGKILL: the opt-in was on disk before the command was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opt_in_and_a_policy_change_survive_a_crash() {
    require_e2e!();
    enable_then_restart(Down::Crash).await;
}
