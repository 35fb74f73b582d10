//! The user's side of key pinning: the warning when a handshake completes under a key not
//! accepted for the nick (the core holds it and sends nothing), and `*otr accept`, the only
//! way to release what waits for that key.

use otr_core::profile::Fingerprint;
use otr_core::session::Accepted;

use super::{ClientId, Net, now_ms};

/// Fewest hex digits of the fingerprint `accept` wants typed: enough that the user copies
/// the key they were shown, not any key.
pub const MIN_ACCEPT_PREFIX: usize = 16;

/// The first `n` hex digits of a fingerprint, as `accept` takes them.
fn prefix(fp: &Fingerprint, n: usize) -> String {
    fp.0.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>()
        .chars()
        .take(n)
        .collect()
}

/// Whether `typed` (hex digits, spaces ignored, any case) begins `fp` and is long enough.
pub fn prefix_matches(fp: &Fingerprint, typed: &str) -> Result<bool, String> {
    let digits: String = typed
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a fingerprint is made of hex digits (0-9, A-F)".into());
    }
    if digits.len() < MIN_ACCEPT_PREFIX {
        return Err(format!(
            "type at least the first {MIN_ACCEPT_PREFIX} hex digits of the fingerprint"
        ));
    }
    Ok(prefix(fp, digits.len()) == digits)
}

impl Net {
    /// The core held a handshake under a key the user has not accepted: say so before
    /// anything else, with both fingerprints and the command that accepts the new one.
    pub(super) fn key_not_accepted(
        &mut self,
        peer: &str,
        offered: &Fingerprint,
        accepted: &[Fingerprint],
        queued: usize,
    ) {
        let nick = self.otr.display(peer);
        let command = format!("accept {nick} {}", prefix(offered, MIN_ACCEPT_PREFIX));
        let waiting = match queued {
            0 => "Nothing is sent to it".to_string(),
            n => format!("Nothing is sent to it: {n} message(s) stay queued"),
        };
        // One notice per line (each under the client line limit), the command last and whole.
        if accepted.is_empty() {
            self.notify(&format!(
                "{nick} shows a key you have not accepted yet (hold_first_contact is on):\n  key: {}\n{waiting}. Compare it with {nick} over another channel; if it is theirs: {command}",
                offered.to_display()
            ));
            self.in_conversation(
                peer,
                &format!("{nick}'s key waits for your decision; nothing was sent."),
            );
            return;
        }
        let was_verified = accepted.iter().any(|fp| self.otr.is_trusted(peer, fp));
        let before: String = accepted
            .iter()
            .map(|fp| format!("\n  accepted key: {}", fp.to_display()))
            .collect();
        let lost = if was_verified {
            format!(
                " {nick} was VERIFIED under the old key: accepting the new one makes {nick} unverified."
            )
        } else {
            String::new()
        };
        self.notify(&format!(
            "WARNING: a private session with {nick} completed under a NEW key, not the one you accepted. This can mean {nick} reinstalled or rotated keys, or that someone (the server, for one) is impersonating {nick}.{before}\n  new key:      {}\n{waiting}; a session you already had with {nick} stays as it was.{lost}\nVerify the new key with {nick} over another channel; if it is theirs: {command}",
            offered.to_display()
        ));
        self.in_conversation(
            peer,
            &format!("WARNING: {nick} showed a NEW key; nothing was sent to it. See *otr."),
        );
    }

    /// `accept <nick> <fingerprint-prefix>`.
    pub(super) fn accept(&mut self, id: ClientId, nick: &str, typed: &str) {
        let key = self.irc.fold(nick);
        if let Some(held) = self.otr.account.held_legacy_key(&key) {
            return self.accept_legacy(id, nick, &key, &held, typed);
        }
        let Some(held) = self.otr.account.held_key(&key) else {
            let text = if self.otr.account.accepted_keys(&key).is_empty() {
                format!("No key of {nick} waits for your decision.")
            } else {
                format!(
                    "No new key of {nick} waits for your decision (a held handshake is dropped after 10 minutes; type: start {nick}, and accept the key it shows)."
                )
            };
            return self.reply(id, &text);
        };
        match prefix_matches(&held, typed) {
            Err(e) => return self.reply(id, &format!("Not accepted: {e}.")),
            Ok(false) => {
                return self.reply(
                    id,
                    &format!(
                        "Not accepted: {typed} is not how the key waiting for {nick} begins ({}). Nothing was sent.",
                        held.to_display()
                    ),
                );
            }
            Ok(true) => {}
        }
        // Remembered first: the session that follows finds the key known, not changed.
        self.otr.trust.observe(&key, nick, &held.0, now_ms() / 1000);
        self.save_trust();
        let mut rng = rand::rng();
        let outcome = self.otr.account.accept_key(now_ms(), &mut rng, &key, &held);
        let what = match outcome {
            Accepted::SessionStarted => "the private conversation under it starts now",
            Accepted::HandshakeStarted => "a new handshake starts",
            Accepted::Remembered => "it is used from the next session",
        };
        self.reply(
            id,
            &format!(
                "Accepted {} as {nick}'s key; {what}. {nick} is UNVERIFIED under it: auth {nick} <secret> or compare and: trust {nick}",
                held.to_display()
            ),
        );
        self.otr_drain();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_wants_a_long_enough_prefix_of_the_shown_key() {
        let mut bytes = [0u8; 56];
        bytes[0] = 0xAB;
        bytes[1] = 0xCD;
        let fp = Fingerprint(bytes);
        assert_eq!(prefix_matches(&fp, "abcd0000 00000000"), Ok(true));
        assert_eq!(prefix_matches(&fp, "ABCD000000000001"), Ok(false));
        assert!(prefix_matches(&fp, "ABCD").is_err());
        assert!(prefix_matches(&fp, "ABCD00000000000G").is_err());
        let full = fp.to_display();
        assert_eq!(prefix_matches(&fp, &full), Ok(true));
    }
}
