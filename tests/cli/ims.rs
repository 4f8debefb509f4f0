//! IMS Enterprise XML through `submit` (reference §10.1, §10.2): an IMS file goes as
//! `import_type=ims_xml`, `extension=xml` (a zip of them as `extension=zip`) unless a layer
//! set the import type; other XML, and hostile XML, exit 65 with nothing sent.

use std::time::{Duration, Instant};

use crate::support::*;
use fake_canvas::{Scenario, zip_of};

fn sample() -> Vec<u8> {
    std::fs::read(sample_dir("ims").join("enterprise.xml")).unwrap()
}

fn persons(xml: &[u8]) -> u64 {
    String::from_utf8_lossy(xml).matches("<person ").count() as u64
}

#[test]
fn an_ims_file_is_sent_as_ims_xml_and_the_simulator_counts_it() {
    let w = World::new(Scenario::Ok);
    let x = w.file("enterprise.xml", &sample());
    let out = w
        .cmd()
        .arg("submit")
        .arg(&x)
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let p = &w.posts()[0];
    assert_eq!(
        p.query.as_deref(),
        Some("import_type=ims_xml&extension=xml")
    );
    assert_eq!(p.header("content-type"), Some("text/xml"));
    assert_eq!(p.body_sha256, sha256(&x));
    let imp = w.sim.imports().pop().unwrap();
    assert_eq!(imp["data"]["import_type"], "ims_xml", "{imp}");
    assert_eq!(
        imp["data"]["counts"]["users"].as_u64(),
        Some(persons(&sample())),
        "{imp}"
    );
    assert!(
        imp["data"]["counts"]["enrollments"].as_u64().unwrap() > 0,
        "{imp}"
    );
}

#[test]
fn a_zip_of_ims_files_is_sent_as_ims_xml_zip() {
    let w = World::new(Scenario::Ok);
    let s = sample();
    let z = w.file("ims.zip", &zip_of(&[("fall/enterprise.xml", &s[..])]));
    let out = w.cmd().arg("submit").arg(&z).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let p = &w.posts()[0];
    assert_eq!(
        p.query.as_deref(),
        Some("import_type=ims_xml&extension=zip")
    );
    assert_eq!(p.header("content-type"), Some("application/zip"));
}

#[test]
fn dry_run_shows_the_ims_xml_request() {
    let w = World::new(Scenario::Ok);
    let x = w.file("enterprise.xml", &sample());
    let out = w
        .cmd()
        .args(["--json", "submit", "--dry-run"])
        .arg(&x)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v = json(&out);
    let url = v["url"].as_str().unwrap();
    assert!(
        url.ends_with("/sis_imports?import_type=ims_xml&extension=xml"),
        "{v}"
    );
    assert_eq!(v["validation"]["errors"], 0, "{v}");
    assert!(w.sim.requests().is_empty(), "nothing sent");
}

#[test]
fn an_import_type_set_by_any_layer_is_kept() {
    let w = World::new(Scenario::Ok);
    let x = w.file("enterprise.xml", &sample());
    // The flag: instructure_csv with an XML file is refused, the hint names ims_xml.
    let out = w
        .cmd()
        .args(["--json", "submit"])
        .arg(&x)
        .args(["--import-type", "instructure_csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["error"]["kind"], "import_type_mismatch", "{v}");
    assert!(
        v["error"]["hint"].as_str().unwrap().contains("ims_xml"),
        "{v}"
    );
    // The config file says so too.
    w.file(
        "canvas_sis.toml",
        b"[import]\nimport_type = \"instructure_csv\"\n",
    );
    let out = w.cmd().arg("submit").arg(&x).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
    assert!(stderr(&out).contains("ims_xml"), "{}", stderr(&out));
    assert!(w.sim.requests().is_empty(), "nothing sent");
    // The flag wins over the file, and ims_xml is sent as named.
    let out = w
        .cmd()
        .arg("submit")
        .arg(&x)
        .args(["--import-type", "ims_xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        w.posts()[0].query.as_deref(),
        Some("import_type=ims_xml&extension=xml")
    );
}

#[test]
fn a_bundle_that_does_not_fit_its_import_type_exits_65_validated_or_not() {
    // Canvas accepts each of these and imports nothing (§10.1).
    let w = World::new(Scenario::Ok);
    let csv = w.file("users.csv", b"user_id,login_id,status\nu1,u1,active\n");
    let csv_zip = w.file(
        "csv.zip",
        &zip_of(&[("users.csv", &b"user_id,login_id,status\nu1,u1,active\n"[..])]),
    );
    let ims_zip = w.file("ims.zip", &zip_of(&[("enterprise.xml", &sample()[..])]));
    let cases: [(&std::path::Path, &str, &str); 3] = [
        (&csv, "ims_xml", "a .csv file with import_type ims_xml"),
        (
            &csv_zip,
            "ims_xml",
            "a zip without .xml files with import_type ims_xml",
        ),
        (
            &ims_zip,
            "instructure_csv",
            "a zip of .xml files with import_type instructure_csv",
        ),
    ];
    for (file, import_type, says) in cases {
        for extra in [&[][..], &["--no-validate"][..]] {
            let out = w
                .cmd()
                .args(["--json", "submit"])
                .arg(file)
                .args(["--import-type", import_type])
                .args(extra)
                .output()
                .unwrap();
            let what = format!("{} {import_type} {extra:?}", file.display());
            assert_eq!(out.status.code(), Some(65), "{what}: {}", stderr(&out));
            let v = json(&out);
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert_eq!(v["error"]["kind"], "import_type_mismatch", "{what}: {v}");
            assert!(message.contains(says), "{what}: {v}");
            let hint = v["error"]["hint"].as_str().unwrap_or_default();
            let other = if import_type == "ims_xml" {
                "instructure_csv"
            } else {
                "ims_xml"
            };
            assert!(hint.contains(other), "{what}: the hint names {other}: {v}");
        }
    }
    assert!(w.sim.requests().is_empty(), "nothing sent");
}

#[test]
fn xml_that_is_not_ims_enterprise_exits_65_with_one_json_document() {
    let w = World::new(Scenario::Ok);
    let x = w.file(
        "feed.xml",
        b"<?xml version=\"1.0\"?>\n<roster><student id=\"1\"/></roster>\n",
    );
    for extra in [&[][..], &["--no-validate"][..]] {
        let out = w
            .cmd()
            .args(["--json", "submit"])
            .arg(&x)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        let text = stdout(&out);
        let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
        let v = docs.next().unwrap().unwrap();
        assert!(docs.next().is_none(), "one document: {text}");
        assert_eq!(v["error"]["exit_code"], 65);
        assert_eq!(v["error"]["kind"], "import_type_mismatch", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("<roster>"),
            "{v}"
        );
    }
    assert!(w.sim.requests().is_empty(), "nothing sent");
    // `validate` says the same, at the root's line and column.
    let out = w.cmd().args(["validate"]).arg(&x).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(
        stdout(&out).contains("feed.xml:2:1: error: the root element is <roster>"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn billion_laughs_and_external_entities_are_refused_quickly_and_nothing_is_read() {
    let w = World::new(Scenario::Ok);
    let mut laughs =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE enterprise [\n <!ENTITY l0 \"lol\">\n");
    for i in 1..10 {
        laughs.push_str(&format!(
            " <!ENTITY l{i} \"{}\">\n",
            format!("&l{};", i - 1).repeat(10)
        ));
    }
    laughs.push_str("]>\n<enterprise><comments>&l9;</comments></enterprise>\n");
    let bomb = w.file("laughs.xml", laughs.as_bytes());
    // The external entity names a FIFO: reading it would block the run until the timeout.
    let fifo = w.home.path().join("passwd.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let xxe = w.file(
        "xxe.xml",
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE enterprise [<!ENTITY x SYSTEM \"file://{}\">]>\n<enterprise><comments>&x;</comments></enterprise>\n",
            fifo.display()
        )
        .as_bytes(),
    );
    for f in [&bomb, &xxe] {
        let t = Instant::now();
        let out = w
            .cmd()
            .timeout(Duration::from_secs(20))
            .args(["--json", "submit"])
            .arg(f)
            .output()
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{f:?} took {:?}",
            t.elapsed()
        );
        assert_eq!(out.status.code(), Some(65), "{f:?}: {}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["error"]["kind"], "validation_failed", "{v}");
        assert_eq!(v["diagnostics"][0]["code"], "xml_doctype_entities", "{v}");
    }
    assert!(w.sim.requests().is_empty(), "nothing sent");
}

/// `plan` reads IMS Enterprise files as it reads CSV bundles (persons → users, groups →
/// terms, courses and sections, person members → enrollments): after an imported IMS file,
/// the same file changes nothing, and one that drops a member and deletes a person says so
/// at the XML's own line. A guarded batch-mode submit of it is held.
#[test]
fn plan_reads_ims_xml_like_a_csv_bundle() {
    let w = World::new(Scenario::Ok);
    let x = w.file("enterprise.xml", &sample());
    let out = w.cmd().args(["--json", "plan"]).arg(&x).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(json(&out)["baseline"].is_null());
    let out = w
        .cmd()
        .arg("submit")
        .arg(&x)
        .args(["--watch", "--interval", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = w.cmd().args(["--json", "plan"]).arg(&x).output().unwrap();
    let v = json(&out);
    for kind in ["user", "term", "course", "section", "enrollment"] {
        let c = &v["kinds"][kind];
        assert_eq!(
            (
                c["create"].as_u64(),
                c["update"].as_u64(),
                c["delete"].as_u64()
            ),
            (Some(0), Some(0), Some(0)),
            "{kind}: {v}"
        );
        assert!(c["unchanged"].as_u64().unwrap() > 0, "{kind}: {v}");
    }
    // The next file deletes a person and drops the section's first member.
    let text = String::from_utf8(sample()).unwrap();
    let text = text.replacen("<person recstatus=\"1\">", "<person recstatus=\"3\">", 1);
    let first_member = text.find("<member>").unwrap();
    let end = text[first_member..].find("</member>").unwrap() + first_member + "</member>".len();
    let next = format!("{}{}", &text[..first_member], &text[end..]);
    let y = w.file("next.xml", next.as_bytes());
    let batch = ["--batch-mode", "--batch-mode-term-id", "sis_term_id:2026FA"];
    let out = w
        .cmd()
        .args(["--json", "plan"])
        .arg(&y)
        .args(batch)
        .output()
        .unwrap();
    let v = json(&out);
    assert_eq!(v["kinds"]["user"]["delete"], 1, "{v}");
    assert_eq!(
        v["kinds"]["enrollment"]["terms"]["2026FA"]["delete"], 1,
        "{v}"
    );
    // Guarded (batch mode), with a limit of no deletes at all: held, nothing sent.
    let cfg = w.file("g.toml", b"[guard]\nmax_delete_rows = 0\n");
    let out = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["--json", "submit"])
        .arg(&y)
        .args(batch)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert_eq!(w.sim.created_count(), 1);
}

/// A directory is read as SIS CSV and `submit` zips only its .csv files, while Canvas reads
/// IMS XML as one file or a zip of them: a directory of IMS files is refused, saying so and
/// how to send them.
#[test]
fn a_directory_of_ims_files_is_refused_with_how_to_send_them() {
    let w = World::new(Scenario::Ok);
    let x = w.file("ims/a.xml", &sample());
    w.file("ims/b.xml", &sample());
    let dir = x.parent().unwrap().to_path_buf();
    for (cmd, doing) in [
        (&["validate"][..], "nothing to validate"),
        (&["submit", "--dry-run"][..], "nothing to send"),
    ] {
        let out = w.cmd().arg("--json").args(cmd).arg(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(65), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(v["error"]["kind"], "bundle_invalid");
        assert_eq!(
            v["error"]["message"],
            format!(
                "{}: the directory holds no .csv files, but 2 IMS Enterprise .xml files; a directory is read as SIS CSV, so {doing}",
                dir.display()
            )
        );
        assert_eq!(
            v["error"]["hint"],
            format!(
                "zip the .xml files and give the zip (e.g. cd {} && zip ../ims.zip *.xml), or give one .xml file: Canvas reads IMS XML as a file or a zip of files",
                dir.display()
            )
        );
    }
    assert!(w.sim.requests().is_empty(), "nothing sent");
}
