//! The clients attached to one network, fan-out to them, and playback for when none is.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::history::{Entry, History, Kept};
use crate::irc::{Cap, CapSet, shape};

/// Identifies one client connection (unique for the process lifetime).
pub type ClientId = u64;

/// One attached client: where its lines go.
#[derive(Debug)]
pub struct Client {
    /// Lines to the client; bounded, a client that cannot keep up is dropped.
    pub tx: mpsc::Sender<Bytes>,
    /// What it negotiated: each line it gets is shaped for these.
    pub caps: CapSet,
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
    /// The server's member prefix symbols (for NAMES and WHO shaping).
    prefixes: Vec<u8>,
    /// Recent messages, for named clients.
    history: History,
    /// The name of each attached named client.
    names: BTreeMap<ClientId, String>,
}

impl Clients {
    /// An empty set; at most `playback_max` lines kept while detached (for unnamed clients),
    /// and `history` for named ones.
    pub fn new(playback_max: usize, history: History) -> Clients {
        Clients {
            clients: BTreeMap::new(),
            info: BTreeMap::new(),
            playback: VecDeque::new(),
            playback_max,
            away_seq: 0,
            prefixes: b"@+".to_vec(),
            history,
            names: BTreeMap::new(),
        }
    }

    /// Notes the name a client logged in with (`user@name`).
    pub fn name(&mut self, id: ClientId, name: String) {
        self.names.insert(id, name);
    }

    /// What the named client missed since its last connection left, and how many of those
    /// messages were no longer kept.
    pub fn missed(&self, name: &str) -> (Vec<Entry>, u64) {
        self.history.missed(name)
    }

    /// Whether a client of that name has been attached before (and its absence counted).
    pub fn known_name(&self, name: &str) -> bool {
        self.history.knows(name)
    }

    /// The server's member prefix symbols (ISUPPORT `PREFIX`), highest first.
    pub fn set_prefixes(&mut self, symbols: impl Iterator<Item = char>) {
        self.prefixes = symbols.filter(char::is_ascii).map(|c| c as u8).collect();
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
        // The name's last connection left: from here on it misses messages.
        if let Some(name) = self.names.remove(&id)
            && !self.names.values().any(|n| *n == name)
        {
            self.history.left(&name, super::now_ms());
        }
        self.clients.remove(&id).is_some()
    }

    /// Every attached client: id, capabilities and what was noted about it.
    pub fn describe(&self) -> Vec<(ClientId, CapSet, Option<ClientInfo>)> {
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
    pub fn caps(&self, id: ClientId) -> Option<CapSet> {
        self.clients.get(&id).map(|c| c.caps)
    }

    /// Replaces a client's capabilities (a `CAP REQ` after registration).
    pub fn set_caps(&mut self, id: ClientId, caps: CapSet) {
        if let Some(c) = self.clients.get_mut(&id) {
            c.caps = caps;
        }
    }

    /// Ids of attached clients.
    pub fn ids(&self) -> Vec<ClientId> {
        self.clients.keys().copied().collect()
    }

    /// Sends to one client, shaped for its capabilities; a full or closed channel drops the
    /// client.
    pub fn send_to(&mut self, id: ClientId, line: Bytes) {
        let Some(caps) = self.clients.get(&id).map(|c| c.caps) else {
            return;
        };
        if let Some(line) = shape::shape(&line, caps, &self.prefixes) {
            self.push(id, line);
        }
    }

    /// Queues a line already shaped for the client.
    fn push(&mut self, id: ClientId, line: Bytes) {
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
        self.broadcast_where(line, None, |_| true);
    }

    /// Sends to every client except `except`, filtered by `want`, each shaped for its
    /// capabilities (once per distinct set).
    pub fn broadcast_where(
        &mut self,
        line: &Bytes,
        except: Option<ClientId>,
        want: impl Fn(&Client) -> bool,
    ) {
        let targets: Vec<(ClientId, CapSet)> = self
            .clients
            .iter()
            .filter(|(id, c)| Some(**id) != except && want(c))
            .map(|(id, c)| (*id, c.caps))
            .collect();
        if !shape::may_need_shaping(line) {
            for (id, _) in targets {
                self.push(id, line.clone());
            }
            return;
        }
        let mut shaped: Vec<(CapSet, Option<Bytes>)> = Vec::new();
        for (id, caps) in targets {
            let out = match shaped.iter().find(|(c, _)| *c == caps) {
                Some((_, out)) => out.clone(),
                None => {
                    let out = shape::shape(line, caps, &self.prefixes);
                    shaped.push((caps, out.clone()));
                    out
                }
            };
            if let Some(out) = out {
                self.push(id, out);
            }
        }
    }

    /// Sends to the clients that have `cap` (lines only such a client understands).
    pub fn broadcast_to_cap(&mut self, line: &Bytes, cap: Cap) {
        self.broadcast_where(line, None, |c| c.caps.has(cap));
    }

    /// A message for every client: kept for named clients, and sent to those attached.
    pub fn broadcast_kept(&mut self, line: &Bytes, now_ms: u64, kept: Kept) {
        self.history.push(now_ms, line.clone(), kept);
        self.broadcast(line);
    }

    /// Keeps a message for named clients without sending it (sent otherwise).
    pub fn keep(&mut self, line: &Bytes, now_ms: u64, kept: Kept) {
        self.history.push(now_ms, line.clone(), kept);
    }

    /// Writes the kept messages waiting for the disk; why the log stopped, once, if it did.
    pub fn flush_history(&mut self) -> Option<String> {
        self.history.flush().or_else(|| self.history.take_failure())
    }

    /// Whether kept messages wait to be written.
    pub fn history_pending(&self) -> bool {
        self.history.has_pending()
    }

    /// CHATHISTORY: what `sel` picks of a conversation (casefolded), oldest first.
    pub fn select(&self, target: &str, sel: &super::history::Selector, limit: usize) -> Vec<Entry> {
        self.history.select(target, sel, limit)
    }

    /// CHATHISTORY TARGETS: conversations active between two times, with their latest.
    pub fn targets(&self, a: u64, b: u64, limit: usize) -> Vec<(String, u64)> {
        self.history.targets(a, b, limit)
    }

    /// The last `n` kept messages of every conversation, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Entry> {
        self.history.recent(n)
    }

    /// Sends to every client, or keeps the line for playback when none is attached (for
    /// named clients, it is kept either way, filed as `kept` says).
    pub fn broadcast_or_keep(&mut self, line: Bytes, now_ms: u64, kept: Kept) {
        self.history.push(now_ms, line.clone(), kept);
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

/// A played-back line with a `time` tag: the server's own when it sent one, otherwise when
/// the line arrived (`ms`). Its other tags stay: each client's shaping keeps only those of
/// the capabilities it asked for.
pub fn with_time_tag(line: &Bytes, ms: u64) -> Bytes {
    with_tags(line, &[("time", &time_stamp(ms))])
}

/// `line` with the tags in `extra` first (those it already has are kept as they are).
pub fn with_tags(line: &[u8], extra: &[(&str, &str)]) -> Bytes {
    let (tags, body) = match line.strip_prefix(b"@") {
        Some(rest) => match rest.iter().position(|&b| b == b' ') {
            Some(i) => (
                rest.get(..i).unwrap_or_default(),
                rest.get(i + 1..).unwrap_or_default(),
            ),
            None => (rest, &[][..]),
        },
        None => (&[][..], line),
    };
    let has = |k: &str| {
        tags.split(|&b| b == b';')
            .any(|t| t.split(|&b| b == b'=').next() == Some(k.as_bytes()))
    };
    let mut out = Vec::with_capacity(line.len() + 64);
    out.push(b'@');
    for (k, v) in extra.iter().filter(|(k, _)| !has(k)) {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        out.extend_from_slice(v.as_bytes());
        out.push(b';');
    }
    if tags.is_empty() {
        // Only ours: the `;` after the last one goes (there is one: `extra` is not empty
        // when the line had no tags to hold them).
        if out.last() == Some(&b';') {
            out.pop();
        }
    } else {
        out.extend_from_slice(tags);
    }
    out.push(b' ');
    out.extend_from_slice(body);
    Bytes::from(out)
}

/// A line played back to a client: with a `time` tag for a client with `server-time`;
/// otherwise a PRIVMSG or NOTICE text starts with `[YYYY-MM-DD HH:MM:SS] ` (UTC), so the
/// client still shows when it was said (a CTCP, `/me` included, is left as it is).
pub fn played_back(line: &Bytes, ms: u64, caps: CapSet) -> Bytes {
    if caps.has(Cap::ServerTime) {
        return with_time_tag(line, ms);
    }
    let Some(l) = crate::irc::Line::parse(line) else {
        return line.clone();
    };
    let (Some(target), Some(text)) = (l.param(0), l.param(1)) else {
        return line.clone();
    };
    if !(l.is("PRIVMSG") || l.is("NOTICE")) || text.first() == Some(&1) {
        return line.clone();
    }
    let stamp = time_stamp(ms);
    let shown = format!(
        "[{} {}] ",
        stamp.get(..10).unwrap_or_default(),
        stamp.get(11..19).unwrap_or_default()
    );
    let mut out = Vec::with_capacity(line.len() + shown.len() + 4);
    if let Some(src) = l.source {
        out.push(b':');
        out.extend_from_slice(src);
        out.push(b' ');
    }
    out.extend_from_slice(l.command);
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" :");
    out.extend_from_slice(shown.as_bytes());
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// `2023-11-14T22:13:20.123Z` for Unix milliseconds (UTC).
pub fn time_stamp(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        ms % 1000
    )
}

/// Unix milliseconds for `2023-11-14T22:13:20.123Z` (UTC; the fraction and the `Z` may be
/// left out); `None` if it is not such a time.
pub fn parse_time_stamp(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-');
    let (y, m, day): (i64, u32, u32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    if d.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(1970..=9999).contains(&y)
    {
        return None;
    }
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':');
    let (h, mi, sec): (u64, u64, u64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if t.next().is_some()
        || h > 23
        || mi > 59
        || sec > 60
        || frac.is_empty()
        || frac.len() > 9
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let ms: u64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    let days = u64::try_from(days_from_civil(y, m, day)).ok()?;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + ms)
}

/// Days since 1970-01-01 for a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn the_user_is_away_when_every_client_is_or_none_is_attached() {
        let mut c = Clients::new(0, History::new(0, u64::MAX));
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
                    caps: CapSet::EMPTY,
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
    fn a_kept_line_keeps_the_servers_time_and_its_other_tags() {
        // The server's time wins: it is when the line was sent.
        let tagged =
            Bytes::from_static(b"@msgid=1;time=1999-01-01T00:00:00.000Z :a NOTICE b :c\r\n");
        assert_eq!(with_time_tag(&tagged, 1_700_000_000_123), tagged);
        let l = with_time_tag(
            &Bytes::from_static(b"@msgid=1 :a NOTICE b :c\r\n"),
            1_700_000_000_123,
        );
        assert_eq!(
            &l[..],
            b"@time=2023-11-14T22:13:20.123Z;msgid=1 :a NOTICE b :c\r\n"
        );
        // A client without message-tags gets the time alone.
        let shaped = shape::shape(&l, CapSet::of(&[Cap::ServerTime]), b"@+").unwrap();
        assert_eq!(
            &shaped[..],
            b"@time=2023-11-14T22:13:20.123Z :a NOTICE b :c\r\n"
        );
        // Only tags, no line: still one tag section.
        let l = with_time_tag(&Bytes::from_static(b"@x=y"), 0);
        assert_eq!(&l[..], b"@time=1970-01-01T00:00:00.000Z;x=y ");
    }

    #[test]
    fn tags_are_added_in_front_without_repeating_one() {
        assert_eq!(
            &with_tags(
                b"@time=t :a PRIVMSG #c :x\r\n",
                &[("batch", "b1"), ("time", "u")]
            )[..],
            b"@batch=b1;time=t :a PRIVMSG #c :x\r\n"
        );
        assert_eq!(
            &with_tags(b":a PRIVMSG #c :x\r\n", &[("msgid", "m")])[..],
            b"@msgid=m :a PRIVMSG #c :x\r\n"
        );
    }

    #[test]
    fn without_server_time_the_text_says_when() {
        let line = Bytes::from_static(b"@msgid=x :a!u@h PRIVMSG #c :hello there\r\n");
        let out = played_back(&line, 1_700_000_000_123, CapSet::EMPTY);
        assert_eq!(
            &out[..],
            b":a!u@h PRIVMSG #c :[2023-11-14 22:13:20] hello there\r\n"
        );
        let action = Bytes::from_static(b":a PRIVMSG #c :\x01ACTION waves\x01\r\n");
        assert_eq!(played_back(&action, 0, CapSet::EMPTY), action);
        let join = Bytes::from_static(b":a JOIN #c\r\n");
        assert_eq!(played_back(&join, 0, CapSet::EMPTY), join);
        let timed = played_back(&line, 0, CapSet::of(&[Cap::ServerTime]));
        assert!(timed.starts_with(b"@time=1970-01-01T00:00:00.000Z;msgid=x "));
    }

    #[test]
    fn time_stamps_round_trip() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(
                parse_time_stamp(&time_stamp(ms)),
                Some(ms),
                "{}",
                time_stamp(ms)
            );
        }
        assert_eq!(
            parse_time_stamp("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        for bad in [
            "",
            "yesterday",
            "2023-13-01T00:00:00Z",
            "2023-11-14 22:13:20",
            "2023-11-14T25:00:00Z",
            "2023-11-14T22:13:20.Z",
        ] {
            assert_eq!(parse_time_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn playback_is_bounded() {
        let mut c = Clients::new(3, History::new(0, u64::MAX));
        for i in 0..10u64 {
            c.broadcast_or_keep(Bytes::from(format!("{i}")), i, Kept::memory());
        }
        let p = c.take_playback();
        assert_eq!(p.len(), 3);
        assert_eq!(p.first().map(|(t, _)| *t), Some(7));
    }

    #[tokio::test]
    async fn what_is_noted_about_a_client_leaves_with_it() {
        let mut c = Clients::new(0, History::new(0, u64::MAX));
        let (tx, _rx) = mpsc::channel(1);
        let caps = CapSet::of(&[Cap::ServerTime]);
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
        let mut c = Clients::new(0, History::new(0, u64::MAX));
        let (tx, _rx) = mpsc::channel(2);
        c.attach(
            1,
            Client {
                tx,
                caps: CapSet::EMPTY,
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
