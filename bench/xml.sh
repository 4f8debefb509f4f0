#!/usr/bin/env bash
# IMS Enterprise XML validation speed and memory (src/validate/xml/): generate files of persons
# and memberships (samples/ims/make.py), run the release binary's `validate` on each, and
# record the wall time, MB/s and peak RSS from /usr/bin/time -v (best of 3 runs, page cache
# warm). Two series:
#   ims-N.xml   N MB of persons and their memberships: the ids grow with the file;
#   ids-N.xml   N MB over a fixed 50,000 persons, growing by memberships only.
# usage: bench/xml.sh [SIZE_MB...]   (default: 50 200)
# Timings live in bench/results-xml.md, never in tests.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(50 200)
DATA=bench/data
mkdir -p "$DATA"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release -q
BIN="$CARGO_TARGET_DIR/release/canvas-sis"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # FILE
  local f=$1 bytes best="" user="" rss=0 summary wall u r records mbs
  bytes=$(stat -c %s "$f")
  cat "$f" > /dev/null
  for i in 1 2 3; do
    summary=$(/usr/bin/time -v "$BIN" --no-log-file validate "$f" 2> "$DATA/time-xml-$i.txt" | tail -1)
    wall=$(grep -E 'Elapsed \(wall clock\)' "$DATA/time-xml-$i.txt" | awk '{print $NF}' | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    u=$(grep -E 'User time' "$DATA/time-xml-$i.txt" | awk '{print $NF}')
    r=$(grep -E 'Maximum resident' "$DATA/time-xml-$i.txt" | awk '{print $NF}')
    if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$wall; fi
    if [ -z "$user" ] || awk -v a="$u" -v b="$user" 'BEGIN{exit !(a<b)}'; then user=$u; fi
    if [ "$r" -gt "$rss" ]; then rss=$r; fi
  done
  records=$(echo "$summary" | sed -n 's/.*ims_enterprise(\([0-9]*\)).*/\1/p')
  mbs=$(awk -v b="$bytes" -v t="$best" 'BEGIN{printf "%.0f", b/1e6/t}')
  printf '| %s | %s | %s | %s | %s | %s | %s | %.1f |\n' "$(basename "$f")" "$bytes" "$records" "$best" "$mbs" "$user" \
    "$(awk -v b="$bytes" -v t="$user" 'BEGIN{printf "%.0f", b/1e6/t}')" "$(awk -v r="$rss" 'BEGIN{print r/1024}')"
  echo "  ($summary)" >&2
}

printf '| file | bytes | records | best wall s | MB/s (wall) | best user s | MB/s (CPU) | peak RSS MB |\n|---|---|---|---|---|---|---|---|\n'
for mb in "${SIZES[@]}"; do
  f="$DATA/ims-$mb.xml"
  # ~750 bytes of XML per person (its record and its membership); 40 students a section.
  [ -f "$f" ] || python3 samples/ims/make.py --persons $((mb * 1000 * 1000 / 750)) --members-per-section 40 --out "$f"
  run "$f"
done
for mb in "${SIZES[@]}"; do
  f="$DATA/ids-$mb.xml"
  # 50,000 persons (~21 MB); each round of sections adds ~17.4 MB of memberships.
  k=$(( (mb * 10 - 210 + 87) / 174 )); [ "$k" -ge 1 ] || k=1
  [ -f "$f" ] || python3 samples/ims/make.py --persons 50000 --members-per-section 40 --sections-per-student "$k" --out "$f"
  run "$f"
done
