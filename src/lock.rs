//! The overlap lock: one canvas-sis run per (Canvas URL, account) on this host, held from
//! validation to the end of the watch. An advisory `flock` on a file in the state dir: the OS
//! drops it when the holder exits or dies, so a stale lock is taken over by itself. The file
//! holds the holder's PID and start time, for the message a second run prints.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::exit::{Exit, Failure, Result};

/// Held for as long as the value lives.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

/// The lock file for a Canvas URL and account.
pub fn lock_path(state_dir: &Path, base_url: &str, account: &str) -> PathBuf {
    let key = crate::paths::short_hash(format!("{base_url}\n{account}").as_bytes());
    state_dir.join("locks").join(format!("{key}.lock"))
}

/// Take the lock, waiting up to `wait` (zero: not at all). Exit 75 if another run holds it.
pub fn acquire(path: &Path, what: &str, wait: Duration) -> Result<RunLock> {
    if let Some(d) = path.parent() {
        crate::paths::ensure_private_dir(d).map_err(|e| {
            Failure::config(format!(
                "cannot use the lock directory {}: {e}",
                d.display()
            ))
            .kind("state_dir")
            .hint("set XDG_STATE_HOME to a directory of your own")
        })?;
    }
    let mut file = crate::paths::no_follow()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| {
            Failure::config(format!("cannot open the lock file {}: {e}", path.display()))
                .kind("state_dir")
        })?;
    let deadline = Instant::now() + wait;
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file);
                if Instant::now() >= deadline {
                    return Err(Failure::new(
                        Exit::TempFail,
                        format!("another canvas-sis run holds the lock for {what}: {holder}"),
                    )
                    .kind("locked")
                    .hint("wait for it to finish, or pass --wait-lock DURATION to wait"));
                }
                if !announced {
                    tracing::info!(target: "canvas_sis", "waiting for the lock for {what} ({holder})");
                    announced = true;
                }
                crate::interrupt::check(|| format!("waiting for the lock for {what} ({holder})"))?;
                std::thread::sleep(Duration::from_millis(200).min(deadline - Instant::now()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(
                    Failure::config(format!("cannot lock {}: {e}", path.display()))
                        .kind("state_dir"),
                );
            }
        }
    }
    // We hold it: record who we are.
    let me = format!(
        "pid {} since {}\n",
        std::process::id(),
        jiff::Timestamp::now()
            .round(jiff::Unit::Second)
            .unwrap_or(jiff::Timestamp::now())
    );
    // Not synced to disk: other runs read it through the page cache, and after a crash the
    // lock is free anyway (a sync cost each run up to milliseconds on a busy disk).
    let _ = file.set_len(0);
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.write_all(me.as_bytes());
    Ok(RunLock {
        _file: file,
        path: path.to_path_buf(),
    })
}

fn read_holder(f: &mut File) -> String {
    let mut s = String::new();
    let _ = f.seek(SeekFrom::Start(0));
    let _ = f.read_to_string(&mut s);
    let s = s.trim();
    if s.is_empty() {
        "holder unknown".into()
    } else {
        s.to_string()
    }
}
