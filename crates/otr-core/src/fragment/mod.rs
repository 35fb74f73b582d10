//! OTRv4 fragments: `?OTR|id|sender|receiver,index,total,piece,`.
//!
//! This module holds the line grammar shared by the [`fragmenter`] (which writes it) and the
//! [`assembler`] (which reads it); [`irc_split`] re-joins lines that IRC split in transit.

pub mod assembler;
pub mod fragmenter;
pub mod irc_split;

use std::fmt::Write as _;

/// Marks a fragment line.
pub const FRAGMENT_PREFIX: &str = "?OTR|";

/// Most hex digits accepted in the identifier and instance tags (they are `u32`).
pub const MAX_HEX_DIGITS: usize = 8;

/// Most decimal digits accepted in index and total (they are `u16`).
pub const MAX_DEC_DIGITS: usize = 5;

/// Length of the zero-padded header we write, from `?OTR|` up to and including the comma
/// after the total: `?OTR|` + 8 + `|` + 8 + `|` + 8 + `,` + 5 + `,` + 5 + `,`.
pub const HEADER_LEN: usize = 44;

/// Bytes a written fragment line adds around its piece: the header and the trailing comma.
pub const LINE_OVERHEAD: usize = HEADER_LEN + 1;

/// Why a line is not a well-formed OTRv4 fragment.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum ParseError {
    /// The line does not start with `?OTR|`.
    #[error("not a fragment (missing \"?OTR|\" prefix)")]
    MissingPrefix,
    /// A header field is missing, empty, too long, or has a non-digit character.
    #[error("malformed fragment {0} field")]
    BadField(Field),
    /// Fragment indexes are 1-based.
    #[error("fragment index is zero")]
    ZeroIndex,
    /// A message has at least one fragment.
    #[error("fragment total is zero")]
    ZeroTotal,
    /// The index is larger than the total.
    #[error("fragment index {index} exceeds total {total}")]
    IndexExceedsTotal {
        /// The index given.
        index: u16,
        /// The total given.
        total: u16,
    },
    /// The piece between the header and the trailing comma is empty.
    #[error("fragment piece is empty")]
    EmptyPiece,
    /// The line ends without the comma that closes the piece.
    #[error("fragment lacks its trailing ','")]
    MissingTrailingComma,
    /// Non-whitespace follows the trailing comma, i.e. the piece contained a ','.
    #[error("data after the fragment's trailing ',' (a piece may not contain ',')")]
    TrailingData,
}

/// Names the header field a [`ParseError::BadField`] refers to.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Field {
    /// The message identifier.
    Identifier,
    /// The sender instance tag.
    SenderTag,
    /// The receiver instance tag.
    ReceiverTag,
    /// The 1-based fragment index.
    Index,
    /// The fragment count.
    Total,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Identifier => "identifier",
            Field::SenderTag => "sender instance tag",
            Field::ReceiverTag => "receiver instance tag",
            Field::Index => "index",
            Field::Total => "total",
        })
    }
}

/// One parsed fragment line, borrowing its piece from the line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Fragment<'a> {
    /// Groups the fragments of one message.
    pub identifier: u32,
    /// Instance tag of the sender.
    pub sender_tag: u32,
    /// Instance tag of the intended receiver; zero means any.
    pub receiver_tag: u32,
    /// 1-based position of this piece.
    pub index: u16,
    /// Number of pieces in the message.
    pub total: u16,
    /// This fragment's slice of the encoded message.
    pub piece: &'a str,
}

/// Whether `line` claims to be a fragment (prefix check only).
pub fn is_fragment(line: &str) -> bool {
    line.starts_with(FRAGMENT_PREFIX)
}

/// Parses one fragment line.
///
/// Other implementations do not zero-pad, so 1 to 8 hex digits (either case) and 1 to 5
/// decimal digits are accepted. Trailing ASCII whitespace after the final comma is tolerated,
/// like after an envelope's `.`.
pub fn parse_fragment(line: &str) -> Result<Fragment<'_>, ParseError> {
    let rest = line
        .strip_prefix(FRAGMENT_PREFIX)
        .ok_or(ParseError::MissingPrefix)?;
    let (identifier, rest) = hex_field(rest, '|', Field::Identifier)?;
    let (sender_tag, rest) = hex_field(rest, '|', Field::SenderTag)?;
    let (receiver_tag, rest) = hex_field(rest, ',', Field::ReceiverTag)?;
    let (index, rest) = dec_field(rest, Field::Index)?;
    let (total, rest) = dec_field(rest, Field::Total)?;
    let (piece, after) = rest
        .split_once(',')
        .ok_or(ParseError::MissingTrailingComma)?;
    if !after.bytes().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::TrailingData);
    }
    if index == 0 {
        return Err(ParseError::ZeroIndex);
    }
    if total == 0 {
        return Err(ParseError::ZeroTotal);
    }
    if index > total {
        return Err(ParseError::IndexExceedsTotal { index, total });
    }
    if piece.is_empty() {
        return Err(ParseError::EmptyPiece);
    }
    Ok(Fragment {
        identifier,
        sender_tag,
        receiver_tag,
        index,
        total,
        piece,
    })
}

/// Writes one fragment line in the zero-padded form, which is exactly
/// `LINE_OVERHEAD + piece.len()` bytes long.
pub fn format_fragment(
    identifier: u32,
    sender_tag: u32,
    receiver_tag: u32,
    index: u16,
    total: u16,
    piece: &str,
) -> String {
    let mut out = String::with_capacity(LINE_OVERHEAD.saturating_add(piece.len()));
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{FRAGMENT_PREFIX}{identifier:08x}|{sender_tag:08x}|{receiver_tag:08x},{index:05},{total:05},{piece},"
    );
    out
}

/// Splits `s` at `sep` and parses the head as 1..=8 hex digits.
fn hex_field(s: &str, sep: char, field: Field) -> Result<(u32, &str), ParseError> {
    let (digits, rest) = s.split_once(sep).ok_or(ParseError::BadField(field))?;
    if digits.is_empty()
        || digits.len() > MAX_HEX_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(ParseError::BadField(field));
    }
    // The checks above exclude the sign characters from_str_radix would otherwise accept.
    let value = u32::from_str_radix(digits, 16).map_err(|_| ParseError::BadField(field))?;
    Ok((value, rest))
}

/// Splits `s` at `,` and parses the head as a 1..=5 digit decimal `u16`.
fn dec_field(s: &str, field: Field) -> Result<(u16, &str), ParseError> {
    let (digits, rest) = s.split_once(',').ok_or(ParseError::BadField(field))?;
    if digits.is_empty()
        || digits.len() > MAX_DEC_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ParseError::BadField(field));
    }
    let value = digits
        .parse::<u16>()
        .map_err(|_| ParseError::BadField(field))?;
    Ok((value, rest))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::wire::envelope;
    use proptest::prelude::*;

    #[test]
    fn header_len_matches_format() {
        let line = format_fragment(u32::MAX, 0x100, 0, 1, 2, "x");
        assert_eq!(line.len(), LINE_OVERHEAD + 1);
        assert_eq!(line, "?OTR|ffffffff|00000100|00000000,00001,00002,x,");
        assert_eq!(HEADER_LEN, 5 + 8 + 1 + 8 + 1 + 8 + 1 + 5 + 1 + 5 + 1);
    }

    #[test]
    fn parses_padded_and_unpadded() {
        let f = parse_fragment("?OTR|eb42ebcc|0|0,1,2,abc,").unwrap();
        assert_eq!(
            f,
            Fragment {
                identifier: 0xeb42_ebcc,
                sender_tag: 0,
                receiver_tag: 0,
                index: 1,
                total: 2,
                piece: "abc"
            }
        );
        let f = parse_fragment("?OTR|00000001|00000100|0000ABCD,00002,00002,?OTR:x.,").unwrap();
        assert_eq!(
            (f.identifier, f.sender_tag, f.receiver_tag, f.index, f.total),
            (1, 0x100, 0xabcd, 2, 2)
        );
        assert_eq!(f.piece, "?OTR:x.");
        let f = parse_fragment("?OTR|1|2|3,65535,65535,p,").unwrap();
        assert_eq!((f.index, f.total), (65535, 65535));
    }

    #[test]
    fn round_trips_format() {
        let line = format_fragment(7, 0x1234, 0x5678, 3, 9, "AbC+/=");
        let f = parse_fragment(&line).unwrap();
        assert_eq!(
            (
                f.identifier,
                f.sender_tag,
                f.receiver_tag,
                f.index,
                f.total,
                f.piece
            ),
            (7, 0x1234, 0x5678, 3, 9, "AbC+/=")
        );
    }

    #[test]
    fn tolerates_trailing_whitespace_only() {
        assert!(parse_fragment("?OTR|1|2|3,1,2,abc, \r\n").is_ok());
        assert_eq!(
            parse_fragment("?OTR|1|2|3,1,2,abc,x"),
            Err(ParseError::TrailingData)
        );
    }

    #[test]
    fn rejects_bad_lines() {
        use Field::*;
        use ParseError as E;
        let cases: &[(&str, ParseError)] = &[
            ("?OTR:abc.", E::MissingPrefix),
            ("OTR|1|2|3,1,2,abc,", E::MissingPrefix),
            ("?OTR||2|3,1,2,abc,", E::BadField(Identifier)),
            ("?OTR|123456789|2|3,1,2,abc,", E::BadField(Identifier)),
            ("?OTR|+1|2|3,1,2,abc,", E::BadField(Identifier)),
            ("?OTR|g|2|3,1,2,abc,", E::BadField(Identifier)),
            ("?OTR|1|-2|3,1,2,abc,", E::BadField(SenderTag)),
            ("?OTR|1|2,3,1,2,abc,", E::BadField(SenderTag)),
            ("?OTR|1|2|3|1,2,abc,", E::BadField(ReceiverTag)),
            ("?OTR|1|2|,1,2,abc,", E::BadField(ReceiverTag)),
            ("?OTR|1|2|3,,2,abc,", E::BadField(Index)),
            ("?OTR|1|2|3,+1,2,abc,", E::BadField(Index)),
            ("?OTR|1|2|3,000001,2,abc,", E::BadField(Index)),
            ("?OTR|1|2|3,1,65536,abc,", E::BadField(Total)),
            ("?OTR|1|2|3,1,99999,abc,", E::BadField(Total)),
            ("?OTR|1|2|3,1, 2,abc,", E::BadField(Total)),
            ("?OTR|1|2|3,1,2", E::BadField(Total)),
            ("?OTR|1|2|3,0,2,abc,", E::ZeroIndex),
            ("?OTR|1|2|3,1,0,abc,", E::ZeroTotal),
            ("?OTR|1|2|3,0,0,abc,", E::ZeroIndex),
            (
                "?OTR|1|2|3,3,2,abc,",
                E::IndexExceedsTotal { index: 3, total: 2 },
            ),
            ("?OTR|1|2|3,1,2,,", E::EmptyPiece),
            ("?OTR|1|2|3,1,2,abc", E::MissingTrailingComma),
            ("?OTR|1|2|3,1,2,", E::MissingTrailingComma),
            ("?OTR|1|2|3,1,2,ab,c,", E::TrailingData),
            // OTRv3 fragments have no identifier field.
            (
                "?OTR|00000100|00000200,00001,00002,abc,",
                E::BadField(SenderTag),
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse_fragment(line), Err(*want), "{line:?}");
        }
    }

    #[test]
    fn limits_are_consistent() {
        // Everything our fragmenter may emit, the assembler must accept.
        assert_eq!(
            usize::from(assembler::MAX_FRAGMENTS),
            fragmenter::MAX_FRAGMENTS
        );
        const { assert!(assembler::MAX_MESSAGE_BYTES >= envelope::MAX_ENCODED_BYTES) };
        const { assert!(irc_split::MAX_PENDING_BYTES >= envelope::MAX_ENCODED_BYTES) };
    }

    /// Deterministic shuffle so proptest shrinking stays meaningful.
    fn shuffle<T>(v: &mut [T], mut seed: u64) {
        for i in (1..v.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let j = (seed % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }

    fn assemble_all(lines: &[String], now: u64) -> Option<String> {
        let mut asm = assembler::Assembler::new();
        let mut out = None;
        for (i, l) in lines.iter().enumerate() {
            let pushed = asm.push(now, l, 0x1234).unwrap();
            assert!(pushed.discarded.is_none());
            if let Some(done) = pushed.complete {
                assert_eq!(i, lines.len() - 1, "completed early");
                out = Some(done);
            }
        }
        assert_eq!(asm.buffered_bytes(), 0);
        out
    }

    /// Largest binary message that still fits in `MAX_FRAGMENTS` lines of `budget` bytes.
    fn max_bin_for_budget(budget: usize) -> usize {
        let max_encoded = fragmenter::MAX_FRAGMENTS * (budget - LINE_OVERHEAD);
        // encoded = 6 + 4 * ceil(n / 3)
        ((max_encoded - 6) / 4 * 3).min(20_000)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn encode_fragment_shuffle_assemble(
            bin in prop::collection::vec(any::<u8>(), 0..20_000),
            budget in 60usize..600,
            id in any::<u32>(),
            seed in any::<u64>(),
        ) {
            let encoded = envelope::encode(&bin);
            match fragmenter::fragment(&encoded, budget, id, 0x5678, 0x1234) {
                Ok(mut lines) => {
                    prop_assert!(lines.iter().all(|l| l.len() <= budget));
                    shuffle(&mut lines, seed | 1);
                    let got = if lines.len() == 1 { Some(lines[0].clone()) } else { assemble_all(&lines, 5) };
                    let got = got.unwrap();
                    prop_assert_eq!(&got, &encoded);
                    prop_assert_eq!(envelope::decode(&got).unwrap(), bin);
                }
                Err(fragmenter::FragmentError::TooManyFragments { needed, max }) => {
                    prop_assert!(needed > max);
                    prop_assert!(encoded.len() > max * (budget - LINE_OVERHEAD));
                }
                Err(e) => prop_assert!(false, "unexpected error {e}"),
            }
        }

        #[test]
        fn fitting_messages_always_round_trip(
            (budget, bin) in (60usize..600).prop_flat_map(|b| {
                (Just(b), prop::collection::vec(any::<u8>(), 0..=max_bin_for_budget(b)))
            }),
            seed in any::<u64>(),
        ) {
            let encoded = envelope::encode(&bin);
            let mut lines = fragmenter::fragment(&encoded, budget, 42, 0x100, 0).unwrap();
            prop_assert!(lines.iter().all(|l| l.len() <= budget));
            shuffle(&mut lines, seed | 1);
            let got = if lines.len() == 1 { lines[0].clone() } else { assemble_all(&lines, 0).unwrap() };
            prop_assert_eq!(envelope::decode(&got).unwrap(), bin);
        }

        #[test]
        fn parse_never_panics(s in "(\\?OTR\\|)?[0-9a-fA-F|,+ -]{0,40}\\PC{0,40}") {
            if let Ok(f) = parse_fragment(&s) {
                prop_assert!(f.index >= 1 && f.index <= f.total);
                prop_assert!(!f.piece.is_empty() && !f.piece.contains(','));
            }
        }

        /// Every text entry point of the crate, fed the same hostile input.
        #[test]
        fn every_entry_point_survives_garbage(
            lines in prop::collection::vec(
                prop_oneof![
                    "\\?OTR\\|[0-9a-fA-F|,]{0,30}\\PC{0,30}",
                    "\\?OTR:[A-Za-z0-9+/=.]{0,60}\\PC{0,10}",
                    "\\?OTR(v|\\?|Error:)[ \t?a-zA-Z0-9]{0,20}\\PC{0,20}",
                    any::<String>(),
                ],
                0..40,
            ),
            budget in 0usize..200,
        ) {
            use crate::wire::query;
            let mut asm = assembler::Assembler::new();
            let mut joiner = irc_split::LineJoiner::new();
            for (now, s) in (0u64..).zip(&lines) {
                let _ = envelope::decode(s);
                let _ = envelope::is_encoded(s);
                let _ = envelope::parse_error(s);
                let _ = query::parse_query(s);
                let _ = query::find_whitespace_tag(s);
                let _ = query::tag_message(s, &query::Versions::ours());
                let _ = parse_fragment(s);
                let _ = fragmenter::fragment(s, budget, 1, 2, 3);
                let _ = asm.push(now, s, 3);
                let _ = joiner.push(now, s);
                prop_assert!(asm.incomplete() <= assembler::MAX_INCOMPLETE);
                prop_assert!(
                    asm.buffered_bytes()
                        <= assembler::MAX_INCOMPLETE * assembler::MAX_MESSAGE_BYTES
                );
                prop_assert!(joiner.pending_bytes() <= irc_split::MAX_PENDING_BYTES);
            }
        }
    }
}
