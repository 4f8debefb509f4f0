//! The objects this Canvas keeps: accounts, terms, courses, sections, users and their logins,
//! enrollments, cross-listings, group categories, groups and their memberships, admins and
//! observer links. Each import is applied to them row by row, the way the importers in
//! `lib/sis/*_importer.rb` (instructure/canvas-lms) apply a row; every object remembers the
//! SIS batch that last touched it (`sis_batch_id`), which batch mode's cleanup and the
//! provisioning report's `created_by_sis` read.
//!
//! Paths in the comments are in instructure/canvas-lms.

use std::collections::{BTreeMap, HashMap, HashSet};

use jiff::Timestamp;

use crate::content::Row;

pub(crate) const ROOT_ACCOUNT: u64 = 1;
pub(crate) const DEFAULT_TERM: u64 = 1;
/// The token's user ("Sandbox Admin", SIS id `admin`): the user every import runs as.
pub(crate) const ADMIN_USER: u64 = 1;

/// Built-in roles and their ids in this fake (Canvas seeds one row per base type in `roles`;
/// `Role.get_built_in_role`, app/models/role.rb).
pub(crate) const ACCOUNT_ADMIN_ROLE: u64 = 1;
const ENROLLMENT_ROLES: &[(&str, u64, &str)] = &[
    ("StudentEnrollment", 3, "student"),
    ("TeacherEnrollment", 4, "teacher"),
    ("TaEnrollment", 5, "ta"),
    ("DesignerEnrollment", 6, "designer"),
    ("ObserverEnrollment", 7, "observer"),
];

/// `Enrollment#sis_role` for a built-in role: the CSV word for the base type.
pub(crate) fn sis_role(kind: &str) -> &'static str {
    ENROLLMENT_ROLES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, _, w)| *w)
        .unwrap_or("student")
}

fn role_id_of(kind: &str) -> u64 {
    ENROLLMENT_ROLES
        .iter()
        .find(|(k, _, _)| *k == kind)
        .map(|(_, id, _)| *id)
        .unwrap_or(3)
}

#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub id: u64,
    pub sis: Option<String>,
    pub parent: Option<u64>,
    pub name: String,
    pub state: String,
    pub integration_id: Option<String>,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Term {
    pub id: u64,
    pub sis: Option<String>,
    pub name: String,
    pub state: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub integration_id: Option<String>,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Course {
    pub id: u64,
    pub sis: Option<String>,
    pub short_name: String,
    pub long_name: String,
    pub account: u64,
    pub term: u64,
    pub state: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub restrict: bool,
    pub course_format: Option<String>,
    pub integration_id: Option<String>,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Section {
    pub id: u64,
    pub sis: Option<String>,
    /// The course it lives in now (the cross-listed course when cross-listed).
    pub course: u64,
    /// The course it came from, while cross-listed.
    pub nonxlist: Option<u64>,
    pub name: String,
    pub state: String,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub restrict: bool,
    pub integration_id: Option<String>,
    pub batch: Option<u64>,
    pub default: bool,
    /// The last xlists.csv row applied to it: (target course, "active"/"deleted", batch).
    pub xlist: Option<(u64, String, Option<u64>)>,
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub sortable_name: String,
    pub short_name: Option<String>,
    pub email: Option<String>,
}

/// A login (`Pseudonym`): users.csv and logins.csv rows each make one.
#[derive(Clone, Debug)]
pub(crate) struct Login {
    pub id: u64,
    pub user: u64,
    pub sis: Option<String>,
    pub unique_id: String,
    pub state: String,
    pub integration_id: Option<String>,
    pub auth_provider: Option<String>,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Enrollment {
    pub id: u64,
    pub user: u64,
    pub course: u64,
    pub section: u64,
    /// The base type, e.g. `StudentEnrollment`.
    pub kind: &'static str,
    pub role_id: u64,
    pub assoc: Option<u64>,
    pub state: String,
    pub limit: bool,
    pub sis_pseudonym: Option<u64>,
    pub batch: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctx {
    Account(u64),
    Course(u64),
}

#[derive(Clone, Debug)]
pub(crate) struct GroupCategory {
    pub id: u64,
    pub sis: Option<String>,
    pub context: Ctx,
    pub name: String,
    pub deleted: bool,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub id: u64,
    pub sis: Option<String>,
    pub category: Option<u64>,
    pub context: Ctx,
    pub name: String,
    pub state: String,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Membership {
    pub id: u64,
    pub group: u64,
    pub user: u64,
    pub state: String,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Admin {
    pub id: u64,
    pub account: u64,
    pub user: u64,
    pub role: String,
    pub role_id: u64,
    pub state: String,
    pub batch: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Observer {
    pub id: u64,
    pub observer: u64,
    pub student: u64,
    pub state: String,
    pub batch: Option<u64>,
}

/// Every object, in creation (id) order, with the look-ups the importers use.
#[derive(Default)]
pub(crate) struct Store {
    pub accounts: Vec<Account>,
    pub terms: Vec<Term>,
    pub courses: Vec<Course>,
    pub sections: Vec<Section>,
    pub users: Vec<User>,
    pub logins: Vec<Login>,
    pub enrollments: Vec<Enrollment>,
    pub categories: Vec<GroupCategory>,
    pub groups: Vec<Group>,
    pub memberships: Vec<Membership>,
    pub admins: Vec<Admin>,
    pub observers: Vec<Observer>,
    next_account: u64,
    next_term: u64,
    next_course: u64,
    next_section: u64,
    next_user: u64,
    next_login: u64,
    next_enrollment: u64,
    next_category: u64,
    next_group: u64,
    next_membership: u64,
    next_admin: u64,
    next_observer: u64,
    account_by_sis: HashMap<String, usize>,
    account_by_id: HashMap<u64, usize>,
    term_by_sis: HashMap<String, usize>,
    term_by_id: HashMap<u64, usize>,
    course_by_sis: HashMap<String, usize>,
    course_by_id: HashMap<u64, usize>,
    section_by_sis: HashMap<String, usize>,
    section_by_id: HashMap<u64, usize>,
    user_by_id: HashMap<u64, usize>,
    login_by_sis: HashMap<String, usize>,
    logins_by_unique: HashMap<String, Vec<usize>>,
    logins_by_user: HashMap<u64, Vec<usize>>,
    enrollment_by_key: HashMap<(u64, u64, &'static str, Option<u64>, u64), usize>,
    enrollments_by_user: HashMap<u64, Vec<usize>>,
    enrollments_by_section: HashMap<u64, Vec<usize>>,
    category_by_sis: HashMap<String, usize>,
    group_by_sis: HashMap<String, usize>,
    group_by_id: HashMap<u64, usize>,
    membership_by_key: HashMap<(u64, u64), usize>,
    admin_by_key: HashMap<(u64, u64, u64), usize>,
    observer_by_key: HashMap<(u64, u64), usize>,
}

/// Rails' lenient `Time.zone.parse` in UTC, far enough for SIS dates (§6.4); `None` for a
/// blank or unreadable value (Canvas then stores the date empty).
pub(crate) fn parse_date(v: &str) -> Option<Timestamp> {
    let v = v.trim();
    if v.is_empty() || v == "<delete>" {
        return None;
    }
    if let Ok(t) = v.parse::<Timestamp>() {
        return Some(t);
    }
    let utc = |dt: jiff::civil::DateTime| {
        dt.to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp())
    };
    if let Ok(dt) = v.parse::<jiff::civil::DateTime>() {
        return utc(dt);
    }
    if let Ok(d) = v.parse::<jiff::civil::Date>() {
        return utc(d.to_datetime(jiff::civil::Time::midnight()));
    }
    // `2013-1-03 00:00:00`: unpadded month or day.
    let (date, time) = v.split_once([' ', 'T']).unwrap_or((v, "00:00:00"));
    let p: Vec<&str> = date.split('-').collect();
    if p.len() == 3 {
        let (y, m, d) = (p[0].parse().ok()?, p[1].parse().ok()?, p[2].parse().ok()?);
        let t = time.parse::<jiff::civil::Time>().ok()?;
        return utc(jiff::civil::date(y, m, d).to_datetime(t));
    }
    None
}

fn opt(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

impl Store {
    /// The Canvas a fresh simulator has: the root account (`sis_account_id:root`), its
    /// sub-account `sub`, the default term and the term `2026-FA` (made by hand, not by SIS),
    /// and the token's admin user with a login `admin` and the AccountAdmin role.
    pub fn new() -> Self {
        let mut s = Store {
            next_account: 101,
            next_term: 6,
            next_course: 1001,
            next_section: 2001,
            next_user: 3001,
            next_login: 5001,
            next_enrollment: 10001,
            next_category: 501,
            next_group: 601,
            next_membership: 701,
            next_admin: 801,
            next_observer: 901,
            ..Default::default()
        };
        s.push_account(Account {
            id: ROOT_ACCOUNT,
            sis: Some("root".into()),
            parent: None,
            name: "Fake University".into(),
            state: "active".into(),
            integration_id: None,
            batch: None,
        });
        s.push_account(Account {
            id: 2,
            sis: Some("sub".into()),
            parent: Some(ROOT_ACCOUNT),
            name: "Fake Sub-Account".into(),
            state: "active".into(),
            integration_id: None,
            batch: None,
        });
        s.push_term(Term {
            id: DEFAULT_TERM,
            sis: None,
            name: "Default Term".into(),
            state: "active".into(),
            start: None,
            end: None,
            integration_id: None,
            batch: None,
        });
        s.push_term(Term {
            id: 5,
            sis: Some("2026-FA".into()),
            name: "Fall 2026".into(),
            state: "active".into(),
            start: None,
            end: None,
            integration_id: None,
            batch: None,
        });
        s.users.push(User {
            id: ADMIN_USER,
            name: "Sandbox Admin".into(),
            sortable_name: "Admin, Sandbox".into(),
            short_name: Some("Sandbox Admin".into()),
            email: Some("admin@example.edu".into()),
        });
        s.user_by_id.insert(ADMIN_USER, 0);
        s.push_login(Login {
            id: 1,
            user: ADMIN_USER,
            sis: Some("admin".into()),
            unique_id: "admin@example.edu".into(),
            state: "active".into(),
            integration_id: None,
            auth_provider: None,
            batch: None,
        });
        let id = s.take_id(|s| &mut s.next_admin);
        s.push_admin(Admin {
            id,
            account: ROOT_ACCOUNT,
            user: ADMIN_USER,
            role: "AccountAdmin".into(),
            role_id: ACCOUNT_ADMIN_ROLE,
            state: "active".into(),
            batch: None,
        });
        s
    }

    fn take_id(&mut self, f: impl Fn(&mut Self) -> &mut u64) -> u64 {
        let n = f(self);
        let id = *n;
        *n += 1;
        id
    }

    fn push_account(&mut self, a: Account) -> usize {
        let i = self.accounts.len();
        if let Some(s) = &a.sis {
            self.account_by_sis.insert(s.clone(), i);
        }
        self.account_by_id.insert(a.id, i);
        self.accounts.push(a);
        i
    }
    fn push_term(&mut self, t: Term) -> usize {
        let i = self.terms.len();
        if let Some(s) = &t.sis {
            self.term_by_sis.insert(s.clone(), i);
        }
        self.term_by_id.insert(t.id, i);
        self.terms.push(t);
        i
    }
    fn push_course(&mut self, c: Course) -> usize {
        let i = self.courses.len();
        if let Some(s) = &c.sis {
            self.course_by_sis.insert(s.clone(), i);
        }
        self.course_by_id.insert(c.id, i);
        self.courses.push(c);
        i
    }
    fn push_section(&mut self, s: Section) -> usize {
        let i = self.sections.len();
        if let Some(x) = &s.sis {
            self.section_by_sis.insert(x.clone(), i);
        }
        self.section_by_id.insert(s.id, i);
        self.sections.push(s);
        i
    }
    fn push_user(&mut self, u: User) -> usize {
        let i = self.users.len();
        self.user_by_id.insert(u.id, i);
        self.users.push(u);
        i
    }
    fn push_login(&mut self, l: Login) -> usize {
        let i = self.logins.len();
        if let Some(s) = &l.sis {
            self.login_by_sis.insert(s.clone(), i);
        }
        self.logins_by_unique
            .entry(l.unique_id.to_lowercase())
            .or_default()
            .push(i);
        self.logins_by_user.entry(l.user).or_default().push(i);
        self.logins.push(l);
        i
    }
    fn push_enrollment(&mut self, e: Enrollment) -> usize {
        let i = self.enrollments.len();
        self.enrollment_by_key
            .insert((e.section, e.user, e.kind, e.assoc, e.role_id), i);
        self.enrollments_by_user.entry(e.user).or_default().push(i);
        self.enrollments_by_section
            .entry(e.section)
            .or_default()
            .push(i);
        self.enrollments.push(e);
        i
    }
    fn push_admin(&mut self, a: Admin) -> usize {
        let i = self.admins.len();
        self.admin_by_key.insert((a.account, a.user, a.role_id), i);
        self.admins.push(a);
        i
    }

    pub fn account(&self, id: u64) -> Option<&Account> {
        self.account_by_id.get(&id).map(|&i| &self.accounts[i])
    }
    pub fn term(&self, id: u64) -> Option<&Term> {
        self.term_by_id.get(&id).map(|&i| &self.terms[i])
    }
    pub fn course(&self, id: u64) -> Option<&Course> {
        self.course_by_id.get(&id).map(|&i| &self.courses[i])
    }
    pub fn section(&self, id: u64) -> Option<&Section> {
        self.section_by_id.get(&id).map(|&i| &self.sections[i])
    }
    pub fn user(&self, id: u64) -> Option<&User> {
        self.user_by_id.get(&id).map(|&i| &self.users[i])
    }
    pub fn group(&self, id: u64) -> Option<&Group> {
        self.group_by_id.get(&id).map(|&i| &self.groups[i])
    }

    /// A term by Canvas id or `sis_term_id:…` (`api_find`, lib/api.rb), any state.
    pub fn find_term(&self, id: &str) -> Option<&Term> {
        let id = id.trim();
        if let Some(s) = id.strip_prefix("sis_term_id:") {
            return self.term_by_sis.get(s).map(|&i| &self.terms[i]);
        }
        id.parse::<u64>().ok().and_then(|n| self.term(n))
    }

    /// The user's SIS login for reports (`SisPseudonym.for`, lib/sis_pseudonym.rb): the
    /// enrollment's own login when it is usable, else the user's first login with an SIS id,
    /// else their first login; deleted logins only with `include_deleted`.
    pub fn sis_login(
        &self,
        user: u64,
        prefer: Option<u64>,
        include_deleted: bool,
    ) -> Option<&Login> {
        let all: Vec<&Login> = self
            .logins_by_user
            .get(&user)
            .map(|v| v.iter().map(|&i| &self.logins[i]).collect())
            .unwrap_or_default();
        let usable: Vec<&Login> = all
            .into_iter()
            .filter(|l| include_deleted || l.state != "deleted")
            .collect();
        if let Some(p) = prefer
            && let Some(l) = usable.iter().find(|l| l.id == p)
        {
            return Some(l);
        }
        usable
            .iter()
            .find(|l| l.sis.is_some())
            .or_else(|| usable.first())
            .copied()
    }

    /// The term a course's objects belong to (the section's original course when
    /// cross-listed, as `term_sections_scope` joins it).
    fn course_term(&self, course: u64) -> u64 {
        self.course(course).map(|c| c.term).unwrap_or(DEFAULT_TERM)
    }

    fn default_section(&mut self, course: u64) -> u64 {
        // `Course#default_section(include_xlists: true)` (app/models/course.rb): an active
        // default section, made without an SIS id when there is none.
        if let Some(s) = self
            .sections
            .iter()
            .find(|s| s.course == course && s.default && s.state != "deleted")
        {
            return s.id;
        }
        let name = self
            .course(course)
            .map(|c| c.long_name.clone())
            .unwrap_or_default();
        let id = self.take_id(|s| &mut s.next_section);
        self.push_section(Section {
            id,
            sis: None,
            course,
            nonxlist: None,
            name,
            state: "active".into(),
            start: None,
            end: None,
            restrict: false,
            integration_id: None,
            batch: None,
            default: true,
            xlist: None,
        });
        id
    }

    fn set_enrollment_state(&mut self, i: usize, state: &str) {
        self.enrollments[i].state = state.to_string();
    }

    /// `Enrollment::BatchStateUpdater.destroy_batch` (app/models/enrollment/batch_state_updater.rb):
    /// the enrollments become deleted and the users' memberships in the course's groups go.
    fn destroy_enrollments(&mut self, idxs: &[usize]) {
        let mut pairs: HashSet<(u64, u64)> = HashSet::new();
        for &i in idxs {
            self.set_enrollment_state(i, "deleted");
            let e = &self.enrollments[i];
            pairs.insert((e.course, e.user));
        }
        for m in &mut self.memberships {
            if m.state == "deleted" || !pairs.iter().any(|(_, u)| *u == m.user) {
                continue;
            }
            let in_course = self
                .group_by_id
                .get(&m.group)
                .map(|&g| self.groups[g].context)
                .is_some_and(|c| matches!(c, Ctx::Course(cid) if pairs.contains(&(cid, m.user))));
            if in_course {
                m.state = "deleted".into();
            }
        }
    }
}

/// What applying one row did.
pub(crate) enum Applied {
    /// Imported: counted.
    Ok,
    /// Imported and counted, with a warning.
    OkWarn(String),
    /// Skipped with a warning: not counted.
    Warn(String),
    /// Skipped without a word (`skip_deletes`, an already deleted login): not counted.
    Silent,
}

/// The options of the batch applying rows; `batch: None` is a change made by hand (UI or
/// API): nothing gets an `sis_batch_id`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Ctx2 {
    pub batch: Option<u64>,
    pub skip_deletes: bool,
    pub update_sis_id_if_login_claimed: bool,
}

fn contains_ci(v: &str, word: &str) -> bool {
    v.to_ascii_lowercase().contains(word)
}

fn starts_ci(v: &str, word: &str) -> bool {
    v.to_ascii_lowercase().starts_with(word)
}

/// The name Canvas infers for a users.csv row (`infer_user_name`, lib/sis/user_importer.rb).
fn infer_name(r: &Row, prior: Option<&str>) -> String {
    if let Some(f) = r.get("full_name") {
        return f.to_string();
    }
    let (first, last) = (r.get("first_name"), r.get("last_name"));
    if first.is_some() || last.is_some() {
        return format!("{} {}", first.unwrap_or(""), last.unwrap_or(""));
    }
    if let Some(p) = prior.filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    r.get("sortable_name")
        .or(r.get("short_name"))
        .or(r.get("login_id"))
        .unwrap_or("")
        .to_string()
}

/// `infer_sortable_name`; a full name alone lets the User model derive it ("Last, First").
fn infer_sortable(r: &Row, name: &str, prior: Option<&str>) -> String {
    if let Some(s) = r.get("sortable_name") {
        return s.to_string();
    }
    if r.get("full_name").is_some() {
        return derive_sortable(name);
    }
    let (first, last) = (r.get("first_name"), r.get("last_name"));
    if first.is_some() || last.is_some() {
        return format!("{}, {}", last.unwrap_or(""), first.unwrap_or(""));
    }
    prior
        .map(str::to_owned)
        .unwrap_or_else(|| derive_sortable(name))
}

/// `User.last_name_first` for a plain "First Last" name.
fn derive_sortable(name: &str) -> String {
    match name.trim().rsplit_once(' ') {
        Some((first, last)) => format!("{last}, {first}"),
        None => name.trim().to_string(),
    }
}

/// `EmailAddressValidator.valid?`, roughly: one `@` with something on each side, no spaces.
fn email_ok(e: &str) -> bool {
    let parts: Vec<&str> = e.split('@').collect();
    parts.len() == 2 && !parts[0].is_empty() && parts[1].contains('.') && !e.contains(' ')
}

impl Store {
    /// Apply one row of `kind` (its light checks already passed, §6.4).
    pub fn apply(&mut self, kind: &str, r: &Row, cx: Ctx2, deferred: &mut Vec<usize>) -> Applied {
        match kind {
            "account" => self.apply_account(r, cx),
            "term" => self.apply_term(r, cx),
            "course" => self.apply_course(r, cx),
            "section" => self.apply_section(r, cx),
            "xlist" => self.apply_xlist(r, cx),
            "user" => self.apply_user(r, cx),
            "login" => self.apply_login(r, cx),
            "enrollment" => self.apply_enrollment(r, cx, deferred),
            "admin" => self.apply_admin(r, cx),
            "group_category" => self.apply_category(r, cx),
            "group" => self.apply_group(r, cx),
            "group_membership" => self.apply_membership(r, cx),
            "user_observer" => self.apply_observer(r, cx),
            // Kinds this fake counts but keeps nothing of.
            _ => Applied::Ok,
        }
    }

    /// lib/sis/account_importer.rb.
    fn apply_account(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("account_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let parent = match r.get("parent_account_id") {
            Some(p) => match self.account_by_sis.get(p) {
                Some(&i) => self.accounts[i].id,
                None => return Applied::Warn(format!("Parent account didn't exist for {id}")),
            },
            None => ROOT_ACCOUNT,
        };
        let idx = match self.account_by_sis.get(id) {
            Some(&i) => i,
            None => {
                let aid = self.take_id(|s| &mut s.next_account);
                self.push_account(Account {
                    id: aid,
                    sis: Some(id.to_string()),
                    parent: Some(parent),
                    name: String::new(),
                    state: "active".into(),
                    integration_id: None,
                    batch: None,
                })
            }
        };
        let aid = self.accounts[idx].id;
        if contains_ci(status, "deleted") && self.accounts[idx].state != "deleted" {
            if self
                .accounts
                .iter()
                .any(|a| a.parent == Some(aid) && a.state != "deleted")
            {
                return Applied::Warn(format!(
                    "Cannot delete the sub_account with ID: {id} because it has active sub accounts."
                ));
            }
            if self
                .courses
                .iter()
                .any(|c| c.account == aid && c.state != "deleted")
            {
                return Applied::Warn(format!(
                    "Cannot delete the sub_account with ID: {id} because it has active courses."
                ));
            }
        }
        let a = &mut self.accounts[idx];
        a.parent = Some(parent);
        if let Some(n) = r.get("name") {
            a.name = n.to_string();
        }
        if let Some(i) = r.get("integration_id") {
            a.integration_id = Some(i.to_string());
        }
        if contains_ci(status, "active") {
            a.state = "active".into();
        } else if contains_ci(status, "deleted") {
            a.state = "deleted".into();
        }
        a.batch = cx.batch;
        Applied::Ok
    }

    /// lib/sis/term_importer.rb: every row stamps the term with the batch, even a
    /// date-override row (which is all `multi_term_batch_mode` needs to find the terms).
    fn apply_term(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("term_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let existing = self.term_by_sis.get(id).copied();
        if r.get("date_override_enrollment_type").is_some() {
            let Some(i) = existing else {
                return Applied::Warn("Cannot set date override on non-existent term".into());
            };
            self.terms[i].batch = cx.batch;
            return Applied::Ok;
        }
        let idx = match existing {
            Some(i) => i,
            None => {
                let tid = self.take_id(|s| &mut s.next_term);
                self.push_term(Term {
                    id: tid,
                    sis: Some(id.to_string()),
                    name: String::new(),
                    state: "active".into(),
                    start: None,
                    end: None,
                    integration_id: None,
                    batch: None,
                })
            }
        };
        let t = &mut self.terms[idx];
        t.batch = cx.batch;
        if let Some(n) = r.get("name") {
            t.name = n.to_string();
        }
        t.integration_id = opt(r.get("integration_id"));
        if contains_ci(status, "active") {
            t.state = "active".into();
        } else if contains_ci(status, "deleted") {
            t.state = "deleted".into();
        }
        t.start = r.get("start_date").and_then(parse_date);
        t.end = r.get("end_date").and_then(parse_date);
        Applied::Ok
    }

    /// lib/sis/course_importer.rb.
    fn apply_course(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("course_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        // An unknown or inactive term is ignored without a word.
        let term = r.get("term_id").and_then(|t| {
            self.term_by_sis
                .get(t)
                .map(|&i| &self.terms[i])
                .filter(|t| t.state == "active")
                .map(|t| t.id)
        });
        let account = match r.get("account_id") {
            Some(a) => match self.account_by_sis.get(a) {
                Some(&i) => Some(i),
                None => {
                    return Applied::Warn(format!("Account not found \"{a}\" for course {id}"));
                }
            },
            None => None,
        };
        let idx = match self.course_by_sis.get(id) {
            Some(&i) => i,
            None => {
                let cid = self.take_id(|s| &mut s.next_course);
                self.push_course(Course {
                    id: cid,
                    sis: Some(id.to_string()),
                    short_name: String::new(),
                    long_name: String::new(),
                    account: ROOT_ACCOUNT,
                    term: DEFAULT_TERM,
                    state: String::new(),
                    start: None,
                    end: None,
                    restrict: false,
                    course_format: None,
                    integration_id: None,
                    batch: None,
                })
            }
        };
        if let Some(ai) = account
            && self.accounts[ai].state == "active"
        {
            self.courses[idx].account = self.accounts[ai].id;
        }
        let acct = self.courses[idx].account;
        if self.account(acct).is_some_and(|a| a.state == "deleted") {
            let sis = self
                .account(acct)
                .and_then(|a| a.sis.clone())
                .unwrap_or_default();
            return Applied::Warn(format!(
                "Cannot restore course {id} because the associated account {sis} is deleted"
            ));
        }
        let c = &mut self.courses[idx];
        if let Some(t) = term {
            c.term = t;
        }
        c.integration_id = opt(r.get("integration_id"));
        let active_state = if status.eq_ignore_ascii_case("published") {
            "available"
        } else {
            "claimed"
        };
        let l = status.to_ascii_lowercase();
        if ["active", "unpublished", "published"].contains(&l.as_str()) {
            match c.state.as_str() {
                // Concluded courses come back published; that has always been so.
                "completed" => c.state = "available".into(),
                "deleted" | "created" | "claimed" | "" => c.state = active_state.into(),
                _ => {}
            }
        } else if l.contains("deleted") {
            c.state = "deleted".into();
        } else if l.contains("completed") {
            c.state = "completed".into();
        }
        let (start, end) = (r.get("start_date"), r.get("end_date"));
        if start.is_some() || end.is_some() {
            c.start = start.and_then(parse_date);
            c.end = end.and_then(parse_date);
            c.restrict = c.start.is_some() || c.end.is_some();
        }
        if let Some(f) = r.get("course_format") {
            c.course_format = (f != "not_set").then(|| f.to_string());
        }
        if let Some(n) = r.get("short_name") {
            c.short_name = n.to_string();
        }
        if let Some(n) = r.get("long_name") {
            c.long_name = n.to_string();
        }
        c.batch = cx.batch;
        Applied::Ok
    }

    /// lib/sis/section_importer.rb: deleting a section deletes its active enrollments.
    fn apply_section(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("section_id").unwrap_or("");
        let course_sis = r.get("course_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let Some(&ci) = self.course_by_sis.get(course_sis) else {
            return Applied::Warn(format!(
                "Section {id} references course {course_sis} which doesn't exist"
            ));
        };
        let course = self.courses[ci].id;
        let idx = match self.section_by_sis.get(id) {
            Some(&i) => i,
            None => {
                if r.get("name").is_none() {
                    return Applied::Warn(format!(
                        "No name given for section {id} in course {course_sis}"
                    ));
                }
                let sid = self.take_id(|s| &mut s.next_section);
                self.push_section(Section {
                    id: sid,
                    sis: Some(id.to_string()),
                    course,
                    nonxlist: None,
                    name: String::new(),
                    state: "active".into(),
                    start: None,
                    end: None,
                    restrict: false,
                    integration_id: None,
                    batch: None,
                    default: false,
                    xlist: None,
                })
            }
        };
        let sid = self.sections[idx].id;
        let (cur, nonx) = (self.sections[idx].course, self.sections[idx].nonxlist);
        if cur != course {
            let cur_deleted = self.course(cur).is_some_and(|c| c.state == "deleted");
            match nonx {
                // Cross-listed: the course given is not its home course (or its cross-listed
                // course is deleted and the row is active), so uncross-list and move it.
                Some(n) if n != course || (cur_deleted && starts_ci(status, "active")) => {
                    self.move_section(idx, course);
                }
                Some(_) => {}
                None => self.move_section(idx, course),
            }
        }
        let s = &mut self.sections[idx];
        if let Some(n) = r.get("name") {
            s.name = n.to_string();
        }
        s.integration_id = opt(r.get("integration_id"));
        let mut deleted = false;
        if contains_ci(status, "active") {
            s.state = "active".into();
        } else if contains_ci(status, "deleted") {
            s.state = "deleted".into();
            deleted = true;
        }
        s.start = r.get("start_date").and_then(parse_date);
        s.end = r.get("end_date").and_then(parse_date);
        s.restrict = s.start.is_some() || s.end.is_some();
        s.batch = cx.batch;
        if deleted {
            let active: Vec<usize> = self
                .enrollments_by_section
                .get(&sid)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|&i| self.enrollments[i].state != "deleted")
                        .collect()
                })
                .unwrap_or_default();
            self.destroy_enrollments(&active);
        }
        Applied::Ok
    }

    /// Move a section (and its enrollments) to `course`, uncross-listing it.
    fn move_section(&mut self, idx: usize, course: u64) {
        let sid = self.sections[idx].id;
        self.sections[idx].course = course;
        self.sections[idx].nonxlist = None;
        self.move_enrollments(sid, course);
    }

    fn move_enrollments(&mut self, section: u64, course: u64) {
        if let Some(v) = self.enrollments_by_section.get(&section) {
            for &i in v {
                self.enrollments[i].course = course;
            }
        }
    }

    /// lib/sis/xlist_importer.rb: an active row moves the section into the cross-listed
    /// course (made from the section's course when missing); a deleted row moves it home.
    fn apply_xlist(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let xid = r.get("xlist_course_id").unwrap_or("");
        let sec = r.get("section_id").unwrap_or("");
        let status = r.get("status").unwrap_or("").to_ascii_lowercase();
        let Some(&si) = self.section_by_sis.get(sec) else {
            return Applied::Warn(format!(
                "A cross-listing referenced a non-existent section {sec}"
            ));
        };
        let mut course = self.course_by_sis.get(xid).copied();
        if course.is_none() && status == "active" {
            let from = self.sections[si].course;
            let Some(src) = self.course(from).cloned() else {
                return Applied::Warn(format!(
                    "A cross-listing referenced a non-existent section {sec}"
                ));
            };
            let cid = self.take_id(|s| &mut s.next_course);
            course = Some(self.push_course(Course {
                id: cid,
                sis: Some(xid.to_string()),
                state: "claimed".into(),
                batch: cx.batch,
                integration_id: None,
                ..src
            }));
        }
        let sid = self.sections[si].id;
        if status == "active" {
            let ci = course.expect("made above");
            if self.courses[ci].state == "deleted" {
                self.courses[ci].state = "claimed".into();
            }
            let cid = self.courses[ci].id;
            self.sections[si].xlist = Some((cid, "active".into(), cx.batch));
            if self.sections[si].course == cid {
                return Applied::Ok;
            }
            let s = &mut self.sections[si];
            if s.nonxlist.is_none() {
                s.nonxlist = Some(s.course);
            }
            s.course = cid;
            self.move_enrollments(sid, cid);
        } else {
            if let Some(ci) = course
                && self.sections[si].course != self.courses[ci].id
            {
                return Applied::Ok;
            }
            let cid = course.map(|ci| self.courses[ci].id).unwrap_or(0);
            self.sections[si].xlist = Some((cid, "deleted".into(), cx.batch));
            if let Some(home) = self.sections[si].nonxlist.take() {
                self.sections[si].course = home;
                self.move_enrollments(sid, home);
            }
        }
        Applied::Ok
    }

    fn active_login_by_unique(&self, unique: &str) -> Option<usize> {
        self.logins_by_unique
            .get(&unique.to_lowercase())
            .and_then(|v| {
                v.iter()
                    .copied()
                    .find(|&i| self.logins[i].state != "deleted")
            })
    }

    /// lib/sis/user_importer.rb (`process_batch`): one login per row, keyed by `user_id`.
    fn apply_user(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let uid = r.get("user_id").unwrap_or("").to_string();
        let login_id = r.get("login_id").unwrap_or("").to_string();
        let raw = r.get("status").unwrap_or("").to_ascii_lowercase();
        if cx.skip_deletes && raw.contains("deleted") {
            return Applied::Silent;
        }
        // An unknown word after a valid prefix (`activeX`) counts as active.
        let status = if ["active", "suspended", "deleted"].contains(&raw.as_str()) {
            raw
        } else {
            "active".to_string()
        };
        let by_login = self.active_login_by_unique(&login_id);
        let by_integration = r.get("integration_id").and_then(|iid| {
            self.logins
                .iter()
                .position(|l| l.integration_id.as_deref() == Some(iid))
        });
        let mut pseudo = self.login_by_sis.get(&uid).copied().or(by_login);
        if let Some(bi) = by_integration
            && status != "deleted"
            && Some(bi) != pseudo
        {
            let l = &self.logins[bi];
            let who = match &l.sis {
                Some(s) => format!("SIS ID {s}"),
                None => format!("Canvas ID {}", l.user),
            };
            return Applied::Warn(format!(
                "An existing Canvas user with the {who} has already claimed {uid}'s requested integration_id, skipping"
            ));
        }
        if let Some(pi) = pseudo {
            if let Some(other) = self.logins[pi].sis.clone()
                && other != uid
            {
                if cx.update_sis_id_if_login_claimed {
                    self.login_by_sis.remove(&other);
                    self.logins[pi].sis = Some(uid.clone());
                    self.login_by_sis.insert(uid.clone(), pi);
                } else {
                    return Applied::Warn(format!(
                        "An existing Canvas user with the SIS ID {other} has already claimed {uid}'s user_id requested login information, skipping"
                    ));
                }
            }
            if let Some(bl) = by_login
                && bl != pi
                && status != "deleted"
            {
                let l = &self.logins[bl];
                let who = match &l.sis {
                    Some(s) => format!("SIS ID {s}"),
                    None => format!("Canvas ID {}", l.user),
                };
                return Applied::Warn(format!(
                    "An existing Canvas user with the {who} has already claimed {uid}'s user_id requested login information, skipping"
                ));
            }
        }
        let user = match pseudo {
            Some(pi) => self.logins[pi].user,
            None => {
                let id = self.take_id(|s| &mut s.next_user);
                let name = infer_name(r, None);
                let sortable = infer_sortable(r, &name, None);
                self.push_user(User {
                    id,
                    name,
                    sortable_name: sortable,
                    short_name: None,
                    email: None,
                });
                id
            }
        };
        if status == "deleted" && pseudo.is_some() {
            if user == ADMIN_USER && cx.batch.is_some() {
                return Applied::Warn(format!("Can't remove yourself user_id '{uid}'"));
            }
            if pseudo.is_some_and(|pi| self.logins[pi].state == "deleted") {
                return Applied::Silent;
            }
            self.remove_enrollments_if_last_login(user, &uid);
        }
        // Names (not sticky in this fake).
        let ui = self.user_by_id[&user];
        let prior_name = self.users[ui].name.clone();
        let prior_sortable = self.users[ui].sortable_name.clone();
        let name = infer_name(r, Some(&prior_name));
        let sortable = infer_sortable(r, &name, Some(&prior_sortable));
        let u = &mut self.users[ui];
        u.name = name;
        u.sortable_name = sortable;
        if let Some(s) = r.get("short_name") {
            u.short_name = Some(s.to_string());
        }
        let pi = match pseudo {
            Some(pi) => pi,
            None => {
                let id = self.take_id(|s| &mut s.next_login);
                self.push_login(Login {
                    id,
                    user,
                    sis: Some(uid.clone()),
                    unique_id: login_id.clone(),
                    state: status.clone(),
                    integration_id: None,
                    auth_provider: None,
                    batch: None,
                })
            }
        };
        pseudo = Some(pi);
        let _ = pseudo;
        let old_unique = self.logins[pi].unique_id.to_lowercase();
        if old_unique != login_id.to_lowercase() {
            if let Some(v) = self.logins_by_unique.get_mut(&old_unique) {
                v.retain(|&x| x != pi);
            }
            self.logins_by_unique
                .entry(login_id.to_lowercase())
                .or_default()
                .push(pi);
        }
        let l = &mut self.logins[pi];
        l.unique_id = login_id;
        l.auth_provider = opt(r.get("authentication_provider_id"));
        if let Some(i) = r.get("integration_id") {
            l.integration_id = Some(i.to_string());
        }
        l.state = status;
        l.batch = cx.batch;
        if let Some(e) = r.get("email") {
            if !email_ok(e) {
                return Applied::Warn(format!(
                    "The email address associated with user '{uid}' is invalid (email: '{e}')"
                ));
            }
            self.users[ui].email = Some(e.to_string());
        }
        Applied::Ok
    }

    /// `remove_enrollments_if_last_login` (lib/sis/user_importer.rb): with no other active
    /// login in the account, the user's enrollments, group memberships and admin roles there
    /// are deleted.
    fn remove_enrollments_if_last_login(&mut self, user: u64, uid: &str) {
        let other = self.logins_by_user.get(&user).is_some_and(|v| {
            v.iter().any(|&i| {
                let l = &self.logins[i];
                l.state != "deleted" && l.sis.as_deref() != Some(uid)
            })
        });
        if other {
            return;
        }
        let idxs: Vec<usize> = self
            .enrollments_by_user
            .get(&user)
            .cloned()
            .unwrap_or_default();
        for i in idxs {
            if self.enrollments[i].state != "deleted" {
                self.set_enrollment_state(i, "deleted");
            }
        }
        for m in &mut self.memberships {
            if m.user == user && m.state != "deleted" {
                m.state = "deleted".into();
            }
        }
        for a in &mut self.admins {
            if a.user == user && a.state != "deleted" {
                a.state = "deleted".into();
            }
        }
    }

    /// logins.csv: the user importer with `login_only` (lib/sis/user_importer.rb).
    fn apply_login(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let Some(uid) = r.get("user_id") else {
            return Applied::Warn("No user_id given for a user".into());
        };
        let Some(login_id) = r.get("login_id") else {
            return Applied::Warn(format!("No login_id given for user {uid}"));
        };
        let (eu, ei, ec) = (
            r.get("existing_user_id"),
            r.get("existing_integration_id"),
            r.get("existing_canvas_user_id"),
        );
        if eu.is_none() && ei.is_none() && ec.is_none() {
            return Applied::Warn(format!(
                "No existing user provided for login with SIS ID {uid}"
            ));
        }
        if self.login_by_sis.contains_key(uid) || self.active_login_by_unique(login_id).is_some() {
            return Applied::Warn(format!(
                "An existing Canvas user with the SIS ID {uid} or login of {login_id} already exists, skipping"
            ));
        }
        let active = |l: &&Login| l.state != "deleted";
        let found = eu
            .and_then(|s| {
                self.login_by_sis
                    .get(s)
                    .map(|&i| &self.logins[i])
                    .filter(active)
            })
            .or_else(|| {
                ei.and_then(|s| {
                    self.logins
                        .iter()
                        .filter(active)
                        .find(|l| l.integration_id.as_deref() == Some(s))
                })
            })
            .or_else(|| {
                ec.and_then(|s| s.parse::<u64>().ok()).and_then(|u| {
                    self.logins_by_user
                        .get(&u)
                        .and_then(|v| v.iter().map(|&i| &self.logins[i]).find(active))
                })
            });
        let Some(found) = found else {
            return Applied::Warn(format!(
                "Could not find the existing user for login with SIS ID {uid}, skipping"
            ));
        };
        let matches = eu.is_none_or(|s| found.sis.as_deref() == Some(s))
            && ei.is_none_or(|s| found.integration_id.as_deref() == Some(s))
            && ec.is_none_or(|s| s.parse::<u64>().ok() == Some(found.user));
        if !matches {
            return Applied::Warn(format!(
                "An existing user does not match existing user ids provided for login with SIS ID {uid}, skipping"
            ));
        }
        let user = found.user;
        let id = self.take_id(|s| &mut s.next_login);
        self.push_login(Login {
            id,
            user,
            sis: Some(uid.to_string()),
            unique_id: login_id.to_string(),
            state: "active".into(),
            integration_id: opt(r.get("integration_id")),
            auth_provider: opt(r.get("authentication_provider_id")),
            batch: cx.batch,
        });
        Applied::Ok
    }

    /// lib/sis/enrollment_importer.rb (`process_batch`, `enrollment_status`).
    fn apply_enrollment(&mut self, r: &Row, cx: Ctx2, deferred: &mut Vec<usize>) -> Applied {
        let status = r.get("status").unwrap_or("").to_string();
        if cx.skip_deletes && contains_ci(&status, "deleted") {
            return Applied::Silent;
        }
        let uid = r.get("user_id").unwrap_or("");
        let course_sis = r.get("course_id");
        let section_sis = r.get("section_id");
        let (c_s, s_s) = (course_sis.unwrap_or(""), section_sis.unwrap_or(""));
        let pseudo = match r.get("user_integration_id") {
            Some(iid) => self
                .logins
                .iter()
                .position(|l| l.integration_id.as_deref() == Some(iid)),
            None => self.login_by_sis.get(uid).copied(),
        };
        let Some(pi) = pseudo else {
            return Applied::Warn(format!(
                "User not found for enrollment (User ID: {uid}, Course ID: {c_s}, Section ID: {s_s})"
            ));
        };
        let user = self.logins[pi].user;
        let mut course = course_sis.and_then(|c| self.course_by_sis.get(c).copied());
        let mut section = section_sis.and_then(|s| self.section_by_sis.get(s).copied());
        if course.is_none() && section.is_none() {
            return Applied::Warn(format!(
                "Neither course nor section existed for user enrollment (Course ID: {c_s}, Section ID: {s_s}, User ID: {uid})"
            ));
        }
        if section_sis.is_some() && section.is_none() {
            return Applied::Warn(format!(
                "An enrollment referenced a non-existent section {s_s}"
            ));
        }
        if course_sis.is_some() && course.is_none() {
            return Applied::Warn(format!(
                "An enrollment referenced a non-existent course {c_s}"
            ));
        }
        if section.is_none() {
            let cid = self.courses[course.expect("checked")].id;
            let sid = self.default_section(cid);
            section = Some(self.section_by_id[&sid]);
        }
        let si = section.expect("set");
        let sec_course = self.sections[si].course;
        let course_id = match course {
            None => sec_course,
            Some(ci) => {
                let cid = self.courses[ci].id;
                if cid != sec_course && self.sections[si].nonxlist == Some(cid) {
                    sec_course
                } else {
                    cid
                }
            }
        };
        course = self.course_by_id.get(&course_id).copied();
        if course_id != sec_course {
            return Applied::Warn(format!(
                "An enrollment listed a section ({s_s}) and a course ({c_s}) that are unrelated for user ({uid})"
            ));
        }
        let _ = course;
        let role_name = r.get("role").unwrap_or("");
        let by_id = r
            .get("role_id")
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| ENROLLMENT_ROLES.iter().find(|(_, rid, _)| *rid == id));
        let l = role_name.to_ascii_lowercase();
        let kind: Option<&'static str> = by_id.map(|(k, _, _)| *k).or(match l.as_str() {
            "teacher" => Some("TeacherEnrollment"),
            "ta" => Some("TaEnrollment"),
            "observer" => Some("ObserverEnrollment"),
            "designer" => Some("DesignerEnrollment"),
            s if s.starts_with("student") => Some("StudentEnrollment"),
            _ => None,
        });
        let Some(kind) = kind else {
            return Applied::Warn(format!("Improper role \"{role_name}\" for an enrollment"));
        };
        let role_id = role_id_of(kind);
        let mut assoc = None;
        if kind == "ObserverEnrollment"
            && let Some(a) = r.get("associated_user_id")
        {
            match self.login_by_sis.get(a) {
                Some(&ai) => assoc = Some(self.logins[ai].user),
                None => {
                    return Applied::Warn(format!(
                        "An enrollment referenced a non-existent associated user {a}"
                    ));
                }
            }
        }
        let sid = self.sections[si].id;
        let key = (sid, user, kind, assoc, role_id);
        let existing = self.enrollment_by_key.get(&key).copied();
        let pseudo_deleted = self.logins[pi].state == "deleted";
        let login_name = self.logins[pi].unique_id.clone();
        if let Some(ei) = existing
            && self.enrollments[ei].state == "deleted"
            && pseudo_deleted
        {
            return Applied::Warn(format!(
                "Attempted enrolling with deleted sis login {login_name} in course {c_s}"
            ));
        }
        let ei = match existing {
            Some(i) => i,
            None => {
                let id = self.take_id(|s| &mut s.next_enrollment);
                self.push_enrollment(Enrollment {
                    id,
                    user,
                    course: course_id,
                    section: sid,
                    kind,
                    role_id,
                    assoc,
                    state: "creation_pending".into(),
                    limit: false,
                    sis_pseudonym: None,
                    batch: None,
                })
            }
        };
        let is_new = existing.is_none();
        let mut warn = None;
        let ls = status.to_ascii_lowercase();
        if ls.starts_with("active") {
            if !pseudo_deleted {
                self.set_enrollment_state(ei, "active");
            } else if self.logins_by_user.get(&user).is_some_and(|v| {
                v.iter().any(|&i| {
                    let l = &self.logins[i];
                    l.state != "deleted" && l.sis.as_deref() != Some(uid)
                })
            }) {
                self.set_enrollment_state(ei, "active");
                warn = Some(format!(
                    "Enrolled a user {uid} in course {c_s}, but referenced a deleted sis login"
                ));
            } else {
                if self.enrollments[ei].state != "deleted" {
                    self.set_enrollment_state(ei, "deleted");
                }
                warn = Some(format!(
                    "Attempted enrolling of deleted user {uid} in course {c_s}"
                ));
            }
        } else if ls.starts_with("completed") {
            self.set_enrollment_state(ei, "completed");
        } else if ls.starts_with("inactive") {
            self.set_enrollment_state(ei, "inactive");
        } else if ls.starts_with("deleted_last_completed") {
            // Deleted when the user keeps another enrollment of that role in the course,
            // else concluded.
            let others = self.enrollments_by_user.get(&user).is_some_and(|v| {
                v.iter().any(|&i| {
                    let e = &self.enrollments[i];
                    i != ei
                        && e.course == course_id
                        && e.assoc == assoc
                        && e.role_id == role_id
                        && e.state != "deleted"
                })
            });
            if others {
                if let Some(done) = self.deleted_status(ei, is_new, cx, deferred) {
                    return done;
                }
            } else {
                self.set_enrollment_state(ei, "completed");
            }
        } else if ls.starts_with("deleted")
            && let Some(done) = self.deleted_status(ei, is_new, cx, deferred)
        {
            return done;
        }
        let e = &mut self.enrollments[ei];
        if let Some(v) = r.get("limit_section_privileges") {
            e.limit = crate::wire::value_to_boolean(v);
        }
        e.sis_pseudonym = Some(self.logins[pi].id);
        e.batch = cx.batch;
        match warn {
            Some(w) => Applied::OkWarn(w),
            None => Applied::Ok,
        }
    }

    /// `deleted_status`: a new row is created deleted; an existing one is deleted with the
    /// others at the end of the file (counted either way).
    fn deleted_status(
        &mut self,
        ei: usize,
        is_new: bool,
        cx: Ctx2,
        deferred: &mut Vec<usize>,
    ) -> Option<Applied> {
        if is_new {
            self.set_enrollment_state(ei, "deleted");
            return None;
        }
        if self.enrollments[ei].state == "deleted" {
            self.enrollments[ei].batch = cx.batch;
        } else {
            deferred.push(ei);
        }
        Some(Applied::Ok)
    }

    /// The deletions an enrollments file asked for, run together once it is read.
    pub fn finish_enrollments(&mut self, deferred: &mut Vec<usize>) {
        let idxs = std::mem::take(deferred);
        if !idxs.is_empty() {
            self.destroy_enrollments(&idxs);
        }
    }

    /// lib/sis/admin_importer.rb.
    fn apply_admin(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let uid = r.get("user_id").unwrap_or("");
        let state = r.get("status").unwrap_or("").trim().to_ascii_lowercase();
        if cx.skip_deletes && state == "deleted" {
            return Applied::Silent;
        }
        let account = match r.get("account_id") {
            Some(a) => match self
                .account_by_sis
                .get(a)
                .map(|&i| &self.accounts[i])
                .filter(|a| a.state == "active")
            {
                Some(a) => a.id,
                None => return Applied::Warn("Invalid account_id given for admin".into()),
            },
            None => ROOT_ACCOUNT,
        };
        let (role, role_id) = (r.get("role"), r.get("role_id"));
        let ok = role_id.is_some_and(|id| id == ACCOUNT_ADMIN_ROLE.to_string())
            || role == Some("AccountAdmin");
        if !ok {
            return Applied::Warn(match role_id {
                Some(id) if role.is_none() => format!("Invalid role_id '{id}' for admin"),
                _ => format!("Invalid role '{}' for admin", role.unwrap_or("")),
            });
        }
        let Some(user) = self
            .login_by_sis
            .get(uid)
            .map(|&i| &self.logins[i])
            .filter(|l| l.state != "deleted")
            .map(|l| l.user)
        else {
            return Applied::Warn(format!("Invalid or unknown user_id '{uid}' for admin"));
        };
        if state == "deleted" && user == ADMIN_USER && account == ROOT_ACCOUNT && cx.batch.is_some()
        {
            return Applied::Warn(format!("Can't remove yourself user_id '{uid}'"));
        }
        let key = (account, user, ACCOUNT_ADMIN_ROLE);
        let idx = match (self.admin_by_key.get(&key).copied(), state.as_str()) {
            (Some(i), "active") => i,
            (None, "active") => {
                let id = self.take_id(|s| &mut s.next_admin);
                self.push_admin(Admin {
                    id,
                    account,
                    user,
                    role: "AccountAdmin".into(),
                    role_id: ACCOUNT_ADMIN_ROLE,
                    state: "active".into(),
                    batch: None,
                })
            }
            // Only an admin an SIS import made can be removed by one.
            (Some(i), _) if self.admins[i].batch.is_some() => i,
            _ => return Applied::Ok,
        };
        self.admins[idx].state = state;
        self.admins[idx].batch = cx.batch;
        Applied::Ok
    }

    fn context_for(
        &self,
        r: &Row,
        what: &str,
        id: &str,
        quote: bool,
    ) -> Result<Option<Ctx>, String> {
        let (a, c) = (r.get("account_id"), r.get("course_id"));
        if a.is_some() && c.is_some() {
            return Err(format!(
                "Only one context is allowed and both course_id and account_id where provided for {what} {id}."
            ));
        }
        let q = |v: &str| {
            if quote {
                format!("\"{v}\"")
            } else {
                v.to_string()
            }
        };
        let (id_word, sep) = if quote { ("id", "") } else { ("sis id", ".") };
        if let Some(a) = a {
            return match self
                .account_by_sis
                .get(a)
                .map(|&i| &self.accounts[i])
                .filter(|x| x.state == "active")
            {
                Some(x) => Ok(Some(Ctx::Account(x.id))),
                None => Err(format!(
                    "Account with {id_word} {} didn't exist for {what} {id}{sep}",
                    q(a)
                )),
            };
        }
        if let Some(c) = c {
            return match self
                .course_by_sis
                .get(c)
                .map(|&i| &self.courses[i])
                .filter(|x| x.state != "deleted")
            {
                Some(x) => Ok(Some(Ctx::Course(x.id))),
                None => Err(format!(
                    "Course with {id_word} {} didn't exist for {what} {id}{sep}",
                    q(c)
                )),
            };
        }
        Ok(None)
    }

    /// lib/sis/group_category_importer.rb.
    fn apply_category(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("group_category_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let ctx = match self.context_for(r, "group category", id, true) {
            Ok(c) => c.unwrap_or(Ctx::Account(ROOT_ACCOUNT)),
            Err(m) => return Applied::Warn(m),
        };
        let existing = self.category_by_sis.get(id).copied();
        if let Some(i) = existing {
            let gid = self.categories[i].id;
            if self.categories[i].context != ctx
                && self
                    .groups
                    .iter()
                    .any(|g| g.category == Some(gid) && g.state != "deleted")
            {
                return Applied::Warn(format!(
                    "Cannot move group category {id} because it has groups in it."
                ));
            }
        }
        let i = match existing {
            Some(i) => i,
            None => {
                let gid = self.take_id(|s| &mut s.next_category);
                self.categories.push(GroupCategory {
                    id: gid,
                    sis: Some(id.to_string()),
                    context: ctx,
                    name: String::new(),
                    deleted: false,
                    batch: None,
                });
                self.category_by_sis
                    .insert(id.to_string(), self.categories.len() - 1);
                self.categories.len() - 1
            }
        };
        let gc = &mut self.categories[i];
        gc.name = r.get("category_name").unwrap_or("").to_string();
        gc.context = ctx;
        gc.batch = cx.batch;
        if contains_ci(status, "active") {
            gc.deleted = false;
        } else if contains_ci(status, "deleted") {
            gc.deleted = true;
        }
        Applied::Ok
    }

    /// lib/sis/group_importer.rb: the state is `deleted` only for the exact word `deleted`.
    fn apply_group(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let id = r.get("group_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let mut ctx = match self.context_for(r, "group", id, false) {
            Ok(c) => c,
            Err(m) => return Applied::Warn(m),
        };
        let mut category = None;
        if let Some(gc) = r.get("group_category_id") {
            let found = self
                .category_by_sis
                .get(gc)
                .map(|&i| &self.categories[i])
                .filter(|c| match ctx {
                    Some(x) => c.context == x,
                    None => !c.deleted,
                });
            match found {
                Some(c) => {
                    category = Some(c.id);
                    ctx = Some(c.context);
                }
                None => {
                    return Applied::Warn(match (r.get("account_id"), r.get("course_id")) {
                        (Some(a), _) => format!(
                            "Group Category {gc} didn't exist in account {a} for group {id}."
                        ),
                        (_, Some(c)) => format!(
                            "Group Category {gc} didn't exist in course {c} for group {id}."
                        ),
                        _ => format!("Group Category {gc} didn't exist for group {id}."),
                    });
                }
            }
        }
        let ctx = ctx.unwrap_or(Ctx::Account(ROOT_ACCOUNT));
        let existing = self.group_by_sis.get(id).copied();
        if let Some(i) = existing {
            let g = &self.groups[i];
            let has_members = self.memberships.iter().any(|m| m.group == g.id);
            let to_or_from_course =
                matches!(g.context, Ctx::Course(_)) || matches!(ctx, Ctx::Course(_));
            if has_members && g.context != ctx && to_or_from_course {
                return Applied::Warn(format!(
                    "Cannot move group {id} because it has group_memberships."
                ));
            }
        }
        let i = match existing {
            Some(i) => i,
            None => {
                let gid = self.take_id(|s| &mut s.next_group);
                self.groups.push(Group {
                    id: gid,
                    sis: Some(id.to_string()),
                    category: None,
                    context: ctx,
                    name: String::new(),
                    state: "available".into(),
                    batch: None,
                });
                let i = self.groups.len() - 1;
                self.group_by_sis.insert(id.to_string(), i);
                self.group_by_id.insert(gid, i);
                i
            }
        };
        let g = &mut self.groups[i];
        if let Some(n) = r.get("name") {
            g.name = n.to_string();
        }
        if category.is_some() {
            g.category = category;
        }
        g.context = ctx;
        g.batch = cx.batch;
        g.state = if status == "deleted" {
            "deleted"
        } else {
            "available"
        }
        .into();
        Applied::Ok
    }

    /// lib/sis/group_membership_importer.rb.
    fn apply_membership(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let gid = r.get("group_id").unwrap_or("");
        let uid = r.get("user_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        if cx.skip_deletes && contains_ci(status, "deleted") {
            return Applied::Silent;
        }
        let user = self.login_by_sis.get(uid).map(|&i| self.logins[i].user);
        let group = self.group_by_sis.get(gid).copied();
        let Some(user) = user else {
            return Applied::Warn(format!("User {uid} didn't exist for group user"));
        };
        let Some(gi) = group else {
            return Applied::Warn(format!("Group {gid} didn't exist for group user"));
        };
        if let Ctx::Course(c) = self.groups[gi].context {
            let enrolled = self
                .enrollments_by_user
                .get(&user)
                .is_some_and(|v| v.iter().any(|&i| self.enrollments[i].course == c));
            if !enrolled {
                return Applied::Warn(format!(
                    "User {uid} doesn't have an enrollment in the course of group {gid}."
                ));
            }
        }
        let group = self.groups[gi].id;
        let i = match self.membership_by_key.get(&(group, user)) {
            Some(&i) => i,
            None => {
                let id = self.take_id(|s| &mut s.next_membership);
                self.memberships.push(Membership {
                    id,
                    group,
                    user,
                    state: "accepted".into(),
                    batch: None,
                });
                let i = self.memberships.len() - 1;
                self.membership_by_key.insert((group, user), i);
                i
            }
        };
        let m = &mut self.memberships[i];
        m.batch = cx.batch;
        if contains_ci(status, "accepted") {
            m.state = "accepted".into();
        } else if contains_ci(status, "deleted") {
            m.state = "deleted".into();
        }
        Applied::Ok
    }

    /// lib/sis/user_observer_importer.rb: only the exact lower-case words act; `Active`
    /// passes the check but matches neither branch.
    fn apply_observer(&mut self, r: &Row, cx: Ctx2) -> Applied {
        let oid = r.get("observer_id").unwrap_or("");
        let sid = r.get("student_id").unwrap_or("");
        let status = r.get("status").unwrap_or("");
        let active_user = |s: &str| {
            self.login_by_sis
                .get(s)
                .map(|&i| &self.logins[i])
                .filter(|l| l.state != "deleted")
                .map(|l| l.user)
        };
        let Some(observer) = active_user(oid) else {
            return Applied::Warn(format!("An observer referenced a non-existent user {oid}"));
        };
        let Some(student) = active_user(sid) else {
            return Applied::Warn(format!("A student referenced a non-existent user {sid}"));
        };
        if observer == student {
            return Applied::Warn(format!("Can't observe yourself user {sid}"));
        }
        let existing = self.observer_by_key.get(&(observer, student)).copied();
        let i = match status {
            "active" => match existing {
                Some(i) => i,
                None => {
                    let id = self.take_id(|s| &mut s.next_observer);
                    self.observers.push(Observer {
                        id,
                        observer,
                        student,
                        state: "active".into(),
                        batch: None,
                    });
                    let i = self.observers.len() - 1;
                    self.observer_by_key.insert((observer, student), i);
                    i
                }
            },
            "deleted" => match existing.filter(|&i| self.observers[i].state != "deleted") {
                Some(i) => i,
                None => {
                    return Applied::Warn(format!(
                        "Can't delete a non-existent observer for observer: {oid}, student: {sid}"
                    ));
                }
            },
            _ => {
                return Applied::Warn(format!(
                    "Failed to return user observer for observer: {oid}, student: {sid}"
                ));
            }
        };
        let o = &mut self.observers[i];
        o.state = status.to_string();
        o.batch = cx.batch;
        Applied::Ok
    }
}

impl Store {
    /// A change made by hand (the UI or the REST API, not SIS): the row is applied as the
    /// kind's importer would, but nothing gets an `sis_batch_id`. Err: the warning Canvas
    /// would give for the row.
    pub fn apply_by_hand(&mut self, kind: &str, fields: &[(&str, &str)]) -> Result<(), String> {
        let columns: HashMap<String, usize> = fields
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.to_lowercase(), i))
            .collect();
        let vals: Vec<String> = fields.iter().map(|(_, v)| v.trim().to_string()).collect();
        let r = Row {
            columns: &columns,
            vals: &vals,
        };
        let mut deferred = Vec::new();
        let res = self.apply(kind, &r, Ctx2::default(), &mut deferred);
        self.finish_enrollments(&mut deferred);
        match res {
            Applied::Ok | Applied::OkWarn(_) => Ok(()),
            Applied::Warn(m) => Err(m),
            Applied::Silent => Err("skipped".into()),
        }
    }
}

// ---------------------------------------------------------------- batch mode

/// The objects batch mode would drop for one batch, and the scopes they are counted against
/// (`term_*_scope` / `non_batch_*_scope`, app/models/sis_batch.rb).
pub(crate) struct Cleanup {
    pub courses: Option<(Vec<usize>, usize)>,
    pub sections: Option<(Vec<usize>, usize)>,
    pub enrollments: Option<(Vec<usize>, usize)>,
}

impl Store {
    /// The scopes `remove_previous_imports` works on. `terms` are Canvas term ids; `supplied`
    /// the kinds the batch supplied; `drop_status` the batch's
    /// `batch_mode_enrollment_drop_status`.
    pub fn cleanup_scopes(
        &self,
        batch: u64,
        terms: &[u64],
        supplied: &[&str],
        drop_status: Option<&str>,
    ) -> Cleanup {
        let in_terms = |t: u64| terms.contains(&t);
        // term_course_scope: active (not deleted) courses of the terms that an SIS import
        // touched and that have an SIS id.
        let courses = supplied.contains(&"course").then(|| {
            let all: Vec<usize> = (0..self.courses.len())
                .filter(|&i| {
                    let c = &self.courses[i];
                    c.state != "deleted" && c.batch.is_some() && c.sis.is_some() && in_terms(c.term)
                })
                .collect();
            let n = all.len();
            (
                all.into_iter()
                    .filter(|&i| self.courses[i].batch != Some(batch))
                    .collect(),
                n,
            )
        });
        // term_sections_scope: active sections with an SIS id and batch, whose home course
        // (COALESCE(nonxlist_course_id, course_id)) is in the terms.
        let sections = supplied.contains(&"section").then(|| {
            let all: Vec<usize> = (0..self.sections.len())
                .filter(|&i| {
                    let s = &self.sections[i];
                    s.state != "deleted"
                        && s.batch.is_some()
                        && s.sis.is_some()
                        && in_terms(self.course_term(s.nonxlist.unwrap_or(s.course)))
                })
                .collect();
            let n = all.len();
            (
                all.into_iter()
                    .filter(|&i| self.sections[i].batch != Some(batch))
                    .collect(),
                n,
            )
        });
        // term_enrollments_scope: active enrollments (not deleted, nor already in the drop
        // status) that an SIS import touched, in courses of the terms. No SIS id needed.
        let enrollments = supplied.contains(&"enrollment").then(|| {
            let all: Vec<usize> = (0..self.enrollments.len())
                .filter(|&i| {
                    let e = &self.enrollments[i];
                    e.state != "deleted"
                        && drop_status.is_none_or(|d| e.state != d)
                        && e.batch.is_some()
                        && in_terms(self.course_term(e.course))
                })
                .collect();
            let n = all.len();
            (
                all.into_iter()
                    .filter(|&i| self.enrollments[i].batch != Some(batch))
                    .collect(),
                n,
            )
        });
        Cleanup {
            courses,
            sections,
            enrollments,
        }
    }

    /// `remove_non_batch_enrollments`: deleted, concluded or deactivated as the drop status
    /// says; returns how many changed.
    pub fn drop_enrollments(&mut self, idxs: &[usize], status: &str) -> usize {
        match status {
            "deleted" => {
                self.destroy_enrollments(idxs);
                idxs.len()
            }
            s => {
                for &i in idxs {
                    self.set_enrollment_state(i, s);
                }
                idxs.len()
            }
        }
    }

    /// `CourseSection.destroy_batch`: the sections and their active enrollments.
    pub fn drop_sections(&mut self, idxs: &[usize]) -> usize {
        for &i in idxs {
            self.sections[i].state = "deleted".into();
            let sid = self.sections[i].id;
            let active: Vec<usize> = self
                .enrollments_by_section
                .get(&sid)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|&e| self.enrollments[e].state != "deleted")
                        .collect()
                })
                .unwrap_or_default();
            self.destroy_enrollments(&active);
        }
        idxs.len()
    }

    /// `Course.destroy_batch` (app/models/course.rb): every active enrollment of the courses
    /// (made by SIS or not) becomes deleted, then the courses.
    pub fn drop_courses(&mut self, idxs: &[usize]) -> usize {
        let ids: HashSet<u64> = idxs.iter().map(|&i| self.courses[i].id).collect();
        for e in &mut self.enrollments {
            if ids.contains(&e.course) && e.state != "deleted" {
                e.state = "deleted".into();
            }
        }
        for &i in idxs {
            self.courses[i].state = "deleted".into();
        }
        idxs.len()
    }

    /// Terms an import stamped (`EnrollmentTerm.where(sis_batch_id: self)`), any state.
    pub fn terms_of_batch(&self, batch: u64) -> Vec<u64> {
        self.terms
            .iter()
            .filter(|t| t.batch == Some(batch))
            .map(|t| t.id)
            .collect()
    }
}

// ---------------------------------------------------------------- snapshot for tests

/// One object as a test sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Obj {
    /// The Canvas id.
    pub canvas_id: u64,
    /// The SIS id, for kinds that have one.
    pub sis_id: Option<String>,
    /// Canvas's `workflow_state` (courses: `claimed` unpublished, `available` published,
    /// `completed`, `deleted`; logins: `active`, `suspended`, `deleted`; group categories:
    /// `active`/`deleted`; groups: `available`/`deleted`; memberships: `accepted`/`deleted`).
    pub status: String,
    /// The SIS id of its term (courses, sections, enrollments, cross-listings); `None` for
    /// the default term, which has none.
    pub term: Option<String>,
    /// The Canvas id of its term, where it has one.
    pub term_id: Option<u64>,
    /// The SIS batch that last touched it; `None` when made by hand (or seeded).
    pub sis_batch_id: Option<u64>,
    /// Other columns by name: `name`, `course_id`, `section_id`, `user_id`, `role`, …
    pub fields: BTreeMap<String, String>,
}

/// Everything the simulator keeps, per kind: key → object. Keys are the SIS id for
/// accounts, terms, courses, sections, users (one entry per login), group categories and
/// groups; composite for the rest:
/// - enrollments: `course_id|section_id|user_id|role` (`section_id` empty for a course's
///   default section, `role` as Canvas's `sis_role`: `student`, `teacher`, …), with
///   `|associated_user_id` appended for an observer that has one;
/// - xlists: `section_id`; group memberships: `group_id|user_id`;
/// - admins: `account_id|user_id|role` (`account_id` empty for the root account);
/// - user_observers: `observer_id|student_id`.
///
/// Objects without SIS ids (a default section, a term made by hand) are keyed `#<canvas id>`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSnapshot {
    pub accounts: BTreeMap<String, Obj>,
    pub terms: BTreeMap<String, Obj>,
    pub courses: BTreeMap<String, Obj>,
    pub sections: BTreeMap<String, Obj>,
    pub users: BTreeMap<String, Obj>,
    pub enrollments: BTreeMap<String, Obj>,
    pub xlists: BTreeMap<String, Obj>,
    pub group_categories: BTreeMap<String, Obj>,
    pub groups: BTreeMap<String, Obj>,
    pub group_memberships: BTreeMap<String, Obj>,
    pub admins: BTreeMap<String, Obj>,
    pub user_observers: BTreeMap<String, Obj>,
}

impl StoreSnapshot {
    /// The status of `key` in `kind` (`"courses"`, `"enrollments"`, …), if it exists.
    pub fn status(&self, kind: &str, key: &str) -> Option<&str> {
        self.kind(kind)?.get(key).map(|o| o.status.as_str())
    }

    /// One kind's map by its plural name.
    pub fn kind(&self, kind: &str) -> Option<&BTreeMap<String, Obj>> {
        Some(match kind {
            "accounts" => &self.accounts,
            "terms" => &self.terms,
            "courses" => &self.courses,
            "sections" => &self.sections,
            "users" => &self.users,
            "enrollments" => &self.enrollments,
            "xlists" => &self.xlists,
            "group_categories" => &self.group_categories,
            "groups" => &self.groups,
            "group_memberships" => &self.group_memberships,
            "admins" => &self.admins,
            "user_observers" => &self.user_observers,
            _ => return None,
        })
    }
}

fn key_of(sis: &Option<String>, id: u64) -> String {
    sis.clone().unwrap_or_else(|| format!("#{id}"))
}

impl Store {
    fn term_sis(&self, term: u64) -> Option<String> {
        self.term(term).and_then(|t| t.sis.clone())
    }
    fn course_sis(&self, c: u64) -> String {
        self.course(c)
            .and_then(|c| c.sis.clone())
            .unwrap_or_default()
    }
    fn user_sis(&self, u: u64) -> String {
        self.sis_login(u, None, true)
            .and_then(|l| l.sis.clone())
            .unwrap_or_default()
    }

    pub fn snapshot(&self) -> StoreSnapshot {
        let mut s = StoreSnapshot::default();
        let f = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        for a in &self.accounts {
            let parent = a
                .parent
                .and_then(|p| self.account(p))
                .and_then(|p| p.sis.clone())
                .unwrap_or_default();
            s.accounts.insert(
                key_of(&a.sis, a.id),
                Obj {
                    canvas_id: a.id,
                    sis_id: a.sis.clone(),
                    status: a.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: a.batch,
                    fields: f(&[("name", a.name.clone()), ("parent_account_id", parent)]),
                },
            );
        }
        for t in &self.terms {
            s.terms.insert(
                key_of(&t.sis, t.id),
                Obj {
                    canvas_id: t.id,
                    sis_id: t.sis.clone(),
                    status: t.state.clone(),
                    term: t.sis.clone(),
                    term_id: Some(t.id),
                    sis_batch_id: t.batch,
                    fields: f(&[("name", t.name.clone())]),
                },
            );
        }
        for c in &self.courses {
            let account = self
                .account(c.account)
                .and_then(|a| a.sis.clone())
                .unwrap_or_default();
            s.courses.insert(
                key_of(&c.sis, c.id),
                Obj {
                    canvas_id: c.id,
                    sis_id: c.sis.clone(),
                    status: c.state.clone(),
                    term: self.term_sis(c.term),
                    term_id: Some(c.term),
                    sis_batch_id: c.batch,
                    fields: f(&[
                        ("short_name", c.short_name.clone()),
                        ("long_name", c.long_name.clone()),
                        ("account_id", account),
                    ]),
                },
            );
        }
        for x in &self.sections {
            let home = x.nonxlist.unwrap_or(x.course);
            let term = self.course_term(home);
            s.sections.insert(
                key_of(&x.sis, x.id),
                Obj {
                    canvas_id: x.id,
                    sis_id: x.sis.clone(),
                    status: x.state.clone(),
                    term: self.term_sis(term),
                    term_id: Some(term),
                    sis_batch_id: x.batch,
                    fields: f(&[
                        ("name", x.name.clone()),
                        ("course_id", self.course_sis(x.course)),
                        (
                            "nonxlist_course_id",
                            x.nonxlist.map(|n| self.course_sis(n)).unwrap_or_default(),
                        ),
                    ]),
                },
            );
            if let Some((course, state, batch)) = &x.xlist {
                let term = self.course_term(*course);
                s.xlists.insert(
                    key_of(&x.sis, x.id),
                    Obj {
                        canvas_id: x.id,
                        sis_id: x.sis.clone(),
                        status: state.clone(),
                        term: self.term_sis(term),
                        term_id: Some(term),
                        sis_batch_id: *batch,
                        fields: f(&[
                            ("xlist_course_id", self.course_sis(*course)),
                            ("section_id", x.sis.clone().unwrap_or_default()),
                        ]),
                    },
                );
            }
        }
        for l in &self.logins {
            let u = self.user(l.user);
            s.users.insert(
                key_of(&l.sis, l.id),
                Obj {
                    canvas_id: l.user,
                    sis_id: l.sis.clone(),
                    status: l.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: l.batch,
                    fields: f(&[
                        ("login_id", l.unique_id.clone()),
                        ("name", u.map(|u| u.name.clone()).unwrap_or_default()),
                        (
                            "sortable_name",
                            u.map(|u| u.sortable_name.clone()).unwrap_or_default(),
                        ),
                        ("email", u.and_then(|u| u.email.clone()).unwrap_or_default()),
                        ("login_canvas_id", l.id.to_string()),
                    ]),
                },
            );
        }
        for e in &self.enrollments {
            let sec = self.section(e.section);
            let sec_sis = sec.and_then(|s| s.sis.clone()).unwrap_or_default();
            let course = self.course_sis(e.course);
            let user = self
                .sis_login(e.user, e.sis_pseudonym, true)
                .and_then(|l| l.sis.clone())
                .unwrap_or_default();
            let role = sis_role(e.kind);
            let mut key = format!("{course}|{sec_sis}|{user}|{role}");
            let assoc = e.assoc.map(|a| self.user_sis(a)).unwrap_or_default();
            if e.assoc.is_some() {
                key.push('|');
                key.push_str(&assoc);
            }
            let term = self.course_term(e.course);
            s.enrollments.insert(
                key,
                Obj {
                    canvas_id: e.id,
                    sis_id: None,
                    status: e.state.clone(),
                    term: self.term_sis(term),
                    term_id: Some(term),
                    sis_batch_id: e.batch,
                    fields: f(&[
                        ("course_id", course),
                        ("section_id", sec_sis),
                        ("user_id", user),
                        ("role", role.to_string()),
                        ("type", e.kind.to_string()),
                        ("associated_user_id", assoc),
                    ]),
                },
            );
        }
        let ctx_fields = |c: &Ctx| -> (String, String) {
            match c {
                Ctx::Account(a) => (
                    self.account(*a)
                        .and_then(|a| a.sis.clone())
                        .unwrap_or_default(),
                    String::new(),
                ),
                Ctx::Course(c) => (String::new(), self.course_sis(*c)),
            }
        };
        for g in &self.categories {
            let (a, c) = ctx_fields(&g.context);
            s.group_categories.insert(
                key_of(&g.sis, g.id),
                Obj {
                    canvas_id: g.id,
                    sis_id: g.sis.clone(),
                    status: if g.deleted { "deleted" } else { "active" }.into(),
                    term: None,
                    term_id: None,
                    sis_batch_id: g.batch,
                    fields: f(&[
                        ("name", g.name.clone()),
                        ("account_id", a),
                        ("course_id", c),
                    ]),
                },
            );
        }
        for g in &self.groups {
            let (a, c) = ctx_fields(&g.context);
            let cat = g
                .category
                .and_then(|id| self.categories.iter().find(|x| x.id == id))
                .and_then(|x| x.sis.clone())
                .unwrap_or_default();
            s.groups.insert(
                key_of(&g.sis, g.id),
                Obj {
                    canvas_id: g.id,
                    sis_id: g.sis.clone(),
                    status: g.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: g.batch,
                    fields: f(&[
                        ("name", g.name.clone()),
                        ("group_category_id", cat),
                        ("account_id", a),
                        ("course_id", c),
                    ]),
                },
            );
        }
        for m in &self.memberships {
            let g = self
                .group(m.group)
                .and_then(|g| g.sis.clone())
                .unwrap_or_default();
            let u = self.user_sis(m.user);
            s.group_memberships.insert(
                format!("{g}|{u}"),
                Obj {
                    canvas_id: m.id,
                    sis_id: None,
                    status: m.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: m.batch,
                    fields: f(&[("group_id", g), ("user_id", u)]),
                },
            );
        }
        for a in &self.admins {
            let acct = if a.account == ROOT_ACCOUNT {
                String::new()
            } else {
                self.account(a.account)
                    .and_then(|x| x.sis.clone())
                    .unwrap_or_default()
            };
            let u = self.user_sis(a.user);
            s.admins.insert(
                format!("{acct}|{u}|{}", a.role),
                Obj {
                    canvas_id: a.id,
                    sis_id: None,
                    status: a.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: a.batch,
                    fields: f(&[
                        ("account_id", acct),
                        ("user_id", u),
                        ("role", a.role.clone()),
                    ]),
                },
            );
        }
        for o in &self.observers {
            let (ob, st) = (self.user_sis(o.observer), self.user_sis(o.student));
            s.user_observers.insert(
                format!("{ob}|{st}"),
                Obj {
                    canvas_id: o.id,
                    sis_id: None,
                    status: o.state.clone(),
                    term: None,
                    term_id: None,
                    sis_batch_id: o.batch,
                    fields: f(&[("observer_id", ob), ("student_id", st)]),
                },
            );
        }
        s
    }
}

// ---------------------------------------------------------------- roll-back data

/// The Canvas types whose state changes an import records for `restore_states`, in
/// `SisBatchRollBackData::RESTORE_ORDER` (app/models/sis_batch_roll_back_data.rb), less the
/// ones this store does not keep (AbstractCourse, CommunicationChannel).
pub(crate) const ROLL_BACK_TYPES: &[&str] = &[
    "Account",
    "EnrollmentTerm",
    "Course",
    "CourseSection",
    "GroupCategory",
    "Group",
    "Pseudonym",
    "Enrollment",
    "GroupMembership",
    "UserObserver",
    "AccountUser",
];

/// One `SisBatchRollBackData` row: an object an import created, or whose workflow state it
/// changed (`should_create_roll_back?`).
#[derive(Clone, Debug)]
pub(crate) struct RollBack {
    /// An entry of [`ROLL_BACK_TYPES`].
    pub ty: &'static str,
    /// The object's index in its kind's list (objects are never removed).
    pub idx: usize,
    /// `previous_workflow_state`; `None` is Canvas's "non-existent" (the import made it).
    pub previous: Option<String>,
    /// `updated_workflow_state`.
    pub updated: String,
    /// Changed by batch-mode cleanup (`remove_previous_imports`).
    pub batch_mode_delete: bool,
    /// Its `workflow_state` is `restored` (a restore has applied it).
    pub restored: bool,
}

impl RollBack {
    /// `SisBatchRollBackData#restore_to_state`: what the object goes back to. A group
    /// category is active or deleted (`deleted_at`); anything the import made is deleted.
    pub fn restore_to_state(&self) -> String {
        match (self.ty, self.previous.as_deref()) {
            ("GroupCategory", Some("active")) => "active".into(),
            ("GroupCategory", _) => "deleted".into(),
            (_, None) => "deleted".into(),
            (_, Some(p)) => p.to_string(),
        }
    }
}

/// Every object's workflow state, per type of [`ROLL_BACK_TYPES`], at one moment.
pub(crate) struct StateImage(Vec<Vec<String>>);

impl Store {
    fn states_of(&self, ty: &str) -> Vec<String> {
        fn st<T>(v: &[T], f: impl Fn(&T) -> &str) -> Vec<String> {
            v.iter().map(|x| f(x).to_string()).collect()
        }
        match ty {
            "Account" => st(&self.accounts, |x| &x.state),
            "EnrollmentTerm" => st(&self.terms, |x| &x.state),
            "Course" => st(&self.courses, |x| &x.state),
            "CourseSection" => st(&self.sections, |x| &x.state),
            "GroupCategory" => st(&self.categories, |x| {
                if x.deleted { "deleted" } else { "active" }
            }),
            "Group" => st(&self.groups, |x| &x.state),
            "Pseudonym" => st(&self.logins, |x| &x.state),
            "Enrollment" => st(&self.enrollments, |x| &x.state),
            "GroupMembership" => st(&self.memberships, |x| &x.state),
            "UserObserver" => st(&self.observers, |x| &x.state),
            "AccountUser" => st(&self.admins, |x| &x.state),
            _ => Vec::new(),
        }
    }

    /// The states now, to compare with after an import's step ([`Store::changes_since`]).
    pub fn state_image(&self) -> StateImage {
        StateImage(ROLL_BACK_TYPES.iter().map(|t| self.states_of(t)).collect())
    }

    /// The roll-back rows for what changed since `before`: one per object created or whose
    /// state differs. Canvas writes a row per save (`SisBatchRollBackData.build_data`); one
    /// row per object, from its state before the step, restores to the same place.
    pub fn changes_since(&self, before: &StateImage, batch_mode_delete: bool) -> Vec<RollBack> {
        let mut out = Vec::new();
        for (ti, ty) in ROLL_BACK_TYPES.iter().enumerate() {
            let old = &before.0[ti];
            for (idx, now) in self.states_of(ty).into_iter().enumerate() {
                let previous = old.get(idx).cloned();
                if previous.as_deref() != Some(now.as_str()) {
                    out.push(RollBack {
                        ty,
                        idx,
                        previous,
                        updated: now,
                        batch_mode_delete,
                        restored: false,
                    });
                }
            }
        }
        out
    }

    /// Put one object back in `state` (`SisBatch#restore_sql`: the workflow state only;
    /// `restore_group_categories` for a category's `deleted_at`).
    pub fn set_state(&mut self, ty: &str, idx: usize, state: &str) {
        let slot = match ty {
            "Account" => self.accounts.get_mut(idx).map(|x| &mut x.state),
            "EnrollmentTerm" => self.terms.get_mut(idx).map(|x| &mut x.state),
            "Course" => self.courses.get_mut(idx).map(|x| &mut x.state),
            "CourseSection" => self.sections.get_mut(idx).map(|x| &mut x.state),
            "GroupCategory" => {
                if let Some(c) = self.categories.get_mut(idx) {
                    c.deleted = state != "active";
                }
                None
            }
            "Group" => self.groups.get_mut(idx).map(|x| &mut x.state),
            "Pseudonym" => self.logins.get_mut(idx).map(|x| &mut x.state),
            "Enrollment" => self.enrollments.get_mut(idx).map(|x| &mut x.state),
            "GroupMembership" => self.memberships.get_mut(idx).map(|x| &mut x.state),
            "UserObserver" => self.observers.get_mut(idx).map(|x| &mut x.state),
            "AccountUser" => self.admins.get_mut(idx).map(|x| &mut x.state),
            _ => None,
        };
        if let Some(s) = slot {
            *s = state.to_string();
        }
    }
}
