//! Inputs and containers (reference §6.2): files, directories, zip bundles, XML.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::bundle::Bundle;
use super::csvfile::{default_io, validate_csv};
use super::fast::pipeline::Spares;
use super::sink::Sink;
use super::{FileReport, Options};

/// The zip-bomb guard Canvas applies (docs): total ≥ 100× the archive, or over 50 GB.
pub const BOMB_RATIO: u64 = 100;
pub const BOMB_CAP: u64 = 50 * 1024 * 1024 * 1024;
/// More entries than this is refused before the central directory is loaded.
pub const MAX_ENTRIES: u64 = 10_000;
/// A central directory larger than this is refused before it is loaded: the names are
/// held in memory (three times over), and 64 KiB names made memory follow the archive.
pub const MAX_DIRECTORY: u64 = 16 * 1024 * 1024;

pub(crate) struct Ctx<'a> {
    pub opts: &'a Options,
    pub bundle: Bundle,
    /// Row batches kept from file to file.
    pub spares: Spares,
    pub out: Vec<FileReport>,
    /// Bytes decompressed from zip entries.
    pub inflated: u64,
}

fn lower_ext(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.')
        .filter(|(stem, _)| !stem.is_empty())
        .map(|(_, e)| e.to_ascii_lowercase())
}

fn is_zip_magic(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"PK\x05\x06")
        || head.starts_with(b"PK\x07\x08")
}

fn looks_like_text(head: &[u8]) -> bool {
    !head.is_empty()
        && std::str::from_utf8(head).is_ok_and(|s| {
            s.chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\r' || c == '\t')
        })
}

fn read_head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut v = vec![0; n];
    let mut got = 0;
    while got < n {
        let k = f.read(&mut v[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    v.truncate(got);
    Ok(v)
}

/// Skip rules shared by zip entries and directory walks (Canvas's `Dir.glob`).
fn canvas_skips(rel: &str) -> bool {
    // `.` components (`./users.csv`) name no hidden file: extraction drops them.
    rel.split('/')
        .any(|c| c.starts_with('.') && c != "." && c != "..")
        || rel.contains("__MACOSX")
        || rel.rsplit('/').next().is_some_and(|b| {
            b.eq_ignore_ascii_case("Desktop DB") || b.eq_ignore_ascii_case("Desktop DF")
        })
}

/// Validate one path the user gave (not a directory).
pub(crate) fn validate_file(ctx: &mut Ctx, display: &str, path: &Path, len: u64) -> io::Result<()> {
    let max = ctx.opts.max_diagnostics;
    let forced = ctx
        .opts
        .extension
        .as_ref()
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase());
    let ext = forced.clone().or_else(|| lower_ext(display));
    if len == 0 {
        // Alone, it is the whole upload: Canvas skips it and imports nothing.
        ctx.out.push(empty_csv(display, max, false));
        return Ok(());
    }
    let head = read_head(path, 512)?;
    let zip = is_zip_magic(&head);
    let how = if forced.is_some() {
        "--extension"
    } else {
        "name"
    };
    match ext.as_deref() {
        Some("csv") if zip => {
            let mut s = Sink::new(display, max);
            s.nowhere().hint("name it .zip (or pass --extension zip)").err("csv_is_zip", format!("this file is a zip archive, not CSV (by its {how}); Canvas would reject it as \"Invalid UTF-8\""));
            ctx.out.push(s.finish());
        }
        Some("csv") => {
            let f = File::open(path)?;
            let r = validate_csv(
                display,
                f,
                &mut ctx.bundle,
                &mut ctx.spares,
                ctx.opts.limits(),
                default_io,
            );
            ctx.out.push(r);
        }
        Some("zip") if !zip => {
            let mut s = Sink::new(display, max);
            let hint = if head.starts_with(b"<?xml") || head.starts_with(b"<") {
                Some("it looks like XML; name it .xml".into())
            } else if looks_like_text(&head) {
                Some("it looks like a CSV file; name it .csv".into())
            } else {
                None
            };
            s.nowhere().hint_opt(hint).err(
                "zip_is_not_zip",
                format!("not a zip archive (by its {how} it should be one)"),
            );
            ctx.out.push(s.finish());
        }
        Some("zip") => validate_zip(ctx, display, path, len)?,
        Some("xml") => validate_xml(ctx, display, path, zip)?,
        other => {
            let mut s = Sink::new(display, max);
            let hint = if zip && other == Some("xlsx") {
                "export the sheet as CSV (UTF-8) instead".to_string()
            } else if zip {
                "the content is a zip archive: name it .zip".to_string()
            } else if looks_like_text(&head) {
                "if it is CSV, name it .csv".to_string()
            } else {
                "send a .csv file or a .zip of CSV files".to_string()
            };
            let what = match other {
                Some(e) => format!("a .{e} upload"),
                None => "an upload without an extension".to_string(),
            };
            s.nowhere().hint(hint).err(
                "unsupported_extension",
                format!("Canvas imports nothing from {what} (only .csv and .zip are read)"),
            );
            ctx.out.push(s.finish());
        }
    }
    Ok(())
}

/// Walk a directory recursively in sorted order, like a zip.
pub(crate) fn validate_dir(ctx: &mut Ctx, display: &str, path: &Path) -> io::Result<()> {
    let mut files = vec![];
    walk(path, String::new(), &mut files)?;
    files.sort();
    let mut dir_sink = Sink::new(display, ctx.opts.max_diagnostics);
    let base = display.trim_end_matches('/');
    let others = files.iter().any(|(rel, _, len)| {
        *len > 0 && !canvas_skips(rel) && lower_ext(rel).as_deref() == Some("csv")
    });
    for (rel, p, len) in files {
        if canvas_skips(&rel) {
            continue;
        }
        let name = format!("{base}/{rel}");
        match lower_ext(&rel).as_deref() {
            Some("csv") => {
                if len == 0 {
                    ctx.out
                        .push(empty_csv(&name, ctx.opts.max_diagnostics, others));
                } else {
                    let f = File::open(&p).map_err(|err| with_path(&p, err))?;
                    let r = validate_csv(
                        &name,
                        f,
                        &mut ctx.bundle,
                        &mut ctx.spares,
                        ctx.opts.limits(),
                        default_io,
                    );
                    ctx.out.push(r);
                }
            }
            e => {
                dir_sink
                    .nowhere()
                    .file(name)
                    .hint("Canvas will skip it: only .csv files in a bundle are read")
                    .warn(
                        if e == Some("zip") {
                            "nested_zip"
                        } else {
                            "skipped_file"
                        },
                        "Skipping unknown file type",
                    );
            }
        }
    }
    if dir_sink.rep.errors + dir_sink.rep.warnings > 0 {
        ctx.out.push(dir_sink.finish());
    }
    Ok(())
}

/// A 0-byte CSV file. Canvas skips it without a word (`create_batch_attachment` returns
/// early for size 0, §6.2): next to `others` (CSV files that are not empty) it is a
/// warning, and the bundle goes; alone, the upload imports nothing: an error.
fn empty_csv(name: &str, max: usize, others: bool) -> FileReport {
    let mut s = Sink::new(name, max);
    if others {
        s.nowhere()
            .hint("remove it, or check the export that wrote it")
            .warn(
                "empty_file",
                "empty file (0 bytes); Canvas ignores it and imports the other files",
            );
    } else {
        s.nowhere().hint("check the export that wrote it").err(
            "empty_file",
            "empty file (0 bytes); Canvas ignores it and imports nothing",
        );
    }
    s.finish()
}

/// An I/O error that names the file inside a directory the user gave.
fn with_path(p: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

fn walk(
    dir: &Path,
    prefix: String,
    out: &mut Vec<(String, std::path::PathBuf, u64)>,
) -> io::Result<()> {
    for e in std::fs::read_dir(dir).map_err(|err| with_path(dir, err))? {
        let e = e.map_err(|err| with_path(dir, err))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), rel, out)?;
        } else {
            let md = std::fs::metadata(e.path()).map_err(|err| with_path(&e.path(), err))?;
            if md.is_file() {
                out.push((rel, e.path(), md.len()));
            }
        }
    }
    Ok(())
}

// ---- XML -----------------------------------------------------------------

/// An `.xml` file: IMS Enterprise 1.1, what hosted Canvas imports as `ims_xml` (§10.1).
fn validate_xml(ctx: &mut Ctx, display: &str, path: &Path, zip: bool) -> io::Result<()> {
    let max = ctx.opts.max_diagnostics;
    if zip {
        let mut s = Sink::new(display, max);
        s.nowhere()
            .hint("name it .zip")
            .err("xml_is_zip", "this .xml file is a zip archive");
        ctx.out.push(s.finish());
        return Ok(());
    }
    let mut rep = super::xml::validate_xml(display, File::open(path)?, max, default_io);
    xml_import_type(ctx.opts, &mut rep);
    ctx.out.push(rep);
    Ok(())
}

/// An IMS file with `import_type` set to `instructure_csv`: Canvas accepts it and imports
/// nothing (§6.2: only .csv entries are read by the CSV importer).
fn xml_import_type(opts: &Options, rep: &mut FileReport) {
    if !opts.import_type_set || opts.import_type != crate::import_options::DEFAULT_IMPORT_TYPE {
        return;
    }
    let mut s = Sink::new(&rep.file, opts.max_diagnostics);
    s.nowhere()
        .hint("send IMS Enterprise XML with --import-type ims_xml (the default for an IMS file when no import type is set)")
        .err(
            "xml_not_imported",
            "Canvas imports nothing from an XML file with import_type instructure_csv",
        );
    let extra = s.finish();
    rep.errors += extra.errors;
    rep.diagnostics.splice(0..0, extra.diagnostics);
}

/// Whether a zip's `.xml` entries are read as IMS Enterprise (`ims_xml`, §10.1): the
/// import type says so, or none is set and the archive holds XML and no CSV.
fn zip_is_ims(opts: &Options, names: &[&str]) -> bool {
    if opts.import_type_set {
        return opts.import_type == "ims_xml";
    }
    let ext = |e: &str| names.iter().any(|n| lower_ext(n).as_deref() == Some(e));
    ext("xml") && !ext("csv")
}

// ---- zip -----------------------------------------------------------------

fn le16(b: &[u8], i: usize) -> u64 {
    u16::from_le_bytes([b[i], b[i + 1]]) as u64
}
fn le32(b: &[u8], i: usize) -> u64 {
    u32::from_le_bytes(b[i..i + 4].try_into().unwrap()) as u64
}
fn le64(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().unwrap())
}

/// End-of-central-directory facts, read without trusting anything else.
struct Eocd {
    entries: u64,
    cd_offset: u64,
    cd_size: u64,
}

fn read_eocd(f: &mut File, len: u64) -> Result<Eocd, String> {
    let tail = len.min(65_535 + 22);
    f.seek(SeekFrom::Start(len - tail))
        .map_err(|e| e.to_string())?;
    let mut b = vec![0; tail as usize];
    f.read_exact(&mut b).map_err(|e| e.to_string())?;
    let pos = (0..b.len().saturating_sub(21))
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("no end-of-central-directory record (truncated or not a zip)")?;
    let mut e = Eocd {
        entries: le16(&b, pos + 10),
        cd_size: le32(&b, pos + 12),
        cd_offset: le32(&b, pos + 16),
    };
    let eocd_abs = len - tail + pos as u64;
    if e.entries == 0xffff || e.cd_size == 0xffff_ffff || e.cd_offset == 0xffff_ffff {
        // Zip64 locator just before the EOCD.
        if pos >= 20 && b[pos - 20..pos - 16] == [0x50, 0x4b, 0x06, 0x07] {
            let z64 = le64(&b, pos - 20 + 8);
            let mut r = [0u8; 56];
            f.seek(SeekFrom::Start(z64)).map_err(|e| e.to_string())?;
            f.read_exact(&mut r)
                .map_err(|_| "truncated zip64 directory".to_string())?;
            if r[..4] != [0x50, 0x4b, 0x06, 0x06] {
                return Err("bad zip64 end-of-central-directory record".into());
            }
            e.entries = le64(&r, 32);
            e.cd_size = le64(&r, 40);
            e.cd_offset = le64(&r, 48);
        }
    }
    if e.cd_offset.saturating_add(e.cd_size) > eocd_abs {
        return Err("the central directory points past the end of the archive (truncated?)".into());
    }
    Ok(e)
}

/// Raw entry names from the central directory (to find duplicates the zip crate would merge).
fn cd_names(f: &mut File, e: &Eocd) -> Result<Vec<Vec<u8>>, String> {
    f.seek(SeekFrom::Start(e.cd_offset))
        .map_err(|e| e.to_string())?;
    let mut r = BufReader::new(f.take(e.cd_size));
    let mut names = Vec::with_capacity(e.entries.min(MAX_ENTRIES) as usize);
    for _ in 0..e.entries {
        let mut h = [0u8; 46];
        r.read_exact(&mut h)
            .map_err(|_| "truncated central directory".to_string())?;
        if h[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return Err("corrupt central directory".into());
        }
        let (n, x, c) = (
            le16(&h, 28) as usize,
            le16(&h, 30) as usize,
            le16(&h, 32) as usize,
        );
        let mut name = vec![0; n];
        r.read_exact(&mut name)
            .map_err(|_| "truncated central directory".to_string())?;
        io::copy(&mut (&mut r).take((x + c) as u64), &mut io::sink()).map_err(|e| e.to_string())?;
        names.push(name);
    }
    Ok(names)
}

/// The entry names of a zip, read as the validator reads them (end record first, the entry
/// count and the directory's size checked before the directory is loaded); None for an
/// archive the validator refuses or cannot read. For `submit`'s choice of `ims_xml`, which
/// runs before validation and must not load a hostile directory either.
pub(crate) fn zip_names(path: &Path) -> Option<Vec<String>> {
    let mut f = File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let e = read_eocd(&mut f, len).ok()?;
    if e.entries > MAX_ENTRIES || e.cd_size > MAX_DIRECTORY {
        return None;
    }
    let names = cd_names(&mut f, &e).ok()?;
    Some(
        names
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect(),
    )
}

/// Whether a zip's entry names include `.xml` and `.csv` files Canvas would read (an IMS
/// Enterprise bundle has the first and not the second: the rule [`zip_is_ims`] applies when
/// no import type is set).
pub(crate) fn names_hold_xml_csv(names: &[String]) -> (bool, bool) {
    let readable = names
        .iter()
        .map(String::as_str)
        .filter(|n| !n.ends_with('/') && !canvas_skips(n));
    let (mut xml, mut csv) = (false, false);
    for n in readable {
        match lower_ext(n).as_deref() {
            Some("xml") => xml = true,
            Some("csv") => csv = true,
            _ => {}
        }
    }
    (xml, csv)
}

#[derive(Debug)]
struct BudgetError(&'static str, String);
impl std::fmt::Display for BudgetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for BudgetError {}

/// A reader that fails once with the error it holds, then ends.
struct ErrOnce(Option<io::Error>);

impl Read for ErrOnce {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match self.0.take() {
            Some(e) => Err(e),
            None => Ok(0),
        }
    }
}

/// Never lets an entry inflate past its declared size (+1 byte to detect a lie).
struct Budget<'a, R> {
    inner: R,
    read: u64,
    declared: u64,
    counter: &'a mut u64,
}

impl<R: Read> Read for Budget<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room =
            (self.declared + 1 - self.read.min(self.declared + 1)).min(buf.len() as u64) as usize;
        if room == 0 {
            return Err(io::Error::other(BudgetError(
                "zip_size_mismatch",
                format!(
                    "entry inflates to more than the {} bytes its header declares; stopped (lying size header, possible zip bomb)",
                    self.declared
                ),
            )));
        }
        let n = self.inner.read(&mut buf[..room])?;
        self.read += n as u64;
        *self.counter += n as u64;
        if self.read > self.declared {
            return Err(io::Error::other(BudgetError(
                "zip_size_mismatch",
                format!(
                    "entry inflates to more than the {} bytes its header declares; stopped (lying size header, possible zip bomb)",
                    self.declared
                ),
            )));
        }
        if n == 0 && self.read < self.declared {
            return Err(io::Error::other(BudgetError(
                "zip_size_mismatch",
                format!(
                    "entry inflates to {} bytes but its header declares {}",
                    self.read, self.declared
                ),
            )));
        }
        Ok(n)
    }
}

fn zip_io(e: &io::Error) -> (&'static str, String) {
    if let Some(b) = e.get_ref().and_then(|x| x.downcast_ref::<BudgetError>()) {
        return (b.0, b.1.clone());
    }
    let s = e.to_string();
    if s.contains("checksum") || s.contains("CRC") {
        (
            "zip_crc_mismatch",
            "CRC mismatch: the entry is corrupt".into(),
        )
    } else {
        ("zip_corrupt", format!("cannot inflate the entry: {s}"))
    }
}

fn unsafe_path(raw: &[u8], name: &str) -> Option<&'static str> {
    if raw.contains(&b'\\') {
        return Some("a backslash path");
    }
    if name.starts_with('/') || (name.len() > 1 && name.as_bytes()[1] == b':') {
        return Some("an absolute path");
    }
    if name.split('/').any(|c| c == "..") {
        return Some("a \"..\" path");
    }
    None
}

pub(crate) fn validate_zip(ctx: &mut Ctx, display: &str, path: &Path, len: u64) -> io::Result<()> {
    let max = ctx.opts.max_diagnostics;
    let mut s = Sink::new(display, max);
    let mut f = File::open(path)?;
    let eocd = match read_eocd(&mut f, len) {
        Ok(e) => e,
        Err(m) => {
            s.nowhere()
                .err("zip_corrupt", format!("corrupt zip archive: {m}"));
            ctx.out.push(s.finish());
            return Ok(());
        }
    };
    if eocd.entries > MAX_ENTRIES {
        s.nowhere()
            .hint("a SIS bundle holds a handful of CSV files")
            .err(
                "zip_too_many_entries",
                format!(
                    "the archive declares {} entries (limit {MAX_ENTRIES}); not opened",
                    eocd.entries
                ),
            );
        ctx.out.push(s.finish());
        return Ok(());
    }
    if eocd.cd_size > MAX_DIRECTORY {
        s.nowhere().hint("entry names or extra fields are far longer than a SIS bundle's").err("zip_directory_too_large", format!(
                "the archive's central directory is {} bytes (limit {MAX_DIRECTORY}); not opened",
                eocd.cd_size
            ));
        ctx.out.push(s.finish());
        return Ok(());
    }
    let raw_names = match cd_names(&mut f, &eocd) {
        Ok(n) => n,
        Err(m) => {
            s.nowhere()
                .err("zip_corrupt", format!("corrupt zip archive: {m}"));
            ctx.out.push(s.finish());
            return Ok(());
        }
    };
    f.seek(SeekFrom::Start(0))?;
    let mut zip = match zip::ZipArchive::new(BufReader::new(f)) {
        Ok(z) => z,
        Err(e) => {
            s.nowhere()
                .err("zip_corrupt", format!("corrupt zip archive: {e}"));
            ctx.out.push(s.finish());
            return Ok(());
        }
    };
    // Duplicate names (the zip crate keeps only one of them).
    let mut sorted_raw: Vec<&Vec<u8>> = raw_names.iter().collect();
    sorted_raw.sort();
    let mut i = 0;
    while i < sorted_raw.len() {
        let mut j = i + 1;
        while j < sorted_raw.len() && sorted_raw[j] == sorted_raw[i] {
            j += 1;
        }
        if j - i > 1 {
            let n = String::from_utf8_lossy(sorted_raw[i]);
            s.nowhere().file(format!("{display}:{n}")).err(
                "zip_duplicate_entry",
                format!(
                    "the archive holds {} entries named \"{n}\"; extraction would keep only one",
                    j - i
                ),
            );
        }
        i = j;
    }
    // Entries' metadata.
    struct Ent {
        idx: usize,
        name: String,
        raw: Vec<u8>,
        dir: bool,
        symlink: bool,
        encrypted: bool,
        size: u64,
    }
    let mut ents = Vec::with_capacity(zip.len());
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        match zip.by_index_raw(i) {
            Ok(e) => {
                total = total.saturating_add(e.size());
                ents.push(Ent {
                    idx: i,
                    name: e.name().to_string(),
                    raw: e.name_raw().to_vec(),
                    dir: e.is_dir(),
                    symlink: e.is_symlink(),
                    encrypted: e.encrypted(),
                    size: e.size(),
                });
            }
            Err(e) => {
                s.nowhere()
                    .err("zip_corrupt", format!("corrupt zip entry #{i}: {e}"));
            }
        }
    }
    let limit = len.saturating_mul(BOMB_RATIO).min(BOMB_CAP);
    if total >= limit {
        s.nowhere().hint("Canvas fails such an import").err("zip_bomb", format!(
                "the entries declare {total} bytes uncompressed, {}× the {len}-byte archive (Canvas refuses {BOMB_RATIO}× or more, and over 50 GB); not inflated",
                total / len.max(1)
            ));
        ctx.out.push(s.finish());
        return Ok(());
    }
    ents.sort_by(|a, b| a.raw.cmp(&b.raw));
    let readable: Vec<&str> = ents
        .iter()
        .filter(|e| !e.dir && !canvas_skips(&e.name))
        .map(|e| e.name.as_str())
        .collect();
    let ims = zip_is_ims(ctx.opts, &readable);
    let wanted = if ims { "xml" } else { "csv" };
    let others = ents.iter().any(|e| {
        e.size > 0
            && !e.dir
            && !canvas_skips(&e.name)
            && lower_ext(&e.name).as_deref() == Some("csv")
    });
    let mut entry_reports = vec![];
    let mut csv_entries = 0usize;
    for e in &ents {
        let ename = format!("{display}:{}", e.name);
        if let Some(why) = unsafe_path(&e.raw, &e.name) {
            s.nowhere()
                .file(ename)
                .hint("build the zip from inside the folder, with relative paths")
                .err(
                    "zip_unsafe_path",
                    format!("entry has {why}; refusing to extract it"),
                );
            continue;
        }
        if e.symlink {
            s.nowhere()
                .file(ename)
                .err("zip_symlink", "entry is a symbolic link");
            continue;
        }
        if e.dir || canvas_skips(&e.name) {
            continue;
        }
        let ext = lower_ext(&e.name);
        if ext.as_deref() != Some(wanted) {
            let nested = ext.as_deref() == Some("zip");
            s.nowhere()
                .file(ename)
                .hint(if nested {
                    "Canvas will skip it: a zip inside the zip is not opened"
                } else if ims {
                    "Canvas will skip it: an ims_xml import reads the .xml files of a zip"
                } else {
                    "Canvas will skip it: only .csv files in a bundle are read"
                })
                .warn(
                    if nested { "nested_zip" } else { "skipped_file" },
                    "Skipping unknown file type",
                );
            continue;
        }
        csv_entries += 1;
        if e.encrypted {
            s.nowhere()
                .file(ename)
                .err("zip_encrypted", "entry is encrypted; Canvas cannot read it");
            continue;
        }
        if e.size == 0 {
            entry_reports.push(empty_csv(&ename, max, others && !ims));
            continue;
        }
        let rep = match zip.by_index(e.idx) {
            Ok(zf) => {
                let mut budget = Budget {
                    inner: zf,
                    read: 0,
                    declared: e.size,
                    counter: &mut ctx.inflated,
                };
                // A zip renamed .csv is named as such, as at the top level.
                let mut head = [0u8; 4];
                let mut n = 0;
                let mut head_err = None;
                while n < head.len() {
                    match budget.read(&mut head[n..]) {
                        Ok(0) => break,
                        Ok(k) => n += k,
                        Err(e) => {
                            head_err = Some(e);
                            break;
                        }
                    }
                }
                if ims && head_err.is_none() && !is_zip_magic(&head[..n]) {
                    let rdr = io::Read::chain(&head[..n], budget);
                    let mut r = super::xml::validate_xml(&ename, rdr, max, zip_io);
                    xml_import_type(ctx.opts, &mut r);
                    r
                } else if let Some(err) = head_err {
                    // Hand the error on (a CRC mismatch of a tiny entry, a bad stream).
                    let rdr = io::Read::chain(&head[..n], ErrOnce(Some(err)));
                    validate_csv(
                        &ename,
                        rdr,
                        &mut ctx.bundle,
                        &mut ctx.spares,
                        ctx.opts.limits(),
                        zip_io,
                    )
                } else if is_zip_magic(&head[..n]) {
                    let mut es = Sink::new(&ename, max);
                    es.nowhere().hint("put the inner archive's CSV files in the outer zip").err("csv_is_zip", "this entry is a zip archive, not CSV (by its name); Canvas would reject it as \"Invalid UTF-8\"");
                    es.finish()
                } else {
                    let rdr = io::Read::chain(&head[..n], budget);
                    validate_csv(
                        &ename,
                        rdr,
                        &mut ctx.bundle,
                        &mut ctx.spares,
                        ctx.opts.limits(),
                        zip_io,
                    )
                }
            }
            Err(err) => {
                let mut es = Sink::new(&ename, max);
                es.nowhere()
                    .err("zip_corrupt", format!("cannot open the entry: {err}"));
                es.finish()
            }
        };
        entry_reports.push(rep);
    }
    if ims && csv_entries == 0 && s.rep.errors == 0 {
        s.nowhere()
            .hint("put the IMS Enterprise .xml files in the zip")
            .err(
                "zip_no_xml",
                "the archive holds no .xml file an ims_xml import would read; Canvas imports nothing",
            );
    } else if csv_entries == 0 && s.rep.errors == 0 {
        // Canvas reads only the .csv entries: it would import nothing (refused
        // entries have already failed the archive).
        let has_xml = readable
            .iter()
            .any(|n| lower_ext(n).as_deref() == Some("xml"));
        s.nowhere()
            .hint(if has_xml {
                "its .xml files go as IMS Enterprise XML: drop the setting that makes import_type instructure_csv (ims_xml is chosen by itself), or put the CSV files in the zip"
            } else {
                "put the CSV files in the zip; sub-folders are fine"
            })
            .err(
                "zip_no_csv",
                "the archive holds no .csv file Canvas would read; Canvas imports nothing",
            );
    }
    ctx.out.push(s.finish());
    ctx.out.extend(entry_reports);
    Ok(())
}
