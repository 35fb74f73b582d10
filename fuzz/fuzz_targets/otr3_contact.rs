//! `otr3::contact::Contact`, stateful: two contacts with a private session, and a hostile
//! relay between them that the input programs.
//!
//! Set-up (afresh for every input, from a seeded RNG, so a crash replays): alice
//! (`testing::alice_key()`, instance tag 0x100) and bob (`bob_key()`, 0x200) each hold a
//! `Contact` for the other; bob starts an OTRv3 AKE and the lines are relayed in order until
//! the network is quiet, which leaves both private. Both accept v2 and v3; bob pads his
//! plaintexts to 128-byte blocks. Lines each side sends wait in a queue per direction (at
//! most 256; the oldest is lost beyond that).
//!
//! Then the input is a program, one opcode byte (mod 16) and its operands at a time (see
//! `World::op`; past the end of the input every read is zero): deliver a queued line, drop
//! it, deliver a copy (replay), tamper with a byte in its fragment header or base64 body
//! (delivering the altered line instead of, or besides, the original), inject the input's
//! bytes as a line, inject an attacker-built binary message (any type, bob's real tag or
//! another, whole or fragmented), swap two queued lines, let time pass (heartbeats), send a
//! message from either side, start SMP from either side (the peer answers with the same
//! secret or another), finish from either side, restart the AKE from either side, deliver
//! everything, change the line budget.
//!
//! Properties, after every step:
//! * no panic, and every exchange of lines goes quiet (no endless ping-pong);
//! * memory is bounded: each contact holds at most `MAX_INSTANCES` conversations;
//! * every line sent is one IRC line (no CR, LF, NUL) within the line budget;
//! * every `Event::Message` a side reports is a text the other side actually sent (each is
//!   unique), reported at most once (no replay), and from the other side's instance tag: a
//!   forged, altered or replayed line never yields a message;
//! * every `Event::Private` names the other side's fingerprint;
//! * an SMP run succeeds only if some run was started with both secrets equal.
//!
//! At the end, after delivering everything: if both sides are private in the same session
//! (same ssid), a fresh message each way is delivered.
#![no_main]

use std::collections::{HashSet, VecDeque};
use std::sync::OnceLock;

use otr3::contact::{Contact, MAX_INSTANCES, Versions, envelope};
use otr3::conversation::{Event, Local, MsgState};
use otr3::dsa::PrivateKey;
use otr3::fragment::split;
use otr3::message::{VERSION_3, kind};
use otr3::smp::SmpOutput;
use otr3::testing::{alice_key, bob_key};
use rand::SeedableRng;
use rand::rngs::StdRng;

const TAGS: [u32; 2] = [0x100, 0x200];
/// Plaintext padding block of each side (0: none).
const PAD: [usize; 2] = [0, 128];
const VERSIONS: Versions = Versions { v2: true, v3: true };
/// Operations interpreted per input (each may cost 1536-bit exponentiations).
const MAX_OPS: usize = 64;
/// AKE restarts and SMP runs an input may ask for (the most expensive operations: an SMP
/// run costs about three AKEs).
const MAX_AKES: usize = 2;
const MAX_SMPS: usize = 1;
const MAX_IN_FLIGHT: usize = 256;
/// Lines delivered by one "deliver everything" before the exchange counts as endless.
const MAX_QUIET_STEPS: usize = 2000;
const DEFAULT_BUDGET: usize = 400;
const T0: u64 = 1_700_000_000_000;
const SECRET: &[u8] = b"correct horse";
const WRONG: &[u8] = b"battery staple";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEADER_CHARS: &[u8] = b"0123456789abcdefABCDEF|,:.?OTR";

libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// The two fixed keys, parsed once per process.
fn keys() -> &'static [PrivateKey; 2] {
    static KEYS: OnceLock<[PrivateKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| [alice_key(), bob_key()])
}

/// Reads the input as operands; past its end, zeros and empty slices.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        self.bytes(2)
            .iter()
            .fold(0, |a, &b| (a << 8) | u16::from(b))
    }

    fn u32(&mut self) -> u32 {
        self.bytes(4)
            .iter()
            .fold(0, |a, &b| (a << 8) | u32::from(b))
    }
}

struct Side {
    contact: Contact,
    key: &'static PrivateKey,
    fp: [u8; 20],
    tag: u32,
    pad: usize,
    /// Texts this side sent (each unique) and received.
    sent: HashSet<String>,
    got: HashSet<String>,
    /// The secret this side answers an SMP request with.
    answer: &'static [u8],
}

impl Side {
    fn new(i: usize) -> Side {
        let key = &keys()[i];
        Side {
            contact: Contact::new(),
            key,
            fp: key.public().fingerprint(),
            tag: TAGS[i],
            pad: PAD[i],
            sent: HashSet::new(),
            got: HashSet::new(),
            answer: SECRET,
        }
    }
}

/// `Local` from a side's fields (a macro, so that `contact` stays mutably borrowable).
macro_rules! local {
    ($s:expr) => {
        Local {
            key: $s.key,
            fingerprint: &$s.fp,
            tag: $s.tag,
            pad_block: $s.pad,
        }
    };
}

struct World {
    sides: [Side; 2],
    /// `wire[i]`: lines side `i` sent, not yet delivered.
    wire: [VecDeque<String>; 2],
    rng: StdRng,
    now: u64,
    budget: usize,
    counter: u32,
    akes: usize,
    smps: usize,
    /// Some SMP run was started with both sides holding the same secret.
    matched_run: bool,
}

impl World {
    fn new() -> World {
        let mut w = World {
            sides: [Side::new(0), Side::new(1)],
            wire: [VecDeque::new(), VecDeque::new()],
            rng: StdRng::seed_from_u64(0x07F3_0C0D),
            now: T0,
            budget: DEFAULT_BUDGET,
            counter: 0,
            akes: 0,
            smps: 0,
            matched_run: false,
        };
        w.sides[1].contact.start(&mut w.rng, VERSION_3, w.now);
        w.collect(1);
        w.flush();
        for s in &w.sides {
            assert_eq!(s.contact.state(), MsgState::Encrypted, "the AKE failed");
        }
        assert_eq!(w.ssid(0), w.ssid(1));
        w
    }

    fn ssid(&self, i: usize) -> Option<[u8; 8]> {
        let c = self.sides[i].contact.best_conversation()?;
        (c.state() == MsgState::Encrypted)
            .then(|| c.session().map(|(_, ssid)| ssid))
            .flatten()
    }

    /// Takes side `i`'s output: lines onto the wire, events checked.
    fn collect(&mut self, i: usize) {
        loop {
            let lines = self.sides[i]
                .contact
                .poll_lines(self.sides[i].tag, self.budget);
            for line in lines {
                assert!(
                    !line.contains(['\r', '\n', '\0']),
                    "not one IRC line: {line:?}"
                );
                assert!(
                    line.len() <= self.budget,
                    "{} bytes > {}",
                    line.len(),
                    self.budget
                );
                if self.wire[i].len() >= MAX_IN_FLIGHT {
                    self.wire[i].pop_front();
                }
                self.wire[i].push_back(line);
            }
            let events = self.sides[i].contact.poll_events();
            if events.is_empty() {
                break;
            }
            for (tag, e) in events {
                self.event(i, tag, e);
            }
        }
        let n = self.sides[i].contact.conversations().count();
        assert!(n <= MAX_INSTANCES, "{n} conversations");
    }

    fn event(&mut self, i: usize, tag: u32, e: Event) {
        let other = 1 - i;
        match e {
            Event::Message(text) => {
                assert_eq!(tag, self.sides[other].tag, "message from instance {tag:#x}");
                assert!(
                    self.sides[other].sent.contains(&text),
                    "a message nobody sent: {text:?}"
                );
                assert!(
                    self.sides[i].got.insert(text.clone()),
                    "a message delivered twice: {text:?}"
                );
            }
            Event::Private { fingerprint, .. } => {
                assert_eq!(fingerprint, self.sides[other].fp, "private with a stranger");
            }
            Event::Smp(SmpOutput::Request { .. }) => {
                let s = &mut self.sides[i];
                let (rng, now, answer) = (&mut self.rng, self.now, s.answer);
                let local = local!(s);
                let _ = s
                    .contact
                    .with_best(|c| c.smp_respond(rng, &local, answer, now));
            }
            Event::Smp(SmpOutput::Done { result, .. }) => {
                assert!(
                    !result.success || self.matched_run,
                    "SMP succeeded on unequal secrets"
                );
            }
            _ => {}
        }
    }

    /// Delivers `line` to side `to` (from the other side) and takes its output.
    fn deliver(&mut self, to: usize, line: &str) {
        let s = &mut self.sides[to];
        let local = local!(s);
        s.contact
            .receive(&mut self.rng, &local, VERSIONS, line, self.now);
        self.collect(to);
    }

    /// Delivers every queued line, in order, until both directions are quiet.
    fn flush(&mut self) {
        for _ in 0..MAX_QUIET_STEPS {
            let from = if self.wire[0].is_empty() { 1 } else { 0 };
            let Some(line) = self.wire[from].pop_front() else {
                return;
            };
            self.deliver(1 - from, &line);
        }
        panic!("the exchange never went quiet");
    }

    /// A queued line of direction `dir`, by a fuzz-chosen index.
    fn pick(&self, dir: usize, i: u16) -> Option<usize> {
        let n = self.wire[dir].len();
        (n > 0).then(|| usize::from(i) % n)
    }

    fn text(&mut self, who: usize, kind: u8) -> String {
        self.counter += 1;
        let n = self.counter;
        let who = ["a", "b"][who];
        match kind % 5 {
            0 => format!("{who}{n}"),
            1 => format!("{who}{n} {}", "x".repeat(1500)),
            2 => format!("{who}{n} é ü 漢字 🙂"),
            3 => format!("{who}{n} ?OTR:AAMD. ?OTRv23? ?OTR|1|2,1,2,x,"),
            _ => format!("{who}{n}\0with a NUL"),
        }
    }

    fn send(&mut self, i: usize, kind: u8) {
        let text = self.text(i, kind);
        let s = &mut self.sides[i];
        let local = local!(s);
        if s.contact.send(&local, &text, self.now).is_ok() {
            assert!(!text.contains('\0'), "a NUL was sent");
            s.sent.insert(text);
        }
        self.collect(i);
    }

    /// Alters one byte of a line: in its header (`?OTR:`, or a fragment's tags and numbers)
    /// or its body (base64, replaced by another base64 character so that it still decodes),
    /// or any byte with any value.
    fn tamper(line: &str, how: u8, at: u16, with: u8) -> String {
        let mut b = line.as_bytes().to_vec();
        let header_end = if line.starts_with("?OTR:") {
            5
        } else {
            // After the third comma: `?OTR|s|r,k,n,` or `?OTR,k,n,`.
            b.iter()
                .enumerate()
                .filter(|(_, c)| **c == b',')
                .nth(2)
                .map_or(0, |(i, _)| i + 1)
        };
        let (lo, hi) = match how % 3 {
            0 => (0, header_end),
            1 => (header_end, b.len()),
            _ => (0, b.len()),
        };
        if hi <= lo {
            return line.to_owned();
        }
        let at = lo + usize::from(at) % (hi - lo);
        let Some(c) = b.get_mut(at) else {
            return line.to_owned();
        };
        let set = match how % 3 {
            0 => HEADER_CHARS,
            1 => B64,
            _ => {
                *c ^= with | 1;
                return String::from_utf8_lossy(&b).into_owned();
            }
        };
        let mut new = set[usize::from(with) % set.len()];
        if new == *c {
            new = set[(usize::from(with) + 1) % set.len()];
        }
        *c = new;
        String::from_utf8_lossy(&b).into_owned()
    }

    /// Runs one operation, reading its opcode and operands from `input`.
    fn op(&mut self, input: &mut Input<'_>) {
        let code = input.u8();
        let dir = usize::from(code >> 7);
        match code % 16 {
            0..=2 => {
                // Deliver one queued line (any order).
                if let Some(i) = self.pick(dir, input.u16())
                    && let Some(line) = self.wire[dir].remove(i)
                {
                    self.deliver(1 - dir, &line);
                }
            }
            3 => {
                if let Some(i) = self.pick(dir, input.u16()) {
                    self.wire[dir].remove(i);
                }
            }
            4 => {
                // Replay: a copy, the line stays queued.
                if let Some(i) = self.pick(dir, input.u16())
                    && let Some(line) = self.wire[dir].get(i).cloned()
                {
                    self.deliver(1 - dir, &line);
                }
            }
            5 => {
                let (i, how, at, with) = (input.u16(), input.u8(), input.u16(), input.u8());
                if let Some(i) = self.pick(dir, i)
                    && let Some(line) = self.wire[dir].get(i).cloned()
                {
                    if how & 0x80 != 0 {
                        self.wire[dir].remove(i);
                    }
                    let bad = Self::tamper(&line, how, at, with);
                    self.deliver(1 - dir, &bad);
                }
            }
            6 => {
                let len = usize::from(input.u16() % 8192);
                let line = String::from_utf8_lossy(input.bytes(len)).into_owned();
                self.deliver(1 - dir, &line);
            }
            7 => self.inject_binary(dir, input),
            8 => {
                let (i, j) = (input.u16(), input.u16());
                if let (Some(i), Some(j)) = (self.pick(dir, i), self.pick(dir, j)) {
                    self.wire[dir].swap(i, j);
                }
            }
            9 => {
                let unit = [1_000, 60_000, 3_600_000][usize::from(input.u8() % 3)];
                self.now = self.now.saturating_add(u64::from(input.u8()) * unit);
            }
            10 | 11 => {
                let k = input.u8();
                self.send(dir, k);
            }
            12 => {
                let (question, same) = (input.u8(), input.u8() & 1 == 1);
                if self.smps < MAX_SMPS {
                    self.smps += 1;
                    self.sides[1 - dir].answer = if same { SECRET } else { WRONG };
                    let q = (question & 1 == 1).then_some("the name of our cat?");
                    let s = &mut self.sides[dir];
                    let (rng, now) = (&mut self.rng, self.now);
                    let local = local!(s);
                    let started = s
                        .contact
                        .with_best(|c| c.smp_start(rng, &local, q, SECRET, now));
                    if matches!(started, Some(Ok(()))) && same {
                        self.matched_run = true;
                    }
                    self.collect(dir);
                }
            }
            13 => {
                let s = &mut self.sides[dir];
                let local = local!(s);
                s.contact.finish_all(&local, self.now);
                self.collect(dir);
            }
            14 => {
                if self.akes < MAX_AKES {
                    self.akes += 1;
                    self.sides[dir]
                        .contact
                        .start(&mut self.rng, VERSION_3, self.now);
                    self.collect(dir);
                }
            }
            _ => {
                if input.u8() & 1 == 0 {
                    self.flush();
                } else {
                    self.budget = 60 + usize::from(input.u16() % 1000);
                }
            }
        }
    }

    /// An attacker-built binary message to side `1 - dir`: any type, with the real sender
    /// tag or another, to the real receiver, to 0 or to another, whole or fragmented.
    fn inject_binary(&mut self, dir: usize, input: &mut Input<'_>) {
        let kinds = [
            kind::DH_COMMIT,
            kind::DH_KEY,
            kind::REVEAL_SIGNATURE,
            kind::SIGNATURE,
            kind::DATA,
        ];
        let sel = input.u8();
        let k = kinds[usize::from(sel) % kinds.len()];
        let sender = match input.u8() % 3 {
            0 => self.sides[dir].tag,
            1 => input.u32(),
            _ => 0x300 + u32::from(input.u8() % 8),
        };
        let receiver = match input.u8() % 3 {
            0 => self.sides[1 - dir].tag,
            1 => 0,
            _ => input.u32(),
        };
        let len = usize::from(input.u16() % 4096);
        let mut bin = Vec::with_capacity(11 + len);
        bin.extend_from_slice(&VERSION_3.to_be_bytes());
        bin.push(k);
        bin.extend_from_slice(&sender.to_be_bytes());
        bin.extend_from_slice(&receiver.to_be_bytes());
        bin.extend_from_slice(input.bytes(len));
        let line = envelope(&bin);
        let lines = if sel & 0x80 != 0 {
            split(&line, VERSION_3, sender, receiver, self.budget)
        } else {
            vec![line]
        };
        for l in lines {
            self.deliver(1 - dir, &l);
        }
    }

    /// Everything delivered; if both sides share a session, it still carries messages.
    fn check_still_works(&mut self) {
        self.flush();
        let (a, b) = (self.ssid(0), self.ssid(1));
        if a.is_none() || a != b {
            return;
        }
        for i in [1, 0] {
            let probe = self.text(i, 0);
            let s = &mut self.sides[i];
            let local = local!(s);
            if s.contact.send(&local, &probe, self.now).is_err() {
                return;
            }
            s.sent.insert(probe.clone());
            self.collect(i);
            self.flush();
            assert!(
                self.sides[1 - i].got.contains(&probe),
                "session {a:?} no longer carries messages from side {i}"
            );
        }
    }
}

fn run(data: &[u8]) {
    let mut w = World::new();
    let mut input = Input(data);
    let mut ops = 0;
    while !input.0.is_empty() && ops < MAX_OPS {
        w.op(&mut input);
        ops += 1;
    }
    w.check_still_works();
}
