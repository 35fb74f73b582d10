//! Prints the wire cost of OTRv4+: DAKE bytes for a first and a repeat contact, data message
//! sizes, and the IRC lines each needs at a 400-byte line budget.
//!
//! Run: `cargo run --release -p otr-core --features test-utils --example wire_sizes`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use otr_core::dake::{self, Local, ResumptionPsk};
use otr_core::fragment::fragmenter::fragment;
use otr_core::profile::ClientProfile;
use otr_core::ratchet::Ratchet;
use otr_core::testing::{TEST_NOW_UNIX, TestParty, test_rng};
use otr_core::wire::dake::ProfileRef;
use otr_core::wire::data::KemField;
use otr_core::wire::envelope;

const BUDGET: usize = 400;

fn lines(bin: &[u8]) -> (usize, usize) {
    let encoded = envelope::encode(bin);
    let n = fragment(&encoded, BUDGET, 1, 0x1001, 0x2002).unwrap().len();
    (encoded.len(), n)
}

fn row(name: &str, bin: &[u8]) -> (usize, usize) {
    let (chars, n) = lines(bin);
    println!("| {name:<34} | {:>6} | {chars:>6} | {n:>5} |", bin.len());
    (bin.len(), n)
}

fn profile_of(r: &ProfileRef, cached: &ClientProfile) -> ClientProfile {
    match r {
        ProfileRef::Full(b) => ClientProfile::decode_and_verify(b, TEST_NOW_UNIX).unwrap(),
        ProfileRef::Hash(_) => cached.clone(),
    }
}

fn dake(
    a: &TestParty,
    b: &TestParty,
    cached: bool,
    repeat: Option<(ResumptionPsk, ResumptionPsk)>,
    label: &str,
) -> (dake::DakeOutput, dake::DakeOutput) {
    let mut rng = test_rng(9);
    let la = Local {
        keys: &a.keys,
        profile: &a.profile,
        tag: a.tag,
    };
    let lb = Local {
        keys: &b.keys,
        profile: &b.profile,
        tag: b.tag,
    };
    let (pa_psk, pb_psk) = match repeat {
        Some((x, y)) => (Some(x), Some(y)),
        None => (None, None),
    };
    let (w, id) = dake::start(
        &mut rng,
        &la,
        b"P",
        cached.then_some(&b.profile),
        cached,
        pa_psk,
    )
    .unwrap();
    let (wi, ar) = dake::respond(
        &mut rng,
        &lb,
        &id,
        profile_of(&id.profile, &a.profile),
        b"P",
        pb_psk.as_ref(),
    )
    .unwrap();
    let (oa, ai) = w
        .on_auth_r(&mut rng, &la, &ar, profile_of(&ar.profile, &b.profile))
        .unwrap();
    let ob = wi.on_auth_i(&lb, &ai).unwrap();
    let r1 = row(&format!("{label}: Identity"), &id.encode());
    let r2 = row(&format!("{label}: Auth-R"), &ar.encode());
    let r3 = row(&format!("{label}: Auth-I"), &ai.encode());
    println!(
        "| **{label}: total**{:pad$} | **{}** | | **{}** |",
        "",
        r1.0 + r2.0 + r3.0,
        r1.1 + r2.1 + r3.1,
        pad = 34 - label.len() - 13
    );
    (oa, ob)
}

fn main() {
    let mut rng = test_rng(1);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    println!("Line budget: {BUDGET} bytes of PRIVMSG text per line.\n");
    println!("| message                            | binary | base64 | lines |");
    println!("|------------------------------------|-------:|-------:|------:|");
    row("client profile (alone)", a.profile.as_bytes());
    let (oa, ob) = dake(&a, &b, false, None, "first contact");
    dake(&a, &b, true, None, "cached, no PSK");
    let (oa2, ob2) = dake(
        &a,
        &b,
        true,
        Some((oa.next_psk, ob.next_psk)),
        "repeat contact",
    );

    let mut ra = Ratchet::new(&mut rng, oa2, a.tag, 0).unwrap();
    let mut rb = Ratchet::new(&mut rng, ob2, b.tag, 0).unwrap();
    let short = ra.encrypt(0, b"hello").unwrap();
    row("data: 5-byte text", &short.encode());
    let long = ra.encrypt(0, &[b'x'; 400]).unwrap();
    row("data: 400-byte text", &long.encode());
    rb.decrypt(&mut rng, &long).unwrap();
    let with_ek = rb.encrypt(0, b"hello").unwrap();
    assert!(matches!(with_ek.kem, KemField::EncapsKey(_)));
    row("data: 5-byte text + ML-KEM ek", &with_ek.encode());
    ra.decrypt(&mut rng, &with_ek).unwrap();
    let with_ct = ra.encrypt(0, b"hello").unwrap();
    assert!(matches!(with_ct.kem, KemField::Ciphertext(_)));
    row("data: 5-byte text + ML-KEM ct", &with_ct.encode());
}
