//! Benchmark helper for `canvas-sis plan` (see bench/plan.sh): make the baseline a plain
//! import of bundle A would leave, without a Canvas.
//!
//! `plan_bench baseline BUNDLE STATE_DIR BASE_URL ACCOUNT` streams BUNDLE's rows into an
//! empty baseline and saves it where `plan` looks for it
//! (`STATE_DIR/baselines/…`; `plan` finds it with `XDG_STATE_HOME` set to STATE_DIR's parent).
//! `plan_bench fold …` (same arguments) folds BUNDLE into the baseline already there, as the
//! end of a plain import does (`plan::on_end`), and saves it.

use std::path::PathBuf;
use std::time::Instant;

use canvas_sis::plan::{baseline, read};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, bundle, state, url, account] = args.as_slice() else {
        eprintln!("usage: plan_bench baseline BUNDLE STATE_DIR BASE_URL ACCOUNT");
        std::process::exit(2);
    };
    assert!(mode == "baseline" || mode == "fold", "unknown mode {mode}");
    let t = Instant::now();
    let url = canvas_sis::settings::check_base_url(url).expect("base URL");
    let path = baseline::baseline_path(&PathBuf::from(state), url.as_str(), account, None);
    let mut base = match mode.as_str() {
        "fold" => baseline::load_baseline(&path, true)
            .expect("baseline")
            .expect("a baseline to fold into"),
        _ => baseline::Baseline {
            meta: baseline::Meta {
                base_url: url.to_string(),
                account: account.clone(),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    // Streamed, as `submit` would fold the import in, without holding the bundle.
    let mut a = baseline::Applier::new(&mut base, &baseline::Scope::default());
    read::visit(&PathBuf::from(bundle), &mut a).expect("bundle");
    a.finish(1);
    baseline::save_baseline(&path, &base).expect("save");
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "baseline: {} ({size} bytes) in {:.2} s",
        path.display(),
        t.elapsed().as_secs_f64()
    );
}
