//! Terminal output: tables (aligned, optionally coloured, on a terminal; tab-separated without
//! ANSI codes otherwise), short notes on stderr, and the confirmation prompt.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::exit::{Failure, Result};
use crate::settings::When;

/// What output needs to know about the terminal and the user's wishes: whether stdout and
/// stderr are terminals, `--color`, `-q` and `-v`.
#[derive(Clone, Copy, Debug)]
pub struct Term {
    pub stdout_tty: bool,
    pub stderr_tty: bool,
    pub color: When,
    pub quiet: bool,
    pub verbose: u8,
}

/// How a cell is coloured on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Good,
    Warn,
    Bad,
    Busy,
    Dim,
}

impl Style {
    fn ansi(self) -> Option<&'static str> {
        match self {
            Style::Plain => None,
            Style::Good => Some("32"),
            Style::Warn => Some("33"),
            Style::Bad => Some("31"),
            Style::Busy => Some("36"),
            Style::Dim => Some("2"),
        }
    }

    /// The colour of a workflow state.
    pub fn for_state(state: &str) -> Style {
        match state {
            "imported" | "restored" | "partially_restored" => Style::Good,
            "imported_with_messages" => Style::Warn,
            "failed" | "failed_with_messages" | "aborted" => Style::Bad,
            "created" | "initializing" | "importing" | "cleanup_batch" | "restoring" => Style::Busy,
            _ => Style::Plain,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Cell {
    pub text: String,
    pub style: Style,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::Plain,
        }
    }
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

/// Rows under a header.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Tabs and line breaks would break the tab-separated form.
fn flat(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| {
            if c == '\t' || c == '\n' || c == '\r' {
                ' '
            } else {
                c
            }
        })
        .collect();
    // A table cell holds Canvas's text or a CSV's: no escape sequence reaches the terminal.
    crate::redact::visible(&s).into_owned()
}

impl Table {
    pub fn new(headers: &[&str]) -> Table {
        Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: vec![],
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        self.rows.push(row);
    }

    /// On a terminal: a header and aligned columns, coloured when `color`. Otherwise one
    /// line per row, cells joined by tabs, no header and never an ANSI code.
    pub fn render(&self, terminal: bool, color: bool) -> String {
        let mut out = String::new();
        if !terminal {
            for r in &self.rows {
                let cells: Vec<String> = r.iter().map(|c| flat(&c.text)).collect();
                out.push_str(&cells.join("\t"));
                out.push('\n');
            }
            return out;
        }
        let n = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(n) {
                widths[i] = widths[i].max(flat(&c.text).chars().count());
            }
        }
        let line = |cells: Vec<(String, Option<&str>)>, out: &mut String| {
            let last = cells.len().saturating_sub(1);
            for (i, (text, code)) in cells.into_iter().enumerate() {
                let pad = widths[i].saturating_sub(text.chars().count());
                match code {
                    Some(code) if color => out.push_str(&format!("\x1b[{code}m{text}\x1b[0m")),
                    _ => out.push_str(&text),
                }
                if i < last {
                    out.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push('\n');
        };
        line(
            self.headers
                .iter()
                .map(|h| (h.to_uppercase(), Some("1")))
                .collect(),
            &mut out,
        );
        for r in &self.rows {
            line(
                r.iter()
                    .take(n)
                    .map(|c| (flat(&c.text), c.style.ansi()))
                    .collect(),
                &mut out,
            );
        }
        out
    }

    /// Print on stdout in the form that suits it.
    pub fn print(&self, term: &Term) -> Result<()> {
        stdout(&self.render(term.stdout_tty, stdout_color(term)))
    }
}

/// Write `text` to stdout and flush it: every stdout write goes through here, so a full disk
/// or an I/O error is exit 74 with a log line, never a panic. A closed pipe is not an error
/// (contract, exit 74): SIGPIPE is ignored (`main.rs`), and once the reader has gone
/// (`| head`) nothing more is printed while the run goes on and ends as it would have, so
/// `list | head` exits 0 and `submit --watch | true` still follows its import.
pub fn stdout(text: &str) -> Result<()> {
    stdout_bytes(text.as_bytes())
}

/// [`stdout`] for bytes that need not be UTF-8 (a downloaded file).
pub fn stdout_bytes(bytes: &[u8]) -> Result<()> {
    if STDOUT_USED.load(Ordering::Relaxed) == READER_GONE {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let (r, used) = match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => (Ok(()), WRITTEN),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            tracing::debug!(target: "canvas_sis", "stdout's reader has gone; nothing more is printed");
            (Ok(()), READER_GONE)
        }
        Err(e) => (Err(Failure::output("to stdout", &e)), FAILED),
    };
    STDOUT_USED.store(used, Ordering::Relaxed);
    r
}

const UNUSED: u8 = 0;
const WRITTEN: u8 = 1;
const FAILED: u8 = 2;
/// The reader of stdout has gone (EPIPE): whatever comes next is dropped.
const READER_GONE: u8 = 3;
/// Whether anything went to stdout yet, and whether that failed: `--json` prints one document,
/// so the run's end prints the error document only on an untouched stdout.
static STDOUT_USED: AtomicU8 = AtomicU8::new(UNUSED);

/// Nothing has been written to stdout (nor tried) in this process.
pub fn stdout_untouched() -> bool {
    STDOUT_USED.load(Ordering::Relaxed) == UNUSED
}

/// Print one JSON document on stdout (pretty, then a line break).
pub fn stdout_json(v: &serde_json::Value) -> Result<()> {
    stdout_line(&serde_json::to_string_pretty(v).expect("JSON values serialize"))
}

/// `text` and a line break, through [`stdout`].
pub fn stdout_line(text: &str) -> Result<()> {
    let mut s = String::with_capacity(text.len() + 1);
    s.push_str(text);
    s.push('\n');
    stdout(&s)
}

/// Colour on stdout: only on a terminal, and as `--color` / `NO_COLOR` / `TERM=dumb` say.
pub fn stdout_color(term: &Term) -> bool {
    match term.color {
        When::Always => term.stdout_tty,
        When::Never => false,
        When::Auto => auto_color(term.stdout_tty),
    }
}

/// `--color auto`: on a terminal, unless `NO_COLOR` is set (and not empty) or the terminal
/// says it cannot show colour (`TERM=dumb`, e.g. Emacs shells and some CI consoles).
pub fn auto_color(terminal: bool) -> bool {
    terminal
        && std::env::var_os(crate::env_names::NO_COLOR).is_none_or(|v| v.is_empty())
        && std::env::var_os(crate::env_names::TERM).is_none_or(|t| t != "dumb")
}

/// `text` on stderr. Unlike `eprint!`, a closed stderr (`2>&1 | head`) is no panic: with
/// SIGPIPE ignored the write fails, and the run goes on without it.
pub fn stderr(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A human remark on stderr that is shown even off a terminal (unless --quiet).
pub fn note(term: &Term, msg: &str) {
    if !term.quiet {
        stderr(&format!("{msg}\n"));
    }
}

/// An action worth a log line (file log, and stderr as the log layer shows it) that the user
/// must also see on stderr even when INFO is hidden there (no terminal, no -v).
pub fn announce(term: &Term, msg: &str) {
    tracing::info!(target: "canvas_sis", "{msg}");
    let shown_by_log = term.verbose > 0 || term.stderr_tty;
    if !shown_by_log && !term.quiet {
        stderr(&format!("{msg}\n"));
    }
}

/// Ask `question [y/N]` on stderr and read the answer from stdin. The answer is read on a
/// thread of its own, so that a signal at the prompt ends the run at once (exit 130, as
/// `interrupt::stopped` says where the command stands) instead of after the next Enter; the
/// thread, blocked on stdin, ends with the process.
pub async fn confirm(question: &str) -> Result<bool> {
    stderr(&format!("{question} [y/N] "));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let read = std::thread::Builder::new()
        .name("canvas-sis-prompt".into())
        .spawn(move || {
            let mut answer = String::new();
            let ok = std::io::stdin().lock().read_line(&mut answer).is_ok();
            let _ = tx.send(ok.then_some(answer));
        });
    if read.is_err() {
        return Ok(false);
    }
    tokio::select! {
        answer = rx => Ok(answer.ok().flatten().is_some_and(|a| {
            matches!(a.trim().to_ascii_lowercase().as_str(), "y" | "yes")
        })),
        sig = crate::interrupt::wait() => {
            // The error goes on a line of its own, not after the question.
            stderr("\n");
            Err(crate::interrupt::stopped(sig))
        }
    }
}

/// For commands that change Canvas (abort, abort-all-pending, restore): `Ok(true)` to go on
/// (`--yes`, or the user said yes); `Ok(false)` when the user said no; exit 2 without a
/// terminal to ask on.
pub async fn confirmed(yes: &crate::cli::YesArgs, question: &str, what: &str) -> Result<bool> {
    if yes.yes {
        return Ok(true);
    }
    if !can_prompt() {
        return Err(no_terminal(what));
    }
    confirm(question).await
}

/// `what` needs `--yes` here: exit 2, nothing sent.
pub fn no_terminal(what: &str) -> Failure {
    Failure::usage(format!(
        "{what} needs --yes when stdin or stderr is not a terminal; nothing was sent"
    ))
    .kind("confirmation_needed")
    .hint("add --yes (-y) to confirm")
}

/// Whether a confirmation prompt can be shown (stdin and stderr are terminals).
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The columns of `list` and `importing`.
pub const IMPORT_COLUMNS: &[&str] = &[
    "id", "state", "progress", "created", "elapsed", "user", "warn/err", "batch",
];

/// One table row of a SisImport.
pub fn import_row(v: &serde_json::Value) -> Vec<Cell> {
    use serde_json::Value;
    let Ok(imp) = crate::canvas::Import::from_value(v.clone()) else {
        let id = v
            .get("id")
            .map(|i| i.to_string())
            .unwrap_or_else(|| "?".into());
        let mut r = vec![Cell::new(id), Cell::styled("(unreadable)", Style::Bad)];
        r.resize(IMPORT_COLUMNS.len(), Cell::new("-"));
        return r;
    };
    let state = imp.state_str().to_string();
    let (w, e) = imp.warning_error_counts();
    let batch = if imp.batch_mode {
        match imp.raw.get("batch_mode_term_id").filter(|v| !v.is_null()) {
            Some(Value::String(s)) => format!("term {s}"),
            Some(t) => format!("term {t}"),
            None => "multi-term".into(),
        }
    } else {
        "-".into()
    };
    let we_style = if e > 0 {
        Style::Bad
    } else if w > 0 {
        Style::Warn
    } else {
        Style::Plain
    };
    vec![
        Cell::new(imp.id.to_string()),
        Cell::styled(state.clone(), Style::for_state(&state)),
        Cell::new(
            imp.progress
                .map(|p| format!("{p:.0}%"))
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::new(
            imp.created_at
                .map(|t| t.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::new(
            imp.elapsed()
                .map(|d| {
                    humantime::format_duration(std::time::Duration::from_secs(d.as_secs()))
                        .to_string()
                })
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::new(
            imp.user
                .as_ref()
                .and_then(|u| u.login_id.clone().or_else(|| u.name.clone()))
                .unwrap_or_else(|| "-".into()),
        ),
        Cell::styled(format!("{w}/{e}"), we_style),
        Cell::new(batch),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_has_no_ansi_and_no_tabs_in_cells() {
        let mut t = Table::new(&["id", "state"]);
        t.push(vec![Cell::new("1"), Cell::styled("a\tb", Style::Bad)]);
        let s = t.render(false, true);
        assert_eq!(s, "1\ta b\n");
        let s = t.render(true, true);
        assert!(s.contains("\x1b[31ma b\x1b[0m"));
        let s = t.render(true, false);
        assert!(!s.contains('\x1b'));
        assert!(s.starts_with("ID  STATE\n"));
    }
}
