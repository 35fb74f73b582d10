//! A hostile IRC server: a line-level man in the middle between one otrbnc and ngircd. It
//! passes lines through unless told to tamper, and then it can play a nick itself with its
//! own `otr_core::Account` and valid keys ("mallory": lines otrbnc sends to that nick go to
//! mallory, the real nick's lines are dropped), duplicate, reorder, drop or reflect OTR
//! lines, rewrite the case of a source nick, forge lines, cut the connection after a given
//! OTR line, and play the SASL part of a server (ngircd has none). It records every byte otrbnc sent (before any tampering: what a server
//! sees) so a test can prove no plaintext left, and every text mallory decrypted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otr_core::profile::{Fingerprint, LongTermKeys};
use otr_core::session::{Account, Event, Policy, Received};
use rand::rngs::StdRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::{AbortHandle, JoinHandle};

use super::client::Msg;
use super::{show, unix_ms};

/// The attacker's own OTR identity, playing `nick`.
pub struct Mallory {
    nick: String,
    /// Alongside the real nick: its lines pass and what otrbnc sends it goes to both.
    alongside: bool,
    account: Account,
    rng: StdRng,
    /// Texts mallory decrypted: the test's proof of what leaked to the attacker.
    pub decrypted: Vec<String>,
    /// Mallory's account events.
    pub events: Vec<Event>,
}

/// What the relay does to traffic (all off by default).
#[derive(Default)]
struct Script {
    /// Drop every line from this nick.
    silence: Option<String>,
    /// Deliver every PRIVMSG from this nick to otrbnc twice.
    duplicate_from: Option<String>,
    /// Deliver OTR fragments from this nick in swapped pairs.
    swap_from: Option<String>,
    swap_held: Option<Vec<u8>>,
    /// Deliver every OTR line otrbnc sends to this nick back to otrbnc, as from that nick.
    reflect_to: Option<String>,
    /// Rewrite the source nick of lines from the first nick to the second spelling.
    rename_source: Option<(String, String)>,
    /// Drop the n-th (1-based) OTR line from this nick to otrbnc.
    drop_nth_from: Option<(String, usize)>,
    otr_from_seen: usize,
    /// Cut the connection once otrbnc sent its n-th OTR line to this nick.
    cut_after_to: Option<(String, usize)>,
    otr_to_seen: usize,
    /// Play a SASL server (ngircd has none): add `sasl` to CAP LS, acknowledge its request
    /// and answer the credentials with this numeric (e.g. `904`).
    fake_sasl: Option<String>,
    /// Strip OTRv4+ (`P`) from this nick's query messages and whitespace tags (a downgrade).
    strip_v4_from: Option<String>,
    /// Swallow otrbnc's n-th (1-based) OTR line to this nick and answer it as ircd-hybrid and
    /// solanum do when a target is flooded: `*** Message to <nick> throttled due to flooding`.
    throttle_nth_to: Option<(String, usize)>,
    otr_throttle_seen: usize,
    /// The text of the line swallowed that way.
    throttled_text: Option<String>,
}

/// `text` with OTRv4+ removed from its query (`?OTRvP3?` → `?OTRv3?`) and whitespace tag
/// (the 8-byte group that spells `P`).
pub fn strip_v4(text: &str) -> String {
    const P_GROUP: &str = " \t \t    ";
    text.replace("?OTRvP", "?OTRv").replace(P_GROUP, "")
}

#[derive(Default)]
struct State {
    from_client: Vec<u8>,
    to_client: Vec<u8>,
    client_nick: String,
    mallory: Option<Mallory>,
    script: Script,
    client_tx: Option<UnboundedSender<Vec<u8>>>,
    tasks: Vec<AbortHandle>,
    connections: usize,
    /// Connections (numbered from 1) whose traffic is swallowed both ways, sockets open.
    black_holed: Vec<usize>,
}

/// The relay. Dropping it closes everything.
pub struct Hostile {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    accept_task: JoinHandle<()>,
}

fn is_otr(text: &str) -> bool {
    text.contains("?OTR")
}

/// Whether an OTR fragment (`?OTR|s|r,k,n,…`) is the last of its message.
fn is_last_fragment(text: &str) -> bool {
    let parts: Vec<&str> = text.split(',').collect();
    parts.len() > 3 && parts[1] == parts[2]
}

fn privmsg_line(from: &str, to: &str, text: &str) -> Vec<u8> {
    format!(":{from}!{from}@hostile.invalid PRIVMSG {to} :{text}\r\n").into_bytes()
}

impl Hostile {
    /// Starts relaying a free loopback port to `server`.
    pub async fn start(server: SocketAddr) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("hostile: bind");
        let addr = listener.local_addr().expect("hostile: local_addr");
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let accept_task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(server) = TcpStream::connect(server).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let (ctx, crx) = unbounded_channel::<Vec<u8>>();
                let (stx, srx) = unbounded_channel::<Vec<u8>>();
                let client_writer = tokio::spawn(write_all_from(crx, cw));
                let server_writer = tokio::spawn(write_all_from(srx, sw));
                let conn_no = st.lock().expect("hostile state").connections + 1;
                // A side that ends closes the other side's writer, so the end is seen.
                let (end_server, end_client) =
                    (server_writer.abort_handle(), client_writer.abort_handle());
                let (st_up, stx_up, ctx_up) = (st.clone(), stx.clone(), ctx.clone());
                let up = tokio::spawn(async move {
                    let cut = for_each_line(cr, |line| {
                        if is_black_holed(&st_up, conn_no) {
                            return true;
                        }
                        let (to_server, to_client, cut) = on_client_line(&st_up, &line);
                        for l in to_server {
                            let _ = stx_up.send(l);
                        }
                        for l in to_client {
                            deliver(&st_up, &ctx_up, l);
                        }
                        !cut
                    })
                    .await;
                    if cut {
                        cut_all(&st_up);
                    } else {
                        end_server.abort();
                    }
                });
                let (st_down, ctx_down) = (st.clone(), ctx.clone());
                let down = tokio::spawn(async move {
                    for_each_line(sr, |line| {
                        if !is_black_holed(&st_down, conn_no) {
                            for l in on_server_line(&st_down, &line) {
                                deliver(&st_down, &ctx_down, l);
                            }
                        }
                        true
                    })
                    .await;
                    end_client.abort();
                });
                let mut g = st.lock().expect("hostile state");
                g.connections += 1;
                g.client_tx = Some(ctx);
                g.tasks = vec![
                    up.abort_handle(),
                    down.abort_handle(),
                    client_writer.abort_handle(),
                    server_writer.abort_handle(),
                ];
            }
        });
        Hostile {
            addr,
            state,
            accept_task,
        }
    }

    /// Where otrbnc should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("hostile state")
    }

    /// From now on the relay plays `nick` with its own fresh keys: what otrbnc sends to
    /// `nick` goes to mallory's account; the real `nick`'s lines are dropped. Returns
    /// mallory's fingerprint.
    pub fn impersonate(&self, nick: &str) -> Fingerprint {
        self.play(nick, false)
    }

    /// Like [`Hostile::impersonate`], but the real nick is not silenced: mallory injects
    /// its own lines under the nick and gets a copy of everything otrbnc sends to it.
    pub fn impersonate_alongside(&self, nick: &str) -> Fingerprint {
        self.play(nick, true)
    }

    fn play(&self, nick: &str, alongside: bool) -> Fingerprint {
        let mut rng: StdRng = rand::make_rng();
        let keys = LongTermKeys::generate(&mut rng).expect("mallory keys");
        let tag = 0x2000 + u32::from(rand::random::<u16>());
        let account = Account::new(keys, tag, Policy::default(), unix_ms()).expect("mallory");
        let fp = account.fingerprint();
        let mut g = self.lock();
        let mut m = Mallory {
            nick: nick.to_string(),
            alongside,
            account,
            rng,
            decrypted: Vec::new(),
            events: Vec::new(),
        };
        let client = g.client_nick.to_ascii_lowercase();
        m.account.set_auto_respond(&client, true);
        g.mallory = Some(m);
        fp
    }

    /// Mallory starts a handshake with otrbnc's user.
    pub fn mallory_start(&self) {
        let lines = {
            let mut g = self.lock();
            let client = g.client_nick.clone();
            let Some(m) = g.mallory.as_mut() else {
                panic!("hostile: no impersonation running");
            };
            let now = unix_ms();
            m.account
                .start(now, &mut m.rng, &client.to_ascii_lowercase());
            mallory_flush(m, &client)
        };
        self.inject_all(lines);
    }

    /// What mallory decrypted so far.
    pub fn mallory_decrypted(&self) -> Vec<String> {
        self.lock()
            .mallory
            .as_ref()
            .map(|m| m.decrypted.clone())
            .unwrap_or_default()
    }

    /// Mallory's events so far.
    pub fn mallory_events(&self) -> Vec<Event> {
        self.lock()
            .mallory
            .as_ref()
            .map(|m| m.events.clone())
            .unwrap_or_default()
    }

    /// Drops every line from `nick` (`None`: none).
    pub fn silence(&self, nick: Option<&str>) {
        self.lock().script.silence = nick.map(str::to_string);
    }

    /// Delivers every PRIVMSG from `nick` twice.
    pub fn duplicate_from(&self, nick: &str) {
        self.lock().script.duplicate_from = Some(nick.to_string());
    }

    /// Delivers OTR fragments from `nick` in swapped pairs.
    pub fn swap_fragments_from(&self, nick: &str) {
        self.lock().script.swap_from = Some(nick.to_string());
    }

    /// Sends every OTR line otrbnc addresses to `nick` back to otrbnc, as from `nick`.
    pub fn reflect_to(&self, nick: &str) {
        self.lock().script.reflect_to = Some(nick.to_string());
    }

    /// Rewrites `nick` as `spelling` in the source of every line from it.
    pub fn rename_source(&self, nick: &str, spelling: &str) {
        self.lock().script.rename_source = Some((nick.to_string(), spelling.to_string()));
    }

    /// Drops the `n`-th (1-based) OTR line from `nick` to otrbnc.
    pub fn drop_nth_otr_from(&self, nick: &str, n: usize) {
        let mut g = self.lock();
        g.script.drop_nth_from = Some((nick.to_string(), n));
        g.script.otr_from_seen = 0;
    }

    /// Cuts the connection once otrbnc has sent its `n`-th OTR line to `nick` (that line is
    /// not forwarded).
    pub fn cut_after_otr_to(&self, nick: &str, n: usize) {
        let mut g = self.lock();
        g.script.cut_after_to = Some((nick.to_string(), n));
        g.script.otr_to_seen = 0;
    }

    /// From now on the current connection carries nothing either way, its sockets left open
    /// (a dead NAT mapping, a suspended laptop's link); new connections pass normally.
    pub fn black_hole(&self) {
        let mut g = self.lock();
        let n = g.connections;
        g.black_holed.push(n);
    }

    /// Plays a SASL server in front of ngircd (which has none): `sasl` is added to the
    /// server's `CAP LS`, `CAP REQ :sasl` is acknowledged and `AUTHENTICATE` answered here,
    /// the credentials with `numeric` (`904`: wrong password, `903`: success). Nothing of
    /// the exchange reaches ngircd.
    pub fn fake_sasl(&self, numeric: &str) {
        self.lock().script.fake_sasl = Some(numeric.to_string());
    }

    /// Swallows otrbnc's `n`-th (1-based) OTR line to `nick` and answers it with the
    /// "throttled due to flooding" notice of ircd-hybrid and solanum (a per-target drop).
    pub fn throttle_nth_otr_to(&self, nick: &str, n: usize) {
        let mut g = self.lock();
        g.script.throttle_nth_to = Some((nick.to_string(), n));
        g.script.otr_throttle_seen = 0;
        g.script.throttled_text = None;
    }

    /// The text of the line [`Hostile::throttle_nth_otr_to`] swallowed, once it has.
    pub fn throttled_text(&self) -> Option<String> {
        self.lock().script.throttled_text.clone()
    }

    /// Strips OTRv4+ from `nick`'s offers (queries and whitespace tags) to otrbnc.
    pub fn strip_v4_from(&self, nick: &str) {
        self.lock().script.strip_v4_from = Some(nick.to_string());
    }

    /// Stops every tampering (mallory stays, silent).
    pub fn behave(&self) {
        let mut g = self.lock();
        g.script = Script::default();
        g.mallory = None;
    }

    /// Sends a raw line to otrbnc as if the server said it.
    pub fn inject(&self, line: &str) {
        self.inject_all(vec![format!("{line}\r\n").into_bytes()]);
    }

    /// Sends raw lines to otrbnc as if the server said them, in one go.
    pub fn inject_many(&self, lines: impl IntoIterator<Item = String>) {
        let tx = self
            .lock()
            .client_tx
            .clone()
            .expect("hostile: no connection");
        // Not recorded: a flood would only bloat the record.
        for l in lines {
            let _ = tx.send(format!("{l}\r\n").into_bytes());
        }
    }

    fn inject_all(&self, lines: Vec<Vec<u8>>) {
        let tx = self
            .lock()
            .client_tx
            .clone()
            .expect("hostile: no connection");
        for l in lines {
            deliver(&self.state, &tx, l);
        }
    }

    /// Every byte otrbnc sent (before tampering).
    pub fn sent_by_otrbnc(&self) -> Vec<u8> {
        self.lock().from_client.clone()
    }

    /// Asserts that none of `needles` left otrbnc (in any line, to anyone) and that
    /// mallory decrypted none of them.
    #[track_caller]
    pub fn assert_never_leaked(&self, needles: &[&str]) {
        let g = self.lock();
        let sent = String::from_utf8_lossy(&g.from_client);
        let decrypted = g.mallory.as_ref().map(|m| m.decrypted.clone());
        for n in needles {
            assert!(
                !sent.contains(n),
                "{n:?} left otrbnc in clear: {}",
                show(&g.from_client, 2000)
            );
            if let Some(d) = &decrypted {
                assert!(
                    !d.iter().any(|t| t.contains(n)),
                    "mallory decrypted {n:?}: {d:?}"
                );
            }
        }
    }

    /// Waits until mallory decrypted `text`; panics after `limit`.
    pub async fn expect_mallory_got(&self, text: &str, limit: Duration) {
        let start = std::time::Instant::now();
        while !self.mallory_decrypted().iter().any(|t| t == text) {
            assert!(
                start.elapsed() < limit,
                "mallory did not decrypt {text:?} in {limit:?}; got {:?}; events {:?}",
                self.mallory_decrypted(),
                self.mallory_events()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.accept_task.abort();
        cut_all(&self.state);
    }
}

/// Writes what arrives on `rx` to `to` until either ends, then closes `to`.
async fn write_all_from(mut rx: UnboundedReceiver<Vec<u8>>, mut to: OwnedWriteHalf) {
    while let Some(b) = rx.recv().await {
        if to.write_all(&b).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// Hands each line read from `from` (terminator included) to `each` until the stream ends
/// or `each` says stop. Returns whether `each` stopped it.
async fn for_each_line(mut from: OwnedReadHalf, mut each: impl FnMut(Vec<u8>) -> bool) -> bool {
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending = Vec::new();
    while let Ok(n) = from.read(&mut buf).await {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        while let Some(i) = pending.iter().position(|b| *b == b'\n') {
            if !each(pending.drain(..=i).collect()) {
                return true;
            }
        }
    }
    false
}

fn is_black_holed(state: &Arc<Mutex<State>>, conn: usize) -> bool {
    state
        .lock()
        .expect("hostile state")
        .black_holed
        .contains(&conn)
}

fn cut_all(state: &Arc<Mutex<State>>) {
    let mut g = state.lock().expect("hostile state");
    for t in g.tasks.drain(..) {
        t.abort();
    }
    g.client_tx = None;
}

fn deliver(state: &Arc<Mutex<State>>, tx: &UnboundedSender<Vec<u8>>, line: Vec<u8>) {
    state
        .lock()
        .expect("hostile state")
        .to_client
        .extend_from_slice(&line);
    let _ = tx.send(line);
}

/// Mallory's pending transmits as lines to otrbnc; its events recorded.
fn mallory_flush(m: &mut Mallory, client: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(t) = m.account.poll_transmit() {
        out.push(privmsg_line(&m.nick, client, &t.line));
    }
    while let Some(e) = m.account.poll_event() {
        m.events.push(e);
    }
    out
}

/// One line from otrbnc: (lines for the server, lines for otrbnc, cut now).
fn on_client_line(state: &Arc<Mutex<State>>, line: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, bool) {
    let mut g = state.lock().expect("hostile state");
    g.from_client.extend_from_slice(line);
    let Some(msg) = Msg::parse(line) else {
        return (vec![line.to_vec()], Vec::new(), false);
    };
    if msg.command == "NICK" && g.client_nick.is_empty() {
        g.client_nick = msg.param(0).to_string();
    }
    if let Some(numeric) = g.script.fake_sasl.clone()
        && let Some(reply) = fake_sasl_reply(&msg, &numeric)
    {
        return (Vec::new(), reply, false);
    }
    if msg.command != "PRIVMSG" {
        return (vec![line.to_vec()], Vec::new(), false);
    }
    let target = msg.target().to_string();
    let text = msg.text().to_string();
    let client = g.client_nick.clone();
    let mut to_client = Vec::new();
    if is_otr(&text) {
        if let Some((nick, n)) = g.script.throttle_nth_to.clone()
            && target.eq_ignore_ascii_case(&nick)
        {
            g.script.otr_throttle_seen += 1;
            if g.script.otr_throttle_seen == n {
                g.script.throttled_text = Some(text.clone());
                // The notice must come in order with the server's other replies, as from a
                // server that parsed the line: a PING goes in its place and its PONG is
                // turned into the notice on the way back.
                let marker = format!("PING :{THROTTLE_MARKER}{target}\r\n");
                return (vec![marker.into_bytes()], Vec::new(), false);
            }
        }
        if let Some((nick, n)) = g.script.cut_after_to.clone()
            && target.eq_ignore_ascii_case(&nick)
        {
            g.script.otr_to_seen += 1;
            if g.script.otr_to_seen >= n {
                g.script.cut_after_to = None;
                return (Vec::new(), Vec::new(), true);
            }
        }
        if g.script
            .reflect_to
            .as_ref()
            .is_some_and(|n| target.eq_ignore_ascii_case(n))
        {
            to_client.push(privmsg_line(&target, &client, &text));
        }
    }
    if let Some(m) = g.mallory.as_mut()
        && target.eq_ignore_ascii_case(&m.nick)
    {
        let from = client.to_ascii_lowercase();
        let got = m
            .account
            .handle_incoming(unix_ms(), &mut m.rng, &from, &text);
        if let Received::Message { text } = got {
            m.decrypted.push(text);
        }
        to_client.extend(mallory_flush(m, &client));
        let to_server = if m.alongside {
            vec![line.to_vec()]
        } else {
            Vec::new()
        };
        return (to_server, to_client, false);
    }
    (vec![line.to_vec()], to_client, false)
}

/// The fake SASL server's answer to a line from otrbnc, when the line is part of SASL.
fn fake_sasl_reply(msg: &Msg, numeric: &str) -> Option<Vec<Vec<u8>>> {
    let line = |s: String| format!(":{} {s}\r\n", super::ngircd::SERVER_NAME).into_bytes();
    match msg.command.as_str() {
        // otrbnc asks for what the server offers along with sasl: all are granted (the real
        // server behind never hears of them, and sends what it sends without).
        "CAP"
            if msg.param(0).eq_ignore_ascii_case("REQ")
                && msg.text().split(' ').any(|c| c == "sasl") =>
        {
            Some(vec![line(format!("CAP * ACK :{}", msg.text()))])
        }
        "AUTHENTICATE" if msg.param(0) == "PLAIN" => Some(vec![b"AUTHENTICATE +\r\n".to_vec()]),
        "AUTHENTICATE" => {
            let text = if numeric == "903" {
                "SASL authentication successful"
            } else {
                "SASL authentication failed"
            };
            Some(vec![line(format!("{numeric} * :{text}"))])
        }
        _ => None,
    }
}

/// The PING token that stands for a swallowed line (see `throttle_nth_to`).
const THROTTLE_MARKER: &str = "hostile-throttle-";

/// One line from the server: the lines otrbnc gets for it.
fn on_server_line(state: &Arc<Mutex<State>>, line: &[u8]) -> Vec<Vec<u8>> {
    let mut g = state.lock().expect("hostile state");
    let Some(msg) = Msg::parse(line) else {
        return vec![line.to_vec()];
    };
    if msg.command == "PONG"
        && let Some(target) = msg.text().strip_prefix(THROTTLE_MARKER)
    {
        let notice = format!(
            ":{} NOTICE {} :*** Message to {target} throttled due to flooding\r\n",
            super::ngircd::SERVER_NAME,
            g.client_nick
        );
        return vec![notice.into_bytes()];
    }
    if g.script.fake_sasl.is_some()
        && msg.command == "CAP"
        && msg.param(1).eq_ignore_ascii_case("LS")
    {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\r', '\n']);
        return vec![format!("{text} sasl\r\n").into_bytes()];
    }
    if msg.command == "001" {
        g.client_nick = msg.param(0).to_string();
    }
    let from = msg.nick().unwrap_or_default().to_string();
    if g.script
        .silence
        .as_ref()
        .is_some_and(|n| from.eq_ignore_ascii_case(n))
    {
        return Vec::new();
    }
    if g.mallory
        .as_ref()
        .is_some_and(|m| !m.alongside && from.eq_ignore_ascii_case(&m.nick))
    {
        // The real nick is silenced while mallory plays it.
        return Vec::new();
    }
    if msg.command != "PRIVMSG" {
        return vec![line.to_vec()];
    }
    let text = msg.text().to_string();
    let mut line = line.to_vec();
    if let Some((nick, spelling)) = &g.script.rename_source
        && from.eq_ignore_ascii_case(nick)
    {
        let s = String::from_utf8_lossy(&line).replacen(
            &format!(":{from}!"),
            &format!(":{spelling}!"),
            1,
        );
        line = s.into_bytes();
    }
    if let Some(nick) = &g.script.strip_v4_from
        && from.eq_ignore_ascii_case(nick)
    {
        let stripped = strip_v4(&text);
        if stripped != text {
            return vec![privmsg_line(&from, msg.param(0), &stripped)];
        }
    }
    if is_otr(&text) {
        if let Some((nick, n)) = g.script.drop_nth_from.clone()
            && from.eq_ignore_ascii_case(&nick)
        {
            g.script.otr_from_seen += 1;
            if g.script.otr_from_seen == n {
                return Vec::new();
            }
        }
        if g.script
            .swap_from
            .as_ref()
            .is_some_and(|n| from.eq_ignore_ascii_case(n))
            && text.starts_with("?OTR|")
        {
            return match g.script.swap_held.take() {
                Some(first) => vec![line, first],
                // The last piece of a message is not held: nothing may come after it.
                None if is_last_fragment(&text) => vec![line],
                None => {
                    g.script.swap_held = Some(line);
                    Vec::new()
                }
            };
        }
    }
    if g.script
        .duplicate_from
        .as_ref()
        .is_some_and(|n| from.eq_ignore_ascii_case(n))
    {
        return vec![line.clone(), line];
    }
    vec![line]
}
