//! The fixture every test of this binary shares: a simulator on loopback ([`World`]) and the
//! real `canvas-sis` pointed at it with a private HOME, so nothing touches the real one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fake_canvas::{Config, Handle, RecordedRequest, Scenario};

/// Upper bound for one run of the binary by [`quiet_cmd`] (no test should come near it).
pub const RUN_LIMIT: Duration = Duration::from_secs(90);

/// A simulator and a private HOME (with its XDG dirs) for the binary.
pub struct World {
    pub sim: Handle,
    pub home: tempfile::TempDir,
}

impl World {
    /// A simulator in `scenario` whose imports finish on the second poll.
    pub fn new(scenario: Scenario) -> World {
        World::with(Config {
            scenario,
            polls_to_finish: 2,
            ..Default::default()
        })
    }

    pub fn with(cfg: Config) -> World {
        World {
            sim: fake_canvas::spawn(cfg).expect("simulator starts"),
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// The default simulator with `n` finished imports already on the account.
    pub fn seeded(n: usize) -> World {
        World::with(Config {
            seed_imports: n,
            ..Default::default()
        })
    }

    /// `canvas-sis` with URL and token in the environment, logs in the private state dir.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = bare_cmd(self.home.path());
        c.env("CANVAS_BASE_URL", self.sim.url())
            .env("CANVAS_ACCESS_TOKEN", self.sim.token());
        c
    }

    /// [`World::cmd`] as a `std::process::Command` (stdout to a file, signals).
    pub fn std_cmd(&self) -> std::process::Command {
        let mut c = std_cmd(self.home.path());
        c.env("CANVAS_BASE_URL", self.sim.url())
            .env("CANVAS_ACCESS_TOKEN", self.sim.token());
        c
    }

    /// `canvas-sis --no-log-file --base-url URL` with the token in the environment and an
    /// empty stdin, as an operator types it ([`quiet_cmd`]).
    pub fn quiet_cmd(&self) -> assert_cmd::Command {
        let mut c = quiet_cmd(self.home.path());
        c.env("CANVAS_ACCESS_TOKEN", self.sim.token())
            .arg("--base-url")
            .arg(self.sim.url());
        c
    }

    pub fn log_dir(&self) -> PathBuf {
        self.home.path().join("state/canvas-sis")
    }

    /// Every log file's text, concatenated.
    pub fn log_text(&self) -> String {
        let mut out = String::new();
        if let Ok(rd) = std::fs::read_dir(self.log_dir()) {
            for e in rd.flatten() {
                let log = e
                    .file_name()
                    .to_string_lossy()
                    .starts_with("canvas_sis.log");
                if log && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                    out.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
                }
            }
        }
        out
    }

    pub fn posts(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }

    /// Requests on the API listener whose path ends with `suffix`.
    pub fn api_requests(&self, method: &str, suffix: &str) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.listener == "api" && r.method == method && r.path.ends_with(suffix))
            .collect()
    }

    /// Requests that are not GETs (anything that could change state).
    pub fn writes(&self) -> Vec<RecordedRequest> {
        self.sim
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Id of the seeded/created import at `index` (creation order) and its state.
    pub fn import(&self, index: usize) -> (u64, String) {
        let v = &self.sim.imports()[index];
        (
            v["id"].as_u64().unwrap(),
            v["workflow_state"].as_str().unwrap().to_string(),
        )
    }

    /// The first import in `state`.
    pub fn first_in(&self, state: &str) -> u64 {
        self.sim
            .imports()
            .iter()
            .find(|v| v["workflow_state"] == state)
            .and_then(|v| v["id"].as_u64())
            .unwrap_or_else(|| panic!("no import in {state}"))
    }

    /// Submit the sample bundle (no watch) and return the new import's id.
    /// A submit of the sample that Canvas refuses (a revoked token: 401, exit 77), which
    /// made no import.
    pub fn refused_submit(&self) {
        let refused = self
            .cmd()
            .env("CANVAS_ACCESS_TOKEN", "revoked")
            .args(["submit", "--no-validate"])
            .arg(sample_zip())
            .output()
            .unwrap();
        assert_eq!(refused.status.code(), Some(77), "{}", stderr(&refused));
    }

    pub fn submit_sample(&self) -> u64 {
        let out = self
            .quiet_cmd()
            .arg("--json")
            .arg("submit")
            .arg(sample_zip())
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "submit failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.sim
            .imports()
            .last()
            .and_then(|v| v["id"].as_u64())
            .expect("an import was created")
    }

    /// Write a file into the private home and return its path.
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.home.path().join(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

/// `canvas-sis` with a private HOME and none of the caller's CANVAS_* settings.
pub fn bare_cmd(home: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::from_std(std_cmd(home));
    c.timeout(Duration::from_secs(60));
    c
}

/// The same as a `std::process::Command`, for tests that set stdout or send signals.
pub fn std_cmd(home: &Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("canvas-sis"));
    for (k, _) in std::env::vars() {
        if k.starts_with("CANVAS_")
            || ["NO_COLOR", "JOURNAL_STREAM", "RUST_LOG"].contains(&k.as_str())
        {
            c.env_remove(k);
        }
    }
    c.current_dir(home)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    c
}

/// [`bare_cmd`] with no log file, an empty stdin and [`RUN_LIMIT`].
pub fn quiet_cmd(home: &Path) -> assert_cmd::Command {
    let mut c = bare_cmd(home);
    c.arg("--no-log-file").timeout(RUN_LIMIT).write_stdin("");
    c
}

/// The sample bundle shipped in `samples/`.
pub fn sample_zip() -> PathBuf {
    sample_dir("bundle.zip")
}

pub fn sample_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name)
}

pub fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

pub fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Stdout as one JSON document (panics with both streams otherwise).
pub fn json(o: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {}\nstderr: {}",
            stdout(o),
            stderr(o)
        )
    })
}

/// A copy of the sample bundle in the world's home with `enrollments.csv` replaced.
pub fn with_enrollments(w: &World, name: &str, enrollments: &str) -> PathBuf {
    let dir = w.home.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(sample_dir("bundle")).unwrap().flatten() {
        std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
    }
    std::fs::write(dir.join("enrollments.csv"), enrollments).unwrap();
    dir
}

/// The simulator's active enrollments: what Canvas holds live.
pub fn live_enrollments(w: &World) -> u64 {
    w.sim
        .store()
        .enrollments
        .values()
        .filter(|o| o.status == "active")
        .count() as u64
}

/// The command of a crontab line (what cron hands to `sh -c`: the line less its five time
/// fields), as words.
pub fn cron_words(line: &str) -> Vec<&str> {
    let mut rest = line;
    for _ in 0..5 {
        rest = rest.trim_start();
        rest = &rest[rest.find(char::is_whitespace).expect("five time fields")..];
    }
    rest.split_whitespace().collect()
}

/// Run `command` as cron runs it: `/bin/sh -c`, a bare environment (the world's HOME and
/// XDG dirs, its simulator's URL and token, PATH with the built binary), no terminal.
pub fn cron_sh(w: &World, command: &str) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("canvas-sis");
    let home = w.home.path();
    let mut sh = std::process::Command::new("/bin/sh");
    sh.env_clear()
        .env(
            "PATH",
            format!("{}:/usr/bin:/bin", bin.parent().unwrap().display()),
        )
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("CANVAS_BASE_URL", w.sim.url())
        .env("CANVAS_ACCESS_TOKEN", w.sim.token())
        .current_dir(home)
        .arg("-c")
        .arg(command);
    assert_cmd::Command::from_std(sh)
        .timeout(Duration::from_secs(60))
        .write_stdin("")
        .output()
        .unwrap()
}

/// A loopback port that refuses connections and that no other test can take while the
/// returned socket lives: bound, never listening (a port bound and let go can be handed to
/// another test's server at once, which then answers instead of refusing).
pub fn refusing_port() -> (tokio::net::TcpSocket, u16) {
    let s = tokio::net::TcpSocket::new_v4().expect("a socket");
    s.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let port = s.local_addr().expect("its address").port();
    (s, port)
}

/// `--watch` as the tests use it: a poll a second, at most 20 (the simulator ends an import
/// in a few polls).
pub const WATCH: [&str; 5] = ["--watch", "--interval", "1", "--max-polls", "20"];

/// A FIFO at `path`, and a thread reading all that is written through it. Call
/// [`FifoReader::bytes`] after the writer has run: it ends the read even when nobody wrote.
pub struct FifoReader {
    path: PathBuf,
    reader: std::thread::JoinHandle<Vec<u8>>,
}

impl FifoReader {
    pub fn new(path: &Path) -> FifoReader {
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo {}", path.display());
        let p = path.to_path_buf();
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = vec![];
            if let Ok(mut f) = std::fs::File::open(&p) {
                let _ = f.read_to_end(&mut buf);
            }
            buf
        });
        FifoReader {
            path: path.to_path_buf(),
            reader,
        }
    }

    /// What came through. A writer that never opened the FIFO is stood in for by an empty
    /// one (opened without blocking), so the reader always ends.
    pub fn bytes(self) -> Vec<u8> {
        use std::os::unix::fs::OpenOptionsExt;
        for _ in 0..100 {
            if self.reader.is_finished() {
                break;
            }
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&self.path);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.reader.join().unwrap()
    }
}

/// A raw HTTP server on 127.0.0.1 for one protocol edge, bounded: each of at most `conns`
/// connections gets a thread of its own, which reads the request's head (waiting at most
/// 10 s for it) and hands the connection and the head to `serve`. Returns its address.
pub fn raw_http(
    conns: usize,
    serve: impl Fn(std::net::TcpStream, String) + Send + Sync + 'static,
) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for mut c in listener.incoming().take(conns).flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(10)));
                if let Some(head) = read_head(&mut c) {
                    serve(c, head);
                }
            });
        }
    });
    addr
}

/// Read a request's head (up to the blank line, at most 64 KiB) from a raw connection, byte
/// by byte so that none of its body is taken; None when the peer closes first.
pub fn read_head(c: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match c.read(&mut b) {
            Ok(1) => head.push(b[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// `child` as `std_cmd` spawned it, once `came` says the moment has come (within 20 s; else
/// killed and failed): SIGTERM, then its output, which must come within 10 s.
pub fn terminated_when(
    mut child: std::process::Child,
    came: &std::sync::mpsc::Receiver<()>,
    settle: Duration,
) -> std::process::Output {
    if came.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = child.kill();
        panic!("the moment to stop it never came");
    }
    std::thread::sleep(settle);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() >= end {
            let _ = child.kill();
            panic!("it did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// [`World::std_cmd`]-style spawn with stdin empty and stdout/stderr kept.
pub fn spawn_piped(mut c: std::process::Command) -> std::process::Child {
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `c` run under `umask`, as a user whose shell set it would run it.
pub fn with_umask(c: &mut std::process::Command, umask: u32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: umask(2) is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        c.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
}
