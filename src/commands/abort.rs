//! `abort ID` (§2.5) and `abort-all-pending` (§2.6). Both ask for confirmation when stdin
//! and stderr are terminals, unless `--yes`; without a terminal they need `--yes`.
//!
//! A signal ends either with exit 130 (`commands::dispatch`), saying whether the abort was
//! sent: each tells `interrupt::stand` before and as it sends (`request` under `--json`:
//! `not_sent`, or `sent_answer_unknown` while Canvas has not answered, throttled or not).

use serde_json::json;

use crate::canvas::ops::AbortOutcome;
use crate::cli::{AbortArgs, YesArgs};
use crate::exit::{Exit, Failure, Result};
use crate::interrupt::stand;
use crate::output::{announce, can_prompt, confirmed, no_terminal};

use super::Ctx;

pub async fn run(a: AbortArgs, ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let id = a.id;
    stand(
        format!("the abort of import {id} was not sent; nothing was changed"),
        None,
        json!({"sis_import_id": id, "request": "not_sent"}),
    );
    if !confirmed(
        &a.yes,
        &format!("abort import {id} in account {}?", client.account_display()),
        "abort",
    )
    .await?
    {
        crate::output::note(&ctx.term, "not aborted");
        if ctx.settings.json {
            ctx.print_json(&json!({"aborted": false, "sis_import_id": id}))?;
        }
        return Ok(Exit::Ok);
    }
    stand(
        format!(
            "the abort of import {id} was sent, but Canvas had not answered: it may or may not be aborted"
        ),
        Some(format!(
            "`canvas-sis status {id}` shows its state; abort it again if it still runs"
        )),
        json!({"sis_import_id": id, "request": "sent_answer_unknown"}),
    );
    match client.abort_import(id).await? {
        AbortOutcome::Aborted(imp) => {
            // This host's run of it ends here (its record, metrics and notification).
            ctx.saw_import(&client, &imp).await;
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
    stand(
        format!(
            "the abort of the queued imports of account {account} was not sent; nothing was changed"
        ),
        None,
        json!({"request": "not_sent"}),
    );
    let queued = client.queued().await?;
    let n = queued.len();
    if n > 0
        && !confirmed(
            &a,
            &format!("abort {n} queued import(s) in account {account}?"),
            "abort-all-pending",
        )
        .await?
    {
        crate::output::note(&ctx.term, "not aborted");
        if ctx.settings.json {
            ctx.print_json(&json!({"aborted": false}))?;
        }
        return Ok(Exit::Ok);
    }
    stand(
        format!(
            "the abort of the queued imports of account {account} was sent, but Canvas had not answered: they may or may not be aborted"
        ),
        Some("`canvas-sis importing` shows what still waits; run abort-all-pending again if it should not".into()),
        json!({"request": "sent_answer_unknown"}),
    );
    let answer = client.abort_all_pending().await?;
    announce(
        &ctx.term,
        &format!("aborted {n} queued import(s) in account {account}"),
    );
    // Canvas's answer is the JSON document (`--json`); people got the line above.
    if ctx.settings.json {
        let answer = if answer.is_null() {
            json!({"aborted": true})
        } else {
            answer
        };
        ctx.print_json(&answer)?;
    }
    Ok(Exit::Ok)
}
