//! Local validation of SIS bundles, before anything is sent (reference §6).
//!
//! Interface used by `validate` and `submit`. The README's "Validation" section has the
//! rules, the diagnostic codes and the JSON shape.
//!
//! # Layout
//!
//! A rule layer over a fenced-off fast kernel:
//!
//! - `kinds.rs`: the table of Canvas's CSV kinds, their columns, and each column's rule
//!   and messages (§6.3, §6.4). Data only.
//! - `rules.rs`: one short function per value rule of the table (`Rule::check`).
//! - `csvfile.rs` runs one CSV stream: `header.rs` (the header row and its columns),
//!   `recognise.rs` (which kind the header makes the file), then the rows through the
//!   kernel's pipeline into `rows.rs` (each row against the kind's columns and row-level
//!   rules, then its ids registered with `bundle.rs`, the cross-file state).
//! - `sink.rs` collects a file's diagnostics (`sink.at(line).row(r).col(c).warn(code,
//!   msg)`); `messages.rs` expands the table's message templates.
//! - `container.rs`: files, directories and zips (zip safety); `values.rs`: the value
//!   parsers the rules use (dates as Rails reads them, e-mails, logins).
//! - `fast/`: the kernel: the CSV scanner (SIMD, UTF-8 checked as it reads, records
//!   handed out as `&str`), the hashes, the id maps and their prefetching, the
//!   duplicate-line count and the two-thread row pipeline. Every `unsafe` block of the
//!   validator is there; rule code calls it through the small API of `fast/mod.rs`.
//!
//! # How to add a column or a rule
//!
//! When Canvas adds a column, add it to its kind in `kinds.rs`, with the constructor
//! that gives it its rule and messages:
//!
//! ```ignore
//! // kinds.rs, in `Kind { name: "user", cols: &[ … ] }`:
//! en("pronoun_visibility", &["public", "private"], Match::Exact,
//!    "Invalid pronoun_visibility \"{value}\" for user {user_id}"),
//! ```
//!
//! Nothing else changes: the header check, the unknown-column hint, required values,
//! the rule and the message all come from the table.
//!
//! When Canvas adds a rule (a new way a value can be wrong), add a `Rule` variant in
//! `kinds.rs`, use it in the columns it applies to, and write its one short function in
//! `rules.rs` next to the others, with its arm in `Rule::check`:
//!
//! ```ignore
//! // kinds.rs
//! pub enum Rule { …, Url }
//! const fn url(name: &'static str, invalid: &'static str) -> Col {
//!     Col { rule: Rule::Url, invalid, ..t(name) }
//! }
//!
//! // rules.rs, in `Rule::check`: `Rule::Url => url(v),` and
//! #[inline(always)]
//! fn url<'a>(v: &Value<'a>) -> Verdict<'a> {
//!     if v.val.starts_with("https://") {
//!         return Ok(());
//!     }
//!     bad_url(v)
//! }
//!
//! #[cold]
//! fn bad_url<'a>(v: &Value<'a>) -> Verdict<'a> {
//!     Bad::new("invalid_url", v).hint("use an https:// address").verdict()
//! }
//! ```
//!
//! A rule gets the trimmed, non-empty value (`v.val`), its column, and the row's other
//! values (`v.row`); whether a value passes must depend on the value alone (the last
//! value that passed is remembered per column, and a row repeating it is not checked
//! again). The finding's message is the column's `invalid` template (or the rule's
//! own); a new diagnostic code goes in the README's list.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

mod bundle;
mod container;
mod csvfile;
mod fast;
mod header;
pub mod kinds;
mod messages;
mod recognise;
mod rows;
mod rules;
pub(crate) mod sink;
pub(crate) mod values;
pub mod xml;

/// The diagnostic sink, also used by `convert` for the OneRoster files it reads.
pub(crate) use sink::Sink;

pub(crate) use container::{names_hold_xml_csv, zip_names};

/// The kernel's hash map and prefetch hint, also the plan's (its lookups are the same shape).
pub(crate) use fast::{IdMap, prefetch};
/// The validator's CSV scanner, also the plan's reader: a bundle is read as Canvas reads it,
/// and at the validator's speed (issue 13).
pub(crate) use fast::{Record as CsvRecord, ScanError, Scanner as CsvScanner, strip};

/// What the caller asks of a validation run.
#[derive(Clone, Debug)]
pub struct Options {
    /// `import_type` that will be sent; XML is refused with `instructure_csv`.
    pub import_type: String,
    /// Whether a flag, the environment or the config file set `import_type` (else an XML
    /// file, or a zip of XML files, is read as IMS Enterprise, `ims_xml`, §10.1).
    pub import_type_set: bool,
    /// Diagnostics kept per file; counts stay exact past it.
    pub max_diagnostics: usize,
    /// Warnings count as failures (see [`Report::failed`]).
    pub strict: bool,
    /// The extension the user forces (`csv`, `zip`, `xml`), instead of the file name's.
    pub extension: Option<String>,
    /// Line hashes held in memory for the exact-duplicate-line count (10 bytes each with
    /// the row stream that locates the first duplicate); past it they go to an unnamed
    /// temporary file, so memory stays flat.
    pub line_hash_memory: usize,
}

impl Options {
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_diagnostics: self.max_diagnostics,
            line_hashes: self.line_hash_memory,
        }
    }
}

/// The per-file limits of [`Options`].
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    pub max_diagnostics: usize,
    pub line_hashes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            import_type: crate::import_options::DEFAULT_IMPORT_TYPE.into(),
            import_type_set: false,
            max_diagnostics: 100,
            strict: false,
            extension: None,
            line_hash_memory: fast::DEFAULT_BUDGET,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One finding, `FILE:LINE: severity: message (hint)` (`FILE:LINE:COL: …` for XML).
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    /// The path as the user gave it, or `bundle.zip:2024/users.csv` for a zip entry.
    pub file: String,
    /// Physical line (1-based), when the finding has one.
    pub line: Option<u64>,
    /// Character column (1-based) on `line`, for XML (`FILE:LINE:COL`); CSV has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub col: Option<u64>,
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

impl Diagnostic {
    /// `FILE:LINE: severity: message [Canvas row N] (hint)`, for a terminal: a value may
    /// hold an escape sequence or a NUL, which is shown, not sent.
    pub fn to_line(&self) -> String {
        crate::redact::visible(&self.format(true)).into_owned()
    }

    /// [`Diagnostic::to_line`] without the severity, for a log line whose level says it.
    pub fn to_log_line(&self) -> String {
        self.format(false)
    }

    fn format(&self, severity: bool) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.col {
                s.push_str(&format!(":{c}"));
            }
        }
        if severity {
            s.push_str(&format!(": {}", self.severity.as_str()));
        }
        s.push_str(&format!(": {}", self.message));
        if let (Some(r), Some(l)) = (self.row, self.line)
            && r != l
        {
            s.push_str(&format!(" [Canvas row {r}]"));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!(" ({h})"));
        }
        s
    }
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
    /// Diagnostics counted but not kept (past `max_diagnostics`).
    pub omitted: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub files: Vec<FileReport>,
    /// Cross-file findings (references to ids absent from the bundle).
    pub bundle: Vec<Diagnostic>,
    pub bundle_errors: u64,
    pub bundle_warnings: u64,
    /// Bytes inflated from zip entries (bounded by their declared sizes).
    pub bytes_inflated: u64,
}

impl Report {
    pub fn error_count(&self) -> u64 {
        self.files.iter().map(|f| f.errors).sum::<u64>() + self.bundle_errors
    }
    pub fn warning_count(&self) -> u64 {
        self.files.iter().map(|f| f.warnings).sum::<u64>() + self.bundle_warnings
    }
    pub fn row_count(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum()
    }
    /// Whether validation fails: any error, or with `strict` any warning too.
    pub fn failed(&self, strict: bool) -> bool {
        self.error_count() > 0 || (strict && self.warning_count() > 0)
    }
    /// Every kept diagnostic, files first (in input order), then bundle-level ones.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.files
            .iter()
            .flat_map(|f| f.diagnostics.iter())
            .chain(self.bundle.iter())
    }
    /// Rows per kind, in Canvas's processing order (IMS Enterprise records last).
    pub fn kinds(&self) -> Vec<(&'static str, u64)> {
        kinds::KINDS
            .iter()
            .map(|k| k.name)
            .chain([xml::KIND])
            .filter_map(|k| {
                let mut seen = false;
                let mut n = 0;
                for f in &self.files {
                    if f.kind.as_deref() == Some(k) {
                        seen = true;
                        n += f.rows;
                    }
                }
                seen.then_some((k, n))
            })
            .collect()
    }
    /// `N files, kinds: user(3) enrollment(7), R rows, E errors, W warnings`.
    pub fn summary_line(&self) -> String {
        let kinds: Vec<String> = self
            .kinds()
            .iter()
            .map(|(k, n)| format!("{k}({n})"))
            .collect();
        let omitted: u64 = self.files.iter().map(|f| f.omitted).sum::<u64>()
            + (self.bundle_errors + self.bundle_warnings).saturating_sub(self.bundle.len() as u64);
        let mut s = format!(
            "{} file{}, kinds: {}, {} rows, {} error{}, {} warning{}",
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" },
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(" ")
            },
            self.row_count(),
            self.error_count(),
            if self.error_count() == 1 { "" } else { "s" },
            self.warning_count(),
            if self.warning_count() == 1 { "" } else { "s" },
        );
        if omitted > 0 {
            s.push_str(&format!(
                " ({omitted} more not shown; see --max-diagnostics)"
            ));
        }
        s
    }
    /// One `FILE:LINE: error|warning: message (hint)` per line, then the summary line.
    pub fn write_text(&self, w: &mut impl Write) -> io::Result<()> {
        for d in self.diagnostics() {
            writeln!(w, "{}", d.to_line())?;
        }
        writeln!(w, "{}", self.summary_line())
    }
    /// One JSON document: files (kind, rows, counts), every kept diagnostic, totals.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let files: Vec<_> = self
            .files
            .iter()
            .map(|f| {
                json!({
                    "file": f.file, "kind": f.kind, "rows": f.rows,
                    "errors": f.errors, "warnings": f.warnings, "omitted": f.omitted,
                })
            })
            .collect();
        let diags: Vec<_> = self
            .diagnostics()
            .map(|d| {
                let mut v = json!({
                    "file": d.file, "line": d.line, "row": d.row, "column": d.column,
                    "severity": d.severity, "code": d.code, "message": d.message,
                });
                if let Some(c) = d.col {
                    v["col"] = json!(c);
                }
                if let Some(h) = &d.hint {
                    v["hint"] = json!(h);
                }
                v
            })
            .collect();
        let kinds: serde_json::Map<String, serde_json::Value> = self
            .kinds()
            .into_iter()
            .map(|(k, n)| (k.to_string(), json!(n)))
            .collect();
        json!({
            "files": files,
            "diagnostics": diags,
            "totals": {
                "files": self.files.len(),
                "rows": self.row_count(),
                "errors": self.error_count(),
                "warnings": self.warning_count(),
                "kinds": kinds,
            },
        })
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

impl std::error::Error for InputError {}

/// Validate every path (CSV, zip, XML or a directory of CSVs) as one bundle.
pub fn validate_paths(paths: &[PathBuf], opts: &Options) -> Result<Report, InputError> {
    // Check them all first: a missing input is exit 66 before any work.
    let mut metas = Vec::with_capacity(paths.len());
    for p in paths {
        metas.push(check_readable(p)?);
    }
    let mut ctx = container::Ctx {
        opts,
        bundle: bundle::Bundle::default(),
        spares: Default::default(),
        out: vec![],
        inflated: 0,
    };
    for (p, md) in paths.iter().zip(metas) {
        let display = p.display().to_string();
        let r = if md.is_dir() {
            container::validate_dir(&mut ctx, &display, p)
        } else {
            container::validate_file(&mut ctx, &display, p, md.len())
        };
        r.map_err(|e| InputError::Unreadable(p.clone(), e))?;
    }
    let mut report = Report {
        files: std::mem::take(&mut ctx.out),
        bytes_inflated: ctx.inflated,
        ..Default::default()
    };
    ctx.bundle.flush();
    resolve_references(&ctx.bundle, opts.max_diagnostics, &mut report);
    cross_file(&mut ctx.bundle, opts.max_diagnostics, &mut report);
    Ok(report)
}

/// Findings that need the whole bundle, about rows whose files are already reported:
/// logins rows Canvas skips for a users row, and enrollments whose section and course
/// are unrelated. Bundle-level warnings, in file order.
fn cross_file(b: &mut bundle::Bundle, max: usize, report: &mut Report) {
    let mut found = std::mem::take(&mut b.late);
    for l in &b.listed {
        // Only what the bundle shows: the section's course from sections.csv, the
        // course defined here too (else Canvas may not have it: a reference warning).
        let Some(&(course, text)) = b.section_course.get(l.section) else {
            continue;
        };
        if course == l.course
            || b.defs[kinds::Ns::Course as usize].get(l.course).is_none()
            // Listing the course a section is cross-listed into is fine, and so is
            // listing its own course once it is cross-listed (`nonxlist_course`).
            || b.xlisted.get(bundle::pair_key(l.section, l.course)).is_some()
        {
            continue;
        }
        let [s, c, u] = b.listed_ids(l);
        let own = b.section_course_text(text);
        let def = b.defs[kinds::Ns::Section as usize]
            .get(l.section)
            .map(|d| b.where_(d.loc))
            .unwrap_or_default();
        let more = if l.count > 1 {
            format!(" ({} rows list this section with this course)", l.count)
        } else {
            String::new()
        };
        found.push(Diagnostic {
            file: b.files[bundle::loc_file(l.loc)].clone(),
            line: Some(bundle::loc_line(l.loc)),
            col: None,
            row: Some(l.row),
            column: Some("section_id".into()),
            severity: Severity::Warning,
            code: "unrelated_section",
            message: format!(
                "An enrollment listed a section ({s}) and a course ({c}) that are unrelated for user ({u}): section {s} is in course {own} at {def}, and no cross-listing in this bundle moves it to {c}; Canvas skips this row{more}"
            ),
            hint: Some(format!(
                "give course_id {own} (or leave course_id empty); Canvas accepts {c} only if {s} is already cross-listed into it"
            )),
        });
    }
    for d in found {
        report.bundle_warnings += 1;
        if report.bundle.len() < max {
            report.bundle.push(d);
        }
    }
    // In file order with the references' findings.
    let files: std::collections::HashMap<&str, usize> = b
        .files
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    report
        .bundle
        .sort_by_key(|d| (files.get(d.file.as_str()).copied(), d.line));
}

fn resolve_references(b: &bundle::Bundle, max: usize, report: &mut Report) {
    // Only the first `max` missing references (in file order) are shown: keep those in a
    // bounded heap and count the rest (a vector of all of them was 160 MB for 4M ids).
    let mut found = std::collections::BinaryHeap::with_capacity(max.min(1 << 16) + 1);
    let mut missing: u64 = 0;
    let mut late = vec![];
    for ns in 0..kinds::NS_COUNT {
        if b.definers[ns] == 0 {
            continue;
        }
        for (key, c) in b.refs[ns].iter() {
            let e = &b.ref_info[c.info as usize];
            if let Some(d) = b.defs[ns].get(key) {
                // Accounts are processed serially, in file order (§6.4): a parent
                // defined after its first sub-account comes too late for it.
                if ns == kinds::Ns::Account as usize
                    && kinds::KINDS[e.kind as usize].name == "account"
                    && d.loc > e.loc
                {
                    late.push((e, d.loc));
                }
                continue;
            }
            missing += 1;
            let item = (e.loc, ns, e.col, c.count, c.info);
            if found.len() < max {
                found.push(item);
            } else if found.peek().is_some_and(|top| item < *top) {
                found.pop();
                found.push(item);
            }
        }
    }
    late.sort_unstable_by_key(|(e, _)| e.loc);
    for (e, def) in late {
        let id = &b.ref_text[e.text_off as usize..(e.text_off + e.text_len) as usize];
        report.bundle_warnings += 1;
        if report.bundle.len() < max {
            report.bundle.push(Diagnostic {
                file: b.files[bundle::loc_file(e.loc)].clone(),
                line: Some(bundle::loc_line(e.loc)),
                col: None,
                row: Some(e.row()),
                column: Some("parent_account_id".to_string()),
                severity: Severity::Warning,
                code: "parent_after_child",
                message: format!(
                    "parent account \"{id}\" is defined later, at {}; Canvas processes accounts in file order, so unless it already exists this row is skipped: \"Parent account didn't exist for …\"",
                    b.where_(def)
                ),
                hint: Some("put parent accounts before their sub-accounts".into()),
            });
        }
    }
    // (location, namespace, column) is unique: one id per column of a row.
    let found = found.into_sorted_vec();
    report.bundle_warnings += missing - found.len() as u64;
    for (l, _ns, _, count, info) in found {
        let e = &b.ref_info[info as usize];
        let k = &kinds::KINDS[e.kind as usize];
        let col = k.cols[e.col as usize];
        let target = col.refers.expect("reference column");
        let id = &b.ref_text[e.text_off as usize..(e.text_off + e.text_len) as usize];
        let more = if count > 1 {
            format!(" ({count} rows reference it)")
        } else {
            String::new()
        };
        report.bundle_warnings += 1;
        if report.bundle.len() < max {
            report.bundle.push(Diagnostic {
                file: b.files[bundle::loc_file(l)].clone(),
                line: Some(bundle::loc_line(l)),
                col: None,
                row: Some(e.row()),
                column: Some(col.name.to_string()),
                severity: Severity::Warning,
                code: "unknown_reference",
                message: format!(
                    "{} references {} \"{id}\" ({}), which is not in this bundle; it may already exist in Canvas{more}",
                    k.name,
                    target.label(),
                    col.name
                ),
                hint: None,
            });
        }
    }
}

/// What a path that is neither a regular file nor a directory is (`None` for those two).
pub fn special_file(md: &std::fs::Metadata) -> Option<&'static str> {
    let ft = md.file_type();
    if ft.is_file() || ft.is_dir() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a named pipe (FIFO)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
        if ft.is_char_device() || ft.is_block_device() {
            return Some("a device");
        }
    }
    Some("a special file")
}

fn check_readable(p: &Path) -> Result<std::fs::Metadata, InputError> {
    let md = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(InputError::Missing(p.into()));
        }
        Err(e) => return Err(InputError::Unreadable(p.into(), e)),
    };
    if md.is_dir() {
        std::fs::read_dir(p).map_err(|e| InputError::Unreadable(p.into(), e))?;
    } else if let Some(what) = special_file(&md) {
        // Not opened: opening a FIFO without a writer blocks forever, and a device or a
        // pipe has no length (it read as an "empty file").
        return Err(InputError::Unreadable(
            p.into(),
            std::io::Error::other(format!("{what}, not a regular file")),
        ));
    } else {
        std::fs::File::open(p).map_err(|e| InputError::Unreadable(p.into(), e))?;
    }
    Ok(md)
}

// What a command makes of a report: exit codes and failures.

/// Exit 65 for a report that failed: `what failed: the summary`.
pub fn failure(report: &Report, strict: bool, what: &str) -> crate::exit::Failure {
    let why = if report.error_count() == 0 && strict {
        " (warnings count as errors with --strict)"
    } else {
        ""
    };
    crate::exit::Failure::data(format!("{what} failed: {}{why}", report.summary_line()))
        .kind("validation_failed")
}

/// Run the validator; a path that cannot be read is exit 66, naming it.
pub fn validate_or_66(paths: &[std::path::PathBuf], opts: &Options) -> crate::exit::Result<Report> {
    validate_paths(paths, opts).map_err(|e| {
        let (kind, io) = match &e {
            InputError::Missing(_) => ("input_missing", None),
            InputError::Unreadable(_, io) => ("input_unreadable", Some(io)),
        };
        let hint = format!("{}; nothing was read or sent", crate::exit::input_hint(io));
        crate::exit::Failure::no_input(e.to_string())
            .kind(kind)
            .hint(hint)
    })
}

/// 65 on any error, or any warning when strict.
pub fn outcome(report: &Report, strict: bool) -> crate::exit::Exit {
    if report.failed(strict) {
        crate::exit::Exit::DataErr
    } else {
        crate::exit::Exit::Ok
    }
}

/// A directory among `paths` that holds no CSV is nothing to work on (exit 65, saying what it
/// holds instead): `validate` and `plan` refuse it as `submit` does.
pub fn refuse_empty_dirs(paths: &[std::path::PathBuf], doing: &str) -> crate::exit::Result<()> {
    for p in paths {
        if p.is_dir() && crate::bundle::csv_files(p).is_ok_and(|f| f.is_empty()) {
            return Err(no_csv_in_dir(p, doing));
        }
    }
    Ok(())
}

/// The refusal of a directory without a .csv file (`validate`, `plan`, `submit`): `doing` is what
/// cannot be done ("nothing to validate"). When it holds IMS Enterprise .xml files the
/// message says so and how to send them: hosted Canvas reads IMS XML as one .xml file or a
/// zip of them (§10.1, the contract's import-type rule), and `submit` zips only a
/// directory's .csv files.
pub fn no_csv_in_dir(dir: &Path, doing: &str) -> crate::exit::Failure {
    let ims = ims_files_in(dir);
    let f = if ims == 0 {
        crate::exit::Failure::data(format!(
            "{}: the directory holds no .csv files; {doing}",
            dir.display()
        ))
        .hint("name the CSV files, a zip, or the directory the SIS export writes to")
    } else {
        crate::exit::Failure::data(format!(
            "{}: the directory holds no .csv files, but {ims} IMS Enterprise .xml file{}; a directory is read as SIS CSV, so {doing}",
            dir.display(),
            if ims == 1 { "" } else { "s" }
        ))
        .hint(format!(
            "zip the .xml files and give the zip (e.g. cd {} && zip ../ims.zip *.xml), or give one .xml file: Canvas reads IMS XML as a file or a zip of files",
            dir.display()
        ))
    };
    f.kind("bundle_invalid")
}

/// How many IMS Enterprise .xml files `dir` holds (sub-folders too; hidden entries and
/// `__MACOSX` skipped, as for CSV files).
fn ims_files_in(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            if name.starts_with('.') || name == "__macosx" {
                continue;
            }
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if name.ends_with(".xml") && xml::is_ims(&p).unwrap_or(false) {
                n += 1;
            }
        }
    }
    n
}
