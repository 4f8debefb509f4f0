//! Preparing what `submit` sends: kind detection from the name and the first bytes, refusal
//! of inputs Canvas would mishandle, and zipping a directory on the fly (constant memory).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::exit::{Failure, Result};
use crate::settings::Extension;

/// A file ready to upload.
#[derive(Debug)]
pub struct Bundle {
    /// What the user named.
    pub given: PathBuf,
    /// The file whose bytes are sent (a temporary zip for a directory).
    pub path: PathBuf,
    /// The file name shown to Canvas and people.
    pub name: String,
    pub len: u64,
    pub extension: Extension,
    pub sha256: String,
    _temp: Option<tempfile::TempPath>,
}

impl Bundle {
    /// §2.1: the Content-Type that matches the extension we also send in the query.
    pub fn content_type(&self) -> &'static str {
        content_type(self.extension)
    }
}

pub fn content_type(ext: Extension) -> &'static str {
    match ext {
        Extension::Csv => "text/csv",
        Extension::Zip => "application/zip",
        Extension::Xml => "text/xml",
    }
}

const ZIP_MAGIC: &[u8] = b"PK\x03\x04";
const EMPTY_ZIP_MAGIC: &[u8] = b"PK\x05\x06";

/// What the first bytes say the content is.
#[derive(Debug, PartialEq, Eq)]
enum Sniffed {
    Zip,
    Xml,
    Text,
    Binary,
}

fn sniff(head: &[u8]) -> Sniffed {
    if head.starts_with(ZIP_MAGIC) || head.starts_with(EMPTY_ZIP_MAGIC) {
        return Sniffed::Zip;
    }
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let trimmed: &[u8] = {
        let start = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(body.len());
        &body[start..]
    };
    if trimmed.starts_with(b"<?xml")
        || trimmed.starts_with(b"<enterprise")
        || trimmed.starts_with(b"<")
    {
        return Sniffed::Xml;
    }
    if head.contains(&0) {
        return Sniffed::Binary;
    }
    Sniffed::Text
}

fn ext_of(name: &str) -> Option<Extension> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        Some(Extension::Csv)
    } else if lower.ends_with(".zip") {
        Some(Extension::Zip)
    } else if lower.ends_with(".xml") {
        Some(Extension::Xml)
    } else {
        None
    }
}

fn open_err(path: &Path, e: std::io::Error) -> Failure {
    if e.kind() == std::io::ErrorKind::NotFound {
        Failure::no_input(format!("{}: no such file or directory", path.display()))
            .kind("input_missing")
            .hint("check the path; nothing was sent")
    } else {
        Failure::no_input(format!("{}: cannot read: {e}", path.display()))
            .kind("input_unreadable")
            .hint("check the file's permissions; nothing was sent")
    }
}

/// Check `path` and get it ready to send. Nothing here talks to Canvas.
pub fn prepare(path: &Path, forced: Option<Extension>) -> Result<Bundle> {
    let meta = std::fs::metadata(path).map_err(|e| open_err(path, e))?;
    if meta.is_dir() {
        if forced.is_some_and(|e| e != Extension::Zip) {
            return Err(Failure::usage(format!(
                "{} is a directory: it is sent as a zip, so --extension must be zip (or left out)",
                path.display()
            )));
        }
        return zip_directory(path);
    }
    if let Some(what) = crate::validate::special_file(&meta) {
        return Err(Failure::no_input(format!(
            "{}: cannot read: {what}, not a regular file",
            path.display()
        ))
        .kind("input_unreadable")
        .hint("give a .csv, .zip or .xml file or a directory; nothing was sent"));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| path.display().to_string());
    let mut f = File::open(path).map_err(|e| open_err(path, e))?;
    let mut head = [0u8; 512];
    let n = read_head(&mut f, &mut head).map_err(|e| open_err(path, e))?;
    let head = &head[..n];
    if meta.len() == 0 || n == 0 {
        return Err(Failure::data(format!(
            "{}: the file is empty; Canvas would ignore it and import nothing",
            path.display()
        ))
        .kind("bundle_invalid")
        .hint("check the SIS export that wrote it; nothing was sent"));
    }
    let sniffed = sniff(head);
    let by_name = ext_of(&name);
    let ext = match (forced, by_name) {
        (Some(e), _) => e,
        (None, Some(e)) => e,
        (None, None) => {
            return Err(Failure::data(format!(
                "{}: Canvas imports only .csv and .zip files (this name ends otherwise, so Canvas would import nothing and still report success)",
                path.display()
            ))
            .kind("bundle_invalid")
            .hint(match sniffed {
                Sniffed::Zip => "it looks like a zip: rename it to .zip or pass --extension zip",
                Sniffed::Text => "if it is a CSV, rename it to .csv or pass --extension csv",
                _ => "export the SIS data as .csv files or a .zip of them",
            }));
        }
    };
    let what = if forced.is_some() {
        format!("--extension {}", ext.as_str())
    } else {
        format!("the name {name}")
    };
    match (ext, &sniffed) {
        (Extension::Zip, Sniffed::Zip) | (Extension::Xml, Sniffed::Xml) => {}
        (Extension::Csv, Sniffed::Text) => {}
        (Extension::Zip, _) => {
            return Err(Failure::data(format!(
                "{}: {what} says zip, but the content is not a zip archive (no PK\\x03\\x04 signature){}",
                path.display(),
                if sniffed == Sniffed::Text { "; it looks like CSV text" } else { "" }
            ))
            .kind("bundle_invalid")
            .hint("a truncated download or a renamed CSV? nothing was sent"));
        }
        (Extension::Csv, Sniffed::Zip) => {
            return Err(Failure::data(format!(
                "{}: {what} says CSV, but the content is a zip archive",
                path.display()
            ))
            .kind("bundle_invalid")
            .hint("rename it to .zip or pass --extension zip; nothing was sent"));
        }
        (Extension::Csv, _) => {
            return Err(Failure::data(format!(
                "{}: {what} says CSV, but the content is not text ({})",
                path.display(),
                if sniffed == Sniffed::Xml {
                    "it looks like XML"
                } else {
                    "it has NUL bytes: UTF-16 or binary?"
                }
            ))
            .kind("bundle_invalid")
            .hint("Canvas needs UTF-8 CSV; nothing was sent"));
        }
        (Extension::Xml, _) => {
            return Err(Failure::data(format!(
                "{}: {what} says XML, but the content does not start like XML",
                path.display()
            ))
            .kind("bundle_invalid"));
        }
    }
    let sha256 = checksum(path, path)?;
    Ok(Bundle {
        given: path.to_path_buf(),
        path: path.to_path_buf(),
        name,
        len: meta.len(),
        extension: ext,
        sha256,
        _temp: None,
    })
}

fn read_head(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut r = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// [`sha256_file`] for the upload, stopping (exit 130) when a signal arrives.
/// `shown` names it in the message (the directory for a temporary zip).
fn checksum(path: &Path, shown: &Path) -> Result<String> {
    let mut r = File::open(path).map_err(|e| open_err(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        crate::interrupt::check(|| format!("computing the checksum of {}", shown.display()))?;
        let n = r.read(&mut buf).map_err(|e| open_err(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copy `src` into the zip entry, a chunk at a time, stopping (exit 130) when a signal arrives.
fn copy_into(src: &Path, dir: &Path, out: &mut impl std::io::Write) -> Result<()> {
    let mut f = File::open(src).map_err(|e| open_err(src, e))?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        crate::interrupt::check(|| format!("zipping {}", dir.display()))?;
        let n = f.read(&mut buf).map_err(|e| open_err(src, e))?;
        if n == 0 {
            return Ok(());
        }
        out.write_all(&buf[..n]).map_err(|e| temp_zip_failed(&e))?;
    }
}

/// The CSV files under `dir`, recursively, in sorted path order; hidden entries skipped
/// (as Canvas does inside a zip, §6.2).
pub fn csv_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') || name == "__MACOSX" {
                continue;
            }
            let ft = e.file_type()?;
            // A symbolic link to a file is followed, as the validator does (it checked
            // that file); one to a directory is not (no loops).
            let file = ft.is_file()
                || (ft.is_symlink() && std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()));
            if ft.is_dir() {
                stack.push(e.path());
            } else if file && name.to_ascii_lowercase().ends_with(".csv") {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

fn temp_zip_failed(e: &dyn std::fmt::Display) -> Failure {
    Failure::no_input(format!("cannot write the temporary zip: {e}")).kind("temp_file_failed")
}

/// Zip the CSVs of a directory into a temporary file, streaming each file (constant memory).
fn zip_directory(dir: &Path) -> Result<Bundle> {
    let files = csv_files(dir).map_err(|e| open_err(dir, e))?;
    if files.is_empty() {
        return Err(Failure::data(format!(
            "{}: the directory holds no .csv files; nothing to send",
            dir.display()
        ))
        .kind("bundle_invalid"));
    }
    let tmp = tempfile::Builder::new()
        .prefix("canvas-sis-")
        .suffix(".zip")
        .tempfile()
        .map_err(|e| {
            Failure::no_input(format!("cannot create a temporary zip: {e}"))
                .kind("temp_file_failed")
        })?;
    {
        let mut zw = zip::ZipWriter::new(std::io::BufWriter::new(tmp.as_file()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        for f in &files {
            let rel = f
                .strip_prefix(dir)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            zw.start_file(rel, opts).map_err(|e| temp_zip_failed(&e))?;
            copy_into(f, dir, &mut zw)?;
        }
        zw.finish().map_err(|e| temp_zip_failed(&e))?;
    }
    let path = tmp.path().to_path_buf();
    let len = std::fs::metadata(&path)
        .map_err(|e| open_err(&path, e))?
        .len();
    let sha256 = checksum(&path, dir)?;
    let base = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "bundle".into());
    Ok(Bundle {
        given: dir.to_path_buf(),
        path,
        name: format!("{base}.zip"),
        len,
        extension: Extension::Zip,
        sha256,
        _temp: Some(tmp.into_temp_path()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(sniff(b"\xEF\xBB\xBFuser_id,login_id"), Sniffed::Text);
        assert_eq!(sniff(b"  <?xml version"), Sniffed::Xml);
        assert_eq!(sniff(b"u\0s\0e\0r\0"), Sniffed::Binary);
    }
}
