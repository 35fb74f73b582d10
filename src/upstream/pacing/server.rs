//! What otrbnc knows of a server's flood control, told from the version in numeric 004
//! (facts from the servers' source: /work/shared/reference/irc-flood-control-notes.md and
//! README "Pacing"). The window stays below the point where the server disconnects a client
//! for unparsed input; the per-target limit applies where the server drops messages to a
//! target that receives too many.

use std::time::Duration;

use super::targets::TargetRate;
use super::window::WindowLimits;

/// Server families with different flood rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// solanum, charybdis, ircd-seven, ircd-ratbox: killed above 20 unparsed lines; messages
    /// to one target dropped above floodcount.
    Solanum,
    /// ircd-hybrid, oftc-hybrid: killed above 2,560 unparsed bytes; per-target drops.
    Hybrid,
    /// ircu, snircd, nefarious: killed above 1,024 unparsed bytes (`CLIENT_FLOOD`).
    Ircu,
    /// InspIRCd: killed above 4,096 bytes read and not parsed; commands held (fakelag).
    Inspircd,
    /// UnrealIRCd: killed above 8,000 bytes; 30 messages per 5 s to one target.
    Unreal,
    /// ngircd: never kills for valid lines, stops reading (penalties).
    Ngircd,
    /// Ergo: never kills, reads slower (fakelag).
    Ergo,
    /// Anything else: the most cautious rules.
    Unknown,
}

impl Family {
    /// The family of the version string of numeric 004 (`<server> <version> <modes>…`).
    pub fn of_version(version: &str) -> Family {
        let v = version.to_ascii_lowercase();
        let has = |s: &str| v.contains(s);
        if has("solanum") || has("charybdis") || has("ircd-seven") || has("ratbox") {
            Family::Solanum
        } else if has("hybrid") {
            Family::Hybrid
        } else if has("inspircd") {
            Family::Inspircd
        } else if has("unreal") {
            Family::Unreal
        } else if has("ngircd") {
            Family::Ngircd
        } else if has("ergo") || has("oragono") {
            Family::Ergo
        } else if v.starts_with("u2.") || has("snircd") || has("nefarious") {
            Family::Ircu
        } else {
            Family::Unknown
        }
    }

    /// A name for `*otr status`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Solanum => "solanum/charybdis",
            Family::Hybrid => "ircd-hybrid",
            Family::Ircu => "ircu",
            Family::Inspircd => "InspIRCd",
            Family::Unreal => "UnrealIRCd",
            Family::Ngircd => "ngircd",
            Family::Ergo => "Ergo",
            Family::Unknown => "unknown",
        }
    }

    /// Whether the server drops messages to a target that receives too many.
    pub fn drops_per_target(self) -> bool {
        matches!(self, Family::Solanum | Family::Hybrid | Family::Unknown)
    }
}

/// The automatic rules for one server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Which server.
    pub family: Family,
    /// Lines and bytes in flight at most.
    pub window: WindowLimits,
    /// To one target: a burst, then one line per interval (None: no limit).
    pub per_target: Option<TargetRate>,
    /// Over all lines: a burst, then one line per interval (None: only the window).
    pub bucket: Option<(Duration, u32)>,
    /// How the server parses one client's lines: a burst, then one per interval (None: not
    /// modelled). Modelled a little slower than the server's code, so that the model errs
    /// towards waiting. Only bulk lines and the PING that ends a batch wait for it: what is
    /// typed goes at once and the window bounds what the server holds.
    pub parse: Option<(Duration, u32)>,
    /// The server parses a client's lines on arrival while it has budget (the `parse`
    /// model) and disconnects only for what it holds unparsed (ircd-hybrid): lines the model
    /// surely saw parsed on arrival take no room in the window ([`super::credit`]).
    pub credit: bool,
}

/// At most 8 at once to one target, then one line per second (floodcount 8, decaying one
/// per second, in solanum's and hybrid's code).
pub const PER_TARGET_DROPPING: TargetRate = TargetRate {
    burst: 8,
    interval: Duration::from_secs(1),
};

impl Profile {
    /// The rules for `family`.
    pub fn of(family: Family) -> Profile {
        let w = |lines, bytes| WindowLimits { lines, bytes };
        let (window, per_target, bucket) = match family {
            // 20 unparsed lines kill: 15 in flight (measured: 18 in flight survive).
            Family::Solanum => (w(15, 8_000), Some(PER_TARGET_DROPPING), None),
            // 2,560 unparsed bytes kill: five full lines and the PING, with room left for
            // the PONGs that bypass the queue.
            Family::Hybrid => (w(10, 2_450), Some(PER_TARGET_DROPPING), None),
            // 1,024 unparsed bytes kill.
            Family::Ircu => (w(4, 900), None, None),
            // 4,096 bytes read and not parsed kill (checked before parsing).
            Family::Inspircd => (w(12, 3_500), None, None),
            // 8,000 bytes kill; to one target 30 messages per 5 s.
            Family::Unreal => (
                w(20, 7_000),
                Some(TargetRate {
                    burst: 20,
                    interval: Duration::from_millis(200),
                }),
                None,
            ),
            // No kill; a small window keeps its penalty (data left after 3 commands) away
            // (measured: a window of 2 lines, 21 s for 85 lines; all at once, 36 s).
            Family::Ngircd => (w(4, 4_000), None, None),
            Family::Ergo => (w(12, 6_000), None, None),
            // Below hybrid's byte limit and solanum's line limit, the per-target rule of
            // both, and a gentle overall pace.
            Family::Unknown => (
                w(8, 2_000),
                Some(PER_TARGET_DROPPING),
                Some((Duration::from_secs(1), 9)),
            ),
        };
        let ms = Duration::from_millis;
        let parse = match family {
            // 5 lines at once, then 2 a second (`flood_recalc`).
            Family::Solanum | Family::Ergo => Some((ms(600), 4)),
            // 5 lines at once, then 2 every recalc (measured: about one a second).
            Family::Hybrid => Some((ms(1_100), 4)),
            // Fakelag: 10 commands at once, then one a second (`commandrate` 1000).
            Family::Inspircd => Some((ms(1_100), 9)),
            Family::Ircu | Family::Unreal | Family::Ngircd | Family::Unknown => None,
        };
        Profile {
            family,
            window,
            per_target,
            bucket,
            parse,
            credit: family == Family::Hybrid,
        }
    }

    /// The rules for a server that announced `version` (004) and, or not, `SAFERATE`. A
    /// server promising not to disconnect for rate drops the overall bucket. The window
    /// stays (InspIRCd 4 still kills above its receive queue with SAFERATE, and a bouncer
    /// such as soju answers for a server behind it); the per-target limit stays where the
    /// server may drop per target (SAFERATE promises no disconnection, not delivery).
    pub fn detect(version: Option<&str>, saferate: bool) -> Profile {
        let mut p = Profile::of(version.map_or(Family::Unknown, Family::of_version));
        if saferate {
            p.bucket = None;
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_004_versions() {
        let cases = [
            ("solanum-1.0-dev", Family::Solanum),
            ("charybdis-4.1.2", Family::Solanum),
            ("ircd-seven-1.1.9", Family::Solanum),
            ("ircd-ratbox-3.0.10", Family::Solanum),
            ("ircd-hybrid-8.2.43", Family::Hybrid),
            ("hybrid-7.2.3+plexus-3.0.1", Family::Hybrid),
            ("oftc-hybrid-1.7.3", Family::Hybrid),
            ("InspIRCd-3", Family::Inspircd),
            ("UnrealIRCd-6.1.7", Family::Unreal),
            ("ngircd-26.1", Family::Ngircd),
            ("ergo-v2.13.0", Family::Ergo),
            ("u2.10.12.19", Family::Ircu),
            ("u2.10.H.10.234+snircd(1.3.4a)", Family::Ircu),
            ("bahamut-2.2.0", Family::Unknown),
            ("", Family::Unknown),
        ];
        for (v, f) in cases {
            assert_eq!(Family::of_version(v), f, "{v}");
        }
    }

    #[test]
    fn windows_stay_below_the_kill_thresholds() {
        // solanum kills above 20 unparsed lines, hybrid above 2,560 bytes, ircu above 1,024,
        // InspIRCd above 4,096, UnrealIRCd above 8,000.
        let limits = [
            (Family::Solanum, usize::MAX, 20),
            (Family::Hybrid, 2_560, usize::MAX),
            (Family::Ircu, 1_024, usize::MAX),
            (Family::Inspircd, 4_096, usize::MAX),
            (Family::Unreal, 8_000, usize::MAX),
            (Family::Unknown, 2_560, 20),
        ];
        for (f, bytes, lines) in limits {
            let w = Profile::of(f).window;
            assert!(w.bytes < bytes && w.lines < lines, "{f:?}: {w:?}");
        }
    }

    #[test]
    fn saferate_drops_the_bucket_only() {
        let unknown = Profile::detect(None, false);
        assert!(unknown.bucket.is_some() && unknown.per_target.is_some());
        let safe = Profile::detect(None, true);
        assert_eq!(safe.bucket, None);
        assert_eq!(safe.per_target, unknown.per_target);
        assert_eq!(safe.window, unknown.window);
        let solanum = Profile::detect(Some("solanum-1.0"), true);
        assert_eq!(solanum.per_target, Some(PER_TARGET_DROPPING));
        let ngircd = Profile::detect(Some("ngircd-26.1"), false);
        assert_eq!((ngircd.per_target, ngircd.bucket), (None, None));
    }
}
