//! `list` and `importing` against the simulator: pagination, limits, filters, output shapes.

use std::collections::HashSet;

use fake_canvas::{Config, Scenario};

use crate::support::*;

#[test]
fn list_follows_next_links_across_pages_without_duplicates() {
    let e = World::seeded(250);
    let out = e
        .quiet_cmd()
        .args(["--json", "list", "--limit", "1000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let items = json(&out);
    let items = items.as_array().expect("one JSON array");
    assert_eq!(items.len(), 250);
    let ids: Vec<u64> = items.iter().map(|v| v["id"].as_u64().unwrap()).collect();
    let unique: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 250, "duplicates in the list");
    let seeded: HashSet<u64> = e
        .sim
        .imports()
        .iter()
        .map(|v| v["id"].as_u64().unwrap())
        .collect();
    assert_eq!(unique, seeded, "some imports are missing");
    // Newest first.
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    // Page 1 as built, then exactly the queries of the next links (§7.4).
    let reqs = e.api_requests("GET", "/sis_imports");
    let queries: Vec<String> = reqs
        .iter()
        .map(|r| r.query.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        queries,
        vec!["per_page=100", "page=2&per_page=100", "page=3&per_page=100"],
        "each page after the first must come from rel=\"next\""
    );
}

#[test]
fn limit_stops_fetching_early() {
    let e = World::seeded(250);
    let out = e
        .quiet_cmd()
        .args(["--json", "list", "--limit", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 5);
    assert_eq!(e.api_requests("GET", "/sis_imports").len(), 1);
}

#[test]
fn default_limit_is_20() {
    let e = World::seeded(30);
    let out = e.quiet_cmd().args(["--json", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 20);
}

#[test]
fn state_filter_is_sent_as_workflow_state_array() {
    let e = World::seeded(12);
    let out = e
        .quiet_cmd()
        .args(["--json", "list", "--state", "aborted", "--state", "failed"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let items = json(&out);
    let items = items.as_array().unwrap();
    assert_eq!(items.len(), 4, "12 seeded: 2 aborted + 2 failed");
    assert!(
        items
            .iter()
            .all(|v| v["workflow_state"] == "aborted" || v["workflow_state"] == "failed")
    );
    let q = e.api_requests("GET", "/sis_imports")[0]
        .query
        .clone()
        .unwrap();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect();
    let states: Vec<&str> = pairs
        .iter()
        .filter(|(k, _)| k == "workflow_state[]")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(states, ["aborted", "failed"]);
    assert!(pairs.contains(&("per_page".into(), "100".into())));
}

#[test]
fn created_since_is_sent_as_rfc3339() {
    let e = World::seeded(10);
    // Seeded imports are 1..10 minutes old: 5m30s ago keeps the 5 newest.
    let out = e
        .quiet_cmd()
        .args(["--json", "list", "--created-since", "5m 30s"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json(&out).as_array().unwrap().len(), 5);
    let q = e.api_requests("GET", "/sis_imports")[0]
        .query
        .clone()
        .unwrap();
    let since = url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "created_since")
        .map(|(_, v)| v.into_owned())
        .expect("created_since sent");
    assert!(since.parse::<jiff::Timestamp>().is_ok(), "{since}");
    assert!(since.ends_with('Z'), "{since}");

    let out = e
        .quiet_cmd()
        .args(["list", "--created-before", "2026-13-45"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn empty_list_says_no_imports_on_stderr() {
    let e = World::seeded(0);
    let out = e.quiet_cmd().arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("no imports"), "{}", stderr(&out));
    let out = e.quiet_cmd().args(["--json", "list"]).output().unwrap();
    assert_eq!(json(&out), serde_json::json!([]));
}

#[test]
fn piped_output_is_tab_separated_without_ansi() {
    let e = World::seeded(6);
    let out = e
        .quiet_cmd()
        .args(["--color", "always", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains('\x1b'),
        "ANSI codes in piped output: {text:?}"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    for l in &lines {
        let cols: Vec<&str> = l.split('\t').collect();
        assert_eq!(cols.len(), 8, "{l}");
        assert!(cols[0].parse::<u64>().is_ok(), "{l}");
    }
    let (id, state) = e.import(5);
    assert!(
        lines[0].starts_with(&format!("{id}\t{state}\t")),
        "{}",
        lines[0]
    );
}

#[test]
fn all_profiles_lists_every_profile_and_reports_the_failing_one() {
    let a = World::seeded(3);
    let b = fake_canvas::spawn(Config {
        seed_imports: 2,
        ..Default::default()
    })
    .unwrap();
    let cfg = a.home.path().join("canvas_sis.toml");
    std::fs::write(
        &cfg,
        format!(
            "account_id = \"self\"\n\n[profiles.alpha]\nbase_url = \"{}\"\n\n[profiles.beta]\nbase_url = \"{}\"\n\n[profiles.broken]\nbase_url = \"{}\"\naccount_id = \"404\"\n",
            a.sim.url(),
            b.url(),
            a.sim.url()
        ),
    )
    .unwrap();
    let run = |json: bool| {
        let mut c = quiet_cmd(a.home.path());
        c.env("CANVAS_ACCESS_TOKEN", a.sim.token())
            .arg("-c")
            .arg(&cfg);
        if json {
            c.arg("--json");
        }
        c.args(["list", "--all-profiles"]).output().unwrap()
    };
    let out = run(false);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    let profiles: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(profiles, ["alpha", "alpha", "alpha", "beta", "beta"]);
    assert!(stderr(&out).contains("broken"), "{}", stderr(&out));

    let out = run(true);
    assert_eq!(out.status.code(), Some(5));
    let v = json(&out);
    assert_eq!(v["error"]["exit_code"], 5);
    assert_eq!(v["error"]["kind"], "not_found");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("profile broken: "),
        "{v}"
    );
    let v = v["imports"].as_array().unwrap();
    assert_eq!(v.len(), 5);
    assert_eq!(v[0]["profile"], "alpha");
    assert!(v[0]["import"]["id"].is_u64());
}

#[test]
fn importing_shows_running_and_queued() {
    let e = World::with(Config {
        scenario: Scenario::StuckCreated,
        ..Default::default()
    });
    let first = e.submit_sample();
    let second = e.submit_sample();
    let out = e
        .quiet_cmd()
        .args(["--json", "importing"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["importing"], serde_json::json!([]));
    let queued: Vec<u64> = v["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert_eq!(queued, [second, first]);
    assert_eq!(e.api_requests("GET", "/sis_imports/importing").len(), 1);
    let list = e.api_requests("GET", "/sis_imports");
    let q = list.last().unwrap().query.clone().unwrap();
    assert!(q.contains("workflow_state%5B%5D=created"), "{q}");
    assert!(q.contains("workflow_state%5B%5D=initializing"), "{q}");

    let out = e.quiet_cmd().arg("importing").output().unwrap();
    assert!(out.status.success());
    let lines: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with(&format!("queued\t{second}\tcreated\t")),
        "{lines:?}"
    );
}

#[test]
fn importing_with_nothing_running() {
    let e = World::seeded(3);
    let out = e.quiet_cmd().arg("importing").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty());
    assert!(
        stderr(&out).contains("nothing is importing"),
        "{}",
        stderr(&out)
    );
}

/// Canvas drops an unknown state and, with none left, lists everything: a typo would list
/// every import and exit 0. Refused locally instead, with the nearest state.
#[test]
fn an_unknown_state_is_refused_with_the_nearest_one() {
    let e = World::seeded(3);
    let out = e
        .quiet_cmd()
        .args(["list", "--state", "failed_with_message"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("failed_with_message"), "{err}");
    assert!(
        err.contains("did you mean \"failed_with_messages\"?"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
    assert!(e.sim.requests().is_empty(), "nothing asked of Canvas");
}
