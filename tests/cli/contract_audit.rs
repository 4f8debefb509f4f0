//! Black-box checks of the binary against `shared/spec/cli-contract.md`, one test per
//! discrepancy the contract audit found (each fails without its fix).

use crate::support::*;
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
        .args(["--json", "submit", "--watch", "--interval", "1"])
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

/// Contract, settings: flag > env > file > default. An empty environment variable (as a
/// unit file's `Environment=CANVAS_BASE_URL=` leaves it) is unset, like an empty
/// CANVAS_ACCESS_TOKEN: it must neither hide the config file's value nor be a usage error
/// (it used to be exit 2 for CANVAS_SIS_CONFIG / CANVAS_SIS_LOG_DIR, and an empty URL or
/// account for the others).
#[test]
fn empty_environment_variables_count_as_unset() {
    let w = World::new(Scenario::Ok);
    let home = w.home.path();
    let logs = home.join("file-logs");
    std::fs::write(
        home.join("canvas_sis.toml"),
        format!(
            "base_url = {:?}\naccount_id = \"self\"\n[log]\ndir = {:?}\n",
            w.sim.url(),
            logs.display().to_string()
        ),
    )
    .unwrap();
    let out = bare_cmd(home)
        .env("CANVAS_ACCESS_TOKEN", w.sim.token())
        .env("CANVAS_SIS_CONFIG", "")
        .env("CANVAS_SIS_PROFILE", "")
        .env("CANVAS_BASE_URL", "")
        .env("CANVAS_ACCOUNT_ID", "")
        .env("CANVAS_SIS_LOG_DIR", "")
        .arg("submit")
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(w.posts().len(), 1);
    assert_eq!(w.posts()[0].path, "/api/v1/accounts/self/sis_imports");
    let log = std::fs::read_to_string(logs.join("canvas_sis.log")).expect("log in [log] dir");
    assert!(log.contains("created"), "log: {log}");

    // A non-empty variable still wins over the file.
    let out = bare_cmd(home)
        .env("CANVAS_ACCESS_TOKEN", w.sim.token())
        .env("CANVAS_ACCOUNT_ID", "999")
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let v = one_json_document(&out);
    let acct = v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "account_id")
        .unwrap();
    assert_eq!(acct["value"], "999");
    assert_eq!(acct["source"], "env CANVAS_ACCOUNT_ID");
}

/// Contract, binary: `<command> --help` documents every option's default. `--wait-lock`
/// said none. (`watch` takes no lock, so it no longer offers the option.)
#[test]
fn wait_lock_help_gives_its_default() {
    let home = tempfile::tempdir().unwrap();
    let out = bare_cmd(home.path())
        .args(["watch", "--help"])
        .output()
        .unwrap();
    assert!(!stdout(&out).contains("--wait-lock"), "{}", stdout(&out));
    {
        let cmd = "submit";
        let out = bare_cmd(home.path())
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let help = stdout(&out);
        let at = help.find("--wait-lock").expect("--wait-lock in help");
        let next = help[at + 2..]
            .find("\n      --")
            .map_or(help.len(), |n| at + 2 + n);
        let entry = &help[at..next];
        assert!(entry.contains("[default: 0s]"), "{cmd} --help: {entry}");
    }
}

/// Every `§N` cited in the code resolves in the reference kept in `docs/`, so a maintainer
/// with only the repository can follow it: a heading `N.` / `N.M`, or item M of section N.
#[test]
fn every_section_citation_resolves_in_docs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference = std::fs::read_to_string(root.join("docs/canvas-sis-api.md"))
        .expect("docs/canvas-sis-api.md is in the repository");
    let headings: Vec<String> = reference
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| l.trim_start_matches('#').split_whitespace().next())
        .map(|n| n.trim_end_matches('.').to_string())
        .collect();
    let item_of = |section: &str, item: &str| {
        let start = format!("## {section}. ");
        reference.split(&start).nth(1).is_some_and(|body| {
            let body = body.split("\n## ").next().unwrap_or("");
            body.lines().any(|l| l.starts_with(&format!("{item}. ")))
        })
    };
    let mut files = Vec::new();
    for dir in ["src", "fake-canvas/src"] {
        let mut stack = vec![root.join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
    }
    let mut cited = 0;
    let mut missing = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (at, _) in text.match_indices('§') {
            let before = &text[at.saturating_sub(12)..at];
            if before.contains("RFC") {
                continue;
            }
            let num: String = text[at + '§'.len_utf8()..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            let num = num.trim_end_matches('.');
            if num.is_empty() {
                continue;
            }
            cited += 1;
            let ok = headings.iter().any(|h| h == num)
                || num
                    .rsplit_once('.')
                    .is_some_and(|(s, item)| headings.iter().any(|h| h == s) && item_of(s, item));
            if !ok {
                missing.push(format!("{}: §{num}", f.display()));
            }
        }
    }
    assert!(cited > 100, "only {cited} citations found");
    assert!(missing.is_empty(), "{missing:#?}");
}

/// Every environment variable the command line reads is one of `env_names.rs`'s, and every
/// name there is a real one the code uses (no literal names elsewhere).
#[test]
fn every_env_name_comes_from_env_names() {
    let mut stack = vec![canvas_sis::cli::command()];
    let mut seen = 0;
    while let Some(cmd) = stack.pop() {
        for a in cmd.get_arguments() {
            if let Some(env) = a.get_env() {
                seen += 1;
                let env = env.to_str().unwrap();
                assert!(
                    canvas_sis::env_names::ALL.contains(&env),
                    "--{} reads {env}, which env_names.rs does not define",
                    a.get_id()
                );
            }
        }
        stack.extend(cmd.get_subcommands().cloned());
    }
    assert!(seen >= 5, "only {seen} args read the environment");
    // No literal variable name outside env_names.rs.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stack = vec![root.join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.ends_with("env_names.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for name in canvas_sis::env_names::ALL {
                assert!(
                    !text.contains(&format!("\"{name}\"")),
                    "{} writes \"{name}\" instead of the env_names constant",
                    p.display()
                );
            }
        }
    }
}

/// What `--help` says a default is, is what a run without any setting gets (`config show`):
/// both come from the settings table, and this keeps them from drifting apart.
#[test]
fn help_defaults_are_the_effective_defaults() {
    use canvas_sis::settings::table::{Kind, TABLE};
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let effective = |key: &str| -> (String, String) {
        let s = shown["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("config show lists {key}"));
        (
            s["value"].as_str().unwrap().to_string(),
            s["source"].as_str().unwrap().to_string(),
        )
    };
    let mut checked = 0;
    for cmd in ["submit", "watch", "restore", "status"] {
        let help = stdout(
            &bare_cmd(home.path())
                .args([cmd, "--help"])
                .output()
                .unwrap(),
        );
        for d in TABLE {
            let Some(flag) = d.flag else { continue };
            // An entry starts a line; the flag may also be named inside another's help.
            let Some(at) = [" ", "\n"]
                .iter()
                .find_map(|end| help.find(&format!("\n      --{flag}{end}")))
                .map(|n| n + 7)
            else {
                continue;
            };
            let next = help[at + 2..]
                .find("\n      --")
                .or_else(|| help[at + 2..].find("\n  -"))
                .map_or(help.len(), |n| at + 2 + n);
            let entry = help[at..next]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let Some(def) = entry
                .split("[default: ")
                .nth(1)
                .map(|s| s.split(']').next().unwrap())
            else {
                assert!(
                    d.default.is_none() || d.kind == Kind::Switch,
                    "{cmd} --help: --{flag} gives no default: {entry}"
                );
                continue;
            };
            let (value, source) = effective(d.key);
            assert_eq!(source, "default", "{}", d.key);
            if d.key == "log.dir" {
                assert!(value.ends_with("state/canvas-sis"), "{value}");
            } else {
                assert_eq!(
                    d.kind.parse(def),
                    d.kind.parse(&value),
                    "{cmd} --help says --{flag} defaults to {def}, a plain run uses {value}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} defaults checked");
}
