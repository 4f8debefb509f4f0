//! Reading and checking the OneRoster files, row by row, handing each good row to the
//! mapping as it goes (see `mod.rs`).

use std::collections::BTreeMap;

// Id sets of a million entries are hashed once per row: FxHash, several times faster than
// SipHash on short ids; the input is the district's own export.
type HashMap<K, V> = std::collections::HashMap<K, V, rustc_hash::FxBuildHasher>;
type HashSet<K> = std::collections::HashSet<K, rustc_hash::FxBuildHasher>;
use std::io::Read;
use std::path::Path;

use super::input::Source;
use super::schema::{self, FileSpec};
use super::write::Out;
use super::{Converted, Error, LoginId, Options, UserId, map};
use crate::validate::{FileReport, Report, Severity, Sink};

/// Rows between two looks at the signal flag.
const SIGNAL_EVERY: u64 = 1 << 14;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Bulk,
    Delta,
}

struct Org {
    id: Box<str>,
    name: Box<str>,
    parent: Option<Box<str>>,
    deleted: bool,
    line: u64,
}

struct Session {
    id: Box<str>,
    title: Box<str>,
    ty: &'static str,
    start: Box<str>,
    end: Box<str>,
    parent: Option<Box<str>>,
    deleted: bool,
    line: u64,
}

struct Course {
    title: Box<str>,
    code: Box<str>,
    org: Box<str>,
}

struct Class {
    id: Box<str>,
    title: Box<str>,
    code: Box<str>,
    course: Box<str>,
    school: Box<str>,
    term: Option<Box<str>>,
    deleted: bool,
    line: u64,
}

struct User {
    /// Canvas `user_id` (the sourcedId, or the identifier with `--user-id identifier`).
    canvas: Box<str>,
    guardian: bool,
    student: bool,
    deleted: bool,
}

/// The column indexes of one file's header, by the spec's column name.
struct Header {
    ix: HashMap<&'static str, usize>,
    width: usize,
}

impl Header {
    fn get<'r>(&self, rec: &'r csv::StringRecord, col: &str) -> &'r str {
        self.ix
            .get(col)
            .and_then(|&i| rec.get(i))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// Everything the conversion holds while it reads.
struct Conv<'o> {
    opts: &'o Options,
    src: Source,
    out: Out,
    modes: HashMap<&'static str, Mode>,
    /// One sink per file read, in reading order.
    sinks: Vec<Sink>,
    read: Vec<(&'static str, u64)>,
    orgs: Vec<Org>,
    org_ix: HashMap<Box<str>, u32>,
    sessions: Vec<Session>,
    /// sourcedId → (type, parent), for the class → term walk.
    session_tree: map::SessionTree,
    courses: HashMap<Box<str>, Course>,
    classes: Vec<Class>,
    class_ix: HashMap<Box<str>, u32>,
    users: HashMap<Box<str>, u32>,
    user_meta: Vec<User>,
    /// (user, agent sourcedId, line), resolved when users.csv ends.
    agents: Vec<(u32, Box<str>, u64)>,
    /// Lower-cased login ids, and Canvas user ids when they are not the sourcedIds.
    logins: HashMap<Box<str>, u64>,
    canvas_ids: HashMap<Box<str>, u64>,
    /// (observer, student), users' indexes.
    observed: Vec<(u32, u32)>,
    target: std::path::PathBuf,
    skipped: BTreeMap<String, (u64, u64)>,
    /// Files whose header could not be read: references to them are not checked (each
    /// would be an error of its own, hiding the one that matters).
    broken: HashSet<&'static str>,
    /// Enrollments converted with a beginDate but no endDate, and the reverse: (count,
    /// first line) each.
    lone_dates: [(u64, u64); 2],
    version: String,
}

pub fn run(input: &Path, target: &Path, opts: &Options) -> Result<Converted, Error> {
    crate::interrupt::install();
    let mut archive = Sink::new(&input.display().to_string(), opts.max_diagnostics);
    let src = match Source::open(input) {
        Ok(s) => s,
        Err(Err(e)) => return Err(Error::Input(input.to_path_buf(), e)),
        Err(Ok(c)) => {
            archive.nowhere().hint(c.hint).err(c.code, c.message);
            return Err(Error::Invalid(report(vec![archive.finish()])));
        }
    };
    let out = Out::new(target).map_err(|e| Error::Output(target.to_path_buf(), e))?;
    let mut c = Conv {
        opts,
        src,
        out,
        modes: HashMap::default(),
        sinks: vec![archive],
        read: vec![],
        orgs: vec![],
        org_ix: HashMap::default(),
        sessions: vec![],
        session_tree: HashMap::default(),
        courses: HashMap::default(),
        classes: vec![],
        class_ix: HashMap::default(),
        users: HashMap::default(),
        user_meta: vec![],
        agents: vec![],
        logins: HashMap::default(),
        canvas_ids: HashMap::default(),
        observed: vec![],
        target: target.to_path_buf(),
        skipped: BTreeMap::new(),
        lone_dates: [(0, 0); 2],
        broken: HashSet::default(),
        version: String::new(),
    };
    let io_err = |e: std::io::Error| Error::Output(target.to_path_buf(), e);
    let present = c
        .src
        .names()
        .map_err(|e| Error::Input(input.to_path_buf(), e))?;
    c.manifest(&present)?;
    for spec in schema::FILES {
        if c.modes.contains_key(spec.name) {
            c.file(spec)?;
        }
        c.after(spec.name).map_err(io_err)?;
    }
    let errors: u64 = c.sinks.iter().map(|s| s.rep.errors).sum();
    let mut skipped = BTreeMap::new();
    for (role, (n, line)) in &c.skipped {
        skipped.insert(role.clone(), *n);
        let hint = if matches!(role.as_str(), "administrator" | "proctor") {
            format!("map it with --role-map {role}=CANVAS_ROLE, naming a Canvas role")
        } else {
            format!("--role-map {role}=CANVAS_ROLE converts them")
        };
        let i = c.sink_of("enrollments");
        c.sinks[i].at(*line).col("role").hint(hint).warn(
            "role_skipped",
            format!(
                "{n} enrollment{} with role \"{role}\" not converted: Canvas has no matching role",
                if *n == 1 { "" } else { "s" }
            ),
        );
    }
    for (k, &(n, line)) in c.lone_dates.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (has, lacks, col) = if k == 0 {
            ("beginDate", "endDate", "start_date")
        } else {
            ("endDate", "beginDate", "end_date")
        };
        let i = c.sink_of("enrollments");
        c.sinks[i]
            .at(line)
            .col(has)
            .hint(format!("give {lacks} too, such as the term's, or leave {has} empty to go by the section, course or term"))
            .warn(
                "lone_enrollment_date",
                format!(
                    "{n} enrollment{} with {} {has} but no {lacks} (the first here): Canvas saves {col} alone, but uses an enrollment's own dates only when both are set, so the section's, course's or term's dates still decide when the user has access",
                    if n == 1 { "" } else { "s" },
                    if k == 0 { "a" } else { "an" }
                ),
            );
    }
    let report = report(c.sinks.into_iter().map(Sink::finish).collect());
    if errors > 0 {
        return Err(Error::Invalid(report));
    }
    if let Err(f) = crate::interrupt::check(|| "converting".into()) {
        return Err(Error::Interrupted(f));
    }
    let bulk = c.modes.values().any(|m| *m == Mode::Bulk);
    let rows = match c.out.persist(target, opts.force) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(target.to_path_buf()));
        }
        Err(e) => return Err(io_err(e)),
    };
    Ok(Converted {
        report,
        rows,
        read: c.read,
        skipped,
        version: c.version,
        bulk,
    })
}

fn report(mut files: Vec<FileReport>) -> Report {
    // Some findings are made when a file ends (skipped roles, observers, orgs' parents):
    // each file's in line order, those without a line first (stable: same line, found order).
    for f in &mut files {
        f.diagnostics.sort_by_key(|d| d.line.unwrap_or(0));
    }
    Report {
        files,
        ..Default::default()
    }
}

impl Conv<'_> {
    fn sink_of(&self, name: &str) -> usize {
        let file = self.src.display(&format!("{name}.csv"));
        self.sinks
            .iter()
            .position(|s| s.rep.file == file)
            .unwrap_or(0)
    }

    fn errors(&self) -> u64 {
        self.sinks.iter().map(|s| s.rep.errors).sum()
    }

    /// A reference from a row to `target`'s ids: an error when `target` is a bulk file (a
    /// full export must hold what it references), a warning when it is a delta (the object
    /// may come from an earlier load), nothing when the file is absent.
    fn ref_severity(&self, target: &str) -> Option<Severity> {
        if self.broken.contains(target) {
            return None;
        }
        match self.modes.get(target) {
            Some(Mode::Bulk) => Some(Severity::Error),
            Some(Mode::Delta) => Some(Severity::Warning),
            None => None,
        }
    }

    // ---- manifest.csv ------------------------------------------------------------------

    fn manifest(&mut self, present: &[String]) -> Result<(), Error> {
        let name = self.src.display("manifest.csv");
        let mut sink = Sink::new(&name, self.opts.max_diagnostics);
        if !present.iter().any(|p| p == "manifest.csv") {
            sink.nowhere()
                .hint("a OneRoster bundle starts with manifest.csv (propertyName,value); export it again with the manifest")
                .err("manifest_missing", format!("no manifest.csv in {}", self.src.root()));
            self.sinks.push(sink);
            return Ok(());
        }
        let mut props: HashMap<String, u64> = HashMap::default();
        let mut listed: HashMap<String, (Mode, u64)> = HashMap::default();
        let mut absent: HashMap<String, u64> = HashMap::default();
        // file.X rows with a value that is not a mode (reported once, there).
        let mut unreadable: HashSet<String> = HashSet::default();
        {
            let rdr = self
                .src
                .open_file("manifest.csv")
                .map_err(|e| Error::Input(name.clone().into(), e))?;
            let mut rows = Rows::new(rdr);
            match rows.header(&mut sink) {
                Some(h)
                    if h.len() >= 2
                        && h[0].eq_ignore_ascii_case("propertyName")
                        && h[1].eq_ignore_ascii_case("value") => {}
                Some(h) => {
                    sink.at(1)
                        .hint("the manifest's header is propertyName,value")
                        .err(
                            "missing_column",
                            format!(
                                "manifest.csv header is \"{}\", not propertyName,value",
                                h.join(",")
                            ),
                        );
                    self.sinks.push(sink);
                    return Ok(());
                }
                None => {
                    self.sinks.push(sink);
                    return Ok(());
                }
            }
            while let Some((line, rec)) = rows.next(&mut sink) {
                let key = rec.get(0).unwrap_or("").trim().to_string();
                let val = rec.get(1).unwrap_or("").trim().to_string();
                sink.rep.rows += 1;
                if key.is_empty() {
                    sink.at(line)
                        .col("propertyName")
                        .err("missing_value", "a manifest row without a propertyName");
                    continue;
                }
                if let Some(first) = props.insert(key.clone(), line) {
                    sink.at(line).col("propertyName").err(
                        "duplicate_id",
                        format!("manifest property {key} twice (first at line {first})"),
                    );
                    continue;
                }
                if key == "oneroster.version" {
                    if !matches!(val.as_str(), "1.0" | "1.1" | "1.2") {
                        sink.at(line).col("value").hint("this converter reads OneRoster 1.1 CSV (and 1.0/1.2 where the columns match)").err(
                            "unsupported_version",
                            format!("oneroster.version \"{val}\" is not 1.0, 1.1 or 1.2"),
                        );
                    }
                    self.version = val;
                } else if let Some(file) = key.strip_prefix("file.") {
                    match schema::find(schema::MODES, &val) {
                        Some("bulk") => {
                            listed.insert(file.to_string(), (Mode::Bulk, line));
                        }
                        Some("delta") => {
                            listed.insert(file.to_string(), (Mode::Delta, line));
                        }
                        Some(_) => {
                            absent.insert(file.to_string(), line);
                        }
                        None => {
                            unreadable.insert(file.to_string());
                            sink.at(line)
                                .col("value")
                            .hint("bulk: a full export; delta: changes only; absent: no such file")
                            .err(
                                "invalid_value",
                                format!("{key} is \"{val}\", not absent, bulk or delta"),
                            );
                        }
                    }
                } else if !matches!(
                    key.as_str(),
                    "manifest.version" | "source.systemName" | "source.systemCode"
                ) {
                    sink.at(line).col("propertyName").warn(
                        "unknown_property",
                        format!("manifest property {key} is not one of OneRoster's; ignored"),
                    );
                }
            }
        }
        if !props.contains_key("oneroster.version") {
            sink.nowhere()
                .hint("add the row oneroster.version,1.1")
                .err("manifest_invalid", "manifest.csv has no oneroster.version");
        }
        // The manifest and the files present must agree (§10.4: file.<name>).
        for (file, (mode, line)) in &listed {
            let csv = format!("{file}.csv");
            if !present.contains(&csv) {
                sink.at(*line)
                    .col("value")
                    .hint(format!("add {csv}, or set file.{file} to absent"))
                    .err(
                        "manifest_mismatch",
                        format!(
                            "file.{file} is {} but there is no {csv}",
                            if *mode == Mode::Bulk { "bulk" } else { "delta" }
                        ),
                    );
            } else if let Some(spec) = schema::spec(file) {
                self.modes.insert(spec.name, *mode);
            }
        }
        for p in present {
            let Some(stem) = p.strip_suffix(".csv") else {
                sink.nowhere()
                    .file(self.src.display(p))
                    .warn("skipped_file", "not a CSV file; ignored");
                continue;
            };
            if stem == "manifest" || listed.contains_key(stem) || unreadable.contains(stem) {
                continue;
            }
            if let Some(line) = absent.get(stem) {
                sink.at(*line)
                    .col("value")
                    .hint(format!("set file.{stem} to bulk or delta, or remove {p}"))
                    .err(
                        "manifest_mismatch",
                        format!("file.{stem} is absent but {p} is present"),
                    );
            } else if schema::spec(stem).is_some() {
                sink.nowhere()
                    .hint(format!("add file.{stem},bulk (or delta) to manifest.csv"))
                    .err(
                        "manifest_mismatch",
                        format!("{p} is present but manifest.csv has no file.{stem}"),
                    );
            } else if !schema::NOT_CONVERTED.contains(&stem) {
                sink.nowhere()
                    .file(self.src.display(p))
                    .warn("skipped_file", "not a OneRoster file; ignored");
            }
        }
        self.sinks.push(sink);
        Ok(())
    }

    // ---- one data file -----------------------------------------------------------------

    fn file(&mut self, spec: &'static FileSpec) -> Result<(), Error> {
        let name = format!("{}.csv", spec.name);
        let display = self.src.display(&name);
        let mut sink = Sink::new(&display, self.opts.max_diagnostics);
        sink.rep.kind = Some(format!("oneroster:{}", spec.name));
        let mode = self.modes[spec.name];
        // The reader borrows the source: take the source out while the file streams.
        let mut src = std::mem::replace(&mut self.src, Source::Dir(Default::default()));
        let result = (|| -> Result<(), Error> {
            let rdr = src
                .open_file(&name)
                .map_err(|e| Error::Input(display.clone().into(), e))?;
            let mut rows = Rows::new(rdr);
            let Some(cells) = rows.header(&mut sink) else {
                self.broken.insert(spec.name);
                return Ok(());
            };
            let Some(h) = header(spec, &cells, self.version == "1.2", &mut sink) else {
                self.broken.insert(spec.name);
                return Ok(());
            };
            let mut ids: HashSet<Box<str>> = HashSet::default();
            let mut n = 0u64;
            while let Some((line, rec)) = rows.next(&mut sink) {
                n += 1;
                if n.is_multiple_of(SIGNAL_EVERY) {
                    crate::interrupt::check(|| format!("converting {name}"))
                        .map_err(Error::Interrupted)?;
                }
                if rec.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                sink.rep.rows += 1;
                if rec.len() != h.width {
                    sink.at(line)
                        .hint("every row has as many fields as the header")
                        .err(
                            "wrong_field_count",
                            format!("{} fields; the header has {}", rec.len(), h.width),
                        );
                    // Checked on anyway (absent fields read as blank), so that its id is
                    // known and other files' references to it do not add errors.
                }
                let Some(deleted) = common(&h, rec, line, mode, &mut ids, &mut sink) else {
                    continue;
                };
                let errs = sink.rep.errors;
                match spec.name {
                    "orgs" => self.org(&h, rec, line, deleted, &mut sink),
                    "academicSessions" => self.session(&h, rec, line, deleted, &mut sink),
                    "courses" => self.course(&h, rec, line, &mut sink),
                    "classes" => self.class(&h, rec, line, deleted, &mut sink),
                    "users" => self.user(&h, rec, line, deleted, &mut sink),
                    _ => self.enrollment(&h, rec, line, deleted, &mut sink),
                }
                .map_err(|e| Error::Output(self.target.clone(), e))?;
                if sink.rep.errors > errs {
                    self.out.on = false;
                }
            }
            Ok(())
        })();
        self.src = src;
        self.read.push((spec.name, sink.rep.rows));
        if sink.rep.errors > 0 {
            self.out.on = false;
        }
        self.sinks.push(sink);
        result
    }

    // ---- per file ----------------------------------------------------------------------

    fn org(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        deleted: bool,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        let id = h.get(r, "sourcedId");
        required(h, r, line, s, &["name", "type"]);
        enumerated(h, r, line, s, "type", schema::ORG_TYPES);
        let parent = h.get(r, "parentSourcedId");
        self.org_ix.insert(id.into(), self.orgs.len() as u32);
        self.orgs.push(Org {
            id: id.into(),
            name: h.get(r, "name").into(),
            parent: (!parent.is_empty()).then(|| parent.into()),
            deleted,
            line,
        });
        Ok(())
    }

    fn session(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        deleted: bool,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        let id = h.get(r, "sourcedId");
        required(
            h,
            r,
            line,
            s,
            &["title", "type", "startDate", "endDate", "schoolYear"],
        );
        let ty = enumerated(h, r, line, s, "type", schema::SESSION_TYPES);
        let start = date(h, r, line, s, "startDate");
        let end = date(h, r, line, s, "endDate");
        if let (Some(a), Some(b)) = (start, end)
            && b < a
        {
            s.at(line).col("endDate").err(
                "end_before_start",
                format!("session {id} ends ({b}) before it starts ({a})"),
            );
        }
        let year = h.get(r, "schoolYear");
        if !(year.is_empty() || year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit())) {
            s.at(line)
                .col("schoolYear")
                .hint("four digits, such as 2025")
                .err(
                    "invalid_value",
                    format!("schoolYear \"{year}\" is not a year"),
                );
        }
        let parent = h.get(r, "parentSourcedId");
        self.session_tree.insert(
            id.into(),
            (
                ty.unwrap_or("").into(),
                (!parent.is_empty()).then(|| parent.into()),
            ),
        );
        self.sessions.push(Session {
            id: id.into(),
            title: h.get(r, "title").into(),
            ty: ty.unwrap_or(""),
            start: h.get(r, "startDate").into(),
            end: h.get(r, "endDate").into(),
            // Checked when the file ends (a parent may come later).
            parent: (!parent.is_empty()).then(|| parent.into()),
            deleted,
            line,
        });
        Ok(())
    }

    fn course(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        let id = h.get(r, "sourcedId");
        required(h, r, line, s, &["title", "orgSourcedId"]);
        let org = h.get(r, "orgSourcedId");
        self.reference(s, line, "orgSourcedId", "orgs", org, |c, v| {
            c.org_ix.contains_key(v)
        });
        let year = h.get(r, "schoolYearSourcedId");
        self.reference(
            s,
            line,
            "schoolYearSourcedId",
            "academicSessions",
            year,
            |c, v| c.session_tree.contains_key(v),
        );
        self.courses.insert(
            id.into(),
            Course {
                title: h.get(r, "title").into(),
                code: h.get(r, "courseCode").into(),
                org: org.into(),
            },
        );
        Ok(())
    }

    fn class(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        deleted: bool,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        let id = h.get(r, "sourcedId");
        required(
            h,
            r,
            line,
            s,
            &[
                "title",
                "courseSourcedId",
                "classType",
                "schoolSourcedId",
                "termSourcedIds",
            ],
        );
        enumerated(h, r, line, s, "classType", schema::CLASS_TYPES);
        let course = h.get(r, "courseSourcedId");
        self.reference(s, line, "courseSourcedId", "courses", course, |c, v| {
            c.courses.contains_key(v)
        });
        let school = h.get(r, "schoolSourcedId");
        self.reference(s, line, "schoolSourcedId", "orgs", school, |c, v| {
            c.org_ix.contains_key(v)
        });
        let terms: Vec<&str> = list(h.get(r, "termSourcedIds")).collect();
        for t in &terms {
            self.reference(s, line, "termSourcedIds", "academicSessions", t, |c, v| {
                c.session_tree.contains_key(v)
            });
        }
        let sessions_read = self.modes.contains_key("academicSessions");
        let term = if sessions_read {
            map::class_term(&terms, &self.session_tree, &self.opts.term_types)
        } else {
            // A delta without sessions: the first term as given, which an earlier load made
            // (a blank term_id would move the course to the default term).
            terms.first().copied()
        };
        if term.is_none() && !terms.is_empty() && sessions_read {
            s.at(line).col("termSourcedIds").hint("add the session type to --term-types (e.g. --term-types term,semester,schoolYear)").warn(
                "no_term",
                format!(
                    "class {id}: none of its sessions ({}) is, or belongs to, a session of a type in --term-types ({}); its course goes to Canvas's default term",
                    terms.join(","),
                    self.opts.term_types.join(",")
                ),
            );
        }
        self.class_ix.insert(id.into(), self.classes.len() as u32);
        self.classes.push(Class {
            id: id.into(),
            title: h.get(r, "title").into(),
            code: h.get(r, "classCode").into(),
            course: course.into(),
            school: school.into(),
            term: term.map(Into::into),
            deleted,
            line,
        });
        Ok(())
    }

    fn user(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        deleted: bool,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        let id = h.get(r, "sourcedId");
        required(
            h,
            r,
            line,
            s,
            &[
                "enabledUser",
                "orgSourcedIds",
                "role",
                "username",
                "givenName",
                "familyName",
            ],
        );
        let role = enumerated(h, r, line, s, "role", schema::USER_ROLES).unwrap_or("");
        let enabled = match h.get(r, "enabledUser") {
            "" => true,
            v if v.eq_ignore_ascii_case("true") => true,
            v if v.eq_ignore_ascii_case("false") => false,
            v => {
                s.at(line)
                    .col("enabledUser")
                    .hint("OneRoster booleans are the words true and false")
                    .err(
                        "invalid_boolean",
                        format!("enabledUser \"{v}\" is not true or false"),
                    );
                true
            }
        };
        for o in list(h.get(r, "orgSourcedIds")) {
            self.reference(s, line, "orgSourcedIds", "orgs", o, |c, v| {
                c.org_ix.contains_key(v)
            });
        }
        let canvas_id = match self.opts.user_id {
            UserId::SourcedId => id,
            UserId::Identifier => {
                let v = h.get(r, "identifier");
                if v.is_empty() {
                    s.at(line)
                        .col("identifier")
                        .hint("fill identifier, or use --user-id sourcedId")
                        .err(
                            "missing_value",
                            format!("user {id} has no identifier (--user-id identifier)"),
                        );
                }
                v
            }
        };
        let login = match self.opts.login_id {
            LoginId::Username => ("username", h.get(r, "username")),
            LoginId::Email => ("email", h.get(r, "email")),
            LoginId::Identifier => ("identifier", h.get(r, "identifier")),
        };
        if login.1.is_empty() && login.0 != "username" {
            s.at(line)
                .col(login.0)
                .hint("fill it, or pick another --login-id")
                .err(
                    "missing_value",
                    format!("user {id} has no {} (--login-id {})", login.0, login.0),
                );
        } else if let Some(p) = crate::validate::values::login_problem(login.1) {
            let why = match p {
                crate::validate::values::LoginProblem::TooLong(n) => {
                    format!("{n} characters, over Canvas's 100")
                }
                crate::validate::values::LoginProblem::NotPrintable(i, c) => {
                    format!("character {i} ({c:?}) is not printable")
                }
            };
            s.at(line).col(login.0).err(
                "invalid_login_id",
                format!(
                    "user {id}: {} \"{}\" cannot be a Canvas login: {why}",
                    login.0,
                    login.1.escape_debug()
                ),
            );
        }
        if !login.1.is_empty() {
            let key: Box<str> = login.1.to_lowercase().into();
            if let Some(first) = self.logins.get(&key) {
                s.at(line).col(login.0).hint("Canvas logins are unique, case-insensitively; pick another --login-id or fix the SIS").err("duplicate_login_id", format!("user {id}: login \"{}\" is also the login of the user at line {first}", login.1));
            } else {
                self.logins.insert(key, line);
            }
        }
        if self.opts.user_id == UserId::Identifier && !canvas_id.is_empty() {
            if let Some(first) = self.canvas_ids.get(canvas_id) {
                s.at(line).col("identifier").hint("with --user-id identifier, identifiers must be unique").err("duplicate_id", format!("user {id}: identifier \"{canvas_id}\" is also the identifier of the user at line {first}"));
            } else {
                self.canvas_ids.insert(canvas_id.into(), line);
            }
        }
        let mut email = h.get(r, "email");
        if !email.is_empty() && !crate::validate::values::is_email(email) {
            s.at(line)
                .col("email")
                .hint("the user is converted without an e-mail")
                .warn(
                    "invalid_email",
                    format!("user {id}: \"{email}\" is not an e-mail address Canvas accepts"),
                );
            email = "";
        }
        let ix = self.user_meta.len() as u32;
        for a in list(h.get(r, "agentSourcedIds")) {
            self.agents.push((ix, a.into(), line));
        }
        if self.users.insert(id.into(), ix).is_none() {
            self.user_meta.push(User {
                canvas: canvas_id.into(),
                guardian: schema::is_guardian(role),
                student: role == "student",
                deleted,
            });
        }
        if self.out.on && s.rep.errors == 0 {
            self.out.row(&[
                canvas_id,
                login.1,
                map::user_status(deleted, enabled),
                h.get(r, "givenName"),
                h.get(r, "familyName"),
                email,
            ])?;
        }
        Ok(())
    }

    fn enrollment(
        &mut self,
        h: &Header,
        r: &csv::StringRecord,
        line: u64,
        deleted: bool,
        s: &mut Sink,
    ) -> std::io::Result<()> {
        required(
            h,
            r,
            line,
            s,
            &["classSourcedId", "schoolSourcedId", "userSourcedId", "role"],
        );
        let role = enumerated(h, r, line, s, "role", schema::ENROLLMENT_ROLES);
        let class = h.get(r, "classSourcedId");
        self.reference(s, line, "classSourcedId", "classes", class, |c, v| {
            c.class_ix.contains_key(v)
        });
        let user = h.get(r, "userSourcedId");
        self.reference(s, line, "userSourcedId", "users", user, |c, v| {
            c.users.contains_key(v)
        });
        let school = h.get(r, "schoolSourcedId");
        self.reference(s, line, "schoolSourcedId", "orgs", school, |c, v| {
            c.org_ix.contains_key(v)
        });
        let primary = h.get(r, "primary");
        if !primary.is_empty()
            && !primary.eq_ignore_ascii_case("true")
            && !primary.eq_ignore_ascii_case("false")
        {
            s.at(line)
                .col("primary")
                .hint("OneRoster booleans are the words true and false")
                .err(
                    "invalid_boolean",
                    format!("primary \"{primary}\" is not true or false"),
                );
        }
        let begin = date(h, r, line, s, "beginDate");
        let end = date(h, r, line, s, "endDate");
        if let (Some(a), Some(b)) = (begin, end)
            && b < a
        {
            s.at(line).col("endDate").err(
                "end_before_start",
                format!("enrollment ends ({b}) before it begins ({a})"),
            );
        }
        let Some(role) = role else {
            return Ok(());
        };
        let Some(canvas_role) = map::role(self.opts, role) else {
            let e = self.skipped.entry(role.to_string()).or_insert((0, line));
            e.0 += 1;
            return Ok(());
        };
        if !self.out.on || s.rep.errors > 0 {
            return Ok(());
        }
        let user_id = self
            .users
            .get(user)
            .map(|&i| &*self.user_meta[i as usize].canvas)
            .unwrap_or(user);
        let course = if self.opts.section_per_class {
            class.to_string()
        } else {
            self.class_ix
                .get(class)
                .map(|&i| self.grouped_course(&self.classes[i as usize]))
                .unwrap_or_default()
        };
        if begin.is_some() != end.is_some() {
            let e = &mut self.lone_dates[usize::from(end.is_some())];
            if e.0 == 0 {
                e.1 = line;
            }
            e.0 += 1;
        }
        let (start, end) = (
            map::start_date(h.get(r, "beginDate")),
            map::end_date(h.get(r, "endDate")),
        );
        self.out.row(&[
            &course,
            class,
            user_id,
            canvas_role,
            map::status(deleted),
            &start,
            &end,
        ])
    }

    /// With courses grouped: the Canvas course of a class, one per OneRoster course and
    /// term (a OneRoster course spans the school year; its classes are per term).
    fn grouped_course(&self, c: &Class) -> String {
        match &c.term {
            Some(t) => format!("{}~{t}", c.course),
            None => c.course.to_string(),
        }
    }

    /// Check a reference from `col` of this row to an id of `target` (when that file is
    /// read, see [`Conv::ref_severity`]).
    fn reference(
        &self,
        s: &mut Sink,
        line: u64,
        col: &str,
        target: &str,
        id: &str,
        known: impl Fn(&Self, &str) -> bool,
    ) {
        if id.is_empty() || known(self, id) {
            return;
        }
        let Some(sev) = self.ref_severity(target) else {
            return;
        };
        s.at(line).col(col).hint(ref_hint(target, sev)).report(
            sev,
            "unknown_reference",
            format!("{col} \"{id}\" is not in {target}.csv"),
        );
    }

    // ---- when a file is done (or absent): what needs the whole file -------------------

    /// After `name` was read (or found absent): the rows that need the whole file, then
    /// the next streamed entry's header.
    fn after(&mut self, name: &str) -> std::io::Result<()> {
        let present = self.modes.contains_key(name);
        match name {
            "orgs" if present => self.orgs_done()?,
            "academicSessions" if present => self.sessions_done()?,
            "classes" => {
                if present {
                    self.classes_done()?;
                }
                if self.modes.contains_key("users") {
                    self.out.start("users.csv", "user", map::USERS)?;
                }
            }
            "users" => {
                if present {
                    self.agents_done();
                }
                if self.modes.contains_key("enrollments") {
                    self.out
                        .start("enrollments.csv", "enrollment", map::ENROLLMENTS)?;
                }
            }
            "enrollments" => self.observers()?,
            _ => {}
        }
        Ok(())
    }

    fn orgs_done(&mut self) -> std::io::Result<()> {
        let i = self.sink_of("orgs");
        let parents: Vec<Option<u32>> = self
            .orgs
            .iter()
            .map(|o| o.parent.as_ref().and_then(|p| self.org_ix.get(p).copied()))
            .collect();
        let sev = self.ref_severity("orgs");
        for (o, p) in self.orgs.iter().zip(&parents) {
            if let (Some(pid), None, Some(sev)) = (&o.parent, p, sev) {
                self.sinks[i]
                    .at(o.line)
                    .col("parentSourcedId")
                    .hint(ref_hint("orgs", sev))
                    .report(
                        sev,
                        "unknown_reference",
                        format!("parentSourcedId \"{pid}\" is not in orgs.csv"),
                    );
            }
        }
        for cyc in map::cycles(&parents) {
            let first = &self.orgs[cyc[0] as usize];
            let mut path: Vec<&str> = cyc.iter().map(|&k| &*self.orgs[k as usize].id).collect();
            path.push(&first.id);
            self.sinks[i]
                .at(first.line)
                .col("parentSourcedId")
                .hint(
                    "an org's parents must lead to a top org (a district or state with no parent)",
                )
                .err(
                    "org_cycle",
                    format!("orgs form a cycle of parents: {}", path.join(" → ")),
                );
        }
        if self.errors() > 0 {
            self.out.on = false;
            return Ok(());
        }
        let order = map::parents_first(&parents);
        self.out.start("accounts.csv", "account", map::ACCOUNTS)?;
        for k in order {
            let o = &self.orgs[k as usize];
            self.out.row(&[
                &o.id,
                o.parent.as_deref().unwrap_or(""),
                &o.name,
                map::status(o.deleted),
            ])?;
        }
        Ok(())
    }

    fn sessions_done(&mut self) -> std::io::Result<()> {
        let i = self.sink_of("academicSessions");
        let sev = self.ref_severity("academicSessions");
        for x in &self.sessions {
            let Some(p) = &x.parent else { continue };
            if let (false, Some(sev)) = (self.session_tree.contains_key(p), sev) {
                self.sinks[i]
                    .at(x.line)
                    .col("parentSourcedId")
                    .hint(ref_hint("academicSessions", sev))
                    .report(
                        sev,
                        "unknown_reference",
                        format!("parentSourcedId \"{p}\" is not in academicSessions.csv"),
                    );
            }
        }
        // As for orgs: parents that loop lead to no term (a class's walk up them would stop
        // at its bound with no answer, in silence).
        let ix: std::collections::HashMap<&str, u32> = self
            .sessions
            .iter()
            .enumerate()
            .map(|(k, x)| (&*x.id, k as u32))
            .collect();
        let parents: Vec<Option<u32>> = self
            .sessions
            .iter()
            .map(|x| x.parent.as_deref().and_then(|p| ix.get(p).copied()))
            .collect();
        for cyc in map::cycles(&parents) {
            let first = &self.sessions[cyc[0] as usize];
            let mut path: Vec<&str> = cyc
                .iter()
                .map(|&k| &*self.sessions[k as usize].id)
                .collect();
            path.push(&first.id);
            let said = format!(
                "academicSessions form a cycle of parents: {}",
                path.join(" → ")
            );
            self.sinks[i]
                .at(first.line)
                .col("parentSourcedId")
                .hint(
                    "a session's parents must lead to a top session (a schoolYear with no parent)",
                )
                .err("session_cycle", said);
        }
        if self.errors() > 0 {
            self.out.on = false;
            return Ok(());
        }
        self.out.start("terms.csv", "term", map::TERMS)?;
        for s in &self.sessions {
            if self.opts.term_types.iter().any(|t| t == s.ty) {
                self.out.row(&[
                    &s.id,
                    &s.title,
                    map::status(s.deleted),
                    &map::start_date(&s.start),
                    &map::end_date(&s.end),
                ])?;
            }
        }
        Ok(())
    }

    fn classes_done(&mut self) -> std::io::Result<()> {
        if self.errors() > 0 {
            self.out.on = false;
            return Ok(());
        }
        if self.opts.section_per_class {
            self.out.start("courses.csv", "course", map::COURSES)?;
            for c in &self.classes {
                let short = if c.code.is_empty() { &c.title } else { &c.code };
                self.out.row(&[
                    &c.id,
                    short,
                    &c.title,
                    &c.school,
                    c.term.as_deref().unwrap_or(""),
                    map::status(c.deleted),
                ])?;
            }
        } else {
            let mut seen = HashSet::default();
            let (mut ids, mut rows): (Vec<String>, Vec<[&str; 5]>) = (vec![], vec![]);
            // Courses of classes whose OneRoster course this bundle lacks (a delta): their
            // first class's line, and the Canvas course ids.
            let mut left_out: Option<(u64, Vec<String>)> = None;
            for c in &self.classes {
                let id = self.grouped_course(c);
                if !seen.insert(id.clone()) {
                    continue;
                }
                let Some(k) = self.courses.get(&c.course) else {
                    // Canvas's course names and account are sticky SIS fields that each
                    // import overwrites: a row made up from the class (its title, its
                    // school) would rename the course of every section and could move it.
                    // The sections name the course by course_id, made by an earlier load.
                    left_out.get_or_insert((c.line, vec![])).1.push(id);
                    continue;
                };
                rows.push([
                    if k.code.is_empty() { &k.title } else { &k.code },
                    &k.title,
                    &k.org,
                    c.term.as_deref().unwrap_or(""),
                    "active",
                ]);
                ids.push(id);
            }
            // A delta whose classes' courses all stay out writes no courses.csv: a
            // header-only file would be read as "no courses" by a diffing import.
            if !rows.is_empty() || left_out.is_none() {
                self.out.start("courses.csv", "course", map::COURSES)?;
                for (id, r) in ids.iter().zip(&rows) {
                    self.out.row(&[id, r[0], r[1], r[2], r[3], r[4]])?;
                }
            }
            if let Some((line, ids)) = left_out {
                let i = self.sink_of("classes");
                let n = ids.len();
                let shown = ids.iter().take(3).map(String::as_str).collect::<Vec<_>>();
                self.sinks[i]
                    .at(line)
                    .col("courseSourcedId")
                    .hint("a course Canvas does not have yet, as for a class in a new term, makes its section fail with \"Section … references course … which doesn't exist\": send that course in courses.csv too")
                    .warn(
                        "course_not_written",
                        format!(
                            "{n} Canvas course{} not written ({}{}): {} OneRoster course is not in courses.csv, so {} name and account are not known; the sections name {} by course_id, as made by an earlier load",
                            if n == 1 { "" } else { "s" },
                            shown.join(", "),
                            if n > 3 { ", …" } else { "" },
                            if n == 1 { "its" } else { "their" },
                            if n == 1 { "its" } else { "their" },
                            if n == 1 { "it" } else { "them" },
                        ),
                    );
            }
        }
        self.out.start("sections.csv", "section", map::SECTIONS)?;
        for c in &self.classes {
            let course = if self.opts.section_per_class {
                c.id.to_string()
            } else {
                self.grouped_course(c)
            };
            self.out
                .row(&[&c.id, &course, &c.title, map::status(c.deleted)])?;
        }
        Ok(())
    }

    /// Guardians, parents and relatives become observers of the students they are agents
    /// of, or who are theirs: `agentSourcedIds` on either side (§10.4).
    fn agents_done(&mut self) {
        let i = self.sink_of("users");
        let sev = self.ref_severity("users");
        let mut pairs = Vec::new();
        for (u, agent, line) in std::mem::take(&mut self.agents) {
            let Some(&a) = self.users.get(&agent) else {
                if let Some(sev) = sev {
                    let why = if sev == Severity::Error {
                        "users.csv is a bulk file, so it must hold every agent"
                    } else {
                        "users.csv is a delta file; the agent may exist from an earlier load (no observer is made)"
                    };
                    self.sinks[i]
                        .at(line)
                        .col("agentSourcedIds")
                        .hint(why)
                        .report(
                            sev,
                            "unknown_reference",
                            format!("agentSourcedIds \"{agent}\" is not in users.csv"),
                        );
                }
                continue;
            };
            let (mu, ma) = (&self.user_meta[u as usize], &self.user_meta[a as usize]);
            if mu.guardian && ma.student {
                pairs.push((u, a));
            } else if mu.student && ma.guardian {
                pairs.push((a, u));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        self.observed = pairs;
    }

    fn observers(&mut self) -> std::io::Result<()> {
        if !self.modes.contains_key("users") || self.errors() > 0 {
            return Ok(());
        }
        // A bulk users.csv with no pair still writes the header: a full export says there
        // are no observers now (a diffing import removes the old ones). A delta says
        // nothing about pairs it does not list.
        if self.observed.is_empty() && self.modes["users"] == Mode::Delta {
            return Ok(());
        }
        self.out
            .start("user_observers.csv", "user_observer", map::OBSERVERS)?;
        for &(o, st) in &self.observed {
            let (o, st) = (&self.user_meta[o as usize], &self.user_meta[st as usize]);
            self.out
                .row(&[&o.canvas, &st.canvas, map::status(o.deleted || st.deleted)])?;
        }
        Ok(())
    }
}

/// Why a missing reference is an error (bulk) or a warning (delta).
fn ref_hint(target: &str, sev: Severity) -> String {
    if sev == Severity::Error {
        format!("{target}.csv is a bulk file, so it must hold every row referenced")
    } else {
        format!("{target}.csv is a delta file; it may exist from an earlier load")
    }
}

// ---- rows ------------------------------------------------------------------------------

/// A CSV stream: BOM stripped, CRLF or LF, and each record's first physical line.
struct Rows<'r> {
    rdr: csv::Reader<Box<dyn Read + 'r>>,
    rec: csv::StringRecord,
    line: u64,
    done: bool,
}

impl<'r> Rows<'r> {
    fn new(r: Box<dyn Read + 'r>) -> Self {
        let r: Box<dyn Read + 'r> = Box::new(Lf {
            inner: r,
            cr: false,
        });
        Rows {
            rdr: csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(r),
            rec: csv::StringRecord::new(),
            line: 0,
            done: false,
        }
    }

    /// The header's cells (BOM stripped), or `None` (reported) for an empty file.
    fn header(&mut self, sink: &mut Sink) -> Option<Vec<String>> {
        if self.next(sink).is_none() {
            sink.nowhere()
                .hint("export the file again; a OneRoster file starts with its header")
                .err("no_header", "empty file: no header row");
            return None;
        }
        Some(
            self.rec
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let c = if i == 0 {
                        c.trim_start_matches('\u{feff}')
                    } else {
                        c
                    };
                    c.trim().to_string()
                })
                .collect(),
        )
    }

    /// The next record, skipping (and reporting) those that are not UTF-8.
    fn next(&mut self, sink: &mut Sink) -> Option<(u64, &csv::StringRecord)> {
        while !self.done {
            match self.rdr.read_record(&mut self.rec) {
                Ok(true) => {
                    self.line = self.rec.position().map_or(self.line + 1, |p| p.line());
                    return Some((self.line, &self.rec));
                }
                Ok(false) => self.done = true,
                Err(e) => {
                    let line = e.position().map_or(self.line + 1, |p| p.line());
                    self.line = line;
                    match e.kind() {
                        csv::ErrorKind::Utf8 { err, .. } => {
                            sink.at(line).hint("save the file as UTF-8").err(
                                "invalid_utf8",
                                format!(
                                    "not UTF-8 (field {}): OneRoster files are UTF-8",
                                    err.field() + 1
                                ),
                            );
                        }
                        _ => {
                            sink.at(line).err("read_error", format!("cannot read: {e}"));
                            self.done = true;
                        }
                    }
                }
            }
        }
        None
    }
}

/// CRLF read as LF: the csv crate's line numbers lag one line per CRLF record otherwise
/// (the `\n` of a CRLF is counted with the next record), and diagnostics must name the
/// physical line. A CR inside a quoted CRLF becomes LF too, which changes no value Canvas
/// keeps (names, titles).
struct Lf<R> {
    inner: R,
    /// A CR ended the last chunk: dropped if the next chunk starts with LF.
    cr: bool,
}

impl<R: Read> Read for Lf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let start = usize::from(self.cr);
        if self.cr {
            out[0] = b'\r';
            self.cr = false;
        }
        let n = self.inner.read(&mut out[start..])?;
        if n == 0 {
            return Ok(start);
        }
        let total = start + n;
        let (mut w, mut i) = (0, 0);
        while i < total {
            let b = out[i];
            if b == b'\r' {
                if i + 1 == total {
                    self.cr = true;
                    break;
                }
                if out[i + 1] == b'\n' {
                    i += 1;
                    continue;
                }
            }
            out[w] = b;
            w += 1;
            i += 1;
        }
        if w == 0 {
            // Only a CR held back: read on (ends: a held CR alone is returned at EOF).
            return self.read(out);
        }
        Ok(w)
    }
}

/// The header against the spec: required columns (error), the rest of 1.1's (warning),
/// unknown ones (warning; 1.2's and `metadata.*` accepted).
fn header(spec: &FileSpec, cells: &[String], v12: bool, sink: &mut Sink) -> Option<Header> {
    let mut ix = HashMap::default();
    let mut ok = true;
    for (i, c) in cells.iter().enumerate() {
        if let Some(col) = spec.cols.iter().find(|k| k.eq_ignore_ascii_case(c)) {
            if ix.insert(*col, i).is_some() {
                sink.at(1)
                    .col(col)
                    .err("duplicate_column", format!("column {col} twice"));
                ok = false;
            }
        } else if !(spec.v12.iter().any(|k| k.eq_ignore_ascii_case(c))
            || c.starts_with("metadata."))
        {
            sink.at(1).col(c).warn(
                "unknown_column",
                format!(
                    "column \"{c}\" is not a OneRoster {} column; ignored",
                    spec.name
                ),
            );
        }
    }
    for col in spec.cols {
        if ix.contains_key(col) {
            continue;
        }
        if spec.required.contains(col) {
            sink.at(1)
                .col(col)
                .hint(format!(
                    "the OneRoster 1.1 header of {}.csv is {}",
                    spec.name,
                    spec.cols.join(",")
                ))
                .err("missing_column", format!("no {col} column"));
            ok = false;
        } else if !v12 {
            // 1.2 dropped or moved some 1.1 columns (users' password): only 1.1 is told.
            sink.at(1).col(col).warn(
                "missing_column",
                format!("no {col} column (OneRoster 1.1 lists it; not needed to convert)"),
            );
        }
    }
    ok.then_some(Header {
        ix,
        width: cells.len(),
    })
}

/// The checks every file shares: sourcedId (present, unique), status, dateLastModified.
/// `Some(tobedeleted)` unless the row cannot be used at all.
fn common(
    h: &Header,
    r: &csv::StringRecord,
    line: u64,
    mode: Mode,
    ids: &mut HashSet<Box<str>>,
    s: &mut Sink,
) -> Option<bool> {
    let id = h.get(r, "sourcedId");
    if id.is_empty() {
        s.at(line)
            .col("sourcedId")
            .err("missing_value", "no sourcedId");
        return None;
    }
    if !ids.insert(id.into()) {
        s.at(line)
            .col("sourcedId")
            .hint("each sourcedId once per file")
            .err("duplicate_id", format!("sourcedId \"{id}\" twice"));
        return None;
    }
    let status = h.get(r, "status");
    let mut deleted = false;
    if status.is_empty() {
        if mode == Mode::Delta {
            s.at(line)
                .col("status")
                .hint("active or tobedeleted")
                .err("missing_value", "a delta row needs a status");
        }
    } else {
        match schema::find(schema::STATUS, status) {
            Some(v) if v == status => deleted = v == "tobedeleted",
            Some(v) => {
                s.at(line)
                    .col("status")
                    .hint(format!("did you mean \"{v}\"?"))
                    .err(
                        "invalid_value",
                        format!("status \"{status}\" is not active or tobedeleted"),
                    );
            }
            None => {
                s.at(line)
                    .col("status")
                    .hint("a delta row says active or tobedeleted; a bulk row leaves it blank")
                    .err(
                        "invalid_value",
                        format!("status \"{status}\" is not active or tobedeleted"),
                    );
            }
        }
        if mode == Mode::Bulk {
            s.at(line)
                .col("status")
                .hint(
                    "a bulk file lists what exists; deletions are implicit (or send a delta file)",
                )
                .warn(
                    "status_in_bulk",
                    format!("status \"{status}\" in a bulk file, where OneRoster leaves it blank"),
                );
        }
    }
    let modified = h.get(r, "dateLastModified");
    if modified.is_empty() {
        if mode == Mode::Delta {
            s.at(line)
                .col("dateLastModified")
                .err("missing_value", "a delta row needs a dateLastModified");
        }
    } else if !is_datetime(modified) {
        s.at(line)
            .col("dateLastModified")
            .hint("ISO 8601, e.g. 2025-08-01T12:00:00Z")
            .err(
                "bad_date",
                format!("dateLastModified \"{modified}\" is not an ISO 8601 date-time"),
            );
    }
    Some(deleted)
}

fn is_datetime(v: &str) -> bool {
    v.parse::<jiff::Timestamp>().is_ok() || v.parse::<jiff::civil::DateTime>().is_ok()
}

/// Each of `cols` non-blank (an error otherwise).
fn required(h: &Header, r: &csv::StringRecord, line: u64, s: &mut Sink, cols: &[&str]) {
    for c in cols {
        if h.get(r, c).is_empty() && h.ix.contains_key(c) {
            s.at(line).col(c).err("missing_value", format!("no {c}"));
        }
    }
}

/// `col`'s value in `set` (case-sensitive, as OneRoster's are): the value, or `None`
/// (reported when not blank).
fn enumerated(
    h: &Header,
    r: &csv::StringRecord,
    line: u64,
    s: &mut Sink,
    col: &str,
    set: &[&'static str],
) -> Option<&'static str> {
    let v = h.get(r, col);
    if v.is_empty() {
        return None;
    }
    match schema::find(set, v) {
        Some(k) if k == v => Some(k),
        found => {
            let hint = match found {
                Some(k) => format!("did you mean \"{k}\"? (values are case-sensitive)"),
                None => format!("one of {}", set.join(", ")),
            };
            s.at(line).col(col).hint(hint).err(
                "invalid_value",
                format!("{col} \"{v}\" is not one of OneRoster's"),
            );
            None
        }
    }
}

/// A `YYYY-MM-DD` date (OneRoster's Date), or `None` (reported when not blank).
fn date(
    h: &Header,
    r: &csv::StringRecord,
    line: u64,
    s: &mut Sink,
    col: &str,
) -> Option<jiff::civil::Date> {
    let v = h.get(r, col);
    if v.is_empty() {
        return None;
    }
    match v.parse::<jiff::civil::Date>() {
        Ok(d) if v.len() == 10 => Some(d),
        _ => {
            s.at(line)
                .col(col)
                .hint("write a calendar date as YYYY-MM-DD, e.g. 2025-08-15")
                .err("bad_date", format!("{col} \"{v}\" is not a date"));
            None
        }
    }
}

/// A OneRoster list cell (`a,b,c` inside one quoted field).
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|x| !x.is_empty())
}
