//! Passing through what is not ours: the answers to a client's own MOTD after registration,
//! and `*` nicks and ZNC commands other than `*otr`, so otrbnc can sit in front of ZNC or soju —
//! shown with Debian's ZNC itself.

use crate::support::auditor::Auditor;
use crate::support::client::Msg;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, OtrBnc, toml_str};
use crate::support::scenario::{self, assert_only_otr_to, sent_to};
use crate::support::znc::{Znc, ZncOpts};
use crate::support::{secs, token};
use crate::{require_e2e, require_znc};

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

/// Criterion 9: otrbnc in front of Debian's ZNC. alice's otrbnc → auditor → ZNC → auditor →
/// ngircd, bob's otrbnc → auditor → ngircd. `*status` and the raw `ZNC` command reach ZNC and
/// its answers come back; a private conversation with bob runs through ZNC with only OTR on
/// both of alice's wires, and none of the texts reaches ngircd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otrbnc_in_front_of_znc() {
    require_znc!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud_ng = Auditor::start_labeled(ng.addr(), "auditor znc→ngircd").await;
    let znc = Znc::start(ZncOpts::new("alice", aud_ng.addr())).await;
    aud_ng.wait_registered(secs(15)).await;
    let aud_znc = Auditor::start_labeled(znc.addr(), "auditor otrbnc→znc").await;
    let cfg = BncConfig::new("alice", aud_znc.addr())
        .otr_nicks(&["bob"])
        .network_toml(&format!("server_password = {}", toml_str(&znc.pass())));
    let alice = OtrBnc::start(cfg).await;
    aud_znc.wait_registered(secs(15)).await;
    let (aud_b, bob) =
        scenario::bouncer(&ng, BncConfig::new("bob", ng.addr()).otr_nicks(&["alice"])).await;
    let mut a = scenario::attach(&alice).await;
    let mut b = scenario::attach(&bob).await;

    // `/msg *status help` and the raw `ZNC help` both reach ZNC and are answered.
    // ZNC bolds each command name: `\x02Version\x0f: Print which version of ZNC this is`.
    let znc_help = |log: &[Msg]| {
        log.iter()
            .filter(|m| {
                m.is_privmsg_from("*status") && m.text().contains("Print which version of ZNC")
            })
            .count()
    };
    a.privmsg("*status", "help").await;
    a.wait_log(secs(10), "ZNC's help (PRIVMSG *status)", |log| {
        znc_help(log) >= 1
    })
    .await;
    a.send_raw("ZNC help").await;
    a.wait_log(secs(10), "ZNC's help again (ZNC help)", |log| {
        znc_help(log) >= 2
    })
    .await;
    assert!(
        aud_znc
            .lines_to_server()
            .iter()
            .any(|l| l.starts_with(b"ZNC help")),
        "the raw ZNC command did not pass unchanged"
    );

    // A private conversation through ZNC, both ways.
    let to_bob = format!("through znc to bob {}", token(12));
    let to_alice = format!("back to alice through znc {}", token(12));
    scenario::deliver(&a, &mut b, &to_bob, secs(60)).await;
    scenario::deliver(&b, &mut a, &to_alice, secs(20)).await;
    let texts = [to_bob.as_bytes(), to_alice.as_bytes()];
    aud_znc.assert_absent(&texts);
    aud_ng.assert_absent(&texts);
    aud_b.assert_absent(&texts);
    assert_only_otr_to(&aud_znc, "bob");
    assert_only_otr_to(&aud_ng, "bob");
    assert!(
        !sent_to(&aud_ng, "PRIVMSG", "bob").is_empty(),
        "nothing reached ngircd through ZNC"
    );
    assert_eq!(aud_znc.connection_count(), 1);
    b.assert_never_received("?OTR");
    a.assert_never_received("?OTR");
}
