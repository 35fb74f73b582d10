//! The clients attached to one network, fan-out to them, and playback for when none is.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use tokio::sync::mpsc;

/// Identifies one client connection (unique for the process lifetime).
pub type ClientId = u64;

/// Capabilities a client negotiated with otrbnc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientCaps {
    /// `echo-message`: the client wants its own messages echoed (as plaintext).
    pub echo_message: bool,
    /// `server-time`: played-back lines carry a `time` tag.
    pub server_time: bool,
}

impl ClientCaps {
    /// Applies a `CAP REQ` list (`cap` enables, `-cap` disables) if every name in it is one
    /// otrbnc offers (`offered`, space-separated); otherwise changes nothing. IRCv3 answers
    /// the whole list with ACK or NAK: returns whether it was applied.
    pub fn apply_request(&mut self, asked: &str, offered: &str) -> bool {
        let wanted: Vec<(&str, bool)> = asked
            .split(' ')
            .filter(|c| !c.is_empty())
            .map(|c| match c.strip_prefix('-') {
                Some(name) => (name, false),
                None => (c, true),
            })
            .collect();
        if wanted.is_empty()
            || !wanted
                .iter()
                .all(|(c, _)| offered.split(' ').any(|o| o == *c))
        {
            return false;
        }
        for (c, on) in wanted {
            match c {
                "echo-message" => self.echo_message = on,
                "server-time" => self.server_time = on,
                _ => {}
            }
        }
        true
    }
}

/// One attached client: where its lines go.
#[derive(Debug)]
pub struct Client {
    /// Lines to the client; bounded, a client that cannot keep up is dropped.
    pub tx: mpsc::Sender<Bytes>,
    /// What it negotiated.
    pub caps: ClientCaps,
    /// It was welcomed by otrbnc while the server was away: it gets the server's ISUPPORT
    /// when the server is back.
    pub offline: bool,
    /// Its own away message (`AWAY :text`), with the order in which it was set.
    pub away: Option<(u64, String)>,
}

/// What `*otr clients` tells about a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The nick it registered with (with otrbnc).
    pub nick: String,
    /// When it attached (Unix milliseconds).
    pub since_ms: u64,
}

/// Attached clients and the playback buffer.
#[derive(Debug)]
pub struct Clients {
    clients: BTreeMap<ClientId, Client>,
    /// Kept apart from [`Client`] so that attaching stays as it is; removed with the client.
    info: BTreeMap<ClientId, ClientInfo>,
    playback: VecDeque<(u64, Bytes)>,
    playback_max: usize,
    /// Order of away changes (the latest message wins).
    away_seq: u64,
}

impl Clients {
    /// An empty set; at most `playback_max` lines kept while detached.
    pub fn new(playback_max: usize) -> Clients {
        Clients {
            clients: BTreeMap::new(),
            info: BTreeMap::new(),
            playback: VecDeque::new(),
            playback_max,
            away_seq: 0,
        }
    }

    /// Adds a client.
    pub fn attach(&mut self, id: ClientId, client: Client) {
        self.clients.insert(id, client);
    }

    /// Records what `*otr clients` shows about a client.
    pub fn note(&mut self, id: ClientId, info: ClientInfo) {
        self.info.insert(id, info);
    }

    /// Removes a client; returns whether it was attached.
    pub fn detach(&mut self, id: ClientId) -> bool {
        self.info.remove(&id);
        self.clients.remove(&id).is_some()
    }

    /// Every attached client: id, capabilities and what was noted about it.
    pub fn describe(&self) -> Vec<(ClientId, ClientCaps, Option<ClientInfo>)> {
        self.clients
            .iter()
            .map(|(id, c)| (*id, c.caps, self.info.get(id).cloned()))
            .collect()
    }

    /// A client's line sender (for answers from another network's task).
    pub fn sender(&self, id: ClientId) -> Option<mpsc::Sender<Bytes>> {
        self.clients.get(&id).map(|c| c.tx.clone())
    }

    /// Notes a client's own away message (`None`: back).
    pub fn set_away(&mut self, id: ClientId, away: Option<String>) {
        self.away_seq += 1;
        let seq = self.away_seq;
        if let Some(c) = self.clients.get_mut(&id) {
            c.away = away.map(|m| (seq, m));
        }
    }

    /// The away message for the user as a whole: `Some` when every attached client is away
    /// (the message set last), or none is attached (`detached`); `None` otherwise.
    pub fn collective_away(&self, detached: &str) -> Option<String> {
        if self.clients.is_empty() {
            return (!detached.is_empty()).then(|| detached.to_string());
        }
        let mut last: Option<&(u64, String)> = None;
        for c in self.clients.values() {
            let a = c.away.as_ref()?;
            if last.is_none_or(|l| a.0 > l.0) {
                last = Some(a);
            }
        }
        last.map(|(_, m)| m.clone())
    }

    /// Number attached.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether none is attached.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A client's capabilities.
    pub fn caps(&self, id: ClientId) -> Option<ClientCaps> {
        self.clients.get(&id).map(|c| c.caps)
    }

    /// Replaces a client's capabilities (a `CAP REQ` after registration).
    pub fn set_caps(&mut self, id: ClientId, caps: ClientCaps) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.caps = caps;
        }
    }

    /// Ids of attached clients.
    pub fn ids(&self) -> Vec<ClientId> {
        self.clients.keys().copied().collect()
    }

    /// Sends to one client; a full or closed channel drops the client.
    pub fn send_to(&mut self, id: ClientId, line: Bytes) {
        let failed = match self.clients.get(&id) {
            Some(c) => c.tx.try_send(line).is_err(),
            None => false,
        };
        if failed {
            tracing::warn!("a client could not keep up and was disconnected");
            self.detach(id);
        }
    }

    /// Sends to every client.
    pub fn broadcast(&mut self, line: &Bytes) {
        for id in self.ids() {
            self.send_to(id, line.clone());
        }
    }

    /// Sends to every client except `except`, filtered by `want`.
    pub fn broadcast_where(
        &mut self,
        line: &Bytes,
        except: Option<ClientId>,
        want: impl Fn(&Client) -> bool,
    ) {
        let ids: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(id, c)| Some(**id) != except && want(c))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_to(id, line.clone());
        }
    }

    /// Sends to every client, or keeps the line for playback when none is attached.
    pub fn broadcast_or_keep(&mut self, line: Bytes, now_ms: u64) {
        if self.clients.is_empty() {
            if self.playback_max == 0 {
                return;
            }
            if self.playback.len() >= self.playback_max {
                self.playback.pop_front();
            }
            self.playback.push_back((now_ms, line));
        } else {
            self.broadcast(&line);
        }
    }

    /// The clients welcomed while the server was away, now counted as welcomed by it.
    pub fn take_offline(&mut self) -> Vec<ClientId> {
        let mut out = Vec::new();
        for (id, c) in &mut self.clients {
            if std::mem::take(&mut c.offline) {
                out.push(*id);
            }
        }
        out
    }

    /// Takes the playback buffer (lines with the time they arrived).
    pub fn take_playback(&mut self) -> Vec<(u64, Bytes)> {
        self.playback.drain(..).collect()
    }
}

/// `@time=...` for a line played back to a client with `server-time`.
pub fn with_time_tag(line: &Bytes, ms: u64) -> Bytes {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    let stamp = format!(
        "@time={y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z ",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    );
    // Tags the server sent (a hostile one may send any; none were negotiated) go: the line
    // stays one well-formed line whose only tag is ours.
    let body: &[u8] = if line.starts_with(b"@") {
        let after_tags = line.splitn(2, |b| *b == b' ').nth(1).unwrap_or_default();
        let start = after_tags
            .iter()
            .position(|b| *b != b' ')
            .unwrap_or(after_tags.len());
        after_tags.get(start..).unwrap_or_default()
    } else {
        line
    };
    let mut out = Vec::with_capacity(stamp.len() + body.len());
    out.extend_from_slice(stamp.as_bytes());
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_tag_format() {
        let l = with_time_tag(
            &Bytes::from_static(b":a PRIVMSG b :c\r\n"),
            1_700_000_000_123,
        );
        assert_eq!(
            &l[..],
            b"@time=2023-11-14T22:13:20.123Z :a PRIVMSG b :c\r\n"
        );
    }

    #[test]
    fn cap_requests_are_all_or_nothing_and_can_drop_a_cap() {
        let offered = "echo-message server-time";
        let mut caps = ClientCaps::default();
        assert!(caps.apply_request("server-time", offered));
        assert!(caps.server_time && !caps.echo_message);
        // One unknown name: the whole list is refused, nothing changes.
        assert!(!caps.apply_request("echo-message away-notify", offered));
        assert!(!caps.echo_message);
        assert!(!caps.apply_request("", offered));
        assert!(caps.apply_request("echo-message -server-time", offered));
        assert!(caps.echo_message && !caps.server_time);
    }

    #[test]
    fn the_user_is_away_when_every_client_is_or_none_is_attached() {
        let mut c = Clients::new(0);
        assert_eq!(c.collective_away("auto").as_deref(), Some("auto"));
        assert_eq!(c.collective_away(""), None, "auto-away off");
        let mut rxs = Vec::new();
        for id in [1, 2] {
            let (tx, rx) = mpsc::channel(4);
            rxs.push(rx);
            c.attach(
                id,
                Client {
                    tx,
                    caps: ClientCaps::default(),
                    offline: false,
                    away: None,
                },
            );
        }
        assert_eq!(c.collective_away("auto"), None);
        c.set_away(2, Some("meeting".into()));
        assert_eq!(c.collective_away("auto"), None, "client 1 is here");
        c.set_away(1, Some("lunch".into()));
        assert_eq!(
            c.collective_away("auto").as_deref(),
            Some("lunch"),
            "set last"
        );
        c.set_away(2, Some("still meeting".into()));
        assert_eq!(c.collective_away("auto").as_deref(), Some("still meeting"));
        c.set_away(1, None);
        assert_eq!(c.collective_away("auto"), None);
        c.detach(1);
        assert_eq!(c.collective_away("auto").as_deref(), Some("still meeting"));
        c.detach(2);
        assert_eq!(c.collective_away("auto").as_deref(), Some("auto"));
    }

    #[test]
    fn a_time_tag_replaces_the_tags_a_kept_line_came_with() {
        let l = with_time_tag(
            &Bytes::from_static(b"@time=1999-01-01T00:00:00.000Z;x=y :a NOTICE b :c\r\n"),
            1_700_000_000_123,
        );
        assert_eq!(&l[..], b"@time=2023-11-14T22:13:20.123Z :a NOTICE b :c\r\n");
        // Only tags, no line: nothing but our tag is left.
        let l = with_time_tag(&Bytes::from_static(b"@x=y"), 0);
        assert_eq!(&l[..], b"@time=1970-01-01T00:00:00.000Z ");
    }

    #[test]
    fn playback_is_bounded() {
        let mut c = Clients::new(3);
        for i in 0..10u64 {
            c.broadcast_or_keep(Bytes::from(format!("{i}")), i);
        }
        let p = c.take_playback();
        assert_eq!(p.len(), 3);
        assert_eq!(p.first().map(|(t, _)| *t), Some(7));
    }

    #[tokio::test]
    async fn what_is_noted_about_a_client_leaves_with_it() {
        let mut c = Clients::new(0);
        let (tx, _rx) = mpsc::channel(1);
        let caps = ClientCaps {
            echo_message: false,
            server_time: true,
        };
        c.attach(
            7,
            Client {
                tx,
                caps,
                offline: false,
                away: None,
            },
        );
        let info = ClientInfo {
            nick: "alice".into(),
            since_ms: 5,
        };
        c.note(7, info.clone());
        assert_eq!(c.describe(), vec![(7, caps, Some(info))]);
        assert!(c.sender(7).is_some());
        // Its queue (1 line) overflows: dropped, and its info with it.
        c.send_to(7, Bytes::from_static(b"x"));
        c.send_to(7, Bytes::from_static(b"y"));
        assert!(c.describe().is_empty());
        assert!(c.info.is_empty());
        assert!(c.sender(7).is_none());
    }

    #[tokio::test]
    async fn slow_clients_are_dropped() {
        let mut c = Clients::new(0);
        let (tx, _rx) = mpsc::channel(2);
        c.attach(
            1,
            Client {
                tx,
                caps: ClientCaps::default(),
                offline: false,
                away: None,
            },
        );
        for _ in 0..3 {
            c.broadcast(&Bytes::from_static(b"x"));
        }
        assert!(c.is_empty());
    }
}
