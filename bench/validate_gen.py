#!/usr/bin/env python3
"""Generate a clean SIS bundle: N enrollments with matching users, courses, sections, terms.

usage: validate_gen.py OUTDIR [ENROLLMENTS] [USERS] [COURSES]

USERS defaults to ENROLLMENTS/10 and COURSES to ENROLLMENTS/200 (two sections each); setting
them keeps the id sets fixed while the row count grows.
"""
import os
import random
import sys

out = sys.argv[1]
n_enr = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
n_users = int(sys.argv[3]) if len(sys.argv) > 3 else max(10, n_enr // 10)
n_courses = int(sys.argv[4]) if len(sys.argv) > 4 else max(2, n_enr // 200)
n_sections = n_courses * 2
os.makedirs(out, exist_ok=True)
rnd = random.Random(42)

with open(os.path.join(out, "terms.csv"), "w") as f:
    f.write("term_id,name,status,start_date,end_date\n")
    f.write("T2026,Spring 2026,active,2026-01-10T00:00:00Z,2026-05-30T00:00:00Z\n")

with open(os.path.join(out, "users.csv"), "w") as f:
    f.write("user_id,login_id,first_name,last_name,email,status\n")
    for i in range(n_users):
        f.write(f"U{i:07d},login{i},First{i},Last{i},user{i}@example.edu,active\n")

with open(os.path.join(out, "courses.csv"), "w") as f:
    f.write("course_id,short_name,long_name,account_id,term_id,status,start_date\n")
    for i in range(n_courses):
        f.write(f'C{i:05d},CRS{i},"Course {i}, section A",,T2026,active,2026-01-12\n')

with open(os.path.join(out, "sections.csv"), "w") as f:
    f.write("section_id,course_id,name,status\n")
    for i in range(n_sections):
        f.write(f"S{i:06d},C{i // 2:05d},Section {i},active\n")

roles = ["student"] * 18 + ["teacher", "ta"]
with open(os.path.join(out, "enrollments.csv"), "w") as f:
    f.write("course_id,section_id,user_id,role,status,start_date,end_date\n")
    buf = []
    for i in range(n_enr):
        # (section, user) pairs are unique: no exact duplicate lines.
        u = i % n_users
        s = (i // n_users + u * 31 + rnd.randrange(7) * 0) % n_sections
        buf.append(
            f"C{s // 2:05d},S{s:06d},U{u:07d},{roles[i % 20]},active,2026-01-12T00:00:00Z,2026-05-30T00:00:00Z\n"
        )
        if len(buf) >= 10000:
            f.write("".join(buf))
            buf = []
    f.write("".join(buf))
