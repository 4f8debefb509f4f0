//! `completions SHELL` and `man`: generated from the clap definitions, so they never drift.
//! With `--json`, the text is the value of a one-key document (`{"completions": …}`,
//! `{"man": …}`), so that stdout still holds one JSON document.

use serde_json::json;

use crate::cli::{CompletionsArgs, command};
use crate::exit::{Exit, Result};

pub fn completions(a: CompletionsArgs, json: bool) -> Result<Exit> {
    let mut cmd = command();
    // Rendered in memory first: the generator panics on a failed write.
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "canvas-sis", &mut buf);
    let text = String::from_utf8_lossy(&buf);
    if json {
        crate::output::stdout_json(&json!({"shell": a.shell.to_string(), "completions": text}))?;
    } else {
        crate::output::stdout(&text)?;
    }
    Ok(Exit::Ok)
}

pub fn man(json: bool) -> Result<Exit> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(command())
        .render(&mut buf)
        .expect("rendering into memory cannot fail");
    let text = String::from_utf8_lossy(&buf);
    if json {
        crate::output::stdout_json(&json!({"man": text}))?;
    } else {
        crate::output::stdout(&text)?;
    }
    Ok(Exit::Ok)
}
