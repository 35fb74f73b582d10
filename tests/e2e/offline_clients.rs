//! Real clients while the server is away: irssi and WeeChat both register through otrbnc
//! with no upstream reachable (otrbnc answers 001–005 itself), reach `*otr`, and when the
//! server comes back both end up in their channels without reconnecting.

use std::time::Duration;

use crate::support::irssi::{Irssi, IrssiOpts};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::scenario;
use crate::support::weechat::Weechat;
use crate::{require_irssi, require_weechat};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_and_weechat_register_while_the_server_is_away() {
    require_irssi!();
    require_weechat!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer_while_unreachable(&ngircd, "channels = [\"#home\"]").await;

    let irssi = Irssi::start(IrssiOpts::new("alice")).await;
    irssi.type_line(&format!("/connect 127.0.0.1 {} {}", bnc.port(), bnc.pass()));
    let weechat = Weechat::start("alice", bnc.port(), &bnc.pass()).await;

    irssi
        .wait_log(WAIT, "irssi registered by otrbnc", |l| {
            l.contains("Welcome to otrbnc, alice")
        })
        .await;
    weechat
        .wait_log(None, WAIT, "WeeChat registered by otrbnc", |l| {
            l.contains("Welcome to otrbnc, alice")
        })
        .await;
    irssi.type_line("/msg *otr status");
    irssi
        .wait_target_log("*otr", WAIT, "status answered", |l| {
            l.contains("Upstream test:")
        })
        .await;
    weechat.command("/msg *otr status");
    weechat
        .wait_log(Some("*otr"), WAIT, "status answered", |l| {
            l.contains("Upstream test:")
        })
        .await;
    assert_eq!(aud.registrations(), 0, "the server was reachable all along");

    // The server comes back: both clients are put into #home on the same connection.
    aud.refuse_new(false);
    irssi
        .wait_target_log("#home", WAIT, "irssi in #home", |l| {
            l.contains("has joined #home")
        })
        .await;
    weechat
        .wait_log(Some("#home"), WAIT, "WeeChat in #home", |l| {
            l.contains("alice (~alice@127.0.0.1) has joined #home")
        })
        .await;
    println!("WeeChat #home:\n{}", weechat.buffer_log(Some("#home")));
    println!("irssi #home:\n{}", irssi.target_log("#home"));
    // Neither client dropped its connection to otrbnc meanwhile.
    assert!(
        !irssi.log().contains("Connection lost"),
        "irssi reconnected:\n{}",
        irssi.log()
    );
    let server_log = weechat.buffer_log(None);
    assert_eq!(
        server_log.matches("Welcome to").count(),
        1,
        "WeeChat registered more than once:\n{server_log}"
    );
}
