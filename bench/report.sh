#!/usr/bin/env bash
# Report benchmark: `canvas-sis report --html` over an archive of N nightly runs (default 365,
# 200 error rows each at most), release build: wall time, peak RSS and the page's size.
# Stands alone: it builds the binary, writes the archive with bench/report_gen.py (python3,
# standard library) under $BENCH_DIR (default target/bench), and needs GNU time.
#
#   bash bench/report.sh            # 365 runs, 5 runs of the command
#   BENCH_RUNS=9 bash bench/report.sh 730
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-365}
RUNS=${BENCH_RUNS:-5}
WORK=${BENCH_DIR:-$ROOT/target/bench}/report-$N
command -v /usr/bin/time >/dev/null || { echo "bench: GNU time is missing (apt-get install time)" >&2; exit 1; }
cargo build --release -q --bin canvas-sis
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/canvas-sis
rm -rf "$WORK"
mkdir -p "$WORK/runs"
python3 bench/report_gen.py "$WORK/runs" "$N"
printf '[archive]\ndir = "%s"\n' "$WORK/runs" > "$WORK/c.toml"
chmod 600 "$WORK/c.toml"
echo "archive: $N runs, $(du -sh "$WORK/runs" | cut -f1)"
for i in $(seq "$RUNS"); do
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$BIN" --no-log-file -c "$WORK/c.toml" report --since "$((N + 1))d" --html "$WORK/report.html" >/dev/null
  read -r secs kib < "$WORK/time"
  echo "run $i: ${secs} s, peak RSS $((kib / 1024)) MiB, page $(stat -c %s "$WORK/report.html") bytes"
done
