//! Simulator fidelity (issue 16 §3): each test pins one behaviour to the Canvas source it
//! follows (paths in instructure/canvas-lms) and to `shared/reference/canvas-sis-api.md`.

use crate::support::*;
use fake_canvas::{Config, Handle, Scenario, zip_of};
use serde_json::{Value, json};

/// The same path on `http://localhost:PORT` instead of `http://127.0.0.1:PORT`.
fn localhost(h: &Handle) -> String {
    h.url().replace("127.0.0.1", "localhost")
}

fn post_zip(h: &Handle, query: &str, zip: Vec<u8>) -> Value {
    let r = authed(
        h,
        client()
            .post(format!("{}{IMPORTS}?{query}", h.url()))
            .header("content-type", "application/zip")
            .body(zip),
    );
    assert_eq!(r.status(), 200);
    json(r)
}

/// Show-polls until terminal (at most `max`); every state seen, in order, and the last JSON.
fn states_to_end(h: &Handle, id: u64, max: usize) -> (Vec<String>, Value) {
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..max {
        let v = show(h, id);
        let s = v["workflow_state"].as_str().unwrap().to_string();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if TERMINAL.contains(&s.as_str()) {
            return (seen, v);
        }
    }
    panic!("import {id} did not finish in {max} polls: {seen:?}");
}

/// Link and Progress URLs come from the request's scheme and host, as Rails URL helpers
/// build them: `api_v1_account_sis_imports_url` handed to `Api.paginate`
/// (app/controllers/sis_imports_api_controller.rb, lib/api.rb `build_links_hash`) and
/// `polymorphic_url([:api_v1, progress])` (lib/api/v1/progress.rb). §2.7, §7.4.
#[test]
fn link_and_progress_urls_follow_the_request_host() {
    let h = start_with(Config {
        seed_imports: 25,
        ..Default::default()
    });
    let base = localhost(&h);
    // Every page through localhost: each next link stays on localhost.
    let mut url = format!(
        "{base}{IMPORTS}?per_page=10&workflow_state[]=imported&workflow_state[]=aborted&workflow_state[]=failed&workflow_state[]=failed_with_messages&workflow_state[]=imported_with_messages"
    );
    let mut ids = Vec::new();
    let mut pages = 0;
    for _ in 0..10 {
        let r = authed(&h, client().get(&url));
        assert_eq!(r.status(), 200, "{url}");
        let l = links(&r);
        for (rel, u) in &l {
            assert!(u.starts_with(&format!("{base}{IMPORTS}?")), "{rel}: {u}");
        }
        pages += 1;
        for i in json(r)["sis_imports"].as_array().unwrap() {
            ids.push(i["id"].as_u64().unwrap());
        }
        match link(&l, "next") {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(ids.len(), 25);

    // Behind a TLS proxy: the Host it forwards and X-Forwarded-Proto.
    let r = authed(
        &h,
        client()
            .get(format!("{}{IMPORTS}?per_page=5", h.url()))
            .header("host", "canvas.example.test:8443")
            .header("x-forwarded-proto", "https"),
    );
    let l = links(&r);
    assert_eq!(
        link(&l, "next").unwrap(),
        format!("https://canvas.example.test:8443{IMPORTS}?page=2&per_page=5")
    );
    // The errors list builds its links the same way.
    let r = authed(
        &h,
        client().get(format!("{base}/api/v1/accounts/self/sis_import_errors")),
    );
    assert!(link(&links(&r), "first").unwrap().starts_with(&base));

    // restore_states' Progress and its polls.
    let id = h.imports()[0]["id"].as_u64().unwrap();
    let p = json(authed(
        &h,
        client().put(format!("{base}{IMPORTS}/{id}/restore_states")),
    ));
    let purl = p["url"].as_str().unwrap().to_string();
    assert!(
        purl.starts_with(&format!("{base}/api/v1/progress/")),
        "{purl}"
    );
    let q = json(authed(&h, client().get(&purl)));
    assert_eq!(q["url"], purl.as_str());
    // Asked through 127.0.0.1, the same Progress names 127.0.0.1.
    let q = json(get(&h, &format!("/api/v1/progress/{}", p["id"])));
    assert!(q["url"].as_str().unwrap().starts_with(&h.url()));
}

/// Batch mode passes through `cleanup_batch`: `SisBatch#remove_previous_imports`
/// (app/models/sis_batch.rb) sets it before deleting what the batch did not mention, when
/// courses, sections or enrollments were supplied; `remove_non_batch_*` then record
/// `batch_<kind>_deleted` in `data.counts`. §3 (progress restarts from 0), §3.1, §4.
#[test]
fn batch_mode_import_passes_through_cleanup_batch() {
    let h = start(Scenario::Ok);
    let id = post_zip(&h, "batch_mode=true&batch_mode_term_id=1", sample_zip())["id"]
        .as_u64()
        .unwrap();
    // Shown once (created → importing), then followed through `importing` alone: each read
    // of it is a unit of time too (state.rs `tick`), and §2.3 lists cleanup_batch.
    let mut seen = vec![show(&h, id)["workflow_state"].as_str().unwrap().to_string()];
    let mut in_cleanup = None;
    for _ in 0..10 {
        let imp = json(get(&h, &format!("{IMPORTS}/importing")));
        let Some(v) = imp["sis_imports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .cloned()
        else {
            break;
        };
        let s = v["workflow_state"].as_str().unwrap().to_string();
        if s == "cleanup_batch" && in_cleanup.is_none() {
            in_cleanup = Some(v.clone());
        }
        if seen.last() != Some(&s) {
            seen.push(s);
        }
    }
    seen.push(show(&h, id)["workflow_state"].as_str().unwrap().to_string());
    assert_eq!(
        seen,
        ["importing", "cleanup_batch", "imported_with_messages"],
        "{seen:?}"
    );
    let c = in_cleanup.unwrap();
    assert_eq!(c["progress"], 0);
    assert!(c["ended_at"].is_null());
    let done = show(&h, id);
    assert_eq!(done["progress"], 100);
    let counts = &done["data"]["counts"];
    assert_eq!(counts["batch_courses_deleted"], 0);
    assert_eq!(counts["batch_enrollments_deleted"], 0);
    assert!(counts.get("batch_sections_deleted").is_none(), "{counts}");

    // Not in batch mode, or with nothing that cleanup deletes: no cleanup_batch.
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let (seen, v) = states_to_end(&h, id, 10);
    assert_eq!(seen, ["importing", "imported_with_messages"]);
    assert!(v["data"]["counts"].get("batch_courses_deleted").is_none());
    let users = zip_of(&[("u.csv", b"user_id,login_id,status\nu1,l1,active\n")]);
    let id = post_zip(&h, "batch_mode=true&batch_mode_term_id=1", users)["id"]
        .as_u64()
        .unwrap();
    assert_eq!(states_to_end(&h, id, 10).0, ["importing", "imported"]);
}

/// A batch Canvas aborts for `change_threshold`: `detect_change_item` calls `abort_batch`
/// and `change_detected_message` (naming the batch's `change_threshold`), then
/// `do_batch_end_work` still sets progress 100 and ended_at (app/models/sis_batch.rb).
/// §2.5, §3, §4.
#[test]
fn change_threshold_abort_ends_with_progress_100_and_names_the_threshold_sent() {
    let h = start(Scenario::Aborted);
    let id = post_zip(
        &h,
        "batch_mode=true&batch_mode_term_id=1&change_threshold=7",
        sample_zip(),
    )["id"]
        .as_u64()
        .unwrap();
    let (seen, v) = states_to_end(&h, id, 10);
    assert_eq!(seen, ["importing", "cleanup_batch", "aborted"]);
    assert_eq!(v["progress"], 100);
    assert!(v["ended_at"].is_string(), "{v}");
    assert_eq!(v["change_threshold"], 7);
    let warning = "12 enrollments would be deleted and exceeds the set threshold of 7%";
    let ws = v["processing_warnings"].as_array().unwrap();
    assert!(ws.contains(&json!([null, warning])), "{ws:?}");
    let errs = json(get(&h, &format!("{IMPORTS}/{id}/errors")));
    let rows = errs["sis_import_errors"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|e| e["message"] == warning && e["file"].is_null() && e["row"].is_null()),
        "{rows:?}"
    );

    // A seeded Canvas-aborted import ends the same way.
    let h = start_with(Config {
        seed_imports: 5,
        ..Default::default()
    });
    let seeded = h
        .imports()
        .into_iter()
        .find(|v| v["workflow_state"] == "aborted")
        .unwrap();
    assert_eq!(seeded["progress"], 100);
    assert!(seeded["ended_at"].is_string());
    assert_eq!(seeded["change_threshold"], 10);
}

/// The import's `user` is `user_json(batch.user, …)` (lib/api/v1/sis_import.rb), which for
/// an admin with manage_sis adds `sis_user_id`, `integration_id`, `sis_import_id` and
/// `login_id` (lib/api/v1/user.rb). §3.
#[test]
fn import_user_carries_the_sis_fields_of_user_json() {
    let h = start(Scenario::Ok);
    let v = create_zip(&h, sample_zip());
    let me = json(get(&h, "/api/v1/users/self"));
    let u = v["user"].as_object().unwrap();
    let mut keys: Vec<&str> = u.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "id",
            "integration_id",
            "login_id",
            "name",
            "short_name",
            "sis_import_id",
            "sis_user_id",
            "sortable_name"
        ]
    );
    for k in [
        "id",
        "name",
        "created_at",
        "sortable_name",
        "short_name",
        "sis_user_id",
        "integration_id",
        "login_id",
    ] {
        assert_eq!(u[k], me[k], "{k}");
    }
    assert!(u["sis_import_id"].is_null());
}

/// `diffing_threshold_exceeded` is a `default: false, null: false` column of sis_batches
/// (db/migrate), and `SisBatch#as_json` (app/models/sis_batch.rb) emits it whenever
/// `diffing_data_set_identifier` is set: false from creation, not null. §3.
#[test]
fn diffing_threshold_exceeded_is_false_from_creation() {
    let h = start(Scenario::Ok);
    let v = post_zip(&h, "diffing_data_set_identifier=nightly", sample_zip());
    assert_eq!(v["diffing_threshold_exceeded"], json!(false));
    let id = v["id"].as_u64().unwrap();
    let first = show(&h, id);
    assert_eq!(first["workflow_state"], "importing");
    assert_eq!(first["diffing_threshold_exceeded"], json!(false));
    assert_eq!(
        poll_to_end(&h, id, 10)["diffing_threshold_exceeded"],
        json!(false)
    );
    // Without an identifier the key is absent.
    assert!(
        create_zip(&h, sample_zip())
            .get("diffing_threshold_exceeded")
            .is_none()
    );
}

/// `errors_attachment` is `attachment_json` (lib/api/v1/attachment.rb) as
/// lib/api/v1/sis_import.rb calls it: every key current Canvas sends, `category` and
/// `upload_status` included, and a `download_frd`/`verifier` URL. §3.
#[test]
fn errors_attachment_is_a_full_attachment_json() {
    let h = start(Scenario::Ok);
    let id = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    poll_to_end(&h, id, 10);
    let v = show(&h, id);
    let a = v["errors_attachment"]
        .as_object()
        .expect("errors_attachment");
    let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = vec![
        "id",
        "uuid",
        "folder_id",
        "display_name",
        "filename",
        "upload_status",
        "content-type",
        "url",
        "size",
        "created_at",
        "updated_at",
        "unlock_at",
        "locked",
        "hidden",
        "lock_at",
        "hidden_for_user",
        "thumbnail_url",
        "modified_at",
        "mime_class",
        "media_entry_id",
        "category",
        "locked_for_user",
    ];
    want.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(a["category"], "uncategorized");
    assert_eq!(a["upload_status"], "success");
    assert_eq!(a["locked_for_user"], false);
    assert_eq!(a["hidden"], false);
    assert_eq!(
        a["display_name"],
        format!("sis_errors_attachment_{id}.csv").as_str()
    );
    let url = a["url"].as_str().unwrap();
    assert!(url.contains("download_frd=1&verifier="), "{url}");
    let r = client().get(url).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.text().unwrap().len() as u64,
        a["size"].as_u64().unwrap(),
        "size is the CSV's"
    );
}

/// A batch a user aborts while it waits in `created` keeps progress 0 and ended_at null
/// until the worker picks it up; `SisBatch#process_without_send_later`
/// (app/models/sis_batch.rb) then sets progress 100 and returns. §2.5.
#[test]
fn a_queued_batch_aborted_by_a_user_gets_progress_100_when_the_worker_picks_it_up() {
    let h = start(Scenario::Ok);
    let a = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let b = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    assert_eq!(show(&h, a)["workflow_state"], "importing");
    let r = json(put(&h, &format!("{IMPORTS}/{b}/abort")));
    assert_eq!(r["workflow_state"], "aborted");
    assert_eq!(r["progress"], 0);
    // `a` still runs ahead of it on the account's strand.
    let v = show(&h, b);
    assert_eq!(v["progress"], 0);
    poll_to_end(&h, a, 10);
    let v = show(&h, b);
    assert_eq!(v["workflow_state"], "aborted");
    assert_eq!(v["progress"], 100);
    assert!(v["ended_at"].is_null(), "a user abort leaves ended_at null");

    // A running batch a user aborts keeps its progress (the worker does not restart it).
    let c = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    let running = show(&h, c)["progress"].clone();
    put(&h, &format!("{IMPORTS}/{c}/abort"));
    for _ in 0..3 {
        assert_eq!(show(&h, c)["progress"], running);
    }

    // With the strand stuck, nothing ever picks it up.
    let h = start(Scenario::StuckCreated);
    let d = create_zip(&h, sample_zip())["id"].as_u64().unwrap();
    put(&h, &format!("{IMPORTS}/{d}/abort"));
    for _ in 0..3 {
        assert_eq!(show(&h, d)["progress"], 0);
    }
}

/// Canvas processes an import as a queued job on the account's strand (`SisBatch#process`,
/// app/models/sis_batch.rb, queued by `SisImportsApiController#create`): nothing waits for
/// the client to show the import. A client that polls only the list, or only `importing`,
/// sees its import finish; here each such read is a unit of time (state.rs `tick`), as a
/// show-poll is. §2.2, §2.3, §4.
#[test]
fn imports_move_on_for_a_client_that_polls_only_the_list_or_importing() {
    let h = start(Scenario::Ok);
    let a = post_zip(&h, "", sample_zip())["id"].as_u64().unwrap();
    let mut seen = Vec::new();
    let mut attached = Vec::new();
    for _ in 0..5 {
        let list = json(get(&h, &format!("{IMPORTS}?per_page=100")));
        let v = list["sis_imports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == a)
            .cloned()
            .unwrap();
        seen.push((
            v["workflow_state"].as_str().unwrap().to_string(),
            v["progress"].as_u64().unwrap(),
        ));
        attached.push(v.get("errors_attachment").is_some());
    }
    let s = |x: &str, p: u64| (x.to_string(), p);
    assert_eq!(
        seen,
        [
            s("importing", 0),
            s("importing", 33),
            s("importing", 66),
            s("imported_with_messages", 100),
            s("imported_with_messages", 100),
        ]
    );
    // The error file is written after the end: one read later.
    assert_eq!(attached, [false, false, false, false, true]);

    // `importing` alone: the import shows there until it ends, then leaves the list.
    let b = post_zip(&h, "", sample_zip())["id"].as_u64().unwrap();
    let mut progress = Vec::new();
    for _ in 0..5 {
        let imp = json(get(&h, &format!("{IMPORTS}/importing")));
        let ids: Vec<Value> = imp["sis_imports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["progress"].clone())
            .collect();
        progress.push(ids);
    }
    assert_eq!(
        progress,
        [
            vec![json!(0)],
            vec![json!(33)],
            vec![json!(66)],
            vec![],
            vec![]
        ]
    );
    assert_eq!(
        h.imports().iter().find(|v| v["id"] == b).unwrap()["workflow_state"],
        "imported_with_messages"
    );
    // Neither import was ever shown.
    assert!(
        h.requests()
            .iter()
            .all(|r| !r.path.starts_with(&format!("{IMPORTS}/{a}"))
                && !r.path.starts_with(&format!("{IMPORTS}/{b}"))),
        "a show was sent"
    );
}

/// `csv_attachments` and `data.downloadable_attachment_ids` (§3, §3.1): when processing
/// starts, `ImportRefactored#prepare` (lib/sis/csv/import_refactored.rb) stores a copy of
/// each file (`create_batch_attachment`) and lists the ids of the recognised CSVs; a users
/// file with `password`/`ssha_password` columns is stored filtered as `<name>_filtered.csv`
/// (`HEADERS_TO_EXCLUDE_FOR_DOWNLOAD`). `sis_import_json` (lib/api/v1/sis_import.rb) renders
/// them with `attachments_json` only when there are any.
#[test]
fn csv_attachments_are_stored_copies_of_the_csvs_read() {
    let h = start(Scenario::Ok);
    let courses = "course_id,short_name,long_name,status\nc1,C1,Course 1,active\n";
    let zip = zip_of(&[
        (
            "dir/users.csv",
            b"user_id,login_id,password,status\nu1,l1,secret,active\n".as_slice(),
        ),
        ("courses.csv", courses.as_bytes()),
        ("notes.txt", b"not a csv".as_slice()),
        ("unknown.csv", b"foo,bar\n1,2\n".as_slice()),
    ]);
    let created = post_zip(&h, "", zip);
    assert!(created.get("csv_attachments").is_none(), "{created}");
    let id = created["id"].as_u64().unwrap();
    let v = show(&h, id);
    assert_eq!(v["workflow_state"], "importing");
    let atts = v["csv_attachments"].as_array().unwrap();
    let names: Vec<&str> = atts
        .iter()
        .map(|a| a["display_name"].as_str().unwrap())
        .collect();
    // By path, as `prepare` walks the extracted zip (`Dir[…]` sorts).
    assert_eq!(names, ["courses.csv", "users_filtered.csv"]);
    let ids: Vec<Value> = atts.iter().map(|a| a["id"].clone()).collect();
    assert_eq!(v["data"]["downloadable_attachment_ids"], json!(ids));
    let fetch = |a: &Value| {
        let r = client().get(a["url"].as_str().unwrap()).send().unwrap();
        assert_eq!(r.status(), 200);
        r.text().unwrap()
    };
    assert_eq!(fetch(&atts[1]), "user_id,login_id,status\nu1,l1,active\n");
    assert_eq!(fetch(&atts[0]), courses);
    assert_eq!(atts[0]["size"], courses.len());
    assert_eq!(atts[0]["content-type"], "text/csv");
    // Still there at the end, and in the list.
    let end = poll_to_end(&h, id, 10);
    assert_eq!(end["csv_attachments"], v["csv_attachments"]);
    // A seeded (or never processed) import has none.
    let h2 = start_with(Config {
        seed_imports: 1,
        ..Default::default()
    });
    assert!(h2.imports()[0].get("csv_attachments").is_none());
}
