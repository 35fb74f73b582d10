//! CHATHISTORY answered by otrbnc from what it keeps (the server, ngircd, has none):
//! LATEST, BEFORE and AFTER with msgid and timestamp references return the right windows,
//! in a batch, bounded by the limit advertised in ISUPPORT.

use crate::require_e2e;
use crate::support::client::{Client, Msg};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::{secs, token};

const CAPS: &[&str] = &["batch", "server-time", "message-tags", "draft/chathistory"];

/// Sends a CHATHISTORY request and returns the messages of its batch.
async fn history(c: &mut Client, request: &str) -> Vec<Msg> {
    c.send_raw(&format!("CHATHISTORY {request}")).await;
    let open = c
        .expect(secs(10), |m| m.command == "BATCH" || m.command == "FAIL")
        .await;
    assert_eq!(open.command, "BATCH", "{request}: {open}");
    assert_eq!(open.param(1), "chathistory", "{open}");
    let id = open.param(0).trim_start_matches('+').to_string();
    let mut out = Vec::new();
    loop {
        let m = c.expect(secs(10), |_| true).await;
        if m.command == "BATCH" && m.param(0) == format!("-{id}") {
            return out;
        }
        let tags = m.tags.clone().unwrap_or_default();
        assert!(
            tags.contains(&format!("batch={id}")),
            "outside the batch: {m}"
        );
        assert!(tags.contains("msgid=") && tags.contains("time="), "{m}");
        out.push(m);
    }
}

fn tag_of(m: &Msg, key: &str) -> String {
    m.tags
        .as_deref()
        .unwrap_or_default()
        .split(';')
        .find_map(|t| t.strip_prefix(&format!("{key}=")))
        .unwrap_or_default()
        .to_string()
}

fn texts(v: &[Msg]) -> Vec<String> {
    v.iter().map(|m| m.text().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chathistory_returns_the_right_windows() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let chan = format!("#h{}", token(5));
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    carol.join(&chan).await;
    let mut c = scenario::attach_with(&bnc, CAPS).await;
    for cap in CAPS {
        assert!(c.has_cap(cap), "{cap}: {:?}", c.caps());
    }
    assert!(
        c.registration()
            .iter()
            .any(|m| m.command == "005" && m.params.iter().any(|p| p == "CHATHISTORY=1000")),
        "ISUPPORT advertises the limit"
    );
    c.join(&chan).await;
    let sent: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
    for t in &sent {
        carol.privmsg(&chan, t).await;
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    c.expect_text_from("carol", "line 30", secs(10)).await;

    let all = history(&mut c, &format!("LATEST {chan} * 50")).await;
    assert_eq!(texts(&all), sent);
    let last = history(&mut c, &format!("LATEST {chan} * 10")).await;
    assert_eq!(texts(&last), sent[20..].to_vec());
    let ids: Vec<String> = all.iter().map(|m| tag_of(m, "msgid")).collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30, "one msgid each: {ids:?}");

    // line 20 is index 19.
    let before = history(&mut c, &format!("BEFORE {chan} msgid={} 5", ids[19])).await;
    assert_eq!(texts(&before), sent[14..19].to_vec());
    let after = history(&mut c, &format!("AFTER {chan} msgid={} 5", ids[19])).await;
    assert_eq!(texts(&after), sent[20..25].to_vec());
    // Lines that arrived in the same millisecond share a time: the windows are those the
    // times say (on a loaded machine several may share one).
    let t10 = tag_of(&all[9], "time");
    let times: Vec<String> = all.iter().map(|m| tag_of(m, "time")).collect();
    let later: Vec<String> = (0..30)
        .filter(|&i| times[i] > t10)
        .map(|i| sent[i].clone())
        .collect();
    let earlier: Vec<String> = (0..30)
        .filter(|&i| times[i] < t10)
        .map(|i| sent[i].clone())
        .collect();
    let after_t = history(&mut c, &format!("AFTER {chan} timestamp={t10} 3")).await;
    assert_eq!(texts(&after_t), later[..3.min(later.len())].to_vec());
    let before_t = history(&mut c, &format!("BEFORE {chan} timestamp={t10} 3")).await;
    assert_eq!(
        texts(&before_t),
        earlier[earlier.len().saturating_sub(3)..].to_vec()
    );
    assert!(!earlier.is_empty() && !later.is_empty(), "{times:?}");
    // The latest after a reference, and a limit above the advertised one is bounded.
    let since = history(&mut c, &format!("LATEST {chan} msgid={} 5000", ids[27])).await;
    assert_eq!(texts(&since), sent[28..].to_vec());
    // Refusals are FAIL lines, not silence.
    c.send_raw(&format!("CHATHISTORY BEFORE {chan} * 5")).await;
    let fail = c.expect(secs(5), |m| m.command == "FAIL").await;
    assert_eq!(fail.param(1), "INVALID_PARAMS", "{fail}");
    // The server never saw a CHATHISTORY.
    assert!(
        aud.msgs_to_server()
            .iter()
            .all(|m| m.command != "CHATHISTORY")
    );
}
