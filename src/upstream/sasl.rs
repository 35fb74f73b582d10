//! SASL for the upstream registration (IRCv3 `sasl` capability, `AUTHENTICATE`).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// AUTHENTICATE payloads are sent in chunks of this many base64 characters.
const CHUNK: usize = 400;

/// The `AUTHENTICATE` lines carrying a PLAIN response (`authzid \0 authcid \0 password`).
pub fn plain_lines(authcid: &str, password: &str) -> Vec<String> {
    let mut raw = Vec::with_capacity(authcid.len() * 2 + password.len() + 2);
    raw.extend_from_slice(authcid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(authcid.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    chunk_lines(&STANDARD.encode(raw))
}

/// The response for EXTERNAL: empty (`+`).
pub fn external_lines() -> Vec<String> {
    vec!["AUTHENTICATE +\r\n".to_string()]
}

fn chunk_lines(b64: &str) -> Vec<String> {
    let mut out: Vec<String> = b64
        .as_bytes()
        .chunks(CHUNK)
        .map(|c| format!("AUTHENTICATE {}\r\n", String::from_utf8_lossy(c)))
        .collect();
    // A payload that is an exact multiple of the chunk size ends with an empty `+`.
    if b64.is_empty() || b64.len().is_multiple_of(CHUNK) {
        out.push("AUTHENTICATE +\r\n".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_encoding() {
        let lines = plain_lines("alice", "pw");
        assert_eq!(
            lines,
            vec!["AUTHENTICATE YWxpY2UAYWxpY2UAcHc=\r\n".to_string()]
        );
    }

    #[test]
    fn long_payloads_are_chunked_with_a_terminator() {
        let b64 = "A".repeat(800);
        let lines = chunk_lines(&b64);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines.last().map(String::as_str), Some("AUTHENTICATE +\r\n"));
    }
}
