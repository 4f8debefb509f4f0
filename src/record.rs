//! The run record Canvas throws away: one folder per run under `[archive] dir` (contract,
//! "Guard, run record, notifications" and "A run"), read back by `history` and `health`, and
//! the Prometheus textfile of `[metrics]`.
//!
//! A run is a submit that started an upload (or, later, one the guard held). Its folder holds
//! `run.json`: the options, the bundle's path, size and sha256, the times, the import id,
//! every state seen with its time, the final SisImport and the exit code; and `errors.csv`,
//! every error and warning row, fetched when the import ends (Canvas drops them after 30
//! days). Every file is written atomically (a new file, then rename), so an interrupted run
//! leaves a readable folder; whichever command next sees the import end (`submit --watch`,
//! `watch`, `status`) completes it. Retention is by `keep_days` and `max_bytes`, oldest first.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canvas::Import;
use crate::exit::{Failure, Result};

/// One state an import was seen in, and when.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Seen {
    pub state: String,
    pub at: String,
}

/// `run.json`. Fields missing from an older file read as their defaults.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Run {
    pub run_id: String,
    pub submitted_at: String,
    pub profile: Option<String>,
    pub base_url: String,
    pub account: String,
    pub import_id: Option<u64>,
    pub bundle: Bundle,
    /// The import options sent, as the query string's pairs.
    pub options: Vec<(String, String)>,
    pub states: Vec<Seen>,
    pub ended_at: Option<String>,
    pub state: Option<String>,
    pub duration_s: Option<u64>,
    pub rows: std::collections::BTreeMap<String, u64>,
    pub warnings: u64,
    pub errors: u64,
    pub exit_code: Option<u8>,
    pub held: bool,
    /// The final SisImport, as Canvas sent it.
    pub sis_import: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bundle {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Whether a command run with `profile` (`--profile`, `CANVAS_SIS_PROFILE`) looks at `run`:
/// with a profile, its runs only (a monitor of one Canvas is not woken by another's); without
/// one, every run.
pub fn of_profile(profile: Option<&str>, run: &Run) -> bool {
    profile.is_none_or(|p| run.profile.as_deref() == Some(p))
}

/// [`Run::outcome`] of a run whose upload made no import.
pub const UPLOAD_FAILED: &str = "upload_failed";

impl Run {
    /// Note the import as seen now; the end fills in state, counts, times and the SisImport.
    pub fn saw(&mut self, imp: &Import) {
        let state = imp.state_str().to_string();
        if self.states.last().is_none_or(|s| s.state != state) {
            self.states.push(Seen {
                state: state.clone(),
                at: jiff::Timestamp::now().to_string(),
            });
        }
        if imp.state.is_terminal() {
            self.state = Some(state);
            self.ended_at = imp.ended_at.or(imp.updated_at).map(|t| t.to_string());
            self.duration_s = imp.elapsed().map(|d| d.as_secs());
            self.rows = imp
                .kind_counts()
                .into_iter()
                .map(|(k, v)| (crate::canvas::types::kind_name(&k), v))
                .collect();
            let (w, e) = imp.warning_error_counts();
            self.warnings = w;
            self.errors = e;
            self.exit_code = Some(imp.state.exit().code());
            self.sis_import = Some(imp.raw.clone());
        }
    }

    pub fn ended(&self) -> bool {
        self.state.is_some() || self.exit_code.is_some()
    }

    /// Whether the run failed: the import failed or was aborted, or its upload failed.
    pub fn failed(&self) -> bool {
        match self.state.as_deref() {
            Some(s) => matches!(s, "failed" | "failed_with_messages" | "aborted"),
            None => self.exit_code.is_some_and(|c| c > 1) && self.import_id.is_none(),
        }
    }

    /// What the run ended in, in a word: Canvas's final state; `upload_failed` when it
    /// ended with no import (refused, unreachable, interrupted: the exit code says which);
    /// `held`; None while it goes on (or was not seen ending).
    pub fn outcome(&self) -> Option<&str> {
        match (&self.state, self.exit_code) {
            (Some(s), _) => Some(s),
            (None, Some(_)) if self.import_id.is_none() => Some(UPLOAD_FAILED),
            _ if self.held => Some("held"),
            _ => None,
        }
    }

    pub fn succeeded(&self) -> bool {
        matches!(
            self.state.as_deref(),
            Some("imported" | "imported_with_messages")
        )
    }

    /// A run for an import that Canvas lists (`--from-canvas`): what Canvas says of it, with
    /// no run id when this host did not send it.
    pub fn from_canvas(imp: &Import, base_url: &str, account: &str) -> Run {
        let mut run = Run {
            submitted_at: imp.created_at.map(|t| t.to_string()).unwrap_or_default(),
            base_url: base_url.to_string(),
            account: account.to_string(),
            import_id: Some(imp.id),
            ..Default::default()
        };
        run.saw(imp);
        if let Some(at) = imp.created_at
            && let Some(first) = run.states.first_mut()
        {
            first.at = at.to_string();
        }
        run
    }

    /// The `history --json` row (contract, "history --json").
    pub fn history_json(&self) -> Value {
        serde_json::json!({
            "run_id": self.run_id,
            "submitted_at": self.submitted_at,
            "profile": self.profile,
            "account": self.account,
            "import_id": self.import_id,
            "state": self.state,
            "held": self.held,
            "duration_s": self.duration_s,
            "rows": self.rows,
            "warnings": self.warnings,
            "errors": self.errors,
            // A run still held ended its command with exit 6 (its record stays open for
            // the approval).
            "exit_code": self.exit_code.or((self.held && !self.ended()).then_some(6)),
        })
    }
}

/// How a run id writes its time.
const RUN_ID_TIME: &str = "%Y%m%dT%H%M%SZ";

/// A new run's id: when it started, to the second, and this process (`20261205T023000Z-4242`).
pub fn new_run_id() -> String {
    format!(
        "{}-{}",
        jiff::Timestamp::now().strftime(RUN_ID_TIME),
        std::process::id()
    )
}

/// The archive: a dir of run folders, as `[archive]` sets it (the settings' type; what it
/// does is here).
pub use crate::settings::ArchiveSettings as Archive;

impl Archive {
    /// A new run's folder and record, written at once. A run that has an id already (a held
    /// run's) keeps it.
    pub fn start(&self, mut run: Run) -> Result<(PathBuf, Run)> {
        crate::paths::ensure_private_dir(&self.dir).map_err(|e| self.cannot(&self.dir, &e))?;
        if run.run_id.is_empty() {
            run.run_id = new_run_id();
        }
        if run.submitted_at.is_empty() {
            run.submitted_at = jiff::Timestamp::now().to_string();
        }
        let folder = self.dir.join(&run.run_id);
        crate::paths::ensure_private_dir(&folder).map_err(|e| self.cannot(&folder, &e))?;
        self.save(&folder, &run)?;
        Ok((folder, run))
    }

    pub fn save(&self, folder: &Path, run: &Run) -> Result<()> {
        crate::paths::write_atomic(
            &folder.join("run.json"),
            &serde_json::to_vec_pretty(run).expect("a run serializes"),
        )
        .map_err(|e| self.cannot(folder, &e))
    }

    fn cannot(&self, p: &Path, e: &std::io::Error) -> Failure {
        Failure::config(format!("cannot write the run archive {}: {e}", p.display()))
            .kind("state_dir")
            .hint("set [archive] dir to a directory of your own, or dir = \"\" to keep no archive")
            .unless_disk_full(&format!("the run archive {}", p.display()), e)
    }

    /// Every run, newest submitted first (unreadable folders are skipped). An approved run
    /// keeps the id (and so the folder name) of the time it was held, but counts as of its
    /// sending.
    pub fn runs(&self) -> Vec<(PathBuf, Run)> {
        self.runs_and_damaged().0
    }

    /// [`Archive::runs`], and the `run.json` files that are there but do not read (their
    /// runs left out), each said once per process: `history` and `health` showing fewer runs
    /// (or "no runs recorded") must not be taken for the truth. A folder without one is a
    /// run being made (records are written atomically).
    pub fn runs_and_damaged(&self) -> (Vec<(PathBuf, Run)>, Vec<PathBuf>) {
        let (mut runs, mut damaged) = (Vec::new(), Vec::new());
        for f in self.folders() {
            match read_run(&f) {
                Some(r) => runs.push((f, r)),
                None => {
                    let record = f.join("run.json");
                    if std::fs::symlink_metadata(&record).is_ok() {
                        damaged.push(record);
                    }
                }
            }
        }
        say_damaged(&damaged);
        // Stable: runs with no readable time keep their folders' order. Each time parsed
        // once: an archive holds thousands of runs.
        runs.sort_by_cached_key(|(_, r)| {
            std::cmp::Reverse(r.submitted_at.parse::<jiff::Timestamp>().ok())
        });
        (runs, damaged)
    }

    /// The run folders, newest first, from their names alone (a run id starts with its UTC
    /// time to the second): one directory listing, no record read. An archive of 90 days of
    /// hourly imports holds 2,000 runs, and reading every `run.json` took 38 ms of each
    /// submit's start and of each poll of a watch (bench/results-2026-12-06.md).
    pub fn folders(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        let mut out: Vec<(std::ffi::OsString, PathBuf)> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| (e.file_name(), e.path()))
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0));
        out.into_iter().map(|(_, p)| p).collect()
    }

    /// The run `run_id`, if its folder is here.
    pub fn by_id(&self, run_id: &str) -> Option<(PathBuf, Run)> {
        let folder = self.dir.join(run_id);
        let run = read_run(&folder)?;
        Some((folder, run))
    }

    /// The folder of the run that sent `import_id` to this Canvas and account: newest first,
    /// reading records only until it is found (the import watched is nearly always among the
    /// newest).
    pub fn find(&self, base_url: &str, account: &str, import_id: u64) -> Option<(PathBuf, Run)> {
        self.folders().into_iter().find_map(|f| {
            let r = read_run(&f)?;
            (r.import_id == Some(import_id) && r.base_url == base_url && r.account == account)
                .then_some((f, r))
        })
    }

    /// Remove the oldest finished runs past `keep_days`, then past `max_bytes`; held runs
    /// stay until they are approved or discarded.
    pub fn prune(&self) {
        self.prune_these(self.folders());
    }

    /// [`Archive::prune`] on a thread of its own, over the folders there now but `mine` (the
    /// held run being approved, whose record changes meanwhile): for a submit, which lists
    /// them before its run's folder exists and uploads meanwhile.
    pub fn prune_behind(&self, mine: Option<&Path>) -> Pruning {
        let listed: Vec<PathBuf> = self
            .folders()
            .into_iter()
            .filter(|f| Some(f.as_path()) != mine)
            .collect();
        let archive = self.clone();
        match std::thread::Builder::new()
            .name("archive-prune".into())
            .spawn(move || archive.prune_these(listed))
        {
            Ok(h) => Pruning(Some(h)),
            // No thread to be had: this run prunes nothing, the next one will.
            Err(_) => Pruning(None),
        }
    }

    /// [`Archive::prune`] over folders listed earlier (newest first): a submit lists them
    /// before its own run's folder exists, then prunes on a thread while it uploads.
    /// A record is read only where its run may go: a folder whose name says it is younger
    /// than `keep_days` (by a day, against clocks and zones) is kept unread while the archive
    /// is within `max_bytes`.
    pub fn prune_these(&self, folders: Vec<PathBuf>) {
        let now = jiff::Timestamp::now();
        let cutoff = now - jiff::SignedDuration::from_hours(24 * self.keep_days as i64);
        // Run ids are fixed-width UTC times first: compared as text, no parsing per folder.
        let sure = (cutoff + jiff::SignedDuration::from_hours(24))
            .strftime(RUN_ID_TIME)
            .to_string();
        let sizes = self.sizes(&folders);
        let mut total: u64 = sizes.iter().sum();
        let (mut by_age, mut by_size) = (0, 0);
        for (i, (path, size)) in folders.iter().zip(sizes).enumerate().rev() {
            // The newest run stays whatever its size (only age takes it): it is what
            // `health` and last night's errors.csv are read from.
            let newest = i == 0;
            if newest && total > self.max_bytes {
                tracing::warn!(target: "canvas_sis", "archive: the newest run alone ({}) is larger than [archive] max_bytes ({}); it is kept", crate::settings::table::show_size(size), crate::settings::table::show_size(self.max_bytes));
            }
            let young = name_stamp(path).is_some_and(|t| t > sure.as_str());
            if young && (newest || total <= self.max_bytes) {
                continue;
            }
            // Unreadable folders are left alone (and a folder that is no run's, too).
            let Some(run) = read_run(path) else {
                continue;
            };
            if run.held && !run.ended() {
                continue;
            }
            let old = run
                .submitted_at
                .parse::<jiff::Timestamp>()
                .is_ok_and(|t| t < cutoff);
            if (old || (!newest && total > self.max_bytes)) && std::fs::remove_dir_all(path).is_ok()
            {
                total = total.saturating_sub(size);
                if old {
                    by_age += 1;
                } else {
                    by_size += 1;
                }
            }
        }
        if by_age + by_size > 0 {
            tracing::info!(target: "canvas_sis", "archive: removed {by_age} run(s) older than {} days and {by_size} more to stay under {}", self.keep_days, crate::settings::table::show_size(self.max_bytes));
        }
    }
}

/// Retention under way ([`Archive::prune_behind`]). Dropping it waits for the end: a
/// folder left half removed when the process exits would no longer read, so would never go.
#[derive(Debug)]
pub struct Pruning(Option<std::thread::JoinHandle<()>>);

impl Drop for Pruning {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.join();
        }
    }
}

impl Archive {
    /// The folders' sizes. Each is listed again only when the folder changed since the last
    /// pass: the cache ([`crate::paths::archive_sizes`]) keeps name, change time and size of each; every file
    /// of a run folder is written to a new name and renamed in, which changes the folder's
    /// time. A listing per folder was most of a 2,000-run retention pass. The cache is only
    /// that: missing, unreadable or stale lines are measured afresh, and it is never synced.
    fn sizes(&self, folders: &[PathBuf]) -> Vec<u64> {
        use std::fmt::Write as _;
        let Some(cache) = &self.sizes else {
            return folders.iter().map(|f| dir_size(f)).collect();
        };
        let bytes = crate::paths::read_no_follow(cache).unwrap_or_default();
        let known: std::collections::HashMap<&str, (&str, u64)> = std::str::from_utf8(&bytes)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut w = l.split(' ');
                let (name, time, size) = (w.next()?, w.next()?, w.next()?.parse().ok()?);
                Some((name, (time, size)))
            })
            .collect();
        let mut out = Vec::with_capacity(folders.len());
        let mut text = String::new();
        let mut measured = false;
        // Each folder's time from the archive dir's handle, not its whole path: a path walk
        // per folder was most of what was left of the pass.
        use rustix::fs::{AtFlags, Mode, OFlags};
        let handle = rustix::fs::open(
            &self.dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok();
        for f in folders {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let time = handle
                .as_ref()
                .filter(|_| f.parent() == Some(self.dir.as_path()))
                .and_then(|d| rustix::fs::statat(d, name, AtFlags::SYMLINK_NOFOLLOW).ok())
                .map(|st| format!("{}.{:09}", st.st_mtime, st.st_mtime_nsec));
            let size = match (&time, known.get(name)) {
                (Some(t), Some((kt, size))) if t == kt => *size,
                _ => {
                    measured = true;
                    dir_size(f)
                }
            };
            if let Some(t) = time
                && !name.is_empty()
                && !name.contains(' ')
            {
                let _ = writeln!(text, "{name} {t} {size}");
            }
            out.push(size);
        }
        if measured || known.len() != folders.len() {
            let dir = cache.parent().unwrap_or(Path::new("."));
            let kept = crate::paths::ensure_private_dir(dir).and_then(|()| {
                use std::io::Write;
                crate::paths::replace(cache, crate::paths::Durable::No, |f| {
                    f.write_all(text.as_bytes())
                })
            });
            if let Err(e) = kept {
                tracing::debug!(target: "canvas_sis", "cannot keep {}: {e}", cache.display());
            }
        }
        out
    }
}

/// A folder's `run.json`, if it reads.
fn read_run(folder: &Path) -> Option<Run> {
    let mut run: Run = crate::paths::read_json(&folder.join("run.json"))?;
    // Records written before the rows were keyed by kind (`users` then, `user` now).
    if run
        .rows
        .keys()
        .any(|k| crate::canvas::types::kind_name(k) != *k)
    {
        run.rows = std::mem::take(&mut run.rows)
            .into_iter()
            .map(|(k, v)| (crate::canvas::types::kind_name(&k), v))
            .collect();
    }
    Some(run)
}

/// A warning for each run record that does not read, once per process (the archive is read
/// more than once in a run).
fn say_damaged(records: &[PathBuf]) {
    static SAID: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    for record in records {
        if !said.contains(record) {
            tracing::warn!(target: "canvas_sis", "the run record {} does not read: that run is left out of history, health, report and metrics (move the folder away, or restore the file)", record.display());
            said.push(record.clone());
        }
    }
}

/// The time a run folder's name starts with ([`new_run_id`]), as written there
/// (`20261205T023000Z`), if it is one.
fn name_stamp(folder: &Path) -> Option<&str> {
    let stamp = folder.file_name()?.to_str()?.get(..16)?;
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..8) && b[8] == b'T' && digits(9..15) && b[15] == b'Z').then_some(stamp)
}

/// A run folder's `errors.csv` read back as rows shaped like Canvas's error objects (§2.8:
/// `sis_import_id`, `file`, `message`, `row`), for grouping; an empty list when the folder
/// has none (the run had no rows, or it has not ended).
pub fn error_rows(folder: &Path) -> Vec<Value> {
    let Ok(bytes) = crate::paths::read_no_follow(&folder.join("errors.csv")) else {
        return vec![];
    };
    let mut rd = csv::Reader::from_reader(&bytes[..]);
    let Ok(header) = rd.headers().cloned() else {
        return vec![];
    };
    rd.records()
        .flatten()
        .map(|rec| {
            let mut m = serde_json::Map::new();
            for (k, v) in header.iter().zip(rec.iter()) {
                let v = match v {
                    "" => Value::Null,
                    _ => Value::String(v.to_string()),
                };
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
        .collect()
}

/// A held run's `plan.json` (the contract's `plan --json` document), when its folder has one.
pub fn plan(folder: &Path) -> Option<Value> {
    crate::paths::read_json(&folder.join("plan.json"))
}

fn dir_size(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// The Prometheus text of the newest run of each (profile, account) (contract, `[metrics]`),
/// with `kept`'s series (other profiles' and accounts', from the file as it was) after ours.
pub fn metrics_text(runs: &[(PathBuf, Run)], kept: &str) -> String {
    use std::collections::{BTreeMap, BTreeSet};
    use std::fmt::Write as _;
    type Key = (String, String);
    let mut newest: BTreeMap<Key, &Run> = BTreeMap::new();
    let mut success: BTreeMap<Key, i64> = BTreeMap::new();
    let mut held: BTreeMap<Key, u64> = BTreeMap::new();
    for (_, r) in runs {
        let key = (
            r.profile.clone().unwrap_or_else(|| "default".into()),
            r.account.clone(),
        );
        newest.entry(key.clone()).or_insert(r);
        *held.entry(key.clone()).or_insert(0) += u64::from(r.held && !r.ended());
        if r.succeeded()
            && let Some(t) = r
                .ended_at
                .as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        {
            let e = success.entry(key).or_insert(0);
            *e = (*e).max(t.as_second());
        }
    }
    // The other series of the file: those of a (profile, account) this archive has no run of
    // (another profile's archive wrote them), kept as they were.
    let ours: BTreeSet<&Key> = newest.keys().collect();
    let mut others: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in kept
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap_or_default();
        let (Some(p), Some(a)) = (label(line, "profile"), label(line, "account")) else {
            continue;
        };
        let key = (p, a);
        // Our last success stays known when none of our runs here has one (they were
        // pruned, or no archive keeps them).
        let keep_ours =
            name == "canvas_sis_last_success_timestamp_seconds" && !success.contains_key(&key);
        if !ours.contains(&key) || keep_ours {
            others.entry(name).or_default().push(line);
        }
    }
    let esc = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let labels = |(p, a): &Key| format!("profile=\"{}\",account=\"{}\"", esc(p), esc(a));
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, lines: Vec<String>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        for l in others.get(name).into_iter().flatten() {
            let _ = writeln!(out, "{l}");
        }
    };
    metric(
        "canvas_sis_last_run_timestamp_seconds",
        "When the newest run was submitted.",
        newest
            .iter()
            .filter_map(|(k, r)| {
                let t = r.submitted_at.parse::<jiff::Timestamp>().ok()?;
                Some(format!(
                    "canvas_sis_last_run_timestamp_seconds{{{}}} {}",
                    labels(k),
                    t.as_second()
                ))
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_success_timestamp_seconds",
        "When the newest import that ended imported or imported_with_messages ended.",
        success
            .iter()
            .map(|(k, t)| {
                format!(
                    "canvas_sis_last_success_timestamp_seconds{{{}}} {t}",
                    labels(k)
                )
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_run_duration_seconds",
        "How long the newest run's import took.",
        newest
            .iter()
            .filter_map(|(k, r)| {
                Some(format!(
                    "canvas_sis_last_run_duration_seconds{{{}}} {}",
                    labels(k),
                    r.duration_s?
                ))
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_run_state",
        "1 for the state the newest run ended in (upload_failed: it made no import).",
        newest
            .iter()
            .filter_map(|(k, r)| {
                let s = r.outcome().filter(|s| *s != "held")?;
                Some(format!(
                    "canvas_sis_last_run_state{{{},state=\"{}\"}} 1",
                    labels(k),
                    esc(s)
                ))
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_run_rows",
        "Rows of each kind in the newest run.",
        newest
            .iter()
            .flat_map(|(k, r)| {
                r.rows.iter().map(move |(kind, n)| {
                    format!(
                        "canvas_sis_last_run_rows{{{},kind=\"{}\"}} {n}",
                        labels(k),
                        esc(kind)
                    )
                })
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_run_warnings",
        "Warnings of the newest run.",
        newest
            .iter()
            .map(|(k, r)| {
                format!(
                    "canvas_sis_last_run_warnings{{{}}} {}",
                    labels(k),
                    r.warnings
                )
            })
            .collect(),
    );
    metric(
        "canvas_sis_last_run_errors",
        "Errors of the newest run.",
        newest
            .iter()
            .map(|(k, r)| format!("canvas_sis_last_run_errors{{{}}} {}", labels(k), r.errors))
            .collect(),
    );
    metric(
        "canvas_sis_held_runs",
        "Runs the guard holds for approval.",
        held.iter()
            .map(|(k, n)| format!("canvas_sis_held_runs{{{}}} {n}", labels(k)))
            .collect(),
    );
    out
}

/// The value of label `name` in a Prometheus sample line, unescaped.
fn label(line: &str, name: &str) -> Option<String> {
    let open = format!("{name}=\"");
    let labels = &line[line.find('{')? + 1..];
    let at = if labels.starts_with(&open) {
        0
    } else {
        labels.find(&format!(",{open}"))? + 1
    };
    let mut v = String::new();
    let mut chars = labels[at + open.len()..].chars();
    loop {
        match chars.next()? {
            '"' => return Some(v),
            '\\' => match chars.next()? {
                'n' => v.push('\n'),
                c => v.push(c),
            },
            c => v.push(c),
        }
    }
}

/// The account's imports as Canvas lists them (at most `limit`, newest first), as runs whoever
/// sent them (`--from-canvas`).
pub async fn canvas_runs(
    client: &crate::canvas::Client,
    net: &crate::settings::Network,
    limit: usize,
) -> Result<Vec<Run>> {
    let listed = client
        .list_imports(&Default::default(), Some(limit))
        .await?;
    Ok(listed
        .into_iter()
        .filter_map(|v| Import::from_value(v).ok())
        .map(|imp| Run::from_canvas(&imp, net.base.as_str(), &net.account))
        .collect())
}

/// After a run changed the archive: rewrite the metrics textfile, when `[metrics]` names one.
/// A failure is a WARN line and never the command's outcome.
pub fn refresh_metrics(textfile: Option<&Path>, archive: &Archive) {
    if let Some(m) = textfile
        && let Err(e) = write_metrics(m, archive)
    {
        tracing::warn!(target: "canvas_sis", "cannot write the metrics textfile {}: {e}", m.display());
    }
}

/// Write the metrics textfile atomically, under a lock so that several profiles writing one
/// file each keep their own series (every run reads the whole archive).
pub fn write_metrics(path: &Path, archive: &Archive) -> std::io::Result<()> {
    write_metrics_of(path, &archive.runs())
}

/// [`write_metrics`] from these runs (with no archive: the one that just ended).
///
/// The textfile collector's dir is often shared (node_exporter reads it, other jobs write it),
/// so nothing planted there is followed: the lock is opened without following a symlink, and
/// the old file's series are kept only from a regular file of this user's. The new file is
/// 0644 (no secret in it; node_exporter runs as another user).
pub fn write_metrics_of(path: &Path, runs: &[(PathBuf, Run)]) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    if let Ok(m) = std::fs::metadata(dir)
        && m.mode() & 0o002 != 0
        && m.mode() & 0o1000 == 0
    {
        tracing::warn!(target: "canvas_sis", "the metrics dir {} is writable by everyone: anyone can replace canvas-sis's metrics there; make it 0755 or 1777", dir.display());
    }
    let lock_path = path.with_extension("lock");
    let lock = crate::paths::no_follow()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)?;
    lock.lock()?;
    // Another profile's series stay: its runs may be in another archive.
    let ours = |m: &std::fs::Metadata| m.is_file() && m.uid() == crate::paths::user_id();
    let was = match std::fs::symlink_metadata(path) {
        Ok(m) if ours(&m) => crate::paths::read_no_follow(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let r = crate::paths::replace(path, crate::paths::Durable::Yes, |f| {
        use std::io::Write;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.write_all(metrics_text(runs, &was).as_bytes())
    });
    drop(lock);
    r
}

/// What a command knows when it sees an import: where to keep its record.
pub struct Keeper<'a> {
    pub archive: &'a Archive,
    pub metrics: Option<&'a Path>,
    pub base_url: &'a str,
    pub account: &'a str,
}

impl Keeper<'_> {
    /// An import this host sent was seen: note its state; at its end, complete the run
    /// (the final SisImport, `errors.csv` with every row of every page, the exit code), then
    /// retention and the metrics textfile. Quiet for imports this host did not send; a
    /// failure is a log line and never changes the command's outcome.
    ///
    /// Returns the run and its error rows when this call saw it end (for the notification).
    pub async fn saw(
        &self,
        client: &crate::canvas::Client,
        imp: &Import,
    ) -> Option<(Run, Vec<Value>)> {
        let (folder, mut run) = self.archive.find(self.base_url, self.account, imp.id)?;
        if run.ended() {
            return None;
        }
        run.saw(imp);
        let mut error_rows = vec![];
        if imp.state.is_terminal() {
            let rows = if imp.warning_error_counts() == (0, 0) {
                Ok(vec![])
            } else {
                // The errors are one more request: space it out as a poll would be when the
                // rate-limit bucket runs low (§7.2).
                let wait =
                    crate::canvas::retry::pace(std::time::Duration::ZERO, client.rate_remaining());
                tokio::time::sleep(wait).await;
                client.import_errors(Some(imp.id), false).await
            };
            match rows {
                Ok(rows) => {
                    let csv = crate::canvas::ops::errors_csv(&rows).unwrap_or_default();
                    if let Err(e) =
                        crate::paths::write_atomic(&folder.join("errors.csv"), csv.as_bytes())
                    {
                        tracing::warn!(target: "canvas_sis", "import {}: cannot keep errors.csv in {}: {e}", imp.id, folder.display());
                    }
                    error_rows = rows;
                }
                Err(f) => {
                    tracing::warn!(target: "canvas_sis", "import {}: its errors were not archived: {f}", imp.id);
                }
            }
        }
        if let Err(f) = self.archive.save(&folder, &run) {
            tracing::warn!(target: "canvas_sis", "import {}: {f}", imp.id);
        }
        if !run.ended() {
            return None;
        }
        self.archive.prune();
        refresh_metrics(self.metrics, self.archive);
        Some((run, error_rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, state: &str, warnings: u64) -> Run {
        Run {
            run_id: id.into(),
            submitted_at: "2026-12-01T02:30:00Z".into(),
            account: "self".into(),
            base_url: "https://x/".into(),
            import_id: Some(141),
            state: Some(state.into()),
            ended_at: Some("2026-12-01T02:40:00Z".into()),
            duration_s: Some(600),
            warnings,
            rows: [("user".to_string(), 3)].into(),
            ..Default::default()
        }
    }

    #[test]
    fn metrics_name_and_label_every_series() {
        let runs = vec![
            (PathBuf::new(), run("b", "imported_with_messages", 12)),
            (PathBuf::new(), run("a", "failed", 0)),
        ];
        let m = metrics_text(&runs, "");
        assert!(m.contains("canvas_sis_last_run_state{profile=\"default\",account=\"self\",state=\"imported_with_messages\"} 1"), "{m}");
        assert!(
            m.contains("canvas_sis_last_run_warnings{profile=\"default\",account=\"self\"} 12"),
            "{m}"
        );
        assert!(m.contains("canvas_sis_last_success_timestamp_seconds{profile=\"default\",account=\"self\"} 1796092800"), "{m}");
        assert!(
            m.contains(
                "canvas_sis_last_run_rows{profile=\"default\",account=\"self\",kind=\"user\"} 3"
            ),
            "{m}"
        );
        assert!(m.contains("# TYPE canvas_sis_held_runs gauge"), "{m}");
    }

    #[test]
    fn metrics_keep_the_series_of_profiles_whose_runs_are_elsewhere() {
        let mut p1 = run("b", "failed", 0);
        p1.profile = Some("p \"one\"".into());
        let first = metrics_text(&[(PathBuf::new(), p1)], "");
        // Profile p2 writes next, from its own archive: p1's series stay, ours are new.
        let mut p2 = run("c", "imported", 3);
        p2.profile = Some("p2".into());
        let m = metrics_text(&[(PathBuf::new(), p2.clone())], &first);
        assert!(m.contains("canvas_sis_last_run_state{profile=\"p \\\"one\\\"\",account=\"self\",state=\"failed\"} 1"), "{m}");
        assert!(
            m.contains(
                "canvas_sis_last_run_state{profile=\"p2\",account=\"self\",state=\"imported\"} 1"
            ),
            "{m}"
        );
        assert_eq!(
            m.matches("# TYPE canvas_sis_last_run_state gauge").count(),
            1,
            "{m}"
        );
        // p2 again, now failed: its old series go, p1's stay, each once.
        p2.state = Some("failed".into());
        let again = metrics_text(&[(PathBuf::new(), p2)], &m);
        assert!(
            !again.contains("profile=\"p2\",account=\"self\",state=\"imported\""),
            "{again}"
        );
        assert_eq!(again.matches("state=\"failed\"} 1").count(), 2, "{again}");
        let p1_lines = |t: &str| t.matches("profile=\"p \\\"one\\\"\"").count();
        assert_eq!(p1_lines(&again), p1_lines(&first), "{again}");
        assert_eq!(p1_lines(&m), p1_lines(&first), "{m}");
    }

    /// The textfile collector's dir is shared: a symlink planted as the lock or as the old
    /// textfile is never followed (nothing is made where it points, no series are read from
    /// it), and the new textfile is readable by node_exporter.
    #[test]
    fn metrics_follow_nothing_planted_in_their_dir() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let (shared, victim) = (d.path().join("shared"), d.path().join("victim"));
        std::fs::create_dir_all(&shared).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        let prom = shared.join("canvas.prom");
        let runs = [(PathBuf::new(), run("a", "imported", 0))];

        std::os::unix::fs::symlink(victim.join("made"), shared.join("canvas.lock")).unwrap();
        assert!(
            write_metrics_of(&prom, &runs).is_err(),
            "the planted lock is refused"
        );
        assert!(
            !victim.join("made").exists(),
            "nothing made through the link"
        );
        std::fs::remove_file(shared.join("canvas.lock")).unwrap();

        let secret = victim.join("secret.prom");
        std::fs::write(
            &secret,
            "canvas_sis_held_runs{profile=\"x\",account=\"leak\"} 1\n",
        )
        .unwrap();
        std::os::unix::fs::symlink(&secret, &prom).unwrap();
        write_metrics_of(&prom, &runs).unwrap();
        let m = std::fs::read_to_string(&prom).unwrap();
        assert!(!m.contains("leak"), "no series read through the link: {m}");
        assert!(m.contains("canvas_sis_last_run_state"), "{m}");
        assert!(!std::fs::symlink_metadata(&prom).unwrap().is_symlink());
        let mode = std::fs::metadata(&prom).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn the_last_success_stays_known_after_a_failed_run() {
        let ok = metrics_text(&[(PathBuf::new(), run("a", "imported", 0))], "");
        let failed = metrics_text(&[(PathBuf::new(), run("b", "failed", 0))], &ok);
        let line = "canvas_sis_last_success_timestamp_seconds{profile=\"default\",account=\"self\"} 1796092800";
        assert!(failed.contains(line), "{failed}");
        assert!(failed.contains("state=\"failed\"} 1"), "{failed}");
        assert!(!failed.contains("state=\"imported\""), "{failed}");
    }

    #[test]
    fn a_run_that_made_no_import_is_upload_failed_in_the_metrics() {
        let mut r = run("d", "x", 0);
        r.state = None;
        r.import_id = None;
        r.exit_code = Some(77);
        let m = metrics_text(&[(PathBuf::new(), r)], "");
        assert!(m.contains("canvas_sis_last_run_state{profile=\"default\",account=\"self\",state=\"upload_failed\"} 1"), "{m}");
    }

    #[test]
    fn archive_round_trip_and_retention() {
        let t = tempfile::tempdir().unwrap();
        let a = Archive {
            dir: t.path().join("runs"),
            keep_days: 90,
            max_bytes: 10 << 30,
            keep_bundles: true,
            sizes: None,
        };
        let (folder, mut r) = a
            .start(Run {
                import_id: Some(7),
                base_url: "u".into(),
                account: "self".into(),
                ..Default::default()
            })
            .unwrap();
        r.state = Some("imported".into());
        a.save(&folder, &r).unwrap();
        assert_eq!(
            a.find("u", "self", 7).unwrap().1.state.as_deref(),
            Some("imported")
        );
        // Older than keep_days: pruned.
        let mut old = r.clone();
        old.run_id = "20200101T000000Z-1".into();
        old.submitted_at = "2020-01-01T00:00:00Z".into();
        let of = a.dir.join(&old.run_id);
        std::fs::create_dir(&of).unwrap();
        a.save(&of, &old).unwrap();
        assert_eq!(a.runs().len(), 2);
        a.prune();
        assert_eq!(a.runs().len(), 1);
    }

    fn archive_of(t: &tempfile::TempDir, max_bytes: u64) -> Archive {
        Archive {
            dir: t.path().join("runs"),
            keep_days: 90,
            max_bytes,
            keep_bundles: true,
            sizes: Some(t.path().join("state/archive/runs.sizes")),
        }
    }

    /// A finished run `id` (its folder named by it) holding a file of `bytes` bytes.
    fn finished(a: &Archive, id: &str, bytes: usize) -> PathBuf {
        let f = a.dir.join(id);
        std::fs::create_dir_all(&f).unwrap();
        let r = Run {
            run_id: id.into(),
            submitted_at: jiff::Timestamp::now().to_string(),
            state: Some("imported".into()),
            ..Default::default()
        };
        a.save(&f, &r).unwrap();
        crate::paths::write_atomic(&f.join("bundle.zip"), &vec![0u8; bytes]).unwrap();
        f
    }

    #[test]
    fn a_run_folder_that_grew_is_measured_again_despite_the_size_cache() {
        let t = tempfile::tempdir().unwrap();
        let a = archive_of(&t, 10_000);
        let old = finished(&a, &new_run_id_at("20261201T000000Z"), 1_000);
        let new = finished(&a, &new_run_id_at("20261202T000000Z"), 1_000);
        a.prune();
        assert!(
            a.sizes.as_ref().unwrap().exists(),
            "the first pass keeps the sizes"
        );
        assert_eq!(
            std::fs::read_dir(&a.dir).unwrap().count(),
            2,
            "run folders only"
        );
        assert_eq!(a.runs().len(), 2, "within max_bytes, nothing goes");
        // The newer run's folder gets an errors.csv as its import ends (renamed in, as every
        // file of a run is): the archive is now past max_bytes, and the older run goes.
        // Past the file system's clock tick, so that the folder's time can change.
        std::thread::sleep(std::time::Duration::from_millis(25));
        crate::paths::write_atomic(&new.join("errors.csv"), &vec![b'x'; 8_000]).unwrap();
        a.prune();
        assert!(!old.exists(), "the cache hid the growth");
        assert!(new.exists());
    }

    #[test]
    fn the_size_cache_is_only_a_cache() {
        let t = tempfile::tempdir().unwrap();
        let a = archive_of(&t, 10_000);
        let old = finished(&a, &new_run_id_at("20261201T000000Z"), 6_000);
        let new = finished(&a, &new_run_id_at("20261202T000000Z"), 6_000);
        // A cache that lies (sizes of 0 at other times) and a line of garbage: the folders'
        // times do not match, so they are measured, and the archive is past max_bytes.
        let name = |f: &Path| f.file_name().unwrap().to_string_lossy().into_owned();
        let lies = format!("{} 1 0\nnot a line\n{} 2 0\n", name(&old), name(&new));
        let cache = a.sizes.as_ref().unwrap();
        std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
        std::fs::write(cache, lies).unwrap();
        a.prune();
        assert!(!old.exists());
        assert_eq!(a.runs().len(), 1);
    }

    #[test]
    fn a_young_run_is_not_read_and_a_held_one_stays_past_max_bytes() {
        let t = tempfile::tempdir().unwrap();
        let a = archive_of(&t, 1_000);
        let held = a.dir.join(new_run_id_at("20261201T000000Z"));
        std::fs::create_dir_all(&held).unwrap();
        a.save(
            &held,
            &Run {
                run_id: "held".into(),
                submitted_at: jiff::Timestamp::now().to_string(),
                held: true,
                ..Default::default()
            },
        )
        .unwrap();
        crate::paths::write_atomic(&held.join("bundle.zip"), &[0u8; 5_000]).unwrap();
        let done = finished(&a, &new_run_id_at("20261202T000000Z"), 5_000);
        // The newest run stays, whatever the size.
        let newest = finished(&a, &new_run_id_at("20261203T000000Z"), 5_000);
        // A folder whose record does not read is left alone, as before.
        let unreadable = a.dir.join(new_run_id_at("20261130T000000Z"));
        std::fs::create_dir_all(&unreadable).unwrap();
        std::fs::write(unreadable.join("run.json"), "{").unwrap();
        a.prune();
        assert!(
            held.exists(),
            "a held run stays until approved or discarded"
        );
        assert!(!done.exists(), "past max_bytes, a finished run goes");
        assert!(
            newest.exists(),
            "the newest run stays, even alone past max_bytes"
        );
        assert!(unreadable.exists());
    }

    #[test]
    fn pruning_behind_leaves_the_run_being_approved_alone() {
        let t = tempfile::tempdir().unwrap();
        let a = archive_of(&t, 1_000);
        let mine = finished(&a, &new_run_id_at("20261201T000000Z"), 5_000);
        let other = finished(&a, &new_run_id_at("20261202T000000Z"), 5_000);
        let newest = finished(&a, &new_run_id_at("20261203T000000Z"), 5_000);
        drop(a.prune_behind(Some(&mine)));
        assert!(mine.exists());
        assert!(!other.exists());
        assert!(newest.exists());
    }

    #[test]
    fn folders_come_newest_first_and_names_tell_their_time() {
        let t = tempfile::tempdir().unwrap();
        let a = archive_of(&t, 10 << 30);
        for id in [
            "20261202T000000Z-9",
            "20261203T000000Z-1",
            "20261201T235959Z-7",
        ] {
            finished(&a, id, 1);
        }
        let names: Vec<String> = a
            .folders()
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "20261203T000000Z-1",
                "20261202T000000Z-9",
                "20261201T235959Z-7"
            ]
        );
        assert_eq!(
            name_stamp(Path::new("x/20261201T235959Z-7")),
            Some("20261201T235959Z")
        );
        assert_eq!(name_stamp(Path::new("x/held-run")), None);
        assert_eq!(name_stamp(Path::new("x/2026120XT235959Z-7")), None);
        assert!(new_run_id().starts_with(&jiff::Timestamp::now().strftime("%Y").to_string()));
        assert!(name_stamp(Path::new(&new_run_id())).is_some());
    }

    /// A run id of the usual shape, at a given time.
    fn new_run_id_at(stamp: &str) -> String {
        format!("{stamp}-{}", std::process::id())
    }
}
