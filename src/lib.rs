//! canvas-sis: validate, submit and watch Canvas LMS SIS imports.
//!
//! `main.rs` only calls [`run`]; the command-line surface is in `cli`, settings in `settings`,
//! talking to Canvas in `canvas`, local checks in `validate`, one module per subcommand in
//! `commands`. `docs/ARCHITECTURE.md` shows the layers; a `§N` in a comment is a section of
//! `docs/canvas-sis-api.md` (how Canvas behaves), and `docs/cli-contract.md` is the contract.

pub mod bundle;
pub mod canvas;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod convert;
pub mod env_names;
pub mod exit;
pub mod import_options;
pub mod interrupt;
pub mod journal;
pub mod lock;
pub mod log;
pub mod logfile;
pub mod notify;
pub mod output;
pub mod paths;
pub mod plan;
pub mod progress;
pub mod record;
pub mod redact;
pub mod report;
pub mod settings;
pub mod syslog;
pub mod validate;

use std::io::IsTerminal;

use clap::FromArgMatches;

use crate::cli::{Cli, Command};
use crate::exit::{Exit, Failure};
use crate::settings::When;

/// Parse the command line, run the command, and return the process exit code.
///
/// With `--json`, stdout gets exactly one JSON document whatever happens: the command's
/// result, or (see [`exit::JsonShape`]) the error document of the failure that ended the run,
/// clap's usage errors and the failures before logging starts included.
pub fn run() -> u8 {
    // Before parsing: a usage error must still know that a JSON document is wanted.
    let json = json_requested(std::env::args_os().skip(1));
    let matches = match cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_error(e, json),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_error(e, json),
    };
    let json = cli.global.json;
    // These need no settings: a broken config must not stop `--help`-like commands.
    let command = match cli.command {
        Command::Completions(a) => return finish(commands::docs::completions(a, json), json),
        Command::Man => return finish(commands::docs::man(json), json),
        other => other,
    };
    let run_flags = cli.global.run_flags(&matches);
    let mut settings = match settings::Settings::load(&run_flags, &matches) {
        Ok(s) => s,
        Err(f) => return early_failure(&f, json),
    };
    let demo = match &command {
        Command::Demo => match commands::demo::prepare(&mut settings) {
            Ok(d) => Some(d),
            Err(f) => return early_failure(&f, json),
        },
        _ => None,
    };
    // -q turns bars off unless they were asked for by name.
    if settings.quiet && settings.progress == When::Auto {
        settings.progress = When::Never;
    }
    let stderr_tty = std::io::stderr().is_terminal();
    let stdout_tty = std::io::stdout().is_terminal();
    let color = match settings.color {
        When::Always => true,
        When::Never => false,
        When::Auto => output::auto_color(stderr_tty),
    };
    let guard = match log::init(
        &settings.log,
        log::StderrMode {
            verbose: settings.verbose,
            quiet: settings.quiet,
            color,
        },
        command.writes_log()
            || (command.is_dry_run() && settings.log.dir.as_ref().is_some_and(|d| d.is_dir())),
    ) {
        Ok(g) => g,
        Err(f) => return early_failure(&f, json),
    };
    for w in &settings.warnings {
        tracing::warn!(target: "canvas_sis", "{w}");
    }
    let log_path = guard.path.clone();
    let (settings_color, quiet, verbose) = (settings.color, settings.quiet, settings.verbose);
    let mut ctx = commands::Ctx {
        settings,
        matches,
        log_path,
        term: output::Term {
            stdout_tty,
            stderr_tty,
            color: settings_color,
            quiet,
            verbose,
        },
        demo,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let f = Failure::new(
                Exit::Unavailable,
                format!("cannot start the async runtime: {e}"),
            )
            .kind("runtime_failed");
            return early_failure(&f, json);
        }
    };
    let result = rt.block_on(commands::dispatch(command, &mut ctx));
    let code = match result {
        Ok(exit) => {
            if json {
                json_for_exit(exit);
            }
            exit.code()
        }
        Err(f) => {
            tracing::error!(target: "canvas_sis", "{f}");
            if json {
                print_failure_json(&f);
            }
            f.exit.code()
        }
    };
    // Flush the log file before the process exits.
    drop(guard);
    code
}

/// Whether `--json` is on the command line (before a `--`), for the errors clap raises
/// before there are parsed flags to ask.
fn json_requested(args: impl Iterator<Item = std::ffi::OsString>) -> bool {
    args.take_while(|a| a != "--").any(|a| a == "--json")
}

/// A command line clap refuses: clap's own text on stderr as always, and with `--json` the
/// error document on stdout. `--help` and `--version` print and exit as clap does.
fn clap_error(e: clap::Error, json: bool) -> u8 {
    let code = e.exit_code();
    if code == 0 || !e.use_stderr() {
        e.exit();
    }
    let _ = e.print();
    if health_requested() {
        return commands::health::unknown(&clap_failure(&e).message, json);
    }
    if json {
        print_failure_json(&clap_failure(&e));
    }
    u8::try_from(code).unwrap_or(Exit::Usage.code())
}

/// Whether the command line names `health`, whose own failures are UNKNOWN (exit 3) with a
/// status line, as a monitor expects of a check (contract, `health`).
fn health_requested() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "health")
}

/// clap's error as a usage failure: its first line is the message, the tip and usage lines
/// that follow are the hint.
fn clap_failure(e: &clap::Error) -> Failure {
    if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return Failure::usage("a command is required")
            .hint("`canvas-sis --help` lists the commands");
    }
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines
        .next()
        .map(|l| l.strip_prefix("error: ").unwrap_or(l).to_string())
        .unwrap_or_else(|| e.kind().to_string());
    let mut rest: Vec<&str> = lines.collect();
    // "the following required arguments were not provided:" and the names on the next
    // lines: the names belong in the message a script reads.
    let mut message = message;
    if message.ends_with(':') {
        let names: Vec<&str> = rest
            .iter()
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more"))
            .copied()
            .collect();
        if !names.is_empty() {
            message = format!("{} {}", message, names.join(", "));
            rest.drain(..names.len());
        }
    }
    let f = Failure::usage(message);
    if rest.is_empty() {
        f
    } else {
        f.hint(rest.join("\n"))
    }
}

/// A failure before the log (and its stderr layer) exists, printed as that layer prints
/// errors: `error: message`, then the hint; with `--json`, its document on stdout.
fn early_failure(f: &exit::Failure, json: bool) -> u8 {
    output::stderr(&format!("error: {f}\n"));
    if health_requested() {
        return commands::health::unknown(&f.message, json);
    }
    if json {
        print_failure_json(f);
    }
    f.exit.code()
}

/// The error document, unless something already went to stdout: a command that printed its
/// result (or failed to) gets no second document.
fn print_failure_json(f: &Failure) {
    if output::stdout_untouched() {
        // If stdout itself fails there is nothing more to do: the exit code says so.
        let _ = output::stdout_json(&f.to_json());
    }
}

/// A command that ended without a failure printed its result. Should an error exit code
/// come back without one (a bug), it still gets an error document.
fn json_for_exit(exit: Exit) {
    if !output::stdout_untouched() {
        return;
    }
    match exit::JsonShape::of(exit.code()) {
        exit::JsonShape::Error => print_failure_json(&Failure::new(
            exit,
            format!("the command ended with exit code {}", exit.code()),
        )),
        shape => {
            tracing::warn!(target: "canvas_sis", "--json: the command printed no result (exit {})", exit.code());
            debug_assert!(
                false,
                "--json: no {shape:?} document for exit {}",
                exit.code()
            );
        }
    }
}

fn finish(r: exit::Result<Exit>, json: bool) -> u8 {
    match r {
        Ok(e) => e.code(),
        Err(f) => early_failure(&f, json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_seen_before_a_double_dash_only() {
        let a = |v: &[&str]| json_requested(v.iter().map(std::ffi::OsString::from));
        assert!(a(&["--json", "submit"]));
        assert!(a(&["submit", "x", "--json"]));
        assert!(!a(&["submit", "--", "--json"]));
        assert!(!a(&["--jsonx", "submit"]));
    }

    #[test]
    fn clap_errors_become_usage_documents() {
        let e = cli::command()
            .try_get_matches_from(["canvas-sis", "--json", "frobnicate"])
            .unwrap_err();
        let f = clap_failure(&e);
        assert_eq!(f.exit, Exit::Usage);
        assert_eq!(f.kind, "usage");
        assert!(f.message.contains("frobnicate"), "{}", f.message);
        assert!(!f.message.starts_with("error:"), "{}", f.message);
        assert!(f.hint.as_deref().unwrap_or("").contains("Usage:"), "{f:?}");
        // A missing argument is named in the message, not left to the hint.
        let e = cli::command()
            .try_get_matches_from(["canvas-sis", "status"])
            .unwrap_err();
        let f = clap_failure(&e);
        assert_eq!(
            f.message,
            "the following required arguments were not provided: <ID>"
        );
        assert!(
            f.hint.as_deref().unwrap_or("").starts_with("Usage:"),
            "{f:?}"
        );
    }
}
