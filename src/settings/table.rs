//! The settings table: one row per setting, as `validate/kinds.rs` is for CSV kinds (and as
//! ripgrep's `flags/defs.rs` is for its flags).
//!
//! A row holds everything about a setting: its config key, its flag, its environment
//! variable, its default, how its value is read, which commands take the flag, the help
//! heading and the help line. The clap arguments for settings are built from these rows
//! (`cli::command`), `Settings::load` resolves every row once (flag > env > file > default),
//! `config show` lists them, and the unknown-key warning knows the keys from here. Adding a
//! setting is one row here plus one field in its typed struct (`settings/mod.rs`).

use std::path::PathBuf;
use std::time::Duration;

use crate::env_names as envn;

/// How a setting's value is written and read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// A file name inside a directory the tool checks (no `/`, not `.` or `..`): a path
    /// would put the file where those checks do not reach.
    FileName,
    /// A path; a leading `~/` in the config file is the home directory.
    Path,
    /// On or off. A flag sets the opposite of the default (`--batch-mode` turns on,
    /// `--no-validate` turns off).
    Switch,
    /// `30s`, `5m`, `1h 30m`, or bare seconds.
    Duration,
    /// A duration over zero: a timeout (0 would give up on every request before it is answered,
    /// and retry that for the whole budget).
    Timeout,
    /// A duration of at least one second: the time between polls (a smaller one would
    /// hammer Canvas: 60 GETs in under 3 s).
    Interval,
    /// A whole number of at least `min`.
    Count { min: u64 },
    /// A signed integer.
    Integer,
    /// `100MiB`, `1.5GB`, or bare bytes.
    Size,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// An account: a number, `self` or `sis_account_id:X` (the file may give a bare integer).
    Account,
    /// Several words or URLs: a TOML array, or one string with commas.
    List,
    /// A [`Kind::List`] of these words only (a misspelt event would silence it).
    Words(&'static [&'static str]),
    /// A [`Kind::List`] of http(s) URLs.
    Urls,
}

/// Which commands take a row's flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every command (a global flag).
    Global,
    /// Only these subcommands.
    Commands(&'static [&'static str]),
    /// No flag at all: config file (and env, where a row names one) only.
    FileOnly,
}

/// Help headings: `--help` groups options under these.
pub const CONNECTION: &str = "Connection";
pub const LOGGING: &str = "Logging and output";
pub const IMPORT: &str = "Import options";
pub const SUBMIT: &str = "Submit safety";
pub const WATCHING: &str = "Watching";
pub const GUARD: &str = "Guard";
pub const RECORD: &str = "Run record";
pub const NOTIFY: &str = "Notifications";

/// One setting.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// The config file key (`watch.max_polls` is `max_polls` under `[watch]`).
    pub key: &'static str,
    /// The long flag without dashes, when there is one.
    pub flag: Option<&'static str>,
    pub env: Option<&'static str>,
    /// The default as it is written in the config file; `None`: unset by default.
    pub default: Option<&'static str>,
    pub kind: Kind,
    pub scope: Scope,
    pub heading: &'static str,
    /// One line of help; the table adds the config key, env name and default to it.
    pub help: &'static str,
    pub value_name: &'static str,
}

const SUBMIT_ONLY: Scope = Scope::Commands(&["submit"]);
/// What a send takes, whether it is a new submit or the approval of a held one.
const SENDING: Scope = Scope::Commands(&["submit", "approve"]);
/// Import options: what `submit` sends, and what `plan` judges it by.
const IMPORTING: Scope = Scope::Commands(&["submit", "plan"]);
const POLLING: Scope = Scope::Commands(&["submit", "approve", "watch", "restore", "plan"]);
const WHEN: Kind = Kind::Choice(&["auto", "always", "never"]);

const fn row(key: &'static str, kind: Kind, heading: &'static str, help: &'static str) -> Def {
    Def {
        key,
        flag: None,
        env: None,
        default: None,
        kind,
        scope: Scope::FileOnly,
        heading,
        help,
        value_name: "",
    }
}

impl Def {
    const fn flag(mut self, flag: &'static str, scope: Scope, value_name: &'static str) -> Def {
        self.flag = Some(flag);
        self.scope = scope;
        self.value_name = value_name;
        self
    }
    const fn env(mut self, env: &'static str) -> Def {
        self.env = Some(env);
        self
    }
    const fn default(mut self, d: &'static str) -> Def {
        self.default = Some(d);
        self
    }
}

/// Every setting. The order is the order of `config show` and of the example config.
pub const TABLE: &[Def] = &[
    row("base_url", Kind::Text, CONNECTION, "Canvas base URL, e.g. https://canvas.example.edu; http:// is refused unless the host is loopback")
        .flag("base-url", Scope::Global, "URL")
        .env(envn::BASE_URL),
    row("account_id", Kind::Account, CONNECTION, "Root account: a numeric id, `self`, or `sis_account_id:XYZ`")
        .flag("account-id", Scope::Global, "ID")
        .env(envn::ACCOUNT_ID)
        .default("self"),
    // The token is resolved by its own rule (settings::token): these rows give its flag,
    // keys and help.
    row("token_file", Kind::Path, CONNECTION, "File holding the access token; the token itself may instead be in CANVAS_ACCESS_TOKEN")
        .flag("token-file", Scope::Global, "PATH"),
    row("access_token", Kind::Text, CONNECTION, "The access token itself (keep the file mode 600)"),
    row("ca_cert", Kind::Path, CONNECTION, "Trust this PEM CA certificate as well as the system roots")
        .flag("ca-cert", Scope::Global, "PATH"),
    row("retry_budget", Kind::Duration, CONNECTION, "Give up retrying throttled or failing requests after this long; a host that does not resolve or refuses connections gets 5 quick attempts only")
        .flag("retry-budget", Scope::Global, "DURATION")
        .default("10m"),
    row("connect_timeout", Kind::Timeout, CONNECTION, "TCP/TLS connect timeout")
        .flag("connect-timeout", Scope::Global, "DURATION")
        .default("30s"),
    row("read_timeout", Kind::Timeout, CONNECTION, "Time to wait for an answer to a request")
        .flag("read-timeout", Scope::Global, "DURATION")
        .default("120s"),
    row("color", WHEN, LOGGING, "Colour on a terminal (NO_COLOR and TERM=dumb are honoured)")
        .flag("color", Scope::Global, "WHEN")
        .default("auto"),
    row("progress", WHEN, LOGGING, "Progress bars on stderr; auto means only on a terminal")
        .flag("progress", Scope::Global, "WHEN")
        .default("auto"),
    row("log.dir", Kind::Path, LOGGING, "Directory of the log file (\"\" in the file: no log file)")
        .flag("log-dir", Scope::Global, "DIR")
        .env(envn::LOG_DIR)
        .default(STATE_DIR_DEFAULT),
    row("log.file", Kind::FileName, LOGGING, "Log file name, inside the log dir (no path)")
        .flag("log-file", Scope::Global, "NAME")
        .default("canvas_sis.log"),
    row("log.rotation", Kind::Choice(&["daily", "hourly", "never"]), LOGGING, "Start a new log file daily or hourly (local time), or never")
        .default("daily"),
    row("log.keep", Kind::Count { min: 1 }, LOGGING, "Rotated log files kept")
        .default("30"),
    row("log.format", Kind::Choice(&["syslog", "json", "text"]), LOGGING, "Log lines as syslog-style text or one JSON object per line (text = syslog)")
        .default("syslog"),
    row("log.syslog", Kind::Switch, LOGGING, "Also send log lines to the local syslog (or journald under systemd)")
        .default("false"),
    row("import.import_type", Kind::Text, IMPORT, "import_type sent to Canvas; when unset, an IMS Enterprise .xml file (or a zip of them) goes as ims_xml")
        .flag("import-type", IMPORTING, "TYPE")
        .default(crate::import_options::DEFAULT_IMPORT_TYPE),
    row("import.extension", Kind::Choice(&["csv", "zip", "xml"]), IMPORT, "Override the extension detected from the file name (must match the content)")
        .flag("extension", IMPORTING, "EXT"),
    row("import.batch_mode", Kind::Switch, IMPORT, "Term batch mode: delete what is not in this import, within --batch-mode-term-id")
        .flag("batch-mode", IMPORTING, "")
        .default("false"),
    row("import.batch_mode_term_id", Kind::Account, IMPORT, "The active term that batch-mode deletions are limited to (id or sis_term_id:X)")
        .flag("batch-mode-term-id", IMPORTING, "ID"),
    row("import.multi_term_batch_mode", Kind::Switch, IMPORT, "Batch mode across every term in this import's terms file (requires --change-threshold)")
        .flag("multi-term-batch-mode", IMPORTING, "")
        .default("false"),
    row("import.change_threshold", Kind::Count { min: 0 }, IMPORT, "Abort batch cleanup / skip diffing above this percentage of change (1-100)")
        .flag("change-threshold", IMPORTING, "PCT"),
    row("import.skip_deletes", Kind::Switch, IMPORT, "Skip rows with a deleted status")
        .flag("skip-deletes", IMPORTING, "")
        .default("false"),
    row("import.override_sis_stickiness", Kind::Switch, IMPORT, "Overwrite fields changed in the Canvas UI (\"sticky\" fields)")
        .flag("override-sis-stickiness", IMPORTING, "")
        .default("false"),
    row("import.add_sis_stickiness", Kind::Switch, IMPORT, "With --override-sis-stickiness: make the changed fields sticky")
        .flag("add-sis-stickiness", IMPORTING, "")
        .default("false"),
    row("import.clear_sis_stickiness", Kind::Switch, IMPORT, "With --override-sis-stickiness: clear stickiness on the fields this import touches")
        .flag("clear-sis-stickiness", IMPORTING, "")
        .default("false"),
    row("import.update_sis_id_if_login_claimed", Kind::Switch, IMPORT, "Replace the SIS id of a login whose login_id is claimed, instead of skipping the row")
        .flag("update-sis-id-if-login-claimed", IMPORTING, "")
        .default("false"),
    row("import.diffing_data_set_identifier", Kind::Text, IMPORT, "Diff against the last successful import of this data set (at most 128 characters)")
        .flag("diffing-data-set-identifier", IMPORTING, "ID"),
    row("import.diffing_remaster_data_set", Kind::Switch, IMPORT, "Join the data set but apply this import in full")
        .flag("diffing-remaster-data-set", IMPORTING, "")
        .default("false"),
    row("import.diffing_drop_status", Kind::Text, IMPORT, "Status for enrollments missing from a diffed import: deleted, completed, inactive, deleted_last_completed")
        .flag("diffing-drop-status", IMPORTING, "S"),
    row("import.diffing_user_remove_status", Kind::Text, IMPORT, "Status for users missing from a diffed import: deleted, suspended")
        .flag("diffing-user-remove-status", IMPORTING, "S"),
    row("import.batch_mode_enrollment_drop_status", Kind::Text, IMPORT, "How batch mode drops missing enrollments: deleted, completed, inactive")
        .flag("batch-mode-enrollment-drop-status", IMPORTING, "S"),
    row("import.diff_row_count_threshold", Kind::Integer, IMPORT, "Skip diffing when the diff has more rows than this")
        .flag("diff-row-count-threshold", IMPORTING, "N"),
    row("import.validate", Kind::Switch, SUBMIT, "Send without validating locally first")
        .flag("no-validate", SENDING, "")
        .default("true"),
    row("import.strict", Kind::Switch, SUBMIT, "Validation warnings block the upload too (exit 65)")
        .flag("strict", SENDING, "")
        .default("false"),
    row("import.if_idle", Kind::Switch, SUBMIT, "Exit 75, sending nothing, when Canvas already runs or queues an import for the account")
        .flag("if-idle", SENDING, "")
        .default("false"),
    row("import.once", Kind::Switch, SUBMIT, "Exit 75, sending nothing, when the same content went to the same account within --dedupe-window")
        .flag("once", SENDING, "")
        .default("false"),
    row("import.dedupe_window", Kind::Duration, SUBMIT, "How far back a re-submit of the same content is noticed")
        .flag("dedupe-window", SENDING, "DURATION")
        .default("6h"),
    row("import.upload_mode", Kind::Choice(&["auto", "direct", "file-upload"]), SUBMIT, "Raw body (direct), Canvas's pre_attachment file-upload flow, or auto: by size")
        .flag("upload-mode", SENDING, "MODE")
        .default("auto"),
    row("import.file_upload_threshold", Kind::Size, SUBMIT, "With upload_mode auto, bundles from this size on use the file-upload flow")
        .default("100MiB"),
    row("watch.wait_lock", Kind::Duration, SUBMIT, "Wait this long for another canvas-sis run on the same account instead of exiting 75")
        .flag("wait-lock", SENDING, "DURATION")
        .default("0s"),
    row("guard.enabled", Kind::Choice(&["on", "off"]), GUARD, "Plan every submit and hold the destructive ones (default: on for batch mode, multi-term batch mode and diffing, off for plain imports)")
        .flag("guard", SUBMIT_ONLY, "on|off"),
    row("guard.against", Kind::Choice(&["last", "canvas"]), GUARD, "What submit's plan compares with: the last bundle Canvas imported (kept here), or Canvas's provisioning report")
        .default("last"),
    row("guard.max_delete_percent", Kind::Count { min: 0 }, GUARD, "Hold the run when it deletes more than this percent of a kind's rows (per term where batch mode scopes it)")
        .default("10"),
    row("guard.max_update_percent", Kind::Count { min: 0 }, GUARD, "Hold the run when it updates more than this percent of a kind's rows")
        .default("75"),
    row("guard.max_delete_rows", Kind::Count { min: 0 }, GUARD, "Hold the run when it deletes more than this many rows of a kind (per term), whatever the percent"),
    row("archive.dir", Kind::Path, RECORD, "One folder per run (run.json, errors.csv, plan.json, the bundle); \"\" keeps no archive")
        .default(ARCHIVE_DIR_DEFAULT),
    row("archive.keep_days", Kind::Count { min: 1 }, RECORD, "Remove finished runs older than this many days")
        .default("90"),
    row("archive.max_bytes", Kind::Size, RECORD, "Remove the oldest finished runs while the archive is larger than this")
        .default("10GiB"),
    row("archive.keep_bundles", Kind::Switch, RECORD, "Keep a copy of each bundle sent in its run's folder (written while it is sent: no extra read)")
        .default("true"),
    row("metrics.textfile", Kind::Path, RECORD, "After each run, write Prometheus text here (for node_exporter's textfile collector)"),
    row("notify.webhook", Kind::Urls, NOTIFY, "POST one message per event to each of these URLs"),
    row("notify.format", Kind::Choice(&["json", "slack", "teams"]), NOTIFY, "The webhook body: the contract's JSON, or Slack's or Teams' incoming-webhook shape")
        .default("json"),
    row("notify.smtp_url", Kind::Text, NOTIFY, "Also send each event by e-mail: smtps://HOST[:465] (TLS from the start) or smtp://HOST[:587] (STARTTLS required; plain only on loopback); a user may be in the URL, its password comes from CANVAS_SIS_SMTP_PASSWORD"),
    row("notify.from", Kind::Text, NOTIFY, "The From address of the e-mails (needed with smtp_url)"),
    row("notify.to", Kind::List, NOTIFY, "Where the e-mails go (needed with smtp_url)"),
    row("notify.on", Kind::Words(super::NOTIFY_EVENTS), NOTIFY, "The events to send: failed, held, warnings, stuck, max_polls, success")
        .default("failed,held,warnings,stuck,max_polls"),
    row("notify.stuck_after_initializing", Kind::Duration, NOTIFY, "An import still initializing this long after it was created is stuck (a `stuck` event)")
        .default("5m"),
    row("notify.stuck_after_created", Kind::Duration, NOTIFY, "An import still waiting in created this long (behind other jobs) is stuck (a `stuck` event)")
        .default("6h"),
    row("watch.interval", Kind::Interval, WATCHING, "Time between polls: a duration like 30s or 2m, or bare seconds; at least 1s")
        .flag("interval", POLLING, "DURATION")
        .default("60s"),
    row("watch.max_polls", Kind::Count { min: 1 }, WATCHING, "Give up (exit 4) after this many polls; `canvas-sis watch ID` resumes")
        .flag("max-polls", POLLING, "N")
        .default("60"),
];

/// The shown default of the log dir (the real one depends on the environment).
pub const STATE_DIR_DEFAULT: &str = "$XDG_STATE_HOME/canvas-sis";
/// The shown default of the archive dir.
pub const ARCHIVE_DIR_DEFAULT: &str = "$XDG_STATE_HOME/canvas-sis/runs";

/// The row of `key`. Panics on a key that is not in the table: that is a bug in the caller.
pub fn def(key: &str) -> &'static Def {
    TABLE
        .iter()
        .find(|d| d.key == key)
        .unwrap_or_else(|| panic!("{key} is not in the settings table"))
}

/// A resolved value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Path(PathBuf),
    Bool(bool),
    Duration(Duration),
    Count(u64),
    Integer(i64),
    Size(u64),
    List(Vec<String>),
}

impl Value {
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Text(s) => write!(f, "{s}"),
            Value::Path(p) if p.as_os_str().is_empty() => write!(f, "(off)"),
            Value::Path(p) => write!(f, "{}", p.display()),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
            Value::Count(n) => write!(f, "{n}"),
            Value::Integer(n) => write!(f, "{n}"),
            Value::Size(n) => write!(f, "{}", show_size(*n)),
            Value::List(v) => write!(f, "{}", v.join(", ")),
        }
    }
}

impl Kind {
    /// Read a value as it is written on the command line, in the environment, or as a
    /// config file string. Surrounding whitespace is never part of it (a CR from a unit file
    /// edited on Windows included).
    pub fn parse(self, raw: &str) -> Result<Value, String> {
        let s = raw.trim();
        match self {
            Kind::Text | Kind::Account => Ok(Value::Text(s.to_string())),
            Kind::FileName => match s {
                "" | "." | ".." => Err(format!("{s:?} is not a file name")),
                _ if s.contains('/') || s.contains('\0') => Err(format!(
                    "{s:?} is a path; give a file name (the directory is log.dir, --log-dir)"
                )),
                _ => Ok(Value::Text(s.to_string())),
            },
            Kind::Path => Ok(Value::Path(expand_home(s))),
            Kind::Switch => match s {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err("expected true or false".into()),
            },
            Kind::Duration => parse_duration(s).map(Value::Duration),
            Kind::Timeout => match parse_duration(s)? {
                d if d.is_zero() => Err(format!(
                    "{s:?} is no time at all; a timeout gives the other side time, e.g. 30s"
                )),
                d => Ok(Value::Duration(d)),
            },
            Kind::Interval => match parse_duration(s)? {
                d if d < Duration::from_secs(1) => Err(format!(
                    "{s:?} is under 1s; poll at most once a second (Canvas paces its own work in minutes)"
                )),
                d => Ok(Value::Duration(d)),
            },
            Kind::Count { min } => match s.parse::<u64>() {
                Ok(n) if n >= min => Ok(Value::Count(n)),
                Ok(_) => Err(format!("must be at least {min}")),
                Err(_) => Err("expected a whole number".into()),
            },
            Kind::Integer => s
                .parse::<i64>()
                .map(Value::Integer)
                .map_err(|_| "expected an integer".into()),
            Kind::Size => parse_size(s).map(Value::Size),
            Kind::List | Kind::Words(_) | Kind::Urls => self.list(
                s.split(',')
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            Kind::Choice(words) => words
                .iter()
                .find(|w| **w == s)
                .map(|w| Value::Text(w.to_string()))
                .ok_or_else(|| format!("expected one of: {}", words.join(", "))),
        }
    }

    /// A list, each item checked as the kind asks.
    fn list(self, items: Vec<String>) -> Result<Value, String> {
        for i in &items {
            match self {
                Kind::Words(words) if !words.contains(&i.as_str()) => {
                    return Err(format!("{i:?} is not one of: {}", words.join(", ")));
                }
                Kind::Urls => match url::Url::parse(i) {
                    Ok(u)
                        if u.scheme() == "http"
                            && u.host().is_some()
                            && !super::loopback_host(&u) =>
                    {
                        // A webhook URL is a secret (Slack's, Teams'): never in clear text
                        // off this machine, as the token never is.
                        return Err(format!(
                            "{}: http:// is refused off loopback (the URL is a secret); use https://",
                            crate::redact::url_origin(&u)
                        ));
                    }
                    Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                    Ok(u) => {
                        return Err(format!(
                            "{}: only http:// and https:// URLs can be posted to",
                            crate::redact::url_origin(&u)
                        ));
                    }
                    Err(e) => return Err(format!("not a URL ({e})")),
                },
                _ => {}
            }
        }
        Ok(Value::List(items))
    }

    /// Read a value from the config file, which may also give numbers and booleans unquoted.
    pub fn from_toml(self, v: &toml::Value) -> Result<Value, String> {
        match (self, v) {
            (_, toml::Value::String(s)) if self != Kind::Switch => self.parse(s),
            (Kind::Switch, toml::Value::Boolean(b)) => Ok(Value::Bool(*b)),
            // `enabled = true` for an on|off choice.
            (Kind::Choice(words), toml::Value::Boolean(b)) if words.contains(&"on") => {
                self.parse(if *b { "on" } else { "off" })
            }
            (Kind::Duration | Kind::Interval | Kind::Timeout, toml::Value::Integer(i)) => {
                self.parse(&i.to_string())
            }
            (Kind::Duration | Kind::Interval | Kind::Timeout, toml::Value::Float(f)) => {
                self.parse(&f.to_string())
            }
            (
                Kind::Count { .. } | Kind::Integer | Kind::Size | Kind::Account,
                toml::Value::Integer(i),
            ) => self.parse(&i.to_string()),
            (Kind::List | Kind::Words(_) | Kind::Urls, toml::Value::Array(a)) => self.list(
                a.iter()
                    .map(|v| {
                        v.as_str()
                            .map(|s| s.trim().to_string())
                            .ok_or_else(|| "expected a list of strings".to_string())
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            (Kind::List | Kind::Words(_) | Kind::Urls, _) => {
                Err("expected a list of strings, e.g. [\"a\", \"b\"]".into())
            }
            (Kind::Switch, _) => Err("expected true or false".into()),
            (Kind::Duration | Kind::Interval | Kind::Timeout, _) => {
                Err("expected a duration like \"30s\" or a number of seconds".into())
            }
            (Kind::Count { .. }, _) => Err("expected a whole number".into()),
            (Kind::Integer, _) => Err("expected an integer".into()),
            (Kind::Size, _) => Err("expected a size like \"100MiB\" or a number of bytes".into()),
            (Kind::Account, _) => Err("expected an id, \"self\" or \"sis_account_id:X\"".into()),
            (Kind::Text | Kind::FileName | Kind::Path | Kind::Choice(_), _) => {
                Err("expected a string".into())
            }
        }
    }
}

/// A humantime duration (`30s`, `2m`, `1h 30m`) or bare seconds (`60`, `0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let too_long = || {
        format!(
            "{t:?} is over {} years: too long for any wait here",
            LONGEST_YEARS
        )
    };
    if let Ok(secs) = t.parse::<f64>() {
        return if secs.is_nan() {
            Err(format!(
                "{t:?} is not a number of seconds; use e.g. 30s, 5m, 1h, or bare seconds"
            ))
        } else if secs < 0.0 {
            Err(format!(
                "{t:?} is negative; use e.g. 30s, 5m, 1h, or bare seconds"
            ))
        } else if secs > LONGEST.as_secs_f64() {
            Err(too_long())
        } else {
            Ok(Duration::from_secs_f64(secs))
        };
    }
    let d = humantime::parse_duration(t).map_err(|_| {
        format!("{t:?} is not a duration; use e.g. 30s, 5m, 1h 30m, or bare seconds")
    })?;
    if d > LONGEST {
        return Err(too_long());
    }
    Ok(d)
}

/// The longest duration any setting takes. Larger ones made the clock arithmetic overflow
/// (a panic), and no wait, window or budget of a nightly job is longer.
const LONGEST_YEARS: u64 = 100;
const LONGEST: Duration = Duration::from_secs(LONGEST_YEARS * 365 * 24 * 3600);

/// `100MiB`, `1.5GB`, `500k`, or bare bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like \"100MiB\""))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit {other:?} (use B, kB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    Ok((n * mult) as u64)
}

/// A size for `config show`, exactly and in the unit it was likely written in (the default
/// is `100 MiB`, not "104.9 MB").
pub fn show_size(n: u64) -> String {
    for (unit, m) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= m && n.is_multiple_of(m) {
            return format!("{} {unit}", n / m);
        }
    }
    for (unit, m) in [("GB", 1_000_000_000u64), ("MB", 1_000_000), ("kB", 1000)] {
        if n >= m && n.is_multiple_of(m) {
            return format!("{} {unit}", n / m);
        }
    }
    format!("{n} B")
}

/// A leading `~` or `~/` is the home directory, as in a shell (nothing expands it in a
/// config file or a unit file's environment otherwise).
pub fn expand_home(s: &str) -> PathBuf {
    let home = || std::env::var_os(envn::HOME).filter(|h| !h.is_empty());
    match s.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match home() {
            Some(h) => PathBuf::from(h).join(rest.trim_start_matches('/')),
            None => PathBuf::from(s),
        },
        _ => PathBuf::from(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bare number past what a `Duration` holds panicked (exit 101); one that fits but is
    /// huge overflowed the clock later. Both are refused, with a message that fits.
    #[test]
    fn durations_out_of_range_are_refused_not_a_panic() {
        for huge in ["18446744073709551616", "1e300", "1e999", "inf", "500000y"] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("over 100 years"), "{huge}: {e}");
        }
        assert!(parse_duration("NaN").unwrap_err().contains("not a number"));
        assert!(parse_duration("-5").unwrap_err().contains("negative"));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1h 30m").unwrap(), Duration::from_secs(5400));
        assert!(Kind::Timeout.parse("0").is_err());
        assert!(Kind::Timeout.parse("0s").is_err());
        assert!(Kind::Timeout.parse("0.5").is_ok());
        assert!(
            Kind::Duration.parse("0").is_ok(),
            "a retry budget of 0: no retries"
        );
    }

    #[test]
    fn keys_and_flags_are_unique_and_defaults_parse() {
        let mut keys = std::collections::HashSet::new();
        let mut flags = std::collections::HashSet::new();
        for d in TABLE {
            assert!(keys.insert(d.key), "{} twice", d.key);
            if let Some(f) = d.flag {
                assert!(flags.insert(f), "--{f} twice");
                assert!(d.scope != Scope::FileOnly, "{}", d.key);
            }
            if let Some(v) = d.default
                && d.key != "log.dir"
                && d.key != "archive.dir"
            {
                d.kind.parse(v).unwrap_or_else(|e| panic!("{}: {e}", d.key));
            }
        }
    }

    #[test]
    fn the_import_type_default_is_canvass() {
        assert_eq!(
            def("import.import_type").default,
            Some(crate::import_options::DEFAULT_IMPORT_TYPE)
        );
    }

    #[test]
    fn values_are_trimmed_and_checked() {
        assert_eq!(Kind::Account.parse("1\r").unwrap(), Value::Text("1".into()));
        assert_eq!(
            Kind::Duration.parse(" 2m ").unwrap(),
            Value::Duration(Duration::from_secs(120))
        );
        assert_eq!(
            Kind::Duration.parse("0.5").unwrap(),
            Value::Duration(Duration::from_millis(500))
        );
        assert!(Kind::Duration.parse("-1").is_err());
        assert!(
            Kind::Duration
                .parse("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(Kind::Count { min: 1 }.parse("0").is_err());
        assert_eq!(Kind::Size.parse("100MiB").unwrap(), Value::Size(100 << 20));
        assert!(Kind::Choice(&["a", "b"]).parse("c").is_err());
        assert_eq!(show_size(100 << 20), "100 MiB");
    }
}
