#!/usr/bin/env bash
# The validator against the bare csv::ByteRecord parse, side by side in one run: for each
# bundle size, RUNS rounds of `validate_bench ceiling`, `validate_bench validate` (this
# build) and, when OTHER is given, `OTHER validate` (e.g. a copy of an older build's
# target/release/examples/validate_bench), interleaved so that they share the host's
# load. Prints the best and the median of each, and their ratio to the ceiling's.
#
# usage: bench/validate-side-by-side.sh [RUNS] [OTHER]     (RUNS default 15)
#   sizes: 200000 enrollments (18 MB) and 1000000 (85 MB), generated into bench/data/
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-15}"
OTHER="${2:-}"
cargo build --release --example validate_bench -q
BIN=target/release/examples/validate_bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
idle() { vmstat 1 2 | tail -1 | awk '{print $15 "% idle, " $1 " runnable"}'; }
echo "host before: $(idle)"
for N in 200000 1000000; do
  DATA="bench/data/validate-$N"
  [ -f "$DATA/enrollments.csv" ] || python3 bench/validate_gen.py "$DATA" "$N"
  FILES=("$DATA"/terms.csv "$DATA"/users.csv "$DATA"/courses.csv "$DATA"/sections.csv "$DATA"/enrollments.csv)
  cat "${FILES[@]}" > /dev/null
  echo "== $(du -ch "${FILES[@]}" | tail -1 | cut -f1) ($N enrollments), $RUNS rounds"
  out=$(for _ in $(seq "$RUNS"); do
    "$BIN" ceiling "${FILES[@]}" | tail -1 | sed 's/^ceiling:/ceiling/'
    "$BIN" validate "${FILES[@]}" | tail -1 | sed 's/^validate:/validate/'
    if [ -n "$OTHER" ]; then
      "$OTHER" validate "${FILES[@]}" | tail -1 | sed 's/^validate:/other/'
    fi
  done)
  stats() { echo "$out" | awk -v k="$1" '$1 == k { t = $2; sub("s", "", t); print t }' | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.3f %.3f\n", a[1], a[int((NR + 1) / 2)] }'; }
  read -r cb cm <<<"$(stats ceiling)"
  printf "  %-9s best %.3f s  median %.3f s\n" ceiling "$cb" "$cm"
  for k in validate other; do
    s=$(stats "$k")
    [ -n "$s" ] || continue
    read -r b m <<<"$s"
    printf "  %-9s best %.3f s  median %.3f s  ratio to the ceiling: best %.2fx, median %.2fx\n" \
      "$k" "$b" "$m" "$(echo "$cb / $b" | bc -l)" "$(echo "$cm / $m" | bc -l)"
  done
done
echo "host after: $(idle)"
