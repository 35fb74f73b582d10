//! libotr's fingerprint file (`otr.fingerprints`, irssi-otr's `otr.fp`): the peers' keys
//! the user has seen, and whether each was verified.

use super::{KeyFileError, MAX_FINGERPRINTS, lines, plain_field};
use crate::dsa::{FINGERPRINT_LEN, parse_fingerprint};
use std::fmt::Write as _;

/// One line of a fingerprint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintEntry {
    /// The peer (irssi-otr: their nick).
    pub username: String,
    /// Our account the peer was seen on (irssi-otr: `nick@server`).
    pub account: String,
    /// The protocol (irssi-otr: `IRC`).
    pub protocol: String,
    /// SHA-1 of the peer's DSA public key ([`crate::dsa::PublicKey::fingerprint`]).
    pub fingerprint: [u8; FINGERPRINT_LEN],
    /// How it was verified: empty for not at all, else the client's word (`smp`,
    /// `verified`, …).
    pub trust: String,
}

/// Reads `username\taccount\tprotocol\t<40 hex>[\t<trust>]` lines. Blank lines are skipped;
/// any other malformed line is an error naming it (libotr skips such lines silently, but a
/// lost "verified" mark should not go unnoticed).
pub fn parse_fingerprints(text: &str) -> Result<Vec<FingerprintEntry>, KeyFileError> {
    let mut out = Vec::new();
    for (line, l) in lines(text)? {
        let bad = |problem| KeyFileError::Line { line, problem };
        if l.contains(['\r', '\0']) {
            return Err(bad("stray CR or NUL"));
        }
        let mut f = l.split('\t');
        let (Some(username), Some(account), Some(protocol), Some(hex)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad("expected username, account, protocol and fingerprint"));
        };
        let trust = f.next().unwrap_or_default();
        if f.next().is_some() {
            return Err(bad("too many fields"));
        }
        let fingerprint = (hex.len() == 2 * FINGERPRINT_LEN)
            .then(|| parse_fingerprint(hex))
            .flatten()
            .ok_or(bad("fingerprint is not 40 hex digits"))?;
        if out.len() >= MAX_FINGERPRINTS {
            return Err(KeyFileError::TooManyEntries);
        }
        out.push(FingerprintEntry {
            username: username.to_owned(),
            account: account.to_owned(),
            protocol: protocol.to_owned(),
            fingerprint,
            trust: trust.to_owned(),
        });
    }
    Ok(out)
}

/// Writes entries as libotr does (lowercase hex, the trust field always present). An entry
/// with a tab, CR, LF or NUL in a field cannot be represented in the format and is left out.
pub fn write_fingerprints(entries: &[FingerprintEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        if ![&e.username, &e.account, &e.protocol, &e.trust]
            .iter()
            .all(|s| plain_field(s))
        {
            continue;
        }
        out.push_str(&e.username);
        out.push('\t');
        out.push_str(&e.account);
        out.push('\t');
        out.push_str(&e.protocol);
        out.push('\t');
        for b in e.fingerprint {
            // Writing into a String cannot fail.
            let _ = write!(out, "{b:02x}");
        }
        out.push('\t');
        out.push_str(&e.trust);
        out.push('\n');
    }
    out
}
