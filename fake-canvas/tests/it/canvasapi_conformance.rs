//! Conformance with a real third-party client: canvasapi (Python) drives the simulator
//! through its SIS import calls, and every value it got back is checked here.
//!
//! The driver is `canvasapi_conformance.py` beside this file; it runs with the venv that
//! `.ci/install-tools` makes at `<workspace>/target/tools-venv` (or under
//! `$CARGO_TARGET_DIR`). The test only runs with `CANVAS_SIS_EXTERNAL_TESTS=1` (see
//! build.rs); then a missing venv or canvasapi is a failure, never a silent pass.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_canvas::{Config, Handle};
use serde_json::{Value, json};

/// The version `.ci/install-tools` pins; the workarounds in the script are for it.
const CANVASAPI_VERSION: &str = "3.6.0";
const DEADLINE: Duration = Duration::from_secs(120);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fake-canvas sits in the workspace")
        .to_path_buf()
}

fn venv_python() -> PathBuf {
    let root = workspace_root();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(t) if !t.is_empty() => {
            let t = PathBuf::from(t);
            if t.is_absolute() { t } else { root.join(t) }
        }
        _ => root.join("target"),
    };
    target.join("tools-venv").join("bin").join("python")
}

/// Run the driver against `h`; its JSON report (panics with its stderr on any failure).
fn run_driver(h: &Handle) -> Value {
    let python = venv_python();
    assert!(
        python.is_file(),
        "canvasapi conformance: no Python venv at {} — run `bash .ci/install-tools` \
         (it creates target/tools-venv with canvasapi {CANVASAPI_VERSION}), or leave \
         CANVAS_SIS_EXTERNAL_TESTS unset to skip this test",
        python.display()
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/canvasapi_conformance.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .args(["--base", &h.url(), "--token", &h.token()])
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "canvasapi driver did not finish in {DEADLINE:?}; stderr:\n{}",
                err_t.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    assert!(
        status.success(),
        "canvasapi driver failed ({status}); if canvasapi is missing, run `bash .ci/install-tools`.\nstderr:\n{stderr}\nstdout:\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("driver output is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"))
}

/// One step's report; a step that raised fails the test with canvasapi's traceback.
fn step<'a>(report: &'a Value, name: &str) -> &'a Value {
    let s = report["steps"]
        .get(name)
        .unwrap_or_else(|| panic!("step {name} missing from the report: {report}"));
    if let Some(e) = s.get("error") {
        panic!(
            "canvasapi step {name} raised {e}\n{}",
            s["traceback"].as_str().unwrap_or("")
        );
    }
    s
}

fn states(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
#[cfg_attr(
    not(external_tests),
    ignore = "needs a Python venv with canvasapi: .ci/run installs it and sets CANVAS_SIS_EXTERNAL_TESTS=1"
)]
fn canvasapi_drives_every_sis_import_call() {
    let h = fake_canvas::spawn(Config {
        seed_imports: 7,
        ..Default::default()
    })
    .expect("spawn fake-canvas");
    let base = h.url();
    let local = base.replace("127.0.0.1", "localhost");
    let r = run_driver(&h);
    assert_eq!(
        r["canvasapi_version"], CANVASAPI_VERSION,
        "keep in step with .ci/install-tools"
    );

    // Account.
    let acct = step(&r, "get_account");
    assert_eq!(acct["id"], 1);
    assert_eq!(acct["name"], "Fake University");

    // create_sis_import (multipart `attachment`, options as form fields).
    let c = step(&r, "create_sis_import");
    let first = c["id"].as_u64().unwrap();
    assert_eq!(c["workflow_state"], "created");
    assert_eq!(c["progress"], 0);
    assert_eq!(c["batch_mode"], true);
    assert_eq!(c["batch_mode_term_id"], 1);
    assert_eq!(c["override_sis_stickiness"], true);
    assert_eq!(c["add_sis_stickiness"], true);
    assert_eq!(c["change_threshold"], 50);
    assert_eq!(c["skip_deletes"], false);
    assert_eq!(c["account_id"], 1);
    assert_eq!(c["data"], json!({"import_type": "instructure_csv"}));
    assert_eq!(c["user"]["sis_user_id"], "admin");
    assert_eq!(c["user"]["login_id"], "admin@example.edu");
    let post = h
        .requests()
        .into_iter()
        .find(|q| q.method == "POST")
        .unwrap();
    assert!(
        post.header("content-type")
            .unwrap()
            .starts_with("multipart/form-data"),
        "canvasapi uploads multipart"
    );
    assert_eq!(post.status, 200);

    // get_sis_import until the end: batch mode passes through cleanup_batch.
    let g = step(&r, "get_sis_import");
    assert_eq!(
        states(&g["states"]),
        ["importing", "cleanup_batch", "imported_with_messages"]
    );
    let progress: Vec<u64> = g["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert!(
        progress[..progress.len() - 1].iter().all(|p| *p <= 99),
        "{progress:?}"
    );
    assert_eq!(progress.last(), Some(&100));
    let last = &g["last"];
    assert!(last["ended_at"].is_string());
    assert_eq!(
        last["data"]["supplied_batches"],
        json!(["course", "user", "enrollment"])
    );
    let counts = &last["data"]["counts"];
    assert_eq!(counts["users"], 2);
    assert_eq!(counts["courses"], 1);
    assert_eq!(counts["enrollments"], 2);
    assert_eq!(counts["warning_count"], 1);
    assert_eq!(counts["error_count"], 0);
    assert_eq!(counts["batch_courses_deleted"], 0);
    assert_eq!(
        last["processing_warnings"],
        json!([["users.csv", "Improper status for user u3"]])
    );

    // get_sis_imports_running: the second import, once it runs.
    let run = step(&r, "get_sis_imports_running");
    let second = run["created"]["id"].as_u64().unwrap();
    assert_eq!(run["created"]["workflow_state"], "created");
    assert_eq!(run["first_get"]["workflow_state"], "importing");
    let running = run["running"].as_array().unwrap();
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0]["id"], second);
    assert_eq!(running[0]["workflow_state"], "importing");
    assert_eq!(running[0]["account_id"], 1);

    // SisImport.abort.
    let ab = step(&r, "abort");
    assert_eq!(ab["result"]["id"], second);
    assert_eq!(ab["result"]["workflow_state"], "aborted");
    assert_eq!(ab["refetched"]["workflow_state"], "aborted");
    assert!(
        ab["refetched"]["ended_at"].is_null(),
        "a user abort leaves ended_at null"
    );
    assert_eq!(ab["refetched"]["account_id"], 1);
    assert_eq!(ab["running_after"], json!([]));
    // Aborting it again: 404, which canvasapi raises as ResourceDoesNotExist.
    assert_eq!(step(&r, "abort_finished")["raised"], "ResourceDoesNotExist");

    // Account.abort_sis_imports_pending.
    let all = step(&r, "abort_sis_imports_pending");
    assert_eq!(all["before"], json!(["created", "created"]));
    assert_eq!(all["answer"], true);
    for v in all["after"].as_array().unwrap() {
        assert_eq!(v["workflow_state"], "aborted");
        assert_eq!(v["progress"], 100);
        assert!(v["ended_at"].is_null());
    }

    // get_sis_imports, all pages of 3, on 127.0.0.1 and on localhost.
    let mut want: Vec<u64> = h
        .imports()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(want.len(), 11);
    for name in ["get_sis_imports", "get_sis_imports_localhost"] {
        let l = step(&r, name);
        let ids: Vec<u64> = l["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(ids, want, "{name}: every import once, newest first");
        let created: Vec<&str> = states(&l["created_at"]);
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "{name}: {created:?}"
        );
        assert_eq!(l["account_ids"], json!([1]), "{name}");
    }
    let list_reqs: Vec<_> = h
        .requests()
        .into_iter()
        .filter(|q| q.method == "GET" && q.path == "/api/v1/accounts/1/sis_imports")
        .filter(|q| q.query.as_deref().is_some_and(|s| s.contains("per_page=3")))
        .collect();
    let port = base.rsplit(':').next().unwrap();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        let pages: Vec<String> = list_reqs
            .iter()
            .filter(|q| q.header("host") == Some(host.as_str()))
            .map(|q| q.query.clone().unwrap())
            .collect();
        assert_eq!(
            pages.len(),
            4,
            "{host}: 11 imports in pages of 3: {pages:?}"
        );
        for (i, q) in pages.iter().enumerate().skip(1) {
            assert_eq!(q, &format!("page={}&per_page=3", i + 1), "{host}");
        }
    }

    // restore_states and its Progress, through localhost (partial: batch_mode) ...
    let rs = step(&r, "restore_states_localhost");
    let p = &rs["progress"];
    assert_eq!(p["workflow_state"], "queued");
    assert_eq!(p["context_id"], first);
    assert_eq!(p["context_type"], "SisBatch");
    assert_eq!(p["tag"], "sis_batch_state_restore");
    assert_eq!(p["completion"], 0.0);
    let purl = p["url"].as_str().unwrap();
    assert!(
        purl.starts_with(&format!("{local}/api/v1/progress/")),
        "{purl}"
    );
    assert_eq!(states(&rs["states"]), ["queued", "running", "completed"]);
    assert_eq!(rs["last"]["completion"], 100.0);
    assert_eq!(rs["last"]["url"], purl);
    assert_eq!(rs["get_progress"]["workflow_state"], "completed");
    assert_eq!(rs["import_after"]["workflow_state"], "partially_restored");
    // ... and in full through 127.0.0.1.
    let full = step(&r, "restore_states");
    assert!(
        full["progress_url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{base}/api/v1/progress/"))
    );
    assert_eq!(states(&full["states"]), ["queued", "running", "completed"]);
    assert_eq!(full["import_after"]["workflow_state"], "restored");
    // Both filters: 400 with a bare JSON string, raised as BadRequest.
    let both = step(&r, "restore_states_both_flags");
    assert_eq!(both["raised"], "BadRequest");
    assert!(
        both["message"]
            .as_str()
            .unwrap()
            .contains("cannot set both undelete_only and unconclude_only")
    );

    // Nothing runs at the end, and no request failed on the server side.
    let bad: Vec<_> = h
        .requests()
        .into_iter()
        .filter(|q| q.status >= 500 || q.status == 0)
        .map(|q| (q.method, q.path, q.status))
        .collect();
    assert!(bad.is_empty(), "{bad:?}");
    h.shutdown();
}
