//! Validation of one CSV stream (a file or a zip entry): the header, the kind it makes
//! the file, then every row through the pipeline, then the file's own notices.

use std::io::{self, Read};

use super::bundle::Bundle;
use super::fast::pipeline::Spares;
use super::fast::{self, Dups, LineHashes, ScanError, Scanner};
use super::header;
use super::recognise::recognise;
use super::rows::Checker;
use super::sink::Sink;
use super::{FileReport, Limits};

pub(crate) type IoClassifier = fn(&io::Error) -> (&'static str, String);

pub(crate) fn default_io(e: &io::Error) -> (&'static str, String) {
    ("read_error", format!("cannot read: {e}"))
}

/// Validate one CSV stream. `name` is the display name (`bundle.zip:dir/users.csv`).
pub(crate) fn validate_csv<R: Read>(
    name: &str,
    rdr: R,
    bundle: &mut Bundle,
    spares: &mut Spares,
    limits: Limits,
    classify: IoClassifier,
) -> FileReport {
    let mut sink = Sink::new(name, limits.max_diagnostics);
    let file_idx = bundle.add_file(name);
    let mut sc = Scanner::new(rdr);
    let header = match header::read(&mut sc, &mut sink) {
        Ok(Some(h)) => h,
        Ok(None) => return sink.finish(),
        Err(e) => {
            scan_error(&mut sink, e, classify);
            return sink.finish();
        }
    };
    let kind = recognise(&header.names, header.line, &mut sink);
    if let Some(k) = kind {
        bundle.file_kinds[file_idx] = k as u8;
    }
    let cols = kind.map(|i| header.columns(&super::kinds::KINDS[i], &mut sink, bundle));

    let mut checker = Checker::new(
        header.names.len(),
        kind.zip(cols.as_ref()),
        file_idx,
        &mut sink,
        bundle,
    );
    let scanned = fast::pipeline::run(
        &mut sc,
        LineHashes::new(limits.line_hashes),
        DEDUP_MIN,
        1,
        spares,
        |b| checker.rows(b),
    );
    if let Some(e) = scanned.error {
        scan_error(&mut sink, e, classify);
    }
    // A spill file that cannot be read back leaves the count unknown: say nothing.
    deduplication_notice(&mut sink, name, scanned.dups.unwrap_or_default());
    // Drain the rest so that a zip entry's CRC is checked even after an early stop.
    let mut inner = sc.into_inner();
    if let Err(e) = io::copy(&mut inner, &mut io::sink()) {
        let (code, msg) = classify(&e);
        if !sink.rep.diagnostics.iter().any(|d| d.code == code) {
            sink.nowhere().err(code, msg);
        }
    }
    sink.finish()
}

fn scan_error(sink: &mut Sink, e: ScanError, classify: IoClassifier) {
    match e {
        ScanError::Syntax {
            code,
            line,
            message,
            hint,
        } => sink.at(line).hint_opt(hint).err(code, message),
        ScanError::Io(e) => {
            let (code, msg) = classify(&e);
            sink.nowhere().err(code, msg)
        }
    }
}

/// Canvas drops the exact duplicate lines of a file that has this many or more (§6.1).
const DEDUP_MIN: u64 = 100;

/// The notice of Canvas's de-duplication, when `dups` are enough for it.
fn deduplication_notice(sink: &mut Sink, name: &str, dups: Dups) {
    let dup_lines = dups.count;
    if dup_lines < DEDUP_MIN {
        return;
    }
    let base = name.rsplit(['/', ':']).next().unwrap_or(name);
    let stem = base
        .strip_suffix(".csv")
        .or_else(|| base.strip_suffix(".CSV"))
        .unwrap_or(base);
    // Shown even past the diagnostics limit.
    sink.max += 1;
    let first = match dups.first {
        Some((dup, orig)) => format!(" (the first is line {dup}, a copy of line {orig})"),
        None => String::new(),
    };
    sink.at_opt(dups.first.map(|(dup, _)| dup))
        .hint("remove the duplicate lines so Canvas's messages name this file")
        .warn(
            "deduplicated",
            format!(
                "{dup_lines} lines are exact duplicates of earlier lines{first}: Canvas will drop them (keeping the last copy) and report this file as \"{stem}_deduplicated.csv\""
            ),
        );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::kinds::Ns;

    /// Enough rows for several batches, so the row checks run on the second thread.
    #[test]
    fn pipelined_rows_keep_their_order() {
        // Both dates: a start_date alone is a lone_enrollment_date warning of its own.
        let mut csv = String::from("course_id,user_id,role,status,start_date,end_date\n");
        let rows = 5 * fast::BATCH_ROWS + 17;
        for i in 0..rows {
            let date = if i % 7 == 0 {
                "2026-02-32"
            } else {
                "2026-02-03"
            };
            csv.push_str(&format!("C1,U{i},student,active,{date},2026-06-30\n"));
            if i % 100 == 0 {
                csv.push('\n');
            }
        }
        csv.push_str("C1,\"U-open,student\n");
        let mut b = Bundle::default();
        let lim = Limits {
            max_diagnostics: usize::MAX,
            line_hashes: 1 << 20,
        };
        let mut spares = Spares::default();
        let r = validate_csv(
            "e.csv",
            csv.as_bytes(),
            &mut b,
            &mut spares,
            lim,
            default_io,
        );
        let bad = rows.div_ceil(7);
        assert_eq!(r.rows as usize, rows);
        assert_eq!(r.diagnostics.len(), bad + 1);
        let mut last = 0;
        for d in &r.diagnostics[..bad] {
            assert_eq!(d.code, "bad_date");
            let line = d.line.unwrap();
            assert!(line > last);
            last = line;
        }
        // 2 + 7k plus a blank line after every 100 rows.
        let k = bad as u64 - 1;
        let i = 7 * k;
        assert_eq!(last, 2 + i + i / 100 + 1);
        let end = r.diagnostics.last().unwrap();
        assert_eq!(end.code, "unterminated_quote");
        b.flush();
        assert_eq!(b.refs[Ns::User as usize].iter().count(), rows);
    }
}
