//! The IRC server as the adversary (SECURITY.md's "hostile IRC server" row): a scripted man
//! in the middle ([`crate::support::hostile::Hostile`]) between alice's otrbnc and ngircd
//! plays bob with its own valid OTR keys, replays, reorders, duplicates, drops and reflects
//! OTR lines, rewrites nicks, forges NICK changes and cuts the connection mid-handshake.
//! Every test asserts from the bytes alice's otrbnc sent and from what the attacker could
//! decrypt that no plaintext reached anyone but the key alice accepted, and that alice was
//! told what happened.

mod downgrade;
mod flood;
mod impersonation;
mod liveness;
mod tampering;
mod throttle;

use std::time::Duration;

use crate::support::auditor::Auditor;
use crate::support::client::Client;
use crate::support::hostile::Hostile;
use crate::support::ngircd::{Ngircd, NgircdOpts};
use crate::support::otrbnc::{BncConfig, OtrBnc};
use crate::support::scenario::{self, REGISTER_TIMEOUT};

/// The first message starts a session: allow for the whole first-contact handshake.
pub const FIRST: Duration = Duration::from_secs(60);
/// A message through an established session.
pub const NEXT: Duration = Duration::from_secs(20);

/// alice behind the hostile server, bob on the honest path, both opted in to each other.
pub struct Hostile2 {
    pub ngircd: Ngircd,
    /// The man in the middle in front of alice's otrbnc.
    pub evil: Hostile,
    /// What ngircd received from alice's side (after the tampering).
    pub aud_a: Auditor,
    pub aud_b: Auditor,
    pub a: OtrBnc,
    pub b: OtrBnc,
}

impl Hostile2 {
    /// `tweak_a` adjusts alice's config.
    pub async fn start(tweak_a: impl Fn(BncConfig) -> BncConfig) -> Hostile2 {
        let ngircd = Ngircd::start(NgircdOpts::no_penalties()).await;
        let aud_a =
            Auditor::start_labeled(ngircd.addr(), "auditor behind the hostile server").await;
        let evil = Hostile::start(aud_a.addr()).await;
        let ca = tweak_a(BncConfig::new("alice", evil.addr()).otr_nicks(&["bob"]));
        let a = OtrBnc::start(ca).await;
        aud_a.wait_registered(REGISTER_TIMEOUT).await;
        let (aud_b, b) = scenario::bouncer(
            &ngircd,
            BncConfig::new("bob", ngircd.addr()).otr_nicks(&["alice"]),
        )
        .await;
        Hostile2 {
            ngircd,
            evil,
            aud_a,
            aud_b,
            a,
            b,
        }
    }

    pub async fn attach(&self) -> (Client, Client) {
        (
            scenario::attach(&self.a).await,
            scenario::attach(&self.b).await,
        )
    }
}
