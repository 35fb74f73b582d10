//! `otr3::fragment`: parsing of v3 (`?OTR|sender|receiver,k,n,piece,`) and v2
//! (`?OTR,k,n,piece,`) fragments, the spec's strictly sequential reassembly, and `split`.
//!
//! Input, used three ways:
//! 1. as text (lossy UTF-8), to `parse`: a fragment it returns lies inside the text, its
//!    piece is non-empty and has no comma, and written back in libotr's format it parses to
//!    the same fragment;
//! 2. split on `\n`, each line parsed and fed to one `Assembler`, beside a model of the
//!    spec's algorithm: every result (pending, complete, dropped) is the model's, so a
//!    `Complete` comes only after pieces 1..n of one message in order, and is their
//!    concatenation; the buffer never holds more than `MAX_REASSEMBLY_BYTES`;
//! 3. as a round trip: the input bytes as an `?OTR:<base64>.` message are `split` with a
//!    line budget of 4 × the first byte (at least 60), version and tags from the next bytes:
//!    every fragment fits the budget and parses; reassembled, they give the message back
//!    (when it can be: at most `MAX_FRAGMENTS` pieces and `MAX_REASSEMBLY_BYTES`; otherwise
//!    reassembly must not complete).
#![no_main]

use otr3::contact::envelope;
use otr3::fragment::{Assembled, Assembler, Fragment, parse, split};
use otr3::limits::{MAX_FRAGMENTS, MAX_REASSEMBLY_BYTES};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

/// The OTRv3 spec's reassembly, written independently of `Assembler`.
#[derive(Default)]
struct Model {
    buf: String,
    k: u16,
    n: u16,
}

impl Model {
    fn push(&mut self, f: &Fragment<'_>) -> Assembled {
        let legal = f.k >= 1 && f.k <= f.n && f.n <= MAX_FRAGMENTS;
        let fits = |len: usize| len + f.piece.len() <= MAX_REASSEMBLY_BYTES;
        let accept = legal
            && if f.k == 1 {
                fits(0)
            } else {
                self.n == f.n && self.k + 1 == f.k && fits(self.buf.len())
            };
        if !accept {
            *self = Model::default();
            return Assembled::Dropped;
        }
        if f.k == 1 {
            self.buf.clear();
        }
        self.buf.push_str(f.piece);
        self.k = f.k;
        self.n = f.n;
        if self.k == self.n {
            let whole = std::mem::take(&mut self.buf);
            *self = Model::default();
            return Assembled::Complete(whole);
        }
        Assembled::Pending
    }
}

/// A fragment in libotr's format (zero-padded, as `split` writes it).
fn format(f: &Fragment<'_>) -> String {
    if f.version == 2 {
        format!("?OTR,{:05},{:05},{},", f.k, f.n, f.piece)
    } else {
        format!(
            "?OTR|{:08x}|{:08x},{:05},{:05},{},",
            f.sender_tag, f.receiver_tag, f.k, f.n, f.piece
        )
    }
}

fn check_parsed(text: &str, f: &Fragment<'_>) {
    assert!(f.version == 2 || f.version == 3);
    if f.version == 2 {
        assert_eq!((f.sender_tag, f.receiver_tag), (0, 0));
    }
    assert!(!f.piece.is_empty() && !f.piece.contains(','));
    assert!(text.contains(f.piece), "the piece is not from the text");
    let again = format(f);
    assert_eq!(parse(&again).as_ref(), Some(f), "written back: {again:?}");
}

fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    // 1. One line.
    if let Some(f) = parse(&text) {
        check_parsed(&text, &f);
    }

    // 2. A sequence of lines into one assembler.
    let mut asm = Assembler::new();
    let mut model = Model::default();
    for line in text.split('\n') {
        let Some(f) = parse(line) else { continue };
        check_parsed(line, &f);
        let got = asm.push(&f);
        let want = model.push(&f);
        assert_eq!(
            got,
            want,
            "assembler and model differ on a {}-byte line starting {:?}",
            line.len(),
            line.get(..60).unwrap_or(line)
        );
        assert_eq!(asm.is_pending(), model.n > 0);
        assert!(model.buf.len() <= MAX_REASSEMBLY_BYTES);
        if let Assembled::Complete(m) = &got {
            assert!(m.len() <= MAX_REASSEMBLY_BYTES);
        }
    }

    // 3. split → parse → reassemble.
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let budget = (usize::from(b) * 4).max(60);
    let version = if rest.first().is_some_and(|v| v & 1 == 1) {
        2
    } else {
        3
    };
    let tag = |i: usize| {
        rest.get(i..i + 4)
            .and_then(|t| t.try_into().ok())
            .map_or(0x100, u32::from_be_bytes)
    };
    let (sender, receiver) = (tag(1), tag(5));
    let msg = envelope(rest);
    let pieces = split(&msg, version, sender, receiver, budget);
    assert!(!pieces.is_empty());
    if msg.len() <= budget {
        assert_eq!(pieces, [msg], "a message that fits is sent whole");
        return;
    }
    let n = pieces.len();
    let possible = n <= usize::from(MAX_FRAGMENTS) && msg.len() <= MAX_REASSEMBLY_BYTES;
    let mut asm = Assembler::new();
    let mut whole = None;
    for (i, p) in pieces.iter().enumerate() {
        assert!(p.len() <= budget, "{}-byte fragment over {budget}", p.len());
        let Some(f) = parse(p) else {
            // Only a count past a u16 cannot be read back.
            assert!(
                n > usize::from(u16::MAX),
                "own fragment {p:?} does not parse"
            );
            return;
        };
        assert_eq!(
            (f.version, usize::from(f.k), usize::from(f.n)),
            (version, i + 1, n)
        );
        if version == 3 {
            assert_eq!((f.sender_tag, f.receiver_tag), (sender, receiver));
        }
        match asm.push(&f) {
            Assembled::Complete(m) => {
                assert_eq!(i + 1, n, "complete before the last piece");
                whole = Some(m);
            }
            Assembled::Pending => assert!(i + 1 < n),
            Assembled::Dropped => assert!(!possible, "own fragment {} of {n} dropped", i + 1),
        }
    }
    if possible {
        assert_eq!(whole.as_deref(), Some(msg.as_str()));
    } else {
        assert_eq!(whole, None);
    }
}
