//! `otrbnc healthcheck`: is the bouncer answering on its listener? For a container's
//! HEALTHCHECK, which has no IRC client or `nc` to ask with.
//!
//! A TCP connect alone would succeed even with the runtime stuck (the kernel completes the
//! handshake from the listen backlog), so the check sends `PING` before logging in and waits
//! for otrbnc's `PONG` with the same token. It never logs in: no password is needed, and
//! the bouncer logs nothing for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Longest line read back (otrbnc's PONG is far shorter).
const MAX_LINE: usize = 512;

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// Nothing accepted the connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The connection was accepted but the PONG did not come back in time.
    #[error("{addr} accepted the connection but did not answer PING within {secs} s{detail}")]
    NoAnswer {
        /// Where.
        addr: SocketAddr,
        /// The time allowed.
        secs: u64,
        /// What happened instead.
        detail: String,
    },
}

/// Where to connect to reach a listener bound to `listen`: an unspecified address (the
/// container's `0.0.0.0`) is reached on loopback.
pub fn target(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

/// Connects to `addr`, sends `PING :<token>` and waits for the PONG carrying it, all within
/// `limit`.
pub fn check(addr: SocketAddr, limit: Duration) -> Result<(), HealthError> {
    let started = Instant::now();
    let stream = TcpStream::connect_timeout(&addr, limit)
        .map_err(|source| HealthError::Connect { addr, source })?;
    let no_answer = |detail: String| HealthError::NoAnswer {
        addr,
        secs: limit.as_secs(),
        detail,
    };
    let mut bytes = [0u8; 8];
    rand::fill(&mut bytes);
    let token = format!("health-{}", hex::encode(bytes));
    // What is left of `limit`, so a peer trickling lines cannot stretch the check.
    let left = || {
        limit
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(1))
    };
    stream
        .set_write_timeout(Some(left()))
        .map_err(|e| no_answer(format!(" ({e})")))?;
    (&stream)
        .write_all(format!("PING :{token}\r\n").as_bytes())
        .map_err(|e| no_answer(format!(" (sending: {e})")))?;
    let mut reader = BufReader::new(&stream).take(64 * MAX_LINE as u64);
    let mut line = Vec::new();
    loop {
        stream
            .set_read_timeout(Some(left()))
            .map_err(|e| no_answer(format!(" ({e})")))?;
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Err(no_answer(" (it closed the connection)".into())),
            Ok(_) => {}
            Err(e) => return Err(no_answer(format!(" ({e})"))),
        }
        let text = String::from_utf8_lossy(&line);
        let mut words = text.split_whitespace();
        let is_pong = words.any(|w| w == "PONG");
        if is_pong && text.trim_end().ends_with(&token) {
            // Leave as a client that gave up registering would: nothing is logged for it.
            let _ = (&stream).write_all(b"QUIT\r\n");
            return Ok(());
        }
        if started.elapsed() > limit {
            return Err(no_answer(String::new()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn unspecified_listeners_are_reached_on_loopback() {
        let t = target("0.0.0.0:6667".parse().unwrap());
        assert_eq!(t, "127.0.0.1:6667".parse().unwrap());
        let t = target("[::]:6697".parse().unwrap());
        assert_eq!(t, "[::1]:6697".parse().unwrap());
        let t = target("10.1.2.3:7000".parse().unwrap());
        assert_eq!(t, "10.1.2.3:7000".parse().unwrap());
    }

    #[test]
    fn nothing_listening_is_a_connect_error() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let e = check(addr, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, HealthError::Connect { .. }), "{e}");
    }

    #[test]
    fn a_listener_that_never_answers_fails_in_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        // Accepted (by the backlog) but never read: the check must not hang.
        let started = Instant::now();
        let e = check(addr, Duration::from_millis(500)).unwrap_err();
        assert!(matches!(e, HealthError::NoAnswer { .. }), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(l);
    }

    #[test]
    fn a_late_line_does_not_extend_the_limit() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            s.write_all(b"NOTICE * :not yet\r\n").unwrap();
            // Keep the connection open well past the limit.
            std::thread::sleep(Duration::from_secs(4));
        });
        let started = Instant::now();
        let e = check(addr, Duration::from_secs(2)).unwrap_err();
        // A read timeout set once, at the start, would wait a whole limit after the
        // notice (to ~3.5 s); the check must give up at its 2 s.
        assert!(matches!(e, HealthError::NoAnswer { .. }), "{e}");
        assert!(
            started.elapsed() < Duration::from_millis(3200),
            "{:?}",
            started.elapsed()
        );
        server.join().unwrap();
    }

    #[test]
    fn a_pong_with_another_token_is_not_an_answer() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut ping = String::new();
            r.read_line(&mut ping).unwrap();
            s.write_all(b":otrbnc PONG otrbnc :health-0000\r\n")
                .unwrap();
            // A check that took that PONG would say QUIT now.
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut early = String::new();
            assert!(
                r.read_line(&mut early).is_err(),
                "answered early: {early:?}"
            );
            s.set_read_timeout(None).unwrap();
            let token = ping.trim_end().rsplit(':').next().unwrap().to_string();
            s.write_all(format!(":otrbnc PONG otrbnc :{token}\r\n").as_bytes())
                .unwrap();
            let mut quit = String::new();
            r.read_line(&mut quit).unwrap();
            (ping, quit)
        });
        check(addr, Duration::from_secs(5)).unwrap();
        let (ping, quit) = server.join().unwrap();
        assert!(ping.starts_with("PING :health-"), "{ping}");
        assert_eq!(quit, "QUIT\r\n");
    }
}
