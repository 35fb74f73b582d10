//! A network's message log: the messages kept for clients (channels and queries), sealed at
//! rest like every store file, but appended to in chunks instead of rewritten whole.
//!
//! # Layout (format version 1)
//!
//! | offset | length | field |
//! |---:|---:|---|
//! | 0 | 14 | magic `OTRBNC-MSGLOG\0` |
//! | 14 | 1 | format version, `1` |
//! | 15 | 4 | Argon2id memory cost in KiB (u32, big-endian) |
//! | 19 | 4 | Argon2id passes (u32, big-endian) |
//! | 23 | 1 | Argon2id parallelism (u8) |
//! | 24 | 16 | salt (random, chosen when the file is created) |
//! | 40 | … | chunks |
//!
//! Each chunk is the ciphertext length `n + 16` (u32, big-endian, at most
//! [`MAX_CHUNK_LEN`]` + 16`), a fresh random 12-byte nonce, and the AES-256-GCM ciphertext of
//! `n` bytes of records with its tag. The key is Argon2id(passphrase, salt), as for
//! [`super::sealed`]; the associated data of chunk `i` (counting from 0) is the 40-byte header
//! followed by `i` (u64, big-endian), so chunks cannot be changed, reordered, or dropped from
//! the middle without the file being refused.
//!
//! A record is a message — `0x01`, number (u64), time in Unix ms (u64), conversation (u8
//! length, then the casefolded channel or nick), the line (u16 length, then the bytes) — or a
//! named client's read position — `0x02`, name (u8 length, then the bytes), the first
//! message number it has not got (u64), when it left (u64).
//!
//! Opening never writes. A file whose header or any complete chunk does not check out is
//! refused ([`StoreError::Corrupt`] or [`StoreError::Decrypt`]) and left as it is. A chunk cut
//! short at the end of the file (a crash while appending) is skipped, and cut off before the
//! next append. The log is rewritten whole (atomically, same salt and key) when the bounds
//! drop enough of it ([`MessageLog::rewrite`]).

use std::io::Write;
use std::path::{Path, PathBuf};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, Nonce};
use zeroize::Zeroizing;

use super::sealed::{self, KdfParams, NONCE_LEN, SALT_LEN, SealKey, TAG_LEN};
use super::{Passphrase, StoreError, files};

/// The first bytes of a message log.
pub const MAGIC: &[u8; 14] = b"OTRBNC-MSGLOG\0";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Header length (the associated data of every chunk starts with it).
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 4 + 4 + 1 + SALT_LEN;
/// Records are sealed once this many bytes are waiting (or on [`MessageLog::flush`]).
pub const CHUNK_TARGET: usize = 32 * 1024;
/// Largest chunk plaintext a file may hold.
pub const MAX_CHUNK_LEN: usize = 1024 * 1024;
/// Largest log file read.
pub const MAX_FILE_LEN: u64 = 1024 * 1024 * 1024;
/// Longest stored line (a line with tags is at most 8,704 bytes).
pub const MAX_LINE_LEN: usize = u16::MAX as usize;

/// One record of the log.
#[derive(PartialEq, Eq)]
pub enum Record {
    /// A message as clients got it.
    Message {
        /// Its number.
        seq: u64,
        /// When it arrived (Unix ms).
        ms: u64,
        /// The conversation: the casefolded channel, or the other nick.
        target: String,
        /// The line.
        line: Vec<u8>,
    },
    /// Where a named client stopped reading.
    Position {
        /// The client's name.
        name: String,
        /// The first message number it has not got.
        seq: u64,
        /// When it left (Unix ms).
        ms: u64,
    },
}

impl std::fmt::Debug for Record {
    // Message text and nicks stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Record::Message { seq, ms, line, .. } => f
                .debug_struct("Message")
                .field("seq", seq)
                .field("ms", ms)
                .field("line_len", &line.len())
                .finish_non_exhaustive(),
            Record::Position { seq, ms, .. } => f
                .debug_struct("Position")
                .field("seq", seq)
                .field("ms", ms)
                .finish_non_exhaustive(),
        }
    }
}

/// A message record (see [`Record::Message`]); the conversation is cut at 255 bytes and the
/// line at [`MAX_LINE_LEN`].
fn encode_message(out: &mut Vec<u8>, seq: u64, ms: u64, target: &str, line: &[u8]) {
    let target = target.as_bytes();
    let target = target.get(..target.len().min(255)).unwrap_or_default();
    let line = line.get(..line.len().min(MAX_LINE_LEN)).unwrap_or_default();
    out.push(1);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ms.to_be_bytes());
    out.push(u8::try_from(target.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(target);
    out.extend_from_slice(&u16::try_from(line.len()).unwrap_or(u16::MAX).to_be_bytes());
    out.extend_from_slice(line);
}

impl Record {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Message {
                seq,
                ms,
                target,
                line,
            } => encode_message(out, *seq, *ms, target, line),
            Record::Position { name, seq, ms } => {
                let name = name.as_bytes();
                let name = name.get(..name.len().min(255)).unwrap_or_default();
                out.push(2);
                out.push(u8::try_from(name.len()).unwrap_or(u8::MAX));
                out.extend_from_slice(name);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&ms.to_be_bytes());
            }
        }
    }

    /// Every record in a chunk's plaintext; `None` if it does not parse to its end.
    fn decode_all(mut r: &[u8]) -> Option<Vec<Record>> {
        let mut out = Vec::new();
        while !r.is_empty() {
            let [kind] = sealed::take::<1>(&mut r)?;
            let rec = match kind {
                1 => {
                    let seq = u64::from_be_bytes(sealed::take::<8>(&mut r)?);
                    let ms = u64::from_be_bytes(sealed::take::<8>(&mut r)?);
                    let [tl] = sealed::take::<1>(&mut r)?;
                    let target = take_slice(&mut r, usize::from(tl))?;
                    let ll = u16::from_be_bytes(sealed::take::<2>(&mut r)?);
                    let line = take_slice(&mut r, usize::from(ll))?;
                    Record::Message {
                        seq,
                        ms,
                        target: String::from_utf8_lossy(target).into_owned(),
                        line: line.to_vec(),
                    }
                }
                2 => {
                    let [nl] = sealed::take::<1>(&mut r)?;
                    let name = take_slice(&mut r, usize::from(nl))?;
                    let seq = u64::from_be_bytes(sealed::take::<8>(&mut r)?);
                    let ms = u64::from_be_bytes(sealed::take::<8>(&mut r)?);
                    Record::Position {
                        name: String::from_utf8_lossy(name).into_owned(),
                        seq,
                        ms,
                    }
                }
                _ => return None,
            };
            out.push(rec);
        }
        Some(out)
    }
}

fn take_slice<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let head = r.get(..n)?;
    *r = r.get(n..)?;
    Some(head)
}

/// An open message log.
pub struct MessageLog {
    path: PathBuf,
    header: [u8; HEADER_LEN],
    key: SealKey,
    /// Chunks in the file.
    chunks: u64,
    /// Where the last complete chunk ends (a torn tail after it is cut off before appending).
    good_len: u64,
    torn_tail: bool,
    /// Records waiting to be sealed.
    pending: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for MessageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageLog")
            .field("path", &self.path)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl MessageLog {
    /// `messages-<network>.log` (the network name checked as for the trust store).
    pub fn file_name(network: &str) -> Result<String, StoreError> {
        super::TrustStore::file_name(network)?;
        Ok(format!("messages-{network}.log"))
    }

    /// Opens `<dir>/messages-<network>.log` and reads every record, or creates it (with the
    /// default Argon2 parameters).
    pub fn open_or_create(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
    ) -> Result<(MessageLog, Vec<Record>), StoreError> {
        Self::open_or_create_with_params(dir, network, pass, KdfParams::DEFAULT)
    }

    /// [`MessageLog::open_or_create`] with the parameters a new file gets.
    pub fn open_or_create_with_params(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
        params: KdfParams,
    ) -> Result<(MessageLog, Vec<Record>), StoreError> {
        let path = dir.join(Self::file_name(network)?);
        if !files::exists(&path)? {
            let mut salt = [0u8; SALT_LEN];
            rand::fill(&mut salt);
            let header = header(params, &salt);
            let key = sealed::derive(&path, pass, params, &salt)?;
            files::create_atomic(&path, &header)?;
            let log = MessageLog {
                path,
                header,
                key,
                chunks: 0,
                good_len: HEADER_LEN as u64,
                torn_tail: false,
                pending: Zeroizing::new(Vec::new()),
            };
            return Ok((log, Vec::new()));
        }
        Self::open(&path, pass)
    }

    fn open(path: &Path, pass: &Passphrase) -> Result<(MessageLog, Vec<Record>), StoreError> {
        let bytes = files::read_private(path, MAX_FILE_LEN)?;
        let corrupt = |reason: &str| StoreError::corrupt(path, reason);
        if !bytes.starts_with(MAGIC) {
            return Err(corrupt("it does not start like an otrbnc message log"));
        }
        let mut r = bytes.get(MAGIC.len()..).unwrap_or_default();
        let truncated = || corrupt("its header is truncated");
        let [version] = sealed::take::<1>(&mut r).ok_or_else(truncated)?;
        if version != FORMAT_VERSION {
            return Err(StoreError::corrupt(
                path,
                format!(
                    "it has format version {version}, which this version of otrbnc cannot read"
                ),
            ));
        }
        let m = u32::from_be_bytes(sealed::take::<4>(&mut r).ok_or_else(truncated)?);
        let t = u32::from_be_bytes(sealed::take::<4>(&mut r).ok_or_else(truncated)?);
        let [p] = sealed::take::<1>(&mut r).ok_or_else(truncated)?;
        let salt = sealed::take::<SALT_LEN>(&mut r).ok_or_else(truncated)?;
        let params = KdfParams::new(m, t, p)
            .ok_or_else(|| corrupt("its key-derivation parameters are out of bounds"))?;
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(bytes.get(..HEADER_LEN).ok_or_else(truncated)?);
        let key = sealed::derive(path, pass, params, &salt)?;
        let cipher = key.cipher();
        let mut records = Vec::new();
        let (mut chunks, mut at) = (0u64, HEADER_LEN);
        let mut torn_tail = false;
        while at < bytes.len() {
            let rest = bytes.get(at..).unwrap_or_default();
            let Some((len, body)) = rest
                .split_first_chunk::<4>()
                .map(|(l, b)| (u32::from_be_bytes(*l) as usize, b))
            else {
                torn_tail = true;
                break;
            };
            if !(TAG_LEN..=MAX_CHUNK_LEN + TAG_LEN).contains(&len) {
                return Err(corrupt("a chunk has an impossible length"));
            }
            if body.len() < NONCE_LEN + len {
                // Cut short by a crash while appending: what came before stands.
                torn_tail = true;
                break;
            }
            let nonce = body.get(..NONCE_LEN).unwrap_or_default();
            let ct = body.get(NONCE_LEN..NONCE_LEN + len).unwrap_or_default();
            let plain = open_chunk(&cipher, &head, chunks, nonce, ct).ok_or_else(|| {
                StoreError::Decrypt {
                    path: path.to_path_buf(),
                }
            })?;
            let recs = Record::decode_all(&plain)
                .ok_or_else(|| corrupt("a chunk holds a record that does not parse"))?;
            records.extend(recs);
            chunks += 1;
            at += 4 + NONCE_LEN + len;
        }
        Ok((
            MessageLog {
                path: path.to_path_buf(),
                header: head,
                key,
                chunks,
                good_len: at as u64,
                torn_tail,
                pending: Zeroizing::new(Vec::new()),
            },
            records,
        ))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a record; it is sealed and written once enough are waiting, or on
    /// [`MessageLog::flush`].
    pub fn append(&mut self, rec: &Record) -> Result<(), StoreError> {
        rec.encode(&mut self.pending);
        if self.pending.len() >= CHUNK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// [`MessageLog::append`] for a message, without building a [`Record`].
    pub fn append_message(
        &mut self,
        seq: u64,
        ms: u64,
        target: &str,
        line: &[u8],
    ) -> Result<(), StoreError> {
        encode_message(&mut self.pending, seq, ms, target, line);
        if self.pending.len() >= CHUNK_TARGET {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether records wait to be written.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Seals the waiting records into a chunk and appends it.
    pub fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = seal_chunk(&self.key.cipher(), &self.header, self.chunks, &self.pending)
            .ok_or_else(|| StoreError::corrupt(&self.path, "a chunk could not be sealed"))?;
        let io = |e| StoreError::io(&self.path, e);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(io)?;
        if self.torn_tail {
            f.set_len(self.good_len).map_err(io)?;
            self.torn_tail = false;
        }
        use std::io::Seek;
        f.seek(std::io::SeekFrom::Start(self.good_len))
            .map_err(io)?;
        f.write_all(&chunk).map_err(io)?;
        self.good_len += chunk.len() as u64;
        self.chunks += 1;
        self.pending.clear();
        Ok(())
    }

    /// Replaces the file with `records` alone (atomically; same salt and key).
    pub fn rewrite<'r>(
        &mut self,
        records: impl Iterator<Item = &'r Record>,
    ) -> Result<(), StoreError> {
        let cipher = self.key.cipher();
        let mut out = self.header.to_vec();
        let mut chunk = Zeroizing::new(Vec::with_capacity(CHUNK_TARGET + 1024));
        let mut index = 0u64;
        let mut seal = |chunk: &mut Zeroizing<Vec<u8>>,
                        out: &mut Vec<u8>|
         -> Result<(), StoreError> {
            let sealed = seal_chunk(&cipher, &self.header, index, chunk)
                .ok_or_else(|| StoreError::corrupt(&self.path, "a chunk could not be sealed"))?;
            out.extend_from_slice(&sealed);
            index += 1;
            chunk.clear();
            Ok(())
        };
        for rec in records {
            rec.encode(&mut chunk);
            if chunk.len() >= CHUNK_TARGET {
                seal(&mut chunk, &mut out)?;
            }
        }
        if !chunk.is_empty() {
            seal(&mut chunk, &mut out)?;
        }
        files::replace_atomic(&self.path, &out)?;
        self.chunks = index;
        self.good_len = out.len() as u64;
        self.torn_tail = false;
        self.pending.clear();
        Ok(())
    }
}

fn header(params: KdfParams, salt: &[u8; SALT_LEN]) -> [u8; HEADER_LEN] {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.push(FORMAT_VERSION);
    h.extend_from_slice(&params.m_cost_kib().to_be_bytes());
    h.extend_from_slice(&params.t_cost().to_be_bytes());
    h.push(params.p_cost());
    h.extend_from_slice(salt);
    let mut out = [0u8; HEADER_LEN];
    out.copy_from_slice(&h);
    out
}

fn aad(header: &[u8; HEADER_LEN], index: u64) -> [u8; HEADER_LEN + 8] {
    let mut a = [0u8; HEADER_LEN + 8];
    a[..HEADER_LEN].copy_from_slice(header);
    a[HEADER_LEN..].copy_from_slice(&index.to_be_bytes());
    a
}

/// `len ‖ nonce ‖ ciphertext ‖ tag` for one chunk.
fn seal_chunk(
    cipher: &Aes256Gcm,
    header: &[u8; HEADER_LEN],
    index: u64,
    plain: &[u8],
) -> Option<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::fill(&mut nonce);
    // Encrypted in place in a buffer with room for the tag, so no plaintext copy is left
    // behind by a reallocation.
    let mut ct = Vec::with_capacity(plain.len() + TAG_LEN);
    ct.extend_from_slice(plain);
    let gcm_nonce: &Nonce<Aes256Gcm> = (&nonce).into();
    cipher
        .encrypt_in_place(gcm_nonce, &aad(header, index), &mut ct)
        .ok()?;
    let mut buf = Vec::with_capacity(4 + NONCE_LEN + ct.len());
    buf.extend_from_slice(&u32::try_from(ct.len()).ok()?.to_be_bytes());
    buf.extend_from_slice(&nonce);
    buf.extend_from_slice(&ct);
    Some(buf)
}

fn open_chunk(
    cipher: &Aes256Gcm,
    header: &[u8; HEADER_LEN],
    index: u64,
    nonce: &[u8],
    ct: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let nonce: &[u8; NONCE_LEN] = nonce.try_into().ok()?;
    let mut buf = Zeroizing::new(ct.to_vec());
    let gcm_nonce: &Nonce<Aes256Gcm> = nonce.into();
    cipher
        .decrypt_in_place(gcm_nonce, &aad(header, index), &mut *buf)
        .ok()?;
    Some(buf)
}

#[cfg(test)]
mod tests;
