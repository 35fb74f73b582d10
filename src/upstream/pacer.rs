//! The upstream send queue: one lane per message target, served round robin (one line per
//! turn) behind a token bucket (burst, then one line per interval). A lane that was empty
//! gets the next turn (as fq_codel serves new flows first), then joins the rotation: a line
//! typed to a channel while a 40-line OTR handshake waits for a peer goes out with the next
//! token, and the handshake keeps every token nobody else wants. Within a lane the order is
//! kept, so the fragments of one message stay in order. Bounded overall; PING/PONG and
//! registration pass outside it.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Most lines waiting, over all lanes (about 2 MB at 400 bytes).
pub const MAX_QUEUED_LINES: usize = 5000;

/// The queue is full; the lines were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream send queue is full")]
pub struct QueueFull;

/// The lane of lines with no message target (NICK, WHOIS, AWAY, raw commands): one shared
/// lane keeps them in the order typed. No target folds to the empty string.
pub const COMMANDS_LANE: &str = "";

/// The lane a line to the server goes in: the folded target of a message, or of a command
/// about one channel (so `JOIN #a`, `PRIVMSG #a`, `PART #a` keep their order); everything
/// else shares [`COMMANDS_LANE`]. `fold` is the server's case mapping, so `Bob` and `bob`
/// share a lane.
pub fn lane_of(line: &[u8], fold: impl Fn(&str) -> String) -> String {
    const TARGETED: [&str; 8] = [
        "PRIVMSG", "NOTICE", "TAGMSG", "JOIN", "PART", "MODE", "TOPIC", "KICK",
    ];
    let Some(parsed) = crate::irc::Line::parse(line) else {
        return COMMANDS_LANE.to_string();
    };
    if !TARGETED.iter().any(|c| parsed.is(c)) {
        return COMMANDS_LANE.to_string();
    }
    match parsed.param(0) {
        Some(t) if !t.is_empty() => fold(&String::from_utf8_lossy(t)),
        _ => COMMANDS_LANE.to_string(),
    }
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
    /// Lines waiting over all lanes.
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
        match self.lanes.get_mut(lane) {
            Some(q) => q.extend(lines),
            None => {
                self.lanes.insert(lane.to_string(), lines.into());
                self.fresh.push_back(lane.to_string());
            }
        }
        Ok(())
    }

    /// The next line of the lane whose turn it is, ignoring tokens.
    fn take_next(&mut self) -> Option<Bytes> {
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
        assert_eq!(lane_of(b"PRIVMSG Bob :hi\r\n", fold), "bob");
        assert_eq!(lane_of(b"@t=1 :me NOTICE #Chan :hi\r\n", fold), "#chan");
        assert_eq!(lane_of(b"PART #Chan\r\n", fold), "#chan");
        assert_eq!(lane_of(b"WHOIS bob\r\n", fold), COMMANDS_LANE);
        assert_eq!(lane_of(b"NICK x\r\n", fold), COMMANDS_LANE);
        assert_eq!(lane_of(b"PRIVMSG\r\n", fold), COMMANDS_LANE);
        assert_eq!(lane_of(b"\r\n", fold), COMMANDS_LANE);
    }
}
