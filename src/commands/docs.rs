//! `completions SHELL` and `man`: generated from the clap definitions, so they never drift.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::exit::{Exit, Failure, Result};

pub fn completions(a: CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    clap_complete::generate(a.shell, &mut cmd, "canvas-sis", &mut std::io::stdout());
    Ok(Exit::Ok)
}

pub fn man() -> Result<Exit> {
    let cmd = Cli::command();
    let mut out = std::io::stdout();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(|e| Failure::new(Exit::Unavailable, format!("cannot write the man page: {e}")))?;
    Ok(Exit::Ok)
}
