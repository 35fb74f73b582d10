//! What otrbnc keeps between runs, opened at start: the OTR identity (persistent and
//! encrypted, or ephemeral) and, per network, the trust store.

use std::path::PathBuf;

use otr_core::session::Policy;

use crate::config::{Data, IdentityMode};
use crate::identity::Identity;
use crate::network::now_ms;
use crate::store::{
    I2pKeyFile, IdentityFile, Passphrase, PassphraseSource, StoreError, TrustStore,
};

/// The identity and the means to open trust stores.
pub struct LocalState {
    /// Our identity (shared by every network).
    pub identity: Identity,
    /// The identity file, when the identity is persistent.
    pub identity_file: Option<IdentityFile>,
    /// The store passphrase, kept only until every network's trust store is open.
    passphrase: Option<Passphrase>,
    dir: PathBuf,
}

/// Why the local state could not be opened. The message says which file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A store file could not be opened or written.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The stored identity is unusable.
    #[error("{0}")]
    Identity(String),
}

impl LocalState {
    /// Opens (or creates) the persistent identity, or generates an ephemeral one. Reports
    /// progress through `tracing`: Argon2id and key generation take a moment.
    pub fn open(data: &Data, policy: &Policy) -> Result<LocalState, StateError> {
        let dir = data.resolved_dir();
        if data.identity == IdentityMode::Ephemeral {
            tracing::info!("generating an ephemeral OTR identity (Ed448, ML-KEM-1024, ML-DSA-87)");
            let identity = Identity::generate().map_err(StateError::Identity)?;
            return Ok(LocalState {
                identity,
                identity_file: None,
                passphrase: None,
                dir,
            });
        }
        let (pass, source) = Passphrase::resolve(data, |k| std::env::var(k).ok())?;
        if let PassphraseSource::KeyFile { created: true, .. } = &source {
            tracing::info!(key = %source, "created a random store key");
        }
        tracing::info!(dir = %dir.display(), passphrase = %source, "opening the encrypted store (Argon2id)");
        let (file, stored, created) = IdentityFile::load_or_create(&dir, &pass, || {
            tracing::info!("no identity yet: generating one (Ed448, ML-KEM-1024, ML-DSA-87)");
            Identity::generate().map(|i| i.to_stored())
        })?;
        let mut identity = Identity::from_stored(stored)
            .map_err(|e| StateError::Identity(format!("{}: {e}", file.path().display())))?;
        if created {
            tracing::info!(file = %file.path().display(), "new identity stored");
        }
        // Sign (or reuse) the profile once, so every network presents the same one and peers
        // that cached it recognise it after a restart.
        let account = identity
            .account(policy.clone(), now_ms())
            .map_err(StateError::Identity)?;
        let signed = account.profile().as_bytes();
        if identity.profile() != Some(signed) {
            identity.set_profile(signed.to_vec());
            file.save(&identity.to_stored())?;
        }
        Ok(LocalState {
            identity,
            identity_file: Some(file),
            passphrase: Some(pass),
            dir,
        })
    }

    /// The trust store of `network`: saved in the data directory when the identity is
    /// persistent, in memory only when it is ephemeral.
    pub fn trust_for(&self, network: &str) -> Result<TrustStore, StoreError> {
        match &self.passphrase {
            Some(pass) => TrustStore::open_or_create(&self.dir, network, pass),
            None => Ok(TrustStore::memory()),
        }
    }

    /// `network`'s kept messages: from its message log when the identity is persistent and
    /// `data.history_on_disk` is on, in memory only otherwise.
    pub fn history_for(
        &self,
        network: &str,
        data: &crate::config::Data,
    ) -> Result<crate::network::History, StoreError> {
        let max_age_ms = u64::from(data.history_days) * 86_400_000;
        match &self.passphrase {
            Some(pass) if data.history_on_disk && data.history_lines > 0 => {
                let (log, records) =
                    crate::store::MessageLog::open_or_create(&self.dir, network, pass)?;
                Ok(crate::network::History::with_log(
                    data.history_lines,
                    max_age_ms,
                    log,
                    records,
                    now_ms(),
                ))
            }
            _ => Ok(crate::network::History::new(data.history_lines, max_age_ms)),
        }
    }

    /// `network`'s stored I2P keys (`i2p.destination = "persistent"`); `None` when the
    /// identity is ephemeral (nothing is stored then).
    pub fn i2p_keys_for(&self, network: &str) -> Result<Option<I2pKeyFile>, StoreError> {
        match &self.passphrase {
            Some(pass) => I2pKeyFile::open_or_create(&self.dir, network, pass).map(Some),
            None => Ok(None),
        }
    }

    /// The identity and its file, for sharing between networks; the passphrase is dropped
    /// (and wiped) here, so open every trust store first.
    pub fn into_identity(self) -> (Identity, Option<IdentityFile>) {
        (self.identity, self.identity_file)
    }
}

/// The identity every network uses, replaceable at run time (`*otr genkey`). Networks notice a
/// new generation and rebuild their accounts.
pub struct SharedIdentity {
    current: std::sync::RwLock<std::sync::Arc<Identity>>,
    generation: std::sync::atomic::AtomicU64,
    file: Option<IdentityFile>,
    /// Bumped when the OTRv3 key generated on first need is ready (or failed).
    legacy_ready: tokio::sync::watch::Sender<u64>,
    /// A generation of the OTRv3 key is running.
    legacy_generating: std::sync::atomic::AtomicBool,
}

/// Where the OTRv3 key stands (see [`SharedIdentity::legacy_key_or_generate`]).
pub enum LegacyKey {
    /// Here it is.
    Ready(otr3::dsa::PrivateKey),
    /// Being generated: the receiver changes when it is done.
    Pending(tokio::sync::watch::Receiver<u64>),
}

impl SharedIdentity {
    /// Shares the identity opened at start.
    pub fn new(identity: Identity, file: Option<IdentityFile>) -> SharedIdentity {
        SharedIdentity {
            current: std::sync::RwLock::new(std::sync::Arc::new(identity)),
            generation: std::sync::atomic::AtomicU64::new(0),
            file,
            legacy_ready: tokio::sync::watch::Sender::new(0),
            legacy_generating: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The OTRv3 DSA key, or the promise of it: the first call without a key starts its
    /// generation on a blocking thread (a DSA-1024 key takes about a second) and stores it
    /// with the identity; every caller is woken through the receiver when it is done.
    pub fn legacy_key_or_generate(self: &std::sync::Arc<Self>) -> LegacyKey {
        if let Some(key) = self.current().and_then(|i| i.legacy_key()) {
            return LegacyKey::Ready(key);
        }
        let rx = self.legacy_ready.subscribe();
        if !self
            .legacy_generating
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            let me = self.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = me.generate_legacy_key() {
                    tracing::warn!(error = %e, "could not make the OTRv3 key");
                }
                me.legacy_generating
                    .store(false, std::sync::atomic::Ordering::Release);
                me.legacy_ready.send_modify(|n| *n += 1);
            });
        }
        LegacyKey::Pending(rx)
    }

    fn generate_legacy_key(&self) -> Result<(), String> {
        let key = otr3::dsa::PrivateKey::generate(&mut rand::rng()).map_err(|e| e.to_string())?;
        let mut guard = self
            .current
            .write()
            .map_err(|_| "the identity lock is poisoned".to_string())?;
        if guard.legacy_key().is_some() {
            return Ok(());
        }
        let identity = guard.with_legacy_key(&key);
        if let Some(file) = &self.file {
            file.save(&identity.to_stored())
                .map_err(|e| e.to_string())?;
        }
        // Not a new generation: the OTRv4+ keys and every session stay as they are.
        *guard = std::sync::Arc::new(identity);
        Ok(())
    }

    /// The identity in use.
    pub fn current(&self) -> Option<std::sync::Arc<Identity>> {
        self.current.read().ok().map(|g| g.clone())
    }

    /// Bumped at every replacement.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether the identity is stored on disk.
    pub fn is_persistent(&self) -> bool {
        self.file.is_some()
    }

    /// Generates a new identity, stores it (persistent mode) and makes it current. The old
    /// one stays in use if anything fails.
    pub fn rotate(&self, policy: &Policy) -> Result<std::sync::Arc<Identity>, String> {
        let mut identity = Identity::generate()?;
        let account = identity.account(policy.clone(), now_ms())?;
        identity.set_profile(account.profile().as_bytes().to_vec());
        // Saved under the lock, like the OTRv3 key: a key generation finishing meanwhile must
        // not write the old identity over the new one.
        let mut guard = self
            .current
            .write()
            .map_err(|_| "the identity lock is poisoned".to_string())?;
        if let Some(file) = &self.file {
            file.save(&identity.to_stored())
                .map_err(|e| e.to_string())?;
        }
        let identity = std::sync::Arc::new(identity);
        *guard = identity.clone();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Ok(identity)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use zeroize::Zeroizing;

    use super::*;
    use crate::store::sealed::TEST_PARAMS;

    fn open(dir: &std::path::Path) -> (IdentityFile, Identity) {
        let pass = Passphrase::new(Zeroizing::new(b"pw".to_vec())).unwrap();
        let (file, stored, _) =
            IdentityFile::load_or_create_with_params(dir, &pass, TEST_PARAMS, || {
                Identity::generate().map(|i| i.to_stored())
            })
            .unwrap();
        (file, Identity::from_stored(stored).unwrap())
    }

    /// What the file holds is what is in use: same OTRv4+ fingerprint, same OTRv3 key.
    fn assert_file_holds(dir: &std::path::Path, shared: &SharedIdentity) {
        let (_, stored) = open(dir);
        let current = shared.current().unwrap();
        assert_eq!(stored.fingerprint(), current.fingerprint());
        assert_eq!(stored.legacy_fingerprint(), current.legacy_fingerprint());
    }

    // `genkey` (rotate) and the OTRv3 key made on first need both write identity.sealed. A
    // generation that finished while genkey was saving wrote the old identity over the new
    // one, so the new key was lost at the next start.
    #[test]
    fn genkey_racing_the_otrv3_key_generation_leaves_the_identity_in_use_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let (file, identity) = open(&dir);
        let shared = Arc::new(SharedIdentity::new(identity, Some(file)));
        let policy = Policy::default();
        for _ in 0..4 {
            let done = AtomicBool::new(false);
            std::thread::scope(|s| {
                s.spawn(|| {
                    shared.generate_legacy_key().unwrap();
                    done.store(true, Ordering::Release);
                });
                // Rotate until the generation is over, then stop: no later save may hide
                // a wrong one.
                while !done.load(Ordering::Acquire) {
                    shared.rotate(&policy).unwrap();
                }
            });
            assert_file_holds(&dir, &shared);
        }
        // genkey replaces the OTRv3 key too: it is made again on the next need.
        shared.generate_legacy_key().unwrap();
        let before = shared.current().unwrap().legacy_fingerprint();
        shared.rotate(&policy).unwrap();
        assert_eq!(shared.current().unwrap().legacy_fingerprint(), None);
        assert_file_holds(&dir, &shared);
        shared.generate_legacy_key().unwrap();
        assert_ne!(shared.current().unwrap().legacy_fingerprint(), before);
        assert_file_holds(&dir, &shared);
    }
}
