//! `report --html FILE [--since 30d]`: one self-contained HTML page over the run archive
//! (`crate::report` renders it). No network. With no runs in the period the page says so and
//! the command exits 0: an empty month is a fact to show, not a failure.

use std::path::Path;

use crate::cli::ReportArgs;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

pub fn run(a: ReportArgs, ctx: &mut Ctx) -> Result<Exit> {
    let Some(archive) = &ctx.settings.archive else {
        return Err(Failure::config("no run archive: [archive] dir is \"\"")
            .kind("config_invalid")
            .hint("set [archive] dir to keep one run folder per submit"));
    };
    let to_stdout = a.html == Path::new("-");
    if to_stdout && ctx.settings.json {
        return Err(Failure::usage(
            "--html - writes the page on stdout, where --json puts its document",
        )
        .hint("drop --json, or give a file name"));
    }
    let now = jiff::Timestamp::now();
    let since = jiff::SignedDuration::try_from(a.since)
        .ok()
        .and_then(|d| now.checked_sub(d).ok())
        .unwrap_or(jiff::Timestamp::MIN);
    let profile = ctx.settings.profile.as_deref();
    let mut runs: Vec<_> = archive
        .runs()
        .into_iter()
        .filter(|(_, r)| crate::record::of_profile(profile, r))
        .filter(|(_, r)| {
            r.submitted_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t >= since)
        })
        .collect();
    // Oldest first: the charts read left to right.
    runs.reverse();
    let entries = runs
        .iter()
        .map(|(folder, run)| crate::report::Entry {
            run,
            groups: crate::canvas::messages::group(&crate::record::error_rows(folder)),
            plan: crate::record::plan(folder),
        })
        .collect();
    let page = crate::report::Page {
        generated_at: now,
        since,
        archive: archive.dir.display().to_string(),
        entries,
    };
    let html = crate::report::render(&page);
    if to_stdout {
        crate::output::stdout(&html)?;
        return Ok(Exit::Ok);
    }
    write(&a.html, html.as_bytes())?;
    if ctx.settings.json {
        ctx.print_json(&serde_json::json!({
            "path": a.html.display().to_string(),
            "runs": runs.len(),
            "bytes": html.len(),
        }))?;
    } else {
        crate::output::announce(
            &ctx.term,
            &format!(
                "wrote {} ({} run{} since {})",
                a.html.display(),
                runs.len(),
                if runs.len() == 1 { "" } else { "s" },
                since.strftime("%Y-%m-%d %H:%M UTC")
            ),
        );
    }
    Ok(Exit::Ok)
}

/// Write the page atomically (a temporary file beside it, then rename), readable as any file
/// a shell redirect makes (0644): a report is meant to be shared. A FIFO or device is written
/// through instead (`/dev/full` gives exit 74, not a file in its place). Exit 74 naming the
/// path.
fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    use crate::paths::Output;
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    let cant = |e: &std::io::Error| {
        Failure::new(
            Exit::IoErr,
            format!(
                "cannot write {}: {}",
                path.display(),
                crate::exit::kind_said(e.kind())
            ),
        )
        .kind("output_failed")
        .hint(crate::exit::output_hint(e))
    };
    let path = match Output::at(path) {
        Output::Replace { path, .. } => path,
        Output::Through(p) => {
            let mut f = crate::paths::open_through(&p).map_err(|e| cant(&e))?;
            return f
                .write_all(bytes)
                .and_then(|()| f.flush())
                .map_err(|e| cant(&e));
        }
        Output::Folder => {
            return Err(
                cant(&std::io::Error::from(std::io::ErrorKind::IsADirectory))
                    .hint("name the file to write, e.g. DIR/report.html"),
            );
        }
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".canvas-sis-report-")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .map_err(|e| cant(&e))?;
    tmp.write_all(bytes).map_err(|e| cant(&e))?;
    tmp.as_file().sync_all().map_err(|e| cant(&e))?;
    tmp.persist(&path).map_err(|e| cant(&e.error))?;
    Ok(())
}
