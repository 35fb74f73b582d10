//! Away per client, as soju does it: the user is away upstream only while every attached
//! client is (with the message set last), or while none is attached (`auto_away_message`).
//! Each client's own AWAY is answered to that client alone.

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::{Client, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::secs;

/// The AWAY lines alice's bouncer sent upstream, as their parameter ("" for back).
fn away_sent(aud: &Auditor) -> Vec<String> {
    aud.msgs_to_server()
        .iter()
        .filter(|m| m.command == "AWAY")
        .map(|m| m.params.first().cloned().unwrap_or_default())
        .collect()
}

/// Whether the server has alice away, and with what: carol asks WHOIS.
async fn whois_away(carol: &mut Client) -> Option<String> {
    carol.send_raw("WHOIS alice").await;
    let mut away = None;
    let end = |m: &Msg| m.command == "318";
    loop {
        let m = carol
            .expect(secs(5), |m| m.command == "301" || end(m))
            .await;
        if m.command == "301" {
            away = Some(m.text().to_string());
        } else {
            return away;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_is_away_upstream_only_when_every_client_is_or_none_is_attached() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let cfg =
        BncConfig::new("alice", ng.addr()).network_toml("auto_away_message = \"gone fishing\"");
    let (aud, bnc) = scenario::bouncer(&ng, cfg).await;
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    // Registered with nobody attached: away with the configured message.
    aud.wait_for(secs(10), "auto away", |a| away_sent(a) == ["gone fishing"])
        .await;
    assert_eq!(
        whois_away(&mut carol).await.as_deref(),
        Some("gone fishing")
    );

    // A client attaches: back. Its own AWAY is answered to it alone, and with a second
    // client present (not away) the user stays present upstream.
    let mut c1 = scenario::attach(&bnc).await;
    aud.wait_for(secs(10), "back", |a| away_sent(a).len() == 2)
        .await;
    assert_eq!(whois_away(&mut carol).await, None);
    let mut c2 = scenario::attach(&bnc).await;
    c1.send_raw("AWAY :lunch").await;
    c1.expect(secs(5), |m| m.command == "306").await;
    tokio::time::sleep(secs(1)).await;
    assert_eq!(away_sent(&aud).len(), 2, "c2 is still here");
    assert!(c2.drain().iter().all(|m| m.command != "306"));
    // Both away: away upstream with the message set last; the server's own 306 is not shown.
    c2.send_raw("AWAY :meeting").await;
    c2.expect(secs(5), |m| m.command == "306").await;
    aud.wait_for(secs(10), "away", |a| {
        away_sent(a).last().map(String::as_str) == Some("meeting")
    })
    .await;
    assert_eq!(whois_away(&mut carol).await.as_deref(), Some("meeting"));
    let late = c1.collect_for(secs(1)).await;
    assert!(late.iter().all(|m| m.command != "306"), "{late:?}");
    // One comes back: present upstream again.
    c1.send_raw("AWAY").await;
    c1.expect(secs(5), |m| m.command == "305").await;
    aud.wait_for(secs(10), "back again", |a| {
        away_sent(a).last().map(String::as_str) == Some("")
    })
    .await;
    assert_eq!(whois_away(&mut carol).await, None);
    // Everyone leaves: the auto-away message again.
    c1.quit("bye").await;
    c2.quit("bye").await;
    aud.wait_for(secs(10), "auto away again", |a| {
        away_sent(a).last().map(String::as_str) == Some("gone fishing")
    })
    .await;
}
