//! One-off protocol edge cases that the simulator does not model, against wiremock.

mod common;

use common::*;
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
    let out = bare_cmd(home.path())
        .env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .args(["watch", "7", "--interval", "0"])
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
    let out = bare_cmd(home.path())
        .env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t")
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
    let out = bare_cmd(home.path())
        .env("CANVAS_BASE_URL", server.uri())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .args(["--retry-budget", "1s", "status", "7"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
}
