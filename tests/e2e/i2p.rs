//! Upstreams through I2P: both bouncers reach ngircd only through a real i2pd router's SAM
//! bridge and the router's server tunnel in front of the test's auditor
//! (`scripts/i2p-testnet/start`: i2pd on loopback, no internet). A private conversation, SMP
//! and a reconnect go over it.

use std::time::{Duration, Instant};

use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::OtrBnc;
use crate::support::scenario::{
    assert_only_otr_to, assert_reassembles, attach, deliver, registered_via, status_of,
    upstream_status,
};
use crate::support::token;
use crate::{require_e2e, require_i2p};

/// From otrbnc's start to the upstream's registration: a new SAM session (tunnels built on
/// the router, ~20 s each on i2pd 2.45), a lease-set lookup, the stream.
const REGISTER_OVER_I2P: Duration = Duration::from_secs(300);
/// The first message: the whole first-contact handshake.
const FIRST: Duration = Duration::from_secs(180);
/// A message or an SMP run through an established session.
const NEXT: Duration = Duration::from_secs(60);

async fn registered(aud: &Auditor, n: usize, bncs: &[&OtrBnc]) {
    registered_via(aud, n, bncs, REGISTER_OVER_I2P, "I2P").await;
}

/// The seconds otrbnc reported for making its I2P session ("I2P session ready after N s").
async fn session_secs(c: &Client) -> f64 {
    c.wait_log(
        crate::support::secs(10),
        "I2P session progress played back",
        |log| {
            log.iter()
                .any(|m| m.is_otr_control() && m.text().starts_with("I2P session ready after"))
        },
    )
    .await;
    let told = c.otr_texts();
    assert!(
        told.iter()
            .any(|t| t.starts_with("Creating an I2P session for test")),
        "the client was not told a session was being made: {told:?}"
    );
    told.iter()
        .find_map(|t| {
            t.strip_prefix("I2P session ready after ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(f64::NAN)
}

/// The address i2pd's server tunnel connects from for a client destination: 127 and the
/// first three bytes of the destination's hash (the `.b32.i2p` address, base32-decoded).
fn tunnel_source(b32: &str) -> String {
    let name = b32.trim_end_matches(".b32.i2p").to_ascii_uppercase();
    let hash = data_encoding::BASE32_NOPAD
        .decode(name.as_bytes())
        .unwrap_or_else(|e| panic!("{b32:?} is not a b32 address: {e}"));
    format!("127.{}.{}.{}", hash[0], hash[1], hash[2])
}

/// The router's server tunnel has one fixed target: one test at a time listens there.
static TUNNEL_TARGET: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Criterion 1: alice and bob, each through their own SAM session on the router, reach
/// ngircd only through the server tunnel; messages both ways are private, SMP verifies, the
/// wire carries only OTR, and after the server side drops alice she comes back through I2P.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_and_smp_through_i2p() {
    require_e2e!();
    let i2p = require_i2p!();
    let _target = TUNNEL_TARGET.lock().await;
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    // The server tunnel forwards to this fixed address: one auditor sees both bouncers.
    let aud = Auditor::start_on(i2p.target, ngircd.addr(), "auditor behind the I2P tunnel").await;
    let started = Instant::now();
    let a = OtrBnc::start(i2p.bnc("alice", "bob")).await;
    let b = OtrBnc::start(i2p.bnc("bob", "alice")).await;
    registered(&aud, 2, &[&a, &b]).await;
    let registered_after = started.elapsed();
    let mut ca = attach(&a).await;
    let mut cb = attach(&b).await;
    let (sa, sb) = (session_secs(&ca).await, session_secs(&cb).await);

    let mut sources = Vec::new();
    for (c, nick) in [(&mut ca, "alice"), (&mut cb, "bob")] {
        let up = upstream_status(c).await;
        assert!(
            up.contains(&format!(
                "connected, through I2P (SAM {}, transient address ",
                i2p.sam
            )) && up.contains(".b32.i2p), no TLS"),
            "{up}"
        );
        let b32 = up
            .split_whitespace()
            .find(|w| w.contains(".b32.i2p"))
            .map(|w| w.trim_end_matches([')', ',']))
            .unwrap_or_default();
        sources.push((nick, tunnel_source(b32)));
    }
    // Every connection to the IRC server came out of the router's server tunnel, each from
    // the address the tunnel derives from the client's own destination: ngircd registered
    // alice and bob from their sessions' addresses, and nobody from 127.0.0.1.
    assert_eq!(aud.connection_count(), 2, "{:?}", aud.peers());
    let log = ngircd.log();
    for (nick, source) in &sources {
        let line = format!("User \"{nick}!~{nick}@{source}\" registered");
        assert!(
            log.contains(&line),
            "ngircd's log has no `{line}`:\n{}",
            crate::support::tail(&log, 30)
        );
    }

    let mut to_bob = Vec::new();
    let mut to_alice = Vec::new();
    let first_text = format!("over i2p, first message {}", token(12));
    let t0 = Instant::now();
    deliver(&ca, &mut cb, &first_text, FIRST).await;
    let first = t0.elapsed();
    to_bob.push(first_text);
    for i in 0..6 {
        let text = match i {
            2 => format!("L{}", token(999)),
            3 => format!("grüße über I2P 🧄 {}", token(12)),
            _ => format!("message {i} over i2p {}", token(12)),
        };
        if i % 2 == 0 {
            if text.len() > 400 {
                ca.privmsg("bob", &text).await;
                cb.expect_long_text_from("alice", &text, NEXT).await;
            } else {
                deliver(&ca, &mut cb, &text, NEXT).await;
            }
            to_bob.push(text);
        } else {
            deliver(&cb, &mut ca, &text, NEXT).await;
            to_alice.push(text);
        }
    }
    assert_reassembles(&cb.texts_from("alice"), &to_bob);
    assert_reassembles(&ca.texts_from("bob"), &to_alice);

    let secret = format!("garlic {}", token(8));
    let t1 = Instant::now();
    ca.otr(&format!("auth bob {secret}")).await;
    cb.expect_otr(NEXT, "request", |t| t.starts_with("alice wants to verify"))
        .await;
    cb.otr(&format!("auth alice {secret}")).await;
    ca.expect_otr(NEXT, "verified", |t| t.starts_with("You verified bob"))
        .await;
    let verified = t1.elapsed();
    let (_, fp) = status_of(&mut ca, "bob", NEXT).await;
    assert!(fp.contains("verified by SMP"), "{fp}");

    assert_only_otr_to(&aud, "bob");
    assert_only_otr_to(&aud, "alice");
    let mut needles: Vec<&[u8]> = to_bob
        .iter()
        .chain(&to_alice)
        .map(|t| &t.as_bytes()[..t.len().min(40)])
        .collect();
    needles.push(secret.as_bytes());
    aud.assert_absent(&needles);
    assert!(
        !log.contains("@127.0.0.1\" registered"),
        "ngircd registered a user from 127.0.0.1, not through the tunnel:\n{}",
        crate::support::tail(&log, 30)
    );

    eprintln!(
        "FIGURE i2p: session creation alice {sa:.0} s, bob {sb:.0} s; both registered {:.1} s \
         after start; first message (first-contact handshake, no pacing) {:.1} s; SMP {:.1} s; \
         RSS alice {} KiB",
        registered_after.as_secs_f64(),
        first.as_secs_f64(),
        verified.as_secs_f64(),
        a.rss_kib().unwrap_or(0)
    );

    // The server side drops both: they reconnect through I2P on their sessions.
    aud.cut();
    registered(&aud, 4, &[&a, &b]).await;
    assert_eq!(aud.connection_count(), 4);
    let text = format!("after the reconnect {}", token(8));
    deliver(&ca, &mut cb, &text, FIRST).await;
}

/// Our address in `*otr status` ("… transient|persistent address <b32>), …").
async fn our_address(c: &mut Client, kind: &str) -> String {
    let up = upstream_status(c).await;
    let after = up
        .split_once(&format!("{kind} address "))
        .unwrap_or_else(|| panic!("no {kind} address in: {up}"))
        .1;
    after
        .split(')')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `i2p.destination = "persistent"` on a real router: the keys the router made are kept
/// (sealed) and offered again after a restart, so the network comes back with the same
/// `.b32.i2p` address, and ngircd sees it from the same tunnel address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persistent_destination_keeps_its_address_across_a_restart() {
    require_e2e!();
    let i2p = require_i2p!();
    let _target = TUNNEL_TARGET.lock().await;
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start_on(i2p.target, ngircd.addr(), "auditor behind the I2P tunnel").await;
    let mut a = OtrBnc::start(
        i2p.bnc("alice", "bob")
            .i2p_toml("destination = \"persistent\"")
            .network_toml("reconnect_min_secs = 2"),
    )
    .await;
    registered(&aud, 1, &[&a]).await;
    let mut c = attach(&a).await;
    let first = our_address(&mut c, "persistent").await;
    assert!(
        a.data_dir().join("i2p-test.sealed").is_file(),
        "the keys were not stored"
    );
    drop(c);

    a.restart().await;
    registered(&aud, 2, &[&a]).await;
    let mut c = attach(&a).await;
    let again = our_address(&mut c, "persistent").await;
    assert_eq!(again, first, "a new I2P address after the restart");
    let source = tunnel_source(&first);
    let log = ngircd.log();
    assert_eq!(
        log.matches(&format!("User \"alice!~alice@{source}\" registered"))
            .count(),
        2,
        "ngircd did not see alice twice from {source}:\n{}",
        crate::support::tail(&log, 30)
    );
}
