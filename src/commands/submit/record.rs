//! `submit`'s record and follow (phases 7 and 8): the run record's folder, the import id to
//! the journal, the log and stdout, and with `--watch` the import followed to its end.

use super::*;

/// Phase 6a: the run's folder in the archive, made as the upload starts (contract, "A run":
/// a submit that started an upload), with the bundle's copy written by the upload's own
/// pass (`keep_bundles`). An approval goes on in the held run's folder. Never fails the
/// submit: without a folder, the run has no record, and says so.
pub(super) fn start_run(
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
pub(super) struct Started {
    pub(super) archive: crate::record::Archive,
    pub(super) folder: std::path::PathBuf,
    pub(super) record: crate::record::Run,
    /// Joined when the run's record is complete, or the upload failed.
    pub(super) _pruning: crate::record::Pruning,
}

impl Started {
    fn save(&self) {
        if let Err(f) = self.archive.save(&self.folder, &self.record) {
            warn!(target: "canvas_sis", "run {}: {f}", self.record.run_id);
        }
    }

    /// The upload failed: the run ended with this exit code (and, when its answer was lost,
    /// an import may exist that `watch --last` finds).
    pub(super) async fn upload_failed(mut self, ctx: &Ctx, f: &Failure) {
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
pub(super) fn keep(
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
pub(super) async fn record(
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
pub(super) async fn follow_phase(
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
pub(super) fn watch_failed(f: Failure, id: u64) -> Failure {
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
pub(super) fn output_lost(exit: Exit, printed: Result<()>) -> Result<Exit> {
    match (exit, printed) {
        (e, Ok(())) => Ok(e),
        (Exit::Ok, Err(f)) => Err(f),
        (e, Err(_)) => Ok(e),
    }
}
