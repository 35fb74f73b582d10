//! SAM 3.1 commands, built only from checked words so that nothing from the configuration can
//! add a second command or an option of its own.

use zeroize::Zeroizing;

/// The version range we speak: i2pd 2.45 offers 3.0 and 3.1 only, and 3.2's PING or ports are
/// not needed for one stream per session.
pub const HELLO: &[u8] = b"HELLO VERSION MIN=3.0 MAX=3.1\n";

/// Ed25519 (`EdDSA_SHA512_Ed25519`), the recommended signature type.
pub const SIGNATURE_TYPE: &str = "7";

/// Options we set ourselves; the configuration may not.
pub const RESERVED_OPTIONS: [&str; 5] = ["STYLE", "ID", "DESTINATION", "SIGNATURE_TYPE", "SILENT"];

/// ECIES-X25519 with an ElGamal fallback, in LeaseSet2: the SAM spec's recommendation.
/// Configured options with the same key replace it.
pub const DEFAULT_OPTIONS: [(&str, &str); 1] = [("i2cp.leaseSetEncType", "4,0")];

/// Whether `word` can stand as a SAM option key or value: printable ASCII, no spaces, quotes,
/// backslashes or `=` (values may contain `=` and `,`).
pub fn is_word(word: &str, is_key: bool) -> bool {
    !word.is_empty()
        && word.len() <= 256
        && word
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && !(is_key && b == b'='))
}

/// A session's destination: a new one, or stored private keys (base64).
pub enum Destination<'a> {
    /// `DESTINATION=TRANSIENT`: the router makes new keys.
    Transient,
    /// Keys from an earlier `SESSION CREATE`.
    Keys(&'a str),
}

/// `SESSION CREATE STYLE=STREAM …`; `options` must have passed [`is_word`] (the config check
/// does that), anything else is left out. Zeroized: it may carry private keys.
pub fn session_create(
    id: &str,
    destination: &Destination<'_>,
    options: &[(String, String)],
) -> Zeroizing<String> {
    let dest = match destination {
        Destination::Transient => "TRANSIENT",
        Destination::Keys(k) => k,
    };
    let mut cmd = Zeroizing::new(format!(
        "SESSION CREATE STYLE=STREAM ID={id} DESTINATION={dest} SIGNATURE_TYPE={SIGNATURE_TYPE}"
    ));
    let configured = |k: &str| options.iter().any(|(ck, _)| ck == k);
    for (k, v) in DEFAULT_OPTIONS {
        if !configured(k) {
            cmd.push_str(&format!(" {k}={v}"));
        }
    }
    for (k, v) in options {
        if is_word(k, true) && is_word(v, false) && !RESERVED_OPTIONS.contains(&k.as_str()) {
            cmd.push_str(&format!(" {k}={v}"));
        }
    }
    cmd.push('\n');
    cmd
}

/// `NAMING LOOKUP NAME=…`.
pub fn naming_lookup(name: &str) -> String {
    format!("NAMING LOOKUP NAME={name}\n")
}

/// `STREAM CONNECT …`; `SILENT=false` so the router says whether the stream opened.
pub fn stream_connect(id: &str, destination: &str) -> String {
    format!("STREAM CONNECT ID={id} DESTINATION={destination} SILENT=false\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn session_create_has_our_fields_then_options() {
        let cmd = session_create(
            "otrbnc-x",
            &Destination::Transient,
            &opts(&[("inbound.length", "0")]),
        );
        assert_eq!(
            cmd.as_str(),
            "SESSION CREATE STYLE=STREAM ID=otrbnc-x DESTINATION=TRANSIENT SIGNATURE_TYPE=7 \
             i2cp.leaseSetEncType=4,0 inbound.length=0\n"
        );
    }

    #[test]
    fn configured_options_replace_defaults_and_cannot_inject() {
        let cmd = session_create(
            "s",
            &Destination::Keys("KEYS"),
            &opts(&[
                ("i2cp.leaseSetEncType", "0"),
                ("DESTINATION", "TRANSIENT"),
                ("a", "b\nSESSION"),
                ("c d", "e"),
                ("q", "\"x\""),
            ]),
        );
        assert_eq!(
            cmd.as_str(),
            "SESSION CREATE STYLE=STREAM ID=s DESTINATION=KEYS SIGNATURE_TYPE=7 \
             i2cp.leaseSetEncType=0\n"
        );
    }

    #[test]
    fn words() {
        assert!(is_word("inbound.length", true));
        assert!(is_word("4,0", false));
        assert!(is_word("a=b", false));
        assert!(!is_word("a=b", true));
        for bad in ["", "a b", "a\nb", "\"", "a\\b", "é"] {
            assert!(!is_word(bad, false), "{bad:?}");
        }
        assert!(!is_word(&"x".repeat(257), false));
    }

    #[test]
    fn other_commands() {
        assert_eq!(naming_lookup("a.i2p"), "NAMING LOOKUP NAME=a.i2p\n");
        assert_eq!(
            stream_connect("s", "DEST"),
            "STREAM CONNECT ID=s DESTINATION=DEST SILENT=false\n"
        );
        assert!(HELLO.ends_with(b"MAX=3.1\n"));
    }
}
