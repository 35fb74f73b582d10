#!/usr/bin/env python3
"""The test report of scripts/test.sh, read from the logs of its runners.

  report.py slowest NEXTEST_LOG [N]     the N slowest tests (default 10), slowest first
  report.py totals NEXTEST_LOG DOC_LOG  one line: "tests: N passed, N failed, N skipped"
  report.py benches < CARGO_JSON        the benchmark executables in cargo's JSON messages
                                        (`cargo test --benches --no-run --message-format=json`),
                                        one "package-dir<TAB>executable" line each

NEXTEST_LOG is what `cargo nextest run` printed (a line per finished test), DOC_LOG what
`cargo test --doc` printed ("test result:" lines).
"""

import json
import os
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# `        PASS [   1.234s] ( 12/250) otrbnc::e2e flood::garbage_flood_does_not_hurt`
# (older nextest prints no counter); the status is a word such as PASS, FAIL, TIMEOUT, SIGKILL.
FINISHED = re.compile(
    r"^\s*([A-Z][A-Z-]+(?: [A-Z-]+)?)\s+\[\s*([0-9.]+)s\]\s+(?:\([^)]*\)\s+)?(\S+)\s+(\S.*)$"
)
SUMMARY = re.compile(r"^\s*Summary \[\s*[0-9.]+s\]\s+(.*)$")
DOC_RESULT = re.compile(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")


def lines(path):
    """The lines of a log without colours; none when the runner never wrote it."""
    try:
        f = open(path, encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return
    with f:
        for line in f:
            yield ANSI.sub("", line.rstrip("\n"))


def finished(path):
    """Every finished test: (seconds, status, binary, name); the last result of a test wins."""
    seen = {}
    for line in lines(path):
        m = FINISHED.match(line)
        if m and m.group(1) not in ("SLOW", "START", "RETRY", "TRY"):
            status, secs, binary, name = m.group(1), float(m.group(2)), m.group(3), m.group(4)
            seen[(binary, name)] = (secs, status, binary, name)
    return list(seen.values())


def slowest(path, n):
    tests = sorted(finished(path), key=lambda t: t[0], reverse=True)[:n]
    if not tests:
        print("(no finished tests in the log)")
        return
    for secs, status, binary, name in tests:
        print(f"{secs:9.1f} s  {status:<5} {binary} {name}")


def count(text, word):
    m = re.search(r"(\d+) " + word, text)
    return int(m.group(1)) if m else 0


def totals(nextest_log, doc_log):
    passed = failed = skipped = 0
    summary = None
    for line in lines(nextest_log):
        m = SUMMARY.match(line)
        if m:
            summary = m.group(1)
    if summary is None:
        # nextest did not get to its summary (a build failure, say): count what finished.
        for _, status, _, _ in finished(nextest_log):
            if status == "PASS":
                passed += 1
            else:
                failed += 1
    else:
        passed += count(summary, "passed")
        failed += count(summary, "failed") + count(summary, "timed out")
        skipped += count(summary, "skipped")
    for line in lines(doc_log):
        m = DOC_RESULT.search(line)
        if m:
            passed += int(m.group(1))
            failed += int(m.group(2))
            skipped += int(m.group(3))
    print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")


def benches(stream):
    for line in stream:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        target = msg.get("target") or {}
        if msg.get("reason") == "compiler-artifact" and "bench" in target.get("kind", []):
            exe = msg.get("executable")
            if exe:
                print(f"{os.path.dirname(msg['manifest_path'])}\t{exe}")


def main(argv):
    if len(argv) >= 2 and argv[0] == "slowest":
        slowest(argv[1], int(argv[2]) if len(argv) > 2 else 10)
    elif len(argv) == 3 and argv[0] == "totals":
        totals(argv[1], argv[2])
    elif argv == ["benches"]:
        benches(sys.stdin)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
