//! `report --html`: runs made by real submits against the simulator, one of them carrying
//! markup in its SIS ids, rendered and opened in a real headless Chromium (gated: it needs
//! the browser `.ci/install-tools` installs), plus the plain edges (no runs, an unwritable
//! path, stdout).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use fake_canvas::Scenario;

const SCRIPT: &str = "<script>document.title='pwned'</script>";
const IMG: &str = "<img src=x onerror=\"document.title='pwned'\">";

/// A users.csv whose two bad rows carry the payloads in their SIS ids: one with a status
/// Canvas refuses ("Improper status for user <id>"), one without a login_id ("No login_id
/// given for user <id>"), so that each is the example of its own group (§2.8).
fn payload_bundle(w: &World) -> PathBuf {
    let csv = format!(
        "user_id,login_id,first_name,last_name,email,status\n\
         u1,u1,Ann,Lee,u1@example.edu,active\n\
         \"{SCRIPT}\",x1,X,Y,x1@example.edu,bogus\n\
         \"{}\",,X,Y,x2@example.edu,active\n",
        IMG.replace('"', "\"\"")
    );
    w.file("payload/users.csv", csv.as_bytes())
}

/// Three real runs in one archive: imported, imported_with_messages (the payload) and
/// failed_with_messages (a second simulator, same HOME). Returns their import ids.
fn three_runs(w: &World) -> Vec<u64> {
    let mut ids = vec![];
    let o = w
        .cmd()
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    ids.push(stdout(&o).trim().parse().unwrap());
    let o = w
        .cmd()
        .arg("submit")
        .arg(payload_bundle(w))
        .args([
            "--no-validate",
            "--watch",
            "--interval",
            "1",
            "--max-polls",
            "20",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    ids.push(stdout(&o).trim().parse().unwrap());
    let failing = World::new(Scenario::Failed);
    let o = bare_cmd(w.home.path())
        .env("CANVAS_BASE_URL", failing.sim.url())
        .env("CANVAS_ACCESS_TOKEN", failing.sim.token())
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    ids.push(stdout(&o).trim().parse().unwrap());
    ids
}

/// Run `cmd` with stdout to `out`, killed after `limit`.
fn bounded(mut cmd: Command, out: &Path, limit: Duration) -> std::process::ExitStatus {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// The PNG's width and height, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
#[cfg_attr(
    not(external_tests),
    ignore = "needs Chromium: run .ci/install-tools and set CANVAS_SIS_EXTERNAL_TESTS=1"
)]
fn the_report_opens_in_chromium_with_the_payload_as_text_and_no_script_run() {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "CANVAS_SIS_EXTERNAL_TESTS=1 but no chromium on the PATH: run .ci/install-tools"
    );
    let w = World::new(Scenario::Ok);
    let ids = three_runs(&w);
    let page = w.home.path().join("report.html");
    let o = w
        .cmd()
        .arg("report")
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    // The file itself: the payload escaped, no script element of ours.
    assert!(!html.to_lowercase().contains("<script"), "{html}");

    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let dom_file = w.home.path().join("dom.html");
    let mut c = chromium(profile.path());
    c.arg("--dump-dom").arg(&url);
    let s = bounded(c, &dom_file, Duration::from_secs(90));
    assert!(s.success(), "chromium --dump-dom: {s}");
    let dom = std::fs::read_to_string(&dom_file).unwrap();
    assert!(
        dom.contains("<section id=\"timeline\""),
        "no page in: {dom}"
    );

    // No script ran: the title is the page's own; nothing was injected.
    assert!(
        dom.contains("<title>canvas-sis report</title>"),
        "title changed: {dom}"
    );
    assert!(!dom.contains("pwned</title>"), "{dom}");
    assert!(
        !dom.contains("<script"),
        "a script element in the DOM: {dom}"
    );
    assert!(!dom.contains("<img"), "an img element in the DOM: {dom}");
    // The payloads are there, as text (Chromium serialises text with < and > escaped).
    assert!(
        dom.contains(
            "Improper status for user &lt;script&gt;document.title='pwned'&lt;/script&gt;"
        ),
        "{dom}"
    );
    assert!(
        dom.contains(
            "No login_id given for user &lt;img src=x onerror=\"document.title='pwned'\"&gt;"
        ),
        "{dom}"
    );
    // The sections and every run.
    for id in [
        "summary",
        "timeline",
        "durations",
        "rows",
        "messages",
        "runs",
        "errors",
    ] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "no #{id}");
    }
    for id in &ids {
        assert!(
            dom.contains(&format!(">{id}</td>")),
            "import {id} not in the runs table"
        );
    }
    for state in ["imported", "imported_with_messages", "failed_with_messages"] {
        assert!(
            dom.contains(&format!(">{state}</span>")),
            "no {state} badge"
        );
    }
    assert!(
        dom.contains("Error while importing CSV. Please contact support. (Error report …)"),
        "the failed run's error group: {dom}"
    );

    // A screenshot: a real picture of the page, not a blank one.
    let shot = w.home.path().join("shot.png");
    let mut c = chromium(profile.path());
    c.arg("--window-size=1280,1600")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url);
    let s = bounded(c, &w.home.path().join("shot.log"), Duration::from_secs(90));
    assert!(s.success(), "chromium --screenshot: {s}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1280, 1600));
    // A blank 1280x1600 page compresses to a few KB; charts, tables and text do not.
    assert!(png.len() > 40_000, "screenshot of {} bytes", png.len());

    // Printed (the print CSS): a PDF with the page's text in it.
    let pdf = w.home.path().join("report.pdf");
    let mut c = chromium(profile.path());
    c.arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(&url);
    let s = bounded(c, &w.home.path().join("pdf.log"), Duration::from_secs(90));
    assert!(s.success(), "chromium --print-to-pdf: {s}");
    let pdf = std::fs::read(&pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(pdf.len() > 20_000, "PDF of {} bytes", pdf.len());
}

#[test]
fn no_runs_is_a_page_that_says_so_and_stdout_and_unwritable_paths_behave() {
    let w = World::new(Scenario::Ok);
    // No run yet: exit 0, a page saying so, on stdout.
    let o = w.cmd().args(["report", "--html", "-"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = stdout(&o);
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("id=\"no-runs\""), "{page}");
    assert!(page.contains("Content-Security-Policy"), "{page}");

    // An unwritable path: exit 74 naming it; with --json one error document.
    let bad = w.home.path().join("no-such-dir/report.html");
    let o = w
        .cmd()
        .arg("report")
        .arg("--html")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(74), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&bad.display().to_string()),
        "{}",
        stderr(&o)
    );
    let o = w
        .cmd()
        .arg("--json")
        .arg("report")
        .arg("--html")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(74));
    assert_eq!(json(&o)["error"]["kind"], "output_failed");
    assert!(!bad.exists());

    // A FIFO (as `/dev/stdout` or `/dev/full` would be) is written through and stays a
    // FIFO: a rename would have put a file in its place, and, as root, in a device's.
    let fifo = w.home.path().join("page.fifo");
    let reader = FifoReader::new(&fifo);
    let o = w
        .cmd()
        .arg("report")
        .arg("--html")
        .arg(&fifo)
        .output()
        .unwrap();
    let page = reader.bytes();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(page.starts_with(b"<!DOCTYPE html>"), "{} bytes", page.len());
    use std::os::unix::fs::FileTypeExt;
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    // A real run, then the page in a file (atomically: no temporary file left beside it).
    let id = w.submit_sample();
    let o = w
        .cmd()
        .arg("watch")
        .arg(id.to_string())
        .args(["--interval", "1", "--max-polls", "20"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dir = w.home.path().join("out");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join("r.html");
    let o = w
        .cmd()
        .args(["--json", "report", "--since", "1h", "--html"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["runs"], 1);
    let html = std::fs::read_to_string(&file).unwrap();
    assert!(html.contains(&format!(">{id}</td>")), "{html}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // `--json` and `--html -` both want stdout.
    let o = w
        .cmd()
        .args(["--json", "report", "--html", "-"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
