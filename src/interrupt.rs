//! SIGINT, SIGTERM and SIGHUP as a clean end (exit 130, contract "Exit codes") instead of a
//! silent death by signal, in every phase of a run.
//!
//! [`install`] replaces the default disposition (die at once: 130/143/129 with no message, no
//! log line, and a temporary zip left in `$TMPDIR`) by a listener on a thread of its own, so a
//! signal is seen even while the main thread is busy zipping, hashing or waiting for the lock.
//! Blocking loops ask [`check`] between steps and unwind (dropping their temporary files);
//! async phases race their work against [`wait`].
//!
//! Every command that talks to Canvas is raced against [`wait`] as a whole by the dispatcher
//! (`commands::dispatch`), whose exit-130 failure is [`stopped`]: what the command last said
//! of where it stands ([`stand`]: for `abort`, whether the request was sent), else that it
//! changed nothing. Phases that word their own message (a watch, `submit`) race [`wait`]
//! themselves and win, as the dispatcher polls the command first.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::Notify;

use crate::exit::{Exit, Failure, Result};

/// The first signal received (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static NOTIFY: Notify = Notify::const_new();
/// Whether the listener runs (false when the signals could not be taken over).
static INSTALLED: OnceLock<bool> = OnceLock::new();
/// For a command that works only on this host ([`end_at_once`]): what it is doing, and how
/// its error document is printed.
static ENDS_AT_ONCE: OnceLock<(String, Printer)> = OnceLock::new();

/// Prints the failure a signal made (under `--json`, the error document on an untouched
/// stdout). Given by the caller: printing is `crate::output`'s, which stands above this module.
pub type Printer = Box<dyn Fn(&Failure) + Send + Sync>;

/// Take over SIGINT, SIGTERM and SIGHUP for the rest of the process (idempotent). Returns
/// once the listener is in place, so no signal falls between.
pub fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        let (ready, is_ready) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("canvas-sis-signals".into())
            .spawn(move || listen(ready));
        spawned.is_ok() && is_ready.recv().unwrap_or(false)
    })
}

fn listen(ready: std::sync::mpsc::Sender<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        let _ = ready.send(false);
        return;
    };
    rt.block_on(async move {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            let _ = ready.send(false);
            return;
        };
        let _ = ready.send(true);
        loop {
            let n = tokio::select! {
                _ = int.recv() => libc::SIGINT,
                _ = term.recv() => libc::SIGTERM,
                _ = hup.recv() => libc::SIGHUP,
            };
            let _ = RECEIVED.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst);
            if let Some((what, print)) = ENDS_AT_ONCE.get() {
                end_now(name(n), what, print);
            }
            NOTIFY.notify_waiters();
        }
    });
}

/// A command that works only on this host (`validate`, `plan` without Canvas, `report`,
/// `history`) is ended by a signal at once, from the listener: exit 130 with the message
/// (and under `--json` the error document), as every other command ends. It sends nothing
/// and leaves nothing half-written that a later run would read (its output files are
/// renamed into place), so there is nothing to wind down, and no loop of it has to ask.
/// `what` completes "interrupted by SIGTERM while …"; `print` shows the failure.
pub fn end_at_once(what: String, print: Printer) {
    let _ = ENDS_AT_ONCE.set((what, print));
    install();
}

fn end_now(signal: &str, what: &str, print: &Printer) -> ! {
    let f = before_sending(signal, what).kind("interrupted");
    tracing::error!(target: "canvas_sis", "{f}");
    print(&f);
    std::process::exit(i32::from(Exit::Interrupted.code()));
}

/// The name of the first signal received, if any.
pub fn received() -> Option<&'static str> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(name(n)),
    }
}

fn name(n: i32) -> &'static str {
    match n {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Resolves with the signal's name once one arrived (at once if one already has).
pub async fn wait() -> &'static str {
    if !install() {
        // No listener (no thread, or the signals could not be taken): Ctrl-C at least.
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    }
    loop {
        let notified = NOTIFY.notified();
        tokio::pin!(notified);
        // Registered before the check, so a signal between the two still wakes us.
        notified.as_mut().enable();
        if let Some(s) = received() {
            return s;
        }
        notified.await;
    }
}

/// What a signal now would leave behind: said after "interrupted by SIGTERM: ", with a hint
/// and the keys `--json` prints beside `error`.
struct Standing {
    said: String,
    hint: Option<String>,
    partial: serde_json::Value,
}

static STANDING: Mutex<Option<Standing>> = Mutex::new(None);

/// Where the running command stands, for [`stopped`]: `said` completes "interrupted by
/// SIGTERM: " (e.g. "the abort of import 5 was not sent; nothing was changed"); `partial` is
/// a JSON object (or null) printed beside `error` under `--json`.
pub fn stand(said: impl Into<String>, hint: Option<String>, partial: serde_json::Value) {
    let s = Standing {
        said: said.into(),
        hint,
        partial,
    };
    *STANDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(s);
}

/// The exit-130 failure of a command stopped by `signal` where it last said it stood.
pub fn stopped(signal: &str) -> Failure {
    let guard = STANDING.lock().unwrap_or_else(|p| p.into_inner());
    let Some(s) = guard.as_ref() else {
        return Failure::new(
            Exit::Interrupted,
            format!("interrupted by {signal}; nothing was changed in Canvas"),
        );
    };
    let mut f = Failure::new(
        Exit::Interrupted,
        format!("interrupted by {signal}: {}", s.said),
    );
    if s.partial.is_object() {
        f = f.partial(s.partial.clone());
    }
    if let Some(h) = &s.hint {
        f = f.hint(h.clone());
    }
    f
}

/// The error for a run stopped by `signal` while `what`, before anything was sent.
pub fn before_sending(signal: &str, what: &str) -> Failure {
    Failure::new(
        Exit::Interrupted,
        format!("interrupted by {signal} while {what}; nothing was sent"),
    )
}

/// For blocking loops that run before anything is sent (zipping, hashing, waiting for the
/// lock): `Err` (exit 130) once a signal arrived, for the caller to unwind and drop its
/// temporary files.
pub fn check(what: impl FnOnce() -> String) -> Result<()> {
    match received() {
        Some(s) => Err(before_sending(s, &what())),
        None => Ok(()),
    }
}
