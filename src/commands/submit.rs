//! `submit PATH`: check, validate, upload once, print the import id, optionally watch.
//!
//! [`run`] goes through these phases, each a function below:
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

/// Whether the guard plans this run, and against what: the Canvas URL and account, and this
/// host's baseline of them (`against = "last"`), which is read from here on, while the
/// bundle is validated.
struct Guarded {
    base: String,
    account: String,
    baseline: crate::plan::Preload,
}

/// Phase 4a: whether the guard is on for this import: batch mode, multi-term batch mode and
/// diffing by default, any import with `--guard on` (contract, `[guard]`); not for an
/// approval, since a person has seen that plan. Decided before validation, so that the
/// baseline is read meanwhile.
fn guarded(ctx: &Ctx, run: &Run) -> Option<Guarded> {
    if run.approving.is_some() || !ctx.settings.guard.on(&run.opts) {
        return None;
    }
    // The planner reads SIS CSV and IMS Enterprise bundles: another import type (a plugin's)
    // is said to go unguarded, never silently passed.
    if run.opts.import_type != crate::import_options::DEFAULT_IMPORT_TYPE
        && run.opts.import_type != crate::import_options::IMS_XML
    {
        warn!(target: "canvas_sis", "guard: a {} bundle is not planned (the plan reads SIS CSV and IMS Enterprise bundles); it is sent unguarded", run.opts.import_type);
        return None;
    }
    let (base, account) = match &run.net {
        Some(n) => (n.base.to_string(), n.account.clone()),
        // A dry run without a Canvas URL fails later, saying so.
        None => configured_target(ctx)?,
    };
    // A dry run asks Canvas for no report (contract, `--dry-run`), and this host's baseline
    // is not what the real run compares with: no plan ([`guard_not_compared`] says so).
    if ctx.settings.guard.against == "canvas" && run.net.is_none() {
        return None;
    }
    // Against Canvas this host's baseline is not read.
    let baseline = if ctx.settings.guard.against == "canvas" {
        crate::plan::Preload::later(&run.opts, &base, &account)
    } else {
        crate::plan::Preload::start(&run.opts, &base, &account)
    };
    Some(Guarded {
        base,
        account,
        baseline,
    })
}

/// Phase 4b: the plan of a guarded run. Made on a thread of its own, as validation is, so
/// that a signal ends the run at once.
async fn plan_phase(
    ctx: &Ctx,
    run: &Run,
    bundle: &Bundle,
    guarded: Option<Guarded>,
) -> Result<Option<Assessment>> {
    let Some(Guarded {
        base,
        account,
        baseline,
    }) = guarded
    else {
        return Ok(None);
    };
    let limits = ctx.settings.guard.limits();
    let planned = async {
        // A dry run asks Canvas for no report (contract, `--dry-run`).
        let client = match &run.net {
            Some(net) if ctx.settings.guard.against == "canvas" => {
                Some(Client::new(net, &ctx.settings.connection)?)
            }
            _ => None,
        };
        // A batch term named by Canvas's own id (or `default`, `current`,
        // `sis_integration_id:`): Canvas says which SIS term it is, so that the baseline's
        // rows in it are counted. Against Canvas the report's terms file says it; a dry run
        // asks nothing and says the term is unknown.
        let mut opts = run.opts.clone();
        if client.is_none()
            && let Some(net) = &run.net
            && opts.batch_mode
            && !opts.multi_term_batch_mode
            && let Some(t) = opts.batch_mode_term_id.clone()
            && crate::plan::sis_term(&t).is_none()
        {
            let c = Client::new(net, &ctx.settings.connection)?;
            match c.term_sis_id(&t).await? {
                Some(sis) => {
                    info!(target: "canvas_sis", "guard: batch-mode term {t} is SIS term {sis} in Canvas");
                    opts.batch_mode_term_id = Some(format!("sis_term_id:{sis}"));
                }
                None => {
                    warn!(target: "canvas_sis", "guard: batch-mode term {t} has no SIS id in Canvas: the plan cannot tell which rows of the baseline are in it");
                }
            }
        }
        Assessment::of(
            client.as_ref(),
            &bundle.path,
            &opts,
            baseline,
            &run.poll,
            &limits,
        )
        .await
    };
    let a = before_sending(planned, "planning the import").await?;
    match &a.baseline {
        None => info!(
            target: "canvas_sis",
            "guard: no baseline yet for {base} account {account}{}: nothing to compare with, so this run passes; its import becomes the baseline when it ends well",
            opts_data_set(&run.opts)
        ),
        Some(_) if a.reasons.is_empty() => info!(
            target: "canvas_sis",
            "guard: within the limits: {}",
            a.plan.summary()
        ),
        Some(_) => {}
    }
    Ok(Some(a))
}

fn opts_data_set(opts: &ImportOptions) -> String {
    opts.diffing_data_set_identifier
        .as_deref()
        .map(|d| format!(" data set {d}"))
        .unwrap_or_default()
}

/// The guard tripped: send nothing, keep the run as held (its plan, a copy of the bundle,
/// its options), tell whoever `[notify]` names, and exit 6 with the line a monitor matches
/// (`held run R: enrollment delete 34 % > 10 % in term 2026-FA; canvas-sis approve R`).
/// The same bundle held again is not a new run: it still waits for approval.
async fn hold(
    ctx: &Ctx,
    run: &Run,
    net: &Network,
    bundle: &Bundle,
    p: &Assessment,
) -> Result<Exit> {
    let state_dir = crate::paths::state_dir()?;
    let sha = bundle.sha256_sent().map_err(|e| {
        Failure::no_input(format!(
            "{}: cannot read it again to keep it for approval: {e}; nothing was sent",
            bundle.path.display()
        ))
        .kind("input_unreadable")
    })?;
    let reasons = p.reasons.join("; ");
    let base = net.base.to_string();
    let next_steps = |id: &str| {
        format!(
            "nothing was sent. `canvas-sis approve` lists the held runs with their reasons; `canvas-sis approve {id}` sends this one as planned; `canvas-sis discard {id}` drops it"
        )
    };
    if let Some((folder, mut h)) =
        held::same_bundle(&state_dir, &base, &net.account, &sha, &run.opts)
    {
        h.held_again.push(jiff::Timestamp::now().to_string());
        if let Err(f) = held::save(&folder, &h) {
            warn!(target: "canvas_sis", "{f}");
        }
        if ctx.settings.json {
            ctx.print_json(&h.to_json())?;
        }
        return Err(Failure::new(
            Exit::Held,
            format!(
                "held run {id}: still waiting for approval (held since {}; the same bundle, sha256 {}): {reasons}; canvas-sis approve {id}",
                h.held_at,
                short(&sha),
                id = h.run_id
            ),
        )
        .kind("held")
        .hint(next_steps(&h.run_id)));
    }
    let now = jiff::Timestamp::now().to_string();
    let h = Held {
        run_id: crate::record::new_run_id(),
        held_at: now.clone(),
        base_url: base.clone(),
        account: net.account.clone(),
        profile: ctx.settings.profile.clone(),
        bundle: crate::record::Bundle {
            path: crate::plan::rows::absolute(&bundle.given)
                .display()
                .to_string(),
            bytes: bundle.len,
            sha256: sha,
        },
        extension: bundle.extension,
        copy: bundle.name.clone(),
        options: run.opts.clone(),
        reasons: p.reasons.clone(),
        plan: p.to_json(),
        held_again: vec![],
    };
    // Kept before anything is said: a held run that cannot be kept still sends nothing.
    held::hold(&state_dir, &h, &bundle.path)?;
    if let Some(archive) = &ctx.settings.archive {
        let record = crate::record::Run {
            run_id: h.run_id.clone(),
            submitted_at: now.clone(),
            profile: h.profile.clone(),
            base_url: base,
            account: h.account.clone(),
            bundle: h.bundle.clone(),
            options: query_pairs(&run.opts.query(bundle.extension)),
            states: vec![crate::record::Seen {
                state: "held".into(),
                at: now,
            }],
            held: true,
            ..Default::default()
        };
        match archive.start(record) {
            Ok((folder, _)) => {
                let plan = serde_json::to_vec_pretty(&h.plan).expect("a plan serializes");
                if let Err(e) = crate::paths::write_atomic(&folder.join("plan.json"), &plan) {
                    warn!(target: "canvas_sis", "run {}: cannot keep plan.json: {e}", h.run_id);
                }
            }
            Err(f) => warn!(target: "canvas_sis", "run {}: no run record: {f}", h.run_id),
        }
        crate::record::refresh_metrics(ctx.settings.metrics_textfile.as_deref(), archive);
    }
    ctx.notify_held(&h).await;
    if ctx.settings.json {
        ctx.print_json(&h.to_json())?;
    }
    Err(Failure::new(
        Exit::Held,
        format!(
            "held run {id}: {reasons}; canvas-sis approve {id}",
            id = h.run_id
        ),
    )
    .kind("held")
    .hint(next_steps(&h.run_id)))
}

fn query_pairs(query: &[(&'static str, String)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Phase 5: the checks that may stop a run that is ready to send: `--if-idle` (exit 75 when
/// Canvas is busy), then `--once` (exit 75 when the same content went out within
/// `--dedupe-window`; without it, a warning). The plan and its guard thresholds belong here
/// when they come.
async fn guard(
    client: &Client,
    submit: &SubmitSettings,
    bundle: &Bundle,
    earlier: Option<&journal::Entry>,
) -> Result<()> {
    if submit.if_idle {
        before_sending(check_idle(client), "asking Canvas whether it is idle").await?;
    }
    if let Some(e) = earlier {
        let state = match e.import_id {
            Some(id) => {
                let shown = before_sending(client.show(id), "looking up the earlier import")
                    .await
                    .map(Some)
                    .or_else(|f| match f.exit {
                        Exit::Interrupted => Err(f),
                        _ => Ok(None),
                    })?;
                // Step 1 of a file upload made it, and the run that had its upload
                // instructions is gone (killed: this run holds the account's lock): it waits
                // for a file that can never come. Abort it; that submit does not count.
                if let Some(i) = &shown
                    && i.state == crate::canvas::types::State::Initializing
                    && !running(e.pid)
                    && crate::canvas::upload::abort_quietly(
                        client,
                        id,
                        "its upload was interrupted",
                    )
                    .await
                {
                    warn!(target: "canvas_sis", import_id = id, "import {id}, made by the earlier submit of this content (at {}, pid {} no longer running), waited for a file that could never come: aborted, and that submit does not count", e.submitted_at, e.pid);
                    return Ok(());
                }
                shown
                    .map(|i| i.state_str().to_string())
                    .unwrap_or_else(|| "state unknown".into())
            }
            // Its answer never came (refused, cut off, killed): Canvas says whether it made
            // anything, as `watch --last` asks, instead of the journal refusing on its own.
            None => match before_sending(
                crate::canvas::lost::created_since(client, &e.submitted_at),
                "asking Canvas what the earlier submit made",
            )
            .await
            {
                Ok(made) if made.is_empty() => {
                    info!(target: "canvas_sis", "the earlier submit of this content (at {}) got no answer, and Canvas holds no import of ours created since: it never reached Canvas, so it does not count", e.submitted_at);
                    return Ok(());
                }
                Ok(made) => format!(
                    "its answer was lost; imports created since: {}",
                    made.iter()
                        .map(|i| format!("{} ({})", i.id, i.state_str()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(f) if f.exit == Exit::Interrupted => return Err(f),
                Err(_) => "its answer was lost".into(),
            },
        };
        let what = earlier_submit(
            bundle.sha256.as_deref().unwrap_or_default(),
            e,
            Some(&state),
        );
        if submit.once {
            return Err(Failure::new(Exit::TempFail, format!("--once: {what}; nothing sent"))
                .kind("duplicate_content")
                .hint("this content was already submitted within --dedupe-window; drop --once to send it again"));
        }
        // After the idle check, so a refused run does not say it is submitting again.
        warn!(target: "canvas_sis", "{what}; submitting again");
    }
    Ok(())
}

/// Whether process `pid` of this host still runs.
fn running(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Phase 6: the upload. The journal gets the submit before the first byte goes out (a crash
/// or kill mid-upload leaves the lookup window on record); a signal during the upload ends
/// the run with exit 130, saying what was sent (and aborting a file-upload import that waits
/// for its file). Returns the import and the journal entry.
async fn upload(
    ctx: &Ctx,
    client: &Client,
    net: &Network,
    run: &Run,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    journal: &Journal,
) -> Result<(Import, journal::Entry)> {
    match &bundle.sha256 {
        Some(sha) => info!(
            target: "canvas_sis",
            file = %bundle.given.display(),
            bytes = bundle.len,
            sha256 = %sha,
            "submitting {} ({} bytes, sha256 {}) to {} account {}",
            bundle.given.display(),
            bundle.len,
            short(sha),
            client.base(),
            client.account_display()
        ),
        None => info!(
            target: "canvas_sis",
            file = %bundle.given.display(),
            bytes = bundle.len,
            "submitting {} ({} bytes) to {} account {}",
            bundle.given.display(),
            bundle.len,
            client.base(),
            client.account_display()
        ),
    }
    let mut entry = journal::Entry {
        import_id: None,
        base_url: net.base.to_string(),
        account: net.account.clone(),
        // Absolute: `watch --last` names it from any directory.
        file: std::path::absolute(&bundle.given)
            .unwrap_or_else(|_| bundle.given.clone())
            .display()
            .to_string(),
        bytes: bundle.len,
        // Empty until the upload has hashed it.
        sha256: bundle.sha256.clone().unwrap_or_default(),
        submitted_at: jiff::Timestamp::now().to_string(),
        pid: std::process::id(),
        failed: false,
    };
    let mode = create::choose_mode(
        run.submit.upload_mode,
        bundle.len,
        run.submit.file_upload_threshold,
    );
    // On disk before Canvas can have made an import, so that a crash or kill mid-upload
    // leaves the lookup window on record. The file-upload flow's step 1 makes one: it waits.
    // A direct upload makes one only once Canvas has the whole file: the journal is written
    // while the file goes out, and the last chunk waits for it (a slow disk costs no time).
    let gate = Gate::default();
    let written = {
        let (journal, entry, gate) = (journal.clone(), entry.clone(), gate.clone());
        tokio::task::spawn_blocking(move || {
            let r = journal.record(&entry);
            gate.open(r.is_ok());
            r
        })
    };
    let (written, last_chunk_gate) = match mode {
        Mode::FileUpload => {
            journal_written(written).await?;
            (None, None)
        }
        Mode::Direct => (Some(written), Some(gate)),
    };
    let sent = Arc::new(AtomicU64::new(0));
    // Whether any attempt handed the whole file to the connection: until then, no direct
    // upload can have made an import (Canvas reads the whole body first, §2.1).
    let whole = Arc::new(AtomicBool::new(false));
    let bar = crate::progress::upload_bar(bundle.len, ctx.settings.progress);
    let on_chunk = {
        let (sent, whole, len) = (sent.clone(), whole.clone(), bundle.len);
        let bar_cb = bar.as_ref().map(|(_, cb)| cb.clone());
        Arc::new(move |n: u64| {
            sent.store(n, Ordering::Relaxed);
            if n >= len {
                whole.store(true, Ordering::Relaxed);
            }
            if let Some(cb) = &bar_cb {
                cb(n);
            }
        }) as Arc<dyn Fn(u64) + Send + Sync>
    };
    // Set by the file-upload flow once step 1 made an import that waits for its file.
    let pending = {
        let (journal, entry) = (journal.clone(), entry.clone());
        crate::canvas::upload::Pending::new(move |id| {
            let e = journal::Entry {
                import_id: Some(id),
                ..entry.clone()
            };
            if let Err(j) = journal.update(&e) {
                warn!(target: "canvas_sis", "{}", j.message);
            }
        })
    };
    let upload = create::send(
        client,
        bundle,
        query,
        &run.opts,
        mode,
        Observers {
            on_chunk,
            pending: &pending,
            last_chunk_gate,
        },
    );
    let result = tokio::select! {
        r = upload => Ok(r),
        sig = crate::interrupt::wait() => Err(Interrupted(sig)),
    };
    // The upload future is gone: nothing more is sent from here on. A journal that could not
    // be written held the last chunk back: that is the run's error.
    let journaled = match written {
        Some(w) => journal_written(w).await,
        None => Ok(()),
    };
    let result = match result {
        Ok(r) => r,
        Err(Interrupted(sig)) => {
            let n = sent.load(Ordering::Relaxed);
            let waiting = pending.id();
            let never_whole = mode == Mode::Direct && !whole.load(Ordering::Relaxed);
            let mut aborted = false;
            let msg = if waiting != 0 {
                aborted = crate::canvas::upload::abort_waiting(client, waiting).await;
                if aborted {
                    format!(
                        "interrupted by {sig} during the file upload: import {waiting} was waiting for its file and has been aborted; nothing will be imported"
                    )
                } else {
                    format!(
                        "interrupted by {sig} during the file upload: import {waiting} may have its file and run; check `canvas-sis status {waiting}`"
                    )
                }
            } else if n == 0 && mode == Mode::FileUpload {
                // Step 1 may have gone out without its answer: Canvas may hold an import
                // that waits for a file no one will send.
                format!(
                    "interrupted by {sig} during step 1 of the file upload, before Canvas answered: no file was sent, but Canvas may hold an import waiting in `initializing` for it; check `canvas-sis list --created-since {}` and abort it (`canvas-sis abort ID --yes`)",
                    entry.submitted_at
                )
            } else if n == 0 {
                format!("interrupted by {sig} before the upload started; nothing was sent")
            } else if never_whole {
                format!(
                    "interrupted by {sig} during the upload after {n} of {} bytes: Canvas never had the whole file, so no import was made; submitting again is safe",
                    bundle.len
                )
            } else {
                format!(
                    "interrupted by {sig} during the upload after {n} of {} bytes: Canvas may have created an import; check `canvas-sis list --created-since {}` before submitting again",
                    bundle.len, entry.submitted_at
                )
            };
            if let Some((b, _)) = &bar {
                b.abandon();
            }
            // Canvas may hold an import of this content: --once must see its hash. When it
            // cannot (the whole file never went), --once must not count it.
            if n != 0 || waiting != 0 {
                entry.sha256 = sha256_sent(bundle);
                if waiting != 0 {
                    entry.import_id = Some(waiting);
                }
                entry.failed = aborted || (never_whole && waiting == 0);
                if let Err(j) = journal.update(&entry) {
                    warn!(target: "canvas_sis", "{}", j.message);
                }
            }
            // Reported (stderr and log) once, as the run's error.
            return Err(Failure::new(Exit::Interrupted, msg));
        }
    };
    if let Some((b, _)) = &bar {
        b.finish_and_clear();
    }
    journaled?;
    entry.sha256 = sha256_sent(bundle);
    match result {
        Ok(imp) => Ok((imp, entry)),
        Err(f) => {
            // Canvas refused it outright: no import exists, so --once must not count it.
            // Anything else (69: unreachable, or a lost answer) stays on record as a
            // possible import, which is the safe side, now with its sha256.
            // The file-upload flow names the import its step 1 made (and whether the run
            // aborted it, so that nothing will be imported).
            if let Some(id) = f.partial.get("sis_import_id").and_then(|v| v.as_u64()) {
                entry.import_id = Some(id);
            }
            let aborted = f.partial.get("aborted").and_then(|v| v.as_bool()) == Some(true);
            // So did a direct upload whose whole file never went out.
            entry.failed = aborted
                || matches!(
                    f.exit,
                    Exit::Usage | Exit::NotFound | Exit::NoPerm | Exit::Config | Exit::NoInput
                )
                || (mode == Mode::Direct && !whole.load(Ordering::Relaxed));
            // The upload's failure is the run's error, not the journal's.
            if let Err(j) = journal.update(&entry) {
                warn!(target: "canvas_sis", "{}", j.message);
            }
            Err(f)
        }
    }
}

/// A signal that came during the upload.
struct Interrupted(&'static str);

/// The journal entry written on a blocking thread, or why not.
async fn journal_written(w: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    w.await.unwrap_or_else(|e| {
        Err(Failure::config(format!("cannot write the state journal: {e}")).kind("state_dir"))
    })
}

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

/// Phase 6a: the run's folder in the archive, made as the upload starts (contract, "A run":
/// a submit that started an upload), with the bundle's copy written by the upload's own
/// pass (`keep_bundles`). An approval goes on in the held run's folder. Never fails the
/// submit: without a folder, the run has no record, and says so.
fn start_run(
    ctx: &Ctx,
    net: &Network,
    run: &Run,
    bundle: &Bundle,
    query: &[(&'static str, String)],
) -> Option<Started> {
    let archive = ctx.settings.archive.as_ref()?;
    let held_run = run
        .approving
        .as_ref()
        .and_then(|a| archive.by_id(&a.held.run_id));
    // Retention over the runs there before this one (runs whose end nobody watched count
    // too), while the bundle goes out; done by the time this run's record is complete.
    let pruning = archive.prune_behind(held_run.as_ref().map(|(f, _)| f.as_path()));
    let started = match held_run {
        Some(found) => Ok(found),
        None => archive.start(crate::record::Run {
            run_id: run
                .approving
                .as_ref()
                .map(|a| a.held.run_id.clone())
                .unwrap_or_default(),
            profile: ctx.settings.profile.clone(),
            base_url: net.base.to_string(),
            account: net.account.clone(),
            bundle: crate::record::Bundle {
                path: match &run.approving {
                    Some(a) => a.held.bundle.path.clone(),
                    None => crate::plan::rows::absolute(&bundle.given)
                        .display()
                        .to_string(),
                },
                bytes: bundle.len,
                sha256: bundle.sha256.clone().unwrap_or_default(),
            },
            options: query_pairs(query),
            ..Default::default()
        }),
    };
    match started {
        Ok((folder, mut record)) => {
            if record.held {
                // An approved run was submitted now, not when it was held: the newest run
                // is the one Canvas got last (`history`, `health`).
                record.submitted_at = jiff::Timestamp::now().to_string();
            }
            record.held = false;
            if archive.keep_bundles {
                bundle.keep_copy(folder.join(&bundle.name));
            }
            Some(Started {
                archive: archive.clone(),
                folder,
                record,
                _pruning: pruning,
            })
        }
        Err(f) => {
            warn!(target: "canvas_sis", "no run record: {f}");
            None
        }
    }
}

/// A run's archive folder, from the upload's start.
struct Started {
    archive: crate::record::Archive,
    folder: std::path::PathBuf,
    record: crate::record::Run,
    /// Joined when the run's record is complete, or the upload failed.
    _pruning: crate::record::Pruning,
}

impl Started {
    fn save(&self) {
        if let Err(f) = self.archive.save(&self.folder, &self.record) {
            warn!(target: "canvas_sis", "run {}: {f}", self.record.run_id);
        }
    }

    /// The upload failed: the run ended with this exit code (and, when its answer was lost,
    /// an import may exist that `watch --last` finds).
    async fn upload_failed(mut self, ctx: &Ctx, f: &Failure) {
        if f.exit == Exit::Config && !f.partial.contains_key("sis_import_id") {
            // A certificate or handshake refused before a byte went out: a configuration
            // refusal, not a run (contract, "A run"); the folder made for it goes.
            if let Err(e) = std::fs::remove_dir_all(&self.folder) {
                warn!(target: "canvas_sis", "run {}: {}: {e}", self.record.run_id, self.folder.display());
            }
            return;
        }
        self.record.exit_code = Some(f.exit.code());
        self.record.ended_at = Some(jiff::Timestamp::now().to_string());
        self.save();
        crate::record::refresh_metrics(ctx.settings.metrics_textfile.as_deref(), &self.archive);
        // Whoever is told of failed imports wants this more: nothing was imported at all.
        ctx.notify_upload_failed(&self.record, f).await;
    }
}

/// Phase 7a: what the plan's baseline and the run archive keep of this import: its rows as
/// a pending baseline, and its run record (completed by whoever sees it end). Neither ever
/// fails the submit.
fn keep(
    local: &Local,
    net: &Network,
    run: &Run,
    bundle: &Bundle,
    sha256: &str,
    imp: &Import,
    started: Option<Started>,
) {
    if let Some(state_dir) = local.journal.path().parent() {
        // Where the bytes sent can be read back when the import ends: the archive's copy,
        // else the file sent (not a directory's temporary zip, which goes with this run).
        let mut sources = Vec::new();
        if let Some(s) = &started
            && s.archive.keep_bundles
        {
            sources.push(s.folder.join(&bundle.name));
        }
        let sent = (!bundle.is_temporary()).then_some(&bundle.path);
        for f in sent.into_iter().chain([&bundle.given]) {
            let f = crate::plan::rows::absolute(f);
            if f.is_file() && !sources.contains(&f) {
                sources.push(f);
            }
        }
        crate::plan::record_pending(
            state_dir,
            net.base.as_str(),
            &net.account,
            &run.opts,
            sources,
            &bundle.path,
            sha256,
            imp.id,
        );
    }
    // An approved run is no longer held: its folder goes, and its record goes on.
    if let Some(a) = &run.approving {
        if let Err(e) = held::remove(&a.folder) {
            warn!(target: "canvas_sis", "run {}: sent as import {}, but its held folder {} stays: {e}", a.held.run_id, imp.id, a.folder.display());
        }
        info!(target: "canvas_sis", import_id = imp.id, "held run {} approved: sent as import {}", a.held.run_id, imp.id);
    }
    if let Some(mut s) = started {
        s.record.import_id = Some(imp.id);
        s.record.bundle.sha256 = sha256.to_string();
        s.record.saw(imp);
        s.save();
    }
}

/// Phase 7: the import id to the journal, the log and stdout (with `--json`, stdout holds
/// one JSON document instead, printed at the end). Without `--once` the content was hashed
/// while it was sent, so only now can an earlier submit of it be named (a warning, as
/// before). Returns whether stdout took the id.
async fn record(
    ctx: &Ctx,
    client: &Client,
    submit: &SubmitSettings,
    journal: &Journal,
    mut entry: journal::Entry,
    imp: &Import,
) -> Result<Result<()>> {
    // Not this run's own entry, which has the hash already when it was known up front.
    let earlier = (!submit.once && !entry.sha256.is_empty())
        .then(|| {
            journal.recent_same(
                &entry.base_url,
                &entry.account,
                &entry.sha256,
                submit.dedupe_window,
                Some(&entry),
            )
        })
        .flatten();
    entry.import_id = Some(imp.id);
    journal.update(&entry)?;
    if let Some(e) = &earlier {
        let state = match e.import_id {
            Some(id) => client
                .show(id)
                .await
                .map(|i| i.state_str().to_string())
                .unwrap_or_else(|_| "state unknown".into()),
            None => "its answer was lost".into(),
        };
        let what = earlier_submit(&entry.sha256, e, Some(&state));
        warn!(target: "canvas_sis", import_id = imp.id, "{what}; submitted again as import {}", imp.id);
    }
    info!(
        target: "canvas_sis",
        import_id = imp.id,
        state = imp.state_str(),
        "import {} created ({})",
        imp.id,
        imp.state_str()
    );
    Ok(if ctx.settings.json {
        Ok(())
    } else {
        crate::output::stdout_line(&imp.id.to_string())
    })
}

/// Phase 8: without `--watch`, done (the SisImport under `--json`); with it, follow the
/// import to its end, whose state decides the exit code.
async fn follow_phase(
    ctx: &Ctx,
    client: &Client,
    poll: &PollSettings,
    imp: Import,
    printed: Result<()>,
    watch: bool,
) -> Result<Exit> {
    if !watch {
        if ctx.settings.json {
            ctx.print_json(&imp.raw)?;
        }
        printed.map_err(|f| Failure {
            message: format!("import {} was created, but {}", imp.id, f.message),
            ..f
        })?;
        info!(target: "ui", "follow it with `canvas-sis watch {}`", imp.id);
        return Ok(Exit::Ok);
    }
    // The import exists whether or not stdout took its id: watch it all the same (the id
    // is in the log line above), and say at the end that the output was lost.
    if let Err(f) = &printed {
        tracing::error!(target: "canvas_sis", "import {}: {f}; watching it anyway", imp.id);
    }
    let (exit, last) = follow_import(client, imp.id, poll, ctx.settings.progress)
        .await
        .map_err(|f| watch_failed(f, imp.id))?;
    ctx.followed(client, exit, last.as_ref()).await;
    let printed = match printed {
        Ok(()) if ctx.settings.json => ctx.print_json(&last.map(|i| i.raw).unwrap_or(imp.raw)),
        p => p,
    };
    output_lost(exit, printed)
}

/// Following import `id` failed (Canvas unreachable or throttling past the budget, answers
/// that are not JSON): the import exists all the same, so the failure says so and how to
/// resume, never "try again" (a second submit sends the bundle twice), and `--json` carries
/// its id. A signal's failure says it already.
fn watch_failed(f: Failure, id: u64) -> Failure {
    if f.exit == Exit::Interrupted {
        return f;
    }
    Failure {
        message: format!(
            "import {id} was created and continues in Canvas, but watching it failed: {}",
            f.message
        ),
        hint: Some(format!(
            "resume with `canvas-sis watch {id}` once Canvas answers; do not submit again (that would send the bundle a second time)"
        )),
        ..f
    }
    .partial(serde_json::json!({"sis_import_id": id}))
}

/// The exit code when the import's outcome is known but stdout failed: an import that did
/// not end cleanly keeps its own code (it says more); a clean one becomes 74.
fn output_lost(exit: Exit, printed: Result<()>) -> Result<Exit> {
    match (exit, printed) {
        (e, Ok(())) => Ok(e),
        (Exit::Ok, Err(f)) => Err(f),
        (e, Err(_)) => Ok(e),
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

/// What one of `--if-idle` and `--once` would do to the real run, for `submit --dry-run`.
struct DryCheck {
    /// `if_idle` or `once` (JSON), `--if-idle` or `--once` (text).
    name: &'static str,
    flag: &'static str,
    /// `None`: cannot tell (Canvas could not be asked).
    stops: Option<bool>,
    /// The exit code the real run would stop with.
    exit: Exit,
    reason: String,
}

/// What the guard would do to the real run, for `submit --dry-run`.
fn guard_check(p: &Assessment) -> DryCheck {
    let reason = match &p.baseline {
        None => "no baseline yet: the real run would pass, and its import would become the baseline once it ends well".to_string(),
        Some(_) if p.reasons.is_empty() => format!("within the limits: {}", p.plan.summary()),
        Some(_) => p.reasons.join("; "),
    };
    DryCheck {
        name: "guard",
        flag: "guard",
        stops: Some(!p.reasons.is_empty()),
        exit: Exit::Held,
        reason,
    }
}

/// A dry run of a run the guard compares with Canvas (`[guard] against = "canvas"`): the
/// comparison needs a provisioning report, which a dry run never asks for, so whether the
/// guard would stop the real run is unknown.
fn guard_not_compared(ctx: &Ctx, run: &Run) -> Option<DryCheck> {
    (run.approving.is_none()
        && ctx.settings.guard.on(&run.opts)
        && ctx.settings.guard.against == "canvas")
        .then(|| DryCheck {
            name: "guard",
            flag: "guard",
            stops: None,
            exit: Exit::Held,
            reason: "not checked: the guard compares with Canvas's provisioning report ([guard] against = \"canvas\"), which a dry run never asks for; `canvas-sis plan --against canvas` makes that comparison".into(),
        })
}

/// The checks the real run would make before sending, in its order, made read-only: the GETs
/// `--if-idle` needs, and the journal for `--once`.
async fn dry_run_checks(
    ctx: &Ctx,
    guard: &crate::settings::SubmitSettings,
    bundle: &Bundle,
    earlier: Option<&journal::Entry>,
) -> Result<Vec<DryCheck>> {
    // A dry run hashes the bundle up front (`prepare`).
    let sha = bundle.sha256.as_deref().unwrap_or_default();
    let mut checks = vec![];
    if guard.if_idle {
        let busy = async {
            let net = ctx.settings.network()?;
            let client = Client::new(&net, &ctx.settings.connection)?;
            before_sending(busy_imports(&client), "asking Canvas whether it is idle").await
        }
        .await;
        let (stops, reason) = match busy {
            Ok(b) if b.is_empty() => (
                Some(false),
                "Canvas runs and queues no import for this account".to_string(),
            ),
            Ok(b) => (
                Some(true),
                format!(
                    "Canvas already runs or queues imports for this account: {}",
                    b.join(", ")
                ),
            ),
            Err(f) if f.exit == Exit::Interrupted => return Err(f),
            Err(f) => (None, format!("cannot ask Canvas: {}", f.message)),
        };
        checks.push(DryCheck {
            name: "if_idle",
            flag: "--if-idle",
            stops,
            exit: Exit::TempFail,
            reason,
        });
    }
    if guard.once {
        let (stops, reason) = match earlier {
            Some(e) => (true, earlier_submit(sha, e, None)),
            None => (
                false,
                format!(
                    "this content (sha256 {}) did not go to this account within --dedupe-window ({})",
                    short(sha),
                    humantime::format_duration(guard.dedupe_window)
                ),
            ),
        };
        checks.push(DryCheck {
            name: "once",
            flag: "--once",
            stops: Some(stops),
            exit: Exit::TempFail,
            reason,
        });
    }
    Ok(checks)
}

fn dry_run(
    ctx: &Ctx,
    bundle: &Bundle,
    query: &[(&'static str, String)],
    mode: create::Mode,
    report: Option<&validate::Report>,
    checks: &[DryCheck],
    plan: Option<&Assessment>,
) -> Result<Exit> {
    let sha256 = bundle.sha256.as_deref().unwrap_or_default();
    let base = ctx
        .settings
        .connection
        .base("--dry-run prints the exact request, which needs the Canvas URL")?;
    // Encoded as the real request encodes it, so that the printed URL is the one sent.
    let account = crate::canvas::client::account_segment(&ctx.settings.connection.account_id.value);
    let mut u = base
        .join(&format!("api/v1/accounts/{account}/sis_imports"))
        .expect("valid");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in query {
            q.append_pair(k, v);
        }
    }
    // The file-upload flow's step 1 carries the file's name, size and type, and no body;
    // the file goes in step 2, to the upload_url Canvas answers with.
    let file_upload = mode == create::Mode::FileUpload;
    if file_upload {
        let mut q = u.query_pairs_mut();
        for (k, v) in crate::canvas::upload::pre_attachment(bundle) {
            q.append_pair(k, &v);
        }
    }
    // The first check that stops the real run, in its order.
    let stopped_by = checks
        .iter()
        .find(|c| c.stops == Some(true))
        .map(|c| (c.flag, c.exit.code()));
    info!(
        target: "canvas_sis",
        "dry run of {} ({} bytes): nothing was sent{}",
        bundle.given.display(),
        bundle.len,
        match stopped_by {
            Some((flag, code)) => format!("; the real run would stop: {flag} (exit {code})"),
            None => String::new(),
        }
    );
    let auth = if ctx.settings.connection.token.is_some() {
        "Bearer [redacted]"
    } else {
        "(no token set)"
    };
    if ctx.settings.json {
        let file = json!({"path": bundle.path.display().to_string(), "bytes": bundle.len, "sha256": sha256});
        ctx.print_json(&json!({
            "dry_run": true,
            "upload_mode": if file_upload { "file-upload" } else { "direct" },
            "method": "POST",
            "url": u.as_str(),
            "headers": if file_upload {
                json!({"Authorization": auth, "Accept": "application/json"})
            } else {
                json!({
                    "Authorization": auth,
                    "Content-Type": bundle.content_type(),
                    "Content-Length": bundle.len,
                    "Accept": "application/json",
                })
            },
            "body": if file_upload { serde_json::Value::Null } else { file.clone() },
            // Step 2 of the file-upload flow: the file, to the upload_url of the answer.
            "then_upload": if file_upload { file } else { serde_json::Value::Null },
            "validation": report.map(|r| json!({"errors": r.error_count(), "warnings": r.warning_count(), "summary": r.summary_line()})),
            "checks": checks.iter().map(|c| json!({
                "check": c.name,
                "stops": c.stops,
                "exit_code": c.stops.map(|s| if s { Some(c.exit.code()) } else { None }),
                "reason": c.reason,
            })).collect::<Vec<_>>(),
            "would_stop": stopped_by.is_some(),
            "plan": plan.map(Assessment::to_json),
        }))?;
    } else {
        let mut text = if file_upload {
            format!(
                "POST {u}\nAuthorization: {auth}\nAccept: application/json\n\n<no body: step 1 of the file-upload flow; then {} ({} bytes, sha256 {}) goes as multipart to the upload_url Canvas answers with, without the token>\n",
                bundle.given.display(),
                bundle.len,
                sha256
            )
        } else {
            format!(
                "POST {u}\nAuthorization: {auth}\nContent-Type: {}\nContent-Length: {}\nAccept: application/json\n\n<body: {} ({} bytes, sha256 {})>\n",
                bundle.content_type(),
                bundle.len,
                bundle.given.display(),
                bundle.len,
                sha256
            )
        };
        if let Some(r) = report {
            text.push_str(&format!("validation: {}\n", r.summary_line()));
        }
        for c in checks {
            let verdict = match c.stops {
                Some(true) => format!("the real run would stop here (exit {})", c.exit.code()),
                Some(false) => "the real run would go on".to_string(),
                None => "cannot tell whether the real run would stop".to_string(),
            };
            text.push_str(&format!("{}: {verdict}: {}\n", c.flag, c.reason));
        }
        crate::output::stdout(&text)?;
        match stopped_by {
            Some((flag, code)) => crate::output::stderr(&format!(
                "dry run: nothing was sent; the real run would send nothing either: {flag} stops it (exit {code})\n"
            )),
            None => crate::output::stderr("dry run: nothing was sent\n"),
        }
    }
    Ok(Exit::Ok)
}

/// `--if-idle`: exit 75 when Canvas runs or queues an import for the account.
pub async fn check_idle(client: &Client) -> Result<()> {
    let busy = busy_imports(client).await?;
    if busy.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        Exit::TempFail,
        format!(
            "--if-idle: Canvas already runs or queues imports for this account: {}; nothing sent",
            busy.join(", ")
        ),
    )
    .kind("already_running")
    .hint("try again later, or drop --if-idle to queue behind them"))
}

/// The imports Canvas runs or queues for the account, as `ID (state)` (§2.3: the
/// `importing` list holds only running ones, so queued ones are listed separately). Read-only.
pub async fn busy_imports(client: &Client) -> Result<Vec<String>> {
    let running = client
        .get(
            "GET importing",
            &client.account_url("sis_imports/importing"),
        )
        .await?;
    let mut busy: Vec<String> = running
        .json
        .get("sis_imports")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| {
                    Some(format!(
                        "{} ({})",
                        i.get("id")?,
                        i.get("workflow_state")?.as_str()?
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut url = client.account_url("sis_imports");
    url.query_pairs_mut()
        .append_pair("workflow_state[]", "created")
        .append_pair("workflow_state[]", "initializing")
        .append_pair("per_page", "100");
    let queued = client.list_all(url, "sis_imports", Some(100)).await?;
    busy.extend(queued.iter().filter_map(|i| {
        let st = i.get("workflow_state")?.as_str()?;
        // A batch stuck in initializing (rejected options) never runs: not a reason to wait.
        let imp = Import::from_value(i.clone()).ok()?;
        let stale = st == "initializing"
            && imp.created_at.is_some_and(|c| {
                jiff::Timestamp::now().duration_since(c).unsigned_abs()
                    > crate::canvas::follow::STUCK_INITIALIZING
            });
        (!stale).then(|| format!("{} ({st})", imp.id))
    }));
    Ok(busy)
}
