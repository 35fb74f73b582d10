//! The upstream send queue: one lane per message target, served round robin (one line per
//! turn) behind a token bucket (burst, then one line per interval). A lane that was empty
//! gets the next turn (as fq_codel serves new flows first), then joins the rotation: a line
//! typed to a channel while a 40-line OTR handshake waits for a peer goes out with the next
//! token, and the handshake keeps every token nobody else wants. Within a lane the order is
//! kept, so the fragments of one message stay in order. A change of our own prefix (NICK, a
//! user MODE that may change the host) is a barrier: what was queued before goes first and
//! what is queued after waits, since OTR fragments are sized for the prefix the server will
//! relay them with. Bounded overall; PING/PONG and registration pass outside it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

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

/// What waits behind a barrier, in the order queued.
#[derive(Debug)]
enum Held {
    Barrier(Bytes),
    Group(String, Vec<Bytes>),
}

/// Token bucket plus per-target lanes.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// Lines waiting per lane; a lane exists only while it holds a line.
    lanes: HashMap<String, VecDeque<Bytes>>,
    /// Lanes that were empty and have not had a turn since: served first.
    fresh: VecDeque<String>,
    /// The other lanes holding lines, in the order they get their next turn.
    turns: VecDeque<String>,
    /// A barrier line and what was queued after it (empty, or starting with a barrier).
    held: VecDeque<Held>,
    /// Lines waiting over all lanes and behind barriers.
    queued: usize,
}

impl Pacer {
    /// `interval` zero disables pacing.
    pub fn new(interval: Duration, burst: u32, now: Instant) -> Pacer {
        let burst = f64::from(burst.max(1));
        Pacer {
            interval,
            burst,
            tokens: burst,
            last: now,
            lanes: HashMap::new(),
            fresh: VecDeque::new(),
            turns: VecDeque::new(),
            held: VecDeque::new(),
            queued: 0,
        }
    }

    fn refill(&mut self, now: Instant) {
        if self.interval.is_zero() {
            self.tokens = self.burst;
            return;
        }
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens =
            (self.tokens + elapsed.as_secs_f64() / self.interval.as_secs_f64()).min(self.burst);
    }

    /// Queues lines in `lane` that must go out in order (all or nothing).
    pub fn push(
        &mut self,
        lane: Lane,
        lines: impl IntoIterator<Item = Bytes>,
    ) -> Result<(), QueueFull> {
        match lane {
            Lane::Of(name) => self.push_group(&name, lines),
            Lane::Barrier => {
                let lines: Vec<Bytes> = lines.into_iter().collect();
                if self.queued + lines.len() > MAX_QUEUED_LINES {
                    return Err(QueueFull);
                }
                self.queued += lines.len();
                self.held.extend(lines.into_iter().map(Held::Barrier));
                Ok(())
            }
        }
    }

    /// Queues lines for `lane` (a folded target, or a shared lane for commands) that must
    /// go out in order (all or nothing). A lane that was empty gets the next turn.
    pub fn push_group(
        &mut self,
        lane: &str,
        lines: impl IntoIterator<Item = Bytes>,
    ) -> Result<(), QueueFull> {
        let lines: Vec<Bytes> = lines.into_iter().collect();
        if lines.is_empty() {
            return Ok(());
        }
        if self.queued + lines.len() > MAX_QUEUED_LINES {
            return Err(QueueFull);
        }
        self.queued += lines.len();
        if self.held.is_empty() {
            self.insert(lane, lines);
        } else {
            self.held.push_back(Held::Group(lane.to_string(), lines));
        }
        Ok(())
    }

    fn insert(&mut self, lane: &str, lines: Vec<Bytes>) {
        match self.lanes.get_mut(lane) {
            Some(q) => q.extend(lines),
            None => {
                self.lanes.insert(lane.to_string(), lines.into());
                self.fresh.push_back(lane.to_string());
            }
        }
    }

    /// The next line, ignoring tokens: from the lanes, or once they are empty the barrier
    /// (then what waited behind it joins the lanes).
    fn take_next(&mut self) -> Option<Bytes> {
        if let Some(line) = self.take_from_lanes() {
            return Some(line);
        }
        let mut barrier = None;
        while let Some(held) = self.held.pop_front() {
            match held {
                Held::Barrier(line) if barrier.is_none() => barrier = Some(line),
                Held::Barrier(line) => {
                    self.held.push_front(Held::Barrier(line));
                    break;
                }
                Held::Group(lane, lines) => self.insert(&lane, lines),
            }
        }
        match barrier {
            Some(line) => {
                self.queued = self.queued.saturating_sub(1);
                Some(line)
            }
            // Only groups were held (cannot happen): they are in the lanes now.
            None => self.take_from_lanes(),
        }
    }

    /// The next line of the lane whose turn it is.
    fn take_from_lanes(&mut self) -> Option<Bytes> {
        while let Some(lane) = self.fresh.pop_front().or_else(|| self.turns.pop_front()) {
            let Some(q) = self.lanes.get_mut(&lane) else {
                continue;
            };
            let Some(line) = q.pop_front() else {
                self.lanes.remove(&lane);
                continue;
            };
            if q.is_empty() {
                self.lanes.remove(&lane);
            } else {
                self.turns.push_back(lane);
            }
            self.queued = self.queued.saturating_sub(1);
            return Some(line);
        }
        None
    }

    /// The next line that may be sent now, if any.
    pub fn pop(&mut self, now: Instant) -> Option<Bytes> {
        if self.queued == 0 {
            return None;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            let line = self.take_next()?;
            self.tokens -= 1.0;
            Some(line)
        } else {
            None
        }
    }

    /// Spends a token for a line that may go straight out: nothing is queued (so no line
    /// is overtaken) and the bucket has a token. Spares the lanes' bookkeeping when idle.
    pub fn pass(&mut self, now: Instant) -> bool {
        if self.queued > 0 {
            return false;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next queued line may go, if any is queued.
    pub fn next_ready(&self, now: Instant) -> Option<Instant> {
        if self.queued == 0 {
            return None;
        }
        if self.interval.is_zero() || self.tokens >= 1.0 {
            return Some(now);
        }
        let wait = self.interval.mul_f64((1.0 - self.tokens).max(0.0));
        Some(self.last + wait)
    }

    /// Turns pacing off (the server promised to pace us itself) or back to the configured
    /// interval.
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// Lines waiting.
    pub fn len(&self) -> usize {
        self.queued
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queued == 0
    }

    /// How long the last queued line will wait at most (an estimate for the user: the
    /// line that goes last is the last of the longest lane).
    pub fn delay(&self) -> Duration {
        if self.interval.is_zero() {
            return Duration::ZERO;
        }
        let behind = (self.queued as f64 - self.tokens).max(0.0);
        self.interval.mul_f64(behind)
    }

    /// Drops everything (the connection is gone); returns how many lines were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.queued;
        self.lanes.clear();
        self.fresh.clear();
        self.turns.clear();
        self.held.clear();
        self.queued = 0;
        n
    }

    /// Takes every queued line regardless of tokens, in the order they would have gone
    /// (shutdown flush).
    pub fn drain_all(&mut self) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(self.queued);
        while let Some(line) = self.take_next() {
            out.push(line);
        }
        self.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> Bytes {
        Bytes::from(format!("PRIVMSG x :{n}\r\n"))
    }

    fn to(target: &str, n: u32) -> Bytes {
        Bytes::from(format!("PRIVMSG {target} :{n}\r\n"))
    }

    /// Everything that may go at `now`.
    fn pop_all(p: &mut Pacer, now: Instant) -> Vec<Bytes> {
        std::iter::from_fn(|| p.pop(now)).collect()
    }

    #[test]
    fn burst_then_one_per_interval() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(2), 3, t0);
        p.push_group("x", (0..6).map(line)).unwrap();
        assert_eq!(pop_all(&mut p, t0).len(), 3);
        assert_eq!(p.next_ready(t0), Some(t0 + Duration::from_secs(2)));
        assert!(p.pop(t0 + Duration::from_millis(1999)).is_none());
        assert_eq!(p.pop(t0 + Duration::from_secs(2)), Some(line(3)));
        // Order is kept.
        assert_eq!(p.pop(t0 + Duration::from_secs(4)), Some(line(4)));
        assert_eq!(p.len(), 1);
        assert_eq!(p.delay(), Duration::from_secs(2));
    }

    #[test]
    fn pass_only_when_idle_and_counts_against_the_bucket() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(2), 2, t0);
        assert!(p.pass(t0));
        p.push_group("a", [to("a", 0)]).unwrap();
        // A line is queued: nothing may overtake it.
        assert!(!p.pass(t0));
        assert_eq!(p.pop(t0), Some(to("a", 0)));
        // Both tokens spent.
        assert!(!p.pass(t0));
        assert!(p.pass(t0 + Duration::from_secs(2)));
    }

    #[test]
    fn tokens_do_not_exceed_burst() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(1), 2, t0);
        p.push_group("x", (0..5).map(line)).unwrap();
        assert_eq!(pop_all(&mut p, t0 + Duration::from_secs(100)).len(), 2);
    }

    #[test]
    fn zero_interval_is_unpaced() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("x", (0..50).map(line)).unwrap();
        assert_eq!(pop_all(&mut p, t0).len(), 50);
    }

    #[test]
    fn bounded_all_or_nothing_over_all_lanes() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(1), 1, t0);
        p.push_group("a", (0..MAX_QUEUED_LINES as u32 - 1).map(line))
            .unwrap();
        // The bound is global: another lane cannot grow past it either.
        assert_eq!(p.push_group("b", [line(1), line(2)]), Err(QueueFull));
        assert_eq!(p.len(), MAX_QUEUED_LINES - 1);
        p.push_group("b", [line(3)]).unwrap();
        assert_eq!(p.push_group("c", [line(4)]), Err(QueueFull));
        assert_eq!(p.len(), MAX_QUEUED_LINES);
    }

    #[test]
    fn round_robin_one_line_per_turn() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("a", (0..3).map(|n| to("a", n))).unwrap();
        p.push_group("b", (0..2).map(|n| to("b", n))).unwrap();
        p.push_group("c", [to("c", 0)]).unwrap();
        let got = pop_all(&mut p, t0);
        let want = [
            to("a", 0),
            to("b", 0),
            to("c", 0),
            to("a", 1),
            to("b", 1),
            to("a", 2),
        ];
        assert_eq!(got, want);
        assert!(p.is_empty());
    }

    #[test]
    fn order_within_a_lane_across_groups() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("a", (0..3).map(|n| to("a", n))).unwrap();
        p.push_group("b", (0..5).map(|n| to("b", n))).unwrap();
        assert_eq!(p.pop(t0), Some(to("a", 0)));
        p.push_group("a", (3..6).map(|n| to("a", n))).unwrap();
        let mut got = vec![to("a", 0)];
        got.extend(pop_all(&mut p, t0));
        let a: Vec<Bytes> = got
            .iter()
            .filter(|l| l.starts_with(b"PRIVMSG a "))
            .cloned()
            .collect();
        assert_eq!(a, (0..6).map(|n| to("a", n)).collect::<Vec<_>>());
        assert_eq!(got.len(), 11);
    }

    #[test]
    fn a_line_behind_a_handshake_goes_next() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(2), 4, t0);
        // A 41-line handshake to one peer, the burst already spent on its first lines.
        p.push_group("bob", (0..41).map(|n| to("bob", n))).unwrap();
        assert_eq!(pop_all(&mut p, t0).len(), 4);
        assert_eq!(p.pop(t0 + Duration::from_secs(2)), Some(to("bob", 4)));
        p.push_group("#chan", [to("#chan", 0)]).unwrap();
        // The very next token.
        assert_eq!(p.pop(t0 + Duration::from_secs(4)), Some(to("#chan", 0)));
        // The handshake goes on, in order, at the bucket's rate.
        assert_eq!(p.pop(t0 + Duration::from_secs(6)), Some(to("bob", 5)));
        assert_eq!(p.pop(t0 + Duration::from_secs(6)), None);
    }

    #[test]
    fn busy_lanes_share_the_tokens() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("bob", (0..40).map(|n| to("bob", n))).unwrap();
        assert_eq!(p.pop(t0), Some(to("bob", 0)));
        // A second long message: after its first (fresh) turn it alternates with bob.
        p.push_group("carol", (0..3).map(|n| to("carol", n)))
            .unwrap();
        let next: Vec<Bytes> = (0..6).filter_map(|_| p.pop(t0)).collect();
        let want = [
            to("carol", 0),
            to("bob", 1),
            to("carol", 1),
            to("bob", 2),
            to("carol", 2),
            to("bob", 3),
        ];
        assert_eq!(next, want);
    }

    #[test]
    fn a_lane_that_emptied_is_fresh_again() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("a", (0..3).map(|n| to("a", n))).unwrap();
        p.push_group("b", [to("b", 0)]).unwrap();
        assert_eq!(p.pop(t0), Some(to("a", 0)));
        assert_eq!(p.pop(t0), Some(to("b", 0)));
        p.push_group("b", [to("b", 1)]).unwrap();
        assert_eq!(p.pop(t0), Some(to("b", 1)));
        assert_eq!(p.pop(t0), Some(to("a", 1)));
    }

    #[test]
    fn clear_and_drain_cover_every_lane() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(2), 1, t0);
        p.push_group("a", (0..2).map(|n| to("a", n))).unwrap();
        p.push_group("b", [to("b", 0)]).unwrap();
        assert_eq!(
            p.drain_all(),
            vec![to("a", 0), to("b", 0), to("a", 1)],
            "drained in turn order, regardless of tokens"
        );
        assert!(p.is_empty());
        p.push_group("a", [to("a", 9)]).unwrap();
        p.push_group("c", [to("c", 9)]).unwrap();
        assert_eq!(p.clear(), 2);
        assert!(p.is_empty());
        assert_eq!(p.next_ready(t0), None);
        assert_eq!(p.pop(t0 + Duration::from_secs(10)), None);
    }

    #[test]
    fn lanes_by_folded_target() {
        let fold = |s: &str| s.to_ascii_lowercase();
        let of = |s: &str| Lane::Of(s.to_string());
        assert_eq!(lane_of(b"PRIVMSG Bob :hi\r\n", fold), of("bob"));
        assert_eq!(lane_of(b"@t=1 :me NOTICE #Chan :hi\r\n", fold), of("#chan"));
        assert_eq!(lane_of(b"PART #Chan\r\n", fold), of("#chan"));
        assert_eq!(lane_of(b"MODE #Chan +o bob\r\n", fold), of("#chan"));
        assert_eq!(lane_of(b"WHOIS bob\r\n", fold), of(COMMANDS_LANE));
        assert_eq!(lane_of(b"PRIVMSG\r\n", fold), of(COMMANDS_LANE));
        assert_eq!(lane_of(b"\r\n", fold), of(COMMANDS_LANE));
        assert_eq!(lane_of(b"NICK x\r\n", fold), Lane::Barrier);
        assert_eq!(lane_of(b"MODE alice +x\r\n", fold), Lane::Barrier);
    }

    #[test]
    fn a_barrier_keeps_the_order_across_lanes() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group("bob", (0..3).map(|n| to("bob", n))).unwrap();
        p.push_group("#c", [to("#c", 0)]).unwrap();
        let nick = Bytes::from_static(b"NICK alice_away\r\n");
        p.push(Lane::Barrier, [nick.clone()]).unwrap();
        // Queued after the NICK: waits for it, fresh lane or not.
        p.push_group("#d", [to("#d", 0)]).unwrap();
        p.push_group("bob", [to("bob", 3)]).unwrap();
        assert_eq!(p.len(), 7);
        assert!(!p.pass(t0));
        let got = pop_all(&mut p, t0);
        let want = [
            to("bob", 0),
            to("#c", 0),
            to("bob", 1),
            to("bob", 2),
            nick,
            to("#d", 0),
            to("bob", 3),
        ];
        assert_eq!(got, want);
        assert!(p.is_empty());
    }

    #[test]
    fn barriers_in_a_row_and_clear() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        let (n1, n2) = (
            Bytes::from_static(b"NICK a\r\n"),
            Bytes::from_static(b"NICK b\r\n"),
        );
        p.push(Lane::Barrier, [n1.clone()]).unwrap();
        p.push_group("x", [to("x", 0)]).unwrap();
        p.push(Lane::Barrier, [n2.clone()]).unwrap();
        p.push_group("y", [to("y", 0)]).unwrap();
        assert_eq!(p.drain_all(), vec![n1, to("x", 0), n2, to("y", 0)]);
        p.push(Lane::Barrier, [to("z", 0)]).unwrap();
        p.push_group("x", [to("x", 1)]).unwrap();
        assert_eq!(p.clear(), 2);
        assert!(p.is_empty());
        assert_eq!(p.pop(t0), None);
    }
}
