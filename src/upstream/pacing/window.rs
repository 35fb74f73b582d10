//! The closed loop. Servers parse one client's lines strictly in order and give PING no
//! priority, so the PONG to `PING :otrbnc-<n>` proves that every line sent before it was
//! parsed. Lines sent and not yet acknowledged are bounded (lines and bytes) below the
//! server's kill threshold, so its receive queue never overflows whatever its pace.
//!
//! The same order tells which lines a server dropped: a "throttled" notice (or 439/707)
//! arrives before the PONG of the segment holding the dropped line, and these servers send
//! one notice per dropped message. Once a segment's PONG is in, the last `n` lines to that
//! target in the segment are the ones dropped (the servers latch: once a target's count is
//! over, every later message to it is dropped for about ten seconds).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// A PING of ours is taken as answered after this long (a bouncer or server that answers
/// no PING must not stop the queue for good).
pub const ACK_TIMEOUT: Duration = Duration::from_secs(30);
/// Room kept for the PING after the last line of a window.
const PING_BYTES: usize = 32;
/// The PING token prefix; PONGs carrying it are ours and never reach clients.
pub const TOKEN_PREFIX: &str = "otrbnc-";
/// Throttle notices held at most (one per dropped line; the window bounds those).
const MAX_NOTICES: usize = 256;
/// Lines kept for an acknowledgement at most: lines parsed on arrival take no room in the
/// window, so without this a stream of them would never need a PING.
const MAX_SENT: usize = 64;

/// How many lines and bytes may be sent and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimits {
    /// Lines (the PINGs included).
    pub lines: usize,
    /// Bytes (the PINGs included).
    pub bytes: usize,
}

#[derive(Debug)]
enum Kind {
    Line { lane: String },
    Ping,
}

#[derive(Debug)]
struct Sent {
    /// The PING token that will acknowledge it.
    seg: u64,
    kind: Kind,
    line: Bytes,
    /// Its bytes counted against the window (0: the server parsed it on arrival).
    counted: usize,
}

#[derive(Debug)]
struct Notice {
    seg: u64,
    lane: String,
    raw: Bytes,
}

/// What became of the throttle notices of acknowledged segments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Settled {
    /// Lines the server dropped, to send again first in their lane, per lane in order.
    pub resend: Vec<(String, Vec<Bytes>)>,
    /// Notices otrbnc did not fully handle: for the clients.
    pub pass: Vec<Bytes>,
}

/// A throttle notice: held until its segment is acknowledged, or for the clients now.
#[derive(Debug, PartialEq, Eq)]
pub enum NoticeFate {
    /// Held; [`Settled`] says later whether it reaches the clients.
    Held,
    /// Not about a line in flight: pass it on.
    Pass(Bytes),
}

/// Lines in flight and the PINGs that acknowledge them.
#[derive(Debug)]
pub struct Window {
    limits: WindowLimits,
    next_seg: u64,
    sent: VecDeque<Sent>,
    lines: usize,
    bytes: usize,
    /// Lines sent since the last PING that count against the window, and when the last of
    /// them went.
    unpinged: usize,
    last_sent: Option<Instant>,
    /// Lines of any kind sent since the last PING (the segment a notice can be about).
    in_segment: usize,
    pings: VecDeque<(u64, Instant)>,
    notices: Vec<Notice>,
}

impl Window {
    /// An empty window.
    pub fn new(limits: WindowLimits) -> Window {
        Window {
            limits,
            next_seg: 1,
            sent: VecDeque::new(),
            lines: 0,
            bytes: 0,
            unpinged: 0,
            last_sent: None,
            in_segment: 0,
            pings: VecDeque::new(),
            notices: Vec::new(),
        }
    }

    /// Changes the bounds (lines in flight stay counted).
    pub fn set_limits(&mut self, limits: WindowLimits) {
        self.limits = WindowLimits {
            lines: limits.lines.max(2),
            bytes: limits.bytes.max(600),
        };
    }

    /// The bounds in force.
    pub fn limits(&self) -> WindowLimits {
        self.limits
    }

    /// Whether a line of `len` bytes may go now (one line always may when none is in flight).
    pub fn allows(&self, len: usize) -> bool {
        self.lines == 0
            || (self.lines + 2 <= self.limits.lines
                && self.bytes + len + PING_BYTES <= self.limits.bytes)
    }

    /// Lines sent since the last PING.
    pub fn unpinged(&self) -> usize {
        self.unpinged
    }

    /// Lines after which a PING goes even while more lines wait (half the window).
    pub fn ping_every(&self) -> usize {
        (self.limits.lines / 2).max(1)
    }

    /// Whether a notice waits for a PING that is not sent yet.
    pub fn notice_unpinged(&self) -> bool {
        self.in_segment > 0 && self.notices.iter().any(|n| n.seg == self.next_seg)
    }

    /// Whether so many lines wait for an acknowledgement that a PING must go, though none
    /// counts against the window (lines parsed on arrival).
    pub fn overdue(&self) -> bool {
        self.in_segment > 0 && self.pings.is_empty() && self.sent.len() >= MAX_SENT
    }

    /// When the last line went (None: none since the last PING).
    pub fn last_sent(&self) -> Option<Instant> {
        self.last_sent.filter(|_| self.unpinged > 0)
    }

    /// Records a line sent to `lane` at `now`. `parsed`: the server surely parsed it on
    /// arrival ([`super::credit`]): it takes no room in the server's queue, so it counts
    /// neither against the window nor towards a PING.
    pub fn record(&mut self, lane: &str, line: Bytes, now: Instant, parsed: bool) {
        let counted = if parsed { 0 } else { line.len() };
        self.in_segment += 1;
        if !parsed {
            self.last_sent = Some(now);
            self.lines += 1;
            self.bytes += counted;
            self.unpinged += 1;
        }
        self.sent.push_back(Sent {
            seg: self.next_seg,
            kind: Kind::Line {
                lane: lane.to_string(),
            },
            line,
            counted,
        });
    }

    /// The PING that closes the current segment (recorded as in flight).
    pub fn ping(&mut self, now: Instant) -> Bytes {
        let seg = self.next_seg;
        self.next_seg += 1;
        let line = Bytes::from(format!("PING :{TOKEN_PREFIX}{seg}\r\n"));
        self.lines += 1;
        self.bytes += line.len();
        self.unpinged = 0;
        self.in_segment = 0;
        self.pings.push_back((seg, now));
        self.sent.push_back(Sent {
            seg,
            kind: Kind::Ping,
            counted: line.len(),
            line: line.clone(),
        });
        line
    }

    /// When the oldest PING counts as answered anyway.
    pub fn ack_deadline(&self) -> Option<Instant> {
        self.pings.front().map(|(_, t)| *t + ACK_TIMEOUT)
    }

    /// A throttle notice (or 439/707) about a line to `lane`. It concerns the oldest segment
    /// not acknowledged yet; held when that segment holds lines to `lane`.
    pub fn on_notice(&mut self, lane: &str, raw: Bytes) -> NoticeFate {
        let Some(seg) = self.sent.front().map(|s| s.seg) else {
            return NoticeFate::Pass(raw);
        };
        let ours = self
            .sent
            .iter()
            .take_while(|s| s.seg == seg)
            .any(|s| matches!(&s.kind, Kind::Line { lane: l } if l == lane));
        if !ours || self.notices.len() >= MAX_NOTICES {
            return NoticeFate::Pass(raw);
        }
        self.notices.push(Notice {
            seg,
            lane: lane.to_string(),
            raw,
        });
        NoticeFate::Held
    }

    /// A PONG with `token` (its last parameter). None: not one of our acknowledgements.
    pub fn on_pong(&mut self, token: &str) -> Option<Settled> {
        let seg: u64 = token.strip_prefix(TOKEN_PREFIX)?.parse().ok()?;
        if !self.pings.iter().any(|(s, _)| *s == seg) {
            // An answer to a PING of an earlier connection, or a forged one: ignored.
            return Some(Settled::default());
        }
        Some(self.acknowledge(seg))
    }

    /// The oldest PING went unanswered for [`ACK_TIMEOUT`]: take it as answered.
    pub fn on_timer(&mut self, now: Instant) -> Option<Settled> {
        let (seg, _) = *self
            .pings
            .front()
            .filter(|(_, t)| now >= *t + ACK_TIMEOUT)?;
        Some(self.acknowledge(seg))
    }

    fn acknowledge(&mut self, seg: u64) -> Settled {
        let mut acked = Vec::new();
        while self.sent.front().is_some_and(|s| s.seg <= seg) {
            if let Some(s) = self.sent.pop_front() {
                if s.counted > 0 {
                    self.lines = self.lines.saturating_sub(1);
                }
                self.bytes = self.bytes.saturating_sub(s.counted);
                acked.push(s);
            }
        }
        self.pings.retain(|(s, _)| *s > seg);
        let (due, kept): (Vec<Notice>, Vec<Notice>) =
            self.notices.drain(..).partition(|n| n.seg <= seg);
        self.notices = kept;
        settle(&acked, due)
    }

    /// Forgets everything in flight (a new connection).
    pub fn clear(&mut self) {
        self.sent.clear();
        self.pings.clear();
        self.notices.clear();
        self.lines = 0;
        self.bytes = 0;
        self.unpinged = 0;
        self.in_segment = 0;
    }
}

/// Decides, per segment and target, which lines were dropped and whether to send them again.
/// These servers latch (once a target's count is over, every later message to it is dropped
/// for about ten seconds), so for `n` notices the last `n` lines to the target are the ones
/// dropped. They are resent when that is certain (every line to the target in the segment
/// was dropped) or when all of them are OTR lines; a plaintext line that might have arrived
/// is never sent twice, and its notice reaches the clients. OTRv4 fragments (`?OTR|`) of the
/// segment are resent as well whichever was dropped: the peer reassembles them in any order
/// and discards duplicates.
fn settle(acked: &[Sent], notices: Vec<Notice>) -> Settled {
    let mut out = Settled::default();
    let mut groups: Vec<(u64, String, Vec<Bytes>)> = Vec::new();
    for n in notices {
        match groups
            .iter_mut()
            .find(|(s, l, _)| *s == n.seg && *l == n.lane)
        {
            Some(g) => g.2.push(n.raw),
            None => groups.push((n.seg, n.lane, vec![n.raw])),
        }
    }
    groups.sort_by_key(|(s, _, _)| *s);
    for (seg, lane, raws) in groups {
        let lines: Vec<&Bytes> = acked
            .iter()
            .filter(|s| s.seg == seg && matches!(&s.kind, Kind::Line { lane: l } if *l == lane))
            .map(|s| &s.line)
            .collect();
        let n = raws.len().min(lines.len());
        let first_dropped = lines.len() - n;
        let certain = raws.len() >= lines.len();
        let handled = n > 0
            && (certain
                || lines
                    .iter()
                    .skip(first_dropped)
                    .all(|l| otr_kind(l).is_some()));
        let again: Vec<Bytes> = lines
            .iter()
            .enumerate()
            .filter(|(i, l)| {
                (handled && *i >= first_dropped) || otr_kind(l) == Some(OtrKind::V4Fragment)
            })
            .map(|(_, l)| (*l).clone())
            .collect();
        if !again.is_empty() {
            match out.resend.iter_mut().find(|(l, _)| *l == lane) {
                Some((_, v)) => v.extend(again),
                None => out.resend.push((lane, again)),
            }
        }
        if !handled {
            out.pass.extend(raws);
        }
    }
    out
}

#[derive(Debug, PartialEq, Eq)]
enum OtrKind {
    /// `?OTR|…`: reassembled in any order, duplicates discarded.
    V4Fragment,
    Other,
}

/// What OTR a line to the server carries (its text starts with `?OTR`), if any.
fn otr_kind(line: &[u8]) -> Option<OtrKind> {
    let parsed = crate::irc::Line::parse(line)?;
    let text = parsed.param(1)?;
    if text.starts_with(b"?OTR|") {
        Some(OtrKind::V4Fragment)
    } else if text.starts_with(b"?OTR") {
        Some(OtrKind::Other)
    } else {
        None
    }
}
