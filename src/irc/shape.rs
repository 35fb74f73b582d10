//! A line from the server as one client should see it, given the capabilities that client
//! negotiated with otrbnc (which may be fewer than otrbnc negotiated with the server).
//!
//! The rules follow what each capability's specification says a server sends a client
//! without it: no tags (or only those of caps it has), no BATCH, TAGMSG, CHGHOST, AWAY,
//! ACCOUNT or SETNAME lines, JOIN with the channel only, one prefix per NAMES and WHO entry,
//! and nicks without `user@host` in NAMES. A line that needs no change is passed as the same
//! bytes; a line whose tags alone change keeps the rest of its bytes.

use bytes::Bytes;

use super::Line;
use super::caps::{Cap, CapSet};

/// Whether a line could look different to some client: tagged, or a command a capability
/// changes. Cheap (no full parse): most lines (untagged channel text) stop here.
pub fn may_need_shaping(raw: &[u8]) -> bool {
    // Leading spaces are skipped as the parser (and clients) skip them.
    let lead = raw.iter().take_while(|&&b| b == b' ').count();
    let raw = raw.get(lead..).unwrap_or_default();
    if raw.first() == Some(&b'@') {
        return true;
    }
    let mut rest = raw;
    if rest.first() == Some(&b':') {
        let Some(sp) = rest.iter().position(|&b| b == b' ') else {
            return false;
        };
        rest = rest.get(sp + 1..).unwrap_or_default();
    }
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let rest = rest.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(rest.len());
    let cmd = rest.get(..end).unwrap_or_default();
    SHAPED_COMMANDS.iter().any(|c| cmd.eq_ignore_ascii_case(c))
}

/// Commands some capability changes or hides.
const SHAPED_COMMANDS: [&[u8]; 9] = [
    b"JOIN", b"353", b"352", b"TAGMSG", b"BATCH", b"CHGHOST", b"AWAY", b"ACCOUNT", b"SETNAME",
];

/// The line for a client with `caps`: the same bytes when nothing changes, a rewritten
/// line, or `None` when such a client gets nothing. `prefixes` are the server's member
/// prefix symbols (ISUPPORT `PREFIX`, e.g. `~&@%+`).
pub fn shape(raw: &Bytes, caps: CapSet, prefixes: &[u8]) -> Option<Bytes> {
    if !may_need_shaping(raw) {
        return Some(raw.clone());
    }
    let Some(line) = Line::parse(raw) else {
        return Some(raw.clone());
    };
    // A second tag section where the command should be (`@a=1 @b=2 …`, a hostile server's):
    // with the first one taken off it would pass as tags. No IRC command starts with `@`.
    if line.command.first() == Some(&b'@') {
        return None;
    }
    let hidden_without = match line.command.to_ascii_uppercase().as_slice() {
        b"TAGMSG" => Some(Cap::MessageTags),
        b"BATCH" => Some(Cap::Batch),
        b"CHGHOST" => Some(Cap::Chghost),
        b"AWAY" => Some(Cap::AwayNotify),
        b"ACCOUNT" => Some(Cap::AccountNotify),
        b"SETNAME" => Some(Cap::Setname),
        _ => None,
    };
    if hidden_without.is_some_and(|c| !caps.has(c)) {
        return None;
    }
    // A client with every tag's capability gets the tags as they came.
    let every_tag = [
        Cap::MessageTags,
        Cap::ServerTime,
        Cap::AccountTag,
        Cap::Batch,
        Cap::LabeledResponse,
    ]
    .iter()
    .all(|c| caps.has(*c));
    let tags = line.tags.map(|t| {
        if every_tag {
            t.to_vec()
        } else {
            kept_tags(t, caps)
        }
    });
    let tags_changed = match (line.tags, &tags) {
        (Some(old), Some(new)) => old != new.as_slice(),
        _ => false,
    };
    match shaped_params(&line, caps, prefixes) {
        Some(params) => Some(rebuild(tags.as_deref(), &line, &params)),
        None if tags_changed => Some(retagged(raw, tags.as_deref())),
        None => Some(raw.clone()),
    }
}

/// The tags a client with `caps` may see: a tag that belongs to a capability (`time`,
/// `account`, `batch`, `label`) only with it (a `batch` tag refers to a BATCH line the client
/// never got), any other tag only with `message-tags`.
fn kept_tags(tags: &[u8], caps: CapSet) -> Vec<u8> {
    let allowed = |key: &[u8]| -> bool {
        let tied = match key {
            b"time" => Some(Cap::ServerTime),
            b"account" => Some(Cap::AccountTag),
            b"batch" => Some(Cap::Batch),
            b"label" => Some(Cap::LabeledResponse),
            _ => None,
        };
        match tied {
            Some(cap) => caps.has(cap),
            None => caps.has(Cap::MessageTags),
        }
    };
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags.split(|&b| b == b';').filter(|t| !t.is_empty()) {
        let key = tag.split(|&b| b == b'=').next().unwrap_or_default();
        if allowed(key) {
            if !out.is_empty() {
                out.push(b';');
            }
            out.extend_from_slice(tag);
        }
    }
    out
}

/// New parameters when a capability the client lacks changes them; `None` when they stay.
fn shaped_params(line: &Line<'_>, caps: CapSet, prefixes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let cmd = line.command.to_ascii_uppercase();
    match cmd.as_slice() {
        // extended-join: `JOIN #chan account :realname` → `JOIN #chan`.
        b"JOIN" if line.params.len() > 1 && !caps.has(Cap::ExtendedJoin) => {
            Some(vec![line.param(0).unwrap_or_default().to_vec()])
        }
        b"353" if !(caps.has(Cap::MultiPrefix) && caps.has(Cap::UserhostInNames)) => {
            let names = line.params.last()?;
            let shaped: Vec<Vec<u8>> = names
                .split(|&b| b == b' ')
                .filter(|i| !i.is_empty())
                .map(|item| names_item(item, caps, prefixes))
                // An entry that was only `!user@host` (a hostile server's) leaves nothing.
                .filter(|item| !item.is_empty())
                .collect();
            let joined = shaped.join(&b' ');
            if joined.as_slice() == *names {
                return None;
            }
            let mut params: Vec<Vec<u8>> = line.params.iter().map(|p| p.to_vec()).collect();
            if let Some(last) = params.last_mut() {
                *last = joined;
            }
            Some(params)
        }
        // WHO flags: `H@+` → `H@` (the other flag letters stay).
        b"352" if !caps.has(Cap::MultiPrefix) => {
            let flags = line.param(6)?;
            let shaped = first_prefix_only(flags, prefixes);
            if shaped.as_slice() == flags {
                return None;
            }
            let mut params: Vec<Vec<u8>> = line.params.iter().map(|p| p.to_vec()).collect();
            if let Some(f) = params.get_mut(6) {
                *f = shaped;
            }
            Some(params)
        }
        _ => None,
    }
}

/// One NAMES entry (`@+nick!user@host`) for a client with `caps`.
fn names_item(item: &[u8], caps: CapSet, prefixes: &[u8]) -> Vec<u8> {
    let n = item.iter().take_while(|b| prefixes.contains(b)).count();
    let (symbols, mut nick) = item.split_at(n);
    if !caps.has(Cap::UserhostInNames)
        && let Some(bang) = nick.iter().position(|&b| b == b'!')
    {
        nick = nick.get(..bang).unwrap_or(nick);
    }
    let symbols = if caps.has(Cap::MultiPrefix) {
        symbols
    } else {
        symbols.get(..symbols.len().min(1)).unwrap_or_default()
    };
    [symbols, nick].concat()
}

/// Keeps the first prefix symbol in `flags` and drops the others.
fn first_prefix_only(flags: &[u8], prefixes: &[u8]) -> Vec<u8> {
    let mut seen = false;
    flags
        .iter()
        .copied()
        .filter(|b| {
            if !prefixes.contains(b) {
                return true;
            }
            !std::mem::replace(&mut seen, true)
        })
        .collect()
}

/// `raw` without its tag section; the rest byte-exact.
pub fn without_tags(raw: &[u8]) -> Bytes {
    retagged(raw, None)
}

/// `raw` with its tag section replaced by `tags` (none when empty); the rest byte-exact.
fn retagged(raw: &[u8], tags: Option<&[u8]>) -> Bytes {
    let lead = raw.iter().take_while(|&&b| b == b' ').count();
    let raw = raw.get(lead..).unwrap_or_default();
    let body = match raw.first() {
        Some(b'@') => {
            let after = raw
                .iter()
                .position(|&b| b == b' ')
                .map_or(&[][..], |i| raw.get(i + 1..).unwrap_or_default());
            let start = after.iter().position(|&b| b != b' ').unwrap_or(after.len());
            after.get(start..).unwrap_or_default()
        }
        _ => raw,
    };
    let mut out = Vec::with_capacity(raw.len());
    push_tags(&mut out, tags);
    out.extend_from_slice(body);
    Bytes::from(out)
}

fn push_tags(out: &mut Vec<u8>, tags: Option<&[u8]>) {
    if let Some(t) = tags.filter(|t| !t.is_empty()) {
        out.push(b'@');
        out.extend_from_slice(t);
        out.push(b' ');
    }
}

/// A line from its parts; the last parameter is trailing (`:`) when it must be or when it
/// holds a list (NAMES).
fn rebuild(tags: Option<&[u8]>, line: &Line<'_>, params: &[Vec<u8>]) -> Bytes {
    let mut out = Vec::with_capacity(512);
    push_tags(&mut out, tags);
    if let Some(src) = line.source {
        out.push(b':');
        out.extend_from_slice(src);
        out.push(b' ');
    }
    out.extend_from_slice(line.command);
    let names = line.command == b"353";
    for (i, p) in params.iter().enumerate() {
        out.push(b' ');
        let last = i + 1 == params.len();
        if last && (names || p.is_empty() || p.contains(&b' ') || p.first() == Some(&b':')) {
            out.push(b':');
        }
        out.extend_from_slice(p);
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
