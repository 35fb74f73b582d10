//! The builders of lines for clients, `otrbnc::irc::build`, on arbitrary UTF-8: text that may
//! come from an OTR peer must never turn into more than one IRC line.
//!
//! Input: the limit (2 bytes, little-endian, modulo 1100), a selector byte (bit 3: there is a
//! source; bits 0-2: the command, 0-3 PRIVMSG, NOTICE, PONG, 464, else the command field),
//! then source, command, target, word, word and text separated by `0x1F` (the text is the
//! rest and may contain `0x1F`); lossy UTF-8.
//!
//! `sanitize_lines(text, max)`, with `m = max.max(4)` (the function never cuts below 4 bytes,
//! so that a piece always holds a whole character):
//! * every piece is non-empty, at most `m` bytes, without CR, LF or NUL;
//! * the pieces concatenated are the text without CR, LF and NUL; more precisely the pieces
//!   are, in order, those of each CR/LF-separated segment (NUL removed, empty ones skipped):
//!   no piece spans a line break, and within a segment every piece but the last is full (the
//!   next character would not have fit).
//!
//! `message(source, command, target, text)`, `command` being a plain token as every caller
//! passes (the function does not scrub it):
//! * the bytes are exactly `[:S ]command T :X\r\n`, where S and T are source and target with
//!   space, CR, LF and NUL replaced by `_` and a leading `:` by `_`, and X is the text with CR,
//!   LF and NUL replaced by spaces; hence exactly one CR and one LF, at the end;
//! * `Line::parse` gives back the source S, the command, and the parameters `[T, X]` (just
//!   `[X]` when T is empty: an empty target vanishes from the line).
//!
//! `command(source, words)`: one line ending in CRLF with no other CR, LF or NUL.
#![no_main]

use otrbnc::irc::Line;
use otrbnc::irc::build::{command, message, sanitize_lines};

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\0')
}

/// `build::scrub_word`, restated.
fn scrub(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| if c == ' ' || is_break(c) { '_' } else { c })
        .collect();
    match w.strip_prefix(':') {
        Some(r) => format!("_{r}"),
        None => w,
    }
}

fn check_sanitize(text: &str, max: usize) {
    let pieces = sanitize_lines(text, max);
    let m = max.max(4);
    for (i, p) in pieces.iter().enumerate() {
        assert!(!p.is_empty(), "piece {i} is empty");
        assert!(p.len() <= m, "piece {i} has {} bytes, max {m}", p.len());
        assert!(!p.contains(is_break), "piece {i} has CR, LF or NUL: {p:?}");
    }
    let stripped: String = text.chars().filter(|&c| !is_break(c)).collect();
    assert_eq!(
        pieces.concat(),
        stripped,
        "pieces do not add up to the text"
    );

    // Segment by segment: no piece crosses a line break; every piece but a segment's last is
    // full.
    let mut next = pieces.iter();
    for segment in text.split(['\r', '\n']) {
        let segment: String = segment.chars().filter(|&c| c != '\0').collect();
        let mut got = 0;
        let mut mine: Vec<&String> = Vec::new();
        while got < segment.len() {
            let p = next.next().expect("fewer pieces than the segments need");
            assert!(
                segment[got..].starts_with(p.as_str()),
                "piece {p:?} is not the next part of segment {segment:?}"
            );
            got += p.len();
            mine.push(p);
        }
        for w in mine.windows(2) {
            let first_next = w[1].chars().next().map_or(0, char::len_utf8);
            assert!(
                w[0].len() + first_next > m,
                "piece {:?} was cut short (max {m})",
                w[0]
            );
        }
    }
    assert!(next.next().is_none(), "more pieces than the text has");
}

fn check_message(source: Option<&str>, cmd: &str, target: &str, text: &str) {
    let line = message(source, cmd, target, text);
    let s = std::str::from_utf8(&line).expect("built from str");
    let x: String = text
        .chars()
        .map(|c| if is_break(c) { ' ' } else { c })
        .collect();
    let t = scrub(target);
    let expected = match source {
        Some(src) => format!(":{} {cmd} {t} :{x}\r\n", scrub(src)),
        None => format!("{cmd} {t} :{x}\r\n"),
    };
    assert_eq!(s, expected, "message() built something else");
    assert!(s.ends_with("\r\n"));
    assert_eq!(s.matches('\r').count(), 1, "more than one CR: {s:?}");
    assert_eq!(s.matches('\n').count(), 1, "more than one LF: {s:?}");
    assert!(!s.contains('\0'), "NUL in {s:?}");

    let parsed = Line::parse(&line).expect("a built message parses");
    let src = source.map(scrub);
    assert_eq!(parsed.source, src.as_deref().map(str::as_bytes), "source");
    assert_eq!(parsed.command, cmd.as_bytes(), "command");
    let mut params: Vec<&[u8]> = Vec::new();
    if !t.is_empty() {
        params.push(t.as_bytes());
    }
    params.push(x.as_bytes());
    assert_eq!(parsed.params, params, "parameters of {s:?}");
}

fn check(data: &[u8]) {
    let [lo, hi, sel, rest @ ..] = data else {
        return;
    };
    let max = usize::from(u16::from_le_bytes([*lo, *hi]) % 1100);
    let mut fields = rest.splitn(6, |&b| b == 0x1F);
    let mut field = || String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let source = field();
    let custom = field();
    let target = field();
    let words = (field(), field());
    let text = field();
    let source = (sel & 8 != 0).then_some(source);
    let cmd = match sel & 7 {
        0 => "PRIVMSG".to_string(),
        1 => "NOTICE".to_string(),
        2 => "PONG".to_string(),
        3 => "464".to_string(),
        // Any token a caller could pass: non-empty, no space or line break, and not something
        // the parser would take for tags or a source.
        _ if custom.is_empty()
            || custom.contains(|ch: char| ch == ' ' || is_break(ch))
            || custom.starts_with([':', '@']) =>
        {
            "PRIVMSG".to_string()
        }
        _ => custom,
    };

    check_sanitize(&text, max);
    check_sanitize(&text, otrbnc::irc::build::CLIENT_TEXT_MAX);
    check_message(source.as_deref(), &cmd, &target, &text);
    for piece in sanitize_lines(&text, otrbnc::irc::build::CLIENT_TEXT_MAX) {
        check_message(source.as_deref(), &cmd, &target, &piece);
    }

    let raw = command(source.as_deref(), &[cmd.as_str(), &words.0, &words.1]);
    assert!(raw.ends_with(b"\r\n"), "command() without CRLF");
    let body = &raw[..raw.len() - 2];
    assert!(
        !body.iter().any(|b| matches!(b, b'\r' | b'\n' | 0)),
        "command() built {raw:?}"
    );
}
