#!/usr/bin/env python3
"""Write bundles with deliberately broken rows, one case per directory, for comparing the
validator's diagnostics between two builds (see bench/compare-diagnostics.sh).

usage: diag_mutants.py OUTDIR

Every case is small except `big-pipelined` (several thousand rows, so the row checks run
on the second thread) and `many-duplicates` (Canvas's >= 100 exact duplicate lines).
Plain Python 3, no dependencies; the output is the same on every run.
"""
import os
import random
import shutil
import sys
import zipfile

out = sys.argv[1]
if os.path.isdir(out):
    shutil.rmtree(out)
os.makedirs(out)

TERMS = [
    "term_id,name,status,start_date,end_date",
    "2026-FA,Fall 2026,active,2026-08-24T00:00:00Z,2026-12-18T23:59:59Z",
]
ACCOUNTS = [
    "account_id,parent_account_id,name,status",
    "ENG,,College of Engineering,active",
    "SCI,,College of Science,active",
]
USERS = [
    "user_id,login_id,first_name,last_name,email,status",
    "U1001,ajohnson,Alice,Johnson,ajohnson@example.edu,active",
    "U1002,bsmith,Bob,Smith,bsmith@example.edu,active",
    "U1003,cgarcia,Carmen,Garcia,cgarcia@example.edu,active",
    "T2001,tlee,Tom,Lee,tlee@example.edu,active",
]
COURSES = [
    "course_id,short_name,long_name,account_id,term_id,status",
    "ENGR101,ENGR 101,Introduction to Engineering,ENG,2026-FA,active",
    'BIO110,BIO 110,"Cells, Genes and Evolution",SCI,2026-FA,active',
]
SECTIONS = [
    "section_id,course_id,name,status",
    "ENGR101-01,ENGR101,ENGR 101 Section 01,active",
    "BIO110-01,BIO110,BIO 110 Section 01,active",
]
ENROLLMENTS = [
    "course_id,user_id,role,section_id,status,start_date,end_date,notify,role_id",
    "ENGR101,T2001,teacher,ENGR101-01,active,,,,",
    "ENGR101,U1001,student,ENGR101-01,active,2026-08-24,,,",
    "BIO110,U1002,student,BIO110-01,active,,,true,",
]
BASE = {
    "terms.csv": TERMS,
    "accounts.csv": ACCOUNTS,
    "users.csv": USERS,
    "courses.csv": COURSES,
    "sections.csv": SECTIONS,
    "enrollments.csv": ENROLLMENTS,
}

cases = []


def case(name, files, base=True, nl="\n"):
    """A bundle: the clean base files (unless base=False), with `files` replacing or
    adding some. A value is a list of lines (joined with `nl`, with a final one) or bytes."""
    all_files = dict(BASE) if base else {}
    all_files.update(files)
    cases.append((name, all_files, nl))


def edit(lines, *changes, add=()):
    """A copy of `lines` with (index, new line) changes and extra lines appended."""
    v = list(lines)
    for i, s in changes:
        v[i] = s
    v.extend(add)
    return v


case("clean", {})
case("bad-enums", {
    "users.csv": edit(USERS, (2, "U1002,bsmith,Bob,Smith,bsmith@example.edu,activ"),
                      add=["U1004,dd,D,D,dd@example.edu,Suspended_x",
                           "U1005,ee,E,E,ee@example.edu,zzz"]),
    "courses.csv": COURSES + ["C3,C 3,Course 3,ENG,2026-FA,publishd"],
    "enrollments.csv": ENROLLMENTS + ["BIO110,U1003,student,BIO110-01,actve,,,,"],
})
case("dates", {
    "terms.csv": TERMS + ["2027-SP,Spring 2027,active,2027-13-01,2027-05-30",
                          "2027-SU,Summer,active,01/02/2027,31/12/2027",
                          "2027-FA,Fall,active,13/25/2027,garbage"],
    "enrollments.csv": ENROLLMENTS + [
        "BIO110,U1003,student,BIO110-01,active,nope,also-nope,,",
        "BIO110,U1001,student,BIO110-01,active,2026-02-30,,,",
        "BIO110,T2001,teacher,,active,5/6/2026,2026-01-01 10:00:00-06:00,,",
        "ENGR101,U1002,ta,,active,2026-1-3 00:00:00,<delete>,,",
    ],
    "courses.csv": COURSES + ["C4,C 4,Course 4,ENG,2026-FA,active"],
})
case("emails-logins", {
    "users.csv": USERS + [
        "U1010,eve,Eve,E,not-an-email,active",
        "U1011,fay,Fay,F,fay@@example.edu,active",
        "U1012," + "x" * 101 + ",Long,L,l@example.edu,active",
        "U1013,bad\x01login,Ctl,C,c@example.edu,active",
        "U1014,tab\u200bthing,Zw,Z,z@example.edu,active",
    ],
})
case("duplicates", {
    "users.csv": USERS + [
        "U1001,other,Alice,Again,a2@example.edu,active",
        "U1020,AJohnson,Case,Login,c@example.edu,active",
        "U1021,bsmith,Same,Login,s@example.edu,active",
    ],
    "logins.csv": [
        "user_id,login_id,existing_user_id",
        "L1,bsmith,U1001",
        "L2,newlogin,U1002",
    ],
    "courses.csv": COURSES + ["ENGR101,ENGR 101 again,Dup,ENG,2026-FA,active"],
})
case("integration-ids", {
    "users.csv": [
        "user_id,login_id,integration_id,status",
        "A1,a1,INT1,active",
        "A2,a2,INT1,active",
        "A3,a3,INT3,active",
        "A3,a3,INT3,active",
    ],
})
case("missing-values", {
    "users.csv": USERS + [",nologin,N,N,n@example.edu,active",
                          "U1030,,N,N,n@example.edu,active",
                          "U1031,n31,N,N,n@example.edu,"],
    "sections.csv": SECTIONS + ["S3,,Section 3,active", "S4,ENGR101,,active",
                                "S5,ENGR101,,deleted"],
    "enrollments.csv": ENROLLMENTS + [",U1001,student,,active,,,,",
                                      "ENGR101,,student,,active,,,,",
                                      "ENGR101,U1002,,,active,,,,"],
    "terms.csv": TERMS + [",No id,active,,", "T9,,active,,"],
})
case("missing-columns", {
    "users.csv": ["user_id,login_id,first_name", "U1,l1,A"],
    "logins.csv": ["user_id,login_id,existing_user_id", "L9,l9,"],
    "admins.csv": ["user_id,account_id,status", "U1001,ENG,active"],
    "accounts.csv": ["account_id,parent_account_id", "X1,"],
})
case("header-problems", {
    "users.csv": ["user_id, login_id,first_name,first_name,emial,status,Status",
                  "U1001,ajohnson,A,B,x,active,active"],
    "courses.csv": ["course_id,short_name,long_name,account_id,term_id,status,coursformat",
                    "ENGR101,E,Engineering,ENG,2026-FA,active,online"],
})
case("unrecognized", {
    "users.csv": ["usr_id,login_id,status", "U1,l1,active"],
    "semicolons.csv": ["user_id;login_id;status", "U1;l1;active"],
    "tabs.csv": ["course_id\tshort_name\tlong_name\tstatus", "C\tS\tL\tactive"],
    "nothing.csv": ["foo,bar", "1,2"],
    "shadowed.csv": ["section_id,user_id,role,status,name", "ENGR101-01,U1001,student,active,x"],
})
case("row-lengths", {
    "users.csv": USERS + ["U1040,l40,A", "U1041,l41,A,B,a@example.edu,active,extra,more",
                          "U1042,l42,A,B,a@example.edu,active,,  ,"],
    "terms.csv": TERMS + ["2030"],
})
case("nul", {
    "users.csv": USERS + ["U1050,l50,A\x00,B,a@example.edu,active"],
    "enrollments.csv": ENROLLMENTS + ["ENGR101,U1001,student\x00,,active,,,,"],
    "courses.csv": ["course_id\x00,short_name,long_name,status", "C1,S,L,active"],
})
case("stray-quote", {"users.csv": USERS + ['U1060,l"60,A,B,a@example.edu,active']})
case("text-after-quote", {"users.csv": USERS + ['U1061,"l61" x,A,B,a@example.edu,active']})
case("unterminated", {"users.csv": USERS + ['U1062,"l62,A,B,a@example.edu,active',
                                            "U1063,l63,A,B,a@example.edu,active"]})
case("too-many-fields", {"users.csv": b"user_id,login_id,status\nU1,l1," + b"," * (1 << 20) + b"\n"})
case("mixed-endings", {"users.csv": b"user_id,login_id,status\r\nU1,l1,active\nU2,l2,active\r\n"})
case("latin1", {"users.csv": b"user_id,login_id,first_name,status\nU1,l1,Jos\xe9,active\n"})
case("cp1252", {"users.csv": b"user_id,login_id,first_name,status\nU1,l1,\x93Q\x94,active\n"})
case("utf16", {"users.csv": "user_id,login_id,status\nU1,l1,active\n".encode("utf-16")})
case("bom-and-empty", {
    "users.csv": b"\xef\xbb\xbfuser_id,login_id,status\nU1,l1,active\n",
    "bom-only.csv": b"\xef\xbb\xbf",
    "empty.csv": b"",
    "blank.csv": b"\n\n\n",
    "header-only.csv": b"section_id,course_id,name,status\n",
})
case("references", {
    "enrollments.csv": ENROLLMENTS + [
        "ENGR101,U9999,student,ENGR101-01,active,,,,",
        "ENGR101,U9999,student,,active,,,,",
        "NOPE101,U9999,student,NOPE-01,active,,,,",
        "BIO110,U1002,observer,BIO110-01,active,,,,",
    ],
    "sections.csv": SECTIONS + ["S-X,MISSING,Section X,active"],
    "accounts.csv": ["account_id,parent_account_id,name,status",
                     "SUB1,LATER,Sub one,active", "LATER,,Later parent,active",
                     "SUB2,NOWHERE,Sub two,active"],
})
case("group-categories", {
    "group_categories.csv": [
        "group_category_id,category_name,account_id,course_id,status",
        "GC1,Projects,ENG,,active",
        "GC2,Projects,ENG,,active",
        "GC3,Projects,,ENGR101,active",
        "GC4,Projects,,ENGR101,active",
        "GC5,Labs,ENG,ENGR101,active",
        "GC6,Root,,,active",
        "GC7,Root,,,active",
        "GC8,Projects,ENG,,deleted",
    ],
    "groups.csv": ["group_id,name,group_category_id,account_id,course_id,status",
                   "G1,Group 1,GC1,ENG,ENGR101,active", "G2,Group 2,GCX,,,available"],
})
case("change-sis-id", {
    "change_sis_ids.csv": [
        "old_id,new_id,old_integration_id,new_integration_id,type",
        "A,B,,,user",
        ",,,,course",
        "G1,G2,I1,,group_category",
        "X,Y,,,widget",
        "P,,,,term",
    ],
})
case("ints-bools", {
    "enrollments.csv": ENROLLMENTS + [
        "ENGR101,U1001,,ENGR101-01,active,,,maybe,abc",
        "ENGR101,U1002,student,ENGR101-01,active,,,YES,",
        "ENGR101,U1003,student,ENGR101-01,active,,,,12x",
    ],
    "users.csv": edit(USERS, (0, USERS[0] + ",declared_user_type,home_account"),
                      (1, USERS[1] + ",teacherz,nah"), (2, USERS[2] + ",<delete>,1"),
                      (3, USERS[3] + ",,"), (4, USERS[4] + ",staff,false")),
})
case("terms-overrides", {
    "terms.csv": [
        "term_id,name,status,start_date,end_date,date_override_enrollment_type",
        "T1,Term 1,active,2026-01-01,2026-05-01,",
        "T1,,active,2026-01-01,2026-05-01,StudentEnrollment",
        "T1,,active,2026-01-01,2026-05-01,studentenrollment",
        "T2,Term 2,deleted,,,",
        "T3,Term 3,Active,,,",
    ],
})
case("other-kinds", {
    "xlists.csv": ["xlist_course_id,section_id,status", "X1,ENGR101-01,active",
                   "X2,NOSECTION,Active", ",BIO110-01,active"],
    "admins.csv": ["user_id,account_id,role,status", "U1001,ENG,AccountAdmin,active",
                   "U1002,,,active", "U9,ENG,AccountAdmin,Deleted"],
    "group_memberships.csv": ["group_id,user_id,status", "G1,U1001,accepted", "G9,U1,bogus"],
    "observers.csv": ["observer_id,student_id,status", "U1001,U1002,active",
                      "U1003,U1003,active", "U1,,active"],
    "institutional_tag_categories.csv": ["category_id,name,status", "IC1,Cat,active",
                                         "IC2,,active"],
    "institutional_tags.csv": ["institutional_tag_id,category_id,name,status",
                               "IT1,IC1,Tag,active", "IT2,IC9,Tag2,"],
    "grade_publishing.csv": ["enrollment_id,grade_publishing_status", "1,published",
                             "x,nope"],
    "abstract_courses.csv": ["abstract_course_id,short_name,long_name,status,term_id",
                             "AC1,A,Abstract,active,2026-FA", "AC2,,,active,NOTERM"],
    "tag_sets.csv": ["tag_set_id,set_name,course_id,status", "TS1,Set,ENGR101,active",
                     "TS2,,ENGR101,active"],
    "tags.csv": ["tag_id,name,tag_set_id,course_id,status", "TG1,Tag,TS1,ENGR101,available",
                 "TG2,Tag2,TS9,,deleted"],
})
case("quoted-multiline", {
    "courses.csv": COURSES + [
        'C5,"C, 5","Course\nfive",ENG,2026-FA,bogus',
        '"C6","C 6","Course ""six""",ENG,2026-FA,active',
        'C7,C 7,"Multi\nline\nname",ENG,2026-FA,',
        '"C8 ",  C 8 ,Course 8,ENG,2026-FA,  active  ',
    ],
})
case("blank-and-empty-rows", {
    "users.csv": USERS[:2] + ["", ",,,,,", "  ,\t,,,,", ""] + USERS[2:] + [
        "U1070,l70,A,B,bad-mail,actve"],
})
case("crlf", {"users.csv": USERS + ["U1080,l80,A,B,bad@,zzz", "U1080,l81,A,B,ok@example.edu,active"]},
     nl="\r\n")
case("cr-only", {"users.csv": USERS + ["U1081,l81,A,B,bad@,zzz"]}, nl="\r")
case("no-final-newline", {
    "users.csv": ("\n".join(USERS + ["U1090,l90,A,B,a@example.edu,zzz"])).encode(),
    "terms.csv": b"term_id,name,status\nT5,Five,active,",
})
case("many-diagnostics", {
    "users.csv": USERS + [f"U2{i:03d},l2{i:03d},A,B,bad{i},activ" for i in range(150)],
})
case("only-wrong", {"notes.txt": b"hello\n", "data.xml": b"<a/>"}, base=False)

# Several batches of rows (the row checks on the second thread), with mutations spread
# through them, and references to users defined and undefined.
rnd = random.Random(7)
big_users = ["user_id,login_id,first_name,last_name,email,status,integration_id"]
for i in range(6000):
    email = f"u{i}@example.edu" if i % 613 else "broken"
    status = "active" if i % 997 else "actve"
    login = f"login{i}" if i % 1201 else f"login{i - 1}"
    integ = f"I{i}" if i % 1500 else "I3"
    big_users.append(f"U{i:05d},{login},F{i},L{i},{email},{status},{integ}")
big_enr = ["course_id,section_id,user_id,role,status,start_date,end_date,notify"]
for i in range(20000):
    u = rnd.randrange(6100)
    date = "2026-01-12" if i % 1777 else "2026-13-12"
    notify = "" if i % 2333 else "perhaps"
    row = f"ENGR101,ENGR101-01,U{u:05d},student,active,{date},2026-05-30,{notify}"
    if i % 4999 == 17:
        row += ",extra"
    if i % 3001 == 5:
        row = "ENGR101,ENGR101-01"
    if i % 1000 == 999:
        big_enr.append("")
    big_enr.append(row)
case("big-pipelined", {"users.csv": big_users, "enrollments.csv": big_enr})

dup_rows = ["course_id,user_id,role,status"]
for i in range(400):
    dup_rows.append(f"ENGR101,U{i % 150:04d},student,active")
dup_rows.insert(200, '"ENGR101","U0001",student,active')
case("many-duplicates", {"enrollments.csv": dup_rows,
                         "users.csv": ["user_id,login_id,status"] +
                         [f"U{i:04d},l{i},active" for i in range(150)]})

for name, files, nl in cases:
    d = os.path.join(out, name)
    os.makedirs(d)
    for fname, content in files.items():
        data = content if isinstance(content, bytes) else (nl.join(content) + nl).encode()
        with open(os.path.join(d, fname), "wb") as f:
            f.write(data)

# Two cases again as zips (zip entries are validated through the same CSV path), one
# with a sub-folder.
for name in ["bad-enums", "dates", "big-pipelined"]:
    src = os.path.join(out, name)
    with zipfile.ZipFile(os.path.join(out, f"{name}.zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for fname in sorted(os.listdir(src)):
            arc = fname if name != "dates" else f"2026/{fname}"
            z.write(os.path.join(src, fname), arc)

print(f"{len(cases)} bundles and 3 zips in {out}")
