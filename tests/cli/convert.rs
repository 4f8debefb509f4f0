//! `convert oneroster PATH -o OUT.zip`: the real binary on the OneRoster samples
//! (`samples/oneroster/`, written by its `make.py`) and on copies of them with one thing
//! broken. Each bad-input rule: exit 65, the diagnostic at FILE:LINE, and no OUT.zip (nor a
//! temporary file) left in the output directory. Each converted sample passes `validate`.

use std::collections::BTreeMap;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::*;

const SAMPLES: &[&str] = &["district", "district-v12", "district-crlf-bom", "delta"];

/// A temp dir with a copy of a sample bundle in `in/`, and `out/` for the zip.
struct Fx {
    home: tempfile::TempDir,
}

impl Fx {
    fn new(sample: &str) -> Fx {
        let home = tempfile::tempdir().unwrap();
        let dir = home.path().join("in");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(home.path().join("out")).unwrap();
        for e in std::fs::read_dir(sample_dir("oneroster").join(sample))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        Fx { home }
    }
    fn input(&self) -> PathBuf {
        self.home.path().join("in")
    }
    fn out(&self) -> PathBuf {
        self.home.path().join("out/canvas.zip")
    }
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.input().join(file)).unwrap()
    }
    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.input().join(file), text).unwrap();
    }
    /// Replace the value of `col` on physical line `line` of `file` (LF, unquoted fields).
    fn set(&self, file: &str, line: usize, col: &str, value: &str) {
        let text = self.read(file);
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header: Vec<&str> = lines[0].trim_start_matches('\u{feff}').split(',').collect();
        let i = header.iter().position(|h| *h == col).expect("column");
        let mut cells = split(&lines[line - 1]);
        cells[i] = value.to_string();
        lines[line - 1] = cells
            .iter()
            .map(|c| {
                if c.contains([',', '"']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(",");
        self.write(file, &(lines.join("\n") + "\n"));
    }
    /// The line (1-based) whose first field is `sourced_id`.
    fn line_of(&self, file: &str, sourced_id: &str) -> usize {
        self.read(file)
            .lines()
            .position(|l| l.starts_with(&format!("{sourced_id},")))
            .expect("sourcedId in file")
            + 1
    }
    fn run(&self, extra: &[&str]) -> Output {
        quiet_cmd(self.home.path())
            .args(["convert", "oneroster"])
            .arg(self.input())
            .arg("-o")
            .arg(self.out())
            .args(extra)
            .output()
            .unwrap()
    }
    /// Nothing at all in out/: no OUT.zip, no temporary file.
    fn assert_nothing_written(&self) {
        let left: Vec<_> = std::fs::read_dir(self.home.path().join("out"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "left in out/: {left:?}");
    }
    /// Run, expect exit 65 with `FILE:LINE: error: … code`-style text naming `at`, and no
    /// output; returns stdout.
    fn refused(&self, extra: &[&str], at: &str, needle: &str) -> String {
        let o = self.run(extra);
        let text = stdout(&o);
        assert_eq!(o.status.code(), Some(65), "{text}\n{}", stderr(&o));
        let prefix = format!("{}/", self.input().display());
        let hit = text
            .lines()
            .map(|l| l.strip_prefix(&prefix).unwrap_or(l))
            .find(|l| l.starts_with(&format!("{at}: error: ")) && l.contains(needle));
        assert!(
            hit.is_some(),
            "no error at {at} with {needle:?} in:\n{text}"
        );
        assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
        self.assert_nothing_written();
        text
    }
    /// Convert (exit 0) and return each CSV of the zip as rows of fields.
    fn converted(&self, extra: &[&str]) -> BTreeMap<String, Vec<Vec<String>>> {
        let o = self.run(extra);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
        read_zip(&self.out())
    }
}

fn split(line: &str) -> Vec<String> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes())
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_string)
        .collect()
}

fn read_zip(p: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(p).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let f = z.by_index(i).unwrap();
        let name = f.name().to_string();
        let rows = csv::Reader::from_reader(f)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        out.insert(name, rows);
    }
    out
}

fn has(rows: &[Vec<String>], want: &[&str]) -> bool {
    rows.iter()
        .any(|r| r.len() >= want.len() && r.iter().zip(want).all(|(a, b)| b.is_empty() || a == b))
}

// ---- every sample converts, and the result passes `validate` -----------------------------

#[test]
fn every_sample_converts_and_its_output_validates_without_error() {
    for s in SAMPLES {
        let fx = Fx::new(s);
        let o = fx.run(&[]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{s}: {}\n{}",
            stdout(&o),
            stderr(&o)
        );
        assert!(stdout(&o).contains("wrote "), "{s}: {}", stdout(&o));
        let v = quiet_cmd(fx.home.path())
            .args(["--json", "validate"])
            .arg(fx.out())
            .output()
            .unwrap();
        assert_eq!(v.status.code(), Some(0), "{s}: {}", stdout(&v));
        let doc = json(&v);
        assert_eq!(doc["totals"]["errors"], 0, "{s}: {doc}");
        assert!(doc["totals"]["rows"].as_u64().unwrap() > 0, "{s}: {doc}");
    }
}

#[test]
fn the_three_district_variants_convert_to_the_same_bundle() {
    let base = Fx::new("district").converted(&[]);
    for s in ["district-v12", "district-crlf-bom"] {
        assert_eq!(Fx::new(s).converted(&[]), base, "{s}");
    }
    assert_eq!(base["accounts.csv"].len(), 3);
    assert_eq!(base["courses.csv"].len(), 5);
    // 1.2 columns, BOM and CRLF draw no warning: only the skipped administrator.
    for s in ["district", "district-v12", "district-crlf-bom"] {
        let doc = json(&Fx::new(s).run(&["--json"]));
        let codes: Vec<&str> = doc["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["role_skipped"], "{s}: {doc}");
        assert_eq!(
            doc["oneroster_version"],
            if s == "district-v12" { "1.2" } else { "1.1" }
        );
    }
}

#[test]
fn a_zip_of_the_bundle_converts_like_the_directory() {
    let fx = Fx::new("district");
    let dir = fx.converted(&[]);
    let mut entries = vec![];
    for e in std::fs::read_dir(fx.input()).unwrap().flatten() {
        entries.push((
            format!("export/{}", e.file_name().to_string_lossy()),
            std::fs::read(e.path()).unwrap(),
        ));
    }
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let zip = fx.home.path().join("oneroster.zip");
    std::fs::write(&zip, fake_canvas::zip_of(&refs)).unwrap();
    let out = fx.home.path().join("from-zip.zip");
    let o = quiet_cmd(fx.home.path())
        .args(["convert", "oneroster"])
        .arg(&zip)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(read_zip(&out), dir);
}

// ---- the mapping ---------------------------------------------------------------------------

#[test]
fn a_guardian_observes_their_student_and_a_disabled_user_is_suspended() {
    let b = Fx::new("district").converted(&[]);
    let obs = &b["user_observers.csv"];
    assert!(
        has(obs, &["usr-g-johnson", "usr-s-1001", "active"]),
        "{obs:?}"
    );
    assert!(
        has(obs, &["usr-p-williams", "usr-s-2001", "active"]),
        "{obs:?}"
    );
    assert_eq!(obs.len(), 2, "{obs:?}");
    assert!(has(&b["users.csv"], &["usr-s-2003", "ebrown", "suspended"]));
    assert!(has(&b["users.csv"], &["usr-s-2001", "nwilliams", "active"]));
}

#[test]
fn aide_is_ta_and_administrators_need_a_role_map() {
    let fx = Fx::new("district");
    let o = fx.run(&[]);
    assert!(
        stdout(&o).contains("role \"administrator\" not converted"),
        "{}",
        stdout(&o)
    );
    let b = read_zip(&fx.out());
    let e = &b["enrollments.csv"];
    assert!(
        has(
            e,
            &["cls-ela7-p4", "cls-ela7-p4", "usr-a-chen", "ta", "active"]
        ),
        "{e:?}"
    );
    assert!(!e.iter().any(|r| r[2] == "usr-adm-patel"), "{e:?}");

    let fx = Fx::new("district");
    let b = fx.converted(&["--role-map", "administrator=Observer Admin"]);
    assert!(has(
        &b["enrollments.csv"],
        &["", "cls-bio-p2", "usr-adm-patel", "Observer Admin"]
    ));
    let bad = fx.run(&["--force", "--role-map", "janitor=teacher"]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
}

#[test]
fn section_per_class_or_grouped_by_course() {
    let per = Fx::new("district").converted(&["--section-per-class"]);
    assert_eq!(per["courses.csv"].len(), 5);
    assert!(has(&per["sections.csv"], &["cls-alg1-p1", "cls-alg1-p1"]));
    let grouped = Fx::new("district").converted(&["--group-by-course"]);
    let c = &grouped["courses.csv"];
    // Algebra's two periods share one course in the fall term.
    assert!(
        has(
            c,
            &[
                "crs-alg1~as-2026-s1",
                "MATH-ALG1",
                "Algebra I",
                "org-hs",
                "as-2026-s1"
            ]
        ),
        "{c:?}"
    );
    assert!(has(
        &grouped["sections.csv"],
        &["cls-alg1-p1", "crs-alg1~as-2026-s1"]
    ));
    assert!(has(
        &grouped["sections.csv"],
        &["cls-alg1-p3", "crs-alg1~as-2026-s1"]
    ));
    assert!(has(
        &grouped["enrollments.csv"],
        &[
            "crs-alg1~as-2026-s1",
            "cls-alg1-p3",
            "usr-s-1003",
            "student"
        ]
    ));
    assert!(c.len() < per["courses.csv"].len());
}

#[test]
fn terms_dates_and_ids_follow_the_flags() {
    let b = Fx::new("district").converted(&[]);
    assert!(has(
        &b["terms.csv"],
        &[
            "as-2026-s1",
            "Fall 2025",
            "active",
            "2025-08-18T00:00:00Z",
            "2026-01-16T23:59:59Z"
        ]
    ));
    assert_eq!(b["terms.csv"].len(), 2, "semesters only by default");
    // The grading period's class goes to the semester above it.
    assert!(has(
        &b["courses.csv"],
        &["cls-ela7-p4", "", "", "org-ms", "as-2026-s1"]
    ));
    assert!(has(
        &b["enrollments.csv"],
        &[
            "",
            "cls-alg1-p1",
            "usr-s-1001",
            "student",
            "active",
            "2025-08-18T00:00:00Z",
            "2026-01-16T23:59:59Z"
        ]
    ));
    // Parents first.
    assert_eq!(
        b["accounts.csv"][0],
        ["org-d1", "", "Maple Valley School District", "active"]
    );

    let b = Fx::new("district").converted(&[
        "--term-types",
        "schoolYear",
        "--user-id",
        "identifier",
        "--login-id",
        "email",
    ]);
    assert_eq!(b["terms.csv"].len(), 1);
    assert!(has(
        &b["courses.csv"],
        &["cls-alg1-p1", "", "", "", "as-2026"]
    ));
    assert!(has(
        &b["users.csv"],
        &["USR-S-1001", "mjohnson@maplevalley.k12.example.us"]
    ));
    assert!(has(
        &b["enrollments.csv"],
        &["", "cls-alg1-p1", "USR-S-1001"]
    ));
    assert!(has(
        &b["user_observers.csv"],
        &["USR-G-JOHNSON", "USR-S-1001"]
    ));
}

#[test]
fn a_delta_maps_tobedeleted_to_deleted() {
    let b = Fx::new("delta").converted(&[]);
    // No sessions in the delta: the class's term as given.
    assert!(has(
        &b["courses.csv"],
        &["cls-alg1-p3", "", "", "org-hs", "as-2026-s1", "deleted"]
    ));
    assert!(has(
        &b["sections.csv"],
        &["cls-alg1-p3", "cls-alg1-p3", "", "deleted"]
    ));
    assert!(b["enrollments.csv"].iter().any(|r| r[4] == "deleted"));
    assert!(has(
        &b["users.csv"],
        &["usr-s-1002", "lobrien", "active", "Liam", "O'Brien-Walsh"]
    ));
}

#[test]
fn a_grouped_delta_without_the_course_leaves_the_canvas_course_alone() {
    // The delta changes one class of crs-alg1 and has no courses.csv: a course row made
    // from the class would rename "Algebra I" (every section) and could re-parent it.
    let fx = Fx::new("delta");
    let o = fx.run(&["--group-by-course"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let b = read_zip(&fx.out());
    assert!(!b.contains_key("courses.csv"), "{:?}", b.keys());
    assert_eq!(
        b["sections.csv"],
        [[
            "cls-alg1-p3",
            "crs-alg1~as-2026-s1",
            "Algebra I - Period 3",
            "deleted"
        ]]
    );
    let line = stdout(&o)
        .lines()
        .find(|l| l.contains("course_not_written") || l.contains("Canvas course"))
        .map(|l| l.replace(&format!("{}/", fx.input().display()), ""))
        .unwrap_or_default();
    assert_eq!(
        line,
        "classes.csv:2: warning: 1 Canvas course not written (crs-alg1~as-2026-s1): its OneRoster \
         course is not in courses.csv, so its name and account are not known; the sections name \
         it by course_id, as made by an earlier load (a course Canvas does not have yet, as for a \
         class in a new term, makes its section fail with \"Section … references course … which \
         doesn't exist\": send that course in courses.csv too)"
    );

    // With the course in the delta, its row is the course's own.
    fx.write(
        "courses.csv",
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n\
         crs-alg1,active,2025-09-02T06:00:00Z,,Algebra I,MATH-ALG1,09,org-hs,,\n",
    );
    fx.set(
        "manifest.csv",
        fx.line_of("manifest.csv", "file.courses"),
        "value",
        "delta",
    );
    let b = fx.converted(&["--group-by-course", "--force"]);
    assert_eq!(
        b["courses.csv"],
        [[
            "crs-alg1~as-2026-s1",
            "MATH-ALG1",
            "Algebra I",
            "org-hs",
            "as-2026-s1",
            "active"
        ]]
    );
}

#[test]
fn a_delta_without_observer_pairs_writes_no_observers_file() {
    let b = Fx::new("delta").converted(&[]);
    assert!(!b.contains_key("user_observers.csv"), "{:?}", b.keys());
    // A bulk file with no pair keeps the header: the export says there are none.
    let fx = Fx::new("district");
    let users = fx.read("users.csv");
    let stripped: String = users
        .lines()
        .map(|l| {
            let mut c = split(l);
            if c[0] != "sourcedId" {
                c[15].clear();
            }
            c.iter()
                .map(|x| {
                    if x.contains([',', '"']) {
                        format!("\"{x}\"")
                    } else {
                        x.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect::<Vec<_>>()
        .join("\n");
    fx.write("users.csv", &(stripped + "\n"));
    let b = fx.converted(&[]);
    assert_eq!(b["user_observers.csv"].len(), 0);
}

/// The diagnostic lines of a run, without the input directory's prefix.
fn diag_lines(fx: &Fx, o: &Output) -> Vec<String> {
    let prefix = format!("{}/", fx.input().display());
    stdout(o)
        .lines()
        .filter(|l| l.contains(": warning: ") || l.contains(": error: "))
        .map(|l| l.replace(&prefix, ""))
        .collect()
}

#[test]
fn a_begin_date_without_an_end_date_is_written_with_a_warning() {
    let fx = Fx::new("district");
    for id in ["enr-0010", "enr-0011"] {
        fx.set(
            "enrollments.csv",
            fx.line_of("enrollments.csv", id),
            "beginDate",
            "2026-01-05",
        );
    }
    let line = fx.line_of("enrollments.csv", "enr-0012");
    fx.set("enrollments.csv", line, "endDate", "2026-03-01");
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lone: Vec<String> = diag_lines(&fx, &o)
        .into_iter()
        .filter(|l| l.contains("but no"))
        .collect();
    assert_eq!(
        lone,
        [
            "enrollments.csv:11: warning: 2 enrollments with a beginDate but no endDate (the first \
             here): Canvas saves start_date alone, but uses an enrollment's own dates only when both \
             are set, so the section's, course's or term's dates still decide when the user has \
             access (give endDate too, such as the term's, or leave beginDate empty to go by the \
             section, course or term)",
            "enrollments.csv:13: warning: 1 enrollment with an endDate but no beginDate (the first \
             here): Canvas saves end_date alone, but uses an enrollment's own dates only when both \
             are set, so the section's, course's or term's dates still decide when the user has \
             access (give beginDate too, such as the term's, or leave endDate empty to go by the \
             section, course or term)",
        ]
    );
    // The date is still written as given.
    let b = read_zip(&fx.out());
    assert!(has(
        &b["enrollments.csv"],
        &[
            "",
            "cls-alg1-p3",
            "usr-s-1003",
            "student",
            "active",
            "2026-01-05T00:00:00Z",
            ""
        ]
    ));
}

#[test]
fn a_broken_users_header_is_one_error_not_one_per_enrollment() {
    let fx = Fx::new("district");
    let users = fx.read("users.csv");
    fx.write("users.csv", &users.replacen(",username,", ",login,", 1));
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(65));
    let errors: Vec<String> = diag_lines(&fx, &o)
        .into_iter()
        .filter(|l| l.contains(": error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0].starts_with("users.csv:1: error: no username column"),
        "{errors:?}"
    );

    // A manifest value that is not a mode: its own error, not also "no file.users".
    let fx = Fx::new("district");
    let line = fx.line_of("manifest.csv", "file.users");
    fx.set("manifest.csv", line, "value", "full");
    let o = fx.run(&[]);
    let errors: Vec<String> = diag_lines(&fx, &o)
        .into_iter()
        .filter(|l| l.contains(": error: "))
        .collect();
    assert_eq!(
        errors,
        [format!(
            "manifest.csv:{line}: error: file.users is \"full\", not absent, bulk or delta (bulk: a \
             full export; delta: changes only; absent: no such file)"
        )]
    );
}

#[test]
fn diagnostics_are_in_line_order_and_hints_do_not_repeat_the_message() {
    let fx = Fx::new("district");
    // The administrator's role_skipped warning (line 8) is made when the file ends, after
    // the short row's error (line 12).
    let text = fx.read("enrollments.csv");
    let mut lines: Vec<&str> = text.lines().collect();
    lines[11] = "enr-0011,,,cls-bio-p2,org-hs,usr-s-1001,student";
    fx.write("enrollments.csv", &(lines.join("\n") + "\n"));
    let line = fx.line_of("academicSessions.csv", "as-2026-s2");
    fx.set("academicSessions.csv", line, "startDate", "2026-02-30");
    let line = fx.line_of("users.csv", "usr-t-ramos");
    fx.set("users.csv", line, "enabledUser", "yes");
    let o = fx.run(&[]);
    let d = diag_lines(&fx, &o);
    let pos = |needle: &str| d.iter().position(|l| l.contains(needle)).expect(needle);
    assert!(
        pos("enrollments.csv:8:") < pos("enrollments.csv:12:"),
        "{d:#?}"
    );
    assert!(d.contains(&format!(
        "academicSessions.csv:{}: error: startDate \"2026-02-30\" is not a date (write a calendar \
         date as YYYY-MM-DD, e.g. 2025-08-15)",
        fx.line_of("academicSessions.csv", "as-2026-s2")
    )), "{d:#?}");
    assert!(
        d.contains(&format!(
            "users.csv:{}: error: enabledUser \"yes\" is not true or false (OneRoster booleans are \
         the words true and false)",
            fx.line_of("users.csv", "usr-t-ramos")
        )),
        "{d:#?}"
    );
    assert!(
        d.contains(
            &"enrollments.csv:8: warning: 1 enrollment with role \"administrator\" not \
         converted: Canvas has no matching role (map it with --role-map \
         administrator=CANVAS_ROLE, naming a Canvas role)"
                .to_string()
        ),
        "{d:#?}"
    );
}

#[test]
fn a_bulk_export_suggests_diffing_or_batch_mode_with_the_guard() {
    let o = Fx::new("district").run(&[]);
    let t = stdout(&o);
    assert!(
        t.contains("--diffing-data-set-identifier")
            && t.contains("--batch-mode")
            && t.contains("guard"),
        "{t}"
    );
    let o = Fx::new("delta").run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("wrote "), "{}", stdout(&o));
    assert!(
        !stdout(&o).contains("--diffing-data-set-identifier"),
        "{}",
        stdout(&o)
    );
}

// ---- output file -----------------------------------------------------------------------------

#[test]
fn an_existing_output_is_refused_without_force_and_replaced_with_it() {
    let fx = Fx::new("district");
    std::fs::write(fx.out(), "keep me").unwrap();
    let o = fx.run(&["--json"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "output_exists");
    assert_eq!(std::fs::read_to_string(fx.out()).unwrap(), "keep me");
    let o = fx.run(&["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(read_zip(&fx.out()).contains_key("users.csv"));
    let left = std::fs::read_dir(fx.home.path().join("out"))
        .unwrap()
        .count();
    assert_eq!(left, 1, "only OUT.zip, no temporary file");
}

#[test]
fn a_fifo_or_link_is_written_through_and_a_folder_or_other_name_refused() {
    let fx = Fx::new("district");
    let out = fx.home.path().join("out");
    let convert = |to: &Path, extra: &[&str]| {
        quiet_cmd(fx.home.path())
            .args(["--json", "convert", "oneroster"])
            .arg(fx.input())
            .arg("-o")
            .arg(to)
            .args(extra)
            .output()
            .unwrap()
    };
    // A FIFO gets the zip through it (`-o /dev/stdout`), and stays a FIFO: a rename would
    // have put a file in its place (as root, in place of a device).
    let fifo = out.join("pipe");
    let reader = FifoReader::new(&fifo);
    let o = convert(&fifo, &["--force"]);
    let got = reader.bytes();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        got.starts_with(b"PK\x03\x04"),
        "a zip came through: {} bytes",
        got.len()
    );
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );
    // A symlink to a zip: the zip it names is replaced, the link kept.
    std::fs::write(out.join("target.zip"), "old").unwrap();
    std::os::unix::fs::symlink("target.zip", out.join("link.zip")).unwrap();
    let o = convert(&out.join("link.zip"), &[]);
    assert_eq!(o.status.code(), Some(2), "exists: {}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "output_exists");
    let o = convert(&out.join("link.zip"), &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(out.join("link.zip"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(read_zip(&out.join("target.zip")).contains_key("users.csv"));
    // A folder, or a file name that does not say zip: refused, nothing written.
    std::fs::create_dir(out.join("folder.zip")).unwrap();
    for (name, says) in [("folder.zip", "folder"), ("canvas.csv", "must end in .zip")] {
        let o = convert(&out.join(name), &["--force"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let doc = json(&o);
        assert_eq!(doc["error"]["kind"], "output_not_a_file", "{name}: {doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().contains(says),
            "{name}: {doc}"
        );
    }
    assert!(out.join("folder.zip").is_dir());
    assert!(!out.join("canvas.csv").exists());
    let left = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(
        left, 4,
        "pipe, target, link, folder: no temporary file left"
    );
}

#[test]
fn an_output_folder_that_is_missing_is_exit_74_with_a_hint_that_fits() {
    let fx = Fx::new("district");
    let o = quiet_cmd(fx.home.path())
        .args(["--json", "convert", "oneroster"])
        .arg(fx.input())
        .arg("-o")
        .arg(fx.home.path().join("nowhere/canvas.zip"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "output_failed", "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("create the folder"),
        "{doc}"
    );
}

#[test]
fn a_missing_input_is_exit_66() {
    let fx = Fx::new("district");
    let o = quiet_cmd(fx.home.path())
        .args(["--json", "convert", "oneroster", "nowhere", "-o"])
        .arg(fx.out())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(66));
    assert_eq!(json(&o)["error"]["kind"], "input_missing");
    fx.assert_nothing_written();
}

#[test]
fn json_is_one_document_on_failure_and_on_success() {
    let fx = Fx::new("district");
    fx.set("users.csv", 3, "role", "janitor");
    let o = fx.run(&["--json"]);
    assert_eq!(o.status.code(), Some(65));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "validation_failed");
    let d = &doc["diagnostics"][0];
    assert_eq!(d["line"], 3, "{doc}");
    assert_eq!(d["column"], "role");
    assert!(d["file"].as_str().unwrap().ends_with("users.csv"));
    fx.assert_nothing_written();

    let o = Fx::new("district").run(&["--json"]);
    let doc = json(&o);
    assert_eq!(doc["rows"]["user_observer"], 2, "{doc}");
    assert_eq!(doc["rows"]["enrollment"], 18);
    assert_eq!(doc["skipped"]["administrator"], 1);
    assert_eq!(doc["bulk"], true);
    assert_eq!(doc["totals"]["errors"], 0);
}

// ---- bad input: each rule, at FILE:LINE, exit 65, nothing written ---------------------------

#[test]
fn no_manifest() {
    let fx = Fx::new("district");
    std::fs::remove_file(fx.input().join("manifest.csv")).unwrap();
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stdout(&o).contains("error: no manifest.csv"),
        "{}",
        stdout(&o)
    );
    fx.assert_nothing_written();
}

#[test]
fn manifest_and_files_disagree() {
    let fx = Fx::new("district");
    let m = fx
        .read("manifest.csv")
        .replace("file.courses,bulk", "file.courses,absent");
    fx.write("manifest.csv", &m);
    let line = m
        .lines()
        .position(|l| l.starts_with("file.courses"))
        .unwrap()
        + 1;
    fx.refused(
        &[],
        &format!("manifest.csv:{line}"),
        "file.courses is absent but courses.csv is present",
    );

    let fx = Fx::new("district");
    std::fs::remove_file(fx.input().join("orgs.csv")).unwrap();
    let line = fx
        .read("manifest.csv")
        .lines()
        .position(|l| l.starts_with("file.orgs"))
        .unwrap()
        + 1;
    fx.refused(
        &[],
        &format!("manifest.csv:{line}"),
        "file.orgs is bulk but there is no orgs.csv",
    );

    let fx = Fx::new("district");
    fx.set("manifest.csv", 3, "value", "3.0");
    fx.refused(
        &[],
        "manifest.csv:3",
        "oneroster.version \"3.0\" is not 1.0, 1.1 or 1.2",
    );

    let fx = Fx::new("district");
    let line = fx
        .read("manifest.csv")
        .lines()
        .position(|l| l.starts_with("file.users"))
        .unwrap()
        + 1;
    fx.set("manifest.csv", line, "value", "full");
    fx.refused(
        &[],
        &format!("manifest.csv:{line}"),
        "not absent, bulk or delta",
    );
}

#[test]
fn a_required_header_is_missing() {
    let fx = Fx::new("district");
    let t = fx
        .read("classes.csv")
        .replacen("courseSourcedId", "courseId", 1);
    fx.write("classes.csv", &t);
    fx.refused(&[], "classes.csv:1", "no courseSourcedId column");
}

#[test]
fn enums_are_checked() {
    for (file, id, col, bad) in [
        ("orgs.csv", "org-hs", "type", "campus"),
        ("orgs.csv", "org-hs", "status", "inactive"),
        ("academicSessions.csv", "as-2026-s1", "type", "trimester"),
        ("classes.csv", "cls-bio-p2", "classType", "online"),
        ("users.csv", "usr-s-1003", "role", "Student"),
        ("enrollments.csv", "enr-0003", "role", "guardian"),
    ] {
        let fx = Fx::new("district");
        let line = fx.line_of(file, id);
        fx.set(file, line, col, bad);
        fx.refused(&[], &format!("{file}:{line}"), &format!("\"{bad}\""));
    }
}

#[test]
fn dates_are_checked() {
    for (file, id, col, bad, needle) in [
        (
            "academicSessions.csv",
            "as-2026-s2",
            "startDate",
            "01/20/2026",
            "is not a date",
        ),
        (
            "academicSessions.csv",
            "as-2026-s2",
            "endDate",
            "2025-12-01",
            "before it starts",
        ),
        (
            "enrollments.csv",
            "enr-0001",
            "endDate",
            "2026-02-30",
            "is not a date",
        ),
        (
            "users.csv",
            "usr-t-ramos",
            "dateLastModified",
            "yesterday",
            "ISO 8601",
        ),
    ] {
        let fx = Fx::new("district");
        let line = fx.line_of(file, id);
        fx.set(file, line, col, bad);
        fx.refused(&[], &format!("{file}:{line}"), needle);
    }
}

#[test]
fn references_are_checked() {
    for (file, id, col, bad) in [
        ("classes.csv", "cls-bio-p2", "courseSourcedId", "crs-chem"),
        ("classes.csv", "cls-bio-p2", "schoolSourcedId", "org-elem"),
        ("classes.csv", "cls-bio-p2", "termSourcedIds", "as-2027-s1"),
        ("courses.csv", "crs-bio", "orgSourcedId", "org-elem"),
        ("enrollments.csv", "enr-0004", "classSourcedId", "cls-gone"),
        ("enrollments.csv", "enr-0004", "userSourcedId", "usr-gone"),
        ("orgs.csv", "org-ms", "parentSourcedId", "org-county"),
        ("users.csv", "usr-s-2002", "orgSourcedIds", "org-elem"),
        (
            "users.csv",
            "usr-g-johnson",
            "agentSourcedIds",
            "usr-s-9999",
        ),
        (
            "academicSessions.csv",
            "as-2026-q1",
            "parentSourcedId",
            "as-2025-s1",
        ),
    ] {
        let fx = Fx::new("district");
        let line = fx.line_of(file, id);
        fx.set(file, line, col, bad);
        fx.refused(
            &[],
            &format!("{file}:{line}"),
            &format!("\"{bad}\" is not in"),
        );
    }
}

#[test]
fn a_cycle_of_orgs_is_refused() {
    let fx = Fx::new("district");
    let line = fx.line_of("orgs.csv", "org-d1");
    fx.set("orgs.csv", line, "parentSourcedId", "org-hs");
    fx.refused(
        &[],
        &format!("orgs.csv:{line}"),
        "cycle of parents: org-d1 → org-hs → org-d1",
    );
}

/// A UTF-16 users.csv is refused, and its NUL bytes never reach stdout: a diagnostic quotes
/// values, which are shown written out (129 raw NULs went to the terminal).
#[test]
fn a_utf16_file_is_refused_without_raw_bytes_on_stdout() {
    let fx = Fx::new("district");
    let text = fx.read("users.csv");
    let mut wide = vec![0xFF, 0xFE];
    for u in text.encode_utf16() {
        wide.extend(u.to_le_bytes());
    }
    std::fs::write(fx.input().join("users.csv"), wide).unwrap();
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(!o.stdout.contains(&0), "raw NUL bytes on stdout");
    assert!(!o.stderr.contains(&0), "raw NUL bytes on stderr");
    fx.assert_nothing_written();
}

/// A cycle of academicSessions parents leads to no term: refused as a cycle of orgs is (it
/// was converted in silence).
#[test]
fn a_cycle_of_sessions_is_refused() {
    let fx = Fx::new("district");
    let line = fx.line_of("academicSessions.csv", "as-2026");
    fx.set(
        "academicSessions.csv",
        line,
        "parentSourcedId",
        "as-2026-s1",
    );
    fx.refused(
        &[],
        &format!("academicSessions.csv:{line}"),
        "cycle of parents: as-2026 → as-2026-s1 → as-2026",
    );
}

#[test]
fn duplicate_ids_and_logins_are_refused() {
    let fx = Fx::new("district");
    let line = fx.line_of("enrollments.csv", "enr-0005");
    fx.set("enrollments.csv", line, "sourcedId", "enr-0002");
    fx.refused(
        &[],
        &format!("enrollments.csv:{line}"),
        "sourcedId \"enr-0002\" twice",
    );

    let fx = Fx::new("district");
    let line = fx.line_of("users.csv", "usr-s-1003");
    fx.set("users.csv", line, "username", "MJohnson");
    fx.refused(
        &[],
        &format!("users.csv:{line}"),
        "also the login of the user at line",
    );
}

#[test]
fn a_missing_login_for_the_chosen_field_is_refused() {
    let fx = Fx::new("district");
    let line = fx.line_of("users.csv", "usr-s-1002");
    fx.set("users.csv", line, "email", "");
    fx.refused(
        &["--login-id", "email"],
        &format!("users.csv:{line}"),
        "has no email",
    );
}

#[test]
fn status_rules_differ_in_bulk_and_delta() {
    // Bulk: a status is flagged (warning) and the row still converts.
    let fx = Fx::new("district");
    let line = fx.line_of("users.csv", "usr-s-1003");
    fx.set("users.csv", line, "status", "active");
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!(
            "users.csv:{line}: warning: status \"active\" in a bulk file"
        )),
        "{}",
        stdout(&o)
    );
    // Delta: a row without status is an error.
    let fx = Fx::new("delta");
    let line = fx.line_of("users.csv", "usr-s-1002");
    fx.set("users.csv", line, "status", "");
    fx.refused(
        &[],
        &format!("users.csv:{line}"),
        "a delta row needs a status",
    );
}

#[test]
fn malformed_rows_are_refused() {
    let fx = Fx::new("district");
    let line = fx.line_of("users.csv", "usr-t-ramos");
    fx.set("users.csv", line, "enabledUser", "yes");
    fx.refused(&[], &format!("users.csv:{line}"), "enabledUser \"yes\"");

    let fx = Fx::new("district");
    let mut t = fx.read("orgs.csv");
    t.push_str("org-x,,,Extra School,school\n");
    fx.write("orgs.csv", &t);
    fx.refused(&[], "orgs.csv:5", "5 fields; the header has 7");

    // A short row is reported once: its id still counts, so enrollments in it are fine.
    let fx = Fx::new("district");
    let t = fx.read("classes.csv");
    let line = fx.line_of("classes.csv", "cls-bio-p2");
    let mut lines: Vec<String> = t.lines().map(str::to_string).collect();
    let cut = lines[line - 1].rfind(',').unwrap();
    lines[line - 1].truncate(cut);
    fx.write("classes.csv", &(lines.join("\n") + "\n"));
    let text = fx.refused(
        &[],
        &format!("classes.csv:{line}"),
        "13 fields; the header has 14",
    );
    assert_eq!(text.matches(": error: ").count(), 1, "{text}");

    let fx = Fx::new("district");
    let line = fx.line_of("courses.csv", "crs-bio");
    let mut b = std::fs::read(fx.input().join("courses.csv")).unwrap();
    let at = b.windows(7).position(|w| w == b"Biology").unwrap();
    b[at + 1] = 0xe9; // "B\xe9ology": Latin-1
    std::fs::write(fx.input().join("courses.csv"), b).unwrap();
    fx.refused(&[], &format!("courses.csv:{line}"), "not UTF-8");
}

#[test]
fn crlf_and_bom_keep_line_numbers_physical() {
    let fx = Fx::new("district-crlf-bom");
    let t = fx.read("enrollments.csv");
    assert!(t.starts_with('\u{feff}') && t.contains("\r\n"));
    let mut lines: Vec<String> = t.split("\r\n").map(str::to_string).collect();
    let line = lines
        .iter()
        .position(|l| l.starts_with("enr-0009,"))
        .unwrap()
        + 1;
    let cells: Vec<&str> = lines[line - 1].split(',').collect();
    let moved = [&cells[..3], &["cls-nope"], &cells[4..]].concat().join(",");
    lines[line - 1] = moved;
    fx.write("enrollments.csv", &lines.join("\r\n"));
    fx.refused(
        &[],
        &format!("enrollments.csv:{line}"),
        "\"cls-nope\" is not in",
    );
}

#[test]
fn an_interrupted_conversion_leaves_no_file() {
    let fx = Fx::new("district");
    // Enough enrollments that the conversion is still running when the signal comes.
    let mut t = fx.read("enrollments.csv");
    for i in 0..400_000 {
        t.push_str(&format!(
            "enr-x{i},,,cls-alg1-p1,org-hs,usr-s-1001,student,false,,\n"
        ));
    }
    fx.write("enrollments.csv", &t);
    let mut child = std_cmd(fx.home.path())
        .args(["--no-log-file", "convert", "oneroster"])
        .arg(fx.input())
        .arg("-o")
        .arg(fx.out())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The temporary file exists once the signal handler is in place (it is made after).
    let start = std::time::Instant::now();
    let out_dir = fx.home.path().join("out");
    while std::fs::read_dir(&out_dir).unwrap().count() == 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no temporary file"
        );
        assert!(child.try_wait().unwrap().is_none(), "ended before writing");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    // SAFETY: a plain kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "still running"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted by SIGINT") && err.contains("no output file was written"),
        "{err}"
    );
    fx.assert_nothing_written();
}

#[test]
fn blank_required_values_are_refused() {
    for (file, id, col) in [
        ("orgs.csv", "org-ms", "name"),
        ("academicSessions.csv", "as-2026-s1", "endDate"),
        ("courses.csv", "crs-bio", "title"),
        ("classes.csv", "cls-hr-7b", "termSourcedIds"),
        ("users.csv", "usr-s-2002", "username"),
        ("enrollments.csv", "enr-0006", "userSourcedId"),
    ] {
        let fx = Fx::new("district");
        let line = fx.line_of(file, id);
        fx.set(file, line, col, "");
        fx.refused(&[], &format!("{file}:{line}"), &format!("no {col}"));
    }
}

#[test]
fn an_empty_file_a_doubled_column_and_a_broken_zip_are_refused() {
    let fx = Fx::new("district");
    fx.write("courses.csv", "");
    let o = fx.run(&[]);
    assert_eq!(o.status.code(), Some(65));
    assert!(
        stdout(&o).contains("courses.csv: error: empty file: no header row"),
        "{}",
        stdout(&o)
    );
    fx.assert_nothing_written();

    let fx = Fx::new("district");
    let t = fx.read("orgs.csv").replacen("identifier", "name", 1);
    fx.write("orgs.csv", &t);
    fx.refused(&[], "orgs.csv:1", "column name twice");

    let fx = Fx::new("district");
    let zip = fx.home.path().join("export.zip");
    std::fs::write(&zip, b"PK\x03\x04 not really a zip").unwrap();
    let o = quiet_cmd(fx.home.path())
        .args(["--json", "convert", "oneroster"])
        .arg(&zip)
        .arg("-o")
        .arg(fx.out())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(65));
    let doc = json(&o);
    assert_eq!(doc["diagnostics"][0]["code"], "zip_corrupt", "{doc}");
    fx.assert_nothing_written();
}
