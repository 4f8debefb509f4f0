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

#[test]
fn a_line_of_commas_is_refused_past_the_field_limit() {
    // 2M empty fields held 16 bytes each (a 50 MB line of commas peaked at 790 MB).
    let fx = Fx::new();
    let mut s = b"user_id,login_id,status\n".to_vec();
    s.extend(std::iter::repeat_n(b',', 2_000_000));
    s.push(b'\n');
    let l = fx.check("u.csv", s);
    assert_eq!(
        l,
        vec![
            "u.csv:2: error: Malformed CSV: record with more than 1048576 fields (Canvas skips the whole file)"
        ]
    );
}

#[test]
fn the_record_limit_is_exact() {
    // The size was checked only at a chunk's end, so a record up to 64 KiB over passed.
    const M: usize = 16 * 1024 * 1024;
    let fx = Fx::new();
    let rec = |n: usize| {
        let mut s = b"user_id,login_id,status,full_name\nu1,l1,active,\"".to_vec();
        s.extend(std::iter::repeat_n(b'x', n));
        s.extend_from_slice(b"\"\n");
        s
    };
    // "u1,l1,active,\"" and the closing quote: 15 bytes besides the x's.
    assert!(fx.check("under.csv", rec(M - 15)).is_empty());
    assert_eq!(
        fx.check("over.csv", rec(M - 14)),
        vec![
            "over.csv:2: error: Malformed CSV: record larger than 16 MiB (Canvas skips the whole file)"
        ]
    );
}
