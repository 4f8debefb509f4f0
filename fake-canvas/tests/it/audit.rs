//! Simulator fidelity to `shared/reference/canvas-sis-api.md`, from an audit of §0–§8:
//! cases the other tests did not pin down.

use crate::support::*;
use fake_canvas::Scenario;

fn post_csv(h: &fake_canvas::Handle, query: &str) -> reqwest::blocking::Response {
    authed(
        h,
        client()
            .post(format!("{}{IMPORTS}?{query}", h.url()))
            .header("content-type", "text/csv")
            .body("user_id,login_id,status\nu1,u1,active\n"),
    )
}

/// §1.1: value_to_boolean matches its word lists on the whole string (no trimming), and
/// reads anything else with Ruby's `to_i`, which skips leading whitespace only.
#[test]
fn booleans_are_read_as_canvas_reads_them() {
    let h = start(Scenario::Ok);
    let cases = [
        ("true", true),
        ("TRUE", true),
        ("Yes", true),
        ("on", true),
        ("1", true),
        ("2", true),
        ("-1", true),
        ("%202", true),
        ("1.5", true),
        ("99999999999999999999999", true),
        ("false", false),
        ("off", false),
        ("0", false),
        ("00", false),
        ("", false),
        ("abc", false),
        // Not "true" and not a number: false in Canvas.
        ("%20true", false),
        ("yes%20", false),
        ("%20y", false),
    ];
    for (raw, want) in cases {
        let r = post_csv(&h, &format!("skip_deletes={raw}"));
        assert_eq!(r.status(), 200, "skip_deletes={raw}");
        let v = json(r);
        assert_eq!(v["skip_deletes"], want, "skip_deletes={raw}");
    }
}

/// §2.1: the 128-character limit is a validation of the identifier's column, which only
/// the diffing branch of the option chain sets; batch mode ignores the identifier (no 422).
#[test]
fn a_long_data_set_identifier_is_ignored_in_batch_mode_not_rejected() {
    let h = start(Scenario::Ok);
    let long = "x".repeat(129);
    let r = post_csv(
        &h,
        &format!("batch_mode=true&batch_mode_term_id=1&diffing_data_set_identifier={long}"),
    );
    assert_eq!(r.status(), 200);
    let v = json(r);
    assert_eq!(v["batch_mode"], true);
    assert!(v["diffing_data_set_identifier"].is_null(), "{v}");
    assert_eq!(v["workflow_state"], "created");
    // Without batch mode it is still the 422 of a model validation.
    let r = post_csv(&h, &format!("diffing_data_set_identifier={long}"));
    assert_eq!(r.status(), 422);
    assert!(json(r)["errors"]["diffing_data_set_identifier"].is_array());
}
