//! A streaming CSV scanner that follows Ruby's CSV (what Canvas uses) strictly:
//! it reports the malformed-quote cases the `csv` crate would accept, checks UTF-8
//! as it goes, and tracks physical line numbers. Memory: one chunk plus one record.

use std::io::{self, Read};

use super::hash::{LINE_START, hash_line, line_block, line_end};

const CHUNK: usize = 64 * 1024;
/// A single record larger than this is refused (memory stays bounded).
pub const MAX_RECORD: usize = 16 * 1024 * 1024;
/// A record with more fields than this is refused too: each costs 16 bytes of field
/// ends and lines, so a 16 MiB line of commas would otherwise hold 256 MB.
pub const MAX_FIELDS: usize = 1 << 20;

#[derive(Debug)]
pub enum ScanError {
    /// A problem with the CSV text itself (Canvas: "Malformed CSV" / "Invalid UTF-8").
    Syntax {
        code: &'static str,
        line: u64,
        message: String,
        hint: Option<String>,
    },
    Io(io::Error),
}

/// One record, checked: its fields, unescaped and not trimmed, joined by commas in
/// `data`; field `i` ends at `ends[i]` (and starts one byte after the end of the one
/// before).
///
/// Only the scanner writes a record, and only with bytes it validated as UTF-8, split at
/// ASCII bytes (`,`, line endings, quotes): every field is UTF-8, so [`Record::field`]
/// hands out `&str` without checking again. Rule code reads records only through these
/// methods.
#[derive(Default, Debug)]
pub struct Record {
    pub(super) data: Vec<u8>,
    pub(super) ends: Vec<usize>,
    /// Physical line where each field starts; empty when the record is on one line
    /// (every field starts on `line`): read it with [`Record::field_line`].
    pub(super) field_lines: Vec<u64>,
    /// Physical line where the record starts.
    pub(super) line: u64,
    /// Physical line where it ends (differs for multi-line quoted fields).
    pub(super) end_line: u64,
    pub(super) any_quoted: bool,
    /// The line of the first NUL character in the record, if any.
    pub(super) nul_line: Option<u64>,
    /// `hash_line` of the record, when the scanner read it in one piece (hashed where
    /// it was read).
    pub(super) line_hash: Option<u64>,
}

impl Record {
    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.ends.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    /// Physical line where the record starts.
    #[inline]
    pub fn line(&self) -> u64 {
        self.line
    }
    /// The line of the first NUL character in the record, if any.
    #[inline]
    pub fn nul_line(&self) -> Option<u64> {
        self.nul_line
    }
    /// Physical line where field `i` starts (`line` past the last field).
    #[inline]
    pub fn field_line(&self, i: usize) -> u64 {
        self.field_lines.get(i).copied().unwrap_or(self.line)
    }
    #[inline]
    fn field_bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        &self.data[start..self.ends[i]]
    }
    /// Field `i`, as read (unescaped, not trimmed).
    #[inline]
    pub fn field(&self, i: usize) -> &str {
        let b = self.field_bytes(i);
        debug_assert!(std::str::from_utf8(b).is_ok());
        // SAFETY: the type's invariant (see above): `data` holds only bytes the scanner
        // validated as UTF-8, and `ends` are all at ASCII bytes, so every field is UTF-8.
        unsafe { std::str::from_utf8_unchecked(b) }
    }
    /// Field `i` trimmed as Canvas trims it ([`strip`]).
    #[inline]
    pub fn value(&self, i: usize) -> &str {
        strip(self.field(i))
    }
    /// Bytes of field text (for sizing batches).
    #[inline]
    pub fn text_len(&self) -> usize {
        self.data.len()
    }
    /// Whether every field is empty once trimmed (Canvas skips such a row).
    #[inline]
    pub fn all_empty(&self) -> bool {
        // A field is empty once stripped iff all its bytes are in the strip set, which
        // are all below `!`: most rows are told by their first byte (unless it is the
        // comma after an empty first field).
        self.data.first().is_none_or(|&b| b <= b' ' || b == b',')
            && (0..self.len()).all(|i| strip_bytes(self.field_bytes(i)).is_empty())
    }
    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.field_lines.clear();
        self.any_quoted = false;
        self.nul_line = None;
        self.line_hash = None;
    }
    /// The record's hash for the exact-duplicate count: its fields joined by commas,
    /// and where each ends.
    #[inline]
    pub fn line_hash(&self) -> u64 {
        self.line_hash
            .unwrap_or_else(|| hash_line(&self.data, &self.ends))
    }
    /// A physical blank line (no field text, no quotes).
    #[inline]
    pub fn is_blank_line(&self) -> bool {
        self.ends.len() <= 1 && self.data.is_empty() && !self.any_quoted
    }
    /// Memory held for field text.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.data.capacity()
    }
}

/// Ruby's `String#strip`: leading and trailing whitespace and NUL.
#[inline]
pub fn strip(s: &str) -> &str {
    let b = strip_bytes(s.as_bytes());
    debug_assert!(std::str::from_utf8(b).is_ok());
    // SAFETY: `strip_bytes` removes only ASCII bytes from the ends of valid UTF-8, so
    // what is left starts and ends on character boundaries.
    unsafe { std::str::from_utf8_unchecked(b) }
}

#[inline]
fn strip_bytes(b: &[u8]) -> &[u8] {
    // Every byte of the set is below `!`: a field that starts and ends above it
    // (nearly all) is returned as it is.
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if f > b' ' && l > b' ' => return b,
        (None, _) => return b,
        _ => {}
    }
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0);
    let start = b.iter().position(|c| !is_ws(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_ws(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

// Byte classes.
const C_PLAIN: u8 = 0;
const C_COMMA: u8 = 1;
const C_LF: u8 = 2;
const C_CR: u8 = 3;
const C_QUOTE: u8 = 4;
const C_NUL: u8 = 5;

static CLASS: [u8; 256] = {
    let mut t = [C_PLAIN; 256];
    t[b',' as usize] = C_COMMA;
    t[b'\n' as usize] = C_LF;
    t[b'\r' as usize] = C_CR;
    t[b'"' as usize] = C_QUOTE;
    t[0] = C_NUL;
    t
};

/// Length of the leading run of `C_PLAIN` bytes, 8 bytes at a time.
#[inline]
fn plain_run(buf: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn zeros(v: u64) -> u64 {
        // Exact for the lowest zero byte (a borrow only marks bytes above it).
        v.wrapping_sub(LO) & !v & HI
    }
    let mut i = 0;
    while i + 8 <= buf.len() {
        let v = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let m = zeros(v)
            | zeros(v ^ (LO * b',' as u64))
            | zeros(v ^ (LO * b'\n' as u64))
            | zeros(v ^ (LO * b'\r' as u64))
            | zeros(v ^ (LO * b'"' as u64));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + buf[i..]
        .iter()
        .position(|&b| CLASS[b as usize] != C_PLAIN)
        .unwrap_or(buf.len() - i)
}

/// Bit masks of the 16 bytes: `,` or `\n` (separators), and `"`, `\r` or NUL.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special16(b: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86_64; the load reads exactly the 16 bytes of `b`.
    unsafe {
        let v = _mm_loadu_si128(b.as_ptr().cast::<__m128i>());
        let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let sep = _mm_movemask_epi8(_mm_or_si128(eq(b','), eq(b'\n'))) as u32;
        let bad = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(eq(b'"'), eq(b'\r')), eq(0)));
        (sep, bad as u32)
    }
}

/// The two little-endian halves of 16 bytes.
#[inline(always)]
fn halves(b: &[u8]) -> (u64, u64) {
    let w = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    (w(0), w(8))
}

/// Appends `chunk[p..q]` to `out`. Runs up to 32 bytes (most fields: ids, dates) are one
/// fixed-size copy of the chunk's bytes, then cut back, instead of a `memcpy` call each;
/// the chunk must have room past `q` for that, else it is a plain copy.
#[inline(always)]
fn push_bytes(out: &mut Vec<u8>, chunk: &[u8], p: usize, q: usize) {
    let n = q - p;
    let old = out.len();
    if n <= 16 && p + 16 <= chunk.len() {
        let w: &[u8; 16] = chunk[p..p + 16].try_into().expect("16 bytes");
        out.extend_from_slice(w);
        out.truncate(old + n);
    } else if n <= 32 && p + 32 <= chunk.len() {
        let w: &[u8; 32] = chunk[p..p + 32].try_into().expect("32 bytes");
        out.extend_from_slice(w);
        out.truncate(old + n);
    } else {
        out.extend_from_slice(&chunk[p..q]);
    }
}

pub struct Scanner<R> {
    rdr: R,
    buf: Vec<u8>,
    pos: usize,
    /// Bytes in `buf[..valid]` are checked UTF-8 and may be parsed.
    valid: usize,
    len: usize,
    /// Absolute offset of `buf[0]` in the file.
    base: u64,
    eof: bool,
    started: bool,
    pub bom: bool,
    /// Offset (absolute) and description of the first invalid UTF-8 byte.
    bad_utf8: Option<(u64, String, Option<String>)>,
    line: u64,
    /// The row separator, as Ruby's CSV picks it (`row_sep: :auto`): the first `\n`,
    /// `\r\n` or `\r` in the file, quoted or not. Any other line ending outside quotes
    /// is then malformed. `None` until one is seen.
    sep: Option<Nl>,
    done: bool,
    quote_line: u64,
    /// Total bytes read from the source.
    pub bytes: u64,
}

fn describe_bad(bytes: &[u8], at: usize) -> (String, Option<String>) {
    let b = bytes[at];
    let hint = if (0x80..=0x9f).contains(&b) {
        Some(format!(
            "byte 0x{b:02X} looks like Windows-1252 ('{}'); re-save the file as UTF-8",
            cp1252(b)
        ))
    } else if b >= 0xa0 {
        let c = b as char;
        Some(format!(
            "byte 0x{b:02X} looks like Latin-1 / Windows-1252 ('{c}'); re-save the file as UTF-8"
        ))
    } else {
        None
    };
    (format!("Invalid UTF-8: byte 0x{b:02X}"), hint)
}

fn cp1252(b: u8) -> char {
    const T: [char; 32] = [
        '€', '?', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '?', 'Ž', '?', '?', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '?', 'ž', 'Ÿ',
    ];
    T[(b - 0x80) as usize]
}

impl<R: Read> Scanner<R> {
    pub fn new(rdr: R) -> Self {
        Scanner {
            rdr,
            buf: vec![0; CHUNK],
            pos: 0,
            valid: 0,
            len: 0,
            base: 0,
            eof: false,
            started: false,
            bom: false,
            bad_utf8: None,
            line: 1,
            sep: None,
            done: false,
            quote_line: 0,
            bytes: 0,
        }
    }

    pub fn into_inner(self) -> R {
        self.rdr
    }

    /// Refill: keep unparsed bytes, read more, validate UTF-8. Returns false at end.
    fn fill(&mut self) -> Result<bool, ScanError> {
        if self.pos < self.valid {
            return Ok(true);
        }
        if self.bad_utf8.is_some() {
            return Ok(false);
        }
        // Move the unvalidated tail (an incomplete UTF-8 sequence) to the front.
        let tail = self.len - self.pos;
        self.buf.copy_within(self.pos..self.len, 0);
        self.base += self.pos as u64;
        self.pos = 0;
        self.len = tail;
        self.valid = 0;
        while !self.eof && self.len < self.buf.len() {
            match self.rdr.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.len += n;
                    self.bytes += n as u64;
                    if self.len >= 4096 {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ScanError::Io(e)),
            }
        }
        if !self.started {
            self.started = true;
            self.sniff()?;
            self.detect_sep();
        }
        match std::str::from_utf8(&self.buf[self.pos..self.len]) {
            Ok(_) => self.valid = self.len,
            Err(e) => {
                self.valid = self.pos + e.valid_up_to();
                if e.error_len().is_some() || self.eof {
                    let (m, h) = describe_bad(&self.buf, self.valid);
                    self.bad_utf8 = Some((self.base + self.valid as u64, m, h));
                }
            }
        }
        Ok(self.pos < self.valid)
    }

    /// First chunk: strip a UTF-8 BOM, refuse UTF-16/UTF-32.
    fn sniff(&mut self) -> Result<(), ScanError> {
        let b = &self.buf[..self.len];
        if b.starts_with(&[0xef, 0xbb, 0xbf]) {
            self.bom = true;
            self.pos = 3;
            return Ok(());
        }
        let utf16 = if b.starts_with(&[0xff, 0xfe]) || b.starts_with(&[0xfe, 0xff]) {
            Some("a UTF-16 byte-order mark")
        } else if b.len() >= 4 {
            let n = b.len().min(1024) & !1;
            let even = b[..n].iter().step_by(2).filter(|&&x| x == 0).count();
            let odd = b[1..n].iter().step_by(2).filter(|&&x| x == 0).count();
            if even * 3 > n / 2 || odd * 3 > n / 2 {
                Some("every other byte NUL")
            } else {
                None
            }
        } else {
            None
        };
        if let Some(why) = utf16 {
            return Err(ScanError::Syntax {
                code: "invalid_utf8",
                line: 1,
                message: "Invalid UTF-8: the file looks like UTF-16".into(),
                hint: Some(format!("{why}; re-save the file as UTF-8")),
            });
        }
        Ok(())
    }

    /// Ruby's row-separator detection on the first chunk (at least 4 KiB, or the file).
    fn detect_sep(&mut self) {
        let b = &self.buf[self.pos..self.len];
        let Some(i) = b.iter().position(|&c| c == b'\n' || c == b'\r') else {
            return;
        };
        let nl = match (b[i], b.get(i + 1)) {
            (b'\n', _) => Nl::Lf,
            (_, Some(b'\n')) => Nl::CrLf,
            (_, Some(_)) => Nl::Cr,
            // A CR at the end of the chunk: decided when the scanner reaches it.
            (_, None) if !self.eof => return,
            (_, None) => Nl::Cr,
        };
        self.sep = Some(nl);
    }

    fn utf8_error(&mut self) -> ScanError {
        let (off, m, h) = self.bad_utf8.take().expect("bad utf8");
        self.done = true;
        ScanError::Syntax {
            code: "invalid_utf8",
            line: self.line,
            message: format!("{m} at byte offset {off}"),
            hint: h.or_else(|| Some("re-save the file as UTF-8".into())),
        }
    }

    fn malformed(&mut self, code: &'static str, line: u64, what: &str) -> ScanError {
        self.done = true;
        ScanError::Syntax {
            code,
            line,
            message: format!("Malformed CSV: {what}"),
            hint: Some("Canvas skips the whole file".into()),
        }
    }

    /// Read the next record. `Ok(false)` at the end of input.
    pub fn next_record(&mut self, rec: &mut Record) -> Result<bool, ScanError> {
        rec.clear();
        if self.done {
            return Ok(false);
        }
        rec.line = self.line;
        // The one-line fast path takes only `\n`-terminated records.
        if self.sep == Some(Nl::Lf) && self.pos < self.valid && self.simple_record(rec) {
            return Ok(true);
        }
        let start = self.base + self.pos as u64;
        let r = self.slow_record(rec);
        // Exact size (the check in the loop runs once a chunk); the terminator is not counted.
        if let Ok(true) = r {
            if (self.base + self.pos as u64 - start).saturating_sub(1) > MAX_RECORD as u64 {
                return Err(self.too_large(rec, false));
            }
            if rec.len() > MAX_FIELDS {
                return Err(self.too_large(rec, true));
            }
        }
        r
    }

    /// A record past this scanner's memory bound. Ruby's CSV has no such limit: this is
    /// the validator's own, and says so (not Canvas's "Malformed CSV").
    fn too_large(&mut self, rec: &Record, fields: bool) -> ScanError {
        self.done = true;
        let what = if fields {
            format!("a record with more than {MAX_FIELDS} fields")
        } else {
            "a record larger than 16 MiB".to_string()
        };
        ScanError::Syntax {
            code: "record_too_large",
            line: rec.line,
            message: format!(
                "{what}: over this validator's memory limit (Canvas has none), so the rest of the file is not checked"
            ),
            hint: Some(
                "such a record is most likely an unclosed quote or a runaway field; if it is meant, send with --no-validate"
                    .into(),
            ),
        }
    }

    fn slow_record(&mut self, rec: &mut Record) -> Result<bool, ScanError> {
        let start = self.base + self.pos as u64;
        let mut st = St::FieldStart;
        let mut field_start_pushed = false;
        loop {
            if self.pos >= self.valid {
                // Once a chunk: the record's bytes so far (its data, and its field ends,
                // which grow without data in a line of commas).
                if self.base + self.pos as u64 - start > MAX_RECORD as u64 {
                    return Err(self.too_large(rec, false));
                }
                if rec.ends.len() > MAX_FIELDS {
                    return Err(self.too_large(rec, true));
                }
            }
            if self.pos >= self.valid && !self.fill()? {
                // End of valid input.
                if self.bad_utf8.is_some() {
                    return Err(self.utf8_error());
                }
                self.done = true;
                return match st {
                    St::Quoted => {
                        let l = self.quote_line;
                        Err(self.malformed(
                            "unterminated_quote",
                            l,
                            "unclosed quoted field (a quote opened here is never closed)",
                        ))
                    }
                    St::FieldStart if rec.is_empty() && !field_start_pushed => Ok(false),
                    _ => {
                        rec.ends.push(rec.data.len());
                        rec.end_line = self.line;
                        Ok(true)
                    }
                };
            }
            let buf = &self.buf[self.pos..self.valid];
            match st {
                St::FieldStart => {
                    if !field_start_pushed {
                        rec.field_lines.push(self.line);
                        field_start_pushed = true;
                    }
                    match CLASS[buf[0] as usize] {
                        C_QUOTE => {
                            self.pos += 1;
                            rec.any_quoted = true;
                            self.quote_line = self.line;
                            st = St::Quoted;
                        }
                        C_COMMA => {
                            self.pos += 1;
                            rec.ends.push(rec.data.len());
                            rec.data.push(b',');
                            field_start_pushed = false;
                        }
                        C_LF | C_CR => {
                            self.end_line(buf[0], true)?;
                            rec.ends.push(rec.data.len());
                            rec.end_line = self.line - 1;
                            return Ok(true);
                        }
                        _ => st = St::Unquoted,
                    }
                }
                St::Unquoted | St::Quoted => {
                    let n = plain_run(buf);
                    push_bytes(&mut rec.data, &self.buf, self.pos, self.pos + n);
                    self.pos += n;
                    if n == buf.len() {
                        continue;
                    }
                    let b = buf[n];
                    match (st, CLASS[b as usize]) {
                        (_, C_NUL) => {
                            rec.nul_line.get_or_insert(self.line);
                            rec.data.push(0);
                            self.pos += 1;
                        }
                        (St::Unquoted, C_COMMA) => {
                            self.pos += 1;
                            rec.ends.push(rec.data.len());
                            rec.data.push(b',');
                            field_start_pushed = false;
                            st = St::FieldStart;
                        }
                        (St::Unquoted, C_LF | C_CR) => {
                            self.end_line(b, true)?;
                            rec.ends.push(rec.data.len());
                            rec.end_line = self.line - 1;
                            return Ok(true);
                        }
                        (St::Unquoted, _) => {
                            let l = self.line;
                            return Err(self.malformed(
                                "stray_quote",
                                l,
                                "a quote inside an unquoted field (quote the whole field and double the quote)",
                            ));
                        }
                        (St::Quoted, C_QUOTE) => {
                            self.pos += 1;
                            st = St::QuoteInQuoted;
                        }
                        (St::Quoted, C_COMMA) => {
                            rec.data.push(b);
                            self.pos += 1;
                        }
                        (St::Quoted, _) => {
                            // Newline inside a quoted field: keep it, count the line.
                            rec.data.push(b);
                            self.end_line(b, false)?;
                        }
                        _ => unreachable!(),
                    }
                }
                St::QuoteInQuoted => match CLASS[buf[0] as usize] {
                    C_QUOTE => {
                        rec.data.push(b'"');
                        self.pos += 1;
                        st = St::Quoted;
                    }
                    C_COMMA => {
                        self.pos += 1;
                        rec.ends.push(rec.data.len());
                        rec.data.push(b',');
                        field_start_pushed = false;
                        st = St::FieldStart;
                    }
                    C_LF | C_CR => {
                        self.end_line(buf[0], true)?;
                        rec.ends.push(rec.data.len());
                        rec.end_line = self.line - 1;
                        return Ok(true);
                    }
                    _ => {
                        let l = self.line;
                        return Err(self.malformed(
                            "text_after_quote",
                            l,
                            "text after a closing quote (any value after a quoted field isn't allowed)",
                        ));
                    }
                },
            }
        }
    }

    /// The common case at once: a record on one line ending in `\n` within the valid
    /// buffer, without quotes, CR or NUL. Reads it exactly as `next_record` would;
    /// otherwise leaves everything as it was and returns false.
    #[inline]
    fn simple_record(&mut self, rec: &mut Record) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let buf = &self.buf[..self.valid];
            let start = self.pos;
            let mut blk = start;
            // The line hash of the whole blocks read so far.
            let mut h = LINE_START;
            // 16 bytes at a time: the separators (`,` `\n`) and the bytes that need the
            // full scanner (`"` `\r` NUL) as bit masks.
            // Field ends are pushed as found (a variable-length copy of a local array
            // at the end compiled to a `memmove` call per record, ~14 % of the samples).
            const MAX_FIELDS: usize = 32;
            while blk + 16 <= buf.len() {
                let block: &[u8; 16] = buf[blk..blk + 16].try_into().expect("16 bytes");
                let (mut sep, bad) = special16(block);
                while sep != 0 {
                    let j = sep.trailing_zeros();
                    let nf = rec.ends.len();
                    if bad & ((1 << j) - 1) != 0 || nf == MAX_FIELDS {
                        rec.clear();
                        return nf == MAX_FIELDS && self.simple_record_swar(rec);
                    }
                    let q = blk + j as usize;
                    rec.ends.push(q - start);
                    if buf[q] == b'\n' {
                        // The fields joined by commas are the line itself.
                        rec.data.extend_from_slice(&buf[start..q]);
                        let n = q - start;
                        let tail = if n.is_multiple_of(16) {
                            None
                        } else if n >= 16 {
                            Some(halves(&buf[q - 16..q]))
                        } else {
                            // The line is in this first block: its bytes, zero-padded.
                            let keep = u128::MAX >> (128 - 8 * n);
                            let (lo, hi) = halves(block);
                            let b = (u128::from(hi) << 64 | u128::from(lo)) & keep;
                            Some((b as u64, (b >> 64) as u64))
                        };
                        rec.line_hash = Some(line_end(h, tail, n, &rec.ends));
                        self.pos = q + 1;
                        rec.end_line = self.line;
                        self.line += 1;
                        return true;
                    }
                    sep &= sep - 1;
                }
                if bad != 0 {
                    rec.clear();
                    return false;
                }
                let (lo, hi) = halves(block);
                h = line_block(h, lo, hi);
                blk += 16;
            }
            // Near the end of the valid bytes: start again, 8 bytes at a time.
            rec.clear();
        }
        self.simple_record_swar(rec)
    }

    #[inline]
    fn simple_record_swar(&mut self, rec: &mut Record) -> bool {
        let buf = &self.buf[..self.valid];
        let start = self.pos;
        let mut p = start;
        loop {
            let q = p + plain_run(&buf[p..]);
            let Some(&b) = buf.get(q) else { break };
            if b != b',' && b != b'\n' {
                break;
            }
            rec.ends.push(q - start);
            p = q + 1;
            if b == b'\n' {
                rec.data.extend_from_slice(&buf[start..q]);
                rec.line_hash = Some(hash_line(&rec.data, &rec.ends));
                self.pos = p;
                rec.end_line = self.line;
                self.line += 1;
                return true;
            }
        }
        rec.clear();
        false
    }

    /// Consume a line terminator at `pos` (`\n`, `\r\n` or `\r`) and count the line.
    /// One that ends a row must be the file's row separator (see `sep`); inside
    /// quotes any is text.
    #[inline]
    fn end_line(&mut self, b: u8, row_end: bool) -> Result<(), ScanError> {
        self.pos += 1;
        self.line += 1;
        let mut nl = Nl::Lf;
        if b == b'\r' {
            nl = Nl::Cr;
            if self.pos >= self.valid {
                // The LF that may follow is in the next chunk.
                self.fill()?;
            }
            if self.pos < self.valid && self.buf[self.pos] == b'\n' {
                self.pos += 1;
                nl = Nl::CrLf;
            }
        }
        match self.sep {
            None => self.sep = Some(nl),
            Some(sep) if row_end && sep != nl => {
                let line = self.line - 1;
                self.done = true;
                return Err(ScanError::Syntax {
                    code: "mixed_line_endings",
                    line,
                    message: format!(
                        "Malformed CSV: line ends with {} but the file's first line ends with {}; Ruby's CSV, which Canvas uses, takes the first line ending for the whole file",
                        nl.name(),
                        sep.name()
                    ),
                    hint: Some(
                        "convert the file to one line ending (dos2unix or unix2dos); Canvas skips the whole file".into(),
                    ),
                });
            }
            Some(_) => {}
        }
        Ok(())
    }
}

/// A line ending.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Nl {
    Lf,
    CrLf,
    Cr,
}

impl Nl {
    fn name(self) -> &'static str {
        match self {
            Nl::Lf => "\\n (LF)",
            Nl::CrLf => "\\r\\n (CRLF)",
            Nl::Cr => "\\r (CR)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<(u64, Vec<String>)>;

    fn all(input: &[u8]) -> (Rows, Option<(String, u64)>) {
        let mut s = Scanner::new(input);
        let mut r = Record::default();
        let mut out = vec![];
        loop {
            match s.next_record(&mut r) {
                Ok(true) => out.push((
                    r.line,
                    (0..r.len()).map(|i| r.field(i).to_string()).collect(),
                )),
                Ok(false) => return (out, None),
                Err(ScanError::Syntax { code, line, .. }) => {
                    return (out, Some((code.to_string(), line)));
                }
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn basic_and_line_endings() {
        for nl in ["\n", "\r\n", "\r"] {
            // Inside quotes any line ending is text (here a lone LF).
            let text = format!("a,b{nl}1,\"x\ny\"{nl}2,3{nl}{nl}\"q\"\"\",{nl}");
            let (r, e) = all(text.as_bytes());
            assert!(e.is_none(), "{nl:?}: {e:?}");
            assert_eq!(r[0], (1, vec!["a".into(), "b".into()]));
            assert_eq!(r[1], (2, vec!["1".into(), "x\ny".into()]));
            assert_eq!(r[2], (4, vec!["2".into(), "3".into()]));
            assert_eq!(r[3].1, vec![String::new()]);
            assert_eq!(r[4], (6, vec!["q\"".into(), "".into()]));
        }
    }

    /// Ruby's CSV takes the first line ending in the file (quoted or not) as the row
    /// separator; any other one outside quotes is malformed.
    #[test]
    fn mixed_line_endings() {
        let mixed = |s: &[u8]| all(s).1;
        let m = |l| Some(("mixed_line_endings".to_string(), l));
        assert_eq!(mixed(b"a,b\n1,2\r\n3,4\n"), m(2));
        assert_eq!(mixed(b"a,b\r\n1,2\n"), m(2));
        assert_eq!(mixed(b"a,b\r\n1,2\r\n3,4\r"), m(3));
        assert_eq!(mixed(b"a,b\r1,2\r\n"), m(2));
        // A blank line, a lone CR inside an unquoted field, after a closing quote.
        assert_eq!(mixed(b"a,b\n\r\n1,2\n"), m(2));
        assert_eq!(mixed(b"a,b\r\n1,x\ry\r\n"), m(2));
        assert_eq!(mixed(b"a,b\n1,\"x\"\r\n"), m(2));
        // The first ending is inside a quoted header cell: LF, then CRLF rows fail.
        assert_eq!(mixed(b"\"a\nb\",c\r\n1,2\r\n"), m(2));
        assert_eq!(mixed(b"\"a\r\nb\",c\r\n1,\"x\ny\"\r\n"), None);
    }

    #[test]
    fn commas_inside_quotes_are_not_lines() {
        let (r, e) = all(b"a,b\n\"x,y,z\",1\n\"p,\nq\",2\n3,4\n");
        assert!(e.is_none());
        assert_eq!(r[1], (2, vec!["x,y,z".into(), "1".into()]));
        assert_eq!(r[2], (3, vec!["p,\nq".into(), "2".into()]));
        assert_eq!(r[3], (5, vec!["3".into(), "4".into()]));
    }

    #[test]
    fn malformed() {
        assert_eq!(all(b"a,b\n1,x\"y\n").1, Some(("stray_quote".into(), 2)));
        assert_eq!(
            all(b"a,b\n1,\"x\" y\n").1,
            Some(("text_after_quote".into(), 2))
        );
        assert_eq!(
            all(b"a,b\n1,2\n3,\"x\n\n").1,
            Some(("unterminated_quote".into(), 3))
        );
        assert_eq!(all(b"a\n\xef\xbb\xbf\n").1, None);
        assert_eq!(
            all(b"a\nb\n\xe9t\xe9\n").1,
            Some(("invalid_utf8".into(), 3))
        );
        assert_eq!(
            all(b"\xff\xfea\x00b\x00").1,
            Some(("invalid_utf8".into(), 1))
        );
    }

    #[test]
    fn plain_runs() {
        let specials = [b',', b'\n', b'\r', b'"', 0];
        for len in 0..40 {
            for at in 0..=len {
                for &sp in &specials {
                    for fill in [b'a', 0x80, 0xff, 0x01, b'!', b'#'] {
                        let mut v = vec![fill; len];
                        if at < len {
                            v[at] = sp;
                        }
                        let want = v
                            .iter()
                            .position(|&b| CLASS[b as usize] != C_PLAIN)
                            .unwrap_or(len);
                        assert_eq!(plain_run(&v), want, "{v:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn wide_records() {
        // More fields than the fast path gathers at once, long and short fields.
        for n in [1, 7, 31, 32, 33, 40, 100] {
            let row: Vec<String> = (0..n).map(|i| "x".repeat(i % 37)).collect();
            let line = row.join(",");
            let input = format!("{line}\n{line}\n\"a\",b\n{line}\n");
            let (r, e) = all(input.as_bytes());
            assert!(e.is_none());
            assert_eq!(r.len(), 4);
            for (i, want_line) in [(0, 1), (1, 2), (3, 4)] {
                assert_eq!(r[i], (want_line, row.clone()), "{n} fields");
            }
            assert_eq!(r[2].1, vec!["a".to_string(), "b".to_string()]);
        }
    }

    /// The hash the fast path computes as it reads is `hash_line` of the fields joined
    /// by commas, for every line length around the 16-byte blocks.
    #[test]
    fn line_hash_as_read_is_the_definition() {
        for len in 0..80 {
            for commas in [0, 1, 3, 7] {
                let mut line: Vec<u8> = (0..len).map(|i| b'a' + (i % 23) as u8).collect();
                for c in 0..commas {
                    let at = (c * 5 + 2) % (len + 1);
                    if at < len {
                        line[at] = b',';
                    }
                }
                let mut text = b"h\n".to_vec();
                text.extend_from_slice(&line);
                text.extend_from_slice(&b"\nnext,line\n".repeat(8));
                let mut s = Scanner::new(&text[..]);
                let mut r = Record::default();
                s.next_record(&mut r).expect("header");
                assert!(s.next_record(&mut r).expect("csv"));
                let want = hash_line(&line, &r.ends);
                assert_eq!(r.line_hash, Some(want), "{len} {commas}");
            }
        }
    }

    #[test]
    fn line_hash_ignores_quoting() {
        // The fast path hashes the line as read; the full scanner joins the fields.
        let mut r = Record::default();
        let mut hs = vec![];
        for text in [
            &b"x\nabc,de,f\n\"abc\",de,\"f\"\n"[..],
            &b"x\r\nabc,de,f\r\nab,cde,f\r\n"[..],
        ] {
            let mut s = Scanner::new(text);
            s.next_record(&mut r).expect("header");
            while s.next_record(&mut r).expect("csv") {
                hs.push((r.line_hash.is_some(), r.line_hash()));
            }
        }
        hs.insert(0, (false, 0));
        assert_eq!(hs.len(), 5);
        assert!(hs[1].0 && !hs[2].0 && !hs[3].0);
        assert!(hs[2].1 == hs[1].1 && hs[3].1 == hs[1].1 && hs[4].1 != hs[1].1);
    }

    #[test]
    fn chunk_boundaries() {
        // A multi-byte character and \r\n split across the 64 KiB boundary.
        let mut v = b"h\r\n".to_vec();
        while v.len() < CHUNK - 1 {
            v.extend_from_slice(b"x");
        }
        v.extend_from_slice("é\r\nz\r\n".as_bytes());
        let (r, e) = all(&v);
        assert!(e.is_none());
        assert_eq!(r.len(), 3);
        assert_eq!(r[2], (3, vec!["z".into()]));
        // A CRLF split by the chunk boundary is one line ending; a CR there is another.
        for (end, want) in [(&b"\r\nz\r\n"[..], None), (b"\rz\r\n", Some(2))] {
            let mut v = b"h\r\n".to_vec();
            v.resize(CHUNK - 1, b'x');
            v.extend_from_slice(end);
            let (r, e) = all(&v);
            assert_eq!(e.map(|(_, l)| l), want);
            if want.is_none() {
                assert_eq!(r[2], (3, vec!["z".into()]));
            }
        }
    }
}
