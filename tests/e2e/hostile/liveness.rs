//! A server that goes silent, says ERROR, or accepts and closes at once: otrbnc notices a
//! silent link within its stated timeout and reconnects and rejoins, tells the user in
//! `*otr` instead of passing a raw ERROR, and backs off from a server that keeps closing.

use std::time::Instant;

use crate::require_e2e;
use crate::support::scenario::sent_to;
use crate::support::secs;

use super::Hostile2;

/// The link goes silent both ways with the sockets open: with `ping_interval_secs = 2` and
/// `ping_timeout_secs = 2` the bouncer gives it up within a few seconds, reconnects, rejoins
/// the channel, and the client is told — no raw ERROR, no reconnect of the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_is_noticed_and_replaced() {
    require_e2e!();
    let net = Hostile2::start(|c| {
        c.network_toml(
            "ping_interval_secs = 2\nping_timeout_secs = 2\nreconnect_min_secs = 1\nreconnect_max_secs = 2",
        )
    })
    .await;
    let (mut a, _b) = net.attach().await;
    a.join("#live").await;
    let t0 = Instant::now();
    net.evil.black_hole();
    let told = a
        .expect_otr(secs(30), "the silent link given up", |t| {
            t.starts_with("Disconnected from test (no answer from the server for")
        })
        .await;
    let noticed = t0.elapsed();
    println!("silent link noticed after {noticed:?}: {told}");
    // 2 s of silence, then the PING, then 2 s without an answer (and timer slack).
    assert!(
        noticed >= secs(3),
        "gave up before the PING could be answered: {noticed:?}"
    );
    assert!(noticed <= secs(10), "took {noticed:?}");
    net.aud_a
        .wait_for(secs(30), "registered again", |aud| aud.registrations() >= 2)
        .await;
    net.aud_a
        .wait_for(secs(30), "#live joined again", |aud| {
            sent_to(aud, "JOIN", "#live").len() >= 2
        })
        .await;
    a.otr("status").await;
    a.expect_otr(secs(10), "last heard", |t| {
        t.starts_with("Upstream test: connected, ")
            && t.contains("; the server last said something")
    })
    .await;
    assert!(
        !a.log().iter().any(|m| m.command == "ERROR"),
        "a raw ERROR reached the client"
    );
}

/// The server's `ERROR` reaches the client as an `*otr` notice, never as a raw line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_a_notice_not_a_raw_line() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, _b) = net.attach().await;
    net.evil
        .inject("ERROR :Closing Link: alice[127.0.0.1] (K-Lined)");
    a.expect_otr(secs(10), "the ERROR told", |t| {
        t.starts_with("The server test closes the link: Closing Link")
    })
    .await;
    assert!(!a.log().iter().any(|m| m.command == "ERROR"));
}

/// A server that accepts and closes at once (throttle, K-line) is retried ever more slowly:
/// the backoff resets only when registration succeeds, not at every TCP connect, and a
/// connection that closed before registering waits at least the quick-close floor (5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_closes_back_off() {
    require_e2e!();
    let net = Hostile2::start(|c| {
        c.network_toml(
            "reconnect_min_secs = 2
reconnect_max_secs = 16",
        )
    })
    .await;
    net.aud_a.refuse_new(true);
    net.aud_a.cut();
    net.aud_a
        .wait_for(secs(40), "three refused attempts", |aud| {
            aud.refused_at().len() >= 3
        })
        .await;
    let at = net.aud_a.refused_at();
    let gaps: Vec<f64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    println!("intervals between attempts: {gaps:?}");
    // After the cut (a registered connection: 2 s) the backoff doubles at every quick close:
    // 4 s raised to the 5 s floor, then 8 s, each with up to 25 % jitter.
    assert!(gaps[0] >= 4.9, "{gaps:?}");
    assert!(gaps[1] >= 7.9 && gaps[1] >= 1.5 * gaps[0], "{gaps:?}");
}
