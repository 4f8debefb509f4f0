//! The state journal: every import this host submitted, written before the watch starts, so
//! `watch --last` can resume and a re-submit of the same content is noticed.
//!
//! One JSON file in the state dir, rewritten atomically (write a temp file, fsync, rename,
//! and for a new entry fsync the directory), so a crash leaves either the old or the new
//! journal, never half. It keeps the newest `KEEP` entries.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exit::{Failure, Result};

const KEEP: usize = 500;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// None while the upload is under way (or if its answer was lost).
    pub import_id: Option<u64>,
    pub base_url: String,
    pub account: String,
    pub file: String,
    pub bytes: u64,
    /// Empty until known: an upload hashes the bundle as it sends it, and the entry gets its
    /// sha256 when the upload ends.
    #[serde(default)]
    pub sha256: String,
    /// When the upload started (RFC 3339): the lookup window for a lost answer.
    pub submitted_at: String,
    #[serde(default)]
    pub pid: u32,
    /// The upload failed for sure (Canvas refused it, or it never got there): nothing was
    /// created, so it does not count as an earlier submit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

#[derive(Clone, Debug)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    pub fn new(state_dir: &Path) -> Journal {
        Journal {
            path: state_dir.join("journal.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entries on disk. A journal that does not read is set aside (renamed, for a person
    /// to look at) with a warning, and a new one starts: `--once` and `watch --last` then know
    /// no earlier submit, which must not pass unsaid.
    pub fn entries(&self) -> Vec<Entry> {
        let bytes = match crate::paths::read_no_follow(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return vec![],
            Err(e) => {
                tracing::warn!(target: "canvas_sis", "cannot read the state journal {}: {e}; --once and watch --last see no earlier submit", self.path.display());
                return vec![];
            }
        };
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                let aside = self.path.with_extension(format!(
                    "json.unreadable-{}",
                    jiff::Timestamp::now().as_second()
                ));
                let kept = std::fs::rename(&self.path, &aside).is_ok();
                tracing::warn!(target: "canvas_sis", "the state journal {} does not read ({e}){}; a new one starts, and --once and watch --last see no earlier submit", self.path.display(),
                    if kept { format!(": kept as {}", aside.display()) } else { String::new() });
                vec![]
            }
        }
    }

    /// Add an entry, or update the one with the same submitted_at and pid and the same
    /// sha256 (or none yet: recorded before its upload ended). On disk when it returns.
    pub fn record(&self, e: &Entry) -> Result<()> {
        self.put(e, true)
    }

    /// [`Journal::record`] for an entry already on disk (its import id, its hash, its end):
    /// the new journal replaces the old one atomically, but is not waited for to reach the
    /// disk (a crash soon after leaves the entry as it was, which is the safe side).
    pub fn update(&self, e: &Entry) -> Result<()> {
        self.put(e, false)
    }

    fn put(&self, e: &Entry, durable: bool) -> Result<()> {
        let mut all = self.entries();
        match all.iter_mut().find(|x| {
            x.submitted_at == e.submitted_at
                && x.pid == e.pid
                && (x.sha256 == e.sha256 || x.sha256.is_empty())
        }) {
            Some(x) => *x = e.clone(),
            None => all.push(e.clone()),
        }
        if all.len() > KEEP {
            let drop = all.len() - KEEP;
            all.drain(..drop);
        }
        self.write(&all, durable)
    }

    /// Write the journal: a temporary file, synced, renamed over the old one; and, when
    /// `durable`, the directory synced so that the rename itself is on disk.
    fn write(&self, all: &[Entry], durable: bool) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let fail = |e: std::io::Error| {
            Failure::config(format!(
                "cannot write the state journal {}: {e}",
                self.path.display()
            ))
            .kind("state_dir")
            .hint("set XDG_STATE_HOME to a writable directory")
            .unless_disk_full(&format!("the state journal {}", self.path.display()), &e)
        };
        crate::paths::ensure_private_dir(dir).map_err(fail)?;
        crate::paths::write_atomic(
            &self.path,
            &serde_json::to_vec_pretty(all).expect("entries serialize"),
        )
        .map_err(fail)?;
        if durable && let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// The newest submit to this Canvas and account that made or may have made an import:
    /// with its id (one this run aborted too), or without one when the upload was
    /// interrupted or its answer lost. Canvas refusals, which made nothing, are skipped; the
    /// newest of them, when it is newer, comes second.
    pub fn last(&self, base_url: &str, account: &str) -> (Option<Entry>, Option<Entry>) {
        let mine: Vec<Entry> = self
            .entries()
            .into_iter()
            .filter(|e| e.base_url == base_url && e.account == account)
            .collect();
        let made = mine
            .iter()
            .rposition(|e| !e.failed || e.import_id.is_some());
        let refused = mine
            .iter()
            .rposition(|e| e.failed && e.import_id.is_none())
            .filter(|r| made.is_none_or(|m| *r > m));
        (
            made.map(|i| mine[i].clone()),
            refused.map(|i| mine[i].clone()),
        )
    }

    /// An earlier submit of the same content to the same account within `window`: the
    /// newest that has an import id, else the oldest that has none,
    /// other than `except` (this run's own entry, written before its upload when the hash
    /// was known up front, as for an approval).
    pub fn recent_same(
        &self,
        base_url: &str,
        account: &str,
        sha256: &str,
        window: std::time::Duration,
        except: Option<&Entry>,
    ) -> Option<Entry> {
        let now = jiff::Timestamp::now();
        let same: Vec<Entry> = self
            .entries()
            .into_iter()
            .filter(|e| {
                !except.is_some_and(|x| x.pid == e.pid && x.submitted_at == e.submitted_at)
                    && !e.failed
                    && e.base_url == base_url
                    && e.account == account
                    && !e.sha256.is_empty()
                    && e.sha256 == sha256
                    && e.submitted_at
                        .parse::<jiff::Timestamp>()
                        .is_ok_and(|t| now.duration_since(t).unsigned_abs() <= window)
            })
            .collect();
        // An import that exists says most; failing that, the oldest submit that got no
        // answer, so that a look in Canvas for what it made covers the later ones too.
        let with_id = same.iter().rev().find(|e| e.import_id.is_some()).cloned();
        with_id.or_else(|| same.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal that does not read is kept aside, not overwritten by the next submit (it
    /// was, silently, and `watch --last` then followed another client's import unsaid).
    #[test]
    fn a_journal_that_does_not_read_is_set_aside() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        std::fs::write(j.path(), b"\x00garbage{").unwrap();
        assert!(j.entries().is_empty());
        assert!(!j.path().exists(), "moved away");
        let aside: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("journal.json.unreadable-")
            })
            .collect();
        assert_eq!(aside.len(), 1);
        assert_eq!(std::fs::read(aside[0].path()).unwrap(), b"\x00garbage{");
        j.record(&entry(Some(7), "ab", "2026-12-05T02:30:00Z"))
            .unwrap();
        assert_eq!(j.entries().len(), 1, "a new journal starts");
    }

    fn entry(id: Option<u64>, sha: &str, at: &str) -> Entry {
        Entry {
            import_id: id,
            base_url: "https://c/".into(),
            account: "self".into(),
            file: "f.zip".into(),
            bytes: 1,
            sha256: sha.into(),
            submitted_at: at.into(),
            pid: 1,
            failed: false,
        }
    }

    #[test]
    fn record_update_and_find() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        let now = jiff::Timestamp::now().to_string();
        j.record(&entry(None, "aa", &now)).unwrap();
        j.record(&entry(Some(7), "aa", &now)).unwrap();
        assert_eq!(j.entries().len(), 1, "updated in place");
        assert_eq!(j.last("https://c/", "self").0.unwrap().import_id, Some(7));
        // A later upload with no answer is the newest; a refused one is skipped.
        let later = jiff::Timestamp::now().to_string();
        j.record(&entry(None, "cc", &later)).unwrap();
        let mut refused = entry(None, "dd", &later);
        refused.failed = true;
        j.record(&refused).unwrap();
        let (last, newer_refusal) = j.last("https://c/", "self");
        let last = last.unwrap();
        assert_eq!((last.sha256.as_str(), last.import_id), ("cc", None));
        assert_eq!(newer_refusal.unwrap().sha256, "dd");
        // An import this run aborted counts (watch --last shows it aborted).
        let mut aborted = entry(Some(9), "ee", &jiff::Timestamp::now().to_string());
        aborted.failed = true;
        j.record(&aborted).unwrap();
        let (last, newer_refusal) = j.last("https://c/", "self");
        assert_eq!(last.unwrap().import_id, Some(9));
        assert!(newer_refusal.is_none());
        let w = std::time::Duration::from_secs(3600);
        assert!(j.recent_same("https://c/", "self", "aa", w, None).is_some());
        assert!(j.recent_same("https://c/", "self", "bb", w, None).is_none());
        assert!(j.recent_same("https://c/", "1", "aa", w, None).is_none());
        j.record(&entry(Some(8), "bb", "2000-01-01T00:00:00Z"))
            .unwrap();
        assert!(
            j.recent_same("https://c/", "self", "bb", w, None).is_none(),
            "outside the window"
        );
    }

    #[test]
    fn an_entry_gets_its_hash_when_the_upload_ends() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(d.path());
        let w = std::time::Duration::from_secs(3600);
        let at = jiff::Timestamp::now().to_string();
        // Recorded before the upload, without its hash: it matches no content.
        j.record(&entry(None, "", &at)).unwrap();
        assert!(j.recent_same("https://c/", "self", "", w, None).is_none());
        // Then with it (and its id): the same entry.
        j.update(&entry(Some(9), "ee", &at)).unwrap();
        assert_eq!(j.entries().len(), 1, "updated in place");
        assert!(j.recent_same("https://c/", "self", "ee", w, None).is_some());
        // A run does not find its own entry, but finds an earlier one behind it.
        let own = entry(Some(9), "ee", &at);
        assert!(
            j.recent_same("https://c/", "self", "ee", w, Some(&own))
                .is_none()
        );
        let before = jiff::Timestamp::now().to_string();
        let mut other = entry(Some(3), "ee", &before);
        other.pid = 2;
        j.record(&other).unwrap();
        let found = j.recent_same("https://c/", "self", "ee", w, Some(&own));
        assert_eq!(found.map(|e| e.import_id), Some(Some(3)));
    }
}
