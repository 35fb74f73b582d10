//! Lines a server certainly parsed the moment they arrived. ircd-hybrid parses a client's
//! lines as they come in while the client has budget (5 lines; `flood_recalc` gives 2 more
//! every 2 s) and disconnects only for what it holds unparsed (2,560 bytes). A line sent while
//! the server surely had budget left is parsed at once and holds no room in its receive
//! queue, so the window need not count its bytes: a handshake message of 7 lines then goes
//! at once instead of 5 lines, a PING, and a wait for the server's next recalculation.
//!
//! The model errs towards "not parsed": a burst of 4 (the server's 5), one line per 1.1 s
//! (the server's 2 per 2 s), a debt for every line sent beyond it (the server holds those),
//! and a line counts as parsed only while the model keeps a whole token in reserve. Between
//! two recalculations the server gains nothing while the model gains up to 1.8 tokens; the
//! reserve and the smaller burst cover that.

use std::time::{Duration, Instant};

/// Tokens the model keeps before it counts a line as parsed on arrival.
const RESERVE: f64 = 1.0;
/// The debt is bounded (a long flood must not take forever to forget).
const MAX_DEBT: f64 = 1_000.0;

/// The model (off: nothing counts as parsed on arrival).
#[derive(Debug)]
pub struct Credit {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
    on: bool,
}

impl Credit {
    /// Off.
    pub fn off(now: Instant) -> Credit {
        Credit {
            interval: Duration::ZERO,
            burst: 0.0,
            tokens: 0.0,
            last: now,
            on: false,
        }
    }

    /// On, full: `burst` lines at once, then one per `interval`.
    pub fn set(&mut self, interval: Duration, burst: u32, now: Instant) {
        *self = Credit {
            interval,
            burst: f64::from(burst),
            tokens: f64::from(burst),
            last: now,
            on: !interval.is_zero() && burst > 0,
        };
    }

    /// Whether the model is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Turns the model off.
    pub fn clear(&mut self, now: Instant) {
        *self = Credit::off(now);
    }

    fn refill(&mut self, now: Instant) {
        let gained = now.saturating_duration_since(self.last).as_secs_f64()
            / self.interval.as_secs_f64().max(f64::MIN_POSITIVE);
        self.tokens = (self.tokens + gained).min(self.burst);
        self.last = now;
    }

    /// A line (any line, ours or not) sent at `now`; whether the server surely parsed it on
    /// arrival.
    pub fn spend(&mut self, now: Instant) -> bool {
        if !self.on {
            return false;
        }
        self.refill(now);
        let parsed = self.tokens >= 1.0 + RESERVE;
        self.tokens = (self.tokens - 1.0).max(-MAX_DEBT);
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_model_credits_all_but_its_reserve_and_a_debt_is_paid_back_first() {
        let t0 = Instant::now();
        let mut c = Credit::off(t0);
        assert!(!c.spend(t0), "off: nothing is credited");
        c.set(Duration::from_millis(1_100), 4, t0);
        let credited: Vec<bool> = (0..6).map(|_| c.spend(t0)).collect();
        assert_eq!(credited, [true, true, true, false, false, false]);
        // Two lines in debt: 1.1 s pays one back, and the reserve still has to refill.
        assert!(!c.spend(t0 + Duration::from_millis(1_100)));
        // After a long rest the burst is back, and no more.
        let later = t0 + Duration::from_secs(60);
        let credited: Vec<bool> = (0..4).map(|_| c.spend(later)).collect();
        assert_eq!(credited, [true, true, true, false]);
    }
}
