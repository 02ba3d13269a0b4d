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

# 2. The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer,
#    and 3. each libFuzzer target for 10 s on its corpus. They run beside 1.,
#    in a Bazel server of their own (own output base, no bazel-* links) at
#    the lowest CPU and I/O priority: they fill the time the e2e tests spend
#    waiting on guests and daemons, and give way to them otherwise.
#    CLOONIX_TEST_QUICK=1 skips both.
CHECKS=0
[[ "${CLOONIX_TEST_QUICK:-0}" == 1 ]] || CHECKS=1
if ((CHECKS)); then
  CHECKS_BASE="$(bazel info output_base 2>/dev/null)-checks"
  CHECKS_BAZEL=(bazel --output_base="$CHECKS_BASE")
  # Not //...: Bazel 4 walks into the workspace's bazel-* links when they
  # belong to another output base (and fails in bazel-<ws>/external). The
  # checks name the workspace's own top dirs that hold packages.
  CHECKS_PATTERNS=()
  for d in */; do
    d="${d%/}"
    [[ "$d" == bazel-* ]] && continue
    find "$d" \( -name BUILD.bazel -o -name BUILD \) -print -quit | grep -q . &&
      CHECKS_PATTERNS+=("//$d/...")
  done
  set -m  # the checks in a process group of their own: the EXIT trap stops it
  (
    renice -n 19 -p "$BASHPID" >/dev/null 2>&1
    ionice -c 3 -p "$BASHPID" >/dev/null 2>&1
    "${CHECKS_BAZEL[@]}" shutdown >/dev/null 2>&1  # a server started unniced
    # The server runs in a session of its own, so in an autogroup of its own
    # where its nice value does not count against other sessions (seen: the
    # niced compiler at 82 % of a core beside the main build's two at ~50 %):
    # the autogroup's nice does.
    spid="$("${CHECKS_BAZEL[@]}" info server_pid 2>/dev/null)"
    [[ -n "$spid" && -w "/proc/$spid/autogroup" ]] && echo 19 >"/proc/$spid/autogroup"
    "${CHECKS_BAZEL[@]}" test --config=ci --config=asan --symlink_prefix=/ \
      --build_tests_only --test_tag_filters=-e2e -- "${CHECKS_PATTERNS[@]}" >"$tmp/asan.log" 2>&1
    echo $? >"$tmp/asan.rc"
    "${CHECKS_BAZEL[@]}" info --config=asan bazel-testlogs >"$tmp/asan.testlogs" 2>/dev/null
    CLOONIX_BAZEL_OUTPUT_BASE="$CHECKS_BASE" bash tools/fuzz/run.sh --seconds 10 \
      >"$tmp/fuzz.log" 2>&1
    echo $? >"$tmp/fuzz.rc"
  ) &
  checks_pid=$!
  set +m
  trap '[[ -n "${checks_pid:-}" ]] && kill -TERM -- "-$checks_pid" 2>/dev/null
        "${CHECKS_BAZEL[@]}" shutdown >/dev/null 2>&1; rm -rf "$tmp"' EXIT
fi

# 1. Every test: unit tests and, as root, the end-to-end tests.
bazel test --config=ci //... "${args[@]}" 2>&1 | tee "$tmp/main.log"
rc=${PIPESTATUS[0]}
read -r P F < <(count "$tmp/main.log" "$(bazel info bazel-testlogs 2>/dev/null)")

if ((CHECKS)); then
  echo "== unit tests under ASan + UBSan (--config=asan), run beside the above"
  wait "$checks_pid"
  checks_pid=""
  arc="$(cat "$tmp/asan.rc" 2>/dev/null || echo 1)"
  if ((arc == 0)); then
    grep -E "^//|^Executed" "$tmp/asan.log"
  else
    cat "$tmp/asan.log"  # with the failing tests' output
  fi
  ap=0 af=1  # when the log is missing (the checks died): one failure
  read -r ap af < <(count "$tmp/asan.log" "$(cat "$tmp/asan.testlogs" 2>/dev/null)") || true
  echo "asan: $ap passed, $af failed"
  P=$((P + ap)); F=$((F + af))
  ((arc == 0)) || rc=$arc
  echo "== libFuzzer targets, 10 s each (tools/fuzz/run.sh), run beside the above"
  cat "$tmp/fuzz.log"
  frc="$(cat "$tmp/fuzz.rc" 2>/dev/null || echo 1)"
  if read -r fp ff < <(sed -n 's/^fuzz: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$tmp/fuzz.log" | tail -1); then
    P=$((P + fp)); F=$((F + ff))
  else
    F=$((F + 1))
  fi
  ((frc == 0)) || rc=$frc
  "${CHECKS_BAZEL[@]}" shutdown >/dev/null 2>&1 || true
fi
echo "$P passed, $F failed"
bazel shutdown >/dev/null 2>&1 || true
exit "$rc"
