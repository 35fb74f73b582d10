//! The OTRv3 authenticated key exchange (a SIGMA variant): D-H Commit, D-H Key, Reveal
//! Signature, Signature, with the spec's authentication state machine including the commit
//! collision rule and retransmissions.
//!
//! The side that sends the D-H Commit is "Bob" in the spec's text and signs with `c, m1, m2`;
//! the side that answers with the D-H Key is "Alice" and signs with `c', m1', m2'`.

use crypto_bigint::U1536;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::codec::{Reader, Writer};
use crate::crypto::{self, CryptoError};
use crate::dh::{DhKeyPair, be_trimmed};
use crate::dsa::{PrivateKey, PublicKey};
use crate::group;
use crate::message::Message;

/// The key id our AKE D-H key gets (libotr's choice; the data keys continue from it).
pub const AKE_KEYID: u32 = 1;

/// Why an AKE message was refused. The state machine ignores such messages (as the spec
/// says); the reason is reported for diagnostics only and carries no secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AkeError {
    /// A D-H value outside 2..=p-2.
    #[error("invalid D-H value")]
    BadDhValue,
    /// The revealed key does not open the commitment to the D-H value.
    #[error("the revealed D-H value does not match its commitment")]
    BadCommitment,
    /// A MAC did not verify.
    #[error("bad MAC")]
    BadMac,
    /// The decrypted signature block is malformed.
    #[error("malformed signature block")]
    Malformed,
    /// The peer's signature did not verify.
    #[error("bad signature")]
    BadSignature,
    /// The key id is 0.
    #[error("invalid key id")]
    BadKeyId,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// What an AKE produced: everything the data phase and SMP need.
pub struct AkeOutcome {
    /// Our D-H key pair of the AKE (it becomes the data phase's previous key).
    pub our_dh: DhKeyPair,
    /// Its key id.
    pub our_keyid: u32,
    /// The peer's D-H public key.
    pub their_dh: U1536,
    /// Its key id.
    pub their_keyid: u32,
    /// The peer's long-term DSA key, which signed this exchange.
    pub their_long_term: PublicKey,
    /// The secure session id.
    pub ssid: [u8; 8],
    /// We sent the Reveal Signature message (libotr then shows the ssid's first half bold).
    pub we_revealed: bool,
}

/// The result of feeding one AKE message.
pub enum AkeOutput {
    /// Nothing to do (ignored, as the spec says for messages that do not fit the state).
    Nothing,
    /// Send this message.
    Send(Message),
    /// The exchange completed; send `send` if present (our Signature message).
    Done {
        /// The last message, when we answered a Reveal Signature.
        send: Option<Message>,
        /// The keys.
        outcome: Box<AkeOutcome>,
    },
    /// The message was refused and ignored.
    Refused(AkeError),
}

/// The AKE's derived keys (from `h2` over the shared secret).
struct AkeKeys {
    ssid: [u8; 8],
    c: Zeroizing<[u8; 16]>,
    c_prime: Zeroizing<[u8; 16]>,
    m1: Zeroizing<[u8; 32]>,
    m2: Zeroizing<[u8; 32]>,
    m1_prime: Zeroizing<[u8; 32]>,
    m2_prime: Zeroizing<[u8; 32]>,
}

impl AkeKeys {
    fn derive(secbytes: &[u8]) -> AkeKeys {
        let h0 = crypto::h2(0x00, secbytes);
        let h1 = crypto::h2(0x01, secbytes);
        let mut ssid = [0u8; 8];
        ssid.copy_from_slice(h0.get(..8).unwrap_or(&[0; 8]));
        let half = |range: std::ops::Range<usize>| {
            let mut k = Zeroizing::new([0u8; 16]);
            k.copy_from_slice(h1.get(range).unwrap_or(&[0; 16]));
            k
        };
        AkeKeys {
            ssid,
            c: half(0..16),
            c_prime: half(16..32),
            m1: crypto::h2(0x02, secbytes),
            m2: crypto::h2(0x03, secbytes),
            m1_prime: crypto::h2(0x04, secbytes),
            m2_prime: crypto::h2(0x05, secbytes),
        }
    }
}

// One per peer instance and rarely moved: boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
enum State {
    None,
    /// We sent a D-H Commit.
    AwaitingDhKey {
        r: Zeroizing<[u8; 16]>,
        ours: DhKeyPair,
        encrypted_gx: Vec<u8>,
        hashed_gx: [u8; 32],
    },
    /// We answered a D-H Commit with a D-H Key.
    AwaitingRevealSig {
        ours: DhKeyPair,
        their_encrypted_gx: Vec<u8>,
        their_hashed_gx: Vec<u8>,
    },
    /// We sent a Reveal Signature.
    AwaitingSig {
        ours: DhKeyPair,
        their_gy: U1536,
        keys: Box<AkeKeys>,
        reveal: Message,
    },
}

/// One AKE's state (per peer instance).
pub struct Ake {
    state: State,
}

impl Default for Ake {
    fn default() -> Self {
        Ake::new()
    }
}

/// HMAC-SHA256-160 of `DATA(encrypted)`.
fn sig_mac(key: &[u8], encrypted: &[u8]) -> Result<[u8; 20], CryptoError> {
    let data = Writer::new().data(encrypted).finish();
    let full = crypto::hmac_sha256(key, &[&data])?;
    let mut out = [0u8; 20];
    out.copy_from_slice(full.get(..20).ok_or(CryptoError)?);
    Ok(out)
}

/// `X = pub || keyid || sig(M)` with `M = HMAC_m(first MPI || second MPI || pub || keyid)`,
/// encrypted under `c`, and its MAC under `mac_key`.
fn sign_block<R: CryptoRng>(
    rng: &mut R,
    long_term: &PrivateKey,
    first: &U1536,
    second: &U1536,
    m: &[u8; 32],
    c: &[u8; 16],
    mac_key: &[u8; 32],
) -> Result<(Vec<u8>, [u8; 20]), AkeError> {
    let pubkey = long_term.public().to_bytes();
    let keyid = AKE_KEYID.to_be_bytes();
    let digest = crypto::hmac_sha256(
        m,
        &[
            &group::to_mpi(first),
            &group::to_mpi(second),
            &pubkey,
            &keyid,
        ],
    )?;
    let sig = long_term.sign(rng, &digest);
    let mut x = Writer::new();
    x.raw(&pubkey).raw(&keyid).raw(&sig);
    let mut block = x.finish();
    crypto::aes_ctr(c, &[0; 8], &mut block);
    let mac = sig_mac(mac_key, &block)?;
    Ok((block, mac))
}

/// Checks and opens the peer's signature block; returns its long-term key and key id.
fn verify_block(
    encrypted: &[u8],
    mac: &[u8; 20],
    first: &U1536,
    second: &U1536,
    m: &[u8; 32],
    c: &[u8; 16],
    mac_key: &[u8; 32],
) -> Result<(PublicKey, u32), AkeError> {
    if !crypto::mac_eq(&sig_mac(mac_key, encrypted)?, mac) {
        return Err(AkeError::BadMac);
    }
    let mut x = encrypted.to_vec();
    crypto::aes_ctr(c, &[0; 8], &mut x);
    let mut r = Reader::new(&x);
    let public = PublicKey::decode(&mut r).map_err(|_| AkeError::Malformed)?;
    let pub_len = x.len().saturating_sub(r.remaining());
    let pub_raw = x.get(..pub_len).ok_or(AkeError::Malformed)?;
    let keyid = r.u32("keyid").map_err(|_| AkeError::Malformed)?;
    if keyid == 0 {
        return Err(AkeError::BadKeyId);
    }
    let sig = r.rest();
    if sig.len() != public.sig_len() {
        return Err(AkeError::Malformed);
    }
    let digest = crypto::hmac_sha256(
        m,
        &[
            &group::to_mpi(first),
            &group::to_mpi(second),
            pub_raw,
            &keyid.to_be_bytes(),
        ],
    )?;
    public
        .verify(&digest, sig)
        .map_err(|_| AkeError::BadSignature)?;
    Ok((public, keyid))
}

impl Ake {
    /// No exchange running.
    pub fn new() -> Ake {
        Ake { state: State::None }
    }

    /// Whether an exchange is running.
    pub fn in_progress(&self) -> bool {
        !matches!(self.state, State::None)
    }

    /// A copy of an exchange that awaits a D-H Key, for a second instance of the peer that
    /// answered the same D-H Commit (our commit went to receiver tag 0, so every instance of
    /// the peer may answer it; each answer gets its own exchange, as libotr does).
    pub fn fork_awaiting_dh_key(&self) -> Option<Ake> {
        let State::AwaitingDhKey {
            r,
            ours,
            encrypted_gx,
            hashed_gx,
        } = &self.state
        else {
            return None;
        };
        Some(Ake {
            state: State::AwaitingDhKey {
                r: r.clone(),
                ours: ours.duplicate(),
                encrypted_gx: encrypted_gx.clone(),
                hashed_gx: *hashed_gx,
            },
        })
    }

    /// Whether we sent a D-H Commit and wait for the D-H Key.
    pub fn awaiting_dh_key(&self) -> bool {
        matches!(self.state, State::AwaitingDhKey { .. })
    }

    /// Forgets any exchange in progress.
    pub fn reset(&mut self) {
        self.state = State::None;
    }

    /// Starts an exchange: returns our D-H Commit.
    pub fn start<R: CryptoRng>(&mut self, rng: &mut R) -> Message {
        let ours = DhKeyPair::generate(rng);
        let mut r = Zeroizing::new([0u8; 16]);
        rng.fill_bytes(r.as_mut());
        let gx_mpi = group::to_mpi(ours.public());
        let hashed_gx = crypto::sha256(&[&gx_mpi]);
        let mut encrypted_gx = gx_mpi;
        crypto::aes_ctr(&r, &[0; 8], &mut encrypted_gx);
        let msg = Message::DhCommit {
            encrypted_gx: encrypted_gx.clone(),
            hashed_gx: hashed_gx.to_vec(),
        };
        self.state = State::AwaitingDhKey {
            r,
            ours,
            encrypted_gx,
            hashed_gx,
        };
        msg
    }

    /// Feeds one AKE message from the peer. `long_term` is our DSA key.
    pub fn handle<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        msg: &Message,
        long_term: &PrivateKey,
    ) -> AkeOutput {
        match msg {
            Message::DhCommit {
                encrypted_gx,
                hashed_gx,
            } => self.on_commit(rng, encrypted_gx, hashed_gx),
            Message::DhKey { gy } => self.on_dh_key(rng, gy, long_term),
            Message::RevealSignature {
                revealed_key,
                encrypted_sig,
                mac,
            } => self.on_reveal(rng, revealed_key, encrypted_sig, mac, long_term),
            Message::Signature { encrypted_sig, mac } => self.on_signature(encrypted_sig, mac),
            Message::Data(_) => AkeOutput::Nothing,
        }
    }

    fn on_commit<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        encrypted_gx: &[u8],
        hashed_gx: &[u8],
    ) -> AkeOutput {
        let ours = match std::mem::replace(&mut self.state, State::None) {
            State::AwaitingDhKey {
                r,
                ours,
                encrypted_gx: our_enc,
                hashed_gx: our_hash,
            } => {
                // Both sent a commit: the higher hash (as a big-endian number) keeps its own.
                if our_hash.as_slice() > hashed_gx {
                    let resend = Message::DhCommit {
                        encrypted_gx: our_enc.clone(),
                        hashed_gx: our_hash.to_vec(),
                    };
                    self.state = State::AwaitingDhKey {
                        r,
                        ours,
                        encrypted_gx: our_enc,
                        hashed_gx: our_hash,
                    };
                    return AkeOutput::Send(resend);
                }
                DhKeyPair::generate(rng)
            }
            // Retransmit the same D-H Key, with the new commit's values.
            State::AwaitingRevealSig { ours, .. } => ours,
            State::None | State::AwaitingSig { .. } => DhKeyPair::generate(rng),
        };
        let reply = Message::DhKey {
            gy: be_trimmed(ours.public()),
        };
        self.state = State::AwaitingRevealSig {
            ours,
            their_encrypted_gx: encrypted_gx.to_vec(),
            their_hashed_gx: hashed_gx.to_vec(),
        };
        AkeOutput::Send(reply)
    }

    fn on_dh_key<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        gy: &[u8],
        long_term: &PrivateKey,
    ) -> AkeOutput {
        match &self.state {
            State::AwaitingDhKey { .. } => {}
            State::AwaitingSig {
                their_gy, reveal, ..
            } => {
                // The same D-H Key again: our Reveal Signature was lost; anything else is ignored.
                return match group::from_be(gy) {
                    Ok(v) if v == *their_gy => AkeOutput::Send(reveal.clone()),
                    _ => AkeOutput::Nothing,
                };
            }
            State::None | State::AwaitingRevealSig { .. } => return AkeOutput::Nothing,
        }
        let their_gy = match group::element_from_be(gy) {
            Ok(v) => v,
            Err(_) => return AkeOutput::Refused(AkeError::BadDhValue),
        };
        let State::AwaitingDhKey { r, ours, .. } = std::mem::replace(&mut self.state, State::None)
        else {
            return AkeOutput::Nothing;
        };
        let keys = Box::new(AkeKeys::derive(&ours.secbytes(&their_gy)));
        let block = sign_block(
            rng,
            long_term,
            ours.public(),
            &their_gy,
            &keys.m1,
            &keys.c,
            &keys.m2,
        );
        let (encrypted_sig, mac) = match block {
            Ok(b) => b,
            Err(e) => return AkeOutput::Refused(e),
        };
        let reveal = Message::RevealSignature {
            revealed_key: r.to_vec(),
            encrypted_sig,
            mac,
        };
        self.state = State::AwaitingSig {
            ours,
            their_gy,
            keys,
            reveal: reveal.clone(),
        };
        AkeOutput::Send(reveal)
    }

    fn on_reveal<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        revealed_key: &[u8],
        encrypted_sig: &[u8],
        mac: &[u8; 20],
        long_term: &PrivateKey,
    ) -> AkeOutput {
        let State::AwaitingRevealSig {
            ours,
            their_encrypted_gx,
            their_hashed_gx,
        } = &self.state
        else {
            return AkeOutput::Nothing;
        };
        let result = (|| {
            let r: [u8; 16] = revealed_key.try_into().map_err(|_| AkeError::Malformed)?;
            let mut gx_mpi = their_encrypted_gx.clone();
            crypto::aes_ctr(&r, &[0; 8], &mut gx_mpi);
            if !crypto::mac_eq(&crypto::sha256(&[&gx_mpi]), their_hashed_gx) {
                return Err(AkeError::BadCommitment);
            }
            let mut rd = Reader::new(&gx_mpi);
            let gx = rd.mpi("gx").map_err(|_| AkeError::BadDhValue)?;
            rd.finish().map_err(|_| AkeError::BadDhValue)?;
            let their_gx = group::element_from_be(gx).map_err(|_| AkeError::BadDhValue)?;
            let keys = AkeKeys::derive(&ours.secbytes(&their_gx));
            let (their_long_term, their_keyid) = verify_block(
                encrypted_sig,
                mac,
                &their_gx,
                ours.public(),
                &keys.m1,
                &keys.c,
                &keys.m2,
            )?;
            let (enc, mac) = sign_block(
                rng,
                long_term,
                ours.public(),
                &their_gx,
                &keys.m1_prime,
                &keys.c_prime,
                &keys.m2_prime,
            )?;
            Ok((their_gx, their_long_term, their_keyid, keys.ssid, enc, mac))
        })();
        match result {
            Err(e) => AkeOutput::Refused(e),
            Ok((their_dh, their_long_term, their_keyid, ssid, encrypted_sig, mac)) => {
                let State::AwaitingRevealSig { ours, .. } =
                    std::mem::replace(&mut self.state, State::None)
                else {
                    return AkeOutput::Nothing;
                };
                AkeOutput::Done {
                    send: Some(Message::Signature { encrypted_sig, mac }),
                    outcome: Box::new(AkeOutcome {
                        our_dh: ours,
                        our_keyid: AKE_KEYID,
                        their_dh,
                        their_keyid,
                        their_long_term,
                        ssid,
                        we_revealed: false,
                    }),
                }
            }
        }
    }

    fn on_signature(&mut self, encrypted_sig: &[u8], mac: &[u8; 20]) -> AkeOutput {
        let State::AwaitingSig {
            ours,
            their_gy,
            keys,
            ..
        } = &self.state
        else {
            return AkeOutput::Nothing;
        };
        match verify_block(
            encrypted_sig,
            mac,
            their_gy,
            ours.public(),
            &keys.m1_prime,
            &keys.c_prime,
            &keys.m2_prime,
        ) {
            Err(e) => AkeOutput::Refused(e),
            Ok((their_long_term, their_keyid)) => {
                let State::AwaitingSig {
                    ours,
                    their_gy,
                    keys,
                    ..
                } = std::mem::replace(&mut self.state, State::None)
                else {
                    return AkeOutput::Nothing;
                };
                AkeOutput::Done {
                    send: None,
                    outcome: Box::new(AkeOutcome {
                        our_dh: ours,
                        our_keyid: AKE_KEYID,
                        their_dh: their_gy,
                        their_keyid,
                        their_long_term,
                        ssid: keys.ssid,
                        we_revealed: true,
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
