#!/usr/bin/env bash
# clang-format check and clang-tidy (.clang-tidy) on the project's C++ files.
# Generates compile_commands.json from Bazel's compile actions first.
# usage: tools/lint.sh [files...]   (default: every tracked .cc)
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
python3 tools/compile_commands.py "$ROOT" >/dev/null
files=("$@")
if ((${#files[@]} == 0)); then mapfile -t files < <(git ls-files '*.cc'); fi
rc=0
clang-format --dry-run --Werror "${files[@]}" || rc=1
for f in "${files[@]}"; do
  clang-tidy -p . --quiet --extra-arg=-I"$ROOT" "$f" 2>/dev/null | grep -E "warning:|error:" && rc=1
done
exit $rc
