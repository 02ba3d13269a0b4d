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

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
bazel test --config=ci //... "${args[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

# Count test cases from the JUnit files of the targets that ran, plus one
# failure per target that did not build or produced no result.
python3 - "$ROOT" "$log" <<'PY'
import glob, os, re, sys
import xml.etree.ElementTree as ET
root, log = sys.argv[1], sys.argv[2]
text = open(log, errors="replace").read()
targets = re.findall(r"^(//\S+)\s+(?:\(cached\) )?(PASSED|FAILED|FAILED TO BUILD|NO STATUS|TIMEOUT|FLAKY)",
                     text, re.M)
passed = failed = 0
testlogs = os.path.join(root, "bazel-testlogs")
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
print(f"{passed} passed, {failed} failed")
PY
bazel shutdown >/dev/null 2>&1 || true
exit "$rc"
