//! Applying an import to the store: its files in Canvas's kind order (§6.3), each row checked
//! (§6.4) and then applied by the kind's importer (store.rs); and diffing against the last
//! import of the same data set (`SisBatch#generate_diff`, app/models/sis_batch.rb, and
//! lib/sis/csv/diff_generator.rb with gems/csv_diff/lib/csv_diff/diff.rb).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::content::{self, Message, Row, RowOutcome, ScannedFile};
use crate::store::{Applied, Ctx2, Store};

/// An upload kept on disk until it has been applied (and, for a diffing data set, for as long
/// as a later import may diff against it).
#[derive(Clone, Debug)]
pub(crate) struct StoredUpload {
    pub path: PathBuf,
    pub ext: String,
}

/// One upload and the files its scan recognised.
pub(crate) struct Source<'a> {
    pub path: &'a Path,
    pub ext: &'a str,
    pub files: &'a [ScannedFile],
}

/// What diffing needs from the batch and from the import it diffs against.
pub(crate) struct DiffOpts<'a> {
    pub prev: Source<'a>,
    pub change_threshold: Option<i64>,
    pub diff_row_count_threshold: Option<i64>,
    pub drop_status: Option<&'a str>,
    pub user_remove_status: Option<&'a str>,
}

/// The result of applying one import.
#[derive(Default, Debug)]
pub(crate) struct Outcome {
    /// Rows applied per kind (`data.counts`, §3.1).
    pub counts: BTreeMap<&'static str, u64>,
    /// Warnings, in the order Canvas records them.
    pub messages: Vec<Message>,
    /// Diffing was applied: the import is only what changed.
    pub diffed: bool,
    /// A threshold stopped diffing (`diffing_threshold_exceeded`).
    pub threshold_exceeded: bool,
}

/// A file to apply: read again from the upload, or a generated diff held in memory.
enum Input<'a> {
    Stream(&'a ScannedFile),
    Memory {
        name: String,
        kind: &'static str,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

impl Input<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Input::Stream(f) => f.kind,
            Input::Memory { kind, .. } => kind,
        }
    }
}

fn kind_order(kind: &str) -> usize {
    content::KINDS
        .iter()
        .position(|(k, _)| *k == kind)
        .unwrap_or(usize::MAX)
}

/// Rows after which a file's rows are counted but not applied, as the scan stops checking
/// them (content.rs), so that a huge upload stays cheap.
const APPLY_CAP: u64 = 1_000_000;

/// `identifying_fields` of each CSV importer (lib/sis/csv/*_importer.rb): the key CsvDiff
/// matches rows on. Those marked [derived] were not read in the source.
fn identifying_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "account" => &["account_id"],
        "term" => &["term_id"], // [derived]
        "course" => &["course_id"],
        "section" => &["section_id"],
        "enrollment" => &[
            "course_id",
            "section_id",
            "user_id",
            "user_integration_id",
            "role",
            "associated_user_id",
        ],
        "user" => &["user_id"],
        "login" => &["user_id"], // [derived]
        "user_observer" => &["observer_id"],
        "change_sis_id" => &["old_id", "old_integration_id"],
        "xlist" => &["xlist_course_id", "section_id"], // [derived]
        "admin" => &["user_id", "account_id", "role_id", "role"], // [derived]
        "group_category" => &["group_category_id"],    // [derived]
        "group" => &["group_id"],                      // [derived]
        "group_membership" => &["group_id", "user_id"], // [derived]
        _ => &[],
    }
}

/// Apply `cur` to the store; with `diff`, only what changed since `diff.prev`.
pub(crate) fn run(store: &mut Store, cur: Source, cx: Ctx2, diff: Option<DiffOpts>) -> Outcome {
    let mut out = Outcome::default();
    let mut inputs: Vec<Input> = match diff {
        Some(d) => diffed_inputs(&cur, d, &mut out),
        None => cur.files.iter().map(Input::Stream).collect(),
    };
    // §6.3: kinds run in a fixed order; files of one kind in path order.
    inputs.sort_by_key(|i| kind_order(i.kind()));
    for input in &inputs {
        apply_input(store, &cur, input, cx, &mut out);
    }
    out
}

fn apply_input(store: &mut Store, cur: &Source, input: &Input, cx: Ctx2, out: &mut Outcome) {
    let kind = input.kind();
    let name = match input {
        Input::Stream(f) => f.name.clone(),
        Input::Memory { name, .. } => name.clone(),
    };
    let mut columns: HashMap<String, usize> = HashMap::new();
    let mut header_done = false;
    let mut rowno: u64 = 0;
    let mut accounts: HashSet<String> = store
        .accounts
        .iter()
        .filter_map(|a| a.sis.clone())
        .collect();
    let mut deferred: Vec<usize> = Vec::new();
    let count = out.counts.entry(kind).or_insert(0);
    let messages = &mut out.messages;
    let mut on_record = |rec: &[String]| {
        rowno += 1;
        if !header_done {
            header_done = true;
            for (i, h) in rec.iter().enumerate() {
                columns.entry(h.to_lowercase()).or_insert(i);
            }
            return;
        }
        let vals: Vec<String> = rec.iter().map(|v| v.trim().to_string()).collect();
        if vals.iter().all(|v| v.is_empty()) {
            return;
        }
        if rowno > APPLY_CAP {
            *count += 1;
            return;
        }
        let r = Row {
            columns: &columns,
            vals: &vals,
        };
        let warn = |m: String, messages: &mut Vec<Message>| {
            messages.push(Message::warning(Some(&name), m, Some(rowno)));
        };
        let pre = match content::check_row(kind, &r, &accounts) {
            RowOutcome::Ok => None,
            RowOutcome::OkWithWarning(m) => Some(m),
            RowOutcome::Silent => return,
            RowOutcome::Skip(m) => return warn(m, messages),
        };
        if let Some(m) = pre {
            warn(m, messages);
        }
        match store.apply(kind, &r, cx, &mut deferred) {
            Applied::Ok => *count += 1,
            Applied::OkWarn(m) => {
                *count += 1;
                warn(m, messages);
            }
            Applied::Warn(m) => warn(m, messages),
            Applied::Silent => {}
        }
        if kind == "account"
            && let Some(id) = r.get("account_id")
        {
            accounts.insert(id.to_string());
        }
    };
    match input {
        Input::Stream(f) => {
            let _ = content::read_records(cur.path, cur.ext, f.entry, &mut on_record);
        }
        Input::Memory { header, rows, .. } => {
            on_record(header);
            for r in rows {
                on_record(r);
            }
        }
    }
    if kind == "enrollment" {
        store.finish_enrollments(&mut deferred);
    }
}

/// The whole of one file: lower-cased header and rows with fields stripped (Canvas's
/// `CSVBaseImporter::PARSE_ARGS`: downcased headers, stripped fields).
fn load(src: &Source, f: &ScannedFile) -> (Vec<String>, Vec<Vec<String>>) {
    let mut header = None;
    let mut rows = Vec::new();
    let _ = content::read_records(src.path, src.ext, f.entry, &mut |rec| {
        if header.is_none() {
            header = Some(rec.iter().map(|h| h.to_lowercase()).collect());
        } else {
            let vals: Vec<String> = rec.iter().map(|v| v.trim().to_string()).collect();
            if !vals.iter().all(|v| v.is_empty()) {
                rows.push(vals);
            }
        }
    });
    (header.unwrap_or_default(), rows)
}

/// `CsvDiff::Diff#generate`: rows new or changed (by the whole row) since `prev`, then the
/// rows `prev` had and `cur` lacks (by key), with their `status` set to `status`.
fn csv_diff(
    kind: &str,
    prev: (Vec<String>, Vec<Vec<String>>),
    cur: (Vec<String>, Vec<Vec<String>>),
    status: &str,
) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let (ph, prows) = prev;
    let (ch, crows) = cur;
    let mut a: Vec<&String> = ph.iter().filter(|h| !h.is_empty()).collect();
    let mut b: Vec<&String> = ch.iter().filter(|h| !h.is_empty()).collect();
    a.sort();
    b.sort();
    if a != b {
        return Err("CSV headers do not match, cannot diff".into());
    }
    let keys = identifying_fields(kind);
    if !ph.iter().any(|h| keys.contains(&h.as_str())) {
        return Err("At least one primary key field must be present".into());
    }
    let canonical: Vec<String> = ch.iter().filter(|h| !h.is_empty()).cloned().collect();
    let pick = |header: &[String], row: &[String], cols: &[String]| -> Vec<String> {
        cols.iter()
            .map(|c| {
                header
                    .iter()
                    .position(|h| h == c)
                    .and_then(|i| row.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect()
    };
    let key_cols: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    // `insert or replace` by key: a later row with the same key wins, in its new place.
    let table = |header: &[String], rows: Vec<Vec<String>>| {
        let mut order: Vec<Vec<String>> = Vec::new();
        let mut map: HashMap<Vec<String>, (usize, Vec<String>)> = HashMap::new();
        for r in rows {
            let k = pick(header, &r, &key_cols);
            let data = pick(header, &r, &canonical);
            if let Some((i, _)) = map.get(&k) {
                order[*i].clear();
            }
            order.push(k.clone());
            map.insert(k, (order.len() - 1, data));
        }
        (order, map)
    };
    let (p_order, p_map) = table(&ph, prows);
    let (c_order, c_map) = table(&ch, crows);
    let mut out = Vec::new();
    for k in c_order.iter().filter(|k| !k.is_empty()) {
        let (_, data) = &c_map[k];
        if p_map.get(k).is_none_or(|(_, pd)| pd != data) {
            out.push(data.clone());
        }
    }
    let mut header = canonical.clone();
    let status_col = match header.iter().position(|h| h == "status") {
        Some(i) => i,
        None => {
            header.push("status".into());
            header.len() - 1
        }
    };
    for k in p_order.iter().filter(|k| !k.is_empty()) {
        if c_map.contains_key(k) {
            continue;
        }
        let mut row = p_map[k].1.clone();
        row.resize(header.len(), String::new());
        row[status_col] = status.to_string();
        out.push(row);
    }
    Ok((header, out))
}

const VALID_ENROLLMENT_DROP_STATUS: &[&str] =
    &["deleted", "inactive", "completed", "deleted_last_completed"];
const VALID_USER_REMOVE_STATUS: &[&str] = &["deleted", "suspended"];

/// `SisBatch#generate_diff` and `DiffGenerator#generate_csvs`.
fn diffed_inputs<'a>(cur: &Source<'a>, d: DiffOpts<'a>, out: &mut Outcome) -> Vec<Input<'a>> {
    let full: Vec<Input<'a>> = cur.files.iter().map(Input::Stream).collect();
    // Diffing is skipped when the uncompressed sizes differ by more than change_threshold %.
    if let Some(t) = d.change_threshold {
        let c = content::uncompressed_size(cur.path, cur.ext) as f64;
        let p = content::uncompressed_size(d.prev.path, d.prev.ext) as f64;
        if (1.0 - c / p).abs() * 100.0 > t as f64 {
            out.threshold_exceeded = true;
            out.messages.push(Message::warning(
                None,
                "Diffing not performed because file size difference exceeded threshold",
                None,
            ));
            return full;
        }
    }
    let mut generated: Vec<Input<'a>> = Vec::new();
    let mut warnings: Vec<Message> = Vec::new();
    let mut row_count: u64 = 0;
    let mut kinds: Vec<&'static str> = Vec::new();
    for f in cur.files {
        if !kinds.contains(&f.kind) {
            kinds.push(f.kind);
        }
    }
    for kind in kinds {
        let csvs: Vec<&ScannedFile> = cur.files.iter().filter(|f| f.kind == kind).collect();
        let prevs: Vec<&ScannedFile> = d.prev.files.iter().filter(|f| f.kind == kind).collect();
        if prevs.is_empty() {
            generated.extend(csvs.iter().map(|f| Input::Stream(f)));
            continue;
        }
        let mut pairs: Vec<(&ScannedFile, &ScannedFile)> = Vec::new();
        if csvs.len() == prevs.len() {
            if csvs.len() == 1 {
                pairs.push((csvs[0], prevs[0]));
            } else {
                let names: HashSet<&str> = csvs.iter().map(|c| c.name.as_str()).collect();
                if names.len() == csvs.len() {
                    for c in &csvs {
                        if let Some(p) = prevs.iter().find(|p| p.name == c.name) {
                            pairs.push((c, p));
                        }
                    }
                }
            }
        }
        if pairs.len() != csvs.len() {
            warnings.push(Message::warning(
                Some(&csvs[0].name),
                format!("Unable to perform diffing against mismatched previous and current {kind} imports"),
                None,
            ));
            generated.extend(csvs.iter().map(|f| Input::Stream(f)));
            continue;
        }
        let status = match kind {
            "enrollment" => d
                .drop_status
                .filter(|s| VALID_ENROLLMENT_DROP_STATUS.contains(s)),
            "user" => d
                .user_remove_status
                .filter(|s| VALID_USER_REMOVE_STATUS.contains(s)),
            _ => None,
        }
        .unwrap_or("deleted");
        let mut made = Vec::new();
        let mut failed = None;
        for (c, p) in &pairs {
            match csv_diff(kind, load(&d.prev, p), load(cur, c), status) {
                Ok((header, rows)) => {
                    row_count += rows.len() as u64;
                    made.push(Input::Memory {
                        name: c.name.clone(),
                        kind,
                        header,
                        rows,
                    });
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        match failed {
            Some(e) => {
                warnings.push(Message::warning(
                    Some(&csvs[0].name),
                    format!("Couldn't generate diff: {e}"),
                    None,
                ));
                generated.extend(csvs.iter().map(|f| Input::Stream(f)));
            }
            None => generated.extend(made),
        }
    }
    out.messages.extend(warnings);
    if let Some(t) = d.diff_row_count_threshold
        && row_count as i64 > t
    {
        out.threshold_exceeded = true;
        out.messages.push(Message::warning(
            None,
            "Diffing not performed because difference row count exceeded threshold",
            None,
        ));
        return full;
    }
    out.diffed = true;
    generated
}
