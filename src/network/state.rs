//! What otrbnc remembers about its upstream registration: enough to welcome a client that
//! attaches later (registration numerics, MOTD, channels and topics) and to size fragments.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::members::{self, Channel, ModeGrammar};
use crate::irc::{CaseMapping, Line, build};

/// Most MOTD lines kept for replay.
const MAX_MOTD_LINES: usize = 500;
/// Most ISUPPORT lines kept.
const MAX_ISUPPORT_LINES: usize = 50;
/// Most channels tracked (a user past it is told; see `Net::on_server_line`).
pub const MAX_CHANNELS: usize = 5000;
/// Longest channel name tracked (CHANNELLEN is 32 to 64 on the servers people use): with
/// [`MAX_CHANNELS`] and [`MAX_TOPIC_BYTES`] it bounds what a hostile server can make otrbnc
/// keep.
pub const MAX_CHANNEL_NAME_BYTES: usize = 200;
/// Longest topic kept for clients attaching later (TOPICLEN is 307 to 490); longer ones are
/// cut on a character boundary.
pub const MAX_TOPIC_BYTES: usize = 1024;

/// A topic as kept: at most [`MAX_TOPIC_BYTES`], cut where a UTF-8 character ends.
fn kept_topic(topic: &[u8]) -> Vec<u8> {
    if topic.len() <= MAX_TOPIC_BYTES {
        return topic.to_vec();
    }
    let head = topic.get(..MAX_TOPIC_BYTES).unwrap_or_default();
    let end = match std::str::from_utf8(head) {
        Ok(_) => head.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => head.len(),
    };
    head.get(..end).unwrap_or_default().to_vec()
}

/// Registration and channel state of the upstream connection.
#[derive(Debug, Default)]
pub struct IrcState {
    /// The server's name (source of its numerics).
    pub server: String,
    /// Our current nick.
    pub nick: String,
    /// `user@host` as others see it, once known.
    pub userhost: Option<String>,
    /// The case mapping in force (from `CASEMAPPING` and `UTF8MAPPING`).
    pub casemap: CaseMapping,
    /// The server's `CASEMAPPING` and `UTF8MAPPING` values, as far as declared.
    casemapping: Option<String>,
    utf8mapping: Option<String>,
    /// Channel prefixes (`CHANTYPES`).
    pub chantypes: String,
    /// Longest host name the server allows (`HOSTLEN`), for the budget when ours is unknown.
    pub hostlen: Option<usize>,
    /// Longest nick the server allows (`NICKLEN`), bounded.
    pub nicklen: Option<usize>,
    /// The server paces us itself without disconnecting (ISUPPORT `SAFERATE`).
    pub saferate: bool,
    /// The server's version from numeric 004 (bounded), which tells its flood rules.
    pub server_version: Option<String>,
    /// 001-004 lines as received.
    welcome: Vec<Bytes>,
    /// 005 lines as received.
    isupport: Vec<Bytes>,
    /// 375/372/376 or 422.
    motd: Vec<Bytes>,
    motd_done: bool,
    /// Joined channels by folded name.
    pub channels: BTreeMap<String, Channel>,
    /// Members tracked over all channels (bounded by [`members::MAX_MEMBERS`]).
    members_total: usize,
    /// The server's channel-mode grammar (`PREFIX`, `CHANMODES`).
    pub modes: ModeGrammar,
    /// Most channels in one `JOIN` (ISUPPORT `TARGMAX=JOIN:n`), if declared.
    pub join_targets: Option<usize>,
    /// A JOIN of ours went untracked because of [`MAX_CHANNELS`] (told once).
    pub channels_overflowed: bool,
    /// Whether 001 arrived on the current connection.
    pub registered: bool,
}

/// The longest server version kept from 004.
const MAX_VERSION_CHARS: usize = 64;

impl IrcState {
    /// Fresh state for a new connection (keeps nothing from the last one but the nick).
    pub fn new(nick: &str) -> IrcState {
        IrcState {
            nick: nick.to_string(),
            chantypes: "#&".to_string(),
            ..IrcState::default()
        }
    }

    /// Folds a nick or channel name by the server's case mapping.
    pub fn fold(&self, s: &str) -> String {
        self.casemap.fold(s)
    }

    /// Puts `casemap` in force; channels are keyed again under it.
    fn set_casemap(&mut self, casemap: CaseMapping) {
        if casemap == self.casemap {
            return;
        }
        self.casemap = casemap;
        let channels = std::mem::take(&mut self.channels);
        for mut c in channels.into_values() {
            let members = std::mem::take(&mut c.members);
            c.members = members
                .into_values()
                .map(|m| (casemap.fold(&m.nick), m))
                .collect();
            self.channels.entry(casemap.fold(&c.name)).or_insert(c);
        }
        self.members_total = self.channels.values().map(|c| c.members.len()).sum();
    }

    /// Whether `target` names a channel.
    pub fn is_channel(&self, target: &str) -> bool {
        target
            .chars()
            .next()
            .is_some_and(|c| self.chantypes.contains(c))
    }

    /// Whether `nick` is ours.
    pub fn is_me(&self, nick: &str) -> bool {
        self.fold(nick) == self.fold(&self.nick)
    }

    /// Our full prefix, `nick!user@host`, if known.
    pub fn prefix(&self) -> String {
        match &self.userhost {
            Some(uh) => format!("{}!{}", self.nick, uh),
            None => self.nick.clone(),
        }
    }

    /// Length of `:nick!user@host ` as the server will prepend it to our messages.
    pub fn prefix_len(&self) -> usize {
        match &self.userhost {
            Some(uh) => 1 + self.nick.len() + 1 + uh.len() + 1,
            // Unknown: assume the longest user (10 + `~`) and host the server allows.
            None => 1 + self.nick.len() + 1 + 11 + 1 + self.hostlen.unwrap_or(63) + 1,
        }
    }

    /// The fragment budget for a PRIVMSG to `target`: what fits in 512 bytes after the
    /// server prepends our prefix, minus a safety margin.
    pub fn budget_for(&self, target: &str) -> usize {
        const MARGIN: usize = 10;
        let fixed = self.prefix_len() + "PRIVMSG ".len() + target.len() + " :".len() + 2;
        512usize.saturating_sub(fixed + MARGIN).max(64)
    }

    /// Records what a server line tells us. Returns true when the line is part of the
    /// registration burst that we store for later clients.
    pub fn observe(&mut self, raw: &Bytes, line: &Line<'_>) {
        let cmd = line.command;
        match cmd {
            b"001" => {
                self.registered = true;
                self.server = String::from_utf8_lossy(line.source.unwrap_or_default()).into_owned();
                if let Some(n) = line.param_str(0) {
                    self.nick = n;
                }
                // "Welcome to the ... network nick!user@host": learn our prefix.
                if let Some(last) = line
                    .params
                    .last()
                    .and_then(|t| t.rsplit(|&b| b == b' ').next())
                    && let Some(bang) = last.iter().position(|&b| b == b'!')
                    && last.contains(&b'@')
                {
                    self.userhost = last
                        .get(bang + 1..)
                        .map(|s| String::from_utf8_lossy(s).into_owned());
                }
                self.welcome.clear();
                self.welcome.push(raw.clone());
            }
            b"002" | b"003" => self.welcome.push(raw.clone()),
            b"004" => {
                self.welcome.push(raw.clone());
                self.server_version = line
                    .param_str(2)
                    .map(|v| v.chars().take(MAX_VERSION_CHARS).collect());
            }
            b"005" => {
                if self.isupport.len() < MAX_ISUPPORT_LINES {
                    self.isupport.push(raw.clone());
                }
                let n = line.params.len();
                for tok in line.params.iter().take(n.saturating_sub(1)).skip(1) {
                    let tok = String::from_utf8_lossy(tok);
                    let (k, v) = tok.split_once('=').unwrap_or((&tok, ""));
                    match k {
                        "CASEMAPPING" => self.casemapping = Some(isupport_value(v)),
                        "-CASEMAPPING" => self.casemapping = None,
                        "UTF8MAPPING" => self.utf8mapping = Some(isupport_value(v)),
                        "-UTF8MAPPING" => self.utf8mapping = None,
                        "CHANTYPES" => {
                            if let Some(t) = crate::irc::target::sane_chantypes(v) {
                                self.chantypes = t;
                            }
                        }
                        "HOSTLEN" => self.hostlen = v.parse().ok(),
                        "PREFIX" => self.modes.set_prefix(v),
                        "CHANMODES" => self.modes.set_chanmodes(v),
                        "TARGMAX" => {
                            self.join_targets = v
                                .split(',')
                                .filter_map(|t| t.split_once(':'))
                                .find(|(cmd, _)| cmd.eq_ignore_ascii_case("JOIN"))
                                .and_then(|(_, n)| n.parse().ok())
                                .filter(|&n| n > 0);
                        }
                        "NICKLEN" => {
                            self.nicklen = v.parse::<usize>().ok().filter(|n| (1..=512).contains(n))
                        }
                        // soju's promise that it rate-limits without disconnecting.
                        "SAFERATE" | "soju.im/SAFERATE" => self.saferate = true,
                        _ => {}
                    }
                }
                self.set_casemap(CaseMapping::from_isupport(
                    self.casemapping.as_deref(),
                    self.utf8mapping.as_deref(),
                ));
            }
            b"375" => {
                self.motd.clear();
                self.motd_done = false;
                self.motd.push(raw.clone());
            }
            b"372" if !self.motd_done && self.motd.len() < MAX_MOTD_LINES => {
                self.motd.push(raw.clone())
            }
            b"376" | b"422" => {
                if cmd == b"422" {
                    self.motd.clear();
                }
                self.motd.push(raw.clone());
                self.motd_done = true;
            }
            // RPL_HOSTHIDDEN: our visible host changed.
            b"396" => {
                if let (Some(host), Some(uh)) = (line.param_str(1), self.userhost.clone()) {
                    let user = uh.split('@').next().unwrap_or_default().to_string();
                    self.userhost = Some(format!("{user}@{host}"));
                }
            }
            b"332" => {
                if let (Some(ch), Some(topic)) = (line.param_str(1), line.param(2)) {
                    let key = self.fold(&ch);
                    if let Some(c) = self.channels.get_mut(&key) {
                        c.topic = Some(kept_topic(topic));
                    }
                }
            }
            // RPL_NAMREPLY: `me <symbol> #chan :names`.
            b"353" => {
                if let (Some(sym), Some(ch), Some(items)) =
                    (line.param_str(1), line.param_str(2), line.param_str(3))
                {
                    let key = self.fold(&ch);
                    let room = members::MAX_MEMBERS.saturating_sub(self.members_total);
                    let casemap = self.casemap;
                    if let Some(c) = self.channels.get_mut(&key) {
                        let before = c.members.len();
                        let symbol = sym.chars().next().unwrap_or('=');
                        members::add_names(c, &self.modes, casemap, symbol, &items, room);
                        self.members_total = self.members_total + c.members.len() - before;
                    }
                }
            }
            b"366" => {
                if let Some(ch) = line.param_str(1) {
                    let key = self.fold(&ch);
                    if let Some(c) = self.channels.get_mut(&key) {
                        members::end_names(c);
                    }
                }
            }
            // RPL_CHANNELMODEIS: `me #chan +modes params…`.
            b"324" => {
                if let (Some(ch), Some(changes)) = (line.param_str(1), line.param_str(2)) {
                    let params: Vec<String> = (3..line.params.len())
                        .filter_map(|i| line.param_str(i))
                        .collect();
                    let modes = members::parse_modes(&self.modes, &changes, &params);
                    let key = self.fold(&ch);
                    if let Some(c) = self.channels.get_mut(&key) {
                        c.modes = Some(modes);
                    }
                }
            }
            // RPL_CREATIONTIME.
            b"329" => {
                if let (Some(ch), Some(at)) = (line.param_str(1), line.param_str(2)) {
                    let key = self.fold(&ch);
                    if let Some(c) = self.channels.get_mut(&key) {
                        c.created = Some(at.chars().take(20).collect());
                    }
                }
            }
            _ => self.observe_command(line),
        }
    }

    fn observe_command(&mut self, line: &Line<'_>) {
        let Some(src) = line
            .source_nick()
            .map(|s| String::from_utf8_lossy(s).into_owned())
        else {
            return;
        };
        let me = self.is_me(&src);
        if line.is("JOIN") {
            let Some(ch) = line.param_str(0) else { return };
            let key = self.fold(&ch);
            if me {
                // Our own JOIN carries our full prefix: learn it.
                if let Some(uh) = line.source.and_then(|s| {
                    s.iter()
                        .position(|&b| b == b'!')
                        .and_then(|i| s.get(i + 1..))
                }) {
                    self.userhost = Some(String::from_utf8_lossy(uh).into_owned());
                }
                if self.channels.contains_key(&key) || ch.len() > MAX_CHANNEL_NAME_BYTES {
                    return;
                }
                if self.channels.len() < MAX_CHANNELS {
                    self.channels.insert(key, Channel::new(ch));
                } else {
                    self.channels_overflowed = true;
                }
            } else {
                self.add_member(&key, &src);
            }
        } else if line.is("PART") {
            let Some(chans) = line.param_str(0) else {
                return;
            };
            for ch in chans.split(',') {
                let key = self.fold(ch);
                if me {
                    self.remove_channel(&key);
                } else {
                    self.remove_member(&key, &src);
                }
            }
        } else if line.is("KICK") {
            if let (Some(ch), Some(who)) = (line.param_str(0), line.param_str(1)) {
                let key = self.fold(&ch);
                if self.is_me(&who) {
                    self.remove_channel(&key);
                } else {
                    self.remove_member(&key, &who);
                }
            }
        } else if line.is("QUIT") {
            let nick = self.fold(&src);
            for c in self.channels.values_mut() {
                if c.members.remove(&nick).is_some() {
                    self.members_total = self.members_total.saturating_sub(1);
                }
            }
        } else if line.is("NICK") {
            let Some(new) = line.param_str(0) else { return };
            if me {
                self.nick = new.clone();
            }
            let (old_key, new_key) = (self.fold(&src), self.fold(&new));
            for c in self.channels.values_mut() {
                if let Some(mut m) = c.members.remove(&old_key) {
                    m.nick = new.clone();
                    // A (forged) change to a nick already listed merges the two.
                    if c.members.insert(new_key.clone(), m).is_some() {
                        self.members_total = self.members_total.saturating_sub(1);
                    }
                }
            }
        } else if line.is("MODE") {
            let (Some(target), Some(changes)) = (line.param_str(0), line.param_str(1)) else {
                return;
            };
            let params: Vec<String> = (2..line.params.len())
                .filter_map(|i| line.param_str(i))
                .collect();
            let key = self.fold(&target);
            let casemap = self.casemap;
            if let Some(c) = self.channels.get_mut(&key) {
                members::apply_mode(c, &self.modes, casemap, &changes, &params);
            }
        } else if line.is("TOPIC") {
            if let (Some(ch), Some(topic)) = (line.param_str(0), line.param(1)) {
                let key = self.fold(&ch);
                if let Some(c) = self.channels.get_mut(&key) {
                    c.topic = (!topic.is_empty()).then(|| kept_topic(topic));
                }
            }
        } else if line.is("CHGHOST")
            && me
            && let (Some(u), Some(h)) = (line.param_str(0), line.param_str(1))
        {
            self.userhost = Some(format!("{u}@{h}"));
        }
    }

    fn add_member(&mut self, chan_key: &str, nick: &str) {
        if self.members_total >= members::MAX_MEMBERS || nick.len() > members::MAX_NICK_BYTES {
            if let Some(c) = self.channels.get_mut(chan_key) {
                c.names_complete = false;
            }
            return;
        }
        let key = self.fold(nick);
        if let Some(c) = self.channels.get_mut(chan_key)
            && c.members
                .insert(
                    key,
                    members::Member {
                        nick: nick.to_string(),
                        prefix: String::new(),
                    },
                )
                .is_none()
        {
            self.members_total += 1;
        }
    }

    fn remove_member(&mut self, chan_key: &str, nick: &str) {
        let key = self.fold(nick);
        if let Some(c) = self.channels.get_mut(chan_key)
            && c.members.remove(&key).is_some()
        {
            self.members_total = self.members_total.saturating_sub(1);
        }
    }

    fn remove_channel(&mut self, chan_key: &str) {
        if let Some(c) = self.channels.remove(chan_key) {
            self.members_total = self.members_total.saturating_sub(c.members.len());
        }
    }

    /// The `353`/`366` lines answering `NAMES #chan` from what is tracked, if the member list
    /// is complete.
    pub fn names_reply(&self, chan: &str) -> Option<Vec<Bytes>> {
        let c = self.channels.get(&self.fold(chan))?;
        if !c.names_complete {
            return None;
        }
        self.names_lines(c)
    }

    /// `353`s and the `366` for a channel; None if any would not be one clean line (a hostile
    /// server's names with CR or NUL in them: the client then asks the server itself).
    fn names_lines(&self, c: &Channel) -> Option<Vec<Bytes>> {
        let server = self.server_name();
        let mut out = Vec::new();
        for chunk in c.names_chunks() {
            out.push(one_line(format!(
                ":{server} 353 {} {} {} :{chunk}",
                self.nick, c.symbol, c.name
            ))?);
        }
        out.push(one_line(format!(
            ":{server} 366 {} {} :End of /NAMES list.",
            self.nick, c.name
        ))?);
        Some(out)
    }

    /// The `324` (and `329`) lines answering `MODE #chan`, once the modes are known.
    pub fn modes_reply(&self, chan: &str) -> Option<Vec<Bytes>> {
        let c = self.channels.get(&self.fold(chan))?;
        let modes = c.mode_string()?;
        let server = self.server_name();
        let mut out = vec![one_line(format!(
            ":{server} 324 {} {} {modes}",
            self.nick, c.name
        ))?];
        if let Some(at) = &c.created {
            out.push(one_line(format!(
                ":{server} 329 {} {} {at}",
                self.nick, c.name
            ))?);
        }
        Some(out)
    }

    /// The server's name as numerics give it (otrbnc's own before the first 001).
    fn server_name(&self) -> &str {
        if self.server.is_empty() {
            "otrbnc"
        } else {
            &self.server
        }
    }

    /// Members tracked over all channels (the bound's counter; equal to the sum of the
    /// channels' member lists).
    pub fn members_total(&self) -> usize {
        self.members_total
    }

    /// The ISUPPORT lines of this connection.
    pub fn isupport_lines(&self) -> &[Bytes] {
        &self.isupport
    }

    /// The lines that welcome a client attaching now: registration numerics, ISUPPORT and
    /// MOTD with our current nick, then for every channel a JOIN, the topic and (when the
    /// member list is complete) its NAMES: the client needs no upstream traffic to show them.
    pub fn welcome_burst(&self) -> Vec<Bytes> {
        let mut out = Vec::new();
        for raw in self.welcome.iter().chain(&self.isupport).chain(&self.motd) {
            out.push(replace_first_param(raw, &self.nick));
        }
        let prefix = self.prefix();
        for ch in self.channels.values() {
            out.push(build::command(Some(&prefix), &["JOIN", &ch.name]));
            if let Some(topic) = &ch.topic {
                let mut l =
                    format!(":{} 332 {} {} :", self.server, self.nick, ch.name).into_bytes();
                l.extend_from_slice(topic);
                l.extend_from_slice(b"\r\n");
                out.push(Bytes::from(l));
            }
            if ch.names_complete
                && let Some(lines) = self.names_lines(ch)
            {
                out.extend(lines);
            }
        }
        out
    }
}

/// `text` with CRLF as one line, or None when it holds CR, LF or NUL (it would not be one
/// line to the client).
fn one_line(text: String) -> Option<Bytes> {
    if text.contains(['\r', '\n', '\0']) {
        return None;
    }
    let mut line = text.into_bytes();
    line.extend_from_slice(b"\r\n");
    Some(Bytes::from(line))
}

/// An ISUPPORT value as kept: a value longer than any mapping name is some unknown mapping.
fn isupport_value(v: &str) -> String {
    if v.len() <= 32 {
        v.to_string()
    } else {
        "unknown".to_string()
    }
}

/// The line with its first parameter (the target nick of a numeric) replaced.
pub fn replace_first_param(raw: &Bytes, new: &str) -> Bytes {
    let Some(line) = Line::parse(raw) else {
        return raw.clone();
    };
    let Some(first) = line.param(0) else {
        return raw.clone();
    };
    if first == new.as_bytes() {
        return raw.clone();
    }
    let start = (first.as_ptr() as usize).saturating_sub(raw.as_ptr() as usize);
    let end = start + first.len();
    let (Some(head), Some(tail)) = (raw.get(..start), raw.get(end..)) else {
        return raw.clone();
    };
    let mut out = Vec::with_capacity(raw.len() + new.len());
    out.extend_from_slice(head);
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(tail);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut IrcState, raw: &'static [u8]) {
        let b = Bytes::from_static(raw);
        let l = Line::parse(raw).unwrap();
        s.observe(&b, &l);
    }

    #[test]
    fn a_server_cannot_make_nicks_look_like_channels() {
        let mut s = IrcState::new("alice");
        feed(
            &mut s,
            b":irc.test 005 alice CHANTYPES=abcdefghijklmnopqrstuvwxyz# :are supported\r\n",
        );
        assert!(!s.is_channel("bob") && s.is_channel("#x"));
        feed(
            &mut s,
            b":irc.test 005 alice CHANTYPES=#&! :are supported\r\n",
        );
        assert!(s.is_channel("!x") && !s.is_channel("bob"));
    }

    #[test]
    fn casemapping_and_utf8mapping_make_the_fold() {
        let mut s = IrcState::new("alice");
        assert_eq!(s.casemap, CaseMapping::Rfc1459);
        feed(&mut s, b":alice!~alice@localhost JOIN #Chan[x]\r\n");
        // Ergo: the two tokens may come in different 005 lines.
        feed(
            &mut s,
            b":irc.test 005 alice CASEMAPPING=ascii :are supported\r\n",
        );
        assert_eq!(s.casemap, CaseMapping::Ascii);
        assert!(s.channels.contains_key("#chan[x]"), "{:?}", s.channels);
        feed(
            &mut s,
            b":irc.test 005 alice UTF8MAPPING=rfc8265 :are supported\r\n",
        );
        assert_eq!(s.casemap, CaseMapping::Rfc8265);
        assert_eq!(s.fold("ＢＯＢ"), "bob");
        feed(
            &mut s,
            b":irc.test 005 alice -UTF8MAPPING :are supported\r\n",
        );
        assert_eq!(s.casemap, CaseMapping::Ascii);
        feed(
            &mut s,
            b":irc.test 005 alice CASEMAPPING=utf8 :are supported\r\n",
        );
        assert_eq!(s.casemap, CaseMapping::Rfc1459);
        assert!(s.channels.contains_key("#chan{x}"), "{:?}", s.channels);
        feed(&mut s, b":alice!~alice@localhost PART #CHAN[X]\r\n");
        assert!(s.channels.is_empty());
    }

    #[test]
    fn learns_registration_and_channels() {
        let mut s = IrcState::new("alice");
        feed(&mut s, b":irc.test 001 alice :Welcome to the Internet Relay Network alice!~alice@localhost\r\n");
        feed(
            &mut s,
            b":irc.test 005 alice CASEMAPPING=ascii CHANTYPES=#& :are supported\r\n",
        );
        feed(&mut s, b":irc.test 422 alice :MOTD File is missing\r\n");
        feed(&mut s, b":alice!~alice@localhost JOIN #Chan\r\n");
        feed(&mut s, b":irc.test 332 alice #chan :the topic\r\n");
        assert_eq!(s.server_version, None);
        feed(
            &mut s,
            b":irc.test 004 alice irc.test ngircd-26.1 abc defg\r\n",
        );
        assert_eq!(s.server_version.as_deref(), Some("ngircd-26.1"));
        assert_eq!(s.userhost.as_deref(), Some("~alice@localhost"));
        assert_eq!(s.casemap, CaseMapping::Ascii);
        assert!(!s.saferate);
        feed(
            &mut s,
            b":irc.test 005 alice soju.im/SAFERATE :are supported\r\n",
        );
        assert!(s.saferate);
        assert!(s.is_channel("#x") && !s.is_channel("bob"));
        feed(&mut s, b":alice!~alice@localhost NICK alice2\r\n");
        let burst = s.welcome_burst();
        let text: Vec<String> = burst
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert!(
            text.first()
                .unwrap()
                .starts_with(":irc.test 001 alice2 :Welcome"),
            "{text:?}"
        );
        assert!(
            text.contains(&":alice2!~alice@localhost JOIN #Chan\r\n".to_string()),
            "{text:?}"
        );
        assert!(
            text.contains(&":irc.test 332 alice2 #Chan :the topic\r\n".to_string()),
            "{text:?}"
        );
        feed(&mut s, b":op!x@y KICK #chan alice2 :bye\r\n");
        assert!(s.channels.is_empty());
    }

    #[test]
    fn members_follow_joins_parts_quits_nicks_kicks_and_modes() {
        let mut s = IrcState::new("alice");
        feed(
            &mut s,
            b":irc.test 001 alice :Welcome alice!~alice@localhost\r\n",
        );
        feed(&mut s, b":alice!~alice@localhost JOIN #c\r\n");
        assert!(s.names_reply("#c").is_none(), "no list before the 366");
        feed(&mut s, b":irc.test 353 alice @ #c :@alice +bob\r\n");
        feed(&mut s, b":irc.test 366 alice #c :End of NAMES list\r\n");
        feed(&mut s, b":carol!c@h JOIN #c\r\n");
        feed(&mut s, b":bob!b@h NICK Robert\r\n");
        feed(&mut s, b":alice!~alice@localhost MODE #c +o carol\r\n");
        feed(&mut s, b":dave!d@h JOIN #c\r\n");
        feed(&mut s, b":dave!d@h QUIT :bye\r\n");
        feed(&mut s, b":erin!e@h JOIN #c\r\n");
        feed(&mut s, b":erin!e@h PART #c\r\n");
        let reply: Vec<String> = s
            .names_reply("#C")
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert_eq!(
            reply,
            vec![
                ":irc.test 353 alice @ #c :@alice @carol +Robert\r\n".to_string(),
                ":irc.test 366 alice #c :End of /NAMES list.\r\n".to_string()
            ]
        );
        assert!(s.modes_reply("#c").is_none(), "modes unknown before a 324");
        feed(&mut s, b":irc.test 324 alice #c +tn\r\n");
        feed(&mut s, b":irc.test 329 alice #c 1700000000\r\n");
        feed(&mut s, b":carol!c@h MODE #c +k sekrit\r\n");
        let modes: Vec<String> = s
            .modes_reply("#c")
            .unwrap()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        assert_eq!(modes[0], ":irc.test 324 alice #c +knt sekrit\r\n");
        assert_eq!(modes[1], ":irc.test 329 alice #c 1700000000\r\n");
        // The attach burst carries the list; a kick of us forgets the channel.
        let burst = s.welcome_burst();
        assert!(
            burst
                .iter()
                .any(|l| l.starts_with(b":irc.test 353 alice @ #c :"))
        );
        // A forged change to a nick already listed merges the two (found by fuzzing).
        feed(&mut s, b":carol!c@h NICK Robert\r\n");
        assert_eq!(s.members_total, 2);
        feed(&mut s, b":carol!c@h KICK #c alice :out\r\n");
        assert!(s.names_reply("#c").is_none());
        assert_eq!(s.members_total, 0);
    }

    #[test]
    fn budget_uses_the_real_prefix() {
        let mut s = IrcState::new("alice");
        let unknown = s.budget_for("bob");
        s.userhost = Some("~alice@localhost".into());
        let known = s.budget_for("bob");
        assert!(known > unknown);
        // 512 = budget + ":alice!~alice@localhost " + "PRIVMSG bob :" + CRLF + margin.
        assert_eq!(known + 24 + 13 + 2 + 10, 512);
    }
}
