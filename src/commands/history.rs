//! `history`: the runs this host made, newest first, from the run archive (`crate::record`);
//! with `--from-canvas`, also the imports Canvas lists that this host did not send.

use serde_json::{Value, json};

use crate::cli::HistoryArgs;
use crate::exit::{Exit, Failure, Result};
use crate::output::{Cell, Style, Table};
use crate::record::Run;

use super::Ctx;

pub async fn run(a: HistoryArgs, ctx: &mut Ctx) -> Result<Exit> {
    let Some(archive) = &ctx.settings.archive else {
        return Err(Failure::config("no run archive: [archive] dir is \"\"")
            .kind("config_invalid")
            .hint("set [archive] dir to keep one run folder per submit"));
    };
    // (run, sent by this host)
    let profile = ctx.settings.profile.as_deref();
    let mut runs: Vec<(Run, bool)> = archive
        .runs()
        .into_iter()
        .filter(|(_, r)| crate::record::of_profile(profile, r))
        .take(a.limit)
        .map(|(_, r)| (r, true))
        .collect();
    if a.from_canvas {
        let client = ctx.client()?;
        let net = ctx.settings.network()?;
        for run in crate::record::canvas_runs(&client, &net, a.limit).await? {
            let ours = runs.iter_mut().find(|(r, _)| {
                r.import_id == run.import_id
                    && r.base_url == run.base_url
                    && r.account == run.account
            });
            match ours {
                // A run of this host that no command saw end: Canvas's list says how it did.
                Some((r, _)) if r.outcome().is_none() && run.outcome().is_some() => {
                    r.state = run.state;
                    r.ended_at = run.ended_at;
                    r.duration_s = run.duration_s;
                    r.rows = run.rows;
                    r.warnings = run.warnings;
                    r.errors = run.errors;
                    r.exit_code = run.exit_code;
                }
                Some(_) => {}
                None => runs.push((run, false)),
            }
        }
        runs.sort_by(|x, y| y.0.submitted_at.cmp(&x.0.submitted_at));
        runs.truncate(a.limit);
    }
    if ctx.settings.json {
        let list: Vec<Value> = runs
            .iter()
            .map(|(r, ours)| {
                let mut row = r.history_json();
                if a.from_canvas {
                    row["sent_here"] = Value::Bool(*ours);
                }
                row
            })
            .collect();
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
    for (r, ours) in &runs {
        let state = match (r.outcome(), r.exit_code) {
            (Some(crate::record::UPLOAD_FAILED), Some(code)) => {
                format!("upload failed (exit {code})")
            }
            (Some(s), _) => s.to_string(),
            (None, _) => "(not seen ending)".into(),
        };
        let rows = r
            .rows
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        t.push(vec![
            Cell::new(if *ours {
                r.run_id.clone()
            } else {
                "(not sent here)".into()
            }),
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
