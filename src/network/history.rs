//! The recent messages of one network, numbered, and where each named client stopped
//! reading: a named client that attaches again gets what it missed, whichever other
//! clients were attached meanwhile (soju's and ZNC's `user@client` login).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

use crate::store::{MessageLog, Record, StoreError};

/// Longest client name (`user@<name>`).
pub const MAX_CLIENT_NAME: usize = 32;
/// Most client names remembered (the least recently seen is forgotten first).
pub const MAX_CLIENT_NAMES: usize = 64;

/// Whether `name` may name a client: 1 to [`MAX_CLIENT_NAME`] bytes of letters, digits,
/// `-`, `_` and `.`.
pub fn valid_client_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLIENT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One kept message: its number, when it arrived (Unix ms), its conversation, the line as
/// clients got it, and whether it is in the message log on disk.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its number (increasing, never reused, also across restarts when logged).
    pub seq: u64,
    /// When it arrived (Unix milliseconds).
    pub ms: u64,
    /// The conversation: casefolded channel or other nick (empty for `*otr` notices).
    pub target: String,
    /// The line.
    pub line: Bytes,
    /// Written to the message log.
    pub persist: bool,
}

impl Entry {
    /// Its msgid: the server's `msgid` tag when the line came with one, otherwise otrbnc's
    /// (`otrbnc-<number>`).
    pub fn msgid(&self) -> String {
        self.server_msgid()
            .unwrap_or_else(|| format!("otrbnc-{}", self.seq))
    }

    fn server_msgid(&self) -> Option<String> {
        let tags = self.line.strip_prefix(b"@")?;
        let tags = tags.split(|&b| b == b' ').next()?;
        tags.split(|&b| b == b';')
            .find_map(|t| t.strip_prefix(b"msgid="))
            .map(unescape_tag_value)
    }
}

/// An IRCv3 tag value as a client reads it (`\:` is `;`, `\s` a space, `\\` a backslash,
/// `\r` and `\n` CR and LF, any other escaped character itself, a lone final `\` nothing):
/// a client names a message in CHATHISTORY by the msgid it read.
fn unescape_tag_value(v: &[u8]) -> String {
    let mut out = Vec::with_capacity(v.len());
    let mut it = v.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b':') => out.push(b';'),
            Some(b's') => out.push(b' '),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(&c) => out.push(c),
            None => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A message reference in CHATHISTORY: `*`, `timestamp=…` or `msgid=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsgRef {
    /// `*`: none (LATEST only).
    Any,
    /// A time (Unix ms).
    Time(u64),
    /// A message id.
    Msgid(String),
}

/// What CHATHISTORY asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// The latest messages (after the reference, if one is given).
    Latest(MsgRef),
    /// The messages just before the reference.
    Before(MsgRef),
    /// The messages just after the reference.
    After(MsgRef),
    /// Messages around the reference.
    Around(MsgRef),
    /// Messages between the two references (from the first towards the second).
    Between(MsgRef, MsgRef),
}

/// A reference as a point in the history: a time, or a message number.
#[derive(Debug, Clone, Copy)]
enum Point {
    Time(u64),
    Seq(u64),
}

impl Point {
    /// Whether `e` comes after this point.
    fn is_before(self, e: &Entry) -> bool {
        match self {
            Point::Time(t) => e.ms > t,
            Point::Seq(s) => e.seq > s,
        }
    }

    /// Whether `e` comes before this point.
    fn is_after(self, e: &Entry) -> bool {
        match self {
            Point::Time(t) => e.ms < t,
            Point::Seq(s) => e.seq < s,
        }
    }

    /// For ordering two points of one kind (a time and a number are not compared).
    fn key(self) -> u64 {
        match self {
            Point::Time(t) | Point::Seq(t) => t,
        }
    }
}

enum Resolved {
    Latest(Option<Point>),
    Before(Point),
    After(Point),
    Around(Point),
    Between(Point, Point),
}

impl Selector {
    /// With msgids looked up (`find`: number and time); `None` when one is not kept or `*`
    /// is misplaced.
    fn resolve(&self, find: impl Fn(&str) -> Option<(u64, u64)>) -> Option<Resolved> {
        let point = |r: &MsgRef| match r {
            MsgRef::Any => None,
            MsgRef::Time(t) => Some(Point::Time(*t)),
            MsgRef::Msgid(id) => find(id).map(|(seq, _)| Point::Seq(seq)),
        };
        let time = |r: &MsgRef| match r {
            MsgRef::Any => None,
            MsgRef::Time(t) => Some(Point::Time(*t)),
            MsgRef::Msgid(id) => find(id).map(|(_, ms)| Point::Time(ms)),
        };
        Some(match self {
            Selector::Latest(MsgRef::Any) => Resolved::Latest(None),
            Selector::Latest(r) => Resolved::Latest(Some(point(r)?)),
            Selector::Before(r) => Resolved::Before(point(r)?),
            Selector::After(r) => Resolved::After(point(r)?),
            Selector::Around(r) => Resolved::Around(point(r)?),
            Selector::Between(a, b) => {
                let (pa, pb) = (point(a)?, point(b)?);
                if std::mem::discriminant(&pa) == std::mem::discriminant(&pb) {
                    Resolved::Between(pa, pb)
                } else {
                    // A time and a msgid: both as times, the msgid's through its message.
                    Resolved::Between(time(a)?, time(b)?)
                }
            }
        })
    }
}

/// How a kept message is filed.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Its conversation (casefolded channel or other nick).
    pub target: String,
    /// Whether it may be written to disk.
    pub persist: bool,
}

impl Kept {
    /// Kept in memory only, in no conversation (`*otr` notices, OTR status).
    pub fn memory() -> Kept {
        Kept::default()
    }

    /// Kept, and written to disk when the log is on.
    pub fn stored(target: String) -> Kept {
        Kept {
            target,
            persist: true,
        }
    }
}

/// The kept messages, the named clients' read positions, and the log on disk.
#[derive(Debug)]
pub struct History {
    entries: VecDeque<Entry>,
    next_seq: u64,
    max: usize,
    max_age_ms: u64,
    /// For each client name: the first message it has not got, and when it was last seen
    /// (to forget the oldest names first).
    seen: BTreeMap<String, (u64, u64)>,
    log: Option<MessageLog>,
    /// Records in the log file (it is rewritten when they far outnumber what is kept).
    on_disk: usize,
    /// Why the log stopped being written (told once).
    log_failed: Option<String>,
}

impl History {
    /// Empty, in memory; keeps at most `max` messages, none older than `max_age_ms`.
    pub fn new(max: usize, max_age_ms: u64) -> History {
        History {
            entries: VecDeque::new(),
            next_seq: 1,
            max,
            max_age_ms,
            seen: BTreeMap::new(),
            log: None,
            on_disk: 0,
            log_failed: None,
        }
    }

    /// The same, backed by `log` and starting with what it held (`records`, as read).
    pub fn with_log(
        max: usize,
        max_age_ms: u64,
        log: MessageLog,
        records: Vec<Record>,
        now_ms: u64,
    ) -> History {
        let mut h = History::new(max, max_age_ms);
        let read = records.len();
        for rec in records {
            match rec {
                Record::Message {
                    seq,
                    ms,
                    target,
                    line,
                } => {
                    h.next_seq = h.next_seq.max(seq + 1);
                    h.entries.push_back(Entry {
                        seq,
                        ms,
                        target,
                        line: Bytes::from(line),
                        persist: true,
                    });
                    if h.entries.len() > max {
                        h.entries.pop_front();
                    }
                }
                Record::Position { name, seq, ms } => {
                    h.next_seq = h.next_seq.max(seq);
                    h.seen.insert(name, (seq, ms));
                }
            }
        }
        h.expire(now_ms);
        h.on_disk = read;
        h.log = Some(log);
        // Bounds that changed (or time that passed) since it was written: write what stays.
        if read > h.entries.len() + h.seen.len() {
            h.compact();
        }
        h
    }

    /// Keeps a message.
    pub fn push(&mut self, ms: u64, line: Bytes, kept: Kept) {
        if self.max == 0 {
            return;
        }
        if self.entries.len() >= self.max {
            self.entries.pop_front();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        // A copy of its own: a line read from a socket shares the read buffer, which would
        // stay allocated as long as the line is kept.
        let line = Bytes::copy_from_slice(&line);
        if kept.persist
            && let Some(log) = &mut self.log
        {
            let result = log.append_message(seq, ms, &kept.target, &line);
            self.on_disk += 1;
            self.check(result);
        }
        self.entries.push_back(Entry {
            seq,
            ms,
            target: kept.target,
            line,
            persist: kept.persist,
        });
        self.expire(ms);
        if self.on_disk > 2 * self.max + 2 * MAX_CLIENT_NAMES + 1024 {
            self.compact();
        }
    }

    /// Drops what is older than the age bound.
    fn expire(&mut self, now_ms: u64) {
        let oldest = now_ms.saturating_sub(self.max_age_ms);
        while self.entries.front().is_some_and(|e| e.ms < oldest) {
            self.entries.pop_front();
        }
    }

    /// Rewrites the log with what is kept.
    fn compact(&mut self) {
        let Some(log) = &mut self.log else { return };
        let records: Vec<Record> = self
            .entries
            .iter()
            .filter(|e| e.persist)
            .map(|e| Record::Message {
                seq: e.seq,
                ms: e.ms,
                target: e.target.clone(),
                line: e.line.to_vec(),
            })
            .chain(self.seen.iter().map(|(name, (seq, ms))| Record::Position {
                name: name.clone(),
                seq: *seq,
                ms: *ms,
            }))
            .collect();
        let result = log.rewrite(records.iter());
        self.on_disk = records.len();
        self.check(result);
    }

    /// Writes what waits to the log (on a timer: a message reaches the disk within a
    /// second or so). Returns why the log stopped, once, when it did.
    pub fn flush(&mut self) -> Option<String> {
        if let Some(log) = &mut self.log
            && log.has_pending()
        {
            let result = log.flush();
            return self.check(result);
        }
        None
    }

    /// Whether records wait to be written.
    pub fn has_pending(&self) -> bool {
        self.log.as_ref().is_some_and(MessageLog::has_pending)
    }

    /// A failed write stops the log (messages stay kept in memory) and is told once.
    fn check(&mut self, result: Result<(), StoreError>) -> Option<String> {
        let e = result.err()?;
        tracing::warn!(error = %e, "the message log could not be written; history stays in memory only");
        self.log = None;
        let text = format!("Message history is no longer written to disk: {e}");
        self.log_failed = Some(text.clone());
        Some(text)
    }

    /// Why the log stopped, if it did (for the user, taken once).
    pub fn take_failure(&mut self) -> Option<String> {
        self.log_failed.take()
    }

    /// A named client left (its last connection): it has got everything so far.
    pub fn left(&mut self, name: &str, now_ms: u64) {
        if !self.seen.contains_key(name) && self.seen.len() >= MAX_CLIENT_NAMES {
            let oldest = self
                .seen
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                self.seen.remove(&n);
            }
        }
        self.seen.insert(name.to_string(), (self.next_seq, now_ms));
        if let Some(log) = &mut self.log {
            let rec = Record::Position {
                name: name.to_string(),
                seq: self.next_seq,
                ms: now_ms,
            };
            let result = log.append(&rec);
            self.on_disk += 1;
            self.check(result);
        }
    }

    /// Whether a client of that name left before (and is remembered).
    pub fn knows(&self, name: &str) -> bool {
        self.seen.contains_key(name)
    }

    /// What a named client missed since it left, and how many of those messages were no
    /// longer kept. A name never seen before missed nothing.
    pub fn missed(&self, name: &str) -> (Vec<Entry>, u64) {
        let Some((from, _)) = self.seen.get(name) else {
            return (Vec::new(), 0);
        };
        let first_kept = self.entries.front().map_or(self.next_seq, |e| e.seq);
        let lost = first_kept.saturating_sub(*from);
        let missed = self
            .entries
            .iter()
            .filter(|e| e.seq >= *from)
            .cloned()
            .collect();
        (missed, lost)
    }

    /// CHATHISTORY: the messages of conversation `target` (casefolded) that `sel` picks,
    /// at most `limit`, oldest first. A msgid that is not kept picks nothing.
    pub fn select(&self, target: &str, sel: &Selector, limit: usize) -> Vec<Entry> {
        let conv = || self.entries.iter().filter(|e| e.target == target);
        let Some(sel) = sel.resolve(|id| conv().find(|e| e.msgid() == id).map(|e| (e.seq, e.ms)))
        else {
            return Vec::new();
        };
        let last = |pred: &dyn Fn(&Entry) -> bool| -> Vec<Entry> {
            let mut v: Vec<Entry> = self
                .entries
                .iter()
                .rev()
                .filter(|e| e.target == target && pred(e))
                .take(limit)
                .cloned()
                .collect();
            v.reverse();
            v
        };
        let first = |pred: &dyn Fn(&Entry) -> bool| -> Vec<Entry> {
            conv().filter(|e| pred(e)).take(limit).cloned().collect()
        };
        match sel {
            Resolved::Latest(None) => last(&|_| true),
            Resolved::Latest(Some(r)) => last(&|e| r.is_before(e)),
            Resolved::Before(r) => last(&|e| r.is_after(e)),
            Resolved::After(r) => first(&|e| r.is_before(e)),
            Resolved::Around(r) => {
                let mut v = last(&|e| r.is_after(e));
                let keep = limit / 2;
                let cut = v.len().saturating_sub(keep);
                v.drain(..cut);
                let room = limit.saturating_sub(v.len());
                v.extend(conv().filter(|e| !r.is_after(e)).take(room).cloned());
                v
            }
            Resolved::Between(a, b) => {
                if a.key() <= b.key() {
                    first(&|e| a.is_before(e) && b.is_after(e))
                } else {
                    last(&|e| b.is_before(e) && a.is_after(e))
                }
            }
        }
    }

    /// CHATHISTORY TARGETS: conversations with a message between the two times (Unix ms,
    /// either order), with their latest time, oldest first, at most `limit`.
    pub fn targets(&self, a: u64, b: u64, limit: usize) -> Vec<(String, u64)> {
        let (from, to) = (a.min(b), a.max(b));
        let mut latest: BTreeMap<&str, u64> = BTreeMap::new();
        for e in self
            .entries
            .iter()
            .filter(|e| !e.target.is_empty() && e.ms > from && e.ms < to)
        {
            latest.insert(&e.target, e.ms);
        }
        let mut v: Vec<(String, u64)> = latest
            .into_iter()
            .map(|(t, ms)| (t.to_string(), ms))
            .collect();
        v.sort_by_key(|(_, ms)| *ms);
        v.truncate(limit);
        v
    }

    /// The last `n` messages of every conversation, oldest first.
    pub fn recent(&self, n: usize) -> Vec<Entry> {
        let skip = self.entries.len().saturating_sub(n);
        self.entries.iter().skip(skip).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u64) -> Bytes {
        Bytes::from(format!("PRIVMSG #c :{i}"))
    }

    #[test]
    fn a_named_client_gets_what_came_after_it_left_once_per_absence() {
        let mut h = History::new(100, u64::MAX);
        h.push(1, line(1), Kept::memory());
        assert_eq!(h.missed("phone").0.len(), 0, "never seen: nothing");
        h.left("phone", 1);
        h.push(2, line(2), Kept::memory());
        h.push(3, line(3), Kept::memory());
        let (missed, lost) = h.missed("phone");
        assert_eq!(lost, 0);
        let got: Vec<u64> = missed.iter().map(|e| e.ms).collect();
        assert_eq!(got, vec![2, 3]);
        // Attached again and left again: only what came after.
        h.left("phone", 3);
        h.push(4, line(4), Kept::memory());
        assert_eq!(h.missed("phone").0.len(), 1);
    }

    #[test]
    fn what_is_no_longer_kept_is_counted() {
        let mut h = History::new(3, u64::MAX);
        h.left("desk", 0);
        for i in 0..10 {
            h.push(i, line(i), Kept::memory());
        }
        let (missed, lost) = h.missed("desk");
        assert_eq!(missed.len(), 3);
        assert_eq!(lost, 7);
    }

    fn conv() -> History {
        let mut h = History::new(1000, u64::MAX);
        for i in 1..=30u64 {
            h.push(i * 10, line(i), Kept::stored("#c".into()));
            // Another conversation in between: never in #c's answers.
            h.push(i * 10 + 1, line(100 + i), Kept::stored("#other".into()));
        }
        h
    }

    fn texts(v: &[Entry]) -> Vec<String> {
        v.iter()
            .map(|e| {
                String::from_utf8_lossy(&e.line)
                    .rsplit(':')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    fn nums(a: u64, b: u64) -> Vec<String> {
        (a..=b).map(|i| i.to_string()).collect()
    }

    #[test]
    fn chathistory_windows() {
        let h = conv();
        let id = |i: u64| MsgRef::Msgid(format!("otrbnc-{}", 2 * i - 1));
        assert_eq!(
            texts(&h.select("#c", &Selector::Latest(MsgRef::Any), 50)),
            nums(1, 30)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Latest(MsgRef::Any), 5)),
            nums(26, 30)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Latest(id(27)), 50)),
            nums(28, 30)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Before(id(20)), 5)),
            nums(15, 19)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::After(id(20)), 5)),
            nums(21, 25)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Before(MsgRef::Time(100)), 3)),
            nums(7, 9)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::After(MsgRef::Time(100)), 3)),
            nums(11, 13)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Around(id(10)), 4)),
            nums(8, 11)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Between(id(3), id(9)), 100)),
            nums(4, 8)
        );
        assert_eq!(
            texts(&h.select("#c", &Selector::Between(id(9), id(3)), 2)),
            nums(7, 8)
        );
        // An unknown msgid, or one of another conversation, picks nothing.
        assert!(
            h.select("#c", &Selector::After(MsgRef::Msgid("nope".into())), 5)
                .is_empty()
        );
        assert!(
            h.select("#c", &Selector::After(MsgRef::Msgid("otrbnc-2".into())), 5)
                .is_empty()
        );
        let t = h.targets(0, 1000, 10);
        assert_eq!(
            t,
            vec![("#c".to_string(), 300), ("#other".to_string(), 301)]
        );
    }

    #[test]
    fn between_a_msgid_and_a_time_goes_by_the_messages_time() {
        let h = conv();
        // #c's message i arrived at i * 10 ms and is number 2i - 1.
        let sel = Selector::Between(MsgRef::Msgid("otrbnc-5".into()), MsgRef::Time(75));
        assert_eq!(texts(&h.select("#c", &sel, 100)), nums(4, 7));
    }

    #[test]
    fn an_escaped_server_msgid_is_named_as_a_client_reads_it() {
        let mut h = History::new(10, u64::MAX);
        h.push(
            1,
            Bytes::from_static(b"@msgid=a\\:b\\sc\\\\d :x PRIVMSG #c :1"),
            Kept::stored("#c".into()),
        );
        h.push(2, line(2), Kept::stored("#c".into()));
        let all = h.select("#c", &Selector::Latest(MsgRef::Any), 10);
        assert_eq!(all.first().map(Entry::msgid).as_deref(), Some("a;b c\\d"));
        let after = h.select("#c", &Selector::After(MsgRef::Msgid("a;b c\\d".into())), 10);
        assert_eq!(texts(&after), vec!["2"]);
    }

    #[test]
    fn a_server_msgid_is_the_messages_id() {
        let mut h = History::new(10, u64::MAX);
        h.push(
            1,
            Bytes::from_static(b"@msgid=srv1;time=x :a PRIVMSG #c :1"),
            Kept::stored("#c".into()),
        );
        h.push(2, line(2), Kept::stored("#c".into()));
        let all = h.select("#c", &Selector::Latest(MsgRef::Any), 10);
        assert_eq!(
            all.iter().map(Entry::msgid).collect::<Vec<_>>(),
            vec!["srv1", "otrbnc-2"]
        );
        let after = h.select("#c", &Selector::After(MsgRef::Msgid("srv1".into())), 10);
        assert_eq!(texts(&after), vec!["2"]);
    }

    #[test]
    fn names_are_bounded_and_checked() {
        let mut h = History::new(1, u64::MAX);
        for i in 0..(MAX_CLIENT_NAMES as u64 + 5) {
            h.left(&format!("c{i}"), i);
        }
        assert_eq!(h.seen.len(), MAX_CLIENT_NAMES);
        assert!(!h.seen.contains_key("c0"), "the oldest went first");
        assert!(valid_client_name("phone-2.home_x"));
        for bad in ["", "a b", "a/b", "a:b", "é", &"x".repeat(33)] {
            assert!(!valid_client_name(bad), "{bad:?}");
        }
    }
}
