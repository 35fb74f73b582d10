//! The per-target limit. solanum, charybdis and the hybrid family count the messages each
//! user receives (`flood_attack_client`: floodcount 8 in code, decaying one per second) and
//! drop the excess with a "throttled due to flooding" notice; so to one target at most a
//! burst, then one line per interval. A target the server throttled anyway rests (the
//! servers' latch: a penalty of 2 and no message until the count is back to zero, about
//! ten seconds) and then goes at half its pace.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::lanes::{COMMANDS_LANE, Class};

/// How long a throttled target rests before its lines go again.
pub const THROTTLE_REST: Duration = Duration::from_secs(10);
/// The slowest a throttled target is made to go (interval multiplier cap).
const MAX_SLOWDOWN: u32 = 8;
/// Targets remembered at most; full, unpenalised ones are forgotten first.
const MAX_TARGETS: usize = 4096;

/// At most `burst` lines at once to one target, then one per `interval`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetRate {
    /// Lines at once.
    pub burst: u32,
    /// Then one line per this.
    pub interval: Duration,
}

#[derive(Debug, Clone)]
struct Target {
    tokens: f64,
    last: Instant,
    /// No line before this (after a throttle).
    rest_until: Option<Instant>,
    /// The interval is multiplied by this (doubled at each throttle).
    slowdown: u32,
}

/// Per-target buckets (lanes other than [`COMMANDS_LANE`]).
#[derive(Debug, Default)]
pub struct Targets {
    rate: Option<TargetRate>,
    map: HashMap<String, Target>,
}

impl Targets {
    /// The rule (None: no per-target limit; throttled targets still rest).
    pub fn set_rate(&mut self, rate: Option<TargetRate>) {
        self.rate = rate;
    }

    /// The rule in force.
    pub fn rate(&self) -> Option<TargetRate> {
        self.rate
    }

    fn interval(&self, t: &Target) -> Option<Duration> {
        self.rate.map(|r| r.interval * t.slowdown.max(1))
    }

    fn burst(&self) -> f64 {
        self.rate.map_or(1.0, |r| f64::from(r.burst.max(1)))
    }

    fn tokens_at(&self, t: &Target, now: Instant) -> f64 {
        let Some(interval) = self.interval(t).filter(|i| !i.is_zero()) else {
            return self.burst();
        };
        let elapsed = now.saturating_duration_since(t.last).as_secs_f64();
        (t.tokens + elapsed / interval.as_secs_f64()).min(self.burst())
    }

    /// When a line to `lane` may go (now, or later).
    pub fn ready_at(&self, lane: &str, now: Instant) -> Instant {
        self.ready_at_class(lane, Class::Normal, now)
    }

    /// When a line of `class` to `lane` may go. A bulk line leaves half the burst unspent,
    /// so that what is typed next still goes at once.
    pub fn ready_at_class(&self, lane: &str, class: Class, now: Instant) -> Instant {
        let Some(t) = self.map.get(lane).filter(|_| lane != COMMANDS_LANE) else {
            return now;
        };
        if let Some(rest) = t.rest_until.filter(|r| *r > now) {
            return rest;
        }
        let need = match class {
            Class::Normal => 1.0,
            Class::Bulk => (1.0 + (self.burst() / 2.0).floor()).min(self.burst()),
        };
        let tokens = self.tokens_at(t, now);
        match self.interval(t) {
            Some(i) if tokens < need => now + i.mul_f64(need - tokens),
            _ => now,
        }
    }

    /// Whether a line to `lane` may go now.
    pub fn ready(&self, lane: &str, now: Instant) -> bool {
        self.ready_at(lane, now) <= now
    }

    /// A line to `lane` went out.
    pub fn spend(&mut self, lane: &str, now: Instant) {
        if lane == COMMANDS_LANE || (self.rate.is_none() && !self.map.contains_key(lane)) {
            return;
        }
        let burst = self.burst();
        let t = match self.map.get(lane) {
            Some(t) => {
                let mut t = t.clone();
                t.tokens = self.tokens_at(&t, now);
                t
            }
            None => Target {
                tokens: burst,
                last: now,
                rest_until: None,
                slowdown: 1,
            },
        };
        let t = Target {
            tokens: (t.tokens - 1.0).max(0.0),
            last: now,
            ..t
        };
        self.map.insert(lane.to_string(), t);
        self.prune(now);
    }

    /// The server dropped lines to `lane`: it rests for `rest`, then goes at half its pace
    /// with no burst.
    pub fn penalise(&mut self, lane: &str, rest: Duration, now: Instant) {
        if lane == COMMANDS_LANE {
            return;
        }
        let t = self.map.entry(lane.to_string()).or_insert(Target {
            tokens: 1.0,
            last: now,
            rest_until: None,
            slowdown: 1,
        });
        let until = now + rest;
        t.rest_until = Some(t.rest_until.map_or(until, |r| r.max(until)));
        t.slowdown = (t.slowdown.max(1) * 2).min(MAX_SLOWDOWN);
        // One line at the end of the rest, then tokens count from there.
        t.tokens = 1.0;
        t.last = until;
        self.prune(now);
    }

    /// Forgets targets that are back to a full bucket and not resting, when there are many.
    fn prune(&mut self, now: Instant) {
        if self.map.len() <= MAX_TARGETS {
            return;
        }
        let burst = self.burst();
        let snapshot: Vec<(String, bool)> = self
            .map
            .iter()
            .map(|(k, t)| {
                let idle = t.rest_until.is_none_or(|r| r <= now)
                    && t.slowdown <= 1
                    && self.tokens_at(t, now) >= burst;
                (k.clone(), idle)
            })
            .collect();
        for (k, idle) in snapshot {
            if idle {
                self.map.remove(&k);
            }
        }
        // Still too many (a flood of throttles): forget the oldest half.
        if self.map.len() > MAX_TARGETS {
            let mut by_age: Vec<(String, Instant)> =
                self.map.iter().map(|(k, t)| (k.clone(), t.last)).collect();
            by_age.sort_by_key(|(_, t)| *t);
            for (k, _) in by_age.into_iter().take(MAX_TARGETS / 2) {
                self.map.remove(&k);
            }
        }
    }

    /// Forgets everything (a new connection).
    pub fn clear(&mut self) {
        self.map.clear();
    }
}
