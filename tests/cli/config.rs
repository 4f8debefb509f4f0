//! Settings: precedence flag > env > file > default, refusals with exit 78.

use crate::support::*;
use fake_canvas::Scenario;

fn shown(out: &std::process::Output, key: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let s = v["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("{key} shown"));
    (
        s["value"].as_str().unwrap().to_string(),
        s["source"].as_str().unwrap().to_string(),
    )
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(
        &cfg,
        "base_url = \"https://file.example.edu\"\naccount_id = 7\n[watch]\ninterval = \"5s\"\n",
    )
    .unwrap();
    let run = |extra: &[&str], env: Option<&str>| {
        let mut c = bare_cmd(home.path());
        c.arg("--json").arg("-c").arg(&cfg).args(extra);
        if let Some(e) = env {
            c.env("CANVAS_BASE_URL", e);
        }
        c.args(["config", "show"]).output().unwrap()
    };
    let o = run(&[], None);
    assert_eq!(shown(&o, "base_url").0, "https://file.example.edu");
    assert!(
        shown(&o, "base_url").1.ends_with("c.toml:1"),
        "{:?}",
        shown(&o, "base_url")
    );
    assert_eq!(
        shown(&o, "account_id"),
        ("7".into(), format!("{}:2", cfg.display()))
    );
    let o = run(&[], Some("https://env.example.edu"));
    assert_eq!(
        shown(&o, "base_url"),
        (
            "https://env.example.edu".into(),
            "env CANVAS_BASE_URL".into()
        )
    );
    let o = run(
        &["--base-url", "https://flag.example.edu"],
        Some("https://env.example.edu"),
    );
    assert_eq!(
        shown(&o, "base_url"),
        ("https://flag.example.edu".into(), "flag --base-url".into())
    );
    assert_eq!(shown(&o, "log.keep"), ("30".into(), "default".into()));
}

#[test]
fn precedence_decides_where_requests_go() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("c.toml", b"base_url = \"https://unreachable.invalid\"\n");
    // The env URL (the simulator) beats the file's.
    w.cmd()
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .assert()
        .code(0);
    assert_eq!(w.posts().len(), 1);
}

#[test]
fn watch_interval_from_the_config_file() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file("c.toml", b"[watch]\ninterval = \"1\"\nmax_polls = 2\n");
    let out = w.cmd().arg("submit").arg(sample_zip()).output().unwrap();
    let id = stdout(&out).trim().to_string();
    // polls_to_finish is 2, so two polls are not enough (created → importing → importing).
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["watch", &id])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn refused_settings_exit_78_and_say_where_to_set_them() {
    let home = tempfile::tempdir().unwrap();
    let z = sample_zip();
    // Missing URL.
    let o = bare_cmd(home.path())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .arg("submit")
        .arg(&z)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("CANVAS_BASE_URL"), "{}", stderr(&o));
    // Missing token.
    let o = bare_cmd(home.path())
        .env("CANVAS_BASE_URL", "https://canvas.example.edu")
        .arg("submit")
        .arg(&z)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("CANVAS_ACCESS_TOKEN"), "{}", stderr(&o));
    // http:// off loopback.
    let o = bare_cmd(home.path())
        .env("CANVAS_BASE_URL", "http://canvas.example.edu")
        .env("CANVAS_ACCESS_TOKEN", "t")
        .arg("submit")
        .arg(&z)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("http:// is refused"), "{}", stderr(&o));
    // Bad TOML names the file and line.
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "base_url = \"x\"\n[log\n").unwrap();
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(&cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("bad.toml:2"), "{}", stderr(&o));
    // Printed like every later error: `error: …` (not `canvas-sis: error: …`).
    assert!(stderr(&o).starts_with("error: "), "{}", stderr(&o));
    // Unreadable config file.
    let o = bare_cmd(home.path())
        .args(["-c", "/nonexistent/c.toml", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    // Unknown profile.
    std::fs::write(&cfg, "[profiles.a]\nbase_url = \"https://a.edu\"\n").unwrap();
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(&cfg)
        .args(["--profile", "b", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("profiles there: a"), "{}", stderr(&o));
}

#[test]
fn a_misspelt_event_or_a_webhook_that_is_no_web_url_is_refused_and_webhooks_are_shown_by_host() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("n.toml");
    let show = |text: &str| {
        std::fs::write(&cfg, text).unwrap();
        bare_cmd(home.path())
            .arg("-c")
            .arg(&cfg)
            .args(["--json", "config", "show"])
            .output()
            .unwrap()
    };
    // One typo would silence every alert: refused, naming the line and the words it takes.
    let o = show(
        "[notify]\nwebhook = [\"https://hooks.example.edu/x\"]\non = [\"failed\", \"faild\"]\n",
    );
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("n.toml:3"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"faild\" is not one of: failed, held"),
        "{}",
        stderr(&o)
    );
    let o = show("[notify]\nwebhook = [\"ftp://files.example.edu/drop\"]\n");
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("only http:// and https://"),
        "{}",
        stderr(&o)
    );
    // That secret never crosses the network in clear text: http:// only on loopback.
    let o = show("[notify]\nwebhook = [\"http://hooks.example.edu/services/s3cr3tpath\"]\n");
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("http:// is refused off loopback"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("s3cr3tpath"), "{}", stderr(&o));
    let o = show("[notify]\nwebhook = [\"http://127.0.0.1:9/hook\"]\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A Slack or Teams webhook's path is its secret: `config show` names only its host.
    let o = show("[notify]\nwebhook = [\"https://hooks.slack.com/services/T0/B0/s3cr3tpath\"]\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (value, _) = shown(&o, "notify.webhook");
    assert_eq!(value, "https://hooks.slack.com/…");
    assert!(!stdout(&o).contains("s3cr3tpath"), "{}", stdout(&o));
}

#[test]
fn token_file_and_permissive_config_warning() {
    let w = World::new(Scenario::Ok);
    let tf = w.file("token", format!("{}\n", w.sim.token()).as_bytes());
    let mut c = bare_cmd(w.home.path());
    c.env("CANVAS_BASE_URL", w.sim.url())
        .arg("--token-file")
        .arg(&tf)
        .arg("submit")
        .arg(sample_zip())
        .assert()
        .code(0);
    // access_token in a world-readable file draws a warning, and works.
    let cfg = w.file(
        "c.toml",
        format!("access_token = \"{}\"\n", w.sim.token()).as_bytes(),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let o = bare_cmd(w.home.path())
        .env("CANVAS_BASE_URL", w.sim.url())
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&w.sim.token()));
}

#[test]
fn profiles_override_top_level_keys() {
    let w = World::new(Scenario::Ok);
    let cfg = w.file(
        "c.toml",
        format!(
            "base_url = \"https://unused.invalid\"\naccount_id = \"self\"\n[profiles.sim]\nbase_url = \"{}\"\naccount_id = \"sis_account_id:root\"\n",
            w.sim.url()
        )
        .as_bytes(),
    );
    bare_cmd(w.home.path())
        .env("CANVAS_ACCESS_TOKEN", w.sim.token())
        .env("CANVAS_SIS_PROFILE", "sim")
        .arg("-c")
        .arg(&cfg)
        .arg("submit")
        .arg(sample_zip())
        .assert()
        .code(0);
    assert_eq!(
        w.posts()[0].path,
        "/api/v1/accounts/sis_account_id%3Aroot/sis_imports"
    );
}

#[test]
fn help_and_version() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .args(["submit", "--help"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let h = stdout(&o);
    for flag in [
        "--batch-mode-term-id",
        "--diffing-drop-status",
        "--interval",
        "--max-polls",
        "--dry-run",
        "CANVAS_BASE_URL",
    ] {
        assert!(h.contains(flag), "{flag} in help");
    }
    let o = bare_cmd(home.path()).arg("--version").output().unwrap();
    assert!(stdout(&o).starts_with("canvas-sis "));
    bare_cmd(home.path())
        .args(["submit", "--no-such-flag", "x"])
        .assert()
        .code(2);
}

#[test]
fn a_bad_ca_certificate_is_a_config_error() {
    let w = World::new(Scenario::Ok);
    let pem = w.file("ca.pem", b"not a certificate\n");
    let o = w
        .cmd()
        .arg("--ca-cert")
        .arg(&pem)
        .args(["status", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("ca.pem"), "{}", stderr(&o));
    let o = w
        .cmd()
        .args(["--ca-cert", "/nonexistent.pem", "status", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(w.sim.requests().is_empty());
}

/// `~` in the config file's paths is the home directory (no shell expands it there).
#[test]
fn tilde_in_config_paths_is_home() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("tok"), "secret-token\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            home.path().join("tok"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let cfg = home.path().join("c.toml");
    std::fs::write(
        &cfg,
        "base_url = \"https://canvas.example.edu\"\ntoken_file = \"~/tok\"\n[log]\ndir = \"~/logs\"\n",
    )
    .unwrap();
    let o = bare_cmd(home.path())
        .arg("--json")
        .arg("-c")
        .arg(&cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (dir, _) = shown(&o, "log.dir");
    assert_eq!(dir, home.path().join("logs").display().to_string());
    let (_, src) = shown(&o, "token");
    assert!(src.contains("c.toml"), "{src}");
}

/// Sizes are shown exactly, in the unit they were likely written in.
#[test]
fn sizes_are_shown_in_their_own_unit() {
    let home = tempfile::tempdir().unwrap();
    let show = |cfg: &str| {
        let p = home.path().join("c.toml");
        std::fs::write(&p, cfg).unwrap();
        let o = bare_cmd(home.path())
            .arg("--json")
            .arg("-c")
            .arg(&p)
            .args(["config", "show"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        shown(&o, "import.file_upload_threshold").0
    };
    assert_eq!(show(""), "100 MiB");
    assert_eq!(show("[import]\nfile_upload_threshold = \"1kB\"\n"), "1 kB");
    assert_eq!(show("[import]\nfile_upload_threshold = 1500\n"), "1500 B");
}

/// With no home at all, the state dir is per user in the temp dir, never a shared one.
#[test]
fn without_a_home_the_state_dir_is_per_user() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .env_remove("HOME")
        .env_remove("XDG_STATE_HOME")
        .env("TMPDIR", home.path())
        .env("CANVAS_BASE_URL", "https://canvas.example.edu")
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (dir, _) = shown(&o, "log.dir");
    // SAFETY: getuid has no preconditions.
    let uid = unsafe { libc::getuid() };
    assert_eq!(
        dir,
        home.path()
            .join(format!("canvas-sis-{uid}"))
            .display()
            .to_string()
    );
}

/// A profile that names its own Canvas uses its own token and never the top level's
/// (issue: the top level's token_file went to instance B).
#[test]
fn profile_with_its_own_base_url_never_sends_the_top_levels_token() {
    let spawn = |token: &str| {
        fake_canvas::spawn(fake_canvas::Config {
            token: token.into(),
            ..Default::default()
        })
        .expect("simulator starts")
    };
    let a = spawn("token-for-a");
    let b = spawn("token-for-b");
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("tokA"), "token-for-a\n").unwrap();
    let cfg = home.path().join("c.toml");
    let write_cfg = |b_token: &str| {
        std::fs::write(
            &cfg,
            format!(
                "base_url = \"{}\"\ntoken_file = \"tokA\"\n[profiles.b]\nbase_url = \"{}\"\n{b_token}",
                a.url(),
                b.url()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    };
    let auth = |h: &fake_canvas::Handle| -> Vec<String> {
        h.requests()
            .iter()
            .filter_map(|r| r.header("authorization").map(str::to_string))
            .collect()
    };
    write_cfg("access_token = \"token-for-b\"\n");
    let o = bare_cmd(home.path())
        .args(["-c"])
        .arg(&cfg)
        .args(["--profile", "b", "status", "4101"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(77), "{}", stderr(&o));
    assert_eq!(auth(&b), vec!["Bearer token-for-b".to_string()]);
    assert!(auth(&a).is_empty(), "A got {:?}", auth(&a));
    // config show names the profile's token, not the top level's.
    let o = bare_cmd(home.path())
        .args(["--json", "-c"])
        .arg(&cfg)
        .args(["--profile", "b", "config", "show"])
        .output()
        .unwrap();
    let (_, src) = shown(&o, "token");
    assert!(src.ends_with("c.toml:5"), "{src}");

    // No token of its own: exit 78 and nothing sent anywhere.
    write_cfg("");
    let o = bare_cmd(home.path())
        .args(["-c"])
        .arg(&cfg)
        .args(["--profile", "b", "status", "4101"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("profile b"), "{}", stderr(&o));
    assert_eq!(auth(&b).len(), 1, "nothing more reached B");
    assert!(auth(&a).is_empty());
    // A token given for this run (environment) is used for B.
    let o = bare_cmd(home.path())
        .env("CANVAS_ACCESS_TOKEN", "token-for-b")
        .args(["-c"])
        .arg(&cfg)
        .args(["--profile", "b", "status", "4101"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(77), "{}", stderr(&o));
    assert_eq!(auth(&b).len(), 2);
    // Without the profile, the top level's token goes to the top level's Canvas.
    let o = bare_cmd(home.path())
        .args(["-c"])
        .arg(&cfg)
        .args(["status", "4101"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(77), "{}", stderr(&o));
    assert_eq!(auth(&a), vec!["Bearer token-for-a".to_string()]);
}

/// Every value is trimmed the same way, from every layer: an EnvironmentFile edited on
/// Windows leaves a CR at the end of the account id. `~` in a path from the environment is
/// the home directory.
#[test]
fn every_setting_is_trimmed_and_home_is_expanded() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "[watch]\ninterval = \" 2m \"\n").unwrap();
    let o = bare_cmd(home.path())
        .env("CANVAS_ACCOUNT_ID", "1\r")
        .env("CANVAS_SIS_LOG_DIR", "~/logs")
        .args(["--json", "-c"])
        .arg(&cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(shown(&o, "account_id").0, "1");
    assert_eq!(
        shown(&o, "log.dir").0,
        home.path().join("logs").display().to_string()
    );
    assert_eq!(shown(&o, "watch.interval").0, "2m");
    // The config file's path and the profile's name too.
    std::fs::write(&cfg, "[profiles.p2]\naccount_id = \"9\"\n").unwrap();
    let o = bare_cmd(home.path())
        .env("CANVAS_SIS_CONFIG", format!(" {} ", cfg.display()))
        .env("CANVAS_SIS_PROFILE", "p2\r")
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(shown(&o, "account_id").0, "9");
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(format!("{} ", cfg.display()))
        .args(["--profile", " p2 ", "--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(shown(&o, "account_id").0, "9");
}

/// `config show` says what the run does: with `--no-log-file` no log dir is used, wherever
/// one was set.
#[test]
fn config_show_with_no_log_file_shows_no_log_dir() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .env("CANVAS_SIS_LOG_DIR", home.path().join("logs"))
        .args(["--no-log-file", "--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        shown(&o, "log.dir"),
        ("(none: --no-log-file)".into(), "flag --no-log-file".into())
    );
}

/// Unknown keys are reported in file order, each with the nearest real key.
#[test]
fn unknown_keys_in_line_order_with_did_you_mean() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("c.toml");
    std::fs::write(
        &cfg,
        "zebra = 1\nacount_id = 7\n[watch]\nintervall = \"5s\"\n",
    )
    .unwrap();
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(&cfg)
        .args(["config", "show"])
        .output()
        .unwrap();
    let err = stderr(&o);
    let z = err.find("unknown key zebra").expect(&err);
    let a = err.find("unknown key acount_id").expect(&err);
    let i = err.find("unknown key watch.intervall").expect(&err);
    assert!(z < a && a < i, "{err}");
    assert!(
        err.contains("acount_id, ignored (did you mean account_id?)"),
        "{err}"
    );
    assert!(err.contains("(did you mean watch.interval?)"), "{err}");
}

/// A bad duration is a usage error at the command line (exit 2), in our words.
#[test]
fn a_bad_duration_is_refused_at_parse_time() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .args(["watch", "1", "--interval", "soon"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("\"soon\" is not a duration"),
        "{}",
        stderr(&o)
    );
}

/// A config file that another user owns, or that others may write, is refused: it decides
/// where the token goes (as ssh refuses such a config).
#[cfg(unix)]
#[test]
fn a_config_file_others_control_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("canvas_sis.toml");
    std::fs::write(&cfg, "base_url = \"https://elsewhere.example\"\n").unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o666)).unwrap();
    let o = bare_cmd(home.path())
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("group or others may write"),
        "{}",
        stderr(&o)
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = bare_cmd(home.path())
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Owned by another user (needs root to make such a file).
    assert!(
        rustix::process::geteuid().is_root(),
        "run the tests as root (CI does): this part gives the file to nobody"
    );
    rustix::fs::chown(&cfg, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
    let o = bare_cmd(home.path())
        .args(["config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("belongs to uid 65534"),
        "{}",
        stderr(&o)
    );
}

/// Under systemd, `LoadCredential=canvas-token:/etc/canvas-sis/token` gives the token as a
/// file in $CREDENTIALS_DIRECTORY: it is used (after a flag or CANVAS_ACCESS_TOKEN), and it
/// never has to sit in the environment.
#[test]
fn the_token_can_come_from_a_systemd_credential() {
    let sim = fake_canvas::spawn(fake_canvas::Config {
        token: "credential-token".into(),
        ..Default::default()
    })
    .expect("simulator starts");
    let home = tempfile::tempdir().unwrap();
    let creds = home.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("canvas-token"), "credential-token\n").unwrap();
    let o = bare_cmd(home.path())
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("CANVAS_BASE_URL", sim.url())
        .args(["status", "4101"])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(77), "{}", stderr(&o));
    assert_ne!(o.status.code(), Some(78), "{}", stderr(&o));
    let auth: Vec<String> = sim
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization").map(str::to_string))
        .collect();
    assert_eq!(auth, vec!["Bearer credential-token".to_string()]);
    let o = bare_cmd(home.path())
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    let (value, source) = shown(&o, "token");
    assert!(source.starts_with("systemd credential"), "{source}");
    assert!(!value.contains("credential-token"), "{value}");
}

/// A token with a second line (or any control character or space) cannot go in a header:
/// every request failed before it was sent and was retried for the whole budget as if Canvas
/// were down. It is exit 78 at once, naming where the token came from and never the token;
/// a command that sends no token (validate) is not stopped by it.
#[test]
fn a_token_with_a_second_line_is_a_configuration_error_at_once() {
    let w = World::new(Scenario::Ok);
    let tok = w.file("tok", b"SECRETTOKEN123xyz\nsecondline\n");
    let started = std::time::Instant::now();
    let o = w
        .cmd()
        .env_remove("CANVAS_ACCESS_TOKEN")
        .args(["--json", "--token-file"])
        .arg(&tok)
        .args(["status", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let doc = json(&o);
    assert_eq!(doc["error"]["kind"], "token_invalid", "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--token-file"),
        "{doc}"
    );
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !all.contains("SECRETTOKEN") && !all.contains("secondline"),
        "{all}"
    );
    assert!(w.sim.requests().is_empty(), "nothing was sent");

    let o = w
        .cmd()
        .env("CANVAS_ACCESS_TOKEN", "abc\u{1}def")
        .args(["validate"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// The log file is a name inside the checked log dir: a path (`../..`, absolute) would put
/// the log where those checks never look. Refused as a flag (2) and in the file (78).
#[test]
fn the_log_file_is_a_name_not_a_path() {
    let w = World::new(Scenario::Ok);
    let o = w
        .cmd()
        .args(["--log-file", "../../elsewhere.log", "validate"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a path"), "{}", stderr(&o));
    let cfg = w.file("cfg.toml", b"[log]\nfile = \"/tmp/elsewhere.log\"\n");
    let o = w
        .cmd()
        .arg("-c")
        .arg(&cfg)
        .args(["submit", "--dry-run"])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a path"), "{}", stderr(&o));
    assert!(w.sim.requests().is_empty());
}

/// A password in the base URL is refused when the URL is used, and never shown: not in the
/// refusal, not in `config show`.
#[test]
fn a_password_in_the_base_url_is_refused_and_never_shown() {
    let home = tempfile::tempdir().unwrap();
    let url = "http://admin:PASSW0RD@127.0.0.1:9";
    let refused = bare_cmd(home.path())
        .env("CANVAS_ACCESS_TOKEN", "t")
        .args(["--base-url", url, "status", "1"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(78), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("credentials in the URL are refused"),
        "{}",
        stderr(&refused)
    );
    let o = bare_cmd(home.path())
        .args(["--base-url", url, "--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (value, _) = shown(&o, "base_url");
    assert!(value.starts_with("http://admin:"), "{value}");
    for out in [&refused, &o] {
        let all = format!("{}{}", stdout(out), stderr(out));
        assert!(!all.contains("PASSW0RD"), "{all}");
    }
    let log = home.path().join("state/canvas-sis");
    if let Ok(rd) = std::fs::read_dir(&log) {
        for e in rd.flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            assert!(!text.contains("PASSW0RD"), "{}", e.path().display());
        }
    }
}

/// Out-of-range numbers and devices given as settings end as usage or configuration errors
/// with one JSON document: a duration past what the clock holds panicked (101, empty stdout),
/// and `/dev/zero` as the token file was read until the kernel killed the run.
#[test]
fn absurd_settings_are_refused_with_one_json_document() {
    let home = tempfile::tempdir().unwrap();
    let o = bare_cmd(home.path())
        .args([
            "--json",
            "--retry-budget",
            "18446744073709551616",
            "validate",
        ])
        .arg(sample_zip())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["exit_code"], 2);
    let cfg = home.path().join("c.toml");
    std::fs::write(&cfg, "[watch]\ninterval = \"1e300\"\n").unwrap();
    let o = bare_cmd(home.path())
        .arg("-c")
        .arg(&cfg)
        .args(["--json", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("over 100 years"), "{}", stderr(&o));
    let o = bare_cmd(home.path())
        .args(["--json", "--read-timeout", "0", "config", "show"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = bare_cmd(home.path())
        .args([
            "--json",
            "--base-url",
            "http://127.0.0.1:9",
            "--token-file",
            "/dev/zero",
        ])
        .args(["config", "check"])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert_eq!(json(&o)["error"]["kind"], "token_file_unreadable");
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
    // The systemd credential likewise: there but no file is said, not passed over.
    let creds = home.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    std::os::unix::fs::symlink("/dev/zero", creds.join("canvas-token")).unwrap();
    let o = bare_cmd(home.path())
        .env("CREDENTIALS_DIRECTORY", &creds)
        .args([
            "--json",
            "--base-url",
            "http://127.0.0.1:9",
            "config",
            "check",
        ])
        .timeout(std::time::Duration::from_secs(30))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    assert!(stderr(&o).contains("systemd credential"), "{}", stderr(&o));
}

/// A token file others may read is warned of, as a config file holding access_token is.
#[test]
fn a_token_file_others_may_read_is_warned_of() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let tok = home.path().join("token");
    std::fs::write(&tok, "t\n").unwrap();
    let show = || {
        bare_cmd(home.path())
            .arg("--token-file")
            .arg(&tok)
            .args(["config", "show"])
            .output()
            .unwrap()
    };
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(stderr(&show()).contains("is readable by group or others (mode 644)"));
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(!stderr(&show()).contains("readable by group"));
}

/// A request that cannot even be built (here a base URL too long to be an HTTP URI) was
/// retried for the whole budget as if Canvas were down, with "try again later". It can never
/// be sent: exit 78 at once, nothing sent.
#[test]
fn a_request_that_cannot_be_built_is_a_configuration_error_at_once() {
    let w = World::new(Scenario::Ok);
    let url = format!("{}/{}", w.sim.url(), "a".repeat(70_000));
    let started = std::time::Instant::now();
    let o = w
        .cmd()
        .env("CANVAS_BASE_URL", &url)
        .args(["--json", "config", "check"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(78),
        "{}",
        &stderr(&o)[..300.min(stderr(&o).len())]
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(json(&o)["error"]["kind"], "config_invalid");
    assert!(w.sim.requests().is_empty(), "nothing was sent");
}

/// A plain-http Canvas is on loopback: a proxy named in the environment never gets its
/// requests (it would see the token in clear text, and cannot reach this host's loopback).
#[test]
fn a_loopback_canvas_is_never_reached_through_a_proxy() {
    let w = World::with(fake_canvas::Config {
        seed_imports: 1,
        ..Default::default()
    });
    let (_held, port) = refusing_port();
    let proxy = format!("http://127.0.0.1:{port}");
    let id = w.sim.requests().len();
    let o = w
        .cmd()
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env("ALL_PROXY", &proxy)
        .args(["--json", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(w.sim.requests().len() > id, "Canvas itself was asked");
}

/// A token pasted where the base URL goes is not a URL: refused (78) without being shown,
/// on stderr, in `--json`, in `config show` and in the log file.
#[test]
fn a_token_pasted_as_the_base_url_is_never_shown() {
    let home = tempfile::tempdir().unwrap();
    let secret = "7~SECRETTOKEN123xyzSECRETTOKEN123xyz";
    let run = |args: &[&str]| {
        bare_cmd(home.path())
            .env("CANVAS_BASE_URL", secret)
            .env("CANVAS_ACCESS_TOKEN", "t")
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &["status", "1"][..],
        &["--json", "status", "1"],
        &["--json", "config", "show"],
    ] {
        let o = run(args);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("SECRETTOKEN"), "{args:?}: {all}");
        assert!(all.contains("not shown"), "{args:?}: {all}");
    }
    assert_eq!(run(&["status", "1"]).status.code(), Some(78));
    let logs = home.path().join("state/canvas-sis");
    for e in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        assert!(!text.contains("SECRETTOKEN"), "{}", e.path().display());
    }
}
