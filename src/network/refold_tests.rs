//! Opt-ins under a change of case mapping: every spelling stays opted in, and the server's
//! mapping decides which spellings are one nick.

use super::otr::OtrState;
use super::state::IrcState;
use crate::config;
use crate::identity::Identity;
use crate::irc::CaseMapping;
use crate::store::TrustStore;

fn otr(nicks: &[&str], trust: TrustStore) -> OtrState {
    let identity = Identity::generate().unwrap();
    let nicks: Vec<String> = nicks.iter().map(|n| n.to_string()).collect();
    OtrState::new(
        &identity,
        &config::Otr::default(),
        &nicks,
        config::FirstContact::Trust,
        trust,
    )
    .unwrap()
}

fn irc(casemap: CaseMapping) -> IrcState {
    let mut irc = IrcState::new("alice");
    irc.casemap = casemap;
    irc
}

#[test]
fn restored_opt_ins_follow_the_servers_mapping() {
    let mut trust = TrustStore::memory();
    trust.set_opted("böb", "BÖB", true).unwrap();
    let mut o = otr(&["Bob[x]"], trust);
    // Before the server says anything: the coarsest fold.
    let i = irc(CaseMapping::default());
    assert!(o.is_opted(&i, "BOB{X}") && o.is_opted(&i, "ＢＯＢ［ｘ］"));
    assert!(o.is_opted(&i, "bo\u{308}b"));
    // Ergo: PRECIS.
    let i = irc(CaseMapping::Rfc8265);
    o.refold(&i);
    assert!(o.is_opted(&i, "ＢＯＢ[x]") && o.is_opted(&i, "bob[X]"));
    assert!(!o.is_opted(&i, "bob{x}"), "another nick under PRECIS");
    assert!(o.is_opted(&i, "bo\u{308}b") && o.is_opted(&i, "ＢÖＢ"));
    assert!(!o.is_opted(&i, "bob"));
}

#[test]
fn no_opt_in_is_lost_by_a_refold() {
    let mut o = otr(&[], TrustStore::memory());
    let rfc = irc(CaseMapping::Rfc1459);
    o.refold(&rfc);
    assert!(o.enable(&rfc, "bob{x}"));
    assert!(!o.enable(&rfc, "BOB[X]"), "one nick under rfc1459");
    assert_eq!(o.opted_nicks().len(), 1);
    // Under ascii they are two nicks, and both were typed: both stay opted in.
    let ascii = irc(CaseMapping::Ascii);
    o.refold(&ascii);
    assert!(o.is_opted(&ascii, "BOB{X}") && o.is_opted(&ascii, "bob[x]"));
    assert_eq!(o.opted_nicks().len(), 2);
    // And merge again.
    o.refold(&rfc);
    assert_eq!(o.opted_nicks().len(), 1);
    assert!(o.is_opted(&rfc, "Bob[X]"));
}

#[test]
fn a_stored_key_counts_as_a_spelling() {
    // `enable bob{x}`, then `enable BOB[X]` under rfc1459: the store kept the key and the last
    // spelling only.
    let mut trust = TrustStore::memory();
    trust.set_opted("bob{x}", "bob{x}", true).unwrap();
    trust.set_opted("bob{x}", "BOB[X]", true).unwrap();
    let mut o = otr(&[], trust);
    let ascii = irc(CaseMapping::Ascii);
    o.refold(&ascii);
    assert!(o.is_opted(&ascii, "bob{x}") && o.is_opted(&ascii, "bob[x]"));
}

#[test]
fn disable_takes_every_spelling_that_folds_to_the_nick() {
    let mut o = otr(&["bob[x]", "bob{x}"], TrustStore::memory());
    let rfc = irc(CaseMapping::Rfc1459);
    o.refold(&rfc);
    assert!(o.disable(&rfc, "BOB[X]"));
    let ascii = irc(CaseMapping::Ascii);
    o.refold(&ascii);
    assert!(!o.is_opted(&ascii, "bob[x]") && !o.is_opted(&ascii, "bob{x}"));
    assert!(o.opted_nicks().is_empty());
}

#[test]
fn a_mapping_not_yet_refolded_is_still_followed() {
    let o = otr(&["bob"], TrustStore::memory());
    let i = irc(CaseMapping::Rfc8265);
    assert!(o.is_opted(&i, "ＢＯＢ"));
    assert!(o.is_opted_key(&i, "bob"));
    assert!(!o.is_opted(&i, "carol"));
}
