//! (f) Downgrade pinning: once bob has used OTRv4+ with alice, a server that strips OTRv4+
//! from bob's offers, or answers alice as an OTRv3 client under bob's nick, gets no OTRv3
//! session: alice is told, her queued message stays queued, and nothing leaves in clear.

use crate::require_e2e;
use crate::support::scenario::{deliver, status_of};
use crate::support::{secs, token};

use super::{FIRST, Hostile2, NEXT};

/// Real OTRv3 lines a libotr client would send first: its D-H Commit (to receiver 0).
fn v3_commit_lines() -> Vec<String> {
    let mut contact = otr3::contact::Contact::new();
    contact.start(&mut rand::rng(), 3, 0);
    contact.poll_lines(0x0bad_cafe, 400)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_cannot_push_a_nick_that_used_otrv4_down_to_otrv3() {
    require_e2e!();
    let net = Hostile2::start(|c| c.handshake_timeout(30)).await;
    let (mut a, mut b) = net.attach().await;
    // An OTRv4+ session first: alice pins bob to OTRv4+.
    deliver(&a, &mut b, &format!("hello {}", token(8)), FIRST).await;
    let (status, _) = status_of(&mut a, "bob", NEXT).await;
    assert!(status.contains("(OTRv4+)"), "{status}");
    a.otr("finish bob").await;
    a.expect_otr(NEXT, "ended", |t| {
        t.starts_with("Private conversation with bob ended")
    })
    .await;

    // What alice sends from here on is checked below (her first query offered OTRv3: bob
    // was not pinned yet).
    let pinned_from = net.evil.sent_by_otrbnc().len();

    // 1. bob starts again with a query (he forgot alice's profile, so he asks instead of
    //    starting the handshake); the server strips OTRv4+ from it (?OTRvP3? -> ?OTRv3?).
    b.otr("forget alice").await;
    b.expect_otr(NEXT, "forgotten", |t| t.starts_with("Forgot the keys"))
        .await;
    net.evil.strip_v4_from("bob");
    b.otr("start alice").await;
    a.expect_otr(NEXT, "the downgrade refused", |t| {
        t.starts_with("Refused an OTRv3 session with bob") && t.contains("stripping OTRv4+")
    })
    .await;

    // 2. The server silences bob and answers alice's next message as an OTRv3 client would.
    net.evil.silence(Some("bob"));
    let secret = format!("must stay queued {}", token(12));
    a.privmsg("bob", &secret).await;
    tokio::time::sleep(secs(1)).await;
    for line in v3_commit_lines() {
        net.evil
            .inject(&format!(":bob!bob@hostile.invalid PRIVMSG alice :{line}"));
    }
    net.evil
        .inject(":bob!bob@hostile.invalid PRIVMSG alice :?OTRv23? bob wants OTR");
    tokio::time::sleep(secs(2)).await;
    let (status, _) = status_of(&mut a, "bob", NEXT).await;
    assert!(!status.contains("OTRv3"), "no OTRv3 session: {status}");
    assert!(status.contains("1 message(s) queued"), "{status}");
    // alice never answered in OTRv3 (no D-H Key, Reveal Signature or Signature) and never
    // offered it again to bob, and nothing went out in clear.
    let sent = net.evil.sent_by_otrbnc();
    let sent = String::from_utf8_lossy(&sent[pinned_from..]).into_owned();
    for v3 in [
        "?OTR:AAMK",
        "?OTR:AAMR",
        "?OTR:AAMS",
        "?OTR:AAMC",
        "?OTRvP3?",
    ] {
        assert!(!sent.contains(v3), "alice sent {v3}");
    }
    net.evil.assert_never_leaked(&[&secret]);

    // 3. The server behaves again: OTRv4+ carries the queued message.
    net.evil.behave();
    a.otr("start bob").await;
    b.expect_text_from("alice", &secret, FIRST).await;
    // The message goes right behind alice's Auth-I; she is private once bob confirms.
    a.expect_otr(NEXT, "private again", |t| {
        t.starts_with("Private conversation with bob started: private (OTRv4+)")
    })
    .await;
    let (status, _) = status_of(&mut a, "bob", NEXT).await;
    assert!(status.contains("(OTRv4+)"), "{status}");
}
