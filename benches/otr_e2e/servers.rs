//! The `servers` part: on ngircd, ircd-hybrid and InspIRCd (each from Debian with its packaged
//! default flood settings) and otrbnc's default settings, time to private for a first contact
//! and a repeat contact (`*otr finish`, then a new message: the cached profiles are used),
//! conversation latency (typing to shown) over alternating chat-length messages, and the first
//! contact's wire lines and bytes, with every flood notice, disconnect and dropped line.
//!
//! The chat runs twice. **Typed**: each message is sent [`THINK`] after the previous one was
//! shown, a reply faster than anyone types a 60-character line; this is the conversation the
//! issue's latency target is about. **Flat out**: each message is sent the moment the previous
//! one was shown, so each side offers about one line a second, the sustained rate ircd-hybrid
//! and InspIRCd allow a client: it measures the servers' refill timers (a line that meets a
//! spent budget waits for the next refill, up to 2 s on hybrid) as much as otrbnc.

use std::time::{Duration, Instant};

use crate::support::client::Client;
use crate::support::server::ServerKind;
use crate::support::server_scenario::{ServerPair, is_flood_notice, received_lines, sent_lines};
use crate::{Handshake, handshake_on};

/// One server's figures.
pub struct ServerFigures {
    /// Which server, with its version.
    pub label: String,
    /// The first contact.
    pub first: Handshake,
    /// The repeat contact.
    pub repeat: Handshake,
    /// Typing-to-shown latencies of the typed chat ([`THINK`] between messages), seconds,
    /// in order.
    pub latencies: Vec<f64>,
    /// The same, flat out (no pause between messages).
    pub flat_out: Vec<f64>,
    /// Flood notices, disconnects and dropped lines seen (empty: none).
    pub troubles: Vec<String>,
}

/// The `q` quantile (nearest rank) of `v`.
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len().max(1));
    s.get(rank - 1).copied()
}

/// The pause between a message being shown and the reply being sent, in the typed chat.
pub const THINK: Duration = Duration::from_secs(1);

/// A chat-length message (about 60 characters), distinct for each turn.
fn chat_line(who: &str, i: usize) -> String {
    format!(
        "{who} says {i}: shall we meet at eight? {}",
        crate::support::token(12)
    )
}

/// `turns` messages alternating alice → bob, bob → alice, each sent `think` after the
/// previous one was shown: the latency of each, from the client's send to the peer's client
/// showing it (`None` for one not shown within `limit`).
async fn alternating_latency(
    a: &mut Client,
    b: &mut Client,
    turns: usize,
    limit: Duration,
    think: Duration,
) -> Vec<Option<f64>> {
    let mut out = Vec::with_capacity(turns);
    for i in 0..turns {
        tokio::time::sleep(think).await;
        let (from, to, from_nick) = if i % 2 == 0 {
            (&*a, &mut *b, "alice")
        } else {
            (&*b, &mut *a, "bob")
        };
        let text = chat_line(from_nick, i);
        let t = Instant::now();
        from.privmsg(to_nick(from_nick), &text).await;
        let shown = to
            .try_expect(limit, |m| m.is_privmsg_from(from_nick) && m.text() == text)
            .await;
        out.push(shown.map(|_| t.elapsed().as_secs_f64()));
    }
    out
}

fn to_nick(from: &str) -> &'static str {
    if from == "alice" { "bob" } else { "alice" }
}

/// Everything that says the server limited or lost something.
fn troubles(pair: &mut ServerPair) -> Vec<String> {
    let mut out = Vec::new();
    for (aud, who) in [(&pair.aud_a, "alice"), (&pair.aud_b, "bob")] {
        if aud.connection_count() != 1 || aud.open_count() != 1 {
            out.push(format!(
                "{who}'s upstream: {} connection(s), {} open",
                aud.connection_count(),
                aud.open_count()
            ));
        }
        for m in aud.msgs_to_client().iter().filter(|m| is_flood_notice(m)) {
            out.push(format!("to {who}: {}", m.line()));
        }
    }
    for (s, r, from, to) in [
        (&pair.aud_a, &pair.aud_b, "alice", "bob"),
        (&pair.aud_b, &pair.aud_a, "bob", "alice"),
    ] {
        let (sent, got) = (sent_lines(s, to).len(), received_lines(r, from, to).len());
        if sent != got {
            out.push(format!("{from} → {to}: {sent} lines sent, {got} delivered"));
        }
    }
    if !pair.server.is_alive() {
        out.push("the server died".to_string());
    }
    out.extend(pair.server.logged_forced_disconnects());
    out
}

/// The figures on one server; `turns` alternating messages.
pub async fn on_server(kind: ServerKind, turns: usize) -> ServerFigures {
    let label = format!("{} ({})", kind.name(), kind.version());
    println!();
    println!("== {label}: packaged default flood settings, otrbnc default settings");
    let mut pair = ServerPair::start(kind, |c| c.default_pacing().handshake_timeout(600)).await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    // Registration penalties pass, otrbnc's token buckets are full (as in `private`).
    tokio::time::sleep(Duration::from_secs(5)).await;
    let first = handshake_on(&pair.aud_a, &pair.aud_b, &a, &mut b, "first contact").await;
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
    tokio::time::sleep(Duration::from_secs(15)).await;
    let repeat = handshake_on(&pair.aud_a, &pair.aud_b, &a, &mut b, "repeat contact").await;
    repeat.print();

    let up = |p: &ServerPair| {
        (
            sent_lines(&p.aud_a, "bob").len() + sent_lines(&p.aud_b, "alice").len(),
            p.aud_a.c2s_len() + p.aud_b.c2s_len(),
        )
    };
    let mut chats = Vec::new();
    for (what, think) in [("typed", THINK), ("flat out", Duration::ZERO)] {
        if repeat.secs.is_none() {
            chats.push(Vec::new());
            continue;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (lines0, bytes0) = up(&pair);
        let got = alternating_latency(&mut a, &mut b, turns, Duration::from_secs(120), think).await;
        let (lines1, bytes1) = up(&pair);
        println!(
            "  {turns} alternating chat messages, {what} ({:.1} s from shown to the reply): \
             {} lines, {} bytes up from both bouncers; latencies (s, in order): {}",
            think.as_secs_f64(),
            lines1 - lines0,
            bytes1 - bytes0,
            got.iter()
                .map(|l| l.map_or("lost".to_string(), |s| format!("{s:.1}")))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let lost = got.iter().filter(|l| l.is_none()).count();
        if lost > 0 {
            println!("  {lost} of {turns} chat messages NOT shown within 120 s");
        }
        let got: Vec<f64> = got.into_iter().flatten().collect();
        if let (Some(p50), Some(p95), Some(max)) = (
            quantile(&got, 0.5),
            quantile(&got, 0.95),
            quantile(&got, 1.0),
        ) {
            println!(
                "  latency over {} alternating chat messages, {what}: p50 {p50:.2} s, \
                 p95 {p95:.2} s, max {max:.2} s",
                got.len()
            );
        }
        chats.push(got);
    }
    let flat_out = chats.pop().unwrap_or_default();
    let latencies = chats.pop().unwrap_or_default();
    // Let what is still in flight arrive before counting lines.
    pair.aud_a
        .wait_quiet(Duration::from_secs(3), Duration::from_secs(60))
        .await;
    let troubles = troubles(&mut pair);
    if troubles.is_empty() {
        println!("  no flood notice, no disconnect, no dropped line");
    } else {
        for t in troubles.iter().take(10) {
            println!("  TROUBLE: {t}");
        }
    }
    ServerFigures {
        label,
        first,
        repeat,
        latencies,
        flat_out,
        troubles,
    }
}

/// The part's closing table.
pub fn summary(figs: &[ServerFigures]) {
    if figs.is_empty() {
        return;
    }
    println!(
        "{:<46} {:>10} {:>10} {:>16} {:>9} {:>9} {:>12} {:>9}",
        "server (packaged defaults; otrbnc defaults)",
        "first",
        "repeat",
        "first: lines/B",
        "chat p50",
        "chat p95",
        "flat-out p95",
        "troubles"
    );
    let secs = |h: &Handshake| h.secs.map_or("FAILED".to_string(), |s| format!("{s:.1} s"));
    for f in figs {
        let (l, b) = f.first.dake_totals();
        let q = |v: &[f64], x| quantile(v, x).map_or("n/a".to_string(), |s| format!("{s:.2} s"));
        println!(
            "{:<46} {:>10} {:>10} {:>16} {:>9} {:>9} {:>12} {:>9}",
            f.label,
            secs(&f.first),
            secs(&f.repeat),
            format!("{l} / {b}"),
            q(&f.latencies, 0.5),
            q(&f.latencies, 0.95),
            q(&f.flat_out, 0.95),
            f.troubles.len()
        );
    }
    println!(
        "{:<46} {:>10} {:>10} {:>16} {:>9} {:>9}",
        "target (issue 19)", "<= 15/20 s", "<= 3 s", "<= 44 / 11,000", "", "<= 2 s"
    );
}
