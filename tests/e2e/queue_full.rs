//! A client that pastes far more than the send queue holds (5,000 lines) is told once that
//! messages were NOT sent, then once with the count of the rest: not a notice per refused
//! line, which flooded the client until otrbnc dropped it as too slow.

use crate::require_e2e;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::secs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_a_full_send_queue_are_summed_up_and_the_client_stays() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    // One line every 2 s: the queue fills at once.
    let cfg = BncConfig::new("alice", ng.addr()).pacing(2.0, 1);
    let (_aud, bnc) = scenario::bouncer(&ng, cfg).await;
    let mut c = scenario::attach(&bnc).await;
    let burst: String = (0..7000)
        .map(|i| format!("PRIVMSG #paste :line {i}\r\n"))
        .collect();
    c.send_bytes(burst.as_bytes()).await;
    let first = c
        .expect_otr(secs(20), "the first refusal", |t| t.contains("NOT sent"))
        .await;
    assert!(
        first.text().contains("send queue to the server is full"),
        "{first}"
    );
    let summary = c
        .expect_otr(secs(15), "the summary", |t| {
            t.contains("more message(s) were NOT sent")
        })
        .await;
    let n: u64 = summary
        .text()
        .split(' ')
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("{summary}"));
    // 7,000 lines, up to 5,000 queued (a few sent meanwhile make room for a few more), the
    // first refusal told alone: about 2,000 refused in all.
    assert!((1900..=2000).contains(&n), "{n} summed up");
    let notices = c.log_matching(|m| m.is_from("*otr") && m.text().contains("NOT sent"));
    assert_eq!(notices.len(), 2, "{notices:?}");
    // Still attached.
    c.send_raw("PING :still-here").await;
    c.expect(secs(10), |m| {
        m.command == "PONG" && m.text() == "still-here"
    })
    .await;
}
