//! Conversations between two bouncers (alice opted in to bob, bob to alice) on one ngircd,
//! each upstream through its own wire auditor.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::client::{CapStyle, Client, Login, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, Pair, assert_only_otr_to, assert_reassembles, status_of};
use crate::support::{secs, token};

/// The first message starts a session: allow for the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(60);
/// A message through an established session.
const NEXT: Duration = Duration::from_secs(20);

/// Sends `text` (a PRIVMSG, or a `/me` when it is an ACTION) from `from` to `to` and waits
/// until `to` receives exactly that text from `from`'s nick.
async fn deliver(from: &Client, to: &mut Client, text: &str, limit: Duration) {
    from.privmsg(to.nick(), text).await;
    let from_nick = from.nick().to_string();
    if text.len() > 400 {
        to.expect_long_text_from(&from_nick, text, limit).await;
    } else {
        to.expect_text_from(&from_nick, text, limit).await;
    }
}

/// Distinctive substrings of a message for the auditors: the whole text when short, else
/// chunks of 24 bytes at several offsets.
fn needles(text: &str) -> Vec<Vec<u8>> {
    let b = text.as_bytes();
    if b.len() <= 48 {
        return vec![b.to_vec()];
    }
    let mut out = Vec::new();
    let mut off = 0;
    while off + 24 <= b.len() {
        out.push(b[off..off + 24].to_vec());
        off += b.len() / 8;
    }
    out.push(b[b.len() - 24..].to_vec());
    out
}

fn assert_absent_all(pair: &Pair, texts: &[String]) {
    let all: Vec<Vec<u8>> = texts.iter().flat_map(|t| needles(t)).collect();
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    pair.assert_absent(&refs);
}

/// (a) 50 messages alternating both ways, with UTF-8, a 2,000-character message and a
/// `/me`: each arrives exactly once at the other client, in order; the wire carries none of
/// the plaintexts, only `?OTR` to the peer, no line over 512 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_messages_both_ways_only_otr_on_the_wire() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;

    let long: String = format!("L{}", token(1999));
    let mut to_bob = Vec::new();
    let mut to_alice = Vec::new();
    for i in 0..50 {
        let tok = token(16);
        let text = match i {
            0 => format!("first message starts the session {tok}"),
            7 => format!("grüße 🌍 日本語 {tok}"),
            12 => long.clone(),
            21 => format!("\u{1}ACTION waves at you {tok}\u{1}"),
            _ => format!("message number {i} with token {tok}"),
        };
        let limit = if i == 0 { FIRST } else { NEXT };
        if i % 2 == 0 {
            deliver(&a, &mut b, &text, limit).await;
            to_bob.push(text);
        } else if text.starts_with('\u{1}') {
            let inner = text.trim_matches('\u{1}').trim_start_matches("ACTION ");
            b.action("alice", inner).await;
            a.expect_text_from("bob", &text, limit).await;
            to_alice.push(text);
        } else {
            deliver(&b, &mut a, &text, limit).await;
            to_alice.push(text);
        }
    }
    assert_eq!(long.len(), 2000);
    assert!(to_bob.contains(&long));

    // Exactly what was sent, once each, in order, as `:peer!... PRIVMSG me :text` (the
    // 2,000-character message may be cut into several lines, each within 512 bytes).
    assert_reassembles(&b.texts_from("alice"), &to_bob);
    assert_reassembles(&a.texts_from("bob"), &to_alice);
    for c in [&a, &b] {
        for m in c.log() {
            assert!(
                m.raw.len() <= 512,
                "{}: a line over 512 bytes: {m}",
                c.label()
            );
        }
    }
    let one = b
        .log()
        .into_iter()
        .find(|m| m.is_privmsg_from("alice") && m.text() == to_bob[1])
        .unwrap();
    assert!(
        one.prefix.as_deref().unwrap().starts_with("alice!"),
        "{one}"
    );
    assert_eq!(one.target(), "bob");

    // The session became private: `*otr` said so, and the conversation got an `[otr]` line.
    for (c, peer) in [(&a, "bob"), (&b, "alice")] {
        assert!(
            c.otr_texts().iter().any(|t| t.contains("private")),
            "{}: no *otr line mentioning \"private\": {:?}",
            c.label(),
            c.otr_texts()
        );
        assert!(
            c.log()
                .iter()
                .any(|m| m.is_privmsg_from(peer) && m.text().starts_with("[otr]")),
            "{}: no [otr] line in the conversation with {peer}",
            c.label()
        );
        c.assert_never_received("?OTR");
    }

    let mut all = to_bob.clone();
    all.extend(to_alice.iter().cloned());
    all.push("grüße 🌍 日本語".to_string());
    all.push("waves at you".to_string());
    assert_absent_all(&pair, &all);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    println!(
        "lines upstream: alice {} (longest {} bytes), bob {} (longest {} bytes)",
        pair.aud_a.lines_to_server().len(),
        pair.aud_a.max_line_len_to_server(),
        pair.aud_b.lines_to_server().len(),
        pair.aud_b.max_line_len_to_server()
    );
}

/// (c) Messages typed before the session is private are delivered, in order, once it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_typed_before_private_are_delivered_in_order() {
    require_e2e!();
    let pair = Pair::fast().await;
    let a = pair.attach_a().await;
    let b = pair.attach_b().await;
    let texts: Vec<String> = (1..=6)
        .map(|i| format!("queued before private #{i} {}", token(12)))
        .collect();
    for t in &texts {
        a.privmsg("bob", t).await;
    }
    b.wait_log(FIRST, "all queued messages", |_| {
        b.texts_from("alice").len() >= texts.len()
    })
    .await;
    // Nothing else arrives afterwards (no duplicates).
    tokio::time::sleep(secs(1)).await;
    assert_eq!(b.texts_from("alice"), texts);
    assert_absent_all(&pair, &texts);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
}

/// (c) A bob without a bouncer (a plain client) gets nothing but `?OTR` lines from alice,
/// and alice is told that bob did not answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_without_otr_gets_only_otr_and_alice_is_told() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr())
            .otr_nicks(&["bob"])
            .handshake_timeout(8),
    )
    .await;
    let mut bob = Client::connect(ng.addr(), None, "bob", "bob", &[]).await;
    let mut a = scenario::attach(&bnc).await;
    let texts = [
        format!("secret one for plain bob {}", token(12)),
        format!("secret two for plain bob {}", token(12)),
    ];
    for t in &texts {
        a.privmsg("bob", t).await;
    }
    let t0 = Instant::now();
    let told = a
        .expect_otr(secs(40), "bob did not answer", |t| {
            let t = t.to_ascii_lowercase();
            t.contains("did not answer") || t.contains("no answer")
        })
        .await;
    println!("after {:?}: {}", t0.elapsed(), told.text());
    // The notice comes after the handshake timeout, not at once.
    assert!(
        t0.elapsed() >= secs(6),
        "told too early: {:?}",
        t0.elapsed()
    );
    bob.collect_for(secs(2)).await;

    let from_alice: Vec<Msg> = bob
        .log_matching(|m| (m.command == "PRIVMSG" || m.command == "NOTICE") && m.is_from("alice"));
    assert!(!from_alice.is_empty(), "bob got no OTR query at all");
    for m in &from_alice {
        assert!(
            m.text().starts_with("?OTR"),
            "plain bob received a non-OTR line: {m}"
        );
    }
    for t in &texts {
        bob.assert_never_received(t);
    }
    let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
    aud.assert_absent(&refs);
    assert_only_otr_to(&aud, "bob");
}

/// (e) Detach and reattach: bob's client leaves (socket closed), alice sends 5 messages,
/// bob's new client gets 001, the JOIN, topic and names of #chan, and the 5 messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattached_client_gets_channels_and_missed_messages() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    b.join("#chan").await;
    b.send_raw("TOPIC #chan :the e2e topic").await;
    b.expect_desc(secs(10), "TOPIC echo", |m| m.command == "TOPIC")
        .await;
    b.close().await;

    let texts: Vec<String> = (1..=5)
        .map(|i| format!("while you were away #{i} {}", token(12)))
        .collect();
    for t in &texts {
        a.privmsg("bob", t).await;
    }
    a.expect_otr(FIRST, "the session became private", |t| {
        t.contains("private")
    })
    .await;
    // Let bob's bouncer receive and decrypt everything.
    pair.aud_b.wait_quiet(secs(2), secs(30)).await;

    let mut b2 = pair.attach_b().await;
    assert_eq!(b2.nick(), "bob");
    let join = b2
        .expect_desc(secs(10), "JOIN #chan replayed", |m| {
            m.command == "JOIN" && m.is_from("bob") && m.target() == "#chan"
        })
        .await;
    assert!(join.prefix.is_some());
    b2.wait_log(secs(10), "332, 353 and 366 for #chan", |log| {
        ["332", "353", "366"].iter().all(|n| {
            log.iter()
                .any(|m| m.command == *n && m.params.iter().any(|p| p == "#chan"))
        })
    })
    .await;
    let topic = b2.log().into_iter().find(|m| m.command == "332").unwrap();
    assert_eq!(topic.text(), "the e2e topic");
    b2.wait_log(NEXT, "the 5 missed messages", |_| {
        b2.texts_from("alice").len() >= 5
    })
    .await;
    assert_eq!(b2.texts_from("alice"), texts);
    b2.assert_never_received("?OTR");
    assert_absent_all(&pair, &texts);
    assert_only_otr_to(&pair.aud_a, "bob");
}

async fn two_clients_on_alice(second_has_echo: bool) {
    let pair = Pair::fast().await;
    let mut a1 = Client::connect_with(
        pair.a.addr(),
        Login::new(Some(&pair.a.pass()), "alice").caps(&["echo-message"]),
    )
    .await;
    let second_caps: &[&str] = if second_has_echo {
        &["echo-message"]
    } else {
        &[]
    };
    let mut a2 = Client::connect_with(
        pair.a.addr(),
        Login::new(Some(&pair.a.pass()), "alice")
            .caps(second_caps)
            .cap_style(CapStyle::Strict),
    )
    .await;
    let mut b = pair.attach_b().await;
    assert!(
        a1.has_cap("echo-message"),
        "the bouncer must offer echo-message"
    );
    assert_eq!(a2.has_cap("echo-message"), second_has_echo);

    // bob → alice: both of alice's clients see it decrypted.
    let t1 = format!("bob says hi to both {}", token(12));
    b.privmsg("alice", &t1).await;
    a1.expect_text_from("bob", &t1, FIRST).await;
    a2.expect_text_from("bob", &t1, NEXT).await;

    // alice (client 1, echo-message) → bob: echoed to client 1 in plaintext.
    let t2 = format!("alice from client one {}", token(12));
    a1.privmsg("bob", &t2).await;
    b.expect_text_from("alice", &t2, NEXT).await;
    let echo = a1
        .expect_desc(NEXT, "echo of alice's own message", |m| {
            m.command == "PRIVMSG" && m.is_from("alice") && m.target() == "bob" && m.text() == t2
        })
        .await;
    assert!(
        echo.prefix.as_deref().unwrap().starts_with("alice!"),
        "{echo}"
    );
    if second_has_echo {
        a2.expect_desc(NEXT, "client one's message shown on client two", |m| {
            m.command == "PRIVMSG" && m.is_from("alice") && m.target() == "bob" && m.text() == t2
        })
        .await;
    }

    // alice (client 2) → bob: client 1 (echo-message) sees it.
    let t3 = format!("alice from client two {}", token(12));
    a2.privmsg("bob", &t3).await;
    b.expect_text_from("alice", &t3, NEXT).await;
    a1.expect_desc(NEXT, "client two's message shown on client one", |m| {
        m.command == "PRIVMSG" && m.is_from("alice") && m.target() == "bob" && m.text() == t3
    })
    .await;
    if second_has_echo {
        a2.expect_desc(NEXT, "echo of client two's own message", |m| {
            m.command == "PRIVMSG" && m.is_from("alice") && m.target() == "bob" && m.text() == t3
        })
        .await;
    }

    let t4 = format!("bob again {}", token(12));
    b.privmsg("alice", &t4).await;
    a1.expect_text_from("bob", &t4, NEXT).await;
    a2.expect_text_from("bob", &t4, NEXT).await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    for c in [&a1, &a2, &b] {
        c.assert_never_received("?OTR");
    }
    // Each message from bob shown once per client.
    assert_eq!(a1.texts_from("bob"), vec![t1.clone(), t4.clone()]);
    assert_eq!(a2.texts_from("bob"), vec![t1.clone(), t4.clone()]);
    assert_absent_all(&pair, &[t1, t2, t3, t4]);
    assert_only_otr_to(&pair.aud_a, "bob");
}

/// (f) Two clients on alice, one with echo-message and one without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_one_with_echo_message() {
    require_e2e!();
    two_clients_on_alice(false).await;
}

/// (f) Two clients on alice, both with echo-message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_both_with_echo_message() {
    require_e2e!();
    two_clients_on_alice(true).await;
}

fn mentions_session(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    t.contains("session") || t.contains("conversation") || t.contains("private")
}

fn refused_or_unreadable(t: &str) -> bool {
    let t = t.to_ascii_lowercase();
    t.contains("not sent") || t.contains("could not") || t.contains("ended")
}

/// (h) bob's bouncer restarts mid-conversation (SIGTERM, start again); after bob's client
/// re-attaches, messages flow again both ways (alice may have to restart the session once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bouncer_restart_mid_conversation() {
    require_e2e!();
    let mut pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let before = [
        format!("before restart from alice {}", token(12)),
        format!("before restart from bob {}", token(12)),
    ];
    deliver(&a, &mut b, &before[0], FIRST).await;
    deliver(&b, &mut a, &before[1], NEXT).await;
    b.close().await;

    let seen_before = a.log().len();
    pair.b.restart().await;
    pair.aud_b
        .wait_for(secs(30), "bob's upstream registered again", |aud| {
            aud.registrations() >= 2
        })
        .await;
    let mut b2 = pair.attach_b().await;
    assert_eq!(b2.nick(), "bob");

    let after1 = format!("after restart from alice {}", token(12));
    a.privmsg("bob", &after1).await;
    let deadline = Instant::now() + secs(45);
    let mut delivered = false;
    let mut told: Option<String> = None;
    while Instant::now() < deadline {
        if b2.texts_from("alice").contains(&after1) {
            delivered = true;
            break;
        }
        if let Some(t) = a.log()[seen_before..]
            .iter()
            .filter(|m| m.is_otr_control())
            .map(|m| m.text().to_string())
            .find(|t| refused_or_unreadable(t))
        {
            told = Some(t);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("after restart: delivered={delivered}, alice was told: {told:?}");
    if !delivered {
        // One retry: a new session, then the same message again.
        let after_restart: Vec<String> = a.log()[seen_before..]
            .iter()
            .filter(|m| m.is_otr_control())
            .map(|m| m.text().to_string())
            .collect();
        assert!(
            after_restart.iter().any(|t| mentions_session(t)),
            "the message was not delivered and alice was told nothing about the session: {after_restart:?}"
        );
        a.otr("start bob").await;
        a.expect_otr(FIRST, "a private session again", |t| t.contains("private"))
            .await;
        a.privmsg("bob", &after1).await;
        b2.wait_log(NEXT, "the message after the restart", |_| {
            b2.texts_from("alice").contains(&after1)
        })
        .await;
    }
    // bob's new client was told about the (new) session.
    b2.wait_log(NEXT, "*otr on bob about the new session", |log| {
        log.iter()
            .any(|m| m.is_otr_control() && mentions_session(m.text()))
    })
    .await;

    let after2 = format!("after restart from bob {}", token(12));
    let after3 = format!("after restart again from alice {}", token(12));
    deliver(&b2, &mut a, &after2, NEXT).await;
    deliver(&a, &mut b2, &after3, NEXT).await;
    assert_eq!(
        b2.texts_from("alice")
            .iter()
            .filter(|t| **t == after1)
            .count(),
        1,
        "the retried message arrived twice"
    );
    for c in [&a, &b2] {
        c.assert_never_received("?OTR");
    }
    let mut all = before.to_vec();
    all.extend([after1, after2, after3]);
    assert_absent_all(&pair, &all);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    assert_eq!(
        pair.aud_b.connection_count(),
        2,
        "bob's bouncer reconnected more than once"
    );
    assert_eq!(
        pair.aud_a.connection_count(),
        1,
        "alice's upstream reconnected"
    );
}

/// A stranger's OTR request is announced in `*otr` with the command to accept it, and that
/// command works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stranger_offer_is_announced_and_can_be_accepted() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let mut a = scenario::attach(&bnc).await;
    let mut carol = crate::support::otrpeer::OtrPeer::connect(ng.addr(), "carol").await;
    carol.auto_respond("alice");
    carol.start("alice").await;
    let offer = a
        .expect_otr(secs(20), "offer from carol", |t| {
            t.contains("carol wants a private")
        })
        .await;
    assert!(offer.text().contains("start carol"), "{offer}");
    // Not accepted yet: nothing but the query reached carol... and alice answered nothing.
    assert!(scenario::sent_to(&aud, "PRIVMSG", "carol").is_empty());
    a.otr("start carol").await;
    carol.wait_private("alice", secs(60)).await;
    a.expect_otr(secs(20), "private with carol", |t| {
        t.contains("Private conversation with carol")
    })
    .await;
    let text = format!("accepted stranger {}", token(10));
    a.privmsg("carol", &text).await;
    carol.expect_message("alice", &text, secs(30)).await;
    aud.assert_absent(&[text.as_bytes()]);
}

/// NOTICE and CTCP to an opted-in nick are refused with a `*otr` notice; the policy lets
/// NOTICEs through in clear when asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notice_and_ctcp_to_opted_in_nicks_are_refused_unless_allowed() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let secret = format!("notice secret {}", token(10));
    a.notice("bob", &secret).await;
    let refused = a
        .expect_otr(secs(10), "NOTICE refused", |t| {
            t.contains("NOTICE to bob was NOT sent")
        })
        .await;
    assert!(refused.text().contains("allow_plain_notice"), "{refused}");
    a.send_raw("PRIVMSG bob :\u{1}VERSION\u{1}").await;
    a.expect_otr(secs(10), "CTCP refused", |t| {
        t.contains("CTCP VERSION to bob was NOT sent")
    })
    .await;
    pair.aud_a.assert_absent(&[secret.as_bytes(), b"VERSION"]);

    a.otr("policy allow_plain_notice on").await;
    a.expect_otr(secs(10), "policy changed", |t| {
        t.contains("allow_plain_notice is now on")
    })
    .await;
    let allowed = format!("notice in clear {}", token(10));
    a.notice("bob", &allowed).await;
    let got = b
        .expect_desc(secs(10), "the clear notice", |m| {
            m.command == "NOTICE" && m.text().contains(&allowed)
        })
        .await;
    // A plaintext notice from an opted-in nick is marked as such.
    assert!(got.text().starts_with("[NOT ENCRYPTED] "), "{got}");
}

/// Alice and bob private (one message delivered, returned), then bob becomes bobby, seen by
/// alice through a shared channel (IRC servers tell NICK changes only to users who share one).
/// Returns both clients, the first message and the `*otr` notice alice got.
async fn private_then_bob_becomes_bobby(pair: &Pair) -> (Client, Client, String, Msg) {
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let first = format!("before the nick change {}", token(10));
    deliver(&a, &mut b, &first, FIRST).await;
    a.join("#meet").await;
    b.join("#meet").await;
    b.send_raw("NICK bobby").await;
    let told = a
        .expect_otr(secs(10), "nick change noticed", |t| {
            t.contains("bob is now known as bobby")
        })
        .await;
    (a, b, first, told)
}

/// The session follows a NICK change (seen through a shared channel): messages to the new
/// nick are encrypted and arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_follows_a_nick_change() {
    require_e2e!();
    let pair = Pair::fast().await;
    let (mut a, mut b, first, _) = private_then_bob_becomes_bobby(&pair).await;
    let second = format!("after the nick change {}", token(10));
    a.privmsg("bobby", &second).await;
    b.expect_text_from("alice", &second, secs(20)).await;
    let reply = format!("reply from bobby {}", token(10));
    b.privmsg("alice", &reply).await;
    a.expect_text_from("bobby", &reply, secs(20)).await;
    pair.assert_absent(&[first.as_bytes(), second.as_bytes(), reply.as_bytes()]);
    assert_only_otr_to(&pair.aud_a, "bobby");
    a.otr("status bobby").await;
    a.expect_otr(secs(10), "status of bobby", |t| {
        t.starts_with("bobby: unverified")
    })
    .await;
}

/// After bob becomes bobby (a NICK line the server could as well have forged), "bob" stays
/// opted in: a plain client that takes the nick gets only OTR from alice, never her text, and
/// the wire to the server carries none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_nick_stays_opted_in_after_a_nick_change() {
    require_e2e!();
    let pair = Pair::fast().await;
    let (a, mut b, first, told) = private_then_bob_becomes_bobby(&pair).await;
    assert!(told.text().contains("stays enabled for bob"), "{told}");

    let mut squatter = Client::connect(pair.ngircd.addr(), None, "bob", "squatter", &[]).await;
    let secret = format!("meant for the real bob {}", token(12));
    a.privmsg("bob", &secret).await;
    squatter.collect_for(secs(3)).await;
    let from_alice = squatter
        .log_matching(|m| (m.command == "PRIVMSG" || m.command == "NOTICE") && m.is_from("alice"));
    assert!(
        !from_alice.is_empty(),
        "the new bob got no OTR query at all"
    );
    for m in &from_alice {
        assert!(
            m.text().starts_with("?OTR"),
            "the new bob received a non-OTR line: {m}"
        );
    }
    squatter.assert_never_received(&secret);
    pair.assert_absent(&[first.as_bytes(), secret.as_bytes()]);
    assert_only_otr_to(&pair.aud_a, "bob");
    // The conversation itself went on with bobby.
    let after = format!("after the nick change {}", token(10));
    a.privmsg("bobby", &after).await;
    b.expect_text_from("alice", &after, secs(20)).await;
    pair.assert_absent(&[after.as_bytes()]);
}

/// A NICK change onto a nick alice opted in already (here carol, not on the network; the
/// server could forge the line just as well) does not move bob's session to carol: what
/// alice types to carol never goes to bob's key, and alice is told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_never_moves_onto_a_nick_already_opted_in() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud_a, bnc_a) = scenario::bouncer(
        &ng,
        BncConfig::new("alice", ng.addr()).otr_nicks(&["bob", "carol"]),
    )
    .await;
    let (_aud_b, bnc_b) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&bnc_a).await;
    let mut b = scenario::attach(&bnc_b).await;
    let first = format!("before the nick change {}", token(10));
    deliver(&a, &mut b, &first, FIRST).await;
    a.join("#meet").await;
    b.join("#meet").await;
    b.send_raw("NICK carol").await;
    a.expect_otr(secs(10), "the refusal to move", |t| {
        t.contains("bob is now known as carol") && t.contains("does NOT move")
    })
    .await;
    a.otr("status carol").await;
    let status = a
        .expect_otr(secs(10), "carol's status", |t| t.starts_with("carol: "))
        .await;
    assert!(status.text().starts_with("carol: plaintext"), "{status}");
    let (status, _) = status_of(&mut a, "bob", secs(10)).await;
    assert!(status.starts_with("bob: unverified"), "{status}");
    aud_a.assert_absent(&[first.as_bytes()]);
}
