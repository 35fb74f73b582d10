//! Relay throughput through a REAL ngircd, direct and through otrbnc, in the same run:
//!
//! * client→server: a user's client sends `PRIVMSG #chan :…` lines (200 bytes each with CRLF);
//!   a plain client joined to that channel on ngircd counts them. Direct: the user's client
//!   is connected to ngircd; via otrbnc: it is attached to otrbnc, whose upstream is ngircd.
//! * server→client: a plain client on ngircd sends to a channel the user's client is in.
//!
//! Each pair of users has its own channel, so no line is fanned out to a client that does not
//! read it. ngircd runs with `MaxPenaltyTime = 0` (its flood penalties would otherwise hold
//! every client to a few lines per second); otrbnc with `transport = "plain"`, no pacing, log
//! level info. Flow: at most `window` lines sent and not yet received (ngircd closes a client
//! whose write buffer passes 32 kB after a flush, so an unbounded burst measures that limit,
//! not the relay).
//!
//! Run: `cargo bench --bench ngircd_relay` (release build, full size). `cargo test --benches`
//! runs a tiny version. Without ngircd installed it prints "skipped" (with
//! `OTRBNC_REQUIRE_E2E=1`, it fails instead).
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
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use support::ngircd::{Ngircd, NgircdOpts};
use support::otrbnc::{BncConfig, OtrBnc};

/// Bytes per line, CRLF included (the figure the issue measured with).
const LINE_BYTES: usize = 200;
/// A run stalls when nothing arrives for this long.
const STALL: Duration = Duration::from_secs(5);

struct Peer {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    nick: String,
}

impl Peer {
    async fn line(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        matches!(
            tokio::time::timeout(Duration::from_secs(30), self.rd.read_until(b'\n', buf)).await,
            Ok(Ok(n)) if n > 0
        )
    }

    /// Reads lines until one contains `needle`.
    async fn wait_for(&mut self, needle: &str) {
        let mut buf = Vec::new();
        loop {
            assert!(
                self.line(&mut buf).await,
                "{}: closed or silent while waiting for {needle:?}",
                self.nick
            );
            if String::from_utf8_lossy(&buf).contains(needle) {
                return;
            }
        }
    }

    async fn send(&mut self, line: &str) {
        self.wr
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }

    async fn join(&mut self, chan: &str) {
        self.send(&format!("JOIN {chan}")).await;
        self.wait_for(&format!(" 366 {} {chan} ", self.nick)).await;
    }
}

/// Connects and registers (`PASS` when given); returns after the end of the MOTD.
async fn register(addr: SocketAddr, pass: Option<&str>, nick: &str) -> Peer {
    let s = TcpStream::connect(addr).await.unwrap();
    let _ = s.set_nodelay(true);
    let (r, w) = s.into_split();
    let mut p = Peer {
        rd: BufReader::with_capacity(64 * 1024, r),
        wr: w,
        nick: nick.to_string(),
    };
    if let Some(pass) = pass {
        p.send(&format!("PASS {pass}")).await;
    }
    p.send(&format!("NICK {nick}")).await;
    p.send(&format!("USER {nick} 0 * :{nick}")).await;
    let mut buf = Vec::new();
    loop {
        assert!(p.line(&mut buf).await, "{nick}: registration failed");
        let l = String::from_utf8_lossy(&buf);
        if l.contains(" 376 ") || l.contains(" 422 ") {
            return p;
        }
    }
}

/// One run: `n` lines from `tx` to `chan`, counted at `rx`; lines per second (last byte
/// received) and whether all arrived.
async fn run(tx: &mut Peer, rx: &mut Peer, chan: &str, n: usize, window: usize) -> (f64, bool) {
    let prefix = format!("PRIVMSG {chan} :");
    let pad = LINE_BYTES - prefix.len() - 2;
    let line = format!("{prefix}{}\r\n", "x".repeat(pad)).into_bytes();
    assert_eq!(line.len(), LINE_BYTES);
    let (progress, mut received) = watch::channel(0usize);
    let batch = (window / 4).max(1);
    let chunk = line.repeat(batch);
    let t0 = Instant::now();
    let send = async {
        let mut sent = 0;
        'send: while sent < n {
            let k = batch.min(n - sent);
            while sent + k > *received.borrow_and_update() + window {
                match tokio::time::timeout(STALL, received.changed()).await {
                    Ok(Ok(())) => {}
                    _ => break 'send,
                }
            }
            if tx.wr.write_all(&chunk[..k * line.len()]).await.is_err() {
                break;
            }
            sent += k;
        }
    };
    let sink = async {
        let mut buf = vec![0u8; 256 * 1024];
        let mut lines = 0;
        let mut last = t0;
        while lines < n {
            match tokio::time::timeout(STALL, rx.rd.read(&mut buf)).await {
                Ok(Ok(k)) if k > 0 => {
                    lines += buf[..k].iter().filter(|b| **b == b'\n').count();
                    last = Instant::now();
                    progress.send_replace(lines);
                }
                _ => break,
            }
        }
        (lines, last)
    };
    let ((), (lines, last)) = tokio::join!(send, sink);
    let secs = last.duration_since(t0).as_secs_f64();
    (lines as f64 / secs, lines >= n)
}

/// CPU time (user + system) a process has used, in seconds.
fn cpu_secs(pid: Option<u32>) -> f64 {
    let Some(pid) = pid else { return f64::NAN };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

/// One measurement's figures over its runs.
#[derive(Default)]
struct Figures {
    rates: Vec<f64>,
    complete: bool,
    lines: usize,
    ngircd_cpu: f64,
    otrbnc_cpu: f64,
}

impl Figures {
    fn new() -> Figures {
        Figures {
            complete: true,
            ..Default::default()
        }
    }

    fn per_line_us(&self, cpu: f64) -> f64 {
        cpu * 1e6 / self.lines as f64
    }
}

/// Runs one measurement and records its rate and the CPU time ngircd and otrbnc used.
#[allow(clippy::too_many_arguments)]
async fn measure(
    fig: &mut Figures,
    pids: (Option<u32>, Option<u32>),
    tx: &mut Peer,
    rx: &mut Peer,
    chan: &str,
    n: usize,
    window: usize,
) {
    let (ng0, bnc0) = (cpu_secs(pids.0), cpu_secs(pids.1));
    let (rate, complete) = run(tx, rx, chan, n, window).await;
    fig.ngircd_cpu += cpu_secs(pids.0) - ng0;
    fig.otrbnc_cpu += cpu_secs(pids.1) - bnc0;
    fig.rates.push(rate);
    fig.complete &= complete;
    fig.lines += n;
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !support::e2e_available("ngircd_relay bench") {
        return;
    }
    let (lines, runs, window) = if bench {
        (200_000, 3, 1000)
    } else {
        (300, 1, 100)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(bench_main(lines, runs, window, bench));
}

async fn bench_main(lines: usize, runs: usize, window: usize, bench: bool) {
    let mode = if bench {
        "full run"
    } else {
        "test mode (tiny sizes; `cargo bench --bench ngircd_relay` for the figures)"
    };
    println!("ngircd_relay: relay through a real ngircd, direct vs through otrbnc — {mode}");
    let ng = Ngircd::start(NgircdOpts::no_penalties()).await;
    let mut cfg = BncConfig::new("alice", ng.addr());
    cfg.flood_interval_secs = Some(0.0);
    cfg.log_level = "info".to_string();
    let bnc = OtrBnc::start(cfg).await;
    ng.wait_log(Duration::from_secs(30), "alice registered", |_| {
        ng.registrations_of("alice") >= 1
    })
    .await;

    // The user: directly on ngircd, and attached to otrbnc.
    let mut direct = register(ng.addr(), None, "ud").await;
    let mut via = register(bnc.addr(), Some(&bnc.pass()), "alice").await;
    // The other end of each measurement: plain clients on ngircd.
    let mut rcv_d = register(ng.addr(), None, "rcvd").await;
    let mut rcv_v = register(ng.addr(), None, "rcvv").await;
    let mut push_d = register(ng.addr(), None, "pushd").await;
    let mut push_v = register(ng.addr(), None, "pushv").await;
    for (p, chans) in [
        (&mut rcv_d, ["#c2sd"].as_slice()),
        (&mut rcv_v, &["#c2sv"]),
        (&mut push_d, &["#s2cd"]),
        (&mut push_v, &["#s2cv"]),
        (&mut direct, &["#c2sd", "#s2cd"]),
        (&mut via, &["#c2sv", "#s2cv"]),
    ] {
        for c in chans {
            p.join(c).await;
        }
    }
    // The JOIN lines the others' joins caused are read with the first run's lines; settle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in [&mut direct, &mut via, &mut rcv_d, &mut rcv_v] {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(50), p.rd.read(&mut buf)).await
        {
            if n == 0 {
                break;
            }
        }
    }

    let pids = (ng.pid(), bnc.pid());
    let [mut c2s_d, mut c2s_v, mut s2c_d, mut s2c_v] = [(); 4].map(|()| Figures::new());
    for _ in 0..runs {
        let m = (lines, window);
        measure(&mut c2s_d, pids, &mut direct, &mut rcv_d, "#c2sd", m.0, m.1).await;
        measure(&mut c2s_v, pids, &mut via, &mut rcv_v, "#c2sv", m.0, m.1).await;
        measure(
            &mut s2c_d,
            pids,
            &mut push_d,
            &mut direct,
            "#s2cd",
            m.0,
            m.1,
        )
        .await;
        measure(&mut s2c_v, pids, &mut push_v, &mut via, "#s2cv", m.0, m.1).await;
    }

    println!(
        "{}, MaxPenaltyTime = 0; otrbnc plain, no pacing, log level info; {} core(s), load average {}",
        support::ngircd::version(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    println!(
        "{lines} lines of {LINE_BYTES} bytes per run, at most {window} in flight, median of {runs} run(s)"
    );
    println!();
    println!(
        "{:<28} {:>16} {:>16} {:>8} {:>8}",
        "", "direct", "via otrbnc", "ratio", "target"
    );
    let lo_hi = |x: &[f64]| {
        let mut s = x.to_vec();
        s.sort_by(f64::total_cmp);
        format!(
            "{}–{}",
            support::fmt_rate(s.first().copied().unwrap_or(f64::NAN)),
            support::fmt_rate(s.last().copied().unwrap_or(f64::NAN))
        )
    };
    for (name, d, v) in [
        ("client→server (lines/s)", &c2s_d, &c2s_v),
        ("server→client (lines/s)", &s2c_d, &s2c_v),
    ] {
        let (dm, vm) = (median(d.rates.clone()), median(v.rates.clone()));
        println!(
            "{name:<28} {:>16} {:>16} {:>7.0}% {:>8}{}",
            support::fmt_rate(dm),
            support::fmt_rate(vm),
            100.0 * vm / dm,
            ">= 90%",
            if d.complete && v.complete {
                ""
            } else {
                "  (INCOMPLETE run)"
            }
        );
        println!(
            "{:<28} {:>16} {:>16}",
            "  range",
            lo_hi(&d.rates),
            lo_hi(&v.rates)
        );
        println!(
            "{:<28} {:>16} {:>16}",
            "  ngircd CPU per line (µs)",
            format!("{:.2}", d.per_line_us(d.ngircd_cpu)),
            format!("{:.2}", v.per_line_us(v.ngircd_cpu))
        );
        println!(
            "{:<28} {:>16} {:>16}",
            "  otrbnc CPU per line (µs)",
            "",
            format!("{:.2}", v.per_line_us(v.otrbnc_cpu))
        );
    }
    let log = bnc.log();
    let warnings = log
        .lines()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .count();
    println!(
        "otrbnc log: {warnings} warning(s); ngircd forced disconnects: {:?}",
        ng.forced_disconnects()
    );
}
