//! The `?OTR:<base64>.` envelope that carries binary OTR messages over a text channel, and
//! OTR error messages (`?OTR Error: ...`).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::{MessageType, PROTOCOL_VERSION};

/// Longest envelope text `decode` looks at; checked before any decoding so a peer cannot make
/// us allocate for a message we would reject anyway.
pub const MAX_ENCODED_BYTES: usize = crate::limits::MAX_ENCODED_BYTES;

/// Longest error message text we keep from a peer (it is shown to the user, nothing more).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 400;

/// Longest error code recognised by `parse_error`; real codes are like `ERROR_1`.
pub const MAX_ERROR_CODE_BYTES: usize = 32;

/// Marks the start of an encoded binary message.
pub const ENCODED_PREFIX: &str = "?OTR:";

/// Ends an encoded message; it cannot occur in base64, so it is unambiguous.
pub const ENCODED_TERMINATOR: char = '.';

/// Starts an OTR error message (at position 0 only).
pub const ERROR_PREFIX: &str = "?OTR Error: ";

/// Why an envelope could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    /// The text exceeds [`MAX_ENCODED_BYTES`].
    #[error("encoded message is {len} bytes, limit is {max}")]
    TooLong {
        /// Length of the rejected text in bytes.
        len: usize,
        /// The limit it exceeded.
        max: usize,
    },
    /// The text does not start with `?OTR:`.
    #[error("missing \"?OTR:\" prefix")]
    MissingPrefix,
    /// No `.` terminates the base64 payload.
    #[error("missing \".\" terminator")]
    MissingTerminator,
    /// Something other than whitespace follows the terminator.
    #[error("unexpected data after the \".\" terminator")]
    TrailingData,
    /// The payload is not strict, padded, standard base64.
    #[error("invalid base64 payload: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// Wraps a binary OTR message in its text envelope.
///
/// Never fails: the size limit is enforced by the receiver, and the sender is us.
pub fn encode(bin: &[u8]) -> String {
    let mut out = String::with_capacity(
        base64::encoded_len(bin.len(), true)
            .unwrap_or(0)
            .saturating_add(ENCODED_PREFIX.len())
            .saturating_add(1),
    );
    out.push_str(ENCODED_PREFIX);
    STANDARD.encode_string(bin, &mut out);
    out.push(ENCODED_TERMINATOR);
    out
}

/// Unwraps an envelope back into the binary OTR message.
///
/// Trailing ASCII whitespace after the terminator is tolerated because IRC clients and
/// servers are known to append or preserve it; anything else there is rejected.
pub fn decode(text: &str) -> Result<Vec<u8>, EnvelopeError> {
    if text.len() > MAX_ENCODED_BYTES {
        return Err(EnvelopeError::TooLong {
            len: text.len(),
            max: MAX_ENCODED_BYTES,
        });
    }
    let rest = text
        .strip_prefix(ENCODED_PREFIX)
        .ok_or(EnvelopeError::MissingPrefix)?;
    let (payload, after) = rest
        .split_once(ENCODED_TERMINATOR)
        .ok_or(EnvelopeError::MissingTerminator)?;
    if !after.bytes().all(|b| b.is_ascii_whitespace()) {
        return Err(EnvelopeError::TrailingData);
    }
    Ok(STANDARD.decode(payload)?)
}

/// Whether `text` is meant to be an encoded OTR message.
///
/// Only the prefix is checked, on purpose: a damaged `?OTR:` message must still be routed to
/// the OTR layer (and fail there) rather than be shown to the user as plaintext.
pub fn is_encoded(text: &str) -> bool {
    text.starts_with(ENCODED_PREFIX)
}

/// Whether `text` starts an encoded OTRv4+ message of type `msg_type`: the first four
/// base64 characters after `?OTR:` decode to exactly the version and the type. Nothing else
/// is decoded, so the first piece of a fragmented message tells what it will be.
pub fn announces(text: &str, msg_type: MessageType) -> bool {
    let Some(quad) = text.strip_prefix(ENCODED_PREFIX).and_then(|r| r.get(..4)) else {
        return false;
    };
    let mut out = [0u8; 3];
    let [hi, lo] = PROTOCOL_VERSION.to_be_bytes();
    matches!(STANDARD.decode_slice(quad, &mut out), Ok(3)) && out == [hi, lo, msg_type as u8]
}

/// Builds an OTR error message such as `?OTR Error: ERROR_1: Unreadable message`.
///
/// An empty `code` is left out. CR, LF and NUL are replaced by spaces because the result is
/// sent as one IRC line and must not be able to smuggle in another command. The message is
/// truncated to [`MAX_ERROR_MESSAGE_BYTES`] so both ends agree on the bound.
pub fn format_error(code: &str, message: &str) -> String {
    let message = truncate_on_char_boundary(message, MAX_ERROR_MESSAGE_BYTES);
    let mut out = String::with_capacity(
        ERROR_PREFIX
            .len()
            .saturating_add(code.len())
            .saturating_add(2)
            .saturating_add(message.len()),
    );
    out.push_str(ERROR_PREFIX);
    if !code.is_empty() {
        push_sanitized(&mut out, code);
        out.push_str(": ");
    }
    push_sanitized(&mut out, message);
    out
}

/// Parses an OTR error message into its optional code and its human-readable text.
///
/// Returns `None` unless `text` starts with `?OTR Error:` (the space after the colon is
/// optional, as in libotr). The code is recognised only in the `ERROR_1:` style: an
/// uppercase letter, then uppercase letters, digits or `_`, then `:`. The message is cut to
/// [`MAX_ERROR_MESSAGE_BYTES`] so a peer cannot make us hold an arbitrarily long string.
pub fn parse_error(text: &str) -> Option<(Option<String>, String)> {
    let rest = text.strip_prefix(ERROR_PREFIX.trim_end())?;
    let rest = rest.trim_start_matches(' ');
    let (code, message) = match split_code(rest) {
        Some((code, after)) => (Some(code.to_owned()), after.trim_start_matches(' ')),
        None => (None, rest),
    };
    let message = truncate_on_char_boundary(message, MAX_ERROR_MESSAGE_BYTES).to_owned();
    Some((code, message))
}

/// Splits `ERROR_1: text` into `("ERROR_1", " text")` if `rest` starts with a code.
fn split_code(rest: &str) -> Option<(&str, &str)> {
    let bytes = rest.as_bytes();
    if !bytes.first()?.is_ascii_uppercase() {
        return None;
    }
    let len = bytes
        .iter()
        .take(MAX_ERROR_CODE_BYTES.saturating_add(1))
        .position(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))?;
    if bytes.get(len) != Some(&b':') {
        return None;
    }
    let code = rest.get(..len)?;
    let after = rest.get(len.saturating_add(1)..)?;
    Some((code, after))
}

/// Returns the longest prefix of `s` that is at most `max` bytes and ends on a char boundary.
fn truncate_on_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end = end.saturating_sub(1);
    }
    s.get(..end).unwrap_or("")
}

fn push_sanitized(out: &mut String, s: &str) {
    out.extend(s.chars().map(|c| match c {
        '\r' | '\n' | '\0' => ' ',
        other => other,
    }));
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn encode_known_vectors() {
        assert_eq!(encode(b""), "?OTR:.");
        assert_eq!(encode(b"f"), "?OTR:Zg==.");
        assert_eq!(encode(b"foobar"), "?OTR:Zm9vYmFy.");
        assert_eq!(encode(&[0, 4, 2]), "?OTR:AAQC.");
    }

    #[test]
    fn announces_reads_version_and_type_only() {
        let identity = [0x00, 0x50, 0x35, 0xff, 0xee];
        let text = encode(&identity);
        assert!(text.starts_with("?OTR:AFA1"));
        assert!(announces(&text, MessageType::Identity));
        // The first piece of a fragmented message is enough.
        assert!(announces(&text[..9], MessageType::Identity));
        assert!(!announces(&text, MessageType::AuthR));
        assert!(!announces(
            &encode(&[0x00, 0x04, 0x35]),
            MessageType::Identity
        ));
        for short in [
            "",
            "?OTR:",
            "?OTR:AFA",
            "?OTR:AF==",
            "AFA1",
            "?OTR:AF\u{e9}1",
        ] {
            assert!(!announces(short, MessageType::Identity), "{short}");
        }
    }

    #[test]
    fn decode_round_trips() {
        for msg in [&b""[..], b"f", b"fo", b"foo", &[0xff; 300]] {
            assert_eq!(decode(&encode(msg)).unwrap(), msg);
        }
    }

    #[test]
    fn decode_tolerates_trailing_ascii_whitespace_only() {
        assert_eq!(decode("?OTR:Zm9v.  \t\r\n").unwrap(), b"foo");
        assert_eq!(decode("?OTR:Zm9v.x"), Err(EnvelopeError::TrailingData));
        assert_eq!(decode("?OTR:Zm9v. x"), Err(EnvelopeError::TrailingData));
        assert_eq!(decode("?OTR:Zm9v.."), Err(EnvelopeError::TrailingData));
        // Non-ASCII whitespace is not tolerated.
        assert_eq!(decode("?OTR:Zm9v.\u{a0}"), Err(EnvelopeError::TrailingData));
    }

    #[test]
    fn decode_requires_prefix_and_terminator() {
        assert_eq!(decode("Zm9v."), Err(EnvelopeError::MissingPrefix));
        assert_eq!(decode(" ?OTR:Zm9v."), Err(EnvelopeError::MissingPrefix));
        assert_eq!(decode("?OTR|Zm9v."), Err(EnvelopeError::MissingPrefix));
        assert_eq!(decode("?OTR:Zm9v"), Err(EnvelopeError::MissingTerminator));
        assert_eq!(decode("?OTR:Zm9v  "), Err(EnvelopeError::MissingTerminator));
        assert_eq!(decode(""), Err(EnvelopeError::MissingPrefix));
    }

    #[test]
    fn decode_is_strict_base64() {
        // Missing padding.
        assert!(matches!(decode("?OTR:Zg."), Err(EnvelopeError::Base64(_))));
        // Non-zero trailing bits.
        assert!(matches!(
            decode("?OTR:Zh==."),
            Err(EnvelopeError::Base64(_))
        ));
        // URL-safe alphabet.
        assert!(matches!(
            decode("?OTR:-_-_."),
            Err(EnvelopeError::Base64(_))
        ));
        // Embedded whitespace.
        assert!(matches!(
            decode("?OTR:Zm9v Zm9v."),
            Err(EnvelopeError::Base64(_))
        ));
        // Whitespace before the terminator.
        assert!(matches!(
            decode("?OTR:Zm9v ."),
            Err(EnvelopeError::Base64(_))
        ));
    }

    #[test]
    fn decode_rejects_oversize_before_decoding() {
        // Invalid base64 of oversize length must report the size, proving the order of checks.
        let text = format!("?OTR:{}.", "!".repeat(MAX_ENCODED_BYTES));
        assert_eq!(
            decode(&text),
            Err(EnvelopeError::TooLong {
                len: text.len(),
                max: MAX_ENCODED_BYTES
            })
        );
        // Exactly at the limit is fine.
        let payload_len = (MAX_ENCODED_BYTES - ENCODED_PREFIX.len() - 1) / 4 * 4;
        let text = format!("?OTR:{}.", "A".repeat(payload_len));
        assert!(text.len() <= MAX_ENCODED_BYTES);
        assert_eq!(decode(&text).unwrap().len(), payload_len / 4 * 3);
    }

    #[test]
    fn is_encoded_checks_prefix() {
        assert!(is_encoded("?OTR:AAAA."));
        assert!(is_encoded("?OTR:garbage"));
        assert!(!is_encoded("?OTR|1|2|3,1,1,x,"));
        assert!(!is_encoded("hi ?OTR:AAAA."));
        assert!(!is_encoded(""));
    }

    #[test]
    fn format_error_layout() {
        assert_eq!(
            format_error("ERROR_1", "Unreadable message"),
            "?OTR Error: ERROR_1: Unreadable message"
        );
        assert_eq!(format_error("", "oops"), "?OTR Error: oops");
    }

    #[test]
    fn format_error_cannot_inject_irc_lines() {
        let s = format_error("ERROR_1\r\n", "a\r\nPRIVMSG #x :pwned\0");
        assert!(!s.contains(['\r', '\n', '\0']));
    }

    #[test]
    fn format_error_truncates_message() {
        let s = format_error("ERROR_2", &"é".repeat(1000));
        let (_, msg) = parse_error(&s).unwrap();
        assert!(msg.len() <= MAX_ERROR_MESSAGE_BYTES);
    }

    #[test]
    fn parse_error_round_trips() {
        let s = format_error("ERROR_2", "Not in private state message");
        assert_eq!(
            parse_error(&s),
            Some((
                Some("ERROR_2".to_owned()),
                "Not in private state message".to_owned()
            ))
        );
    }

    #[test]
    fn parse_error_variants() {
        assert_eq!(
            parse_error("?OTR Error: something broke"),
            Some((None, "something broke".to_owned()))
        );
        assert_eq!(
            parse_error("?OTR Error:ERROR_1:x"),
            Some((Some("ERROR_1".to_owned()), "x".to_owned()))
        );
        assert_eq!(parse_error("?OTR Error:"), Some((None, String::new())));
        assert_eq!(
            parse_error("?OTR Error: Note: lowercase is not a code"),
            Some((None, "Note: lowercase is not a code".to_owned()))
        );
        assert_eq!(parse_error("hi ?OTR Error: x"), None);
        assert_eq!(parse_error("?OTR Err"), None);
        assert_eq!(parse_error(""), None);
        // A "code" longer than the limit is treated as message text.
        let long = format!("?OTR Error: {}: m", "A".repeat(MAX_ERROR_CODE_BYTES + 1));
        assert_eq!(parse_error(&long).unwrap().0, None);
        let max = format!("?OTR Error: {}: m", "A".repeat(MAX_ERROR_CODE_BYTES));
        assert_eq!(
            parse_error(&max).unwrap().0.as_deref(),
            Some("A".repeat(MAX_ERROR_CODE_BYTES).as_str())
        );
    }

    #[test]
    fn parse_error_truncates_on_char_boundary() {
        // 3-byte chars: 400 is not a multiple of 3, so a naive cut would split a char.
        let text = format!("?OTR Error: ERROR_1: {}", "€".repeat(500));
        let (code, msg) = parse_error(&text).unwrap();
        assert_eq!(code.as_deref(), Some("ERROR_1"));
        assert_eq!(msg.len(), 399);
        assert!(msg.chars().all(|c| c == '€'));
    }

    proptest! {
        #[test]
        fn round_trip_random(bin in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert_eq!(decode(&encode(&bin)).unwrap(), bin);
        }

        #[test]
        fn garbage_never_panics(s in "(\\?OTR:|\\?OTR Error:)?\\PC{0,200}") {
            let _ = decode(&s);
            let _ = is_encoded(&s);
            if let Some((code, msg)) = parse_error(&s) {
                prop_assert!(msg.len() <= MAX_ERROR_MESSAGE_BYTES);
                prop_assert!(code.map_or(0, |c| c.len()) <= MAX_ERROR_CODE_BYTES);
            }
        }

        #[test]
        fn format_parse_error_round_trip(code in "[A-Z][A-Z0-9_]{0,31}", msg in "[^\r\n\0 ][^\r\n\0]{0,98}") {
            let (c, m) = parse_error(&format_error(&code, &msg)).unwrap();
            prop_assert_eq!(c, Some(code));
            prop_assert_eq!(m, msg);
        }
    }
}
