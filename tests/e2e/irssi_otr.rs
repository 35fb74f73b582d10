//! irssi with irssi-plugin-otr (libotr 4.1) as a real OTRv3 peer: first two of them on one
//! ngircd, which proves the harness (support/irssi_otr.rs), then one of them against an
//! otrbnc user.

use std::time::{Duration, Instant};

use crate::require_irssi_otr;
use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::irssi_otr::{
    ACCOUNT, IrssiOtr, Key, PROTOCOL, find_fp, fp_hex, fp_human, says,
};
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario::{self, assert_only_otr_to, sent_to};
use crate::support::token;

/// The first handshake (keys are made before it).
const FIRST: Duration = Duration::from_secs(30);
/// Anything after it.
const NEXT: Duration = Duration::from_secs(15);

/// A message of exactly `len` bytes of words (`w0001-<token> ...`), not ending in a space.
fn long_words(len: usize) -> String {
    let tok = token(6);
    let mut s = String::new();
    let mut i = 0;
    while s.len() < len + 20 {
        s.push_str(&format!("w{i:04}-{tok} "));
        i += 1;
    }
    s.truncate(len);
    if s.ends_with(' ') {
        s.pop();
        s.push('x');
    }
    s
}

/// Distinctive substrings of `text` for the auditors: the whole text when short, else 24-byte
/// windows at several offsets (a long text crosses the wire cut into PRIVMSGs).
fn needles(text: &str) -> Vec<Vec<u8>> {
    let b = text.as_bytes();
    if b.len() <= 48 {
        return vec![b.to_vec()];
    }
    let step = (b.len() / 8).max(1);
    let mut out: Vec<Vec<u8>> = (0..b.len() - 24)
        .step_by(step)
        .map(|off| b[off..off + 24].to_vec())
        .collect();
    out.push(b[b.len() - 24..].to_vec());
    out
}

/// Panics if either auditor saw any of `texts` (or a chunk of a long one).
#[track_caller]
fn assert_absent(auds: &[&Auditor], texts: &[String]) {
    let all: Vec<Vec<u8>> = texts.iter().flat_map(|t| needles(t)).collect();
    let refs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    for aud in auds {
        aud.assert_absent(&refs);
    }
}

/// How many `?OTR|` fragments the auditor saw going to `peer`.
fn fragments_to(aud: &Auditor, peer: &str) -> usize {
    sent_to(aud, "PRIVMSG", peer)
        .iter()
        .filter(|(_, t)| t.starts_with("?OTR|"))
        .count()
}

/// An irssi-otr peer connected to ngircd through its own auditor.
async fn peer_via_auditor(ng: &Ngircd, nick: &str) -> (IrssiOtr, Auditor) {
    let aud = Auditor::start_labeled(ng.addr(), &format!("auditor for irssi {nick}")).await;
    let peer = IrssiOtr::start(nick).await;
    peer.connect(aud.addr()).await;
    (peer, aud)
}

/// The harness against itself: two irssi-otr on one ngircd. `/otr init` secures both sides;
/// messages (UTF-8, `/me`, 2,000 bytes fragmented) arrive decrypted each way; SMP with a
/// question succeeds and with a wrong answer fails on both sides; `/otr finish` is reported;
/// `/otr info`, `/otr contexts`, the query's fingerprint lines and `otr.fp` agree; the account
/// is the chatnet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_irssi_otr_peers_on_one_ngircd() {
    require_irssi_otr!();
    let t0 = Instant::now();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let ((alice, aud_a), (bob, aud_b)) =
        tokio::join!(peer_via_auditor(&ng, "alice"), peer_via_auditor(&ng, "bob"));
    let started = t0.elapsed();

    // The keys are irssi's, for the chatnet: libotr's account name is the server tag.
    for p in [&alice, &bob] {
        let key = p.key_file();
        assert!(
            // gcrypt quotes a name only when it has to (`(name "127")`, `(name e2e)`).
            (key.contains(&format!("(name {ACCOUNT})"))
                || key.contains(&format!("(name \"{ACCOUNT}\")")))
                && key.contains(&format!("(protocol {PROTOCOL})")),
            "{}'s otr.key:\n{key}",
            p.nick()
        );
    }

    // alice starts; both sides go secure and print both fingerprints.
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    let t_ake = Instant::now();
    alice.otr_init("bob");
    alice.wait_says("bob", ma, NEXT, says::INITIATING).await;
    alice.wait_secure("bob", ma, FIRST).await;
    bob.wait_secure("alice", mb, FIRST).await;
    let ake = t_ake.elapsed();
    alice
        .wait_says("bob", ma, NEXT, says::UNAUTHENTICATED)
        .await;
    bob.wait_says("alice", mb, NEXT, says::UNAUTHENTICATED)
        .await;

    // A message each way, with UTF-8, then /me each way.
    let hi_bob = format!("héllo bob ✓ 日本語 {}", token(10));
    alice.say("bob", &hi_bob);
    bob.wait_message("alice", "alice", &hi_bob, NEXT).await;
    let hi_alice = format!("grüße alice 🌍 {}", token(10));
    bob.say("alice", &hi_alice);
    alice.wait_message("bob", "bob", &hi_alice, NEXT).await;
    let wave_bob = format!("waves at bob {}", token(8));
    alice.me("bob", &wave_bob);
    bob.wait_action("alice", "alice", &wave_bob, NEXT).await;
    let wave_alice = format!("waves back {}", token(8));
    bob.me("alice", &wave_alice);
    alice.wait_action("bob", "bob", &wave_alice, NEXT).await;

    // 2,000 bytes each way: irssi cuts it into ~400-byte PRIVMSGs, libotr fragments each.
    let (frag_a, frag_b) = (fragments_to(&aud_a, "bob"), fragments_to(&aud_b, "alice"));
    let long_to_bob = long_words(2000);
    let mb = bob.mark("alice");
    alice.say("bob", &long_to_bob);
    bob.wait_long_message("alice", "alice", mb, &long_to_bob, NEXT)
        .await;
    let pieces = bob.messages_since("alice", "alice", mb);
    assert_eq!(
        pieces.concat(),
        long_to_bob,
        "bob got {} piece(s)",
        pieces.len()
    );
    let long_to_alice = long_words(2000);
    let ma = alice.mark("bob");
    bob.say("alice", &long_to_alice);
    alice
        .wait_long_message("bob", "bob", ma, &long_to_alice, NEXT)
        .await;
    assert_eq!(
        alice.messages_since("bob", "bob", ma).concat(),
        long_to_alice
    );
    let (frag_a, frag_b) = (
        fragments_to(&aud_a, "bob") - frag_a,
        fragments_to(&aud_b, "alice") - frag_b,
    );
    assert!(
        frag_a >= 2 * pieces.len() && frag_b >= 2 * pieces.len(),
        "the 2,000-byte messages went in {frag_a} and {frag_b} ?OTR| fragments for {} PRIVMSGs",
        pieces.len()
    );

    // SMP with a question from alice: bob sees it, answers right, both succeed; alice now
    // trusts bob's fingerprint by SMP (the answerer does not trust the asker).
    let question = "Which boat did we sail in 2019?";
    let answer = format!("albatross-{}", token(6));
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    alice.otr_authq("bob", question, &answer);
    alice.wait_says("bob", ma, NEXT, says::AUTH_INITIATED).await;
    bob.wait_says("alice", mb, NEXT, &says::auth_asked("alice"))
        .await;
    bob.wait_says("alice", mb, NEXT, &says::auth_question(question))
        .await;
    bob.wait_says("alice", mb, NEXT, says::AUTH_ANSWER_FOOTER)
        .await;
    bob.otr_auth_answer("alice", &answer);
    bob.wait_says("alice", mb, NEXT, says::AUTH_RESPONDING)
        .await;
    alice
        .wait_says("bob", ma, NEXT, &says::auth_replied("bob"))
        .await;
    alice
        .wait_says("bob", ma, NEXT, &says::auth_success("bob"))
        .await;
    bob.wait_says("alice", mb, NEXT, &says::auth_success("alice"))
        .await;
    let trust_of = |p: &IrssiOtr, nick: &str| {
        p.fingerprints_file()
            .into_iter()
            .find(|e| e.nick == nick)
            .map(|e| e.trust)
    };
    assert_eq!(trust_of(&alice, "bob").as_deref(), Some("smp"));
    assert_eq!(trust_of(&bob, "alice").as_deref(), Some(""));

    // SMP with a question from bob, answered wrong by alice: both sides report the failure.
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    bob.otr_authq("alice", "And the harbour?", &format!("kiel-{}", token(6)));
    alice
        .wait_says("bob", ma, NEXT, &says::auth_question("And the harbour?"))
        .await;
    alice.otr_auth_answer("bob", "brest");
    bob.wait_says("alice", mb, NEXT, &says::auth_failed("alice"))
        .await;
    alice
        .wait_says("bob", ma, NEXT, &says::auth_failed("bob"))
        .await;
    assert!(
        !alice
            .lines_since("bob", ma)
            .contains(&says::auth_success("bob")),
        "alice reported success"
    );

    // Fingerprints: /otr info, the lines shown when the session was secured, /otr contexts and
    // otr.fp all agree, each way.
    for (me, other) in [(&alice, &bob), (&bob, &alice)] {
        let own = fp_hex(&me.own_fingerprint().await);
        assert_eq!(own.len(), 40, "{own}");
        let shown = other.fingerprint_shown_for(me.nick(), me.nick());
        assert_eq!(
            shown.as_deref(),
            Some(own.as_str()),
            "{} as shown to {}",
            me.nick(),
            other.nick()
        );
        let file = other.fingerprints_file();
        let entry = file
            .iter()
            .find(|e| e.nick == me.nick())
            .unwrap_or_else(|| panic!("{} not in {}'s otr.fp: {file:?}", me.nick(), other.nick()));
        assert_eq!(entry.fingerprint, own);
        assert_eq!(
            (entry.account.as_str(), entry.protocol.as_str()),
            (ACCOUNT, PROTOCOL)
        );
        let ctx = other
            .context_with(me.nick())
            .await
            .unwrap_or_else(|| panic!("no context for {} at {}", me.nick(), other.nick()));
        assert_eq!(ctx.fingerprint, own);
        assert_eq!(
            (ctx.account.as_str(), ctx.state.as_str()),
            (ACCOUNT, "Encrypted")
        );
        // Our own fingerprint as the session showed it to us.
        assert_eq!(me.fingerprint_shown_for(other.nick(), me.nick()), Some(own));
        let tags = me.instags();
        assert!(
            tags.iter().any(|(a, p, _)| a == ACCOUNT && p == PROTOCOL),
            "{}'s otr.instag: {tags:?}",
            me.nick()
        );
    }
    let ctx = alice.context_with("bob").await.expect("alice's context");
    assert_eq!(ctx.trust, "SMP");

    // bob trusts alice's fingerprint by hand, then takes it back.
    let alice_fp = fp_human(&alice.own_fingerprint().await);
    let mb = bob.mark("alice");
    bob.otr_trust("alice", None);
    bob.wait_says("alice", mb, NEXT, &says::trusting(&alice_fp))
        .await;
    assert_eq!(trust_of(&bob, "alice").as_deref(), Some("manual"));
    let ctx = bob.context_with("alice").await.expect("bob's context");
    assert_eq!(ctx.trust, "Manual");
    bob.otr_distrust("alice", Some(&alice_fp));
    bob.wait_says("alice", mb, NEXT, &says::distrusting(&alice_fp))
        .await;
    assert_eq!(trust_of(&bob, "alice").as_deref(), Some(""));

    // alice finishes: reported to bob; bob's next message is refused, not sent in clear.
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    alice.otr_finish("bob");
    alice
        .wait_says("bob", ma, NEXT, &says::finished("bob"))
        .await;
    bob.wait_says("alice", mb, NEXT, &says::peer_finished("alice"))
        .await;
    let refused = format!("after the finish {}", token(10));
    bob.say("alice", &refused);
    bob.wait_says("alice", mb, NEXT, &says::closed_to_you("alice"))
        .await;
    // (irssi lists a context whose session the peer finished as "Unused", not "Finished".)
    let state = bob.context_with("alice").await.map(|c| c.state);
    assert!(
        state.is_some() && state.as_deref() != Some("Encrypted"),
        "bob's context with alice after alice's finish: {state:?}"
    );

    // bob starts a new session this time.
    bob.otr_finish("alice");
    let (ma, mb) = (alice.mark("bob"), bob.mark("alice"));
    bob.otr_init("alice");
    bob.wait_secure("alice", mb, NEXT).await;
    alice.wait_secure("bob", ma, NEXT).await;
    let again = format!("second session {}", token(10));
    bob.say("alice", &again);
    alice.wait_message("bob", "bob", &again, NEXT).await;

    // The wire: no text in clear either way, only OTR between the two, lines within 512.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_absent(
        &[&aud_a, &aud_b],
        &[
            hi_bob,
            hi_alice,
            wave_bob,
            wave_alice,
            long_to_bob,
            long_to_alice,
            question.to_string(),
            answer,
            refused.clone(),
            again,
        ],
    );
    for (aud, peer) in [(&aud_a, "bob"), (&aud_b, "alice")] {
        for (raw, text) in sent_to(aud, "PRIVMSG", peer) {
            // libotr sends an empty PRIVMSG for a message it refuses in the FINISHED state.
            assert!(
                text.starts_with("?OTR") || text.is_empty(),
                "not OTR to {peer}: {}",
                crate::support::show(&raw, 200)
            );
        }
        assert!(aud.max_line_len_to_server() <= 512);
    }
    assert!(!bob.irssi().target_log("alice").contains("?OTR"));
    assert!(!alice.irssi().target_log("bob").contains("?OTR"));
    assert!(alice.irssi().is_alive() && bob.irssi().is_alive());
    println!(
        "irssi-otr: started and keyed in {started:?} (keygen {:?} and {:?}), AKE in {ake:?}, whole test {:?}",
        alice.keygen_time(),
        bob.keygen_time(),
        t0.elapsed()
    );
}

/// OTRv3's whitespace tag: the base tag, then the version 3 tag (Protocol-v3, "Tagged
/// plaintext messages").
const WHITESPACE_TAG_V3: &str = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20\x20\x20\x09\x09\x20\x20\x09\x09";
/// The start of an OTRv3 D-H Commit: base64 of version 0x0003 and type 0x02.
const DH_COMMIT_V3: &str = "?OTR:AAMC";

/// irssi-otr's fixed policy answers what otrbnc will send it: a query offering OTRv4+ and
/// OTRv3 (`?OTRvP3?`), and a plaintext message with the OTRv3 whitespace tag (shown without
/// the tag), each with a v3 D-H Commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_otr_answers_queries_and_whitespace_tags() {
    require_irssi_otr!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (bob, aud) = peer_via_auditor(&ng, "bob").await;
    let mut dave = Client::connect(ng.addr(), None, "dave", "dave", &[]).await;
    let mut erin = Client::connect(ng.addr(), None, "erin", "erin", &[]).await;

    dave.privmsg("bob", "?OTRvP3? dave would like a private conversation")
        .await;
    let commit = dave
        .expect_desc(NEXT, "irssi's D-H Commit for the query", |m| {
            m.is_privmsg_from("bob")
        })
        .await;
    assert!(commit.text().starts_with(DH_COMMIT_V3), "{commit}");

    // ngircd 26.1 strips trailing whitespace, spaces and tabs alike: a tag at the end of a
    // message (where libotr and otr-core's `tag_message` put it) never reaches the peer.
    let trailing = format!("tag at the end {}", token(8));
    erin.privmsg("bob", &format!("{trailing}{WHITESPACE_TAG_V3}"))
        .await;
    bob.wait_message("erin", "erin", &trailing, NEXT).await;
    let down = aud.msgs_to_client();
    let got = down
        .iter()
        .rev()
        .find(|m| m.is_privmsg_from("erin"))
        .expect("erin's line to bob");
    assert_eq!(got.text(), trailing, "ngircd kept the trailing tag: {got}");

    // Inside the text the tag arrives: irssi answers with the AKE and shows the text without
    // the tag.
    let (head, tail) = ("hello", format!(" with a tag inside {}", token(8)));
    erin.privmsg("bob", &format!("{head}{WHITESPACE_TAG_V3}{tail}"))
        .await;
    let commit = erin
        .expect_desc(NEXT, "irssi's D-H Commit for the tag", |m| {
            m.is_privmsg_from("bob")
        })
        .await;
    assert!(commit.text().starts_with(DH_COMMIT_V3), "{commit}");
    bob.wait_message("erin", "erin", &format!("{head}{tail}"), NEXT)
        .await;
    let shown = bob.irssi().target_log("dave");
    assert!(
        !shown.contains("?OTRvP3?"),
        "irssi showed the query text:\n{shown}"
    );
}

/// A key made by libotr (the test peer, tests/libotr-peer) for account `e2e`, protocol `IRC`,
/// installed as irssi's `otr/otr.key`, is the one irssi uses: what account name and protocol
/// irssi-otr asks libotr for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premade_libotr_key_is_irssis_key() {
    require_irssi_otr!();
    if !crate::libotr_support::available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = crate::libotr_support::PeerOpts {
        protocol: PROTOCOL.to_string(),
        ..Default::default()
    };
    let mut peer =
        crate::libotr_support::LibotrPeer::spawn(dir.path(), ACCOUNT, &opts).expect("libotr peer");
    let fp = peer.fingerprint();
    peer.quit();
    let key = std::fs::read(dir.path().join("otr.private_key")).expect("the peer's key file");
    let irssi = IrssiOtr::start_with("carol", Key::File(key)).await;
    assert_eq!(fp_hex(&irssi.own_fingerprint().await), fp_hex(&fp));
    assert!(
        !irssi.irssi().log().contains(&says::keygen_started(ACCOUNT)),
        "irssi made a key of its own"
    );
}

/// An otrbnc notice of a successful SMP with bob ("You verified bob", "bob verified you").
fn verified(t: &str) -> bool {
    t.contains("bob")
        && t.contains("verified")
        && !t.contains("unverified")
        && !t.contains("FAILED")
}

/// Waits for a `*otr` notice satisfying `pred`, naming `what`.
async fn otr_notice(c: &mut Client, what: &str, pred: impl Fn(&str) -> bool) -> String {
    c.expect_otr(NEXT, what, |t| pred(t))
        .await
        .text()
        .to_string()
}

/// The acceptance criterion: irssi with irssi-plugin-otr, under tmux, through ngircd, talking
/// to an otrbnc user. The otrbnc side starts (first message to the opted-in nick) and,
/// separately, the irssi side starts (`/otr init`); 20 messages each way including UTF-8, a
/// 2,000-byte message (fragmented both ways) and `/me`; SMP with a question started from each
/// side succeeds, and with a wrong answer fails on both; `/otr finish` on either side is
/// reported on the other. The wire auditor sees no message text. irssi's `/otr info` shows the
/// fingerprint that otrbnc has for it, and irssi shows for otrbnc the fingerprint that
/// `*otr fingerprint` prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn irssi_otr_peer_through_otrbnc() {
    require_irssi_otr!();
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let ((aud_a, bnc), (bob, aud_b)) = tokio::join!(
        scenario::bouncer(&ng, BncConfig::new("alice", ng.addr()).otr_nicks(&["bob"])),
        peer_via_auditor(&ng, "bob")
    );
    let mut a = scenario::attach(&bnc).await;
    let mut sent: Vec<String> = Vec::new();

    // 1. otrbnc starts: the first message to the opted-in nick.
    let mb = bob.mark("alice");
    let first = format!("first message from otrbnc {}", token(10));
    a.privmsg("bob", &first).await;
    bob.wait_secure("alice", mb, FIRST).await;
    bob.wait_message("alice", "alice", &first, NEXT).await;
    let started = otr_notice(&mut a, "the start notice", |t| {
        t.starts_with("Private conversation with bob") && t.contains("OTRv3, not post-quantum")
    })
    .await;
    println!("otrbnc: {started}");
    sent.push(first);

    // 2. 20 messages each way, with UTF-8.
    for i in 0..20 {
        let text = match i {
            3 => format!("grüße 🌍 日本語 from otrbnc {}", token(10)),
            _ => format!("otrbnc to irssi #{i} {}", token(10)),
        };
        a.privmsg("bob", &text).await;
        sent.push(text);
    }
    for text in sent.iter().skip(1) {
        bob.wait_message("alice", "alice", text, NEXT).await;
    }
    let mut from_irssi = Vec::new();
    for i in 0..20 {
        let text = match i {
            5 => format!("héllo ✓ ünïcödé from irssi {}", token(10)),
            _ => format!("irssi to otrbnc #{i} {}", token(10)),
        };
        bob.say("alice", &text);
        from_irssi.push(text);
    }
    for text in &from_irssi {
        a.expect_text_from("bob", text, NEXT).await;
    }
    assert_eq!(
        bob.messages_since("alice", "alice", 0)
            .iter()
            .filter(|m| sent.contains(m))
            .count(),
        sent.len(),
        "irssi showed each otrbnc message once"
    );
    sent.extend(from_irssi);

    // 3. /me each way: CTCP ACTION on the otrbnc side, `/me ...` inside OTR.
    let act_a = format!("waves from otrbnc {}", token(8));
    a.action("bob", &act_a).await;
    bob.wait_action("alice", "alice", &act_a, NEXT).await;
    let act_b = format!("waves from irssi {}", token(8));
    bob.me("alice", &act_b);
    a.expect_text_from("bob", &format!("\u{1}ACTION {act_b}\u{1}"), NEXT)
        .await;
    sent.extend([act_a, act_b]);

    // 4. 2,000 bytes each way, fragmented on the wire both ways. irssi cuts its own into
    // ~400-byte PRIVMSGs before OTR; from otrbnc, one message shows as one line (libotr
    // reassembles the fragments), several if otrbnc cuts it.
    let (fa, fb) = (fragments_to(&aud_a, "bob"), fragments_to(&aud_b, "alice"));
    let long_a = long_words(2000);
    let mb = bob.mark("alice");
    a.privmsg("bob", &long_a).await;
    bob.wait_long_message("alice", "alice", mb, &long_a, NEXT)
        .await;
    let long_b = long_words(2000);
    bob.say("alice", &long_b);
    a.expect_long_text_from("bob", &long_b, NEXT).await;
    assert!(
        fragments_to(&aud_a, "bob") >= fa + 2,
        "otrbnc did not fragment"
    );
    assert!(
        fragments_to(&aud_b, "alice") >= fb + 2,
        "irssi did not fragment"
    );
    sent.extend([long_a, long_b]);

    // 5. SMP with a question from otrbnc: irssi answers right; both succeed.
    let q1 = "Which boat did we sail in 2019?";
    let ans1 = format!("albatross-{}", token(6));
    let mb = bob.mark("alice");
    a.otr(&format!("authq bob \"{q1}\" {ans1}")).await;
    bob.wait_says("alice", mb, NEXT, &says::auth_question(q1))
        .await;
    bob.otr_auth_answer("alice", &ans1);
    bob.wait_says("alice", mb, NEXT, &says::auth_success("alice"))
        .await;
    otr_notice(&mut a, "otrbnc verified bob", verified).await;

    // 6. SMP with a question from irssi: otrbnc answers right; both succeed.
    let q2 = "Where did we moor?";
    let ans2 = format!("kiel-{}", token(6));
    let mb = bob.mark("alice");
    bob.otr_authq("alice", q2, &ans2);
    otr_notice(&mut a, "irssi's question", |t| t.contains(q2)).await;
    a.otr(&format!("auth bob {ans2}")).await;
    bob.wait_says("alice", mb, NEXT, &says::auth_success("alice"))
        .await;
    otr_notice(&mut a, "bob verified otrbnc", verified).await;

    // 7. Wrong answers fail on both sides, each way.
    let mb = bob.mark("alice");
    a.otr(&format!("authq bob \"{q1}\" right-{}", token(6)))
        .await;
    bob.wait_says("alice", mb, NEXT, &says::auth_question(q1))
        .await;
    bob.otr_auth_answer("alice", "wrong");
    bob.wait_says("alice", mb, NEXT, &says::auth_failed("alice"))
        .await;
    otr_notice(&mut a, "the failure (otrbnc asked)", |t| {
        t.contains("bob") && t.to_ascii_lowercase().contains("fail")
    })
    .await;
    // Whatever else otrbnc said about the first failure is read past.
    a.collect_for(Duration::from_millis(300)).await;
    let mb = bob.mark("alice");
    bob.otr_authq("alice", q2, &format!("right-{}", token(6)));
    otr_notice(&mut a, "irssi's second question", |t| t.contains(q2)).await;
    a.otr("auth bob wrong").await;
    bob.wait_says("alice", mb, NEXT, &says::auth_failed("alice"))
        .await;
    otr_notice(&mut a, "the failure (irssi asked)", |t| {
        t.contains("bob") && t.to_ascii_lowercase().contains("fail")
    })
    .await;

    // 8. Fingerprints: irssi's own (/otr info) is the one otrbnc has for bob, and otrbnc's
    // own (*otr fingerprint) is the one irssi showed and keeps for alice.
    let irssi_fp = fp_hex(&bob.own_fingerprint().await);
    a.otr("fingerprint").await;
    let own_line = otr_notice(&mut a, "our OTRv3 fingerprint", |t| {
        t.starts_with("Your OTRv3 fingerprint: ")
    })
    .await;
    let otrbnc_fp = find_fp(own_line.split("fingerprint: ").nth(1).unwrap_or_default())
        .unwrap_or_else(|| panic!("no OTRv3 fingerprint in {own_line:?}"));
    assert_eq!(
        bob.fingerprint_shown_for("alice", "alice"),
        Some(otrbnc_fp.clone())
    );
    assert_eq!(
        bob.context_with("alice").await.map(|c| c.fingerprint),
        Some(otrbnc_fp.clone())
    );
    a.otr("status bob").await;
    otr_notice(&mut a, "irssi's fingerprint in the status of bob", |t| {
        find_fp(t).as_deref() == Some(irssi_fp.as_str())
    })
    .await;

    // 9. /otr finish on irssi is reported to the otrbnc user.
    let mb = bob.mark("alice");
    bob.otr_finish("alice");
    bob.wait_says("alice", mb, NEXT, &says::finished("alice"))
        .await;
    otr_notice(&mut a, "bob ended", |t| {
        t.starts_with("bob ended the private conversation")
    })
    .await;

    // 10. irssi starts (/otr init) — a session otrbnc did not ask for.
    let mb = bob.mark("alice");
    bob.otr_init("alice");
    bob.wait_secure("alice", mb, FIRST).await;
    otr_notice(&mut a, "the start notice (irssi started)", |t| {
        t.starts_with("Private conversation with bob") && t.contains("OTRv3, not post-quantum")
    })
    .await;
    let after = format!("after irssi's init {}", token(10));
    bob.say("alice", &after);
    a.expect_text_from("bob", &after, NEXT).await;
    let back = format!("and back {}", token(10));
    a.privmsg("bob", &back).await;
    bob.wait_message("alice", "alice", &back, NEXT).await;
    sent.extend([after, back]);

    // 11. *otr finish on otrbnc is reported to irssi.
    let mb = bob.mark("alice");
    a.otr("finish bob").await;
    bob.wait_says("alice", mb, NEXT, &says::peer_finished("alice"))
        .await;

    // The wire: no text, no question or answer in clear on either side; only OTR to the peer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sent.extend([q1.to_string(), ans1, q2.to_string(), ans2]);
    assert_absent(&[&aud_a, &aud_b], &sent);
    assert_only_otr_to(&aud_a, "bob");
    for (raw, text) in sent_to(&aud_b, "PRIVMSG", "alice") {
        assert!(
            text.starts_with("?OTR"),
            "irssi sent something other than OTR: {}",
            crate::support::show(&raw, 200)
        );
    }
    assert!(!bob.irssi().target_log("alice").contains("?OTR"));
    a.assert_never_received("?OTR");
    assert!(bob.irssi().is_alive());
}
