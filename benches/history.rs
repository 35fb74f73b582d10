//! The message store: how fast kept messages are written into the sealed log, how big it
//! is per message, how long a start takes to read it back, and how fast CHATHISTORY LATEST
//! 500 is answered, with 1,000,000 messages kept.
//!
//! The messages are channel lines as a server sends them (`:nick!user@host PRIVMSG #chan
//! :text`, 60-byte text, about 110 bytes a line) spread over 100 channels; one further
//! channel gets one message in 2,000 (the slow case for LATEST: its last 500 are spread over
//! the whole history). Written through [`History::push`] as the network task does (copy,
//! record, seal every 32 KiB with AES-256-GCM, append), including the compaction the bounds
//! cause; Argon2id runs once at open with cheap parameters (the default ones cost about
//! 0.3 s per start, outside these figures).
//!
//! Run: `cargo bench --bench history` (about half a minute). `cargo test --benches` runs
//! it with 20,000 messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Instant;

use bytes::Bytes;
use otrbnc::network::{History, Kept, MsgRef, Selector};
use otrbnc::store::{KdfParams, MessageLog, Passphrase};
use zeroize::Zeroizing;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let n: u64 = if full { 1_000_000 } else { 20_000 };
    let dir = tempfile::tempdir().unwrap();
    let pass = Passphrase::new(Zeroizing::new(b"bench passphrase".to_vec())).unwrap();
    let params = KdfParams::new(256, 1, 1).unwrap();
    let max = usize::try_from(n).unwrap();
    let (log, recs) =
        MessageLog::open_or_create_with_params(dir.path(), "bench", &pass, params).unwrap();
    let mut h = History::with_log(max, u64::MAX, log, recs, 0);
    let lines: Vec<Bytes> = (0..100)
        .map(|c| {
            Bytes::from(format!(
                ":nick{c}!user{c}@host-{c}.example.org PRIVMSG #channel{c} :{}\r\n",
                "x".repeat(60)
            ))
        })
        .collect();
    let rare = Bytes::from(format!(
        ":quiet!q@quiet.example PRIVMSG #quiet :{}\r\n",
        "y".repeat(60)
    ));
    let targets: Vec<String> = (0..100).map(|c| format!("#channel{c}")).collect();
    let bytes: usize = lines.iter().map(Bytes::len).sum::<usize>() / lines.len();

    let t = Instant::now();
    for i in 0..n {
        let ms = 1_700_000_000_000 + i;
        if i % 2000 == 1999 {
            h.push(ms, rare.clone(), Kept::stored("#quiet".into()));
        } else {
            let c = usize::try_from(i % 100).unwrap();
            h.push(ms, lines[c].clone(), Kept::stored(targets[c].clone()));
        }
    }
    h.flush();
    let write = t.elapsed();
    let file = dir.path().join("messages-bench.log");
    let size = std::fs::metadata(&file).unwrap().len();

    let t = Instant::now();
    let (log, recs) =
        MessageLog::open_or_create_with_params(dir.path(), "bench", &pass, params).unwrap();
    let read = recs.len();
    let h = History::with_log(max, u64::MAX, log, recs, 0);
    let load = t.elapsed();

    let latest = |target: &str| {
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            let got = h.select(target, &Selector::Latest(MsgRef::Any), 500);
            times.push(t.elapsed());
            // #channel7 holds every 100th message (the quiet one takes only from #channel99), the
            // quiet one every 2,000th: fewer than 500 in the short run.
            let held = if target == "#quiet" {
                n / 2000
            } else {
                n / 100
            };
            assert_eq!(
                got.len(),
                500.min(usize::try_from(held).unwrap()),
                "{target}"
            );
        }
        times.sort();
        times[10]
    };
    let busy = latest("#channel7");
    let quiet = latest("#quiet");
    println!(
        "history: the sealed message store — {} run",
        if full { "full" } else { "short" }
    );
    println!(
        "messages: {n} (~{bytes} bytes a line), 100 busy channels and one quiet one (1 in 2,000)"
    );
    println!();
    println!("{:<48}{:>14}{:>14}", "", "measured", "target");
    println!(
        "{:<48}{:>14}{:>14}",
        "written into the sealed log (lines/s)",
        format!("{:.0}", n as f64 / write.as_secs_f64()),
        ">= 50,000"
    );
    println!(
        "{:<48}{:>14}{:>14}",
        "log size per message (bytes)",
        format!("{:.1}", size as f64 / n as f64),
        "<= 150"
    );
    println!(
        "{:<48}{:>14}{:>14}",
        "CHATHISTORY LATEST 500, busy channel (ms)",
        format!("{:.2}", busy.as_secs_f64() * 1000.0),
        "<= 50"
    );
    println!(
        "{:<48}{:>14}{:>14}",
        "CHATHISTORY LATEST 500, quiet channel (ms)",
        format!("{:.2}", quiet.as_secs_f64() * 1000.0),
        "<= 50"
    );
    println!(
        "{:<48}{:>14}{:>14}",
        "read back at start (s)",
        format!("{:.2}", load.as_secs_f64()),
        ""
    );
    println!("log file {size} bytes; {read} records read back; LATEST is the median of 21");
}
