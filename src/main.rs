//! The canvas-sis binary: everything happens in `canvas_sis::run`, which returns the exit code.

fn main() -> std::process::ExitCode {
    // A reader of stdout that goes away (`list | head`, `submit --watch | true`) is no reason
    // to die: with SIGPIPE ignored the write fails with EPIPE, and `output::stdout` prints
    // nothing more while the run goes on (a submit still follows the import it created) and
    // ends with its own exit code. Rust ignores SIGPIPE already; said here, as it is relied on.
    #[cfg(unix)]
    // SAFETY: setting the disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    std::process::ExitCode::from(canvas_sis::run())
}
