//! E-mail notifications (`[notify] smtp_url`): a failed import against the simulator, mailed
//! to an SMTP sink on 127.0.0.1 written here (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT), and a
//! sink that refuses the mail.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use fake_canvas::Scenario;

const PASSWORD: &str = "pw-s3cret-Xq7";

#[derive(Clone, Debug, Default)]
struct Mail {
    from: String,
    rcpts: Vec<String>,
    auth: Option<String>,
    data: String,
}

/// An SMTP server on loopback that records what it is sent; with `refuse`, it answers MAIL
/// with 550. It stops after `LIFETIME` or when dropped.
struct Sink {
    port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

const LIFETIME: Duration = Duration::from_secs(120);

impl Sink {
    fn start(refuse: bool) -> Sink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let port = l.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(vec![]));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (m, s) = (mails.clone(), stop.clone());
        std::thread::spawn(move || {
            let end = Instant::now() + LIFETIME;
            while Instant::now() < end && !s.load(std::sync::atomic::Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => {
                        let _ = session(c, refuse, &m);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Sink { port, mails, stop }
    }

    fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One SMTP session (RFC 5321, just enough of it), bounded by a read timeout.
fn session(c: TcpStream, refuse: bool, mails: &Mutex<Vec<Mail>>) -> std::io::Result<()> {
    c.set_nonblocking(false)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut w = c.try_clone()?;
    let mut r = BufReader::new(c);
    w.write_all(b"220 sink ESMTP\r\n")?;
    let mut mail = Mail::default();
    let mut line = String::new();
    for _ in 0..1000 {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
            b"250 ok\r\n"
        } else if upper.starts_with("RSET") {
            mail = Mail::default();
            b"250 ok\r\n"
        } else if upper.starts_with("AUTH") {
            mail.auth = Some(cmd.clone());
            b"235 2.7.0 accepted\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            if refuse {
                b"550 5.7.1 this sink refuses all mail\r\n"
            } else {
                mail.from = cmd[10..].to_string();
                b"250 ok\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            mail.rcpts.push(cmd[8..].to_string());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            w.write_all(b"354 go on\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line)? == 0 || line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            mail.data = data;
            mails.lock().unwrap().push(std::mem::take(&mut mail));
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            b"502 not here\r\n"
        };
        w.write_all(reply)?;
    }
    Ok(())
}

/// Quoted-printable (RFC 2045 §6.7) decoded, for the body's non-ASCII lines.
fn unqp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(input: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for ch in input.chunks(3) {
        let n = (ch[0] as u32) << 16
            | (*ch.get(1).unwrap_or(&0) as u32) << 8
            | *ch.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= ch.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn config(w: &World, port: u16) -> std::path::PathBuf {
    w.file(
        "mail.toml",
        format!(
            "[notify]\nsmtp_url = \"smtp://alerts%40school.edu@127.0.0.1:{port}\"\nfrom = \"canvas-sis <canvas-sis@school.edu>\"\nto = [\"sis-team@school.edu\", \"oncall@school.edu\"]\n"
        )
        .as_bytes(),
    )
}

#[test]
fn a_failed_import_is_mailed_with_its_errors_csv_attached() {
    let sink = Sink::start(false);
    let w = World::new(Scenario::Failed);
    let cfg = config(&w, sink.port);
    let o = w
        .cmd()
        .env("CANVAS_SIS_SMTP_PASSWORD", PASSWORD)
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let id: u64 = stdout(&o).trim().parse().unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "{mails:?}\n{}", w.log_text());
    let m = &mails[0];
    assert_eq!(m.from, "<canvas-sis@school.edu>");
    assert_eq!(
        m.rcpts,
        vec!["<sis-team@school.edu>", "<oncall@school.edu>"]
    );
    // The user from the URL, the password from the environment (AUTH PLAIN: \0user\0password).
    assert_eq!(
        m.auth.as_deref(),
        Some(
            format!(
                "AUTH PLAIN {}",
                base64(format!("\0alerts@school.edu\0{PASSWORD}").as_bytes())
            )
            .as_str()
        )
    );
    let data = m.data.replace("\r\n ", " ");
    assert!(
        data.contains(&format!(
            "Subject: canvas-sis failed: import {id} failed_with_messages (1 errors, 0 warnings) on"
        )),
        "{data}"
    );
    assert!(
        data.contains("To: sis-team@school.edu, oncall@school.edu"),
        "{data}"
    );
    let body = unqp(&m.data);
    assert!(body.contains(&format!("import:    {id}")), "{body}");
    assert!(body.contains("state:     failed_with_messages"), "{body}");
    assert!(
        body.contains("1 × Error while importing CSV. Please contact support. (Error report …)"),
        "{body}"
    );
    assert!(
        body.contains("Content-Disposition: attachment; filename=\"errors.csv\""),
        "{body}"
    );
    assert!(
        body.contains("Content-Type: text/csv; charset=utf-8"),
        "{body}"
    );
    assert!(
        body.contains(&format!("sis_import_id,file,message,row\r\n{id},,Error while importing CSV. Please contact support. (Error report")),
        "{body}"
    );
    // Never the Canvas token in a mail; the password is in no log line and no output.
    assert!(!m.data.contains(&w.sim.token()));
    assert!(
        w.log_text()
            .contains("mailed sis-team@school.edu, oncall@school.edu"),
        "{}",
        w.log_text()
    );
    for text in [w.log_text(), stderr(&o), stdout(&o)] {
        assert!(!text.contains(PASSWORD));
    }
}

#[test]
fn a_refusing_mail_server_is_a_warn_line_and_the_exit_code_stays() {
    let sink = Sink::start(true);
    let w = World::new(Scenario::Failed);
    let cfg = config(&w, sink.port);
    let started = Instant::now();
    let o = w
        .cmd()
        .env("CANVAS_SIS_SMTP_PASSWORD", PASSWORD)
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(sink.mails().is_empty());
    let log = w.log_text();
    let warn = log
        .lines()
        .find(|l| {
            l.contains("e-mail to sis-team@school.edu, oncall@school.edu via smtp://127.0.0.1:")
        })
        .unwrap_or_else(|| panic!("no WARN line: {log}"));
    assert!(warn.contains(" WARN "), "{warn}");
    assert!(
        warn.contains("was not delivered") && warn.contains("550"),
        "{warn}"
    );
    assert!(!log.contains(PASSWORD) && !stderr(&o).contains(PASSWORD));
    // A permanent refusal is not retried for long.
    assert!(started.elapsed() < Duration::from_secs(60));

    // Nothing listening at all: the same WARN, the same exit code.
    let (_held, port) = refusing_port();
    let cfg = config(&w, port);
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    // No password in the environment this time: said, not sent.
    assert!(
        w.log_text().contains("CANVAS_SIS_SMTP_PASSWORD is not set"),
        "{}",
        w.log_text()
    );
}

#[test]
fn a_password_in_the_smtp_url_is_a_configuration_error() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file(
        "bad.toml",
        b"[notify]\nsmtp_url = \"smtp://u:hunter2@mail.example.edu\"\nfrom = \"a@b.edu\"\nto = [\"c@d.edu\"]\n",
    );
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["--json", "history"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    let doc = json(&o);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("CANVAS_SIS_SMTP_PASSWORD"),
        "{doc}"
    );
    assert!(!stdout(&o).contains("hunter2") && !stderr(&o).contains("hunter2"));
}

/// A mail server that takes the connection and never greets (or trickles its greeting):
/// accepts up to 4 connections, tells `accepted` of each, holds each 90 s.
fn silent_smtp() -> (u16, std::sync::mpsc::Receiver<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for c in l.incoming().take(4).flatten() {
            let _ = tx.send(());
            std::thread::spawn(move || {
                let _held = c;
                std::thread::sleep(Duration::from_secs(90));
            });
        }
    });
    (port, rx)
}

/// A mail server that never answers holds the run for at most a bounded time (each attempt
/// 15 s, all notifications 45 s): the run then ends with the import's own exit code, and a
/// WARN says why no mail went. It once held the run, and its account's lock, for good.
#[test]
fn a_silent_mail_server_never_holds_the_run_for_long() {
    let (port, _accepted) = silent_smtp();
    let w = World::new(Scenario::Failed);
    let cfg = config(&w, port);
    let started = Instant::now();
    let o = w
        .cmd()
        .env("CANVAS_SIS_SMTP_PASSWORD", PASSWORD)
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .timeout(Duration::from_secs(90))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    let log = w.log_text();
    assert!(
        log.contains("the mail server did not finish within 15 s"),
        "{log}"
    );
}

/// SIGTERM while the mail server keeps the run waiting ends it at once, with the import's
/// own outcome (it is known: only the mail was still going).
#[test]
fn sigterm_while_mailing_ends_the_run_with_the_imports_outcome() {
    let (port, accepted) = silent_smtp();
    let w = World::new(Scenario::Failed);
    let cfg = config(&w, port);
    let child = w
        .std_cmd()
        .env("CANVAS_SIS_SMTP_PASSWORD", PASSWORD)
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .args(WATCH)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    if accepted.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        panic!("the run never reached the mail server");
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(5);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("the run did not end within 5 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(
        w.log_text().contains("given up: interrupted by SIGTERM"),
        "{}",
        w.log_text()
    );
}
