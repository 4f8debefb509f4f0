//! The Canvas SIS CSV bundle being written: a zip in a temporary file beside OUT.zip, one
//! CSV entry at a time, renamed to OUT.zip only when everything is written (never a
//! partial OUT.zip; the temporary file is removed when the conversion fails or is
//! interrupted, as dropping it does).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use zip::write::SimpleFileOptions;

const CHUNK: usize = 1 << 16;

pub struct Out {
    zip: zip::ZipWriter<BufWriter<tempfile::NamedTempFile>>,
    /// The entry being written, with its rows so far.
    open: Option<(&'static str, u64)>,
    /// Rows per Canvas kind, in the order the entries were written.
    pub rows: Vec<(&'static str, u64)>,
    /// Off once an error was found: nothing more is worth writing.
    pub on: bool,
    /// Rows not yet handed to the compressor: one write per 64 KiB, not per row (the
    /// deflate writer zeroes its buffer on every call).
    buf: Vec<u8>,
}

impl Out {
    /// A temporary file in OUT's directory (so the final rename stays on one filesystem).
    pub fn new(target: &Path) -> io::Result<Out> {
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".canvas-sis-convert-")
            .suffix(".zip.part")
            .tempfile_in(dir)?;
        Ok(Out {
            zip: zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, tmp)),
            open: None,
            rows: vec![],
            on: true,
            buf: Vec::with_capacity(CHUNK + 4096),
        })
    }

    /// Start `file` (e.g. `users.csv`, Canvas kind `user`) with its header row.
    pub fn start(&mut self, file: &str, kind: &'static str, header: &[&str]) -> io::Result<()> {
        self.end()?;
        if !self.on {
            return Ok(());
        }
        // Level 1: the bundle is uploaded once; speed matters more than a few % of size.
        let opts = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .compression_level(Some(1));
        self.zip.start_file(file, opts).map_err(io::Error::other)?;
        self.open = Some((kind, 0));
        self.record(header)?;
        Ok(())
    }

    /// One row of the open entry, quoted as RFC 4180 wants (§6.1).
    pub fn row(&mut self, fields: &[&str]) -> io::Result<()> {
        if !self.on {
            return Ok(());
        }
        if let Some((_, n)) = &mut self.open {
            *n += 1;
        }
        self.record(fields)
    }

    fn record(&mut self, fields: &[&str]) -> io::Result<()> {
        let buf = &mut self.buf;
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            if f.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
                buf.push(b'"');
                for b in f.bytes() {
                    if b == b'"' {
                        buf.push(b'"');
                    }
                    buf.push(b);
                }
                buf.push(b'"');
            } else {
                buf.extend_from_slice(f.as_bytes());
            }
        }
        buf.push(b'\n');
        if buf.len() >= CHUNK {
            self.flush_rows()?;
        }
        Ok(())
    }

    fn flush_rows(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.zip.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn end(&mut self) -> io::Result<()> {
        if let Some(done) = self.open.take() {
            self.flush_rows()?;
            self.rows.push(done);
        }
        Ok(())
    }

    /// Close the zip and rename it to `target`: over an existing file only with `force`
    /// (without it, a file that appeared meanwhile is not replaced either).
    pub fn persist(
        mut self,
        target: &Path,
        force: bool,
    ) -> Result<Vec<(&'static str, u64)>, io::Error> {
        self.end()?;
        let w = self.zip.finish().map_err(io::Error::other)?;
        let tmp = w.into_inner().map_err(|e| e.into_error())?;
        tmp.as_file().sync_all()?;
        let target = match crate::paths::Output::at(target) {
            // A FIFO or device (`-o /dev/stdout`): the zip is copied through it; renaming
            // would put a file in the node's place.
            crate::paths::Output::Through(p) => {
                let mut from = tmp.reopen()?;
                let mut to = crate::paths::open_through(&p)?;
                io::copy(&mut from, &mut to)?;
                return Ok(self.rows);
            }
            // Through a symlink to a file: that file is replaced, the link kept.
            crate::paths::Output::Replace { path, .. } => path,
            crate::paths::Output::Folder => {
                return Err(io::Error::from(io::ErrorKind::IsADirectory));
            }
        };
        let placed = if force {
            tmp.persist(&target)
        } else {
            tmp.persist_noclobber(&target)
        };
        let f: File = placed.map_err(|e| e.error)?;
        drop(f);
        Ok(self.rows)
    }
}
