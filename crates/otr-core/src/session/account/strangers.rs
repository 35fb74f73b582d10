//! Bounding what strangers cost: peers the user did not opt in that hold no session and no
//! queue are limited in number and in buffered bytes, and the least recently active one is
//! evicted for a newer one or for a peer of the user's.

use super::*;
use crate::limits::{MAX_PEERS, MAX_STRANGER_FRAGMENT_BYTES, MAX_STRANGERS};

impl Account {
    /// The peer's state, created if needed. `network`: a line from the network (or an offer
    /// the shell accepts on the user's general say-so) asks, so the peer starts as a stranger
    /// and gets a slot only within [`MAX_STRANGERS`] and [`MAX_PEERS`]. Otherwise the user
    /// asked, and the peer always gets a slot.
    pub(super) fn admit(&mut self, peer: &str, now: u64, network: bool) -> Option<&mut Peer> {
        if !self.peers.contains_key(peer) {
            let full = |a: &Self| {
                a.peers.len() >= MAX_PEERS || (network && a.stranger_count() >= MAX_STRANGERS)
            };
            if full(self) {
                self.peers.retain(|_, p| !p.is_disposable());
            }
            while full(self) && self.evict_stranger(None) {}
            if network && full(self) {
                return None;
            }
            self.peers.insert(peer.to_string(), Peer::new(now));
        }
        self.peers.get_mut(peer)
    }

    fn stranger_count(&self) -> usize {
        self.peers.values().filter(|p| p.is_stranger()).count()
    }

    /// Evicts the least recently active stranger other than `except`; false if there is none.
    fn evict_stranger(&mut self, except: Option<&str>) -> bool {
        let victim = self
            .peers
            .iter()
            .filter(|(name, p)| p.is_stranger() && Some(name.as_str()) != except)
            .min_by_key(|(_, p)| p.last_activity)
            .map(|(name, _)| name.clone());
        match victim {
            Some(name) => self.peers.remove(&name).is_some(),
            None => false,
        }
    }

    /// After a line from `peer`: if it is a stranger, keeps all strangers' buffered fragments
    /// within [`MAX_STRANGER_FRAGMENT_BYTES`] by evicting the least recently active others.
    pub(super) fn bound_stranger_buffers(&mut self, peer: &str) {
        // Only a stranger that buffers something can have pushed the total up.
        let buffering = |p: &Peer| p.is_stranger() && p.buffered_bytes() > 0;
        if !self.peers.get(peer).is_some_and(buffering) {
            return;
        }
        let held = |a: &Self| -> usize {
            a.peers
                .values()
                .filter(|p| p.is_stranger())
                .map(Peer::buffered_bytes)
                .sum()
        };
        while held(self) > MAX_STRANGER_FRAGMENT_BYTES && self.evict_stranger(Some(peer)) {}
    }

    /// Answers this peer's OTRv4+ offers and handshakes because the user accepts strangers
    /// (the shell's `accept_strangers`, typically on [`Event::OfferReceived`]), without
    /// opting it in. Unlike [`Account::set_auto_respond`] the peer stays a stranger until it
    /// holds a session or a queue: at most [`MAX_STRANGERS`] of them are tracked, their
    /// buffers share [`MAX_STRANGER_FRAGMENT_BYTES`], and the least recently active is
    /// evicted for a newer one or for a peer the user opts in. Returns false if there is no
    /// room (every slot holds a session, a queue or an opt-in).
    pub fn set_accept_offers(&mut self, peer: &str, on: bool, now_ms: u64) -> bool {
        if !on {
            if let Some(p) = self.peers.get_mut(peer) {
                p.accept_offers = false;
            }
            return true;
        }
        match self.admit(peer, now_ms, true) {
            Some(p) => {
                p.accept_offers = on;
                p.last_activity = now_ms;
                true
            }
            None => false,
        }
    }
}
