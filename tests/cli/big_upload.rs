//! The `pre_attachment` file-upload flow (`canvas::upload`), against the simulator and, for
//! byte-exact and step-3 checks, against wiremock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use canvas_sis::bundle::{self, Bundle};
use canvas_sis::canvas::Client;
use canvas_sis::canvas::testing::client_for_tests;
use canvas_sis::canvas::upload::{FileUploadOutcome, file_upload};
use fake_canvas::{Config, Handle, Scenario};
use serde_json::json;
use sha2::Digest;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const USERS: &str = "user_id,login_id,first_name,last_name,email,status\n";

fn users_csv(rows: usize) -> String {
    let mut s = String::from(USERS);
    for i in 0..rows {
        s.push_str(&format!(
            "u{i},login{i},First{i},Last{i},u{i}@example.edu,active\n"
        ));
    }
    s
}

fn zip_file(dir: &Path, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, fake_canvas::zip_of(entries)).unwrap();
    p
}

fn sim(scenario: Scenario) -> Handle {
    fake_canvas::spawn(Config {
        scenario,
        polls_to_finish: 2,
        ..Default::default()
    })
    .expect("simulator starts")
}

fn client(h: &Handle) -> Client {
    client_for_tests(&h.url(), &h.token(), "self").expect("client")
}

fn query(b: &Bundle) -> Vec<(&'static str, String)> {
    vec![
        ("import_type", "instructure_csv".to_string()),
        ("extension", b.extension.as_str().to_string()),
    ]
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn file_upload_creates_one_import_without_token_on_the_files_host() {
    let h = sim(Scenario::Ok);
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(250);
    let p = zip_file(
        dir.path(),
        "lms_daily.zip",
        &[("users.csv", csv.as_bytes())],
    );
    let b = bundle::prepare(&p, None).unwrap();
    let c = client(&h);
    let seen = Arc::new(AtomicU64::new(0));
    let s2 = seen.clone();
    let cb: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |n| {
        s2.store(n, Ordering::Relaxed);
    });
    let out = file_upload(&c, &b, &query(&b), Some(cb)).await.unwrap();
    let FileUploadOutcome::Created(imp) = out else {
        panic!("expected Created, got {out:?}");
    };
    assert_eq!(
        seen.load(Ordering::Relaxed),
        b.len,
        "on_chunk saw every byte"
    );
    assert_eq!(h.created_count(), 1, "exactly one import");

    let reqs = h.requests();
    let step1: Vec<_> = reqs
        .iter()
        .filter(|r| r.listener == "api" && r.method == "POST")
        .collect();
    assert_eq!(step1.len(), 1);
    let q = step1[0].query.clone().unwrap_or_default();
    assert!(q.contains("pre_attachment%5Bname%5D=lms_daily.zip"), "{q}");
    assert!(
        q.contains(&format!("pre_attachment%5Bsize%5D={}", b.len)),
        "{q}"
    );
    assert!(q.contains("extension=zip"), "{q}");
    assert_eq!(step1[0].body_len, 0, "step 1 carries no file");
    assert!(step1[0].header("authorization").is_some());

    let uploads: Vec<_> = reqs.iter().filter(|r| r.listener == "files").collect();
    assert_eq!(uploads.len(), 1, "one upload to the files host");
    let up = uploads[0];
    assert_eq!(up.method, "POST");
    assert_eq!(up.status, 201);
    assert!(
        up.header("authorization").is_none(),
        "the Canvas token must not go to the upload host"
    );
    assert!(
        up.header("content-type")
            .unwrap_or_default()
            .starts_with("multipart/form-data"),
    );
    assert!(up.body_len > b.len);
    // The multipart body is the fields, then the file: its hash matches a rebuild of it.
    let boundary = up
        .header("content-type")
        .unwrap()
        .split("boundary=")
        .nth(1)
        .unwrap()
        .to_string();
    let mut expect = Vec::new();
    let mut field = |name: &str, value: &str| {
        expect.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    // The simulator's upload_params, in serde_json's key order.
    let params = json!({"key": format!("sis_imports/{}/lms_daily.zip", imp.id),
        "filename": "lms_daily.zip", "content_type": "application/zip"});
    for (k, v) in params.as_object().unwrap() {
        field(k, v.as_str().unwrap());
    }
    expect.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lms_daily.zip\"\r\nContent-Type: application/zip\r\n\r\n"
        )
        .as_bytes(),
    );
    expect.extend_from_slice(&std::fs::read(&p).unwrap());
    expect.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(up.body_len, expect.len() as u64);
    assert_eq!(up.body_sha256, sha(&expect), "the file arrived intact");

    // The import runs by itself and imports what the file holds.
    let mut last = imp;
    for _ in 0..10 {
        if last.state.is_terminal() {
            break;
        }
        last = c.show(last.id).await.unwrap();
    }
    assert_eq!(last.state_str(), "imported", "{}", last.raw);
    assert_eq!(
        last.raw["data"]["counts"]["users"],
        json!(250),
        "{}",
        last.raw
    );
    assert_eq!(h.created_count(), 1);
}

#[tokio::test]
async fn ignored_pre_attachment_is_aborted_and_reported() {
    let h = sim(Scenario::IgnorePreAttachment);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("users.csv");
    std::fs::write(&p, users_csv(3)).unwrap();
    let b = bundle::prepare(&p, None).unwrap();
    let c = client(&h);
    let out = file_upload(&c, &b, &query(&b), None).await.unwrap();
    let FileUploadOutcome::NotSupported { aborted: Some(id) } = out else {
        panic!("expected NotSupported with an aborted id, got {out:?}");
    };
    let imports = h.imports();
    let imp = imports
        .iter()
        .find(|i| i["id"] == json!(id))
        .expect("the import exists");
    assert_eq!(imp["workflow_state"], "aborted", "{imp}");
    assert_eq!(h.created_count(), 1);
    assert!(
        h.requests().iter().all(|r| r.listener == "api"),
        "nothing went to the files host"
    );
    let aborts: Vec<_> = h
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/sis_imports/{id}/abort")))
        .collect();
    assert_eq!(aborts.len(), 1);
}

/// A Canvas whose step 1 points to a separate storage host (step 2 is mounted by the test).
async fn canvas_and_storage() -> (MockServer, MockServer) {
    let canvas = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/accounts/self/sis_imports"))
        .and(query_param("pre_attachment[name]", "lms_daily.zip"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 77, "workflow_state": "initializing", "progress": 0,
            "pre_attachment": {
                "upload_url": format!("{}/bucket/upload?sig=SECRET", storage.uri()),
                "upload_params": {"key": "sis/77/lms_daily.zip", "acl": "private", "success_action_status": 201},
                "file_param": "attachment_file",
            }
        })))
        .expect(1)
        .mount(&canvas)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/self/sis_imports/77"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 77, "workflow_state": "created", "progress": 0})),
        )
        .mount(&canvas)
        .await;
    (canvas, storage)
}

/// Split a multipart body into (headers, content) parts.
fn parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    while let Some(i) = find(rest, delim.as_bytes()) {
        rest = &rest[i + delim.len()..];
        if rest.starts_with(b"--") {
            break;
        }
        rest = &rest[2..]; // CRLF
        let h_end = find(rest, b"\r\n\r\n").unwrap();
        let headers = String::from_utf8_lossy(&rest[..h_end]).to_string();
        rest = &rest[h_end + 4..];
        let end = find(rest, format!("\r\n{delim}").as_bytes()).unwrap();
        out.push((headers, rest[..end].to_vec()));
        rest = &rest[end + 2..];
    }
    out
}

#[tokio::test]
async fn storage_host_gets_fields_first_then_the_file_and_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(1000);
    let p = zip_file(
        dir.path(),
        "lms_daily.zip",
        &[("users.csv", csv.as_bytes())],
    );
    let b = bundle::prepare(&p, None).unwrap();
    // 302 to the storage host's own confirmation URL: followed, without the token.
    let (canvas, storage) = canvas_and_storage().await;
    let confirm_url = format!("{}/bucket/confirm?id=5", storage.uri());
    Mock::given(method("POST"))
        .and(path("/bucket/upload"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", confirm_url.as_str()))
        .expect(1)
        .mount(&storage)
        .await;
    Mock::given(method("GET"))
        .and(path("/bucket/confirm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 5})))
        .expect(1)
        .mount(&storage)
        .await;
    let c = client_for_tests(&canvas.uri(), "TOKEN123", "self").unwrap();
    let out = file_upload(&c, &b, &query(&b), None).await.unwrap();
    assert!(
        matches!(out, FileUploadOutcome::Created(ref i) if i.id == 77),
        "{out:?}"
    );

    let reqs = storage.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert!(
            !r.headers.contains_key("authorization"),
            "no token to the storage host: {:?}",
            r.url
        );
    }
    let up = &reqs[0];
    assert_eq!(up.url.query(), Some("sig=SECRET"));
    let ct = up.headers.get("content-type").unwrap().to_str().unwrap();
    let boundary = ct.split("boundary=").nth(1).unwrap();
    let ps = parts(&up.body, boundary);
    let names: Vec<String> = ps
        .iter()
        .map(|(h, _)| {
            h.split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        names.last().map(String::as_str),
        Some("attachment_file"),
        "the file comes last, in file_param: {names:?}"
    );
    let mut fields = names[..names.len() - 1].to_vec();
    fields.sort();
    assert_eq!(fields, ["acl", "key", "success_action_status"]);
    let (fh, fbytes) = ps.last().unwrap();
    assert!(fh.contains("filename=\"lms_daily.zip\""), "{fh}");
    assert!(fh.contains("Content-Type: application/zip"), "{fh}");
    assert_eq!(Some(sha(fbytes)), b.sha256, "the file arrived intact");
    let (_, v) = ps
        .iter()
        .find(|(h, _)| h.contains("name=\"success_action_status\""))
        .unwrap();
    assert_eq!(v, b"201");
}

#[tokio::test]
async fn a_location_on_the_canvas_origin_is_confirmed_with_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let p = zip_file(
        dir.path(),
        "lms_daily.zip",
        &[("users.csv", USERS.as_bytes())],
    );
    let b = bundle::prepare(&p, None).unwrap();
    let (canvas, storage) = canvas_and_storage().await;
    let loc = format!("{}/api/v1/files/5/create_success?uuid=abc", canvas.uri());
    Mock::given(method("POST"))
        .and(path("/bucket/upload"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("location", loc.as_str())
                .set_body_json(json!({"id": 5})),
        )
        .expect(1)
        .mount(&storage)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/files/5/create_success"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 5})))
        .expect(1)
        .mount(&canvas)
        .await;
    let c = client_for_tests(&canvas.uri(), "TOKEN123", "self").unwrap();
    let out = file_upload(&c, &b, &query(&b), None).await.unwrap();
    assert!(matches!(out, FileUploadOutcome::Created(_)), "{out:?}");
    let confirm: Vec<_> = canvas
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/api/v1/files/5/create_success")
        .collect();
    assert_eq!(confirm.len(), 1);
    assert_eq!(
        confirm[0].headers.get("authorization").unwrap(),
        "Bearer TOKEN123"
    );
    for r in storage.received_requests().await.unwrap() {
        assert!(!r.headers.contains_key("authorization"));
    }
}

#[tokio::test]
async fn a_failed_upload_aborts_the_waiting_import() {
    let dir = tempfile::tempdir().unwrap();
    let p = zip_file(
        dir.path(),
        "lms_daily.zip",
        &[("users.csv", USERS.as_bytes())],
    );
    let b = bundle::prepare(&p, None).unwrap();
    let canvas = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/accounts/self/sis_imports"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 78, "workflow_state": "initializing",
            "pre_attachment": {"upload_url": format!("{}/up", storage.uri()), "upload_params": {}}
        })))
        .expect(1)
        .mount(&canvas)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/self/sis_imports/78"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 78, "workflow_state": "initializing"})),
        )
        .mount(&canvas)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/accounts/self/sis_imports/78/abort"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 78, "workflow_state": "aborted"})),
        )
        .expect(1)
        .mount(&canvas)
        .await;
    Mock::given(method("POST"))
        .and(path("/up"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_string("<Error><Code>EntityTooLarge</Code></Error>"),
        )
        .expect(1)
        .mount(&storage)
        .await;
    let c = client_for_tests(&canvas.uri(), "T", "self").unwrap();
    let err = file_upload(&c, &b, &query(&b), None).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(text.contains("EntityTooLarge"), "{text}");
    assert!(text.contains("import 78 was aborted"), "{text}");
}

#[tokio::test]
async fn an_interrupted_upload_leaves_the_id_to_abort() {
    use canvas_sis::canvas::upload::{abort_waiting, file_upload_observed};
    let dir = tempfile::tempdir().unwrap();
    let p = zip_file(
        dir.path(),
        "lms_daily.zip",
        &[("users.csv", USERS.as_bytes())],
    );
    let b = bundle::prepare(&p, None).unwrap();
    let canvas = MockServer::start().await;
    let storage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/accounts/self/sis_imports"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 79, "workflow_state": "initializing",
            "pre_attachment": {"upload_url": format!("{}/slow", storage.uri()), "upload_params": {}}
        })))
        .expect(1)
        .mount(&canvas)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/accounts/self/sis_imports/79"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 79, "workflow_state": "initializing"})),
        )
        .mount(&canvas)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/v1/accounts/self/sis_imports/79/abort"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 79, "workflow_state": "aborted"})),
        )
        .expect(1)
        .mount(&canvas)
        .await;
    // The storage host never answers in time: the caller gives up (as on Ctrl-C).
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(201).set_delay(std::time::Duration::from_secs(30)))
        .mount(&storage)
        .await;
    let c = client_for_tests(&canvas.uri(), "T", "self").unwrap();
    let pending = canvas_sis::canvas::upload::Pending::default();
    let q = query(&b);
    let fut = file_upload_observed(&c, &b, &q, None, &pending);
    // Give up once step 1 is done and step 2 hangs, as a Ctrl-C handler would.
    let interrupt = async {
        for _ in 0..500 {
            if pending.id() != 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    tokio::select! {
        r = fut => panic!("the upload should hang, got {r:?}"),
        _ = interrupt => {}
    }
    let id = pending.id();
    assert_eq!(id, 79, "step 1's import id is known to the caller");
    assert!(abort_waiting(&c, id).await, "the waiting import is aborted");
}
