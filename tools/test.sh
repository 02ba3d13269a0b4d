#!/usr/bin/env bash
# The test command of the README: installs what is missing, builds and runs
# every test (unit tests and, as root, the end-to-end tests on real OVS and
# containerd), then prints "N passed, N failed" counted per test case.
#
# usage: tools/test.sh [bazel test args...]   e.g. --test_tag_filters=-e2e
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash tools/install-deps.sh

args=("$@")
if [[ $(id -u) -ne 0 ]]; then
  echo "tools/test.sh: not root: skipping the e2e tests (tag e2e)" >&2
  args+=(--test_tag_filters=-e2e)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# count LOG TESTLOGS: "P F", test cases from the JUnit files of the targets
# that ran, plus one failure per target that did not build or gave no result.
count() {
  python3 - "$1" "$2" <<'PY'
import os, re, sys
import xml.etree.ElementTree as ET
log, testlogs = sys.argv[1], sys.argv[2]
text = open(log, errors="replace").read()
targets = re.findall(r"^(//\S+)\s+(?:\(cached\) )?(PASSED|FAILED|FAILED TO BUILD|NO STATUS|TIMEOUT|FLAKY)",
                     text, re.M)
passed = failed = 0
for target, status in targets:
    path = os.path.join(testlogs, target[2:].replace(":", "/"), "test.xml")
    cases = []
    if status in ("PASSED", "FAILED", "FLAKY") and os.path.exists(path):
        try:
            cases = list(ET.parse(path).getroot().iter("testcase"))
        except ET.ParseError:
            cases = []
    if not cases:
        if status == "PASSED":
            passed += 1
        else:
            failed += 1
        continue
    for c in cases:
        if c.get("status") == "notrun":
            continue
        if c.find("failure") is not None or c.find("error") is not None:
            failed += 1
        else:
            passed += 1
    if status in ("FAILED", "TIMEOUT") and all(c.find("failure") is None for c in cases):
        failed += 1  # the target failed outside its test cases
if not targets and re.search(r"^(ERROR|FAILED):", text, re.M):
    failed += 1  # nothing ran: the build failed
print(passed, failed)
PY
}

# 1. Every test: unit tests and, as root, the end-to-end tests.
bazel test --config=ci //... "${args[@]}" 2>&1 | tee "$tmp/main.log"
rc=${PIPESTATUS[0]}
read -r P F < <(count "$tmp/main.log" "$(bazel info bazel-testlogs 2>/dev/null)")

# 2. The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
#    (own output dir), and 3. each libFuzzer target for 10 s on its corpus.
#    CLOONIX_TEST_QUICK=1 skips both.
if [[ "${CLOONIX_TEST_QUICK:-0}" != 1 ]]; then
  echo "== unit tests under ASan + UBSan (--config=asan)"
  bazel test --config=ci --config=asan --build_tests_only --test_tag_filters=-e2e \
    //... 2>&1 | tee "$tmp/asan.log"
  arc=${PIPESTATUS[0]}
  read -r ap af < <(count "$tmp/asan.log" "$(bazel info --config=asan bazel-testlogs 2>/dev/null)")
  echo "asan: $ap passed, $af failed"
  P=$((P + ap)); F=$((F + af))
  ((arc == 0)) || rc=$arc
  echo "== libFuzzer targets, 10 s each (tools/fuzz/run.sh)"
  bash tools/fuzz/run.sh --seconds 10 2>&1 | tee "$tmp/fuzz.log"
  frc=${PIPESTATUS[0]}
  if read -r fp ff < <(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$tmp/fuzz.log" | tail -1); then
    P=$((P + fp)); F=$((F + ff))
  else
    F=$((F + 1))
  fi
  ((frc == 0)) || rc=$frc
fi
echo "$P passed, $F failed"
bazel shutdown >/dev/null 2>&1 || true
exit "$rc"
