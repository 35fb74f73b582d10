//! `otr3::smp::Smp::handle` fed one hostile SMP TLV in the states of a run.
//!
//! Input: the first byte picks the TLV type (2 + byte % 6, so 2..=7: SMP1..SMP4, abort,
//! SMP1Q); the rest is the TLV value. States are set up afresh for every input from seeded
//! RNGs (so a crash replays). Every input goes to an idle `Smp` and to the initiator after
//! `start` (expecting SMP2). The other states cost 1536-bit exponentiations to reach, so an
//! input goes to them only if its type is one they read the value of (any other type is
//! refused on the type alone, which the unit tests cover): SMP1/SMP1Q and abort to the
//! responder holding a request; SMP3 and abort to the responder after `respond`; SMP4 to
//! the initiator after a real SMP2.
//!
//! Properties:
//! * nothing panics;
//! * `Rejected` always carries the abort TLV (type 6, empty) and leaves the state idle, as
//!   does `AbortedByPeer`;
//! * a run in progress never accepts the input (`Send` or `Done`): that would need proofs
//!   made with this run's secret exponents;
//! * a `Request` leaves the state awaiting the secret with the same question (read from at
//!   most 1024 bytes, no NUL), and answering it works.
#![no_main]

use otr3::smp::{Session, Smp, SmpOutput, SmpStatus};
use otr3::tlv::{Tlv, types};
use rand::SeedableRng;
use rand::rngs::StdRng;

const FA: [u8; 20] = [0xA1; 20];
const FB: [u8; 20] = [0xB2; 20];
const SSID: [u8; 8] = [7; 8];

fn alice() -> Session<'static> {
    Session {
        ours: &FA,
        theirs: &FB,
        ssid: &SSID,
    }
}

fn bob() -> Session<'static> {
    Session {
        ours: &FB,
        theirs: &FA,
        ssid: &SSID,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| check(data));

/// Feeds `tlv` to `smp` and checks the properties common to every state. `running`: a run
/// is under way (SMP2 or later expected), so nothing may be accepted.
fn feed(smp: &mut Smp, rng: &mut StdRng, session: &Session<'_>, tlv: &Tlv, running: bool) {
    let out = smp.handle(rng, session, tlv, 1);
    match &out {
        SmpOutput::Rejected { send, .. } => {
            assert_eq!(send, &Tlv::new(types::SMP_ABORT, Vec::new()));
            assert_eq!(smp.status(), SmpStatus::Idle);
        }
        SmpOutput::AbortedByPeer => assert_eq!(smp.status(), SmpStatus::Idle),
        SmpOutput::Request { question } => {
            assert!(matches!(tlv.tlv_type, types::SMP1 | types::SMP1Q));
            // At most 1024 bytes were read; lossy UTF-8 makes each at most one character.
            assert!(
                question
                    .as_ref()
                    .is_none_or(|q| !q.contains('\0') && q.chars().count() <= 1024)
            );
            assert_eq!(
                smp.status(),
                SmpStatus::AwaitingSecret {
                    question: question.clone()
                }
            );
            let m2 = smp
                .respond(rng, session, b"secret")
                .expect("answer a request");
            assert_eq!(m2.tlv_type, types::SMP2);
            assert_eq!(smp.status(), SmpStatus::Running { initiated: false });
        }
        // Only an abort with nothing to abort is ignored.
        SmpOutput::None => assert!(!running && tlv.tlv_type == types::SMP_ABORT),
        SmpOutput::Send(_) | SmpOutput::Done { .. } => {
            panic!("a run accepted a foreign message: {out:?}")
        }
    }
}

fn check(data: &[u8]) {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let tlv = Tlv::new(2 + u16::from(selector % 6), value.to_vec());

    // Idle.
    let mut rng = StdRng::seed_from_u64(3);
    feed(&mut Smp::new(), &mut rng, &bob(), &tlv, false);

    // The initiator after `start`.
    let mut rng_a = StdRng::seed_from_u64(1);
    let mut a = Smp::new();
    let m1 = a
        .start(&mut rng_a, &alice(), None, b"secret", 0)
        .expect("start")
        .pop()
        .expect("smp1");
    feed(&mut a, &mut rng_a, &alice(), &tlv, true);

    // The responder holding the request (a new SMP1 replaces it, as in libotr).
    if matches!(tlv.tlv_type, types::SMP1 | types::SMP1Q | types::SMP_ABORT) {
        let mut rng_b = StdRng::seed_from_u64(2);
        let mut b = Smp::new();
        assert!(matches!(
            b.handle(&mut rng_b, &bob(), &m1, 0),
            SmpOutput::Request { .. }
        ));
        feed(&mut b, &mut rng_b, &bob(), &tlv, false);
    }

    // The responder after `respond`.
    if !matches!(tlv.tlv_type, types::SMP3 | types::SMP4 | types::SMP_ABORT) {
        return;
    }
    let mut rng_b = StdRng::seed_from_u64(2);
    let mut b = Smp::new();
    b.handle(&mut rng_b, &bob(), &m1, 0);
    let m2 = b.respond(&mut rng_b, &bob(), b"secret").expect("respond");
    if tlv.tlv_type != types::SMP4 {
        feed(&mut b, &mut rng_b, &bob(), &tlv, true);
        return;
    }

    // The initiator after a real SMP2.
    let mut rng_a = StdRng::seed_from_u64(1);
    let mut a = Smp::new();
    a.start(&mut rng_a, &alice(), None, b"secret", 0)
        .expect("start");
    assert!(matches!(
        a.handle(&mut rng_a, &alice(), &m2, 0),
        SmpOutput::Send(_)
    ));
    feed(&mut a, &mut rng_a, &alice(), &tlv, true);
}
