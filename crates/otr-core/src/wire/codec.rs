//! Binary encoding primitives (otrv4 "Data Types"): BYTE, SHORT, INT, LONG, DATA and fixed
//! arrays, big-endian. A [`Reader`] never panics and never allocates more than the input.

/// A decoding failure. Carries only the field name, never data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended inside a field.
    #[error("truncated at {0}")]
    Truncated(&'static str),
    /// Bytes were left over after the last field.
    #[error("trailing bytes after message")]
    TrailingBytes,
    /// A length field exceeded its bound.
    #[error("length out of range in {0}")]
    LengthOutOfRange(&'static str),
    /// A field held a value the format does not allow.
    #[error("invalid value in {0}")]
    InvalidValue(&'static str),
    /// The protocol version is not OTRv4+.
    #[error("unsupported protocol version")]
    UnsupportedVersion,
    /// The message type is unknown.
    #[error("unknown message type")]
    UnknownType,
}

/// A cursor over untrusted bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Takes exactly `n` bytes.
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(field));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, field)?;
        s.try_into().map_err(|_| DecodeError::Truncated(field))
    }

    /// BYTE.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// SHORT.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    /// INT.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// LONG (signed, as otrv4's profile expiry).
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }

    /// DATA: INT length then bytes, the length bounded by `max`.
    pub fn data(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::LengthOutOfRange(field));
        }
        self.take(len, field)
    }

    /// A short string: BYTE length then bytes.
    pub fn short_data(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u8(field)? as usize;
        self.take(len, field)
    }

    /// Everything that remains.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// An append-only encoder.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }

    /// BYTE.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// SHORT.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// INT.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// LONG.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// DATA (INT length prefix). Callers only pass bounded values.
    pub fn data(&mut self, v: &[u8]) -> &mut Self {
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.bytes(v)
    }

    /// Short string (BYTE length prefix), truncated at 255 bytes.
    pub fn short_data(&mut self, v: &[u8]) -> &mut Self {
        let n = v.len().min(255);
        self.u8(n as u8);
        self.bytes(v.get(..n).unwrap_or_default())
    }

    /// Bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }

    /// The encoding.
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bounds() {
        let mut w = Writer::default();
        w.u8(1).u16(2).u32(3).i64(-4).data(b"xy").short_data(b"z");
        let v = w.into_vec();
        let mut r = Reader::new(&v);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.u16("b").unwrap(), 2);
        assert_eq!(r.u32("c").unwrap(), 3);
        assert_eq!(r.i64("d").unwrap(), -4);
        assert_eq!(r.data(2, "e").unwrap(), b"xy");
        assert_eq!(r.short_data("f").unwrap(), b"z");
        r.finish().unwrap();

        let mut r = Reader::new(&[0, 0, 0, 9, 1]);
        assert_eq!(r.data(8, "x"), Err(DecodeError::LengthOutOfRange("x")));
        let mut r = Reader::new(&[0, 0, 0, 2, 1]);
        assert_eq!(r.data(8, "x"), Err(DecodeError::Truncated("x")));
        assert_eq!(Reader::new(&[1]).finish(), Err(DecodeError::TrailingBytes));
    }
}
