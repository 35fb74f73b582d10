//! The server makes 5,000 nicks each offer alice a session with a full Identity message
//! (about 30 fragments each, 150,000 lines), with `accept_strangers` off and on. alice's
//! bouncer stays within a memory bound, her session with bob keeps delivering, at most a
//! minute's worth of offers reaches her client, and a nick she enables afterwards still gets
//! a session.

use std::time::Instant;

use otr_core::profile::LongTermKeys;
use otr_core::session::{Account, Policy};
use otr_core::wire::query::{Versions, format_query};
use rand::rngs::StdRng;

use crate::require_e2e;
use crate::support::otrpeer::OtrPeer;
use crate::support::scenario::deliver;
use crate::support::{secs, token, unix_ms};

use super::{FIRST, Hostile2, NEXT};

const STRANGERS: usize = 5000;
/// Observed (debug build, 2 cores): about 13 MiB before, 19 MiB at the peak, either way.
const RSS_GROWTH_KIB: u64 = 32 * 1024;

/// The lines of one Identity message a stranger would send alice (answering her "query").
fn identity_lines() -> Vec<String> {
    let mut rng: StdRng = rand::make_rng();
    let keys = LongTermKeys::generate(&mut rng).expect("stranger keys");
    let mut stranger = Account::new(keys, 0x4000, Policy::default(), unix_ms()).expect("account");
    stranger.set_auto_respond("alice", true);
    let query = format_query(&Versions::ours(), "");
    let _ = stranger.handle_incoming(unix_ms(), &mut rng, "alice", &query);
    let mut lines = Vec::new();
    while let Some(t) = stranger.poll_transmit() {
        lines.push(t.line);
    }
    assert!(lines.len() > 5, "not an Identity: {lines:?}");
    lines
}

async fn five_thousand_strangers(accept_strangers: bool) {
    let mut net = Hostile2::start(|c| {
        if accept_strangers {
            c.otr_toml("accept_strangers = true")
        } else {
            c
        }
    })
    .await;
    let (mut a, mut b) = net.attach().await;
    deliver(&a, &mut b, &format!("before {}", token(8)), FIRST).await;
    let rss_before = net.a.rss_kib().expect("alice's RSS");

    let identity = identity_lines();
    let t0 = Instant::now();
    net.evil.inject_many((0..STRANGERS).flat_map(|i| {
        identity
            .iter()
            .map(move |l| format!(":stranger{i}!s@flood.invalid PRIVMSG alice :{l}"))
    }));
    // The conversation goes on during the flood.
    let mut rss_peak = rss_before;
    for i in 0..5 {
        deliver(&a, &mut b, &format!("during a{i} {}", token(8)), NEXT).await;
        deliver(&b, &mut a, &format!("during b{i} {}", token(8)), NEXT).await;
        rss_peak = rss_peak.max(net.a.rss_kib().unwrap_or(0));
    }
    // A plain line after the flood reaches the client once every flood line was read.
    let marker = format!("flood over {}", token(8));
    net.evil
        .inject(&format!(":marker!m@flood.invalid PRIVMSG alice :{marker}"));
    a.expect_text_from("marker", &marker, secs(120)).await;
    let flood_secs = t0.elapsed().as_secs_f64();
    net.aud_a.wait_quiet(secs(2), secs(120)).await;
    let rss_after = net.a.rss_kib().expect("alice's RSS");
    rss_peak = rss_peak.max(rss_after);
    deliver(&a, &mut b, &format!("after {}", token(8)), NEXT).await;
    deliver(&b, &mut a, &format!("after back {}", token(8)), NEXT).await;

    // A nick enabled now still gets a slot and a session.
    let mut carol = OtrPeer::connect(net.ngircd.addr(), "carol").await;
    carol.auto_respond("alice");
    a.otr("enable carol").await;
    let to_carol = format!("to carol {}", token(10));
    a.privmsg("carol", &to_carol).await;
    carol.expect_message("alice", &to_carol, FIRST).await;

    let offers = a
        .otr_texts()
        .iter()
        .filter(|t| t.contains("wants a private") || t.contains("offers a private"))
        .count();
    println!(
        "{STRANGERS} strangers × {} lines (accept_strangers {accept_strangers}) read in \
         {flood_secs:.1} s: alice's bouncer RSS {rss_before} KiB before, peak {rss_peak} KiB, \
         {rss_after} KiB after; {offers} offers shown",
        identity.len()
    );
    assert!(net.a.is_alive(), "alice's bouncer died");
    assert!(
        rss_peak.saturating_sub(rss_before) < RSS_GROWTH_KIB,
        "RSS grew from {rss_before} to a peak of {rss_peak} KiB"
    );
    // At most a minute's worth (8) per minute the flood lasted, plus one summary each.
    let minutes = usize::try_from(t0.elapsed().as_secs() / 60).unwrap_or(0) + 1;
    assert!(offers <= 8 * minutes, "{offers} offers reached the client");
    assert!(offers >= 1, "no offer was shown at all");
    net.evil.assert_never_leaked(&[&to_carol]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_strangers_refused_cost_bounded_memory() {
    require_e2e!();
    five_thousand_strangers(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_strangers_accepted_cost_bounded_memory() {
    require_e2e!();
    five_thousand_strangers(true).await;
}
