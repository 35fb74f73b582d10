//! The sealed file: a payload encrypted with a key derived from a passphrase.
//!
//! # Layout (format version 1)
//!
//! | offset | length | field |
//! |---:|---:|---|
//! | 0 | 14 | magic `OTRBNC-SEALED\0` |
//! | 14 | 1 | format version, `1` |
//! | 15 | 4 | Argon2id memory cost in KiB (u32, big-endian) |
//! | 19 | 4 | Argon2id passes (u32, big-endian) |
//! | 23 | 1 | Argon2id parallelism (u8) |
//! | 24 | 16 | salt (random, chosen when the file is created) |
//! | 40 | 12 | nonce (random, fresh on every save) |
//! | 52 | n + 16 | AES-256-GCM ciphertext of the payload, then the tag |
//!
//! The key is Argon2id(passphrase, salt) → 32 bytes. The additional authenticated data is the
//! whole header (bytes 0..52), so changing any header byte (parameters, salt, nonce, version)
//! makes authentication fail just as changing the ciphertext does. The Argon2 parameters read
//! from a file are bounded ([`KdfParams::new`]) before anything is derived, so a hostile file
//! cannot make us allocate gigabytes.
//!
//! The key is derived once, when a file is created or opened, and kept (wiped on drop) so
//! that saving again does not rerun Argon2. Every save writes a fresh random nonce; with a
//! 96-bit random nonce the GCM bound of 2^32 messages per key is far beyond the number of
//! saves a store sees.
//!
//! Opening never writes: a file that cannot be opened is left byte-for-byte as it was.
//! Saving replaces the file atomically (see [`super::files`]), mode 0600.

use std::path::{Path, PathBuf};

use aes_gcm::aead::{Aead, AeadInOut, KeyInit, Nonce, Payload};
use aes_gcm::{Aes256Gcm, Key};
use argon2::{Algorithm, Argon2, Block, Version};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::files;
use super::{Passphrase, StoreError};

/// The first bytes of every sealed file.
pub const MAGIC: &[u8; 14] = b"OTRBNC-SEALED\0";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Salt length.
pub const SALT_LEN: usize = 16;
/// AES-GCM nonce length.
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Header length: everything before the ciphertext (and the AAD).
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 4 + 4 + 1 + SALT_LEN + NONCE_LEN;
/// Largest payload a sealed file may hold (larger files are refused before decryption).
pub const MAX_PAYLOAD_LEN: usize = 96 * 1024 * 1024;
/// Derived key length (AES-256).
const KEY_LEN: usize = 32;

/// Argon2id cost parameters, always within bounds (see [`KdfParams::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u8,
}

impl KdfParams {
    /// The parameters new files get: 64 MiB and 3 passes (RFC 9106's second recommended
    /// option) in one lane; a fraction of a second per file.
    pub const DEFAULT: KdfParams = KdfParams {
        m_cost_kib: 65_536,
        t_cost: 3,
        p_cost: 1,
    };
    /// Most memory a file may ask for: 1 GiB.
    pub const MAX_M_COST_KIB: u32 = 1_048_576;
    /// Most passes a file may ask for.
    pub const MAX_T_COST: u32 = 64;
    /// Most lanes a file may ask for.
    pub const MAX_P_COST: u8 = 16;

    /// Parameters within the bounds above and Argon2's own (at least 8 KiB per lane, at least
    /// one pass and one lane); `None` otherwise.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u8) -> Option<KdfParams> {
        let ok = (1..=Self::MAX_P_COST).contains(&p_cost)
            && (1..=Self::MAX_T_COST).contains(&t_cost)
            && m_cost_kib <= Self::MAX_M_COST_KIB
            && m_cost_kib >= 8 * u32::from(p_cost);
        ok.then_some(KdfParams {
            m_cost_kib,
            t_cost,
            p_cost,
        })
    }

    /// Memory cost in KiB.
    pub fn m_cost_kib(&self) -> u32 {
        self.m_cost_kib
    }

    /// Passes.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Lanes.
    pub fn p_cost(&self) -> u8 {
        self.p_cost
    }
}

/// Cheap parameters for tests (256 KiB, one pass).
#[cfg(test)]
pub(crate) const TEST_PARAMS: KdfParams = KdfParams {
    m_cost_kib: 256,
    t_cost: 1,
    p_cost: 1,
};

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

/// The derived file key. Wiped on drop; deliberately no `Debug`, `Clone` or `Copy`.
pub(super) struct SealKey([u8; KEY_LEN]);

impl SealKey {
    /// AES-256-GCM under this key.
    pub(super) fn cipher(&self) -> Aes256Gcm {
        let key: &Key<Aes256Gcm> = (&self.0).into();
        Aes256Gcm::new(key)
    }
}

impl Drop for SealKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SealKey {}

/// One sealed file and its derived key.
pub struct SealedFile {
    path: PathBuf,
    params: KdfParams,
    salt: [u8; SALT_LEN],
    key: SealKey,
}

impl std::fmt::Debug for SealedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedFile")
            .field("path", &self.path)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl SealedFile {
    /// Prepares a new sealed file at `path` with the default Argon2 parameters and a fresh
    /// salt. Nothing is written until the first [`SealedFile::save`]; if a file is already
    /// there the result is [`StoreError::Exists`] (an existing store is never replaced by a
    /// new one: open it instead).
    pub fn create(path: &Path, pass: &Passphrase) -> Result<SealedFile, StoreError> {
        SealedFile::create_with_params(path, pass, KdfParams::DEFAULT)
    }

    /// [`SealedFile::create`] with chosen Argon2 parameters (tests use cheap ones).
    pub fn create_with_params(
        path: &Path,
        pass: &Passphrase,
        params: KdfParams,
    ) -> Result<SealedFile, StoreError> {
        if files::exists(path)? {
            return Err(StoreError::Exists {
                path: path.to_path_buf(),
            });
        }
        let mut salt = [0u8; SALT_LEN];
        rand::fill(&mut salt);
        let key = derive(path, pass, params, &salt)?;
        Ok(SealedFile {
            path: path.to_path_buf(),
            params,
            salt,
            key,
        })
    }

    /// Opens and decrypts an existing sealed file. The file is only read: on any error it is
    /// left exactly as it was. A file other users can access is refused
    /// ([`StoreError::Permissions`]).
    pub fn open(
        path: &Path,
        pass: &Passphrase,
    ) -> Result<(SealedFile, Zeroizing<Vec<u8>>), StoreError> {
        let max = HEADER_LEN + MAX_PAYLOAD_LEN + TAG_LEN;
        let bytes = files::read_private(path, u64::try_from(max).unwrap_or(u64::MAX))?;
        let header = Header::parse(path, &bytes)?;
        let ciphertext = bytes.get(HEADER_LEN..).unwrap_or_default();
        let aad = bytes.get(..HEADER_LEN).unwrap_or_default();
        let key = derive(path, pass, header.params, &header.salt)?;
        let file = SealedFile {
            path: path.to_path_buf(),
            params: header.params,
            salt: header.salt,
            key,
        };
        let plaintext = file.decrypt(&header.nonce, aad, ciphertext)?;
        Ok((file, plaintext))
    }

    /// Encrypts `plaintext` under a fresh nonce and atomically replaces the file with it
    /// (mode 0600; the directory is created, mode 0700, if missing).
    pub fn save(&self, plaintext: &[u8]) -> Result<(), StoreError> {
        if plaintext.len() > MAX_PAYLOAD_LEN {
            return Err(StoreError::TooLarge {
                path: self.path.clone(),
                len: plaintext.len(),
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        rand::fill(&mut nonce);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        write_header(&mut out, self.params, &self.salt, &nonce);
        let cipher = self.cipher();
        let gcm_nonce: &Nonce<Aes256Gcm> = (&nonce).into();
        // `Aead::encrypt` sizes its buffer for the tag, so no plaintext copy is left behind
        // by a reallocation.
        let ciphertext = cipher
            .encrypt(
                gcm_nonce,
                Payload {
                    msg: plaintext,
                    aad: &out,
                },
            )
            .map_err(|_| StoreError::TooLarge {
                path: self.path.clone(),
                len: plaintext.len(),
            })?;
        out.extend_from_slice(&ciphertext);
        files::replace_atomic(&self.path, &out)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The Argon2 parameters of this file (those it was created with).
    pub fn params(&self) -> KdfParams {
        self.params
    }

    fn cipher(&self) -> Aes256Gcm {
        self.key.cipher()
    }

    fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        // Decrypted in place in a buffer that is wiped on drop, success or not.
        let mut buf = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
        buf.extend_from_slice(ciphertext);
        let gcm_nonce: &Nonce<Aes256Gcm> = nonce.into();
        self.cipher()
            .decrypt_in_place(gcm_nonce, aad, &mut *buf)
            .map_err(|_| StoreError::Decrypt {
                path: self.path.clone(),
            })?;
        Ok(buf)
    }
}

/// The parsed header of a sealed file.
struct Header {
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
}

impl Header {
    /// Checks magic, version, length and parameter bounds, in that order, so the reason given
    /// is the most useful one.
    fn parse(path: &Path, bytes: &[u8]) -> Result<Header, StoreError> {
        let corrupt = |reason: &str| StoreError::corrupt(path, reason);
        if bytes.is_empty() {
            return Err(corrupt("it is empty"));
        }
        if !bytes.starts_with(MAGIC) {
            return Err(if MAGIC.starts_with(bytes) {
                corrupt("it is truncated")
            } else {
                corrupt("it does not start like an otrbnc store file")
            });
        }
        let mut r = bytes.get(MAGIC.len()..).unwrap_or_default();
        let truncated = || corrupt("it is truncated");
        let [version] = take::<1>(&mut r).ok_or_else(truncated)?;
        if version != FORMAT_VERSION {
            return Err(StoreError::corrupt(
                path,
                format!(
                    "it has format version {version}, which this version of otrbnc cannot read (was it written by a newer one?)"
                ),
            ));
        }
        let m = take::<4>(&mut r).ok_or_else(truncated)?;
        let t = take::<4>(&mut r).ok_or_else(truncated)?;
        let [p] = take::<1>(&mut r).ok_or_else(truncated)?;
        let salt = take::<SALT_LEN>(&mut r).ok_or_else(truncated)?;
        let nonce = take::<NONCE_LEN>(&mut r).ok_or_else(truncated)?;
        if r.len() < TAG_LEN {
            return Err(truncated());
        }
        let (m, t) = (u32::from_be_bytes(m), u32::from_be_bytes(t));
        let params = KdfParams::new(m, t, p).ok_or_else(|| {
            StoreError::corrupt(
                path,
                format!(
                    "its key-derivation parameters are out of bounds (Argon2id m={m} KiB, t={t}, p={p})"
                ),
            )
        })?;
        Ok(Header {
            params,
            salt,
            nonce,
        })
    }
}

/// Splits `N` bytes off the front of `r`.
pub(super) fn take<const N: usize>(r: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = r.split_first_chunk::<N>()?;
    *r = rest;
    Some(*head)
}

fn write_header(out: &mut Vec<u8>, params: KdfParams, salt: &[u8; SALT_LEN], nonce: &[u8; 12]) {
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&params.m_cost_kib.to_be_bytes());
    out.extend_from_slice(&params.t_cost.to_be_bytes());
    out.push(params.p_cost);
    out.extend_from_slice(salt);
    out.extend_from_slice(nonce);
}

/// Argon2id(passphrase, salt) → the file key. Argon2's working memory (derived from the
/// passphrase) is wiped afterwards too.
pub(super) fn derive(
    path: &Path,
    pass: &Passphrase,
    params: KdfParams,
    salt: &[u8; SALT_LEN],
) -> Result<SealKey, StoreError> {
    let fail = |e: argon2::Error| StoreError::Passphrase {
        origin: "the configured source".to_string(),
        reason: format!(
            "cannot be used to derive the key of {}: {e}",
            path.display()
        ),
    };
    let argon_params = argon2::Params::new(
        params.m_cost_kib,
        params.t_cost,
        u32::from(params.p_cost),
        Some(KEY_LEN),
    )
    .map_err(fail)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params);
    let mut blocks = Zeroizing::new(vec![Block::default(); argon.params().block_count()]);
    let mut key = SealKey([0u8; KEY_LEN]);
    argon
        .hash_password_into_with_memory(pass.expose(), salt, &mut key.0, &mut *blocks)
        .map_err(fail)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn fast() -> KdfParams {
        TEST_PARAMS
    }

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(s.as_bytes().to_vec())).unwrap()
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// A sealed file holding `payload` in a fresh directory; returns (tempdir, path).
    fn sealed_with(payload: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("store").join("x.sealed");
        let f = SealedFile::create_with_params(&path, &pass("pw"), fast()).unwrap();
        f.save(payload).unwrap();
        (tmp, path)
    }

    #[test]
    fn save_then_open_round_trips() {
        let (_tmp, path) = sealed_with(b"hello store");
        let (f, plain) = SealedFile::open(&path, &pass("pw")).unwrap();
        assert_eq!(plain.as_slice(), b"hello store");
        assert_eq!(f.params(), fast());
        // Saving again through the opened file (same key, no Argon2 rerun) round-trips too.
        f.save(b"second").unwrap();
        let (_, plain) = SealedFile::open(&path, &pass("pw")).unwrap();
        assert_eq!(plain.as_slice(), b"second");
        // An empty payload is fine.
        f.save(b"").unwrap();
        let (_, plain) = SealedFile::open(&path, &pass("pw")).unwrap();
        assert!(plain.is_empty());
    }

    #[test]
    fn file_is_0600_after_create_and_every_save_and_new_directory_is_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("new-data-dir");
        let path = dir.join("x.sealed");
        let f = SealedFile::create_with_params(&path, &pass("pw"), fast()).unwrap();
        assert!(!path.exists(), "create writes nothing");
        for i in 0..3u8 {
            f.save(&[i; 10]).unwrap();
            assert_eq!(mode(&path), 0o600);
        }
        assert_eq!(mode(&dir), 0o700);
        // No temporary files are left behind.
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.sealed")]);
    }

    #[test]
    fn every_save_uses_a_fresh_nonce_and_the_same_salt() {
        let (_tmp, path) = sealed_with(b"same");
        let a = fs::read(&path).unwrap();
        let (f, _) = SealedFile::open(&path, &pass("pw")).unwrap();
        f.save(b"same").unwrap();
        let b = fs::read(&path).unwrap();
        assert_eq!(
            a.get(..40),
            b.get(..40),
            "magic, version, params and salt kept"
        );
        assert_ne!(a.get(40..52), b.get(40..52), "nonce differs");
        assert_ne!(a.get(52..), b.get(52..), "ciphertext differs");
    }

    #[test]
    fn header_layout_is_as_documented() {
        let (_tmp, path) = sealed_with(b"abc");
        let bytes = fs::read(&path).unwrap();
        assert_eq!(HEADER_LEN, 52);
        assert_eq!(bytes.len(), HEADER_LEN + 3 + TAG_LEN);
        assert_eq!(bytes.get(..14), Some(&MAGIC[..]));
        assert_eq!(bytes.get(14), Some(&1));
        assert_eq!(bytes.get(15..19), Some(&256u32.to_be_bytes()[..]));
        assert_eq!(bytes.get(19..23), Some(&1u32.to_be_bytes()[..]));
        assert_eq!(bytes.get(23), Some(&1));
    }

    #[test]
    fn wrong_passphrase_is_a_decrypt_error_and_the_file_is_left_untouched() {
        let (_tmp, path) = sealed_with(b"secret");
        let before = fs::read(&path).unwrap();
        let err = SealedFile::open(&path, &pass("not it")).unwrap_err();
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("wrong passphrase"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn flipping_any_byte_of_header_or_ciphertext_fails_and_leaves_the_file_untouched() {
        let (_tmp, path) = sealed_with(b"payload under test");
        let good = fs::read(&path).unwrap();
        for i in 0..good.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = good.clone();
                if let Some(b) = bad.get_mut(i) {
                    *b ^= bit;
                }
                fs::write(&path, &bad).unwrap();
                let err = SealedFile::open(&path, &pass("pw")).unwrap_err();
                assert!(
                    matches!(err, StoreError::Corrupt { .. } | StoreError::Decrypt { .. }),
                    "byte {i}: {err}"
                );
                assert_eq!(fs::read(&path).unwrap(), bad, "byte {i} changed by open");
            }
        }
    }

    #[test]
    fn truncated_file_is_corrupt_or_undecryptable_and_left_untouched() {
        let (_tmp, path) = sealed_with(b"payload under test");
        let good = fs::read(&path).unwrap();
        for len in 0..good.len() {
            let short = good.get(..len).unwrap().to_vec();
            fs::write(&path, &short).unwrap();
            let err = SealedFile::open(&path, &pass("pw")).unwrap_err();
            if len < HEADER_LEN + TAG_LEN {
                assert!(
                    matches!(err, StoreError::Corrupt { .. }),
                    "len {len}: {err}"
                );
            } else {
                assert!(
                    matches!(err, StoreError::Decrypt { .. }),
                    "len {len}: {err}"
                );
            }
            assert_eq!(fs::read(&path).unwrap(), short);
        }
    }

    #[test]
    fn garbage_file_is_corrupt_and_left_untouched() {
        let (_tmp, path) = sealed_with(b"x");
        for garbage in [&b"{\"json\": true}\n"[..], &[0u8; 100][..], b"OTRBNC"] {
            fs::write(&path, garbage).unwrap();
            let err = SealedFile::open(&path, &pass("pw")).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains(&path.display().to_string()));
            assert_eq!(fs::read(&path).unwrap(), garbage);
        }
    }

    #[test]
    fn unknown_version_and_hostile_argon2_parameters_are_corrupt_without_deriving() {
        let (_tmp, path) = sealed_with(b"x");
        let good = fs::read(&path).unwrap();
        let patch = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            for (i, v) in bytes.iter().enumerate() {
                *b.get_mut(at + i).unwrap() = *v;
            }
            b
        };
        let cases = [
            (patch(14, &[2]), "format version 2"),
            (patch(15, &u32::MAX.to_be_bytes()), "out of bounds"),
            (patch(19, &1000u32.to_be_bytes()), "out of bounds"),
            (patch(19, &0u32.to_be_bytes()), "out of bounds"),
            (patch(23, &[0]), "out of bounds"),
            (patch(23, &[200]), "out of bounds"),
        ];
        for (bytes, why) in cases {
            fs::write(&path, &bytes).unwrap();
            let err = SealedFile::open(&path, &pass("pw")).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains(why), "{err}");
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn file_readable_by_others_is_refused_and_left_untouched() {
        let (_tmp, path) = sealed_with(b"x");
        let before = fs::read(&path).unwrap();
        for bad in [0o644, 0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
            let err = SealedFile::open(&path, &pass("pw")).unwrap_err();
            match &err {
                StoreError::Permissions { mode, .. } => assert_eq!(mode & 0o777, bad),
                other => panic!("{other}"),
            }
            assert!(err.to_string().contains("chmod 600"), "{err}");
            assert_eq!(mode(&path), bad, "mode left as it was");
            assert_eq!(fs::read(&path).unwrap(), before);
        }
    }

    #[test]
    fn create_refuses_to_replace_an_existing_file() {
        let (_tmp, path) = sealed_with(b"keep me");
        let before = fs::read(&path).unwrap();
        let err = SealedFile::create_with_params(&path, &pass("pw"), fast()).unwrap_err();
        assert!(matches!(err, StoreError::Exists { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = SealedFile::open(&tmp.path().join("nope"), &pass("pw")).unwrap_err();
        match err {
            StoreError::Io { source, .. } => {
                assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn default_argon2_parameters_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.sealed");
        let f = SealedFile::create(&path, &pass("pw")).unwrap();
        assert_eq!(f.params(), KdfParams::DEFAULT);
        f.save(b"default").unwrap();
        let (f, plain) = SealedFile::open(&path, &pass("pw")).unwrap();
        assert_eq!(plain.as_slice(), b"default");
        assert_eq!(f.params(), KdfParams::DEFAULT);
    }

    #[test]
    fn kdf_parameter_bounds() {
        assert_eq!(KdfParams::default(), KdfParams::new(65_536, 3, 1).unwrap());
        assert!(KdfParams::new(KdfParams::MAX_M_COST_KIB, 64, 16).is_some());
        assert!(KdfParams::new(KdfParams::MAX_M_COST_KIB + 1, 1, 1).is_none());
        assert!(KdfParams::new(1024, 65, 1).is_none());
        assert!(KdfParams::new(1024, 0, 1).is_none());
        assert!(KdfParams::new(1024, 1, 0).is_none());
        assert!(KdfParams::new(1024, 1, 17).is_none());
        assert!(KdfParams::new(8 * 4 - 1, 1, 4).is_none());
    }
}
