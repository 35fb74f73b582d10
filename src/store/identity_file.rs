//! Our persistent OTR identity, in `<data dir>/identity.sealed`.
//!
//! The sealed payload (format version 2; integers big-endian):
//!
//! | field | encoding |
//! |---|---|
//! | version | u8, `2` (`1`: the same without the last field) |
//! | long-term keys | u32 length, then `LongTermKeys::to_bytes()` |
//! | instance tag | u32 |
//! | signed client profile | u32 length (0: none), then `ClientProfile::as_bytes()` |
//! | OTRv3 DSA key | u32 length (0: none yet), then `otr3::dsa::PrivateKey::to_secret_bytes()` |
//!
//! A file that exists but cannot be decrypted or parsed is an error, never a reason to make
//! a new identity: replacing it would silently change our fingerprint for every contact.

use std::path::Path;

use otr_core::profile::MAX_V1_PROFILE_LEN;
use otr_core::secret::SecretVec;
use zeroize::Zeroizing;

use super::sealed::{KdfParams, SealedFile};
use super::{Passphrase, StoreError, files};

/// The identity file's name in the data directory.
pub const IDENTITY_FILE_NAME: &str = "identity.sealed";
/// The payload version this code writes (it reads this and the one before).
const PAYLOAD_VERSION: u8 = 2;
/// The version before the OTRv3 key was added.
const PAYLOAD_VERSION_1: u8 = 1;
/// Bound on the serialised DSA key (five MPIs of a DSA key of at most 3072 bits: ~1.2 KB).
const MAX_LEGACY_KEY_LEN: usize = 4096;
/// Bound on the serialised keys (they are about 12 KB).
const MAX_KEYS_LEN: usize = 64 * 1024;
/// Longest stored profile read or written: a profile of format 0x01 (about 9 KB, stored by
/// versions before format 0x02) must still load; the account then replaces it (1.8 KB).
const MAX_STORED_PROFILE_LEN: usize = MAX_V1_PROFILE_LEN;
/// Instance tags below this are reserved.
const MIN_INSTANCE_TAG: u32 = 0x100;

/// The identity as stored. The keys are secret: no `Debug` or `Clone`.
pub struct StoredIdentity {
    /// `LongTermKeys::to_bytes()`.
    pub keys: SecretVec,
    /// Our instance tag.
    pub tag: u32,
    /// The last client profile we signed (`ClientProfile::as_bytes()`), if any.
    pub profile: Option<Vec<u8>>,
    /// The OTRv3 DSA key (`PrivateKey::to_secret_bytes()`), once one was needed.
    pub legacy_key: Option<SecretVec>,
}

/// The open identity file (its key derived), for saving an updated identity.
pub struct IdentityFile {
    sealed: SealedFile,
}

impl std::fmt::Debug for IdentityFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityFile")
            .field("path", &self.sealed.path())
            .finish_non_exhaustive()
    }
}

impl IdentityFile {
    /// Loads `<dir>/identity.sealed`, or, only if there is no such file, calls `generate` and
    /// writes what it returns. The flag is true when the identity was created now. A file that
    /// is there but unreadable (wrong passphrase, damaged, too open permissions) is returned
    /// as an error and left untouched; `generate` is then not called.
    pub fn load_or_create(
        dir: &Path,
        pass: &Passphrase,
        generate: impl FnOnce() -> Result<StoredIdentity, String>,
    ) -> Result<(IdentityFile, StoredIdentity, bool), StoreError> {
        IdentityFile::load_or_create_with_params(dir, pass, KdfParams::DEFAULT, generate)
    }

    /// [`IdentityFile::load_or_create`] with the Argon2 parameters a new file gets (an
    /// existing file keeps its own).
    pub fn load_or_create_with_params(
        dir: &Path,
        pass: &Passphrase,
        params: KdfParams,
        generate: impl FnOnce() -> Result<StoredIdentity, String>,
    ) -> Result<(IdentityFile, StoredIdentity, bool), StoreError> {
        let path = dir.join(IDENTITY_FILE_NAME);
        if files::exists(&path)? {
            let (sealed, payload) = SealedFile::open(&path, pass)?;
            let identity = decode(&payload).map_err(|reason| StoreError::corrupt(&path, reason))?;
            return Ok((IdentityFile { sealed }, identity, false));
        }
        let sealed = SealedFile::create_with_params(&path, pass, params)?;
        let identity = generate().map_err(|reason| StoreError::Generate { reason })?;
        let file = IdentityFile { sealed };
        file.save(&identity)?;
        Ok((file, identity, true))
    }

    /// Writes `identity` (e.g. with a newly signed profile), replacing the file atomically.
    pub fn save(&self, identity: &StoredIdentity) -> Result<(), StoreError> {
        let payload = encode(identity).map_err(|len| StoreError::TooLarge {
            path: self.sealed.path().to_path_buf(),
            len,
        })?;
        self.sealed.save(&payload)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.sealed.path()
    }
}

/// The payload; `Err(len)` if a field is over its bound (the file could not be read back).
fn encode(id: &StoredIdentity) -> Result<Zeroizing<Vec<u8>>, usize> {
    let keys = id.keys.expose();
    let profile = id.profile.as_deref().unwrap_or_default();
    let legacy = id
        .legacy_key
        .as_ref()
        .map(|k| k.expose())
        .unwrap_or_default();
    if legacy.len() > MAX_LEGACY_KEY_LEN {
        return Err(legacy.len());
    }
    if keys.len() > MAX_KEYS_LEN {
        return Err(keys.len());
    }
    if profile.len() > MAX_STORED_PROFILE_LEN {
        return Err(profile.len());
    }
    let len32 = |n: usize| u32::try_from(n).map_err(|_| n);
    // Sized up front: a reallocation would leave an unwiped copy of the keys behind.
    let mut out = Zeroizing::new(Vec::with_capacity(
        1 + 4 + keys.len() + 4 + 4 + profile.len() + 4 + legacy.len(),
    ));
    out.push(PAYLOAD_VERSION);
    out.extend_from_slice(&len32(keys.len())?.to_be_bytes());
    out.extend_from_slice(keys);
    out.extend_from_slice(&id.tag.to_be_bytes());
    out.extend_from_slice(&len32(profile.len())?.to_be_bytes());
    out.extend_from_slice(profile);
    out.extend_from_slice(&len32(legacy.len())?.to_be_bytes());
    out.extend_from_slice(legacy);
    Ok(out)
}

/// Parses the payload, bounding every length before using it.
fn decode(bytes: &[u8]) -> Result<StoredIdentity, String> {
    let mut r = bytes;
    let truncated = || "its identity data is truncated".to_string();
    let [version] = take_array::<1>(&mut r).ok_or_else(truncated)?;
    if version != PAYLOAD_VERSION && version != PAYLOAD_VERSION_1 {
        return Err(format!(
            "its identity data has version {version}, which this version of otrbnc cannot read"
        ));
    }
    let keys_len = read_len(&mut r).ok_or_else(truncated)?;
    if keys_len > MAX_KEYS_LEN {
        return Err(format!(
            "its key data is implausibly long ({keys_len} bytes)"
        ));
    }
    let keys = SecretVec::from_slice(take(&mut r, keys_len).ok_or_else(truncated)?);
    let tag = u32::from_be_bytes(take_array::<4>(&mut r).ok_or_else(truncated)?);
    if tag < MIN_INSTANCE_TAG {
        return Err(format!("its instance tag {tag:#x} is reserved"));
    }
    let profile_len = read_len(&mut r).ok_or_else(truncated)?;
    if profile_len > MAX_STORED_PROFILE_LEN {
        return Err(format!(
            "its client profile is implausibly long ({profile_len} bytes)"
        ));
    }
    let profile = take(&mut r, profile_len).ok_or_else(truncated)?;
    let legacy_key = if version == PAYLOAD_VERSION_1 {
        None
    } else {
        let len = read_len(&mut r).ok_or_else(truncated)?;
        if len > MAX_LEGACY_KEY_LEN {
            return Err(format!("its OTRv3 key is implausibly long ({len} bytes)"));
        }
        let bytes = take(&mut r, len).ok_or_else(truncated)?;
        (!bytes.is_empty()).then(|| SecretVec::from_slice(bytes))
    };
    if !r.is_empty() {
        return Err("its identity data has trailing bytes".to_string());
    }
    Ok(StoredIdentity {
        keys,
        tag,
        profile: (!profile.is_empty()).then(|| profile.to_vec()),
        legacy_key,
    })
}

fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, rest) = r.split_at_checked(n)?;
    *r = rest;
    Some(head)
}

fn take_array<const N: usize>(r: &mut &[u8]) -> Option<[u8; N]> {
    let (head, rest) = r.split_first_chunk::<N>()?;
    *r = rest;
    Some(*head)
}

fn read_len(r: &mut &[u8]) -> Option<usize> {
    usize::try_from(u32::from_be_bytes(take_array::<4>(r)?)).ok()
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::identity::Identity;
    use crate::store::sealed::TEST_PARAMS;

    fn pass(s: &str) -> Passphrase {
        Passphrase::new(Zeroizing::new(s.as_bytes().to_vec())).unwrap()
    }

    fn fake(tag: u32, profile: Option<Vec<u8>>) -> StoredIdentity {
        StoredIdentity {
            keys: SecretVec::from_slice(&[7u8; 100]),
            tag,
            profile,
            legacy_key: None,
        }
    }

    /// The error of a result whose value has no `Debug` (secrets).
    fn err<T, E>(r: Result<T, E>) -> E {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    fn load(
        dir: &Path,
        pass: &Passphrase,
        generate: impl FnOnce() -> Result<StoredIdentity, String>,
    ) -> Result<(IdentityFile, StoredIdentity, bool), StoreError> {
        IdentityFile::load_or_create_with_params(dir, pass, TEST_PARAMS, generate)
    }

    #[test]
    fn identity_is_created_once_then_loaded_with_the_same_fingerprint_and_tag() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let calls = Cell::new(0);
        let generate = || {
            calls.set(calls.get() + 1);
            Identity::generate().map(|i| i.to_stored())
        };
        let (_, first, created) = load(&dir, &pass("pw"), generate).unwrap();
        assert!(created);
        let path = dir.join(IDENTITY_FILE_NAME);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        let first = Identity::from_stored(first).unwrap();

        let (_, second, created) = load(&dir, &pass("pw"), generate).unwrap();
        assert!(!created);
        assert_eq!(calls.get(), 1, "generated only once");
        let second = Identity::from_stored(second).unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
        assert_eq!(first.tag(), second.tag());
        // The loaded identity makes a working account.
        second
            .account(otr_core::session::Policy::default(), 1_700_000_000_000)
            .unwrap();
    }

    #[test]
    fn identity_payload_round_trips_tag_and_profile() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, stored, _) = load(tmp.path(), &pass("pw"), || Ok(fake(0x1234, None))).unwrap();
        assert_eq!(stored.tag, 0x1234);
        assert!(stored.profile.is_none());
        file.save(&fake(0xdead_beef, Some(vec![1, 2, 3]))).unwrap();
        let (_, stored, created) =
            load(tmp.path(), &pass("pw"), || Err("must not run".into())).unwrap();
        assert!(!created);
        assert_eq!(stored.keys.expose(), &[7u8; 100][..]);
        assert_eq!(stored.tag, 0xdead_beef);
        assert_eq!(stored.profile.as_deref(), Some(&[1u8, 2, 3][..]));
    }

    #[test]
    fn the_otrv3_key_is_kept_and_version_1_payloads_still_read() {
        let tmp = tempfile::tempdir().unwrap();
        let (file, stored, _) = load(tmp.path(), &pass("pw"), || Ok(fake(0x1234, None))).unwrap();
        assert!(stored.legacy_key.is_none());
        let mut with_key = fake(0x1234, Some(vec![9]));
        with_key.legacy_key = Some(SecretVec::from_slice(&[5u8; 300]));
        file.save(&with_key).unwrap();
        let (_, stored, _) = load(tmp.path(), &pass("pw"), || Err("must not run".into())).unwrap();
        assert_eq!(
            stored.legacy_key.as_ref().map(|k| k.expose().to_vec()),
            Some(vec![5u8; 300])
        );
        // A payload written before the OTRv3 key existed (version 1) reads without one.
        let mut v1 = encode(&fake(0x4321, Some(vec![1, 2]))).unwrap().to_vec();
        v1[0] = PAYLOAD_VERSION_1;
        v1.truncate(v1.len() - 4);
        let old = decode(&v1).unwrap();
        assert_eq!(
            (old.tag, old.profile.as_deref()),
            (0x4321, Some(&[1u8, 2][..]))
        );
        assert!(old.legacy_key.is_none());
        // A version-2 payload cut before its last field is refused.
        let mut cut = encode(&fake(0x4321, None)).unwrap().to_vec();
        cut.truncate(cut.len() - 4);
        assert!(decode(&cut).is_err());
    }

    #[test]
    fn corrupt_identity_file_is_an_error_and_is_left_untouched_without_generating() {
        let tmp = tempfile::tempdir().unwrap();
        load(tmp.path(), &pass("pw"), || Ok(fake(0x1234, None))).unwrap();
        let path = tmp.path().join(IDENTITY_FILE_NAME);
        let good = fs::read(&path).unwrap();
        let mut damaged = good.clone();
        if let Some(b) = damaged.last_mut() {
            *b ^= 1;
        }
        let truncated = good.get(..30).unwrap().to_vec();
        for bytes in [damaged, truncated, b"garbage".to_vec(), Vec::new()] {
            fs::write(&path, &bytes).unwrap();
            let called = Cell::new(false);
            let result = load(tmp.path(), &pass("pw"), || {
                called.set(true);
                Ok(fake(0x999, None))
            });
            let err = err(result);
            assert!(
                matches!(err, StoreError::Corrupt { .. } | StoreError::Decrypt { .. }),
                "{err}"
            );
            assert!(!called.get(), "generate must not run for an existing file");
            assert_eq!(fs::read(&path).unwrap(), bytes, "file left untouched");
        }
    }

    #[test]
    fn wrong_passphrase_for_identity_is_an_error_and_is_left_untouched_without_generating() {
        let tmp = tempfile::tempdir().unwrap();
        load(tmp.path(), &pass("right"), || Ok(fake(0x1234, None))).unwrap();
        let path = tmp.path().join(IDENTITY_FILE_NAME);
        let before = fs::read(&path).unwrap();
        let called = Cell::new(false);
        let err = err(load(tmp.path(), &pass("wrong"), || {
            called.set(true);
            Ok(fake(0x999, None))
        }));
        assert!(matches!(err, StoreError::Decrypt { .. }), "{err}");
        assert!(!called.get());
        assert_eq!(fs::read(&path).unwrap(), before);
    }

    #[test]
    fn identity_that_decrypts_but_does_not_parse_is_corrupt_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(IDENTITY_FILE_NAME);
        let bad_payloads: [&[u8]; 4] = [
            b"",
            &[2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
            // Reserved instance tag 0xff.
            &[1, 0, 0, 0, 1, 9, 0, 0, 0, 0xff, 0, 0, 0, 0],
            // Trailing byte.
            &[1, 0, 0, 0, 1, 9, 0, 0, 1, 0, 0, 0, 0, 0, 0],
        ];
        for payload in bad_payloads {
            let _ = fs::remove_file(&path);
            let sealed = SealedFile::create_with_params(&path, &pass("pw"), TEST_PARAMS).unwrap();
            sealed.save(payload).unwrap();
            let before = fs::read(&path).unwrap();
            let err = err(load(tmp.path(), &pass("pw"), || Ok(fake(0x999, None))));
            assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
            assert_eq!(fs::read(&path).unwrap(), before);
        }
    }

    #[test]
    fn identity_decode_bounds_lengths() {
        let mut huge = vec![1u8];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(err(decode(&huge)).contains("implausibly long"));
        let mut big_profile = vec![1u8, 0, 0, 0, 1, 9];
        big_profile.extend_from_slice(&0x100u32.to_be_bytes());
        big_profile.extend_from_slice(
            &u32::try_from(MAX_STORED_PROFILE_LEN + 1)
                .unwrap()
                .to_be_bytes(),
        );
        assert!(err(decode(&big_profile)).contains("implausibly long"));
    }

    #[test]
    fn identity_file_with_open_permissions_is_refused_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        load(tmp.path(), &pass("pw"), || Ok(fake(0x1234, None))).unwrap();
        let path = tmp.path().join(IDENTITY_FILE_NAME);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let before = fs::read(&path).unwrap();
        let err = err(load(tmp.path(), &pass("pw"), || Ok(fake(0x999, None))));
        assert!(matches!(err, StoreError::Permissions { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    #[test]
    fn failed_generation_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let err = err(load(tmp.path(), &pass("pw"), || Err("no entropy".into())));
        assert!(matches!(err, StoreError::Generate { .. }), "{err}");
        assert!(!tmp.path().join(IDENTITY_FILE_NAME).exists());
    }
}
