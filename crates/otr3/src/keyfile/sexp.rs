//! A small, bounded reader for libgcrypt S-expressions (the syntax of libotr's key file), and
//! the few writing helpers the key file needs.
//!
//! Atoms in every form gcrypt reads: bare tokens, `"quoted strings"` with gcrypt's escapes
//! (`\n \t \r \b \v \f \" \' \\`, `\ooo` octal, `\xHH`, backslash-newline), `#hex#` (spaces
//! allowed inside), `|base64|`, and verbatim `N:bytes`. A decimal length before a quoted,
//! hex or base64 atom is ignored, as gcrypt does; a length may not start with `0`, as in
//! gcrypt. A display hint `[atom]` is read as the plain atom, which is what gcrypt 1.10 does
//! (so `(protocol [h] IRC)` names protocol `h`, for libotr as for us). Atoms are wiped on
//! drop: the private key x is one of them.
//!
//! Where gcrypt is laxer we refuse: text after the top-level list, `\ooo` above 255,
//! malformed base64.
//!
//! The reader is iterative (no recursion), and bounds the input size, the nesting depth and
//! the number of elements.

use super::{KeyFileError, MAX_DEPTH, MAX_ELEMENTS, MAX_FILE_BYTES};
use base64::Engine as _;
use std::fmt::Write as _;
use zeroize::Zeroizing;

/// One element: an atom (bytes) or a list.
pub(crate) enum Sexp {
    Atom(Zeroizing<Vec<u8>>),
    List(Vec<Sexp>),
}

impl Sexp {
    pub(crate) fn as_atom(&self) -> Option<&[u8]> {
        match self {
            Sexp::Atom(a) => Some(a),
            Sexp::List(_) => None,
        }
    }

    pub(crate) fn as_list(&self) -> Option<&[Sexp]> {
        match self {
            Sexp::List(l) => Some(l),
            Sexp::Atom(_) => None,
        }
    }

    /// The elements of a list whose first element is the atom `name`.
    pub(crate) fn headed(&self, name: &[u8]) -> Option<&[Sexp]> {
        let l = self.as_list()?;
        (l.first()?.as_atom()? == name).then_some(l)
    }
}

/// The first list among `items` headed by the atom `name` (libotr's lookups by name).
pub(crate) fn find<'a>(items: &'a [Sexp], name: &[u8]) -> Option<&'a [Sexp]> {
    items.iter().find_map(|s| s.headed(name))
}

/// gcrypt's token characters. A token may not start with a digit (that is a length).
fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-./_:*+=".contains(&c)
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Longest decimal length prefix read (more digits would exceed any file we accept).
const MAX_LEN_DIGITS: usize = 7;

/// Reads one S-expression: a single top-level list, optionally surrounded by whitespace.
pub(crate) fn parse(input: &[u8]) -> Result<Sexp, KeyFileError> {
    if input.len() > MAX_FILE_BYTES {
        return Err(KeyFileError::TooLarge);
    }
    let mut c = Cursor { s: input, pos: 0 };
    let mut stack: Vec<Vec<Sexp>> = Vec::new();
    let mut elements = 0usize;
    let mut done: Option<Sexp> = None;
    loop {
        c.skip_space();
        let Some(b) = c.peek() else { break };
        if done.is_some() {
            return Err(c.err("data after the expression"));
        }
        match b {
            b'(' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(KeyFileError::TooDeep);
                }
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(KeyFileError::TooManyElements);
                }
                stack.push(Vec::new());
                c.pos += 1;
            }
            b')' => {
                let list = stack.pop().ok_or_else(|| c.err("unbalanced ')'"))?;
                c.pos += 1;
                match stack.last_mut() {
                    Some(parent) => parent.push(Sexp::List(list)),
                    None => done = Some(Sexp::List(list)),
                }
            }
            _ => {
                let Some(top) = stack.last_mut() else {
                    return Err(c.err("atom outside a list"));
                };
                elements += 1;
                if elements > MAX_ELEMENTS {
                    return Err(KeyFileError::TooManyElements);
                }
                let atom = if b == b'[' { c.hinted()? } else { c.atom()? };
                top.push(Sexp::Atom(atom));
            }
        }
    }
    if !stack.is_empty() {
        return Err(c.err("unbalanced '('"));
    }
    done.ok_or_else(|| c.err("no expression"))
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn err(&self, problem: &'static str) -> KeyFileError {
        KeyFileError::Syntax {
            offset: self.pos,
            problem,
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// `[atom]`: a display hint, kept as the plain atom (gcrypt's reading).
    fn hinted(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        self.pos += 1; // the '['
        self.skip_space();
        let atom = self.atom()?;
        self.skip_space();
        if self.next() != Some(b']') {
            return Err(self.err("unterminated display hint"));
        }
        Ok(atom)
    }

    /// One atom in any form, starting at the current position.
    fn atom(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        match self.peek() {
            Some(b'0'..=b'9') => self.length_prefixed(),
            Some(b'"') => self.quoted(),
            Some(b'#') => self.hex(),
            Some(b'|') => self.base64(),
            Some(b) if is_token_char(b) => Ok(self.token()),
            Some(_) => Err(self.err("unexpected character")),
            None => Err(self.err("unexpected end of input")),
        }
    }

    fn token(&mut self) -> Zeroizing<Vec<u8>> {
        let start = self.pos;
        while self.peek().is_some_and(is_token_char) {
            self.pos += 1;
        }
        Zeroizing::new(self.s.get(start..self.pos).unwrap_or_default().to_vec())
    }

    /// `N:bytes` (verbatim), or a length before `"…"`, `#…#` or `|…|` (ignored, as gcrypt).
    fn length_prefixed(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        if self.peek() == Some(b'0') {
            return Err(self.err("length with a leading zero"));
        }
        let mut len = 0usize;
        let mut digits = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            digits += 1;
            if digits > MAX_LEN_DIGITS {
                return Err(self.err("length too long"));
            }
            len = len * 10 + usize::from(d - b'0');
            self.pos += 1;
        }
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|&e| e <= self.s.len())
                    .ok_or_else(|| self.err("verbatim length past the end"))?;
                let out = Zeroizing::new(self.s.get(self.pos..end).unwrap_or_default().to_vec());
                self.pos = end;
                Ok(out)
            }
            Some(b'"') => self.quoted(),
            Some(b'#') => self.hex(),
            Some(b'|') => self.base64(),
            _ => Err(self.err("bad length prefix")),
        }
    }

    /// `"…"` with gcrypt's escapes.
    fn quoted(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        self.pos += 1; // the opening quote
        let mut out = Zeroizing::new(Vec::new());
        loop {
            let b = self.next().ok_or_else(|| self.err("unterminated string"))?;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = self.next().ok_or_else(|| self.err("unterminated string"))?;
                    match e {
                        b'b' => out.push(0x08),
                        b't' => out.push(b'\t'),
                        b'v' => out.push(0x0b),
                        b'n' => out.push(b'\n'),
                        b'f' => out.push(0x0c),
                        b'r' => out.push(b'\r'),
                        b'"' | b'\'' | b'\\' => out.push(e),
                        b'0'..=b'7' => out.push(self.octal(e)?),
                        b'x' => out.push(self.hex_escape()?),
                        // Line continuation: the backslash and the line break vanish.
                        b'\n' => {
                            if self.peek() == Some(b'\r') {
                                self.pos += 1;
                            }
                        }
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        _ => return Err(self.err("unknown escape in string")),
                    }
                }
                _ => out.push(b),
            }
        }
    }

    /// `\ooo`: exactly three octal digits, the first already read.
    fn octal(&mut self, first: u8) -> Result<u8, KeyFileError> {
        let mut v = u32::from(first - b'0');
        for _ in 0..2 {
            match self.next() {
                Some(d @ b'0'..=b'7') => v = v * 8 + u32::from(d - b'0'),
                _ => return Err(self.err("bad octal escape")),
            }
        }
        u8::try_from(v).map_err(|_| self.err("octal escape above 255"))
    }

    /// `\xHH`: exactly two hex digits.
    fn hex_escape(&mut self) -> Result<u8, KeyFileError> {
        let hi = self.next().and_then(hex_val);
        let lo = self.next().and_then(hex_val);
        match (hi, lo) {
            (Some(hi), Some(lo)) => Ok(hi << 4 | lo),
            _ => Err(self.err("bad hex escape")),
        }
    }

    /// `#…#`: hex digits, whitespace ignored, an even number of digits.
    fn hex(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        self.pos += 1; // the opening '#'
        let mut out = Zeroizing::new(Vec::new());
        let mut high: Option<u8> = None;
        loop {
            let b = self
                .next()
                .ok_or_else(|| self.err("unterminated hex string"))?;
            if b == b'#' {
                if high.is_some() {
                    return Err(self.err("odd number of hex digits"));
                }
                return Ok(out);
            }
            if is_space(b) {
                continue;
            }
            let v = hex_val(b).ok_or_else(|| self.err("bad hex digit"))?;
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
    }

    /// `|…|`: standard base64, padding optional, whitespace ignored.
    fn base64(&mut self) -> Result<Zeroizing<Vec<u8>>, KeyFileError> {
        self.pos += 1; // the opening '|'
        let mut text = Zeroizing::new(Vec::new());
        loop {
            let b = self
                .next()
                .ok_or_else(|| self.err("unterminated base64 string"))?;
            match b {
                b'|' => break,
                _ if is_space(b) => {}
                _ => text.push(b),
            }
        }
        // Room for the whole output up front, so no reallocation leaves a copy behind.
        let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3 + 3));
        base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
            .decode_vec(&*text, &mut out)
            .map_err(|_| self.err("bad base64"))?;
        Ok(out)
    }
}

/// Appends `s` as an atom gcrypt reads back unchanged: a bare token where gcrypt would print
/// one, else a quoted string with control characters escaped.
pub(crate) fn write_text_atom(out: &mut String, s: &str) {
    let token =
        s.as_bytes().first().is_some_and(|b| !b.is_ascii_digit()) && s.bytes().all(is_token_char);
    if token {
        out.push_str(s);
        return;
    }
    out.push('"');
    for ch in s.chars() {
        match ch {
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends an unsigned big-endian integer as `#…#` in uppercase hex, with a leading `00` when
/// the top bit is set (gcrypt's signed MPI form). Writes straight into `out`: no copy of a
/// secret value is left elsewhere.
pub(crate) fn write_mpi_atom(out: &mut String, be: &[u8]) {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    let v = be.get(start..).unwrap_or_default();
    out.push('#');
    if v.first().is_none_or(|&b| b & 0x80 != 0) {
        out.push_str("00");
    }
    for &b in v {
        // Writing into a String cannot fail.
        let _ = write!(out, "{b:02X}");
    }
    out.push('#');
}
