//! Reading an upload the way hosted Canvas's `ims_xml` import does (reference §10.1), far
//! enough to count what it holds: IMS Enterprise 1.1 persons, groups and memberships
//! (§10.2). The simulator's own reader (quick-xml); it shares nothing with the client.
//!
//! The importer is closed source (§10.1: only the import type's name and `extension=xml`
//! are public, from `doc/api/data_services/md/dynamic/data_service_canvas_sis.md` in
//! instructure/canvas-lms). What keys it fills in `data.counts` is therefore not known;
//! this reports the CSV importer's keys (§3.1) for what each record becomes in Canvas:
//! a person → `users`; a group → `terms`, `courses` or `sections` by its
//! `grouptype/typevalue` (Banner/Luminis write `Term`, `Course`, `Section`; any other
//! value is counted as a course); a membership's member of idtype 1 (a person) →
//! `enrollments`. Nothing is applied to the store.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::content::{KINDS, Message, ScanResult};

/// Count the records of an IMS upload: one XML file, or the `.xml` entries of a zip (in
/// sorted path order, hidden files and `__MACOSX` skipped as §6.2 says of CSV bundles).
pub fn scan(path: &Path, ext: &str, error_report: u64) -> ScanResult {
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut messages = vec![];
    let broken = |n: u64| {
        // Assumed, as for a broken CSV upload (§5): the closed importer's text is unknown.
        Message::error(
            None,
            format!(
                "Error while importing IMS Enterprise XML. Please contact support. (Error report {n})"
            ),
            None,
        )
    };
    match ext.to_ascii_lowercase().as_str() {
        "xml" => match std::fs::File::open(path) {
            Ok(f) => {
                if count(BufReader::new(f), &mut counts).is_err() {
                    messages.push(broken(error_report));
                }
            }
            Err(_) => messages.push(broken(error_report)),
        },
        "zip" => {
            let Ok(mut z) = std::fs::File::open(path)
                .map_err(|_| ())
                .and_then(|f| zip::ZipArchive::new(BufReader::new(f)).map_err(|_| ()))
            else {
                messages.push(broken(error_report));
                return result(counts, messages);
            };
            let mut names: Vec<(String, usize)> = (0..z.len())
                .filter_map(|i| z.by_index_raw(i).ok().map(|e| (e.name().to_string(), i)))
                .filter(|(n, _)| {
                    n.to_ascii_lowercase().ends_with(".xml")
                        && !n.contains("__MACOSX")
                        && !n.split('/').any(|c| c.starts_with('.'))
                })
                .collect();
            names.sort();
            for (name, i) in names {
                let ok = z
                    .by_index(i)
                    .map_err(|_| ())
                    .and_then(|e| count(BufReader::new(e), &mut counts).map_err(|_| ()));
                if ok.is_err() {
                    messages.push(Message::error(
                        Some(&name),
                        format!("Error while importing IMS Enterprise XML. Please contact support. (Error report {error_report})"),
                        None,
                    ));
                }
            }
        }
        // §6.2: another extension is not read.
        _ => {}
    }
    result(counts, messages)
}

fn result(counts: BTreeMap<&'static str, u64>, messages: Vec<Message>) -> ScanResult {
    ScanResult {
        supplied: KINDS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| counts.contains_key(k))
            .collect(),
        counts,
        messages,
        files: vec![],
    }
}

/// One IMS Enterprise document: count its records; Err when it is not well formed or not
/// IMS Enterprise (root `enterprise`, §10.2).
fn count<R: BufRead>(r: R, counts: &mut BTreeMap<&'static str, u64>) -> Result<(), ()> {
    let mut rd = Reader::from_reader(r);
    let mut buf = vec![];
    let mut path: Vec<Vec<u8>> = vec![];
    let mut text = String::new();
    let mut group_type = String::new();
    let mut idtype = String::new();
    let add = |k: &'static str, counts: &mut BTreeMap<&'static str, u64>| {
        *counts.entry(k).or_insert(0) += 1;
    };
    loop {
        buf.clear();
        match rd.read_event_into(&mut buf).map_err(|_| ())? {
            Event::Start(e) => {
                if path.is_empty() && e.local_name().as_ref() != b"enterprise" {
                    return Err(());
                }
                path.push(e.local_name().as_ref().to_vec());
                text.clear();
                if path.len() == 2 && path[1] == b"group" {
                    group_type.clear();
                }
                if path.len() == 3 && path[2] == b"member" {
                    idtype.clear();
                }
            }
            Event::Empty(e) => {
                if path.is_empty() && e.local_name().as_ref() != b"enterprise" {
                    return Err(());
                }
                if path.len() == 1 && e.local_name().as_ref() == b"person" {
                    add("user", counts);
                }
            }
            Event::Text(t) => {
                if let Ok(s) = t.unescape() {
                    text.push_str(&s);
                }
            }
            Event::End(_) => {
                let name = path.pop().ok_or(())?;
                let depth = path.len();
                match (depth, name.as_slice()) {
                    (1, b"person") => add("user", counts),
                    (1, b"group") => {
                        let t = group_type.trim().to_ascii_lowercase();
                        add(
                            if t.contains("term") {
                                "term"
                            } else if t.contains("section") {
                                "section"
                            } else {
                                "course"
                            },
                            counts,
                        )
                    }
                    (3, b"typevalue") if path[1] == b"group" => group_type = text.clone(),
                    (3, b"idtype") if path[2] == b"member" => idtype = text.clone(),
                    (2, b"member") if path[1] == b"membership" && idtype.trim() == "1" => {
                        add("enrollment", counts)
                    }
                    _ => {}
                }
                text.clear();
            }
            Event::DocType(_) => return Err(()),
            Event::Eof => return if path.is_empty() { Ok(()) } else { Err(()) },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_persons_groups_and_member_persons() {
        let x = br#"<?xml version="1.0"?>
<enterprise>
  <person><sourcedid><source>s</source><id>p1</id></sourcedid></person>
  <person/>
  <group><grouptype><typevalue level="1">Term</typevalue></grouptype></group>
  <group><grouptype><typevalue level="2">Course</typevalue></grouptype></group>
  <group><grouptype><typevalue level="3">Section</typevalue></grouptype></group>
  <membership><sourcedid><id>g</id></sourcedid>
    <member><sourcedid><id>p1</id></sourcedid><idtype>1</idtype></member>
    <member><sourcedid><id>g2</id></sourcedid><idtype>2</idtype></member>
  </membership>
</enterprise>"#;
        let mut c = BTreeMap::new();
        count(&x[..], &mut c).unwrap();
        assert_eq!(c["user"], 2);
        assert_eq!((c["term"], c["course"], c["section"]), (1, 1, 1));
        assert_eq!(c["enrollment"], 1);
        assert!(count(&b"<root/>"[..], &mut BTreeMap::new()).is_err());
        assert!(
            count(
                &b"<!DOCTYPE x [<!ENTITY a 'b'>]><enterprise/>"[..],
                &mut BTreeMap::new()
            )
            .is_err()
        );
    }
}
