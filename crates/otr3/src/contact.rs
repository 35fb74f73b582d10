//! Everything otrbnc holds for one peer nick in OTRv3/v2: one [`Conversation`] per instance
//! of the peer (a nick can be used from several clients, each with its own instance tag),
//! fragment reassembly per instance, routing by instance tag, and the encoding of outgoing
//! messages into `?OTR:` text and fragments.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand_core::CryptoRng;

use crate::conversation::{Conversation, Event, Local, MsgState, SendError};
use crate::fragment::{self, Assembled, Assembler};
use crate::message::{self, Header, Message, VERSION_2, VERSION_3, kind};

/// Instances of one peer tracked at once; a hostile server can invent instance tags, so the
/// number is bounded and the least recently active non-private instance makes room.
pub const MAX_INSTANCES: usize = 4;

/// Which versions the local policy allows with this peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// OTRv2.
    pub v2: bool,
    /// OTRv3.
    pub v3: bool,
}

/// What became of one received text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Not an OTRv3/v2 message or fragment.
    NotOurs,
    /// Consumed (a fragment, an AKE message, a data message: see the events).
    Consumed,
    /// An OTRv3/v2 message the policy does not allow, or addressed to another instance:
    /// dropped.
    Dropped,
}

struct Instance {
    conv: Conversation,
    assembler: Assembler,
    last_active_ms: u64,
}

/// One peer nick's OTRv3/v2 state.
#[derive(Default)]
pub struct Contact {
    instances: Vec<Instance>,
    /// Reassembly of OTRv2 fragments (which carry no tags).
    v2_assembler: Assembler,
    events: Vec<(u32, Event)>,
}

/// Wraps a binary message in `?OTR:...`.
pub fn envelope(bin: &[u8]) -> String {
    format!("?OTR:{}.", STANDARD.encode(bin))
}

impl Contact {
    /// No state.
    pub fn new() -> Contact {
        Contact::default()
    }

    fn find(&self, tag: u32) -> Option<usize> {
        self.instances
            .iter()
            .position(|i| i.conv.their_tag() == tag)
    }

    fn make_room(&mut self) {
        if self.instances.len() < MAX_INSTANCES {
            return;
        }
        // Evict the least recently active instance, private ones last.
        if let Some(i) = self
            .instances
            .iter()
            .enumerate()
            .min_by_key(|(_, i)| (i.conv.state() == MsgState::Encrypted, i.last_active_ms))
            .map(|(i, _)| i)
        {
            self.instances.remove(i);
        }
    }

    fn insert(&mut self, conv: Conversation, now_ms: u64) -> usize {
        self.make_room();
        self.instances.push(Instance {
            conv,
            assembler: Assembler::new(),
            last_active_ms: now_ms,
        });
        self.instances.len() - 1
    }

    /// Starts an AKE in `version` (we send a D-H Commit to whichever instance answers), as
    /// on a query message or whitespace tag offering it.
    pub fn start<R: CryptoRng>(&mut self, rng: &mut R, version: u16, now_ms: u64) {
        let i = match self.find(0) {
            Some(i) => i,
            None => self.insert(Conversation::new(version, 0), now_ms),
        };
        if let Some(inst) = self.instances.get_mut(i) {
            if inst.conv.version() != version {
                inst.conv = Conversation::new(version, 0);
            }
            inst.conv.start_ake(rng, now_ms);
            inst.last_active_ms = now_ms;
        }
    }

    /// Feeds a received text (an IRC message's text). Fragments and `?OTR:` messages of
    /// version 2 or 3 are handled; anything else is [`Handled::NotOurs`].
    pub fn receive<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        versions: Versions,
        text: &str,
        now_ms: u64,
    ) -> Handled {
        if let Some(f) = fragment::parse(text) {
            if (f.version == VERSION_3 && !versions.v3) || (f.version == VERSION_2 && !versions.v2)
            {
                return Handled::Dropped;
            }
            if f.version == VERSION_3
                && ((f.receiver_tag != 0 && f.receiver_tag != local.tag)
                    || f.sender_tag < message::MIN_INSTANCE_TAG)
            {
                return Handled::Dropped;
            }
            let assembled = if f.version == VERSION_2 {
                self.v2_assembler.push(&f)
            } else {
                // A fragment from an instance we do not know yet is buffered in a fresh
                // assembler only if piece 1 starts it (bounded like any instance).
                let i = match self.find(f.sender_tag) {
                    Some(i) => i,
                    None if f.k == 1 => {
                        self.insert(Conversation::new(VERSION_3, f.sender_tag), now_ms)
                    }
                    None => return Handled::Dropped,
                };
                match self.instances.get_mut(i) {
                    Some(inst) => inst.assembler.push(&f),
                    None => return Handled::Dropped,
                }
            };
            return match assembled {
                Assembled::Complete(whole) => {
                    match self.receive_encoded(rng, local, versions, &whole, now_ms) {
                        Handled::NotOurs => Handled::Dropped,
                        h => h,
                    }
                }
                Assembled::Pending | Assembled::Dropped => Handled::Consumed,
            };
        }
        self.receive_encoded(rng, local, versions, text, now_ms)
    }

    fn receive_encoded<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        local: &Local<'_>,
        versions: Versions,
        text: &str,
        now_ms: u64,
    ) -> Handled {
        let Some(b64) = text
            .trim_end()
            .strip_prefix("?OTR:")
            .and_then(|t| t.strip_suffix('.'))
        else {
            return Handled::NotOurs;
        };
        if b64.len() > crate::limits::MAX_MESSAGE_BYTES / 3 * 4 + 4 {
            return Handled::Dropped;
        }
        let Ok(bytes) = STANDARD.decode(b64) else {
            return Handled::NotOurs;
        };
        let Ok((header, kind_byte)) = message::peek_header(&bytes) else {
            return Handled::NotOurs;
        };
        if (header.version == VERSION_3 && !versions.v3)
            || (header.version == VERSION_2 && !versions.v2)
            || !header.tags_ok(local.tag)
        {
            return Handled::Dropped;
        }
        let Ok((header, msg)) = Message::decode(&bytes) else {
            // Ours, but malformed: a data message is reported unreadable, the rest dropped.
            if kind_byte == kind::DATA {
                self.events.push((
                    header.sender_tag,
                    Event::Unreadable {
                        error: None,
                        quiet: false,
                    },
                ));
            }
            return Handled::Consumed;
        };
        let authenticated = match &msg {
            Message::Data(d) => message::data_authenticated_raw(&bytes, d).unwrap_or_default(),
            _ => &[][..],
        };
        let Some(i) = self.route(&header, &msg, now_ms) else {
            if let Message::Data(d) = &msg {
                self.events.push((
                    header.sender_tag,
                    Event::Unreadable {
                        error: None,
                        quiet: d.flags & message::FLAG_IGNORE_UNREADABLE != 0,
                    },
                ));
            }
            return Handled::Consumed;
        };
        if let Some(inst) = self.instances.get_mut(i) {
            inst.conv.handle(rng, local, &msg, authenticated, now_ms);
            inst.last_active_ms = now_ms;
            let tag = inst.conv.their_tag();
            for e in inst.conv.poll_events() {
                self.events.push((tag, e));
            }
        }
        Handled::Consumed
    }

    /// Finds (or makes) the conversation a message from `header`'s sender belongs to.
    fn route(&mut self, header: &Header, msg: &Message, now_ms: u64) -> Option<usize> {
        let tag = header.sender_tag;
        if header.version == VERSION_2 {
            return match self.find(0) {
                Some(i) => Some(i),
                None if matches!(msg, Message::DhCommit { .. } | Message::DhKey { .. }) => {
                    Some(self.insert(Conversation::new(VERSION_2, 0), now_ms))
                }
                None => None,
            };
        }
        if let Some(i) = self.find(tag) {
            let inst = self.instances.get(i)?;
            if inst.conv.version() != VERSION_3 {
                return None;
            }
            // Our new commit (to receiver 0) answered by an instance we already talk to: it
            // takes the exchange over, its current session going on until the AKE completes.
            if matches!(msg, Message::DhKey { .. })
                && !inst.conv.awaiting_dh_key()
                && let Some(ake) = self.master_ake()
                && let Some(inst) = self.instances.get_mut(i)
            {
                inst.conv.adopt_ake(ake);
            }
            return Some(i);
        }
        match msg {
            Message::DhCommit { .. } => {
                Some(self.insert(Conversation::new(VERSION_3, tag), now_ms))
            }
            Message::DhKey { .. } => {
                // An answer to our commit, which went to receiver 0: the first answering
                // instance takes the exchange over, later ones get a copy of it.
                let ake = self.master_ake()?;
                Some(self.insert(Conversation::with_ake(VERSION_3, tag, ake), now_ms))
            }
            _ => None,
        }
    }

    /// A copy of the exchange our commit to receiver 0 started, if it awaits a D-H Key.
    fn master_ake(&self) -> Option<crate::ake::Ake> {
        self.instances
            .iter()
            .find(|i| i.conv.their_tag() == 0 && i.conv.awaiting_dh_key())?
            .conv
            .fork_ake()
    }

    /// The instance messages are sent to: the private one most recently active, else the
    /// most recently active one.
    fn best(&self) -> Option<usize> {
        self.instances
            .iter()
            .enumerate()
            .max_by_key(|(_, i)| (i.conv.state() == MsgState::Encrypted, i.last_active_ms))
            .map(|(i, _)| i)
    }

    /// The conversation messages go to (see [`Contact::send`]).
    pub fn best_conversation(&self) -> Option<&Conversation> {
        self.best()
            .and_then(|i| self.instances.get(i))
            .map(|i| &i.conv)
    }

    /// Every conversation, for status displays.
    pub fn conversations(&self) -> impl Iterator<Item = &Conversation> {
        self.instances.iter().map(|i| &i.conv)
    }

    /// The last time anything was sent to or received from a private instance (`None`
    /// without one): what the idle expiry of the conversation counts from.
    pub fn last_private_activity_ms(&self) -> Option<u64> {
        self.instances
            .iter()
            .filter(|i| i.conv.state() == MsgState::Encrypted)
            .map(|i| i.last_active_ms.max(i.conv.last_sent_ms()))
            .max()
    }

    /// The state towards the best instance.
    pub fn state(&self) -> MsgState {
        self.best_conversation()
            .map(Conversation::state)
            .unwrap_or(MsgState::Plaintext)
    }

    /// Encrypts a message to the best instance.
    pub fn send(&mut self, local: &Local<'_>, text: &str, now_ms: u64) -> Result<(), SendError> {
        let i = self.best().ok_or(SendError::NotPrivate)?;
        let inst = self.instances.get_mut(i).ok_or(SendError::NotPrivate)?;
        inst.conv.send(local, text, now_ms)
    }

    /// Runs `f` on the best instance's conversation.
    pub fn with_best<T>(&mut self, f: impl FnOnce(&mut Conversation) -> T) -> Option<T> {
        let i = self.best()?;
        self.instances.get_mut(i).map(|inst| f(&mut inst.conv))
    }

    /// Ends every private conversation with the peer (telling each instance).
    pub fn finish_all(&mut self, local: &Local<'_>, now_ms: u64) {
        for inst in &mut self.instances {
            inst.conv.finish(local, now_ms);
        }
    }

    /// Forgets every instance (without telling the peer).
    pub fn clear(&mut self) {
        self.instances.clear();
        self.v2_assembler.reset();
    }

    /// Takes the lines to send: every pending message, encoded and split to `budget` bytes.
    pub fn poll_lines(&mut self, our_tag: u32, budget: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for inst in &mut self.instances {
            for (header, m) in inst.conv.poll_messages(our_tag) {
                let encoded = envelope(&m.encode(&header));
                lines.extend(fragment::split(
                    &encoded,
                    header.version,
                    header.sender_tag,
                    header.receiver_tag,
                    budget,
                ));
            }
            let tag = inst.conv.their_tag();
            for e in inst.conv.poll_events() {
                self.events.push((tag, e));
            }
        }
        lines
    }

    /// Takes the events, each with the instance tag it concerns (0 for version 2).
    pub fn poll_events(&mut self) -> Vec<(u32, Event)> {
        std::mem::take(&mut self.events)
    }
}
