//! What an import will change in Canvas, before it is sent (contract, `plan` and "Rules the
//! new commands follow"; reference §4 for batch mode and diffing).
//!
//! Per kind (and per term where batch mode scopes it): `create`, `update`, `delete`,
//! `unchanged`, `absent`. `delete` counts only what this import will delete, conclude or
//! drop: rows with a deleting status of objects that are live now, batch mode's removals
//! within its terms (`SisBatch#remove_previous_imports`), and diffing's removals with their
//! drop status. `absent` counts live objects of the baseline that the bundle lacks and that
//! Canvas leaves alone.
//!
//! `plan` streams the bundle ([`plan_stream`]): one thread reads and parses ([`Planner`]),
//! //! another hashes and judges each row against the baseline ([`Judge`]), and no row is kept:
//! memory is the baseline's, and the rows' work is shared by two cores (issue 13).

pub mod baseline;
pub mod held;
pub mod ims;
mod mapped;
pub mod read;
pub mod rows;

use std::collections::BTreeMap;

use serde_json::{Value, json};

use baseline::{Baseline, Scope};
use rows::{BundleRows, TermMap};

/// The scope of removals an import with these options makes. Batch mode names its term
/// with `--batch-mode-term-id` (`sis_term_id:X`); multi-term batch mode takes every term of
/// the bundle's terms file.
pub fn scope_of(opts: &crate::settings::ImportOptions, rows: &BundleRows) -> Scope {
    scope_for(opts, &rows.terms)
}

/// [`scope_of`] given the term ids of the bundle's terms file. A batch term named the way
/// only Canvas can resolve (its own id, `default`, `current`, `sis_integration_id:`) is kept
/// as `unknown_term`: the plan cannot tell offline which SIS term it is.
pub fn scope_for(opts: &crate::settings::ImportOptions, bundle_terms: &[String]) -> Scope {
    let mut batch_terms = Vec::new();
    let mut unknown_term = None;
    if opts.multi_term_batch_mode {
        batch_terms = bundle_terms.to_vec();
    } else if opts.batch_mode
        && let Some(t) = &opts.batch_mode_term_id
    {
        match sis_term(t) {
            Some(s) => batch_terms.push(s),
            None => unknown_term = Some(t.trim().to_string()),
        }
    }
    let diffing = opts.diffing_data_set_identifier.clone();
    Scope {
        remaster: diffing.is_some() && opts.diffing_remaster_data_set,
        batch_terms,
        diffing,
        skip_deletes: opts.skip_deletes,
        enrollment_drop: opts.batch_mode_enrollment_drop_status.clone(),
        diffing_drop: opts.diffing_drop_status.clone(),
        user_remove: opts.diffing_user_remove_status.clone(),
        unknown_term,
    }
}

/// The SIS term id a `batch_mode_term_id` names, when it names one by SIS id
/// (`sis_term_id:X`, or `hex:sis_term_id:…` as `Api.sis_parse_id` reads it).
pub fn sis_term(t: &str) -> Option<String> {
    let t = t.trim();
    if let Some(s) = t.strip_prefix("sis_term_id:") {
        return Some(s.to_string());
    }
    let hex = t.strip_prefix("hex:sis_term_id:")?;
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Whether `status` deletes, concludes or deactivates an object of `kind`. Canvas matches
/// most statuses by prefix, case-insensitively (§6.4: `deletedX` deletes); cross-listings,
/// admins and observers exactly; an existing account by any value containing the word.
/// `status` is lower-cased and trimmed already.
pub fn deletes(kind: &str, status: &str) -> bool {
    let words: &[&str] = match kind {
        // `deleted_last_completed` starts with `deleted`.
        "enrollment" => &["deleted", "completed", "inactive"],
        "course" => &["deleted", "completed"],
        "user" => &["deleted", "suspended"],
        "xlist" | "admin" | "user_observer" => return status == "deleted",
        "account" => return status.contains("deleted"),
        _ => &["deleted"],
    };
    words.iter().any(|w| status.starts_with(w))
}

/// Whether `skip_deletes` makes Canvas skip this row: the importers that honour it return
/// early on a status matching `/deleted/i` (term, course, section, user, enrollment, group,
/// group category and membership importers in lib/sis/).
pub fn skipped(kind: &str, status: &str, skip_deletes: bool) -> bool {
    skip_deletes
        && matches!(
            kind,
            "term"
                | "course"
                | "section"
                | "user"
                | "enrollment"
                | "group"
                | "group_category"
                | "group_membership"
        )
        && status.contains("deleted")
}

/// Whether an empty cell in column `col` clears the value Canvas holds (§6.4: the dates of
/// terms, sections and enrollments). Elsewhere an empty cell leaves the value alone (§6.1:
/// it reads as null, as a missing column does), so it is no change.
pub fn empty_clears(kind: &str, col: &str) -> bool {
    matches!(kind, "term" | "section" | "enrollment") && matches!(col, "start_date" | "end_date")
}

/// Whether a value changes what Canvas holds: `old` is the baseline's hash (0: never given
/// for this object), `new` the bundle's, `clears` as [`empty_clears`] says for its column.
#[inline]
pub fn differs(old: u32, new: u32, clears: bool) -> bool {
    if new == rows::empty_value() {
        clears && old != 0 && old != new
    } else {
        old != new
    }
}

/// The kinds whose objects belong to a term.
fn termed(kind: &str) -> bool {
    matches!(kind, "course" | "section" | "enrollment")
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub create: u64,
    pub update: u64,
    pub delete: u64,
    pub unchanged: u64,
    pub absent: u64,
}

impl Counts {
    fn to_json(self) -> Value {
        json!({"create": self.create, "update": self.update, "delete": self.delete,
               "unchanged": self.unchanged, "absent": self.absent})
    }
}

/// One row the terminal shows as an example.
#[derive(Clone, Debug)]
pub struct Example {
    pub effect: &'static str,
    pub key: String,
    pub at: Option<(String, u64)>,
}

#[derive(Clone, Debug, Default)]
pub struct KindPlan {
    pub counts: Counts,
    pub terms: BTreeMap<String, Counts>,
    /// Live objects of the baseline, in all and per term (the guard's denominators).
    pub baseline_live: u64,
    pub baseline_live_terms: BTreeMap<String, u64>,
    pub examples: Vec<Example>,
}

/// The plan of one bundle against one baseline.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub kinds: BTreeMap<String, KindPlan>,
    /// The terms batch mode scopes deletions to (judged one by one by the guard).
    pub batch_terms: Vec<String>,
    /// Batch mode's term as given, when the plan could not tell which SIS term it is and the
    /// bundle supplies a kind batch mode cleans: its deletions are not counted.
    pub unknown_term: Option<String>,
}

const EXAMPLES_PER_EFFECT: usize = 3;

fn bump(c: &mut Counts, effect: &str, n: u64) {
    match effect {
        "create" => c.create += n,
        "update" => c.update += n,
        "delete" => c.delete += n,
        "unchanged" => c.unchanged += n,
        _ => c.absent += n,
    }
}

impl KindPlan {
    /// Count one row or object; its example (key in words, where it stood) is made only if
    /// it is one of the few kept, so that counting allocates nothing.
    fn count(
        &mut self,
        effect: &'static str,
        term: Option<&str>,
        key: &dyn Fn() -> String,
        at: &dyn Fn() -> Option<(String, u64)>,
    ) {
        self.add(effect, term, 1);
        self.example(effect, key, at);
    }

    /// Count `n` rows or objects of one effect and term.
    fn add(&mut self, effect: &'static str, term: Option<&str>, n: u64) {
        bump(&mut self.counts, effect, n);
        if let Some(t) = term {
            match self.terms.get_mut(t) {
                Some(c) => bump(c, effect, n),
                None => bump(self.terms.entry(t.to_string()).or_default(), effect, n),
            }
        }
    }

    /// Keep the row or object as an example of its effect, if it is one of the first few.
    fn example(
        &mut self,
        effect: &'static str,
        key: &dyn Fn() -> String,
        at: &dyn Fn() -> Option<(String, u64)>,
    ) {
        if effect != "unchanged"
            && self.examples.iter().filter(|e| e.effect == effect).count() < EXAMPLES_PER_EFFECT
        {
            self.examples.push(Example {
                effect,
                key: key(),
                at: at(),
            });
        }
    }
}

/// Compare the bundle's rows with the baseline under the import's scope.
pub fn compute(bundle: &BundleRows, base: &Baseline, scope: &Scope) -> Plan {
    let mut j = Judge::new(base);
    j.terms.add(bundle);
    let kinds: std::collections::BTreeSet<&str> = bundle.kinds.keys().copied().collect();
    for kind in kinds {
        let rows = &bundle.kinds[kind];
        j.set_kind(Some(kind));
        let state = base.kinds.get(kind);
        for r in rows {
            // A column the bundle lacks is not a change (contract, "Baseline"); one the
            // baseline never had is, where the bundle gives a value (Canvas then sets it).
            let changed = |e: &baseline::Entry| {
                let Some(state) = state else { return false };
                r.values
                    .iter()
                    .any(|(c, v)| match state.cols.iter().position(|x| x == c) {
                        Some(i) => e
                            .values
                            .get(i)
                            .is_some_and(|old| differs(*old, *v, empty_clears(kind, c))),
                        None => !base.from_report && *v != rows::empty_value(),
                    })
            };
            let term = j.terms.term_of(kind, r);
            j.judge(
                state.and_then(|s| s.rows.find(r.key)),
                term.as_deref(),
                deletes(kind, &r.status),
                skipped(kind, &r.status, scope.skip_deletes),
                &changed,
                &|| r.key_text.clone(),
                &|| Some((r.file.clone(), r.line)),
            );
        }
    }
    j.finish(scope)
}

/// Plan the bundle at `path` against `base` as it streams by, reading on this thread and
/// judging on another, a few batches of rows between them.
/// Returns the plan's judge (see [`Judge::finish`]) and the term ids of the bundle's terms
/// file.
pub fn plan_stream<'b>(
    path: &std::path::Path,
    base: &'b Baseline,
    skip_deletes: bool,
) -> crate::exit::Result<(Judge<'b>, Vec<String>)> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(4);
        let judging = std::thread::Builder::new()
            .name("plan-judge".into())
            .spawn_scoped(s, move || {
                let mut j = Judge::new(base);
                for mut b in rx {
                    j.flush(&mut b);
                }
                j
            })
            .map_err(|e| crate::exit::Failure::data(format!("cannot start a thread: {e}")))?;
        let mut p = Planner {
            base,
            skip_deletes,
            out: Out::Send(tx),
            batch: Batch::default(),
            bundle_terms: Vec::new(),
        };
        let read = read::visit(path, &mut p);
        p.flush();
        let terms = std::mem::take(&mut p.bundle_terms);
        drop(p);
        let j = judging
            .join()
            .map_err(|_| crate::exit::Failure::data("planning the bundle stopped unexpectedly"))?;
        read.map(|()| (j, terms))
    })
}

/// Reads a bundle's rows as they stream by ([`rows::Sink`]) into batches for a [`Judge`]:
/// per row its key, status, value hashes and ids, and nothing kept once judged. A plan so
/// holds the baseline and the counts, and no row of the bundle (issue 13: memory bounded by
/// the baseline's hashes, not by the bundle's text). The reader gives the files in Canvas's
/// kind order, so that courses and sections are known before the enrollments that find their
/// term by them.
pub struct Planner<'b> {
    base: &'b Baseline,
    /// `--skip-deletes`: rows it makes Canvas skip are judged as never sent.
    skip_deletes: bool,
    out: Out<'b>,
    batch: Batch,
    /// The term ids of the bundle's terms file, in order (multi-term batch mode's scope).
    pub bundle_terms: Vec<String>,
}

/// Where a full batch goes: judged here, or sent to the judging thread.
enum Out<'b> {
    Here(Box<Judge<'b>>),
    Send(std::sync::mpsc::SyncSender<Batch>),
}

/// Rows read and not yet judged, all of one file: judged [`BATCH`] at a time, so that their
/// lookups in the baseline go a step at a time for all of them (see [`Judge::flush`]).
#[derive(Default)]
pub struct Batch {
    kind: &'static str,
    file: std::sync::Arc<FileCols>,
    keys: Vec<u64>,
    /// The status deletes.
    del: Vec<bool>,
    /// `--skip-deletes` makes Canvas skip the row.
    skip: Vec<bool>,
    /// The row gives a value in a column the baseline never had for its kind.
    fresh: Vec<bool>,
    /// The hashes of the values of the columns the baseline has (0 for the others), a row
    /// the file's width of them: hashed by the reader from the record, never copied.
    values: Vec<u32>,
    /// An enrollment's section and course ids hashed, by which its term is remembered.
    term_keys: Vec<u64>,
    lines: Vec<u64>,
    /// The keys in words, one after another.
    text: String,
    text_ends: Vec<usize>,
    /// A course's, section's or enrollment's term, course and section ids, one after another
    /// (the ends of each), for its term.
    ids: String,
    id_ends: Vec<[usize; 3]>,
}

const BATCH: usize = 512;

/// A file's columns as the judge compares them.
#[derive(Default)]
struct FileCols {
    name: String,
    /// Column → the baseline's column of its kind.
    cols: Vec<Option<usize>>,
    /// Column: an empty cell clears the value ([`empty_clears`]).
    clears: Vec<bool>,
    /// Compared columns the baseline never had: a value there is a change.
    fresh: Vec<usize>,
}

impl Batch {
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// An empty batch of the same file.
    fn next(&self) -> Batch {
        Batch {
            kind: self.kind,
            file: self.file.clone(),
            ..Default::default()
        }
    }

    fn text(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.text_ends[i - 1] };
        &self.text[start..self.text_ends[i]]
    }

    /// Row `i`'s term, course and section ids.
    fn ids(&self, i: usize) -> [Option<&str>; 3] {
        let mut start = if i == 0 { 0 } else { self.id_ends[i - 1][2] };
        self.id_ends[i].map(|end| {
            let s = &self.ids[start..end];
            start = end;
            nonempty(s)
        })
    }
}

/// The hash an enrollment's term is remembered by: its section and course ids.
fn term_key(section: Option<&str>, course: Option<&str>) -> u64 {
    rows::row_hash(&[section.unwrap_or(""), course.unwrap_or("")])
}

fn nonempty(x: &str) -> Option<&str> {
    Some(x).filter(|x| !x.is_empty())
}

impl<'b> Planner<'b> {
    /// A planner that judges on this thread (see [`plan_stream`] for two).
    pub fn new(base: &'b Baseline, skip_deletes: bool) -> Planner<'b> {
        Planner {
            base,
            skip_deletes,
            out: Out::Here(Box::new(Judge::new(base))),
            batch: Batch::default(),
            bundle_terms: Vec::new(),
        }
    }

    /// The plan (judged here).
    pub fn finish(mut self, scope: &Scope) -> Plan {
        self.flush();
        match self.out {
            Out::Here(j) => j.finish(scope),
            Out::Send(_) => Plan::default(),
        }
    }

    /// Hand the batch on (also an empty one: it starts its file's kind).
    fn flush(&mut self) {
        let next = self.batch.next();
        let mut b = std::mem::replace(&mut self.batch, next);
        match &mut self.out {
            Out::Here(j) => j.flush(&mut b),
            // A closed channel: the judge stopped, and its join says why.
            Out::Send(tx) => {
                let _ = tx.send(b);
            }
        }
    }
}

impl rows::Sink for Planner<'_> {
    fn file(&mut self, f: &rows::FileInfo) {
        if self.batch.len() > 0 {
            self.flush();
        }
        let state = self.base.kinds.get(f.kind);
        let cols: Vec<Option<usize>> = f
            .headers
            .iter()
            .map(|h| {
                let state = state.filter(|_| !rows::ignored_column(h))?;
                state.cols.iter().position(|c| c == h)
            })
            .collect();
        // A report's baseline leaves out columns it cannot compare: those are unknown, not new.
        let fresh = (0..f.headers.len())
            .filter(|&i| {
                state.is_some()
                    && !self.base.from_report
                    && cols[i].is_none()
                    && !rows::ignored_column(&f.headers[i])
            })
            .collect();
        let clears = f.headers.iter().map(|h| empty_clears(f.kind, h)).collect();
        self.batch.kind = f.kind;
        self.batch.file = std::sync::Arc::new(FileCols {
            name: f.name.clone(),
            cols,
            clears,
            fresh,
        });
        self.flush();
    }

    fn row(&mut self, f: &rows::FileInfo, r: &rows::RowView) {
        if f.kind == "term"
            && let Some(t) = r.term
        {
            self.bundle_terms.push(t.to_string());
        }
        let b = &mut self.batch;
        if matches!(f.kind, "course" | "section" | "enrollment") {
            let mut ends = [0; 3];
            for (end, id) in ends.iter_mut().zip([r.term, r.course_id, r.section_id]) {
                b.ids.push_str(id.unwrap_or(""));
                *end = b.ids.len();
            }
            b.id_ends.push(ends);
            if f.kind == "enrollment" {
                b.term_keys.push(term_key(r.section_id, r.course_id));
            }
        }
        b.keys.push(r.key);
        b.del.push(deletes(f.kind, r.status));
        b.skip.push(skipped(f.kind, r.status, self.skip_deletes));
        b.fresh
            .push(b.file.fresh.iter().any(|&i| !r.field(i).is_empty()));
        // A column the bundle lacks is not a change (contract, "Baseline"); a value is
        // hashed only where the baseline has one to compare with.
        b.values
            .extend(b.file.cols.iter().enumerate().map(|(i, c)| match c {
                Some(_) => rows::value_hash(r.field(i)),
                None => 0,
            }));
        b.lines.push(r.line);
        for (i, p) in r.key_parts.iter().enumerate() {
            if i > 0 {
                b.text.push('/');
            }
            b.text.push_str(p);
        }
        b.text_ends.push(b.text.len());
        if b.len() >= BATCH {
            self.flush();
        }
    }
}

/// Judges rows against the baseline, a batch at a time, and counts: per row one lookup in
/// the baseline and a mark on the entry it found; the entries never marked are what the
/// bundle lacks ([`Judge::finish`]).
pub struct Judge<'b> {
    base: &'b Baseline,
    terms: TermMap,
    work: BTreeMap<String, Work>,
    /// The kind being judged, its work (out of `work` meanwhile) and its baseline: looked up
    /// once a batch, not once a row.
    current: Option<(String, Work, Option<&'b baseline::KindState>)>,
    /// An enrollment's term (an index in `term_names`) by the hash of its section and course
    /// ids, once looked up: a bundle has thousands of sections and millions of enrollments.
    /// Emptied when a course or section row comes, as those change the answer.
    term_cache: crate::validate::IdMap<Option<u32>>,
    term_names: Vec<String>,
    /// Per row of a batch: its entry in the baseline, its term.
    found: Vec<Option<usize>>,
    ranges: Vec<(usize, usize)>,
    row_terms: Vec<Option<u32>>,
}

/// A set of baseline entries, as bits.
#[derive(Default)]
struct Marks(Vec<u64>);

impl Marks {
    /// Mark entry `i` of `len`.
    #[inline]
    fn set(&mut self, i: usize, len: usize) {
        if self.0.len() <= i / 64 {
            self.0.resize(len.max(i + 1).div_ceil(64), 0);
        }
        self.0[i / 64] |= 1 << (i % 64);
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    #[inline]
    fn prefetch(&self, i: usize) {
        crate::validate::prefetch(self.0.as_ptr().wrapping_add(i / 64));
    }
}

#[derive(Default)]
struct Work {
    plan: KindPlan,
    /// Per baseline entry of the kind: a row of the bundle had its key.
    /// A bit a baseline entry: an eighth of the memory of a `bool` each, so that the marks
    /// of 12 million enrollments stay in the cache (1.5 MB) while the baseline's records do
    /// not.
    seen: Marks,
}

impl<'b> Judge<'b> {
    pub fn new(base: &'b Baseline) -> Judge<'b> {
        Judge {
            base,
            terms: base.term_map(),
            work: BTreeMap::new(),
            current: None,
            term_cache: Default::default(),
            term_names: Vec::new(),
            found: Vec::new(),
            ranges: Vec::new(),
            row_terms: Vec::new(),
        }
    }

    /// The kinds of the bundle's files.
    pub fn kinds(&mut self) -> impl Iterator<Item = &str> {
        self.set_kind(None);
        self.work.keys().map(String::as_str)
    }

    /// Make `kind` the current kind (None: none), its work back in `work` when it changes.
    fn set_kind(&mut self, kind: Option<&str>) {
        if self.current.as_ref().map(|c| c.0.as_str()) == kind {
            return;
        }
        if let Some((k, w, _)) = self.current.take() {
            self.work.insert(k, w);
        }
        if let Some(k) = kind {
            let w = self.work.remove(k).unwrap_or_default();
            self.current = Some((k.to_string(), w, self.base.kinds.get(k)));
        }
    }

    /// Count one row of the current kind: `found` is the index of its key's entry in the
    /// baseline, `del` whether its status deletes, `skip` whether `--skip-deletes` makes
    /// Canvas skip it.
    #[allow(clippy::too_many_arguments)]
    fn judge(
        &mut self,
        found: Option<usize>,
        term: Option<&str>,
        del: bool,
        skip: bool,
        changed: &dyn Fn(&baseline::Entry) -> bool,
        key_text: &dyn Fn() -> String,
        at: &dyn Fn() -> Option<(String, u64)>,
    ) {
        let Some((_, work, state)) = &mut self.current else {
            return;
        };
        let found = state.and_then(|s| found.map(|i| (i, s, s.rows.entry(i))));
        if skip {
            // Canvas never reads the row: its object is as if the bundle lacked it (batch
            // mode then removes it in its term), and a new one is not made.
            if found.is_none() {
                work.plan.count("unchanged", term, key_text, at);
            }
            return;
        }
        if let Some((i, s, _)) = found {
            work.seen.set(i, s.rows.len());
        }
        let effect = match found.map(|(_, _, e)| e) {
            None if del => "unchanged",
            None => "create",
            Some(e) if del => {
                if e.live {
                    "delete"
                } else {
                    "unchanged"
                }
            }
            Some(e) if !e.live => "create",
            Some(e) => {
                if changed(&e) {
                    "update"
                } else {
                    "unchanged"
                }
            }
        };
        work.plan.count(effect, term, key_text, at);
    }

    /// Judge the rows of a batch. The lookups go in steps, each step for all rows: the
    /// enrollments' terms, then the bucket, the key in it, the entry; each step's loads are
    /// independent of one another, so their cache misses overlap, where one row at a time
    /// waited for each in turn (a third of a plan's time at 2 million enrollments).
    fn flush(&mut self, b: &mut Batch) {
        if b.kind.is_empty() {
            // Before the first file, or a bundle without one.
            return;
        }
        self.set_kind(Some(b.kind));
        let n = b.len();
        if n == 0 {
            return;
        }
        self.row_terms.clear();
        match b.kind {
            // Courses and sections are few: their term is looked up, and what they say of
            // terms learnt.
            "course" | "section" => {
                for i in 0..n {
                    let [t, c, s] = b.ids(i);
                    self.terms.add_row(b.kind, c, s, t);
                    self.term_cache = Default::default();
                    let t = self.terms.term_of_ref(b.kind, t, c, s).map(str::to_string);
                    let t = t.map(|t| self.term_index(&t) as u32);
                    self.row_terms.push(t);
                }
            }
            "enrollment" => {
                for h in &b.term_keys {
                    self.term_cache.prefetch(*h);
                }
                for (i, h) in b.term_keys.iter().enumerate() {
                    let t = match self.term_cache.get(*h) {
                        Some(t) => *t,
                        None => {
                            let [_, c, s] = b.ids(i);
                            self.enrollment_term(*h, c, s)
                        }
                    };
                    self.row_terms.push(t);
                }
            }
            _ => self.row_terms.resize(n, None),
        }
        let state = self.current.as_ref().and_then(|c| c.2);
        self.found.clear();
        match (state, &self.current) {
            (Some(s), Some((_, work, _))) => {
                self.ranges.clear();
                self.ranges.extend(b.keys.iter().map(|k| s.rows.bucket(*k)));
                for r in &self.ranges {
                    s.rows.prefetch_keys(*r);
                }
                self.found.extend(
                    b.keys
                        .iter()
                        .zip(&self.ranges)
                        .map(|(k, r)| s.rows.find_in(*k, *r)),
                );
                // The entries found, and their marks, are read and written next.
                for &i in self.found.iter().flatten() {
                    s.rows.prefetch_entry(i);
                    work.seen.prefetch(i);
                }
            }
            _ => self.found.resize(n, None),
        }
        let w = b.values.len() / n;
        let file = b.file.clone();
        let (cols, clears) = (&file.cols, &file.clears);
        let found = std::mem::take(&mut self.found);
        let row_terms = std::mem::take(&mut self.row_terms);
        let term_names = std::mem::take(&mut self.term_names);
        for i in 0..n {
            let values = &b.values[i * w..(i + 1) * w];
            let changed = |e: &baseline::Entry| {
                b.fresh[i]
                    || cols
                        .iter()
                        .zip(values)
                        .zip(clears)
                        .any(|((c, v), cl)| c.is_some_and(|c| differs(e.values[c], *v, *cl)))
            };
            self.judge(
                found[i],
                row_terms[i].map(|t| term_names[t as usize].as_str()),
                b.del[i],
                b.skip[i],
                &changed,
                &|| b.text(i).to_string(),
                &|| Some((file.name.clone(), b.lines[i])),
            );
        }
        self.found = found;
        self.row_terms = row_terms;
        self.term_names = term_names;
    }

    fn term_index(&mut self, t: &str) -> usize {
        match self.term_names.iter().position(|n| n == t) {
            Some(i) => i,
            None => {
                self.term_names.push(t.to_string());
                self.term_names.len() - 1
            }
        }
    }

    /// An enrollment's term, as an index in `term_names`, remembered by `h`.
    fn enrollment_term(
        &mut self,
        h: u64,
        course: Option<&str>,
        section: Option<&str>,
    ) -> Option<u32> {
        let i = self
            .terms
            .term_of_ref("enrollment", None, course, section)
            .map(str::to_string)
            .map(|t| self.term_index(&t) as u32);
        *self.term_cache.get_or_insert_with(h, || i).0 = i;
        i
    }

    /// The plan: the rows' counts, and the baseline's objects the bundle lacked, removed or
    /// left absent as the scope says.
    pub fn finish(mut self, scope: &Scope) -> Plan {
        self.set_kind(None);
        let mut plan = Plan {
            batch_terms: scope.batch_terms.clone(),
            unknown_term: scope
                .unknown_term
                .clone()
                .filter(|_| self.work.keys().any(|k| termed(k))),
            ..Plan::default()
        };
        let empty = baseline::KindState::default();
        let kinds: std::collections::BTreeSet<String> = self
            .work
            .keys()
            .cloned()
            .chain(self.base.kinds.keys().cloned())
            .collect();
        for kind in kinds {
            let bundle_has_kind = self.work.contains_key(&kind);
            let Work { plan: mut kp, seen } = self.work.remove(&kind).unwrap_or_default();
            let state = self.base.kinds.get(&kind).unwrap_or(&empty);
            let kind = kind.as_str();
            let rows = &state.rows;
            // Batch mode cleans only the kinds the bundle supplies (§4, `supplied_batches`
            // in `SisBatch#remove_previous_imports`); diffing only those it can pair up.
            let removing = bundle_has_kind;
            let drops = deletes(kind, &scope.drop_status(kind));
            // Counted by term index, one pass, and named once a term: 12 million
            // enrollments are a handful of terms.
            let term = |t: usize| rows.term_word(t).filter(|_| termed(kind));
            let removed: Vec<bool> = (0..rows.term_indexes())
                .map(|t| removing && scope.removes(kind, rows.term_word(t)) && drops)
                .collect();
            // Per term index: live, and the live ones the bundle lacked.
            let mut live = vec![0u64; rows.term_indexes()];
            let mut lacked = vec![0u64; rows.term_indexes()];
            for i in 0..rows.len() {
                let (t, is_live) = rows.term_and_live(i);
                if !is_live {
                    continue;
                }
                live[t] += 1;
                if !seen.get(i) {
                    lacked[t] += 1;
                    let effect = if removed[t] { "delete" } else { "absent" };
                    kp.example(effect, &|| rows.key_text(i), &|| None);
                }
            }
            for (t, (&l, &n)) in live.iter().zip(&lacked).enumerate() {
                kp.baseline_live += l;
                if let Some(name) = term(t).filter(|_| l > 0) {
                    *kp.baseline_live_terms.entry(name.to_string()).or_default() += l;
                }
                if n > 0 {
                    let effect = if removed[t] { "delete" } else { "absent" };
                    kp.add(effect, term(t), n);
                }
            }
            plan.kinds.insert(kind.to_string(), kp);
        }
        plan
    }
}

/// A percent as people write it: `34`, `10.5`, `33.33`, never `10` for 10.04 (which would
/// read "10 % > 10 %").
fn percent(p: f64) -> String {
    let s = format!("{p:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The guard's limits (`[guard]`).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_delete_percent: f64,
    pub max_update_percent: f64,
    pub max_delete_rows: Option<u64>,
}

impl crate::settings::GuardSettings {
    /// The limits `[guard]` sets.
    pub fn limits(&self) -> Limits {
        Limits {
            max_delete_percent: self.max_delete_percent,
            max_update_percent: self.max_update_percent,
            max_delete_rows: self.max_delete_rows,
        }
    }
}

impl Plan {
    /// The reasons to hold the run (contract, "Guard arithmetic"): per kind, and per batch
    /// term for courses, sections and enrollments where batch mode scopes deletions, a
    /// percent of the baseline's rows strictly greater than its limit, or more deletes than
    /// `max_delete_rows`; a scope whose baseline is 0 is judged by `max_delete_rows` alone.
    /// Every limit crossed is said. A batch term the plan could not resolve holds the run:
    /// its deletions were not counted.
    pub fn guard(&self, limits: &Limits) -> Vec<String> {
        let judge = |kind: &str, term: Option<&str>, c: &Counts, base: u64| {
            let mut reasons = Vec::new();
            let scope = term.map(|t| format!(" in term {t}")).unwrap_or_default();
            if let Some(max) = limits.max_delete_rows
                && c.delete > max
            {
                reasons.push(format!("{kind} delete {} rows > {max}{scope}", c.delete));
            }
            if base == 0 {
                return reasons;
            }
            let pct = |n: u64| n as f64 * 100.0 / base as f64;
            if pct(c.delete) > limits.max_delete_percent {
                reasons.push(format!(
                    "{kind} delete {} % > {} %{scope}",
                    percent(pct(c.delete)),
                    limits.max_delete_percent
                ));
            }
            if pct(c.update) > limits.max_update_percent {
                reasons.push(format!(
                    "{kind} update {} % > {} %{scope}",
                    percent(pct(c.update)),
                    limits.max_update_percent
                ));
            }
            reasons
        };
        let mut reasons = Vec::new();
        for (kind, kp) in &self.kinds {
            reasons.extend(judge(kind, None, &kp.counts, kp.baseline_live));
            if !termed(kind) {
                continue;
            }
            for t in &self.batch_terms {
                if let Some(c) = kp.terms.get(t) {
                    let base = kp.baseline_live_terms.get(t).copied().unwrap_or(0);
                    reasons.extend(judge(kind, Some(t), c, base));
                }
            }
        }
        if let Some(t) = &self.unknown_term {
            reasons.push(format!(
                "batch-mode term {t:?} is not an SIS term id, and this plan could not ask Canvas which term it is: the courses, sections and enrollments batch mode would delete in it were not counted"
            ));
        }
        reasons
    }

    /// One line for the log: `user 1 create, 2 update, 0 delete; enrollment …`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .kinds
            .iter()
            .map(|(k, kp)| {
                let c = &kp.counts;
                format!(
                    "{k} {} create, {} update, {} delete",
                    c.create, c.update, c.delete
                )
            })
            .collect();
        if parts.is_empty() {
            "no rows".into()
        } else {
            parts.join("; ")
        }
    }

    /// The contract's `plan --json` document.
    pub fn to_json(&self, against: &str, baseline: Value, reasons: &[String]) -> Value {
        let kinds: serde_json::Map<String, Value> = self
            .kinds
            .iter()
            .map(|(k, kp)| {
                let mut o = kp.counts.to_json();
                let terms: serde_json::Map<String, Value> = kp
                    .terms
                    .iter()
                    .map(|(t, c)| (t.clone(), c.to_json()))
                    .collect();
                o["terms"] = Value::Object(terms);
                (k.clone(), o)
            })
            .collect();
        json!({
            "against": against,
            "baseline": baseline,
            "kinds": kinds,
            "guard": {"tripped": !reasons.is_empty(), "reasons": reasons},
        })
    }
}

/// A bundle judged against the baseline of a Canvas URL, account and data set: what `plan`
/// prints and what the guard in `submit` decides by.
pub struct Assessment {
    /// The kinds of the bundle's files.
    pub kinds: Vec<String>,
    pub scope: Scope,
    /// `last` or `canvas`.
    pub against: &'static str,
    /// None: no baseline yet (nothing to compare with; the guard lets the run pass).
    pub baseline: Option<Baseline>,
    /// What the baseline is, for `plan --json`'s `baseline`.
    pub about: Value,
    pub plan: Plan,
    /// Why the guard would hold the run; empty when it would not.
    pub reasons: Vec<String>,
}

/// This host's baseline for a Canvas URL, account and data set (`--against last`), read on a
/// thread of its own while the bundle is validated (`plan`, a guarded `submit`): reading it
/// checks the file without touching the pages it maps (`baseline::load_baseline`), so the two
/// overlap in time and not in memory.
pub struct Preload {
    /// The URL, account and data set.
    of: (String, String, Option<String>),
    /// Being read, when started early (else read when asked for).
    reading: Option<std::thread::JoinHandle<crate::exit::Result<Option<Baseline>>>>,
}

impl Preload {
    /// Start reading it now.
    pub fn start(opts: &crate::settings::ImportOptions, base_url: &str, account: &str) -> Preload {
        let mut p = Preload::later(opts, base_url, account);
        let (base, account, data_set) = p.of.clone();
        // Without a thread, it is read when asked for.
        p.reading = std::thread::Builder::new()
            .name("plan-baseline".into())
            .spawn(move || read_baseline(&base, &account, data_set.as_deref()))
            .ok();
        p
    }

    /// Read it when it is asked for (nothing is touched before: `plan --against canvas`
    /// never reads this host's state).
    pub fn later(opts: &crate::settings::ImportOptions, base_url: &str, account: &str) -> Preload {
        Preload {
            of: (
                base_url.to_string(),
                account.to_string(),
                opts.diffing_data_set_identifier.clone(),
            ),
            reading: None,
        }
    }

    fn take(self) -> crate::exit::Result<Option<Baseline>> {
        match self.reading {
            Some(r) => r.join().unwrap_or_else(|_| {
                Err(crate::exit::Failure::data(
                    "reading the baseline stopped unexpectedly",
                ))
            }),
            None => {
                let (base, account, data_set) = &self.of;
                read_baseline(base, account, data_set.as_deref())
            }
        }
    }
}

/// This host's baseline of a URL, account and data set, if it has one.
fn read_baseline(
    base_url: &str,
    account: &str,
    data_set: Option<&str>,
) -> crate::exit::Result<Option<Baseline>> {
    match crate::paths::existing_state_dir()? {
        Some(d) => baseline::load_baseline(
            &baseline::baseline_path(&d, base_url, account, data_set),
            false,
        ),
        None => Ok(None),
    }
}

impl Assessment {
    /// Judge the bundle against the baseline this host keeps (`--against last`). No network.
    pub fn new(
        bundle: &std::path::Path,
        opts: &crate::settings::ImportOptions,
        baseline: Preload,
        limits: &Limits,
    ) -> crate::exit::Result<Assessment> {
        let baseline = baseline.take()?;
        let about = baseline.as_ref().map_or(Value::Null, |b| {
            json!({
                "base_url": b.meta.base_url,
                "account": b.meta.account,
                "data_set": b.meta.data_set,
                "imports": b.meta.imports,
                "updated_at": b.meta.updated_at,
            })
        });
        let (kinds, scope, plan) = match &baseline {
            Some(b) => {
                let (mut judge, bundle_terms) = plan_stream(bundle, b, opts.skip_deletes)?;
                let kinds = judge.kinds().map(str::to_string).collect();
                let scope = scope_for(opts, &bundle_terms);
                let plan = judge.finish(&scope);
                (kinds, scope, plan)
            }
            None => {
                let mut o = rows::Outline::default();
                read::visit(bundle, &mut o)?;
                let kinds = o.kinds.iter().map(|k| k.to_string()).collect();
                (kinds, scope_for(opts, &o.terms), Plan::default())
            }
        };
        let reasons = match &baseline {
            Some(_) => plan.guard(limits),
            None => vec![],
        };
        Ok(Assessment {
            kinds,
            scope,
            against: "last",
            baseline,
            about,
            plan,
            reasons,
        })
    }

    /// Judge the bundle against Canvas's provisioning report when `canvas` gives a client,
    /// else against this host's baseline (read on a blocking thread: a big bundle takes a
    /// while, and a signal must still end the run). What `plan` and a guarded `submit` both do.
    pub async fn of(
        canvas: Option<&crate::canvas::Client>,
        bundle: &std::path::Path,
        opts: &crate::settings::ImportOptions,
        baseline: Preload,
        poll: &crate::settings::PollSettings,
        limits: &Limits,
    ) -> crate::exit::Result<Assessment> {
        if let Some(client) = canvas {
            return Assessment::against_canvas(bundle, opts, client, poll, limits).await;
        }
        let (path, opts, limits) = (bundle.to_path_buf(), opts.clone(), limits.clone());
        tokio::task::spawn_blocking(move || Assessment::new(&path, &opts, baseline, &limits))
            .await
            .unwrap_or_else(|e| {
                Err(crate::exit::Failure::data(format!(
                    "the plan stopped without a result: {e}"
                )))
            })
    }

    /// Judge the bundle against what Canvas holds now: its provisioning report (§10.3) of
    /// the SIS-created objects of the kinds the import touches, scoped to the batch term when
    /// there is one. Checks even a first run, which has no baseline here.
    pub async fn against_canvas(
        bundle: &std::path::Path,
        opts: &crate::settings::ImportOptions,
        client: &crate::canvas::Client,
        poll: &crate::settings::PollSettings,
        limits: &Limits,
    ) -> crate::exit::Result<Assessment> {
        let path = bundle.to_path_buf();
        let rows = tokio::task::spawn_blocking(move || read::read_bundle(&path))
            .await
            .map_err(|e| {
                crate::exit::Failure::data(format!("reading the bundle stopped: {e}"))
            })??;
        let mut scope = scope_of(opts, &rows);
        let mut kinds: std::collections::BTreeSet<&str> = rows.kinds.keys().copied().collect();
        // Batch mode removes courses, sections and enrollments the bundle lacks, and an
        // enrollment's term is known through its course and section.
        if !scope.batch_terms.is_empty() || kinds.contains("enrollment") {
            kinds.extend(["course", "section", "enrollment"]);
        }
        // The batch term is looked for in the terms report: by Canvas's id when named so,
        // and by its SIS id to see that Canvas has it.
        let one_term = opts.batch_mode && !opts.multi_term_batch_mode;
        if one_term {
            kinds.insert("term");
        }
        let asked: Vec<&str> = kinds
            .iter()
            .filter_map(|k| crate::canvas::reports::report_kind(k))
            .collect();
        // Every term: the bundle's rows of other terms are compared too (a report of the
        // batch term alone made them all look new).
        let interval = poll.interval.min(std::time::Duration::from_secs(5));
        let report = client
            .provisioning_report(&asked, None, interval, poll.max_polls)
            .await?;
        let file = report.file.path().to_path_buf();
        let term_ref = scope.unknown_term.clone();
        let (read, resolved) = tokio::task::spawn_blocking(move || {
            let resolved = match &term_ref {
                Some(t) => report_term(&file, t)?,
                None => None,
            };
            read::read_bundle(&file).map(|r| (r, resolved))
        })
        .await
        .map_err(|e| crate::exit::Failure::data(format!("reading the report stopped: {e}")))??;
        if let Some(sis) = resolved {
            scope.batch_terms = vec![sis];
            scope.unknown_term = None;
        }
        // Canvas answers 404 to a batch term it has no active term for (§2.1).
        let missing = scope.batch_terms.first().filter(|t| {
            one_term
                && !read
                    .kinds
                    .get("term")
                    .is_some_and(|rs| rs.iter().any(|r| r.term.as_deref() == Some(t.as_str())))
        });
        let missing = missing.map(|t| {
            format!("Canvas has no active SIS term {t:?}: it would refuse the import (404)")
        });
        let base = baseline::from_report(read, client.base().as_str(), &client.account_display());
        let about = json!({
            "provisioning_report": report.id,
            "batch_terms": scope.batch_terms,
            "kinds": asked,
            "base_url": client.base().as_str(),
            "account": client.account_display(),
        });
        let mut a = Assessment::judge(rows, scope, "canvas", Some(base), about, limits);
        a.reasons.extend(missing);
        Ok(a)
    }

    fn judge(
        rows: BundleRows,
        scope: Scope,
        against: &'static str,
        baseline: Option<Baseline>,
        about: Value,
        limits: &Limits,
    ) -> Assessment {
        let (plan, reasons) = match &baseline {
            Some(b) => {
                let plan = compute(&rows, b, &scope);
                let reasons = plan.guard(limits);
                (plan, reasons)
            }
            None => (Plan::default(), vec![]),
        };
        Assessment {
            kinds: rows.kinds.keys().map(|k| k.to_string()).collect(),
            scope,
            against,
            baseline,
            about,
            plan,
            reasons,
        }
    }

    /// The contract's `plan --json` document.
    pub fn to_json(&self) -> Value {
        match &self.baseline {
            None => no_baseline_json(self.kinds.iter().map(String::as_str)),
            Some(_) => self
                .plan
                .to_json(self.against, self.about.clone(), &self.reasons),
        }
    }
}

/// The SIS term id of the term a `batch_mode_term_id` names by Canvas's id (or
/// `sis_integration_id:`), from the terms of a provisioning report; None when no SIS term
/// there has it (`default` and `current` are never found: the report does not say which).
fn report_term(report: &std::path::Path, term: &str) -> crate::exit::Result<Option<String>> {
    struct Find<'a> {
        col: Option<usize>,
        want: &'a str,
        found: Option<String>,
    }
    impl rows::Sink for Find<'_> {
        fn file(&mut self, f: &rows::FileInfo) {
            let by = if self.want.starts_with("sis_integration_id:") {
                "integration_id"
            } else {
                "canvas_term_id"
            };
            self.col = (f.kind == "term")
                .then(|| f.headers.iter().position(|h| h == by))
                .flatten();
        }
        fn row(&mut self, _: &rows::FileInfo, r: &rows::RowView) {
            let want = self
                .want
                .strip_prefix("sis_integration_id:")
                .unwrap_or(self.want);
            if let (Some(c), Some(t)) = (self.col, r.term)
                && r.field(c) == want
            {
                self.found = Some(t.to_string());
            }
        }
    }
    let mut f = Find {
        col: None,
        want: term.trim(),
        found: None,
    };
    read::visit(report, &mut f)?;
    Ok(f.found)
}

/// `plan --json` when there is no baseline yet: every count null.
pub fn no_baseline_json<'a>(kinds: impl Iterator<Item = &'a str>) -> Value {
    let null = json!({"create": null, "update": null, "delete": null, "unchanged": null, "absent": null, "terms": {}});
    let kinds: serde_json::Map<String, Value> =
        kinds.map(|k| (k.to_string(), null.clone())).collect();
    json!({
        "against": "last",
        "baseline": null,
        "kinds": kinds,
        "guard": {"tripped": false, "reasons": ["no baseline"]},
    })
}

/// Note what an import sent, so that its rows are folded into the baseline when it ends
/// well ([`on_end`]): where its bytes can be read back (`sources`, in the order tried) and
/// their sha256. Nothing of the bundle is read here: a submit pays nothing for it. When no
/// source will outlive the run (a directory zipped as it was sent, with no archive copy),
/// the bytes sent (`sent`) are kept beside the pending file until the import ends.
#[allow(clippy::too_many_arguments)]
pub fn record_pending(
    state_dir: &std::path::Path,
    base_url: &str,
    account: &str,
    opts: &crate::settings::ImportOptions,
    mut sources: Vec<std::path::PathBuf>,
    sent: &std::path::Path,
    sha256: &str,
    import_id: u64,
) {
    let path = baseline::pending_path(state_dir, base_url, account, import_id);
    // The pending file is JSON: a path that is not UTF-8 cannot be written in it (and made
    // the whole note fail). Such a source is left out; with none left, the bytes are kept.
    sources.retain(|p| p.to_str().is_some());
    if sources.is_empty() {
        let copy = path.with_extension("bundle");
        if let Err(e) = keep_sent(sent, &copy) {
            tracing::warn!(target: "canvas_sis", "import {import_id}: the plan's baseline will not include it: the bytes sent cannot be kept in {}: {e}", copy.display());
            return;
        }
        sources.push(copy);
    }
    let pending = baseline::Pending {
        hashes: rows::HASHES,
        meta: baseline::Meta {
            base_url: base_url.to_string(),
            account: account.to_string(),
            data_set: opts.diffing_data_set_identifier.clone(),
            imports: vec![],
            updated_at: String::new(),
        },
        scope: scope_for(opts, &[]),
        multi_term: opts.multi_term_batch_mode,
        sources,
        sha256: sha256.to_string(),
    };
    if let Err(f) = baseline::save(&path, &pending) {
        tracing::warn!(target: "canvas_sis", "import {import_id}: the plan's baseline will not include it: {f}");
    }
}

/// A private copy of the file sent (a hard link when it can be one).
fn keep_sent(sent: &std::path::Path, copy: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = copy.parent() {
        crate::paths::ensure_private_dir(dir)?;
    }
    let _ = std::fs::remove_file(copy);
    std::fs::hard_link(sent, copy).or_else(|_| std::fs::copy(sent, copy).map(|_| ()))
}

/// An import of `base_url` and `account` was seen at its end: fold the rows it sent into the
/// baseline when it ended `imported` or `imported_with_messages`, and drop them otherwise.
/// Quiet when there is nothing pending (an import this host did not send); never fails the
/// command.
pub fn on_end(base_url: &str, account: &str, imp: &crate::canvas::Import) {
    if !imp.state.is_terminal() {
        return;
    }
    let Ok(Some(dir)) = crate::paths::existing_state_dir() else {
        return;
    };
    let pending_path = baseline::pending_path(&dir, base_url, account, imp.id);
    // Written before pending files named their Canvas: read once, if it is this Canvas's.
    let old_path = baseline::old_pending_path(&dir, imp.id);
    let r = (|| -> crate::exit::Result<Option<std::path::PathBuf>> {
        let (p, at) = match baseline::load::<baseline::Pending>(&pending_path)? {
            Some(p) => (p, pending_path.clone()),
            None => match baseline::load::<baseline::Pending>(&old_path)? {
                Some(p) if p.meta.base_url == base_url && p.meta.account == account => {
                    (p, old_path.clone())
                }
                _ => return Ok(None),
            },
        };
        fold_pending(&dir, &p, imp)?;
        Ok(Some(at))
    })();
    match r {
        Ok(Some(at)) => {
            let _ = std::fs::remove_file(at.with_extension("bundle"));
            let _ = std::fs::remove_file(&at);
        }
        Ok(None) => {}
        Err(f) => {
            tracing::warn!(target: "canvas_sis", import_id = imp.id, "import {}: the plan's baseline was not updated: {f}", imp.id);
        }
    }
}

/// Fold a pending import that ended into its baselines (see [`on_end`]). A diffing import
/// goes into its data set's baseline (its bundle, alone) and into the plain one of its URL
/// and account (its rows over what is there, and the diff's removals: the rows of the data
/// set's last bundle that this one lacks).
fn fold_pending(
    dir: &std::path::Path,
    p: &baseline::Pending,
    imp: &crate::canvas::Import,
) -> crate::exit::Result<()> {
    use crate::canvas::State;
    if p.hashes != rows::HASHES || p.sources.is_empty() {
        // Written by an older canvas-sis: its keys and values would not match.
        tracing::warn!(target: "canvas_sis", import_id = imp.id, "import {}: its pending baseline was written by another version of canvas-sis; the plan's baseline will not include it", imp.id);
        return Ok(());
    }
    if !matches!(imp.state, State::Imported | State::ImportedWithMessages) {
        return Ok(());
    }
    // The bytes sent, and no others: the SIS may have written tonight's file since.
    let Some(sent) = p
        .sources
        .iter()
        .find(|s| crate::bundle::sha256_file(s).is_ok_and(|h| h == p.sha256))
    else {
        let tried: Vec<String> = p.sources.iter().map(|s| s.display().to_string()).collect();
        tracing::warn!(target: "canvas_sis", import_id = imp.id, "import {}: the plan's baseline will not include it: no file holds the bytes it sent any more (sha256 {}; tried {}); keep `[archive] keep_bundles` on, or run `canvas-sis plan --against canvas`", imp.id, p.sha256, tried.join(", "));
        return Ok(());
    };
    // Folds the bundle into one baseline, then sets `drops` (per kind, keys) to their drop
    // status; returns the live objects of the baseline before that the bundle lacked, when
    // the scope is a diff (which removes them).
    type Keys = BTreeMap<String, Vec<u64>>;
    let fold = |data_set: Option<&str>, scope: &Scope, drops: &Keys| -> crate::exit::Result<Keys> {
        let path = baseline::baseline_path(dir, &p.meta.base_url, &p.meta.account, data_set);
        let mut base: Baseline =
            baseline::load_baseline(&path, true)?.unwrap_or_else(|| Baseline {
                meta: baseline::Meta {
                    data_set: data_set.map(str::to_string),
                    ..p.meta.clone()
                },
                ..Default::default()
            });
        let before = (scope.diffing.is_some() && !scope.remaster).then(|| base.live_keys());
        // Streamed: the bundle's rows are folded in as they are read, never held.
        let mut a = baseline::Applier::new(&mut base, scope);
        if p.multi_term {
            a = a.with_bundle_terms();
        }
        read::visit(sent, &mut a)?;
        a.finish(imp.id);
        for (kind, keys) in drops {
            if p.scope.removes(kind, None) {
                base.drop_keys(kind, keys, &p.scope.drop_status(kind));
            }
        }
        baseline::save_baseline(&path, &base)?;
        let mut removed = Keys::new();
        for (kind, keys) in before.unwrap_or_default() {
            let state = base.kinds.get(&kind);
            let gone: Vec<u64> = keys
                .into_iter()
                .filter(|k| state.is_none_or(|s| s.rows.find(*k).is_none()))
                .collect();
            removed.insert(kind, gone);
        }
        Ok(removed)
    };
    let removed = fold(p.meta.data_set.as_deref(), &p.scope, &Keys::new())?;
    if p.meta.data_set.is_some() {
        // The plain baseline of the URL and account has every import (contract, "Baseline").
        let plain = Scope {
            skip_deletes: p.scope.skip_deletes,
            ..Scope::default()
        };
        fold(None, &plain, &removed)?;
    }
    tracing::info!(target: "canvas_sis", import_id = imp.id, "import {}: the plan's baseline now includes it", imp.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::baseline::{Baseline, Meta, Scope};
    use super::read::read_bundle;
    use super::*;

    fn bundle(files: &[(&str, &str)]) -> (tempfile::TempDir, BundleRows) {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        let rows = read_bundle(d.path()).unwrap();
        (d, rows)
    }

    const TERMS: &str = "term_id,name,status\nT1,Fall,active\nT2,Spring,active\n";
    const COURSES: &str = "course_id,short_name,long_name,status,term_id\nc1,C1,Course 1,active,T1\nc2,C2,Course 2,active,T1\nc3,C3,Course 3,active,T2\n";
    const USERS: &str =
        "user_id,login_id,first_name,last_name,status\nu1,a,A,One,active\nu2,b,B,Two,active\n";
    const ENROLL: &str = "course_id,user_id,role,status\nc1,u1,student,active\nc1,u2,student,active\nc2,u1,student,active\nc3,u2,student,active\n";

    fn base_from(files: &[(&str, &str)], scope: &Scope) -> Baseline {
        let (_d, rows) = bundle(files);
        let mut b = Baseline {
            meta: Meta::default(),
            ..Default::default()
        };
        b.apply(&rows, scope, 1);
        b
    }

    /// The baseline after a plain import of all four files.
    fn full_base() -> Baseline {
        base_from(
            &[
                ("terms.csv", TERMS),
                ("courses.csv", COURSES),
                ("users.csv", USERS),
                ("enrollments.csv", ENROLL),
            ],
            &Scope::default(),
        )
    }

    #[test]
    fn plain_import_counts_creates_updates_and_status_deletes() {
        let base = full_base();
        let (_d, next) = bundle(&[
            (
                "users.csv",
                "user_id,login_id,first_name,last_name,status\nu1,a,A,Renamed,active\nu2,b,B,Two,deleted\nu3,c,C,Three,active\n",
            ),
            // No last_name column: not a change.
            (
                "enrollments.csv",
                "course_id,user_id,role,status\nc1,u1,student,active\nc1,u2,student,deleted\n",
            ),
        ]);
        let plan = compute(&next, &base, &Scope::default());
        let u = &plan.kinds["user"].counts;
        assert_eq!(
            (u.create, u.update, u.delete, u.unchanged, u.absent),
            (1, 1, 1, 0, 0)
        );
        let e = &plan.kinds["enrollment"];
        assert_eq!(
            (e.counts.delete, e.counts.unchanged, e.counts.absent),
            (1, 1, 2)
        );
        assert_eq!(e.terms["T1"].delete, 1);
        // Courses absent from the bundle stay: absent, not delete.
        assert_eq!(plan.kinds["course"].counts.absent, 3);
        // A plain import is judged per kind, never per term (contract, "Guard arithmetic":
        // per batch term only): 1 of 4 enrollments, 1 of 2 users.
        assert_eq!(
            plan.guard(&Limits {
                max_delete_percent: 10.0,
                max_update_percent: 75.0,
                max_delete_rows: None
            }),
            ["enrollment delete 25 % > 10 %", "user delete 50 % > 10 %"]
        );
    }

    #[test]
    fn batch_mode_removes_only_the_terms_sis_objects_the_bundle_lacks() {
        let scope = Scope {
            batch_terms: vec!["T1".into()],
            ..Default::default()
        };
        let base = full_base();
        let (_d, next) = bundle(&[
            (
                "courses.csv",
                "course_id,short_name,long_name,status,term_id\nc1,C1,Course 1,active,T1\n",
            ),
            (
                "enrollments.csv",
                "course_id,user_id,role,status\nc1,u1,student,active\n",
            ),
        ]);
        let plan = compute(&next, &base, &scope);
        let c = &plan.kinds["course"];
        assert_eq!(
            (c.counts.unchanged, c.counts.delete, c.counts.absent),
            (1, 1, 1)
        );
        assert_eq!(c.terms["T1"].delete, 1);
        assert_eq!(c.terms["T2"].absent, 1);
        let e = &plan.kinds["enrollment"];
        // c1/u2 and c2/u1 are in T1 and go; c3/u2 is in T2 and stays.
        assert_eq!((e.counts.delete, e.counts.absent), (2, 1));
        // Users are never batch-removed.
        assert_eq!(plan.kinds["user"].counts.absent, 2);
        // skip_deletes does not affect batch-mode cleanup (§2.1).
        let skip = Scope {
            skip_deletes: true,
            ..scope.clone()
        };
        assert_eq!(
            compute(&next, &base, &skip).kinds["enrollment"]
                .counts
                .delete,
            2
        );
        // After the import, the baseline has them gone.
        let mut after = base.clone();
        after.apply(&next, &scope, 2);
        assert_eq!(
            after.kinds["enrollment"]
                .rows
                .values()
                .filter(|e| e.live)
                .count(),
            2
        );
    }

    #[test]
    fn diffing_drops_what_the_previous_set_had() {
        let scope = Scope {
            diffing: Some("nightly".into()),
            diffing_drop: Some("inactive".into()),
            ..Default::default()
        };
        let base = base_from(&[("users.csv", USERS), ("enrollments.csv", ENROLL)], &scope);
        let (_d, next) = bundle(&[
            ("users.csv", USERS),
            (
                "enrollments.csv",
                "course_id,user_id,role,status\nc1,u1,student,active\n",
            ),
        ]);
        let plan = compute(&next, &base, &scope);
        assert_eq!(plan.kinds["enrollment"].counts.delete, 3);
        assert_eq!(plan.kinds["user"].counts.unchanged, 2);
        // A remaster is applied in full, with no diffing (§2.1): nothing is removed.
        let remaster = Scope {
            remaster: true,
            ..scope.clone()
        };
        let e = compute(&next, &base, &remaster).kinds["enrollment"].counts;
        assert_eq!((e.delete, e.absent), (0, 3));
        // skip_deletes skips the diff's rows whose drop status is `deleted`, and no others.
        let skip = |drop: &str| Scope {
            skip_deletes: true,
            diffing_drop: Some(drop.into()),
            ..scope.clone()
        };
        let e = compute(&next, &base, &skip("deleted")).kinds["enrollment"].counts;
        assert_eq!((e.delete, e.absent), (0, 3));
        let e = compute(&next, &base, &skip("inactive")).kinds["enrollment"].counts;
        assert_eq!((e.delete, e.absent), (3, 0));
    }

    /// `plan` streams the bundle (`Planner` as a `rows::Sink`); `compute` reads it whole.
    /// Both say the same, examples included, in every scope.
    #[test]
    fn streaming_the_bundle_plans_what_reading_it_whole_does() {
        let base = full_base();
        let d = tempfile::tempdir().unwrap();
        for (n, t) in [
            ("terms.csv", TERMS),
            (
                "courses.csv",
                "course_id,short_name,long_name,status,term_id\nc1,C1,Course 1,active,T1\nc4,C4,Course 4,active,T2\n",
            ),
            (
                "sections.csv",
                "section_id,course_id,name,status\ns4,c4,S4,active\n",
            ),
            (
                "users.csv",
                "user_id,login_id,first_name,last_name,password,status\nu1,a,A,Renamed,pw,active\nu2,b,B,Two,pw,deleted\n",
            ),
            (
                "enrollments.csv",
                "course_id,section_id,user_id,role,status\nc1,,u1,student,active\nc4,s4,u2,student,active\nc2,,u1,student,deleted\n",
            ),
        ] {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        let whole = read_bundle(d.path()).unwrap();
        let scopes = [
            Scope::default(),
            Scope {
                batch_terms: vec!["T1".into()],
                ..Default::default()
            },
            Scope {
                diffing: Some("n".into()),
                diffing_drop: Some("inactive".into()),
                ..Default::default()
            },
            Scope {
                skip_deletes: true,
                ..Default::default()
            },
        ];
        let show = |p: &Plan| {
            p.kinds
                .iter()
                .map(|(k, kp)| {
                    let mut ex: Vec<String> = kp
                        .examples
                        .iter()
                        .map(|e| format!("{} {} {:?}", e.effect, e.key, e.at))
                        .collect();
                    ex.sort();
                    format!(
                        "{k} {:?} {:?} {} {:?} {ex:?}",
                        kp.counts, kp.terms, kp.baseline_live, kp.baseline_live_terms
                    )
                })
                .collect::<Vec<_>>()
        };
        for scope in scopes {
            let mut p = Planner::new(&base, scope.skip_deletes);
            read::visit(d.path(), &mut p).unwrap();
            assert_eq!(p.bundle_terms, whole.terms);
            let streamed = p.finish(&scope);
            let whole_plan = show(&compute(&whole, &base, &scope));
            assert_eq!(show(&streamed), whole_plan, "{scope:?}");
            // Read on this thread, judged on another, as `plan` does.
            let (mut judge, terms) = plan_stream(d.path(), &base, scope.skip_deletes).unwrap();
            assert_eq!(terms, whole.terms);
            let kinds: Vec<String> = judge.kinds().map(str::to_string).collect();
            assert_eq!(kinds, ["course", "enrollment", "section", "term", "user"]);
            assert_eq!(show(&judge.finish(&scope)), whole_plan, "{scope:?}");
        }
        let e = &compute(&whole, &base, &Scope::default()).kinds["enrollment"];
        assert_eq!((e.counts.create, e.counts.delete), (1, 1));
        assert_eq!(
            e.terms["T2"].create, 1,
            "c4/s4 is in T2 through its section"
        );
    }
}
