//! Client behaviour against the reference (`shared/reference/canvas-sis-api.md`), from an
//! audit of §0–§8: cases the other tests did not pin down.

use crate::support::*;
use fake_canvas::Scenario;

/// The contract: `--dry-run` prints "the exact request that would be sent". With a
/// `sis_account_id:` account (§0) the printed path must be the path the real POST uses.
#[test]
fn dry_run_prints_the_account_path_the_real_request_uses() {
    let w = World::new(Scenario::Ok);
    let account = "sis_account_id:root";
    let dry = w
        .cmd()
        .args([
            "--account-id",
            account,
            "--no-log-file",
            "submit",
            "--dry-run",
        ])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let printed = stdout(&dry);
    let first = printed.lines().next().unwrap_or_default();
    let url = first.strip_prefix("POST ").expect("a POST line");
    let printed_path = url::Url::parse(url).unwrap().path().to_string();
    assert!(w.posts().is_empty(), "a dry run sends nothing");

    let real = w
        .cmd()
        .args(["--account-id", account, "--no-log-file", "submit"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(real.status.code(), Some(0), "{}", stderr(&real));
    let posts = w.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(printed_path, posts[0].path, "dry run vs. the real request");
    assert_eq!(
        posts[0].path,
        "/api/v1/accounts/sis_account_id%3Aroot/sis_imports"
    );
}

/// §1.4: check_account's JSON 403 ("SIS imports are not enabled") and 400 ("only on root
/// accounts") are not permission problems; the hint must not send the user after a
/// permission that would not help.
#[test]
fn check_account_answers_get_their_own_hints() {
    let w = World::new(Scenario::Ok);
    // fake-canvas: account 3 has SIS imports disabled, account 2 is a sub-account.
    let out = w
        .cmd()
        .args(["--account-id", "3", "--no-log-file", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SIS imports are not enabled"), "{err}");
    assert!(err.contains("a Canvas admin must enable them"), "{err}");
    assert!(!err.contains("permission"), "{err}");

    let out = w
        .cmd()
        .args(["--account-id", "2", "--no-log-file", "list"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("only be executed on root accounts"), "{err}");
    assert!(err.contains("names a sub-account"), "{err}");
}
