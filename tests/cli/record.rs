//! The run record: one folder per run, `history`, `health` and the metrics textfile, against
//! the simulator.

use crate::support::*;
use fake_canvas::{Config, Scenario};

/// `submit` of the sample zip with the config file `cfg`.
fn submit_with(w: &World, cfg: &std::path::Path, args: &[&str]) -> std::process::Output {
    w.cmd()
        .arg("-c")
        .arg(cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(args)
        .output()
        .unwrap()
}

/// A finished run of long ago in the archive, as `run.json` text: its folder.
fn archived_run(w: &World, run_json: &str) -> std::path::PathBuf {
    let old = runs_dir(w).join("20200101T000000Z-1");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::write(old.join("run.json"), run_json).unwrap();
    old
}

fn runs_dir(w: &World) -> std::path::PathBuf {
    w.home.path().join("state/canvas-sis/runs")
}

#[test]
fn a_watched_submit_leaves_a_complete_run_folder_history_and_health_read_it() {
    let w = World::with(Config {
        scenario: Scenario::Ok,
        polls_to_finish: 2,
        extra_warnings: 3,
        ..Default::default()
    });
    let prom = w.home.path().join("canvas_sis.prom");
    let (hook, bodies) = webhook_sink();
    let cfg = w.file(
        "c.toml",
        format!(
            "[metrics]\ntextfile = \"{}\"\n[notify]\nwebhook = [\"{hook}\"]\n",
            prom.display()
        )
        .as_bytes(),
    );
    // Before any run: UNKNOWN (exit 3).
    let o = w.cmd().arg("-c").arg(&cfg).arg("health").output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("CANVAS-SIS UNKNOWN - no runs"),
        "{}",
        stdout(&o)
    );

    let o = submit_with(&w, &cfg, &WATCH);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let id: u64 = stdout(&o).trim().parse().unwrap();
    let folders: Vec<_> = std::fs::read_dir(runs_dir(&w)).unwrap().flatten().collect();
    assert_eq!(folders.len(), 1);
    let folder = folders[0].path();
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["import_id"], id);
    assert_eq!(run["state"], "imported_with_messages", "{run}");
    assert_eq!(run["exit_code"], 1);
    assert_eq!(run["bundle"]["sha256"], sha256(&sample_zip()));
    let states: Vec<&str> = run["states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.first(), Some(&"created"), "{run}");
    assert_eq!(states.last(), Some(&"imported_with_messages"), "{run}");
    assert!(run["sis_import"]["id"] == id, "{run}");
    let errors = std::fs::read_to_string(folder.join("errors.csv")).unwrap();
    assert!(
        errors.starts_with("sis_import_id,file,message,row\n"),
        "{errors}"
    );
    assert!(errors.lines().count() > 3, "{errors}");

    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &doc["runs"][0];
    assert_eq!(r["import_id"], id, "{doc}");
    assert_eq!(r["state"], "imported_with_messages");
    assert_eq!(r["profile"], serde_json::Value::Null);
    assert!(r["warnings"].as_u64().unwrap() >= 3, "{doc}");
    assert!(
        r["rows"].as_object().is_some_and(|m| !m.is_empty()),
        "{doc}"
    );
    // The contract's `<kind>`: the names `plan --json` uses (`user`), not data.counts' (`users`).
    let plan = w
        .cmd()
        .args(["--json", "plan"])
        .arg(sample_zip())
        .output()
        .unwrap();
    let kinds = json(&plan)["kinds"].as_object().unwrap().clone();
    for k in r["rows"].as_object().unwrap().keys() {
        assert!(
            kinds.contains_key(k),
            "history names {k}, plan names {:?}",
            kinds.keys()
        );
    }
    let metrics = std::fs::read_to_string(&prom).unwrap();
    assert!(metrics.contains("kind=\"user\"}"), "{metrics}");
    // The webhook's counts too.
    let warned = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|v| v["event"] == "warnings")
        .expect("a warnings event");
    let counts = warned["counts"].as_object().unwrap();
    assert!(!counts.is_empty(), "{warned}");
    for k in counts.keys() {
        assert!(kinds.contains_key(k), "the webhook names {k}");
    }

    let o = w.cmd().arg("health").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let line = stdout(&o);
    assert!(
        line.starts_with(&format!(
            "CANVAS-SIS OK - import {id} imported_with_messages"
        )),
        "{line}"
    );
    assert!(
        line.contains(" | age=") && line.contains(";;93600 warnings="),
        "{line}"
    );
    let o = w
        .cmd()
        .args(["health", "--warn-warnings", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let o = w
        .cmd()
        .args(["--json", "health", "--max-age", "1s"])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["exit_code"], o.status.code().unwrap());

    let prom = std::fs::read_to_string(&prom).unwrap();
    assert!(
        prom.contains("canvas_sis_last_run_state{profile=\"default\",account=\"self\",state=\"imported_with_messages\"} 1"),
        "{prom}"
    );
}

#[test]
fn watch_completes_the_run_a_plain_submit_started() {
    let w = World::new(Scenario::Ok);
    let o = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let id = stdout(&o).trim().to_string();
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc["runs"][0]["state"].is_null(), "not ended yet: {doc}");
    let o = w
        .cmd()
        .args(["watch", &id, "--interval", "1", "--max-polls", "20"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["runs"][0]["state"], "imported", "{doc}");
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
}

/// `health`'s own failures are UNKNOWN (3) with the reason in the status line: a monitor
/// reads a check's exit code.
#[test]
fn health_failures_are_unknown() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .args(["health", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).starts_with("CANVAS-SIS UNKNOWN - unexpected argument"),
        "{}",
        stdout(&o)
    );
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "base_url = [\n").unwrap();
    let o = bare_cmd(home.path())
        .args(["--json", "-c"])
        .arg(&cfg)
        .arg("health")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["status"], "UNKNOWN");
    assert!(
        doc["line"]
            .as_str()
            .unwrap()
            .contains("invalid config file"),
        "{doc}"
    );
}

/// A local webhook receiver: it answers 200 to every POST and keeps each body.
fn webhook_sink() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20).flatten() {
            let mut r = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            keep.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).to_string());
            let mut s = stream;
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, bodies)
}

/// `[notify] webhook`: the end of a run with warnings is one Slack message, escaped, with no
/// token in it; a webhook that cannot be reached is a WARN line and changes nothing else.
#[test]
fn a_run_that_ends_with_warnings_posts_one_escaped_slack_message() {
    let w = World::with(Config {
        scenario: Scenario::Ok,
        polls_to_finish: 2,
        extra_warnings: 3,
        ..Default::default()
    });
    let (url, bodies) = webhook_sink();
    let (_held, port) = refusing_port();
    let dead = format!("http://127.0.0.1:{port}/hook");
    let cfg = w.file(
        "n.toml",
        format!("[notify]\nwebhook = [\"{url}\", \"{dead}\"]\nformat = \"slack\"\n").as_bytes(),
    );
    let started = std::time::Instant::now();
    let o = submit_with(&w, &cfg, &WATCH);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let msg: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    let text = msg["text"].as_str().unwrap();
    assert!(text.starts_with("canvas-sis warnings: import "), "{text}");
    assert!(!got[0].contains(&w.sim.token()), "no token in a message");
    assert!(
        w.log_text().contains("notification to http://127.0.0.1"),
        "{}",
        w.log_text()
    );
}

/// `keep_bundles` (on by default): the run folder holds the bytes Canvas received, written by
/// the upload's own pass, for a direct upload, the file-upload flow and `--once` (hashed
/// first) alike; `keep_bundles = false` keeps none. An upload that fails still leaves a run
/// folder that says so (exit code, no import).
#[test]
fn the_run_folder_keeps_the_bundle_canvas_received() {
    let w = World::new(Scenario::Ok);
    let bundle_in = |folder: &std::path::Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(folder)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "zip"))
            .collect()
    };
    // The folder the last submit made: the one not seen before (names sort by second, then
    // by pid as text, so two runs in one second need not sort in the order they ran).
    let seen = std::cell::RefCell::new((std::collections::HashSet::new(), None));
    let newest = |w: &World| -> std::path::PathBuf {
        let mut s = seen.borrow_mut();
        for e in std::fs::read_dir(runs_dir(w)).unwrap().flatten() {
            if s.0.insert(e.path()) {
                s.1 = Some(e.path());
            }
        }
        s.1.clone().expect("a run folder")
    };
    for extra in [
        &["--upload-mode", "direct"][..],
        &["--upload-mode", "file-upload"],
        &["--once"],
    ] {
        let o = w
            .cmd()
            .arg("submit")
            .arg(sample_zip())
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
        let copies = bundle_in(&newest(&w));
        assert_eq!(copies.len(), 1, "{extra:?}");
        assert_eq!(sha256(&copies[0]), sha256(&sample_zip()), "{extra:?}");
        // Before another submit of the same content within the dedupe window is refused.
        std::fs::remove_file(w.log_dir().join("journal.json")).ok();
    }
    let cfg = w.file("c.toml", b"[archive]\nkeep_bundles = false\n");
    let o = submit_with(&w, &cfg, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(bundle_in(&newest(&w)).is_empty());

    // Canvas refuses the upload (401): the run folder records the failed run.
    let o = w
        .cmd()
        .env("CANVAS_ACCESS_TOKEN", "wrong")
        .arg("submit")
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(newest(&w).join("run.json")).unwrap()).unwrap();
    assert_eq!(run["exit_code"], 77, "{run}");
    assert!(run["import_id"].is_null(), "{run}");
    // A copy, if the whole file went out before the refusal, is the whole bundle; never a
    // partial one.
    for c in bundle_in(&newest(&w)) {
        assert_eq!(sha256(&c), sha256(&sample_zip()));
    }
    let names: Vec<String> = std::fs::read_dir(newest(&w))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".part")), "{names:?}");
}

/// `stuck`: an import that waits in `created` longer than `stuck_after_created` raises the
/// `stuck` event when a watch gives up on it, beside `max_polls`.
#[test]
fn an_import_queued_past_stuck_after_created_is_reported_stuck() {
    let w = World::new(Scenario::StuckCreated);
    let (url, bodies) = webhook_sink();
    let cfg = w.file(
        "n.toml",
        format!("[notify]\nwebhook = [\"{url}\"]\nstuck_after_created = \"1s\"\n").as_bytes(),
    );
    let o = submit_with(
        &w,
        &cfg,
        &["--watch", "--interval", "1", "--max-polls", "3"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let events: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["event"].to_string())
        .collect();
    assert!(events.contains(&"\"max_polls\"".to_string()), "{events:?}");
    assert!(events.contains(&"\"stuck\"".to_string()), "{events:?}");
    // Each names the run that sent the import.
    let run_id = std::fs::read_dir(runs_dir(&w))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    for b in bodies.lock().unwrap().iter() {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        assert_eq!(v["run_id"], run_id.as_str(), "{v}");
    }
    // With the default (6h), the same wait is not stuck.
    let (url2, bodies2) = webhook_sink();
    let cfg2 = w.file(
        "n2.toml",
        format!("[notify]\nwebhook = [\"{url2}\"]\n").as_bytes(),
    );
    std::fs::remove_file(w.log_dir().join("journal.json")).ok();
    let o = submit_with(
        &w,
        &cfg2,
        &["--watch", "--interval", "1", "--max-polls", "2"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let got = bodies2.lock().unwrap().clone();
    assert!(!got.iter().any(|b| b.contains("\"stuck\"")), "{got:?}");
}

/// A run whose upload fails (a bad token, Canvas down) imports nothing at all: the `failed`
/// event says so, naming the run and why; the metrics say `upload_failed`, `history` says
/// which exit it ended with.
#[test]
fn a_run_whose_upload_fails_is_a_failed_event_and_says_so_everywhere() {
    let w = World::new(Scenario::Ok);
    let (url, bodies) = webhook_sink();
    let prom = w.home.path().join("canvas.prom");
    let cfg = w.file(
        "n.toml",
        format!(
            "[notify]\nwebhook = [\"{url}\"]\n[metrics]\ntextfile = \"{}\"\n",
            prom.display()
        )
        .as_bytes(),
    );
    let o = w
        .cmd()
        .env("CANVAS_ACCESS_TOKEN", "not-the-token")
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(77), "{}", stderr(&o));
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let v: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(v["event"], "failed", "{v}");
    assert!(v["run_id"].as_str().is_some_and(|r| !r.is_empty()), "{v}");
    assert_eq!(v["import_id"], serde_json::Value::Null, "{v}");
    let why = v["reasons"][0].as_str().unwrap_or_default();
    assert!(why.starts_with("the upload failed (exit 77)"), "{v}");
    assert!(!got[0].contains("not-the-token"), "no token in a message");
    let m = std::fs::read_to_string(&prom).unwrap();
    assert!(m.contains("state=\"upload_failed\"} 1"), "{m}");
    let o = w.cmd().arg("history").output().unwrap();
    assert!(
        stdout(&o).contains("upload failed (exit 77)"),
        "{}",
        stdout(&o)
    );
}

/// `status` that sees a run's import end logs the end line (and its WARN lines) once, as
/// `watch` would have; later `status` calls log no second end.
#[test]
fn status_that_sees_the_end_logs_it_once() {
    let w = World::with(Config {
        scenario: Scenario::Warnings,
        polls_to_finish: 2,
        ..Default::default()
    });
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    for _ in 0..6 {
        let o = w.cmd().args(["status", &id]).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let log = w.log_text();
    let ends = log
        .lines()
        .filter(|l| l.contains(&format!("import {id} ended imported_with_messages")))
        .count();
    assert_eq!(ends, 1, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains(" WARN ") && l.contains(&format!("import {id}: "))),
        "{log}"
    );
}

/// `health`'s perfdata `age` is the age of the last import that ended well (what
/// `--max-age`, its critical threshold, measures), not of the newest run.
#[test]
fn health_perfdata_age_is_the_last_successes() {
    let w = World::new(Scenario::Failed);
    let two_days_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48);
    archived_run(
        &w,
        &format!(
            r#"{{"run_id":"20200101T000000Z-1","submitted_at":"{two_days_ago}","base_url":"{}/","account":"self","import_id":1,"state":"imported","ended_at":"{two_days_ago}","exit_code":0}}"#,
            w.sim.url()
        ),
    );
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let o = w.cmd().arg("health").output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let line = stdout(&o);
    let age: u64 = line
        .split(" age=")
        .nth(1)
        .and_then(|r| r.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!((172_000..173_000).contains(&age), "{line}");
}

/// `abort` of this host's import ends its run: `history` says aborted.
#[test]
fn abort_of_a_runs_import_ends_the_run() {
    let w = World::new(Scenario::StuckCreated);
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let id = stdout(&out).trim().to_string();
    let o = w.cmd().args(["abort", &id, "--yes"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let h = w.cmd().args(["--json", "history"]).output().unwrap();
    let run = &json(&h)["runs"][0];
    assert_eq!(run["state"], "aborted", "{run}");
}

/// `[archive] dir = ""` keeps no runs, but `[metrics] textfile` still gets each import this
/// host sent, at its end; a failed night keeps the last success's time.
#[test]
fn metrics_are_written_with_the_archive_off() {
    let w = World::new(Scenario::Ok);
    let prom = w.home.path().join("canvas.prom");
    let cfg = w.file(
        "m.toml",
        format!(
            "[archive]\ndir = \"\"\n[metrics]\ntextfile = \"{}\"\n",
            prom.display()
        )
        .as_bytes(),
    );
    let o = submit_with(&w, &cfg, &WATCH);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = std::fs::read_to_string(&prom).unwrap();
    assert!(
        m.contains(
            "canvas_sis_last_run_state{profile=\"default\",account=\"self\",state=\"imported\"} 1"
        ),
        "{m}"
    );
    assert!(
        m.contains("canvas_sis_last_success_timestamp_seconds{profile=\"default\""),
        "{m}"
    );
    assert!(!runs_dir(&w).exists(), "no archive");
}

/// Profiles for two Canvases in one file: `health --profile P` and `history --profile P` read
/// P's runs only, so that a failure on the test instance does not page for production.
#[test]
fn health_and_history_with_a_profile_read_that_profiles_runs_only() {
    let w = World::new(Scenario::Ok);
    let other = World::new(Scenario::Ok);
    let cfg = w.file(
        "p.toml",
        format!(
            "[profiles.prod]\nbase_url = \"{}\"\n[profiles.test]\nbase_url = \"{}\"\naccount_id = \"sis_account_id:NOPE\"\n",
            w.sim.url(),
            other.sim.url()
        )
        .as_bytes(),
    );
    let run = |args: &[&str]| w.cmd().arg("-c").arg(&cfg).args(args).output().unwrap();
    let o = run(&[
        "--profile",
        "prod",
        "submit",
        sample_zip().to_str().unwrap(),
        "--watch",
        "--interval",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&[
        "--profile",
        "test",
        "submit",
        sample_zip().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let o = run(&["--profile", "prod", "health"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = run(&["--profile", "test", "health"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    // Without a profile, every run counts: the newest failed.
    let o = run(&["health"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let o = run(&["--json", "--profile", "prod", "history"]);
    let runs = json(&o)["runs"].as_array().unwrap().clone();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["profile"], "prod");
}

/// `--from-canvas`: `history` adds the imports Canvas lists that this host did not send,
/// marked as such; `health` judges by Canvas's list (whoever sent the imports), and Canvas
/// unreachable is UNKNOWN with the reason.
#[test]
fn history_and_health_from_canvas() {
    let w = World::seeded(3);
    let o = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let ours: u64 = stdout(&o).trim().parse().unwrap();
    // Without --from-canvas: only this host's run.
    let o = w.cmd().args(["--json", "history"]).output().unwrap();
    assert_eq!(json(&o)["runs"].as_array().unwrap().len(), 1);
    let o = w
        .cmd()
        .args(["--json", "history", "--from-canvas"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    let runs = doc["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "{doc}");
    let mine: Vec<_> = runs.iter().filter(|r| r["sent_here"] == true).collect();
    assert_eq!(mine.len(), 1, "{doc}");
    assert_eq!(mine[0]["import_id"], ours);
    assert!(mine[0]["run_id"].is_string());
    for r in runs.iter().filter(|r| r["sent_here"] == false) {
        assert!(r["import_id"].is_u64(), "{r}");
        assert_eq!(r["run_id"], "", "{r}");
    }
    // The text table marks them too.
    let o = w.cmd().args(["history", "--from-canvas"]).output().unwrap();
    assert_eq!(
        stdout(&o).matches("(not sent here)").count(),
        3,
        "{}",
        stdout(&o)
    );

    // Canvas's list: the newest import that ended is a seeded one that failed, which this
    // host's own record cannot know: CRITICAL, whoever sent it.
    let failed = w.first_in("failed_with_messages");
    let o = w
        .cmd()
        .args(["--json", "health", "--from-canvas"])
        .output()
        .unwrap();
    let doc = json(&o);
    assert_eq!(o.status.code(), Some(2), "{doc}");
    let line = doc["line"].as_str().unwrap();
    assert!(
        line.contains(&format!("import {failed} failed_with_messages")),
        "{doc}"
    );
    assert!(line.contains("(from Canvas)"), "{doc}");
    // Canvas unreachable: UNKNOWN (3), at once.
    let (_held, port) = refusing_port();
    let dead = format!("http://127.0.0.1:{port}/");
    let started = std::time::Instant::now();
    let o = w
        .cmd()
        .env("CANVAS_BASE_URL", &dead)
        .args(["health", "--from-canvas"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("CANVAS-SIS UNKNOWN - "),
        "{}",
        stdout(&o)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(45));
}

/// The end of a run with thousands of warnings logs one line per message template with its
/// count (as `errors --group` groups them), not one line per row; Canvas's own capped list
/// keeps its lines (the contract's one line per listed message).
#[test]
fn thousands_of_warnings_end_in_one_log_line_per_template() {
    let w = World::with(Config {
        scenario: Scenario::Ok,
        polls_to_finish: 2,
        extra_warnings: 2000,
        ..Default::default()
    });
    let o = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let log = w.log_text();
    let lines = log.lines().count();
    assert!(lines < 200, "{lines} log lines");
    let summary = log
        .lines()
        .find(|l| l.contains("error and warning rows in"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(summary.contains("2000 error and warning rows"), "{summary}");
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains(" × ")),
        "{log}"
    );
}

/// Retention runs when a run starts too, so that submits whose end nobody watches (cron
/// without `--watch`) cannot grow the archive past `keep_days`.
#[test]
fn a_new_run_prunes_the_archive_before_it_adds_to_it() {
    let w = World::new(Scenario::Ok);
    let old = archived_run(
        &w,
        r#"{"run_id":"20200101T000000Z-1","submitted_at":"2020-01-01T00:00:00Z","base_url":"u","account":"self","state":"imported","exit_code":0}"#,
    );
    let o = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!old.exists(), "the run older than keep_days went");
    assert_eq!(std::fs::read_dir(runs_dir(&w)).unwrap().count(), 1);
}

/// Under `umask 000` (a cron or CI environment that sets none), what a run leaves on disk is
/// still its own: the archive's copy of the bundle (student data), the journal and the
/// lock 0600, the folders 0700, the log file 0640 (a log shipper in the group may read it).
#[test]
fn what_a_run_leaves_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let w = World::new(Scenario::Ok);
    let mut c = w.std_cmd();
    c.arg("submit")
        .arg(sample_zip())
        .arg("--watch")
        .args(["--interval", "1"]);
    with_umask(&mut c, 0);
    let o = assert_cmd::Command::from_std(c)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mode =
        |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    let state = w.home.path().join("state");
    assert_eq!(mode(&state), 0o700, "XDG_STATE_HOME, made by us");
    let mut seen = (0, 0, 0);
    let mut stack = vec![state.join("canvas-sis")];
    while let Some(d) = stack.pop() {
        assert_eq!(mode(&d), 0o700, "{}", d.display());
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (p, t) = (e.path(), e.file_type().unwrap());
            let name = e.file_name().to_string_lossy().into_owned();
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                let want = if name.starts_with("canvas_sis.log") {
                    0o640
                } else {
                    0o600
                };
                assert_eq!(mode(&p), want, "{}", p.display());
                seen.0 += usize::from(name.ends_with(".zip"));
                seen.1 += usize::from(name.ends_with(".lock"));
                seen.2 += usize::from(name.starts_with("canvas_sis.log"));
            }
        }
    }
    assert!(
        seen.0 >= 1 && seen.1 >= 1 && seen.2 >= 1,
        "copy, lock and log all seen: {seen:?}"
    );
}

/// A run record that does not read is named, not dropped in silence: `health` saying "no runs
/// recorded" must not be taken for the truth when the archive is damaged.
#[test]
fn a_damaged_run_record_is_named_by_history_and_health() {
    let w = World::new(Scenario::Ok);
    let o = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let folder = std::fs::read_dir(runs_dir(&w))
        .unwrap()
        .flatten()
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    std::fs::write(folder.join("run.json"), "{").unwrap();
    for cmd in ["history", "health"] {
        let o = w.cmd().arg(cmd).output().unwrap();
        assert!(
            stderr(&o).contains("does not read") && stderr(&o).contains("run.json"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
    // The line a monitor reads says so too, not only "no runs recorded".
    let o = w.cmd().arg("health").output().unwrap();
    assert!(
        stdout(&o).contains("1 run record(s) do not read and are left out"),
        "{}",
        stdout(&o)
    );
}

/// `history --from-canvas` shows how a run of this host ended when no command of this host
/// saw it end (a submit without --watch): Canvas's list, which it has just read, says so.
#[test]
fn history_from_canvas_tells_how_an_unwatched_run_of_this_host_ended() {
    let w = World::new(Scenario::Ok);
    let o = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut seen = serde_json::Value::Null;
    // Each read of Canvas's list is a unit of the simulator's time: a few end the import.
    for _ in 0..8 {
        let o = w
            .cmd()
            .args(["--json", "history", "--from-canvas"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let doc = json(&o);
        let ours = doc["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["sent_here"] == true)
            .cloned()
            .expect("this host's run is listed");
        seen = ours["state"].clone();
        if seen == "imported" {
            assert!(
                ours["rows"].as_object().is_some_and(|m| !m.is_empty()),
                "{ours}"
            );
            break;
        }
    }
    assert_eq!(seen, "imported");
}
