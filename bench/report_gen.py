#!/usr/bin/env python3
"""Write a run archive of N nightly runs (run.json and errors.csv each), as canvas-sis keeps
it, for bench/report.sh. Deterministic; standard library only.

    python3 bench/report_gen.py DIR [N_RUNS] [ROWS_PER_RUN]
"""
import csv
import datetime
import json
import os
import random
import sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 365
rows_per_run = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = random.Random(42)
os.makedirs(out, exist_ok=True)
# Runs end `n` days before now, one a night, so that `--since` windows are easy to reason about.
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
templates = [
    ("users.csv", "Improper status for user {}", False),
    ("enrollments.csv", "User not found for enrollment (User ID: {}, Course ID: C{}, Section ID: , Role: student)", False),
    ("courses.csv", "Improper status \"archived\" for course C{}", False),
    ("users.csv", "An existing Canvas user with the SIS ID {} has already claimed {}'s requested login information, skipping", False),
    ("enrollments.csv", "Neither course nor section existed for user enrollment (Course ID: C{}, Section ID: S{}, User ID: {})", True),
]
for i in range(n):
    t = now - datetime.timedelta(days=n - i, hours=-2)
    run_id = t.strftime("%Y%m%dT%H%M%SZ") + "-%d" % (1000 + i)
    folder = os.path.join(out, run_id)
    os.makedirs(folder, exist_ok=True)
    state = rng.choices(["imported", "imported_with_messages", "failed_with_messages"], [5, 12, 1])[0]
    warnings = 0 if state == "imported" else rng.randint(1, rows_per_run)
    errors = 1 if state == "failed_with_messages" else 0
    duration = rng.randint(120, 1800)
    ended = t + datetime.timedelta(seconds=duration)
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
    run = {
        "run_id": run_id, "submitted_at": iso(t), "profile": None,
        "base_url": "https://canvas.example.edu/", "account": "self", "import_id": 5000 + i,
        "bundle": {"path": "/var/sis/lms_daily.zip", "bytes": 80_000_000 + rng.randint(0, 10**6),
                   "sha256": "%064x" % rng.getrandbits(256)},
        "options": [["import_type", "instructure_csv"], ["extension", "zip"]],
        "states": [{"state": "created", "at": iso(t)}, {"state": "importing", "at": iso(t)},
                   {"state": state, "at": iso(ended)}],
        "ended_at": iso(ended), "state": state, "duration_s": duration,
        "rows": {"user": 40000 + rng.randint(0, 500), "course": 2000, "section": 4000,
                 "enrollment": 400000 + rng.randint(0, 5000)},
        "warnings": warnings, "errors": errors, "exit_code": {"imported": 0}.get(state, 1 if errors == 0 else 3),
        "held": False, "sis_import": None,
    }
    with open(os.path.join(folder, "run.json"), "w") as f:
        json.dump(run, f)
    with open(os.path.join(folder, "errors.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sis_import_id", "file", "message", "row", "row_info", "failure"])
        for k in range(warnings + errors):
            file, tpl, failure = rng.choice(templates)
            failure = failure and k >= warnings
            w.writerow([5000 + i, file, tpl.format(*(rng.randint(1, 99999) for _ in range(3))),
                        rng.randint(2, 400000), "", "true" if failure else "false"])
