//! A bundle's rows as the plan sees them: per row its kind, the key Canvas finds the object
//! by, its term (where the kind has one), its status, and a hash of each column's value after
//! Canvas's trimming.
//!
//! Keys are what Canvas's importers look objects up by (§6.4, `lib/sis/*_importer.rb`): a
//! user by `user_id`, a course by `course_id`, an enrollment by its course (or section), its
//! user and its role, and so on.
//!
//! Rows stream (`super::read::visit` into a [`Sink`]) and are borrowed from the CSV record
//! while they pass: `plan` keeps none of them (a 1 GB bundle is 13 million rows; issue 13), a
//! baseline is folded in from them as they come, and only `super::read::read_bundle` (the
//! provisioning report, a pending baseline) keeps them whole as [`Row`]s.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The columns that make up a kind's key, in order. A row lacking all of one group's
/// columns gets the empty value for it, as Canvas reads a missing column.
pub fn key_columns(kind: &str) -> &'static [&'static [&'static str]] {
    match kind {
        "account" => &[&["account_id"]],
        "term" => &[&["term_id"]],
        "course" => &[&["course_id"]],
        "section" => &[&["section_id"]],
        "user" => &[&["user_id"]],
        "login" => &[&["user_id"], &["login_id"]],
        // Canvas finds an enrollment by section (else the course's default section), user
        // and role (enrollment_importer.rb).
        "enrollment" => &[
            &["section_id", "course_id"],
            &["user_id", "user_integration_id"],
            &["role", "role_id"],
        ],
        "xlist" => &[&["xlist_course_id"], &["section_id"]],
        "admin" => &[
            &["user_id", "user_integration_id"],
            &["account_id"],
            &["role", "role_id"],
        ],
        "group_category" => &[&["group_category_id"]],
        "group" => &[&["group_id"]],
        "group_membership" => &[&["group_id"], &["user_id"]],
        "user_observer" => &[&["observer_id"], &["student_id"]],
        _ => &[],
    }
}

/// Columns never compared: Canvas does not show them back, and a password in a baseline
/// would be a secret on disk.
pub fn ignored_column(name: &str) -> bool {
    name == "password" || name == "ssha_password" || name == "status"
}

/// One row of the bundle (kept as is in a pending baseline, less where it stood).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub key: u64,
    /// Human form of the key, for examples.
    pub key_text: String,
    pub term: Option<String>,
    pub status: String,
    /// (column name, value hash), for the columns this file has.
    pub values: Vec<(String, u32)>,
    /// For a course, section or enrollment: the references that decide its term.
    pub course_id: Option<String>,
    pub section_id: Option<String>,
    #[serde(skip)]
    pub file: String,
    #[serde(skip)]
    pub line: u64,
}

/// The rows of every file, per kind (Canvas's `supplied_batches` name).
#[derive(Debug, Default)]
pub struct BundleRows {
    pub kinds: HashMap<&'static str, Vec<Row>>,
    /// The term ids of the bundle's terms file, in order (multi-term batch mode).
    pub terms: Vec<String>,
}

/// FNV-1a: a stable hash, for names (a baseline's file name).
pub fn hash64(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in p.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The hash of a row's key and of its values, eight bytes a step where FNV-1a takes one (a
/// tenth of a plan's time went to hashing with FNV). Stable: the baseline on disk must hash
/// the same next year; another hash is another `baseline::VERSION` and `HASHES`.
pub fn row_hash(parts: &[&str]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0x243f_6a88_85a3_08d3;
    let step = |h: &mut u64, w: u64| *h = (*h ^ w).wrapping_mul(K).rotate_left(29);
    for p in parts {
        let b = p.as_bytes();
        // The length first: ("ab", "c") and ("a", "bc") differ.
        step(&mut h, b.len() as u64);
        let mut words = b.chunks_exact(8);
        for w in &mut words {
            step(&mut h, u64::from_le_bytes(w.try_into().unwrap_or_default()));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            // Little-endian, zero-padded; byte by byte, as a copy into a buffer read back
            // whole stalls (a third of a plan's time went there).
            let w = rest
                .iter()
                .enumerate()
                .fold(0u64, |w, (i, b)| w | u64::from(*b) << (8 * i));
            step(&mut h, w);
        }
    }
    // MurmurHash3's finaliser: every bit in reaches every bit out.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Which hash [`row_hash`] is; a pending baseline made with another is not folded in.
pub const HASHES: u32 = 2;

/// A column value's hash; never 0, which stands for "column absent".
pub fn value_hash(v: &str) -> u32 {
    let h = row_hash(&[v]);
    ((h >> 32) as u32 ^ h as u32).max(1)
}

/// The hash of an empty cell.
pub fn empty_value() -> u32 {
    static EMPTY: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *EMPTY.get_or_init(|| value_hash(""))
}

/// One file of the bundle as the reader found it.
#[derive(Debug)]
pub struct FileInfo {
    pub kind: &'static str,
    /// Its name in the bundle (for a row's `file:line`).
    pub name: String,
    /// Its columns, trimmed and lower-cased.
    pub headers: Vec<String>,
}

/// One row, borrowed from the CSV record while it is read: nothing of it is kept unless the
/// [`Sink`] keeps it. `plan` keeps no row at all (see `plan::Planner`), so that its memory is
/// the baseline's, not the bundle's.
pub struct RowView<'a> {
    pub key: u64,
    /// The key's parts (joined with `/` they make the key in words, for examples).
    pub key_parts: &'a [&'a str],
    pub term: Option<&'a str>,
    /// Lower-cased; empty when the file has no status column.
    pub status: &'a str,
    /// The row's fields, and which of its columns are compared (the others are never hashed).
    pub fields: Fields<'a>,
    pub compared: &'a [bool],
    pub course_id: Option<&'a str>,
    pub section_id: Option<&'a str>,
    pub line: u64,
}

impl RowView<'_> {
    pub fn key_text(&self) -> String {
        self.key_parts.join("/")
    }

    /// Column `i`'s value as Canvas reads it (trimmed); "" for a column the row lacks.
    #[inline]
    pub fn field(&self, i: usize) -> &str {
        match self.fields {
            Fields::Csv(rec) if i < rec.len() => rec.value(i),
            Fields::Values(v) if i < v.len() => v[i],
            _ => "",
        }
    }

    /// The hash of column `i`'s value, 0 for a column never compared. Computed on demand:
    /// `plan` hashes only the columns its baseline has, on its judging thread.
    pub fn value(&self, i: usize) -> u32 {
        if self.compared[i] {
            value_hash(self.field(i))
        } else {
            0
        }
    }
}

/// Where a row's values come from.
#[derive(Clone, Copy)]
pub enum Fields<'a> {
    /// A CSV record as the validator's scanner reads it (trimmed as Canvas trims).
    Csv(&'a crate::validate::CsvRecord),
    /// Values already trimmed, one per column of the file (IMS Enterprise, `super::ims`).
    Values(&'a [&'a str]),
}

/// What reads a bundle's rows as they stream by.
pub trait Sink {
    /// A file of a known kind starts (before its rows; also for a file without rows).
    fn file(&mut self, f: &FileInfo);
    fn row(&mut self, f: &FileInfo, r: &RowView);
}

impl Sink for BundleRows {
    fn file(&mut self, f: &FileInfo) {
        self.kinds.entry(f.kind).or_default();
    }

    fn row(&mut self, f: &FileInfo, r: &RowView) {
        if f.kind == "term"
            && let Some(t) = r.term
        {
            self.terms.push(t.to_string());
        }
        let values = f
            .headers
            .iter()
            .enumerate()
            .filter(|(_, h)| !ignored_column(h))
            .map(|(i, h)| (h.clone(), r.value(i)))
            .collect();
        self.kinds.entry(f.kind).or_default().push(Row {
            key: r.key,
            key_text: r.key_text(),
            term: r.term.map(str::to_string),
            status: r.status.to_string(),
            values,
            course_id: r.course_id.map(str::to_string),
            section_id: r.section_id.map(str::to_string),
            file: f.name.clone(),
            line: r.line,
        });
    }
}

/// What a bundle has, without its rows: the kinds of its files and its terms file's term ids.
#[derive(Debug, Default)]
pub struct Outline {
    pub kinds: std::collections::BTreeSet<&'static str>,
    pub terms: Vec<String>,
}

impl Sink for Outline {
    fn file(&mut self, f: &FileInfo) {
        self.kinds.insert(f.kind);
    }

    fn row(&mut self, f: &FileInfo, r: &RowView) {
        if f.kind == "term"
            && let Some(t) = r.term
        {
            self.terms.push(t.to_string());
        }
    }
}

/// FNV-1a as a [`std::hash::Hasher`] for the id maps: SIS ids are short, and a plan looks one
/// up per enrollment (SipHash was a third of the time spent there).
#[derive(Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Id → id (a course's term, a section's course).
pub type IdMap = HashMap<String, String, std::hash::BuildHasherDefault<Fnv>>;

/// Where each course and section of the bundle (or of the baseline) belongs: a section to
/// its course, a course to its term; enrollments find theirs through these.
#[derive(Debug, Default, Clone)]
pub struct TermMap {
    pub course_term: IdMap,
    pub section_course: IdMap,
}

impl TermMap {
    pub fn add(&mut self, rows: &BundleRows) {
        for r in rows.kinds.get("course").into_iter().flatten() {
            self.add_row(
                "course",
                r.course_id.as_deref(),
                r.section_id.as_deref(),
                r.term.as_deref(),
            );
        }
        for r in rows.kinds.get("section").into_iter().flatten() {
            self.add_row(
                "section",
                r.course_id.as_deref(),
                r.section_id.as_deref(),
                r.term.as_deref(),
            );
        }
    }

    /// Learn from one course or section row (streaming readers call it as rows come, in
    /// Canvas's kind order: courses before sections before enrollments).
    pub fn add_row(
        &mut self,
        kind: &str,
        course_id: Option<&str>,
        section_id: Option<&str>,
        term: Option<&str>,
    ) {
        match (kind, course_id, section_id, term) {
            ("course", Some(c), _, Some(t)) => {
                self.course_term.insert(c.to_string(), t.to_string());
            }
            ("section", Some(c), Some(s), _) => {
                self.section_course.insert(s.to_string(), c.to_string());
            }
            _ => {}
        }
    }

    /// The term of a course, section or enrollment row, where it can be known.
    pub fn term_of(&self, kind: &str, r: &Row) -> Option<String> {
        self.term_of_ref(
            kind,
            r.term.as_deref(),
            r.course_id.as_deref(),
            r.section_id.as_deref(),
        )
        .map(str::to_string)
    }

    /// [`TermMap::term_of`] without a copy.
    pub fn term_of_ref<'a>(
        &'a self,
        kind: &str,
        term: Option<&'a str>,
        course_id: Option<&'a str>,
        section_id: Option<&str>,
    ) -> Option<&'a str> {
        let course = match kind {
            "course" => return term,
            "section" => course_id,
            "enrollment" => section_id
                .and_then(|s| self.section_course.get(s).map(String::as_str))
                .or(course_id),
            _ => return None,
        }?;
        self.course_term.get(course).map(String::as_str)
    }
}

/// The given path, absolute (the journal and a pending baseline name it).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Baselines on disk hold these hashes: a change must come with a new format version.
    #[test]
    fn the_row_hash_is_pinned_and_tells_parts_apart() {
        assert_eq!(row_hash(&["u1", "c1", "student"]), 7967758888780521412);
        assert_eq!(value_hash("2026-01-12T00:00:00Z"), 3805321796);
        assert_ne!(row_hash(&["ab", "c"]), row_hash(&["a", "bc"]));
        assert_ne!(row_hash(&["a", ""]), row_hash(&["a"]));
        assert_ne!(row_hash(&["a\0"]), row_hash(&["a"]));
        assert_ne!(value_hash(""), 0);
    }
}
