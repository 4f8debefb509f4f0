//! Progress bars on stderr (`--progress auto|always|never`): the upload's bytes, rate and ETA,
//! and an import's state and progress while it is watched.
//!
//! Bars are drawn only on stderr, never into the log file: with `auto` only when stderr is a
//! terminal (so cron mail and redirected output stay clean), with `always` even when it is not
//! (plain ANSI, for a CI log that renders it). While a bar is shown, log lines written through
//! [`stderr_writer`] hide it for the moment they are printed, so the two do not garble each
//! other.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::settings::When;

/// Redraws per second (indicatif's own limit; a bar costs nothing between redraws).
const REFRESH_HZ: u8 = 8;

/// Whether to draw bars: `always`, or `auto` on a terminal that is not `TERM=dumb`.
pub fn enabled(when: When, stderr_tty: bool, term_dumb: bool) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => stderr_tty && !term_dumb,
    }
}

fn enabled_here(when: When) -> bool {
    let dumb = std::env::var(crate::env_names::TERM).is_ok_and(|t| t == "dumb");
    enabled(when, std::io::stderr().is_terminal(), dumb)
}

fn target(when: When) -> ProgressDrawTarget {
    if when == When::Always && !std::io::stderr().is_terminal() {
        // indicatif hides itself off a terminal; `always` means draw anyway.
        ProgressDrawTarget::term_like_with_hz(Box::new(AnsiStderr), REFRESH_HZ)
    } else {
        ProgressDrawTarget::stderr_with_hz(REFRESH_HZ)
    }
}

/// The bar being shown, for [`stderr_writer`] to hide while a log line is printed.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn set_active(pb: Option<&ProgressBar>) {
    if let Ok(mut a) = ACTIVE.lock() {
        *a = pb.cloned();
    }
}

/// An upload bar of `len` bytes and the callback that moves it (give it the running total
/// of bytes sent, as `FileBody::on_chunk` does). None when bars
/// are off. Call `finish_and_clear()` (or `abandon()`) on the bar when the upload ends.
#[allow(clippy::type_complexity)]
pub fn upload_bar(len: u64, when: When) -> Option<(ProgressBar, Arc<dyn Fn(u64) + Send + Sync>)> {
    if !enabled_here(when) {
        return None;
    }
    let pb = ProgressBar::with_draw_target(Some(len), target(when));
    pb.set_style(
        ProgressStyle::with_template(
            "uploading [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    set_active(Some(&pb));
    let moved = pb.clone();
    let cb: Arc<dyn Fn(u64) + Send + Sync> = Arc::new(move |total: u64| {
        moved.set_position(total.min(len));
    });
    Some((pb, cb))
}

/// A watched import: a 0–100 bar with the state as its message. Inert when bars are off,
/// so callers need no `Option`.
pub struct WatchBar {
    pb: Option<ProgressBar>,
}

impl WatchBar {
    pub fn new(import_id: u64, when: When) -> WatchBar {
        if !enabled_here(when) {
            return WatchBar { pb: None };
        }
        let pb = ProgressBar::with_draw_target(Some(100), target(when));
        pb.set_style(
            ProgressStyle::with_template("import {prefix} [{bar:30}] {pos:>3}% {msg} ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        pb.set_prefix(import_id.to_string());
        // Keeps the elapsed time moving between polls.
        pb.enable_steady_tick(Duration::from_millis(500));
        set_active(Some(&pb));
        WatchBar { pb: Some(pb) }
    }

    /// Whether a bar is drawn.
    pub fn is_shown(&self) -> bool {
        self.pb.is_some()
    }

    /// The latest poll: state and progress (0–100; Canvas caps it at 99 while running).
    pub fn set(&self, state: &str, progress: Option<f64>) {
        if let Some(pb) = &self.pb {
            if let Some(p) = progress {
                pb.set_position(p.clamp(0.0, 100.0).round() as u64);
            }
            pb.set_message(state.to_string());
        }
    }

    /// Remove the bar (the end is logged as a line anyway).
    pub fn finish(&self) {
        if let Some(pb) = &self.pb {
            pb.finish_and_clear();
            set_active(None);
        }
    }
}

impl Drop for WatchBar {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A `MakeWriter` for the stderr log layer: each line is printed with the active bar hidden
/// (`.with_writer(crate::progress::stderr_writer)` instead of `std::io::stderr`).
pub fn stderr_writer() -> SuspendingStderr {
    SuspendingStderr
}

/// See [`stderr_writer`].
pub struct SuspendingStderr;

impl Write for SuspendingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let active = ACTIVE.lock().ok().and_then(|a| a.clone());
        match active {
            Some(pb) if !pb.is_finished() => pb.suspend(|| std::io::stderr().write(buf)),
            _ => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// stderr with ANSI cursor moves, for `--progress always` when stderr is not a terminal.
#[derive(Debug)]
struct AnsiStderr;

impl AnsiStderr {
    fn put(&self, s: &str) -> std::io::Result<()> {
        std::io::stderr().write_all(s.as_bytes())
    }
}

impl TermLike for AnsiStderr {
    fn width(&self) -> u16 {
        std::env::var(crate::env_names::COLUMNS)
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100)
    }
    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}A"))?;
        }
        Ok(())
    }
    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}B"))?;
        }
        Ok(())
    }
    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}C"))?;
        }
        Ok(())
    }
    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        if n > 0 {
            self.put(&format!("\x1b[{n}D"))?;
        }
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.put(s)?;
        self.put("\n")
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.put(s)
    }
    fn clear_line(&self) -> std::io::Result<()> {
        self.put("\r\x1b[2K")
    }
    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_to_draw() {
        assert!(enabled(When::Always, false, false));
        assert!(enabled(When::Always, true, true));
        assert!(!enabled(When::Never, true, false));
        assert!(enabled(When::Auto, true, false));
        assert!(
            !enabled(When::Auto, false, false),
            "not into a file or a pipe"
        );
        assert!(!enabled(When::Auto, true, true), "not on TERM=dumb");
    }

    #[test]
    fn never_means_no_bar() {
        assert!(upload_bar(10, When::Never).is_none());
        let w = WatchBar::new(1, When::Never);
        assert!(!w.is_shown());
        w.set("importing", Some(50.0));
        w.finish();
    }

    #[test]
    fn callback_moves_the_bar() {
        // `always` draws even here (stderr of a test is not a terminal).
        let (pb, cb) = upload_bar(1000, When::Always).expect("always");
        cb(400);
        assert_eq!(pb.position(), 400);
        cb(5000);
        assert_eq!(pb.position(), 1000, "capped at the length");
        pb.finish_and_clear();
        set_active(None);
    }
}
