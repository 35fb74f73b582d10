//! Time to private with an irssi-otr peer (irssi + irssi-plugin-otr, libotr 4.1) on ngircd
//! with its default flood penalties and otrbnc's default pacing (burst 9, then a line every
//! 2 s): from alice's client sending her first message to opted-in bob until bob's irssi
//! shows it decrypted (otrbnc starts), and from bob's `/otr init` until alice's client is
//! told the conversation is private (irssi starts). Also the lines and bytes otrbnc sent for
//! each handshake, from its wire auditor. Every run is a fresh pair (first contact).
//!
//! Run: `cargo bench --bench otr3_irssi` (5 runs of each). `cargo test --benches` runs one of
//! each; without ngircd, irssi or irssi-plugin-otr it is skipped (unless
//! `OTRBNC_REQUIRE_E2E=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/libotr_support/mod.rs"]
mod libotr_support;
#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::auditor::Auditor;
use support::irssi_otr::IrssiOtr;
use support::ngircd::{Ngircd, NgircdOpts};
use support::otrbnc::BncConfig;
use support::scenario;
use support::token;

const LIMIT: Duration = Duration::from_secs(60);

struct Run {
    secs: f64,
    lines: usize,
    bytes: usize,
}

/// OTR lines and bytes alice's otrbnc sent to bob.
fn otr_sent(aud: &Auditor) -> (usize, usize) {
    let msgs: Vec<_> = aud
        .msgs_to_server()
        .into_iter()
        .filter(|m| m.command == "PRIVMSG" && m.text().contains("?OTR"))
        .collect();
    (msgs.len(), msgs.iter().map(|m| m.text().len()).sum())
}

async fn otrbnc_starts() -> Run {
    let ng = Ngircd::start(NgircdOpts::default()).await;
    let cfg = BncConfig::new("alice", ng.addr())
        .otr_nicks(&["bob"])
        .default_pacing();
    let ((aud, bnc), bob) = tokio::join!(scenario::bouncer(&ng, cfg), async {
        let bob = IrssiOtr::start("bob").await;
        bob.connect(ng.addr()).await;
        bob
    });
    let a = scenario::attach(&bnc).await;
    let first = format!("first contact {}", token(8));
    let t0 = Instant::now();
    a.privmsg("bob", &first).await;
    bob.wait_message("alice", "alice", &first, LIMIT).await;
    let secs = t0.elapsed().as_secs_f64();
    let (lines, bytes) = otr_sent(&aud);
    Run { secs, lines, bytes }
}

async fn irssi_starts() -> Run {
    let ng = Ngircd::start(NgircdOpts::default()).await;
    let cfg = BncConfig::new("alice", ng.addr())
        .otr_nicks(&["bob"])
        .default_pacing();
    let ((aud, bnc), bob) = tokio::join!(scenario::bouncer(&ng, cfg), async {
        let bob = IrssiOtr::start("bob").await;
        bob.connect(ng.addr()).await;
        bob
    });
    let mut a = scenario::attach(&bnc).await;
    let t0 = Instant::now();
    bob.otr_init("alice");
    a.expect_otr(LIMIT, "private", |t| {
        t.starts_with("Private conversation with bob started")
    })
    .await;
    let secs = t0.elapsed().as_secs_f64();
    let (lines, bytes) = otr_sent(&aud);
    Run { secs, lines, bytes }
}

fn report(what: &str, runs: &[Run]) {
    let mut secs: Vec<f64> = runs.iter().map(|r| r.secs).collect();
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    println!(
        "otr3_irssi {what}: time to private median {median:.2} s (min {:.2}, max {:.2}, {} runs); otrbnc sent {} OTR lines, {} bytes",
        secs[0],
        secs[secs.len() - 1],
        runs.len(),
        runs[0].lines,
        runs[0].bytes
    );
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !support::irssi_otr::available("otr3_irssi") {
        return;
    }
    let n = if bench { 5 } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..n {
        ours.push(rt.block_on(otrbnc_starts()));
        theirs.push(rt.block_on(irssi_starts()));
    }
    report("otrbnc starts (first message)", &ours);
    report("irssi starts (/otr init)", &theirs);
}
