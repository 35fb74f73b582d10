# Phase timing for scripts/test.sh: every step is a named phase whose wall-clock time and exit
# status are recorded, in the foreground or in a background lane, and printed as one table at
# the end of the run (also when it fails). Sourced, not run.
#
#   phase NAME CMD...          run CMD, record it, return its status
#   lane NAME LOG CMD...       run CMD in the background with its output in LOG; phases inside
#                              it are recorded as that lane's; sets LANE_PID
#   lane_wait NAME PID LOG     wait for a lane, print its output, return its status
#   phase_table                print the table, phases in the order they started
#   elapsed                    whole seconds since the run started

PHASES_T0=$(date +%s.%N)
PHASES_FILE=$(mktemp "${TMPDIR:-/tmp}/otrbnc-phases.XXXXXX")
PHASE_WHERE=foreground

elapsed() { awk -v a="$PHASES_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }'; }

# _record NAME START END STATUS WHERE: one tab-separated row. Appending one short line is
# atomic, so lanes may record at the same time.
_record() {
  awk -v n="$1" -v s="$2" -v e="$3" -v rc="$4" -v w="$5" -v t0="$PHASES_T0" \
    'BEGIN { printf "%s\t%.0f\t%.0f\t%s\t%s\n", n, s - t0, e - s, rc, w }' >>"$PHASES_FILE"
}

phase() {
  local name="$1" start rc=0
  shift
  echo "== $name [$(elapsed) s]"
  start=$(date +%s.%N)
  "$@" || rc=$?
  _record "$name" "$start" "$(date +%s.%N)" "$rc" "$PHASE_WHERE"
  return "$rc"
}

lane() {
  local name="$1" log="$2"
  shift 2
  echo "== $name: started in the background [$(elapsed) s] (log: $log)"
  (
    PHASE_WHERE="lane: $name"
    rc=0
    "$@" >"$log" 2>&1 || rc=$?
    exit "$rc"
  ) &
  LANE_PID=$!
}

lane_wait() {
  local name="$1" pid="$2" log="$3" rc=0 start
  start=$(date +%s.%N)
  wait "$pid" || rc=$?
  _record "(waiting for $name)" "$start" "$(date +%s.%N)" "$rc" "$PHASE_WHERE"
  echo "== $name (ran in the background; its output follows) [$(elapsed) s]"
  cat "$log" || true
  [ "$rc" -eq 0 ] || echo "!! $name failed (exit $rc)" >&2
  return "$rc"
}

phase_table() {
  echo
  echo "== phases: wall-clock seconds from the start of the run; lanes overlap the foreground"
  printf '%-46s %6s %8s  %-22s %s\n' phase start seconds where result
  sort -t $'\t' -k2,2n -s "$PHASES_FILE" | while IFS=$'\t' read -r n s d rc w; do
    local result=ok
    [ "$rc" = 0 ] || result="FAILED ($rc)"
    printf '%-46s %6s %8s  %-22s %s\n' "$n" "$s" "$d" "$w" "$result"
  done
  printf '%-46s %6s %8s\n' "whole run" 0 "$(elapsed)"
}
