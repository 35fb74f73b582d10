//! Every deadline `handle_timeout` acts on is one `poll_timeout` reports.

use super::*;

#[test]
fn replaced_session_is_dropped_at_its_deadline() {
    let mut pair = Pair::established(801);
    pair.alice.start(pair.now, &mut pair.rng, "bob");
    pair.pump();
    assert!(
        pair.alice.peers["bob"].previous.is_some(),
        "re-key keeps the old session"
    );
    let deadline = pair.alice.poll_timeout().unwrap();
    assert!(
        deadline <= pair.now + PREVIOUS_SESSION_GRACE_MS,
        "poll_timeout {} s away",
        (deadline - pair.now) / 1000
    );
    pair.alice.handle_timeout(deadline, &mut pair.rng);
    // The deadline may be an earlier timer (a heartbeat); run every timer up to the grace end.
    let mut t = deadline;
    while pair.alice.peers["bob"].previous.is_some() {
        t = pair.alice.poll_timeout().unwrap();
        assert!(t <= pair.now + PREVIOUS_SESSION_GRACE_MS);
        pair.alice.handle_timeout(t, &mut pair.rng);
    }
    assert!(t <= pair.now + PREVIOUS_SESSION_GRACE_MS);
    assert_eq!(pair.alice.session_info("bob").state, State::Encrypted);
}

#[test]
fn profile_refresh_is_scheduled() {
    let mut rng = test_rng(802);
    let mut alice = account(&mut rng, ALICE, Policy::default());
    let first = alice.profile().expiry();
    let t = alice
        .poll_timeout()
        .expect("the profile refresh is a deadline");
    alice.handle_timeout(t, &mut rng);
    assert!(
        alice.profile().expiry() > first,
        "re-signed at the reported deadline"
    );
}
