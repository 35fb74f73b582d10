//! Common set-ups: one ngircd with bouncers whose upstreams go through their own auditors.

use std::time::Duration;

use super::auditor::{Auditor, Rewrite};
use super::client::{Client, Login};
use super::ngircd::{Ngircd, NgircdOpts};
use super::otrbnc::{BncConfig, OtrBnc};
use super::server::IrcServer;

/// How long an upstream may take to connect and register after otrbnc starts.
pub const REGISTER_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts an auditor towards `server` (any [`IrcServer`]) and a bouncer whose upstream goes through it (the
/// config's `upstream` is replaced by the auditor's address), and waits until the upstream
/// registered (the auditor saw `001`).
pub async fn bouncer(server: &impl IrcServer, cfg: BncConfig) -> (Auditor, OtrBnc) {
    let aud = Auditor::start_labeled(server.addr(), &format!("auditor for {}", cfg.label)).await;
    let mut cfg = cfg;
    cfg.upstream = aud.addr();
    let bnc = OtrBnc::start(cfg).await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    (aud, bnc)
}

/// A bouncer whose server is unreachable for now: its upstream goes through an auditor that
/// refuses connections until `refuse_new(false)`; `network_toml` is added to its network.
pub async fn bouncer_while_unreachable(ngircd: &Ngircd, network_toml: &str) -> (Auditor, OtrBnc) {
    let aud = Auditor::start_labeled(ngircd.addr(), "auditor for alice").await;
    aud.refuse_new(true);
    let toml = format!("{network_toml}\nreconnect_min_secs = 1\nreconnect_max_secs = 2");
    let bnc = OtrBnc::start(BncConfig::new("alice", aud.addr()).network_toml(&toml)).await;
    (aud, bnc)
}

/// The same with an auditor that rewrites what the server says (see [`Rewrite`]).
pub async fn bouncer_rewriting(
    ngircd: &Ngircd,
    cfg: BncConfig,
    rewrite: Rewrite,
) -> (Auditor, OtrBnc) {
    let label = format!("auditor for {}", cfg.label);
    let aud = Auditor::start_rewriting(ngircd.addr(), &label, rewrite).await;
    let mut cfg = cfg;
    cfg.upstream = aud.addr();
    let bnc = OtrBnc::start(cfg).await;
    aud.wait_registered(REGISTER_TIMEOUT).await;
    (aud, bnc)
}

/// Waits until `aud` has seen `n` registrations, or panics after `limit` with what the
/// auditor saw and the bouncers' last log lines (`via` names the route, e.g. "Tor").
pub async fn registered_via(aud: &Auditor, n: usize, bncs: &[&OtrBnc], limit: Duration, via: &str) {
    let started = std::time::Instant::now();
    while aud.registrations() < n {
        if started.elapsed() > limit {
            let logs: Vec<String> = bncs.iter().map(|b| super::tail(&b.log(), 40)).collect();
            panic!(
                "{n} upstream registration(s) through {via} did not happen in {limit:?}; \
                 the auditor saw {} connection(s) from {:?}\n{}",
                aud.connection_count(),
                aud.peers(),
                logs.join("\n-----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Attaches a client (no capabilities) to a bouncer with its login, using the upstream nick.
pub async fn attach(bnc: &OtrBnc) -> Client {
    attach_with(bnc, &[]).await
}

/// Attaches a client requesting `caps`.
pub async fn attach_with(bnc: &OtrBnc, caps: &[&str]) -> Client {
    let login = Login::new(Some(&bnc.pass()), &bnc.config().nick).caps(caps);
    Client::connect_with(bnc.addr(), login).await
}

/// Two bouncers on one ngircd: alice (opted in to bob) and bob (opted in to alice).
pub struct Pair {
    /// The server.
    pub ngircd: Ngircd,
    /// Alice's upstream wire.
    pub aud_a: Auditor,
    /// Bob's upstream wire.
    pub aud_b: Auditor,
    /// Alice's bouncer.
    pub a: OtrBnc,
    /// Bob's bouncer.
    pub b: OtrBnc,
}

impl Pair {
    /// Starts ngircd with `ng` and both bouncers; `tweak` adjusts each bouncer's config
    /// (defaults: no pacing, 30 s handshake timeout).
    pub async fn start(ng: NgircdOpts, tweak: impl Fn(BncConfig) -> BncConfig) -> Pair {
        let ngircd = Ngircd::start(ng).await;
        let ca = tweak(BncConfig::new("alice", ngircd.addr()).otr_nicks(&["bob"]));
        let cb = tweak(BncConfig::new("bob", ngircd.addr()).otr_nicks(&["alice"]));
        let (aud_a, a) = bouncer(&ngircd, ca).await;
        let (aud_b, b) = bouncer(&ngircd, cb).await;
        Pair {
            ngircd,
            aud_a,
            aud_b,
            a,
            b,
        }
    }

    /// The usual fast set-up: no ngircd penalties, no pacing.
    pub async fn fast() -> Pair {
        Self::start(NgircdOpts::no_penalties(), |c| c).await
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

/// Every PRIVMSG (or NOTICE) line an auditor saw going to the server addressed to `target`
/// (ASCII case-insensitive, also within a comma-separated target list): `(exact line, text)`.
pub fn sent_to(aud: &Auditor, command: &str, target: &str) -> Vec<(Vec<u8>, String)> {
    aud.msgs_to_server()
        .into_iter()
        .filter(|m| {
            m.command == command
                && m.target()
                    .split(',')
                    .any(|t| t.eq_ignore_ascii_case(target))
        })
        .map(|m| {
            let t = m.text().to_string();
            (m.raw, t)
        })
        .collect()
}

/// Panics unless every PRIVMSG and NOTICE the auditor saw going to `peer` carries OTR
/// (text starting with `?OTR`) and every line to the server is at most 512 bytes.
#[track_caller]
pub fn assert_only_otr_to(aud: &Auditor, peer: &str) {
    for cmd in ["PRIVMSG", "NOTICE"] {
        for (raw, text) in sent_to(aud, cmd, peer) {
            assert!(
                text.starts_with("?OTR"),
                "a {cmd} to {peer} without OTR went upstream: {}",
                super::show(&raw, 300)
            );
        }
    }
    let max = aud.max_line_len_to_server();
    assert!(
        max <= 512,
        "a line of {max} bytes (> 512 with CRLF) went upstream: {}",
        super::show(&aud.longest_line_to_server().unwrap_or_default(), 600)
    );
}

/// Panics unless `received` (texts of successive PRIVMSGs) is exactly `sent`, in order, where
/// a sent text may have arrived cut into several consecutive pieces (a bouncer splits long
/// decrypted messages for its clients).
#[track_caller]
pub fn assert_reassembles(received: &[String], sent: &[String]) {
    let mut pieces = received.iter();
    for (i, s) in sent.iter().enumerate() {
        let mut acc = String::new();
        let mut n = 0;
        while acc.len() < s.len() {
            match pieces.next() {
                Some(p) => {
                    acc.push_str(p);
                    n += 1;
                }
                None => break,
            }
        }
        assert!(
            acc == *s,
            "message {i} did not arrive exactly (from {n} piece(s)):\n sent {:?}\n  got {:?}\nall received: {:?}",
            super::show(s.as_bytes(), 200),
            super::show(acc.as_bytes(), 200),
            received
                .iter()
                .map(|r| super::show(r.as_bytes(), 60))
                .collect::<Vec<_>>()
        );
    }
    let rest: Vec<&String> = pieces.collect();
    assert!(rest.is_empty(), "unexpected extra messages: {rest:?}");
}

/// Sends `text` from `from` to `to` and waits until `to` shows exactly that text from
/// `from`'s nick.
pub async fn deliver(from: &Client, to: &mut Client, text: &str, limit: Duration) {
    from.privmsg(to.nick(), text).await;
    let from_nick = from.nick().to_string();
    to.expect_text_from(&from_nick, text, limit).await;
}

/// From `*otr status <nick>`: (the status line, the fingerprint line).
pub async fn status_of(c: &mut Client, nick: &str, limit: Duration) -> (String, String) {
    c.otr(&format!("status {nick}")).await;
    let head = format!("{nick}: ");
    let line = c
        .expect_otr(limit, "the status line", |t| t.starts_with(&head))
        .await
        .text()
        .to_string();
    let fp_head = format!("  {nick}'s fingerprint: ");
    let fp = c
        .expect_otr(limit, "the fingerprint line", |t| t.starts_with(&fp_head))
        .await
        .text()
        .to_string();
    (line, fp)
}

/// From `*otr status`: the line saying how the upstream is reached (`Upstream test: …`).
pub async fn upstream_status(c: &mut Client) -> String {
    c.otr("status").await;
    c.expect_otr(Duration::from_secs(10), "the upstream status line", |t| {
        t.starts_with("Upstream test:")
    })
    .await
    .text()
    .to_string()
}

/// `a` asks `b` `question` with `*otr authq`, and `b` answers `answer` with `*otr auth` the
/// moment the question shows. Returns the seconds until `b` saw the question and until `a`
/// was told it verified `b`.
pub async fn authq(
    a: &mut Client,
    b: &mut Client,
    question: &str,
    answer: &str,
    limit: Duration,
) -> (f64, f64) {
    let (an, bn) = (a.nick().to_string(), b.nick().to_string());
    let t0 = std::time::Instant::now();
    a.otr(&format!("authq {bn} \"{question}\" {answer}")).await;
    b.expect_otr(limit, "the question", |t| t.contains(question))
        .await;
    let asked = t0.elapsed().as_secs_f64();
    b.otr(&format!("auth {an} {answer}")).await;
    let verified = format!("You verified {bn}");
    a.expect_otr(limit, &verified, |t| t.starts_with(&verified))
        .await;
    (asked, t0.elapsed().as_secs_f64())
}

/// Waits for `*otr`'s notice that `nick` showed a key not accepted yet (its last line gives
/// the command), accepts the key with that command and waits for the confirmation. Returns
/// the accept command.
pub async fn accept_new_key(c: &mut Client, nick: &str, limit: Duration) -> String {
    let head = format!("if it is theirs: accept {nick} ");
    let offers = |log: &[super::client::Msg]| {
        log.iter()
            .filter(|m| m.is_otr_control() && m.text().contains(&head))
            .map(|m| m.text().to_string())
            .collect::<Vec<_>>()
    };
    // From the whole log: the notice may have been read past already.
    c.wait_log(limit, "the accept command for a key", |log| {
        !offers(log).is_empty()
    })
    .await;
    let latest = offers(&c.log()).pop().unwrap_or_default();
    let cmd = latest
        .rsplit("if it is theirs: ")
        .next()
        .unwrap_or_default()
        .to_string();
    c.otr(&cmd).await;
    c.expect_otr(limit, "the key accepted", |t| t.starts_with("Accepted "))
        .await;
    cmd
}
