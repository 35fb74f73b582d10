//! OTRv3 fragments (`?OTR|sender|receiver,k,n,piece,`) and OTRv2 fragments
//! (`?OTR,k,n,piece,`): parsing, the spec's strictly sequential reassembly, and splitting an
//! encoded message to fit a line budget the way libotr formats it.

use crate::limits::{MAX_FRAGMENTS, MAX_REASSEMBLY_BYTES};

/// One parsed fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// 2 or 3.
    pub version: u16,
    /// Sender instance tag (0 for version 2).
    pub sender_tag: u32,
    /// Receiver instance tag (0 for version 2 or unknown).
    pub receiver_tag: u32,
    /// This piece's number, 1-based.
    pub k: u16,
    /// The number of pieces.
    pub n: u16,
    /// The piece.
    pub piece: &'a str,
}

fn hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

fn dec_u16(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses a v3 or v2 fragment at the start of `text` (trailing whitespace after the final
/// comma is tolerated, as IRC may add it). A v4 fragment (three tags) is not one: `None`.
pub fn parse(text: &str) -> Option<Fragment<'_>> {
    let text = text.trim_end_matches([' ', '\t', '\r', '\n']);
    let body = text.strip_suffix(',')?;
    let (version, sender_tag, receiver_tag, rest) = if let Some(rest) = body.strip_prefix("?OTR|") {
        let (tags, rest) = rest.split_once(',')?;
        let (s, r) = tags.split_once('|')?;
        (3, hex_u32(s)?, hex_u32(r)?, rest)
    } else if let Some(rest) = body.strip_prefix("?OTR,") {
        (2, 0, 0, rest)
    } else {
        return None;
    };
    let mut parts = rest.splitn(3, ',');
    let k = dec_u16(parts.next()?)?;
    let n = dec_u16(parts.next()?)?;
    let piece = parts.next()?;
    // A piece is base64 or the envelope's ?OTR: and '.', never a comma.
    if piece.is_empty() || piece.contains(',') {
        return None;
    }
    Some(Fragment {
        version,
        sender_tag,
        receiver_tag,
        k,
        n,
        piece,
    })
}

/// What feeding a fragment produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// Stored; more pieces to come.
    Pending,
    /// The whole message.
    Complete(String),
    /// The fragment was illegal or out of sequence and the buffer was reset (the spec's
    /// behaviour: libotr silently drops such pieces).
    Dropped,
}

/// Strictly sequential reassembly, one buffer per sender (the OTRv3 spec's algorithm:
/// piece 1 starts a message, piece K+1 of the same N extends it, anything else resets).
#[derive(Debug, Default)]
pub struct Assembler {
    buf: String,
    k: u16,
    n: u16,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Self {
        Assembler::default()
    }

    /// Forgets a partial message (the spec does this on any unfragmented message too).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.k = 0;
        self.n = 0;
    }

    /// Whether a message is partly received.
    pub fn is_pending(&self) -> bool {
        self.n > 0
    }

    /// Feeds one fragment.
    pub fn push(&mut self, f: &Fragment<'_>) -> Assembled {
        if f.k == 0 || f.n == 0 || f.k > f.n || f.n > MAX_FRAGMENTS {
            self.reset();
            return Assembled::Dropped;
        }
        if f.k == 1 {
            self.reset();
            // The bound holds for the first piece too (found by the otr3_fragment fuzz target).
            if f.piece.len() > MAX_REASSEMBLY_BYTES {
                return Assembled::Dropped;
            }
            self.buf.push_str(f.piece);
            self.k = 1;
            self.n = f.n;
        } else if f.n == self.n && f.k == self.k.saturating_add(1) {
            if self.buf.len().saturating_add(f.piece.len()) > MAX_REASSEMBLY_BYTES {
                self.reset();
                return Assembled::Dropped;
            }
            self.buf.push_str(f.piece);
            self.k = f.k;
        } else {
            self.reset();
            return Assembled::Dropped;
        }
        if self.k == self.n {
            let whole = std::mem::take(&mut self.buf);
            self.reset();
            return Assembled::Complete(whole);
        }
        Assembled::Pending
    }
}

/// Splits `encoded` (a whole `?OTR:...` message) into fragments whose text is at most
/// `budget` bytes each, formatted as libotr does (`%08x` tags, `%05hu` numbers). Returns the
/// message itself when it fits. `version` 2 gives `?OTR,k,n,piece,`.
pub fn split(
    encoded: &str,
    version: u16,
    sender_tag: u32,
    receiver_tag: u32,
    budget: usize,
) -> Vec<String> {
    if encoded.len() <= budget {
        return vec![encoded.to_string()];
    }
    // Overhead of one fragment around its piece.
    let overhead = if version == 2 {
        "?OTR,00000,00000,,".len()
    } else {
        "?OTR|00000000|00000000,00000,00000,,".len()
    };
    // The envelope is ASCII, so any byte boundary is a char boundary.
    let piece_len = budget.saturating_sub(overhead).max(1);
    let pieces: Vec<&str> = encoded
        .as_bytes()
        .chunks(piece_len)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let n = pieces.len();
    pieces
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let k = i + 1;
            if version == 2 {
                format!("?OTR,{k:05},{n:05},{p},")
            } else {
                format!("?OTR|{sender_tag:08x}|{receiver_tag:08x},{k:05},{n:05},{p},")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_parses_and_reassembles() {
        let lines = [
            "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAA,",
            "?OTR|5a73a599|27e31597,00002,00003,jPEWAJ6gBXvZ,",
            "?OTR|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,",
        ];
        let mut a = Assembler::new();
        let mut out = Vec::new();
        for l in lines {
            let f = parse(l).expect("fragment");
            assert_eq!(f.version, 3);
            assert_eq!(f.sender_tag, 0x5a73a599);
            assert_eq!(f.receiver_tag, 0x27e31597);
            out.push(a.push(&f));
        }
        assert_eq!(out[0], Assembled::Pending);
        assert_eq!(
            out[2],
            Assembled::Complete(
                "?OTR:AAMDJ+MVmSfjFZcAAAAAjPEWAJ6gBXvZpkTtquknfx6HodLvk3RAAAAAA==.".into()
            )
        );
    }

    #[test]
    fn unpadded_v2_and_v4_forms() {
        let f = parse("?OTR|eb42ebcc|0,1,2,abc,").expect("otr.js style");
        assert_eq!(
            (f.sender_tag, f.receiver_tag, f.k, f.n),
            (0xeb42ebcc, 0, 1, 2)
        );
        let f = parse("?OTR,1,3,?OTR:AAID,").expect("v2");
        assert_eq!((f.version, f.k, f.n, f.piece), (2, 1, 3, "?OTR:AAID"));
        // OTRv4 fragments carry an identifier as well: not ours.
        assert_eq!(parse("?OTR|1|2|3,1,2,abc,"), None);
        assert_eq!(parse("?OTR|1|2,1,2,,"), None);
        assert_eq!(parse("?OTR|1|2,1,2,abc"), None);
        assert_eq!(parse("?OTR|1|2,99999,2,abc,"), None);
        assert_eq!(parse("?OTR|123456789|2,1,2,abc,"), None);
    }

    #[test]
    fn out_of_order_duplicate_and_illegal_pieces_reset() {
        let mk = |k, n| Fragment {
            version: 3,
            sender_tag: 0x100,
            receiver_tag: 0,
            k,
            n,
            piece: "x",
        };
        let mut a = Assembler::new();
        assert_eq!(a.push(&mk(1, 3)), Assembled::Pending);
        assert_eq!(a.push(&mk(3, 3)), Assembled::Dropped);
        assert!(!a.is_pending());
        assert_eq!(a.push(&mk(2, 3)), Assembled::Dropped);
        assert_eq!(a.push(&mk(1, 2)), Assembled::Pending);
        assert_eq!(
            a.push(&mk(1, 2)),
            Assembled::Pending,
            "a new piece 1 restarts"
        );
        assert_eq!(a.push(&mk(2, 3)), Assembled::Dropped, "n changed");
        assert_eq!(a.push(&mk(0, 3)), Assembled::Dropped);
        assert_eq!(a.push(&mk(4, 3)), Assembled::Dropped);
        assert_eq!(a.push(&mk(1, 1)), Assembled::Complete("x".into()));
    }

    #[test]
    fn no_piece_takes_the_buffer_past_its_bound() {
        let mk = |k, n, piece| Fragment {
            version: 3,
            sender_tag: 0x100,
            receiver_tag: 0,
            k,
            n,
            piece,
        };
        let big = "A".repeat(MAX_REASSEMBLY_BYTES + 1);
        let mut a = Assembler::new();
        // A first piece alone over the bound is not buffered (nor delivered whole).
        assert_eq!(a.push(&mk(1, 2, &big)), Assembled::Dropped);
        assert!(!a.is_pending());
        assert_eq!(a.push(&mk(1, 1, &big)), Assembled::Dropped);
        // Exactly at the bound is fine; one byte more in a later piece is not.
        let full = &big[..MAX_REASSEMBLY_BYTES];
        assert_eq!(a.push(&mk(1, 1, full)), Assembled::Complete(full.into()));
        assert_eq!(a.push(&mk(1, 2, full)), Assembled::Pending);
        assert_eq!(a.push(&mk(2, 2, "x")), Assembled::Dropped);
        assert!(!a.is_pending());
    }

    #[test]
    fn split_fits_the_budget_and_reassembles() {
        let msg = format!("?OTR:{}.", "A".repeat(2000));
        for (version, budget) in [(3, 400), (2, 300), (3, 60)] {
            let frags = split(&msg, version, 0x1234, 0x100, budget);
            assert!(frags.len() > 1);
            let mut a = Assembler::new();
            let mut whole = None;
            for f in &frags {
                assert!(f.len() <= budget, "{} > {budget}", f.len());
                if let Assembled::Complete(m) = a.push(&parse(f).expect("own fragment")) {
                    whole = Some(m);
                }
            }
            assert_eq!(whole.as_deref(), Some(msg.as_str()));
        }
        assert_eq!(split("?OTR:AAMD.", 3, 1, 2, 400), ["?OTR:AAMD."]);
    }
}
