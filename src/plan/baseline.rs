//! The baseline: what Canvas holds after the bundles it imported (contract, "Baseline").
//!
//! For plain and batch imports it is the merged state of every bundle Canvas imported for a
//! URL and account (a later row for a key replaces an earlier one, column by column; batch
//! mode's removals applied); for diffing it is the last imported bundle of that data set.
//! Each row keeps its key, term, status and one hash per column, never a value: a baseline
//! holds no SIS data and no password.
//!
//! A submit leaves the bundle's rows as a pending baseline named by the import id; whichever
//! command sees that import end (`submit --watch`, `watch`, `status`) folds it in when it
//! ended `imported` or `imported_with_messages`, and drops it otherwise. Files are written
//! atomically in the private state dir, and never pruned.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::rows::{BundleRows, Row, TermMap};
use crate::exit::{Failure, Result};

/// One object as the baseline knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The key in words (`u1/c1/student`), for a plan's examples.
    pub key: String,
    pub term: Option<String>,
    pub status: String,
    pub live: bool,
    /// One hash per column of [`KindState::cols`]; 0: never given.
    pub values: Vec<u32>,
}

/// The objects of one kind.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KindState {
    pub cols: Vec<String>,
    pub rows: HashMap<u64, Entry>,
}

impl KindState {
    fn col(&mut self, name: &str) -> usize {
        match self.cols.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.cols.push(name.to_string());
                for e in self.rows.values_mut() {
                    e.values.push(0);
                }
                self.cols.len() - 1
            }
        }
    }

    /// Lay a row over what is there, column by column (a column the row lacks keeps its
    /// value, as Canvas leaves a field alone when the file has no column for it).
    fn apply(&mut self, kind: &str, r: &Row, term: Option<String>) {
        let idx: Vec<(usize, u32)> = r.values.iter().map(|(c, v)| (self.col(c), *v)).collect();
        let width = self.cols.len();
        let status = if r.status.is_empty() {
            "active".to_string()
        } else {
            r.status.clone()
        };
        let e = self.rows.entry(r.key).or_insert_with(|| Entry {
            key: r.key_text.clone(),
            term: None,
            status: String::new(),
            live: false,
            values: vec![0; width],
        });
        e.values.resize(width, 0);
        for (i, v) in idx {
            e.values[i] = v;
        }
        if term.is_some() {
            e.term = term;
        }
        e.live = !super::deletes(kind, &status);
        e.status = status;
    }
}

/// What the baseline is about.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Meta {
    pub base_url: String,
    pub account: String,
    pub data_set: Option<String>,
    /// The imports folded in, oldest first.
    pub imports: Vec<u64>,
    pub updated_at: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub meta: Meta,
    pub kinds: BTreeMap<String, KindState>,
    pub course_term: HashMap<String, String>,
    pub section_course: HashMap<String, String>,
}

/// How an import scopes its removals (the options that matter to the baseline and plan).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    /// Batch mode's term (the SIS term id, as the bundle's term_id column names it).
    pub batch_terms: Vec<String>,
    pub diffing: Option<String>,
    pub skip_deletes: bool,
    pub enrollment_drop: Option<String>,
    pub diffing_drop: Option<String>,
    pub user_remove: Option<String>,
}

impl Scope {
    /// The status a removal gives an object of `kind`.
    pub fn drop_status(&self, kind: &str) -> String {
        let s = match kind {
            "enrollment" if self.diffing.is_some() => self.diffing_drop.clone(),
            "enrollment" => self.enrollment_drop.clone(),
            "user" if self.diffing.is_some() => self.user_remove.clone(),
            _ => None,
        };
        s.unwrap_or_else(|| "deleted".into())
    }

    /// Whether an object of the baseline that the bundle lacks is removed by this import.
    pub fn removes(&self, kind: &str, term: Option<&str>) -> bool {
        if self.skip_deletes {
            return false;
        }
        if self.diffing.is_some() {
            return true;
        }
        // SisBatch#remove_previous_imports: courses, sections and enrollments of the batch
        // term that an SIS import made.
        matches!(kind, "course" | "section" | "enrollment")
            && term.is_some_and(|t| self.batch_terms.iter().any(|b| b == t))
    }
}

impl Baseline {
    pub fn term_map(&self) -> TermMap {
        TermMap {
            course_term: self.course_term.clone(),
            section_course: self.section_course.clone(),
        }
    }

    /// Fold in an imported bundle: its rows over the state (or, for diffing, in its place),
    /// then the removals its scope makes.
    pub fn apply(&mut self, rows: &BundleRows, scope: &Scope, import_id: u64) {
        if scope.diffing.is_some() {
            self.kinds.clear();
            self.course_term.clear();
            self.section_course.clear();
        }
        let mut terms = self.term_map();
        terms.add(rows);
        self.course_term = terms.course_term.clone();
        self.section_course = terms.section_course.clone();
        for (kind, list) in &rows.kinds {
            let state = self.kinds.entry(kind.to_string()).or_default();
            let mut seen = std::collections::HashSet::with_capacity(list.len());
            for r in list {
                state.apply(kind, r, terms.term_of(kind, r));
                seen.insert(r.key);
            }
            if scope.diffing.is_none() {
                let drop = scope.drop_status(kind);
                for (k, e) in state.rows.iter_mut() {
                    if e.live && !seen.contains(k) && scope.removes(kind, e.term.as_deref()) {
                        e.live = !super::deletes(kind, &drop);
                        e.status = drop.clone();
                    }
                }
            }
        }
        // A batch with no rows of a kind still removes that kind's objects in its terms.
        if scope.diffing.is_none() && !scope.batch_terms.is_empty() {
            for kind in ["course", "section", "enrollment"] {
                if rows.kinds.contains_key(kind) {
                    continue;
                }
                if let Some(state) = self.kinds.get_mut(kind) {
                    let drop = scope.drop_status(kind);
                    for e in state.rows.values_mut() {
                        if e.live && scope.removes(kind, e.term.as_deref()) {
                            e.live = !super::deletes(kind, &drop);
                            e.status = drop.clone();
                        }
                    }
                }
            }
        }
        self.meta.imports.push(import_id);
        self.meta.updated_at = jiff::Timestamp::now().to_string();
    }
}

/// A baseline of what Canvas holds now, from its provisioning report's rows (§10.3). The
/// report speaks Canvas's words: a concluded course or enrollment is `completed` to an
/// import, an unpublished course or an invited enrollment is live. Its dates are written
/// differently from a bundle's, and its Canvas ids are not in a bundle: those columns are
/// left out, so that they never read as updates. So is an account's `parent_account_id`: the
/// report names the root account by its SIS id where a bundle leaves it empty.
pub fn from_report(mut rows: BundleRows, base_url: &str, account: &str) -> Baseline {
    for (kind, list) in rows.kinds.iter_mut() {
        for r in list.iter_mut() {
            r.status = match r.status.as_str() {
                "concluded" => "completed".into(),
                "unpublished" | "invited" | "creation_pending" | "available" | "claimed" => {
                    "active".into()
                }
                s => s.to_string(),
            };
            r.values.retain(|(c, _)| {
                !(c.ends_with("_date")
                    || c.starts_with("canvas_")
                    || c == "created_by_sis"
                    || c == "authentication_provider_id"
                    || (*kind == "account" && c == "parent_account_id"))
            });
        }
    }
    let mut b = Baseline {
        meta: Meta {
            base_url: base_url.to_string(),
            account: account.to_string(),
            data_set: None,
            imports: vec![],
            updated_at: jiff::Timestamp::now().to_string(),
        },
        ..Default::default()
    };
    b.apply(&rows, &Scope::default(), 0);
    b.meta.imports.clear();
    b
}

/// Where the baseline of a Canvas URL, account and data set lives.
pub fn baseline_path(
    state_dir: &Path,
    base_url: &str,
    account: &str,
    data_set: Option<&str>,
) -> PathBuf {
    let id = super::rows::hash64(&[base_url, account, data_set.unwrap_or("")]);
    state_dir.join("baselines").join(format!("{id:016x}.json"))
}

/// A pending baseline: the rows an import sent, until it ends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    pub meta: Meta,
    pub scope: Scope,
    pub kinds: BTreeMap<String, Vec<Row>>,
    pub terms: Vec<String>,
}

impl Pending {
    pub fn new(meta: Meta, scope: Scope, rows: &BundleRows) -> Pending {
        Pending {
            meta,
            scope,
            kinds: rows
                .kinds
                .iter()
                .map(|(k, list)| (k.to_string(), list.clone()))
                .collect(),
            terms: rows.terms.clone(),
        }
    }

    pub fn rows(&self) -> BundleRows {
        let kinds = self
            .kinds
            .iter()
            .filter_map(|(k, list)| {
                let kind = crate::validate::kinds::kind_by_name(k)?;
                Some((kind.name, list.clone()))
            })
            .collect();
        BundleRows {
            kinds,
            terms: self.terms.clone(),
        }
    }
}

pub fn pending_path(state_dir: &Path, import_id: u64) -> PathBuf {
    state_dir.join("pending").join(format!("{import_id}.json"))
}

/// Read a baseline or pending file; `Ok(None)` when there is none.
pub fn load<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let bytes = match crate::paths::read_no_follow(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(corrupt(path, &e));
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| corrupt(path, &e))
}

fn corrupt(path: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        crate::exit::Exit::NoInput,
        format!("the baseline {} cannot be read: {e}", path.display()),
    )
    .kind("baseline_unreadable")
    .hint("compare with Canvas's own state instead (`plan --against canvas`, or `[guard] against = \"canvas\"` for submit), or move the file aside: the next import that ends well makes a new one")
}

/// Write atomically (a new file renamed over the old) in a private dir.
pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let fail = |e: &dyn std::fmt::Display| {
        Failure::config(format!("cannot write {}: {e}", path.display())).kind("state_dir")
    };
    crate::paths::ensure_private_dir(dir).map_err(|e| fail(&e))?;
    let bytes = serde_json::to_vec(value).map_err(|e| fail(&e))?;
    crate::paths::write_atomic(path, &bytes).map_err(|e| fail(&e))
}
