//! `submit`'s guard (phase 5): `--if-idle`, the plan and its thresholds, and holding a run
//! for a person when it would delete or change too much.

use super::*;

/// Whether the guard plans this run, and against what: the Canvas URL and account, and this
/// host's baseline of them (`against = "last"`), which is read from here on, while the
/// bundle is validated.
pub(super) struct Guarded {
    pub(super) base: String,
    pub(super) account: String,
    pub(super) baseline: crate::plan::Preload,
}

/// Phase 4a: whether the guard is on for this import: batch mode, multi-term batch mode and
/// diffing by default, any import with `--guard on` (contract, `[guard]`); not for an
/// approval, since a person has seen that plan. Decided before validation, so that the
/// baseline is read meanwhile.
pub(super) fn guarded(ctx: &Ctx, run: &Run) -> Option<Guarded> {
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
pub(super) async fn plan_phase(
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

pub(super) fn opts_data_set(opts: &ImportOptions) -> String {
    opts.diffing_data_set_identifier
        .as_deref()
        .map(|d| format!(" data set {d}"))
        .unwrap_or_default()
}

/// The guard tripped: send nothing, keep the run as held (its plan, a copy of the bundle,
/// its options), tell whoever `[notify]` names, and exit 6 with the line a monitor matches
/// (`held run R: enrollment delete 34 % > 10 % in term 2026-FA; canvas-sis approve R`).
/// The same bundle held again is not a new run: it still waits for approval.
pub(super) async fn hold(
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

pub(super) fn query_pairs(query: &[(&'static str, String)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Phase 5: the checks that may stop a run that is ready to send: `--if-idle` (exit 75 when
/// Canvas is busy), then `--once` (exit 75 when the same content went out within
/// `--dedupe-window`; without it, a warning). The plan and its guard thresholds belong here
/// when they come.
pub(super) async fn guard(
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
pub(super) fn running(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
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
