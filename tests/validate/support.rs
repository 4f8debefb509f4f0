//! The fixture the validator's tests share: [`Fx`], a temp dir to write inputs into and
//! validate, and the zip signatures the zip tests patch.

use std::path::PathBuf;

use canvas_sis::validate::{Options, Report, validate_paths};

pub struct Fx {
    pub dir: tempfile::TempDir,
}

impl Fx {
    pub fn new() -> Self {
        Fx {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    pub fn write(&self, name: &str, data: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(name);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&p, data).unwrap();
        p
    }
    pub fn zip(&self, name: &str, entries: &[(&str, &[u8])]) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, fake_canvas::zip_of(entries)).unwrap();
        p
    }
    /// Strip the tempdir prefix so lines read `users.csv:3: …`.
    pub fn lines(&self, r: &Report) -> Vec<String> {
        let mut out = vec![];
        r.write_text(&mut out).unwrap();
        let prefix = format!("{}/", self.dir.path().display());
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| l.replace(&prefix, ""))
            .collect()
    }
    pub fn run(&self, paths: &[PathBuf]) -> Report {
        self.run_with(paths, &Options::default())
    }
    pub fn run_with(&self, paths: &[PathBuf], o: &Options) -> Report {
        validate_paths(paths, o).unwrap()
    }
    /// Validate one file and return its diagnostic lines (without the summary).
    pub fn check(&self, name: &str, data: impl AsRef<[u8]>) -> Vec<String> {
        let p = self.write(name, data);
        let r = self.run(&[p]);
        let mut l = self.lines(&r);
        l.pop();
        l
    }
}

pub fn find_all(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    (0..hay.len().saturating_sub(needle.len() - 1))
        .filter(|&i| &hay[i..i + needle.len()] == needle)
        .collect()
}

pub const LOCAL: &[u8] = b"PK\x03\x04";
pub const CENTRAL: &[u8] = b"PK\x01\x02";
pub const EOCD: &[u8] = b"PK\x05\x06";

pub const USERS: &str =
    "user_id,login_id,status,email\nu1,l1,active,a@b.edu\nu2,l2,active,c@d.edu\n";
