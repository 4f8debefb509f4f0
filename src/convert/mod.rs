//! OneRoster 1.1 CSV → Canvas SIS CSV bundle (reference §10.4), for `convert oneroster`.
//!
//! One pass over the input, in the order of [`schema::FILES`] (orgs, academicSessions,
//! courses, classes, users, enrollments): each row is checked (`check.rs`: headers, enums,
//! dates, ids, references) and, while no error has been found, mapped (`map.rs`) into
//! the Canvas CSVs of a zip written to a temporary file (`write.rs`). The small files
//! (orgs, sessions, courses, classes) are kept in memory, since their Canvas rows need the
//! whole set (parents first, terms by type); users and enrollments stream through, with
//! only their id sets kept. Any error: the temporary file is dropped and no OUT.zip exists.
//!
//! The diagnostics are those of `validate` (`validate::Report`, `FILE:LINE: …`), so the
//! text and `--json` shapes are the same.

mod check;
mod input;
mod map;
pub mod schema;
mod write;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::validate::Report;

/// `--user-id`: which OneRoster user field becomes Canvas's `user_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserId {
    SourcedId,
    Identifier,
}

/// `--login-id`: which OneRoster user field becomes Canvas's `login_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginId {
    Username,
    Email,
    Identifier,
}

/// What the caller asks of a conversion.
#[derive(Clone, Debug)]
pub struct Options {
    pub user_id: UserId,
    pub login_id: LoginId,
    /// academicSession types that become Canvas terms.
    pub term_types: Vec<String>,
    /// Enrollment role → Canvas role, over the default mapping.
    pub role_map: BTreeMap<String, String>,
    /// One Canvas course per class (default), or one per OneRoster course and term, with
    /// a section per class.
    pub section_per_class: bool,
    /// Replace an existing OUT.zip.
    pub force: bool,
    pub max_diagnostics: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            user_id: UserId::SourcedId,
            login_id: LoginId::Username,
            term_types: vec!["term".into(), "semester".into()],
            role_map: BTreeMap::new(),
            section_per_class: true,
            force: false,
            max_diagnostics: 100,
        }
    }
}

/// A successful conversion.
#[derive(Debug)]
pub struct Converted {
    /// The input's diagnostics (warnings only: any error stops the conversion).
    pub report: Report,
    /// Rows written per Canvas kind (`account`, `term`, …), in the bundle's order.
    pub rows: Vec<(&'static str, u64)>,
    /// Rows read per OneRoster file.
    pub read: Vec<(&'static str, u64)>,
    /// OneRoster enrollments not converted, per role (no Canvas role for them).
    pub skipped: BTreeMap<String, u64>,
    /// `oneroster.version` of the manifest.
    pub version: String,
    /// Whether any file is `bulk` (a full export: implicit deletes).
    pub bulk: bool,
}

/// Why a conversion wrote nothing.
#[derive(Debug)]
pub enum Error {
    /// The input has errors (exit 65); the report lists them.
    Invalid(Report),
    /// The input path does not exist or cannot be read (exit 66).
    Input(PathBuf, std::io::Error),
    /// OUT.zip already exists and `force` is off (exit 2).
    Exists(PathBuf),
    /// OUT is a folder, or a new or regular file whose name does not end in `.zip`: exit 2,
    /// with why.
    NotAZip(PathBuf, &'static str),
    /// OUT.zip (or its temporary file) cannot be written (exit 74).
    Output(PathBuf, std::io::Error),
    /// A signal arrived (exit 130); the temporary file is gone.
    Interrupted(crate::exit::Failure),
}

/// Convert the OneRoster bundle at `input` (a directory or a zip) into the Canvas SIS zip
/// `out`.
pub fn convert(input: &Path, out: &Path, opts: &Options) -> Result<Converted, Error> {
    use crate::paths::Output;
    let target = Output::at(out);
    match &target {
        Output::Folder => {
            return Err(Error::NotAZip(
                out.to_path_buf(),
                "it is a folder; give the name of the zip to write",
            ));
        }
        // A FIFO or device is written through (`-o /dev/stdout`), whatever its name.
        Output::Through(_) => {}
        Output::Replace { .. } => {
            let zip_name = out
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
            if !zip_name {
                // `submit` would refuse a zip named otherwise (the name says what it holds).
                return Err(Error::NotAZip(
                    out.to_path_buf(),
                    "the output is a zip: its name must end in .zip",
                ));
            }
        }
    }
    if target.exists() && !opts.force {
        return Err(Error::Exists(out.to_path_buf()));
    }
    check::run(input, out, opts)
}
