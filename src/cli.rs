//! Command-line definitions. The doc comments here are the `--help` text.
//!
//! Settings that can also come from the environment or the config file are `Option`s with no
//! clap default: `config.rs` layers flag > env > file > default and records where each value
//! came from, which a clap default would hide.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The contract's exit codes, for `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0   imported; submit accepted (without --watch); validate found no errors
  1   imported_with_messages (it ran, with warnings to read)
  2   usage error (bad flag or flag combination)
  3   failed, failed_with_messages or aborted
  4   --max-polls reached while the import still runs (`canvas-sis watch ID` resumes)
  5   Canvas answered 404 (account, import or term; for abort: already finished)
  65  validation found errors; nothing was sent
  66  input missing or unreadable
  69  Canvas unreachable, or 5xx/throttling outlasted the retry budget
  75  another canvas-sis run holds the lock, or an import already runs (--if-idle, --once)
  77  401, or a 403 that is not throttling (bad token or missing permission)
  78  configuration error (missing URL/token, invalid config, refused http URL)
  130 interrupted by SIGINT, SIGTERM or SIGHUP: says whether anything was sent, and how to resume";

/// Validate, submit and watch Canvas LMS SIS imports.
///
/// canvas-sis checks an SIS bundle (CSV, zip or XML) locally, uploads it to
/// /api/v1/accounts/:id/sis_imports, follows the import to its end, and logs counts,
/// warnings and errors in syslog style. Exit codes tell a monitor what happened (listed
/// below).
///
/// The access token is read from CANVAS_ACCESS_TOKEN, --token-file, or the config file's
/// `token_file` / `access_token`. There is deliberately no --token flag.
#[derive(Debug, Parser)]
#[command(
    name = "canvas-sis",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_help = "Exit codes: see --help.",
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (TOML). Default: ./canvas_sis.toml if present, else
    /// $XDG_CONFIG_HOME/canvas-sis/config.toml if present.
    #[arg(
        short = 'c',
        long,
        global = true,
        env = "CANVAS_SIS_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Use the [profiles.NAME] section of the config file (its keys override the top-level ones).
    #[arg(long, global = true, env = "CANVAS_SIS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// Canvas base URL, e.g. https://canvas.example.edu (config: base_url).
    /// http:// is refused unless the host is loopback.
    #[arg(long, global = true, env = "CANVAS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Root account: a numeric id, `self`, or `sis_account_id:XYZ` (config: account_id) [default: self]
    #[arg(long, global = true, env = "CANVAS_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,

    /// File holding the access token (config: token_file). The token itself may instead be in
    /// CANVAS_ACCESS_TOKEN.
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Directory of the log file (config: [log] dir) [default: $XDG_STATE_HOME/canvas-sis]
    #[arg(long, global = true, env = "CANVAS_SIS_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Log file name (config: [log] file) [default: canvas_sis.log]
    #[arg(long, global = true, value_name = "NAME")]
    pub log_file: Option<String>,

    /// Write no log file (config: [log] dir = "").
    #[arg(long, global = true)]
    pub no_log_file: bool,

    /// More detail on stderr, as syslog-style log lines (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print the command's result as one JSON document on stdout (human text goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,

    /// Colour on a terminal (config: color) [default: auto; NO_COLOR is honoured]
    #[arg(long, global = true, value_name = "WHEN")]
    pub color: Option<When>,

    /// Progress bars on stderr; auto means only on a terminal (config: progress) [default: auto]
    #[arg(long, global = true, value_name = "WHEN")]
    pub progress: Option<When>,

    /// Trust this PEM CA certificate as well as the system roots (config: ca_cert).
    #[arg(long, global = true, value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,

    /// Give up retrying throttled or failing requests after this long; a host that does not resolve or refuses connections gets 5 quick attempts only (config: retry_budget) [default: 10m]
    #[arg(long, global = true, value_name = "DURATION")]
    pub retry_budget: Option<String>,

    /// TCP/TLS connect timeout (config: connect_timeout) [default: 30s]
    #[arg(long, global = true, value_name = "DURATION")]
    pub connect_timeout: Option<String>,

    /// Time to wait for an answer to a request (config: read_timeout) [default: 120s]
    #[arg(long, global = true, value_name = "DURATION")]
    pub read_timeout: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Extension {
    Csv,
    Zip,
    Xml,
}

impl Extension {
    pub fn as_str(self) -> &'static str {
        match self {
            Extension::Csv => "csv",
            Extension::Zip => "zip",
            Extension::Xml => "xml",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum UploadMode {
    /// Raw body below the size threshold, the file-upload flow above it.
    Auto,
    /// The file as the raw request body.
    Direct,
    /// Canvas's pre_attachment file-upload flow.
    FileUpload,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check CSV, XML or zip files, or a directory of CSVs, locally; report FILE:LINE: message.
    Validate(ValidateArgs),
    /// Validate, then upload to /accounts/:id/sis_imports and print the import id.
    Submit(Box<SubmitArgs>),
    /// Poll an existing import until it ends or --max-polls is reached.
    Watch(WatchCmdArgs),
    /// One GET: state, progress, counts, warning and error counts of an import.
    Status(IdArgs),
    /// List imports, newest first.
    List(ListArgs),
    /// What runs now and what waits in `created` for the account.
    Importing,
    /// Abort one import that has not finished.
    Abort(AbortArgs),
    /// Abort every queued (created or initializing) import of the account.
    AbortAllPending(YesArgs),
    /// Undo what an import did (restore_states), then follow the Progress to its end.
    Restore(RestoreArgs),
    /// Every error and warning row of an import (all pages), or of the whole account without ID.
    Errors(ErrorsArgs),
    /// Show the effective settings, or check them against Canvas.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print shell completions to stdout.
    Completions(CompletionsArgs),
    /// Print a man page (roff) to stdout.
    Man,
    /// Run the bundled Canvas simulator on loopback and validate → submit → watch a sample bundle.
    Demo,
}

impl Command {
    /// Whether the command writes log lines. Those that do not never create the log dir, so
    /// they work for a user with no writable home (`nobody`).
    pub fn writes_log(&self) -> bool {
        match self {
            Command::Validate(_)
            | Command::Config(ConfigCmd::Show)
            | Command::Completions(_)
            | Command::Man => false,
            Command::Submit(a) => !a.dry_run,
            _ => true,
        }
    }
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// CSV, zip or XML files, or directories of CSVs.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Warnings count as errors (exit 65).
    #[arg(long)]
    pub strict: bool,
    /// Diagnostics printed per file; counts stay exact.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_diagnostics: usize,
    /// The import_type the bundle is meant for (an XML file needs one other than instructure_csv).
    #[arg(long, value_name = "TYPE")]
    pub import_type: Option<String>,
}

/// Every Canvas import option (reference §2.1). Each may also be set under [import] in the config.
#[derive(Debug, Args, Default, Clone)]
pub struct ImportArgs {
    /// import_type sent to Canvas [default: instructure_csv]
    #[arg(long, value_name = "TYPE")]
    pub import_type: Option<String>,
    /// Override the extension detected from the file name (must match the content).
    #[arg(long, value_name = "EXT")]
    pub extension: Option<Extension>,
    /// Term batch mode: delete what is not in this import, within --batch-mode-term-id.
    #[arg(long)]
    pub batch_mode: bool,
    /// The active term that batch-mode deletions are limited to (id or sis_term_id:X).
    #[arg(long, value_name = "ID")]
    pub batch_mode_term_id: Option<String>,
    /// Batch mode across every term in this import's terms file (requires --change-threshold).
    #[arg(long)]
    pub multi_term_batch_mode: bool,
    /// Abort batch cleanup / skip diffing above this percentage of change (1-100).
    #[arg(long, value_name = "PCT")]
    pub change_threshold: Option<u32>,
    /// Skip rows with a deleted status.
    #[arg(long)]
    pub skip_deletes: bool,
    /// Overwrite fields changed in the Canvas UI ("sticky" fields).
    #[arg(long)]
    pub override_sis_stickiness: bool,
    /// With --override-sis-stickiness: make the changed fields sticky.
    #[arg(long)]
    pub add_sis_stickiness: bool,
    /// With --override-sis-stickiness: clear stickiness on the fields this import touches.
    #[arg(long)]
    pub clear_sis_stickiness: bool,
    /// Replace the SIS id of a login whose login_id is claimed, instead of skipping the row.
    #[arg(long)]
    pub update_sis_id_if_login_claimed: bool,
    /// Diff against the last successful import of this data set (at most 128 characters).
    #[arg(long, value_name = "ID")]
    pub diffing_data_set_identifier: Option<String>,
    /// Join the data set but apply this import in full.
    #[arg(long)]
    pub diffing_remaster_data_set: bool,
    /// Status for enrollments missing from a diffed import: deleted, completed, inactive, deleted_last_completed.
    #[arg(long, value_name = "S")]
    pub diffing_drop_status: Option<String>,
    /// Status for users missing from a diffed import: deleted, suspended.
    #[arg(long, value_name = "S")]
    pub diffing_user_remove_status: Option<String>,
    /// How batch mode drops missing enrollments: deleted, completed, inactive.
    #[arg(long, value_name = "S")]
    pub batch_mode_enrollment_drop_status: Option<String>,
    /// Skip diffing when the diff has more rows than this.
    #[arg(long, value_name = "N")]
    pub diff_row_count_threshold: Option<i64>,
}

/// How a watch polls (each may also be set under [watch] in the config).
#[derive(Debug, Args, Default, Clone)]
pub struct PollArgs {
    /// Time between polls: a humantime like 30s or 2m, or bare seconds [default: 60s]
    #[arg(long, value_name = "DURATION")]
    pub interval: Option<String>,
    /// Give up (exit 4) after this many polls [default: 60]
    #[arg(long, value_name = "N")]
    pub max_polls: Option<u32>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The bundle: a .csv, .zip or .xml file, or a directory of CSVs (zipped on the fly).
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    #[command(flatten)]
    pub import: ImportArgs,
    #[command(flatten)]
    pub poll: PollArgs,
    /// Follow the import to its end after submitting.
    #[arg(long)]
    pub watch: bool,
    /// Send without validating locally first.
    #[arg(long)]
    pub no_validate: bool,
    /// Validate and print the exact request that would be sent; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Validation warnings block the upload too (exit 65).
    #[arg(long)]
    pub strict: bool,
    /// Exit 75, sending nothing, when Canvas already runs or queues an import for the account.
    #[arg(long)]
    pub if_idle: bool,
    /// Exit 75, sending nothing, when the same content went to the same account within --dedupe-window.
    #[arg(long)]
    pub once: bool,
    /// How far back a re-submit of the same content is noticed [default: 6h]
    #[arg(long, value_name = "DURATION")]
    pub dedupe_window: Option<String>,
    /// Wait this long for another canvas-sis run on the same account instead of exiting 75
    /// (config: [watch] wait_lock) [default: 0s]
    #[arg(long, value_name = "DURATION")]
    pub wait_lock: Option<String>,
    /// Raw body, or Canvas's pre_attachment file-upload flow [default: auto]
    #[arg(long, value_name = "MODE")]
    pub upload_mode: Option<UploadMode>,
}

#[derive(Debug, Args)]
#[group(id = "which", required = true, multiple = false, args = ["id", "last"])]
pub struct WatchCmdArgs {
    /// The import id (see `canvas-sis list`); or --last.
    #[arg(value_name = "ID")]
    pub id: Option<u64>,
    /// Watch the newest import this host submitted (from the state journal).
    #[arg(long)]
    pub last: bool,
    #[command(flatten)]
    pub poll: PollArgs,
    /// Ignored: watch takes no lock (kept so that old scripts still parse)
    #[arg(long, value_name = "DURATION", hide = true)]
    pub wait_lock: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The import id.
    #[arg(value_name = "ID")]
    pub id: u64,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// At most this many imports.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Only imports in this workflow_state (repeatable).
    #[arg(long = "state", value_name = "S")]
    pub states: Vec<String>,
    /// Only imports created after this time (RFC 3339, or a duration ago like 2d).
    #[arg(long, value_name = "T")]
    pub created_since: Option<String>,
    /// Only imports created before this time (RFC 3339, or a duration ago like 2d).
    #[arg(long, value_name = "T")]
    pub created_before: Option<String>,
    /// One table across every [profiles.*] of the config file.
    #[arg(long)]
    pub all_profiles: bool,
}

#[derive(Debug, Args)]
pub struct YesArgs {
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    /// The import id.
    #[arg(value_name = "ID")]
    pub id: u64,
    #[command(flatten)]
    pub yes: YesArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The import id.
    #[arg(value_name = "ID")]
    pub id: u64,
    /// Restore only items deleted by batch-mode cleanup.
    #[arg(long)]
    pub batch_mode: bool,
    /// Restore only items the import deleted or retired.
    #[arg(long)]
    pub undelete_only: bool,
    /// Restore only items the import moved to completed.
    #[arg(long)]
    pub unconclude_only: bool,
    #[command(flatten)]
    pub poll: PollArgs,
    #[command(flatten)]
    pub yes: YesArgs,
}

#[derive(Debug, Args)]
pub struct ErrorsArgs {
    /// The import id; without it, the account-wide error list.
    #[arg(value_name = "ID")]
    pub id: Option<u64>,
    /// Only errors that failed the import.
    #[arg(long)]
    pub failed_only: bool,
    /// CSV output (sis_import_id,file,message,row, as Canvas's errors attachment).
    #[arg(long, conflicts_with = "json")]
    pub csv: bool,
    /// Save the import's errors_attachment to PATH instead (`-`: stdout). A new file gets
    /// the mode your umask gives; an existing one is left alone unless --force.
    #[arg(long, value_name = "PATH", requires = "id")]
    pub attachment: Option<PathBuf>,
    /// With --attachment: replace an existing file (its mode is kept).
    #[arg(long, requires = "attachment")]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// The effective settings and where each came from (the token is never shown).
    Show,
    /// One GET /api/v1/accounts/:id to test the URL, token, account and SIS permission.
    Check,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}
