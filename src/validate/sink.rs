//! Where one file's diagnostics go: at most `max` kept, all counted.
//!
//! A diagnostic is built where it is found and handed in by its last call:
//!
//! ```ignore
//! sink.at(line).row(row_no).col("status").hint(h).warn("invalid_value", msg);
//! sink.nowhere().err("empty_file", "empty file; Canvas ignores it");
//! ```

use super::{Diagnostic, FileReport, Severity};

/// Collects diagnostics for one file, keeping at most `max` but counting all.
///
/// Errors come before warnings: once `max` are kept, an error takes the place of the
/// latest kept warning, so that a file's errors (what fails it) are always shown up
/// to `max`, in file order with the warnings that stay.
pub(crate) struct Sink {
    pub rep: FileReport,
    pub max: usize,
    /// Kept warnings given up for a later error: marked (see [`EVICTED`]) and dropped by
    /// [`Sink::finish`], so that no error shifts the list (`max` may be large).
    evicted: usize,
    /// Every kept diagnostic at or after this index is an error (or evicted): the
    /// search for the latest warning starts below it.
    warn_below: usize,
}

/// The code of a kept warning given up for an error, until [`Sink::finish`].
const EVICTED: &str = "";

impl Sink {
    pub fn new(file: &str, max: usize) -> Self {
        Sink {
            rep: FileReport {
                file: file.to_string(),
                kind: None,
                rows: 0,
                errors: 0,
                warnings: 0,
                diagnostics: vec![],
                omitted: 0,
            },
            max,
            evicted: 0,
            warn_below: usize::MAX,
        }
    }

    /// A diagnostic at physical line `line` of the file.
    pub fn at(&mut self, line: u64) -> Draft<'_, 'static> {
        self.at_opt(Some(line))
    }

    /// A diagnostic about the file as a whole (no line).
    pub fn nowhere(&mut self) -> Draft<'_, 'static> {
        self.at_opt(None)
    }

    /// A diagnostic at `line`, when there is one.
    pub fn at_opt(&mut self, line: Option<u64>) -> Draft<'_, 'static> {
        Draft {
            sink: self,
            at: Where {
                file: None,
                line,
                col: None,
                row: None,
                column: None,
                hint: None,
            },
        }
    }

    fn push(&mut self, at: Where<'_>, severity: Severity, code: &'static str, message: String) {
        match severity {
            Severity::Error => self.rep.errors += 1,
            Severity::Warning => self.rep.warnings += 1,
        }
        if self.rep.diagnostics.len() - self.evicted >= self.max
            && !(severity == Severity::Error && self.evict_warning())
        {
            self.rep.omitted += 1;
            return;
        }
        if severity == Severity::Warning {
            // Only below the limit (or past a raised one): the search starts at the end.
            self.warn_below = usize::MAX;
        }
        self.rep.diagnostics.push(Diagnostic {
            file: at.file.unwrap_or_else(|| self.rep.file.clone()),
            line: at.line,
            col: at.col,
            row: at.row,
            column: at.column.map(str::to_string),
            severity,
            code,
            message,
            hint: at.hint,
        });
    }

    /// Gives up the latest kept warning (counted as omitted); false when none is kept.
    fn evict_warning(&mut self) -> bool {
        let d = &mut self.rep.diagnostics;
        let below = self.warn_below.min(d.len());
        let Some(i) = (0..below)
            .rev()
            .find(|&i| d[i].severity == Severity::Warning && d[i].code != EVICTED)
        else {
            self.warn_below = 0;
            return false;
        };
        d[i].code = EVICTED;
        self.evicted += 1;
        self.rep.omitted += 1;
        // The error about to be pushed lands at the end, past `i`.
        self.warn_below = i;
        true
    }

    pub fn finish(mut self) -> FileReport {
        if self.evicted > 0 {
            self.rep.diagnostics.retain(|d| d.code != EVICTED);
        }
        self.rep
    }
}

/// Everything of a diagnostic but what it says.
struct Where<'c> {
    file: Option<String>,
    line: Option<u64>,
    /// Column in characters (1-based), for XML.
    col: Option<u64>,
    row: Option<u64>,
    column: Option<&'c str>,
    hint: Option<String>,
}

/// A diagnostic being built: where it is (file, line, Canvas row, column) and its hint;
/// [`Draft::warn`], [`Draft::err`] or [`Draft::report`] hands it to the sink.
#[must_use = "a draft reports nothing until warn(), err() or report()"]
pub(crate) struct Draft<'s, 'c> {
    sink: &'s mut Sink,
    at: Where<'c>,
}

impl<'s, 'c> Draft<'s, 'c> {
    /// Canvas's row number (header = 1).
    pub fn row(mut self, row: u64) -> Self {
        self.at.row = Some(row);
        self
    }

    /// The character column (1-based) of `line` where the finding is (XML).
    pub fn at_col(mut self, col: u64) -> Self {
        self.at.col = Some(col);
        self
    }

    /// The column the finding is about.
    pub fn col<'d>(self, name: &'d str) -> Draft<'s, 'd> {
        let Where {
            file,
            line,
            col,
            row,
            hint,
            ..
        } = self.at;
        Draft {
            sink: self.sink,
            at: Where {
                file,
                line,
                col,
                row,
                column: Some(name),
                hint,
            },
        }
    }

    /// Another file name than the sink's (an entry of the archive the sink is for).
    pub fn file(mut self, name: impl Into<String>) -> Self {
        self.at.file = Some(name.into());
        self
    }

    /// What to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.at.hint = Some(hint.into());
        self
    }

    /// [`Draft::hint`], when there is one.
    pub fn hint_opt(mut self, hint: Option<String>) -> Self {
        self.at.hint = hint;
        self
    }

    pub fn warn(self, code: &'static str, message: impl Into<String>) {
        self.report(Severity::Warning, code, message)
    }

    pub fn err(self, code: &'static str, message: impl Into<String>) {
        self.report(Severity::Error, code, message)
    }

    pub fn report(self, severity: Severity, code: &'static str, message: impl Into<String>) {
        self.sink.push(self.at, severity, code, message.into());
    }
}
