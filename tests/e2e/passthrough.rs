//! (b) What the bouncer does not change passes byte-exact in both directions; what goes to an
//! opted-in nick never leaves in plaintext, however the target is spelled.

use crate::require_e2e;
use crate::support::client::{Client, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts, SERVER_NAME};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, assert_only_otr_to};
use crate::support::{secs, show, token};

/// Alice's client (through her bouncer) and carol (a plain client on ngircd, not opted in)
/// exchange channel messages, notices, CTCP and private messages: the exact bytes alice's
/// client sent are the bytes her upstream sent, and the exact bytes ngircd sent to alice's
/// upstream are the bytes her client received.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_lines_pass_byte_exact() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) =
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])).await;
    let mut a = scenario::attach(&bnc).await;
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    a.join("#chan").await;
    carol.join("#chan").await;
    assert!(
        aud.lines_to_server().contains(&b"JOIN #chan\r\n".to_vec()),
        "JOIN not passed as is:\n{}",
        aud.tail_to_server(10)
    );

    // alice → server: (line alice's client sends, text carol receives, target carol sees).
    let from_alice = [
        (
            "PRIVMSG #chan :channel text with ümlauts and  double  spaces ",
            "channel text with ümlauts and  double  spaces ",
            "#chan",
        ),
        (
            "NOTICE #chan :a channel notice",
            "a channel notice",
            "#chan",
        ),
        (
            "PRIVMSG #chan :\u{1}ACTION dances in the channel\u{1}",
            "\u{1}ACTION dances in the channel\u{1}",
            "#chan",
        ),
        ("PRIVMSG #chan word", "word", "#chan"),
        (
            "PRIVMSG carol :\u{1}VERSION\u{1}",
            "\u{1}VERSION\u{1}",
            "carol",
        ),
        (
            "PRIVMSG carol :hello carol, you are not opted in",
            "hello carol, you are not opted in",
            "carol",
        ),
        (
            "NOTICE carol :a notice to carol",
            "a notice to carol",
            "carol",
        ),
        (
            "PRIVMSG carol :\u{1}ACTION waves at carol\u{1}",
            "\u{1}ACTION waves at carol\u{1}",
            "carol",
        ),
    ];
    for (line, text, target) in from_alice {
        a.send_raw(line).await;
        // ngircd strips trailing spaces from what it relays.
        let text = text.trim_end_matches(' ');
        let cmd = line.split(' ').next().unwrap().to_string();
        let got = carol
            .expect_desc(secs(10), &format!("{line:?} at carol"), |m| {
                m.command == cmd && m.is_from("alice") && m.target() == target && m.text() == text
            })
            .await;
        assert!(got.prefix.as_deref().unwrap().starts_with("alice!"));
        let exact = format!("{line}\r\n").into_bytes();
        assert!(
            aud.lines_to_server().contains(&exact),
            "{:?} did not reach the server byte-exact; last lines upstream:\n{}",
            show(&exact, 200),
            aud.tail_to_server(10)
        );
    }

    // carol → alice: the line alice's client receives is a line ngircd sent, byte for byte
    // (ngircd itself strips trailing spaces).
    let from_carol = [
        (
            "PRIVMSG #chan :from carol to the channel",
            "PRIVMSG",
            "from carol to the channel",
        ),
        (
            "PRIVMSG alice :hello alice from carol",
            "PRIVMSG",
            "hello alice from carol",
        ),
        (
            "NOTICE alice :\u{1}VERSION e2e-client 1.0\u{1}",
            "NOTICE",
            "\u{1}VERSION e2e-client 1.0\u{1}",
        ),
        (
            "PRIVMSG alice :\u{1}PING 1234567\u{1}",
            "PRIVMSG",
            "\u{1}PING 1234567\u{1}",
        ),
        (
            "NOTICE #chan :carol's channel notice",
            "NOTICE",
            "carol's channel notice",
        ),
        (
            "PRIVMSG alice :  spaces  and trailing  ",
            "PRIVMSG",
            "  spaces  and trailing",
        ),
        (
            "PRIVMSG alice :grüße 🌍 日本語",
            "PRIVMSG",
            "grüße 🌍 日本語",
        ),
    ];
    for (line, cmd, text) in from_carol {
        carol.send_raw(line).await;
        let got: Msg = a
            .expect_desc(secs(10), &format!("{line:?} from carol"), |m| {
                m.command == cmd && m.is_from("carol") && m.text() == text
            })
            .await;
        assert!(
            aud.lines_to_client().contains(&got.raw),
            "alice's client received {got}, which is not a line ngircd sent; last lines from ngircd:\n{}",
            aud.tail_to_client(10)
        );
    }
    a.assert_never_received("[NOT ENCRYPTED]");
    a.assert_never_received("?OTR");
}

/// Whatever the spelling of an opted-in target (case, target lists), and whatever the kind
/// of message (PRIVMSG, /me, NOTICE, CTCP), nothing reaches the server in plaintext for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opted_in_targets_never_leak_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) =
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])).await;
    // bob exists on the server (a plain client without a bouncer); carol too.
    let mut bob = Client::connect(ng.addr(), None, "bob", "bob", &[]).await;
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    let a = scenario::attach(&bnc).await;
    let secrets: Vec<String> = (0..7)
        .map(|i| format!("leak-check-{i}-{}", token(12)))
        .collect();
    a.privmsg("Bob", &secrets[0]).await;
    a.privmsg("BOB", &secrets[1]).await;
    a.action("bob", &secrets[2]).await;
    a.notice("bob", &secrets[3]).await;
    a.send_raw(&format!("PRIVMSG bob :\u{1}VERSION {}\u{1}", secrets[4]))
        .await;
    a.privmsg("bob,carol", &secrets[5]).await;
    a.privmsg("carol,Bob", &secrets[6]).await;
    // Give the bouncer time to (not) send anything, and carol time to receive what may go
    // to her.
    carol.collect_for(secs(3)).await;
    bob.collect_for(secs(1)).await;
    assert_only_otr_to(&aud, "bob");
    let refs: Vec<&[u8]> = secrets[..5].iter().map(|s| s.as_bytes()).collect();
    aud.assert_absent(&refs);
    for s in &secrets {
        bob.assert_never_received(s);
    }
    for m in bob.log_matching(|m| m.is_from("alice")) {
        assert!(m.text().starts_with("?OTR"), "bob received from alice: {m}");
    }
}

/// The same nick under the other spellings a server delivers to it (RFC 2812 §3.3.1:
/// `nick@server`, `nick%host`, `nick%host@server`, `nick!user@host`; status prefixes): the
/// opt-in sees through them, so the text goes only as OTR to bob. (A server that declares
/// nicks to be channels, `CHANTYPES` with letters, is refused too:
/// `a_server_cannot_make_nicks_look_like_channels`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_spellings_of_an_opted_in_nick_never_leak_plaintext() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) =
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])).await;
    let mut bob = Client::connect(ng.addr(), None, "bob", "bob", &[]).await;
    let a = scenario::attach(&bnc).await;
    let server = SERVER_NAME;
    let targets = [
        format!("bob@{server}"),
        "bob%localhost".to_string(),
        format!("bob%localhost@{server}"),
        "bob!bob@localhost".to_string(),
        format!("BOB@{server}"),
        "@bob".to_string(),
        "+bob".to_string(),
        format!("carol,bob@{server}"),
    ];
    let secrets: Vec<String> = (0..targets.len())
        .map(|i| format!("spelling-check-{i}-{}", token(12)))
        .collect();
    for (t, s) in targets.iter().zip(&secrets) {
        a.privmsg(t, s).await;
    }
    bob.collect_for(secs(3)).await;
    // The last one also went to carol, who is not opted in: in clear to her, never to bob.
    let (to_bob_only, _) = secrets.split_at(secrets.len() - 1);
    let refs: Vec<&[u8]> = to_bob_only.iter().map(|s| s.as_bytes()).collect();
    aud.assert_absent(&refs);
    for s in &secrets {
        bob.assert_never_received(s);
    }
    let from_alice = bob.log_matching(|m| m.is_from("alice"));
    assert!(!from_alice.is_empty(), "bob got no OTR query at all");
    for m in from_alice {
        assert!(m.text().starts_with("?OTR"), "bob received from alice: {m}");
    }
    assert_only_otr_to(&aud, "bob");
}
