//! Each scenario's first (faulty) answer, and its recovery where it has one.

use std::time::Duration;

use crate::support::*;
use fake_canvas::{Config, Scenario, zip_of};

#[test]
fn names_round_trip() {
    assert_eq!(Scenario::ALL.len(), 17);
    for s in Scenario::ALL {
        assert_eq!(s.to_string().parse::<Scenario>().unwrap(), *s);
    }
    assert_eq!(
        "unavailable-503-before-create".parse::<Scenario>().unwrap(),
        Scenario::Unavailable503BeforeCreate
    );
    assert!("nope".parse::<Scenario>().is_err());
}

#[test]
fn throttled_403_then_recovers() {
    let h = start(Scenario::Throttled403);
    for _ in 0..2 {
        let r = get(&h, IMPORTS);
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-rate-limit-remaining"], "0.0");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert!(!r.headers().contains_key("x-request-cost"));
        assert_eq!(r.text().unwrap(), "403 Forbidden (Rate Limit Exceeded)\n");
    }
    assert_eq!(get(&h, IMPORTS).status(), 200);
}

#[test]
fn throttled_429_has_retry_after() {
    let h = start_with(Config {
        scenario: Scenario::Throttled429,
        fault_count: 1,
        ..Default::default()
    });
    let r = get(&h, IMPORTS);
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert!(r.text().unwrap().contains("Rate Limit Exceeded"));
    assert_eq!(get(&h, IMPORTS).status(), 200);
}

#[test]
fn flaky_5xx_per_kind() {
    let h = start(Scenario::Flaky5xx);
    let a = get(&h, IMPORTS);
    assert_eq!(a.status(), 502);
    assert!(a.text().unwrap().contains("<html>"));
    assert_eq!(get(&h, IMPORTS).status(), 503);
    assert_eq!(get(&h, IMPORTS).status(), 200);
    // Another kind of request has its own faults.
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .header("content-type", "application/zip")
            .body(sample_zip()),
    );
    assert_eq!(r.status(), 502);
    assert_eq!(h.created_count(), 0);
}

#[test]
fn unavailable_503_before_create_creates_nothing() {
    let h = start(Scenario::Unavailable503BeforeCreate);
    let send = || {
        authed(
            &h,
            client()
                .post(format!("{}{IMPORTS}", h.url()))
                .header("content-type", "application/zip")
                .body(sample_zip()),
        )
    };
    assert_eq!(send().status(), 503);
    assert_eq!(send().status(), 503);
    assert_eq!(h.created_count(), 0);
    assert_eq!(send().status(), 200);
    assert_eq!(h.created_count(), 1);
}

#[test]
fn drop_after_create_gives_connection_error_and_one_batch() {
    let h = start(Scenario::DropAfterCreate);
    let r = client()
        .post(format!("{}{IMPORTS}", h.url()))
        .bearer_auth(h.token())
        .header("content-type", "application/zip")
        .body(sample_zip())
        .send();
    assert!(r.is_err(), "expected a connection error, got {r:?}");
    assert_eq!(h.created_count(), 1);
    assert_eq!(h.imports()[0]["workflow_state"], "created");
    let post = h
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.status, 0);
    // A second POST is answered.
    create_zip(&h, sample_zip());
    assert_eq!(h.created_count(), 2);
}

#[test]
fn drop_after_pre_attachment_leaves_one_initializing_batch() {
    let h = start(Scenario::DropAfterPreAttachment);
    let step1 = || {
        client()
            .post(format!(
                "{}{IMPORTS}?pre_attachment[name]=a.zip&pre_attachment[size]=10",
                h.url()
            ))
            .bearer_auth(h.token())
            .send()
    };
    let r = step1();
    assert!(r.is_err(), "expected a connection error, got {r:?}");
    assert_eq!(h.created_count(), 1);
    assert_eq!(h.imports()[0]["workflow_state"], "initializing");
    // The show and list answers do not repeat the upload instructions.
    assert!(h.imports()[0].get("pre_attachment").is_none());
    // The next step 1 is answered.
    let v = json(step1().unwrap());
    assert!(v["pre_attachment"]["upload_url"].is_string(), "{v}");
    assert_eq!(h.created_count(), 2);
}

#[test]
fn hang_truncated_and_html_show_faults() {
    let h = start_with(Config {
        scenario: Scenario::Hang,
        fault_count: 1,
        hang_for: Duration::from_secs(30),
        ..Default::default()
    });
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let quick = reqwest::blocking::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let r = quick
        .get(format!("{}{IMPORTS}/{id}", h.url()))
        .bearer_auth(h.token())
        .send();
    assert!(r.is_err(), "hang should time out");
    assert_eq!(show(&h, id)["id"], id);
    // Shutting down does not wait for the sleeping request.
    h.shutdown();

    let h = start_with(Config {
        scenario: Scenario::TruncatedJson,
        fault_count: 1,
        ..Default::default()
    });
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let r = get(&h, &format!("{IMPORTS}/{id}"));
    assert_eq!(r.status(), 200);
    let text = r.text().unwrap();
    assert!(text.starts_with('{'));
    assert!(serde_json::from_str::<serde_json::Value>(&text).is_err());
    assert_eq!(show(&h, id)["id"], id);

    let h = start(Scenario::Html200);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let r = get(&h, &format!("{IMPORTS}/{id}"));
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().unwrap().contains("maintenance"));
}

#[test]
fn rate_limit_decreasing() {
    let h = start(Scenario::RateLimitDecreasing);
    let mut seen = Vec::new();
    for _ in 0..6 {
        let r = get(&h, "/api/v1/users/self");
        let rem: f64 = r.headers()["x-rate-limit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        seen.push((r.status().as_u16(), rem));
        if r.status() == 403 {
            assert_eq!(r.text().unwrap(), "403 Forbidden (Rate Limit Exceeded)\n");
            break;
        }
    }
    assert!(seen[0].1 >= 599.0, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1].1 < w[0].1), "{seen:?}");
    assert_eq!(seen.last().unwrap().0, 403, "{seen:?}");
}

#[test]
fn outcome_scenarios() {
    // warnings
    let h = start(Scenario::Warnings);
    let id = create_zip(
        &h,
        zip_of(&[("u.csv", b"user_id,login_id,status\nu1,l1,active\n")]),
    )["id"]
        .as_u64()
        .unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "imported_with_messages");
    assert!(v["processing_warnings"].is_array());
    // failed
    let h = start(Scenario::Failed);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "failed_with_messages");
    assert!(v["processing_errors"].is_array());
    assert!(v["progress"].as_u64().unwrap() < 100);
    // aborted by Canvas itself
    let h = start(Scenario::Aborted);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "aborted");
    // Canvas aborted it itself (change_threshold): it ends like a finished batch (§2.5).
    assert!(v["ended_at"].is_string(), "{v}");
    assert_eq!(v["progress"], 100);
    let ws = v["processing_warnings"].as_array().unwrap();
    assert!(
        ws.iter().any(|w| w[1]
            .as_str()
            .unwrap()
            .ends_with("enrollments would be deleted and exceeds the set threshold of 10%")),
        "{ws:?}"
    );
    // slow
    let h = start(Scenario::Slow);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    for _ in 0..20 {
        let v = show(&h, id);
        assert!(v["progress"].as_u64().unwrap() <= 99);
        assert_ne!(v["workflow_state"], "imported");
    }
    assert_eq!(show(&h, id)["workflow_state"], "importing");
    // stuck-created
    let h = start(Scenario::StuckCreated);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    for _ in 0..10 {
        assert_eq!(show(&h, id)["workflow_state"], "created");
    }
    // ignore-pre-attachment
    let h = start(Scenario::IgnorePreAttachment);
    let r = authed(
        &h,
        client().post(format!(
            "{}{IMPORTS}?pre_attachment[name]=a.zip&pre_attachment[size]=10",
            h.url()
        )),
    );
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["workflow_state"], "created");
    assert!(v.get("pre_attachment").is_none());
}

#[test]
fn spawn_works_inside_another_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let h = fake_canvas::spawn(Config::default()).unwrap();
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/users/self", h.url()))
            .bearer_auth(h.token())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        drop(h);
    });
}
