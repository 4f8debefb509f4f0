//! The row pipeline: the calling thread scans records (and hashes each line for the
//! duplicate count) into batches; the row checks run on a second thread, batch by batch,
//! in order, so their findings and order are those of one thread. A file that fits in
//! one batch is checked inline, without a thread.

use std::io::Read;
use std::sync::{Mutex, PoisonError, mpsc};

use super::dedup::{Dups, LineHashes};
use super::scan::{Record, ScanError, Scanner};

/// A row as the scanner hands it to the row checks.
#[derive(Default)]
pub struct Row {
    pub rec: Record,
    /// Canvas's row number (the header is 1; blank lines are not counted).
    pub no: u64,
    /// The row's hash for the exact-duplicate-line count.
    pub line_hash: u64,
}

/// Rows handed from the scanner to the row checks. The records are reused from batch
/// to batch.
#[derive(Default)]
pub struct Batch {
    rows: Vec<Row>,
    used: usize,
}

impl Batch {
    /// The batch's rows, in file order.
    #[inline]
    pub fn rows(&self) -> &[Row] {
        &self.rows[..self.used]
    }
}

/// Batches kept from one file for the next: their records keep their buffers, so a
/// bundle's files do not each allocate (and fault in) their own.
#[derive(Default)]
pub struct Spares(Vec<Batch>);

impl Spares {
    fn take(&mut self) -> Batch {
        self.0.pop().unwrap_or_default()
    }
    fn put(&mut self, b: Batch) {
        if self.0.len() <= BATCHES_IN_FLIGHT + 1 {
            self.0.push(b);
        }
    }
}

/// The first batch of a file: at most this many rows and bytes of field text. A file
/// that fits is checked inline.
pub const BATCH_ROWS: usize = 512;
pub const BATCH_BYTES: usize = 256 * 1024;
/// Each batch is twice the one before, up to this many times the first: a small file
/// reaches the second thread at once, a big one is handed over in fewer, bigger batches.
/// A hand-over can cost both threads a wake-up (at 512 rows a batch, about 4 context
/// switches per 1,000 rows); batches bigger than 2,048 rows outgrow the caches and
/// fault in more memory than the wake-ups they save.
const BATCH_GROWTH: usize = 4;
/// Batches queued for the checker (besides the one it checks and the one being filled).
const BATCHES_IN_FLIGHT: usize = 2;

/// What [`run`] found besides the rows.
pub struct Scanned {
    /// The scan error that ended the file, if any (every row before it was checked).
    pub error: Option<ScanError>,
    /// The exact duplicate lines (`LineHashes::duplicates` with `locate`).
    pub dups: std::io::Result<Dups>,
}

/// Scans the records after the header (`row_no` is the header's row number) and calls
/// `check` on every batch of rows, in order. Blank lines and rows whose fields are all
/// empty are skipped, as Canvas skips them (§6.1); every other row's line hash goes to
/// `hashes`, whose duplicates are counted while the last rows are checked. Batches are
/// taken from and given back to `spares`.
pub fn run<R, C>(
    sc: &mut Scanner<R>,
    mut hashes: LineHashes,
    locate: u64,
    mut row_no: u64,
    spares: &mut Spares,
    check: C,
) -> Scanned
where
    R: Read,
    C: FnMut(&Batch) + Send,
{
    let mut scan_error = None;
    let mut size = 1;
    let mut next_batch = |sc: &mut Scanner<R>, hashes: &mut LineHashes, batch: &mut Batch| {
        batch.used = 0;
        let mut bytes = 0;
        let (rows, max_bytes) = (BATCH_ROWS * size, BATCH_BYTES * size);
        size = (size * 2).min(BATCH_GROWTH);
        while batch.used < rows && bytes < max_bytes && scan_error.is_none() {
            if batch.rows.len() == batch.used {
                batch.rows.push(Row::default());
            }
            let Row { rec, no, line_hash } = &mut batch.rows[batch.used];
            match sc.next_record(rec) {
                Ok(true) => {}
                Ok(false) => return false,
                Err(e) => {
                    scan_error = Some(e);
                    return false;
                }
            }
            if rec.is_blank_line() {
                continue;
            }
            row_no += 1;
            if rec.all_empty() {
                continue;
            }
            // Canvas's de-duplication of exact duplicate lines.
            let h = rec.line_hash();
            hashes.push(h, rec.line());
            (*no, *line_hash) = (row_no, h);
            bytes += rec.text_len();
            batch.used += 1;
        }
        true
    };
    let check = Mutex::new(check);
    let checked = |check: &mut C, batch: &mut Batch| {
        check(batch);
        // Keep the reused records small after an unusually large one.
        for row in &mut batch.rows {
            if row.rec.capacity() > BATCH_BYTES {
                row.rec = Record::default();
            }
        }
    };
    let mut batch = spares.take();
    let mut more = next_batch(sc, &mut hashes, &mut batch);
    let mut dups = None;
    let pipelined = more
        && std::thread::scope(|s| {
            let (to_checker, from_scanner) = mpsc::sync_channel::<Batch>(BATCHES_IN_FLIGHT);
            let (to_scanner, recycled) = mpsc::channel::<Batch>();
            let check = &check;
            let Ok(worker) = std::thread::Builder::new()
                .name("validate-rows".into())
                .spawn_scoped(s, move || {
                    let mut c = check.lock().unwrap_or_else(PoisonError::into_inner);
                    for mut b in from_scanner {
                        checked(&mut c, &mut b);
                        if to_scanner.send(b).is_err() {
                            break;
                        }
                    }
                })
            else {
                return false;
            };
            let mut spare = BATCHES_IN_FLIGHT + 1;
            while more {
                let mut next = match recycled.try_recv() {
                    Ok(b) => b,
                    Err(_) if spare > 0 => {
                        spare -= 1;
                        spares.take()
                    }
                    Err(_) => match recycled.recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    },
                };
                more = next_batch(sc, &mut hashes, &mut next);
                std::mem::swap(&mut batch, &mut next);
                if to_checker.send(next).is_err() {
                    break;
                }
            }
            let _ = to_checker.send(std::mem::take(&mut batch));
            drop(to_checker);
            // Count the duplicate lines while the last batches are checked.
            dups = Some(std::mem::take(&mut hashes).duplicates(locate));
            if let Err(p) = worker.join() {
                std::panic::resume_unwind(p);
            }
            for b in recycled.try_iter() {
                spares.put(b);
            }
            true
        });
    let mut check = check.into_inner().unwrap_or_else(PoisonError::into_inner);
    if !pipelined {
        // One batch holds the whole file, or no second thread: check as we scan.
        loop {
            checked(&mut check, &mut batch);
            if !more {
                break;
            }
            more = next_batch(sc, &mut hashes, &mut batch);
        }
        spares.put(batch);
    }
    Scanned {
        error: scan_error,
        dups: dups.unwrap_or_else(|| hashes.duplicates(locate)),
    }
}
