//! `canvas-sis demo`, the README's first command: simulator, validate, submit, watch.

use crate::support::*;

#[test]
fn demo_runs_the_whole_job_and_leaves_real_state_alone() {
    let home = tempfile::tempdir().unwrap();
    let tmp = home.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = bare_cmd(home.path())
        .env("TMPDIR", &tmp)
        .arg("demo")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // stdout is the created import's id, as for `submit`.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let id: u64 = stdout.trim().parse().expect("an import id on stdout");
    for want in [
        "validated ",
        "7 files, kinds: account(2) term(1) course(2) section(2) user(6) enrollment(7), 20 rows, 0 errors, 0 warnings",
        &format!("import {id} created (created)"),
        &format!("import {id} ended imported after"),
        "accounts=2 courses=2 enrollments=7 sections=2 terms=1 users=6",
        "done: exit code 0",
        "1 import(s) created",
    ] {
        assert!(stderr.contains(want), "{want:?} missing from:\n{stderr}");
    }
    // The log file it names holds syslog-style lines of the run.
    let log = stderr
        .lines()
        .find_map(|l| l.split_once("the log file is ").map(|(_, p)| p.trim()))
        .expect("log path printed");
    assert!(log.starts_with(tmp.to_str().unwrap()), "{log}");
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains(" canvas-sis[")
                && l.contains(&format!("import {id} ended imported"))),
        "{text}"
    );
    // Journal and locks stay in the demo's temp dir, not in the user's state dir.
    assert!(!home.path().join("state/canvas-sis").exists());
}
