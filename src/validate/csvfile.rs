//! Validation of one CSV stream (a file or a zip entry) against the kinds table.

use std::io::{self, Read};
use std::sync::{Mutex, PoisonError, mpsc};

use super::bundle::{self, Bundle, SEED, hash_bytes, hash_lower};
use super::dedup::LineHashes;
use super::kinds::{self, KINDS, Kind, Ns, Pair, Req, Rule};
use super::scan::{Record, ScanError, Scanner};
use super::values;
use super::{Diagnostic, FileReport, Limits, Severity};

/// Collects diagnostics for one file, keeping at most `max` but counting all.
pub(crate) struct Sink {
    pub rep: FileReport,
    pub max: usize,
}

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
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        file: &str,
        line: Option<u64>,
        row: Option<u64>,
        column: Option<&str>,
        severity: Severity,
        code: &'static str,
        message: String,
        hint: Option<String>,
    ) {
        match severity {
            Severity::Error => self.rep.errors += 1,
            Severity::Warning => self.rep.warnings += 1,
        }
        if self.rep.diagnostics.len() < self.max {
            self.rep.diagnostics.push(Diagnostic {
                file: if file.is_empty() {
                    self.rep.file.clone()
                } else {
                    file.to_string()
                },
                line,
                row,
                column: column.map(str::to_string),
                severity,
                code,
                message,
                hint,
            });
        } else {
            self.rep.omitted += 1;
        }
    }

    pub fn err(
        &mut self,
        line: Option<u64>,
        code: &'static str,
        message: String,
        hint: Option<String>,
    ) {
        let f = self.rep.file.clone();
        self.add(&f, line, None, None, Severity::Error, code, message, hint);
    }
    pub fn warn(
        &mut self,
        line: Option<u64>,
        code: &'static str,
        message: String,
        hint: Option<String>,
    ) {
        let f = self.rep.file.clone();
        self.add(&f, line, None, None, Severity::Warning, code, message, hint);
    }
    pub fn finish(self) -> FileReport {
        self.rep
    }
}

/// Ruby's `String#strip` set: whitespace and NUL.
#[inline]
fn strip(b: &[u8]) -> &[u8] {
    // Every byte of the set is below `!`: a field that starts and ends above it
    // (nearly all) is returned as it is.
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if f > b' ' && l > b' ' => return b,
        (None, _) => return b,
        _ => {}
    }
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0);
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

#[inline]
fn as_str(b: &[u8]) -> &str {
    debug_assert!(std::str::from_utf8(b).is_ok());
    // SAFETY: the scanner only hands out bytes it validated as UTF-8, and fields are
    // split (and stripped) only at ASCII bytes, so every slice taken here is UTF-8.
    unsafe { std::str::from_utf8_unchecked(b) }
}

/// Nearest candidate for a typo hint.
pub(crate) fn nearest<'a>(s: &str, cands: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let s_norm = s.to_ascii_lowercase().replace([' ', '-', '.'], "_");
    let s_chars = s_norm.chars().count();
    let mut best: Option<(usize, &str)> = None;
    for c in cands {
        // The distance is at least the difference in length, and only 2 is a hint:
        // skip the (allocating) distance for the rest (a header of 100,000 columns).
        if c == s || s_chars.abs_diff(c.chars().count()) > 2 {
            continue;
        }
        let d = if c == s_norm {
            0
        } else {
            strsim::damerau_levenshtein(&s_norm, c)
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.filter(|&(d, c)| d <= 2 && d * 3 <= s.len().max(c.len()))
        .map(|(_, c)| c)
}

/// "a" or "an" before a kind's name.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o']) {
        "an"
    } else {
        "a"
    }
}

/// Expand a message template.
fn render(tpl: &str, value: &str, col: &str, kind: &Kind, get: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(tpl.len() + 16);
    render_into(&mut out, tpl, value, col, kind, get);
    out
}

fn render_into(
    out: &mut String,
    tpl: &str,
    value: &str,
    col: &str,
    kind: &Kind,
    get: &dyn Fn(&str) -> String,
) {
    let mut rest = tpl;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        // The matching `}` (conditionals nest placeholders).
        let mut depth = 0;
        let Some(j) = rest[i..].char_indices().find_map(|(j, c)| {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => {}
            }
            None
        }) else {
            out.push_str(&rest[i..]);
            return;
        };
        let name = &rest[i + 1..i + j];
        if let Some((cond, alts)) = name.split_once('?') {
            // `{c?then|else}`: `then` when column `c` has a value, else `else`.
            let (then, other) = alts.split_once('|').unwrap_or((alts, ""));
            let pick = if get(cond).is_empty() { other } else { then };
            render_into(out, pick, value, col, kind, get);
        } else {
            match name {
                "value" => out.push_str(value),
                "col" => out.push_str(col),
                "kind" => out.push_str(kind.name),
                "id" => {
                    if let Some((_, c)) = kind.defines {
                        out.push_str(&get(c));
                    }
                }
                _ => out.push_str(&get(name)),
            }
        }
        rest = &rest[i + j + 1..];
    }
    out.push_str(rest);
}

fn guess_kind(names: &[String]) -> Option<String> {
    let has = |c: &str| names.iter().any(|n| n == c);
    type Guess<'a> = (usize, usize, &'a Kind, Vec<(String, &'a str)>, Vec<&'a str>);
    let mut best: Option<Guess> = None;
    for k in KINDS {
        let mut renames = vec![];
        let mut missing = vec![];
        let mut hit = 0;
        let groups: Vec<Vec<&str>> = k
            .all
            .iter()
            .map(|c| vec![*c])
            .chain(k.any.iter().map(|g| g.to_vec()))
            .collect();
        for g in &groups {
            if g.iter().any(|c| has(c)) {
                hit += 1;
                continue;
            }
            let near = names.iter().find_map(|n| {
                let cand = nearest(n, g.iter().copied())?;
                Some((n.clone(), cand))
            });
            match near {
                Some(r) => {
                    hit += 1;
                    renames.push(r);
                }
                None => missing.push(g[0]),
            }
        }
        let known = names.iter().filter(|n| k.col(n).is_some()).count();
        let score = hit * 10 + known;
        if hit > 0
            && (hit == groups.len() || known >= 2)
            && best.as_ref().is_none_or(|b| score > b.0)
        {
            best = Some((score, hit, k, renames, missing));
        }
    }
    let (_, _, k, renames, missing) = best?;
    let mut h = format!("it looks like {} {} file", article(k.name), k.name);
    if !renames.is_empty() {
        let r: Vec<String> = renames
            .iter()
            .map(|(a, b)| format!("\"{a}\" to \"{b}\""))
            .collect();
        h.push_str(&format!(": rename {}", r.join(", ")));
    }
    if !missing.is_empty() {
        h.push_str(&format!(
            "{} it needs the column(s) {}",
            if renames.is_empty() { ";" } else { ", and" },
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(h)
}

/// A header Canvas cannot read because its columns are separated by semicolons or tabs
/// (Excel in many European locales saves "CSV" with `;`): the separator, and the kind
/// whose columns the header then holds (the one Canvas would recognise, else the one
/// with the most known columns, at least two).
fn other_separator(names: &[String]) -> Option<(&'static str, &'static Kind)> {
    for (sep, said) in [(';', "semicolons (\";\")"), ('\t', "tabs")] {
        if !names.iter().any(|n| n.contains(sep)) {
            continue;
        }
        let split: Vec<&str> = names
            .iter()
            .flat_map(|n| n.split(sep))
            .map(|n| as_str(strip(n.as_bytes())))
            .collect();
        let has = |c: &str| split.contains(&c);
        if let Some(i) = kinds::recognise(&has) {
            return Some((said, &KINDS[i]));
        }
        let mut best: Option<(usize, &'static Kind)> = None;
        for k in KINDS {
            let known = split.iter().filter(|n| k.col(n).is_some()).count();
            if known >= 2 && best.is_none_or(|(b, _)| known > b) {
                best = Some((known, k));
            }
        }
        if let Some((_, k)) = best {
            return Some((said, k));
        }
    }
    None
}

pub(crate) type IoClassifier = fn(&io::Error) -> (&'static str, String);

pub(crate) fn default_io(e: &io::Error) -> (&'static str, String) {
    ("read_error", format!("cannot read: {e}"))
}

/// Validate one CSV stream. `name` is the display name (`bundle.zip:dir/users.csv`).
pub(crate) fn validate_csv<R: Read>(
    name: &str,
    rdr: R,
    bundle: &mut Bundle,
    limits: Limits,
    classify: IoClassifier,
) -> FileReport {
    let mut sink = Sink::new(name, limits.max_diagnostics);
    let file_idx = bundle.add_file(name);
    let mut sc = Scanner::new(rdr);
    let mut rec = Record::default();

    let report_err = |sink: &mut Sink, e: ScanError| match e {
        ScanError::Syntax {
            code,
            line,
            message,
            hint,
        } => sink.err(Some(line), code, message, hint),
        ScanError::Io(e) => {
            let (code, msg) = classify(&e);
            sink.err(None, code, msg, None)
        }
    };

    // ---- header -------------------------------------------------------
    loop {
        match sc.next_record(&mut rec) {
            Ok(true) if rec.is_blank_line() => continue,
            Ok(true) => break,
            Ok(false) => {
                let (code, msg) = if sc.bytes == 0 {
                    ("empty_file", "empty file; Canvas ignores it".to_string())
                } else if sc.bom && sc.bytes == 3 {
                    (
                        "no_header",
                        "the file holds only a byte-order mark; Canvas finds no header".to_string(),
                    )
                } else {
                    (
                        "no_header",
                        "the file holds only blank lines; Canvas finds no header".to_string(),
                    )
                };
                sink.err(if sc.bytes == 0 { None } else { Some(1) }, code, msg, None);
                return sink.finish();
            }
            Err(e) => {
                report_err(&mut sink, e);
                return sink.finish();
            }
        }
    }
    let header_line = rec.line;
    let raw: Vec<String> = (0..rec.len())
        .map(|i| as_str(rec.field(i)).to_lowercase())
        .collect();
    let names: Vec<String> = raw
        .iter()
        .map(|s| as_str(strip(s.as_bytes())).to_string())
        .collect();
    if let Some(l) = rec.nul_line {
        sink.err(
            Some(l),
            "nul_character",
            "NUL character in the header row".into(),
            None,
        );
    }
    // First column of each name: a map, not a scan of the columns before (a header of
    // 100,000 columns took 20 s).
    let mut first_col: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(names.len());
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            continue;
        }
        if raw[i] != *n {
            let f = sink.rep.file.clone();
            sink.add(
                &f,
                Some(rec.field_line(i)),
                Some(1),
                Some(n),
                Severity::Error,
                "header_whitespace",
                format!(
                    "header cell \"{}\" has spaces around it: Canvas may recognise the file yet read column \"{n}\" as empty in every row",
                    raw[i]
                ),
                Some(format!("write it as \"{n}\"")),
            );
        }
        if let Some(&first) = first_col.get(n.as_str()) {
            let f = sink.rep.file.clone();
            sink.add(
                &f,
                Some(rec.field_line(i)),
                Some(1),
                Some(n),
                Severity::Error,
                "duplicate_column",
                format!(
                    "duplicate header column \"{n}\" (columns {} and {}); Canvas would use only one of them",
                    first + 1,
                    i + 1
                ),
                None,
            );
        }
        first_col.entry(n).or_insert(i);
    }
    let has = |c: &str| names.iter().any(|n| n == c);
    let kind_idx = kinds::recognise(&has);
    let kind = kind_idx.map(|i| &KINDS[i]);
    if let Some(k) = kind {
        sink.rep.kind = Some(k.name.to_string());
        // A later kind that fits the header better: Canvas's first match misreads it.
        for other in &KINDS[kind_idx.unwrap() + 1..] {
            if !other.matches(&has) {
                continue;
            }
            let known_k = names.iter().filter(|n| k.col(n).is_some()).count();
            let known_o = names.iter().filter(|n| other.col(n).is_some()).count();
            if known_o > known_k {
                let culprits: Vec<String> = k
                    .recognition_columns()
                    .chain(k.any.iter().flat_map(|g| g.iter().copied()))
                    .filter(|c| has(c) && other.col(c).is_none())
                    .map(|c| format!("\"{c}\""))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                sink.err(
                    Some(header_line),
                    "kind_shadowed",
                    format!(
                        "Canvas will read this file as {} (the first kind whose headers match), but it looks like {} {} file",
                        k.name,
                        article(other.name),
                        other.name
                    ),
                    Some(format!(
                        "the column(s) {} make it a {} file; remove or rename them",
                        culprits.join(", "),
                        k.name
                    )),
                );
                break;
            }
        }
    } else if let Some((sep, k)) = other_separator(&names) {
        sink.err(
            Some(header_line),
            "wrong_separator",
            format!(
                "Couldn't find Canvas CSV import headers: the header is separated by {sep}, and Canvas reads only commas"
            ),
            Some(format!(
                "it looks like {} {} file; re-save it with commas, e.g. as \"CSV UTF-8 (Comma delimited)\" in Excel",
                article(k.name),
                k.name
            )),
        );
    } else {
        sink.err(
            Some(header_line),
            "unrecognized_header",
            "Couldn't find Canvas CSV import headers".into(),
            guess_kind(&names),
        );
    }

    // Header index of each spec column, and header-level requirements.
    let (hidx, suppressed) = match kind {
        Some(k) => {
            let hidx: Vec<Option<usize>> = k
                .cols
                .iter()
                .map(|c| names.iter().position(|n| n == c.name))
                .collect();
            for (i, n) in names.iter().enumerate() {
                if n.is_empty() || k.col(n).is_some() {
                    continue;
                }
                let hint = nearest(n, k.cols.iter().map(|c| c.name))
                    .map(|c| format!("did you mean \"{c}\"?"));
                let f = sink.rep.file.clone();
                sink.add(
                    &f,
                    Some(rec.field_line(i)),
                    Some(1),
                    Some(n),
                    Severity::Warning,
                    "unknown_column",
                    format!(
                        "unknown column \"{n}\" for {} {} file; Canvas ignores it",
                        article(k.name),
                        k.name
                    ),
                    hint,
                );
            }
            let mut suppressed = vec![false; k.cols.len()];
            for (ci, c) in k.cols.iter().enumerate() {
                if hidx[ci].is_none() && matches!(c.req, Req::Yes | Req::Header) {
                    suppressed[ci] = true;
                    let f = sink.rep.file.clone();
                    sink.add(
                        &f,
                        Some(header_line),
                        Some(1),
                        Some(c.name),
                        Severity::Error,
                        "missing_column",
                        format!("required column \"{}\" is missing from the header", c.name),
                        Some(if c.req == Req::Header {
                            "the column must be present even when its values are blank".into()
                        } else {
                            "Canvas would skip every row".into()
                        }),
                    );
                }
            }
            for o in k.one_of {
                if o.cols.iter().all(|c| !has(c)) {
                    let f = sink.rep.file.clone();
                    sink.add(
                        &f,
                        Some(header_line),
                        Some(1),
                        Some(o.cols[0]),
                        if o.new_only {
                            Severity::Warning
                        } else {
                            Severity::Error
                        },
                        "missing_column",
                        format!(
                            "the header needs one of the columns {}{}",
                            o.cols
                                .iter()
                                .map(|c| format!("\"{c}\""))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if o.new_only { " for new rows" } else { "" }
                        ),
                        Some(if o.new_only {
                            "Canvas skips every row that creates a new one; rows updating existing ones are fine".into()
                        } else {
                            "Canvas would skip every row".into()
                        }),
                    );
                }
            }
            // Namespaces this file defines.
            if let Some((ns, _)) = k.defines {
                bundle.definers[ns as usize] += 1;
            }
            for (c, ns) in k.unique {
                if has(c) {
                    bundle.definers[*ns as usize] += 1;
                }
            }
            (hidx, suppressed)
        }
        None => (vec![], vec![]),
    };

    // ---- rows -----------------------------------------------------------
    // This thread scans (and hashes each line); the row checks run in order on a
    // second thread, fed batches of records, once a file has more than one batch.
    let checker = Checker {
        ncols: names.len(),
        kind: kind.map(|k| (k, kind_idx.unwrap(), RowState::new(k, &hidx))),
        hidx: &hidx,
        suppressed: &suppressed,
        file_idx,
        sink: &mut sink,
        bundle,
    };
    let mut row_no: u64 = 1;
    let mut line_hashes = LineHashes::new(limits.line_hashes);
    let mut scan_error = None;
    let mut scratch = Vec::new();
    let mut next_batch = |sc: &mut Scanner<R>, batch: &mut Batch| {
        batch.used = 0;
        let mut bytes = 0;
        while batch.used < BATCH_ROWS && bytes < BATCH_BYTES && scan_error.is_none() {
            if batch.recs.len() == batch.used {
                batch.recs.push((Record::default(), 0, 0));
            }
            let (rec, no, hash) = &mut batch.recs[batch.used];
            match sc.next_record(rec) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    scan_error = Some(e);
                    return false;
                }
            }
            if rec.is_blank_line() {
                continue;
            }
            row_no += 1;
            // A field is empty once stripped iff all its bytes are in the strip set.
            if rec.data.first().is_none_or(|&b| b <= b' ')
                && (0..rec.len()).all(|i| strip(rec.field(i)).is_empty())
            {
                continue;
            }
            // Canvas's de-duplication of exact duplicate lines.
            let h = rec.line_hash(&mut scratch);
            line_hashes.push(h, rec.line);
            (*no, *hash) = (row_no, h);
            bytes += rec.data.len();
            batch.used += 1;
        }
        true
    };
    let checker = Mutex::new(checker);
    let mut batch = Batch::default();
    let mut more = next_batch(&mut sc, &mut batch);
    let pipelined = more
        && std::thread::scope(|s| {
            let (to_checker, from_scanner) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
            let (to_scanner, recycled) = mpsc::channel::<Batch>();
            let checker = &checker;
            let Ok(worker) = std::thread::Builder::new()
                .name("validate-rows".into())
                .spawn_scoped(s, move || {
                    let mut c = checker.lock().unwrap_or_else(PoisonError::into_inner);
                    for mut b in from_scanner {
                        c.rows(&mut b);
                        if to_scanner.send(b).is_err() {
                            break;
                        }
                    }
                })
            else {
                return false;
            };
            let mut spare = BATCHES_IN_FLIGHT + 1;
            while more {
                let mut next = match recycled.try_recv() {
                    Ok(b) => b,
                    Err(_) if spare > 0 => {
                        spare -= 1;
                        Batch::default()
                    }
                    Err(_) => match recycled.recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    },
                };
                more = next_batch(&mut sc, &mut next);
                std::mem::swap(&mut batch, &mut next);
                if to_checker.send(next).is_err() {
                    break;
                }
            }
            let _ = to_checker.send(std::mem::take(&mut batch));
            drop(to_checker);
            if let Err(p) = worker.join() {
                std::panic::resume_unwind(p);
            }
            true
        });
    let mut checker = checker.into_inner().unwrap_or_else(PoisonError::into_inner);
    if !pipelined {
        // One batch holds the whole file, or no second thread: check as we scan.
        loop {
            checker.rows(&mut batch);
            if !more {
                break;
            }
            more = next_batch(&mut sc, &mut batch);
        }
    }
    drop(checker);
    if let Some(e) = scan_error {
        report_err(&mut sink, e);
    }
    // A spill file that cannot be read back leaves the count unknown: say nothing.
    let dups = line_hashes.duplicates(100).unwrap_or_default();
    let dup_lines = dups.count;
    if dup_lines >= 100 {
        let base = name.rsplit(['/', ':']).next().unwrap_or(name);
        let stem = base
            .strip_suffix(".csv")
            .or_else(|| base.strip_suffix(".CSV"))
            .unwrap_or(base);
        sink.max += 1;
        let first = match dups.first {
            Some((dup, orig)) => format!(" (the first is line {dup}, a copy of line {orig})"),
            None => String::new(),
        };
        sink.warn(
            dups.first.map(|(dup, _)| dup),
            "deduplicated",
            format!(
                "{dup_lines} lines are exact duplicates of earlier lines{first}: Canvas will drop them (keeping the last copy) and report this file as \"{stem}_deduplicated.csv\""
            ),
            Some("remove the duplicate lines so Canvas's messages name this file".into()),
        );
    }
    // Drain the rest so that a zip entry's CRC is checked even after an early stop.
    let mut inner = sc.into_inner();
    if let Err(e) = io::copy(&mut inner, &mut io::sink()) {
        let (code, msg) = classify(&e);
        if !sink.rep.diagnostics.iter().any(|d| d.code == code) {
            sink.err(None, code, msg, None);
        }
    }
    sink.finish()
}

/// Records handed from the scanner to the row checks: `recs[..used]`, each with its
/// Canvas row number and line hash. The records are reused from batch to batch.
#[derive(Default)]
struct Batch {
    recs: Vec<(Record, u64, u64)>,
    used: usize,
}

const BATCH_ROWS: usize = 512;
const BATCH_BYTES: usize = 256 * 1024;
/// Batches queued for the checker (besides the one it checks and the one being filled).
const BATCHES_IN_FLIGHT: usize = 2;

/// The per-row checks of one file, in row order (on the second thread when pipelined).
struct Checker<'a> {
    ncols: usize,
    kind: Option<(&'static Kind, usize, RowState)>,
    hidx: &'a [Option<usize>],
    suppressed: &'a [bool],
    file_idx: usize,
    sink: &'a mut Sink,
    bundle: &'a mut Bundle,
}

impl Checker<'_> {
    fn rows(&mut self, batch: &mut Batch) {
        let ncols = self.ncols;
        // Pull the id-table slots this batch will define into the cache, together.
        if let Some((_, _, st)) = &self.kind {
            for (rec, _, _) in &batch.recs[..batch.used] {
                for &(i, ns) in &st.defined {
                    if i < rec.len() {
                        let val = as_str(strip(rec.field(i)));
                        if !val.is_empty() {
                            let key = if ns == Ns::Login {
                                hash_lower(SEED, val)
                            } else {
                                hash_bytes(SEED, val.as_bytes())
                            };
                            self.bundle.defs[ns as usize].prefetch(key);
                        }
                    }
                }
            }
        }
        let recs = &batch.recs[..batch.used];
        let text = |r: u32, f: u32| as_str(strip(recs[r as usize].0.field(f as usize)));
        for (ri, (rec, row_no, h)) in recs.iter().enumerate() {
            let sink = &mut *self.sink;
            sink.rep.rows += 1;
            let row = Some(*row_no);
            if rec.len() < ncols && ncols > 1 {
                let f = sink.rep.file.clone();
                sink.add(
                    &f,
                    Some(rec.line),
                    row,
                    None,
                    Severity::Warning,
                    "short_row",
                    format!(
                        "row has {} field(s), the header has {ncols}; the missing fields are read as empty",
                        rec.len()
                    ),
                    None,
                );
            } else if rec.len() > ncols
                && (ncols..rec.len()).any(|i| !strip(rec.field(i)).is_empty())
            {
                let f = sink.rep.file.clone();
                sink.add(
                    &f,
                    Some(rec.line),
                    row,
                    None,
                    Severity::Warning,
                    "long_row",
                    format!(
                        "row has {} fields, the header has {ncols}; Canvas ignores the extra values",
                        rec.len()
                    ),
                    None,
                );
            }
            if let Some(l) = rec.nul_line {
                // The users importer skips such a row with a warning (§6.1); elsewhere
                // the NUL reaches the database and fails the import.
                let user = self.kind.as_ref().is_some_and(|k| k.0.name == "user");
                let (sev, msg) = if user {
                    (
                        Severity::Warning,
                        "Some of the fields contain NULL character",
                    )
                } else {
                    (Severity::Error, "a field contains a NUL character")
                };
                let f = sink.rep.file.clone();
                sink.add(
                    &f,
                    Some(l),
                    row,
                    None,
                    sev,
                    "nul_character",
                    msg.to_string(),
                    Some("NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows".into()),
                );
                if user {
                    // Canvas skips the row: it defines nothing and gets no other message.
                    continue;
                }
            }
            if let Some((k, kind_idx, state)) = self.kind.as_mut() {
                macro_rules! check {
                    ($n:expr) => {
                        check_row::<$n>(
                            k,
                            *kind_idx,
                            rec,
                            self.hidx,
                            self.suppressed,
                            *row_no,
                            self.file_idx,
                            sink,
                            self.bundle,
                            state,
                            *h,
                            ri as u32,
                        )
                    };
                }
                match k.cols.len() {
                    0..=16 => check!(16),
                    17..=32 => check!(32),
                    _ => check!(MAX_COLS),
                }
                if self.bundle.pending_full() {
                    self.bundle.flush_with(text);
                }
            }
        }
        // The deferred references name texts in this batch's records.
        self.bundle.flush_with(text);
        // Keep the reused records small after an unusually large one.
        for (rec, _, _) in &mut batch.recs {
            if rec.data.capacity() > BATCH_BYTES {
                *rec = Record::default();
            }
        }
    }
}

/// Most columns a kind has (the row checks keep its values on the stack).
const MAX_COLS: usize = 64;

/// Column indices resolved once per file, so rows never look names up.
struct RowState {
    one_of: Vec<(Vec<usize>, bool)>,
    unless: Vec<Option<usize>>,
    status: Option<usize>,
    pairs: Vec<[usize; 3]>,
    id: Option<usize>,
    extra: Vec<usize>,
    unique: Vec<(usize, Ns)>,
    /// Per `Kind::unique_in`: the column and its scope columns.
    unique_in: Vec<(usize, Vec<usize>)>,
    user_id: Option<usize>,
    refs: Vec<(usize, Ns)>,
    /// Header index and namespace of the id and unique columns (for prefetching).
    defined: Vec<(usize, Ns)>,
    /// The columns the per-column checks can report on, in order: those in the
    /// header, and those required unless another column is set (an absent column is
    /// otherwise empty and not reported).
    active: Vec<usize>,
}

impl RowState {
    fn new(k: &Kind, hidx: &[Option<usize>]) -> Self {
        let ix = |n: &str| k.col(n).expect("column in table");
        assert!(k.cols.len() <= MAX_COLS && hidx.len() == k.cols.len());
        RowState {
            one_of: k
                .one_of
                .iter()
                .map(|o| {
                    let v: Vec<usize> = o.cols.iter().map(|c| ix(c)).collect();
                    let any = v.iter().any(|&i| hidx[i].is_some());
                    (v, any)
                })
                .collect(),
            unless: k
                .cols
                .iter()
                .map(|c| match c.req {
                    Req::UnlessSet(o) => Some(ix(o)),
                    _ => None,
                })
                .collect(),
            status: k.col("status"),
            pairs: k
                .pairs
                .iter()
                .map(|p| match *p {
                    Pair::NotBoth(a, b, _) | Pair::Differ(a, b, _) => [ix(a), ix(b), ix(b)],
                    Pair::EmptyWhen(a, _, b, c, _) => [ix(a), ix(b), ix(c)],
                })
                .collect(),
            id: k.defines.map(|(_, c)| ix(c)),
            extra: k.dup_extra.iter().map(|c| ix(c)).collect(),
            unique: k.unique.iter().map(|(c, ns)| (ix(c), *ns)).collect(),
            unique_in: k
                .unique_in
                .iter()
                .map(|u| (ix(u.col), u.scope.iter().map(|(c, _)| ix(c)).collect()))
                .collect(),
            user_id: k.col("user_id"),
            refs: k
                .cols
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.refers.map(|ns| (i, ns)))
                .collect(),
            defined: k
                .defines
                .map(|(ns, c)| (c, ns))
                .into_iter()
                .chain(k.unique.iter().map(|(c, ns)| (*c, *ns)))
                .filter_map(|(c, ns)| hidx[ix(c)].map(|i| (i, ns)))
                .collect(),
            active: (0..k.cols.len())
                .filter(|&ci| {
                    hidx[ci].is_some()
                        || matches!(k.cols[ci].req, Req::UnlessSet(_) | Req::UnlessDeleted)
                })
                .collect(),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_row<const N: usize>(
    k: &Kind,
    kind_idx: usize,
    rec: &Record,
    hidx: &[Option<usize>],
    suppressed: &[bool],
    row_no: u64,
    file_idx: usize,
    sink: &mut Sink,
    bundle: &mut Bundle,
    st: &mut RowState,
    line_hash: u64,
    rec_idx: u32,
) {
    // Trimmed values of every spec column ("" when absent).
    // `N` is the smallest of 16, 32 and `MAX_COLS` that holds the kind's columns:
    // clearing a 64-slot array took a fifth of the row checks' time.
    let mut vals: [&str; N] = [""; N];
    for (slot, h) in vals.iter_mut().zip(hidx) {
        if let Some(i) = *h
            && i < rec.len()
        {
            *slot = as_str(strip(rec.field(i)));
        }
    }
    let v = |ci: usize| vals[ci];
    let by_name = |name: &str| k.col(name).map(&v).unwrap_or("");
    let get_owned = |name: &str| by_name(name).to_string();
    let line_of = |ci: usize| match hidx[ci] {
        Some(i) => rec.field_line(i),
        None => rec.line,
    };
    let mut skipped = false;
    let file = "";
    let row = Some(row_no);
    // A warning about column `ci` of this row, at the line where its field starts.
    let col_warning = |sink: &mut Sink, ci: usize, code, msg, hint| {
        let col = Some(k.cols[ci].name);
        sink.add(
            file,
            Some(line_of(ci)),
            row,
            col,
            Severity::Warning,
            code,
            msg,
            hint,
        );
    };
    let mut day_first = None;
    // Canvas parses a row's dates in one `begin … rescue`: the first bad one ends it,
    // with one "Bad date format" message for the row (§6.4).
    let mut bad_date = false;
    let is_bad_date = |ci: usize| match k.cols[ci].rule {
        Rule::Date { delete } => {
            let val = v(ci);
            !(val.is_empty() || delete && val == "<delete>")
                && values::read_date(val) == values::DateRead::Bad
        }
        _ => false,
    };
    for &ci in &st.active {
        let col = &k.cols[ci];
        let val = v(ci);
        if val.is_empty() {
            let required = match col.req {
                Req::Yes => true,
                Req::UnlessSet(_) => st.unless[ci].is_none_or(|o| v(o).is_empty()),
                Req::UnlessDeleted => !st.status.is_some_and(|s| {
                    v(s).get(..7)
                        .is_some_and(|p| p.eq_ignore_ascii_case("deleted"))
                }),
                Req::No | Req::Header => false,
            };
            if required && !suppressed[ci] && (hidx[ci].is_some() || !matches!(col.req, Req::Yes)) {
                let tpl = if col.missing.is_empty() {
                    "No {col} given for {kind} {id}"
                } else {
                    col.missing
                };
                let msg = render(tpl, "", col.name, k, &get_owned);
                col_warning(sink, ci, "missing_value", msg, None);
                skipped = true;
            }
            continue;
        }
        let ok = match col.rule {
            Rule::Text => true,
            Rule::Enum {
                values,
                mode,
                delete,
            } => (delete && val == "<delete>") || values::enum_ok(val, values, mode),
            Rule::Date { delete } => {
                (delete && val == "<delete>")
                    || match values::read_date(val) {
                        values::DateRead::Ok => true,
                        values::DateRead::DayFirst([y, m, d]) => {
                            day_first = Some(format!("{y:04}-{m:02}-{d:02}"));
                            true
                        }
                        values::DateRead::Bad => false,
                    }
            }
            Rule::Email => values::is_email(val),
            Rule::Int => values::is_int(val),
            Rule::Bool => values::is_plain_bool(val),
            Rule::Login { .. } => values::login_problem(val).is_none(),
        };
        if ok {
            if let Some(iso) = day_first.take() {
                // Canvas imports it, but maybe not as the SIS meant it.
                let msg = format!(
                    "{} \"{val}\" is read by Canvas as {iso} (day first, as Ruby's date parser reads A/B/YYYY)",
                    col.name
                );
                let hint = "if the month comes first, write the date as YYYY-MM-DD";
                col_warning(sink, ci, "day_first_date", msg, Some(hint.into()));
            }
            continue;
        }
        if matches!(col.rule, Rule::Date { .. }) {
            if bad_date {
                continue;
            }
            bad_date = true;
        }
        // A template other than the column's, and the value as the message shows it.
        let mut tpl_for_rule = None;
        let mut shown = std::borrow::Cow::Borrowed(val);
        let (code, hint) = match col.rule {
            Rule::Text => ("", None),
            Rule::Enum {
                values,
                mode,
                delete,
            } => (
                "invalid_value",
                Some(
                    match nearest(&val.to_ascii_lowercase(), values.iter().copied()) {
                        Some(c) => format!("did you mean \"{c}\"?"),
                        None => format!(
                            "expected {}{}{}",
                            values.join(", "),
                            if delete { ", <delete>" } else { "" },
                            if mode == kinds::Match::Prefix {
                                " (prefix match)"
                            } else {
                                ""
                            }
                        ),
                    },
                ),
            ),
            Rule::Date { .. } => (
                "bad_date",
                Some({
                    let mut h: String = match values::month_first_reading(val) {
                        Some(iso) => format!(
                            "Canvas reads A/B/YYYY day first, so \"{val}\" has no such month; if you meant {iso}, write that; Canvas imports the row with this date empty"
                        ),
                        None => {
                            "Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ"
                                .into()
                        }
                    };
                    // The row's later bad dates get no message of their own.
                    if let Some(&later) = st.active.iter().find(|&&c| c > ci && is_bad_date(c)) {
                        h.push_str(&format!(
                            "; {} \"{}\" is not a date either: Canvas stops at the first bad date of a row",
                            k.cols[later].name,
                            v(later)
                        ));
                    }
                    h
                }),
            ),
            Rule::Email => ("invalid_email", None),
            Rule::Int => ("invalid_integer", Some("expected an integer".into())),
            Rule::Bool => (
                "invalid_boolean",
                Some(format!(
                    "Canvas reads \"{val}\" as false; use true/false, yes/no or 1/0"
                )),
            ),
            Rule::Login { too_long } => (
                "invalid_login_id",
                match values::login_problem(val) {
                    Some(values::LoginProblem::TooLong(n)) => {
                        tpl_for_rule = Some(too_long);
                        Some(format!(
                            "the {} has {n} characters; Canvas allows at most {}",
                            col.name,
                            values::MAX_LOGIN_CHARS
                        ))
                    }
                    Some(values::LoginProblem::NotPrintable(at, c)) => {
                        shown = values::escape_unprintable(val).into();
                        Some(format!(
                            "character {at} of the {} is U+{:04X}, {}; Canvas accepts only printable characters",
                            col.name,
                            c as u32,
                            if c.is_control() {
                                "a control character"
                            } else {
                                "not a printable character"
                            }
                        ))
                    }
                    None => None,
                },
            ),
        };
        let tpl = if let Some(t) = tpl_for_rule {
            t
        } else if !col.invalid.is_empty() {
            col.invalid
        } else if matches!(col.rule, Rule::Bool) {
            "\"{value}\" is not a boolean for column {col}"
        } else {
            "Improper {col} \"{value}\" for {kind} {id}"
        };
        let msg = render(tpl, &shown, col.name, k, &get_owned);
        col_warning(sink, ci, code, msg, hint);
        if col.skips {
            skipped = true;
        }
    }
    for (o, (ixs, in_header)) in k.one_of.iter().zip(&st.one_of) {
        if *in_header && ixs.iter().all(|&i| v(i).is_empty()) {
            sink.add(
                file,
                Some(rec.line),
                row,
                Some(o.cols[0]),
                Severity::Warning,
                "missing_value",
                render(o.missing, "", o.cols[0], k, &get_owned),
                None,
            );
            skipped = true;
        }
    }
    for (p, &[a, b, c]) in k.pairs.iter().zip(&st.pairs) {
        let (hit, col, msg) = match *p {
            Pair::NotBoth(an, _, m) => (!v(a).is_empty() && !v(b).is_empty(), an, m),
            Pair::Differ(_, bn, m) => (!v(a).is_empty() && v(a) == v(b), bn, m),
            Pair::EmptyWhen(an, val, _, _, m) => (
                v(a).eq_ignore_ascii_case(val) && (!v(b).is_empty() || !v(c).is_empty()),
                an,
                m,
            ),
        };
        if hit {
            sink.add(
                file,
                Some(rec.line),
                row,
                Some(col),
                Severity::Warning,
                "invalid_combination",
                render(msg, "", col, k, &get_owned),
                None,
            );
            skipped = true;
        }
    }
    // A skipped row defines nothing.
    if skipped {
        return;
    }
    // ---- bundle registration -------------------------------------------
    let at = bundle::loc(file_idx, rec.line);
    let mut owner = 0;
    if let (Some((ns, idc)), Some(idi)) = (k.defines, st.id) {
        let id = v(idi);
        owner = hash_bytes(SEED, id.as_bytes());
        let is_override = st.extra.iter().any(|&c| !v(c).is_empty());
        if !is_override
            && let Some(prev) = bundle
                .define(ns, owner, at, line_hash)
                .filter(|p| p.owner != line_hash)
        {
            let ci = idi;
            sink.add(
                    file,
                    Some(line_of(ci)),
                    row,
                    Some(idc),
                    Severity::Warning,
                    "duplicate_id",
                    format!(
                        "duplicate {idc} \"{id}\": already at {}; Canvas applies both rows in order, so this one wins",
                        bundle.where_(prev.loc)
                    ),
                    None,
                );
        }
    }
    for &(ci, ns) in &st.unique {
        let c = k.cols[ci].name;
        let val = v(ci);
        if val.is_empty() {
            continue;
        }
        let key = if ns == Ns::Login {
            hash_lower(SEED, val)
        } else {
            hash_bytes(SEED, val.as_bytes())
        };
        // A login keeps its owner's id, which Canvas's message names.
        let prev = if ns == Ns::Login {
            let id = st.id.map_or("", &v);
            let prev = bundle.define_owned(ns, key, at, id);
            prev.filter(|p| !bundle.owned_by(p, id))
        } else {
            bundle
                .define(ns, key, at, owner)
                .filter(|p| p.owner != owner)
        };
        if let Some(prev) = prev {
            let uid = st.user_id.map_or("", &v);
            let (code, msg) = if ns == Ns::Login {
                (
                    "duplicate_login_id",
                    format!(
                        "login_id \"{val}\" is already used by another user at {}; Canvas skips this row: \"An existing Canvas user with the SIS ID {} has already claimed {uid}'s user_id requested login information, skipping\"",
                        bundle.where_(prev.loc),
                        bundle.owner_of(&prev).unwrap_or("…")
                    ),
                )
            } else {
                (
                    "duplicate_integration_id",
                    format!(
                        "{c} \"{val}\" is already used by another user at {}; Canvas skips this row: \"An existing Canvas user with the SIS ID … has already claimed {uid}'s requested integration_id, skipping\"",
                        bundle.where_(prev.loc)
                    ),
                )
            };
            sink.add(
                file,
                Some(line_of(ci)),
                row,
                Some(c),
                Severity::Warning,
                code,
                msg,
                None,
            );
        }
    }
    for (u, (ci, scope)) in k.unique_in.iter().zip(&st.unique_in) {
        let (val, id) = (v(*ci), st.id.map_or("", &v));
        if val.is_empty() {
            continue;
        }
        // The scope: which column (or the root), and its value.
        let (si, sval) = scope
            .iter()
            .enumerate()
            .find(|&(_, &c)| !v(c).is_empty())
            .map_or((0, ""), |(i, &c)| (i + 1, v(c)));
        let key = hash_bytes(
            hash_bytes(SEED ^ si as u64, sval.as_bytes()),
            val.as_bytes(),
        );
        if let Some(prev) = bundle.defs[u.ns as usize].get(key).copied() {
            if !bundle.owned_by(&prev, id) {
                let what = k.defines.map_or(k.name, |(ns, _)| ns.label());
                let other = bundle.owner_of(&prev).unwrap_or("…");
                let place = match si {
                    0 => u.root.to_string(),
                    i => format!("{} {sval}", u.scope[i - 1].1),
                };
                let hint = format!(
                    "{what} {other} at {} has this {} in {place}",
                    bundle.where_(prev.loc),
                    if u.col.ends_with("name") {
                        "name"
                    } else {
                        u.col
                    }
                );
                sink.add(
                    file,
                    Some(line_of(*ci)),
                    row,
                    Some(u.col),
                    Severity::Warning,
                    "duplicate_name",
                    render(u.message, val, u.col, k, &get_owned),
                    Some(hint),
                );
            }
        } else if !st.status.is_some_and(|s| {
            v(s).get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("deleted"))
        }) {
            // A deleted one does not hold its name.
            bundle.define_owned(u.ns, key, at, id);
        }
    }
    for &(ci, ns) in &st.refs {
        let val = v(ci);
        if !val.is_empty() {
            bundle.reference_deferred(
                ns,
                val,
                rec_idx,
                hidx[ci].expect("a value comes from a header column") as u32,
                bundle::loc(file_idx, line_of(ci)),
                row_no,
                kind_idx as u8,
                ci as u8,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_fit_the_row_checks() {
        for k in kinds::KINDS {
            assert!(k.cols.len() <= MAX_COLS, "{}", k.name);
        }
    }

    /// Enough rows for several batches, so the row checks run on the second thread.
    #[test]
    fn pipelined_rows_keep_their_order() {
        let mut csv = String::from("course_id,user_id,role,status,start_date\n");
        let rows = 5 * BATCH_ROWS + 17;
        for i in 0..rows {
            let date = if i % 7 == 0 {
                "2026-02-30"
            } else {
                "2026-02-03"
            };
            csv.push_str(&format!("C1,U{i},student,active,{date}\n"));
            if i % 100 == 0 {
                csv.push('\n');
            }
        }
        csv.push_str("C1,\"U-open,student\n");
        let mut b = Bundle::default();
        let lim = Limits {
            max_diagnostics: usize::MAX,
            line_hashes: 1 << 20,
        };
        let r = validate_csv("e.csv", csv.as_bytes(), &mut b, lim, default_io);
        let bad = rows.div_ceil(7);
        assert_eq!(r.rows as usize, rows);
        assert_eq!(r.diagnostics.len(), bad + 1);
        let mut last = 0;
        for d in &r.diagnostics[..bad] {
            assert_eq!(d.code, "bad_date");
            let line = d.line.unwrap();
            assert!(line > last);
            last = line;
        }
        // 2 + 7k plus a blank line after every 100 rows.
        let k = bad as u64 - 1;
        let i = 7 * k;
        assert_eq!(last, 2 + i + i / 100 + 1);
        let end = r.diagnostics.last().unwrap();
        assert_eq!(end.code, "unterminated_quote");
        b.flush();
        assert_eq!(b.refs[Ns::User as usize].iter().count(), rows);
    }
}
