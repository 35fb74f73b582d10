//! The store passphrase, and where it comes from.
//!
//! [`Passphrase::resolve`] looks, in this order, at:
//!
//! 1. `[data] passphrase_file`: the file's contents, trailing line breaks removed. The file
//!    must not be accessible to other users: mode 0600 or 0400, or 0640 or 0440 to let its
//!    group read it (a container's user, given the host user's group).
//! 2. The `OTRBNC_PASSPHRASE` environment variable.
//! 3. `[data] passphrase` in the config file: allowed, but the least safe, since the config
//!    file is easily copied, shared or backed up in clear.
//! 4. None of these: a random key kept beside the store in `<data dir>/store.key` (32 random
//!    bytes as 64 hex digits, mode 0600), created on first use. The hex text itself is the
//!    passphrase, so `OTRBNC_PASSPHRASE=$(cat store.key)` opens the same store. This protects
//!    only copies of the store made without the key file, which is said once in the log.
//!
//! An empty passphrase is refused wherever it comes from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use zeroize::Zeroizing;

use super::{StoreError, files};
use crate::config::Data;

/// The environment variable holding the passphrase.
pub const PASSPHRASE_ENV: &str = "OTRBNC_PASSPHRASE";
/// The key file used when no passphrase is configured, in the data directory.
pub const KEY_FILE_NAME: &str = "store.key";
/// Random bytes in a new key file.
const KEY_FILE_BYTES: usize = 32;
/// Largest passphrase file read.
const MAX_PASSPHRASE_FILE_LEN: u64 = 64 * 1024;

/// Set once the key-file warning has been logged.
static KEY_FILE_WARNED: AtomicBool = AtomicBool::new(false);

/// A non-empty passphrase. Wiped on drop; deliberately no `Debug` or `Clone`.
pub struct Passphrase(Zeroizing<Vec<u8>>);

impl Passphrase {
    /// Wraps passphrase bytes; `None` if empty.
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Option<Passphrase> {
        (!bytes.is_empty()).then_some(Passphrase(bytes))
    }

    /// The bytes, for key derivation only.
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Finds the passphrase (see the module documentation for the order) and says where it
    /// came from, so the caller can report it. `env` reads environment variables (tests pass
    /// their own). May create `<data dir>/store.key` (and the data directory).
    pub fn resolve(
        data: &Data,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(Passphrase, PassphraseSource), StoreError> {
        if let Some(path) = &data.passphrase_file {
            let source = PassphraseSource::File(path.clone());
            let mut bytes = files::read_secret(path, MAX_PASSPHRASE_FILE_LEN)
                .map_err(|e| unusable(e, &source))?;
            while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
                bytes.pop();
            }
            return Ok((non_empty(bytes, &source)?, source));
        }
        if let Some(value) = env(PASSPHRASE_ENV) {
            let source = PassphraseSource::Environment;
            let bytes = Zeroizing::new(value.into_bytes());
            return Ok((non_empty(bytes, &source)?, source));
        }
        if let Some(value) = &data.passphrase {
            let source = PassphraseSource::Config;
            let bytes = Zeroizing::new(value.as_bytes().to_vec());
            return Ok((non_empty(bytes, &source)?, source));
        }
        let path = data.resolved_dir().join(KEY_FILE_NAME);
        let (pass, created) = key_file(&path)?;
        if !KEY_FILE_WARNED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "the store is encrypted with a random key kept beside it in {}: this protects only copies of the store made without that file. To protect it with a passphrase, set data.passphrase_file (or OTRBNC_PASSPHRASE) before the store is first created; files already written stay encrypted with this key",
                path.display()
            );
        }
        Ok((pass, PassphraseSource::KeyFile { path, created }))
    }
}

/// Where the passphrase came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    /// `[data] passphrase_file` (or `OTRBNC_PASSPHRASE_FILE`).
    File(PathBuf),
    /// The `OTRBNC_PASSPHRASE` environment variable.
    Environment,
    /// `[data] passphrase` in the config file.
    Config,
    /// The random key in `<data dir>/store.key`.
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// Whether it was created just now.
        created: bool,
    },
}

impl fmt::Display for PassphraseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassphraseSource::File(p) => write!(f, "data.passphrase_file ({})", p.display()),
            PassphraseSource::Environment => {
                write!(f, "the {PASSPHRASE_ENV} environment variable")
            }
            PassphraseSource::Config => write!(f, "data.passphrase in the config file"),
            PassphraseSource::KeyFile { path, .. } => {
                write!(f, "the key file {}", path.display())
            }
        }
    }
}

fn non_empty(
    bytes: Zeroizing<Vec<u8>>,
    source: &PassphraseSource,
) -> Result<Passphrase, StoreError> {
    Passphrase::new(bytes).ok_or_else(|| StoreError::Passphrase {
        origin: source.to_string(),
        reason: "is empty; give it a value (or remove it to use another source)".to_string(),
    })
}

/// Reads the key file, or creates it (mode 0600) if there is none. Returns whether it was
/// created.
fn key_file(path: &Path) -> Result<(Passphrase, bool), StoreError> {
    if !files::exists(path)? {
        let mut raw = Zeroizing::new([0u8; KEY_FILE_BYTES]);
        rand::fill(&mut raw[..]);
        let mut hex = Zeroizing::new([0u8; 2 * KEY_FILE_BYTES]);
        hex::encode_to_slice(&raw[..], &mut hex[..]).map_err(|e| StoreError::Passphrase {
            origin: format!("the key file {}", path.display()),
            reason: format!("could not be encoded: {e}"),
        })?;
        let mut text = Zeroizing::new(Vec::with_capacity(hex.len() + 1));
        text.extend_from_slice(&hex[..]);
        text.push(b'\n');
        match files::create_atomic(path, &text) {
            Ok(()) => {
                let pass = Passphrase(Zeroizing::new(hex.to_vec()));
                return Ok((pass, true));
            }
            // Another start created it meanwhile: use that one.
            Err(StoreError::Exists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let source = PassphraseSource::KeyFile {
        path: path.to_path_buf(),
        created: false,
    };
    let mut text = files::read_private(path, 1024).map_err(|e| unusable(e, &source))?;
    while text.last().is_some_and(u8::is_ascii_whitespace) {
        text.pop();
    }
    if text.len() != 2 * KEY_FILE_BYTES || !text.iter().all(u8::is_ascii_hexdigit) {
        return Err(StoreError::Passphrase {
            origin: source.to_string(),
            reason: "does not hold the 64 hexadecimal digits of a key. It was left as it is: restore it from a backup (the store files cannot be decrypted without it)".to_string(),
        });
    }
    Ok((Passphrase(text), false))
}

/// A passphrase or key file that is there but unusable is a passphrase problem, not a
/// damaged store file; other errors (missing file, permissions) stay as they are.
fn unusable(e: StoreError, source: &PassphraseSource) -> StoreError {
    match e {
        StoreError::Corrupt { reason, .. } => StoreError::Passphrase {
            origin: source.to_string(),
            reason: format!("cannot be used: {reason}"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn data_in(dir: &Path) -> Data {
        Data {
            dir: Some(dir.to_path_buf()),
            ..Data::default()
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn resolve_ok(
        data: &Data,
        env: impl Fn(&str) -> Option<String>,
    ) -> (Vec<u8>, PassphraseSource) {
        match Passphrase::resolve(data, env) {
            Ok((p, s)) => (p.expose().to_vec(), s),
            Err(e) => panic!("{e}"),
        }
    }

    fn resolve_err(data: &Data, env: impl Fn(&str) -> Option<String>) -> StoreError {
        match Passphrase::resolve(data, env) {
            Ok((_, s)) => panic!("resolved from {s}"),
            Err(e) => e,
        }
    }

    fn private_file(path: &Path, contents: &[u8]) {
        fs::write(path, contents).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn passphrase_sources_are_tried_in_order_file_env_config_key_file() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pass");
        private_file(&file, b"from file\n");
        let env = |k: &str| (k == PASSPHRASE_ENV).then(|| "from env".to_string());
        let mut data = data_in(tmp.path());
        data.passphrase_file = Some(file.clone());
        data.passphrase = Some("from config".to_string());

        assert_eq!(
            resolve_ok(&data, env),
            (b"from file".to_vec(), PassphraseSource::File(file))
        );
        data.passphrase_file = None;
        assert_eq!(
            resolve_ok(&data, env),
            (b"from env".to_vec(), PassphraseSource::Environment)
        );
        assert_eq!(
            resolve_ok(&data, no_env),
            (b"from config".to_vec(), PassphraseSource::Config)
        );
        data.passphrase = None;
        let (key, source) = resolve_ok(&data, no_env);
        assert_eq!(key.len(), 64);
        assert!(matches!(
            source,
            PassphraseSource::KeyFile { created: true, .. }
        ));
    }

    #[test]
    fn passphrase_file_trailing_line_breaks_are_trimmed_and_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pass");
        private_file(&file, b" two words \r\n\n");
        let mut data = data_in(tmp.path());
        data.passphrase_file = Some(file);
        assert_eq!(resolve_ok(&data, no_env).0, b" two words ".to_vec());
    }

    #[test]
    fn passphrase_file_readable_by_others_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pass");
        private_file(&file, b"secret\n");
        let mut data = data_in(tmp.path());
        data.passphrase_file = Some(file.clone());
        for mode in [0o644, 0o604, 0o660, 0o620, 0o650] {
            fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
            let err = resolve_err(&data, no_env);
            assert!(
                matches!(err, StoreError::Permissions { .. }),
                "{mode:o}: {err}"
            );
            assert!(err.to_string().contains(&file.display().to_string()));
        }
        // The group may read it (a container's user, through compose's group_add).
        for mode in [0o640, 0o440, 0o400] {
            fs::set_permissions(&file, fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(resolve_ok(&data, no_env).0, b"secret".to_vec(), "{mode:o}");
        }
    }

    #[test]
    fn missing_passphrase_file_is_an_error_not_a_fallback() {
        let tmp = tempfile::tempdir().unwrap();
        let mut data = data_in(tmp.path());
        data.passphrase_file = Some(tmp.path().join("absent"));
        data.passphrase = Some("would be used otherwise".to_string());
        let err = resolve_err(&data, no_env);
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
        assert!(!tmp.path().join(KEY_FILE_NAME).exists());
    }

    #[test]
    fn empty_passphrase_is_rejected_from_every_source() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pass");
        private_file(&file, b"\n");
        let mut data = data_in(tmp.path());
        data.passphrase_file = Some(file);
        let err = resolve_err(&data, no_env);
        assert!(err.to_string().contains("is empty"), "{err}");
        data.passphrase_file = None;
        let err = resolve_err(&data, |k: &str| (k == PASSPHRASE_ENV).then(String::new));
        assert!(err.to_string().contains(PASSPHRASE_ENV), "{err}");
        data.passphrase = Some(String::new());
        let err = resolve_err(&data, no_env);
        assert!(err.to_string().contains("data.passphrase"), "{err}");
        assert!(Passphrase::new(Zeroizing::new(Vec::new())).is_none());
        assert!(!tmp.path().join(KEY_FILE_NAME).exists());
    }

    #[test]
    fn key_file_is_created_0600_with_64_hex_digits_and_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let data = data_in(&dir);
        let (first, source) = resolve_ok(&data, no_env);
        let path = dir.join(KEY_FILE_NAME);
        assert_eq!(
            source,
            PassphraseSource::KeyFile {
                path: path.clone(),
                created: true
            }
        );
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o7777,
            0o700
        );
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim_end().as_bytes(), first.as_slice());
        assert!(first.iter().all(u8::is_ascii_hexdigit));

        let (again, source) = resolve_ok(&data, no_env);
        assert_eq!(again, first);
        assert_eq!(
            source,
            PassphraseSource::KeyFile {
                path,
                created: false
            }
        );
    }

    #[test]
    fn damaged_or_exposed_key_file_is_an_error_and_left_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let data = data_in(tmp.path());
        let path = tmp.path().join(KEY_FILE_NAME);
        private_file(&path, b"not hex\n");
        let err = resolve_err(&data, no_env);
        assert!(matches!(err, StoreError::Passphrase { .. }), "{err}");
        assert!(err.to_string().contains("store.key"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"not hex\n");

        private_file(&path, &[b'a'; 64]);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let err = resolve_err(&data, no_env);
        assert!(matches!(err, StoreError::Permissions { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), vec![b'a'; 64]);
    }
}
