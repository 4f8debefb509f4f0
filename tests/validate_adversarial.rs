//! Hostile and pathological inputs: each test pins a fix from the robustness audit
//! (`bench/README-adversarial.md` has the full-size measurements).

#[path = "validate_support/mod.rs"]
mod support;

use canvas_sis::validate::Options;
use support::*;

#[test]
fn duplicate_columns_in_a_wide_header_are_found_by_map() {
    // The duplicate check compared each column with all the ones before (20 s for
    // 100,000 columns); the first column of a name is now looked up.
    let fx = Fx::new();
    let n = 30_000;
    let mut h = String::from("user_id,login_id,status");
    for i in 0..n {
        h.push_str(&format!(",c{i}"));
    }
    h.push_str(",c7,login_id\nu1,l1,active\n");
    let p = fx.write("u.csv", h);
    let o = Options {
        max_diagnostics: usize::MAX,
        ..Options::default()
    };
    let r = fx.run_with(&[p], &o);
    let dups: Vec<_> = r
        .diagnostics()
        .filter(|d| d.code == "duplicate_column")
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(
        dups,
        vec![
            format!(
                "duplicate header column \"c7\" (columns 11 and {}); Canvas would use only one of them",
                n + 4
            ),
            format!(
                "duplicate header column \"login_id\" (columns 2 and {}); Canvas would use only one of them",
                n + 5
            ),
        ]
    );
}
