//! Timers: handshake timeouts, heartbeats, idle expiry, fragment expiry.

use super::*;

impl Account {
    /// Runs timers: handshake timeouts, heartbeats, idle expiry and fragment expiry.
    pub fn handle_timeout(&mut self, now_ms: u64, rng: &mut impl rand_core::CryptoRng) {
        self.refresh_profile(now_ms);
        self.expire_held(now_ms);
        let peers: Vec<String> = self.peers.keys().cloned().collect();
        for peer in peers {
            let Some(p) = self.peers.get_mut(&peer) else {
                continue;
            };
            p.assembler.expire(now_ms);
            let _ = p.joiner.expire(now_ms);
            if p.previous.as_ref().is_some_and(|(_, since)| {
                now_ms.saturating_sub(*since) >= PREVIOUS_SESSION_GRACE_MS
            }) {
                p.previous = None;
            }
            if let Some(since) = p.handshake.since()
                && now_ms.saturating_sub(since) >= self.policy.dake_timeout_ms
            {
                p.handshake = Handshake::Idle;
                if p.session.is_some() {
                    // A re-key that never completed: the current session still works, so what
                    // was queued behind the re-key goes out through it.
                    self.release_queue(now_ms, rng, &peer);
                } else {
                    self.events.push_back(Event::NoAnswer {
                        peer: peer.clone(),
                        queued: p.queue.len(),
                        sent_unconfirmed: 0,
                    });
                }
            }
            self.expire_unconfirmed(now_ms, &peer);
            self.drop_stale_auth_i(&peer);
            self.expire_smp(now_ms, rng, &peer);
            // An idle OTRv3 conversation ends like an OTRv4+ one (its keys are forgotten).
            let legacy_expired = self
                .peers
                .get(&peer)
                .and_then(|p| self.legacy_expiry_at(p))
                .is_some_and(|t| now_ms >= t);
            if legacy_expired {
                self.legacy_end(now_ms, rng, &peer, EndReason::Expired);
                continue;
            }
            let Some(p) = self.peers.get_mut(&peer) else {
                continue;
            };
            let Some(s) = p.session.as_ref() else {
                continue;
            };
            let idle_since = s.last_sent.max(s.last_recv);
            if now_ms.saturating_sub(idle_since) >= self.policy.idle_expiry_ms {
                self.end_session(now_ms, rng, &peer, EndReason::Expired);
                continue;
            }
            if s.unanswered && now_ms.saturating_sub(s.last_recv) >= self.policy.heartbeat_ms {
                let heartbeat = Payload::default();
                let _ = self.send_payload(rng, &peer, now_ms, FLAG_IGNORE_UNREADABLE, &heartbeat);
            }
        }
        self.peers.retain(|_, p| !p.is_disposable());
    }

    /// The responder never confirmed the session we derived as initiator: drop it. A current
    /// session goes on as it was (its PSK was never replaced).
    fn expire_unconfirmed(&mut self, now_ms: u64, peer: &str) {
        let timeout = self.policy.dake_timeout_ms;
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let expired = p
            .unconfirmed
            .as_ref()
            .is_some_and(|u| now_ms.saturating_sub(u.since) >= timeout);
        if !expired {
            return;
        }
        let early = p.unconfirmed.take().map_or(0, |u| u.early);
        if p.session.is_none() {
            self.events.push_back(Event::NoAnswer {
                peer: peer.to_string(),
                queued: p.queue.len(),
                sent_unconfirmed: early.min(p.queue.len()),
            });
        }
    }
}
