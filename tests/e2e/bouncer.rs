//! The bouncer half against ngircd: a client attaching to many channels gets their member
//! lists from otrbnc (no NAMES upstream, none to the other clients), a reconnect rejoins them
//! in a few batched JOIN lines, the kept channels (configured and joined at run time, with
//! keys) survive a restart, and a client attaching while the server is away is registered
//! by otrbnc and brought into its channels when the server is back.

use std::time::{Duration, Instant};

use crate::require_e2e;
use crate::support::auditor::Auditor;
use crate::support::client::{Client, Login};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, attach};
use crate::support::secs;

/// Lines otrbnc sent to the server that start with `command ` (e.g. "NAMES").
fn commands_sent(aud: &Auditor, command: &str) -> Vec<String> {
    let prefix = format!("{command} ");
    aud.lines_to_server()
        .iter()
        .map(|l| String::from_utf8_lossy(l).trim_end().to_string())
        .filter(|l| l.starts_with(&prefix))
        .collect()
}

/// Channels the server confirmed joining for `nick` (its JOIN echoes), on every connection.
fn joins_confirmed(aud: &Auditor, nick: &str) -> usize {
    let prefix = format!(":{nick}!");
    aud.lines_to_client()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .filter(|l| l.starts_with(&prefix) && l.split(' ').nth(1) == Some("JOIN"))
        .count()
}

/// 300 channels: a client attaching gets every channel with its NAMES from otrbnc within
/// 2 s, otrbnc sends no NAMES upstream, the client already attached sees none of it, and a
/// reconnect rejoins all 300 in at most 12 JOIN lines.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_channels_attach_from_state_and_rejoin_in_batches() {
    require_e2e!();
    const N: usize = 300;
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let cfg = BncConfig::new("alice", ngircd.addr())
        .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2");
    let (aud, bnc) = scenario::bouncer(&ngircd, cfg).await;
    // A second user in the first channels, so that member lists have more than us.
    let mut carol = Client::connect(ngircd.addr(), None, "carol", "carol", &[]).await;
    let first = attach(&bnc).await;
    let names: Vec<String> = (0..N).map(|i| format!("#room{i:03}")).collect();
    carol.join(&names[0]).await;
    for chunk in names.chunks(25) {
        first.send_raw(&format!("JOIN {}", chunk.join(","))).await;
    }
    aud.wait_for(secs(60), "300 channels joined", |a| {
        joins_confirmed(a, "alice") >= N
    })
    .await;
    // Every channel's member list ended (366) before the attach is measured.
    first
        .wait_log(secs(30), "300 NAMES ends", |log| {
            log.iter().filter(|m| m.command == "366").count() >= N
        })
        .await;
    let names_before = commands_sent(&aud, "NAMES").len();
    let first_seen = first.log().len();

    let t0 = Instant::now();
    let second = Client::connect_with(bnc.addr(), Login::new(Some(&bnc.pass()), "alice")).await;
    second
        .wait_log(secs(10), "300 NAMES ends", |log| {
            log.iter().filter(|m| m.command == "366").count() >= N
        })
        .await;
    let attach_time = t0.elapsed();
    println!("attach with {N} channels: last NAMES end after {attach_time:?}");
    assert!(
        attach_time <= secs(2),
        "attach took {attach_time:?} (target ≤ 2 s)"
    );
    let log = second.log();
    let joined: Vec<&str> = log
        .iter()
        .filter(|m| m.command == "JOIN")
        .map(|m| m.param(0))
        .collect();
    assert_eq!(joined.len(), N, "JOINs at attach");
    // carol is listed in the first channel's NAMES, from tracked state.
    let carol_listed = log.iter().any(|m| {
        m.command == "353"
            && m.param(2) == names[0]
            && m.text()
                .split(' ')
                .any(|n| n.trim_start_matches(['@', '+']) == "carol")
    });
    assert!(carol_listed, "carol missing from {}'s NAMES", names[0]);
    // No NAMES went upstream for the attach, and the first client saw no NAMES spam.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(commands_sent(&aud, "NAMES").len(), names_before);
    let spam = first.log()[first_seen..]
        .iter()
        .filter(|m| m.command == "353" || m.command == "366")
        .count();
    assert_eq!(spam, 0, "the attached client got NAMES replies");

    // A NAMES a client asks for is answered to it alone, from state.
    second.send_raw(&format!("NAMES {}", names[0])).await;
    second
        .wait_log(secs(5), "the NAMES answer", |log| {
            log.iter().filter(|m| m.command == "366").count() > N
        })
        .await;
    assert_eq!(commands_sent(&aud, "NAMES").len(), names_before);

    // A reconnect rejoins all 300 in ≤ 12 JOIN lines.
    let joins_before = commands_sent(&aud, "JOIN").len();
    aud.cut();
    aud.wait_for(secs(30), "300 channels rejoined", |a| {
        joins_confirmed(a, "alice") >= 2 * N
    })
    .await;
    let join_lines = commands_sent(&aud, "JOIN").len() - joins_before;
    println!("rejoin of {N} channels: {join_lines} JOIN line(s)");
    assert!(join_lines <= 12, "{join_lines} JOIN lines");
    drop(carol);
}

/// Configured channels (one with a key) and channels joined at run time (one with a key
/// set on the server) are joined again after a restart, with their keys; a part at run time
/// is remembered too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_rejoins_configured_and_run_time_channels_with_keys() {
    require_e2e!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    // carol holds two keyed channels.
    let mut carol = Client::connect(ngircd.addr(), None, "carol", "carol", &[]).await;
    for (chan, key) in [("#conf-keyed", "k-conf"), ("#rt-keyed", "k-rt")] {
        carol.join(chan).await;
        carol.send_raw(&format!("MODE {chan} +k {key}")).await;
        carol
            .expect_desc(secs(5), "the key set", |m| {
                m.command == "MODE" && m.param(0) == chan
            })
            .await;
    }
    let cfg = BncConfig::new("alice", ngircd.addr())
        .network_toml("channels = [\"#conf\", \"#conf-keyed k-conf\"]");
    let (aud, mut bnc) = scenario::bouncer(&ngircd, cfg).await;
    aud.wait_for(secs(15), "configured channels joined", |a| {
        joins_confirmed(a, "alice") >= 2
    })
    .await;
    let mut c = attach(&bnc).await;
    c.send_raw("JOIN #rt-keyed,#rt-plain,#rt-parted k-rt").await;
    aud.wait_for(secs(15), "run-time channels joined", |a| {
        joins_confirmed(a, "alice") >= 5
    })
    .await;
    c.send_raw("PART #rt-parted").await;
    c.expect_desc(secs(5), "the part", |m| {
        m.command == "PART" && m.param(0) == "#rt-parted"
    })
    .await;
    drop(c);

    let sent_before = commands_sent(&aud, "JOIN").len();
    bnc.restart().await;
    let expected = ["#conf", "#conf-keyed", "#rt-keyed", "#rt-plain"];
    aud.wait_for(secs(20), "all four rejoined after the restart", |a| {
        joins_confirmed(a, "alice") >= 5 + expected.len()
    })
    .await;
    // What the restarted otrbnc sent: the four channels with both keys, not the parted one.
    let text = commands_sent(&aud, "JOIN")[sent_before..].join("\n");
    for ch in expected {
        assert!(text.contains(ch), "{ch} not rejoined: {text}");
    }
    assert!(
        !text.contains("#rt-parted"),
        "a parted channel came back: {text}"
    );
    assert!(
        text.contains("k-conf") && text.contains("k-rt"),
        "keys: {text}"
    );
    // carol sees alice come back into the keyed channels.
    carol
        .wait_log(secs(10), "alice back in #rt-keyed", |log| {
            log.iter()
                .filter(|m| m.command == "JOIN" && m.is_from("alice") && m.param(0) == "#rt-keyed")
                .count()
                >= 2
        })
        .await;
}

/// With the server unreachable a client is registered by otrbnc itself (001 and a MOTD-less
/// end), can use *otr, can ask for a channel; when the server comes back it is put into its
/// channels without reconnecting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_registers_while_the_server_is_away_and_is_brought_in() {
    require_e2e!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer_while_unreachable(&ngircd, "channels = [\"#home\"]").await;
    let mut c = Client::connect_with(
        bnc.addr(),
        Login::new(Some(&bnc.pass()), "alice").caps(&["server-time"]),
    )
    .await;
    let reg = c.registration();
    assert!(
        reg.iter()
            .any(|m| m.command == "001" && m.nick() == Some("otrbnc"))
    );
    c.expect_desc(secs(5), "MOTD-less end", |m| m.command == "422")
        .await;
    c.expect_otr(secs(5), "not connected", |t| {
        t.starts_with("test is not connected")
    })
    .await;
    c.otr("status").await;
    c.expect_otr(secs(5), "status answers", |t| {
        t.starts_with("Upstream test:")
    })
    .await;
    c.send_raw("JOIN #later").await;
    c.expect_otr(secs(5), "join later", |t| {
        t.contains("#later will be joined")
    })
    .await;
    assert!(aud.registrations() == 0);

    // Someone else holds "alice" by the time the server is back: the client, registered as
    // alice by otrbnc, is told its new nick before it is put into its channels.
    let _squatter = Client::connect(ngircd.addr(), None, "alice", "squatter", &[]).await;
    aud.refuse_new(false);
    let renamed = c
        .expect_desc(secs(20), "the new nick", |m| {
            m.command == "NICK" && m.is_from("alice")
        })
        .await;
    let nick = renamed.param(0).to_string();
    assert_ne!(nick, "alice");
    for chan in ["#home", "#later"] {
        c.expect_desc(secs(20), "brought into the channel", |m| {
            m.command == "JOIN" && m.param(0) == chan && m.is_from(&nick)
        })
        .await;
    }
    // The server's ISUPPORT reached the client after the fact.
    assert!(
        c.log()
            .iter()
            .any(|m| m.command == "005" && m.nick() != Some("otrbnc"))
    );
}

/// A kept channel the server refuses (wrong key) is reported once in `*otr` and scheduled
/// for a later try; the refusal itself reaches the client as the server sent it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_kept_channel_is_reported_and_retried_later() {
    require_e2e!();
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let mut carol = Client::connect(ngircd.addr(), None, "carol", "carol", &[]).await;
    carol.join("#locked").await;
    carol.send_raw("MODE #locked +k right-key").await;
    carol
        .expect_desc(secs(5), "the key set", |m| m.command == "MODE")
        .await;
    let (aud, bnc) =
        scenario::bouncer_while_unreachable(&ngircd, "channels = [\"#locked wrong-key\"]").await;
    let mut c = attach(&bnc).await;
    aud.refuse_new(false);
    c.expect_otr(secs(20), "the refusal told", |t| {
        t.starts_with("Could not join #locked (") && t.contains("trying again in 1 min")
    })
    .await;
    c.wait_log(secs(5), "the server's refusal", |log| {
        log.iter().any(|m| m.command == "475")
    })
    .await;
    assert_eq!(commands_sent(&aud, "JOIN"), vec!["JOIN #locked wrong-key"]);
}
