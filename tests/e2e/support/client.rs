//! A scripted IRC client: registers (optionally negotiating capabilities), sends lines,
//! and waits for lines matching predicates. Every received line is kept with its exact bytes.
//! `PING` is answered with `PONG` automatically, in the background.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::show;

/// One received (or recorded) IRC line: the exact bytes and a parsed view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// The exact bytes, including the line terminator when there was one.
    pub raw: Vec<u8>,
    /// IRCv3 tags, unparsed (without the leading `@`).
    pub tags: Option<String>,
    /// The source (`nick!user@host` or a server name), without the leading `:`.
    pub prefix: Option<String>,
    /// The command or numeric, as sent (upper-cased for comparison).
    pub command: String,
    /// The parameters; the trailing one without its `:`.
    pub params: Vec<String>,
}

impl Msg {
    /// Parses one line (with or without its terminator). `None` for an empty line.
    pub fn parse(raw: &[u8]) -> Option<Msg> {
        let mut body = raw;
        while let Some((last, rest)) = body.split_last() {
            if *last == b'\n' || *last == b'\r' {
                body = rest;
            } else {
                break;
            }
        }
        let text = String::from_utf8_lossy(body).into_owned();
        let mut rest: &str = &text;
        let mut tags = None;
        if let Some(r) = rest.strip_prefix('@') {
            let (t, r) = r.split_once(' ').unwrap_or((r, ""));
            tags = Some(t.to_string());
            rest = r.trim_start_matches(' ');
        }
        let mut prefix = None;
        if let Some(r) = rest.strip_prefix(':') {
            let (p, r) = r.split_once(' ').unwrap_or((r, ""));
            prefix = Some(p.to_string());
            rest = r.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p.to_string());
            rest = r;
        }
        Some(Msg {
            raw: raw.to_vec(),
            tags,
            prefix,
            command: command.to_ascii_uppercase(),
            params,
        })
    }

    /// The source nick (the prefix up to `!`), if any.
    pub fn nick(&self) -> Option<&str> {
        let p = self.prefix.as_deref()?;
        Some(p.split_once('!').map_or(p, |(n, _)| n))
    }

    /// Whether the source nick is `nick` (ASCII case-insensitive).
    pub fn is_from(&self, nick: &str) -> bool {
        self.nick().is_some_and(|n| n.eq_ignore_ascii_case(nick))
    }

    /// The first parameter (the target of a PRIVMSG), or "".
    pub fn target(&self) -> &str {
        self.params.first().map_or("", String::as_str)
    }

    /// The last parameter (the text of a PRIVMSG), or "".
    pub fn text(&self) -> &str {
        self.params.last().map_or("", String::as_str)
    }

    /// The parameter at `i`, or "".
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// The line without its terminator (lossy UTF-8).
    pub fn line(&self) -> String {
        let s = String::from_utf8_lossy(&self.raw);
        s.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Whether this is a PRIVMSG from `nick`.
    pub fn is_privmsg_from(&self, nick: &str) -> bool {
        self.command == "PRIVMSG" && self.is_from(nick)
    }

    /// Whether this is a reply from the bouncer's `*otr` control nick.
    pub fn is_otr_control(&self) -> bool {
        (self.command == "PRIVMSG" || self.command == "NOTICE") && self.is_from("*otr")
    }
}

impl std::fmt::Display for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&show(&self.raw, 300))
    }
}

/// How capability negotiation is ordered during registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapStyle {
    /// As irssi, WeeChat and HexChat do: `CAP LS 302`, `PASS`, `NICK`, `USER` at once, then
    /// `CAP REQ` after the LS reply, `CAP END` after ACK/NAK.
    #[default]
    Pipelined,
    /// `CAP LS 302`, wait, `CAP REQ`, wait, `CAP END`, then `PASS`, `NICK`, `USER`.
    Strict,
}

/// Registration parameters.
#[derive(Debug, Clone)]
pub struct Login {
    /// `PASS` (none: not sent).
    pub pass: Option<String>,
    /// Nick.
    pub nick: String,
    /// User name.
    pub user: String,
    /// Real name.
    pub realname: String,
    /// Capabilities to request (only those the server lists are requested). Empty: no `CAP`
    /// at all.
    pub caps: Vec<String>,
    /// Ordering of the capability negotiation.
    pub cap_style: CapStyle,
    /// How long to wait for `001`.
    pub timeout: Duration,
    /// Wait for `001` before returning (a bouncer whose upstream is not registered yet
    /// sends it only later, or never).
    pub wait_welcome: bool,
}

impl Login {
    /// A login with the given nick (user name and real name derived from it).
    pub fn new(pass: Option<&str>, nick: &str) -> Login {
        Login {
            pass: pass.map(str::to_string),
            nick: nick.to_string(),
            user: nick.to_string(),
            realname: format!("{nick} (e2e)"),
            caps: Vec::new(),
            cap_style: CapStyle::default(),
            timeout: Duration::from_secs(30),
            wait_welcome: true,
        }
    }

    /// Returns as soon as the registration is sent, without waiting for `001`.
    pub fn no_welcome(mut self) -> Login {
        self.wait_welcome = false;
        self
    }

    /// With capabilities to request.
    pub fn caps(mut self, caps: &[&str]) -> Login {
        self.caps = caps.iter().map(|c| c.to_string()).collect();
        self
    }

    /// With a capability negotiation order.
    pub fn cap_style(mut self, style: CapStyle) -> Login {
        self.cap_style = style;
        self
    }
}

/// A connected, registered client.
pub struct Client {
    label: String,
    nick: String,
    rx: mpsc::UnboundedReceiver<Msg>,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    log: Arc<Mutex<Vec<Msg>>>,
    sent: Arc<Mutex<Vec<String>>>,
    reader: JoinHandle<()>,
    caps: Vec<String>,
    registration: Vec<Msg>,
}

impl Client {
    /// Connects and registers: optional capability negotiation (only when `caps` is not
    /// empty), `PASS` (when given), `NICK`, `USER`; waits for `001` (30 s).
    pub async fn connect(
        addr: SocketAddr,
        pass: Option<&str>,
        nick: &str,
        user: &str,
        caps: &[&str],
    ) -> Client {
        let mut login = Login::new(pass, nick).caps(caps);
        login.user = user.to_string();
        Self::connect_with(addr, login).await
    }

    /// Connects and registers with full control over the login.
    pub async fn connect_with(addr: SocketAddr, login: Login) -> Client {
        let label = format!("client {} → {addr}", login.nick);
        let mut c = Self::open(addr, &label).await;
        c.nick = login.nick.clone();
        let mut creds = Vec::new();
        if let Some(p) = &login.pass {
            creds.push(format!("PASS {p}"));
        }
        creds.push(format!("NICK {}", login.nick));
        creds.push(format!("USER {} 0 * :{}", login.user, login.realname));
        if login.caps.is_empty() {
            for l in &creds {
                c.send_raw(l).await;
            }
        } else {
            c.send_raw("CAP LS 302").await;
            if login.cap_style == CapStyle::Pipelined {
                for l in &creds {
                    c.send_raw(l).await;
                }
            }
            let offered = c.read_cap_ls(login.timeout).await;
            let wanted: Vec<String> = login
                .caps
                .iter()
                .filter(|w| offered.iter().any(|o| o.eq_ignore_ascii_case(w)))
                .cloned()
                .collect();
            if !wanted.is_empty() {
                c.send_raw(&format!("CAP REQ :{}", wanted.join(" "))).await;
                let reply = c
                    .expect_desc(login.timeout, "CAP ACK or NAK", |m| {
                        m.command == "CAP"
                            && (m.param(1).eq_ignore_ascii_case("ACK")
                                || m.param(1).eq_ignore_ascii_case("NAK"))
                    })
                    .await;
                if reply.param(1).eq_ignore_ascii_case("ACK") {
                    c.caps = reply
                        .text()
                        .split_whitespace()
                        .map(|s| s.trim_start_matches('-').to_string())
                        .collect();
                }
            }
            c.send_raw("CAP END").await;
            if login.cap_style == CapStyle::Strict {
                for l in &creds {
                    c.send_raw(l).await;
                }
            }
        }
        if !login.wait_welcome {
            return c;
        }
        let welcome = c
            .expect_desc(login.timeout, "001 (registration)", |m| {
                matches!(
                    m.command.as_str(),
                    "001" | "432" | "433" | "436" | "464" | "465" | "ERROR"
                )
            })
            .await;
        if welcome.command != "001" {
            panic!(
                "{}: registration refused: {welcome}\nreceived so far:\n{}",
                c.label,
                c.tail(20)
            );
        }
        if !welcome.target().is_empty() {
            c.nick = welcome.target().to_string();
        }
        c.label = format!("client {} → {addr}", c.nick);
        c.registration = c.log();
        c
    }

    /// Connects, sends `PASS` (when given), `NICK` and `USER` and expects to be refused:
    /// returns every line received before the server closed the connection. Panics if the
    /// registration succeeds (`001`) or the connection is not closed within 15 s.
    pub async fn connect_expect_refused(
        addr: SocketAddr,
        pass: Option<&str>,
        nick: &str,
        user: &str,
    ) -> Vec<Msg> {
        let label = format!("refused client {nick} → {addr}");
        let mut c = Self::open(addr, &label).await;
        if let Some(p) = pass {
            c.send_raw(&format!("PASS {p}")).await;
        }
        c.send_raw(&format!("NICK {nick}")).await;
        c.send_raw(&format!("USER {user} 0 * :{user}")).await;
        let got = c.wait_closed(Duration::from_secs(15)).await;
        if let Some(m) = got.iter().find(|m| m.command == "001") {
            panic!("{label}: expected a refusal, but registration succeeded: {m}");
        }
        got
    }

    async fn open(addr: SocketAddr, label: &str) -> Client {
        let stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("{label}: connect timed out"))
            .unwrap_or_else(|e| panic!("{label}: connect: {e}"));
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let writer = Arc::new(tokio::sync::Mutex::new(w));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_loop(r, writer.clone(), log.clone(), tx));
        Client {
            label: label.to_string(),
            nick: String::new(),
            rx,
            writer,
            log,
            sent: Arc::new(Mutex::new(Vec::new())),
            reader,
            caps: Vec::new(),
            registration: Vec::new(),
        }
    }

    async fn read_cap_ls(&mut self, limit: Duration) -> Vec<String> {
        let mut offered = Vec::new();
        loop {
            let m = self
                .expect_desc(limit, "CAP LS reply", |m| {
                    m.command == "CAP" && m.param(1).eq_ignore_ascii_case("LS")
                })
                .await;
            offered.extend(
                m.text()
                    .split_whitespace()
                    .map(|c| c.split_once('=').map_or(c, |(n, _)| n).to_string()),
            );
            // `CAP * LS * :...` announces a continuation line.
            if !(m.params.len() >= 4 && m.param(2) == "*") {
                return offered;
            }
        }
    }

    /// The nick the server registered us with (from `001`).
    pub fn nick(&self) -> &str {
        &self.nick
    }

    /// A label for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Capabilities acknowledged during registration.
    pub fn caps(&self) -> &[String] {
        &self.caps
    }

    /// Whether `cap` was acknowledged.
    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Lines received up to and including `001`.
    pub fn registration(&self) -> &[Msg] {
        &self.registration
    }

    /// Sends one line (`\r\n` is appended).
    pub async fn send_raw(&self, line: &str) {
        self.send_bytes(format!("{line}\r\n").as_bytes()).await;
    }

    /// Sends exact bytes (nothing appended).
    pub async fn send_bytes(&self, bytes: &[u8]) {
        self.sent
            .lock()
            .expect("sent log")
            .push(String::from_utf8_lossy(bytes).into_owned());
        let mut w = self.writer.lock().await;
        w.write_all(bytes)
            .await
            .unwrap_or_else(|e| panic!("{}: write failed: {e}", self.label));
    }

    /// `PRIVMSG target :text`.
    pub async fn privmsg(&self, target: &str, text: &str) {
        self.send_raw(&format!("PRIVMSG {target} :{text}")).await;
    }

    /// `/me`: `PRIVMSG target :\x01ACTION text\x01`.
    pub async fn action(&self, target: &str, text: &str) {
        self.send_raw(&format!("PRIVMSG {target} :\x01ACTION {text}\x01"))
            .await;
    }

    /// `NOTICE target :text`.
    pub async fn notice(&self, target: &str, text: &str) {
        self.send_raw(&format!("NOTICE {target} :{text}")).await;
    }

    /// A command to the bouncer: `PRIVMSG *otr :command`.
    pub async fn otr(&self, command: &str) {
        self.privmsg("*otr", command).await;
    }

    /// `QUIT :message`.
    pub async fn quit(&self, message: &str) {
        self.send_raw(&format!("QUIT :{message}")).await;
    }

    /// Waits for a line matching `pred` (other lines are consumed and stay in the log).
    /// Panics on timeout or when the connection closes, showing the last lines received.
    pub async fn expect(&mut self, limit: Duration, pred: impl FnMut(&Msg) -> bool) -> Msg {
        self.expect_desc(limit, "a matching line", pred).await
    }

    /// [`Client::expect`] with a description for the failure message.
    pub async fn expect_desc(
        &mut self,
        limit: Duration,
        what: &str,
        mut pred: impl FnMut(&Msg) -> bool,
    ) -> Msg {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => {
                    if pred(&m) {
                        return m;
                    }
                }
                Ok(None) => panic!(
                    "{}: connection closed while waiting for {what}; last lines received:\n{}\nlast lines sent:\n{}",
                    self.label,
                    self.tail(30),
                    self.sent_tail(10)
                ),
                Err(_) => panic!(
                    "{}: timed out after {limit:?} waiting for {what}; last lines received:\n{}\nlast lines sent:\n{}",
                    self.label,
                    self.tail(30),
                    self.sent_tail(10)
                ),
            }
        }
    }

    /// Like [`Client::expect_desc`] but returns `None` on timeout instead of panicking (still
    /// panics if the connection closes).
    pub async fn try_expect(
        &mut self,
        limit: Duration,
        mut pred: impl FnMut(&Msg) -> bool,
    ) -> Option<Msg> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => {
                    if pred(&m) {
                        return Some(m);
                    }
                }
                Ok(None) => panic!(
                    "{}: connection closed; last lines received:\n{}",
                    self.label,
                    self.tail(30)
                ),
                Err(_) => return None,
            }
        }
    }

    /// Waits for a PRIVMSG from `nick`.
    pub async fn expect_privmsg_from(&mut self, nick: &str, limit: Duration) -> Msg {
        let what = format!("a PRIVMSG from {nick}");
        self.expect_desc(limit, &what, |m| m.is_privmsg_from(nick))
            .await
    }

    /// Waits for a PRIVMSG from `nick` whose text is exactly `text`.
    pub async fn expect_text_from(&mut self, nick: &str, text: &str, limit: Duration) -> Msg {
        let what = format!(
            "PRIVMSG from {nick} with text {:?}",
            show(text.as_bytes(), 120)
        );
        self.expect_desc(limit, &what, |m| {
            m.is_privmsg_from(nick) && m.text() == text
        })
        .await
    }

    /// Waits for a reply from `*otr` whose text satisfies `pred`.
    pub async fn expect_otr(
        &mut self,
        limit: Duration,
        what: &str,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Msg {
        let what = format!("*otr: {what}");
        self.expect_desc(limit, &what, |m| m.is_otr_control() && pred(m.text()))
            .await
    }

    /// Every line received within `d` (the connection closing ends it early).
    pub async fn collect_for(&mut self, d: Duration) -> Vec<Msg> {
        let deadline = tokio::time::Instant::now() + d;
        let mut out = Vec::new();
        while let Ok(Some(m)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(m);
        }
        out
    }

    /// Lines received and not yet consumed by an `expect`, without waiting.
    pub fn drain(&mut self) -> Vec<Msg> {
        let mut out = Vec::new();
        while let Ok(m) = self.rx.try_recv() {
            out.push(m);
        }
        out
    }

    /// Joins `channel`: waits for our JOIN echo and the end of NAMES (366). Returns the lines
    /// from the JOIN to the 366.
    pub async fn join(&mut self, channel: &str) -> Vec<Msg> {
        self.send_raw(&format!("JOIN {channel}")).await;
        let nick = self.nick.clone();
        let what = format!("JOIN {channel} echo");
        let join = self
            .expect_desc(Duration::from_secs(20), &what, |m| {
                m.command == "JOIN" && m.is_from(&nick) && m.target().eq_ignore_ascii_case(channel)
            })
            .await;
        let mut out = vec![join];
        let what = format!("366 for {channel}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = self.expect_desc(left, &what, |_| true).await;
            let done = m.command == "366" && m.param(1).eq_ignore_ascii_case(channel);
            out.push(m);
            if done {
                return out;
            }
        }
    }

    /// Waits until the server closes the connection; returns the lines received meanwhile.
    pub async fn wait_closed(&mut self, limit: Duration) -> Vec<Msg> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                Ok(None) => return out,
                Err(_) => panic!(
                    "{}: the connection was not closed within {limit:?}; received:\n{}",
                    self.label,
                    out.iter()
                        .map(|m| format!("  {m}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }

    /// Polls the whole log (consumed lines included) until `pred` holds; panics after
    /// `limit` naming `what`. Unlike `expect`, this does not consume anything.
    pub async fn wait_log(&self, limit: Duration, what: &str, pred: impl Fn(&[Msg]) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            if pred(&self.log()) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: timed out after {limit:?} waiting for {what}; last lines received:\n{}\nlast lines sent:\n{}",
                    self.label,
                    self.tail(30),
                    self.sent_tail(10)
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Texts of the PRIVMSGs from `nick` to us in the whole log, in order, leaving out the
    /// bouncer's `[otr] ...` status lines.
    pub fn texts_from(&self, nick: &str) -> Vec<String> {
        self.log()
            .iter()
            .filter(|m| m.is_privmsg_from(nick) && m.target().eq_ignore_ascii_case(&self.nick))
            .map(|m| m.text().to_string())
            .filter(|t| !t.starts_with("[otr]"))
            .collect()
    }

    /// Waits until the PRIVMSGs from `nick` (see [`Client::texts_from`]), concatenated,
    /// contain `text`: a long message may arrive split into several lines.
    pub async fn expect_long_text_from(&self, nick: &str, text: &str, limit: Duration) {
        let what = format!(
            "{} bytes from {nick} (possibly split into several lines) starting {:?}",
            text.len(),
            show(text.as_bytes(), 60)
        );
        self.wait_log(limit, &what, |_| {
            self.texts_from(nick).concat().contains(text)
        })
        .await;
    }

    /// Texts of every `*otr` reply in the whole log.
    pub fn otr_texts(&self) -> Vec<String> {
        self.otr_texts_since(0)
    }

    /// Texts of the `*otr` replies after the first `skip` lines of the log.
    pub fn otr_texts_since(&self, skip: usize) -> Vec<String> {
        self.log()
            .iter()
            .skip(skip)
            .filter(|m| m.is_otr_control())
            .map(|m| m.text().to_string())
            .collect()
    }

    /// Every line received so far (including consumed ones).
    pub fn log(&self) -> Vec<Msg> {
        self.log.lock().expect("client log").clone()
    }

    /// Every line received so far that satisfies `pred`.
    pub fn log_matching(&self, pred: impl Fn(&Msg) -> bool) -> Vec<Msg> {
        self.log().into_iter().filter(|m| pred(m)).collect()
    }

    /// Panics if any received line contains `needle`.
    #[track_caller]
    pub fn assert_never_received(&self, needle: &str) {
        if let Some(m) = self
            .log()
            .iter()
            .find(|m| super::find(&m.raw, needle.as_bytes()).is_some())
        {
            panic!("{}: received a line containing {needle:?}: {m}", self.label);
        }
    }

    /// The last `n` received lines, readable.
    pub fn tail(&self, n: usize) -> String {
        let log = self.log();
        let start = log.len().saturating_sub(n);
        log[start..]
            .iter()
            .map(|m| format!("  {m}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn sent_tail(&self, n: usize) -> String {
        let sent = self.sent.lock().expect("sent log");
        let start = sent.len().saturating_sub(n);
        sent[start..]
            .iter()
            .map(|l| format!("  {}", show(l.as_bytes(), 200)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Closes the connection without QUIT (as a client that vanishes).
    pub async fn close(self) {
        drop(self);
        // Let the bouncer notice.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
        if std::thread::panicking() {
            eprintln!(
                "--- {}: last lines received ---\n{}",
                self.label,
                self.tail(15)
            );
        }
    }
}

async fn read_loop(
    r: tokio::net::tcp::OwnedReadHalf,
    writer: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    log: Arc<Mutex<Vec<Msg>>>,
    tx: mpsc::UnboundedSender<Msg>,
) {
    let mut r = BufReader::new(r);
    loop {
        let mut line = Vec::new();
        match r.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let Some(m) = Msg::parse(&line) else {
            continue;
        };
        if m.command == "PING" {
            let reply = match m.params.last() {
                Some(p) => format!("PONG :{p}\r\n"),
                None => "PONG\r\n".to_string(),
            };
            let _ = writer.lock().await.write_all(reply.as_bytes()).await;
        }
        log.lock().expect("client log").push(m.clone());
        let _ = tx.send(m);
    }
}
