//! Runs the guard held (contract, `approve`/`discard`, exit 6). Each lives in the private
//! state dir under `held/RUN/`: `held.json` (where it was going, the options, the plan, why
//! it was held) and a copy of the bundle exactly as it was planned, so that approving sends
//! the same bytes even when the SIS export has been overwritten since. The copy is made only
//! for a held run, never for one that goes through.
//!
//! Approving takes the per-account lock first, then checks the run is still held: two
//! approvals at once send it once, the second finds it gone (exit 2).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::exit::{Exit, Failure, Result};
use crate::settings::{Extension, ImportOptions};

/// `held.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Held {
    pub run_id: String,
    pub held_at: String,
    pub base_url: String,
    pub account: String,
    pub profile: Option<String>,
    /// The bundle as the user named it, its size and sha256.
    pub bundle: crate::record::Bundle,
    pub extension: Extension,
    /// The copy's file name in the run's folder (the name Canvas is shown).
    pub copy: String,
    pub options: ImportOptions,
    pub reasons: Vec<String>,
    /// The `plan --json` document it was held by.
    pub plan: Value,
    /// When the same bundle came back and was held again (still waiting for approval).
    #[serde(default)]
    pub held_again: Vec<String>,
}

impl Held {
    /// The `--json` document of exit 6 (contract): `{"held": {"run_id", "reasons", "plan"}}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"held": {
            "run_id": self.run_id,
            "reasons": self.reasons,
            "plan": self.plan,
            "held_at": self.held_at,
            "bundle": {"path": self.bundle.path, "bytes": self.bundle.bytes, "sha256": self.bundle.sha256},
        }})
    }

    /// The file to send: the copy when it still has the planned sha256, else the original
    /// when it is unchanged; None when neither is the planned bundle.
    pub fn sendable(&self, folder: &Path) -> Option<PathBuf> {
        let copy = folder.join(&self.copy);
        let original = PathBuf::from(&self.bundle.path);
        [copy, original].into_iter().find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() == self.bundle.bytes)
                && crate::bundle::sha256_file(p).is_ok_and(|s| s == self.bundle.sha256)
        })
    }
}

/// Where held runs live.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("held")
}

/// A run id as this tool makes them (`20261205T023000Z-4242`): nothing that could name a
/// path outside `held/`.
pub fn valid_id(run: &str) -> bool {
    !run.is_empty()
        && run.len() <= 64
        && run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn cannot(p: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::config(format!("cannot keep the held run in {}: {e}; nothing was sent", p.display()))
        .kind("state_dir")
        .hint("the state dir must be the user's own and writable (CANVAS_SIS_STATE_DIR or XDG_STATE_HOME)")
}

/// Keep a held run: the copy of `file` first, then `held.json`, each written under a
/// temporary name and renamed, so that a folder with a `held.json` always has its bundle.
pub fn hold(state_dir: &Path, held: &Held, file: &Path) -> Result<PathBuf> {
    let root = dir(state_dir);
    crate::paths::ensure_private_dir(&root).map_err(|e| cannot(&root, &e))?;
    let folder = root.join(&held.run_id);
    crate::paths::ensure_private_dir(&folder).map_err(|e| cannot(&folder, &e))?;
    let copy = folder.join(&held.copy);
    let part = folder.join(format!(".{}.part", held.copy));
    std::fs::copy(file, &part)
        .and_then(|_| std::fs::File::open(&part)?.sync_all())
        .and_then(|_| std::fs::rename(&part, &copy))
        .map_err(|e| {
            let _ = std::fs::remove_file(&part);
            cannot(&copy, &e)
        })?;
    save(&folder, held)?;
    Ok(folder)
}

/// Rewrite `held.json` (atomically).
pub fn save(folder: &Path, held: &Held) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(held).expect("a held run serializes");
    crate::paths::write_atomic(&folder.join("held.json"), &bytes).map_err(|e| cannot(folder, &e))
}

/// Every held run, newest first; unreadable folders are skipped.
pub fn list(state_dir: &Path) -> Vec<(PathBuf, Held)> {
    let mut out: Vec<(PathBuf, Held)> = crate::paths::json_in_subdirs(&dir(state_dir), "held.json");
    out.sort_by(|a, b| b.1.run_id.cmp(&a.1.run_id));
    out
}

/// The held run `run`, or a usage failure (exit 2) saying why there is none (what became of
/// it, when the run archive knows).
pub fn find(
    state_dir: &Path,
    run: &str,
    archive: Option<&crate::record::Archive>,
) -> Result<(PathBuf, Held)> {
    let not_held = |why: String| {
        Failure::usage(why)
            .kind("not_held")
            .hint("`canvas-sis approve` without RUN lists the held runs")
    };
    if !valid_id(run) {
        return Err(not_held(format!("{run:?} is not a run id")));
    }
    let folder = dir(state_dir).join(run);
    match crate::paths::read_no_follow(&folder.join("held.json")) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(|h| (folder.clone(), h))
            .map_err(|e| {
                Failure::new(
                    Exit::NoInput,
                    format!("the held run {} cannot be read: {e}", folder.display()),
                )
                .kind("input_unreadable")
                .hint("discard it (`canvas-sis discard RUN`) and submit the bundle again")
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let became = archive.and_then(|a| a.by_id(run)).and_then(|(_, r)| {
                match (r.state.as_deref(), r.import_id) {
                    (Some("discarded"), _) => Some(format!(
                        "it was discarded{}",
                        r.ended_at.map(|t| format!(" at {t}")).unwrap_or_default()
                    )),
                    (_, Some(id)) => Some(format!("it was approved: sent as import {id}")),
                    _ => None,
                }
            });
            Err(not_held(match became {
                Some(b) => format!("run {run} is not held: {b}"),
                None => format!(
                    "run {run} is not held: it was never held here, or it was approved or discarded already"
                ),
            }))
        }
        Err(e) => Err(cannot(&folder, &e)),
    }
}

/// The run already held for this bundle (same URL, account, sha256 and options), if any.
pub fn same_bundle(
    state_dir: &Path,
    base_url: &str,
    account: &str,
    sha256: &str,
    options: &ImportOptions,
) -> Option<(PathBuf, Held)> {
    list(state_dir).into_iter().find(|(_, h)| {
        h.base_url == base_url
            && h.account == account
            && h.bundle.sha256 == sha256
            && &h.options == options
    })
}

/// Drop a held run's folder (approved or discarded).
pub fn remove(folder: &Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(run: &str, sha: &str) -> Held {
        Held {
            run_id: run.into(),
            held_at: "2026-12-05T02:30:00Z".into(),
            base_url: "https://canvas.example.edu/".into(),
            account: "self".into(),
            profile: None,
            bundle: crate::record::Bundle {
                path: "/nonexistent/nightly.zip".into(),
                bytes: 5,
                sha256: sha.into(),
            },
            extension: Extension::Csv,
            copy: "nightly.csv".into(),
            options: ImportOptions::default(),
            reasons: vec!["enrollment delete 40 % > 10 %".into()],
            plan: Value::Null,
            held_again: vec![],
        }
    }

    #[test]
    fn a_held_run_round_trips_and_sends_its_copy_only_while_it_is_unchanged() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("nightly.csv");
        std::fs::write(&src, "a,b\n").unwrap();
        let sha = crate::bundle::sha256_file(&src).unwrap();
        let mut h = held("20261205T023000Z-1", &sha);
        h.bundle.bytes = 4;
        let state = t.path().join("state");
        let folder = hold(&state, &h, &src).unwrap();
        let (f, back) = find(&state, &h.run_id, None).unwrap();
        assert_eq!(f, folder);
        assert_eq!(back.reasons, h.reasons);
        assert_eq!(back.sendable(&f), Some(folder.join("nightly.csv")));
        assert!(same_bundle(&state, &h.base_url, "self", &sha, &h.options).is_some());
        assert!(same_bundle(&state, &h.base_url, "1", &sha, &h.options).is_none());
        // The copy changed and the original is elsewhere: nothing matches.
        std::fs::write(folder.join("nightly.csv"), "a,c\n").unwrap();
        assert_eq!(back.sendable(&f), None);
        remove(&folder).unwrap();
        let e = find(&state, &h.run_id, None).unwrap_err();
        assert_eq!((e.exit, e.kind), (Exit::Usage, "not_held"));
    }

    #[test]
    fn run_ids_cannot_name_a_path() {
        assert!(valid_id("20261205T023000Z-4242"));
        for bad in ["", "..", "../x", "a/b", "a b"] {
            assert!(!valid_id(bad), "{bad}");
        }
        let t = tempfile::tempdir().unwrap();
        assert_eq!(find(t.path(), "../etc", None).unwrap_err().kind, "not_held");
    }
}
