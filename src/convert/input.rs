//! Where the OneRoster files come from: a directory, or a zip holding them at its top level
//! or in one folder (as SIS exports zip a folder).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

/// Zip-bomb guard, as Canvas applies it to SIS zips (§6.2): the declared uncompressed total
/// may not reach 100× the archive, nor 50 GB.
const ZIP_RATIO: u64 = 100;
const ZIP_CAP: u64 = 50 * 1024 * 1024 * 1024;

pub enum Source {
    Dir(PathBuf),
    Zip {
        path: PathBuf,
        zip: zip::ZipArchive<BufReader<File>>,
        /// The folder inside the zip that holds `manifest.csv` (`""` or `"name/"`).
        prefix: String,
    },
}

/// A problem with the container itself (not with a file in it).
pub struct ContainerError {
    pub code: &'static str,
    pub message: String,
    pub hint: &'static str,
}

impl Source {
    /// Open `path` (a directory or a zip). `Err(Ok(..))` is a container problem to report
    /// as a diagnostic; `Err(Err(..))` an I/O error (the input cannot be read).
    pub fn open(path: &Path) -> Result<Source, Result<ContainerError, io::Error>> {
        let md = std::fs::metadata(path).map_err(Err)?;
        if md.is_dir() {
            std::fs::read_dir(path).map_err(Err)?;
            return Ok(Source::Dir(path.to_path_buf()));
        }
        let f = File::open(path).map_err(Err)?;
        let len = md.len();
        let mut zip = zip::ZipArchive::new(BufReader::new(f)).map_err(|e| {
            Ok(ContainerError {
                code: "zip_corrupt",
                message: format!("not a directory nor a readable zip: {e}"),
                hint: "give the folder the SIS export wrote, or the zip of it",
            })
        })?;
        let mut declared = 0u64;
        let mut prefix = None;
        for i in 0..zip.len() {
            let e = zip.by_index_raw(i).map_err(|e| {
                Ok(ContainerError {
                    code: "zip_corrupt",
                    message: format!("unreadable zip entry {i}: {e}"),
                    hint: "re-create the zip",
                })
            })?;
            declared = declared.saturating_add(e.size());
            let name = e.name();
            let depth = name.matches('/').count();
            if (name == "manifest.csv" || name.ends_with("/manifest.csv"))
                && depth <= 1
                && !name.starts_with("__MACOSX")
            {
                let p = &name[..name.len() - "manifest.csv".len()];
                if prefix.as_ref().is_none_or(|q: &String| p.len() < q.len()) {
                    prefix = Some(p.to_string());
                }
            }
        }
        if declared >= len.saturating_mul(ZIP_RATIO).max(1 << 20) || declared > ZIP_CAP {
            return Err(Ok(ContainerError {
                code: "zip_bomb",
                message: format!(
                    "the entries declare {declared} bytes uncompressed, over 100× the archive's {len}; nothing was inflated"
                ),
                hint: "zip the export again, without padding",
            }));
        }
        Ok(Source::Zip {
            path: path.to_path_buf(),
            zip,
            prefix: prefix.unwrap_or_default(),
        })
    }

    /// `name`'s display name in diagnostics: `DIR/users.csv` or `bundle.zip:users.csv`.
    pub fn display(&self, name: &str) -> String {
        match self {
            Source::Dir(d) => d.join(name).display().to_string(),
            Source::Zip { path, prefix, .. } => format!("{}:{prefix}{name}", path.display()),
        }
    }

    /// The container's own display name.
    pub fn root(&self) -> String {
        match self {
            Source::Dir(d) | Source::Zip { path: d, .. } => d.display().to_string(),
        }
    }

    /// The file names (`users.csv`, …) beside the manifest, sorted.
    pub fn names(&mut self) -> io::Result<Vec<String>> {
        let mut out = vec![];
        match self {
            Source::Dir(d) => {
                for e in std::fs::read_dir(d)? {
                    let e = e?;
                    if e.file_type()?.is_file()
                        && let Some(n) = e.file_name().to_str()
                        && !n.starts_with('.')
                    {
                        out.push(n.to_string());
                    }
                }
            }
            Source::Zip { zip, prefix, .. } => {
                for n in zip.file_names() {
                    if let Some(rest) = n.strip_prefix(prefix.as_str())
                        && !rest.is_empty()
                        && !rest.contains('/')
                        && !rest.starts_with('.')
                    {
                        out.push(rest.to_string());
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Stream the file `name` (a bounded read for a zip entry: its declared size + 1 byte).
    pub fn open_file(&mut self, name: &str) -> io::Result<Box<dyn Read + '_>> {
        match self {
            Source::Dir(d) => {
                let f = File::open(d.join(name))?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
            }
            Source::Zip { zip, prefix, .. } => {
                let e = zip
                    .by_name(&format!("{prefix}{name}"))
                    .map_err(io::Error::other)?;
                let size = e.size();
                Ok(Box::new(BufReader::with_capacity(
                    1 << 16,
                    e.take(size + 1),
                )))
            }
        }
    }
}
