//! `plan`: against the baseline this host keeps of what Canvas imported (the simulator here).

use crate::support::*;
use fake_canvas::Scenario;

fn plan_json(w: &World, bundle: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let o = w
        .cmd()
        .args(["--json", "plan"])
        .arg(bundle)
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON document")
}

/// The sample bundle imported (watched to its end): the baseline the plans compare with.
fn import_the_sample(w: &World) {
    let o = w
        .cmd()
        .arg("submit")
        .arg(sample_dir("bundle"))
        .args(WATCH)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
}

#[test]
fn no_baseline_says_so_and_counts_nothing() {
    let w = World::new(Scenario::Ok);
    let doc = plan_json(&w, &sample_dir("bundle"), &[]);
    assert!(doc["baseline"].is_null(), "{doc}");
    assert!(doc["kinds"]["user"]["create"].is_null(), "{doc}");
    assert_eq!(doc["guard"]["tripped"], false);
    assert_eq!(doc["guard"]["reasons"][0], "no baseline");
    // Nothing was sent, nothing asked.
    assert!(w.sim.requests().is_empty());
}

#[test]
fn after_an_import_the_plan_compares_with_it_and_the_guard_judges_deletes() {
    let w = World::new(Scenario::Ok);
    import_the_sample(&w);
    // The same bundle again: nothing changes.
    let doc = plan_json(&w, &sample_dir("bundle"), &[]);
    assert_eq!(
        doc["baseline"]["imports"].as_array().unwrap().len(),
        1,
        "{doc}"
    );
    let e = &doc["kinds"]["enrollment"];
    assert_eq!(
        (
            e["create"].as_u64(),
            e["update"].as_u64(),
            e["delete"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{doc}"
    );
    assert!(e["unchanged"].as_u64().unwrap() >= 4, "{doc}");
    assert_eq!(doc["guard"]["tripped"], false);

    // Batch mode with most enrollments missing: they would be deleted in the term, and the
    // guard trips; users missing from a bundle stay (absent).
    let short = with_enrollments(
        &w,
        "short",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,T2001,teacher,ENGR101-FA26-01,active\n",
    );
    let doc = plan_json(
        &w,
        &short,
        &[
            "--batch-mode",
            "--batch-mode-term-id",
            "sis_term_id:2026-FA",
        ],
    );
    let e = &doc["kinds"]["enrollment"];
    let total = e["unchanged"].as_u64().unwrap() + e["delete"].as_u64().unwrap();
    assert_eq!(e["unchanged"], 1, "{doc}");
    assert!(e["delete"].as_u64().unwrap() >= 3, "{doc}");
    assert_eq!(e["terms"]["2026-FA"]["delete"], e["delete"], "{doc}");
    assert_eq!(e["absent"], 0, "{doc}");
    assert!(total >= 4);
    assert_eq!(doc["guard"]["tripped"], true, "{doc}");
    let reasons = doc["guard"]["reasons"].to_string();
    assert!(reasons.contains("enrollment delete"), "{reasons}");
    // Without batch mode the same bundle deletes nothing: the missing rows are absent.
    let doc = plan_json(&w, &short, &[]);
    assert_eq!(doc["kinds"]["enrollment"]["delete"], 0, "{doc}");
    assert_eq!(doc["guard"]["tripped"], false, "{doc}");
    // A status that deletes is a delete.
    let dropped = with_enrollments(
        &w,
        "dropped",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,U1001,student,ENGR101-FA26-01,deleted\n",
    );
    let doc = plan_json(&w, &dropped, &[]);
    assert_eq!(doc["kinds"]["enrollment"]["delete"], 1, "{doc}");
    // The plan sent nothing.
    assert_eq!(w.posts().len(), 1);
}

#[test]
fn a_bundle_with_errors_is_not_planned() {
    let w = World::new(Scenario::Ok);
    let bad = w.file("bad/users.csv", b"foo,bar\n1,2\n");
    let o = w
        .cmd()
        .args(["--json", "plan"])
        .arg(bad.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["error"]["kind"], "validation_failed", "{doc}");
}

/// The proof: what `plan` predicts for a batch-mode night is what the simulator's store then
/// does (fake-canvas applies imports as Canvas's importers and `SisBatch` do).
#[test]
fn the_plan_predicts_what_canvas_then_does() {
    let w = World::new(Scenario::Ok);
    let watch = |bundle: &std::path::Path, extra: &[&str]| {
        let o = w
            .cmd()
            .arg("submit")
            .arg(bundle)
            .args(WATCH)
            .args(extra)
            .output()
            .unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    };
    watch(&sample_dir("bundle"), &[]);
    let before = live_enrollments(&w);
    assert!(before >= 5, "{before}");
    // Tonight's export lost most enrollments of the term.
    let short = with_enrollments(
        &w,
        "short",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,T2001,teacher,ENGR101-FA26-01,active\nBIO110-FA26,T2002,teacher,BIO110-FA26-01,active\n",
    );
    let batch = [
        "--batch-mode",
        "--batch-mode-term-id",
        "sis_term_id:2026-FA",
    ];
    let doc = plan_json(&w, &short, &batch);
    let predicted = doc["kinds"]["enrollment"]["delete"].as_u64().unwrap();
    assert_eq!(doc["kinds"]["enrollment"]["unchanged"], 2, "{doc}");
    // Sent past the guard (tests/cli/guard.rs holds and approves the same night).
    watch(&short, &[&batch[..], &["--guard", "off"]].concat());
    let after = live_enrollments(&w);
    assert_eq!(
        before - after,
        predicted,
        "plan said {predicted} deletes: {doc}"
    );
    // The baseline now holds the night's result: the same bundle again changes nothing.
    let doc = plan_json(&w, &short, &batch);
    assert_eq!(doc["kinds"]["enrollment"]["delete"], 0, "{doc}");
    assert_eq!(doc["guard"]["tripped"], false, "{doc}");
}

/// `--against canvas`: the provisioning report of what Canvas holds now is the baseline. It
/// needs no local baseline, sees no change in the bundle Canvas just imported, and predicts
/// the deletes the simulator's store then makes.
#[test]
fn against_canvas_the_report_is_the_baseline_and_predicts_what_canvas_does() {
    let w = World::new(Scenario::Ok);
    let batch = [
        "--batch-mode",
        "--batch-mode-term-id",
        "sis_term_id:2026-FA",
        "--interval",
        "1",
    ];
    let against = |bundle: &std::path::Path| {
        plan_json(&w, bundle, &[&batch[..], &["--against", "canvas"]].concat())
    };
    // Canvas holds nothing of the bundle yet: every row is new.
    let doc = against(&sample_dir("bundle"));
    assert_eq!(doc["against"], "canvas", "{doc}");
    assert!(doc["baseline"]["provisioning_report"].is_u64(), "{doc}");
    assert_eq!(doc["kinds"]["user"]["create"], 6, "{doc}");
    import_the_sample(&w);
    // What Canvas just imported reads back unchanged: no update from the report's own
    // spelling of dates, statuses, ids or the root account.
    let doc = against(&sample_dir("bundle"));
    for (kind, c) in doc["kinds"].as_object().unwrap() {
        assert_eq!(
            (
                c["create"].as_u64(),
                c["update"].as_u64(),
                c["delete"].as_u64()
            ),
            (Some(0), Some(0), Some(0)),
            "{kind}: {doc}"
        );
    }
    let short = with_enrollments(
        &w,
        "short",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,T2001,teacher,ENGR101-FA26-01,active\n",
    );
    let doc = against(&short);
    let predicted = doc["kinds"]["enrollment"]["terms"]["2026-FA"]["delete"]
        .as_u64()
        .unwrap();
    assert_eq!(doc["guard"]["tripped"], true, "{doc}");
    let before = live_enrollments(&w);
    let o = w
        .cmd()
        .arg("submit")
        .arg(&short)
        .args(["--watch", "--max-polls", "20", "--guard", "off"])
        .args(batch)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(before - live_enrollments(&w), predicted, "{doc}");
    assert_eq!(against(&short)["kinds"]["enrollment"]["delete"], 0);
}

/// The report covers every term (rows of the bundle outside the batch term are compared
/// too); a batch term Canvas does not have is said to be one, since Canvas would answer 404.
#[test]
fn against_canvas_a_batch_term_canvas_lacks_trips_the_guard() {
    let w = World::new(Scenario::Ok);
    let o = w
        .cmd()
        .args(["--json", "plan"])
        .arg(sample_dir("bundle"))
        .args([
            "--against",
            "canvas",
            "--batch-mode",
            "--batch-mode-term-id",
            "sis_term_id:NO-SUCH-TERM",
            "--interval",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(
        doc["guard"]["reasons"],
        serde_json::json!([
            "Canvas has no active SIS term \"NO-SUCH-TERM\": it would refuse the import (404)"
        ]),
        "{doc}"
    );
    // The report was asked for every term.
    let asked = w.api_requests("POST", "reports/provisioning_csv");
    let q = asked[0].query.clone().unwrap_or_default();
    assert!(!q.contains("enrollment_term_id"), "{q}");
}

/// What the plan counts, case by case as Canvas counts it, against one plain import of the sample (7
/// enrollments, 6 users, 2 courses and sections, all in 2026-FA).
#[test]
fn the_plan_counts_what_canvas_does() {
    let w = World::new(Scenario::Ok);
    import_the_sample(&w);
    let counts = |doc: &serde_json::Value, kind: &str| {
        let k = &doc["kinds"][kind];
        ["create", "update", "delete", "unchanged", "absent"].map(|c| k[c].as_u64().unwrap())
    };
    const BATCH: [&str; 3] = [
        "--batch-mode",
        "--batch-mode-term-id",
        "sis_term_id:2026-FA",
    ];
    // An enrollments-only batch file: Canvas cleans only the kinds a batch supplies (§4).
    let only = w.home.path().join("only");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::write(
        only.join("enrollments.csv"),
        "course_id,user_id,role,section_id,status\nENGR101-FA26,T2001,teacher,ENGR101-FA26-01,active\nENGR101-FA26,U1001,student,ENGR101-FA26-01,active\nENGR101-FA26,U1002,student,ENGR101-FA26-01,active\nBIO110-FA26,T2002,teacher,BIO110-FA26-01,active\nBIO110-FA26,U1003,student,BIO110-FA26-01,active\nBIO110-FA26,U1004,student,BIO110-FA26-01,active\n",
    )
    .unwrap();
    let doc = plan_json(&w, &only, &BATCH);
    assert_eq!(counts(&doc, "course"), [0, 0, 0, 0, 2], "{doc}");
    assert_eq!(counts(&doc, "section"), [0, 0, 0, 0, 2], "{doc}");
    assert_eq!(counts(&doc, "enrollment"), [0, 0, 1, 6, 0], "{doc}");
    // --skip-deletes does not affect batch-mode cleanup (§2.1).
    let mut skip = BATCH.to_vec();
    skip.push("--skip-deletes");
    let doc = plan_json(&w, &only, &skip);
    assert_eq!(counts(&doc, "enrollment"), [0, 0, 1, 6, 0], "{doc}");
    assert_eq!(
        doc["guard"]["reasons"],
        serde_json::json!([
            "enrollment delete 14.29 % > 10 %",
            "enrollment delete 14.29 % > 10 % in term 2026-FA"
        ]),
        "{doc}"
    );
    // A plain import is judged per kind only; `deletedX` deletes (Canvas matches by prefix).
    let dropped = with_enrollments(
        &w,
        "dropped",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,U1001,student,ENGR101-FA26-01,deletedX\n",
    );
    let doc = plan_json(&w, &dropped, &[]);
    assert_eq!(counts(&doc, "enrollment"), [0, 0, 1, 0, 6], "{doc}");
    assert_eq!(
        doc["guard"]["reasons"],
        serde_json::json!(["enrollment delete 14.29 % > 10 %"]),
        "{doc}"
    );
    // A column the baseline never had, with a value, is an update; an empty cell where
    // Canvas leaves the value alone (email) is not.
    let users = std::fs::read_to_string(sample_dir("bundle").join("users.csv")).unwrap();
    let mut nick = String::new();
    let mut blank = String::new();
    for (i, l) in users.lines().enumerate() {
        let f: Vec<&str> = l.split(',').collect();
        if i == 0 {
            nick.push_str(&format!("{l},short_name\n"));
            blank.push_str(&format!("{l}\n"));
        } else {
            nick.push_str(&format!("{l},Nick{i}\n"));
            blank.push_str(&format!("{},{},{},{},,{}\n", f[0], f[1], f[2], f[3], f[5]));
        }
    }
    let doc = plan_json(&w, &w.file("nick/users.csv", nick.as_bytes()), &[]);
    assert_eq!(counts(&doc, "user"), [0, 6, 0, 0, 0], "{doc}");
    let doc = plan_json(&w, &w.file("blank/users.csv", blank.as_bytes()), &[]);
    assert_eq!(counts(&doc, "user"), [0, 0, 0, 6, 0], "{doc}");
    // A batch term by Canvas's id cannot be mapped offline: held, never passed.
    let doc = plan_json(&w, &only, &["--batch-mode", "--batch-mode-term-id", "6"]);
    assert_eq!(counts(&doc, "enrollment"), [0, 0, 0, 6, 1], "{doc}");
    assert_eq!(
        doc["guard"]["reasons"],
        serde_json::json!([
            "batch-mode term \"6\" is not an SIS term id, and this plan could not ask Canvas which term it is: the courses, sections and enrollments batch mode would delete in it were not counted"
        ]),
        "{doc}"
    );
    // A bare SIS id, which Canvas answers 404 for, and the combinations submit refuses.
    for extra in [
        &["--batch-mode", "--batch-mode-term-id", "2026-FA"][..],
        &["--batch-mode"][..],
    ] {
        let o = w
            .cmd()
            .args(["--json", "plan"])
            .arg(&only)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
    }
    let o = w
        .cmd()
        .args(["plan", "--batch-mode", "--batch-mode-term-id", "2026-FA"])
        .arg(&only)
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("--batch-mode-term-id sis_term_id:2026-FA"),
        "{}",
        stderr(&o)
    );
    // The plan sent nothing.
    assert_eq!(w.posts().len(), 1);
}

/// A directory with no CSV is no plan (exit 65, as `validate` and `submit` say), not an empty
/// plan that exits 0.
#[test]
fn a_directory_with_no_csv_is_no_plan() {
    let w = World::new(Scenario::Ok);
    let dir = w.home.path().join("empty-export");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("readme.txt"), "not a csv").unwrap();
    let o = w.cmd().args(["--json", "plan"]).arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(65), "{}", stderr(&o));
    assert!(
        json(&o)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds no .csv files; nothing to plan"),
        "{}",
        stdout(&o)
    );
}

/// A bundle whose file name is not UTF-8 still enters the plan's baseline when its import
/// ends: the pending note failed to be written as a whole ("path contains invalid UTF-8"),
/// so the next guard compared with stale data.
#[test]
fn a_bundle_named_in_no_utf8_still_enters_the_baseline() {
    use std::os::unix::ffi::OsStrExt;
    let w = World::new(Scenario::Ok);
    let name = std::ffi::OsStr::from_bytes(b"users-\xff.csv");
    let csv = w.home.path().join(name);
    std::fs::write(
        &csv,
        "user_id,login_id,first_name,last_name,email,status\nu1,l1,A,B,a@example.edu,active\n",
    )
    .unwrap();
    let o = w
        .cmd()
        .arg("submit")
        .arg(&csv)
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("will not include it"),
        "{}",
        stderr(&o)
    );
    let doc = plan_json(&w, &csv, &[]);
    assert!(!doc["baseline"].is_null(), "{doc}");
    assert_eq!(doc["kinds"]["user"]["unchanged"], 1, "{doc}");
}
