//! The upstream send queue: a token bucket (burst, then one line per interval), FIFO so the
//! fragments of one message stay together, bounded, with PING/PONG passing outside it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Most lines waiting (about 2 MB at 400 bytes).
pub const MAX_QUEUED_LINES: usize = 5000;

/// The queue is full; the lines were not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("upstream send queue is full")]
pub struct QueueFull;

/// Token bucket plus queue.
#[derive(Debug)]
pub struct Pacer {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
    queue: VecDeque<Bytes>,
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
            queue: VecDeque::new(),
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

    /// Queues lines that must go out back to back, in order (all or nothing).
    pub fn push_group(&mut self, lines: impl IntoIterator<Item = Bytes>) -> Result<(), QueueFull> {
        let lines: Vec<Bytes> = lines.into_iter().collect();
        if self.queue.len() + lines.len() > MAX_QUEUED_LINES {
            return Err(QueueFull);
        }
        self.queue.extend(lines);
        Ok(())
    }

    /// The next line that may be sent now, if any.
    pub fn pop(&mut self, now: Instant) -> Option<Bytes> {
        if self.queue.is_empty() {
            return None;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.queue.pop_front()
        } else {
            None
        }
    }

    /// When the next queued line may go, if any is queued.
    pub fn next_ready(&self, now: Instant) -> Option<Instant> {
        if self.queue.is_empty() {
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
        self.queue.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// How long the last queued line will wait (an estimate for the user).
    pub fn delay(&self) -> Duration {
        if self.interval.is_zero() {
            return Duration::ZERO;
        }
        let behind = (self.queue.len() as f64 - self.tokens).max(0.0);
        self.interval.mul_f64(behind)
    }

    /// Drops everything (the connection is gone); returns how many lines were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }

    /// Takes every queued line regardless of tokens (shutdown flush).
    pub fn drain_all(&mut self) -> Vec<Bytes> {
        self.queue.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> Bytes {
        Bytes::from(format!("PRIVMSG x :{n}\r\n"))
    }

    #[test]
    fn burst_then_one_per_interval() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(2), 3, t0);
        p.push_group((0..6).map(line)).unwrap();
        let mut sent = 0;
        while p.pop(t0).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 3);
        assert_eq!(p.next_ready(t0), Some(t0 + Duration::from_secs(2)));
        assert!(p.pop(t0 + Duration::from_millis(1999)).is_none());
        assert_eq!(p.pop(t0 + Duration::from_secs(2)), Some(line(3)));
        // Order is kept.
        assert_eq!(p.pop(t0 + Duration::from_secs(4)), Some(line(4)));
        assert_eq!(p.len(), 1);
        assert_eq!(p.delay(), Duration::from_secs(2));
    }

    #[test]
    fn tokens_do_not_exceed_burst() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(1), 2, t0);
        p.push_group((0..5).map(line)).unwrap();
        let later = t0 + Duration::from_secs(100);
        let mut sent = 0;
        while p.pop(later).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 2);
    }

    #[test]
    fn zero_interval_is_unpaced() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, 1, t0);
        p.push_group((0..50).map(line)).unwrap();
        let mut sent = 0;
        while p.pop(t0).is_some() {
            sent += 1;
        }
        assert_eq!(sent, 50);
    }

    #[test]
    fn bounded_all_or_nothing() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::from_secs(1), 1, t0);
        p.push_group((0..MAX_QUEUED_LINES as u32 - 1).map(line))
            .unwrap();
        assert_eq!(p.push_group([line(1), line(2)]), Err(QueueFull));
        assert_eq!(p.len(), MAX_QUEUED_LINES - 1);
        p.push_group([line(3)]).unwrap();
    }
}
