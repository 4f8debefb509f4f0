//! `restore ID` (§2.7): PUT restore_states, follow the Progress to `completed` or `failed`,
//! then show the import's new state (`restored` / `partially_restored`).

use serde_json::json;
use tracing::{info, warn};

use crate::canvas::follow::follow_restore;
use crate::canvas::ops::RestoreFlags;
use crate::cli::RestoreArgs;
use crate::exit::{Exit, Failure, Result};
use crate::interrupt::stand;

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
    // A signal in any phase is exit 130 (`commands::dispatch`) saying where the restore
    // stands; the follow of its Progress says it itself.
    stand(
        format!("the restore of import {id} was not sent; nothing was changed"),
        None,
        json!({"sis_import_id": id, "request": "not_sent"}),
    );
    // Like abort: a whole import is undone, so ask first (and need --yes without a terminal).
    if !crate::output::confirmed(&a.yes, &question, "restore").await? {
        crate::output::note(&ctx.term, "not restored");
        return Ok(Exit::Ok);
    }
    // Retried while Canvas throttles it: a restore may have been queued by an attempt whose
    // answer was not seen yet.
    stand(
        format!(
            "the restore of import {id} was sent, but Canvas had not answered with its progress: it may or may not run"
        ),
        Some(format!(
            "`canvas-sis status {id}` shows whether it is restoring (or restored); restore it again only if not"
        )),
        json!({"sis_import_id": id, "request": "sent_answer_unknown"}),
    );
    let p = client.restore_states(id, flags).await?;
    info!(target: "canvas_sis", import_id = id, progress_id = p.id, "import {id}: restore queued (progress {})", p.id);
    let pid = p.id;
    let (exit, last) = follow_restore(&client, id, p, &poll).await?;
    stand(
        format!(
            "the restore of import {id} ended {} (progress {pid}); the import's new state was not read",
            last.state
        ),
        Some(format!("`canvas-sis status {id}` shows it")),
        json!({"sis_import_id": id, "progress_id": pid, "request": "done"}),
    );
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
