//! Findings of the black-box audit "f" of `validate` (SIS CSV bundles), each asserting the
//! exact `file:line` output: what Canvas does, per the reference (§6) and its source.

use crate::support::*;
use canvas_sis::validate::{Options, Severity};
use fake_canvas::zip_of;

/// 250 rows without a login (warnings), then an unclosed quote (the file's one error).
fn capped_users() -> String {
    let mut s = String::from("user_id,login_id,status,first_name\n");
    for i in 0..250 {
        s.push_str(&format!("u{i},,active,x\n"));
    }
    s.push_str("u999,l,active,\"unterminated\n");
    s
}

/// Finding 1: past `--max-diagnostics`, an error takes the place of the latest kept
/// warning: the file's only error is shown, the counts stay exact.
#[test]
fn an_error_is_never_hidden_behind_warnings() {
    let fx = Fx::new();
    let p = fx.write("capped.csv", capped_users());
    let r = fx.run(&[p]);
    let l = fx.lines(&r);
    assert_eq!(l.len(), 101);
    assert_eq!(l[0], "capped.csv:2: warning: No login_id given for user u0");
    assert_eq!(
        l[98],
        "capped.csv:100: warning: No login_id given for user u98"
    );
    assert_eq!(
        l[99],
        "capped.csv:252: error: Malformed CSV: unclosed quoted field (a quote opened here is never closed) (Canvas skips the whole file)"
    );
    assert_eq!(
        l[100],
        "1 file, kinds: user(250), 250 rows, 1 error, 250 warnings (151 more not shown; see --max-diagnostics)"
    );
    let j = r.to_json();
    let d = j["diagnostics"].as_array().unwrap();
    assert_eq!(d.len(), 100);
    assert_eq!(d[99]["severity"], "error");
    assert_eq!(d[99]["line"], 252);
    assert_eq!(j["files"][0]["omitted"], 151);
    assert_eq!(j["totals"]["errors"], 1);
}

/// Finding 1: several errors after the cap each take a warning's place, latest first;
/// what stays is in file order.
#[test]
fn errors_fill_the_cap_before_warnings() {
    let fx = Fx::new();
    // Rows 2-6: no short_name (warnings); rows 7-8: a NUL (errors outside users).
    let mut s = String::from("course_id,short_name,long_name,status\n");
    for i in 0..5 {
        s.push_str(&format!("c{i},,L,active\n"));
    }
    s.push_str("c7,C\0,L,active\nc8,C\0,L,active\n");
    let p = fx.write("c.csv", s);
    let o = Options {
        max_diagnostics: 3,
        ..Options::default()
    };
    let r = fx.run_with(&[p], &o);
    assert_eq!(
        fx.lines(&r),
        vec![
            "c.csv:2: warning: No short_name given for course c0",
            "c.csv:7: error: a field contains a NUL character (NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows)",
            "c.csv:8: error: a field contains a NUL character (NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows)",
            "1 file, kinds: course(7), 7 rows, 2 errors, 5 warnings (4 more not shown; see --max-diagnostics)",
        ]
    );
    // More errors than the cap: the first ones, and no warning.
    let o = Options {
        max_diagnostics: 1,
        ..Options::default()
    };
    let r = fx.run_with(&[fx.path("c.csv")], &o);
    let kept: Vec<_> = r.diagnostics().map(|d| (d.line, d.severity)).collect();
    assert_eq!(kept, vec![(Some(7), Severity::Error)]);
    assert_eq!(r.files[0].omitted, 6);
}

/// Finding 2 (§6.2): a 0-byte CSV next to other CSV files is skipped by Canvas, which
/// imports the rest: a warning. Alone (or with only empty ones) it imports nothing.
#[test]
fn an_empty_csv_beside_others_is_a_warning() {
    let fx = Fx::new();
    let users = b"user_id,login_id,status\nu1,l1,active\n";
    let z = fx.write(
        "emptyentry.zip",
        zip_of(&[("users.csv", users), ("empty.csv", b"")]),
    );
    let r = fx.run(&[z]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "emptyentry.zip:empty.csv: warning: empty file (0 bytes); Canvas ignores it and imports the other files (remove it, or check the export that wrote it)",
            "3 files, kinds: user(1), 1 rows, 0 errors, 1 warning",
        ]
    );
    assert!(!r.failed(false));
    fx.write("d/users.csv", users);
    fx.write("d/empty.csv", b"");
    let r = fx.run(&[fx.path("d")]);
    assert_eq!(
        fx.lines(&r)[0],
        "d/empty.csv: warning: empty file (0 bytes); Canvas ignores it and imports the other files (remove it, or check the export that wrote it)"
    );
    assert!(!r.failed(false));
    let z = fx.write("only.zip", zip_of(&[("empty.csv", b"")]));
    let r = fx.run(&[z]);
    assert_eq!(
        fx.lines(&r)[0],
        "only.zip:empty.csv: error: empty file (0 bytes); Canvas ignores it and imports nothing (check the export that wrote it)"
    );
    fx.write("e/empty.csv", b"");
    fx.write("e/notes.txt", b"x");
    let r = fx.run(&[fx.path("e")]);
    assert!(r.failed(false));
}

/// Finding 3 (§6.1): Canvas recognises the kind by trimmed names but keys the rows by
/// untrimmed ones. Spaces around a header name are a warning that says what Canvas does
/// with the column; only a required column so hidden is missing (every row skipped).
#[test]
fn header_spaces_are_a_warning_saying_what_canvas_reads() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "wsunk.csv",
            "user_id,login_id,status, favourite_color\nu1,l1,active,red\n"
        ),
        vec![
            "wsunk.csv:1: warning: unknown column \"favourite_color\" for a user file; Canvas ignores it"
        ]
    );
    assert_eq!(
        fx.check(
            "wsopt.csv",
            "user_id,login_id,status,first_name \nu1,l1,active,Bob\n"
        ),
        vec![
            "wsopt.csv:1: warning: header cell \"first_name \" (column 4) has spaces around it: Canvas does not trim header names, so it reads column \"first_name\" as empty in every row (write it as \"first_name\")"
        ]
    );
    // Its values are not checked: Canvas never reads them.
    assert_eq!(
        fx.check(
            "wsmail.csv",
            "user_id,login_id,status, email\nu1,l1,active,nope\n"
        ),
        vec![
            "wsmail.csv:1: warning: header cell \" email\" (column 4) has spaces around it: Canvas does not trim header names, so it reads column \"email\" as empty in every row (write it as \"email\")"
        ]
    );
    // Beside the same name without spaces, that one is read.
    assert_eq!(
        fx.check(
            "wsdup.csv",
            "user_id,login_id,status,status \nu1,l1,active,bogus\n"
        ),
        vec![
            "wsdup.csv:1: warning: header cell \"status \" (column 4) has spaces around it: Canvas ignores this column and reads \"status\" from column 3 (write it as \"status\")"
        ]
    );
}

/// Finding 4: Ruby's `CSV::Row#[]` returns the first of repeated headers, and nothing
/// fails: a warning naming both columns and the one Canvas reads; none for a column
/// Canvas ignores anyway.
#[test]
fn a_duplicated_column_is_a_warning_naming_the_one_canvas_reads() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "dupcol.csv",
            "user_id,login_id,status,status\nu1,l1,active,bogus\nu2,l2,bogus,active\n"
        ),
        vec![
            "dupcol.csv:1: warning: duplicate header column \"status\" (columns 3 and 4): Canvas reads column 3 and ignores column 4 (remove one of them)",
            "dupcol.csv:3: warning: Improper status for user u2 (expected active, suspended, deleted (prefix match))",
        ]
    );
    let p = fx.write(
        "dupunk.csv",
        "user_id,login_id,status,notes,notes\nu1,l1,active,a,b\n",
    );
    let r = fx.run(&[p]);
    assert!(!r.failed(false));
    assert!(r.diagnostics().all(|d| d.code == "unknown_column"));
}

/// Finding 5 (§6.3): Canvas imports every users file before any logins file, whatever
/// their names: the logins row is the one skipped, with the logins importer's message.
#[test]
fn a_login_clash_blames_the_logins_row_in_either_file_order() {
    let fx = Fx::new();
    fx.write("lo/users.csv", "user_id,login_id,status\nU1,l1,active\n");
    fx.write(
        "lo/a_logins.csv",
        "user_id,login_id,existing_user_id\nU9,l1,U1\n",
    );
    let r = fx.run(&[fx.path("lo")]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "lo/a_logins.csv:2: warning: login_id \"l1\" is also user U1's at lo/users.csv:2; Canvas imports users before logins, so it skips this row: \"An existing Canvas user with the SIS ID U9 or login of l1 already exists, skipping\"",
            "2 files, kinds: user(1) login(1), 2 rows, 0 errors, 1 warning",
        ]
    );
    std::fs::rename(fx.path("lo/a_logins.csv"), fx.path("lo/z_logins.csv")).unwrap();
    let r = fx.run(&[fx.path("lo")]);
    assert_eq!(
        fx.lines(&r)[0],
        "lo/z_logins.csv:2: warning: login_id \"l1\" is already used by user U1 at lo/users.csv:2; Canvas imports users before logins, so it skips this row: \"An existing Canvas user with the SIS ID U9 or login of l1 already exists, skipping\""
    );
}

/// Finding 6 (§6.4, `SIS::EnrollmentImporter`): a section and a course both in the
/// bundle but unrelated: Canvas's message, a warning at the enrollment's line. A
/// cross-listing into that course relates them.
#[test]
fn an_enrollment_with_an_unrelated_section_and_course() {
    let fx = Fx::new();
    fx.write(
        "un/courses.csv",
        "course_id,short_name,long_name,status\nC1,c1,C1,active\nC2,c2,C2,active\n",
    );
    fx.write(
        "un/sections.csv",
        "section_id,course_id,name,status\nS2,C2,Sec2,active\n",
    );
    fx.write("un/users.csv", "user_id,login_id,status\nU1,l1,active\n");
    fx.write(
        "un/enrollments.csv",
        "course_id,section_id,user_id,role,status\nC1,S2,U1,student,active\nC2,S2,U1,student,active\nC1,S2,U1,teacher,active\n",
    );
    let r = fx.run(&[fx.path("un")]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "un/enrollments.csv:2: warning: An enrollment listed a section (S2) and a course (C1) that are unrelated for user (U1): section S2 is in course C2 at un/sections.csv:2, and no cross-listing in this bundle moves it to C1; Canvas skips this row (2 rows list this section with this course) (give course_id C2 (or leave course_id empty); Canvas accepts C1 only if S2 is already cross-listed into it)",
            "4 files, kinds: course(2) section(1) user(1) enrollment(3), 7 rows, 0 errors, 1 warning",
        ]
    );
    let d = r.diagnostics().next().unwrap();
    assert_eq!((d.code, d.row), ("unrelated_section", Some(2)));
    fx.write(
        "un/xlists.csv",
        "xlist_course_id,section_id,status\nC1,S2,active\n",
    );
    let r = fx.run(&[fx.path("un")]);
    assert_eq!(r.warning_count(), 0, "{:?}", fx.lines(&r));
}

/// Nit 7: a `role_id` that is no integer matches no role; Canvas goes by `role`.
#[test]
fn a_role_id_that_is_no_integer_falls_back_to_role() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "rid.csv",
            "course_id,user_id,role,role_id,status\nc1,u1,student,abc,active\nc1,u2,,abc,active\n"
        ),
        vec![
            "rid.csv:2: warning: role_id \"abc\" is not a role id (an integer): Canvas matches no role by it and enrolls by role \"student\" (give the role's numeric id, or leave role_id empty)",
            "rid.csv:3: warning: Improper role \"\" for an enrollment (role_id \"abc\" is not a role id (an integer), so Canvas matches no role by it, and role is empty)",
        ]
    );
}

/// Nit 8: Canvas's `EmailAddressValidator` (`Mail::Address` with a domain) takes a
/// one-label domain; it refuses a display name.
#[test]
fn emails_as_canvas_checks_them() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "em.csv",
            "user_id,login_id,status,email\nu2,l2,active,a@b\nu3,l3,active,user@localhost\nu4,l4,active,Bob <a@b.com>\n"
        ),
        vec![
            "em.csv:4: warning: The email address associated with user 'u4' is invalid (email: 'Bob <a@b.com>')"
        ]
    );
}

/// Nit 9: `Time.zone.parse` ends in Ruby's `Time.new`, which rolls a day past the
/// month's end (up to 31) into the next month; a day over 31 raises.
#[test]
fn a_day_past_the_months_end_rolls_over() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "d30.csv",
            "course_id,short_name,long_name,status,start_date,end_date\nc5,C5,C5,active,2024-02-30,\nc6,C6,C6,active,2024-02-32,\n"
        ),
        vec![
            "d30.csv:2: warning: start_date \"2024-02-30\": February has no day 30; Canvas gives no warning and imports 2024-03-01 (Ruby's Time.new rolls the day over into the next month) (write the date you mean)",
            "d30.csv:3: warning: Bad date format for course c6 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ)",
        ]
    );
}

/// Nit 10: the duplicate integration_id message names the user who has it.
#[test]
fn a_duplicate_integration_id_names_the_first_user() {
    let fx = Fx::new();
    assert_eq!(
        fx.check(
            "iid.csv",
            "user_id,login_id,status,integration_id\nU1,l1,active,I1\nU2,l2,active,I1\n"
        ),
        vec![
            "iid.csv:3: warning: integration_id \"I1\" is already used by user U1 at iid.csv:2; Canvas skips this row: \"An existing Canvas user with the SIS ID U1 has already claimed U2's requested integration_id, skipping\""
        ]
    );
}

/// Nit 12: a required column missing from the header is one file-level finding for
/// every kind, also when another column could stand in for it and is missing too.
#[test]
fn a_missing_required_column_is_reported_alike_across_kinds() {
    let fx = Fx::new();
    assert_eq!(
        fx.check("nolong.csv", "course_id,short_name,status\nc1,C1,active\n"),
        vec![
            "nolong.csv:1: error: required column \"long_name\" is missing from the header, and so is \"abstract_course_id\", which can stand in for it (Canvas would skip every row)"
        ]
    );
    assert_eq!(
        fx.check("nostatus.csv", "user_id,login_id\nu1,l1\n"),
        vec![
            "nostatus.csv:1: error: required column \"status\" is missing from the header (Canvas would skip every row)"
        ]
    );
    // With abstract_course_id in the header, rows without it are skipped one by one.
    assert_eq!(
        fx.check(
            "abs.csv",
            "course_id,short_name,status,abstract_course_id\nc1,C1,active,A1\nc2,C2,active,\n"
        ),
        vec!["abs.csv:3: warning: No long_name given for course c2"]
    );
}
