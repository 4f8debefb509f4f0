#!/usr/bin/env python3
"""Make bundle B from bundle A (a validate_gen.py directory) differing by about 5 %.

usage: plan_diff.py A_DIR B_DIR

Enrollments: every 40th dropped (2.5 %), and as many added for new users (2.5 %); users: the
new ones added, and every 20th existing user's last_name changed (5 %). Terms, courses and
sections are copied. B validates clean, as A does.
"""
import os
import shutil
import sys

a, b = sys.argv[1], sys.argv[2]
os.makedirs(b, exist_ok=True)
for name in ("terms.csv", "courses.csv", "sections.csv"):
    shutil.copyfile(os.path.join(a, name), os.path.join(b, name))

added = []
with open(os.path.join(a, "enrollments.csv")) as src, open(os.path.join(b, "enrollments.csv"), "w") as dst:
    dst.write(src.readline())
    buf = []
    for i, line in enumerate(src):
        if i % 40 == 39:
            # Dropped; an enrollment of a new user in the same section takes its place.
            f = line.split(",", 3)
            n = len(added)
            added.append(n)
            buf.append(f"{f[0]},{f[1]},N{n:07d},{f[3]}")
            continue
        buf.append(line)
        if len(buf) >= 10000:
            dst.write("".join(buf))
            buf = []
    dst.write("".join(buf))

with open(os.path.join(a, "users.csv")) as src, open(os.path.join(b, "users.csv"), "w") as dst:
    dst.write(src.readline())
    buf = []
    for i, line in enumerate(src):
        if i % 20 == 7:
            f = line.split(",")
            f[3] = f[3] + "x"
            line = ",".join(f)
        buf.append(line)
        if len(buf) >= 10000:
            dst.write("".join(buf))
            buf = []
    for n in added:
        buf.append(f"N{n:07d},nlogin{n},NFirst{n},NLast{n},new{n}@example.edu,active\n")
        if len(buf) >= 10000:
            dst.write("".join(buf))
            buf = []
    dst.write("".join(buf))
