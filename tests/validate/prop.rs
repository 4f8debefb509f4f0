//! Property tests: clean bundles stay clean, single mutations are caught at the right
//! line, and no input makes the validator panic.

use crate::support::*;
use fake_canvas::zip_of;
use proptest::prelude::*;

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A CSV writer with random column order, line endings, quoting and case.
#[derive(Clone, Debug)]
struct Style {
    crlf: u8,
    bom: bool,
    quote_all: bool,
    upper_header: bool,
    seed: u64,
}

fn style() -> impl Strategy<Value = Style> {
    (
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|(crlf, bom, quote_all, upper_header, seed)| Style {
            crlf,
            bom,
            quote_all,
            upper_header,
            seed,
        })
}

fn write_csv(st: &Style, header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    write_csv_raw(st, header, rows, false)
}

/// `raw`: write values as they are (to plant broken quoting).
fn write_csv_raw(st: &Style, header: &[&str], rows: &[Vec<String>], raw: bool) -> Vec<u8> {
    // Permute columns deterministically from the seed.
    let mut order: Vec<usize> = (0..header.len()).collect();
    let mut s = st.seed | 1;
    for i in (1..order.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        order.swap(i, (s % (i as u64 + 1)) as usize);
    }
    let nl = ["\n", "\r\n", "\r"][st.crlf as usize];
    let mut out = String::new();
    if st.bom {
        out.push('\u{feff}');
    }
    let h: Vec<String> = order
        .iter()
        .map(|&i| {
            if st.upper_header {
                header[i].to_uppercase()
            } else {
                header[i].to_string()
            }
        })
        .collect();
    out.push_str(&h.join(","));
    out.push_str(nl);
    for r in rows {
        let cells: Vec<String> = order
            .iter()
            .map(|&i| {
                let v = &r[i];
                if !raw && (st.quote_all || v.contains([',', '"', '\n', '\r'])) {
                    format!("\"{}\"", v.replace('"', "\"\""))
                } else {
                    v.clone()
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push_str(nl);
    }
    out.into_bytes()
}

fn case(v: &str, upper: bool) -> String {
    if upper {
        v.to_uppercase()
    } else {
        v.to_string()
    }
}

#[derive(Clone, Debug)]
struct BundleSpec {
    users: usize,
    courses: usize,
    sections_per_course: usize,
    enrollments: usize,
    which: u8,
    names: Vec<String>,
    st: Vec<Style>,
    upper_status: bool,
}

fn bundle_spec() -> impl Strategy<Value = BundleSpec> {
    (
        1usize..20,
        1usize..5,
        1usize..3,
        0usize..40,
        1u8..32,
        prop::collection::vec("[A-Za-z ,\"é\n]{0,12}", 20),
        prop::collection::vec(style(), 5),
        any::<bool>(),
    )
        .prop_map(
            |(users, courses, sections_per_course, enrollments, which, names, st, upper_status)| {
                BundleSpec {
                    users,
                    courses,
                    sections_per_course,
                    enrollments,
                    which,
                    names,
                    st,
                    upper_status,
                }
            },
        )
}

fn build_bundle(fx: &Fx, b: &BundleSpec) -> Vec<std::path::PathBuf> {
    let name = |i: usize| b.names[i % b.names.len()].clone();
    let mut paths = vec![];
    if b.which & 1 != 0 {
        let rows: Vec<Vec<String>> = (0..b.users)
            .map(|i| {
                vec![
                    format!("u{i}"),
                    format!("Login{i}"),
                    case("active", b.upper_status),
                    name(i),
                    format!("u{i}@example.edu"),
                ]
            })
            .collect();
        paths.push(fx.write(
            "users.csv",
            write_csv(
                &b.st[0],
                &["user_id", "login_id", "status", "full_name", "email"],
                &rows,
            ),
        ));
    }
    if b.which & 2 != 0 {
        paths.push(fx.write(
            "terms.csv",
            write_csv(
                &b.st[1],
                &["term_id", "name", "status", "start_date"],
                &[vec![
                    "t1".into(),
                    "Term".into(),
                    "active".into(),
                    "2024-08-20 08:00:00-06:00".into(),
                ]],
            ),
        ));
    }
    if b.which & 4 != 0 {
        let rows: Vec<Vec<String>> = (0..b.courses)
            .map(|i| {
                let n = name(i + 3);
                let n = if n.trim().is_empty() {
                    "X".to_string()
                } else {
                    n
                };
                vec![
                    format!("c{i}"),
                    n.clone(),
                    n,
                    "t1".into(),
                    case("published", b.upper_status),
                ]
            })
            .collect();
        paths.push(fx.write(
            "courses.csv",
            write_csv(
                &b.st[2],
                &["course_id", "short_name", "long_name", "term_id", "status"],
                &rows,
            ),
        ));
    }
    if b.which & 8 != 0 {
        let mut rows = vec![];
        for c in 0..b.courses {
            for s in 0..b.sections_per_course {
                rows.push(vec![
                    format!("s{c}_{s}"),
                    format!("c{c}"),
                    format!("Section {s}"),
                    "active".into(),
                ]);
            }
        }
        paths.push(fx.write(
            "sections.csv",
            write_csv(
                &b.st[3],
                &["section_id", "course_id", "name", "status"],
                &rows,
            ),
        ));
    }
    if b.which & 16 != 0 {
        let roles = [
            "student", "teacher", "ta", "observer", "designer", "Students",
        ];
        let rows: Vec<Vec<String>> = (0..b.enrollments)
            .map(|i| {
                let c = i % b.courses;
                let s = (i / b.courses) % b.sections_per_course;
                vec![
                    format!("c{c}"),
                    format!("s{c}_{s}"),
                    format!("u{}", i % b.users),
                    roles[i % roles.len()].into(),
                    case(
                        ["active", "completed", "inactive", "deleted"][i % 4],
                        b.upper_status,
                    ),
                    if i % 3 == 0 {
                        "2024-01-03".into()
                    } else {
                        String::new()
                    },
                    // An enrollment's dates count only as a pair (lone_enrollment_date).
                    if i % 3 == 0 {
                        "2024-05-31".into()
                    } else {
                        String::new()
                    },
                    format!("{i}"),
                ]
            })
            .collect();
        paths.push(fx.write(
            "enrollments.csv",
            write_csv(
                &b.st[4],
                // `role_id` holds a distinct integer so no two lines are exact duplicates.
                &[
                    "course_id",
                    "section_id",
                    "user_id",
                    "role",
                    "status",
                    "start_date",
                    "end_date",
                    "role_id",
                ],
                &rows,
            ),
        ));
    }
    paths
}

proptest! {
    #![proptest_config(cfg(64))]

    #[test]
    fn generated_valid_bundle_is_clean(b in bundle_spec()) {
        let fx = Fx::new();
        let paths = build_bundle(&fx, &b);
        let r = fx.run(&paths);
        prop_assert_eq!(r.error_count() + r.warning_count(), 0, "{:?}", fx.lines(&r));
    }

    #[test]
    fn single_mutation_is_caught_at_its_line(
        n in 1usize..30,
        at in 0usize..30,
        kind in 0u8..5,
        col in 0usize..3,
        st in style(),
    ) {
        let at = at % n;
        let fx = Fx::new();
        let st = Style { bom: false, quote_all: false, crlf: st.crlf % 2, ..st };
        let mut rows: Vec<Vec<String>> = (0..n)
            // A quoted name with commas on every row (commas inside quotes are not lines),
            // but for the unclosed-quote mutation, which any later quote would close.
            .map(|i| {
                let name = if kind == 3 { format!("Last{i}") } else { format!("\"Last{i}, First, Jr.\"") };
                vec![format!("u{i}"), format!("l{i}"), "active".to_string(), name]
            })
            .collect();
        let (code, sev_error) = match kind {
            0 => { rows[at][col] = String::new(); ("missing_value", false) }
            1 => { rows[at][col].insert(1, '"'); ("stray_quote", true) }
            2 => { rows[at][col].push('\u{1}'); rows[at][col] = rows[at][col].replace('\u{1}', "\u{fffd}"); ("invalid_utf8", true) }
            3 => { rows[at][col] = format!("\"{}", rows[at][col]); ("unterminated_quote", true) }
            _ => { rows[at][2] = "bogus".into(); ("invalid_value", false) }
        };
        let mut data = write_csv_raw(&st, &["user_id", "login_id", "status", "full_name"], &rows, true);
        if kind == 2 {
            // Replace the U+FFFD placeholder with a lone Latin-1 byte.
            let pos = data.windows(3).position(|w| w == "\u{fffd}".as_bytes()).unwrap();
            data.splice(pos..pos + 3, [0xe9u8]);
        }
        let p = fx.write("users.csv", &data);
        let r = fx.run(&[p]);
        let d = r.files[0].diagnostics.iter().find(|d| d.code == code);
        prop_assert!(d.is_some(), "{} not found: {:?}", code, fx.lines(&r));
        let d = d.unwrap();
        prop_assert_eq!(d.line, Some(at as u64 + 2));
        prop_assert_eq!(d.severity == canvas_sis::validate::Severity::Error, sev_error);
        prop_assert!(r.failed(true));
    }
}

proptest! {
    #![proptest_config(cfg(128))]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048), header in any::<bool>()) {
        let fx = Fx::new();
        let mut d = if header { b"user_id,login_id,status\n".to_vec() } else { vec![] };
        d.extend_from_slice(&data);
        for name in ["x.csv", "x.zip", "x.xml", "x.txt"] {
            let p = fx.write(name, &d);
            let r = fx.run(&[p]);
            let _ = r.to_json();
            let _ = fx.lines(&r);
        }
    }

    #[test]
    fn mutated_zips_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let fx = Fx::new();
        let mut z = zip_of(&[
            ("users.csv", USERS.as_bytes()),
            ("2024/enrollments.csv", b"course_id,user_id,role,status\nc1,u1,student,active\n"),
        ]);
        for (i, b) in flips {
            let i = i.index(z.len());
            z[i] = b;
        }
        let p = fx.write("b.zip", &z);
        let r = fx.run(&[p]);
        prop_assert!(r.bytes_inflated <= 4096);
    }
}
