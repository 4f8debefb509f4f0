//! `list`: imports, newest first, as a table (terminal), tab-separated lines (pipe) or one
//! JSON array of the raw SisImport objects (`--json`). `--all-profiles` lists every
//! `[profiles.*]` of the config file in one table.

use clap::FromArgMatches;
use serde_json::Value;

use crate::canvas::ops::ListQuery;
use crate::cli::{GlobalArgs, ListArgs};
use crate::exit::{Exit, Failure, Result};
use crate::output::{Cell, IMPORT_COLUMNS, Table, import_row};
use crate::settings::Settings;

use super::Ctx;

pub async fn run(a: ListArgs, ctx: &mut Ctx) -> Result<Exit> {
    let q = query(&a)?;
    if a.all_profiles {
        return all_profiles(&a, &q, ctx).await;
    }
    let client = ctx.client()?;
    let items = client.list_imports(&q, Some(a.limit)).await?;
    if ctx.settings.json {
        ctx.print_json(&Value::Array(items))?;
        return Ok(Exit::Ok);
    }
    if items.is_empty() {
        crate::output::note(&ctx.term, "no imports");
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(IMPORT_COLUMNS);
    for v in &items {
        t.push(import_row(v));
    }
    t.print(&ctx.term)?;
    Ok(Exit::Ok)
}

/// The list filters from the flags; times become RFC 3339.
pub fn query(a: &ListArgs) -> Result<ListQuery> {
    if a.limit == 0 {
        return Err(Failure::usage("--limit must be at least 1"));
    }
    for s in &a.states {
        check_state(s)?;
    }
    Ok(ListQuery {
        states: a.states.iter().map(|s| s.trim().to_string()).collect(),
        created_since: a
            .created_since
            .as_deref()
            .map(|s| parse_when(s, "--created-since"))
            .transpose()?,
        created_before: a
            .created_before
            .as_deref()
            .map(|s| parse_when(s, "--created-before"))
            .transpose()?,
    })
}

/// §2.2: Canvas drops a state it does not know, and with none left lists every import, so a
/// typo (`failed_with_message`) would list everything and exit 0: refuse it here (exit 2).
fn check_state(s: &str) -> Result<()> {
    let s = s.trim();
    let names = crate::canvas::types::State::NAMES;
    if names.contains(&s) {
        return Ok(());
    }
    let nearest = names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(&s.to_ascii_lowercase(), n), *n))
        .min()
        .filter(|(d, n)| *d <= n.len() / 3 + 1)
        .map(|(_, n)| format!("; did you mean \"{n}\"?"))
        .unwrap_or_default();
    Err(
        Failure::usage(format!("--state {s:?} is not a workflow state{nearest}"))
            .hint(format!("one of: {}", names.join(", "))),
    )
}

/// RFC 3339 as given (normalised to UTC), or a humantime duration meaning that long ago.
pub fn parse_when(s: &str, flag: &str) -> Result<String> {
    parse_when_at(s, jiff::Timestamp::now())
        .map_err(|e| Failure::usage(format!("{flag} {s:?}: {e}")))
}

fn parse_when_at(s: &str, now: jiff::Timestamp) -> std::result::Result<String, String> {
    let t = s.trim();
    if let Some(ts) = crate::canvas::types::parse_time(t) {
        return Ok(ts.to_string());
    }
    // A plain date is that day's midnight, local time (as the log lines are written).
    if let Ok(d) = t.parse::<jiff::civil::Date>() {
        let z = d
            .to_zoned(crate::clock::local_tz().clone())
            .map_err(|e| e.to_string())?;
        return Ok(z.timestamp().to_string());
    }
    let d = humantime::parse_duration(t).map_err(|_| {
        "expected a date (2026-11-24, local midnight), an RFC 3339 time (2026-11-24T06:00:00Z) or a duration ago (2d, 12h)".to_string()
    })?;
    let d = jiff::SignedDuration::try_from(d).map_err(|e| e.to_string())?;
    let then = now.checked_sub(d).map_err(|e| e.to_string())?;
    Ok(jiff::Timestamp::from_second(then.as_second())
        .map_err(|e| e.to_string())?
        .to_string())
}

/// Settings for `[profiles.NAME]`: the same flags and environment, that profile's file keys.
pub fn profile_settings(ctx: &Ctx, name: &str) -> Result<Settings> {
    let g = GlobalArgs::from_arg_matches(&ctx.matches)
        .map_err(|e| Failure::usage(format!("cannot re-read the global flags: {e}")))?;
    let mut run = g.run_flags(&ctx.matches);
    run.profile = Some(name.to_string());
    if run.config.is_none() {
        run.config = ctx.settings.config_file.clone();
    }
    Settings::load(&run, &ctx.matches)
}

async fn all_profiles(a: &ListArgs, q: &ListQuery, ctx: &Ctx) -> Result<Exit> {
    let profiles = ctx
        .settings
        .file
        .as_ref()
        .map(|f| f.profiles.clone())
        .unwrap_or_default();
    if profiles.is_empty() {
        return Err(Failure::config(match &ctx.settings.config_file {
            Some(p) => format!(
                "--all-profiles: {} has no [profiles.NAME] sections",
                p.display()
            ),
            None => "--all-profiles needs a config file, and none was found".to_string(),
        })
        .kind("profile_missing")
        .hint("give one with -c FILE or CANVAS_SIS_CONFIG"));
    }
    let mut exit = Exit::Ok;
    let mut first: Option<Failure> = None;
    let mut json = Vec::new();
    let mut cols = vec!["profile"];
    cols.extend_from_slice(IMPORT_COLUMNS);
    let mut t = Table::new(&cols);
    for name in &profiles {
        let got = async {
            let s = profile_settings(ctx, name)?;
            let net = s.network()?;
            let client = crate::canvas::Client::new(&net, &s.connection)?;
            client.list_imports(q, Some(a.limit)).await
        }
        .await;
        match got {
            Ok(items) => {
                for v in items {
                    let mut r = vec![Cell::new(name.clone())];
                    r.extend(import_row(&v));
                    t.push(r);
                    json.push(serde_json::json!({"profile": name, "import": v}));
                }
            }
            Err(f) => {
                let f = Failure {
                    message: format!("profile {name}: {}", f.message),
                    ..f
                };
                if exit == Exit::Ok {
                    exit = f.exit;
                    // With --json the first failure is the run's error (reported once, at the end).
                    if ctx.settings.json {
                        first = Some(f);
                        continue;
                    }
                }
                tracing::error!(target: "canvas_sis", "{f}");
            }
        }
    }
    if ctx.settings.json {
        // A profile failed: the error document, with what the other profiles listed.
        if let Some(f) = first {
            return Err(f.partial(serde_json::json!({ "imports": json })));
        }
        ctx.print_json(&Value::Array(json))?;
    } else if t.rows.is_empty() {
        crate::output::note(&ctx.term, "no imports");
    } else {
        t.print(&ctx.term)?;
    }
    Ok(exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_checked() {
        assert!(check_state("failed_with_messages").is_ok());
        let f = check_state("failed_with_message").unwrap_err();
        assert!(f.message.contains("did you mean \"failed_with_messages\"?"));
        let f = check_state("Imported").unwrap_err();
        assert!(
            f.message.contains("did you mean \"imported\"?"),
            "{}",
            f.message
        );
        let f = check_state("zzz").unwrap_err();
        assert!(!f.message.contains("did you mean"), "{}", f.message);
    }

    #[test]
    fn times() {
        let now: jiff::Timestamp = "2026-12-01T10:00:00Z".parse().unwrap();
        assert_eq!(parse_when_at("2d", now).unwrap(), "2026-11-29T10:00:00Z");
        assert_eq!(parse_when_at("90m", now).unwrap(), "2026-12-01T08:30:00Z");
        assert_eq!(
            parse_when_at("2026-11-24T06:00:00-06:00", now).unwrap(),
            "2026-11-24T12:00:00Z"
        );
        // A plain date: that day's local midnight.
        let midnight = jiff::civil::date(2026, 11, 24)
            .to_zoned(crate::clock::local_tz().clone())
            .unwrap()
            .timestamp()
            .to_string();
        assert_eq!(parse_when_at("2026-11-24", now).unwrap(), midnight);
        assert!(parse_when_at("yesterday-ish", now).is_err());
    }
}
