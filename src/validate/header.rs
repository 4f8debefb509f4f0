//! The header row: reading it, its own problems (NUL, spaces around names, duplicate
//! names), and, once the kind is known, its columns against the kind's (§6.1, §6.4).

use std::io::Read;

use super::bundle::Bundle;
use super::fast::{Record, ScanError, Scanner, strip};
use super::kinds::{Kind, Req};
use super::messages::{article, nearest};
use super::sink::Sink;

/// The header row as Canvas reads it.
pub(super) struct Header {
    /// Physical line of the header row.
    pub line: u64,
    /// Column names, lower-cased and trimmed, as Canvas reads them to recognise the kind.
    pub names: Vec<String>,
    /// Column names lower-cased only, as Canvas's rows are keyed (its header converter
    /// does not trim): `row["login_id"]` finds no `" login_id"` column (§6.1).
    raw: Vec<String>,
    /// Physical line where each name starts.
    lines: Vec<u64>,
}

/// Where the kind's columns are in the header, resolved once per file.
pub(super) struct Columns {
    /// Header index of each of the kind's columns.
    pub hidx: Vec<Option<usize>>,
    /// Required columns missing from the header: reported once there, not on every row.
    pub suppressed: Vec<bool>,
}

/// Reads the header row, skipping blank lines before it, and reports its own problems.
/// `Err` when the file has none: the empty file or the scan error that ends it
/// (`Ok(None)` from the scanner is reported here).
pub(super) fn read<R: Read>(
    sc: &mut Scanner<R>,
    sink: &mut Sink,
) -> Result<Option<Header>, ScanError> {
    let mut rec = Record::default();
    loop {
        match sc.next_record(&mut rec)? {
            true if rec.is_blank_line() => continue,
            true => break,
            false => {
                let (code, msg) = if sc.bytes == 0 {
                    ("empty_file", "empty file; Canvas ignores it")
                } else if sc.bom && sc.bytes == 3 {
                    (
                        "no_header",
                        "the file holds only a byte-order mark; Canvas finds no header",
                    )
                } else {
                    (
                        "no_header",
                        "the file holds only blank lines; Canvas finds no header",
                    )
                };
                sink.at_opt((sc.bytes != 0).then_some(1)).err(code, msg);
                return Ok(None);
            }
        }
    }
    let raw: Vec<String> = (0..rec.len())
        .map(|i| rec.field(i).to_lowercase())
        .collect();
    let h = Header {
        line: rec.line(),
        names: raw.iter().map(|s| strip(s).to_string()).collect(),
        lines: (0..rec.len()).map(|i| rec.field_line(i)).collect(),
        raw,
    };
    if let Some(l) = rec.nul_line() {
        sink.at(l)
            .err("nul_character", "NUL character in the header row");
    }
    Ok(Some(h))
}

impl Header {
    /// Whether a column is named exactly `c` (lower-cased, untrimmed), as Canvas's rows
    /// are keyed.
    fn has(&self, c: &str) -> bool {
        self.raw.iter().any(|n| n == c)
    }

    /// The header against kind `k`'s columns: spaces around names, repeated names,
    /// unknown columns, missing required ones; counts the namespaces the file defines in
    /// `bundle`.
    pub fn columns(&self, k: &Kind, sink: &mut Sink, bundle: &mut Bundle) -> Columns {
        // The first column of each name: Ruby's `CSV::Row#[]` returns the first of
        // repeated headers. A map, not a scan of the columns before (a header of
        // 100,000 columns took 20 s).
        let mut first_col = std::collections::HashMap::with_capacity(self.raw.len());
        for (i, n) in self.raw.iter().enumerate() {
            first_col.entry(n.as_str()).or_insert(i);
        }
        let hidx: Vec<Option<usize>> = k
            .cols
            .iter()
            .map(|c| first_col.get(c.name).copied())
            .collect();
        for (i, n) in self.names.iter().enumerate() {
            if n.is_empty() {
                continue;
            }
            let Some(ci) = k.col(n) else {
                let hint = nearest(n, k.cols.iter().map(|c| c.name))
                    .map(|c| format!("did you mean \"{c}\"?"));
                sink.at(self.lines[i]).row(1).col(n).hint_opt(hint).warn(
                    "unknown_column",
                    format!(
                        "unknown column \"{n}\" for {} {} file; Canvas ignores it",
                        article(k.name),
                        k.name
                    ),
                );
                continue;
            };
            let raw = &self.raw[i];
            if *raw != *n {
                // Canvas recognises the kind by trimmed names, then keys the rows by
                // the untrimmed ones: this column is read by no name it knows.
                let what = match hidx[ci] {
                    Some(f) => format!(
                        "Canvas ignores this column and reads \"{n}\" from column {}",
                        f + 1
                    ),
                    None if matches!(k.cols[ci].req, Req::Yes | Req::Header) => format!(
                        "Canvas does not trim header names, so it finds no \"{n}\" column and skips every row (see the missing column)"
                    ),
                    None => format!(
                        "Canvas does not trim header names, so it reads column \"{n}\" as empty in every row"
                    ),
                };
                sink.at(self.lines[i])
                    .row(1)
                    .col(n)
                    .hint(format!("write it as \"{n}\""))
                    .warn(
                        "header_whitespace",
                        format!(
                            "header cell \"{raw}\" (column {}) has spaces around it: {what}",
                            i + 1
                        ),
                    );
            } else if let Some(f) = hidx[ci].filter(|&f| f != i) {
                sink.at(self.lines[i]).row(1).col(n).hint("remove one of them").warn(
                    "duplicate_column",
                    format!(
                        "duplicate header column \"{n}\" (columns {} and {}): Canvas reads column {} and ignores column {}",
                        f + 1,
                        i + 1,
                        f + 1,
                        i + 1
                    ),
                );
            }
        }
        let mut suppressed = vec![false; k.cols.len()];
        for (ci, c) in k.cols.iter().enumerate() {
            // A column required unless another is set, with neither in the header, is
            // missing from every row just the same.
            let required = match c.req {
                Req::Yes | Req::Header => true,
                Req::UnlessSet(o) => !self.has(o),
                Req::No | Req::UnlessDeleted => false,
            };
            if hidx[ci].is_none() && required {
                suppressed[ci] = true;
                let padded = self.names.iter().position(|n| n == c.name);
                let mut msg = format!("required column \"{}\" is missing from the header", c.name);
                if let Some(p) = padded {
                    msg.push_str(&format!(
                        " (column {} is \"{}\", with spaces Canvas does not trim)",
                        p + 1,
                        self.raw[p]
                    ));
                }
                if let Req::UnlessSet(o) = c.req {
                    msg.push_str(&format!(", and so is \"{o}\", which can stand in for it"));
                }
                sink.at(self.line)
                    .row(1)
                    .col(c.name)
                    .hint(if c.req == Req::Header {
                        "the column must be present even when its values are blank"
                    } else {
                        "Canvas would skip every row"
                    })
                    .err("missing_column", msg);
            }
        }
        for o in k.one_of {
            if o.cols.iter().all(|c| !self.has(c)) {
                sink.at(self.line)
                    .row(1)
                    .col(o.cols[0])
                    .hint(if o.new_only {
                        "Canvas skips every row that creates a new one; rows updating existing ones are fine"
                    } else {
                        "Canvas would skip every row"
                    })
                    .report(
                        if o.new_only {
                            super::Severity::Warning
                        } else {
                            super::Severity::Error
                        },
                        "missing_column",
                        format!(
                            "the header needs one of the columns {}{}",
                            o.cols
                                .iter()
                                .map(|c| format!("\"{c}\""))
                                .collect::<Vec<_>>()
                                .join(", "),
                            if o.new_only { " for new rows" } else { "" }
                        ),
                    );
            }
        }
        // Namespaces this file defines.
        if let Some((ns, _)) = k.defines {
            bundle.definers[ns as usize] += 1;
        }
        for (c, ns) in k.unique {
            if self.has(c) {
                bundle.definers[*ns as usize] += 1;
            }
        }
        Columns { hidx, suppressed }
    }
}
