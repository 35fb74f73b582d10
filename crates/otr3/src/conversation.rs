//! One OTRv3 (or v2) conversation with one instance of a peer: the message state
//! (plaintext, encrypted, finished), its AKE, data keys, SMP run and heartbeats.
//!
//! Inputs are decoded messages; outputs are messages to send and events, polled by the
//! caller ([`crate::contact::Contact`] routes by instance tag and handles fragments).

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::ake::{Ake, AkeError, AkeOutput};
use crate::data_keys::{DataError, DataKeys};
use crate::dsa::PrivateKey;
use crate::limits::MAX_PLAINTEXT_BYTES;
use crate::message::{DataMessage, FLAG_IGNORE_UNREADABLE, Header, Message};
use crate::smp::{self, Smp, SmpError, SmpOutput};
use crate::tlv::{self, Tlv, types};

/// A heartbeat goes out after receiving a message when we sent nothing for this long (the
/// interval libotr uses).
pub const HEARTBEAT_INTERVAL_MS: u64 = 60_000;

/// What the local side brings to every conversation.
pub struct Local<'a> {
    /// Our long-term DSA key.
    pub key: &'a PrivateKey,
    /// Its fingerprint.
    pub fingerprint: &'a [u8; 20],
    /// Our instance tag.
    pub tag: u32,
    /// Pad every plaintext with a padding TLV to a multiple of this many bytes (0: none).
    pub pad_block: usize,
}

/// The message state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgState {
    /// No private session.
    Plaintext,
    /// Private.
    Encrypted,
    /// The peer ended the private session; nothing can be sent until ours is ended too.
    Finished,
}

/// A report for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The AKE completed: the conversation is private.
    Private {
        /// The peer's DSA fingerprint.
        fingerprint: [u8; 20],
        /// The secure session id.
        ssid: [u8; 8],
        /// We sent the Reveal Signature (libotr shows the ssid's first half bold then).
        we_revealed: bool,
        /// This replaced an earlier private session.
        rekey: bool,
    },
    /// A decrypted message (never empty: heartbeats are not reported).
    Message(String),
    /// The peer ended the private session.
    PeerFinished,
    /// An encrypted message could not be read. `quiet`: the sender marked it as not worth a
    /// complaint (heartbeats, disconnect notices).
    Unreadable {
        /// Why.
        error: Option<DataError>,
        /// The message had the IGNORE_UNREADABLE flag.
        quiet: bool,
    },
    /// An AKE message was refused.
    AkeRefused(AkeError),
    /// The peer wants to use the extra symmetric key (which otrbnc offers to nothing).
    ExtraKeyRequested,
    /// SMP progress.
    Smp(SmpOutput),
}

/// Why a message could not be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not private yet.
    #[error("no private session")]
    NotPrivate,
    /// The peer ended the private session.
    #[error("the peer ended the private session")]
    Finished,
    /// The text holds a NUL, which OTR cannot carry.
    #[error("message contains NUL")]
    ContainsNul,
    /// The text is too long for one message.
    #[error("message too long")]
    TooLong,
    /// Encryption failed.
    #[error(transparent)]
    Data(#[from] DataError),
}

struct Private {
    keys: DataKeys,
    their_fp: [u8; 20],
    ssid: [u8; 8],
}

/// One conversation with one instance of a peer.
pub struct Conversation {
    version: u16,
    their_tag: u32,
    state: MsgState,
    ake: Ake,
    private: Option<Private>,
    smp: Smp,
    last_sent_ms: u64,
    out: Vec<Message>,
    events: Vec<Event>,
}

impl Conversation {
    /// A conversation in `version` (2 or 3) with the instance `their_tag` (0: not known yet).
    pub fn new(version: u16, their_tag: u32) -> Conversation {
        Conversation {
            version,
            their_tag,
            state: MsgState::Plaintext,
            ake: Ake::new(),
            private: None,
            smp: Smp::new(),
            last_sent_ms: 0,
            out: Vec::new(),
            events: Vec::new(),
        }
    }

    /// A conversation with the instance `their_tag` that takes over `ake` (a forked
    /// exchange awaiting its D-H Key).
    pub fn with_ake(version: u16, their_tag: u32, ake: Ake) -> Conversation {
        let mut c = Conversation::new(version, their_tag);
        c.ake = ake;
        c
    }

    /// Takes over an exchange (a copy of the one our commit to receiver 0 started).
    pub fn adopt_ake(&mut self, ake: Ake) {
        self.ake = ake;
    }

    /// A copy of this conversation's exchange if it awaits a D-H Key.
    pub fn fork_ake(&self) -> Option<Ake> {
        self.ake.fork_awaiting_dh_key()
    }

    /// Whether we sent a D-H Commit and wait for the D-H Key.
    pub fn awaiting_dh_key(&self) -> bool {
        self.ake.awaiting_dh_key()
    }

    /// When we last sent this instance anything.
    pub fn last_sent_ms(&self) -> u64 {
        self.last_sent_ms
    }

    /// The protocol version.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The peer's instance tag (0 until known).
    pub fn their_tag(&self) -> u32 {
        self.their_tag
    }

    /// Learns the peer's instance tag (from its first message).
    pub fn set_their_tag(&mut self, tag: u32) {
        self.their_tag = tag;
    }

    /// The message state.
    pub fn state(&self) -> MsgState {
        self.state
    }

    /// Whether an AKE is running.
    pub fn ake_running(&self) -> bool {
        self.ake.in_progress()
    }

    /// The peer's fingerprint and the ssid while private.
    pub fn session(&self) -> Option<([u8; 20], [u8; 8])> {
        self.private.as_ref().map(|p| (p.their_fp, p.ssid))
    }

    /// The SMP status.
    pub fn smp_status(&self) -> smp::SmpStatus {
        self.smp.status()
    }

    /// When the SMP run started.
    pub fn smp_since(&self) -> Option<u64> {
        self.smp.since()
    }

    /// Takes the messages to send, with their headers.
    pub fn poll_messages(&mut self, our_tag: u32) -> Vec<(Header, Message)> {
        let header = self.header(our_tag);
        self.out.drain(..).map(|m| (header, m)).collect()
    }

    /// Takes the events.
    pub fn poll_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The header of our messages. A D-H Commit goes to receiver 0 until the tag is known.
    pub fn header(&self, our_tag: u32) -> Header {
        if self.version == crate::message::VERSION_2 {
            Header::v2()
        } else {
            Header::v3(our_tag, self.their_tag)
        }
    }

    /// Starts an AKE (we send the D-H Commit), as on receiving a query or whitespace tag.
    pub fn start_ake<R: CryptoRng>(&mut self, rng: &mut R, now_ms: u64) {
        let commit = self.ake.start(rng);
        self.out.push(commit);
        self.last_sent_ms = now_ms;
    }

    /// Feeds one message from this instance. `authenticated` is, for a data message, the
    /// received bytes its MAC covers.
    pub fn handle<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        msg: &Message,
        authenticated: &[u8],
        now_ms: u64,
    ) {
        match msg {
            Message::Data(d) => self.on_data(rng, local, d, authenticated, now_ms),
            _ => match self.ake.handle(rng, msg, local.key) {
                AkeOutput::Nothing => {}
                AkeOutput::Send(m) => {
                    self.out.push(m);
                    self.last_sent_ms = now_ms;
                }
                AkeOutput::Refused(e) => self.events.push(Event::AkeRefused(e)),
                AkeOutput::Done { send, outcome } => {
                    if let Some(m) = send {
                        self.out.push(m);
                        self.last_sent_ms = now_ms;
                    }
                    let rekey = self.state == MsgState::Encrypted;
                    let their_fp = outcome.their_long_term.fingerprint();
                    let keys = DataKeys::new(
                        rng,
                        outcome.our_dh,
                        outcome.our_keyid,
                        outcome.their_dh,
                        outcome.their_keyid,
                    );
                    // A new session ends any SMP run of the old one.
                    if self.smp.abort().is_some() {
                        self.events.push(Event::Smp(SmpOutput::AbortedByPeer));
                    }
                    self.private = Some(Private {
                        keys,
                        their_fp,
                        ssid: outcome.ssid,
                    });
                    self.state = MsgState::Encrypted;
                    self.events.push(Event::Private {
                        fingerprint: their_fp,
                        ssid: outcome.ssid,
                        we_revealed: outcome.we_revealed,
                        rekey,
                    });
                }
            },
        }
    }

    fn on_data<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        d: &DataMessage,
        authenticated: &[u8],
        now_ms: u64,
    ) {
        let quiet = d.flags & FLAG_IGNORE_UNREADABLE != 0;
        let Some(private) = self
            .private
            .as_mut()
            .filter(|_| self.state == MsgState::Encrypted)
        else {
            self.events.push(Event::Unreadable { error: None, quiet });
            return;
        };
        let plain = match private.keys.open(rng, d, authenticated) {
            Ok(p) => p,
            Err(e) => {
                self.events.push(Event::Unreadable {
                    error: Some(e),
                    quiet,
                });
                return;
            }
        };
        let (text, tlv_bytes) = match plain.iter().position(|&b| b == 0) {
            Some(i) => (
                plain.get(..i).unwrap_or_default(),
                plain.get(i + 1..).unwrap_or_default(),
            ),
            None => (plain.as_slice(), &[][..]),
        };
        if !text.is_empty() {
            self.events
                .push(Event::Message(String::from_utf8_lossy(text).into_owned()));
        }
        // Malformed TLVs are dropped; the text (already authenticated) still counts.
        let tlvs = tlv::decode_all(tlv_bytes).unwrap_or_default();
        let mut replies: Vec<Tlv> = Vec::new();
        let mut finished = false;
        for t in &tlvs {
            match t.tlv_type {
                types::DISCONNECTED => finished = true,
                types::EXTRA_SYMMETRIC_KEY => self.events.push(Event::ExtraKeyRequested),
                ty if smp::is_smp_tlv(ty) => {
                    let (ours, theirs, ssid) = (*local.fingerprint, private.their_fp, private.ssid);
                    let session = smp::Session {
                        ours: &ours,
                        theirs: &theirs,
                        ssid: &ssid,
                    };
                    let out = self.smp.handle(rng, &session, t, now_ms);
                    match &out {
                        SmpOutput::Send(t) => replies.push(t.clone()),
                        SmpOutput::Done { send: Some(t), .. }
                        | SmpOutput::Rejected { send: t, .. } => replies.push(t.clone()),
                        _ => {}
                    }
                    if !matches!(out, SmpOutput::None | SmpOutput::Send(_)) {
                        self.events.push(Event::Smp(out));
                    }
                }
                _ => {}
            }
        }
        if finished {
            self.end_private(MsgState::Finished);
            self.events.push(Event::PeerFinished);
            return;
        }
        if !replies.is_empty() {
            let _ = self.seal(local, "", &replies, 0, now_ms);
        } else if now_ms.saturating_sub(self.last_sent_ms) >= HEARTBEAT_INTERVAL_MS {
            // A heartbeat lets the peer rotate its keys (forward secrecy for what it sent).
            let _ = self.seal(local, "", &[], FLAG_IGNORE_UNREADABLE, now_ms);
        }
    }

    fn end_private(&mut self, state: MsgState) {
        self.private = None;
        self.state = state;
        if self.smp.abort().is_some() {
            self.events.push(Event::Smp(SmpOutput::AbortedByPeer));
        }
    }

    fn seal(
        &mut self,
        local: &Local<'_>,
        text: &str,
        tlvs: &[Tlv],
        flags: u8,
        now_ms: u64,
    ) -> Result<(), SendError> {
        let header = self.header(local.tag);
        let private = self.private.as_mut().ok_or(SendError::NotPrivate)?;
        let mut plain = Zeroizing::new(text.as_bytes().to_vec());
        let mut tlv_bytes = tlv::encode_all(tlvs);
        if local.pad_block > 0 {
            let len = plain.len() + 1 + tlv_bytes.len() + 4;
            let pad = (local.pad_block - len % local.pad_block) % local.pad_block;
            Tlv::new(types::PADDING, vec![0; pad]).encode_into(&mut tlv_bytes);
        }
        if !tlv_bytes.is_empty() {
            plain.push(0);
            plain.extend_from_slice(&tlv_bytes);
        }
        if plain.len() > MAX_PLAINTEXT_BYTES {
            return Err(SendError::TooLong);
        }
        let d = private.keys.seal(&header, flags, &plain)?;
        self.out.push(Message::Data(d));
        self.last_sent_ms = now_ms;
        Ok(())
    }

    /// Encrypts a message for the peer.
    pub fn send(&mut self, local: &Local<'_>, text: &str, now_ms: u64) -> Result<(), SendError> {
        match self.state {
            MsgState::Plaintext => return Err(SendError::NotPrivate),
            MsgState::Finished => return Err(SendError::Finished),
            MsgState::Encrypted => {}
        }
        if text.contains('\0') {
            return Err(SendError::ContainsNul);
        }
        self.seal(local, text, &[], 0, now_ms)
    }

    /// Ends the private session: tells the peer (disconnected TLV) and forgets the keys.
    pub fn finish(&mut self, local: &Local<'_>, now_ms: u64) {
        if self.state == MsgState::Encrypted {
            let _ = self.seal(
                local,
                "",
                &[Tlv::new(types::DISCONNECTED, vec![])],
                FLAG_IGNORE_UNREADABLE,
                now_ms,
            );
        }
        self.ake.reset();
        self.end_private(MsgState::Plaintext);
    }

    fn smp_session<T>(
        &mut self,
        local: &Local<'_>,
        f: impl FnOnce(&mut Smp, &smp::Session<'_>) -> Result<T, SmpError>,
    ) -> Result<T, SmpError> {
        let private = self.private.as_ref().ok_or(SmpError::Unexpected)?;
        let (ours, theirs, ssid) = (*local.fingerprint, private.their_fp, private.ssid);
        let session = smp::Session {
            ours: &ours,
            theirs: &theirs,
            ssid: &ssid,
        };
        f(&mut self.smp, &session)
    }

    /// Starts SMP with our secret (and a question for the peer's user).
    pub fn smp_start<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        question: Option<&str>,
        secret: &[u8],
        now_ms: u64,
    ) -> Result<(), SmpError> {
        let tlvs = self.smp_session(local, |smp, s| smp.start(rng, s, question, secret, now_ms))?;
        self.seal(local, "", &tlvs, 0, now_ms)
            .map_err(|_| SmpError::Unexpected)
    }

    /// Answers the peer's SMP request.
    pub fn smp_respond<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        secret: &[u8],
        now_ms: u64,
    ) -> Result<(), SmpError> {
        let tlv = self.smp_session(local, |smp, s| smp.respond(rng, s, secret))?;
        self.seal(local, "", &[tlv], 0, now_ms)
            .map_err(|_| SmpError::Unexpected)
    }

    /// Aborts a running SMP run (telling the peer).
    pub fn smp_abort(&mut self, local: &Local<'_>, now_ms: u64) -> bool {
        match self.smp.abort() {
            Some(t) => {
                let _ = self.seal(local, "", &[t], 0, now_ms);
                true
            }
            None => false,
        }
    }
}
