//! The guard in `submit` (contract, `[guard]`, exit 6, `approve`/`discard`): night by night
//! against the simulator, which keeps data as Canvas does, so that what was held, approved
//! and sent is checked against what Canvas then holds.

use std::path::{Path, PathBuf};

use crate::support::*;
use fake_canvas::Scenario;

const BATCH: [&str; 3] = [
    "--batch-mode",
    "--batch-mode-term-id",
    "sis_term_id:2026-FA",
];

/// The sample's enrollments minus all but the two teachers: most of the term is gone.
const SHORT: &str = "course_id,user_id,role,section_id,status\nENGR101-FA26,T2001,teacher,ENGR101-FA26-01,active\nBIO110-FA26,T2002,teacher,BIO110-FA26-01,active\n";

fn submit(w: &World, bundle: &Path, extra: &[&str]) -> std::process::Output {
    w.cmd()
        .args(["--json", "submit"])
        .arg(bundle)
        .args(WATCH)
        .args(extra)
        .output()
        .unwrap()
}

/// Night 1: the full bundle, in batch mode (guarded by default), with no baseline yet.
fn first_night(w: &World) {
    let o = submit(w, &sample_dir("bundle"), &BATCH);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert!(
        w.log_text().contains("guard: no baseline yet"),
        "{}",
        w.log_text()
    );
}

fn held_id(o: &std::process::Output) -> String {
    assert_eq!(o.status.code(), Some(6), "{}", stderr(o));
    let doc = json(o);
    doc["held"]["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no held.run_id: {doc}"))
        .to_string()
}

#[test]
fn a_night_that_deletes_too_much_is_held_and_its_approval_sends_exactly_what_was_planned() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let before = live_enrollments(&w);
    assert!(before >= 5, "{before}");
    assert_eq!(w.posts().len(), 1);

    // Night 2: the export came out short. Nothing is sent; exit 6 with the plan.
    let short = with_enrollments(&w, "short", SHORT);
    let o = submit(&w, &short, &BATCH);
    let run = held_id(&o);
    let doc = json(&o);
    let predicted = doc["held"]["plan"]["kinds"]["enrollment"]["delete"]
        .as_u64()
        .unwrap();
    assert_eq!(predicted, before - 2, "{doc}");
    let reasons = doc["held"]["reasons"].to_string();
    assert!(
        reasons.contains("enrollment delete") && reasons.contains("in term 2026-FA"),
        "{reasons}"
    );
    assert_eq!(w.posts().len(), 1, "the guard sent nothing");
    let log = w.log_text();
    let line = log
        .lines()
        .find(|l| l.contains(&format!("held run {run}: ")))
        .unwrap_or_else(|| panic!("no held line: {log}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains(&format!("; canvas-sis approve {run}")),
        "{line}"
    );

    // Night 3: the same bundle again is the same held run, still waiting.
    let o = submit(&w, &short, &BATCH);
    assert_eq!(held_id(&o), run);
    assert!(w.log_text().contains("still waiting for approval"));
    assert_eq!(w.posts().len(), 1);

    // `approve` lists it.
    let o = w.cmd().args(["--json", "approve"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["held_runs"][0]["run_id"], run.as_str());
    // `history` has it, with the exit code its submit ended with.
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    let h = json(&o);
    assert_eq!(h["runs"][0]["run_id"], run.as_str(), "{h}");
    assert_eq!(h["runs"][0]["held"], true, "{h}");
    assert_eq!(h["runs"][0]["exit_code"], 6, "{h}");

    // The SIS overwrites its export meanwhile: approval sends the held copy all the same.
    std::fs::write(short.join("enrollments.csv"), "garbage").unwrap();
    let o = w
        .cmd()
        .args(["--json", "approve", &run, "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let posts = w.posts();
    assert_eq!(posts.len(), 2);
    // The run folder keeps the bundle sent, named as the zip of the directory it was.
    let folder = w.log_dir().join("runs").join(&run);
    assert!(
        folder.join("short.zip").is_file(),
        "{:?}",
        std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect::<Vec<_>>()
    );
    // Its own upload is no earlier submit of the same content.
    assert!(!w.log_text().contains("same content"), "{}", w.log_text());
    let doc = json(&o);
    assert_eq!(doc["workflow_state"], "imported", "{doc}");
    // Canvas then deleted exactly what the plan said.
    assert_eq!(before - live_enrollments(&w), predicted);
    // The batch options went with it.
    let q = posts[1].query.clone().unwrap_or_default();
    assert!(q.contains("batch_mode=true"), "{q}");
    assert!(
        q.contains("batch_mode_term_id=sis_term_id%3A2026-FA"),
        "{q}"
    );

    // Approved once: a second approval sends nothing, and says what became of the run.
    let o = w.cmd().args(["--json", "approve", &run]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "not_held");
    let said = json(&o)["error"]["message"].to_string();
    assert!(said.contains("it was approved: sent as import "), "{said}");
    assert_eq!(w.posts().len(), 2);

    // The run keeps its id in the history, now with its import.
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    let h = json(&o);
    let row = h["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run_id"] == run.as_str())
        .unwrap_or_else(|| panic!("{h}"))
        .clone();
    assert_eq!(row["held"], false, "{row}");
    assert!(row["import_id"].is_u64(), "{row}");
    assert_eq!(row["state"], "imported", "{row}");

    // Night 4: ordinary churn (one more enrollment) passes.
    let churn = with_enrollments(
        &w,
        "churn",
        &format!("{SHORT}ENGR101-FA26,U1001,student,ENGR101-FA26-01,active\n"),
    );
    let o = submit(&w, &churn, &BATCH);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(w.posts().len(), 3);
    assert!(w.log_text().contains("guard: within the limits"));
}

#[test]
fn discard_drops_a_held_run_and_nothing_is_ever_sent() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let run = held_id(&submit(&w, &with_enrollments(&w, "short", SHORT), &BATCH));
    // `discard` alone lists what could be discarded, as `approve` alone does.
    let o = w.cmd().args(["--json", "discard"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["held_runs"][0]["run_id"], run.as_str());
    // A state dir others may write to is refused by discard as by approve (78), and the held
    // run stays.
    {
        use std::os::unix::fs::PermissionsExt;
        let state = w.log_dir();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o777)).unwrap();
        let o = w.cmd().args(["discard", &run]).output().unwrap();
        assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let o = w.cmd().args(["discard", &run]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("discarded run {run}")));
    let o = w.cmd().args(["--json", "approve", &run]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let said = json(&o)["error"]["message"].to_string();
    assert!(said.contains("it was discarded at "), "{said}");
    assert_eq!(w.posts().len(), 1);
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    assert!(
        json(&o)["runs"].to_string().contains(&run),
        "the archive keeps the discarded run"
    );
    // Nothing held any more: health is not held back by it.
    let o = w.cmd().args(["--json", "approve"]).output().unwrap();
    assert_eq!(json(&o)["held_runs"], serde_json::json!([]));
}

#[test]
fn the_guard_is_on_by_mode_and_can_be_turned_on_or_off() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let deleted = with_enrollments(
        &w,
        "deleted",
        "course_id,user_id,role,section_id,status\nENGR101-FA26,U1001,student,ENGR101-FA26-01,deleted\nENGR101-FA26,U1002,student,ENGR101-FA26-01,deleted\n",
    );
    // A plain import is not guarded unless asked: a dry run shows no guard check.
    let dry = |extra: &[&str]| {
        let o = w
            .cmd()
            .args(["--json", "submit", "--dry-run"])
            .arg(&deleted)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        json(&o)
    };
    let doc = dry(&[]);
    assert!(doc["plan"].is_null(), "{doc}");
    // --guard on: the dry run says the guard would hold it (exit 6), and why.
    let doc = dry(&["--guard", "on"]);
    assert_eq!(doc["checks"][0]["check"], "guard", "{doc}");
    assert_eq!(doc["checks"][0]["stops"], true, "{doc}");
    assert_eq!(doc["checks"][0]["exit_code"], 6, "{doc}");
    assert_eq!(doc["would_stop"], true, "{doc}");
    assert_eq!(doc["plan"]["kinds"]["enrollment"]["delete"], 2, "{doc}");
    // So does `[guard] enabled = true` in the config file; --guard off wins over it.
    let cfg = w.file(
        "cfg/canvas-sis.toml",
        b"[guard]\nenabled = true\nmax_delete_percent = 10\n",
    );
    let o = w
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--json", "submit"])
        .arg(&deleted)
        .output()
        .unwrap();
    held_id(&o);
    assert_eq!(w.posts().len(), 1);
    let o = w
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--json", "submit", "--guard", "off"])
        .arg(&deleted)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(w.posts().len(), 2);
    // Batch mode with --guard off goes through too, whatever it deletes.
    let o = submit(
        &w,
        &with_enrollments(&w, "short", SHORT),
        &[&BATCH[..], &["--guard", "off"]].concat(),
    );
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(w.posts().len(), 3);
}

#[test]
fn approval_refuses_another_canvas_and_a_changed_bundle() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let short = with_enrollments(&w, "short", SHORT);
    let zip = w.home.path().join("short.zip");
    write_zip(&short, &zip);
    let run = held_id(&submit(&w, &zip, &BATCH));
    // Held for this account: another account's settings may not send it.
    let o = w
        .cmd()
        .args(["--json", "--account-id", "2", "approve", &run])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "held_elsewhere");
    // The held copy is gone and the original changed: nothing matches the plan.
    let held_dir = w.log_dir().join("held").join(&run);
    for e in std::fs::read_dir(&held_dir).unwrap().flatten() {
        if e.file_name() != "held.json" {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    std::fs::write(&zip, b"PK changed").unwrap();
    let o = w.cmd().args(["--json", "approve", &run]).output().unwrap();
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "held_bundle_changed");
    assert_eq!(w.posts().len(), 1);
    // The token is in no file the guard wrote.
    for e in walk(&w.log_dir().join("held")) {
        let text = String::from_utf8_lossy(&std::fs::read(&e).unwrap()).to_string();
        assert!(!text.contains(&w.sim.token()), "{}", e.display());
    }
}

#[test]
fn two_approvals_at_once_send_the_run_once() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let run = held_id(&submit(&w, &with_enrollments(&w, "short", SHORT), &BATCH));
    let spawn = || {
        w.std_cmd()
            .args(["--json", "approve", &run, "--wait-lock", "60s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let codes: Vec<Option<i32>> = [a, b]
        .into_iter()
        .map(|c| c.wait_with_output().unwrap().status.code())
        .collect();
    let mut sorted = codes.clone();
    sorted.sort();
    assert_eq!(sorted, vec![Some(0), Some(2)], "{codes:?}");
    assert_eq!(w.posts().len(), 2, "sent once");
}

fn write_zip(dir: &Path, out: &Path) {
    let files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    std::fs::write(out, fake_canvas::zip_of(&refs)).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The README's guarded cron line ("Before Canvas deletes anything"), run as cron runs it:
/// silent on a clean night, and on a night that deletes too much it sends nothing, exits 6
/// and prints the held line (which cron mails). Only the bundle and the interval are swapped.
#[test]
fn the_readmes_guarded_cron_line_is_silent_until_it_holds_a_night() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let line = readme
        .split("```cron")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .flat_map(str::lines)
        .map(str::trim)
        .find(|l| l.contains("--batch-mode") && !l.starts_with('#'))
        .expect("README has a guarded ```cron line");
    let w = World::new(Scenario::Ok);
    let full = with_enrollments(
        &w,
        "full",
        &std::fs::read_to_string(sample_dir("bundle").join("enrollments.csv")).unwrap(),
    );
    let command = |bundle: &Path| {
        let mut out = vec![];
        let mut prev = "";
        for word in cron_words(line) {
            out.push(match prev {
                "submit" => bundle.to_str().unwrap().to_string(),
                "--interval" => "1".to_string(),
                _ => word.to_string(),
            });
            prev = word;
        }
        out.join(" ")
    };
    let run = |bundle: &Path| cron_sh(&w, &command(bundle));
    let o = run(&full);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "cron would mail this: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = run(&with_enrollments(&w, "short", SHORT));
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("held run "), "{}", stderr(&o));
    assert_eq!(w.posts().len(), 1, "the held night sent nothing");
}

/// `samples/cron/canvas-sis-nightly.sh`, run as cron runs it: a clean night prints nothing; a
/// held night is named as held (not "FAILED") with the command that sends it, exit 6; and
/// with the binary off cron's PATH it says where to set it, exit 127.
#[test]
fn the_cron_wrapper_names_a_held_night_and_a_missing_binary() {
    let w = World::new(Scenario::Ok);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/cron/canvas-sis-nightly.sh");
    let cfg = w.file(
        "cfg/nightly.toml",
        b"[import]\nbatch_mode = true\nbatch_mode_term_id = \"sis_term_id:2026-FA\"\n[watch]\ninterval = \"1s\"\n",
    );
    let full = with_enrollments(
        &w,
        "full",
        &std::fs::read_to_string(sample_dir("bundle").join("enrollments.csv")).unwrap(),
    );
    let night = |bundle: &Path, bin: &str| {
        cron_sh(
            &w,
            &format!(
                "CANVAS_SIS_CONFIG={} SIS_BUNDLE={} {bin} bash {}",
                cfg.display(),
                bundle.display(),
                script.display()
            ),
        )
    };
    let o = night(&full, "");
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(
        o.stdout.is_empty(),
        "a clean night mails nothing: {}",
        stdout(&o)
    );

    let o = night(&with_enrollments(&w, "short", SHORT), "");
    assert_eq!(o.status.code(), Some(6), "{}{}", stdout(&o), stderr(&o));
    let said = stdout(&o);
    assert!(said.contains("HELD") && !said.contains("FAILED"), "{said}");
    assert!(said.contains("approve RUN"), "{said}");
    assert!(
        stderr(&o).contains("held run "),
        "the held line names RUN: {}",
        stderr(&o)
    );
    assert_eq!(w.posts().len(), 1, "the held night sent nothing");

    let o = night(&full, "CANVAS_SIS_BIN=canvas-sis-not-installed");
    assert_eq!(o.status.code(), Some(127), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("not found") && stdout(&o).contains("CANVAS_SIS_BIN"),
        "{}",
        stdout(&o)
    );
}

/// `[guard] against = "canvas"` checks even the first run of this host: with no baseline of
/// its own, it asks Canvas, and a night that deletes too much is held.
#[test]
fn against_canvas_the_guard_holds_even_a_first_run() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    // A new host (or a lost state dir): no baseline here.
    std::fs::remove_dir_all(w.log_dir().join("baselines")).unwrap();
    let short = with_enrollments(&w, "short", SHORT);
    let dry = w
        .cmd()
        .args(["--json", "submit", "--dry-run"])
        .arg(&short)
        .args(BATCH)
        .output()
        .unwrap();
    assert!(
        json(&dry)["checks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no baseline"),
        "{}",
        stdout(&dry)
    );
    let cfg = w.file("cfg/canvas-sis.toml", b"[guard]\nagainst = \"canvas\"\n");
    let o = w
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--json", "submit"])
        .arg(&short)
        .args(BATCH)
        .args(["--interval", "1"])
        .output()
        .unwrap();
    let run = held_id(&o);
    let doc = json(&o);
    assert_eq!(doc["held"]["plan"]["against"], "canvas", "{doc}");
    assert!(
        w.log_text()
            .contains(&format!("held run {run}: enrollment delete"))
    );
    // (The report was a POST too: count imports.)
    assert_eq!(w.sim.created_count(), 1, "only night 1 was sent");
}

/// A baseline that cannot be read stops a guarded submit (66) and names the way out; the
/// guard never guesses, and nothing is sent.
#[test]
fn a_corrupt_baseline_stops_a_guarded_submit_and_suggests_against_canvas() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    for e in std::fs::read_dir(w.log_dir().join("baselines"))
        .unwrap()
        .flatten()
    {
        std::fs::write(e.path(), b"{not json").unwrap();
    }
    let o = submit(&w, &with_enrollments(&w, "short", SHORT), &BATCH);
    assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "baseline_unreadable", "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--against canvas"),
        "{doc}"
    );
    assert_eq!(w.sim.created_count(), 1);
}

/// A two-term bundle: the sample's fall term and a spring term with its own course,
/// section and enrollments. `spring_students` students are enrolled in the spring course.
fn two_terms(w: &World, name: &str, spring_students: usize) -> PathBuf {
    let mut enrollments =
        std::fs::read_to_string(sample_dir("bundle").join("enrollments.csv")).unwrap();
    enrollments.push_str("ENGR102-SP27,T2001,teacher,ENGR102-SP27-01,active\n");
    for u in ["U1001", "U1002", "U1003", "U1004"]
        .iter()
        .take(spring_students)
    {
        enrollments.push_str(&format!(
            "ENGR102-SP27,{u},student,ENGR102-SP27-01,active\n"
        ));
    }
    let dir = with_enrollments(w, name, &enrollments);
    std::fs::write(
        dir.join("terms.csv"),
        "term_id,name,status,start_date,end_date\n2026-FA,Fall 2026,active,2026-08-24T00:00:00Z,2026-12-18T23:59:59Z\n2027-SP,Spring 2027,active,2027-01-11T00:00:00Z,2027-05-07T23:59:59Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("courses.csv"),
        "course_id,short_name,long_name,account_id,term_id,status\nENGR101-FA26,ENGR 101,Introduction to Engineering,ENG,2026-FA,active\nBIO110-FA26,BIO 110,\"Cells, Genes and Evolution\",SCI,2026-FA,active\nENGR102-SP27,ENGR 102,Engineering Design,ENG,2027-SP,active\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sections.csv"),
        "section_id,course_id,name,status\nENGR101-FA26-01,ENGR101-FA26,ENGR 101 Section 01,active\nBIO110-FA26-01,BIO110-FA26,BIO 110 Section 01,active\nENGR102-SP27-01,ENGR102-SP27,ENGR 102 Section 01,active\n",
    )
    .unwrap();
    dir
}

fn live_in_course(w: &World, course_sis: &str) -> u64 {
    // Keyed `course_id|section_id|user_id|role` (fake_canvas::StoreSnapshot).
    w.sim
        .store()
        .enrollments
        .iter()
        .filter(|(k, o)| k.starts_with(&format!("{course_sis}|")) && o.status == "active")
        .count() as u64
}

/// Multi-term batch mode judges each term of the bundle's terms file on its own: spring
/// losing three of its five enrollments holds the run with spring named, fall untouched;
/// approved, Canvas removes exactly those.
#[test]
fn multi_term_batch_mode_is_judged_per_term() {
    let w = World::new(Scenario::Ok);
    let multi = ["--multi-term-batch-mode", "--change-threshold", "100"];
    let o = submit(&w, &two_terms(&w, "full", 4), &multi);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(live_in_course(&w, "ENGR102-SP27"), 5);
    let o = submit(&w, &two_terms(&w, "short", 1), &multi);
    let run = held_id(&o);
    let doc = json(&o);
    let terms = &doc["held"]["plan"]["kinds"]["enrollment"]["terms"];
    assert_eq!(terms["2027-SP"]["delete"], 3, "{doc}");
    assert_eq!(terms["2026-FA"]["delete"], 0, "{doc}");
    let reasons = doc["held"]["reasons"].to_string();
    assert!(reasons.contains("in term 2027-SP"), "{reasons}");
    assert!(!reasons.contains("2026-FA"), "{reasons}");
    let fall = live_in_course(&w, "ENGR101-FA26") + live_in_course(&w, "BIO110-FA26");
    let o = w
        .cmd()
        .args(["approve", &run, "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(live_in_course(&w, "ENGR102-SP27"), 2);
    assert_eq!(
        live_in_course(&w, "ENGR101-FA26") + live_in_course(&w, "BIO110-FA26"),
        fall
    );
}

/// Diffing: the rows of the data set's last bundle that this one lacks are dropped with the
/// drop status; the guard counts them as deletes and holds the night, and the approved
/// import drops exactly those in Canvas.
#[test]
fn diffing_drops_are_deletes_and_are_held() {
    let w = World::new(Scenario::Ok);
    let diffing = [
        "--diffing-data-set-identifier",
        "nightly",
        "--diffing-drop-status",
        "inactive",
    ];
    let o = submit(&w, &sample_dir("bundle"), &diffing);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let before = live_enrollments(&w);
    let o = submit(&w, &with_enrollments(&w, "short", SHORT), &diffing);
    let run = held_id(&o);
    let predicted = json(&o)["held"]["plan"]["kinds"]["enrollment"]["delete"]
        .as_u64()
        .unwrap();
    assert_eq!(predicted, before - 2);
    let o = w
        .cmd()
        .args(["approve", &run, "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(before - live_enrollments(&w), predicted);
    let inactive = w
        .sim
        .store()
        .enrollments
        .values()
        .filter(|e| e.status == "inactive")
        .count() as u64;
    assert_eq!(inactive, predicted, "dropped with the drop status");
}

/// A pending baseline holds no rows: when the import ends, its rows are read back from the
/// bytes it sent (the archive's copy, else the file as sent, checked by sha256), never from
/// a file the SIS has written since, whose rows would be another night's.
#[test]
fn the_baseline_is_folded_from_the_bytes_sent_never_from_a_file_written_since() {
    for keep in [true, false] {
        let w = World::new(Scenario::Ok);
        let cfg = w.file(
            "c.toml",
            if keep {
                b""
            } else {
                b"[archive]\nkeep_bundles = false\n"
            },
        );
        let zip = w.home.path().join("tonight.zip");
        write_zip(&sample_dir("bundle"), &zip);
        let o = w
            .cmd()
            .arg("-c")
            .arg(&cfg)
            .arg("submit")
            .args(BATCH)
            .arg(&zip)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let pending = pending_files(&w);
        assert_eq!(pending.len(), 1);
        let small = std::fs::metadata(&pending[0]).unwrap().len();
        assert!(small < 2_000, "no rows in it: {small} bytes");

        // Tomorrow's export lands on the same path before anyone sees the import end.
        write_zip(&with_enrollments(&w, "short", SHORT), &zip);
        let o = w
            .cmd()
            .arg("-c")
            .arg(&cfg)
            .args(["watch", "--last", "--interval", "1", "--max-polls", "20"])
            .output()
            .unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        let log = w.log_text();
        let plan = w
            .cmd()
            .arg("-c")
            .arg(&cfg)
            .args(["--json", "plan"])
            .args(BATCH)
            .arg(sample_dir("bundle"))
            .output()
            .unwrap();
        assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
        let doc = json(&plan);
        if keep {
            assert!(log.contains("the plan's baseline now includes it"), "{log}");
            // Folded from the archive's copy: the full bundle, not the short one.
            let e = &doc["kinds"]["enrollment"];
            assert_eq!(e["delete"], 0, "{doc}");
            assert_eq!(e["create"], 0, "{doc}");
            assert!(e["unchanged"].as_u64().unwrap() >= 5, "{doc}");
        } else {
            assert!(
                log.contains("no file holds the bytes it sent any more"),
                "{log}"
            );
            assert!(
                !log.contains("the plan's baseline now includes it"),
                "{log}"
            );
            assert!(doc["baseline"].is_null(), "{doc}");
        }
        assert!(
            pending_files(&w).is_empty(),
            "the pending baseline is gone once the import ended"
        );
    }
}

/// The pending baselines in the state dir (the dir itself must exist: a submit made it).
fn pending_files(w: &World) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(w.log_dir().join("pending"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect()
}

/// A pending baseline an older canvas-sis wrote (every row as JSON, no note of where the bytes
/// are) is dropped with a log line when its import ends, and never read as this version's.
#[test]
fn an_older_pending_baseline_is_dropped_with_a_word() {
    let w = World::new(Scenario::Ok);
    let o = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let pending = pending_files(&w);
    assert_eq!(pending.len(), 1);
    std::fs::write(
        &pending[0],
        r#"{"hashes":2,"meta":{"base_url":"x","account":"self","data_set":null,"imports":[],"updated_at":""},"scope":{"batch_terms":[],"diffing":null,"skip_deletes":false,"enrollment_drop":null,"diffing_drop":null,"user_remove":null},"kinds":{"user":[]},"terms":[]}"#,
    )
    .unwrap();
    let o = w
        .cmd()
        .args(["watch", "--last", "--interval", "1", "--max-polls", "20"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let log = w.log_text();
    assert!(
        log.contains("its pending baseline was written by another version of canvas-sis"),
        "{log}"
    );
    assert!(!pending[0].exists());
    assert!(!w.log_dir().join("baselines").exists(), "nothing folded in");
}

/// With `[archive] dir = ""` a directory bundle (zipped as it is sent, into a temporary
/// file) still reaches the baseline: its bytes are kept beside the pending file until the
/// import ends, then dropped.
#[test]
fn a_directory_bundle_reaches_the_baseline_with_the_archive_off() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("c.toml", b"[archive]\ndir = \"\"\n");
    let dir = with_enrollments(&w, "tonight", SHORT);
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(&dir)
        .args(WATCH)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["--json", "plan"])
        .arg(&dir)
        .output()
        .unwrap();
    let doc = json(&o);
    assert_eq!(
        doc["baseline"]["imports"].as_array().map(Vec::len),
        Some(1),
        "{doc}"
    );
    assert_eq!(doc["kinds"]["enrollment"]["unchanged"], 2, "{doc}");
    assert_eq!(doc["kinds"]["enrollment"]["create"], 0, "{doc}");
    assert!(pending_files(&w).is_empty(), "{:?}", pending_files(&w));
}

/// A pending baseline belongs to its Canvas URL and account: another Canvas's import of the
/// same id, seen ending, does not fold this one's bundle into a baseline.
#[test]
fn another_canvas_import_of_the_same_id_leaves_the_pending_baseline_alone() {
    let x = World::new(Scenario::StuckCreated);
    let o = x
        .cmd()
        .args(["--json", "submit"])
        .arg(sample_dir("bundle"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let id = json(&o)["id"].as_u64().unwrap();
    let y = fake_canvas::spawn(fake_canvas::Config {
        seed_imports: 3,
        ..Default::default()
    })
    .unwrap();
    let o = x
        .cmd()
        .env("CANVAS_BASE_URL", y.url())
        .env("CANVAS_ACCESS_TOKEN", y.token())
        .args(["status", &id.to_string()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for url in [x.sim.url(), y.url()] {
        let o = x
            .cmd()
            .env("CANVAS_BASE_URL", url)
            .args(["--json", "plan"])
            .arg(sample_dir("bundle"))
            .output()
            .unwrap();
        assert!(json(&o)["baseline"].is_null(), "{}", stdout(&o));
    }
    assert_eq!(pending_files(&x).len(), 1);
}

/// `submit --dry-run` with `[guard] against = "canvas"`: the comparison needs a report, which
/// a dry run never asks for, so it says the guard was not checked (never "would go on").
#[test]
fn a_dry_run_against_canvas_says_the_guard_was_not_checked() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let cfg = w.file("cfg/canvas-sis.toml", b"[guard]\nagainst = \"canvas\"\n");
    let o = w
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--json", "submit", "--dry-run"])
        .arg(sample_dir("bundle"))
        .args(BATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["checks"][0]["check"], "guard", "{doc}");
    assert!(doc["checks"][0]["stops"].is_null(), "{doc}");
    assert!(doc["plan"].is_null(), "{doc}");
    assert_eq!(doc["would_stop"], false, "{doc}");
    assert!(
        w.api_requests("POST", "reports/provisioning_csv")
            .is_empty()
    );
}

/// A batch term given by Canvas's own id (as the web UI shows it): submit asks Canvas which
/// SIS term it is, and the guard counts the deletions in it as for `sis_term_id:`. A term
/// Canvas does not have is exit 5 before anything is sent, as Canvas would answer.
#[test]
fn a_batch_term_given_by_canvas_id_is_resolved_and_guarded() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let before = live_enrollments(&w);
    let id = w.sim.store().terms["2026-FA"].canvas_id.to_string();
    let by_id = ["--batch-mode", "--batch-mode-term-id", id.as_str()];
    let short = with_enrollments(&w, "short", SHORT);
    let o = submit(&w, &short, &by_id);
    held_id(&o);
    let reasons = json(&o)["held"]["reasons"].to_string();
    assert!(
        reasons.contains("enrollment delete") && reasons.contains("in term 2026-FA"),
        "{reasons}"
    );
    assert!(
        w.sim
            .requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.ends_with(&format!("/terms/{id}"))),
        "asked Canvas"
    );
    assert_eq!(w.posts().len(), 1, "held: nothing sent");
    // The full export, by the same id, goes through.
    let o = submit(&w, &sample_dir("bundle"), &by_id);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(live_enrollments(&w), before);
    // A term Canvas lacks: exit 5, nothing sent.
    let o = submit(
        &w,
        &sample_dir("bundle"),
        &["--batch-mode", "--batch-mode-term-id", "999"],
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["exit_code"], 5);
    assert_eq!(w.posts().len(), 2);
}

/// A held run's plan is of the account as it was when it was held. Once a later export went
/// out there, approving the held one would send the older data over it: refused (exit 2,
/// `held_superseded`), nothing sent. A later submit that Canvas refused (401) supersedes
/// nothing: the run is approved, and then counts as the newest in `history`.
#[test]
fn a_held_run_superseded_by_a_later_import_is_not_approved() {
    let w = World::new(Scenario::Ok);
    first_night(&w);
    let short = with_enrollments(&w, "short", SHORT);
    let run = held_id(&submit(&w, &short, &BATCH));
    // A submit refused by Canvas (a bad token) sends nothing that counts.
    w.refused_submit();
    let o = w
        .cmd()
        .args(["--json", "approve", &run, "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    assert_eq!(
        w.posts().len(),
        3,
        "night 1, the refused submit, the approval"
    );
    let h = json(&w.cmd().args(["--json", "history"]).output().unwrap());
    assert_eq!(h["runs"][0]["run_id"], run.as_str(), "{h}");
    assert_eq!(h["runs"][0]["held"], false, "{h}");

    // Held again on another short night; then the next night's full export goes out.
    let shorter = with_enrollments(
        &w,
        "shorter",
        &SHORT.replace("BIO110-FA26,T2002,teacher,BIO110-FA26-01,active\n", ""),
    );
    let first = submit(&w, &sample_dir("bundle"), &BATCH);
    assert!(
        matches!(first.status.code(), Some(0 | 1)),
        "{}",
        stderr(&first)
    );
    let stale = held_id(&submit(&w, &shorter, &BATCH));
    let full = submit(&w, &sample_dir("bundle"), &["--guard", "off"]);
    assert!(
        matches!(full.status.code(), Some(0 | 1)),
        "{}",
        stderr(&full)
    );
    let posts = w.posts().len();
    let o = w
        .cmd()
        .args(["--json", "approve", &stale])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "held_superseded", "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("canvas-sis discard {stale}")),
        "{doc}"
    );
    assert_eq!(w.posts().len(), posts, "nothing was sent");
}
