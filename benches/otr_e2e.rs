//! OTR between two otrbnc instances on a private ngircd:
//!
//! * `private`: time to private — from alice's client sending the first message to opted-in
//!   bob until bob's client shows it decrypted — on ngircd with its default flood penalties
//!   and otrbnc's default pacing (then faster pacings), for a first contact (fresh pair) and a
//!   repeat contact (`*otr finish bob`, then a new message: a new DAKE between peers that
//!   know each other's profiles). The wire auditors' records give each handshake message's
//!   lines, bytes and timing.
//! * `verify`: time to verified — from alice typing `authq bob …` in a private session until
//!   alice is told "You verified bob" (bob's client answers the moment the question shows) —
//!   on ngircd with its default flood penalties and otrbnc's default pacing, with the SMP
//!   lines and bytes each side sent.
//! * `tor`: over the local Tor network of `scripts/tor-testnet` (`OTRBNC_TOR_TESTNET=<dir>`),
//!   each bouncer with its own embedded Tor client, once out of the exit and once to the onion
//!   service: arti's bootstrap time, otrbnc's start-to-registered time and RSS, and time to
//!   private (first contact) on ngircd's default penalties with otrbnc's default pacing.
//! * `i2p`: over the local i2pd router of `scripts/i2p-testnet` (`OTRBNC_I2P_TESTNET=<dir>`),
//!   each bouncer with its own SAM session, to ngircd behind the router's server tunnel: SAM
//!   session creation time, start-to-registered, time to private (first contact) and time to
//!   verified (SMP with a question), on ngircd's default penalties with otrbnc's default pacing.
//! * `penalties`: the conversation of the e2e test
//!   `flood::conversation_under_default_flood_penalties` (first contact, then 10 messages of
//!   ~1,500 characters each way at once) at otrbnc's default pacing on ngircd's default
//!   penalties, with all of that test's checks: about 4 minutes.
//! * `throughput`: encrypted messages per second once private, with ngircd's penalties off
//!   (`MaxPenaltyTime = 0`) and otrbnc's pacing off.
//! * `servers`: on ngircd, ircd-hybrid and InspIRCd (Debian's, packaged default flood
//!   settings) with otrbnc's default settings: time to private for a first and a repeat
//!   contact, typing-to-shown latency p50/p95 over 40 alternating chat-length messages, the
//!   first contact's lines and bytes, and any flood notice, disconnect or dropped line
//!   (`otr_e2e/servers.rs`; `-- servers`, or `-- hybrid` etc. for one server).
//!
//! Run: `cargo bench --bench otr_e2e` (every part: well over 10 minutes), or
//! `cargo bench --bench otr_e2e -- private` / `-- penalties` / `-- throughput` for one part.
//! `cargo test --benches` runs a tiny `throughput` and `penalties` only (under a minute) and
//! skips the rest; without ngircd installed everything is skipped (unless
//! `OTRBNC_REQUIRE_E2E=1`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/e2e/support/mod.rs"]
mod support;

#[path = "otr_e2e/servers.rs"]
mod servers;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::auditor::Auditor;
use support::client::{Client, Msg};
use support::i2p_testnet::I2pTestnet;
use support::ngircd::NgircdOpts;
use support::otrbnc::BncConfig;
use support::penalties;
use support::scenario::{Pair, authq};
use support::tor_testnet::TorTestnet;

/// What an OTR line (or reassembled message) on the wire is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Query,
    Identity,
    AuthR,
    AuthI,
    ProfileRequest,
    /// The responder's profile sent ahead of its Auth-R (first contact).
    Profile,
    /// The initiator's CT_R sent ahead of its Auth-I.
    Ciphertext,
    Data,
    Error,
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Query => "query",
            Kind::Identity => "Identity",
            Kind::AuthR => "Auth-R",
            Kind::AuthI => "Auth-I",
            Kind::ProfileRequest => "Profile-Request",
            Kind::Profile => "Profile",
            Kind::Ciphertext => "Ciphertext",
            Kind::Data => "Data",
            Kind::Error => "OTR error",
            Kind::Other => "other",
        }
    }

    fn is_dake(self) -> bool {
        matches!(
            self,
            Kind::Query
                | Kind::Identity
                | Kind::AuthR
                | Kind::AuthI
                | Kind::ProfileRequest
                | Kind::Profile
                | Kind::Ciphertext
        )
    }
}

/// The message type of an encoded message `?OTR:<base64>.` (third byte of the binary).
fn encoded_kind(text: &str) -> Kind {
    let b64 = text.trim_start_matches("?OTR:").as_bytes();
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let Some(quad) = b64.get(..4) else {
        return Kind::Other;
    };
    let Some(n) = quad
        .iter()
        .try_fold(0u32, |acc, c| val(*c).map(|v| (acc << 6) | v))
    else {
        return Kind::Other;
    };
    match n & 0xff {
        0x35 => Kind::Identity,
        0x36 => Kind::AuthR,
        0x37 => Kind::AuthI,
        0x38 => Kind::ProfileRequest,
        0x39 => Kind::Profile,
        0x3a => Kind::Ciphertext,
        0x03 => Kind::Data,
        _ => Kind::Other,
    }
}

/// One OTR message as it crossed the wire towards the server.
#[derive(Debug, Clone)]
struct WireMsg {
    dir: &'static str,
    kind: Kind,
    lines: usize,
    /// Bytes on the wire: whole `PRIVMSG peer :...\r\n` lines.
    bytes: usize,
    /// Seconds after the start when its first and last line were seen.
    first: f64,
    last: f64,
}

/// A message whose fragments are arriving: pieces, lines, bytes, first and last time.
type Partial = (Vec<Option<String>>, usize, usize, f64, f64);

/// One direction watched: the lines an auditor saw going to the server, addressed to `peer`.
struct Side<'a> {
    aud: &'a Auditor,
    dir: &'static str,
    peer: &'static str,
    base: usize,
    seen: Vec<f64>,
}

/// Samples two auditors while a handshake runs, to time every line.
struct Watch<'a> {
    t0: Instant,
    sides: Vec<Side<'a>>,
}

fn complete_lines(aud: &Auditor) -> Vec<Vec<u8>> {
    aud.lines_to_server()
        .into_iter()
        .filter(|l| l.ends_with(b"\n"))
        .collect()
}

impl<'a> Watch<'a> {
    /// Watches alice's (`aud_a`) and bob's (`aud_b`) upstreams.
    fn new(aud_a: &'a Auditor, aud_b: &'a Auditor) -> Watch<'a> {
        let side = |aud: &'a Auditor, dir, peer| Side {
            aud,
            dir,
            peer,
            base: complete_lines(aud).len(),
            seen: Vec::new(),
        };
        Watch {
            t0: Instant::now(),
            sides: vec![
                side(aud_a, "alice→bob", "bob"),
                side(aud_b, "bob→alice", "alice"),
            ],
        }
    }

    fn sample(&mut self) {
        let now = self.t0.elapsed().as_secs_f64();
        for s in &mut self.sides {
            let n = complete_lines(s.aud).len();
            while s.base + s.seen.len() < n {
                s.seen.push(now);
            }
        }
    }

    /// The OTR messages sent since the start, both directions, in order of their first line.
    fn messages(&mut self) -> Vec<WireMsg> {
        self.sample();
        let mut out = Vec::new();
        for s in &self.sides {
            let lines = complete_lines(s.aud);
            let mut partial: HashMap<String, Partial> = HashMap::new();
            for (i, raw) in lines.iter().enumerate().skip(s.base) {
                let t = s.seen.get(i - s.base).copied().unwrap_or(0.0);
                let Some(m) = Msg::parse(raw) else { continue };
                if m.command != "PRIVMSG" || !m.target().eq_ignore_ascii_case(s.peer) {
                    continue;
                }
                let text = m.text();
                let whole = |kind| WireMsg {
                    dir: s.dir,
                    kind,
                    lines: 1,
                    bytes: raw.len(),
                    first: t,
                    last: t,
                };
                if let Some(rest) = text.strip_prefix("?OTR|") {
                    // ?OTR|id|sender|receiver,k,n,piece,
                    let mut bars = rest.splitn(3, '|');
                    let id = bars.next().unwrap_or_default().to_string();
                    let tail = bars.nth(1).unwrap_or_default();
                    let f: Vec<&str> = tail.split(',').collect();
                    let (Some(k), Some(n), Some(piece)) = (
                        f.get(1).and_then(|v| v.parse::<usize>().ok()),
                        f.get(2).and_then(|v| v.parse::<usize>().ok()),
                        f.get(3),
                    ) else {
                        out.push(whole(Kind::Other));
                        continue;
                    };
                    let e = partial
                        .entry(id.clone())
                        .or_insert_with(|| (vec![None; n], 0, 0, t, t));
                    if let Some(slot) = e.0.get_mut(k.wrapping_sub(1)) {
                        *slot = Some(piece.to_string());
                    }
                    e.1 += 1;
                    e.2 += raw.len();
                    e.4 = t;
                    if e.0.iter().all(Option::is_some) {
                        let (pieces, lines, bytes, first, last) = partial.remove(&id).unwrap();
                        let text: String = pieces.into_iter().flatten().collect();
                        out.push(WireMsg {
                            dir: s.dir,
                            kind: encoded_kind(&text),
                            lines,
                            bytes,
                            first,
                            last,
                        });
                    }
                } else if text.starts_with("?OTR:") {
                    out.push(whole(encoded_kind(text)));
                } else if text.starts_with("?OTR Error") {
                    out.push(whole(Kind::Error));
                } else if text.starts_with("?OTRv") {
                    out.push(whole(Kind::Query));
                } else if text.starts_with("?OTR") {
                    out.push(whole(Kind::Other));
                }
            }
            for (_, (_, lines, bytes, first, last)) in partial {
                out.push(WireMsg {
                    dir: s.dir,
                    kind: Kind::Other,
                    lines,
                    bytes,
                    first,
                    last,
                });
            }
        }
        out.sort_by(|a, b| a.first.total_cmp(&b.first));
        out
    }
}

/// Waits until `client` shows a PRIVMSG from `from` with exactly `text`, sampling the wire
/// meanwhile. Returns the time since the watch started, or `None` after `limit`.
async fn wait_text(
    client: &mut Client,
    from: &str,
    text: &str,
    limit: Duration,
    watch: &mut Watch<'_>,
) -> Option<Duration> {
    loop {
        let got = client
            .try_expect(Duration::from_millis(25), |m| {
                m.is_privmsg_from(from) && m.text() == text
            })
            .await;
        if got.is_some() {
            let t = watch.t0.elapsed();
            watch.sample();
            return Some(t);
        }
        watch.sample();
        if watch.t0.elapsed() > limit {
            return None;
        }
    }
}

/// One handshake measured.
struct Handshake {
    label: String,
    secs: Option<f64>,
    msgs: Vec<WireMsg>,
}

impl Handshake {
    fn dake_totals(&self) -> (usize, usize) {
        self.msgs
            .iter()
            .filter(|m| m.kind.is_dake())
            .fold((0, 0), |(l, b), m| (l + m.lines, b + m.bytes))
    }

    fn print(&self) {
        match self.secs {
            Some(s) => println!("  {}: {s:.2} s", self.label),
            None => println!("  {}: NOT private within the time limit", self.label),
        }
        println!(
            "    {:>15}  {:<10} {:<15} {:>5} {:>7}",
            "wire time (s)", "direction", "message", "lines", "bytes"
        );
        for m in &self.msgs {
            println!(
                "    {:>15}  {:<10} {:<15} {:>5} {:>7}",
                format!("{:.2}–{:.2}", m.first, m.last),
                m.dir,
                m.kind.name(),
                m.lines,
                m.bytes
            );
        }
        let (l, b) = self.dake_totals();
        println!("    handshake (query + DAKE messages): {l} lines, {b} bytes on the wire");
    }
}

async fn handshake(pair: &Pair, a: &Client, b: &mut Client, label: &str) -> Handshake {
    handshake_on(&pair.aud_a, &pair.aud_b, a, b, label).await
}

/// The same between the bouncers behind `aud_a` (alice) and `aud_b` (bob).
async fn handshake_on(
    aud_a: &Auditor,
    aud_b: &Auditor,
    a: &Client,
    b: &mut Client,
    label: &str,
) -> Handshake {
    let text = format!("{label} {}", support::token(10));
    let mut watch = Watch::new(aud_a, aud_b);
    a.privmsg("bob", &text).await;
    let secs = wait_text(b, "alice", &text, Duration::from_secs(600), &mut watch)
        .await
        .map(|d| d.as_secs_f64());
    // Let the last lines be sampled.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let msgs = watch.messages();
    Handshake {
        label: label.to_string(),
        secs,
        msgs,
    }
}

/// The DAKE modes otrbnc logged (`session private ... mode=...`, debug level).
fn modes(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("session private"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("mode=")))
        .map(|w| w.trim_start_matches("mode=").to_string())
        .collect()
}

/// Log lines of otrbnc that say something went wrong with the connection or the queues.
fn troubles(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| {
            l.contains("WARN")
                || l.contains("ERROR")
                || l.contains("Disconnected")
                || l.contains("dropped")
                || l.contains("could not keep up")
        })
        .map(str::to_string)
        .collect()
}

fn print_troubles(pair: &Pair) {
    let forced = pair.ngircd.forced_disconnects();
    let reconnects = (pair.aud_a.connection_count() - 1) + (pair.aud_b.connection_count() - 1);
    if forced.is_empty() && reconnects == 0 {
        println!("  ngircd disconnected nobody; no upstream reconnects");
    } else {
        println!(
            "  ngircd forced disconnects: {}; upstream reconnects: {reconnects}",
            forced.len()
        );
        for l in forced.iter().take(5) {
            println!("    {l}");
        }
    }
    for (who, bnc) in [("alice", &pair.a), ("bob", &pair.b)] {
        let t = troubles(&bnc.log());
        if !t.is_empty() {
            println!("  otrbnc {who}: {} warning line(s):", t.len());
            for l in t.iter().take(5) {
                println!("    {l}");
            }
        }
    }
}

/// One pacing configuration: first contact on a fresh pair, then a repeat contact.
async fn time_to_private(label: &str, pacing: Option<(f64, u32)>) -> (Handshake, Handshake) {
    println!();
    println!("== time to private: ngircd default flood penalties, otrbnc pacing {label}");
    let pair = Pair::start(NgircdOpts::default(), move |c| {
        let c = match pacing {
            None => c.default_pacing(),
            Some((interval, burst)) => c.pacing(interval, burst),
        };
        c.handshake_timeout(600)
    })
    .await;
    let a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let saferate = pair
        .aud_a
        .msgs_to_client()
        .iter()
        .any(|m| m.command == "005" && m.params.iter().any(|p| p.contains("SAFERATE")));
    println!(
        "  ngircd advertises SAFERATE (otrbnc would stop pacing): {}",
        if saferate { "yes" } else { "no" }
    );
    // ngircd's registration penalty passes, otrbnc's token buckets are full.
    tokio::time::sleep(Duration::from_secs(5)).await;

    let first = handshake(&pair, &a, &mut b, "first contact").await;
    first.print();

    a.otr("finish bob").await;
    let ended = b
        .try_expect(Duration::from_secs(180), |m| {
            m.is_otr_control() && m.text().contains("ended the private conversation")
        })
        .await;
    if ended.is_none() {
        println!("  (bob was not told within 180 s that alice ended the conversation)");
    }
    // Rested again before the repeat contact: buckets refilled, penalties gone.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let repeat = handshake(&pair, &a, &mut b, "repeat contact").await;
    repeat.print();
    println!(
        "  DAKE modes logged: alice {:?}, bob {:?}",
        modes(&pair.a.log()),
        modes(&pair.b.log())
    );
    print_troubles(&pair);
    (first, repeat)
}

/// The SMP question the benchmarks ask, and its answer.
const LYON_Q: &str = "What did we eat in Lyon?";
const LYON_A: &str = "quenelles";

/// SMP from `authq` to "You verified bob" on ngircd's default penalties and default pacing.
async fn time_to_verified() -> (f64, usize, usize, usize, usize) {
    println!();
    println!("== time to verified: ngircd default flood penalties, otrbnc default pacing");
    let pair = Pair::start(NgircdOpts::default(), |c| {
        c.default_pacing().handshake_timeout(600)
    })
    .await;
    let a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let first = handshake(&pair, &a, &mut b, "first contact").await;
    first.print();
    // Rested: buckets refilled and ngircd's penalties gone, as for a user who reads the
    // fingerprint notice before typing authq.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let mut a = a;
    let lines = |aud: &Auditor, to: &str| {
        let sent = support::scenario::sent_to(aud, "PRIVMSG", to);
        (sent.len(), sent.iter().map(|(l, _)| l.len()).sum::<usize>())
    };
    let (la0, ba0) = lines(&pair.aud_a, "bob");
    let (lb0, bb0) = lines(&pair.aud_b, "alice");
    let (asked, secs) = authq(&mut a, &mut b, LYON_Q, LYON_A, Duration::from_secs(300)).await;
    let (la1, ba1) = lines(&pair.aud_a, "bob");
    let (lb1, bb1) = lines(&pair.aud_b, "alice");
    let (la, ba, lb, bb) = (la1 - la0, ba1 - ba0, lb1 - lb0, bb1 - bb0);
    println!("  question shown to bob after {asked:.1} s; alice verified bob after {secs:.1} s");
    println!(
        "  SMP on the wire: alice sent {la} lines / {ba} bytes (SMP1, SMP3), bob {lb} lines / {bb} bytes (SMP2, SMP4)"
    );
    print_troubles(&pair);
    (secs, la, ba, lb, bb)
}

/// One batch of messages alice → bob.
#[derive(Debug, Clone)]
struct OneWay {
    label: String,
    sent: usize,
    delivered: usize,
    secs: f64,
    in_order: bool,
    lines: usize,
    bytes: usize,
}

impl OneWay {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.secs
    }
}

/// Alice's client sends `messages` short private messages to bob, with at most `window`
/// sent and not yet shown by bob's client (`None`: all at once); the clock stops when bob's
/// client has shown the last one (or nothing came for 15 s).
async fn one_way(
    pair: &Pair,
    a: &Client,
    b: &mut Client,
    messages: usize,
    window: Option<usize>,
    label: &str,
) -> OneWay {
    let tok = support::token(6);
    let lines: Vec<Vec<u8>> = (0..messages)
        .map(|i| format!("PRIVMSG bob :m{i:05} {tok}\r\n").into_bytes())
        .collect();
    let suffix = format!(" {tok}");
    let before = complete_lines(&pair.aud_a).len();
    let bytes_before = pair.aud_a.c2s_len();
    let window = window.unwrap_or(messages);
    let batch = (window / 4).max(1);
    let mut got: Vec<usize> = Vec::with_capacity(messages);
    let mut sent = 0;
    let t0 = Instant::now();
    let mut last = t0;
    while got.len() < messages {
        while sent < messages && sent + batch.min(messages - sent) <= got.len() + window {
            let k = batch.min(messages - sent);
            a.send_bytes(&lines[sent..sent + k].concat()).await;
            sent += k;
        }
        let m = b
            .try_expect(Duration::from_secs(15), |m| {
                m.is_privmsg_from("alice") && m.text().ends_with(&suffix)
            })
            .await;
        let Some(m) = m else { break };
        last = Instant::now();
        let idx = m
            .text()
            .get(1..6)
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX);
        got.push(idx);
        // Whatever is still missing when everything else arrived was lost: stop waiting
        // after the stall timeout above.
    }
    let secs = last.duration_since(t0).as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    OneWay {
        label: label.to_string(),
        sent,
        delivered: got.len(),
        secs,
        in_order: got.windows(2).all(|w| w[0] < w[1]),
        lines: complete_lines(&pair.aud_a).len() - before,
        bytes: pair.aud_a.c2s_len() - bytes_before,
    }
}

/// Alternating messages: alice → bob, then bob → alice, `turns` times each; every turn is
/// a new DH ratchet step (and some carry an ML-KEM key or ciphertext).
async fn alternating(pair: &Pair, a: &mut Client, b: &mut Client, turns: usize) -> (f64, usize) {
    let tok = support::token(6);
    let before = complete_lines(&pair.aud_a).len() + complete_lines(&pair.aud_b).len();
    let t0 = Instant::now();
    for i in 0..turns {
        let ping = format!("ping {i} {tok}");
        a.privmsg("bob", &ping).await;
        b.expect_text_from("alice", &ping, Duration::from_secs(30))
            .await;
        let pong = format!("pong {i} {tok}");
        b.privmsg("alice", &pong).await;
        a.expect_text_from("bob", &pong, Duration::from_secs(30))
            .await;
    }
    let secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines = complete_lines(&pair.aud_a).len() + complete_lines(&pair.aud_b).len() - before;
    (secs, lines)
}

/// Encrypted messages per second once private.
struct Throughput {
    setup_secs: Option<f64>,
    window: usize,
    windowed: Vec<OneWay>,
    burst: Option<OneWay>,
    turns: usize,
    alternating: Option<(f64, usize)>,
}

/// Sizes of the throughput part.
#[derive(Debug, Clone, Copy)]
struct TputSizes {
    /// Messages per windowed round.
    windowed: usize,
    rounds: usize,
    /// Messages in flight in the windowed rounds.
    window: usize,
    /// Messages sent all at once in the last round.
    burst: usize,
    /// Round trips in the alternating run.
    turns: usize,
}

async fn throughput(sz: TputSizes) -> Throughput {
    let TputSizes {
        windowed: messages,
        rounds,
        window,
        burst,
        turns,
    } = sz;
    println!();
    println!(
        "== encrypted throughput: ngircd MaxPenaltyTime = 0, otrbnc flood_interval_secs = 0, log level info"
    );
    let pair = Pair::start(NgircdOpts::no_penalties(), |c| {
        let mut c: BncConfig = c.pacing(0.0, 5);
        c.log_level = "info".to_string();
        c
    })
    .await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let mut watch = Watch::new(&pair.aud_a, &pair.aud_b);
    let text = format!("hello {}", support::token(8));
    a.privmsg("bob", &text).await;
    let setup = wait_text(&mut b, "alice", &text, Duration::from_secs(120), &mut watch)
        .await
        .map(|d| d.as_secs_f64());
    println!(
        "  time to private without penalties or pacing (first contact): {}",
        setup.map_or("NOT private in 120 s".to_string(), |s| format!("{s:.2} s"))
    );
    let mut out = Throughput {
        setup_secs: setup,
        window,
        windowed: Vec::new(),
        burst: None,
        turns,
        alternating: None,
    };
    if setup.is_none() {
        print_troubles(&pair);
        return out;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let show = |r: &OneWay| {
        println!(
            "  {}: {} of {} delivered{} in {:.3} s = {:.0} msg/s; alice's upstream carried {} lines, {} bytes",
            r.label,
            r.delivered,
            r.sent,
            if r.in_order {
                ", in order"
            } else {
                ", NOT in order"
            },
            r.secs,
            r.rate(),
            r.lines,
            r.bytes
        );
    };
    for round in 0..rounds {
        let label = format!("one way, window {window}, round {}", round + 1);
        let r = one_way(&pair, &a, &mut b, messages, Some(window), &label).await;
        show(&r);
        out.windowed.push(r);
    }
    let (secs, lines) = alternating(&pair, &mut a, &mut b, turns).await;
    println!(
        "  alternating: {turns} × (alice → bob, bob → alice) in {secs:.3} s = {:.0} msg/s, {:.2} ms per round trip; {lines} lines on the wire for {} messages",
        2.0 * turns as f64 / secs,
        secs * 1000.0 / turns as f64,
        2 * turns
    );
    out.alternating = Some((secs, lines));
    let r = one_way(&pair, &a, &mut b, burst, None, "one way, all at once").await;
    show(&r);
    out.burst = Some(r);
    for (who, bnc) in [("alice", &pair.a), ("bob", &pair.b)] {
        if let Some(kib) = bnc.rss_kib() {
            println!(
                "  otrbnc {who} VmRSS with one private session: {:.1} MB",
                kib as f64 / 1024.0
            );
        }
    }
    print_troubles(&pair);
    out
}

/// The I2P figures (see the module comment).
async fn i2p_private_and_verified(i2p: &I2pTestnet) {
    println!();
    println!(
        "== over I2P (i2pd on loopback, zero-hop tunnels): ngircd default flood penalties, otrbnc default pacing"
    );
    let ngircd = support::ngircd::Ngircd::start(NgircdOpts::default()).await;
    let aud = Auditor::start_on(i2p.target, ngircd.addr(), "behind the I2P tunnel").await;
    let started = Instant::now();
    let a = support::otrbnc::OtrBnc::start(i2p.bnc("alice", "bob").default_pacing()).await;
    let b = support::otrbnc::OtrBnc::start(i2p.bnc("bob", "alice").default_pacing()).await;
    while aud.registrations() < 2 {
        if started.elapsed() > Duration::from_secs(300) {
            println!("  NOT registered within 300 s");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let registered = started.elapsed().as_secs_f64();
    let mut clients = Vec::new();
    for bnc in [&a, &b] {
        let login = support::client::Login::new(Some(&bnc.pass()), &bnc.config().nick);
        let mut c = Client::connect_with(bnc.addr(), login).await;
        let up = support::scenario::upstream_status(&mut c).await;
        let made = c
            .otr_texts()
            .into_iter()
            .find(|t| t.starts_with("I2P session ready after"))
            .unwrap_or_else(|| "(no session notice)".to_string());
        println!("  {}: {made} | {up}", bnc.config().label);
        clients.push(c);
    }
    println!("  from starting both otrbnc to both registered upstream: {registered:.2} s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mut cb = clients.pop().unwrap();
    let mut ca = clients.pop().unwrap();
    let text = format!("first contact over i2p {}", support::token(10));
    let t0 = Instant::now();
    ca.privmsg("bob", &text).await;
    let got = cb
        .try_expect(Duration::from_secs(600), |m| {
            m.is_privmsg_from("alice") && m.text() == text
        })
        .await;
    if got.is_none() {
        println!("  NOT private within 600 s");
        return;
    }
    println!(
        "  time to private (first contact, first message shown to bob): {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    // Rested, as in `verify`.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (asked, secs) = authq(&mut ca, &mut cb, LYON_Q, LYON_A, Duration::from_secs(600)).await;
    println!(
        "  time to verified (authq to \"You verified bob\"): {secs:.2} s (question shown after {asked:.1} s)"
    );
    println!(
        "  RSS: alice {} KiB, bob {} KiB",
        a.rss_kib().unwrap_or(0),
        b.rss_kib().unwrap_or(0)
    );
    drop(ngircd);
}

/// One Tor path measured (see the module comment).
async fn tor_private(tor: &TorTestnet, onion: bool) {
    let via = if onion {
        "the onion service"
    } else {
        "the exit"
    };
    println!();
    println!("== over Tor, through {via}: ngircd default flood penalties, otrbnc default pacing");
    let ngircd = support::ngircd::Ngircd::start(NgircdOpts::default()).await;
    let (auds, ca, cb) = if onion {
        let aud = Auditor::start_on(tor.onion_target, ngircd.addr(), "behind the onion").await;
        let (port, host) = tor.onion_upstream();
        let mut ca = tor.bnc("alice", "bob", port).default_pacing();
        ca.upstream_host = Some(host.clone());
        let mut cb = tor.bnc("bob", "alice", port).default_pacing();
        cb.upstream_host = Some(host);
        (vec![aud], ca, cb)
    } else {
        let aud_a = Auditor::start_labeled(ngircd.addr(), "alice").await;
        let aud_b = Auditor::start_labeled(ngircd.addr(), "bob").await;
        let ca = tor.bnc("alice", "bob", aud_a.addr()).default_pacing();
        let cb = tor.bnc("bob", "alice", aud_b.addr()).default_pacing();
        (vec![aud_a, aud_b], ca, cb)
    };
    let started = Instant::now();
    let a = support::otrbnc::OtrBnc::start(ca).await;
    let b = support::otrbnc::OtrBnc::start(cb).await;
    while auds.iter().map(Auditor::registrations).sum::<usize>() < 2 {
        if started.elapsed() > Duration::from_secs(300) {
            println!("  NOT registered within 300 s");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let registered = started.elapsed().as_secs_f64();
    let mut clients = Vec::new();
    for bnc in [&a, &b] {
        let login = support::client::Login::new(Some(&bnc.pass()), &bnc.config().nick);
        let mut c = Client::connect_with(bnc.addr(), login).await;
        let up = support::scenario::upstream_status(&mut c).await;
        println!("  {}: {up}", bnc.config().label);
        clients.push(c);
    }
    println!("  from starting both otrbnc to both registered upstream: {registered:.2} s");
    // ngircd's registration penalty passes, otrbnc's token buckets are full.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (ca, rest) = clients.split_at_mut(1);
    let text = format!("first contact over tor {}", support::token(10));
    let t0 = Instant::now();
    ca[0].privmsg("bob", &text).await;
    let got = rest[0]
        .try_expect(Duration::from_secs(600), |m| {
            m.is_privmsg_from("alice") && m.text() == text
        })
        .await;
    match got {
        Some(_) => println!(
            "  time to private (first contact, first message shown to bob): {:.2} s",
            t0.elapsed().as_secs_f64()
        ),
        None => println!("  NOT private within 600 s"),
    }
    let lines: usize = auds
        .iter()
        .map(|aud| {
            aud.lines_to_server()
                .iter()
                .filter(|l| support::find(l, b" :?OTR").is_some())
                .count()
        })
        .sum();
    println!("  OTR lines sent upstream by both: {lines}");
    println!(
        "  RSS with Tor up: alice {} KiB, bob {} KiB",
        a.rss_kib().unwrap_or(0),
        b.rss_kib().unwrap_or(0)
    );
    drop(ngircd);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let wants = |part: &str| filters.is_empty() || filters.iter().any(|f| part.contains(f));
    if !support::e2e_available("otr_e2e bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "otr_e2e: two otrbnc on private IRC servers (ngircd: {}; machine: {} core(s)){}",
            support::ngircd::version(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            if bench {
                ""
            } else {
                " — test mode: tiny throughput and penalties only; `cargo bench --bench otr_e2e` for the figures"
            }
        );
        let mut private = Vec::new();
        if bench && wants("private") {
            // otrbnc's built-in defaults (what a config without the keys gets: automatic,
            // from the server), then overall buckets configured as overrides.
            for (label, pacing) in [
                ("default (automatic)".to_string(), None),
                ("2.0 s, burst 5".to_string(), Some((2.0, 5))),
                ("1.0 s, burst 5".to_string(), Some((1.0, 5))),
                ("0.5 s, burst 5".to_string(), Some((0.5, 5))),
                ("off (0 s)".to_string(), Some((0.0, 5))),
            ] {
                let (f, r) = time_to_private(&label, pacing).await;
                private.push((label, f, r));
            }
        }
        if bench
            && wants("tor")
            && let Some(tor) = TorTestnet::get("otr_e2e tor").await
        {
            tor_private(&tor, false).await;
            tor_private(&tor, true).await;
        }
        if bench
            && wants("i2p")
            && let Some(i2p) = I2pTestnet::get("otr_e2e i2p").await
        {
            i2p_private_and_verified(&i2p).await;
        }
        if bench && wants("verify") {
            let (secs, la, ba, lb, bb) = time_to_verified().await;
            println!(
                "  summary: time to verified {secs:.1} s; SMP {} lines / {} bytes in all",
                la + lb,
                ba + bb
            );
        }
        let mut server_figs = Vec::new();
        if bench {
            for kind in support::server::ServerKind::ALL {
                if wants(&format!("servers {}", kind.name().to_ascii_lowercase()))
                    && kind.available("otr_e2e servers")
                {
                    server_figs.push(servers::on_server(kind, 40).await);
                }
            }
        }
        if wants("penalties") {
            // The conversation of the e2e test `flood::conversation_under_default_flood_penalties`
            // (first contact, then 10 messages of ~1,500 characters each way at once, every
            // delivery and wire check) at otrbnc's default pacing: about 4 minutes. Test mode
            // runs one message each way, paced at 0.1 s.
            let (label, f) = if bench {
                let pace = |c: BncConfig| c.default_pacing().handshake_timeout(600);
                ("default pacing", penalties::conversation(pace, 10, Duration::from_secs(900)).await)
            } else {
                let pace = |c: BncConfig| c.pacing(0.1, 9).handshake_timeout(120);
                ("paced at 0.1 s", penalties::conversation(pace, 1, Duration::from_secs(240)).await)
            };
            println!(
                "  penalties ({label}): private after {:.1} s, everything delivered after {:.1} s; \
                 {} lines up from alice, {} from bob; nobody disconnected",
                f.private_after.as_secs_f64(),
                f.all_after.as_secs_f64(),
                f.lines_up.0,
                f.lines_up.1
            );
        }
        let tput = if wants("throughput") {
            let sz = if bench {
                TputSizes {
                    windowed: 20_000,
                    rounds: 3,
                    window: 200,
                    burst: 2_000,
                    turns: 200,
                }
            } else {
                TputSizes {
                    windowed: 50,
                    rounds: 1,
                    window: 20,
                    burst: 50,
                    turns: 5,
                }
            };
            Some(throughput(sz).await)
        } else {
            None
        };
        summary(&private, tput.as_ref());
        servers::summary(&server_figs);
    });
}

fn summary(private: &[(String, Handshake, Handshake)], tput: Option<&Throughput>) {
    println!();
    println!("== summary");
    if !private.is_empty() {
        println!(
            "{:<48} {:>14} {:>14} {:>16} {:>16}",
            "time to private (ngircd default penalties)",
            "first contact",
            "repeat",
            "first: lines/B",
            "repeat: lines/B"
        );
        let secs = |h: &Handshake| h.secs.map_or("FAILED".to_string(), |s| format!("{s:.1} s"));
        for (label, f, r) in private {
            let (fl, fb) = f.dake_totals();
            let (rl, rb) = r.dake_totals();
            println!(
                "{:<48} {:>14} {:>14} {:>16} {:>16}",
                format!("otrbnc pacing {label}"),
                secs(f),
                secs(r),
                format!("{fl} / {fb}"),
                format!("{rl} / {rb}")
            );
        }
        println!("{:<48} {:>14} {:>14}", "target", "<= 20 s", "<= 6 s");
    }
    if let Some(t) = tput {
        let mut rates: Vec<f64> = t.windowed.iter().map(OneWay::rate).collect();
        rates.sort_by(f64::total_cmp);
        let all = |v: &[OneWay]| v.iter().all(|r| r.delivered == r.sent && r.in_order);
        println!("encrypted, ngircd MaxPenaltyTime = 0, otrbnc pacing off:");
        if let Some(med) = rates.get(rates.len() / 2) {
            println!(
                "  one way alice→bob, at most {} in flight: median {med:.0} msg/s over {} round(s) of {} {:?}; all delivered in order: {}",
                t.window,
                rates.len(),
                t.windowed.first().map_or(0, |r| r.sent),
                rates.iter().map(|r| r.round() as u64).collect::<Vec<_>>(),
                if all(&t.windowed) { "yes" } else { "NO" }
            );
        }
        if let Some((secs, lines)) = t.alternating {
            println!(
                "  alternating alice↔bob: {:.0} msg/s ({:.2} ms per round trip, {lines} lines for {} messages)",
                2.0 * t.turns as f64 / secs,
                secs * 1000.0 / t.turns as f64,
                2 * t.turns
            );
        }
        if let Some(r) = &t.burst {
            println!(
                "  one way, all {} at once: {} delivered{} ({:.0} msg/s of those delivered)",
                r.sent,
                r.delivered,
                if r.delivered == r.sent {
                    ""
                } else {
                    " — messages LOST"
                },
                r.rate()
            );
        }
        if let Some(s) = t.setup_secs {
            println!("  time to private (first contact) without penalties or pacing: {s:.2} s");
        }
    }
}
