//! `[log] syslog = true`: every log line also goes to the system log.
//!
//! - Under systemd (`JOURNAL_STREAM` names our stderr), events go to journald through
//!   `tracing-journald`, with structured fields (`F_IMPORT_ID`, `F_STATE`, …),
//!   `SYSLOG_IDENTIFIER=canvas-sis` and a `PRIORITY` from the level.
//! - Elsewhere, each line is an RFC 3164 datagram on the local syslog socket (`/dev/log`, or
//!   `CANVAS_SIS_SYSLOG_SOCKET`): `<PRI>Mmm dd hh:mm:ss canvas-sis[PID]: LEVEL message`,
//!   facility `user`, severity from the level. The `LEVEL message` part is the same as in the
//!   log file, so one monitor pattern matches both. An explicit `CANVAS_SIS_SYSLOG_SOCKET` wins
//!   over journald.
//!
//! Sending never blocks and never fails the run: a missing or full socket drops the line (the
//! log file still has it), with one notice on stderr.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterFn, LevelFilter, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogSettings;
use crate::env_names;

/// Where syslog listens on Linux and most Unixes.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// syslog facility `user` (RFC 3164 §4.1.1).
const FACILITY_USER: u8 = 1;

/// rsyslog's and journald's default maximum message size.
const MAX_DATAGRAM: usize = 8 * 1024;

/// The layer to add to the registry, or None when `[log] syslog` is off. `level` is the file
/// log's level (INFO, DEBUG with -vv); events with target `ui` are left out, as in the file.
pub fn layer<S>(settings: &LogSettings, level: Level) -> Option<Box<dyn Layer<S> + Send + Sync>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    if !settings.syslog {
        return None;
    }
    let targets = Targets::new()
        .with_target("canvas_sis", level)
        .with_default(LevelFilter::OFF);
    let not_ui = FilterFn::new(|m| m.target() != "ui");
    let explicit = std::env::var_os(env_names::SYSLOG_SOCKET).filter(|v| !v.is_empty());
    if explicit.is_none() && journal_is_stderr() {
        match tracing_journald::layer() {
            Ok(j) => {
                let j = j
                    .with_syslog_identifier("canvas-sis".into())
                    .with_field_prefix(Some("F".into()));
                return Some(Box::new(j.with_filter(not_ui).with_filter(targets)));
            }
            Err(e) => {
                eprintln!(
                    "canvas-sis: warning: [log] syslog: journald is not reachable ({e}); using {DEFAULT_SOCKET}"
                );
            }
        }
    }
    let path = explicit
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    Some(Box::new(
        SyslogLayer::new(path)
            .with_filter(not_ui)
            .with_filter(targets),
    ))
}

/// Whether stderr is the journal stream systemd gave us (`JOURNAL_STREAM=DEV:INODE`).
pub fn journal_is_stderr() -> bool {
    let Some(v) = std::env::var_os(env_names::JOURNAL_STREAM) else {
        return false;
    };
    let Some((dev, ino)) = v.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let Ok(st) = rustix::fs::fstat(std::io::stderr()) else {
        return false;
    };
    // The widths of st_dev and st_ino differ between platforms.
    #[allow(clippy::unnecessary_cast)]
    let same = st.st_dev as u64 == dev && st.st_ino as u64 == ino;
    same
}

/// RFC 3164 severity of a level.
pub fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// `<PRI>Mmm dd hh:mm:ss canvas-sis[PID]: LEVEL message`, cut to [`MAX_DATAGRAM`] bytes.
pub fn format_line(level: Level, pid: u32, now: &jiff::Zoned, message: &str) -> String {
    let pri = FACILITY_USER * 8 + severity(level);
    let mut line = format!(
        "<{pri}>{} canvas-sis[{pid}]: {level} {}",
        now.strftime("%b %e %H:%M:%S"),
        crate::log::one_line(message)
    );
    if line.len() > MAX_DATAGRAM {
        let mut end = MAX_DATAGRAM;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    line
}

/// Sends each event as one datagram to a local syslog socket.
pub struct SyslogLayer {
    path: PathBuf,
    pid: u32,
    socket: Mutex<Option<UnixDatagram>>,
    warned: AtomicBool,
}

impl SyslogLayer {
    pub fn new(path: PathBuf) -> SyslogLayer {
        SyslogLayer {
            path,
            pid: std::process::id(),
            socket: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    fn send(&self, line: &str) {
        let Ok(mut guard) = self.socket.lock() else {
            return;
        };
        // One reconnect per line: syslogd may have been restarted since the last one.
        for _ in 0..2 {
            if guard.is_none() {
                match UnixDatagram::unbound().and_then(|s| {
                    s.set_nonblocking(true)?;
                    s.connect(&self.path)?;
                    Ok(s)
                }) {
                    Ok(s) => *guard = Some(s),
                    Err(e) => {
                        self.warn_once(&e);
                        return;
                    }
                }
            }
            let sock = guard.as_ref().expect("just set");
            match sock.send(line.as_bytes()) {
                Ok(_) => return,
                // A full queue: drop the line rather than stall the run.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.warn_once(&e);
                    return;
                }
                Err(e) => {
                    *guard = None;
                    self.warn_once(&e);
                }
            }
        }
    }

    fn warn_once(&self, e: &std::io::Error) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            eprintln!(
                "canvas-sis: warning: [log] syslog: cannot send to {}: {e}; lines go to the log file only",
                self.path.display()
            );
        }
    }
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S> Layer<S> for SyslogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut m = Message::default();
        event.record(&mut m);
        let message = crate::redact::redact(&m.0);
        let line = format_line(
            *event.metadata().level(),
            self.pid,
            &jiff::Zoned::now(),
            &message,
        );
        self.send(&line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3164_lines() {
        let t: jiff::Zoned = "2026-11-04T06:25:04[UTC]".parse().unwrap();
        assert_eq!(
            format_line(Level::INFO, 42, &t, "import 101 ended imported"),
            "<14>Nov  4 06:25:04 canvas-sis[42]: INFO import 101 ended imported"
        );
        assert!(format_line(Level::ERROR, 1, &t, "x").starts_with("<11>"));
        assert!(format_line(Level::WARN, 1, &t, "x").starts_with("<12>"));
        assert!(format_line(Level::DEBUG, 1, &t, "x").starts_with("<15>"));
        assert_eq!(
            format_line(Level::INFO, 1, &t, "a\nb"),
            "<14>Nov  4 06:25:04 canvas-sis[1]: INFO a | b"
        );
        assert_eq!(
            format_line(Level::ERROR, 1, &t, "a\r\nb\n  hint: c"),
            "<11>Nov  4 06:25:04 canvas-sis[1]: ERROR a | b; hint: c"
        );
        let long = "é".repeat(MAX_DATAGRAM);
        let l = format_line(Level::INFO, 1, &t, &long);
        assert!(l.len() <= MAX_DATAGRAM);
    }

    #[test]
    fn sends_to_the_socket_and_survives_its_absence() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.sock");
        let l = SyslogLayer::new(p.clone());
        l.send("<14>lost"); // no socket yet: dropped, no panic
        let rx = UnixDatagram::bind(&p).unwrap();
        l.send("<14>hello");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<14>hello");
    }
}
