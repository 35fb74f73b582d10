//! Every bound the v3 core enforces, in one place. Each caps memory or work that a network
//! peer could otherwise drive without bound.

/// Largest decoded binary OTRv3 message accepted. A Reveal Signature message with a
/// DSA-1024 key is about 650 bytes and SMP message 2 about 2.2 KB; data messages carry up
/// to [`MAX_PLAINTEXT_BYTES`] of plaintext.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest plaintext (message text plus TLVs) in one data message.
pub const MAX_PLAINTEXT_BYTES: usize = 16 * 1024;

/// Largest MPI accepted anywhere (a 1536-bit group element is 192 bytes; DSA p is 128).
pub const MAX_MPI_BYTES: usize = 192;

/// TLVs accepted in one data message.
pub const MAX_TLVS: usize = 16;

/// Old MAC keys revealed in one data message that we accept (libotr reveals a few at a time).
pub const MAX_REVEALED_MAC_BYTES: usize = 20 * 64;

/// Fragments one message may be split into.
pub const MAX_FRAGMENTS: u16 = 400;

/// Bytes buffered for one message being reassembled from fragments.
pub const MAX_REASSEMBLY_BYTES: usize = 96 * 1024;
