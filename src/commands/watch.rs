//! `watch ID` and `submit --watch`: poll an import to its terminal state (reference §4).
//!
//! The state decides the end, never `ended_at` (null for aborted imports) nor `progress`
//! (capped at 99 while running, below 100 on failure). Each poll logs state and progress;
//! the end logs one summary line, then one line per warning and error.

use std::time::{Duration, Instant};

use tracing::{error, info, warn};

use crate::canvas::{Client, Import, State};
use crate::cli::WatchCmdArgs;
use crate::exit::{Exit, Failure, Result};
use crate::settings::PollSettings;

use super::Ctx;

/// An import still in `initializing` this long after creation was rejected after being saved
/// (§2.1 step 6) and will never run.
const STUCK_INITIALIZING: Duration = Duration::from_secs(120);

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
    let (exit, last) = follow(&client, id, &poll, ctx.settings.progress).await?;
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
    let journal = crate::paths::existing_state_dir()?
        .and_then(|d| crate::journal::Journal::new(&d).last(net.base.as_str(), &net.account));
    if let Some(e) = journal {
        let Some(id) = e.import_id else {
            return Err(answer_unknown(client, &e).await?);
        };
        info!(target: "canvas_sis", "watching import {id}, submitted from this host at {} ({})", e.submitted_at, e.file);
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
    let sent: Option<jiff::Timestamp> = e.submitted_at.parse().ok();
    // Allow for a clock difference between this host and Canvas, as the lookup does.
    let since = sent.map(|t| t - jiff::SignedDuration::from_secs(120));
    let me = client
        .get("GET users/self", &client.api_url("users/self"))
        .await
        .ok()
        .and_then(|a| a.json.get("id").and_then(serde_json::Value::as_u64));
    let mut url = client.account_url("sis_imports");
    url.query_pairs_mut().append_pair("per_page", "100");
    if let Some(t) = since {
        url.query_pairs_mut()
            .append_pair("created_since", &t.to_string());
    }
    let created: Vec<Import> = client
        .list_all(url, "sis_imports", Some(100))
        .await?
        .into_iter()
        .filter_map(|v| Import::from_value(v).ok())
        .filter(|i| match (since, i.created_at) {
            (Some(s), Some(c)) => c >= s,
            _ => true,
        })
        .filter(|i| match (me, i.user.as_ref().and_then(|u| u.id)) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        })
        .collect();
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

/// The exit code an ended import means (the contract's table).
pub fn exit_for(state: &State) -> Exit {
    match state {
        State::Imported | State::Restored | State::PartiallyRestored => Exit::Ok,
        State::ImportedWithMessages => Exit::ImportedWithMessages,
        _ => Exit::ImportFailed,
    }
}

/// Poll `id` until it ends or `max_polls` is reached. Returns the exit code and the last
/// import seen.
pub async fn follow(
    client: &Client,
    id: u64,
    poll: &PollSettings,
    progress: crate::settings::When,
) -> Result<(Exit, Option<Import>)> {
    let started = Instant::now();
    let bar = crate::progress::WatchBar::new(id, progress);
    let work = poll_loop(client, id, poll, started, &bar);
    tokio::select! {
        r = work => r,
        sig = crate::interrupt::wait() => {
            // Reported (stderr and log) once, as the run's error.
            Err(Failure::new(Exit::Interrupted, format!(
                "interrupted by {sig}: import {id} continues in Canvas; resume with `canvas-sis watch {id}`"
            ))
            .partial(serde_json::json!({"sis_import_id": id})))
        }
    }
}

async fn poll_loop(
    client: &Client,
    id: u64,
    poll: &PollSettings,
    started: Instant,
    bar: &crate::progress::WatchBar,
) -> Result<(Exit, Option<Import>)> {
    let mut warned_unknown = false;
    let mut last: Option<Import> = None;
    for n in 1..=poll.max_polls {
        if n > 1 {
            tokio::time::sleep(pace(poll.interval, client.rate_remaining())).await;
        }
        let imp = client.show(id).await?;
        bar.set(imp.state_str(), imp.progress);
        let pct = imp
            .progress
            .map(|p| format!(" {p:.0}%"))
            .unwrap_or_default();
        info!(
            target: "canvas_sis",
            import_id = id,
            state = imp.state_str(),
            poll = n,
            "import {id}: {}{pct} (poll {n}/{})",
            imp.state_str(),
            poll.max_polls
        );
        if let State::Unknown(s) = &imp.state
            && !warned_unknown
        {
            warn!(target: "canvas_sis", "import {id}: unknown workflow_state {s:?}; still polling");
            warned_unknown = true;
        }
        if imp.state == State::Initializing {
            let age = imp
                .created_at
                .map(|c| jiff::Timestamp::now().duration_since(c).unsigned_abs())
                .unwrap_or_default();
            if age >= STUCK_INITIALIZING {
                let msg = format!(
                    "import {id} has been in initializing for {}: Canvas saved it but rejected its options, and it will never run",
                    humantime::format_duration(Duration::from_secs(age.as_secs()))
                );
                // Exit 3 like any failed import: the result (with --json) is the import.
                bar.finish();
                error!(target: "canvas_sis", import_id = id, "{msg}\n  hint: check the import options (batch mode, drop statuses, change_threshold) and submit again");
                return Ok((Exit::ImportFailed, Some(imp)));
            }
        }
        if imp.state.is_terminal() {
            bar.finish();
            let exit = exit_for(&imp.state);
            log_end(&imp, started.elapsed());
            return Ok((exit, Some(imp)));
        }
        last = Some(imp);
    }
    let (state, pct) = last
        .as_ref()
        .map(|i| {
            (
                i.state_str().to_string(),
                i.progress
                    .map(|p| format!(" ({p:.0}%)"))
                    .unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let msg = format!(
        "import {id} is still {state}{pct} after {} polls; it continues in Canvas; resume with `canvas-sis watch {id}`",
        poll.max_polls
    );
    warn!(target: "canvas_sis", import_id = id, "{msg}");
    Ok((Exit::MaxPolls, last))
}

/// Slow down when Canvas's rate-limit bucket runs low (§7.2: 600 units, throttled at 0,
/// leaking 10 units a second): space polls out whatever the interval says.
pub fn pace(interval: Duration, remaining: Option<f64>) -> Duration {
    match remaining {
        Some(r) if r < 100.0 => (interval * 4).max(Duration::from_secs(5)),
        Some(r) if r < 200.0 => (interval * 2).max(Duration::from_secs(2)),
        Some(r) if r < 300.0 => interval.max(Duration::from_millis(500)),
        _ => interval,
    }
}

/// How long an import took, or has been going: from start (or creation) to end (or last
/// update: aborted imports have no `ended_at`); for one that has not ended, to now
/// (`updated_at` would freeze it at Canvas's last write).
pub fn elapsed(imp: &Import) -> Option<Duration> {
    let from = imp.started_at.or(imp.created_at)?;
    let to = if imp.state.is_terminal() {
        imp.ended_at.or(imp.updated_at)?
    } else {
        jiff::Timestamp::now()
    };
    Some(to.duration_since(from).unsigned_abs())
}

/// `import 141 ended imported_with_messages after 2m 13s: users=3 …; 1 warning, 0 errors`
pub fn summary_line(imp: &Import, watched: Duration) -> String {
    let took = elapsed(imp).unwrap_or(watched);
    let counts = imp
        .kind_counts()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let (w, e) = imp.warning_error_counts();
    format!(
        "import {} ended {} after {}: {}; {w} warning(s), {e} error(s)",
        imp.id,
        imp.state_str(),
        humantime::format_duration(Duration::from_secs(took.as_secs())),
        if counts.is_empty() {
            "no rows counted".into()
        } else {
            counts
        }
    )
}

/// The end of an import in the log: the summary, then each warning and error.
fn log_end(imp: &Import, watched: Duration) {
    let line = summary_line(imp, watched);
    let (w, e) = imp.warning_error_counts();
    match imp.state {
        State::Imported | State::Restored | State::PartiallyRestored => {
            info!(target: "canvas_sis", import_id = imp.id, state = imp.state_str(), warnings = w, errors = e, "{line}")
        }
        State::ImportedWithMessages => {
            warn!(target: "canvas_sis", import_id = imp.id, state = imp.state_str(), warnings = w, errors = e, "{line}")
        }
        _ => {
            error!(target: "canvas_sis", import_id = imp.id, state = imp.state_str(), warnings = w, errors = e, "{line}")
        }
    }
    let id = imp.id;
    let mut capped = false;
    for (file, msg) in imp.messages("processing_warnings") {
        capped |= file
            .as_deref()
            .is_some_and(|f| f.starts_with("and ") && f.contains(" more "));
        match file {
            Some(f) => warn!(target: "canvas_sis", import_id = id, "import {id}: {f}: {msg}"),
            None => warn!(target: "canvas_sis", import_id = id, "import {id}: {msg}"),
        }
    }
    for (file, msg) in imp.messages("processing_errors") {
        capped |= file
            .as_deref()
            .is_some_and(|f| f.starts_with("and ") && f.contains(" more "));
        match file {
            Some(f) => error!(target: "canvas_sis", import_id = id, "import {id}: {f}: {msg}"),
            None => error!(target: "canvas_sis", import_id = id, "import {id}: {msg}"),
        }
    }
    if capped {
        warn!(target: "canvas_sis", "import {id}: Canvas lists only 24 messages here; `canvas-sis errors {id}` prints them all");
    }
}

#[cfg(test)]
mod tests {
    use super::{elapsed, pace};
    use std::time::Duration;

    #[test]
    fn elapsed_runs_on_until_the_import_ends() {
        let ago =
            |s: i64| (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s)).to_string();
        let imp = |v: serde_json::Value| crate::canvas::Import::from_value(v).unwrap();
        // Running for an hour; Canvas last touched it 59 minutes ago.
        let running = imp(serde_json::json!({"id": 1, "workflow_state": "importing",
            "created_at": ago(3700), "started_at": ago(3600), "updated_at": ago(3540)}));
        let d = elapsed(&running).unwrap().as_secs();
        assert!((3600..3700).contains(&d), "{d}");
        // Queued (not started): since it was created.
        let queued = imp(serde_json::json!({"id": 2, "workflow_state": "created",
            "created_at": ago(600), "updated_at": ago(600)}));
        let d = elapsed(&queued).unwrap().as_secs();
        assert!((600..700).contains(&d), "{d}");
        // Ended: start to end; aborted ones (no ended_at): to the last update.
        let ended = imp(serde_json::json!({"id": 3, "workflow_state": "imported",
            "started_at": ago(3600), "ended_at": ago(3000), "updated_at": ago(10)}));
        assert_eq!(elapsed(&ended).unwrap().as_secs(), 600);
        let aborted = imp(serde_json::json!({"id": 4, "workflow_state": "aborted",
            "started_at": ago(3600), "ended_at": null, "updated_at": ago(3500)}));
        assert_eq!(elapsed(&aborted).unwrap().as_secs(), 100);
    }

    #[test]
    fn polls_slow_down_as_the_bucket_drains() {
        let i = Duration::from_secs(1);
        assert_eq!(pace(i, None), i);
        assert_eq!(pace(i, Some(600.0)), i);
        assert_eq!(
            pace(Duration::ZERO, Some(250.0)),
            Duration::from_millis(500)
        );
        assert_eq!(pace(i, Some(150.0)), Duration::from_secs(2));
        assert_eq!(
            pace(Duration::from_secs(60), Some(10.0)),
            Duration::from_secs(240)
        );
    }
}
