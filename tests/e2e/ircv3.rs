//! IRCv3 capabilities through otrbnc, against a real InspIRCd with its IRCv3 modules:
//! otrbnc asks the server for what it can carry, and each client gets the lines shaped for
//! the capabilities it asked otrbnc for (tags, extended-join, multi-prefix,
//! userhost-in-names, away-notify, chghost), with CAP REQ at any time and cap-notify.

use crate::require_e2e;
use crate::support::client::{Client, Msg};
use crate::support::inspircd::{self, Inspircd};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::secs;

/// What the capable client asks for.
const RICH: &[&str] = &[
    "message-tags",
    "account-tag",
    "extended-join",
    "away-notify",
    "chghost",
    "multi-prefix",
    "userhost-in-names",
    "server-time",
    "cap-notify",
    "account-notify",
    "setname",
    "batch",
];

/// Whether InspIRCd can be started; says why not (and fails with `OTRBNC_REQUIRE_E2E`).
fn inspircd_available() -> bool {
    let Some(why) = inspircd::missing() else {
        return true;
    };
    if std::env::var_os("OTRBNC_REQUIRE_E2E").is_some() {
        panic!("{why}");
    }
    eprintln!("skipped: {why}");
    false
}

/// Every line up to and including carol's channel message `mark`.
async fn upto(c: &mut Client, mark: &str) -> Vec<Msg> {
    let mut out = Vec::new();
    loop {
        let m = c.expect(secs(20), |_| true).await;
        let done = m.command == "PRIVMSG" && m.is_from("carol") && m.text() == mark;
        out.push(m);
        if done {
            return out;
        }
    }
}

/// Carol's channel message `mark`, then both clients' lines up to it.
async fn mark(
    carol: &Client,
    rich: &mut Client,
    plain: &mut Client,
    mark: &str,
) -> (Vec<Msg>, Vec<Msg>) {
    carol.privmsg("#v3", mark).await;
    (upto(rich, mark).await, upto(plain, mark).await)
}

fn commands(lines: &[Msg]) -> Vec<&str> {
    lines.iter().map(|m| m.command.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_gets_the_lines_of_the_capabilities_it_asked_for() {
    require_e2e!();
    if !inspircd_available() {
        return;
    }
    let ins = Inspircd::start_ircv3().await;
    let (aud, bnc) = scenario::bouncer(&ins, BncConfig::new("alice", ins.daemon().addr())).await;

    // otrbnc asked the server for what it carries (not echo-message, not labeled-response).
    let req: Vec<String> = aud
        .msgs_to_server()
        .iter()
        .filter(|m| m.command == "CAP" && m.param(0).eq_ignore_ascii_case("REQ"))
        .map(|m| m.text().to_string())
        .collect();
    let asked = req.join(" ");
    for cap in RICH {
        assert!(
            asked.split(' ').any(|c| c == *cap),
            "{cap} not requested upstream: {req:?}"
        );
    }
    assert!(!asked.contains("echo-message"), "{req:?}");

    let mut carol = Client::connect(ins.daemon().addr(), None, "carol", "carol", &[]).await;
    carol.send_raw("OPER tester testpass").await;
    carol.expect(secs(10), |m| m.command == "381").await;
    carol.join("#v3").await;
    carol.send_raw("MODE #v3 +v carol").await;

    let mut rich = scenario::attach_with(&bnc, RICH).await;
    for cap in RICH {
        assert!(rich.has_cap(cap), "{cap} not granted: {:?}", rich.caps());
    }
    let mut plain = scenario::attach(&bnc).await;
    assert!(plain.caps().is_empty());

    // NAMES after the JOIN: every prefix and the host for the rich client, the highest
    // prefix and the nick alone for the plain one.
    rich.send_raw("JOIN #v3").await;
    let end_of_names = |m: &Msg| m.command == "366";
    rich.expect(secs(20), end_of_names).await;
    mark(&carol, &mut rich, &mut plain, "m1").await;
    let (r, p) = (rich.log(), plain.log());
    let names = |lines: &[Msg]| {
        lines
            .iter()
            .find(|m| m.command == "353")
            .map(|m| m.text().to_string())
            .unwrap_or_default()
    };
    assert!(
        names(&r)
            .split(' ')
            .any(|n| n.starts_with("@+carol!carol@")),
        "rich NAMES: {}",
        names(&r)
    );
    assert!(
        names(&p).split(' ').any(|n| n == "@carol"),
        "plain NAMES: {}",
        names(&p)
    );
    assert!(!names(&p).contains('!'), "plain NAMES: {}", names(&p));
    // Tags: the server's msgid and time reach the rich client only.
    let tagged = r.last().and_then(|m| m.tags.clone()).unwrap_or_default();
    assert!(
        tagged.contains("msgid=") && tagged.contains("time="),
        "{tagged}"
    );

    // CAP REQ after registration: the plain client takes multi-prefix and NAMES shows it.
    plain.send_raw("CAP REQ :multi-prefix").await;
    let ack = plain.expect(secs(5), |m| m.command == "CAP").await;
    assert_eq!(ack.param(1), "ACK", "{ack}");
    plain.send_raw("NAMES #v3").await;
    let n = plain.expect(secs(5), |m| m.command == "353").await;
    assert!(n.text().split(' ').any(|x| x == "@+carol"), "{n}");

    // away-notify.
    carol.send_raw("AWAY :brb").await;
    let (r, p) = mark(&carol, &mut rich, &mut plain, "m2").await;
    assert!(
        r.iter().any(|m| m.command == "AWAY" && m.is_from("carol")),
        "{:?}",
        commands(&r)
    );
    assert!(!p.iter().any(|m| m.command == "AWAY"), "{:?}", commands(&p));
    carol.send_raw("AWAY").await;

    // extended-join: account and real name for the rich client, a plain JOIN for the other.
    carol.send_raw("PART #v3").await;
    carol.join("#v3").await;
    let (r, p) = mark(&carol, &mut rich, &mut plain, "m3").await;
    let join = |lines: &[Msg]| {
        lines
            .iter()
            .find(|m| m.command == "JOIN" && m.is_from("carol"))
            .cloned()
            .unwrap_or_else(|| panic!("no JOIN of carol: {:?}", commands(lines)))
    };
    assert_eq!(join(&r).params.len(), 3, "{}", join(&r));
    assert_eq!(join(&p).params, vec!["#v3".to_string()], "{}", join(&p));

    // chghost: the rich client learns the new host; the plain one gets no CHGHOST.
    carol.send_raw("SETHOST carols.new.host").await;
    let (r, p) = mark(&carol, &mut rich, &mut plain, "m4").await;
    assert!(
        r.iter().any(|m| m.command == "CHGHOST"
            && m.params.get(1).map(String::as_str) == Some("carols.new.host")),
        "{:?}",
        commands(&r)
    );
    assert!(
        !p.iter().any(|m| m.command == "CHGHOST"),
        "{:?}",
        commands(&p)
    );

    // cap-notify: the server drops multi-prefix; the rich client is told, and the plain
    // client (no cap-notify) loses it silently. Loaded again, it comes back as CAP NEW.
    carol.send_raw("UNLOADMODULE m_namesx.so").await;
    let del = rich
        .expect(secs(15), |m| m.command == "CAP" && m.param(1) == "DEL")
        .await;
    assert_eq!(del.text(), "multi-prefix", "{del}");
    plain.send_raw("CAP LIST").await;
    let list = plain.expect(secs(5), |m| m.command == "CAP").await;
    assert!(!list.text().contains("multi-prefix"), "{list}");
    carol.send_raw("LOADMODULE m_namesx.so").await;
    let new = rich
        .expect(secs(15), |m| m.command == "CAP" && m.param(1) == "NEW")
        .await;
    assert_eq!(new.text(), "multi-prefix", "{new}");

    // No line the plain client got carried a tag, and none was a line of a cap it lacks.
    let all = plain.log();
    assert!(
        all.iter().all(|m| m.tags.is_none()),
        "tagged line to the plain client"
    );
    for cmd in ["AWAY", "CHGHOST", "ACCOUNT", "SETNAME", "BATCH", "TAGMSG"] {
        assert!(
            all.iter().all(|m| m.command != cmd),
            "{cmd} to the plain client"
        );
    }
    // Untagged lines reach the rich client as the server sent them.
    assert!(
        rich.log()
            .iter()
            .any(|m| m.tags.as_deref().is_some_and(|t| t.contains("msgid=")))
    );
}

/// A TAGMSG carries only tags, and client tags (`+draft/react`, `+typing`) are what the user
/// does: to an opted-in nick it is not sent at all; to anyone else it passes unchanged.
/// Client tags on a line to a server without message-tags are taken off (ngircd).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tagmsg_to_an_opted_in_nick_is_not_sent() {
    require_e2e!();
    if !inspircd_available() {
        return;
    }
    // A server with message-tags: otrbnc passes a TAGMSG on only to such a server.
    let ins = Inspircd::start_ircv3().await;
    let cfg = BncConfig::new("alice", ins.daemon().addr()).otr_nicks(&["bob"]);
    let (aud, bnc) = scenario::bouncer(&ins, cfg).await;
    let c = scenario::attach_with(&bnc, &["message-tags"]).await;
    c.send_raw("@+draft/react=secret-reaction TAGMSG bob").await;
    c.send_raw("@+draft/react=secret-reaction-2 TAGMSG carol,Bob")
        .await;
    c.send_raw("@+typing=active TAGMSG carol").await;
    aud.wait_for(secs(10), "the TAGMSG to carol", |a| {
        a.msgs_to_server()
            .iter()
            .any(|m| m.command == "TAGMSG" && m.param(0) == "carol")
    })
    .await;
    // A line sent after them has arrived: nothing more is on its way.
    c.privmsg("#nowhere", "marker").await;
    aud.wait_for(secs(10), "the marker", |a| {
        a.msgs_to_server().iter().any(|m| m.text() == "marker")
    })
    .await;
    aud.assert_absent(&[b"secret-reaction"]);
    let to_bob = aud
        .msgs_to_server()
        .into_iter()
        .filter(|m| m.command == "TAGMSG" && m.param(0).to_ascii_lowercase().contains("bob"))
        .count();
    assert_eq!(to_bob, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tags_are_taken_off_for_a_server_without_message_tags() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(&ng, BncConfig::new("alice", ng.addr())).await;
    let c = scenario::attach_with(&bnc, &["message-tags"]).await;
    assert!(c.has_cap("message-tags"), "offered by otrbnc itself");
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    c.send_raw("@+draft/reply=abc PRIVMSG carol :tagged hello")
        .await;
    c.send_raw("@+typing=active TAGMSG carol").await;
    c.privmsg("carol", "after").await;
    carol
        .expect_text_from("alice", "tagged hello", secs(10))
        .await;
    carol.expect_text_from("alice", "after", secs(10)).await;
    let up = aud.msgs_to_server();
    assert!(up.iter().all(|m| m.tags.is_none()), "a tag went to ngircd");
    assert!(up.iter().all(|m| m.command != "TAGMSG"));
}
