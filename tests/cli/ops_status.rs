//! `status` output shapes, and SIGINT during `restore`.

use std::time::Duration;

use crate::support::*;

#[test]
fn status_json_is_the_raw_object_like_list_items() {
    let e = World::seeded(6);
    let id = e.first_in("imported_with_messages");
    let out = e
        .quiet_cmd()
        .args(["--json", "status", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let one = json(&out);
    let out = e
        .quiet_cmd()
        .args(["--json", "list", "--limit", "100"])
        .output()
        .unwrap();
    let list = json(&out);
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap()
        .clone();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&one), keys(&item));
    assert_eq!(one["workflow_state"], "imported_with_messages");
}

#[test]
fn status_text_shows_batch_mode_counts_and_where_errors_are() {
    let e = World::seeded(6);
    let id = e.first_in("imported_with_messages");
    let out = e
        .quiet_cmd()
        .args(["status", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let t = stdout(&out);
    assert!(t.contains("batch mode: off"), "{t}");
    assert!(t.contains("counts:    users=10"), "{t}");
    assert!(t.contains(&format!("canvas-sis errors {id}")), "{t}");
    assert!(t.contains("error file: http://"), "{t}");
    assert!(!t.contains("verifier="), "{t}");
}

#[cfg(unix)]
#[test]
fn sigint_during_restore_is_130() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("canvas-sis"));
    for v in [
        "CANVAS_SIS_CONFIG",
        "CANVAS_SIS_PROFILE",
        "CANVAS_BASE_URL",
        "CANVAS_ACCOUNT_ID",
        "CANVAS_SIS_LOG_DIR",
    ] {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .env("CANVAS_ACCESS_TOKEN", e.sim.token())
        .env("HOME", e.home.path())
        .env("XDG_STATE_HOME", e.home.path().join("state"))
        .env("XDG_CONFIG_HOME", e.home.path().join("config"))
        .current_dir(e.home.path())
        .args(["--no-log-file", "--base-url", &e.sim.url()])
        .args(["restore", &id.to_string(), "--yes", "--interval", "1h"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until the first progress poll was answered: the binary then sleeps.
    let mut seen = false;
    for _ in 0..400 {
        if e.sim
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/api/v1/progress/") && r.status == 200)
        {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if !seen {
        let _ = child.kill();
        panic!("restore never polled its progress");
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let mut code = None;
    for _ in 0..400 {
        if let Some(s) = child.try_wait().unwrap() {
            code = s.code();
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    if code.is_none() {
        let _ = child.kill();
        panic!("restore did not stop on SIGINT");
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(code, Some(130), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("continues in Canvas").count(),
        1,
        "said once: {}",
        stderr(&out)
    );
}
