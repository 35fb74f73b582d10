//! The Socialist Millionaires' Protocol of OTRv3 over the RFC 3526 1536-bit group, as libotr
//! 4.1 runs it (Protocol-v3.html "The Socialist Millionaires' Protocol"; sm.c for the bytes,
//! message.c for the state machine).
//!
//! Per session and sans-IO: it takes the SMP TLVs received in data messages and the user's
//! commands, and returns TLVs to send and outcomes to report. The compared value binds the
//! user's secret to both fingerprints and the session id, so a man in the middle relaying two
//! sessions makes the run fail.
//!
//! libotr's state (`nextExpected` EXPECT1..EXPECT4) maps onto [`SmpStatus`]: EXPECT1 is
//! `Idle`, or `AwaitingSecret` after a verified SMP1 (libotr stays in EXPECT1 there, so a new
//! SMP1 replaces the pending request, as here); EXPECT2 and EXPECT4 are `Running` as the
//! initiator, EXPECT3 as the responder. A message that does not fit the state, or that fails
//! a check (libotr's "cheated"), ends the run with an abort TLV for the peer: the spec asks
//! for that on an unexpected message, and pidgin-otr does it on libotr's CHEATED and ERROR
//! events.
//!
//! The question reaches the caller as received (lossy UTF-8, at most 1024 bytes, no NUL); it
//! is the peer's text and must be cleaned of control characters before a user sees it.

mod exponent;
pub mod messages;
mod proofs;
mod steps;
#[cfg(test)]
mod tests;

use crate::codec::DecodeError;
use crate::tlv::{Tlv, types};
use messages::{MAX_QUESTION_BYTES, Smp1, Smp2, Smp3, Smp4, abort_tlv};
pub use steps::combined_secret;
use steps::{AliceSent1, AliceSent3, BobSent2};

/// Longest secret accepted from the user, in bytes.
pub const MAX_SECRET_BYTES: usize = 1024;

/// Failed runs (different secrets, refused messages) allowed per session; after that the
/// session refuses SMP, so a peer cannot keep guessing online. libotr has no such limit.
pub const MAX_FAILURES: u32 = 5;

/// Why an SMP message or command was refused. None of these carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmpError {
    /// The TLV value is malformed (count, truncation, oversized MPI, trailing bytes).
    #[error("malformed SMP message: {0}")]
    Decode(#[from] DecodeError),
    /// A group element outside 2..=p-2 (or the order-q subgroup), or a proof response outside
    /// 1..q-1.
    #[error("SMP value out of range")]
    Value,
    /// A zero-knowledge proof did not verify.
    #[error("an SMP proof did not verify")]
    BadProof,
    /// The message does not fit the state of the run.
    #[error("SMP message out of order")]
    Unexpected,
    /// The question is too long or holds a NUL.
    #[error("invalid SMP question")]
    Question,
    /// The user's secret is empty or too long.
    #[error("the secret must be 1 to {MAX_SECRET_BYTES} bytes")]
    Secret,
    /// There is no request from the peer to answer.
    #[error("no authentication request to answer")]
    NothingToAnswer,
    /// Too many failed runs in this session.
    #[error("too many failed authentication attempts in this session")]
    TooManyFailures,
}

/// The encrypted session a run belongs to: both fingerprints (SHA-1 of the DSA public keys)
/// and the session id from the AKE.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    /// Our fingerprint.
    pub ours: &'a [u8; 20],
    /// The peer's fingerprint, of the key the session's AKE authenticated.
    pub theirs: &'a [u8; 20],
    /// The secure session id.
    pub ssid: &'a [u8; 8],
}

/// The outcome of a completed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpResult {
    /// The two secrets were equal.
    pub success: bool,
    /// We sent SMP1.
    pub initiated: bool,
    /// The run carried a question. libotr's responder then does not mark the initiator's key
    /// as verified (the initiator chose both question and answer).
    pub question: bool,
}

/// What handling one SMP TLV produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpOutput {
    /// Nothing to do (an abort when nothing was running, a TLV that is not SMP's).
    None,
    /// Send this TLV to the peer.
    Send(Tlv),
    /// The peer asks our user for the secret (with an optional question).
    Request {
        /// The peer's question.
        question: Option<String>,
    },
    /// The run finished; `send` (SMP4) goes to the peer if present.
    Done {
        /// The result.
        result: SmpResult,
        /// The last message, when we are the responder.
        send: Option<Tlv>,
    },
    /// The peer aborted the run.
    AbortedByPeer,
    /// The message was refused; the run (if any) is over and the peer is told by `send`.
    Rejected {
        /// Why.
        error: SmpError,
        /// The abort TLV for the peer.
        send: Tlv,
    },
}

/// Where a run stands, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpStatus {
    /// Nothing running.
    Idle,
    /// The peer asked; our user has not answered yet.
    AwaitingSecret {
        /// The peer's question.
        question: Option<String>,
    },
    /// A run is in progress.
    Running {
        /// We started it.
        initiated: bool,
    },
}

enum State {
    Idle,
    AwaitingSecret(Box<Smp1>),
    Expect2 { st: Box<AliceSent1>, question: bool },
    Expect3 { st: Box<BobSent2>, question: bool },
    Expect4 { st: Box<AliceSent3>, question: bool },
}

/// The SMP state of one session.
pub struct Smp {
    state: State,
    since: u64,
    failures: u32,
}

impl Default for Smp {
    fn default() -> Self {
        Self::new()
    }
}

fn check_secret(secret: &[u8]) -> Result<(), SmpError> {
    if secret.is_empty() || secret.len() > MAX_SECRET_BYTES {
        return Err(SmpError::Secret);
    }
    Ok(())
}

impl Smp {
    /// Nothing running.
    pub fn new() -> Self {
        Smp {
            state: State::Idle,
            since: 0,
            failures: 0,
        }
    }

    /// Where the run stands.
    pub fn status(&self) -> SmpStatus {
        match &self.state {
            State::Idle => SmpStatus::Idle,
            State::AwaitingSecret(m) => SmpStatus::AwaitingSecret {
                question: m.question.clone(),
            },
            State::Expect2 { .. } | State::Expect4 { .. } => SmpStatus::Running { initiated: true },
            State::Expect3 { .. } => SmpStatus::Running { initiated: false },
        }
    }

    /// When the current run started (`None` when idle).
    pub fn since(&self) -> Option<u64> {
        (!matches!(self.state, State::Idle)).then_some(self.since)
    }

    /// Failed runs in this session so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Starts a run with our secret (and a question for the peer's user). Anything already
    /// running is aborted first; the returned TLVs go to the peer in this order.
    pub fn start(
        &mut self,
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
        session: &Session<'_>,
        question: Option<&str>,
        secret: &[u8],
        now_ms: u64,
    ) -> Result<Vec<Tlv>, SmpError> {
        if self.failures >= MAX_FAILURES {
            return Err(SmpError::TooManyFailures);
        }
        if question.is_some_and(|q| q.len() > MAX_QUESTION_BYTES || q.contains('\0')) {
            return Err(SmpError::Question);
        }
        check_secret(secret)?;
        let mut out = Vec::new();
        out.extend(self.abort());
        let x = combined_secret(session.ours, session.theirs, session.ssid, secret);
        let (st, m1) = steps::smp1(rng, question.map(str::to_string), x);
        out.push(m1.encode());
        self.state = State::Expect2 {
            st: Box::new(st),
            question: question.is_some(),
        };
        self.since = now_ms;
        Ok(out)
    }

    /// Answers the peer's pending request with our secret (SMP2).
    pub fn respond(
        &mut self,
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
        session: &Session<'_>,
        secret: &[u8],
    ) -> Result<Tlv, SmpError> {
        let State::AwaitingSecret(m1) = &self.state else {
            return Err(SmpError::NothingToAnswer);
        };
        check_secret(secret)?;
        let y = combined_secret(session.theirs, session.ours, session.ssid, secret);
        let (st, m2) = steps::smp2(rng, m1, &y);
        let question = m1.question.is_some();
        self.state = State::Expect3 {
            st: Box::new(st),
            question,
        };
        Ok(m2.encode())
    }

    /// Aborts whatever is running; returns the abort TLV for the peer if anything was.
    pub fn abort(&mut self) -> Option<Tlv> {
        if matches!(self.state, State::Idle) {
            return None;
        }
        self.state = State::Idle;
        Some(abort_tlv())
    }

    fn reject(&mut self, error: SmpError) -> SmpOutput {
        self.state = State::Idle;
        self.failures = self.failures.saturating_add(1);
        SmpOutput::Rejected {
            error,
            send: abort_tlv(),
        }
    }

    /// Handles one SMP TLV (types 2..=7) from the peer; other types give `None`.
    pub fn handle(
        &mut self,
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
        _session: &Session<'_>,
        tlv: &Tlv,
        now_ms: u64,
    ) -> SmpOutput {
        match tlv.tlv_type {
            types::SMP_ABORT => match self.abort() {
                Some(_) => SmpOutput::AbortedByPeer,
                None => SmpOutput::None,
            },
            types::SMP1 | types::SMP1Q => self.on_smp1(tlv, now_ms),
            types::SMP2 => self.on_smp2(rng, &tlv.value),
            types::SMP3 => self.on_smp3(rng, &tlv.value),
            types::SMP4 => self.on_smp4(&tlv.value),
            _ => SmpOutput::None,
        }
    }

    fn on_smp1(&mut self, tlv: &Tlv, now_ms: u64) -> SmpOutput {
        // libotr accepts SMP1 only in EXPECT1, which includes a request still waiting for our
        // user's answer: a peer restarting (libotr sends no abort first) replaces it.
        if !matches!(self.state, State::Idle | State::AwaitingSecret(_)) {
            // Both sides started at once, or the peer restarted mid-run.
            return self.reject(SmpError::Unexpected);
        }
        if self.failures >= MAX_FAILURES {
            self.state = State::Idle;
            return SmpOutput::Rejected {
                error: SmpError::TooManyFailures,
                send: abort_tlv(),
            };
        }
        let m1 = match Smp1::decode(tlv.tlv_type, &tlv.value) {
            Ok(m) => m,
            Err(e) => return self.reject(e),
        };
        if let Err(e) = steps::check_smp1(&m1) {
            return self.reject(e);
        }
        let question = m1.question.clone();
        self.state = State::AwaitingSecret(Box::new(m1));
        self.since = now_ms;
        SmpOutput::Request { question }
    }

    fn on_smp2(
        &mut self,
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
        value: &[u8],
    ) -> SmpOutput {
        let State::Expect2 { st, question } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return self.reject(SmpError::Unexpected);
        };
        let result = Smp2::decode(value).and_then(|m2| steps::smp3(rng, *st, &m2));
        match result {
            Ok((st, m3)) => {
                self.state = State::Expect4 {
                    st: Box::new(st),
                    question,
                };
                SmpOutput::Send(m3.encode())
            }
            Err(e) => self.reject(e),
        }
    }

    fn on_smp3(
        &mut self,
        rng: &mut (impl rand_core::CryptoRng + ?Sized),
        value: &[u8],
    ) -> SmpOutput {
        let State::Expect3 { st, question } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return self.reject(SmpError::Unexpected);
        };
        let result = Smp3::decode(value).and_then(|m3| steps::smp4(rng, &st, &m3));
        match result {
            Ok((success, m4)) => {
                self.count(success);
                SmpOutput::Done {
                    result: SmpResult {
                        success,
                        initiated: false,
                        question,
                    },
                    send: Some(m4.encode()),
                }
            }
            Err(e) => self.reject(e),
        }
    }

    fn on_smp4(&mut self, value: &[u8]) -> SmpOutput {
        let State::Expect4 { st, question } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return self.reject(SmpError::Unexpected);
        };
        let result = Smp4::decode(value).and_then(|m4| steps::finish(&st, &m4));
        match result {
            Ok(success) => {
                self.count(success);
                SmpOutput::Done {
                    result: SmpResult {
                        success,
                        initiated: true,
                        question,
                    },
                    send: None,
                }
            }
            Err(e) => self.reject(e),
        }
    }

    fn count(&mut self, success: bool) {
        if !success {
            self.failures = self.failures.saturating_add(1);
        }
    }
}

/// True for the TLV types the SMP layer consumes (2..=7: SMP1..SMP4, abort, SMP1Q).
pub fn is_smp_tlv(tlv_type: u16) -> bool {
    (types::SMP1..=types::SMP1Q).contains(&tlv_type)
}
