//! `validate PATH...`: local checks only; nothing is sent.

use crate::cli::ValidateArgs;
use crate::exit::{Exit, Failure, Result};
use crate::validate::{self, Report};

use super::Ctx;

pub fn run(a: ValidateArgs, ctx: &mut Ctx) -> Result<Exit> {
    let opts = validate::Options {
        import_type: a
            .import_type
            .clone()
            .unwrap_or_else(|| "instructure_csv".into()),
        max_diagnostics: a.max_diagnostics,
        strict: a.strict,
        extension: None,

        ..validate::Options::default()
    };
    for p in &a.paths {
        if p.is_dir() && crate::bundle::csv_files(p).is_ok_and(|f| f.is_empty()) {
            return Err(Failure::data(format!(
                "{}: the directory holds no .csv files; nothing to validate",
                p.display()
            ))
            .hint("name the CSV files, a zip, or the directory the SIS export writes to"));
        }
    }
    let report = validate_or_66(&a.paths, &opts)?;
    if ctx.settings.json {
        ctx.print_json(&report.to_json())?;
    } else {
        let mut text = Vec::new();
        report
            .write_text(&mut text)
            .expect("writing to memory cannot fail");
        crate::output::stdout(&String::from_utf8_lossy(&text))?;
    }
    Ok(outcome(&report, a.strict))
}

/// Run the validator; a path that cannot be read is exit 66, naming it.
pub fn validate_or_66(paths: &[std::path::PathBuf], opts: &validate::Options) -> Result<Report> {
    validate::validate_paths(paths, opts).map_err(|e| {
        Failure::no_input(e.to_string()).hint("check the path; nothing was read or sent")
    })
}

/// 65 on any error, or any warning when strict.
pub fn outcome(report: &Report, strict: bool) -> Exit {
    if report.failed(strict) {
        Exit::DataErr
    } else {
        Exit::Ok
    }
}
