//! # otr-core
//!
//! A sans-IO implementation of OTRv4+, the post-quantum hybrid variant of OTRv4 that otrbnc
//! speaks. This crate does no IO: it never reads a clock, opens a socket or file, or draws
//! randomness on its own — except that the ML-KEM and ML-DSA implementations (pqcrypto) take
//! their randomness from the operating system internally. Time and an RNG are passed in;
//! outputs are polled.
//!
//! The normative description of the protocol is `docs/PROTOCOL.md` in the repository.

pub mod crypto;
pub mod dake;
pub mod fragment;
#[cfg(any(fuzzing, feature = "test-utils"))]
pub mod fuzzing;
pub mod limits;
pub mod profile;
pub mod ratchet;
pub mod secret;
pub mod session;
pub mod smp;
pub mod wire;

#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
