use std::time::{Duration, Instant};

use base64::Engine;

use crate::fake::{Conn, FakeServer};
use crate::{Bouncer, TestClient};

fn network(port: u16, extra: &str) -> String {
    format!(
        "host = \"127.0.0.1\"\nport = {port}\ntransport = \"plain\"\nnick = \"alice\"\n\
         reconnect_min_secs = 1\nreconnect_max_secs = 2\n{extra}"
    )
}

/// otrbnc registered with a scripted server (which offers no caps) and one attached client
/// that has had its welcome. Bind `b` (e.g. `b: _bouncer`): dropping it kills otrbnc.
struct Registered {
    server: FakeServer,
    b: Bouncer,
    c: Conn<tokio::net::TcpStream>,
    client: TestClient,
}

async fn registered(level: &str, otr: &str, extra: &str) -> Registered {
    let server = FakeServer::bind().await;
    let b = Bouncer::start_full(level, otr, &network(server.port, extra)).await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :\r\n").await;
    c.welcome("alice").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    client.expect(" 422 ", 10).await;
    Registered {
        server,
        b,
        c,
        client,
    }
}

#[tokio::test]
async fn sasl_plain_then_registration() {
    let server = FakeServer::bind().await;
    let _b = Bouncer::start(&network(
        server.port,
        "sasl_mechanism = \"plain\"\nsasl_username = \"acct\"\nsasl_password = \"s3cret\"",
    ))
    .await;
    let mut c = server.accept().await;
    assert_eq!(c.line(10).await.as_deref(), Some("CAP LS 302"));
    c.send(":srv CAP * LS :multi-prefix sasl=PLAIN,EXTERNAL\r\n")
        .await;
    // What otrbnc carries to its clients is asked for along with sasl.
    c.expect("CAP REQ :multi-prefix sasl").await;
    c.send(":srv CAP * ACK :multi-prefix sasl\r\n").await;
    c.expect("AUTHENTICATE PLAIN").await;
    c.send("AUTHENTICATE +\r\n").await;
    let auth = c.expect("AUTHENTICATE ").await;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(auth.trim_start_matches("AUTHENTICATE "))
        .unwrap();
    assert_eq!(payload, b"acct\0acct\0s3cret");
    c.send(":srv 900 alice alice!~u@host acct :You are now logged in\r\n:srv 903 alice :SASL authentication successful\r\n").await;
    c.expect("CAP END").await;
    // NICK and USER went out before CAP END, as the IRCv3 flow allows.
    assert!(
        c.received.iter().any(|l| l == "NICK alice"),
        "{:?}",
        c.received
    );
    c.welcome("alice").await;
}

/// otrbnc (with the SASL settings in `extra`) connected to a scripted server that offered
/// and acknowledged `sasl`, up to its `AUTHENTICATE PLAIN`.
async fn sasl_plain_started(extra: &str) -> (FakeServer, Bouncer, Conn<tokio::net::TcpStream>) {
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(server.port, extra)).await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :sasl\r\n").await;
    c.expect("CAP REQ :sasl").await;
    c.send(":srv CAP * ACK :sasl\r\n").await;
    c.expect("AUTHENTICATE PLAIN").await;
    (server, b, c)
}

#[tokio::test]
async fn sasl_failure_is_reported_and_registration_continues() {
    let (_server, b, mut c) =
        sasl_plain_started("sasl_mechanism = \"plain\"\nsasl_password = \"wrong\"").await;
    c.send("AUTHENTICATE +\r\n").await;
    c.expect("AUTHENTICATE ").await;
    c.send(":srv 904 alice :SASL authentication failed\r\n")
        .await;
    c.expect("CAP END").await;
    c.welcome("alice").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    // The failure was kept for the client that attaches later.
    client
        .expect("SASL authentication to test failed", 10)
        .await;
}

#[tokio::test]
async fn without_sasl_cap_negotiation_ends_after_the_ack_and_nick_collisions_are_resolved() {
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(server.port, "")).await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :multi-prefix\r\n").await;
    c.expect("CAP REQ :multi-prefix").await;
    c.send(":srv CAP * ACK :multi-prefix\r\n").await;
    c.expect("CAP END").await;
    c.send(":srv 433 * alice :Nickname is already in use\r\n")
        .await;
    c.expect("NICK alice_").await;
    c.send(":srv 001 alice_ :Welcome alice_!~u@host\r\n:srv 422 alice_ :No MOTD\r\n")
        .await;
    let mut client = TestClient::connect(b.port, "alice").await;
    let welcome = client.expect(" 001 ", 10).await;
    assert!(welcome.starts_with(":srv 001 alice_ "), "{welcome}");
}

#[tokio::test]
async fn ping_passes_a_full_send_queue() {
    let Registered {
        mut c,
        mut client,
        b: _bouncer,
        ..
    } = registered(
        "debug",
        "",
        // No auto-away: its AWAY at registration would take the burst's only line.
        "flood_interval_secs = 30.0\nflood_burst = 1\nauto_away_message = \"\"",
    )
    .await;
    client
        .send("PRIVMSG #a :one\r\nPRIVMSG #a :two\r\nPRIVMSG #a :three\r\n")
        .await;
    c.expect("PRIVMSG #a :one").await;
    // "two" and "three" wait 30 s each; a PING must not.
    let t = Instant::now();
    c.send("PING :tok\r\n").await;
    let pong = c.expect("PONG").await;
    assert_eq!(pong, "PONG :tok");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(
        !c.received.iter().any(|l| l.contains("two")),
        "{:?}",
        c.received
    );
}

#[tokio::test]
async fn reconnects_rejoin_channels_and_tell_the_client() {
    let Registered {
        server,
        mut c,
        mut client,
        b: _bouncer,
        ..
    } = registered("debug", "", "flood_interval_secs = 0.0").await;
    client.send("JOIN #room\r\n").await;
    c.expect("JOIN #room").await;
    c.send(":alice!~u@host JOIN #room\r\n").await;
    client.expect("JOIN #room", 10).await;
    drop(c);
    client.expect("Disconnected from test", 10).await;
    let mut c2 = server.accept().await;
    c2.send(":srv CAP * LS :\r\n").await;
    c2.welcome("alice").await;
    c2.expect("JOIN #room").await;
    // The already-welcomed client does not get a second registration burst.
    assert!(client.try_expect(" 001 ", 2).await.is_err());
}

#[tokio::test]
async fn a_long_send_queue_is_announced() {
    let Registered {
        mut c,
        mut client,
        b: _bouncer,
        ..
    } = registered(
        "debug",
        "queue_warn_secs = 5",
        "flood_interval_secs = 2.0\nflood_burst = 1",
    )
    .await;
    let lines: String = (0..10)
        .map(|i| format!("PRIVMSG #a :line {i}\r\n"))
        .collect();
    client.send(&lines).await;
    let warning = client.expect("Flood protection", 10).await;
    assert!(
        warning.contains("line(s) queued for the server"),
        "{warning}"
    );
    // The queue drains in order, one line per interval.
    c.expect("PRIVMSG #a :line 0").await;
    c.expect("PRIVMSG #a :line 1").await;
}

#[tokio::test]
async fn shutdown_ends_sessions_and_reports_what_was_not_sent() {
    let Registered {
        mut b,
        mut c,
        mut client,
        ..
    } = registered(
        "debug",
        "",
        "flood_interval_secs = 0.0\notr_nicks = [\"bob\"]",
    )
    .await;
    client.send("PRIVMSG bob :queued and never sent\r\n").await;
    client.expect("your message is queued", 10).await;
    // Only the OTR query went out; bob (the fake server) never answers.
    let query = c.expect("PRIVMSG bob :").await;
    assert!(query.starts_with("PRIVMSG bob :?OTRvP3?"), "{query}");
    let status = b.terminate();
    assert!(status.success(), "exit status {status}; log:\n{}", b.log());
    client.expect("shutting down", 10).await;
    let dropped = client.expect("were dropped and NOT sent", 10).await;
    assert!(dropped.contains("1 queued message(s) to bob"), "{dropped}");
    c.expect("QUIT").await;
    assert!(
        !c.received
            .iter()
            .any(|l| l.contains("queued and never sent")),
        "{:?}",
        c.received
    );
}

/// At the default log level the log holds no nick of a peer, no message text and no key
/// material (fingerprints included).
#[tokio::test]
async fn info_logs_hold_no_nicks_texts_or_keys() {
    let Registered {
        mut b,
        mut c,
        mut client,
        ..
    } = registered(
        "info",
        "",
        "flood_interval_secs = 0.0\notr_nicks = [\"bobpeer\"]",
    )
    .await;
    client
        .send("PRIVMSG bobpeer :secret words for bob\r\n")
        .await;
    c.expect("PRIVMSG bobpeer :?OTR").await;
    client
        .send("PRIVMSG carolpeer :plain words for carol\r\n")
        .await;
    c.expect("PRIVMSG carolpeer :plain words").await;
    c.send(":carolpeer!c@h PRIVMSG alice :hello from carol\r\n:bobpeer!b@h PRIVMSG alice :unencrypted from bob\r\n:mallorypeer!m@h PRIVMSG alice :?OTRvP? offer\r\n").await;
    client.expect("hello from carol", 10).await;
    client
        .expect("[NOT ENCRYPTED] unencrypted from bob", 10)
        .await;
    client.expect("mallorypeer wants a private", 10).await;
    client.send("PRIVMSG *otr :fingerprint\r\n").await;
    let fp = client.expect("Your fingerprint: ", 10).await;
    let fp_first_group = fp
        .split("Your fingerprint: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    b.terminate();
    let log = b.log();
    assert!(log.contains("registered"), "{log}");
    for needle in [
        "bobpeer",
        "carolpeer",
        "mallorypeer",
        "secret words",
        "plain words",
        "hello from",
        "unencrypted",
        fp_first_group.as_str(),
    ] {
        assert!(!log.contains(needle), "{needle:?} in the info log:\n{log}");
    }
}

/// Two networks: each client picks one with `PASS user/network:password`; without a network
/// name the login is refused with the list of networks.
#[tokio::test]
async fn clients_select_their_network() {
    let one = FakeServer::bind().await;
    let two = FakeServer::bind().await;
    let nets = format!(
        "{}\n[networks.other]\nhost = \"127.0.0.1\"\nport = {}\ntransport = \"plain\"\nnick = \"alice2\"\n",
        network(one.port, ""),
        two.port
    );
    let b = Bouncer::start(&nets).await;
    let (mut c1, mut c2) = tokio::join!(one.accept(), two.accept());
    for (c, nick) in [(&mut c1, "alice"), (&mut c2, "alice2")] {
        c.send(":srv CAP * LS :\r\n").await;
        c.welcome(nick).await;
    }
    let mut x = TestClient::connect_pass(b.port, "x", "u/other:pw").await;
    x.expect(" 001 alice2 ", 10).await;
    let mut y = TestClient::connect_pass(b.port, "y", "u/test:pw").await;
    y.expect(" 001 alice ", 10).await;
    // Each client's lines go to its own network.
    x.send("PRIVMSG #two :via other\r\n").await;
    y.send("PRIVMSG #one :via test\r\n").await;
    c2.expect("PRIVMSG #two :via other").await;
    c1.expect("PRIVMSG #one :via test").await;
    // USER names the user here (`USER u`), PASS only the password.
    let mut z = TestClient::connect_pass(b.port, "u", "pw").await;
    let refusal = z.expect("Select a network", 10).await;
    assert!(
        refusal.contains("other") && refusal.contains("test"),
        "{refusal}"
    );
}

/// Without pacing, a burst far larger than the write queue reaches the server complete and in
/// order (lines wait in the send queue while the socket drains).
#[tokio::test]
async fn an_unpaced_burst_loses_nothing() {
    let Registered {
        b,
        mut c,
        mut client,
        ..
    } = registered("debug", "", "flood_interval_secs = 0.0").await;
    const N: usize = 4000;
    let burst: String = (0..N)
        .map(|i| format!("PRIVMSG #a :burst line {i}\r\n"))
        .collect();
    client.send(&burst).await;
    for i in 0..N {
        let l = c.expect("PRIVMSG #a :burst").await;
        assert_eq!(l, format!("PRIVMSG #a :burst line {i}"));
    }
    assert!(!b.log().contains("line dropped"), "{}", b.log());
}

/// A server sending faster than one line per write does not get a reading client dropped.
#[tokio::test]
async fn a_fast_server_does_not_disconnect_a_reading_client() {
    let Registered {
        b,
        mut c,
        mut client,
        ..
    } = registered("debug", "", "").await;
    const N: usize = 50_000;
    let flood: String = (0..N)
        .map(|i| format!(":x!y@z PRIVMSG #a :server line {i}\r\n"))
        .collect();
    let writer = tokio::spawn(async move {
        c.send(&flood).await;
        c
    });
    client.expect(&format!("server line {}\r", N - 1), 60).await;
    let _c = writer.await.unwrap();
    assert!(!b.log().contains("could not keep up"), "{}", b.log());
}

/// With `sasl_required`, a server that offers no SASL gets no `CAP END` (so no registration)
/// but a QUIT, the user is told why, and the next attempt comes after the backoff, no sooner
/// than the 5 s floor for a connection that closed before registering.
#[tokio::test]
async fn sasl_required_without_sasl_on_offer_does_not_register() {
    let server = FakeServer::bind().await;
    let b = Bouncer::start(&network(
        server.port,
        "sasl_mechanism = \"plain\"\nsasl_password = \"pw\"\nsasl_required = true",
    ))
    .await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :multi-prefix\r\n").await;
    c.expect("QUIT").await;
    let closed = Instant::now();
    assert!(
        !c.received.iter().any(|l| l.starts_with("CAP END")),
        "{:?}",
        c.received
    );
    let mut client = TestClient::connect(b.port, "alice").await;
    let told = client.expect("does not offer SASL", 10).await;
    assert!(told.contains("sasl_required is set"), "{told}");
    let _again = server.accept().await;
    let waited = closed.elapsed();
    assert!(waited >= Duration::from_millis(4900), "{waited:?}");
}

/// 437 (unavailable) is handled like 433, and the NICKLEN the server declared on the last
/// connection shapes the variants before the next `005`: `alic_`, not `alice_`.
#[tokio::test]
async fn a_437_and_the_last_nicklen_shape_the_next_nick() {
    let server = FakeServer::bind().await;
    let _b = Bouncer::start(&network(server.port, "")).await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :\r\n").await;
    c.expect("USER ").await;
    c.send(
        ":srv 001 alice :Welcome alice!~u@host\r\n:srv 005 alice NICKLEN=5 :are supported\r\n\
         :srv 422 alice :No MOTD\r\n",
    )
    .await;
    drop(c);
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :\r\n").await;
    c.expect("NICK alice").await;
    c.send(":srv 437 * alice :Nick/channel is temporarily unavailable\r\n")
        .await;
    c.expect("NICK alic_").await;
    c.send(":srv 433 * alic_ :Nickname is already in use\r\n")
        .await;
    c.expect("NICK ali__").await;
    c.welcome("ali__").await;
}

/// A server that acknowledges SASL and then never answers does not keep otrbnc hanging
/// unregistered: after `register_timeout_secs` it QUITs and the user is told.
#[tokio::test]
async fn a_stalled_registration_is_given_up() {
    let (_server, b, mut c) = sasl_plain_started(
        "sasl_mechanism = \"plain\"\nsasl_password = \"pw\"\nregister_timeout_secs = 2",
    )
    .await;
    let t = Instant::now();
    // Silence from here on.
    c.expect("QUIT").await;
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    let mut client = TestClient::connect(b.port, "alice").await;
    client
        .expect("registration did not finish in 2 s", 10)
        .await;
}

/// A server that welcomes otrbnc and closes at once (a ban applied after registration) is
/// retried ever more slowly: only a connection that stayed registered resets the backoff.
#[tokio::test]
async fn welcomed_then_closed_at_once_backs_off() {
    let server = FakeServer::bind().await;
    let _b = Bouncer::start(
        &network(server.port, "").replace("reconnect_max_secs = 2", "reconnect_max_secs = 8"),
    )
    .await;
    let mut at = Vec::new();
    for _ in 0..4 {
        let mut c = server.accept().await;
        at.push(Instant::now());
        c.send(":srv CAP * LS :\r\n").await;
        c.welcome("alice").await;
        drop(c);
    }
    let gaps: Vec<f64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    println!("intervals between connections: {gaps:?}");
    // 1, 2, 4 s (each with up to 25 % jitter): doubling, not reset by the welcome.
    assert!(gaps[1] >= 1.9 && gaps[2] >= 3.9, "{gaps:?}");
}

/// A server that lists capabilities and then refuses the request (NAK) is registered with
/// without them: the refusal does not stall the registration.
#[tokio::test]
async fn a_refused_cap_request_still_registers() {
    let server = FakeServer::bind().await;
    let _b = Bouncer::start(&network(server.port, "")).await;
    let mut c = server.accept().await;
    c.send(":srv CAP * LS :away-notify server-time draft/unknown\r\n")
        .await;
    c.expect("CAP REQ :away-notify server-time").await;
    c.send(":srv CAP * NAK :away-notify server-time\r\n").await;
    c.expect("CAP END").await;
    c.welcome("alice").await;
}
