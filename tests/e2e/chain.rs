//! Passing through what is not ours: the answers to a client's own MOTD after registration,
//! and `*` nicks and ZNC commands other than `*otr`, so otrbnc can sit in front of ZNC or soju.

use crate::require_e2e;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, sent_to};
use crate::support::secs;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn motd_after_registration_reaches_the_client() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (_aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let a = scenario::attach(&bnc).await;
    // The welcome the client got when it attached ends with its own 376.
    a.wait_log(secs(10), "the welcome's end", |log| {
        log.iter().any(|m| m.command == "376")
    })
    .await;
    let mark = a.log().len();
    a.send_raw("MOTD").await;
    a.wait_log(secs(10), "the MOTD's end", |log| {
        log.iter().skip(mark).any(|m| m.command == "376")
    })
    .await;
    let answer: Vec<String> = a.log()[mark..].iter().map(|m| m.command.clone()).collect();
    assert!(
        answer.contains(&"375".to_string()) && answer.contains(&"372".to_string()),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_star_nicks_and_znc_commands_pass_upstream() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let mut a = scenario::attach(&bnc).await;
    a.privmsg("*status", "ListNetworks").await;
    a.send_raw("ZNC jump").await;
    a.privmsg("*otr", "help").await;
    a.expect_otr(secs(10), "help", |t| t.starts_with("otrbnc *otr commands"))
        .await;
    aud.wait_for(secs(10), "both upstream", |aud| {
        !sent_to(aud, "PRIVMSG", "*status").is_empty()
            && aud
                .lines_to_server()
                .iter()
                .any(|l| l.starts_with(b"ZNC jump"))
    })
    .await;
    assert!(
        sent_to(&aud, "PRIVMSG", "*otr").is_empty(),
        "*otr went upstream"
    );
}
