//! `health`: a monitoring check with the Nagios plugin conventions (contract, `health`): exit
//! 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN, and one line such as
//! `CANVAS-SIS OK - import 141 imported_with_messages 3h ago | age=10800s;;93600 warnings=12 errors=0`.
//! It reads this host's run archive; `--json` prints the status object whatever the exit.

use std::time::Duration;

use serde_json::json;

use crate::cli::HealthArgs;
use crate::exit::Exit;
use crate::record::Run;

use super::Ctx;

/// The four Nagios states, by their exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Warning = 1,
    Critical = 2,
    Unknown = 3,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }
    /// The process exit code (the `Exit` variants that carry 0–3).
    fn exit(self) -> Exit {
        match self {
            Status::Ok => Exit::Ok,
            Status::Warning => Exit::ImportedWithMessages,
            Status::Critical => Exit::Usage,
            Status::Unknown => Exit::ImportFailed,
        }
    }
}

/// The contract's truth table over the runs, newest first.
pub fn judge(
    runs: &[Run],
    max_age: Duration,
    warn_warnings: Option<u64>,
    now: jiff::Timestamp,
) -> (Status, String, Option<&Run>) {
    let Some(newest) = runs.first() else {
        return (
            Status::Unknown,
            "no runs recorded on this host".into(),
            None,
        );
    };
    let ended = runs.iter().find(|r| r.ended());
    let age_of = |r: &Run| {
        r.ended_at
            .as_deref()
            .or(Some(r.submitted_at.as_str()))
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| now.duration_since(t).unsigned_abs())
    };
    let ago = |d: Option<Duration>| match d {
        Some(d) if d.as_secs() < 60 => "under a minute ago".to_string(),
        Some(d) => format!(
            "{} ago",
            humantime::format_duration(Duration::from_secs(d.as_secs() / 60 * 60))
        ),
        None => "at an unknown time".into(),
    };
    let describe = |r: &Run| {
        format!(
            "import {} {} {}",
            r.import_id
                .map(|i| i.to_string())
                .unwrap_or_else(|| "-".into()),
            r.state.as_deref().unwrap_or("(upload failed)"),
            ago(age_of(r))
        )
    };
    if let Some(r) = ended
        && r.failed()
    {
        return (
            Status::Critical,
            format!("{} (the newest finished run failed)", describe(r)),
            Some(r),
        );
    }
    let success = runs.iter().find(|r| r.succeeded());
    match success.map(|r| (r, age_of(r))) {
        None => {
            return (
                Status::Critical,
                "no import ended well in the archive".into(),
                ended.or(Some(newest)),
            );
        }
        Some((r, Some(age))) if age > max_age => {
            return (
                Status::Critical,
                format!(
                    "{}: no success within {}",
                    describe(r),
                    humantime::format_duration(max_age)
                ),
                Some(r),
            );
        }
        _ => {}
    }
    if runs.iter().any(|r| r.held && !r.ended()) {
        return (
            Status::Warning,
            "a run is held for approval (canvas-sis approve)".into(),
            success,
        );
    }
    let r = ended.expect("a success is a finished run");
    if let Some(n) = warn_warnings
        && r.warnings > n
    {
        return (
            Status::Warning,
            format!("{}: {} warnings > {n}", describe(r), r.warnings),
            Some(r),
        );
    }
    (Status::Ok, describe(r), Some(r))
}

/// The account's imports as Canvas lists them, newest first, as runs (whoever sent them).
async fn canvas_runs(ctx: &Ctx) -> crate::exit::Result<Vec<Run>> {
    let net = ctx.settings.network()?;
    // A monitor waits for a check a minute at most: give up on Canvas well before that.
    let mut conn = ctx.settings.connection.clone();
    conn.retry_budget = conn.retry_budget.min(Duration::from_secs(30));
    let client = crate::canvas::Client::new(&net, &conn)?;
    crate::record::canvas_runs(&client, &net, 50).await
}

/// The check's own failure (a usage or configuration error): UNKNOWN, with the reason in the
/// status line. Returns the exit code, 3.
pub fn unknown(reason: &str, json: bool) -> u8 {
    let line = format!("CANVAS-SIS UNKNOWN - {}", reason.replace('\n', " "));
    let _ = if json {
        crate::output::stdout_json(&json!({
            "status": "UNKNOWN", "exit_code": 3, "line": line, "age_s": null, "run": null,
        }))
    } else {
        crate::output::stdout_line(&line)
    };
    Status::Unknown as u8
}

pub async fn run(a: HealthArgs, ctx: &mut Ctx) -> Exit {
    let now = jiff::Timestamp::now();
    // The age of the last import that ended well: what --max-age measures, so the perfdata
    // `age` (with --max-age as its critical threshold) is that one.
    let success_age = |runs: &[Run]| {
        runs.iter()
            .find(|r| r.succeeded())
            .and_then(|r| r.ended_at.as_deref())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| now.duration_since(t).unsigned_abs().as_secs())
    };
    let mut last_success = None;
    let (status, text, run) = match &ctx.settings.archive {
        _ if a.from_canvas => match canvas_runs(ctx).await {
            Ok(runs) => {
                last_success = success_age(&runs);
                let (s, t, r) = judge(&runs, a.max_age, a.warn_warnings, now);
                (s, format!("{t} (from Canvas)"), r.cloned())
            }
            Err(f) => (Status::Unknown, f.message, None),
        },
        None => (
            Status::Unknown,
            "no run archive ([archive] dir is \"\")".to_string(),
            None,
        ),
        Some(archive) => {
            let profile = ctx.settings.profile.as_deref();
            let (runs, damaged) = archive.runs_and_damaged();
            let runs: Vec<Run> = runs
                .into_iter()
                .map(|(_, r)| r)
                .filter(|r| crate::record::of_profile(profile, r))
                .collect();
            last_success = success_age(&runs);
            let (mut s, mut t, r) = judge(&runs, a.max_age, a.warn_warnings, now);
            // Runs left out for a record that does not read: the verdict may miss them, and
            // the monitor must not take "no runs" for the truth.
            if let Some(first) = damaged.first() {
                t.push_str(&format!(
                    "; {} run record(s) do not read and are left out ({})",
                    damaged.len(),
                    first.display()
                ));
                if s == Status::Ok {
                    s = Status::Warning;
                }
            }
            (s, t, r.cloned())
        }
    };
    let age = run
        .as_ref()
        .and_then(|r| r.ended_at.as_deref())
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map(|t| now.duration_since(t).unsigned_abs().as_secs());
    let mut perf = Vec::new();
    if let Some(age) = last_success {
        perf.push(format!("age={age}s;;{}", a.max_age.as_secs()));
    }
    if let Some(r) = &run {
        perf.push(format!("warnings={}", r.warnings));
        perf.push(format!("errors={}", r.errors));
    }
    let line = format!(
        "CANVAS-SIS {} - {text}{}",
        status.word(),
        if perf.is_empty() {
            String::new()
        } else {
            format!(" | {}", perf.join(" "))
        }
    );
    let printed = if ctx.settings.json {
        ctx.print_json(&json!({
            "status": status.word(),
            "exit_code": status as u8,
            "line": line,
            "age_s": age,
            "run": run.as_ref().map(Run::history_json),
        }))
    } else {
        crate::output::stdout_line(&line)
    };
    match printed {
        Ok(()) => status.exit(),
        // A monitor reads the exit code: a check that could not print is UNKNOWN.
        Err(_) => Status::Unknown.exit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, state: Option<&str>, ended_h_ago: i64, warnings: u64, held: bool) -> Run {
        let now: jiff::Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
        let t = (now - jiff::SignedDuration::from_hours(ended_h_ago)).to_string();
        Run {
            run_id: id.into(),
            submitted_at: t.clone(),
            import_id: Some(1),
            state: state.map(str::to_string),
            ended_at: state.map(|_| t),
            warnings,
            held,
            ..Default::default()
        }
    }

    #[test]
    fn the_contracts_truth_table() {
        let now: jiff::Timestamp = "2026-12-05T12:00:00Z".parse().unwrap();
        let day = Duration::from_secs(26 * 3600);
        let j = |runs: &[Run], w| judge(runs, day, w, now).0;
        assert_eq!(j(&[], None), Status::Unknown);
        assert_eq!(
            j(&[run("2", Some("imported"), 3, 0, false)], None),
            Status::Ok
        );
        assert_eq!(
            j(
                &[run("2", Some("imported_with_messages"), 3, 12, false)],
                Some(10)
            ),
            Status::Warning
        );
        assert_eq!(
            j(
                &[
                    run("2", Some("failed"), 3, 0, false),
                    run("1", Some("imported"), 27, 0, false)
                ],
                None
            ),
            Status::Critical
        );
        assert_eq!(
            j(&[run("2", Some("imported"), 30, 0, false)], None),
            Status::Critical
        );
        // A run still going does not hide the last finished one.
        assert_eq!(
            j(
                &[
                    run("3", None, 0, 0, false),
                    run("2", Some("imported"), 3, 0, false)
                ],
                None
            ),
            Status::Ok
        );
        assert_eq!(
            j(
                &[
                    run("3", None, 0, 0, true),
                    run("2", Some("imported"), 3, 0, false)
                ],
                None
            ),
            Status::Warning
        );
        let (_, line, _) = judge(&[run("2", Some("imported"), 3, 0, false)], day, None, now);
        assert_eq!(line, "import 1 imported 3h ago");
    }
}
