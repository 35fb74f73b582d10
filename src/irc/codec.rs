//! Line framing: bytes in, whole lines out (terminator included, so a forwarded line is the
//! exact bytes received), with a hard length bound.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

/// Longest line accepted: 8191 bytes of IRCv3 tags plus a 512-byte message, rounded up.
pub const MAX_LINE: usize = 8192 + 512;

/// What the decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line including its `\n` (and `\r` if present).
    Line(Bytes),
    /// A line longer than [`MAX_LINE`] was dropped (its length so far).
    Overlong(usize),
}

/// The line codec.
#[derive(Debug, Default)]
pub struct LineCodec {
    /// Bytes already searched for `\n`.
    scanned: usize,
    /// Dropping an overlong line until its end.
    discarding: bool,
}

impl Decoder for LineCodec {
    type Item = Frame;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Self::Error> {
        loop {
            let found = buf
                .get(self.scanned..)
                .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
                .map(|i| self.scanned + i);
            match found {
                Some(end) => {
                    self.scanned = 0;
                    let line = buf.split_to(end + 1).freeze();
                    if self.discarding {
                        self.discarding = false;
                        continue;
                    }
                    if line.len() > MAX_LINE {
                        return Ok(Some(Frame::Overlong(line.len())));
                    }
                    return Ok(Some(Frame::Line(line)));
                }
                None if buf.len() > MAX_LINE => {
                    let n = buf.len();
                    buf.clear();
                    self.scanned = 0;
                    let first = !self.discarding;
                    self.discarding = true;
                    return Ok(first.then_some(Frame::Overlong(n)));
                }
                None => {
                    self.scanned = buf.len();
                    return Ok(None);
                }
            }
        }
    }
}

impl Encoder<Bytes> for LineCodec {
    type Error = std::io::Error;

    fn encode(&mut self, line: Bytes, dst: &mut BytesMut) -> Result<(), Self::Error> {
        dst.extend_from_slice(&line);
        Ok(())
    }
}

/// Lines written before one flush: what is already queued goes out in one write.
pub const WRITE_BATCH: usize = 256;

/// Writes `first` and whatever else is queued in `rx` (up to [`WRITE_BATCH`] lines), then
/// flushes once. Returns false when `rx` is closed and empty.
pub async fn write_batch<S>(
    sink: &mut S,
    first: Bytes,
    rx: &mut tokio::sync::mpsc::Receiver<Bytes>,
) -> Result<(), std::io::Error>
where
    S: futures_util::Sink<Bytes, Error = std::io::Error> + Unpin,
{
    use futures_util::SinkExt;
    sink.feed(first).await?;
    for _ in 1..WRITE_BATCH {
        match rx.try_recv() {
            Ok(line) => sink.feed(line).await?,
            Err(_) => break,
        }
    }
    sink.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<Frame> {
        let mut c = LineCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        // Feed in small pieces to exercise partial reads.
        for chunk in input.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(f) = c.decode(&mut buf).unwrap() {
                out.push(f);
            }
        }
        out
    }

    #[test]
    fn keeps_exact_bytes() {
        let out = decode_all(b"PING a\r\nPONG b\n:x PRIVMSG y :\xff\r\n");
        assert_eq!(
            out,
            vec![
                Frame::Line(Bytes::from_static(b"PING a\r\n")),
                Frame::Line(Bytes::from_static(b"PONG b\n")),
                Frame::Line(Bytes::from_static(b":x PRIVMSG y :\xff\r\n")),
            ]
        );
    }

    #[test]
    fn overlong_lines_are_dropped_once_and_framing_recovers() {
        let mut input = vec![b'a'; MAX_LINE * 3];
        input.extend_from_slice(b"\r\nPING ok\r\n");
        let out = decode_all(&input);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(matches!(out.first(), Some(Frame::Overlong(_))));
        assert_eq!(
            out.get(1),
            Some(&Frame::Line(Bytes::from_static(b"PING ok\r\n")))
        );
    }

    #[test]
    fn a_line_of_exactly_the_limit_passes() {
        let mut input = vec![b'a'; MAX_LINE - 2];
        input.extend_from_slice(b"\r\n");
        let out = decode_all(&input);
        assert!(matches!(out.as_slice(), [Frame::Line(l)] if l.len() == MAX_LINE));
    }
}
