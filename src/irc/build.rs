//! Building lines for clients and the server from text that may come from a peer: nothing
//! here can produce more than one IRC line per call, whatever the input.
//!
//! The words are scrubbed here (no space, CR, LF or NUL; no leading `:`), then serialised by
//! the ecosystem's `irc-proto` (`Message` with `Command::Raw`), which decides where the
//! trailing parameter's `:` goes. Lines otrbnc forwards, or rewrites because of a
//! capability ([`super::shape`]), stay bytes: a server may send anything that is not UTF-8,
//! and `irc-proto` parses and prints only `String`s.

use bytes::Bytes;

/// Longest text put into one PRIVMSG we build for a client (bytes), leaving room for any
/// `:nick!user@host PRIVMSG target :` prefix inside 512 bytes.
pub const CLIENT_TEXT_MAX: usize = 400;

/// Splits untrusted text into displayable pieces: on CR and LF (never forwarded raw), with
/// NUL removed and empty pieces dropped, each piece at most `max` bytes, cut on UTF-8
/// boundaries.
pub fn sanitize_lines(text: &str, max: usize) -> Vec<String> {
    let max = max.max(4);
    let mut out = Vec::new();
    for piece in text.split(['\r', '\n']) {
        let piece: String = piece.chars().filter(|&c| c != '\0').collect();
        for chunk in split_utf8(&piece, max) {
            if !chunk.is_empty() {
                out.push(chunk.to_string());
            }
        }
    }
    out
}

/// Cuts `s` into pieces of at most `max` bytes without splitting a character.
pub fn split_utf8(s: &str, max: usize) -> Vec<&str> {
    let max = max.max(4);
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out.push(rest);
    out
}

/// `:source COMMAND target :text\r\n`. Text must already be sanitized (see
/// [`sanitize_lines`]); CR, LF and NUL are replaced here as a last line of defence.
///
/// Built by hand rather than by `irc-proto`: the text always follows a `:`, as every IRC
/// client sends it. `irc-proto` leaves the `:` out before a one-word text, and a line carrying
/// an OTR fragment (one word) would then look unlike any client's line to the server.
pub fn message(source: Option<&str>, command: &str, target: &str, text: &str) -> Bytes {
    let mut line = String::with_capacity(text.len() + 64);
    if let Some(src) = source {
        line.push(':');
        line.push_str(&scrub_word(src));
        line.push(' ');
    }
    line.push_str(command);
    line.push(' ');
    line.push_str(&scrub_word(target));
    line.push_str(" :");
    line.extend(text.chars().map(|c| match c {
        '\r' | '\n' | '\0' => ' ',
        c => c,
    }));
    line.push_str("\r\n");
    Bytes::from(line)
}

/// A command line from words (`JOIN #a key`, `NICK bob`, `NAMES #a`): each word scrubbed,
/// then serialised by `irc-proto` (`Message` with `Command::Raw`).
pub fn command(source: Option<&str>, parts: &[&str]) -> Bytes {
    let Some((cmd, args)) = parts.split_first() else {
        return Bytes::from_static(b"\r\n");
    };
    let message = irc_proto::Message {
        tags: None,
        prefix: source.map(|s| irc_proto::Prefix::new_from_str(&scrub_word(s))),
        command: irc_proto::Command::Raw(
            scrub_word(cmd),
            args.iter().map(|p| scrub_word(p)).collect(),
        ),
    };
    Bytes::from(message.to_string())
}

fn scrub_word(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| match c {
            ' ' | '\r' | '\n' | '\0' => '_',
            c => c,
        })
        .collect();
    match w.strip_prefix(':') {
        Some(r) => format!("_{r}"),
        None => w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injection_becomes_separate_text_lines() {
        let pieces = sanitize_lines("hello\r\nQUIT :x\n\0\rPRIVMSG #a :b", CLIENT_TEXT_MAX);
        assert_eq!(pieces, vec!["hello", "QUIT :x", "PRIVMSG #a :b"]);
        for p in &pieces {
            let line = message(Some("bob!u@h"), "PRIVMSG", "alice", p);
            let s = std::str::from_utf8(&line).unwrap();
            assert_eq!(s.matches("\r\n").count(), 1);
            assert!(s.ends_with("\r\n"));
            assert!(s.starts_with(":bob!u@h PRIVMSG alice :"));
        }
    }

    #[test]
    fn splits_on_char_boundaries() {
        let s = "é".repeat(300); // 600 bytes
        let parts = split_utf8(&s, 401);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= 401));
        assert_eq!(parts.concat(), s);
        let emoji = "🌍".repeat(5);
        assert!(split_utf8(&emoji, 5).iter().all(|p| p.chars().count() == 1));
    }

    #[test]
    fn message_cannot_inject_even_unsanitized() {
        let line = message(Some("a b\r\n"), "PRIVMSG", ":x\ny", "t\r\nQUIT");
        assert_eq!(&line[..], b":a_b__ PRIVMSG _x_y :t  QUIT\r\n");
    }

    #[test]
    fn text_always_follows_a_colon_and_commands_are_words() {
        assert_eq!(
            &message(None, "PRIVMSG", "bob", "hi")[..],
            b"PRIVMSG bob :hi\r\n"
        );
        assert_eq!(
            &message(None, "PRIVMSG", "bob", "")[..],
            b"PRIVMSG bob :\r\n"
        );
        assert_eq!(
            &message(None, "PRIVMSG", "bob", ":)")[..],
            b"PRIVMSG bob ::)\r\n"
        );
        assert_eq!(
            &command(Some("srv"), &["JOIN", "#a,#b", "k"])[..],
            b":srv JOIN #a,#b k\r\n"
        );
        assert_eq!(&command(None, &["NICK", "bob"])[..], b"NICK bob\r\n");
        // Whatever goes in, the output parses back to the same words.
        for text in ["a b", ":x", "", "é ü", "\u{1}ACTION waves\u{1}"] {
            let line = message(Some("n!u@h"), "NOTICE", "#c", text);
            let parsed = super::super::Line::parse(&line).unwrap();
            assert_eq!(parsed.param(1), Some(text.as_bytes()), "{text:?}");
        }
    }
}
