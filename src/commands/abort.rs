//! `abort ID` (§2.5) and `abort-all-pending` (§2.6). Both ask for confirmation when stdin
//! and stderr are terminals, unless `--yes`; without a terminal they need `--yes`.

use serde_json::json;

use crate::canvas::ops::AbortOutcome;
use crate::cli::{AbortArgs, YesArgs};
use crate::exit::{Exit, Failure, Result};
use crate::output::{announce, can_prompt, confirmed, no_terminal};

use super::Ctx;

pub async fn run(a: AbortArgs, ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let id = a.id;
    if !confirmed(
        &a.yes,
        &format!("abort import {id} in account {}?", client.account_display()),
        "abort",
    )? {
        crate::output::note(&ctx.term, "not aborted");
        if ctx.settings.json {
            ctx.print_json(&json!({"aborted": false, "sis_import_id": id}))?;
        }
        return Ok(Exit::Ok);
    }
    match client.abort_import(id).await? {
        AbortOutcome::Aborted(imp) => {
            if ctx.settings.json {
                ctx.print_json(&imp.raw)?;
            }
            announce(&ctx.term, &format!("import {id}: {}", imp.state_str()));
            if !ctx.settings.json {
                crate::output::stdout_line(imp.state_str())?;
            }
            Ok(Exit::Ok)
        }
        AbortOutcome::AlreadyEnded(imp) => Err(Failure::new(
            Exit::NotFound,
            format!(
                "import {id} already ended as {}; nothing to abort",
                imp.state_str()
            ),
        )
        .kind("already_ended")
        .partial(imp.raw)),
        AbortOutcome::Missing => Err(Failure::new(Exit::NotFound, client.no_such_import(id))
            .hint("check the id (canvas-sis list) and --account-id")),
    }
}

pub async fn all_pending(a: YesArgs, ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let account = client.account_display();
    // Refuse before any request when confirmation is impossible.
    if !a.yes && !can_prompt() {
        return Err(no_terminal("abort-all-pending"));
    }
    let queued = client.queued().await?;
    let n = queued.len();
    if n > 0
        && !confirmed(
            &a,
            &format!("abort {n} queued import(s) in account {account}?"),
            "abort-all-pending",
        )?
    {
        crate::output::note(&ctx.term, "not aborted");
        if ctx.settings.json {
            ctx.print_json(&json!({"aborted": false}))?;
        }
        return Ok(Exit::Ok);
    }
    let answer = client.abort_all_pending().await?;
    announce(
        &ctx.term,
        &format!("aborted {n} queued import(s) in account {account}"),
    );
    let answer = if answer.is_null() {
        json!({"aborted": true})
    } else {
        answer
    };
    ctx.print_json(&answer)?;
    Ok(Exit::Ok)
}
