//! The declarative table of IMS Enterprise 1.1 rules (reference §10.2; the IMS Enterprise
//! Information Model and XML Binding v1.1, `ims_epv1p1`): which elements the checks know,
//! the order and the children the binding requires, the codes a value must be one of, and
//! every diagnostic the XML validator gives, with its severity, the spec it comes from and
//! what to do about it.
//!
//! Adding a check of a value is one row of [`VALUES`]; a required child, one row of
//! [`REQUIRED`]; an order, one row of [`ORDER`]. The engine in `mod.rs` reads these tables
//! and knows no element by name except through [`Tag`].

use crate::validate::Severity;

/// The elements the rules name (by local name; a namespace prefix is ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    Enterprise = 0,
    Comments,
    Properties,
    Datetime,
    Person,
    Group,
    Membership,
    Sourcedid,
    Source,
    Id,
    Userid,
    Name,
    Description,
    Short,
    Member,
    Idtype,
    Role,
    Status,
    Timeframe,
    Begin,
    End,
    Relationship,
    /// Any element the rules do not name (`email`, `grouptype`, `extension`, …).
    Other,
}

impl Tag {
    pub fn of(local: &[u8]) -> Tag {
        match local {
            b"enterprise" => Tag::Enterprise,
            b"comments" => Tag::Comments,
            b"properties" => Tag::Properties,
            b"datetime" => Tag::Datetime,
            b"person" => Tag::Person,
            b"group" => Tag::Group,
            b"membership" => Tag::Membership,
            b"sourcedid" => Tag::Sourcedid,
            b"source" => Tag::Source,
            b"id" => Tag::Id,
            b"userid" => Tag::Userid,
            b"name" => Tag::Name,
            b"description" => Tag::Description,
            b"short" => Tag::Short,
            b"member" => Tag::Member,
            b"idtype" => Tag::Idtype,
            b"role" => Tag::Role,
            b"status" => Tag::Status,
            b"timeframe" => Tag::Timeframe,
            b"begin" => Tag::Begin,
            b"end" => Tag::End,
            b"relationship" => Tag::Relationship,
            _ => Tag::Other,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tag::Enterprise => "enterprise",
            Tag::Comments => "comments",
            Tag::Properties => "properties",
            Tag::Datetime => "datetime",
            Tag::Person => "person",
            Tag::Group => "group",
            Tag::Membership => "membership",
            Tag::Sourcedid => "sourcedid",
            Tag::Source => "source",
            Tag::Id => "id",
            Tag::Userid => "userid",
            Tag::Name => "name",
            Tag::Description => "description",
            Tag::Short => "short",
            Tag::Member => "member",
            Tag::Idtype => "idtype",
            Tag::Role => "role",
            Tag::Status => "status",
            Tag::Timeframe => "timeframe",
            Tag::Begin => "begin",
            Tag::End => "end",
            Tag::Relationship => "relationship",
            Tag::Other => "(other)",
        }
    }

    pub fn bit(self) -> u32 {
        1 << (self as u8)
    }

    /// The elements whose text a rule reads (kept while the element is open).
    pub fn keeps_text(self) -> bool {
        matches!(
            self,
            Tag::Source
                | Tag::Id
                | Tag::Idtype
                | Tag::Status
                | Tag::Begin
                | Tag::End
                | Tag::Datetime
        )
    }
}

/// The children of `parent` in the order the binding gives them. With `closed`, a child not
/// listed is an error (`ims_unknown_element`); else it may come anywhere.
pub struct Order {
    pub parent: Tag,
    pub children: &'static [Tag],
    pub closed: bool,
    pub spec: &'static str,
}

pub const ORDER: &[Order] = &[
    Order {
        parent: Tag::Enterprise,
        children: &[
            Tag::Comments,
            Tag::Properties,
            Tag::Person,
            Tag::Group,
            Tag::Membership,
        ],
        closed: true,
        spec: "§10.2; binding: enterprise (comments?, properties, person*, group*, membership*)",
    },
    Order {
        parent: Tag::Sourcedid,
        children: &[Tag::Source, Tag::Id],
        closed: false,
        spec: "§10.2; binding: sourcedid (sourcedidtype?, source, id)",
    },
    Order {
        parent: Tag::Member,
        children: &[Tag::Sourcedid, Tag::Idtype, Tag::Role],
        closed: false,
        spec: "§10.2; binding: member (comments?, sourcedid, idtype, role+)",
    },
];

/// `parent` must hold one of `any_of` (`within`: only when `parent` sits in that element).
pub struct Required {
    pub parent: Tag,
    pub within: Option<Tag>,
    pub any_of: &'static [Tag],
    pub spec: &'static str,
}

pub const REQUIRED: &[Required] = &[
    req(
        Tag::Person,
        &[Tag::Sourcedid],
        "§10.2; binding: person (sourcedid+, …)",
    ),
    req(
        Tag::Person,
        &[Tag::Userid, Tag::Name],
        "§10.2; a person needs a login (userid) or a name",
    ),
    req(
        Tag::Group,
        &[Tag::Sourcedid],
        "§10.2; binding: group (sourcedid+, …)",
    ),
    req(
        Tag::Group,
        &[Tag::Description],
        "§10.2; binding: group (…, description, …)",
    ),
    req(
        Tag::Description,
        &[Tag::Short],
        "§10.2; binding: description (short, long?, full?)",
    ),
    req(
        Tag::Membership,
        &[Tag::Sourcedid],
        "§10.2; binding: membership (sourcedid, member*)",
    ),
    req(
        Tag::Sourcedid,
        &[Tag::Source],
        "§10.2; binding: sourcedid (…, source, id)",
    ),
    req(
        Tag::Sourcedid,
        &[Tag::Id],
        "§10.2; binding: sourcedid (…, source, id)",
    ),
    req(
        Tag::Member,
        &[Tag::Sourcedid],
        "§10.2; binding: member (sourcedid, idtype, role+)",
    ),
    req(
        Tag::Member,
        &[Tag::Idtype],
        "§10.2; binding: member (sourcedid, idtype, role+)",
    ),
    req(
        Tag::Member,
        &[Tag::Role],
        "§10.2; binding: member (sourcedid, idtype, role+)",
    ),
    Required {
        parent: Tag::Role,
        within: Some(Tag::Member),
        any_of: &[Tag::Status],
        spec: "§10.2; binding: role (…, status, …)",
    },
    req(
        Tag::Relationship,
        &[Tag::Sourcedid],
        "§10.2; binding: relationship (sourcedid, label)",
    ),
];

const fn req(parent: Tag, any_of: &'static [Tag], spec: &'static str) -> Required {
    Required {
        parent,
        within: None,
        any_of,
        spec,
    }
}

/// How a value is checked.
#[derive(Clone, Copy)]
pub enum Check {
    /// One of these, exactly (after trimming).
    OneOf(&'static [&'static str]),
    /// An ISO 8601 date, or date and time (`2026-08-24`, `2026-08-24T08:00:00Z`).
    Iso8601,
}

impl Check {
    pub fn passes(self, v: &str) -> bool {
        match self {
            Check::OneOf(set) => set.contains(&v),
            Check::Iso8601 => iso8601(v),
        }
    }
}

/// A value rule: the text of element `tag` (or its attribute `attr`) inside `parent`.
pub struct ValueRule {
    /// The element; `None` with an attribute: any element that carries it.
    pub tag: Option<Tag>,
    pub attr: Option<&'static str>,
    pub parent: Option<Tag>,
    pub check: Check,
    pub code: &'static str,
    pub what: &'static str,
    pub hint: &'static str,
    pub spec: &'static str,
}

const RECSTATUS: &[&str] = &["1", "2", "3"];
/// §10.2: the 1.1 XSD accepts the two-digit codes and the role names.
pub const ROLETYPES: &[&str] = &[
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "07",
    "08",
    "Learner",
    "Instructor",
    "Content Developer",
    "Member",
    "Manager",
    "Mentor",
    "Administrator",
    "TeachingAssistant",
];

pub const VALUES: &[ValueRule] = &[
    ValueRule {
        tag: None,
        attr: Some("recstatus"),
        parent: None,
        check: Check::OneOf(RECSTATUS),
        code: "invalid_recstatus",
        what: "recstatus",
        hint: "use 1 (add), 2 (update) or 3 (delete), or leave it out",
        spec: "§10.2; binding: recstatus (1 | 2 | 3)",
    },
    ValueRule {
        tag: Some(Tag::Idtype),
        attr: None,
        parent: Some(Tag::Member),
        check: Check::OneOf(&["1", "2"]),
        code: "invalid_idtype",
        what: "idtype",
        hint: "use 1 (a person) or 2 (a group)",
        spec: "§10.2; binding: member/idtype (1 person, 2 group)",
    },
    ValueRule {
        tag: Some(Tag::Role),
        attr: Some("roletype"),
        parent: Some(Tag::Member),
        check: Check::OneOf(ROLETYPES),
        code: "invalid_roletype",
        what: "roletype",
        hint: "use 01 Learner, 02 Instructor, 03 Content Developer, 04 Member, 05 Manager, 06 Mentor, 07 Administrator or 08 TeachingAssistant (the code or the name)",
        spec: "§10.2; XSD: role/@roletype",
    },
    ValueRule {
        tag: Some(Tag::Status),
        attr: None,
        parent: Some(Tag::Role),
        check: Check::OneOf(&["0", "1"]),
        code: "invalid_role_status",
        what: "role status",
        hint: "use 1 (active) or 0 (inactive)",
        spec: "§10.2; binding: role/status (1 active, 0 inactive)",
    },
    ValueRule {
        tag: Some(Tag::Begin),
        attr: None,
        parent: Some(Tag::Timeframe),
        check: Check::Iso8601,
        code: "invalid_date",
        what: "timeframe begin",
        hint: "write an ISO 8601 date, e.g. 2026-08-24 or 2026-08-24T08:00:00Z",
        spec: "§10.2; binding: timeframe/begin (ISO 8601)",
    },
    ValueRule {
        tag: Some(Tag::End),
        attr: None,
        parent: Some(Tag::Timeframe),
        check: Check::Iso8601,
        code: "invalid_date",
        what: "timeframe end",
        hint: "write an ISO 8601 date, e.g. 2026-12-18 or 2026-12-18T23:59:59Z",
        spec: "§10.2; binding: timeframe/end (ISO 8601)",
    },
    ValueRule {
        tag: Some(Tag::Datetime),
        attr: None,
        parent: Some(Tag::Properties),
        check: Check::Iso8601,
        code: "invalid_date",
        what: "properties datetime",
        hint: "write an ISO 8601 date and time, e.g. 2026-08-01T02:00:00",
        spec: "§10.2; binding: properties/datetime (ISO 8601)",
    },
];

/// Every diagnostic the XML validator gives: code, severity, where the rule comes from.
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    pub spec: &'static str,
}

use Severity::{Error, Warning};

#[rustfmt::skip]
pub const RULES: &[Rule] = &[
    Rule { code: "xml_malformed", severity: Error, spec: "XML 1.0 section 2.1 well-formed documents" },
    Rule { code: "xml_doctype_entities", severity: Error, spec: "XML 1.0 section 4.2 entity declarations: refused, never expanded or fetched (billion laughs, XXE)" },
    Rule { code: "xml_encoding_mismatch", severity: Error, spec: "XML 1.0 section 4.3.3 character encoding in entities" },
    Rule { code: "xml_encoding_suspect", severity: Warning, spec: "XML 1.0 section 4.3.3: an 8-bit declaration over text that is valid multi-byte UTF-8 (mojibake once imported)" },
    Rule { code: "xml_unsupported_encoding", severity: Error, spec: "XML 1.0 section 4.3.3; the validator reads UTF-8 and 8-bit encodings only" },
    Rule { code: "xml_invalid_char", severity: Error, spec: "XML 1.0 section 2.2 characters: Char excludes C0 controls other than tab, line feed and carriage return" },
    Rule { code: "invalid_utf8", severity: Error, spec: "XML 1.0 section 4.3.3: bytes that are not UTF-8 under a UTF-8 (or absent) declaration" },
    Rule { code: "xml_node_too_large", severity: Error, spec: "memory bound: one tag, text or comment over MAX_NODE bytes" },
    Rule { code: "xml_too_deep", severity: Error, spec: "memory bound: nesting deeper than MAX_DEPTH (the binding nests 6 deep)" },
    Rule { code: "not_ims_enterprise", severity: Error, spec: "§10.2: the root element is enterprise" },
    Rule { code: "ims_order", severity: Error, spec: "§10.2: the binding's element order (ORDER)" },
    Rule { code: "ims_unknown_element", severity: Error, spec: "§10.2: enterprise holds only comments, properties, person, group, membership" },
    Rule { code: "ims_missing_element", severity: Error, spec: "§10.2: required children (REQUIRED)" },
    Rule { code: "missing_roletype", severity: Error, spec: "§10.2; binding: role roletype #REQUIRED" },
    Rule { code: "invalid_recstatus", severity: Error, spec: "§10.2 (VALUES)" },
    Rule { code: "invalid_idtype", severity: Error, spec: "§10.2 (VALUES)" },
    Rule { code: "invalid_roletype", severity: Error, spec: "§10.2 (VALUES)" },
    Rule { code: "invalid_role_status", severity: Error, spec: "§10.2 (VALUES)" },
    Rule { code: "invalid_date", severity: Error, spec: "§10.2 (VALUES)" },
    Rule { code: "empty_sourcedid", severity: Error, spec: "§10.2: every sourcedid has a source and an id; an empty one names no record" },
    Rule { code: "end_before_start", severity: Error, spec: "§10.2: a timeframe (a term's or course's dates, a role's) whose end is before its begin; as OneRoster's end_before_start" },
    Rule { code: "duplicate_sourcedid", severity: Warning, spec: "§10.2: one record per sourcedid and kind; the later one wins, as a later CSV row does (§6.4)" },
    Rule { code: "delete_and_add", severity: Error, spec: "§10.2: recstatus 3 deletes what another record of the same file adds or updates; which wins depends on order" },
    Rule { code: "unknown_reference", severity: Warning, spec: "§10.2: a membership's group and members, a relationship's target, not in this file (it may exist in Canvas)" },
];

pub fn severity(code: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.code == code)
        .map(|r| r.severity)
        .unwrap_or_else(|| panic!("{code} is not in xml::rules::RULES"))
}

// ---- ISO 8601 ---------------------------------------------------------------------------

/// Whether ISO 8601 value `end` is before `begin` (both valid): by calendar day, and by
/// time of day too when both give one in the same form (a zone on one and not the other
/// cannot be compared).
pub fn ends_before(begin: &str, end: &str) -> bool {
    let day = |v: &str| -> String {
        v.bytes()
            .filter(u8::is_ascii_digit)
            .take(8)
            .map(char::from)
            .collect()
    };
    let (b, e) = (day(begin), day(end));
    if e != b {
        return e < b;
    }
    // Same day: compare the times when both have one and the same zone suffix.
    let split = |v: &str| -> Option<(String, String)> {
        let t = v.get(
            if v.as_bytes().get(4) == Some(&b'-') {
                10
            } else {
                8
            }..,
        )?;
        let t = t.get(1..)?;
        let z = t.find(['Z', '+', '-']).unwrap_or(t.len());
        Some((t[..z].to_string(), t[z..].to_string()))
    };
    match (split(begin), split(end)) {
        (Some((tb, zb)), Some((te, ze))) if zb == ze => te < tb,
        _ => false,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD` (or `YYYYMMDD`), optionally `T` (or a space) and `hh:mm[:ss[.f]]`, then
/// optionally `Z` or `±hh[:mm]`; the calendar is checked.
pub fn iso8601(v: &str) -> bool {
    let b = v.as_bytes();
    let (date, rest) = if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        ((&b[0..4], &b[5..7], &b[8..10]), &b[10..])
    } else if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
        ((&b[0..4], &b[4..6], &b[6..8]), &b[8..])
    } else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits(date.0), digits(date.1), digits(date.2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    if d == 0 || d > days {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    if rest[0] != b'T' && rest[0] != b' ' {
        return false;
    }
    time(&rest[1..])
}

fn time(b: &[u8]) -> bool {
    if b.len() < 5 || b[2] != b':' {
        return false;
    }
    let (Some(h), Some(mi)) = (digits(&b[0..2]), digits(&b[3..5])) else {
        return false;
    };
    if h > 24 || mi > 59 {
        return false;
    }
    let mut r = &b[5..];
    if r.first() == Some(&b':') {
        match r.get(1..3).and_then(digits) {
            Some(s) if s <= 60 => r = &r[3..],
            _ => return false,
        }
        if r.first() == Some(&b'.') || r.first() == Some(&b',') {
            let n = r[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return false;
            }
            r = &r[1 + n..];
        }
    }
    match r {
        [] | [b'Z'] => true,
        [b'+' | b'-', z @ ..] => match z {
            [a, b2] => digits(&[*a, *b2]).is_some_and(|h| h <= 14),
            [a, b2, b':', c, d] | [a, b2, c, d] => {
                digits(&[*a, *b2]).is_some_and(|h| h <= 14)
                    && digits(&[*c, *d]).is_some_and(|m| m <= 59)
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        for ok in [
            "2026-08-24",
            "20260824",
            "2024-02-29",
            "2026-08-24T08:00",
            "2026-08-24T08:00:00Z",
            "2026-08-24T08:00:00.123+02:00",
            "2026-08-24 08:00:00-0500",
        ] {
            assert!(iso8601(ok), "{ok}");
        }
        for bad in [
            "",
            "08/24/2026",
            "2026-13-01",
            "2025-02-29",
            "2026-08-24T",
            "2026-08-24T8:00",
            "2026-08-24x",
            "2026-08-24T08:00:00+2",
            "Aug 24 2026",
        ] {
            assert!(!iso8601(bad), "{bad}");
        }
    }

    #[test]
    fn every_value_rule_code_is_a_rule() {
        for v in VALUES {
            let _ = severity(v.code);
            assert!(v.spec.starts_with('§'), "{}", v.code);
        }
        for r in REQUIRED {
            assert!(r.spec.starts_with('§'));
        }
    }
}
