//! The OTRv3 data types (BYTE, SHORT, INT, MPI, DATA, CTR, MAC), big-endian. A [`Reader`]
//! never panics and never allocates more than its input.

use crate::limits::MAX_MPI_BYTES;

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
    /// The protocol version is neither 2 nor 3.
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

    /// Takes a fixed-size array (CTR is `array::<8>`, MAC is `array::<20>`).
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

    /// DATA: INT length then bytes, the length bounded by `max`.
    pub fn data(&mut self, max: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::LengthOutOfRange(field));
        }
        self.take(len, field)
    }

    /// MPI: INT length then a big-endian magnitude of at most [`MAX_MPI_BYTES`]. Leading
    /// zero bytes are tolerated (libotr never writes them, but the value is the same).
    pub fn mpi(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.data(MAX_MPI_BYTES, field)
    }

    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Fails unless everything was read.
    pub fn finish(&self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Appends the OTRv3 types to a byte vector.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
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

    /// Raw bytes (CTR, MAC, fixed fields).
    pub fn raw(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// DATA. Lengths above `u32::MAX` cannot occur: every caller bounds its input far lower.
    pub fn data(&mut self, v: &[u8]) -> &mut Self {
        let len = u32::try_from(v.len()).unwrap_or(u32::MAX);
        self.u32(len).raw(v)
    }

    /// MPI from big-endian bytes, written minimally (leading zero bytes dropped, as libotr
    /// and libgcrypt do; zero is the empty MPI).
    pub fn mpi(&mut self, be: &[u8]) -> &mut Self {
        let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
        self.data(be.get(start..).unwrap_or_default())
    }

    /// The bytes written.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// The bytes written so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf
    }
}

/// `v` as a minimal MPI on its own (the form hashed by the AKE and SMP).
pub fn mpi_bytes(be: &[u8]) -> Vec<u8> {
    Writer::new().mpi(be).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpi_is_minimal_and_round_trips() {
        let enc = mpi_bytes(&[0, 0, 1, 2]);
        assert_eq!(enc, [0, 0, 0, 2, 1, 2]);
        assert_eq!(mpi_bytes(&[0, 0]), [0, 0, 0, 0]);
        let mut r = Reader::new(&enc);
        assert_eq!(r.mpi("x"), Ok(&[1u8, 2][..]));
        assert!(r.finish().is_ok());
    }

    #[test]
    fn oversized_and_truncated_fields_are_errors() {
        let mut big = vec![0, 0, 0, 193];
        big.extend(vec![1u8; 193]);
        assert_eq!(
            Reader::new(&big).mpi("m"),
            Err(DecodeError::LengthOutOfRange("m"))
        );
        assert_eq!(
            Reader::new(&[0, 0, 0, 5, 1]).data(10, "d"),
            Err(DecodeError::Truncated("d"))
        );
        assert_eq!(Reader::new(&[1]).u32("i"), Err(DecodeError::Truncated("i")));
    }
}
