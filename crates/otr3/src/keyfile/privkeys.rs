//! libotr's private key file (`otr.private_key`, irssi-otr's `otr.key`).

use super::sexp::{self, Sexp};
use super::{KeyFileError, MAX_ACCOUNTS};
use crate::dsa::PrivateKey;
use zeroize::Zeroizing;

/// One account's key from a libotr key file.
pub struct StoredKey {
    /// The account name, as the client wrote it (irssi-otr: `nick@server`).
    pub account: String,
    /// The protocol (irssi-otr: `IRC`; pidgin-otr: `prpl-irc`, …).
    pub protocol: String,
    /// The DSA key.
    pub key: PrivateKey,
}

/// One `(account …)` of a key file as [`parse_key_file_accounts`] reads it: its name and
/// protocol when they could be read, and its key or why it was refused. An importer picks the
/// account it wants and can name it in an error, whatever is wrong with the others.
pub struct AccountEntry {
    /// Position of the account in the file, from 0.
    pub index: usize,
    /// The account name, if it could be read.
    pub account: Option<String>,
    /// The protocol, if it could be read.
    pub protocol: Option<String>,
    /// The DSA key, or the error [`parse_private_keys`] gives for this account.
    pub key: Result<PrivateKey, KeyFileError>,
}

/// Reads a libotr private key file: `(privkeys (account (name …) (protocol …) (private-key
/// (dsa (p …) (q …) (g …) (y …) (x …)))) …)`. Like libotr, fields are found by name (their
/// order and any extra fields do not matter) and any malformed account fails the whole file;
/// the error names the account's position. Every key is checked ([`PrivateKey::from_parts`]).
/// Two keys for the same account and protocol are refused (libotr would silently use one).
pub fn parse_private_keys(text: &[u8]) -> Result<Vec<StoredKey>, KeyFileError> {
    let entries = parse_key_file_accounts(text)?;
    let mut keys: Vec<StoredKey> = Vec::with_capacity(entries.len());
    for entry in entries {
        let index = entry.index;
        let key = entry.key?;
        // A key is only read once the name and protocol were (see `parse_account`).
        let (Some(account), Some(protocol)) = (entry.account, entry.protocol) else {
            return Err(KeyFileError::Account {
                index,
                problem: "missing or bad name",
            });
        };
        if keys
            .iter()
            .any(|k| k.account == account && k.protocol == protocol)
        {
            return Err(KeyFileError::Account {
                index,
                problem: "a second key for the same account and protocol",
            });
        }
        keys.push(StoredKey {
            account,
            protocol,
            key,
        });
    }
    Ok(keys)
}

/// Reads a libotr private key file account by account: the file as a whole must be a
/// `(privkeys …)` list of at most [`MAX_ACCOUNTS`] items, but a malformed account only makes
/// its own entry an error. Duplicates are not checked here.
pub fn parse_key_file_accounts(text: &[u8]) -> Result<Vec<AccountEntry>, KeyFileError> {
    let top = sexp::parse(text)?;
    let accounts = top
        .headed(b"privkeys")
        .and_then(|l| l.get(1..))
        .ok_or(KeyFileError::NotKeyFile("no (privkeys …) list"))?;
    if accounts.len() > MAX_ACCOUNTS {
        return Err(KeyFileError::TooManyAccounts);
    }
    Ok(accounts
        .iter()
        .enumerate()
        .map(|(index, item)| parse_account(index, item))
        .collect())
}

/// One `(account …)` item; its checks run in the order `parse_private_keys` always reported
/// them: the list, the name, the protocol, then the key.
fn parse_account(index: usize, item: &Sexp) -> AccountEntry {
    let bad = |problem| KeyFileError::Account { index, problem };
    let Some(fields) = item.headed(b"account") else {
        return AccountEntry {
            index,
            account: None,
            protocol: None,
            key: Err(bad("not an (account …) list")),
        };
    };
    let account = text_field(fields, b"name");
    let protocol = text_field(fields, b"protocol");
    let key = if account.is_none() {
        Err(bad("missing or bad name"))
    } else if protocol.is_none() {
        Err(bad("missing or bad protocol"))
    } else {
        dsa_key(index, fields)
    };
    AccountEntry {
        index,
        account,
        protocol,
        key,
    }
}

/// The account's `(private-key (dsa …))`, checked.
fn dsa_key(index: usize, fields: &[Sexp]) -> Result<PrivateKey, KeyFileError> {
    let bad = |problem| KeyFileError::Account { index, problem };
    let key_list = sexp::find(fields, b"private-key").ok_or(bad("no private-key"))?;
    let dsa = key_list
        .get(1)
        .and_then(|k| k.headed(b"dsa"))
        .ok_or(bad("not a DSA key"))?;
    let num = |name: &'static str| {
        sexp::find(dsa, name.as_bytes())
            .and_then(|l| l.get(1))
            .and_then(Sexp::as_atom)
            .ok_or(bad(name))
    };
    let (p, q, g, y, x) = (num("p")?, num("q")?, num("g")?, num("y")?, num("x")?);
    PrivateKey::from_parts(p, q, g, y, x).map_err(|error| KeyFileError::AccountKey { index, error })
}

/// `(name value)`: the value as UTF-8 text without NUL (libotr keeps C strings).
fn text_field(fields: &[Sexp], name: &[u8]) -> Option<String> {
    let v = sexp::find(fields, name)?.get(1)?.as_atom()?;
    let s = std::str::from_utf8(v).ok()?;
    (!s.contains('\0')).then(|| s.to_owned())
}

/// Writes keys as libotr does (gcrypt's advanced S-expression form); libotr and
/// [`parse_private_keys`] read it back. The text holds the private keys: it is wiped on drop,
/// and is built in one allocation so that no partial copy is left behind.
pub fn write_private_keys(keys: &[StoredKey]) -> Zeroizing<String> {
    let parts: Vec<_> = keys.iter().map(|k| k.key.to_parts()).collect();
    let size: usize = keys
        .iter()
        .zip(&parts)
        .map(|(k, (p, q, g, y, x))| {
            // Names may grow fourfold when escaped; numbers take 2 hex digits per byte plus
            // a possible "00"; the rest is the fixed layout.
            4 * (k.account.len() + k.protocol.len())
                + 2 * (p.len() + q.len() + g.len() + y.len() + x.len())
                + 200
        })
        .sum::<usize>()
        + 16;
    let mut out = Zeroizing::new(String::with_capacity(size));
    out.push_str("(privkeys\n");
    for (k, (p, q, g, y, x)) in keys.iter().zip(&parts) {
        out.push_str(" (account\n  (name ");
        sexp::write_text_atom(&mut out, &k.account);
        out.push_str(")\n  (protocol ");
        sexp::write_text_atom(&mut out, &k.protocol);
        out.push_str(")\n  (private-key\n   (dsa\n");
        for (name, v) in [("p", p), ("q", q), ("g", g), ("y", y), ("x", &**x)] {
            out.push_str("    (");
            out.push_str(name);
            out.push(' ');
            sexp::write_mpi_atom(&mut out, v);
            out.push_str(")\n");
        }
        out.push_str("   )\n  )\n )\n");
    }
    out.push_str(")\n");
    out
}
