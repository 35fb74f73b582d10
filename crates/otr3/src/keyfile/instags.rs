//! libotr's instance tag file (`otr.instance_tags`, irssi-otr's `otr.instag`): the OTRv3
//! instance tag each of our accounts uses.

use super::{KeyFileError, MAX_INSTAGS, lines, plain_field};

/// The smallest valid instance tag; smaller values are reserved by the protocol.
const MIN_INSTAG: u32 = 0x100;

/// Reads `account\tprotocol\t<8 hex>` lines. Blank lines and `#` comments (libotr writes a
/// warning comment on top) are skipped; any other malformed line is an error naming it.
pub fn parse_instags(text: &str) -> Result<Vec<(String, String, u32)>, KeyFileError> {
    let mut out = Vec::new();
    for (line, l) in lines(text)? {
        let bad = |problem| KeyFileError::Line { line, problem };
        if l.starts_with('#') {
            continue;
        }
        if l.contains(['\r', '\0']) {
            return Err(bad("stray CR or NUL"));
        }
        let mut f = l.split('\t');
        let (Some(account), Some(protocol), Some(hex), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(bad("expected account, protocol and instance tag"));
        };
        if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("instance tag is not 8 hex digits"));
        }
        let tag = u32::from_str_radix(hex, 16).map_err(|_| bad("bad instance tag"))?;
        if tag < MIN_INSTAG {
            return Err(bad("reserved instance tag"));
        }
        if out.len() >= MAX_INSTAGS {
            return Err(KeyFileError::TooManyEntries);
        }
        out.push((account.to_owned(), protocol.to_owned(), tag));
    }
    Ok(out)
}

/// Writes entries as libotr does (`%08x`). Entries the format cannot carry are left out: a
/// reserved tag (below 0x100), a tab, CR, LF or NUL in a name, or an account starting with
/// `#` (it would read back as a comment).
pub fn write_instags(entries: &[(String, String, u32)]) -> String {
    let mut out = String::new();
    for (account, protocol, tag) in entries {
        if *tag < MIN_INSTAG
            || account.starts_with('#')
            || !plain_field(account)
            || !plain_field(protocol)
        {
            continue;
        }
        out.push_str(&format!("{account}\t{protocol}\t{tag:08x}\n"));
    }
    out
}
