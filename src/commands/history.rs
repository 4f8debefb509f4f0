//! `history`: the runs this host made, newest first, from the run archive (`crate::record`).

use serde_json::{Value, json};

use crate::cli::HistoryArgs;
use crate::exit::{Exit, Failure, Result};
use crate::output::{Cell, Style, Table};

use super::Ctx;

pub fn run(a: HistoryArgs, ctx: &mut Ctx) -> Result<Exit> {
    let Some(archive) = &ctx.settings.archive else {
        return Err(Failure::config("no run archive: [archive] dir is \"\"")
            .kind("config_invalid")
            .hint("set [archive] dir to keep one run folder per submit"));
    };
    let runs: Vec<_> = archive.runs().into_iter().take(a.limit).collect();
    if ctx.settings.json {
        let list: Vec<Value> = runs.iter().map(|(_, r)| r.history_json()).collect();
        ctx.print_json(&json!({ "runs": list }))?;
        return Ok(Exit::Ok);
    }
    if runs.is_empty() {
        crate::output::note(
            &ctx.term,
            &format!("no runs in {} yet", archive.dir.display()),
        );
        return Ok(Exit::Ok);
    }
    let mut t = Table::new(&[
        "run", "when", "profile", "import", "state", "duration", "rows", "warn/err",
    ]);
    for (_, r) in &runs {
        let state = r.state.clone().unwrap_or_else(|| {
            if r.held {
                "held".into()
            } else {
                "(not seen ending)".into()
            }
        });
        let rows = r
            .rows
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        t.push(vec![
            Cell::new(r.run_id.clone()),
            Cell::new(r.submitted_at.clone()),
            Cell::new(r.profile.clone().unwrap_or_else(|| "default".into())),
            Cell::new(
                r.import_id
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::styled(state.clone(), Style::for_state(&state)),
            Cell::new(
                r.duration_s
                    .map(|d| {
                        humantime::format_duration(std::time::Duration::from_secs(d)).to_string()
                    })
                    .unwrap_or_else(|| "-".into()),
            ),
            Cell::new(if rows.is_empty() { "-".into() } else { rows }),
            Cell::new(format!("{}/{}", r.warnings, r.errors)),
        ]);
    }
    t.print(&ctx.term)?;
    Ok(Exit::Ok)
}
