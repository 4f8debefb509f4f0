//! The row checks of one file, batch by batch in file order: each row's shape, then its
//! values against the kind's columns (required values, the value rules of `rules.rs`),
//! the row-level rules of the kinds table (`one_of`, `pairs`), and, for a row Canvas
//! would not skip, its ids and references registered with the bundle.

use super::Severity;
use super::bundle::{self, Bundle, Reference};
use super::fast::{Batch, Record, SEED, hash_bytes, hash_lower};
use super::header::Columns;
use super::kinds::{KINDS, Kind, Ns, Pair, Req, Rule};
use super::messages::render;
use super::rules::{Finding, RowValues, Value};
use super::sink::Sink;

/// Most columns a kind has (the row checks keep its values on the stack).
pub(super) const MAX_COLS: usize = 64;

/// The per-row checks of one file.
pub(super) struct Checker<'a> {
    /// Columns in the header.
    ncols: usize,
    /// The file's kind and its resolved columns (`None`: no kind recognised).
    rules: Option<FileRules<'a>>,
    /// Per column of the kind, the last value that passed its rule.
    passed: Vec<Passed>,
    sink: &'a mut Sink,
    bundle: &'a mut Bundle,
}

/// A recognised file: its kind and its columns, resolved once.
struct FileRules<'a> {
    kind: &'static Kind,
    kind_idx: usize,
    cols: &'a Columns,
    file_idx: usize,
    st: RowState,
}

impl<'a> Checker<'a> {
    pub fn new(
        ncols: usize,
        kind: Option<(usize, &'a Columns)>,
        file_idx: usize,
        sink: &'a mut Sink,
        bundle: &'a mut Bundle,
    ) -> Self {
        let rules = kind.map(|(kind_idx, cols)| {
            let kind = &KINDS[kind_idx];
            FileRules {
                kind,
                kind_idx,
                cols,
                file_idx,
                st: RowState::new(kind, &cols.hidx),
            }
        });
        Checker {
            ncols,
            passed: vec![Passed::default(); rules.as_ref().map_or(0, |f| f.kind.cols.len())],
            rules,
            sink,
            bundle,
        }
    }

    /// Checks a batch of rows, in order.
    pub fn rows(&mut self, batch: &Batch) {
        // The kind's values are kept on the stack in the smallest of these that holds
        // them: clearing a 64-slot array took a fifth of the row checks' time.
        match self.rules.as_ref().map_or(0, |f| f.kind.cols.len()) {
            0..=16 => self.rows_n::<16>(batch),
            17..=32 => self.rows_n::<32>(batch),
            _ => self.rows_n::<MAX_COLS>(batch),
        }
    }

    fn rows_n<const N: usize>(&mut self, batch: &Batch) {
        let rows = batch.rows();
        if let Some(f) = &self.rules {
            // Pull the id-table slots this batch will define into the cache, together.
            for row in rows {
                for &(i, ns) in &f.st.defined {
                    if i < row.rec.len() {
                        let val = row.rec.value(i);
                        if !val.is_empty() {
                            self.bundle.defs[ns as usize].prefetch(id_key(ns, val));
                        }
                    }
                }
            }
        }
        let text = |r: u32, f: u32| rows[r as usize].rec.value(f as usize);
        // Trimmed values of the kind's columns: those not in the header stay "".
        let mut vals: [&str; N] = [""; N];
        for (ri, row) in rows.iter().enumerate() {
            self.sink.rep.rows += 1;
            if !self.shape(&row.rec, row.no) {
                continue;
            }
            if let Some(f) = &self.rules {
                let cx = RowCx {
                    f,
                    rec: &row.rec,
                    row_no: row.no,
                    line_hash: row.line_hash,
                    rec_idx: ri as u32,
                    passed: &mut self.passed,
                    sink: &mut *self.sink,
                    bundle: &mut *self.bundle,
                };
                check_row(cx, &mut vals);
                if self.bundle.pending_full() {
                    self.bundle.flush_with(text);
                }
            }
        }
        // The deferred references name texts in this batch's records.
        self.bundle.flush_with(text);
    }

    /// The row's field count and NUL characters; false when Canvas skips the row.
    fn shape(&mut self, rec: &Record, row_no: u64) -> bool {
        let ncols = self.ncols;
        if rec.len() < ncols && ncols > 1 {
            self.sink.at(rec.line()).row(row_no).warn(
                "short_row",
                format!(
                    "row has {} field(s), the header has {ncols}; the missing fields are read as empty",
                    rec.len()
                ),
            );
        } else if rec.len() > ncols && (ncols..rec.len()).any(|i| !rec.value(i).is_empty()) {
            self.sink.at(rec.line()).row(row_no).warn(
                "long_row",
                format!(
                    "row has {} fields, the header has {ncols}; Canvas ignores the extra values",
                    rec.len()
                ),
            );
        }
        if let Some(l) = rec.nul_line() {
            // The users importer skips such a row with a warning (§6.1); elsewhere
            // the NUL reaches the database and fails the import.
            let user = self.rules.as_ref().is_some_and(|f| f.kind.name == "user");
            let (sev, msg) = if user {
                (
                    Severity::Warning,
                    "Some of the fields contain NULL character",
                )
            } else {
                (Severity::Error, "a field contains a NUL character")
            };
            self.sink
                .at(l)
                .row(row_no)
                .hint("NUL bytes usually mean a binary or UTF-16 file; Canvas skips or fails such rows")
                .report(sev, "nul_character", msg);
            // Canvas skips the row: it defines nothing and gets no other message.
            return !user;
        }
        true
    }
}

/// The last value that passed a column's rule. A value that passes does so whatever
/// else is in the row, so a row repeating it (a status, a role, a term's dates) need
/// not be checked again.
#[derive(Clone, Copy, Default)]
struct Passed {
    len: u8,
    bytes: [u8; 31],
}

impl Passed {
    #[inline(always)]
    fn holds(&self, v: &str) -> bool {
        let (v, n) = (v.as_bytes(), usize::from(self.len));
        if v.len() != n {
            return false;
        }
        // Overlapping words from each end: two of 4 bytes cover 4 to 8 bytes, two of 8
        // cover 8 to 16, four 16 to 31.
        let w = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let h = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let m = &self.bytes;
        match n {
            0..4 => v == &m[..n],
            4..8 => h(v, 0) == h(m, 0) && h(v, n - 4) == h(m, n - 4),
            8..=16 => w(v, 0) == w(m, 0) && w(v, n - 8) == w(m, n - 8),
            _ => {
                w(v, 0) == w(m, 0)
                    && w(v, 8) == w(m, 8)
                    && w(v, n - 16) == w(m, n - 16)
                    && w(v, n - 8) == w(m, n - 8)
            }
        }
    }

    #[inline(always)]
    fn set(&mut self, v: &str) {
        // A longer value is not kept (`len` 0 matches no value: values are not empty).
        self.len = 0;
        if let Some(b) = self.bytes.get_mut(..v.len()) {
            b.copy_from_slice(v.as_bytes());
            self.len = v.len() as u8;
        }
    }
}

/// The hash an id is kept under in namespace `ns` (logins are case-insensitive).
#[inline]
fn id_key(ns: Ns, val: &str) -> u64 {
    if ns == Ns::Login {
        hash_lower(SEED, val)
    } else {
        hash_bytes(SEED, val.as_bytes())
    }
}

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
    /// The reference columns in the header: (column, header index, namespace).
    refs: Vec<(usize, usize, Ns)>,
    /// Header index and namespace of the id and unique columns (for prefetching).
    defined: Vec<(usize, Ns)>,
    /// The columns the per-column checks can report on, in order: those in the
    /// header, and those required unless another column is set (an absent column is
    /// otherwise empty and not reported).
    active: Vec<usize>,
    /// The columns in the header: (column, header index).
    present: Vec<(usize, usize)>,
    /// What [`relations`] reads, when the kind is one it reads: a section's
    /// `section_id`, `course_id`; a cross-listing's `section_id`, `xlist_course_id`,
    /// `status`; an enrollment's `section_id`, `course_id`, `user_id`,
    /// `user_integration_id`.
    rel: Option<(Rel, [Option<usize>; 4])>,
}

/// The kinds [`relations`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rel {
    Section,
    Xlist,
    Enrollment,
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
                .filter_map(|(ci, c)| Some((ci, hidx[ci]?, c.refers?)))
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
            present: (0..k.cols.len())
                .filter_map(|ci| hidx[ci].map(|i| (ci, i)))
                .collect(),
            rel: {
                let cols = |names: [&str; 4]| names.map(|n| k.col(n));
                match k.name {
                    "section" => Some((Rel::Section, cols(["section_id", "course_id", "", ""]))),
                    "xlist" => Some((
                        Rel::Xlist,
                        cols(["section_id", "xlist_course_id", "status", ""]),
                    )),
                    "enrollment" => Some((
                        Rel::Enrollment,
                        cols(["section_id", "course_id", "user_id", "user_integration_id"]),
                    )),
                    _ => None,
                }
            },
        }
    }

    /// Whether the row's status starts with `deleted`.
    #[inline]
    fn deleted(&self, row: &RowValues) -> bool {
        self.status.is_some_and(|s| {
            row.v(s)
                .get(..7)
                .is_some_and(|p| p.eq_ignore_ascii_case("deleted"))
        })
    }
}

/// One row to check, with its file's rules and where findings and ids go.
struct RowCx<'c, 'r> {
    f: &'c FileRules<'c>,
    rec: &'r Record,
    /// Canvas's row number.
    row_no: u64,
    line_hash: u64,
    /// The record's index in its batch (deferred references name their text by it).
    rec_idx: u32,
    passed: &'c mut [Passed],
    sink: &'c mut Sink,
    bundle: &'c mut Bundle,
}

impl RowCx<'_, '_> {
    /// The line where column `ci`'s field starts.
    #[inline]
    fn line_of(&self, ci: usize) -> u64 {
        match self.f.cols.hidx[ci] {
            Some(i) => self.rec.field_line(i),
            None => self.rec.line(),
        }
    }

    /// A warning about column `ci` of this row, at the line where its field starts.
    fn col_warning(&mut self, ci: usize, code: &'static str, msg: String, hint: Option<String>) {
        let line = self.line_of(ci);
        self.sink
            .at(line)
            .row(self.row_no)
            .col(self.f.kind.cols[ci].name)
            .hint_opt(hint)
            .warn(code, msg);
    }

    /// A warning about the row, naming `col`.
    fn row_warning(&mut self, col: &str, code: &'static str, msg: String) {
        self.sink
            .at(self.rec.line())
            .row(self.row_no)
            .col(col)
            .warn(code, msg);
    }
}

/// Checks one row; `vals` holds the trimmed values of the kind's columns (this row's
/// are filled in; columns not in the header stay "").
#[inline(always)]
fn check_row<'b, const N: usize>(mut cx: RowCx<'_, 'b>, vals: &mut [&'b str; N]) {
    for &(ci, i) in &cx.f.st.present {
        vals[ci] = if i < cx.rec.len() {
            cx.rec.value(i)
        } else {
            ""
        };
    }
    let k = cx.f.kind;
    let row = RowValues {
        kind: k,
        vals: &vals[..k.cols.len()],
        active: &cx.f.st.active,
    };
    let skipped =
        column_checks(&mut cx, &row) | one_of_checks(&mut cx, &row) | pair_checks(&mut cx, &row);
    // A skipped row defines nothing.
    if !skipped {
        register(&mut cx, &row);
    }
}

/// `get` for message templates: the row's value of a column, by name.
fn getter<'r>(row: &'r RowValues<'r>) -> impl Fn(&str) -> String + 'r {
    |name: &str| row.kind.col(name).map_or("", |ci| row.v(ci)).to_string()
}

/// Every active column: a missing required value, or a value that breaks its rule.
/// True when Canvas would skip the row.
#[inline(always)]
fn column_checks(cx: &mut RowCx, row: &RowValues) -> bool {
    let k = cx.f.kind;
    let st = &cx.f.st;
    let mut skipped = false;
    for &ci in &st.active {
        let col = &k.cols[ci];
        let val = row.v(ci);
        if val.is_empty() {
            let required = match col.req {
                Req::Yes => true,
                Req::UnlessSet(_) => st.unless[ci].is_none_or(|o| row.v(o).is_empty()),
                Req::UnlessDeleted => !st.deleted(row),
                Req::No | Req::Header => false,
            };
            if required
                && !cx.f.cols.suppressed[ci]
                && (cx.f.cols.hidx[ci].is_some() || !matches!(col.req, Req::Yes))
            {
                let tpl = if col.missing.is_empty() {
                    "No {col} given for {kind} {id}"
                } else {
                    col.missing
                };
                let msg = render(tpl, "", col.name, k, &getter(row));
                cx.col_warning(ci, "missing_value", msg, None);
                skipped = true;
            }
            continue;
        }
        if matches!(col.rule, Rule::Text) || cx.passed[ci].holds(val) {
            continue;
        }
        match col.rule.check(&Value { val, col, ci, row }) {
            Ok(()) => cx.passed[ci].set(val),
            Err(f) => skipped |= finding(cx, row, ci, *f),
        }
    }
    skipped
}

/// Reports what a value rule found in column `ci`; true when Canvas skips the row.
#[cold]
#[inline(never)]
fn finding(cx: &mut RowCx, row: &RowValues, ci: usize, f: Finding) -> bool {
    let k = cx.f.kind;
    let col = &k.cols[ci];
    match f {
        Finding::Quiet => false,
        Finding::Note {
            code,
            message,
            hint,
        } => {
            cx.col_warning(ci, code, message, hint);
            false
        }
        Finding::Bad(b) => {
            let msg = render(b.template(col), &b.shown, col.name, k, &getter(row));
            cx.col_warning(ci, b.code, msg, b.hint);
            col.skips
        }
    }
}

/// `Kind::one_of`: at least one of the columns has a value.
#[inline(always)]
fn one_of_checks(cx: &mut RowCx, row: &RowValues) -> bool {
    let k = cx.f.kind;
    let mut skipped = false;
    for (o, (ixs, in_header)) in k.one_of.iter().zip(&cx.f.st.one_of) {
        if *in_header && ixs.iter().all(|&i| row.v(i).is_empty()) {
            let msg = render(o.missing, "", o.cols[0], k, &getter(row));
            cx.row_warning(o.cols[0], "missing_value", msg);
            skipped = true;
        }
    }
    skipped
}

/// `Kind::pairs`: rules on two columns of the row.
#[inline(always)]
fn pair_checks(cx: &mut RowCx, row: &RowValues) -> bool {
    let k = cx.f.kind;
    let v = |ci: usize| row.v(ci);
    let mut skipped = false;
    for (p, &[a, b, c]) in k.pairs.iter().zip(&cx.f.st.pairs) {
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
            let msg = render(msg, "", col, k, &getter(row));
            cx.row_warning(col, "invalid_combination", msg);
            skipped = true;
        }
    }
    skipped
}

/// A row Canvas imports: its id, unique values and references, with the bundle.
#[inline(always)]
fn register(cx: &mut RowCx, row: &RowValues) {
    let k = cx.f.kind;
    let st = &cx.f.st;
    let v = |ci: usize| row.v(ci);
    let at = bundle::loc(cx.f.file_idx, cx.rec.line());
    if let (Some((ns, idc)), Some(idi)) = (k.defines, st.id) {
        let id = v(idi);
        let owner = hash_bytes(SEED, id.as_bytes());
        let is_override = st.extra.iter().any(|&c| !v(c).is_empty());
        if !is_override
            && let Some(prev) = cx
                .bundle
                .define(ns, owner, at, cx.line_hash)
                .filter(|p| p.owner != cx.line_hash)
        {
            let msg = format!(
                "duplicate {idc} \"{id}\": already at {}; Canvas applies both rows in order, so this one wins",
                cx.bundle.where_(prev.loc)
            );
            let line = cx.line_of(idi);
            cx.sink
                .at(line)
                .row(cx.row_no)
                .col(idc)
                .warn("duplicate_id", msg);
        }
    }
    for &(ci, ns) in &st.unique {
        let c = k.cols[ci].name;
        let val = v(ci);
        if val.is_empty() {
            continue;
        }
        let key = id_key(ns, val);
        // A login or integration_id keeps its owner's id, which Canvas's message names.
        let id = st.id.map_or("", v);
        let Some(prev) = cx
            .bundle
            .define_owned(ns, key, at, id)
            .filter(|p| !cx.bundle.owned_by(p, id))
        else {
            continue;
        };
        let first = cx.bundle.owner_of(&prev).unwrap_or("…").to_string();
        let uid = st.user_id.map_or("", v);
        let line = cx.line_of(ci);
        if ns != Ns::Login {
            let msg = format!(
                "{c} \"{val}\" is already used by user {first} at {}; Canvas skips this row: \"An existing Canvas user with the SIS ID {first} has already claimed {uid}'s requested integration_id, skipping\"",
                cx.bundle.where_(prev.loc)
            );
            cx.sink
                .at(line)
                .row(cx.row_no)
                .col(c)
                .warn("duplicate_integration_id", msg);
            continue;
        }
        // Canvas imports every users file before any logins file (§6.3), whatever
        // the files' order here: of a users row and a logins row, the logins row is
        // the one skipped, with the logins importer's message.
        let prev_kind = cx.bundle.kind_at(prev.loc);
        let login_msg = |sis: &str| {
            format!(
                "\"An existing Canvas user with the SIS ID {sis} or login of {val} already exists, skipping\""
            )
        };
        if k.name == "user" && prev_kind == "login" {
            let here = cx.bundle.where_(at);
            let diag = super::Diagnostic {
                file: cx.bundle.files[bundle::loc_file(prev.loc)].clone(),
                line: Some(bundle::loc_line(prev.loc)),
                col: None,
                row: None,
                column: Some(c.to_string()),
                severity: Severity::Warning,
                code: "duplicate_login_id",
                message: format!(
                    "login_id \"{val}\" is also user {uid}'s at {here}; Canvas imports users before logins, so it skips this row: {}",
                    login_msg(&first)
                ),
                hint: None,
            };
            cx.bundle.late.push(diag);
            // Later rows clash with this users row, which Canvas keeps.
            cx.bundle.redefine_owned(ns, key, at, id);
            continue;
        }
        let msg = if k.name == "login" {
            let why = if prev_kind == "user" {
                "Canvas imports users before logins, so it"
            } else {
                "Canvas"
            };
            format!(
                "login_id \"{val}\" is already used by user {first} at {}; {why} skips this row: {}",
                cx.bundle.where_(prev.loc),
                login_msg(uid)
            )
        } else {
            format!(
                "login_id \"{val}\" is already used by user {first} at {}; Canvas skips this row: \"An existing Canvas user with the SIS ID {first} has already claimed {uid}'s user_id requested login information, skipping\"",
                cx.bundle.where_(prev.loc)
            )
        };
        cx.sink
            .at(line)
            .row(cx.row_no)
            .col(c)
            .warn("duplicate_login_id", msg);
    }
    relations(cx, row, at);
    for (u, (ci, scope)) in k.unique_in.iter().zip(&st.unique_in) {
        let (val, id) = (v(*ci), st.id.map_or("", v));
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
        if let Some(prev) = cx.bundle.defs[u.ns as usize].get(key).copied() {
            if !cx.bundle.owned_by(&prev, id) {
                let what = k.defines.map_or(k.name, |(ns, _)| ns.label());
                let other = cx.bundle.owner_of(&prev).unwrap_or("…");
                let place = match si {
                    0 => u.root.to_string(),
                    i => format!("{} {sval}", u.scope[i - 1].1),
                };
                let hint = format!(
                    "{what} {other} at {} has this {} in {place}",
                    cx.bundle.where_(prev.loc),
                    if u.col.ends_with("name") {
                        "name"
                    } else {
                        u.col
                    }
                );
                let msg = render(u.message, val, u.col, k, &getter(row));
                let line = cx.line_of(*ci);
                cx.sink
                    .at(line)
                    .row(cx.row_no)
                    .col(u.col)
                    .hint(hint)
                    .warn("duplicate_name", msg);
            }
        } else if !st.deleted(row) {
            // A deleted one does not hold its name.
            cx.bundle.define_owned(u.ns, key, at, id);
        }
    }
    for &(ci, field, ns) in &st.refs {
        let val = v(ci);
        if !val.is_empty() {
            let at = bundle::loc(cx.f.file_idx, cx.rec.field_line(field));
            cx.bundle.reference_deferred(Reference {
                ns,
                id: val,
                src: cx.rec_idx,
                field: field as u32,
                at,
                row: cx.row_no,
                kind: cx.f.kind_idx as u8,
                col: ci as u8,
            });
        }
    }
}

/// What relates an enrollment's section to its course (§6.4, `SIS::EnrollmentImporter`):
/// each section's course (sections.csv), the active cross-listings (xlists.csv), and
/// the enrollments that give both, checked once the bundle is read.
#[inline(always)]
fn relations(cx: &mut RowCx, row: &RowValues, at: u64) {
    let Some((rel, cols)) = cx.f.st.rel else {
        return;
    };
    let get = |i: usize| cols[i].map_or("", |ci| row.v(ci));
    match rel {
        Rel::Section => cx.bundle.set_section_course(get(0), get(1)),
        Rel::Xlist if get(2).eq_ignore_ascii_case("active") => {
            let key = bundle::pair_key(
                hash_bytes(SEED, get(0).as_bytes()),
                hash_bytes(SEED, get(1).as_bytes()),
            );
            cx.bundle.xlisted.get_or_insert_with(key, || 1);
        }
        Rel::Xlist => {}
        Rel::Enrollment => {
            let (s, c) = (get(0), get(1));
            if !s.is_empty() && !c.is_empty() {
                let u = match get(2) {
                    "" => get(3),
                    u => u,
                };
                cx.bundle.list_pair(s, c, u, at, cx.row_no);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Passed` holds exactly the last value set, whatever its length and wherever
    /// another value differs.
    #[test]
    fn passed_values() {
        let mut p = Passed::default();
        assert!(!p.holds("a"));
        for n in 1..40 {
            let v: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            p.set(&v);
            assert_eq!(p.holds(&v), n <= 31, "{n}");
            for i in 0..n {
                let mut w = v.clone().into_bytes();
                w[i] = b'#';
                assert!(!p.holds(std::str::from_utf8(&w).unwrap()), "{n} {i}");
            }
            assert!(!p.holds(&v[..n - 1]) && !p.holds(&format!("{v}a")));
        }
    }

    #[test]
    fn kinds_fit_the_row_checks() {
        for k in KINDS {
            assert!(k.cols.len() <= MAX_COLS, "{}", k.name);
        }
    }
}
