//! Logging: syslog-style lines (or JSON) to a rotating file, and to stderr.
//!
//! Every event goes to the log file at INFO and above (DEBUG with -vv). On stderr, without -v,
//! events are shown as plain human text — INFO only when stderr is a terminal, so a cron job
//! stays quiet unless something is wrong; with -v, stderr gets the same syslog-style lines as
//! the file. Events with target `ui` are for stderr only.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::PathBuf;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::WorkerGuard;

/// Log lines that may wait for the file writer's thread before a new line waits for room.
const LOG_QUEUE: usize = 4096;
use tracing_subscriber::filter::{FilterFn, LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::exit::{Failure, Result};
use crate::logfile::LogFile;
use crate::settings::{LogFormat, LogSettings};

/// Keeps the file writer alive; dropping it flushes what is buffered. Held by `main`.
pub struct LogGuard {
    _file: Option<WorkerGuard>,
    /// The path a monitor should watch (the file, or the symlink to the current one).
    pub path: Option<PathBuf>,
}

/// The host name, for the syslog HOST field.
pub fn hostname() -> String {
    let uname = rustix::system::uname();
    let h = uname.nodename().to_string_lossy();
    // syslog's HOST is the short name.
    match h.split('.').next() {
        Some(short) if !short.is_empty() => short.to_string(),
        _ => "localhost".into(),
    }
}

/// What stderr should show.
#[derive(Clone, Copy, Debug)]
pub struct StderrMode {
    pub verbose: u8,
    pub quiet: bool,
    pub color: bool,
}

/// Install the global subscriber. Call once, early, and keep the guard until exit.
/// `writes_log`: whether this command writes log lines (validate and config show do not).
pub fn init(settings: &LogSettings, stderr: StderrMode, writes_log: bool) -> Result<LogGuard> {
    let ours = |level: Level| {
        Targets::new()
            .with_target("canvas_sis", level)
            .with_target("fake_canvas", Level::WARN)
            .with_default(if stderr.verbose >= 3 {
                LevelFilter::TRACE
            } else {
                LevelFilter::WARN
            })
    };
    let file_level = if stderr.verbose >= 3 {
        Level::TRACE
    } else if stderr.verbose >= 2 {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let host = hostname();
    let pid = std::process::id();
    let mut guard = LogGuard {
        _file: None,
        path: None,
    };

    let file_layer = match &settings.dir {
        None => None,
        Some(_) if !writes_log => None,
        Some(dir) => {
            // A dir the admin named must work, or the run stops before it starts; the
            // default one is made on the first line, with a notice if it cannot be.
            if settings.explicit_dir {
                crate::logfile::check_dir(dir).map_err(|e| {
                    Failure::config(format!("cannot create log directory {}: {e}", dir.display()))
                        .kind("log_dir")
                        .hint("set --log-dir, CANVAS_SIS_LOG_DIR or [log] dir to a writable directory, or --no-log-file")
                })?;
            }
            let file = LogFile::new(
                dir.clone(),
                settings.file.clone(),
                settings.rotation,
                settings.keep,
                !settings.explicit_dir,
            );
            guard.path = Some(file.path());
            // A queue of LOG_QUEUE lines that blocks when full (never drops a line). The
            // default, 128,000 lines, allocates and zeroes megabytes at start-up, which
            // every run paid for (about 1.5 ms of a 15 ms `submit`).
            let (writer, g) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .buffered_lines_limit(LOG_QUEUE)
                .lossy(false)
                .finish(file);
            guard._file = Some(g);
            let not_ui = FilterFn::new(|m| m.target() != "ui");
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false)
                .event_format(LineFormat {
                    host: host.clone(),
                    pid,
                    json: settings.format == LogFormat::Json,
                    plain: false,
                    color: false,
                })
                .with_filter(not_ui)
                .with_filter(ours(file_level));
            Some(layer)
        }
    };

    let stderr_level = match (stderr.quiet, stderr.verbose) {
        (true, _) => Level::ERROR,
        (false, 0) if std::io::stderr().is_terminal() => Level::INFO,
        (false, 0) => Level::WARN,
        (false, 1) => Level::INFO,
        (false, 2) => Level::DEBUG,
        _ => Level::TRACE,
    };
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(crate::progress::stderr_writer)
        // A closed stderr (`2>&1 | head`; SIGPIPE is ignored) loses its lines; the layer's
        // own notice of that would be an `eprintln!`, which panics there.
        .log_internal_errors(false)
        .with_ansi(false)
        .event_format(LineFormat {
            host,
            pid,
            json: false,
            plain: stderr.verbose == 0,
            color: stderr.color,
        })
        .with_filter(
            Targets::new()
                .with_target("canvas_sis", stderr_level)
                .with_target("ui", stderr_level)
                .with_default(if stderr.verbose >= 3 {
                    LevelFilter::TRACE
                } else {
                    LevelFilter::WARN
                }),
        );

    let syslog_layer = crate::syslog::layer(settings, file_level);
    let subscriber = Registry::default()
        .with(file_layer)
        .with(stderr_layer)
        .with(syslog_layer);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| Failure::config(format!("cannot install the logger: {e}")).kind("log_dir"))?;
    Ok(guard)
}

/// `Nov 24 06:25:04 HOST canvas-sis[PID]: LEVEL message`, a JSON object, or plain text.
struct LineFormat {
    host: String,
    pid: u32,
    json: bool,
    plain: bool,
    color: bool,
}

#[derive(Default)]
struct Fields {
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let v = format!("{value:?}");
        if field.name() == "message" {
            self.message = v;
        } else {
            self.extra
                .insert(field.name().to_string(), serde_json::Value::String(v));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.extra.insert(
                field.name().to_string(),
                serde_json::Value::String(value.into()),
            );
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut f = Fields::default();
        event.record(&mut f);
        let level = *event.metadata().level();
        let redacted = crate::redact::redact(&f.message);
        let message = crate::redact::visible(&redacted);
        let message = crate::redact::own_lines(&message);
        if self.plain {
            let (label, code) = match level {
                Level::ERROR => ("error: ", "31"),
                Level::WARN => ("warning: ", "33"),
                _ => ("", ""),
            };
            if label.is_empty() {
                return writeln!(w, "{message}");
            }
            if self.color {
                return writeln!(w, "\x1b[{code};1m{label}\x1b[0m{message}");
            }
            return writeln!(w, "{label}{message}");
        }
        let now = crate::clock::now();
        if self.json {
            let mut obj = serde_json::Map::new();
            obj.insert("time".into(), now.timestamp().to_string().into());
            obj.insert("host".into(), self.host.clone().into());
            obj.insert("pid".into(), self.pid.into());
            obj.insert("level".into(), level.to_string().into());
            obj.insert("message".into(), crate::redact::one_line(&message).into());
            for (k, v) in f.extra {
                obj.insert(k, v);
            }
            return writeln!(w, "{}", serde_json::Value::Object(obj));
        }
        let mut line = String::with_capacity(96 + message.len());
        let _ = write!(
            line,
            "{} {} canvas-sis[{}]: {} ",
            now.strftime("%b %e %H:%M:%S"),
            self.host,
            self.pid,
            level
        );
        // One event, one line: a monitor matches lines.
        line.push_str(&crate::redact::one_line(&message));
        writeln!(w, "{line}")
    }
}
