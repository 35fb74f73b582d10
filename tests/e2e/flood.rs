//! Floods: (d) a long conversation under ngircd's default flood penalties, and (i) garbage
//! OTR from a stranger and from an opted-in nick while alice and bob keep talking.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::penalties;
use crate::support::scenario::{self, assert_only_otr_to};
use crate::support::{secs, token};

/// (d) First contact and 20 messages of ~1,500 characters (10 each way, sent at once) with
/// ngircd's normal flood penalties: everything is delivered, nobody is disconnected. otrbnc
/// paces at a short interval (0.1 s after a burst of 9) instead of its default 2 s, so ngircd's
/// own penalty and TCP backpressure set the pace; the same conversation at the default pacing
/// (about 4 minutes) is the `penalties` part of `cargo bench --bench otr_e2e`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_under_default_flood_penalties() {
    require_e2e!();
    let f =
        penalties::conversation(|c| c.pacing(0.1, 9).handshake_timeout(120), 10, secs(240)).await;
    println!(
        "penalties, paced at 0.1 s: private after {:?}, all delivered after {:?} \
         ({} lines up from alice, {} from bob)",
        f.private_after, f.all_after, f.lines_up.0, f.lines_up.1
    );
}

/// First contact and 8 long messages (4 each way, sent at once) on ngircd with its default
/// flood penalties and otrbnc's automatic pacing (no `flood_*` keys): ngircd is recognised
/// from 004, the acknowledged window keeps its penalty away, and everything arrives with no
/// disconnection (issue 19: pacing that knows the server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_and_long_messages_at_the_automatic_pacing() {
    require_e2e!();
    let f =
        penalties::conversation(|c| c.default_pacing().handshake_timeout(120), 4, secs(240)).await;
    println!(
        "automatic pacing on ngircd: private after {:?}, all delivered after {:?} \
         ({} lines up from alice, {} from bob)",
        f.private_after, f.all_after, f.lines_up.0, f.lines_up.1
    );
}

/// Garbage that looks like OTR: fragments with random identifiers, indices out of range,
/// huge claimed counts, unterminated `?OTR:` messages, broken headers, queries.
fn garbage_line(i: usize, allow_query: bool) -> String {
    let r = |n: u64| rand::random_range(0..n);
    let junk = |len: usize| {
        let mut s = token(len);
        s = s.replace('a', "+").replace('b', "/");
        s
    };
    match i % 10 {
        0..=2 => {
            // A fragment with a random id; claimed total up to the maximum.
            let n = [1u64, 2, 5, 400, 401, 65535, 99999][r(7) as usize];
            let k = match r(4) {
                0 => 0,
                1 => n + 1,
                _ => 1 + r(n),
            };
            format!(
                "?OTR|{:08x}|{:08x}|{:08x},{k:05},{n:05},{},",
                rand::random::<u32>(),
                rand::random::<u32>(),
                rand::random::<u32>(),
                junk(300)
            )
        }
        3 => format!(
            "?OTR|{:08x}|{:08x}|{:08x},99999999999,99999999999,{},",
            rand::random::<u32>(),
            rand::random::<u32>(),
            rand::random::<u32>(),
            junk(50)
        ),
        4 => format!("?OTR:{}", junk(380)),
        5 => format!("?OTR:{}.", junk(200)),
        6 => format!("?OTR|{}|,,,,|{}", junk(8), junk(40)),
        7 => format!("?OTR?v{} {}", junk(3), junk(30)),
        8 if allow_query => "?OTRvP? let us talk privately".to_string(),
        _ => format!("?OTR|00000001|00000100|00000000,00001,00003,{},", junk(350)),
    }
}

async fn flood(from: &Client, to: &str, lines: usize) {
    let mut batch = Vec::new();
    for i in 0..lines {
        batch.extend_from_slice(
            format!(
                "PRIVMSG {to} :{}\r\n",
                garbage_line(i, from.nick() == "eve")
            )
            .as_bytes(),
        );
        if i % 50 == 49 {
            from.send_bytes(&batch).await;
            batch.clear();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    }
    from.send_bytes(&batch).await;
}

/// (i) 3,000 lines of OTR-looking garbage from a stranger (eve) and 3,000 from an opted-in
/// nick (mallory) while alice and bob talk: the conversation goes on, alice's bouncer stays
/// up, and its memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_flood_does_not_hurt() {
    require_e2e!();
    // Observed (debug build, 2 cores): about 7 MiB before, 7.5 MiB after the flood.
    const RSS_LIMIT_KIB: u64 = 32 * 1024;
    const RSS_GROWTH_KIB: u64 = 16 * 1024;
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud_a, mut bnc_a) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr()).otr_nicks(&["bob", "mallory"]),
    )
    .await;
    let (aud_b, bnc_b) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&bnc_a).await;
    let mut b = scenario::attach(&bnc_b).await;
    let first = format!("before the flood {}", token(12));
    a.privmsg("bob", &first).await;
    b.expect_text_from("alice", &first, secs(60)).await;
    let rss_before = bnc_a.rss_kib().expect("alice's RSS");

    let eve = Client::connect(ng.addr(), None, "eve", "eve", &[]).await;
    let mallory = Client::connect(ng.addr(), None, "mallory", "mallory", &[]).await;
    let mut rss_peak = rss_before;
    let talk = async {
        let mut sent = Vec::new();
        for i in 0..10 {
            let t1 = format!("during the flood a{i} {}", token(12));
            a.privmsg("bob", &t1).await;
            b.expect_text_from("alice", &t1, secs(30)).await;
            let t2 = format!("during the flood b{i} {}", token(12));
            b.privmsg("alice", &t2).await;
            a.expect_text_from("bob", &t2, secs(30)).await;
            sent.push(t1);
            sent.push(t2);
            if let Some(r) = bnc_a.rss_kib() {
                rss_peak = rss_peak.max(r);
            }
        }
        sent
    };
    let t0 = Instant::now();
    let (sent, (), ()) = tokio::join!(
        talk,
        flood(&eve, "alice", 3000),
        flood(&mallory, "alice", 3000)
    );
    println!("flood and conversation done in {:?}", t0.elapsed());
    // Let alice's bouncer work through everything ngircd still holds.
    aud_a.wait_quiet(secs(2), secs(60)).await;

    let last = format!("after the flood {}", token(12));
    a.privmsg("bob", &last).await;
    b.expect_text_from("alice", &last, secs(30)).await;
    let back = format!("reply after the flood {}", token(12));
    b.privmsg("alice", &back).await;
    a.expect_text_from("bob", &back, secs(30)).await;

    assert!(bnc_a.is_alive(), "alice's bouncer died:\n{}", bnc_a.log());
    let rss_after = bnc_a.rss_kib().expect("alice's RSS");
    rss_peak = rss_peak.max(rss_after);
    let from_eve = a.log_matching(|m| m.is_from("eve")).len();
    let from_mallory = a.log_matching(|m| m.is_from("mallory")).len();
    let otr_lines = a.otr_texts().len();
    println!(
        "alice's bouncer RSS: {rss_before} KiB before, peak {rss_peak} KiB, {rss_after} KiB after; \
         alice's client got {from_eve} lines from eve, {from_mallory} from mallory, {otr_lines} *otr lines"
    );
    assert!(
        rss_peak < RSS_LIMIT_KIB,
        "RSS peaked at {rss_peak} KiB (limit {RSS_LIMIT_KIB} KiB)"
    );
    assert!(
        rss_after.saturating_sub(rss_before) < RSS_GROWTH_KIB,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    // What the opted-in nick sent that is not OTR (a malformed query) may be shown, marked as
    // plaintext; fragments and encoded messages never are.
    for m in a.log_matching(|m| m.is_from("mallory")) {
        assert!(
            m.text().starts_with("[NOT ENCRYPTED] "),
            "unmarked text from mallory shown to alice: {m}"
        );
        assert!(
            !m.text().contains("?OTR|") && !m.text().contains("?OTR:"),
            "raw OTR from mallory shown to alice: {m}"
        );
    }
    assert_eq!(aud_a.connection_count(), 1, "alice's upstream reconnected");
    assert_eq!(aud_a.open_count(), 1);
    assert!(
        ng.forced_disconnects().is_empty(),
        "{:?}",
        ng.forced_disconnects()
    );
    let mut all = sent;
    all.extend([first, last, back]);
    let refs: Vec<&[u8]> = all.iter().map(|t| t.as_bytes()).collect();
    aud_a.assert_absent(&refs);
    aud_b.assert_absent(&refs);
    assert_only_otr_to(&aud_a, "bob");
    assert_only_otr_to(&aud_a, "mallory");
}
