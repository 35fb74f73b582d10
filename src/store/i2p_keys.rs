//! A network's I2P destination keys, with `i2p.destination = "persistent"`, in
//! `<data dir>/i2p-<network>.sealed`: the private destination exactly as the router's
//! `SESSION CREATE` returned it (I2P base64 text), sealed like every other store file.
//!
//! With them the network keeps its `.b32.i2p` address across restarts; without (the default,
//! `transient`) the router makes new keys for every run.

use std::path::Path;

use zeroize::Zeroizing;

use super::sealed::{KdfParams, SealedFile};
use super::{Passphrase, StoreError, files};

/// Bound on the stored text (a private destination is about 900 characters).
const MAX_KEYS_LEN: usize = 8 * 1024;

/// The open key file of one network.
pub struct I2pKeyFile {
    sealed: SealedFile,
    keys: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for I2pKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I2pKeyFile")
            .field("path", &self.sealed.path())
            .field("has_keys", &self.keys.is_some())
            .finish_non_exhaustive()
    }
}

impl I2pKeyFile {
    /// The file name of `network`'s keys (the same name rules as the trust store's).
    pub fn file_name(network: &str) -> Result<String, StoreError> {
        let trust = super::TrustStore::file_name(network)?;
        Ok(trust.replacen("trust-", "i2p-", 1))
    }

    /// Opens `<dir>/i2p-<network>.sealed`, or prepares it (nothing is written until the first
    /// [`I2pKeyFile::save`]). A file that is there but unreadable is an error, left as it is.
    pub fn open_or_create(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
    ) -> Result<I2pKeyFile, StoreError> {
        I2pKeyFile::open_or_create_with_params(dir, network, pass, KdfParams::DEFAULT)
    }

    /// [`I2pKeyFile::open_or_create`] with the Argon2 parameters a new file gets.
    pub fn open_or_create_with_params(
        dir: &Path,
        network: &str,
        pass: &Passphrase,
        params: KdfParams,
    ) -> Result<I2pKeyFile, StoreError> {
        let path = dir.join(I2pKeyFile::file_name(network)?);
        if !files::exists(&path)? {
            let sealed = SealedFile::create_with_params(&path, pass, params)?;
            return Ok(I2pKeyFile { sealed, keys: None });
        }
        let (sealed, payload) = SealedFile::open(&path, pass)?;
        let text = std::str::from_utf8(&payload)
            .ok()
            .filter(|t| !t.is_empty() && t.len() <= MAX_KEYS_LEN && t.is_ascii())
            .ok_or_else(|| StoreError::corrupt(&path, "not an I2P private destination"))?;
        Ok(I2pKeyFile {
            sealed,
            keys: Some(Zeroizing::new(text.to_string())),
        })
    }

    /// The stored private destination, if any.
    pub fn keys(&self) -> Option<&str> {
        self.keys.as_ref().map(|k| k.as_str())
    }

    /// Stores `keys` (replacing the file atomically).
    pub fn save(&mut self, keys: &str) -> Result<(), StoreError> {
        if keys.len() > MAX_KEYS_LEN {
            return Err(StoreError::TooLarge {
                path: self.sealed.path().to_path_buf(),
                len: keys.len(),
            });
        }
        self.sealed.save(keys.as_bytes())?;
        self.keys = Some(Zeroizing::new(keys.to_string()));
        Ok(())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.sealed.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass() -> Passphrase {
        Passphrase::new(Zeroizing::new(b"correct horse".to_vec())).unwrap()
    }

    fn cheap() -> KdfParams {
        KdfParams::new(64, 1, 1).unwrap()
    }

    #[test]
    fn keys_survive_a_reopen_and_a_wrong_passphrase_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut file =
            I2pKeyFile::open_or_create_with_params(dir.path(), "irc2p", &pass(), cheap()).unwrap();
        assert!(file.keys().is_none());
        assert!(!file.path().exists(), "nothing is written before save");
        file.save("AAAA~-keys").unwrap();
        assert!(file.path().ends_with("i2p-irc2p.sealed"));
        let again = I2pKeyFile::open_or_create(dir.path(), "irc2p", &pass()).unwrap();
        assert_eq!(again.keys(), Some("AAAA~-keys"));
        let wrong = Passphrase::new(Zeroizing::new(b"wrong".to_vec())).unwrap();
        assert!(matches!(
            I2pKeyFile::open_or_create(dir.path(), "irc2p", &wrong),
            Err(StoreError::Decrypt { .. })
        ));
        assert!(I2pKeyFile::file_name("../x").is_err());
    }
}
