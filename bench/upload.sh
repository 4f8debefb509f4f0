#!/usr/bin/env bash
# Upload benchmark: `canvas-sis submit --no-validate FILE` with default settings against
# `curl -T FILE` (the same raw-body POST, streamed by curl), side by side in one run, to the
# bundled simulator on loopback. Stands alone: it builds what it needs (release), makes its
# bundles, starts its own simulator, and needs nothing else from this folder.
#
#   bash bench/upload.sh                                  # 18, 89 and 1024 MiB, 5 runs each
#   BENCH_SIZES_MB="18 89" BENCH_RUNS=9 bash bench/upload.sh
# Also measures canvas-sis's start-up (--help; hyperfine when installed).
#   CANVAS_SIS_BIN=/path/to/canvas-sis bash bench/upload.sh   # measure another build
#   BENCH_ARCHIVE_RUNS=2000 bash bench/upload.sh          # with 2,000 finished runs archived
#                                                         # first (90 days of hourly imports)
#
# Needs: cargo, curl, zip, GNU time (/usr/bin/time) (apt-get install curl zip time).
# Prints a Markdown table and writes it to $BENCH_DIR/results.md. Not part of the test
# suite; figures depend on the machine and its load.
#
# Rows, per bundle size (each the median of BENCH_RUNS runs; the runs of all rows interleave,
# in an order that turns each round, so that a change of load hits every row alike):
#   curl -T                  curl -X POST -T FILE … "$URL/api/v1/accounts/self/sis_imports?…"
#   submit (defaults)        canvas-sis submit --no-validate FILE: upload mode auto (the raw
#                            body below 100 MiB, the file-upload flow from 100 MiB), log file
#                            on, progress auto (off: not a terminal). THE TARGET: >= 0.9x curl -T
#   submit, no archive copy  the same with `[archive] keep_bundles = false`: what the
#                            archive's copy of the bundle (on by default) costs
#   submit --once            the same with --once, which hashes the bundle before sending
#   curl -T + sha256 + copy  curl -T FILE, with `openssl dgst -sha256 FILE` (else sha256sum)
#                            and `cp FILE` (into the private HOME) running beside it: the
#                            work a default submit does (hash the bytes sent, keep the
#                            archive's copy), done by a script
#   curl file-upload flow    step 1 (POST with pre_attachment[*]) then curl -F of the
#                            upload_params and the file to upload_url: the same flow done by
#                            curl, timed by curl (%{time_total} of both requests)
# Ratios are throughput ratios: curl -T's median wall time / the row's (1.00 = as fast).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES_MB=${BENCH_SIZES_MB:-"18 89 1024"}
RUNS=${BENCH_RUNS:-5}
WORK=${BENCH_DIR:-$ROOT/target/bench}
TOKEN=bench-token
TARGET=0.9
mkdir -p "$WORK"

for tool in cargo curl zip /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install curl zip time)" >&2; exit 1; }
done

echo "== building (release)" >&2
cargo build --release -q -p fake-canvas --bin fake-canvas
if [ -z "${CANVAS_SIS_BIN:-}" ]; then
  cargo build --release -q --bin canvas-sis
fi
BIN=${CANVAS_SIS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/canvas-sis}
FAKE=${CARGO_TARGET_DIR:-$ROOT/target}/release/fake-canvas

# A real zip (stored, no compression) holding one random blob: the simulator reads the
# central directory, skips the non-CSV entry, and answers at once, so the figures measure
# the upload, not a CSV scan.
for mb in $SIZES_MB; do
  f=$WORK/big-${mb}M.zip
  if [ ! -s "$f" ]; then
    echo "== generating $f" >&2
    head -c $((mb * 1024 * 1024)) /dev/urandom > "$WORK/blob.bin"
    (cd "$WORK" && rm -f "$f" && zip -0 -q "$f" blob.bin)
    rm -f "$WORK/blob.bin"
  fi
done

# canvas-sis gets a private HOME: no config, journal or log file of the caller's.
BHOME=$(mktemp -d)
FAKE_PID=
cleanup() {
  if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
  rm -rf "$BHOME"
}
trap cleanup EXIT

echo "== starting the simulator" >&2
# The simulator keeps each upload until its import is polled, which no row here does: its
# temp dir is the bench's own, and the uploads of each round are removed after it (five of
# 1 GiB a round would otherwise fill the disk).
SIMTMP=$BHOME/simulator
mkdir -p "$SIMTMP"
TMPDIR=$SIMTMP "$FAKE" --port 0 --scenario ok --token "$TOKEN" > "$WORK/fake.out" 2> "$WORK/fake.err" &
FAKE_PID=$!
URL=
for _ in $(seq 1 100); do
  URL=$(head -n1 "$WORK/fake.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "bench: the simulator did not start" >&2; cat "$WORK/fake.err" >&2; exit 1; }
CREATE="$URL/api/v1/accounts/self/sis_imports?import_type=instructure_csv&extension=zip"

export HOME=$BHOME XDG_STATE_HOME=$BHOME/state XDG_CONFIG_HOME=$BHOME/config
NOKEEP=$BHOME/no-copy.toml
printf '[archive]\nkeep_bundles = false\n' > "$NOKEEP"
chmod 600 "$NOKEEP"
export CANVAS_BASE_URL=$URL CANVAS_ACCESS_TOKEN=$TOKEN

# A run archive as months of imports leave it: finished runs, one an hour back from now,
# each folder with a run.json like a finished run's. Retention keeps them while the archive
# is under max_bytes (10 GiB): use it with sizes whose copies stay under that (18 and 89).
ARCHIVE_RUNS=${BENCH_ARCHIVE_RUNS:-0}
if [ "$ARCHIVE_RUNS" -gt 0 ]; then
  echo "== archiving $ARCHIVE_RUNS finished runs" >&2
  runs=$XDG_STATE_HOME/canvas-sis/runs
  mkdir -p "$runs"
  chmod 700 "$XDG_STATE_HOME" "$XDG_STATE_HOME/canvas-sis" "$runs"
  now=$(date -u +%s)
  for i in $(seq 1 "$ARCHIVE_RUNS"); do
    t=$((now - i * 3600))
    id=$(date -u -d "@$t" +%Y%m%dT%H%M%SZ)-$((100000 + i))
    at=$(date -u -d "@$t" +%Y-%m-%dT%H:%M:%SZ)
    mkdir -m 700 "$runs/$id"
    printf '{"run_id":"%s","submitted_at":"%s","base_url":"%s/","account":"self","import_id":%d,"bundle":{"path":"/srv/sis/export.zip","bytes":18874534,"sha256":"%064d"},"options":[["import_type","instructure_csv"]],"states":[{"state":"created","at":"%s"},{"state":"imported","at":"%s"}],"ended_at":"%s","state":"imported","duration_s":42,"rows":{"users":1200,"enrollments":9000},"exit_code":0,"sis_import":{"id":%d,"workflow_state":"imported","progress":100,"data":{"import_type":"instructure_csv","counts":{"users":1200,"enrollments":9000}},"created_at":"%s","ended_at":"%s"}}\n' \
      "$id" "$at" "$URL" "$i" "$i" "$at" "$at" "$at" "$i" "$at" "$at" > "$runs/$id/run.json"
  done
fi
unset CANVAS_SIS_CONFIG CANVAS_SIS_PROFILE JOURNAL_STREAM NO_COLOR || true

# The file-upload flow with two curls; prints the seconds curl spent in both requests.
curl_file_upload() {
  local f=$1 name size answer t1 upload_url file_param params fields=() kv k v t2
  name=$(basename "$f")
  size=$(stat -c %s "$f")
  answer=$(curl -sS --fail -w '\n%{time_total}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H "Accept: application/json" \
    "$CREATE&pre_attachment%5Bname%5D=$name&pre_attachment%5Bsize%5D=$size&pre_attachment%5Bcontent_type%5D=application%2Fzip")
  t1=${answer##*$'\n'}
  answer=${answer%$'\n'*}
  # The simulator's pre_attachment: flat string fields, no escapes.
  upload_url=$(sed -n 's/.*"upload_url":"\([^"]*\)".*/\1/p' <<< "$answer")
  file_param=$(sed -n 's/.*"file_param":"\([^"]*\)".*/\1/p' <<< "$answer")
  params=$(sed -n 's/.*"upload_params":{\([^}]*\)}.*/\1/p' <<< "$answer")
  while IFS= read -r kv; do
    [ -n "$kv" ] || continue
    k=$(sed -n 's/^"\([^"]*\)":"\(.*\)"$/\1/p' <<< "$kv")
    v=$(sed -n 's/^"\([^"]*\)":"\(.*\)"$/\2/p' <<< "$kv")
    fields+=(--form-string "$k=$v")
  done < <(tr ',' '\n' <<< "$params")
  # No token to the upload host, and no "Expect: 100-continue" wait (canvas-sis sends none).
  t2=$(curl -sS --fail -o /dev/null -w '%{time_total}' -H "Expect:" "${fields[@]}" \
    -F "${file_param:-file}=@$f;type=application/zip" "$upload_url")
  awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.4f\n", a + b }'
}
export -f curl_file_upload
# The fastest sha256 at hand for the row that does a submit's work by shell (openssl uses
# the CPU's SHA instructions; coreutils' sha256sum does not everywhere).
if command -v openssl > /dev/null; then HASHER="openssl dgst -sha256"; else HASHER=sha256sum; fi
export TOKEN CREATE HASHER

# measure KEY CMD...: one run; appends "wall_s rss_kb" to $WORK/runs-KEY. The wall time is
# taken around the whole command (microseconds, bash's EPOCHREALTIME); RSS by GNU time.
measure() {
  local key=$1; shift
  local t0 t1 wall rss
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f "%M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"; then
    echo "   $key failed: $(head -c 300 "$WORK/err.txt")" >&2
    echo "fail 0" >> "$WORK/runs-$key"
    return 0
  fi
  t1=$EPOCHREALTIME
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  rss=$(tail -n1 "$WORK/time.txt")
  # The two-curl flow reports curl's own time (its JSON parsing in between is left out).
  if [ "$key" != "${key#curlF-}" ]; then wall=$(tail -n1 "$WORK/out.txt"); fi
  echo "$wall $rss" >> "$WORK/runs-$key"
}

median() { sort -n | awk '{a[NR]=$1} END { if (NR == 0) print "fail"; else print a[int((NR+1)/2)] }'; }

# row KEY MB FILE: one run of one row.
ROWS=(curlT submit nokeep once curlF same)
row() {
  local key=$1 mb=$2 f=$3
  # An emptied journal: the bundle is the same every run, and a nightly run with new
  # content does not look up an earlier import of the same content.
  rm -f "$XDG_STATE_HOME/canvas-sis/journal.json"
  case $key in
    curlT) measure "curlT-$mb" curl -sS --fail -o /dev/null -X POST -T "$f" \
      -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/zip" -H "Accept: application/json" "$CREATE" ;;
    submit) measure "submit-$mb" "$BIN" submit --no-validate "$f" ;;
    nokeep) measure "nokeep-$mb" "$BIN" -c "$NOKEEP" submit --no-validate "$f" ;;
    once) measure "once-$mb" "$BIN" submit --no-validate --once "$f" ;;
    curlF) measure "curlF-$mb" bash -c 'curl_file_upload "$1"' curl_file_upload "$f" ;;
    same) measure "same-$mb" bash -c '$HASHER "$1" > /dev/null & cp "$1" "$2" & curl -sS --fail -o /dev/null -X POST -T "$1" \
      -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/zip" -H "Accept: application/json" "$CREATE"; wait' \
      same "$f" "$BHOME/copy.bin"
      rm -f "$BHOME/copy.bin" ;;
  esac
}

TABLE=$WORK/results.md
{
  echo "| bundle | client | median wall (s) | MB/s | vs curl -T | peak RSS (MiB) | runs (s) |"
  echo "|---|---|---:|---:|---:|---:|---|"
} > "$TABLE"
VERDICT=()

for mb in $SIZES_MB; do
  f=$WORK/big-${mb}M.zip
  bytes=$(stat -c %s "$f")
  echo "== $f ($bytes bytes), $RUNS interleaved runs" >&2
  rm -f "$WORK"/runs-*
  for run in $(seq 1 "$RUNS"); do
    # The order turns by one row each round, so that no row always follows the same one
    # (a row's writes, e.g. the archive's copy, land on the disk while the next runs).
    for i in "${!ROWS[@]}"; do
      row "${ROWS[$(( (run + i) % ${#ROWS[@]} ))]}" "$mb" "$f"
    done
    find "$SIMTMP" -type f -name 'upload-*' -delete
    echo "   run $run/$RUNS: curl -T $(tail -n1 "$WORK/runs-curlT-$mb" | cut -d' ' -f1) s, submit $(tail -n1 "$WORK/runs-submit-$mb" | cut -d' ' -f1) s" >&2
  done
  base=$(cut -d' ' -f1 "$WORK/runs-curlT-$mb" | median)
  for key in "${ROWS[@]}"; do
    runs=$WORK/runs-$key-$mb
    w=$(cut -d' ' -f1 "$runs" | median)
    rss=$(cut -d' ' -f2 "$runs" | sort -n | tail -n1)
    all=$(cut -d' ' -f1 "$runs" | tr '\n' ' ' | sed 's/ $//')
    case $key in
      curlT) name="curl -T FILE (raw body, streamed)" ;;
      submit) name="**canvas-sis submit --no-validate FILE** (defaults)" ;;
      nokeep) name="canvas-sis submit --no-validate FILE, \`keep_bundles = false\` (no archive copy)" ;;
      once) name="canvas-sis submit --no-validate --once FILE (sha256 before sending)" ;;
      curlF) name="curl file-upload flow (step 1, then curl -F; curl's own time)" ;;
      same) name="curl -T, with \`$HASHER\` and \`cp\` of the file beside it (a default submit's work, by shell)" ;;
    esac
    awk -v mb="$mb" -v n="$name" -v w="$w" -v b="$base" -v by="$bytes" -v r="$rss" -v all="$all" '
      BEGIN {
        if (w == "fail") { printf "| %d MiB | %s | failed | - | - | - | %s |\n", mb, n, all; exit }
        ws = (w > 0 ? w : 0.0001)
        printf "| %d MiB | %s | %.3f | %.0f | %.2f | %.1f | %s |\n", mb, n, w, by / 1e6 / ws, b / ws, r / 1024, all
      }' >> "$TABLE"
  done
  sw=$(cut -d' ' -f1 "$WORK/runs-submit-$mb" | median)
  VERDICT+=("$(awk -v mb="$mb" -v b="$base" -v w="$sw" -v t="$TARGET" 'BEGIN {
    r = b / w; printf "%d MiB: submit %.3fx curl -T (medians %.4f s and %.4f s; target %.1fx): %s", mb, r, w, b, t, (r >= t ? "met" : "NOT met") }')")
done

echo "== start-up time (canvas-sis --help)" >&2
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs 30 --export-markdown "$WORK/startup.md" "$BIN --help" >&2
  STARTUP=$(awk -F'|' 'NR==3 {gsub(/ /,"",$3); print $3 " ms (hyperfine, mean ± σ)"}' "$WORK/startup.md")
else
  starts=()
  for _ in $(seq 1 21); do
    t0=$EPOCHREALTIME; "$BIN" --help > /dev/null; t1=$EPOCHREALTIME
    starts+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) * 1000 }')")
  done
  STARTUP="$(printf '%s\n' "${starts[@]}" | median) ms (median of 21 runs)"
fi

{
  echo ""
  for v in "${VERDICT[@]}"; do echo "- $v"; done
  echo "- canvas-sis --help start-up: $STARTUP"
  echo ""
  echo "machine: $(nproc) CPUs, $(free -h | awk '/^Mem:/ {print $2}') RAM, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "canvas-sis $("$BIN" --version | awk '{print $2}') ($BIN), $(curl --version | head -n1 | awk '{print $1, $2}'), $RUNS interleaved runs per figure (median wall, max RSS), $ARCHIVE_RUNS runs archived before"
} >> "$TABLE"
cat "$TABLE"
