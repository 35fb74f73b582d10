//! Keeping the user's channels joined across reconnects and restarts (the list itself is
//! [`super::joins`]), and answering NAMES and channel MODE queries from tracked state.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::joins::{self, JoinFailure};
use super::{ClientId, Net, members};
use crate::irc::Line;
use crate::store::StoredChannel;

/// Keys from clients' `JOIN` lines waiting for the server's answer (bounded).
const MAX_PENDING_KEYS: usize = 256;
/// Channel changes are written to the store this long after the first one (a burst of
/// joins costs one write).
const SAVE_DELAY: Duration = Duration::from_secs(2);

impl Net {
    /// The configured channels and those kept in the store, as the network starts.
    pub(super) fn load_kept_channels(&mut self) {
        let configured: Vec<(String, Option<String>)> = self
            .cfg
            .channels
            .iter()
            .filter_map(|c| joins::parse_configured(c))
            .collect();
        for (name, key) in configured {
            let _ = self.joins.add(self.irc.fold(&name), &name, key, true);
        }
        let stored: Vec<StoredChannel> = self.otr.trust.channels().cloned().collect();
        for c in stored {
            let _ = self
                .joins
                .add(self.irc.fold(&c.name), &c.name, c.key, false);
        }
    }

    /// A client's `JOIN`: remember the keys it gave until the server answers.
    pub(super) fn note_client_join(&mut self, line: &Line<'_>) {
        let Some(chans) = line.param_str(0) else {
            return;
        };
        for (name, key) in joins::parse_join(&chans, line.param_str(1).as_deref()) {
            if self.pending_keys.len() >= MAX_PENDING_KEYS {
                self.pending_keys.pop_first();
            }
            let folded = self.irc.fold(&name);
            self.pending_keys.insert(folded, key);
        }
    }

    /// A client's `JOIN` while the server is away: the channels are kept and joined when it
    /// is back.
    pub(super) fn join_later(&mut self, id: ClientId, line: &Line<'_>) {
        let Some(chans) = line.param_str(0) else {
            return;
        };
        let mut later = Vec::new();
        for (name, key) in joins::parse_join(&chans, line.param_str(1).as_deref()) {
            if !self.irc.is_channel(&name) {
                continue;
            }
            let folded = self.irc.fold(&name);
            if self.joins.add(folded.clone(), &name, key, false).is_ok() {
                self.store_channel(&folded);
                later.push(name);
            }
        }
        if !later.is_empty() {
            let text = format!(
                "Not connected to the server yet: {} will be joined when it is.",
                later.join(", ")
            );
            self.reply(id, &text);
        }
    }

    /// Joins every kept channel not joined yet (and not waiting for a retry), in as few
    /// lines as the server allows.
    pub(super) fn join_kept(&mut self) {
        if !self.irc.registered {
            return;
        }
        let now = Instant::now();
        let due: Vec<(String, Option<String>)> = self
            .joins
            .due(now, |k| self.irc.channels.contains_key(k))
            .into_iter()
            .map(|(n, k)| (n.to_string(), k.map(str::to_string)))
            .collect();
        if due.is_empty() {
            return;
        }
        for (name, _) in &due {
            let folded = self.irc.fold(name);
            self.joins.sent(&folded, now);
        }
        let refs: Vec<(&str, Option<&str>)> = due
            .iter()
            .map(|(n, k)| (n.as_str(), k.as_deref()))
            .collect();
        let lines = joins::join_lines(&refs, self.irc.join_targets);
        tracing::debug!(network = %self.name, channels = due.len(), lines = lines.len(), "joining kept channels");
        self.send_paced(lines);
    }

    /// What a server line means for the kept channels (called after the state saw it).
    pub(super) fn track_kept_channels(&mut self, cmd: &[u8], line: &Line<'_>) {
        let me = line
            .source_nick()
            .is_some_and(|s| self.irc.is_me(&String::from_utf8_lossy(s)));
        match cmd {
            b"JOIN" if me => {
                let Some(name) = line.param_str(0) else {
                    return;
                };
                // Not a name any server allows: not kept (nor tracked, see `IrcState`).
                if name.len() > super::state::MAX_CHANNEL_NAME_BYTES {
                    return;
                }
                let folded = self.irc.fold(&name);
                let key = self.pending_keys.remove(&folded).flatten();
                match self.joins.add(folded.clone(), &name, key, false) {
                    Ok(_) => {
                        self.joins.joined(&folded);
                        self.store_channel(&folded);
                    }
                    Err(joins::Full) => self.notify(&format!(
                        "{name} is joined but not kept for the next connection: otrbnc keeps at most {} channels.",
                        joins::MAX_WANTED
                    )),
                }
                if std::mem::take(&mut self.irc.channels_overflowed) {
                    self.notify(&format!(
                        "{name}: otrbnc tracks at most {} channels; this one's topic and members are not tracked.",
                        super::state::MAX_CHANNELS
                    ));
                }
            }
            b"PART" if me => {
                let Some(chans) = line.param_str(0) else {
                    return;
                };
                for name in chans.split(',') {
                    let folded = self.irc.fold(name);
                    if self.joins.remove(&folded).is_some() {
                        self.unstore_channel(&folded);
                    }
                }
            }
            // Kicked: tried again later, like a join the server refused (a ban then backs off).
            b"KICK" => {
                if let (Some(name), Some(who)) = (line.param_str(0), line.param_str(1))
                    && self.irc.is_me(&who)
                {
                    let folded = self.irc.fold(&name);
                    self.joins
                        .failed(&folded, JoinFailure::Retry, Instant::now());
                }
            }
            b"MODE" => {
                let (Some(name), Some(changes)) = (line.param_str(0), line.param_str(1)) else {
                    return;
                };
                let folded = self.irc.fold(&name);
                if !self.joins.contains(&folded) {
                    return;
                }
                let params: Vec<String> = (2..line.params.len())
                    .filter_map(|i| line.param_str(i))
                    .collect();
                if let Some(key) = members::key_change(&self.irc.modes, &changes, &params)
                    && self.joins.set_key(&folded, key)
                {
                    self.store_channel(&folded);
                }
            }
            _ => {
                if let Some(why) = joins::join_failure(cmd) {
                    self.kept_join_failed(why, line);
                }
            }
        }
    }

    /// The server refused to join a channel: a kept one is retried later (or dropped when it
    /// can never be joined) and the user told once per channel.
    fn kept_join_failed(&mut self, why: JoinFailure, line: &Line<'_>) {
        let Some(name) = line.param_str(1) else {
            return;
        };
        let folded = self.irc.fold(&name);
        if !self.joins.contains(&folded) || self.irc.channels.contains_key(&folded) {
            return;
        }
        let reason = line
            .params
            .last()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default();
        let first = self.joins.get(&folded).is_some_and(|w| !w.reported);
        match self.joins.failed(&folded, why, Instant::now()) {
            Some(wait) => {
                if first {
                    self.notify(&format!(
                        "Could not join {name} ({reason}); trying again in {} min, then less often.",
                        wait.as_secs().div_ceil(60)
                    ));
                }
            }
            None => {
                self.unstore_channel(&folded);
                self.notify(&format!(
                    "Could not join {name} ({reason}); it is no longer kept."
                ));
            }
        }
    }

    /// Saves a channel joined at run time (configured ones stay in the configuration).
    fn store_channel(&mut self, folded: &str) {
        let Some(w) = self.joins.get(folded) else {
            return;
        };
        if w.configured {
            return;
        }
        let c = StoredChannel {
            name: w.name.clone(),
            key: w.key.clone(),
        };
        if self.otr.trust.set_channel(folded, c) {
            self.schedule_save();
        }
    }

    fn unstore_channel(&mut self, folded: &str) {
        if self.otr.trust.remove_channel(folded) {
            self.schedule_save();
        }
    }

    fn schedule_save(&mut self) {
        if self.save_at.is_none() {
            self.save_at = Some(Instant::now() + SAVE_DELAY);
        }
    }

    /// The deferred store write, when due.
    pub(super) fn save_timer(&mut self, now: Instant) {
        if self.save_at.is_some_and(|t| t <= now) {
            self.save_at = None;
            self.save_trust();
        }
    }

    /// `NAMES #chan` or `MODE #chan` from a client, answered from tracked state when it can
    /// be (only to that client); false when the server must answer.
    pub(super) fn answer_from_state(&mut self, id: ClientId, line: &Line<'_>) -> bool {
        let lines = match (line.param_str(0), line.params.len()) {
            (Some(chan), 1) if line.is("NAMES") && !chan.contains(',') => {
                self.irc.names_reply(&chan)
            }
            (Some(chan), 1) if line.is("MODE") && self.irc.is_channel(&chan) => {
                self.irc.modes_reply(&chan)
            }
            _ => None,
        };
        let Some(lines) = lines else {
            return false;
        };
        self.send_lines(id, lines);
        true
    }

    /// Sends `lines` to one client.
    pub(super) fn send_lines(&mut self, id: ClientId, lines: Vec<Bytes>) {
        for l in lines {
            self.clients.send_to(id, l);
        }
    }
}
