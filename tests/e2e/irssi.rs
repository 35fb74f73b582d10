//! A real IRC client: irssi (in tmux) on alice's bouncer holds a private conversation with
//! bob, a second bouncer with a scripted client. irssi is typed at with `tmux send-keys` and
//! read through its log files (one for every window, one per target).

use std::time::Duration;

use crate::require_irssi;
use crate::support::irssi::{Irssi, IrssiOpts};
use crate::support::ngircd::{MOTD_PHRASE, Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, Pair, assert_only_otr_to};
use crate::support::token;

/// The first private message starts the session: allow for the whole handshake.
const FIRST: Duration = Duration::from_secs(60);
/// Anything else.
const NEXT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_private_conversation_through_otrbnc() {
    require_irssi!();
    let pair = Pair::fast().await;
    let mut b = pair.attach_b().await;
    b.join("#chan").await;

    let irssi = Irssi::start(IrssiOpts::new("alice")).await;
    // irssi's /connect takes the server password as its third argument.
    irssi.type_line(&format!(
        "/connect 127.0.0.1 {} {}",
        pair.a.port(),
        pair.a.pass()
    ));
    irssi
        .wait_log(NEXT, "registration (001 shown in the status window)", |l| {
            l.contains("Welcome to the Internet Relay Network alice!")
        })
        .await;
    irssi
        .wait_log(NEXT, "the end of the MOTD", |l| l.contains("End of MOTD"))
        .await;

    // A channel passes through: irssi's JOIN, bob in the names list, a line each way.
    irssi.type_line("/join #chan");
    irssi
        .wait_target_log("#chan", NEXT, "our JOIN", |l| {
            l.contains("alice [~alice@127.0.0.1] has joined #chan")
        })
        .await;
    b.expect_desc(NEXT, "alice's JOIN seen by bob", |m| {
        m.command == "JOIN" && m.is_from("alice") && m.target() == "#chan"
    })
    .await;
    irssi
        .wait_target_log("#chan", NEXT, "bob in the names list", |l| {
            l.contains("[Users #chan]") && l.contains("bob")
        })
        .await;
    let chan_from_irssi = format!("hello channel from irssi {}", token(8));
    irssi.type_line(&format!("/msg #chan {chan_from_irssi}"));
    b.expect_desc(NEXT, "irssi's channel line", |m| {
        m.is_privmsg_from("alice") && m.target() == "#chan" && m.text() == chan_from_irssi
    })
    .await;
    let chan_from_bob = format!("hello channel from bob {}", token(8));
    b.privmsg("#chan", &chan_from_bob).await;
    irssi
        .wait_target_log("#chan", NEXT, "bob's channel line", |l| {
            l.contains(&format!("bob> {chan_from_bob}"))
        })
        .await;

    // Private: irssi → bob, encrypted by alice's bouncer, decrypted by bob's.
    let to_bob = format!("hello bob from irssi {}", token(12));
    irssi.type_line(&format!("/msg bob {to_bob}"));
    b.expect_text_from("alice", &to_bob, FIRST).await;
    irssi
        .wait_target_log("*otr", NEXT, "*otr: the conversation started", |l| {
            l.contains("<*otr> Private conversation with bob started")
        })
        .await;

    // bob → irssi: shown decrypted in the query window.
    let to_alice = format!("hi irssi, bob here {}", token(12));
    b.privmsg("alice", &to_alice).await;
    irssi
        .wait_target_log("bob", NEXT, "bob's reply, decrypted", |l| {
            l.contains(&format!("<bob> {to_alice}"))
        })
        .await;

    // /me both ways (CTCP ACTION is encrypted too).
    let act_irssi = format!("waves from irssi {}", token(8));
    irssi.type_line(&format!("/action bob {act_irssi}"));
    b.expect_text_from("alice", &format!("\u{1}ACTION {act_irssi}\u{1}"), NEXT)
        .await;
    let act_bob = format!("waves back {}", token(8));
    b.action("alice", &act_bob).await;
    irssi
        .wait_target_log("bob", NEXT, "bob's /me, decrypted", |l| {
            l.contains(&format!("* bob {act_bob}"))
        })
        .await;

    // *otr answers irssi: `/msg *otr status bob`, and the `OTR` command (irssi does not
    // pass unknown commands like `/otr` to the server: "Unknown command: otr"; `/quote` does).
    irssi.type_line("/msg *otr status bob");
    irssi
        .wait_target_log("*otr", NEXT, "the status of bob", |l| {
            l.contains("<*otr> bob: unverified") && l.contains("bob's fingerprint:")
        })
        .await;
    irssi.type_line("/quote OTR fingerprint");
    irssi
        .wait_target_log("*otr", NEXT, "our fingerprint (OTR command)", |l| {
            l.contains("<*otr> Your fingerprint:")
        })
        .await;

    // Nothing reached bob twice, irssi never saw ciphertext, and the conversation window got
    // the [otr] status line.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let texts = b.texts_from("alice");
    assert_eq!(
        texts,
        vec![to_bob.clone(), format!("\u{1}ACTION {act_irssi}\u{1}")],
        "bob received"
    );
    let log = irssi.log();
    assert!(
        !log.contains("?OTR"),
        "irssi was shown OTR protocol text:\n{}",
        crate::support::tail(&log, 40)
    );
    let query = irssi.target_log("bob");
    assert!(
        query.contains("<bob> [otr] Private conversation started"),
        "no [otr] line in irssi's query with bob:\n{query}"
    );
    assert!(
        query.contains(&format!("<alice> {to_bob}")),
        "irssi did not show its own message in the query:\n{query}"
    );
    assert!(irssi.is_alive(), "irssi exited");

    // The wire: none of the private texts, only OTR to the peer, and the *otr commands never
    // went upstream.
    pair.assert_absent(&[
        to_bob.as_bytes(),
        to_alice.as_bytes(),
        act_irssi.as_bytes(),
        act_bob.as_bytes(),
    ]);
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    pair.aud_a
        .assert_absent(&[b"status bob", b"OTR fingerprint", b"*otr"]);
    // The channel is not opted in: its lines pass in clear (through both bouncers).
    pair.aud_a.assert_sent(chan_from_irssi.as_bytes());
    assert_eq!(pair.aud_a.connection_count(), 1);
    b.assert_never_received("?OTR");
    println!(
        "irssi logs: {:?}; alice's upstream: {} lines",
        irssi.log_files(),
        pair.aud_a.lines_to_server().len()
    );
}

/// Criterion 8: `/motd` typed in irssi after registration, while in a channel, shows the MOTD
/// again: the answer to the client's own MOTD passes through otrbnc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_motd_after_registration() {
    require_irssi!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let irssi = Irssi::start(IrssiOpts::new("alice")).await;
    irssi.type_line(&format!("/connect 127.0.0.1 {} {}", bnc.port(), bnc.pass()));
    irssi
        .wait_log(NEXT, "the MOTD of the registration", |l| {
            l.contains(MOTD_PHRASE) && l.contains("End of MOTD")
        })
        .await;
    irssi.type_line("/join #motd");
    irssi
        .wait_target_log("#motd", NEXT, "our JOIN", |l| {
            l.contains("alice [~alice@127.0.0.1] has joined #motd")
        })
        .await;
    let count = |l: &str, what: &str| l.matches(what).count();
    let before = irssi.log();
    let (phrase, end) = (count(&before, MOTD_PHRASE), count(&before, "End of MOTD"));
    assert!(phrase >= 1, "no MOTD at registration");
    irssi.type_line("/motd");
    irssi
        .wait_log(NEXT, "the MOTD shown again after /motd", |l| {
            count(l, MOTD_PHRASE) > phrase && count(l, "End of MOTD") > end
        })
        .await;
    // It came from the server, asked by irssi through otrbnc.
    assert_eq!(
        aud.msgs_to_server()
            .iter()
            .filter(|m| m.command == "MOTD")
            .count(),
        1
    );
    assert!(irssi.is_alive(), "irssi exited");
}
