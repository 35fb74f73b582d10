//! Registration that never gets stuck: a refused nick is followed by the configured
//! alternatives and then variants within NICKLEN (bounded); `sasl_required` disconnects
//! instead of registering without the account; a registration that does not finish in
//! `register_timeout_secs` is given up. Giving up sends QUIT and reconnects with backoff
//! (or stops, for errors retrying cannot fix).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{Link, Net, nicks};
use crate::irc::Line;

/// The least wait before connecting again after a connection closed before it registered
/// (a K-line, a throttle, refused SASL), whatever the backoff: the default
/// `reconnect_min_secs`, so a configuration that lowers that for quick reconnects after a
/// drop still cannot hammer a server that turns it away.
pub const QUICK_CLOSE_FLOOR: Duration = Duration::from_secs(5);

/// The wait before the next connection: the backoff with `jitter` (0..0.25) added, and at
/// least [`QUICK_CLOSE_FLOOR`] after a connection that closed before registering.
pub fn reconnect_wait(backoff: Duration, jitter: f64, closed_unregistered: bool) -> Duration {
    let wait = backoff.mul_f64(1.0 + jitter.clamp(0.0, 1.0));
    if closed_unregistered {
        wait.max(QUICK_CLOSE_FLOOR)
    } else {
        wait
    }
}

/// How long a connection must stay registered before its end resets the backoff: a server
/// that welcomes otrbnc and closes at once (a ban applied after registration, a throttle)
/// is retried ever more slowly, like one that closes before.
pub const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The backoff to start from after a connection ended: the minimum again when it had stayed
/// registered for [`STABLE_AFTER`], the grown one otherwise.
pub fn backoff_after_close(
    backoff: Duration,
    min: Duration,
    registered_for: Option<Duration>,
) -> Duration {
    if registered_for.is_some_and(|d| d >= STABLE_AFTER) {
        min
    } else {
        backoff
    }
}

/// Why SASL did not give us the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslFailure {
    /// The server offers no `sasl` capability (or refused it): services may be down or
    /// split off for a while, so this is retried with backoff.
    NotOffered,
    /// 902 (account locked / nick locked), 904 (wrong credentials) or 908 (the mechanism is
    /// not supported): the same attempt fails the same way until the configuration changes.
    Refused,
    /// 905/906/907: a broken exchange; another attempt may go through.
    Aborted,
}

impl SaslFailure {
    /// For a numeric that ends a SASL exchange without success.
    pub fn from_numeric(cmd: &[u8]) -> SaslFailure {
        match cmd {
            b"902" | b"904" | b"908" => SaslFailure::Refused,
            _ => SaslFailure::Aborted,
        }
    }

    /// Whether retrying cannot help. A refused password is not retried: services count
    /// failed logins (and may lock the account or throttle the address), and the password
    /// does not change by itself; `*otr reconnect` tries again after the fix.
    pub fn is_permanent(self) -> bool {
        self == SaslFailure::Refused
    }

    fn reason(self) -> &'static str {
        match self {
            SaslFailure::NotOffered => "the server does not offer SASL and sasl_required is set",
            SaslFailure::Refused => "SASL authentication refused and sasl_required is set",
            SaslFailure::Aborted => "SASL authentication aborted and sasl_required is set",
        }
    }
}

impl Net {
    /// 433 (in use), 432 (erroneous) or 437 (unavailable) before `001`: the next nick, or
    /// giving up after the bounded list.
    pub(super) fn on_nick_refused(&mut self, cmd: &[u8], line: &Line<'_>) {
        let refused = line.param_str(1).unwrap_or_else(|| self.irc.nick.clone());
        self.reg.nick_tries += 1;
        // A nick of valid form refused as erroneous is too long for this server (an
        // alternative's refusal says nothing about the generated variants).
        if cmd == b"432" && !self.cfg.alt_nicks.contains(&refused) {
            self.reg.nicklen = nicks::shorter_after_432(self.reg.nicklen, &refused);
        }
        let base = self.want_nick.clone().unwrap_or_else(|| "otrbnc".into());
        match nicks::candidate(
            &base,
            &self.cfg.alt_nicks,
            self.reg.nicklen,
            self.reg.nick_tries,
        ) {
            Some(nick) => {
                tracing::debug!(network = %self.name, %refused, %nick, "nick refused; trying another");
                self.irc.nick = nick.clone();
                self.send_now(crate::irc::build::command(None, &["NICK", &nick]));
            }
            None => {
                let tries = self.reg.nick_tries;
                let reason = format!("the server refused every nick tried ({tries})");
                if self.last_close_reason.as_deref() != Some(reason.as_str()) {
                    self.notify(&format!(
                        "{} refused every nick otrbnc tried ({base}, alt_nicks, and variants \
                         within NICKLEN {}); the last was {refused}. Disconnecting and trying \
                         again later; set alt_nicks to add others.",
                        self.name, self.reg.nicklen
                    ));
                }
                self.abandon_registration(&reason, false);
            }
        }
    }

    /// SASL did not authenticate. Without `sasl_required`: say so and register anyway (as
    /// before); with it: never `CAP END`, disconnect instead.
    pub(super) fn on_sasl_failed(&mut self, failure: SaslFailure, detail: &str) {
        self.reg.sasl_pending = false;
        if !self.cfg.sasl_required {
            let text = match failure {
                SaslFailure::NotOffered => {
                    format!("{} does not offer SASL; continuing without it.", self.name)
                }
                _ => format!("SASL authentication to {} failed: {detail}", self.name),
            };
            tracing::warn!(network = %self.name, ?failure, "SASL failed; registering without it");
            self.notify(&text);
            self.send_now(Bytes::from_static(b"CAP END\r\n"));
            return;
        }
        let reason = failure.reason();
        if self.last_close_reason.as_deref() != Some(reason) {
            let what = match failure {
                SaslFailure::NotOffered => format!("{} does not offer SASL", self.name),
                _ => format!("SASL authentication to {} failed: {detail}", self.name),
            };
            self.notify(&format!(
                "{what}. sasl_required is set: not registering without the account."
            ));
        }
        self.abandon_registration(reason, failure.is_permanent());
    }

    /// Leaves an unfinished registration: QUIT, then handled as a closed connection (the
    /// backoff, with the quick-close floor, or a stop when `permanent`).
    pub(super) fn abandon_registration(&mut self, reason: &str, permanent: bool) {
        // Queued before the sender is dropped: the connection task writes it, then closes.
        self.send_now(Bytes::from_static(b"QUIT :registration abandoned\r\n"));
        // A new generation: whatever the old connection task still reports is stale.
        self.generation += 1;
        self.on_closed(reason, permanent);
    }

    /// When an unfinished registration is given up.
    pub(super) fn registration_deadline(&self) -> Option<Instant> {
        match self.link {
            Link::Up {
                connected: true, ..
            // From TCP (and TLS) up to `001`: a server that stalls the exchange (SASL without
            // an answer, a nick reply that never comes) is left for another attempt.
            } if !self.irc.registered => self
                .reg
                .connected_at
                .map(|t| t + Duration::from_secs(self.cfg.register_timeout_secs)),
            _ => None,
        }
    }

    pub(super) fn registration_timer(&mut self, now: Instant) {
        if self.registration_deadline().is_some_and(|t| t <= now) {
            let reason = format!(
                "registration did not finish in {} s",
                self.cfg.register_timeout_secs
            );
            self.abandon_registration(&reason, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_connection_that_stayed_registered_resets_the_backoff() {
        let (grown, min) = (Duration::from_secs(40), Duration::from_secs(5));
        assert_eq!(backoff_after_close(grown, min, None), grown);
        assert_eq!(
            backoff_after_close(grown, min, Some(Duration::from_secs(3))),
            grown
        );
        assert_eq!(backoff_after_close(grown, min, Some(STABLE_AFTER)), min);
    }

    #[test]
    fn a_quick_close_waits_at_least_the_floor_whatever_the_backoff() {
        let one = Duration::from_secs(1);
        assert_eq!(reconnect_wait(one, 0.0, true), QUICK_CLOSE_FLOOR);
        assert_eq!(reconnect_wait(one, 0.25, true), QUICK_CLOSE_FLOOR);
        // After a registered connection the configured backoff alone decides.
        assert_eq!(reconnect_wait(one, 0.0, false), one);
        // A longer backoff is kept, with its jitter.
        let long = Duration::from_secs(40);
        assert_eq!(reconnect_wait(long, 0.25, true), Duration::from_secs(50));
    }

    #[test]
    fn a_refused_password_stops_while_a_missing_sasl_is_retried() {
        assert!(SaslFailure::from_numeric(b"904").is_permanent());
        assert!(SaslFailure::from_numeric(b"902").is_permanent());
        assert!(SaslFailure::from_numeric(b"908").is_permanent());
        assert!(!SaslFailure::from_numeric(b"906").is_permanent());
        assert!(!SaslFailure::NotOffered.is_permanent());
    }
}
