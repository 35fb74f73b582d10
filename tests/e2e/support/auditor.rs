//! The wire auditor: a TCP relay between an upstream (otrbnc or a test client) and ngircd that
//! records every byte in both directions, per connection. It can also play a server that says
//! other things than ngircd: a [`Rewrite`] changes the server's lines before the upstream sees
//! them (the server is the adversary; what it says is all it can do).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

use super::client::Msg;
use super::{find, show};

/// What one relayed connection carried so far.
#[derive(Debug, Clone)]
pub struct ConnRecord {
    /// Sequence number (0 for the first accepted connection).
    pub id: usize,
    /// Bytes from the client (the upstream side of otrbnc) to the server.
    pub c2s: Vec<u8>,
    /// Bytes from the server to the client.
    pub s2c: Vec<u8>,
    /// Whether the relay is still running.
    pub open: bool,
    /// When it was accepted.
    pub accepted: Instant,
    /// Where the connection came from (the relay connects to the server from the same
    /// address, so the server's log names it too).
    pub peer: SocketAddr,
}

impl ConnRecord {
    /// Lines from client to server (each with its exact bytes, terminator included).
    pub fn lines_to_server(&self) -> Vec<Vec<u8>> {
        split_lines(&self.c2s)
    }

    /// Lines from server to client (each with its exact bytes, terminator included).
    pub fn lines_to_client(&self) -> Vec<Vec<u8>> {
        split_lines(&self.s2c)
    }
}

struct Conn {
    record: ConnRecord,
    live_pumps: u8,
    tasks: Vec<AbortHandle>,
}

#[derive(Default)]
struct State {
    conns: Vec<Conn>,
    refuse_new: bool,
    /// When each refused connection was accepted and closed.
    refused: Vec<Instant>,
}

/// Rewrites a line from the server: `(connection number, the line with its terminator)` →
/// the bytes to pass on instead (nothing: the line is dropped). The record keeps what was
/// passed on, which is what the upstream saw.
pub type Rewrite = Arc<dyn Fn(usize, &[u8]) -> Vec<u8> + Send + Sync>;

/// A recording relay. Dropping it stops the relay and closes every relayed connection.
pub struct Auditor {
    addr: SocketAddr,
    target: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_task: JoinHandle<()>,
    label: String,
}

/// Splits a byte stream into lines, each keeping its exact bytes including `\r\n` (or `\n`);
/// a trailing incomplete line is included as it is.
pub fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            out.push(bytes[start..=i].to_vec());
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push(bytes[start..].to_vec());
    }
    out
}

/// Connects to `target` from the same loopback address `peer` came from (any 127.x address
/// is local), so the server sees the real origin; from the default address otherwise.
async fn connect_from(peer: SocketAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    if peer.ip().is_loopback() && peer.is_ipv4() == target.is_ipv4() {
        let sock = if target.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if sock.bind(SocketAddr::new(peer.ip(), 0)).is_ok() {
            return sock.connect(target).await;
        }
    }
    TcpStream::connect(target).await
}

impl Auditor {
    /// Starts relaying `127.0.0.1:<free port>` to `target`.
    pub async fn start(target: SocketAddr) -> Auditor {
        Self::start_labeled(target, "auditor").await
    }

    /// Same, with a label used in failure messages.
    pub async fn start_labeled(target: SocketAddr, label: &str) -> Auditor {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), target, label).await
    }

    /// Relays `listen` (port 0: a free one) to `target`.
    pub async fn start_on(listen: SocketAddr, target: SocketAddr, label: &str) -> Auditor {
        Self::start_with(listen, target, label, None).await
    }

    /// Relays to `target` and passes the server's lines through `rewrite`.
    pub async fn start_rewriting(target: SocketAddr, label: &str, rewrite: Rewrite) -> Auditor {
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_with(listen, target, label, Some(rewrite)).await
    }

    async fn start_with(
        listen: SocketAddr,
        target: SocketAddr,
        label: &str,
        rewrite: Option<Rewrite>,
    ) -> Auditor {
        let listener = TcpListener::bind(listen)
            .await
            .unwrap_or_else(|e| panic!("{label}: bind {listen}: {e}"));
        let addr = listener.local_addr().expect("auditor: local_addr");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((client, peer)) = listener.accept().await else {
                    continue;
                };
                {
                    let mut g = st.lock().expect("auditor state");
                    if g.refuse_new {
                        g.refused.push(Instant::now());
                        drop(g);
                        drop(client);
                        continue;
                    }
                }
                let Ok(server) = connect_from(peer, target).await else {
                    drop(client);
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let mut guard = st.lock().expect("auditor state");
                let id = guard.conns.len();
                let t1 = tokio::spawn(pump(cr, sw, st.clone(), id, None));
                let t2 = tokio::spawn(pump(sr, cw, st.clone(), id, Some(rewrite.clone())));
                guard.conns.push(Conn {
                    record: ConnRecord {
                        id,
                        c2s: Vec::new(),
                        s2c: Vec::new(),
                        open: true,
                        accepted: Instant::now(),
                        peer,
                    },
                    live_pumps: 2,
                    tasks: vec![t1.abort_handle(), t2.abort_handle()],
                });
            }
        });
        Auditor {
            addr,
            target,
            state,
            accept_task,
            label: label.to_string(),
        }
    }

    /// The relay's listening address (give this to the upstream instead of the server's).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The relay's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Where it relays to.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// A snapshot of every connection so far.
    pub fn connections(&self) -> Vec<ConnRecord> {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().map(|c| c.record.clone()).collect()
    }

    /// Where each connection came from, in order.
    pub fn peers(&self) -> Vec<SocketAddr> {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().map(|c| c.record.peer).collect()
    }

    /// Number of connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.state.lock().expect("auditor state").conns.len()
    }

    /// Number of connections still open.
    pub fn open_count(&self) -> usize {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().filter(|c| c.record.open).count()
    }

    /// Everything sent towards the server, all connections concatenated.
    pub fn client_to_server(&self) -> Vec<u8> {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().flat_map(|c| c.record.c2s.clone()).collect()
    }

    /// Everything sent by the server, all connections concatenated.
    pub fn server_to_client(&self) -> Vec<u8> {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().flat_map(|c| c.record.s2c.clone()).collect()
    }

    /// Lines towards the server (exact bytes with their `\r\n`), connection by connection.
    pub fn lines_to_server(&self) -> Vec<Vec<u8>> {
        self.connections()
            .iter()
            .flat_map(ConnRecord::lines_to_server)
            .collect()
    }

    /// Lines from the server (exact bytes with their `\r\n`), connection by connection.
    pub fn lines_to_client(&self) -> Vec<Vec<u8>> {
        self.connections()
            .iter()
            .flat_map(ConnRecord::lines_to_client)
            .collect()
    }

    /// Parsed lines towards the server.
    pub fn msgs_to_server(&self) -> Vec<Msg> {
        self.lines_to_server()
            .iter()
            .filter_map(|l| Msg::parse(l))
            .collect()
    }

    /// Parsed lines from the server.
    pub fn msgs_to_client(&self) -> Vec<Msg> {
        self.lines_to_client()
            .iter()
            .filter_map(|l| Msg::parse(l))
            .collect()
    }

    /// Total bytes towards the server (a cheap "has anything new been sent" marker).
    pub fn c2s_len(&self) -> usize {
        let st = self.state.lock().expect("auditor state");
        st.conns.iter().map(|c| c.record.c2s.len()).sum()
    }

    /// The longest line towards the server, in bytes including its CRLF.
    pub fn max_line_len_to_server(&self) -> usize {
        self.lines_to_server()
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }

    /// The longest line towards the server and the line itself.
    pub fn longest_line_to_server(&self) -> Option<Vec<u8>> {
        self.lines_to_server().into_iter().max_by_key(Vec::len)
    }

    /// The first of `needles` found in either direction of any connection, described with
    /// the direction and the surrounding bytes.
    pub fn find_any(&self, needles: &[&[u8]]) -> Option<String> {
        for c in self.connections() {
            for (dir, bytes) in [("client→server", &c.c2s), ("server→client", &c.s2c)] {
                for needle in needles {
                    if let Some(pos) = find(bytes, needle) {
                        let from = pos.saturating_sub(120);
                        let to = (pos + needle.len() + 120).min(bytes.len());
                        return Some(format!(
                            "{}: plaintext {:?} found on the wire ({dir}, connection {}, offset {pos}); context:\n{}",
                            self.label,
                            show(needle, 200),
                            c.id,
                            show(&bytes[from..to], 600)
                        ));
                    }
                }
            }
        }
        None
    }

    /// Panics if any of `needles` occurs in either direction of any connection, naming the
    /// needle, the direction and the surrounding bytes.
    #[track_caller]
    pub fn assert_absent(&self, needles: &[&[u8]]) {
        if let Some(found) = self.find_any(needles) {
            panic!("{found}");
        }
    }

    /// Panics unless `needle` occurs in the client→server stream.
    #[track_caller]
    pub fn assert_sent(&self, needle: &[u8]) {
        let bytes = self.client_to_server();
        assert!(
            find(&bytes, needle).is_some(),
            "{}: {:?} was never sent to the server; last lines sent:\n{}",
            self.label,
            show(needle, 300),
            self.tail_to_server(20)
        );
    }

    /// The last `n` lines towards the server, readable (for failure messages).
    pub fn tail_to_server(&self, n: usize) -> String {
        tail_lines(&self.lines_to_server(), n)
    }

    /// The last `n` lines from the server, readable (for failure messages).
    pub fn tail_to_client(&self, n: usize) -> String {
        tail_lines(&self.lines_to_client(), n)
    }

    /// Polls until `pred` holds, or panics after `limit` naming `what`.
    pub async fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&Auditor) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred(self) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}\n{}",
                    self.label,
                    self.dump()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until no byte moved in either direction for `quiet` (at most `limit`).
    pub async fn wait_quiet(&self, quiet: Duration, limit: Duration) {
        let total = |a: &Auditor| {
            let st = a.state.lock().expect("auditor state");
            st.conns
                .iter()
                .map(|c| c.record.c2s.len() + c.record.s2c.len())
                .sum::<usize>()
        };
        let deadline = Instant::now() + limit;
        let mut last = total(self);
        let mut since = Instant::now();
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = total(self);
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Waits until the server sent a `001` on any connection (the upstream registered).
    pub async fn wait_registered(&self, limit: Duration) {
        self.wait_for(limit, "a 001 from the server", |a| a.registrations() >= 1)
            .await;
    }

    /// How many `001` numerics the server sent (one per registration).
    pub fn registrations(&self) -> usize {
        self.msgs_to_client()
            .iter()
            .filter(|m| m.command == "001")
            .count()
    }

    /// Closes every currently relayed connection at once (both sides), as a network break
    /// would. New connections are still accepted (see [`Auditor::refuse_new`]).
    pub fn cut(&self) {
        let mut st = self.state.lock().expect("auditor state");
        for c in st.conns.iter_mut().filter(|c| c.record.open) {
            for t in c.tasks.drain(..) {
                t.abort();
            }
            c.record.open = false;
            c.live_pumps = 0;
        }
    }

    /// While `true`, new connections are accepted and closed at once (the network is down).
    pub fn refuse_new(&self, refuse: bool) {
        self.state.lock().expect("auditor state").refuse_new = refuse;
    }

    /// When each connection refused so far came in.
    pub fn refused_at(&self) -> Vec<Instant> {
        self.state.lock().expect("auditor state").refused.clone()
    }

    fn dump(&self) -> String {
        let mut out = String::new();
        for c in self.connections() {
            out.push_str(&format!(
                "connection {} ({}), {} bytes up, {} bytes down; last lines up:\n{}\nlast lines down:\n{}\n",
                c.id,
                if c.open { "open" } else { "closed" },
                c.c2s.len(),
                c.s2c.len(),
                tail_lines(&c.lines_to_server(), 12),
                tail_lines(&c.lines_to_client(), 12),
            ));
        }
        out
    }
}

fn tail_lines(lines: &[Vec<u8>], n: usize) -> String {
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("  {}", show(l, 160)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Relays one direction: client to server when `server_side` is `None`, else server to
/// client through the optional rewrite.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: Arc<Mutex<State>>,
    id: usize,
    server_side: Option<Option<Rewrite>>,
) {
    let client_to_server = server_side.is_none();
    let rewrite = server_side.flatten();
    let mut buf = vec![0u8; 16 * 1024];
    // Bytes of a server line not complete yet (only with a rewrite).
    let mut pending = Vec::new();
    loop {
        let (n, eof) = match from.read(&mut buf).await {
            Ok(0) | Err(_) => (0, true),
            Ok(n) => (n, false),
        };
        let out = match &rewrite {
            None => buf[..n].to_vec(),
            Some(rw) => {
                pending.extend_from_slice(&buf[..n]);
                let mut out = Vec::new();
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    out.extend(rw(id, &line));
                }
                if eof {
                    out.append(&mut pending);
                }
                out
            }
        };
        {
            let mut st = state.lock().expect("auditor state");
            if let Some(c) = st.conns.get_mut(id) {
                let rec = if client_to_server {
                    &mut c.record.c2s
                } else {
                    &mut c.record.s2c
                };
                rec.extend_from_slice(&out);
            }
        }
        if to.write_all(&out).await.is_err() || eof {
            let _ = to.shutdown().await;
            break;
        }
    }
    let mut st = state.lock().expect("auditor state");
    if let Some(c) = st.conns.get_mut(id) {
        c.live_pumps = c.live_pumps.saturating_sub(1);
        if c.live_pumps == 0 {
            c.record.open = false;
        }
    }
}

impl Drop for Auditor {
    fn drop(&mut self) {
        self.accept_task.abort();
        if std::thread::panicking() {
            eprintln!(
                "--- {} ({} → {}) ---\n{}",
                self.label,
                self.addr,
                self.target,
                self.dump()
            );
        }
        self.cut();
    }
}
