//! canvas-sis: validate, submit and watch Canvas LMS SIS imports.
//!
//! `main.rs` only calls [`run`]; the command-line surface is in `cli`, settings in `config`,
//! talking to Canvas in `canvas`, local checks in `validate`, one module per subcommand in
//! `commands`. `docs/ARCHITECTURE.md` shows the layers; a `§N` in a comment is a section of
//! `docs/canvas-sis-api.md` (how Canvas behaves), and `docs/cli-contract.md` is the contract.

pub mod bundle;
pub mod canvas;
pub mod cli;
pub mod commands;
pub mod config;
pub mod env_names;
pub mod exit;
pub mod import_options;
pub mod interrupt;
pub mod journal;
pub mod lock;
pub mod log;
pub mod logfile;
pub mod output;
pub mod paths;
pub mod progress;
pub mod redact;
pub mod syslog;
pub mod validate;

use std::io::IsTerminal;

use clap::{CommandFactory, FromArgMatches};

use crate::cli::{Cli, Command, When};
use crate::exit::Exit;

/// Parse the command line, run the command, and return the process exit code.
pub fn run() -> u8 {
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // These need no settings: a broken config must not stop `--help`-like commands.
    match &cli.command {
        Command::Completions(_) | Command::Man => {
            return finish(run_plain(cli.command));
        }
        _ => {}
    }
    let mut settings = match config::Settings::load(&cli.global, &matches) {
        Ok(s) => s,
        Err(f) => {
            early_error(&f);
            return f.exit.code();
        }
    };
    let demo = match &cli.command {
        Command::Demo => match commands::demo::prepare(&mut settings) {
            Ok(d) => Some(d),
            Err(f) => {
                early_error(&f);
                return f.exit.code();
            }
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
        cli.command.writes_log(),
    ) {
        Ok(g) => g,
        Err(f) => {
            early_error(&f);
            return f.exit.code();
        }
    };
    for w in &settings.warnings {
        tracing::warn!(target: "canvas_sis", "{w}");
    }
    let log_path = guard.path.clone();
    let mut ctx = commands::Ctx {
        settings,
        matches,
        log_path,
        stdout_tty,
        stderr_tty,
        color,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Unavailable.code();
        }
    };
    let result = rt.block_on(async {
        match demo {
            Some(d) => commands::demo::run(d, &mut ctx).await,
            None => commands::dispatch(cli.command, &mut ctx).await,
        }
    });
    let code = match result {
        Ok(exit) => exit.code(),
        Err(f) => {
            tracing::error!(target: "canvas_sis", "{f}");
            f.exit.code()
        }
    };
    // Flush the log file before the process exits.
    drop(guard);
    code
}

/// A failure before the log (and its stderr layer) exists, printed as that layer prints
/// errors: `error: message`, then the hint.
fn early_error(f: &exit::Failure) {
    eprintln!("error: {f}");
}

/// The clap command, with an empty environment variable treated as unset (as
/// `CANVAS_ACCESS_TOKEN` and `NO_COLOR` are): `CANVAS_BASE_URL=` in a unit file or cron
/// table must not hide the config file's value, nor be a usage error.
fn command() -> clap::Command {
    let mut cmd = Cli::command();
    let empty: Vec<String> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| v.is_empty())
        })
        .map(|a| a.get_id().to_string())
        .collect();
    for id in empty {
        cmd = cmd.mut_arg(id, |a| a.env(None::<&str>));
    }
    cmd
}

fn run_plain(cmd: Command) -> exit::Result<Exit> {
    match cmd {
        Command::Completions(a) => commands::docs::completions(a),
        Command::Man => commands::docs::man(),
        _ => unreachable!("only plain commands"),
    }
}

fn finish(r: exit::Result<Exit>) -> u8 {
    match r {
        Ok(e) => e.code(),
        Err(f) => {
            early_error(&f);
            f.exit.code()
        }
    }
}
