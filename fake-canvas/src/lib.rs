//! fake-canvas: a stateful simulator of Canvas LMS's SIS import API.
//!
//! Interface contract (used by canvas-sis's `demo` command and by its tests; keep it):
//!
//! ```ignore
//! let h = fake_canvas::spawn(fake_canvas::Config { scenario: Scenario::Ok, ..Default::default() })?;
//! h.url();              // "http://127.0.0.1:PORT" (no trailing slash)
//! h.token();            // the bearer token it accepts
//! h.requests();         // Vec<RecordedRequest>, every request in arrival order
//! h.imports();          // Vec<serde_json::Value>, SisImport JSON of every batch, creation order
//! h.created_count();    // batches created by POST (seeded ones not counted)
//! ```
//!
//! Behaviour follows `shared/reference/canvas-sis-api.md`; comments cite its sections.

use std::str::FromStr;

/// Which behaviour the simulator shows. Chosen at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scenario {
    /// Imports succeed; the final state follows the uploaded content (§4, §5).
    #[default]
    Ok,
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ok" => Ok(Scenario::Ok),
            other => Err(format!("unknown scenario {other:?}")),
        }
    }
}

/// Start-up settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub scenario: Scenario,
    /// The one access token accepted as `Authorization: Bearer`.
    pub token: String,
    /// How many show-polls an import takes from `importing` to its terminal state.
    pub polls_to_finish: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scenario: Scenario::Ok,
            token: "fake-canvas-token".into(),
            polls_to_finish: 3,
        }
    }
}
