#!/usr/bin/env bash
# Upload benchmarks: canvas-sis (direct raw-body upload, and the pre_attachment file-upload
# flow) against curl, to the bundled simulator on loopback. Also canvas-sis's start-up time.
#
#   bash bench/upload.sh                       # 100 MiB and 1 GiB bundles, 3 runs each
#   BENCH_SIZES_MB="100" BENCH_RUNS=5 bash bench/upload.sh
#   CANVAS_SIS_BIN=/path/to/canvas-sis bash bench/upload.sh   # measure another build
#
# Needs: cargo, curl, zip, GNU time (/usr/bin/time; apt-get install time zip curl);
# hyperfine is used for start-up time when installed. Prints a Markdown table and writes it
# to $BENCH_DIR/results.md. Not part of the test suite; figures depend on the machine.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
SIZES_MB=${BENCH_SIZES_MB:-"100 1024"}
RUNS=${BENCH_RUNS:-3}
WORK=${BENCH_DIR:-$ROOT/target/bench}
TOKEN=bench-token
mkdir -p "$WORK"

for tool in curl zip /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install curl zip time)" >&2; exit 1; }
done

echo "== building (release)" >&2
cargo build --release -q -p fake-canvas --bin fake-canvas
cargo build --release -q --bin canvas-sis --example upload_bench
BIN=${CANVAS_SIS_BIN:-$ROOT/target/release/canvas-sis}
FAKE=$ROOT/target/release/fake-canvas
UB=$ROOT/target/release/examples/upload_bench

# A real zip (stored, no compression) holding one random blob: the simulator reads the
# central directory, skips the non-CSV entry, and answers at once.
for mb in $SIZES_MB; do
  f=$WORK/big-${mb}M.zip
  if [ ! -s "$f" ]; then
    echo "== generating $f" >&2
    head -c $((mb * 1024 * 1024)) /dev/urandom > "$WORK/blob.bin"
    (cd "$WORK" && rm -f "$f" && zip -0 -q "$f" blob.bin)
    rm -f "$WORK/blob.bin"
  fi
done

echo "== starting the simulator" >&2
"$FAKE" --port 0 --scenario ok --token "$TOKEN" > "$WORK/fake.out" 2> "$WORK/fake.err" &
FAKE_PID=$!
trap 'kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true' EXIT
URL=
for _ in $(seq 1 100); do
  URL=$(head -n1 "$WORK/fake.out" 2>/dev/null || true)
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { echo "bench: the simulator did not start" >&2; cat "$WORK/fake.err" >&2; exit 1; }
CREATE="$URL/api/v1/accounts/self/sis_imports?import_type=instructure_csv&extension=zip"

# canvas-sis gets a private HOME: no config, state journal or log file of the caller's.
BHOME=$(mktemp -d)
trap 'kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; rm -rf "$BHOME"' EXIT
export HOME=$BHOME XDG_STATE_HOME=$BHOME/state XDG_CONFIG_HOME=$BHOME/config
export CANVAS_BASE_URL=$URL CANVAS_ACCESS_TOKEN=$TOKEN
unset CANVAS_SIS_CONFIG CANVAS_SIS_PROFILE JOURNAL_STREAM || true

# A build whose `submit --upload-mode file-upload` really runs the flow (an older one
# accepts the flag and ignores it) is measured in both modes through the binary. `direct` must
# then be asked for, since `auto` picks the file-upload flow from 100 MiB on.
(cd "$WORK" && printf 'user_id,login_id,status\n' > users.csv && rm -f probe.zip && zip -q probe.zip users.csv)
if "$BIN" -v --no-log-file --progress never submit "$WORK/probe.zip" --no-validate --upload-mode file-upload 2>&1 >/dev/null \
    | grep -q "initialized for the file-upload flow"; then
  HAVE_MODE=1; DIRECT_ARGS=(--upload-mode direct)
else
  HAVE_MODE=0; DIRECT_ARGS=()
fi
echo "== submit --upload-mode file-upload through the binary: $([ $HAVE_MODE = 1 ] && echo yes || echo 'no (upload_bench only)')" >&2

# run LABEL CMD...: time it RUNS times; record "wall_s max_rss_kb" per run.
declare -A WALL RSS XFER
run() {
  local label=$1; shift
  local walls=() rsss=() xfers=()
  for _ in $(seq 1 "$RUNS"); do
    if ! /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" > "$WORK/out.txt" 2> "$WORK/err.txt"; then
      # curl --data-binary reads the whole file into memory and gives up on big ones.
      echo "   $label failed: $(head -c 300 "$WORK/err.txt")" >&2
      WALL[$label]=fail; RSS[$label]=0
      return 0
    fi
    read -r w r < <(tail -n1 "$WORK/time.txt")
    walls+=("$w"); rsss+=("$r")
    # upload_bench prints its own split: the sha256 pass (prepare) and the upload itself.
    x=$(sed -n 's/.*"upload_secs":\([0-9.]*\).*/\1/p' "$WORK/out.txt")
    [ -n "$x" ] && xfers+=("$x")
  done
  if [ "${#xfers[@]}" -gt 0 ]; then
    XFER[$label]=$(printf '%s\n' "${xfers[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  fi
  WALL[$label]=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  RSS[$label]=$(printf '%s\n' "${rsss[@]}" | sort -n | tail -n1)
  echo "   $label: median ${WALL[$label]} s, peak RSS $(( ${RSS[$label]} / 1024 )) MiB (runs: ${walls[*]})" >&2
}

TABLE=$WORK/results.md
{
  echo "| bundle | client | median wall (s) | MB/s | throughput vs curl --data-binary | vs curl streaming the same mode | peak RSS (MiB) |"
  echo "|---|---|---:|---:|---:|---:|---:|"
} > "$TABLE"

for mb in $SIZES_MB; do
  f=$WORK/big-${mb}M.zip
  bytes=$(stat -c %s "$f")
  echo "== $f ($bytes bytes), $RUNS runs each" >&2
  run "sha256sum-$mb" sha256sum "$f"
  run "curl-$mb" curl -sS --fail -o /dev/null -X POST --data-binary @"$f" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/zip" -H "Accept: application/json" "$CREATE"
  run "curl-T-$mb" curl -sS --fail -o /dev/null -X POST -T "$f" \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/zip" -H "Accept: application/json" "$CREATE"
  run "curl-F-$mb" bash "$ROOT/bench/curl_file_upload.sh" "$URL" "$TOKEN" "$f"
  run "direct-$mb" "$BIN" -q --no-log-file --progress never submit "$f" --no-validate "${DIRECT_ARGS[@]}"
  if [ "$HAVE_MODE" = 1 ]; then
    run "submit-fu-$mb" "$BIN" -q --no-log-file --progress never submit "$f" --no-validate --upload-mode file-upload
  fi
  run "file-upload-$mb" "$UB" "$URL" "$TOKEN" "$f"
  base=${WALL[curl-$mb]}
  # The two-curl flow is timed by curl itself (its JSON parsing in between is left out).
  WALL[curl-F-$mb]=${XFER[curl-F-$mb]:-fail}
  WALL[xfer-$mb]=${XFER[file-upload-$mb]:-fail}
  RSS[xfer-$mb]=${RSS[file-upload-$mb]}
  cols="curl curl-T curl-F direct"
  [ "$HAVE_MODE" = 1 ] && cols="$cols submit-fu"
  for c in $cols file-upload xfer sha256sum; do
    k=$c-$mb
    w=${WALL[$k]}
    # The streaming baseline of the same mode: curl -T (raw body) or the two-curl flow.
    case $c in
      curl|curl-T|direct) baseT=${WALL[curl-T-$mb]} ;;
      *) baseT=${WALL[curl-F-$mb]} ;;
    esac
    case $c in
      curl) name="curl --data-binary @file" ;;
      curl-T) name="curl -T file (raw body, streamed)" ;;
      curl-F) name="curl file-upload flow (step 1, then curl -F, streamed)" ;;
      direct) name="canvas-sis submit --no-validate ${DIRECT_ARGS[*]:-(direct)}" ;;
      submit-fu) name="canvas-sis submit --no-validate --upload-mode file-upload" ;;
      file-upload) name="canvas-sis file-upload flow (upload_bench)" ;;
      xfer) name="… of which the upload itself (steps 1-3, after the sha256 pass)" ;;
      sha256sum) name="(sha256sum of the file, for reference)" ;;
    esac
    awk -v mb="$mb" -v n="$name" -v w="$w" -v b="$base" -v bt="$baseT" -v by="$bytes" -v r="${RSS[$k]}" -v c="$c" '
      function ratio(base) { return (c == "sha256sum" || base == "fail" || w == "fail") ? "-" : sprintf("%.2f", base / (w > 0 ? w : 0.01)) }
      BEGIN {
        if (w == "fail") { printf "| %d MiB | %s | failed | - | - | - | - |\n", mb, n; exit }
        ws = (w > 0 ? w : 0.01)
        printf "| %d MiB | %s | %.2f | %.0f | %s | %s | %.1f |\n", mb, n, w, by / 1e6 / ws, ratio(b), ratio(bt), r / 1024
      }' >> "$TABLE"
  done
done

echo "== start-up time (canvas-sis --help)" >&2
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 3 --runs 30 --export-markdown "$WORK/startup.md" "$BIN --help" >&2
  STARTUP=$(awk -F'|' 'NR==3 {gsub(/ /,"",$3); print $3 " ms (hyperfine, mean ± σ)"}' "$WORK/startup.md")
else
  total=0
  for _ in $(seq 1 20); do
    t0=$(date +%s%N); "$BIN" --help > /dev/null; t1=$(date +%s%N)
    total=$(( total + t1 - t0 ))
  done
  STARTUP="$(awk -v t="$total" 'BEGIN { printf "%.2f", t / 20 / 1e6 }') ms (mean of 20 runs, date +%s%N)"
fi
echo "" >> "$TABLE"
echo "canvas-sis --help start-up: $STARTUP" >> "$TABLE"

{
  echo ""
  echo "machine: $(nproc) CPUs, $(free -h | awk '/^Mem:/ {print $2}') RAM, $(uname -sr), $(date -u +%Y-%m-%dT%H:%MZ), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "canvas-sis $("$BIN" --version | awk '{print $2}'), $(curl --version | head -n1 | awk '{print $1, $2}'), runs per figure: $RUNS (median wall, max RSS)"
} >> "$TABLE"
cat "$TABLE"
