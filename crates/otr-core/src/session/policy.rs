//! Tunable behaviour of an account. Plain values: the shell fills them from its config.

use crate::ratchet::DEFAULT_KEM_EVERY;

/// Account-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Sending chains between ML-KEM ratchet steps.
    pub kem_every: u32,
    /// After receiving a message and sending nothing for this long, send an empty heartbeat
    /// so the peer's ratchet advances (forward secrecy for the last received messages).
    pub heartbeat_ms: u64,
    /// A session with no traffic in either direction for this long is ended.
    pub idle_expiry_ms: u64,
    /// A handshake (or a query awaiting an answer) older than this is abandoned.
    pub dake_timeout_ms: u64,
    /// Line budget for fragments when the shell has not set one for a peer.
    pub default_budget: usize,
    /// Human-readable text after `?OTRvP?` in query messages.
    pub query_text: String,
    /// Pad every message payload with a padding TLV to a multiple of this many bytes, so the
    /// ciphertext length reveals the plaintext length only to this granularity (0: no padding).
    pub pad_block: usize,
    /// An SMP run (including the wait for the user's answer) older than this is aborted.
    pub smp_timeout_ms: u64,
    /// Hold a peer's first key for the user's decision too (otherwise the first key is
    /// accepted on first use). A key other than the accepted ones is always held.
    pub hold_first_contact: bool,
    /// Resumption-PSK sessions allowed in a row: after this many, the next DAKE runs in full
    /// mode and re-authenticates the peer's long-term ML-KEM key (docs/PROTOCOL.md §6.2).
    pub psk_max_uses: u32,
    /// Age of a PSK chain, counted from the full-mode DAKE it started with, after which the
    /// next DAKE runs in full mode.
    pub psk_max_age_ms: u64,
    /// Which of OTRv3 and OTRv2 may be used with peers that do not speak OTRv4+ (only
    /// with an OTRv3 identity: [`crate::session::Account::set_legacy_identity`]). OTRv4+
    /// is preferred whenever both sides offer it, and a peer that has used OTRv4+ is never
    /// answered in an older version.
    pub legacy: otr3::contact::Versions,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            kem_every: DEFAULT_KEM_EVERY,
            heartbeat_ms: 60_000,
            idle_expiry_ms: 6 * 3600 * 1000,
            dake_timeout_ms: 180_000,
            default_budget: 400,
            query_text: "I would like a private conversation using OTRv4+ \
                         (post-quantum OTR). Your client needs OTRv4+ support, \
                         for example through the otrbnc IRC bouncer."
                .to_string(),
            pad_block: 32,
            smp_timeout_ms: 10 * 60 * 1000,
            hold_first_contact: false,
            psk_max_uses: 16,
            psk_max_age_ms: 7 * 24 * 3600 * 1000,
            legacy: otr3::contact::Versions {
                v3: true,
                v2: false,
            },
        }
    }
}
