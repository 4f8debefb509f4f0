//! Upload modes through the binary: the file-upload flow, its fallback when Canvas ignores
//! it (never a second live import), and `auto` choosing by size.

use crate::support::*;
use fake_canvas::Scenario;

fn live_imports(w: &World) -> Vec<serde_json::Value> {
    w.sim
        .imports()
        .into_iter()
        .filter(|i| i["workflow_state"] != "aborted")
        .collect()
}

#[test]
fn file_upload_mode_sends_the_file_to_the_upload_url_without_the_token() {
    let w = World::new(Scenario::Ok);
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--upload-mode", "file-upload", "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(w.sim.created_count(), 1);
    let reqs = w.sim.requests();
    let step1 = reqs
        .iter()
        .find(|r| r.method == "POST" && r.listener == "api")
        .unwrap();
    assert!(
        step1
            .query
            .as_deref()
            .unwrap()
            .contains("pre_attachment%5Bname%5D=bundle.zip"),
        "{:?}",
        step1.query
    );
    assert_eq!(step1.body_len, 0, "step 1 carries no file");
    let up = reqs
        .iter()
        .find(|r| r.method == "POST" && r.listener == "files")
        .expect("upload to upload_url");
    assert!(
        up.header("authorization").is_none(),
        "no Canvas token to the upload host"
    );
    assert!(
        up.body_len > std::fs::metadata(sample_zip()).unwrap().len(),
        "multipart carries the file"
    );
    // The content arrived: Canvas counted its rows.
    let imp = w.sim.imports().pop().unwrap();
    assert_eq!(imp["data"]["counts"]["users"].as_u64(), Some(6), "{imp}");
}

/// `--extension csv` of a file named otherwise: in the file-upload flow Canvas goes by the
/// name, so the name it is given says csv, and the rows are imported.
#[test]
fn a_forced_extension_names_the_file_in_the_file_upload_flow() {
    let w = World::new(Scenario::Ok);
    let users = w.file(
        "users.txt",
        &std::fs::read(sample_dir("bundle").join("users.csv")).unwrap(),
    );
    let out = w
        .cmd()
        .arg("submit")
        .arg(&users)
        .args(["--extension", "csv", "--upload-mode", "file-upload"])
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let step1 = w
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.listener == "api")
        .unwrap();
    assert!(
        step1
            .query
            .as_deref()
            .unwrap()
            .contains("pre_attachment%5Bname%5D=users.csv"),
        "{:?}",
        step1.query
    );
    let imp = w.sim.imports().pop().unwrap();
    assert_eq!(imp["data"]["counts"]["users"].as_u64(), Some(6), "{imp}");
}

/// `--dry-run` prints the request the real run sends first: in the file-upload flow, step 1
/// (the file's name, size and type, no body), then where the file goes.
#[test]
fn a_dry_run_of_the_file_upload_flow_prints_its_step_1() {
    let w = World::new(Scenario::Ok);
    let out = w
        .cmd()
        .args([
            "--json",
            "submit",
            "--dry-run",
            "--upload-mode",
            "file-upload",
        ])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["upload_mode"], "file-upload", "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(
        url.contains("pre_attachment%5Bname%5D=bundle.zip")
            && url.contains("pre_attachment%5Bsize%5D="),
        "{url}"
    );
    assert!(v["body"].is_null(), "{v}");
    assert_eq!(
        v["then_upload"]["bytes"].as_u64(),
        Some(std::fs::metadata(sample_zip()).unwrap().len())
    );
    assert!(w.sim.requests().is_empty(), "nothing sent");
    // Direct, as before.
    let out = w
        .cmd()
        .args(["--json", "submit", "--dry-run"])
        .arg(sample_zip())
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["upload_mode"], "direct", "{v}");
    assert!(
        !v["url"].as_str().unwrap().contains("pre_attachment"),
        "{v}"
    );
    assert!(v["then_upload"].is_null(), "{v}");
}

#[test]
fn a_canvas_without_the_flow_gets_the_direct_upload_and_no_second_live_import() {
    let w = World::new(Scenario::IgnorePreAttachment);
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--upload-mode", "file-upload", "--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let all = w.sim.imports();
    assert_eq!(all.len(), 2, "the file-less one and the real one");
    assert_eq!(
        all[0]["workflow_state"], "aborted",
        "the file-less import was aborted"
    );
    assert_eq!(live_imports(&w).len(), 1);
    assert!(
        stderr(&out).contains("falling back to the direct upload"),
        "{}",
        stderr(&out)
    );
    let id: u64 = stdout(&out).trim().parse().unwrap();
    assert_eq!(
        all[1]["id"].as_u64(),
        Some(id),
        "the printed id is the live import"
    );
}

#[test]
fn auto_mode_switches_to_the_file_upload_flow_above_the_threshold() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("c.toml", b"[import]\nfile_upload_threshold = \"1kB\"\n");
    w.cmd()
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .assert()
        .code(0);
    assert!(
        w.sim.requests().iter().any(|r| r.listener == "files"),
        "file-upload flow used"
    );
    let w = World::new(Scenario::Ok);
    w.cmd().arg("submit").arg(sample_zip()).assert().code(0);
    assert!(
        w.sim.requests().iter().all(|r| r.listener == "api"),
        "small file: direct"
    );
    let bad = w.file("bad.toml", b"[import]\nfile_upload_threshold = \"lots\"\n");
    w.cmd()
        .arg("-c")
        .arg(&bad)
        .arg("submit")
        .arg(sample_zip())
        .assert()
        .code(78);
}

#[test]
fn progress_always_draws_on_stderr_and_never_in_the_log() {
    let w = World::new(Scenario::Ok);
    let out = w
        .cmd()
        .args(["--progress", "always", "submit"])
        .arg(sample_zip())
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains('\u{1b}'), "a bar was drawn");
    assert!(!w.log_text().contains('\u{1b}'), "no ANSI in the log");
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert!(
        !stderr(&out).contains('\u{1b}'),
        "auto off a terminal: no bar"
    );
}

#[test]
fn the_sha256_is_computed_while_sending_and_journaled_when_the_upload_ends() {
    // Both modes, and a directory (zipped to a temporary file first).
    for (path, mode) in [
        (sample_zip(), "direct"),
        (sample_zip(), "file-upload"),
        (sample_dir("bundle"), "direct"),
    ] {
        let w = World::new(Scenario::Ok);
        let out = w
            .cmd()
            .arg("submit")
            .arg(&path)
            .args(["--upload-mode", mode])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let body = w
            .sim
            .requests()
            .into_iter()
            .rfind(|r| r.method == "POST")
            .unwrap();
        let j: serde_json::Value =
            serde_json::from_slice(&std::fs::read(w.log_dir().join("journal.json")).unwrap())
                .unwrap();
        let entry = &j[0];
        assert_eq!(j.as_array().unwrap().len(), 1, "{j}");
        let sha = entry["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{entry}");
        if path.is_file() {
            assert_eq!(sha, sha256(&path), "{mode}");
        }
        if mode == "direct" {
            // The hash of what was sent.
            assert_eq!(sha, body.body_sha256, "{mode} {}", path.display());
        }
        assert_eq!(
            entry["import_id"].as_u64(),
            w.sim.imports().pop().unwrap()["id"].as_u64()
        );
        // Not hashed before sending: the line that starts the upload names no hash.
        let log = w.log_text();
        let line = log.lines().find(|l| l.contains("submitting")).unwrap();
        assert!(!line.contains("sha256"), "{line}");
    }
}

#[test]
fn a_journal_that_cannot_be_written_holds_the_upload_back_before_its_end() {
    let w = World::new(Scenario::Ok);
    // The journal's name is taken by a directory: the entry cannot be written.
    std::fs::create_dir_all(w.log_dir().join("journal.json")).unwrap();
    let out = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(["--upload-mode", "direct"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("state journal"), "{}", stderr(&out));
    // The file went out, but not its end: Canvas made nothing.
    assert_eq!(w.sim.created_count(), 0);
    let posts = w.posts();
    assert!(posts.len() <= 1, "no lookup, no second upload: {posts:?}");
    assert!(posts.iter().all(|p| p.status != 200), "{posts:?}");
}
