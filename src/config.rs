//! Settings, layered flag > environment > config file > default (the contract's table).
//!
//! Every resolved value remembers where it came from, so `config show` can say
//! "from CANVAS_BASE_URL" or "from ./canvas_sis.toml:3". The token is held as a
//! `SecretString` from the moment it is read and is never displayed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::ArgMatches;
use clap::parser::ValueSource;
use secrecy::SecretString;
use url::Url;

use crate::cli::{GlobalArgs, When};
use crate::env_names as envn;
use crate::exit::{Failure, Result};

/// Where a setting's value came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    File { path: PathBuf, line: usize },
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(name) => write!(f, "flag {name}"),
            Source::Env(name) => write!(f, "env {name}"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
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

/// The parsed config file with the profile applied: dotted key → (value, line).
#[derive(Debug, Default)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub entries: BTreeMap<String, (toml::Value, usize)>,
    /// Names of the `[profiles.*]` sections.
    pub profiles: Vec<String>,
    pub has_access_token: bool,
    /// The profile whose own `base_url` kept the top level's token from applying, if any:
    /// named in the "no access token" error.
    pub dropped_token: Option<String>,
}

/// The keys that hold or name the token.
const TOKEN_KEYS: &[&str] = &["token_file", "access_token"];

/// Keys a config file may hold; anything else draws a warning (it is probably a typo).
const KNOWN_KEYS: &[&str] = &[
    "base_url",
    "account_id",
    "token_file",
    "access_token",
    "color",
    "progress",
    "ca_cert",
    "retry_budget",
    "connect_timeout",
    "read_timeout",
    "log.dir",
    "log.file",
    "log.rotation",
    "log.keep",
    "log.format",
    "log.syslog",
    "import.import_type",
    "import.extension",
    "import.batch_mode",
    "import.batch_mode_term_id",
    "import.multi_term_batch_mode",
    "import.change_threshold",
    "import.skip_deletes",
    "import.override_sis_stickiness",
    "import.add_sis_stickiness",
    "import.clear_sis_stickiness",
    "import.update_sis_id_if_login_claimed",
    "import.diffing_data_set_identifier",
    "import.diffing_remaster_data_set",
    "import.diffing_drop_status",
    "import.diffing_user_remove_status",
    "import.batch_mode_enrollment_drop_status",
    "import.diff_row_count_threshold",
    "import.validate",
    "import.strict",
    "import.if_idle",
    "import.once",
    "import.dedupe_window",
    "import.upload_mode",
    "import.file_upload_threshold",
    "watch.interval",
    "watch.max_polls",
    "watch.wait_lock",
];

impl ConfigFile {
    /// Read and parse `path`, then lay `[profiles.NAME]` over the top level.
    pub fn load(path: &Path, profile: Option<&str>) -> Result<(ConfigFile, Vec<String>)> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::config(format!("cannot read config file {}: {e}", path.display()))
                .kind("config_invalid_file")
                .hint("fix the path given with -c/--config or CANVAS_SIS_CONFIG, or remove it")
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start].matches('\n').count() + 1)
                .unwrap_or(0);
            Failure::config(format!(
                "invalid config file {}:{line}: {}",
                path.display(),
                e.message()
            ))
            .kind("config_invalid_file")
            .hint("the file must be TOML; see canvas_sis.example.toml for every key")
        })?;
        let lines = key_lines(&text);
        let mut cf = ConfigFile {
            path: path.to_path_buf(),
            ..Default::default()
        };
        let mut warnings = Vec::new();
        let mut top = BTreeMap::new();
        flatten("", &table, &lines, &mut top);
        let mut merged = BTreeMap::new();
        for (k, v) in top {
            if let Some(rest) = k.strip_prefix("profiles.") {
                let name = rest.split('.').next().unwrap_or_default().to_string();
                if !cf.profiles.contains(&name) {
                    cf.profiles.push(name);
                }
                continue;
            }
            merged.insert(k, v);
        }
        if let Some(p) = profile {
            let Some(toml::Value::Table(pt)) = table.get("profiles").and_then(|t| t.get(p)) else {
                return Err(
                    Failure::config(format!("profile {p:?} is not in {}", path.display()))
                        .kind("profile_missing")
                        .hint(if cf.profiles.is_empty() {
                            "the file has no [profiles.NAME] sections".to_string()
                        } else {
                            format!("profiles there: {}", cf.profiles.join(", "))
                        }),
                );
            };
            let mut pe = BTreeMap::new();
            flatten(&format!("profiles.{p}."), pt, &lines, &mut pe);
            let prefix = format!("profiles.{p}.");
            // A token belongs to the layer that names the Canvas (contract, "Settings"): a
            // profile with its own base_url never inherits the top level's token, which was
            // configured for another host.
            if pt.contains_key("base_url") {
                for k in TOKEN_KEYS {
                    if merged.remove(*k).is_some() && !pt.contains_key(*k) {
                        cf.dropped_token = Some(p.to_string());
                    }
                }
            }
            for (k, v) in pe {
                merged.insert(k[prefix.len()..].to_string(), v);
            }
        }
        for (k, (_, line)) in &merged {
            if !KNOWN_KEYS.contains(&k.as_str()) {
                let near = KNOWN_KEYS
                    .iter()
                    .find(|known| known.ends_with(k.rsplit('.').next().unwrap_or(k)))
                    .map(|s| format!(" (did you mean {s}?)"))
                    .unwrap_or_default();
                warnings.push(format!(
                    "{}:{line}: unknown key {k}, ignored{near}",
                    path.display()
                ));
            }
        }
        cf.has_access_token = merged.contains_key("access_token");
        if cf.has_access_token
            && let Some(w) = permissive_warning(path)
        {
            warnings.push(w);
        }
        cf.entries = merged;
        Ok((cf, warnings))
    }

    fn get(&self, key: &str) -> Option<(&toml::Value, Source)> {
        self.entries.get(key).map(|(v, line)| {
            (
                v,
                Source::File {
                    path: self.path.clone(),
                    line: *line,
                },
            )
        })
    }
}

#[cfg(unix)]
fn permissive_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} holds access_token and is readable by group or others (mode {:o}); run chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn permissive_warning(_: &Path) -> Option<String> {
    None
}

/// Dotted key → line number, by reading the `[table]` headers and `key =` lines.
fn key_lines(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') && !line.starts_with("[[") {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .split('.')
                .map(|s| s.trim().trim_matches('"'))
                .collect::<Vec<_>>()
                .join(".");
            out.entry(section.clone()).or_insert(i + 1);
        } else if let Some((k, _)) = line.split_once('=') {
            let k = k.trim().trim_matches('"');
            if !k.is_empty() && !k.starts_with('#') {
                let full = if section.is_empty() {
                    k.to_string()
                } else {
                    format!("{section}.{k}")
                };
                out.entry(full).or_insert(i + 1);
            }
        }
    }
    out
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    lines: &BTreeMap<String, usize>,
    out: &mut BTreeMap<String, (toml::Value, usize)>,
) {
    for (k, v) in table {
        let key = format!("{prefix}{k}");
        match v {
            toml::Value::Table(t) => flatten(&format!("{key}."), t, lines, out),
            _ => {
                let line = lines.get(&key).copied().unwrap_or(0);
                out.insert(key, (v.clone(), line));
            }
        }
    }
}

/// Which config file to read: -c/CANVAS_SIS_CONFIG, else ./canvas_sis.toml, else the XDG one.
fn config_path(global: &GlobalArgs) -> Option<PathBuf> {
    if let Some(p) = &global.config {
        return Some(p.clone());
    }
    let local = PathBuf::from("canvas_sis.toml");
    if local.is_file() {
        return Some(local);
    }
    let xdg =
        crate::paths::xdg_dir(envn::XDG_CONFIG_HOME, ".config")?.join("canvas-sis/config.toml");
    xdg.is_file().then_some(xdg)
}

pub use crate::logfile::Rotation;

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

/// One line of `config show`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ShownSetting {
    pub key: String,
    pub value: String,
    pub source: String,
}

/// What every command can know before it talks to anyone.
#[derive(Debug)]
pub struct Settings {
    pub config_file: Option<PathBuf>,
    pub file: Option<ConfigFile>,
    pub profile: Option<String>,
    pub base_url: Option<Sourced<String>>,
    pub account_id: Sourced<String>,
    pub token: Option<Sourced<SecretString>>,
    pub log: LogSettings,
    pub color: When,
    pub progress: When,
    pub ca_cert: Option<PathBuf>,
    pub retry_budget: Duration,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub verbose: u8,
    pub quiet: bool,
    pub json: bool,
    /// For `config show`, in a stable order.
    pub shown: Vec<ShownSetting>,
    /// Non-fatal remarks about the configuration, printed once.
    pub warnings: Vec<String>,
}

/// Resolves one setting at a time, flag > env > file > default, and records it.
pub struct Resolver<'a> {
    matches: &'a ArgMatches,
    file: Option<&'a ConfigFile>,
    shown: &'a mut Vec<ShownSetting>,
}

impl<'a> Resolver<'a> {
    fn source_of(&self, id: &str, flag: &'static str, env: Option<&'static str>) -> Source {
        match find_value_source(self.matches, id) {
            Some(ValueSource::EnvVariable) => Source::Env(env.unwrap_or("environment")),
            _ => Source::Flag(flag),
        }
    }

    /// Resolve `key`: `flag` (already parsed by clap, with clap id `id`) or the file or `default`.
    pub fn get<T: Clone + fmt::Debug>(
        &mut self,
        key: &str,
        flag: Option<(T, &'static str, &str, Option<&'static str>)>,
        parse: impl Fn(&toml::Value) -> std::result::Result<T, String>,
        default: Option<T>,
        show: impl Fn(&T) -> String,
    ) -> Result<Option<Sourced<T>>> {
        let out = if let Some((v, flagname, id, env)) = flag {
            Some(Sourced {
                value: v,
                source: self.source_of(id, flagname, env),
            })
        } else if let Some((raw, src)) = self.file.and_then(|f| f.get(key)) {
            let v = parse(raw).map_err(|e| {
                Failure::config(format!("{src}: {key}: {e}"))
                    .kind("config_invalid_file")
                    .hint("see canvas_sis.example.toml for the accepted values")
            })?;
            Some(Sourced {
                value: v,
                source: src,
            })
        } else {
            default.map(|v| Sourced {
                value: v,
                source: Source::Default,
            })
        };
        self.shown.push(ShownSetting {
            key: key.to_string(),
            value: out
                .as_ref()
                .map(|s| show(&s.value))
                .unwrap_or_else(|| "(unset)".into()),
            source: out
                .as_ref()
                .map(|s| s.source.to_string())
                .unwrap_or_else(|| "-".into()),
        });
        Ok(out)
    }

    /// A boolean switch: a flag can only turn it on; otherwise the file, else false.
    pub fn switch(&mut self, key: &str, flag: bool, flagname: &'static str) -> Result<bool> {
        let v = self.get(
            key,
            flag.then_some((true, flagname, flagname.trim_start_matches("--"), None)),
            toml_bool,
            Some(false),
            |b| b.to_string(),
        )?;
        Ok(v.map(|s| s.value).unwrap_or(false))
    }

    pub fn duration(
        &mut self,
        key: &str,
        flag: Option<&String>,
        flagname: &'static str,
        default: &str,
    ) -> Result<Duration> {
        let flagged = match flag {
            Some(s) => Some((
                parse_duration(s).map_err(|e| Failure::usage(format!("{flagname} {s:?}: {e}")))?,
                flagname,
                flagname.trim_start_matches("--"),
                None,
            )),
            None => None,
        };
        let d = self.get(
            key,
            flagged,
            |v| match v {
                toml::Value::String(s) => parse_duration(s),
                toml::Value::Integer(i) if *i >= 0 => Ok(Duration::from_secs(*i as u64)),
                toml::Value::Float(f) if *f >= 0.0 => Ok(Duration::from_secs_f64(*f)),
                _ => Err("expected a duration like \"30s\" or a number of seconds".into()),
            },
            Some(parse_duration(default).expect("default durations parse")),
            |d| humantime::format_duration(*d).to_string(),
        )?;
        Ok(d.expect("has default").value)
    }
}

/// The value source of `id` in the matches or in the subcommand's matches.
fn find_value_source(m: &ArgMatches, id: &str) -> Option<ValueSource> {
    if let Ok(true) = m.try_contains_id(id)
        && let Some(s) = m.value_source(id)
    {
        return Some(s);
    }
    let (_, sub) = m.subcommand()?;
    find_value_source(sub, id)
}

pub fn toml_bool(v: &toml::Value) -> std::result::Result<bool, String> {
    v.as_bool().ok_or_else(|| "expected true or false".into())
}

pub fn toml_string(v: &toml::Value) -> std::result::Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| "expected a string".into())
}

/// A path from the config file: a leading `~` or `~/` is the home directory, as in a
/// shell (nothing expands it there otherwise).
pub fn toml_path(v: &toml::Value) -> std::result::Result<PathBuf, String> {
    toml_string(v).map(|s| expand_home(&s))
}

fn expand_home(s: &str) -> PathBuf {
    let home = || std::env::var_os(envn::HOME).filter(|h| !h.is_empty());
    match s.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => match home() {
            Some(h) => PathBuf::from(h).join(rest.trim_start_matches('/')),
            None => PathBuf::from(s),
        },
        _ => PathBuf::from(s),
    }
}

pub fn toml_u64(v: &toml::Value) -> std::result::Result<u64, String> {
    match v {
        toml::Value::Integer(i) if *i >= 0 => Ok(*i as u64),
        _ => Err("expected a non-negative integer".into()),
    }
}

/// A humantime duration (`30s`, `2m`, `1h 30m`) or bare seconds (`60`, `0.5`).
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs >= 0.0 && secs.is_finite() {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err("must not be negative".into());
    }
    humantime::parse_duration(t).map_err(|e| format!("{e} (use e.g. 30s, 5m, 1h, or bare seconds)"))
}

fn parse_when(v: &toml::Value) -> std::result::Result<When, String> {
    match v.as_str() {
        Some("auto") => Ok(When::Auto),
        Some("always") => Ok(When::Always),
        Some("never") => Ok(When::Never),
        _ => Err("expected \"auto\", \"always\" or \"never\"".into()),
    }
}

fn when_str(w: &When) -> String {
    format!("{w:?}").to_lowercase()
}

impl Settings {
    /// Resolve the global settings. Subcommand options are resolved later with `resolver()`.
    pub fn load(global: &GlobalArgs, matches: &ArgMatches) -> Result<Settings> {
        let config_file = config_path(global);
        let (file, warnings) = match &config_file {
            Some(p) => {
                let (f, w) = ConfigFile::load(p, global.profile.as_deref())?;
                (Some(f), w)
            }
            None if global.profile.is_some() => {
                return Err(Failure::config(format!(
                    "--profile {} needs a config file, and none was found",
                    global.profile.as_deref().unwrap_or_default()
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
            source: match (&global.config, &config_file) {
                (Some(_), _) => match find_value_source(matches, "config") {
                    Some(ValueSource::EnvVariable) => Source::Env(envn::CONFIG).to_string(),
                    _ => Source::Flag("--config").to_string(),
                },
                (None, Some(_)) => "default search".into(),
                (None, None) => "-".into(),
            },
        }];
        if let Some(p) = &global.profile {
            shown.push(ShownSetting {
                key: "profile".into(),
                value: p.clone(),
                source: match find_value_source(matches, "profile") {
                    Some(ValueSource::EnvVariable) => Source::Env(envn::PROFILE).to_string(),
                    _ => Source::Flag("--profile").to_string(),
                },
            });
        }
        let mut r = Resolver {
            matches,
            file: file.as_ref(),
            shown: &mut shown,
        };
        let base_url = r.get(
            "base_url",
            global
                .base_url
                .clone()
                .map(|v| (v, "--base-url", "base_url", Some(envn::BASE_URL))),
            toml_string,
            None,
            |s| s.clone(),
        )?;
        let account_id = r
            .get(
                "account_id",
                global
                    .account_id
                    .clone()
                    .map(|v| (v, "--account-id", "account_id", Some(envn::ACCOUNT_ID))),
                |v| match v {
                    toml::Value::Integer(i) => Ok(i.to_string()),
                    toml::Value::String(s) => Ok(s.clone()),
                    _ => Err("expected an id, \"self\" or \"sis_account_id:X\"".into()),
                },
                Some("self".to_string()),
                |s| s.clone(),
            )?
            .expect("has default");
        let token = resolve_token(global, file.as_ref(), r.shown)?;

        let log_dir_default = crate::paths::state_dir_path();
        let log_dir_sourced = r
            .get(
                "log.dir",
                global
                    .log_dir
                    .clone()
                    .map(|v| (v, "--log-dir", "log_dir", Some(envn::LOG_DIR))),
                toml_path,
                Some(log_dir_default),
                |p| {
                    if p.as_os_str().is_empty() {
                        "(off)".into()
                    } else {
                        p.display().to_string()
                    }
                },
            )?
            .expect("has default");
        let explicit_dir = log_dir_sourced.source != Source::Default;
        let log_dir = log_dir_sourced.value;
        let log_file = r
            .get(
                "log.file",
                global
                    .log_file
                    .clone()
                    .map(|v| (v, "--log-file", "log_file", None)),
                toml_string,
                Some("canvas_sis.log".to_string()),
                |s| s.clone(),
            )?
            .expect("has default")
            .value;
        let rotation = r
            .get(
                "log.rotation",
                None,
                |v| match v.as_str() {
                    Some("daily") => Ok(Rotation::Daily),
                    Some("hourly") => Ok(Rotation::Hourly),
                    Some("never") => Ok(Rotation::Never),
                    _ => Err("expected \"daily\", \"hourly\" or \"never\"".into()),
                },
                Some(Rotation::Daily),
                |r| format!("{r:?}").to_lowercase(),
            )?
            .expect("has default")
            .value;
        let keep = r
            .get("log.keep", None, toml_u64, Some(30), |k| k.to_string())?
            .expect("has default")
            .value as usize;
        let format = r
            .get(
                "log.format",
                None,
                |v| match v.as_str() {
                    Some("syslog") | Some("text") => Ok(LogFormat::Syslog),
                    Some("json") => Ok(LogFormat::Json),
                    _ => Err("expected \"syslog\" or \"json\"".into()),
                },
                Some(LogFormat::Syslog),
                |f| format!("{f:?}").to_lowercase(),
            )?
            .expect("has default")
            .value;
        let syslog = r.switch("log.syslog", false, "")?;
        let color = r
            .get(
                "color",
                global.color.map(|c| (c, "--color", "color", None)),
                parse_when,
                Some(When::Auto),
                when_str,
            )?
            .expect("has default")
            .value;
        let progress = r
            .get(
                "progress",
                global.progress.map(|c| (c, "--progress", "progress", None)),
                parse_when,
                Some(When::Auto),
                when_str,
            )?
            .expect("has default")
            .value;
        let ca_cert = r
            .get(
                "ca_cert",
                global
                    .ca_cert
                    .clone()
                    .map(|v| (v, "--ca-cert", "ca_cert", None)),
                toml_path,
                None,
                |p| p.display().to_string(),
            )?
            .map(|s| s.value);
        let retry_budget = r.duration(
            "retry_budget",
            global.retry_budget.as_ref(),
            "--retry-budget",
            "10m",
        )?;
        let connect_timeout = r.duration(
            "connect_timeout",
            global.connect_timeout.as_ref(),
            "--connect-timeout",
            "30s",
        )?;
        let read_timeout = r.duration(
            "read_timeout",
            global.read_timeout.as_ref(),
            "--read-timeout",
            "120s",
        )?;

        let dir = if global.no_log_file || log_dir.as_os_str().is_empty() {
            None
        } else {
            Some(log_dir)
        };
        Ok(Settings {
            config_file,
            file,
            profile: global.profile.clone(),
            base_url,
            account_id,
            token,
            log: LogSettings {
                dir,
                explicit_dir,
                file: log_file,
                rotation,
                keep,
                format,
                syslog,
            },
            color,
            progress,
            ca_cert,
            retry_budget,
            connect_timeout,
            read_timeout,
            verbose: global.verbose,
            quiet: global.quiet,
            json: global.json,
            shown,
            warnings,
        })
    }

    /// A resolver for a subcommand's own options (`[import]`, `[watch]` keys).
    pub fn resolver<'a>(&'a mut self, matches: &'a ArgMatches) -> Resolver<'a> {
        Resolver {
            matches,
            file: self.file.as_ref(),
            shown: &mut self.shown,
        }
    }

    /// URL and token, or exit 78 saying which is missing and where it can be set.
    pub fn network(&self) -> Result<Network> {
        let Some(url) = &self.base_url else {
            return Err(Failure::config("no Canvas URL is set")
                .kind("config_missing_url")
                .hint(format!(
                    "set --base-url, {}, or base_url in the config file",
                    envn::BASE_URL
                )));
        };
        let base = check_base_url(&url.value).map_err(|e| {
            Failure::config(format!(
                "base URL {:?} (from {}): {e}",
                url.value, url.source
            ))
            .kind(base_url_kind(&url.value))
        })?;
        let Some(token) = &self.token else {
            if let Some(p) = self.file.as_ref().and_then(|f| f.dropped_token.as_ref()) {
                return Err(Failure::config(format!(
                    "no access token is set for profile {p}: it sets its own base_url, so the top level's token (meant for another Canvas) does not apply"
                ))
                .kind("config_missing_token")
                .hint(format!(
                    "set token_file or access_token in [profiles.{p}], or give this run's token with {} or --token-file",
                    envn::ACCESS_TOKEN
                )));
            }
            return Err(Failure::config("no access token is set")
                .kind("config_missing_token")
                .hint(format!(
                "set {} to the token, or --token-file PATH, or token_file / access_token in the config file",
                envn::ACCESS_TOKEN
            )));
        };
        Ok(Network {
            base,
            account: self.account_id.value.clone(),
            token: token.value.clone(),
        })
    }
}

/// The token: --token-file > CANVAS_ACCESS_TOKEN > token_file/access_token in the file.
fn resolve_token(
    global: &GlobalArgs,
    file: Option<&ConfigFile>,
    shown: &mut Vec<ShownSetting>,
) -> Result<Option<Sourced<SecretString>>> {
    let from_file = |path: &Path, source: Source| -> Result<Sourced<SecretString>> {
        let text = std::fs::read_to_string(path).map_err(|e| {
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
    let tok = if let Some(p) = &global.token_file {
        Some(from_file(p, Source::Flag("--token-file"))?)
    } else if let Some(t) = std::env::var(envn::ACCESS_TOKEN)
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        Some(Sourced {
            value: SecretString::from(t.trim().to_string()),
            source: Source::Env(envn::ACCESS_TOKEN),
        })
    } else if let Some((v, src)) = file.and_then(|f| f.get("token_file")) {
        let p = v.as_str().ok_or_else(|| {
            Failure::config(format!("{src}: token_file: expected a path string"))
                .kind("config_invalid_file")
        })?;
        // A relative token_file is relative to the config file, where the admin wrote it.
        let base = file.and_then(|f| f.path.parent()).unwrap_or(Path::new(""));
        Some(from_file(&base.join(expand_home(p)), src)?)
    } else if let Some((v, src)) = file.and_then(|f| f.get("access_token")) {
        let t = v.as_str().filter(|t| !t.trim().is_empty()).ok_or_else(|| {
            Failure::config(format!("{src}: access_token: expected a non-empty string"))
                .kind("config_invalid_file")
        })?;
        Some(Sourced {
            value: SecretString::from(t.trim().to_string()),
            source: src,
        })
    } else {
        None
    };
    shown.push(ShownSetting {
        key: "token".into(),
        value: match &tok {
            Some(t) => format!("set (from {})", t.source),
            None => "not set".into(),
        },
        source: tok
            .as_ref()
            .map(|t| t.source.to_string())
            .unwrap_or_else(|| "-".into()),
    });
    Ok(tok)
}

/// What a network command needs.
#[derive(Clone)]
pub struct Network {
    pub base: Url,
    pub account: String,
    pub token: SecretString,
}

/// https, or http on loopback only (tests and the bundled simulator).
pub fn check_base_url(s: &str) -> std::result::Result<Url, String> {
    let mut url = Url::parse(s.trim()).map_err(|e| format!("not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if !loopback {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_http_only() {
        assert_eq!(base_url_kind("http://canvas.example.edu"), "http_refused");
        assert_eq!(base_url_kind("ftp://x"), "config_invalid_url");
        assert_eq!(base_url_kind("not a url"), "config_invalid_url");
        assert_eq!(base_url_kind("http://u:p@127.0.0.1"), "config_invalid_url");
        assert!(check_base_url("http://127.0.0.1:8080").is_ok());
        assert!(check_base_url("http://localhost").is_ok());
        assert!(check_base_url("http://[::1]:9").is_ok());
        assert!(check_base_url("http://canvas.example.edu").is_err());
        assert!(check_base_url("http://10.0.0.1").is_err());
        assert!(check_base_url("ftp://x").is_err());
        assert_eq!(
            check_base_url("https://x.edu/api/v1/").unwrap().as_str(),
            "https://x.edu/"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("0.5").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("-1").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn key_lines_follow_sections() {
        let l =
            key_lines("base_url = \"x\"\n[log]\ndir = \"/tmp\"\n[profiles.b]\naccount_id = 2\n");
        assert_eq!(l["base_url"], 1);
        assert_eq!(l["log.dir"], 3);
        assert_eq!(l["profiles.b.account_id"], 5);
    }
}
