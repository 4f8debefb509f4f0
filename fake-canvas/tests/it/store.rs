//! The simulator as a Canvas that keeps data (issue 13 item 3): each test follows the Canvas
//! source it names (paths in instructure/canvas-lms) and `docs/canvas-sis-api.md` §4, §6 and
//! §10.3.

use std::io::Read;

use crate::support::*;
use fake_canvas::{Handle, Scenario, StoreSnapshot, zip_of};
use serde_json::Value;

/// POST a zip of `files` with `query`, poll it to its end; the final SisImport.
fn import(h: &Handle, query: &str, files: &[(&str, &str)]) -> Value {
    let r = authed(
        h,
        client()
            .post(format!("{}{IMPORTS}?{query}", h.url()))
            .header("content-type", "application/zip")
            .body(zip_of(
                &files
                    .iter()
                    .map(|(n, t)| (*n, t.as_bytes()))
                    .collect::<Vec<_>>(),
            )),
    );
    assert_eq!(r.status(), 200);
    let id = json(r)["id"].as_u64().unwrap();
    poll_to_end(h, id, 20)
}

fn status(s: &StoreSnapshot, kind: &str, key: &str) -> String {
    s.status(kind, key)
        .unwrap_or_else(|| {
            panic!(
                "no {kind} {key}: {:?}",
                s.kind(kind).map(|m| m.keys().collect::<Vec<_>>())
            )
        })
        .to_string()
}

const TERMS: &str = "term_id,name,status\nT1,Term One,active\nT2,Term Two,active\n";
const USERS: &str = "user_id,login_id,first_name,last_name,email,status\n\
    u1,ann,Ann,Lee,ann@example.edu,active\nu2,bob,Bob,Ray,bob@example.edu,active\n\
    u3,cy,Cy,Doe,cy@example.edu,active\n";
const COURSES: &str = "course_id,short_name,long_name,term_id,status\n\
    C1,C1,Course One,T1,active\nC2,C2,Course Two,T1,active\nC3,C3,Course Three,T2,active\n";
const SECTIONS: &str = "section_id,course_id,name,status\n\
    S1,C1,Sec One,active\nS2,C2,Sec Two,active\nS3,C3,Sec Three,active\n";
const ENROLLMENTS: &str = "course_id,section_id,user_id,role,status\n\
    C1,S1,u1,student,active\nC1,S1,u2,student,active\nC2,S2,u1,student,active\n\
    C3,S3,u3,teacher,active\n";

fn base(h: &Handle) -> Value {
    let v = import(
        h,
        "",
        &[
            ("terms.csv", TERMS),
            ("users.csv", USERS),
            ("courses.csv", COURSES),
            ("sections.csv", SECTIONS),
            ("enrollments.csv", ENROLLMENTS),
        ],
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    v
}

/// A plain import creates and updates; `status=deleted` (and the other statuses) set the
/// workflow states the importers set: lib/sis/course_importer.rb (`active` → `claimed`,
/// `completed`, `deleted`), lib/sis/section_importer.rb (a deleted section deletes its
/// enrollments), lib/sis/enrollment_importer.rb (`enrollment_status`: completed, inactive,
/// deleted), lib/sis/user_importer.rb (`remove_enrollments_if_last_login`). §4, §6.4.
#[test]
fn plain_import_creates_then_status_rows_update_and_delete() {
    let h = start(Scenario::Ok);
    let v = base(&h);
    let id = v["id"].as_u64().unwrap();
    let counts = &v["data"]["counts"];
    assert_eq!(
        (
            counts["terms"].as_u64(),
            counts["courses"].as_u64(),
            counts["enrollments"].as_u64()
        ),
        (Some(2), Some(3), Some(4))
    );
    let s = h.store();
    let c1 = &s.courses["C1"];
    assert_eq!(
        c1.status, "claimed",
        "active leaves a new course unpublished"
    );
    assert_eq!(c1.term.as_deref(), Some("T1"));
    assert_eq!(c1.sis_batch_id, Some(id));
    assert_eq!(s.sections["S3"].term.as_deref(), Some("T2"));
    assert_eq!(status(&s, "enrollments", "C1|S1|u1|student"), "active");
    assert_eq!(
        s.enrollments["C1|S1|u1|student"].term.as_deref(),
        Some("T1")
    );
    assert_eq!(status(&s, "users", "u1"), "active");
    assert_eq!(s.users["u1"].fields["login_id"], "ann");

    let v = import(
        &h,
        "",
        &[
            (
                "courses.csv",
                "course_id,short_name,long_name,term_id,status\nC2,C2,Course Two,T1,completed\nC3,C3,Course Three,T2,deleted\n",
            ),
            (
                "sections.csv",
                "section_id,course_id,name,status\nS1,C1,Sec One,deleted\n",
            ),
            (
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nC2,S2,u1,student,inactive\nC3,S3,u3,teacher,completed\n",
            ),
            ("users.csv", "user_id,login_id,status\nu2,bob,deleted\n"),
        ],
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    let id2 = v["id"].as_u64().unwrap();
    let s = h.store();
    assert_eq!(status(&s, "courses", "C2"), "completed");
    assert_eq!(status(&s, "courses", "C3"), "deleted");
    assert_eq!(s.courses["C3"].sis_batch_id, Some(id2));
    assert_eq!(
        status(&s, "courses", "C1"),
        "claimed",
        "not in the file: left alone"
    );
    assert_eq!(status(&s, "sections", "S1"), "deleted");
    // The deleted section took its enrollments with it.
    assert_eq!(status(&s, "enrollments", "C1|S1|u1|student"), "deleted");
    assert_eq!(status(&s, "enrollments", "C2|S2|u1|student"), "inactive");
    assert_eq!(status(&s, "enrollments", "C3|S3|u3|teacher"), "completed");
    assert_eq!(status(&s, "users", "u2"), "deleted");
    assert_eq!(status(&s, "enrollments", "C1|S1|u2|student"), "deleted");

    // Rows that point at nothing are skipped with Canvas's warnings, and not counted.
    let v = import(
        &h,
        "",
        &[(
            "enrollments.csv",
            "course_id,section_id,user_id,role,status\nC1,,nobody,student,active\nC9,,u1,student,active\n",
        )],
    );
    assert_eq!(v["workflow_state"], "imported_with_messages");
    assert_eq!(v["data"]["counts"]["enrollments"], 0);
    let w = v["processing_warnings"].to_string();
    assert!(
        w.contains("User not found for enrollment (User ID: nobody, Course ID: C1, Section ID: )"),
        "{w}"
    );
    assert!(
        w.contains("Neither course nor section existed for user enrollment (Course ID: C9, Section ID: , User ID: u1)"),
        "{w}"
    );
}

/// Batch mode removes the batch term's courses, sections and enrollments that an SIS import
/// touched and this batch did not mention: `SisBatch#remove_previous_imports` with
/// `term_course_scope`, `term_sections_scope`, `term_enrollments_scope` and the
/// `non_batch_*_scope`s (app/models/sis_batch.rb), through `cleanup_batch`; another term's
/// objects and objects made by hand (no `sis_batch_id`) stay. `Course.destroy_batch`
/// (app/models/course.rb) deletes the dropped courses' enrollments too. §4, §10.3.
#[test]
fn batch_mode_drops_what_the_term_batch_left_out_and_nothing_else() {
    let h = start(Scenario::Ok);
    base(&h);
    // Made in the UI: a course with an SIS id in T1, and its enrollment.
    h.add_by_hand(
        "course",
        &[
            ("course_id", "HAND"),
            ("short_name", "H"),
            ("long_name", "Hand"),
            ("term_id", "T1"),
            ("status", "active"),
        ],
    )
    .unwrap();
    h.add_by_hand(
        "enrollment",
        &[
            ("course_id", "HAND"),
            ("user_id", "u3"),
            ("role", "student"),
            ("status", "active"),
        ],
    )
    .unwrap();
    assert_eq!(h.store().courses["HAND"].sis_batch_id, None);

    let v = import(
        &h,
        "batch_mode=1&batch_mode_term_id=sis_term_id:T1",
        &[
            (
                "courses.csv",
                "course_id,short_name,long_name,term_id,status\nC1,C1,Course One,T1,active\n",
            ),
            (
                "sections.csv",
                "section_id,course_id,name,status\nS1,C1,Sec One,active\n",
            ),
            (
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nC1,S1,u1,student,active\n",
            ),
        ],
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    let counts = &v["data"]["counts"];
    assert_eq!(counts["batch_courses_deleted"], 1);
    assert_eq!(counts["batch_sections_deleted"], 1);
    // u2 in C1 and u1 in C2 (the section and course deletions come after, so they count
    // nothing more).
    assert_eq!(counts["batch_enrollments_deleted"], 2);
    let s = h.store();
    assert_eq!(status(&s, "courses", "C1"), "claimed");
    assert_eq!(status(&s, "courses", "C2"), "deleted");
    assert_eq!(status(&s, "sections", "S2"), "deleted");
    assert_eq!(status(&s, "enrollments", "C1|S1|u1|student"), "active");
    assert_eq!(status(&s, "enrollments", "C1|S1|u2|student"), "deleted");
    assert_eq!(status(&s, "enrollments", "C2|S2|u1|student"), "deleted");
    // Term T2 and the objects made by hand are not touched.
    assert_eq!(status(&s, "courses", "C3"), "claimed");
    assert_eq!(status(&s, "enrollments", "C3|S3|u3|teacher"), "active");
    assert_eq!(status(&s, "courses", "HAND"), "claimed");
    assert_eq!(status(&s, "enrollments", "HAND||u3|student"), "active");
    // Users are never batch-cleaned.
    assert_eq!(status(&s, "users", "u2"), "active");
}

/// `batch_mode_enrollment_drop_status`: `remove_non_batch_enrollments` concludes or
/// deactivates instead of deleting, and `term_enrollments_scope` leaves out enrollments
/// already in that state (app/models/sis_batch.rb). §2.1.
#[test]
fn batch_mode_enrollment_drop_status_concludes_or_deactivates() {
    for (drop, want) in [("completed", "completed"), ("inactive", "inactive")] {
        let h = start(Scenario::Ok);
        base(&h);
        let v = import(
            &h,
            &format!(
                "batch_mode=1&batch_mode_term_id=sis_term_id:T1&batch_mode_enrollment_drop_status={drop}"
            ),
            &[(
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nC1,S1,u1,student,active\n",
            )],
        );
        assert_eq!(v["workflow_state"], "imported", "{v}");
        assert_eq!(
            v["data"]["counts"]["batch_enrollments_deleted"], 2,
            "{drop}"
        );
        assert!(v["data"]["counts"].get("batch_courses_deleted").is_none());
        let s = h.store();
        assert_eq!(status(&s, "enrollments", "C1|S1|u2|student"), want);
        assert_eq!(status(&s, "enrollments", "C2|S2|u1|student"), want);
        assert_eq!(
            status(&s, "courses", "C2"),
            "claimed",
            "courses were not supplied"
        );
        // Run again: those already in the drop status are out of the scope.
        let v = import(
            &h,
            &format!(
                "batch_mode=1&batch_mode_term_id=sis_term_id:T1&batch_mode_enrollment_drop_status={drop}"
            ),
            &[(
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nC1,S1,u1,student,active\n",
            )],
        );
        assert_eq!(
            v["data"]["counts"]["batch_enrollments_deleted"], 0,
            "{drop}"
        );
    }
}

/// `multi_term_batch_mode`: `batch_mode_terms` is every term the batch's terms file stamped
/// (`EnrollmentTerm.where(sis_batch_id: self)`), and the batch aborts when there are none
/// (app/models/sis_batch.rb, lib/sis/term_importer.rb). §2.1, §4.
#[test]
fn multi_term_batch_mode_cleans_each_term_of_the_terms_file() {
    let h = start(Scenario::Ok);
    base(&h);
    import(
        &h,
        "",
        &[
            ("terms.csv", "term_id,name,status\nT3,Term Three,active\n"),
            (
                "courses.csv",
                "course_id,short_name,long_name,term_id,status\nC4,C4,Course Four,T3,active\n",
            ),
        ],
    );
    let v = import(
        &h,
        "multi_term_batch_mode=1&change_threshold=100",
        &[
            ("terms.csv", TERMS),
            (
                "courses.csv",
                "course_id,short_name,long_name,term_id,status\nC1,C1,Course One,T1,active\n",
            ),
        ],
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    // C2 (T1) and C3 (T2) go; C4 in T3, which the terms file did not name, stays.
    assert_eq!(v["data"]["counts"]["batch_courses_deleted"], 2);
    let s = h.store();
    assert_eq!(status(&s, "courses", "C2"), "deleted");
    assert_eq!(status(&s, "courses", "C3"), "deleted");
    assert_eq!(status(&s, "courses", "C4"), "claimed");
    assert_eq!(status(&s, "courses", "C1"), "claimed");

    // No terms file: aborted before any cleanup.
    let v = import(
        &h,
        "multi_term_batch_mode=1&change_threshold=100",
        &[(
            "courses.csv",
            "course_id,short_name,long_name,term_id,status\nC4,C4,Course Four,T3,active\n",
        )],
    );
    assert_eq!(v["workflow_state"], "aborted", "{v}");
    assert!(
        v["processing_warnings"]
            .to_string()
            .contains("Terms not found. Terms must be included with multi_term_batch_mode"),
        "{v}"
    );
    assert_eq!(status(&h.store(), "courses", "C1"), "claimed");
}

/// `change_threshold` in batch mode: `detect_changes`/`detect_change_item` compare what each
/// scope would lose with the term's whole scope, `count.to_f / all_count * 100 >
/// change_threshold`, courses first, and abort naming the count
/// (`change_detected_message`, app/models/sis_batch.rb); nothing is deleted. §2.1, §4.
#[test]
fn change_threshold_abort_is_computed_from_the_store() {
    let h = start(Scenario::Ok);
    base(&h);
    let q = |t: u32| format!("batch_mode=1&batch_mode_term_id=sis_term_id:T1&change_threshold={t}");
    let one_course = [(
        "courses.csv",
        "course_id,short_name,long_name,term_id,status\nC1,C1,Course One,T1,active\n",
    )];
    // 1 of T1's 2 SIS courses would go: 50% > 49%.
    let v = import(&h, &q(49), &one_course);
    assert_eq!(v["workflow_state"], "aborted", "{v}");
    assert_eq!(v["progress"], 100);
    assert!(
        v["processing_warnings"]
            .to_string()
            .contains("1 courses would be deleted and exceeds the set threshold of 49%"),
        "{v}"
    );
    assert_eq!(
        status(&h.store(), "courses", "C2"),
        "claimed",
        "nothing deleted"
    );
    // 50% is not more than 50%.
    let v = import(&h, &q(50), &one_course);
    assert_eq!(v["workflow_state"], "imported", "{v}");
    assert_eq!(status(&h.store(), "courses", "C2"), "deleted");
}

/// Diffing: `SisBatch#generate_diff` (app/models/sis_batch.rb) diffs against the last
/// successful import of the data set; `DiffGenerator#generate_csvs`
/// (lib/sis/csv/diff_generator.rb) gives rows missing from the new file
/// `diffing_drop_status` (enrollments) or `diffing_user_remove_status` (users), else
/// `deleted`; only changed rows are imported (gems/csv_diff/lib/csv_diff/diff.rb); the
/// importers skip `deleted` rows under `skip_deletes`; a remaster is applied whole. §2.1, §4.
#[test]
fn diffing_applies_drop_statuses_and_skip_deletes() {
    let h = start(Scenario::Ok);
    let first = [
        ("terms.csv", TERMS),
        ("users.csv", USERS),
        ("courses.csv", COURSES),
        ("sections.csv", SECTIONS),
        ("enrollments.csv", ENROLLMENTS),
    ];
    let v = import(&h, "diffing_data_set_identifier=nightly", &first);
    assert_eq!(v["workflow_state"], "imported", "{v}");
    let a = v["id"].as_u64().unwrap();

    // u3 and its enrollment and u2's C1 enrollment are gone; u1's name changed.
    let users = "user_id,login_id,first_name,last_name,email,status\n\
        u1,ann,Anne,Lee,ann@example.edu,active\nu2,bob,Bob,Ray,bob@example.edu,active\n";
    let enrollments = "course_id,section_id,user_id,role,status\n\
        C1,S1,u1,student,active\nC2,S2,u1,student,active\n";
    let second = [
        ("terms.csv", TERMS),
        ("users.csv", users),
        ("courses.csv", COURSES),
        ("sections.csv", SECTIONS),
        ("enrollments.csv", enrollments),
    ];
    let v = import(
        &h,
        "diffing_data_set_identifier=nightly&diffing_drop_status=completed&diffing_user_remove_status=suspended",
        &second,
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    assert_eq!(v["data"]["diffed_against_sis_batch_id"], a);
    assert_eq!(v["diffing_threshold_exceeded"], false);
    let c = &v["data"]["counts"];
    // Only what changed: u1 (renamed) and u3 (suspended); two dropped enrollments.
    assert_eq!(
        (
            c["users"].as_u64(),
            c["enrollments"].as_u64(),
            c["courses"].as_u64()
        ),
        (Some(2), Some(2), Some(0))
    );
    let s = h.store();
    assert_eq!(status(&s, "users", "u3"), "suspended");
    assert_eq!(s.users["u1"].fields["name"], "Anne Lee");
    assert_eq!(status(&s, "enrollments", "C1|S1|u2|student"), "completed");
    assert_eq!(status(&s, "enrollments", "C3|S3|u3|teacher"), "completed");
    assert_eq!(status(&s, "enrollments", "C1|S1|u1|student"), "active");

    // Default drop status `deleted`, with and without skip_deletes (a fresh chain each): the
    // generated deletes are skipped, or applied.
    let third = [
        ("terms.csv", TERMS),
        ("users.csv", users),
        (
            "courses.csv",
            "course_id,short_name,long_name,term_id,status\nC1,C1,Course One,T1,active\n",
        ),
        ("sections.csv", SECTIONS),
        (
            "enrollments.csv",
            "course_id,section_id,user_id,role,status\nC1,S1,u1,student,active\n",
        ),
    ];
    for skip in [true, false] {
        let h2 = start(Scenario::Ok);
        import(&h2, "diffing_data_set_identifier=other", &second);
        let v = import(
            &h2,
            &format!("diffing_data_set_identifier=other&skip_deletes={skip}"),
            &third,
        );
        assert_eq!(v["workflow_state"], "imported", "{v}");
        let (courses, want) = if skip { (0, "claimed") } else { (2, "deleted") };
        assert_eq!(
            v["data"]["counts"]["courses"], courses,
            "skip_deletes={skip}: {v}"
        );
        let s = h2.store();
        assert_eq!(status(&s, "courses", "C2"), want, "skip_deletes={skip}");
        assert_eq!(
            status(&s, "enrollments", "C2|S2|u1|student"),
            if skip { "active" } else { "deleted" }
        );
        if skip {
            // The next import diffs against this one, so the skipped deletes are not made
            // again: C2 stays until a remaster or a row says otherwise.
            let v = import(&h2, "diffing_data_set_identifier=other", &third);
            assert_eq!(v["data"]["counts"]["courses"], 0, "{v}");
            assert_eq!(status(&h2.store(), "courses", "C2"), "claimed");
        }
    }

    // A remaster joins the set but is imported whole, not diffed.
    let v = import(
        &h,
        "diffing_data_set_identifier=nightly&diffing_remaster_data_set=true",
        &first,
    );
    assert!(
        v["data"].get("diffed_against_sis_batch_id").is_none(),
        "{v}"
    );
    assert_eq!(v["data"]["counts"]["enrollments"], 4);

    // A change_threshold on a diffing import compares file sizes; past it, no diff.
    let v = import(
        &h,
        "diffing_data_set_identifier=nightly&change_threshold=1",
        &third,
    );
    assert_eq!(v["diffing_threshold_exceeded"], true, "{v}");
    assert!(
        v["processing_warnings"]
            .to_string()
            .contains("Diffing not performed because file size difference exceeded threshold"),
        "{v}"
    );
}

fn report_post(h: &Handle, params: &[(&str, &str)]) -> Value {
    let r = authed(
        h,
        client()
            .post(format!(
                "{}/api/v1/accounts/self/reports/provisioning_csv",
                h.url()
            ))
            .form(params),
    );
    assert_eq!(r.status(), 200);
    json(r)
}

/// Poll a report to its end; the statuses seen and the last JSON.
fn report_to_end(h: &Handle, id: u64) -> (Vec<String>, Value) {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let v = json(get(
            h,
            &format!("/api/v1/accounts/self/reports/provisioning_csv/{id}"),
        ));
        let s = v["status"].as_str().unwrap().to_string();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "complete" || s == "error" {
            return (seen, v);
        }
    }
    panic!("report {id} did not finish: {seen:?}");
}

fn download(url: &str) -> (String, Vec<u8>) {
    let r = client().get(url).send().unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    (ct, r.bytes().unwrap().to_vec())
}

/// The provisioning report: `AccountReportsController#create`/`show`
/// (app/controllers/account_reports_controller.rb) answer `account_report_json`
/// (lib/api/v1/account_report.rb); one kind gives one CSV, several a zip of `<kind>.csv`
/// (`AccountReports.report_attachment`); the columns are sis_exporter.rb's provisioning
/// headers, scoped by `enrollment_term_id` (`add_term_scope`, report_helper.rb) and by
/// `created_by_sis`. §10.3.
#[test]
fn provisioning_report_polls_to_a_csv_or_a_zip_scoped_by_term() {
    let h = start(Scenario::Ok);
    base(&h);
    h.add_by_hand(
        "course",
        &[
            ("course_id", "HAND"),
            ("short_name", "H"),
            ("long_name", "Hand"),
            ("term_id", "T1"),
            ("status", "active"),
        ],
    )
    .unwrap();
    let t1 = h.store().terms["T1"].canvas_id;

    // One kind: a CSV.
    let v = report_post(
        &h,
        &[
            ("parameters[courses]", "true"),
            ("parameters[enrollment_term_id]", "sis_term_id:T1"),
        ],
    );
    assert_eq!(v["status"], "created");
    assert_eq!(v["progress"], 0);
    assert_eq!(v["report"], "provisioning_csv");
    assert_eq!(v["parameters"]["courses"], "true");
    assert!(v["file_url"].is_null() && v.get("attachment").is_none());
    let (seen, v) = report_to_end(&h, v["id"].as_u64().unwrap());
    assert_eq!(seen, ["running", "complete"]);
    assert_eq!(v["progress"], 100);
    let a = &v["attachment"];
    assert_eq!(a["content-type"], "text/csv");
    assert!(
        a["filename"]
            .as_str()
            .unwrap()
            .starts_with("provisioning_csv_")
    );
    assert!(a["filename"].as_str().unwrap().ends_with(".csv"));
    assert!(v["file_url"].as_str().unwrap().contains("/files/"), "{v}");
    let (ct, body) = download(a["url"].as_str().unwrap());
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "canvas_course_id,course_id,integration_id,short_name,long_name,canvas_account_id,account_id,canvas_term_id,term_id,status,start_date,end_date,course_format,canvas_blueprint_course_id,blueprint_course_id,created_by_sis"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "C1, C2 and HAND in T1; C3 is in T2: {text}");
    let c1 = h.store().courses["C1"].canvas_id;
    assert!(
        rows.contains(
            &format!("{c1},C1,,C1,Course One,1,root,{t1},T1,unpublished,,,,,,true").as_str()
        ),
        "{text}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(",HAND,") && r.ends_with(",false")),
        "{text}"
    );

    // Several kinds: a zip of one CSV per kind, created_by_sis leaving out HAND.
    let v = report_post(
        &h,
        &[
            ("parameters[users]", "true"),
            ("parameters[courses]", "1"),
            ("parameters[sections]", "true"),
            ("parameters[enrollments]", "true"),
            ("parameters[terms]", "false"),
            ("parameters[created_by_sis]", "true"),
            ("parameters[enrollment_term_id]", &t1.to_string()),
        ],
    );
    let (_, v) = report_to_end(&h, v["id"].as_u64().unwrap());
    let a = &v["attachment"];
    assert_eq!(a["content-type"], "application/zip");
    assert_eq!(
        a["filename"].as_str().unwrap(),
        format!(
            "provisioning_csv_{}_{}.zip",
            jiff::Timestamp::now().strftime("%d_%b_%Y"),
            v["id"]
        )
    );
    let (_, body) = download(a["url"].as_str().unwrap());
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(body)).unwrap();
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "users.csv",
            "courses.csv",
            "sections.csv",
            "enrollments.csv"
        ]
    );
    let mut read = |n: &str| {
        let mut s = String::new();
        z.by_name(n).unwrap().read_to_string(&mut s).unwrap();
        s
    };
    let courses = read("courses.csv");
    assert!(
        !courses.contains("HAND") && !courses.contains(",C3,"),
        "{courses}"
    );
    let sections = read("sections.csv");
    assert!(sections.starts_with("canvas_section_id,section_id,canvas_course_id,course_id,integration_id,name,status,start_date,end_date,canvas_account_id,account_id,created_by_sis\n"), "{sections}");
    assert!(
        sections.contains(",S1,") && !sections.contains(",S3,"),
        "{sections}"
    );
    let enrollments = read("enrollments.csv");
    assert!(enrollments.starts_with("canvas_course_id,course_id,canvas_user_id,user_id,role,role_id,canvas_section_id,section_id,status,canvas_associated_user_id,associated_user_id,created_by_sis,base_role_type,limit_section_privileges,canvas_enrollment_id\n"), "{enrollments}");
    assert_eq!(
        enrollments.lines().count(),
        4,
        "u1, u2 in C1, u1 in C2: {enrollments}"
    );
    assert!(enrollments.contains(",u2,student,3,"), "{enrollments}");
    let users = read("users.csv");
    assert!(users.starts_with("canvas_user_id,user_id,integration_id,authentication_provider_id,login_id,first_name,last_name,full_name,sortable_name,short_name,email,status,created_by_sis\n"), "{users}");
    assert!(
        users.contains(",u1,,,ann,Ann,Lee,Ann Lee,\"Lee, Ann\",,ann@example.edu,active,true"),
        "{users}"
    );
    assert!(
        !users.contains(",admin,"),
        "the admin's login was made by hand: {users}"
    );

    // No kind asked for: the report ends in error, without a file.
    let v = report_post(&h, &[("parameters[include_deleted]", "true")]);
    let (_, v) = report_to_end(&h, v["id"].as_u64().unwrap());
    assert_eq!(v["status"], "error");
    assert!(v.get("attachment").is_none());
    // Another report type is not offered here.
    let r = authed(
        &h,
        client().post(format!(
            "{}/api/v1/accounts/self/reports/grade_export_csv",
            h.url()
        )),
    );
    assert_eq!(r.status(), 404);
}

/// `restore_states` runs as a Progress job (`SisBatch#restore_states_later`,
/// app/models/sis_batch.rb): the batch goes `restoring` → `partially_restored`/`restored`
/// for a client that only shows the import (it never GETs the Progress); the job puts each
/// object of `roll_back_data` back in `restore_to_state`
/// (app/models/sis_batch_roll_back_data.rb: the previous state, `deleted` for what the
/// import created), `batch_mode` only the batch-mode deletions, and `add_restore_statistics`
/// counts the restored rows per type in `data.statistics.*.restored`. The provisioning
/// report then shows them back. §2.7, §3.1, §10.3.
#[test]
fn restore_states_puts_back_what_the_import_changed_without_progress_polls() {
    let h = start(Scenario::Ok);
    base(&h);
    let v = import(
        &h,
        "batch_mode=1&batch_mode_term_id=sis_term_id:T1",
        &[
            (
                "courses.csv",
                "course_id,short_name,long_name,term_id,status\nC1,C1,Course One,T1,active\n\
                 C9,C9,Course Nine,T1,active\n",
            ),
            (
                "sections.csv",
                "section_id,course_id,name,status\nS1,C1,Sec One,active\n",
            ),
            (
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nC1,S1,u1,student,active\n",
            ),
        ],
    );
    assert_eq!(v["workflow_state"], "imported", "{v}");
    let id = v["id"].as_u64().unwrap();
    let s = h.store();
    assert_eq!(status(&s, "courses", "C2"), "deleted");
    assert_eq!(status(&s, "courses", "C9"), "claimed");

    // Batch-mode deletions only; followed by show-polls alone.
    let r = put(&h, &format!("{IMPORTS}/{id}/restore_states?batch_mode=1"));
    assert_eq!(r.status(), 200);
    let pid = json(r)["id"].as_u64().unwrap();
    let states: Vec<Value> = (0..3)
        .map(|_| show(&h, id)["workflow_state"].clone())
        .collect();
    assert_eq!(
        states,
        ["restoring", "partially_restored", "partially_restored"]
    );
    let done = show(&h, id);
    let st = &done["data"]["statistics"];
    // C2; S2; u2 in C1 and u1 in C2 (batch_enrollments_deleted 2).
    assert_eq!(st["Course"]["restored"], 1, "{st}");
    assert_eq!(st["CourseSection"]["restored"], 1, "{st}");
    assert_eq!(st["Enrollment"]["restored"], 2, "{st}");
    assert_eq!(st["Pseudonym"]["restored"], 0, "{st}");
    let s = h.store();
    assert_eq!(status(&s, "courses", "C2"), "claimed");
    assert_eq!(status(&s, "sections", "S2"), "active");
    assert_eq!(status(&s, "enrollments", "C1|S1|u2|student"), "active");
    assert_eq!(status(&s, "enrollments", "C2|S2|u1|student"), "active");
    // What the import created stays: batch_mode restores only the cleanup.
    assert_eq!(status(&s, "courses", "C9"), "claimed");
    let p = json(get(&h, &format!("/api/v1/progress/{pid}")));
    assert_eq!(
        (p["workflow_state"].as_str(), p["completion"].as_f64()),
        (Some("completed"), Some(100.0))
    );

    // The provisioning report (what `plan --against canvas` reads) has C2 active again.
    let rep = report_post(&h, &[("parameters[courses]", "true")]);
    let (_, end) = report_to_end(&h, rep["id"].as_u64().unwrap());
    let (_, csv) = download(end["attachment"]["url"].as_str().unwrap());
    let csv = String::from_utf8(csv).unwrap();
    let c2 = csv.lines().find(|l| l.contains(",C2,")).unwrap();
    assert_eq!(
        c2,
        "1002,C2,,C2,Course Two,1,root,6,T1,unpublished,,,,,,true"
    );

    // A full restore afterwards: what is left (the import created C9: back to deleted);
    // rows already restored are not restored again, and the counters add up.
    let r = put(&h, &format!("{IMPORTS}/{id}/restore_states"));
    assert_eq!(r.status(), 200);
    let list_states: Vec<Value> = (0..2)
        .map(|_| {
            json(get(&h, &format!("{IMPORTS}?per_page=100")))["sis_imports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["id"] == id)
                .unwrap()["workflow_state"]
                .clone()
        })
        .collect();
    assert_eq!(list_states, ["restoring", "restored"]);
    let st = &show(&h, id)["data"]["statistics"];
    assert_eq!(st["Course"]["restored"], 2, "{st}");
    assert_eq!(status(&h.store(), "courses", "C9"), "deleted");
    assert_eq!(status(&h.store(), "courses", "C2"), "claimed");
}
