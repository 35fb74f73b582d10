//! (g) A peer that speaks OTRv4+ itself (a scripted `otr_core` account on a plain client, no
//! bouncer) sends what an honest bouncer never would: decrypted text with CR and LF in it.
//! Alice's client must get PRIVMSG lines only, and nothing may reach the server.

use crate::require_e2e;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::otrpeer::OtrPeer;
use crate::support::scenario::{self, assert_only_otr_to};
use crate::support::{find, secs};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypted_cr_lf_cannot_inject_commands() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) =
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])).await;
    let mut a = scenario::attach(&bnc).await;
    // "bob" is a raw OTR peer directly on the server.
    let mut bob = OtrPeer::connect(ng.addr(), "bob").await;
    bob.auto_respond("alice");

    a.privmsg("bob", "hello raw bob").await;
    bob.expect_message("alice", "hello raw bob", secs(60)).await;
    a.expect_otr(secs(20), "private", |t| t.contains("private"))
        .await;

    let evil = "part one\r\nQUIT :injected quit\r\nJOIN #evil-injected\nMODE alice +i\rPRIVMSG #x :injected privmsg\r\n:irc.test 001 alice :fake welcome";
    bob.send("alice", evil).await;
    bob.send("alice", "after the evil one").await;
    a.expect_text_from("bob", "after the evil one", secs(20))
        .await;
    let from_bob: Vec<_> = a.log_matching(|m| m.is_from("bob"));
    for m in &from_bob {
        assert_eq!(
            m.command, "PRIVMSG",
            "bob's message produced a non-PRIVMSG line: {m}"
        );
        assert_eq!(m.target(), "alice", "{m}");
        assert!(
            !m.line().contains('\r'),
            "a CR reached the client inside a line: {m}"
        );
    }
    // The pieces arrive as the texts of PRIVMSGs; none became a command.
    let texts = a.texts_from("bob");
    assert!(texts.iter().any(|t| t.contains("part one")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("QUIT :injected quit")),
        "{texts:?}"
    );
    for m in a.log() {
        let injected = match m.command.as_str() {
            "JOIN" => m.target().contains("evil"),
            "001" => m.text().contains("fake"),
            "MODE" | "QUIT" => true,
            _ => false,
        };
        assert!(!injected, "injected command reached alice's client: {m}");
    }
    // Nothing of it reached the server, and alice's upstream is still the same connection.
    let up = aud.client_to_server();
    for needle in [&b"injected"[..], b"JOIN #evil", b"MODE alice"] {
        assert!(
            find(&up, needle).is_none(),
            "sent upstream: {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert_eq!(aud.connection_count(), 1);
    assert_eq!(aud.open_count(), 1);

    // Plaintext from an opted-in nick is marked.
    bob.client.privmsg("alice", "plain words from bob").await;
    let marked = a
        .expect_desc(secs(10), "plaintext from bob, marked", |m| {
            m.is_privmsg_from("bob") && m.text().contains("plain words from bob")
        })
        .await;
    assert_eq!(marked.text(), "[NOT ENCRYPTED] plain words from bob");

    // The conversation still works both ways.
    a.privmsg("bob", "still here after all that").await;
    bob.expect_message("alice", "still here after all that", secs(20))
        .await;
    a.assert_never_received("?OTR");
    assert_only_otr_to(&aud, "bob");
}
