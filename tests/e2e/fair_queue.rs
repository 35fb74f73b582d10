//! The fair send queue against ngircd: a channel line typed while a first-contact OTR
//! handshake message (Auth-R, 24 fragments at this line budget) waits in alice's send queue
//! reaches the channel with the next token, not after the handshake.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::{Client, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::{scenario, secs, token};

/// Alice's pacing: one line per second after a burst of 4 (the default is 2 s after 9; a
/// shorter interval keeps the test short, the scheduling is the same).
const INTERVAL: Duration = Duration::from_secs(1);
const BURST: u32 = 4;
/// Loopback, two processes, a loaded 2-core CI machine.
const SLACK: Duration = Duration::from_millis(500);

/// Fragments the handshake message has at least (Auth-R is 24 at this budget; nothing else
/// alice sends bob before it is longer than one line).
const MIN_FRAGMENTS: u32 = 20;

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

/// What alice sent upstream, in order: for each line, `Some((k, n))` when it is a fragment
/// to bob of the first message of `MIN_FRAGMENTS` or more fragments (the handshake; the
/// attestation that follows the handshake is another message), `None` otherwise.
fn handshake_marks(aud: &Auditor) -> Vec<(Msg, Option<(u32, u32)>)> {
    let mut handshake_id: Option<String> = None;
    aud.msgs_to_server()
        .into_iter()
        .map(|m| {
            let frag = (m.command == "PRIVMSG" && m.target().eq_ignore_ascii_case("bob"))
                .then(|| fragment_index(m.text()))
                .flatten()
                .filter(|(_, _, n)| *n >= MIN_FRAGMENTS)
                .filter(|(id, _, _)| handshake_id.get_or_insert_with(|| id.clone()) == id)
                .map(|(_, k, n)| (k, n));
            (m, frag)
        })
        .collect()
}

fn handshake_sent(aud: &Auditor) -> Vec<(u32, u32)> {
    handshake_marks(aud)
        .into_iter()
        .filter_map(|x| x.1)
        .collect()
}

/// Acceptance criterion 4 of issue 17.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_line_overtakes_a_queued_handshake() {
    require_e2e!();
    // No ngircd penalties: otrbnc's pacing is the only limit on alice's lines.
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud_a, bnc_a) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr())
            .otr_nicks(&["bob"])
            .pacing(INTERVAL.as_secs_f64(), BURST),
    )
    .await;
    // Bob unpaced, so his Identity message (16 lines) reaches alice at once.
    let (_aud_b, bnc_b) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&bnc_a).await;
    let _b = scenario::attach(&bnc_b).await;
    let mut watcher = Client::connect(ng.addr(), None, "watcher", "watcher", &[]).await;
    watcher.join("#fair").await;
    a.join("#fair").await;

    // First contact: the query goes out, bob's bouncer answers with its Identity, and alice's
    // bouncer queues Auth-R; its first fragments leave with the burst.
    a.privmsg("bob", &format!("first contact {}", token(8)))
        .await;
    aud_a
        .wait_for(secs(30), "the first fragment of alice's Auth-R", |aud| {
            !handshake_sent(aud).is_empty()
        })
        .await;
    let text = format!("typed during the handshake {}", token(12));
    let typed = Instant::now();
    a.privmsg("#fair", &text).await;
    watcher.expect_text_from("alice", &text, secs(10)).await;
    let waited = typed.elapsed();

    // Where the channel line went in alice's upstream, against the handshake's fragments.
    let marks = handshake_marks(&aud_a);
    let at = marks
        .iter()
        .position(|(m, _)| m.command == "PRIVMSG" && m.target() == "#fair" && m.text() == text)
        .expect("the channel line in alice's upstream");
    let before: Vec<(u32, u32)> = marks[..at].iter().filter_map(|x| x.1).collect();
    let total = before.first().map(|f| f.1).expect("handshake fragments");
    println!(
        "channel line reached the channel {waited:?} after it was typed; \
         {} of the handshake's {total} fragments had gone before it",
        before.len()
    );
    assert!(
        total >= MIN_FRAGMENTS,
        "the handshake message has {total} fragments"
    );
    assert!(
        waited <= INTERVAL + SLACK,
        "the channel line took {waited:?} (pacing interval {INTERVAL:?})"
    );
    assert!(
        (before.len() as u32) < total,
        "the channel line went after the whole handshake"
    );
    // The handshake goes on after it, its fragments in order.
    aud_a
        .wait_for(
            INTERVAL * 3 + SLACK,
            "a handshake fragment after the channel line",
            |aud| handshake_sent(aud).len() > before.len(),
        )
        .await;
    let sent = handshake_sent(&aud_a);
    let ks: Vec<u32> = sent.iter().map(|f| f.0).collect();
    let want: Vec<u32> = (1..=ks.len() as u32).collect();
    assert_eq!(ks, want, "the handshake's fragments out of order");
}
