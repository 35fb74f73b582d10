//! The key management of OTRv3 data messages: our two most recent D-H key pairs, the peer's
//! two most recent public keys, the session keys of each pairing, counters, and the MAC keys
//! to reveal once their D-H keys are forgotten (which is what makes transcripts forgeable).

use crypto_bigint::U1536;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::crypto::{self, CryptoError};
use crate::dh::DhKeyPair;
use crate::group;
use crate::limits::MAX_REVEALED_MAC_BYTES;
use crate::message::{DataMessage, Header, data_authenticated};

/// Why a data message could not be read or sent. None carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The key ids are not the current or previous ones (or 0).
    #[error("unknown key id")]
    UnknownKey,
    /// The MAC did not verify.
    #[error("bad MAC")]
    BadMac,
    /// The counter did not increase (a replay).
    #[error("counter not increasing")]
    Replay,
    /// The peer's next D-H key is not a valid group element.
    #[error("invalid next D-H key")]
    BadKey,
    /// The sending counter is exhausted (2^64 messages under one key pair).
    #[error("counter exhausted")]
    Exhausted,
    /// A primitive failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// The keys of one (our key, their key) pairing.
struct SessionKeys {
    our_keyid: u32,
    their_keyid: u32,
    send_aes: Zeroizing<[u8; 16]>,
    send_mac: Zeroizing<[u8; 20]>,
    recv_aes: Zeroizing<[u8; 16]>,
    recv_mac: Zeroizing<[u8; 20]>,
    send_ctr: u64,
    recv_ctr: u64,
    recv_mac_used: bool,
}

impl SessionKeys {
    fn derive(our: &DhKeyPair, our_keyid: u32, their: &U1536, their_keyid: u32) -> SessionKeys {
        let secbytes = our.secbytes(their);
        // The end with the numerically greater public key is "high" and sends with byte 1.
        let (send_byte, recv_byte) = if our.public() > their {
            (0x01, 0x02)
        } else {
            (0x02, 0x01)
        };
        let aes = |b: u8| {
            let h = crypto::h1(b, &secbytes);
            let mut k = Zeroizing::new([0u8; 16]);
            k.copy_from_slice(h.get(..16).unwrap_or(&[0u8; 16]));
            k
        };
        let send_aes = aes(send_byte);
        let recv_aes = aes(recv_byte);
        SessionKeys {
            our_keyid,
            their_keyid,
            send_mac: Zeroizing::new(crypto::sha1(&[send_aes.as_ref()])),
            recv_mac: Zeroizing::new(crypto::sha1(&[recv_aes.as_ref()])),
            send_aes,
            recv_aes,
            send_ctr: 0,
            recv_ctr: 0,
            recv_mac_used: false,
        }
    }
}

/// The data-message keys of one private conversation.
pub struct DataKeys {
    our_keyid: u32,
    our_cur: DhKeyPair,
    our_prev: DhKeyPair,
    their_keyid: u32,
    their_cur: U1536,
    their_prev: Option<U1536>,
    sessions: Vec<SessionKeys>,
    reveal: Vec<u8>,
}

impl DataKeys {
    /// Starts from the AKE's outcome: our AKE key pair (with its key id) becomes the
    /// previous key and a fresh one the current; the peer's AKE key is its current.
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        ake_ours: DhKeyPair,
        ake_our_keyid: u32,
        theirs: U1536,
        their_keyid: u32,
    ) -> DataKeys {
        DataKeys {
            our_keyid: ake_our_keyid.saturating_add(1),
            our_cur: DhKeyPair::generate(rng),
            our_prev: ake_ours,
            their_keyid,
            their_cur: theirs,
            their_prev: None,
            sessions: Vec::new(),
            reveal: Vec::new(),
        }
    }

    fn session(&mut self, our_keyid: u32, their_keyid: u32) -> Result<usize, DataError> {
        if let Some(i) = self
            .sessions
            .iter()
            .position(|s| s.our_keyid == our_keyid && s.their_keyid == their_keyid)
        {
            return Ok(i);
        }
        let our = if our_keyid == self.our_keyid {
            &self.our_cur
        } else if our_keyid == self.our_keyid.wrapping_sub(1) && our_keyid != 0 {
            &self.our_prev
        } else {
            return Err(DataError::UnknownKey);
        };
        let their = if their_keyid == self.their_keyid {
            &self.their_cur
        } else if their_keyid == self.their_keyid.wrapping_sub(1) && their_keyid != 0 {
            self.their_prev.as_ref().ok_or(DataError::UnknownKey)?
        } else {
            return Err(DataError::UnknownKey);
        };
        self.sessions
            .push(SessionKeys::derive(our, our_keyid, their, their_keyid));
        Ok(self.sessions.len() - 1)
    }

    /// Encrypts `plaintext` into a data message for the peer.
    pub fn seal(
        &mut self,
        header: &Header,
        flags: u8,
        plaintext: &[u8],
    ) -> Result<DataMessage, DataError> {
        let our_keyid = self.our_keyid.wrapping_sub(1);
        let i = self.session(our_keyid, self.their_keyid)?;
        let s = self.sessions.get_mut(i).ok_or(DataError::UnknownKey)?;
        s.send_ctr = s.send_ctr.checked_add(1).ok_or(DataError::Exhausted)?;
        let ctr = s.send_ctr.to_be_bytes();
        let mut encrypted = plaintext.to_vec();
        crypto::aes_ctr(&s.send_aes, &ctr, &mut encrypted);
        let mut msg = DataMessage {
            flags,
            sender_keyid: our_keyid,
            recipient_keyid: self.their_keyid,
            next_dh: crate::dh::be_trimmed(self.our_cur.public()),
            ctr,
            encrypted,
            mac: [0; 20],
            old_mac_keys: std::mem::take(&mut self.reveal),
        };
        msg.mac = crypto::hmac_sha1(s.send_mac.as_ref(), &data_authenticated(header, &msg))?;
        Ok(msg)
    }

    /// Verifies and decrypts a received data message (`authenticated` is the received bytes
    /// the MAC covers), then rotates keys as the spec says. Nothing changes unless the MAC
    /// verifies, the counter increased and the peer's next key is valid.
    pub fn open<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        msg: &DataMessage,
        authenticated: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, DataError> {
        let i = self.session(msg.recipient_keyid, msg.sender_keyid)?;
        let s = self.sessions.get_mut(i).ok_or(DataError::UnknownKey)?;
        let mac = crypto::hmac_sha1(s.recv_mac.as_ref(), authenticated)?;
        if !crypto::mac_eq(&mac, &msg.mac) {
            return Err(DataError::BadMac);
        }
        let ctr = u64::from_be_bytes(msg.ctr);
        if ctr <= s.recv_ctr {
            return Err(DataError::Replay);
        }
        let rotate_theirs = msg.sender_keyid == self.their_keyid;
        let next = if rotate_theirs {
            Some(group::element_from_be(&msg.next_dh).map_err(|_| DataError::BadKey)?)
        } else {
            None
        };
        // Authenticated and fresh: from here on the state changes.
        s.recv_ctr = ctr;
        s.recv_mac_used = true;
        let mut plain = Zeroizing::new(msg.encrypted.clone());
        crypto::aes_ctr(&s.recv_aes, &msg.ctr, &mut plain);

        if msg.recipient_keyid == self.our_keyid {
            // The peer has our newest key: forget the previous one, make a new one.
            let fresh = DhKeyPair::generate(rng);
            self.our_prev = std::mem::replace(&mut self.our_cur, fresh);
            self.our_keyid = self.our_keyid.wrapping_add(1);
        }
        if let Some(next) = next {
            self.their_prev = Some(std::mem::replace(&mut self.their_cur, next));
            self.their_keyid = self.their_keyid.wrapping_add(1);
        }
        self.forget_stale_sessions();
        Ok(plain)
    }

    /// Drops the session keys of pairings that involve a forgotten key, queueing their used
    /// receiving MAC keys for revelation in the next message we send.
    fn forget_stale_sessions(&mut self) {
        let (ours, theirs) = (self.our_keyid, self.their_keyid);
        let live = |s: &SessionKeys| {
            (s.our_keyid == ours || s.our_keyid == ours.wrapping_sub(1))
                && (s.their_keyid == theirs || s.their_keyid == theirs.wrapping_sub(1))
        };
        let mut kept = Vec::with_capacity(self.sessions.len());
        for s in self.sessions.drain(..) {
            if live(&s) {
                kept.push(s);
            } else if s.recv_mac_used && self.reveal.len() + 20 <= MAX_REVEALED_MAC_BYTES {
                self.reveal.extend_from_slice(s.recv_mac.as_ref());
            }
        }
        self.sessions = kept;
    }

    /// MAC keys waiting to be revealed (for tests and status).
    pub fn pending_reveal(&self) -> usize {
        self.reveal.len() / 20
    }

    /// Our current key id (the one the peer will acknowledge next).
    pub fn our_keyid(&self) -> u32 {
        self.our_keyid
    }

    /// The peer's current key id.
    pub fn their_keyid(&self) -> u32 {
        self.their_keyid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, data_authenticated_raw};

    fn pair() -> (DataKeys, DataKeys) {
        let mut rng = rand::rng();
        let a = DhKeyPair::generate(&mut rng);
        let b = DhKeyPair::generate(&mut rng);
        let (apub, bpub) = (*a.public(), *b.public());
        (
            DataKeys::new(&mut rng, a, 1, bpub, 1),
            DataKeys::new(&mut rng, b, 1, apub, 1),
        )
    }

    fn wire(h: &Header, m: DataMessage) -> (Vec<u8>, DataMessage) {
        let bytes = Message::Data(m).encode(h);
        let Ok((_, Message::Data(d))) = Message::decode(&bytes) else {
            panic!("own message must decode");
        };
        (bytes, d)
    }

    fn deliver(to: &mut DataKeys, h: &Header, m: DataMessage) -> Result<Vec<u8>, DataError> {
        let (bytes, d) = wire(h, m);
        let auth = data_authenticated_raw(&bytes, &d).expect("auth part");
        to.open(&mut rand::rng(), &d, auth).map(|p| p.to_vec())
    }

    #[test]
    fn a_conversation_rotates_keys_and_reveals_old_mac_keys() {
        let (mut a, mut b) = pair();
        let h = Header::v3(0x100, 0x200);
        for round in 0..6u8 {
            let m = a.seal(&h, 0, &[round; 5]).expect("seal");
            assert_eq!(deliver(&mut b, &h, m), Ok(vec![round; 5]));
            let m = b.seal(&h, 0, b"reply").expect("seal");
            if round >= 2 {
                assert!(!m.old_mac_keys.is_empty(), "round {round}: b reveals");
                assert_eq!(m.old_mac_keys.len() % 20, 0);
            }
            assert_eq!(deliver(&mut a, &h, m), Ok(b"reply".to_vec()));
        }
        assert!(a.our_keyid() > 3 && b.their_keyid() > 3);
    }

    #[test]
    fn replays_forgeries_and_unknown_keys_are_refused_without_state_change() {
        let (mut a, mut b) = pair();
        let h = Header::v3(0x100, 0x200);
        let m = a.seal(&h, 0, b"one").expect("seal");
        assert_eq!(deliver(&mut b, &h, m.clone()), Ok(b"one".to_vec()));
        assert_eq!(deliver(&mut b, &h, m.clone()), Err(DataError::Replay));
        let mut forged = a.seal(&h, 0, b"two").expect("seal");
        forged.encrypted[0] ^= 1;
        let before = (b.our_keyid(), b.their_keyid());
        assert_eq!(deliver(&mut b, &h, forged), Err(DataError::BadMac));
        assert_eq!((b.our_keyid(), b.their_keyid()), before);
        let mut unknown = a.seal(&h, 0, b"three").expect("seal");
        unknown.sender_keyid = 77;
        assert_eq!(deliver(&mut b, &h, unknown), Err(DataError::UnknownKey));
        // A header change (the receiver tag) breaks the MAC too.
        let m = a.seal(&h, 0, b"four").expect("seal");
        assert_eq!(
            deliver(&mut b, &Header::v3(0x100, 0x201), m),
            Err(DataError::BadMac)
        );
        let m = a.seal(&h, 0, b"five").expect("seal");
        assert_eq!(deliver(&mut b, &h, m), Ok(b"five".to_vec()));
    }

    #[test]
    fn messages_out_of_order_and_under_forgotten_keys_are_refused() {
        let (mut a, mut b) = pair();
        let h = Header::v3(0x100, 0x200);
        let early = a.seal(&h, 0, b"early").expect("seal");
        let m = a.seal(&h, 0, b"x").expect("seal");
        assert!(deliver(&mut b, &h, m).is_ok());
        // `early` used the same keys as `x` with a lower counter: refused as a replay.
        assert_eq!(deliver(&mut b, &h, early.clone()), Err(DataError::Replay));
        let r = b.seal(&h, 0, b"ack").expect("seal");
        assert!(deliver(&mut a, &h, r).is_ok());
        let m = a.seal(&h, 0, b"y").expect("seal");
        assert!(deliver(&mut b, &h, m).is_ok());
        // Both of the keys `early` used are forgotten now.
        assert_eq!(deliver(&mut b, &h, early), Err(DataError::UnknownKey));
    }
}
