//! The upstream side against a scripted server (in-process): SASL, TLS verification and
//! pinning, nick collisions, PING passing the send queue, reconnects. The OTR behaviour is
//! tested end to end against ngircd in tests/e2e.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod fake;
mod i2p;
#[path = "../common/pki.rs"]
mod pki;
mod registration;
mod sam_mock;
mod tls;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The client password in every test config.
pub const PASSWORD: &str = "pw";

/// A running otrbnc with a generated config; killed on drop.
pub struct Bouncer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Bouncer {
    /// Starts otrbnc with `[networks.test]` = `network` (TOML lines).
    pub async fn start(network: &str) -> Bouncer {
        Bouncer::start_with("", network).await
    }

    /// Starts otrbnc with `[otr]` = `otr` and `[networks.test]` = `network`.
    pub async fn start_with(otr: &str, network: &str) -> Bouncer {
        Bouncer::start_full("debug", otr, network).await
    }

    /// Starts otrbnc with a log level, `[otr]` and `[networks.test]`.
    pub async fn start_full(level: &str, otr: &str, network: &str) -> Bouncer {
        Bouncer::start_sections(level, &format!("[otr]\n{otr}\n"), network).await
    }

    /// Starts otrbnc with a log level, whole config sections (`{DIR}` in them is replaced by
    /// the bouncer's own temporary directory) and `[networks.test]`.
    pub async fn start_sections(level: &str, sections: &str, network: &str) -> Bouncer {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let hash = otrbnc::password::hash(PASSWORD).unwrap();
        // Every bouncer keeps its state in its own directory, never in the user's.
        let sections = if sections.contains("[data]") {
            sections.to_string()
        } else {
            format!("{sections}\n[data]\ndir = \"{{DIR}}/data\"\n")
        };
        let sections = sections.replace("{DIR}", &dir.path().display().to_string());
        let config = format!(
            "[listen]\naddress = \"127.0.0.1:{port}\"\nuser = \"u\"\npassword_hash = \"{hash}\"\n\
             [log]\nlevel = \"{level}\"\n{sections}\n[networks.test]\n{network}\n"
        );
        let path = dir.path().join("otrbnc.toml");
        std::fs::write(&path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("otrbnc.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_otrbnc"))
            .arg("--config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let b = Bouncer { child, port, dir };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("otrbnc did not listen; log:\n{}", b.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("otrbnc.log")).unwrap_or_default()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Bouncer {
    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("otrbnc did not exit after SIGTERM; log:\n{}", self.log());
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal IRC client of the bouncer.
pub struct TestClient {
    rd: BufReader<tokio::net::tcp::OwnedReadHalf>,
    wr: tokio::net::tcp::OwnedWriteHalf,
}

impl TestClient {
    pub async fn connect(port: u16, nick: &str) -> TestClient {
        TestClient::connect_pass(port, nick, &format!("u/test:{PASSWORD}")).await
    }

    /// Connects with the given PASS parameter.
    pub async fn connect_pass(port: u16, nick: &str, pass: &str) -> TestClient {
        let s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (rd, wr) = s.into_split();
        let mut c = TestClient {
            rd: BufReader::new(rd),
            wr,
        };
        c.send(&format!(
            "PASS {pass}\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n"
        ))
        .await;
        c
    }

    pub async fn send(&mut self, s: &str) {
        self.wr.write_all(s.as_bytes()).await.unwrap();
    }

    /// Reads lines until one contains `needle`; panics after `secs`.
    pub async fn expect(&mut self, needle: &str, secs: u64) -> String {
        match self.try_expect(needle, secs).await {
            Ok(l) => l,
            Err(seen) => panic!("client never got {needle:?}; got:\n{seen}"),
        }
    }

    /// Reads lines until one contains `needle`; Err(what was seen) after `secs` or at EOF.
    pub async fn try_expect(&mut self, needle: &str, secs: u64) -> Result<String, String> {
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let mut line = String::new();
            match tokio::time::timeout_at(deadline, self.rd.read_line(&mut line)).await {
                Ok(Ok(n)) if n > 0 => {
                    if line.contains(needle) {
                        return Ok(line);
                    }
                    seen.push_str(&line);
                }
                _ => return Err(seen),
            }
        }
    }
}

/// Writes a PEM file into `dir`.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}
