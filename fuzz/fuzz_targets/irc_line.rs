//! `otrbnc::irc::Line::parse` on arbitrary bytes (one line as the codec yields it, or junk).
//!
//! Properties, whenever it returns `Some`:
//! * the command is non-empty and has no space;
//! * every parameter but the last is non-empty, has no space and does not start with `:`
//!   (it could not have been told from a trailing one);
//! * tags and source have no space; at most `MAX_PARAMS` parameters;
//! * every slice (tags, source, command, parameters) points inside the input, in that order;
//! * the canonical form `[@tags ][:source ]command[ middle…][ :last]\r\n` parses back to the
//!   same line (nothing is lost or invented by the parser).
#![no_main]

use otrbnc::irc::Line;
use otrbnc::irc::line::MAX_PARAMS;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

/// `part` lies inside `whole` (by address), starting at or after offset `from`; returns the
/// offset just past it.
fn inside(whole: &[u8], part: &[u8], from: usize, what: &str) -> usize {
    let base = whole.as_ptr() as usize;
    let start = part.as_ptr() as usize;
    assert!(
        start >= base + from && start + part.len() <= base + whole.len(),
        "{what} is not inside the input after offset {from}"
    );
    start - base + part.len()
}

fn canonical(l: &Line<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(t) = l.tags {
        out.push(b'@');
        out.extend_from_slice(t);
        out.push(b' ');
    }
    if let Some(s) = l.source {
        out.push(b':');
        out.extend_from_slice(s);
        out.push(b' ');
    }
    out.extend_from_slice(l.command);
    if let Some((last, middle)) = l.params.split_last() {
        for p in middle {
            out.push(b' ');
            out.extend_from_slice(p);
        }
        out.extend_from_slice(b" :");
        out.extend_from_slice(last);
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn check(data: &[u8]) {
    let Some(line) = Line::parse(data) else {
        return;
    };
    assert!(!line.command.is_empty(), "empty command");
    assert!(!line.command.contains(&b' '), "space in the command");
    assert!(
        line.params.len() <= MAX_PARAMS,
        "{} params",
        line.params.len()
    );
    if let Some((_, middle)) = line.params.split_last() {
        for (i, p) in middle.iter().enumerate() {
            assert!(!p.is_empty(), "middle param {i} is empty");
            assert!(!p.contains(&b' '), "middle param {i} has a space");
            assert!(!p.starts_with(b":"), "middle param {i} starts with ':'");
        }
    }
    let mut at = 0;
    if let Some(t) = line.tags {
        assert!(!t.contains(&b' '), "space in the tags");
        at = inside(data, t, at, "tags");
    }
    if let Some(s) = line.source {
        assert!(!s.contains(&b' '), "space in the source");
        at = inside(data, s, at, "source");
    }
    at = inside(data, line.command, at, "command");
    for (i, p) in line.params.iter().enumerate() {
        at = inside(data, p, at, &format!("param {i}"));
    }
    let _ = at;

    let canon = canonical(&line);
    let again = Line::parse(&canon).expect("the canonical form of a parsed line must parse");
    assert_eq!(again, line, "canonical form {canon:?} parses differently");
}
