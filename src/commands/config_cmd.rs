//! `config show` (where each setting came from; never the token) and `config check`
//! (one GET of the account, then one of the import list, to test URL, token, account and
//! SIS permission).

use serde_json::json;
use tracing::info;

use crate::cli::ConfigCmd;
use crate::exit::{Exit, Failure, Result};

use super::Ctx;

pub async fn run(c: ConfigCmd, ctx: &mut Ctx) -> Result<Exit> {
    match c {
        ConfigCmd::Show => show(ctx),
        ConfigCmd::Check => check(ctx).await,
    }
}

fn show(ctx: &Ctx) -> Result<Exit> {
    let shown = &ctx.settings.shown;
    if ctx.settings.json {
        ctx.print_json(&json!({ "settings": shown }))?;
        return Ok(Exit::Ok);
    }
    let kw = shown.iter().map(|s| s.key.len()).max().unwrap_or(0);
    let vw = shown
        .iter()
        .map(|s| s.value.len())
        .max()
        .unwrap_or(0)
        .min(60);
    let mut text = String::new();
    for s in shown {
        text.push_str(&format!("{:kw$}  {:vw$}  {}\n", s.key, s.value, s.source));
    }
    crate::output::stdout(&text)?;
    Ok(Exit::Ok)
}

async fn check(ctx: &Ctx) -> Result<Exit> {
    let mut client = ctx.client()?;
    // A check is one try: it reports how things are now, and never waits out the budget.
    client.retry = client.retry.clone().once();
    let url = client.account_url("");
    let acct = client.get("GET account", &url).await.map_err(|e| {
        let f = e.into_failure();
        match f.exit {
            Exit::NotFound => Failure::new(Exit::NotFound, format!("account {} does not exist on {}", client.account_display(), client.base()))
                .hint("set --account-id / CANVAS_ACCOUNT_ID / account_id to the root account (a number, self, or sis_account_id:X)"),
            _ => f,
        }
    })?;
    let name = acct
        .json
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_string();
    if acct
        .json
        .get("parent_account_id")
        .is_some_and(|p| !p.is_null())
    {
        return Err(Failure::usage(format!(
            "account {} ({name}) is a sub-account; SIS imports run only on root accounts",
            client.account_display()
        ))
        .kind("not_root_account")
        .hint("use the root account's id, or self"));
    }
    info!(target: "ui", "URL and token work; account {} is {name}", client.account_display());
    let mut list = client.account_url("sis_imports");
    list.query_pairs_mut().append_pair("per_page", "1");
    client.get("GET sis_imports", &list).await.map_err(|e| {
        let f = e.into_failure();
        match f.exit {
            Exit::NoPerm => f.hint("the token's user cannot read SIS imports: it needs import_sis or manage_sis on the root account"),
            _ => f,
        }
    })?;
    if ctx.settings.json {
        ctx.print_json(&json!({"ok": true, "base_url": client.base().as_str(), "account": client.account_display(), "account_name": name}))?;
    } else {
        crate::output::stdout_line(&format!(
            "ok: {} account {} ({name}); SIS imports readable",
            client.base(),
            client.account_display()
        ))?;
    }
    Ok(Exit::Ok)
}
