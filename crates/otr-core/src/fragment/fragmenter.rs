//! Splits an encoded message into OTRv4 fragment lines that each fit a byte budget.

use std::num::NonZeroUsize;

use super::{FRAGMENT_PREFIX, LINE_OVERHEAD, format_fragment};

/// Most fragments one message may be split into; the assembler refuses more, so producing
/// more would only create messages nobody can reassemble.
pub const MAX_FRAGMENTS: usize = crate::limits::MAX_FRAGMENTS_PER_MESSAGE as usize;

/// Smallest budget that can carry a fragment: the fixed overhead plus one byte of piece.
pub const MIN_FRAGMENT_BUDGET: usize = LINE_OVERHEAD + 1;

/// Why a message could not be fragmented.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum FragmentError {
    /// The budget cannot hold the fragment header plus one byte of piece.
    #[error("budget of {budget} bytes is below the {min}-byte minimum for a fragment")]
    BudgetTooSmall {
        /// The budget given.
        budget: usize,
        /// The smallest usable budget.
        min: usize,
    },
    /// The message needs more than [`MAX_FRAGMENTS`] fragments at this budget.
    #[error("message needs {needed} fragments, limit is {max}")]
    TooManyFragments {
        /// Fragments the message would need.
        needed: usize,
        /// The limit.
        max: usize,
    },
    /// A split point fell inside a multi-byte character (input should be base64 text).
    #[error("split point {offset} is not on a character boundary")]
    NotCharBoundary {
        /// Byte offset of the offending split.
        offset: usize,
    },
    /// The input is itself a fragment; fragments are never fragmented again.
    #[error("refusing to fragment a fragment")]
    AlreadyFragment,
}

/// Splits `encoded` into fragment lines of at most `budget` bytes each.
///
/// A message that already fits is returned unchanged as the only element. Otherwise the
/// fewest fragments that fit are used and the pieces differ in length by at most one byte,
/// so no line is needlessly close to the limit. Headers are zero-padded, which makes every
/// header the same length and the arithmetic exact.
pub fn fragment(
    encoded: &str,
    budget: usize,
    identifier: u32,
    sender_tag: u32,
    receiver_tag: u32,
) -> Result<Vec<String>, FragmentError> {
    if encoded.starts_with(FRAGMENT_PREFIX) {
        return Err(FragmentError::AlreadyFragment);
    }
    if encoded.len() <= budget {
        return Ok(vec![encoded.to_owned()]);
    }
    let capacity = budget
        .checked_sub(LINE_OVERHEAD)
        .filter(|&c| c >= 1)
        .ok_or(FragmentError::BudgetTooSmall {
            budget,
            min: MIN_FRAGMENT_BUDGET,
        })?;
    let needed = encoded.len().div_ceil(capacity);
    let total = u16::try_from(needed)
        .ok()
        .filter(|_| needed <= MAX_FRAGMENTS)
        .ok_or(FragmentError::TooManyFragments {
            needed,
            max: MAX_FRAGMENTS,
        })?;
    // needed >= 2 because encoded.len() > budget > capacity, and needed <= encoded.len()
    // because capacity >= 1, so every piece gets at least one byte.
    let divisor = NonZeroUsize::new(needed).ok_or(FragmentError::BudgetTooSmall {
        budget,
        min: MIN_FRAGMENT_BUDGET,
    })?;
    let base = encoded.len() / divisor;
    let longer = encoded.len() % divisor;

    let mut lines = Vec::with_capacity(needed);
    let mut start = 0usize;
    for (i, index) in (1..=total).enumerate() {
        let len = if i < longer {
            base.saturating_add(1)
        } else {
            base
        };
        let end = start.saturating_add(len);
        let piece = encoded
            .get(start..end)
            // `start` is the previous `end`, already known good, so `end` is the culprit.
            .ok_or(FragmentError::NotCharBoundary { offset: end })?;
        lines.push(format_fragment(
            identifier,
            sender_tag,
            receiver_tag,
            index,
            total,
            piece,
        ));
        start = end;
    }
    Ok(lines)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::parse_fragment;
    use super::*;
    use proptest::prelude::*;

    fn encoded_of_len(n: usize) -> String {
        assert!(n >= 6);
        let mut s = String::from("?OTR:");
        s.extend(std::iter::repeat_n('A', n - 6));
        s.push('.');
        s
    }

    fn pieces(lines: &[String]) -> String {
        lines
            .iter()
            .map(|l| parse_fragment(l).unwrap().piece)
            .collect()
    }

    #[test]
    fn fits_means_unfragmented() {
        let msg = encoded_of_len(100);
        assert_eq!(fragment(&msg, 100, 1, 2, 3).unwrap(), vec![msg.clone()]);
        assert_eq!(fragment(&msg, 1000, 1, 2, 3).unwrap(), vec![msg]);
        // Even a budget too small for fragments is fine when nothing needs fragmenting.
        assert_eq!(fragment("?OTR:.", 6, 1, 2, 3).unwrap(), vec!["?OTR:."]);
        assert_eq!(fragment("", 0, 1, 2, 3).unwrap(), vec![""]);
    }

    #[test]
    fn exact_layout() {
        let msg = encoded_of_len(80);
        // capacity 30 -> 3 fragments of 27, 27, 26 bytes
        let lines = fragment(&msg, LINE_OVERHEAD + 30, 0xeb42ebcc, 0x100, 0x200).unwrap();
        let a = "A";
        assert_eq!(
            lines,
            vec![
                format!(
                    "?OTR|eb42ebcc|00000100|00000200,00001,00003,?OTR:{},",
                    a.repeat(22)
                ),
                format!(
                    "?OTR|eb42ebcc|00000100|00000200,00002,00003,{},",
                    a.repeat(27)
                ),
                format!(
                    "?OTR|eb42ebcc|00000100|00000200,00003,00003,{}.,",
                    a.repeat(25)
                ),
            ]
        );
    }

    #[test]
    fn pieces_are_balanced_and_ordered() {
        let msg = encoded_of_len(1001);
        let lines = fragment(&msg, 445, 9, 0x100, 0).unwrap();
        // capacity 400 -> 3 fragments of 334, 334, 333
        let lens: Vec<usize> = lines
            .iter()
            .map(|l| parse_fragment(l).unwrap().piece.len())
            .collect();
        assert_eq!(lens, vec![334, 334, 333]);
        assert_eq!(pieces(&lines), msg);
        for (i, l) in lines.iter().enumerate() {
            let f = parse_fragment(l).unwrap();
            assert_eq!((f.index as usize, f.total), (i + 1, 3));
            assert_eq!((f.identifier, f.sender_tag, f.receiver_tag), (9, 0x100, 0));
        }
    }

    #[test]
    fn every_line_fits_for_many_budgets() {
        for len in [7usize, 46, 47, 100, 399, 1000, 4097, 20_000, 87_400] {
            let msg = encoded_of_len(len);
            for budget in (40..=700).chain([1000, 4096, 100_000]) {
                match fragment(&msg, budget, 1, 0x100, 0x101) {
                    Ok(lines) => {
                        assert!(
                            lines.iter().all(|l| l.len() <= budget),
                            "len {len} budget {budget}"
                        );
                        if lines.len() == 1 {
                            assert_eq!(lines[0], msg);
                        } else {
                            assert_eq!(pieces(&lines), msg);
                            assert!(lines.len() <= MAX_FRAGMENTS);
                            // Fewest fragments: one fewer would not fit.
                            let cap = budget - LINE_OVERHEAD;
                            assert!((lines.len() - 1) * cap < len);
                            let min = lines.iter().map(String::len).min().unwrap();
                            let max = lines.iter().map(String::len).max().unwrap();
                            assert!(max - min <= 1);
                        }
                    }
                    Err(FragmentError::BudgetTooSmall { .. }) => {
                        assert!(budget < MIN_FRAGMENT_BUDGET && len > budget);
                    }
                    Err(FragmentError::TooManyFragments { needed, max }) => {
                        assert_eq!(max, MAX_FRAGMENTS);
                        assert!(needed > MAX_FRAGMENTS);
                        assert_eq!(needed, len.div_ceil(budget - LINE_OVERHEAD));
                    }
                    Err(e) => panic!("unexpected {e:?}"),
                }
            }
        }
    }

    #[test]
    fn budget_too_small() {
        let msg = encoded_of_len(100);
        for budget in [0, 1, 44, LINE_OVERHEAD] {
            assert_eq!(
                fragment(&msg, budget, 1, 2, 3),
                Err(FragmentError::BudgetTooSmall {
                    budget,
                    min: MIN_FRAGMENT_BUDGET
                })
            );
        }
        assert!(fragment(&msg, MIN_FRAGMENT_BUDGET, 1, 2, 3).is_ok());
    }

    #[test]
    fn too_many_fragments() {
        let msg = encoded_of_len(MAX_FRAGMENTS + 1);
        assert_eq!(
            fragment(&msg, MIN_FRAGMENT_BUDGET, 1, 2, 3),
            Err(FragmentError::TooManyFragments {
                needed: MAX_FRAGMENTS + 1,
                max: MAX_FRAGMENTS
            })
        );
        let msg = encoded_of_len(MAX_FRAGMENTS);
        let lines = fragment(&msg, MIN_FRAGMENT_BUDGET, 1, 2, 3).unwrap();
        assert_eq!(lines.len(), MAX_FRAGMENTS);
        assert!(lines.iter().all(|l| l.len() == MIN_FRAGMENT_BUDGET));
    }

    #[test]
    fn huge_needed_count_does_not_overflow_u16() {
        let msg = encoded_of_len(70_000);
        assert_eq!(
            fragment(&msg, MIN_FRAGMENT_BUDGET, 1, 2, 3),
            Err(FragmentError::TooManyFragments {
                needed: 70_000,
                max: MAX_FRAGMENTS
            })
        );
    }

    #[test]
    fn non_ascii_split_is_an_error() {
        let msg = "é".repeat(60);
        assert!(matches!(
            fragment(&msg, MIN_FRAGMENT_BUDGET, 1, 2, 3),
            Err(FragmentError::NotCharBoundary { .. })
        ));
        // Non-ASCII whose splits happen to land on boundaries is allowed.
        let msg = "éé".repeat(30);
        let lines = fragment(&msg, LINE_OVERHEAD + 4, 1, 2, 3).unwrap();
        assert_eq!(pieces(&lines), msg);
    }

    #[test]
    fn refuses_to_fragment_a_fragment() {
        let line = "?OTR|1|2|3,1,2,abc,";
        assert_eq!(
            fragment(line, 1000, 1, 2, 3),
            Err(FragmentError::AlreadyFragment)
        );
    }

    proptest! {
        #[test]
        fn lines_fit_and_concatenate(len in 6usize..30_000, budget in 0usize..700) {
            let msg = encoded_of_len(len);
            if let Ok(lines) = fragment(&msg, budget, 5, 6, 7) {
                prop_assert!(lines.iter().all(|l| l.len() <= budget));
                if lines.len() > 1 {
                    prop_assert_eq!(pieces(&lines), msg);
                }
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,300}", budget in 0usize..200) {
            let _ = fragment(&s, budget, 0, 0, 0);
        }
    }
}
