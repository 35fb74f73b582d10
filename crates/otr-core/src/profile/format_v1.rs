//! Profiles of format 0x01 (before 0x02): read only to carry a stored peer's trust over to its
//! new fingerprint. They are never sent and never accepted from the network.
//!
//! ```text
//! 0x01 | owner tag | H | F | KEM_LT | DSA-PK | SDATA versions | LONG expiry | ED-SIG | DSA-SIG
//! fingerprint (0x01) = KDF(0x00, [H, F, KEM_LT, DSA-PK], 56)
//! ```

use super::{Fingerprint, PROFILE_SIG_CONTEXT, dsa_hash_of, fingerprint_of};
use crate::crypto::ed448::{self, POINT_LEN, PublicPoint, SIGNATURE_LEN};
use crate::crypto::kdf::{Usage, hash};
use crate::crypto::mldsa::{self, DsaPublic};
use crate::crypto::mlkem::{self, KemPublic};
use crate::wire::codec::Reader;

/// Length of a format-0x01 profile with one version character.
pub const V1_PROFILE_LEN: usize =
    1 + 4 + 2 * POINT_LEN + mlkem::EK_LEN + mldsa::PK_LEN + 2 + 8 + SIGNATURE_LEN + mldsa::SIG_LEN;
/// Largest format-0x01 encoding read (as the old code bounded it).
pub const MAX_V1_PROFILE_LEN: usize = V1_PROFILE_LEN + 16;

/// The fingerprints of one set of long-term keys under both formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Migration {
    /// The fingerprint a format-0x01 profile had (over the ML-DSA key itself).
    pub old: Fingerprint,
    /// The fingerprint the same keys have now (over DSA-HASH).
    pub new: Fingerprint,
}

/// Reads a stored format-0x01 profile and, if both of its signatures verify (its expiry is
/// not checked: it may have been stored long ago), returns its old and new fingerprints.
/// `None` for anything else, a format-0x02 profile included.
pub fn migrate_v1(bytes: &[u8]) -> Option<V1Migration> {
    if bytes.len() > MAX_V1_PROFILE_LEN {
        return None;
    }
    let mut r = Reader::new(bytes);
    if r.u8("profile format").ok()? != 0x01 {
        return None;
    }
    r.u32("owner tag").ok()?;
    let h: [u8; POINT_LEN] = r.array("identity key").ok()?;
    let f: [u8; POINT_LEN] = r.array("forging key").ok()?;
    let kem = r.take(mlkem::EK_LEN, "kem key").ok()?;
    let dsa = r.take(mldsa::PK_LEN, "dsa key").ok()?;
    r.short_data("versions").ok()?;
    r.i64("expiry").ok()?;
    let body_len = bytes.len() - r.remaining();
    let ed_sig: [u8; SIGNATURE_LEN] = r.array("ed448 signature").ok()?;
    let dsa_sig = r.take(mldsa::SIG_LEN, "ml-dsa signature").ok()?;
    r.finish().ok()?;
    let body = bytes.get(..body_len)?;
    let h = PublicPoint::from_bytes(&h).ok()?;
    let f = PublicPoint::from_bytes(&f).ok()?;
    let kem = KemPublic::from_bytes(kem).ok()?;
    ed448::verify(&h, PROFILE_SIG_CONTEXT, body, &ed_sig).ok()?;
    DsaPublic::from_bytes(dsa)
        .ok()?
        .verify(PROFILE_SIG_CONTEXT, body, dsa_sig)
        .ok()?;
    let old = Fingerprint(hash(
        Usage::Fingerprint,
        &[h.as_bytes(), f.as_bytes(), kem.as_bytes(), dsa],
    ));
    let new = fingerprint_of(&h, &f, &kem, &dsa_hash_of(dsa));
    Some(V1Migration { old, new })
}

/// A format-0x01 profile of `keys`, as the code before format 0x02 signed it (tests only).
#[cfg(test)]
pub(crate) fn sign_for_tests(keys: &super::LongTermKeys, owner_tag: u32, expiry: i64) -> Vec<u8> {
    use crate::wire::codec::Writer;
    let mut w = Writer::with_capacity(V1_PROFILE_LEN);
    w.u8(0x01)
        .u32(owner_tag)
        .bytes(keys.identity.public().as_bytes())
        .bytes(keys.forging.public().as_bytes())
        .bytes(keys.kem.public().as_bytes())
        .bytes(keys.dsa.public().as_bytes())
        .short_data(&[crate::wire::VERSION_CHAR])
        .i64(expiry);
    let ed = keys.identity.sign(PROFILE_SIG_CONTEXT, w.as_slice());
    let dsa = keys.dsa.sign(PROFILE_SIG_CONTEXT, w.as_slice());
    match (ed, dsa) {
        (Ok(ed), Ok(dsa)) => {
            w.bytes(&ed).bytes(&dsa);
        }
        _ => return Vec::new(),
    }
    w.into_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{ClientProfile, LongTermKeys};

    const FIXTURE: &[u8] = include_bytes!("../../tests/data/profile_v1.bin");
    const FIXTURE_KEYS: &[u8] = include_bytes!("../../tests/data/profile_v1_keys.bin");
    const FIXTURE_FP: &str = include_str!("../../tests/data/profile_v1_fingerprint.hex");

    #[test]
    fn a_profile_signed_by_the_old_code_migrates_to_the_new_fingerprint() {
        // Written by the code before format 0x02 (its profile and fingerprint, unchanged).
        let keys = LongTermKeys::from_bytes(FIXTURE_KEYS).unwrap();
        let m = migrate_v1(FIXTURE).unwrap();
        let old: String = m.old.0.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(old, FIXTURE_FP.trim());
        assert_eq!(m.new, keys.fingerprint());
        assert_ne!(m.old, m.new);
        // The current code's profile of the same keys has the new fingerprint.
        let p = ClientProfile::sign(&keys, 0x1234, 1_800_000_100).unwrap();
        assert_eq!(p.fingerprint(), &m.new);
    }

    #[test]
    fn only_genuine_v1_profiles_migrate() {
        let mut bad = FIXTURE.to_vec();
        bad[200] ^= 1; // the KEM key: both signatures fail
        assert_eq!(migrate_v1(&bad), None);
        let mut bad = FIXTURE.to_vec();
        let last = bad.len() - 1;
        bad[last - 50] ^= 1; // the ML-DSA signature alone
        assert_eq!(migrate_v1(&bad), None);
        assert_eq!(migrate_v1(&FIXTURE[..FIXTURE.len() - 1]), None);
        let mut rng = crate::testing::test_rng(30);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let v2 = ClientProfile::sign(&keys, 0x1234, 1_800_000_100).unwrap();
        assert_eq!(migrate_v1(v2.as_bytes()), None);
        let v1 = sign_for_tests(&keys, 0x1234, 1);
        assert_eq!(migrate_v1(&v1).map(|m| m.new), Some(keys.fingerprint()));
    }
}
