//! `submit`'s upload (phase 6): on the journal before the first byte, then sent by the
//! chosen mode; the sha256 of the bytes sent goes to the journal when the upload ends.

use super::*;

/// Phase 6: the upload. The journal gets the submit before the first byte goes out (a crash
/// or kill mid-upload leaves the lookup window on record); a signal during the upload ends
/// the run with exit 130, saying what was sent (and aborting a file-upload import that waits
/// for its file). Returns the import and the journal entry.
pub(super) async fn upload(
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

/// The journal entry written on a blocking thread, or why not.
pub(super) async fn journal_written(w: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    w.await.unwrap_or_else(|e| {
        Err(Failure::config(format!("cannot write the state journal: {e}")).kind("state_dir"))
    })
}
