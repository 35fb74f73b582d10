//! Latency of a channel line queued behind an OTR handshake, on a real ngircd.
//!
//! alice's otrbnc runs behind an overall token bucket (`flood_interval_secs = 2`, `flood_burst = 9`:
//! the old default, configured) and is opted in to fresh peers (each its own otrbnc, unpaced). For each peer alice's client
//! starts a first contact; once the first fragment of alice's Auth-R (24 lines) has gone out,
//! alice's client types channel lines a few seconds apart while the handshakes (this one and
//! the earlier ones still queued) drain. The clock runs from alice's client writing the line
//! to a plain client on ngircd, joined to the channel, receiving it. For comparison the bench
//! prints how long the line would have waited in a single FIFO: the handshake fragments still
//! queued when it was typed, times the interval.
//!
//! ngircd runs with `MaxPenaltyTime = 0`, so otrbnc's pacing is the only limit on alice's
//! lines.
//!
//! Run: `cargo bench --bench send_queue` (about 1.5 minutes). `cargo test --benches` runs one
//! sample behind one handshake (a few seconds). Without ngircd installed it prints "skipped"
//! (with `OTRBNC_REQUIRE_E2E=1`, it fails instead).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::auditor::Auditor;
use support::client::Client;
use support::ngircd::{Ngircd, NgircdOpts};
use support::otrbnc::BncConfig;
use support::scenario;

/// `(identifier, k, n)` of an OTR fragment `?OTR|identifier|sender|receiver,k,n,piece,`.
fn fragment_index(text: &str) -> Option<(String, u32, u32)> {
    let rest = text.strip_prefix("?OTR|")?;
    let mut parts = rest.split(',');
    let header = parts.next()?;
    let id = header.split('|').next()?.to_string();
    let k = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    Some((id, k, n))
}

/// Fragments of alice's Auth-R to `peer` on the wire, `(sent, of)`: the first message to it of
/// 20 fragments or more (the attestation that follows the handshake is another message).
fn handshake_progress(aud: &Auditor, peer: &str) -> (u32, u32) {
    let frags: Vec<(String, u32, u32)> = aud
        .msgs_to_server()
        .iter()
        .filter(|m| m.command == "PRIVMSG" && m.target().eq_ignore_ascii_case(peer))
        .filter_map(|m| fragment_index(m.text()))
        .filter(|(_, _, n)| *n >= 20)
        .collect();
    let Some((id, _, of)) = frags.first().cloned() else {
        return (0, 0);
    };
    let sent = frags.iter().filter(|f| f.0 == id).count();
    (sent as u32, of)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !support::e2e_available("send_queue bench") {
        return;
    }
    let (peers, samples) = if bench { (3, 5) } else { (1, 1) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_main(peers, samples, bench));
}

async fn bench_main(peers: usize, samples: usize, bench: bool) {
    let mode = if bench {
        "full run"
    } else {
        "test mode (one sample; `cargo bench --bench send_queue` for the figures)"
    };
    println!("send_queue: a channel line typed behind queued OTR handshakes — {mode}");
    // The fair queue behind an overall bucket (configured: ngircd's automatic pacing has
    // none), as the old default and ZNC pace.
    let (interval, burst) = (Duration::from_secs(2), 9u32);

    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let names: Vec<String> = (1..=peers).map(|i| format!("bob{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (aud_a, bnc_a) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr())
            .otr_nicks(&refs)
            .pacing(interval.as_secs_f64(), burst)
            .handshake_timeout(600),
    )
    .await;
    let mut a = scenario::attach(&bnc_a).await;
    let mut watcher = Client::connect(ng.addr(), None, "watcher", "watcher", &[]).await;
    watcher.join("#q").await;
    a.join("#q").await;
    let mut peer_bncs = Vec::new();
    let mut latencies = Vec::new();
    let mut fifo = Vec::new();
    for (i, peer) in names.iter().enumerate() {
        let (_aud, bnc) =
            scenario::bouncer(&ng, BncConfig::new(peer, ng.addr()).otr_nicks(&["alice"])).await;
        // Let the bucket fill again, as after a pause in typing (it is full for the first).
        if i > 0 {
            tokio::time::sleep(interval * burst).await;
        }
        a.privmsg(peer, &format!("hello {peer}")).await;
        aud_a
            .wait_for(
                Duration::from_secs(60),
                "alice's Auth-R on the wire",
                |aud| handshake_progress(aud, peer).0 > 0,
            )
            .await;
        for s in 0..samples {
            if s > 0 {
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            // Handshake fragments still queued in alice's bouncer, over every peer so far.
            let queued: u32 = names[..=i]
                .iter()
                .map(|p| {
                    let (sent, of) = handshake_progress(&aud_a, p);
                    of.saturating_sub(sent)
                })
                .sum();
            let text = format!("channel line {i}.{s} {}", support::token(8));
            let t0 = Instant::now();
            a.privmsg("#q", &text).await;
            watcher
                .expect_text_from("alice", &text, Duration::from_secs(120))
                .await;
            let took = t0.elapsed();
            println!(
                "  behind {peer}'s handshake, sample {s}: {queued} handshake fragment(s) queued; \
                 the channel line took {:.3} s (a FIFO: ~{:.0} s)",
                took.as_secs_f64(),
                (interval * queued).as_secs_f64()
            );
            latencies.push(took.as_secs_f64());
            fifo.push((interval * queued).as_secs_f64());
        }
        peer_bncs.push(bnc);
    }
    latencies.sort_by(f64::total_cmp);
    fifo.sort_by(f64::total_cmp);
    let pick = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!();
    println!(
        "otrbnc pacing (configured): {:.1} s per line after a burst of {burst}; ngircd MaxPenaltyTime = 0",
        interval.as_secs_f64()
    );
    println!(
        "channel line behind handshakes ({} samples): p50 {:.3} s, max {:.3} s (target <= {:.1} s); \
         a single FIFO would have held it p50 ~{:.0} s, max ~{:.0} s",
        latencies.len(),
        pick(&latencies, 0.5),
        pick(&latencies, 1.0),
        interval.as_secs_f64(),
        pick(&fifo, 0.5),
        pick(&fifo, 1.0)
    );
}
