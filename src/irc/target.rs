//! Message targets as the server reads them. A private message reaches a nick under more
//! names than the nick itself (RFC 2812 §3.3.1 and what servers accept): `nick@server`,
//! `nick%host`, `nick%host@server`, `nick!user@host`, and a status prefix in front (`@nick`,
//! meant for STATUSMSG before a channel). The opt-in check must see through all of them, or
//! text typed to an opted-in nick leaves in clear under another spelling.

/// Status prefixes a server may accept in front of a target (PREFIX symbols; STATUSMSG).
/// `&` and `!` are left out: they also begin channel names.
const STATUS_PREFIXES: &[char] = &['~', '@', '%', '+'];

/// The nick `target` addresses if it is a nick: status prefixes dropped, then everything from
/// the first `!`, `@` or `%` on. A channel target comes back as the channel (callers check
/// for channels themselves).
pub fn addressed_nick(target: &str) -> &str {
    let rest = target.trim_start_matches(STATUS_PREFIXES);
    match rest.find(['!', '@', '%']) {
        Some(i) => rest.get(..i).unwrap_or(rest),
        None => rest,
    }
}

/// `CHANTYPES` as a server declares it, kept only if it is made of the symbols channel types
/// are: a server that declared letters (`CHANTYPES=abc…`) would otherwise make nicks look
/// like channels. `None` for a value to ignore.
pub fn sane_chantypes(value: &str) -> Option<String> {
    let ok = value.len() <= 8
        && value
            .chars()
            .all(|c| c.is_ascii_punctuation() && !STATUS_PREFIXES.contains(&c) && c != ',');
    ok.then(|| value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_nick_is_the_nick() {
        for t in [
            "bob",
            "bob@irc.example.org",
            "bob%localhost",
            "bob%localhost@irc.example.org",
            "bob!bob@localhost",
            "@bob",
            "+bob",
            "~@%+bob@server",
        ] {
            assert_eq!(addressed_nick(t), "bob", "{t}");
        }
        assert_eq!(addressed_nick("#chan"), "#chan");
        assert_eq!(addressed_nick("@#chan"), "#chan");
        assert_eq!(addressed_nick("&local"), "&local");
        assert_eq!(addressed_nick(""), "");
        assert_eq!(addressed_nick("@"), "");
    }

    #[test]
    fn chantypes_must_be_channel_symbols() {
        assert_eq!(sane_chantypes("#&").as_deref(), Some("#&"));
        assert_eq!(sane_chantypes("#").as_deref(), Some("#"));
        assert_eq!(sane_chantypes("").as_deref(), Some(""));
        assert_eq!(sane_chantypes("#b"), None);
        assert_eq!(sane_chantypes("abcdefghijklmnopqrstuvwxyz"), None);
        assert_eq!(sane_chantypes("#@"), None);
        assert_eq!(sane_chantypes("#,"), None);
        assert_eq!(sane_chantypes("#\u{e9}"), None);
    }
}
