//! IMS Enterprise 1.1 XML, the file hosted Canvas imports with `import_type=ims_xml`
//! (reference §10.1, §10.2), checked in one streaming pass.
//!
//! quick-xml reads the input event by event through [`Counted`], which counts lines and
//! characters as bytes are consumed (so every finding has `LINE:COL`) and refuses to hand
//! one event more than [`MAX_NODE`] bytes (a huge text node is an error, not a huge
//! buffer). Nothing is expanded: a DOCTYPE that declares entities stops the file before
//! any reference to them is read, and no external entity or DTD is ever opened. Memory
//! follows the ids (persons and groups as 64-bit hashes, unresolved references once per
//! id), never the file size.
//!
//! What is checked, and the spec of each rule, is the table in [`rules`].

use std::collections::HashMap;
use std::io::{self, BufRead, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

pub mod rules;

use super::FileReport;
use super::fast::{IdMap, SEED, hash_bytes};
use super::sink::Sink;
use rules::{ORDER, REQUIRED, Tag, VALUES};

/// One tag, text node, comment or DOCTYPE longer than this is refused (memory bound).
pub const MAX_NODE: usize = 4 << 20;
/// Elements nested deeper than this are refused (the binding nests 6 deep).
pub const MAX_DEPTH: usize = 64;
/// The `kind` of an IMS Enterprise file in the report.
pub const KIND: &str = "ims_enterprise";
/// The root a file must have (§10.2).
pub const ROOT: &str = "enterprise";

/// A place in the file: line and character column, both 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct Pos {
    line: u64,
    col: u64,
}

impl Pos {
    /// Where `b` ends, read from here.
    fn after(mut self, b: &[u8]) -> Pos {
        let (mut l, mut c) = (self.line, self.col - 1);
        advance(&mut l, &mut c, b);
        self.line = l;
        self.col = c + 1;
        self
    }
}

/// The input in a buffer of our own, handing one event at most `room` bytes, and the line
/// and column of any offset at or after the last one asked for: a cursor scans forward to
/// it (and to the end of the buffer before it is refilled), so every byte is counted once,
/// with one scan per element rather than one per `consume`.
struct Counted<R> {
    src: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Offset of `buf[0]` in the stream (after a byte order mark).
    base: u64,
    /// The cursor: offset, line and characters since the last line feed there.
    cur: u64,
    line: u64,
    col: u64,
    room: usize,
    over: bool,
}

const BUF: usize = 256 * 1024;

impl<R: Read> Counted<R> {
    fn new(r: R) -> Self {
        let mut c = Counted {
            src: r,
            buf: vec![0; BUF].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            cur: 0,
            line: 1,
            col: 0,
            room: MAX_NODE,
            over: false,
        };
        // A UTF-8 byte order mark is not content (XML 1.0 section 4.3.3, F.1): dropped before
        // quick-xml (and the offsets) start.
        if c.refill().is_ok() && c.buf[..c.end].starts_with(b"\xEF\xBB\xBF") {
            c.buf.copy_within(3..c.end, 0);
            c.end -= 3;
        }
        c
    }

    /// The first bytes, for sniffing UTF-16.
    fn head(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    fn refill(&mut self) -> io::Result<()> {
        let off = self.base + self.end as u64;
        self.sync(off);
        self.base = off;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.src.read(&mut self.buf) {
                Ok(n) => {
                    self.end = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Move the cursor to `off` (in the buffer, at or after the cursor).
    fn sync(&mut self, off: u64) {
        if off <= self.cur {
            return;
        }
        let from = (self.cur - self.base) as usize;
        let to = ((off - self.base) as usize).min(self.end);
        advance(&mut self.line, &mut self.col, &self.buf[from..to]);
        self.cur = off;
    }

    /// Where byte `offset` is. quick-xml may have consumed the `<` of the next markup
    /// already (with the text before it), and the buffer may have moved past it since:
    /// the bytes between are then that `<` alone, one character on the same line.
    fn pos_of(&mut self, offset: u64) -> Pos {
        self.sync(offset);
        let back = self.cur.saturating_sub(offset);
        Pos {
            line: self.line,
            col: (self.col + 1).saturating_sub(back).max(1),
        }
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let b = self.fill_buf()?;
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.room == 0 {
            self.over = true;
            return Err(io::Error::other("one XML node is too large"));
        }
        if self.pos == self.end {
            self.refill()?;
        }
        let n = (self.end - self.pos).min(self.room);
        Ok(&self.buf[self.pos..self.pos + n])
    }
    fn consume(&mut self, amt: usize) {
        self.pos += amt;
        self.room = self.room.saturating_sub(amt);
    }
}

fn advance(line: &mut u64, col: &mut u64, b: &[u8]) {
    // One pass: the stretches are short (a line or two), where a loop per question
    // (where is the last line feed, how many, how many characters after it) costs more.
    let (mut l, mut c) = (0, *col);
    for &x in b {
        if x == b'\n' {
            l += 1;
            c = 0;
        } else {
            // A character per byte but UTF-8 continuation bytes (0x80–0xBF).
            c += u64::from((x as i8) >= -0x40);
        }
    }
    *line += l;
    *col = c;
}

/// What the declaration says the bytes are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enc {
    Utf8,
    Ascii,
    /// A single-byte encoding (ISO-8859-*, windows-125*): every byte is a character.
    Bytes,
}

/// The first byte of `b` the encoding does not allow, or that XML allows in no encoding (a
/// C0 control other than tab, line feed and carriage return: XML 1.0 §2.2 `Char`).
fn bad_byte(enc: Enc, b: &[u8]) -> Option<usize> {
    let control = b.iter().position(|&c| forbidden_control(c));
    let encoding = match enc {
        // Most events are short and ASCII (markup, indentation): the quick test first.
        Enc::Utf8 if b.is_ascii() => None,
        Enc::Utf8 => std::str::from_utf8(b).err().map(|e| e.valid_up_to()),
        Enc::Ascii => b.iter().position(|&c| c >= 0x80),
        Enc::Bytes => None,
    };
    match (control, encoding) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A byte no XML 1.0 document may hold, even as a character reference (§2.2).
fn forbidden_control(c: u8) -> bool {
    c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')
}

/// The text of bytes read under `enc` (a single-byte encoding read as Latin-1).
fn text_of(enc: Enc, b: &[u8]) -> String {
    match enc {
        Enc::Bytes => b.iter().map(|&c| c as char).collect(),
        _ => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Whether the validator stops reading the file.
#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// An element being read.
struct Frame {
    tag: Tag,
    at: Pos,
    /// The children seen, by [`Tag::bit`].
    seen: u32,
    /// Index in the parent's [`rules::Order`] of the last ordered child seen.
    order: u8,
}

/// A person, group or membership being read.
struct Rec {
    tag: Tag,
    at: Pos,
    delete: bool,
    id: Option<String>,
}

#[derive(Default)]
struct Member {
    at: Pos,
    id: Option<String>,
    idtype: Option<u8>,
}

/// Where an id was defined (as a 64-bit hash; its text is not kept).
#[derive(Clone, Copy, Default)]
struct Def {
    line: u32,
    col: u32,
    delete: bool,
}

/// A reference not (yet) defined, once per id.
struct Pending {
    at: Pos,
    id: String,
    from: &'static str,
    count: u64,
}

const PERSON: usize = 0;
const GROUP: usize = 1;

struct State<'s> {
    sink: &'s mut Sink,
    enc: Enc,
    stack: Vec<Frame>,
    text: String,
    root_seen: bool,
    /// The root is `enterprise`.
    ims: bool,
    sid_id: Option<String>,
    rec: Option<Rec>,
    member: Member,
    rel_target: Option<String>,
    /// An 8-bit encoding was declared and no non-ASCII text has been seen yet: the first
    /// is looked at for UTF-8 (a file saved as UTF-8 under a Latin-1 declaration).
    sniff_utf8: Option<String>,
    /// The open timeframe's begin and end (the end with where it is), when valid dates.
    tf_begin: Option<String>,
    tf_end: Option<(String, Pos)>,
    defs: [IdMap<Def>; 2],
    pending: HashMap<(usize, u64), Pending>,
    records: u64,
}

/// Validate one IMS Enterprise stream into a file report. `io_err` names a read error (a
/// zip entry's reader has its own).
pub(crate) fn validate_xml<R: Read>(
    name: &str,
    input: R,
    max: usize,
    io_err: fn(&io::Error) -> (&'static str, String),
) -> FileReport {
    let mut sink = Sink::new(name, max);
    let mut st = State {
        sink: &mut sink,
        enc: Enc::Utf8,
        stack: Vec::with_capacity(16),
        text: String::new(),
        root_seen: false,
        ims: false,
        sid_id: None,
        rec: None,
        member: Member::default(),
        rel_target: None,
        sniff_utf8: None,
        tf_begin: None,
        tf_end: None,
        defs: [IdMap::default(), IdMap::default()],
        pending: HashMap::new(),
        records: 0,
    };
    let counted = Counted::new(input);
    if let Some(what) = utf16_or_32(counted.head()) {
        st.report(
            Pos { line: 1, col: 1 },
            "xml_unsupported_encoding",
            None,
            format!("the file is {what}, which this validator does not read"),
            Some("save it as UTF-8 (with or without a declaration saying so)"),
        );
        drop(st);
        return sink.finish();
    }
    let mut rd = Reader::from_reader(counted);
    rd.config_mut().check_comments = true;
    let mut buf = Vec::with_capacity(4096);
    let mut first = true;
    loop {
        // Positions are worked out only where an element starts or a finding needs one:
        // the cursor then scans longer stretches at a time.
        let offset = rd.buffer_position();
        rd.get_mut().room = MAX_NODE;
        buf.clear();
        let ev = match rd.read_event_into(&mut buf) {
            Ok(ev) => ev,
            Err(e) => {
                let at = rd.get_mut().pos_of(offset);
                st.read_error(rd.get_ref().over, at, &e, io_err);
                break;
            }
        };
        let mut at = || rd.get_mut().pos_of(offset);
        let flow = match ev {
            Event::Decl(d) if first => st.declaration(at(), &d),
            Event::DocType(d) => st.doctype(at(), &d),
            Event::Start(e) => st.open(at(), &e, false),
            Event::Empty(e) => st.open(at(), &e, true),
            Event::End(_) => st.close(),
            Event::Text(t) => {
                let quiet = st.stack.last().is_some_and(|f| !f.tag.keeps_text())
                    && !t.contains(&b'&')
                    && bad_byte(st.enc, &t).is_none()
                    && (st.sniff_utf8.is_none() || t.is_ascii());
                if quiet {
                    Flow::Go
                } else {
                    st.text(at(), &t, true)
                }
            }
            Event::CData(t) => st.text(at().after(b"<![CDATA["), &t, false),
            Event::Comment(t) if bad_byte(st.enc, &t).is_some() => {
                st.check_bytes(at().after(b"<!--"), &t)
            }
            Event::PI(t) if bad_byte(st.enc, &t).is_some() => st.check_bytes(at().after(b"<?"), &t),
            Event::Decl(d) => st.check_bytes(at().after(b"<?"), &d),
            Event::Comment(_) | Event::PI(_) => Flow::Go,
            Event::Eof => {
                st.eof(at());
                break;
            }
        };
        first = false;
        if flow == Flow::Stop {
            break;
        }
    }
    st.unresolved();
    let (records, ims) = (st.records, st.ims);
    drop(st);
    sink.rep.rows = records;
    if ims {
        sink.rep.kind = Some(KIND.to_string());
    }
    sink.finish()
}

/// `Some("UTF-16")` when the first bytes say UTF-16 or UTF-32 (a byte order mark, or the
/// NUL bytes of `<` in two or four bytes; XML 1.0 F.1).
fn utf16_or_32(head: &[u8]) -> Option<&'static str> {
    match head {
        [0, 0, 0xFE, 0xFF, ..]
        | [0xFF, 0xFE, 0, 0, ..]
        | [0, 0, 0, b'<', ..]
        | [b'<', 0, 0, 0, ..] => Some("UTF-32"),
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] | [0, b'<', ..] | [b'<', 0, ..] => Some("UTF-16"),
        _ => None,
    }
}

impl State<'_> {
    fn report(
        &mut self,
        at: Pos,
        code: &'static str,
        element: Option<&str>,
        msg: String,
        hint: Option<&str>,
    ) {
        let sev = rules::severity(code);
        let d = self.sink.at(at.line).at_col(at.col);
        let d = d.hint_opt(hint.map(str::to_string));
        match element {
            Some(el) => d.col(el).report(sev, code, msg),
            None => d.report(sev, code, msg),
        }
    }

    fn malformed(&mut self, at: Pos, msg: impl std::fmt::Display) -> Flow {
        self.report(
            at,
            "xml_malformed",
            None,
            format!("XML is not well-formed: {msg}"),
            None,
        );
        Flow::Stop
    }

    fn read_error(
        &mut self,
        over: bool,
        at: Pos,
        e: &quick_xml::Error,
        io_err: fn(&io::Error) -> (&'static str, String),
    ) {
        if over {
            self.report(
                at,
                "xml_node_too_large",
                None,
                format!(
                    "one tag, text or comment starting here is over {} MiB; stopped reading",
                    MAX_NODE >> 20
                ),
                Some("an IMS Enterprise value is a few words; is this the right file?"),
            );
            return;
        }
        if let quick_xml::Error::Io(ioe) = e {
            let (code, msg) = io_err(ioe);
            // A zip entry's own failures (size, CRC) keep their codes.
            self.sink.at(at.line).at_col(at.col).err(code, msg);
            return;
        }
        self.malformed(at, e);
    }

    /// The bytes of an event outside the elements the rules read, checked for encoding.
    fn check_bytes(&mut self, at: Pos, b: &[u8]) -> Flow {
        match bad_byte(self.enc, b) {
            Some(i) => self.bad_encoding(at.after(&b[..i]), b[i]),
            None => Flow::Go,
        }
    }

    fn bad_encoding(&mut self, at: Pos, byte: u8) -> Flow {
        let (code, msg, hint) = match self.enc {
            _ if forbidden_control(byte) => (
                "xml_invalid_char",
                format!(
                    "byte 0x{byte:02X} is a control character, which XML allows nowhere (Canvas's XML parser stops there)"
                ),
                "remove it; a NUL byte often means a damaged file, or one saved as UTF-16",
            ),
            Enc::Ascii => (
                "xml_encoding_mismatch",
                format!("byte 0x{byte:02X} is not ASCII, but the declaration says US-ASCII"),
                "declare the encoding the file really has (encoding=\"UTF-8\"), or save it as ASCII",
            ),
            _ => (
                "invalid_utf8",
                format!(
                    "byte 0x{byte:02X} is not UTF-8 (the declaration says UTF-8, or says nothing, which means UTF-8)"
                ),
                "save the file as UTF-8, or declare its real encoding (e.g. encoding=\"ISO-8859-1\")",
            ),
        };
        self.report(at, code, None, msg, Some(hint));
        Flow::Stop
    }

    /// The first non-ASCII text under an 8-bit declaration: valid multi-byte UTF-8 there
    /// means the file was most likely saved as UTF-8, and an 8-bit reading (what the
    /// declaration asks of Canvas) turns "Fïrst" into "FÃ¯rst". A warning: the bytes are
    /// legal ISO-8859-1 too.
    fn sniff(&mut self, at: Pos, raw: &[u8]) {
        let Some(declared) = self.sniff_utf8.take() else {
            return;
        };
        let Ok(t) = std::str::from_utf8(raw) else {
            return;
        };
        let i = raw.iter().position(|b| !b.is_ascii()).unwrap_or(0);
        let word: String = t.trim().chars().take(40).collect();
        let as_declared: String = word.bytes().map(char::from).collect();
        self.report(
            at.after(&raw[..i]),
            "xml_encoding_suspect",
            None,
            format!(
                "the declaration says encoding=\"{declared}\", but this text is valid UTF-8 with multi-byte characters: \"{word}\" would be read as \"{as_declared}\""
            ),
            Some("if the file is UTF-8, write encoding=\"UTF-8\" in the declaration, or leave the encoding out"),
        );
    }

    /// `<?xml … encoding="…"?>`: what the bytes should be (XML 1.0 section 4.3.3).
    fn declaration(&mut self, at: Pos, d: &quick_xml::events::BytesDecl) -> Flow {
        if self.check_bytes(at.after(b"<?"), d) == Flow::Stop {
            return Flow::Stop;
        }
        let Some(enc) = d.encoding() else {
            return Flow::Go;
        };
        let enc = match enc {
            Ok(e) => String::from_utf8_lossy(&e).to_ascii_lowercase(),
            Err(e) => return self.malformed(at, e),
        };
        self.enc = match enc.as_str() {
            "utf-8" | "utf8" => Enc::Utf8,
            "us-ascii" | "ascii" => Enc::Ascii,
            e if e.starts_with("iso-8859-")
                || e.starts_with("windows-125")
                || e.starts_with("cp125")
                || e == "latin1" =>
            {
                self.sniff_utf8 = Some(enc.clone());
                Enc::Bytes
            }
            e if e.starts_with("utf-16")
                || e.starts_with("utf-32")
                || e.starts_with("ucs-")
                || e.starts_with("iso-10646-ucs")
                || e == "unicode" =>
            {
                self.report(
                    at,
                    "xml_encoding_mismatch",
                    None,
                    format!(
                        "the declaration says encoding=\"{enc}\", but the bytes are 8-bit (UTF-8 or ASCII): a parser would read garbage"
                    ),
                    Some("write encoding=\"UTF-8\" in the declaration (or leave the encoding out)"),
                );
                return Flow::Stop;
            }
            _ => {
                self.report(
                    at,
                    "xml_unsupported_encoding",
                    None,
                    format!("the declaration says encoding=\"{enc}\", which this validator does not read"),
                    Some("save the file as UTF-8"),
                );
                return Flow::Stop;
            }
        };
        Flow::Go
    }

    /// A DOCTYPE is read, never used: one that declares entities is refused before any
    /// reference to them (XML 1.0 section 4.2: billion laughs, external entities). An external
    /// DTD it names is never opened.
    fn doctype(&mut self, at: Pos, d: &[u8]) -> Flow {
        if self.check_bytes(at, d) == Flow::Stop {
            return Flow::Stop;
        }
        if let Some(i) = find_ci(d, b"<!ENTITY") {
            self.report(
                // quick-xml drops the blank after `<!DOCTYPE`: one, nearly always.
                at.after(b"<!DOCTYPE ").after(&d[..i]),
                "xml_doctype_entities",
                None,
                "the DOCTYPE declares entities; refused without expanding or fetching any (entity expansion and external entities are how XML attacks a parser)".into(),
                Some("remove the entity declarations: an IMS Enterprise file needs none"),
            );
            return Flow::Stop;
        }
        Flow::Go
    }

    fn open(&mut self, at: Pos, e: &BytesStart, empty: bool) -> Flow {
        if self.check_bytes(at.after(b"<"), e) == Flow::Stop {
            return Flow::Stop;
        }
        let tag = Tag::of(e.local_name().as_ref());
        if self.stack.len() >= MAX_DEPTH {
            self.report(
                at,
                "xml_too_deep",
                None,
                format!("elements nest deeper than {MAX_DEPTH}; stopped reading"),
                Some("an IMS Enterprise file nests 6 elements deep"),
            );
            return Flow::Stop;
        }
        let parent = self.stack.last().map(|f| f.tag);
        match self.stack.last_mut() {
            None => {
                if self.root_seen {
                    return self.malformed(at, "more than one root element");
                }
                self.root_seen = true;
                if tag != Tag::Enterprise {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    self.report(
                        at,
                        "not_ims_enterprise",
                        None,
                        format!("the root element is <{name}>, not <{ROOT}>: this is not IMS Enterprise XML, the only XML hosted Canvas imports (import_type ims_xml)"),
                        Some("send an IMS Enterprise 1.1 file, or SIS CSV files as .csv or .zip"),
                    );
                    return Flow::Stop;
                }
                self.ims = true;
            }
            Some(p) => {
                p.seen |= tag.bit();
                if let Some(o) = ORDER.iter().find(|o| o.parent == p.tag) {
                    match o.children.iter().position(|&c| c == tag) {
                        Some(i) if (i as u8) < p.order => {
                            let later = o.children[p.order as usize].name();
                            let (pn, sp) = (p.tag.name(), o.spec);
                            self.report(
                                at,
                                "ims_order",
                                Some(tag.name()),
                                format!(
                                    "<{}> after <{later}> in <{pn}>: the binding puts every {} before any {later}",
                                    tag.name(),
                                    tag.name()
                                ),
                                Some(&format!("move it up; {sp}")),
                            );
                        }
                        Some(i) => p.order = i as u8,
                        None if o.closed => {
                            let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                            let pn = p.tag.name();
                            self.report(
                                at,
                                "ims_unknown_element",
                                Some(&name),
                                format!("<{name}> is not an element of <{pn}>"),
                                Some("<enterprise> holds comments, properties, then persons, groups and memberships"),
                            );
                        }
                        None => {}
                    }
                }
            }
        }
        let (delete, roletype) = match self.attributes(at, e, tag, parent) {
            Some(x) => x,
            None => return Flow::Stop,
        };
        if tag == Tag::Role && parent == Some(Tag::Member) && !roletype {
            self.report(
                at,
                "missing_roletype",
                Some("role"),
                "<role> has no roletype attribute".into(),
                Some("add roletype=\"01\" (Learner), \"02\" (Instructor), …"),
            );
        }
        if self.stack.len() == 1 && matches!(tag, Tag::Person | Tag::Group | Tag::Membership) {
            self.records += 1;
            self.rec = Some(Rec {
                tag,
                at,
                delete,
                id: None,
            });
        }
        if tag == Tag::Member {
            self.member = Member {
                at,
                ..Member::default()
            };
        }
        if tag == Tag::Sourcedid {
            self.sid_id = None;
        }
        if tag == Tag::Timeframe {
            (self.tf_begin, self.tf_end) = (None, None);
        }
        if tag.keeps_text() {
            self.text.clear();
        }
        self.stack.push(Frame {
            tag,
            at,
            seen: 0,
            order: 0,
        });
        if empty { self.close() } else { Flow::Go }
    }

    /// Every attribute (well-formed, each once), the value rules of [`VALUES`] on them;
    /// `(recstatus is 3, has a roletype)`, or None when the tag is malformed.
    fn attributes(
        &mut self,
        at: Pos,
        e: &BytesStart,
        tag: Tag,
        parent: Option<Tag>,
    ) -> Option<(bool, bool)> {
        let (mut delete, mut roletype) = (false, false);
        // quick-xml's own check for a repeated attribute compares each with every earlier
        // one: 200,000 attributes on one tag took 38 s. The names seen are kept in a set.
        let mut seen: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for a in e.attributes().with_checks(false) {
            let a = match a {
                Ok(a) => a,
                Err(err) => {
                    self.malformed(at, err);
                    return None;
                }
            };
            if !seen.insert(a.key.into_inner()) {
                let name = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                self.malformed(
                    at,
                    format!("attribute {name} appears twice on <{}>", tag.name()),
                );
                return None;
            }
            let key = a.key.local_name();
            let key = key.as_ref();
            let rules = VALUES.iter().filter(|v| {
                v.attr.is_some_and(|k| k.as_bytes() == key)
                    && v.tag.is_none_or(|t| t == tag)
                    && v.parent.is_none_or(|p| Some(p) == parent)
            });
            let mut val: Option<String> = None;
            for v in rules {
                let s = val.get_or_insert_with(|| unescape_lossy(self.enc, &a.value));
                let s = s.trim();
                if !v.check.passes(s) {
                    let (what, hint, code) = (v.what, v.hint, v.code);
                    let at_attr = at.after(b"<").after(&e[..attr_offset(e, key)]);
                    self.report(
                        at_attr,
                        code,
                        Some(&format!("{}@{what}", tag.name())),
                        format!("{what} \"{s}\" on <{}> is not allowed", tag.name()),
                        Some(hint),
                    );
                }
            }
            if key == b"recstatus" {
                delete = val.as_deref().map(str::trim) == Some("3");
            }
            if key == b"roletype" {
                roletype = true;
            }
        }
        Some((delete, roletype))
    }

    fn text(&mut self, at: Pos, raw: &[u8], escaped: bool) -> Flow {
        if self.check_bytes(at, raw) == Flow::Stop {
            return Flow::Stop;
        }
        if self.sniff_utf8.is_some() && !raw.is_ascii() {
            self.sniff(at, raw);
        }
        let Some(top) = self.stack.last() else {
            if raw.iter().any(|b| !b.is_ascii_whitespace()) {
                return self.malformed(at, "text outside the root element");
            }
            return Flow::Go;
        };
        let keep = top.tag.keeps_text();
        if escaped && raw.contains(&b'&') {
            let s = text_of(self.enc, raw);
            match quick_xml::escape::unescape(&s) {
                Ok(u) if keep => self.text.push_str(&u),
                Ok(_) => {}
                Err(err) => {
                    let (off, msg, hint) = escape_problem(&s, &err);
                    self.report(
                        at.after(&s.as_bytes()[..off]),
                        "xml_malformed",
                        None,
                        format!("XML is not well-formed: {msg}"),
                        Some(hint),
                    );
                    return Flow::Stop;
                }
            }
        } else if keep {
            match std::str::from_utf8(raw) {
                // Checked above for UTF-8 and ASCII: no copy.
                Ok(t) if self.enc != Enc::Bytes => self.text.push_str(t),
                _ => self.text.push_str(&text_of(self.enc, raw)),
            }
        }
        if self.text.len() > MAX_NODE {
            self.report(
                at,
                "xml_node_too_large",
                None,
                format!(
                    "the text here is over {} MiB; stopped reading",
                    MAX_NODE >> 20
                ),
                None,
            );
            return Flow::Stop;
        }
        Flow::Go
    }

    fn close(&mut self) -> Flow {
        let Some(f) = self.stack.pop() else {
            return Flow::Go;
        };
        let parent = self.stack.last().map(|p| p.tag);
        for r in REQUIRED {
            if r.parent != f.tag || r.within.is_some_and(|w| Some(w) != parent) {
                continue;
            }
            if r.any_of.iter().all(|t| f.seen & t.bit() == 0) {
                let names: Vec<String> =
                    r.any_of.iter().map(|t| format!("<{}>", t.name())).collect();
                let spec = r.spec;
                self.report(
                    f.at,
                    "ims_missing_element",
                    Some(r.any_of[0].name()),
                    format!("<{}> has no {}", f.tag.name(), names.join(" or ")),
                    Some(&format!("add it; {spec}")),
                );
            }
        }
        if f.tag.keeps_text() {
            let v = std::mem::take(&mut self.text);
            let t = v.trim();
            for r in VALUES {
                if r.attr.is_some()
                    || r.tag != Some(f.tag)
                    || r.parent.is_some_and(|p| Some(p) != parent)
                {
                    continue;
                }
                if !r.check.passes(t) {
                    let (what, hint, code) = (r.what, r.hint, r.code);
                    self.report(
                        f.at,
                        code,
                        Some(f.tag.name()),
                        format!("{what} \"{t}\" is not allowed"),
                        Some(hint),
                    );
                }
            }
            match (f.tag, parent) {
                (Tag::Id | Tag::Source, Some(Tag::Sourcedid)) if t.is_empty() => {
                    self.empty_sourcedid(f.tag, f.at, v.is_empty());
                }
                (Tag::Begin, Some(Tag::Timeframe)) if rules::iso8601(t) => {
                    self.tf_begin = Some(t.to_string());
                }
                (Tag::End, Some(Tag::Timeframe)) if rules::iso8601(t) => {
                    self.tf_end = Some((t.to_string(), f.at));
                }
                _ => {}
            }
            match (f.tag, parent) {
                (Tag::Id, Some(Tag::Sourcedid)) => self.sid_id = Some(t.to_string()),
                (Tag::Idtype, Some(Tag::Member)) => {
                    self.member.idtype = match t {
                        "1" => Some(1),
                        "2" => Some(2),
                        _ => None,
                    }
                }
                _ => {}
            }
            self.text = v;
            self.text.clear();
        }
        match (f.tag, parent) {
            (Tag::Sourcedid, Some(p)) => {
                let id = self.sid_id.take().filter(|s| !s.is_empty());
                match p {
                    Tag::Person | Tag::Group | Tag::Membership if self.stack.len() == 2 => {
                        if let Some(r) = self.rec.as_mut()
                            && r.id.is_none()
                        {
                            r.id = id;
                        }
                    }
                    Tag::Member => self.member.id = id,
                    Tag::Relationship => self.rel_target = id,
                    _ => {}
                }
            }
            (Tag::Member, _) => {
                let m = std::mem::take(&mut self.member);
                if let (Some(id), Some(t)) = (m.id, m.idtype) {
                    let ns = if t == 1 { PERSON } else { GROUP };
                    self.refer(ns, id, m.at, "membership member");
                }
            }
            (Tag::Relationship, _) => {
                if let Some(id) = self.rel_target.take() {
                    self.refer(GROUP, id, f.at, "group relationship");
                }
            }
            (Tag::Timeframe, p) => self.timeframe(p),
            (Tag::Person | Tag::Group | Tag::Membership, Some(Tag::Enterprise)) => self.record(),
            _ => {}
        }
        Flow::Go
    }

    /// A sourcedid's `<id>` or `<source>` that is empty or only whitespace (at `at`).
    fn empty_sourcedid(&mut self, tag: Tag, at: Pos, empty: bool) {
        // The stack ends with the sourcedid; below it, what the sourcedid identifies.
        let owner = match self.stack.iter().rev().nth(1).map(|f| f.tag) {
            Some(Tag::Member) => "member",
            Some(Tag::Relationship) => "relationship",
            Some(Tag::Membership) => "membership",
            Some(Tag::Group) => "group",
            Some(Tag::Person) => "person",
            _ => "record",
        };
        let what = if empty { "empty" } else { "only whitespace" };
        let hint = if tag == Tag::Id {
            match owner {
                "member" | "relationship" | "membership" => {
                    "write the SIS id of the person or group it names: the id is how the import finds it"
                }
                _ => {
                    "write the record's SIS id: the import keys the record by it, and one without an id cannot be imported"
                }
            }
        } else {
            "name the system the id comes from, such as the SIS's name: the binding requires it in every sourcedid"
        };
        self.report(
            at,
            "empty_sourcedid",
            Some(&format!("sourcedid/{}", tag.name())),
            format!(
                "the {owner}'s <sourcedid> has {} <{}> that is {what}",
                if tag == Tag::Id { "an" } else { "a" },
                tag.name()
            ),
            Some(hint),
        );
    }

    /// A timeframe has ended: its end must not come before its begin (the same check as a
    /// OneRoster session's or enrollment's dates: `end_before_start`).
    fn timeframe(&mut self, parent: Option<Tag>) {
        let (Some(begin), Some((end, at))) = (self.tf_begin.take(), self.tf_end.take()) else {
            return;
        };
        if !rules::ends_before(&begin, &end) {
            return;
        }
        let who = match (parent, self.rec.as_ref()) {
            (Some(Tag::Role), _) => match &self.member.id {
                Some(m) => format!("the role of member \"{m}\""),
                None => "the member's role".to_string(),
            },
            (
                _,
                Some(Rec {
                    tag, id: Some(id), ..
                }),
            ) => format!("{} \"{id}\"", tag.name()),
            (_, Some(Rec { tag, .. })) => format!("this {}", tag.name()),
            _ => "this timeframe".to_string(),
        };
        self.report(
            at,
            "end_before_start",
            Some("timeframe/end"),
            format!("{who} ends ({end}) before it begins ({begin})"),
            Some("swap or correct the dates"),
        );
    }

    /// A person, group or membership has ended: its id defined, or its group referenced.
    fn record(&mut self) {
        let Some(rec) = self.rec.take() else { return };
        let Some(id) = rec.id else { return };
        let ns = match rec.tag {
            Tag::Person => PERSON,
            Tag::Group => GROUP,
            _ => return self.refer(GROUP, id, rec.at, "membership"),
        };
        let what = rec.tag.name();
        let h = hash_bytes(SEED, id.as_bytes());
        let (d, new) = self.defs[ns].get_or_insert_with(h, || Def {
            line: u32::try_from(rec.at.line).unwrap_or(u32::MAX),
            col: u32::try_from(rec.at.col).unwrap_or(u32::MAX),
            delete: rec.delete,
        });
        if new {
            return;
        }
        let d = *d;
        let first = format!("{}:{}", d.line, d.col);
        if d.delete != rec.delete {
            let (this, that) = if rec.delete {
                ("deletes (recstatus 3)", "adds or updates")
            } else {
                ("adds or updates", "deletes (recstatus 3)")
            };
            self.report(
                rec.at,
                "delete_and_add",
                Some("sourcedid/id"),
                format!("this {what} {this} \"{id}\", which the {what} at {first} {that}: what Canvas ends with depends on the order"),
                Some("keep one record per id: drop the delete or the add"),
            );
        } else {
            self.report(
                rec.at,
                "duplicate_sourcedid",
                Some("sourcedid/id"),
                format!("{what} \"{id}\" again (first at {first}); the later one wins"),
                Some("keep one record per id"),
            );
        }
    }

    /// A reference to a person or group, resolved now or at the end of the file.
    fn refer(&mut self, ns: usize, id: String, at: Pos, from: &'static str) {
        let h = hash_bytes(SEED, id.as_bytes());
        if self.defs[ns].get(h).is_some() {
            return;
        }
        self.pending
            .entry((ns, h))
            .and_modify(|p| p.count += 1)
            .or_insert(Pending {
                at,
                id,
                from,
                count: 1,
            });
    }

    fn eof(&mut self, at: Pos) {
        if let Some(f) = self.stack.last() {
            let msg = format!(
                "unclosed element <{}> (opened at {}:{}) at the end of the file",
                f.tag.name(),
                f.at.line,
                f.at.col
            );
            self.malformed(at, msg);
        } else if !self.root_seen {
            self.malformed(at, "no root element");
        }
    }

    /// References to ids the file never defined: warnings (they may exist in Canvas).
    fn unresolved(&mut self) {
        let mut left: Vec<(Pos, Pending, usize)> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(|((ns, h), _)| self.defs[*ns].get(*h).is_none())
            .map(|((ns, _), p)| (p.at, p, ns))
            .collect();
        left.sort_unstable_by_key(|(at, _, _)| *at);
        for (at, p, ns) in left {
            let kind = if ns == PERSON { "person" } else { "group" };
            let more = if p.count > 1 {
                format!(" ({} references)", p.count)
            } else {
                String::new()
            };
            self.report(
                at,
                "unknown_reference",
                Some("sourcedid/id"),
                format!(
                    "{} references {kind} \"{}\", which is not in this file; it may already exist in Canvas{more}",
                    p.from, p.id
                ),
                None,
            );
        }
    }
}

/// A reference in text that cannot be read: where its `&` is in `s` (when known), what is
/// wrong, and what to write instead (quick-xml's own text names byte ranges).
fn escape_problem(s: &str, e: &quick_xml::escape::EscapeError) -> (usize, String, &'static str) {
    use quick_xml::escape::EscapeError as E;
    let (off, msg, hint) = match e {
        E::UnrecognizedEntity(r, name) => (
            r.start.saturating_sub(1),
            format!("&{name}; is not an entity XML defines (only &amp; &lt; &gt; &quot; &apos;)"),
            "write the character itself, or its number: &#160; for &nbsp;, &#233; for &eacute;",
        ),
        E::UnterminatedEntity(r) => (
            r.start,
            "an & that starts no entity (no ; follows)".to_string(),
            "write a literal & as &amp;",
        ),
        E::InvalidCharRef(err) => (
            0,
            format!("a character reference that is not a character's number: {err}"),
            "write &#NNN; (decimal) or &#xHH; (hexadecimal)",
        ),
    };
    (off.min(s.len()), msg, hint)
}

/// Where attribute `key` starts in the tag's bytes (after `<`), for its column.
fn attr_offset(e: &[u8], key: &[u8]) -> usize {
    let mut i = 0;
    while let Some(j) = e[i..].windows(key.len()).position(|w| w == key) {
        let k = i + j;
        if k > 0 && (e[k - 1].is_ascii_whitespace() || e[k - 1] == b':') {
            return k;
        }
        i = k + 1;
    }
    0
}

fn unescape_lossy(enc: Enc, b: &[u8]) -> String {
    let s = text_of(enc, b);
    match quick_xml::escape::unescape(&s) {
        Ok(u) => u.into_owned(),
        Err(_) => s,
    }
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The root element's local name, read without expanding or fetching anything (for
/// `submit`'s choice of `ims_xml`); None when the input has no root element before an
/// error, or before [`MAX_NODE`] bytes of prolog.
pub fn root_element(r: impl Read) -> Option<String> {
    let counted = Counted::new(r);
    if utf16_or_32(counted.head()).is_some() {
        return None;
    }
    let mut rd = Reader::from_reader(counted);
    let mut buf = vec![];
    loop {
        buf.clear();
        match rd.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Whether a file's root element is IMS Enterprise's.
pub fn is_ims(path: &std::path::Path) -> io::Result<bool> {
    Ok(root_element(std::fs::File::open(path)?).as_deref() == Some(ROOT))
}
