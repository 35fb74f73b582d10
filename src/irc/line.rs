//! A borrowed view of one IRC line: tags, source, command and parameters as byte slices.
//!
//! Only lines otrbnc acts on are parsed; everything else is forwarded as the original bytes.
//! The parser never allocates for the line itself and never fails on odd bytes: IRC lines
//! are not guaranteed to be UTF-8.

/// Most parameters kept (RFC 1459 allows 15).
pub const MAX_PARAMS: usize = 15;

/// One parsed line (without CR/LF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// Raw tag section without the leading `@`, if any.
    pub tags: Option<&'a [u8]>,
    /// Source without the leading `:`, if any.
    pub source: Option<&'a [u8]>,
    /// Command (or numeric) as sent.
    pub command: &'a [u8],
    /// Parameters; the trailing one without its `:`.
    pub params: Vec<&'a [u8]>,
}

fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| b == b' ') {
        Some(i) => (
            s.get(..i).unwrap_or_default(),
            s.get(i + 1..).unwrap_or_default(),
        ),
        None => (s, &[]),
    }
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ').count();
    s.get(n..).unwrap_or_default()
}

/// Removes a trailing `\r\n` or `\n` (and a lone trailing `\r`).
pub fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The bytes after the command word (with the space before the parameters), tags and
/// source skipped: `@t :s PING :x` → ` :x`.
pub fn after_command(raw: &[u8]) -> &[u8] {
    let mut rest = skip_spaces(trim_eol(raw));
    if rest.first() == Some(&b'@') {
        rest = skip_spaces(split_word(rest).1);
    }
    if rest.first() == Some(&b':') {
        rest = skip_spaces(split_word(rest).1);
    }
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    rest.get(end..).unwrap_or_default()
}

impl<'a> Line<'a> {
    /// Parses a line; `None` when it has no command.
    pub fn parse(raw: &'a [u8]) -> Option<Line<'a>> {
        let mut rest = skip_spaces(trim_eol(raw));
        let mut tags = None;
        if let Some(r) = rest.strip_prefix(b"@") {
            let (t, r) = split_word(r);
            tags = Some(t);
            rest = skip_spaces(r);
        }
        let mut source = None;
        if let Some(r) = rest.strip_prefix(b":") {
            let (s, r) = split_word(r);
            source = Some(s);
            rest = skip_spaces(r);
        }
        let (command, r) = split_word(rest);
        if command.is_empty() {
            return None;
        }
        rest = r;
        let mut params = Vec::new();
        loop {
            rest = skip_spaces(rest);
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(b":") {
                params.push(trailing);
                break;
            }
            if params.len() + 1 == MAX_PARAMS {
                params.push(rest);
                break;
            }
            let (p, r) = split_word(rest);
            params.push(p);
            rest = r;
        }
        Some(Line {
            tags,
            source,
            command,
            params,
        })
    }

    /// Whether the command is `cmd` (ASCII case-insensitive).
    pub fn is(&self, cmd: &str) -> bool {
        self.command.eq_ignore_ascii_case(cmd.as_bytes())
    }

    /// Parameter `i`.
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        self.params.get(i).copied()
    }

    /// Parameter `i` as UTF-8 (lossy).
    pub fn param_str(&self, i: usize) -> Option<String> {
        self.param(i)
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// The nick part of the source (`nick!user@host` → `nick`).
    pub fn source_nick(&self) -> Option<&'a [u8]> {
        let s = self.source?;
        let end = s
            .iter()
            .position(|&b| b == b'!' || b == b'@')
            .unwrap_or(s.len());
        s.get(..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_line() {
        let l = Line::parse(b"@time=x;a :nick!u@h PRIVMSG #c :hello world\r\n").unwrap();
        assert_eq!(l.tags, Some(&b"time=x;a"[..]));
        assert_eq!(l.source, Some(&b"nick!u@h"[..]));
        assert_eq!(l.source_nick(), Some(&b"nick"[..]));
        assert!(l.is("privmsg"));
        assert_eq!(l.params, vec![&b"#c"[..], b"hello world"]);
    }

    #[test]
    fn middle_params_and_empty_trailing() {
        let l = Line::parse(b"USER a 0 * :").unwrap();
        assert_eq!(l.params, vec![&b"a"[..], b"0", b"*", b""]);
        let l = Line::parse(b"PING").unwrap();
        assert!(l.params.is_empty());
    }

    #[test]
    fn junk_is_not_a_line() {
        assert_eq!(Line::parse(b""), None);
        assert_eq!(Line::parse(b"   \r\n"), None);
        assert_eq!(Line::parse(b"@tags"), None);
        assert_eq!(Line::parse(b":src"), None);
        // Non-UTF-8 bytes are fine.
        assert!(Line::parse(b"PRIVMSG x :\xff\xfe").is_some());
    }

    #[test]
    fn the_rest_after_the_command_skips_tags_and_source() {
        assert_eq!(after_command(b"PING :x\r\n"), b" :x");
        assert_eq!(after_command(b"@time=1 :irc.test PING :x y\r\n"), b" :x y");
        assert_eq!(after_command(b"PING"), b"");
        assert_eq!(after_command(b"@t"), b"");
    }

    #[test]
    fn too_many_params_are_folded_into_the_last() {
        let raw = b"CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17";
        let l = Line::parse(raw).unwrap();
        assert_eq!(l.params.len(), MAX_PARAMS);
        assert_eq!(l.params.last(), Some(&&b"15 16 17"[..]));
    }
}
