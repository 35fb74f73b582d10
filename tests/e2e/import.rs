//! Moving from irssi-otr to otrbnc with `otrbnc import-libotr`: the key and fingerprint file
//! irssi-otr made in the test go into a fresh otrbnc; the contact (irssi-otr) sees the same
//! fingerprint as before, still verified, and otrbnc keeps the contact's SMP verification.

use std::ffi::OsStr;
use std::time::Duration;

use crate::require_irssi_otr;
use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::irssi_otr::{ACCOUNT, IrssiOtr, find_fp, fp_hex, fp_human, says};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, NETWORK, OtrBnc};
use crate::support::scenario::{self, REGISTER_TIMEOUT, assert_only_otr_to};
use crate::support::token;

/// The first handshake (keys are made before it).
const FIRST: Duration = Duration::from_secs(30);
/// Anything after it.
const NEXT: Duration = Duration::from_secs(15);

/// `asker` verifies `answerer` with an SMP question, which `answerer` answers right; both
/// report success.
async fn smp(asker: &IrssiOtr, answerer: &IrssiOtr, question: &str) {
    let (a, b) = (asker.nick(), answerer.nick());
    let answer = format!("answer-{}", token(8));
    let (ma, mb) = (asker.mark(b), answerer.mark(a));
    asker.otr_authq(b, question, &answer);
    answerer
        .wait_says(a, mb, NEXT, &says::auth_question(question))
        .await;
    answerer.otr_auth_answer(a, &answer);
    asker.wait_says(b, ma, NEXT, &says::auth_success(b)).await;
    answerer
        .wait_says(a, mb, NEXT, &says::auth_success(a))
        .await;
}

/// The trust column of `nick`'s lines in `p`'s `otr.fp`, with their fingerprints.
fn fp_file_lines(p: &IrssiOtr, nick: &str) -> Vec<(String, String)> {
    p.fingerprints_file()
        .into_iter()
        .filter(|e| e.nick == nick)
        .map(|e| (e.fingerprint, e.trust))
        .collect()
}

/// Waits for a `*otr` notice satisfying `pred`, naming `what`.
async fn otr_notice(c: &mut Client, what: &str, pred: impl Fn(&str) -> bool) -> String {
    c.expect_otr(NEXT, what, |t| pred(t))
        .await
        .text()
        .to_string()
}

/// The acceptance test of `import-libotr`: alice and bob (both irssi-otr) go private and verify
/// each other with SMP; alice moves to otrbnc with her irssi-otr files; bob's irssi then shows
/// the session with alice secure under the same fingerprint, still SMP-verified, with no new
/// fingerprint; otrbnc shows bob's OTRv3 fingerprint as verified by SMP and the imported one
/// as its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_otr_key_and_trust_move_into_otrbnc() {
    require_irssi_otr!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (mut alice, bob) = tokio::join!(IrssiOtr::start("alice"), IrssiOtr::start("bob"));
    tokio::join!(alice.connect(ng.addr()), bob.connect(ng.addr()));

    // 1. Before the move: private, and verified both ways by SMP.
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    alice.otr_init("bob");
    alice.wait_secure("bob", ma, FIRST).await;
    bob.wait_secure("alice", mb, FIRST).await;
    smp(&alice, &bob, "Which boat did we sail in 2019?").await;
    smp(&bob, &alice, "Where did we moor?").await;
    let alice_fp = fp_hex(&alice.own_fingerprint().await);
    let bob_fp = fp_hex(&bob.own_fingerprint().await);
    assert_eq!(
        bob.fingerprint_shown_for("alice", "alice").as_deref(),
        Some(alice_fp.as_str()),
        "the fingerprint bob saw for alice"
    );
    assert_eq!(
        fp_file_lines(&alice, "bob"),
        [(bob_fp.clone(), "smp".to_string())]
    );
    assert_eq!(
        fp_file_lines(&bob, "alice"),
        [(alice_fp.clone(), "smp".to_string())]
    );
    let before = bob.context_with("alice").await.expect("bob's context");
    assert_eq!(
        (before.fingerprint.as_str(), before.trust.as_str()),
        (alice_fp.as_str(), "SMP")
    );

    // 2. alice moves: irssi quits; its files go into a fresh otrbnc, before it first starts.
    let (key, fps) = (
        alice.otr_dir().join("otr.key"),
        alice.otr_dir().join("otr.fp"),
    );
    alice.quit().await;
    let aud = Auditor::start_labeled(ng.addr(), "auditor for alice's otrbnc").await;
    let mut bnc = OtrBnc::prepare(BncConfig::new("alice", aud.addr()).otr_nicks(&["bob"]));
    let out = bnc.run_command(&[
        OsStr::new("import-libotr"),
        OsStr::new("--key"),
        key.as_os_str(),
        OsStr::new("--fingerprints"),
        fps.as_os_str(),
        OsStr::new("--account"),
        OsStr::new(ACCOUNT),
        OsStr::new("--network"),
        OsStr::new(NETWORK),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "import-libotr failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    println!("import-libotr:\n{stdout}");
    assert!(
        stdout.contains(&format!("Your OTRv3 fingerprint: {}", fp_human(&alice_fp))),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 imported (1 verified by SMP, 0 trusted, 0 not verified)"),
        "{stdout}"
    );
    assert!(stdout.contains("start it now"), "{stdout}");
    // Importing again changes nothing; a second key is refused without --replace.
    let again = bnc.run_command(&[
        OsStr::new("import-libotr"),
        OsStr::new("--key"),
        key.as_os_str(),
    ]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("unchanged"));
    let other_key = bob.otr_dir().join("otr.key");
    let refused = bnc.run_command(&[
        OsStr::new("import-libotr"),
        OsStr::new("--key"),
        other_key.as_os_str(),
    ]);
    let refused_err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success()
            && refused_err.contains("--replace")
            && refused_err.contains(&fp_human(&alice_fp))
            && refused_err.contains(&fp_human(&bob_fp)),
        "{refused_err}"
    );

    bnc.launch().await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    let mut a = scenario::attach(&bnc).await;

    // 3. otrbnc's own OTRv3 fingerprint is the imported one.
    a.otr("fingerprint").await;
    let own = otr_notice(&mut a, "our OTRv3 fingerprint", |t| {
        t.starts_with("Your OTRv3 fingerprint: ")
    })
    .await;
    assert_eq!(
        find_fp(own.split("fingerprint: ").nth(1).unwrap_or_default()).as_deref(),
        Some(alice_fp.as_str()),
        "{own}"
    );

    // 4. alice (now otrbnc) writes to bob: bob's irssi goes secure with alice's old key, which
    // it still trusts by SMP; otrbnc calls bob verified at once.
    let mb = bob.mark("alice");
    let first = format!("hello from otrbnc {}", token(10));
    a.privmsg("bob", &first).await;
    bob.wait_secure("alice", mb, FIRST).await;
    bob.wait_message("alice", "alice", &first, NEXT).await;
    let started = otr_notice(&mut a, "the start notice", |t| {
        t.starts_with("Private conversation with bob")
    })
    .await;
    assert!(
        started.contains("private (OTRv3, not post-quantum), verified."),
        "{started}"
    );
    let reply = format!("hello back {}", token(10));
    bob.say("alice", &reply);
    a.expect_text_from("bob", &reply, NEXT).await;

    // bob's side: no "not authenticated", no fingerprint shown as if new, one key for alice
    // in otr.fp still marked smp, and the session's context is alice's old key, SMP-verified.
    let since = bob.lines_since("alice", mb);
    assert!(
        !since
            .iter()
            .any(|l| l == says::UNAUTHENTICATED || l.starts_with("OTR key fingerprint:")),
        "bob's irssi treated alice's key as new:\n{}",
        since.join("\n")
    );
    assert_eq!(
        fp_file_lines(&bob, "alice"),
        [(alice_fp.clone(), "smp".to_string())]
    );
    let contexts: Vec<_> = bob
        .otr_contexts()
        .await
        .into_iter()
        .filter(|c| c.nick == "alice")
        .collect();
    assert!(!contexts.is_empty(), "bob has no context with alice");
    for c in &contexts {
        assert_eq!(
            (c.fingerprint.as_str(), c.trust.as_str()),
            (alice_fp.as_str(), "SMP"),
            "{contexts:?}"
        );
    }
    assert!(
        contexts.iter().any(|c| c.state == "Encrypted"),
        "{contexts:?}"
    );

    // otrbnc's side: bob's OTRv3 fingerprint verified by SMP (kept from irssi's otr.fp).
    a.otr("status bob").await;
    let status = otr_notice(&mut a, "bob's OTRv3 fingerprint in the status", |t| {
        t.contains("bob's OTRv3 fingerprint:")
    })
    .await;
    assert_eq!(
        find_fp(&status).as_deref(),
        Some(bob_fp.as_str()),
        "{status}"
    );
    assert!(status.ends_with("(verified by SMP)"), "{status}");

    // Nothing in clear on otrbnc's wire, only OTR to bob.
    tokio::time::sleep(Duration::from_millis(300)).await;
    aud.assert_absent(&[first.as_bytes(), reply.as_bytes()]);
    assert_only_otr_to(&aud, "bob");
    a.assert_never_received("?OTR");
}
