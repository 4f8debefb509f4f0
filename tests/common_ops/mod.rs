//! Helpers for the `ops_*` tests: a simulator on loopback and the real binary pointed at it,
//! with HOME and the XDG dirs in a temp dir so nothing touches the real home.

#![allow(dead_code, unused_imports)]

use std::path::Path;
use std::time::Duration;

pub use fake_canvas::{Config, Handle, RecordedRequest, Scenario};

/// Upper bound for one run of the binary (no test should come near it).
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

pub struct Env {
    pub sim: Handle,
    pub home: tempfile::TempDir,
}

pub fn env(cfg: Config) -> Env {
    Env {
        sim: fake_canvas::spawn(cfg).expect("simulator starts"),
        home: tempfile::tempdir().expect("temp dir"),
    }
}

pub fn seeded(n: usize) -> Env {
    env(Config {
        seed_imports: n,
        ..Default::default()
    })
}

// The shared base: the private-HOME command and the output helpers.
#[path = "../common/mod.rs"]
mod base;
pub use base::{stderr, stdout};

/// The binary with no settings at all from the outside world, no log file, empty stdin.
pub fn bare(home: &Path) -> assert_cmd::Command {
    let mut c = base::bare_cmd(home);
    c.arg("--no-log-file").timeout(RUN_LIMIT).write_stdin("");
    c
}

impl Env {
    /// `canvas-sis --base-url URL --no-log-file` with the token in the environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = bare(self.home.path());
        c.env("CANVAS_ACCESS_TOKEN", self.sim.token())
            .arg("--base-url")
            .arg(self.sim.url());
        c
    }

    /// Requests on the API listener whose path ends with `suffix`.
    pub fn api_requests(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.listener == "api" && r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    /// Requests that are not GETs (anything that could change state).
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Id of the seeded/created import at `index` (creation order) and its state.
    pub fn import(&self, index: usize) -> (u64, String) {
        let v = &self.sim.imports()[index];
        (
            v["id"].as_u64().unwrap(),
            v["workflow_state"].as_str().unwrap().to_string(),
        )
    }

    /// The first import in `state`.
    pub fn first_in(&self, state: &str) -> u64 {
        self.sim
            .imports()
            .iter()
            .find(|v| v["workflow_state"] == state)
            .and_then(|v| v["id"].as_u64())
            .unwrap_or_else(|| panic!("no import in {state}"))
    }

    /// Submit the sample bundle (no watch) and return the new import's id.
    pub fn submit_sample(&self) -> u64 {
        let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/bundle.zip");
        let out = self
            .cmd()
            .arg("--json")
            .arg("submit")
            .arg(&bundle)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "submit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.sim
            .imports()
            .last()
            .and_then(|v| v["id"].as_u64())
            .expect("an import was created")
    }
}

pub fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}
