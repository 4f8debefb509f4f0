//! Local validation of SIS bundles, before anything is sent (reference §6).
//!
//! Interface used by `validate` and `submit` (keep it; the body grows in its own issue).

use std::path::{Path, PathBuf};

use serde::Serialize;

/// What the caller asks of a validation run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `import_type` that will be sent; XML is refused with `instructure_csv`.
    pub import_type: String,
    /// Diagnostics kept per file; counts stay exact past it.
    pub max_diagnostics: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            import_type: "instructure_csv".into(),
            max_diagnostics: 100,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding, `FILE:LINE: severity: message (hint)`.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    /// The path as the user gave it, or `bundle.zip:2024/users.csv` for a zip entry.
    pub file: String,
    /// Physical line (1-based), when the finding has one.
    pub line: Option<u64>,
    /// Canvas's row number (header = 1), when it differs from or adds to `line`.
    pub row: Option<u64>,
    pub column: Option<String>,
    pub severity: Severity,
    /// Stable machine code, e.g. `unterminated_quote`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// Per file (or zip entry) result.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub file: String,
    /// Canvas's kind name (`user`, `enrollment`, …) when recognised.
    pub kind: Option<String>,
    pub rows: u64,
    pub errors: u64,
    pub warnings: u64,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub files: Vec<FileReport>,
}

impl Report {
    pub fn error_count(&self) -> u64 {
        self.files.iter().map(|f| f.errors).sum()
    }
    pub fn warning_count(&self) -> u64 {
        self.files.iter().map(|f| f.warnings).sum()
    }
}

/// A path that cannot be read at all (exit 66).
#[derive(Debug)]
pub enum InputError {
    Missing(PathBuf),
    Unreadable(PathBuf, std::io::Error),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Missing(p) => write!(f, "{}: no such file or directory", p.display()),
            InputError::Unreadable(p, e) => write!(f, "{}: cannot read: {e}", p.display()),
        }
    }
}

/// Validate every path (CSV, zip, XML or a directory of CSVs).
pub fn validate_paths(paths: &[PathBuf], _opts: &Options) -> Result<Report, InputError> {
    let mut report = Report::default();
    for p in paths {
        check_readable(p)?;
        report.files.push(FileReport {
            file: p.display().to_string(),
            kind: None,
            rows: 0,
            errors: 0,
            warnings: 0,
            diagnostics: vec![],
        });
    }
    Ok(report)
}

fn check_readable(p: &Path) -> Result<(), InputError> {
    match std::fs::metadata(p) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(InputError::Missing(p.into())),
        Err(e) => Err(InputError::Unreadable(p.into(), e)),
    }
}
