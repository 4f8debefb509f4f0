//! `approve` without RUN: the runs the guard held; `discard RUN`: drop one. No network.
//! (`approve RUN` sends, through `submit`'s phases.)

use serde_json::json;

use crate::cli::DiscardArgs;
use crate::exit::{Exit, Result};
use crate::output::{Cell, Table};
use crate::plan::held;

use super::Ctx;

pub fn list(ctx: &Ctx) -> Result<Exit> {
    let runs = match crate::paths::existing_state_dir()? {
        Some(d) => held::list(&d),
        None => vec![],
    };
    if ctx.settings.json {
        let rows: Vec<_> = runs
            .iter()
            .map(|(_, h)| h.to_json()["held"].clone())
            .collect();
        ctx.print_json(&json!({ "held_runs": rows }))?;
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        crate::output::note(&ctx.term, "no run is held for approval");
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(&["run", "held at", "account", "bundle", "why"]);
    for (_, h) in &runs {
        t.push(vec![
            Cell::new(h.run_id.clone()),
            Cell::new(h.held_at.clone()),
            Cell::new(format!("{} {}", h.base_url, h.account)),
            Cell::new(h.bundle.path.clone()),
            Cell::new(h.reasons.join("; ")),
        ]);
    }
    t.print(&ctx.term)?;
    crate::output::note(
        &ctx.term,
        "send one as planned with `canvas-sis approve RUN`, or drop it with `canvas-sis discard RUN`",
    );
    Ok(Exit::Ok)
}

pub fn discard(a: DiscardArgs, ctx: &Ctx) -> Result<Exit> {
    // Without a run: which could be discarded (contract: "without RUN, list held runs").
    let Some(run) = &a.run else {
        return list(ctx);
    };
    // Checked as approve checks it: a state dir others may write to is no place to delete in.
    let dir = crate::paths::existing_state_dir()?.unwrap_or_else(crate::paths::state_dir_path);
    let (folder, h) = held::find(&dir, run, ctx.settings.archive.as_ref())?;
    held::remove(&folder).map_err(|e| {
        crate::exit::Failure::config(format!("cannot remove {}: {e}", folder.display()))
            .kind("state_dir")
    })?;
    tracing::info!(target: "canvas_sis", "discarded held run {}: nothing was sent ({})", h.run_id, h.reasons.join("; "));
    // The archive keeps the run, ended as discarded.
    if let Some(archive) = &ctx.settings.archive {
        if let Some((f, mut run)) = archive.by_id(&h.run_id) {
            run.held = false;
            run.state = Some("discarded".into());
            let now = jiff::Timestamp::now().to_string();
            run.states.push(crate::record::Seen {
                state: "discarded".into(),
                at: now.clone(),
            });
            run.ended_at = Some(now);
            if let Err(f2) = archive.save(&f, &run) {
                tracing::warn!(target: "canvas_sis", "run {}: {f2}", h.run_id);
            }
        }
        crate::record::refresh_metrics(ctx.settings.metrics_textfile.as_deref(), archive);
    }
    if ctx.settings.json {
        ctx.print_json(&json!({ "discarded": h.run_id }))?;
    } else {
        crate::output::stdout_line(&format!("discarded run {}; nothing was sent", h.run_id))?;
    }
    Ok(Exit::Ok)
}
