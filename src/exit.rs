//! Exit codes (the contract's table) and the one error type every command returns.
//!
//! A command ends either with an `Exit` (which may be non-zero without being an error, e.g.
//! `imported_with_messages` → 1) or with a `Failure` that carries its exit code, a `kind`
//! (the failure's cause, for `--json`), a message that says what to do, and whatever partial
//! result the command had.

use std::fmt;

use serde_json::{Map, Value, json};

/// The documented exit codes (`docs/cli-contract.md`, "Exit codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    Ok = 0,
    ImportedWithMessages = 1,
    Usage = 2,
    ImportFailed = 3,
    MaxPolls = 4,
    NotFound = 5,
    /// The guard held the run: nothing was sent; `canvas-sis approve RUN` sends it.
    Held = 6,
    DataErr = 65,
    NoInput = 66,
    /// Output (stdout or an output file) could not be written; a closed pipe is not one.
    IoErr = 74,
    Unavailable = 69,
    TempFail = 75,
    NoPerm = 77,
    Config = 78,
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Every exit code, in the contract's order.
    pub const ALL: &'static [Exit] = &[
        Exit::Ok,
        Exit::ImportedWithMessages,
        Exit::Usage,
        Exit::ImportFailed,
        Exit::MaxPolls,
        Exit::NotFound,
        Exit::Held,
        Exit::DataErr,
        Exit::NoInput,
        Exit::Unavailable,
        Exit::IoErr,
        Exit::TempFail,
        Exit::NoPerm,
        Exit::Config,
        Exit::Interrupted,
    ];

    /// The `kind` of a failure with this exit code when the site that raised it named none:
    /// the first row of [`KINDS`] with this code. `internal` for the codes that are not
    /// failures (0, 1, 3, 4): no `Failure` carries them.
    pub fn default_kind(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, code, _)| *code == self.code())
            .map(|(kind, _, _)| *kind)
            .unwrap_or("internal")
    }
}

/// Every failure cause `--json` can name as `error.kind`: (kind, exit code, cause). The first
/// row of each exit code is that code's default. The README's "Error kinds" list is tested
/// against this table, and every `.kind("…")` in the source against it too.
#[rustfmt::skip]
pub const KINDS: &[(&str, u8, &str)] = &[
    ("usage", 2, "a bad flag, value or flag combination (clap's errors and our own checks); nothing was sent"),
    ("canvas_rejected", 2, "Canvas answered 400, 409 or 422: it refused the request's options"),
    ("confirmation_needed", 2, "abort, abort-all-pending or restore without --yes while stdin or stderr is not a terminal"),
    ("output_exists", 2, "convert: the output file exists and --force was not given; nothing was written"),
    ("output_not_a_file", 2, "convert: the output names a folder, or a file whose name does not end in .zip; nothing was written"),
    ("not_root_account", 2, "config check: the account is a sub-account; SIS imports run only on root accounts"),
    ("held_superseded", 2, "approve: a later submit went to the same account after the run was held; its plan is stale"),
    ("not_held", 2, "approve or discard: the run is not held (never held here, or approved or discarded already)"),
    ("held_elsewhere", 2, "approve: the run was held for another Canvas URL or account than this run's settings name"),
    ("not_found", 5, "Canvas answered 404: the account, import or term named does not exist"),
    ("already_ended", 5, "abort: the import already ended; nothing to abort"),
    ("held", 6, "the guard held the run: its plan crossed a threshold; nothing was sent; `canvas-sis approve RUN` sends it"),
    ("nothing_to_watch", 66, "watch --last: the journal holds no submit to this account and Canvas runs no import for it"),
    ("validation_failed", 65, "validation found errors (or warnings with --strict); the report is beside `error`"),
    ("bundle_changed", 65, "the file changed (size or times) between its check and its upload: an export still being written; nothing was sent"),
    ("bundle_invalid", 65, "the file is empty, its name or --extension does not match its content, or a directory holds no .csv files"),
    ("import_type_mismatch", 65, "the content does not fit the import type: XML that is not IMS Enterprise, or an XML file with import_type instructure_csv"),
    ("input_missing", 66, "an input path does not exist"),
    ("baseline_unreadable", 66, "plan: the baseline this host keeps cannot be read (corrupt or unreadable); move it aside"),
    ("input_unreadable", 66, "an input path cannot be read (permissions, not a regular file, an I/O error)"),
    ("held_bundle_changed", 66, "approve: neither the held copy nor the original file has the planned sha256 any more"),
    ("temp_file_failed", 66, "a temporary file (the zip of a directory, the demo's files) cannot be written"),
    ("unreachable", 69, "no answer from Canvas (timeouts, dropped or reset connections) within the retry budget"),
    ("dns", 69, "the host name of the Canvas URL does not resolve (no such host, or no DNS answer)"),
    ("connection_refused", 69, "nothing accepts connections at the Canvas URL's host and port"),
    ("throttled", 69, "Canvas kept throttling (403 Rate Limit Exceeded, 429) past the retry budget"),
    ("server_error", 69, "Canvas answered 5xx past the retry budget (a 500 at once)"),
    ("unexpected_status", 69, "Canvas answered an HTTP status that means no known cause (e.g. 405, 413)"),
    ("bad_response", 69, "a 2xx answer whose body is not what the API sends (HTML page, truncated JSON, missing fields)"),
    ("upload_lost", 69, "the upload's answer was lost and no single import could be found for it"),
    ("file_upload_failed", 69, "Canvas's file-upload flow failed (an upload URL refused, no confirmation, a file-less import left over)"),
    ("link_refused", 69, "Canvas pointed to another host or to plain http (a next-page link, an attachment URL); not followed"),
    ("too_many_pages", 69, "a list ran past the page cap"),
    ("report_failed", 69, "plan --against canvas: Canvas's provisioning report ended in error, or came without a file"),
    ("report_timeout", 69, "plan --against canvas: the provisioning report did not finish within --max-polls"),
    ("download_failed", 69, "errors --attachment: the download stalled, was cut off, or was answered with an error status"),
    ("simulator_failed", 69, "demo: the bundled simulator could not start"),
    ("runtime_failed", 69, "the async runtime could not start"),
    ("output_failed", 74, "stdout or an output file could not be written (disk full, I/O error)"),
    ("locked", 75, "another canvas-sis run holds the lock for this URL and account"),
    ("already_running", 75, "--if-idle: Canvas already runs or queues an import for the account; nothing was sent"),
    ("duplicate_content", 75, "--once: the same content went to this account within --dedupe-window; nothing was sent"),
    ("forbidden", 77, "a 403 that is not throttling: the token's user lacks the permission, or SIS imports are disabled"),
    ("unauthorized", 77, "401: the token is wrong, expired or revoked"),
    ("config_invalid", 78, "a setting cannot be used, for a reason not listed below (e.g. the HTTPS client cannot be built)"),
    ("config_missing_url", 78, "no Canvas URL is set"),
    ("config_missing_token", 78, "no access token is set (for this profile)"),
    ("config_invalid_file", 78, "the config file cannot be read, is not TOML, or a key has an invalid value"),
    ("config_untrusted_file", 78, "the config file belongs to another user (not root), or group or others may write to it"),
    ("config_invalid_url", 78, "the base URL is not a URL, not https, has no host, or holds credentials"),
    ("http_refused", 78, "an http:// base URL whose host is not loopback"),
    ("redirected", 78, "Canvas answered a POST or PUT with a redirect, or a GET with one to another host: the base URL is probably not Canvas's own address"),
    ("profile_missing", 78, "--profile names no [profiles.NAME] section, or there is no config file for it (or for --all-profiles)"),
    ("token_file_unreadable", 78, "the token file cannot be read, or is empty"),
    ("token_invalid", 78, "the access token holds a line break, a space or a control character (a second line in its file)"),
    ("ca_cert_invalid", 78, "--ca-cert cannot be read, or holds no PEM certificate"),
    ("tls_certificate", 78, "the server's TLS certificate does not verify (unknown issuer, expired, not yet valid, wrong host)"),
    ("tls_handshake", 78, "the server refused the TLS handshake (an alert, a client certificate wanted, nothing in common, not TLS)"),
    ("state_dir", 78, "the state directory, a lock file or the journal cannot be used"),
    ("log_dir", 78, "the log directory cannot be created, or the logger cannot be installed"),
    ("interrupted", 130, "SIGINT, SIGTERM or SIGHUP; the message says whether anything was sent and how to resume"),
];

/// What `--json` prints for an exit code (the contract's "Global flags").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonShape {
    /// 0, 1, 3, 4: the import ran or still runs: the command's result.
    Result,
    /// 6: `{"held": {"run_id", "reasons", "plan"}}`, which the guard in `submit` prints
    /// itself before it fails with exit 6.
    Held,
    /// Everything else: `{"error": {…}}` plus any partial result.
    Error,
}

impl JsonShape {
    pub fn of(code: u8) -> JsonShape {
        match code {
            0 | 1 | 3 | 4 => JsonShape::Result,
            6 => JsonShape::Held,
            _ => JsonShape::Error,
        }
    }
}

/// A failure with the exit code it maps to, its cause, a message and an optional hint (what
/// to do).
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    /// The cause, one of [`KINDS`] (`error.kind` under `--json`).
    pub kind: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// What the command had when it failed (keys printed beside `error` under `--json`).
    pub partial: Map<String, Value>,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            kind: exit.default_kind(),
            message: message.into(),
            hint: None,
            partial: Map::new(),
        }
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Name the cause (one of [`KINDS`], with this failure's exit code).
    pub fn kind(mut self, kind: &'static str) -> Self {
        debug_assert!(
            KINDS
                .iter()
                .any(|(k, code, _)| *k == kind && *code == self.exit.code()),
            "kind {kind:?} with exit {} is not in exit::KINDS",
            self.exit.code()
        );
        self.kind = kind;
        self
    }
    /// Add the keys of `result` (a JSON object; anything else goes under `"result"`) to what
    /// `--json` prints beside `error`.
    pub fn partial(mut self, result: Value) -> Self {
        match result {
            Value::Object(m) => {
                for (k, v) in m {
                    if k != "error" {
                        self.partial.insert(k, v);
                    }
                }
            }
            other => {
                self.partial.insert("result".into(), other);
            }
        }
        self
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(Exit::Usage, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Exit::Config, message)
    }
    pub fn no_input(message: impl Into<String>) -> Self {
        Failure::new(Exit::NoInput, message)
    }
    /// This failure to write `what`, unless the cause `e` is a full disk or quota: then exit
    /// 74 ([`Failure::output`], "free space"), wherever it strikes, not the configuration
    /// error that would send the admin to move the directory.
    pub fn unless_disk_full(self, what: &str, e: &std::io::Error) -> Self {
        if disk_full(e) {
            Failure::output(what, e)
        } else {
            self
        }
    }
    /// Writing `what` failed (disk full, I/O error): exit 74.
    pub fn output(what: &str, e: &std::io::Error) -> Self {
        Failure::new(Exit::IoErr, format!("cannot write {what}: {}", io_said(e)))
            .kind("output_failed")
            .hint(output_hint(e))
    }
    pub fn data(message: impl Into<String>) -> Self {
        Failure::new(Exit::DataErr, message)
    }

    /// The `--json` document of this failure: `{"error": {"exit_code", "kind", "message",
    /// "hint"}}` and the partial result's keys.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert(
            "error".into(),
            json!({
                "exit_code": self.exit.code(),
                "kind": self.kind,
                "message": self.message,
                "hint": self.hint,
            }),
        );
        for (k, v) in &self.partial {
            doc.insert(k.clone(), v.clone());
        }
        Value::Object(doc)
    }
}

/// Whether `e` is a full disk or an exhausted quota: exit 74 (an output that could not be
/// written), not a configuration error, wherever it strikes.
fn disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull
        || e.kind() == std::io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// What to do when an input cannot be read: the hint fits the cause.
pub fn input_hint(e: Option<&std::io::Error>) -> &'static str {
    use std::io::ErrorKind as K;
    match e {
        Some(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            "the path is a loop of symbolic links: point it at the file itself"
        }
        Some(e) if e.kind() == K::PermissionDenied => {
            "check the permissions of the file and of the folders above it"
        }
        _ => "check the path",
    }
}

/// An I/O error as a person reads it: the system's words where it gave some, not Rust's
/// names for error kinds ("entity not found").
pub fn io_said(e: &std::io::Error) -> String {
    if e.raw_os_error().is_some() {
        return e.to_string();
    }
    kind_said(e.kind())
}

/// An I/O error's kind in the words the system uses for it (where a message would name a
/// temporary file the user never chose).
pub fn kind_said(k: std::io::ErrorKind) -> String {
    use std::io::ErrorKind as K;
    match k {
        K::NotFound => "no such file or directory",
        K::PermissionDenied => "permission denied",
        K::AlreadyExists => "it already exists",
        K::IsADirectory => "is a directory",
        K::NotADirectory => "not a directory",
        K::ReadOnlyFilesystem => "read-only file system",
        K::StorageFull => "no space left on device",
        other => return other.to_string(),
    }
    .into()
}

/// What to do when an output file cannot be written: the hint fits the cause ("free space"
/// only where space, or the disk, is the trouble).
pub fn output_hint(e: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::NotFound | K::NotADirectory => "create the folder it goes in, or send it elsewhere",
        K::IsADirectory => "name a file, not a folder",
        K::PermissionDenied | K::ReadOnlyFilesystem => {
            "send it where you may write, or fix the folder's permissions"
        }
        _ => "free space on the disk it goes to, or send it elsewhere",
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A full disk (or quota) under the state dir is exit 74 with "free space", wherever it
    /// strikes; it was a configuration error (78) telling the admin to move XDG_STATE_HOME.
    #[test]
    fn a_full_disk_is_an_output_failure() {
        let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(disk_full(&full));
        assert!(disk_full(&std::io::Error::from_raw_os_error(libc::EDQUOT)));
        assert!(!disk_full(&std::io::Error::from_raw_os_error(libc::EACCES)));
        let state = || Failure::config("cannot write the state journal").kind("state_dir");
        let f = state().unless_disk_full("the state journal /s/journal.json", &full);
        assert_eq!(f.exit.code(), 74);
        assert_eq!(f.kind, "output_failed");
        assert!(f.hint.as_deref().unwrap().contains("free space"));
        let denied = std::io::Error::from_raw_os_error(libc::EACCES);
        let f = state().unless_disk_full("the state journal /s/journal.json", &denied);
        assert_eq!((f.exit.code(), f.kind), (78, "state_dir"));
    }

    #[test]
    fn kinds_are_unique_snake_case_and_cover_every_error_exit() {
        let mut seen = std::collections::BTreeSet::new();
        for (kind, code, cause) in KINDS {
            assert!(seen.insert(*kind), "{kind} twice");
            assert!(
                !kind.is_empty()
                    && kind
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{kind} is not snake_case"
            );
            assert!(!cause.is_empty() && !cause.contains('\n'), "{kind}");
            let exit = Exit::ALL.iter().find(|e| e.code() == *code);
            assert!(exit.is_some(), "{kind}: exit {code} is not an exit code");
            assert_ne!(
                JsonShape::of(*code),
                JsonShape::Result,
                "{kind}: exit {code}"
            );
        }
        for e in Exit::ALL {
            if JsonShape::of(e.code()) == JsonShape::Error {
                let k = e.default_kind();
                assert!(
                    KINDS.iter().any(|(kk, c, _)| *kk == k && *c == e.code()),
                    "exit {} has no kind",
                    e.code()
                );
            }
        }
    }

    #[test]
    fn the_error_document() {
        let f = Failure::new(Exit::NotFound, "import 9 does not exist")
            .hint("check the id")
            .partial(json!({"diagnostics": [], "error": "never replaced"}));
        assert_eq!(
            f.to_json(),
            json!({"error": {"exit_code": 5, "kind": "not_found", "message": "import 9 does not exist", "hint": "check the id"}, "diagnostics": []})
        );
        let f = Failure::config("no Canvas URL is set").kind("config_missing_url");
        assert_eq!(f.to_json()["error"]["kind"], "config_missing_url");
        assert_eq!(f.to_json()["error"]["hint"], Value::Null);
        assert_eq!(Failure::usage("x").to_json()["error"]["kind"], "usage");
    }
}
