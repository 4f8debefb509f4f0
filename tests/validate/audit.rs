//! Findings of a black-box audit of the validator against the reference (§6.1–§6.4),
//! each asserting the exact `file:line` output.

use crate::support::*;
use fake_canvas::zip_of;

/// §6.1: the users importer skips a row holding a NUL with a warning; the row
/// defines nothing (so no duplicate-id finding for the next row with that id).
#[test]
fn nul_in_a_users_row_is_a_skipping_warning() {
    let fx = Fx::new();
    let p = fx.write(
        "u.csv",
        b"user_id,login_id,status\nu1,l\x001,active\nu1,l1,active\n".as_slice(),
    );
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "u.csv:2: warning: Some of the fields contain NULL character (NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows)",
            "1 file, kinds: user(2), 2 rows, 0 errors, 1 warning",
        ]
    );
    assert!(!r.failed(false));
    // Elsewhere a NUL still fails.
    let l = fx.check(
        "c.csv",
        b"course_id,short_name,long_name,status\nc1,C\x00,CC,active\n".as_slice(),
    );
    assert_eq!(
        l,
        vec![
            "c.csv:2: error: a field contains a NUL character (NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows)"
        ]
    );
}

/// §6.4 enrollments: "Bad date format for user <u> in course <c>" or "… in section <s>".
#[test]
fn enrollment_bad_date_names_the_section_when_there_is_no_course() {
    let fx = Fx::new();
    let l = fx.check(
        "e.csv",
        "course_id,section_id,user_id,role,status,start_date\n,s1,u1,teacher,active,bad\nc1,s1,u1,teacher,active,bad\n",
    );
    assert_eq!(
        l,
        vec![
            "e.csv:2: warning: Bad date format for user u1 in section s1 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ)",
            "e.csv:3: warning: Bad date format for user u1 in course c1 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ)",
        ]
    );
}

/// §6.2: Canvas reads only the .csv entries of a zip; one without any imports nothing
/// (like an empty directory or a `.txt` upload), so it is refused, not passed clean.
#[test]
fn zip_without_csv_entries_is_refused() {
    let fx = Fx::new();
    let p = fx.zip(
        "b.zip",
        &[
            ("docs/", b""),
            ("docs/readme.txt", b"hello"),
            ("__MACOSX/._users.csv", b"x"),
        ],
    );
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "b.zip:docs/readme.txt: warning: Skipping unknown file type (Canvas will skip it: only .csv files in a bundle are read)",
            "b.zip: error: the archive holds no .csv file Canvas would read; Canvas imports nothing (put the CSV files in the zip; sub-folders are fine)",
            "1 file, kinds: none, 0 rows, 1 error, 1 warning",
        ]
    );
    assert!(r.failed(false));
    let p = fx.zip("e.zip", &[]);
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r)[0],
        "e.zip: error: the archive holds no .csv file Canvas would read; Canvas imports nothing (put the CSV files in the zip; sub-folders are fine)"
    );
}

/// §6.4 accounts: "A parent must appear before its children: accounts are processed
/// serially, in file order." A parent defined after its sub-account comes too late.
#[test]
fn parent_account_defined_after_its_child() {
    let fx = Fx::new();
    let p = fx.write(
        "accounts.csv",
        "account_id,parent_account_id,name,status\na2,a1,B,active\na1,,A,active\na3,a1,C,active\n",
    );
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "accounts.csv:2: warning: parent account \"a1\" is defined later, at accounts.csv:3; Canvas processes accounts in file order, so unless it already exists this row is skipped: \"Parent account didn't exist for …\" (put parent accounts before their sub-accounts)",
            "1 file, kinds: account(3), 3 rows, 0 errors, 1 warning",
        ]
    );
    // Across files too, in the order Canvas reads them (sorted paths in a zip).
    let p = fx.zip(
        "b.zip",
        &[
            ("1/sub.csv", b"account_id,parent_account_id\na2,a1\n"),
            ("2/top.csv", b"account_id,parent_account_id\na1,\n"),
        ],
    );
    let l = fx.lines(&fx.run(&[p]));
    assert_eq!(
        l[0],
        "b.zip:1/sub.csv:2: warning: parent account \"a1\" is defined later, at b.zip:2/top.csv:2; Canvas processes accounts in file order, so unless it already exists this row is skipped: \"Parent account didn't exist for …\" (put parent accounts before their sub-accounts)"
    );
    // In order: clean.
    let p = fx.write(
        "ok.csv",
        "account_id,parent_account_id,name,status\na1,,A,active\na2,a1,B,active\n",
    );
    assert_eq!(
        fx.lines(&fx.run(&[p])),
        vec!["1 file, kinds: account(2), 2 rows, 0 errors, 0 warnings"]
    );
}

/// A `.csv` that is really a zip is named as such inside a zip too (it was reported as
/// invalid UTF-8 "looking like Latin-1").
#[test]
fn zip_entry_named_csv_that_is_a_zip() {
    let fx = Fx::new();
    let inner = zip_of(&[("users.csv", USERS.as_bytes())]);
    let p = fx.zip(
        "b.zip",
        &[
            ("fake.csv", inner.as_slice()),
            ("users.csv", USERS.as_bytes()),
        ],
    );
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "b.zip:fake.csv: error: this entry is a zip archive, not CSV (by its name); Canvas would reject it as \"Invalid UTF-8\" (put the inner archive's CSV files in the outer zip)",
            "3 files, kinds: user(2), 2 rows, 1 error, 0 warnings",
        ]
    );
}

/// §6.4 differentiation tags: `tag_set_id` or `course_id` "is required for new tags"
/// only; a header without both updates existing tags fine, so it is no file error.
#[test]
fn differentiation_tags_without_set_or_course_columns() {
    let fx = Fx::new();
    let p = fx.write("tags.csv", "tag_id,name,status\nt1,T,available\n");
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "tags.csv:1: warning: the header needs one of the columns \"tag_set_id\", \"course_id\" for new rows (Canvas skips every row that creates a new one; rows updating existing ones are fine)",
            "1 file, kinds: differentiation_tag(1), 1 rows, 0 errors, 1 warning",
        ]
    );
    assert!(!r.failed(false));
    // Other one-of groups still fail the file.
    let l = fx.check("a.csv", "user_id,account_id,status\nu1,,active\n");
    assert_eq!(
        l,
        vec![
            "a.csv:1: error: the header needs one of the columns \"role\", \"role_id\" (Canvas would skip every row)"
        ]
    );
}

/// "an account file", "an enrollment file" (was "a account", "a enrollment").
#[test]
fn kind_names_take_the_right_article() {
    let fx = Fx::new();
    let l = fx.check("a.csv", "account_id,name,status\na1,A,active\n");
    assert_eq!(
        l,
        vec![
            "a.csv:1: error: Couldn't find Canvas CSV import headers (it looks like an account file; it needs the column(s) \"parent_account_id\")"
        ]
    );
    let l = fx.check("u.csv", "user_id,login_id,status,x\nu1,l1,active,\n");
    assert_eq!(
        l,
        vec!["u.csv:1: warning: unknown column \"x\" for a user file; Canvas ignores it"]
    );
}

/// Bundle-level findings name Canvas's row too when blank lines or a multi-line field
/// make it differ from the line (they had no row).
#[test]
fn unknown_reference_gives_the_canvas_row() {
    let fx = Fx::new();
    let c = fx.write(
        "courses.csv",
        "course_id,short_name,long_name,status\nc1,C,CC,active\n",
    );
    let e = fx.write(
        "enr.csv",
        "course_id,user_id,role,status\n\nc1,\"u\n1\",student,active\nc9,u2,student,active\n",
    );
    let r = fx.run(&[c, e]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "enr.csv:5: warning: enrollment references course \"c9\" (course_id), which is not in this bundle; it may already exist in Canvas [Canvas row 3]",
            "2 files, kinds: course(1) enrollment(2), 3 rows, 0 errors, 1 warning",
        ]
    );
    let d = &r.bundle[0];
    assert_eq!((d.line, d.row), (Some(5), Some(3)));
}

/// Exit 66 names the unreadable file inside a directory, not only the directory.
#[cfg(unix)]
#[test]
fn unreadable_file_in_a_directory_is_named() {
    let fx = Fx::new();
    fx.write("d/users.csv", USERS);
    std::os::unix::fs::symlink(fx.path("nowhere.csv"), fx.path("d/gone.csv")).unwrap();
    let err = canvas_sis::validate::validate_paths(
        &[fx.path("d")],
        &canvas_sis::validate::Options::default(),
    )
    .unwrap_err();
    let msg = err.to_string();
    let prefix = format!("{}/", fx.dir.path().display());
    assert_eq!(
        msg.replace(&prefix, ""),
        "d: cannot read: d/gone.csv: No such file or directory (os error 2)"
    );
}

/// §6.2: hidden files are not listed, but a `./` path component hides nothing: an
/// entry `./users.csv` is extracted as `users.csv` and imported (it was skipped).
#[test]
fn dot_components_in_zip_paths_are_not_hidden() {
    let fx = Fx::new();
    let bad = b"user_id,login_id,status\nu1,l1,bad\n";
    let p = fx.zip(
        "b.zip",
        &[
            ("./users.csv", bad),
            ("a/./b.csv", b"user_id,login_id,status\nu2,l2,bad\n"),
            ("a/.hidden/c.csv", bad),
            (".d.csv", bad),
        ],
    );
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "b.zip:./users.csv:2: warning: Improper status for user u1 (expected active, suspended, deleted (prefix match))",
            "b.zip:a/./b.csv:2: warning: Improper status for user u2 (expected active, suspended, deleted (prefix match))",
            "3 files, kinds: user(2), 2 rows, 0 errors, 2 warnings",
        ]
    );
    // Only a `./` entry: still a bundle with a CSV in it.
    let p = fx.zip("o.zip", &[("./users.csv", USERS.as_bytes())]);
    let r = fx.run(&[p]);
    assert_eq!(r.error_count(), 0);
}
