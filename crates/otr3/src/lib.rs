//! # otr3
//!
//! A sans-IO implementation of the Off-the-Record Messaging protocol version 3, as libotr 4.1
//! speaks it, and of version 2 (the same protocol without instance tags), for talking to the
//! OTR clients people already run: irssi-otr, pidgin-otr, BitlBee, znc-otr (libotr 4.x) and
//! python-potr based clients.
//!
//! Nothing here does IO: no clock, socket, file or randomness of its own. Time and an RNG are
//! passed in. OTRv3 is not post-quantum and its long-term keys are DSA-1024; otrbnc prefers
//! OTRv4+ whenever the peer has it (docs/PROTOCOL.md, SECURITY.md).
//!
//! The normative description is the OTRv3 specification shipped with libotr
//! (`Protocol-v3.html`); where libotr's behaviour differs from the text, libotr wins, because
//! libotr is what the peers run.

pub mod ake;
pub mod codec;
pub mod contact;
pub mod conversation;
pub mod crypto;
pub mod data_keys;
pub mod dh;
pub mod dsa;
pub mod fragment;
pub mod group;
pub mod keyfile;
pub mod limits;
pub mod message;
pub mod smp;
pub mod tlv;

#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
