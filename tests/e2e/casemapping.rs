//! Nick case folding as the server declares it (`CASEMAPPING`, and `UTF8MAPPING` as Ergo sends
//! it): no spelling the server delivers to an opted-in nick gets text in clear, and neither a
//! change of mapping nor a server that stops declaring one loses an opt-in.
//!
//! ngircd declares `CASEMAPPING=ascii`; the auditor plays a server that declares something else
//! by rewriting that token on its way to otrbnc. (Ergo is not packaged for Debian: Debian's
//! `ergo` is a quantum chemistry program.) The server is the adversary and its declaration is
//! all that decides how otrbnc folds; the auditor's record of what otrbnc sent is the proof.

use std::sync::Arc;
use std::time::Duration;

use crate::require_e2e;
use crate::support::auditor::{Auditor, Rewrite};
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts, SERVER_NAME};
use crate::support::otrbnc::{BncConfig, OtrBnc};
use crate::support::scenario;
use crate::support::{find, secs, token};

/// What ngircd declares.
const NGIRCD: &[u8] = b"CASEMAPPING=ascii";
/// What Ergo declares with its PRECIS mapping (`server.casemapping: precis`).
const ERGO: &str = "CASEMAPPING=ascii UTF8MAPPING=rfc8265";

/// Declares `tokens` instead of ngircd's mapping on the connections `on` picks (by number).
fn declare(tokens: &'static str, on: fn(usize) -> bool) -> Rewrite {
    Arc::new(move |conn, line| {
        if !on(conn) {
            return line.to_vec();
        }
        match find(line, NGIRCD) {
            Some(i) => [&line[..i], tokens.as_bytes(), &line[i + NGIRCD.len()..]].concat(),
            None => line.to_vec(),
        }
    })
}

/// Drops every ISUPPORT line on the connections `on` picks: a server that declares nothing.
fn declare_nothing(on: fn(usize) -> bool) -> Rewrite {
    Arc::new(move |conn, line| {
        if on(conn) && find(line, b" 005 ").is_some() {
            Vec::new()
        } else {
            line.to_vec()
        }
    })
}

fn always(_: usize) -> bool {
    true
}

/// A bouncer for alice opted in to `nicks`, whose server says what `rewrite` makes it say,
/// reconnecting within a second or two.
async fn alice(ng: &Ngircd, nicks: &[&str], rewrite: Rewrite) -> (Auditor, OtrBnc) {
    let cfg = BncConfig::new("alice", ng.addr())
        .otr_nicks(nicks)
        .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2\n");
    scenario::bouncer_rewriting(ng, cfg, rewrite).await
}

/// Sends one fresh secret to each target; returns them in order.
async fn send_each(a: &Client, targets: &[&str]) -> Vec<String> {
    let mut secrets = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let s = format!("casemap-check-{i}-{}", token(12));
        a.privmsg(t, &s).await;
        secrets.push(s);
    }
    secrets
}

/// Waits until otrbnc has sent what it will, then panics if any secret is on the wire, naming
/// the target it was typed to; and unless otrbnc started OTR instead.
async fn assert_only_otr(aud: &Auditor, targets: &[&str], secrets: &[String]) {
    aud.wait_quiet(Duration::from_millis(800), secs(10)).await;
    for (t, s) in targets.iter().zip(secrets) {
        if let Some(found) = aud.find_any(&[s.as_bytes()]) {
            panic!("typed to {t:?}, which the server delivers to an opted-in nick: {found}");
        }
    }
    assert!(
        find(&aud.client_to_server(), b" :?OTR").is_some(),
        "no OTR at all went upstream:\n{}",
        aud.tail_to_server(20)
    );
}

/// Waits until `aud` saw registration number `n` and otrbnc is done with the burst.
async fn registered(aud: &Auditor, n: usize) {
    aud.wait_for(secs(20), "the upstream registered again", |a| {
        a.registrations() >= n
    })
    .await;
    aud.wait_quiet(Duration::from_millis(800), secs(10)).await;
}

/// Ergo with PRECIS (`CASEMAPPING=ascii UTF8MAPPING=rfc8265`): fullwidth letters, Unicode case
/// and decomposed accents reach the same user, alone, with a status prefix, as `nick@server`
/// or in a target list; a Unicode nick opted in under one case is addressed under another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ergo_precis_spellings_of_an_opted_in_nick_never_leak_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = alice(&ng, &["bob"], declare(ERGO, always)).await;
    assert!(find(&aud.server_to_client(), ERGO.as_bytes()).is_some());
    let mut a = scenario::attach(&bnc).await;
    let at_server = format!("ＢＯＢ@{SERVER_NAME}");
    let targets = ["ＢＯＢ", "Ｂob", "bｏb", "@ＢＯＢ", "+Ｂob", &at_server];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;

    // A target list: carol (not opted in) gets it in clear, the other spelling of bob never.
    let both = format!("both-{}", token(12));
    a.privmsg("carol,ＢＯＢ", &both).await;
    aud.wait_quiet(Duration::from_millis(800), secs(10)).await;
    aud.assert_sent(format!("PRIVMSG carol :{both}\r\n").as_bytes());
    for m in aud.msgs_to_server() {
        if m.text().contains(&both) {
            assert_eq!(m.target(), "carol", "{}", m.line());
        }
    }

    // A Unicode nick, opted in lower-case and composed, addressed otherwise.
    a.otr("enable böb").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("OTR enabled for böb")
    })
    .await;
    let targets = ["BÖB", "bo\u{308}b", "BO\u{308}B", "ｂÖｂ", "@Böb"];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;
    // And the other way round: opted in upper-case, addressed lower-case.
    a.otr("enable ÅSA").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("OTR enabled for ÅSA")
    })
    .await;
    let targets = ["åsa", "a\u{30a}sa", "Åsa"];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;
}

/// `CASEMAPPING=rfc8265` (Oragono before 2017 said `rfc7613`) and mappings no specification
/// defines (`utf8`): folded as PRECIS, and as the coarsest fold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oragono_and_unknown_casemappings_never_leak_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    for tokens in ["CASEMAPPING=rfc7613", "CASEMAPPING=utf8"] {
        let (aud, bnc) = alice(&ng, &["bob"], declare(tokens, always)).await;
        assert!(find(&aud.server_to_client(), tokens.as_bytes()).is_some());
        let mut a = scenario::attach(&bnc).await;
        let targets = ["ＢＯＢ", "@Ｂob"];
        let secrets = send_each(&a, &targets).await;
        assert_only_otr(&aud, &targets, &secrets).await;
        a.otr("enable böb").await;
        a.expect_otr(secs(10), "enable answered", |t| {
            t.contains("OTR enabled for böb")
        })
        .await;
        let targets = ["BÖB", "@bo\u{308}b"];
        let secrets = send_each(&a, &targets).await;
        assert_only_otr(&aud, &targets, &secrets).await;
        drop(a);
        drop(bnc);
    }
}

/// `CASEMAPPING=rfc1459`: `[]\~` are the upper case of `{}|^`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc1459_spellings_of_an_opted_in_nick_never_leak_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = alice(
        &ng,
        &["bob[x]", "dan^"],
        declare("CASEMAPPING=rfc1459", always),
    )
    .await;
    let a = scenario::attach(&bnc).await;
    let at_server = format!("Bob{{X}}@{SERVER_NAME}");
    let targets = ["BOB{X}", "bob{x}", "@BOB{x}", &at_server, "DAN~", "dan~"];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;
}

/// The first connection declares `ascii`; the next declares nothing at all, which means
/// `rfc1459` (RFC 2812): the nick opted in goes only as OTR under its own spelling and under
/// the one rfc1459 adds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_declaring_its_casemapping_gets_no_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = alice(&ng, &["bob[x]"], declare_nothing(|conn| conn >= 1)).await;
    let a = scenario::attach(&bnc).await;
    registered(&aud, 1).await;
    aud.cut();
    registered(&aud, 2).await;
    let second = aud
        .connections()
        .last()
        .map(|c| c.s2c.clone())
        .unwrap_or_default();
    assert!(find(&second, b" 005 ").is_none() && find(&second, b" 001 ").is_some());
    let targets = ["bob[x]", "BOB{X}"];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;
}

/// Under `rfc1459` the user opts in `bob{x}`, then `BOB[X]` (the same nick there); otrbnc then
/// reconnects or restarts, and the server declares `ascii`, where they are two nicks.
async fn enable_both_spellings_then(down: Down) {
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, mut bnc) = alice(&ng, &[], declare("CASEMAPPING=rfc1459", |conn| conn == 0)).await;
    let mut a = scenario::attach(&bnc).await;
    a.otr("enable bob{x}").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("OTR enabled for bob{x}")
    })
    .await;
    a.otr("enable BOB[X]").await;
    a.expect_otr(secs(10), "enable answered", |t| {
        t.contains("already enabled for BOB[X]")
    })
    .await;
    let a = match down {
        Down::Reconnect => {
            aud.cut();
            registered(&aud, 2).await;
            a
        }
        Down::Restart => {
            drop(a);
            bnc.restart().await;
            registered(&aud, 2).await;
            scenario::attach(&bnc).await
        }
    };
    let second = aud
        .connections()
        .last()
        .map(|c| c.s2c.clone())
        .unwrap_or_default();
    assert!(find(&second, NGIRCD).is_some());
    let targets = ["bob{x}", "BOB[X]"];
    let secrets = send_each(&a, &targets).await;
    assert_only_otr(&aud, &targets, &secrets).await;
}

/// How otrbnc comes back to a server that now declares another mapping.
#[derive(Clone, Copy, Debug)]
enum Down {
    /// The connection drops; the opt-ins in memory are folded again.
    Reconnect,
    /// A restart; the opt-ins come back from the store.
    Restart,
}

/// Both spellings stay opted in across a reconnection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_opt_in_is_lost_when_the_casemapping_changes() {
    require_e2e!();
    enable_both_spellings_then(Down::Reconnect).await;
}

/// And across a restart: the store kept `BOB[X]` under the key `bob{x}`, and both count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stored_opt_in_is_lost_when_the_casemapping_changes() {
    require_e2e!();
    enable_both_spellings_then(Down::Restart).await;
}
