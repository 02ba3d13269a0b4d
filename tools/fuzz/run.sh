#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (bazel --config=fuzz) and runs each
# one for a while on a copy of its corpus. New inputs that raise coverage are
# kept in the copy; a crash leaves its input (crash-*) in the output dir and
# fails the run. CI runs 10 s per target; longer runs: --seconds 3600.
#
# usage: tools/fuzz/run.sh [--seconds N] [--out DIR] [--merge] [target...]
#   --merge  add the new inputs found to the corpus in the repo (minimized)
# Prints one line per target and "fuzz: N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
SECONDS_PER=10
OUT="$(mktemp -d /tmp/cxfuzz-run.XXXXXX)"
MERGE=0
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --out) OUT="$2"; mkdir -p "$OUT"; shift 2 ;;
    --merge) MERGE=1; shift ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
# target label -> corpus dir
declare -A CORPUS=(
  [//common:agent_wire_fuzz]=common/fuzz_corpus/agent_wire
  [//common:file_tree_fuzz]=common/fuzz_corpus/file_tree
  [//services/orchestrator:topology_fuzz]=services/orchestrator/fuzz_corpus/topology
  [//services/cnt_runner:seccomp_fuzz]=services/cnt_runner/fuzz_corpus/seccomp
  [//cli:a2b_args_fuzz]=cli/fuzz_corpus/a2b_args
)
((${#TARGETS[@]})) || TARGETS=("${!CORPUS[@]}")
# CLOONIX_BAZEL_OUTPUT_BASE: build in that Bazel output base (a server of its
# own, as tools/test.sh's checks beside the e2e tests) and leave the
# workspace's bazel-* links alone.
BAZEL=(bazel)
BUILD_OPTS=()
if [[ -n "${CLOONIX_BAZEL_OUTPUT_BASE:-}" ]]; then
  BAZEL+=(--output_base="$CLOONIX_BAZEL_OUTPUT_BASE")
  BUILD_OPTS+=(--symlink_prefix=/)
fi
if ! "${BAZEL[@]}" build --config=fuzz "${BUILD_OPTS[@]}" "${TARGETS[@]}" >"$OUT/build.log" 2>&1; then
  tail -30 "$OUT/build.log" >&2
  echo "fuzz: 0 passed, ${#TARGETS[@]} failed"
  exit 1
fi
passed=0 failed=0
for t in "${TARGETS[@]}"; do
  name="${t##*:}"
  pkg="${t#//}"; pkg="${pkg%%:*}"
  bin="$("${BAZEL[@]}" info --config=fuzz bazel-bin 2>/dev/null)/$pkg/$name"
  work="$OUT/$name"; mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "${CORPUS[$t]}/." "$work/corpus/"
  start=$(date +%s)
  (cd "$work" && "$bin" -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$work/artifacts/" -print_final_stats=1 corpus >"$work/log" 2>&1)
  rc=$?
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | awk '{print $2}')"
  cov="$(grep -oE 'cov: [0-9]+' "$work/log" | tail -1 | awk '{print $2}')"
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    echo "fuzz $name: ok, ${runs:-?} runs in $(( $(date +%s) - start )) s, coverage ${cov:-?}"
    if [[ $MERGE -eq 1 ]]; then
      "$bin" -merge=1 "${CORPUS[$t]}" "$work/corpus" >/dev/null 2>&1
    fi
  else
    failed=$((failed + 1))
    echo "fuzz $name: FAILED (exit $rc); input(s) in $work/artifacts; log $work/log" >&2
    grep -m5 -E "ERROR|SUMMARY|==" "$work/log" >&2
  fi
done
echo "fuzz: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
