//! `fake-canvas --port 0 --scenario ok`: serve the simulator until killed.

use std::io::Write;
use std::time::Duration;

use clap::Parser;
use fake_canvas::{Config, Scenario};

/// A stateful simulator of Canvas LMS's SIS import API (loopback only).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 for the API (0: any free port). The files host always takes any port.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Behaviour to simulate.
    #[arg(long, default_value = "ok", value_parser = scenario_names())]
    scenario: String,
    /// The access token to accept.
    #[arg(long, default_value = "fake-canvas-token")]
    token: String,
    /// Show-polls from importing to the terminal state (a read of the list or of
    /// `importing` also moves the running import one step).
    #[arg(long, default_value_t = 3)]
    polls: u32,
    /// Finished imports to create at start.
    #[arg(long, default_value_t = 0)]
    seed_imports: usize,
    /// Extra generated warnings on each finished import.
    #[arg(long, default_value_t = 0)]
    extra_warnings: usize,
    /// How many times a fault scenario misbehaves before behaving normally.
    #[arg(long, default_value_t = 2)]
    fault_count: u32,
    /// Seconds the `hang` scenario sleeps.
    #[arg(long, default_value_t = 3600)]
    hang_secs: u64,
}

fn scenario_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Scenario::ALL.iter().map(|s| s.name()))
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let scenario: Scenario = args
        .scenario
        .parse()
        .map_err(|e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let cfg = Config {
        scenario,
        token: args.token,
        polls_to_finish: args.polls,
        seed_imports: args.seed_imports,
        extra_warnings: args.extra_warnings,
        fault_count: args.fault_count,
        hang_for: Duration::from_secs(args.hang_secs),
    };
    let handle = fake_canvas::spawn_on(cfg, args.port)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", handle.url())?;
        out.flush()?;
    }
    eprintln!("token: {}", handle.token());
    eprintln!("files host: {}", handle.files_url());
    eprintln!("scenario: {scenario}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        std::io::Result::Ok(())
    })?;
    handle.shutdown();
    Ok(())
}
