//! Zip containers: naming, Canvas's skip rules, and zip safety (never extracted, bounded work).

use std::io::Write;

use crate::support::*;
use fake_canvas::zip_of;

fn patch_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn entries_sorted_named_and_skipped_like_canvas() {
    let fx = Fx::new();
    let p = fx.zip(
        "bundle.zip",
        &[
            (
                "2024/users.csv",
                b"user_id,login_id,status\nu1,l1,active\nu2,l2,bogus\n",
            ),
            (
                "2024/enrollments.csv",
                b"course_id,user_id,role,status\nc1,u1,student,active\n",
            ),
            ("2024/", b""),
            ("__MACOSX/2024/._users.csv", b"\x00\x05\x16\x07"),
            (".DS_Store", b"\x00\x00"),
            ("2024/.hidden.csv", b"junk"),
            ("Desktop DB", b"x"),
            ("readme.txt", b"hello"),
            ("inner.zip", b"PK\x05\x06"),
        ],
    );
    let r = fx.run(&[p]);
    let names: Vec<_> = r
        .files
        .iter()
        .map(|f| f.file.rsplit('/').next().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["bundle.zip", "enrollments.csv", "users.csv"]);
    assert_eq!(
        fx.lines(&r),
        vec![
            "bundle.zip:inner.zip: warning: Skipping unknown file type (Canvas will skip it: a zip inside the zip is not opened)",
            "bundle.zip:readme.txt: warning: Skipping unknown file type (Canvas will skip it: only .csv files in a bundle are read)",
            "bundle.zip:2024/users.csv:3: warning: Improper status for user u2 (expected active, suspended, deleted (prefix match))",
            "3 files, kinds: user(2) enrollment(1), 3 rows, 0 errors, 3 warnings",
        ]
    );
    assert!(r.bytes_inflated > 0);
}

#[test]
fn corrupt_and_truncated_archives() {
    let fx = Fx::new();
    let mut junk = b"PK\x03\x04".to_vec();
    junk.extend(std::iter::repeat_n(0xAB, 300));
    let l = fx.check("a.zip", &junk);
    assert_eq!(l.len(), 1);
    assert!(
        l[0].starts_with("a.zip: error: corrupt zip archive:"),
        "{l:?}"
    );
    let z = zip_of(&[("users.csv", USERS.as_bytes())]);
    let l = fx.check("b.zip", &z[..z.len() / 2]);
    assert!(
        l[0].starts_with("b.zip: error: corrupt zip archive:"),
        "{l:?}"
    );
    // EOCD kept, central directory cut away.
    let eocd = find_all(&z, EOCD)[0];
    let mut t = z[..20].to_vec();
    t.extend_from_slice(&z[eocd..]);
    let l = fx.check("c.zip", &t);
    assert!(
        l[0].starts_with("c.zip: error: corrupt zip archive:"),
        "{l:?}"
    );
}

#[test]
fn encrypted_entry() {
    let fx = Fx::new();
    let mut z = zip_of(&[("users.csv", USERS.as_bytes())]);
    let l0 = find_all(&z, LOCAL)[0];
    let c0 = find_all(&z, CENTRAL)[0];
    z[l0 + 6] |= 1;
    z[c0 + 8] |= 1;
    assert_eq!(
        fx.check("e.zip", &z),
        vec!["e.zip:users.csv: error: entry is encrypted; Canvas cannot read it"]
    );
}

#[test]
fn crc_mismatch() {
    let fx = Fx::new();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file("users.csv", o).unwrap();
        w.write_all(USERS.as_bytes()).unwrap();
        w.finish().unwrap();
    }
    let mut z = buf.into_inner();
    let at = find_all(&z, b"a@b.edu")[0];
    z[at] = b'x';
    let l = fx.check("c.zip", &z);
    assert_eq!(
        l,
        vec!["c.zip:users.csv: error: CRC mismatch: the entry is corrupt"]
    );
}

#[test]
fn unsafe_paths_and_symlinks() {
    let fx = Fx::new();
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default();
        for n in ["../evil.csv", "/abs.csv", "win\\path.csv"] {
            w.start_file(n, o).unwrap();
            w.write_all(USERS.as_bytes()).unwrap();
        }
        w.add_symlink("link.csv", "/etc/passwd", o).unwrap();
        w.finish().unwrap();
    }
    let l = fx.check("u.zip", buf.into_inner());
    assert_eq!(
        l,
        vec![
            "u.zip:../evil.csv: error: entry has a \"..\" path; refusing to extract it (build the zip from inside the folder, with relative paths)",
            "u.zip:/abs.csv: error: entry has an absolute path; refusing to extract it (build the zip from inside the folder, with relative paths)",
            "u.zip:link.csv: error: entry is a symbolic link",
            "u.zip:win\\path.csv: error: entry has a backslash path; refusing to extract it (build the zip from inside the folder, with relative paths)",
        ]
    );
}

#[test]
fn duplicate_entry_names() {
    let fx = Fx::new();
    let mut z = zip_of(&[("a.csv", USERS.as_bytes()), ("b.csv", USERS.as_bytes())]);
    for at in find_all(&z, b"b.csv") {
        z[at] = b'a';
    }
    let l = fx.check("d.zip", &z);
    assert_eq!(
        l[0],
        "d.zip:a.csv: error: the archive holds 2 entries named \"a.csv\"; extraction would keep only one"
    );
}

#[test]
fn zip_bomb_by_ratio_is_not_inflated() {
    let fx = Fx::new();
    // 1 GB claimed: a small deflated entry whose declared size is patched to 1 GiB.
    let mut data = b"user_id,login_id,status\n".to_vec();
    data.extend(std::iter::repeat_n(b' ', 1 << 20));
    let mut z = zip_of(&[("users.csv", &data)]);
    let l0 = find_all(&z, LOCAL)[0];
    let c0 = find_all(&z, CENTRAL)[0];
    patch_u32(&mut z, l0 + 22, 1 << 30);
    patch_u32(&mut z, c0 + 24, 1 << 30);
    let p = fx.write("bomb.zip", &z);
    let r = fx.run(&[p]);
    let l = fx.lines(&r);
    assert!(
        l[0].starts_with("bomb.zip: error: the entries declare 1073741824 bytes uncompressed"),
        "{l:?}"
    );
    assert_eq!(r.bytes_inflated, 0, "nothing is inflated");

    // A genuinely highly compressible 20 MB entry: refused the same way.
    let big = vec![b'a'; 20 << 20];
    let p = fx.zip("bomb2.zip", &[("users.csv", &big)]);
    let r = fx.run(&[p]);
    assert!(r.files[0].diagnostics[0].code == "zip_bomb");
    assert_eq!(r.bytes_inflated, 0);
}

#[test]
fn lying_size_header_stops_at_the_declared_size() {
    let fx = Fx::new();
    let mut data = b"user_id,login_id,status\n".to_vec();
    for i in 0..100_000 {
        data.extend_from_slice(format!("u{i},l{i},active\n").as_bytes());
    }
    let mut z = zip_of(&[("users.csv", &data)]);
    assert!(z.len() > 10_000);
    let l0 = find_all(&z, LOCAL)[0];
    let c0 = find_all(&z, CENTRAL)[0];
    patch_u32(&mut z, l0 + 22, 1000);
    patch_u32(&mut z, c0 + 24, 1000);
    let p = fx.write("lie.zip", &z);
    let r = fx.run(&[p]);
    let codes: Vec<_> = r
        .files
        .iter()
        .flat_map(|f| f.diagnostics.iter().map(|d| d.code))
        .collect();
    assert!(codes.contains(&"zip_size_mismatch"), "{codes:?}");
    assert!(
        r.bytes_inflated <= 1001,
        "inflated {} bytes",
        r.bytes_inflated
    );
}

#[test]
fn too_many_entries_refused_before_reading_the_directory() {
    let fx = Fx::new();
    let mut z = zip_of(&[("users.csv", USERS.as_bytes())]);
    let e = find_all(&z, EOCD)[0];
    z[e + 8..e + 10].copy_from_slice(&60_000u16.to_le_bytes());
    z[e + 10..e + 12].copy_from_slice(&60_000u16.to_le_bytes());
    let l = fx.check("many.zip", &z);
    assert_eq!(
        l,
        vec![
            "many.zip: error: the archive declares 60000 entries (limit 10000); not opened (a SIS bundle holds a handful of CSV files)"
        ]
    );
}

#[test]
fn empty_entry_and_entry_diagnostics_named_inside_the_zip() {
    let fx = Fx::new();
    let l = fx.check(
        "b.zip",
        zip_of(&[
            ("empty.csv", b""),
            ("x/u.csv", b"user_id,login_id,status\nu1,\"l1,active\n"),
        ]),
    );
    assert_eq!(
        l,
        vec![
            "b.zip:empty.csv: warning: empty file (0 bytes); Canvas ignores it and imports the other files (remove it, or check the export that wrote it)",
            "b.zip:x/u.csv:2: error: Malformed CSV: unclosed quoted field (a quote opened here is never closed) (Canvas skips the whole file)",
        ]
    );
}

#[test]
fn cross_references_resolve_inside_a_zip() {
    let fx = Fx::new();
    let p = fx.zip(
        "b.zip",
        &[
            ("users.csv", USERS.as_bytes()),
            (
                "enrollments.csv",
                b"course_id,user_id,role,status\nc1,u1,student,active\nc1,u3,student,active\n",
            ),
        ],
    );
    let r = fx.run(&[p]);
    let l = fx.lines(&r);
    assert_eq!(
        l[0],
        "b.zip:enrollments.csv:3: warning: enrollment references user \"u3\" (user_id), which is not in this bundle; it may already exist in Canvas"
    );
}
