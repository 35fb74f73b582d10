//! A python-potr peer (Debian's python3-potr, OTRv2 only, as WeeChat's otr.py uses it) writes
//! to an otrbnc user. otrbnc does not speak OTRv2: the user is told that the peer speaks only
//! OTRv2, the message typed for it stays queued, and nothing is sent in plaintext.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::BncConfig;
use crate::support::scenario;
use crate::support::{secs, token, tools_available};

const NEXT: Duration = Duration::from_secs(20);

/// Debian's python3 with python3-potr (the peer script uses the system interpreter).
const PYTHON: &str = "/usr/bin/python3";

fn potr_missing() -> Vec<&'static str> {
    let ok = Command::new(PYTHON)
        .args(["-c", "import potr"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok { Vec::new() } else { vec!["python3-potr"] }
}

/// The peer script as a child process.
struct PotrPeer {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl PotrPeer {
    fn spawn(port: u16, nick: &str, peer: &str) -> PotrPeer {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/support/potr_peer.py"
        );
        let mut child = Command::new(PYTHON)
            .args([script, "127.0.0.1", &port.to_string(), nick, peer])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python-potr peer");
        let stdin = child.stdin.take().expect("peer stdin");
        let stdout = child.stdout.take().expect("peer stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        PotrPeer {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    fn command(&mut self, c: &str) {
        writeln!(self.stdin, "{c}").expect("peer command");
    }

    fn wait(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + NEXT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => panic!("python-potr peer: no {what}; saw {:?}", self.seen),
            }
        }
    }

    /// Everything the peer printed so far, after a short drain.
    fn all(&mut self) -> Vec<String> {
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(l);
        }
        self.seen.clone()
    }
}

impl Drop for PotrPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_potr_peer_is_named_as_otrv2_only_and_gets_no_plaintext() {
    if !tools_available(module_path!(), &potr_missing()) {
        return;
    }
    let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
    let (aud, bnc) = scenario::bouncer(
        &ngircd,
        BncConfig::new("alice", ngircd.addr()).otr_nicks(&["bob"]),
    )
    .await;
    let mut a = scenario::attach(&bnc).await;
    let mut bob = tokio::task::block_in_place(|| {
        let mut p = PotrPeer::spawn(ngircd.addr().port(), "bob", "alice");
        p.wait("registration", |l| l == "READY");
        p
    });

    // alice writes to bob: queued, and an OTR query (OTRv4+ and OTRv3) goes out, which
    // python-potr cannot answer.
    let secret = format!("for bob only {}", token(12));
    a.privmsg("bob", &secret).await;
    tokio::task::block_in_place(|| {
        bob.wait("alice's query", |l| {
            l.starts_with("RECV") && l.contains("?OTRvP3?")
        })
    });
    // bob's user replies in plaintext (with potr's OTRv2 whitespace tag) and asks for OTR.
    bob.command("tagged are you using OTR?");
    bob.command("query");
    a.expect_otr(NEXT, "bob speaks only OTRv2", |t| {
        t.starts_with("bob's client offers only OTRv2")
            && t.contains("Nothing was sent in plaintext")
            && t.contains("1 message(s) stay queued")
    })
    .await;
    a.otr("status bob").await;
    let status = a
        .expect_otr(NEXT, "bob's status", |t| t.starts_with("bob: "))
        .await;
    assert!(
        status.text().starts_with("bob: plaintext")
            && status.text().contains("1 message(s) queued"),
        "{}",
        status.text()
    );
    tokio::time::sleep(secs(1)).await;
    let seen = tokio::task::block_in_place(|| bob.all());
    assert!(
        !seen.iter().any(|l| l.contains(&secret)),
        "the secret reached bob: {seen:?}"
    );
    // python-potr read our query (?OTRvP3?) without choking on it: it saw no version it
    // speaks and answered nothing.
    assert!(
        !seen.iter().any(|l| l.starts_with("POTR-ERROR")),
        "python-potr failed on what otrbnc sent: {seen:?}"
    );
    // Nothing but OTR went to bob, and the secret never left in any form ngircd could read.
    aud.assert_absent(&[secret.as_bytes()]);
    scenario::assert_only_otr_to(&aud, "bob");
}
