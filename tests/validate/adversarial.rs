//! Hostile and pathological inputs: each test pins a fix from the robustness audit
//! (`bench/README-adversarial.md` has the full-size measurements).

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::*;
use canvas_sis::validate::{InputError, Options, validate_paths};

/// Run the validator on another thread: a hang fails the test instead of stalling it.
fn run_or_hang(paths: Vec<PathBuf>) -> Result<canvas_sis::validate::Report, InputError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(validate_paths(&paths, &Options::default()));
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("validation hung")
}

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
    // "c7" is no users column: Canvas ignores both copies (two unknown_column warnings).
    assert_eq!(
        dups,
        vec![format!(
            "duplicate header column \"login_id\" (columns 2 and {}): Canvas reads column 2 and ignores column {}",
            n + 5,
            n + 5
        )]
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
            "u.csv:2: error: a record with more than 1048576 fields: over this validator's memory limit (Canvas has none), so the rest of the file is not checked (such a record is most likely an unclosed quote or a runaway field; if it is meant, send with --no-validate)"
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
            "over.csv:2: error: a record larger than 16 MiB: over this validator's memory limit (Canvas has none), so the rest of the file is not checked (such a record is most likely an unclosed quote or a runaway field; if it is meant, send with --no-validate)"
        ]
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_opening_it() {
    // Opening a FIFO nobody writes to blocked forever (a cron job hung).
    let fx = Fx::new();
    let p = fx.path("pipe.csv");
    // mkfifo(3) itself, not the mkfifo tool: the test needs nothing from outside and never
    // passes without its FIFO.
    let c_path =
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str())).unwrap();
    // SAFETY: mkfifo(3) reads the NUL-terminated path, which lives across the call.
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        p.display(),
        std::io::Error::last_os_error()
    );
    let e = run_or_hang(vec![p]).unwrap_err();
    assert!(matches!(e, InputError::Unreadable(..)), "{e}");
    assert!(
        e.to_string()
            .ends_with("pipe.csv: cannot read: a named pipe (FIFO), not a regular file"),
        "{e}"
    );
    // `submit` prepares the bundle the same way.
    let (tx, rx) = mpsc::channel();
    let p = fx.path("pipe.csv");
    std::thread::spawn(move || {
        let _ = tx.send(
            canvas_sis::bundle::prepare(&p, None)
                .err()
                .map(|f| f.to_string()),
        );
    });
    let msg = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("prepare hung")
        .expect("refused");
    assert!(
        msg.contains("a named pipe (FIFO), not a regular file"),
        "{msg}"
    );
}

#[cfg(unix)]
#[test]
fn a_device_is_not_an_empty_file() {
    // /dev/zero has length 0: it was reported as "empty file" (and read endlessly by
    // anything that trusted the read instead).
    let e = run_or_hang(vec!["/dev/zero".into()]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/dev/zero: cannot read: a device, not a regular file"
    );
}

#[cfg(unix)]
#[test]
fn a_symlinked_csv_is_validated_and_sent() {
    // The validator follows a link to a file; the directory zip for submit skipped it,
    // so a bundle checked clean went without the file.
    let fx = Fx::new();
    let real = fx.write("elsewhere/real.csv", USERS);
    std::fs::create_dir_all(fx.path("bundle")).unwrap();
    std::os::unix::fs::symlink(&real, fx.path("bundle/users.csv")).unwrap();
    let r = fx.run(&[fx.path("bundle")]);
    assert_eq!(r.row_count(), 2);
    let files = canvas_sis::bundle::csv_files(&fx.path("bundle")).unwrap();
    assert_eq!(files, vec![fx.path("bundle/users.csv")]);
}

#[test]
fn unknown_references_are_counted_and_the_first_shown_in_file_order() {
    // Every missing reference was held in a vector to sort it (160 MB for 4M ids); only
    // the first `max_diagnostics` are kept now, the rest counted.
    let fx = Fx::new();
    let users = fx.write("users.csv", "user_id,login_id,status\nu0,l0,active\n");
    let mut e = String::from("course_id,user_id,role,status\n");
    for i in (1..=3000).rev() {
        e.push_str(&format!("c0,u{i},student,active\n"));
    }
    let enr = fx.write("enrollments.csv", e);
    let o = Options {
        max_diagnostics: 3,
        ..Options::default()
    };
    let r = fx.run_with(&[users, enr], &o);
    assert_eq!(r.bundle_warnings, 3000);
    let shown: Vec<_> = r
        .bundle
        .iter()
        .map(|d| (d.line, d.message.split('"').nth(1).unwrap().to_string()))
        .collect();
    assert_eq!(
        shown,
        vec![
            (Some(2), "u3000".to_string()),
            (Some(3), "u2999".to_string()),
            (Some(4), "u2998".to_string()),
        ]
    );
}

#[test]
fn a_huge_central_directory_is_refused_before_it_is_loaded() {
    // 64 KiB names are kept three times over (2,000 of them: a 260 MB archive peaked at
    // 780 MB); the directory's size is now checked first, like the entry count.
    let fx = Fx::new();
    let names: Vec<String> = (0..270)
        .map(|i| format!("{i:03}{}.csv", "a".repeat(65_000)))
        .collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let p = fx.zip("b.zip", &entries);
    let r = fx.run(&[p]);
    let d: Vec<_> = r.diagnostics().map(|d| d.code).collect();
    assert_eq!(d, vec!["zip_directory_too_large"]);
    assert_eq!(r.files.len(), 1);
}
