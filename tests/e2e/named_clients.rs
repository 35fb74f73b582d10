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

    // The desktop comes back: those 25, in order, once, each with the time it arrived.
    let mut desktop = attach_named(&pair.a, "desktop", &["server-time"]).await;
    desktop.expect_text_from("bob", &otr_text, secs(10)).await;
    let later = desktop.collect_for(secs(1)).await;
    let log = [desktop.log(), later].concat();
    let replayed: Vec<&Msg> = log
        .iter()
        .filter(|m| (m.command == "PRIVMSG" || m.command == "NOTICE") && !m.is_from("*otr"))
        .collect();
    let got = said(&replayed.iter().map(|m| (*m).clone()).collect::<Vec<_>>());
    assert_eq!(got, expected, "played back to the desktop");
    assert!(
        replayed
            .iter()
            .all(|m| m.tags.as_deref().is_some_and(|t| t.contains("time="))),
        "every line with its time"
    );
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
