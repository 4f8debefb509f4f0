#!/usr/bin/env bash
# The file-upload flow done with two curls, as the baseline for canvas-sis's: step 1 (POST
# with pre_attachment[*], no body), then step 2 (multipart to upload_url: the upload_params
# fields, then the file, streamed by curl -F). Used by bench/upload.sh.
#   bench/curl_file_upload.sh CANVAS_URL TOKEN FILE
set -euo pipefail
url=$1 token=$2 f=$3
name=$(basename "$f")
size=$(stat -c %s "$f")
# Each curl reports its own time (-w), so the JSON parsing in between is not counted.
answer=$(curl -sS --fail -w '\n%{time_total}' -X POST -H "Authorization: Bearer $token" -H "Accept: application/json" \
  "$url/api/v1/accounts/self/sis_imports?import_type=instructure_csv&extension=zip&pre_attachment%5Bname%5D=$name&pre_attachment%5Bsize%5D=$size&pre_attachment%5Bcontent_type%5D=application%2Fzip")
t1=${answer##*$'\n'}
answer=${answer%$'\n'*}
# upload_url on the first line, then one NAME=VALUE per upload_params field.
mapfile -t lines < <(python3 -c '
import json, sys
p = json.load(sys.stdin)["pre_attachment"]
print(p["upload_url"])
for k, v in p.get("upload_params", {}).items():
    print(f"{k}={v}")
print("@file_param=" + (p.get("file_param") or "file"))
' <<< "$answer")
upload_url=${lines[0]}
args=()
file_param=file
for l in "${lines[@]:1}"; do
  case $l in
    @file_param=*) file_param=${l#@file_param=} ;;
    *) args+=(--form-string "$l") ;;
  esac
done
# No Authorization header: the upload host must not get the Canvas token.
# No "Expect: 100-continue" wait either (canvas-sis does not send one).
t2=$(curl -sS --fail -o /dev/null -w '%{time_total}' -H "Expect:" "${args[@]}" -F "$file_param=@$f;type=application/zip" "$upload_url")
echo "{\"upload_secs\":$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", a + b }')}"
