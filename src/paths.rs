//! The directories canvas-sis keeps its state in, and how files in them are opened.
//!
//! The state dir (journal, locks, and the default log dir) is `$XDG_STATE_HOME/canvas-sis`,
//! or, with no home at all, `$TMPDIR/canvas-sis-UID`. The temp dir is shared with every other
//! user, so anything found there may have been planted: a directory (or a symlink to one) that
//! another user owns would take our journal and locks, and a symlinked log file would have our
//! lines appended to its target. So every directory the tool creates is made 0700 and, found
//! already there, is refused when it is a symlink, not ours, or writable by group or others
//! (contract, "Paths the tool creates"); files in it are opened without following symlinks.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::env_names as envn;
use crate::exit::{Failure, Result};

/// `$VAR`, else `$HOME/fallback`.
pub fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os(envn::HOME)
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// Where the state dir is, without creating or checking it.
pub fn state_dir_path() -> PathBuf {
    match xdg_dir(envn::XDG_STATE_HOME, ".local/state") {
        Some(d) => d.join("canvas-sis"),
        None => std::env::temp_dir().join(format!("canvas-sis-{}", user_id())),
    }
}

/// The state dir, created 0700 if missing and refused if it is not safely ours (exit 78).
pub fn state_dir() -> Result<PathBuf> {
    let d = state_dir_path();
    ensure_private_dir(&d).map_err(|e| {
        Failure::config(format!("cannot use the state directory {}: {e}", d.display()))
            .kind("state_dir")
            .hint(
            format!(
                "the journal and the locks live there; set {} to a directory of your own (e.g. one with mode 0700)",
                envn::XDG_STATE_HOME
            ),
        )
        .unless_disk_full(&format!("the state directory {}", d.display()), &e)
    })?;
    Ok(d)
}

/// The state dir if it exists and is safely ours; `None` if it does not exist yet.
pub fn existing_state_dir() -> Result<Option<PathBuf>> {
    let d = state_dir_path();
    match std::fs::symlink_metadata(&d) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        _ => state_dir().map(Some),
    }
}

/// The effective user id.
pub fn user_id() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Create `dir` (itself and any parent it makes 0700, as XDG asks of `$XDG_STATE_HOME`,
/// whatever the umask), or check the one that is there: not a symlink, a directory, owned by
/// this user, not writable by group or others.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    check_private_dir(dir)
}

/// The checks of [`ensure_private_dir`] on a directory that exists. A symlink is followed
/// only when this user or root made it, as the kernel's `protected_symlinks` decides:
/// systemd's `StateDirectory=` with `DynamicUser=` is a root-owned link into
/// `/var/lib/private`, while a link planted in the temp dir belongs to whoever planted it.
pub fn check_private_dir(dir: &Path) -> io::Result<()> {
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    let link = std::fs::symlink_metadata(dir)?;
    if link.file_type().is_symlink() && link.uid() != user_id() && link.uid() != 0 {
        return refuse(format!(
            "it is a symbolic link that uid {} made, which may have been planted",
            link.uid()
        ));
    }
    let m = std::fs::metadata(dir)?;
    if !m.is_dir() {
        return refuse("it is not a directory".into());
    }
    if m.uid() != user_id() {
        return refuse(format!(
            "it belongs to uid {}, not to this user (uid {})",
            m.uid(),
            user_id()
        ));
    }
    if m.mode() & 0o022 != 0 {
        return refuse(format!(
            "group or others may write to it (mode {:o}); run chmod 700 on it",
            m.mode() & 0o777
        ));
    }
    Ok(())
}

/// Open options that never follow a symlink at the last path component, and make a new file
/// 0600 whatever the umask (journal, locks, the archive's copy of a bundle: student data).
pub fn no_follow() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .mode(0o600);
    o
}

/// Write `bytes` to `path` as a new file (O_EXCL, 0600) renamed over the old name: a reader
/// sees the old file or the new one, never half of one, and a symlink planted at that name is
/// replaced, never followed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    replace(path, Durable::Yes, |f| f.write_all(bytes))
}

/// Whether [`replace`] syncs the new file before it takes the name.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    Yes,
    /// A cache: losing it to a power cut costs a recount, not a record.
    No,
}

/// [`write_atomic`] for content written by `write` (streamed, or not worth a sync).
pub fn replace(
    path: &Path,
    durable: Durable,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    write(tmp.as_file_mut())?;
    if durable == Durable::Yes {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Read a whole file without following a symlink.
pub fn read_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f: File = no_follow().read(true).open(path)?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// A file read (without following a symlink) as JSON of a `T`; None when it is missing or
/// does not read.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_slice(&read_no_follow(path).ok()?).ok()
}

/// Where the sizes of the run folders in `dir` are kept between runs (`record::Archive`):
/// the state dir's `archive/`, one file per archive dir.
pub fn archive_sizes(dir: &Path) -> PathBuf {
    let key = short_hash(dir.as_os_str().as_encoded_bytes());
    state_dir_path()
        .join("archive")
        .join(format!("{key}.sizes"))
}

/// The first 16 hex digits of `key`'s sha256: a file name per URL, account or directory.
pub fn short_hash(key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = hex::encode(Sha256::digest(key));
    h.truncate(16);
    h
}

/// Every `dir/*/FILE` that reads as a `T`, with its folder; a folder that is not a real
/// directory, or whose file is missing or unreadable, is skipped. The run archive and the
/// held runs are kept this way.
pub fn json_in_subdirs<T: serde::de::DeserializeOwned>(
    dir: &Path,
    file: &str,
) -> Vec<(PathBuf, T)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.path(), read_json(&e.path().join(file))?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_0700_and_refuses_what_is_not_safely_ours() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b/canvas-sis");
        ensure_private_dir(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A second call accepts it.
        ensure_private_dir(&d).unwrap();

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private_dir(&open).unwrap_err().to_string();
        assert!(e.contains("group or others may write"), "{e}");

        // A link this user made to a dir of its own is followed (systemd's StateDirectory=
        // with DynamicUser= is such a link, made by root).
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        ensure_private_dir(&link).unwrap();

        let file = t.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = ensure_private_dir(&file).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
    }

    #[test]
    fn no_follow_refuses_a_symlinked_file() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let link = t.path().join("log");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(no_follow().append(true).create(true).open(&link).is_err());
        assert!(read_no_follow(&link).is_err());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}

/// Where a file the user named for output (a report, a download, a converted bundle) goes.
#[derive(Debug)]
pub enum Output {
    /// New, or an existing regular file (`existing`, through any symlink: the link stays):
    /// written beside it and renamed in, so that nobody reads it half-written.
    Replace {
        path: PathBuf,
        existing: Option<std::fs::Metadata>,
    },
    /// A FIFO, a device or a socket: written through, as a shell redirect would. A rename
    /// would replace the node itself (as root, even `/dev/null`).
    Through(PathBuf),
    /// A folder: nothing to write to.
    Folder,
}

impl Output {
    /// What is at `path` now (symlinks followed).
    pub fn at(path: &Path) -> Output {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => Output::Folder,
            Ok(m) if m.is_file() => Output::Replace {
                // A symlink to a file: replace the file it names, and keep the link.
                path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
                existing: Some(m),
            },
            Ok(_) => Output::Through(path.to_path_buf()),
            // Missing (or unreadable: the write says why).
            Err(_) => Output::Replace {
                path: path.to_path_buf(),
                existing: None,
            },
        }
    }

    /// Whether something is there already.
    pub fn exists(&self) -> bool {
        !matches!(self, Output::Replace { existing: None, .. })
    }
}

/// Open a FIFO, device or socket named for output, to write through it.
pub fn open_through(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).truncate(true).open(path)
}
