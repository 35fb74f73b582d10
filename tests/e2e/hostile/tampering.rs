//! (b)–(e) The server replays, reorders, drops and reflects OTR lines, rewrites the case of
//! a nick, forges NICK changes and cuts the connection mid-handshake. Conversations either
//! carry on (each message once) or stop with the user told; nothing leaves in clear.

use crate::require_e2e;
use crate::support::scenario::{assert_only_otr_to, deliver, status_of};
use crate::support::{secs, token};

use super::{FIRST, Hostile2, NEXT};

/// (b) Every line from bob arrives twice and fragments arrive in swapped pairs, from the
/// first handshake message on: each message is shown exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_otr_lines_show_each_message_once() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, mut b) = net.attach().await;
    net.evil.duplicate_from("bob");
    net.evil.swap_fragments_from("bob");
    deliver(&a, &mut b, &format!("hello bob {}", token(8)), FIRST).await;
    let texts = [
        format!("one {}", token(8)),
        format!("two {} {}", token(8), "x".repeat(300)),
        format!("three {}", token(8)),
    ];
    for t in &texts {
        b.privmsg("alice", t).await;
    }
    a.expect_text_from("bob", &texts[2], NEXT).await;
    tokio::time::sleep(secs(1)).await;
    let got = a.texts_from("bob");
    let ours: Vec<&String> = got.iter().filter(|t| texts.contains(t)).collect();
    assert_eq!(ours, texts.iter().collect::<Vec<_>>(), "{got:?}");
    net.evil.assert_never_leaked(&[&texts[0]]);
    assert_only_otr_to(&net.aud_b, "alice");
}

/// (b) alice's own OTR lines come back to her as if from bob: she never takes herself for
/// bob, and the session that comes up is with bob's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_otr_lines_never_make_a_session_with_ourselves() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, mut b) = net.attach().await;
    net.evil.reflect_to("bob");
    let secret = format!("reflected {}", token(12));
    deliver(&a, &mut b, &secret, FIRST).await;
    // The reflected query can make alice the initiator: her message then goes before bob's
    // confirmation reaches her (docs/PROTOCOL.md §6.7).
    a.expect_otr(NEXT, "private", |t| {
        t.starts_with("Private conversation with bob started: private (OTRv4+)")
    })
    .await;
    let (_, fp) = status_of(&mut a, "bob", NEXT).await;
    b.otr("fingerprint").await;
    let own_b = b
        .expect_otr(NEXT, "bob's fingerprint", |t| {
            t.starts_with("Your fingerprint: ")
        })
        .await;
    let bob_fp = own_b
        .text()
        .trim_start_matches("Your fingerprint: ")
        .to_string();
    assert!(
        fp.contains(&bob_fp),
        "alice's session is not with bob's key: {fp}"
    );
    net.evil.assert_never_leaked(&[&secret]);
}

/// (b) The first OTR line from bob is dropped: the handshake stalls, nothing goes out in
/// clear, alice is told her message is still queued, and `start` completes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_handshake_line_fails_closed_and_is_told() {
    require_e2e!();
    let net = Hostile2::start(|c| c.handshake_timeout(5)).await;
    let (mut a, mut b) = net.attach().await;
    net.evil.drop_nth_otr_from("bob", 1);
    let secret = format!("after a drop {}", token(12));
    a.privmsg("bob", &secret).await;
    a.expect_otr(secs(30), "no answer", |t| {
        t.starts_with("bob did not answer") && t.contains("1 message(s) are still queued")
    })
    .await;
    net.evil.assert_never_leaked(&[&secret]);
    a.otr("start bob").await;
    b.expect_text_from("alice", &secret, FIRST).await;
    net.evil.assert_never_leaked(&[&secret]);
    assert_only_otr_to(&net.aud_a, "bob");
}

/// (c) The server spells bob's nick `BOB` in every line from him: it is the same peer, the
/// conversation works both ways, and what alice types to `BOB` is encrypted too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_nick_case_is_the_same_opted_in_peer() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (mut a, mut b) = net.attach().await;
    net.evil.rename_source("bob", "BOB");
    let texts = [
        format!("to bob {}", token(10)),
        format!("to BOB {}", token(10)),
    ];
    deliver(&a, &mut b, &texts[0], FIRST).await;
    let back = format!("from bob {}", token(10));
    b.privmsg("alice", &back).await;
    a.expect_text_from("BOB", &back, NEXT).await;
    a.privmsg("BOB", &texts[1]).await;
    b.expect_text_from("alice", &texts[1], NEXT).await;
    net.evil.assert_never_leaked(&[&texts[0], &texts[1], &back]);
}

/// (d) A forged `NICK` moves bob's session to another nick; the old nick stays opted in
/// (its next message goes through a new session with the real bob, whose key is the one
/// accepted), and the nick the server made up gets only OTR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_nick_change_leaks_nothing() {
    require_e2e!();
    let net = Hostile2::start(|c| c).await;
    let (a, mut b) = net.attach().await;
    deliver(&a, &mut b, &format!("hello {}", token(8)), FIRST).await;
    net.evil.inject(":bob!bob@forged.invalid NICK nobody");
    tokio::time::sleep(secs(1)).await;
    let texts = [
        format!("to bob {}", token(10)),
        format!("to nobody {}", token(10)),
    ];
    a.privmsg("bob", &texts[0]).await;
    a.privmsg("nobody", &texts[1]).await;
    b.expect_text_from("alice", &texts[0], FIRST).await;
    tokio::time::sleep(secs(1)).await;
    net.evil.assert_never_leaked(&[&texts[0], &texts[1]]);
    assert_only_otr_to(&net.aud_a, "bob");
    assert_only_otr_to(&net.aud_a, "nobody");
}

/// (e) The connection is cut right after alice's first, second and third OTR line to bob in
/// turn (query, then handshake messages): after each reconnect the message is still queued,
/// never sent in clear, and it arrives once a handshake completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuts_at_each_handshake_step_send_nothing_in_clear() {
    require_e2e!();
    let net = Hostile2::start(|c| {
        c.network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2")
            .handshake_timeout(6)
    })
    .await;
    let (mut a, mut b) = net.attach().await;
    let mut secrets = Vec::new();
    for step in 1..=3 {
        let secret = format!("cut at step {step} {}", token(10));
        let conns = net.evil.connections();
        net.evil.cut_after_otr_to("bob", step);
        a.privmsg("bob", &secret).await;
        let deadline = std::time::Instant::now() + FIRST;
        while net.evil.connections() == conns {
            assert!(
                std::time::Instant::now() < deadline,
                "no reconnect after the cut"
            );
            tokio::time::sleep(secs(1)).await;
        }
        net.aud_a
            .wait_for(FIRST, "registered again", |aud| aud.registrations() > conns)
            .await;
        secrets.push(secret);
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        net.evil.assert_never_leaked(&refs);
        // Whatever state the cut left, `start` brings everything queued through.
        a.otr("start bob").await;
        b.expect_text_from("alice", secrets.last().unwrap(), FIRST)
            .await;
        a.otr("finish bob").await;
        a.expect_otr(NEXT, "ended", |t| {
            t.starts_with("Private conversation with bob ended")
        })
        .await;
    }
    assert_only_otr_to(&net.aud_a, "bob");
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    net.evil.assert_never_leaked(&refs);
}

/// (e) The connection is cut in the middle of an SMP run: neither the question nor the
/// answer ever leaves in clear, and after the reconnect the conversation goes on privately.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_mid_smp_leaks_neither_question_nor_answer() {
    require_e2e!();
    let net =
        Hostile2::start(|c| c.network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2")).await;
    let (a, mut b) = net.attach().await;
    deliver(&a, &mut b, &format!("hello {}", token(8)), FIRST).await;
    let question = format!("Where did we meet {}?", token(6));
    let answer = format!("in the harbour {}", token(8));
    let conns = net.evil.connections();
    a.otr(&format!("authq bob \"{question}\" {answer}")).await;
    b.expect_otr(NEXT, "the question", |t| t.contains(&question))
        .await;
    net.evil.cut_after_otr_to("bob", 1);
    b.otr(&format!("auth alice {answer}")).await;
    // alice's next SMP line (her answer to bob's step) is where the cut happens.
    net.aud_a
        .wait_for(FIRST, "registered again", |aud| aud.registrations() > conns)
        .await;
    let after = format!("after the cut {}", token(10));
    a.privmsg("bob", &after).await;
    b.expect_text_from("alice", &after, FIRST).await;
    net.evil.assert_never_leaked(&[&question, &answer, &after]);
    net.aud_b
        .assert_absent(&[question.as_bytes(), answer.as_bytes()]);
}
