//! The upstream send queue and its pace. Lines wait in per-target lanes served round robin
//! ([`lanes`]); what leaves them is bounded by a closed-loop window of lines the server has
//! not yet acknowledged ([`window`], PING tokens), a per-target limit where the server drops
//! messages to a target that receives too many ([`targets`]), and an overall token bucket
//! for unknown servers or when configured ([`bucket`]). The rules come from the server's
//! version in numeric 004 and `SAFERATE` ([`server`]); `flood_interval_secs`/`flood_burst`
//! override the bucket. Dropped lines the server reports ([`throttle`]) are sent again.
//! Registration, PONG and the liveness PING pass outside the queue.

pub mod bucket;
pub mod credit;
#[cfg(test)]
mod hybrid_sim;
pub mod lanes;
pub mod server;
pub mod targets;
#[cfg(test)]
mod tests;
pub mod throttle;
pub mod window;

use std::time::{Duration, Instant};

use bytes::Bytes;

use bucket::Bucket;
use credit::Credit;
pub use lanes::{COMMANDS_LANE, Class, Lane, MAX_QUEUED_LINES, QueueFull, lane_of};
use lanes::{Lanes, Pick};
use server::{Family, Profile};
use targets::{TargetRate, Targets};
pub use throttle::{Throttle, classify};
pub use window::TOKEN_PREFIX;
use window::{NoticeFate, Window};

/// The bucket's interval when only `flood_burst` is configured (ZNC's and the old default).
const DEFAULT_OVERRIDE_INTERVAL: Duration = Duration::from_secs(2);
/// The bucket's burst when only `flood_interval_secs` is configured.
const DEFAULT_OVERRIDE_BURST: u32 = 9;
/// A batch counts as ended (and gets its PING) when nothing more was sent for this long:
/// lines a client writes in several pieces are not cut into many small segments.
pub const IDLE_PING: Duration = Duration::from_millis(50);
/// A batch that leaves the window room for another full line gets its PING only after this
/// long without another line: a line that follows soon (the first message after a
/// handshake, the next chat line) takes that room instead of waiting behind the PING's
/// acknowledgement.
pub const LAZY_PING: Duration = Duration::from_secs(1);
/// Where a PING costs the server's parse budget like a line (the servers with a parse
/// model), a batch that leaves the window room gets its PING only after this long without
/// another line: not between the messages of a conversation, but before the next exchange
/// finds the window still holding this one.
pub const QUIET_PING: Duration = Duration::from_secs(5);
/// The longest line otrbnc sends (the IRC limit).
const FULL_LINE: usize = 512;
/// The slowest overall pace a 263 (try again) can bring.
const SLOWEST: Duration = Duration::from_secs(8);
/// Bulk lines (post-quantum material nothing typed waits for) go at most one per this long,
/// whatever the server allows: servers that also limit a client's overall rate (ircd-hybrid,
/// InspIRCd's fakelag: about one line a second after a burst) then keep their burst for what
/// is typed, and a line typed next finds no backlog of bulk lines ahead of it in the server.
pub const BULK_INTERVAL: Duration = Duration::from_secs(2);

/// The configured overrides of the automatic overall bucket (None: automatic).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Overrides {
    /// `flood_interval_secs` (zero: no overall bucket).
    pub interval: Option<Duration>,
    /// `flood_burst`.
    pub burst: Option<u32>,
}

impl Overrides {
    /// `flood_interval_secs = 0`: unpaced (no overall bucket, no per-target limit), as the
    /// key always meant; the window still bounds what is in flight.
    fn unpaced(self) -> bool {
        self.interval.is_some_and(|i| i.is_zero())
    }

    fn per_target(self, automatic: Option<TargetRate>) -> Option<TargetRate> {
        if self.unpaced() { None } else { automatic }
    }

    fn bucket(self, automatic: Option<(Duration, u32)>) -> (Duration, u32) {
        if self.interval.is_none() && self.burst.is_none() {
            return automatic.unwrap_or((Duration::ZERO, 1));
        }
        let (ai, ab) = automatic.unwrap_or((DEFAULT_OVERRIDE_INTERVAL, DEFAULT_OVERRIDE_BURST));
        (self.interval.unwrap_or(ai), self.burst.unwrap_or(ab))
    }
}

/// What goes next.
#[derive(Debug)]
enum Plan {
    Ping,
    Line(Pick),
    Wait(Option<Instant>),
}

/// The send queue.
#[derive(Debug)]
pub struct Pacer {
    lanes: Lanes,
    bucket: Bucket,
    targets: Targets,
    window: Window,
    /// The pace of bulk lines ([`BULK_INTERVAL`]; off when unpaced).
    bulk: Bucket,
    /// The server's parsing of our lines, as modelled ([`Profile::parse`]; off when not
    /// modelled or unpaced).
    parse: Bucket,
    /// Which lines the server surely parsed on arrival ([`Profile::credit`]; off when not
    /// modelled or unpaced).
    credit: Credit,
    profile: Profile,
    overrides: Overrides,
}

impl Pacer {
    /// A queue with the rules for an unknown server (until [`Pacer::set_server`]).
    pub fn new(overrides: Overrides, now: Instant) -> Pacer {
        let profile = Profile::of(Family::Unknown);
        let (interval, burst) = overrides.bucket(profile.bucket);
        let mut targets = Targets::default();
        targets.set_rate(overrides.per_target(profile.per_target));
        Pacer {
            lanes: Lanes::default(),
            bucket: Bucket::new(interval, burst, now),
            targets,
            window: Window::new(profile.window),
            bulk: Bucket::new(
                if overrides.unpaced() {
                    Duration::ZERO
                } else {
                    BULK_INTERVAL
                },
                1,
                now,
            ),
            parse: Bucket::new(Duration::ZERO, 1, now),
            credit: Credit::off(now),
            profile,
            overrides,
        }
    }

    /// Puts a server's rules in force (from 004 and ISUPPORT).
    pub fn set_server(&mut self, profile: Profile, now: Instant) {
        let (interval, burst) = self.overrides.bucket(profile.bucket);
        self.bucket.set(interval, burst, now);
        self.targets
            .set_rate(self.overrides.per_target(profile.per_target));
        self.window.set_limits(profile.window);
        let (interval, burst) = match profile.parse {
            Some(p) if !self.overrides.unpaced() => p,
            _ => (Duration::ZERO, 1),
        };
        self.parse.set(interval, burst, now);
        // Kept as it is while the rules stay (the server's budget does not refill because
        // ISUPPORT came); started full on 004, before our first message ends hybrid's grace.
        let credit = |p: &Profile| p.parse.filter(|_| p.credit && !self.overrides.unpaced());
        let (before, credit) = (credit(&self.profile), credit(&profile));
        if credit != before {
            match credit {
                Some((interval, burst)) => self.credit.set(interval, burst, now),
                None => self.credit.clear(now),
            }
        }
        self.profile = profile;
    }

    /// A line written to the server outside the queue (a PONG, registration): it costs the
    /// server's parsing budget all the same.
    pub fn note_unpaced(&mut self, now: Instant) {
        self.parse.spend(now);
        self.credit.spend(now);
    }

    /// What the server's parsing must keep before a bulk line or a batch's PING goes: half
    /// its burst, and one more for the line itself. A line typed next is then parsed at once.
    fn parse_reserve(&self) -> u32 {
        self.parse.burst() / 2 + 1
    }

    /// The rules in force.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// For `*otr status`: the server and the rules.
    pub fn describe(&self) -> String {
        let w = self.window.limits();
        let target = match self.targets.rate() {
            Some(r) => format!(
                "{} at once to one target, then one per {:.1} s",
                r.burst,
                r.interval.as_secs_f64()
            ),
            None => "no per-target limit".to_string(),
        };
        let overall = if self.bucket.is_off() {
            "no overall limit".to_string()
        } else {
            format!(
                "overall one line per {:.1} s after a burst",
                self.bucket.interval().as_secs_f64()
            )
        };
        let parse = if self.parse.is_off() {
            String::new()
        } else {
            format!(
                "; bulk lines wait while the server (parsing {} at once, then one per {:.1} s) \
                 has less than half of that left",
                self.parse.burst(),
                self.parse.interval().as_secs_f64()
            )
        };
        format!(
            "pacing for {}: at most {} lines / {} bytes unacknowledged, {target}, {overall}{parse}",
            self.profile.family.name(),
            w.lines,
            w.bytes
        )
    }

    /// Queues lines in `lane` that must go out in order (all or nothing).
    pub fn push(&mut self, lane: Lane, class: Class, lines: Vec<Bytes>) -> Result<(), QueueFull> {
        self.lanes.push(lane, class, lines)
    }

    fn plan(&self, now: Instant) -> Plan {
        if self.window.notice_unpinged() || self.window.overdue() {
            return Plan::Ping;
        }
        let unpinged = self.window.unpinged();
        let Some(pick) = self
            .lanes
            .pick(|l, class| self.ready_at(l, class, now) <= now)
        else {
            // Lanes wait for their targets, or nothing is queued: the batch so far gets its
            // PING (at once when lines wait, after a short pause when the queue is empty).
            let at = self
                .lanes
                .lane_lengths()
                .map(|(l, _)| self.ready_at(l, self.lanes.front_class(l), now))
                .min();
            let due = match at {
                // Lines wait for their targets: PING when half the window is used.
                Some(_) => unpinged >= self.window.ping_every(),
                None => unpinged >= 2,
            };
            if due {
                let ping_at = match at {
                    Some(_) => now,
                    // The batch's PING waits for the server to have parsed most of it, and
                    // while the window has room for another line, for a pause.
                    None => {
                        let pause = if !self.window.allows(FULL_LINE) {
                            IDLE_PING
                        } else if self.parse.is_off() {
                            LAZY_PING
                        } else {
                            QUIET_PING
                        };
                        self.window
                            .last_sent()
                            .map_or(now, |t| t + pause)
                            .max(self.parse.ready_at_holding(self.parse_reserve(), now))
                    }
                };
                if ping_at <= now {
                    return Plan::Ping;
                }
                return Plan::Wait(Some(at.map_or(ping_at, |a| a.min(ping_at))));
            }
            return Plan::Wait(at);
        };
        let len = self.lanes.peek(&pick).map_or(0, Bytes::len);
        if !self.window.allows(len) {
            return if unpinged > 0 {
                Plan::Ping
            } else {
                Plan::Wait(None)
            };
        }
        if !self.bucket.ready(now) {
            return if unpinged >= 2 {
                Plan::Ping
            } else {
                Plan::Wait(Some(self.bucket.ready_at(now)))
            };
        }
        // Half the window gone: a PING, so that its PONG returns while the rest is in
        // flight; not before a lone line (nothing behind it to keep flowing).
        if unpinged >= self.window.ping_every() && self.lanes.len() > 1 {
            return Plan::Ping;
        }
        Plan::Line(pick)
    }

    /// When the next line of `class` to `lane` may go (per-target limit, and the bulk pace).
    fn ready_at(&self, lane: &str, class: Class, now: Instant) -> Instant {
        let target = self.targets.ready_at_class(lane, class, now);
        match class {
            Class::Normal => target,
            Class::Bulk => target
                .max(self.bulk.ready_at(now))
                .max(self.parse.ready_at_holding(self.parse_reserve(), now)),
        }
    }

    /// The next line to write now (a queued line or one of our PINGs), if any.
    pub fn pop(&mut self, now: Instant) -> Option<Bytes> {
        match self.plan(now) {
            Plan::Ping => {
                self.parse.spend(now);
                self.credit.spend(now);
                Some(self.window.ping(now))
            }
            Plan::Line(pick) => {
                self.parse.spend(now);
                let parsed = self.credit.spend(now);
                let (line, class) = self.lanes.take(&pick)?;
                if class == Class::Bulk {
                    self.bulk.spend(now);
                }
                let lane = match &pick {
                    Pick::Lane(l) => l.as_str(),
                    Pick::Barrier => COMMANDS_LANE,
                };
                self.bucket.spend(now);
                self.targets.spend(lane, now);
                self.window.record(lane, line.clone(), now, parsed);
                Some(line)
            }
            Plan::Wait(_) => None,
        }
    }

    /// When something is next due: a line, a PING, or the acknowledgement timeout.
    pub fn next_ready(&self, now: Instant) -> Option<Instant> {
        let planned = match self.plan(now) {
            Plan::Ping | Plan::Line(_) => Some(now),
            Plan::Wait(t) => t,
        };
        match (planned, self.window.ack_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A PONG with `token` (its last parameter). None: not an acknowledgement of ours.
    /// Otherwise the throttle notices to pass on to the clients (those not fully handled).
    pub fn on_pong(&mut self, token: &str) -> Option<Vec<Bytes>> {
        let settled = self.window.on_pong(token)?;
        Some(self.apply(settled))
    }

    /// Timers: a PING unanswered for too long counts as answered. Returns notices to pass.
    pub fn on_timer(&mut self, now: Instant) -> Vec<Bytes> {
        match self.window.on_timer(now) {
            Some(s) => self.apply(s),
            None => Vec::new(),
        }
    }

    fn apply(&mut self, settled: window::Settled) -> Vec<Bytes> {
        for (lane, lines) in settled.resend {
            tracing::info!(
                lines = lines.len(),
                "the server dropped lines (flood control); sending them again"
            );
            self.lanes.push_resent(&lane, lines);
        }
        settled.pass
    }

    /// The server dropped a line to `lane` (folded target) and said so in `raw`: the target
    /// rests, and the notice is held until the lines it concerns are known (Some: pass it on
    /// now).
    pub fn on_dropped(
        &mut self,
        lane: &str,
        rest: Duration,
        raw: Bytes,
        now: Instant,
    ) -> Option<Bytes> {
        self.targets.penalise(lane, rest, now);
        match self.window.on_notice(lane, raw) {
            NoticeFate::Held => None,
            NoticeFate::Pass(raw) => Some(raw),
        }
    }

    /// The server refused a command for load (263): halve the overall pace.
    pub fn slow_down(&mut self, now: Instant) {
        let interval = match self.bucket.interval() {
            i if i.is_zero() => Duration::from_secs(1),
            i => (i * 2).min(SLOWEST),
        };
        self.bucket.set(interval, 1, now);
    }

    /// Bulk lines still waiting for `lane` (folded target).
    pub fn bulk_len(&self, lane: &str) -> usize {
        self.lanes.bulk_len(lane)
    }

    /// Drops the bulk lines still waiting for `lane` (folded target): they belonged to a
    /// session that ended, and the peer could only discard them. Returns how many.
    pub fn drop_bulk(&mut self, lane: &str) -> usize {
        self.lanes.drop_bulk(lane)
    }

    /// Lines waiting.
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// About how long the last queued line waits (from the bucket and the per-target limit;
    /// the window's wait depends on the server).
    pub fn delay(&self, now: Instant) -> Duration {
        let overall = self.bucket.delay(self.lanes.len(), now);
        let per_target = match self.targets.rate() {
            Some(r) => self
                .lanes
                .lane_lengths()
                .filter(|(l, _)| *l != COMMANDS_LANE)
                .map(|(l, n)| {
                    let rest = self.targets.ready_at(l, now).saturating_duration_since(now);
                    rest + r.interval * u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX)
                })
                .max()
                .unwrap_or_default(),
            None => Duration::ZERO,
        };
        overall.max(per_target)
    }

    /// Drops everything (the connection is gone): queued lines, lines in flight, per-target
    /// state. Returns how many queued lines were dropped.
    pub fn clear(&mut self) -> usize {
        self.window.clear();
        self.targets.clear();
        self.lanes.clear()
    }

    /// Takes every queued line regardless of limits, in the order they would have gone
    /// (shutdown flush).
    pub fn drain_all(&mut self) -> Vec<Bytes> {
        self.lanes.drain_all()
    }
}
