//! Test support shared by unit tests, integration tests, fuzz targets and benchmarks:
//! a seeded RNG and helpers that run a real DAKE between two in-memory parties.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::dake::{self, DakeOutput, Local};
use crate::profile::{ClientProfile, DEFAULT_PROFILE_LIFETIME_SECS, LongTermKeys};
use crate::ratchet::Ratchet;
use crate::wire::dake::ProfileRef;

/// A fixed "now" for tests (2027-01-15).
pub const TEST_NOW_UNIX: i64 = 1_800_000_000;

/// A deterministic CSPRNG (ChaCha) from a 64-bit seed.
pub fn test_rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A party with long-term keys and a signed profile.
pub struct TestParty {
    /// Long-term keys.
    pub keys: LongTermKeys,
    /// Signed profile.
    pub profile: ClientProfile,
    /// Instance tag.
    pub tag: u32,
}

impl TestParty {
    /// Generates a party.
    pub fn new(rng: &mut StdRng, tag: u32) -> Self {
        let keys = LongTermKeys::generate(rng).unwrap_or_else(|_| unreachable_keys());
        let profile =
            ClientProfile::sign(&keys, tag, TEST_NOW_UNIX + DEFAULT_PROFILE_LIFETIME_SECS)
                .unwrap_or_else(|_| unreachable_keys());
        TestParty { keys, profile, tag }
    }

    /// The DAKE view of this party.
    pub fn local(&self) -> Local<'_> {
        Local {
            keys: &self.keys,
            profile: &self.profile,
            tag: self.tag,
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_keys() -> ! {
    panic!("key generation failed in a test helper")
}

#[allow(clippy::panic)]
fn resolve(r: &ProfileRef, cached: &ClientProfile) -> ClientProfile {
    match r {
        ProfileRef::Full(b) => ClientProfile::decode_and_verify(b, TEST_NOW_UNIX)
            .unwrap_or_else(|e| panic!("profile: {e}")),
        // The responder's own profile, which a Profile message carried ahead.
        ProfileRef::Hash(_) | ProfileRef::SentAhead => cached.clone(),
    }
}

/// Runs a full-mode DAKE (a initiates) and returns both outputs.
#[allow(clippy::panic)]
pub fn run_dake(rng: &mut StdRng, a: &TestParty, b: &TestParty) -> (DakeOutput, DakeOutput) {
    let (wait_r, identity) = dake::start(rng, &a.local(), b"P", None, false, false, Vec::new())
        .unwrap_or_else(|e| panic!("start: {e}"));
    let a_profile = resolve(&identity.profile, &a.profile);
    let (wait_i, auth_r) = dake::respond(rng, &b.local(), &identity, a_profile, b"P", &[], false)
        .unwrap_or_else(|e| panic!("respond: {e}"));
    let b_profile = resolve(&auth_r.profile, &b.profile);
    let (out_a, auth_i) = wait_r
        .on_auth_r(rng, &a.local(), &auth_r, b_profile)
        .unwrap_or_else(|e| panic!("auth-r: {e}"));
    let out_b = wait_i
        .on_auth_i(&b.local(), &auth_i)
        .unwrap_or_else(|e| panic!("auth-i: {e}"));
    (out_a, out_b)
}

/// Two ratchets from a fresh DAKE: (initiator, responder).
#[allow(clippy::panic)]
pub fn ratchet_pair(seed: u64, kem_every: u32) -> (Ratchet, Ratchet) {
    let mut rng = test_rng(seed);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    let (out_a, out_b) = run_dake(&mut rng, &a, &b);
    let ra = Ratchet::new(&mut rng, out_a, a.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    let rb = Ratchet::new(&mut rng, out_b, b.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    (ra, rb)
}

/// Two ratchets after a repeat contact: a full-mode DAKE, then a PSK-mode one started with
/// the first's PSK (which defers the ephemeral ML-KEM exchange to the ratchet).
#[allow(clippy::panic)]
pub fn resumed_ratchet_pair(seed: u64, kem_every: u32) -> (Ratchet, Ratchet) {
    let mut rng = test_rng(seed);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    let (first_a, first_b) = run_dake(&mut rng, &a, &b);
    let (wait_r, identity) = dake::start(
        &mut rng,
        &a.local(),
        b"",
        Some(&b.profile),
        false,
        true,
        vec![first_a.next_psk],
    )
    .unwrap_or_else(|e| panic!("start: {e}"));
    let (wait_i, auth_r) = dake::respond(
        &mut rng,
        &b.local(),
        &identity,
        a.profile.clone(),
        b"",
        std::slice::from_ref(&first_b.next_psk),
        false,
    )
    .unwrap_or_else(|e| panic!("respond: {e}"));
    let (out_a, auth_i) = wait_r
        .on_auth_r(&mut rng, &a.local(), &auth_r, b.profile.clone())
        .unwrap_or_else(|e| panic!("auth-r: {e}"));
    let out_b = wait_i
        .on_auth_i(&b.local(), &auth_i)
        .unwrap_or_else(|e| panic!("auth-i: {e}"));
    assert!(out_a.kem_deferred && out_b.kem_deferred, "not deferred");
    let ra = Ratchet::new(&mut rng, out_a, a.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    let rb = Ratchet::new(&mut rng, out_b, b.tag, kem_every).unwrap_or_else(|e| panic!("{e}"));
    (ra, rb)
}

/// One row of the wire-size table: message name, binary bytes, base64 characters of the
/// `?OTR:` encoding, and PRIVMSG lines at the given budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeRow {
    /// Message name.
    pub name: String,
    /// Binary length.
    pub binary: usize,
    /// Length of the `?OTR:...` encoding.
    pub encoded: usize,
    /// Lines after fragmentation.
    pub lines: usize,
}

#[allow(clippy::panic)]
fn size_row(name: &str, bin: &[u8], budget: usize) -> SizeRow {
    let encoded = crate::wire::envelope::encode(bin);
    let lines = crate::fragment::fragmenter::fragment(&encoded, budget, 1, 0x1001, 0x2002)
        .unwrap_or_else(|e| panic!("fragment: {e}"))
        .len();
    SizeRow {
        name: name.to_string(),
        binary: bin.len(),
        encoded: encoded.len(),
        lines,
    }
}

/// Runs real DAKEs (first contact with the responder's profile and the initiator's CT_R sent
/// ahead, cached profiles without PSK with CT_R sent ahead, repeat contact with PSK) and data
/// messages, and returns their sizes at `budget` bytes per line. Totals are rows named
/// "<case>: total" with `encoded` = 0.
#[allow(clippy::panic)]
pub fn wire_size_table(budget: usize) -> Vec<SizeRow> {
    use crate::dake::ResumptionPsk;
    use crate::wire::data::KemField;
    let mut rng = test_rng(1);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    let mut rows = vec![size_row(
        "client profile (alone)",
        a.profile.as_bytes(),
        budget,
    )];
    let mut run = |cached: bool,
                   ahead: bool,
                   psk: Option<(ResumptionPsk, ResumptionPsk)>,
                   label: &str,
                   rows: &mut Vec<SizeRow>| {
        let (pa, pb) = match psk {
            Some((x, y)) => (Some(x), Some(y)),
            None => (None, None),
        };
        let (mut w, id) = dake::start(
            &mut rng,
            &a.local(),
            b"P",
            cached.then_some(&b.profile),
            cached,
            cached,
            pa.into_iter().collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (mut wi, ar) = dake::respond(
            &mut rng,
            &b.local(),
            &id,
            resolve(&id.profile, &a.profile),
            b"P",
            pb.as_slice(),
            cached,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // First contact: the responder's profile goes ahead while the Identity arrives.
        let profile_msg = crate::wire::dake::ProfileAhead {
            header: crate::wire::Header {
                msg_type: crate::wire::MessageType::Profile,
                sender: b.tag,
                receiver: a.tag,
            },
            profile: b.profile.as_bytes().to_vec(),
        };
        let ar = if ahead {
            wi.refer_to_profile_sent_ahead()
        } else {
            ar
        };
        // Without a PSK the initiator knows the responder's profile (sent ahead, or cached)
        // before Auth-R: its CT_R goes ahead too.
        let ct_msg = w
            .encapsulate_ahead(&b.profile)
            .unwrap_or_else(|e| panic!("{e}"));
        if let Some(m) = &ct_msg {
            wi.hold_ciphertext(&m.ct);
        }
        let (oa, ai) = w
            .on_auth_r(&mut rng, &a.local(), &ar, resolve(&ar.profile, &b.profile))
            .unwrap_or_else(|e| panic!("{e}"));
        let ob = wi
            .on_auth_i(&b.local(), &ai)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut msgs = vec![size_row(
            &format!("{label}: Identity"),
            &id.encode(),
            budget,
        )];
        if ahead {
            msgs.push(size_row(
                &format!("{label}: Profile"),
                &profile_msg.encode(),
                budget,
            ));
        }
        if let Some(m) = &ct_msg {
            msgs.push(size_row(
                &format!("{label}: Ciphertext (ahead)"),
                &m.encode(),
                budget,
            ));
        }
        let sent_ahead = |what: &str, yes: bool| {
            if yes {
                format!("{label}: {what} (sent ahead)")
            } else {
                format!("{label}: {what}")
            }
        };
        msgs.push(size_row(&sent_ahead("Auth-R", ahead), &ar.encode(), budget));
        msgs.push(size_row(
            &sent_ahead("Auth-I", ai.ct_sent_ahead),
            &ai.encode(),
            budget,
        ));
        rows.push(SizeRow {
            name: format!("{label}: total"),
            binary: msgs.iter().map(|r| r.binary).sum(),
            encoded: 0,
            lines: msgs.iter().map(|r| r.lines).sum(),
        });
        let total = rows.pop();
        rows.extend(msgs);
        rows.extend(total);
        (oa, ob)
    };
    let (oa, ob) = run(false, true, None, "first contact", &mut rows);
    run(true, false, None, "cached, no PSK", &mut rows);
    let (oa2, ob2) = run(
        true,
        false,
        Some((oa.next_psk, ob.next_psk)),
        "repeat contact",
        &mut rows,
    );
    let mut ra = Ratchet::new(&mut rng, oa2, a.tag, 0).unwrap_or_else(|e| panic!("{e}"));
    let mut rb = Ratchet::new(&mut rng, ob2, b.tag, 0).unwrap_or_else(|e| panic!("{e}"));
    // Payloads padded as an Account sends them (default 32-byte blocks).
    let pad = |text: &[u8]| {
        crate::wire::tlv::Payload {
            text: text.to_vec(),
            tlvs: Vec::new(),
        }
        .padded(crate::session::Policy::default().pad_block)
        .encode()
    };
    // The attestation each side sends once private (bulk lines), unless the peer holds it:
    // on the first chain, which carries no ML-KEM field.
    let attestation =
        crate::profile::Attestation::sign(&a.keys, &a.profile).unwrap_or_else(|e| panic!("{e}"));
    let payload = crate::wire::tlv::Payload {
        text: Vec::new(),
        tlvs: vec![crate::wire::tlv::Tlv {
            tlv_type: crate::wire::tlv::types::PROFILE_ATTESTATION,
            value: attestation.as_bytes().to_vec(),
        }],
    }
    .padded(crate::session::Policy::default().pad_block)
    .encode();
    let attest = ra
        .encrypt(crate::wire::data::FLAG_IGNORE_UNREADABLE, &payload)
        .unwrap_or_else(|e| panic!("{e}"));
    let short = ra
        .encrypt(0, &pad(b"hello"))
        .unwrap_or_else(|e| panic!("{e}"));
    rows.push(size_row("data: 5-byte text", &short.encode(), budget));
    let long = ra
        .encrypt(0, &pad(&[b'x'; 400]))
        .unwrap_or_else(|e| panic!("{e}"));
    rows.push(size_row("data: 400-byte text", &long.encode(), budget));
    rb.decrypt(&mut rng, &long)
        .unwrap_or_else(|e| panic!("{e}"));
    // Talk in turns, delivering the KEM messages at once, until one exchange completed: its
    // offer, its answer and a typed message on the chain that mixed it in.
    let (mut offer, mut answer, mut mixed) = (None, None, None);
    let empty = pad(b"");
    for turn in 0..16 {
        let (s, r) = if turn % 2 == 0 {
            (&mut rb, &mut ra)
        } else {
            (&mut ra, &mut rb)
        };
        let m = s
            .encrypt(0, &pad(b"hello"))
            .unwrap_or_else(|e| panic!("{e}"));
        if m.flags & crate::wire::data::FLAG_MIX != 0 && mixed.is_none() {
            mixed = Some(m.encode());
        }
        r.decrypt(&mut rng, &m).unwrap_or_else(|e| panic!("{e}"));
        while let Some(k) = r.kem_message(&empty).unwrap_or_else(|e| panic!("{e}")) {
            match k.kem {
                KemField::EncapsKey { .. } => offer = offer.or(Some(k.encode())),
                KemField::Ciphertext { .. } => answer = answer.or(Some(k.encode())),
                KemField::None => {}
            }
            s.decrypt(&mut rng, &k).unwrap_or_else(|e| panic!("{e}"));
            while let Some(k2) = s.kem_message(&empty).unwrap_or_else(|e| panic!("{e}")) {
                if matches!(k2.kem, KemField::Ciphertext { .. }) {
                    answer = answer.or(Some(k2.encode()));
                }
                r.decrypt(&mut rng, &k2).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let (Some(offer), Some(answer), Some(mixed)) = (offer, answer, mixed) else {
        panic!("no KEM exchange completed in 16 turns")
    };
    rows.push(size_row("data: 5-byte text, MIX chain", &mixed, budget));
    rows.push(size_row("data: ML-KEM offer (ek), bulk", &offer, budget));
    rows.push(size_row("data: ML-KEM answer (ct), bulk", &answer, budget));
    rows.push(size_row(
        "data: profile attestation (bulk)",
        &attest.encode(),
        budget,
    ));
    rows
}

/// The table as Markdown, in the form docs/PROTOCOL.md §11 carries it.
pub fn wire_size_markdown(rows: &[SizeRow]) -> String {
    let mut out = String::new();
    out.push_str("| message                              | binary | base64 | lines |\n");
    out.push_str("|--------------------------------------|-------:|-------:|------:|\n");
    for r in rows {
        if r.encoded == 0 {
            let name = format!("**{}**", r.name);
            let bin = format!("**{}**", r.binary);
            out.push_str(&format!("| {name:<36} | {bin:>6} | | **{}** |\n", r.lines));
        } else {
            out.push_str(&format!(
                "| {:<36} | {:>6} | {:>6} | {:>5} |\n",
                r.name, r.binary, r.encoded, r.lines
            ));
        }
    }
    out
}
