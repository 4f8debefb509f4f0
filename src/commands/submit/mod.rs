//! `submit PATH`: check, validate, upload once, print the import id, optionally watch.
//!
//! [`run`] goes through these phases, each a function here or in this folder (`guard.rs`,
//! `upload.rs`, `record.rs`; a dry run is `dry_run.rs`):
//! 1. **resolve**: the settings this run uses (a missing URL or token fails here, before a
//!    long validation);
//! 2. **prepare**: the bundle (its kind, a zip of a directory) and the option combinations
//!    Canvas would reject. Its sha256 is computed up front only when it is needed before
//!    sending (`--once`, a dry run); else while it is sent, so the upload starts at once;
//! 3. **lock and journal**: the per-account lock, and the journal's earlier submit of the
//!    same content;
//! 4. **validate**: errors stop the run (65) before anything is sent;
//! 5. **guard**: the checks that may stop a run that is ready to send (`--if-idle`,
//!    `--once`); the plan and its thresholds join here;
//! 6. **upload**: on the journal before the first byte, then sent by the chosen mode; the
//!    journal entry gets its sha256 when the upload ends;
//! 7. **record**: the import id to the journal, the log and stdout (and, without `--once`,
//!    a warning when the same content went out earlier);
//! 8. **follow**: with `--watch`, until the import ends.
//!
//! The order matters: everything local runs before anything is sent, and a lost answer to
//! the upload is never answered by uploading again blindly (`canvas::lost`).

mod dry_run;
mod guard;
mod record;
mod upload;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};
use tracing::{info, warn};

use crate::bundle::{self, Bundle};
use crate::canvas::client::Gate;
use crate::canvas::create::{self, Mode, Observers};
use crate::canvas::{Client, Import};
use crate::cli::SubmitArgs;
use crate::exit::{Exit, Failure, Result};
use crate::import_options::ImportOptions;
use crate::journal::{self, Journal};
use crate::plan::Assessment;
use crate::plan::held::{self, Held};
use crate::settings::{Network, PollSettings, SubmitSettings};
use crate::validate;

use super::Ctx;
use crate::canvas::follow::follow_import;
use dry_run::{dry_run, dry_run_checks, guard_check, guard_not_compared};
use guard::{busy_imports, guard, guarded, hold, plan_phase, query_pairs};
use record::{follow_phase, keep, record, start_run};
use upload::upload;

pub async fn run(a: SubmitArgs, ctx: &mut Ctx) -> Result<Exit> {
    // From here on a signal ends the run with exit 130 and says what was sent, in every
    // phase; the blocking ones (zipping, hashing, the lock) check between steps.
    crate::interrupt::install();
    let mut run = resolve(&a, ctx)?;
    let (bundle, query) = prepare(&mut run)?;
    let local = lock_and_journal(ctx, &run, &bundle)?;
    still_held(&run, &local.journal)?;
    let guarded = guarded(ctx, &run);
    let report = validate_phase(&run, &bundle).await?;
    let plan = plan_phase(ctx, &run, &bundle, guarded).await?;
    let Some(net) = &run.net else {
        let mut checks = dry_run_checks(ctx, &run.submit, &bundle, local.earlier.as_ref()).await?;
        if let Some(c) = plan
            .as_ref()
            .map(guard_check)
            .or_else(|| guard_not_compared(ctx, &run))
        {
            checks.insert(0, c);
        }
        let mode = create::choose_mode(
            run.submit.upload_mode,
            bundle.len,
            run.submit.file_upload_threshold,
        );
        return dry_run(
            ctx,
            &bundle,
            &query,
            mode,
            report.as_ref(),
            &checks,
            plan.as_ref(),
        );
    };
    if let Some(p) = &plan
        && !p.reasons.is_empty()
    {
        return hold(ctx, &run, net, &bundle, p).await;
    }
    let client = Client::new(net, &ctx.settings.connection)?;
    guard(&client, &run.submit, &bundle, local.earlier.as_ref()).await?;
    // What was validated is what goes: not an export that is still being written.
    bundle.unchanged()?;
    let started = start_run(ctx, net, &run, &bundle, &query);
    let uploaded = upload(ctx, &client, net, &run, &bundle, &query, &local.journal).await;
    bundle.finish_copy(uploaded.is_ok()).await;
    let (imp, entry) = match uploaded {
        Ok(x) => x,
        Err(f) => {
            if let Some(s) = started {
                s.upload_failed(ctx, &f).await;
            }
            return Err(f);
        }
    };
    keep(&local, net, &run, &bundle, &entry.sha256, &imp, started);
    let printed = record(ctx, &client, &run.submit, &local.journal, entry, &imp).await?;
    follow_phase(ctx, &client, &run.poll, imp, printed, a.watch).await
}

/// What [`resolve`] found: the settings of this run.
struct Run {
    opts: ImportOptions,
    poll: PollSettings,
    submit: SubmitSettings,
    /// Canvas and the token; None for a dry run (which needs neither).
    net: Option<Network>,
    /// The bundle as the user named it (for an approval: the held copy, or the original).
    path: std::path::PathBuf,
    /// The held run this run approves (`approve RUN`, `submit --approve-plan RUN`).
    approving: Option<Approving>,
}

/// A held run being approved: its folder in the state dir and its record (whose sha256 the
/// file to send was checked against).
struct Approving {
    folder: std::path::PathBuf,
    held: Held,
}

/// Phase 1: the settings. Settings first: a missing URL or token should not wait for a long
/// validation. Approving a held run takes its bundle and import options from the held
/// record, and only the Canvas it was held for.
fn resolve(a: &SubmitArgs, ctx: &Ctx) -> Result<Run> {
    let net = if a.dry_run {
        None
    } else {
        Some(ctx.settings.network()?)
    };
    let mut run = Run {
        opts: ctx.settings.import.clone(),
        poll: ctx.settings.poll.clone(),
        submit: ctx.settings.submit.clone(),
        net,
        path: a.path.clone().unwrap_or_default(),
        approving: None,
    };
    if let Some(id) = &a.approve_plan {
        let state_dir = match &run.net {
            Some(_) => crate::paths::state_dir()?,
            None => crate::paths::state_dir_path(),
        };
        let (folder, held) = held::find(&state_dir, id, ctx.settings.archive.as_ref())?;
        let target = match &run.net {
            Some(n) => Some((n.base.to_string(), n.account.clone())),
            None => configured_target(ctx),
        };
        if let Some((base, account)) = target
            && (base != held.base_url || account != held.account)
        {
            return Err(Failure::usage(format!(
                "run {id} was held for {} account {}, and this run's settings name {base} account {account}; nothing was sent",
                held.base_url, held.account
            ))
            .kind("held_elsewhere")
            .hint(match &held.profile {
                Some(p) => format!("approve it with the settings it was held with: --profile {p}"),
                None => "approve it with the settings it was held with (the same base_url and account_id)".into(),
            }));
        }
        run.path = held.sendable(&folder).ok_or_else(|| {
            Failure::no_input(format!(
                "run {id}: neither its held copy in {} nor {} has the planned sha256 {} any more; nothing was sent",
                folder.display(),
                held.bundle.path,
                short(&held.bundle.sha256)
            ))
            .kind("held_bundle_changed")
            .hint(format!("submit the bundle again for a new plan, and `canvas-sis discard {id}`"))
        })?;
        run.opts = held.options.clone();
        info!(target: "canvas_sis", "approving held run {id}: sending {} (sha256 {}) with the options it was planned with", run.path.display(), short(&held.bundle.sha256));
        run.approving = Some(Approving { folder, held });
    }
    Ok(run)
}

/// The Canvas URL and account the settings name, if they name a valid one (a dry run
/// does not need them).
fn configured_target(ctx: &Ctx) -> Option<(String, String)> {
    let base = ctx.settings.connection.base("").ok()?;
    Some((
        base.to_string(),
        ctx.settings.connection.account_id.value.clone(),
    ))
}

/// Phase 2: the bundle, the option combinations Canvas rejects (exit 2), and the query the
/// create POST carries. A pass over the whole file for its sha256 before anything is sent
/// only when `--once` must compare it first, or for a dry run (which prints it); an
/// approved bundle's was checked against the held one's already. An IMS Enterprise file
/// (or a zip of them) is sent as `ims_xml` unless a setting named the import type; an
/// approval keeps the options it was held with.
fn prepare(run: &mut Run) -> Result<(Bundle, Vec<(&'static str, String)>)> {
    let hash_now = (run.net.is_none() || run.submit.once) && run.approving.is_none();
    let mut bundle = bundle::prepare_with(&run.path, run.opts.extension, hash_now)?;
    if let Some(a) = &run.approving {
        bundle.sha256 = Some(a.held.bundle.sha256.clone());
        // Canvas is shown the name the bundle had when it was planned (a directory's as the
        // zip it was sent as: `DIR.zip`).
        let planned = std::path::Path::new(&a.held.bundle.path);
        bundle.name = planned
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .map(|n| {
                let has_ext = planned.extension().is_some();
                if has_ext {
                    n
                } else {
                    format!("{n}.{}", bundle.extension.as_str())
                }
            })
            .unwrap_or(bundle.name);
        run.opts.check()?;
    } else {
        let holds = bundle::holds(&bundle)?;
        run.opts.adopt_ims(holds.ims());
        run.opts.check()?;
        run.opts.fits(bundle.extension, holds)?;
    }
    let query = run.opts.query(bundle.extension);
    Ok((bundle, query))
}

/// After the lock: the run being approved is still held, and still the newest thing for its
/// account. Two approvals of one run are serialised by the lock; the second finds it gone
/// and sends nothing. A held run's plan was made against the account as it was then: once
/// a later submit went out there, approving it would send the older export over that
/// import (undoing what it added, deleting what it brought back), so it is refused.
fn still_held(run: &Run, journal: &Journal) -> Result<()> {
    if let Some(a) = &run.approving
        && run.net.is_some()
    {
        let planned = a.held.held_again.last().unwrap_or(&a.held.held_at);
        let planned_at = planned.parse::<jiff::Timestamp>().ok();
        let later = journal.entries().into_iter().rev().find(|e| {
            !e.failed
                && e.base_url == a.held.base_url
                && e.account == a.held.account
                && e.submitted_at
                    .parse::<jiff::Timestamp>()
                    .ok()
                    .zip(planned_at)
                    .is_some_and(|(t, p)| t > p)
        });
        if let Some(e) = later {
            return Err(Failure::usage(format!(
                "run {} was planned at {planned}, and since then {} went to {} account {} (import {}, at {}): approving it would send the older export over that import; nothing was sent",
                a.held.run_id,
                e.file,
                e.base_url,
                e.account,
                e.import_id.map(|i| i.to_string()).unwrap_or_else(|| "?".into()),
                e.submitted_at
            ))
            .kind("held_superseded")
            .hint(format!(
                "submit the current export for a new plan (the guard checks it again), and `canvas-sis discard {}`",
                a.held.run_id
            )));
        }
    }
    match &run.approving {
        Some(a) if run.net.is_some() && !a.folder.join("held.json").exists() => {
            Err(Failure::usage(format!(
                "run {} is not held any more: another run approved or discarded it meanwhile; nothing was sent",
                a.held.run_id
            ))
            .kind("not_held")
            .hint("`canvas-sis history` shows what became of it"))
        }
        _ => Ok(()),
    }
}

/// What [`lock_and_journal`] holds: the lock (to the end of the run) and the journal.
struct Local {
    _lock: Option<crate::lock::RunLock>,
    journal: Journal,
    /// The newest submit of the same content to the same account within `--dedupe-window`.
    earlier: Option<journal::Entry>,
}

/// Phase 3: the per-account lock, held from validation to the end of the watch, and the
/// journal. Only a real run needs the state dir (journal and lock); a dry run never touches
/// it, but reads the journal too (only reads it), to say what `--once` would do.
fn lock_and_journal(ctx: &Ctx, run: &Run, bundle: &Bundle) -> Result<Local> {
    let state_dir = match &run.net {
        Some(_) => crate::paths::state_dir()?,
        None => crate::paths::state_dir_path(),
    };
    let lock = match &run.net {
        Some(n) => Some(crate::lock::acquire(
            &crate::lock::lock_path(&state_dir, n.base.as_str(), &n.account),
            &format!("{} account {}", n.base, n.account),
            run.submit.wait_lock,
        )?),
        None => None,
    };
    let journal = Journal::new(&state_dir);
    let target = match &run.net {
        Some(n) => Some((n.base.to_string(), n.account.clone())),
        None => configured_target(ctx),
    };
    // Known here only when it was hashed up front (`--once`, a dry run); else `record`
    // looks once the upload has hashed it.
    let earlier = match (&target, &bundle.sha256) {
        (Some((base, account)), Some(sha)) => {
            journal.recent_same(base, account, sha, run.submit.dedupe_window, None)
        }
        _ => None,
    };
    Ok(Local {
        _lock: lock,
        journal,
        earlier,
    })
}

/// Phase 4: validation, unless `--no-validate`.
async fn validate_phase(run: &Run, bundle: &Bundle) -> Result<Option<validate::Report>> {
    if run.submit.validate {
        Ok(Some(
            run_validation(bundle, &run.opts, run.submit.strict).await?,
        ))
    } else {
        info!(target: "canvas_sis", "validation skipped (--no-validate)");
        Ok(None)
    }
}

/// `work`, unless a signal comes first: then exit 130, saying nothing was sent.
async fn before_sending<T>(work: impl Future<Output = Result<T>>, what: &str) -> Result<T> {
    tokio::select! {
        r = work => r,
        sig = crate::interrupt::wait() => Err(crate::interrupt::before_sending(sig, what)),
    }
}

/// Validate before sending: errors stop the upload (65), warnings are shown and logged.
/// The validator runs on a thread of its own, so that a signal ends the run at once instead
/// of after a long validation (the thread ends with the process).
async fn run_validation(
    bundle: &Bundle,
    opts: &ImportOptions,
    strict: bool,
) -> Result<validate::Report> {
    let vopts = validate::Options {
        import_type: opts.import_type.clone(),
        // After `prepare`, an IMS file's ims_xml is this run's choice too.
        import_type_set: opts.import_type_set || opts.import_type == crate::import_options::IMS_XML,
        max_diagnostics: 100,
        strict,
        extension: opts.extension.map(|e| e.as_str().to_string()),

        ..validate::Options::default()
    };
    let given = bundle.given.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("validate".into())
        .spawn(move || {
            let r = crate::validate::validate_or_66(std::slice::from_ref(&given), &vopts);
            let _ = tx.send(r);
        });
    let validation = async {
        match spawned {
            Ok(_) => rx.await.unwrap_or_else(|_| {
                Err(Failure::data(
                    "the validator stopped without a result; nothing was sent",
                ))
            }),
            Err(e) => Err(Failure::new(
                Exit::Unavailable,
                format!("cannot start the validator: {e}; nothing was sent"),
            )),
        }
    };
    let what = format!("validating {}", bundle.given.display());
    let report = before_sending(validation, &what).await?;
    for d in report.diagnostics() {
        match d.severity {
            validate::Severity::Error => {
                tracing::error!(target: "canvas_sis", "{}", d.to_log_line())
            }
            validate::Severity::Warning => warn!(target: "canvas_sis", "{}", d.to_log_line()),
        }
    }
    let summary = report.summary_line();
    if report.failed(strict) {
        return Err(Failure::data(format!(
            "validation of {} failed: {summary}; nothing was sent",
            bundle.given.display()
        ))
        .kind("validation_failed")
        .partial(report.to_json())
        .hint(if report.error_count() > 0 {
            "fix the errors above (all of them: `canvas-sis validate PATH`), then submit again"
        } else {
            "--strict makes warnings block the upload; fix them or drop --strict"
        }));
    }
    info!(target: "canvas_sis", "validated {}: {summary}", bundle.given.display());
    Ok(report)
}

/// `the same content (sha256 …) went to this account at T as import N (state)`.
fn earlier_submit(sha: &str, e: &journal::Entry, state: Option<&str>) -> String {
    let state = match (state, e.import_id) {
        (Some(s), _) => format!(" ({s})"),
        (None, None) => " (its answer was lost)".to_string(),
        (None, Some(_)) => String::new(),
    };
    format!(
        "the same content (sha256 {}) went to this account at {} as import {}{state}",
        short(sha),
        e.submitted_at,
        e.import_id
            .map(|i| i.to_string())
            .unwrap_or_else(|| "?".into())
    )
}

/// A signal that came during the upload.
struct Interrupted(&'static str);

/// The bundle's sha256 once its upload has ended (see `Bundle::sha256_sent`); empty, with a
/// warning, when the file cannot be read again.
fn sha256_sent(bundle: &Bundle) -> String {
    bundle.sha256_sent().unwrap_or_else(|e| {
        warn!(target: "canvas_sis", "cannot compute the sha256 of {}: {e}; the journal keeps this submit without it", bundle.path.display());
        String::new()
    })
}

/// The first 12 hex digits of a sha256, for messages.
fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
