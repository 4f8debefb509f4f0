//! An IMS Enterprise 1.1 file (reference §10.2) as the plan sees it: the same rows as a CSV
//! bundle's, so that plan, baseline and guard judge `ims_xml` imports by the same rules.
//!
//! - a `person` is a `user`, keyed by its `sourcedid/id` (`userid` → `login_id`, the name's
//!   parts, `email`);
//! - a `group` is a `term`, `course` or `section` by its `grouptype/typevalue` (Banner and
//!   Luminis write `Term`, `Course`, `Section`; any other value is a course), keyed by its
//!   id; its `relationship` names a course's term or a section's course;
//! - each person `member` of a `membership` is an `enrollment` in the membership's section
//!   (or course), keyed by group, person and role (`roletype` 01 student, 02 teacher, 03
//!   designer, 04 student, 05 teacher, 06 observer, 07 teacher, 08 ta, or the role's name);
//! - `recstatus="3"` deletes; a member's `role/status` 0 makes the enrollment `inactive`.
//!
//! The file was validated before (`crate::validate::xml`): this reader is lenient and reads
//! only what a plan needs, streaming, in one pass (groups come before memberships in the
//! binding's order, so a membership's group type is known when it is read).

use std::collections::HashMap;
use std::io::BufRead;

use quick_xml::events::Event;

use super::rows::{FileInfo, RowView, Sink, row_hash};

/// What a group was, by id (for the memberships that follow).
#[derive(Clone, Copy, PartialEq, Eq)]
enum GroupKind {
    Term,
    Course,
    Section,
}

/// The record being read.
#[derive(Default)]
struct Record {
    line: u64,
    recstatus: String,
    id: String,
    fields: Vec<(&'static str, String)>,
    typevalue: String,
    related: Option<String>,
    members: Vec<Member>,
}

#[derive(Default)]
struct Member {
    id: String,
    idtype: String,
    role: String,
    status: String,
    recstatus: String,
}

/// Canvas's role for an IMS `roletype` (or role name).
fn role(roletype: &str) -> &'static str {
    match roletype.trim().to_ascii_lowercase().as_str() {
        "02" | "instructor" | "05" | "manager" | "07" | "administrator" => "teacher",
        "03" | "content developer" => "designer",
        "06" | "mentor" => "observer",
        "08" | "teachingassistant" => "ta",
        _ => "student",
    }
}

/// Read one IMS file's records into `sink`, as rows of the CSV kinds they stand for.
pub fn read(r: impl BufRead, name: &str, sink: &mut dyn Sink) -> Result<(), quick_xml::Error> {
    let mut lines = LineCount { inner: r, line: 1 };
    let mut rd = quick_xml::Reader::from_reader(&mut lines);
    rd.config_mut().trim_text(true);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut rec: Option<Record> = None;
    let mut groups: HashMap<String, GroupKind> = HashMap::new();
    let mut out = Emitter {
        name,
        sink,
        file: None,
    };
    loop {
        let ev = rd.read_event_into(&mut buf)?;
        let line = rd.get_ref().line;
        match ev {
            Event::Start(e) => {
                let tag = e.local_name().as_ref().to_vec();
                let attr = |n: &[u8]| {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == n)
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                        .unwrap_or_default()
                };
                if path.len() == 1 && matches!(tag.as_slice(), b"person" | b"group" | b"membership")
                {
                    rec = Some(Record {
                        line,
                        recstatus: attr(b"recstatus"),
                        ..Default::default()
                    });
                }
                if let Some(r) = rec.as_mut() {
                    match tag.as_slice() {
                        b"member" => r.members.push(Member {
                            recstatus: attr(b"recstatus"),
                            ..Default::default()
                        }),
                        b"role" => {
                            if let Some(m) = r.members.last_mut() {
                                m.role = attr(b"roletype");
                                if m.recstatus.is_empty() {
                                    m.recstatus = attr(b"recstatus");
                                }
                            }
                        }
                        _ => {}
                    }
                }
                path.push(tag);
            }
            Event::End(_) => {
                let tag = path.pop().unwrap_or_default();
                if path.len() == 1
                    && let Some(r) = rec.take()
                {
                    out.record(&tag, r, &mut groups);
                }
            }
            Event::Text(t) => {
                let text = t.unescape().map(|c| c.into_owned()).unwrap_or_default();
                if let Some(r) = rec.as_mut() {
                    take_text(r, &path, text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

/// A text node, by where it stands in the record.
fn take_text(r: &mut Record, path: &[Vec<u8>], text: String) {
    let names: Vec<&[u8]> = path.iter().skip(1).map(Vec::as_slice).collect();
    match names.as_slice() {
        [_, b"sourcedid", b"id"] => r.id = text,
        [b"person", b"userid"] => r.fields.push(("login_id", text)),
        [b"person", b"email"] => r.fields.push(("email", text)),
        [b"person", b"name", b"fn"] => r.fields.push(("full_name", text)),
        [b"person", b"name", b"n", b"given"] => r.fields.push(("first_name", text)),
        [b"person", b"name", b"n", b"family"] => r.fields.push(("last_name", text)),
        [b"group", b"grouptype", b"typevalue"] => r.typevalue = text,
        [b"group", b"description", b"short"] => r.fields.push(("short_name", text)),
        [b"group", b"description", b"long"] => r.fields.push(("long_name", text)),
        [b"group", b"timeframe", b"begin"] => r.fields.push(("start_date", text)),
        [b"group", b"timeframe", b"end"] => r.fields.push(("end_date", text)),
        [b"group", b"relationship", b"sourcedid", b"id"] => r.related = Some(text),
        [b"membership", b"member", b"sourcedid", b"id"] => {
            if let Some(m) = r.members.last_mut() {
                m.id = text;
            }
        }
        [b"membership", b"member", b"idtype"] => {
            if let Some(m) = r.members.last_mut() {
                m.idtype = text;
            }
        }
        [b"membership", b"member", b"role", b"status"] => {
            if let Some(m) = r.members.last_mut() {
                m.status = text;
            }
        }
        _ => {}
    }
}

/// The columns each kind's rows carry, as a CSV file of that kind would name them.
fn headers(kind: &str) -> &'static [&'static str] {
    match kind {
        "user" => &[
            "user_id",
            "login_id",
            "email",
            "full_name",
            "first_name",
            "last_name",
            "status",
        ],
        "term" => &["term_id", "name", "start_date", "end_date", "status"],
        "course" => &[
            "course_id",
            "short_name",
            "long_name",
            "term_id",
            "start_date",
            "end_date",
            "status",
        ],
        "section" => &[
            "section_id",
            "course_id",
            "name",
            "long_name",
            "start_date",
            "end_date",
            "status",
        ],
        _ => &["course_id", "section_id", "user_id", "role", "status"],
    }
}

/// Hands the records on as rows, saying which kind of file they read as whenever it
/// changes (an IMS file mixes kinds; the sink reads a kind's columns at each change).
struct Emitter<'a> {
    name: &'a str,
    sink: &'a mut dyn Sink,
    file: Option<FileInfo>,
}

impl Emitter<'_> {
    fn row(&mut self, kind: &'static str, key: &[&str], fields: &[(&str, &str)], line: u64) {
        if self.file.as_ref().is_none_or(|f| f.kind != kind) {
            let info = FileInfo {
                kind,
                name: self.name.to_string(),
                headers: headers(kind).iter().map(|h| h.to_string()).collect(),
            };
            self.sink.file(&info);
            self.file = Some(info);
        }
        let info = self.file.as_ref().expect("set above");
        let get = |c: &str| {
            fields
                .iter()
                .find(|(k, _)| *k == c)
                .map(|(_, v)| v.trim())
                .unwrap_or("")
        };
        let values: Vec<&str> = info.headers.iter().map(|h| get(h)).collect();
        let compared: Vec<bool> = info
            .headers
            .iter()
            .map(|h| !super::rows::ignored_column(h) && fields.iter().any(|(k, _)| k == h))
            .collect();
        let opt = |c: &str| Some(get(c)).filter(|v| !v.is_empty());
        self.sink.row(
            info,
            &RowView {
                key: row_hash(key),
                key_parts: key,
                term: opt("term_id"),
                status: get("status"),
                fields: super::rows::Fields::Values(&values),
                compared: &compared,
                course_id: opt("course_id"),
                section_id: opt("section_id"),
                line,
            },
        );
    }

    fn record(&mut self, tag: &[u8], r: Record, groups: &mut HashMap<String, GroupKind>) {
        if r.id.is_empty() {
            return;
        }
        let deleted = |s: &str| s.trim() == "3";
        let status = if deleted(&r.recstatus) {
            "deleted"
        } else {
            "active"
        };
        let mut fields: Vec<(&str, &str)> =
            r.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fields.push(("status", status));
        match tag {
            b"person" => {
                fields.push(("user_id", &r.id));
                self.row("user", &[&r.id], &fields, r.line);
            }
            b"group" => {
                let kind = match r.typevalue.trim().to_ascii_lowercase().as_str() {
                    "term" => GroupKind::Term,
                    "section" => GroupKind::Section,
                    _ => GroupKind::Course,
                };
                groups.insert(r.id.clone(), kind);
                let related = r.related.as_deref().unwrap_or("");
                match kind {
                    GroupKind::Term => {
                        // A term's name is its short description.
                        for f in fields.iter_mut() {
                            if f.0 == "short_name" {
                                f.0 = "name";
                            }
                        }
                        fields.push(("term_id", &r.id));
                        self.row("term", &[&r.id], &fields, r.line);
                    }
                    GroupKind::Course => {
                        fields.push(("course_id", &r.id));
                        fields.push(("term_id", related));
                        self.row("course", &[&r.id], &fields, r.line);
                    }
                    GroupKind::Section => {
                        for f in fields.iter_mut() {
                            if f.0 == "short_name" {
                                f.0 = "name";
                            }
                        }
                        fields.push(("section_id", &r.id));
                        fields.push(("course_id", related));
                        self.row("section", &[&r.id], &fields, r.line);
                    }
                }
            }
            b"membership" => {
                let in_section = groups.get(&r.id) == Some(&GroupKind::Section);
                for m in &r.members {
                    if m.idtype.trim() == "2" || m.id.is_empty() {
                        continue;
                    }
                    let role = role(&m.role);
                    let status = if deleted(&m.recstatus) || deleted(&r.recstatus) {
                        "deleted"
                    } else if m.status.trim() == "0" {
                        "inactive"
                    } else {
                        "active"
                    };
                    let group = if in_section {
                        "section_id"
                    } else {
                        "course_id"
                    };
                    let fields = [
                        (group, r.id.as_str()),
                        ("user_id", m.id.as_str()),
                        ("role", role),
                        ("status", status),
                    ];
                    self.row("enrollment", &[&r.id, &m.id, role], &fields, r.line);
                }
            }
            _ => {}
        }
    }
}

/// A reader that counts the lines it has handed on (the line of the event just read, near
/// enough for a plan's examples).
struct LineCount<R> {
    inner: R,
    line: u64,
}

impl<R: BufRead> std::io::Read for LineCount<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.line += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCount<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(b) = self.inner.fill_buf() {
            self.line += b[..amt.min(b.len())]
                .iter()
                .filter(|c| **c == b'\n')
                .count() as u64;
        }
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::rows::BundleRows;

    #[test]
    fn the_sample_reads_as_users_terms_courses_sections_and_enrollments() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/ims/enterprise.xml");
        let f = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let mut out = BundleRows::default();
        read(f, "enterprise.xml", &mut out).unwrap();
        assert_eq!(out.terms, vec!["2026FA".to_string()]);
        let users = &out.kinds["user"];
        assert!(users.len() >= 10, "{}", users.len());
        assert_eq!(users[0].key_text, "T0000001");
        assert_eq!(users[0].line, 7);
        assert_eq!(users[0].status, "active");
        let sections = &out.kinds["section"];
        assert_eq!(sections[0].course_id.as_deref(), Some("2026FA-BIO101"));
        assert_eq!(out.kinds["course"][0].term.as_deref(), Some("2026FA"));
        let e = &out.kinds["enrollment"];
        assert_eq!(e[0].key_text, "2026FA-BIO101-01/T0000001/teacher");
        assert_eq!(e[0].section_id.as_deref(), Some("2026FA-BIO101-01"));
        assert_eq!(e[1].key_text, "2026FA-BIO101-01/S0000003/student");
    }

    #[test]
    fn recstatus_3_deletes_and_status_0_deactivates() {
        let xml = br#"<enterprise>
<group recstatus="3"><sourcedid><source>B</source><id>C1</id></sourcedid><grouptype><typevalue level="2">Course</typevalue></grouptype><description><short>C1</short></description></group>
<membership><sourcedid><source>B</source><id>C1</id></sourcedid>
<member><sourcedid><source>B</source><id>P1</id></sourcedid><idtype>1</idtype><role roletype="01"><status>0</status></role></member>
<member recstatus="3"><sourcedid><source>B</source><id>P2</id></sourcedid><idtype>1</idtype><role roletype="Instructor"><status>1</status></role></member>
</membership></enterprise>"#;
        let mut out = BundleRows::default();
        read(&xml[..], "x.xml", &mut out).unwrap();
        assert_eq!(out.kinds["course"][0].status, "deleted");
        let e = &out.kinds["enrollment"];
        assert_eq!(
            (e[0].status.as_str(), e[0].course_id.as_deref()),
            ("inactive", Some("C1"))
        );
        assert_eq!(
            (e[1].key_text.as_str(), e[1].status.as_str()),
            ("C1/P2/teacher", "deleted")
        );
    }
}
