#!/usr/bin/env bash
# The whole test suite: what CI runs and what a developer runs before pushing.
# Installs what the tests need, then runs formatting, lints, every test, the benchmarks' smoke
# runs and the fuzz smoke, and ends with a table of its phases, the ten slowest tests and a
# time budget. docs/TESTING.md explains the layout.
#
# Environment:
#   OTRBNC_TEST_BUDGET_MIN   fail when the whole run takes longer (default 40 minutes)
#   OTRBNC_SKIP_TOR=1, OTRBNC_SKIP_I2P=1, OTRBNC_SKIP_DOCKER=1   leave a test network out
#   OTRBNC_SKIP_FUZZ=1       leave the fuzz smoke out (a local shortcut; CI never sets it)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/phases.sh
source scripts/lib/phases.sh

BUDGET_MIN=${OTRBNC_TEST_BUDGET_MIN:-40}
case "$BUDGET_MIN" in '' | *[!0-9]*) echo "OTRBNC_TEST_BUDGET_MIN must be whole minutes" >&2; exit 2 ;; esac
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-test-logs.XXXXXX")
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}
# Debian's packages of ngircd, tor and i2pd start a system daemon (on otrbnc's own port 6667,
# or joining the real Tor or I2P network): stop it and keep it from starting at boot. The tests
# start their own. No init system: fine.
stop_system_daemon() {
  sudo_if_needed service "$1" stop >/dev/null 2>&1 || true
  sudo_if_needed systemctl disable "$1" >/dev/null 2>&1 || true
  sudo_if_needed update-rc.d "$1" disable >/dev/null 2>&1 || true
}
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

want_tor=0 want_i2p=0 want_docker=0 want_fuzz=1 docker_skipped=""
[ "${OTRBNC_TOR_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_TOR:-0}" != "1" ] && want_tor=1
[ "${OTRBNC_I2P_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_I2P:-0}" != "1" ] && want_i2p=1
[ "${OTRBNC_SKIP_FUZZ:-0}" = "1" ] && want_fuzz=0
if [ "${OTRBNC_DOCKER_TESTNET:-}" = "" ] && [ "${OTRBNC_SKIP_DOCKER:-0}" != "1" ]; then
  if have docker && ! docker info >/dev/null 2>&1; then
    # An engine that is installed but not running: start it.
    sudo_if_needed service docker start >/dev/null 2>&1 || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do docker info >/dev/null 2>&1 && break; sleep 1; done
  fi
  if have docker && docker info >/dev/null 2>&1; then
    want_docker=1
  else
    docker_skipped="no Docker engine here (docker info failed)"
  fi
elif [ "${OTRBNC_SKIP_DOCKER:-0}" = "1" ]; then
  docker_skipped="OTRBNC_SKIP_DOCKER=1"
fi
if [ -n "$docker_skipped" ]; then
  echo "== Docker: SKIPPING the container tests (tests/e2e/docker.rs): $docker_skipped"
  if [ "${OTRBNC_REQUIRE_DOCKER:-0}" = "1" ]; then
    echo "OTRBNC_REQUIRE_DOCKER=1: the container tests must run" >&2
    exit 1
  fi
fi

# ---- Debian packages: everything missing, in one apt-get run --------------------------------
install_packages() {
  local pkgs=() daemons=()
  have cc || pkgs+=(build-essential)        # the C parts of the crypto crates (PQClean, aws-lc)
  have pkg-config || pkgs+=(pkg-config)
  have ngircd || { pkgs+=(ngircd); daemons+=(ngircd); }   # tests/e2e: one ngircd per test
  have inspircd || { pkgs+=(inspircd); daemons+=(inspircd); }   # tests/e2e/servers.rs: InspIRCd 3
  local want_hybrid=0
  if ! have ircd-hybrid; then
    # tests/e2e/servers.rs: Debian's ircd-hybrid `Conflicts:` with ngircd, so apt cannot install
    # both: its own .deb is unpacked below, and apt brings the libraries it links.
    want_hybrid=1
    pkgs+=(libltdl7 libgnutls30 libcrypt1)
  fi
  have irssi || pkgs+=(irssi)               # tests/e2e/irssi.rs: a real client under tmux
  have tmux || pkgs+=(tmux)
  compgen -G '/usr/lib/*/irssi/modules/libotr_core.so' >/dev/null \
    || [ -e /usr/lib/irssi/modules/libotr_core.so ] \
    || pkgs+=(irssi-plugin-otr)             # tests/e2e/irssi_otr.rs: irssi as an OTRv3 peer
  have weechat-headless || pkgs+=(weechat-headless)   # tests/e2e/offline_clients.rs: a second real client
  have znc || pkgs+=(znc)                   # tests/e2e/chain.rs: otrbnc in front of a real ZNC
  have python3 || pkgs+=(python3)           # the I2P network's SAM check, the slowest-tests report
  [ -e /usr/include/libotr/proto.h ] || pkgs+=(libotr5-dev)   # tests/libotr.rs, crates/otr-core/tests/libotr.rs: the libotr 4.1 peer (tests/libotr-peer)
  [ -e /usr/include/gcrypt.h ] || pkgs+=(libgcrypt20-dev)      # tests/libotr.rs: libotr's headers include gcrypt.h
  /usr/bin/python3 -c 'import potr' >/dev/null 2>&1 || pkgs+=(python3-potr)  # tests/e2e/potr.rs: an OTRv2-only peer
  if [ "$want_tor" = 1 ]; then have tor || { pkgs+=(tor); daemons+=(tor); }; fi
  if [ "$want_i2p" = 1 ]; then have i2pd || { pkgs+=(i2pd); daemons+=(i2pd); }; fi
  if [ "$want_docker" = 1 ]; then
    have debootstrap || pkgs+=(debootstrap) # base images without a registry
    have tcpdump || pkgs+=(tcpdump)         # the wire audit on the Docker bridge
  fi
  if [ "${#pkgs[@]}" -eq 0 ]; then
    echo "all present"
    return 0
  fi
  apt_install "${pkgs[@]}"
  local d
  for d in "${daemons[@]}"; do stop_system_daemon "$d"; done
  if [ "$want_hybrid" = 1 ]; then unpack_hybrid; fi
}
# ircd-hybrid's files where its package puts them (its module paths are compiled in), from
# Debian's own .deb; nothing else of the package (no init script, so no system daemon).
unpack_hybrid() {
  local tmp
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-ircd-hybrid.XXXXXX")
  # (As root apt warns that it downloads "unsandboxed": harmless.)
  (cd "$tmp" && apt-get download ircd-hybrid)
  dpkg-deb -x "$tmp"/ircd-hybrid_*.deb "$tmp/root"
  sudo_if_needed install -d /usr/lib/ircd-hybrid /usr/share/ircd-hybrid /etc/ircd-hybrid
  sudo_if_needed cp -a "$tmp/root/usr/sbin/ircd-hybrid" /usr/sbin/
  sudo_if_needed cp -a "$tmp/root/usr/lib/ircd-hybrid/." /usr/lib/ircd-hybrid/
  sudo_if_needed cp -a "$tmp/root/usr/share/ircd-hybrid/." /usr/share/ircd-hybrid/
  sudo_if_needed cp -a "$tmp/root/etc/ircd-hybrid/." /etc/ircd-hybrid/
  rm -rf "$tmp"
}
phase "Debian packages" install_packages

# ---- test networks, in the background: they form while the code builds ----------------------
if [ "$want_tor" = 1 ]; then
  # A private Tor network of Debian's tor daemons on loopback (tests/e2e/tor.rs).
  tor_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-tor-testnet.XXXXXX")
  export OTRBNC_TOR_TESTNET="$tor_dir"
  lane "Tor test network" "$tor_dir.log" phase "Tor test network: start" ./scripts/tor-testnet/start "$tor_dir"
  tor_pid=$LANE_PID
fi
if [ "$want_i2p" = 1 ]; then
  # Debian's i2pd on loopback, a server tunnel in front of the test's IRC server (tests/e2e/i2p.rs).
  i2p_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-i2p-testnet.XXXXXX")
  export OTRBNC_I2P_TESTNET="$i2p_dir"
  lane "I2P test network" "$i2p_dir.log" phase "I2P test network: start" ./scripts/i2p-testnet/start "$i2p_dir"
  i2p_pid=$LANE_PID
fi
if [ "$want_docker" = 1 ]; then
  # Base images made with debootstrap, no registry (tests/e2e/docker.rs).
  docker_dir=$(mktemp -d "${TMPDIR:-/tmp}/otrbnc-docker-test.XXXXXX")
  export OTRBNC_DOCKER_TESTNET="$docker_dir"
  lane "Docker base images" "$docker_dir.log" phase "Docker base images: prepare" sudo_if_needed ./scripts/docker-test/prepare "$docker_dir"
  docker_pid=$LANE_PID
fi

# ---- the fuzz smoke: its own workspace and target directory, so it builds beside the main
# build; niced, it takes the cores only when the foreground leaves them idle -----------------
fuzz_lane() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    # A debug build of the tool: it only drives cargo, and builds in half the time.
    phase "cargo-fuzz: install" nice -n 10 cargo install cargo-fuzz --locked --debug || return
  fi
  # (`|| return`: set -e does not reach into a lane, and the smoke must never run targets
  # left over from an earlier build.)
  phase "fuzz: build" nice -n 10 ./scripts/fuzz.sh build-smoke || return
  # Two targets at a time: the smoke's seconds are wall-clock, one core each.
  phase "fuzz: smoke (every target)" env FUZZ_JOBS=2 nice -n 10 ./scripts/fuzz.sh smoke-run
}
if [ "$want_fuzz" = 1 ]; then
  lane "fuzz smoke" "$LOGS/fuzz.log" fuzz_lane
  fuzz_pid=$LANE_PID
fi

# A lane's subshell and everything it started (cargo, rustc, fuzzers).
kill_tree() {
  local child
  for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
  kill "$1" >/dev/null 2>&1 || true
}
stop_test_networks() {
  local rc=$?
  trap - EXIT
  for p in ${tor_pid:-} ${i2p_pid:-} ${docker_pid:-} ${fuzz_pid:-} ${docs_pid:-}; do
    kill_tree "$p"
  done
  [ -z "${tor_dir:-}" ] || ./scripts/tor-testnet/stop "$tor_dir" --clean >/dev/null 2>&1 || true
  [ -z "${i2p_dir:-}" ] || ./scripts/i2p-testnet/stop "$i2p_dir" --clean >/dev/null 2>&1 || true
  if [ "$rc" -ne 0 ] && [ -z "${reported:-}" ]; then
    phase_table
    echo "!! the test suite FAILED (exit $rc) after $(elapsed) s; logs: $LOGS" >&2
  fi
  exit "$rc"
}
trap stop_test_networks EXIT

# ---- checks that need no build ----------------------------------------------------------------
phase "cargo fmt --check" cargo fmt --all -- --check

sans_io() {
  # The protocol core has no async runtime in its dependency tree.
  if cargo tree -p otr-core -e normal,build --prefix none | grep -Ei '^(tokio|mio|async-std|smol|async-io) '; then
    echo "otr-core must not depend on an IO runtime" >&2
    return 1
  fi
}
phase "otr-core is sans-IO" sans_io

# ---- one build for everything the tests run ---------------------------------------------------
if ! cargo nextest --version >/dev/null 2>&1; then
  phase "cargo-nextest: install" cargo install cargo-nextest --locked
fi
# Every target in the test profile: the test binaries, the otrbnc binary the end-to-end tests
# start, and the benchmarks. nextest, the doc tests and the benchmarks' smoke runs below only
# check that it is fresh.
#
# The same build is the lint pass. clippy-driver compiles like rustc and adds clippy's lints;
# set as the wrapper for the workspace's own crates (exactly what `cargo clippy` sets, through
# these two variables), it makes this build `cargo clippy --workspace --all-targets -- -D
# warnings` as well, without the second pass over the whole dependency tree that `cargo
# clippy` would make (12 minutes on CI's 2 cores). Every cargo run below inherits the two
# variables and so finds the build fresh; the lanes started above (the fuzz build) do not.
clippy_driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver || true)
if [ -z "$clippy_driver" ]; then
  echo "!! clippy-driver not found: rustup component add clippy" >&2
  exit 1
fi
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver"
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
phase "build and clippy: every target, test profile" cargo test --workspace --all-targets --no-run

# ---- the tests, with the doc tests and the benchmarks' smoke runs beside them -----------------
# The tests mostly wait on sockets and timers, so the rest runs meanwhile in a lane. One cargo
# at a time holds the target directory's lock: the lane starts once nextest has found its
# build fresh and started the tests; the doc tests go first, then the benchmarks run straight
# from their executables (no cargo).
docs_and_benches() {
  local rc=0
  phase "doc tests" run_logged "$LOGS/doc.log" cargo test --workspace --doc || rc=$?
  cargo test --workspace --benches --no-run --message-format=json 2>"$LOGS/benches.err" |
    python3 scripts/lib/report.py benches >"$LOGS/benches.list" || { cat "$LOGS/benches.err"; rc=1; }
  # Each benchmark in its test mode (no `--bench`): a tiny version of every figure.
  phase "benchmarks: smoke runs" run_benches "$LOGS/benches.list" || rc=$?
  return "$rc"
}
run_benches() {
  local dir exe rc=0
  [ -s "$1" ] || { echo "!! no benchmark executables found" >&2; return 1; }
  while IFS=$'\t' read -r dir exe; do
    echo "== $exe (in $dir)"
    (cd "$dir" && "$exe") || { echo "!! $exe failed" >&2; rc=1; }
  done <"$1"
  return "$rc"
}
run_logged() {
  local log="$1"
  shift
  "$@" 2>&1 | tee "$log"
  return "${PIPESTATUS[0]}"
}
run_tests() {
  : >"$LOGS/nextest.log"
  cargo nextest run --workspace --lib --bins --tests --no-tests=fail >"$LOGS/nextest.log" 2>&1 &
  local pid=$! rc=0
  tail -n +1 -f --pid="$pid" "$LOGS/nextest.log" &
  local tail_pid=$!
  until grep -q '^ *Starting ' "$LOGS/nextest.log" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do
    sleep 0.5
  done
  lane "doc tests and benchmarks" "$LOGS/docs-benches.log" docs_and_benches
  docs_pid=$LANE_PID
  wait "$pid" || rc=$?
  wait "$tail_pid" 2>/dev/null || true
  return "$rc"
}
tests_rc=0
phase "tests (cargo nextest)" run_tests || tests_rc=$?

lanes_rc=0
lane_wait "doc tests and benchmarks" "$docs_pid" "$LOGS/docs-benches.log" || lanes_rc=1
[ -z "${fuzz_pid:-}" ] || lane_wait "fuzz smoke" "$fuzz_pid" "$LOGS/fuzz.log" || lanes_rc=1
# The test networks' lanes ended long ago (the tests waited for them); their logs only on failure.
for n in tor i2p docker; do
  pid_var="${n}_pid" dir_var="${n}_dir"
  [ -n "${!pid_var:-}" ] || continue
  if ! wait "${!pid_var}" || [ "$tests_rc" -ne 0 ]; then
    echo "== $n test network log (${!dir_var}.log):"
    tail -n 40 "${!dir_var}.log" || true
  fi
done
tor_pid="" i2p_pid="" docker_pid="" fuzz_pid="" docs_pid=""

# ---- the report -------------------------------------------------------------------------------
phase_table
reported=1
echo
echo "== the ten slowest tests"
python3 scripts/lib/report.py slowest "$LOGS/nextest.log" 10 || true
if [ -n "$docker_skipped" ]; then
  echo "== Docker: the container tests were SKIPPED: $docker_skipped"
fi
total=$(elapsed)
rc=0
if [ "$tests_rc" -ne 0 ] || [ "$lanes_rc" -ne 0 ]; then
  echo "!! the test suite FAILED after $total s (tests: exit $tests_rc; see the lanes above); logs: $LOGS" >&2
  rc=1
elif [ "$total" -gt $((BUDGET_MIN * 60)) ]; then
  echo "!! the suite took $total s, over its budget of $BUDGET_MIN min (OTRBNC_TEST_BUDGET_MIN)." >&2
  echo "!! Every test passed, but the next test added would push CI past its limit: make the" >&2
  echo "!! slow phases above faster (docs/TESTING.md says how) before adding more." >&2
  rc=1
else
  echo "== the whole suite passed in $total s (budget $BUDGET_MIN min)"
fi
# The closing line: every test that ran (nextest's and the doc tests).
python3 scripts/lib/report.py totals "$LOGS/nextest.log" "$LOGS/doc.log" || true
exit "$rc"
