//! `--json` prints exactly one JSON document on stdout on every exit (issue 16 §2): the
//! command's result at 0, 1, 3 and 4, else `{"error": {"exit_code", "kind", "message",
//! "hint"}}` plus any partial result. Each table below runs the real binary, every command it
//! applies to, against the simulator on loopback; the last tests keep the kinds in
//! `exit::KINDS`, the README and the source in step.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::support::*;
use canvas_sis::exit::KINDS;
use fake_canvas::{Config, Scenario};
use serde_json::Value;

/// The one JSON document on stdout (fails on an empty stdout, on text that is not JSON, and
/// on a second document).
fn one_document(o: &Output, what: &str) -> Value {
    let mut docs = serde_json::Deserializer::from_slice(&o.stdout).into_iter::<Value>();
    let doc = match docs.next() {
        Some(Ok(v)) => v,
        Some(Err(e)) => panic!("{what}: stdout is not JSON ({e}): {}", stdout(o)),
        None => panic!(
            "{what}: empty stdout (exit {:?}); stderr: {}",
            o.status.code(),
            stderr(o)
        ),
    };
    assert!(
        docs.next().is_none(),
        "{what}: more than one document on stdout: {}",
        stdout(o)
    );
    doc
}

/// The error document of exit `code` and cause `kind`; returns the whole document.
fn expect_error(o: &Output, what: &str, code: i32, kind: &str) -> Value {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    let doc = one_document(o, what);
    let err = doc["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no error object: {doc}"));
    let mut keys: Vec<&str> = err.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["exit_code", "hint", "kind", "message"],
        "{what}: {doc}"
    );
    assert_eq!(err["exit_code"], code, "{what}: {doc}");
    assert_eq!(err["kind"], kind, "{what}: {doc}");
    assert!(
        err["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {doc}"
    );
    assert!(
        err["hint"].is_null() || err["hint"].as_str().is_some_and(|h| !h.is_empty()),
        "{what}: {doc}"
    );
    assert!(
        KINDS
            .iter()
            .any(|(k, c, _)| *k == kind && i32::from(*c) == code),
        "{what}: ({kind}, {code}) is not in exit::KINDS"
    );
    // Human text still goes to stderr.
    assert!(!stderr(o).trim().is_empty(), "{what}: nothing on stderr");
    doc
}

/// A result document (no `error` key) at exit `code`.
fn expect_result(o: &Output, what: &str, code: i32) -> Value {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: stdout {} stderr {}",
        stdout(o),
        stderr(o)
    );
    let doc = one_document(o, what);
    assert!(doc.get("error").is_none(), "{what}: {doc}");
    doc
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Every command that talks to Canvas, with arguments that would otherwise succeed or get
/// as far as Canvas (import 1, the sample bundle).
fn network_commands() -> Vec<Vec<String>> {
    let z = sample_zip().display().to_string();
    vec![
        owned(&["status", "1"]),
        owned(&["watch", "1", "--interval", "1", "--max-polls", "1"]),
        owned(&["list"]),
        owned(&["importing"]),
        owned(&["abort", "1", "--yes"]),
        owned(&["abort-all-pending", "--yes"]),
        owned(&[
            "restore",
            "1",
            "--yes",
            "--interval",
            "1",
            "--max-polls",
            "1",
        ]),
        owned(&["errors", "1"]),
        owned(&["errors"]),
        owned(&["config", "check"]),
        owned(&["submit", &z]),
        owned(&[
            "submit",
            &z,
            "--watch",
            "--interval",
            "1",
            "--max-polls",
            "1",
        ]),
    ]
}

/// The commands that need no Canvas.
fn local_commands() -> Vec<Vec<String>> {
    let z = sample_zip().display().to_string();
    vec![
        owned(&["validate", &z]),
        owned(&["config", "show"]),
        owned(&["submit", &z, "--dry-run"]),
        owned(&["completions", "bash"]),
        owned(&["man"]),
        owned(&["demo"]),
    ]
}

fn run(mut c: assert_cmd::Command, args: &[String]) -> Output {
    c.arg("--json").args(args).output().unwrap()
}

fn world(scenario: Scenario, fault_count: u32, seed_imports: usize) -> World {
    World::with(Config {
        scenario,
        fault_count,
        seed_imports,
        polls_to_finish: 2,
        hang_for: Duration::from_secs(30),
        ..Default::default()
    })
}

/// The id of the first simulated import in `state`.
fn import_in(w: &World, state: &str) -> String {
    w.sim
        .imports()
        .into_iter()
        .find(|v| v["workflow_state"] == state)
        .unwrap_or_else(|| panic!("no {state} import"))["id"]
        .to_string()
}

// ---- exit 2 ------------------------------------------------------------------------------

#[test]
fn usage_errors_print_the_error_document() {
    let home = tempfile::tempdir().unwrap();
    // clap's own errors, for every command: an unknown flag.
    for mut args in network_commands().into_iter().chain(local_commands()) {
        args.push("--no-such-flag".into());
        let o = run(bare_cmd(home.path()), &args);
        let doc = expect_error(&o, &args.join(" "), 2, "usage");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains("--no-such-flag"),
            "{doc}"
        );
        // clap's text stays on stderr as without --json.
        assert!(stderr(&o).contains("Usage:"), "{}", stderr(&o));
    }
    // clap: missing and malformed arguments, a missing command, a bad value.
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["frobnicate"],
        vec!["status"],
        vec!["status", "abc"],
        vec!["config"],
        vec!["completions", "tcsh-ish"],
        vec!["--color", "sometimes", "list"],
        vec!["errors", "1", "--csv"],
        vec!["watch"],
        vec!["validate"],
    ];
    for args in cases {
        let o = run(bare_cmd(home.path()), &owned(&args));
        expect_error(&o, &format!("{args:?}"), 2, "usage");
    }
    // `--json` placed after the command, too.
    let o = bare_cmd(home.path())
        .args(["list", "--bogus", "--json"])
        .output()
        .unwrap();
    expect_error(&o, "list --bogus --json", 2, "usage");
    // Without --json, stdout stays empty.
    let o = bare_cmd(home.path()).args(["frobnicate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    // --help and --version print as they always did.
    let o = bare_cmd(home.path())
        .args(["--json", "--version"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("canvas-sis "), "{}", stdout(&o));
}

#[test]
fn our_own_usage_checks_print_the_error_document() {
    let w = world(Scenario::Ok, 0, 0);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["list", "--limit", "0"], "usage"),
        (vec!["watch", "1", "--max-polls", "0"], "usage"),
        (
            vec!["restore", "1", "--undelete-only", "--unconclude-only"],
            "usage",
        ),
        (vec!["submit", "x.zip", "--interval", "soon"], "usage"),
        (vec!["abort", "1"], "confirmation_needed"),
        (vec!["abort-all-pending"], "confirmation_needed"),
        (
            vec!["--account-id", "2", "config", "check"],
            "not_root_account",
        ),
    ];
    for (args, kind) in cases {
        let mut c = w.cmd();
        c.write_stdin("");
        let o = run(c, &owned(&args));
        expect_error(&o, &args.join(" "), 2, kind);
    }
    // Canvas refusing the request (400 on a sub-account).
    let z = sample_zip().display().to_string();
    let o = run(w.cmd(), &owned(&["--account-id", "2", "submit", &z]));
    expect_error(&o, "submit to a sub-account", 2, "canvas_rejected");
}

// ---- exit 78 -----------------------------------------------------------------------------

#[test]
fn configuration_errors_print_the_error_document_before_logging_starts() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let bad = h.join("bad.toml");
    std::fs::write(&bad, "base_url = [unclosed\n").unwrap();
    let good = h.join("good.toml");
    std::fs::write(&good, "base_url = \"https://canvas.example.edu\"\n").unwrap();
    let missing = h.join("missing.toml");
    let all = || {
        network_commands()
            .into_iter()
            .chain(local_commands().into_iter().filter(|a| {
                // completions and man read no settings.
                a[0] != "completions" && a[0] != "man"
            }))
    };
    for args in all() {
        let what = args.join(" ");
        let mut c = bare_cmd(h);
        c.arg("-c").arg(&bad);
        expect_error(&run(c, &args), &what, 78, "config_invalid_file");
        let mut c = bare_cmd(h);
        c.arg("-c").arg(&missing);
        expect_error(&run(c, &args), &what, 78, "config_invalid_file");
        let mut c = bare_cmd(h);
        c.arg("-c").arg(&good).args(["--profile", "nope"]);
        expect_error(&run(c, &args), &what, 78, "profile_missing");
        let mut c = bare_cmd(h);
        c.args(["--token-file", "no-such-token-file"]);
        expect_error(&run(c, &args), &what, 78, "token_file_unreadable");
    }
    for args in network_commands() {
        let what = args.join(" ");
        expect_error(&run(bare_cmd(h), &args), &what, 78, "config_missing_url");
        let mut c = bare_cmd(h);
        c.env("CANVAS_BASE_URL", "https://canvas.example.edu");
        expect_error(&run(c, &args), &what, 78, "config_missing_token");
        let mut c = bare_cmd(h);
        c.env("CANVAS_BASE_URL", "http://canvas.example.edu")
            .env("CANVAS_ACCESS_TOKEN", "t");
        expect_error(&run(c, &args), &what, 78, "http_refused");
        let mut c = bare_cmd(h);
        c.env("CANVAS_BASE_URL", "ftp://canvas.example.edu")
            .env("CANVAS_ACCESS_TOKEN", "t");
        expect_error(&run(c, &args), &what, 78, "config_invalid_url");
        let mut c = bare_cmd(h);
        c.env("CANVAS_BASE_URL", "https://canvas.example.edu")
            .env("CANVAS_ACCESS_TOKEN", "t")
            .args(["--ca-cert", "no-such-ca.pem"]);
        expect_error(&run(c, &args), &what, 78, "ca_cert_invalid");
    }
    // A log directory that cannot be made, and a state directory that is a file.
    let mut c = bare_cmd(h);
    c.env("CANVAS_BASE_URL", "https://canvas.example.edu")
        .env("CANVAS_ACCESS_TOKEN", "t")
        .args(["--log-dir", "/dev/null/logs"]);
    expect_error(&run(c, &owned(&["status", "1"])), "log dir", 78, "log_dir");
    let not_a_dir = h.join("state-file");
    std::fs::write(&not_a_dir, "").unwrap();
    let w = world(Scenario::Ok, 0, 0);
    let mut c = w.cmd();
    c.env("XDG_STATE_HOME", &not_a_dir).arg("--no-log-file");
    let z = sample_zip().display().to_string();
    expect_error(
        &run(c, &owned(&["submit", &z])),
        "state dir",
        78,
        "state_dir",
    );
    assert!(w.posts().is_empty());
}

// ---- exits 5, 74, 77 ---------------------------------------------------------------------

#[test]
fn canvas_refusals_print_the_error_document() {
    let w = world(Scenario::Ok, 0, 6);
    for args in network_commands() {
        let what = args.join(" ");
        let mut c = w.cmd();
        c.env("CANVAS_ACCESS_TOKEN", "not-the-token");
        expect_error(&run(c, &args), &what, 77, "unauthorized");
        let mut c = w.cmd();
        c.args(["--account-id", "999"]);
        expect_error(&run(c, &args), &what, 5, "not_found");
    }
    // SIS imports disabled: a JSON 403.
    let o = run(w.cmd(), &owned(&["--account-id", "3", "list"]));
    expect_error(&o, "list on an account without SIS", 77, "forbidden");
    // An import that does not exist, for every command that names one.
    for args in [
        vec!["status", "99999"],
        vec!["watch", "99999", "--interval", "1"],
        vec!["abort", "99999", "--yes"],
        vec!["restore", "99999", "--yes", "--interval", "1"],
        vec!["errors", "99999"],
    ] {
        let o = run(w.cmd(), &owned(&args));
        expect_error(&o, &args.join(" "), 5, "not_found");
    }
    // abort of an import that ended: the import beside the error.
    let done = import_in(&w, "imported");
    let o = run(w.cmd(), &owned(&["abort", &done, "--yes"]));
    let doc = expect_error(&o, "abort a finished import", 5, "already_ended");
    assert_eq!(doc["id"].to_string(), done, "{doc}");
    assert_eq!(doc["workflow_state"], "imported", "{doc}");
    // errors --attachment: none (exit 0, with the reason), or a destination that cannot be
    // written (74).
    let dest = w.home.path().join("errors.csv").display().to_string();
    let o = run(w.cmd(), &owned(&["errors", &done, "--attachment", &dest]));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert!(doc["path"].is_null(), "{doc}");
    assert!(
        doc["note"]
            .as_str()
            .unwrap()
            .contains("no errors_attachment"),
        "{doc}"
    );
    let warned = import_in(&w, "imported_with_messages");
    let o = run(
        w.cmd(),
        &owned(&["errors", &warned, "--attachment", "/dev/null/errors.csv"]),
    );
    expect_error(&o, "attachment unwritable", 74, "output_failed");
    // watch --last with an empty journal and nothing running.
    let o = run(w.cmd(), &owned(&["watch", "--last", "--interval", "1"]));
    expect_error(&o, "watch --last", 66, "nothing_to_watch");
}

// ---- exit 69 -----------------------------------------------------------------------------

#[test]
fn unreachable_or_failing_canvas_prints_the_error_document() {
    let (_held, port) = refusing_port();
    let home = tempfile::tempdir().unwrap();
    let flaky = world(Scenario::Flaky5xx, 100_000, 0);
    for args in network_commands() {
        let what = args.join(" ");
        let mut c = bare_cmd(home.path());
        c.env("CANVAS_BASE_URL", format!("http://127.0.0.1:{port}"))
            .env("CANVAS_ACCESS_TOKEN", "t")
            .args(["--retry-budget", "1s", "--no-log-file"]);
        expect_error(&run(c, &args), &what, 69, "connection_refused");
        let mut c = flaky.cmd();
        c.args(["--retry-budget", "1s"]);
        expect_error(&run(c, &args), &what, 69, "server_error");
    }
    let w = world(Scenario::Throttled429, 100_000, 0);
    let mut c = w.cmd();
    c.args(["--retry-budget", "1s"]);
    expect_error(&run(c, &owned(&["list"])), "throttled", 69, "throttled");
    let w = world(Scenario::Html200, 100_000, 2);
    let id = w.sim.imports()[0]["id"].to_string();
    let mut c = w.cmd();
    c.args(["--retry-budget", "1s"]);
    expect_error(
        &run(c, &owned(&["status", &id])),
        "HTML with 200",
        69,
        "bad_response",
    );
}

// ---- exits 65, 66 ------------------------------------------------------------------------

#[test]
fn unreadable_or_invalid_input_prints_the_error_document() {
    let w = world(Scenario::Ok, 0, 0);
    let bad = w.file("bad/users.csv", b"user_id,status\nu1,active\n");
    let bad = bad.display().to_string();
    let empty = w.file("empty.csv", b"").display().to_string();
    let no_csv = w.home.path().join("no-csv");
    std::fs::create_dir_all(&no_csv).unwrap();
    std::fs::write(no_csv.join("notes.txt"), "x").unwrap();
    let no_csv = no_csv.display().to_string();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["validate", "missing.zip"], 66, "input_missing"),
        (vec!["submit", "missing.zip"], 66, "input_missing"),
        (
            vec!["submit", "missing.zip", "--dry-run"],
            66,
            "input_missing",
        ),
        (vec!["validate", "/dev/null"], 66, "input_unreadable"),
        (vec!["submit", "/dev/null"], 66, "input_unreadable"),
        (vec!["validate", &no_csv], 65, "bundle_invalid"),
        (vec!["submit", &empty], 65, "bundle_invalid"),
        (vec!["validate", &bad], 65, "validation_failed"),
        (vec!["submit", &bad], 65, "validation_failed"),
        (vec!["submit", &bad, "--dry-run"], 65, "validation_failed"),
        (vec!["submit", &bad, "--watch"], 65, "validation_failed"),
    ];
    for (args, code, kind) in cases {
        let o = run(w.cmd(), &owned(&args));
        let doc = expect_error(&o, &args.join(" "), code, kind);
        if kind == "validation_failed" {
            // The validation report beside the error.
            let d = doc["diagnostics"].as_array().unwrap();
            assert!(d.iter().any(|d| d["severity"] == "error"), "{doc}");
            assert_eq!(doc["totals"]["errors"], 1, "{doc}");
            assert!(doc["files"].is_array(), "{doc}");
        }
    }
    assert!(w.posts().is_empty(), "nothing was sent");
}

// ---- exit 75 -----------------------------------------------------------------------------

#[test]
fn refused_runs_print_the_error_document() {
    let z = sample_zip().display().to_string();
    // Another run holds the lock for this URL and account.
    let w = world(Scenario::Ok, 0, 0);
    let base = canvas_sis::settings::check_base_url(&w.sim.url()).unwrap();
    let state = w.home.path().join("state/canvas-sis");
    let path = canvas_sis::lock::lock_path(&state, base.as_str(), "self");
    let held = canvas_sis::lock::acquire(&path, "the test", Duration::ZERO).unwrap();
    let o = run(w.cmd(), &owned(&["submit", &z]));
    expect_error(&o, "locked", 75, "locked");
    drop(held);
    // --once after the same content went out.
    expect_result(&run(w.cmd(), &owned(&["submit", &z])), "first submit", 0);
    let o = run(w.cmd(), &owned(&["submit", &z, "--once"]));
    expect_error(&o, "--once", 75, "duplicate_content");
    // --if-idle while Canvas has one queued.
    let w = world(Scenario::StuckCreated, 0, 0);
    expect_result(&run(w.cmd(), &owned(&["submit", &z])), "queued", 0);
    let o = run(w.cmd(), &owned(&["submit", &z, "--if-idle"]));
    expect_error(&o, "--if-idle", 75, "already_running");
    assert_eq!(w.posts().len(), 1);
}

// ---- exit 130 ----------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn an_interrupted_watch_prints_the_error_document() {
    let w = world(Scenario::Slow, 0, 0);
    let z = sample_zip();
    let o = run(w.cmd(), &owned(&["submit", z.to_str().unwrap()]));
    let id = expect_result(&o, "submit", 0)["id"].to_string();
    let child = w
        .std_cmd()
        .args([
            "--json",
            "watch",
            &id,
            "--interval",
            "1",
            "--max-polls",
            "500",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait (bounded) until it has polled.
    let shows = || {
        w.sim
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/sis_imports/{id}")))
            .count()
    };
    for _ in 0..200 {
        if shows() > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let doc = expect_error(&o, "watch interrupted", 130, "interrupted");
    assert_eq!(doc["sis_import_id"].to_string(), id, "{doc}");
}

// ---- exits 0, 1, 3, 4 --------------------------------------------------------------------

#[test]
fn results_on_exits_0_1_3_and_4() {
    let z = sample_zip().display().to_string();
    let w = world(Scenario::Ok, 0, 6);
    let done = import_in(&w, "imported");
    let submitted = expect_result(&run(w.cmd(), &owned(&["submit", &z])), "submit", 0);
    let id = submitted["id"].to_string();
    let results: Vec<Vec<&str>> = vec![
        vec!["watch", &id, "--interval", "1", "--max-polls", "10"],
        vec!["status", &id],
        vec!["list"],
        vec!["importing"],
        vec!["errors", &done],
        vec!["errors"],
        vec![
            "restore",
            &done,
            "--yes",
            "--interval",
            "1",
            "--max-polls",
            "10",
        ],
        vec!["abort-all-pending", "--yes"],
        vec!["config", "show"],
        vec!["config", "check"],
        vec!["validate", &z],
        vec!["submit", &z, "--dry-run"],
        vec!["completions", "bash"],
        vec!["man"],
    ];
    for args in results {
        expect_result(&run(w.cmd(), &owned(&args)), &args.join(" "), 0);
    }
    // abort of an import still queued.
    let q = world(Scenario::StuckCreated, 0, 0);
    let id = expect_result(&run(q.cmd(), &owned(&["submit", &z])), "queued", 0)["id"].to_string();
    let doc = expect_result(&run(q.cmd(), &owned(&["abort", &id, "--yes"])), "abort", 0);
    assert_eq!(doc["workflow_state"], "aborted", "{doc}");
    // The import's own outcome: 1, 3, 4, each with the SisImport.
    for (scenario, code, state) in [
        (Scenario::Warnings, 1, Some("imported_with_messages")),
        (Scenario::Failed, 3, Some("failed_with_messages")),
        (Scenario::Aborted, 3, Some("aborted")),
        (Scenario::Slow, 4, None),
    ] {
        let w = world(scenario, 0, 0);
        let args = owned(&[
            "submit",
            &z,
            "--watch",
            "--interval",
            "1",
            "--max-polls",
            "5",
        ]);
        let doc = expect_result(&run(w.cmd(), &args), &format!("{scenario:?}"), code);
        match state {
            Some(state) => assert_eq!(doc["workflow_state"], state, "{scenario:?}: {doc}"),
            None => assert!(doc["id"].is_u64(), "{scenario:?}: {doc}"),
        }
    }
}

#[test]
fn demo_prints_the_last_sis_import() {
    let home = tempfile::tempdir().unwrap();
    let o = run(bare_cmd(home.path()), &owned(&["demo"]));
    let doc = expect_result(&o, "demo", 0);
    assert_eq!(doc["workflow_state"], "imported", "{doc}");
}

// ---- the kinds: one table, the README and the source ---------------------------------------

/// The rows of the README's "Error kinds" table: (kind, exit code, cause).
fn readme_kinds() -> Vec<(String, u8, String)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("### Error kinds")
        .expect("README has an Error kinds section");
    let section = &readme[start + 3..];
    let end = section.find("\n#").unwrap_or(section.len());
    section[..end]
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .collect();
            let kind = cells.first()?.trim().strip_prefix('`')?.strip_suffix('`')?;
            Some((
                kind.to_string(),
                cells.get(1)?.trim().parse().ok()?,
                cells.get(2)?.trim().to_string(),
            ))
        })
        .collect()
}

#[test]
fn the_readme_lists_exactly_the_kinds_of_the_table() {
    let readme = readme_kinds();
    let table: Vec<(String, u8, String)> = KINDS
        .iter()
        .map(|(k, c, d)| (k.to_string(), *c, d.to_string()))
        .collect();
    for row in &table {
        assert!(readme.contains(row), "README lacks {row:?}");
    }
    for row in &readme {
        assert!(
            table.contains(row),
            "README lists {row:?}, which exit::KINDS lacks"
        );
    }
    assert_eq!(readme.len(), table.len());
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_kind_in_the_source_is_in_the_table_and_every_kind_is_used() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found the sources");
    let known = |k: &str| KINDS.iter().any(|(kk, _, _)| *kk == k);
    let mut literals = String::new();
    let mut used = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // Code lines only: comments may show the call with a placeholder.
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            let mut rest = line;
            while let Some(i) = rest.find(".kind(\"") {
                rest = &rest[i + 7..];
                let kind = &rest[..rest.find('"').unwrap()];
                assert!(
                    known(kind),
                    "{}: .kind({kind:?}) is not in exit::KINDS",
                    f.display()
                );
                used += 1;
            }
        }
        // The table itself does not count as a use.
        if !f.ends_with("exit.rs") {
            literals.push_str(&text);
        }
    }
    assert!(used > 20, "found the .kind(…) calls ({used})");
    // No dead rows: each kind is named somewhere, or is its exit code's default.
    for (kind, code, _) in KINDS {
        let default = canvas_sis::exit::Exit::ALL
            .iter()
            .any(|e| e.code() == *code && e.default_kind() == *kind);
        assert!(
            default || literals.contains(&format!("\"{kind}\"")),
            "{kind} is in exit::KINDS but nothing raises it"
        );
    }
}

/// A CSV value carrying an escape sequence (a window title, BEL) is printed written out,
/// never as the bytes that would drive the admin's terminal; the log file likewise.
#[test]
fn escape_sequences_in_a_csv_never_reach_the_terminal() {
    let w = World::new(Scenario::Ok);
    let dir = w.home.path().join("esc");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("users.csv"),
        "user_id,login_id,first_name,last_name,email,status\nU77\u{1b}]0;PWN\u{7},u77,A,B,u77@example.edu,bogus\n",
    )
    .unwrap();
    let o = w.cmd().arg("validate").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "a warning: {}", stderr(&o));
    let err = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("U77\\x1b]0;PWN\\x07"), "{err}");
}

/// Messages that name the cause the system gave, and a fix that fits it: a loop of symbolic
/// links is not a permissions problem, and "entity not found" is no one's words.
#[test]
fn input_and_output_errors_say_what_the_system_said() {
    let w = World::new(Scenario::Ok);
    let (a, b) = (w.home.path().join("loop-a"), w.home.path().join("loop-b"));
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    for cmd in [&["validate"][..], &["submit"][..]] {
        let o = w.cmd().args(cmd).arg(&a).output().unwrap();
        assert_eq!(o.status.code(), Some(66), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("loop of symbolic links"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    let o = w
        .cmd()
        .args(["report", "--html"])
        .arg(w.home.path().join("no-such-folder/r.html"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no such file or directory"),
        "{}",
        stderr(&o)
    );
}
