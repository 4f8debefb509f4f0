#!/usr/bin/env bash
# IMS Enterprise XML validation speed and memory (src/validate/xml/): generate files of persons
# and memberships (samples/ims/make.py), run the release binary's `validate` on each, and
# record the wall time, MB/s and peak RSS from /usr/bin/time -v. Best of 3 runs, page cache warm.
# usage: bench/xml.sh [SIZE_MB...]   (default: 50 200)
# Timings live in bench/results-xml.md, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("${@:-50 200}")
# shellcheck disable=SC2206
SIZES=(${SIZES[*]})
DATA=bench/data
mkdir -p "$DATA"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q
BIN="$CARGO_TARGET_DIR/release/canvas-sis"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '| file | bytes | records | best wall s | MB/s | peak RSS MB |\n|---|---|---|---|---|---|\n'
for mb in "${SIZES[@]}"; do
  f="$DATA/ims-$mb.xml"
  if [ ! -f "$f" ]; then
    # ~750 bytes of XML per person (its record and its membership); 40 students a section.
    python3 samples/ims/make.py --persons $((mb * 1000 * 1000 / 750)) --members-per-section 40 --out "$f"
  fi
  bytes=$(stat -c %s "$f")
  cat "$f" > /dev/null
  best="" rss=0 summary=""
  for i in 1 2 3; do
    summary=$(/usr/bin/time -v "$BIN" --no-log-file validate "$f" 2> "$DATA/time-xml-$mb-$i.txt" | tail -1)
    wall=$(grep -E 'Elapsed \(wall clock\)' "$DATA/time-xml-$mb-$i.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    r=$(grep -E 'Maximum resident' "$DATA/time-xml-$mb-$i.txt" | awk '{print $NF}')
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$wall; fi
    if [ "$r" -gt "$rss" ]; then rss=$r; fi
  done
  records=$(echo "$summary" | sed -n 's/.*ims_enterprise(\([0-9]*\)).*/\1/p')
  mbs=$(awk -v b="$bytes" -v t="$best" 'BEGIN{printf "%.0f", b/1e6/t}')
  printf '| ims-%s.xml | %s | %s | %s | %s | %.1f |\n' "$mb" "$bytes" "$records" "$best" "$mbs" "$(awk -v r="$rss" 'BEGIN{print r/1024}')"
  echo "  ($summary)" >&2
done
