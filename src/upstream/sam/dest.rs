//! I2P destinations: their base64 (alphabet `A-Z a-z 0-9 - ~`), and the `.b32.i2p` address,
//! which is the base32 of the SHA-256 of the public destination.
//!
//! A public destination is a 256-byte encryption key field, a 128-byte signing key field and a
//! certificate (type: 1 byte, length: 2 bytes big-endian, then the payload). A private
//! destination (what `SESSION CREATE` returns) is the public one followed by private keys.

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::general_purpose::{GeneralPurpose, PAD_INDIFFERENT};
use sha2::{Digest, Sha256};

/// Bytes before the certificate payload.
const FIXED_LEN: usize = 256 + 128 + 3;
/// Shortest base64 of a public destination (387 bytes, null certificate).
pub const MIN_B64_LEN: usize = 516;
/// Longest base64 we accept for a destination (public or private), with room for key
/// certificates and post-quantum keys to come.
pub const MAX_B64_LEN: usize = 4096;

fn engine() -> Option<GeneralPurpose> {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-~").ok()?;
    Some(GeneralPurpose::new(&alphabet, PAD_INDIFFERENT))
}

/// Decodes I2P base64; `None` for anything else.
pub fn decode(b64: &str) -> Option<Vec<u8>> {
    if b64.len() > MAX_B64_LEN {
        return None;
    }
    engine()?.decode(b64).ok()
}

/// The length of the public destination at the start of `bytes`, if it is one.
pub fn public_len(bytes: &[u8]) -> Option<usize> {
    let hi = *bytes.get(FIXED_LEN - 2)?;
    let lo = *bytes.get(FIXED_LEN - 1)?;
    let len = FIXED_LEN + usize::from(u16::from_be_bytes([hi, lo]));
    (len <= bytes.len()).then_some(len)
}

/// Whether `s` is the base64 of exactly one public destination (what `STREAM CONNECT` takes).
pub fn is_public_destination(s: &str) -> bool {
    s.len() >= MIN_B64_LEN && decode(s).is_some_and(|bytes| public_len(&bytes) == Some(bytes.len()))
}

/// The `.b32.i2p` address of a public or private destination given in base64.
pub fn b32_address(b64: &str) -> Option<String> {
    let bytes = decode(b64)?;
    let public = bytes.get(..public_len(&bytes)?)?;
    let hash = Sha256::digest(public);
    let mut b32 = data_encoding::BASE32_NOPAD.encode(&hash);
    b32.make_ascii_lowercase();
    Some(format!("{b32}.b32.i2p"))
}

/// Whether `host` names an I2P service: `name.i2p`, `….b32.i2p`, or a base64 destination.
pub fn is_i2p_host(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let named = lower.len() > 4
        && lower.ends_with(".i2p")
        && lower
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !lower.contains("..")
        && !lower.starts_with('.');
    named || is_public_destination(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(bytes: &[u8]) -> String {
        engine().unwrap().encode(bytes)
    }

    /// A made-up public destination with a key certificate of `cert_len` bytes.
    fn destination(cert_len: u16) -> Vec<u8> {
        let mut d: Vec<u8> = (0..FIXED_LEN - 3).map(|i| (i % 251) as u8).collect();
        d.push(5); // key certificate
        d.extend_from_slice(&cert_len.to_be_bytes());
        d.extend(std::iter::repeat_n(7u8, usize::from(cert_len)));
        d
    }

    #[test]
    fn public_and_private_destinations() {
        // A key certificate for Ed25519 + ElGamal has a 4-byte payload: 391 bytes, which is
        // the 524 characters of i2pd's transient destinations.
        let public = destination(4);
        let b64 = encode(&public);
        assert_eq!(b64.len(), 524);
        assert!(is_public_destination(&b64));
        assert!(is_i2p_host(&b64));
        let mut private = public.clone();
        private.extend([9u8; 256 + 32]);
        let private_b64 = encode(&private);
        assert!(!is_public_destination(&private_b64));
        // The address is the same whether computed from the public or the private form.
        assert_eq!(b32_address(&b64), b32_address(&private_b64));
        let addr = b32_address(&b64).unwrap();
        assert_eq!(addr.len(), 52 + ".b32.i2p".len());
        assert!(addr.ends_with(".b32.i2p") && addr == addr.to_ascii_lowercase());
    }

    #[test]
    fn b32_is_sha256_base32() {
        let public = destination(0);
        let expected = data_encoding::BASE32_NOPAD
            .encode(&Sha256::digest(&public))
            .to_ascii_lowercase();
        assert_eq!(
            b32_address(&encode(&public)),
            Some(format!("{expected}.b32.i2p"))
        );
    }

    #[test]
    fn standard_base64_characters_are_refused() {
        let b64 = encode(&destination(7));
        assert!(b64.contains(['-', '~']) || !b64.contains(['+', '/']));
        let standard = b64.replace('-', "+").replace('~', "/");
        if standard != b64 {
            assert!(!is_public_destination(&standard));
        }
        assert!(decode("not base64!").is_none());
        assert!(b32_address("AAAA").is_none());
        // A certificate length pointing past the end.
        let mut short = destination(7);
        short.truncate(FIXED_LEN + 3);
        assert!(public_len(&short).is_none());
    }

    #[test]
    fn i2p_host_names() {
        assert!(is_i2p_host("irc.postman.i2p"));
        assert!(is_i2p_host(
            "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq.b32.i2p"
        ));
        assert!(is_i2p_host("IRC.Echelon.I2P"));
        for bad in [
            "i2p",
            ".i2p",
            "irc..i2p",
            "irc.example.org",
            "irc.i2p.example.org",
            "a b.i2p",
            "x.onion",
        ] {
            assert!(!is_i2p_host(bad), "{bad}");
        }
    }
}
