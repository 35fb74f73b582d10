//! Driver for the libotr 4.1 test peer (`tests/libotr-peer/peer.c`, protocol in its README):
//! builds the C harness once per test process, runs it as a child process and turns its event
//! lines into [`PeerEvent`]s. Other test crates include this file with `#[path = ...] mod`.
//!
//! Without libotr5-dev the harness cannot be built: [`available`] then prints a "skipped" line
//! and returns `false`, unless `OTRBNC_REQUIRE_E2E` is set (CI), which makes it a failure.

// Test code: a failed expectation is a panic with a message. Not every includer uses every
// helper.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code
)]

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Turns "libotr5-dev is not installed" from a skip into a failure (CI sets it).
pub const REQUIRE_ENV: &str = "OTRBNC_REQUIRE_E2E";

/// How long one command may take (a key is generated before the first one is answered).
const CMD_TIMEOUT: Duration = Duration::from_secs(30);

/// How many of the harness's last stderr lines a failure message shows.
const STDERR_TAIL: usize = 40;

/// Relay rounds [`pump`] allows before it calls the exchange a loop.
const PUMP_ROUNDS: usize = 64;

enum Built {
    Ready(PathBuf),
    /// libotr or a C compiler is not installed: the tests skip.
    Missing(String),
    /// Installed, but the harness did not build: the tests fail.
    Failed(String),
}

static BUILT: OnceLock<Built> = OnceLock::new();

/// The repository root: the including crate's directory or the nearest one above it that
/// holds the harness source (crates under crates/ include this file too).
fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|d| d.join("tests/libotr-peer/peer.c").is_file())
        .map_or(manifest.clone(), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_relative() {
                repo_root().join(d)
            } else {
                d
            }
        }
        _ => repo_root().join("target"),
    }
}

/// The path of the built harness, `target/libotr-peer/otr-peer`.
pub fn binary_path() -> PathBuf {
    target_dir().join("libotr-peer").join("otr-peer")
}

fn build() -> Built {
    let flags = match Command::new("pkg-config")
        .args(["--cflags", "--libs", "libotr"])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        Ok(_) => return Built::Missing("libotr5-dev is not installed (pkg-config libotr)".into()),
        Err(e) => return Built::Missing(format!("pkg-config: {e}")),
    };
    if Command::new("gcc").arg("--version").output().is_err() {
        return Built::Missing("gcc is not installed".into());
    }
    let out = binary_path();
    let dir = out.parent().unwrap();
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Built::Failed(format!("{}: {e}", dir.display()));
    }
    // Tests run in parallel processes (nextest): each builds under its own name and renames,
    // so nobody ever runs a half-written binary.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!("otr-peer.tmp.{}.{nanos}", std::process::id()));
    let source = repo_root().join("tests/libotr-peer/peer.c");
    let result = Command::new("gcc")
        .args(["-O1", "-Wall", "-Wextra", "-o"])
        .arg(&tmp)
        .arg(&source)
        .args(flags.split_whitespace())
        .output();
    match result {
        Ok(o) if o.status.success() => {
            let warnings = String::from_utf8_lossy(&o.stderr);
            if !warnings.trim().is_empty() {
                eprintln!("libotr peer: gcc warnings:\n{warnings}");
            }
            match std::fs::rename(&tmp, &out) {
                Ok(()) => Built::Ready(out),
                Err(e) => Built::Failed(format!("rename to {}: {e}", out.display())),
            }
        }
        Ok(o) => {
            let _ = std::fs::remove_file(&tmp);
            Built::Failed(format!(
                "gcc {} failed:\n{}",
                source.display(),
                String::from_utf8_lossy(&o.stderr)
            ))
        }
        Err(e) => Built::Failed(format!("running gcc: {e}")),
    }
}

fn required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether the libotr peer can run here (building it on first use). `false` after a
/// "skipped" line when libotr5-dev or gcc is missing; panics when they are missing and
/// `OTRBNC_REQUIRE_E2E` is set, or when the harness does not build.
pub fn available() -> bool {
    match BUILT.get_or_init(build) {
        Built::Ready(_) => true,
        Built::Missing(why) if required() => {
            panic!("libotr peer: {why} and {REQUIRE_ENV} is set; run ./scripts/test.sh")
        }
        Built::Missing(why) => {
            eprintln!(
                "libotr peer: skipped: {why} (apt-get install libotr5-dev libgcrypt20-dev; \
                 set {REQUIRE_ENV}=1 to make this a failure)"
            );
            false
        }
        Built::Failed(why) => panic!("libotr peer: {why}"),
    }
}

/// Command-line options of the harness.
#[derive(Debug, Clone)]
pub struct PeerOpts {
    /// libotr's protocol name for the account (`irc`).
    pub protocol: String,
    /// libotr's maximum message size: longer messages go out as `?OTR|` fragments; 0 = never.
    pub max_msg: u32,
    /// `v2,v3` (default), `v3`, ... plus `require` / `whitespace` (peer README); `None` for the
    /// harness's default.
    pub policy: Option<String>,
}

impl Default for PeerOpts {
    fn default() -> Self {
        PeerOpts {
            protocol: "irc".into(),
            max_msg: 400,
            policy: None,
        }
    }
}

/// libotr's message state of one context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgState {
    Plaintext,
    Encrypted,
    Finished,
}

/// One `status` line: one instance (libotr context) of a correspondent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub to: String,
    pub state: MsgState,
    pub version: u32,
    pub their_instag: u32,
    pub our_instag: u32,
    /// The active fingerprint, libotr's human form (`XXXXXXXX XXXXXXXX ...`).
    pub fingerprint: Option<String>,
    /// Its trust string (`smp` after a successful SMP, or what `trust` set); `None` when empty.
    pub trust: Option<String>,
}

/// One event line of the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A line to send to `to` as a PRIVMSG.
    Out {
        to: String,
        line: String,
    },
    /// A text to show: decrypted (`encrypted`) or passed through in the clear.
    Msg {
        from: String,
        text: String,
        encrypted: bool,
    },
    Secure {
        to: String,
        version: u32,
    },
    Insecure {
        to: String,
    },
    Still {
        to: String,
    },
    NewFp {
        to: String,
        fp: String,
    },
    /// `ask`, `askq` (with the question), `progress`, `success`, `failure`, `cheated`,
    /// `aborted`, `error`.
    Smp {
        to: String,
        event: String,
        question: Option<String>,
    },
    /// handle_msg_event: the `OTRL_MSGEVENT_` suffix and the message text, if any.
    Event {
        to: String,
        name: String,
        detail: Option<String>,
    },
    /// libotr asked for an error text to send (`MSG_UNREADABLE`, `MSG_MALFORMED`, ...).
    ErrorOut {
        to: String,
        code: String,
    },
    Fp(String),
    Status(Status),
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            other => return Err(format!("bad escape \\{other:?} in {s:?}")),
        }
    }
    Ok(out)
}

fn parse_hex(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 16).map_err(|e| format!("{s:?}: {e}"))
}

fn parse_u32(s: &str) -> Result<u32, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

fn dash_none(s: &str) -> Option<String> {
    (s != "-").then(|| s.to_string())
}

/// One event line (already known not to be `ok`/`err`).
pub fn parse_event(line: &str) -> Result<PeerEvent, String> {
    let f = line
        .split('\t')
        .map(unescape)
        .collect::<Result<Vec<_>, _>>()?;
    let s = |i: usize| f[i].clone();
    let ev = match (f[0].as_str(), f.len()) {
        ("out", 3) => PeerEvent::Out {
            to: s(1),
            line: s(2),
        },
        ("msg", 4) => PeerEvent::Msg {
            from: s(1),
            text: s(2),
            encrypted: match f[3].as_str() {
                "enc" => true,
                "plain" => false,
                other => return Err(format!("msg: {other:?} is neither enc nor plain")),
            },
        },
        ("secure", 3) => PeerEvent::Secure {
            to: s(1),
            version: parse_u32(&f[2])?,
        },
        ("insecure", 2) => PeerEvent::Insecure { to: s(1) },
        ("still", 2) => PeerEvent::Still { to: s(1) },
        ("newfp", 3) => PeerEvent::NewFp { to: s(1), fp: s(2) },
        ("smp", 3 | 4) => PeerEvent::Smp {
            to: s(1),
            event: s(2),
            question: f.get(3).cloned(),
        },
        ("event", 3 | 4) => PeerEvent::Event {
            to: s(1),
            name: s(2),
            detail: f.get(3).cloned(),
        },
        ("error-out", 3) => PeerEvent::ErrorOut {
            to: s(1),
            code: s(2),
        },
        ("fp", 2) => PeerEvent::Fp(s(1)),
        ("status", 8) => PeerEvent::Status(Status {
            to: s(1),
            state: match f[2].as_str() {
                "plaintext" => MsgState::Plaintext,
                "encrypted" => MsgState::Encrypted,
                "finished" => MsgState::Finished,
                other => return Err(format!("status: unknown state {other:?}")),
            },
            version: parse_u32(&f[3])?,
            their_instag: parse_hex(&f[4])?,
            our_instag: parse_hex(&f[5])?,
            fingerprint: dash_none(&f[6]),
            trust: dash_none(&f[7]),
        }),
        _ => return Err(format!("unknown event line {line:?}")),
    };
    Ok(ev)
}

/// A running harness: one libotr account. Kills the child on drop.
pub struct LibotrPeer {
    account: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

impl LibotrPeer {
    /// Starts the harness on `dir` (created if missing; it keeps libotr's key, fingerprint
    /// and instance tag files there). Call [`available`] first.
    pub fn spawn(dir: &Path, account: &str, opts: &PeerOpts) -> io::Result<LibotrPeer> {
        let bin = match BUILT.get_or_init(build) {
            Built::Ready(p) => p.clone(),
            Built::Missing(why) | Built::Failed(why) => return Err(io::Error::other(why.clone())),
        };
        std::fs::create_dir_all(dir)?;
        let mut cmd = Command::new(bin);
        cmd.arg("--dir")
            .arg(dir)
            .args(["--account", account, "--protocol", &opts.protocol])
            .args(["--max-msg", &opts.max_msg.to_string()]);
        if let Some(p) = &opts.policy {
            cmd.args(["--policy", p]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| io::Error::other("no stderr"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail2 = Arc::clone(&tail);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut t = tail2.lock().unwrap();
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        Ok(LibotrPeer {
            account: account.to_string(),
            child,
            stdin,
            lines,
            stderr: tail,
        })
    }

    /// The account (nick) this peer is.
    pub fn account(&self) -> &str {
        &self.account
    }

    fn fail(&mut self, what: String) -> ! {
        // Give the stderr reader a moment to collect a dying harness's last words.
        std::thread::sleep(Duration::from_millis(50));
        let tail = self
            .stderr
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>();
        let exit = self.child.try_wait().ok().flatten();
        panic!(
            "libotr peer {}: {what} (exit: {exit:?}); stderr tail:\n{}",
            self.account,
            tail.join("\n")
        );
    }

    /// Sends one command and returns its events, up to its `ok`. Panics on `err`, on a
    /// harness that exits, and after 30 s without `ok`.
    pub fn cmd(&mut self, fields: &[&str]) -> Vec<PeerEvent> {
        let line = fields
            .iter()
            .map(|f| escape(f))
            .collect::<Vec<_>>()
            .join("\t");
        if let Err(e) = writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush()) {
            self.fail(format!("writing {line:?}: {e}"));
        }
        let deadline = Instant::now() + CMD_TIMEOUT;
        let mut events = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l == "ok" => return events,
                Ok(l) if l.starts_with("err\t") || l == "err" => {
                    let reason = unescape(l.trim_start_matches("err").trim_start_matches('\t'));
                    self.fail(format!("{line:?} answered err: {reason:?}"));
                }
                Ok(l) => match parse_event(&l) {
                    Ok(ev) => events.push(ev),
                    Err(e) => self.fail(format!("{line:?}: {e}")),
                },
                Err(RecvTimeoutError::Timeout) => {
                    self.fail(format!("{line:?}: no ok within {CMD_TIMEOUT:?}"))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fail(format!("{line:?}: the harness closed its stdout"))
                }
            }
        }
    }

    /// A PRIVMSG text from `from` (otrl_message_receiving).
    pub fn recv(&mut self, from: &str, text: &str) -> Vec<PeerEvent> {
        self.cmd(&["recv", from, text])
    }

    /// A text typed to `to` (otrl_message_sending, fragments at max_msg).
    pub fn send(&mut self, to: &str, text: &str) -> Vec<PeerEvent> {
        self.cmd(&["send", to, text])
    }

    /// libotr's default query message, one `Out` per line.
    pub fn query(&mut self, to: &str) -> Vec<PeerEvent> {
        self.cmd(&["query", to])
    }

    /// Ends the private conversation (otrl_message_disconnect_all_instances).
    pub fn finish(&mut self, to: &str) -> Vec<PeerEvent> {
        self.cmd(&["finish", to])
    }

    pub fn smp(&mut self, to: &str, secret: &str) -> Vec<PeerEvent> {
        self.cmd(&["smp", to, secret])
    }

    pub fn smpq(&mut self, to: &str, question: &str, secret: &str) -> Vec<PeerEvent> {
        self.cmd(&["smpq", to, question, secret])
    }

    pub fn smp_respond(&mut self, to: &str, secret: &str) -> Vec<PeerEvent> {
        self.cmd(&["smp-respond", to, secret])
    }

    pub fn smp_abort(&mut self, to: &str) -> Vec<PeerEvent> {
        self.cmd(&["smp-abort", to])
    }

    /// One `Status` per instance of `to` (the master context alone when there are none).
    pub fn status(&mut self, to: &str) -> Vec<Status> {
        let events = self.cmd(&["status", to]);
        let mut out = Vec::new();
        for ev in events {
            match ev {
                PeerEvent::Status(s) => out.push(s),
                other => self.fail(format!("status printed {other:?}")),
            }
        }
        out
    }

    /// Our fingerprint, libotr's human form.
    pub fn fingerprint(&mut self) -> String {
        match self.cmd(&["fingerprint"]).as_slice() {
            [PeerEvent::Fp(fp)] => fp.clone(),
            other => {
                let other = format!("{other:?}");
                self.fail(format!("fingerprint printed {other}"))
            }
        }
    }

    /// Sets the trust string of `to`'s fingerprint `fp` (`-` clears it) and saves it.
    pub fn trust(&mut self, to: &str, fp: &str, trust: &str) -> Vec<PeerEvent> {
        self.cmd(&["trust", to, fp, trust])
    }

    /// Moves the harness's clock (libotr's `time()`) forward.
    pub fn advance(&mut self, seconds: i64) -> Vec<PeerEvent> {
        self.cmd(&["advance", &seconds.to_string()])
    }

    /// Which instance of `to` `send` and the SMP commands address: a tag in hex, `best` or
    /// `recent`.
    pub fn instance(&mut self, to: &str, which: &str) -> Vec<PeerEvent> {
        self.cmd(&["instance", to, which])
    }

    /// libotr's timer (otrl_message_poll).
    pub fn poll(&mut self) -> Vec<PeerEvent> {
        self.cmd(&["poll"])
    }

    /// Ends the harness cleanly and waits for it.
    pub fn quit(mut self) {
        self.cmd(&["quit"]);
        let deadline = Instant::now() + CMD_TIMEOUT;
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                self.fail("did not exit after quit".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LibotrPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `Out` lines among `events`.
pub fn outs(events: &[PeerEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Out { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect()
}

/// The events other than `Out`.
pub fn without_outs(events: &[PeerEvent]) -> Vec<PeerEvent> {
    events
        .iter()
        .filter(|e| !matches!(e, PeerEvent::Out { .. }))
        .cloned()
        .collect()
}

/// Feeds every `Out` line of `events` to `to` as a PRIVMSG from `as_from`; returns what `to`
/// printed.
pub fn deliver(events: &[PeerEvent], to: &mut LibotrPeer, as_from: &str) -> Vec<PeerEvent> {
    let mut got = Vec::new();
    for line in outs(events) {
        got.extend(to.recv(as_from, &line));
    }
    got
}

/// Everything each side printed while [`pump`] relayed.
#[derive(Debug, Default)]
pub struct Pumped {
    pub a: Vec<PeerEvent>,
    pub b: Vec<PeerEvent>,
}

/// Relays `from_a` (events `a` printed) to `b`, `b`'s answers back to `a`, and so on until
/// neither has anything to send. `from_a` itself is not in the result.
pub fn pump(a: &mut LibotrPeer, b: &mut LibotrPeer, from_a: Vec<PeerEvent>) -> Pumped {
    let mut result = Pumped::default();
    let mut pending = from_a;
    let a_name = a.account().to_string();
    let b_name = b.account().to_string();
    for round in 0..PUMP_ROUNDS {
        if outs(&pending).is_empty() {
            return result;
        }
        if round % 2 == 0 {
            pending = deliver(&pending, b, &a_name);
            result.b.extend(pending.iter().cloned());
        } else {
            pending = deliver(&pending, a, &b_name);
            result.a.extend(pending.iter().cloned());
        }
    }
    panic!("pump: {a_name} and {b_name} still talking after {PUMP_ROUNDS} rounds: {result:?}");
}
