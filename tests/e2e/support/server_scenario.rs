//! Two bouncers on any of the three servers (ngircd, ircd-hybrid, InspIRCd with their packaged
//! default flood settings), and issue 19's acceptance conversation on them: first contact,
//! long messages both ways, an SMP run, with every delivery, disconnection, flood-notice,
//! dropped-line and wire check.

use std::time::{Duration, Instant};

use super::auditor::Auditor;
use super::client::{Client, Msg};
use super::otrbnc::{BncConfig, OtrBnc};
use super::scenario::{assert_only_otr_to, assert_reassembles, attach, authq, bouncer};
use super::server::{IrcServer, Server, ServerKind};
use super::token;

/// Two bouncers on one server: alice (opted in to bob) and bob (opted in to alice).
pub struct ServerPair {
    /// The server.
    pub server: Server,
    /// Alice's upstream wire.
    pub aud_a: Auditor,
    /// Bob's upstream wire.
    pub aud_b: Auditor,
    /// Alice's bouncer.
    pub a: OtrBnc,
    /// Bob's bouncer.
    pub b: OtrBnc,
}

impl ServerPair {
    /// Starts a `kind` server with its packaged defaults and both bouncers; `tweak` adjusts
    /// each bouncer's config (e.g. `BncConfig::default_pacing`).
    pub async fn start(kind: ServerKind, tweak: impl Fn(BncConfig) -> BncConfig) -> ServerPair {
        let server = Server::start(kind).await;
        let ca = tweak(BncConfig::new("alice", server.addr()).otr_nicks(&["bob"]));
        let cb = tweak(BncConfig::new("bob", server.addr()).otr_nicks(&["alice"]));
        let (aud_a, a) = bouncer(&server, ca).await;
        let (aud_b, b) = bouncer(&server, cb).await;
        ServerPair {
            server,
            aud_a,
            aud_b,
            a,
            b,
        }
    }

    /// A client on alice's bouncer.
    pub async fn attach_a(&self) -> Client {
        attach(&self.a).await
    }

    /// A client on bob's bouncer.
    pub async fn attach_b(&self) -> Client {
        attach(&self.b).await
    }

    /// Asserts that neither auditor saw any of `needles` in either direction.
    #[track_caller]
    pub fn assert_absent(&self, needles: &[&[u8]]) {
        self.aud_a.assert_absent(needles);
        self.aud_b.assert_absent(needles);
    }
}

/// `(command, text)` of each PRIVMSG and NOTICE `from` sent `to`, as `sender`'s auditor saw
/// them leave.
pub fn sent_lines(sender: &Auditor, to: &str) -> Vec<(String, String)> {
    sender
        .msgs_to_server()
        .into_iter()
        .filter(|m| is_message(m) && m.target().eq_ignore_ascii_case(to))
        .map(|m| (m.command.clone(), m.text().to_string()))
        .collect()
}

/// `(command, text)` of each PRIVMSG and NOTICE from `from` addressed to `to`, as `receiver`'s
/// auditor saw the server deliver them.
pub fn received_lines(receiver: &Auditor, from: &str, to: &str) -> Vec<(String, String)> {
    receiver
        .msgs_to_client()
        .into_iter()
        .filter(|m| is_message(m) && m.is_from(from) && m.target().eq_ignore_ascii_case(to))
        .map(|m| (m.command.clone(), m.text().to_string()))
        .collect()
}

fn is_message(m: &Msg) -> bool {
    m.command == "PRIVMSG" || m.command == "NOTICE"
}

/// Waits (up to `limit`) until every line `from`'s upstream sent to `to` was delivered to
/// `to`'s upstream, then panics unless the two lists are equal, in order: the server dropped
/// nothing (hybrid drops messages to a flooded target with a "throttled" NOTICE).
pub async fn assert_no_line_dropped(
    sender: &Auditor,
    receiver: &Auditor,
    from: &str,
    to: &str,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    loop {
        let (sent, got) = (sent_lines(sender, to), received_lines(receiver, from, to));
        if sent == got {
            return;
        }
        if Instant::now() > deadline {
            let missing: Vec<String> = sent
                .iter()
                .filter(|l| !got.contains(l))
                .take(5)
                .map(|(c, t)| format!("{c} {}", super::show(t.as_bytes(), 80)))
                .collect();
            panic!(
                "{from} → {to}: {} line(s) sent, {} delivered after {limit:?}; first missing: {missing:#?}",
                sent.len(),
                got.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether a line from a server (or relayed by a bouncer) says the client is being flood
/// limited or cut off: an `ERROR`, a `KILL`, `263` (try again) or `439` (target too fast), or
/// a NOTICE about throttling, flooding, the RecvQ or an excess.
pub fn is_flood_notice(m: &Msg) -> bool {
    let text = m.text().to_ascii_lowercase();
    match m.command.as_str() {
        "ERROR" | "KILL" | "263" | "439" => true,
        "NOTICE" | "PRIVMSG" if m.is_from("*otr") => false,
        "NOTICE" => ["throttl", "flood", "recvq", "excess", "too fast"]
            .iter()
            .any(|w| text.contains(w)),
        _ => false,
    }
}

/// Panics if `lines` (from a server or a bouncer) hold any flood notice; `who` names them.
#[track_caller]
pub fn assert_no_flood_notice(lines: &[Msg], who: &str) {
    let bad: Vec<String> = lines
        .iter()
        .filter(|m| is_flood_notice(m))
        .map(|m| m.line())
        .collect();
    assert!(
        bad.is_empty(),
        "{who} got flood or disconnect notices: {bad:#?}"
    );
}

/// What the acceptance conversation took.
#[derive(Debug, Clone)]
pub struct AcceptanceFigures {
    /// From alice's first message to bob's client showing it (first contact).
    pub private_after: Duration,
    /// From the long messages' sending to the last one shown on both sides.
    pub messages_after: Duration,
    /// From `authq` until alice is told she verified bob.
    pub smp_after: Duration,
    /// The whole conversation, first message to the verification.
    pub total: Duration,
    /// Lines alice's and bob's upstreams sent the server.
    pub lines_up: (usize, usize),
    /// Bytes alice's and bob's upstreams sent the server.
    pub bytes_up: (usize, usize),
}

/// A message of at least 1,500 characters: several OTR fragments.
pub fn long_text(who: &str, i: usize) -> String {
    let mut s = format!("{who} long message {i} {} ", token(16));
    while s.len() < 1500 {
        s.push_str(&token(32));
        s.push(' ');
    }
    s
}

/// Issue 19's acceptance conversation on a `kind` server with its packaged flood defaults,
/// the bouncers configured by `pace`: alice's first message (first contact), `per_side`
/// messages of ~1,500 characters each way (sent at once), and an SMP run with a question.
/// Every step must finish within `limit`. Then: all delivered, reassembled and in order; every
/// line either upstream sent the other arrived (none dropped); nobody disconnected, killed or
/// re-registered; no flood, throttle or RecvQ notice on either upstream or client; only OTR
/// on the wire to the peer and none of the texts, the question or the answer.
pub async fn acceptance(
    kind: ServerKind,
    pace: impl Fn(BncConfig) -> BncConfig,
    per_side: usize,
    limit: Duration,
) -> AcceptanceFigures {
    let mut pair = ServerPair::start(kind, pace).await;
    let mut a = pair.attach_a().await;
    let mut b = pair.attach_b().await;

    let t0 = Instant::now();
    let hello = format!("hello on {} {}", kind.name(), token(12));
    a.privmsg("bob", &hello).await;
    b.expect_text_from("alice", &hello, limit).await;
    let private_after = t0.elapsed();

    let t1 = Instant::now();
    let to_bob: Vec<String> = (0..per_side).map(|i| long_text("alice", i)).collect();
    let to_alice: Vec<String> = (0..per_side).map(|i| long_text("bob", i)).collect();
    for (ab, ba) in to_bob.iter().zip(&to_alice) {
        a.privmsg("bob", ab).await;
        b.privmsg("alice", ba).await;
    }
    if let (Some(ab), Some(ba)) = (to_bob.last(), to_alice.last()) {
        b.expect_long_text_from("alice", ab, limit).await;
        a.expect_long_text_from("bob", ba, limit).await;
    }
    let messages_after = t1.elapsed();

    let question = format!("Which server is this {}?", token(6));
    let answer = format!("{}-{}", kind.package(), token(8));
    let t2 = Instant::now();
    authq(&mut a, &mut b, &question, &answer, limit).await;
    let smp_after = t2.elapsed();
    let total = t0.elapsed();

    let mut want = vec![hello.clone()];
    want.extend(to_bob.iter().cloned());
    assert_reassembles(&b.texts_from("alice"), &want);
    assert_reassembles(&a.texts_from("bob"), &to_alice);

    // Every line sent arrived: the server dropped none.
    let settle = Duration::from_secs(60);
    assert_no_line_dropped(&pair.aud_a, &pair.aud_b, "alice", "bob", settle).await;
    assert_no_line_dropped(&pair.aud_b, &pair.aud_a, "bob", "alice", settle).await;

    // Nobody was disconnected, killed, throttled or told of a flood.
    for (aud, who) in [(&pair.aud_a, "alice"), (&pair.aud_b, "bob")] {
        assert_eq!(aud.connection_count(), 1, "{who}'s upstream reconnected");
        assert_eq!(aud.open_count(), 1, "{who}'s upstream was closed");
        assert_eq!(aud.registrations(), 1, "{who} registered again");
        assert_no_flood_notice(&aud.msgs_to_client(), &format!("{who}'s upstream"));
    }
    for c in [&a, &b] {
        assert_no_flood_notice(&c.log(), c.label());
        assert_eq!(
            c.log().iter().filter(|m| m.command == "001").count(),
            1,
            "{} saw a re-registration",
            c.label()
        );
        c.assert_never_received("?OTR");
    }
    assert!(pair.server.is_alive(), "{} died", kind.name());
    let forced = pair.server.logged_forced_disconnects();
    assert!(
        forced.is_empty(),
        "{} shut connections: {forced:?}",
        kind.name()
    );

    // The wire: only OTR to the peer, none of the texts.
    assert_only_otr_to(&pair.aud_a, "bob");
    assert_only_otr_to(&pair.aud_b, "alice");
    let mut needles: Vec<Vec<u8>> = vec![
        hello.into_bytes(),
        question.into_bytes(),
        answer.into_bytes(),
    ];
    needles.extend(
        to_bob
            .iter()
            .chain(to_alice.iter())
            .flat_map(|t| [t.as_bytes()[..40].to_vec(), t.as_bytes()[700..740].to_vec()]),
    );
    let refs: Vec<&[u8]> = needles.iter().map(Vec::as_slice).collect();
    pair.assert_absent(&refs);

    AcceptanceFigures {
        private_after,
        messages_after,
        smp_after,
        total,
        lines_up: (
            pair.aud_a.lines_to_server().len(),
            pair.aud_b.lines_to_server().len(),
        ),
        bytes_up: (pair.aud_a.c2s_len(), pair.aud_b.c2s_len()),
    }
}
