#!/usr/bin/env bash
# Compare the diagnostics of two canvas-sis binaries, byte for byte: text and --json output
# (and the exit code) of `validate` on the samples, the mutated bundles of
# bench/diag_mutants.py, and any bench bundle given.
#
# usage: bench/compare-diagnostics.sh OLD_BINARY NEW_BINARY [BUNDLE_DIR...]
#   e.g. bench/compare-diagnostics.sh /tmp/canvas-sis-before target/release/canvas-sis \
#          bench/data/validate-200000 bench/data/validate-1000000
# Exit 0 when every output is identical, 1 otherwise (the first differences are shown).
set -uo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
OLD=$(realpath "$1")
NEW=$(realpath "$2")
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 "$ROOT/bench/diag_mutants.py" "$WORK/mutants" >/dev/null || exit 2

# Inputs: (label, path...) as one line each, paths separated by spaces (none has one).
INPUTS=(
  "$ROOT/samples/bundle"
  "$ROOT/samples/bundle-with-warnings"
  "$ROOT/samples/bundle.zip"
)
for d in "$WORK"/mutants/*; do INPUTS+=("$d"); done
# The same mutants in one run: cross-file references and the file order matter.
INPUTS+=("$WORK/mutants/references $WORK/mutants/duplicates $WORK/mutants/big-pipelined")
INPUTS+=("$WORK/mutants/big-pipelined/enrollments.csv $WORK/mutants/big-pipelined/users.csv")
for b in "$@"; do
  b=$(realpath "$b")
  # The bench generator's file order (terms, users, courses, sections, enrollments).
  INPUTS+=("$b/terms.csv $b/users.csv $b/courses.csv $b/sections.csv $b/enrollments.csv")
done

# A neutral environment: no config file, no log file, no colour.
mkdir -p "$WORK/home" "$WORK/cwd"
run() {
  local bin=$1 out=$2
  shift 2
  (cd "$WORK/cwd" && env -i PATH=/usr/bin:/bin HOME="$WORK/home" LANG=C.UTF-8 \
    "$bin" validate --no-log-file --color never "$@" >"$out.stdout" 2>"$out.stderr"
   echo "exit $?" >>"$out.stdout")
}

n=0
diffs=0
for input in "${INPUTS[@]}"; do
  # shellcheck disable=SC2206
  paths=($input)
  for mode in text json max5 strict; do
    case $mode in
      text) args=() ;;
      json) args=(--json) ;;
      max5) args=(--max-diagnostics 5) ;;
      strict) args=(--strict --json --max-diagnostics 1000) ;;
    esac
    run "$OLD" "$WORK/old" "${args[@]}" "${paths[@]}"
    run "$NEW" "$WORK/new" "${args[@]}" "${paths[@]}"
    n=$((n + 1))
    for s in stdout stderr; do
      if ! cmp -s "$WORK/old.$s" "$WORK/new.$s"; then
        diffs=$((diffs + 1))
        if [ $diffs -le 5 ]; then
          echo "DIFFERENT ($mode, $s): ${input//$WORK\//}"
          diff "$WORK/old.$s" "$WORK/new.$s" | head -10
        fi
      fi
    done
  done
done
codes=$(for input in "${INPUTS[@]}"; do
  # shellcheck disable=SC2086
  (cd "$WORK/cwd" && env -i PATH=/usr/bin:/bin HOME="$WORK/home" "$NEW" validate --no-log-file \
    --json --max-diagnostics 100000 $input 2>/dev/null)
done | grep -o '"code": *"[a-z0-9_]*"' | sort -u | wc -l)
echo "$n runs (${#INPUTS[@]} inputs x text, --json, --max-diagnostics 5, --strict --json), $codes distinct diagnostic codes seen"
if [ $diffs -eq 0 ]; then
  echo "identical: stdout, stderr and exit code of every run"
  exit 0
fi
echo "$diffs outputs differ"
exit 1
