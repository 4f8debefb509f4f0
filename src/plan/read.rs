//! Reading a bundle's files into a [`Sink`]: a CSV file, a zip or a directory of CSVs, and
//! IMS Enterprise XML (read by `super::ims`), in the order Canvas imports their kinds.

use std::io::Read;
use std::path::Path;

use super::rows::{
    BundleRows, Fields, FileInfo, RowView, Sink, ignored_column, key_columns, row_hash,
};
use crate::exit::{Failure, Result};
use crate::validate::kinds;

/// Read the bundle at `path`: a CSV file, a zip of CSVs, or a directory of CSVs; or an IMS
/// Enterprise file, or a zip of them (`super::ims`).
pub fn read_bundle(path: &Path) -> Result<BundleRows> {
    let mut out = BundleRows::default();
    visit(path, &mut out)?;
    Ok(out)
}

/// Stream the rows of the bundle at `path` into `sink`, file by file in the order Canvas
/// imports their kinds (`kinds::KINDS`; by name within a kind), so that courses and sections
/// are known before the enrollments that find their term through them.
pub fn visit(path: &Path, sink: &mut dyn Sink) -> Result<()> {
    let unreadable = |p: &Path, e: &dyn std::fmt::Display| {
        Failure::no_input(format!("{}: {e}", p.display())).kind("input_unreadable")
    };
    if path.is_dir() {
        let files = crate::bundle::csv_files(path).map_err(|e| unreadable(path, &e))?;
        let mut known = Vec::new();
        for f in files {
            let file = std::fs::File::open(&f).map_err(|e| unreadable(&f, &e))?;
            if let Some(k) = kind_of(file).map_err(|e| unreadable(&f, &e))? {
                known.push((k, f));
            }
        }
        known.sort_by_key(|(k, _)| *k);
        for (_, f) in known {
            let file = std::fs::File::open(&f).map_err(|e| unreadable(&f, &e))?;
            let name = f.strip_prefix(path).unwrap_or(&f).display().to_string();
            read_csv(file, &name, sink).map_err(|e| unreadable(&f, &e))?;
        }
    } else if is_zip(path) {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
        let mut z = zip::ZipArchive::new(file).map_err(|e| unreadable(path, &e))?;
        let mut names: Vec<(usize, String)> = (0..z.len())
            .filter_map(|i| {
                let n = z.by_index(i).ok()?.name().to_string();
                let base = n.rsplit('/').next().unwrap_or(&n).to_string();
                let lower = n.to_ascii_lowercase();
                ((lower.ends_with(".csv") || lower.ends_with(".xml"))
                    && !base.starts_with('.')
                    && !n.starts_with("__MACOSX"))
                .then_some((i, n))
            })
            .collect();
        names.sort_by(|a, b| a.1.cmp(&b.1));
        // Only the header of each entry is inflated to order them; IMS Enterprise files
        // (`super::ims`) come after the CSVs, in name order.
        let mut known = Vec::new();
        let mut xml = Vec::new();
        for (i, n) in names {
            if n.to_ascii_lowercase().ends_with(".xml") {
                xml.push((i, n));
                continue;
            }
            let entry = z.by_index(i).map_err(|e| unreadable(path, &e))?;
            if let Some(k) = kind_of(entry).map_err(|e| unreadable(path, &e))? {
                known.push((k, i, n));
            }
        }
        known.sort_by_key(|(k, _, _)| *k);
        for (_, i, n) in known {
            let entry = z.by_index(i).map_err(|e| unreadable(path, &e))?;
            read_csv(entry, &n, sink).map_err(|e| unreadable(path, &e))?;
        }
        for (i, n) in xml {
            let entry = z.by_index(i).map_err(|e| unreadable(path, &e))?;
            super::ims::read(std::io::BufReader::new(entry), &n, sink)
                .map_err(|e| unreadable(path, &e))?;
        }
    } else {
        let file = std::fs::File::open(path).map_err(|e| unreadable(path, &e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.to_ascii_lowercase().ends_with(".xml") {
            super::ims::read(std::io::BufReader::new(file), &name, sink)
                .map_err(|e| unreadable(path, &e))?;
        } else {
            read_csv(file, &name, sink).map_err(|e| unreadable(path, &e))?;
        }
    }
    Ok(())
}

fn is_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"PK\x03\x04"
}

/// Why a CSV file could not be read (the bundle validated, so this is an I/O error, or a
/// file that changed since).
#[derive(Debug)]
struct ScanFailed(String);

impl std::fmt::Display for ScanFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<crate::validate::ScanError> for ScanFailed {
    fn from(e: crate::validate::ScanError) -> Self {
        match e {
            crate::validate::ScanError::Syntax { line, message, .. } => {
                ScanFailed(format!("line {line}: {message}"))
            }
            crate::validate::ScanError::Io(e) => ScanFailed(e.to_string()),
        }
    }
}

/// The header row (after blank lines), its names trimmed and lower-cased as Canvas reads
/// them; None for a file without one.
fn header_of<R: Read>(
    sc: &mut crate::validate::CsvScanner<R>,
) -> std::result::Result<Option<Vec<String>>, ScanFailed> {
    let mut rec = crate::validate::CsvRecord::default();
    loop {
        if !sc.next_record(&mut rec)? {
            return Ok(None);
        }
        if !rec.is_blank_line() {
            break;
        }
    }
    Ok(Some(
        (0..rec.len())
            .map(|i| crate::validate::strip(&rec.field(i).to_lowercase()).to_string())
            .collect(),
    ))
}

/// The kind of a file by its header (`kinds::KINDS` index), None for one the plan ignores.
fn kind_of(r: impl Read) -> std::result::Result<Option<usize>, ScanFailed> {
    let Some(headers) = header_of(&mut crate::validate::CsvScanner::new(r))? else {
        return Ok(None);
    };
    Ok(kinds::recognise(&|c: &str| headers.iter().any(|h| h == c)))
}

/// Stream one CSV file's rows into `sink`, read by the validator's scanner: the same fields,
/// trimming and line numbers as `validate` (and Canvas) give, at the validator's speed.
fn read_csv(r: impl Read, name: &str, sink: &mut dyn Sink) -> std::result::Result<(), ScanFailed> {
    let mut sc = crate::validate::CsvScanner::new(r);
    let Some(headers) = header_of(&mut sc)? else {
        return Ok(());
    };
    let has = |c: &str| headers.iter().any(|h| h == c);
    let Some(k) = kinds::recognise(&has) else {
        return Ok(());
    };
    let kind = kinds::KINDS[k].name;
    let col = |name: &str| headers.iter().position(|h| h == name);
    let key_cols: Vec<Vec<usize>> = key_columns(kind)
        .iter()
        .map(|group| group.iter().filter_map(|c| col(c)).collect())
        .collect();
    let status_col = col("status");
    let term_col = col("term_id");
    let course_col = col("course_id");
    let section_col = col("section_id");
    let id_col = kinds::KINDS[k].defines.and_then(|(_, c)| col(c));
    let compared: Vec<bool> = headers.iter().map(|h| !ignored_column(h)).collect();
    let info = FileInfo {
        kind,
        name: name.to_string(),
        headers,
    };
    sink.file(&info);
    let mut record = crate::validate::CsvRecord::default();
    let mut status = String::new();
    while sc.next_record(&mut record)? {
        if record.is_blank_line() {
            continue;
        }
        let get = |i: usize| {
            if i < record.len() {
                record.value(i)
            } else {
                ""
            }
        };
        // At most three parts (`key_columns`): on the stack, not a Vec a row.
        let mut parts = [""; 3];
        let n = if key_cols.is_empty() {
            parts[0] = id_col.map(get).unwrap_or("");
            usize::from(id_col.is_some())
        } else {
            for (p, g) in parts.iter_mut().zip(&key_cols) {
                *p = g
                    .iter()
                    .map(|&i| get(i))
                    .find(|v| !v.is_empty())
                    .unwrap_or("");
            }
            key_cols.len().min(3)
        };
        let key_parts = &parts[..n];
        if key_parts.iter().all(|p| p.is_empty()) {
            continue;
        }
        status.clear();
        status.push_str(status_col.map(get).unwrap_or(""));
        status.make_ascii_lowercase();
        let opt = |c: Option<usize>| c.map(get).filter(|v| !v.is_empty());
        sink.row(
            &info,
            &RowView {
                key: row_hash(key_parts),
                key_parts,
                term: opt(term_col),
                status: &status,
                fields: Fields::Csv(&record),
                compared: &compared,
                course_id: opt(course_col),
                section_id: opt(section_col),
                line: record.line(),
            },
        );
    }
    Ok(())
}
