//! The OTRv4+ key derivation function.
//!
//! `KDF(usage, parts, n) = SHAKE-256("OTRv4+" || BYTE usage || for each part: INT len || part, n)`
//!
//! Unlike otrv4's `KDF(usage || values)`, every input is length-prefixed so that no two
//! different input lists absorb the same bytes. The domain string differs from otrv4's
//! "OTRv4" so no OTRv4+ derivation can collide with a stock OTRv4 one.

use shake::{ExtendableOutput, Shake256, Update, XofReader};
use zeroize::Zeroize;

use crate::secret::Secret;

/// Domain-separation prefix of every derivation.
pub const DOMAIN: &[u8] = b"OTRv4+";

/// Usage IDs: one per derivation, so no two derivations can produce related outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Usage {
    /// Fingerprint of a client profile's long-term keys.
    Fingerprint = 0x00,
    /// Hash identifying a client profile (cache key).
    ProfileHash = 0x01,
    /// Hash of the whole DAKE transcript.
    DakeTranscript = 0x02,
    /// Message signed by the responder's ring signature (Auth-R).
    AuthRMessage = 0x03,
    /// Message signed by the initiator's ring signature (Auth-I).
    AuthIMessage = 0x04,
    /// The mixed DAKE shared secret K.
    SharedSecret = 0x05,
    /// Session identifier shown to users and bound by SMP.
    Ssid = 0x06,
    /// Initiator's key confirmation in Auth-I.
    AuthIConfirm = 0x07,
    /// Resumption pre-shared key carried to the next DAKE with the same peer.
    ResumptionPsk = 0x08,
    /// Identifier of a resumption PSK.
    ResumptionPskId = 0x09,
    /// First root key of the double ratchet.
    RootInit = 0x0A,
    /// Root-key step of the double ratchet.
    RootStep = 0x0B,
    /// Next chain key.
    ChainNext = 0x0D,
    /// Message key and nonce.
    MessageKey = 0x0E,
    /// Extra symmetric key.
    ExtraSymmetricKey = 0x0F,
    /// Ring-signature challenge (hashed to a scalar).
    RingChallenge = 0x10,
    /// The exponent SMP compares (user secret bound to fingerprints and session).
    SmpSecret = 0x12,
    /// SMP zero-knowledge proof challenges.
    SmpChallenge = 0x15,
    /// Binding of a ratchet KEM encapsulation key and ciphertext.
    KemBinding = 0x13,
    /// Hash of an Identity message, used to resolve glare.
    IdentityHash = 0x14,
    /// Hash of a profile's ML-DSA-87 public key (the profile carries it instead of the key).
    DsaKeyHash = 0x16,
    /// Resumption PSK renewed from the root key after a session's first ML-KEM mix.
    RenewedPsk = 0x17,
    /// Identifier of a renewed resumption PSK.
    RenewedPskId = 0x18,
}

/// Absorbs the parts and returns the XOF reader.
fn absorb(usage: Usage, parts: &[&[u8]]) -> impl XofReader {
    let mut h = Shake256::default();
    h.update(DOMAIN);
    h.update(&[usage as u8]);
    for p in parts {
        // Parts are bounded by MAX_MESSAGE_BYTES, far below u32::MAX.
        let len = u32::try_from(p.len()).unwrap_or(u32::MAX);
        h.update(&len.to_be_bytes());
        h.update(p);
    }
    h.finalize_xof()
}

/// Derives `out.len()` bytes.
pub fn kdf_into(usage: Usage, parts: &[&[u8]], out: &mut [u8]) {
    absorb(usage, parts).read(out);
}

/// Derives a public value of `N` bytes (hashes, identifiers).
pub fn hash<const N: usize>(usage: Usage, parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    kdf_into(usage, parts, &mut out);
    out
}

/// Derives a secret of `N` bytes.
pub fn derive<const N: usize>(usage: Usage, parts: &[&[u8]]) -> Secret<N> {
    let mut out = [0u8; N];
    kdf_into(usage, parts, &mut out);
    let s = Secret::from_array(&mut out);
    out.zeroize();
    s
}

/// Raw SHAKE-256, for known-answer tests against the standard.
pub fn shake256(input: &[u8], out: &mut [u8]) {
    let mut h = Shake256::default();
    h.update(input);
    h.finalize_xof().read(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_length_prefixed() {
        let a: [u8; 32] = hash(Usage::ProfileHash, &[b"ab", b"c"]);
        let b: [u8; 32] = hash(Usage::ProfileHash, &[b"a", b"bc"]);
        assert_ne!(a, b);
    }

    #[test]
    fn usage_separates() {
        let a: [u8; 32] = hash(Usage::ProfileHash, &[b"x"]);
        let b: [u8; 32] = hash(Usage::Fingerprint, &[b"x"]);
        assert_ne!(a, b);
    }

    #[test]
    fn layout_is_as_documented() {
        // KDF(0x01, ["abc"], 32) = SHAKE-256("OTRv4+" 01 00000003 "abc", 32)
        let mut raw = Vec::new();
        raw.extend_from_slice(b"OTRv4+");
        raw.push(0x01);
        raw.extend_from_slice(&[0, 0, 0, 3]);
        raw.extend_from_slice(b"abc");
        let mut expect = [0u8; 32];
        shake256(&raw, &mut expect);
        assert_eq!(hash::<32>(Usage::ProfileHash, &[b"abc"]), expect);
    }
}
