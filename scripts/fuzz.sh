#!/usr/bin/env bash
# Fuzzes otr-core's decoders and session state machine, and the bouncer's own parsers (IRC
# lines, framing, text for clients, login, *otr arguments, config), with cargo-fuzz (libFuzzer)
# on the STABLE toolchain. See fuzz/README.md.
#
#   scripts/fuzz.sh <target> [seconds]   fuzz one target (default 600 s)
#   scripts/fuzz.sh all [seconds]        every target in turn, one process at a time
#   scripts/fuzz.sh smoke [seconds]      CI smoke: every target briefly (10 s, parsers 5 s)
#   scripts/fuzz.sh build                build every target, release profile (what `all` and
#                                        one target's run start with)
#   scripts/fuzz.sh build-smoke          build every target, the cheaper dev profile (what
#                                        `smoke` starts with; scripts/test.sh)
#   scripts/fuzz.sh smoke-run [seconds]  the smoke on the targets as last built by build-smoke
#   scripts/fuzz.sh seeds                regenerate fuzz/seeds/ from otr_core::fuzzing::seeds()
#   scripts/fuzz.sh list                 list targets
#
# FUZZ_JOBS=N runs N targets at a time (default 1; each fuzzer is one process on one core).
#
# Stable works because we build with `--sanitizer none`: cargo-fuzz then passes only stable
# `-C` flags (SanitizerCoverage instrumentation + `--cfg fuzzing`), no `-Z` flags, and needs no
# RUSTC_BOOTSTRAP. `--debug-assertions` turns on overflow checks and debug_assert!s.
#
# Corpora grow in fuzz/corpus/<target>/ (git-ignored); the committed seeds in fuzz/seeds/ are
# read as a second corpus directory. Crashes land in fuzz/artifacts/<target>/, logs in
# fuzz/artifacts/logs/<target>.log. Exit status is non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(envelope query fragment_parse assembler irc_split tlv dake_messages data_message profile attestation smp_messages otr3_smp account interaction
  irc_line irc_shape irc_codec client_text login control_args config sam_reply irc_state otr3_keyfile
  otr3_message otr3_fragment otr3_tlv otr3_contact pacing)
BUILD_FLAGS=(--sanitizer none --debug-assertions)
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
# Where the binaries are: release (`build`) or debug (`build-smoke`, fuzz/Cargo.toml's dev
# profile: compiles in about half the time, runs slower, enough for a smoke run).
PROFILE_DIR=release

max_len() {
  case "$1" in
    envelope | assembler | irc_split) echo 131072 ;;  # up to the 87,400-byte encoded limit and past it
    account | interaction) echo 65536 ;;
    dake_messages | data_message) echo 32768 ;;       # Auth-R with a full profile is ~12.6 KB
    tlv | profile) echo 20000 ;;                      # 16 KiB plaintext limit; 1.8 KB profiles
    attestation) echo 8192 ;;                         # a 7,219-byte attestation and a little more
    smp_messages) echo 4096 ;;                        # SMP2, the largest, is 3,169 bytes
    otr3_smp) echo 4096 ;;                            # v3 SMP2 ~1.7 KB; SMP1Q adds up to 1 KB of question
    irc_codec | irc_state) echo 65536 ;;              # several lines past MAX_LINE (8704)
    irc_line | irc_shape | config) echo 16384 ;;      # a line up to MAX_LINE; config files
    otr3_keyfile) echo 16384 ;;                       # libotr key files are ~1 KB per account
    otr3_message) echo 65600 ;;                       # just past otr3's 64 KiB MAX_MESSAGE_BYTES
    otr3_fragment) echo 131072 ;;                     # lines past the 96 KiB MAX_REASSEMBLY_BYTES
    otr3_tlv) echo 20000 ;;                           # 16 KiB plaintext limit
    otr3_contact) echo 65536 ;;                       # a program of up to 64 relay operations
    *) echo 8192 ;;                                   # query, fragment_parse, client_text, login, control_args
  esac
}

# Seconds per target in `smoke` (unless given): the bouncer's parsers are small and fast, and
# the smoke run is part of CI's time budget.
smoke_secs() {
  case "$1" in
    irc_line | irc_shape | irc_codec | client_text | login | control_args | config | sam_reply | irc_state | pacing) echo 5 ;;
    *) echo 10 ;;
  esac
}

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked --debug
  fi
}

build() {
  # What is being built, for the logs: the commit, and whether the fuzzed code had local changes.
  BUILT_FROM="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  git diff --quiet HEAD -- crates/otr-core crates/otr3 src fuzz 2>/dev/null || BUILT_FROM+=" +local changes"
  echo "== cargo fuzz build ${BUILD_FLAGS[*]} $* (at $BUILT_FROM)"
  cargo fuzz build "${BUILD_FLAGS[@]}" "$@"
}

# run_target <target> <seconds>: runs the binary built by `build` (so a long `all` run fuzzes one
# snapshot of the code even if the sources change meanwhile); appends a row to $SUMMARY;
# returns non-zero on a crash.
run_target() {
  local t="$1" secs="$2"
  # cargo fuzz builds into $CARGO_TARGET_DIR when that is set, else fuzz/target.
  local bin="${CARGO_TARGET_DIR:-fuzz/target}/$TRIPLE/$PROFILE_DIR/$t"
  local corpus="fuzz/corpus/$t" seeds="fuzz/seeds/$t" log="fuzz/artifacts/logs/$t.log"
  mkdir -p "$corpus" "fuzz/artifacts/$t" "fuzz/artifacts/logs"
  local dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  echo "== fuzz $t for ${secs}s (max_len $(max_len "$t")), log: $log"
  local start rc=0
  start=$(date +%s)
  {
    echo "# $(date -u +%FT%TZ) fuzzing $t as built at $BUILT_FROM"
    "$bin" -artifact_prefix="fuzz/artifacts/$t/" -max_total_time="$secs" \
      -max_len="$(max_len "$t")" -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 "${dirs[@]}"
  } >"$log" 2>&1 || rc=$?
  local elapsed=$(($(date +%s) - start))
  local execs rate status cov ft corp
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  status=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$status")
  local result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc)"
    echo "!! $t failed; from its log:"
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written|out-of-memory|timeout' "$log" | head -20 || true
    echo "   reproduce: $bin <artifact>; minimise: cargo fuzz tmin ${BUILD_FLAGS[*]} $t <artifact>"
  fi
  printf '%-15s %6s %10s %8s %6s %7s %6s  %s\n' "$t" "$elapsed" "${execs:-?}" "${rate:-?}" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" | tee -a "$SUMMARY"
  [ "$rc" -eq 0 ]
}

# run_many <seconds|smoke> <target>...: "smoke" takes each target's smoke_secs.
run_many() {
  local secs="$1"
  shift
  SUMMARY=$(mktemp)
  local failed=0 start jobs="${FUZZ_JOBS:-1}" running=0
  start=$(date +%s)
  for t in "$@"; do
    local s="$secs"
    [ "$s" = smoke ] && s=$(smoke_secs "$t")
    if [ "$jobs" -le 1 ]; then
      run_target "$t" "$s" || failed=1
      continue
    fi
    run_target "$t" "$s" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
      wait -n || failed=1
      running=$((running - 1))
    fi
  done
  while [ "$running" -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
  done
  echo
  echo "== summary"
  printf '%-15s %6s %10s %8s %6s %7s %6s  %s\n' target secs execs exec/s cov ft corpus result
  cat "$SUMMARY"
  echo "(fuzzing took $(($(date +%s) - start)) s)"
  rm -f "$SUMMARY"
  if [ "$failed" -ne 0 ]; then
    echo "!! at least one target failed; inputs are in fuzz/artifacts/<target>/" >&2
    return 1
  fi
}

[ $# -ge 1 ] || usage
cmd="$1"
case "$cmd" in
  -h | --help | help) usage ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  seeds)
    echo "== regenerating fuzz/seeds/"
    cargo run --release -p otr-core --features test-utils --example write_fuzz_seeds -- fuzz/seeds
    ;;
  smoke)
    ensure_cargo_fuzz
    PROFILE_DIR=debug
    build --dev
    run_many "${2:-smoke}" "${TARGETS[@]}"
    ;;
  build)
    ensure_cargo_fuzz
    build
    ;;
  build-smoke)
    ensure_cargo_fuzz
    build --dev
    ;;
  smoke-run)
    PROFILE_DIR=debug
    BUILT_FROM="as last built by \`scripts/fuzz.sh build-smoke\`"
    run_many "${2:-smoke}" "${TARGETS[@]}"
    ;;
  all)
    ensure_cargo_fuzz
    build
    run_many "${2:-600}" "${TARGETS[@]}"
    ;;
  *)
    found=0
    for t in "${TARGETS[@]}"; do [ "$t" = "$cmd" ] && found=1; done
    [ "$found" -eq 1 ] || { echo "unknown target '$cmd'; try: scripts/fuzz.sh list" >&2; exit 2; }
    ensure_cargo_fuzz
    build "$cmd"
    run_many "${2:-600}" "$cmd"
    ;;
esac
