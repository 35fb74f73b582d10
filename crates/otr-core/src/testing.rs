//! Test support shared by unit tests, integration tests, fuzz targets and benchmarks:
//! a seeded RNG and helpers that run a real DAKE between two in-memory parties.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::dake::{self, DakeOutput, Local};
use crate::profile::{ClientProfile, DEFAULT_PROFILE_LIFETIME_SECS, LongTermKeys};
use crate::ratchet::Ratchet;
use crate::wire::dake::ProfileRef;

/// A fixed "now" for tests (2027-01-15).
pub const TEST_NOW_UNIX: i64 = 1_800_000_000;

/// A deterministic CSPRNG (ChaCha) from a 64-bit seed.
pub fn test_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A party with long-term keys and a signed profile.
pub struct TestParty {
    /// Long-term keys.
    pub keys: LongTermKeys,
    /// Signed profile.
    pub profile: ClientProfile,
    /// Instance tag.
    pub tag: u32,
}

impl TestParty {
    /// Generates a party.
    pub fn new(rng: &mut StdRng, tag: u32) -> Self {
        let keys = LongTermKeys::generate(rng).unwrap_or_else(|_| unreachable_keys());
        let profile =
            ClientProfile::sign(&keys, tag, TEST_NOW_UNIX + DEFAULT_PROFILE_LIFETIME_SECS)
                .unwrap_or_else(|_| unreachable_keys());
        TestParty { keys, profile, tag }
    }

    /// The DAKE view of this party.
    pub fn local(&self) -> Local<'_> {
        Local {
            keys: &self.keys,
            profile: &self.profile,
            tag: self.tag,
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_keys() -> ! {
    panic!("key generation failed in a test helper")
}

#[allow(clippy::panic)]
fn resolve(r: &ProfileRef, cached: &ClientProfile) -> ClientProfile {
    match r {
        ProfileRef::Full(b) => ClientProfile::decode_and_verify(b, TEST_NOW_UNIX)
            .unwrap_or_else(|e| panic!("profile: {e}")),
        ProfileRef::Hash(_) => cached.clone(),
    }
}

/// Runs a full-mode DAKE (a initiates) and returns both outputs.
#[allow(clippy::panic)]
pub fn run_dake(rng: &mut StdRng, a: &TestParty, b: &TestParty) -> (DakeOutput, DakeOutput) {
    let (wait_r, identity) = dake::start(rng, &a.local(), b"P", None, false, None)
        .unwrap_or_else(|e| panic!("start: {e}"));
    let a_profile = resolve(&identity.profile, &a.profile);
    let (wait_i, auth_r) = dake::respond(rng, &b.local(), &identity, a_profile, b"P", None)
        .unwrap_or_else(|e| panic!("respond: {e}"));
    let b_profile = resolve(&auth_r.profile, &b.profile);
    let (out_a, auth_i) = wait_r
        .on_auth_r(rng, &a.local(), &auth_r, b_profile)
        .unwrap_or_else(|e| panic!("auth-r: {e}"));
    let out_b = wait_i
        .on_auth_i(&b.local(), &auth_i)
        .unwrap_or_else(|e| panic!("auth-i: {e}"));
    (out_a, out_b)
}

/// Two ratchets from a fresh DAKE: (initiator, responder).
#[allow(clippy::panic)]
pub fn ratchet_pair(seed: u64, kem_every: u32) -> (Ratchet, Ratchet) {
    let mut rng = test_rng(seed);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    let (out_a, out_b) = run_dake(&mut rng, &a, &b);
    let ra = Ratchet::new(&mut rng, out_a, a.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    let rb = Ratchet::new(&mut rng, out_b, b.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    (ra, rb)
}
