//! Reassembles OTRv4 fragments (arriving in any order) into encoded messages, per peer,
//! within fixed memory and time bounds.

use super::{FRAGMENT_PREFIX, ParseError, parse_fragment};

/// Incomplete messages buffered per peer; a new one beyond this evicts the oldest.
pub const MAX_INCOMPLETE: usize = crate::limits::MAX_INCOMPLETE_PER_PEER;

/// Most fragments a message may declare; also bounds per-buffer bookkeeping.
pub const MAX_FRAGMENTS: u16 = crate::limits::MAX_FRAGMENTS_PER_MESSAGE;

/// Most piece bytes one buffer may hold (the largest encoded message we accept).
pub const MAX_MESSAGE_BYTES: usize = crate::limits::MAX_ENCODED_BYTES;

/// Age, from its first fragment, at which an incomplete message is dropped.
pub const MAX_AGE_MS: u64 = crate::limits::FRAGMENT_MAX_AGE_MS;

/// Why a fragment was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum AssembleError {
    /// The line is not a well-formed fragment.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The fragment is addressed to another instance of ours (or of someone else).
    #[error("fragment for instance {receiver_tag:#010x}, we are {our_tag:#010x}")]
    WrongReceiver {
        /// The receiver tag in the fragment.
        receiver_tag: u32,
        /// Our instance tag.
        our_tag: u32,
    },
    /// The fragment declares more than [`MAX_FRAGMENTS`] pieces.
    #[error("message declares {total} fragments, limit is {max}")]
    TooManyFragments {
        /// The declared total.
        total: u16,
        /// The limit.
        max: u16,
    },
    /// This piece was already received; the buffer is kept as it was.
    #[error("duplicate fragment {index} of message {identifier:#010x}")]
    Duplicate {
        /// The message identifier.
        identifier: u32,
        /// The repeated index.
        index: u16,
    },
    /// The message would exceed [`MAX_MESSAGE_BYTES`]; its buffer has been discarded.
    #[error("message {identifier:#010x} exceeds {max} bytes; discarded")]
    MessageTooLarge {
        /// The message identifier.
        identifier: u32,
        /// The limit.
        max: usize,
    },
    /// The reassembled message is itself a fragment, which OTRv4 forbids.
    #[error("message {identifier:#010x} reassembles to a fragment")]
    NestedFragment {
        /// The message identifier.
        identifier: u32,
    },
}

/// Why a buffered incomplete message was thrown away while accepting a fragment.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum DiscardReason {
    /// [`MAX_INCOMPLETE`] buffers were in use and this one was the oldest.
    Evicted,
    /// A fragment with the same identifier declared a different total (OTRv4 says start over).
    TotalChanged,
}

/// An incomplete message that was dropped to make room for, or in favour of, a new fragment.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Discarded {
    /// Identifier of the dropped message.
    pub identifier: u32,
    /// Sender instance tag of the dropped message.
    pub sender_tag: u32,
    /// How many of its fragments had arrived.
    pub received: u16,
    /// Why it was dropped.
    pub reason: DiscardReason,
}

/// What accepting one fragment produced.
#[derive(Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Pushed {
    /// The reassembled encoded message, once its last fragment arrived.
    pub complete: Option<String>,
    /// A buffered message that had to be dropped, so the caller can log or report it.
    pub discarded: Option<Discarded>,
}

/// One message being reassembled.
#[derive(Debug)]
struct Buffer {
    identifier: u32,
    sender_tag: u32,
    total: u16,
    first_seen_ms: u64,
    /// Creation order, to break ties between buffers first seen in the same millisecond.
    seq: u64,
    /// Received pieces sorted by index; only what arrived is stored, never `total` slots.
    pieces: Vec<(u16, String)>,
    bytes: usize,
}

impl Buffer {
    fn deadline(&self) -> u64 {
        self.first_seen_ms.saturating_add(MAX_AGE_MS)
    }

    fn received(&self) -> u16 {
        u16::try_from(self.pieces.len()).unwrap_or(u16::MAX)
    }

    fn discarded(&self, reason: DiscardReason) -> Discarded {
        Discarded {
            identifier: self.identifier,
            sender_tag: self.sender_tag,
            received: self.received(),
            reason,
        }
    }

    fn into_message(self) -> String {
        let mut out = String::with_capacity(self.bytes);
        for (_, piece) in &self.pieces {
            out.push_str(piece);
        }
        out
    }
}

/// Per-peer fragment reassembly state.
///
/// Buffers are keyed by (identifier, sender instance tag) so two instances of the peer that
/// happen to pick the same identifier cannot corrupt each other's messages. Whatever arrives,
/// memory stays below about `MAX_INCOMPLETE * (MAX_MESSAGE_BYTES + 32 KiB)`: piece bytes are
/// capped per buffer, and per-piece bookkeeping (a sorted entry plus one small allocation) is
/// capped by `MAX_FRAGMENTS`.
#[derive(Debug, Default)]
pub struct Assembler {
    buffers: Vec<Buffer>,
    next_seq: u64,
}

impl Assembler {
    /// An assembler with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts one fragment line addressed to instance `our_tag`.
    ///
    /// Expired buffers are dropped first. The fragment is fully validated before any existing
    /// buffer is touched, so a bad fragment never costs us a good buffer, except where OTRv4
    /// or the size bound says to discard (see [`AssembleError::MessageTooLarge`] and
    /// [`DiscardReason::TotalChanged`]).
    pub fn push(&mut self, now_ms: u64, line: &str, our_tag: u32) -> Result<Pushed, AssembleError> {
        self.expire(now_ms);
        let frag = parse_fragment(line)?;
        if frag.receiver_tag != 0 && frag.receiver_tag != our_tag {
            return Err(AssembleError::WrongReceiver {
                receiver_tag: frag.receiver_tag,
                our_tag,
            });
        }
        if frag.total > MAX_FRAGMENTS {
            return Err(AssembleError::TooManyFragments {
                total: frag.total,
                max: MAX_FRAGMENTS,
            });
        }
        let too_large = AssembleError::MessageTooLarge {
            identifier: frag.identifier,
            max: MAX_MESSAGE_BYTES,
        };
        if frag.piece.len() > MAX_MESSAGE_BYTES {
            return Err(too_large);
        }

        let mut discarded = None;
        let existing = self
            .buffers
            .iter()
            .position(|b| b.identifier == frag.identifier && b.sender_tag == frag.sender_tag);
        if let Some(pos) = existing {
            let same_total = self.buffers.get(pos).is_some_and(|b| b.total == frag.total);
            if same_total {
                return self.add_to(pos, frag.index, frag.piece, too_large);
            }
            let old = self.buffers.remove(pos);
            discarded = Some(old.discarded(DiscardReason::TotalChanged));
        }

        if frag.total == 1 {
            // A single-piece "fragment" is complete on arrival and needs no buffer.
            let message = frag.piece.to_owned();
            check_not_nested(&message, frag.identifier)?;
            return Ok(Pushed {
                complete: Some(message),
                discarded,
            });
        }

        if self.buffers.len() >= MAX_INCOMPLETE {
            let oldest = self
                .buffers
                .iter()
                .enumerate()
                .min_by_key(|(_, b)| (b.first_seen_ms, b.seq))
                .map(|(i, _)| i);
            if let Some(i) = oldest {
                let old = self.buffers.remove(i);
                discarded = Some(old.discarded(DiscardReason::Evicted));
            }
        }
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        self.buffers.push(Buffer {
            identifier: frag.identifier,
            sender_tag: frag.sender_tag,
            total: frag.total,
            first_seen_ms: now_ms,
            seq,
            pieces: vec![(frag.index, frag.piece.to_owned())],
            bytes: frag.piece.len(),
        });
        Ok(Pushed {
            complete: None,
            discarded,
        })
    }

    /// Adds a piece to the buffer at `pos`, completing it if it was the last one missing.
    fn add_to(
        &mut self,
        pos: usize,
        index: u16,
        piece: &str,
        too_large: AssembleError,
    ) -> Result<Pushed, AssembleError> {
        let Some(buf) = self.buffers.get_mut(pos) else {
            return Ok(Pushed::default());
        };
        let slot = match buf.pieces.binary_search_by_key(&index, |(i, _)| *i) {
            Ok(_) => {
                return Err(AssembleError::Duplicate {
                    identifier: buf.identifier,
                    index,
                });
            }
            Err(slot) => slot,
        };
        let bytes = buf
            .bytes
            .checked_add(piece.len())
            .filter(|&n| n <= MAX_MESSAGE_BYTES);
        let Some(bytes) = bytes else {
            self.buffers.remove(pos);
            return Err(too_large);
        };
        buf.pieces.insert(slot, (index, piece.to_owned()));
        buf.bytes = bytes;
        if buf.pieces.len() < usize::from(buf.total) {
            return Ok(Pushed::default());
        }
        let done = self.buffers.remove(pos);
        let identifier = done.identifier;
        let message = done.into_message();
        check_not_nested(&message, identifier)?;
        Ok(Pushed {
            complete: Some(message),
            discarded: None,
        })
    }

    /// Drops every buffer whose first fragment is [`MAX_AGE_MS`] old or older at `now_ms`;
    /// returns how many were dropped.
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.buffers.len();
        self.buffers.retain(|b| now_ms < b.deadline());
        before.saturating_sub(self.buffers.len())
    }

    /// When [`Assembler::expire`] will next drop something, for the caller's timer.
    pub fn next_expiry(&self) -> Option<u64> {
        self.buffers.iter().map(Buffer::deadline).min()
    }

    /// Piece bytes currently held across all incomplete messages.
    pub fn buffered_bytes(&self) -> usize {
        self.buffers.iter().map(|b| b.bytes).sum()
    }

    /// Number of incomplete messages currently buffered.
    pub fn incomplete(&self) -> usize {
        self.buffers.len()
    }
}

fn check_not_nested(message: &str, identifier: u32) -> Result<(), AssembleError> {
    if message.starts_with(FRAGMENT_PREFIX) {
        return Err(AssembleError::NestedFragment { identifier });
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::{format_fragment, fragmenter::fragment};
    use super::*;
    use proptest::prelude::*;

    const US: u32 = 0x0000_1234;
    const THEM: u32 = 0x0000_5678;

    fn line(id: u32, index: u16, total: u16, piece: &str) -> String {
        format_fragment(id, THEM, US, index, total, piece)
    }

    fn push_ok(a: &mut Assembler, now: u64, l: &str) -> Pushed {
        a.push(now, l, US).unwrap()
    }

    #[test]
    fn in_order() {
        let mut a = Assembler::new();
        assert_eq!(
            push_ok(&mut a, 0, &line(1, 1, 3, "?OTR:")),
            Pushed::default()
        );
        assert_eq!(
            push_ok(&mut a, 0, &line(1, 2, 3, "AAAA")),
            Pushed::default()
        );
        let p = push_ok(&mut a, 0, &line(1, 3, 3, "."));
        assert_eq!(p.complete.as_deref(), Some("?OTR:AAAA."));
        assert_eq!(p.discarded, None);
        assert_eq!(a.incomplete(), 0);
        assert_eq!(a.buffered_bytes(), 0);
    }

    #[test]
    fn reverse_order() {
        let mut a = Assembler::new();
        assert!(push_ok(&mut a, 0, &line(1, 3, 3, "c")).complete.is_none());
        assert!(push_ok(&mut a, 0, &line(1, 2, 3, "b")).complete.is_none());
        assert_eq!(
            push_ok(&mut a, 0, &line(1, 1, 3, "a")).complete.as_deref(),
            Some("abc")
        );
    }

    #[test]
    fn shuffled_and_interleaved() {
        let mut a = Assembler::new();
        let round1 = [(2, 4), (1, 3), (3, 2), (1, 4), (2, 1), (2, 2)];
        let round2 = [(2, 3), (3, 1), (3, 3), (1, 1), (1, 2)];
        let mut done = Vec::new();
        for (round, order) in [&round1[..], &round2[..]].into_iter().enumerate() {
            for &(id, idx) in order {
                let total = if id == 3 { 3 } else { 4 };
                let l = format_fragment(id, THEM, 0, idx, total, &format!("{id}{idx}"));
                if let Some(m) = push_ok(&mut a, 0, &l).complete {
                    done.push(m);
                }
            }
            if round == 0 {
                assert!(done.is_empty());
                assert_eq!(a.incomplete(), 3);
            }
        }
        assert_eq!(done, vec!["21222324", "313233", "11121314"]);
        assert_eq!(a.incomplete(), 0);
    }

    #[test]
    fn accepts_unpadded_fragments() {
        let mut a = Assembler::new();
        assert!(
            push_ok(&mut a, 0, "?OTR|eb42ebcc|0|0,1,2,abc,")
                .complete
                .is_none()
        );
        assert_eq!(
            push_ok(&mut a, 0, "?OTR|EB42EBCC|0|0,00002,2,def,")
                .complete
                .as_deref(),
            Some("abcdef")
        );
    }

    #[test]
    fn single_fragment_message_completes_immediately() {
        let mut a = Assembler::new();
        let p = push_ok(&mut a, 0, &line(9, 1, 1, "?OTR:AAAA."));
        assert_eq!(p.complete.as_deref(), Some("?OTR:AAAA."));
        assert_eq!(a.incomplete(), 0);
    }

    #[test]
    fn duplicate_is_rejected_and_buffer_kept() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &line(1, 1, 2, "a"));
        assert_eq!(
            a.push(0, &line(1, 1, 2, "x"), US),
            Err(AssembleError::Duplicate {
                identifier: 1,
                index: 1
            })
        );
        assert_eq!(a.buffered_bytes(), 1);
        assert_eq!(
            push_ok(&mut a, 0, &line(1, 2, 2, "b")).complete.as_deref(),
            Some("ab")
        );
    }

    #[test]
    fn total_mismatch_restarts_buffer() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &line(1, 1, 3, "a"));
        let _ = push_ok(&mut a, 0, &line(1, 2, 3, "b"));
        let p = push_ok(&mut a, 10, &line(1, 2, 2, "Y"));
        assert_eq!(p.complete, None);
        assert_eq!(
            p.discarded,
            Some(Discarded {
                identifier: 1,
                sender_tag: THEM,
                received: 2,
                reason: DiscardReason::TotalChanged
            })
        );
        assert_eq!(a.buffered_bytes(), 1);
        assert_eq!(a.next_expiry(), Some(10 + MAX_AGE_MS));
        // The old pieces are gone: index 1 is fresh again.
        assert_eq!(
            push_ok(&mut a, 10, &line(1, 1, 2, "X")).complete.as_deref(),
            Some("XY")
        );
    }

    #[test]
    fn total_mismatch_to_single_piece_reports_both() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &line(1, 1, 3, "a"));
        let p = push_ok(&mut a, 0, &line(1, 1, 1, "whole"));
        assert_eq!(p.complete.as_deref(), Some("whole"));
        assert_eq!(p.discarded.unwrap().reason, DiscardReason::TotalChanged);
        assert_eq!(a.incomplete(), 0);
    }

    #[test]
    fn receiver_tag_checks() {
        let mut a = Assembler::new();
        let wrong = format_fragment(1, THEM, 0x9999, 1, 2, "a");
        assert_eq!(
            a.push(0, &wrong, US),
            Err(AssembleError::WrongReceiver {
                receiver_tag: 0x9999,
                our_tag: US
            })
        );
        assert_eq!(a.incomplete(), 0);
        // Zero means "any instance".
        let _ = push_ok(&mut a, 0, &format_fragment(1, THEM, 0, 1, 2, "a"));
        let _ = push_ok(&mut a, 0, &format_fragment(2, THEM, US, 1, 2, "a"));
        assert_eq!(a.incomplete(), 2);
    }

    #[test]
    fn sender_tags_are_kept_apart() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &format_fragment(1, 0x100, 0, 1, 2, "a"));
        let p = push_ok(&mut a, 0, &format_fragment(1, 0x200, 0, 2, 2, "z"));
        assert_eq!(p, Pushed::default());
        assert_eq!(a.incomplete(), 2);
    }

    #[test]
    fn too_many_fragments_rejected_before_allocation() {
        let mut a = Assembler::new();
        assert_eq!(
            a.push(0, &line(1, 1, MAX_FRAGMENTS + 1, "a"), US),
            Err(AssembleError::TooManyFragments {
                total: MAX_FRAGMENTS + 1,
                max: MAX_FRAGMENTS
            })
        );
        assert_eq!(
            a.push(0, "?OTR|1|0|0,1,65535,a,", US),
            Err(AssembleError::TooManyFragments {
                total: 65535,
                max: MAX_FRAGMENTS
            })
        );
        assert_eq!(a.incomplete(), 0);
        let _ = push_ok(&mut a, 0, &line(1, MAX_FRAGMENTS, MAX_FRAGMENTS, "a"));
        assert_eq!(a.incomplete(), 1);
    }

    #[test]
    fn parse_errors_are_reported() {
        let mut a = Assembler::new();
        assert_eq!(
            a.push(0, "?OTR|1|0|0,0,2,a,", US),
            Err(AssembleError::Parse(ParseError::ZeroIndex))
        );
        assert_eq!(
            a.push(0, "hello", US),
            Err(AssembleError::Parse(ParseError::MissingPrefix))
        );
    }

    #[test]
    fn eviction_drops_oldest_first_seen() {
        let mut a = Assembler::new();
        for id in 0..MAX_INCOMPLETE as u32 {
            // id 3 is the oldest even though it was not created first.
            let now = if id == 3 { 1 } else { 100 + u64::from(id) };
            let p = push_ok(&mut a, now, &line(id, 1, 3, "x"));
            assert_eq!(p.discarded, None);
        }
        // A later piece does not refresh first-seen time, and neither does a rejected one.
        let _ = push_ok(&mut a, 500, &line(3, 2, 3, "y"));
        let _ = a.push(500, &line(3, 1, 3, "dup"), US).unwrap_err();
        assert_eq!(a.incomplete(), MAX_INCOMPLETE);
        let p = push_ok(&mut a, 600, &line(100, 1, 3, "n"));
        assert_eq!(
            p.discarded,
            Some(Discarded {
                identifier: 3,
                sender_tag: THEM,
                received: 2,
                reason: DiscardReason::Evicted
            })
        );
        assert_eq!(a.incomplete(), MAX_INCOMPLETE);
        // The evicted message starts over (evicting the next oldest, id 0); others complete.
        let p = push_ok(&mut a, 600, &line(3, 3, 3, "z"));
        assert!(p.complete.is_none());
        assert_eq!(p.discarded.unwrap().identifier, 0);
        let _ = push_ok(&mut a, 600, &line(2, 2, 3, "y"));
        assert_eq!(
            push_ok(&mut a, 600, &line(2, 3, 3, "z"))
                .complete
                .as_deref(),
            Some("xyz")
        );
        assert_eq!(a.incomplete(), MAX_INCOMPLETE - 1);
    }

    #[test]
    fn eviction_ties_break_by_creation_order() {
        let mut a = Assembler::new();
        for id in 0..=MAX_INCOMPLETE as u32 {
            let p = push_ok(&mut a, 7, &line(id, 1, 2, "x"));
            if id == MAX_INCOMPLETE as u32 {
                assert_eq!(p.discarded.unwrap().identifier, 0);
            }
        }
    }

    #[test]
    fn age_expiry_on_push_and_explicit() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 1_000, &line(1, 1, 2, "a"));
        let _ = push_ok(&mut a, 2_000, &line(2, 1, 2, "b"));
        assert_eq!(a.next_expiry(), Some(1_000 + MAX_AGE_MS));
        assert_eq!(a.expire(1_000 + MAX_AGE_MS - 1), 0);
        assert_eq!(a.expire(1_000 + MAX_AGE_MS), 1);
        assert_eq!(a.next_expiry(), Some(2_000 + MAX_AGE_MS));
        // Expiry happens on push too: the late piece starts a fresh buffer.
        let p = push_ok(&mut a, 2_000 + MAX_AGE_MS, &line(2, 2, 2, "c"));
        assert_eq!(p, Pushed::default());
        assert_eq!(a.incomplete(), 1);
        assert_eq!(a.buffered_bytes(), 1);
        assert_eq!(a.expire(u64::MAX), 1);
        assert_eq!(a.next_expiry(), None);
    }

    #[test]
    fn clock_going_backwards_does_not_expire_or_panic() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, u64::MAX, &line(1, 1, 2, "a"));
        assert_eq!(a.next_expiry(), Some(u64::MAX));
        let _ = push_ok(&mut a, 0, &line(2, 1, 2, "a"));
        assert_eq!(a.incomplete(), 2);
    }

    #[test]
    fn oversize_piece_rejected_without_touching_buffers() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &line(1, 1, 2, "a"));
        let big = "A".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            a.push(0, &line(1, 2, 2, &big), US),
            Err(AssembleError::MessageTooLarge {
                identifier: 1,
                max: MAX_MESSAGE_BYTES
            })
        );
        assert_eq!(a.incomplete(), 1);
    }

    #[test]
    fn oversize_accumulation_discards_buffer() {
        let mut a = Assembler::new();
        let half = "A".repeat(MAX_MESSAGE_BYTES / 2);
        let _ = push_ok(&mut a, 0, &line(1, 1, 3, &half));
        let _ = push_ok(&mut a, 0, &line(1, 2, 3, &half));
        assert_eq!(a.buffered_bytes(), MAX_MESSAGE_BYTES);
        assert_eq!(
            a.push(0, &line(1, 3, 3, "B"), US),
            Err(AssembleError::MessageTooLarge {
                identifier: 1,
                max: MAX_MESSAGE_BYTES
            })
        );
        assert_eq!(a.incomplete(), 0);
        assert_eq!(a.buffered_bytes(), 0);
    }

    #[test]
    fn exactly_max_bytes_completes() {
        let mut a = Assembler::new();
        let half = "A".repeat(MAX_MESSAGE_BYTES / 2);
        let _ = push_ok(&mut a, 0, &line(1, 1, 2, &half));
        let done = push_ok(&mut a, 0, &line(1, 2, 2, &half)).complete.unwrap();
        assert_eq!(done.len(), MAX_MESSAGE_BYTES);
    }

    #[test]
    fn nested_fragment_is_rejected() {
        let mut a = Assembler::new();
        let _ = push_ok(&mut a, 0, &line(1, 1, 2, "?OTR|1|0|0"));
        assert_eq!(
            a.push(0, &line(1, 2, 2, "|1|1|x."), US),
            Err(AssembleError::NestedFragment { identifier: 1 })
        );
        assert_eq!(a.incomplete(), 0);
        assert_eq!(
            a.push(0, &line(2, 1, 1, "?OTR|x"), US),
            Err(AssembleError::NestedFragment { identifier: 2 })
        );
    }

    #[test]
    fn fragmenter_output_reassembles() {
        let msg = format!("?OTR:{}.", "QUJD".repeat(500));
        let lines = fragment(&msg, 100, 0xdead_beef, THEM, US).unwrap();
        let mut a = Assembler::new();
        let mut out = None;
        for l in lines.iter().rev() {
            out = push_ok(&mut a, 0, l).complete.or(out);
        }
        assert_eq!(out.unwrap(), msg);
    }

    #[test]
    fn hostile_flood_stays_bounded() {
        let mut a = Assembler::new();
        let big = "A".repeat(MAX_MESSAGE_BYTES - 1);
        for id in 0..200u32 {
            let _ = a.push(u64::from(id), &line(id, 1, MAX_FRAGMENTS, &big), US);
            let _ = a.push(u64::from(id), &line(id, 2, MAX_FRAGMENTS, "A"), US);
            let _ = a.push(u64::from(id), &line(id, 3, MAX_FRAGMENTS, "A"), US);
            assert!(a.incomplete() <= MAX_INCOMPLETE);
            assert!(a.buffered_bytes() <= MAX_INCOMPLETE * MAX_MESSAGE_BYTES);
            for b in &a.buffers {
                assert!(b.pieces.len() <= usize::from(MAX_FRAGMENTS));
                assert!(b.pieces.capacity() <= 2 * usize::from(MAX_FRAGMENTS));
                let held: usize = b.pieces.iter().map(|(_, p)| p.capacity()).sum();
                assert!(held <= MAX_MESSAGE_BYTES);
            }
        }
        // Many tiny pieces in one buffer: bookkeeping is bounded by MAX_FRAGMENTS.
        let mut a = Assembler::new();
        for idx in 1..=MAX_FRAGMENTS - 1 {
            let _ = push_ok(&mut a, 0, &line(1, idx, MAX_FRAGMENTS, "A"));
        }
        assert_eq!(a.buffered_bytes(), usize::from(MAX_FRAGMENTS) - 1);
    }

    fn arb_line() -> impl Strategy<Value = String> {
        prop_oneof![
            // Structured fragments over a small id space, to hit every code path.
            (
                0u32..12,
                prop_oneof![Just(0u32), Just(US), Just(0x9999)],
                0u16..6,
                prop_oneof![0u16..6, Just(MAX_FRAGMENTS), Just(MAX_FRAGMENTS + 1)],
                0usize..30_000,
            )
                .prop_map(|(id, rcv, idx, total, n)| {
                    format_fragment(id, THEM, rcv, idx, total, &"A".repeat(n))
                }),
            "\\?OTR\\|[0-9a-f|,]{0,30}\\PC{0,30}",
            "\\?OTR:\\PC{0,60}",
            "\\PC{0,60}",
        ]
    }

    proptest! {
        #[test]
        fn garbage_never_panics_and_memory_stays_bounded(
            lines in prop::collection::vec((arb_line(), 0u64..2_000_000), 0..60)
        ) {
            let mut a = Assembler::new();
            let mut now = 0u64;
            for (l, dt) in lines {
                now = now.saturating_add(dt);
                let _ = a.push(now, &l, US);
                prop_assert!(a.incomplete() <= MAX_INCOMPLETE);
                prop_assert!(a.buffered_bytes() <= MAX_INCOMPLETE * MAX_MESSAGE_BYTES);
                for b in &a.buffers {
                    prop_assert!(b.bytes <= MAX_MESSAGE_BYTES);
                    prop_assert!(b.pieces.len() < usize::from(b.total));
                    prop_assert!(now < b.deadline());
                }
            }
        }
    }
}
