//! A token bucket over every paced line: a burst, then one line per interval (ZNC's and
//! soju's rule). Off (interval zero) for servers whose own queue the window bounds.

use std::time::{Duration, Instant};

/// Burst, then one line per interval.
#[derive(Debug)]
pub struct Bucket {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// `interval` zero: no limit.
    pub fn new(interval: Duration, burst: u32, now: Instant) -> Bucket {
        let burst = f64::from(burst.max(1));
        Bucket {
            interval,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Whether it limits at all.
    pub fn is_off(&self) -> bool {
        self.interval.is_zero()
    }

    /// The interval (zero when off).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Changes the rule, keeping the tokens already earned (up to the new burst).
    pub fn set(&mut self, interval: Duration, burst: u32, now: Instant) {
        self.refill(now);
        self.interval = interval;
        self.burst = f64::from(burst.max(1));
        self.tokens = self.tokens.min(self.burst);
    }

    fn tokens_at(&self, now: Instant) -> f64 {
        if self.is_off() {
            return self.burst;
        }
        let elapsed = now.saturating_duration_since(self.last);
        (self.tokens + elapsed.as_secs_f64() / self.interval.as_secs_f64()).min(self.burst)
    }

    fn refill(&mut self, now: Instant) {
        self.tokens = self.tokens_at(now);
        self.last = now;
    }

    /// Whether a line may go at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.tokens_at(now) >= 1.0
    }

    /// When the next token is there.
    pub fn ready_at(&self, now: Instant) -> Instant {
        self.ready_at_holding(1, now)
    }

    /// When `tokens` tokens are there (capped at the burst): a line that may go only while
    /// the bucket keeps `tokens - 1` for others.
    pub fn ready_at_holding(&self, tokens: u32, now: Instant) -> Instant {
        let need = f64::from(tokens.max(1)).min(self.burst);
        let have = self.tokens_at(now);
        if self.is_off() || have >= need {
            return now;
        }
        now + self.interval.mul_f64(need - have)
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        // The burst is stored as a float of a u32.
        self.burst as u32
    }

    /// Spends a token.
    pub fn spend(&mut self, now: Instant) {
        self.refill(now);
        if !self.is_off() {
            self.tokens = (self.tokens - 1.0).max(0.0);
        }
    }

    /// How long `lines` more lines take to go at most.
    pub fn delay(&self, lines: usize, now: Instant) -> Duration {
        if self.is_off() {
            return Duration::ZERO;
        }
        let behind = (lines as f64 - self.tokens_at(now)).max(0.0);
        self.interval.mul_f64(behind)
    }
}
