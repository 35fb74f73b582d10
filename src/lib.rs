//! otrbnc: a transparent IRC bouncer that runs private messages to opted-in nicks through
//! OTRv4+ (crates/otr-core). This library is the async shell: config, listener, clients,
//! upstream connections and the per-network task; `main.rs` is the command line.

pub mod bouncer;
pub mod cli;
pub mod config;
pub mod downstream;
pub mod health;
pub mod identity;
pub mod import;
pub mod irc;
pub mod local_state;
pub mod network;
pub mod password;
pub mod store;
pub mod upstream;
