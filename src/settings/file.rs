//! The config file: TOML, with `[profiles.NAME]` sections laid over the top level, each key
//! remembered with its line (for `config show` and for errors that name `FILE:LINE`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::env_names as envn;
use crate::exit::{Failure, Result};

use super::Source;
use super::table::TABLE;

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

impl ConfigFile {
    /// Read and parse `path`, then lay `[profiles.NAME]` over the top level.
    pub fn load(path: &Path, profile: Option<&str>) -> Result<(ConfigFile, Vec<String>)> {
        check_trusted(path)?;
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
        // In file order, each with the nearest known key when it looks like a typo.
        let mut unknown: Vec<(&String, usize)> = merged
            .iter()
            .filter(|(k, _)| !known_key(k))
            .map(|(k, (_, line))| (k, *line))
            .collect();
        unknown.sort_by_key(|(_, line)| *line);
        for (k, line) in unknown {
            let near = nearest_key(k)
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default();
            warnings.push(format!(
                "{}:{line}: unknown key {k}, ignored{near}",
                path.display()
            ));
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

    pub(super) fn get(&self, key: &str) -> Option<(&toml::Value, Source)> {
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

/// A config file names the Canvas that gets the token, so trust it as ssh trusts its own:
/// owned by this user or root, and writable by no one else. A `./canvas_sis.toml` in a shared
/// drop directory must not be able to send the token to another host.
fn check_trusted(path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::metadata(path) else {
        // Unreadable: the read below says why.
        return Ok(());
    };
    let me = crate::paths::user_id();
    let why = if m.uid() != me && m.uid() != 0 {
        Some(format!(
            "it belongs to uid {}, not to this user (uid {me}) or root",
            m.uid()
        ))
    } else if m.mode() & 0o022 != 0 {
        Some(format!(
            "group or others may write to it (mode {:o})",
            m.mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Failure::config(format!(
            "refusing config file {}: {why}; it decides where the token is sent",
            path.display()
        ))
        .kind("config_untrusted_file")
        .hint(format!(
            "chown it to yourself and chmod go-w {}, or name another file with -c",
            path.display()
        ))),
    }
}

fn permissive_warning(path: &Path) -> Option<String> {
    readable_by_others(path, "access_token")
}

/// A warning when `path`, which holds `secret`, is readable by group or others: the config
/// file with `access_token`, a token file.
pub(super) fn readable_by_others(path: &Path, secret: &str) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} holds {secret} and is readable by group or others (mode {:o}); run chmod 600 {}",
            path.display(),
            mode & 0o777,
            path.display()
        )
    })
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
pub fn config_path(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given {
        return Some(p.to_path_buf());
    }
    let local = PathBuf::from("canvas_sis.toml");
    if local.is_file() {
        return Some(local);
    }
    let xdg =
        crate::paths::xdg_dir(envn::XDG_CONFIG_HOME, ".config")?.join("canvas-sis/config.toml");
    xdg.is_file().then_some(xdg)
}

/// Whether a config file may hold `key` (the table's keys; profiles are handled apart).
fn known_key(key: &str) -> bool {
    TABLE.iter().any(|d| d.key == key)
}

/// The known key nearest to a misspelt one (`acount_id` → `account_id`).
fn nearest_key(key: &str) -> Option<&'static str> {
    let last = key.rsplit('.').next().unwrap_or(key);
    TABLE
        .iter()
        .map(|d| {
            let dl = d.key.rsplit('.').next().unwrap_or(d.key);
            (
                d.key,
                strsim::damerau_levenshtein(last, dl).min(strsim::damerau_levenshtein(key, d.key)),
            )
        })
        .filter(|(_, dist)| *dist <= 2)
        .min_by_key(|(_, dist)| *dist)
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_follow_sections() {
        let l =
            key_lines("base_url = \"x\"\n[log]\ndir = \"/tmp\"\n[profiles.b]\naccount_id = 2\n");
        assert_eq!(l["base_url"], 1);
        assert_eq!(l["log.dir"], 3);
        assert_eq!(l["profiles.b.account_id"], 5);
    }

    #[test]
    fn typos_get_the_nearest_key() {
        assert_eq!(nearest_key("acount_id"), Some("account_id"));
        assert_eq!(nearest_key("watch.intervall"), Some("watch.interval"));
        assert_eq!(nearest_key("completely_else"), None);
    }
}
