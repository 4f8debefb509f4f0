//! The log file: `NAME.DATE` (daily, local time) or `NAME.DATE-HH` (hourly), with `NAME` a
//! symlink to the current one, or plain `NAME` (rotation "never").
//!
//! Written by hand rather than with tracing-appender's roller, which failed the ways admins
//! hit: concurrent runs raced on the "latest" link (exit 78), the link pointed at a relative
//! path that did not resolve, file names used the UTC date while lines used local time,
//! pruning deleted any file that started with the name, a full disk dropped every line
//! without a word, and files were opened through symlinks that another user could plant.
//!
//! Here the file is opened on the first line written (a command that logs nothing never
//! touches the log dir), without following symlinks. The link is replaced atomically (a new
//! link, then rename), and failing to keep it is never fatal. Pruning touches only names of
//! the rotation pattern. A directory or write failure prints one notice on stderr and the
//! run goes on.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// How often a new file is started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    Daily,
    Hourly,
    Never,
}

impl Rotation {
    /// The date suffix of the file for `now`, or `None` when the file never rotates.
    fn suffix(self, now: &jiff::Zoned) -> Option<String> {
        match self {
            Rotation::Daily => Some(now.strftime("%Y-%m-%d").to_string()),
            Rotation::Hourly => Some(now.strftime("%Y-%m-%d-%H").to_string()),
            Rotation::Never => None,
        }
    }

    /// Whether `suffix` is one this rotation writes (pruning deletes nothing else).
    fn matches(self, suffix: &str) -> bool {
        let shape: &[u8] = match self {
            Rotation::Daily => b"dddd-dd-dd",
            Rotation::Hourly => b"dddd-dd-dd-dd",
            Rotation::Never => return false,
        };
        suffix.len() == shape.len()
            && suffix.bytes().zip(shape).all(|(c, s)| match s {
                b'd' => c.is_ascii_digit(),
                _ => c == *s,
            })
    }
}

/// The writer behind the log layer (it runs on tracing-appender's worker thread).
pub struct LogFile {
    dir: PathBuf,
    name: String,
    rotation: Rotation,
    keep: usize,
    /// The default dir, inside the state dir: created 0700 and checked as ours.
    private: bool,
    current: Option<(Option<String>, File)>,
    /// A failure was reported; stay quiet from then on.
    noticed: bool,
}

impl LogFile {
    pub fn new(dir: PathBuf, name: String, rotation: Rotation, keep: usize, private: bool) -> Self {
        LogFile {
            dir,
            name,
            rotation,
            keep: keep.max(1),
            private,
            current: None,
            noticed: false,
        }
    }

    /// The path a monitor should follow: the link (or the file, without rotation).
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    fn file_name(&self, suffix: Option<&str>) -> String {
        match suffix {
            Some(s) => format!("{}.{s}", self.name),
            None => self.name.clone(),
        }
    }

    fn open(&mut self, suffix: Option<String>) -> io::Result<File> {
        if self.private {
            crate::paths::ensure_private_dir(&self.dir)?;
        } else {
            create_log_dir(&self.dir)?;
        }
        let name = self.file_name(suffix.as_deref());
        let file = crate::paths::no_follow()
            .append(true)
            .create(true)
            // Readable by the group (a log shipper), whatever the umask.
            .mode(0o640)
            .open(self.dir.join(&name))?;
        // A log file another user made (in a shared dir) would hand them every later line:
        // import ids, SIS ids and names in the warnings.
        let owner = std::os::unix::fs::MetadataExt::uid(&file.metadata()?);
        if owner != crate::paths::user_id() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{name} belongs to uid {owner}, not to this user"),
            ));
        }
        if suffix.is_some() {
            // Both are conveniences: a failure here must never stop the run.
            let _ = self.point_link_at(&name);
            self.prune();
        }
        Ok(file)
    }

    /// `NAME -> NAME.DATE`, with the bare file name so that a relative log dir works too.
    fn point_link_at(&self, target: &str) -> io::Result<()> {
        let link = self.path();
        match std::fs::symlink_metadata(&link) {
            Ok(m) if m.file_type().is_symlink() => {
                if std::fs::read_link(&link)?.as_os_str() == target {
                    return Ok(());
                }
            }
            // A real file of that name (from rotation "never") is the admin's: keep it.
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let tmp = self.dir.join(format!(
            ".{}.{}.{}.tmp",
            self.name,
            std::process::id(),
            fastrand::u32(..)
        ));
        std::os::unix::fs::symlink(target, &tmp)?;
        // rename replaces the old link in one step: a concurrent run sees one or the other.
        std::fs::rename(&tmp, &link).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }

    /// Delete the oldest rotated files past `keep`, and nothing but rotated files.
    fn prune(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{}.", self.name);
        let mut rotated: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                n.strip_prefix(&prefix)
                    .is_some_and(|s| self.rotation.matches(s))
            })
            .collect();
        if rotated.len() <= self.keep {
            return;
        }
        // The date suffixes sort as they were written.
        rotated.sort();
        for n in &rotated[..rotated.len() - self.keep] {
            let _ = std::fs::remove_file(self.dir.join(n));
        }
    }

    fn notice(&mut self, what: &str, e: &io::Error) {
        if !self.noticed {
            self.noticed = true;
            let _ = writeln!(
                io::stderr(),
                "warning: {what} {}: {e}; log lines go to stderr only from here on",
                self.dir.display()
            );
        }
    }

    fn write_line(&mut self, buf: &[u8]) {
        let suffix = self.rotation.suffix(&crate::clock::now());
        let stale = match &self.current {
            Some((s, _)) => *s != suffix,
            None => true,
        };
        if stale {
            if self.noticed && self.current.is_none() {
                return;
            }
            match self.open(suffix.clone()) {
                Ok(f) => self.current = Some((suffix, f)),
                Err(e) => {
                    self.current = None;
                    return self.notice("cannot open the log file in", &e);
                }
            }
        }
        if let Some((_, f)) = &mut self.current
            && let Err(e) = f.write_all(buf)
        {
            self.notice("cannot write the log file in", &e);
        }
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_line(buf);
        // Failures are reported once by `notice`; the run goes on either way.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let Some((_, f)) = &mut self.current {
            let _ = f.flush();
        }
        Ok(())
    }
}

/// Create an explicitly set log dir now, so that a wrong one is a configuration error
/// (exit 78) before the run starts, not a notice halfway through it.
pub fn check_dir(dir: &Path) -> io::Result<()> {
    create_log_dir(dir)?;
    // Usable (a log file another user made there is refused, and no link is followed), but
    // anyone may fill it or plant names in it: said once, at the start.
    if let Ok(m) = std::fs::metadata(dir)
        && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o002 != 0
    {
        let _ = writeln!(
            io::stderr(),
            "warning: the log dir {} is writable by everyone; make it 0750 (or 0700) so that no other user can plant files beside the log",
            dir.display()
        );
    }
    Ok(())
}

/// A log dir and the parents it needs, 0750 whatever the umask: the group may read the logs,
/// no one else may plant a file in them.
fn create_log_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn suffix_shapes() {
        assert!(Rotation::Daily.matches("2026-12-05"));
        assert!(!Rotation::Daily.matches("2026-12-05-01"));
        assert!(!Rotation::Daily.matches("old"));
        assert!(Rotation::Hourly.matches("2026-12-05-23"));
        assert!(!Rotation::Never.matches("2026-12-05"));
    }

    #[test]
    fn opens_lazily_links_by_bare_name_and_prunes_only_its_own_files() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("logs");
        let mut f = LogFile::new(dir.clone(), "x.log".into(), Rotation::Daily, 2, false);
        assert!(!dir.exists(), "nothing is created before the first line");
        std::fs::create_dir(&dir).unwrap();
        for old in ["x.log.2020-01-01", "x.log.2020-01-02", "x.log.old", "other"] {
            std::fs::write(dir.join(old), "").unwrap();
        }
        f.write_all(b"line\n").unwrap();
        let today = Rotation::Daily.suffix(&jiff::Zoned::now()).unwrap();
        let current = format!("x.log.{today}");
        assert_eq!(
            std::fs::read_link(dir.join("x.log")).unwrap().as_os_str(),
            current.as_str()
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("x.log")).unwrap(),
            "line\n"
        );
        // keep = 2: the oldest dated file goes; the admin's copy and other files stay.
        let mut want = vec![
            "other".to_string(),
            "x.log".into(),
            "x.log.2020-01-02".into(),
            current,
            "x.log.old".into(),
        ];
        want.sort();
        assert_eq!(names(&dir), want);
    }

    #[test]
    fn a_planted_symlink_is_not_followed() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        let mut f = LogFile::new(t.path().into(), "x.log".into(), Rotation::Never, 1, false);
        std::os::unix::fs::symlink(&victim, t.path().join("x.log")).unwrap();
        f.write_all(b"line\n").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
}
