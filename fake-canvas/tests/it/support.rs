//! What the simulator's tests share: a simulator per test and a blocking HTTP client with
//! its token, and the SisImport calls and polls they make.

use std::time::Duration;

use fake_canvas::{Config, Handle, Scenario};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub fn start(scenario: Scenario) -> Handle {
    start_with(Config {
        scenario,
        ..Default::default()
    })
}

pub fn start_with(cfg: Config) -> Handle {
    fake_canvas::spawn(cfg).expect("spawn fake-canvas")
}

pub fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn get(h: &Handle, path: &str) -> Response {
    authed(h, client().get(format!("{}{path}", h.url())))
}

pub fn put(h: &Handle, path: &str) -> Response {
    authed(h, client().put(format!("{}{path}", h.url())))
}

pub fn authed(h: &Handle, rb: RequestBuilder) -> Response {
    rb.bearer_auth(h.token()).send().expect("request")
}

pub fn json(r: Response) -> Value {
    let text = r.text().unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad json {e}: {text}"))
}

pub const IMPORTS: &str = "/api/v1/accounts/self/sis_imports";

pub fn sample_zip() -> Vec<u8> {
    fake_canvas::zip_of(&[
        (
            "users.csv",
            b"user_id,login_id,status\nu1,l1,active\nu2,l2,active\nu3,l3,bogus\n",
        ),
        (
            "courses.csv",
            b"course_id,short_name,long_name,status\nc1,C1,Course 1,active\n",
        ),
        (
            "enrollments.csv",
            b"course_id,user_id,role,status\nc1,u1,student,active\nc1,u2,teacher,active\n",
        ),
    ])
}

/// POST a raw zip; returns the created SisImport.
pub fn create_zip(h: &Handle, zip: Vec<u8>) -> Value {
    let r = authed(
        h,
        client()
            .post(format!("{}{IMPORTS}?import_type=instructure_csv", h.url()))
            .header("content-type", "application/zip")
            .body(zip),
    );
    assert_eq!(r.status(), 200);
    json(r)
}

pub fn show(h: &Handle, id: u64) -> Value {
    let r = get(h, &format!("{IMPORTS}/{id}"));
    assert_eq!(r.status(), 200);
    json(r)
}

pub const TERMINAL: &[&str] = &[
    "imported",
    "imported_with_messages",
    "failed",
    "failed_with_messages",
    "aborted",
    "restored",
    "partially_restored",
];

/// Poll show until terminal, at most `max` polls.
pub fn poll_to_end(h: &Handle, id: u64, max: usize) -> Value {
    for _ in 0..max {
        let v = show(h, id);
        if TERMINAL.contains(&v["workflow_state"].as_str().unwrap()) {
            return v;
        }
    }
    panic!("import {id} did not finish in {max} polls");
}

/// The rel → URL map of a Link header.
pub fn links(r: &Response) -> Vec<(String, String)> {
    let h = r
        .headers()
        .get("link")
        .expect("Link header")
        .to_str()
        .unwrap()
        .to_string();
    assert!(!h.contains(", <"), "no space after comma: {h}");
    h.split(',')
        .map(|part| {
            let (url, rel) = part.split_once("; rel=").unwrap();
            (
                rel.trim_matches('"').to_string(),
                url.trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
            )
        })
        .collect()
}

pub fn link<'a>(l: &'a [(String, String)], rel: &str) -> Option<&'a str> {
    l.iter().find(|(r, _)| r == rel).map(|(_, u)| u.as_str())
}
