#!/usr/bin/env bash
# Quick A/B loop while optimising: best of N validate runs (no ceiling), data from validate.sh.
# usage: bench/validate-quick.sh [RUNS] [ENROLLMENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-5}"
N="${2:-1000000}"
DATA="bench/data/validate-$N"
[ -f "$DATA/enrollments.csv" ] || python3 bench/validate_gen.py "$DATA" "$N"
FILES=("$DATA"/terms.csv "$DATA"/users.csv "$DATA"/courses.csv "$DATA"/sections.csv "$DATA"/enrollments.csv)
cargo build --release --example validate_bench -q
for _ in $(seq "$RUNS"); do
  target/release/examples/validate_bench validate "${FILES[@]}" | tail -1
done | sort -k2 -n | head -1
