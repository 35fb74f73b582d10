//! Long-term keys and client profiles.
//!
//! A client profile (format 0x02) publishes an instance's long-term keys: the Ed448 identity
//! key H, the Ed448 forging key F, a long-term ML-KEM-1024 key (post-quantum authentication in
//! the DAKE) and the hash of an ML-DSA-87 key (DSA-HASH). It is signed with H (Ed448) only, so
//! first contact does not carry 7 KB of ML-DSA key and signature; the ML-DSA key and its
//! signature over the same profile body follow inside the session as an [`Attestation`]. The
//! fingerprint users compare covers H, F, the ML-KEM key and DSA-HASH, so all four keys.

mod attestation;
mod format_v1;

pub use attestation::{ATTESTATION_LEN, Attestation, AttestationError};
pub use format_v1::{MAX_V1_PROFILE_LEN, V1_PROFILE_LEN, V1Migration, migrate_v1};

use crate::crypto::CryptoError;
use crate::crypto::ed448::{self, POINT_LEN, PublicPoint, SEED_LEN, SIGNATURE_LEN, SigningSecret};
use crate::crypto::kdf::{Usage, hash};
use crate::crypto::mldsa::{self, DsaKeypair};
use crate::crypto::mlkem::{self, KemKeypair, KemPublic};
use crate::secret::{Secret, SecretVec};
use crate::wire::codec::{DecodeError, Reader, Writer};
use crate::wire::{MIN_INSTANCE_TAG, VERSION_CHAR};

/// Signature context of the profile's Ed448 signature and of the attestation's ML-DSA-87
/// signature (Ed448 ctx and FIPS 204 ctx).
pub const PROFILE_SIG_CONTEXT: &[u8] = b"OTRv4+ client profile";
/// Format byte of the profile encoding (0x01, which carried the ML-DSA key and signature, is
/// neither sent nor accepted).
pub const PROFILE_FORMAT: u8 = 0x02;
/// Length of DSA-HASH, the hash of the ML-DSA-87 public key a profile carries.
pub const DSA_HASH_LEN: usize = 32;
/// Default validity of a profile we sign (the otrv4 / OTRv4Plus choice of 14 days).
pub const DEFAULT_PROFILE_LIFETIME_SECS: i64 = 14 * 24 * 3600;
/// A profile whose expiry is further in the future than this is rejected.
pub const MAX_PROFILE_LIFETIME_SECS: i64 = 31 * 24 * 3600;
/// Encoded profile length (fixed for a single version character).
pub const PROFILE_LEN: usize =
    1 + 4 + 2 * POINT_LEN + mlkem::EK_LEN + DSA_HASH_LEN + 2 + 8 + SIGNATURE_LEN;
/// Largest profile encoding accepted.
pub const MAX_PROFILE_LEN: usize = PROFILE_LEN + 16;
/// Length of a fingerprint.
pub const FINGERPRINT_LEN: usize = 56;

/// Why a profile was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The encoding is malformed.
    #[error("malformed profile: {0}")]
    Decode(#[from] DecodeError),
    /// A key or signature failed.
    #[error("profile key or signature invalid: {0}")]
    Crypto(#[from] CryptoError),
    /// The profile has expired, or expires implausibly far in the future.
    #[error("profile expired or expiry out of range")]
    Expired,
    /// The profile does not offer OTRv4+.
    #[error("profile does not offer OTRv4+")]
    NoCommonVersion,
    /// The owner instance tag is invalid or differs from the message's sender tag.
    #[error("profile instance tag mismatch")]
    InstanceTag,
}

/// The fingerprint of a profile's long-term keys: `KDF(0x00, [H, F, ML-KEM ek, DSA-HASH], 56)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

impl Fingerprint {
    /// Upper-case hex in groups of eight, as users compare it.
    pub fn to_display(&self) -> String {
        let hex: String = self.0.iter().map(|b| format!("{b:02X}")).collect();
        hex.as_bytes()
            .chunks(8)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl core::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "Fingerprint({:02X}{:02X}{:02X}{:02X}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// An instance's long-term secret keys. Wiped on drop; no `Clone` or `Debug`.
pub struct LongTermKeys {
    identity: SigningSecret,
    forging: SigningSecret,
    kem: KemKeypair,
    dsa: DsaKeypair,
}

impl LongTermKeys {
    /// Generates all four key pairs.
    pub fn generate(rng: &mut impl rand_core::CryptoRng) -> Result<Self, CryptoError> {
        Ok(LongTermKeys {
            identity: SigningSecret::generate(rng),
            forging: SigningSecret::generate(rng),
            kem: KemKeypair::generate()?,
            dsa: DsaKeypair::generate()?,
        })
    }

    /// Serialises the keys for an encrypted key store.
    pub fn to_bytes(&self) -> SecretVec {
        let mut w = Writer::with_capacity(
            2 * SEED_LEN + mlkem::EK_LEN + mlkem::DK_LEN + mldsa::PK_LEN + mldsa::SK_LEN + 1,
        );
        w.u8(1);
        w.bytes(self.identity.seed().expose());
        w.bytes(self.forging.seed().expose());
        w.bytes(self.kem.public().as_bytes());
        w.bytes(self.kem.secret_bytes().expose());
        w.bytes(self.dsa.public().as_bytes());
        w.bytes(self.dsa.secret_bytes().expose());
        let v = w.into_vec();
        let s = SecretVec::from_slice(&v);
        let mut v = v;
        zeroize::Zeroize::zeroize(&mut v);
        s
    }

    /// Restores keys written by [`LongTermKeys::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProfileError> {
        let mut r = Reader::new(bytes);
        if r.u8("key format")? != 1 {
            return Err(DecodeError::InvalidValue("key format").into());
        }
        let h = Secret::<SEED_LEN>::from_slice(r.take(SEED_LEN, "identity seed")?)
            .ok_or(DecodeError::Truncated("identity seed"))?;
        let f = Secret::<SEED_LEN>::from_slice(r.take(SEED_LEN, "forging seed")?)
            .ok_or(DecodeError::Truncated("forging seed"))?;
        let kem_pk = r.take(mlkem::EK_LEN, "kem public")?;
        let kem_sk = r.take(mlkem::DK_LEN, "kem secret")?;
        let dsa_pk = r.take(mldsa::PK_LEN, "dsa public")?;
        let dsa_sk = r.take(mldsa::SK_LEN, "dsa secret")?;
        r.finish()?;
        Ok(LongTermKeys {
            identity: SigningSecret::from_seed(&h),
            forging: SigningSecret::from_seed(&f),
            kem: KemKeypair::from_parts(kem_pk, kem_sk)?,
            dsa: DsaKeypair::from_parts(dsa_pk, dsa_sk)?,
        })
    }

    /// The Ed448 identity key H.
    pub fn identity(&self) -> &SigningSecret {
        &self.identity
    }

    /// The long-term ML-KEM key pair.
    pub fn kem(&self) -> &KemKeypair {
        &self.kem
    }

    /// The public parts the fingerprint covers (for tests that build altered fingerprints).
    #[cfg(test)]
    pub(crate) fn public_parts(
        &self,
    ) -> (&PublicPoint, &PublicPoint, &KemPublic, [u8; DSA_HASH_LEN]) {
        (
            self.identity.public(),
            self.forging.public(),
            self.kem.public(),
            self.dsa_hash(),
        )
    }

    /// DSA-HASH of our ML-DSA-87 public key.
    pub fn dsa_hash(&self) -> [u8; DSA_HASH_LEN] {
        dsa_hash_of(self.dsa.public().as_bytes())
    }

    /// The fingerprint of these keys.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint_of(
            self.identity.public(),
            self.forging.public(),
            self.kem.public(),
            &self.dsa_hash(),
        )
    }
}

/// `DSA-HASH = KDF(0x16, [ML-DSA pk], 32)`.
pub(crate) fn dsa_hash_of(dsa_public: &[u8]) -> [u8; DSA_HASH_LEN] {
    hash(Usage::DsaKeyHash, &[dsa_public])
}

pub(crate) fn fingerprint_of(
    h: &PublicPoint,
    f: &PublicPoint,
    kem: &KemPublic,
    dsa_hash: &[u8; DSA_HASH_LEN],
) -> Fingerprint {
    Fingerprint(hash(
        Usage::Fingerprint,
        &[h.as_bytes(), f.as_bytes(), kem.as_bytes(), dsa_hash],
    ))
}

#[cfg(test)]
thread_local! {
    /// Profiles this thread verified (tests check that cheap checks come first).
    static VERIFICATIONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// How many profiles this thread has verified so far.
#[cfg(test)]
pub(crate) fn verifications() -> u64 {
    VERIFICATIONS.with(core::cell::Cell::get)
}

/// A parsed profile whose signatures and validity have NOT been checked.
pub struct UncheckedProfile<'a> {
    bytes: &'a [u8],
    body_len: usize,
    owner_tag: u32,
    h: [u8; POINT_LEN],
    f: [u8; POINT_LEN],
    kem: &'a [u8],
    dsa_hash: [u8; DSA_HASH_LEN],
    versions: &'a [u8],
    expiry: i64,
    ed_sig: [u8; SIGNATURE_LEN],
}

impl<'a> UncheckedProfile<'a> {
    /// Parses the encoding; nothing is verified yet.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        if bytes.len() > MAX_PROFILE_LEN {
            return Err(DecodeError::LengthOutOfRange("profile"));
        }
        let mut r = Reader::new(bytes);
        if r.u8("profile format")? != PROFILE_FORMAT {
            return Err(DecodeError::InvalidValue("profile format"));
        }
        let owner_tag = r.u32("owner tag")?;
        let h = r.array("identity key")?;
        let f = r.array("forging key")?;
        let kem = r.take(mlkem::EK_LEN, "kem key")?;
        let dsa_hash = r.array("dsa key hash")?;
        let versions = r.short_data("versions")?;
        let expiry = r.i64("expiry")?;
        let body_len = bytes.len() - r.remaining();
        let ed_sig = r.array("ed448 signature")?;
        r.finish()?;
        Ok(UncheckedProfile {
            bytes,
            body_len,
            owner_tag,
            h,
            f,
            kem,
            dsa_hash,
            versions,
            expiry,
            ed_sig,
        })
    }

    /// The owner instance tag the profile claims (unverified).
    pub fn owner_tag(&self) -> u32 {
        self.owner_tag
    }

    /// The fingerprint the profile claims, computed without verifying anything: enough to
    /// recognise our own profile reflected back before spending a verification on it.
    pub fn claimed_fingerprint(&self) -> Fingerprint {
        Fingerprint(hash(
            Usage::Fingerprint,
            &[&self.h, &self.f, self.kem, &self.dsa_hash],
        ))
    }

    /// Checks everything otrv4 §Validating a Client Profile asks: expiry against `now_unix`,
    /// that OTRv4+ is offered, every key, and the Ed448 signature. The ML-DSA-87 signature
    /// comes later, in an [`Attestation`].
    pub fn verify(self, now_unix: i64) -> Result<ClientProfile, ProfileError> {
        #[cfg(test)]
        VERIFICATIONS.with(|n| n.set(n.get() + 1));
        if self.owner_tag < MIN_INSTANCE_TAG {
            return Err(ProfileError::InstanceTag);
        }
        if self.expiry <= now_unix
            || self.expiry > now_unix.saturating_add(MAX_PROFILE_LIFETIME_SECS)
        {
            return Err(ProfileError::Expired);
        }
        if !self.versions.contains(&VERSION_CHAR) {
            return Err(ProfileError::NoCommonVersion);
        }
        let h = PublicPoint::from_bytes(&self.h)?;
        let f = PublicPoint::from_bytes(&self.f)?;
        let kem = KemPublic::from_bytes(self.kem)?;
        let body = self
            .bytes
            .get(..self.body_len)
            .ok_or(DecodeError::Truncated("profile"))?;
        ed448::verify(&h, PROFILE_SIG_CONTEXT, body, &self.ed_sig)?;
        let fingerprint = fingerprint_of(&h, &f, &kem, &self.dsa_hash);
        Ok(ClientProfile {
            hash: hash(Usage::ProfileHash, &[self.bytes]),
            bytes: self.bytes.to_vec(),
            owner_tag: self.owner_tag,
            h,
            f,
            kem,
            dsa_hash: self.dsa_hash,
            versions: self.versions.to_vec(),
            expiry: self.expiry,
            fingerprint,
        })
    }
}

/// A client profile whose signatures verified. Its expiry must still be checked when it is
/// used later ([`ClientProfile::is_valid_at`]).
#[derive(Clone)]
pub struct ClientProfile {
    bytes: Vec<u8>,
    hash: [u8; 32],
    owner_tag: u32,
    h: PublicPoint,
    f: PublicPoint,
    kem: KemPublic,
    dsa_hash: [u8; DSA_HASH_LEN],
    versions: Vec<u8>,
    expiry: i64,
    fingerprint: Fingerprint,
}

impl core::fmt::Debug for ClientProfile {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientProfile")
            .field("owner_tag", &self.owner_tag)
            .field("fingerprint", &self.fingerprint)
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

impl ClientProfile {
    /// Builds and signs our own profile.
    pub fn sign(
        keys: &LongTermKeys,
        owner_tag: u32,
        expiry_unix: i64,
    ) -> Result<Self, CryptoError> {
        let versions = [VERSION_CHAR];
        let dsa_hash = keys.dsa_hash();
        let mut w = Writer::with_capacity(PROFILE_LEN);
        w.u8(PROFILE_FORMAT)
            .u32(owner_tag)
            .bytes(keys.identity.public().as_bytes())
            .bytes(keys.forging.public().as_bytes())
            .bytes(keys.kem.public().as_bytes())
            .bytes(&dsa_hash)
            .short_data(&versions)
            .i64(expiry_unix);
        let ed_sig = keys.identity.sign(PROFILE_SIG_CONTEXT, w.as_slice())?;
        w.bytes(&ed_sig);
        let bytes = w.into_vec();
        Ok(ClientProfile {
            hash: hash(Usage::ProfileHash, &[&bytes]),
            bytes,
            owner_tag,
            h: *keys.identity.public(),
            f: *keys.forging.public(),
            kem: keys.kem.public().clone(),
            dsa_hash,
            versions: versions.to_vec(),
            expiry: expiry_unix,
            fingerprint: keys.fingerprint(),
        })
    }

    /// Parses and verifies in one step.
    pub fn decode_and_verify(bytes: &[u8], now_unix: i64) -> Result<Self, ProfileError> {
        UncheckedProfile::parse(bytes)?.verify(now_unix)
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The hash that identifies this profile in a peer's cache.
    pub fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// The owner instance tag.
    pub fn owner_tag(&self) -> u32 {
        self.owner_tag
    }

    /// The Ed448 identity key H.
    pub fn identity_key(&self) -> &PublicPoint {
        &self.h
    }

    /// The Ed448 forging key F.
    pub fn forging_key(&self) -> &PublicPoint {
        &self.f
    }

    /// The long-term ML-KEM-1024 key.
    pub fn kem_key(&self) -> &KemPublic {
        &self.kem
    }

    /// DSA-HASH: the hash of the ML-DSA-87 key an [`Attestation`] must carry.
    pub fn dsa_hash(&self) -> &[u8; DSA_HASH_LEN] {
        &self.dsa_hash
    }

    /// The signed body (every byte before the Ed448 signature): what the Ed448 signature and
    /// an attestation's ML-DSA-87 signature sign.
    pub fn body(&self) -> &[u8] {
        let len = self.bytes.len().saturating_sub(SIGNATURE_LEN);
        self.bytes.get(..len).unwrap_or_default()
    }

    /// Offered version characters.
    pub fn versions(&self) -> &[u8] {
        &self.versions
    }

    /// Expiry, Unix seconds.
    pub fn expiry(&self) -> i64 {
        self.expiry
    }

    /// The fingerprint over all long-term keys (the ML-DSA key through DSA-HASH).
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// True while the profile has not expired.
    pub fn is_valid_at(&self, now_unix: i64) -> bool {
        self.expiry > now_unix
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_rng;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn sign_and_verify_round_trip() {
        let mut rng = test_rng(7);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + DEFAULT_PROFILE_LIFETIME_SECS).unwrap();
        assert_eq!(p.as_bytes().len(), PROFILE_LEN);
        let q = ClientProfile::decode_and_verify(p.as_bytes(), NOW).unwrap();
        assert_eq!(q.fingerprint(), &keys.fingerprint());
        assert_eq!(q.hash(), p.hash());
        assert_eq!(q.owner_tag(), 0x1234);
    }

    #[test]
    fn rejects_expired_and_tampered() {
        let mut rng = test_rng(8);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + 100).unwrap();
        assert_eq!(
            ClientProfile::decode_and_verify(p.as_bytes(), NOW + 100).unwrap_err(),
            ProfileError::Expired
        );
        let far = ClientProfile::sign(&keys, 0x1234, NOW + MAX_PROFILE_LIFETIME_SECS + 1).unwrap();
        assert_eq!(
            ClientProfile::decode_and_verify(far.as_bytes(), NOW).unwrap_err(),
            ProfileError::Expired
        );
        // Flip a bit in every field region: the tag, H, F, the KEM key, DSA-HASH, the versions,
        // expiry, the signature.
        let dsa_at = 1 + 4 + 2 * POINT_LEN + mlkem::EK_LEN;
        for idx in [
            2,
            10,
            100,
            200,
            1000,
            dsa_at + 3,
            dsa_at + 33,
            dsa_at + 40,
            1800,
        ] {
            let mut bad = p.as_bytes().to_vec();
            bad[idx] ^= 0x01;
            assert!(
                ClientProfile::decode_and_verify(&bad, NOW).is_err(),
                "index {idx}"
            );
        }
    }

    #[test]
    fn the_ed448_signature_is_required_and_covers_dsa_hash() {
        let mut rng = test_rng(9);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + 100).unwrap();
        assert_eq!(p.body().len(), PROFILE_LEN - SIGNATURE_LEN);
        assert_eq!(p.dsa_hash(), &keys.dsa_hash());
        let mut bad = p.as_bytes().to_vec();
        bad[PROFILE_LEN - 7] ^= 1;
        assert_eq!(
            ClientProfile::decode_and_verify(&bad, NOW).unwrap_err(),
            ProfileError::Crypto(CryptoError::BadSignature)
        );
        // Another ML-DSA key in place of ours: the signature no longer verifies.
        let other = LongTermKeys::generate(&mut rng).unwrap();
        let dsa_at = 1 + 4 + 2 * POINT_LEN + mlkem::EK_LEN;
        let mut bad = p.as_bytes().to_vec();
        bad[dsa_at..dsa_at + DSA_HASH_LEN].copy_from_slice(&other.dsa_hash());
        assert_eq!(
            ClientProfile::decode_and_verify(&bad, NOW).unwrap_err(),
            ProfileError::Crypto(CryptoError::BadSignature)
        );
    }

    #[test]
    fn format_0x01_is_refused_and_the_size_is_fixed() {
        let mut rng = test_rng(12);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + 100).unwrap();
        assert_eq!(PROFILE_LEN, 1843);
        let mut old = p.as_bytes().to_vec();
        old[0] = 0x01;
        assert_eq!(
            UncheckedProfile::parse(&old).err(),
            Some(DecodeError::InvalidValue("profile format"))
        );
        let v1 = format_v1::sign_for_tests(&keys, 0x1234, NOW + 100);
        assert_eq!(v1.len(), V1_PROFILE_LEN);
        assert!(ClientProfile::decode_and_verify(&v1, NOW).is_err());
    }

    #[test]
    fn keys_survive_serialisation() {
        let mut rng = test_rng(10);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let restored = LongTermKeys::from_bytes(keys.to_bytes().expose()).unwrap();
        assert_eq!(restored.fingerprint(), keys.fingerprint());
    }

    #[test]
    fn claimed_fingerprint_is_the_fingerprint() {
        let mut rng = test_rng(11);
        let keys = LongTermKeys::generate(&mut rng).unwrap();
        let p = ClientProfile::sign(&keys, 0x1234, NOW + 100).unwrap();
        let unchecked = UncheckedProfile::parse(p.as_bytes()).unwrap();
        assert_eq!(unchecked.claimed_fingerprint(), keys.fingerprint());
        assert_eq!(unchecked.owner_tag(), 0x1234);
    }

    #[test]
    fn fingerprint_display_groups() {
        let f = Fingerprint([0xab; FINGERPRINT_LEN]);
        let s = f.to_display();
        assert_eq!(s.split(' ').count(), 14);
        assert!(s.starts_with("ABABABAB "));
    }
}
