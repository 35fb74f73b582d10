//! What reaches a client that attaches after being away: private messages, private notices
//! (NickServ, MemoServ) and invitations that arrived while no client was attached are played
//! back; a CTCP request is not (answered hours later it would tell the asker nothing true).

use crate::require_e2e;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::{secs, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_invites_are_kept_while_detached_and_ctcp_requests_are_not() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let a = scenario::attach(&bnc).await;
    a.quit("away for a while").await;
    tokio::time::sleep(secs(1)).await;

    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    carol.join("#room").await;
    let (msg, note) = (
        format!("are you there {}", token(8)),
        format!("you have 1 memo {}", token(8)),
    );
    carol.privmsg("alice", &msg).await;
    carol.notice("alice", &note).await;
    carol.privmsg("alice", "\u{1}VERSION\u{1}").await;
    carol.send_raw("INVITE alice #room").await;
    aud.wait_for(secs(10), "the four lines reach alice's bouncer", |a| {
        let got = a.msgs_to_client();
        got.iter().any(|m| m.command == "INVITE")
            && got.iter().any(|m| m.text() == note)
            && got.iter().any(|m| m.text().contains("VERSION"))
    })
    .await;

    let mut a = scenario::attach_with(&bnc, &["server-time"]).await;
    let shown = a.collect_for(secs(2)).await;
    let has = |cmd: &str, pred: &dyn Fn(&str) -> bool| {
        shown
            .iter()
            .any(|m| m.command == cmd && m.is_from("carol") && pred(m.text()))
    };
    assert!(has("PRIVMSG", &|t| t == msg), "the message: {shown:?}");
    assert!(has("NOTICE", &|t| t == note), "the notice: {shown:?}");
    assert!(
        shown
            .iter()
            .any(|m| m.command == "INVITE" && m.is_from("carol") && m.line().contains("#room")),
        "the invitation: {shown:?}"
    );
    assert!(
        !shown.iter().any(|m| m.line().contains("VERSION")),
        "a CTCP request was played back: {shown:?}"
    );
    // Played back once, with the time it arrived.
    assert!(
        shown
            .iter()
            .filter(|m| m.is_from("carol"))
            .all(|m| m.line().starts_with("@time=")),
        "{shown:?}"
    );
}

/// A client may request (or drop) what otrbnc offers after registration: `CAP REQ` is
/// answered ACK and the capability is in force (`CAP LIST`); a list with anything otrbnc does
/// not offer is refused whole (NAK) and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cap_req_after_registration_is_acknowledged_for_what_is_offered() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (_aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let mut a = scenario::attach(&bnc).await;
    let cap = |verb: &'static str| {
        move |m: &crate::support::client::Msg| m.command == "CAP" && m.param(1) == verb
    };
    a.send_raw("CAP REQ :server-time").await;
    let ack = a.expect(secs(5), cap("ACK")).await;
    assert_eq!(ack.text(), "server-time");
    a.send_raw("CAP REQ :echo-message away-notify").await;
    let nak = a.expect(secs(5), cap("NAK")).await;
    assert_eq!(nak.text(), "echo-message away-notify");
    a.send_raw("CAP LIST").await;
    let list = a.expect(secs(5), cap("LIST")).await;
    assert_eq!(list.text(), "server-time");
    a.send_raw("CAP REQ :-server-time echo-message").await;
    a.expect(secs(5), cap("ACK")).await;
    a.send_raw("CAP LIST").await;
    let list = a.expect(secs(5), cap("LIST")).await;
    assert_eq!(list.text(), "echo-message");
}
