//! `abort`, `abort-all-pending` and `restore` against the simulator.

use fake_canvas::{Config, Scenario};

use crate::support::*;

fn stuck() -> World {
    World::with(Config {
        scenario: Scenario::StuckCreated,
        ..Default::default()
    })
}

#[test]
fn abort_of_a_finished_import_is_exit_5_with_its_state() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let out = e
        .quiet_cmd()
        .args(["abort", &id.to_string(), "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "import {id} already ended as imported; nothing to abort"
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        e.api_requests("PUT", "/abort").len(),
        1,
        "one PUT, not retried"
    );
}

#[test]
fn abort_of_a_missing_import_names_the_account() {
    let e = World::seeded(1);
    let out = e
        .quiet_cmd()
        .args(["abort", "4242", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("import 4242 does not exist in account self"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn abort_without_yes_and_no_terminal_sends_nothing() {
    let e = stuck();
    let id = e.submit_sample();
    let before = e.sim.requests().len();
    let out = e
        .quiet_cmd()
        .args(["abort", &id.to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(e.sim.requests().len(), before, "nothing may be sent");

    let out = e.quiet_cmd().arg("abort-all-pending").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(e.sim.requests().len(), before, "nothing may be sent");
}

#[test]
fn abort_a_queued_import() {
    let e = stuck();
    let id = e.submit_sample();
    let out = e
        .quiet_cmd()
        .args(["abort", &id.to_string(), "-y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "aborted");
    assert_eq!(e.import(0).1, "aborted");

    let id2 = e.submit_sample();
    let out = e
        .quiet_cmd()
        .args(["--json", "abort", &id2.to_string(), "-y"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["id"], id2);
    assert_eq!(v["workflow_state"], "aborted");
}

#[test]
fn abort_all_pending_counts_then_puts_once() {
    let e = stuck();
    e.submit_sample();
    e.submit_sample();
    let out = e
        .quiet_cmd()
        .args(["--json", "abort-all-pending", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out), serde_json::json!({"aborted": true}));
    assert!(
        stderr(&out).contains("aborted 2 queued import(s)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(e.api_requests("PUT", "/abort_all_pending").len(), 1);
    let list = e.api_requests("GET", "/sis_imports");
    let q = list.last().unwrap().query.clone().unwrap();
    assert!(q.contains("workflow_state%5B%5D=created"), "{q}");
    assert!(
        e.sim
            .imports()
            .iter()
            .all(|v| v["workflow_state"] == "aborted")
    );
    // Without --json, people get the line on stderr and stdout stays empty.
    let out = e
        .quiet_cmd()
        .args(["abort-all-pending", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "", "no raw JSON without --json");
}

#[test]
fn restore_follows_the_progress_to_its_end() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let out = e
        .quiet_cmd()
        .args([
            "restore",
            &id.to_string(),
            "--yes",
            "--interval",
            "1",
            "--max-polls",
            "10",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "restored");
    let puts = e.api_requests("PUT", "/restore_states");
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].query, None, "no flags given, none sent");
    let polls = e
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v1/progress/"))
        .count();
    assert!((2..=10).contains(&polls), "{polls} progress polls");

    // With a flag: partially_restored, flag in the query, --json shape.
    let id = e.first_in("imported_with_messages");
    let out = e
        .quiet_cmd()
        .args([
            "--json",
            "restore",
            &id.to_string(),
            "--yes",
            "--undelete-only",
            "--interval",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["progress"]["workflow_state"], "completed");
    assert_eq!(v["sis_import"]["id"], id);
    assert_eq!(v["sis_import"]["workflow_state"], "partially_restored");
    let puts = e.api_requests("PUT", "/restore_states");
    assert_eq!(puts[1].query.as_deref(), Some("undelete_only=true"));
}

#[test]
fn restore_max_polls_is_exit_4() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let out = e
        .quiet_cmd()
        .args([
            "restore",
            &id.to_string(),
            "--yes",
            "--interval",
            "1",
            "--max-polls",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
}

#[test]
fn restore_with_both_only_flags_is_refused_locally() {
    let e = World::seeded(6);
    let out = e
        .quiet_cmd()
        .args(["restore", "101", "--undelete-only", "--unconclude-only"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(e.sim.requests().is_empty(), "nothing may be sent");
}

#[test]
fn restore_of_a_missing_import_is_exit_5() {
    let e = World::seeded(1);
    let out = e
        .quiet_cmd()
        .args(["restore", "4242", "--yes", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
}

/// A restore undoes a whole import: like abort, it asks first, and without a terminal it
/// needs --yes (exit 2, nothing sent).
#[test]
fn restore_without_yes_and_no_terminal_sends_nothing() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let out = e
        .quiet_cmd()
        .args(["restore", &id.to_string(), "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(e.writes().is_empty(), "nothing may be sent");
    let restored = e
        .sim
        .imports()
        .iter()
        .filter(|v| v["workflow_state"] == "restored")
        .count();
    assert_eq!(restored, 0);
}
