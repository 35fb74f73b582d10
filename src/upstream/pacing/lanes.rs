//! Per-target lanes served round robin (one line per turn). A lane that was empty gets the
//! next turn (as fq_codel serves new flows first), then joins the rotation: a line typed to a
//! channel while a 40-line OTR handshake waits for a peer goes out next, and the handshake
//! keeps every turn nobody else wants. Within a lane the order is kept per class: lines that
//! may wait (bulk: post-quantum material nothing typed depends on) go after the lane's other
//! lines, and lines the server dropped go first of all. A change of our own prefix (NICK, a
//! user MODE that may change the host) is a barrier: what was queued before goes first and
//! what is queued after waits, since OTR fragments are sized for the prefix the server will
//! relay them with. A lane the caller says may not send now keeps its place in the rotation.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

/// Most lines waiting, over all lanes (about 2 MB at 400 bytes).
pub const MAX_QUEUED_LINES: usize = 5000;

/// The queue is full; the lines were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream send queue is full")]
pub struct QueueFull;

/// The lane of lines with no message target (WHOIS, AWAY, raw commands): one shared lane
/// keeps them in the order typed. No target folds to the empty string.
pub const COMMANDS_LANE: &str = "";

/// Where a line to the server is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lane {
    /// The lane of one folded target (or [`COMMANDS_LANE`]).
    Of(String),
    /// After everything queued before it, before everything queued after it.
    Barrier,
}

/// Channel prefixes for telling a channel MODE from a user MODE (the usual CHANTYPES; a
/// miss only changes the order, not what is sent).
const CHANNEL_PREFIXES: &[u8] = b"#&!+";

/// The lane a line to the server goes in: the folded target of a message, or of a command
/// about one channel (so `JOIN #a`, `PRIVMSG #a`, `PART #a` keep their order); a barrier for
/// NICK and user MODEs (they may change our prefix); everything else shares
/// [`COMMANDS_LANE`]. `fold` is the server's case mapping, so `Bob` and `bob` share a lane.
pub fn lane_of(line: &[u8], fold: impl Fn(&str) -> String) -> Lane {
    const TARGETED: [&str; 8] = [
        "PRIVMSG", "NOTICE", "TAGMSG", "JOIN", "PART", "MODE", "TOPIC", "KICK",
    ];
    let commands = || Lane::Of(COMMANDS_LANE.to_string());
    let Some(parsed) = crate::irc::Line::parse(line) else {
        return commands();
    };
    let target = parsed.param(0).filter(|t| !t.is_empty());
    let user_mode = parsed.is("MODE")
        && target.is_some_and(|t| t.first().is_some_and(|c| !CHANNEL_PREFIXES.contains(c)));
    if parsed.is("NICK") || user_mode {
        return Lane::Barrier;
    }
    if !TARGETED.iter().any(|c| parsed.is(c)) {
        return commands();
    }
    match target {
        Some(t) => Lane::Of(fold(&String::from_utf8_lossy(t))),
        None => commands(),
    }
}

/// Whether lines may wait behind the lane's other lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Goes in the order queued, before bulk lines.
    Normal,
    /// May wait (post-quantum material): after the lane's normal lines.
    Bulk,
}

/// What waits behind a barrier, in the order queued.
#[derive(Debug)]
enum Held {
    Barrier(Bytes),
    Group(String, Class, Vec<Bytes>),
}

/// One lane's lines.
#[derive(Debug, Default)]
struct LaneQ {
    /// Resent lines first (the first `resent` of them), then normal lines.
    normal: VecDeque<Bytes>,
    resent: usize,
    bulk: VecDeque<Bytes>,
}

impl LaneQ {
    fn front(&self) -> Option<&Bytes> {
        self.normal.front().or_else(|| self.bulk.front())
    }

    fn front_class(&self) -> Class {
        if self.normal.is_empty() {
            Class::Bulk
        } else {
            Class::Normal
        }
    }

    fn pop(&mut self) -> Option<(Bytes, Class)> {
        if let Some(l) = self.normal.pop_front() {
            self.resent = self.resent.saturating_sub(1);
            return Some((l, Class::Normal));
        }
        self.bulk.pop_front().map(|l| (l, Class::Bulk))
    }

    fn is_empty(&self) -> bool {
        self.normal.is_empty() && self.bulk.is_empty()
    }

    fn len(&self) -> usize {
        self.normal.len() + self.bulk.len()
    }
}

/// Which line goes next (from [`Lanes::pick`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// The next line of this lane.
    Lane(String),
    /// The barrier line at the head of the held lines.
    Barrier,
}

/// The lanes, their rotation and what waits behind barriers.
#[derive(Debug, Default)]
pub struct Lanes {
    /// Lines waiting per lane; a lane exists only while it holds a line.
    lanes: HashMap<String, LaneQ>,
    /// Lanes that were empty and have not had a turn since: served first.
    fresh: VecDeque<String>,
    /// The other lanes holding lines, in the order they get their next turn.
    turns: VecDeque<String>,
    /// A barrier line and what was queued after it (empty, or starting with a barrier).
    held: VecDeque<Held>,
    /// Lines waiting over all lanes and behind barriers.
    queued: usize,
}

impl Lanes {
    /// Queues lines in `lane` that must go out in order (all or nothing).
    pub fn push(&mut self, lane: Lane, class: Class, lines: Vec<Bytes>) -> Result<(), QueueFull> {
        if lines.is_empty() {
            return Ok(());
        }
        if self.queued + lines.len() > MAX_QUEUED_LINES {
            return Err(QueueFull);
        }
        self.queued += lines.len();
        match lane {
            Lane::Barrier => self.held.extend(lines.into_iter().map(Held::Barrier)),
            Lane::Of(name) if self.held.is_empty() => self.insert(&name, class, lines),
            Lane::Of(name) => self.held.push_back(Held::Group(name, class, lines)),
        }
        Ok(())
    }

    /// Puts lines the server dropped back at the head of their lane, after lines resent
    /// earlier and not yet sent again, in the order given. Not bounded by
    /// [`MAX_QUEUED_LINES`]: they were queued once already (the window bounds them).
    pub fn push_resent(&mut self, lane: &str, lines: Vec<Bytes>) {
        if lines.is_empty() {
            return;
        }
        self.queued += lines.len();
        let q = self.lane_mut(lane);
        let at = q.resent.min(q.normal.len());
        let n = lines.len();
        for (i, l) in lines.into_iter().enumerate() {
            q.normal.insert(at + i, l);
        }
        q.resent = at + n;
    }

    fn lane_mut(&mut self, lane: &str) -> &mut LaneQ {
        if !self.lanes.contains_key(lane) {
            self.fresh.push_back(lane.to_string());
        }
        self.lanes.entry(lane.to_string()).or_default()
    }

    fn insert(&mut self, lane: &str, class: Class, lines: Vec<Bytes>) {
        let q = self.lane_mut(lane);
        match class {
            Class::Normal => q.normal.extend(lines),
            Class::Bulk => q.bulk.extend(lines),
        }
    }

    /// The lane whose turn it is among those `may_send` allows, or the barrier once every
    /// lane is empty. None: nothing is queued, or only lanes that may not send now.
    pub fn pick(&self, may_send: impl Fn(&str, Class) -> bool) -> Option<Pick> {
        if let Some(lane) = self
            .fresh
            .iter()
            .chain(self.turns.iter())
            .find(|l| may_send(l, self.front_class(l)))
        {
            return Some(Pick::Lane(lane.clone()));
        }
        if self.lanes.is_empty() && matches!(self.held.front(), Some(Held::Barrier(_))) {
            return Some(Pick::Barrier);
        }
        None
    }

    /// The line `pick` would take (for its size).
    pub fn peek(&self, pick: &Pick) -> Option<&Bytes> {
        match pick {
            Pick::Lane(lane) => self.lanes.get(lane).and_then(LaneQ::front),
            Pick::Barrier => match self.held.front() {
                Some(Held::Barrier(l)) => Some(l),
                _ => None,
            },
        }
    }

    /// Takes the picked line; the lane goes to the back of the rotation.
    pub fn take(&mut self, pick: &Pick) -> Option<(Bytes, Class)> {
        match pick {
            Pick::Lane(lane) => {
                if let Some(i) = self.fresh.iter().position(|l| l == lane) {
                    self.fresh.remove(i);
                } else if let Some(i) = self.turns.iter().position(|l| l == lane) {
                    self.turns.remove(i);
                }
                let q = self.lanes.get_mut(lane)?;
                let out = q.pop();
                if q.is_empty() {
                    self.lanes.remove(lane);
                } else {
                    self.turns.push_back(lane.clone());
                }
                if out.is_some() {
                    self.queued = self.queued.saturating_sub(1);
                }
                out
            }
            Pick::Barrier => {
                let Some(Held::Barrier(line)) = self.held.pop_front() else {
                    return None;
                };
                // What waited behind it joins the lanes, up to the next barrier.
                while let Some(Held::Group(..)) = self.held.front() {
                    if let Some(Held::Group(lane, class, lines)) = self.held.pop_front() {
                        self.insert(&lane, class, lines);
                    }
                }
                self.queued = self.queued.saturating_sub(1);
                Some((line, Class::Normal))
            }
        }
    }

    /// The lanes holding lines, with how many each holds.
    pub fn lane_lengths(&self) -> impl Iterator<Item = (&str, usize)> {
        self.lanes.iter().map(|(k, q)| (k.as_str(), q.len()))
    }

    /// Bulk lines waiting for `lane`, behind barriers too.
    pub fn bulk_len(&self, lane: &str) -> usize {
        let held: usize = self
            .held
            .iter()
            .map(|h| match h {
                Held::Group(l, Class::Bulk, lines) if l == lane => lines.len(),
                _ => 0,
            })
            .sum();
        self.lanes.get(lane).map_or(0, |q| q.bulk.len()) + held
    }

    /// The class of the line a lane would send next (bulk only when nothing else waits).
    pub fn front_class(&self, lane: &str) -> Class {
        self.lanes
            .get(lane)
            .map_or(Class::Normal, LaneQ::front_class)
    }

    /// Lines waiting.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// Drops the bulk lines waiting for `lane` (also those behind barriers); returns how
    /// many. A lane left empty leaves the rotation.
    pub fn drop_bulk(&mut self, lane: &str) -> usize {
        let mut dropped = 0;
        if let Some(q) = self.lanes.get_mut(lane) {
            dropped += q.bulk.len();
            q.bulk.clear();
            if q.is_empty() {
                self.lanes.remove(lane);
                self.fresh.retain(|l| l != lane);
                self.turns.retain(|l| l != lane);
            }
        }
        self.held.retain(|h| match h {
            Held::Group(l, Class::Bulk, lines) if l == lane => {
                dropped += lines.len();
                false
            }
            _ => true,
        });
        self.queued = self.queued.saturating_sub(dropped);
        dropped
    }

    /// Drops everything; returns how many lines were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.queued;
        *self = Lanes::default();
        n
    }

    /// Takes every line in the order they would go, ignoring any limit.
    pub fn drain_all(&mut self) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.queued);
        while let Some(pick) = self.pick(|_, _| true) {
            match self.take(&pick) {
                Some((l, _)) => out.push(l),
                None => break,
            }
        }
        self.clear();
        out
    }
}
