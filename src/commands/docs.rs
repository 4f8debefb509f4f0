//! `completions SHELL` and `man`: generated from the clap definitions, so they never drift.

use crate::cli::{CompletionsArgs, command};
use crate::exit::{Exit, Result};

pub fn completions(a: CompletionsArgs) -> Result<Exit> {
    let mut cmd = command();
    // Rendered in memory first: the generator panics on a failed write.
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "canvas-sis", &mut buf);
    crate::output::stdout(&String::from_utf8_lossy(&buf))?;
    Ok(Exit::Ok)
}

pub fn man() -> Result<Exit> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(command())
        .render(&mut buf)
        .expect("rendering into memory cannot fail");
    crate::output::stdout(&String::from_utf8_lossy(&buf))?;
    Ok(Exit::Ok)
}
