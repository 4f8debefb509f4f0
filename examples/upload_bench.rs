//! Benchmark helper for `bench/upload.sh`: run the file-upload flow (`canvas::upload`) once
//! against a Canvas (the simulator), and print one JSON line with the timings.
//!
//! `cargo run --release --example upload_bench -- URL TOKEN BUNDLE`

use std::time::Instant;

use canvas_sis::bundle;
use canvas_sis::canvas::testing::client_for_tests;
use canvas_sis::canvas::upload::{FileUploadOutcome, file_upload};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token, path] = args.as_slice() else {
        eprintln!("usage: upload_bench URL TOKEN BUNDLE");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let t0 = Instant::now();
    let b = bundle::prepare(std::path::Path::new(path), None).expect("bundle");
    let prepared = t0.elapsed();
    let client = client_for_tests(url, token, "self").expect("client");
    let query = vec![
        ("import_type", "instructure_csv".to_string()),
        ("extension", b.extension.as_str().to_string()),
    ];
    let t1 = Instant::now();
    let out = rt
        .block_on(file_upload(&client, &b, &query, None))
        .expect("file upload");
    let uploaded = t1.elapsed();
    let id = match out {
        FileUploadOutcome::Created(i) => i.id,
        FileUploadOutcome::NotSupported { .. } => {
            eprintln!("the simulator ignored pre_attachment (wrong scenario?)");
            std::process::exit(1);
        }
    };
    println!(
        "{{\"bytes\":{},\"prepare_secs\":{:.3},\"upload_secs\":{:.3},\"total_secs\":{:.3},\"import_id\":{id}}}",
        b.len,
        prepared.as_secs_f64(),
        uploaded.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}
