//! What the account reports to its caller.

use crate::dake::{DakeError, Mode};
use crate::profile::{AttestationError, Fingerprint};
use crate::smp::{SmpError, SmpResult};

/// A line to send to a peer (already encoded and fragmented to the peer's budget).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Peer identifier (as given by the caller).
    pub peer: String,
    /// The text of one PRIVMSG.
    pub line: String,
    /// May wait behind the peer's other lines (post-quantum material that nothing typed
    /// depends on): a sender that paces lines sends non-bulk lines first.
    pub bulk: bool,
}

/// What became of one received line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Not OTR at all: pass the original line on unchanged.
    Plain,
    /// Plain text with an OTR whitespace tag; show `text` (the tag removed).
    Tagged {
        /// The text without the tag.
        text: String,
    },
    /// A decrypted message.
    Message {
        /// The message text (UTF-8, may contain anything but NUL).
        text: String,
    },
    /// An OTR protocol message or fragment: nothing to show.
    Protocol,
    /// An OTR error message from the peer (unauthenticated).
    Error {
        /// The error text.
        text: String,
    },
}

/// Why a session ended locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user asked.
    Requested,
    /// No traffic for the idle-expiry period.
    Expired,
    /// A fatal protocol condition (e.g. an exhausted chain).
    Protocol,
}

/// Reports for the caller; poll them with [`crate::session::Account::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session became private (a DAKE completed).
    Private {
        /// Peer.
        peer: String,
        /// The peer's instance tag.
        their_tag: u32,
        /// The peer's fingerprint.
        fingerprint: Fingerprint,
        /// Session id.
        ssid: [u8; 8],
        /// How the peer was post-quantum authenticated.
        mode: Mode,
        /// True when this replaced an existing private session (re-key).
        rekey: bool,
        /// The peer's ML-DSA-87 attestation of its profile is already held (from an earlier
        /// session or the caller's store); otherwise [`Event::PeerAttested`] or
        /// [`Event::AttestationFailed`] follows when it arrives.
        attested: bool,
    },
    /// The peer's ML-DSA-87 attestation of the profile of its current session arrived and
    /// verified: its profile is now signed post-quantum too (see
    /// [`crate::session::Account::is_attested`]).
    PeerAttested {
        /// Peer.
        peer: String,
        /// The fingerprint of the attested profile.
        fingerprint: Fingerprint,
    },
    /// The peer sent an attestation that does not verify for the profile of its session (a
    /// wrong key, a bad signature, or one made for another profile). It was dropped; nothing
    /// else changed, and the peer stays unattested.
    AttestationFailed {
        /// Peer.
        peer: String,
        /// Why.
        error: AttestationError,
    },
    /// The peer ended the private session; nothing more can be sent until a new one starts.
    PeerFinished {
        /// Peer.
        peer: String,
    },
    /// We ended the session.
    SessionEnded {
        /// Peer.
        peer: String,
        /// Why.
        reason: EndReason,
    },
    /// A handshake completed under a key the user has not accepted for the peer. Nothing was
    /// or will be encrypted to it; the previous session (if any) and the queue are kept until
    /// [`crate::session::Account::accept_key`] is called with this key.
    KeyNotAccepted {
        /// Peer.
        peer: String,
        /// The key the handshake completed under.
        offered: Fingerprint,
        /// The keys accepted for the peer so far (empty at first contact).
        accepted: Vec<Fingerprint>,
        /// Messages held in the queue.
        queued: usize,
    },
    /// A handshake message was rejected.
    DakeFailed {
        /// Peer.
        peer: String,
        /// Why.
        error: DakeError,
    },
    /// A peer we do not auto-respond to offered (or started) an OTRv4+ session.
    OfferReceived {
        /// Peer.
        peer: String,
    },
    /// Queued messages were sent encrypted.
    QueueReleased {
        /// Peer.
        peer: String,
        /// Messages sent.
        count: usize,
    },
    /// The peer did not answer our query or handshake in time. Queued messages stay queued.
    NoAnswer {
        /// Peer.
        peer: String,
        /// Messages still queued.
        queued: usize,
        /// Of those, how many went out early on a session the peer never confirmed
        /// (docs/PROTOCOL.md §6.7): it may have received them, and they go again on the next
        /// session.
        sent_unconfirmed: usize,
    },
    /// Queued messages were discarded without being sent.
    QueueDropped {
        /// Peer.
        peer: String,
        /// Messages discarded.
        count: usize,
    },
    /// An encrypted message from the peer could not be read.
    Unreadable {
        /// Peer.
        peer: String,
    },
    /// An OTRv3 (or OTRv2) session became private: not post-quantum, DSA-authenticated.
    LegacyPrivate {
        /// Peer.
        peer: String,
        /// 3 or 2.
        version: u16,
        /// The peer's instance tag (0 in OTRv2).
        their_tag: u32,
        /// The peer's DSA key fingerprint (libotr's 20-byte SHA-1).
        fingerprint: [u8; 20],
        /// Session id.
        ssid: [u8; 8],
        /// True when this replaced an existing private session.
        rekey: bool,
    },
    /// An OTRv3 session completed under a DSA key the user has not accepted for the peer
    /// (another key was accepted before, or the first key is held by policy). Nothing is sent
    /// to it and nothing it carries is shown until
    /// [`crate::session::Account::accept_legacy_key`].
    LegacyKeyNotAccepted {
        /// Peer.
        peer: String,
        /// The key the session completed under.
        offered: [u8; 20],
        /// The OTRv3 keys accepted for the peer so far (empty at first contact).
        accepted: Vec<[u8; 20]>,
        /// Messages held in the queue.
        queued: usize,
    },
    /// The peer offered or started an OTRv3/v2 session although it has used OTRv4+ with us
    /// (a downgrade, e.g. by a server stripping OTRv4+ from its offers): refused, nothing sent.
    DowngradeRefused {
        /// Peer.
        peer: String,
        /// The version refused.
        version: u16,
        /// Messages still queued.
        queued: usize,
    },
    /// The peer offered or started only a protocol version the policy does not allow (e.g.
    /// OTRv2 from a python-potr client while OTRv2 is off). Nothing was sent in plaintext.
    VersionNotAllowed {
        /// Peer.
        peer: String,
        /// The version.
        version: u16,
        /// Messages still queued.
        queued: usize,
    },
    /// The OTRv3 DSA key is needed (a peer answered in OTRv3, or we offered it): generate or
    /// load it and pass it to [`crate::session::Account::set_legacy_identity`]. Raised once
    /// until then; what the peer sent meanwhile is kept and handled when the key arrives.
    LegacyKeyNeeded,
    /// A message decrypted while handling input kept for the DSA key (see
    /// [`Event::LegacyKeyNeeded`]): show it as if it had just arrived.
    LateMessage {
        /// Peer.
        peer: String,
        /// The text.
        text: String,
    },
    /// Progress of an SMP run.
    Smp {
        /// Peer.
        peer: String,
        /// What happened.
        event: SmpEvent,
    },
}

/// SMP progress reported to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpEvent {
    /// The peer asks our user to prove knowledge of the shared secret (answer with
    /// [`crate::session::Account::smp_respond`]).
    Request {
        /// The peer's question, if any.
        question: Option<String>,
    },
    /// A run completed.
    Done {
        /// The result.
        result: SmpResult,
        /// The peer fingerprint the run was bound to (the session's).
        fingerprint: Fingerprint,
    },
    /// A run in an OTRv3/v2 session completed.
    LegacyDone {
        /// The result.
        result: SmpResult,
        /// The peer's DSA fingerprint the run was bound to.
        fingerprint: [u8; 20],
    },
    /// The peer aborted the run.
    AbortedByPeer,
    /// The peer's SMP message was refused and the run aborted.
    Rejected {
        /// Why.
        error: SmpError,
    },
    /// The run did not complete in time and was aborted.
    TimedOut,
    /// The session carrying the run ended, so the run is over.
    SessionEnded,
}

/// Why an SMP command could not be carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmpCommandError {
    /// There is no private session with the peer.
    #[error("no private session")]
    NotPrivate,
    /// The SMP layer refused.
    #[error(transparent)]
    Smp(#[from] SmpError),
    /// Sending failed.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Why a message could not be accepted for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The queue for this peer is full.
    #[error("too many messages queued while the session is set up")]
    QueueFull,
    /// The message is larger than one data message can carry.
    #[error("message too long")]
    TooLong,
    /// The peer ended the session; finish or restart it first.
    #[error("the peer ended the private session")]
    Finished,
    /// The message contains a NUL byte, which OTR cannot carry.
    #[error("message contains NUL")]
    ContainsNul,
    /// Too many peers are tracked.
    #[error("too many peers")]
    TooManyPeers,
    /// Encryption failed; the session must be restarted.
    #[error("encryption failed")]
    Crypto,
}

/// How a message was handled by [`crate::session::Account::send`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Encrypted and queued for transmission.
    Sent,
    /// Queued until the session is private (a handshake was started if none was running).
    Queued,
}
