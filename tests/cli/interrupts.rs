//! A signal or a closed pipe in the middle of a command that talks to Canvas (contract, exit
//! codes 130 and 74): exit 130 with what was sent (`--json`: one error document), `health`
//! UNKNOWN, and a reader that goes away never ends a run. Real signals to the real binary,
//! against a simulator that throttles every request, so that each command sits in its retry
//! loop when the signal comes; every wait is bounded.

#![cfg(unix)]

use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use fake_canvas::{Config, Scenario};
use serde_json::json;

use crate::support::*;

/// Every request answered 429 (`Retry-After: 1`), with `seed` finished imports on the account.
fn throttled(seed: usize) -> World {
    World::with(Config {
        scenario: Scenario::Throttled429,
        fault_count: 100_000,
        seed_imports: seed,
        ..Default::default()
    })
}

fn spawn(w: &World, args: &[&str]) -> Child {
    w.std_cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Poll `cond` every 20 ms for at most 20 s.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < end, "waited 20 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// The child's output once it exits within `secs` (killed and failed otherwise).
fn finish(mut child: Child, secs: u64) -> Output {
    let end = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("the run did not end within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Run `args` until Canvas has been asked `method … suffix` (and throttled), send `sig`,
/// and return the output, which must come within 5 s of the signal.
fn interrupted(w: &World, args: &[&str], method: &str, suffix: &str, sig: i32) -> Output {
    let before = w.api_requests(method, suffix).len();
    let child = spawn(w, args);
    wait_for(&format!("{method} …{suffix}"), || {
        w.api_requests(method, suffix).len() > before
    });
    signal(&child, sig);
    finish(child, 5)
}

fn error_doc(sig: &str, said: &str, hint: Option<&str>) -> serde_json::Value {
    json!({"error": {
        "exit_code": 130,
        "kind": "interrupted",
        "message": format!("interrupted by {sig}: {said}"),
        "hint": hint,
    }})
}

/// `restore` retrying a throttled PUT restore_states stops at the signal (it used to retry
/// for the whole budget), saying the request went out without an answer.
#[test]
fn restore_stops_on_a_signal_while_canvas_throttles_its_put() {
    let w = throttled(1);
    let id = w.import(0).0;
    let sent = Instant::now();
    let out = interrupted(
        &w,
        &[
            "--json",
            "--retry-budget",
            "60s",
            "restore",
            &id.to_string(),
            "--yes",
        ],
        "PUT",
        "/restore_states",
        libc::SIGTERM,
    );
    assert!(sent.elapsed() < Duration::from_secs(25));
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let mut want = error_doc(
        "SIGTERM",
        &format!(
            "the restore of import {id} was sent, but Canvas had not answered with its progress: it may or may not run"
        ),
        Some(&format!(
            "`canvas-sis status {id}` shows whether it is restoring (or restored); restore it again only if not"
        )),
    );
    want["sis_import_id"] = json!(id);
    want["request"] = json!("sent_answer_unknown");
    assert_eq!(json(&out), want);
    let said = format!("interrupted by SIGTERM: the restore of import {id} was sent");
    assert_eq!(stderr(&out).matches(&said).count(), 1, "{}", stderr(&out));
    let log = w.log_text();
    let logged = log.lines().filter(|l| l.contains(&format!("ERROR {said}")));
    assert_eq!(logged.count(), 1, "{log}");
}

/// Each command that only reads from Canvas ends on SIGINT, SIGTERM or SIGHUP with exit 130
/// and one error document (it used to die of the signal with an empty stdout).
#[test]
fn every_reading_command_stops_on_a_signal_with_one_error_document() {
    let w = throttled(1);
    let id = w.import(0).0.to_string();
    let read_only = "nothing was changed in Canvas";
    let bundle = sample_zip();
    let (status, errors) = (
        format!("/sis_imports/{id}"),
        format!("/sis_imports/{id}/errors"),
    );
    let plan: &[&str] = &["plan", bundle.to_str().unwrap(), "--against", "canvas"];
    let report = "nothing was changed in Canvas (a provisioning report it was asked for finishes there on its own)";
    // (command, the request it is stopped in, the signal, what it says)
    let cases = [
        (
            &["status", &id][..],
            ("GET", &*status),
            libc::SIGTERM,
            read_only,
        ),
        (
            &["list"][..],
            ("GET", "/sis_imports"),
            libc::SIGINT,
            read_only,
        ),
        (
            &["errors", &id][..],
            ("GET", &*errors),
            libc::SIGHUP,
            read_only,
        ),
        (
            &["importing"][..],
            ("GET", "/importing"),
            libc::SIGTERM,
            read_only,
        ),
        (
            &["history", "--from-canvas"][..],
            ("GET", "/sis_imports"),
            libc::SIGINT,
            read_only,
        ),
        (
            plan,
            ("POST", "/reports/provisioning_csv"),
            libc::SIGHUP,
            report,
        ),
    ];
    for (args, (method, suffix), sig, said) in cases {
        let name = match sig {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "SIGHUP",
        };
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = interrupted(&w, &all, method, suffix, sig);
        assert_eq!(out.status.code(), Some(130), "{args:?}: {}", stderr(&out));
        assert_eq!(json(&out), error_doc(name, said, None), "{args:?}");
        let err = stderr(&out);
        let line = format!("error: interrupted by {name}: {said}\n");
        assert_eq!(err.matches(&line).count(), 1, "{args:?}: {err}");
    }
    assert!(
        w.writes()
            .iter()
            .all(|r| r.method == "POST" && r.path.contains("/reports/"))
    );
}

/// `health --from-canvas` keeps the Nagios conventions when interrupted: 3 UNKNOWN, the
/// reason in its status line.
#[test]
fn an_interrupted_health_check_is_unknown() {
    let w = throttled(1);
    let out = interrupted(
        &w,
        &["health", "--from-canvas"],
        "GET",
        "/sis_imports",
        libc::SIGTERM,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "CANVAS-SIS UNKNOWN - interrupted by SIGTERM while asking Canvas\n"
    );
}

/// `abort` and `abort-all-pending` say whether the abort went out: not sent while the queue
/// is read, sent without an answer while Canvas throttles the PUT.
#[test]
fn an_interrupted_abort_says_whether_it_was_sent() {
    let w = throttled(1);
    let id = w.import(0).0;
    let out = interrupted(
        &w,
        &["--json", "abort", &id.to_string(), "--yes"],
        "PUT",
        "/abort",
        libc::SIGTERM,
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let mut want = error_doc(
        "SIGTERM",
        &format!(
            "the abort of import {id} was sent, but Canvas had not answered: it may or may not be aborted"
        ),
        Some(&format!(
            "`canvas-sis status {id}` shows its state; abort it again if it still runs"
        )),
    );
    want["sis_import_id"] = json!(id);
    want["request"] = json!("sent_answer_unknown");
    assert_eq!(json(&out), want);

    let out = interrupted(
        &w,
        &["--json", "abort-all-pending", "--yes"],
        "GET",
        "/sis_imports",
        libc::SIGINT,
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let said = "the abort of the queued imports of account self was not sent; nothing was changed";
    let mut want = error_doc("SIGINT", said, None);
    want["request"] = json!("not_sent");
    assert_eq!(json(&out), want);
    assert!(w.api_requests("PUT", "/abort_all_pending").is_empty());

    // Without --json: the same on stderr, nothing on stdout.
    let out = interrupted(
        &w,
        &["abort-all-pending", "--yes"],
        "GET",
        "/sis_imports",
        libc::SIGHUP,
    );
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).ends_with(&format!("error: interrupted by SIGHUP: {said}\n")),
        "{}",
        stderr(&out)
    );
}

/// A reader of stdout that has gone (`list | head -c1`) ends `list` quietly with exit 0
/// (it used to die of SIGPIPE).
#[test]
fn a_closed_stdout_ends_list_with_exit_0() {
    let w = World::seeded(300);
    let mut child = spawn(&w, &["list", "--limit", "300"]);
    // The read end goes before anything was written, as `head -c0` does.
    drop(child.stdout.take());
    let out = finish(child, 30);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
}

/// `submit --watch | true`: the import is created, then followed to its end and logged as
/// always, and the run ends with the import's exit code (it used to die of SIGPIPE while
/// printing the id, with no watch, no end line and no run record). With stderr closed too
/// (`2>&1 | true`) nothing panics.
#[test]
fn submit_watch_with_a_closed_stdout_follows_its_import_to_the_end() {
    for args in [&[][..], &["--json", "-v"][..]] {
        let w = World::new(Scenario::Ok);
        let mut all: Vec<&str> = args.to_vec();
        let bundle = sample_zip();
        all.extend(["submit", bundle.to_str().unwrap()]);
        all.extend(WATCH);
        let mut child = spawn(&w, &all);
        drop(child.stdout.take());
        if !args.is_empty() {
            drop(child.stderr.take());
        }
        let out = finish(child, 60);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
        assert_eq!(w.posts().len(), 1);
        let id = w.import(0).0;
        let log = w.log_text();
        assert!(log.contains(&format!("INFO import {id} created")), "{log}");
        assert!(
            log.contains(&format!("INFO import {id} ended imported")),
            "{log}"
        );
    }
}

/// Canvas stops answering after `submit --watch` created the import: exit 69 says the import
/// exists and how to resume (not "try again", which sends the bundle twice), and `--json`
/// carries its id.
#[test]
fn a_watch_that_fails_after_create_says_the_import_exists_and_how_to_resume() {
    let hung = || {
        World::with(Config {
            scenario: Scenario::Hang,
            fault_count: 100_000,
            hang_for: Duration::from_secs(30),
            ..Default::default()
        })
    };
    let run = |w: &World, json_flag: bool| {
        let mut c = w.std_cmd();
        if json_flag {
            c.arg("--json");
        }
        c.args(["--retry-budget", "3s", "--read-timeout", "1s", "submit"])
            .arg(sample_zip())
            .args(WATCH)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        finish(c.spawn().unwrap(), 30)
    };
    let hint = |id: u64| {
        format!(
            "resume with `canvas-sis watch {id}` once Canvas answers; do not submit again (that would send the bundle a second time)"
        )
    };

    let w = hung();
    let out = run(&w, true);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let id = w.import(0).0;
    let doc = json(&out);
    assert_eq!(doc["sis_import_id"], json!(id));
    assert_eq!(doc["error"]["kind"], "unreachable");
    assert_eq!(doc["error"]["hint"], json!(hint(id)));
    let message = doc["error"]["message"].as_str().unwrap();
    let head = format!(
        "import {id} was created and continues in Canvas, but watching it failed: GET import {id} failed "
    );
    assert!(message.starts_with(&head), "{message}");

    let w = hung();
    let out = run(&w, false);
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let id = w.import(0).0;
    assert_eq!(stdout(&out), format!("{id}\n"));
    let err = stderr(&out);
    assert!(err.contains(&format!("\nerror: {head}")), "{err}");
    assert!(err.ends_with(&format!("  hint: {}\n", hint(id))), "{err}");
    assert_eq!(w.posts().len(), 1);
}

/// Commands that work only on this host end on a signal as the others do: exit 130, the
/// message, and under `--json` one error document (they used to die by the signal, 143,
/// with an empty stdout). A 60 MiB users.csv keeps each busy long after the signal.
#[test]
fn validate_and_plan_end_on_a_signal_with_130_and_their_document() {
    let w = World::new(Scenario::Ok);
    let mut csv = b"user_id,login_id,first_name,last_name,status\n".to_vec();
    let mut i = 0u64;
    while csv.len() < 60 << 20 {
        csv.extend_from_slice(format!("u{i},login{i},First{i},Last{i},active\n").as_bytes());
        i += 1;
    }
    let big = w.file("users.csv", &csv);
    let big = big.to_str().unwrap();
    for (cmd, doing) in [("validate", "while validating"), ("plan", "while planning")] {
        let child = spawn(&w, &["--json", cmd, big]);
        // The listener is in place once its thread runs (and a moment more to take the
        // signals over); the command is then still reading the 60 MiB.
        let task = format!("/proc/{}/task", child.id());
        wait_for("the signal listener", || {
            std::fs::read_dir(&task)
                .into_iter()
                .flatten()
                .flatten()
                .any(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.starts_with("canvas-sis-sign"))
                })
        });
        std::thread::sleep(Duration::from_millis(50));
        signal(&child, libc::SIGTERM);
        let out = finish(child, 5);
        assert_eq!(out.status.code(), Some(130), "{cmd}: {}", stderr(&out));
        let doc = json(&out);
        assert_eq!(doc["error"]["kind"], "interrupted", "{cmd}: {doc}");
        let msg = doc["error"]["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("interrupted by SIGTERM {doing}"))
                && msg.contains("nothing was sent"),
            "{cmd}: {msg}"
        );
    }
}
