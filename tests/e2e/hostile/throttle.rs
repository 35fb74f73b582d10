//! The server drops a line of a first-contact handshake, as ircd-hybrid and solanum drop the
//! messages to a flooded target, and says so with their notice (issue 19, acceptance
//! criterion 2): otrbnc tells the dropped line from the PING acknowledgements, sends it again
//! after the target's rest, and the handshake completes; the notice, fully handled, is not
//! shown.

use crate::require_e2e;
use crate::support::scenario::assert_only_otr_to;
use crate::support::{secs, token};

use super::{FIRST, Hostile2};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_handshake_fragment_is_sent_again_and_the_handshake_completes() {
    require_e2e!();
    let net = Hostile2::start(|c| c.handshake_timeout(60)).await;
    let (a, mut b) = net.attach().await;
    // alice's OTR lines to bob: the query, then her Auth-R in fragments; the fifth is one.
    net.evil.throttle_nth_otr_to("bob", 5);
    let secret = format!("through a throttle {}", token(12));
    a.privmsg("bob", &secret).await;
    // The rest after a throttle is 10 s; the handshake then completes.
    b.expect_text_from("alice", &secret, FIRST + secs(15)).await;
    let swallowed = net
        .evil
        .throttled_text()
        .expect("the relay swallowed a line");
    assert!(
        swallowed.starts_with("?OTR|"),
        "not a fragment: {swallowed}"
    );
    // Sent twice by alice's otrbnc: once swallowed, once delivered (after the rest).
    let sent = String::from_utf8_lossy(&net.evil.sent_by_otrbnc()).into_owned();
    assert_eq!(
        sent.matches(&format!("PRIVMSG bob :{swallowed}\r\n"))
            .count(),
        2,
        "the dropped fragment was not sent again exactly once"
    );
    let delivered = net.aud_a.client_to_server();
    assert_eq!(
        String::from_utf8_lossy(&delivered)
            .matches(&swallowed)
            .count(),
        1
    );
    // Handled in full: alice's client never saw the notice, nor our PONGs.
    a.assert_never_received("throttled due to flooding");
    a.assert_never_received("otrbnc-");
    net.evil.assert_never_leaked(&[&secret]);
    assert_only_otr_to(&net.aud_a, "bob");
}
