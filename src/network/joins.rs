//! The channels otrbnc keeps joined for the user: those in the configuration and those the
//! user joined at run time (kept in the network's sealed store), with their keys. They are
//! joined at every registration in as few `JOIN #a,#b key` lines as the server allows; a
//! join that fails is retried with a growing wait and reported once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::irc::CaseMapping;

/// Most channels kept (the store's bound; past it the user is told and nothing is added).
pub const MAX_WANTED: usize = 2000;
/// Longest `JOIN` line built (of the 512 bytes a line may have, with room to spare).
const JOIN_LINE_MAX: usize = 480;
/// First wait before a failed join is tried again; it doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_secs(60);
const RETRY_MAX: Duration = Duration::from_secs(30 * 60);

/// One channel to keep joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The name as the user typed it (or the server spelt it).
    pub name: String,
    /// Its key (`+k`), if any.
    pub key: Option<String>,
    /// Listed in the configuration (not saved to the store).
    pub configured: bool,
    /// After a failed join (or while one is on its way): when to try again, and the wait
    /// after that.
    retry: Option<(Instant, Duration)>,
    /// A failure was told to the user (told once until the channel is joined again).
    pub reported: bool,
}

/// [`MAX_WANTED`] channels are kept already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{MAX_WANTED} channels are kept already")]
pub struct Full;

/// Why a join failed, from the server's numeric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinFailure {
    /// Worth trying again later (full, invite-only, banned, wrong key, too many channels,
    /// registration needed, temporarily unavailable).
    Retry,
    /// The name is not a channel the server will ever let us join: dropped.
    Never,
}

/// The numerics that answer a failed `JOIN`, and what they mean for a kept channel.
pub fn join_failure(numeric: &[u8]) -> Option<JoinFailure> {
    match numeric {
        b"405" | b"437" | b"471" | b"473" | b"474" | b"475" | b"477" | b"489" | b"520" => {
            Some(JoinFailure::Retry)
        }
        b"403" | b"476" | b"479" => Some(JoinFailure::Never),
        _ => None,
    }
}

/// The kept channels by folded name.
#[derive(Debug, Default)]
pub struct Joins {
    wanted: BTreeMap<String, Wanted>,
}

impl Joins {
    /// Whether `folded` is kept.
    pub fn contains(&self, folded: &str) -> bool {
        self.wanted.contains_key(folded)
    }

    /// Keeps a channel (or updates its key). Returns whether anything changed, or [`Full`]
    /// when the bound is reached.
    pub fn add(
        &mut self,
        folded: String,
        name: &str,
        key: Option<String>,
        configured: bool,
    ) -> Result<bool, Full> {
        if let Some(w) = self.wanted.get_mut(&folded) {
            w.retry = None;
            let key = key.or_else(|| w.key.clone());
            let changed = w.key != key || (configured && !w.configured);
            w.key = key;
            w.configured |= configured;
            return Ok(changed);
        }
        if self.wanted.len() >= MAX_WANTED {
            return Err(Full);
        }
        self.wanted.insert(
            folded,
            Wanted {
                name: name.to_string(),
                key,
                configured,
                retry: None,
                reported: false,
            },
        );
        Ok(true)
    }

    /// Stops keeping a channel; returns it if it was kept.
    pub fn remove(&mut self, folded: &str) -> Option<Wanted> {
        self.wanted.remove(folded)
    }

    /// Sets or clears a kept channel's key (`MODE #c +k key`); whether anything changed.
    pub fn set_key(&mut self, folded: &str, key: Option<String>) -> bool {
        match self.wanted.get_mut(folded) {
            Some(w) if w.key != key => {
                w.key = key;
                true
            }
            _ => false,
        }
    }

    /// The kept channel, if any.
    pub fn get(&self, folded: &str) -> Option<&Wanted> {
        self.wanted.get(folded)
    }

    /// A join failed: schedules the next try; returns the wait (None when the channel is not
    /// kept or was dropped as never joinable).
    pub fn failed(&mut self, folded: &str, why: JoinFailure, now: Instant) -> Option<Duration> {
        if why == JoinFailure::Never {
            self.wanted.remove(folded);
            return None;
        }
        let w = self.wanted.get_mut(folded)?;
        let wait = w.retry.map_or(RETRY_MIN, |(_, next)| next);
        w.retry = Some((now + wait, (wait * 2).min(RETRY_MAX)));
        w.reported = true;
        Some(wait)
    }

    /// A `JOIN` is on its way: not sent again for [`RETRY_MIN`] unless it is answered.
    pub fn sent(&mut self, folded: &str, now: Instant) {
        if let Some(w) = self.wanted.get_mut(folded) {
            let next = w.retry.map_or(RETRY_MIN, |(_, next)| next);
            w.retry = Some((now + RETRY_MIN, next));
        }
    }

    /// A join succeeded: the retry schedule is forgotten.
    pub fn joined(&mut self, folded: &str) {
        if let Some(w) = self.wanted.get_mut(folded) {
            w.retry = None;
            w.reported = false;
        }
    }

    /// Forgets every retry schedule (a new connection joins everything at once).
    pub fn reset_retries(&mut self) {
        for w in self.wanted.values_mut() {
            w.retry = None;
            w.reported = false;
        }
    }

    /// The earliest retry that is due, if any is scheduled.
    pub fn next_retry(&self) -> Option<Instant> {
        self.wanted
            .values()
            .filter_map(|w| w.retry.map(|r| r.0))
            .min()
    }

    /// The kept channels to join now: not in `joined` (folded names) and not waiting for a
    /// retry later than `now`.
    pub fn due(&self, now: Instant, joined: impl Fn(&str) -> bool) -> Vec<(&str, Option<&str>)> {
        self.wanted
            .iter()
            .filter(|(k, w)| !joined(k) && w.retry.is_none_or(|(at, _)| at <= now))
            .map(|(_, w)| (w.name.as_str(), w.key.as_deref()))
            .collect()
    }

    /// Keys the kept channels again under a new case mapping (two that now fold the same are
    /// merged, the configured one first).
    pub fn refold(&mut self, casemap: CaseMapping) {
        let old = std::mem::take(&mut self.wanted);
        let (conf, rest): (Vec<_>, Vec<_>) = old.into_values().partition(|w| w.configured);
        for w in conf.into_iter().chain(rest) {
            self.wanted.entry(casemap.fold(&w.name)).or_insert(w);
        }
    }
}

/// `JOIN` lines for `chans`, as few as fit: keyed channels first (keys are positional),
/// each line at most [`JOIN_LINE_MAX`] bytes and `max_targets` channels.
pub fn join_lines(chans: &[(&str, Option<&str>)], max_targets: Option<usize>) -> Vec<Bytes> {
    let max_targets = max_targets.unwrap_or(usize::MAX).max(1);
    let mut ordered: Vec<&(&str, Option<&str>)> = chans.iter().filter(|c| c.1.is_some()).collect();
    ordered.extend(chans.iter().filter(|c| c.1.is_none()));
    let mut out = Vec::new();
    let (mut names, mut keys): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
    let len = |names: &[&str], keys: &[&str]| {
        let n: usize = names.iter().map(|s| s.len() + 1).sum();
        let k: usize = keys.iter().map(|s| s.len() + 1).sum();
        "JOIN".len() + n + k + 2
    };
    for (name, key) in ordered {
        let mut try_names = names.clone();
        try_names.push(name);
        let mut try_keys = keys.clone();
        if let Some(k) = key {
            try_keys.push(k);
        }
        if !names.is_empty()
            && (len(&try_names, &try_keys) > JOIN_LINE_MAX || names.len() >= max_targets)
        {
            out.push(build_join(&names, &keys));
            names.clear();
            keys.clear();
        }
        names.push(name);
        if let Some(k) = key {
            keys.push(k);
        }
    }
    if !names.is_empty() {
        out.push(build_join(&names, &keys));
    }
    out
}

fn build_join(names: &[&str], keys: &[&str]) -> Bytes {
    let mut line = format!("JOIN {}", names.join(","));
    if !keys.is_empty() {
        line.push(' ');
        line.push_str(&keys.join(","));
    }
    line.push_str("\r\n");
    Bytes::from(line)
}

/// Parses a configured channel: `"#chan"` or `"#chan key"`.
pub fn parse_configured(entry: &str) -> Option<(String, Option<String>)> {
    let mut words = entry.split_whitespace();
    let name = words.next()?.to_string();
    let key = words.next().map(str::to_string);
    if words.next().is_some() {
        return None;
    }
    Some((name, key))
}

/// The channels and keys of a client's `JOIN #a,#b ka` (none for `JOIN 0`).
pub fn parse_join(chans: &str, keys: Option<&str>) -> Vec<(String, Option<String>)> {
    if chans == "0" {
        return Vec::new();
    }
    let mut keys = keys.unwrap_or_default().split(',');
    chans
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| {
            let key = keys.next().filter(|k| !k.is_empty()).map(str::to_string);
            (c.to_string(), key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_hundred_channels_fit_in_few_lines_keys_first() {
        let names: Vec<String> = (0..300).map(|i| format!("#chan{i:03}")).collect();
        let mut chans: Vec<(&str, Option<&str>)> =
            names.iter().map(|n| (n.as_str(), None)).collect();
        chans[150].1 = Some("sekrit");
        let lines = join_lines(&chans, None);
        assert!(lines.len() <= 12, "{} lines", lines.len());
        assert!(lines.iter().all(|l| l.len() <= JOIN_LINE_MAX));
        let first = String::from_utf8_lossy(&lines[0]).into_owned();
        assert!(first.starts_with("JOIN #chan150,#chan000,"), "{first}");
        assert!(first.ends_with(" sekrit\r\n"), "{first}");
        let total: usize = lines
            .iter()
            .map(|l| {
                let s = String::from_utf8_lossy(l);
                s.split(' ').nth(1).map_or(0, |c| c.split(',').count())
            })
            .sum();
        assert_eq!(total, 300);
        // TARGMAX is obeyed.
        assert_eq!(join_lines(&chans, Some(4)).len(), 75);
    }

    #[test]
    fn failures_back_off_and_never_drops() {
        let t0 = Instant::now();
        let mut j = Joins::default();
        j.add("#a".into(), "#a", None, true).unwrap();
        j.add("#b".into(), "#b", Some("k".into()), false).unwrap();
        assert_eq!(j.failed("#a", JoinFailure::Retry, t0), Some(RETRY_MIN));
        assert_eq!(j.failed("#a", JoinFailure::Retry, t0), Some(RETRY_MIN * 2));
        assert_eq!(j.next_retry(), Some(t0 + RETRY_MIN * 2));
        assert_eq!(j.due(t0, |_| false), vec![("#b", Some("k"))]);
        assert_eq!(j.due(t0 + RETRY_MIN * 2, |_| false).len(), 2);
        assert_eq!(j.due(t0 + RETRY_MIN * 2, |c| c == "#b").len(), 1);
        assert_eq!(j.failed("#b", JoinFailure::Never, t0), None);
        assert!(!j.contains("#b"));
        j.reset_retries();
        assert_eq!(j.next_retry(), None);
        // A JOIN on its way is not sent again at once.
        j.sent("#a", t0);
        assert!(j.due(t0, |_| false).is_empty());
        assert_eq!(j.due(t0 + RETRY_MIN, |_| false).len(), 1);
    }

    #[test]
    fn adding_keeps_a_known_key_and_is_bounded() {
        let mut j = Joins::default();
        assert_eq!(j.add("#a".into(), "#a", Some("k".into()), false), Ok(true));
        assert_eq!(j.add("#a".into(), "#A", None, false), Ok(false));
        assert_eq!(j.get("#a").and_then(|w| w.key.clone()), Some("k".into()));
        assert!(j.set_key("#a", None));
        for i in 0..MAX_WANTED {
            let _ = j.add(format!("#x{i}"), "#x", None, false);
        }
        assert_eq!(j.add("#new".into(), "#new", None, false), Err(Full));
    }

    #[test]
    fn parsing_config_and_client_joins() {
        assert_eq!(
            parse_configured("#c key"),
            Some(("#c".into(), Some("key".into())))
        );
        assert_eq!(parse_configured("#c"), Some(("#c".into(), None)));
        assert_eq!(parse_configured("#c a b"), None);
        assert_eq!(
            parse_join("#a,#b,#c", Some("ka,,kc")),
            vec![
                ("#a".into(), Some("ka".into())),
                ("#b".into(), None),
                ("#c".into(), Some("kc".into()))
            ]
        );
        assert!(parse_join("0", None).is_empty());
    }
}
