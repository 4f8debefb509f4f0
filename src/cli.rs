//! Command-line definitions. The doc comments here are the `--help` text.
//!
//! Settings (anything that can also come from the environment or the config file) are not
//! here: their arguments are built from the settings table (`settings/table.rs`) by
//! [`command`], and `Settings::load` resolves them. What is here is each command's own
//! arguments and the run's flags (-c, --profile, -v, -q, --json).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::env_names as envn;
use crate::settings::RunFlags;
use crate::settings::table;

/// The contract's exit codes, for `--help`.
/// The exit codes, then the environment variables that belong to no single option.
const EXIT_CODES: &str = "\
Exit codes:
  0   imported; submit accepted (without --watch); validate found no errors
  1   imported_with_messages (it ran, with warnings to read)
  2   usage error (bad flag or flag combination)
  3   failed, failed_with_messages or aborted
  4   --max-polls reached while the import still runs (`canvas-sis watch ID` resumes)
  5   Canvas answered 404 (account, import or term; for abort: already finished)
  6   held by the guard: the plan crossed a threshold; nothing was sent (`canvas-sis approve RUN`)
  65  validation found errors; nothing was sent
  66  input missing or unreadable
  69  Canvas unreachable, or 5xx/throttling outlasted the retry budget
  74  output could not be written (stdout or an output file); a closed pipe is not an error
  75  another canvas-sis run holds the lock, or an import already runs (--if-idle, --once)
  77  401, or a 403 that is not throttling (bad token or missing permission)
  78  configuration error (missing URL/token, invalid config, refused http URL, a TLS certificate
      that does not verify or a refused TLS handshake: at once, never retried)
  130 interrupted by SIGINT, SIGTERM or SIGHUP: says whether anything was sent, and how to resume

Environment (besides each option's own, listed with it):
  CANVAS_ACCESS_TOKEN       the access token (or --token-file, the systemd credential below,
                            or the config file's token_file / access_token)
  CREDENTIALS_DIRECTORY     set by systemd (LoadCredential=canvas-token:FILE): the token is read
                            from $CREDENTIALS_DIRECTORY/canvas-token, never from the environment
  CANVAS_SIS_CONFIG         the config file (default ./canvas_sis.toml, then
                            $XDG_CONFIG_HOME/canvas-sis/config.toml)
  CANVAS_SIS_PROFILE        the config file's [profiles.NAME] to use
  CANVAS_SIS_SMTP_PASSWORD  the password for [notify] smtp_url (never in the URL)
  XDG_STATE_HOME            where the state dir goes (journal, locks, runs, baselines)
  CANVAS_SIS_SYSLOG_SOCKET  the local syslog socket for [log] syslog (default /dev/log)
  CANVAS_SIS_JOURNAL_SOCKET journald's socket (default /run/systemd/journal/socket), used when
                            JOURNAL_STREAM says stderr is the journal
  NO_COLOR, TERM=dumb       no colour";

/// Validate, submit and watch Canvas LMS SIS imports.
///
/// canvas-sis checks an SIS bundle (CSV, zip or XML) locally, uploads it to
/// /api/v1/accounts/:id/sis_imports, follows the import to its end, and logs counts,
/// warnings and errors in syslog style. Exit codes tell a monitor what happened (listed
/// below).
///
/// The access token is read from --token-file, CANVAS_ACCESS_TOKEN, the systemd credential
/// `canvas-token`, or the config file's `token_file` / `access_token`. There is
/// deliberately no --token flag.
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
        env = envn::CONFIG,
        value_name = "FILE",
        help_heading = table::CONNECTION
    )]
    pub config: Option<PathBuf>,

    /// Use the [profiles.NAME] section of the config file (its keys override the top-level ones).
    #[arg(long, global = true, env = envn::PROFILE, value_name = "NAME", help_heading = table::CONNECTION)]
    pub profile: Option<String>,

    /// Write no log file (config: [log] dir = "").
    #[arg(long, global = true, help_heading = table::LOGGING)]
    pub no_log_file: bool,

    /// More detail on stderr, as syslog-style log lines (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = table::LOGGING)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose", help_heading = table::LOGGING)]
    pub quiet: bool,

    /// Print the command's result as one JSON document on stdout (human text goes to stderr).
    #[arg(long, global = true, help_heading = table::LOGGING)]
    pub json: bool,
}

impl GlobalArgs {
    /// The run's own flags, with whether -c and --profile came from the environment.
    pub fn run_flags(&self, m: &clap::ArgMatches) -> RunFlags {
        let from_env =
            |id: &str| m.value_source(id) == Some(clap::parser::ValueSource::EnvVariable);
        // Trimmed as every other value is (contract: a CR from a unit file edited on
        // Windows is no part of a name).
        let trim_path = |p: &PathBuf| match p.to_str() {
            Some(s) => PathBuf::from(s.trim()),
            None => p.clone(),
        };
        RunFlags {
            config: self
                .config
                .as_ref()
                .map(trim_path)
                .filter(|p| !p.as_os_str().is_empty()),
            config_from_env: from_env("config"),
            profile: self
                .profile
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string),
            profile_from_env: from_env("profile"),
            no_log_file: self.no_log_file,
            verbose: self.verbose,
            quiet: self.quiet,
            json: self.json,
        }
    }
}

/// The whole command line: the derive definitions, plus an argument for every row of the
/// settings table (flag, env, help, default), with an empty environment variable treated as
/// unset (as `CANVAS_ACCESS_TOKEN` and `NO_COLOR` are): `CANVAS_BASE_URL=` in a unit file or
/// cron table must not hide the config file's value, nor be a usage error.
pub fn command() -> clap::Command {
    let mut cmd = crate::settings::add_args(<Cli as clap::CommandFactory>::command());
    let empty: Vec<String> = cmd
        .get_arguments()
        .filter(|a| {
            a.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|v| v.is_empty())
        })
        .map(|a| a.get_id().to_string())
        .collect();
    for id in empty {
        cmd = cmd.mut_arg(id, |a| a.env(None::<&str>));
    }
    cmd
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
    /// The runs this host made, newest first (from the run archive).
    History(HistoryArgs),
    /// One self-contained HTML page over the runs this host made (from the run archive):
    /// outcome timeline, durations, rows per kind, warnings and errors, grouped errors, held runs.
    Report(ReportArgs),
    /// A check for Nagios, Icinga or any monitor: exit 0 OK, 1 WARNING, 2 CRITICAL,
    /// 3 UNKNOWN, and one status line with perfdata.
    Health(HealthArgs),
    /// What this bundle would change in Canvas, per kind and term, against the last bundle
    /// Canvas imported (no network); validates first.
    Plan(PlanArgs),
    /// Send a run the guard held, exactly as it was planned (same bundle, same options);
    /// without RUN, list the held runs.
    Approve(ApproveArgs),
    /// Drop a run the guard held; nothing is sent.
    Discard(DiscardArgs),
    /// Convert another format into a Canvas SIS CSV bundle (no network).
    #[command(subcommand)]
    Convert(ConvertCmd),
}

#[derive(Debug, Subcommand)]
pub enum ConvertCmd {
    /// Turn a OneRoster 1.1 CSV bundle (a directory or a zip) into a Canvas SIS CSV zip,
    /// validating the OneRoster input first (errors: exit 65, no output file).
    Oneroster(OnerosterArgs),
}

/// `convert oneroster`: the mapping is in the README ("convert oneroster").
#[derive(Debug, Args)]
pub struct OnerosterArgs {
    /// The OneRoster bundle: a directory holding manifest.csv and the CSV files, or a zip of it.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The Canvas SIS zip to write (written to a temporary file beside it, renamed at the end).
    #[arg(short = 'o', long, value_name = "OUT.zip")]
    pub output: PathBuf,
    /// Replace OUT.zip when it exists (without it: exit 2, nothing written).
    #[arg(long)]
    pub force: bool,
    /// The user field that becomes Canvas's user_id.
    #[arg(long, value_name = "FIELD", default_value = "sourcedId", value_parser = ["sourcedId", "identifier"])]
    pub user_id: String,
    /// The user field that becomes Canvas's login_id.
    #[arg(long, value_name = "FIELD", default_value = "username", value_parser = ["username", "email", "identifier"])]
    pub login_id: String,
    /// academicSession types that become Canvas terms (comma-separated).
    #[arg(long, value_name = "TYPES", value_delimiter = ',', default_value = "term,semester",
          value_parser = ["term", "semester", "schoolYear", "gradingPeriod"])]
    pub term_types: Vec<String>,
    /// Convert enrollments of a OneRoster ROLE (administrator, proctor, or to override
    /// student, teacher, aide) to CANVAS_ROLE (teacher, ta, student, designer, observer, or a
    /// custom role's name). Repeatable.
    #[arg(long, value_name = "ROLE=CANVAS_ROLE")]
    pub role_map: Vec<String>,
    /// One Canvas course per class, with one section (the default).
    #[arg(long, conflicts_with = "group_by_course")]
    pub section_per_class: bool,
    /// One Canvas course per OneRoster course and term, with one section per class.
    #[arg(long)]
    pub group_by_course: bool,
    /// Diagnostics printed per file; counts stay exact.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_diagnostics: usize,
}

impl Command {
    /// A dry run: logged (contract, "A run") where the log dir exists already, but it never
    /// makes one (a dry run writes nothing new).
    pub fn is_dry_run(&self) -> bool {
        matches!(self, Command::Submit(a) if a.dry_run)
            || matches!(self, Command::Approve(a) if a.dry_run)
    }

    /// Whether the command writes log lines. Those that do not never create the log dir, so
    /// they work for a user with no writable home (`nobody`).
    pub fn writes_log(&self) -> bool {
        match self {
            Command::Validate(_)
            | Command::Convert(_)
            | Command::Plan(_)
            | Command::History(_)
            | Command::Report(_)
            | Command::Health(_)
            | Command::Config(ConfigCmd::Show)
            | Command::Approve(ApproveArgs { run: None, .. })
            | Command::Discard(DiscardArgs { run: None })
            | Command::Completions(_)
            | Command::Man => false,
            Command::Submit(a) => !a.dry_run,
            Command::Approve(a) => !a.dry_run,
            Command::Discard(_) => true,
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
    /// Read a file as this kind whatever its name (as `submit --extension` sends it); its
    /// content must match.
    #[arg(long, value_name = "csv|zip|xml", value_parser = ["csv", "zip", "xml"])]
    pub extension: Option<String>,
}

/// `submit`: its settings (import options, safety, watching) come from the settings table.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The bundle: a .csv, .zip or .xml file, or a directory of CSVs (zipped on the fly).
    #[arg(value_name = "PATH", required_unless_present = "approve_plan")]
    pub path: Option<PathBuf>,
    /// Send the run the guard held as RUN, with the bundle and options it was planned with
    /// (the same as `canvas-sis approve RUN`).
    #[arg(long, value_name = "RUN", conflicts_with = "path", help_heading = table::GUARD)]
    pub approve_plan: Option<String>,
    /// Follow the import to its end after submitting.
    #[arg(long, help_heading = table::WATCHING)]
    pub watch: bool,
    /// Validate and print the exact request that would be sent; send nothing.
    #[arg(long, help_heading = table::SUBMIT)]
    pub dry_run: bool,
}

/// `approve`: sends through submit's phases; its safety and watching settings come from the
/// settings table, its import options from the held run.
#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The held run's id (`canvas-sis approve` lists them).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// Follow the import to its end after sending.
    #[arg(long, help_heading = table::WATCHING, requires = "run")]
    pub watch: bool,
    /// Print the exact request that would be sent; send nothing.
    #[arg(long, help_heading = table::SUBMIT, requires = "run")]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct DiscardArgs {
    /// The held run's id; without it, list the held runs (as `canvas-sis approve` does).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// At most this many runs.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub limit: usize,
    /// Add the imports Canvas lists for the account that this host did not send (marked
    /// as such).
    #[arg(long)]
    pub from_canvas: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Write the page here (atomically: a new file, then rename); `-` writes it to stdout.
    #[arg(long, value_name = "FILE")]
    pub html: PathBuf,
    /// The runs submitted within this long before now.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = |s: &str| crate::settings::table::parse_duration(s))]
    pub since: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// CRITICAL when no import ended well within this long.
    #[arg(long, value_name = "DURATION", default_value = "26h", value_parser = |s: &str| crate::settings::table::parse_duration(s))]
    pub max_age: std::time::Duration,
    /// WARNING when the newest finished run has more warnings than this.
    #[arg(long, value_name = "N")]
    pub warn_warnings: Option<u64>,
    /// Judge by Canvas's own list of the account's imports instead of this host's runs
    /// (whoever sent them); Canvas unreachable is UNKNOWN.
    #[arg(long)]
    pub from_canvas: bool,
}

/// `plan`: its import options come from the settings table, as for `submit`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The bundle: a .csv or .zip file, or a directory of CSVs.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// What to compare with: `last`, the bundles Canvas imported for this URL and account
    /// (kept by this host; no network), or `canvas`, Canvas's own provisioning report (asked
    /// for, polled and downloaded: checks even a first run).
    #[arg(long, value_name = "WHAT", default_value = "last", value_parser = ["last", "canvas"])]
    pub against: String,
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
    pub compat: WatchCompat,
}

/// Flags `watch` accepts only so that old scripts still parse (outside the ID/--last group).
#[derive(Debug, Args)]
#[group(skip)]
pub struct WatchCompat {
    /// Ignored: watch takes no lock
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
    /// Only imports created after this time (a date = local midnight, RFC 3339, or a duration ago like 2d).
    #[arg(long, value_name = "T")]
    pub created_since: Option<String>,
    /// Only imports created before this time (a date = local midnight, RFC 3339, or a duration ago like 2d).
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
    /// Group the rows by message template (ids and numbers stripped): counts, an example,
    /// and the cause and fix of the messages Canvas is known to send.
    #[arg(long, conflicts_with_all = ["csv", "attachment"])]
    pub group: bool,
    /// Draft a fix for a person to review (never sent): `change-sis-id` writes a
    /// change_sis_id.csv from the "already claimed" rows.
    #[arg(long, value_name = "WHAT", value_parser = ["change-sis-id"], requires_all = ["id", "output"])]
    pub fix: Option<String>,
    /// Where --fix writes its draft (`-`: stdout).
    #[arg(short = 'o', long, value_name = "FILE", requires = "fix")]
    pub output: Option<PathBuf>,
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

#[cfg(test)]
mod tests {
    /// `--help`'s list (and so the man page's) names every exit code the tool has.
    #[test]
    fn the_help_lists_every_exit_code() {
        for e in crate::exit::Exit::ALL {
            let line = format!("\n  {:<3} ", e.code());
            assert!(
                super::EXIT_CODES.contains(&line),
                "exit {} missing",
                e.code()
            );
        }
    }

    /// Every environment variable an admin may set is named in `--help` (and the man page):
    /// an option's own with its option, the rest in the list after the exit codes.
    #[test]
    fn the_help_names_every_environment_variable_an_admin_sets() {
        use crate::env_names as e;
        let help = super::command().render_long_help().to_string();
        // Set by the system or the terminal, not by an admin.
        let not_set_by_hand = [
            e::HOME,
            e::TERM,
            e::COLUMNS,
            e::JOURNAL_STREAM,
            e::XDG_CONFIG_HOME,
        ];
        for name in e::ALL.iter().filter(|n| !not_set_by_hand.contains(n)) {
            assert!(help.contains(name), "--help never names {name}");
        }
    }
}
