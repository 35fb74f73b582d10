//! End-to-end tests: real ngircd, real otrbnc processes, scripted clients and wire auditors.
//!
//! Every test starts its own ngircd (and bouncers) on free ports, so tests run in parallel.
//! Without ngircd installed the tests print "skipped" and pass, unless `OTRBNC_REQUIRE_E2E=1`
//! (CI) makes that a failure; the irssi tests also need tmux and irssi (and irssi-plugin-otr
//! for irssi_otr), under the same rule.
//! Scenarios whose length comes from real-time pacing run here in a short variant and at full
//! length as benchmarks (`cargo bench --bench otr_e2e`); see docs/TESTING.md.

// Test code: a failed expectation is a panic with a message. clippy.toml allows these inside
// #[test] functions only, and the harness in support/ is ordinary code to clippy.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

#[path = "../libotr_support/mod.rs"]
mod libotr_support;
#[path = "../common/pki.rs"]
mod pki;
mod support;

mod away;
mod bouncer;
mod casemapping;
mod chain;
mod chathistory;
mod control;
mod docker;
mod fair_queue;
mod flood;
mod harness_selftest;
mod hostile;
mod i2p;
mod import;
mod injection;
mod ircv3;
mod irssi;
mod irssi_otr;
mod login;
mod named_clients;
mod offline_clients;
mod otr_conversation;
mod passthrough;
mod pcap_selftest;
mod persistence;
mod playback;
mod potr;
mod queue_full;
mod registration;
mod restart_kill;
mod servers;
mod smp;
mod start_early;
mod tls;
mod tor;
mod versions;
