//! One module per subcommand. Each returns the exit code it ends with, or a `Failure`.

pub mod abort;
pub mod config_cmd;
pub mod convert;
pub mod demo;
pub mod docs;
pub mod errors;
pub mod health;
pub mod held;
pub mod history;
pub mod importing;
pub mod list;
pub mod plan;
pub mod report;
pub mod restore;
pub mod status;
pub mod submit;
pub mod validate;
pub mod watch;

use std::path::PathBuf;

use clap::ArgMatches;

use crate::cli::Command;
use crate::exit::{Exit, Failure, Result};
use crate::settings::Settings;

/// What a command gets besides its own arguments.
pub struct Ctx {
    pub settings: Settings,
    pub matches: ArgMatches,
    /// The log file a monitor should watch, if any.
    pub log_path: Option<PathBuf>,
    /// The terminal and the user's wishes for output (tables, colour, notes).
    pub term: crate::output::Term,
    /// `demo`: its simulator and temp dir, set up before the log (whose dir it chooses).
    pub demo: Option<demo::Demo>,
}

impl Ctx {
    pub fn client(&self) -> Result<crate::canvas::Client> {
        let net = self.settings.network()?;
        crate::canvas::Client::new(&net, &self.settings.connection)
    }

    /// An import was seen (by `submit --watch`, `watch` or `status`): complete its run
    /// record, and at its end fold its rows into the plan's baseline.
    pub async fn saw_import(&self, client: &crate::canvas::Client, imp: &crate::canvas::Import) {
        let Ok(net) = self.settings.network() else {
            return;
        };
        crate::plan::on_end(net.base.as_str(), &net.account, imp);
        let Some(archive) = &self.settings.archive else {
            self.metrics_without_archive(&net, imp);
            return;
        };
        let ended = crate::record::Keeper {
            archive,
            metrics: self.settings.metrics_textfile.as_deref(),
            base_url: net.base.as_str(),
            account: &net.account,
        }
        .saw(client, imp)
        .await;
        if let Some((run, rows)) = ended {
            crate::canvas::follow::log_groups(imp, &rows);
            let event = crate::notify::end_event(run.state.as_deref().unwrap_or("failed"));
            self.notify(event, imp, Some(&run), &rows).await;
        }
    }

    /// After a watch: the run record and baseline at the end, or the `max_polls` and
    /// `stuck` notifications when it did not end.
    pub async fn followed(
        &self,
        client: &crate::canvas::Client,
        exit: Exit,
        last: Option<&crate::canvas::Import>,
    ) {
        let Some(imp) = last else {
            return;
        };
        self.saw_import(client, imp).await;
        let wants = |e| self.settings.notify.wants(e);
        if !wants("max_polls") && !wants("stuck") {
            return;
        }
        // The run that sent it, when this host did: the message names it.
        let run = self.run_of(imp);
        if exit == Exit::MaxPolls {
            self.notify("max_polls", imp, run.as_ref(), &[]).await;
        }
        // Stuck by the clock (`stuck_after_*`), or given up on in `initializing`.
        let gave_up = exit != Exit::MaxPolls && imp.state == crate::canvas::State::Initializing;
        if gave_up || self.settings.notify.stuck(imp) {
            self.notify("stuck", imp, run.as_ref(), &[]).await;
        }
    }

    /// `[archive] dir = ""` with `[metrics] textfile`: at the end of an import this host sent
    /// (the journal has it), the metrics from that import alone.
    fn metrics_without_archive(&self, net: &crate::settings::Network, imp: &crate::canvas::Import) {
        let Some(textfile) = self.settings.metrics_textfile.as_deref() else {
            return;
        };
        let (base, account) = (net.base.as_str(), net.account.as_str());
        let sent_here = imp.state.is_terminal()
            && crate::paths::existing_state_dir()
                .ok()
                .flatten()
                .is_some_and(|d| {
                    crate::journal::Journal::new(&d).entries().iter().any(|e| {
                        e.import_id == Some(imp.id) && e.base_url == base && e.account == account
                    })
                });
        if !sent_here {
            return;
        }
        let mut run = crate::record::Run::from_canvas(imp, base, account);
        run.profile = self.settings.profile.clone();
        if let Err(e) = crate::record::write_metrics_of(textfile, &[(PathBuf::new(), run)]) {
            tracing::warn!(target: "canvas_sis", "cannot write the metrics textfile {}: {e}", textfile.display());
        }
    }

    /// The archived run that sent `imp` to this Canvas and account, if this host did.
    pub fn run_of(&self, imp: &crate::canvas::Import) -> Option<crate::record::Run> {
        let (Some(archive), Ok(net)) = (&self.settings.archive, self.settings.network()) else {
            return None;
        };
        archive
            .find(net.base.as_str(), &net.account, imp.id)
            .map(|(_, run)| run)
    }

    /// A run whose upload failed (no import, or none known): the `failed` event, with the
    /// failure as its reason. Never fails the command.
    pub async fn notify_upload_failed(&self, run: &crate::record::Run, f: &Failure) {
        let ev = crate::notify::Event {
            event: "failed".into(),
            run_id: Some(run.run_id.clone()),
            base_url: run.base_url.clone(),
            account: run.account.clone(),
            profile: run.profile.clone(),
            counts: serde_json::Value::Object(Default::default()),
            reasons: vec![format!(
                "the upload failed (exit {}): {}",
                f.exit.code(),
                f.message
            )],
            log_file: self.log_path.as_ref().map(|p| p.display().to_string()),
            ..Default::default()
        };
        crate::notify::send(&self.settings.notify, &ev, None).await;
    }

    /// Send `event` about `imp` to the configured webhooks (never fails the command).
    pub async fn notify(
        &self,
        event: &str,
        imp: &crate::canvas::Import,
        run: Option<&crate::record::Run>,
        rows: &[serde_json::Value],
    ) {
        let settings = &self.settings.notify;
        if !settings.wants(event) {
            return;
        }
        let Ok(net) = self.settings.network() else {
            return;
        };
        // The top error templates, grouped as `errors --group` groups them.
        let top = crate::canvas::messages::top(rows, 5);
        let (w, e) = imp.warning_error_counts();
        let ev = crate::notify::Event {
            event: event.to_string(),
            run_id: run.map(|r| r.run_id.clone()),
            import_id: Some(imp.id),
            state: Some(imp.state_str().to_string()),
            base_url: net.base.to_string(),
            account: net.account.clone(),
            profile: self.settings.profile.clone(),
            // By the contract's `<kind>`, as history, the metrics and a held run's message say.
            counts: imp
                .kind_counts()
                .into_iter()
                .map(|(k, v)| {
                    (
                        crate::canvas::types::kind_name(&k),
                        serde_json::Value::from(v),
                    )
                })
                .collect::<serde_json::Map<_, _>>()
                .into(),
            warnings: w,
            errors: e,
            top_errors: top,
            reasons: vec![],
            log_file: self.log_path.as_ref().map(|p| p.display().to_string()),
        };
        // The rows as the run folder's errors.csv has them (§2.8), for the e-mail.
        let csv = match rows {
            [] => None,
            _ => crate::canvas::ops::errors_csv(rows).ok(),
        };
        crate::notify::send(settings, &ev, csv.as_deref()).await;
    }

    /// Send the `held` event: the guard held run `h` (never fails the command).
    pub async fn notify_held(&self, h: &crate::plan::held::Held) {
        let ev = crate::notify::Event {
            event: "held".into(),
            run_id: Some(h.run_id.clone()),
            state: Some("held".into()),
            base_url: h.base_url.clone(),
            account: h.account.clone(),
            profile: h.profile.clone(),
            counts: h.plan.get("kinds").cloned().unwrap_or_default(),
            reasons: h.reasons.clone(),
            log_file: self.log_path.as_ref().map(|p| p.display().to_string()),
            ..Default::default()
        };
        crate::notify::send(&self.settings.notify, &ev, None).await;
    }

    /// Print a JSON document on stdout (the `--json` result).
    pub fn print_json(&self, v: &serde_json::Value) -> Result<()> {
        crate::output::stdout_json(v)
    }
}

/// Run `cmd`. A command that talks to Canvas is raced against SIGINT, SIGTERM and SIGHUP
/// (contract: exit 130 in any phase): a throttled Canvas retried for the whole budget, a hung
/// answer or a prompt never outlasts a signal, and the run ends with a message saying
/// whether anything was sent (`--json`: one error document) instead of a silent death.
pub async fn dispatch(cmd: Command, ctx: &mut Ctx) -> Result<Exit> {
    let Some(said) = on_signal(&cmd) else {
        if let Some(what) = local_work(&cmd) {
            let json = ctx.settings.json;
            crate::interrupt::end_at_once(
                what,
                Box::new(move |f| {
                    if json && crate::output::stdout_untouched() {
                        let _ = crate::output::stdout_json(&f.to_json());
                    }
                }),
            );
        }
        return run(cmd, ctx).await;
    };
    crate::interrupt::install();
    // Commands that change Canvas say more as they go (`interrupt::stand`).
    crate::interrupt::stand(said, None, serde_json::Value::Null);
    let (json, health) = (ctx.settings.json, matches!(cmd, Command::Health(_)));
    let sig = tokio::select! {
        // The command first: a phase that races the signal itself (a watch, the follow of a
        // restore) ends with its own message, which says how to resume.
        biased;
        r = run(cmd, ctx) => return r,
        sig = crate::interrupt::wait() => sig,
    };
    if health {
        // A check's own failure is UNKNOWN (3) with the reason in its status line.
        health::unknown(&format!("interrupted by {sig} while asking Canvas"), json);
        return Ok(Exit::ImportFailed);
    }
    Err(crate::interrupt::stopped(sig))
}

/// What an interrupted run of `cmd` did to Canvas, unless it says more itself; `None` for
/// commands that work only on this host (a signal ends them from the listener at once,
/// [`local_work`]) or that race it in every phase themselves (`submit`, `approve RUN`: an
/// interrupted upload first aborts the import that waits for its file).
fn on_signal(cmd: &Command) -> Option<&'static str> {
    const READ_ONLY: &str = "nothing was changed in Canvas";
    match cmd {
        Command::Watch(_)
        | Command::Status(_)
        | Command::List(_)
        | Command::Importing
        | Command::Errors(_)
        | Command::Abort(_)
        | Command::AbortAllPending(_)
        | Command::Restore(_)
        | Command::Config(crate::cli::ConfigCmd::Check) => Some(READ_ONLY),
        Command::History(a) if a.from_canvas => Some(READ_ONLY),
        Command::Health(a) if a.from_canvas => Some(READ_ONLY),
        Command::Plan(a) if a.against == "canvas" => Some(
            "nothing was changed in Canvas (a provisioning report it was asked for finishes there on its own)",
        ),
        Command::Demo => {
            Some("the demo talks only to its own simulator; nothing was sent to a Canvas")
        }
        _ => None,
    }
}

/// What a command that works only on this host, and may take a while, is doing: a signal
/// ends it at once with exit 130 ([`crate::interrupt::end_at_once`]). `convert` unwinds by
/// itself instead (its half-written zip is removed on the way out).
fn local_work(cmd: &Command) -> Option<String> {
    match cmd {
        Command::Validate(a) => Some(format!(
            "validating {}",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Command::Plan(a) => Some(format!("planning {}", a.path.display())),
        Command::Report(_) => Some("writing the report".into()),
        Command::History(_) => Some("reading the run history".into()),
        _ => None,
    }
}

async fn run(cmd: Command, ctx: &mut Ctx) -> Result<Exit> {
    match cmd {
        Command::Validate(a) => validate::run(a, ctx),
        Command::Submit(a) => submit::run(*a, ctx).await,
        Command::Watch(a) => watch::run(a, ctx).await,
        Command::Status(a) => status::run(a, ctx).await,
        Command::Config(c) => config_cmd::run(c, ctx).await,
        Command::Completions(a) => docs::completions(a, ctx.settings.json),
        Command::Man => docs::man(ctx.settings.json),
        Command::Demo => match ctx.demo.take() {
            Some(d) => demo::run(d, ctx).await,
            None => Err(Failure::new(
                Exit::Usage,
                "demo: the simulator was not set up before the log",
            )),
        },
        Command::List(a) => list::run(a, ctx).await,
        Command::Importing => importing::run(ctx).await,
        Command::Abort(a) => abort::run(a, ctx).await,
        Command::AbortAllPending(a) => abort::all_pending(a, ctx).await,
        Command::Restore(a) => restore::run(a, ctx).await,
        Command::Plan(a) => plan::run(a, ctx).await,
        // Approving a held run is a submit of its bundle with its options.
        Command::Approve(crate::cli::ApproveArgs {
            run: Some(run),
            watch,
            dry_run,
        }) => {
            let a = crate::cli::SubmitArgs {
                path: None,
                approve_plan: Some(run),
                watch,
                dry_run,
            };
            submit::run(a, ctx).await
        }
        Command::Approve(_) => held::list(ctx),
        Command::Discard(a) => held::discard(a, ctx),
        Command::Convert(c) => convert::run(c, ctx),
        Command::History(a) => history::run(a, ctx).await,
        Command::Report(a) => report::run(a, ctx),
        Command::Health(a) => Ok(health::run(a, ctx).await),
        Command::Errors(a) => errors::run(a, ctx).await,
    }
}
