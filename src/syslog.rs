//! `[log] syslog = true`: every log line also goes to the system log.
//!
//! - Under systemd (`JOURNAL_STREAM` names our stderr), events go to journald in its native
//!   protocol (one datagram of `KEY=value` fields on `/run/systemd/journal/socket`), with
//!   structured fields (`F_IMPORT_ID`, `F_STATE`, …), `SYSLOG_IDENTIFIER=canvas-sis` and a
//!   `PRIORITY` from the level. Written here rather than with tracing-journald so that the
//!   message and every field pass through the same redaction as every other sink.
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

use crate::env_names;
use crate::settings::LogSettings;

/// Where syslog listens on Linux and most Unixes.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// syslog facility `user` (RFC 3164 §4.1.1).
const FACILITY_USER: u8 = 1;

/// rsyslog's and journald's default maximum message size.
const MAX_DATAGRAM: usize = 8 * 1024;

/// journald's native socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// A journal entry's message is cut here: one datagram, well under the socket's limit.
const MAX_JOURNAL_MESSAGE: usize = 48 * 1024;

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
        let journal = std::env::var_os(env_names::JOURNAL_SOCKET)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(JOURNAL_SOCKET));
        return Some(Box::new(
            SyslogLayer::journald(journal)
                .with_filter(not_ui)
                .with_filter(targets),
        ));
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
        crate::redact::one_line(message)
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

/// How an event is written on the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wire {
    /// One RFC 3164 line.
    Rfc3164,
    /// journald's native protocol: `KEY=value` fields.
    Journald,
}

/// One journal entry: PRIORITY, SYSLOG_IDENTIFIER, SYSLOG_PID, MESSAGE and the event's own
/// fields as `F_NAME`. A value with a line break uses the protocol's length-prefixed form.
pub fn journal_entry(
    level: Level,
    pid: u32,
    message: &str,
    fields: &[(String, String)],
) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, key: &str, value: &str) {
        out.extend_from_slice(key.as_bytes());
        if value.contains('\n') {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
        } else {
            out.push(b'=');
        }
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    let mut message = message;
    if message.len() > MAX_JOURNAL_MESSAGE {
        let mut end = MAX_JOURNAL_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message = &message[..end];
    }
    let mut out = Vec::with_capacity(message.len() + 128);
    field(&mut out, "PRIORITY", &severity(level).to_string());
    field(&mut out, "SYSLOG_IDENTIFIER", "canvas-sis");
    field(&mut out, "SYSLOG_PID", &pid.to_string());
    field(&mut out, "MESSAGE", message);
    for (k, v) in fields {
        // Journal field names are upper-case letters, digits and underscores.
        let name: String = k
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        field(&mut out, &format!("F_{name}"), v);
    }
    out
}

/// Sends each event as one datagram to a local syslog or journald socket.
pub struct SyslogLayer {
    path: PathBuf,
    pid: u32,
    wire: Wire,
    socket: Mutex<Option<UnixDatagram>>,
    warned: AtomicBool,
}

impl SyslogLayer {
    /// RFC 3164 lines to a syslog socket.
    pub fn new(path: PathBuf) -> SyslogLayer {
        SyslogLayer {
            path,
            pid: std::process::id(),
            wire: Wire::Rfc3164,
            socket: Mutex::new(None),
            warned: AtomicBool::new(false),
        }
    }

    /// Journal entries to journald's native socket.
    pub fn journald(path: PathBuf) -> SyslogLayer {
        SyslogLayer {
            wire: Wire::Journald,
            ..SyslogLayer::new(path)
        }
    }

    fn send(&self, line: &[u8]) {
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
            match sock.send(line) {
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
            crate::output::stderr(&format!(
                "canvas-sis: warning: [log] syslog: cannot send to {}: {e}; lines go to the log file only\n",
                self.path.display()
            ));
        }
    }
}

/// The message and the other fields of an event, as text.
#[derive(Default)]
struct Message {
    text: String,
    fields: Vec<(String, String)>,
}

impl Message {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.text = value;
        } else {
            self.fields.push((field.name().to_string(), value));
        }
    }
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}"));
    }
}

impl<S> Layer<S> for SyslogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut m = Message::default();
        event.record(&mut m);
        let level = *event.metadata().level();
        let message = crate::redact::redact(&m.text);
        let bytes = match self.wire {
            Wire::Rfc3164 => {
                format_line(level, self.pid, &crate::clock::now(), &message).into_bytes()
            }
            Wire::Journald => {
                let fields: Vec<(String, String)> = m
                    .fields
                    .iter()
                    .map(|(k, v)| (k.clone(), crate::redact::redact(v).into_owned()))
                    .collect();
                journal_entry(level, self.pid, &message, &fields)
            }
        };
        self.send(&bytes);
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
        l.send(b"<14>lost"); // no socket yet: dropped, no panic
        let rx = UnixDatagram::bind(&p).unwrap();
        l.send(b"<14>hello");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<14>hello");
    }

    #[test]
    fn journal_entries_are_redacted_like_every_other_sink() {
        use tracing_subscriber::layer::SubscriberExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let subscriber = tracing_subscriber::registry().with(SyslogLayer::journald(path));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                url = "https://x/api?access_token=s3cr3t",
                import_id = 141u64,
                "GET https://x/api?access_token=s3cr3t failed\nsecond line"
            );
        });
        let mut buf = vec![0u8; 65536];
        let n = sock.recv(&mut buf).unwrap();
        let entry = String::from_utf8_lossy(&buf[..n]).to_string();
        assert!(!entry.contains("s3cr3t"), "{entry}");
        assert!(
            entry.starts_with("PRIORITY=3\nSYSLOG_IDENTIFIER=canvas-sis\n"),
            "{entry}"
        );
        assert!(entry.contains("F_IMPORT_ID=141\n"), "{entry}");
        assert!(entry.contains("F_URL="), "{entry}");
        // The two-line message goes in the length-prefixed form.
        let at = buf[..n].windows(8).position(|w| w == b"MESSAGE\n").unwrap();
        let len = u64::from_le_bytes(buf[at + 8..at + 16].try_into().unwrap()) as usize;
        let msg = String::from_utf8_lossy(&buf[at + 16..at + 16 + len]);
        assert!(msg.ends_with("failed\nsecond line"), "{msg}");
    }
}
