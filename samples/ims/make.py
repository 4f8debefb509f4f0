#!/usr/bin/env python3
"""Write a small, realistic IMS Enterprise 1.1 file (reference §10.2): one term, courses and
their sections, instructors and students, and the section memberships, as a Banner-style SIS
export would. Deterministic (no clock, no randomness): running it again gives the same bytes.

    python3 samples/ims/make.py                       # samples/ims/enterprise.xml
    python3 samples/ims/make.py --persons 500000 --members-per-section 40 --out big.xml
    python3 samples/ims/make.py --persons 50000 --sections-per-student 8 --out deep.xml

The last two forms are what bench/xml.sh uses: large files of persons and memberships, and
files that grow by memberships over a fixed set of persons.
Standard library only.
"""

import argparse
import os
import sys

FIRST = ["Ada", "Bea", "Cyd", "Dov", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kit", "Lou"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski"]
SUBJECTS = [("BIO", "Biology"), ("CHEM", "Chemistry"), ("HIST", "History"), ("MATH", "Calculus")]
TERM = "2026FA"


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sourcedid(out, ind, ident):
    out.append(f"{ind}<sourcedid>\n")
    out.append(f"{ind}  <source>Banner</source>\n")
    out.append(f"{ind}  <id>{esc(ident)}</id>\n")
    out.append(f"{ind}</sourcedid>\n")


def person(out, pid, first, last, login, role):
    out.append('  <person recstatus="1">\n')
    sourcedid(out, "    ", pid)
    out.append(f"    <userid>{esc(login)}</userid>\n")
    out.append("    <name>\n")
    out.append(f"      <fn>{esc(first)} {esc(last)}</fn>\n")
    out.append(f"      <n><family>{esc(last)}</family><given>{esc(first)}</given></n>\n")
    out.append("    </name>\n")
    out.append(f"    <email>{esc(login)}@example.edu</email>\n")
    out.append(f'    <institutionrole primaryrole="Yes" institutionroletype="{role}"/>\n')
    out.append("  </person>\n")


def group(out, gid, level, typevalue, short, long_, begin=None, end=None, parent=None):
    out.append('  <group recstatus="1">\n')
    sourcedid(out, "    ", gid)
    out.append("    <grouptype>\n")
    out.append("      <scheme>Luminis</scheme>\n")
    out.append(f'      <typevalue level="{level}">{typevalue}</typevalue>\n')
    out.append("    </grouptype>\n")
    out.append("    <description>\n")
    out.append(f"      <short>{esc(short)}</short>\n")
    out.append(f"      <long>{esc(long_)}</long>\n")
    out.append("    </description>\n")
    if begin:
        out.append("    <timeframe>\n")
        out.append(f'      <begin restrict="1">{begin}</begin>\n')
        out.append(f'      <end restrict="1">{end}</end>\n')
        out.append("    </timeframe>\n")
    if parent:
        out.append('    <relationship relation="1">\n')
        sourcedid(out, "      ", parent[0])
        out.append(f"      <label>{parent[1]}</label>\n")
        out.append("    </relationship>\n")
    out.append("  </group>\n")


def membership(out, gid, members):
    out.append("  <membership>\n")
    sourcedid(out, "    ", gid)
    for pid, roletype in members:
        out.append("    <member>\n")
        sourcedid(out, "      ", pid)
        out.append("      <idtype>1</idtype>\n")
        out.append(f'      <role roletype="{roletype}">\n')
        out.append("        <status>1</status>\n")
        out.append("        <timeframe>\n")
        out.append('          <begin restrict="0">2026-08-24</begin>\n')
        out.append('          <end restrict="0">2026-12-18</end>\n')
        out.append("        </timeframe>\n")
        out.append("      </role>\n")
        out.append("    </member>\n")
    out.append("  </membership>\n")


def generate(w, persons, per_section, rounds=1):
    """Write the file to `w` in chunks (a large file never sits in memory)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n', "<enterprise>\n", "  <properties>\n",
           "    <datasource>Banner</datasource>\n",
           "    <datetime>2026-08-01T02:00:00</datetime>\n", "  </properties>\n"]
    instructors = max(2, persons // 25)
    students = persons - instructors
    pids = []
    for i in range(persons):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        teacher = i < instructors
        pid = f"{'T' if teacher else 'S'}{i + 1:07d}"
        login = f"{first.lower()}.{last.lower()}{i + 1}"
        person(out, pid, first, last, login, "Faculty" if teacher else "Student")
        pids.append(pid)
        if len(out) > 4096:
            w.write("".join(out))
            out.clear()
    # Groups: the term, then per subject a course and its sections.
    blocks = max(1, students // per_section)
    # Each student is in `rounds` sections: the file grows, the ids (persons) do not.
    sections = blocks * rounds
    courses = max(1, sections // 2)
    group(out, TERM, 1, "Term", "Fall 2026", "Fall Semester 2026", "2026-08-24", "2026-12-18")
    sec_ids = []
    for c in range(courses):
        code, title = SUBJECTS[c % len(SUBJECTS)]
        cid = f"{TERM}-{code}{101 + c}"
        group(out, cid, 2, "Course", f"{code}{101 + c}", f"{title} {101 + c}",
              parent=(TERM, "Term"))
        for s in range(2):
            if len(sec_ids) == sections:
                break
            sid = f"{cid}-{s + 1:02d}"
            group(out, sid, 3, "Section", f"{code}{101 + c}-{s + 1:02d}",
                  f"{title} {101 + c} section {s + 1}", parent=(cid, "Parent"))
            sec_ids.append(sid)
        if len(out) > 4096:
            w.write("".join(out))
            out.clear()
    # Memberships: each section its instructor and its block of students.
    for n, sid in enumerate(sec_ids):
        members = [(pids[n % instructors], "02")]
        start = instructors + (n % blocks) * per_section
        members += [(pids[start + k], "01") for k in range(per_section)
                    if start + k < persons]
        membership(out, sid, members)
        if len(out) > 4096:
            w.write("".join(out))
            out.clear()
    out.append("</enterprise>\n")
    w.write("".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--persons", type=int, default=18)
    ap.add_argument("--members-per-section", type=int, default=4)
    ap.add_argument("--sections-per-student", type=int, default=1)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "enterprise.xml"))
    a = ap.parse_args()
    if a.out == "-":
        generate(sys.stdout, a.persons, a.members_per_section, a.sections_per_student)
    else:
        with open(a.out, "w", encoding="utf-8", newline="\n") as w:
            generate(w, a.persons, a.members_per_section, a.sections_per_student)


if __name__ == "__main__":
    main()
