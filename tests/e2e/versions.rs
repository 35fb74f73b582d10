//! Two otrbnc still speak OTRv4+ to each other now that OTRv3 is there: both with OTRv3 on
//! (the default) and when one has it off. The version is read off the wire: every OTR
//! message either bouncer sent is an OTRv4+ one (`?OTR:AAQ…`, protocol version 4, or an
//! OTRv4 fragment of one), never OTRv3 (`?OTR:AAM…`, `?OTR|sender|receiver,…`).

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::ngircd::NgircdOpts;
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{Pair, deliver, status_of};
use crate::support::{secs, token};

const FIRST: std::time::Duration = secs(60);
const NEXT: std::time::Duration = secs(20);

/// The protocol of every OTR message an auditor saw going out: queries (with what they
/// offered), and "v4"/"v3" for binary messages and fragments.
fn otr_versions_sent(aud: &Auditor) -> (Vec<String>, usize, usize) {
    let (mut queries, mut v4, mut v3) = (Vec::new(), 0, 0);
    for m in aud.msgs_to_server() {
        if m.command != "PRIVMSG" {
            continue;
        }
        let t = m.text();
        if let Some(rest) = t.strip_prefix("?OTR|") {
            let pipes = rest
                .split(',')
                .next()
                .unwrap_or_default()
                .matches('|')
                .count();
            // OTRv4 fragments carry an identifier and two tags; OTRv3 ones only the tags.
            match pipes {
                2 => v4 += 1,
                1 => v3 += 1,
                _ => panic!("odd fragment {t:?}"),
            }
            assert!(
                !t.contains(",?OTR:AAM"),
                "an OTRv3 message in a fragment: {t:?}"
            );
        } else if t.starts_with("?OTR:AAQ") {
            v4 += 1;
        } else if t.starts_with("?OTR:AAM") || t.starts_with("?OTR:AAI") {
            v3 += 1;
        } else if t.starts_with("?OTRv") {
            queries.push(t.split('?').nth(1).unwrap_or_default().to_string());
        }
    }
    (queries, v4, v3)
}

async fn two_bouncers_speak_otrv4(bob_has_v3: bool) {
    let pair = Pair::start(NgircdOpts::no_penalties(), |c: BncConfig| {
        if c.nick == "bob" && !bob_has_v3 {
            c.otr_toml("versions = [\"v4+\"]")
        } else {
            c
        }
    })
    .await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    deliver(&a, &mut b, &format!("first {}", token(8)), FIRST).await;
    deliver(&b, &mut a, &format!("reply {}", token(8)), NEXT).await;
    for (c, peer) in [(&mut a, "bob"), (&mut b, "alice")] {
        let (status, _) = status_of(c, peer, NEXT).await;
        assert!(status.contains("(OTRv4+)"), "{status}");
    }
    let (qa, v4a, v3a) = otr_versions_sent(&pair.aud_a);
    let (_, v4b, v3b) = otr_versions_sent(&pair.aud_b);
    // alice's query offered OTRv3 too; OTRv4+ was chosen all the same.
    assert_eq!(qa, ["OTRvP3"], "alice's query");
    assert!(v4a > 0 && v4b > 0, "OTRv4+ messages both ways: {v4a} {v4b}");
    assert_eq!((v3a, v3b), (0, 0), "no OTRv3 message on the wire");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_otrbnc_with_otrv3_on_use_otrv4() {
    require_e2e!();
    two_bouncers_speak_otrv4(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_otrbnc_one_without_otrv3_use_otrv4() {
    require_e2e!();
    two_bouncers_speak_otrv4(false).await;
}

/// `*otr versions <nick> v4+` turns OTRv3 off for one nick: the query to it offers OTRv4+
/// only; `default` brings the network's setting back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otrv3_can_be_turned_off_for_one_nick() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    a.otr("versions bob").await;
    a.expect_otr(NEXT, "the default", |t| {
        t == "Versions with bob: OTRv4+ and OTRv3 (the network's default)."
    })
    .await;
    a.otr("versions bob v4+").await;
    a.expect_otr(NEXT, "set", |t| t == "Versions with bob: OTRv4+ only.")
        .await;
    deliver(&a, &mut b, &format!("first {}", token(8)), FIRST).await;
    let (queries, _, v3) = otr_versions_sent(&pair.aud_a);
    assert_eq!(queries, ["OTRvP"], "only OTRv4+ offered to bob");
    assert_eq!(v3, 0);
    a.otr("versions bob default").await;
    a.expect_otr(NEXT, "back to default", |t| {
        t == "Versions with bob: OTRv4+ and OTRv3."
    })
    .await;
    a.otr("versions bob v2").await;
    a.expect_otr(NEXT, "usage", |t| t.starts_with("Usage: versions"))
        .await;
}
