//! `errors` against the simulator: every row of every page, in three formats, and the
//! errors_attachment download.

use fake_canvas::{Config, Scenario};

use crate::support::*;

/// A finished import with 230 generated warning rows (and whatever the sample itself gives).
fn with_230_rows() -> (World, u64, usize) {
    let e = World::with(Config {
        extra_warnings: 230,
        polls_to_finish: 1,
        ..Default::default()
    });
    let id = e.submit_sample();
    let out = e
        .quiet_cmd()
        .args([
            "watch",
            &id.to_string(),
            "--interval",
            "1",
            "--max-polls",
            "20",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let imp = e.sim.imports().into_iter().find(|v| v["id"] == id).unwrap();
    let counts = &imp["data"]["counts"];
    let total = (counts["warning_count"].as_u64().unwrap()
        + counts["error_count"].as_u64().unwrap()) as usize;
    assert!(total >= 230, "{counts}");
    (e, id, total)
}

#[test]
fn all_rows_in_lines_json_and_csv() {
    let (e, id, total) = with_230_rows();
    // The watch that ended it archived every row already (3 pages: errors.csv of the run).
    let before = e.api_requests("GET", "/errors").len();
    assert_eq!(before, 3);

    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), total);
    assert!(
        lines.contains(&"users.csv:231: Improper status for user extra-230"),
        "{}",
        &text[..text.len().min(500)]
    );
    // 230+ rows at 100 a page: 3 pages, each from rel="next".
    let reqs = e.api_requests("GET", &format!("/sis_imports/{id}/errors"));
    let queries: Vec<String> = reqs[before..]
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        ["per_page=100", "page=2&per_page=100", "page=3&per_page=100"]
    );

    let out = e
        .quiet_cmd()
        .args(["--json", "errors", &id.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = json(&out);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), total);
    assert!(rows.iter().all(|r| r["sis_import_id"] == id));
    assert!(
        rows.iter()
            .all(|r| r.get("message").is_some() && r.get("row").is_some())
    );

    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string(), "--csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    assert_eq!(
        rdr.headers().unwrap().iter().collect::<Vec<_>>(),
        ["sis_import_id", "file", "message", "row"]
    );
    let recs: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), total);
    assert!(recs.iter().all(|r| r[0] == id.to_string()));
}

#[test]
fn failed_only_sends_failure_true() {
    let e = World::seeded(6);
    let id = e.first_in("failed_with_messages");
    let out = e
        .quiet_cmd()
        .args(["--json", "errors", &id.to_string(), "--failed-only"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
    let q = e.api_requests("GET", "/errors")[0].query.clone().unwrap();
    assert!(q.split('&').any(|p| p == "failure=true"), "{q}");

    // A warning-only import has no failures.
    let id = e.first_in("imported_with_messages");
    let out = e
        .quiet_cmd()
        .args(["--json", "errors", &id.to_string(), "--failed-only"])
        .output()
        .unwrap();
    assert_eq!(json(&out), serde_json::json!([]));
}

/// --failed-only on an import with only warnings says so, with their count, rather than
/// "no errors or warnings".
#[test]
fn failed_only_without_failures_counts_the_warnings() {
    let (e, id, total) = with_230_rows();
    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string(), "--failed-only"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(
        err.contains(&format!("import {id} has no failures ({total} warnings")),
        "{err}"
    );
    assert!(!err.contains("no errors or warnings"), "{err}");
}

#[test]
fn account_wide_errors_without_id() {
    let e = World::seeded(12);
    let out = e.quiet_cmd().args(["errors"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // 12 seeded: 2 with a warning, 2 with an error, 2 aborted with a warning.
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(text.lines().all(|l| l.starts_with("import ")), "{text}");
    assert_eq!(e.api_requests("GET", "/sis_import_errors").len(), 1);
}

#[test]
fn unknown_import_is_exit_5() {
    let e = World::seeded(1);
    let out = e.quiet_cmd().args(["errors", "999999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(
        stderr(&out).contains("import 999999 does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn attachment_download_sends_no_token_to_the_files_host() {
    let e = World::seeded(6);
    let id = e.first_in("imported_with_messages");
    let dest = e.home.path().join("out").join("errors.csv");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = e
        .quiet_cmd()
        .args(["-vv", "errors", &id.to_string(), "--attachment"])
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // The download's signed query is a credential for the file: even -vv never shows it.
    assert!(stderr(&out).contains("(download)"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("verifier="), "{}", stderr(&out));
    let body = std::fs::read_to_string(&dest).unwrap();
    let mut lines = body.lines();
    assert_eq!(lines.next(), Some("sis_import_id,file,message,row"));
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with(&format!("{id},users.csv,"))
    );
    // Nothing left behind but the file itself.
    let left: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);

    let files: Vec<_> = e
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.listener == "files")
        .collect();
    assert_eq!(files.len(), 1, "one download from the files host");
    assert_eq!(files[0].status, 200);
    assert!(
        files[0].header("authorization").is_none(),
        "the token went to another host"
    );
    // The API host did get it (the show).
    let show = e.api_requests("GET", &format!("/sis_imports/{id}"));
    assert!(show[0].header("authorization").is_some());
}

/// No errors_attachment is not an error: exit 0, and the notice says why (no errors, or
/// not finished yet).
#[test]
fn attachment_missing_exits_0_and_says_why() {
    let e = World::seeded(6);
    let id = e.first_in("imported");
    let dest = e.home.path().join("errors.csv");
    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string(), "--attachment"])
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("import {id} had no errors or warnings")),
        "{}",
        stderr(&out)
    );
    assert!(!dest.exists());

    let e = World::with(Config {
        scenario: Scenario::StuckCreated,
        ..Default::default()
    });
    let id = e.submit_sample();
    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string(), "--attachment"])
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("import {id} has not finished (created)")),
        "{}",
        stderr(&out)
    );
    assert!(!dest.exists());
}

/// `canvas-sis errors ID --attachment PATH` run with a given umask, as a user would.
#[cfg(unix)]
fn attachment_with_umask(
    e: &World,
    id: u64,
    umask: u32,
    dest: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("canvas-sis"));
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", e.home.path())
        .env("XDG_STATE_HOME", e.home.path().join("state"))
        .env("XDG_CONFIG_HOME", e.home.path().join("config"))
        .env("CANVAS_ACCESS_TOKEN", e.sim.token())
        .current_dir(e.home.path())
        .args(["--no-log-file", "--base-url", &e.sim.url()])
        .args(["errors", &id.to_string(), "--attachment"])
        .arg(dest)
        .args(extra)
        .stdin(std::process::Stdio::null());
    with_umask(&mut c, umask);
    assert_cmd::Command::from_std(c)
        .timeout(RUN_LIMIT)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A new file gets the mode the umask gives; an existing one is refused (exit 2, untouched)
/// unless --force, which keeps its mode.
#[cfg(unix)]
#[test]
fn attachment_never_clobbers_and_keeps_modes() {
    use std::os::unix::fs::PermissionsExt;
    let e = World::seeded(6);
    let id = e.first_in("imported_with_messages");
    let dest = e.home.path().join("errors.csv");
    let out = attachment_with_umask(&e, id, 0o027, &dest, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(mode(&dest), 0o640, "0666 less the umask");
    let body = std::fs::read(&dest).unwrap();

    std::fs::write(&dest, "mine\n").unwrap();
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = attachment_with_umask(&e, id, 0o077, &dest, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(dest.to_str().unwrap()) && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        "mine\n",
        "untouched"
    );

    let out = attachment_with_umask(&e, id, 0o077, &dest, &["--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read(&dest).unwrap(), body, "overwritten");
    assert_eq!(mode(&dest), 0o644, "its mode kept");
    let left: Vec<_> = std::fs::read_dir(e.home.path())
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("download"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `-` is stdout; a directory that does not exist is exit 74 naming the path given.
#[test]
fn attachment_to_stdout_and_to_a_missing_directory() {
    let e = World::seeded(6);
    let id = e.first_in("imported_with_messages");
    let out = e
        .quiet_cmd()
        .args(["errors", &id.to_string(), "--attachment", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("sis_import_id,file,message,row\n"),
        "{}",
        stdout(&out)
    );
    assert!(!e.home.path().join("-").exists(), "no file named -");

    let out = e
        .quiet_cmd()
        .args([
            "errors",
            &id.to_string(),
            "--attachment",
            "no/such/dir/errors.csv",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot write no/such/dir/errors.csv"), "{err}");
    assert!(!err.contains(".canvas-sis-download"), "{err}");
}

#[test]
fn csv_and_json_together_are_refused() {
    let e = World::seeded(1);
    let out = e
        .quiet_cmd()
        .args(["--json", "errors", "1", "--csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(e.sim.requests().is_empty());
}

/// `--group`: 230 generated warnings of one template read as one group, with its count, an
/// example row, and Canvas's cause and fix.
#[test]
fn group_folds_rows_by_template_with_cause_and_fix() {
    let (e, id, total) = with_230_rows();
    let out = e
        .cmd()
        .args(["--json", "errors", &id.to_string(), "--group"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups = doc["groups"].as_array().unwrap();
    let sum: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(sum as usize, total, "{doc}");
    assert!(groups.len() < 10, "230 rows fold into a few groups: {doc}");
    let biggest = &groups[0];
    assert!(biggest["count"].as_u64().unwrap() >= 230, "{doc}");
    assert!(
        !biggest["template"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| c.is_ascii_digit()),
        "{doc}"
    );
    assert!(biggest["example"]["message"].is_string(), "{doc}");
    let out = e
        .cmd()
        .args(["errors", &id.to_string(), "--group"])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("e.g. "), "{text}");
}
