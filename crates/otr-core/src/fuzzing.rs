//! Fuzz-target bodies, one `pub fn(&[u8])` per target, called by the cargo-fuzz crate in
//! `fuzz/` (see `fuzz/README.md`). They live here rather than in `fuzz/` so that they are
//! type-checked, linted and unit-tested with the rest of the crate.
//!
//! The rule every target checks: any byte string from the network yields a typed error or is
//! ignored; nothing panics and nothing allocates without bound. Where a decoder has an encoder,
//! the targets also check that accepted input re-encodes canonically (decode → encode → decode
//! gives the same value, and usually the same bytes).
//!
//! A failed check panics on purpose: that is how a fuzzer learns about it.

#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

use crate::fragment::assembler::{self, Assembler};
use crate::fragment::irc_split::{self, Joined, LineJoiner};
use crate::fragment::{self, fragmenter};
use crate::limits::{MAX_ENCODED_BYTES, MAX_TLVS};
use crate::profile::{ClientProfile, UncheckedProfile};
use crate::wire::codec::Writer;
use crate::wire::dake::{AuthI, AuthR, CiphertextAhead, Identity, ProfileAhead, ProfileRequest};
use crate::wire::data::DataMessage;
use crate::wire::envelope;
use crate::wire::query::{self, MAX_VERSIONS, Versions};
use crate::wire::tlv::{Payload, Tlv};
use crate::wire::{Header, MessageType};

/// `now` (Unix seconds) for profile checks: the instant the test helpers sign profiles for.
const PROFILE_NOW_UNIX: i64 = 1_800_000_000;

/// Reads fuzz input as a stream of small integers and byte strings; past the end it yields
/// zeros and empty slices, so every input is a valid program.
struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    #[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        let b = self.bytes(2);
        b.iter().fold(0u16, |acc, &x| (acc << 8) | u16::from(x))
    }

    fn u32(&mut self) -> u32 {
        let b = self.bytes(4);
        b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x))
    }

    fn u64(&mut self) -> u64 {
        let b = self.bytes(8);
        b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
    }

    fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }
}

/// Splits `data` into records at `\n`; each record is a time step (first byte, in units of
/// `unit_ms`) followed by a line of text (lossy UTF-8).
fn timed_lines(data: &[u8], unit_ms: u64) -> impl Iterator<Item = (u64, String)> + '_ {
    data.split(|&b| b == b'\n').map(move |rec| {
        let (dt, text) = rec.split_first().map_or((0, &[][..]), |(d, t)| (*d, t));
        (
            u64::from(dt).saturating_mul(unit_ms),
            String::from_utf8_lossy(text).into_owned(),
        )
    })
}

/// xorshift64, for permutations derived from fuzz input.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    seed |= 1;
    for i in (1..v.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let j = usize::try_from(seed % (i as u64 + 1)).unwrap_or(0);
        v.swap(i, j);
    }
}

// ------------------------------------------------------------------------ binary messages

/// The typed decoders of every binary message, with canonical round trips. Returns the type
/// that decoded, if any.
fn binary_message(bin: &[u8]) -> Option<MessageType> {
    let header = Header::peek(bin);
    let mut decoded = None;
    let mut note = |t: MessageType| {
        assert!(decoded.is_none(), "two decoders accepted one message");
        assert_eq!(
            header.map(|h| h.msg_type),
            Ok(t),
            "header disagrees with decoder"
        );
        decoded = Some(t);
    };
    if let Ok(m) = Identity::decode(bin) {
        note(MessageType::Identity);
        assert_eq!(m.encode(), bin, "Identity encoding is not canonical");
        let _ = crate::dake::identity_glare_key(&m);
    }
    if let Ok(m) = AuthR::decode(bin) {
        note(MessageType::AuthR);
        assert_eq!(m.encode(), bin, "AuthR encoding is not canonical");
        let _ = m.psk_mode();
    }
    if let Ok(m) = AuthI::decode(bin) {
        note(MessageType::AuthI);
        assert_eq!(m.encode(), bin, "AuthI encoding is not canonical");
        assert!(
            !(m.ct_sent_ahead && (m.psk_mode() || m.ct_responder.is_some())),
            "CT_R sent ahead outside full mode, or with CT_R"
        );
    }
    if let Ok(m) = ProfileRequest::decode(bin) {
        note(MessageType::ProfileRequest);
        assert_eq!(m.encode(), bin, "ProfileRequest encoding is not canonical");
    }
    if let Ok(m) = ProfileAhead::decode(bin) {
        note(MessageType::Profile);
        assert_eq!(m.encode(), bin, "Profile encoding is not canonical");
    }
    if let Ok(m) = CiphertextAhead::decode(bin) {
        note(MessageType::Ciphertext);
        assert_eq!(m.encode(), bin, "Ciphertext encoding is not canonical");
    }
    if let Ok(m) = DataMessage::decode(bin) {
        note(MessageType::Data);
        check_data_message(&m, bin);
    }
    decoded
}

fn check_data_message(m: &DataMessage, bin: &[u8]) {
    let enc = m.encode();
    assert_eq!(enc, bin, "DataMessage encoding is not canonical");
    let ad = m.associated_data();
    assert!(
        bin.starts_with(&ad),
        "associated data is not the message prefix"
    );
    assert_eq!(ad.len() + 4 + m.ciphertext.len(), bin.len());
    assert_eq!(DataMessage::decode(&enc).as_ref(), Ok(m));
}

/// Target `dake_messages`: Identity, Auth-R, Auth-I, Profile-Request, Profile and Ciphertext decoders
/// (and the data-message decoder, which shares the header), on raw binary input.
pub fn dake_messages(data: &[u8]) {
    let _ = binary_message(data);
}

/// Target `data_message`: [`DataMessage::decode`] with canonical re-encoding.
pub fn data_message(data: &[u8]) {
    match DataMessage::decode(data) {
        Ok(m) => check_data_message(&m, data),
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Target `tlv`: [`Payload::decode`] (the plaintext inside a data message).
pub fn tlv(data: &[u8]) {
    let Ok(p) = Payload::decode(data) else {
        return;
    };
    assert!(p.tlvs.len() <= MAX_TLVS, "more than MAX_TLVS TLVs accepted");
    assert!(!p.text.contains(&0), "text contains NUL");
    let enc = p.encode();
    if p.tlvs.is_empty() {
        // `text` or `text NUL`: the NUL is dropped when there are no TLVs.
        assert!(data == enc.as_slice() || data.strip_suffix(&[0]) == Some(enc.as_slice()));
    } else {
        assert_eq!(enc, data, "Payload encoding is not canonical");
    }
    assert_eq!(Payload::decode(&enc).as_ref(), Ok(&p), "Payload round trip");
    // Padding (what the session layer does to every payload it sends) keeps the contents and
    // rounds the length up to the block.
    if p.tlvs.len() < MAX_TLVS {
        for block in [1, 7, 32, 256] {
            let padded = p.padded(block).encode();
            assert_eq!(padded.len() % block, 0, "padding to {block}");
            assert!(padded.len() < enc.len() + 5 + block);
            let back = Payload::decode(&padded).expect("padded payload decodes");
            assert_eq!(back.text, p.text);
            assert_eq!(back.tlvs.get(..p.tlvs.len()), Some(&p.tlvs[..]));
        }
    }
}

/// Target `profile`: [`UncheckedProfile::parse`] and [`ClientProfile::decode_and_verify`].
/// SMP message decoders and the idle state machine: the first byte picks the TLV type
/// (2..=7), the rest is the value. Whatever decodes must re-encode to the same bytes; a
/// refused message leaves the state machine idle; nothing panics.
pub fn smp_messages(data: &[u8]) {
    use crate::smp::messages::{Smp1, Smp2, Smp3, Smp4};
    use crate::smp::{Session, Smp, SmpOutput, SmpStatus};
    let Some((&kind, value)) = data.split_first() else {
        return;
    };
    let tlv_type = 2 + u16::from(kind % 6);
    let reencoded = match tlv_type {
        2 | 7 => Smp1::decode(tlv_type, value).ok().map(|m| m.encode()),
        3 => Smp2::decode(value).ok().map(|m| m.encode()),
        4 => Smp3::decode(value).ok().map(|m| m.encode()),
        5 => Smp4::decode(value).ok().map(|m| m.encode()),
        _ => None,
    };
    if let Some(t) = reencoded {
        assert_eq!(t.tlv_type, tlv_type, "SMP TLV type changed in round trip");
        assert_eq!(t.value, value, "SMP encoding is not canonical");
    }
    let fp = crate::profile::Fingerprint([1; crate::profile::FINGERPRINT_LEN]);
    let session = Session {
        ours: &fp,
        theirs: &fp,
        ssid: &[0; 8],
    };
    let mut smp = Smp::new();
    let mut rng = crate::testing::test_rng(0);
    let tlv = Tlv {
        tlv_type,
        value: value.to_vec(),
    };
    match smp.handle(&mut rng, &session, &tlv, 0) {
        SmpOutput::Request { .. } => {
            assert!(matches!(smp.status(), SmpStatus::AwaitingSecret { .. }))
        }
        _ => assert_eq!(
            smp.status(),
            SmpStatus::Idle,
            "refused SMP message left state"
        ),
    }
}

pub fn profile(data: &[u8]) {
    let parsed = UncheckedProfile::parse(data);
    let verified = ClientProfile::decode_and_verify(data, PROFILE_NOW_UNIX);
    match parsed {
        Err(e) => {
            assert_eq!(
                verified.err(),
                Some(e.into()),
                "parse and decode_and_verify disagree"
            );
        }
        Ok(u) => {
            let again = u.verify(PROFILE_NOW_UNIX);
            assert_eq!(again.is_ok(), verified.is_ok());
            if let Ok(p) = verified {
                assert_eq!(p.as_bytes(), data);
                assert!(p.owner_tag() >= crate::wire::MIN_INSTANCE_TAG);
                assert!(p.is_valid_at(PROFILE_NOW_UNIX));
                assert!(p.versions().contains(&crate::wire::VERSION_CHAR));
                let _ = p.fingerprint().to_display();
            }
        }
    }
}

// ------------------------------------------------------------------------ text formats

/// Target `envelope`: `?OTR:<base64>.` decoding and `?OTR Error:` parsing; decoded binaries go
/// on through the typed message decoders.
pub fn envelope(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(bin) = envelope::decode(&text) {
        assert!(envelope::is_encoded(&text));
        assert!(
            bin.len() <= MAX_ENCODED_BYTES / 4 * 3,
            "decoded more than the limit allows"
        );
        assert_eq!(envelope::decode(&envelope::encode(&bin)), Ok(bin.clone()));
        let _ = binary_message(&bin);
    }
    if let Some((code, message)) = envelope::parse_error(&text) {
        assert!(message.len() <= envelope::MAX_ERROR_MESSAGE_BYTES);
        if let Some(c) = &code {
            assert!(!c.is_empty() && c.len() <= envelope::MAX_ERROR_CODE_BYTES);
            assert!(
                c.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
            );
        }
        if !message.contains(['\r', '\n', '\0']) {
            let formatted = envelope::format_error(code.as_deref().unwrap_or(""), &message);
            assert_eq!(
                envelope::parse_error(&formatted),
                Some((code, message)),
                "format_error/parse_error round trip"
            );
        }
    }
}

fn check_versions(v: &Versions) {
    assert!(v.len() <= MAX_VERSIONS);
    let chars: Vec<u8> = v.iter().collect();
    assert!(chars.iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(
        Versions::from_chars(&chars).as_ref(),
        Ok(v),
        "duplicates in a version set"
    );
}

/// Target `query`: query messages (`?OTRv...?`) and whitespace tags.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = query::parse_query(&text) {
        check_versions(&v);
        assert_eq!(query::parse_query(&query::format_query(&v, "")), Some(v));
    }
    if let Some((v, rest)) = query::find_whitespace_tag(&text) {
        check_versions(&v);
        assert!(rest.len() + query::WHITESPACE_TAG_BASE.len() <= text.len());
        assert_eq!(
            query::find_whitespace_tag(&query::whitespace_tag(&v)),
            Some((v, String::new()))
        );
    }
    // Tagging then finding the tag gives back the text and the versions, as long as the text
    // cannot itself merge with the tag (no tag inside, no trailing space or tab).
    let mut v = Versions::new();
    for c in data.iter().take(MAX_VERSIONS) {
        let _ = v.push(*c);
    }
    if let Some(tagged) = query::tag_message(&text, &v) {
        if !text.contains(query::WHITESPACE_TAG_BASE) && !text.ends_with([' ', '\t']) {
            assert_eq!(
                query::find_whitespace_tag(&tagged),
                Some((v, text.clone().into_owned())),
                "tag_message/find_whitespace_tag round trip"
            );
        }
    } else {
        assert!(text.starts_with('\x01'));
    }
}

/// Target `fragment_parse`: one `?OTR|...` fragment line.
pub fn fragment_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(f) = fragment::parse_fragment(&text) else {
        return;
    };
    assert!(fragment::is_fragment(&text));
    assert!(f.index >= 1 && f.index <= f.total);
    assert!(!f.piece.is_empty() && !f.piece.contains(','));
    let line = fragment::format_fragment(
        f.identifier,
        f.sender_tag,
        f.receiver_tag,
        f.index,
        f.total,
        f.piece,
    );
    assert_eq!(line.len(), fragment::LINE_OVERHEAD + f.piece.len());
    assert_eq!(
        fragment::parse_fragment(&line),
        Ok(f),
        "format/parse round trip"
    );
}

const US: u32 = 0x0000_1234;
const THEM: u32 = 0x0000_5678;

/// Target `assembler`. First byte even: a sequence of timed lines (see [`timed_lines`], unit
/// 10 s) pushed into one [`Assembler`], checking its memory bounds after each. First byte
/// odd: a message is fragmented, the fragments shuffled, and reassembly must give it back.
pub fn assembler(data: &[u8]) {
    let mut input = Input::new(data);
    if input.u8() & 1 == 0 {
        let mut a = Assembler::new();
        let mut now = 0u64;
        for (dt, line) in timed_lines(input.rest(), 10_000) {
            now = now.saturating_add(dt);
            let res = a.push(now, &line, US);
            assert!(a.incomplete() <= assembler::MAX_INCOMPLETE);
            assert!(a.buffered_bytes() <= assembler::MAX_INCOMPLETE * assembler::MAX_MESSAGE_BYTES);
            if let Ok(pushed) = res
                && let Some(m) = pushed.complete
            {
                assert!(!m.starts_with(fragment::FRAGMENT_PREFIX));
                assert!(m.len() <= assembler::MAX_MESSAGE_BYTES);
            }
            if let Some(t) = a.next_expiry() {
                assert!(t > now, "a buffer outlived its deadline");
            }
        }
        return;
    }
    let budget = usize::from(input.u16()).clamp(fragmenter::MIN_FRAGMENT_BUDGET, 4096);
    let id = input.u32();
    let receiver = if input.u8() & 1 == 0 { 0 } else { US };
    let seed = input.u64();
    let msg = input.rest();
    let encoded = envelope::encode(msg);
    let mut lines = match fragmenter::fragment(&encoded, budget, id, THEM, receiver) {
        Ok(lines) => lines,
        Err(fragmenter::FragmentError::TooManyFragments { needed, max }) => {
            assert!(needed > max);
            return;
        }
        Err(e) => panic!("fragmenting base64 failed: {e}"),
    };
    assert!(
        lines.iter().all(|l| l.len() <= budget),
        "fragment over budget"
    );
    if lines.len() == 1 {
        assert_eq!(lines.first(), Some(&encoded));
        return;
    }
    shuffle(&mut lines, seed);
    let mut a = Assembler::new();
    let last = lines.len() - 1;
    for (i, line) in lines.iter().enumerate() {
        let pushed = a
            .push(0, line, US)
            .unwrap_or_else(|e| panic!("own fragment rejected: {e}"));
        assert_eq!(pushed.discarded, None);
        if i == last {
            assert_eq!(
                pushed.complete.as_ref(),
                Some(&encoded),
                "reassembly differs"
            );
        } else {
            assert_eq!(pushed.complete, None, "completed early");
        }
    }
    assert_eq!(a.buffered_bytes(), 0);
}

/// Target `irc_split`. First byte even: timed lines (unit 1 s) into one [`LineJoiner`],
/// checking its bounds and outputs. First byte odd: a valid encoded message or fragment line
/// is cut into pieces at fuzz-chosen points, and joining must give it back.
pub fn irc_split(data: &[u8]) {
    let mut input = Input::new(data);
    if input.u8() & 1 == 0 {
        let mut j = LineJoiner::new();
        let mut now = 0u64;
        for (dt, line) in timed_lines(input.rest(), 1_000) {
            now = now.saturating_add(dt);
            let out = j.push(now, &line);
            assert!(j.pending_bytes() <= irc_split::MAX_PENDING_BYTES);
            match out.joined {
                Joined::Passthrough(s) => assert_eq!(s, line, "passthrough altered the line"),
                Joined::Complete(s) => {
                    assert!(s.len() <= irc_split::MAX_PENDING_BYTES);
                    assert!(
                        s.starts_with(envelope::ENCODED_PREFIX)
                            || s.starts_with(fragment::FRAGMENT_PREFIX)
                    );
                }
                Joined::Pending => {}
            }
        }
        return;
    }
    let as_fragment = input.u8() & 1 == 1;
    let ncuts = usize::from(input.u8() % 16);
    let cuts: Vec<usize> = (0..ncuts).map(|_| usize::from(input.u16())).collect();
    let id = input.u32();
    let msg = input.rest();
    let msg = msg.get(..msg.len().min(60_000)).unwrap_or_default();
    let encoded = envelope::encode(msg);
    let line = if as_fragment {
        fragment::format_fragment(id, THEM, US, 1, 2, &encoded)
    } else {
        encoded
    };
    // Cut points: sorted and distinct; the first piece at least 5 bytes long so that it is
    // recognisable as the start of an OTR message (a line "?OTR" alone is not, by design).
    let mut points: Vec<usize> = cuts.into_iter().map(|c| c % line.len()).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points {
        let min = if start == 0 { 5 } else { 1 };
        if p >= start + min {
            pieces.push(line.get(start..p).expect("ASCII"));
            start = p;
        }
    }
    pieces.push(line.get(start..).expect("ASCII"));
    let mut j = LineJoiner::new();
    let last = pieces.len() - 1;
    for (i, piece) in pieces.iter().enumerate() {
        let out = j.push(7, piece);
        assert_eq!(out.dropped, None, "dropped while joining {pieces:?}");
        let want = match (i == last, last == 0) {
            (false, _) => Joined::Pending,
            (true, true) => Joined::Passthrough(line.clone()),
            (true, false) => Joined::Complete(line.clone()),
        };
        assert_eq!(out.joined, want, "joining {pieces:?}");
    }
    assert!(!j.is_pending());
}

/// Builds a binary message from a header and raw body (used by the `interaction` target and
/// the seed generator).
#[cfg_attr(not(feature = "test-utils"), allow(dead_code))]
fn raw_message(header: Header, body: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(crate::wire::HEADER_LEN + body.len());
    header.write(&mut w);
    w.bytes(body);
    w.into_vec()
}

#[cfg(feature = "test-utils")]
pub use interaction_impl::{account, interaction, seeds};

#[cfg(feature = "test-utils")]
mod attestation;
#[cfg(feature = "test-utils")]
pub use attestation::attestation;

/// A fuzz target body.
pub type Target = fn(&[u8]);

/// Every target by name (the names of the binaries in `fuzz/fuzz_targets/`).
#[cfg(feature = "test-utils")]
pub const TARGETS: [(&str, Target); 13] = [
    ("envelope", envelope),
    ("query", query),
    ("fragment_parse", fragment_parse),
    ("assembler", assembler),
    ("irc_split", irc_split),
    ("tlv", tlv),
    ("dake_messages", dake_messages),
    ("data_message", data_message),
    ("profile", profile),
    ("attestation", attestation),
    ("smp_messages", smp_messages),
    ("account", account),
    ("interaction", interaction),
];

#[cfg(feature = "test-utils")]
mod interaction_impl {
    use std::collections::{HashSet, VecDeque};
    use std::sync::OnceLock;

    use rand::rngs::StdRng;

    use super::{Input, raw_message};
    use crate::fragment::{self, assembler::Assembler};
    use crate::profile::LongTermKeys;
    use crate::session::{Account, Policy, Received, SendOutcome, State};
    use crate::testing::{TEST_NOW_UNIX, test_rng};
    use crate::wire::tlv::{Payload, Tlv};
    use crate::wire::{Header, MessageType, envelope, query};

    const T0: u64 = TEST_NOW_UNIX as u64 * 1000;
    const ALICE_TAG: u32 = 0x000A_11CE;
    const BOB_TAG: u32 = 0x0000_0B0B;
    /// Operations interpreted per input; each may cost a DAKE, so keep inputs cheap.
    const MAX_OPS: usize = 96;
    /// Handshakes the input may start explicitly.
    const MAX_RESTARTS: usize = 2;
    /// Lines in flight from bob to alice.
    const MAX_IN_FLIGHT: usize = 1024;
    /// Peers alice can know: bob and mallory.
    const ALICE_PEERS: usize = 2;

    /// The line budget of [`Policy::default`].
    const DEFAULT_BUDGET: usize = 400;

    /// Every line an account emits must be one IRC line, and OTR lines must fit the budget.
    fn check_transmit(line: &str, budget: usize) {
        assert!(
            !line.contains(['\r', '\n', '\0']),
            "transmit would break the IRC line: {line:?}"
        );
        if line.starts_with("?OTR:") || line.starts_with("?OTR|") {
            assert!(
                line.len() <= budget,
                "{}-byte line over the {budget}-byte budget",
                line.len()
            );
        }
    }

    /// Long-term keys of alice and bob, generated once per process (generation is slow).
    fn key_bytes() -> &'static [Vec<u8>; 2] {
        static KEYS: OnceLock<[Vec<u8>; 2]> = OnceLock::new();
        KEYS.get_or_init(|| {
            let mut rng = test_rng(0x0F22_0F22);
            let mut one = || {
                LongTermKeys::generate(&mut rng)
                    .expect("key generation")
                    .to_bytes()
                    .expose()
                    .to_vec()
            };
            [one(), one()]
        })
    }

    fn new_account(i: usize, tag: u32) -> Account {
        let bytes = key_bytes().get(i).expect("two key sets");
        let keys = LongTermKeys::from_bytes(bytes).expect("cached keys");
        Account::new(keys, tag, Policy::default(), T0).expect("account")
    }

    /// Two accounts with a private session, a network in between that the input controls in
    /// the bob → alice direction, and an attacker ("mallory", or anyone spoofing a nick).
    struct World {
        alice: Account,
        bob: Account,
        rng: StdRng,
        now: u64,
        /// Lines bob sent to alice that were not yet delivered, in sending order.
        in_flight: VecDeque<String>,
        /// Texts bob (alice) sent; each is unique, so double delivery is detectable.
        bob_sent: HashSet<String>,
        alice_sent: HashSet<String>,
        alice_got: HashSet<String>,
        bob_got: HashSet<String>,
        counter: u32,
        restarts: usize,
        /// Line budgets set for alice → bob and bob → alice.
        alice_budget: usize,
        bob_budget: usize,
        /// Every line put on the wire, when recording seeds.
        record: Option<Vec<String>>,
    }

    impl World {
        fn new(record: bool) -> Self {
            let mut w = World {
                alice: new_account(0, ALICE_TAG),
                bob: new_account(1, BOB_TAG),
                rng: test_rng(0x5EED),
                now: T0,
                in_flight: VecDeque::new(),
                bob_sent: HashSet::new(),
                alice_sent: HashSet::new(),
                alice_got: HashSet::new(),
                bob_got: HashSet::new(),
                counter: 0,
                restarts: 0,
                alice_budget: DEFAULT_BUDGET,
                bob_budget: DEFAULT_BUDGET,
                record: record.then(Vec::new),
            };
            w.alice.set_auto_respond("bob", true);
            w.bob.set_auto_respond("alice", true);
            // bob offers (query message), alice initiates the DAKE.
            w.bob.start(w.now, &mut w.rng, "alice");
            w.settle();
            w.flush();
            assert_eq!(
                w.alice.session_info("bob").state,
                State::Encrypted,
                "no session"
            );
            assert_eq!(
                w.bob.session_info("alice").state,
                State::Encrypted,
                "no session"
            );
            w
        }

        fn recorded(&mut self, line: &str) {
            if let Some(r) = &mut self.record {
                r.push(line.to_owned());
            }
        }

        /// Delivers one line to alice, checking what she makes of it.
        fn deliver_to_alice(&mut self, from: &str, line: &str) {
            self.recorded(line);
            let got = self
                .alice
                .handle_incoming(self.now, &mut self.rng, from, line);
            if let Received::Message { text } = got {
                assert_eq!(from, "bob", "alice decrypted a message from {from}");
                assert!(
                    self.bob_sent.contains(&text),
                    "forged message accepted: {text:?}"
                );
                assert!(
                    self.alice_got.insert(text.clone()),
                    "replayed message accepted: {text:?}"
                );
            }
            self.settle();
        }

        /// Delivers one line to bob (always from "alice": bob knows nobody else).
        fn deliver_to_bob(&mut self, line: &str) {
            self.recorded(line);
            let got = self
                .bob
                .handle_incoming(self.now, &mut self.rng, "alice", line);
            if let Received::Message { text } = got {
                assert!(
                    self.alice_sent.contains(&text),
                    "forged message accepted: {text:?}"
                );
                assert!(
                    self.bob_got.insert(text.clone()),
                    "replayed message accepted: {text:?}"
                );
            }
        }

        /// Moves alice's output to bob (reliably, at once) and bob's output into flight; checks
        /// the memory bounds.
        fn settle(&mut self) {
            while let Some(t) = self.alice.poll_transmit() {
                check_transmit(&t.line, self.alice_budget);
                if t.peer == "bob" {
                    self.deliver_to_bob(&t.line);
                }
                self.collect_bob();
            }
            self.collect_bob();
            while self.alice.poll_event().is_some() {}
            while self.bob.poll_event().is_some() {}
            assert!(self.alice.peer_count() <= ALICE_PEERS);
            assert!(self.bob.peer_count() <= 1);
            let per_peer = fragment::assembler::MAX_INCOMPLETE
                * fragment::assembler::MAX_MESSAGE_BYTES
                + fragment::irc_split::MAX_PENDING_BYTES;
            assert!(self.alice.buffered_fragment_bytes() <= ALICE_PEERS * per_peer);
            assert!(self.bob.buffered_fragment_bytes() <= per_peer);
        }

        fn collect_bob(&mut self) {
            while let Some(t) = self.bob.poll_transmit() {
                assert_eq!(t.peer, "alice");
                check_transmit(&t.line, self.bob_budget);
                if self.in_flight.len() >= MAX_IN_FLIGHT {
                    self.in_flight.pop_front();
                }
                self.in_flight.push_back(t.line);
            }
        }

        /// Delivers everything in flight, in order, until the network is quiet (a ping-pong
        /// that never converges would show up as a fuzzer timeout).
        fn flush(&mut self) {
            while let Some(line) = self.in_flight.pop_front() {
                self.deliver_to_alice("bob", &line);
            }
        }

        fn tick(&mut self, dt: u64) {
            self.now = self.now.saturating_add(dt);
            self.alice.handle_timeout(self.now, &mut self.rng);
            self.bob.handle_timeout(self.now, &mut self.rng);
            self.settle();
        }

        fn text(&mut self, who: char, kind: u8) -> String {
            self.counter += 1;
            let n = self.counter;
            match kind % 4 {
                0 => format!("{who}{n}"),
                1 => format!("{who}{n} {}", "x".repeat(1500)),
                2 => format!("{who}{n} é ü 漢字 🙂"),
                _ => format!("{who}{n} ?OTR:AAAA. ?OTRvP? ?OTR|1|2|3,1,2,x,"),
            }
        }

        fn bob_sends(&mut self, kind: u8) {
            let text = self.text('b', kind);
            if self
                .bob
                .send(self.now, &mut self.rng, "alice", &text)
                .is_ok()
            {
                self.bob_sent.insert(text);
            }
            self.settle();
        }

        fn alice_sends(&mut self, kind: u8) {
            let text = self.text('a', kind);
            if self
                .alice
                .send(self.now, &mut self.rng, "bob", &text)
                .is_ok()
            {
                self.alice_sent.insert(text);
            }
            self.settle();
        }

        fn pick(&self, i: u8) -> Option<usize> {
            (!self.in_flight.is_empty()).then(|| usize::from(i) % self.in_flight.len())
        }

        /// The final check: after the network went quiet and every timer that could hold a
        /// stale fragment ran, if both sides are in the same session, it still works.
        fn check_still_works(&mut self) {
            self.flush();
            // Past the fragment and split-line lifetimes (10 min, 2 min).
            self.tick(11 * 60 * 1000);
            self.flush();
            let a = self.alice.session_info("bob");
            let b = self.bob.session_info("alice");
            let same = a.state == State::Encrypted
                && b.state == State::Encrypted
                && a.ssid.is_some()
                && a.ssid == b.ssid;
            if !same {
                return;
            }
            let probe = self.text('b', 0);
            let sent = self.bob.send(self.now, &mut self.rng, "alice", &probe);
            if sent != Ok(SendOutcome::Sent) {
                return;
            }
            self.bob_sent.insert(probe.clone());
            self.settle();
            self.flush();
            assert!(
                self.alice_got.contains(&probe),
                "session {:?} no longer delivers bob's messages",
                a.ssid
            );
        }

        /// Runs one operation, reading its opcode and operands from `input`.
        fn op(&mut self, input: &mut Input<'_>) {
            match input.u8() % 16 {
                0..=2 => {
                    let len = usize::from(input.u16());
                    let line = String::from_utf8_lossy(input.bytes(len)).into_owned();
                    match input.u8() % 3 {
                        0 => self.deliver_to_alice("bob", &line),
                        1 => self.deliver_to_alice("mallory", &line),
                        _ => {
                            self.deliver_to_bob(&line);
                            self.settle();
                        }
                    }
                }
                3 => {
                    let k = input.u8();
                    self.bob_sends(k);
                }
                4 => {
                    let k = input.u8();
                    self.alice_sends(k);
                }
                5 => {
                    // Deliver one in-flight line (any order: reordering).
                    if let Some(i) = self.pick(input.u8())
                        && let Some(line) = self.in_flight.remove(i)
                    {
                        self.deliver_to_alice("bob", &line);
                    }
                }
                6 => {
                    // Replay (line stays in flight).
                    if let Some(i) = self.pick(input.u8())
                        && let Some(line) = self.in_flight.get(i).cloned()
                    {
                        self.deliver_to_alice("bob", &line);
                    }
                }
                7 => {
                    if let Some(i) = self.pick(input.u8()) {
                        self.in_flight.remove(i);
                    }
                }
                8 => {
                    // Tamper with the text of a line.
                    let i = input.u8();
                    let how = input.u8();
                    let at = usize::from(input.u16());
                    let byte = input.u8();
                    if let Some(i) = self.pick(i)
                        && let Some(line) = self.in_flight.get(i)
                    {
                        let mut b = line.clone().into_bytes();
                        let at = at % (b.len() + 1);
                        match how % 4 {
                            0 => {
                                if let Some(x) = b.get_mut(at) {
                                    *x = byte;
                                }
                            }
                            1 => b.truncate(at),
                            2 => b.insert(at, byte),
                            _ => {
                                if at < b.len() {
                                    b.remove(at);
                                }
                            }
                        }
                        let line = String::from_utf8_lossy(&b).into_owned();
                        self.deliver_to_alice("bob", &line);
                    }
                }
                9 => {
                    // Tamper with the binary message inside an unfragmented line.
                    let i = input.u8();
                    let at = usize::from(input.u16());
                    let xor = input.u8() | 1;
                    let cut = input.u8() & 1 == 1;
                    if let Some(i) = self.pick(i)
                        && let Some(line) = self.in_flight.get(i)
                        && let Ok(mut bin) = envelope::decode(line)
                    {
                        let at = at % bin.len().max(1);
                        if cut {
                            bin.truncate(at);
                        } else if let Some(x) = bin.get_mut(at) {
                            *x ^= xor;
                        }
                        let line = envelope::encode(&bin);
                        self.deliver_to_alice("bob", &line);
                    }
                }
                10 => {
                    // IRC splits a line in two.
                    let i = input.u8();
                    let at = usize::from(input.u16());
                    if let Some(i) = self.pick(i)
                        && let Some(line) = self.in_flight.remove(i)
                    {
                        let mut at = at % (line.len() + 1);
                        while !line.is_char_boundary(at) {
                            at -= 1;
                        }
                        let (x, y) = line.split_at(at);
                        self.deliver_to_alice("bob", x);
                        self.deliver_to_alice("bob", y);
                    }
                }
                11 => {
                    let units = [1, 1_000, 60_000, 3_600_000];
                    let unit = units.get(usize::from(input.u8() % 4)).copied().unwrap_or(1);
                    let dt = u64::from(input.u16()) * unit;
                    self.tick(dt);
                }
                12 => {
                    // An attacker-built binary message with bob's real instance tags.
                    let t = [
                        MessageType::Data,
                        MessageType::Identity,
                        MessageType::AuthR,
                        MessageType::AuthI,
                        MessageType::ProfileRequest,
                        MessageType::Profile,
                        MessageType::Ciphertext,
                    ];
                    let msg_type = t
                        .get(usize::from(input.u8()) % t.len())
                        .copied()
                        .unwrap_or(MessageType::Data);
                    let receiver = if input.u8() & 1 == 0 { ALICE_TAG } else { 0 };
                    let len = usize::from(input.u16());
                    let body = input.bytes(len);
                    let header = Header {
                        msg_type,
                        sender: BOB_TAG,
                        receiver,
                    };
                    let line = envelope::encode(&raw_message(header, body));
                    self.deliver_to_alice("bob", &line);
                }
                13 => match input.u8() % 6 {
                    0 => {
                        let on = input.u8() & 1 == 1;
                        self.alice.set_auto_respond("mallory", on);
                        self.settle();
                    }
                    1 => {
                        let b = 60 + usize::from(input.u16() % 2000);
                        self.bob.set_budget("alice", b);
                        self.bob_budget = b;
                    }
                    2 => {
                        let b = 60 + usize::from(input.u16() % 2000);
                        self.alice.set_budget("bob", b);
                        self.alice_budget = b;
                    }
                    3 if self.restarts < MAX_RESTARTS => {
                        self.restarts += 1;
                        self.bob.start(self.now, &mut self.rng, "alice");
                        self.settle();
                    }
                    4 if self.restarts < MAX_RESTARTS => {
                        self.restarts += 1;
                        self.alice.start(self.now, &mut self.rng, "bob");
                        self.settle();
                    }
                    5 => {
                        self.flush();
                    }
                    _ => {}
                },
                14 => {
                    // Replay bob's line under another nick.
                    if let Some(i) = self.pick(input.u8())
                        && let Some(line) = self.in_flight.get(i).cloned()
                    {
                        self.deliver_to_alice("mallory", &line);
                    }
                }
                _ => {
                    // Reflect bob's line back to bob, as if from alice.
                    if let Some(i) = self.pick(input.u8())
                        && let Some(line) = self.in_flight.get(i).cloned()
                    {
                        self.deliver_to_bob(&line);
                        self.settle();
                    }
                }
            }
        }
    }

    /// Target `account`: a fresh account (no session; it auto-responds to "bob" only) fed
    /// lines from bob, mallory and carol. Records are separated by `\n`; each starts with a
    /// control byte: bits 0-1 pick the sender (3 = run timers instead), bits 2-7 the time
    /// step in seconds. Cheap (no DAKE unless the input carries a valid Identity), so it
    /// explores routing, line joining, reassembly, envelopes, offers and errors quickly.
    /// Checked: nothing decrypts, every reply is one IRC line within budget, memory and the
    /// peer table stay bounded.
    pub fn account(data: &[u8]) {
        let mut alice = new_account(0, ALICE_TAG);
        alice.set_auto_respond("bob", true);
        let mut rng = test_rng(0xACC0);
        let mut now = T0;
        let peers = ["bob", "mallory", "carol"];
        for rec in data.split(|&b| b == b'\n').take(512) {
            let (ctl, text) = rec.split_first().map_or((0, &[][..]), |(c, t)| (*c, t));
            now = now.saturating_add(u64::from(ctl >> 2) * 1000);
            match peers.get(usize::from(ctl & 3)) {
                Some(peer) => {
                    let line = String::from_utf8_lossy(text);
                    let got = alice.handle_incoming(now, &mut rng, peer, &line);
                    assert!(
                        !matches!(got, Received::Message { .. }),
                        "decrypted without a session"
                    );
                    if let Received::Error { text } = &got {
                        assert!(text.len() <= envelope::MAX_ERROR_MESSAGE_BYTES);
                    }
                }
                None => alice.handle_timeout(now, &mut rng),
            }
            while let Some(t) = alice.poll_transmit() {
                check_transmit(&t.line, DEFAULT_BUDGET);
            }
            while alice.poll_event().is_some() {}
            assert!(alice.peer_count() <= peers.len());
            let per_peer = fragment::assembler::MAX_INCOMPLETE
                * fragment::assembler::MAX_MESSAGE_BYTES
                + fragment::irc_split::MAX_PENDING_BYTES;
            assert!(alice.buffered_fragment_bytes() <= peers.len() * per_peer);
        }
    }

    /// Target `interaction`: a private session between two accounts, then the input as a
    /// program of network events (see the opcodes in `World::op`): attacker lines to alice
    /// from "bob" and "mallory" and to bob, delivery, reordering, replay, loss, tampering,
    /// IRC line splitting, time passing, re-keys. Checked throughout: no forged or replayed
    /// message is ever accepted, no message from mallory decrypts, fragment memory stays
    /// bounded. At the end: if both sides are still in the same session, it still works.
    ///
    /// The session is set up afresh for each input (about 10 ms: `Account` cannot be cloned,
    /// and the ML-KEM inside pqcrypto draws OS randomness, so a recorded transcript cannot be
    /// replayed); only key generation is cached per process.
    pub fn interaction(data: &[u8]) {
        let mut w = World::new(false);
        let mut input = Input::new(data);
        let mut ops = 0;
        while !input.is_empty() && ops < MAX_OPS {
            w.op(&mut input);
            ops += 1;
        }
        w.check_still_works();
    }

    /// Valid example inputs for every target, for seeding corpora (`fuzz/seeds/`).
    /// An honest SMP run's four messages (type byte, then value).
    fn smp_seeds() -> Vec<Vec<u8>> {
        use crate::smp::{Session, Smp, SmpOutput};
        let mut rng = crate::testing::test_rng(3);
        let fa = crate::profile::Fingerprint([1; crate::profile::FINGERPRINT_LEN]);
        let fb = crate::profile::Fingerprint([2; crate::profile::FINGERPRINT_LEN]);
        let ssid = [0u8; 8];
        let sa = Session {
            ours: &fa,
            theirs: &fb,
            ssid: &ssid,
        };
        let sb = Session {
            ours: &fb,
            theirs: &fa,
            ssid: &ssid,
        };
        let (mut a, mut b) = (Smp::new(), Smp::new());
        let mut msgs = Vec::new();
        let Ok(mut m1) = a.start(&mut rng, &sa, Some("q?"), "s", 0) else {
            return msgs;
        };
        let Some(m1) = m1.pop() else { return msgs };
        b.handle(&mut rng, &sb, &m1, 0);
        let Ok(m2) = b.respond(&mut rng, &sb, "s") else {
            return msgs;
        };
        let SmpOutput::Send(m3) = a.handle(&mut rng, &sa, &m2, 0) else {
            return msgs;
        };
        let SmpOutput::Done { send: Some(m4), .. } = b.handle(&mut rng, &sb, &m3, 0) else {
            return msgs;
        };
        for m in [m1, m2, m3, m4] {
            // The target maps its first byte b to type 2 + b % 6.
            let mut v = vec![u8::try_from((m.tlv_type - 2) % 6).unwrap_or(0)];
            v.extend_from_slice(&m.value);
            msgs.push(v);
        }
        msgs
    }

    pub fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
        // A real conversation, with every kind of line on the wire.
        let mut w = World::new(true);
        w.bob.set_budget("alice", 300);
        w.bob_budget = 300;
        for k in 0..6 {
            w.bob_sends(k);
            w.flush();
            w.alice_sends(k);
            w.flush();
        }
        w.alice.finish(w.now, &mut w.rng, "bob");
        w.settle();
        w.bob.start(w.now, &mut w.rng, "alice");
        w.settle();
        w.flush();
        w.bob_sends(0);
        w.flush();
        let wire = w.record.take().unwrap_or_default();

        // Reassemble into encoded messages and binaries.
        let mut asm = Assembler::new();
        let mut encoded = Vec::new();
        let mut fragments = Vec::new();
        for line in &wire {
            if fragment::is_fragment(line) {
                fragments.push(line.clone());
                let to = fragment::parse_fragment(line).map_or(0, |f| f.receiver_tag);
                if let Ok(p) = asm.push(0, line, to)
                    && let Some(m) = p.complete
                {
                    encoded.push(m);
                }
            } else if envelope::is_encoded(line) {
                encoded.push(line.clone());
            }
        }
        let mut by_type: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
        let mut seen = HashSet::new();
        for e in &encoded {
            let Ok(bin) = envelope::decode(e) else {
                continue;
            };
            let Ok(h) = Header::peek(&bin) else { continue };
            let slot = usize::from(h.msg_type != MessageType::Data);
            // One of each DAKE type and form (length and flags: an Auth-I with CT_R sent ahead
            // is as long as one in PSK mode) is enough; data messages vary more.
            let key = (
                h.msg_type as u8,
                bin.len(),
                bin.get(crate::wire::HEADER_LEN).copied(),
            );
            if slot == 1 && !seen.insert(key) {
                continue;
            }
            if let Some(v) = by_type.get_mut(slot) {
                v.push(bin);
            }
        }
        let [mut data, mut dake] = by_type;
        dake.push(
            crate::wire::dake::ProfileRequest {
                header: Header {
                    msg_type: MessageType::ProfileRequest,
                    sender: BOB_TAG,
                    receiver: ALICE_TAG,
                },
                unknown_hash: [7; 32],
            }
            .encode(),
        );
        dake.push(
            crate::wire::dake::ProfileAhead {
                header: Header {
                    msg_type: MessageType::Profile,
                    sender: BOB_TAG,
                    receiver: ALICE_TAG,
                },
                profile: w.bob.profile().as_bytes().to_vec(),
            }
            .encode(),
        );
        // Auth-I in full mode with CT_R in it (the recorded first contact sent CT_R ahead).
        let full_auth_i = dake
            .iter()
            .filter_map(|b| crate::wire::dake::AuthI::decode(b).ok())
            .find(|m| m.ct_sent_ahead)
            .map(|m| crate::wire::dake::AuthI {
                ct_responder: Some(Box::new([0x5A; crate::crypto::mlkem::CT_LEN])),
                ct_sent_ahead: false,
                ..m
            });
        dake.extend(full_auth_i.map(|m| m.encode()));
        // Bob's CT_R sent ahead (alice's, as the initiator, is among the recorded messages).
        if let Ok((ct, _)) = w.alice.profile().kem_key().encapsulate() {
            dake.push(
                crate::wire::dake::CiphertextAhead {
                    header: Header {
                        msg_type: MessageType::Ciphertext,
                        sender: BOB_TAG,
                        receiver: ALICE_TAG,
                    },
                    ct: Box::new(*ct.as_bytes()),
                }
                .encode(),
            );
        }
        data.truncate(12);
        let profile = w.alice.profile().as_bytes().to_vec();

        let tag = query::whitespace_tag(&query::Versions::ours());
        let texts: Vec<Vec<u8>> = [
            query::format_query(&query::Versions::ours(), "Let's talk privately."),
            "?OTR?v2?".to_owned(),
            format!("hello{tag}\t"),
            format!(
                "hi{}",
                query::whitespace_tag(&query::Versions::from_chars(b"34P").unwrap_or_default())
            ),
            envelope::format_error("ERROR_1", "Unreadable encrypted message was received."),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect();

        let short_encoded: Vec<Vec<u8>> = encoded
            .iter()
            .filter(|e| e.len() < 2000)
            .take(6)
            .map(|e| e.clone().into_bytes())
            .collect();
        let mut envelope_seeds = short_encoded.clone();
        envelope_seeds.extend(
            encoded
                .iter()
                .filter(|e| e.len() >= 2000)
                .take(2)
                .map(|e| e.clone().into_bytes()),
        );
        envelope_seeds.push(envelope::format_error("ERROR_2", "Not in private state").into_bytes());

        // Timed line programs: the first byte selects the mode, each record is dt + line.
        let program = |lines: &[String], dt: u8| -> Vec<u8> {
            let mut out = vec![0u8];
            for (i, l) in lines.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                out.push(dt);
                out.extend_from_slice(l.as_bytes());
            }
            out
        };
        let frag_group: Vec<String> = fragments.iter().take(12).cloned().collect();
        let mut reversed = frag_group.clone();
        reversed.reverse();
        let mut split_lines = Vec::new();
        if let Some(e) = encoded.iter().find(|e| e.len() > 100) {
            let (a, b) = e.split_at(e.len() / 2);
            split_lines.push(a.to_owned());
            split_lines.push(b.to_owned());
        }
        if let Some(f) = fragments.first() {
            let (a, b) = f.split_at(f.len() / 3);
            split_lines.push(a.to_owned());
            split_lines.push(b.to_owned());
        }
        let roundtrip = |mode_extra: &[u8]| -> Vec<u8> {
            let mut v = vec![1u8];
            v.extend_from_slice(mode_extra);
            v.extend_from_slice(b"hello, fragmented world: the quick brown fox jumps over it");
            v
        };

        let tlvs = vec![
            b"hello".to_vec(),
            Payload {
                text: b"bye".to_vec(),
                tlvs: vec![
                    Tlv {
                        tlv_type: 1,
                        value: Vec::new(),
                    },
                    Tlv {
                        tlv_type: 0,
                        value: vec![0; 8],
                    },
                    Tlv {
                        tlv_type: 8,
                        value: vec![0, 0, 0, 1, 9, 9],
                    },
                ],
            }
            .encode(),
        ];

        // Interaction programs (opcodes as in `World::op`).
        let raw_line = |op_line: &str, who: u8| -> Vec<u8> {
            let mut v = vec![0u8];
            let len = u16::try_from(op_line.len()).unwrap_or(u16::MAX);
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(op_line.as_bytes());
            v.push(who);
            v
        };
        let interaction = vec![
            vec![3, 0, 5, 0],
            vec![3, 1, 3, 0, 5, 1, 6, 0, 5, 0],
            vec![3, 0, 3, 0, 3, 0, 8, 1, 2, 0, 9, 65, 5, 2, 7, 0, 5, 0],
            vec![3, 0, 9, 0, 0, 20, 7, 0, 10, 0, 0, 30, 11, 1, 0, 90, 3, 0],
            vec![4, 0, 3, 2, 14, 0, 15, 0, 12, 0, 0, 0, 16, 0],
            vec![13, 1, 0, 100, 3, 1, 13, 3, 5, 0, 5, 0, 5, 0, 11, 3, 0, 7],
            raw_line(&envelope::format_error("ERROR_1", "x"), 0),
            raw_line("?OTRvP?", 1),
            raw_line("?OTR|00000001|00000b0b|000a11ce,00001,00002,?OTR:AAAA,", 0),
            // Bob re-keys, alice answers; an attacker's Ciphertext message (type 6 of op 12,
            // addressed to alice, one ciphertext long) reaches her while she waits for Auth-I.
            {
                let mut v = vec![13, 3, 13, 5, 12, 6, 0];
                let len = u16::try_from(crate::crypto::mlkem::CT_LEN).unwrap_or(0);
                v.extend_from_slice(&len.to_be_bytes());
                v.extend(std::iter::repeat_n(0x5A, crate::crypto::mlkem::CT_LEN));
                v
            },
        ];

        // Account programs: bob's lines (query, then his half of a DAKE), garbage from others.
        let mut account_seeds = Vec::new();
        let mut prog = Vec::new();
        for line in wire.iter().filter(|l| !l.is_empty()).take(40) {
            if !prog.is_empty() {
                prog.push(b'\n');
            }
            prog.push(0u8);
            prog.extend_from_slice(line.as_bytes());
        }
        account_seeds.push(prog);
        let mut mixed = Vec::new();
        for (ctl, line) in [
            (1u8, "?OTRvP?".to_owned()),
            (0, format!("hi{tag}")),
            (
                2,
                "?OTR|00000001|00000100|00000000,00001,00002,?OTR:AAAA,".to_owned(),
            ),
            (0x0b, "?OTR:AAAA".to_owned()),
            (0x08, "BBBB.".to_owned()),
            (0xfb, String::new()),
            (0, envelope::format_error("ERROR_1", "x")),
        ] {
            if !mixed.is_empty() {
                mixed.push(b'\n');
            }
            mixed.push(ctl);
            mixed.extend_from_slice(line.as_bytes());
        }
        account_seeds.push(mixed);

        vec![
            ("envelope", envelope_seeds),
            ("query", texts),
            (
                "fragment_parse",
                fragments
                    .iter()
                    .take(6)
                    .map(|f| f.clone().into_bytes())
                    .collect(),
            ),
            (
                "assembler",
                vec![
                    program(&frag_group, 0),
                    program(&reversed, 1),
                    roundtrip(&[0, 60, 1, 2, 3, 4, 1, 9, 9, 9, 9, 9, 9, 9, 9]),
                ],
            ),
            (
                "irc_split",
                vec![
                    program(&split_lines, 0),
                    roundtrip(&[0, 3, 0, 7, 0, 20, 0, 40, 1, 2, 3, 4]),
                    roundtrip(&[1, 2, 0, 50, 0, 70, 1, 2, 3, 4]),
                ],
            ),
            ("tlv", tlvs),
            ("dake_messages", dake),
            ("data_message", data),
            ("profile", vec![profile]),
            ("attestation", {
                let mut raw = vec![0u8];
                raw.extend(super::attestation::genuine());
                vec![raw, vec![1, 0x1C, 0x40, 0x01], vec![1, 0x00, 0x10, 0x01]]
            }),
            ("smp_messages", smp_seeds()),
            ("account", account_seeds),
            ("interaction", interaction),
        ]
    }
}

#[cfg(all(test, feature = "test-utils"))]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_trivial_inputs() {
        for input in [
            &b""[..],
            b"\0",
            b"?OTR:",
            b"?OTR|",
            b"\x01\n\x02?OTR|1|2|3,1,2,a,",
        ] {
            envelope(input);
            query(input);
            fragment_parse(input);
            assembler(input);
            irc_split(input);
            tlv(input);
            dake_messages(input);
            data_message(input);
            profile(input);
        }
    }

    /// The recorded conversation carries every DAKE message, the ones sent ahead included
    /// (a first contact: the Profile message, CT_R, and Auth-R and Auth-I that refer to them).
    #[test]
    fn dake_seeds_cover_every_dake_message() {
        let all = seeds();
        let (_, dake) = all.iter().find(|(n, _)| *n == "dake_messages").unwrap();
        let types: Vec<MessageType> = dake
            .iter()
            .filter_map(|b| Header::peek(b).ok().map(|h| h.msg_type))
            .collect();
        for t in [
            MessageType::Identity,
            MessageType::AuthR,
            MessageType::AuthI,
            MessageType::ProfileRequest,
            MessageType::Profile,
            MessageType::Ciphertext,
        ] {
            assert!(types.contains(&t), "no {t:?} seed");
        }
        let auth_i: Vec<AuthI> = dake.iter().filter_map(|b| AuthI::decode(b).ok()).collect();
        assert!(auth_i.iter().any(|m| m.ct_sent_ahead));
        assert!(auth_i.iter().any(|m| m.psk_mode()));
        assert!(auth_i.iter().any(|m| m.ct_responder.is_some()));
        assert!(dake.iter().any(|b| {
            AuthR::decode(b).is_ok_and(|m| m.profile == crate::wire::dake::ProfileRef::SentAhead)
        }));
    }

    #[test]
    fn seeds_pass_their_targets() {
        let targets = TARGETS;
        for (name, inputs) in seeds() {
            assert!(!inputs.is_empty(), "no seeds for {name}");
            let f = targets
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, f)| *f)
                .unwrap();
            for i in &inputs {
                f(i);
            }
        }
    }
}
