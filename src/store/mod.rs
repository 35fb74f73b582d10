//! The persistent store: our OTR identity and what we know of our contacts' keys, encrypted
//! at rest in the data directory.
//!
//! | file | holds | module |
//! |---|---|---|
//! | `identity.sealed` | long-term keys, instance tag, last signed profile | [`identity_file`] |
//! | `trust-<network>.sealed` | per nick: keys seen, trusted / SMP-verified, last profile; opt-ins, policy toggles, channels joined at run time (with keys) | [`trust`] |
//! | `i2p-<network>.sealed` | the network's I2P destination keys (`i2p.destination = "persistent"`) | [`i2p_keys`] |
//! | `messages-<network>.log` | the messages kept for clients (channels, queries; OTR conversations only with `log on`), appended in sealed chunks | [`message_log`] |
//! | `store.key` | random key, only when no passphrase is configured | [`passphrase`] |
//!
//! Every `.sealed` file has the same format ([`sealed`]): Argon2id from the passphrase,
//! AES-256-GCM over the payload with the header as associated data. Files are mode 0600 in a
//! 0700 directory, written atomically ([`files`]), and never rewritten or replaced because
//! they could not be read: a store that fails to open is an error the user resolves.

mod error;
pub mod files;
pub mod i2p_keys;
pub mod identity_file;
pub mod message_log;
pub mod passphrase;
pub mod sealed;
pub mod trust;

pub use error::StoreError;
pub use i2p_keys::I2pKeyFile;
pub use identity_file::{IdentityFile, StoredIdentity};
pub use message_log::{MessageLog, Record};
pub use passphrase::{Passphrase, PassphraseSource};
pub use sealed::{KdfParams, SealedFile};
pub use trust::{
    KeyStatus, KnownKey, NickTrust, Observation, OptInError, PolicyToggles, StoredChannel,
    TrustStore,
};
