//! The three IRC servers from Debian — ngircd, ircd-hybrid and InspIRCd — each with its
//! packaged default flood settings (a private instance per test: `support/server.rs`):
//! * the private configurations keep every packaged flood setting, and the servers enforce
//!   them (a raw client that floods is cut off with the server's own reason, which the
//!   scenario's checks recognise);
//! * issue 19's acceptance conversation on each (first contact, 20 messages of ~1,500
//!   characters each way, an SMP run) at otrbnc's default settings, with no disconnect, no
//!   flood notice, no dropped line and no plaintext on the wire
//!   (`support/server_scenario.rs`).

use std::time::Duration;

use crate::support::auditor::{Auditor, Rewrite};
use crate::support::client::Client;
use crate::support::hybrid;
use crate::support::inspircd;
use crate::support::otrbnc::BncConfig;
use crate::support::secs;
use crate::support::server::{IrcServer, Server, ServerKind};
use crate::support::server_scenario::{self, assert_no_flood_notice, is_flood_notice};

/// Long messages each way in the acceptance conversation (issue 19: 20).
const PER_SIDE: usize = 20;
/// The limit for each step of the acceptance conversation (first contact, the long
/// messages, the SMP run) at otrbnc's default pacing.
const STEP_LIMIT: Duration = Duration::from_secs(900);

/// hybrid's flood settings in the generated configuration are the packaged ones, the local
/// admin's `can_flood` block for 127.0.0.1 is gone, and only the connection limits changed.
#[test]
fn hybrid_private_config_keeps_the_packaged_flood_settings() {
    if !ServerKind::Hybrid.available(module_path!()) {
        return;
    }
    let packaged_text = std::fs::read_to_string(hybrid::DEFAULT_CONF).expect("packaged conf");
    let dir = std::path::Path::new("/tmp/otrbnc-hybrid-conf-check");
    let private_text = hybrid::private_config(&packaged_text, 16667, dir).expect("private conf");
    let packaged = hybrid::parse(&packaged_text).expect("parse packaged");
    let private = hybrid::parse(&private_text).expect("parse private");
    let find = |blocks: &[hybrid::Block], name: &str, sel: &str| -> hybrid::Block {
        blocks
            .iter()
            .find(|b| b.name == name && (sel.is_empty() || b.get("name") == Some(sel)))
            .cloned()
            .unwrap_or_else(|| panic!("no {name} {sel} block"))
    };
    for (block, sel, keys) in [
        (
            "class",
            "\"users\"",
            &["recvq", "sendq", "ping_time", "max_number"][..],
        ),
        (
            "general",
            "",
            &[
                "default_floodcount",
                "default_floodtime",
                "max_targets",
                "pace_wait",
                "pace_wait_simple",
                "no_oper_flood",
                "throttle_time",
            ][..],
        ),
    ] {
        let (p, q) = (find(&packaged, block, sel), find(&private, block, sel));
        for k in keys {
            assert!(p.get(k).is_some(), "the packaged {block} has no {k}");
            assert_eq!(p.get(k), q.get(k), "{block} {sel} {k} changed");
        }
    }
    assert_eq!(
        find(&private, "class", "\"users\"").get("recvq"),
        Some("2560 bytes")
    );
    assert_eq!(
        find(&private, "general", "").get("default_floodcount"),
        Some("10")
    );
    // Every client from 127.0.0.1 is an ordinary user: no auth block gives it can_flood.
    let auths: Vec<&hybrid::Block> = private.iter().filter(|b| b.name == "auth").collect();
    assert!(!auths.is_empty());
    for a in auths {
        let flags = a.get("flags").unwrap_or_default();
        assert!(
            !flags.contains("can_flood") && !flags.contains("need_ident"),
            "auth block {a:?}"
        );
        assert_eq!(a.get("class"), Some("\"users\""), "auth block {a:?}");
    }
    let listens: Vec<&hybrid::Block> = private.iter().filter(|b| b.name == "listen").collect();
    assert_eq!(listens.len(), 1);
    assert_eq!(listens[0].get("port"), Some("16667"));
}

/// InspIRCd's `<connect>` flood settings in the generated configuration are the packaged
/// ones (commandrate and fakelag stay unset: the code's defaults).
#[test]
fn inspircd_private_config_keeps_the_packaged_flood_settings() {
    if !ServerKind::Inspircd.available(module_path!()) {
        return;
    }
    let packaged = std::fs::read_to_string(inspircd::DEFAULT_CONF).expect("packaged conf");
    let dir = std::path::Path::new("/tmp/otrbnc-inspircd-conf-check");
    let private = inspircd::private_config(&packaged, 16667, dir).expect("private conf");
    for attr in [
        "threshold",
        "recvq",
        "softsendq",
        "hardsendq",
        "pingfreq",
        "timeout",
        "commandrate",
        "fakelag",
    ] {
        assert_eq!(
            inspircd::get_attr(&packaged, "connect", attr),
            inspircd::get_attr(&private, "connect", attr),
            "<connect {attr}> changed"
        );
    }
    assert_eq!(
        inspircd::get_attr(&private, "connect", "recvq").as_deref(),
        Some("8192")
    );
    assert_eq!(
        inspircd::get_attr(&private, "bind", "port").as_deref(),
        Some("16667")
    );
    assert_eq!(
        inspircd::get_attr(&private, "connect", "resolvehostnames").as_deref(),
        Some("no")
    );
}

/// A raw client that sends `lines` PRIVMSGs of 450 bytes at once to a second client: what
/// the flooder received until the server closed the connection.
async fn flood_once(server: &Server, lines: usize) -> Vec<crate::support::client::Msg> {
    let _target = Client::connect(server.addr(), None, "target", "target", &[]).await;
    let mut flooder = Client::connect(server.addr(), None, "flooder", "flooder", &[]).await;
    let mut burst = Vec::new();
    for i in 0..lines {
        burst.extend_from_slice(
            format!("PRIVMSG target :{i:03} {}\r\n", "x".repeat(430)).as_bytes(),
        );
    }
    flooder.send_bytes(&burst).await;
    flooder.wait_closed(secs(30)).await
}

/// The private instances enforce their flood limits on a raw client (so the acceptance
/// checks below can fail): hybrid cuts a client with more than 2,560 unparsed bytes
/// ("Excess Flood"), InspIRCd one with more than 8,192 ("RecvQ exceeded"), and the scenario's
/// flood-notice check recognises both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hybrid_and_inspircd_cut_off_a_raw_flooder() {
    for (kind, lines, reason) in [
        (ServerKind::Hybrid, 16, "Excess Flood"),
        (ServerKind::Inspircd, 40, "RecvQ exceeded"),
    ] {
        if !kind.available(module_path!()) {
            continue;
        }
        let server = Server::start(kind).await;
        let got = flood_once(&server, lines).await;
        let error = got
            .iter()
            .find(|m| m.command == "ERROR")
            .unwrap_or_else(|| panic!("{}: no ERROR for the flooder: {got:?}", kind.name()));
        assert!(
            error.text().contains(reason),
            "{}: {error} (expected {reason})",
            kind.name()
        );
        assert!(is_flood_notice(error));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_no_flood_notice(&got, "flooder")
        }));
        assert!(caught.is_err(), "the flood-notice check missed {error}");
    }
}

/// Runs the acceptance conversation on `kind` at otrbnc's default settings and prints what
/// it took.
async fn acceptance_at_default_settings(kind: ServerKind) {
    let f = server_scenario::acceptance(
        kind,
        |c: BncConfig| c.default_pacing().handshake_timeout(STEP_LIMIT.as_secs()),
        PER_SIDE,
        STEP_LIMIT,
    )
    .await;
    println!(
        "{} ({}), otrbnc default settings: private after {:.1} s; {PER_SIDE} long messages each way \
         in {:.1} s; SMP in {:.1} s; {:.1} s in all; lines up: alice {}, bob {}; bytes up: alice {}, bob {}",
        kind.name(),
        kind.version(),
        f.private_after.as_secs_f64(),
        f.messages_after.as_secs_f64(),
        f.smp_after.as_secs_f64(),
        f.total.as_secs_f64(),
        f.lines_up.0,
        f.lines_up.1,
        f.bytes_up.0,
        f.bytes_up.1,
    );
}

/// Issue 19, acceptance 1, on ngircd with its default penalties.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_on_ngircd() {
    if ServerKind::Ngircd.available(module_path!()) {
        acceptance_at_default_settings(ServerKind::Ngircd).await;
    }
}

/// Issue 19, acceptance 1, on ircd-hybrid with its packaged defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_on_hybrid() {
    if ServerKind::Hybrid.available(module_path!()) {
        acceptance_at_default_settings(ServerKind::Hybrid).await;
    }
}

/// Issue 19, acceptance 1, on InspIRCd with its packaged defaults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acceptance_on_inspircd() {
    if ServerKind::Inspircd.available(module_path!()) {
        acceptance_at_default_settings(ServerKind::Inspircd).await;
    }
}

/// The dropped-line check fails when the server swallows a line: on ngircd, the receiver's
/// auditor drops one of three PRIVMSGs (as hybrid drops messages to a flooded target), and
/// `assert_no_line_dropped` panics naming it; with nothing dropped it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dropped_line_check_sees_a_swallowed_line() {
    if !ServerKind::Ngircd.available(module_path!()) {
        return;
    }
    let server = Server::start(ServerKind::Ngircd).await;
    let aud_s = Auditor::start_labeled(server.addr(), "sender").await;
    let swallow: Rewrite = std::sync::Arc::new(|_, line: &[u8]| {
        if crate::support::find(line, b"swallow-me").is_some() {
            Vec::new()
        } else {
            line.to_vec()
        }
    });
    let aud_r = Auditor::start_rewriting(server.addr(), "receiver", swallow).await;
    let mut r = Client::connect(aud_r.addr(), None, "rcv", "rcv", &[]).await;
    let s = Client::connect(aud_s.addr(), None, "snd", "snd", &[]).await;
    for text in ["first", "swallow-me", "last"] {
        s.privmsg("rcv", text).await;
    }
    r.expect_text_from("snd", "last", secs(30)).await;
    let check = tokio::spawn(async move {
        server_scenario::assert_no_line_dropped(&aud_s, &aud_r, "snd", "rcv", secs(2)).await;
        (aud_s, aud_r)
    });
    match check.await {
        Ok(_) => panic!("a swallowed line went unnoticed"),
        Err(e) => assert!(e.is_panic(), "{e}"),
    }
    // Without the swallowed line the same check passes.
    let aud_s = Auditor::start_labeled(server.addr(), "sender 2").await;
    let aud_r = Auditor::start_labeled(server.addr(), "receiver 2").await;
    let mut r = Client::connect(aud_r.addr(), None, "rcv2", "rcv2", &[]).await;
    let s = Client::connect(aud_s.addr(), None, "snd2", "snd2", &[]).await;
    for text in ["first", "swallow-me", "last"] {
        s.privmsg("rcv2", text).await;
    }
    r.expect_text_from("snd2", "last", secs(30)).await;
    server_scenario::assert_no_line_dropped(&aud_s, &aud_r, "snd2", "rcv2", secs(10)).await;
}

/// ML-KEM material and the attestation (bulk lines) still flow on ircd-hybrid while a
/// conversation goes on at a typing pace (a reply 1 s after each message, so a line from each
/// side about every 2 s, as the bench's typed chat): the parse model
/// that holds bulk lines back must count each line once. Before the fix every paced line was
/// counted twice, and one bulk line went in 45 s of such a chat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_lines_flow_during_a_typed_chat_on_hybrid() {
    if !ServerKind::Hybrid.available(module_path!()) {
        return;
    }
    let pair = server_scenario::ServerPair::start(ServerKind::Hybrid, |c| {
        c.default_pacing().handshake_timeout(600)
    })
    .await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;
    let first = format!("first {}", crate::support::token(8));
    a.privmsg("bob", &first).await;
    b.expect_text_from("alice", &first, secs(120)).await;
    // Both sides now owe their attestation (28 bulk lines each).
    let before = server_scenario::sent_lines(&pair.aud_a, "bob").len();
    let turns = 20;
    for i in 0..turns {
        let text = format!("typed {i} {}", crate::support::token(8));
        if i % 2 == 0 {
            a.privmsg("bob", &text).await;
            b.expect_text_from("alice", &text, secs(30)).await;
        } else {
            b.privmsg("alice", &text).await;
            a.expect_text_from("bob", &text, secs(30)).await;
        }
        tokio::time::sleep(secs(1)).await;
    }
    let sent = server_scenario::sent_lines(&pair.aud_a, "bob").len() - before;
    let typed = turns / 2;
    // About 20 s at one bulk line per 2 s at most: measured 8; none with the double count.
    assert!(
        sent >= typed + 3,
        "alice sent {sent} lines to bob in the chat, {typed} of them typed"
    );
    assert_no_flood_notice(&pair.aud_a.msgs_to_client(), "alice");
}
