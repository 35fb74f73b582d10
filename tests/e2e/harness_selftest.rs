//! Self-tests of the harness against ngircd alone (no bouncer): scripted clients, the wire
//! auditor, ngircd's flood penalties, the raw OTR peer, the config and password helpers.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::{CapStyle, Client, Login, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, PASSWORD, listening_addrs, password_hash};
use crate::support::otrpeer::OtrPeer;
use crate::support::{find, secs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_clients_through_auditor() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start_labeled(ng.addr(), "auditor a").await;
    let aud_b = Auditor::start_labeled(ng.addr(), "auditor b").await;

    // One client without CAP, one negotiating the pipelined way, one the strict way.
    let mut a = Client::connect(aud.addr(), None, "alice", "alice", &[]).await;
    let mut b = Client::connect_with(
        aud_b.addr(),
        Login::new(None, "bob").caps(&["multi-prefix", "no-such-cap"]),
    )
    .await;
    let c = Client::connect_with(
        ng.addr(),
        Login::new(None, "carol")
            .caps(&["multi-prefix"])
            .cap_style(CapStyle::Strict),
    )
    .await;
    assert_eq!(a.nick(), "alice");
    assert!(a.caps().is_empty());
    assert_eq!(b.caps(), ["multi-prefix".to_string()]);
    assert!(c.has_cap("multi-prefix"));
    assert!(b.registration().iter().any(|m| m.command == "001"));
    // Without caps the client sent no CAP at all.
    let first = aud.lines_to_server();
    assert_eq!(
        first.first().map(Vec::as_slice),
        Some(&b"NICK alice\r\n"[..])
    );
    assert!(!aud.client_to_server().windows(4).any(|w| w == b"CAP "));

    let joined = a.join("#chan").await;
    assert_eq!(joined.last().map(|m| m.command.as_str()), Some("366"));
    b.join("#chan").await;

    a.privmsg("#chan", "hello channel from alice").await;
    let got = b
        .expect(secs(10), |m| {
            m.is_privmsg_from("alice") && m.target() == "#chan"
        })
        .await;
    assert_eq!(got.text(), "hello channel from alice");
    assert_eq!(
        got.raw,
        b":alice!~alice@127.0.0.1 PRIVMSG #chan :hello channel from alice\r\n"
    );
    // The auditor recorded the exact bytes both ways.
    aud.assert_sent(b"PRIVMSG #chan :hello channel from alice\r\n");
    assert!(aud_b.lines_to_client().contains(&got.raw));

    b.action("alice", "waves").await;
    let act = a.expect_privmsg_from("bob", secs(10)).await;
    assert_eq!(act.text(), "\u{1}ACTION waves\u{1}");
    b.notice("alice", "a notice").await;
    let n = a.expect(secs(10), |m| m.command == "NOTICE").await;
    assert_eq!(n.text(), "a notice");
    assert!(aud.lines_to_client().contains(&n.raw));

    // assert_absent finds plaintext in either direction and names it.
    aud.assert_absent(&[b"never sent"]);
    let found = aud
        .find_any(&[b"a notice"])
        .expect("a needle that was sent is found");
    assert!(
        found.contains("a notice") && found.contains("server→client"),
        "{found}"
    );
    assert!(aud.max_line_len_to_server() <= 512);
    assert!(aud.max_line_len_to_server() >= b"PRIVMSG #chan :hello channel from alice\r\n".len());
    assert!(a.log().iter().any(|m| m.command == "376"));
    a.assert_never_received("?OTR");
    drop(c);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_auditor_cut_and_refused_login() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts {
        password: Some("srvpass".to_string()),
        ..NgircdOpts::no_penalties()
    })
    .await;
    let aud = Auditor::start(ng.addr()).await;
    let mut a = Client::connect(aud.addr(), Some("srvpass"), "alice", "alice", &[]).await;
    let bob = Client::connect(ng.addr(), Some("srvpass"), "bob", "bob", &[]).await;
    assert_eq!(aud.open_count(), 1);

    // A network break: both sides are closed.
    aud.cut();
    let rest = a.wait_closed(secs(10)).await;
    assert!(rest.iter().all(|m| m.command != "ERROR"), "{rest:?}");
    let deadline = Instant::now() + secs(10);
    while !ng
        .log()
        .contains("User \"alice!~alice@127.0.0.1\" unregistered")
    {
        assert!(
            Instant::now() < deadline,
            "ngircd did not see the cut:\n{}",
            ng.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(aud.open_count(), 0);

    // The auditor accepts again; a wrong password is refused and the connection closed.
    let before = aud.connection_count();
    let got = Client::connect_expect_refused(aud.addr(), Some("wrong"), "mallory", "mallory").await;
    assert!(
        got.iter()
            .any(|m| m.command == "ERROR" || m.command == "464"),
        "{got:?}"
    );
    assert_eq!(aud.connection_count(), before + 1);
    let mut again = Client::connect(aud.addr(), Some("srvpass"), "alice", "alice", &[]).await;
    again.privmsg("bob", "after the cut").await;
    drop(bob);
    again.quit("bye").await;
    let closing = again.wait_closed(secs(10)).await;
    assert!(closing.iter().any(|m| m.command == "ERROR"), "{closing:?}");
    println!("ngircd forced disconnects: {:?}", ng.forced_disconnects());
}

/// ngircd's default flood penalties delay a burst of lines by seconds; with
/// `MaxPenaltyTime = 0` they arrive at once. Measured with 20 short lines (ngircd 26.1:
/// ~6.7 s with penalties, a few ms without).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_ngircd_flood_penalties() {
    require_e2e!();
    async fn burst_duration(opts: NgircdOpts) -> (Duration, Ngircd) {
        let ng = Ngircd::start(opts).await;
        let a = Client::connect(ng.addr(), None, "sender", "sender", &[]).await;
        let mut b = Client::connect(ng.addr(), None, "receiver", "receiver", &[]).await;
        // Registration itself carries a penalty: let it pass.
        tokio::time::sleep(secs(2)).await;
        let mut burst = Vec::new();
        for i in 0..20 {
            burst.extend_from_slice(format!("PRIVMSG receiver :line {i:02}\r\n").as_bytes());
        }
        let t0 = Instant::now();
        a.send_bytes(&burst).await;
        for i in 0..20 {
            b.expect_text_from("sender", &format!("line {i:02}"), secs(30))
                .await;
        }
        (t0.elapsed(), ng)
    }
    let (with, without) = tokio::join!(
        burst_duration(NgircdOpts::default()),
        burst_duration(NgircdOpts::no_penalties())
    );
    println!(
        "20 lines: {:?} with penalties, {:?} without",
        with.0, without.0
    );
    assert!(
        with.0 >= secs(4),
        "default penalties should delay a 20-line burst by seconds; took {:?}",
        with.0
    );
    assert!(
        without.0 < secs(2),
        "MaxPenaltyTime = 0 should deliver a burst at once; took {:?}",
        without.0
    );
    // Penalties delay, they do not disconnect.
    assert!(with.1.forced_disconnects().is_empty(), "{}", with.1.log());
}

/// Two raw OTR peers (no bouncer) reach a private session over ngircd, and the wire carries
/// only OTR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_otr_peers_over_ngircd() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud = Auditor::start(ng.addr()).await;
    let mut p = OtrPeer::connect(aud.addr(), "pnick").await;
    let mut q = OtrPeer::connect(ng.addr(), "qnick").await;
    p.auto_respond("qnick");
    q.auto_respond("pnick");
    p.send("qnick", "secret hello from p over otr").await;
    let deadline = Instant::now() + secs(60);
    while !q
        .messages()
        .iter()
        .any(|(f, t)| f == "pnick" && t == "secret hello from p over otr")
    {
        assert!(
            Instant::now() < deadline,
            "no message: p {:?} / q {:?}",
            p.events(),
            q.events()
        );
        p.pump(Duration::from_millis(30), |_| false).await;
        q.pump(Duration::from_millis(30), |_| false).await;
    }
    q.send("pnick", "and a reply from q").await;
    p.expect_message("qnick", "and a reply from q", secs(30))
        .await;
    aud.assert_absent(&[b"secret hello", b"a reply from q"]);
    let to_q: Vec<Msg> = aud
        .msgs_to_server()
        .into_iter()
        .filter(|m| m.command == "PRIVMSG")
        .collect();
    assert!(
        to_q.len() >= 40,
        "first contact should take many fragments: {}",
        to_q.len()
    );
    assert!(to_q.iter().all(|m| m.text().starts_with("?OTR")));
    assert!(aud.max_line_len_to_server() <= 512);
    println!(
        "first contact + 1 message: {} lines from p, longest {} bytes",
        to_q.len(),
        aud.max_line_len_to_server()
    );
}

/// The generated configuration is valid TOML with the expected keys, the hash verifies, and
/// `/proc/net/tcp` parsing finds a loopback listener.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn harness_config_and_proc_net() {
    let addr: std::net::SocketAddr = "127.0.0.1:6697".parse().unwrap();
    let cfg = BncConfig::new("alice", addr)
        .otr_nicks(&["bob", "we\"ird"])
        .otr_toml("accept_strangers = false")
        .network_toml("reconnect_min_secs = 1");
    let dir = std::path::Path::new("/tmp/x");
    let text = cfg.toml(7000, dir);
    let v: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(v["listen"]["address"].as_str(), Some("127.0.0.1:7000"));
    assert_eq!(v["data"]["dir"].as_str(), Some("/tmp/x"));
    assert_eq!(v["otr"]["handshake_timeout_secs"].as_integer(), Some(30));
    assert_eq!(v["otr"]["accept_strangers"].as_bool(), Some(false));
    let net = &v["networks"]["test"];
    assert_eq!(net["port"].as_integer(), Some(6697));
    assert_eq!(net["transport"].as_str(), Some("plain"));
    assert_eq!(net["flood_interval_secs"].as_float(), Some(0.0));
    assert_eq!(net["otr_nicks"][1].as_str(), Some("we\"ird"));
    assert_eq!(net["reconnect_min_secs"].as_integer(), Some(1));
    let d = BncConfig::new("bob", addr).default_pacing().toml(1, dir);
    assert!(!d.contains("flood_"));

    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let h = PasswordHash::new(password_hash()).unwrap();
    assert_eq!(h.algorithm.as_str(), "argon2id");
    assert!(
        argon2::Argon2::default()
            .verify_password(PASSWORD.as_bytes(), &h)
            .is_ok()
    );
    assert_eq!(cfg.pass(), format!("alice/test:{PASSWORD}"));

    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    assert_eq!(
        listening_addrs(port),
        vec![std::net::IpAddr::from([127, 0, 0, 1])]
    );
    drop(l);
    assert!(listening_addrs(port).is_empty());
    assert!(find(b"abcdef", b"cde") == Some(2));
}
