//! A scripted IRC server: accepts connections, lets the test read and write lines.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// The listening side.
pub struct FakeServer {
    pub listener: TcpListener,
    pub port: u16,
}

impl FakeServer {
    pub async fn bind() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        FakeServer { listener, port }
    }

    /// Accepts the next plain connection.
    pub async fn accept(&self) -> Conn<tokio::net::TcpStream> {
        let (s, _) = tokio::time::timeout(Duration::from_secs(20), self.listener.accept())
            .await
            .expect("otrbnc did not connect")
            .unwrap();
        // As IRC servers do (ircd-hybrid, solanum, InspIRCd set TCP_NODELAY): a PONG is not
        // held back by Nagle's algorithm.
        let _ = s.set_nodelay(true);
        Conn::new(s)
    }
}

/// One accepted connection.
pub struct Conn<S> {
    io: BufReader<S>,
    pub received: Vec<String>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(s: S) -> Conn<S> {
        Conn {
            io: BufReader::new(s),
            received: Vec::new(),
        }
    }

    /// The underlying stream.
    pub fn io_ref(&self) -> &S {
        self.io.get_ref()
    }

    pub async fn send(&mut self, s: &str) {
        self.io.get_mut().write_all(s.as_bytes()).await.unwrap();
    }

    /// The next line (without CRLF); None at EOF or after `secs`.
    pub async fn line(&mut self, secs: u64) -> Option<String> {
        let mut line = String::new();
        match tokio::time::timeout(Duration::from_secs(secs), self.io.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {
                let l = line.trim_end_matches(['\r', '\n']).to_string();
                // Like a real server, answer the pacer's acknowledgement PINGs in order.
                if let Some(tok) = l.strip_prefix("PING :otrbnc-")
                    && tok.bytes().all(|b| b.is_ascii_digit())
                {
                    let pong = format!(":srv PONG srv :otrbnc-{tok}\r\n");
                    let _ = self.io.get_mut().write_all(pong.as_bytes()).await;
                }
                self.received.push(l.clone());
                Some(l)
            }
            _ => None,
        }
    }

    /// Reads until a line starts with `prefix`.
    pub async fn expect(&mut self, prefix: &str) -> String {
        loop {
            match self.line(10).await {
                Some(l) if l.starts_with(prefix) => return l,
                Some(_) => {}
                None => panic!("server never got {prefix:?}; got {:?}", self.received),
            }
        }
    }

    /// Waits for NICK and USER, then welcomes `nick`.
    pub async fn welcome(&mut self, nick: &str) {
        if !self.received.iter().any(|l| l.starts_with("USER ")) {
            self.expect("USER ").await;
        }
        self.send(&format!(
            ":srv 001 {nick} :Welcome {nick}!~u@host\r\n:srv 005 {nick} CASEMAPPING=ascii :are supported\r\n:srv 422 {nick} :No MOTD\r\n"
        ))
        .await;
    }
}
