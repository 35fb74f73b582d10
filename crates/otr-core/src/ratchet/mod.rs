//! The double ratchet of OTRv4+: an X448 Diffie-Hellman ratchet (Signal's construction) with
//! ML-KEM-1024 mixed into the root key every few turns.
//!
//! * Every DH ratchet step runs `RK', CK = KDF(RK, DH)`; on a KEM step the ML-KEM shared secret
//!   and a hash of the encapsulation key and ciphertext join the input.
//! * KEM steps (module `kem`): once a party has started `kem_every` sending chains since the last
//!   completed exchange, it offers an encapsulation key in a message of its own; the peer
//!   answers at once with a ciphertext in a message of its own; the offerer mixes the secret
//!   into the root step of its next sending chain, whose messages carry `FLAG_MIX`. Typed
//!   messages never carry KEM material, so a short one stays one IRC line.
//! * Each message key (AES-256 key and 96-bit nonce, both derived) is used once.
//! * Decryption is trial-then-commit: everything is computed on the side, and the state changes
//!   only after the AEAD tag verified.
//! * Skipped keys are bounded per chain ([`MAX_SKIP_PER_CHAIN`]) and in total.
//! * After a DAKE that deferred its ephemeral ML-KEM exchange (a PSK-offering Identity), the
//!   responder's first sending chain offers an encapsulation key at once, and the root key
//!   after the session's first KEM mix yields a renewed resumption PSK
//!   ([`Ratchet::take_renewed_psk`]), so a leaked PSK stops opening later sessions once that
//!   exchange has completed on both sides.

mod kem;
mod keys;
mod skipped;

use crate::crypto::CryptoError;
use crate::crypto::aead;
use crate::crypto::kdf::{Usage, derive, hash};
use crate::crypto::x448::{X448Public, X448Secret};
use crate::dake::{DakeOutput, ResumptionPsk, Role};
use crate::limits::MAX_SKIP_PER_CHAIN;
use crate::secret::Secret;
use crate::wire::data::{DataMessage, FLAG_IGNORE_UNREADABLE, KemField};
use crate::wire::{Header, MessageType};
use kem::KemState;
use keys::{MessageKey, chain_step, root_step};
use skipped::SkippedKeys;

/// Default number of chains between KEM steps.
pub const DEFAULT_KEM_EVERY: u32 = 3;

/// Why a data message was not accepted. The ratchet state is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RatchetError {
    /// A primitive failed (for example a low-order ratchet key).
    #[error("ratchet cryptographic failure: {0}")]
    Crypto(#[from] CryptoError),
    /// Instance tags do not belong to this session.
    #[error("instance tag mismatch")]
    InstanceTag,
    /// The message was already received, or its key is gone.
    #[error("duplicate or expired message")]
    Duplicate,
    /// The message would require skipping more keys than allowed.
    #[error("too many skipped messages")]
    TooManySkipped,
    /// A new chain flagged MIX arrived but we hold no answered offer whose secret it could
    /// have mixed in: it cannot be decrypted.
    #[error("MIX chain without an answered KEM offer")]
    NoAnsweredOffer,
    /// The message does not authenticate.
    #[error("message does not authenticate")]
    Unreadable,
    /// The sending chain reached its message-number limit; the session must be re-keyed.
    #[error("sending chain exhausted")]
    ChainExhausted,
}

/// Counters exposed for tests and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RatchetStats {
    /// DH ratchet steps taken on receipt of a new ratchet key.
    pub dh_steps: u64,
    /// Root steps that mixed in an ML-KEM shared secret.
    pub kem_steps: u64,
    /// Skipped keys currently stored.
    pub skipped_keys: usize,
    /// Dedicated KEM messages produced (offers and answers, re-sent ones included).
    pub kem_messages: u64,
}

/// Double-ratchet state for one session.
pub struct Ratchet {
    our_tag: u32,
    their_tag: u32,
    root: Secret<32>,
    dhs: X448Secret,
    dhr: X448Public,
    cks: Secret<32>,
    ckr: Option<Secret<32>>,
    ns: u32,
    nr: u32,
    pn: u32,
    kem: KemState,
    skipped: SkippedKeys,
    stats: RatchetStats,
    /// The resumption PSK derived at the session's first KEM mix, until taken.
    renewed_psk: Option<ResumptionPsk>,
    /// The first KEM mix happened (its PSK was derived).
    renewal_done: bool,
}

/// Derives the keys from position `from` up to `to` of a chain: the skipped keys for
/// `from..to`, the key for `to`, and the chain key after `to`.
fn walk(
    ck: &Secret<32>,
    from: u32,
    to: u32,
    ratchet_key: &X448Public,
) -> (Vec<(X448Public, u32, MessageKey)>, MessageKey, Secret<32>) {
    let mut skipped = Vec::with_capacity(to.saturating_sub(from) as usize);
    let (mut mk, mut next) = chain_step(ck);
    for i in from..to {
        skipped.push((*ratchet_key, i, mk));
        let (m, n) = chain_step(&next);
        mk = m;
        next = n;
    }
    (skipped, mk, next)
}

impl Ratchet {
    /// Starts the ratchet from a completed DAKE.
    ///
    /// The initiator already holds the responder's ratchet key (X_R) and sends on
    /// `KDF(RK0, X448(x_I, X_R))`. The responder receives on that chain and immediately
    /// ratchets forward with a fresh key, so both can send at once.
    pub fn new(
        rng: &mut impl rand_core::CryptoRng,
        dake: DakeOutput,
        our_tag: u32,
        kem_every: u32,
    ) -> Result<Self, CryptoError> {
        let dh = dake.our_ratchet.diffie_hellman(&dake.their_ratchet)?;
        let step = root_step(&dake.root, &dh, None);
        let (cks, ckr) = match dake.role {
            Role::Initiator => (step.chain, None),
            // Placeholder until the send step below replaces it.
            Role::Responder => (Secret::from_array(&mut [0; 32]), Some(step.chain)),
        };
        let mut kem = KemState::new(kem_every);
        if dake.kem_deferred && dake.role == Role::Responder {
            // The DAKE carried no ephemeral ML-KEM exchange: our first chain offers one.
            kem.offer_on_next_chain();
        }
        let mut r = Ratchet {
            our_tag,
            their_tag: dake.their_tag,
            root: step.root,
            dhs: dake.our_ratchet,
            dhr: dake.their_ratchet,
            cks,
            ckr,
            ns: 0,
            nr: 0,
            pn: 0,
            kem,
            skipped: SkippedKeys::default(),
            stats: RatchetStats::default(),
            renewed_psk: None,
            renewal_done: false,
        };
        if dake.role == Role::Responder {
            r.send_step(rng)?;
            r.pn = 0;
        }
        Ok(r)
    }

    /// Counters for tests and diagnostics.
    pub fn stats(&self) -> RatchetStats {
        RatchetStats {
            skipped_keys: self.skipped.len(),
            ..self.stats
        }
    }

    /// A digest of the whole ratchet state, so tests can assert that a rejected message
    /// changed nothing.
    #[cfg(any(test, feature = "test-utils"))]
    pub fn state_digest(&self) -> [u8; 32] {
        use crate::crypto::kdf::{Usage, hash};
        let counters = [self.ns, self.nr, self.pn, self.skipped.len() as u32];
        let counters: Vec<u8> = counters.iter().flat_map(|c| c.to_be_bytes()).collect();
        let ckr: &[u8] = self.ckr.as_ref().map_or(&[], |c| c.expose());
        let kem = self.kem.digest_parts();
        let skipped = self.skipped.digest();
        hash(
            Usage::Fingerprint,
            &[
                self.root.expose(),
                self.cks.expose(),
                ckr,
                self.dhs.public(),
                &self.dhr,
                &counters,
                &kem,
                &skipped,
            ],
        )
    }

    /// The peer's instance tag.
    pub fn their_tag(&self) -> u32 {
        self.their_tag
    }

    /// The resumption PSK derived from the root key right after this session's first ML-KEM
    /// mix (both sides derive the same one once each has taken that root step), once.
    pub fn take_renewed_psk(&mut self) -> Option<ResumptionPsk> {
        self.renewed_psk.take()
    }

    /// Derives the renewed PSK after the first root step that mixed a KEM secret.
    fn note_mix(&mut self) {
        self.stats.kem_steps += 1;
        if !self.renewal_done {
            self.renewal_done = true;
            self.renewed_psk = Some(ResumptionPsk {
                id: hash(Usage::RenewedPskId, &[self.root.expose()]),
                secret: derive(Usage::RenewedPsk, &[self.root.expose()]),
            });
        }
    }

    /// Starts a new sending chain: fresh X448 key, our decapsulated KEM secret if we hold
    /// one (the chain is then flagged MIX), and the KEM material the chain owes.
    fn send_step(&mut self, rng: &mut impl rand_core::CryptoRng) -> Result<(), CryptoError> {
        let new_dhs = X448Secret::generate(rng);
        let dh = new_dhs.diffie_hellman(&self.dhr)?;
        let mix = self.kem.take_mix();
        let step = root_step(&self.root, &dh, mix.as_ref().map(|m| (&m.ss, &m.binding)));
        self.root = step.root;
        if mix.is_some() {
            self.note_mix();
        }
        self.cks = step.chain;
        self.dhs = new_dhs;
        self.pn = self.ns;
        self.ns = 0;
        self.kem.started_chain(mix.is_some())
    }

    /// Encrypts a payload (`text [NUL TLVs]`) into a data message. It carries no KEM
    /// material; [`Ratchet::kem_message`] sends that separately.
    pub fn encrypt(&mut self, flags: u8, payload: &[u8]) -> Result<DataMessage, RatchetError> {
        self.seal(flags, KemField::None, payload)
    }

    /// The next dedicated KEM message the current sending chain owes the peer (our offer,
    /// or the answer to the peer's), with `payload` (an empty, padded one) and the
    /// IGNORE_UNREADABLE flag; `None` when nothing is owed. Call until `None` after every
    /// accepted message: an offer and an answer may both be due.
    pub fn kem_message(&mut self, payload: &[u8]) -> Result<Option<DataMessage>, RatchetError> {
        self.kem_message_with(payload, true)
    }

    /// [`Ratchet::kem_message`]; without `resend`, an offer or answer sent before stays owed
    /// (for a sender whose earlier copy has not left its queue yet) and only first sends come.
    pub fn kem_message_with(
        &mut self,
        payload: &[u8],
        resend: bool,
    ) -> Result<Option<DataMessage>, RatchetError> {
        if self.ns == u32::MAX {
            return Err(RatchetError::ChainExhausted);
        }
        let Some(kem) = self.kem.next_owed(resend) else {
            return Ok(None);
        };
        self.stats.kem_messages += 1;
        self.seal(FLAG_IGNORE_UNREADABLE, kem, payload).map(Some)
    }

    fn seal(
        &mut self,
        flags: u8,
        kem: KemField,
        payload: &[u8],
    ) -> Result<DataMessage, RatchetError> {
        if self.ns == u32::MAX {
            return Err(RatchetError::ChainExhausted);
        }
        let (mk, next) = chain_step(&self.cks);
        let mut msg = DataMessage {
            header: Header {
                msg_type: MessageType::Data,
                sender: self.our_tag,
                receiver: self.their_tag,
            },
            flags: self.kem.flags(flags),
            pn: self.pn,
            n: self.ns,
            ratchet_key: *self.dhs.public(),
            kem,
            ciphertext: Vec::new(),
        };
        let ad = msg.associated_data();
        msg.ciphertext = aead::seal(&mk.key(), &mk.nonce(), &ad, payload)?;
        self.cks = next;
        self.ns += 1;
        Ok(msg)
    }

    /// Decrypts a data message; the state changes only if it authenticates.
    pub fn decrypt(
        &mut self,
        rng: &mut impl rand_core::CryptoRng,
        msg: &DataMessage,
    ) -> Result<Vec<u8>, RatchetError> {
        if msg.header.sender != self.their_tag || msg.header.receiver != self.our_tag {
            return Err(RatchetError::InstanceTag);
        }
        let ad = msg.associated_data();
        let open = |mk: &MessageKey| {
            aead::open(&mk.key(), &mk.nonce(), &ad, &msg.ciphertext)
                .map_err(|_| RatchetError::Unreadable)
        };

        if let Some(mk) = self.skipped.get(&msg.ratchet_key, msg.n) {
            let pt = open(mk)?;
            let effect = self.kem.effect(&msg.kem, false)?;
            self.skipped.remove(&msg.ratchet_key, msg.n);
            self.kem.received(false, effect);
            return Ok(pt);
        }

        if msg.ratchet_key == self.dhr {
            let ckr = self.ckr.as_ref().ok_or(RatchetError::Unreadable)?;
            if msg.n < self.nr {
                return Err(RatchetError::Duplicate);
            }
            if msg.n - self.nr > MAX_SKIP_PER_CHAIN {
                return Err(RatchetError::TooManySkipped);
            }
            let (skipped, mk, next) = walk(ckr, self.nr, msg.n, &self.dhr);
            let pt = open(&mk)?;
            let effect = self.kem.effect(&msg.kem, false)?;
            self.skipped.extend(skipped);
            self.ckr = Some(next);
            self.nr = msg.n + 1;
            self.kem.received(false, effect);
            return Ok(pt);
        }

        // A new ratchet key: the peer started a new chain.
        if msg.pn.saturating_sub(self.nr) > MAX_SKIP_PER_CHAIN || msg.n > MAX_SKIP_PER_CHAIN {
            return Err(RatchetError::TooManySkipped);
        }
        let old_skipped = match &self.ckr {
            Some(ckr) if msg.pn > self.nr => {
                let (mut s, last, _) = walk(ckr, self.nr, msg.pn - 1, &self.dhr);
                s.push((self.dhr, msg.pn - 1, last));
                s
            }
            _ => Vec::new(),
        };
        let mix = self.kem.receive_mix(msg.flags)?;
        let mixed = mix.is_some();
        let dh = self.dhs.diffie_hellman(&msg.ratchet_key)?;
        let step = root_step(&self.root, &dh, mix.map(|m| (&m.ss, &m.binding)));
        let (new_skipped, mk, next) = walk(&step.chain, 0, msg.n, &msg.ratchet_key);
        let pt = open(&mk)?;
        let effect = self.kem.effect(&msg.kem, mixed)?;

        // Authenticated: commit.
        self.skipped.extend(old_skipped);
        self.skipped.extend(new_skipped);
        self.root = step.root;
        self.dhr = msg.ratchet_key;
        self.ckr = Some(next);
        self.nr = msg.n + 1;
        self.stats.dh_steps += 1;
        if mixed {
            self.note_mix();
        }
        self.kem.received(mixed, effect);
        self.send_step(rng)?;
        Ok(pt)
    }
}

#[cfg(test)]
mod tests;
