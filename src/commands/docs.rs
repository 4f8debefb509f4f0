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
    let text = man_page();
    if json {
        crate::output::stdout_json(&json!({"man": text}))?;
    } else {
        crate::output::stdout(&text)?;
    }
    Ok(Exit::Ok)
}

/// One page for the whole tool: clap_mangen's page of `canvas-sis`, then each command's
/// synopsis and options as a section of the same page (the README installs one page, so
/// the `canvas-sis-submit(1)` pages that clap_mangen points to would not exist).
pub fn man_page() -> String {
    fn render(cmd: &clap::Command, out: &mut Vec<u8>, full: bool) {
        let man = clap_mangen::Man::new(cmd.clone());
        // Rendering into memory cannot fail.
        if full {
            man.render(out).expect("in memory");
            return;
        }
        man.render_description_section(out).expect("in memory");
        man.render_synopsis_section(out).expect("in memory");
        man.render_options_section(out).expect("in memory");
        if cmd.has_subcommands() {
            man.render_subcommands_section(out).expect("in memory");
        }
    }
    let mut cmd = command();
    let mut page = Vec::new();
    render(&cmd, &mut page, true);
    // Built: each command gets the global flags that its own flags refer to.
    cmd.build();
    let mut commands = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("canvas-sis {}", sub.get_name());
        // The global flags are on the page once, under OPTIONS above.
        let sub = sub
            .clone()
            .bin_name(name.clone())
            .display_name(name.clone())
            .mut_args(|a| if a.is_global_set() { a.hide(true) } else { a });
        commands.extend_from_slice(format!(".SH \"{}\"\n", name.replace('-', "\\-")).as_bytes());
        let mut part = Vec::new();
        render(&sub, &mut part, false);
        let part = String::from_utf8_lossy(&part)
            .replace(".SH NAME\n", ".SS Name\n")
            .replace(".SH DESCRIPTION\n", "")
            .replace(".SH SYNOPSIS\n", ".SS Synopsis\n")
            .replace(".SH OPTIONS\n", ".SS Options\n")
            // Headings of a command's own flags (SENDING, POLLING, …) are subsections too.
            .replace(".SH ", ".SS ")
            .replace(".SH SUBCOMMANDS\n", ".SS Commands\n")
            .replace(".SH COMMANDS\n", ".SS Commands\n");
        commands.extend_from_slice(part.as_bytes());
    }
    let page = String::from_utf8_lossy(&page).into_owned();
    let commands = String::from_utf8_lossy(&commands).into_owned();
    // Before the version and authors at the end.
    let at = page.find(".SH VERSION").unwrap_or(page.len());
    let whole = format!("{}{}{}", &page[..at], commands, &page[at..]);
    // `canvas\-sis\-submit(1)` (a page of its own) is `canvas\-sis submit` here, and
    // `canvas\-sis config\-show(1)` is `canvas\-sis config show`.
    let esc = |s: &str| s.replace('-', "\\-");
    let mut out = whole;
    for sub in cmd.get_subcommands() {
        let name = esc(sub.get_name());
        for child in sub.get_subcommands() {
            let child = esc(child.get_name());
            out = out.replace(
                &format!("canvas\\-sis {name}\\-{child}(1)"),
                &format!("canvas\\-sis {name} {child}"),
            );
        }
        out = out.replace(
            &format!("canvas\\-sis\\-{name}(1)"),
            &format!("canvas\\-sis {name}"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    /// The one page has every command's options, and points to no page that does not exist.
    #[test]
    fn the_man_page_has_every_commands_options() {
        let page = super::man_page();
        for needle in [
            ".SH \"canvas\\-sis submit\"",
            "\\-\\-interval",
            "\\-\\-batch\\-mode\\-term\\-id",
            "\\-\\-once",
            "\\-\\-yes",
            ".SH \"canvas\\-sis abort\\-all\\-pending\"",
            "Exit codes:",
        ] {
            assert!(page.contains(needle), "{needle} missing");
        }
        assert!(!page.contains("(1)"), "no page of its own is named");
        assert!(page.find(".SH \"canvas\\-sis submit\"") < page.find(".SH VERSION"));
    }
}
