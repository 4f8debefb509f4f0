#!/usr/bin/env bash
# Benchmark the validator against a bare csv::ByteRecord pass over the same files.
# usage: bench/validate.sh [ENROLLMENTS]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
DATA="bench/data/validate-$N"
if [ ! -f "$DATA/enrollments.csv" ]; then
  python3 bench/validate_gen.py "$DATA" "$N"
fi
FILES=("$DATA"/terms.csv "$DATA"/users.csv "$DATA"/courses.csv "$DATA"/sections.csv "$DATA"/enrollments.csv)
cargo build --release --example validate_bench -q
BIN=target/release/examples/validate_bench
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "data: $(du -ch "${FILES[@]}" | tail -1 | cut -f1), $(cat "${FILES[@]}" | wc -l) lines"
# Warm the page cache, then 3 runs each; the best run counts.
cat "${FILES[@]}" > /dev/null
for mode in ceiling validate; do
  for i in 1 2 3; do
    /usr/bin/time -v "$BIN" "$mode" "${FILES[@]}" 2> "bench/data/time-$mode-$i.txt" | tail -1
    grep -E 'Maximum resident' "bench/data/time-$mode-$i.txt" | sed 's/^\s*/  /'
  done
done
