//! CTCP framing (`\x01COMMAND args\x01`) and the `/me` convention inside OTR.

/// The prefix by which an encrypted message carries a CTCP ACTION (the interoperable
/// convention of irssi-otr, weechat otr.py and znc-otr).
pub const ME_PREFIX: &str = "/me ";

/// A CTCP message: command and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctcp<'a> {
    /// The command, e.g. `ACTION`, `VERSION`.
    pub command: &'a str,
    /// Everything after the first space.
    pub args: &'a str,
}

/// Parses a CTCP body; the closing `\x01` is optional, as clients differ.
pub fn parse(text: &str) -> Option<Ctcp<'_>> {
    let inner = text.strip_prefix('\u{1}')?;
    let inner = inner.strip_suffix('\u{1}').unwrap_or(inner);
    let (command, args) = inner.split_once(' ').unwrap_or((inner, ""));
    Some(Ctcp { command, args })
}

/// `\x01ACTION text\x01`.
pub fn action(text: &str) -> String {
    format!("\u{1}ACTION {text}\u{1}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse("\u{1}ACTION waves\u{1}"),
            Some(Ctcp {
                command: "ACTION",
                args: "waves"
            })
        );
        assert_eq!(
            parse("\u{1}VERSION"),
            Some(Ctcp {
                command: "VERSION",
                args: ""
            })
        );
        assert_eq!(parse("hi"), None);
        assert_eq!(action("x"), "\u{1}ACTION x\u{1}");
    }
}
