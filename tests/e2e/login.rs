//! (j) Logging in to the bouncer: wrong or missing credentials are refused before anything
//! reaches the server, and the listener is bound to loopback only.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use crate::require_e2e;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, PASSWORD, listening_addrs};
use crate::support::{find, scenario, secs};

/// A non-loopback address of this machine, if it has one (found by routing a UDP socket; no
/// packet is sent).
fn non_loopback_addr() -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_refused_and_loopback_only() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) =
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])).await;

    let attempts: [(Option<String>, &str); 4] = [
        (Some("alice/test:wrong-password".to_string()), "intruder1"),
        (None, "intruder2"),
        (Some(format!("mallory/test:{PASSWORD}")), "intruder3"),
        (Some(format!("alice/nosuchnet:{PASSWORD}")), "intruder4"),
    ];
    for (pass, nick) in &attempts {
        let before = aud.c2s_len();
        let got = Client::connect_expect_refused(bnc.addr(), pass.as_deref(), nick, nick).await;
        assert!(
            got.iter()
                .any(|m| m.command == "ERROR" || m.command == "464"),
            "PASS {pass:?}: expected ERROR or 464 before the close, got {:?}",
            got.iter().map(|m| m.to_string()).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let after = aud.client_to_server();
        let new = &after[before.min(after.len())..];
        assert!(
            find(new, nick.as_bytes()).is_none() && find(new, b"wrong-password").is_none(),
            "the refused attempt {nick} reached the server:\n{}",
            aud.tail_to_server(10)
        );
    }
    assert!(!ng.log().contains("intruder"), "{}", ng.log());
    assert_eq!(aud.connection_count(), 1);

    // The listener: loopback only.
    let addrs = listening_addrs(bnc.port());
    assert!(!addrs.is_empty(), "nothing listens on {}", bnc.port());
    for ip in &addrs {
        assert!(
            ip.is_loopback(),
            "otrbnc listens on {ip}:{} (not loopback)",
            bnc.port()
        );
    }
    if let Some(ip) = non_loopback_addr() {
        let r = tokio::time::timeout(
            secs(3),
            tokio::net::TcpStream::connect(SocketAddr::new(ip, bnc.port())),
        )
        .await;
        assert!(
            !matches!(r, Ok(Ok(_))),
            "otrbnc accepted a connection on {ip}:{}",
            bnc.port()
        );
    } else {
        println!("no non-loopback address on this machine; checked /proc/net/tcp only");
    }

    // And the right password still works.
    let ok = scenario::attach(&bnc).await;
    assert_eq!(ok.nick(), "alice");
}
