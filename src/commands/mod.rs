//! One module per subcommand. Each returns the exit code it ends with, or a `Failure`.

pub mod abort;
pub mod config_cmd;
pub mod demo;
pub mod docs;
pub mod errors;
pub mod health;
pub mod history;
pub mod importing;
pub mod list;
pub mod plan;
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
}

impl Ctx {
    pub fn client(&self) -> Result<crate::canvas::Client> {
        let net = self.settings.network()?;
        crate::canvas::Client::new(&net, &self.settings.connection)
    }

    /// An import was seen (by `submit --watch`, `watch` or `status`): complete its run
    /// record, and at its end fold its rows into the plan's baseline.
    pub async fn saw_import(&self, client: &crate::canvas::Client, imp: &crate::canvas::Import) {
        crate::plan::on_end(imp);
        let (Some(archive), Ok(net)) = (&self.settings.archive, self.settings.network()) else {
            return;
        };
        crate::record::Keeper {
            archive,
            metrics: self.settings.metrics_textfile.as_deref(),
            base_url: net.base.as_str(),
            account: &net.account,
        }
        .saw(client, imp)
        .await;
    }

    /// Print a JSON document on stdout (the `--json` result).
    pub fn print_json(&self, v: &serde_json::Value) -> Result<()> {
        crate::output::stdout_json(v)
    }
}

pub async fn dispatch(cmd: Command, ctx: &mut Ctx) -> Result<Exit> {
    match cmd {
        Command::Validate(a) => validate::run(a, ctx),
        Command::Submit(a) => submit::run(*a, ctx).await,
        Command::Watch(a) => watch::run(a, ctx).await,
        Command::Status(a) => status::run(a, ctx).await,
        Command::Config(c) => config_cmd::run(c, ctx).await,
        Command::Completions(a) => docs::completions(a, ctx.settings.json),
        Command::Man => docs::man(ctx.settings.json),
        Command::Demo => Err(Failure::new(
            Exit::Usage,
            "demo is started from run(), not dispatched",
        )),
        Command::List(a) => list::run(a, ctx).await,
        Command::Importing => importing::run(ctx).await,
        Command::Abort(a) => abort::run(a, ctx).await,
        Command::AbortAllPending(a) => abort::all_pending(a, ctx).await,
        Command::Restore(a) => restore::run(a, ctx).await,
        Command::Plan(a) => plan::run(a, ctx),
        Command::History(a) => history::run(a, ctx),
        Command::Health(a) => Ok(health::run(a, ctx)),
        Command::Errors(a) => errors::run(a, ctx).await,
    }
}
