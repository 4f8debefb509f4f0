//! `[log] syslog = true`: the binary sends RFC 3164 lines to the local syslog socket
//! (`CANVAS_SIS_SYSLOG_SOCKET` points it at a socket this test binds).

use std::os::unix::net::UnixDatagram;
use std::path::Path;

use crate::support::{World, sample_dir, sample_zip};
use fake_canvas::Scenario;

/// Every datagram waiting on the socket (the run is over, so they are all there).
fn drain(sock: &UnixDatagram) -> Vec<String> {
    sock.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..10_000 {
        match sock.recv(&mut buf) {
            Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) => break,
        }
    }
    out
}

fn run(w: &World, bundle: &Path) -> (i32, Vec<String>, String) {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let cfg = w.file("canvas_sis.toml", b"[log]\nsyslog = true\n");
    let out = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["submit", "--watch", "--interval", "1"])
        .arg(bundle)
        .env("CANVAS_SIS_SYSLOG_SOCKET", &sock_path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        drain(&sock),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// `<PRI>Mmm dd hh:mm:ss canvas-sis[PID]: LEVEL message`
fn well_formed(l: &str) -> bool {
    let Some(rest) = l.strip_prefix('<') else {
        return false;
    };
    let Some((pri, rest)) = rest.split_once('>') else {
        return false;
    };
    let pri_ok = pri.parse::<u8>().is_ok_and(|p| (8..16).contains(&p));
    // "Nov  4 06:25:04 " is 16 bytes.
    let ts = rest.get(..16).unwrap_or("");
    let after = rest.get(16..).unwrap_or("");
    pri_ok
        && ts.as_bytes()[3] == b' '
        && ts.as_bytes()[9] == b':'
        && after.starts_with("canvas-sis[")
        && after.contains("]: ")
}

#[test]
fn import_end_goes_to_syslog_with_its_severity() {
    let w = World::new(Scenario::Ok);
    let (code, lines, stderr) = run(&w, &sample_zip());
    assert_eq!(code, 0, "{stderr}");
    assert!(!lines.is_empty(), "no datagram arrived; stderr: {stderr}");
    for l in &lines {
        assert!(well_formed(l), "not RFC 3164: {l:?}");
        assert!(!l.contains(&w.sim.token()), "token in syslog: {l:?}");
    }
    let end: Vec<_> = lines
        .iter()
        .filter(|l| l.contains(" ended imported"))
        .collect();
    assert_eq!(end.len(), 1, "{lines:#?}");
    // facility user (1) * 8 + info (6)
    assert!(end[0].starts_with("<14>"), "{}", end[0]);
    assert!(end[0].contains("]: INFO import "), "{}", end[0]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("INFO import ") && l.contains(" created")),
        "the start is logged too: {lines:#?}"
    );
    // stderr-only hints (target `ui`) stay out of syslog.
    assert!(!lines.iter().any(|l| l.contains("follow it with")));
}

#[test]
fn warnings_are_warning_severity() {
    let w = World::new(Scenario::Ok);
    let (code, lines, stderr) = run(&w, &sample_dir("bundle-with-warnings"));
    assert_eq!(code, 1, "imported_with_messages; {stderr}");
    let end: Vec<_> = lines
        .iter()
        .filter(|l| l.contains(" ended imported_with_messages"))
        .collect();
    assert_eq!(end.len(), 1, "{lines:#?}");
    // user (1) * 8 + warning (4)
    assert!(end[0].starts_with("<12>"), "{}", end[0]);
    assert!(end[0].contains("]: WARN import "), "{}", end[0]);
}

#[test]
fn a_missing_socket_does_not_fail_the_run() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("canvas_sis.toml", b"[log]\nsyslog = true\n");
    let out = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["submit", "--watch", "--interval", "1"])
        .arg(sample_zip())
        .env(
            "CANVAS_SIS_SYSLOG_SOCKET",
            w.home.path().join("nobody.sock"),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr.matches("[log] syslog: cannot send").count(),
        1,
        "one notice: {stderr}"
    );
}
