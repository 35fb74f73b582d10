//! Registration that does not get stuck (issue 17, acceptance criterion 7): a nick collision
//! on a server with a short NICKLEN ends registered under a nick that fits, `alt_nicks` are
//! tried first, a server that refuses every nick is left and retried later, and
//! `sasl_required` with a failing SASL does not register (while without it registration goes
//! on). ngircd has no SASL: the man in the middle plays the SASL part of the server.

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::{Client, Login};
use crate::support::hostile::Hostile;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, OtrBnc};
use crate::support::scenario::{self, REGISTER_TIMEOUT, upstream_status};
use crate::support::secs;

/// ngircd's `MaxNickLength` in the short-NICKLEN tests (it declares `NICKLEN=6`).
const SHORT: usize = 6;

/// Plain clients holding `nicks` on the server.
async fn occupy(ng: &Ngircd, nicks: &[&str]) -> Vec<Client> {
    let mut held = Vec::new();
    for n in nicks {
        let c = Client::connect(ng.addr(), None, n, n, &[]).await;
        assert_eq!(c.nick(), *n);
        held.push(c);
    }
    held
}

/// The nicks otrbnc sent in `NICK` lines, in order.
fn nicks_tried(aud: &Auditor) -> Vec<String> {
    aud.msgs_to_server()
        .into_iter()
        .filter(|m| m.command == "NICK")
        .map(|m| m.param(0).to_string())
        .collect()
}

/// The nick the server welcomed otrbnc with (the first `001`'s target).
fn welcomed_as(aud: &Auditor) -> String {
    aud.msgs_to_client()
        .into_iter()
        .find(|m| m.command == "001")
        .map(|m| m.param(0).to_string())
        .expect("no 001")
}

/// NICKLEN is 6 and unknown before `001`, so otrbnc starts from the RFC's 9: `alices` is
/// taken (433), `alices_` is too long (432, so the limit drops to 6 and the variants get
/// shorter), `alic__` is taken, `alice1` registers. A client attached afterwards is welcomed
/// as `alice1`, and a collision of the client's own NICK after registration reaches it
/// unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nick_collision_with_a_short_nicklen_ends_registered() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts {
        max_nick_len: SHORT as u32,
        ..NgircdOpts::no_penalties()
    })
    .await;
    let _held = occupy(&ng, &["alices", "alic__"]).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alices", ng.addr())).await;
    let nick = welcomed_as(&aud);
    println!("NICKs tried: {:?}", nicks_tried(&aud));
    assert_eq!(nick, "alice1");
    assert!(nick.len() <= SHORT);
    assert_eq!(nicks_tried(&aud), ["alices", "alices_", "alic__", "alice1"]);
    let refusals: Vec<String> = aud
        .msgs_to_client()
        .into_iter()
        .filter(|m| m.command.starts_with("43"))
        .map(|m| m.command)
        .collect();
    assert_eq!(refusals, ["433", "432", "433"]);
    let mut c = scenario::attach(&bnc).await;
    assert_eq!(c.nick(), nick, "the client was welcomed under another nick");
    // After registration the server's answer to the client's own NICK passes unchanged.
    c.send_raw("NICK alices").await;
    let refused = c
        .expect_desc(secs(10), "433 for the client's NICK", |m| {
            m.command == "433"
        })
        .await;
    assert_eq!(refused.param(1), "alices");
    assert_eq!(aud.registrations(), 1);
}

/// The configured alternatives come before any generated variant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alt_nicks_are_tried_first() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts {
        max_nick_len: SHORT as u32,
        ..NgircdOpts::no_penalties()
    })
    .await;
    let _held = occupy(&ng, &["alice", "alicia"]).await;
    let cfg = BncConfig::new("alice", ng.addr()).network_toml("alt_nicks = [\"alicia\", \"ally\"]");
    let (aud, bnc) = scenario::bouncer(&ng, cfg).await;
    assert_eq!(nicks_tried(&aud), ["alice", "alicia", "ally"]);
    assert_eq!(welcomed_as(&aud), "ally");
    let c = scenario::attach(&bnc).await;
    assert_eq!(c.nick(), "ally");
}

/// Every nick otrbnc may try is taken: it says so in `*otr`, QUITs (no connection left
/// hanging unregistered) and connects again after the backoff; once the nick is free it
/// registers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_nick_is_taken_it_quits_and_tries_again_later() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let taken = [
        "bo", "bo_", "bo__", "bo1", "bo2", "bo3", "bo4", "bo5", "bo6",
    ];
    let mut held = occupy(&ng, &taken).await;
    let aud = Auditor::start_labeled(ng.addr(), "auditor for bo").await;
    let cfg = BncConfig::new("bo", aud.addr())
        .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2");
    let bnc = OtrBnc::start(cfg).await;
    aud.wait_for(secs(20), "a QUIT after the last nick", |a| {
        a.msgs_to_server().iter().any(|m| m.command == "QUIT")
    })
    .await;
    assert_eq!(nicks_tried(&aud), taken, "the tries are the bounded list");
    // Free the nick; the next attempt (after the quick-close floor) registers with it.
    held.remove(0).quit("bye").await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    assert_eq!(welcomed_as(&aud), "bo");
    assert!(aud.connection_count() >= 2);
    let mut c = scenario::attach(&bnc).await;
    // The notice was kept for the client that attached later.
    c.expect_otr(secs(10), "the give-up notice", |t| {
        t.starts_with("test refused every nick otrbnc tried")
    })
    .await;
}

/// otrbnc → the man in the middle (playing SASL) → an auditor → ngircd, with SASL PLAIN
/// configured; `extra` goes in the network section.
async fn behind_fake_sasl(numeric: &str, extra: &str) -> (Ngircd, Auditor, Hostile, OtrBnc) {
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start_labeled(ng.addr(), "auditor behind the SASL shim").await;
    let evil = Hostile::start(aud.addr()).await;
    evil.fake_sasl(numeric);
    let cfg = BncConfig::new("alice", evil.addr())
        .network_toml("sasl_mechanism = \"plain\"\nsasl_password = \"not-the-password\"")
        .network_toml(extra);
    let bnc = OtrBnc::start(cfg).await;
    (ng, aud, evil, bnc)
}

fn sent(evil: &Hostile) -> String {
    String::from_utf8_lossy(&evil.sent_by_otrbnc()).into_owned()
}

/// With `sasl_required`, a refused password (904) ends the attempt: no `CAP END`, so the
/// server never completes the registration; a QUIT goes out; the user is told why in `*otr`,
/// and retries stop until `*otr reconnect` (a wrong password does not fix itself).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_required_with_a_failing_sasl_does_not_register() {
    require_e2e!();
    let (ng, aud, evil, bnc) = behind_fake_sasl("904", "sasl_required = true").await;
    let started = std::time::Instant::now();
    while !sent(&evil).contains("QUIT") {
        assert!(
            started.elapsed() < secs(20),
            "no QUIT; otrbnc sent:\n{}",
            sent(&evil)
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let wire = sent(&evil);
    assert!(wire.contains("AUTHENTICATE PLAIN"), "{wire}");
    assert!(!wire.contains("CAP END"), "CAP END was sent:\n{wire}");
    let login = Login::new(Some(&bnc.pass()), "alice").no_welcome();
    let mut c = Client::connect_with(bnc.addr(), login).await;
    let told = c
        .expect_otr(secs(10), "the SASL failure", |t| {
            t.starts_with("SASL authentication to test failed")
        })
        .await;
    assert!(
        told.text().contains("sasl_required is set"),
        "{}",
        told.text()
    );
    let up = upstream_status(&mut c).await;
    assert!(up.contains("stopped after an error"), "{up}");
    assert_eq!(aud.registrations(), 0, "the server welcomed otrbnc");
    assert_eq!(ng.registrations_of("alice"), 0, "ngircd registered alice");
    assert_eq!(evil.connections(), 1, "retried after a refused password");
}

/// Without `sasl_required` the same failure is reported and registration goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_sasl_required_a_failing_sasl_still_registers() {
    require_e2e!();
    let (_ng, aud, evil, bnc) = behind_fake_sasl("904", "").await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    assert!(sent(&evil).contains("CAP END"));
    let mut c = scenario::attach(&bnc).await;
    c.expect_otr(secs(10), "the SASL failure", |t| {
        t.starts_with("SASL authentication to test failed")
    })
    .await;
}

/// With `sasl_required` and a successful SASL, registration completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sasl_required_with_a_working_sasl_registers() {
    require_e2e!();
    let (_ng, aud, evil, _bnc) = behind_fake_sasl("903", "sasl_required = true").await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    assert!(!sent(&evil).contains("QUIT"));
}
