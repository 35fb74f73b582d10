//! Every bound the core enforces, in one place. Each limit caps memory or work that a
//! network peer could otherwise drive without bound.

/// Largest decoded binary OTR message we accept (a first-contact Identity with a full profile
/// is about 11 KB; this leaves room without letting a peer make us hold megabytes).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Largest encoded (`?OTR:...`) message text accepted: enough for the base64 of the
/// largest binary message plus the envelope.
pub const MAX_ENCODED_BYTES: usize = 87_400;

/// Skipped message keys kept per receiving chain (the otrv4 spec's max_skip).
pub const MAX_SKIP_PER_CHAIN: u32 = 1000;

/// Skipped message keys kept per session across all chains; the oldest are evicted first.
pub const MAX_SKIPPED_KEYS_TOTAL: usize = 2000;

/// Incomplete fragmented messages buffered per peer.
pub const MAX_INCOMPLETE_PER_PEER: usize = 8;

/// Fragments one message may be split into.
pub const MAX_FRAGMENTS_PER_MESSAGE: u16 = 400;

/// Milliseconds an incomplete fragmented message is kept before it is dropped.
pub const FRAGMENT_MAX_AGE_MS: u64 = 10 * 60 * 1000;

/// Plaintext messages queued per peer while a handshake runs.
pub const MAX_QUEUED_MESSAGES: usize = 100;

/// Bytes of plaintext queued per peer while a handshake runs.
pub const MAX_QUEUED_BYTES: usize = 64 * 1024;

/// Largest plaintext (message text plus TLVs) in one data message.
pub const MAX_PLAINTEXT_BYTES: usize = 16 * 1024;

/// TLVs accepted in one data message.
pub const MAX_TLVS: usize = 16;

/// Peers an account tracks at once (sessions, fragment buffers, queues).
pub const MAX_PEERS: usize = 4096;

/// Most keys accepted per peer (the oldest makes room).
pub const MAX_ACCEPTED_KEYS: usize = 16;

/// Strangers tracked at once: peers the user did not opt in that hold no session and no
/// queue (those answered only because strangers are accepted, and nicks that merely sent OTR
/// lines). A new one evicts the least recently active.
pub const MAX_STRANGERS: usize = 256;

/// Fragment and split-line bytes buffered for all strangers together; beyond it the least
/// recently active strangers are evicted. It exceeds one peer's own bound
/// (8 × 87,400 + 87,400 bytes), so one stranger can always complete a message.
pub const MAX_STRANGER_FRAGMENT_BYTES: usize = 2 * 1024 * 1024;

/// Instances (instance tags) tracked per peer.
pub const MAX_INSTANCES_PER_PEER: usize = 4;

/// Minimum interval between OTR error replies to one peer.
pub const ERROR_REPLY_INTERVAL_MS: u64 = 10_000;

/// Failed SMP runs (different secrets, bad proofs, malformed messages) allowed per session;
/// after that the session refuses SMP, so a peer cannot keep guessing online.
pub const MAX_SMP_FAILURES: u32 = 5;

/// Longest SMP question, in bytes of UTF-8.
pub const MAX_SMP_QUESTION_BYTES: usize = 512;

/// Longest SMP secret after NFC normalisation, in bytes.
pub const MAX_SMP_SECRET_BYTES: usize = 1024;
