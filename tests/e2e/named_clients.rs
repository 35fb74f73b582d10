//! Named clients (`user@client/network`, as soju and ZNC take it): each gets, when it
//! attaches again, exactly what it missed since it left, whichever other clients were
//! attached meanwhile; an unnamed client keeps the playback of lines that arrived while no
//! client at all was attached.

use crate::require_e2e;
use crate::support::client::{Client, Login, Msg};
use crate::support::otrbnc::OtrBnc;
use crate::support::scenario::{self, Pair};
use crate::support::{secs, token};

/// A client of alice's bouncer logging in as `alice@<name>`.
async fn attach_named(bnc: &OtrBnc, name: &str, caps: &[&str]) -> Client {
    let pass = bnc.pass().replacen('/', &format!("@{name}/"), 1);
    let login = Login::new(Some(&pass), &bnc.config().nick).caps(caps);
    Client::connect_with(bnc.addr(), login).await
}

/// The PRIVMSGs and NOTICEs from people (not `*otr`) among `lines`: (from, text).
fn said(lines: &[Msg]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter(|m| (m.command == "PRIVMSG" || m.command == "NOTICE") && !m.is_from("*otr"))
        .map(|m| {
            (
                m.nick().unwrap_or_default().to_string(),
                m.text().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_client_gets_exactly_what_it_missed_while_another_was_attached() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut carol = Client::connect(pair.ngircd.addr(), None, "carol", "carol", &[]).await;
    carol.join("#room").await;
    let bob = pair.attach_b().await;

    let mut desktop = attach_named(&pair.a, "desktop", &["server-time"]).await;
    desktop.join("#room").await;
    // A private conversation with bob, so that one missed message is decrypted by otrbnc.
    scenario::deliver(&bob, &mut desktop, "hello desktop", secs(60)).await;
    let mut phone = attach_named(&pair.a, "phone", &[]).await;
    desktop.quit("leaving the desk").await;
    tokio::time::sleep(secs(1)).await;

    let tag = token(6);
    let mut expected = Vec::new();
    for i in 0..20 {
        let text = format!("channel {i} {tag}");
        carol.privmsg("#room", &text).await;
        expected.push(("carol".to_string(), text));
    }
    for i in 0..4 {
        let text = format!("private {i} {tag}");
        carol.privmsg("alice", &text).await;
        expected.push(("carol".to_string(), text));
    }
    // Carol's lines and bob's come by different ways: the OTR message goes once carol's
    // have arrived, so that the order is known.
    phone
        .expect_text_from("carol", &format!("private 3 {tag}"), secs(30))
        .await;
    let otr_text = format!("private over otr {tag}");
    bob.privmsg("alice", &otr_text).await;
    expected.push(("bob".to_string(), otr_text.clone()));
    // The phone sees them live.
    phone.expect_text_from("bob", &otr_text, secs(30)).await;
    let live: Vec<(String, String)> = said(&phone.log())
        .into_iter()
        .filter(|(_, t)| t.ends_with(&tag))
        .collect();
    assert_eq!(live, expected, "live on the phone");

    // The desktop comes back: those 25, in order, once, each with the time it arrived, each
    // conversation's run in a batch.
    let mut desktop = attach_named(&pair.a, "desktop", &["server-time", "batch"]).await;
    desktop.expect_text_from("bob", &otr_text, secs(10)).await;
    // The log keeps every line, those still to come included: wait for them, then read it.
    desktop.collect_for(secs(1)).await;
    let log = desktop.log();
    let replayed: Vec<&Msg> = log
        .iter()
        .filter(|m| (m.command == "PRIVMSG" || m.command == "NOTICE") && !m.is_from("*otr"))
        .collect();
    let got = said(&replayed.iter().map(|m| (*m).clone()).collect::<Vec<_>>());
    assert_eq!(got, expected, "played back to the desktop");
    assert!(
        replayed.iter().all(|m| m
            .tags
            .as_deref()
            .is_some_and(|t| t.contains("time=") && t.contains("batch="))),
        "every line with its time, in a batch"
    );
    let batches: Vec<&Msg> = log.iter().filter(|m| m.command == "BATCH").collect();
    assert!(
        batches.iter().any(|m| m.param(0).starts_with('+')
            && m.param(1) == "chathistory"
            && m.param(2) == "#room"),
        "{batches:?}"
    );
    let opened = batches
        .iter()
        .filter(|m| m.param(0).starts_with('+'))
        .count();
    let closed = batches
        .iter()
        .filter(|m| m.param(0).starts_with('-'))
        .count();
    assert_eq!(opened, closed, "{batches:?}");
    assert!(
        !log.iter().any(|m| m.text() == "hello desktop"),
        "seen before it left"
    );

    // The phone, still attached, got nothing again; a third client without a name gets no
    // replay of what named clients saw (someone was attached all along).
    let again = phone.collect_for(secs(1)).await;
    assert!(said(&again).is_empty(), "{again:?}");
    let mut other = pair.attach_a().await;
    let shown = other.collect_for(secs(1)).await;
    assert!(
        said(&shown).iter().all(|(_, t)| !t.ends_with(&tag)),
        "{shown:?}"
    );
    // Plaintext never went to the server in the clear.
    pair.aud_a.assert_absent(&[otr_text.as_bytes()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_client_name_is_refused_with_the_reason() {
    require_e2e!();
    let pair = Pair::fast().await;
    let pass = pair.a.pass().replacen('/', "@bad*name/", 1);
    let lines = Client::connect_expect_refused(pair.a.addr(), Some(&pass), "alice", "alice").await;
    assert!(
        lines
            .iter()
            .any(|m| m.text().contains("Invalid client name")),
        "{lines:?}"
    );
}

/// Kept messages survive a restart, sealed in the data directory: a client named for the
/// first time afterwards gets the latest of them, the decrypted private message only if its
/// nick was set to `log on` when it arrived. Nothing of them is readable on disk, and a
/// damaged log is refused at start and left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_messages_survive_a_restart_sealed_and_otr_only_with_log_on() {
    require_e2e!();
    let mut pair = Pair::fast().await;
    let tag = token(6);
    let chan = format!("#r{tag}");
    let mut carol = Client::connect(pair.ngircd.addr(), None, "carol", "carol", &[]).await;
    carol.join(&chan).await;
    let mut bob = pair.attach_b().await;
    let mut desk = attach_named(&pair.a, "desk", &[]).await;
    desk.join(&chan).await;

    let unlogged = format!("otr unlogged {tag}");
    scenario::deliver(&bob, &mut desk, &unlogged, secs(60)).await;
    // What alice types to bob is kept (and written) under the same rule.
    let own_unlogged = format!("own otr unlogged {tag}");
    scenario::deliver(&desk, &mut bob, &own_unlogged, secs(30)).await;
    desk.otr("policy bob log on").await;
    desk.expect_otr(secs(5), "log on", |t| {
        t.contains("now written to the message log")
    })
    .await;
    let logged = format!("otr logged {tag}");
    scenario::deliver(&bob, &mut desk, &logged, secs(30)).await;
    let own_logged = format!("own otr logged {tag}");
    scenario::deliver(&desk, &mut bob, &own_logged, secs(30)).await;
    let mut texts = vec![
        unlogged.clone(),
        own_unlogged.clone(),
        logged.clone(),
        own_logged.clone(),
    ];
    for i in 0..3 {
        let text = format!("channel line {i} {tag}");
        carol.privmsg(&chan, &text).await;
        desk.expect_text_from("carol", &text, secs(10)).await;
        texts.push(text);
    }
    let private = format!("plain private {tag}");
    scenario::deliver(&carol, &mut desk, &private, secs(10)).await;
    texts.push(private.clone());
    let own = format!("own words {tag}");
    desk.privmsg(&chan, &own).await;
    carol.expect_text_from("alice", &own, secs(10)).await;
    texts.push(own.clone());
    desk.quit("bye").await;

    pair.a.restart().await;
    let mut laptop = attach_named(&pair.a, "laptop", &["server-time"]).await;
    laptop.expect_text_from("alice", &own, secs(10)).await;
    let shown: Vec<String> = said(&laptop.log())
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.ends_with(&tag))
        .collect();
    assert_eq!(
        shown,
        vec![
            logged.clone(),
            own_logged.clone(),
            format!("channel line 0 {tag}"),
            format!("channel line 1 {tag}"),
            format!("channel line 2 {tag}"),
            private.clone(),
            own.clone()
        ],
        "from the store, in order; the OTR messages before `log on` are not there"
    );

    // On disk: none of the texts, nicks, the channel or the client names.
    pair.a.stop_graceful().await;
    let data = pair.a.data_dir();
    let log_path = data.join("messages-test.log");
    assert!(log_path.is_file(), "{}", log_path.display());
    let mut needles: Vec<String> = texts.clone();
    needles.extend([
        chan.clone(),
        tag.clone(),
        "carol".into(),
        "laptop".into(),
        "desk".into(),
        "PRIVMSG".into(),
    ]);
    for entry in std::fs::read_dir(&data).unwrap().flatten() {
        if !entry.path().is_file() {
            continue;
        }
        let bytes = std::fs::read(entry.path()).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n:?} readable in {}",
                entry.path().display()
            );
        }
    }

    // A damaged log: otrbnc refuses to start, says which file and why, and leaves it.
    let mut bytes = std::fs::read(&log_path).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x55;
    std::fs::write(&log_path, &bytes).unwrap();
    let (status, log) = pair.a.start_expect_exit(secs(30)).await;
    assert!(!status.success());
    assert!(
        log.contains("messages-test.log"),
        "{}",
        crate::support::tail(&log, 10)
    );
    assert!(
        log.contains("left as it is"),
        "{}",
        crate::support::tail(&log, 10)
    );
    assert_eq!(
        std::fs::read(&log_path).unwrap(),
        bytes,
        "never overwritten"
    );
}

/// `date -u` as WeeChat's logger writes times (`YYYY-MM-DD HH:MM:SS`, UTC).
fn utc_now() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S"])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A real WeeChat (Debian's weechat-headless 3.8, its default capabilities: server-time and
/// message-tags among them) logging in as a named client gets what it missed while it was
/// away, each message with the time it arrived, and shows no raw tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weechat_gets_what_it_missed_with_the_original_times() {
    crate::require_weechat!();
    use crate::support::weechat::Weechat;
    let ng =
        crate::support::ngircd::Ngircd::start(crate::support::ngircd::NgircdOpts::no_penalties())
            .await;
    let cfg = crate::support::otrbnc::BncConfig::new("alice", ng.addr())
        .network_toml("channels = [\"#wee\"]");
    let (aud, bnc) = scenario::bouncer(&ng, cfg).await;
    let pass = bnc.pass().replacen('/', "@wee/", 1);
    let wait = secs(30);
    let w = Weechat::start("alice", bnc.port(), &pass).await;
    w.wait_log(Some("#wee"), wait, "WeeChat in #wee", |l| {
        l.contains("has joined #wee")
    })
    .await;
    drop(w);
    tokio::time::sleep(secs(1)).await;

    let tag = token(6);
    let (chan_text, private_text) = (format!("while away {tag}"), format!("psst {tag}"));
    let mut carol = Client::connect(ng.addr(), None, "carol", "carol", &[]).await;
    carol.join("#wee").await;
    let sent_at = utc_now();
    carol.privmsg("#wee", &chan_text).await;
    carol.privmsg("alice", &private_text).await;
    aud.wait_for(secs(10), "both reach alice's bouncer", |a| {
        a.msgs_to_client().iter().any(|m| m.text() == private_text)
    })
    .await;
    // Long enough that a time of replay could not pass for the time of arrival.
    tokio::time::sleep(secs(3)).await;
    let back_at = utc_now();
    let w = Weechat::start("alice", bnc.port(), &pass).await;
    w.wait_log(Some("#wee"), wait, "the channel line", |l| {
        l.contains(&chan_text)
    })
    .await;
    w.wait_log(Some("carol"), wait, "the private line", |l| {
        l.contains(&private_text)
    })
    .await;
    for (buffer, text) in [("#wee", &chan_text), ("carol", &private_text)] {
        let log = w.buffer_log(Some(buffer));
        let line = log
            .lines()
            .find(|l| l.contains(text.as_str()))
            .unwrap_or_default();
        let when = line.get(..19).unwrap_or_default();
        assert!(
            when >= sent_at.as_str() && when < back_at.as_str(),
            "{buffer}: shown at {when}, sent at {sent_at}, played back at {back_at}: {line}"
        );
        for raw in ["@time=", "msgid=", "\t[20"] {
            assert!(!log.contains(raw), "{buffer} shows {raw:?}:\n{log}");
        }
        assert_eq!(log.matches(text.as_str()).count(), 1, "once:\n{log}");
    }
}

/// While a named client is away (another attached), a private NOTICE and an INVITE are kept
/// for it and a CTCP request is not (answered later it would tell the asker nothing true).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_client_gets_notices_and_invites_but_no_ctcp_request() {
    require_e2e!();
    let pair = Pair::fast().await;
    let mut desktop = attach_named(&pair.a, "desktop", &[]).await;
    let mut phone = attach_named(&pair.a, "phone", &[]).await;
    desktop.quit("away").await;
    tokio::time::sleep(secs(1)).await;
    let tag = token(6);
    let mut carol = Client::connect(pair.ngircd.addr(), None, "carol", "carol", &[]).await;
    carol.join(&format!("#i{tag}")).await;
    let note = format!("you have a memo {tag}");
    carol.notice("alice", &note).await;
    carol.privmsg("alice", "\u{1}VERSION\u{1}").await;
    carol.send_raw(&format!("INVITE alice #i{tag}")).await;
    phone
        .expect(secs(10), |m| m.command == "INVITE" && m.is_from("carol"))
        .await;
    desktop = attach_named(&pair.a, "desktop", &[]).await;
    let shown = desktop.collect_for(secs(2)).await;
    assert!(
        shown
            .iter()
            .any(|m| m.command == "NOTICE" && m.text().ends_with(&note)),
        "{shown:?}"
    );
    assert!(
        shown
            .iter()
            .any(|m| m.command == "INVITE" && m.line().contains(&format!("#i{tag}"))),
        "{shown:?}"
    );
    assert!(
        !shown.iter().any(|m| m.line().contains("VERSION")),
        "{shown:?}"
    );
}
