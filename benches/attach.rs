//! Many channels: what otrbnc costs with 300 and 1,000 joined channels of 200 nicks each —
//! its resident memory, how long a client attaching takes to get every channel with its
//! member list (the last `366`), how many lines that sends upstream, and how many `JOIN`
//! lines a reconnect needs to join them all again.
//!
//! Run: `cargo bench --bench attach` (full size). `cargo test --benches` runs a tiny version.
//!
//! The server is a minimal fake written here (so that 200,000 members need no 200,000 real
//! clients): it registers otrbnc, then puts it into N channels itself (JOIN, 353, 366 as an
//! ircd sends them), and records every line otrbnc sends. otrbnc runs as its own process,
//! started by the e2e harness's launcher, with `flood_interval_secs = 0`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use support::otrbnc::{BncConfig, OtrBnc, PASSWORD};

const SERVER: &str = "fake.server";

/// One server connection: its write half and what otrbnc sent on it.
struct ServerConn {
    wr: tokio::net::tcp::OwnedWriteHalf,
    sent: Arc<Mutex<Vec<String>>>,
}

/// A fake ircd: every connection is registered (CAP LS with nothing, NICK, USER → 001, 005,
/// 376) and handed over; every line otrbnc sends is recorded.
async fn fake_server() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<ServerConn>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let (rd, mut wr) = s.into_split();
            let sent = Arc::new(Mutex::new(Vec::new()));
            let (reg_tx, mut reg_rx) = mpsc::unbounded_channel::<String>();
            let log = sent.clone();
            tokio::spawn(async move {
                let mut rd = BufReader::new(rd);
                let mut line = String::new();
                while rd.read_line(&mut line).await.is_ok_and(|n| n > 0) {
                    let l = line.trim_end().to_string();
                    log.lock().unwrap().push(l.clone());
                    let _ = reg_tx.send(l);
                    line.clear();
                }
            });
            let (mut nick, mut user, mut cap) = (None::<String>, false, false);
            while let Some(l) = reg_rx.recv().await {
                let mut w = l.split(' ');
                match (w.next(), w.next()) {
                    (Some("CAP"), Some("LS")) => {
                        cap = true;
                        let _ = wr
                            .write_all(format!(":{SERVER} CAP * LS :\r\n").as_bytes())
                            .await;
                    }
                    (Some("CAP"), Some("END")) => cap = false,
                    (Some("NICK"), Some(n)) => nick = Some(n.to_string()),
                    (Some("USER"), _) => user = true,
                    _ => {}
                }
                if let Some(n) = &nick
                    && user
                    && !cap
                {
                    let burst = format!(
                        ":{SERVER} 001 {n} :Welcome {n}!a@fake.host\r\n\
                         :{SERVER} 005 {n} CHANTYPES=# PREFIX=(ov)@+ CASEMAPPING=rfc1459 :are supported\r\n\
                         :{SERVER} 376 {n} :End of MOTD\r\n"
                    );
                    let _ = wr.write_all(burst.as_bytes()).await;
                    break;
                }
            }
            let _ = tx.send(ServerConn { wr, sent });
        }
    });
    (addr, rx)
}

/// Puts `nick` into `chans` channels of `members` members each, the way an ircd reports a
/// join, and waits until otrbnc has read it all (its answer to a PING sent last).
async fn fill(conn: &mut ServerConn, nick: &str, chans: usize, members: usize) {
    let mut out = String::new();
    for c in 0..chans {
        let name = format!("#channel-{c:04}");
        out.push_str(&format!(":{nick}!a@fake.host JOIN {name}\r\n"));
        let mut line = format!(":{SERVER} 353 {nick} = {name} :@{nick}");
        for m in 1..members {
            let member = format!(" user{:05}", (c * 37 + m) % 60_000);
            if line.len() + member.len() > 400 {
                out.push_str(&line);
                out.push_str("\r\n");
                line = format!(":{SERVER} 353 {nick} = {name} :");
                line.push_str(member.trim_start());
            } else {
                line.push_str(&member);
            }
        }
        out.push_str(&line);
        out.push_str("\r\n");
        out.push_str(&format!(":{SERVER} 366 {nick} {name} :End of NAMES\r\n"));
        if out.len() > 1 << 20 {
            conn.wr.write_all(out.as_bytes()).await.unwrap();
            out.clear();
        }
    }
    out.push_str(&format!("PING :filled-{chans}\r\n"));
    conn.wr.write_all(out.as_bytes()).await.unwrap();
    let token = format!("filled-{chans}");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !conn.sent.lock().unwrap().iter().any(|l| l.contains(&token)) {
        assert!(
            Instant::now() < deadline,
            "otrbnc did not take in {chans} channels"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Attaches a client and reads until the `chans`-th `366`; returns the time that took and
/// the bytes received.
async fn attach(bnc: &OtrBnc, chans: usize) -> (Duration, usize) {
    let t0 = Instant::now();
    let s = TcpStream::connect(bnc.addr()).await.unwrap();
    let (rd, mut wr) = s.into_split();
    let pass = format!("PASS alice/test:{PASSWORD}\r\nNICK alice\r\nUSER alice 0 * :alice\r\n");
    wr.write_all(pass.as_bytes()).await.unwrap();
    let mut rd = BufReader::with_capacity(1 << 16, rd);
    let (mut ends, mut bytes) = (0, 0);
    let mut line = String::new();
    while ends < chans {
        line.clear();
        let n = tokio::time::timeout(Duration::from_secs(60), rd.read_line(&mut line))
            .await
            .expect("attach stalled")
            .unwrap();
        assert!(n > 0, "otrbnc closed the client");
        bytes += n;
        if line.split(' ').nth(1) == Some("366") {
            ends += 1;
        }
    }
    (t0.elapsed(), bytes)
}

async fn run(chans: usize, members: usize) {
    let (addr, mut conns) = fake_server().await;
    let bnc = OtrBnc::start(
        BncConfig::new("alice", addr)
            .network_toml("reconnect_min_secs = 1\nreconnect_max_secs = 2"),
    )
    .await;
    let mut conn = tokio::time::timeout(Duration::from_secs(30), conns.recv())
        .await
        .expect("otrbnc did not register")
        .unwrap();
    let rss_before = bnc.rss_kib().unwrap_or(0);
    let t0 = Instant::now();
    fill(&mut conn, "alice", chans, members).await;
    let fill_time = t0.elapsed();
    let rss = bnc.rss_kib().unwrap_or(0);
    let before_attach = conn.sent.lock().unwrap().len();
    let (attach_time, bytes) = attach(&bnc, chans).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let upstream: Vec<String> = conn.sent.lock().unwrap()[before_attach..].to_vec();
    let names_up = upstream.iter().filter(|l| l.starts_with("NAMES")).count();
    // A reconnect: the server drops otrbnc; count the JOIN lines on the new connection.
    drop(conn);
    let conn = tokio::time::timeout(Duration::from_secs(30), conns.recv())
        .await
        .expect("otrbnc did not reconnect")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let joined = |sent: &[String]| -> usize {
        sent.iter()
            .filter(|l| l.starts_with("JOIN "))
            .map(|l| l.split(' ').nth(1).map_or(0, |c| c.split(',').count()))
            .sum()
    };
    while joined(&conn.sent.lock().unwrap()) < chans {
        assert!(Instant::now() < deadline, "not every channel rejoined");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join_lines = conn
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("JOIN "))
        .count();
    println!(
        "{chans:>5} channels × {members:>3} nicks: RSS {:>6.1} MiB (idle {:.1} MiB; taken in in {:.2} s) | \
         attach: last NAMES end after {:>7.1} ms, {:>6.1} KiB to the client, {} line(s) upstream ({} NAMES) | \
         rejoin: {join_lines} JOIN line(s)",
        rss as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        fill_time.as_secs_f64(),
        attach_time.as_secs_f64() * 1000.0,
        bytes as f64 / 1024.0,
        upstream.len(),
        names_up,
    );
    assert_eq!(names_up, 0, "an attach sent NAMES upstream");
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let sizes: &[(usize, usize)] = if bench {
        &[(300, 200), (1000, 200)]
    } else {
        &[(30, 20)]
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mode = if bench {
        "full run"
    } else {
        "test mode (tiny sizes; `cargo bench --bench attach` for the figures)"
    };
    println!("attach: many channels through otrbnc — {mode}");
    for &(chans, members) in sizes {
        rt.block_on(run(chans, members));
    }
}
