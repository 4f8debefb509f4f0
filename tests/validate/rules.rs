//! One test per CSV rule, asserting the exact `file:line` diagnostics.

use crate::support::*;
use canvas_sis::validate::{InputError, Options, Severity, validate_paths};
use fake_canvas::zip_of;

#[test]
fn clean_users_file() {
    let fx = Fx::new();
    let p = fx.write("users.csv", USERS);
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec!["1 file, kinds: user(2), 2 rows, 0 errors, 0 warnings"]
    );
    assert!(!r.failed(true));
}

#[test]
fn header_case_order_bom_and_line_endings() {
    let fx = Fx::new();
    for nl in ["\r\n", "\r", "\n"] {
        let l = fx.check(
            "u.csv",
            format!(
                "\u{feff}STATUS,Login_ID,User_Id{nl}active,l1,u1{nl}deleted,l2,u2{nl} Active ,l3,u3"
            ),
        );
        assert!(l.is_empty(), "{nl:?}: {l:?}");
    }
}

#[test]
fn unknown_column_with_typo_hint() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status,emial,favourite\nu1,l1,active,x,y\n",
    );
    assert_eq!(
        l,
        vec![
            "u.csv:1: warning: unknown column \"emial\" for a user file; Canvas ignores it (did you mean \"email\"?)",
            "u.csv:1: warning: unknown column \"favourite\" for a user file; Canvas ignores it",
        ]
    );
}

#[test]
fn blank_lines_empty_rows_and_multiline_rows() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status,full_name\n\n,,,\nu1,l1,active,\"two\nlines\"\nu2,l2,bogus,x\n",
    );
    // Line 6 is Canvas row 4: the blank line is not a row, the multi-line field counts once.
    assert_eq!(
        l,
        vec![
            "u.csv:6: warning: Improper status for user u2 [Canvas row 4] (expected active, suspended, deleted (prefix match))"
        ]
    );
}

#[test]
fn canvas_row_messages() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status,email,canvas_password_notification\nu1,,active,,\n,l2,active,,\nu3,l3,,,\n9C4544,l4,activ,,\nu5,l5,active,not-an-email,maybe\n",
    );
    assert_eq!(
        l,
        vec![
            "u.csv:2: warning: No login_id given for user u1",
            "u.csv:3: warning: No user_id given for a user",
            "u.csv:4: warning: No status given for user u3",
            "u.csv:5: warning: Improper status for user 9C4544 (did you mean \"active\"?)",
            "u.csv:6: warning: The email address associated with user 'u5' is invalid (email: 'not-an-email')",
            "u.csv:6: warning: \"maybe\" is not a boolean for column canvas_password_notification (Canvas reads \"maybe\" as false; use true/false, yes/no or 1/0)",
        ]
    );
}

#[test]
fn enrollment_messages() {
    let fx = Fx::new();
    let l = fx.check(
        "e.csv",
        "course_id,user_id,role,status,start_date\nc1,u1,student,x,\nc1,u1,,active,\n,u1,teacher,active,\nc1,u1,Students,Active,2024-13-01\n",
    );
    assert_eq!(
        l,
        vec![
            "e.csv:2: warning: Improper status \"x\" for an enrollment (expected active, deleted, completed, inactive, deleted_last_completed (prefix match))",
            "e.csv:3: warning: Improper role \"\" for an enrollment",
            "e.csv:4: warning: No course_id or section_id given for an enrollment",
            "e.csv:5: warning: Bad date format for user u1 in course c1 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ)",
        ]
    );
}

#[test]
fn missing_required_column() {
    let fx = Fx::new();
    let l = fx.check("u.csv", "user_id,login_id\nu1,l1\n");
    assert_eq!(
        l,
        vec![
            "u.csv:1: error: required column \"status\" is missing from the header (Canvas would skip every row)"
        ]
    );
}

#[test]
fn unterminated_quote() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status\nu1,l1,active\nu2,\"l2,active\nu3,l3,active\n",
    );
    assert_eq!(
        l,
        vec![
            "u.csv:3: error: Malformed CSV: unclosed quoted field (a quote opened here is never closed) (Canvas skips the whole file)"
        ]
    );
}

#[test]
fn stray_quote_in_unquoted_field() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status\nu1,l1,active\nu2,l\"2,active\n",
    );
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("u.csv:3: error: Malformed CSV: a quote inside an unquoted field"),
        "{l:?}"
    );
}

#[test]
fn text_after_closing_quote() {
    let fx = Fx::new();
    let l = fx.check("u.csv", "user_id,login_id,status\n\"u1\"x,l1,active\n");
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("u.csv:2: error: Malformed CSV: text after a closing quote"),
        "{l:?}"
    );
}

#[test]
fn ragged_rows() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,login_id,status,email\nu1,l1,active\nu2,l2,active,,extra\nu3,l3,active,,\n",
    );
    assert_eq!(
        l,
        vec![
            "u.csv:2: warning: row has 3 field(s), the header has 4; the missing fields are read as empty",
            "u.csv:3: warning: row has 5 fields, the header has 4; Canvas ignores the extra values",
        ]
    );
}

#[test]
fn invalid_utf8_latin1() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        b"user_id,login_id,status,full_name\nu1,l1,active,Ren\xe9\n".as_slice(),
    );
    assert_eq!(
        l,
        vec![
            "u.csv:2: error: Invalid UTF-8: byte 0xE9 at byte offset 50 (byte 0xE9 looks like Latin-1 / Windows-1252 ('é'); re-save the file as UTF-8)"
        ]
    );
}

#[test]
fn invalid_utf8_windows1252_and_utf16() {
    let fx = Fx::new();
    let l = fx.check(
        "a.csv",
        b"user_id,login_id,status\nu1,l1,active\nu2,\x93l2\x94,active\n".as_slice(),
    );
    assert_eq!(l.len(), 1);
    assert!(l[0].starts_with("a.csv:3: error: Invalid UTF-8: byte 0x93 at byte offset 40 (byte 0x93 looks like Windows-1252 ('“')"), "{l:?}");
    let mut u16 = vec![0xff, 0xfe];
    for c in "user_id,login_id,status\n".encode_utf16() {
        u16.extend_from_slice(&c.to_le_bytes());
    }
    let l = fx.check("b.csv", &u16);
    assert_eq!(
        l,
        vec![
            "b.csv:1: error: Invalid UTF-8: the file looks like UTF-16 (a UTF-16 byte-order mark; re-save the file as UTF-8)"
        ]
    );
    let l = fx.check("c.csv", &u16[2..]);
    assert!(
        l[0].starts_with("c.csv:1: error: Invalid UTF-8: the file looks like UTF-16"),
        "{l:?}"
    );
}

#[test]
fn nul_character() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        b"user_id,login_id,status\nu1,l\x001,active\n".as_slice(),
    );
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("u.csv:2: warning: Some of the fields contain NULL character"),
        "{l:?}"
    );
}

#[test]
fn duplicate_header_and_header_spaces() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id, login_id,status,status\nu1,l1,active,active\n",
    );
    // A required column with spaces is one Canvas does not find: every row is skipped.
    assert_eq!(
        l,
        vec![
            "u.csv:1: warning: header cell \" login_id\" (column 2) has spaces around it: Canvas does not trim header names, so it finds no \"login_id\" column and skips every row (see the missing column) (write it as \"login_id\")",
            "u.csv:1: warning: duplicate header column \"status\" (columns 3 and 4): Canvas reads column 3 and ignores column 4 (remove one of them)",
            "u.csv:1: error: required column \"login_id\" is missing from the header (column 2 is \" login_id\", with spaces Canvas does not trim) (Canvas would skip every row)",
        ]
    );
}

#[test]
fn unrecognised_header_with_guess() {
    let fx = Fx::new();
    let l = fx.check("u.csv", "userid,login_id,status\nu1,l1,active\n");
    assert_eq!(
        l,
        vec![
            "u.csv:1: error: Couldn't find Canvas CSV import headers (it looks like a user file: rename \"userid\" to \"user_id\")"
        ]
    );
    let l = fx.check("x.csv", "foo,bar\n1,2\n");
    assert_eq!(
        l,
        vec!["x.csv:1: error: Couldn't find Canvas CSV import headers"]
    );
}

#[test]
fn enrollments_with_name_read_as_sections() {
    let fx = Fx::new();
    let p = fx.write(
        "e.csv",
        "section_id,user_id,role,status,name\ns1,u1,student,active,Ann\n",
    );
    let r = fx.run(&[p]);
    assert_eq!(r.files[0].kind.as_deref(), Some("section"));
    let l = fx.lines(&r);
    assert!(
        l[0].starts_with("e.csv:1: error: Canvas will read this file as section (the first kind whose headers match), but it looks like an enrollment file (the column(s) \"name\" make it a section file"),
        "{l:?}"
    );
}

#[test]
fn only_bom_blank_lines_and_empty() {
    let fx = Fx::new();
    assert_eq!(
        fx.check("a.csv", b"\xef\xbb\xbf".as_slice()),
        vec!["a.csv:1: error: the file holds only a byte-order mark; Canvas finds no header"]
    );
    assert_eq!(
        fx.check("b.csv", "\r\n\r\n\r\n"),
        vec!["b.csv:1: error: the file holds only blank lines; Canvas finds no header"]
    );
    assert_eq!(
        fx.check("c.csv", ""),
        vec![
            "c.csv: error: empty file (0 bytes); Canvas ignores it and imports nothing (check the export that wrote it)"
        ]
    );
}

#[test]
fn header_only_file_is_clean() {
    let fx = Fx::new();
    let p = fx.write("u.csv", "user_id,login_id,status\n");
    let r = fx.run(&[p]);
    assert_eq!(
        fx.lines(&r),
        vec!["1 file, kinds: user(0), 0 rows, 0 errors, 0 warnings"]
    );
}

#[test]
fn other_extensions_refused() {
    let fx = Fx::new();
    assert_eq!(
        fx.check("u.txt", USERS),
        vec![
            "u.txt: error: Canvas imports nothing from a .txt upload (only .csv and .zip are read) (if it is CSV, name it .csv)"
        ]
    );
    let x = zip_of(&[("xl/workbook.xml", b"<x/>")]);
    assert_eq!(
        fx.check("u.xlsx", &x),
        vec![
            "u.xlsx: error: Canvas imports nothing from a .xlsx upload (only .csv and .zip are read) (export the sheet as CSV (UTF-8) instead)"
        ]
    );
}

#[test]
fn csv_that_is_zip_and_zip_that_is_csv() {
    let fx = Fx::new();
    let z = zip_of(&[("users.csv", USERS.as_bytes())]);
    let l = fx.check("users.csv", &z);
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("users.csv: error: this file is a zip archive, not CSV"),
        "{l:?}"
    );
    let l = fx.check("b.zip", USERS);
    assert_eq!(
        l,
        vec![
            "b.zip: error: not a zip archive (by its name it should be one) (it looks like a CSV file; name it .csv)"
        ]
    );
    // A forced extension wins over the name.
    let p = fx.write("data.bin", USERS);
    let o = Options {
        extension: Some("csv".into()),
        ..Options::default()
    };
    let r = fx.run_with(&[p], &o);
    assert_eq!(r.error_count(), 0);
}

#[test]
fn xml_files() {
    // XML is read as IMS Enterprise (tests/validate/ims.rs has every rule).
    let fx = Fx::new();
    assert_eq!(
        fx.check("a.xml", "<enterprise>\n<person>\n</enterprise>\n"),
        vec![
            "a.xml:3:1: error: XML is not well-formed: ill-formed document: expected `</person>`, but `</enterprise>` was found"
        ]
    );
    let p = fx.write("b.xml", "<enterprise/>");
    let o = Options {
        import_type: "instructure_csv".into(),
        import_type_set: true,
        ..Options::default()
    };
    assert_eq!(
        fx.lines(&fx.run_with(std::slice::from_ref(&p), &o))[0],
        "b.xml: error: Canvas imports nothing from an XML file with import_type instructure_csv (send IMS Enterprise XML with --import-type ims_xml (the default for an IMS file when no import type is set))"
    );
    assert_eq!(fx.run(&[p]).error_count(), 0);
    let l = fx.check("d.xml", "<enterprise>\n<comments>\n");
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("d.xml:3:1: error: XML is not well-formed: unclosed element"),
        "{l:?}"
    );
}

#[test]
fn directory_walk_sorted_and_skips() {
    let fx = Fx::new();
    fx.write("bundle/b/users.csv", USERS);
    fx.write(
        "bundle/a/courses.csv",
        "course_id,short_name,long_name,status\nc1,C1,Course 1,active\n",
    );
    fx.write("bundle/.hidden.csv", "junk");
    fx.write("bundle/__MACOSX/users.csv", "junk");
    fx.write("bundle/notes.txt", "hello");
    let r = fx.run(&[fx.path("bundle")]);
    let names: Vec<_> = r
        .files
        .iter()
        .map(|f| f.file.replace(&format!("{}/", fx.dir.path().display()), ""))
        .collect();
    assert_eq!(
        names,
        vec!["bundle/a/courses.csv", "bundle/b/users.csv", "bundle"]
    );
    assert_eq!(
        fx.lines(&r),
        vec![
            "bundle/notes.txt: warning: Skipping unknown file type (Canvas will skip it: only .csv files in a bundle are read)",
            "3 files, kinds: course(1) user(2), 3 rows, 0 errors, 1 warning",
        ]
    );
}

#[test]
fn duplicates_and_references_across_files() {
    let fx = Fx::new();
    let u = fx.write(
        "users.csv",
        "user_id,login_id,status\nu1,L1,active\nu2,l1,active\nu1,l3,active\n",
    );
    let c = fx.write(
        "courses.csv",
        "course_id,short_name,long_name,status,term_id\nc1,C,Course,active,T9\n",
    );
    let s = fx.write(
        "sections.csv",
        "section_id,course_id,name,status\ns1,c1,S1,active\ns2,c404,S2,active\n",
    );
    let e = fx.write(
        "enrollments.csv",
        "section_id,user_id,role,status\ns1,u1,student,active\ns1,u9,student,active\ns1,u9,teacher,active\ns404,u2,student,active\n",
    );
    let r = fx.run(&[u, c, s, e]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "users.csv:3: warning: login_id \"l1\" is already used by user u1 at users.csv:2; Canvas skips this row: \"An existing Canvas user with the SIS ID u1 has already claimed u2's user_id requested login information, skipping\"",
            "users.csv:4: warning: duplicate user_id \"u1\": already at users.csv:2; Canvas applies both rows in order, so this one wins",
            "sections.csv:3: warning: section references course \"c404\" (course_id), which is not in this bundle; it may already exist in Canvas",
            "enrollments.csv:3: warning: enrollment references user \"u9\" (user_id), which is not in this bundle; it may already exist in Canvas (2 rows reference it)",
            "enrollments.csv:5: warning: enrollment references section \"s404\" (section_id), which is not in this bundle; it may already exist in Canvas",
            "4 files, kinds: course(1) section(2) user(3) enrollment(4), 10 rows, 0 errors, 5 warnings",
        ]
    );
    // No terms file in the bundle: the term reference is not reported.
}

/// Dates as Ruby reads them: month names pass, `A/B/YYYY` is day first (a warning when
/// both parts could be the month), an impossible day-first date hints the month-first one.
#[test]
fn dates_with_month_names_and_day_first() {
    let fx = Fx::new();
    let l = fx.check(
        "courses.csv",
        "course_id,short_name,long_name,status,start_date,end_date\n\
         c1,C1,Course,active,Jan 3 2013,\"Thu, 03 Jan 2013 10:00:00 GMT\"\n\
         c2,C2,Course,active,01/02/2024,13/02/2024\n\
         c3,C3,Course,active,12/25/2024,\"January 3rd, 2013 10:00 am\"\n",
    );
    assert_eq!(
        l,
        vec![
            "courses.csv:3: warning: start_date \"01/02/2024\" is read by Canvas as 2024-02-01 (day first, as Ruby's date parser reads A/B/YYYY) (if the month comes first, write the date as YYYY-MM-DD)",
            "courses.csv:4: warning: Bad date format for course c3 (Canvas reads A/B/YYYY day first, so \"12/25/2024\" has no such month; if you meant 2024-12-25, write that; Canvas imports the row with this date empty)",
        ]
    );
}

/// Ruby's CSV takes the file's first line ending for every row: a CRLF line in an LF file
/// fails the file ("Malformed CSV"), in a zip entry too.
#[test]
fn mixed_line_endings_fail_the_file() {
    let fx = Fx::new();
    let text = "user_id,login_id,status\nu1,l1,active\nu2,l2,active\r\nu3,l3,active\n";
    let want = "users.csv:3: error: Malformed CSV: line ends with \\r\\n (CRLF) but the file's first line ends with \\n (LF); Ruby's CSV, which Canvas uses, takes the first line ending for the whole file (convert the file to one line ending (dos2unix or unix2dos); Canvas skips the whole file)";
    assert_eq!(fx.check("users.csv", text), vec![want]);
    let z = fx.zip("b.zip", &[("users.csv", text.as_bytes())]);
    let l = fx.lines(&fx.run(&[z]));
    assert!(
        l.iter()
            .any(|x| x.starts_with("b.zip:users.csv:3: error: Malformed CSV: line ends with")),
        "{l:?}"
    );
}

/// Commas inside quoted fields are text, not line breaks: later lines keep their numbers.
#[test]
fn quoted_commas_keep_line_numbers() {
    let fx = Fx::new();
    let l = fx.check(
        "users.csv",
        "user_id,login_id,status,first_name\nu1,l1,active,\"Smith, Jr., Ann\"\nu2,l2,bogus,x\n",
    );
    assert_eq!(
        l,
        vec![
            "users.csv:3: warning: Improper status for user u2 (expected active, suspended, deleted (prefix match))",
        ]
    );
}

#[test]
fn canvas_deduplication_notice() {
    let fx = Fx::new();
    let mut s = String::from("user_id,login_id,status\n");
    for _ in 0..101 {
        s.push_str("u1,l1,active\n");
    }
    let l = fx.check("users.csv", s);
    // 100 duplicate lines of row 2 → the notice only (exact duplicates change nothing),
    // at the first duplicate line, naming the line it copies.
    assert_eq!(
        l,
        vec![
            "users.csv:3: warning: 100 lines are exact duplicates of earlier lines (the first is line 3, a copy of line 2): Canvas will drop them (keeping the last copy) and report this file as \"users_deduplicated.csv\" (remove the duplicate lines so Canvas's messages name this file)"
        ]
    );
}

/// Past its memory budget the duplicate-line count spills to a temporary file; the
/// count (and so the notice) is the same as in memory, for a plain file and a zip entry.
#[test]
fn deduplication_count_is_exact_past_the_memory_budget() {
    let fx = Fx::new();
    let mut s = String::from("user_id,login_id,status\n");
    for i in 0..6000 {
        s.push_str(&format!("u{i},l{i},active\n"));
        if i % 40 == 0 {
            // 150 exact copies of earlier lines, spread over the file.
            s.push_str(&format!("u{},l{},active\n", i / 2, i / 2));
        }
    }
    let csv = fx.write("users.csv", &s);
    let zip = fx.zip("b.zip", &[("users.csv", s.as_bytes())]);
    let want = ":3: warning: 150 lines are exact duplicates of earlier lines (the first is line 3, a copy of line 2)";
    for budget in [300, 1 << 20] {
        let o = Options {
            line_hash_memory: budget,
            ..Options::default()
        };
        for p in [&csv, &zip] {
            let r = fx.run_with(std::slice::from_ref(p), &o);
            let l = fx.lines(&r);
            assert!(l.iter().any(|x| x.contains(want)), "{budget}: {l:?}");
            let rows: u64 = r.files.iter().map(|f| f.rows).sum();
            assert_eq!(rows, 6150, "{budget}");
        }
    }
}

#[test]
fn max_diagnostics_caps_but_counts_stay_exact() {
    let fx = Fx::new();
    let mut s = String::from("user_id,login_id,status\n");
    for i in 0..50 {
        s.push_str(&format!("u{i},l{i},bogus\n"));
    }
    let p = fx.write("u.csv", s);
    let o = Options {
        max_diagnostics: 3,
        ..Options::default()
    };
    let r = fx.run_with(&[p], &o);
    assert_eq!(r.files[0].diagnostics.len(), 3);
    assert_eq!(r.warning_count(), 50);
    assert_eq!(r.files[0].omitted, 47);
    assert!(
        r.summary_line()
            .ends_with("50 warnings (47 more not shown; see --max-diagnostics)")
    );
    assert!(!r.failed(false));
    assert!(r.failed(true));
}

#[test]
fn json_document() {
    let fx = Fx::new();
    let p = fx.write("u.csv", "user_id,login_id,status\n\"u\n1\",l1,nope\n");
    let r = fx.run(&[p]);
    let j = r.to_json();
    let d = &j["diagnostics"][0];
    assert_eq!(d["line"], 3, "the status field starts on line 3");
    assert_eq!(d["row"], 2);
    assert_eq!(d["column"], "status");
    assert_eq!(d["severity"], "warning");
    assert_eq!(d["code"], "invalid_value");
    assert_eq!(d["message"], "Improper status for user u\n1");
    assert!(d["file"].as_str().unwrap().ends_with("u.csv"));
    assert_eq!(j["files"][0]["kind"], "user");
    assert_eq!(j["files"][0]["rows"], 1);
    assert_eq!(j["totals"]["warnings"], 1);
    assert_eq!(j["totals"]["errors"], 0);
    assert_eq!(j["totals"]["kinds"]["user"], 1);
}

#[test]
fn multiline_field_reports_its_own_line() {
    let fx = Fx::new();
    let l = fx.check(
        "u.csv",
        "user_id,full_name,login_id,status\nu1,\"a\nb\nc\",l1,wrong\n",
    );
    assert_eq!(
        l,
        vec![
            "u.csv:4: warning: Improper status for user u1 [Canvas row 2] (expected active, suspended, deleted (prefix match))"
        ]
    );
}

#[test]
fn missing_input_is_input_error() {
    let fx = Fx::new();
    let e = validate_paths(&[fx.path("nope.csv")], &Options::default()).unwrap_err();
    assert!(matches!(e, InputError::Missing(_)));
    assert!(
        e.to_string()
            .ends_with("nope.csv: no such file or directory")
    );
}

#[test]
fn every_kind_recognised_with_a_clean_row() {
    // One minimal clean file per kind: the table and the messages agree.
    let cases: &[(&str, &str)] = &[
        ("change_sis_id", "old_id,new_id,type\na,b,user\n"),
        (
            "account",
            "account_id,parent_account_id,name,status\na1,,A,active\n",
        ),
        (
            "term",
            "term_id,name,status,start_date\nt1,T,active,2024-08-20T00:00:00Z\n",
        ),
        (
            "abstract_course",
            "abstract_course_id,short_name,long_name,status\nac,S,L,active\n",
        ),
        (
            "course",
            "course_id,short_name,long_name,status\nc1,S,L,active\n",
        ),
        (
            "section",
            "section_id,course_id,name,status\ns1,c1,S,active\n",
        ),
        ("xlist", "xlist_course_id,section_id,status\nc1,s1,active\n"),
        ("user", "user_id,login_id,status\nu1,l1,active\n"),
        ("login", "user_id,login_id,existing_user_id\nu2,l2,u1\n"),
        (
            "enrollment",
            "course_id,user_id,role,status\nc1,u1,teacher,active\n",
        ),
        (
            "admin",
            "user_id,account_id,role,status\nu1,,AccountAdmin,active\n",
        ),
        (
            "group_category",
            "group_category_id,category_name,status\ngc,G,active\n",
        ),
        (
            "differentiation_tag_set",
            "tag_set_id,course_id,set_name,status\nts,c1,S,active\n",
        ),
        ("group", "group_id,name,status\ng1,G,available\n"),
        (
            "differentiation_tag",
            "tag_id,name,status,course_id\nt1,T,available,c1\n",
        ),
        (
            "group_membership",
            "group_id,user_id,status\ng1,u1,accepted\n",
        ),
        (
            "differentiation_tag_membership",
            "tag_id,user_id,status\nt1,u1,accepted\n",
        ),
        (
            "institutional_tag_category",
            "category_id,name,status\nic,N,active\n",
        ),
        (
            "institutional_tag",
            "institutional_tag_id,category_id,name,description,status\nit,ic,N,D,active\n",
        ),
        (
            "institutional_tag_association",
            "institutional_tag_id,user_id,status\nit,u1,active\n",
        ),
        (
            "grade_publishing_results",
            "enrollment_id,grade_publishing_status\n1,published\n",
        ),
        (
            "user_observer",
            "observer_id,student_id,status\no1,s1,active\n",
        ),
    ];
    assert_eq!(cases.len(), 22);
    for (kind, csv) in cases {
        let fx = Fx::new();
        let p = fx.write("f.csv", csv);
        let r = fx.run(&[p]);
        assert_eq!(r.files[0].kind.as_deref(), Some(*kind), "{kind}");
        assert_eq!(
            r.error_count() + r.warning_count(),
            0,
            "{kind}: {:?}",
            fx.lines(&r)
        );
        assert_eq!(r.files[0].rows, 1);
    }
}

#[test]
fn pair_rules() {
    let fx = Fx::new();
    let l = fx.check("o.csv", "observer_id,student_id,status\nu1,u1,active\n");
    assert_eq!(l, vec!["o.csv:2: warning: Can't observe yourself user u1"]);
    let l = fx.check(
        "g.csv",
        "group_id,name,status,course_id,account_id\ng1,G,available,c1,a1\n",
    );
    assert_eq!(
        l,
        vec![
            "g.csv:2: warning: Only one context is allowed and both course_id and account_id where provided for group g1."
        ]
    );
    let l = fx.check(
        "c.csv",
        "old_integration_id,new_integration_id,type\na,b,group_category\n",
    );
    assert_eq!(
        l,
        vec!["c.csv:2: warning: Group categories should not have integration IDs."]
    );
}

#[test]
fn severity_of_row_problems_is_warning() {
    let fx = Fx::new();
    let p = fx.write("u.csv", "user_id,login_id,status\nu1,,active\n");
    let r = fx.run(&[p]);
    assert_eq!(r.files[0].diagnostics[0].severity, Severity::Warning);
    assert_eq!(r.files[0].diagnostics[0].code, "missing_value");
    assert_eq!(
        r.files[0].diagnostics[0].column.as_deref(),
        Some("login_id")
    );
}

/// Issue 16 §4. A login is a pseudonym's `unique_id`, at most 100 characters
/// (`Pseudonym::MAX_UNIQUE_ID_LENGTH`); the users importer reports the failed save as
/// "Could not save the user with user_id: '…'. Unknown reason: unique_id is too long
/// (maximum is 100 characters)" and skips the row. Characters, not bytes, are counted.
#[test]
fn login_id_over_100_characters() {
    let fx = Fx::new();
    let long = "x".repeat(101);
    let wide = "é".repeat(100);
    let l = fx.check(
        "users.csv",
        format!(
            "user_id,login_id,status\nu1,{long},active\nu2,{wide},active\nu3,{},active\n",
            "y".repeat(100)
        ),
    );
    assert_eq!(
        l,
        vec![
            "users.csv:2: warning: Could not save the user with user_id: 'u1'. Unknown reason: unique_id is too long (maximum is 100 characters) (the login_id has 101 characters; Canvas allows at most 100)"
        ]
    );
    // logins.csv goes through the same importer.
    let l = fx.check(
        "logins.csv",
        format!("user_id,login_id,existing_user_id\nu9,{long},u1\n"),
    );
    assert_eq!(
        l,
        vec![
            "logins.csv:2: warning: Could not save the user with user_id: 'u9'. Unknown reason: unique_id is too long (maximum is 100 characters) (the login_id has 101 characters; Canvas allows at most 100)"
        ]
    );
    let p = fx.write(
        "u.csv",
        format!("user_id,login_id,status\nu1,{long},active\n"),
    );
    let r = fx.run(&[p]);
    let d = &r.files[0].diagnostics[0];
    assert_eq!(
        (d.code, d.severity, d.column.as_deref()),
        ("invalid_login_id", Severity::Warning, Some("login_id"))
    );
}

/// Issue 16 §4. `unique_id` must match `/\A[[:print:]]+\z/`: a control character fails
/// the save with "unique_id is invalid", which the users importer words as "Invalid
/// login_id: '…'". The login is shown with the control character escaped.
#[test]
fn login_id_with_a_control_character() {
    let fx = Fx::new();
    let l = fx.check(
        "users.csv",
        "user_id,login_id,status\nu1,ab\tc,active\nu2,\"l\u{1b}[2J\",active\nu3,\"two\nlines\",active\nu4,ok é ü,active\n",
    );
    assert_eq!(
        l,
        vec![
            "users.csv:2: warning: Could not save the user with user_id: 'u1'. Invalid login_id: 'ab\\tc' (character 3 of the login_id is U+0009, a control character; Canvas accepts only printable characters)",
            "users.csv:3: warning: Could not save the user with user_id: 'u2'. Invalid login_id: 'l\\u{1b}[2J' (character 2 of the login_id is U+001B, a control character; Canvas accepts only printable characters)",
            "users.csv:4: warning: Could not save the user with user_id: 'u3'. Invalid login_id: 'two\\nlines' (character 4 of the login_id is U+000A, a control character; Canvas accepts only printable characters)",
        ]
    );
    // The row is skipped: its login does not count as taken.
    let l = fx.check(
        "users.csv",
        "user_id,login_id,status\nu1,ab\u{1}c,active\nu2,ab\u{1}c,active\n",
    );
    assert_eq!(l.len(), 2, "{l:?}");
    assert!(l.iter().all(|x| x.contains("Invalid login_id")), "{l:?}");
}

/// Issue 16 §4. A group category's name is unique among the active categories of its
/// account or course (`GroupCategory` name validation, case-sensitive); the importer
/// reports "A group category did not pass validation (group category: <id>, error: Name
/// <name> is already in use.)". A deleted category frees its name; another account or
/// a course is another scope.
#[test]
fn group_category_name_taken_in_the_same_account() {
    let fx = Fx::new();
    let l = fx.check(
        "gc.csv",
        "group_category_id,account_id,course_id,category_name,status\n\
         Gc001,,,Group Cat 1,active\n\
         Gc002,,,Group Cat 1,active\n\
         Gc003,A1,,Group Cat 1,active\n\
         Gc004,,C1,Group Cat 1,active\n\
         Gc005,,,group cat 1,active\n\
         Gc006,,,Group Cat 2,deleted\n\
         Gc007,,,Group Cat 2,active\n\
         Gc008,A1,,Group Cat 1,deleted\n\
         Gc001,,,Group Cat 1,Active\n",
    );
    assert_eq!(
        l,
        vec![
            "gc.csv:3: warning: A group category did not pass validation (group category: Gc002, error: Name Group Cat 1 is already in use.) (group category Gc001 at gc.csv:2 has this name in the root account)",
            "gc.csv:9: warning: A group category did not pass validation (group category: Gc008, error: Name Group Cat 1 is already in use.) (group category Gc003 at gc.csv:4 has this name in account A1)",
            "gc.csv:10: warning: duplicate group_category_id \"Gc001\": already at gc.csv:2; Canvas applies both rows in order, so this one wins",
        ]
    );
    let p = fx.write(
        "g.csv",
        "group_category_id,category_name,status\nG1,N,active\nG2,N,active\n",
    );
    let r = fx.run(&[p]);
    let d = &r.files[0].diagnostics[0];
    assert_eq!(
        (d.code, d.line, d.column.as_deref()),
        ("duplicate_name", Some(3), Some("category_name"))
    );
}

/// Issue 16 §4. The institutional tag importers check for a blank status before the
/// "Improper status" test: "No status given for institutional tag <id>" (and for a
/// category, and an association with its tag and user).
#[test]
fn institutional_tag_rows_without_a_status() {
    let fx = Fx::new();
    let l = fx.check(
        "tags.csv",
        "institutional_tag_id,category_id,name,description,status\nt1,c1,N,D,\nt2,c1,N,D,bogus\n",
    );
    assert_eq!(
        l,
        vec![
            "tags.csv:2: warning: No status given for institutional tag t1",
            "tags.csv:3: warning: Improper status \"bogus\" for institutional tag t2 (expected active, deleted (prefix match))",
        ]
    );
    let l = fx.check("cats.csv", "category_id,name,status\nc1,N,\n");
    assert_eq!(
        l,
        vec!["cats.csv:2: warning: No status given for institutional tag category c1"]
    );
    let l = fx.check("assoc.csv", "institutional_tag_id,user_id,status\nt1,u1,\n");
    assert_eq!(
        l,
        vec![
            "assoc.csv:2: warning: No status given for institutional tag association (tag: t1, user: u1)"
        ]
    );
}

/// Issue 16 §4. Terms, courses, sections and enrollments parse start_date and then
/// end_date in one `begin … rescue`: the first bad date ends it, so a row gets one "Bad
/// date format" message however many dates are bad (Canvas's section importer spec:
/// `2012-13-05 00:00:00,2012-14-14 00:00:00` → one "Bad date format for section S002").
#[test]
fn two_bad_dates_in_a_row_give_one_message() {
    let fx = Fx::new();
    let l = fx.check(
        "sections.csv",
        "section_id,course_id,name,start_date,end_date,status\n\
         S001,C001,Sec1,2011-1-05 00:00:00,2011-4-14 00:00:00,active\n\
         S002,C001,Sec2,2012-13-05 00:00:00,2012-14-14 00:00:00,active\n\
         S003,C001,Sec3,2011-1-05 00:00:00,2012-14-14 00:00:00,active\n",
    );
    assert_eq!(
        l,
        vec![
            "sections.csv:3: warning: Bad date format for section S002 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ; end_date \"2012-14-14 00:00:00\" is not a date either: Canvas stops at the first bad date of a row)",
            "sections.csv:4: warning: Bad date format for section S003 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ)",
        ]
    );
    let l = fx.check(
        "e.csv",
        "course_id,user_id,role,status,start_date,end_date\nc1,u1,student,active,2024-02-32,soon\n",
    );
    assert_eq!(
        l,
        vec![
            "e.csv:2: warning: Bad date format for user u1 in course c1 (Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ; end_date \"soon\" is not a date either: Canvas stops at the first bad date of a row)"
        ]
    );
}

/// Issue 16 §4. A semicolon- or tab-separated file (Excel in many European locales) is one
/// column to Canvas: "Couldn't find Canvas CSV import headers". Say why, and how to fix it.
#[test]
fn semicolon_or_tab_separated_header() {
    let fx = Fx::new();
    let l = fx.check("u.csv", "User_ID;Login_ID;Status\nu1;l1;active\n");
    assert_eq!(
        l,
        vec![
            "u.csv:1: error: Couldn't find Canvas CSV import headers: the header is separated by semicolons (\";\"), and Canvas reads only commas (it looks like a user file; re-save it with commas, e.g. as \"CSV UTF-8 (Comma delimited)\" in Excel)"
        ]
    );
    let l = fx.check(
        "e.csv",
        "course_id\tuser_id\trole\tstatus\nc1\tu1\tstudent\tactive\n",
    );
    assert_eq!(
        l,
        vec![
            "e.csv:1: error: Couldn't find Canvas CSV import headers: the header is separated by tabs, and Canvas reads only commas (it looks like an enrollment file; re-save it with commas, e.g. as \"CSV UTF-8 (Comma delimited)\" in Excel)"
        ]
    );
    let p = fx.write("s.csv", "section_id;course_id;name;status\n");
    let r = fx.run(&[p]);
    let d = &r.files[0].diagnostics[0];
    assert_eq!((d.code, d.severity), ("wrong_separator", Severity::Error));
    // Semicolons that do not split into known columns: the plain message.
    let l = fx.check("x.csv", "foo;bar\n1;2\n");
    assert_eq!(
        l,
        vec!["x.csv:1: error: Couldn't find Canvas CSV import headers"]
    );
}

/// An enrollment's start_date without end_date (or the reverse): Canvas's importer saves the
/// one date and clears the other, and `EnrollmentDateBuilder#enrollment_is_restricted?`
/// uses an enrollment's own dates only when both are set.
#[test]
fn an_enrollment_date_without_its_pair_is_a_warning() {
    let fx = Fx::new();
    let l = fx.check(
        "e.csv",
        "course_id,user_id,role,status,start_date,end_date\n\
         c1,u1,student,active,2026-01-05T00:00:00Z,\n\
         c1,u2,student,active,,2026-06-01T23:59:59Z\n\
         c1,u3,student,active,2026-01-05T00:00:00Z,2026-06-01T23:59:59Z\n\
         c1,u4,student,active,,\n",
    );
    assert_eq!(
        l,
        vec![
            "e.csv:2: warning: start_date \"2026-01-05T00:00:00Z\" without end_date: Canvas saves it (and clears any end_date the enrollment had), but uses an enrollment's own dates only when both are set, so the section's, course's or term's dates still decide when the user has access (set end_date too, or leave both empty to go by the section, course or term)",
            "e.csv:3: warning: end_date \"2026-06-01T23:59:59Z\" without start_date: Canvas saves it (and clears any start_date the enrollment had), but uses an enrollment's own dates only when both are set, so the section's, course's or term's dates still decide when the user has access (set start_date too, or leave both empty to go by the section, course or term)",
        ]
    );
    // A file without the end_date column at all; and other kinds' dates are not pairs.
    let l = fx.check(
        "e2.csv",
        "course_id,user_id,role,status,start_date\nc1,u1,student,active,2026-01-05\n",
    );
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].starts_with("e2.csv:2: warning: start_date \"2026-01-05\" without end_date"));
    let l = fx.check(
        "s.csv",
        "section_id,course_id,name,status,start_date\nS1,C1,Sec,active,2026-01-05\n",
    );
    assert_eq!(l, Vec::<String>::new());
    let p = fx.write(
        "e3.csv",
        "course_id,user_id,role,status,start_date\nc1,u1,student,active,2026-01-05\n",
    );
    let r = fx.run(&[p]);
    assert_eq!(r.files[0].diagnostics[0].code, "lone_enrollment_date");
    assert_eq!(
        r.files[0].diagnostics[0].column.as_deref(),
        Some("start_date")
    );
}
