//! Preparing what `submit` sends: kind detection from the name and the first bytes, refusal
//! of inputs Canvas would mishandle, zipping a directory on the fly (constant memory), and
//! the bundle's sha256: up front when it is needed before sending (`--once`, a dry run),
//! else computed from the bytes as they are sent ([`StreamHash`]), which also writes the run
//! archive's copy of the bundle in that same pass (`[archive] keep_bundles`), so that keeping
//! it costs no extra read.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::exit::{Failure, Result};
use crate::import_options::Holds;
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
    /// Known up front ([`prepare`], or [`prepare_with`] asked to hash); None when it is
    /// computed while the bundle is sent ([`Bundle::stream_hash`], [`Bundle::sha256_sent`]).
    pub sha256: Option<String>,
    stream: Arc<StreamHash>,
    /// The file as it was when it was prepared (size, times, inode): validated as that.
    seen: Option<Identity>,
    _temp: Option<tempfile::TempPath>,
}

/// What tells that a file was changed or replaced: its size, modification and change times
/// (nanoseconds) and inode.
type Identity = (u64, i64, i64, i64, i64, u64);

fn identity(m: &std::fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    (
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
        m.ino(),
    )
}

impl Bundle {
    /// §2.1: the Content-Type that matches the extension we also send in the query.
    pub fn content_type(&self) -> &'static str {
        content_type(self.extension)
    }

    /// The file is still the one that was prepared (and so validated): an export still being
    /// written, or replaced meanwhile, is not sent (exit 65). A directory's zip is this run's
    /// own copy.
    pub fn unchanged(&self) -> Result<()> {
        let Some(seen) = self.seen else {
            return Ok(());
        };
        let now = std::fs::metadata(&self.path).map_err(|e| open_err(&self.given, e))?;
        if identity(&now) == seen {
            return Ok(());
        }
        Err(Failure::data(format!(
            "{}: the file changed while it was checked (it was {} bytes, now {}); nothing was sent",
            self.given.display(),
            seen.0,
            now.len()
        ))
        .kind("bundle_changed")
        .hint("submit it again once the export is complete (an export written under another name and renamed into place is never seen half-written)"))
    }

    /// Whether the file sent is a temporary zip of a directory (gone when the run ends).
    pub fn is_temporary(&self) -> bool {
        self._temp.is_some()
    }

    /// What hashes the bundle as it is sent (and copies it, when asked): None when its
    /// sha256 is known already and no copy is wanted.
    pub fn stream_hash(&self) -> Option<Arc<StreamHash>> {
        (self.sha256.is_none() || self.stream.copying()).then(|| self.stream.clone())
    }

    /// Keep a copy of the bytes sent at `path`, written by the pass that sends them; it
    /// appears (renamed from a `.part` file) only once a pass has read the whole file.
    pub fn keep_copy(&self, path: PathBuf) {
        *self
            .stream
            .copy_to
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(path);
    }

    /// Once the upload is over. When it went through (`uploaded`), the copy's writer is
    /// given the few chunks it is behind (the process may end right after a submit), for at
    /// most [`COPY_GRACE`]. When it did not, a copy still being written is given up at once:
    /// it may wait for chunks that the upload will never read (a server that answered before
    /// the whole body came). Never blocks the thread: the HTTP stack that owns the body
    /// runs on it.
    pub async fn finish_copy(&self, uploaded: bool) {
        let writers = std::mem::take(
            &mut *self
                .stream
                .writers
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let mut behind = Vec::new();
        for mut w in writers {
            let done = if uploaded {
                tokio::time::timeout(COPY_GRACE, &mut w.done).await.is_ok()
            } else {
                w.done.try_recv().is_ok()
            };
            if !done {
                behind.push(w);
            }
        }
        if behind.is_empty() {
            return;
        }
        self.stream.abandoned.store(true, Ordering::SeqCst);
        for w in behind {
            if uploaded {
                tracing::warn!(target: "canvas_sis", "the run archive keeps no copy of the bundle: writing it took over {} s after the upload ended ({})", COPY_GRACE.as_secs(), w.part.display());
            }
            let _ = std::fs::remove_file(&w.part);
        }
    }

    /// The sha256 once the upload has ended: known up front, or computed by the last pass
    /// that sent the whole file, or else (an upload cut short) by reading the file again.
    pub fn sha256_sent(&self) -> std::io::Result<String> {
        if let Some(s) = &self.sha256 {
            return Ok(s.clone());
        }
        match self.stream.finish() {
            Some(s) => Ok(s),
            None => sha256_file(&self.path),
        }
    }
}

/// The sha256 of a file computed from the chunks of it as they are sent, by whoever reads
/// them (the HTTP stack's file reader, while the data is still in the cache). Each pass over
/// the file (a retried request starts another) hashes afresh; [`StreamHash::finish`] gives
/// the hash of the latest pass once that pass has seen the whole file.
#[derive(Debug, Default)]
pub struct StreamHash {
    state: Mutex<HashState>,
    /// Where a pass also writes the bytes (the run archive's copy), if anywhere.
    copy_to: Mutex<Option<PathBuf>>,
    /// The copies' writers, waited for once the upload is over ([`Bundle::finish_copy`]).
    writers: Mutex<Vec<Writer>>,
    /// Set when the copies still being written are given up: none of them appears.
    abandoned: Arc<AtomicBool>,
}

/// A copy's writer thread: its `.part` file, and word when it has ended.
#[derive(Debug)]
struct Writer {
    part: PathBuf,
    done: tokio::sync::oneshot::Receiver<()>,
}

/// How long a copy may take to catch up with an upload that went through (it is at most
/// [`COPY_BEHIND`] chunks behind) before it is given up.
const COPY_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct HashState {
    /// The latest pass.
    pass: u64,
    /// Its sha256, once it has seen the whole file.
    done: Option<String>,
}

impl StreamHash {
    fn copying(&self) -> bool {
        self.copy_to
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Start a pass over a file of `len` bytes; an earlier pass no longer counts.
    pub fn start(self: &Arc<Self>, len: u64) -> HashPass {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.pass += 1;
        s.done = None;
        let copy = self
            .copy_to
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .and_then(|to| Copy::start(to, len, s.pass, self.abandoned.clone()))
            .map(|(copy, writer)| {
                self.writers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(writer);
                copy
            });
        HashPass {
            owner: self.clone(),
            pass: s.pass,
            len,
            seen: 0,
            hasher: Sha256::new(),
            copy,
        }
    }

    /// The sha256 of the latest pass, if it has seen the whole file.
    pub fn finish(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .done
            .clone()
    }
}

/// One pass of a [`StreamHash`]: give it every chunk, in order.
pub struct HashPass {
    owner: Arc<StreamHash>,
    pass: u64,
    len: u64,
    seen: u64,
    hasher: Sha256,
    copy: Option<Copy>,
}

/// The archive's copy being written for a pass, on a thread of its own: the pass hands it
/// each chunk it sends (shared, not copied) and never waits for the disk. When the disk
/// falls behind by more than a few chunks, the copy is given up, with a warning: keeping a
/// copy must never slow the upload.
struct Copy {
    tx: Option<std::sync::mpsc::SyncSender<bytes::Bytes>>,
    part: PathBuf,
}

/// Chunks the copy may be behind the upload before it is given up.
const COPY_BEHIND: usize = 16;

impl Copy {
    /// `pass` names the `.part` file: a lagging copy of an earlier pass (a retried request)
    /// never removes or renames this pass's.
    fn start(
        to: PathBuf,
        len: u64,
        pass: u64,
        abandoned: Arc<AtomicBool>,
    ) -> Option<(Copy, Writer)> {
        let part = to.with_file_name(format!(
            ".{}.{pass}.part",
            to.file_name().unwrap_or_default().to_string_lossy()
        ));
        let file = match crate::paths::no_follow()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&part)
        {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(target: "canvas_sis", "the run archive keeps no copy of the bundle: {}: {e}", part.display());
                return None;
            }
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<bytes::Bytes>(COPY_BEHIND);
        let (ended, done) = tokio::sync::oneshot::channel();
        let p = part.clone();
        let spawned = std::thread::Builder::new()
            .name("bundle-copy".into())
            .spawn(move || {
                use std::io::Write;
                let mut file = file;
                let mut written = 0u64;
                let result = (|| -> std::io::Result<bool> {
                    for chunk in rx {
                        file.write_all(&chunk)?;
                        written += chunk.len() as u64;
                        if written == len {
                            if abandoned.load(Ordering::SeqCst) {
                                return Ok(false);
                            }
                            // Not synced: a copy lost to a power cut is a copy, not the
                            // run's record.
                            std::fs::rename(&p, &to)?;
                            return Ok(true);
                        }
                    }
                    Ok(false)
                })();
                drop(file);
                match result {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = std::fs::remove_file(&p);
                    }
                    Err(e) => {
                        tracing::warn!(target: "canvas_sis", "the run archive keeps no copy of the bundle: {}: {e}", p.display());
                        let _ = std::fs::remove_file(&p);
                    }
                }
                // Last: the file is closed and renamed (or removed) by now.
                let _ = ended.send(());
            });
        match spawned {
            Ok(_) => Some((
                Copy {
                    tx: Some(tx),
                    part: part.clone(),
                },
                Writer { part, done },
            )),
            Err(e) => {
                tracing::warn!(target: "canvas_sis", "the run archive keeps no copy of the bundle: {e}");
                let _ = std::fs::remove_file(&part);
                None
            }
        }
    }

    /// Hand a chunk on; false when the copy was given up.
    fn send(&mut self, chunk: &bytes::Bytes) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        match tx.try_send(chunk.clone()) {
            Ok(()) => true,
            Err(std::sync::mpsc::TrySendError::Full(_)) => {
                tracing::warn!(target: "canvas_sis", "the run archive keeps no copy of the bundle: the disk fell behind the upload ({})", self.part.display());
                // Dropping the sender before the whole file went through removes the part.
                self.tx = None;
                false
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                self.tx = None;
                false
            }
        }
    }
}

impl HashPass {
    /// Hand the chunk just hashed to the archive's copy, if one is kept (shared, not copied).
    pub fn keep(&mut self, chunk: &bytes::Bytes) {
        if let Some(c) = &mut self.copy
            && !c.send(chunk)
        {
            self.copy = None;
        }
    }

    /// Hash the next chunk. The pass is complete (its hash stored) as soon as the whole file
    /// has been seen, before that last chunk is sent on: by the time the server answers,
    /// the hash is there.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.seen += chunk.len() as u64;
        let mut s = self.owner.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.pass != self.pass {
            return;
        }
        if self.seen == self.len {
            s.done = Some(hex::encode(self.hasher.finalize_reset()));
        } else if self.seen > self.len {
            // The file grew while it was sent (the request fails): no hash from this pass.
            s.done = None;
        }
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
    // UTF-16 and binary files are full of NUL bytes (or are not UTF-8 at all); a UTF-8 export
    // with a stray NUL in a field is text, which Canvas imports with a warning ("Some of the
    // fields contain NULL character", reference §6), as `validate` says.
    let nuls = head.iter().filter(|b| **b == 0).count();
    if nuls > 0 {
        let utf8 = match std::str::from_utf8(head) {
            Ok(_) => true,
            // Cut short in the middle of a character by the end of `head`.
            Err(e) => e.error_len().is_none(),
        };
        if !utf8 || nuls * 10 >= head.len() {
            return Sniffed::Binary;
        }
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
        let hint = format!("{}; nothing was sent", crate::exit::input_hint(Some(&e)));
        Failure::no_input(format!("{}: cannot read: {e}", path.display()))
            .kind("input_unreadable")
            .hint(hint)
    }
}

/// What the bundle holds (§10.1, §10.2): an `.xml` file whose root is `enterprise` is IMS
/// Enterprise; a zip is judged by the `.xml` and `.csv` entries Canvas would read. XML
/// that is not IMS Enterprise is refused (exit 65): hosted Canvas imports no other XML as
/// SIS data. Only the prolog is read (nothing expanded, no DTD fetched); the whole file is
/// checked by the validator.
pub fn holds(b: &Bundle) -> Result<Holds> {
    match b.extension {
        Extension::Csv => Ok(Holds {
            xml: false,
            csv: true,
        }),
        Extension::Xml => {
            let f = File::open(&b.path).map_err(|e| open_err(&b.given, e))?;
            match crate::validate::xml::root_element(f) {
                Some(r) if r == crate::validate::xml::ROOT => Ok(Holds {
                    xml: true,
                    csv: false,
                }),
                root => Err(Failure::data(format!(
                    "{}: {}, so it is not IMS Enterprise XML, the only XML hosted Canvas imports (import_type ims_xml); nothing was sent",
                    b.given.display(),
                    match root {
                        Some(r) => format!("the root element is <{r}>, not <enterprise>"),
                        None => "no root element could be read".to_string(),
                    }
                ))
                .kind("import_type_mismatch")
                .hint("send an IMS Enterprise 1.1 file (root <enterprise>), or SIS CSV files; `canvas-sis validate FILE` shows where the XML goes wrong")),
            }
        }
        Extension::Zip => {
            // A broken or hostile archive: neither here; the validator says what is wrong.
            let (xml, csv) = crate::validate::zip_names(&b.path)
                .map(|names| crate::validate::names_hold_xml_csv(&names))
                .unwrap_or((false, false));
            Ok(Holds { xml, csv })
        }
    }
}

/// Check `path` and get it ready to send, with its sha256. Nothing here talks to Canvas.
pub fn prepare(path: &Path, forced: Option<Extension>) -> Result<Bundle> {
    prepare_with(path, forced, true)
}

/// [`prepare`]; the sha256 is computed now only when `hash_now` (a pass over the whole file
/// before anything is sent), else while the bundle is sent.
pub fn prepare_with(path: &Path, forced: Option<Extension>, hash_now: bool) -> Result<Bundle> {
    let meta = std::fs::metadata(path).map_err(|e| open_err(path, e))?;
    if meta.is_dir() {
        if forced.is_some_and(|e| e != Extension::Zip) {
            return Err(Failure::usage(format!(
                "{} is a directory: it is sent as a zip, so --extension must be zip (or left out)",
                path.display()
            )));
        }
        return zip_directory(path, hash_now);
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
    let n = read_up_to(&mut f, &mut head).map_err(|e| open_err(path, e))?;
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
    let sha256 = if hash_now {
        Some(checksum(path, path)?)
    } else {
        None
    };
    Ok(Bundle {
        given: path.to_path_buf(),
        path: path.to_path_buf(),
        name,
        len: meta.len(),
        extension: ext,
        sha256,
        stream: Arc::default(),
        seen: Some(identity(&meta)),
        _temp: None,
    })
}

/// Fill `buf` from `r` as far as it goes (less only at the end): a file's first bytes, to
/// tell what it is.
pub(crate) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
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
fn zip_directory(dir: &Path, hash_now: bool) -> Result<Bundle> {
    let files = csv_files(dir).map_err(|e| open_err(dir, e))?;
    if files.is_empty() {
        return Err(crate::validate::no_csv_in_dir(dir, "nothing to send"));
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
    let sha256 = if hash_now {
        Some(checksum(&path, dir)?)
    } else {
        None
    };
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
        stream: Arc::default(),
        seen: None,
        _temp: Some(tmp.into_temp_path()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_hash_is_the_files_once_a_pass_sees_all_of_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("blob.bin");
        let body: Vec<u8> = (0..600_000u32).flat_map(|i| i.to_le_bytes()).collect();
        std::fs::write(&p, &body).unwrap();
        let want = sha256_file(&p).unwrap();
        let h = Arc::new(StreamHash::default());
        let len = body.len() as u64;
        // A pass cut short gives nothing.
        let mut cut = h.start(len);
        cut.update(&body[..1000]);
        assert_eq!(h.finish(), None);
        // The next pass, fed the whole file, gives its hash; the abandoned one no longer
        // counts, even if it goes on.
        let mut full = h.start(len);
        for c in body.chunks(256 * 1024) {
            full.update(c);
        }
        cut.update(&body[1000..]);
        assert_eq!(h.finish(), Some(want));
        // More than the file: no hash.
        full.update(b"x");
        assert_eq!(h.finish(), None);
    }

    #[test]
    fn a_bundle_hashed_later_says_so() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("users.csv");
        std::fs::write(&p, "user_id,login_id,status\nu1,l1,active\n").unwrap();
        let later = prepare_with(&p, None, false).unwrap();
        assert_eq!(later.sha256, None);
        assert!(later.stream_hash().is_some());
        // Nothing was sent: the file is read again for its hash.
        let now = prepare(&p, None).unwrap();
        assert!(now.stream_hash().is_none());
        assert_eq!(later.sha256_sent().unwrap(), now.sha256.clone().unwrap());
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"PK\x03\x04rest"), Sniffed::Zip);
        assert_eq!(sniff(b"\xEF\xBB\xBFuser_id,login_id"), Sniffed::Text);
        assert_eq!(sniff(b"  <?xml version"), Sniffed::Xml);
        assert_eq!(sniff(b"u\0s\0e\0r\0"), Sniffed::Binary);
        assert_eq!(sniff(b"\xFF\xFEu\0s\0"), Sniffed::Binary);
        assert_eq!(
            sniff(b"user_id,login_id,status\nU1,l\0one,active\nU2,two,active\n"),
            Sniffed::Text,
            "a stray NUL in a UTF-8 export"
        );
    }
}
