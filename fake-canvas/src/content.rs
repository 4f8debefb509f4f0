//! Reading an uploaded SIS file the way Canvas's `instructure_csv` importer does, far enough to
//! report the kinds supplied, per-kind row counts and the row/file messages Canvas would emit.
//!
//! Everything streams: a zip is read entry by entry and each CSV is parsed byte by byte while its
//! UTF-8 is validated, so memory stays constant whatever the upload size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;

/// One SisBatchError row (§5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub file: Option<String>,
    pub message: String,
    pub row: Option<u64>,
    /// true: an error that fails the import; false: a warning.
    pub failure: bool,
}

impl Message {
    pub fn warning(file: Option<&str>, message: impl Into<String>, row: Option<u64>) -> Self {
        Message {
            file: file.map(str::to_owned),
            message: message.into(),
            row,
            failure: false,
        }
    }
    pub fn error(file: Option<&str>, message: impl Into<String>, row: Option<u64>) -> Self {
        Message {
            file: file.map(str::to_owned),
            message: message.into(),
            row,
            failure: true,
        }
    }
}

/// What an upload contains.
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    /// Kinds found, in processing order (§6.3).
    pub supplied: Vec<&'static str>,
    /// Rows processed successfully per kind (§3.1).
    pub counts: BTreeMap<&'static str, u64>,
    /// Messages in file order.
    pub messages: Vec<Message>,
    /// The CSV files that were read whole and recognised, in sorted path order: what the
    /// import goes on to apply (a file with a file-level error is skipped whole).
    pub files: Vec<ScannedFile>,
}

/// One recognised CSV of an upload.
#[derive(Clone, Debug)]
pub struct ScannedFile {
    /// The zip entry's index; `None` for a single CSV upload.
    pub entry: Option<usize>,
    /// The path inside the zip, or the CSV's file name.
    pub name: String,
    pub kind: &'static str,
    /// Data rows (blank lines not counted).
    pub rows: u64,
}

/// §6.3: the kinds in first-match (and processing) order, with their `data.counts` key.
pub const KINDS: &[(&str, &str)] = &[
    ("change_sis_id", "change_sis_ids"),
    ("account", "accounts"),
    ("term", "terms"),
    ("abstract_course", "abstract_courses"),
    ("course", "courses"),
    ("section", "sections"),
    ("xlist", "xlists"),
    ("user", "users"),
    ("login", "logins"),
    ("enrollment", "enrollments"),
    ("admin", "admins"),
    ("group_category", "group_categories"),
    ("differentiation_tag_set", "differentiation_tag_sets"),
    ("group", "groups"),
    ("differentiation_tag", "differentiation_tags"),
    ("group_membership", "group_memberships"),
    (
        "differentiation_tag_membership",
        "differentiation_tag_memberships",
    ),
    ("institutional_tag_category", "institutional_tag_categories"),
    ("institutional_tag", "institutional_tags"),
    (
        "institutional_tag_association",
        "institutional_tag_associations",
    ),
    ("grade_publishing_results", "grade_publishing_results"),
    ("user_observer", "user_observers"),
];

/// Rows after which row checks stop (counting goes on) so huge uploads stay fast.
const ROW_CHECK_CAP: u64 = 1_000_000;

/// §6.3: first match over the lower-cased, trimmed header.
pub fn detect_kind(header: &[String]) -> Option<&'static str> {
    let h: HashSet<&str> = header.iter().map(|s| s.as_str()).collect();
    let has = |c: &str| h.contains(c);
    let kind = if has("old_id") || has("old_integration_id") {
        "change_sis_id"
    } else if has("account_id") && has("parent_account_id") {
        "account"
    } else if has("term_id") && has("name") {
        "term"
    } else if has("abstract_course_id") && has("short_name") && !has("course_id") {
        "abstract_course"
    } else if has("course_id") && has("short_name") {
        "course"
    } else if has("section_id") && has("name") {
        "section"
    } else if has("xlist_course_id") && has("section_id") {
        "xlist"
    } else if has("user_id")
        && has("login_id")
        && !has("existing_user_id")
        && !has("existing_integration_id")
        && !has("existing_canvas_user_id")
    {
        "user"
    } else if has("existing_user_id")
        || has("existing_integration_id")
        || has("existing_canvas_user_id")
    {
        "login"
    } else if (has("course_id") || has("section_id"))
        && (has("user_id") || has("user_integration_id"))
    {
        "enrollment"
    } else if has("account_id") && has("user_id") {
        "admin"
    } else if has("group_category_id") && has("category_name") {
        "group_category"
    } else if has("tag_set_id") && has("set_name") {
        "differentiation_tag_set"
    } else if has("group_id") && has("name") {
        "group"
    } else if has("tag_id") && has("name") {
        "differentiation_tag"
    } else if has("group_id") && has("user_id") {
        "group_membership"
    } else if has("tag_id") && has("user_id") {
        "differentiation_tag_membership"
    } else if has("category_id") && has("name") && !has("tag_id") && !has("institutional_tag_id") {
        "institutional_tag_category"
    } else if has("institutional_tag_id") && has("category_id") && has("name") {
        "institutional_tag"
    } else if has("institutional_tag_id") && has("user_id") {
        "institutional_tag_association"
    } else if has("enrollment_id") && has("grade_publishing_status") {
        "grade_publishing_results"
    } else if has("observer_id") && has("student_id") {
        "user_observer"
    } else {
        return None;
    };
    Some(kind)
}

/// Scan a stored upload. `ext` is the stored file's extension (§2.1), `name` its file name.
pub fn scan_path(path: &Path, ext: &str, name: &str, error_report: u64) -> ScanResult {
    let mut result = ScanResult::default();
    let mut kinds_seen: HashSet<&'static str> = HashSet::new();
    match ext.to_ascii_lowercase().as_str() {
        "csv" => match std::fs::File::open(path) {
            Ok(f) => scan_csv(f, name, None, &mut result, &mut kinds_seen),
            Err(_) => result.messages.push(internal_error(error_report)),
        },
        "zip" => scan_zip(path, &mut result, &mut kinds_seen, error_report),
        // §6.2: any other extension: nothing is read, nothing recorded.
        _ => {}
    }
    // §6.3: supplied_batches in processing order.
    result.supplied = KINDS
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| kinds_seen.contains(k))
        .collect();
    result
}

fn internal_error(n: u64) -> Message {
    // §2.1 / §5: what a broken zip (or an internal failure) yields.
    Message::error(
        None,
        format!("Error while importing CSV. Please contact support. (Error report {n})"),
        None,
    )
}

fn scan_zip(
    path: &Path,
    result: &mut ScanResult,
    kinds_seen: &mut HashSet<&'static str>,
    error_report: u64,
) {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(_) => return result.messages.push(internal_error(error_report)),
    };
    let mut archive = match zip::ZipArchive::new(std::io::BufReader::new(file)) {
        Ok(a) => a,
        Err(_) => return result.messages.push(internal_error(error_report)),
    };
    let mut names: Vec<(String, usize)> = Vec::new();
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else {
            continue;
        };
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        // §6.2: skip __MACOSX, hidden files and Desktop DB/DF silently.
        if name.contains("__MACOSX") {
            continue;
        }
        if name.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        let base = name.rsplit('/').next().unwrap_or(&name);
        if base.eq_ignore_ascii_case("Desktop DB") || base.eq_ignore_ascii_case("Desktop DF") {
            continue;
        }
        names.push((name, i));
    }
    // §6.2: sorted path order.
    names.sort();
    for (name, i) in names {
        if !name.to_ascii_lowercase().ends_with(".csv") {
            result.messages.push(Message::warning(
                Some(&name),
                "Skipping unknown file type",
                None,
            ));
            continue;
        }
        match archive.by_index(i) {
            Ok(entry) => scan_csv(entry, &name, Some(i), result, kinds_seen),
            Err(_) => {
                result.messages.push(internal_error(error_report));
                return;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
    AfterCr,
}

/// A strict, streaming CSV parser with Ruby CSV's notion of malformed input (§6.1).
struct Parser {
    st: St,
    field: Vec<u8>,
    record: Vec<Vec<u8>>,
    /// Bytes seen in the current record (to tell a blank line from a record).
    record_bytes: usize,
    collect: bool,
    malformed: bool,
}

impl Parser {
    fn new() -> Self {
        Parser {
            st: St::FieldStart,
            field: Vec::new(),
            record: Vec::new(),
            record_bytes: 0,
            collect: true,
            malformed: false,
        }
    }

    fn end_field(&mut self) {
        let f = std::mem::take(&mut self.field);
        if self.collect {
            self.record.push(f);
        } else {
            self.record.push(Vec::new());
        }
    }

    fn end_record(&mut self, out: &mut impl FnMut(&[Vec<u8>])) {
        self.end_field();
        // A blank line is no record.
        let blank = self.record.len() == 1 && self.record_bytes == 0;
        if !blank {
            out(&self.record);
        }
        self.record.clear();
        self.record_bytes = 0;
    }

    fn feed(&mut self, buf: &[u8], out: &mut impl FnMut(&[Vec<u8>])) {
        for &b in buf {
            if self.malformed {
                return;
            }
            let mut st = self.st;
            if st == St::AfterCr {
                st = St::FieldStart;
                if b == b'\n' {
                    self.st = st;
                    continue;
                }
            }
            match st {
                St::FieldStart => match b {
                    b'"' => {
                        self.record_bytes += 1;
                        st = St::Quoted;
                    }
                    b',' => {
                        self.record_bytes += 1;
                        self.end_field();
                    }
                    b'\r' => {
                        self.end_record(out);
                        st = St::AfterCr;
                    }
                    b'\n' => self.end_record(out),
                    _ => {
                        self.record_bytes += 1;
                        if self.collect {
                            self.field.push(b);
                        }
                        st = St::Unquoted;
                    }
                },
                St::Unquoted => match b {
                    b'"' => self.malformed = true,
                    b',' => {
                        self.end_field();
                        st = St::FieldStart;
                    }
                    b'\r' => {
                        self.end_record(out);
                        st = St::AfterCr;
                    }
                    b'\n' => {
                        self.end_record(out);
                        st = St::FieldStart;
                    }
                    _ => {
                        if self.collect {
                            self.field.push(b);
                        }
                    }
                },
                St::Quoted => {
                    if b == b'"' {
                        st = St::QuoteInQuoted;
                    } else if self.collect {
                        self.field.push(b);
                    }
                }
                St::QuoteInQuoted => match b {
                    b'"' => {
                        if self.collect {
                            self.field.push(b'"');
                        }
                        st = St::Quoted;
                    }
                    b',' => {
                        self.end_field();
                        st = St::FieldStart;
                    }
                    b'\r' => {
                        self.end_record(out);
                        st = St::AfterCr;
                    }
                    b'\n' => {
                        self.end_record(out);
                        st = St::FieldStart;
                    }
                    _ => self.malformed = true,
                },
                St::AfterCr => unreachable!(),
            }
            self.st = st;
        }
    }

    fn finish(&mut self, out: &mut impl FnMut(&[Vec<u8>])) {
        if self.malformed {
            return;
        }
        match self.st {
            St::Quoted => self.malformed = true,
            St::Unquoted | St::QuoteInQuoted => self.end_record(out),
            St::FieldStart => {
                if self.record_bytes > 0 || !self.record.is_empty() {
                    self.end_record(out)
                }
            }
            St::AfterCr => {}
        }
    }
}

/// Per-file row checker.
struct FileScan<'a> {
    name: &'a str,
    kind: Option<&'static str>,
    header_done: bool,
    unrecognised: bool,
    columns: HashMap<String, usize>,
    row: u64,
    ok_rows: u64,
    messages: Vec<Message>,
    seen_accounts: HashSet<String>,
}

impl FileScan<'_> {
    fn on_record(&mut self, rec: &[Vec<u8>], collecting: bool) {
        self.row += 1;
        if !self.header_done {
            self.header_done = true;
            let header: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).to_lowercase())
                .collect();
            let trimmed: Vec<String> = header.iter().map(|h| h.trim().to_string()).collect();
            self.kind = detect_kind(&trimmed);
            if self.kind.is_none() {
                self.unrecognised = true;
            }
            // §6.1 [derived]: columns are named lower-cased but untrimmed when rows are read.
            for (i, h) in header.into_iter().enumerate() {
                self.columns.entry(h).or_insert(i);
            }
            return;
        }
        let Some(kind) = self.kind else { return };
        if !collecting {
            self.ok_rows += 1;
            return;
        }
        let vals: Vec<String> = rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect();
        // §6.1: a row whose fields are all empty is skipped.
        if vals.iter().all(|v| v.is_empty()) {
            return;
        }
        let r = Row {
            columns: &self.columns,
            vals: &vals,
        };
        let outcome = check_row(kind, &r, &self.seen_accounts);
        if kind == "account"
            && let Some(id) = r.get("account_id")
        {
            self.seen_accounts.insert(id.to_string());
        }
        match outcome {
            RowOutcome::Ok => self.ok_rows += 1,
            RowOutcome::Silent => {}
            RowOutcome::Skip(msg) => {
                self.messages
                    .push(Message::warning(Some(self.name), msg, Some(self.row)));
            }
            RowOutcome::OkWithWarning(msg) => {
                self.ok_rows += 1;
                self.messages
                    .push(Message::warning(Some(self.name), msg, Some(self.row)));
            }
        }
    }
}

pub(crate) enum RowOutcome {
    Ok,
    /// Skipped without any message.
    Silent,
    /// Skipped with a warning.
    Skip(String),
    /// Imported, with a warning (bad dates, §6.4).
    OkWithWarning(String),
}

pub(crate) fn prefix_ci(v: &str, options: &[&str]) -> bool {
    let l = v.to_ascii_lowercase();
    options.iter().any(|o| l.starts_with(o))
}

pub(crate) fn exact_ci(v: &str, options: &[&str]) -> bool {
    let l = v.trim().to_ascii_lowercase();
    options.iter().any(|o| l == *o)
}

/// A lenient date check standing in for Rails' `Time.zone.parse` (§6.4).
fn date_ok(v: &str) -> bool {
    if v == "<delete>" {
        return true;
    }
    if v.parse::<jiff::Timestamp>().is_ok()
        || v.parse::<jiff::civil::DateTime>().is_ok()
        || v.parse::<jiff::civil::Date>().is_ok()
    {
        return true;
    }
    // `2013-1-03 00:00:00` style.
    let date = v.split([' ', 'T']).next().unwrap_or("");
    let parts: Vec<&str> = date.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn bad_dates(r: &Row) -> bool {
    ["start_date", "end_date"]
        .iter()
        .any(|c| r.get(c).is_some_and(|v| !date_ok(v)))
}

/// One data row, looked up by (lower-cased) column name; empty cells are None (§6.1).
pub(crate) struct Row<'a> {
    pub(crate) columns: &'a HashMap<String, usize>,
    pub(crate) vals: &'a [String],
}

impl<'a> Row<'a> {
    pub(crate) fn get(&self, c: &str) -> Option<&'a str> {
        self.columns
            .get(c)
            .and_then(|&i| self.vals.get(i))
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
    }
}

/// §6.4: the light per-kind checks, with Canvas's texts.
pub(crate) fn check_row(kind: &str, r: &Row, seen_accounts: &HashSet<String>) -> RowOutcome {
    use RowOutcome::*;
    let get = |c: &str| r.get(c);
    let vals = r.vals;
    let s = |c: &str| r.get(c).unwrap_or("").to_string();
    match kind {
        "user" => {
            if vals.iter().any(|v| v.contains('\0')) {
                return Skip("Some of the fields contain NULL character".into());
            }
            let Some(id) = get("user_id") else {
                return Skip("No user_id given for a user".into());
            };
            if get("login_id").is_none() {
                return Skip(format!("No login_id given for user {id}"));
            }
            let Some(status) = get("status") else {
                return Skip(format!("No status given for user {id}"));
            };
            if !prefix_ci(status, &["active", "suspended", "deleted"]) {
                return Skip(format!("Improper status for user {id}"));
            }
            Ok
        }
        "account" => {
            let Some(id) = get("account_id") else {
                return Skip("No account_id given for an account".into());
            };
            if let Some(p) = get("parent_account_id")
                && !seen_accounts.contains(p)
                && p != "root"
                && p != "sub"
            {
                return Skip(format!("Parent account didn't exist for {id}"));
            }
            if get("name").is_none() {
                return Skip(format!("No name given for account {id}, skipping"));
            }
            let status = s("status");
            if !prefix_ci(&status, &["active", "deleted"]) {
                return Skip(format!(
                    "Improper status \"{status}\" for account {id}, skipping"
                ));
            }
            Ok
        }
        "term" => {
            let Some(id) = get("term_id") else {
                return Skip("No term_id given for a term".into());
            };
            let status = s("status");
            if !prefix_ci(&status, &["active", "deleted"]) {
                return Skip(format!("Improper status \"{status}\" for term {id}"));
            }
            if let Some(t) = get("date_override_enrollment_type") {
                if ![
                    "StudentEnrollment",
                    "TeacherEnrollment",
                    "TaEnrollment",
                    "DesignerEnrollment",
                ]
                .contains(&t)
                {
                    return Skip("Invalid date_override_enrollment_type".into());
                }
            } else if get("name").is_none() {
                return Skip(format!("No name given for term {id}"));
            }
            if bad_dates(r) {
                return OkWithWarning(format!("Bad date format for term {id}"));
            }
            Ok
        }
        "course" => {
            let Some(id) = get("course_id") else {
                return Skip("No course_id given for a course".into());
            };
            let has_abstract = get("abstract_course_id").is_some();
            if get("short_name").is_none() && !has_abstract {
                return Skip(format!("No short_name given for course {id}"));
            }
            if get("long_name").is_none() && !has_abstract {
                return Skip(format!("No long_name given for course {id}"));
            }
            let status = s("status");
            if !prefix_ci(
                &status,
                &["active", "deleted", "completed", "unpublished", "published"],
            ) {
                return Skip(format!("Improper status \"{status}\" for course {id}"));
            }
            if let Some(f) = get("course_format")
                && !exact_ci(f, &["on_campus", "online", "blended", "not_set"])
            {
                return Skip(format!("Invalid course_format \"{f}\" for course {id}"));
            }
            if let Some(g) = get("grade_passback_setting")
                && !exact_ci(g, &["nightly_sync", "disabled", "not_set"])
            {
                return Skip(format!(
                    "Invalid grade_passback_setting \"{g}\" for course {id}"
                ));
            }
            if bad_dates(r) {
                return OkWithWarning(format!("Bad date format for course {id}"));
            }
            Ok
        }
        "section" => {
            let course = s("course_id");
            let Some(id) = get("section_id") else {
                return Skip(format!(
                    "No section_id given for a section in course {course}"
                ));
            };
            if get("course_id").is_none() {
                return Skip(format!("No course_id given for a section {id}"));
            }
            let status = s("status");
            if !prefix_ci(&status, &["active", "deleted"]) {
                return Skip(format!(
                    "Improper status \"{status}\" for section {id} in course {course}"
                ));
            }
            if get("name").is_none() && prefix_ci(&status, &["active"]) {
                return Skip(format!("No name given for section {id} in course {course}"));
            }
            if bad_dates(r) {
                return OkWithWarning(format!("Bad date format for section {id}"));
            }
            Ok
        }
        "enrollment" => {
            if get("course_id").is_none() && get("section_id").is_none() {
                return Skip("No course_id or section_id given for an enrollment".into());
            }
            if get("user_id").is_none() && get("user_integration_id").is_none() {
                return Skip("No user_id given for an enrollment".into());
            }
            if get("root_account").is_some() {
                // §6.4: skipped without any message in open-source Canvas.
                return Silent;
            }
            let status = s("status");
            if !prefix_ci(
                &status,
                &[
                    "active",
                    "deleted",
                    "completed",
                    "inactive",
                    "deleted_last_completed",
                ],
            ) {
                return Skip(format!("Improper status \"{status}\" for an enrollment"));
            }
            if get("role_id").is_none() {
                let role = s("role");
                let l = role.to_ascii_lowercase();
                let builtin = ["teacher", "ta", "observer", "designer"].contains(&l.as_str())
                    || l.starts_with("student");
                if !builtin {
                    return Skip(format!("Improper role \"{role}\" for an enrollment"));
                }
            }
            if bad_dates(r) {
                let u = s("user_id");
                return OkWithWarning(match get("course_id") {
                    Some(c) => format!("Bad date format for user {u} in course {c}"),
                    None => format!(
                        "Bad date format for user {u} in section {}",
                        s("section_id")
                    ),
                });
            }
            Ok
        }
        "xlist" => {
            if get("xlist_course_id").is_none() {
                return Skip("No xlist_course_id given for a cross-listing".into());
            }
            if get("section_id").is_none() {
                return Skip("No section_id given for a cross-listing".into());
            }
            let status = s("status");
            if !exact_ci(&status, &["active", "deleted"]) {
                return Skip(format!("Improper status \"{status}\" for a cross-listing"));
            }
            Ok
        }
        "admin" => {
            if get("user_id").is_none() {
                return Skip("No user_id given for admin".into());
            }
            let Some(status) = get("status") else {
                return Skip("No status given for admin".into());
            };
            if get("role").is_none() && get("role_id").is_none() {
                return Skip("No role_id or role given for admin".into());
            }
            if !exact_ci(status, &["active", "deleted"]) {
                return Skip(format!("Invalid status {status} for admin"));
            }
            Ok
        }
        "group_category" => {
            let Some(id) = get("group_category_id") else {
                return Skip("No sis_id given for a group category".into());
            };
            if get("category_name").is_none() {
                return Skip(format!("No name given for group category {id}"));
            }
            let Some(status) = get("status") else {
                return Skip(format!("No status given for group category {id}"));
            };
            if !prefix_ci(status, &["active", "deleted"]) {
                return Skip(format!(
                    "Improper status \"{status}\" for group category {id}, skipping"
                ));
            }
            Ok
        }
        "group" => {
            let Some(id) = get("group_id") else {
                return Skip("No group_id given for a group.".into());
            };
            if get("name").is_none() {
                return Skip(format!("No name given for group {id}."));
            }
            let status = s("status");
            if !prefix_ci(&status, &["available", "deleted", "closed", "completed"]) {
                return Skip(format!("Improper status \"{status}\" for group {id}."));
            }
            Ok
        }
        "group_membership" => {
            if get("group_id").is_none() {
                return Skip("No group_id given for a group user".into());
            }
            if get("user_id").is_none() {
                return Skip("No user_id given for a group user".into());
            }
            let status = s("status");
            if !prefix_ci(&status, &["accepted", "deleted"]) {
                return Skip(format!("Improper status \"{status}\" for a group user"));
            }
            Ok
        }
        "user_observer" => {
            let Some(o) = get("observer_id") else {
                return Skip("No observer_id given for a user observer".into());
            };
            let Some(st) = get("student_id") else {
                return Skip("No user_id given for a user observer".into());
            };
            if o == st {
                return Skip(format!("Can't observe yourself user {o}"));
            }
            let status = s("status");
            if !exact_ci(&status, &["active", "deleted"]) {
                return Skip(format!("Improper status \"{status}\" for a user_observer"));
            }
            Ok
        }
        _ => Ok,
    }
}

/// Incremental UTF-8 validation across chunk boundaries.
struct Utf8Check {
    carry: Vec<u8>,
    bad: bool,
}

impl Utf8Check {
    fn feed(&mut self, buf: &[u8]) {
        if self.bad {
            return;
        }
        let mut data: &[u8] = buf;
        let joined;
        if !self.carry.is_empty() {
            let mut j = std::mem::take(&mut self.carry);
            j.extend_from_slice(buf);
            joined = j;
            data = &joined;
        }
        match std::str::from_utf8(data) {
            Ok(_) => {}
            Err(e) => match e.error_len() {
                Some(_) => self.bad = true,
                None => self.carry = data[e.valid_up_to()..].to_vec(),
            },
        }
    }
    fn finish(&mut self) {
        if !self.carry.is_empty() {
            self.bad = true;
        }
    }
}

/// Scan one CSV stream (§6.1, §6.3, §6.4).
fn scan_csv(
    mut reader: impl Read,
    name: &str,
    entry: Option<usize>,
    result: &mut ScanResult,
    kinds_seen: &mut HashSet<&'static str>,
) {
    let mut parser = Parser::new();
    let mut utf8 = Utf8Check {
        carry: Vec::new(),
        bad: false,
    };
    let mut fs = FileScan {
        name,
        kind: None,
        header_done: false,
        unrecognised: false,
        columns: HashMap::new(),
        row: 0,
        ok_rows: 0,
        messages: Vec::new(),
        seen_accounts: HashSet::new(),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut total: u64 = 0;
    let mut first = true;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                utf8.bad = true;
                break;
            }
        };
        total += n as u64;
        let mut chunk = &buf[..n];
        if first {
            first = false;
            // §6.1: a leading UTF-8 BOM is accepted and stripped.
            if chunk.starts_with(&[0xEF, 0xBB, 0xBF]) {
                chunk = &chunk[3..];
            }
        }
        utf8.feed(chunk);
        if utf8.bad {
            break;
        }
        if !parser.malformed && !fs.unrecognised {
            let collecting = fs.row <= ROW_CHECK_CAP;
            parser.collect = collecting;
            parser.feed(chunk, &mut |rec| fs.on_record(rec, collecting));
        }
    }
    utf8.finish();
    if total == 0 {
        // §6.2: an empty CSV is ignored silently.
        return;
    }
    if utf8.bad {
        result
            .messages
            .push(Message::error(Some(name), "Invalid UTF-8", None));
        return;
    }
    if !parser.malformed && !fs.unrecognised {
        let collecting = fs.row <= ROW_CHECK_CAP;
        parser.finish(&mut |rec| fs.on_record(rec, collecting));
    }
    if parser.malformed {
        result
            .messages
            .push(Message::error(Some(name), "Malformed CSV", None));
        return;
    }
    let Some(kind) = fs.kind else {
        if fs.header_done {
            result.messages.push(Message::error(
                Some(name),
                "Couldn't find Canvas CSV import headers",
                None,
            ));
        }
        return;
    };
    kinds_seen.insert(kind);
    *result.counts.entry(kind).or_insert(0) += fs.ok_rows;
    result.files.push(ScannedFile {
        entry,
        name: name.to_string(),
        kind,
        rows: fs.row.saturating_sub(1),
    });
    result.messages.extend(fs.messages);
}

/// Stream the records of one recognised file of a stored upload (header first), each field
/// decoded as it was scanned. The import reads its files again when it applies them, in
/// Canvas's kind order (§6.3), so nothing but the current record is held in memory.
pub(crate) fn read_records(
    path: &Path,
    ext: &str,
    entry: Option<usize>,
    cb: &mut dyn FnMut(&[String]),
) -> std::io::Result<()> {
    let feed_all = |reader: &mut dyn Read, cb: &mut dyn FnMut(&[String])| -> std::io::Result<()> {
        let mut parser = Parser::new();
        let mut buf = vec![0u8; 64 * 1024];
        let mut first = true;
        let mut emit = |rec: &[Vec<u8>]| {
            let fields: Vec<String> = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            cb(&fields);
        };
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut chunk = &buf[..n];
            if first {
                first = false;
                if chunk.starts_with(&[0xEF, 0xBB, 0xBF]) {
                    chunk = &chunk[3..];
                }
            }
            parser.feed(chunk, &mut emit);
        }
        parser.finish(&mut emit);
        Ok(())
    };
    match (ext.to_ascii_lowercase().as_str(), entry) {
        ("zip", Some(i)) => {
            let file = std::fs::File::open(path)?;
            let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
                .map_err(std::io::Error::other)?;
            let mut e = archive.by_index(i).map_err(std::io::Error::other)?;
            feed_all(&mut e, cb)
        }
        _ => {
            let mut f = std::fs::File::open(path)?;
            feed_all(&mut f, cb)
        }
    }
}

/// A stored copy of one recognised file of an upload (`create_batch_attachment`,
/// lib/sis/csv/import_refactored.rb), written to `dest`; its name and size. A users file
/// with a `password` or `ssha_password` column is stored as `<name>_filtered.csv` without
/// those columns (`HEADERS_TO_EXCLUDE_FOR_DOWNLOAD`, `create_filtered_csv`).
pub(crate) fn store_copy(
    path: &Path,
    ext: &str,
    file: &ScannedFile,
    dest: &Path,
) -> std::io::Result<(String, u64)> {
    let base = file
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&file.name)
        .to_string();
    let mut drop_cols: Vec<usize> = Vec::new();
    if file.kind == "user" {
        let mut first = true;
        read_records(path, ext, file.entry, &mut |rec| {
            if first {
                first = false;
                drop_cols = rec
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| {
                        matches!(
                            h.trim().to_ascii_lowercase().as_str(),
                            "password" | "ssha_password"
                        )
                    })
                    .map(|(i, _)| i)
                    .collect();
            }
        })?;
    }
    if drop_cols.is_empty() {
        let mut out = std::fs::File::create(dest)?;
        let n = match (ext.to_ascii_lowercase().as_str(), file.entry) {
            ("zip", Some(i)) => {
                let f = std::fs::File::open(path)?;
                let mut archive = zip::ZipArchive::new(std::io::BufReader::new(f))
                    .map_err(std::io::Error::other)?;
                let mut e = archive.by_index(i).map_err(std::io::Error::other)?;
                std::io::copy(&mut e, &mut out)?
            }
            _ => std::io::copy(&mut std::fs::File::open(path)?, &mut out)?,
        };
        return Ok((base, n));
    }
    let mut w = csv::Writer::from_path(dest)?;
    let mut err = None;
    read_records(path, ext, file.entry, &mut |rec| {
        let kept = rec
            .iter()
            .enumerate()
            .filter(|(i, _)| !drop_cols.contains(i))
            .map(|(_, v)| v.as_str());
        if let Err(e) = w.write_record(kept) {
            err.get_or_insert(e);
        }
    })?;
    if let Some(e) = err {
        return Err(e.into());
    }
    w.flush()?;
    let stem = base
        .strip_suffix(".csv")
        .or_else(|| base.strip_suffix(".CSV"))
        .unwrap_or(&base);
    Ok((
        format!("{stem}_filtered.csv"),
        std::fs::metadata(dest)?.len(),
    ))
}

/// The uncompressed size of an upload: the sum of a zip's entries, else the file's size
/// (`SisBatch#compute_file_size`, app/models/sis_batch.rb).
pub(crate) fn uncompressed_size(path: &Path, ext: &str) -> u64 {
    if ext.eq_ignore_ascii_case("zip")
        && let Ok(f) = std::fs::File::open(path)
        && let Ok(mut a) = zip::ZipArchive::new(std::io::BufReader::new(f))
    {
        return (0..a.len())
            .filter_map(|i| a.by_index_raw(i).ok().map(|e| e.size()))
            .sum();
    }
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The `data.counts` key for a kind.
pub fn count_key(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, c)| *c)
        .unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_str(s: &str) -> ScanResult {
        let mut r = ScanResult::default();
        let mut seen = HashSet::new();
        scan_csv(s.as_bytes(), "x.csv", None, &mut r, &mut seen);
        r.supplied = KINDS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| seen.contains(k))
            .collect();
        r
    }

    #[test]
    fn users_counted_and_checked() {
        let r = scan_str(
            "\u{feff}user_id,login_id,status\r\nu1,l1,active\r\n\r\nu2,l2,bogus\r\n,,\r\nu3,,active\r\n\"u4\",\"l,4\",Active",
        );
        assert_eq!(r.supplied, vec!["user"]);
        assert_eq!(r.counts["user"], 2);
        let msgs: Vec<_> = r
            .messages
            .iter()
            .map(|m| (m.message.as_str(), m.row))
            .collect();
        assert_eq!(
            msgs,
            vec![
                ("Improper status for user u2", Some(3)),
                ("No login_id given for user u3", Some(5))
            ]
        );
    }

    #[test]
    fn zip_entries_sorted_and_filtered() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.zip");
        {
            let f = std::fs::File::create(&path).unwrap();
            let mut z = zip::ZipWriter::new(f);
            let o = zip::write::SimpleFileOptions::default();
            for (name, body) in [
                ("b/users.csv", "user_id,login_id,status\nu1,l1,active\n"),
                ("__MACOSX/b/._users.csv", "junk"),
                (".hidden.csv", "junk"),
                ("Desktop DB", "junk"),
                ("a/notes.txt", "hello"),
                ("a/inner.zip", "PK"),
                (
                    "A/courses.CSV",
                    "course_id,short_name,long_name,status\nc1,C,Course,active\n",
                ),
                ("empty.csv", ""),
                ("only_header.csv", "section_id,course_id,name,status\n"),
            ] {
                z.start_file(name, o).unwrap();
                z.write_all(body.as_bytes()).unwrap();
            }
            z.finish().unwrap();
        }
        let r = scan_path(&path, "zip", "sis_import.zip", 1);
        assert_eq!(r.supplied, vec!["course", "section", "user"]);
        assert_eq!(r.counts["user"], 1);
        assert_eq!(r.counts["course"], 1);
        assert_eq!(r.counts["section"], 0);
        let msgs: Vec<_> = r
            .messages
            .iter()
            .map(|m| (m.file.as_deref().unwrap(), m.message.as_str(), m.failure))
            .collect();
        assert_eq!(
            msgs,
            vec![
                ("a/inner.zip", "Skipping unknown file type", false),
                ("a/notes.txt", "Skipping unknown file type", false),
            ]
        );
        let bad = dir.path().join("bad.zip");
        std::fs::write(&bad, "not a zip").unwrap();
        let r = scan_path(&bad, "zip", "sis_import.zip", 7);
        assert!(r.messages[0].failure);
        assert!(r.messages[0].message.ends_with("(Error report 7)"));
        assert!(scan_path(&bad, "xml", "x.xml", 1).messages.is_empty());
    }

    #[test]
    fn kind_checks_texts() {
        let r = scan_str("course_id,short_name,long_name,status\nc1,C,Course,bogus\n,C,L,active\n");
        assert_eq!(
            r.messages[0].message,
            "Improper status \"bogus\" for course c1"
        );
        assert_eq!(r.messages[1].message, "No course_id given for a course");
        let r = scan_str(
            "course_id,user_id,role,status\nc1,u1,librarian,active\nc1,u1,students,active\n,u1,student,active\n",
        );
        assert_eq!(r.counts["enrollment"], 1);
        assert_eq!(
            r.messages[0].message,
            "Improper role \"librarian\" for an enrollment"
        );
        assert_eq!(
            r.messages[1].message,
            "No course_id or section_id given for an enrollment"
        );
        let r = scan_str("term_id,name,status,start_date\nt1,T,active,someday\n");
        assert_eq!(r.counts["term"], 1);
        assert_eq!(r.messages[0].message, "Bad date format for term t1");
        let r = scan_str(
            "account_id,parent_account_id,name,status\na1,,A,active\na2,a1,B,active\na3,zz,C,active\n",
        );
        assert_eq!(r.counts["account"], 2);
        assert_eq!(r.messages[0].message, "Parent account didn't exist for a3");
        let r = scan_str("section_id,course_id,name,status\ns1,c1,,active\n");
        assert_eq!(
            r.messages[0].message,
            "No name given for section s1 in course c1"
        );
    }

    #[test]
    fn malformed_and_utf8_and_headers() {
        let r = scan_str("user_id,login_id,status\nu\"1,l,active\n");
        assert_eq!(r.messages[0].message, "Malformed CSV");
        let r = scan_str("user_id,login_id,status\n\"u1,l,active\n");
        assert_eq!(r.messages[0].message, "Malformed CSV");
        let mut rr = ScanResult::default();
        scan_csv(
            &b"user_id,login_id,status\nu\xe9,l,active\n"[..],
            "x.csv",
            None,
            &mut rr,
            &mut HashSet::new(),
        );
        assert_eq!(rr.messages[0].message, "Invalid UTF-8");
        let r = scan_str("foo,bar\n1,2\n");
        assert_eq!(
            r.messages[0].message,
            "Couldn't find Canvas CSV import headers"
        );
        assert!(r.messages[0].failure);
        // First match: an enrollments file with a name column is sections.
        let r =
            scan_str("section_id,course_id,user_id,role,status,name\ns1,c1,u1,student,active,N\n");
        assert_eq!(r.supplied, vec!["section"]);
        assert!(scan_str("").messages.is_empty());
    }
}
