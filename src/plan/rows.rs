//! A bundle's rows as the plan sees them: per row its kind, the key Canvas finds the object
//! by, its term (where the kind has one), its status, and a hash of each column's value after
//! Canvas's trimming.
//!
//! Keys are what Canvas's importers look objects up by (§6.4, `lib/sis/*_importer.rb`): a
//! user by `user_id`, a course by `course_id`, an enrollment by its course (or section), its
//! user and its role, and so on.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::exit::{Failure, Result};
use crate::validate::kinds;

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

/// FNV-1a: a fast, stable hash (the baseline on disk must hash the same next year).
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

/// A column value's hash; never 0, which stands for "column absent".
pub fn value_hash(v: &str) -> u32 {
    let h = hash64(&[v]);
    ((h >> 32) as u32 ^ h as u32).max(1)
}

/// Read the bundle at `path`: a CSV file, a zip of CSVs, or a directory of CSVs; or an IMS
/// Enterprise file, or a zip of them (`super::ims`).
pub fn read_bundle(path: &Path) -> Result<BundleRows> {
    let mut out = BundleRows::default();
    let unreadable = |p: &Path, e: &dyn std::fmt::Display| {
        Failure::no_input(format!("{}: {e}", p.display())).kind("input_unreadable")
    };
    if path.is_dir() {
        let files = crate::bundle::csv_files(path).map_err(|e| unreadable(path, &e))?;
        for f in files {
            let file = std::fs::File::open(&f).map_err(|e| unreadable(&f, &e))?;
            let name = f.strip_prefix(path).unwrap_or(&f).display().to_string();
            read_csv(file, &name, &mut out).map_err(|e| unreadable(&f, &e))?;
        }
    } else if is_zip(path) {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
        let mut z = zip::ZipArchive::new(file).map_err(|e| unreadable(path, &e))?;
        let mut names: Vec<(usize, String)> = (0..z.len())
            .filter_map(|i| {
                let n = z.by_index(i).ok()?.name().to_string();
                let base = n.rsplit('/').next().unwrap_or(&n).to_string();
                let lower = n.to_ascii_lowercase();
                ((lower.ends_with(".csv") || lower.ends_with(".xml"))
                    && !base.starts_with('.')
                    && !n.starts_with("__MACOSX"))
                .then_some((i, n))
            })
            .collect();
        names.sort_by(|a, b| a.1.cmp(&b.1));
        for (i, n) in names {
            let entry = z.by_index(i).map_err(|e| unreadable(path, &e))?;
            if n.to_ascii_lowercase().ends_with(".xml") {
                super::ims::read(std::io::BufReader::new(entry), &n, &mut out)
                    .map_err(|e| unreadable(path, &e))?;
            } else {
                read_csv(entry, &n, &mut out).map_err(|e| unreadable(path, &e))?;
            }
        }
    } else {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.to_ascii_lowercase().ends_with(".xml") {
            super::ims::read(std::io::BufReader::new(file), &name, &mut out)
                .map_err(|e| unreadable(path, &e))?;
        } else {
            read_csv(file, &name, &mut out).map_err(|e| unreadable(path, &e))?;
        }
    }
    Ok(out)
}

fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

fn read_csv(r: impl Read, name: &str, out: &mut BundleRows) -> std::result::Result<(), csv::Error> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(r);
    let headers: Vec<String> = rdr
        .headers()?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let has = |c: &str| headers.iter().any(|h| h == c);
    let Some(k) = kinds::recognise(&has) else {
        return Ok(());
    };
    let kind = kinds::KINDS[k].name;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let key_cols: Vec<Vec<usize>> = key_columns(kind)
        .iter()
        .map(|group| group.iter().filter_map(|c| col(c)).collect())
        .collect();
    let status_col = col("status");
    let term_col = col("term_id");
    let course_col = col("course_id");
    let section_col = col("section_id");
    let id_col = kinds::KINDS[k].defines.and_then(|(_, c)| col(c));
    let rows = out.kinds.entry(kind).or_default();
    let mut record = csv::StringRecord::new();
    while rdr.read_record(&mut record)? {
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let get = |i: usize| record.get(i).map(str::trim).unwrap_or("");
        let key_parts: Vec<&str> = if key_cols.is_empty() {
            id_col.map(get).into_iter().collect()
        } else {
            key_cols
                .iter()
                .map(|g| {
                    g.iter()
                        .map(|&i| get(i))
                        .find(|v| !v.is_empty())
                        .unwrap_or("")
                })
                .collect()
        };
        if key_parts.iter().all(|p| p.is_empty()) {
            continue;
        }
        let values = headers
            .iter()
            .enumerate()
            .filter(|(_, h)| !ignored_column(h))
            .map(|(i, h)| (h.clone(), value_hash(get(i))))
            .collect();
        let opt = |c: Option<usize>| c.map(get).filter(|v| !v.is_empty()).map(str::to_string);
        if kind == "term"
            && let Some(t) = opt(col("term_id"))
        {
            out.terms.push(t);
        }
        rows.push(Row {
            key: hash64(&key_parts),
            key_text: key_parts.join("/"),
            term: opt(term_col),
            status: status_col.map(get).unwrap_or("").to_ascii_lowercase(),
            values,
            course_id: opt(course_col),
            section_id: opt(section_col),
            file: name.to_string(),
            line,
        });
    }
    Ok(())
}

/// Where each course and section of the bundle (or of the baseline) belongs: a section to
/// its course, a course to its term; enrollments find theirs through these.
#[derive(Debug, Default, Clone)]
pub struct TermMap {
    pub course_term: HashMap<String, String>,
    pub section_course: HashMap<String, String>,
}

impl TermMap {
    pub fn add(&mut self, rows: &BundleRows) {
        for r in rows.kinds.get("course").into_iter().flatten() {
            if let (Some(c), Some(t)) = (&r.course_id, &r.term) {
                self.course_term.insert(c.clone(), t.clone());
            }
        }
        for r in rows.kinds.get("section").into_iter().flatten() {
            if let (Some(s), Some(c)) = (&r.section_id, &r.course_id) {
                self.section_course.insert(s.clone(), c.clone());
            }
        }
    }

    /// The term of a course, section or enrollment row, where it can be known.
    pub fn term_of(&self, kind: &str, r: &Row) -> Option<String> {
        let course = match kind {
            "course" => return r.term.clone(),
            "section" => r.course_id.clone(),
            "enrollment" => r
                .section_id
                .as_ref()
                .and_then(|s| self.section_course.get(s).cloned())
                .or_else(|| r.course_id.clone()),
            _ => return None,
        }?;
        self.course_term.get(&course).cloned()
    }
}

/// The given path, absolute (the journal and a pending baseline name it).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
