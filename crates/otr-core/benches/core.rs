//! CPU cost of the protocol core: DAKE (both sides), messages with and without a DH ratchet
//! step, and fragmentation. Run: `cargo bench -p otr-core --bench core`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use otr_core::dake::{self, Local};
use otr_core::fragment::assembler::Assembler;
use otr_core::fragment::fragmenter::fragment;
use otr_core::profile::ClientProfile;
use otr_core::ratchet::Ratchet;
use otr_core::testing::{TEST_NOW_UNIX, TestParty, ratchet_pair, test_rng};
use otr_core::wire::dake::{AuthI, AuthR, Identity, ProfileRef};
use otr_core::wire::data::DataMessage;
use otr_core::wire::envelope;

fn profile_of(r: &ProfileRef, cached: &ClientProfile) -> ClientProfile {
    match r {
        ProfileRef::Full(b) => ClientProfile::decode_and_verify(b, TEST_NOW_UNIX).unwrap(),
        ProfileRef::Hash(_) | ProfileRef::SentAhead => cached.clone(),
    }
}

/// One complete DAKE, both sides, through encode/decode, including verification of each
/// other's profile (first contact) or cached profiles and a PSK (repeat contact).
fn dake_round(
    a: &TestParty,
    b: &TestParty,
    repeat: Option<(dake::ResumptionPsk, dake::ResumptionPsk)>,
) -> (dake::DakeOutput, dake::DakeOutput) {
    let mut rng = test_rng(1);
    let local_a = Local {
        keys: &a.keys,
        profile: &a.profile,
        tag: a.tag,
    };
    let local_b = Local {
        keys: &b.keys,
        profile: &b.profile,
        tag: b.tag,
    };
    let (psk_a, psk_b) = match repeat {
        Some((x, y)) => (Some(x), Some(y)),
        None => (None, None),
    };
    let cached = psk_a.is_some();
    let (w, id) = dake::start(
        &mut rng,
        &local_a,
        b"P",
        cached.then_some(&b.profile),
        cached,
        cached,
        psk_a.into_iter().collect(),
    )
    .unwrap();
    let id = Identity::decode(&id.encode()).unwrap();
    let pa = profile_of(&id.profile, &a.profile);
    let (wi, ar) =
        dake::respond(&mut rng, &local_b, &id, pa, b"P", psk_b.as_slice(), cached).unwrap();
    let ar = AuthR::decode(&ar.encode()).unwrap();
    let pb = profile_of(&ar.profile, &b.profile);
    let (oa, ai) = w.on_auth_r(&mut rng, &local_a, &ar, pb).unwrap();
    let ai = AuthI::decode(&ai.encode()).unwrap();
    let ob = wi.on_auth_i(&local_b, &ai).unwrap();
    (oa, ob)
}

fn bench_dake(c: &mut Criterion) {
    let mut rng = test_rng(7);
    let a = TestParty::new(&mut rng, 0x1001);
    let b = TestParty::new(&mut rng, 0x2002);
    let mut g = c.benchmark_group("dake");
    g.sample_size(20);
    g.bench_function("verify_peer_profile", |bench| {
        bench
            .iter(|| ClientProfile::decode_and_verify(b.profile.as_bytes(), TEST_NOW_UNIX).unwrap())
    });
    let attestation = otr_core::profile::Attestation::sign(&b.keys, &b.profile).unwrap();
    g.bench_function("verify_peer_attestation", |bench| {
        bench.iter(|| {
            otr_core::profile::Attestation::verify(attestation.as_bytes(), &b.profile).unwrap()
        })
    });
    g.bench_function("first_contact_both_sides", |bench| {
        bench.iter(|| dake_round(&a, &b, None))
    });
    g.bench_function("repeat_contact_psk_both_sides", |bench| {
        bench.iter_batched(
            || {
                let (oa, ob) = dake_round(&a, &b, None);
                (oa.next_psk, ob.next_psk)
            },
            |psks| dake_round(&a, &b, Some(psks)),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn bench_messages(c: &mut Criterion) {
    let payload = vec![b'x'; 400];
    let mut g = c.benchmark_group("message_400B");
    let (mut a, mut b) = ratchet_pair(3, u32::MAX);
    let mut rng = test_rng(4);
    g.bench_function("encrypt_decrypt_same_chain", |bench| {
        bench.iter(|| {
            let m = a.encrypt(0, &payload).unwrap();
            let m = DataMessage::decode(&m.encode()).unwrap();
            b.decrypt(&mut rng, &m).unwrap()
        })
    });
    // Alternating direction: every decrypt starts a new chain (receive step, fresh X448 key,
    // send step). KEM steps disabled to isolate the DH ratchet.
    let (mut a, mut b) = ratchet_pair(5, u32::MAX);
    let mut flip = false;
    g.bench_function("encrypt_decrypt_with_dh_ratchet_step", |bench| {
        bench.iter(|| {
            flip = !flip;
            let (s, r): (&mut Ratchet, &mut Ratchet) = if flip {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let m = s.encrypt(0, &payload).unwrap();
            r.decrypt(&mut rng, &m).unwrap()
        })
    });
    // Every chain carries ML-KEM material (kem_every = 0): encapsulation key or ciphertext.
    let (mut a, mut b) = ratchet_pair(6, 0);
    let mut flip = false;
    g.bench_function("encrypt_decrypt_with_dh_and_kem_step", |bench| {
        bench.iter(|| {
            flip = !flip;
            let (s, r): (&mut Ratchet, &mut Ratchet) = if flip {
                (&mut a, &mut b)
            } else {
                (&mut b, &mut a)
            };
            let m = s.encrypt(0, &payload).unwrap();
            r.decrypt(&mut rng, &m).unwrap()
        })
    });
    g.finish();
}

fn bench_fragments(c: &mut Criterion) {
    let mut g = c.benchmark_group("fragment_reassemble");
    for size in [400usize, 10_000] {
        let encoded = envelope::encode(&vec![0xa5; size]);
        g.bench_function(format!("{size}B_at_400B_lines"), |bench| {
            bench.iter(|| {
                let lines = fragment(&encoded, 400, 0x1234_5678, 0x1001, 0x2002).unwrap();
                let mut asm = Assembler::new();
                let mut done = None;
                for l in lines.iter().rev() {
                    if let Some(m) = asm.push(0, l, 0x2002).unwrap().complete {
                        done = Some(m);
                    }
                }
                done.unwrap()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_dake, bench_messages, bench_fragments);
criterion_main!(benches);
