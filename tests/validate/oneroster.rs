//! `convert oneroster`'s input checks through the library (`canvas_sis::convert`), as
//! properties: one random mutation of a clean sample is an error at the mutated line, with
//! no output file; random bytes in any file (or as the zip) never panic.

use std::path::{Path, PathBuf};

use canvas_sis::convert::{Error, Options, convert};
use proptest::prelude::*;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/oneroster")
        .join(name)
}

/// A copy of the `district` sample in a temp dir: (dir, input, output path).
fn copy() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let input = t.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for e in std::fs::read_dir(sample("district")).unwrap().flatten() {
        std::fs::copy(e.path(), input.join(e.file_name())).unwrap();
    }
    let out = t.path().join("out.zip");
    (t, input, out)
}

fn records(path: &Path) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap()
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

fn write_records(path: &Path, rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// (file, column, a value that column refuses).
const MUTATIONS: &[(&str, &str, &str)] = &[
    ("orgs", "status", "inactive"),
    ("orgs", "type", "campus"),
    ("orgs", "sourcedId", ""),
    ("academicSessions", "type", "quarter"),
    ("academicSessions", "startDate", "2025-13-01"),
    ("academicSessions", "schoolYear", "twenty"),
    ("courses", "dateLastModified", "last week"),
    ("classes", "classType", "virtual"),
    ("classes", "courseSourcedId", "crs-missing"),
    ("users", "role", "principal"),
    ("users", "enabledUser", "maybe"),
    ("users", "orgSourcedIds", "org-missing"),
    ("enrollments", "role", "Teacher"),
    ("enrollments", "beginDate", "08/18/2025"),
    ("enrollments", "userSourcedId", "usr-missing"),
    ("enrollments", "primary", "yes"),
];

proptest! {
    #![proptest_config(cfg(48))]

    #[test]
    fn one_mutation_is_an_error_at_its_line(m in 0..MUTATIONS.len(), pick in any::<prop::sample::Index>()) {
        let (file, col, bad) = MUTATIONS[m];
        let (_t, input, out) = copy();
        let path = input.join(format!("{file}.csv"));
        let mut rows = records(&path);
        let ci = rows[0].iter().position(|h| h == col).unwrap();
        let row = 1 + pick.index(rows.len() - 1);
        rows[row][ci] = bad.to_string();
        write_records(&path, &rows);
        // The sample has no multi-line fields: record N+1 is physical line N+1.
        let line = row as u64 + 1;
        match convert(&input, &out, &Options::default()) {
            Err(Error::Invalid(report)) => {
                let hit = report.diagnostics().any(|d| {
                    d.severity == canvas_sis::validate::Severity::Error
                        && d.file.ends_with(&format!("/{file}.csv"))
                        && d.line == Some(line)
                });
                prop_assert!(hit, "{file}.csv:{line} {col}={bad:?}: {:?}",
                    report.diagnostics().map(|d| d.to_line()).collect::<Vec<_>>());
            }
            other => prop_assert!(false, "{file}.csv:{line} {col}={bad:?}: {other:?}"),
        }
        prop_assert!(!out.exists());
        let left = std::fs::read_dir(out.parent().unwrap()).unwrap().count();
        prop_assert_eq!(left, 1, "only in/ is left");
    }

    #[test]
    fn random_bytes_never_panic(which in 0..8usize, bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (_t, input, out) = copy();
        let names = ["manifest", "orgs", "academicSessions", "courses", "classes", "users", "enrollments"];
        let target = if which < names.len() {
            let p = input.join(format!("{}.csv", names[which]));
            std::fs::write(&p, &bytes).unwrap();
            input.clone()
        } else {
            let p = input.with_extension("zip");
            std::fs::write(&p, &bytes).unwrap();
            p
        };
        match convert(&target, &out, &Options::default()) {
            Ok(_) => prop_assert!(out.exists()),
            Err(Error::Invalid(r)) => {
                prop_assert!(r.error_count() > 0);
                prop_assert!(!out.exists());
            }
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }

    #[test]
    fn random_lines_appended_never_panic(which in 1..7usize, line in "[a-z0-9,\"\r\n -]{0,80}") {
        let (_t, input, out) = copy();
        let names = ["manifest", "orgs", "academicSessions", "courses", "classes", "users", "enrollments"];
        let p = input.join(format!("{}.csv", names[which]));
        let mut text = std::fs::read(&p).unwrap();
        text.extend_from_slice(line.as_bytes());
        std::fs::write(&p, text).unwrap();
        match convert(&input, &out, &Options::default()) {
            Ok(_) => prop_assert!(out.exists()),
            Err(Error::Invalid(_)) => prop_assert!(!out.exists()),
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }
}

#[test]
fn the_clean_sample_converts() {
    let (_t, input, out) = copy();
    let done = convert(&input, &out, &Options::default()).unwrap();
    assert_eq!(done.report.error_count(), 0);
    assert!(out.exists());
    assert!(
        done.rows
            .iter()
            .any(|(k, n)| *k == "enrollment" && *n == 18),
        "{:?}",
        done.rows
    );
}
