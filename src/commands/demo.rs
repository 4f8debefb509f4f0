//! `demo`: the bundled Canvas simulator on loopback, then validate → submit → watch on the
//! sample bundle (embedded, so the demo runs from anywhere), with the log in a temp dir.

use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use tracing::info;

use crate::exit::{Exit, Failure, Result};
use crate::settings::{PollSettings, Settings, Source, Sourced};

use super::Ctx;

/// The sample bundle, compiled in.
const SAMPLE: &[(&str, &[u8])] = &[
    (
        "accounts.csv",
        include_bytes!("../../samples/bundle/accounts.csv"),
    ),
    (
        "terms.csv",
        include_bytes!("../../samples/bundle/terms.csv"),
    ),
    (
        "users.csv",
        include_bytes!("../../samples/bundle/users.csv"),
    ),
    (
        "courses.csv",
        include_bytes!("../../samples/bundle/courses.csv"),
    ),
    (
        "sections.csv",
        include_bytes!("../../samples/bundle/sections.csv"),
    ),
    (
        "enrollments.csv",
        include_bytes!("../../samples/bundle/enrollments.csv"),
    ),
];

/// The demo polls its simulator every second: a watch a person sits through.
const DEMO_POLL: PollSettings = PollSettings {
    interval: Duration::from_secs(1),
    max_polls: 30,
};

/// The simulator and the demo's files; kept alive for the run.
pub struct Demo {
    sim: fake_canvas::Handle,
    dir: PathBuf,
}

/// Start the simulator and point the settings at it (before logging starts, so the log
/// file goes to the demo's temp dir).
pub fn prepare(settings: &mut Settings) -> Result<Demo> {
    let dir = tempfile::Builder::new()
        .prefix("canvas-sis-demo-")
        // Its own, whatever the umask: it sits in the shared temp dir.
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| {
            Failure::no_input(format!("cannot create a temp dir: {e}")).kind("temp_file_failed")
        })?
        .keep();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).map_err(|e| {
        Failure::no_input(format!("cannot write {}: {e}", bundle.display()))
            .kind("temp_file_failed")
    })?;
    for (name, bytes) in SAMPLE {
        std::fs::write(bundle.join(name), bytes).map_err(|e| {
            Failure::no_input(format!("cannot write {name}: {e}")).kind("temp_file_failed")
        })?;
    }
    let sim = fake_canvas::spawn(fake_canvas::Config {
        polls_to_finish: 3,
        ..Default::default()
    })
    .map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            format!("cannot start the simulator: {e}"),
        )
        .kind("simulator_failed")
    })?;
    settings.connection.base_url = Some(Sourced {
        value: sim.url(),
        source: Source::Default,
    });
    settings.connection.account_id = Sourced {
        value: "self".into(),
        source: Source::Default,
    };
    settings.poll = DEMO_POLL;
    settings.connection.token = Some(Sourced {
        value: SecretString::from(sim.token()),
        source: Source::Default,
    });
    settings.log.dir = Some(dir.join("log"));
    settings.log.rotation = crate::settings::Rotation::Never;
    settings.log.explicit_dir = true;
    // Show the log lines themselves on stderr.
    settings.verbose = settings.verbose.max(1);
    Ok(Demo { sim, dir })
}

pub async fn run(demo: Demo, ctx: &mut Ctx) -> Result<Exit> {
    let bundle_dir = demo.dir.join("bundle");
    info!(target: "ui", "demo: fake Canvas listening on {} (loopback only)", demo.sim.url());
    info!(target: "ui", "demo: the sample bundle's CSVs are in {}", bundle_dir.display());
    let zip = demo.dir.join("lms_daily.zip");
    zip_sample(&zip)?;

    info!(target: "ui", "demo: step 1/3: canvas-sis validate {}", zip.display());
    let report = crate::validate::validate_or_66(std::slice::from_ref(&zip), &Default::default())?;
    for d in report.diagnostics() {
        tracing::warn!(target: "canvas_sis", "{}", d.to_log_line());
    }
    info!(target: "canvas_sis", "validated {}: {}", zip.display(), report.summary_line());
    if crate::validate::outcome(&report, false) != Exit::Ok {
        return Err(Failure::data("the sample bundle did not validate"));
    }

    info!(target: "ui", "demo: step 2/3: canvas-sis submit {} --watch --interval 1s", zip.display());
    let client = ctx.client()?;
    let b = crate::bundle::prepare(&zip, None)?;
    let opts = crate::import_options::ImportOptions {
        import_type: crate::import_options::DEFAULT_IMPORT_TYPE.into(),
        ..Default::default()
    };
    let query = opts.query(b.extension);
    let imp = crate::canvas::create::direct(&client, &b, &query, &opts, None).await?;
    info!(target: "canvas_sis", import_id = imp.id, "import {} created ({})", imp.id, imp.state_str());
    // With --json, stdout holds one document: the last SisImport, printed at the end.
    if !ctx.settings.json {
        crate::output::stdout_line(&imp.id.to_string())?;
    }

    info!(target: "ui", "demo: step 3/3: watching import {} every 1s", imp.id);
    let poll = ctx.settings.poll.clone();
    let (exit, last) =
        crate::canvas::follow::follow_import(&client, imp.id, &poll, ctx.settings.progress).await?;
    if ctx.settings.json {
        ctx.print_json(&last.map(|i| i.raw).unwrap_or(imp.raw))?;
    }
    let requests = demo.sim.requests();
    info!(
        target: "ui",
        "demo: done: exit code {} ({} request(s) to the simulator, {} import(s) created)",
        exit.code(),
        requests.len(),
        demo.sim.created_count()
    );
    if let Some(p) = &ctx.log_path {
        info!(target: "ui", "demo: the log file is {}", p.display());
    }
    info!(target: "ui", "demo: next: point canvas-sis at your Canvas (README: Configuration) and run `canvas-sis submit bundle.zip --watch`");
    Ok(exit)
}

fn cant_write(out: &Path, e: &dyn std::fmt::Display) -> Failure {
    Failure::no_input(format!("cannot write {}: {e}", out.display())).kind("temp_file_failed")
}

/// The embedded sample as a zip, the shape most SIS exports take.
fn zip_sample(out: &Path) -> Result<()> {
    let f = std::fs::File::create(out).map_err(|e| cant_write(out, &e))?;
    let mut z = zip::ZipWriter::new(f);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in SAMPLE {
        z.start_file(*name, opts)
            .and_then(|_| std::io::Write::write_all(&mut z, bytes).map_err(Into::into))
            .map_err(|e| cant_write(out, &e))?;
    }
    z.finish().map_err(|e| cant_write(out, &e))?;
    Ok(())
}
