//! `config show` and `config check` against the simulator.

use crate::support::*;

#[test]
fn config_show_never_prints_the_token() {
    let e = World::seeded(0);
    let secret = "tok-ABCdef-1234567890-secret";
    // From the environment.
    let out = quiet_cmd(e.home.path())
        .env("CANVAS_ACCESS_TOKEN", secret)
        .args(["--base-url", &e.sim.url(), "config", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
    assert!(
        stdout(&out).contains("CANVAS_ACCESS_TOKEN"),
        "{}",
        stdout(&out)
    );

    // From the config file (access_token), and as JSON.
    let cfg = e.home.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "base_url = \"{}\"\naccess_token = \"{secret}\"\n",
            e.sim.url()
        ),
    )
    .unwrap();
    for json in [false, true] {
        let mut c = quiet_cmd(e.home.path());
        c.arg("-c").arg(&cfg);
        if json {
            c.arg("--json");
        }
        let out = c.args(["config", "show"]).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains(secret), "{}", stdout(&out));
        assert!(!stderr(&out).contains(secret), "{}", stderr(&out));
        if json {
            let v = json_of(&out);
            assert!(
                v["settings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["key"] == "token")
            );
        }
    }

    // From a token file.
    let tf = e.home.path().join("token");
    std::fs::write(&tf, secret).unwrap();
    let out = quiet_cmd(e.home.path())
        .arg("--token-file")
        .arg(&tf)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
}

fn json_of(o: &std::process::Output) -> serde_json::Value {
    json(o)
}

#[test]
fn config_check_ok() {
    let e = World::seeded(0);
    let out = e.quiet_cmd().args(["config", "check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = e
        .quiet_cmd()
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["ok"], true);
}

#[test]
fn config_check_bad_token_is_77() {
    let e = World::seeded(0);
    let out = quiet_cmd(e.home.path())
        .env("CANVAS_ACCESS_TOKEN", "wrong-token")
        .args(["--base-url", &e.sim.url(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-token"));
}

#[test]
fn config_check_unknown_account_is_5() {
    let e = World::seeded(0);
    let out = e
        .quiet_cmd()
        .args(["--account-id", "98765", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("98765"), "{}", stderr(&out));
}

#[test]
fn config_check_without_token_is_78() {
    let e = World::seeded(0);
    let out = quiet_cmd(e.home.path())
        .args(["--base-url", &e.sim.url(), "config", "check"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(e.sim.requests().is_empty());
}
