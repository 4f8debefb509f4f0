//! submit and watch against the simulator: the request on the wire, exit codes per terminal
//! state, local refusals that send nothing, and the log file.

use crate::support::*;
use fake_canvas::{Scenario, zip_of};

#[test]
fn submit_sends_the_file_as_raw_body_with_options_in_the_query() {
    let w = World::new(Scenario::Ok);
    let zip = sample_zip();
    let out = w
        .cmd()
        .args(["submit"])
        .arg(&zip)
        .args([
            "--batch-mode",
            "--batch-mode-term-id",
            "sis_term_id:2026-FA",
            "--override-sis-stickiness",
            "--add-sis-stickiness",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let posts = w.posts();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p.path, "/api/v1/accounts/self/sis_imports");
    let q = p.query.clone().unwrap();
    assert_eq!(
        q,
        "import_type=instructure_csv&extension=zip&batch_mode=true&batch_mode_term_id=sis_term_id%3A2026-FA&override_sis_stickiness=true&add_sis_stickiness=true"
    );
    assert_eq!(
        p.header("authorization"),
        Some(format!("Bearer {}", w.sim.token()).as_str())
    );
    assert_eq!(p.header("content-type"), Some("application/zip"));
    let len = std::fs::metadata(&zip).unwrap().len();
    assert_eq!(p.header("content-length"), Some(len.to_string().as_str()));
    assert_eq!(p.body_len, len);
    assert_eq!(p.body_sha256, sha256(&zip));
    // stdout is the import id, nothing else.
    let id: u64 = stdout(&out).trim().parse().expect("stdout is the id");
    assert_eq!(w.sim.imports().last().unwrap()["id"].as_u64(), Some(id));
}

#[test]
fn csv_is_sent_as_text_csv_with_extension_csv() {
    let w = World::new(Scenario::Ok);
    let csv = sample_dir("bundle").join("users.csv");
    w.cmd().arg("submit").arg(&csv).assert().code(0);
    let p = &w.posts()[0];
    assert_eq!(
        p.query.as_deref(),
        Some("import_type=instructure_csv&extension=csv")
    );
    assert_eq!(p.header("content-type"), Some("text/csv"));
    assert_eq!(p.body_sha256, sha256(&csv));
}

#[test]
fn account_id_is_url_encoded() {
    let w = World::new(Scenario::Ok);
    w.cmd()
        .args(["--account-id", "sis_account_id:root", "submit"])
        .arg(sample_zip())
        .assert()
        .code(0);
    assert_eq!(
        w.posts()[0].path,
        "/api/v1/accounts/sis_account_id%3Aroot/sis_imports"
    );
}

fn watch_exit(scenario: Scenario, bundle: std::path::PathBuf) -> (i32, String) {
    let w = World::new(scenario);
    let out = w
        .cmd()
        .arg("submit")
        .arg(&bundle)
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(w.sim.created_count(), 1, "exactly one import");
    (out.status.code().unwrap(), w.log_text())
}

#[test]
fn imported_exits_0_and_logs_a_summary_with_counts() {
    let (code, log) = watch_exit(Scenario::Ok, sample_zip());
    assert_eq!(code, 0);
    let end = log
        .lines()
        .find(|l| l.contains(" ended imported "))
        .expect("summary line");
    assert!(
        end.contains("users=6") && end.contains("enrollments=7"),
        "{end}"
    );
    assert!(end.contains("0 warning(s), 0 error(s)"), "{end}");
}

#[test]
fn imported_with_messages_exits_1_and_logs_each_warning() {
    let (code, log) = watch_exit(Scenario::Ok, sample_dir("bundle-with-warnings"));
    assert_eq!(code, 1, "{log}");
    assert!(
        log.lines().any(|l| l.contains("WARN import ")
            && l.contains("users.csv: Improper status for user U1003")),
        "{log}"
    );
}

#[test]
fn warnings_scenario_exits_1() {
    assert_eq!(watch_exit(Scenario::Warnings, sample_zip()).0, 1);
}

#[test]
fn failed_with_messages_exits_3_and_logs_errors() {
    let (code, log) = watch_exit(Scenario::Failed, sample_zip());
    assert_eq!(code, 3);
    assert!(log.lines().any(|l| l.contains("ERROR import ")), "{log}");
}

#[test]
fn aborted_exits_3_although_ended_at_is_null() {
    let (code, log) = watch_exit(Scenario::Aborted, sample_zip());
    assert_eq!(code, 3);
    assert!(log.contains("ended aborted"), "{log}");
}

#[test]
fn max_polls_exits_4_and_says_how_to_resume() {
    let w = World::new(Scenario::Slow);
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--watch", "--interval", "1", "--max-polls", "3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let id = stdout(&out).trim().to_string();
    assert!(
        stderr(&out).contains(&format!("canvas-sis watch {id}")),
        "{}",
        stderr(&out)
    );
    let gets = w
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/sis_imports/{id}")))
        .count();
    assert_eq!(gets, 3, "exactly max-polls polls");
}

#[test]
fn watch_resumes_an_existing_import() {
    let w = World::new(Scenario::Ok);
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    let id = stdout(&out).trim().to_string();
    w.cmd()
        .args(["watch", &id, "--interval", "1", "--max-polls", "10"])
        .assert()
        .code(0);
    w.cmd()
        .args(["watch", "999999", "--interval", "1"])
        .assert()
        .code(5);
}

#[test]
fn interval_accepts_humantime_and_bare_seconds_and_rejects_nonsense() {
    let w = World::new(Scenario::Ok);
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    let id = stdout(&out).trim().to_string();
    w.cmd()
        .args(["watch", &id, "--interval", "1s"])
        .assert()
        .code(0);
    w.cmd()
        .args(["watch", &id, "--interval", "1.5"])
        .assert()
        .code(0);
    // Under a second has no floor to stand on: 60 GETs in under 3 s (exit 2, at parse time).
    for fast in ["0", "10ms", "0.5"] {
        let o = w
            .cmd()
            .args(["watch", &id, "--interval", fast])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{fast}: {}", stderr(&o));
        assert!(stderr(&o).contains("under 1s"), "{}", stderr(&o));
    }
    w.cmd()
        .args(["watch", &id, "--interval", "soon"])
        .assert()
        .code(2);
}

#[test]
fn status_prints_a_summary_or_json() {
    let w = World::new(Scenario::Ok);
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    let id = stdout(&out).trim().to_string();
    let s = w.cmd().args(["status", &id]).output().unwrap();
    assert_eq!(s.status.code(), Some(0));
    assert!(
        stdout(&s).starts_with(&format!("import {id}: ")),
        "{}",
        stdout(&s)
    );
    let j = w.cmd().args(["--json", "status", &id]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["id"].to_string(), id);
    // One GET each.
    let gets = w
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(gets, 2);
}

#[test]
fn dry_run_prints_the_request_and_sends_nothing() {
    let w = World::new(Scenario::Ok);
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--dry-run", "--skip-deletes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(s.starts_with(&format!(
        "POST {}/api/v1/accounts/self/sis_imports?import_type=instructure_csv&extension=zip&skip_deletes=true",
        w.sim.url()
    )), "{s}");
    assert!(s.contains("Authorization: Bearer [redacted]"));
    assert!(s.contains(&sha256(&sample_zip())));
    assert!(!s.contains(&w.sim.token()));
    assert!(w.sim.requests().is_empty(), "nothing sent");
    // A first dry run makes no state dir; where the log dir exists, a dry run is logged
    // (contract: dry runs are logged, but are not runs).
    assert!(!w.log_dir().exists(), "a dry run makes no log dir");
    std::fs::create_dir_all(w.log_dir()).unwrap();
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .arg("--dry-run")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = w.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("INFO dry run of ") && l.contains("nothing was sent")),
        "{log}"
    );
    assert!(w.sim.requests().is_empty(), "nothing sent");
}

#[test]
fn refused_inputs_send_nothing() {
    let w = World::new(Scenario::Ok);
    let empty = w.file("empty.csv", b"");
    let fake_zip = w.file("notzip.zip", b"user_id,login_id,status\n1,a,active\n");
    let zip_as_csv = w.file(
        "really.csv",
        &zip_of(&[("users.csv", b"user_id,login_id,status\n")]),
    );
    let txt = w.file("users.txt", b"user_id,login_id,status\n");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec!["missing.zip".into()], 66, "no such file"),
        (vec![empty.display().to_string()], 65, "empty"),
        (vec![fake_zip.display().to_string()], 65, "not a zip"),
        (
            vec![zip_as_csv.display().to_string()],
            65,
            "is a zip archive",
        ),
        (vec![txt.display().to_string()], 65, "only .csv and .zip"),
        (
            vec![
                fake_zip.display().to_string(),
                "--extension".into(),
                "csv".into(),
            ],
            0,
            "",
        ),
    ];
    for (args, code, needle) in cases {
        let out = w.cmd().arg("submit").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // Only the last case (forced csv of a real CSV) was sent.
    assert_eq!(w.posts().len(), 1);
    // `validate --extension` reads the same file as submit would send it.
    for (ext, code) in [("csv", 0), ("zip", 65)] {
        let out = w
            .cmd()
            .arg("validate")
            .arg(&fake_zip)
            .args(["--extension", ext])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{ext}: {}", stderr(&out));
    }
}

#[test]
fn refused_option_combinations_exit_2_and_send_nothing() {
    let w = World::new(Scenario::Ok);
    let z = sample_zip().display().to_string();
    let long = "x".repeat(129);
    let cases: Vec<Vec<&str>> = vec![
        vec!["--batch-mode"],
        vec!["--multi-term-batch-mode"],
        vec![
            "--override-sis-stickiness",
            "--add-sis-stickiness",
            "--clear-sis-stickiness",
        ],
        vec![
            "--batch-mode",
            "--batch-mode-term-id",
            "sis_term_id:2026-FA",
            "--multi-term-batch-mode",
            "--change-threshold",
            "10",
        ],
        vec![
            "--diffing-data-set-identifier",
            "f",
            "--diffing-drop-status",
            "gone",
        ],
        vec![
            "--diffing-data-set-identifier",
            "f",
            "--diffing-user-remove-status",
            "deleted_last_completed",
        ],
        vec![
            "--batch-mode",
            "--batch-mode-term-id",
            "5",
            "--batch-mode-enrollment-drop-status",
            "bogus",
        ],
        vec!["--diffing-data-set-identifier", &long],
        vec![
            "--batch-mode",
            "--batch-mode-term-id",
            "5",
            "--diffing-data-set-identifier",
            "f",
        ],
        vec!["--add-sis-stickiness"],
        vec![
            "--change-threshold",
            "101",
            "--batch-mode",
            "--batch-mode-term-id",
            "5",
        ],
    ];
    for extra in cases {
        let out = w.cmd().args(["submit", &z]).args(&extra).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("hint:"),
            "{extra:?}: {}",
            stderr(&out)
        );
    }
    // IMS XML with instructure_csv named: Canvas would import nothing (65).
    let xml = w.file("ims.xml", b"<?xml version=\"1.0\"?><enterprise/>");
    w.cmd()
        .arg("submit")
        .arg(&xml)
        .args(["--import-type", "instructure_csv"])
        .assert()
        .code(65);
    assert!(w.sim.requests().is_empty(), "nothing sent");
}

#[test]
fn a_directory_is_zipped_on_the_fly() {
    let w = World::new(Scenario::Ok);
    w.cmd()
        .arg("submit")
        .arg(sample_dir("bundle"))
        .args(["--watch", "--interval", "1"])
        .assert()
        .code(0);
    let p = &w.posts()[0];
    assert_eq!(p.header("content-type"), Some("application/zip"));
    let imp = w.sim.imports().pop().unwrap();
    assert_eq!(imp["data"]["counts"]["users"].as_u64(), Some(6), "{imp}");
}

#[test]
fn canvas_errors_map_to_exit_codes() {
    let w = World::new(Scenario::Ok);
    let z = sample_zip();
    // Bad token → 77.
    let out = w
        .cmd()
        .env("CANVAS_ACCESS_TOKEN", "wrong")
        .arg("submit")
        .arg(&z)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(stderr(&out).contains("Invalid access token"));
    // Unknown account → 5; sub-account → 2 with Canvas's text.
    w.cmd()
        .args(["--account-id", "9999", "submit"])
        .arg(&z)
        .assert()
        .code(5);
    let out = w
        .cmd()
        .args(["--account-id", "2", "submit"])
        .arg(&z)
        .output()
        .unwrap();
    assert!(stderr(&out).contains("root accounts"), "{}", stderr(&out));
    // Unknown term in batch mode → 404 → 5.
    w.cmd()
        .arg("submit")
        .arg(&z)
        .args(["--batch-mode", "--batch-mode-term-id", "sis_term_id:nope"])
        .assert()
        .code(5);
    // Unknown import type → 500, not retried.
    let before = w.posts().len();
    let out = w
        .cmd()
        .arg("submit")
        .arg(&z)
        .args(["--import-type", "no_such_type"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    assert!(stderr(&out).contains("import_type"), "{}", stderr(&out));
    assert_eq!(
        w.posts().len(),
        before + 1,
        "a 500 on create is not retried"
    );
}

#[test]
fn log_lines_are_syslog_style() {
    let (_, log) = watch_exit(Scenario::Ok, sample_zip());
    let re_ok = |l: &str| {
        // Nov 24 06:25:04 HOST canvas-sis[PID]: LEVEL message
        let parts: Vec<&str> = l.splitn(5, ' ').collect();
        let month_ok = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .contains(&&l[..3]);
        let rest = &l[16..];
        month_ok
            && l.as_bytes()[3] == b' '
            && l[7..15].chars().filter(|c| *c == ':').count() == 2
            && parts.len() == 5
            && rest
                .split_once(' ')
                .is_some_and(|(_, r)| r.starts_with("canvas-sis["))
    };
    assert!(!log.is_empty());
    for l in log.lines() {
        assert!(re_ok(l), "not syslog style: {l:?}");
        assert!(
            l.contains("]: INFO ")
                || l.contains("]: WARN ")
                || l.contains("]: ERROR ")
                || l.contains("]: DEBUG "),
            "{l}"
        );
    }
    assert!(log.contains(": importing"), "each poll is logged: {log}");
}

#[test]
fn json_log_format_writes_one_object_per_line() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("canvas_sis.toml", b"[log]\nformat = \"json\"\n");
    w.cmd()
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(["--watch", "--interval", "1"])
        .assert()
        .code(0);
    let log = w.log_text();
    assert!(!log.is_empty());
    for l in log.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect(l);
        assert!(
            v["message"].is_string() && v["level"].is_string() && v["pid"].is_u64(),
            "{l}"
        );
    }
}

#[test]
fn the_token_never_appears_in_output_or_logs() {
    let w = World::new(Scenario::Warnings);
    let out = w
        .cmd()
        .args(["-vvv", "submit"])
        .arg(sample_zip())
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let tok = w.sim.token();
    assert!(!stdout(&out).contains(&tok));
    assert!(!stderr(&out).contains(&tok), "token in stderr");
    assert!(!w.log_text().contains(&tok), "token in the log");
    let show = w.cmd().args(["config", "show"]).output().unwrap();
    assert!(!stdout(&show).contains(&tok));
    assert!(
        stdout(&show).contains("set (from env CANVAS_ACCESS_TOKEN)"),
        "{}",
        stdout(&show)
    );
}

#[test]
fn validation_errors_stop_the_upload_with_65_and_name_file_and_line() {
    let w = World::new(Scenario::Ok);
    let bad = w.file(
        "users.csv",
        b"user_id,login_id,status\nU1,u1,active\nU2,\"u2,active\n",
    );
    let out = w.cmd().arg("submit").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("error: {}:3: Malformed CSV", bad.display())),
        "{err}"
    );
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(w.sim.requests().is_empty());
    // --no-validate sends it anyway (Canvas will call it Malformed CSV).
    w.cmd()
        .arg("submit")
        .arg(&bad)
        .arg("--no-validate")
        .assert()
        .code(0);
    assert_eq!(w.posts().len(), 1);
}

#[test]
fn validation_warnings_are_shown_and_block_only_with_strict() {
    let w = World::new(Scenario::Ok);
    let dir = sample_dir("bundle-with-warnings");
    let out = w.cmd().arg("submit").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        // The level is said once: `warning: FILE:LINE: message`.
        stderr(&out).lines().any(|l| l.starts_with("warning: ")
            && l.contains("users.csv:4: Improper status for user U1003")
            && !l.contains(": warning:")),
        "{}",
        stderr(&out)
    );
    let out = w
        .cmd()
        .arg("submit")
        .arg(&dir)
        .arg("--strict")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert_eq!(w.posts().len(), 1, "--strict sent nothing");
    // The dry run shows the validation summary.
    let out = w
        .cmd()
        .arg("submit")
        .arg(&dir)
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(stdout(&out).contains("validation: "), "{}", stdout(&out));
}

#[test]
fn an_empty_directory_is_refused_by_validate_and_submit() {
    let w = World::new(Scenario::Ok);
    let d = w.home.path().join("export");
    std::fs::create_dir_all(&d).unwrap();
    let out = w.cmd().arg("validate").arg(&d).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds no .csv files"),
        "{}",
        stderr(&out)
    );
    let out = w.cmd().arg("submit").arg(&d).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(w.sim.requests().is_empty());
}

/// The README's "simplest nightly line", read out of README.md and run as cron runs it
/// (`sh -c`, a bare environment, no terminal): a clean night prints nothing, so cron mails
/// nothing. Only the bundle path and the poll interval are swapped for the test's.
/// A crontab line that sets the environment (`PATH=/usr/local/bin:/usr/bin:/bin`).
fn is_cron_env(line: &str) -> bool {
    line.split_once('=').is_some_and(|(k, _)| {
        !k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
    })
}

#[test]
fn the_readme_cron_line_is_silent_on_a_clean_night() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let block = readme
        .split("```cron")
        .nth(1)
        .expect("README has a ```cron block")
        .split("```")
        .next()
        .unwrap();
    let line = block
        .lines()
        .map(str::trim)
        // Skip comments and crontab environment lines (`PATH=…`).
        .find(|l| !l.is_empty() && !l.starts_with('#') && !is_cron_env(l))
        .expect("the cron block has an entry");
    let words = cron_words(line);
    assert_eq!(words.first(), Some(&"canvas-sis"), "{line}");
    let zip = sample_zip();
    let mut command = Vec::new();
    let mut prev = "";
    for w in &words {
        command.push(match prev {
            "submit" => zip.to_str().unwrap(),
            "--interval" => "1",
            _ => w,
        });
        prev = w;
    }
    let command = command.join(" ");

    let w = World::new(Scenario::Ok);
    let out = cron_sh(&w, &command);
    assert_eq!(out.status.code(), Some(0), "{command}\n{}", stderr(&out));
    assert_eq!(w.sim.created_count(), 1, "the line submitted the bundle");
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "cron would mail this: {command}\nstdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    // The import id is still on record, in the log.
    assert!(
        w.log_text().contains("import 101 created"),
        "{}",
        w.log_text()
    );
}

/// A failure's hint joins the log line cleanly: `message; hint: …`, one line.
#[test]
fn a_hint_in_the_log_line_follows_a_semicolon() {
    let w = World::new(Scenario::Ok);
    let bad = w.file("export/users.csv", b"user_id,login_id,status\nu1,,active\n");
    let out = w
        .cmd()
        .arg("submit")
        .arg(&bad)
        .arg("--strict")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let log = w.log_text();
    let line = log
        .lines()
        .find(|l| l.contains("ERROR validation of "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        line.contains("nothing was sent; hint: --strict makes warnings block"),
        "{line}"
    );
    assert!(!line.contains(" | "), "{line}");
    // stderr keeps the hint on a line of its own.
    assert!(
        stderr(&out).contains("\n  hint: --strict makes warnings block"),
        "{}",
        stderr(&out)
    );
}

/// stderr on a terminal gets colour, unless TERM=dumb (or NO_COLOR).
#[cfg(target_os = "linux")]
#[test]
fn term_dumb_gets_no_colour() {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let w = World::new(Scenario::Ok);
    let run = |term: &str| -> String {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty(3) fills in two new descriptors that we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        // SAFETY: both are open descriptors owned by nobody else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut child = w
            .std_cmd()
            .env("TERM", term)
            .args(["status", "999999"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(slave))
            .spawn()
            .unwrap();
        let mut done = false;
        for _ in 0..1500 {
            if child.try_wait().unwrap().is_some() {
                done = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        if !done {
            let _ = child.kill();
            panic!("status did not end");
        }
        assert_eq!(child.wait().unwrap().code(), Some(5));
        // The child is gone and our slave end was moved into it: reading ends with EIO.
        let mut text = Vec::new();
        let mut f = std::fs::File::from(master);
        let mut buf = [0u8; 4096];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => text.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&text).to_string()
    };
    let xterm = run("xterm-256color");
    assert!(xterm.contains("does not exist"), "{xterm:?}");
    assert!(xterm.contains('\x1b'), "colour on a terminal: {xterm:?}");
    let dumb = run("dumb");
    assert!(dumb.contains("does not exist"), "{dumb:?}");
    assert!(!dumb.contains('\x1b'), "no colour for TERM=dumb: {dumb:?}");
}

/// Audit f, finding 2 (§6.2): a 0-byte CSV beside valid files is skipped by Canvas, which
/// imports the rest: submit warns and sends the bundle.
#[test]
fn an_empty_csv_in_the_zip_is_a_warning_and_the_bundle_goes() {
    let w = World::new(Scenario::Ok);
    let z = w.file(
        "emptyentry.zip",
        &zip_of(&[
            ("users.csv", b"user_id,login_id,status\nu1,l1,active\n"),
            ("empty.csv", b""),
        ]),
    );
    let out = w.cmd().arg("submit").arg(&z).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).lines().any(|l| l
            == format!(
                "warning: {}:empty.csv: empty file (0 bytes); Canvas ignores it and imports the other files (remove it, or check the export that wrote it)",
                z.display()
            )),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.posts().len(), 1);
}

/// Audit f, finding 1: past the diagnostics cap, the file's one error is still listed
/// above submit's "fix the errors above".
#[test]
fn submit_lists_the_error_past_the_warnings_cap() {
    let w = World::new(Scenario::Ok);
    let mut csv = String::from("user_id,login_id,status,first_name\n");
    for i in 0..250 {
        csv.push_str(&format!("u{i},,active,x\n"));
    }
    csv.push_str("u999,l,active,\"unterminated\n");
    let p = w.file("capped.csv", csv.as_bytes());
    let out = w.cmd().arg("submit").arg(&p).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.lines().any(|l| l
            == format!(
                "error: {}:252: Malformed CSV: unclosed quoted field (a quote opened here is never closed) (Canvas skips the whole file)",
                p.display()
            )),
        "{err}"
    );
    assert!(w.sim.requests().is_empty());
}

/// A UTF-8 export with one stray NUL in a field is what Canvas imports with a warning, and
/// `validate` says so at its line: `submit` sends it (it refused it as "UTF-16 or binary"
/// with no line, while `validate` passed it). A UTF-16 file is still refused.
#[test]
fn a_stray_nul_in_a_csv_is_a_warning_for_validate_and_submit_alike() {
    let w = World::new(Scenario::Ok);
    let csv = w.file(
        "users.csv",
        b"user_id,login_id,first_name,last_name,email,status\nU1,l\0one,A,B,a@example.edu,active\n",
    );
    let v = w.cmd().arg("validate").arg(&csv).output().unwrap();
    assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
    assert!(
        stdout(&v).contains("users.csv:2: warning: Some of the fields contain NULL character"),
        "{}",
        stdout(&v)
    );
    let s = w.cmd().arg("submit").arg(&csv).output().unwrap();
    assert_eq!(s.status.code(), Some(0), "{}", stderr(&s));
    assert_eq!(w.sim.created_count(), 1);

    let mut utf16 = vec![0xFF, 0xFE];
    for b in "user_id,login_id,status\nU1,l1,active\n".bytes() {
        utf16.extend([b, 0]);
    }
    let wide = w.file("wide.csv", &utf16);
    let s = w.cmd().arg("submit").arg(&wide).output().unwrap();
    assert_eq!(s.status.code(), Some(65), "{}", stderr(&s));
    assert_eq!(w.sim.created_count(), 1, "nothing more was sent");
}
