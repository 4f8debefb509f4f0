#!/usr/bin/env bash
# `canvas-sis plan` against `canvas-sis validate` on the same bundle (issue 13's target: plan
# at most 2x validate's wall time and 2.5x its peak RSS).
#
# Bundle A is bench/validate_gen.py's clean bundle of N enrollments; bundle B is A changed by
# about 5 % (bench/plan_diff.py: 2.5 % of enrollments dropped, as many added for new users, 5 %
# of users renamed). The baseline a plain import of A leaves is made by examples/plan_bench.rs
# in a private state dir under bench/data/; then RUNS rounds of `validate B` and `plan B
# --json` (to /dev/null), interleaved, each under /usr/bin/time. Prints every run (command,
# wall s, peak RSS KB, user s, sys s), then the best and the median wall time and peak RSS of
# each, and their ratios. Results: bench/results-plan.md.
#
# usage: bench/plan.sh [N] [RUNS] [BIN]   (N default 12000000 = ~1 GB, RUNS default 3;
#        BIN: a canvas-sis binary to measure instead of this checkout's release build)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-12000000}"
RUNS="${2:-3}"
BIN="${3:-}"
A="bench/data/plan-$N-a"
B="bench/data/plan-$N-b"
[ -f "$A/enrollments.csv" ] || python3 bench/validate_gen.py "$A" "$N"
[ -f "$B/enrollments.csv" ] || python3 bench/plan_diff.py "$A" "$B"
TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --release -q --bin canvas-sis --example plan_bench
[ -n "$BIN" ] || BIN="$TARGET/release/canvas-sis"
XDG="$PWD/bench/data/state-$N"
rm -rf "$XDG"
mkdir -p "$XDG/config"
chmod 700 "$XDG"
export XDG_STATE_HOME="$XDG" XDG_CONFIG_HOME="$XDG/config"
export CANVAS_BASE_URL="https://canvas.example.edu" CANVAS_ACCOUNT_ID="self"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GB RAM"
echo "bundle B: $(du -sh "$B" | cut -f1), $(cat "$B"/*.csv | wc -l) lines; binary: $BIN"
/usr/bin/time -f "baseline of A: %e s, peak RSS %M KB" \
  "$TARGET/release/examples/plan_bench" baseline "$A" "$XDG/canvas-sis" "$CANVAS_BASE_URL" self
ls -l "$XDG"/canvas-sis/baselines/ | tail -n +2 | awk '{print "baseline file: " $5 " bytes"}'
cat "$B"/*.csv > /dev/null
out=$(for i in $(seq "$RUNS"); do
  /usr/bin/time -f "validate %e %M %U %S" "$BIN" validate "$B" > /dev/null 2> >(tail -1 >&2) || true
  /usr/bin/time -f "plan %e %M %U %S" "$BIN" --json plan "$B" > /dev/null 2> >(tail -1 >&2) || true
done 2>&1)
echo "$out"
stats() { # KIND FIELD -> best median
  echo "$out" | awk -v k="$1" -v f="$2" '$1 == k { print $f }' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "%s %s\n", a[1], a[int((NR + 1) / 2)] }'
}
read -r vt vtm <<<"$(stats validate 2)"
read -r pt ptm <<<"$(stats plan 2)"
read -r vm vmm <<<"$(stats validate 3)"
read -r pm pmm <<<"$(stats plan 3)"
printf "validate: best %.2f s, median %.2f s; peak RSS best %d MB, median %d MB\n" "$vt" "$vtm" $((vm / 1024)) $((vmm / 1024))
printf "plan:     best %.2f s, median %.2f s; peak RSS best %d MB, median %d MB\n" "$pt" "$ptm" $((pm / 1024)) $((pmm / 1024))
printf "plan / validate: time %.2fx (medians %.2fx), peak RSS %.2fx (medians %.2fx)\n" \
  "$(echo "$pt / $vt" | bc -l)" "$(echo "$ptm / $vtm" | bc -l)" \
  "$(echo "$pm / $vm" | bc -l)" "$(echo "$pmm / $vmm" | bc -l)"
