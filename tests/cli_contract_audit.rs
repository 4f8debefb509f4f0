//! Black-box checks of the binary against `shared/spec/cli-contract.md`, one test per
//! discrepancy the contract audit found (each fails without its fix).

mod common;

use common::*;
use fake_canvas::Scenario;

/// The whole of stdout must be exactly one JSON document.
fn one_json_document(out: &std::process::Output) -> serde_json::Value {
    let text = stdout(out);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {text:?}"))
}

/// Contract, global flags: `--json` prints one JSON document on stdout with the command's
/// result. `submit` used to print the bare import id on stdout before the document.
#[test]
fn submit_json_prints_only_the_sis_import() {
    let w = World::new(Scenario::Ok);
    let out = w
        .cmd()
        .args(["--json", "submit"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v = one_json_document(&out);
    let created = w.sim.imports().last().unwrap()["id"].as_u64();
    assert_eq!(v["id"].as_u64(), created);

    let out = w
        .cmd()
        .args(["--json", "submit", "--watch", "--interval", "0"])
        .arg(sample_dir("bundle"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v = one_json_document(&out);
    assert_eq!(v["workflow_state"], "imported");
    assert_eq!(
        v["id"].as_u64(),
        w.sim.imports().last().unwrap()["id"].as_u64()
    );
}

/// Without `--json`, stdout stays the bare id (scripts read it).
#[test]
fn submit_without_json_prints_the_id() {
    let w = World::new(Scenario::Ok);
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let id: u64 = stdout(&out).trim().parse().expect("stdout is the id");
    assert_eq!(w.sim.imports().last().unwrap()["id"].as_u64(), Some(id));
}
