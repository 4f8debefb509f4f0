//! The provisioning report (`provisioning_csv`, §10.3): an `AccountReport` that moves
//! created → running → complete over polls and then serves one CSV per kind asked for, with
//! the columns of the provisioning (not SIS-export) format of
//! gems/plugins/account_reports/lib/account_reports/sis_exporter.rb, read from the store.

use std::io::Write;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::store::{Ctx, Store, sis_role};
use crate::wire::ts;

/// `SIS_CSV_REPORTS` (sis_exporter.rb), in the order the files are made.
pub(crate) const SIS_CSV_REPORTS: &[&str] = &[
    "users",
    "accounts",
    "terms",
    "courses",
    "sections",
    "enrollments",
    "groups",
    "group_membership",
    "group_categories",
    "xlist",
    "user_observers",
    "admins",
];

/// Show-polls a report takes: created → running (0) → running (50) → complete.
pub(crate) const POLLS_TO_COMPLETE: u32 = 3;

pub(crate) struct ReportFile {
    pub id: u64,
    pub filename: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

pub(crate) struct Report {
    pub id: u64,
    /// `parameters` as sent (strings), plus `extra_text` once it has run.
    pub parameters: Map<String, Value>,
    pub status: &'static str,
    pub progress: u32,
    pub polls: u32,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    pub current_line: Option<u64>,
    pub file: Option<ReportFile>,
}

impl Report {
    pub fn new(id: u64, parameters: Map<String, Value>, t: Timestamp) -> Self {
        Report {
            id,
            parameters,
            status: "created",
            progress: 0,
            polls: 0,
            created_at: t,
            started_at: None,
            ended_at: None,
            current_line: None,
            file: None,
        }
    }

    /// `account_report_json` (lib/api/v1/account_report.rb): `id`, `progress`, `parameters`,
    /// `current_line`, `status`, `report`, the times, `file_url` and, once there is a file,
    /// `attachment` (`attachment_json`). `file_url` is `account_file_download_url` on this
    /// API host; the attachment's `url` is on the files host.
    pub fn json(&self, api_url: &str, files_url: &str) -> Value {
        let mut o = json!({
            "id": self.id, "progress": self.progress, "parameters": self.parameters,
            "current_line": self.current_line, "status": self.status,
            "report": "provisioning_csv", "created_at": ts(self.created_at),
            "started_at": self.started_at.map(ts), "ended_at": self.ended_at.map(ts),
            "file_url": null,
        });
        if let Some(f) = &self.file {
            let when = ts(self.ended_at.unwrap_or(self.created_at));
            o["file_url"] = json!(format!("{api_url}/accounts/1/files/{}/download", f.id));
            o["attachment"] = json!({
                "id": f.id, "uuid": format!("fake-uuid-{}", f.id), "folder_id": null,
                "display_name": f.filename, "filename": f.filename, "upload_status": "success",
                "content-type": f.content_type,
                "url": format!("{files_url}/files/{}/download?download_frd=1&verifier={}",
                               f.id, crate::wire::verifier(f.id)),
                "size": f.bytes.len(), "created_at": when, "updated_at": when,
                "unlock_at": null, "locked": false, "hidden": false, "lock_at": null,
                "hidden_for_user": false, "thumbnail_url": null, "modified_at": when,
                "mime_class": if f.content_type == "text/csv" { "file" } else { "zip" },
                "media_entry_id": null, "category": "uncategorized", "locked_for_user": false,
            });
        }
        o
    }
}

fn param<'a>(p: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    p.get(k)
        .and_then(Value::as_str)
        .filter(|v| !v.trim().is_empty())
}

/// The report's choices, read as sis_exporter.rb and report_helper.rb read them.
pub(crate) struct Choices {
    pub kinds: Vec<&'static str>,
    pub term: Option<u64>,
    pub term_name: String,
    /// `@created_by_sis = parameters["created_by_sis"]`: any value given turns it on, even
    /// `false` (the parameter is not read as a boolean).
    pub created_by_sis: bool,
    pub include_deleted: bool,
}

/// Err: the term given does not exist (`api_find` raises; the report ends in `error`).
pub(crate) fn choices(store: &Store, p: &Map<String, Value>) -> Result<Choices, ()> {
    let b = |k: &str| param(p, k).is_some_and(crate::wire::value_to_boolean);
    let kinds = SIS_CSV_REPORTS.iter().copied().filter(|k| b(k)).collect();
    let (term, term_name) =
        match param(p, "enrollment_term_id").or_else(|| param(p, "enrollment_term")) {
            Some(t) => {
                let t = store.find_term(t).ok_or(())?;
                (Some(t.id), t.name.clone())
            }
            None => (None, "All Terms".to_string()),
        };
    Ok(Choices {
        kinds,
        term,
        term_name,
        created_by_sis: p.get("created_by_sis").is_some_and(|v| !v.is_null()),
        include_deleted: b("include_deleted"),
    })
}

/// `extra_text` as report_helper.rb builds it (`extra_text_term`, `include_deleted_objects`,
/// then sis_exporter.rb's "Reports: …").
pub(crate) fn extra_text(c: &Choices) -> String {
    let mut t = format!("Term: {};", c.term_name);
    if c.include_deleted {
        t.push_str(" Include Deleted Objects;");
    }
    t.push_str(" Reports: ");
    for k in &c.kinds {
        t.push_str(k);
        t.push(' ');
    }
    t
}

/// `User.name_parts(sortable_name, likely_already_surname_first: true)` (app/models/user.rb):
/// "Last, First" → (First, Last); a name without a comma → its last word is the surname.
fn name_parts(sortable: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = sortable.trim().splitn(3, ',').map(str::trim).collect();
    let (surname, given) = match parts.as_slice() {
        [s, g, rest @ ..] => (
            Some(s.to_string()),
            std::iter::once(*g)
                .chain(rest.iter().copied())
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => (None, sortable.trim().to_string()),
    };
    let mut given: Vec<&str> = given.split_whitespace().collect();
    let surname = surname
        .filter(|s| !s.is_empty())
        .or_else(|| (given.len() > 1).then(|| given.pop().unwrap_or_default().to_string()));
    let first = (!given.is_empty()).then(|| given.join(" "));
    (first, surname)
}

fn b(v: bool) -> String {
    v.to_string()
}
fn n(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}
fn s(v: Option<&String>) -> String {
    v.cloned().unwrap_or_default()
}
fn d(v: Option<Timestamp>) -> String {
    v.map(ts).unwrap_or_default()
}

/// One kind's CSV (Ruby CSV writes nil as an empty field and quotes only when needed).
pub(crate) fn csv_for(store: &Store, kind: &str, c: &Choices) -> (String, u64) {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut lines = 1u64;
    let mut put = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| {
        let _ = w.write_record(&row);
        lines += 1;
    };
    let in_term = |t: u64| c.term.is_none_or(|x| x == t);
    let sis = |batch: Option<u64>| !c.created_by_sis || batch.is_some();
    match kind {
        "users" => {
            let _ = w.write_record([
                "canvas_user_id",
                "user_id",
                "integration_id",
                "authentication_provider_id",
                "login_id",
                "first_name",
                "last_name",
                "full_name",
                "sortable_name",
                "short_name",
                "email",
                "status",
                "created_by_sis",
            ]);
            for l in &store.logins {
                let keep = if c.include_deleted {
                    l.state != "deleted" || l.sis.is_some()
                } else {
                    l.state != "deleted"
                };
                if !keep || !sis(l.batch) {
                    continue;
                }
                let Some(u) = store.user(l.user) else {
                    continue;
                };
                let (first, last) = name_parts(&u.sortable_name);
                put(
                    &mut w,
                    vec![
                        u.id.to_string(),
                        s(l.sis.as_ref()),
                        s(l.integration_id.as_ref()),
                        s(l.auth_provider.as_ref()),
                        l.unique_id.clone(),
                        first.unwrap_or_default(),
                        last.unwrap_or_default(),
                        u.name.clone(),
                        u.sortable_name.clone(),
                        s(u.short_name.as_ref()),
                        s(u.email.as_ref()),
                        l.state.clone(),
                        b(l.batch.is_some()),
                    ],
                );
            }
        }
        "accounts" => {
            let _ = w.write_record([
                "canvas_account_id",
                "account_id",
                "canvas_parent_id",
                "parent_account_id",
                "name",
                "status",
                "created_by_sis",
            ]);
            // Joined to its parent: the root account has none and is not listed.
            for a in &store.accounts {
                let Some(p) = a.parent.and_then(|p| store.account(p)) else {
                    continue;
                };
                let keep = if c.include_deleted {
                    a.state != "deleted" || a.sis.is_some()
                } else {
                    a.state != "deleted"
                };
                if !keep || !sis(a.batch) {
                    continue;
                }
                put(
                    &mut w,
                    vec![
                        a.id.to_string(),
                        s(a.sis.as_ref()),
                        p.id.to_string(),
                        s(p.sis.as_ref()),
                        a.name.clone(),
                        a.state.clone(),
                        b(a.batch.is_some()),
                    ],
                );
            }
        }
        "terms" => {
            let _ = w.write_record([
                "canvas_term_id",
                "term_id",
                "name",
                "status",
                "start_date",
                "end_date",
                "created_by_sis",
            ]);
            for t in &store.terms {
                let keep = if c.include_deleted {
                    t.state != "deleted" || t.sis.is_some()
                } else {
                    t.state != "deleted"
                };
                if !keep || !sis(t.batch) {
                    continue;
                }
                put(
                    &mut w,
                    vec![
                        t.id.to_string(),
                        s(t.sis.as_ref()),
                        t.name.clone(),
                        t.state.clone(),
                        d(t.start),
                        d(t.end),
                        b(t.batch.is_some()),
                    ],
                );
            }
        }
        "courses" => {
            let _ = w.write_record([
                "canvas_course_id",
                "course_id",
                "integration_id",
                "short_name",
                "long_name",
                "canvas_account_id",
                "account_id",
                "canvas_term_id",
                "term_id",
                "status",
                "start_date",
                "end_date",
                "course_format",
                "canvas_blueprint_course_id",
                "blueprint_course_id",
                "created_by_sis",
            ]);
            for x in &store.courses {
                // With include_deleted every course qualifies (a deleted one within 120 days
                // or with an SIS id); without it, neither deleted nor concluded ones.
                if !c.include_deleted && matches!(x.state.as_str(), "deleted" | "completed") {
                    continue;
                }
                if !sis(x.batch) || !in_term(x.term) {
                    continue;
                }
                let state = match x.state.as_str() {
                    "claimed" | "created" => "unpublished",
                    "completed" => "concluded",
                    "available" => "active",
                    other => other,
                };
                let acct = store.account(x.account);
                let term = store.term(x.term);
                let (start, end) = if x.restrict {
                    (d(x.start), d(x.end))
                } else {
                    (String::new(), String::new())
                };
                put(
                    &mut w,
                    vec![
                        x.id.to_string(),
                        s(x.sis.as_ref()),
                        s(x.integration_id.as_ref()),
                        x.short_name.clone(),
                        x.long_name.clone(),
                        x.account.to_string(),
                        s(acct.and_then(|a| a.sis.as_ref())),
                        x.term.to_string(),
                        s(term.and_then(|t| t.sis.as_ref())),
                        state.to_string(),
                        start,
                        end,
                        s(x.course_format.as_ref()),
                        String::new(),
                        String::new(),
                        b(x.batch.is_some()),
                    ],
                );
            }
        }
        "sections" => {
            let _ = w.write_record([
                "canvas_section_id",
                "section_id",
                "canvas_course_id",
                "course_id",
                "integration_id",
                "name",
                "status",
                "start_date",
                "end_date",
                "canvas_account_id",
                "account_id",
                "created_by_sis",
            ]);
            // Joined to the course it lives in now (`rc`) and that course's account.
            for x in &store.sections {
                let Some(rc) = store.course(x.course) else {
                    continue;
                };
                let keep = if c.include_deleted {
                    x.state != "deleted" || (x.sis.is_some() && rc.sis.is_some())
                } else {
                    x.state != "deleted" && rc.state != "deleted"
                };
                if !keep || !sis(x.batch) || !in_term(rc.term) {
                    continue;
                }
                let acct = store.account(rc.account);
                let (start, end) = if x.restrict {
                    (d(x.start), d(x.end))
                } else {
                    (String::new(), String::new())
                };
                put(
                    &mut w,
                    vec![
                        x.id.to_string(),
                        s(x.sis.as_ref()),
                        rc.id.to_string(),
                        s(rc.sis.as_ref()),
                        s(x.integration_id.as_ref()),
                        x.name.clone(),
                        x.state.clone(),
                        start,
                        end,
                        rc.account.to_string(),
                        s(acct.and_then(|a| a.sis.as_ref())),
                        b(x.batch.is_some()),
                    ],
                );
            }
        }
        "enrollments" => {
            let _ = w.write_record([
                "canvas_course_id",
                "course_id",
                "canvas_user_id",
                "user_id",
                "role",
                "role_id",
                "canvas_section_id",
                "section_id",
                "status",
                "canvas_associated_user_id",
                "associated_user_id",
                "created_by_sis",
                "base_role_type",
                "limit_section_privileges",
                "canvas_enrollment_id",
            ]);
            for e in &store.enrollments {
                // Joined through the section to the section's course.
                let Some(cs) = store.section(e.section) else {
                    continue;
                };
                let Some(course) = store.course(cs.course) else {
                    continue;
                };
                let keep = if c.include_deleted {
                    e.state != "deleted" || e.batch.is_some()
                } else {
                    !matches!(e.state.as_str(), "deleted" | "completed")
                };
                if !keep || !sis(e.batch) || !in_term(course.term) {
                    continue;
                }
                let Some(p) = store.sis_login(e.user, e.sis_pseudonym, c.include_deleted) else {
                    continue;
                };
                let state = if cs.state == "deleted" || course.state == "deleted" {
                    "deleted"
                } else {
                    match e.state.as_str() {
                        "creation_pending" | "invited" => "invited",
                        "completed" => "concluded",
                        other => other,
                    }
                };
                let assoc_sis = e
                    .assoc
                    .and_then(|a| store.sis_login(a, None, c.include_deleted))
                    .and_then(|l| l.sis.clone());
                put(
                    &mut w,
                    vec![
                        e.course.to_string(),
                        s(course.sis.as_ref()),
                        e.user.to_string(),
                        s(p.sis.as_ref()),
                        sis_role(e.kind).to_string(),
                        e.role_id.to_string(),
                        e.section.to_string(),
                        s(cs.sis.as_ref()),
                        state.to_string(),
                        n(e.assoc),
                        s(assoc_sis.as_ref()),
                        b(e.batch.is_some()),
                        e.kind.to_string(),
                        b(e.limit),
                        e.id.to_string(),
                    ],
                );
            }
        }
        "groups" => {
            let _ = w.write_record([
                "canvas_group_id",
                "group_id",
                "canvas_group_category_id",
                "group_category_id",
                "canvas_account_id",
                "account_id",
                "canvas_course_id",
                "course_id",
                "name",
                "status",
                "created_by_sis",
                "context_id",
                "context_type",
                "max_membership",
            ]);
            for g in &store.groups {
                let keep = if c.include_deleted {
                    g.state != "deleted" || g.sis.is_some()
                } else {
                    g.state != "deleted"
                };
                if !keep || !sis(g.batch) {
                    continue;
                }
                let cat = g
                    .category
                    .and_then(|id| store.categories.iter().find(|x| x.id == id));
                let (acct, acct_sis, course, course_sis, ctx_id, ctx_type) = match g.context {
                    Ctx::Account(a) => (
                        a.to_string(),
                        s(store.account(a).and_then(|x| x.sis.as_ref())),
                        String::new(),
                        String::new(),
                        a,
                        "Account",
                    ),
                    Ctx::Course(cid) => (
                        String::new(),
                        String::new(),
                        cid.to_string(),
                        s(store.course(cid).and_then(|x| x.sis.as_ref())),
                        cid,
                        "Course",
                    ),
                };
                put(
                    &mut w,
                    vec![
                        g.id.to_string(),
                        s(g.sis.as_ref()),
                        n(g.category),
                        s(cat.and_then(|x| x.sis.as_ref())),
                        acct,
                        acct_sis,
                        course,
                        course_sis,
                        g.name.clone(),
                        g.state.clone(),
                        b(g.batch.is_some()),
                        ctx_id.to_string(),
                        ctx_type.to_string(),
                        String::new(),
                    ],
                );
            }
        }
        "group_membership" => {
            let _ = w.write_record([
                "canvas_group_id",
                "group_id",
                "canvas_user_id",
                "user_id",
                "status",
                "created_by_sis",
            ]);
            for m in &store.memberships {
                let Some(g) = store.group(m.group) else {
                    continue;
                };
                let keep = if c.include_deleted {
                    (g.state != "deleted" && m.state != "deleted") || m.batch.is_some()
                } else {
                    g.state != "deleted" && m.state != "deleted"
                };
                if !keep || !sis(m.batch) {
                    continue;
                }
                let Some(p) = store.sis_login(m.user, None, c.include_deleted) else {
                    continue;
                };
                put(
                    &mut w,
                    vec![
                        g.id.to_string(),
                        s(g.sis.as_ref()),
                        m.user.to_string(),
                        s(p.sis.as_ref()),
                        m.state.clone(),
                        b(m.batch.is_some()),
                    ],
                );
            }
        }
        "group_categories" => {
            // No created_by_sis column or filter in this report.
            let _ = w.write_record([
                "canvas_group_category_id",
                "group_category_id",
                "context_id",
                "context_type",
                "name",
                "role",
                "self_signup",
                "group_limit",
                "auto_leader",
                "status",
            ]);
            for g in &store.categories {
                if g.deleted && !c.include_deleted {
                    continue;
                }
                let (id, ty) = match g.context {
                    Ctx::Account(a) => (a, "Account"),
                    Ctx::Course(x) => (x, "Course"),
                };
                put(
                    &mut w,
                    vec![
                        g.id.to_string(),
                        s(g.sis.as_ref()),
                        id.to_string(),
                        ty.to_string(),
                        g.name.clone(),
                        String::new(),
                        String::new(),
                        String::new(),
                        String::new(),
                        if g.deleted { "deleted" } else { "active" }.to_string(),
                    ],
                );
            }
        }
        "xlist" => {
            let _ = w.write_record([
                "canvas_xlist_course_id",
                "xlist_course_id",
                "canvas_section_id",
                "section_id",
                "status",
                "canvas_nonxlist_course_id",
                "nonxlist_course_id",
            ]);
            for x in &store.sections {
                let Some(nx) = x.nonxlist.and_then(|n| store.course(n)) else {
                    continue;
                };
                let Some(course) = store.course(x.course) else {
                    continue;
                };
                let keep = if c.include_deleted {
                    (course.state != "deleted" && x.state != "deleted")
                        || (course.sis.is_some() && x.sis.is_some())
                } else {
                    !matches!(course.state.as_str(), "deleted" | "completed")
                        && x.state != "deleted"
                };
                if !keep || !sis(x.batch) || !in_term(course.term) {
                    continue;
                }
                put(
                    &mut w,
                    vec![
                        course.id.to_string(),
                        s(course.sis.as_ref()),
                        x.id.to_string(),
                        s(x.sis.as_ref()),
                        x.state.clone(),
                        nx.id.to_string(),
                        s(nx.sis.as_ref()),
                    ],
                );
            }
        }
        "user_observers" => {
            let _ = w.write_record([
                "canvas_observer_id",
                "observer_id",
                "canvas_student_id",
                "student_id",
                "status",
                "created_by_sis",
            ]);
            // One row per (student login, observer login) pair of the account.
            for o in &store.observers {
                if (!c.include_deleted && o.state == "deleted") || !sis(o.batch) {
                    continue;
                }
                let logins = |u: u64| -> Vec<&crate::store::Login> {
                    store
                        .logins
                        .iter()
                        .filter(|l| l.user == u && (c.include_deleted || l.state != "deleted"))
                        .collect()
                };
                for st in logins(o.student) {
                    for ob in store.logins.iter().filter(|l| l.user == o.observer) {
                        put(
                            &mut w,
                            vec![
                                o.observer.to_string(),
                                s(ob.sis.as_ref()),
                                o.student.to_string(),
                                s(st.sis.as_ref()),
                                o.state.clone(),
                                b(o.batch.is_some()),
                            ],
                        );
                    }
                }
            }
        }
        "admins" => {
            // Every admin of the account tree (made by SIS or not): no created_by_sis filter.
            let _ = w.write_record([
                "admin_user_name",
                "canvas_user_id",
                "user_id",
                "canvas_account_id",
                "account_id",
                "role_id",
                "role",
                "status",
                "created_by_sis",
            ]);
            for a in &store.admins {
                if !c.include_deleted && a.state == "deleted" {
                    continue;
                }
                let Some(p) = store.sis_login(a.user, None, c.include_deleted) else {
                    continue;
                };
                put(
                    &mut w,
                    vec![
                        store
                            .user(a.user)
                            .map(|u| u.name.clone())
                            .unwrap_or_default(),
                        a.user.to_string(),
                        s(p.sis.as_ref()),
                        a.account.to_string(),
                        s(store.account(a.account).and_then(|x| x.sis.as_ref())),
                        a.role_id.to_string(),
                        a.role.clone(),
                        a.state.clone(),
                        b(a.batch.is_some()),
                    ],
                );
            }
        }
        _ => {}
    }
    let bytes = w.into_inner().unwrap_or_default();
    (String::from_utf8(bytes).unwrap_or_default(), lines)
}

/// `AccountReports.report_attachment` (account_reports.rb): one kind → that CSV, named like
/// the Tempfile it was written to; several → `provisioning_csv_<date>_<id>.zip` of
/// `<kind>.csv` entries.
pub(crate) fn build_file(
    store: &Store,
    c: &Choices,
    report_id: u64,
    file_id: u64,
    t: Timestamp,
) -> Option<(ReportFile, u64)> {
    let stamp = t.strftime("%d_%b_%Y").to_string();
    let base = format!("provisioning_csv_{stamp}_{report_id}");
    match c.kinds.as_slice() {
        [] => None,
        [one] => {
            let (csv, lines) = csv_for(store, one, c);
            // Ruby's Tempfile name: prefix, date, pid, random, suffix.
            let filename = format!(
                "{base}{}-4242-{:x}.csv",
                t.strftime("%Y%m%d"),
                report_id.wrapping_mul(0x9e37_79b9) & 0xff_ffff
            );
            Some((
                ReportFile {
                    id: file_id,
                    filename,
                    content_type: "text/csv",
                    bytes: csv.into_bytes(),
                },
                lines,
            ))
        }
        many => {
            let mut buf = std::io::Cursor::new(Vec::new());
            let mut lines = 0;
            {
                let mut z = zip::ZipWriter::new(&mut buf);
                let o = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                for k in many {
                    let (csv, l) = csv_for(store, k, c);
                    lines += l;
                    let _ = z.start_file(format!("{k}.csv"), o);
                    let _ = z.write_all(csv.as_bytes());
                }
                let _ = z.finish();
            }
            Some((
                ReportFile {
                    id: file_id,
                    filename: format!("{base}.zip"),
                    content_type: "application/zip",
                    bytes: buf.into_inner(),
                },
                lines,
            ))
        }
    }
}
