//! A scripted SAM bridge: answers each command line as the test's script says, records what
//! it was sent, and hands the connection of an accepted `STREAM CONNECT` to the test (which
//! then plays the IRC server on it). Dropping it closes every connection, as a router
//! restart would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::fake::Conn;

/// What the mock does with one command line.
pub enum Act {
    /// Send this line (a `\n` is added).
    Reply(String),
    /// Say nothing (the client times out).
    Silent,
    /// Close the connection.
    Close,
    /// `STREAM STATUS RESULT=OK`, then the connection is the stream.
    Stream,
}

/// The script: called with each command line.
pub type Script = Arc<dyn Fn(&str) -> Act + Send + Sync>;

/// A running mock.
pub struct MockSam {
    pub port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    streams: mpsc::Receiver<TcpStream>,
    tasks: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for MockSam {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut t) = self.tasks.lock() {
            t.abort_all();
        }
    }
}

impl MockSam {
    /// Listens on a free port.
    pub async fn start(script: Script) -> MockSam {
        MockSam::start_on(0, script).await
    }

    /// Listens on `port` (0: any free port).
    pub async fn start_on(port: u16, script: Script) -> MockSam {
        // A mock dropped a moment ago may still hold the port until its task is reaped.
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", port)).await {
                Ok(l) => break l,
                Err(e) if tries < 50 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("mock SAM cannot listen on port {port}: {e}"),
            }
        };
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let (tx, streams) = mpsc::channel(8);
        let accept = {
            let seen = seen.clone();
            let tasks = tasks.clone();
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    let fut = serve(sock, script.clone(), seen.clone(), tx.clone());
                    tasks.lock().unwrap().spawn(fut);
                }
            })
        };
        MockSam {
            port,
            seen,
            streams,
            tasks,
            accept,
        }
    }

    /// Every command line received so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// How many received lines start with `prefix`.
    pub fn count(&self, prefix: &str) -> usize {
        self.seen().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// Waits until at least `n` lines starting with `prefix` were received.
    pub async fn wait_for(&self, prefix: &str, n: usize, secs: u64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while self.count(prefix) < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "mock SAM never got {n} × {prefix:?}; got {:#?}",
                self.seen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The next accepted stream, as an IRC connection.
    pub async fn stream(&mut self, secs: u64) -> Conn<TcpStream> {
        let s = tokio::time::timeout(Duration::from_secs(secs), self.streams.recv())
            .await
            .expect("no STREAM CONNECT was accepted in time")
            .unwrap();
        Conn::new(s)
    }
}

async fn serve(
    sock: TcpStream,
    script: Script,
    seen: Arc<Mutex<Vec<String>>>,
    streams: mpsc::Sender<TcpStream>,
) {
    let mut io = BufReader::new(sock);
    loop {
        let mut line = String::new();
        match io.read_line(&mut line).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
        let line = line.trim_end().to_string();
        seen.lock().unwrap().push(line.clone());
        match script(&line) {
            Act::Reply(r) => {
                if io
                    .get_mut()
                    .write_all(format!("{r}\n").as_bytes())
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Act::Silent => {}
            Act::Close => return,
            Act::Stream => {
                let mut sock = io.into_inner();
                if sock.write_all(b"STREAM STATUS RESULT=OK\n").await.is_ok() {
                    let _ = streams.send(sock).await;
                }
                return;
            }
        }
    }
}

/// I2P base64.
pub fn i2p_b64(bytes: &[u8]) -> String {
    let alphabet = base64::alphabet::Alphabet::new(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~",
    )
    .unwrap();
    base64::engine::GeneralPurpose::new(&alphabet, base64::engine::general_purpose::PAD)
        .encode(bytes)
}

/// A made-up destination: (public, private) in I2P base64. `seed` makes them differ.
pub fn destination(seed: u8) -> (String, String) {
    let mut public: Vec<u8> = (0..384u32).map(|i| (i as u8) ^ seed).collect();
    public.extend([5, 0, 4, 0, 7, 0, 0]); // key certificate: Ed25519, ElGamal
    let mut private = public.clone();
    private.extend(std::iter::repeat_n(seed, 256 + 32));
    (i2p_b64(&public), i2p_b64(&private))
}

/// A router that does everything right: sessions, lookups, streams.
pub fn happy(public: String, private: String) -> Script {
    Arc::new(move |line: &str| {
        let word = |n: usize| line.split(' ').nth(n).unwrap_or("").to_string();
        match (word(0).as_str(), word(1).as_str()) {
            ("HELLO", _) => Act::Reply("HELLO REPLY RESULT=OK VERSION=3.1".into()),
            ("SESSION", _) => Act::Reply(format!("SESSION STATUS RESULT=OK DESTINATION={private}")),
            ("NAMING", _) => Act::Reply(format!(
                "NAMING REPLY RESULT=OK NAME={} VALUE={public}",
                word(2).trim_start_matches("NAME=")
            )),
            ("STREAM", _) => Act::Stream,
            _ => Act::Reply("ERROR".into()),
        }
    })
}

/// Like `happy`, but `step` (the command's first word, e.g. "NAMING") gets `act` instead.
pub fn failing_at(step: &'static str, act: impl Fn() -> Act + Send + Sync + 'static) -> Script {
    let (public, private) = destination(1);
    let good = happy(public, private);
    Arc::new(move |line: &str| {
        if line.starts_with(step) {
            act()
        } else {
            good(line)
        }
    })
}
