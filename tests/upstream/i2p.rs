//! `transport = "i2p"` against a scripted SAM bridge: the commands otrbnc sends, a working
//! stream to the server, the session kept across reconnects and made anew after a router
//! restart, persistent keys, and a clear message (with or without a retry) for every SAM
//! failure. The real router is exercised end to end in tests/e2e/i2p.rs.

use std::time::Duration;

use crate::sam_mock::{Act, MockSam, destination, failing_at, happy};
use crate::{Bouncer, TestClient, free_port};

const HOST: &str = "irc.test.i2p";

fn sections(sam_port: u16, extra: &str) -> String {
    format!(
        "[data]\ndir = \"{{DIR}}/data\"\npassphrase = \"test passphrase\"\n\
         [i2p]\nsam_address = \"127.0.0.1:{sam_port}\"\nsession_timeout_secs = 10\n\
         connect_timeout_secs = 10\n{extra}\n"
    )
}

fn network() -> String {
    format!(
        "host = \"{HOST}\"\ntransport = \"i2p\"\nnick = \"alice\"\n\
         reconnect_min_secs = 1\nreconnect_max_secs = 2\n"
    )
}

async fn bouncer(sam_port: u16, extra: &str) -> Bouncer {
    Bouncer::start_sections("info", &sections(sam_port, extra), &network()).await
}

fn assert_no_panic(b: &Bouncer) {
    let log = b.log();
    assert!(!log.contains("panicked"), "otrbnc panicked:\n{log}");
}

#[tokio::test]
async fn through_sam_to_the_server_with_one_session_until_the_router_restarts() {
    let (public, private) = destination(7);
    let mut sam = MockSam::start(happy(public.clone(), private.clone())).await;
    let b = bouncer(sam.port, "options = { \"inbound.length\" = \"1\" }").await;

    let mut irc = sam.stream(20).await;
    assert_eq!(irc.line(10).await.as_deref(), Some("CAP LS 302"));
    irc.welcome("alice").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    client.expect(" 422 ", 10).await;

    let seen = sam.seen();
    assert_eq!(seen[0], "HELLO VERSION MIN=3.0 MAX=3.1");
    let create = &seen[1];
    let id = create
        .split(' ')
        .find_map(|w| w.strip_prefix("ID="))
        .unwrap()
        .to_string();
    assert!(id.starts_with("otrbnc-test-"), "{create}");
    assert_eq!(
        create,
        &format!(
            "SESSION CREATE STYLE=STREAM ID={id} DESTINATION=TRANSIENT SIGNATURE_TYPE=7 \
             i2cp.leaseSetEncType=4,0 inbound.length=1"
        )
    );
    // A new connection for the stream: HELLO, the name lookup, then the connect.
    assert_eq!(
        &seen[2..4],
        [
            "HELLO VERSION MIN=3.0 MAX=3.1",
            &format!("NAMING LOOKUP NAME={HOST}")
        ]
    );
    assert_eq!(
        seen[4],
        format!("STREAM CONNECT ID={id} DESTINATION={public} SILENT=false")
    );

    // Our address is shown; it is the hash of the destination the router gave us.
    client.send("PRIVMSG *otr :status\r\n").await;
    let status = client.expect("Upstream test:", 10).await;
    let b32 = otrbnc::upstream::sam::dest::b32_address(&private).unwrap();
    assert!(status.contains("connected"), "{status}");
    assert!(
        status.contains(&format!(
            "through I2P (SAM 127.0.0.1:{}, transient address {b32}), no TLS",
            sam.port
        )),
        "{status}"
    );

    // The server drops us: the reconnect opens a new stream on the same session.
    drop(irc);
    client.expect("Disconnected from test", 10).await;
    let mut irc = sam.stream(20).await;
    irc.welcome("alice").await;
    assert_eq!(sam.count("SESSION CREATE"), 1, "{:#?}", sam.seen());
    assert_eq!(sam.count("STREAM CONNECT"), 2);

    // The router restarts: its session is gone, so the next attempt makes a new one.
    let port = sam.port;
    drop(sam);
    drop(irc);
    let mut sam = MockSam::start_on(port, happy(public, private)).await;
    let mut irc = sam.stream(30).await;
    irc.welcome("alice").await;
    assert_eq!(sam.count("SESSION CREATE"), 1);
    let new_id = sam.seen()[1]
        .split(' ')
        .find_map(|w| w.strip_prefix("ID="))
        .unwrap()
        .to_string();
    assert_ne!(
        new_id, id,
        "a new session id, so a session the router still holds cannot clash"
    );
    assert_no_panic(&b);
}

#[tokio::test]
async fn no_router_is_told_and_retried_until_one_appears() {
    let port = free_port();
    let b = bouncer(port, "").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    let line = client.expect("Cannot connect to test", 20).await;
    assert!(
        line.contains(&format!("no I2P router at 127.0.0.1:{port}"))
            && line.contains("SAM bridge enabled")
            && line.contains("retrying in"),
        "{line}"
    );
    // The router starts: the next retry gets through.
    let (public, private) = destination(2);
    let mut sam = MockSam::start_on(port, happy(public, private)).await;
    let mut irc = sam.stream(20).await;
    irc.welcome("alice").await;
    // The client was registered by otrbnc while the router was away; the server's ISUPPORT
    // reaches it once the upstream registers.
    client.expect(":srv 005 alice", 10).await;
    assert_no_panic(&b);
}

#[tokio::test]
async fn the_stored_destination_is_used_again_after_a_restart() {
    let (public, private) = destination(3);
    let mut sam = MockSam::start(happy(public.clone(), private.clone())).await;
    let data = tempfile::tempdir().unwrap();
    let sections = sections(sam.port, "destination = \"persistent\"\n")
        .replace("{DIR}", &data.path().display().to_string());
    let b = Bouncer::start_sections("info", &sections, &network()).await;
    sam.stream(20).await.welcome("alice").await;
    assert!(sam.seen()[1].contains("DESTINATION=TRANSIENT"));
    let key_file = data.path().join("data/i2p-test.sealed");
    assert!(key_file.is_file());
    let stored = std::fs::read(&key_file).unwrap();
    assert!(
        !stored
            .windows(64)
            .any(|w| private.as_bytes().windows(64).any(|p| p == w)),
        "the keys are stored encrypted"
    );
    drop(b);

    let mut sam2 = MockSam::start(happy(public, private.clone())).await;
    let sections = sections.replace(&format!(":{}\"", sam.port), &format!(":{}\"", sam2.port));
    let _b = Bouncer::start_sections("info", &sections, &network()).await;
    sam2.stream(20).await.welcome("alice").await;
    assert!(
        sam2.seen()[1].contains(&format!("DESTINATION={private} SIGNATURE_TYPE=7")),
        "the stored keys are offered to the router"
    );
}

/// One SAM failure: what the user is told, and whether otrbnc tries again by itself.
async fn failure(
    script: crate::sam_mock::Script,
    told: &[&str],
    retried: bool,
) -> (MockSam, Bouncer) {
    let sam = MockSam::start(script).await;
    let b = bouncer(sam.port, "").await;
    let mut client = TestClient::connect(b.port, "alice").await;
    let line = client.expect("Cannot connect to test", 30).await;
    for t in told {
        assert!(line.contains(t), "{t:?} not in {line}");
    }
    sam.wait_for("HELLO", 1, 5).await;
    let attempts = sam.count("HELLO");
    if retried {
        assert!(line.contains("retrying in"), "{line}");
        sam.wait_for("HELLO", attempts + 1, 20).await;
    } else {
        assert!(
            line.contains("Not retrying") && line.contains("*otr reconnect"),
            "{line}"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(
            sam.count("HELLO"),
            attempts,
            "a permanent failure is not retried"
        );
        client.send("PRIVMSG *otr :status\r\n").await;
        let status = client.expect("Upstream test:", 10).await;
        assert!(status.contains("stopped after an error"), "{status}");
        client.send("PRIVMSG *otr :reconnect\r\n").await;
        client.expect("Connecting to test now", 10).await;
        sam.wait_for("HELLO", attempts + 1, 10).await;
    }
    assert_no_panic(&b);
    (sam, b)
}

fn reply(line: &'static str) -> impl Fn() -> Act + Send + Sync + 'static {
    move || Act::Reply(line.to_string())
}

#[tokio::test]
async fn hello_noversion_is_permanent() {
    let script = failing_at("HELLO", reply("HELLO REPLY RESULT=NOVERSION"));
    failure(script, &["speaks no SAM version from 3.0 to 3.1"], false).await;
}

#[tokio::test]
async fn session_create_i2p_error_is_retried_with_the_routers_words() {
    let script = failing_at(
        "SESSION",
        reply("SESSION STATUS RESULT=I2P_ERROR MESSAGE=\"tunnel build failed\""),
    );
    failure(
        script,
        &["SESSION CREATE: the I2P router reported an error [I2P_ERROR] (router: tunnel build failed)"],
        true,
    )
    .await;
}

#[tokio::test]
async fn session_create_duplicated_dest_is_retried() {
    let script = failing_at("SESSION", reply("SESSION STATUS RESULT=DUPLICATED_DEST"));
    failure(
        script,
        &[
            "another session already uses our I2P destination",
            "[DUPLICATED_DEST]",
        ],
        true,
    )
    .await;
}

#[tokio::test]
async fn session_create_invalid_key_is_permanent() {
    let script = failing_at("SESSION", reply("SESSION STATUS RESULT=INVALID_KEY"));
    failure(
        script,
        &["refused our stored I2P keys", "i2p-<network>.sealed"],
        false,
    )
    .await;
}

#[tokio::test]
async fn session_create_timeout_is_retried() {
    let script = failing_at("SESSION", || Act::Silent);
    failure(script, &["did not answer SESSION CREATE within 10 s"], true).await;
}

#[tokio::test]
async fn router_closing_during_session_create_is_retried() {
    let script = failing_at("SESSION", || Act::Close);
    failure(
        script,
        &["closed the SAM connection during SESSION CREATE"],
        true,
    )
    .await;
}

#[tokio::test]
async fn lookup_key_not_found_is_retried() {
    let script = failing_at(
        "NAMING",
        reply("NAMING REPLY RESULT=KEY_NOT_FOUND NAME=irc.test.i2p"),
    );
    failure(
        script,
        &[
            "NAMING LOOKUP: the name is not in the router's address book",
            ".b32.i2p address",
        ],
        true,
    )
    .await;
}

#[tokio::test]
async fn cant_reach_peer_is_retried_on_the_same_session() {
    let script = failing_at(
        "STREAM",
        reply("STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE=\"no lease set\""),
    );
    let (sam, _b) = failure(
        script,
        &[
            "STREAM CONNECT: the server's I2P destination cannot be reached",
            "[CANT_REACH_PEER]",
            "(router: no lease set)",
        ],
        true,
    )
    .await;
    sam.wait_for("STREAM CONNECT", 2, 10).await;
    assert_eq!(
        sam.count("SESSION CREATE"),
        1,
        "the session is kept for the retry"
    );
}

#[tokio::test]
async fn stream_timeout_is_retried() {
    let script = failing_at("STREAM", reply("STREAM STATUS RESULT=TIMEOUT"));
    failure(script, &["the I2P router timed out [TIMEOUT]"], true).await;
}

#[tokio::test]
async fn stream_invalid_key_is_permanent() {
    let script = failing_at("STREAM", reply("STREAM STATUS RESULT=INVALID_KEY"));
    failure(
        script,
        &["destination or name is not valid [INVALID_KEY]"],
        false,
    )
    .await;
}

#[tokio::test]
async fn stream_invalid_id_makes_a_new_session() {
    let script = failing_at("STREAM", reply("STREAM STATUS RESULT=INVALID_ID"));
    let (sam, _b) = failure(script, &["no longer knows our session"], true).await;
    sam.wait_for("SESSION CREATE", 2, 10).await;
}

#[tokio::test]
async fn a_reply_that_is_not_sam_is_an_error_not_a_panic() {
    let script = failing_at("HELLO", reply("HTTP/1.1 400 Bad Request"));
    failure(
        script,
        &["unexpected answer to HELLO from the I2P router"],
        true,
    )
    .await;
}

#[tokio::test]
async fn an_endless_reply_is_cut_off() {
    let script = failing_at("HELLO", || {
        Act::Reply(format!("HELLO REPLY RESULT=OK {}", "X".repeat(20_000)))
    });
    failure(
        script,
        &["unexpected answer to HELLO", "longer than 8192 bytes"],
        true,
    )
    .await;
}
