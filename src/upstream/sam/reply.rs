//! SAM reply lines: `TOPIC KIND KEY=VALUE …`, values optionally in double quotes (with `\`
//! escapes inside them, as SAM 3.2 allows).
//!
//! Parsing is pure, bounded and never panics: every reply comes from a local router we do not
//! fully trust to be well-behaved (it may be a different SAM implementation, or not SAM at all).

use zeroize::Zeroize;

/// Most bytes in one reply line. The longest real replies carry a private destination
/// (`SESSION STATUS … DESTINATION=`, about 900 base64 characters for Ed25519 + ElGamal keys)
/// or a public one (`NAMING REPLY … VALUE=`, 516 and more).
pub const MAX_REPLY_LEN: usize = 8192;

/// Most `KEY=VALUE` pairs in one reply.
pub const MAX_PAIRS: usize = 32;

/// Why a reply line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Longer than [`MAX_REPLY_LEN`].
    #[error("reply longer than {MAX_REPLY_LEN} bytes")]
    TooLong,
    /// Not UTF-8 text.
    #[error("reply is not text")]
    NotText,
    /// It does not start with two plain words (`TOPIC KIND`: printable ASCII, no `=`).
    #[error("reply has no topic and kind")]
    Short,
    /// A quoted value was not closed.
    #[error("unterminated quoted value")]
    Unterminated,
    /// More than [`MAX_PAIRS`] pairs.
    #[error("too many values in reply")]
    TooManyPairs,
}

/// One parsed reply. Values are wiped when the reply is dropped: a `SESSION STATUS` reply
/// carries the session's private keys.
pub struct Reply {
    topic: String,
    kind: String,
    pairs: Vec<(String, String)>,
}

impl Drop for Reply {
    fn drop(&mut self) {
        for (_, v) in &mut self.pairs {
            v.zeroize();
        }
    }
}

// By hand: keys only, never values (they may be private keys).
impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("topic", &self.topic)
            .field("kind", &self.kind)
            .field(
                "keys",
                &self
                    .pairs
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Reply {
    /// Parses one line, with or without its trailing `\n` / `\r\n`.
    pub fn parse(line: &[u8]) -> Result<Reply, ParseError> {
        if line.len() > MAX_REPLY_LEN {
            return Err(ParseError::TooLong);
        }
        let text = std::str::from_utf8(line).map_err(|_| ParseError::NotText)?;
        let text = text.trim_end_matches(['\n', '\r']);
        let mut words = tokenize(text)?.into_iter();
        let (Some(topic), Some(kind)) = (words.next(), words.next()) else {
            return Err(ParseError::Short);
        };
        // Quotes are for values: a quoted or odd first word is not SAM.
        let plain = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
        if !plain(&topic) || !plain(&kind) {
            return Err(ParseError::Short);
        }
        let mut pairs = Vec::new();
        for word in words {
            if pairs.len() == MAX_PAIRS {
                return Err(ParseError::TooManyPairs);
            }
            match word.split_once('=') {
                Some((k, v)) => pairs.push((k.to_string(), v.to_string())),
                None => pairs.push((word, String::new())),
            }
        }
        Ok(Reply { topic, kind, pairs })
    }

    /// Whether this is `topic kind …` (case-insensitive, as routers differ).
    pub fn is(&self, topic: &str, kind: &str) -> bool {
        self.topic.eq_ignore_ascii_case(topic) && self.kind.eq_ignore_ascii_case(kind)
    }

    /// `TOPIC KIND`, for error messages.
    pub fn head(&self) -> String {
        format!("{} {}", self.topic, self.kind)
    }

    /// The value of `key` (exact key, first occurrence).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `RESULT=`.
    pub fn result(&self) -> Option<&str> {
        self.get("RESULT")
    }

    /// `MESSAGE=`, the router's own explanation, if any.
    pub fn message(&self) -> Option<&str> {
        self.get("MESSAGE").filter(|m| !m.is_empty())
    }
}

/// Splits on spaces; `"` starts and ends a quoted run (in which spaces are kept) and `\`
/// escapes the next character inside one.
fn tokenize(text: &str) -> Result<Vec<String>, ParseError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => match chars.next() {
                Some(e) => cur.push(e),
                None => return Err(ParseError::Unterminated),
            },
            c if c.is_ascii_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                    if words.len() > MAX_PAIRS + 2 {
                        return Err(ParseError::TooManyPairs);
                    }
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(ParseError::Unterminated);
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_reply() {
        let r = Reply::parse(b"HELLO REPLY RESULT=OK VERSION=3.1\n").unwrap();
        assert!(r.is("HELLO", "REPLY"));
        assert_eq!(r.result(), Some("OK"));
        assert_eq!(r.get("VERSION"), Some("3.1"));
        assert_eq!(r.message(), None);
    }

    #[test]
    fn quoted_message_with_spaces_and_escapes() {
        let r = Reply::parse(
            b"STREAM STATUS RESULT=CANT_REACH_PEER MESSAGE=\"peer \\\"x\\\" not found\"\r\n",
        )
        .unwrap();
        assert!(r.is("stream", "status"));
        assert_eq!(r.result(), Some("CANT_REACH_PEER"));
        assert_eq!(r.message(), Some("peer \"x\" not found"));
    }

    #[test]
    fn key_without_value_and_value_with_equals() {
        let r = Reply::parse(b"NAMING REPLY RESULT=OK NAME=ME VALUE=ab=c= FLAG").unwrap();
        assert_eq!(r.get("VALUE"), Some("ab=c="));
        assert_eq!(r.get("FLAG"), Some(""));
        assert_eq!(r.get("NOPE"), None);
    }

    #[test]
    fn malformed_replies_are_errors() {
        assert_eq!(Reply::parse(b"").unwrap_err(), ParseError::Short);
        assert_eq!(Reply::parse(b"HELLO\n").unwrap_err(), ParseError::Short);
        // The topic and kind are plain words, never quoted or pairs.
        for bad in [
            &b"A \"B C\" RESULT=OK"[..],
            b"\"\" B",
            b"A RESULT=OK",
            b"A\0 B",
        ] {
            assert_eq!(Reply::parse(bad).unwrap_err(), ParseError::Short, "{bad:?}");
        }
        assert_eq!(
            Reply::parse(b"A B MESSAGE=\"open").unwrap_err(),
            ParseError::Unterminated
        );
        assert_eq!(
            Reply::parse(b"A B MESSAGE=\"x\\").unwrap_err(),
            ParseError::Unterminated
        );
        assert_eq!(Reply::parse(b"A B \xff").unwrap_err(), ParseError::NotText);
        let long = vec![b'a'; MAX_REPLY_LEN + 1];
        assert_eq!(Reply::parse(&long).unwrap_err(), ParseError::TooLong);
        let many = format!("A B {}", "K=V ".repeat(MAX_PAIRS + 1));
        assert_eq!(
            Reply::parse(many.as_bytes()).unwrap_err(),
            ParseError::TooManyPairs
        );
    }

    #[test]
    fn debug_never_shows_values() {
        let r = Reply::parse(b"SESSION STATUS RESULT=OK DESTINATION=secretkeymaterial").unwrap();
        let shown = format!("{r:?}");
        assert!(shown.contains("DESTINATION") && !shown.contains("secretkeymaterial"));
    }
}
