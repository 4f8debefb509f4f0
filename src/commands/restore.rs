//! `restore ID` (§2.7): PUT restore_states, follow the Progress to `completed` or `failed`,
//! then show the import's new state (`restored` / `partially_restored`).

use std::time::Instant;

use serde_json::json;
use tracing::{info, warn};

use crate::canvas::Client;
use crate::canvas::ops::RestoreFlags;
use crate::canvas::types::Progress;
use crate::cli::RestoreArgs;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;
use super::watch::pace;
use crate::settings::PollSettings;

pub async fn run(a: RestoreArgs, ctx: &mut Ctx) -> Result<Exit> {
    if a.undelete_only && a.unconclude_only {
        return Err(Failure::usage(
            "--undelete-only and --unconclude-only cannot be used together (Canvas refuses both)",
        ));
    }
    let poll = ctx.settings.poll.clone();
    let client = ctx.client()?;
    let id = a.id;
    let flags = RestoreFlags {
        batch_mode: a.batch_mode,
        undelete_only: a.undelete_only,
        unconclude_only: a.unconclude_only,
    };
    let only = [
        (a.batch_mode, "batch-mode deletions only"),
        (a.undelete_only, "deletions only"),
        (a.unconclude_only, "conclusions only"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, w)| *w)
    .collect::<Vec<_>>()
    .join(", ");
    let question = format!(
        "restore import {id} in account {} (undo what it changed{})?",
        client.account_display(),
        if only.is_empty() {
            String::new()
        } else {
            format!(": {only}")
        }
    );
    // Like abort: a whole import is undone, so ask first (and need --yes without a terminal).
    if !crate::output::confirmed(&a.yes, &question, "restore")? {
        crate::output::note(ctx, "not restored");
        return Ok(Exit::Ok);
    }
    // After the prompt, where Ctrl-C must still just end the run: from here a signal is
    // exit 130 with where the restore stands.
    crate::interrupt::install();
    let p = client.restore_states(id, flags).await?;
    info!(target: "canvas_sis", import_id = id, progress_id = p.id, "import {id}: restore queued (progress {})", p.id);
    let pid = p.id;
    let followed = tokio::select! {
        r = follow(&client, id, p, &poll) => r?,
        sig = crate::interrupt::wait() => {
            // Reported (stderr and log) once, as the run's error.
            return Err(Failure::new(Exit::Interrupted, format!(
                "interrupted by {sig}: the restore of import {id} continues in Canvas (progress {pid}); see `canvas-sis status {id}`"
            ))
            .partial(json!({"sis_import_id": id, "progress_id": pid})));
        }
    };
    let (exit, last) = followed;
    let imp = client.show(id).await?;
    let summary = format!(
        "import {id}: restore {} (progress {pid}); import is now {}",
        last.state,
        imp.state_str()
    );
    if exit == Exit::Ok {
        crate::output::announce(ctx, &summary);
    } else {
        warn!(target: "canvas_sis", import_id = id, state = imp.state_str(), "{summary}");
    }
    if ctx.settings.json {
        ctx.print_json(&json!({"progress": last.raw, "sis_import": imp.raw}))?;
    } else {
        crate::output::stdout_line(imp.state_str())?;
    }
    Ok(exit)
}

/// Poll the Progress until `completed` (exit 0), `failed` (3), or max polls (4).
async fn follow(
    client: &Client,
    id: u64,
    first: Progress,
    poll: &PollSettings,
) -> Result<(Exit, Progress)> {
    let started = Instant::now();
    let mut last = first;
    for n in 1..=poll.max_polls {
        if n > 1 {
            tokio::time::sleep(pace(poll.interval, client.rate_remaining())).await;
        }
        let p = client.progress(last.id).await?;
        let pct = p
            .completion
            .map(|c| format!(" {c:.0}%"))
            .unwrap_or_default();
        info!(
            target: "canvas_sis",
            import_id = id,
            progress_id = p.id,
            state = p.state.as_str(),
            poll = n,
            "import {id}: restore {}{pct} (poll {n}/{})",
            p.state,
            poll.max_polls
        );
        last = p;
        match last.state.as_str() {
            "completed" => return Ok((Exit::Ok, last)),
            "failed" => {
                let why = last.message.clone().unwrap_or_else(|| "no message".into());
                warn!(target: "canvas_sis", import_id = id, "import {id}: restore failed after {}: {why}",
                    humantime::format_duration(std::time::Duration::from_secs(started.elapsed().as_secs())));
                return Ok((Exit::ImportFailed, last));
            }
            _ => {}
        }
    }
    warn!(
        target: "canvas_sis",
        import_id = id,
        "import {id}: restore still {} after {} polls; it continues in Canvas (progress {})",
        last.state,
        poll.max_polls,
        last.id
    );
    Ok((Exit::MaxPolls, last))
}
