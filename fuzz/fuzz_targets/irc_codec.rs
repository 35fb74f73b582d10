//! `otrbnc::irc::codec::LineCodec` fed a byte stream in chunks of input-chosen sizes, the way
//! `FramedRead` feeds it: extend the buffer with one read, then decode until `None`.
//!
//! Input layout: `n` (1 byte), then `(n & 7) + 1` chunk-size bytes (cycled; a byte below 128
//! is a read of 1..=128 bytes, from 128 up a read of (b-127)*128 bytes, up to 16256), then the
//! stream. In the stream, `0xFF lo hi` with a non-zero `u16` `lo | hi << 8` stands for that
//! many `x` bytes, so that lines around and past `MAX_LINE` are cheap to reach; `0xFF 0 0` is
//! a literal `0xFF` (a lone `0xFF` near the end is literal too).
//!
//! Properties:
//! * every `Frame::Line` ends with `\n`, holds exactly one `\n` and is at most `MAX_LINE`
//!   bytes; every `Frame::Overlong(n)` has `n > MAX_LINE`;
//! * the frames are exactly, in order, one per complete line of the stream (split after each
//!   `\n`, computed here independently): `Line(bytes)` when it is at most `MAX_LINE` bytes,
//!   `Overlong` otherwise, plus one `Overlong` for an unterminated tail over `MAX_LINE`;
//!   so the concatenation of the lines is the stream without the overlong lines;
//! * the buffer never holds more than `MAX_LINE` bytes between reads (so never more than
//!   `MAX_LINE` + one read), and what it holds at the end is the unterminated tail (or,
//!   once that was dropped as overlong, a suffix of it).
#![no_main]

use bytes::BytesMut;
use otrbnc::irc::codec::{Frame, LineCodec, MAX_LINE};
use tokio_util::codec::Decoder;

/// Cap on the expanded stream, so one input stays fast.
const MAX_STREAM: usize = 1 << 16;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

#[derive(Debug, PartialEq, Eq)]
enum Expect<'a> {
    Line(&'a [u8]),
    Overlong,
}

fn chunk_size(b: u8) -> usize {
    if b < 128 {
        usize::from(b) + 1
    } else {
        (usize::from(b) - 127) * 128
    }
}

fn expand(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() && out.len() < MAX_STREAM {
        match body[i..] {
            [0xFF, lo, hi, ..] => {
                let n = usize::from(u16::from_le_bytes([lo, hi]));
                if n == 0 {
                    out.push(0xFF);
                } else {
                    out.resize(out.len() + n, b'x');
                }
                i += 3;
            }
            [b, ..] => {
                out.push(b);
                i += 1;
            }
            [] => unreachable!(),
        }
    }
    out.truncate(MAX_STREAM);
    out
}

fn check(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let k = usize::from(n & 7) + 1;
    if rest.len() < k {
        return;
    }
    let (sizes, body) = rest.split_at(k);
    let stream = expand(body);

    // The expected frames, from the stream alone.
    let mut expected = Vec::new();
    let mut tail: &[u8] = &stream;
    while let Some(i) = tail.iter().position(|&b| b == b'\n') {
        let (line, r) = tail.split_at(i + 1);
        expected.push(if line.len() <= MAX_LINE {
            Expect::Line(line)
        } else {
            Expect::Overlong
        });
        tail = r;
    }
    if tail.len() > MAX_LINE {
        expected.push(Expect::Overlong);
    }

    // Decode it in chunks.
    let mut codec = LineCodec::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut reads = 0usize;
    while pos < stream.len() {
        let size = chunk_size(sizes[reads % sizes.len()]).min(stream.len() - pos);
        reads += 1;
        buf.extend_from_slice(&stream[pos..pos + size]);
        pos += size;
        assert!(
            buf.len() <= MAX_LINE + size,
            "buffer holds {} bytes after a read of {size}",
            buf.len()
        );
        while let Some(frame) = codec.decode(&mut buf).expect("LineCodec never fails") {
            frames.push(frame);
        }
        assert!(
            buf.len() <= MAX_LINE,
            "buffer holds {} bytes between reads",
            buf.len()
        );
    }

    let mut got = Vec::with_capacity(frames.len());
    for f in &frames {
        match f {
            Frame::Line(l) => {
                assert!(l.ends_with(b"\n"), "line without its LF");
                assert_eq!(l.iter().filter(|&&b| b == b'\n').count(), 1, "not one LF");
                assert!(l.len() <= MAX_LINE, "line of {} bytes", l.len());
                got.push(Expect::Line(l));
            }
            Frame::Overlong(len) => {
                assert!(*len > MAX_LINE, "Overlong({len})");
                got.push(Expect::Overlong);
            }
        }
    }
    assert_eq!(got.len(), expected.len(), "frame count");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(g == e, "frame {i} differs: got {g:?}, expected {e:?}");
    }
    let joined: Vec<u8> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Line(l) => Some(&l[..]),
            Frame::Overlong(_) => None,
        })
        .flatten()
        .copied()
        .collect();
    let kept: Vec<u8> = expected
        .iter()
        .filter_map(|e| match e {
            Expect::Line(l) => Some(*l),
            Expect::Overlong => None,
        })
        .flatten()
        .copied()
        .collect();
    assert!(
        joined == kept,
        "the lines do not concatenate to the stream minus overlong lines"
    );

    // What is left is the unterminated tail, or a suffix of it once it was dropped.
    if tail.len() <= MAX_LINE {
        assert!(
            &buf[..] == tail,
            "the buffer does not hold the unterminated tail"
        );
    } else {
        assert!(
            tail.ends_with(&buf),
            "the buffer is not a suffix of the overlong tail"
        );
    }
}
