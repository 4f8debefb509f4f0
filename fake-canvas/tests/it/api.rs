//! Behaviour groups of the simulator, over loopback with a plain HTTP client.

use std::collections::HashSet;

use crate::support::*;
use fake_canvas::{Config, Scenario, zip_of};
use serde_json::Value;

#[test]
fn create_poll_terminal_with_counts_and_error_file() {
    let h = start(Scenario::Ok);
    let created = create_zip(&h, sample_zip());
    assert_eq!(created["workflow_state"], "created");
    for k in [
        "id",
        "created_at",
        "started_at",
        "ended_at",
        "updated_at",
        "progress",
        "data",
        "batch_mode",
        "batch_mode_term_id",
        "multi_term_batch_mode",
        "override_sis_stickiness",
        "add_sis_stickiness",
        "clear_sis_stickiness",
        "update_sis_id_if_login_claimed",
        "skip_deletes",
        "diffing_data_set_identifier",
        "diffing_remaster",
        "diffed_against_import_id",
        "diffing_drop_status",
        "diffing_user_remove_status",
        "change_threshold",
        "diff_row_count_threshold",
        "user",
    ] {
        assert!(created.get(k).is_some(), "missing key {k}");
    }
    assert!(created.get("processing_warnings").is_none());
    let id = created["id"].as_u64().unwrap();

    // created → importing (progress ≤ 99) → terminal.
    let first = show(&h, id);
    assert_eq!(first["workflow_state"], "importing");
    assert!(first["progress"].as_u64().unwrap() <= 99);
    assert_eq!(
        first["data"]["supplied_batches"],
        serde_json::json!(["course", "user", "enrollment"])
    );
    let done = poll_to_end(&h, id, 10);
    assert_eq!(done["workflow_state"], "imported_with_messages");
    assert_eq!(done["progress"], 100);
    assert!(done["ended_at"].is_string());
    let counts = &done["data"]["counts"];
    assert_eq!(counts["users"], 2);
    assert_eq!(counts["courses"], 1);
    assert_eq!(counts["enrollments"], 2);
    assert_eq!(counts["warning_count"], 1);
    assert_eq!(counts["error_count"], 0);
    assert_eq!(counts["group_memberships"], 0);
    assert_eq!(
        done["processing_warnings"],
        serde_json::json!([["users.csv", "Improper status for user u3"]])
    );
    assert!(done["data"]["statistics"]["Enrollment"]["deactivated"].is_number());
    // The error file shows up one poll after the terminal state.
    assert!(done.get("errors_attachment").is_none());
    let later = show(&h, id);
    let url = later["errors_attachment"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with(&h.files_url()), "{url}");

    // The API host's download redirects to the files host, which serves the CSV.
    let fid = later["errors_attachment"]["id"].as_u64().unwrap();
    let r = get(&h, &format!("/files/{fid}/download"));
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(&h.files_url()));
    let csv = client().get(&loc).send().unwrap().text().unwrap();
    assert_eq!(
        csv,
        format!("sis_import_id,file,message,row\n{id},users.csv,Improper status for user u3,4\n")
    );
    let reqs = h.requests();
    let files_req = reqs.iter().find(|r| r.listener == "files").unwrap();
    assert!(files_req.header("authorization").is_none());
    assert_eq!(files_req.status, 200);
    let post = reqs.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.body_len, sample_zip().len() as u64);
    assert_eq!(post.body_sha256.len(), 64);
    assert_eq!(h.created_count(), 1);
    assert_eq!(h.imports()[0]["id"], id);
    h.shutdown();
}

#[test]
fn content_rules_single_csv_xml_bad_headers_and_multipart() {
    let h = start(Scenario::Ok);
    // A CSV as text/csv: one kind, counted.
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .header("content-type", "text/csv")
            .body("term_id,name,status\nT1,Fall,active\n"),
    );
    let id = json(r)["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "imported");
    assert_eq!(v["data"]["counts"]["terms"], 1);
    // xml imports nothing and ends imported.
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}?extension=xml", h.url()))
            .body("<enterprise/>"),
    );
    let id = json(r)["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "imported");
    assert_eq!(v["data"]["supplied_batches"], serde_json::json!([]));
    // Unrecognised header → failed_with_messages; progress stays below 100.
    let id = create_zip(&h, zip_of(&[("x.csv", b"foo,bar\n1,2\n")]))["id"]
        .as_u64()
        .unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "failed_with_messages");
    assert_eq!(
        v["processing_errors"],
        serde_json::json!([["x.csv", "Couldn't find Canvas CSV import headers"]])
    );
    assert!(v["progress"].as_u64().unwrap() < 100);
    // Multipart with an `attachment` field.
    let form = reqwest::blocking::multipart::Form::new().part(
        "attachment",
        reqwest::blocking::multipart::Part::bytes(
            b"user_id,login_id,status\nu1,l1,active\n".to_vec(),
        )
        .file_name("people.csv"),
    );
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .multipart(form),
    );
    assert_eq!(r.status(), 200);
    let id = json(r)["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["data"]["counts"]["users"], 1);
    // A not-a-zip as octet-stream is read as a zip and fails.
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .header("content-type", "application/octet-stream")
            .body("user_id,login_id,status\n"),
    );
    let id = json(r)["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    assert_eq!(v["workflow_state"], "failed_with_messages");
    assert!(
        v["processing_errors"][0][1]
            .as_str()
            .unwrap()
            .starts_with("Error while importing CSV. Please contact support.")
    );
}

#[test]
fn one_processing_strand_per_account() {
    let h = start(Scenario::Ok);
    let a = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let b = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    assert_eq!(show(&h, a)["workflow_state"], "importing");
    assert_eq!(show(&h, b)["workflow_state"], "created");
    let imp = json(get(&h, &format!("{IMPORTS}/importing")));
    let ids: Vec<u64> = imp["sis_imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![a]);
    poll_to_end(&h, a, 10);
    assert_eq!(show(&h, b)["workflow_state"], "importing");
}

#[test]
fn list_pagination_follows_next_without_last() {
    let h = start_with(Config {
        seed_imports: 25,
        ..Default::default()
    });
    let mut url = format!("{}{IMPORTS}?per_page=10", h.url());
    let mut seen = Vec::new();
    for _ in 0..10 {
        let r = authed(&h, client().get(&url));
        assert_eq!(r.status(), 200);
        let l = links(&r);
        assert!(link(&l, "last").is_none());
        let rels: Vec<&str> = l.iter().map(|(r, _)| r.as_str()).collect();
        let order = ["current", "next", "prev", "first"];
        let positions: Vec<usize> = rels
            .iter()
            .map(|r| order.iter().position(|o| o == r).unwrap())
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{rels:?}");
        let v = json(r);
        for item in v["sis_imports"].as_array().unwrap() {
            seen.push((
                item["id"].as_u64().unwrap(),
                item["created_at"].as_str().unwrap().to_string(),
            ));
        }
        match link(&l, "next") {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let ids: HashSet<u64> = seen.iter().map(|(i, _)| *i).collect();
    assert_eq!(ids.len(), 25, "no duplicates");
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");
    assert_eq!(h.created_count(), 0);
    assert_eq!(h.imports().len(), 25);

    // Filters: workflow_state[] (unknown dropped) and strict created_since.
    let r = get(
        &h,
        &format!("{IMPORTS}?workflow_state[]=imported&workflow_state[]=nonsense&per_page=100"),
    );
    let l = links(&r);
    assert!(
        link(&l, "current")
            .unwrap()
            .contains("workflow_state%5B%5D=imported")
    );
    assert!(
        link(&l, "current")
            .unwrap()
            .ends_with("page=1&per_page=100")
    );
    let v = json(r);
    let items = v["sis_imports"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["workflow_state"] == "imported"));
    let newest = seen[0].1.clone();
    let v = json(get(&h, &format!("{IMPORTS}?created_since={newest}")));
    assert_eq!(v["sis_imports"].as_array().unwrap().len(), 0);
    let v = json(get(
        &h,
        &format!("{IMPORTS}?created_before={newest}&per_page=100"),
    ));
    assert_eq!(v["sis_imports"].as_array().unwrap().len(), 24);
    // Past the end: empty, not 404.
    let r = get(&h, &format!("{IMPORTS}?page=9"));
    assert_eq!(r.status(), 200);
    assert_eq!(json(r)["sis_imports"], serde_json::json!([]));
}

#[test]
fn abort_rules() {
    let h = start(Scenario::StuckCreated);
    let a = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let b = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    assert_eq!(show(&h, a)["workflow_state"], "created");
    let r = put(&h, &format!("{IMPORTS}/{a}/abort"));
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["workflow_state"], "aborted");
    assert!(v["ended_at"].is_null());
    // Already finished → 404; unknown → 404.
    assert_eq!(put(&h, &format!("{IMPORTS}/{a}/abort")).status(), 404);
    assert_eq!(put(&h, &format!("{IMPORTS}/99999/abort")).status(), 404);
    // abort_all_pending.
    let r = put(&h, &format!("{IMPORTS}/abort_all_pending"));
    assert_eq!(r.status(), 200);
    assert_eq!(json(r), serde_json::json!({"aborted": true}));
    let v = show(&h, b);
    assert_eq!(v["workflow_state"], "aborted");
    assert_eq!(v["progress"], 100);

    // A finished import cannot be aborted.
    let h = start(Scenario::Ok);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    poll_to_end(&h, id, 10);
    let r = put(&h, &format!("{IMPORTS}/{id}/abort"));
    assert_eq!(r.status(), 404);
    assert_eq!(
        json(r),
        serde_json::json!({"errors":[{"message":"The specified resource does not exist."}]})
    );
}

#[test]
fn restore_states_and_progress() {
    let h = start_with(Config {
        seed_imports: 2,
        ..Default::default()
    });
    let ids: Vec<u64> = h
        .imports()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    let r = put(
        &h,
        &format!(
            "{IMPORTS}/{}/restore_states?undelete_only=1&unconclude_only=true",
            ids[0]
        ),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        Value::String("cannot set both undelete_only and unconclude_only".into())
    );
    let r = put(&h, &format!("{IMPORTS}/{}/restore_states", ids[0]));
    assert_eq!(r.status(), 200);
    let p = json(r);
    assert_eq!(p["workflow_state"], "queued");
    assert_eq!(p["context_type"], "SisBatch");
    assert_eq!(p["context_id"], ids[0]);
    let url = p["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{}/api/v1/progress/", h.url())));
    // `restore_states_later` only queues the job: the batch changes when it starts.
    let state_now = |id: u64| {
        h.imports().into_iter().find(|v| v["id"] == id).unwrap()["workflow_state"].clone()
    };
    assert_eq!(state_now(ids[0]), "imported");
    let mut states = Vec::new();
    let mut batch = Vec::new();
    for _ in 0..5 {
        let v = json(authed(&h, client().get(&url)));
        states.push(v["workflow_state"].as_str().unwrap().to_string());
        batch.push(state_now(ids[0]));
        if v["workflow_state"] == "completed" {
            break;
        }
    }
    assert_eq!(states, vec!["running", "completed"]);
    assert_eq!(batch, vec!["restoring", "restored"]);
    assert_eq!(show(&h, ids[0])["workflow_state"], "restored");
    // Any flag → partially_restored.
    let p = json(put(
        &h,
        &format!("{IMPORTS}/{}/restore_states?batch_mode=true", ids[1]),
    ));
    let url = p["url"].as_str().unwrap().to_string();
    for _ in 0..2 {
        json(authed(&h, client().get(&url)));
    }
    assert_eq!(show(&h, ids[1])["workflow_state"], "partially_restored");
    assert_eq!(get(&h, "/api/v1/progress/424242").status(), 404);
}

#[test]
fn errors_endpoint_paginates_with_last() {
    let h = start_with(Config {
        extra_warnings: 30,
        ..Default::default()
    });
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let v = poll_to_end(&h, id, 10);
    // 1 content warning + 30 generated; the inline list is capped at 24 + summary.
    assert_eq!(v["data"]["counts"]["warning_count"], 31);
    let pw = v["processing_warnings"].as_array().unwrap();
    assert_eq!(pw.len(), 25);
    assert_eq!(
        pw[24],
        serde_json::json!([
            "and 7 more warnings that were not included",
            "Download the error file to see all warnings."
        ])
    );
    let mut url = format!("{}{IMPORTS}/{id}/errors?per_page=10", h.url());
    let mut rows = 0;
    for page in 1..=10 {
        let r = authed(&h, client().get(&url));
        let l = links(&r);
        assert!(
            link(&l, "last").unwrap().contains("page=4&per_page=10"),
            "{l:?}"
        );
        let v = json(r);
        let list = v["sis_import_errors"].as_array().unwrap();
        for e in list {
            assert_eq!(e["sis_import_id"], id);
            assert!(e.get("file").is_some() && e.get("row").is_some());
        }
        rows += list.len();
        match link(&l, "next") {
            Some(n) => url = n.to_string(),
            None => {
                assert_eq!(page, 4);
                break;
            }
        }
    }
    assert_eq!(rows, 31);
    let v = json(get(&h, &format!("{IMPORTS}/{id}/errors?failure=true")));
    assert_eq!(v["sis_import_errors"], serde_json::json!([]));
    let v = json(get(
        &h,
        "/api/v1/accounts/self/sis_import_errors?per_page=100",
    ));
    assert_eq!(v["sis_import_errors"].as_array().unwrap().len(), 31);
    assert_eq!(get(&h, &format!("{IMPORTS}/777777/errors")).status(), 404);
}

#[test]
fn validations_and_stuck_initializing() {
    let h = start(Scenario::Ok);
    let post = |q: &str| {
        authed(
            &h,
            client()
                .post(format!("{}{IMPORTS}?{q}", h.url()))
                .header("content-type", "application/zip")
                .body(sample_zip()),
        )
    };
    // Before the batch is saved: nothing is created.
    // §10.1: hosted Canvas knows instructure_csv and ims_xml; another type is a 500.
    let r = post("import_type=no_such_type");
    assert_eq!(r.status(), 500);
    assert_eq!(json(r)["errors"][0]["error_code"], "internal_server_error");
    let r = post("batch_mode=true&batch_mode_term_id=sis_term_id%3Anope");
    assert_eq!(r.status(), 404);
    let r = post("batch_mode=true");
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"message":"Batch mode specified, but the given batch_mode_term_id cannot be found."})
    );
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .header("content-type", "text/csv; charset=ISO-8859-1")
            .body("user_id,login_id,status\n"),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"error":"Invalid content type, UTF-8 required"})
    );
    let form = reqwest::blocking::multipart::Form::new().text("import_type", "instructure_csv");
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .multipart(form),
    );
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"error":true,"error_message":"Missing attachment"})
    );
    assert_eq!(h.created_count(), 0);

    // After the save: the batch stays in initializing and shows in the list.
    let r = post("multi_term_batch_mode=true");
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"message":"change_threshold is required to use multi term_batch mode."})
    );
    let r = post("diffing_data_set_identifier=x&diffing_drop_status=gone");
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"message":"Invalid diffing_drop_status"})
    );
    let r = post("diffing_user_remove_status=gone");
    assert_eq!(r.status(), 400);
    let r = post("batch_mode_enrollment_drop_status=gone");
    assert_eq!(r.status(), 400);
    let long = "x".repeat(129);
    let r = post(&format!("diffing_data_set_identifier={long}"));
    assert_eq!(r.status(), 422);
    assert_eq!(h.created_count(), 5);
    let v = json(get(&h, IMPORTS));
    let list = v["sis_imports"].as_array().unwrap();
    assert_eq!(list.len(), 5);
    assert!(list.iter().all(|i| i["workflow_state"] == "initializing"));

    // Valid batch mode with a known term; diffing is ignored in batch mode.
    let r =
        post("batch_mode=1&batch_mode_term_id=sis_term_id%3A2026-FA&diffing_data_set_identifier=d");
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["batch_mode"], true);
    assert_eq!(v["batch_mode_term_id"], 5);
    assert!(v["diffing_data_set_identifier"].is_null());
}

#[test]
fn auth_and_accounts() {
    let h = start(Scenario::Ok);
    let c = client();
    let r = c.get(format!("{}{IMPORTS}", h.url())).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"canvas-lms\""
    );
    assert_eq!(
        json(r),
        serde_json::json!({"status":"unauthenticated","errors":[{"message":"user authorization required"}]})
    );
    let r = c
        .get(format!("{}{IMPORTS}", h.url()))
        .bearer_auth("wrong")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(json(r)["errors"][0]["message"], "Invalid access token.");
    let r = c
        .get(format!("{}{IMPORTS}?access_token={}", h.url(), h.token()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json; charset=utf-8")
    );
    assert!(r.headers().contains_key("x-request-cost"));
    assert!(r.headers().contains_key("x-rate-limit-remaining"));

    let r = get(&h, "/api/v1/accounts/sis_account_id%3Asub/sis_imports");
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(r),
        serde_json::json!({"errors":["SIS imports can only be executed on root accounts"]})
    );
    let r = get(&h, "/api/v1/accounts/3/sis_imports.json");
    assert_eq!(r.status(), 403);
    assert_eq!(
        json(r),
        serde_json::json!({"errors":["SIS imports are not enabled for this account"]})
    );
    assert_eq!(get(&h, "/api/v1/accounts/42/sis_imports").status(), 404);
    assert_eq!(
        get(&h, "/api/v1/accounts/sis_account_id%3Aroot/sis_imports").status(),
        200
    );
    let me = json(get(&h, "/api/v1/users/self"));
    assert_eq!(me["id"], 1);
    assert_eq!(me["name"], "Sandbox Admin");
    let acct = json(get(&h, "/api/v1/accounts/1"));
    assert_eq!(acct["name"], "Fake University");
    assert!(acct["parent_account_id"].is_null());
    assert!(acct["root_account_id"].is_null());
}

/// `GET /accounts/:id/terms/:id` (TermsApiController#show): a term by Canvas id,
/// `sis_term_id:X`, `default` or `current`, with its SIS id; 404 for none.
#[test]
fn a_term_is_found_by_any_id_canvas_takes() {
    let h = start(Scenario::Ok);
    let fall = json(get(&h, "/api/v1/accounts/self/terms/sis_term_id%3A2026-FA"));
    assert_eq!(fall["sis_term_id"], "2026-FA");
    assert_eq!(fall["workflow_state"], "active");
    let id = fall["id"].as_u64().unwrap();
    let by_id = json(get(&h, &format!("/api/v1/accounts/self/terms/{id}")));
    assert_eq!(by_id["sis_term_id"], "2026-FA");
    assert_eq!(by_id["name"], fall["name"]);
    let default = json(get(&h, "/api/v1/accounts/1/terms/default"));
    assert_eq!(default["name"], "Default Term");
    assert!(default["sis_term_id"].is_null());
    assert_eq!(get(&h, "/api/v1/accounts/self/terms/999").status(), 404);
    assert_eq!(get(&h, "/api/v1/accounts/42/terms/1").status(), 404);
}

#[test]
fn file_upload_flow() {
    let h = start(Scenario::Ok);
    let r = authed(
        &h,
        client().post(format!(
            "{}{IMPORTS}?pre_attachment[name]=sis.zip&pre_attachment[size]=100",
            h.url()
        )),
    );
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["workflow_state"], "initializing");
    let pre = &v["pre_attachment"];
    let upload_url = pre["upload_url"].as_str().unwrap().to_string();
    assert!(upload_url.starts_with(&h.files_url()));
    assert_eq!(pre["file_param"], "file");
    let id = v["id"].as_u64().unwrap();

    let mut form = reqwest::blocking::multipart::Form::new();
    for (k, val) in pre["upload_params"].as_object().unwrap() {
        form = form.text(k.clone(), val.as_str().unwrap().to_string());
    }
    form = form.part(
        "file",
        reqwest::blocking::multipart::Part::bytes(sample_zip()).file_name("sis.zip"),
    );
    // No Canvas token on the upload.
    let r = client().post(&upload_url).multipart(form).send().unwrap();
    assert_eq!(r.status(), 201);
    let f = json(r);
    assert_eq!(f["size"], sample_zip().len());
    assert_eq!(h.imports()[0]["workflow_state"], "created");
    let done = poll_to_end(&h, id, 10);
    assert_eq!(done["data"]["counts"]["users"], 2);
    let up = h
        .requests()
        .into_iter()
        .find(|r| r.listener == "files")
        .unwrap();
    assert!(up.header("authorization").is_none());
    assert_eq!(up.status, 201);

    // JSON body form of step 1.
    let r = authed(
        &h,
        client()
            .post(format!("{}{IMPORTS}", h.url()))
            .json(&serde_json::json!({"pre_attachment":{"name":"a.csv","size":10}})),
    );
    let v = json(r);
    assert_eq!(v["workflow_state"], "initializing");
    assert!(v["pre_attachment"]["upload_url"].is_string());
}

/// §10.1, §10.2: an IMS Enterprise upload with `import_type=ims_xml` is accepted, and its
/// persons, groups (by typevalue) and person members are counted (`src/ims.rs`).
#[test]
fn ims_xml_is_accepted_and_its_records_counted() {
    let h = start(Scenario::Ok);
    let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<enterprise>
  <person><sourcedid><source>S</source><id>p1</id></sourcedid><userid>a</userid></person>
  <person><sourcedid><source>S</source><id>p2</id></sourcedid><userid>b</userid></person>
  <group><sourcedid><source>S</source><id>T</id></sourcedid><grouptype><typevalue level="1">Term</typevalue></grouptype><description><short>T</short></description></group>
  <group><sourcedid><source>S</source><id>C</id></sourcedid><grouptype><typevalue level="2">Course</typevalue></grouptype><description><short>C</short></description></group>
  <group><sourcedid><source>S</source><id>X</id></sourcedid><grouptype><typevalue level="3">Section</typevalue></grouptype><description><short>X</short></description></group>
  <membership><sourcedid><source>S</source><id>X</id></sourcedid>
    <member><sourcedid><source>S</source><id>p1</id></sourcedid><idtype>1</idtype><role roletype="01"><status>1</status></role></member>
    <member><sourcedid><source>S</source><id>p2</id></sourcedid><idtype>1</idtype><role roletype="02"><status>1</status></role></member>
  </membership>
</enterprise>
"#;
    let r = authed(
        &h,
        client()
            .post(format!(
                "{}{IMPORTS}?import_type=ims_xml&extension=xml",
                h.url()
            ))
            .header("content-type", "text/xml")
            .body(xml.to_vec()),
    );
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["data"]["import_type"], "ims_xml");
    let done = poll_to_end(&h, v["id"].as_u64().unwrap(), 60);
    assert_eq!(done["workflow_state"], "imported", "{done}");
    let c = &done["data"]["counts"];
    assert_eq!(
        (
            c["users"].as_u64(),
            c["terms"].as_u64(),
            c["courses"].as_u64(),
            c["sections"].as_u64(),
            c["enrollments"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1), Some(2)),
        "{done}"
    );
    // A zip of IMS files is read entry by entry.
    let z = fake_canvas::zip_of(&[
        ("a.xml", &xml[..]),
        ("b/c.xml", &xml[..]),
        ("notes.txt", b"x"),
    ]);
    let r = authed(
        &h,
        client()
            .post(format!(
                "{}{IMPORTS}?import_type=ims_xml&extension=zip",
                h.url()
            ))
            .header("content-type", "application/zip")
            .body(z),
    );
    let done = poll_to_end(&h, json(r)["id"].as_u64().unwrap(), 60);
    assert_eq!(done["data"]["counts"]["users"].as_u64(), Some(4), "{done}");
}

/// §7.2 (app/middleware/request_throttle.rb): each request in flight reserves the up-front
/// cost of 50 until it ends; `X-Request-Cost` is what the request was charged (this
/// simulator's constant 0.05).
#[test]
fn requests_in_flight_hold_the_up_front_cost() {
    let h = start_with(Config {
        scenario: Scenario::Hang,
        fault_count: 1,
        hang_for: std::time::Duration::from_secs(2),
        ..Default::default()
    });
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let remaining = |r: &reqwest::blocking::Response| {
        r.headers()["x-rate-limit-remaining"]
            .to_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
    };
    let alone = get(&h, IMPORTS);
    assert_eq!(alone.headers()["x-request-cost"], "0.05");
    assert!(remaining(&alone) > 599.0, "{}", remaining(&alone));
    // The first show hangs for 2 s: a request meanwhile reads 50 less.
    let (url, token) = (format!("{}{IMPORTS}/{id}", h.url()), h.token());
    let hung = std::thread::spawn(move || {
        client()
            .get(url)
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let during = get(&h, IMPORTS);
    let r = remaining(&during);
    assert!((549.0..=550.0).contains(&r), "{r}");
    assert_eq!(hung.join().unwrap(), 200);
    let after = get(&h, IMPORTS);
    assert!(remaining(&after) > 599.0, "{}", remaining(&after));
}
