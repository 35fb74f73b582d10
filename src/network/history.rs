//! The recent messages of one network, numbered, and where each named client stopped
//! reading: a named client that attaches again gets what it missed, whichever other
//! clients were attached meanwhile (soju's and ZNC's `user@client` login).

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;

/// Messages kept in memory for named clients.
pub const HISTORY_MAX: usize = 10_000;
/// Longest client name (`user@<name>`).
pub const MAX_CLIENT_NAME: usize = 32;
/// Most client names remembered (the least recently seen is forgotten first).
pub const MAX_CLIENT_NAMES: usize = 64;

/// Whether `name` may name a client: 1 to [`MAX_CLIENT_NAME`] bytes of letters, digits,
/// `-`, `_` and `.`.
pub fn valid_client_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CLIENT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// One kept message: its number, when it arrived (Unix ms), the line as clients got it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its number (increasing, never reused).
    pub seq: u64,
    /// When it arrived (Unix milliseconds).
    pub ms: u64,
    /// The line.
    pub line: Bytes,
}

/// The kept messages and the named clients' read positions.
#[derive(Debug)]
pub struct History {
    entries: VecDeque<Entry>,
    next_seq: u64,
    max: usize,
    /// For each client name: the first message it has not got, and when it was last seen
    /// (to forget the oldest names first).
    seen: BTreeMap<String, (u64, u64)>,
}

impl History {
    /// Empty; keeps at most `max` messages.
    pub fn new(max: usize) -> History {
        History {
            entries: VecDeque::new(),
            next_seq: 1,
            max,
            seen: BTreeMap::new(),
        }
    }

    /// Keeps a message.
    pub fn push(&mut self, ms: u64, line: Bytes) {
        if self.max == 0 {
            return;
        }
        if self.entries.len() >= self.max {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry {
            seq: self.next_seq,
            ms,
            line,
        });
        self.next_seq += 1;
    }

    /// A named client left (its last connection): it has got everything so far.
    pub fn left(&mut self, name: &str, now_ms: u64) {
        if !self.seen.contains_key(name) && self.seen.len() >= MAX_CLIENT_NAMES {
            let oldest = self
                .seen
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                self.seen.remove(&n);
            }
        }
        self.seen.insert(name.to_string(), (self.next_seq, now_ms));
    }

    /// Whether a client of that name left before (and is remembered).
    pub fn knows(&self, name: &str) -> bool {
        self.seen.contains_key(name)
    }

    /// What a named client missed since it left, and how many of those messages were no
    /// longer kept. A name never seen before missed nothing.
    pub fn missed(&self, name: &str) -> (Vec<Entry>, u64) {
        let Some((from, _)) = self.seen.get(name) else {
            return (Vec::new(), 0);
        };
        let first_kept = self.entries.front().map_or(self.next_seq, |e| e.seq);
        let lost = first_kept.saturating_sub(*from);
        let missed = self
            .entries
            .iter()
            .filter(|e| e.seq >= *from)
            .cloned()
            .collect();
        (missed, lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: u64) -> Bytes {
        Bytes::from(format!("PRIVMSG #c :{i}"))
    }

    #[test]
    fn a_named_client_gets_what_came_after_it_left_once_per_absence() {
        let mut h = History::new(100);
        h.push(1, line(1));
        assert_eq!(h.missed("phone").0.len(), 0, "never seen: nothing");
        h.left("phone", 1);
        h.push(2, line(2));
        h.push(3, line(3));
        let (missed, lost) = h.missed("phone");
        assert_eq!(lost, 0);
        let got: Vec<u64> = missed.iter().map(|e| e.ms).collect();
        assert_eq!(got, vec![2, 3]);
        // Attached again and left again: only what came after.
        h.left("phone", 3);
        h.push(4, line(4));
        assert_eq!(h.missed("phone").0.len(), 1);
    }

    #[test]
    fn what_is_no_longer_kept_is_counted() {
        let mut h = History::new(3);
        h.left("desk", 0);
        for i in 0..10 {
            h.push(i, line(i));
        }
        let (missed, lost) = h.missed("desk");
        assert_eq!(missed.len(), 3);
        assert_eq!(lost, 7);
    }

    #[test]
    fn names_are_bounded_and_checked() {
        let mut h = History::new(1);
        for i in 0..(MAX_CLIENT_NAMES as u64 + 5) {
            h.left(&format!("c{i}"), i);
        }
        assert_eq!(h.seen.len(), MAX_CLIENT_NAMES);
        assert!(!h.seen.contains_key("c0"), "the oldest went first");
        assert!(valid_client_name("phone-2.home_x"));
        for bad in ["", "a b", "a/b", "a:b", "é", &"x".repeat(33)] {
            assert!(!valid_client_name(bad), "{bad:?}");
        }
    }
}
