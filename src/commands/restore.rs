//! `restore ID` (§2.7): PUT restore_states, follow the Progress to `completed` or `failed`,
//! then show the import's new state (`restored` / `partially_restored`).

use serde_json::json;
use tracing::{info, warn};

use crate::canvas::follow::follow_restore;
use crate::canvas::ops::RestoreFlags;
use crate::cli::RestoreArgs;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

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
        crate::output::note(&ctx.term, "not restored");
        return Ok(Exit::Ok);
    }
    // After the prompt, where Ctrl-C must still just end the run: from here a signal is
    // exit 130 with where the restore stands.
    crate::interrupt::install();
    let p = client.restore_states(id, flags).await?;
    info!(target: "canvas_sis", import_id = id, progress_id = p.id, "import {id}: restore queued (progress {})", p.id);
    let pid = p.id;
    let (exit, last) = follow_restore(&client, id, p, &poll).await?;
    let imp = client.show(id).await?;
    let summary = format!(
        "import {id}: restore {} (progress {pid}); import is now {}",
        last.state,
        imp.state_str()
    );
    if exit == Exit::Ok {
        crate::output::announce(&ctx.term, &summary);
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
