//! One network: a single task owns its upstream connection, IRC state, attached clients,
//! OTR account and send queue (no locks; everything arrives as a [`NetMsg`]).

mod attestation;
#[cfg(test)]
mod attestation_tests;
mod away;
mod channels;
mod chathistory;
mod clients;
mod conn;
mod control;
mod directory;
mod from_client;
mod from_server;
mod history;
pub mod joins;
mod legacy;
mod liveness;
pub mod members;
mod net_commands;
mod nicks;
mod offers;
mod offline;
pub mod otr;
mod pinning;
mod presence;
#[cfg(test)]
mod refold_tests;
mod registration;
pub mod state;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

pub use clients::ClientId;
use clients::{Client, Clients};
pub use control::split_args;
pub use directory::{Directory, NetInfo, new_directory};
pub use history::{History, Kept, MAX_CLIENT_NAME, MsgRef, Selector, valid_client_name};
pub use joins::{MAX_WANTED as MAX_WANTED_CHANNELS, parse_configured as parse_configured_channel};
pub use net_commands::{NetCommand, RemoteRequest};
use otr::OtrState;
use state::IrcState;

use crate::config::{self, Network as NetConfig};
use crate::irc::build;
use crate::irc::caps::{self as irc_caps, Cap, CapSet};
use crate::local_state::SharedIdentity;
use crate::upstream::pacing::{self, Class, Pacer};
use crate::upstream::transport::Route;
use std::sync::Arc;

/// Capacity of a network's inbox.
const INBOX: usize = 1024;
/// Lines buffered towards one client before it counts as stuck (an attach to 1,000
/// channels of 200 nicks is about 8,000 lines).
pub const CLIENT_QUEUE: usize = 32_768;
/// The source of `*otr` messages.
pub const CONTROL_SOURCE: &str = "*otr!otr@otrbnc";
/// How soon to retry the pacer when the connection's write queue was full.
const WRITE_RETRY: Duration = Duration::from_millis(5);
/// Messages a named client gets when it attaches for the first time.
pub const NEW_CLIENT_BACKLOG: usize = 200;
/// How soon a kept message is written to the message log.
const HISTORY_FLUSH: Duration = Duration::from_secs(1);
/// At most one "NOT sent" notice this often; the refusals in between are summed up.
const REFUSAL_NOTICE_EVERY: Duration = Duration::from_secs(5);
/// How long shutdown waits for the goodbye lines to be written.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Everything a network task reacts to.
#[derive(Debug)]
pub enum NetMsg {
    /// A client finished registration with otrbnc and selected this network.
    Attach(Attachment),
    /// The OTRv3 key this network asked for is ready.
    LegacyKeyReady,
    /// A line from a client.
    FromClient {
        /// Which client.
        id: ClientId,
        /// The exact bytes.
        line: Bytes,
    },
    /// A client went away.
    Detach {
        /// Which client.
        id: ClientId,
    },
    /// The upstream TCP/TLS connection is up.
    UpConnected {
        /// Which connection attempt.
        generation: u64,
    },
    /// News about a slow connection attempt (Tor bootstrap progress).
    UpProgress {
        /// Which connection attempt.
        generation: u64,
        /// For the user.
        text: String,
    },
    /// A line from the server.
    UpLine {
        /// Which connection attempt.
        generation: u64,
        /// The exact bytes.
        line: Bytes,
    },
    /// The connection (attempt) ended.
    UpClosed {
        /// Which connection attempt.
        generation: u64,
        /// Why, for the user.
        reason: String,
        /// Retrying cannot help until the configuration or the router changes.
        permanent: bool,
    },
    /// A network command from a client of another network.
    Remote(RemoteRequest),
    /// End sessions, say goodbye and stop.
    Shutdown {
        /// Signalled when done.
        done: oneshot::Sender<()>,
    },
}

/// A client that logged in and selected a network.
#[derive(Debug)]
pub struct Attachment {
    /// Its id.
    pub id: ClientId,
    /// Where its lines go.
    pub tx: mpsc::Sender<Bytes>,
    /// Its capabilities.
    pub caps: CapSet,
    /// The name it logged in with (`user@name`), if any.
    pub name: Option<String>,
    /// What otrbnc offered it when it registered (the offer may have changed since: a client
    /// with cap-notify is told).
    pub offered: CapSet,
    /// The nick it asked for.
    pub nick: String,
    /// Its USER name (used, with the nick and real name, when the network has no
    /// configured nick).
    pub user: String,
    /// Real name.
    pub realname: String,
}

/// A handle to a running network task.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    /// Its inbox.
    pub tx: mpsc::Sender<NetMsg>,
    /// How it is reached and its state in brief (for the other networks' `*otr networks`).
    pub info: Arc<NetInfo>,
}

/// Connection progress.
#[derive(Debug)]
enum Link {
    /// Not connected; connect at this time (None: wait for a client to supply a nick).
    Down { retry_at: Option<Instant> },
    /// Not connected after an error that retrying cannot fix; `*otr reconnect` tries again.
    Stopped { reason: String },
    /// The user disconnected it (`*otr disconnect`): no connection until `*otr connect`.
    Disconnected,
    /// A connection attempt or connection is running.
    Up {
        tx: mpsc::Sender<Bytes>,
        connected: bool,
    },
}

/// Registration progress with the server.
#[derive(Debug, Default)]
struct Registration {
    /// What the server's CAP LS lines offered so far (the capabilities otrbnc knows).
    caps_offered: CapSet,
    /// Waiting for the SASL exchange to end.
    sasl_pending: bool,
    /// Nicks refused so far (433/432/437).
    nick_tries: usize,
    /// The NICKLEN generated nick variants must fit (shortened by a 432).
    nicklen: usize,
    /// When the connection came up (registration must finish in time).
    connected_at: Option<Instant>,
    /// The registration burst ended (376/422): later MOTD, LUSERS or ISUPPORT lines answer a
    /// client's own request and reach the clients like any other line.
    burst_done: bool,
}

/// The network task's state.
pub struct Net {
    name: String,
    cfg: NetConfig,
    otr_cfg: config::Otr,
    /// Nick, user and real name to register with.
    want_nick: Option<String>,
    want_user: String,
    want_realname: String,
    link: Link,
    generation: u64,
    backoff: Duration,
    /// When the current connection registered (its end resets the backoff only if it lasted).
    registered_at: Option<Instant>,
    reg: Registration,
    irc: IrcState,
    clients: Clients,
    pacer: Pacer,
    last_queue_warning: Option<Instant>,
    /// The away message otrbnc last set upstream on this connection (None: not away).
    away_upstream: Option<String>,
    /// 305/306 replies to our own AWAY still to come from the server (not passed on).
    away_replies: u32,
    /// The capabilities the server granted (kept across reconnects: clients hold what was
    /// offered from it until a change is announced).
    upstream_caps: CapSet,
    /// The nick clients know us by (changes reach them as NICK lines).
    client_nick: String,
    /// Why the last connection ended (repeats are not announced again).
    last_close_reason: Option<String>,
    /// The channels kept joined (configured and joined at run time).
    joins: joins::Joins,
    /// Keys from clients' JOINs, until the server answers (folded channel → key).
    pending_keys: std::collections::BTreeMap<String, Option<String>>,
    /// When the changed channel list is written to the store.
    save_at: Option<Instant>,
    /// When kept messages waiting for the message log are written.
    history_flush_at: Option<Instant>,
    /// Numbers the BATCHes of CHATHISTORY answers.
    history_batch_seq: u64,
    /// When the last "NOT sent" notice went, and how many refusals since.
    refusal_notice_at: Option<Instant>,
    refused_since_notice: u64,
    /// ISUPPORT of the last registration, for clients welcomed while the server is away.
    last_isupport: Vec<Bytes>,
    otr: OtrState,
    /// When the server last spoke, and our unanswered PING.
    live: liveness::Liveness,
    inbox: mpsc::Sender<NetMsg>,
    /// The identity shared by every network, and the generation our account was built from.
    identity: Arc<SharedIdentity>,
    identity_gen: u64,
    /// The NICKLEN the server declared last (for nick variants before the next `005`).
    known_nicklen: Option<usize>,
    /// How the server is reached (direct, Tor, SOCKS5); kept across reconnects.
    route: Arc<Route>,
    /// Our summary for the other networks, and their handles.
    info: Arc<NetInfo>,
    directory: Directory,
    /// `*otr jump`: the connection being left; the new one starts when it has closed.
    jump_from: Option<u64>,
}

/// Milliseconds since the Unix epoch (the clock the OTR core runs on).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// What a network keeps on disk: what it knows of its contacts' keys, and its messages.
pub struct Stores {
    /// The trust store.
    pub trust: crate::store::TrustStore,
    /// The kept messages (with the log they are written to, if any).
    pub history: History,
}

/// Starts a network task.
pub fn spawn(
    name: String,
    cfg: NetConfig,
    otr_cfg: config::Otr,
    identity: Arc<SharedIdentity>,
    stores: Stores,
    route: Route,
    directory: Directory,
) -> Result<NetworkHandle, String> {
    let Stores { trust, history } = stores;
    let (tx, rx) = mpsc::channel(INBOX);
    let current = identity
        .current()
        .ok_or_else(|| "the identity is unavailable".to_string())?;
    let first_contact = cfg.first_contact.unwrap_or(otr_cfg.first_contact);
    let mut otr_cfg = otr_cfg;
    if let Some(v) = &cfg.otr_versions {
        otr_cfg.versions = v.clone();
    }
    let otr = OtrState::new(&current, &otr_cfg, &cfg.otr_nicks, first_contact, trust)?;
    let identity_gen = identity.generation();
    let now = Instant::now();
    let info = Arc::new(NetInfo::new(format!(
        "{}:{} over {}",
        cfg.host,
        cfg.port(),
        cfg.transport.name()
    )));
    let mut net = Net {
        want_nick: cfg.nick.clone(),
        want_user: cfg
            .username
            .clone()
            .or_else(|| cfg.nick.clone())
            .unwrap_or_else(|| "otrbnc".to_string()),
        want_realname: cfg.realname.clone().unwrap_or_else(|| "otrbnc".to_string()),
        link: Link::Down {
            retry_at: cfg.nick.is_some().then_some(now),
        },
        generation: 0,
        backoff: Duration::from_secs(cfg.reconnect_min_secs),
        registered_at: None,
        reg: Registration::default(),
        irc: IrcState::new(cfg.nick.as_deref().unwrap_or("*")),
        clients: Clients::new(otr_cfg.playback_lines, history),
        pacer: Pacer::new(
            pacing::Overrides {
                interval: cfg.flood_interval_secs.map(Duration::from_secs_f64),
                burst: cfg.flood_burst,
            },
            now,
        ),
        last_queue_warning: None,
        away_upstream: None,
        away_replies: 0,
        upstream_caps: CapSet::EMPTY,
        joins: joins::Joins::default(),
        pending_keys: std::collections::BTreeMap::new(),
        save_at: None,
        history_flush_at: None,
        history_batch_seq: 0,
        refusal_notice_at: None,
        refused_since_notice: 0,
        last_isupport: Vec::new(),
        last_close_reason: None,
        client_nick: cfg.nick.clone().unwrap_or_default(),
        otr,
        live: liveness::Liveness::default(),
        identity,
        identity_gen,
        known_nicklen: None,
        route: Arc::new(route),
        inbox: tx.clone(),
        info: info.clone(),
        directory,
        jump_from: None,
        name,
        cfg,
        otr_cfg,
    };
    net.load_kept_channels();
    net.publish_summary();
    tokio::spawn(net.run(rx));
    Ok(NetworkHandle { tx, info })
}

impl Net {
    async fn run(mut self, mut rx: mpsc::Receiver<NetMsg>) {
        loop {
            let deadline = self.next_deadline();
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = sleep_until(deadline) => {
                    self.on_timer();
                    self.flush();
                    self.publish_summary();
                    continue;
                }
            };
            let Some(msg) = msg else { return };
            self.sync_identity();
            match msg {
                NetMsg::Shutdown { done } => {
                    self.shutdown().await;
                    let _ = done.send(());
                    return;
                }
                other => self.handle(other),
            }
            if self.history_flush_at.is_none() && self.clients.history_pending() {
                self.history_flush_at = Some(Instant::now() + HISTORY_FLUSH);
            }
            self.flush();
            self.publish_summary();
        }
    }

    /// Writes kept messages to the message log; a failure is told once.
    fn flush_history(&mut self) {
        if let Some(e) = self.clients.flush_history() {
            self.notify(&e);
        }
    }

    fn handle(&mut self, msg: NetMsg) {
        match msg {
            NetMsg::Attach(a) => {
                let info = clients::ClientInfo {
                    nick: a.nick.clone(),
                    since_ms: now_ms(),
                };
                self.clients.note(a.id, info);
                self.attach(a)
            }
            NetMsg::Remote(r) => self.on_remote(r),
            NetMsg::FromClient { id, line } => self.on_client_line(id, line),
            NetMsg::Detach { id } => {
                if self.clients.detach(id) {
                    tracing::info!(network = %self.name, clients = self.clients.len(), "client detached");
                    self.sync_away();
                }
            }
            NetMsg::UpConnected { generation } if generation == self.generation => {
                self.on_connected()
            }
            NetMsg::UpLine { generation, line } if generation == self.generation => {
                self.heard(Instant::now());
                self.on_server_line(line)
            }
            NetMsg::UpClosed {
                generation,
                reason,
                permanent,
            } if generation == self.generation => self.on_closed(&reason, permanent),
            NetMsg::UpProgress { generation, text } if generation == self.generation => {
                self.notify(&text)
            }
            NetMsg::UpClosed { generation, .. } if self.jump_from == Some(generation) => {
                self.jump_closed()
            }
            // Stale reports from an earlier connection.
            NetMsg::UpConnected { .. }
            | NetMsg::UpLine { .. }
            | NetMsg::UpClosed { .. }
            | NetMsg::UpProgress { .. } => {}
            NetMsg::Shutdown { .. } => {}
            NetMsg::LegacyKeyReady => {
                self.legacy_key_ready();
                self.otr_drain();
            }
        }
    }

    /// The earliest moment something is due: a reconnect, the pacer, an OTR timer.
    fn next_deadline(&self) -> Option<Instant> {
        let now = Instant::now();
        // The pacer only matters while lines can go out; a full write queue is looked at
        // again shortly (the socket is draining it).
        let mut next = if self.can_send() {
            self.pacer.next_ready(now).map(|t| {
                if self.write_room() == 0 {
                    now + WRITE_RETRY
                } else {
                    t
                }
            })
        } else {
            None
        };
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        if let Link::Down { retry_at: Some(t) } = self.link {
            consider(t);
        }
        if let Some(t) = self.liveness_deadline() {
            consider(t);
        }
        if let Some(t) = self.save_at {
            consider(t);
        }
        if let Some(t) = self.history_flush_at {
            consider(t);
        }
        if self.refused_since_notice > 0
            && let Some(t) = self.refusal_notice_at
        {
            consider(t + REFUSAL_NOTICE_EVERY);
        }
        if self.can_send()
            && let Some(t) = self.joins.next_retry()
        {
            consider(t);
        }
        if let Some(t) = self.registration_deadline() {
            consider(t);
        }
        if let Some(t) = self.otr.account.poll_timeout() {
            let wait = t.saturating_sub(now_ms());
            consider(now + Duration::from_millis(wait));
        }
        next
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        if let Link::Down { retry_at: Some(t) } = self.link
            && t <= now
        {
            self.connect();
        }
        self.liveness_timer(now);
        self.save_timer(now);
        if self.history_flush_at.is_some_and(|t| t <= now) {
            self.history_flush_at = None;
            self.flush_history();
        }
        self.refusal_summary(now);
        if self.can_send() && self.joins.next_retry().is_some_and(|t| t <= now) {
            self.join_kept();
        }
        self.registration_timer(now);
        for notice in self.pacer.on_timer(now) {
            self.clients.broadcast(&notice);
        }
        if self
            .otr
            .account
            .poll_timeout()
            .is_some_and(|t| t <= now_ms())
        {
            self.otr_timeout();
        }
    }

    /// `*otr reconnect`: connect now (after a stop, or instead of waiting for the backoff).
    fn reconnect_now(&mut self) -> String {
        match self.link {
            Link::Up { .. } => format!("{} is connected or connecting already.", self.name),
            _ if self.want_nick.is_none() => {
                format!("{} connects when a client supplies a nick.", self.name)
            }
            _ => {
                self.backoff = Duration::from_secs(self.cfg.reconnect_min_secs);
                self.last_close_reason = None;
                self.connect();
                format!("Connecting to {} now.", self.name)
            }
        }
    }

    fn connect(&mut self) {
        // Disconnected by the user: only `*otr connect` (which changes the link) connects.
        if matches!(self.link, Link::Disconnected) {
            return;
        }
        let Some(nick) = self.want_nick.clone() else {
            self.link = Link::Down { retry_at: None };
            return;
        };
        self.generation += 1;
        self.registered_at = None;
        self.reg = Registration {
            nicklen: self.known_nicklen.unwrap_or(nicks::DEFAULT_NICKLEN),
            ..Registration::default()
        };
        self.irc = IrcState::new(&nick);
        // Until the new connection declares its CASEMAPPING, opt-ins fold by the default.
        self.otr.refold(&self.irc);
        let (tx, rx) = mpsc::channel(conn::WRITE_QUEUE);
        self.link = Link::Up {
            tx,
            connected: false,
        };
        tracing::info!(network = %self.name, host = %self.cfg.host, port = self.cfg.port(),
            transport = self.cfg.transport.name(), "connecting");
        tokio::spawn(conn::run(
            self.cfg.clone(),
            self.route.clone(),
            self.generation,
            self.inbox.clone(),
            rx,
        ));
    }

    fn on_connected(&mut self) {
        if let Link::Up { connected, .. } = &mut self.link {
            *connected = true;
        }
        tracing::info!(network = %self.name, "connected; registering");
        self.heard(Instant::now());
        self.reg.connected_at = Some(Instant::now());
        let nick = self.irc.nick.clone();
        self.send_now(Bytes::from_static(b"CAP LS 302\r\n"));
        if let Some(pass) = self.cfg.server_password.clone() {
            self.send_now(build::command(None, &["PASS", &pass]));
        }
        self.send_now(build::command(None, &["NICK", &nick]));
        let user = self.want_user.clone();
        let realname = self.want_realname.clone();
        let line = format!(
            "USER {} 0 * :{}\r\n",
            user.replace([' ', '\r', '\n', '\0'], "_"),
            realname.replace(['\r', '\n', '\0'], " ")
        );
        self.send_now(Bytes::from(line));
    }

    fn on_closed(&mut self, reason: &str, permanent: bool) {
        let was_connected = matches!(
            self.link,
            Link::Up {
                connected: true,
                ..
            }
        );
        let was_registered = self.irc.registered;
        let dropped = self.pacer.clear();
        if was_registered {
            // Kept channels are joined again at the next registration, all at once.
            self.joins.reset_retries();
        }
        self.irc.registered = false;
        if permanent {
            tracing::warn!(network = %self.name, %reason, "upstream connection failed; not retrying");
            self.link = Link::Stopped {
                reason: reason.to_string(),
            };
            self.notify(&format!(
                "Cannot connect to {} ({reason}). Not retrying: this needs a change to the \
                 configuration or the router. Then: /msg *otr reconnect",
                self.name
            ));
            self.last_close_reason = Some(reason.to_string());
            return;
        }
        self.backoff = registration::backoff_after_close(
            self.backoff,
            Duration::from_secs(self.cfg.reconnect_min_secs),
            self.registered_at.take().map(|t| t.elapsed()),
        );
        let jitter = rand::random_range(0.0..0.25);
        let wait =
            registration::reconnect_wait(self.backoff, jitter, was_connected && !was_registered);
        self.backoff = (self.backoff * 2).min(Duration::from_secs(self.cfg.reconnect_max_secs));
        self.link = Link::Down {
            retry_at: Some(Instant::now() + wait),
        };
        tracing::warn!(network = %self.name, %reason, retry_secs = wait.as_secs(), "upstream connection ended");
        let mut text = if was_connected {
            format!(
                "Disconnected from {} ({reason}); reconnecting in {} s.",
                self.name,
                wait.as_secs()
            )
        } else {
            format!(
                "Cannot connect to {} ({reason}); retrying in {} s.",
                self.name,
                wait.as_secs()
            )
        };
        if dropped > 0 {
            text.push_str(&format!(
                " {dropped} queued line(s) to the server were not sent."
            ));
        }
        // Repeated failures for the same reason are told once.
        if self.last_close_reason.as_deref() != Some(reason) {
            self.notify(&text);
        }
        self.last_close_reason = Some(reason.to_string());
    }

    /// One line for `*otr status`: whether the upstream is up and how it is reached.
    fn upstream_status(&self) -> String {
        let state = match &self.link {
            Link::Up {
                connected: true, ..
            } if self.irc.registered => "connected",
            Link::Up {
                connected: true, ..
            } => "registering",
            Link::Up { .. } => "connecting",
            Link::Down { retry_at: Some(_) } => "waiting to reconnect",
            Link::Down { retry_at: None } => "waiting for a client to supply a nick",
            Link::Disconnected => {
                return format!(
                    "Upstream {}: disconnected by you; `connect` reconnects. {}.",
                    self.name,
                    self.route.describe(&self.cfg)
                );
            }
            Link::Stopped { reason } => {
                return format!(
                    "Upstream {}: stopped after an error retrying cannot fix ({reason}); \
                     `reconnect` tries again. {}.",
                    self.name,
                    self.route.describe(&self.cfg)
                );
            }
        };
        let heard = match (&self.link, self.last_heard_text(Instant::now())) {
            (
                Link::Up {
                    connected: true, ..
                },
                Some(h),
            ) => format!("; {h}"),
            _ => String::new(),
        };
        format!(
            "Upstream {}: {state}, {}{heard}.",
            self.name,
            self.route.describe(&self.cfg)
        )
    }

    /// Writes a line to the server now, bypassing the pacer (registration, PONG).
    fn send_now(&mut self, line: Bytes) {
        // It costs the server's parsing budget like any line.
        self.pacer.note_unpaced(Instant::now());
        self.write(line);
    }

    /// Hands a line to the connection. Lines from the pacer go this way: `pop` charged the
    /// models already (through `send_now` they would count twice, and the parse model would
    /// hold back bulk lines and PINGs as if twice as many lines had gone).
    fn write(&mut self, line: Bytes) {
        if let Link::Up { tx, .. } = &self.link
            && tx.try_send(line).is_err()
        {
            tracing::warn!(network = %self.name, "upstream write queue full; line dropped");
        }
    }

    /// Free slots in the connection's write queue.
    fn write_room(&self) -> usize {
        match &self.link {
            Link::Up { tx, .. } => tx.capacity(),
            Link::Down { .. } | Link::Stopped { .. } | Link::Disconnected => 0,
        }
    }

    /// Queues lines for the server through the pacer, in order, in the lane of their
    /// target (taken from the first line: a group is one message to one target).
    fn send_paced(&mut self, lines: Vec<Bytes>) -> bool {
        self.send_paced_as(lines, Class::Normal)
    }

    /// [`Net::send_paced`] with a class: bulk lines wait behind the target's other lines.
    fn send_paced_as(&mut self, lines: Vec<Bytes>, class: Class) -> bool {
        let lane = match lines.first() {
            Some(first) => pacing::lane_of(first, |t| self.irc.fold(t)),
            None => return true,
        };
        if self.pacer.push(lane, class, lines).is_err() {
            self.refused_for_queue(Instant::now());
            return false;
        }
        true
    }

    /// A message refused because the send queue is full. The first is told at once; the
    /// rest are counted and told in one notice at most every [`REFUSAL_NOTICE_EVERY`]: a
    /// notice per refused line would flood the client that is pasting (and get it dropped
    /// as too slow).
    fn refused_for_queue(&mut self, now: Instant) {
        let due = self
            .refusal_notice_at
            .is_none_or(|t| now.duration_since(t) >= REFUSAL_NOTICE_EVERY);
        if !due {
            self.refused_since_notice += 1;
            return;
        }
        self.refusal_notice_at = Some(now);
        // Those counted since the last notice are told here if the summary has not gone yet.
        let earlier = match std::mem::take(&mut self.refused_since_notice) {
            0 => String::new(),
            n => format!(" ({n} more before it were NOT sent either.)"),
        };
        self.notify(&format!(
            "The send queue to the server is full ({} lines wait): a message was NOT sent.{earlier} \
             Further refusals are counted and told every {} s.",
            self.pacer.len(),
            REFUSAL_NOTICE_EVERY.as_secs()
        ));
    }

    /// Tells how many more messages were refused since the last notice, when it is time.
    fn refusal_summary(&mut self, now: Instant) {
        if self.refused_since_notice == 0
            || self
                .refusal_notice_at
                .is_some_and(|t| now.duration_since(t) < REFUSAL_NOTICE_EVERY)
        {
            return;
        }
        let n = std::mem::take(&mut self.refused_since_notice);
        self.refusal_notice_at = Some(now);
        self.notify(&format!(
            "{n} more message(s) were NOT sent: the send queue to the server was full."
        ));
    }

    /// Puts the pacing rules for the server in force (from 004's version and ISUPPORT).
    fn apply_pacing(&mut self) {
        let profile =
            pacing::server::Profile::detect(self.irc.server_version.as_deref(), self.irc.saferate);
        if *self.pacer.profile() != profile {
            self.pacer.set_server(profile, Instant::now());
            tracing::info!(network = %self.name, "{}", self.pacer.describe());
        }
    }

    /// Moves lines the pacer allows to the connection, and warns when the queue is slow.
    /// Whether paced lines can go out: connected and registered.
    fn can_send(&self) -> bool {
        matches!(
            self.link,
            Link::Up {
                connected: true,
                ..
            }
        ) && self.irc.registered
    }

    fn flush(&mut self) {
        if !self.can_send() {
            return;
        }
        let now = Instant::now();
        // Lines leave the pacer only when the connection's write queue has room, so a
        // server that reads slowly holds them here (bounded, announced) instead of losing them.
        while self.write_room() > 0
            && let Some(line) = self.pacer.pop(now)
        {
            self.write(line);
        }
        let delay = self.pacer.delay(now);
        if delay > Duration::from_secs(self.otr_cfg.queue_warn_secs)
            && self
                .last_queue_warning
                .is_none_or(|t| now.duration_since(t) > Duration::from_secs(60))
        {
            self.last_queue_warning = Some(now);
            let lines = self.pacer.len();
            self.notify(&format!(
                "Flood protection: {lines} line(s) queued for the server, about {} s of delay.",
                delay.as_secs()
            ));
        }
    }

    /// The server's name for lines otrbnc answers in its stead ("otrbnc" before it is known).
    fn server_name(&self) -> String {
        if self.irc.server.is_empty() {
            "otrbnc".to_string()
        } else {
            self.irc.server.clone()
        }
    }

    /// A `*otr` message to every client (kept for playback when none is attached).
    fn notify(&mut self, text: &str) {
        let nick = self.irc.nick.clone();
        for piece in build::sanitize_lines(text, build::CLIENT_TEXT_MAX) {
            let line = build::message(Some(CONTROL_SOURCE), "PRIVMSG", &nick, &piece);
            self.clients
                .broadcast_or_keep(line, now_ms(), history::Kept::memory());
        }
    }

    /// A `*otr` message to one client.
    fn reply(&mut self, id: ClientId, text: &str) {
        let nick = self.irc.nick.clone();
        for piece in build::sanitize_lines(text, build::CLIENT_TEXT_MAX) {
            let line = build::message(Some(CONTROL_SOURCE), "PRIVMSG", &nick, &piece);
            self.clients.send_to(id, line);
        }
    }

    fn attach(&mut self, a: Attachment) {
        let Attachment {
            id,
            tx,
            caps,
            offered,
            name,
            nick,
            user,
            realname,
        } = a;
        self.clients.attach(
            id,
            Client {
                tx,
                caps,
                offline: !self.irc.registered,
                away: None,
            },
        );
        tracing::info!(network = %self.name, clients = self.clients.len(), "client attached");
        self.sync_away();
        if self.want_nick.is_none() {
            // No configured identity: the first client's registration is used upstream.
            self.want_nick = Some(nick.clone());
            self.want_user = user;
            self.want_realname = realname;
            self.irc.nick = nick.clone();
            self.connect();
        }
        if self.client_nick.is_empty() {
            self.client_nick = nick;
        }
        if self.irc.registered {
            // Registration numerics, MOTD, and every channel with its topic and members,
            // all from what is tracked: no upstream traffic per attach.
            let burst = self.with_bouncer_isupport(self.irc.welcome_burst());
            self.send_lines(id, burst);
        } else {
            // The server is away: otrbnc registers the client itself, so that it can reach
            // *otr and show playback; it is brought in line when the server is back.
            let burst = self.offline_welcome();
            self.send_lines(id, burst);
            let text = self.offline_notice();
            self.reply(id, &text);
        }
        // It registered with the offer of that moment (or, with several networks and no
        // network named yet, only what otrbnc emulates): tell it what changed since.
        self.announce_offer_change(id, offered, self.offered_caps());
        let caps = self.clients.caps(id).unwrap_or(caps);
        match name {
            // A named client seen before gets what it missed, whoever was attached
            // meanwhile; the playback for unnamed clients stays theirs.
            Some(name) if self.clients.known_name(&name) => {
                let (missed, lost) = self.clients.missed(&name);
                self.clients.name(id, name);
                if lost > 0 {
                    self.reply(
                        id,
                        &format!("{lost} message(s) since this client left are no longer kept."),
                    );
                }
                self.replay(id, missed, caps);
            }
            // A name seen for the first time (since the log began) starts with the latest
            // messages, as ZNC's buffers do.
            Some(name) => {
                self.clients.name(id, name);
                let recent = self.clients.recent(NEW_CLIENT_BACKLOG);
                self.replay(id, recent, caps);
            }
            None => {
                for (ms, line) in self.clients.take_playback() {
                    let line = if caps.has(Cap::ServerTime) {
                        clients::with_time_tag(&line, ms)
                    } else {
                        line
                    };
                    self.clients.send_to(id, line);
                }
            }
        }
    }

    /// Plays kept messages back to a client: with their times (see
    /// [`clients::played_back`]), and for a client with `batch` each run of one
    /// conversation's messages in a `chathistory` batch, with msgids.
    fn replay(&mut self, id: ClientId, entries: Vec<history::Entry>, caps: CapSet) {
        let server = self.server_name();
        let mut open: Option<(String, String)> = None;
        for e in entries {
            if caps.has(Cap::Batch) && open.as_ref().is_none_or(|(_, t)| *t != e.target) {
                if let Some((b, _)) = open.take() {
                    self.clients
                        .send_to(id, Bytes::from(format!(":{server} BATCH -{b}\r\n")));
                }
                self.history_batch_seq += 1;
                let b = format!("otrbnc{}", self.history_batch_seq);
                let target = if e.target.is_empty() {
                    "*otr"
                } else {
                    &e.target
                };
                let line = format!(":{server} BATCH +{b} chathistory {target}\r\n");
                self.clients.send_to(id, Bytes::from(line));
                open = Some((b, e.target.clone()));
            }
            let line = clients::played_back(&e.line, e.ms, caps);
            let line = match &open {
                Some((b, _)) => clients::with_tags(&line, &[("batch", b), ("msgid", &e.msgid())]),
                None => line,
            };
            self.clients.send_to(id, line);
        }
        if let Some((b, _)) = open {
            self.clients
                .send_to(id, Bytes::from(format!(":{server} BATCH -{b}\r\n")));
        }
    }

    /// `burst` with otrbnc's own ISUPPORT line after the server's (CHATHISTORY).
    fn with_bouncer_isupport(&self, mut burst: Vec<Bytes>) -> Vec<Bytes> {
        let is_005 = |l: &Bytes| crate::irc::Line::parse(l).is_some_and(|l| l.command == b"005");
        let at = burst
            .iter()
            .rposition(is_005)
            .map_or(burst.len().min(4), |i| i + 1);
        let line = format!(
            ":{} 005 {} {} :are supported by this bouncer\r\n",
            self.server_name(),
            self.irc.nick,
            chathistory::ISUPPORT
        );
        burst.insert(at, Bytes::from(line));
        burst
    }

    /// What a client may ask otrbnc for now.
    fn offered_caps(&self) -> CapSet {
        irc_caps::offered_downstream(self.upstream_caps)
    }

    /// The server granted or withdrew capabilities: publishes the new set and tells every
    /// client what otrbnc's offer gained or lost.
    fn set_upstream_caps(&mut self, caps: CapSet) {
        let before = self.offered_caps();
        self.upstream_caps = caps;
        self.info.set_upstream_caps(caps);
        let after = self.offered_caps();
        if before != after {
            tracing::info!(network = %self.name, caps = %caps.names(), "server capabilities changed");
            for id in self.clients.ids() {
                self.announce_offer_change(id, before, after);
            }
        }
    }

    /// A client that saw the offer `before` learns of `after`: what was withdrawn is taken
    /// from its capabilities, and with cap-notify it gets CAP NEW and CAP DEL.
    fn announce_offer_change(&mut self, id: ClientId, before: CapSet, after: CapSet) {
        let Some(caps) = self.clients.caps(id) else {
            return;
        };
        let (added, removed) = (after.minus(before), before.minus(after));
        let kept = caps.minus(removed.union(caps.minus(after)));
        if kept != caps {
            self.clients.set_caps(id, kept);
        }
        if !caps.has(Cap::CapNotify) {
            return;
        }
        let nick = match self.irc.nick.as_str() {
            "" => "*".to_string(),
            n => n.to_string(),
        };
        for (verb, set) in [("NEW", added), ("DEL", removed)] {
            if !set.is_empty() {
                let line = format!(":otrbnc CAP {nick} {verb} :{}\r\n", set.names());
                self.clients.send_to(id, Bytes::from(line));
            }
        }
    }

    async fn shutdown(&mut self) {
        if self.save_at.take().is_some() {
            self.save_trust();
        }
        self.flush_history();
        self.notify("otrbnc is shutting down: ending private conversations.");
        self.otr_finish_all();
        let mut lines = self.pacer.drain_all();
        lines.push(Bytes::from_static(b"QUIT :otrbnc shutting down\r\n"));
        if let Link::Up {
            tx,
            connected: true,
        } = &self.link
        {
            for line in lines {
                let _ = tokio::time::timeout(SHUTDOWN_FLUSH, tx.send(line)).await;
            }
        }
        // Give the writer a moment to put the goodbye on the wire.
        let link = std::mem::replace(&mut self.link, Link::Down { retry_at: None });
        drop(link);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(t) => tokio::time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}
