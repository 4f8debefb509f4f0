//! Settings: every row of the table (`table.rs`) resolved once, flag > environment > config
//! file > default, into the typed structs commands read.
//!
//! Every resolved value remembers where it came from, so `config show` can say
//! "flag --interval", "env CANVAS_BASE_URL" or "./canvas_sis.toml:3". The token is held as a
//! `SecretString` from the moment it is read and is never displayed.

pub mod file;
pub mod mail;
pub mod table;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use secrecy::SecretString;
use url::Url;

use crate::env_names as envn;
use crate::exit::{Failure, Result};
pub use crate::import_options::{Extension, ImportOptions};
pub use crate::logfile::Rotation;
pub use file::ConfigFile;
use table::{Def, Kind, Scope, TABLE, Value};

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File {
        path: PathBuf,
        line: usize,
    },
    /// A systemd credential (`LoadCredential=`), by its file.
    Credential(PathBuf),
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag --{name}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::Credential(path) => write!(f, "systemd credential {}", path.display()),
            Source::Default => write!(f, "default"),
        }
    }
}

/// A value with its origin.
#[derive(Clone, Debug)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

/// `auto`, `always` or `never` (colour, progress bars).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

/// How the bundle goes up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadMode {
    /// Raw body below the size threshold, the file-upload flow above it.
    Auto,
    /// The file as the raw request body.
    Direct,
    /// Canvas's pre_attachment file-upload flow.
    FileUpload,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Syslog,
    Json,
}

#[derive(Clone, Debug)]
pub struct LogSettings {
    /// None: no log file.
    pub dir: Option<PathBuf>,
    /// The dir was set (flag, env, file), not the default in the state dir.
    pub explicit_dir: bool,
    pub file: String,
    pub rotation: Rotation,
    pub keep: usize,
    pub format: LogFormat,
    pub syslog: bool,
}

/// Where Canvas is and how to talk to it.
#[derive(Clone, Debug)]
pub struct Connection {
    pub base_url: Option<Sourced<String>>,
    pub account_id: Sourced<String>,
    pub token: Option<Sourced<SecretString>>,
    pub ca_cert: Option<PathBuf>,
    pub retry_budget: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    /// The profile whose own `base_url` kept the top level's token from applying.
    pub dropped_token: Option<String>,
}

/// How a watch polls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSettings {
    pub interval: Duration,
    pub max_polls: u32,
}

/// What `submit` checks before and while it sends.
#[derive(Clone, Debug)]
pub struct SubmitSettings {
    pub validate: bool,
    pub strict: bool,
    pub if_idle: bool,
    pub once: bool,
    pub dedupe_window: Duration,
    pub wait_lock: Duration,
    pub upload_mode: UploadMode,
    /// `auto` uses the file-upload flow from this size on.
    pub file_upload_threshold: u64,
}

/// The guard's limits (`[guard]`): what `plan` judges a bundle by.
#[derive(Clone, Debug)]
pub struct GuardSettings {
    /// `--guard on|off`, `[guard] enabled`; None: by the import's mode ([`GuardSettings::on`]).
    pub enabled: Option<bool>,
    /// `last` or `canvas`.
    pub against: String,
    pub max_delete_percent: f64,
    pub max_update_percent: f64,
    pub max_delete_rows: Option<u64>,
}

impl GuardSettings {
    /// Whether submit plans and guards this import: as set, or else on for batch mode,
    /// multi-term batch mode and diffing (the imports that delete what a bundle lacks).
    pub fn on(&self, opts: &ImportOptions) -> bool {
        self.enabled.unwrap_or(
            opts.batch_mode
                || opts.multi_term_batch_mode
                || opts.diffing_data_set_identifier.is_some(),
        )
    }
}

/// `[archive]`: where the run record is kept (what it does is `crate::record::Archive`,
/// this same type).
#[derive(Clone, Debug)]
pub struct ArchiveSettings {
    pub dir: PathBuf,
    pub keep_days: u64,
    pub max_bytes: u64,
    /// Keep a copy of each bundle sent in its run's folder.
    pub keep_bundles: bool,
    /// Where retention keeps the run folders' sizes between runs (a cache in the state dir,
    /// one file per archive dir, since the archive holds run folders only); None: measured
    /// every time.
    pub sizes: Option<PathBuf>,
}

/// Every event a run can raise (`[notify] on` takes these words only).
pub const NOTIFY_EVENTS: &[&str] = &[
    "failed",
    "held",
    "warnings",
    "stuck",
    "max_polls",
    "success",
];

/// `[notify]` (what it does is `crate::notify`).
#[derive(Clone, Debug, Default)]
pub struct NotifySettings {
    pub webhooks: Vec<String>,
    pub format: String,
    pub on: Vec<String>,
    pub stuck_after_initializing: Duration,
    pub stuck_after_created: Duration,
    /// `smtp_url`, `from`, `to`: e-mail as well.
    pub mail: Option<mail::MailSettings>,
}

/// One line of `config show`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShownSetting {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// The flags that are not settings (they say how this run talks, not what it talks to).
#[derive(Clone, Debug, Default)]
pub struct RunFlags {
    pub config: Option<PathBuf>,
    pub config_from_env: bool,
    pub profile: Option<String>,
    pub profile_from_env: bool,
    pub no_log_file: bool,
    pub verbose: u8,
    pub quiet: bool,
    pub json: bool,
}

/// Everything a command can know before it talks to anyone.
#[derive(Debug)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub file: Option<ConfigFile>,
    pub profile: Option<String>,
    pub connection: Connection,
    pub log: LogSettings,
    pub color: When,
    pub progress: When,
    pub verbose: u8,
    pub quiet: bool,
    pub json: bool,
    pub import: ImportOptions,
    pub poll: PollSettings,
    pub submit: SubmitSettings,
    pub guard: GuardSettings,
    /// The run archive (`None`: `[archive] dir = ""`).
    pub archive: Option<ArchiveSettings>,
    pub metrics_textfile: Option<PathBuf>,
    pub notify: NotifySettings,
    /// For `config show`, in the table's order.
    pub shown: Vec<ShownSetting>,
    /// Non-fatal remarks about the configuration, printed once.
    pub warnings: Vec<String>,
}

/// The resolved rows, by key.
struct Resolved(HashMap<&'static str, Option<Sourced<Value>>>);

impl Resolved {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .get(key)
            .unwrap_or_else(|| panic!("{key} is not in the settings table"))
            .as_ref()
            .map(|s| &s.value)
    }
    /// A row with a default (the table's test checks every default parses).
    fn must(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("{key} has a default in the settings table"))
    }
    fn text(&self, key: &str) -> Option<String> {
        self.get(key).and_then(Value::text).map(str::to_string)
    }
    fn word(&self, key: &str) -> &str {
        self.must(key).text().unwrap_or_default()
    }
    fn switch(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Bool(true)))
    }
    fn duration(&self, key: &str) -> Duration {
        // (Kind::Interval values are durations too.)
        match self.must(key) {
            Value::Duration(d) => *d,
            v => panic!("{key} is a duration, not {v:?}"),
        }
    }
    fn count(&self, key: &str) -> Option<u64> {
        match self.get(key) {
            Some(Value::Count(n) | Value::Size(n)) => Some(*n),
            _ => None,
        }
    }
    fn path(&self, key: &str) -> Option<PathBuf> {
        match self.get(key) {
            Some(Value::Path(p)) => Some(p.clone()),
            _ => None,
        }
    }
    /// [`Resolved::path`], a relative path from the config file taken as relative to that
    /// file (as `token_file` is): a cron job's working directory is not where the admin
    /// wrote it.
    fn path_beside_file(&self, key: &str) -> Option<PathBuf> {
        let p = self.path(key)?;
        match self.0.get(key).cloned().flatten().map(|s| s.source) {
            Some(Source::File { path, .. }) if p.is_relative() => {
                Some(path.parent().unwrap_or(Path::new("")).join(p))
            }
            _ => Some(p),
        }
    }
    fn sourced_text(&self, key: &str) -> Option<Sourced<String>> {
        self.0.get(key).cloned().flatten().and_then(|s| {
            Some(Sourced {
                value: s.value.text()?.to_string(),
                source: s.source,
            })
        })
    }
}

/// The arg matches that hold `id`: the top level's or a subcommand's.
fn holder<'m>(m: &'m ArgMatches, id: &str) -> Option<&'m ArgMatches> {
    if m.try_contains_id(id).unwrap_or(false)
        && matches!(
            m.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
    {
        return Some(m);
    }
    let (_, sub) = m.subcommand()?;
    holder(sub, id)
}

/// A row's value from the command line or its environment variable (clap reads both).
fn from_args(m: &ArgMatches, d: &'static Def) -> Option<Sourced<Value>> {
    let flag = d.flag?;
    let hm = holder(m, d.key)?;
    let source = match hm.value_source(d.key) {
        Some(ValueSource::EnvVariable) => Source::Env(d.env.unwrap_or("environment")),
        _ => Source::Flag(flag),
    };
    let value = if d.kind == Kind::Switch {
        // A switch flag turns the default around (--batch-mode on, --no-validate off).
        Value::Bool(d.default != Some("true"))
    } else {
        hm.get_one::<Value>(d.key)?.clone()
    };
    Some(Sourced { value, source })
}

impl Settings {
    /// Resolve every setting. `matches` are the whole command line's.
    pub fn load(run: &RunFlags, matches: &ArgMatches) -> Result<Settings> {
        let config_file = file::config_path(run.config.as_deref());
        let (cfile, mut warnings) = match &config_file {
            Some(p) => {
                let (f, w) = ConfigFile::load(p, run.profile.as_deref())?;
                (Some(f), w)
            }
            None if run.profile.is_some() => {
                return Err(Failure::config(format!(
                    "--profile {} needs a config file, and none was found",
                    run.profile.as_deref().unwrap_or_default()
                ))
                .kind("profile_missing")
                .hint("give one with -c FILE or CANVAS_SIS_CONFIG, or create ./canvas_sis.toml"));
            }
            None => (None, vec![]),
        };
        let mut shown = vec![ShownSetting {
            key: "config".into(),
            value: config_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(none)".into()),
            source: match (&run.config, &config_file) {
                (Some(_), _) if run.config_from_env => Source::Env(envn::CONFIG).to_string(),
                (Some(_), _) => Source::Flag("config").to_string(),
                (None, Some(_)) => "default search".into(),
                (None, None) => "-".into(),
            },
        }];
        if let Some(p) = &run.profile {
            shown.push(ShownSetting {
                key: "profile".into(),
                value: p.clone(),
                source: if run.profile_from_env {
                    Source::Env(envn::PROFILE).to_string()
                } else {
                    Source::Flag("profile").to_string()
                },
            });
        }

        let mut rows = HashMap::new();
        for d in TABLE {
            let v = resolve_row(d, matches, cfile.as_ref())?;
            rows.insert(d.key, v);
        }
        let r = Resolved(rows);
        let token = resolve_token(&r, cfile.as_ref(), &mut warnings)?;
        for d in TABLE {
            let row = r.0[d.key].as_ref();
            let (value, source) = match (d.key, row) {
                ("access_token", _) => continue,
                ("token_file", _) => (
                    match &token {
                        Some(t) => format!("set (from {})", t.source),
                        None => "not set".into(),
                    },
                    token
                        .as_ref()
                        .map(|t| t.source.to_string())
                        .unwrap_or_else(|| "-".into()),
                ),
                // No log file is written, whatever the dir would be.
                ("log.dir", _) if run.no_log_file => (
                    "(none: --no-log-file)".into(),
                    Source::Flag("no-log-file").to_string(),
                ),
                // A webhook's path is its secret: shown by where it goes only.
                (_, Some(s)) if d.kind == Kind::Urls => match &s.value {
                    Value::List(urls) => (
                        urls.iter()
                            .map(|u| crate::redact::shown_url(u))
                            .collect::<Vec<_>>()
                            .join(", "),
                        s.source.to_string(),
                    ),
                    v => (v.to_string(), s.source.to_string()),
                },
                // A password in it is refused when used, and never shown.
                ("base_url", Some(s)) => (
                    crate::redact::shown_base_url(&s.value.to_string()),
                    s.source.to_string(),
                ),
                (_, Some(s)) => (s.value.to_string(), s.source.to_string()),
                (_, None) => ("(unset)".into(), "-".into()),
            };
            let key = if d.key == "token_file" {
                "token"
            } else {
                d.key
            };
            shown.push(ShownSetting {
                key: key.into(),
                // A control character in a value (a NUL, an escape) is shown, not sent.
                value: crate::redact::visible(&value).into_owned(),
                source,
            });
        }

        let log_dir = r.path("log.dir").expect("log.dir has a default");
        let explicit_dir = r.0["log.dir"]
            .as_ref()
            .is_some_and(|s| s.source != Source::Default);
        let dir = (!run.no_log_file && !log_dir.as_os_str().is_empty()).then_some(log_dir);
        let when = |key| match r.word(key) {
            "always" => When::Always,
            "never" => When::Never,
            _ => When::Auto,
        };
        let connection = Connection {
            base_url: r.sourced_text("base_url"),
            account_id: r
                .sourced_text("account_id")
                .expect("account_id has a default"),
            token,
            ca_cert: r.path_beside_file("ca_cert"),
            retry_budget: r.duration("retry_budget"),
            connect_timeout: r.duration("connect_timeout"),
            read_timeout: r.duration("read_timeout"),
            dropped_token: cfile.as_ref().and_then(|f| f.dropped_token.clone()),
        };
        let log = LogSettings {
            dir,
            explicit_dir,
            file: r.text("log.file").expect("log.file has a default"),
            rotation: match r.word("log.rotation") {
                "hourly" => Rotation::Hourly,
                "never" => Rotation::Never,
                _ => Rotation::Daily,
            },
            keep: r.count("log.keep").expect("log.keep has a default") as usize,
            format: match r.word("log.format") {
                "json" => LogFormat::Json,
                _ => LogFormat::Syslog,
            },
            syslog: r.switch("log.syslog"),
        };
        let import = ImportOptions {
            import_type: r.text("import.import_type").expect("has a default"),
            import_type_set: r.0["import.import_type"]
                .as_ref()
                .is_some_and(|s| s.source != Source::Default),
            extension: r
                .text("import.extension")
                .and_then(|w| Extension::from_word(&w)),
            batch_mode: r.switch("import.batch_mode"),
            batch_mode_term_id: r.text("import.batch_mode_term_id"),
            multi_term_batch_mode: r.switch("import.multi_term_batch_mode"),
            change_threshold: r
                .count("import.change_threshold")
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            skip_deletes: r.switch("import.skip_deletes"),
            override_sis_stickiness: r.switch("import.override_sis_stickiness"),
            add_sis_stickiness: r.switch("import.add_sis_stickiness"),
            clear_sis_stickiness: r.switch("import.clear_sis_stickiness"),
            update_sis_id_if_login_claimed: r.switch("import.update_sis_id_if_login_claimed"),
            diffing_data_set_identifier: r.text("import.diffing_data_set_identifier"),
            diffing_remaster_data_set: r.switch("import.diffing_remaster_data_set"),
            diffing_drop_status: r.text("import.diffing_drop_status"),
            diffing_user_remove_status: r.text("import.diffing_user_remove_status"),
            batch_mode_enrollment_drop_status: r.text("import.batch_mode_enrollment_drop_status"),
            diff_row_count_threshold: match r.get("import.diff_row_count_threshold") {
                Some(Value::Integer(n)) => Some(*n),
                _ => None,
            },
        };
        let poll = PollSettings {
            interval: r.duration("watch.interval"),
            max_polls: u32::try_from(r.count("watch.max_polls").expect("has a default"))
                .unwrap_or(u32::MAX),
        };
        let submit = SubmitSettings {
            validate: r.switch("import.validate"),
            strict: r.switch("import.strict"),
            if_idle: r.switch("import.if_idle"),
            once: r.switch("import.once"),
            dedupe_window: r.duration("import.dedupe_window"),
            wait_lock: r.duration("watch.wait_lock"),
            upload_mode: match r.word("import.upload_mode") {
                "direct" => UploadMode::Direct,
                "file-upload" => UploadMode::FileUpload,
                _ => UploadMode::Auto,
            },
            file_upload_threshold: r
                .count("import.file_upload_threshold")
                .expect("has a default"),
        };
        let guard = GuardSettings {
            enabled: r.text("guard.enabled").map(|w| w == "on"),
            against: r.word("guard.against").to_string(),
            max_delete_percent: r.count("guard.max_delete_percent").expect("has a default") as f64,
            max_update_percent: r.count("guard.max_update_percent").expect("has a default") as f64,
            max_delete_rows: r.count("guard.max_delete_rows"),
        };
        let archive = r
            .path("archive.dir")
            .filter(|p| !p.as_os_str().is_empty())
            .map(|dir| ArchiveSettings {
                sizes: Some(crate::paths::archive_sizes(&dir)),
                dir,
                keep_days: r.count("archive.keep_days").expect("has a default"),
                max_bytes: r.count("archive.max_bytes").expect("has a default"),
                keep_bundles: r.switch("archive.keep_bundles"),
            });
        let metrics_textfile = r.path("metrics.textfile");
        let list = |key| match r.get(key) {
            Some(Value::List(v)) => v.clone(),
            _ => vec![],
        };
        let notify = NotifySettings {
            webhooks: list("notify.webhook"),
            format: r.word("notify.format").to_string(),
            on: list("notify.on"),
            stuck_after_initializing: r.duration("notify.stuck_after_initializing"),
            stuck_after_created: r.duration("notify.stuck_after_created"),
            mail: match r.text("notify.smtp_url").filter(|u| !u.is_empty()) {
                None => None,
                Some(url) => Some(
                    mail::MailSettings::new(
                        &url,
                        r.text("notify.from").as_deref(),
                        &list("notify.to"),
                        std::env::var(envn::SMTP_PASSWORD)
                            .ok()
                            .filter(|p| !p.is_empty())
                            .map(SecretString::from),
                    )
                    .map_err(|e| {
                        Failure::config(format!("[notify] {e}"))
                            .kind("config_invalid_file")
                            .hint("e.g. smtp_url = \"smtps://mail.example.edu\", from = \"canvas-sis@example.edu\", to = [\"sis-team@example.edu\"]")
                    })?,
                ),
            },
        };
        Ok(Settings {
            config_file,
            file: cfile,
            profile: run.profile.clone(),
            connection,
            log,
            color: when("color"),
            progress: when("progress"),
            verbose: run.verbose,
            quiet: run.quiet,
            json: run.json,
            import,
            poll,
            submit,
            guard,
            archive,
            metrics_textfile,
            notify,
            shown,
            warnings,
        })
    }

    /// URL and token, or exit 78 saying which is missing and where it can be set.
    pub fn network(&self) -> Result<Network> {
        self.connection.network()
    }
}

/// One row: flag or env (clap read both), else the config file, else the default.
fn resolve_row(
    d: &'static Def,
    m: &ArgMatches,
    cfile: Option<&ConfigFile>,
) -> Result<Option<Sourced<Value>>> {
    if let Some(v) = from_args(m, d) {
        return Ok(Some(v));
    }
    if let Some((raw, src)) = cfile.and_then(|f| f.get(d.key)) {
        let value = d.kind.from_toml(raw).map_err(|e| {
            Failure::config(format!("{src}: {}: {e}", d.key))
                .kind("config_invalid_file")
                .hint("see canvas_sis.example.toml for the accepted values")
        })?;
        return Ok(Some(Sourced { value, source: src }));
    }
    Ok(d.default.map(|text| Sourced {
        value: if d.key == "log.dir" {
            Value::Path(crate::paths::state_dir_path())
        } else if d.key == "archive.dir" {
            Value::Path(crate::paths::state_dir_path().join("runs"))
        } else {
            d.kind.parse(text).expect("the table's defaults parse")
        },
        source: Source::Default,
    }))
}

/// A token file: a regular file of at most [`TOKEN_FILE_MAX`] bytes. `/dev/zero` or a huge
/// file given by mistake would otherwise be read until memory runs out.
fn read_token_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let m = f.metadata()?;
    if !m.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    f.take(TOKEN_FILE_MAX + 1).read_to_string(&mut text)?;
    if text.len() as u64 > TOKEN_FILE_MAX {
        return Err(std::io::Error::other(format!(
            "over {TOKEN_FILE_MAX} bytes: a token file holds the token alone"
        )));
    }
    Ok(text)
}

/// More than any Canvas token and its line break.
const TOKEN_FILE_MAX: u64 = 64 * 1024;

/// The systemd credential that holds the token.
pub const CREDENTIAL_NAME: &str = "canvas-token";

/// A Canvas token is one line of printable ASCII. Anything else cannot go in an HTTP header:
/// each request would fail before it is sent, and be retried for the whole budget as if Canvas
/// were down. Said at once instead, without the token, by the commands that send it.
fn printable(t: &Sourced<SecretString>) -> Result<()> {
    use secrecy::ExposeSecret;
    let Some(at) = t
        .value
        .expose_secret()
        .chars()
        .position(|c| !c.is_ascii_graphic())
    else {
        return Ok(());
    };
    Err(Failure::config(format!(
        "the access token (from {}) holds a line break, a space or a control character (character {} of it)",
        t.source,
        at + 1
    ))
    .kind("token_invalid")
    .hint("a Canvas token is one line of printable characters: keep only the token in its file or variable"))
}

/// The token: --token-file > CANVAS_ACCESS_TOKEN > the systemd credential `canvas-token` >
/// token_file/access_token in the file (a
/// profile with its own base_url has dropped the top level's, see `ConfigFile::load`).
fn resolve_token(
    r: &Resolved,
    file: Option<&ConfigFile>,
    warnings: &mut Vec<String>,
) -> Result<Option<Sourced<SecretString>>> {
    let mut from_file = |path: &Path, source: Source| -> Result<Sourced<SecretString>> {
        // As for a config file holding access_token: others may read the token. (systemd
        // makes a credential's copy itself.)
        if !matches!(source, Source::Credential(_))
            && let Some(w) = file::readable_by_others(path, "the access token")
        {
            warnings.push(w);
        }
        let text = read_token_file(path).map_err(|e| {
            Failure::config(format!(
                "cannot read token file {} (from {source}): {e}",
                path.display()
            ))
            .kind("token_file_unreadable")
        })?;
        let t = text.trim();
        if t.is_empty() {
            return Err(Failure::config(format!(
                "token file {} (from {source}) is empty",
                path.display()
            ))
            .kind("token_file_unreadable"));
        }
        Ok(Sourced {
            value: SecretString::from(t.to_string()),
            source,
        })
    };
    let flagged = r.0["token_file"]
        .as_ref()
        .filter(|s| matches!(s.source, Source::Flag(_)));
    if let Some(Sourced {
        value: Value::Path(p),
        source,
    }) = flagged
    {
        return from_file(p, source.clone()).map(Some);
    }
    if let Some(t) = std::env::var(envn::ACCESS_TOKEN)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        return Ok(Some(Sourced {
            value: SecretString::from(t.trim().to_string()),
            source: Source::Env(envn::ACCESS_TOKEN),
        }));
    }
    // systemd's LoadCredential=canvas-token:… (the token never sits in the environment, where
    // /proc/PID/environ would show it).
    if let Some(dir) = std::env::var_os(envn::CREDENTIALS_DIRECTORY).filter(|d| !d.is_empty()) {
        let path = PathBuf::from(dir).join(CREDENTIAL_NAME);
        // There but not a file (a directory, a device): said, not passed over in silence.
        if std::fs::symlink_metadata(&path).is_ok() {
            return from_file(&path, Source::Credential(path.clone())).map(Some);
        }
    }
    if let Some((v, src)) = file.and_then(|f| f.get("token_file")) {
        let p = v.as_str().ok_or_else(|| {
            Failure::config(format!("{src}: token_file: expected a path string"))
                .kind("config_invalid_file")
        })?;
        // A relative token_file is relative to the config file, where the admin wrote it.
        let base = file.and_then(|f| f.path.parent()).unwrap_or(Path::new(""));
        return from_file(&base.join(table::expand_home(p.trim())), src).map(Some);
    }
    if let Some((v, src)) = file.and_then(|f| f.get("access_token")) {
        let t = v.as_str().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            Failure::config(format!("{src}: access_token: expected a non-empty string"))
                .kind("config_invalid_file")
        })?;
        return Ok(Some(Sourced {
            value: SecretString::from(t.trim().to_string()),
            source: src,
        }));
    }
    Ok(None)
}

/// What a network command needs.
#[derive(Clone)]
pub struct Network {
    pub base: Url,
    pub account: String,
    pub token: SecretString,
}

impl Connection {
    /// The checked Canvas URL, or exit 78 saying it is missing (`why`: what needs it) or
    /// refused, and where it can be set. Commands that need no token (a plan, a dry run)
    /// stop here.
    pub fn base(&self, why: &str) -> Result<Url> {
        let Some(url) = &self.base_url else {
            let what = if why.is_empty() {
                "no Canvas URL is set".to_string()
            } else {
                format!("no Canvas URL is set: {why}")
            };
            return Err(Failure::config(what)
                .kind("config_missing_url")
                .hint(format!(
                    "set --base-url, {}, or base_url in the config file",
                    envn::BASE_URL
                )));
        };
        check_base_url(&url.value).map_err(|e| {
            Failure::config(format!(
                "base URL {:?} (from {}): {e}",
                crate::redact::shown_base_url(&url.value),
                url.source
            ))
            .kind(base_url_kind(&url.value))
        })
    }

    /// URL and token, or exit 78 saying which is missing and where it can be set.
    pub fn network(&self) -> Result<Network> {
        let base = self.base("")?;
        let Some(token) = &self.token else {
            if let Some(p) = &self.dropped_token {
                return Err(Failure::config(format!(
                    "no access token is set for profile {p}: it sets its own base_url, so the top level's token (meant for another Canvas) does not apply"
                ))
                .kind("config_missing_token")
                .hint(format!(
                    "set token_file or access_token in [profiles.{p}], or give this run's token with {} or --token-file",
                    envn::ACCESS_TOKEN
                )));
            }
            return Err(Failure::config("no access token is set").kind("config_missing_token").hint(format!(
                "set {} to the token, or --token-file PATH, or token_file / access_token in the config file",
                envn::ACCESS_TOKEN
            )));
        };
        printable(token)?;
        Ok(Network {
            base,
            account: self.account_id.value.clone(),
            token: token.value.clone(),
        })
    }
}

/// https, or http on loopback only (tests and the bundled simulator).
/// Whether `url`'s host is this machine (`localhost`, 127.0.0.0/8, ::1): the only place
/// where clear text (http://) is allowed.
pub fn loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

pub fn check_base_url(s: &str) -> std::result::Result<Url, String> {
    // The URL parser drops tabs and line breaks inside a URL, as browsers do: a value with
    // one is a mistake (two lines pasted as one) better said than guessed at.
    if s.trim().chars().any(char::is_control) {
        return Err("it holds a line break or another control character".into());
    }
    let mut url = Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !loopback_host(&url) {
                return Err(
                    "http:// is refused: the token would cross the network in clear text; use https:// (http is allowed only for loopback hosts)"
                        .into(),
                );
            }
        }
        other => return Err(format!("scheme {other}:// is not supported; use https://")),
    }
    if url.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL are refused; use CANVAS_ACCESS_TOKEN".into());
    }
    // Accept https://host/ and https://host/api/v1 alike: the client appends /api/v1/….
    let path = url.path().trim_end_matches('/').to_string();
    let path = path.strip_suffix("/api/v1").unwrap_or(&path).to_string();
    url.set_path(&format!("{path}/"));
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The `kind` of a base URL that [`check_base_url`] refuses: `http_refused` for plain http off
/// loopback, else `config_invalid_url`.
pub fn base_url_kind(s: &str) -> &'static str {
    let Ok(u) = Url::parse(s.trim()) else {
        return "config_invalid_url";
    };
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => true,
    };
    if u.scheme() == "http" && !loopback {
        "http_refused"
    } else {
        "config_invalid_url"
    }
}

/// The clap arguments of the table's rows, added to `cmd` (the root) and its subcommands.
pub fn add_args(mut cmd: clap::Command) -> clap::Command {
    for d in TABLE {
        let Some(flag) = d.flag else { continue };
        let arg = build_arg(d, flag);
        match d.scope {
            Scope::Global => cmd = cmd.arg(arg.global(true)),
            Scope::Commands(names) => {
                for n in names {
                    let a = arg.clone();
                    cmd = cmd.mut_subcommand(*n, |s| s.arg(a));
                }
            }
            Scope::FileOnly => {}
        }
    }
    cmd
}

fn build_arg(d: &'static Def, flag: &'static str) -> clap::Arg {
    use clap::{Arg, ArgAction};
    let mut help = format!("{} (config: {})", d.help, show_key(d.key));
    if d.kind != Kind::Switch
        && let Some(def) = d.default
    {
        help.push_str(&format!(" [default: {def}]"));
    }
    let mut a = Arg::new(d.key)
        .long(flag)
        .help(help)
        .help_heading(d.heading);
    a = if d.kind == Kind::Switch {
        a.action(ArgAction::SetTrue)
    } else {
        let kind = d.kind;
        a.action(ArgAction::Set)
            .value_name(d.value_name)
            .value_parser(clap::builder::ValueParser::new(move |s: &str| {
                kind.parse(s)
            }))
    };
    if let Kind::Choice(words) = d.kind {
        use clap::builder::TypedValueParser;
        a = a.value_parser(
            clap::builder::PossibleValuesParser::new(words.iter().copied()).map(Value::Text),
        );
    }
    if let Some(e) = d.env {
        a = a.env(e);
    }
    a
}

/// `watch.interval` as it is written in the file: `[watch] interval`.
pub fn show_key(key: &str) -> String {
    match key.split_once('.') {
        Some((section, k)) => format!("[{section}] {k}"),
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_only() {
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost").is_ok());
        assert!(check_base_url("http://[::1]:9").is_ok());
        assert!(check_base_url("http://canvas.example.edu").is_err());
        assert!(check_base_url("http://10.0.0.1").is_err());
        // Line breaks and other controls inside are a mistake, not something to drop.
        assert!(check_base_url("https://canvas.exa\nmple.edu").is_err());
        assert!(check_base_url("https://canvas.example.edu/\0").is_err());
        assert!(
            check_base_url(" https://canvas.example.edu\n").is_ok(),
            "trimmed ends"
        );
        assert!(check_base_url("ftp://x").is_err());
        assert_eq!(
            check_base_url("https://x.edu/api/v1/").unwrap().as_str(),
            "https://x.edu/"
        );
    }
}
