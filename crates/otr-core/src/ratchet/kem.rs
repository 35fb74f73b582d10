//! The post-quantum part of the ratchet: ML-KEM offers, answers, and the MIX they lead to.
//!
//! An offer (encapsulation key) and its answer (ciphertext) each travel in a data message of
//! their own, so no typed message carries 1,568 bytes of KEM material. The answerer's chain
//! keys do not depend on the shared secret; the offerer, once it decapsulated, mixes the
//! secret into the root step of its next sending chain and flags that chain's messages MIX;
//! the answerer mixes the same secret when it steps into that chain. Each side has at most
//! one offer of its own and one answered offer of the peer in flight, so MIX is unambiguous,
//! and offers are numbered so a late or repeated line is recognised and ignored.

use super::RatchetError;
use super::keys::kem_binding;
use crate::crypto::CryptoError;
use crate::crypto::mlkem::{CT_LEN, KemCiphertext, KemKeypair, KemPublic};
use crate::secret::Secret;
use crate::wire::data::{FLAG_MIX, KemField};

/// Own sending chains after which KEM material not yet acted on is sent again (the line
/// may have been dropped): a ciphertext until the MIX chain arrives, an encapsulation key
/// (after `kem_every` chains if that is more) until its answer arrives. Not every chain: a
/// pacer sends KEM lines after typed ones, so the peer's next chain often starts before our
/// line arrived, and a re-send on it would mostly be redundant (measured: 3 KEM messages per
/// exchange instead of 2 at kem_every 3 when KEM lines arrive one turn late).
const RESEND_CHAINS: u32 = 2;

/// An ML-KEM shared secret with the binding of its encapsulation key and ciphertext: what
/// a root step mixes in.
pub(super) struct KemSecret {
    pub(super) ss: Secret<32>,
    pub(super) binding: [u8; 32],
}

/// Our offer awaiting the peer's ciphertext.
struct Offer {
    number: u32,
    keys: KemKeypair,
    /// Own chains started since the encapsulation key was last sent.
    chains: u32,
    /// The encapsulation key was sent at least once (a later one is a re-send).
    sent: bool,
}

/// The peer's offer we answered, kept until the peer's MIX chain uses its secret.
pub(super) struct Answer {
    number: u32,
    secret: KemSecret,
    ct: Box<[u8; CT_LEN]>,
    /// Own chains started since the ciphertext was last sent (`None`: not sent yet).
    chains: Option<u32>,
    sent_on_chain: bool,
}

/// What an authenticated message's KEM field does, computed before anything is committed.
pub(super) enum Effect {
    Nothing,
    /// A new offer of the peer, answered (encapsulated) aside.
    Answer(Answer),
    /// The peer repeated the offer we answered: it may not have our ciphertext.
    ResendCiphertext,
    /// The answer to our offer, decapsulated aside.
    Decapsulated(KemSecret),
}

/// KEM bookkeeping of one ratchet.
pub(super) struct KemState {
    kem_every: u32,
    chains_since_kem: u32,
    /// Number of the last offer we made.
    last_offer: u32,
    offer: Option<Offer>,
    /// Our offer's secret, for the root step of our next sending chain.
    mix: Option<KemSecret>,
    answered: Option<Answer>,
    /// Highest peer offer number whose secret entered our root key.
    peer_offers_done: u32,
    /// Our current sending chain mixed a secret in: its messages carry FLAG_MIX.
    send_mix: bool,
    owe_ek: bool,
    owe_ct: bool,
}

impl KemState {
    pub(super) fn new(kem_every: u32) -> Self {
        KemState {
            // At least one plain chain between exchanges: an offer made on the chain that
            // mixed the previous one would let two idle sides trade KEM messages forever.
            kem_every: kem_every.max(1),
            chains_since_kem: 0,
            last_offer: 0,
            offer: None,
            mix: None,
            answered: None,
            peer_offers_done: 0,
            send_mix: false,
            owe_ek: false,
            owe_ct: false,
        }
    }

    /// Makes the next sending chain offer an encapsulation key whatever `kem_every` says
    /// (after a DAKE that deferred its ephemeral ML-KEM exchange).
    pub(super) fn offer_on_next_chain(&mut self) {
        self.chains_since_kem = self.kem_every;
    }

    /// The secret the next sending chain mixes in (taken by the send step).
    pub(super) fn take_mix(&mut self) -> Option<KemSecret> {
        self.mix.take()
    }

    /// After a send step: what the new chain carries and owes.
    pub(super) fn started_chain(&mut self, mixed: bool) -> Result<(), CryptoError> {
        self.send_mix = mixed;
        // `kem_every` chains started since the last exchange: this one offers.
        let due = !mixed && self.chains_since_kem >= self.kem_every;
        self.chains_since_kem = if mixed {
            0
        } else {
            self.chains_since_kem.saturating_add(1)
        };
        self.owe_ct = false;
        self.owe_ek = false;
        if let Some(a) = self.answered.as_mut() {
            a.sent_on_chain = false;
            a.chains = a.chains.map(|c| c.saturating_add(1));
            self.owe_ct = a.chains.is_none_or(|c| c >= RESEND_CHAINS);
        }
        match self.offer.as_mut() {
            Some(o) => {
                o.chains = o.chains.saturating_add(1);
                if o.chains >= self.kem_every.max(RESEND_CHAINS) {
                    self.owe_ek = true;
                }
            }
            None if due && self.answered.is_none() && self.last_offer < u32::MAX => {
                self.last_offer += 1;
                self.offer = Some(Offer {
                    number: self.last_offer,
                    keys: KemKeypair::generate()?,
                    chains: 0,
                    sent: false,
                });
                self.owe_ek = true;
            }
            None => {}
        }
        Ok(())
    }

    /// Flags for a message on the current sending chain.
    pub(super) fn flags(&self, flags: u8) -> u8 {
        if self.send_mix {
            flags | FLAG_MIX
        } else {
            flags & !FLAG_MIX
        }
    }

    /// The secret a new receiving chain mixes in: the answered offer's for a MIX chain (none
    /// held: the message cannot be decrypted).
    pub(super) fn receive_mix(&self, flags: u8) -> Result<Option<&KemSecret>, RatchetError> {
        if flags & FLAG_MIX == 0 {
            return Ok(None);
        }
        match &self.answered {
            Some(a) => Ok(Some(&a.secret)),
            None => Err(RatchetError::NoAnsweredOffer),
        }
    }

    /// What an authenticated message's KEM field does; `mixing` when the message's new chain
    /// uses (and so ends) our answered offer. Changes nothing.
    pub(super) fn effect(&self, field: &KemField, mixing: bool) -> Result<Effect, RatchetError> {
        match field {
            KemField::None => Ok(Effect::Nothing),
            KemField::EncapsKey { offer, ek } => {
                let (answered, done) = match (&self.answered, mixing) {
                    (Some(a), true) => (None, a.number),
                    (a, _) => (a.as_ref(), self.peer_offers_done),
                };
                if *offer <= done {
                    return Ok(Effect::Nothing);
                }
                match answered {
                    Some(a) if a.number == *offer && a.sent_on_chain => return Ok(Effect::Nothing),
                    Some(a) if a.number == *offer => return Ok(Effect::ResendCiphertext),
                    // Older than the one we answered: a late line.
                    Some(a) if a.number > *offer => return Ok(Effect::Nothing),
                    _ => {}
                }
                let ek = KemPublic::from_bytes(ek.as_slice())?;
                let (ct, ss) = ek.encapsulate()?;
                let binding = kem_binding(ek.as_bytes(), ct.as_bytes());
                Ok(Effect::Answer(Answer {
                    number: *offer,
                    secret: KemSecret { ss, binding },
                    ct: Box::new(*ct.as_bytes()),
                    chains: None,
                    sent_on_chain: false,
                }))
            }
            KemField::Ciphertext { offer, ct } => match &self.offer {
                // Anything else is a repeated or late answer: ours is used already.
                Some(o) if o.number == *offer => {
                    let ct = KemCiphertext::from_bytes(ct.as_slice())?;
                    let ss = o.keys.decapsulate(&ct)?;
                    let binding = kem_binding(o.keys.public().as_bytes(), ct.as_bytes());
                    Ok(Effect::Decapsulated(KemSecret { ss, binding }))
                }
                _ => Ok(Effect::Nothing),
            },
        }
    }

    /// Commits a received message: `mixed` when its new chain used our answered offer.
    pub(super) fn received(&mut self, mixed: bool, effect: Effect) {
        if mixed && let Some(a) = self.answered.take() {
            self.peer_offers_done = a.number;
            self.chains_since_kem = 0;
        }
        match effect {
            Effect::Nothing => {}
            Effect::Answer(a) => {
                self.answered = Some(a);
                self.owe_ct = true;
            }
            Effect::ResendCiphertext => self.owe_ct = true,
            Effect::Decapsulated(s) => {
                self.mix = Some(s);
                self.offer = None;
                self.owe_ek = false;
            }
        }
    }

    /// The KEM material the current sending chain still owes the peer, one field at a time.
    /// Without `resend`, what was sent before stays owed instead (its earlier copy may still
    /// wait in the sender's queue) and only first sends come out.
    pub(super) fn next_owed(&mut self, resend: bool) -> Option<KemField> {
        let offer_is_resend = self.offer.as_ref().is_some_and(|o| o.sent);
        if self.owe_ek && (resend || !offer_is_resend) {
            self.owe_ek = false;
            if let Some(o) = self.offer.as_mut() {
                o.chains = 0;
                o.sent = true;
                return Some(KemField::EncapsKey {
                    offer: o.number,
                    ek: Box::new(*o.keys.public().as_bytes()),
                });
            }
        }
        let answer_is_resend = self.answered.as_ref().is_some_and(|a| a.chains.is_some());
        if self.owe_ct && (resend || !answer_is_resend) {
            self.owe_ct = false;
            if let Some(a) = self.answered.as_mut() {
                a.chains = Some(0);
                a.sent_on_chain = true;
                return Some(KemField::Ciphertext {
                    offer: a.number,
                    ct: a.ct.clone(),
                });
            }
        }
        None
    }

    /// Whether our offer is outstanding, for tests and the state digest.
    #[cfg(any(test, feature = "test-utils"))]
    pub(super) fn offer_number(&self) -> Option<u32> {
        self.offer.as_ref().map(|o| o.number)
    }

    /// The number of the peer's offer we answered and wait to see mixed, for tests.
    #[cfg(test)]
    pub(super) fn answered_number(&self) -> Option<u32> {
        self.answered.as_ref().map(|a| a.number)
    }

    /// The answered offer's secret, for tests that derive a chain by hand.
    #[cfg(test)]
    pub(super) fn answered_secret(&self) -> Option<&KemSecret> {
        self.answered.as_ref().map(|a| &a.secret)
    }

    /// Drops the answered offer, so tests can show a MIX chain is then refused.
    #[cfg(test)]
    pub(super) fn forget_answer(&mut self) {
        self.answered = None;
    }

    /// Everything that identifies this state (public parts and counters), for tests that
    /// check a rejected message changed nothing.
    #[cfg(any(test, feature = "test-utils"))]
    pub(super) fn digest_parts(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for n in [
            self.chains_since_kem,
            self.last_offer,
            self.offer_number().unwrap_or(0),
            self.offer.as_ref().map_or(0, |o| o.chains),
            self.answered.as_ref().map_or(0, |a| a.number),
            self.answered
                .as_ref()
                .and_then(|a| a.chains)
                .map_or(u32::MAX, |c| c),
            self.peer_offers_done,
            u32::from(self.mix.is_some()),
            u32::from(self.send_mix),
            u32::from(self.owe_ek),
            u32::from(self.owe_ct),
            u32::from(self.answered.as_ref().is_some_and(|a| a.sent_on_chain)),
        ] {
            v.extend_from_slice(&n.to_be_bytes());
        }
        if let Some(a) = &self.answered {
            v.extend_from_slice(a.ct.as_slice());
            v.extend_from_slice(&a.secret.binding);
        }
        if let Some(m) = &self.mix {
            v.extend_from_slice(&m.binding);
        }
        v
    }
}
