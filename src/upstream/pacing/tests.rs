use std::time::{Duration, Instant};

use bytes::Bytes;

use super::server::{Family, Profile};
use super::targets::{THROTTLE_REST, TargetRate};
use super::window::{ACK_TIMEOUT, WindowLimits};
use super::*;

fn to(target: &str, n: u32) -> Bytes {
    Bytes::from(format!("PRIVMSG {target} :{n}\r\n"))
}

fn otr(target: &str, n: u32) -> Bytes {
    Bytes::from(format!(
        "PRIVMSG {target} :?OTR|1|2|3,{n:05},00009,piece,\r\n"
    ))
}

/// A whole OTR message (not an OTRv4 fragment).
fn otr_whole(target: &str, n: u32) -> Bytes {
    Bytes::from(format!("PRIVMSG {target} :?OTR:AAQD{n:05}.\r\n"))
}

fn is_ping(l: &[u8]) -> bool {
    l.starts_with(b"PING :otrbnc-")
}

/// A pacer with only the given rules (no bucket unless `bucket`).
fn pacer(
    window: (usize, usize),
    per_target: Option<TargetRate>,
    bucket: Option<(Duration, u32)>,
    now: Instant,
) -> Pacer {
    let mut p = Pacer::new(Overrides::default(), now);
    p.set_server(
        Profile {
            family: Family::Ergo,
            window: WindowLimits {
                lines: window.0,
                bytes: window.1,
            },
            per_target,
            bucket,
            parse: None,
            credit: false,
        },
        now,
    );
    p
}

/// Lanes alone: a window too large to matter, no other limit.
fn open(now: Instant) -> Pacer {
    pacer((100_000, 100_000_000), None, None, now)
}

/// A pacer configured `flood_interval_secs = 0` (unpaced), for an unknown server.
fn unpaced(now: Instant) -> Pacer {
    Pacer::new(
        Overrides {
            interval: Some(Duration::ZERO),
            burst: None,
        },
        now,
    )
}

fn bucket(interval: f64, burst: u32, now: Instant) -> Pacer {
    pacer(
        (100_000, 100_000_000),
        None,
        Some((Duration::from_secs_f64(interval), burst)),
        now,
    )
}

fn push(p: &mut Pacer, lane: &str, lines: impl IntoIterator<Item = Bytes>) {
    p.push(
        Lane::Of(lane.to_string()),
        Class::Normal,
        lines.into_iter().collect(),
    )
    .unwrap();
}

/// Everything that may go at `now`, PINGs included.
fn pop_all(p: &mut Pacer, now: Instant) -> Vec<Bytes> {
    std::iter::from_fn(|| p.pop(now)).collect()
}

/// Everything that goes at `now` and, once idle, the batch's PING.
fn pop_batch(p: &mut Pacer, now: Instant) -> Vec<Bytes> {
    let mut out = pop_all(p, now);
    out.extend(pop_all(p, now + LAZY_PING));
    out
}

/// Everything that may go at `now`, PINGs left out.
fn pop_lines(p: &mut Pacer, now: Instant) -> Vec<Bytes> {
    pop_all(p, now)
        .into_iter()
        .filter(|l| !is_ping(l))
        .collect()
}

fn token(ping: &[u8]) -> String {
    String::from_utf8_lossy(ping)
        .trim_end()
        .trim_start_matches("PING :")
        .to_string()
}

const PER_TARGET: TargetRate = TargetRate {
    burst: 8,
    interval: Duration::from_secs(1),
};

// ---- the lanes and the bucket (behaviour kept from the token-bucket queue) ----

#[test]
fn burst_then_one_per_interval() {
    let t0 = Instant::now();
    let mut p = bucket(2.0, 3, t0);
    push(&mut p, "x", (0..6).map(|n| to("x", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 3);
    assert_eq!(p.next_ready(t0), Some(t0 + Duration::from_secs(2)));
    assert!(p.pop(t0 + Duration::from_millis(1999)).is_none());
    assert_eq!(p.pop(t0 + Duration::from_secs(2)), Some(to("x", 3)));
    assert_eq!(p.pop(t0 + Duration::from_secs(4)), Some(to("x", 4)));
    assert_eq!(p.len(), 1);
    assert_eq!(p.delay(t0 + Duration::from_secs(4)), Duration::from_secs(2));
}

#[test]
fn zero_interval_override_is_no_overall_limit() {
    let t0 = Instant::now();
    let mut p = unpaced(t0);
    // Not even the per-target limit of a server that drops per target: 12 lines to one
    // target go at once (the window, 15 lines on solanum, still applies).
    p.set_server(Profile::of(Family::Solanum), t0);
    push(&mut p, "x", (0..12).map(|n| to("x", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 12);
    // Without the override the same server gets 8 at once.
    let mut q = Pacer::new(Overrides::default(), t0);
    q.set_server(Profile::of(Family::Solanum), t0);
    push(&mut q, "x", (0..12).map(|n| to("x", n)));
    assert_eq!(pop_lines(&mut q, t0).len(), 8);
}

#[test]
fn bounded_all_or_nothing_over_all_lanes() {
    let t0 = Instant::now();
    let mut p = open(t0);
    push(
        &mut p,
        "a",
        (0..MAX_QUEUED_LINES as u32 - 1).map(|n| to("a", n)),
    );
    let two = vec![to("b", 1), to("b", 2)];
    assert_eq!(
        p.push(Lane::Of("b".into()), Class::Normal, two),
        Err(QueueFull)
    );
    assert_eq!(p.len(), MAX_QUEUED_LINES - 1);
    push(&mut p, "b", [to("b", 3)]);
    let one = vec![to("c", 4)];
    assert_eq!(
        p.push(Lane::Of("c".into()), Class::Bulk, one),
        Err(QueueFull)
    );
    assert_eq!(p.len(), MAX_QUEUED_LINES);
}

#[test]
fn round_robin_one_line_per_turn() {
    let t0 = Instant::now();
    let mut p = open(t0);
    push(&mut p, "a", (0..3).map(|n| to("a", n)));
    push(&mut p, "b", (0..2).map(|n| to("b", n)));
    push(&mut p, "c", [to("c", 0)]);
    let want = [
        to("a", 0),
        to("b", 0),
        to("c", 0),
        to("a", 1),
        to("b", 1),
        to("a", 2),
    ];
    assert_eq!(pop_lines(&mut p, t0), want);
    assert!(p.is_empty());
}

#[test]
fn a_line_behind_a_handshake_goes_next() {
    let t0 = Instant::now();
    let mut p = bucket(2.0, 4, t0);
    push(&mut p, "bob", (0..41).map(|n| to("bob", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 4);
    assert_eq!(p.pop(t0 + Duration::from_secs(2)), Some(to("bob", 4)));
    push(&mut p, "#chan", [to("#chan", 0)]);
    assert_eq!(p.pop(t0 + Duration::from_secs(4)), Some(to("#chan", 0)));
    assert_eq!(p.pop(t0 + Duration::from_secs(6)), Some(to("bob", 5)));
}

#[test]
fn a_lane_that_emptied_is_fresh_again() {
    let t0 = Instant::now();
    let mut p = open(t0);
    push(&mut p, "a", (0..3).map(|n| to("a", n)));
    push(&mut p, "b", [to("b", 0)]);
    assert_eq!(p.pop(t0), Some(to("a", 0)));
    assert_eq!(p.pop(t0), Some(to("b", 0)));
    push(&mut p, "b", [to("b", 1)]);
    assert_eq!(p.pop(t0), Some(to("b", 1)));
    assert_eq!(p.pop(t0), Some(to("a", 1)));
}

#[test]
fn clear_and_drain_cover_every_lane() {
    let t0 = Instant::now();
    let mut p = bucket(2.0, 1, t0);
    push(&mut p, "a", (0..2).map(|n| to("a", n)));
    push(&mut p, "b", [to("b", 0)]);
    assert_eq!(p.drain_all(), vec![to("a", 0), to("b", 0), to("a", 1)]);
    assert!(p.is_empty());
    push(&mut p, "a", [to("a", 9)]);
    push(&mut p, "c", [to("c", 9)]);
    assert_eq!(p.clear(), 2);
    assert_eq!(p.next_ready(t0), None);
    assert_eq!(p.pop(t0 + Duration::from_secs(10)), None);
}

#[test]
fn lanes_by_folded_target() {
    let fold = |s: &str| s.to_ascii_lowercase();
    let of = |s: &str| Lane::Of(s.to_string());
    assert_eq!(lane_of(b"PRIVMSG Bob :hi\r\n", fold), of("bob"));
    assert_eq!(lane_of(b"@t=1 :me NOTICE #Chan :hi\r\n", fold), of("#chan"));
    assert_eq!(lane_of(b"PART #Chan\r\n", fold), of("#chan"));
    assert_eq!(lane_of(b"MODE #Chan +o bob\r\n", fold), of("#chan"));
    assert_eq!(lane_of(b"WHOIS bob\r\n", fold), of(COMMANDS_LANE));
    assert_eq!(lane_of(b"PRIVMSG\r\n", fold), of(COMMANDS_LANE));
    assert_eq!(lane_of(b"NICK x\r\n", fold), Lane::Barrier);
    assert_eq!(lane_of(b"MODE alice +x\r\n", fold), Lane::Barrier);
}

#[test]
fn a_barrier_keeps_the_order_across_lanes() {
    let t0 = Instant::now();
    let mut p = open(t0);
    push(&mut p, "bob", (0..3).map(|n| to("bob", n)));
    push(&mut p, "#c", [to("#c", 0)]);
    let nick = Bytes::from_static(b"NICK alice_away\r\n");
    p.push(Lane::Barrier, Class::Normal, vec![nick.clone()])
        .unwrap();
    push(&mut p, "#d", [to("#d", 0)]);
    push(&mut p, "bob", [to("bob", 3)]);
    assert_eq!(p.len(), 7);
    let want = [
        to("bob", 0),
        to("#c", 0),
        to("bob", 1),
        to("bob", 2),
        nick,
        to("#d", 0),
        to("bob", 3),
    ];
    assert_eq!(pop_lines(&mut p, t0), want);
}

#[test]
fn a_barrier_waits_for_a_resting_lane() {
    let t0 = Instant::now();
    let mut p = pacer((100, 100_000), Some(PER_TARGET), None, t0);
    push(&mut p, "bob", (0..9).map(|n| to("bob", n)));
    let nick = Bytes::from_static(b"NICK a\r\n");
    p.push(Lane::Barrier, Class::Normal, vec![nick.clone()])
        .unwrap();
    assert_eq!(pop_lines(&mut p, t0).len(), 8);
    // bob's ninth line waits for its target; the NICK waits for it.
    assert_eq!(pop_lines(&mut p, t0), Vec::<Bytes>::new());
    let t1 = t0 + Duration::from_secs(1);
    assert_eq!(pop_lines(&mut p, t1), vec![to("bob", 8), nick]);
}

// ---- bulk ----

#[test]
fn normal_lines_go_before_bulk_lines_of_the_same_target() {
    let t0 = Instant::now();
    let mut p = bucket(1.0, 2, t0);
    let bulk: Vec<Bytes> = (0..4).map(|n| otr("bob", 100 + n)).collect();
    p.push(Lane::Of("bob".into()), Class::Bulk, bulk).unwrap();
    push(&mut p, "bob", [otr("bob", 0)]);
    // The normal line first, then the bulk group in order.
    assert_eq!(pop_lines(&mut p, t0), vec![otr("bob", 0), otr("bob", 100)]);
    // A normal line queued while the bulk group is under way overtakes its rest.
    push(&mut p, "bob", [otr("bob", 1), otr("bob", 2)]);
    let mut got = Vec::new();
    for s in 1..=9 {
        got.extend(pop_lines(&mut p, t0 + Duration::from_secs(s)));
    }
    let want = [
        otr("bob", 1),
        otr("bob", 2),
        otr("bob", 101),
        otr("bob", 102),
        otr("bob", 103),
    ];
    assert_eq!(got, want);
}

#[test]
fn bulk_lines_go_one_per_bulk_interval_and_typed_lines_do_not_wait_for_them() {
    let t0 = Instant::now();
    let mut p = open(t0);
    let bulk: Vec<Bytes> = (0..3).map(|n| otr("bob", 100 + n)).collect();
    p.push(Lane::Of("bob".into()), Class::Bulk, bulk).unwrap();
    assert_eq!(pop_lines(&mut p, t0), vec![otr("bob", 100)]);
    // Nothing more bulk before the interval is over; a typed line goes at once.
    push(&mut p, "bob", [otr("bob", 0)]);
    let half = t0 + BULK_INTERVAL / 2;
    assert_eq!(pop_lines(&mut p, half), vec![otr("bob", 0)]);
    assert_eq!(p.next_ready(half), Some(t0 + BULK_INTERVAL));
    assert_eq!(pop_lines(&mut p, t0 + BULK_INTERVAL), vec![otr("bob", 101)]);
    assert_eq!(
        pop_lines(&mut p, t0 + BULK_INTERVAL * 2),
        vec![otr("bob", 102)]
    );
}

#[test]
fn bulk_lines_leave_half_the_per_target_burst_for_typed_lines() {
    let t0 = Instant::now();
    // A target slower than the bulk pace: bulk lines alone would drain it.
    let rate = TargetRate {
        burst: 8,
        interval: Duration::from_secs(4),
    };
    let mut p = pacer((100_000, 100_000_000), Some(rate), None, t0);
    let bulk: Vec<Bytes> = (0..40).map(|n| otr("bob", 100 + n)).collect();
    p.push(Lane::Of("bob".into()), Class::Bulk, bulk).unwrap();
    let mut sent = 0;
    for ms in (0..60_000).step_by(250) {
        sent += pop_lines(&mut p, t0 + Duration::from_millis(ms)).len();
    }
    assert!((10..=20).contains(&sent), "bulk lines still flow: {sent}");
    // Typed lines find the reserve: 4 go at once (the target keeps more than 4 tokens for
    // them), the 6th waits for the target.
    let now = t0 + Duration::from_secs(60);
    let typed: Vec<Bytes> = (0..6).map(|n| otr("bob", n)).collect();
    push(&mut p, "bob", typed.clone());
    let got = pop_lines(&mut p, now);
    assert!((4..=5).contains(&got.len()), "{got:?}");
    assert_eq!(got, typed[..got.len()].to_vec());
}

#[test]
fn bulk_does_not_change_the_turns_between_lanes() {
    let t0 = Instant::now();
    let mut p = open(t0);
    p.push(
        Lane::Of("bob".into()),
        Class::Bulk,
        vec![to("bob", 0), to("bob", 1)],
    )
    .unwrap();
    push(&mut p, "carol", [to("carol", 0)]);
    assert_eq!(pop_lines(&mut p, t0), vec![to("bob", 0), to("carol", 0)]);
    assert_eq!(pop_lines(&mut p, t0 + BULK_INTERVAL), vec![to("bob", 1)]);
}

#[test]
fn an_ended_sessions_bulk_lines_are_dropped_and_nothing_else() {
    let t0 = Instant::now();
    let mut p = open(t0);
    let bulk: Vec<Bytes> = (0..4).map(|n| otr("bob", 100 + n)).collect();
    p.push(Lane::Of("bob".into()), Class::Bulk, bulk).unwrap();
    p.push(
        Lane::Of("carol".into()),
        Class::Bulk,
        vec![otr("carol", 100)],
    )
    .unwrap();
    // One bulk line to bob is out already (carol's waits for the bulk pace); then a typed
    // line to bob and a barrier with a bulk group to bob behind it.
    assert_eq!(pop_lines(&mut p, t0), vec![otr("bob", 100)]);
    push(&mut p, "bob", [otr("bob", 0)]);
    p.push(
        Lane::Barrier,
        Class::Normal,
        vec![Bytes::from_static(b"NICK x\r\n")],
    )
    .unwrap();
    p.push(Lane::Of("bob".into()), Class::Bulk, vec![otr("bob", 200)])
        .unwrap();
    p.push(Lane::Of("bob".into()), Class::Normal, vec![otr("bob", 1)])
        .unwrap();
    assert_eq!(p.len(), 8);
    assert_eq!(p.drop_bulk("bob"), 4);
    assert_eq!(p.len(), 4);
    assert_eq!(p.drop_bulk("bob"), 0);
    let mut got = Vec::new();
    for s in 0..10 {
        got.extend(pop_lines(&mut p, t0 + Duration::from_secs(s)));
    }
    assert_eq!(
        got,
        vec![
            otr("bob", 0),
            otr("carol", 100),
            Bytes::from_static(b"NICK x\r\n"),
            otr("bob", 1)
        ]
    );
    assert!(p.is_empty());
}

/// An open pacer (no window, bucket or per-target limit to speak of) whose server parses
/// `burst` lines at once, then one per second; set up a minute before `t0`, so that the
/// model's budget is full at `t0`.
fn parsing(burst: u32, t0: Instant) -> Pacer {
    let start = t0 - Duration::from_secs(60);
    // A small byte window: a batch's PING goes once it has no room for a full line.
    let mut p = pacer((100_000, 600), None, None, start);
    let mut profile = *p.profile();
    profile.parse = Some((Duration::from_secs(1), burst));
    p.set_server(profile, start);
    p
}

#[test]
fn bulk_lines_wait_until_the_server_has_parsed_what_was_typed() {
    let t0 = Instant::now() + Duration::from_secs(60);
    let mut p = parsing(6, t0);
    // Six typed lines spend the server's burst; they go at once all the same.
    push(&mut p, "bob", (0..6).map(|n| otr("bob", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 6);
    p.push(
        Lane::Of("bob".into()),
        Class::Bulk,
        (0..3).map(|n| otr("bob", 100 + n)).collect(),
    )
    .unwrap();
    // The bulk line waits until the model holds half the burst again and one for itself:
    // 4 tokens, 4 s (the batch's PING waits for the same).
    let got: Vec<Bytes> = (1..4)
        .flat_map(|s| pop_lines(&mut p, t0 + Duration::from_millis(s * 1000 - 10)))
        .collect();
    assert!(got.is_empty(), "{got:?}");
    let at4 = pop_all(&mut p, t0 + Duration::from_secs(4));
    assert!(at4.iter().any(|l| l == &otr("bob", 100)), "{at4:?}");
    // A line typed now still finds the server's budget: it goes at once.
    push(&mut p, "bob", [otr("bob", 6)]);
    assert_eq!(
        pop_lines(&mut p, t0 + Duration::from_secs(4)),
        vec![otr("bob", 6)]
    );
}

#[test]
fn a_batchs_ping_waits_for_the_servers_parsing_and_a_typed_line_goes_first() {
    let t0 = Instant::now() + Duration::from_secs(60);
    let mut p = parsing(4, t0);
    push(&mut p, "bob", (0..4).map(|n| otr("bob", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 4);
    // The budget is spent: no PING after the idle pause; it is due once 3 tokens are back.
    assert!(pop_all(&mut p, t0 + IDLE_PING).is_empty());
    let due = p.next_ready(t0 + IDLE_PING).unwrap();
    let three = t0 + Duration::from_secs(3);
    assert!(
        due > three - Duration::from_millis(10) && due < three + Duration::from_millis(10),
        "{:?}",
        due - t0
    );
    push(&mut p, "bob", [otr("bob", 4)]);
    assert_eq!(
        pop_all(&mut p, t0 + Duration::from_secs(1)),
        vec![otr("bob", 4)]
    );
    let later = pop_all(&mut p, t0 + Duration::from_secs(5));
    assert!(later.len() == 1 && is_ping(&later[0]), "{later:?}");
}

#[test]
fn the_parse_model_is_off_when_unpaced_and_for_servers_without_one() {
    let t0 = Instant::now();
    let mut p = unpaced(t0);
    p.set_server(Profile::of(Family::Hybrid), t0);
    let bulk: Vec<Bytes> = (0..2).map(|n| otr("bob", 100 + n)).collect();
    push(&mut p, "bob", (0..2).map(|n| otr("bob", n)));
    p.push(Lane::Of("bob".into()), Class::Bulk, bulk).unwrap();
    let got = pop_lines(&mut p, t0);
    assert!(got.contains(&otr("bob", 100)), "{got:?}");
    assert!(Profile::of(Family::Ngircd).parse.is_none());
    assert!(Profile::of(Family::Hybrid).parse.is_some());
}

// ---- the window ----

/// A server that parses in order: answers each PING when "parsed". Checks that the lines
/// and bytes in flight never exceed the window, over random pushes.
#[test]
fn in_flight_lines_and_bytes_stay_within_the_window() {
    let t0 = Instant::now();
    for (lines, bytes) in [(4, 4_000), (10, 2_000), (15, 8_000), (3, 900)] {
        let mut p = pacer((lines, bytes), None, None, t0);
        let mut in_flight: std::collections::VecDeque<Bytes> = Default::default();
        let mut sent = 0;
        for round in 0..200u32 {
            let n = rand::random_range(0..6);
            let lane = ["a", "b", "c"][rand::random_range(0..3usize)];
            let lines_in: Vec<Bytes> = (0..n)
                .map(|i| {
                    let pad = "x".repeat(rand::random_range(10..430));
                    Bytes::from(format!("PRIVMSG {lane} :{round}-{i} {pad}\r\n"))
                })
                .collect();
            let _ = p.push(Lane::Of(lane.into()), Class::Normal, lines_in);
            while let Some(l) = p.pop(t0) {
                in_flight.push_back(l);
                let (nl, nb) = (
                    in_flight.len(),
                    in_flight.iter().map(Bytes::len).sum::<usize>(),
                );
                assert!(nl <= lines, "{nl} lines in flight, window {lines}");
                assert!(nb <= bytes, "{nb} bytes in flight, window {bytes}");
            }
            // The server parses a random number of lines, answering PINGs.
            for _ in 0..rand::random_range(0..8) {
                let Some(l) = in_flight.pop_front() else {
                    break;
                };
                if is_ping(&l) {
                    assert_eq!(p.on_pong(&token(&l)), Some(vec![]));
                } else {
                    sent += 1;
                }
            }
        }
        // Everything goes out in the end.
        loop {
            while let Some(l) = p.pop(t0) {
                in_flight.push_back(l);
            }
            let Some(l) = in_flight.pop_front() else {
                break;
            };
            if is_ping(&l) {
                p.on_pong(&token(&l));
            } else {
                sent += 1;
            }
        }
        assert!(p.is_empty() && sent > 0);
    }
}

#[test]
fn a_ping_after_half_the_window_and_at_the_end_of_a_batch() {
    let t0 = Instant::now();
    let mut p = pacer((6, 100_000), None, None, t0);
    push(&mut p, "bob", (0..10).map(|n| to("bob", n)));
    let got = pop_all(&mut p, t0);
    let shape: String = got
        .iter()
        .map(|l| if is_ping(l) { 'P' } else { 'L' })
        .collect();
    // Three lines, a PING; two more (the sixth slot is kept for their PING), a PING; full.
    assert_eq!(shape, "LLLPLP");
    assert_eq!(p.pop(t0), None);
    // The first PONG frees four slots.
    assert_eq!(p.on_pong(&token(&got[3])), Some(vec![]));
    let next = pop_all(&mut p, t0);
    assert!(!next.is_empty() && !is_ping(&next[0]), "{next:?}");
    // A lone line with nothing else queued gets no PING of its own.
    let mut q = pacer((6, 100_000), None, None, t0);
    push(&mut q, "bob", [to("bob", 0)]);
    assert_eq!(pop_all(&mut q, t0), vec![to("bob", 0)]);
    // Two lines do, once nothing more came for a while (a batch written in pieces is one);
    // while the window has room for another line, the while is long (a line that follows
    // soon takes the room instead of waiting behind the PING).
    push(&mut q, "bob", [to("bob", 1)]);
    assert_eq!(pop_all(&mut q, t0), vec![to("bob", 1)]);
    assert_eq!(q.next_ready(t0), Some(t0 + LAZY_PING));
    push(&mut q, "bob", [to("bob", 2)]);
    let t1 = t0 + LAZY_PING / 2;
    assert_eq!(pop_all(&mut q, t1), vec![to("bob", 2)]);
    assert_eq!(pop_all(&mut q, t1 + LAZY_PING / 2), Vec::<Bytes>::new());
    let ping = pop_all(&mut q, t1 + LAZY_PING);
    assert!(ping.len() == 1 && is_ping(&ping[0]), "{ping:?}");
    // A window without room for another full line: the PING goes after the short pause.
    let mut r = pacer((100, 1_200), None, None, t0);
    push(&mut r, "bob", (0..16).map(|n| otr("bob", n)));
    assert_eq!(pop_all(&mut r, t0).len(), 16);
    assert_eq!(r.next_ready(t0), Some(t0 + IDLE_PING));
}

#[test]
fn a_line_soon_after_a_short_batch_goes_before_its_ping() {
    // ngircd's window: two lines and their PING. A handshake message of two lines, then
    // the first private message a moment later: it goes at once, and the PING after it.
    let t0 = Instant::now();
    let mut p = pacer((4, 100_000), None, None, t0);
    push(&mut p, "bob", [otr("bob", 0), otr("bob", 1)]);
    assert_eq!(pop_all(&mut p, t0).len(), 2);
    let t1 = t0 + Duration::from_millis(200);
    assert!(pop_all(&mut p, t1).is_empty());
    push(&mut p, "bob", [otr("bob", 2)]);
    assert_eq!(pop_all(&mut p, t1), vec![otr("bob", 2)]);
    let ping = pop_all(&mut p, t1 + IDLE_PING);
    assert!(ping.len() == 1 && is_ping(&ping[0]), "{ping:?}");
}

#[test]
fn foreign_and_stale_pongs() {
    let t0 = Instant::now();
    let mut p = pacer((4, 100_000), None, None, t0);
    assert_eq!(p.on_pong("otrbnc-liveness"), None);
    assert_eq!(p.on_pong("irc.example"), None);
    // A token never sent is ours but acknowledges nothing.
    push(&mut p, "bob", (0..5).map(|n| to("bob", n)));
    let first = pop_all(&mut p, t0);
    assert_eq!(p.on_pong("otrbnc-999"), Some(vec![]));
    assert_eq!(p.pop(t0), None, "still blocked: {first:?}");
}

#[test]
fn an_unanswered_ping_counts_as_answered_after_the_timeout() {
    let t0 = Instant::now();
    let mut p = pacer((4, 100_000), None, None, t0);
    push(&mut p, "bob", (0..6).map(|n| to("bob", n)));
    let first = pop_lines(&mut p, t0);
    assert_eq!(first.len(), 2);
    assert_eq!(p.pop(t0), None);
    assert_eq!(p.next_ready(t0), Some(t0 + ACK_TIMEOUT));
    assert_eq!(p.on_timer(t0 + ACK_TIMEOUT), Vec::<Bytes>::new());
    assert_eq!(
        pop_lines(&mut p, t0 + ACK_TIMEOUT),
        vec![to("bob", 2), to("bob", 3)]
    );
}

// ---- the per-target limit ----

#[test]
fn eight_at_once_to_one_target_then_one_per_second() {
    let t0 = Instant::now();
    let mut p = pacer((100, 100_000), Some(PER_TARGET), None, t0);
    push(&mut p, "bob", (0..12).map(|n| to("bob", n)));
    assert_eq!(pop_lines(&mut p, t0).len(), 8);
    // Another target is not held back by bob's.
    push(&mut p, "carol", [to("carol", 0)]);
    assert_eq!(pop_lines(&mut p, t0), vec![to("carol", 0)]);
    assert_eq!(p.next_ready(t0), Some(t0 + Duration::from_secs(1)));
    assert_eq!(p.pop(t0 + Duration::from_millis(999)), None);
    assert_eq!(
        pop_lines(&mut p, t0 + Duration::from_secs(1)),
        vec![to("bob", 8)]
    );
    assert_eq!(
        pop_lines(&mut p, t0 + Duration::from_secs(3)),
        vec![to("bob", 9), to("bob", 10)]
    );
    // Commands are not a target.
    push(&mut p, COMMANDS_LANE, (0..20).map(|n| to("x", n)));
    assert_eq!(pop_lines(&mut p, t0 + Duration::from_secs(3)).len(), 20);
}

// ---- throttle detection and resend ----

fn notice(target: &str) -> Bytes {
    Bytes::from(format!(
        ":irc.test NOTICE alice :*** Message to {target} throttled due to flooding\r\n"
    ))
}

#[test]
fn a_dropped_otr_line_is_sent_again_first_and_its_notice_hidden() {
    let t0 = Instant::now();
    let mut p = pacer((10, 100_000), Some(PER_TARGET), None, t0);
    push(&mut p, "bob", (0..4).map(|n| otr_whole("bob", n)));
    push(&mut p, "#c", [to("#c", 0)]);
    let out = pop_batch(&mut p, t0);
    let ping = out.iter().find(|l| is_ping(l)).cloned().unwrap();
    // The server dropped the last line to bob and said so before the PONG.
    assert_eq!(p.on_dropped("bob", THROTTLE_REST, notice("bob"), t0), None);
    assert_eq!(p.on_pong(&token(&ping)), Some(vec![]));
    push(&mut p, "bob", [otr_whole("bob", 9)]);
    // bob rests; then the dropped line goes first.
    assert_eq!(
        pop_lines(&mut p, t0 + Duration::from_secs(9)),
        Vec::<Bytes>::new()
    );
    let t1 = t0 + THROTTLE_REST;
    assert_eq!(p.pop(t1), Some(otr_whole("bob", 3)));
    // Half the pace after the rest: no burst, one line per 2 s.
    assert_eq!(p.pop(t1), None);
    assert_eq!(
        pop_lines(&mut p, t1 + Duration::from_secs(2)),
        vec![otr_whole("bob", 9)]
    );
}

#[test]
fn a_plaintext_line_is_sent_again_only_when_certainly_dropped() {
    let t0 = Instant::now();
    // One notice for three plaintext lines: which one is not certain; nothing is resent and
    // the notice reaches the clients.
    let mut p = pacer((10, 100_000), None, None, t0);
    push(&mut p, "bob", (0..3).map(|n| to("bob", n)));
    let ping = pop_batch(&mut p, t0).pop().unwrap();
    assert!(is_ping(&ping));
    assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    assert_eq!(p.on_pong(&token(&ping)), Some(vec![notice("bob")]));
    assert!(p.is_empty());
    // Three notices for three lines: all dropped, all resent in order, notices hidden.
    push(&mut p, "bob", (3..6).map(|n| to("bob", n)));
    let ping = pop_batch(&mut p, t0).pop().unwrap();
    for _ in 0..3 {
        assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    }
    assert_eq!(p.on_pong(&token(&ping)), Some(vec![]));
    assert_eq!(
        pop_lines(&mut p, t0),
        vec![to("bob", 3), to("bob", 4), to("bob", 5)]
    );
}

#[test]
fn a_notice_about_nothing_in_flight_passes_at_once() {
    let t0 = Instant::now();
    let mut p = pacer((10, 100_000), None, None, t0);
    assert_eq!(
        p.on_dropped("bob", Duration::ZERO, notice("bob"), t0),
        Some(notice("bob"))
    );
    // In flight, but to someone else.
    push(&mut p, "carol", (0..2).map(|n| to("carol", n)));
    pop_all(&mut p, t0);
    assert_eq!(
        p.on_dropped("bob", Duration::ZERO, notice("bob"), t0),
        Some(notice("bob"))
    );
}

#[test]
fn a_notice_about_a_line_without_ping_brings_one_at_once() {
    let t0 = Instant::now();
    let mut p = pacer((10, 100_000), None, None, t0);
    push(&mut p, "bob", [otr("bob", 0)]);
    assert_eq!(pop_all(&mut p, t0), vec![otr("bob", 0)]);
    assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    let ping = p.pop(t0).unwrap();
    assert!(is_ping(&ping));
    assert_eq!(p.on_pong(&token(&ping)), Some(vec![]));
    assert_eq!(p.pop(t0), Some(otr("bob", 0)));
}

#[test]
fn drops_over_two_segments_are_resent_in_order() {
    let t0 = Instant::now();
    let mut p = pacer((6, 100_000), None, None, t0);
    push(&mut p, "bob", (0..5).map(|n| otr_whole("bob", n)));
    let out = pop_all(&mut p, t0); // L L L P L P
    let pings: Vec<&Bytes> = out.iter().filter(|l| is_ping(l)).collect();
    assert_eq!(pings.len(), 2);
    // Lines 2 and 3 dropped: one notice in each segment ({0, 1, 2} and {3}); 4 still queued.
    assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    assert_eq!(p.on_pong(&token(pings[0])), Some(vec![]));
    assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    assert_eq!(p.on_pong(&token(pings[1])), Some(vec![]));
    assert_eq!(
        pop_lines(&mut p, t0),
        vec![
            otr_whole("bob", 2),
            otr_whole("bob", 3),
            otr_whole("bob", 4)
        ]
    );
}

#[test]
fn every_otrv4_fragment_of_the_segment_is_sent_again() {
    // Which fragment the server dropped is not known when it does not latch; the peer
    // reassembles OTRv4 fragments in any order and discards duplicates, so all go again.
    let t0 = Instant::now();
    let mut p = pacer((10, 100_000), None, None, t0);
    push(&mut p, "bob", (0..3).map(|n| otr("bob", n)));
    push(&mut p, "bob", [to("bob", 7)]);
    let ping = pop_batch(&mut p, t0).pop().unwrap();
    assert!(is_ping(&ping));
    assert_eq!(p.on_dropped("bob", Duration::ZERO, notice("bob"), t0), None);
    // The last line is plaintext and may have arrived: the notice is shown, the plaintext
    // is not sent twice, the fragments are.
    assert_eq!(p.on_pong(&token(&ping)), Some(vec![notice("bob")]));
    assert_eq!(
        pop_lines(&mut p, t0),
        vec![otr("bob", 0), otr("bob", 1), otr("bob", 2)]
    );
}
