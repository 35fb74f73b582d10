//! The Socialist Millionaires' Protocol: two users check that they typed the same secret
//! without revealing it, over the RFC 3526 3072-bit group, inside an encrypted session.
//!
//! The state machine here is per session and sans-IO: it takes received SMP TLVs and the
//! user's commands, and returns TLVs to send and outcomes to report. The exponent each side
//! compares binds the user's NFC-normalised secret to both parties' full fingerprints (which
//! cover the Ed448, ML-KEM-1024 and ML-DSA-87 keys), the session id and the question, so two
//! sessions relayed by a man in the middle compare different values and fail.

pub mod group;
pub mod messages;
mod steps;
#[cfg(test)]
mod tests;

use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroize;

use crate::limits::{MAX_SMP_FAILURES, MAX_SMP_QUESTION_BYTES, MAX_SMP_SECRET_BYTES};
use crate::profile::Fingerprint;
use crate::wire::codec::DecodeError;
use crate::wire::tlv::{Tlv, types};
use group::ValueError;
use messages::{Smp1, Smp2, Smp3, Smp4, abort_tlv};
pub use steps::Roles;
use steps::{AfterSmp1, AfterSmp2, AfterSmp3};

/// Why an SMP message or command was refused. None of these carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmpError {
    /// The TLV value is malformed (length, truncation).
    #[error("malformed SMP message: {0}")]
    Decode(#[from] DecodeError),
    /// A group element or exponent is out of range.
    #[error("SMP value rejected: {0}")]
    Value(#[from] ValueError),
    /// Unknown SMP version.
    #[error("unsupported SMP version")]
    Version,
    /// The question is not UTF-8 or too long.
    #[error("invalid SMP question")]
    Question,
    /// A zero-knowledge proof did not verify.
    #[error("an SMP proof did not verify")]
    BadProof,
    /// The message does not fit the state of the run.
    #[error("SMP message out of order")]
    Unexpected,
    /// Too many failed runs in this session.
    #[error("too many failed authentication attempts in this session")]
    TooManyFailures,
    /// The user's secret is empty or too long.
    #[error("the secret must be 1 to {MAX_SMP_SECRET_BYTES} bytes")]
    Secret,
    /// There is no request from the peer to answer.
    #[error("no authentication request to answer")]
    NothingToAnswer,
}

/// The encrypted session a run belongs to: both fingerprints and the session id.
#[derive(Clone, Copy)]
pub struct Session<'a> {
    /// Our fingerprint.
    pub ours: &'a Fingerprint,
    /// The peer's fingerprint, from the profile the session's DAKE authenticated.
    pub theirs: &'a Fingerprint,
    /// The session id.
    pub ssid: &'a [u8; 8],
}

impl<'a> Session<'a> {
    fn as_initiator(&self) -> Roles<'a> {
        Roles {
            initiator: self.ours,
            responder: self.theirs,
            ssid: self.ssid,
        }
    }

    fn as_responder(&self) -> Roles<'a> {
        Roles {
            initiator: self.theirs,
            responder: self.ours,
            ssid: self.ssid,
        }
    }
}

/// The outcome of a completed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmpResult {
    /// The two secrets were equal.
    pub success: bool,
    /// We sent SMP1.
    pub initiated: bool,
    /// The run carried a question (the initiator chose both the question and the answer).
    pub question: bool,
}

/// What handling one SMP TLV produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpOutput {
    /// Nothing to do (e.g. an abort when nothing was running).
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
    Expect2 { st: Box<AfterSmp1>, question: bool },
    Expect3 { st: Box<AfterSmp2>, question: bool },
    Expect4 { st: Box<AfterSmp3>, question: bool },
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

/// The user's secret as SMP uses it: NFC-normalised UTF-8, wiped on drop.
fn normalise(secret: &str) -> Result<zeroize::Zeroizing<Vec<u8>>, SmpError> {
    let mut nfc: String = secret.nfc().collect();
    let bytes = zeroize::Zeroizing::new(nfc.as_bytes().to_vec());
    nfc.zeroize();
    if bytes.is_empty() || bytes.len() > MAX_SMP_SECRET_BYTES {
        return Err(SmpError::Secret);
    }
    Ok(bytes)
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
        rng: &mut impl rand_core::CryptoRng,
        session: &Session<'_>,
        question: Option<&str>,
        secret: &str,
        now_ms: u64,
    ) -> Result<Vec<Tlv>, SmpError> {
        if self.failures >= MAX_SMP_FAILURES {
            return Err(SmpError::TooManyFailures);
        }
        if question.is_some_and(|q| q.len() > MAX_SMP_QUESTION_BYTES) {
            return Err(SmpError::Question);
        }
        let secret = normalise(secret)?;
        let mut out = Vec::new();
        out.extend(self.abort());
        let roles = session.as_initiator();
        let x = roles.secret(question, &secret);
        let (st, m1) = steps::smp1(rng, &roles, question.map(str::to_string), x);
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
        rng: &mut impl rand_core::CryptoRng,
        session: &Session<'_>,
        secret: &str,
    ) -> Result<Tlv, SmpError> {
        let State::AwaitingSecret(m1) = &self.state else {
            return Err(SmpError::NothingToAnswer);
        };
        let secret = normalise(secret)?;
        let roles = session.as_responder();
        let y = roles.secret(m1.question.as_deref(), &secret);
        let (st, m2) = steps::smp2(rng, &roles, m1, &y);
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

    /// Handles one SMP TLV (types 2..=7) from the peer.
    pub fn handle(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        session: &Session<'_>,
        tlv: &Tlv,
        now_ms: u64,
    ) -> SmpOutput {
        let as_responder = session.as_responder();
        let as_initiator = session.as_initiator();
        match tlv.tlv_type {
            types::SMP_ABORT => match self.abort() {
                Some(_) => SmpOutput::AbortedByPeer,
                None => SmpOutput::None,
            },
            types::SMP1 | types::SMP1Q => {
                if !matches!(self.state, State::Idle) {
                    // Both sides started at once, or the peer restarted without aborting.
                    return self.reject(SmpError::Unexpected);
                }
                if self.failures >= MAX_SMP_FAILURES {
                    return SmpOutput::Rejected {
                        error: SmpError::TooManyFailures,
                        send: abort_tlv(),
                    };
                }
                let m1 = match Smp1::decode(tlv.tlv_type, &tlv.value) {
                    Ok(m) => m,
                    Err(e) => return self.reject(e),
                };
                if let Err(e) = steps::check_smp1(&as_responder, &m1) {
                    return self.reject(e);
                }
                let question = m1.question.clone();
                self.state = State::AwaitingSecret(Box::new(m1));
                self.since = now_ms;
                SmpOutput::Request { question }
            }
            types::SMP2 => {
                let State::Expect2 { st, question } =
                    core::mem::replace(&mut self.state, State::Idle)
                else {
                    return self.reject(SmpError::Unexpected);
                };
                let m2 = match Smp2::decode(&tlv.value) {
                    Ok(m) => m,
                    Err(e) => return self.reject(e),
                };
                match steps::smp3(rng, &as_initiator, *st, &m2) {
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
            types::SMP3 => {
                let State::Expect3 { st, question } =
                    core::mem::replace(&mut self.state, State::Idle)
                else {
                    return self.reject(SmpError::Unexpected);
                };
                let m3 = match Smp3::decode(&tlv.value) {
                    Ok(m) => m,
                    Err(e) => return self.reject(e),
                };
                match steps::smp4(rng, &as_responder, &st, &m3) {
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
            types::SMP4 => {
                let State::Expect4 { st, question } =
                    core::mem::replace(&mut self.state, State::Idle)
                else {
                    return self.reject(SmpError::Unexpected);
                };
                let m4 = match Smp4::decode(&tlv.value) {
                    Ok(m) => m,
                    Err(e) => return self.reject(e),
                };
                match steps::finish(&as_initiator, &st, &m4) {
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
            _ => SmpOutput::None,
        }
    }

    fn count(&mut self, success: bool) {
        if !success {
            self.failures = self.failures.saturating_add(1);
        }
    }
}

/// True for the TLV types the SMP layer consumes.
pub fn is_smp_tlv(tlv_type: u16) -> bool {
    (types::SMP1..=types::SMP1Q).contains(&tlv_type)
}
