#!/usr/bin/env bash
# Nightly SIS import for cron: submit the bundle, watch the import, and print ONE line that
# says what happened (cron mails whatever a job prints). Install with the `crontab` file
# next to this script.
#
# Exit status: 0 when the import ran (imported, or imported_with_messages: warnings to read),
# canvas-sis's own code otherwise, so a cron monitor can still tell failures apart.
#
# Settings come from the environment or the config file, as for canvas-sis itself:
#   CANVAS_BASE_URL, CANVAS_ACCOUNT_ID, and the token through CANVAS_SIS_CONFIG
#   (token_file = "/etc/canvas-sis/token") -- keep the token itself out of the crontab.
# Knobs for this wrapper:
#   CANVAS_SIS_BIN     the binary (default: canvas-sis on PATH)
#   SIS_BUNDLE         the bundle (default /var/sis/lms_daily.zip)
#   QUIET_ON_SUCCESS   1 (default): print nothing when the import ended `imported`, so a good
#                      night sends no mail; 0: always print the summary line.
set -u

bin=${CANVAS_SIS_BIN:-canvas-sis}
bundle=${SIS_BUNDLE:-/var/sis/lms_daily.zip}
quiet_ok=${QUIET_ON_SUCCESS:-1}
host=$(hostname -s 2>/dev/null || echo host)

if ! command -v "$bin" >/dev/null 2>&1; then
  # cron's PATH is /usr/bin:/bin: without this line the mail would say only "exited 127".
  echo "canvas-sis@$host: FAILED: $bin not found (PATH=$PATH); set PATH in the crontab or CANVAS_SIS_BIN (exit 127)"
  exit 127
fi

# -q: only errors on stderr (they reach the mail too); the full story is in the log file
# (~/.local/state/canvas-sis/canvas_sis.log, or [log] dir).
# stdout is the import id.
id=$("$bin" -q --progress never submit "$bundle" --watch --once)
rc=$?
id=${id//[^0-9]/}
what="import ${id:-?}"

case $rc in
  0)   msg="OK: $what ended imported" ;;
  1)   msg="OK with warnings: $what ended imported_with_messages; read them: $bin errors $id" ;;
  2)   msg="FAILED: usage error (bad flag or option combination); nothing was sent" ;;
  3)   msg="FAILED: $what ended failed/failed_with_messages/aborted; see: $bin errors $id" ;;
  4)   msg="STILL RUNNING: $what did not finish within --max-polls; resume: $bin watch $id" ;;
  5)   msg="FAILED: Canvas answered 404 (account, term or import not found)" ;;
  6)   msg="HELD: the plan crossed a guard threshold; nothing was sent. Read the held line above, then: $bin approve RUN (or $bin discard RUN)" ;;
  65)  msg="FAILED: $bundle has validation errors; nothing was sent (run: $bin validate $bundle)" ;;
  66)  msg="FAILED: $bundle is missing or unreadable; nothing was sent" ;;
  69)  msg="FAILED: Canvas unreachable, failing or throttling past the retry budget" ;;
  74)  msg="FAILED: a local file or stdout could not be written (disk full?); see the error above" ;;
  75)  msg="SKIPPED: another run holds the lock, an import is running, or this bundle was already sent (--once)" ;;
  77)  msg="FAILED: the token was refused or lacks permission (401/403)" ;;
  78)  msg="FAILED: configuration error (URL, token, config file)" ;;
  130) if [ -n "$id" ]; then
         msg="INTERRUPTED: $what goes on in Canvas; resume: $bin watch $id"
       else
         msg="INTERRUPTED before Canvas answered; the error above says whether anything was sent"
       fi ;;
  *)   msg="FAILED: canvas-sis exited $rc" ;;
esac

if [ "$rc" -ne 0 ] || [ "$quiet_ok" != 1 ]; then
  echo "canvas-sis@$host: $msg (exit $rc)"
fi

case $rc in
  0|1) exit 0 ;;
  *)   exit "$rc" ;;
esac
