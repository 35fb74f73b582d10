//! Floods: (d) a long conversation under ngircd's default flood penalties, and (i) garbage
//! OTR from a stranger and from an opted-in nick while alice and bob keep talking.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, Pair, assert_only_otr_to, assert_reassembles};
use crate::support::{secs, token};

/// The penalty test runs with the bouncer's own default pacing (a burst of 9, then one line
/// per 2 s: about 4 minutes). `OTRBNC_E2E_FAST_PACING=1` paces at 0.5 s per line instead, for
/// quick local runs.
const FAST_PACING_ENV: &str = "OTRBNC_E2E_FAST_PACING";

/// (d) First contact and 20 messages of ~1,500 characters (10 each way, sent at once) with
/// ngircd's normal flood penalties: everything is delivered, nobody is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_conversation_under_default_flood_penalties() {
    require_e2e!();
    let fast = std::env::var_os(FAST_PACING_ENV).is_some_and(|v| v == "1");
    let (limit, pace): (Duration, fn(BncConfig) -> BncConfig) = if fast {
        (secs(300), |c| c.pacing(0.5, 5).handshake_timeout(180))
    } else {
        (secs(900), |c| c.default_pacing().handshake_timeout(600))
    };
    let t0 = Instant::now();
    let pair = Pair::start(NgircdOpts::default(), pace).await;
    let a = pair.attach_a().await;
    let mut b = pair.attach_b().await;

    let hello = format!("hello under penalties {}", token(12));
    a.privmsg("bob", &hello).await;
    b.expect_text_from("alice", &hello, limit).await;
    let t_private = t0.elapsed();

    let long = |who: &str, i: usize| {
        let mut s = format!("{who} long message {i} {} ", token(16));
        while s.len() < 1500 {
            s.push_str(&token(32));
            s.push(' ');
        }
        s
    };
    let to_bob: Vec<String> = (0..10).map(|i| long("alice", i)).collect();
    let to_alice: Vec<String> = (0..10).map(|i| long("bob", i)).collect();
    for i in 0..10 {
        a.privmsg("bob", &to_bob[i]).await;
        b.privmsg("alice", &to_alice[i]).await;
    }
    b.expect_long_text_from("alice", &to_bob[9], limit).await;
    a.expect_long_text_from("bob", &to_alice[9], limit).await;
    println!(
        "penalties: private after {t_private:?}, all delivered after {:?} ({} lines up from alice, {} from bob)",
        t0.elapsed(),
        pair.aud_a.lines_to_server().len(),
        pair.aud_b.lines_to_server().len()
    );
    let mut want: Vec<String> = vec![hello.clone()];
    want.extend(to_bob.iter().cloned());
    assert_reassembles(&b.texts_from("alice"), &want);
    assert_reassembles(&a.texts_from("bob"), &to_alice);

    // Nobody was disconnected or flood-killed.
    for (aud, who) in [(&pair.aud_a, "alice"), (&pair.aud_b, "bob")] {
        assert_eq!(aud.connection_count(), 1, "{who}'s upstream reconnected");
        assert_eq!(aud.open_count(), 1, "{who}'s upstream was closed");
        assert_eq!(aud.registrations(), 1);
        let errors: Vec<String> = aud
            .msgs_to_client()
            .iter()
            .filter(|m| m.command == "ERROR")
            .map(|m| m.line())
            .collect();
        assert!(errors.is_empty(), "{who}'s upstream got {errors:?}");
    }
    assert!(
        pair.ngircd.forced_disconnects().is_empty(),
        "ngircd shut connections down: {:?}",
        pair.ngircd.forced_disconnects()
    );
    for c in [&a, &b] {
        assert_eq!(
            c.log().iter().filter(|m| m.command == "001").count(),
            1,
            "{} saw a re-registration",
            c.label()
        );
        c.assert_never_received("?OTR");
    }
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    let needles: Vec<Vec<u8>> = to_bob
        .iter()
        .chain(to_alice.iter())
        .flat_map(|t| [t.as_bytes()[..40].to_vec(), t.as_bytes()[700..740].to_vec()])
        .collect();
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    pair.assert_absent(&refs);
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
