//! `watch ID` / `watch --last`: find the import, then follow it to its end
//! (`canvas::follow`, the poll loop `submit --watch`, `restore` and `demo` share).

use tracing::{info, warn};

use crate::canvas::follow::follow_import;
use crate::canvas::{Client, Import};
use crate::cli::WatchCmdArgs;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

pub async fn run(a: WatchCmdArgs, ctx: &mut Ctx) -> Result<Exit> {
    // A signal while looking the import up ends the run when the watch starts: exit 130
    // with how to resume.
    crate::interrupt::install();
    let poll = ctx.settings.poll.clone();
    // Watching is read-only: it takes no lock, so a watch left open in a terminal never
    // makes the nightly submit exit 75 (and a second terminal can watch the nightly run).
    if a.compat.wait_lock.is_some() {
        warn!(target: "canvas_sis", "watch takes no lock any more; --wait-lock is ignored");
    }
    let net = ctx.settings.network()?;
    let client = ctx.client()?;
    let id = match a.id {
        Some(id) => id,
        None => last_import(&client, &net).await?,
    };
    let (exit, last) = follow_import(&client, id, &poll, ctx.settings.progress).await?;
    ctx.followed(&client, exit, last.as_ref()).await;
    if ctx.settings.json
        && let Some(i) = last
    {
        ctx.print_json(&i.raw)?;
    }
    Ok(exit)
}

/// `watch --last`: the newest import this host submitted to this account (the journal), else
/// the newest one Canvas has that has not ended. When the newest submit never got its answer,
/// its id is unknown: say so and list what Canvas created since, rather than watch an older
/// import.
async fn last_import(client: &Client, net: &crate::settings::Network) -> Result<u64> {
    let (journal, refused) = crate::paths::existing_state_dir()?
        .map(|d| crate::journal::Journal::new(&d).last(net.base.as_str(), &net.account))
        .unwrap_or_default();
    if let Some(r) = &refused {
        // A wrapper that runs `watch --last` after the night's submit must not take an
        // older import's end for tonight's.
        warn!(target: "canvas_sis", "watch --last: the newest submit from this host ({}, at {}) was refused by Canvas and made no import", r.file, r.submitted_at);
    }
    if let Some(e) = journal {
        let Some(id) = e.import_id else {
            return Err(answer_unknown(client, &e).await?);
        };
        info!(target: "canvas_sis", "watching import {id}, submitted from this host at {} ({})", e.submitted_at, e.file);
        if refused.is_some() {
            warn!(target: "canvas_sis", "watch --last: watching import {id}, from the submit before it ({}, at {})", e.file, e.submitted_at);
        }
        return Ok(id);
    }
    let mut url = client.account_url("sis_imports");
    for s in ["created", "importing", "cleanup_batch", "restoring"] {
        url.query_pairs_mut().append_pair("workflow_state[]", s);
    }
    url.query_pairs_mut().append_pair("per_page", "1");
    let items = client.list_all(url, "sis_imports", Some(1)).await?;
    let imp = items
        .into_iter()
        .find_map(|v| Import::from_value(v).ok())
        .ok_or_else(|| {
            Failure::no_input("watch --last: this host's journal holds no submit to this account and Canvas has no import still running for it")
                .kind("nothing_to_watch")
                .hint("give the import id: canvas-sis watch ID (see canvas-sis list)")
        })?;
    info!(target: "canvas_sis", "watching import {}, the newest one Canvas has not finished ({})", imp.id, imp.state_str());
    Ok(imp.id)
}

/// The failure for `watch --last` when the newest submit got no answer: the imports created
/// since it was sent (by the same user, as the lost-answer lookup of `submit` reads them).
async fn answer_unknown(client: &Client, e: &crate::journal::Entry) -> Result<Failure> {
    let created = crate::canvas::lost::created_since(client, &e.submitted_at).await?;
    let what = format!(
        "watch --last: the newest submit from this host ({}, {} bytes, at {}, pid {}) got no answer from Canvas (interrupted or lost), so its import id is unknown",
        e.file, e.bytes, e.submitted_at, e.pid
    );
    if created.is_empty() {
        return Ok(Failure::no_input(format!(
            "{what}; no import was created since then, so it most likely never reached Canvas"
        ))
        .hint("submit it again (--once counts that submit: leave it out this once)"));
    }
    let list: Vec<String> = created
        .iter()
        .map(|i| {
            let by = i
                .user
                .as_ref()
                .and_then(|u| u.login_id.clone().or_else(|| u.name.clone()))
                .map(|u| format!(", by {u}"))
                .unwrap_or_default();
            let at = i
                .created_at
                .map(|t| format!("created {t}"))
                .unwrap_or_else(|| "created ?".into());
            format!("{} ({at}{by}, state {})", i.id, i.state_str())
        })
        .collect();
    Ok(Failure::no_input(format!(
        "{what}; imports created since then: {}",
        list.join(", ")
    ))
    .hint("`canvas-sis status ID` shows each one; watch yours with `canvas-sis watch ID`"))
}
