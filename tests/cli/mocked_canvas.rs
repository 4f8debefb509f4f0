//! One-off protocol edge cases that the simulator does not model, against wiremock.

use crate::support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn an_unknown_workflow_state_warns_once_and_keeps_polling() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/7"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"id": 7, "workflow_state": "brand_new_state", "progress": 10}),
            ))
            .up_to_n_times(2)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/7"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"id": 7, "workflow_state": "imported", "progress": 100}),
            ))
            .mount(&server)
            .await;
    });
    let home = tempfile::tempdir().unwrap();
    let out = mock_cmd(home.path(), &server)
        .args(["watch", "7", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).matches("unknown workflow_state").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn missing_fields_give_a_clear_error_not_a_panic() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/7"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 7})))
            .mount(&server),
    );
    let home = tempfile::tempdir().unwrap();
    let out = mock_cmd(home.path(), &server)
        .args(["status", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("/sis_imports/7") && err.contains("workflow_state"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn a_redirect_to_plain_http_off_loopback_is_refused() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(302)
                    .insert_header("location", "http://canvas.example.edu/steal"),
            )
            .mount(&server),
    );
    let home = tempfile::tempdir().unwrap();
    let out = mock_cmd(home.path(), &server)
        .args(["--retry-budget", "1s", "status", "7"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
}

/// SIGTERM while Canvas has the whole body but has not answered: exit 130, and the message
/// (an import may exist; how to check) is printed once and logged once.
#[cfg(unix)]
#[test]
fn an_interrupted_upload_says_so_once() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/api/v1/accounts/self/sis_imports"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"id": 7, "workflow_state": "created"}))
                    .set_delay(std::time::Duration::from_secs(60)),
            )
            .mount(&server),
    );
    let home = tempfile::tempdir().unwrap();
    let child = std_cmd(home.path())
        .env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .arg("submit")
        .arg(sample_zip())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut posted = false;
    for _ in 0..500 {
        let reqs = rt.block_on(server.received_requests()).unwrap_or_default();
        if reqs.iter().any(|r| r.method.as_str() == "POST") {
            posted = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(posted, "the upload reached the server");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut child = child;
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
        panic!("submit did not stop on SIGTERM");
    }
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    let said = "during the upload after";
    assert_eq!(err.matches(said).count(), 1, "said once: {err}");
    assert!(err.contains("canvas-sis list --created-since"), "{err}");
    let mut log = String::new();
    for e in std::fs::read_dir(home.path().join("state/canvas-sis"))
        .unwrap()
        .flatten()
    {
        if e.file_name()
            .to_string_lossy()
            .starts_with("canvas_sis.log")
            && e.file_type().is_ok_and(|t| t.is_file())
        {
            log.push_str(&std::fs::read_to_string(e.path()).unwrap());
        }
    }
    assert_eq!(
        log.lines().filter(|l| l.contains(said)).count(),
        1,
        "logged once: {log}"
    );
}

/// `errors ID --fix change-sis-id -o FILE` drafts change_sis_id.csv from Canvas's "already
/// claimed" rows (one per old/new pair), and writes nothing else; the simulator does not
/// produce these rows, so wiremock answers with Canvas's wording (lib/sis/user_importer.rb).
#[test]
fn fix_change_sis_id_drafts_the_file_from_already_claimed_rows() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    let claimed = |old: &str, new: &str| {
        format!(
            "An existing Canvas user with the SIS ID {old} has already claimed {new}'s user_id requested login information, skipping"
        )
    };
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/9/errors"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "sis_import_errors": [
                    {"sis_import_id": 9, "file": "users.csv", "row": 2, "message": claimed("OLD-1", "N1"), "failure": false},
                    {"sis_import_id": 9, "file": "users.csv", "row": 3, "message": claimed("OLD-2", "N2"), "failure": false},
                    {"sis_import_id": 9, "file": "users.csv", "row": 4, "message": claimed("OLD-1", "N1"), "failure": false},
                    {"sis_import_id": 9, "file": "enrollments.csv", "row": 5, "message": "User N9 didn't exist for user enrollment", "failure": false}
                ]
            })))
            .mount(&server),
    );
    let home = tempfile::tempdir().unwrap();
    let dest = home.path().join("change_sis_id.csv");
    let out = mock_cmd(home.path(), &server)
        .args(["errors", "9", "--fix", "change-sis-id", "-o"])
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&dest).unwrap(),
        "old_id,new_id,type\nOLD-1,N1,user\nOLD-2,N2,user\n"
    );
    assert!(
        stderr(&out).contains("2 change(s) drafted"),
        "{}",
        stderr(&out)
    );
    // Only GETs: a draft is never sent.
    let sent = rt.block_on(server.received_requests()).unwrap();
    assert!(sent.iter().all(|r| r.method.as_str() == "GET"));
}

/// Step 2 of the file-upload flow cannot reach the upload host: the run aborts the import
/// that step 1 made (nothing will be imported) and says which, and the journal keeps that
/// import as aborted, so the next `--once` run sends again instead of refusing the export
/// for the dedupe window.
#[test]
fn an_aborted_file_upload_is_named_and_does_not_count_for_once() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    // Nothing listens there: step 2 is refused at once.
    let (_held, closed) = refusing_port();
    mount_waiting_import(
        &rt,
        &server,
        55,
        &format!("http://127.0.0.1:{closed}/files/upload"),
    );
    let home = tempfile::tempdir().unwrap();
    let submit = || {
        mock_cmd(home.path(), &server)
            .args([
                "--json",
                "submit",
                "--once",
                "--upload-mode",
                "file-upload",
                "--retry-budget",
                "2s",
            ])
            .arg(sample_zip())
            .output()
            .unwrap()
    };
    let first = submit();
    assert_eq!(first.status.code(), Some(69), "{}", stderr(&first));
    let doc = json(&first);
    assert_eq!(doc["sis_import_id"], 55, "{doc}");
    assert_eq!(doc["aborted"], true, "{doc}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("import 55 was aborted; nothing will be imported"),
        "{doc}"
    );
    let aborts = |server: &MockServer| {
        rt.block_on(server.received_requests())
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "PUT")
            .count()
    };
    assert_eq!(aborts(&server), 1);
    // The next run is not refused by --once (75): it tries again, and fails the same way.
    let second = submit();
    assert_eq!(second.status.code(), Some(69), "{}", stderr(&second));
    assert_eq!(aborts(&server), 2);
}

/// A run killed (SIGKILL: systemd's stop timeout, the OOM killer) during step 2 of the
/// file-upload flow leaves its step-1 import waiting for a file that can never come. The
/// journal has that import's id from the moment step 1 answered, so the next `--once` run
/// sees it still `initializing` with its run gone, aborts it, and sends instead of refusing
/// the export for the dedupe window.
#[cfg(unix)]
#[test]
fn a_killed_file_upload_leaves_its_import_on_record_and_the_next_run_aborts_it() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    // The upload host takes the headers and then neither reads nor answers. Bounded: 4
    // connections, each held 60 s.
    let upload_port = raw_http(4, |_c, _head| {
        std::thread::sleep(std::time::Duration::from_secs(60));
    })
    .port();
    mount_waiting_import(
        &rt,
        &server,
        55,
        &format!("http://127.0.0.1:{upload_port}/files/upload"),
    );
    let home = tempfile::tempdir().unwrap();
    let args = [
        "submit",
        "--once",
        "--upload-mode",
        "file-upload",
        "--read-timeout",
        "1s",
        "--retry-budget",
        "2s",
    ];
    let mut child = std_cmd(home.path())
        .env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .args(args)
        .arg(sample_zip())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = home.path().join("state/canvas-sis/journal.json");
    let mut on_record = false;
    for _ in 0..1000 {
        on_record = std::fs::read(&journal)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .is_some_and(|j| j[0]["import_id"] == 55);
        if on_record {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(on_record, "the journal had import 55 while step 2 ran");
    let puts = |server: &MockServer| {
        rt.block_on(server.received_requests())
            .unwrap_or_default()
            .iter()
            .filter(|r| r.method.as_str() == "PUT")
            .count()
    };
    assert_eq!(puts(&server), 0, "killed: nothing aborted it");
    let next = mock_cmd(home.path(), &server)
        .args(args)
        .arg(sample_zip())
        .output()
        .unwrap();
    // Not refused by --once (75): the orphan was aborted and the bundle sent again (whose
    // step 2 stalls as well here, so the run ends 69).
    assert_eq!(next.status.code(), Some(69), "{}", stderr(&next));
    assert!(
        stderr(&next).contains("waited for a file that could never come: aborted"),
        "{}",
        stderr(&next)
    );
    let reqs = rt.block_on(server.received_requests()).unwrap_or_default();
    let first_put = reqs.iter().position(|r| r.method.as_str() == "PUT");
    let posts: Vec<usize> = reqs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method.as_str() == "POST")
        .map(|(i, _)| i)
        .collect();
    assert!(
        first_put.is_some_and(|p| p < posts[1]),
        "aborted before step 1 went again"
    );
}

/// An errors attachment served a byte at a time (it never stalls for a read timeout) ends
/// the download once its average falls under the slowest a download may keep, with exit 69
/// and nothing left behind; one announced over the cap is not started.
#[test]
fn a_trickled_or_oversized_errors_attachment_is_given_up() {
    use std::io::Write;
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    // Bounded: 4 connections, each trickled for at most 60 s.
    let port = raw_http(4, |mut c, head| {
        let huge = head.contains("GET /huge");
        let len: u64 = if huge { 3 << 30 } else { 10_000_000 };
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\ncontent-type: text/csv\r\ncontent-length: {len}\r\n\r\n"
        );
        for _ in 0..300 {
            if c.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    })
    .port();
    for (id, file) in [(7, "slow"), (8, "huge")] {
        rt.block_on(
            Mock::given(method("GET"))
                .and(path(format!("/api/v1/accounts/self/sis_imports/{id}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "id": id, "workflow_state": "imported_with_messages", "progress": 100,
                    "errors_attachment": {"url": format!("http://127.0.0.1:{port}/{file}/errors.csv")}
                })))
                .mount(&server),
        );
    }
    let home = tempfile::tempdir().unwrap();
    let out_csv = home.path().join("errors.csv");
    for (id, said) in [
        ("7", "the download crawled"),
        ("8", "3221225472 bytes announced"),
    ] {
        let started = std::time::Instant::now();
        let o = mock_cmd(home.path(), &server)
            .args([
                "--json",
                "--read-timeout",
                "2s",
                "errors",
                id,
                "--attachment",
            ])
            .arg(&out_csv)
            .timeout(std::time::Duration::from_secs(30))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(69), "{id}: {}", stderr(&o));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "{id}: {:?}",
            started.elapsed()
        );
        let doc = json(&o);
        assert_eq!(doc["error"]["kind"], "download_failed", "{doc}");
        assert!(
            doc["error"]["message"].as_str().unwrap().contains(said),
            "{doc}"
        );
        assert!(!out_csv.exists());
        let left: Vec<_> = std::fs::read_dir(home.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.contains("download"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// A 401 from the upload host refuses its signed upload, not the Canvas token (which never
/// goes there): exit 69 saying so, not 77 "check the token"; the waiting import is aborted.
#[test]
fn a_401_from_the_upload_host_is_not_blamed_on_the_token() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    let files = rt.block_on(MockServer::start());
    mount_waiting_import(&rt, &server, 56, &format!("{}/files/upload", files.uri()));
    rt.block_on(async {
        Mock::given(method("POST"))
            .and(path("/files/upload"))
            .respond_with(ResponseTemplate::new(401).set_body_string("<Error>expired</Error>"))
            .mount(&files)
            .await;
    });
    let home = tempfile::tempdir().unwrap();
    let o = mock_cmd(home.path(), &server)
        .args(["--json", "submit", "--upload-mode", "file-upload"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "file_upload_failed", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("refused the signed upload (HTTP 401)"),
        "{doc}"
    );
    assert_eq!(doc["aborted"], true, "{doc}");
}

/// A redirect on a POST or PUT (a base URL that is not Canvas's own address) is never
/// followed: reqwest would replay it as a bodiless GET, so an upload became a GET whose
/// answer was read as an import, and an abort "succeeded" elsewhere. Exit 78, saying where
/// the redirect pointed; nothing is requested there.
#[test]
fn a_redirect_on_a_post_or_put_is_a_configuration_error_never_followed() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    let elsewhere = format!("{}/elsewhere", server.uri());
    rt.block_on(async {
        for (m, p) in [
            ("POST", "/api/v1/accounts/self/sis_imports"),
            ("PUT", "/api/v1/accounts/self/sis_imports/7/abort"),
        ] {
            Mock::given(method(m))
                .and(path(p))
                .respond_with(
                    ResponseTemplate::new(302).insert_header("Location", elsewhere.as_str()),
                )
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path("/elsewhere"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"id": 7, "workflow_state": "aborted", "progress": 100}),
            ))
            .mount(&server)
            .await;
    });
    let home = tempfile::tempdir().unwrap();
    for args in [
        vec!["--json", "submit", "--no-validate"],
        vec!["--json", "abort", "7", "--yes"],
    ] {
        let mut c = bare_cmd(home.path());
        c.env("CANVAS_BASE_URL", server.uri())
            .env("CANVAS_ACCESS_TOKEN", "t")
            .args(&args);
        if args[1] == "submit" {
            c.arg(sample_zip());
        }
        let o = c.output().unwrap();
        assert_eq!(o.status.code(), Some(78), "{args:?}: {}", stderr(&o));
        let doc = json(&o);
        assert_eq!(doc["error"]["kind"], "redirected", "{doc}");
        assert!(
            doc["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("redirected to {elsewhere}")),
            "{doc}"
        );
        assert!(
            doc["error"]["hint"].as_str().unwrap().contains("base_url"),
            "{doc}"
        );
    }
    let reqs = rt.block_on(server.received_requests()).unwrap_or_default();
    assert!(
        !reqs.iter().any(|r| r.url.path() == "/elsewhere"),
        "the redirect was followed"
    );
}

/// A GET of Canvas's API redirected to another host, and answered there, is not Canvas's
/// answer: `status 5` printed import 777 from the other host and exited 0. Exit 78
/// (`redirected`), naming where it went. A redirect within Canvas's own origin is followed.
#[test]
fn a_get_redirected_to_another_host_is_not_taken_for_canvas() {
    let rt = rt();
    let (canvas, other) =
        rt.block_on(async { (MockServer::start().await, MockServer::start().await) });
    rt.block_on(async {
        // 5: to another host; 6: within Canvas's own origin; 8: a loop (retried for the
        // whole budget before; no retry ends it).
        let elsewhere = format!("{}/api/v1/accounts/self/sis_imports/777", other.uri());
        for (id, code, to) in [
            (5, 302, elsewhere.as_str()),
            (6, 301, "/moved/sis_imports/6"),
            (8, 302, "/api/v1/accounts/self/sis_imports/8"),
        ] {
            Mock::given(method("GET"))
                .and(path(format!("/api/v1/accounts/self/sis_imports/{id}")))
                .respond_with(ResponseTemplate::new(code).insert_header("Location", to))
                .mount(&canvas)
                .await;
        }
        for (srv, at, id) in [
            (&other, "/api/v1/accounts/self/sis_imports/777", 777),
            (&canvas, "/moved/sis_imports/6", 6),
        ] {
            Mock::given(method("GET"))
                .and(path(at))
                .respond_with(ResponseTemplate::new(200).set_body_json(
                    serde_json::json!({"id": id, "workflow_state": "imported", "progress": 100}),
                ))
                .mount(srv)
                .await;
        }
    });
    let home = tempfile::tempdir().unwrap();
    let status = |id: &str| {
        bare_cmd(home.path())
            .env("CANVAS_BASE_URL", canvas.uri())
            .env("CANVAS_ACCESS_TOKEN", "t")
            .args(["--json", "status", id])
            .output()
            .unwrap()
    };
    let o = status("5");
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "redirected", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&other.uri()),
        "{doc}"
    );
    let o = status("6");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(json(&o)["id"], 6);
    let started = std::time::Instant::now();
    let o = status("8");
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("redirects"), "{}", stderr(&o));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "not retried"
    );
}

/// An answer that describes another import than the one asked for is never reported as it
/// (`status 5` printed import 777's state and exited 0).
#[test]
fn an_answer_about_another_import_is_not_taken_for_the_one_asked() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    rt.block_on(async {
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/5"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"id": 777, "workflow_state": "imported", "progress": 100}),
            ))
            .mount(&server)
            .await;
    });
    let home = tempfile::tempdir().unwrap();
    let o = mock_cmd(home.path(), &server)
        .args(["--json", "--retry-budget", "0", "status", "5"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "bad_response", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("import 777"),
        "{doc}"
    );
}

/// Canvas's side of a file upload that never gets its file: step 1 makes import `id`
/// (waiting in `initializing`) with `upload_url` as where to send it, a show of it says it
/// still waits, and its abort succeeds.
fn mount_waiting_import(
    rt: &tokio::runtime::Runtime,
    server: &MockServer,
    id: u64,
    upload_url: &str,
) {
    let waiting = serde_json::json!({"id": id, "workflow_state": "initializing", "progress": 0});
    let mut step1 = waiting.clone();
    step1["pre_attachment"] = serde_json::json!({
        "upload_url": upload_url, "upload_params": {"key": "k"}, "file_param": "file"
    });
    rt.block_on(async {
        Mock::given(method("POST"))
            .and(path("/api/v1/accounts/self/sis_imports"))
            .respond_with(ResponseTemplate::new(200).set_body_json(step1))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/accounts/self/sis_imports/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(waiting))
            .mount(server)
            .await;
        Mock::given(method("PUT"))
            .and(path(format!(
                "/api/v1/accounts/self/sis_imports/{id}/abort"
            )))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"id": id, "workflow_state": "aborted", "progress": 0}),
            ))
            .mount(server)
            .await;
    });
}

/// An answer larger than the cap on answers (33 MiB here: a proxy's page, or a list that
/// does not page) is not retried for the whole budget as if Canvas were down, each try
/// downloading it again: one request, exit 69, the message says what it was.
#[test]
fn an_oversized_answer_is_not_retried() {
    let rt = rt();
    let server = rt.block_on(MockServer::start());
    let mut big = String::from("{\"id\": 7, \"workflow_state\": \"imported\", \"pad\": \"");
    big.push_str(&"x".repeat(33 << 20));
    big.push_str("\"}");
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/api/v1/accounts/self/sis_imports/7"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(big.into_bytes(), "application/json"),
            )
            .mount(&server),
    );
    let home = tempfile::tempdir().unwrap();
    let o = mock_cmd(home.path(), &server)
        .args(["--json", "--retry-budget", "30s", "status", "7"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(69), "{}", stderr(&o));
    let doc = json(&o);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the answer is larger than 32 MiB"),
        "{doc}"
    );
    let gets = rt
        .block_on(server.received_requests())
        .unwrap_or_default()
        .len();
    assert_eq!(gets, 1, "asked once");
}

/// `canvas-sis` pointed at the mock Canvas `server`, with a token and a private home.
fn mock_cmd(home: &std::path::Path, server: &MockServer) -> assert_cmd::Command {
    let mut c = bare_cmd(home);
    c.env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t");
    c
}
