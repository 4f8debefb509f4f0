//! fake-canvas: a stateful simulator of Canvas LMS's SIS import API.
//!
//! Interface contract (used by canvas-sis's `demo` command and by its tests; keep it):
//!
//! ```ignore
//! let h = fake_canvas::spawn(fake_canvas::Config { scenario: Scenario::Ok, ..Default::default() })?;
//! h.url();              // "http://127.0.0.1:PORT" (no trailing slash)
//! h.files_url();        // the second listener, the "files" host (another origin)
//! h.token();            // the bearer token it accepts
//! h.requests();         // Vec<RecordedRequest>, every request in arrival order
//! h.imports();          // Vec<serde_json::Value>, SisImport JSON of every batch, creation order
//! h.created_count();    // batches created by POST (seeded ones not counted)
//! h.store();            // StoreSnapshot: per kind, key → status, term, sis_batch_id, …
//! h.add_by_hand(kind, &[("course_id", "C1"), …]); // an object made in the UI (no SIS batch)
//! ```
//!
//! Behaviour follows `docs/canvas-sis-api.md` (the Canvas behaviour reference); comments cite
//! its sections as §N.

pub mod content;
mod fixture;
mod ims;
mod process;
mod report;
mod server;
mod state;
mod store;
mod wire;

pub use store::{Obj, StoreSnapshot};

pub use fixture::zip_of;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Which behaviour the simulator shows. Chosen at start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Imports succeed; the final state follows the uploaded content (§4, §5).
    #[default]
    Ok,
    /// Every import also gets row warnings → `imported_with_messages` (§5).
    Warnings,
    /// Every import fails with an internal error → `failed_with_messages` (§5).
    Failed,
    /// Imports stay `importing` for 10,000 polls.
    Slow,
    /// Imports never leave `created` (a busy processing strand, §4).
    StuckCreated,
    /// Canvas aborts the import itself: change_threshold exceeded (§4, batch-mode cleanup).
    Aborted,
    /// The first `fault_count` requests are throttled with 403 (§7.2).
    Throttled403,
    /// The first `fault_count` requests are throttled with 429 and `Retry-After: 1` (§7.2).
    Throttled429,
    /// The first `fault_count` requests of each kind get 502/503/504 in turn.
    Flaky5xx,
    /// The first POST creates the batch, then the connection closes with no response.
    DropAfterCreate,
    /// The first `fault_count` POSTs get 503 and create nothing.
    Unavailable503BeforeCreate,
    /// The first `fault_count` show GETs sleep `hang_for` before answering.
    Hang,
    /// The first `fault_count` show GETs answer 200 with half a JSON body.
    TruncatedJson,
    /// The first `fault_count` show GETs answer 200 with an HTML maintenance page.
    Html200,
    /// `X-Rate-Limit-Remaining` starts at 600, drops 150 per request, leaks back 10/s (§7.2).
    RateLimitDecreasing,
    /// A POST with `pre_attachment[name]` is handled as an ordinary create without a file.
    IgnorePreAttachment,
    /// The first file-upload step 1 (a POST with `pre_attachment[name]`) saves the batch in
    /// `initializing`, then the connection closes with no response: the upload instructions
    /// are lost with it.
    DropAfterPreAttachment,
}

impl Scenario {
    /// Every scenario, in declaration order.
    pub const ALL: &'static [Scenario] = &[
        Scenario::Ok,
        Scenario::Warnings,
        Scenario::Failed,
        Scenario::Slow,
        Scenario::StuckCreated,
        Scenario::Aborted,
        Scenario::Throttled403,
        Scenario::Throttled429,
        Scenario::Flaky5xx,
        Scenario::DropAfterCreate,
        Scenario::Unavailable503BeforeCreate,
        Scenario::Hang,
        Scenario::TruncatedJson,
        Scenario::Html200,
        Scenario::RateLimitDecreasing,
        Scenario::IgnorePreAttachment,
        Scenario::DropAfterPreAttachment,
    ];

    /// The kebab-case name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Ok => "ok",
            Scenario::Warnings => "warnings",
            Scenario::Failed => "failed",
            Scenario::Slow => "slow",
            Scenario::StuckCreated => "stuck-created",
            Scenario::Aborted => "aborted",
            Scenario::Throttled403 => "throttled-403",
            Scenario::Throttled429 => "throttled-429",
            Scenario::Flaky5xx => "flaky-5xx",
            Scenario::DropAfterCreate => "drop-after-create",
            Scenario::Unavailable503BeforeCreate => "unavailable-503-before-create",
            Scenario::Hang => "hang",
            Scenario::TruncatedJson => "truncated-json",
            Scenario::Html200 => "html-200",
            Scenario::RateLimitDecreasing => "rate-limit-decreasing",
            Scenario::IgnorePreAttachment => "ignore-pre-attachment",
            Scenario::DropAfterPreAttachment => "drop-after-pre-attachment",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .iter()
            .copied()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown scenario {s:?} (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// Start-up settings.
#[derive(Clone, Debug)]
pub struct Config {
    pub scenario: Scenario,
    /// The one access token accepted (`Authorization: Bearer` or `access_token=`).
    pub token: String,
    /// How many show-polls an import takes from `importing` to its terminal state. Reads of
    /// the list and of `importing` are units of time too (README, "State machine").
    pub polls_to_finish: u32,
    /// Finished imports created at start (not counted by `created_count`), 1 minute apart
    /// in the past, in mixed terminal states.
    pub seed_imports: usize,
    /// Extra generated warning rows on each import that finishes.
    pub extra_warnings: usize,
    /// How many times a fault scenario misbehaves before behaving normally.
    pub fault_count: u32,
    /// How long the `hang` scenario sleeps.
    pub hang_for: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scenario: Scenario::Ok,
            token: "fake-canvas-token".into(),
            polls_to_finish: 3,
            seed_imports: 0,
            extra_warnings: 0,
            fault_count: 2,
            hang_for: Duration::from_secs(3600),
        }
    }
}

/// One request as it arrived, on either listener.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// `"api"` or `"files"`.
    pub listener: &'static str,
    pub method: String,
    /// The path as sent (still percent-encoded).
    pub path: String,
    pub query: Option<String>,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
    /// Hex sha256 of the body bytes read.
    pub body_sha256: String,
    pub at: SystemTime,
    /// The status sent; 0 if the connection was dropped (or no answer yet).
    pub status: u16,
}

impl RecordedRequest {
    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A running simulator. Shuts down on `shutdown()` or drop.
pub struct Handle {
    shared: Arc<state::Shared>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Start the simulator on 127.0.0.1 (two ephemeral ports), on its own thread and runtime.
pub fn spawn(cfg: Config) -> std::io::Result<Handle> {
    spawn_on(cfg, 0)
}

/// Like [`spawn`], with a chosen API port (0: any). The files listener always takes any port.
pub fn spawn_on(cfg: Config, api_port: u16) -> std::io::Result<Handle> {
    let api = std::net::TcpListener::bind(("127.0.0.1", api_port))?;
    let files = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    api.set_nonblocking(true)?;
    files.set_nonblocking(true)?;
    let api_url = format!("http://{}", api.local_addr()?);
    let files_url = format!("http://{}", files.local_addr()?);
    let shared = Arc::new(state::Shared::new(cfg, api_url, files_url)?);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("fake-canvas")
        .enable_all()
        .build()?;
    let sh = shared.clone();
    let thread = std::thread::Builder::new()
        .name("fake-canvas".into())
        .spawn(move || {
            rt.block_on(server::run(sh, api, files, stop_rx));
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
    Ok(Handle {
        shared,
        stop: Some(stop_tx),
        thread: Some(thread),
    })
}

impl Handle {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.shared.api_url.clone()
    }
    /// The files host (another origin), no trailing slash.
    pub fn files_url(&self) -> String {
        self.shared.files_url.clone()
    }
    pub fn token(&self) -> String {
        self.shared.cfg.token.clone()
    }
    /// Every request on both listeners, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }
    /// SisImport JSON of every batch (seeded included), in creation order, without advancing.
    pub fn imports(&self) -> Vec<serde_json::Value> {
        self.shared.imports_json()
    }
    /// Batches created by POST (seeded ones not counted; stuck `initializing` ones counted).
    pub fn created_count(&self) -> usize {
        self.shared.inner.lock().unwrap().created_count
    }
    /// What this Canvas keeps now, per kind (see [`StoreSnapshot`] for the keys): each
    /// object's Canvas id, SIS id, status (workflow state), term and the SIS batch that last
    /// touched it. Imports change it when they finish importing (and in `cleanup_batch`).
    pub fn store(&self) -> StoreSnapshot {
        self.shared.inner.lock().unwrap().store.snapshot()
    }
    /// Make or change an object by hand, as an admin in the UI or through the REST API
    /// would: `kind` is a `supplied_batches` name (`course`, `enrollment`, …) and `fields`
    /// the CSV columns of that kind. The object gets no SIS batch, so batch mode leaves it
    /// alone. Err: the warning Canvas's importer would give for such a row.
    pub fn add_by_hand(&self, kind: &str, fields: &[(&str, &str)]) -> Result<(), String> {
        self.shared
            .inner
            .lock()
            .unwrap()
            .store
            .apply_by_hand(kind, fields)
    }
    /// Stop serving and wait for the server thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }
    fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(true);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop_now();
    }
}
