//! Plaintext relay through otrbnc compared with a direct connection, on loopback: throughput in
//! both directions, the latency otrbnc adds to a round trip, and otrbnc's resident memory.
//!
//! Run: `cargo bench --bench relay` (release build, full size). `cargo test --benches` runs
//! a tiny version (a few hundred lines) so that the test suite stays fast.
//!
//! The IRC server is a minimal fake written here (tokio TCP: it answers the registration with
//! 001–005 and 376, then sinks, pushes or echoes lines), so that the figures measure otrbnc and
//! not an IRC daemon. The bench client and the fake server run in this process; otrbnc runs as
//! its own process, started by the e2e harness's launcher, with `transport = "plain"` and
//! `flood_interval_secs = 0` (no pacing).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use support::otrbnc::{BncConfig, OtrBnc};

/// The fake server's name (prefix of its numerics).
const SERVER: &str = "fake.server";
/// 60 bytes of message text.
const TEXT60: &str = "the quick brown fox jumps over the lazy dog 0123456789abcdef";
/// A line stalls a run when nothing arrives for this long.
const STALL: Duration = Duration::from_secs(5);

/// Sizes of one run of the bench.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    /// Lines per throughput run.
    lines: usize,
    /// Throughput runs per direction and path (the median is reported).
    runs: usize,
    /// Round trips measured (after `warmup` unmeasured ones).
    samples: usize,
    warmup: usize,
    /// Latency blocks, alternating between the paths.
    blocks: usize,
    /// Lines in flight in the lossless throughput runs.
    window: usize,
}

/// One end of a TCP connection: buffered reader and writer.
struct Peer {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
}

impl Peer {
    fn new(s: TcpStream) -> Peer {
        let _ = s.set_nodelay(true);
        let (r, w) = s.into_split();
        Peer {
            rd: BufReader::with_capacity(64 * 1024, r),
            wr: w,
        }
    }

    async fn line(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        matches!(self.rd.read_until(b'\n', buf).await, Ok(n) if n > 0)
    }
}

/// Starts the fake IRC server; every connection that completes registration comes out of the
/// returned channel, ready for the bench to drive.
async fn fake_server() -> (SocketAddr, mpsc::UnboundedReceiver<Peer>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = listener.accept().await else {
                continue;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Some(p) = server_register(Peer::new(s)).await {
                    let _ = tx.send(p);
                }
            });
        }
    });
    (addr, rx)
}

/// Registration on the fake server: CAP LS (no capabilities), NICK, USER, then 001–005, 376.
async fn server_register(mut p: Peer) -> Option<Peer> {
    let mut nick: Option<String> = None;
    let (mut user, mut cap) = (false, false);
    let mut buf = Vec::new();
    loop {
        if !p.line(&mut buf).await {
            return None;
        }
        let text = String::from_utf8_lossy(&buf).trim_end().to_string();
        let mut words = text.split(' ');
        let cmd = words.next().unwrap_or_default().to_ascii_uppercase();
        let arg = words.next().unwrap_or_default().trim_start_matches(':');
        match cmd.as_str() {
            "CAP" => match arg.to_ascii_uppercase().as_str() {
                "LS" => {
                    cap = true;
                    let l = format!(":{SERVER} CAP * LS :\r\n");
                    p.wr.write_all(l.as_bytes()).await.ok()?;
                }
                "REQ" => {
                    let l = format!(
                        ":{SERVER} CAP * NAK :{}\r\n",
                        words.collect::<Vec<_>>().join(" ")
                    );
                    p.wr.write_all(l.as_bytes()).await.ok()?;
                }
                "END" => cap = false,
                _ => {}
            },
            "NICK" => nick = Some(arg.to_string()),
            "USER" => user = true,
            "PING" => {
                let l = format!(":{SERVER} PONG {SERVER} :{arg}\r\n");
                p.wr.write_all(l.as_bytes()).await.ok()?;
            }
            _ => {}
        }
        if let Some(n) = &nick
            && user
            && !cap
        {
            let burst = format!(
                ":{SERVER} 001 {n} :Welcome to the fake IRC network {n}\r\n\
                 :{SERVER} 002 {n} :Your host is {SERVER}, running fake-1.0\r\n\
                 :{SERVER} 003 {n} :This server was created today\r\n\
                 :{SERVER} 004 {n} {SERVER} fake-1.0 iow ntk\r\n\
                 :{SERVER} 005 {n} CHANTYPES=# PREFIX=(ov)@+ CASEMAPPING=rfc1459 NICKLEN=30 CHANMODES=b,k,l,ntk :are supported by this server\r\n\
                 :{SERVER} 376 {n} :End of MOTD command\r\n"
            );
            p.wr.write_all(burst.as_bytes()).await.ok()?;
            return Some(p);
        }
    }
}

/// Connects a client, registers (with `pass` when given) and reads up to the end of the MOTD.
async fn client_connect(addr: SocketAddr, pass: Option<&str>, nick: &str) -> Peer {
    let s = TcpStream::connect(addr).await.unwrap();
    let mut p = Peer::new(s);
    let mut reg = String::new();
    if let Some(pass) = pass {
        reg.push_str(&format!("PASS {pass}\r\n"));
    }
    reg.push_str(&format!("NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"));
    p.wr.write_all(reg.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ok = tokio::time::timeout(left, p.line(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("client {nick}: no end of MOTD from {addr} in 30 s"));
        assert!(
            ok,
            "client {nick}: {addr} closed the connection while registering"
        );
        let l = String::from_utf8_lossy(&buf);
        if l.contains(" 376 ") || l.contains(" 422 ") {
            return p;
        }
    }
}

/// Takes the next registered connection from the fake server.
async fn next_server_conn(rx: &mut mpsc::UnboundedReceiver<Peer>) -> Peer {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("no connection registered on the fake server in 30 s")
        .expect("fake server stopped")
}

/// What [`sink`] saw.
struct Sunk {
    bytes: usize,
    lines: usize,
    /// When the last byte arrived.
    last: Instant,
    /// The connection was closed (rather than stalled or complete).
    closed: bool,
}

/// Reads until `expected` bytes arrived, nothing came for [`STALL`], or the connection closed;
/// publishes the number of lines received so far on `progress`.
async fn sink(p: &mut Peer, expected: usize, progress: &watch::Sender<usize>) -> Sunk {
    let mut buf = vec![0u8; 256 * 1024];
    // The part of a line not yet ended by `\n`.
    let mut partial: Vec<u8> = Vec::new();
    let mut s = Sunk {
        bytes: 0,
        lines: 0,
        last: Instant::now(),
        closed: false,
    };
    while s.bytes < expected {
        match tokio::time::timeout(STALL, p.rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                // otrbnc's acknowledgement PINGs are answered, as a server would, and not
                // counted: only the relayed lines are.
                let mut rest = &buf[..n];
                while let Some(i) = rest.iter().position(|b| *b == b'\n') {
                    let (head, tail) = rest.split_at(i + 1);
                    partial.extend_from_slice(head);
                    rest = tail;
                    if let Some(pong) = pong_for(&partial) {
                        if p.wr.write_all(&pong).await.is_err() {
                            s.closed = true;
                            return s;
                        }
                    } else {
                        s.bytes += partial.len();
                        s.lines += 1;
                    }
                    partial.clear();
                }
                partial.extend_from_slice(rest);
                s.last = Instant::now();
                progress.send_replace(s.lines);
            }
            Ok(_) => {
                s.closed = true;
                break;
            }
            Err(_) => break,
        }
    }
    s
}

/// The server's answer to a `PING <token>` line (otrbnc's acknowledgement PINGs), if it is one.
fn pong_for(line: &[u8]) -> Option<Vec<u8>> {
    let token = line.strip_prefix(b"PING ".as_slice())?;
    let mut pong = format!(":{SERVER} PONG {SERVER} ").into_bytes();
    pong.extend_from_slice(token);
    Some(pong)
}

/// How the sender paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Everything at once, as fast as the socket takes it.
    Burst,
    /// At most this many lines sent and not yet received.
    Window(usize),
}

/// One throughput run's result.
#[derive(Debug, Clone, Copy)]
struct Run {
    lines_per_sec: f64,
    lines_received: usize,
    complete: bool,
    closed: bool,
}

/// Sends `n` copies of `line` from `tx` to `rx` (which counts them in a task of its own).
async fn run_flow(mut tx: Peer, rx: Peer, line: &[u8], n: usize, flow: Flow) -> (Peer, Peer, Run) {
    let expected = n * line.len();
    let (progress, mut received) = watch::channel(0usize);
    let t0 = Instant::now();
    let recv = tokio::spawn(async move {
        let mut rx = rx;
        let got = sink(&mut rx, expected, &progress).await;
        (rx, got)
    });
    let batch = match flow {
        Flow::Burst => (64 * 1024 / line.len()).max(1),
        Flow::Window(w) => (w / 4).max(1),
    };
    let chunk = line.repeat(batch);
    let mut sent = 0;
    'send: while sent < n {
        let k = batch.min(n - sent);
        if let Flow::Window(w) = flow {
            while sent + k > *received.borrow_and_update() + w {
                match tokio::time::timeout(STALL, received.changed()).await {
                    Ok(Ok(())) => {}
                    _ => break 'send,
                }
            }
        }
        if tx.wr.write_all(&chunk[..k * line.len()]).await.is_err() {
            break;
        }
        sent += k;
    }
    let (rx, got) = recv.await.unwrap();
    let secs = got.last.duration_since(t0).as_secs_f64();
    let run = Run {
        lines_per_sec: got.lines as f64 / secs,
        lines_received: got.lines,
        complete: got.bytes == expected,
        closed: got.closed,
    };
    (tx, rx, run)
}

/// Round trips: the client sends a channel message, the server echoes it back as if from
/// another user, the client waits for it. Returns the round-trip times in microseconds.
async fn run_latency(
    client: &mut Peer,
    server: Peer,
    warmup: usize,
    samples: usize,
) -> (Peer, Vec<f64>) {
    let total = warmup + samples;
    let srv = tokio::spawn(async move {
        let mut server = server;
        let mut buf = Vec::new();
        let mut done = 0;
        while done < total && server.line(&mut buf).await {
            if let Some(pong) = pong_for(&buf) {
                if server.wr.write_all(&pong).await.is_err() {
                    break;
                }
            } else if let Some(text) = buf.strip_prefix(b"PRIVMSG #chan :".as_slice()) {
                let mut out = b":bob!bob@fake.example PRIVMSG #chan :".to_vec();
                out.extend_from_slice(text);
                if server.wr.write_all(&out).await.is_err() {
                    break;
                }
                done += 1;
            }
        }
        server
    });
    let mut rtt = Vec::with_capacity(samples);
    let mut buf = Vec::new();
    for i in 0..total {
        let token = format!("lat {i:06}\r\n");
        let line = format!("PRIVMSG #chan :{token}");
        let t0 = Instant::now();
        client.wr.write_all(line.as_bytes()).await.unwrap();
        loop {
            let ok = tokio::time::timeout(STALL, client.line(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("round trip {i}: no echo within {STALL:?}"));
            assert!(ok, "round trip {i}: connection closed");
            if buf.ends_with(token.as_bytes()) {
                break;
            }
        }
        if i >= warmup {
            rtt.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    let server = srv.await.unwrap();
    (server, rtt)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One path: a registered client and the fake server's side of the connection it leads to.
struct Path {
    label: &'static str,
    client: Option<Peer>,
    server: Option<Peer>,
    rtt_us: Vec<f64>,
    runs: Vec<(Flow, Dir, Run)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    ClientToServer,
    ServerToClient,
}

impl Dir {
    fn name(self) -> &'static str {
        match self {
            Dir::ClientToServer => "client→server",
            Dir::ServerToClient => "server→client",
        }
    }
}

impl Path {
    async fn latency(&mut self, warmup: usize, samples: usize) {
        let (Some(client), Some(server)) = (self.client.as_mut(), self.server.take()) else {
            return;
        };
        let (server, rtt) = run_latency(client, server, warmup, samples).await;
        self.server = Some(server);
        self.rtt_us.extend(rtt);
    }

    async fn flow(&mut self, dir: Dir, flow: Flow, n: usize) {
        if self.client.is_none() || self.server.is_none() {
            return;
        }
        let (Some(client), Some(server)) = (self.client.take(), self.server.take()) else {
            return;
        };
        let (client, server, run) = match dir {
            Dir::ClientToServer => {
                let line = format!("PRIVMSG #chan :{TEXT60}\r\n").into_bytes();
                run_flow(client, server, &line, n, flow).await
            }
            Dir::ServerToClient => {
                let line =
                    format!(":bob!bob@fake.example PRIVMSG #chan :{TEXT60}\r\n").into_bytes();
                let (server, client, run) = run_flow(server, client, &line, n, flow).await;
                (client, server, run)
            }
        };
        if !run.complete {
            let how = if run.closed {
                "the receiving connection was CLOSED".to_string()
            } else {
                format!("nothing more arrived for {STALL:?}")
            };
            println!(
                "  {}: {} {} run INCOMPLETE: {} of {n} lines arrived; {how}",
                self.label,
                dir.name(),
                flow_name(flow),
                run.lines_received
            );
        }
        self.runs.push((flow, dir, run));
        // The server side stays open even when the client was dropped, so that otrbnc's
        // upstream (and its log) is not disturbed.
        self.server = Some(server);
        if !run.closed {
            self.client = Some(client);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Median lines/s of the runs of one kind, with min and max; and whether all were complete.
    fn rate(&self, dir: Dir, flow: Flow) -> (f64, f64, f64, bool) {
        let runs: Vec<&Run> = self
            .runs
            .iter()
            .filter(|(f, d, _)| *f == flow && *d == dir)
            .map(|(_, _, r)| r)
            .collect();
        let mut v: Vec<f64> = runs.iter().map(|r| r.lines_per_sec).collect();
        v.sort_by(f64::total_cmp);
        let lo = v.first().copied().unwrap_or(f64::NAN);
        let hi = v.last().copied().unwrap_or(f64::NAN);
        let complete = !runs.is_empty() && runs.iter().all(|r| r.complete);
        (percentile(&v, 0.5), lo, hi, complete)
    }

    fn delivered(&self, dir: Dir, flow: Flow) -> String {
        self.runs
            .iter()
            .filter(|(f, d, _)| *f == flow && *d == dir)
            .map(|(_, _, r)| r.lines_received.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn flow_name(flow: Flow) -> String {
    match flow {
        Flow::Burst => "burst".to_string(),
        Flow::Window(w) => format!("window {w}"),
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".to_string())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sz = if bench {
        Sizes {
            lines: 200_000,
            runs: 3,
            samples: 5_000,
            warmup: 500,
            blocks: 5,
            window: 200,
        }
    } else {
        Sizes {
            lines: 300,
            runs: 1,
            samples: 100,
            warmup: 10,
            blocks: 1,
            window: 200,
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_main(sz, bench));
}

async fn bench_main(sz: Sizes, bench: bool) {
    let mode = if bench {
        "full run"
    } else {
        "test mode (tiny sizes; `cargo bench --bench relay` for the figures)"
    };
    println!("relay: plaintext relay through otrbnc vs a direct connection — {mode}");
    let load_before = loadavg();

    // Direct: client ↔ fake server.
    let (addr, mut conns) = fake_server().await;
    let direct_client = client_connect(addr, None, "alice").await;
    let direct_server = next_server_conn(&mut conns).await;
    let mut direct = Path {
        label: "direct",
        client: Some(direct_client),
        server: Some(direct_server),
        rtt_us: Vec::new(),
        runs: Vec::new(),
    };

    // Through otrbnc: client ↔ otrbnc ↔ fake server.
    let (addr, mut conns) = fake_server().await;
    let mut cfg = BncConfig::new("alice", addr).otr_nicks(&["bob"]);
    cfg.flood_interval_secs = Some(0.0);
    cfg.log_level = "info".to_string();
    let mut bnc = OtrBnc::start(cfg).await;
    let bnc_server = next_server_conn(&mut conns).await;
    let pid = bnc.pid().expect("otrbnc running");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mem_registered = memory_kib(pid);
    let bnc_client = client_connect(bnc.addr(), Some(&bnc.pass()), "alice").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mem_attached = memory_kib(pid);
    // The login's Argon2id check (m = 19 MiB) sets the peak; reset it (clear_refs 5) so that
    // the peaks below are the relay's own.
    let hwm_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    let mut via = Path {
        label: "via otrbnc",
        client: Some(bnc_client),
        server: Some(bnc_server),
        rtt_us: Vec::new(),
        runs: Vec::new(),
    };

    // Latency, in blocks alternating between the paths (both see the same background load).
    for block in 0..sz.blocks {
        let warmup = if block == 0 {
            sz.warmup
        } else {
            sz.warmup / 10
        };
        for p in [&mut direct, &mut via] {
            p.latency(warmup, sz.samples / sz.blocks).await;
        }
    }
    direct.rtt_us.sort_by(f64::total_cmp);
    via.rtt_us.sort_by(f64::total_cmp);
    // Throughput: first lossless (bounded window), then unbounded bursts.
    let window = Flow::Window(sz.window);
    for dir in [Dir::ClientToServer, Dir::ServerToClient] {
        for _ in 0..sz.runs {
            for p in [&mut direct, &mut via] {
                p.flow(dir, window, sz.lines).await;
            }
        }
    }
    let mem_windowed = memory_kib(pid);
    for dir in [Dir::ClientToServer, Dir::ServerToClient] {
        for _ in 0..sz.runs {
            for p in [&mut direct, &mut via] {
                p.flow(dir, Flow::Burst, sz.lines).await;
            }
        }
    }
    let mem_end = memory_kib(pid);
    let alive = bnc.is_alive();
    let log = bnc.log();
    // Warnings, counted by message (timestamps cut off).
    let mut trouble: Vec<(String, usize)> = Vec::new();
    for l in log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
    {
        let msg = l.split_once(' ').map_or(l, |x| x.1).trim().to_string();
        match trouble.iter_mut().find(|(m, _)| *m == msg) {
            Some((_, n)) => *n += 1,
            None => trouble.push((msg, 1)),
        }
    }

    let ms = |p: &Path, q: f64| percentile(&p.rtt_us, q) / 1000.0;
    let (d50, d99) = (ms(&direct, 0.5), ms(&direct, 0.99));
    let (v50, v99) = (ms(&via, 0.5), ms(&via, 0.99));
    let mb = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);

    println!();
    println!(
        "machine: {} core(s), {}; load average before/after: {load_before} / {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        loadavg()
    );
    println!(
        "bench client and fake IRC server in this process (tokio, 2 worker threads), otrbnc in its own process"
    );
    println!(
        "otrbnc network: transport = \"plain\", flood_interval_secs = 0 (no pacing), log level info, 1 client, no Tor"
    );
    println!(
        "latency: {} round trips (in {} blocks alternating direct/otrbnc, after warm-up), one line in flight, \
         client→server→client with the server echoing each line as from another user",
        direct.rtt_us.len(),
        sz.blocks
    );
    println!(
        "throughput: {} lines of `PRIVMSG #chan :<60 bytes>` (77 bytes with CRLF) per run, median of {} run(s); \
         \"window\": at most {} lines sent and not yet received (lossless); \"burst\": all at once",
        sz.lines, sz.runs, sz.window
    );
    println!();
    let row = |a: &str, b: String, c: String, d: &str, e: &str| {
        println!("{a:<44} {b:>12} {c:>14} {d:>12} {e:>9}");
    };
    row(
        "",
        "direct".into(),
        "via otrbnc".into(),
        "target",
        "ZNC 1.8",
    );
    for (dir, flow) in [
        (Dir::ClientToServer, window),
        (Dir::ServerToClient, window),
        (Dir::ClientToServer, Flow::Burst),
        (Dir::ServerToClient, Flow::Burst),
    ] {
        let (d, ..) = direct.rate(dir, flow);
        let (v, _, _, vc) = via.rate(dir, flow);
        let mark = if vc { "" } else { " *" };
        row(
            &format!("{} {} (lines/s)", dir.name(), flow_name(flow)),
            support::fmt_rate(d),
            format!("{}{mark}", support::fmt_rate(v)),
            ">= 100,000",
            "~35,000",
        );
    }
    row(
        "round trip p50 (ms)",
        format!("{d50:.3}"),
        format!("{v50:.3}"),
        "",
        "",
    );
    row(
        "round trip p99 (ms)",
        format!("{d99:.3}"),
        format!("{v99:.3}"),
        "",
        "",
    );
    row(
        "added by otrbnc to a round trip, p50 (ms)",
        String::new(),
        format!("+{:.3}", v50 - d50),
        "<= 0.05",
        "+0.09",
    );
    row(
        "added by otrbnc to a round trip, p99 (ms)",
        String::new(),
        format!("+{:.3}", v99 - d99),
        "",
        "",
    );
    row(
        "otrbnc VmRSS after the lossless runs (MB)",
        String::new(),
        mb(mem_windowed.0),
        "<= 8",
        "16",
    );
    row(
        "otrbnc VmHWM after the lossless runs (MB)",
        String::new(),
        if hwm_reset {
            mb(mem_windowed.1)
        } else {
            "n/a".to_string()
        },
        "<= 8",
        "",
    );
    row(
        "otrbnc VmRSS / VmHWM after the bursts (MB)",
        String::new(),
        format!("{} / {}", mb(mem_end.0), mb(mem_end.1)),
        "<= 8",
        "",
    );
    println!();
    for (dir, flow) in [
        (Dir::ClientToServer, window),
        (Dir::ServerToClient, window),
        (Dir::ClientToServer, Flow::Burst),
        (Dir::ServerToClient, Flow::Burst),
    ] {
        let (_, dl, dh, dc) = direct.rate(dir, flow);
        let (_, vl, vh, vc) = via.rate(dir, flow);
        println!(
            "{} {}: direct {}–{} lines/s, lines delivered per run [{}]{}; via otrbnc {}–{} lines/s, delivered [{}]{}",
            dir.name(),
            flow_name(flow),
            support::fmt_rate(dl),
            support::fmt_rate(dh),
            direct.delivered(dir, flow),
            if dc { "" } else { " INCOMPLETE" },
            support::fmt_rate(vl),
            support::fmt_rate(vh),
            via.delivered(dir, flow),
            if vc { "" } else { " INCOMPLETE (*)" },
        );
    }
    println!(
        "otrbnc memory (VmRSS / VmHWM, MB): upstream registered, no client {} / {}; \
         client attached (after the Argon2id login) {} / {}; after the lossless runs {} / {}; after the bursts {} / {}{}",
        mb(mem_registered.0),
        mb(mem_registered.1),
        mb(mem_attached.0),
        mb(mem_attached.1),
        mb(mem_windowed.0),
        mb(mem_windowed.1),
        mb(mem_end.0),
        mb(mem_end.1),
        if hwm_reset {
            " (peak reset after the login)"
        } else {
            " (peaks include the login: clear_refs not writable)"
        }
    );
    println!("otrbnc still running: {alive}");
    if trouble.is_empty() {
        println!("otrbnc log: no warnings");
    } else {
        println!("otrbnc log warnings (count × message):");
        for (m, n) in &trouble {
            println!("  {n} × {m}");
        }
    }
}
