//! libotr's key, fingerprint and instance-tag files, read and written in libotr's formats so
//! that a user can bring an existing OTR identity (and the peers they already verified) into
//! otrbnc, or take it out again.
//!
//! | client | private keys | fingerprints | instance tags |
//! | --- | --- | --- | --- |
//! | irssi-otr (`~/.irssi/otr/`) | `otr.key` | `otr.fp` | `otr.instag` |
//! | pidgin-otr (`~/.purple/`) | `otr.private_key` | `otr.fingerprints` | `otr.instance_tags` |
//! | BitlBee (its config dir) | `<nick>.otr_keys` | `<nick>.otr_fprints` | (per its version) |
//! | znc-otr (`~/.znc/users/<user>/networks/<network>/moddata/otr/`) | `otr.key` | `otr.fp` | `otr.instag` |
//!
//! irssi's OTR module (irssi 1.x, Debian's `irssi-plugin-otr`) names accounts by the server tag
//! (the chatnet's name, e.g. `libera`) with protocol `IRC`; the older stand-alone irssi-otr
//! used `nick@server`. pidgin-otr uses the libpurple account name and protocol id
//! (`prpl-irc`, `prpl-jabber`, …); znc-otr uses the ZNC user name with protocol `irc`.
//!
//! * Private keys: one libgcrypt S-expression, written by libotr in gcrypt's "advanced" form:
//!   `(privkeys (account (name "alice@irc.example") (protocol IRC) (private-key (dsa (p #00…#)
//!   (q #…#) (g #…#) (y #…#) (x #…#)))) …)`. See [`parse_private_keys`].
//! * Fingerprints: one line per known peer key,
//!   `username\taccount\tprotocol\t<40 hex>\t<trust>` (trust is `smp`, `verified`, any word the
//!   client chose, or empty for "not verified").
//! * Instance tags: `account\tprotocol\t<8 hex>` per line; libotr puts a `#` comment on top.
//!
//! Everything here is bounded (file size, nesting, element and entry counts) and returns a
//! typed error instead of panicking. Errors name a byte offset, a line or an account's
//! position, never key material.

mod fingerprints;
mod instags;
mod privkeys;
mod sexp;

#[cfg(test)]
mod tests;

pub use fingerprints::{FingerprintEntry, parse_fingerprints, write_fingerprints};
pub use instags::{parse_instags, write_instags};
pub use privkeys::{
    AccountEntry, StoredKey, parse_key_file_accounts, parse_private_keys, write_private_keys,
};

use crate::dsa::DsaError;

/// Largest file accepted (a libotr key file is about 1 KB per account).
pub const MAX_FILE_BYTES: usize = 1024 * 1024;
/// Deepest S-expression nesting accepted (a key file needs 4).
pub const MAX_DEPTH: usize = 16;
/// Most lists plus atoms in one S-expression (an account takes about 20).
pub const MAX_ELEMENTS: usize = 16 * 1024;
/// Most accounts in one private key file.
pub const MAX_ACCOUNTS: usize = 64;
/// Most entries in one fingerprint file.
pub const MAX_FINGERPRINTS: usize = 10_000;
/// Most entries in one instance tag file.
pub const MAX_INSTAGS: usize = 1024;

/// Why a file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// Larger than [`MAX_FILE_BYTES`].
    #[error("file too large")]
    TooLarge,
    /// The S-expression is malformed at this byte offset.
    #[error("S-expression syntax error at byte {offset}: {problem}")]
    Syntax {
        /// Byte offset into the file.
        offset: usize,
        /// What was wrong.
        problem: &'static str,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("S-expression nested too deeply")]
    TooDeep,
    /// More than [`MAX_ELEMENTS`] lists and atoms.
    #[error("S-expression has too many elements")]
    TooManyElements,
    /// Well-formed, but not a `(privkeys …)` list.
    #[error("not a libotr private key file: {0}")]
    NotKeyFile(&'static str),
    /// More than [`MAX_ACCOUNTS`] accounts.
    #[error("too many accounts")]
    TooManyAccounts,
    /// The account at this position (0-based) in the file is malformed.
    #[error("account {index}: {problem}")]
    Account {
        /// Position of the account in the file, from 0.
        index: usize,
        /// What was wrong.
        problem: &'static str,
    },
    /// The key of the account at this position (0-based) was refused.
    #[error("account {index}: {error}")]
    AccountKey {
        /// Position of the account in the file, from 0.
        index: usize,
        /// Why the key was refused.
        error: DsaError,
    },
    /// A line (from 1) of a fingerprint or instance tag file is malformed.
    #[error("line {line}: {problem}")]
    Line {
        /// Line number, from 1.
        line: usize,
        /// What was wrong.
        problem: &'static str,
    },
    /// More entries than [`MAX_FINGERPRINTS`] or [`MAX_INSTAGS`].
    #[error("too many entries")]
    TooManyEntries,
}

/// The lines of a text file with their numbers (from 1), a trailing CR removed; blank lines
/// are skipped. Shared by the fingerprint and instance tag readers.
fn lines(text: &str) -> Result<impl Iterator<Item = (usize, &str)>, KeyFileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(KeyFileError::TooLarge);
    }
    Ok(text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty()))
}

/// Whether a field can be written into a tab-separated line and read back unchanged (libotr
/// reads C strings up to the tab or line end).
fn plain_field(s: &str) -> bool {
    !s.contains(['\t', '\r', '\n', '\0'])
}
