//! The network commands of `*otr`: `disconnect` holds until `connect`, `jump` makes a new
//! connection, `networks` lists every network with its state and `clients` the attached
//! clients, also for another network named in the command.

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, sent_to, upstream_status};
use crate::support::secs;

/// Whether connection `n` of `aud` sent exactly `line` (CRLF added).
fn conn_sent(aud: &Auditor, n: usize, line: &str) -> bool {
    let want = format!("{line}\r\n");
    aud.connections()
        .get(n)
        .is_some_and(|c| c.lines_to_server().iter().any(|l| l == want.as_bytes()))
}

/// `disconnect` sends QUIT with the reason, closes the upstream and does not reconnect (with
/// a 1 s reconnect delay it would within 2 s); `status` says so; `connect` reconnects and
/// rejoins; `jump` quits and makes a new connection at once, under the same nick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_holds_until_connect_and_jump_reconnects() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let cfg = BncConfig::new("alice", ng.addr())
        .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2");
    let (aud, bnc) = scenario::bouncer(&ng, cfg).await;
    let mut a = scenario::attach(&bnc).await;
    a.join("#ctl").await;

    a.otr("disconnect test bye for now").await;
    a.expect_otr(secs(10), "disconnected", |t| {
        t == "Disconnected from test: it stays disconnected until `connect`."
    })
    .await;
    aud.wait_for(secs(10), "the QUIT and the socket closed", |aud| {
        conn_sent(aud, 0, "QUIT :bye for now") && aud.open_count() == 0
    })
    .await;
    let status = upstream_status(&mut a).await;
    assert!(
        status.starts_with("Upstream test: disconnected by you; `connect` reconnects."),
        "{status}"
    );
    assert_eq!(aud.connections().len(), 1, "reconnected after disconnect");
    // `connect` with this network's own name.
    a.otr("connect test").await;
    a.expect_otr(secs(10), "connecting", |t| t == "Connecting to test now.")
        .await;
    aud.wait_for(secs(15), "registered again and #ctl rejoined", |aud| {
        aud.registrations() == 2 && sent_to(aud, "JOIN", "#ctl").len() == 2
    })
    .await;
    a.expect_desc(secs(10), "#ctl rejoined", |m| {
        m.command == "JOIN" && m.target() == "#ctl"
    })
    .await;

    a.otr("disconnect").await;
    a.expect_otr(secs(10), "disconnected again", |t| {
        t == "Disconnected from test: it stays disconnected until `connect`."
    })
    .await;
    aud.wait_for(secs(10), "the QUIT and the socket closed", |aud| {
        conn_sent(aud, 1, "QUIT :Disconnected") && aud.open_count() == 0
    })
    .await;
    // Absence can only be shown by waiting: twice the longest reconnect delay.
    tokio::time::sleep(secs(4)).await;
    assert_eq!(aud.connections().len(), 2, "reconnected after disconnect");
    assert_eq!(aud.registrations(), 2, "registered again after disconnect");

    a.otr("connect").await;
    a.expect_otr(secs(10), "connecting", |t| t == "Connecting to test now.")
        .await;
    aud.wait_for(secs(15), "registered again and #ctl rejoined", |aud| {
        aud.registrations() == 3 && sent_to(aud, "JOIN", "#ctl").len() == 3
    })
    .await;
    let before = aud.connections().len();

    a.otr("jump").await;
    a.expect_otr(secs(10), "jumped", |t| {
        t == "Left test (QUIT sent); a new connection follows as soon as the old one is closed."
    })
    .await;
    aud.wait_for(secs(15), "a new connection registered", |aud| {
        aud.registrations() == 4 && aud.connections().len() == before + 1
    })
    .await;
    assert!(conn_sent(&aud, before - 1, "QUIT :Reconnecting"));
    // The old connection quit before the new one registered: same nick.
    assert!(
        conn_sent(&aud, before, "NICK alice"),
        "{}",
        aud.tail_to_server(20)
    );
    aud.wait_for(secs(15), "#ctl rejoined after the jump", |aud| {
        sent_to(aud, "JOIN", "#ctl").len() == 4
    })
    .await;
    let status = upstream_status(&mut a).await;
    assert!(status.starts_with("Upstream test: connected,"), "{status}");
    assert!(
        ng.forced_disconnects().is_empty(),
        "{:?}",
        ng.forced_disconnects()
    );
}

/// The `networks` lines (after the header) from one `*otr networks`.
async fn networks(c: &mut Client) -> Vec<String> {
    c.otr("networks").await;
    c.expect_otr(secs(10), "the networks header", |t| t == "2 network(s):")
        .await;
    let mut out = Vec::new();
    for _ in 0..2 {
        let m = c
            .expect_otr(secs(10), "a network line", |t| t.starts_with("  "))
            .await;
        out.push(m.text().to_string());
    }
    out
}

/// Two networks: `networks` shows both with their state, nick, route, clients and channels;
/// `disconnect second` from a client of the other network acts there and answers here;
/// `clients` lists the two clients of this network; an unknown name lists the names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn networks_and_clients_across_two_networks() {
    require_e2e!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let aud2 = Auditor::start_labeled(ng.addr(), "auditor for second").await;
    let second = format!(
        "\n[networks.second]\nhost = \"127.0.0.1\"\nport = {}\ntransport = \"plain\"\n\
         nick = \"alice2\"\nflood_interval_secs = 0.0\n",
        aud2.port()
    );
    let cfg = BncConfig::new("alice", ng.addr()).network_toml(&second);
    let (aud, bnc) = scenario::bouncer(&ng, cfg).await;
    aud2.wait_registered(secs(30)).await;
    let mut a = scenario::attach(&bnc).await;
    let mut b = scenario::attach_with(&bnc, &["server-time"]).await;
    a.join("#one").await;

    let list = networks(&mut a).await;
    assert_eq!(
        list,
        vec![
            format!(
                "  second: connected · nick alice2 · 127.0.0.1:{} over plain · 0 client(s) · 0 channel(s)",
                aud2.port()
            ),
            format!(
                "  test (this one): connected · nick alice · 127.0.0.1:{} over plain · 2 client(s) · 1 channel(s)",
                aud.port()
            ),
        ]
    );

    a.otr("clients").await;
    a.expect_otr(secs(10), "the clients header", |t| {
        t == "2 client(s) attached to test:"
    })
    .await;
    let c1 = a
        .expect_otr(secs(10), "a client line", |t| t.starts_with("  client "))
        .await;
    let c2 = a
        .expect_otr(secs(10), "a client line", |t| t.starts_with("  client "))
        .await;
    let lines = [c1.text().to_string(), c2.text().to_string()];
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" (you): nick alice · caps none · attached at ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| !l.contains("(you)")
            && l.contains(": nick alice · caps cap-notify, server-time · attached at ")),
        "{lines:?}"
    );

    // Another network by name: it acts, and answers the asking client directly.
    a.otr("disconnect second see you").await;
    a.expect_otr(secs(10), "second disconnected", |t| {
        t == "Disconnected from second: it stays disconnected until `connect`."
    })
    .await;
    aud2.wait_for(secs(10), "second's QUIT", |aud| {
        conn_sent(aud, 0, "QUIT :see you") && aud.open_count() == 0
    })
    .await;
    let list = networks(&mut a).await;
    assert!(
        list[0].starts_with("  second: disconnected by you · nick alice2 · "),
        "{list:?}"
    );
    assert!(
        list[1].starts_with("  test (this one): connected · "),
        "{list:?}"
    );
    assert_eq!(aud.connection_count(), 1, "the other network was touched");

    a.otr("clients second").await;
    a.expect_otr(secs(10), "second's clients", |t| {
        t == "0 client(s) attached to second:"
    })
    .await;
    a.otr("connect nowhere").await;
    a.expect_otr(secs(10), "the names", |t| {
        t == "Unknown network \"nowhere\"; configured: second, test."
    })
    .await;

    b.otr("connect second").await;
    b.expect_otr(secs(10), "second connecting", |t| {
        t == "Connecting to second now."
    })
    .await;
    aud2.wait_for(secs(15), "second registered again", |aud| {
        aud.registrations() == 2
    })
    .await;
    // The summary follows the registration as soon as otrbnc has read the 001.
    let mut last = Vec::new();
    for _ in 0..50 {
        last = networks(&mut b).await;
        if last[0].starts_with("  second: connected · ") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(last[0].starts_with("  second: connected · "), "{last:?}");

    // Help for the new commands.
    b.otr("help jump").await;
    b.expect_otr(secs(10), "help jump", |t| {
        t.starts_with("Usage: jump [network] — ") && t.contains("one server per network")
    })
    .await;
    b.otr("help").await;
    for cmd in ["connect", "disconnect", "jump", "networks", "clients"] {
        let head = format!("  {cmd} ");
        b.expect_otr(secs(10), &head, |t| t.starts_with(&head))
            .await;
    }
}
