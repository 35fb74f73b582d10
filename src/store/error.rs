//! What can go wrong with the store, worded for the person who has to fix it.
//!
//! Every variant names the file concerned. None of them carries secret material, and opening
//! a store never changes its file, so every message can say the file was left as it was.

use std::fmt;
use std::path::{Path, PathBuf};

/// An error from the encrypted store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The operating system refused a read, write, rename or directory operation.
    #[error(
        "cannot access {}: {source} (check the path, and that this user may read and write there)",
        path.display()
    )]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not a store file this version of otrbnc can read.
    #[error(
        "{} is not a usable otrbnc store file ({reason}). It was left as it is: restore it from a backup, or move it aside to start afresh (whatever it held is then lost)",
        path.display()
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// AES-GCM authentication failed. GCM cannot tell a wrong key from a damaged file.
    #[error(
        "cannot decrypt {}: wrong passphrase, or the file is corrupted or was tampered with. It was left as it is: check the passphrase (data.passphrase_file, OTRBNC_PASSPHRASE, data.passphrase or the store.key file beside it), or restore the file from a backup",
        path.display()
    )]
    Decrypt {
        /// The file.
        path: PathBuf,
    },
    /// A secret file that other users could read (or change); it is refused, not used.
    #[error(
        "{} can be accessed by other users (mode {}); refusing to use it. Fix it with:  chmod 600 '{}'",
        path.display(),
        Mode(*mode),
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Creating a store file that is already there (it is never overwritten by a new one).
    #[error(
        "{} already exists; refusing to replace it with a new one",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase is unusable (empty, or not valid where it came from).
    #[error("the store passphrase from {origin} {reason}")]
    Passphrase {
        /// Where the passphrase came from (see `PassphraseSource`'s `Display`).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A name that cannot be part of a file name in the data directory.
    #[error(
        "{name:?} cannot name a store file (only A-Z a-z 0-9 _ . - are allowed, and no \"..\")"
    )]
    InvalidName {
        /// The name.
        name: String,
    },
    /// A new identity could not be generated.
    #[error("cannot generate a new OTR identity: {reason}")]
    Generate {
        /// Why.
        reason: String,
    },
    /// The payload to seal is larger than any store file may be.
    #[error("refusing to write {}: {len} bytes is more than a store file may hold", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The payload length.
        len: usize,
    },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }
}

/// Permission bits as `chmod` shows them (`0644`).
struct Mode(u32);

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0 & 0o7777)
    }
}
