#!/usr/bin/env bash
# Runs every test suite and ends with one line:
#   tests: N passed, N failed, N skipped
# Unit tests (Catch2, ASan+UBSan) always run. Integration tests load the real
# BPF programs: they need root and BPF; without them they are skipped, and
# say why. In CI (CI=true) skipping them is a failure.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
passed=0 failed=0 skipped=0

echo "== unit tests (ASan+UBSan)"
unit_out=$(mktemp)
"$BUILD/unit_tests" --reporter compact 2>&1 | tee "$unit_out" | tail -n 30
unit_rc=${PIPESTATUS[0]}
# Catch2 v2 closes with "Passed all N test cases ..." or "Failed N test cases ...".
if line=$(grep -E '^(Passed|Failed)' "$unit_out" | tail -n 1); then :; fi
total=$("$BUILD/unit_tests" --list-test-names-only 2>/dev/null | grep -c .)
if [ "$unit_rc" -eq 0 ] && [ "$total" -gt 0 ]; then
  passed=$((passed + total))
else
  # A binary that is missing or dies before Catch2 reports lists no cases:
  # it still counts as (at least) one failure, never as nothing.
  nfail=$(echo "$line" | sed -nE 's/^Failed ([0-9]+) test case.*/\1/p')
  nfail=${nfail:-$total}
  [ "$nfail" -ge 1 ] || nfail=1
  [ "$nfail" -le "$total" ] || total=$nfail
  echo "unit tests FAILED (exit status $unit_rc)"
  failed=$((failed + nfail)); passed=$((passed + total - nfail))
fi
rm -f "$unit_out"

echo "== kernel-side unit tests (BPF_PROG_TEST_RUN)"
if [ "$(id -u)" -eq 0 ] && [ -r /sys/kernel/btf/vmlinux ]; then
  kout=$("$BUILD/kernel_tests" 2>&1); krc=$?; echo "$kout"
  kp=$(echo "$kout" | sed -nE 's/^kernel tests: ([0-9]+) passed, ([0-9]+) failed.*/\1/p')
  kf=$(echo "$kout" | sed -nE 's/^kernel tests: ([0-9]+) passed, ([0-9]+) failed.*/\2/p')
  kp=${kp:-0}; kf=${kf:-0}
  # A non-zero exit with no failure counted (a crash, a leak report after
  # the summary line) is one failure.
  if [ "$krc" -ne 0 ] && [ "$kf" -eq 0 ]; then
    echo "kernel tests FAILED (exit status $krc)"; kf=1
    [ "$kp" -eq 0 ] || kp=$((kp - 1))
  fi
  passed=$((passed + kp)); failed=$((failed + kf))
else
  echo "skipping kernel-side unit tests: not root or no BTF"; skipped=$((skipped + 1))
  if [ "${CI:-}" = "true" ]; then echo "CI must run the kernel tests"; failed=$((failed + 1)); fi
fi

echo "== fuzz: recording reader (libFuzzer, ${FUZZ_SECONDS:-10} s)"
# One test: `make fuzz` for a short run; any crash, sanitizer report, leak
# or timeout fails it (the input is left in $BUILD/fuzz/crash-*).
fuzz_log=$(mktemp)
if ! command -v "${FUZZ_CXX:-clang++}" >/dev/null 2>&1; then
  echo "skipping the fuzz test: no ${FUZZ_CXX:-clang++}"
  skipped=$((skipped + 1))
  if [ "${CI:-}" = "true" ]; then echo "CI must run the fuzz test"; failed=$((failed + 1)); fi
elif make -s -j"$(nproc)" fuzz BUILD="$BUILD" FUZZ_SECONDS="${FUZZ_SECONDS:-10}" >"$fuzz_log" 2>&1; then
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$fuzz_log"
  passed=$((passed + 1))
else
  tail -n 40 "$fuzz_log"
  echo "fuzz test FAILED"
  failed=$((failed + 1))
fi
rm -f "$fuzz_log"

echo "== integration tests"
why=""
if [ "$(id -u)" -ne 0 ]; then why="not root";
elif [ ! -r /sys/kernel/btf/vmlinux ]; then why="kernel has no BTF"; fi
if [ -n "$why" ]; then
  # Collected cases (parametrized ones each count); `def test_` lines if
  # pytest cannot collect here.
  n=$(/usr/bin/python3 -m pytest --collect-only -q -p no:cacheprovider tests/integration 2>/dev/null |
      sed -nE 's/^([0-9]+) tests? collected.*/\1/p')
  if [ -z "$n" ]; then
    n=0; for c in $(grep -hcE '^def test_' tests/integration/test_*.py); do n=$((n + c)); done
  fi
  echo "skipping $n integration tests: $why"
  skipped=$((skipped + n))
  if [ "${CI:-}" = "true" ]; then echo "CI must run integration tests"; failed=$((failed + 1)); fi
else
  junit=$(mktemp)
  IRQLAT_BUILD="$ROOT/$BUILD" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
    --junitxml="$junit" tests/integration ${PYTEST_ARGS:-}
  prc=$?
  read -r p f s < <(/usr/bin/python3 - "$junit" <<'PY' || echo "0 0 0"
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
suites = [r] if r.tag == "testsuite" else list(r)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
k = sum(int(s.get("skipped", 0)) for s in suites)
print(t - f - k, f, k)
PY
)
  p=${p:-0} f=${f:-0} s=${s:-0}
  # pytest exits 0 (all passed) or 1 (some failed); anything else (no tests
  # collected, an import or internal error, no report) is a failure even
  # when the report counts nothing.
  if { [ "$prc" -ne 0 ] && [ "$prc" -ne 1 ]; } || [ $((p + f + s)) -eq 0 ] ||
     { [ "$prc" -eq 1 ] && [ "$f" -eq 0 ]; }; then
    echo "integration tests FAILED (pytest exit status $prc)"; f=$((f + 1))
  fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "${CI:-}" = "true" ] && [ "$s" -gt 0 ]; then
    echo "CI must not skip integration tests ($s skipped)"; failed=$((failed + s)); skipped=$((skipped - s))
  fi
  rm -f "$junit"
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
