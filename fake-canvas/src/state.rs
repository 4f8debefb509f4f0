//! The simulator's model: batches, their state machine (§4), errors (§2.8, §5), progress
//! objects (§2.7) and the throttling bucket (§7.2).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::content::{self, Message, ScanResult};
use crate::process::{self, DiffOpts, Outcome, Source, StoredUpload};
use crate::report::Report;
use crate::store::{Ctx2, ROLL_BACK_TYPES, RollBack, Store};
use crate::{Config, RecordedRequest, Scenario};

pub(crate) struct Shared {
    pub cfg: Config,
    pub api_url: String,
    pub files_url: String,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub inner: Mutex<Inner>,
    pub tmp: tempfile::TempDir,
}

impl Shared {
    pub fn new(cfg: Config, api_url: String, files_url: String) -> std::io::Result<Self> {
        let tmp = tempfile::Builder::new().prefix("fake-canvas-").tempdir()?;
        let inner = Inner::new(&cfg);
        Ok(Shared {
            cfg,
            api_url,
            files_url,
            requests: Mutex::new(Vec::new()),
            inner: Mutex::new(inner),
            tmp,
        })
    }

    pub fn imports_json(&self) -> Vec<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .batches
            .iter()
            .map(|b| b.json(&self.files_url))
            .collect()
    }
}

pub use crate::wire::ts;

pub fn now() -> Timestamp {
    // Whole seconds, so that `created_since=<a created_at>` compares as it reads.
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The batch's `user` (§3): Canvas's `user_json` for the importing admin
/// (lib/api/v1/sis_import.rb calls lib/api/v1/user.rb's `user_json`). A caller who may read
/// SIS data also gets `sis_user_id` and `integration_id`; one with `manage_sis` gets
/// `sis_import_id` (the batch that created the login: null, the admin was made by hand);
/// one with `view_user_logins` gets `login_id`. This fake's token is such an admin.
pub fn user_json() -> Value {
    json!({"id":1,"name":"Sandbox Admin","created_at":"2020-01-01T00:00:00Z",
           "sortable_name":"Admin, Sandbox","short_name":"Sandbox Admin",
           "sis_user_id":"admin","integration_id":null,"sis_import_id":null,
           "login_id":"admin@example.edu"})
}

pub const NOT_DONE: &[&str] = &["initializing", "created", "importing", "cleanup_batch"];

pub fn is_terminal(state: &str) -> bool {
    matches!(
        state,
        "imported"
            | "imported_with_messages"
            | "failed"
            | "failed_with_messages"
            | "aborted"
            | "restored"
            | "partially_restored"
    )
}

pub struct Batch {
    pub id: u64,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub updated_at: Timestamp,
    pub progress: u32,
    pub state: String,
    /// The option keys of §2.1's response, as they will be serialised.
    pub options: Map<String, Value>,
    pub data: Map<String, Value>,
    /// What the upload contains; `None` while it is still being read.
    pub scan: Option<ScanResult>,
    /// Show-polls while `importing`.
    pub polls: u32,
    pub messages: Vec<Message>,
    /// (file id, CSV size) once the error file exists.
    pub errors_attachment: Option<(u64, usize)>,
    pub attachment_due: bool,
    /// A user aborted it while it waited in `created`: the worker still picks it up and
    /// sets its progress to 100 (§2.5; `SisBatch#process_without_send_later`).
    pub pickup_pending: bool,
    /// The upload, kept until it is applied (longer for a diffing data set: a later import
    /// diffs against it).
    pub upload: Option<StoredUpload>,
    /// `batch_mode_enrollment_drop_status`: kept in the batch's options, not in its JSON.
    pub drop_status: Option<String>,
    /// What applying the upload did (set when importing ends).
    pub outcome: Option<Outcome>,
    /// Diffing was applied (`generated_diff_id` is set).
    pub generated_diff: bool,
    /// `diffing_threshold_exceeded`.
    pub threshold_exceeded: bool,
    /// What batch-mode cleanup did, or why it aborted (set in `cleanup_batch`).
    pub cleanup: Option<CleanupResult>,
    /// `roll_back_data`: what applying the import (and its cleanup) changed, for
    /// `restore_states`.
    pub roll_back: Vec<RollBack>,
    /// The stored copies of the CSVs read (`downloadable_attachments`), made when
    /// processing starts.
    pub csv_attachments: Vec<CsvAttachment>,
}

/// A stored copy of one recognised CSV of the upload (§3 `csv_attachments`).
pub struct CsvAttachment {
    pub id: u64,
    pub name: String,
    pub size: u64,
    pub path: std::path::PathBuf,
}

/// The end of `remove_previous_imports` for one batch.
#[derive(Clone, Debug, Default)]
pub struct CleanupResult {
    /// `batch_<kind>_deleted` counts, for the kinds cleaned.
    pub counts: Vec<(&'static str, u64)>,
    /// Canvas aborted the batch with this message.
    pub abort: Option<String>,
    /// The cleanup raised (the batch fails with this `data.error_message`).
    pub error: Option<String>,
}

impl Batch {
    pub fn json(&self, files_url: &str) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("created_at".into(), json!(ts(self.created_at)));
        o.insert("started_at".into(), json!(self.started_at.map(ts)));
        o.insert("ended_at".into(), json!(self.ended_at.map(ts)));
        o.insert("updated_at".into(), json!(ts(self.updated_at)));
        o.insert("progress".into(), json!(self.progress));
        o.insert("workflow_state".into(), json!(self.state));
        o.insert("data".into(), Value::Object(self.data.clone()));
        for (k, v) in &self.options {
            o.insert(k.clone(), v.clone());
        }
        // §3: diffing_threshold_exceeded only when a data set identifier is set. It is a
        // column with `default: false, null: false` (the sis_batches table in db/migrate),
        // and `SisBatch#as_json` (app/models/sis_batch.rb) emits it as it is: false from
        // creation on, and true once a threshold stops diffing (`generate_diff`).
        if !self.options["diffing_data_set_identifier"].is_null() {
            o.insert(
                "diffing_threshold_exceeded".into(),
                json!(self.threshold_exceeded),
            );
        }
        // §3 / §8.6: messages only at finish, only when non-empty, capped at 24 + summary.
        if is_terminal(&self.state) || self.state == "restoring" {
            let errors: Vec<&Message> = self.messages.iter().filter(|m| m.failure).collect();
            let warnings: Vec<&Message> = self.messages.iter().filter(|m| !m.failure).collect();
            if !errors.is_empty() {
                o.insert("processing_errors".into(), capped(&errors, "errors"));
            }
            if !warnings.is_empty() {
                o.insert("processing_warnings".into(), capped(&warnings, "warnings"));
            }
        }
        if let Some((fid, size)) = self.errors_attachment {
            o.insert(
                "errors_attachment".into(),
                file_json(fid, size, self, files_url),
            );
        }
        o.insert("user".into(), user_json());
        // `sis_import_json` (lib/api/v1/sis_import.rb): `attachments_json` of the uploaded
        // `downloadable_attachments`, only when there are any.
        if !self.csv_attachments.is_empty() {
            let when = ts(self.started_at.unwrap_or(self.updated_at));
            let files: Vec<Value> = self
                .csv_attachments
                .iter()
                .map(|a| attachment_json(a.id, &a.name, a.size, &when, files_url))
                .collect();
            o.insert("csv_attachments".into(), Value::Array(files));
        }
        Value::Object(o)
    }
}

fn capped(msgs: &[&Message], what: &str) -> Value {
    let mut out: Vec<Value> = msgs
        .iter()
        .take(24)
        .map(|m| json!([m.file, m.message]))
        .collect();
    if msgs.len() > 24 {
        out.push(json!([
            format!("and {} more {what} that were not included", msgs.len() - 24),
            format!("Download the error file to see all {what}.")
        ]));
    }
    Value::Array(out)
}

pub use crate::wire::verifier;

/// A standard Canvas File object for the error CSV (§3): every key of `attachment_json`
/// in lib/api/v1/attachment.rb, as lib/api/v1/sis_import.rb calls it for
/// `errors_attachment` (with `skip_permission_checks`, so `hidden` and `locked_for_user`
/// are false, and a `verifier` in the URL). `category` is the model's default
/// (`Attachment::UNCATEGORIZED`, app/models/attachment.rb); `upload_status` is
/// `AttachmentUploadStatus.upload_status`, "success" for a finished upload. A SisBatch
/// context has no files visibility, so there is no `visibility_level`. The URL is
/// `file_download_url(download_frd: 1, verifier: …)`, on this fake's files host.
pub fn file_json(fid: u64, size: usize, b: &Batch, files_url: &str) -> Value {
    let name = format!("sis_errors_attachment_{}.csv", b.id);
    let when = ts(b.ended_at.unwrap_or(b.updated_at));
    attachment_json(fid, &name, size as u64, &when, files_url)
}

/// `attachment_json` of a CSV file the batch owns (see [`file_json`]). The stored copies of
/// `csv_attachments` get the same shape and URL here (this simulator's choice: one files
/// host, one verifier scheme).
fn attachment_json(fid: u64, name: &str, size: u64, when: &str, files_url: &str) -> Value {
    json!({
        "id": fid, "uuid": format!("fake-uuid-{fid}"), "folder_id": null,
        "display_name": name, "filename": name, "upload_status": "success",
        "content-type": "text/csv",
        "url": format!("{files_url}/files/{fid}/download?download_frd=1&verifier={}", verifier(fid)),
        "size": size, "created_at": when, "updated_at": when,
        "unlock_at": null, "locked": false, "hidden": false, "lock_at": null,
        "hidden_for_user": false, "thumbnail_url": null, "modified_at": when,
        "mime_class": "file", "media_entry_id": null, "category": "uncategorized",
        "locked_for_user": false,
    })
}

/// The errors_attachment CSV: `sis_import_id,file,message,row` (§3).
pub fn errors_csv(b: &Batch) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(["sis_import_id", "file", "message", "row"]);
    for m in &b.messages {
        let _ = w.write_record([
            b.id.to_string(),
            m.file.clone().unwrap_or_default(),
            m.message.clone(),
            m.row.map(|r| r.to_string()).unwrap_or_default(),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

pub struct ErrorRow {
    pub id: u64,
    pub batch_id: u64,
    pub msg: Message,
}

pub struct Progress {
    pub id: u64,
    pub batch_id: u64,
    pub state: &'static str,
    pub completion: f64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub flags: RestoreFlags,
}

/// The `restore_states` filters (§2.7).
#[derive(Clone, Copy, Debug, Default)]
pub struct RestoreFlags {
    pub batch_mode: bool,
    pub undelete_only: bool,
    pub unconclude_only: bool,
}

impl RestoreFlags {
    /// Any filter makes the end state `partially_restored`.
    fn partial(self) -> bool {
        self.batch_mode || self.undelete_only || self.unconclude_only
    }

    /// `restore_states_for_batch`'s `where`s on the roll-back rows.
    fn wants(self, r: &RollBack) -> bool {
        (!self.undelete_only || matches!(r.updated.as_str(), "retired" | "deleted"))
            && (!self.unconclude_only || r.updated == "completed")
            && (!self.batch_mode || r.batch_mode_delete)
    }
}

impl Progress {
    pub fn json(&self, api_url: &str) -> Value {
        json!({
            "id": self.id, "context_id": self.batch_id, "context_type": "SisBatch",
            "user_id": null, "tag": "sis_batch_state_restore",
            "completion": self.completion, "workflow_state": self.state,
            "created_at": ts(self.created_at), "updated_at": ts(self.updated_at),
            "message": null, "url": format!("{api_url}/api/v1/progress/{}", self.id),
        })
    }
}

/// What a file id serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileRef {
    /// A batch's `errors_attachment`.
    Errors(u64),
    /// A provisioning report's attachment (report id).
    Report(u64),
    /// One of a batch's `csv_attachments` (batch id).
    Csv(u64),
}

pub struct PendingUpload {
    pub batch_id: u64,
    pub name: String,
}

pub struct Inner {
    pub scenario: Scenario,
    pub polls_to_finish: u32,
    pub extra_warnings: usize,
    pub fault_count: u32,
    pub batches: Vec<Batch>,
    pub errors: Vec<ErrorRow>,
    pub progresses: Vec<Progress>,
    pub uploads: HashMap<String, PendingUpload>,
    /// Files this Canvas serves.
    pub files: HashMap<u64, FileRef>,
    /// The objects imports are applied to.
    pub store: Store,
    /// Provisioning reports (`AccountReport`), oldest first.
    pub reports: Vec<Report>,
    next_account_report: u64,
    pub created_count: usize,
    next_batch: u64,
    next_error: u64,
    next_progress: u64,
    next_file: u64,
    next_report: u64,
    faults: HashMap<String, u32>,
    /// §7.2: requests in flight, each holding the up-front cost (server.rs `InFlight`).
    pub in_flight: u32,
    /// §7.2 leaky bucket.
    bucket: f64,
    bucket_at: Instant,
}

pub fn counts_zero() -> Map<String, Value> {
    content::KINDS
        .iter()
        .map(|(_, c)| (c.to_string(), json!(0)))
        .collect()
}

/// §3.1 `data.statistics`, every type zeroed; a few filled from the counts.
fn statistics(counts: &Map<String, Value>) -> Value {
    let n = |k: &str| counts.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let types = [
        "Account",
        "EnrollmentTerm",
        "AbstractCourse",
        "Course",
        "CourseSection",
        "GroupCategory",
        "Group",
        "Pseudonym",
        "CommunicationChannel",
        "Enrollment",
        "GroupMembership",
        "InstitutionalTagCategory",
        "InstitutionalTag",
        "InstitutionalTagAssociation",
        "UserObserver",
        "AccountUser",
        "AssignmentOverrideStudent",
    ];
    let mut total = 0;
    let mut o = Map::new();
    for t in types {
        let created = match t {
            "Account" => n("accounts"),
            "EnrollmentTerm" => n("terms"),
            "AbstractCourse" => n("abstract_courses"),
            "Course" => n("courses"),
            "CourseSection" => n("sections"),
            "GroupCategory" => n("group_categories"),
            "Group" => n("groups"),
            "Pseudonym" => n("users") + n("logins"),
            "Enrollment" => n("enrollments"),
            "GroupMembership" => n("group_memberships"),
            "UserObserver" => n("user_observers"),
            "AccountUser" => n("admins"),
            _ => 0,
        };
        total += created;
        let mut s = json!({"created": created, "restored": 0, "deleted": 0});
        if t == "Course" || t == "Enrollment" {
            s["concluded"] = json!(0);
        }
        if t == "Enrollment" {
            s["deactivated"] = json!(0);
        }
        o.insert(t.into(), s);
    }
    o.insert("total_state_changes".into(), json!(total));
    Value::Object(o)
}

pub fn default_options() -> Map<String, Value> {
    let mut o = Map::new();
    for k in [
        "batch_mode",
        "batch_mode_term_id",
        "multi_term_batch_mode",
        "override_sis_stickiness",
        "add_sis_stickiness",
    ] {
        o.insert(k.into(), Value::Null);
    }
    o.insert("update_sis_id_if_login_claimed".into(), json!(false));
    for k in [
        "clear_sis_stickiness",
        "diffing_data_set_identifier",
        "diffing_remaster",
        "diffed_against_import_id",
        "diffing_drop_status",
        "diffing_user_remove_status",
    ] {
        o.insert(k.into(), Value::Null);
    }
    o.insert("skip_deletes".into(), json!(false));
    o.insert("change_threshold".into(), Value::Null);
    o.insert("diff_row_count_threshold".into(), Value::Null);
    o
}

impl Inner {
    pub fn new(cfg: &Config) -> Self {
        let mut inner = Inner {
            scenario: cfg.scenario,
            polls_to_finish: if cfg.scenario == Scenario::Slow {
                10_000
            } else {
                cfg.polls_to_finish
            },
            extra_warnings: cfg.extra_warnings,
            fault_count: cfg.fault_count,
            batches: Vec::new(),
            errors: Vec::new(),
            progresses: Vec::new(),
            uploads: HashMap::new(),
            files: HashMap::new(),
            store: Store::new(),
            reports: Vec::new(),
            next_account_report: 1,
            created_count: 0,
            next_batch: 101,
            next_error: 1,
            next_progress: 501,
            next_file: 901,
            next_report: 4001,
            faults: HashMap::new(),
            in_flight: 0,
            bucket: 0.0,
            bucket_at: Instant::now(),
        };
        inner.seed(cfg.seed_imports);
        inner
    }

    fn seed(&mut self, n: usize) {
        const STATES: &[&str] = &[
            "imported",
            "imported_with_messages",
            "failed_with_messages",
            "imported",
            "aborted",
            "failed",
        ];
        let base = now();
        for i in 0..n {
            let created = base - jiff::SignedDuration::from_mins((n - i) as i64);
            let state = STATES[i % STATES.len()];
            let id = self.new_batch_id();
            let mut messages = Vec::new();
            match state {
                "imported_with_messages" => messages.push(Message::warning(
                    Some("users.csv"),
                    format!("Improper status for user seed-{i}"),
                    Some(2),
                )),
                "failed_with_messages" => messages.push(Message::error(
                    Some("courses.csv"),
                    "Couldn't find Canvas CSV import headers",
                    None,
                )),
                "aborted" => messages.push(Message::warning(
                    None,
                    "12 enrollments would be deleted and exceeds the set threshold of 10%",
                    None,
                )),
                _ => {}
            }
            let mut counts = counts_zero();
            if state != "failed" {
                counts.insert("users".into(), json!(10));
            }
            let ended = created + jiff::SignedDuration::from_secs(20);
            let mut b = Batch {
                id,
                created_at: created,
                started_at: Some(created + jiff::SignedDuration::from_secs(2)),
                // §2.5: a batch Canvas aborted for its change_threshold ends like a finished
                // one: ended_at set and progress 100.
                ended_at: Some(ended),
                updated_at: ended,
                progress: if state.starts_with("imported") || state == "aborted" {
                    100
                } else {
                    40
                },
                state: state.into(),
                options: if state == "aborted" {
                    // The threshold its message names, in the batch mode that checks it.
                    let mut o = default_options();
                    o.insert("batch_mode".into(), json!(true));
                    o.insert("batch_mode_term_id".into(), json!(1));
                    o.insert("change_threshold".into(), json!(10));
                    o
                } else {
                    default_options()
                },
                data: Map::new(),
                scan: Some(ScanResult::default()),
                polls: 0,
                messages: Vec::new(),
                errors_attachment: None,
                attachment_due: false,
                pickup_pending: false,
                upload: None,
                drop_status: None,
                outcome: None,
                generated_diff: false,
                threshold_exceeded: false,
                cleanup: None,
                roll_back: Vec::new(),
                csv_attachments: Vec::new(),
            };
            b.data
                .insert("import_type".into(), json!("instructure_csv"));
            if state != "failed" {
                b.data.insert("supplied_batches".into(), json!(["user"]));
            }
            counts.insert(
                "error_count".into(),
                json!(messages.iter().filter(|m| m.failure).count()),
            );
            counts.insert(
                "warning_count".into(),
                json!(messages.iter().filter(|m| !m.failure).count()),
            );
            b.data.insert("statistics".into(), statistics(&counts));
            b.data.insert("counts".into(), Value::Object(counts));
            self.batches.push(b);
            let idx = self.batches.len() - 1;
            self.record_messages(idx, messages);
            if !self.batches[idx].messages.is_empty() {
                let fid = self.new_file_id();
                self.files.insert(fid, FileRef::Errors(id));
                self.batches[idx].errors_attachment =
                    Some((fid, errors_csv(&self.batches[idx]).len()));
            }
        }
    }

    pub fn new_batch_id(&mut self) -> u64 {
        let id = self.next_batch;
        self.next_batch += 1;
        id
    }
    /// The drop-after-create and drop-after-pre-attachment faults fire on the first such
    /// POST only.
    pub fn take_fault_once(&mut self, key: &str) -> bool {
        let used = self.faults.entry(key.to_string()).or_insert(0);
        *used += 1;
        *used == 1
    }
    pub fn new_file_id(&mut self) -> u64 {
        let id = self.next_file;
        self.next_file += 1;
        id
    }
    pub fn new_progress_id(&mut self) -> u64 {
        let id = self.next_progress;
        self.next_progress += 1;
        id
    }
    pub fn new_account_report_id(&mut self) -> u64 {
        let id = self.next_account_report;
        self.next_account_report += 1;
        id
    }
    pub fn new_report(&mut self) -> u64 {
        let id = self.next_report;
        self.next_report += 1;
        id
    }

    /// Add a fresh batch (from POST) in `initializing`.
    pub fn create_batch(&mut self, options: Map<String, Value>) -> usize {
        let id = self.new_batch_id();
        let t = now();
        let mut data = Map::new();
        data.insert("import_type".into(), json!("instructure_csv"));
        self.batches.push(Batch {
            id,
            created_at: t,
            started_at: None,
            ended_at: None,
            updated_at: t,
            progress: 0,
            state: "initializing".into(),
            options,
            data,
            scan: None,
            polls: 0,
            messages: Vec::new(),
            errors_attachment: None,
            attachment_due: false,
            pickup_pending: false,
            upload: None,
            drop_status: None,
            outcome: None,
            generated_diff: false,
            threshold_exceeded: false,
            cleanup: None,
            roll_back: Vec::new(),
            csv_attachments: Vec::new(),
        });
        self.created_count += 1;
        self.batches.len() - 1
    }

    pub fn find(&self, id: u64) -> Option<usize> {
        self.batches.iter().position(|b| b.id == id)
    }

    /// Whether a fault scenario should misbehave now for `key`; Some(n) is the 0-based use.
    pub fn take_fault(&mut self, key: &str) -> Option<u32> {
        let used = self.faults.entry(key.to_string()).or_insert(0);
        if *used < self.fault_count {
            *used += 1;
            Some(*used - 1)
        } else {
            None
        }
    }

    /// §7.2: charge the bucket. Returns (throttled, remaining-to-report).
    pub fn charge(&mut self, cost: f64) -> (bool, f64) {
        let now = Instant::now();
        let leaked = now.duration_since(self.bucket_at).as_secs_f64() * 10.0;
        self.bucket_at = now;
        self.bucket = (self.bucket - leaked).max(0.0);
        let remaining = 600.0 - self.bucket;
        // Only rate-limit-decreasing is throttled by the bucket; other scenarios just
        // report it, so that fast test loops are never throttled by surprise.
        // Less than one unit left counts as empty: four quick requests leave only the few
        // hundredths that leaked meanwhile, which used to get a 200 reporting "0.0" (the
        // same as the 403 after it) instead of the intended 600, 450, 300, 150, 403.
        if remaining < 1.0 && self.scenario == Scenario::RateLimitDecreasing {
            return (true, 0.0);
        }
        self.bucket += cost;
        if self.scenario == Scenario::RateLimitDecreasing {
            // Reported before this request's cost: 600, 450, 300, 150, then throttled.
            (false, remaining)
        } else {
            (false, (600.0 - self.bucket).max(0.0))
        }
    }

    /// The one processing strand (§4): the oldest batch not yet finished and past initializing.
    fn strand_head(&self) -> Option<usize> {
        self.batches
            .iter()
            .position(|b| matches!(b.state.as_str(), "created" | "importing" | "cleanup_batch"))
    }

    /// `ImportRefactored#prepare` (lib/sis/csv/import_refactored.rb) when processing starts:
    /// a stored copy of each CSV whose headers were recognised (a users file with password
    /// columns filtered), its id appended to `data.downloadable_attachment_ids` (§3.1), and
    /// the copies served as `csv_attachments` (§3). Files that were not recognised get no id.
    /// IMS XML has no such copies (another importer).
    fn store_csv_copies(&mut self, idx: usize) {
        let b = &self.batches[idx];
        if b.data.get("import_type") != Some(&json!("instructure_csv")) {
            return;
        }
        let (Some(up), Some(scan)) = (b.upload.clone(), b.scan.as_ref()) else {
            return;
        };
        // In the order `prepare` walks the extracted zip: `Dir[...]`, sorted by path.
        let mut files = scan.files.clone();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let bid = b.id;
        let mut made = Vec::new();
        for f in &files {
            let fid = self.new_file_id();
            let dest = up.path.with_extension(format!("att-{fid}.csv"));
            if let Ok((name, size)) = content::store_copy(&up.path, &up.ext, f, &dest) {
                self.files.insert(fid, FileRef::Csv(bid));
                made.push(CsvAttachment {
                    id: fid,
                    name,
                    size,
                    path: dest,
                });
            }
        }
        let b = &mut self.batches[idx];
        let ids: Vec<u64> = made.iter().map(|a| a.id).collect();
        b.data
            .insert("downloadable_attachment_ids".into(), json!(ids));
        b.csv_attachments = made;
    }

    /// One show-poll of batch `idx`: a unit of time for its jobs (see [`Inner::tick`]).
    /// `polls_to_finish` counts these: a client that only shows its import sees it move
    /// one step per GET, so tests can count the states they see.
    pub fn poll(&mut self, idx: usize) {
        if self.batches[idx].state == "created"
            && let Some(h) = self.strand_head()
            && h != idx
        {
            // Waiting behind another batch: time passes for the one that runs.
            self.advance(h);
        } else {
            self.advance(idx);
        }
        self.worker_pickups();
        let bid = self.batches[idx].id;
        self.step_restores(Some(bid));
    }

    /// A read of the import list or of `importing` (§2.2, §2.3): a unit of time for every
    /// queued job of the account. In Canvas an import is a job on the account's strand
    /// (`SisBatch#process`, app/models/sis_batch.rb, queued by
    /// `SisImportsApiController#create`), the error file is written by a job after the end,
    /// and a restore is a Progress job (`SisBatch#restore_states_later`): none waits for a
    /// client to read anything. This simulator measures time in reads instead of seconds,
    /// so that tests stay deterministic, and every read that shows imports moves them on:
    /// a client polling only the list or `importing` sees its import finish.
    pub fn tick(&mut self) {
        // Error files of batches that had already ended before this read (one read after
        // the end, as a show-poll gives it).
        for i in 0..self.batches.len() {
            let b = &self.batches[i];
            if is_terminal(&b.state) && b.attachment_due && b.errors_attachment.is_none() {
                self.advance(i);
            }
        }
        if let Some(h) = self.strand_head() {
            self.advance(h);
        }
        self.worker_pickups();
        self.step_restores(None);
    }

    /// One step of each restore job not yet done (of batch `only`, when given).
    fn step_restores(&mut self, only: Option<u64>) {
        for pi in 0..self.progresses.len() {
            let p = &self.progresses[pi];
            if p.state != "completed" && only.is_none_or(|b| p.batch_id == b) {
                self.poll_progress(pi);
            }
        }
    }

    /// §2.5: a batch a user aborted while it waited in `created` is still handed to the
    /// worker when the strand reaches it; `SisBatch#process_without_send_later`
    /// (app/models/sis_batch.rb) then sets its progress to 100 and returns. The strand
    /// reaches it once no older batch is queued or running.
    fn worker_pickups(&mut self) {
        if self.scenario == Scenario::StuckCreated {
            // The strand never moves.
            return;
        }
        let t = now();
        let mut busy_before = false;
        for b in &mut self.batches {
            if b.pickup_pending && !busy_before {
                b.pickup_pending = false;
                b.progress = 100;
                b.updated_at = t;
            }
            busy_before |= matches!(b.state.as_str(), "created" | "importing" | "cleanup_batch");
        }
    }

    /// §4 batch-mode cleanup, as `SisBatch#remove_previous_imports` (app/models/sis_batch.rb)
    /// decides it: batch mode with a batch term (or `multi_term_batch_mode` true: sent as
    /// false it leaves no term, and the method returns before cleaning), and courses,
    /// sections or enrollments supplied. The `aborted` scenario is Canvas aborting the batch
    /// inside that cleanup (`detect_changes`), so it always passes through it.
    fn runs_cleanup(&self, idx: usize) -> bool {
        let b = &self.batches[idx];
        match self.scenario {
            Scenario::Aborted => true,
            Scenario::Failed => false,
            _ => {
                b.options.get("batch_mode") == Some(&json!(true))
                    && (!b.options["batch_mode_term_id"].is_null()
                        || b.options.get("multi_term_batch_mode") == Some(&json!(true)))
                    && b.scan.as_ref().is_some_and(|s| {
                        s.supplied
                            .iter()
                            .any(|k| matches!(*k, "course" | "section" | "enrollment"))
                    })
            }
        }
    }

    /// The import a diffing batch diffs against (`SisBatch#generate_diff`,
    /// app/models/sis_batch.rb): the newest successful batch of the same data set that was
    /// itself diffed or remastered, else the oldest successful one of the set. None for a
    /// remaster, which joins the set but is applied whole.
    fn diff_base(&self, idx: usize) -> Option<usize> {
        let b = &self.batches[idx];
        if b.options.get("diffing_remaster") == Some(&json!(true)) {
            return None;
        }
        let set = b.options.get("diffing_data_set_identifier")?.as_str()?;
        let succeeded = |x: &&Batch| {
            x.id != b.id
                && matches!(x.state.as_str(), "imported" | "imported_with_messages")
                && x.options
                    .get("diffing_data_set_identifier")
                    .and_then(Value::as_str)
                    == Some(set)
        };
        let chained = self
            .batches
            .iter()
            .filter(succeeded)
            .filter(|x| x.generated_diff || x.options.get("diffing_remaster") == Some(&json!(true)))
            .max_by_key(|x| (x.created_at, x.id));
        let base = chained.or_else(|| {
            self.batches
                .iter()
                .filter(succeeded)
                .min_by_key(|x| (x.created_at, x.id))
        })?;
        self.find(base.id)
    }

    /// Apply the batch's upload to the store (`process_instructure_csv_zip`): diffed first
    /// when it belongs to a data set.
    fn process(&mut self, idx: usize) {
        if self.scenario == Scenario::Failed {
            // The import crashes before it applies anything.
            return;
        }
        let base = self.diff_base(idx);
        let b = &self.batches[idx];
        let (Some(up), Some(scan)) = (b.upload.clone(), b.scan.as_ref()) else {
            return;
        };
        if b.data.get("import_type") == Some(&json!("ims_xml")) {
            // The IMS upload is counted (`ims.rs`), not applied: the closed importer's
            // mapping to Canvas objects is not known well enough to simulate (§10.1).
            return;
        }
        let opt_str = |k: &str| b.options.get(k).and_then(Value::as_str);
        let cx = Ctx2 {
            batch: Some(b.id),
            skip_deletes: b.options.get("skip_deletes") == Some(&json!(true)),
            update_sis_id_if_login_claimed: b.options.get("update_sis_id_if_login_claimed")
                == Some(&json!(true)),
        };
        let prev = base.and_then(|p| {
            let pb = &self.batches[p];
            Some((pb.id, pb.upload.clone()?, pb.scan.as_ref()?.files.clone()))
        });
        let diff = prev.as_ref().map(|(_, pu, pf)| DiffOpts {
            prev: Source {
                path: &pu.path,
                ext: &pu.ext,
                files: pf,
            },
            change_threshold: b.options.get("change_threshold").and_then(Value::as_i64),
            diff_row_count_threshold: b
                .options
                .get("diff_row_count_threshold")
                .and_then(Value::as_i64),
            drop_status: opt_str("diffing_drop_status"),
            user_remove_status: opt_str("diffing_user_remove_status"),
        });
        let keep = opt_str("diffing_data_set_identifier").is_some();
        let files = scan.files.clone();
        let before = self.store.state_image();
        let outcome = process::run(
            &mut self.store,
            Source {
                path: &up.path,
                ext: &up.ext,
                files: &files,
            },
            cx,
            diff,
        );
        let changed = self.store.changes_since(&before, false);
        let b = &mut self.batches[idx];
        b.roll_back.extend(changed);
        if outcome.diffed
            && let Some((pid, _, _)) = prev
        {
            b.generated_diff = true;
            b.data
                .insert("diffed_against_sis_batch_id".into(), json!(pid));
        }
        b.threshold_exceeded = outcome.threshold_exceeded;
        b.outcome = Some(outcome);
        if !keep {
            let _ = std::fs::remove_file(&up.path);
            b.upload = None;
        }
    }

    /// The terms batch mode works in: the batch term, or (multi-term) every term this
    /// batch's terms file stamped (`batch_mode_terms`).
    fn batch_terms(&self, idx: usize) -> Vec<u64> {
        let b = &self.batches[idx];
        if b.options.get("multi_term_batch_mode") == Some(&json!(true)) {
            self.store.terms_of_batch(b.id)
        } else {
            b.options["batch_mode_term_id"]
                .as_u64()
                .into_iter()
                .collect()
        }
    }

    /// `remove_previous_imports` from `detect_changes` on (app/models/sis_batch.rb): count
    /// what would go in each scope, abort past `change_threshold` (courses, then sections,
    /// then enrollments), else drop enrollments, sections and courses, in that order.
    fn run_cleanup(&mut self, idx: usize) {
        if self.scenario == Scenario::Aborted {
            return;
        }
        let terms = self.batch_terms(idx);
        let b = &self.batches[idx];
        let bid = b.id;
        let supplied: Vec<&str> = b
            .scan
            .as_ref()
            .map(|s| s.supplied.clone())
            .unwrap_or_default();
        let drop = b.drop_status.clone();
        let threshold = b.options.get("change_threshold").and_then(Value::as_i64);
        let scopes = self
            .store
            .cleanup_scopes(bid, &terms, &supplied, drop.as_deref());
        let mut result = CleanupResult::default();
        if let Some(t) = threshold {
            for (scope, word) in [
                (&scopes.courses, "courses"),
                (&scopes.sections, "sections"),
                (&scopes.enrollments, "enrollments"),
            ] {
                if let Some((gone, all)) = scope {
                    // `count.to_f / all_count * 100 > change_threshold`: 0/0 is NaN, never
                    // greater.
                    let pct = gone.len() as f64 / *all as f64 * 100.0;
                    if pct > t as f64 {
                        result.abort = Some(format!(
                            "{} {word} would be deleted and exceeds the set threshold of {t}%",
                            gone.len()
                        ));
                        self.batches[idx].cleanup = Some(result);
                        return;
                    }
                }
            }
        }
        let status = drop.unwrap_or_else(|| "deleted".into());
        let before = self.store.state_image();
        if let Some((gone, _)) = &scopes.enrollments {
            if !matches!(status.as_str(), "deleted" | "completed" | "inactive") {
                // `remove_non_batch_enrollments` raises NotImplementedError for any other
                // status (deleted_last_completed passes the controller's check).
                result.error = Some("NotImplementedError".into());
                self.batches[idx].cleanup = Some(result);
                return;
            }
            let n = self.store.drop_enrollments(gone, &status);
            result.counts.push(("batch_enrollments_deleted", n as u64));
        }
        if let Some((gone, _)) = &scopes.sections {
            let n = self.store.drop_sections(gone);
            result.counts.push(("batch_sections_deleted", n as u64));
        }
        if let Some((gone, _)) = &scopes.courses {
            let n = self.store.drop_courses(gone);
            result.counts.push(("batch_courses_deleted", n as u64));
        }
        // `batch_mode_delete: true` rows: what `restore_states(batch_mode: true)` restores.
        let changed = self.store.changes_since(&before, true);
        self.batches[idx].roll_back.extend(changed);
        self.batches[idx].cleanup = Some(result);
    }

    fn advance(&mut self, idx: usize) {
        let scenario = self.scenario;
        let ptf = self.polls_to_finish;
        let b = &mut self.batches[idx];
        match b.state.as_str() {
            "created" => {
                if scenario == Scenario::StuckCreated {
                    return;
                }
                let t = now();
                b.state = "importing".into();
                b.started_at = Some(t);
                b.updated_at = t;
                b.progress = 0;
                b.polls = 0;
                // §3.1: set when processing starts.
                let supplied: Vec<&str> = b
                    .scan
                    .as_ref()
                    .map(|s| s.supplied.clone())
                    .unwrap_or_default();
                b.data.insert("supplied_batches".into(), json!(supplied));
                b.data.insert("counts".into(), Value::Object(counts_zero()));
                b.data
                    .insert("downloadable_attachment_ids".into(), json!([]));
                self.store_csv_copies(idx);
                let b = &mut self.batches[idx];
                let rows: u64 = b
                    .scan
                    .as_ref()
                    .map(|s| s.counts.values().sum())
                    .unwrap_or(0);
                b.data
                    .insert("running_immediately".into(), json!(rows <= 49));
                b.data.insert("completed_importers".into(), json!([]));
            }
            "importing" => {
                if b.scan.is_none() {
                    // Still reading a big upload: keep rising but never finish.
                    b.progress = (b.progress + 1).min(99);
                    b.updated_at = now();
                    return;
                }
                b.polls += 1;
                if b.polls >= ptf {
                    self.process(idx);
                    if self.runs_cleanup(idx)
                        && self.batches[idx].options.get("multi_term_batch_mode")
                            == Some(&json!(true))
                        && self.scenario != Scenario::Aborted
                        && self.batch_terms(idx).is_empty()
                    {
                        // `batch_mode_terms` aborts before the batch reaches cleanup_batch.
                        self.batches[idx].cleanup = Some(CleanupResult {
                            abort: Some(
                                "Terms not found. Terms must be included with multi_term_batch_mode"
                                    .into(),
                            ),
                            ..Default::default()
                        });
                        self.finish(idx);
                    } else if self.runs_cleanup(idx) {
                        // §4: `remove_previous_imports` moves the batch to cleanup_batch;
                        // §3: progress starts again from 0 for the deletions.
                        let b = &mut self.batches[idx];
                        b.state = "cleanup_batch".into();
                        b.progress = 0;
                        b.updated_at = now();
                    } else {
                        self.finish(idx);
                    }
                } else {
                    b.progress = ((b.polls as u64 * 99) / ptf.max(1) as u64).min(99) as u32;
                    b.updated_at = now();
                }
            }
            "cleanup_batch" => {
                // One poll in cleanup: what the batch did not mention goes, then the end.
                self.run_cleanup(idx);
                self.finish(idx);
            }
            // §3: the error file is written by a later job: one poll after the end.
            s if is_terminal(s) && b.attachment_due && b.errors_attachment.is_none() => {
                b.attachment_due = false;
                let bid = b.id;
                let fid = self.new_file_id();
                self.files.insert(fid, FileRef::Errors(bid));
                self.batches[idx].errors_attachment =
                    Some((fid, errors_csv(&self.batches[idx]).len()));
            }
            _ => {}
        }
    }

    fn finish(&mut self, idx: usize) {
        let report = self.new_report();
        let scenario = self.scenario;
        let extra = self.extra_warnings;
        let b = &mut self.batches[idx];
        let cleaned = b.state == "cleanup_batch";
        let scan = b.scan.clone().unwrap_or_default();
        let outcome = b.outcome.take();
        let cleanup = b.cleanup.take();
        // Applied imports: the file-level messages of reading the upload come first (Canvas
        // records them while preparing the files), then those of applying the rows.
        let mut messages = match &outcome {
            Some(o) => scan
                .messages
                .iter()
                .filter(|m| m.row.is_none())
                .cloned()
                .chain(o.messages.iter().cloned())
                .collect(),
            None => scan.messages.clone(),
        };
        let mut aborted = false;
        let mut crashed = None;
        if let Some(c) = &cleanup {
            if let Some(m) = &c.abort {
                // `abort_batch` + `batch_aborted` (app/models/sis_batch.rb): a warning.
                messages.push(Message::warning(None, m.clone(), None));
                aborted = true;
            }
            crashed = c.error.clone();
        }
        match scenario {
            Scenario::Warnings => {
                messages.push(Message::warning(
                    Some("users.csv"),
                    "Improper status for user fake-warning-1",
                    Some(2),
                ));
                messages.push(Message::warning(
                    Some("enrollments.csv"),
                    "Improper role \"Librarian\" for an enrollment",
                    Some(3),
                ));
            }
            Scenario::Failed => messages.push(Message::error(
                None,
                format!(
                    "Error while importing CSV. Please contact support. (Error report {report})"
                ),
                None,
            )),
            Scenario::Aborted => {
                // §4 batch-mode cleanup: Canvas aborts the batch itself. The message is
                // `SisBatch#change_detected_message`, which names the batch's own
                // change_threshold; this scenario aborts without one too, and then says 10.
                let n = scan.counts.get("enrollment").copied().unwrap_or(0).max(12);
                let pct = b
                    .options
                    .get("change_threshold")
                    .and_then(Value::as_i64)
                    .unwrap_or(10);
                messages.push(Message::warning(
                    None,
                    format!(
                        "{n} enrollments would be deleted and exceeds the set threshold of {pct}%"
                    ),
                    None,
                ));
                aborted = true;
            }
            _ => {}
        }
        for k in 0..extra {
            messages.push(Message::warning(
                Some("users.csv"),
                format!("Improper status for user extra-{}", k + 1),
                Some(k as u64 + 2),
            ));
        }
        let mut counts = counts_zero();
        let applied = outcome.as_ref().map(|o| &o.counts).unwrap_or(&scan.counts);
        for (kind, n) in applied {
            counts.insert(content::count_key(kind).into(), json!(n));
        }
        let errors = messages.iter().filter(|m| m.failure).count();
        let warnings = messages.len() - errors;
        counts.insert("error_count".into(), json!(errors));
        counts.insert("warning_count".into(), json!(warnings));
        if cleaned && !aborted {
            // §3.1: `batch_<kind>_deleted` for each kind the cleanup ran for.
            for (key, n) in cleanup.iter().flat_map(|c| c.counts.iter()) {
                counts.insert((*key).into(), json!(n));
            }
        }
        let t = now();
        b.updated_at = t;
        b.data
            .insert("completed_importers".into(), json!(scan.supplied));
        b.data.insert("statistics".into(), statistics(&counts));
        b.data.insert("counts".into(), Value::Object(counts));
        if let Some(e) = crashed {
            // An exception in the end-of-batch work (`process_without_send_later`'s rescue):
            // `failed`, with the error in `data`; neither progress nor ended_at change.
            b.data.insert("error_message".into(), json!(e));
            b.data.insert("stack_trace".into(), json!(format!("{e}\n")));
            b.state = "failed".into();
        } else if aborted {
            // §2.5 / §3: Canvas aborted it (`abort_batch` in `detect_changes`), then
            // `do_batch_end_work` (app/models/sis_batch.rb) still runs: the state stays
            // aborted, but progress becomes 100 and ended_at is set.
            b.state = "aborted".into();
            b.progress = 100;
            b.ended_at = Some(t);
        } else {
            // §4: finish(true).
            b.state = if errors > 0 {
                "failed_with_messages"
            } else if warnings > 0 {
                "imported_with_messages"
            } else {
                "imported"
            }
            .into();
            b.ended_at = Some(t);
            if errors == 0 {
                // §3: 100 only on success.
                b.progress = 100;
            }
        }
        b.attachment_due = !messages.is_empty();
        self.record_messages(idx, messages);
    }

    fn record_messages(&mut self, idx: usize, messages: Vec<Message>) {
        let bid = self.batches[idx].id;
        for m in &messages {
            let id = self.next_error;
            self.next_error += 1;
            self.errors.push(ErrorRow {
                id,
                batch_id: bid,
                msg: m.clone(),
            });
        }
        self.batches[idx].messages = messages;
    }

    /// §2.5 (`SisImportsApiController#abort`, app/controllers/sis_imports_api_controller.rb).
    /// Canvas resumes the account's other batches 10 minutes after an abort; this simulator
    /// does not pause (its clock is reads, not minutes), so the next queued batch moves on
    /// the next read.
    pub fn abort(&mut self, idx: usize) -> bool {
        let b = &mut self.batches[idx];
        if !NOT_DONE.contains(&b.state.as_str()) {
            return false;
        }
        // §2.5: a queued batch is still picked up by the worker later (progress → 100).
        b.pickup_pending = b.state == "created";
        b.state = "aborted".into();
        b.updated_at = now();
        true
    }

    /// §2.6.
    pub fn abort_all_pending(&mut self) {
        let t = now();
        for b in &mut self.batches {
            if b.state == "initializing" || b.state == "created" {
                b.state = "aborted".into();
                b.progress = 100;
                b.updated_at = t;
            }
        }
    }

    /// §2.7, `SisBatch#restore_states_later` (app/models/sis_batch.rb): a `queued` Progress
    /// whose job will do the restore; the batch itself changes only when the job starts.
    /// Returns the progress index.
    pub fn restore(&mut self, idx: usize, flags: RestoreFlags) -> usize {
        let t = now();
        let pid = self.new_progress_id();
        let bid = self.batches[idx].id;
        self.progresses.push(Progress {
            id: pid,
            batch_id: bid,
            state: "queued",
            completion: 0.0,
            created_at: t,
            updated_at: t,
            flags,
        });
        self.progresses.len() - 1
    }

    /// The restore job's work (`SisBatch#restore_states_for_batch`): every roll-back row the
    /// filters select and no restore has applied yet goes back to its `restore_to_state` and
    /// becomes restored; then `add_restore_statistics` sets each type's
    /// `data.statistics.<type>.restored` to its restored rows, and the batch ends `restored`,
    /// or `partially_restored` with any filter.
    fn restore_batch(&mut self, bi: usize, flags: RestoreFlags) {
        let mut rows = std::mem::take(&mut self.batches[bi].roll_back);
        // SisBatchRollBackData::RESTORE_ORDER, type by type.
        for ty in ROLL_BACK_TYPES {
            for r in rows.iter_mut() {
                if r.ty == *ty && !r.restored && flags.wants(r) {
                    self.store.set_state(r.ty, r.idx, &r.restore_to_state());
                    r.restored = true;
                }
            }
        }
        let b = &mut self.batches[bi];
        b.roll_back = rows;
        if !matches!(b.data.get("statistics"), Some(Value::Object(_))) {
            // `statistics unless data.key?(:statistics)`: the zeroed table first.
            b.data
                .insert("statistics".into(), statistics(&counts_zero()));
        }
        let mut restored: HashMap<&str, u64> = HashMap::new();
        for r in b.roll_back.iter().filter(|r| r.restored) {
            *restored.entry(r.ty).or_default() += 1;
        }
        if let Some(Value::Object(stats)) = b.data.get_mut("statistics") {
            for (ty, v) in stats.iter_mut() {
                if let Value::Object(o) = v {
                    o.insert(
                        "restored".into(),
                        json!(restored.get(ty.as_str()).copied().unwrap_or(0)),
                    );
                }
            }
        }
        b.state = if flags.partial() {
            "partially_restored"
        } else {
            "restored"
        }
        .into();
        b.updated_at = now();
    }

    /// A POST of a provisioning report (`AccountReportsController#create`): `created`, 0.
    pub fn create_report(&mut self, parameters: Map<String, Value>) -> usize {
        let id = self.new_account_report_id();
        self.reports.push(Report::new(id, parameters, now()));
        self.reports.len() - 1
    }

    /// One GET of a report moves it one step: created → running (0) → running (50) →
    /// complete (100) with its file, built from the store at that moment; `error` (no file)
    /// when no kind was asked for or the term does not exist (`AccountReports.finalize_report`,
    /// gems/plugins/account_reports/lib/account_reports.rb).
    pub fn poll_report(&mut self, ri: usize) {
        let t = now();
        let r = &mut self.reports[ri];
        r.polls += 1;
        match r.status {
            "created" => {
                r.status = "running";
                r.started_at = Some(t);
            }
            "running" if r.polls < crate::report::POLLS_TO_COMPLETE => r.progress = 50,
            "running" => {
                let params = r.parameters.clone();
                let rid = r.id;
                let built = crate::report::choices(&self.store, &params).ok().map(|c| {
                    let fid = self.next_file;
                    let file = crate::report::build_file(&self.store, &c, rid, fid, t);
                    (crate::report::extra_text(&c), file)
                });
                let r = &mut self.reports[ri];
                r.progress = 100;
                r.ended_at = Some(t);
                match built {
                    Some((text, Some((file, lines)))) => {
                        r.parameters.insert("extra_text".into(), json!(text));
                        r.current_line = Some(lines);
                        r.status = "complete";
                        let fid = file.id;
                        r.file = Some(file);
                        self.next_file += 1;
                        self.files.insert(fid, FileRef::Report(rid));
                    }
                    _ => {
                        r.status = "error";
                        r.parameters.insert(
                            "extra_text".into(),
                            json!(
                                "Failed, the report failed to generate a file. Please try again."
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// One unit of time for a restore job (§2.7): a GET of its Progress, or a read that
    /// shows its batch ([`Inner::tick`], [`Inner::poll`]). `queued` → `running` (the job
    /// starts: `Progress#start`, and the batch goes `restoring`) → `completed` (the restore
    /// is done: [`Inner::restore_batch`], then `Progress#complete`). The 50.0 while running
    /// is this simulator's choice (Canvas's `calculate_completion!` counts rows).
    pub fn poll_progress(&mut self, pidx: usize) {
        let t = now();
        let p = &mut self.progresses[pidx];
        let (bid, flags) = (p.batch_id, p.flags);
        match p.state {
            "queued" => {
                p.state = "running";
                p.completion = 50.0;
                p.updated_at = t;
                if let Some(i) = self.find(bid) {
                    let b = &mut self.batches[i];
                    b.state = "restoring".into();
                    b.updated_at = t;
                }
            }
            "running" => {
                p.state = "completed";
                p.completion = 100.0;
                p.updated_at = t;
                if let Some(i) = self.find(bid) {
                    self.restore_batch(i, flags);
                }
            }
            _ => {}
        }
    }
}
