//! Per-peer state held by an account.

use std::collections::VecDeque;

use crate::dake::{Mode, ResumptionPsk, WaitingAuthI, WaitingAuthR};
use crate::fragment::assembler::Assembler;
use crate::fragment::irc_split::LineJoiner;
use crate::profile::{Attestation, ClientProfile, Fingerprint};
use crate::ratchet::Ratchet;
use crate::smp::Smp;

use super::account::Held;

/// Handshake progress.
pub(crate) enum Handshake {
    /// Nothing running.
    Idle,
    /// We sent a query message and wait for the peer's Identity.
    QuerySent {
        since: u64,
        /// Our profile went ahead (at most once per query), to this instance tag.
        ahead: Option<SentAhead>,
    },
    /// We sent Identity.
    WaitingAuthR {
        state: Box<WaitingAuthR>,
        since: u64,
        /// The responder's profile from its Profile message, verified but not authenticated:
        /// used only if its Auth-R says it went ahead, cached only once the DAKE completes.
        profile_ahead: Option<Box<ClientProfile>>,
        /// We asked for the profile sent ahead (at most once per handshake).
        profile_requested: bool,
    },
    /// We sent Auth-R.
    WaitingAuthI {
        state: Box<WaitingAuthI>,
        since: u64,
        /// We asked for the initiator's Auth-I in full, its CT_R sent ahead not having arrived
        /// (at most once per handshake).
        ct_requested: bool,
    },
}

impl Handshake {
    pub(crate) fn since(&self) -> Option<u64> {
        match self {
            Handshake::Idle => None,
            Handshake::QuerySent { since, .. }
            | Handshake::WaitingAuthR { since, .. }
            | Handshake::WaitingAuthI { since, .. } => Some(*since),
        }
    }

    pub(crate) fn is_running(&self) -> bool {
        !matches!(self, Handshake::Idle)
    }
}

/// Our profile, sent ahead of Auth-R while the peer's Identity arrives (docs/PROTOCOL.md
/// §6.1).
#[derive(Clone, Copy)]
pub(crate) struct SentAhead {
    /// The instance tag the Profile message was addressed to.
    pub to: u32,
    /// ProfileHash of the profile sent.
    pub profile_hash: [u8; 32],
}

/// Our Auth-I in full, kept after sending one that referred to our CT_R sent ahead, for a
/// responder that did not receive the Ciphertext message (docs/PROTOCOL.md §5.6): sent once,
/// and only while the session that DAKE derived waits aside or is held.
pub(crate) struct AuthIResend {
    /// The responder's instance tag (Auth-I's receiver).
    pub to: u32,
    /// The session the DAKE derived.
    pub ssid: [u8; 8],
    /// The encoded Auth-I with CT_R in it (public values only).
    pub auth_i: Vec<u8>,
}

/// An established session.
pub(crate) struct Established {
    pub ratchet: Ratchet,
    pub their_profile: ClientProfile,
    pub ssid: [u8; 8],
    pub mode: Mode,
    pub last_sent: u64,
    pub last_recv: u64,
    /// A message arrived after our last send (a heartbeat may be due).
    pub unanswered: bool,
    /// The SMP run of this session (a new session starts with none).
    pub smp: Smp,
    /// Our attestation still has to be sent on this session (the peer did not say in the
    /// DAKE that it holds it).
    pub attestation_due: bool,
}

/// A session the initiator derived but has not committed: it waits for the responder's
/// first message on it (explicit key confirmation, docs/PROTOCOL.md §6.7).
pub(crate) struct Unconfirmed {
    pub session: Established,
    pub next_psk: ResumptionPsk,
    pub since: u64,
    /// How many messages at the front of the peer's queue went out on this session already
    /// (sent early, §6.7): they stay queued until the confirmation drops them.
    pub early: usize,
}

/// Everything tracked for one peer.
pub(crate) struct Peer {
    /// The user opted this peer in: its offers are answered and it is never evicted.
    pub auto_respond: bool,
    /// Its offers are answered because the user accepts strangers; it stays a stranger.
    pub accept_offers: bool,
    pub budget: Option<usize>,
    pub joiner: LineJoiner,
    pub assembler: Assembler,
    pub handshake: Handshake,
    pub session: Option<Established>,
    /// The peer sent a disconnect: we are in FINISHED until the user acts.
    pub finished: bool,
    pub queue: VecDeque<String>,
    pub queued_bytes: usize,
    pub psk: Option<ResumptionPsk>,
    /// The PSK renewed at the current session's first ML-KEM mix (offered before `psk`).
    pub psk_renewed: Option<ResumptionPsk>,
    /// The shell still holds bulk lines for this peer (`Account::set_bulk_backlog`): KEM
    /// offers and answers are not sent again meanwhile, only first sends.
    pub bulk_backlog: bool,
    /// PSK-mode sessions since the last full-mode one, and when that one was established:
    /// the PSK chain is cut (full mode) once either passes the policy.
    pub psk_uses: u32,
    pub psk_full_at: u64,
    /// The peer's most recently verified profile.
    pub profile: Option<ClientProfile>,
    /// The peer's verified ML-DSA-87 attestation of `profile` (dropped when `profile` is
    /// replaced by another one).
    pub attestation: Option<Attestation>,
    /// The peer completed a DAKE with our current profile and so has it cached.
    pub has_our_profile: bool,
    pub last_error_reply: Option<u64>,
    pub last_offer_event: Option<u64>,
    /// The session a re-key replaced, kept briefly to decrypt messages already in flight.
    pub previous: Option<(Established, u64)>,
    /// Our DAKE as initiator completed; the new session waits for the responder's confirmation.
    pub unconfirmed: Option<Unconfirmed>,
    /// Our last Auth-I in full, if it referred to CT_R sent ahead (sent again at most once).
    pub auth_i_resend: Option<AuthIResend>,
    pub last_activity: u64,
    /// Keys the user accepted for this peer (on first use or by decision).
    pub accepted: Vec<Fingerprint>,
    /// A handshake completed under a key not accepted, waiting for the user's decision.
    pub held: Option<Held>,
    /// OTRv3/v2 conversations with the peer's instances (created on first use).
    pub legacy: Option<Box<otr3::contact::Contact>>,
    /// Which OTRv3/v2 versions are allowed with this peer (`None`: the account's policy).
    pub legacy_versions: Option<otr3::contact::Versions>,
    /// When a refused OTRv3/v2 attempt was last reported (reports are rate-limited).
    pub last_legacy_refusal: Option<u64>,
    /// OTRv3 (DSA) keys the user accepted for this peer (on first use, by decision, or from
    /// the trust store): an OTRv3 session under any other key is held.
    pub legacy_accepted: Vec<[u8; 20]>,
    /// An OTRv3 session completed under this key, which the user has not accepted: nothing
    /// is sent through it and nothing it carries is shown until `accept_legacy_key`.
    pub legacy_held: Option<[u8; 20]>,
}

impl Peer {
    pub(crate) fn new(now: u64) -> Self {
        Peer {
            auto_respond: false,
            accept_offers: false,
            budget: None,
            joiner: LineJoiner::new(),
            assembler: Assembler::new(),
            handshake: Handshake::Idle,
            session: None,
            finished: false,
            queue: VecDeque::new(),
            queued_bytes: 0,
            psk: None,
            psk_renewed: None,
            bulk_backlog: false,
            psk_uses: 0,
            psk_full_at: 0,
            profile: None,
            attestation: None,
            has_our_profile: false,
            last_error_reply: None,
            last_offer_event: None,
            previous: None,
            unconfirmed: None,
            auth_i_resend: None,
            last_activity: now,
            accepted: Vec::new(),
            held: None,
            legacy: None,
            legacy_versions: None,
            last_legacy_refusal: None,
            legacy_accepted: Vec::new(),
            legacy_held: None,
        }
    }

    /// The OTRv3/v2 message state towards the peer's best instance.
    pub(crate) fn legacy_state(&self) -> otr3::conversation::MsgState {
        self.legacy
            .as_ref()
            .map_or(otr3::conversation::MsgState::Plaintext, |c| c.state())
    }

    /// True while an OTRv3/v2 conversation is private.
    pub(crate) fn legacy_private(&self) -> bool {
        self.session.is_none()
            && self.legacy_held.is_none()
            && self.legacy_state() == otr3::conversation::MsgState::Encrypted
    }

    /// When the SMP run of the private OTRv3/v2 conversation started (`None`: none runs).
    pub(crate) fn legacy_smp_since(&self) -> Option<u64> {
        if !self.legacy_private() {
            return None;
        }
        self.legacy.as_ref()?.best_conversation()?.smp_since()
    }

    /// True once the peer has shown it speaks OTRv4+ (a completed session, an accepted key
    /// or a verified profile): OTRv3/v2 is then refused with it (downgrade pinning).
    pub(crate) fn v4_pinned(&self) -> bool {
        !self.accepted.is_empty() || self.session.is_some() || self.profile.is_some()
    }

    /// Whether `resend` belongs to the session our last DAKE as initiator derived, which
    /// waits aside for the responder's confirmation or is held for the user's decision.
    pub(crate) fn auth_i_resend_is_current(&self, resend: &AuthIResend) -> bool {
        let aside = self.unconfirmed.as_ref().map(|u| u.session.ssid);
        let held = self
            .held
            .as_ref()
            .filter(|h| h.out.role == crate::dake::Role::Initiator)
            .map(|h| h.out.ssid);
        aside == Some(resend.ssid) || held == Some(resend.ssid)
    }

    /// True while a handshake runs or its result waits for the peer's confirmation.
    pub(crate) fn handshaking(&self) -> bool {
        self.handshake.is_running() || self.unconfirmed.is_some()
    }

    /// True if the peer's offers and handshakes are answered.
    pub(crate) fn answers(&self) -> bool {
        self.auto_respond || self.accept_offers
    }

    /// True for a peer the user did not opt in that holds no session, no queue and no
    /// accepted key: it may be evicted to bound what strangers cost (least recently active
    /// first). Accepted keys are never evicted: the nick's next key would be a first contact.
    pub(crate) fn is_stranger(&self) -> bool {
        !self.auto_respond
            && self.session.is_none()
            && self.queue.is_empty()
            && self.accepted.is_empty()
            && self.legacy.is_none()
            && self.legacy_accepted.is_empty()
    }

    /// Bytes held in its fragment and split-line buffers.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.assembler.buffered_bytes() + self.joiner.pending_bytes()
    }

    /// True if we talk to this peer: it is answered automatically, or has a session, a
    /// handshake or queued messages. Only then is its OTR traffic buffered and processed.
    pub(crate) fn is_engaged(&self) -> bool {
        self.answers()
            || self.session.is_some()
            || self.handshaking()
            || !self.queue.is_empty()
            || self.previous.is_some()
            || self.held.is_some()
            || self.legacy.is_some()
    }

    /// True if nothing worth keeping is held (the peer can be forgotten to bound memory).
    pub(crate) fn is_disposable(&self) -> bool {
        self.session.is_none()
            && self.previous.is_none()
            && !self.handshaking()
            && self.queue.is_empty()
            && self.psk.is_none()
            && self.psk_renewed.is_none()
            && self.profile.is_none()
            && !self.answers()
            && self.budget.is_none()
            && !self.joiner.is_pending()
            && self.assembler.incomplete() == 0
            && self.accepted.is_empty()
            && self.held.is_none()
            && self.legacy.is_none()
            && self.legacy_accepted.is_empty()
    }
}
