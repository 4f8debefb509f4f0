//! Shared helpers for the binary-level tests: a simulator on loopback and a `canvas-sis`
//! command pointed at it with a private HOME, so nothing touches the real one.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use fake_canvas::{Config, Handle, RecordedRequest, Scenario};

pub struct World {
    pub sim: Handle,
    pub home: tempfile::TempDir,
}

impl World {
    pub fn new(scenario: Scenario) -> World {
        World::with(Config {
            scenario,
            polls_to_finish: 2,
            ..Default::default()
        })
    }

    pub fn with(cfg: Config) -> World {
        World {
            sim: fake_canvas::spawn(cfg).expect("simulator starts"),
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// `canvas-sis` with URL and token in the environment, logs in the private state dir.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = bare_cmd(self.home.path());
        c.env("CANVAS_BASE_URL", self.sim.url())
            .env("CANVAS_ACCESS_TOKEN", self.sim.token());
        c
    }

    /// [`World::cmd`] as a `std::process::Command` (stdout to a file, signals).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std_cmd(self.home.path());
        c.env("CANVAS_BASE_URL", self.sim.url())
            .env("CANVAS_ACCESS_TOKEN", self.sim.token());
        c
    }

    pub fn log_dir(&self) -> PathBuf {
        self.home.path().join("state/canvas-sis")
    }

    /// Every log file's text, concatenated.
    pub fn log_text(&self) -> String {
        let mut out = String::new();
        if let Ok(rd) = std::fs::read_dir(self.log_dir()) {
            for e in rd.flatten() {
                let log = e
                    .file_name()
                    .to_string_lossy()
                    .starts_with("canvas_sis.log");
                if log && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    pub fn posts(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// Write a file into the private home and return its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.home.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// `canvas-sis` with a private HOME and none of the caller's CANVAS_* settings.
pub fn bare_cmd(home: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::from_std(std_cmd(home));
    c.timeout(std::time::Duration::from_secs(60));
    c
}

/// The same as a `std::process::Command`, for tests that set stdout or send signals.
pub fn std_cmd(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("canvas-sis"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CANVAS_")
            || ["NO_COLOR", "JOURNAL_STREAM", "RUST_LOG"].contains(&k.as_str())
        {
            c.env_remove(k);
        }
    }
    c.current_dir(home)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    c
}

/// The sample bundle shipped in `samples/`.
pub fn sample_zip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/bundle.zip")
}

pub fn sample_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}
