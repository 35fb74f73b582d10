//! SMP commands and the handling of SMP outputs: the account side of [`crate::smp`].

use super::*;
use crate::wire::tlv::Tlv;

impl Account {
    /// Starts SMP with `peer` (our secret, optionally a question for the peer's user). A run
    /// already in progress is aborted first.
    pub fn smp_start(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        question: Option<&str>,
        secret: &str,
    ) -> Result<(), SmpCommandError> {
        if self.peers.get(peer).is_some_and(Peer::legacy_private) {
            let command = legacy::LegacySmp::Start { question, secret };
            return self.legacy_smp(now_ms, rng, peer, command);
        }
        let tlvs = self.with_smp(peer, |smp, session| {
            smp.start(rng, session, question, secret, now_ms)
        })?;
        self.send_smp(now_ms, rng, peer, tlvs)?;
        Ok(())
    }

    /// Answers the peer's pending SMP request with our secret.
    pub fn smp_respond(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        secret: &str,
    ) -> Result<(), SmpCommandError> {
        if self.peers.get(peer).is_some_and(Peer::legacy_private) {
            let command = legacy::LegacySmp::Respond { secret };
            return self.legacy_smp(now_ms, rng, peer, command);
        }
        let tlv = self.with_smp(peer, |smp, session| smp.respond(rng, session, secret))?;
        self.send_smp(now_ms, rng, peer, vec![tlv])?;
        Ok(())
    }

    /// Aborts SMP with `peer`. The peer is told even when nothing runs on our side (its side
    /// may still be waiting).
    pub fn smp_abort(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) -> Result<(), SmpCommandError> {
        if self.peers.get(peer).is_some_and(Peer::legacy_private) {
            return self.legacy_smp(now_ms, rng, peer, legacy::LegacySmp::Abort);
        }
        let s = self
            .peers
            .get_mut(peer)
            .and_then(|p| p.session.as_mut())
            .ok_or(SmpCommandError::NotPrivate)?;
        let tlv = s
            .smp
            .abort()
            .unwrap_or_else(crate::smp::messages::abort_tlv);
        self.send_smp(now_ms, rng, peer, vec![tlv])?;
        Ok(())
    }

    /// Runs `f` on the SMP state of `peer`'s private session, bound to that session.
    fn with_smp<T>(
        &mut self,
        peer: &str,
        f: impl FnOnce(
            &mut crate::smp::Smp,
            &crate::smp::Session<'_>,
        ) -> Result<T, crate::smp::SmpError>,
    ) -> Result<T, SmpCommandError> {
        let ours = *self.profile.fingerprint();
        let s = self
            .peers
            .get_mut(peer)
            .and_then(|p| p.session.as_mut())
            .ok_or(SmpCommandError::NotPrivate)?;
        let theirs = *s.their_profile.fingerprint();
        let session = crate::smp::Session {
            ours: &ours,
            theirs: &theirs,
            ssid: &s.ssid,
        };
        Ok(f(&mut s.smp, &session)?)
    }

    fn send_smp(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        tlvs: Vec<Tlv>,
    ) -> Result<(), SendError> {
        let payload = Payload {
            text: Vec::new(),
            tlvs,
        };
        self.send_payload(rng, peer, now_ms, FLAG_IGNORE_UNREADABLE, &payload)
    }

    /// Sends what the SMP layer produced and reports it.
    pub(super) fn on_smp_outputs(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
        theirs: Fingerprint,
        outputs: Vec<SmpOutput>,
    ) {
        let mut send = Vec::new();
        for out in outputs {
            let event = match out {
                SmpOutput::None => None,
                SmpOutput::Send(t) => {
                    send.push(t);
                    None
                }
                SmpOutput::Request { question } => Some(SmpEvent::Request { question }),
                SmpOutput::Done { result, send: t } => {
                    send.extend(t);
                    Some(SmpEvent::Done {
                        result,
                        fingerprint: theirs,
                    })
                }
                SmpOutput::AbortedByPeer => Some(SmpEvent::AbortedByPeer),
                SmpOutput::Rejected { error, send: t } => {
                    send.push(t);
                    Some(SmpEvent::Rejected { error })
                }
            };
            if let Some(event) = event {
                self.events.push_back(Event::Smp {
                    peer: peer.to_string(),
                    event,
                });
            }
        }
        if !send.is_empty() {
            // A send failure means the session is broken; the ratchet reports that itself.
            let _ = self.send_smp(now_ms, rng, peer, send);
        }
    }

    /// Aborts SMP runs older than the policy allows (called from `handle_timeout`).
    pub(super) fn expire_smp(
        &mut self,
        now_ms: u64,
        rng: &mut impl rand_core::CryptoRng,
        peer: &str,
    ) {
        let timeout = self.policy.smp_timeout_ms;
        if self
            .peers
            .get(peer)
            .and_then(|p| p.legacy_smp_since())
            .is_some_and(|t| now_ms.saturating_sub(t) >= timeout)
        {
            // An OTRv3 run: aborted the same way (the peer is told).
            let _ = self.legacy_smp(now_ms, rng, peer, legacy::LegacySmp::Abort);
            self.events.push_back(Event::Smp {
                peer: peer.to_string(),
                event: SmpEvent::TimedOut,
            });
            return;
        }
        let Some(s) = self.peers.get_mut(peer).and_then(|p| p.session.as_mut()) else {
            return;
        };
        let expired = s
            .smp
            .since()
            .is_some_and(|t| now_ms.saturating_sub(t) >= timeout);
        if !expired {
            return;
        }
        if let Some(abort) = s.smp.abort() {
            let _ = self.send_smp(now_ms, rng, peer, vec![abort]);
        }
        self.events.push_back(Event::Smp {
            peer: peer.to_string(),
            event: SmpEvent::TimedOut,
        });
    }
}
