//! `status ID`: one GET and a short summary (or the SisImport JSON with --json).

use std::fmt::Write as _;

use serde_json::Value;

use crate::cli::IdArgs;
use crate::exit::{Exit, Result};

use super::Ctx;
use super::watch::elapsed;

pub async fn run(a: IdArgs, ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let imp = client.show(a.id).await?;
    if ctx.settings.json {
        ctx.print_json(&imp.raw);
        return Ok(Exit::Ok);
    }
    print!("{}", describe(&imp));
    Ok(Exit::Ok)
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
    if let Some(d) = elapsed(imp) {
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
        let term = imp
            .raw
            .get("batch_mode_term_id")
            .filter(|v| !v.is_null())
            .map(|v| v.to_string())
            .unwrap_or_else(|| "multi-term".into());
        let _ = writeln!(s, "  batch mode: on (term {term})");
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
        let _ = writeln!(s, "  diffing:   data set {ds}{against}");
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
    let _ = writeln!(s, "  warnings:  {w}");
    let _ = writeln!(s, "  errors:    {e}");
    if w + e > 0 {
        let _ = writeln!(s, "  full list: canvas-sis errors {}", imp.id);
        if let Some(url) = imp.errors_attachment.as_ref().and_then(|a| a.url.as_ref()) {
            let _ = writeln!(s, "  error file: {}", crate::redact::redact(url));
        }
    }
    s
}
