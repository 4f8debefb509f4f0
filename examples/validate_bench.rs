//! Benchmark driver for `canvas_sis::validate` (see bench/validate.sh).
//!
//! `validate_bench validate PATH...` runs `validate_paths` and prints the summary;
//! `validate_bench ceiling FILE...` counts `csv::ByteRecord`s, the throughput ceiling.

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let paths: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let bytes: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let t = Instant::now();
    match mode.as_str() {
        "validate" => {
            let mut opts = canvas_sis::validate::Options::default();
            if let Some(m) = std::env::var_os("VALIDATE_BENCH_MAX") {
                opts.max_diagnostics = m.to_str().and_then(|m| m.parse().ok()).expect("max");
            }
            let r = canvas_sis::validate::validate_paths(&paths, &opts).expect("inputs");
            let secs = t.elapsed().as_secs_f64();
            if std::env::var_os("VALIDATE_BENCH_PRINT").is_some() {
                r.write_text(&mut std::io::stdout()).expect("stdout");
                println!("{}", r.to_json());
            } else {
                println!("{}", r.summary_line());
            }
            println!("validate: {secs:.3}s {:.1} MB/s", bytes as f64 / secs / 1e6);
        }
        "ceiling" => {
            let mut n = 0u64;
            let mut rec = csv::ByteRecord::new();
            for p in &paths {
                let mut rdr = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_path(p)
                    .expect("open");
                while rdr.read_byte_record(&mut rec).expect("csv") {
                    n += 1;
                }
            }
            let secs = t.elapsed().as_secs_f64();
            println!("{n} records");
            println!("ceiling: {secs:.3}s {:.1} MB/s", bytes as f64 / secs / 1e6);
        }
        _ => {
            eprintln!("usage: validate_bench validate|ceiling PATH...");
            std::process::exit(2);
        }
    }
}
