//! The IRCv3 capabilities otrbnc knows, as a small copyable set, and which of them it asks
//! the server for and offers its clients.
//!
//! A capability the server offers is requested upstream only when otrbnc can carry it to
//! every client, including one that did not ask for it: [`crate::irc::shape`] turns each
//! line into what a client without the capability expects (or drops it).

/// One capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// `account-notify`: ACCOUNT lines when a user logs in or out.
    AccountNotify,
    /// `account-tag`: an `account` tag on a logged-in user's messages.
    AccountTag,
    /// `away-notify`: AWAY lines when a user in a shared channel goes away or comes back.
    AwayNotify,
    /// `batch`: BATCH lines grouping others (netsplits, playback).
    Batch,
    /// `cap-notify`: CAP NEW and CAP DEL when the offer changes.
    CapNotify,
    /// `chghost`: CHGHOST instead of nothing when a user's user name or host changes.
    Chghost,
    /// `draft/chathistory`: CHATHISTORY requests (otrbnc answers them from what it keeps).
    Chathistory,
    /// `echo-message`: our own messages echoed back.
    EchoMessage,
    /// `extended-join`: JOIN with the account and real name.
    ExtendedJoin,
    /// `invite-notify`: INVITE lines for invitations to others.
    InviteNotify,
    /// `labeled-response`: replies carry the label of the command they answer.
    LabeledResponse,
    /// `message-tags`: any tag, TAGMSG.
    MessageTags,
    /// `multi-prefix`: every prefix of a member in NAMES and WHO, not only the highest.
    MultiPrefix,
    /// `sasl`: authentication during registration.
    Sasl,
    /// `server-time`: a `time` tag on lines.
    ServerTime,
    /// `setname`: SETNAME lines when a user changes their real name.
    Setname,
    /// `standard-replies`: FAIL, WARN and NOTE.
    StandardReplies,
    /// `userhost-in-names`: `nick!user@host` in NAMES.
    UserhostInNames,
}

/// Every capability with its name on the wire.
const NAMES: [(Cap, &str); 18] = [
    (Cap::AccountNotify, "account-notify"),
    (Cap::AccountTag, "account-tag"),
    (Cap::AwayNotify, "away-notify"),
    (Cap::Batch, "batch"),
    (Cap::CapNotify, "cap-notify"),
    (Cap::Chghost, "chghost"),
    (Cap::Chathistory, "draft/chathistory"),
    (Cap::EchoMessage, "echo-message"),
    (Cap::ExtendedJoin, "extended-join"),
    (Cap::InviteNotify, "invite-notify"),
    (Cap::LabeledResponse, "labeled-response"),
    (Cap::MessageTags, "message-tags"),
    (Cap::MultiPrefix, "multi-prefix"),
    (Cap::Sasl, "sasl"),
    (Cap::ServerTime, "server-time"),
    (Cap::Setname, "setname"),
    (Cap::StandardReplies, "standard-replies"),
    (Cap::UserhostInNames, "userhost-in-names"),
];

impl Cap {
    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }

    /// The capability of that name (exact, as IRCv3 names are), if otrbnc knows it.
    pub fn from_name(name: &str) -> Option<Cap> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of capabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CapSet(u32);

impl CapSet {
    /// No capability.
    pub const EMPTY: CapSet = CapSet(0);

    /// A set of these.
    pub const fn of(caps: &[Cap]) -> CapSet {
        let (mut bits, mut rest) = (0, caps);
        while let Some((cap, tail)) = rest.split_first() {
            bits |= 1 << (*cap as u32);
            rest = tail;
        }
        CapSet(bits)
    }

    /// The set as bits (for an atomic shared between tasks).
    pub fn bits(self) -> u32 {
        self.0
    }

    /// A set from [`CapSet::bits`] (unknown bits dropped).
    pub fn from_bits(bits: u32) -> CapSet {
        CapSet(bits & ((1 << NAMES.len()) - 1))
    }

    /// Whether `cap` is in the set.
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    /// The set with `cap` added.
    pub fn with(self, cap: Cap) -> CapSet {
        CapSet(self.0 | cap.bit())
    }

    /// The set with `cap` removed.
    pub fn without(self, cap: Cap) -> CapSet {
        CapSet(self.0 & !cap.bit())
    }

    /// Adds or removes `cap`.
    pub fn set(&mut self, cap: Cap, on: bool) {
        *self = if on {
            self.with(cap)
        } else {
            self.without(cap)
        };
    }

    /// What is in either.
    pub fn union(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    /// What is in both.
    pub fn intersection(self, other: CapSet) -> CapSet {
        CapSet(self.0 & other.0)
    }

    /// What is in `self` and not in `other`.
    pub fn minus(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The capabilities in wire-name order.
    pub fn iter(self) -> impl Iterator<Item = Cap> {
        NAMES.iter().map(|(c, _)| *c).filter(move |c| self.has(*c))
    }

    /// The names, space-separated (a `CAP` list).
    pub fn names(self) -> String {
        self.iter().map(Cap::name).collect::<Vec<_>>().join(" ")
    }

    /// The known capabilities named in a `CAP LS`/`ACK`/`NEW`/`DEL` list (`name=value`
    /// items count by name; unknown names are skipped).
    pub fn parse_list(list: &str) -> CapSet {
        list.split(' ')
            .filter_map(|item| Cap::from_name(item.split('=').next().unwrap_or_default()))
            .fold(CapSet::EMPTY, CapSet::with)
    }

    /// Applies a `CAP REQ` list (`cap` enables, `-cap` disables) if every name in it is in
    /// `offered`; otherwise changes nothing. IRCv3 answers the whole list with ACK or NAK:
    /// returns whether it was applied.
    pub fn apply_request(&mut self, asked: &str, offered: CapSet) -> bool {
        let mut wanted = Vec::new();
        for item in asked.split(' ').filter(|c| !c.is_empty()) {
            let (name, on) = match item.strip_prefix('-') {
                Some(name) => (name, false),
                None => (item, true),
            };
            match Cap::from_name(name) {
                Some(cap) if offered.has(cap) => wanted.push((cap, on)),
                _ => return false,
            }
        }
        if wanted.is_empty() {
            return false;
        }
        for (cap, on) in wanted {
            self.set(cap, on);
        }
        true
    }
}

/// What otrbnc asks the server for when it offers them (`sasl` is added only when SASL is
/// configured). Not asked: `echo-message` (otrbnc echoes a client's message itself, so that
/// an OTR conversation is echoed as the plaintext the user typed, never as ciphertext) and
/// `labeled-response` (its replies would reach every client, not the one that asked).
pub const REQUESTED_UPSTREAM: CapSet = CapSet::of(&[
    Cap::AccountNotify,
    Cap::AccountTag,
    Cap::AwayNotify,
    Cap::Batch,
    Cap::CapNotify,
    Cap::Chghost,
    Cap::ExtendedJoin,
    Cap::InviteNotify,
    Cap::MessageTags,
    Cap::MultiPrefix,
    Cap::ServerTime,
    Cap::Setname,
    Cap::StandardReplies,
    Cap::UserhostInNames,
]);

/// What otrbnc offers every client whatever the server has: it adds `time` tags to playback
/// itself, echoes messages itself, sends CAP NEW/DEL itself when the server's offer
/// changes, answers CHATHISTORY (in a BATCH, which it builds itself, with msgids) from what
/// it keeps, and takes a client's tags off its lines for a server without message-tags.
pub const EMULATED: CapSet = CapSet::of(&[
    Cap::EchoMessage,
    Cap::MessageTags,
    Cap::ServerTime,
    Cap::CapNotify,
    Cap::Batch,
    Cap::Chathistory,
]);

/// What a client may ask otrbnc for while the server has granted otrbnc `upstream`.
pub fn offered_downstream(upstream: CapSet) -> CapSet {
    EMULATED.union(upstream.intersection(REQUESTED_UPSTREAM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        for (cap, name) in NAMES {
            assert_eq!(cap.name(), name);
            assert_eq!(Cap::from_name(name), Some(cap));
        }
        assert_eq!(Cap::from_name("Multi-Prefix"), None, "names are exact");
        let all = CapSet::parse_list(&NAMES.map(|(_, n)| n).join(" "));
        assert_eq!(all.iter().count(), NAMES.len());
        assert_eq!(CapSet::from_bits(u32::MAX), all);
    }

    #[test]
    fn ls_values_and_unknown_names() {
        let s = CapSet::parse_list("sasl=PLAIN,EXTERNAL draft/other=100 multi-prefix  x");
        assert_eq!(s, CapSet::of(&[Cap::Sasl, Cap::MultiPrefix]));
        assert_eq!(s.names(), "multi-prefix sasl");
    }

    #[test]
    fn cap_requests_are_all_or_nothing_and_can_drop_a_cap() {
        let offered = CapSet::of(&[Cap::EchoMessage, Cap::ServerTime]);
        let mut caps = CapSet::EMPTY;
        assert!(caps.apply_request("server-time", offered));
        assert_eq!(caps, CapSet::of(&[Cap::ServerTime]));
        // One name not offered: the whole list is refused, nothing changes.
        assert!(!caps.apply_request("echo-message away-notify", offered));
        assert!(!caps.apply_request("echo-message bogus", offered));
        assert!(!caps.has(Cap::EchoMessage));
        assert!(!caps.apply_request("", offered));
        assert!(caps.apply_request("echo-message -server-time", offered));
        assert_eq!(caps, CapSet::of(&[Cap::EchoMessage]));
    }

    #[test]
    fn the_offer_is_what_otrbnc_emulates_plus_what_it_carries() {
        let up = CapSet::of(&[Cap::Sasl, Cap::MultiPrefix, Cap::LabeledResponse]);
        let offer = offered_downstream(up);
        assert!(offer.has(Cap::MultiPrefix) && offer.has(Cap::ServerTime));
        assert!(!offer.has(Cap::Sasl), "otrbnc logs in; clients do not");
        assert!(!offer.has(Cap::LabeledResponse), "not carried");
        assert!(!REQUESTED_UPSTREAM.has(Cap::EchoMessage));
    }
}
