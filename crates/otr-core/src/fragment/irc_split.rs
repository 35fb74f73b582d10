//! Re-joins OTR messages that an IRC client or server split across several PRIVMSGs.
//!
//! An encoded message (`?OTR:...`) is incomplete until its `.`, a fragment (`?OTR|...`) until
//! its fourth `,`. While one is incomplete, lines that look like its continuation are appended;
//! anything else ends the attempt. This is a heuristic: plain words are valid base64, so a
//! short human reply can be mistaken for a continuation, which the decoder then rejects.

use super::FRAGMENT_PREFIX;
use crate::wire::envelope::{ENCODED_PREFIX, ENCODED_TERMINATOR};

/// Most bytes held while waiting for the rest of a split message (one encoded message).
pub const MAX_PENDING_BYTES: usize = crate::limits::MAX_ENCODED_BYTES;

/// Age, from its first line, at which a split message is given up.
pub const MAX_PENDING_AGE_MS: u64 = 120_000;

/// Commas in a complete fragment: three in the header and the one closing the piece.
const FRAGMENT_COMMAS: usize = 4;

/// Why a partially received split message was dropped.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum JoinError {
    /// A line that cannot be a continuation arrived first.
    #[error("split message interrupted after {bytes} bytes")]
    Interrupted {
        /// Bytes that had been collected.
        bytes: usize,
    },
    /// The joined message would exceed [`MAX_PENDING_BYTES`].
    #[error("split message exceeds {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The rest did not arrive within [`MAX_PENDING_AGE_MS`].
    #[error("split message not completed within {max_ms} ms")]
    Expired {
        /// The limit.
        max_ms: u64,
    },
}

/// What to do with a received line.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Joined {
    /// Several lines were joined into this complete message; process it.
    Complete(String),
    /// The line was absorbed and there is nothing to process for it now.
    Pending,
    /// The line is not part of a split message; process it as it is.
    Passthrough(String),
}

/// The result of [`LineJoiner::push`].
#[derive(Debug, PartialEq, Eq, Clone)]
#[must_use]
pub struct JoinOutcome {
    /// What to do with the line.
    pub joined: Joined,
    /// A partial message that was given up while handling this line, for logging.
    pub dropped: Option<JoinError>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Kind {
    Encoded,
    Fragment,
}

#[derive(Debug)]
struct Pending {
    kind: Kind,
    text: String,
    started_ms: u64,
    /// Commas so far, kept incrementally so each line costs only its own length.
    commas: usize,
}

impl Pending {
    fn deadline(&self) -> u64 {
        self.started_ms.saturating_add(MAX_PENDING_AGE_MS)
    }

    fn accepts(&self, line: &str) -> bool {
        if line.is_empty() {
            return false;
        }
        match self.kind {
            Kind::Encoded => {
                let body = line.strip_suffix(ENCODED_TERMINATOR).unwrap_or(line);
                body.bytes().all(is_base64_byte)
            }
            Kind::Fragment => {
                let at_piece_start = self.commas == FRAGMENT_COMMAS - 1 && self.text.ends_with(',');
                let body = if let Some(rest) = line.strip_prefix(ENCODED_PREFIX) {
                    // The first piece of a message starts with "?OTR:", right after the
                    // header; anywhere else that is a new message, not a continuation.
                    if !at_piece_start {
                        return false;
                    }
                    rest
                } else if line.starts_with("?OTR") {
                    // A split inside the first piece's "?OTR:" leaves e.g. "?OTR" alone.
                    if !(at_piece_start && ENCODED_PREFIX.starts_with(line)) {
                        return false;
                    }
                    line
                } else {
                    line
                };
                body.bytes()
                    .all(|b| is_base64_byte(b) || matches!(b, b'|' | b',' | b'.' | b':' | b'?'))
            }
        }
    }

    fn is_complete(&self) -> bool {
        match self.kind {
            Kind::Encoded => self.text.contains(ENCODED_TERMINATOR),
            Kind::Fragment => self.commas >= FRAGMENT_COMMAS,
        }
    }
}

/// Per-peer state for re-joining split lines.
#[derive(Debug, Default)]
pub struct LineJoiner {
    pending: Option<Pending>,
}

impl LineJoiner {
    /// A joiner with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one received line.
    ///
    /// Trailing ASCII whitespace is removed from each joined line, since a splitting client
    /// may leave it and it is never part of base64.
    pub fn push(&mut self, now_ms: u64, text: &str) -> JoinOutcome {
        let mut dropped = self.expire(now_ms);
        let line = trim_end_ascii(text);
        if let Some(mut pending) = self.pending.take() {
            if pending.accepts(line) {
                let joined = match append(&mut pending, line) {
                    Ok(()) if pending.is_complete() => Joined::Complete(pending.text),
                    Ok(()) => {
                        self.pending = Some(pending);
                        Joined::Pending
                    }
                    Err(e) => {
                        dropped = Some(e);
                        Joined::Pending
                    }
                };
                return JoinOutcome { joined, dropped };
            }
            dropped = Some(JoinError::Interrupted {
                bytes: pending.text.len(),
            });
        }
        let joined = self.start(now_ms, text, line, &mut dropped);
        JoinOutcome { joined, dropped }
    }

    /// Handles a line when nothing is pending: pass it through or start collecting.
    fn start(
        &mut self,
        now_ms: u64,
        text: &str,
        line: &str,
        dropped: &mut Option<JoinError>,
    ) -> Joined {
        let kind = if line.starts_with(ENCODED_PREFIX) {
            Kind::Encoded
        } else if line.starts_with(FRAGMENT_PREFIX) {
            Kind::Fragment
        } else {
            return Joined::Passthrough(text.to_owned());
        };
        let mut pending = Pending {
            kind,
            text: String::new(),
            started_ms: now_ms,
            commas: 0,
        };
        if let Err(e) = append(&mut pending, line) {
            *dropped = Some(e);
            return Joined::Pending;
        }
        // Complete (or malformed beyond repair by joining): hand it on untouched.
        if pending.is_complete() {
            return Joined::Passthrough(text.to_owned());
        }
        self.pending = Some(pending);
        Joined::Pending
    }

    /// Gives up a split message whose first line is [`MAX_PENDING_AGE_MS`] old at `now_ms`.
    pub fn expire(&mut self, now_ms: u64) -> Option<JoinError> {
        let expired = self
            .pending
            .as_ref()
            .is_some_and(|p| now_ms >= p.deadline());
        if expired {
            self.pending = None;
            return Some(JoinError::Expired {
                max_ms: MAX_PENDING_AGE_MS,
            });
        }
        None
    }

    /// When [`LineJoiner::expire`] will next drop something, for the caller's timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.pending.as_ref().map(Pending::deadline)
    }

    /// Whether a split message is being collected.
    pub fn is_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Bytes held for the split message being collected.
    pub fn pending_bytes(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.text.len())
    }
}

/// Appends `line` to `pending`, or reports that the result would be too large.
fn append(pending: &mut Pending, line: &str) -> Result<(), JoinError> {
    let fits = pending
        .text
        .len()
        .checked_add(line.len())
        .is_some_and(|n| n <= MAX_PENDING_BYTES);
    if !fits {
        return Err(JoinError::TooLarge {
            max: MAX_PENDING_BYTES,
        });
    }
    pending.text.push_str(line);
    pending.commas = pending
        .commas
        .saturating_add(line.bytes().filter(|&b| b == b',').count());
    Ok(())
}

fn is_base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

fn trim_end_ascii(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii_whitespace())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::{assembler::Assembler, fragmenter::fragment, parse_fragment};
    use super::*;
    use crate::wire::envelope;
    use proptest::prelude::*;

    fn push(j: &mut LineJoiner, now: u64, s: &str) -> JoinOutcome {
        j.push(now, s)
    }

    fn ok(joined: Joined) -> JoinOutcome {
        JoinOutcome {
            joined,
            dropped: None,
        }
    }

    fn pass(s: &str) -> JoinOutcome {
        ok(Joined::Passthrough(s.to_owned()))
    }

    fn pending() -> JoinOutcome {
        ok(Joined::Pending)
    }

    #[test]
    fn split_inside_the_first_pieces_prefix_rejoins() {
        // Found by proptest: IRC split a fragment right after its header and again inside
        // the "?OTR:" that starts its piece.
        let mut j = LineJoiner::new();
        assert_eq!(
            j.push(0, "?OTR|00000007|00000100|00000000,00001,00215,")
                .joined,
            Joined::Pending
        );
        assert_eq!(j.push(0, "?OTR").joined, Joined::Pending);
        let out = j.push(0, ":+98wGuBTUUA,");
        assert_eq!(out.dropped, None);
        assert_eq!(
            out.joined,
            Joined::Complete(
                "?OTR|00000007|00000100|00000000,00001,00215,?OTR:+98wGuBTUUA,".to_string()
            )
        );
    }

    #[test]
    fn plain_and_complete_lines_pass_through() {
        let mut j = LineJoiner::new();
        for s in [
            "hello",
            "",
            "?OTR:AAAA.",
            "?OTR:AAAA.  ",
            "?OTR|1|2|3,1,2,abc,",
            "?OTRvP? hi",
            "?OTR Error: x",
            "\x01ACTION waves\x01",
            // Malformed beyond what joining could fix: the decoder reports it.
            "?OTR:AAA.junk",
            "?OTR|1|2|3,1,2,ab,c",
        ] {
            assert_eq!(push(&mut j, 0, s), pass(s), "{s:?}");
            assert!(!j.is_pending());
        }
    }

    #[test]
    fn joins_split_encoded_message() {
        let mut j = LineJoiner::new();
        assert_eq!(push(&mut j, 0, "?OTR:AAAA"), pending());
        assert!(j.is_pending());
        assert_eq!(j.pending_bytes(), 9);
        assert_eq!(push(&mut j, 1, "BBBB+/=="), pending());
        assert_eq!(
            push(&mut j, 2, "CC."),
            ok(Joined::Complete("?OTR:AAAABBBB+/==CC.".to_owned()))
        );
        assert!(!j.is_pending());
        assert_eq!(j.next_expiry(), None);
    }

    #[test]
    fn trailing_whitespace_is_trimmed_when_joining() {
        let mut j = LineJoiner::new();
        assert_eq!(push(&mut j, 0, "?OTR:  "), pending());
        assert_eq!(push(&mut j, 0, "AAAA \t"), pending());
        assert_eq!(
            push(&mut j, 0, ". "),
            ok(Joined::Complete("?OTR:AAAA.".to_owned()))
        );
    }

    #[test]
    fn non_continuation_interrupts_and_is_handled_normally() {
        let mut j = LineJoiner::new();
        let _ = push(&mut j, 0, "?OTR:AAAA");
        let out = push(&mut j, 0, "hello there");
        assert_eq!(out.joined, Joined::Passthrough("hello there".to_owned()));
        assert_eq!(out.dropped, Some(JoinError::Interrupted { bytes: 9 }));
        assert!(!j.is_pending());

        // A new encoded message interrupts and starts its own pending buffer.
        let _ = push(&mut j, 0, "?OTR:AAAA");
        let out = push(&mut j, 0, "?OTR:BBBB");
        assert_eq!(out.joined, Joined::Pending);
        assert_eq!(out.dropped, Some(JoinError::Interrupted { bytes: 9 }));
        assert_eq!(
            push(&mut j, 0, "CCCC."),
            ok(Joined::Complete("?OTR:BBBBCCCC.".to_owned()))
        );

        // A complete message interrupts and passes through.
        let _ = push(&mut j, 0, "?OTR:AAAA");
        let out = push(&mut j, 0, "?OTR:BBBB.");
        assert_eq!(out.joined, Joined::Passthrough("?OTR:BBBB.".to_owned()));
        assert!(out.dropped.is_some());

        // Base64 with something after the '.', or a '.' inside, is not a continuation.
        for bad in ["AA.A", "AA..", "AA A", " AAAA", "AAAA-", "\t", "é"] {
            let _ = push(&mut j, 0, "?OTR:AAAA");
            let out = push(&mut j, 0, bad);
            assert_eq!(out.joined, Joined::Passthrough(bad.to_owned()), "{bad:?}");
            assert!(out.dropped.is_some(), "{bad:?}");
        }
    }

    #[test]
    fn joins_split_fragment_anywhere() {
        let full = "?OTR|eb42ebcc|00000100|00000200,00001,00002,?OTR:AAAA,";
        for cut in 1..full.len() {
            let (a, b) = full.split_at(cut);
            let mut j = LineJoiner::new();
            let first = push(&mut j, 0, a);
            if a.len() < 5 {
                // Too short to be recognised as the start of a fragment.
                assert_eq!(first, pass(a));
                continue;
            }
            assert_eq!(first, pending(), "cut {cut}");
            assert_eq!(
                push(&mut j, 0, b),
                ok(Joined::Complete(full.to_owned())),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn joins_fragment_over_three_lines() {
        let mut j = LineJoiner::new();
        assert_eq!(push(&mut j, 0, "?OTR|1|2|3,1,"), pending());
        assert_eq!(push(&mut j, 0, "2,"), pending());
        assert_eq!(push(&mut j, 0, "?OTR:AB"), pending());
        assert_eq!(
            push(&mut j, 0, "CD,"),
            ok(Joined::Complete("?OTR|1|2|3,1,2,?OTR:ABCD,".to_owned()))
        );
    }

    #[test]
    fn fragment_interruptions() {
        let mut j = LineJoiner::new();
        // A new fragment line is never a continuation.
        let _ = push(&mut j, 0, "?OTR|1|2|3,1,2,AB");
        let out = push(&mut j, 0, "?OTR|1|2|3,2,2,CD,");
        assert_eq!(
            out.joined,
            Joined::Passthrough("?OTR|1|2|3,2,2,CD,".to_owned())
        );
        assert!(out.dropped.is_some());
        // Neither is a query, nor "?OTR:" anywhere but at the start of the piece.
        for bad in ["?OTRvP?", "?OTR:AAAA.", "hi there"] {
            let _ = push(&mut j, 0, "?OTR|1|2|3,1,2,AB");
            let out = push(&mut j, 0, bad);
            assert_eq!(out.joined, Joined::Passthrough(bad.to_owned()), "{bad:?}");
            assert!(out.dropped.is_some());
        }
    }

    #[test]
    fn size_bound() {
        let mut j = LineJoiner::new();
        let chunk = "A".repeat(400);
        let _ = push(&mut j, 0, "?OTR:");
        let mut dropped = None;
        for _ in 0..=MAX_PENDING_BYTES / chunk.len() {
            let out = push(&mut j, 0, &chunk);
            assert!(j.pending_bytes() <= MAX_PENDING_BYTES);
            if out.dropped.is_some() {
                dropped = out.dropped;
                assert_eq!(out.joined, Joined::Pending);
                break;
            }
        }
        assert_eq!(
            dropped,
            Some(JoinError::TooLarge {
                max: MAX_PENDING_BYTES
            })
        );
        assert!(!j.is_pending());
        // An oversize first line is dropped outright.
        let big = format!("?OTR:{}", "A".repeat(MAX_PENDING_BYTES));
        let out = push(&mut j, 0, &big);
        assert_eq!(out.joined, Joined::Pending);
        assert!(matches!(out.dropped, Some(JoinError::TooLarge { .. })));
        assert!(!j.is_pending());
    }

    #[test]
    fn age_bound() {
        let mut j = LineJoiner::new();
        let _ = push(&mut j, 1_000, "?OTR:AAAA");
        assert_eq!(j.next_expiry(), Some(1_000 + MAX_PENDING_AGE_MS));
        assert_eq!(
            push(&mut j, 1_000 + MAX_PENDING_AGE_MS - 1, "BBBB"),
            pending()
        );
        // Too late: the pending message is dropped and the line handled on its own.
        let out = push(&mut j, 1_000 + MAX_PENDING_AGE_MS, "CCCC.");
        assert_eq!(out.joined, Joined::Passthrough("CCCC.".to_owned()));
        assert_eq!(
            out.dropped,
            Some(JoinError::Expired {
                max_ms: MAX_PENDING_AGE_MS
            })
        );
        let _ = push(&mut j, 0, "?OTR:AAAA");
        assert_eq!(j.expire(MAX_PENDING_AGE_MS - 1), None);
        assert!(j.expire(MAX_PENDING_AGE_MS).is_some());
        assert!(!j.is_pending());
        assert_eq!(j.expire(u64::MAX), None);
    }

    /// Splits `s` at the given relative cut points (byte splits; `s` is ASCII).
    fn split_at_points(s: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(s.len())).collect();
        points.retain(|&p| p >= 5);
        points.sort_unstable();
        points.dedup();
        let mut out = Vec::new();
        let mut start = 0;
        for p in points {
            out.push(s[start..p].to_owned());
            start = p;
        }
        out.push(s[start..].to_owned());
        out
    }

    fn rejoin(lines: &[String]) -> Vec<String> {
        let mut j = LineJoiner::new();
        let mut out = Vec::new();
        for l in lines {
            let r = j.push(0, l);
            assert_eq!(r.dropped, None, "{lines:?}");
            match r.joined {
                Joined::Complete(s) | Joined::Passthrough(s) => out.push(s),
                Joined::Pending => {}
            }
        }
        assert!(!j.is_pending());
        out
    }

    proptest! {
        #[test]
        fn split_encoded_rejoins(
            bin in prop::collection::vec(any::<u8>(), 0..3000),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let encoded = envelope::encode(&bin);
            let lines = split_at_points(&encoded, &cuts);
            let out = rejoin(&lines);
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(envelope::decode(&out[0]).unwrap(), bin);
        }

        #[test]
        fn split_fragments_rejoin_and_assemble(
            bin in prop::collection::vec(any::<u8>(), 0..3000),
            budget in 60usize..500,
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let encoded = envelope::encode(&bin);
            let frags = fragment(&encoded, budget, 7, 0x100, 0).unwrap();
            let mut asm = Assembler::new();
            let mut got = None;
            for f in &frags {
                let out = rejoin(&split_at_points(f, &cuts));
                prop_assert_eq!(out.len(), 1);
                prop_assert_eq!(&out[0], f);
                if parse_fragment(&out[0]).is_ok() {
                    got = asm.push(0, &out[0], 0x200).unwrap().complete.or(got);
                } else {
                    got = Some(out[0].clone());
                }
            }
            prop_assert_eq!(envelope::decode(&got.unwrap()).unwrap(), bin);
        }

        #[test]
        fn garbage_never_panics_and_stays_bounded(
            lines in prop::collection::vec(
                (prop_oneof![
                    "\\?OTR:[A-Za-z0-9+/=]{0,50}\\.?\\s?",
                    "\\?OTR\\|[0-9a-f|,]{0,30}",
                    "[A-Za-z0-9+/=.,|:?]{0,60}",
                    "\\PC{0,60}",
                    (0usize..30_000).prop_map(|n| "A".repeat(n)),
                ], 0u64..100_000),
                0..50,
            )
        ) {
            let mut j = LineJoiner::new();
            let mut now = 0u64;
            for (l, dt) in lines {
                now += dt;
                let out = j.push(now, &l);
                prop_assert!(j.pending_bytes() <= MAX_PENDING_BYTES);
                if let Joined::Complete(s) = out.joined {
                    prop_assert!(s.len() <= MAX_PENDING_BYTES);
                }
                if let Some(t) = j.next_expiry() {
                    prop_assert!(t > now);
                }
            }
        }
    }
}
