//! Following what Canvas does until it ends: an import (`watch`, `submit --watch`, `demo`) or
//! the Progress of a restore (`restore`). One poll loop serves all of them: it paces polls by
//! the rate-limit bucket (§7.2), stops at `--max-polls` (exit 4), and races the signal
//! listener, so that SIGINT, SIGTERM and SIGHUP end any of them with exit 130 and how to
//! resume.
//!
//! For an import the state decides the end, never `ended_at` (null for aborted imports) nor
//! `progress` (capped at 99 while running, below 100 on failure) (§4). Each poll logs state
//! and progress; the end logs one summary line, then one line per warning and error.

use std::future::Future;
use std::time::{Duration, Instant};

use tracing::{Level, error, info, warn};

use super::types::Progress;
use super::{Client, Import, State};
use crate::exit::{Exit, Failure, Result};
use crate::settings::{PollSettings, When};

/// An import still in `initializing` this long after creation was rejected after being saved
/// (§2.1 step 6) and will never run.
pub const STUCK_INITIALIZING: Duration = Duration::from_secs(120);

/// What one poll found.
enum Step<T> {
    /// Still going: poll again.
    Running(T),
    /// Ended, with the exit code it means.
    Done(Exit, T),
}

/// Poll with `fetch` (given the poll number, from 1) until it says `Done` or `max_polls` is
/// reached (exit 4, the last thing seen), racing the signal listener (`on_signal` words the
/// exit-130 failure).
async fn poll_until<T, F, Fut>(
    client: &Client,
    poll: &PollSettings,
    mut fetch: F,
    on_signal: impl FnOnce(&str) -> Failure,
) -> Result<(Exit, Option<T>)>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Step<T>>>,
{
    let polls = async {
        let mut last = None;
        for n in 1..=poll.max_polls {
            if n > 1 {
                tokio::time::sleep(super::retry::pace(poll.interval, client.rate_remaining()))
                    .await;
            }
            match fetch(n).await? {
                Step::Done(exit, t) => return Ok((exit, Some(t))),
                Step::Running(t) => last = Some(t),
            }
        }
        Ok((Exit::MaxPolls, last))
    };
    tokio::select! {
        r = polls => r,
        sig = crate::interrupt::wait() => Err(on_signal(sig)),
    }
}

/// Poll import `id` until it ends or `max_polls` is reached. Returns the exit code and the
/// last import seen.
pub async fn follow_import(
    client: &Client,
    id: u64,
    poll: &PollSettings,
    progress: When,
) -> Result<(Exit, Option<Import>)> {
    let started = Instant::now();
    let bar = crate::progress::WatchBar::new(id, progress);
    // Said once, not on every poll.
    let warned_unknown = std::cell::Cell::new(false);
    let fetch = |n: u32| {
        let (bar, warned_unknown) = (&bar, &warned_unknown);
        async move {
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
                && !warned_unknown.replace(true)
            {
                warn!(target: "canvas_sis", "import {id}: unknown workflow_state {s:?}; still polling");
            }
            if let Some(age) = stuck_for(&imp) {
                let msg = format!(
                    "import {id} has been in initializing for {}: Canvas saved it but rejected its options, and it will never run",
                    humantime::format_duration(Duration::from_secs(age.as_secs()))
                );
                // Exit 3 like any failed import: the result (with --json) is the import.
                bar.finish();
                error!(target: "canvas_sis", import_id = id, "{msg}\n  hint: check the import options (batch mode, drop statuses, change_threshold) and submit again");
                return Ok(Step::Done(Exit::ImportFailed, imp));
            }
            if imp.state.is_terminal() {
                bar.finish();
                log_end(&imp, started.elapsed());
                return Ok(Step::Done(imp.state.exit(), imp));
            }
            Ok(Step::Running(imp))
        }
    };
    let (exit, last) = poll_until(client, poll, fetch, |sig| {
        Failure::new(
            Exit::Interrupted,
            format!(
                "interrupted by {sig}: import {id} continues in Canvas; resume with `canvas-sis watch {id}`"
            ),
        )
        .partial(serde_json::json!({"sis_import_id": id}))
    })
    .await?;
    if exit == Exit::MaxPolls {
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
        warn!(
            target: "canvas_sis",
            import_id = id,
            "import {id} is still {state}{pct} after {} polls; it continues in Canvas; resume with `canvas-sis watch {id}`",
            poll.max_polls
        );
    }
    Ok((exit, last))
}

/// How long an import has sat in `initializing`, once that is past [`STUCK_INITIALIZING`].
fn stuck_for(imp: &Import) -> Option<Duration> {
    if imp.state != State::Initializing {
        return None;
    }
    let age = imp
        .created_at
        .map(|c| jiff::Timestamp::now().duration_since(c).unsigned_abs())
        .unwrap_or_default();
    (age >= STUCK_INITIALIZING).then_some(age)
}

/// Poll a restore's Progress until `completed` (exit 0), `failed` (3), or max polls (4).
pub async fn follow_restore(
    client: &Client,
    id: u64,
    first: Progress,
    poll: &PollSettings,
) -> Result<(Exit, Progress)> {
    let started = Instant::now();
    let pid = first.id;
    let fetch = |n: u32| async move {
        let p = client.progress(pid).await?;
        let pct = p
            .completion
            .map(|c| format!(" {c:.0}%"))
            .unwrap_or_default();
        info!(
            target: "canvas_sis",
            import_id = id,
            progress_id = p.id,
            state = p.state.as_str(),
            poll = n,
            "import {id}: restore {}{pct} (poll {n}/{})",
            p.state,
            poll.max_polls
        );
        Ok(match p.state.as_str() {
            "completed" => Step::Done(Exit::Ok, p),
            "failed" => {
                let why = p.message.clone().unwrap_or_else(|| "no message".into());
                warn!(target: "canvas_sis", import_id = id, "import {id}: restore failed after {}: {why}",
                    humantime::format_duration(Duration::from_secs(started.elapsed().as_secs())));
                Step::Done(Exit::ImportFailed, p)
            }
            _ => Step::Running(p),
        })
    };
    let (exit, last) = poll_until(client, poll, fetch, |sig| {
        Failure::new(
            Exit::Interrupted,
            format!(
                "interrupted by {sig}: the restore of import {id} continues in Canvas (progress {pid}); see `canvas-sis status {id}`"
            ),
        )
        .partial(serde_json::json!({"sis_import_id": id, "progress_id": pid, "request": "done"}))
    })
    .await?;
    let last = last.unwrap_or(first);
    if exit == Exit::MaxPolls {
        warn!(
            target: "canvas_sis",
            import_id = id,
            "import {id}: restore still {} after {} polls; it continues in Canvas (progress {pid})",
            last.state,
            poll.max_polls
        );
    }
    Ok((exit, last))
}

/// `import 141 ended imported_with_messages after 2m 13s: users=3 …; 1 warning, 0 errors`
pub fn summary_line(imp: &Import, watched: Duration) -> String {
    let took = imp.elapsed().unwrap_or(watched);
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

/// The end of an import in the log: the summary at the state's level, then each warning and
/// error.
pub fn log_end(imp: &Import, watched: Duration) {
    let line = summary_line(imp, watched);
    let (w, e) = imp.warning_error_counts();
    let (id, state) = (imp.id, imp.state_str());
    match imp.state.log_level() {
        Level::INFO => {
            info!(target: "canvas_sis", import_id = id, state, warnings = w, errors = e, "{line}")
        }
        Level::WARN => {
            warn!(target: "canvas_sis", import_id = id, state, warnings = w, errors = e, "{line}")
        }
        _ => {
            error!(target: "canvas_sis", import_id = id, state, warnings = w, errors = e, "{line}")
        }
    }
    let mut capped = false;
    // Canvas's text is one line each: a line break in it must not forge a log line of ours.
    let one = |s: &str| crate::redact::one_line(s);
    for (file, msg) in imp.messages("processing_warnings") {
        capped |= is_cap_note(file.as_deref());
        let (file, msg) = (file.as_deref().map(one), one(&msg));
        match file {
            Some(f) => warn!(target: "canvas_sis", import_id = id, "import {id}: {f}: {msg}"),
            None => warn!(target: "canvas_sis", import_id = id, "import {id}: {msg}"),
        }
    }
    for (file, msg) in imp.messages("processing_errors") {
        capped |= is_cap_note(file.as_deref());
        let (file, msg) = (file.as_deref().map(one), one(&msg));
        match file {
            Some(f) => error!(target: "canvas_sis", import_id = id, "import {id}: {f}: {msg}"),
            None => error!(target: "canvas_sis", import_id = id, "import {id}: {msg}"),
        }
    }
    if capped {
        warn!(target: "canvas_sis", "import {id}: Canvas lists only 24 messages here; `canvas-sis errors {id}` prints them all");
    }
}

/// How many message templates the end-of-run summary names before it points at `errors`.
const GROUPS_LOGGED: usize = 20;

/// Every error and warning row of an ended import (all pages, as the run record fetched
/// them), when Canvas's own lists were capped: one line per message template with its
/// count (the grouping of `errors --group`), instead of thousands of lines. A failure's
/// template is an ERROR line, a warning's a WARN line.
pub fn log_groups(imp: &Import, rows: &[serde_json::Value]) {
    let listed =
        imp.messages("processing_warnings").len() + imp.messages("processing_errors").len();
    if rows.len() <= listed {
        return;
    }
    let id = imp.id;
    let groups = super::messages::group(rows);
    info!(target: "canvas_sis", import_id = id, "import {id}: {} error and warning rows in {} message templates:", rows.len(), groups.len());
    for g in groups.iter().take(GROUPS_LOGGED) {
        let file = super::messages::field_str(&g.example, "file")
            .map(|f| format!("{}: ", crate::redact::one_line(&f)))
            .unwrap_or_default();
        let template = crate::redact::one_line(&g.template);
        if g.failures > 0 {
            error!(target: "canvas_sis", import_id = id, "import {id}: {} × {file}{template}", g.count);
        } else {
            warn!(target: "canvas_sis", import_id = id, "import {id}: {} × {file}{template}", g.count);
        }
    }
    if groups.len() > GROUPS_LOGGED {
        warn!(target: "canvas_sis", import_id = id, "import {id}: and {} more templates; `canvas-sis errors {id} --group` lists them all", groups.len() - GROUPS_LOGGED);
    }
}

/// Canvas's "and N more …" entry that ends a capped message list (§3).
fn is_cap_note(file: Option<&str>) -> bool {
    file.is_some_and(|f| f.starts_with("and ") && f.contains(" more "))
}

#[cfg(test)]
mod tests {

    #[test]
    fn elapsed_runs_on_until_the_import_ends() {
        let ago =
            |s: i64| (jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s)).to_string();
        let imp = |v: serde_json::Value| crate::canvas::Import::from_value(v).unwrap();
        // Running for an hour; Canvas last touched it 59 minutes ago.
        let running = imp(serde_json::json!({"id": 1, "workflow_state": "importing",
            "created_at": ago(3700), "started_at": ago(3600), "updated_at": ago(3540)}));
        let d = running.elapsed().unwrap().as_secs();
        assert!((3600..3700).contains(&d), "{d}");
        // Queued (not started): since it was created.
        let queued = imp(serde_json::json!({"id": 2, "workflow_state": "created",
            "created_at": ago(600), "updated_at": ago(600)}));
        let d = queued.elapsed().unwrap().as_secs();
        assert!((600..700).contains(&d), "{d}");
        // Ended: start to end; aborted ones (no ended_at): to the last update.
        let ended = imp(serde_json::json!({"id": 3, "workflow_state": "imported",
            "started_at": ago(3600), "ended_at": ago(3000), "updated_at": ago(10)}));
        assert_eq!(ended.elapsed().unwrap().as_secs(), 600);
        let aborted = imp(serde_json::json!({"id": 4, "workflow_state": "aborted",
            "started_at": ago(3600), "ended_at": null, "updated_at": ago(3500)}));
        assert_eq!(aborted.elapsed().unwrap().as_secs(), 100);
    }
}
