//! `status ID`: one GET and a short summary (or the SisImport JSON with --json).

use std::fmt::Write as _;

use serde_json::Value;

use crate::cli::IdArgs;
use crate::exit::{Exit, Result};

use super::Ctx;

pub async fn run(a: IdArgs, ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let imp = client.show(a.id).await?;
    // The first command to see a run's import end logs its end, as `watch` would have.
    if imp.state.is_terminal() && ctx.run_of(&imp).is_some_and(|r| !r.ended()) {
        crate::canvas::follow::log_end(&imp, std::time::Duration::ZERO);
    }
    ctx.saw_import(&client, &imp).await;
    if ctx.settings.json {
        ctx.print_json(&imp.raw)?;
        return Ok(Exit::Ok);
    }
    crate::output::stdout(&describe(&imp))?;
    Ok(Exit::Ok)
}

/// Non-zero `data.statistics` counters as `Type.what=N` (state changes per type), and
/// `total_state_changes`.
pub fn statistics(imp: &crate::canvas::Import) -> Vec<String> {
    let Some(st) = imp
        .data()
        .and_then(|d| d.get("statistics"))
        .and_then(Value::as_object)
    else {
        return vec![];
    };
    let mut out = vec![];
    for (ty, v) in st {
        match v {
            Value::Object(o) => {
                for (what, n) in o {
                    if let Some(n) = n.as_u64().filter(|n| *n > 0) {
                        out.push(format!("{ty}.{what}={n}"));
                    }
                }
            }
            Value::Number(n) => out.push(format!("{ty}={n}")),
            _ => {}
        }
    }
    out
}

/// The human summary of one import.
pub fn describe(imp: &crate::canvas::Import) -> String {
    let mut s = String::new();
    let (w, e) = imp.warning_error_counts();
    let _ = writeln!(s, "import {}: {}", imp.id, imp.state_str());
    if let Some(p) = imp.progress {
        let _ = writeln!(s, "  progress:  {p:.0}%");
    }
    let ts = |t: Option<jiff::Timestamp>| t.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    let _ = writeln!(s, "  created:   {}", ts(imp.created_at));
    let _ = writeln!(s, "  started:   {}", ts(imp.started_at));
    let _ = writeln!(s, "  ended:     {}", ts(imp.ended_at));
    if let Some(d) = imp.elapsed() {
        let _ = writeln!(
            s,
            "  elapsed:   {}",
            humantime::format_duration(std::time::Duration::from_secs(d.as_secs()))
        );
    }
    if let Some(u) = &imp.user {
        let _ = writeln!(
            s,
            "  user:      {} ({})",
            u.name.as_deref().unwrap_or("?"),
            u.id.map(|i| i.to_string()).unwrap_or_default()
        );
    }
    if imp.batch_mode {
        let term = match imp.raw.get("batch_mode_term_id").filter(|v| !v.is_null()) {
            Some(Value::String(t)) => format!("term {t}"),
            Some(t) => format!("term {t}"),
            None => "multi-term".into(),
        };
        let _ = writeln!(s, "  batch mode: on ({term})");
    } else {
        let _ = writeln!(s, "  batch mode: off");
    }
    if let Some(ds) = imp
        .raw
        .get("diffing_data_set_identifier")
        .and_then(Value::as_str)
    {
        // §3: the top-level diffed_against_import_id is unreliable; data's key is right.
        let against = imp
            .data()
            .and_then(|d| d.get("diffed_against_sis_batch_id"))
            .filter(|v| !v.is_null())
            .map(|v| format!(", diffed against import {v}"))
            .unwrap_or_default();
        let skipped = if imp.raw.get("diffing_threshold_exceeded") == Some(&Value::Bool(true)) {
            " (diffing skipped: threshold exceeded)"
        } else {
            ""
        };
        let _ = writeln!(s, "  diffing:   data set {ds}{against}{skipped}");
    }
    let counts = imp.kind_counts();
    if !counts.is_empty() {
        let _ = writeln!(
            s,
            "  counts:    {}",
            counts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let stats = statistics(imp);
    if !stats.is_empty() {
        let _ = writeln!(s, "  statistics: {}", stats.join(" "));
    }
    let _ = writeln!(s, "  warnings:  {w}");
    let _ = writeln!(s, "  errors:    {e}");
    let attachment = imp.errors_attachment.as_ref().and_then(|a| a.url.as_ref());
    if w + e > 0 || attachment.is_some() {
        let _ = writeln!(s, "  full list: canvas-sis errors {}", imp.id);
        match attachment {
            Some(url) => {
                // The verifier in the query is a capability: show the file, not the key.
                let shown = url.split('?').next().unwrap_or(url);
                let _ = writeln!(
                    s,
                    "  error file: {} (save it: canvas-sis errors {} --attachment PATH)",
                    crate::redact::redact(shown),
                    imp.id
                );
            }
            None if imp.state.is_terminal() => {
                let _ = writeln!(
                    s,
                    "  error file: not written yet (Canvas adds errors_attachment some time after the end)"
                );
            }
            None => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describe_shows_batch_diffing_statistics_and_error_file() {
        let imp = crate::canvas::Import::from_value(json!({
            "id": 7, "workflow_state": "imported_with_messages", "batch_mode": true,
            "batch_mode_term_id": 5, "diffing_data_set_identifier": "daily",
            "data": {"diffed_against_sis_batch_id": 6,
                     "counts": {"users": 3, "warning_count": 1, "error_count": 0},
                     "statistics": {"total_state_changes": 4, "Pseudonym": {"created": 3, "deleted": 0}}},
            "errors_attachment": {"url": "https://files.example/x.csv?verifier=SECRET"}
        }))
        .unwrap();
        let d = describe(&imp);
        assert!(d.contains("batch mode: on (term 5)"), "{d}");
        assert!(d.contains("data set daily, diffed against import 6"), "{d}");
        assert!(d.contains("Pseudonym.created=3"), "{d}");
        assert!(d.contains("total_state_changes=4"), "{d}");
        assert!(d.contains("canvas-sis errors 7"), "{d}");
        assert!(d.contains("https://files.example/x.csv"), "{d}");
        assert!(!d.contains("SECRET"), "{d}");
    }
}
