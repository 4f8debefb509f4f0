#!/usr/bin/env python3
"""Write the OneRoster 1.1 CSV sample bundles of this folder (deterministic, stdlib only).

    python3 samples/oneroster/make.py            # the committed samples, next to this script
    python3 samples/oneroster/make.py --big N DIR  # a district with N enrollments (bench/convert.sh)

Samples (each a folder with manifest.csv):
  district/           bulk, OneRoster 1.1 headers, LF: 1 district, 2 schools, a school year with
                      two semesters and a grading period, 3 courses, 5 classes, teachers, an
                      aide, an administrator, students (one disabled), a guardian and a parent
  district-v12/       the same district with 1.2-style headers: oneroster.version 1.2, extra
                      1.2 columns (preferredGivenName, pronouns, metadata.*), columns reordered
  district-crlf-bom/  the same district as Windows tools write it: UTF-8 BOM and CRLF
  delta/              a delta export: one class and one enrollment tobedeleted, a user update
"""

import csv
import io
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STAMP = "2025-08-01T06:00:00Z"

H = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
    "courses": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate",
}
FILES = ["orgs", "academicSessions", "courses", "classes", "users", "enrollments"]


def district():
    """The sample district, as dicts keyed by the 1.1 column names (bulk: status blank)."""
    d = {f: [] for f in FILES}

    def add(f, **kw):
        row = {c: "" for c in H[f].split(",")}
        row.update(kw)
        d[f].append(row)

    add("orgs", sourcedId="org-d1", name="Maple Valley School District", type="district", identifier="MVSD")
    add("orgs", sourcedId="org-hs", name="Maple Valley High School", type="school", identifier="0457", parentSourcedId="org-d1")
    add("orgs", sourcedId="org-ms", name="Cedar Ridge Middle School", type="school", identifier="0458", parentSourcedId="org-d1")

    add("academicSessions", sourcedId="as-2026", title="2025-2026", type="schoolYear", startDate="2025-08-18", endDate="2026-06-12", schoolYear="2026")
    add("academicSessions", sourcedId="as-2026-s1", title="Fall 2025", type="semester", startDate="2025-08-18", endDate="2026-01-16", parentSourcedId="as-2026", schoolYear="2026")
    add("academicSessions", sourcedId="as-2026-s2", title="Spring 2026", type="semester", startDate="2026-01-20", endDate="2026-06-12", parentSourcedId="as-2026", schoolYear="2026")
    add("academicSessions", sourcedId="as-2026-q1", title="Quarter 1", type="gradingPeriod", startDate="2025-08-18", endDate="2025-10-24", parentSourcedId="as-2026-s1", schoolYear="2026")

    add("courses", sourcedId="crs-alg1", schoolYearSourcedId="as-2026", title="Algebra I", courseCode="MATH-ALG1", grades="09", orgSourcedId="org-hs", subjects="Mathematics")
    add("courses", sourcedId="crs-bio", schoolYearSourcedId="as-2026", title="Biology", courseCode="SCI-BIO", grades="09,10", orgSourcedId="org-hs", subjects="Science")
    add("courses", sourcedId="crs-ela7", schoolYearSourcedId="as-2026", title="English Language Arts 7", courseCode="ELA-7", grades="07", orgSourcedId="org-ms", subjects="English")

    add("classes", sourcedId="cls-alg1-p1", title="Algebra I - Period 1", grades="09", courseSourcedId="crs-alg1", classCode="ALG1-01", classType="scheduled", location="Room 112", schoolSourcedId="org-hs", termSourcedIds="as-2026-s1", periods="1")
    add("classes", sourcedId="cls-alg1-p3", title="Algebra I - Period 3", grades="09", courseSourcedId="crs-alg1", classCode="ALG1-03", classType="scheduled", location="Room 112", schoolSourcedId="org-hs", termSourcedIds="as-2026-s1", periods="3")
    add("classes", sourcedId="cls-bio-p2", title="Biology - Period 2", grades="09,10", courseSourcedId="crs-bio", classCode="BIO-02", classType="scheduled", location="Lab 3", schoolSourcedId="org-hs", termSourcedIds="as-2026-s2", periods="2")
    add("classes", sourcedId="cls-ela7-p4", title="ELA 7 - Period 4", grades="07", courseSourcedId="crs-ela7", classCode="ELA7-04", classType="scheduled", location="Room 204", schoolSourcedId="org-ms", termSourcedIds="as-2026-q1", periods="4")
    add("classes", sourcedId="cls-hr-7b", title="Homeroom 7B", grades="07", courseSourcedId="crs-ela7", classCode="HR-7B", classType="homeroom", location="Room 204", schoolSourcedId="org-ms", termSourcedIds="as-2026-s1,as-2026-s2")

    def user(sid, role, org, given, family, agents="", enabled="true", grades=""):
        uname = (given[0] + family).lower().replace(" ", "").replace("'", "")
        add("users", sourcedId=sid, enabledUser=enabled, orgSourcedIds=org, role=role, username=uname,
            userIds="{SIS:%s}" % sid.upper(), givenName=given, familyName=family, identifier=sid.upper(),
            email=uname + "@maplevalley.k12.example.us", agentSourcedIds=agents, grades=grades)

    user("usr-t-okafor", "teacher", "org-hs", "Grace", "Okafor")
    user("usr-t-lindqvist", "teacher", "org-hs,org-ms", "Erik", "Lindqvist")
    user("usr-t-ramos", "teacher", "org-ms", "Lucia", "Ramos")
    user("usr-a-chen", "aide", "org-ms", "Wei", "Chen")
    user("usr-adm-patel", "administrator", "org-d1", "Anita", "Patel")
    user("usr-s-1001", "student", "org-hs", "Maya", "Johnson", agents="usr-g-johnson", grades="09")
    user("usr-s-1002", "student", "org-hs", "Liam", "O'Brien", grades="09")
    user("usr-s-1003", "student", "org-hs", "Sofia", "Nguyen", grades="10")
    user("usr-s-2001", "student", "org-ms", "Noah", "Williams", grades="07")
    user("usr-s-2002", "student", "org-ms", "Ava", "Martinez", grades="07")
    user("usr-s-2003", "student", "org-ms", "Ethan", "Brown", enabled="false", grades="07")
    user("usr-g-johnson", "guardian", "org-hs", "Denise", "Johnson", agents="usr-s-1001")
    user("usr-p-williams", "parent", "org-ms", "Marcus", "Williams", agents="usr-s-2001")

    n = [0]

    def enr(cls, school, usr, role, primary="false", begin="", end=""):
        n[0] += 1
        add("enrollments", sourcedId="enr-%04d" % n[0], classSourcedId=cls, schoolSourcedId=school,
            userSourcedId=usr, role=role, primary=primary, beginDate=begin, endDate=end)

    enr("cls-alg1-p1", "org-hs", "usr-t-okafor", "teacher", "true", "2025-08-18", "2026-01-16")
    enr("cls-alg1-p3", "org-hs", "usr-t-okafor", "teacher", "true")
    enr("cls-bio-p2", "org-hs", "usr-t-lindqvist", "teacher", "true")
    enr("cls-ela7-p4", "org-ms", "usr-t-ramos", "teacher", "true")
    enr("cls-hr-7b", "org-ms", "usr-t-lindqvist", "teacher", "true")
    enr("cls-ela7-p4", "org-ms", "usr-a-chen", "aide")
    enr("cls-bio-p2", "org-hs", "usr-adm-patel", "administrator")
    for s in ["usr-s-1001", "usr-s-1002"]:
        enr("cls-alg1-p1", "org-hs", s, "student", begin="2025-08-18", end="2026-01-16")
    enr("cls-alg1-p3", "org-hs", "usr-s-1003", "student")
    for s in ["usr-s-1001", "usr-s-1002", "usr-s-1003"]:
        enr("cls-bio-p2", "org-hs", s, "student")
    for s in ["usr-s-2001", "usr-s-2002", "usr-s-2003"]:
        enr("cls-ela7-p4", "org-ms", s, "student")
        enr("cls-hr-7b", "org-ms", s, "student")
    return d


def write_csv(path, header, rows, eol="\n", bom=False):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=eol)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(c, "") for c in header])
    data = buf.getvalue().encode("utf-8")
    if bom:
        data = b"\xef\xbb\xbf" + data
    with open(path, "wb") as f:
        f.write(data)


def write_bundle(out, d, modes, version="1.1", headers=None, eol="\n", bom=False):
    os.makedirs(out, exist_ok=True)
    man = [{"propertyName": "manifest.version", "value": "1.0"},
           {"propertyName": "oneroster.version", "value": version}]
    for f in ["academicSessions", "categories", "classes", "classResources", "courses",
              "courseResources", "demographics", "enrollments", "lineItems", "orgs",
              "resources", "results", "users"]:
        man.append({"propertyName": "file." + f, "value": modes.get(f, "absent")})
    man.append({"propertyName": "source.systemName", "value": "Sample SIS"})
    man.append({"propertyName": "source.systemCode", "value": "sample"})
    write_csv(os.path.join(out, "manifest.csv"), ["propertyName", "value"], man, eol, bom)
    for f in FILES:
        if modes.get(f, "absent") == "absent":
            continue
        header = (headers or {}).get(f, H[f].split(","))
        write_csv(os.path.join(out, f + ".csv"), header, d[f], eol, bom)


def v12_headers():
    """1.2-style: extra 1.2 columns, metadata.* extensions, and a different column order."""
    h = {f: H[f].split(",") for f in FILES}
    u = h["users"]
    u.remove("password")
    u[u.index("givenName"):u.index("givenName")] = ["preferredGivenName"]
    h["users"] = u + ["userMasterIdentifier", "pronouns", "metadata.district.homeroom"]
    h["classes"] = ["sourcedId", "status", "dateLastModified", "title", "classCode", "classType",
                    "courseSourcedId", "schoolSourcedId", "termSourcedIds", "grades", "location",
                    "subjects", "subjectCodes", "periods", "resourceSourcedIds"]
    h["orgs"] = h["orgs"] + ["metadata.ncesId"]
    return h


def delta():
    d = {f: [] for f in FILES}
    full = district()
    pick = lambda f, sid: dict(next(r for r in full[f] if r["sourcedId"] == sid))
    for f, sid, status in [
        ("classes", "cls-alg1-p3", "tobedeleted"),
        ("users", "usr-s-1002", "active"),
        ("enrollments", "enr-0010", "tobedeleted"),
        ("enrollments", "enr-0011", "active"),
    ]:
        r = pick(f, sid)
        r["status"] = status
        r["dateLastModified"] = "2025-09-02T06:00:00Z"
        d[f].append(r)
    d["users"][0]["familyName"] = "O'Brien-Walsh"
    return d


def big(n, out):
    """A district with n enrollments: 20 students per class, 5 classes per student."""
    d = {f: [] for f in FILES}
    base = district()
    d["orgs"] = base["orgs"]
    d["academicSessions"] = base["academicSessions"]
    d["courses"] = base["courses"]
    classes = max(1, n // 25)
    students = max(1, classes * 20 // 5)
    schools = ["org-hs", "org-ms"]
    for c in range(classes):
        d["classes"].append({"sourcedId": "cls-%07d" % c, "title": "Class %d" % c, "courseSourcedId": "crs-alg1",
                             "classCode": "C%d" % c, "classType": "scheduled", "schoolSourcedId": schools[c % 2],
                             "termSourcedIds": "as-2026-s1" if c % 2 else "as-2026-s2"})
    for t in range(classes // 5 + 1):
        d["users"].append({"sourcedId": "t%07d" % t, "enabledUser": "true", "orgSourcedIds": "org-hs", "role": "teacher",
                           "username": "t%07d" % t, "givenName": "T", "familyName": "Teacher %d" % t,
                           "email": "t%07d@example.edu" % t})
    for s in range(students):
        d["users"].append({"sourcedId": "s%07d" % s, "enabledUser": "true", "orgSourcedIds": "org-hs", "role": "student",
                           "username": "s%07d" % s, "givenName": "S", "familyName": "Student %d" % s,
                           "email": "s%07d@example.edu" % s})
    os.makedirs(out, exist_ok=True)
    modes = {f: "bulk" for f in FILES}
    write_bundle(out, d, {f: m for f, m in modes.items() if f != "enrollments"})
    # enrollments streamed: n rows, without building them in memory.
    with open(os.path.join(out, "enrollments.csv"), "w", newline="") as f:
        f.write(H["enrollments"] + "\n")
        i = 0
        for c in range(classes):
            f.write("e%08d,,,cls-%07d,%s,t%07d,teacher,true,2025-08-18,2026-01-16\n" % (i, c, schools[c % 2], c // 5))
            i += 1
        k = 0
        while i < n:
            # Each student in distinct classes: round r puts student st in class 13*st + 101*r.
            st, r = k % students, k // students
            c = (st * 13 + r * 101) % classes
            f.write("e%08d,,,cls-%07d,%s,s%07d,student,false,,\n" % (i, c, schools[c % 2], st))
            i += 1
            k += 1
    man = os.path.join(out, "manifest.csv")
    text = open(man).read().replace("file.enrollments,absent", "file.enrollments,bulk")
    open(man, "w").write(text)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--big":
        big(int(sys.argv[2]), sys.argv[3])
        return
    bulk = {f: "bulk" for f in FILES}
    d = district()
    write_bundle(os.path.join(HERE, "district"), d, bulk)
    write_bundle(os.path.join(HERE, "district-v12"), d, bulk, version="1.2", headers=v12_headers())
    write_bundle(os.path.join(HERE, "district-crlf-bom"), d, bulk, eol="\r\n", bom=True)
    write_bundle(os.path.join(HERE, "delta"), delta(),
                 {"classes": "delta", "users": "delta", "enrollments": "delta"})


if __name__ == "__main__":
    main()
