//! The shell's view of attestations: a contact whose fingerprint the user trusts shows as
//! verified only once its profile is attested, and the attestation survives a restart
//! through the trust store.

use otr_core::session::{Account, Transmit};

use super::otr::{OtrState, restore_peers};
use crate::config;
use crate::identity::Identity;
use crate::store::TrustStore;

fn otr(identity: &Identity) -> OtrState {
    OtrState::new(
        identity,
        &config::Otr::default(),
        &[],
        config::FirstContact::Trust,
        TrustStore::memory(),
    )
    .unwrap()
}

/// Lines from `from` to `to` (`from` is `them` for `to`), bulk ones dropped unless `bulk`.
fn relay(from: &mut Account, to: &mut Account, them: &str, bulk: bool) -> usize {
    let lines: Vec<Transmit> = std::iter::from_fn(|| from.poll_transmit()).collect();
    let n = lines.len();
    for t in lines.into_iter().filter(|t| bulk || !t.bulk) {
        to.handle_incoming(super::now_ms(), &mut rand::rng(), them, &t.line);
    }
    n
}

fn pump(a: &mut OtrState, b: &mut OtrState, bulk: bool) {
    while relay(&mut a.account, &mut b.account, "alice", bulk)
        + relay(&mut b.account, &mut a.account, "bob", bulk)
        > 0
    {}
}

#[test]
fn a_trusted_contact_is_verified_only_once_attested_and_stays_so_after_a_restart() {
    let (ia, ib) = (Identity::generate().unwrap(), Identity::generate().unwrap());
    let (mut a, mut b) = (otr(&ia), otr(&ib));
    a.account.set_auto_respond("bob", true);
    b.account.set_auto_respond("alice", true);
    a.account.start(super::now_ms(), &mut rand::rng(), "bob");
    pump(&mut a, &mut b, false);
    let fp = a.account.session_info("bob").fingerprint.unwrap();
    assert_eq!(a.level_of("bob"), "unverified (OTRv4+)");
    a.trust.observe("bob", "bob", &fp.0, 1);
    a.trust.set_trusted("bob", &fp.0, true);
    assert!(a.is_trusted("bob", &fp) && !a.is_verified("bob", &fp));
    assert_eq!(
        a.level_of("bob"),
        "unverified (OTRv4+; fingerprint verified, post-quantum signature (ML-DSA) still to come)"
    );
    // The attestations arrive with the next handshake (bulk lines delivered this time).
    a.account.start(super::now_ms(), &mut rand::rng(), "bob");
    pump(&mut a, &mut b, true);
    assert!(a.is_verified("bob", &fp));
    assert_eq!(a.level_of("bob"), "private (OTRv4+)");

    // Stored with the profile, restored into a new account: still verified, before any
    // session too (the fingerprint line of `status` uses the cached profile).
    a.store_peer_profile("bob");
    assert!(a.trust.attestation("bob").is_some());
    let mut account = ia
        .account(super::otr::policy(&config::Otr::default()), super::now_ms())
        .unwrap();
    assert!(!account.is_attested("bob"));
    restore_peers(&mut account, &a.trust);
    assert!(account.is_attested("bob"));
    a.account = account;
    assert!(a.is_verified("bob", &fp));
    // An attestation that does not verify for the stored profile is not restored.
    let mut trust = TrustStore::memory();
    trust.observe("bob", "bob", &fp.0, 1);
    trust.set_profile("bob", a.account.peer_profile("bob").unwrap().as_bytes());
    let mut forged = a.trust.attestation("bob").unwrap();
    let last = forged.len() - 1;
    forged[last - 3] ^= 1;
    trust.set_attestation("bob", &forged);
    let mut account = ia
        .account(super::otr::policy(&config::Otr::default()), super::now_ms())
        .unwrap();
    restore_peers(&mut account, &trust);
    assert!(!account.is_attested("bob"));
}
