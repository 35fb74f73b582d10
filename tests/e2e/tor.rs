//! Upstreams through Tor. The embedded client (arti) runs against a local Tor network of
//! Debian's tor daemons (`scripts/tor-testnet/start`: authorities, relays, an exit, an onion
//! service in front of the test's auditor, a c-tor SocksPort); the fail-closed test needs no
//! Tor at all, only a "Tor network" that is down.
//!
//! The auditors connect to ngircd from the address their peer came from, so ngircd's own log
//! names the real origin: the exit relay's address, or the onion service's.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::auditor::Auditor;
use crate::support::client::{Client, Login};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, OtrBnc, toml_str};
use crate::support::scenario::{
    assert_only_otr_to, assert_reassembles, attach, deliver, registered_via, upstream_status,
};
use crate::support::{secs, token};
use crate::{require_e2e, require_tor};

/// From otrbnc's start to the upstream's registration: arti bootstraps from nothing (a fresh
/// data directory) and, for the onion service, fetches a descriptor and meets it.
const REGISTER_OVER_TOR: Duration = Duration::from_secs(300);
/// The first message: the whole first-contact handshake, over Tor.
const FIRST: Duration = Duration::from_secs(180);
/// A message through an established session.
const NEXT: Duration = Duration::from_secs(60);

async fn registered(aud: &Auditor, n: usize, bncs: &[&OtrBnc]) {
    registered_via(aud, n, bncs, REGISTER_OVER_TOR, "Tor").await;
}

/// Ten messages alternating both ways (UTF-8, a long one, a `/me`): each arrives once, in
/// order. Returns (texts to bob, texts to alice) and the time the first one took.
async fn converse(a: &mut Client, b: &mut Client) -> (Vec<String>, Vec<String>, Duration) {
    let mut to_bob = Vec::new();
    let mut to_alice = Vec::new();
    let mut first = Duration::ZERO;
    for i in 0..10 {
        let tok = token(12);
        let text = match i {
            0 => format!("over tor, first message {tok}"),
            3 => format!("grüße über Tor 🧅 {tok}"),
            4 => format!("L{}", token(999)),
            _ => format!("message {i} over tor {tok}"),
        };
        let started = Instant::now();
        if i % 2 == 0 {
            let limit = if i == 0 { FIRST } else { NEXT };
            if text.len() > 400 {
                a.privmsg("bob", &text).await;
                b.expect_long_text_from("alice", &text, limit).await;
            } else {
                deliver(a, b, &text, limit).await;
            }
            to_bob.push(text);
        } else if i == 5 {
            let act = format!("waves through three relays {tok}");
            b.action("alice", &act).await;
            let shown = format!("\u{1}ACTION {act}\u{1}");
            a.expect_text_from("bob", &shown, NEXT).await;
            to_alice.push(shown);
        } else {
            deliver(b, a, &text, NEXT).await;
            to_alice.push(text);
        }
        if i == 0 {
            first = started.elapsed();
        }
    }
    assert_reassembles(&b.texts_from("alice"), &to_bob);
    assert_reassembles(&a.texts_from("bob"), &to_alice);
    (to_bob, to_alice, first)
}

/// Panics unless none of `texts` crossed the auditor.
fn assert_no_plaintext(aud: &Auditor, texts: &[String]) {
    let needles: Vec<Vec<u8>> = texts
        .iter()
        .map(|t| t.as_bytes()[..t.len().min(40)].to_vec())
        .collect();
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    aud.assert_absent(&refs);
}

/// Panics unless every connection the auditor (and so ngircd) saw came from `source`, and
/// ngircd registered exactly these nicks from there and nothing from 127.0.0.1.
fn assert_arrived_from(ngircd: &Ngircd, auds: &[&Auditor], source: IpAddr, nicks: &[&str]) {
    for aud in auds {
        let peers = aud.peers();
        assert!(!peers.is_empty(), "no connection reached the auditor");
        for p in &peers {
            assert_eq!(
                p.ip(),
                source,
                "a connection to the IRC server came from {p}, not from {source}: all {peers:?}"
            );
        }
    }
    let log = ngircd.log();
    for nick in nicks {
        let line = format!("User \"{nick}!~{nick}@{source}\" registered");
        assert!(
            log.contains(&line),
            "ngircd's log has no `{line}`:\n{}",
            crate::support::tail(&log, 30)
        );
    }
    assert!(
        !log.contains("@127.0.0.1\" registered"),
        "ngircd registered a user from 127.0.0.1 (a direct connection):\n{}",
        crate::support::tail(&log, 30)
    );
}

/// Figures for the closing note and docs/BENCHMARKS.md (printed, not asserted).
async fn report(what: &str, bnc: &OtrBnc, c: &mut Client, first: Duration) {
    let up = upstream_status(c).await;
    assert!(
        up.contains("connected, through Tor (embedded, bootstrapped"),
        "{up}"
    );
    eprintln!(
        "FIGURE tor {what} {}: {up}; RSS {} KiB; first message (first-contact handshake) {:.1} s",
        bnc.config().label,
        bnc.rss_kib().unwrap_or(0),
        first.as_secs_f64()
    );
}

/// Bootstrap progress reached the client (played back on attach, or live).
async fn assert_progress_told(c: &Client) {
    let said = |log: &[crate::support::client::Msg], head: &str| {
        log.iter()
            .any(|m| m.is_otr_control() && m.text().starts_with(head))
    };
    // Playback follows the registration burst: give it a moment to arrive.
    c.wait_log(secs(10), "Tor progress played back", |log| {
        said(log, "Tor: bootstrapping") && said(log, "Tor: bootstrapped")
    })
    .await;
    let told = c.otr_texts();
    assert!(
        told.iter().any(|t| t.starts_with("Tor: bootstrapping")),
        "no bootstrap progress reached the client: {told:?}"
    );
    assert!(
        told.iter().any(|t| t.starts_with("Tor: bootstrapped")),
        "the client was not told Tor bootstrapped: {told:?}"
    );
}

/// Criterion 1 (exit) and 2: alice and bob each through their own embedded Tor client, out
/// of the test network's exit to 127.0.0.1; a private conversation; ngircd sees both from the
/// exit relay's address only, and the wire carries only OTR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_through_the_tor_exit() {
    require_e2e!();
    let tor = require_tor!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud_a = Auditor::start_labeled(ngircd.addr(), "auditor for alice").await;
    let aud_b = Auditor::start_labeled(ngircd.addr(), "auditor for bob").await;
    let a = OtrBnc::start(tor.bnc("alice", "bob", aud_a.addr()).handshake_timeout(180)).await;
    let b = OtrBnc::start(tor.bnc("bob", "alice", aud_b.addr()).handshake_timeout(180)).await;
    registered(&aud_a, 1, &[&a]).await;
    registered(&aud_b, 1, &[&b]).await;
    let mut ca = attach(&a).await;
    let mut cb = attach(&b).await;
    assert_progress_told(&ca).await;

    let (to_bob, to_alice, first) = converse(&mut ca, &mut cb).await;
    assert_only_otr_to(&aud_a, "bob");
    assert_only_otr_to(&aud_b, "alice");
    assert_no_plaintext(&aud_a, &to_bob);
    assert_no_plaintext(&aud_b, &to_alice);
    assert_arrived_from(
        &ngircd,
        &[&aud_a, &aud_b],
        tor.exit_source,
        &["alice", "bob"],
    );
    report("exit", &a, &mut ca, first).await;
    report("exit", &b, &mut cb, first).await;

    // The server side drops alice: she reconnects, through Tor again.
    aud_a.cut();
    registered(&aud_a, 2, &[&a]).await;
    assert_eq!(aud_a.connection_count(), 2);
    assert_arrived_from(&ngircd, &[&aud_a], tor.exit_source, &["alice"]);
    let text = format!("after the reconnect {}", token(8));
    deliver(&ca, &mut cb, &text, FIRST).await;
}

/// Criterion 1 (onion) and 2: both bouncers reach the IRC server only as the test network's
/// onion service (its address is the only host they are given); ngircd sees both from the
/// onion service's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_through_an_onion_service() {
    require_e2e!();
    let tor = require_tor!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    // The onion service forwards to this fixed address: one auditor sees both bouncers.
    let aud = Auditor::start_on(tor.onion_target, ngircd.addr(), "auditor behind the onion").await;
    let (onion_port, onion) = tor.onion_upstream();
    let mut ca_cfg = tor.bnc("alice", "bob", onion_port).handshake_timeout(180);
    ca_cfg.upstream_host = Some(onion.clone());
    let mut cb_cfg = tor.bnc("bob", "alice", onion_port).handshake_timeout(180);
    cb_cfg.upstream_host = Some(onion);
    let a = OtrBnc::start(ca_cfg).await;
    let b = OtrBnc::start(cb_cfg).await;
    registered(&aud, 2, &[&a, &b]).await;
    let mut ca = attach(&a).await;
    let mut cb = attach(&b).await;
    assert_progress_told(&cb).await;

    let (to_bob, to_alice, first) = converse(&mut ca, &mut cb).await;
    assert_only_otr_to(&aud, "bob");
    assert_only_otr_to(&aud, "alice");
    assert_no_plaintext(&aud, &to_bob);
    assert_no_plaintext(&aud, &to_alice);
    assert_arrived_from(&ngircd, &[&aud], tor.onion_source, &["alice", "bob"]);
    report("onion", &a, &mut ca, first).await;
    report("onion", &b, &mut cb, first).await;
}

/// `transport = "socks5"`: an external Tor (the test network's c-tor client) reaches the IRC
/// server through the exit. (c-tor clients refuse the name `localhost`, so the target is an
/// address here; that names reach the proxy unresolved is `socks5::tests`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_through_an_external_tor() {
    require_e2e!();
    let tor = require_tor!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start_labeled(ngircd.addr(), "auditor for alice").await;
    let cfg = BncConfig::new("alice", aud.addr())
        .transport("socks5")
        .network_toml("tls = false")
        .network_toml(&format!(
            "socks_proxy = {}",
            toml_str(&tor.socks.to_string())
        ));
    let a = OtrBnc::start(cfg).await;
    registered(&aud, 1, &[&a]).await;
    let mut c = attach(&a).await;
    let up = upstream_status(&mut c).await;
    assert!(
        up.contains(&format!("through SOCKS5 proxy {}", tor.socks)),
        "{up}"
    );
    assert_arrived_from(&ngircd, &[&aud], tor.exit_source, &["alice"]);
}

/// A "Tor network" that is down: a listener that counts connections and drops them.
struct DeadTor {
    port: u16,
    seen: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl DeadTor {
    async fn start() -> DeadTor {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = l.local_addr().expect("addr").port();
        let seen = Arc::new(AtomicUsize::new(0));
        let s = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = l.accept().await {
                s.fetch_add(1, Ordering::SeqCst);
                drop(sock);
            }
        });
        DeadTor {
            port,
            seen,
            _task: task,
        }
    }

    /// arti's configuration naming this "network": one authority, one fallback directory.
    fn arti_toml(&self) -> String {
        format!(
            "[tor_network]\n\
             fallback_caches = [{{ rsa_identity = \"{}\", ed_identity = \"{}\", orports = [\"127.0.0.1:{}\"] }}]\n\
             [tor_network.authorities]\n\
             v3idents = [\"{}\"]\n",
            "AA".repeat(20),
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            self.port,
            "BB".repeat(20)
        )
    }
}

/// Criteria 2 and 3 (failure side): with the Tor network down, otrbnc tries Tor (the dead
/// network's directory port sees connections), tells the client how the bootstrap goes and
/// that it gives up, keeps retrying through Tor, and never connects to the IRC server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tor_down_means_no_connection_and_a_clear_message() {
    require_e2e!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start_labeled(ngircd.addr(), "auditor for alice").await;
    let dead = DeadTor::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let arti = dir.path().join("arti.toml");
    std::fs::write(&arti, dead.arti_toml()).expect("write arti.toml");
    let cfg = BncConfig::new("alice", aud.addr())
        .transport("tor")
        .network_toml("tls = false")
        .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2")
        .tor_toml(&format!(
            "arti_config = {}",
            toml_str(&arti.display().to_string())
        ))
        .tor_toml("bootstrap_timeout_secs = 10");
    let a = OtrBnc::start(cfg).await;
    let login = Login::new(Some(&a.pass()), "alice").no_welcome();
    let mut c = Client::connect_with(a.addr(), login).await;
    c.expect_otr(secs(20), "bootstrap progress", |t| {
        t.starts_with("Tor: bootstrapping")
    })
    .await;
    let gave_up = c
        .expect_otr(secs(40), "the bootstrap failure", |t| {
            t.starts_with("Cannot connect to test")
        })
        .await
        .text()
        .to_string();
    assert!(
        gave_up.contains("Tor is not ready after")
            && gave_up.contains("not connecting without Tor"),
        "{gave_up}"
    );
    // A second attempt (the backoff is 1-2 s, plus the 10 s wait) also goes to Tor only.
    tokio::time::sleep(secs(15)).await;
    let up = upstream_status(&mut c).await;
    assert!(up.contains("through Tor (embedded, bootstrapping"), "{up}");
    assert!(
        dead.seen.load(Ordering::SeqCst) > 0,
        "arti never tried the (dead) Tor network"
    );
    assert_eq!(
        aud.connection_count(),
        0,
        "otrbnc connected to the IRC server without Tor"
    );
    assert!(
        !ngircd.log().contains("\" registered"),
        "ngircd registered someone:\n{}",
        ngircd.log()
    );
    assert!(
        !a.log().contains("bootstrapped"),
        "otrbnc claims Tor bootstrapped:\n{}",
        crate::support::tail(&a.log(), 30)
    );
}
