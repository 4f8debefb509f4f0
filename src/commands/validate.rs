//! `validate PATH...`: local checks only; nothing is sent.

use std::io::Write;

use crate::cli::ValidateArgs;
use crate::exit::{Exit, Failure, Result};
use crate::validate::{self, Report, Severity};

use super::Ctx;

pub fn run(a: ValidateArgs, ctx: &mut Ctx) -> Result<Exit> {
    let opts = validate::Options {
        import_type: a
            .import_type
            .clone()
            .unwrap_or_else(|| "instructure_csv".into()),
        max_diagnostics: a.max_diagnostics,
    };
    let report = validate::validate_paths(&a.paths, &opts)
        .map_err(|e| Failure::no_input(e.to_string()).hint("check the path; nothing was read"))?;
    if ctx.settings.json {
        ctx.print_json(&serde_json::to_value(&report).expect("report serializes"));
    } else {
        let mut out = std::io::stdout().lock();
        write_diagnostics(&report, &mut out).ok();
        writeln!(out, "{}", summary(&report)).ok();
    }
    Ok(outcome(&report, a.strict))
}

/// 65 on any error, or any warning when strict.
pub fn outcome(report: &Report, strict: bool) -> Exit {
    if report.error_count() > 0 || (strict && report.warning_count() > 0) {
        Exit::DataErr
    } else {
        Exit::Ok
    }
}

/// `FILE:LINE: error|warning: message (hint)`, one per line.
pub fn write_diagnostics(report: &Report, w: &mut impl Write) -> std::io::Result<()> {
    for f in &report.files {
        for d in &f.diagnostics {
            let sev = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            match d.line {
                Some(l) => write!(w, "{}:{l}: {sev}: {}", d.file, d.message)?,
                None => write!(w, "{}: {sev}: {}", d.file, d.message)?,
            }
            match &d.hint {
                Some(h) => writeln!(w, " ({h})")?,
                None => writeln!(w)?,
            }
        }
    }
    Ok(())
}

pub fn summary(report: &Report) -> String {
    let rows: u64 = report.files.iter().map(|f| f.rows).sum();
    format!(
        "{} file(s), {} row(s), {} error(s), {} warning(s)",
        report.files.len(),
        rows,
        report.error_count(),
        report.warning_count()
    )
}
