//! SMP state-machine tests: correctness, man-in-the-middle, aborts, malformed input, limits.

use super::group::ELEMENT_LEN;
use super::*;
use crate::profile::{FINGERPRINT_LEN, Fingerprint, LongTermKeys, fingerprint_of};
use crate::testing::test_rng;

struct Side {
    smp: Smp,
    ours: Fingerprint,
    theirs: Fingerprint,
    ssid: [u8; 8],
}

impl Side {
    fn start(
        &mut self,
        rng: &mut Rng,
        question: Option<&str>,
        secret: &str,
        now: u64,
    ) -> Result<Vec<Tlv>, SmpError> {
        let s = Session {
            ours: &self.ours,
            theirs: &self.theirs,
            ssid: &self.ssid,
        };
        self.smp.start(rng, &s, question, secret, now)
    }

    fn respond(&mut self, rng: &mut Rng, secret: &str) -> Result<Tlv, SmpError> {
        let s = Session {
            ours: &self.ours,
            theirs: &self.theirs,
            ssid: &self.ssid,
        };
        self.smp.respond(rng, &s, secret)
    }

    #[allow(dead_code)]
    fn session(&self) -> Session<'_> {
        Session {
            ours: &self.ours,
            theirs: &self.theirs,
            ssid: &self.ssid,
        }
    }
}

fn pair() -> (Side, Side) {
    let fa = Fingerprint([0xA1; FINGERPRINT_LEN]);
    let fb = Fingerprint([0xB2; FINGERPRINT_LEN]);
    let ssid = [7u8; 8];
    (
        Side {
            smp: Smp::new(),
            ours: fa,
            theirs: fb,
            ssid,
        },
        Side {
            smp: Smp::new(),
            ours: fb,
            theirs: fa,
            ssid,
        },
    )
}

type Rng = rand::rngs::StdRng;

fn recv(rng: &mut Rng, to: &mut Side, tlv: &Tlv) -> SmpOutput {
    let s = Session {
        ours: &to.ours,
        theirs: &to.theirs,
        ssid: &to.ssid,
    };
    to.smp.handle(rng, &s, tlv, 0)
}

fn sent(out: SmpOutput) -> Tlv {
    match out {
        SmpOutput::Send(t) => t,
        SmpOutput::Done { send: Some(t), .. } => t,
        other => panic!("expected a TLV to send, got {other:?}"),
    }
}

/// Runs a whole exchange; returns (alice's result, bob's result).
fn run(
    rng: &mut Rng,
    a: &mut Side,
    b: &mut Side,
    question: Option<&str>,
    sa: &str,
    sb: &str,
) -> (SmpOutput, SmpOutput) {
    let start = a.start(rng, question, sa, 0).expect("start");
    let m1 = start.last().expect("smp1").clone();
    match recv(rng, b, &m1) {
        SmpOutput::Request { question: q } => assert_eq!(q.as_deref(), question),
        other => return (SmpOutput::None, other),
    }
    let m2 = b.respond(rng, sb).expect("respond");
    let out = recv(rng, a, &m2);
    let SmpOutput::Send(m3) = out else {
        return (out, SmpOutput::None);
    };
    let bob = recv(rng, b, &m3);
    let SmpOutput::Done { send: Some(m4), .. } = &bob else {
        return (SmpOutput::None, bob);
    };
    let m4 = m4.clone();
    let alice = recv(rng, a, &m4);
    (alice, bob)
}

fn success(out: &SmpOutput) -> Option<bool> {
    match out {
        SmpOutput::Done { result, .. } => Some(result.success),
        _ => None,
    }
}

#[test]
fn equal_secrets_succeed_on_both_sides() {
    let mut rng = test_rng(1);
    let (mut a, mut b) = pair();
    let (ra, rb) = run(
        &mut rng,
        &mut a,
        &mut b,
        None,
        "correct horse",
        "correct horse",
    );
    let SmpOutput::Done { result: ra, send } = ra else {
        panic!("alice: {ra:?}")
    };
    assert!(send.is_none());
    assert_eq!(
        ra,
        SmpResult {
            success: true,
            initiated: true,
            question: false
        }
    );
    assert_eq!(success(&rb), Some(true));
    assert_eq!(a.smp.status(), SmpStatus::Idle);
    assert_eq!(b.smp.status(), SmpStatus::Idle);
}

#[test]
fn equal_answers_to_a_question_succeed() {
    let mut rng = test_rng(2);
    let (mut a, mut b) = pair();
    let (ra, rb) = run(
        &mut rng,
        &mut a,
        &mut b,
        Some("Where did we meet?"),
        "Berlin",
        "Berlin",
    );
    assert_eq!(success(&ra), Some(true));
    let SmpOutput::Done { result, .. } = rb else {
        panic!("bob: {rb:?}")
    };
    assert!(result.success && !result.initiated && result.question);
}

#[test]
fn different_secrets_fail_on_both_sides() {
    let mut rng = test_rng(3);
    let (mut a, mut b) = pair();
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "apple", "apples");
    assert_eq!(success(&ra), Some(false));
    assert_eq!(success(&rb), Some(false));
    let (ra, rb) = run(&mut rng, &mut a, &mut b, Some("q?"), "x", "X");
    assert_eq!(success(&ra), Some(false));
    assert_eq!(success(&rb), Some(false));
}

#[test]
fn secrets_are_compared_after_nfc_normalisation() {
    let mut rng = test_rng(4);
    let (mut a, mut b) = pair();
    // "café" precomposed vs decomposed.
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "caf\u{e9}", "cafe\u{301}");
    assert_eq!(success(&ra), Some(true));
    assert_eq!(success(&rb), Some(true));
}

#[test]
fn man_in_the_middle_relaying_two_sessions_fails_with_the_same_secret() {
    // Alice talks to Mallory (session 1), Mallory to Bob (session 2): each side sees
    // Mallory's fingerprint and its own session id. Mallory relays the SMP TLVs verbatim.
    let mut rng = test_rng(5);
    let fa = Fingerprint([0xA1; FINGERPRINT_LEN]);
    let fb = Fingerprint([0xB2; FINGERPRINT_LEN]);
    let fm1 = Fingerprint([0xC3; FINGERPRINT_LEN]);
    let fm2 = Fingerprint([0xC4; FINGERPRINT_LEN]);
    let mut a = Side {
        smp: Smp::new(),
        ours: fa,
        theirs: fm1,
        ssid: [1; 8],
    };
    let mut b = Side {
        smp: Smp::new(),
        ours: fb,
        theirs: fm2,
        ssid: [2; 8],
    };
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "shared", "shared");
    assert_ne!(success(&ra), Some(true), "alice must not verify: {ra:?}");
    assert_ne!(success(&rb), Some(true), "bob must not verify: {rb:?}");
    // The relayed SMP1 fails its proof check at Bob (proofs are bound to the session).
    assert!(matches!(
        rb,
        SmpOutput::Rejected {
            error: SmpError::BadProof,
            ..
        }
    ));

    // Even when the man in the middle presents the same session id on both sides, the
    // fingerprints differ, so the run cannot succeed.
    let mut a = Side {
        smp: Smp::new(),
        ours: fa,
        theirs: fm1,
        ssid: [9; 8],
    };
    let mut b = Side {
        smp: Smp::new(),
        ours: fb,
        theirs: fm2,
        ssid: [9; 8],
    };
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "shared", "shared");
    assert_ne!(success(&ra), Some(true));
    assert_ne!(success(&rb), Some(true));
}

#[test]
fn compared_value_binds_both_fingerprints_session_id_question_and_secret() {
    let fa = Fingerprint([1; FINGERPRINT_LEN]);
    let fb = Fingerprint([2; FINGERPRINT_LEN]);
    let fc = Fingerprint([3; FINGERPRINT_LEN]);
    let value = |i: &Fingerprint, r: &Fingerprint, ssid: &[u8; 8], q: Option<&str>, s: &[u8]| {
        let roles = Roles {
            initiator: i,
            responder: r,
            ssid,
        };
        group::Element::g_pow(&roles.secret(q, s)).encode()
    };
    let base = value(&fa, &fb, &[0; 8], None, b"s");
    assert_eq!(base, value(&fa, &fb, &[0; 8], None, b"s"));
    assert_ne!(base, value(&fc, &fb, &[0; 8], None, b"s"));
    assert_ne!(base, value(&fa, &fc, &[0; 8], None, b"s"));
    assert_ne!(base, value(&fb, &fa, &[0; 8], None, b"s"));
    assert_ne!(base, value(&fa, &fb, &[1; 8], None, b"s"));
    assert_ne!(base, value(&fa, &fb, &[0; 8], Some("q"), b"s"));
    assert_ne!(base, value(&fa, &fb, &[0; 8], None, b"t"));
}

#[test]
fn swapping_one_key_in_a_fingerprint_makes_the_run_fail() {
    // Bob believes Alice's fingerprint covers a different ML-KEM (then ML-DSA, then Ed448)
    // key than the one Alice has: the fingerprints differ, and so does the compared value.
    let mut rng = test_rng(6);
    let ka = LongTermKeys::generate(&mut rng).expect("keys");
    let kx = LongTermKeys::generate(&mut rng).expect("keys");
    let kb = LongTermKeys::generate(&mut rng).expect("keys");
    let real = ka.fingerprint();
    let (h, f, kem, dsa) = ka.public_parts();
    let (xh, xf, xkem, xdsa) = kx.public_parts();
    let swapped = [
        fingerprint_of(xh, f, kem, &dsa),
        fingerprint_of(h, xf, kem, &dsa),
        fingerprint_of(h, f, xkem, &dsa),
        fingerprint_of(h, f, kem, &xdsa),
    ];
    for wrong in swapped {
        assert_ne!(wrong, real);
        let mut a = Side {
            smp: Smp::new(),
            ours: real,
            theirs: kb.fingerprint(),
            ssid: [4; 8],
        };
        let mut b = Side {
            smp: Smp::new(),
            ours: kb.fingerprint(),
            theirs: wrong,
            ssid: [4; 8],
        };
        let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "same", "same");
        assert_ne!(success(&ra), Some(true));
        assert_ne!(success(&rb), Some(true));
    }
    // Control: with the right fingerprint the same run succeeds.
    let mut a = Side {
        smp: Smp::new(),
        ours: real,
        theirs: kb.fingerprint(),
        ssid: [4; 8],
    };
    let mut b = Side {
        smp: Smp::new(),
        ours: kb.fingerprint(),
        theirs: real,
        ssid: [4; 8],
    };
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "same", "same");
    assert_eq!((success(&ra), success(&rb)), (Some(true), Some(true)));
}

/// Drives a run up to `steps` messages delivered, then lets `aborter` abort.
fn abort_after(steps: usize, alice_aborts: bool) {
    let mut rng = test_rng(10 + steps as u64);
    let (mut a, mut b) = pair();
    let mut next: Option<Tlv> = None;
    for step in 0..steps {
        next = Some(match step {
            0 => a
                .start(&mut rng, Some("q"), "s", 0)
                .expect("start")
                .pop()
                .expect("smp1"),
            1 => {
                let m1 = next.take().expect("m1");
                assert!(matches!(
                    recv(&mut rng, &mut b, &m1),
                    SmpOutput::Request { .. }
                ));
                b.respond(&mut rng, "s").expect("respond")
            }
            2 => sent(recv(&mut rng, &mut a, &next.take().expect("m2"))),
            3 => sent(recv(&mut rng, &mut b, &next.take().expect("m3"))),
            _ => unreachable!(),
        });
    }
    // `next` (if any) is in flight and is lost; the aborter aborts.
    let (aborter, other) = if alice_aborts {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    // The account sends an abort even when its own side is idle (the peer may not be).
    let abort = aborter.smp.abort().unwrap_or_else(messages::abort_tlv);
    assert_eq!(aborter.smp.status(), SmpStatus::Idle);
    let others_view_was_idle = other.smp.status() == SmpStatus::Idle;
    let out = recv(&mut rng, other, &abort);
    if others_view_was_idle {
        assert_eq!(out, SmpOutput::None);
    } else {
        assert_eq!(out, SmpOutput::AbortedByPeer);
    }
    assert_eq!(a.smp.status(), SmpStatus::Idle);
    assert_eq!(b.smp.status(), SmpStatus::Idle);
    // A late message from the aborted run is refused and answered with an abort.
    if let Some(late) = next {
        let receiver = if late.tlv_type == types::SMP2 || late.tlv_type == types::SMP4 {
            &mut a
        } else {
            &mut b
        };
        let out = recv(&mut rng, receiver, &late);
        assert!(
            matches!(
                out,
                SmpOutput::Rejected {
                    error: SmpError::Unexpected,
                    ..
                } | SmpOutput::Request { .. }
            ),
            "{out:?}"
        );
        receiver.smp.abort();
    }
    // Nothing is damaged: a fresh run succeeds.
    let (ra, rb) = run(&mut rng, &mut a, &mut b, None, "again", "again");
    assert_eq!((success(&ra), success(&rb)), (Some(true), Some(true)));
}

#[test]
fn either_side_can_abort_at_every_step() {
    for steps in 0..=3 {
        abort_after(steps, true);
        abort_after(steps, false);
    }
}

/// Captures the four messages of an honest run.
fn transcript(rng: &mut Rng) -> [Tlv; 4] {
    let (mut a, mut b) = pair();
    let m1 = a
        .start(rng, None, "s", 0)
        .expect("start")
        .pop()
        .expect("m1");
    recv(rng, &mut b, &m1);
    let m2 = b.respond(rng, "s").expect("respond");
    let m3 = sent(recv(rng, &mut a, &m2));
    let m4 = sent(recv(rng, &mut b, &m3));
    [m1, m2, m3, m4]
}

/// Drives a run between `a` and `b` up to message `index`, delivers `bad` in its place and
/// checks it is refused with an abort and the receiver reset; then aborts both sides, ready
/// for the next run. `still_works` afterwards checks that nothing was damaged.
fn refused_on(rng: &mut Rng, a: &mut Side, b: &mut Side, index: usize, bad: &Tlv) -> SmpError {
    let mut msg = a
        .start(rng, None, "s", 0)
        .expect("start")
        .pop()
        .expect("m1");
    for step in 0..index {
        msg = match step {
            0 => {
                recv(rng, b, &msg);
                b.respond(rng, "s").expect("respond")
            }
            1 => sent(recv(rng, a, &msg)),
            _ => sent(recv(rng, b, &msg)),
        };
    }
    let receiver = if index.is_multiple_of(2) {
        &mut *b
    } else {
        &mut *a
    };
    let out = recv(rng, receiver, bad);
    let SmpOutput::Rejected { error, send } = out else {
        panic!("message {index}: accepted {out:?}")
    };
    assert_eq!(send.tlv_type, types::SMP_ABORT);
    assert_eq!(receiver.smp.status(), SmpStatus::Idle);
    a.smp.abort();
    b.smp.abort();
    error
}

/// A fresh run between sides that refused bad messages still succeeds.
fn still_works(rng: &mut Rng, a: &mut Side, b: &mut Side) {
    let (ra, rb) = run(rng, a, b, None, "t", "t");
    assert_eq!((success(&ra), success(&rb)), (Some(true), Some(true)));
}

/// `refused_on` on a fresh pair, with `still_works` after it.
fn refused(index: usize, bad: &Tlv) -> SmpError {
    let mut rng = test_rng(40);
    let (mut a, mut b) = pair();
    let error = refused_on(&mut rng, &mut a, &mut b, index, bad);
    still_works(&mut rng, &mut a, &mut b);
    error
}

/// What a refused message's error must be.
type Expected = fn(&SmpError) -> bool;

fn with_value(t: &Tlv, value: Vec<u8>) -> Tlv {
    Tlv {
        tlv_type: t.tlv_type,
        value,
    }
}

#[test]
fn malformed_and_out_of_range_values_are_rejected_without_state_damage() {
    let mut rng = test_rng(41);
    let honest = transcript(&mut rng);
    let p_minus_1 = {
        let mut v = [0xFFu8; ELEMENT_LEN];
        v[ELEMENT_LEN - 1] = 0xFE;
        v
    };
    for (i, m) in honest.iter().enumerate() {
        let v = &m.value;
        let mut cases: Vec<(Tlv, Expected)> = Vec::new();
        // Truncated, extended, empty, wrong version.
        let decode: Expected = |e| matches!(e, SmpError::Decode(_));
        cases.push((with_value(m, v[..v.len() - 1].to_vec()), decode));
        let mut longer = v.clone();
        longer.push(0);
        cases.push((with_value(m, longer), decode));
        cases.push((with_value(m, Vec::new()), decode));
        let mut ver = v.clone();
        ver[0] = 9;
        cases.push((with_value(m, ver), |e| *e == SmpError::Version));
        // The first group element replaced by 0, 1, p-1 and p (all outside the subgroup).
        for bad in [
            [0u8; ELEMENT_LEN],
            {
                let mut one = [0u8; ELEMENT_LEN];
                one[ELEMENT_LEN - 1] = 1;
                one
            },
            p_minus_1,
            [0xFF; ELEMENT_LEN],
        ] {
            let mut e = v.clone();
            e[1..1 + ELEMENT_LEN].copy_from_slice(&bad);
            cases.push((with_value(m, e), |e| {
                *e == SmpError::Value(ValueError::Element)
            }));
        }
        // A flipped bit in the last proof response: the proof fails.
        let mut d = v.clone();
        let last = d.len() - 1;
        d[last] ^= 1;
        cases.push((with_value(m, d), |e| *e == SmpError::BadProof));
        // A response >= q.
        let mut big = v.clone();
        let at = big.len() - ELEMENT_LEN;
        big[at..].copy_from_slice(&[0xFF; ELEMENT_LEN]);
        cases.push((with_value(m, big), |e| {
            *e == SmpError::Value(ValueError::Exponent)
        }));
        // Several variants on one pair (fewer than the failure limit), so that damage left by
        // one would show in the next and in the fresh run after them; one fresh run per group
        // keeps the test short.
        for group in cases.chunks(MAX_SMP_FAILURES as usize - 1) {
            let (mut a, mut b) = pair();
            for (bad, expected) in group {
                let error = refused_on(&mut rng, &mut a, &mut b, i, bad);
                assert!(expected(&error), "message {i}: {error:?}");
            }
            still_works(&mut rng, &mut a, &mut b);
        }
    }
    // Messages out of order.
    assert_eq!(refused(0, &honest[1]), SmpError::Unexpected);
    assert_eq!(refused(1, &honest[3]), SmpError::Unexpected);
    assert_eq!(refused(2, &honest[0]), SmpError::Unexpected);
    // A replayed message from another run fails its proof (fresh commitments differ).
    assert_eq!(refused(1, &honest[1]), SmpError::BadProof);
}

#[test]
fn questions_must_be_utf8_and_bounded() {
    let mut rng = test_rng(42);
    let (mut a, _) = pair();
    let long = "x".repeat(MAX_SMP_QUESTION_BYTES + 1);
    assert_eq!(
        a.start(&mut rng, Some(&long), "s", 0),
        Err(SmpError::Question)
    );
    let m1 = a
        .start(&mut rng, Some("ok"), "s", 0)
        .expect("start")
        .pop()
        .expect("m1");
    // Replace the question bytes "ok" with invalid UTF-8.
    let mut v = m1.value.clone();
    v[3] = 0xFF;
    assert_eq!(refused(0, &with_value(&m1, v)), SmpError::Question);
}

#[test]
fn secrets_must_be_non_empty_and_bounded() {
    let mut rng = test_rng(43);
    let (mut a, _) = pair();
    assert_eq!(a.start(&mut rng, None, "", 0), Err(SmpError::Secret));
    let long = "x".repeat(MAX_SMP_SECRET_BYTES + 1);
    assert_eq!(a.start(&mut rng, None, &long, 0), Err(SmpError::Secret));
    assert_eq!(a.respond(&mut rng, "s"), Err(SmpError::NothingToAnswer));
}

#[test]
fn failures_are_limited_per_session() {
    let mut rng = test_rng(44);
    let (mut a, mut b) = pair();
    for _ in 0..MAX_SMP_FAILURES {
        let (ra, _) = run(&mut rng, &mut a, &mut b, None, "a", "b");
        assert_eq!(success(&ra), Some(false));
    }
    assert_eq!(
        a.start(&mut rng, None, "a", 0),
        Err(SmpError::TooManyFailures)
    );
    // Bob too refuses new requests (he counted the same failures).
    let mut c = Side {
        smp: Smp::new(),
        ours: a.ours,
        theirs: a.theirs,
        ssid: a.ssid,
    };
    let m1 = c
        .start(&mut rng, None, "a", 0)
        .expect("start")
        .pop()
        .expect("m1");
    assert!(matches!(
        recv(&mut rng, &mut b, &m1),
        SmpOutput::Rejected {
            error: SmpError::TooManyFailures,
            ..
        }
    ));
}

#[test]
fn restarting_aborts_the_previous_run_first() {
    let mut rng = test_rng(45);
    let (mut a, mut b) = pair();
    let first = a.start(&mut rng, None, "s", 0).expect("start");
    assert_eq!(first.len(), 1);
    recv(&mut rng, &mut b, &first[0]);
    let second = a.start(&mut rng, None, "s", 0).expect("restart");
    assert_eq!(second.len(), 2);
    assert_eq!(second[0].tlv_type, types::SMP_ABORT);
    assert_eq!(recv(&mut rng, &mut b, &second[0]), SmpOutput::AbortedByPeer);
    assert!(matches!(
        recv(&mut rng, &mut b, &second[1]),
        SmpOutput::Request { .. }
    ));
    let m2 = b.respond(&mut rng, "s").expect("respond");
    let m3 = sent(recv(&mut rng, &mut a, &m2));
    let bob = recv(&mut rng, &mut b, &m3);
    assert_eq!(success(&bob), Some(true));
}

#[test]
fn message_sizes_are_fixed() {
    let mut rng = test_rng(46);
    let t = transcript(&mut rng);
    let e = ELEMENT_LEN;
    assert_eq!(t[0].value.len(), 1 + 4 * e + 2 * 32);
    assert_eq!(t[1].value.len(), 1 + 8 * e + 3 * 32);
    assert_eq!(t[2].value.len(), 1 + 6 * e + 2 * 32);
    assert_eq!(t[3].value.len(), 1 + 2 * e + 32);
}
