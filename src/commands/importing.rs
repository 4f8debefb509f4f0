//! `importing`: what runs now (§2.3, `importing`/`cleanup_batch`) and what waits in
//! `created`/`initializing` (a list call), in the same shapes as `list`.

use serde_json::{Value, json};

use crate::exit::{Exit, Result};
use crate::output::{Cell, IMPORT_COLUMNS, Table, import_row};

use super::Ctx;

pub async fn run(ctx: &mut Ctx) -> Result<Exit> {
    let client = ctx.client()?;
    let running = client.importing_now().await?;
    let queued = client.queued().await?;
    if ctx.settings.json {
        ctx.print_json(&json!({ "importing": running, "queued": queued }))?;
        return Ok(Exit::Ok);
    }
    if running.is_empty() && queued.is_empty() {
        crate::output::note(&ctx.term, "nothing is importing or queued");
        return Ok(Exit::Ok);
    }
    let mut cols = vec!["what"];
    cols.extend_from_slice(IMPORT_COLUMNS);
    let mut t = Table::new(&cols);
    let mut add = |what: &str, items: &[Value]| {
        for v in items {
            let mut r = vec![Cell::new(what)];
            r.extend(import_row(v));
            t.push(r);
        }
    };
    add("running", &running);
    add("queued", &queued);
    t.print(&ctx.term)?;
    if ctx.term.stdout_tty {
        crate::output::note(
            &ctx.term,
            &format!("{} running, {} queued", running.len(), queued.len()),
        );
    }
    Ok(Exit::Ok)
}
