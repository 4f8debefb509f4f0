//! The declarative table of Canvas SIS CSV kinds (reference §6.3 and §6.4).
//!
//! Every kind is one [`Kind`] entry in [`KINDS`], in Canvas's first-match order.
//! Adding a kind or a column is one entry here; nothing else needs to change.
//!
//! Message templates: `{value}` is the offending value, `{col}` the column name,
//! and `{name}` the row's (trimmed) value of column `name` (empty when absent);
//! `{name?then|else}` expands `then` when column `name` has a value, else `else`.

/// Identifier namespaces used for duplicate and cross-reference checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Ns {
    User = 0,
    UserIntegration,
    Login,
    Account,
    Term,
    AbstractCourse,
    Course,
    Section,
    GroupCategory,
    Group,
    TagSet,
    Tag,
    InstCategory,
    InstTag,
    /// A group category's name in its account or course.
    GroupCategoryName,
}

pub const NS_COUNT: usize = 15;

impl Ns {
    pub fn label(self) -> &'static str {
        match self {
            Ns::User => "user",
            Ns::UserIntegration => "user integration_id",
            Ns::Login => "login",
            Ns::Account => "account",
            Ns::Term => "term",
            Ns::AbstractCourse => "abstract course",
            Ns::Course => "course",
            Ns::Section => "section",
            Ns::GroupCategory => "group category",
            Ns::Group => "group",
            Ns::TagSet => "differentiation tag set",
            Ns::Tag => "differentiation tag",
            Ns::InstCategory => "institutional tag category",
            Ns::InstTag => "institutional tag",
            Ns::GroupCategoryName => "group category name",
        }
    }
}

/// How an enum value is matched (always after trimming).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// Case-insensitive prefix (`Active`, `active_whatever` pass `active`).
    Prefix,
    /// Case-insensitive, whole value.
    Exact,
    /// Case-sensitive, whole value.
    ExactCase,
}

/// The rule a non-empty value must follow.
#[derive(Clone, Copy, Debug)]
pub enum Rule {
    Text,
    Enum {
        values: &'static [&'static str],
        mode: Match,
        /// `<delete>` is accepted too.
        delete: bool,
    },
    /// Lenient ISO-8601-ish date/time (Rails `Time.zone.parse`).
    Date {
        delete: bool,
    },
    Email,
    /// Digits only.
    Int,
    /// `value_to_boolean` (§1.1): anything is accepted, odd values are linted.
    Bool,
    /// A login: a pseudonym's `unique_id`, at most 100 characters, all printable
    /// (`Pseudonym` validations). `too_long` is the message for a login over 100
    /// characters; the column's `invalid` the one for a character that is not printable.
    Login {
        too_long: &'static str,
    },
}

/// When a value is required (a missing one skips the row, with a warning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Req {
    No,
    /// The value is required: a missing one skips the row.
    Yes,
    /// The column must be in the header; blank values are fine.
    Header,
    /// Required unless the named column has a value.
    UnlessSet(&'static str),
    /// Required unless the row's status starts with `deleted`.
    UnlessDeleted,
}

#[derive(Clone, Copy, Debug)]
pub struct Col {
    pub name: &'static str,
    pub rule: Rule,
    pub req: Req,
    /// Template for a missing required value ("" = a generic text).
    pub missing: &'static str,
    /// Template for a value that breaks `rule` ("" = a generic text).
    pub invalid: &'static str,
    /// This column references an id of that namespace.
    pub refers: Option<Ns>,
    /// Whether a bad value skips the row (Canvas) or only warns (dates, booleans).
    pub skips: bool,
}

/// At least one of `cols` must have a value.
#[derive(Clone, Copy, Debug)]
pub struct OneOf {
    pub cols: &'static [&'static str],
    pub missing: &'static str,
    /// Required only for rows that create a new object: a header without any of
    /// `cols` is then a warning, not an error (rows updating existing ones are fine).
    pub new_only: bool,
}

/// A rule on two columns of a row.
#[derive(Clone, Copy, Debug)]
pub enum Pair {
    /// Not both set.
    NotBoth(&'static str, &'static str, &'static str),
    /// Must differ when both set.
    Differ(&'static str, &'static str, &'static str),
    /// When column `a` equals (case-insensitively) `v`, column `b` (and `c`) must be empty.
    EmptyWhen(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
}

/// A value unique among the rows of its scope that are not deleted (a group category's
/// name in its account or course): a later row with another id gets `message`.
#[derive(Clone, Copy, Debug)]
pub struct UniqueIn {
    pub col: &'static str,
    /// The scope: the first of these columns that has a value (with the name of what
    /// it holds, for the hint)…
    pub scope: &'static [(&'static str, &'static str)],
    /// …else this one.
    pub root: &'static str,
    pub ns: Ns,
    pub message: &'static str,
}

#[derive(Debug)]
pub struct Kind {
    /// Canvas's `supplied_batches` name.
    pub name: &'static str,
    /// Recognition: all of these columns…
    pub all: &'static [&'static str],
    /// …and at least one column of each group…
    pub any: &'static [&'static [&'static str]],
    /// …and none of these.
    pub none: &'static [&'static str],
    pub cols: &'static [Col],
    pub one_of: &'static [OneOf],
    pub pairs: &'static [Pair],
    /// The id this kind defines (duplicates reported, references resolved).
    pub defines: Option<(Ns, &'static str)>,
    /// Extra columns making up the duplicate key with the id.
    pub dup_extra: &'static [&'static str],
    /// Other columns that must be unique across the bundle (e.g. `login_id`).
    pub unique: &'static [(&'static str, Ns)],
    /// Columns unique within a scope (see [`UniqueIn`]).
    pub unique_in: &'static [UniqueIn],
}

impl Kind {
    pub fn col(&self, name: &str) -> Option<usize> {
        self.cols.iter().position(|c| c.name == name)
    }
    /// Whether a (lower-cased, trimmed) header matches this kind's recognition rule.
    pub fn matches(&self, has: &dyn Fn(&str) -> bool) -> bool {
        self.all.iter().all(|c| has(c))
            && self.any.iter().all(|g| g.iter().any(|c| has(c)))
            && !self.none.iter().any(|c| has(c))
    }
    /// Columns that identify this kind (used to guess what a header meant).
    pub fn recognition_columns(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.all
            .iter()
            .copied()
            .chain(self.any.iter().filter_map(|g| g.first().copied()))
    }
}

// ---- compact constructors -------------------------------------------------

const fn t(name: &'static str) -> Col {
    Col {
        name,
        rule: Rule::Text,
        req: Req::No,
        missing: "",
        invalid: "",
        refers: None,
        skips: true,
    }
}
const fn req(name: &'static str, missing: &'static str) -> Col {
    Col {
        req: Req::Yes,
        missing,
        ..t(name)
    }
}
const fn reqref(name: &'static str, missing: &'static str, ns: Ns) -> Col {
    Col {
        req: Req::Yes,
        missing,
        refers: Some(ns),
        ..t(name)
    }
}
const fn r(name: &'static str, ns: Ns) -> Col {
    Col {
        refers: Some(ns),
        ..t(name)
    }
}
const fn status(
    values: &'static [&'static str],
    mode: Match,
    missing: &'static str,
    invalid: &'static str,
) -> Col {
    Col {
        rule: Rule::Enum {
            values,
            mode,
            delete: false,
        },
        req: Req::Yes,
        missing,
        invalid,
        ..t("status")
    }
}
const fn en(
    name: &'static str,
    values: &'static [&'static str],
    mode: Match,
    invalid: &'static str,
) -> Col {
    Col {
        rule: Rule::Enum {
            values,
            mode,
            delete: false,
        },
        invalid,
        ..t(name)
    }
}
const fn date(name: &'static str, delete: bool, invalid: &'static str) -> Col {
    Col {
        rule: Rule::Date { delete },
        invalid,
        skips: false,
        ..t(name)
    }
}
const fn boolean(name: &'static str) -> Col {
    Col {
        rule: Rule::Bool,
        skips: false,
        ..t(name)
    }
}
const fn int(name: &'static str, invalid: &'static str) -> Col {
    Col {
        rule: Rule::Int,
        invalid,
        ..t(name)
    }
}
const fn email(name: &'static str, invalid: &'static str) -> Col {
    Col {
        rule: Rule::Email,
        invalid,
        ..t(name)
    }
}
const fn with_req(c: Col, req: Req, missing: &'static str) -> Col {
    Col { req, missing, ..c }
}

const ACTIVE_DELETED: &[&str] = &["active", "deleted"];
const EMPTY: &[&str] = &[];

const USER_EMAIL: &str =
    "The email address associated with user '{user_id}' is invalid (email: '{value}')";

/// How the users importer words a login the pseudonym refuses to save (its
/// `generate_user_warning`: "unique_id is invalid" becomes "Invalid login_id", any other
/// model error is an "Unknown reason"), for users.csv and logins.csv alike.
const LOGIN_TOO_LONG: &str = "Could not save the user with user_id: '{user_id}'. Unknown reason: unique_id is too long (maximum is 100 characters)";
const LOGIN_INVALID: &str =
    "Could not save the user with user_id: '{user_id}'. Invalid login_id: '{value}'";

const fn login(name: &'static str, missing: &'static str) -> Col {
    Col {
        rule: Rule::Login {
            too_long: LOGIN_TOO_LONG,
        },
        invalid: LOGIN_INVALID,
        ..req(name, missing)
    }
}

const ENROLLMENT_DATE: &str =
    "Bad date format for user {user_id} in {course_id?course {course_id}|section {section_id}}";

/// The 22 kinds, in Canvas's recognition (and processing) order.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "change_sis_id",
        all: EMPTY,
        any: &[&["old_id", "old_integration_id"]],
        none: EMPTY,
        cols: &[
            t("old_id"),
            t("old_integration_id"),
            t("new_id"),
            // `<delete>` is accepted here; any other value is an id.
            t("new_integration_id"),
            Col {
                rule: Rule::Enum {
                    values: &[
                        "account",
                        "term",
                        "course",
                        "section",
                        "group",
                        "group_category",
                        "user",
                    ],
                    mode: Match::Exact,
                    delete: false,
                },
                req: Req::Yes,
                missing: "No type given for change_sis_id",
                invalid: "Invalid type '{value}' for change_sis_id",
                ..t("type")
            },
        ],
        one_of: &[
            OneOf {
                cols: &["old_id", "old_integration_id"],
                missing: "No old_id or old_integration_id given for change_sis_id",
                new_only: false,
            },
            OneOf {
                cols: &["new_id", "new_integration_id"],
                missing: "No new_id or new_integration_id given for change_sis_id",
                new_only: false,
            },
        ],
        pairs: &[Pair::EmptyWhen(
            "type",
            "group_category",
            "old_integration_id",
            "new_integration_id",
            "Group categories should not have integration IDs.",
        )],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "account",
        all: &["account_id", "parent_account_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("account_id", "No account_id given for an account"),
            Col {
                req: Req::Header,
                refers: Some(Ns::Account),
                ..t("parent_account_id")
            },
            t("name"),
            Col {
                req: Req::No,
                ..status(
                    ACTIVE_DELETED,
                    Match::Prefix,
                    "",
                    "Improper status \"{value}\" for account {account_id}, skipping",
                )
            },
            t("integration_id"),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::Account, "account_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "term",
        all: &["term_id", "name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("term_id", "No term_id given for a term"),
            with_req(
                t("name"),
                Req::UnlessSet("date_override_enrollment_type"),
                "No name given for term {term_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "Improper status \"\" for term {term_id}",
                "Improper status \"{value}\" for term {term_id}",
            ),
            t("integration_id"),
            date("start_date", false, "Bad date format for term {term_id}"),
            date("end_date", false, "Bad date format for term {term_id}"),
            en(
                "date_override_enrollment_type",
                &[
                    "StudentEnrollment",
                    "TeacherEnrollment",
                    "TaEnrollment",
                    "DesignerEnrollment",
                ],
                Match::ExactCase,
                "Invalid date_override_enrollment_type",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::Term, "term_id")),
        dup_extra: &["date_override_enrollment_type"],
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "abstract_course",
        all: &["abstract_course_id", "short_name"],
        any: &[],
        none: &["course_id"],
        cols: &[
            req(
                "abstract_course_id",
                "No abstract_course_id given for an abstract course",
            ),
            req(
                "short_name",
                "No short_name given for abstract course {abstract_course_id}",
            ),
            req(
                "long_name",
                "No long_name given for abstract course {abstract_course_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "Improper status \"\" for abstract course {abstract_course_id}",
                "Improper status \"{value}\" for abstract course {abstract_course_id}",
            ),
            r("term_id", Ns::Term),
            r("account_id", Ns::Account),
            r("fallback_account_id", Ns::Account),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::AbstractCourse, "abstract_course_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "course",
        all: &["course_id", "short_name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("course_id", "No course_id given for a course"),
            with_req(
                t("short_name"),
                Req::UnlessSet("abstract_course_id"),
                "No short_name given for course {course_id}",
            ),
            with_req(
                t("long_name"),
                Req::UnlessSet("abstract_course_id"),
                "No long_name given for course {course_id}",
            ),
            status(
                &["active", "deleted", "completed", "published", "unpublished"],
                Match::Prefix,
                "Improper status \"\" for course {course_id}",
                "Improper status \"{value}\" for course {course_id}",
            ),
            r("account_id", Ns::Account),
            r("term_id", Ns::Term),
            t("integration_id"),
            date("start_date", true, "Bad date format for course {course_id}"),
            date("end_date", true, "Bad date format for course {course_id}"),
            en(
                "course_format",
                &["on_campus", "online", "blended", "not_set"],
                Match::Exact,
                "Invalid course_format \"{value}\" for course {course_id}",
            ),
            t("blueprint_course_id"),
            en(
                "grade_passback_setting",
                &["nightly_sync", "disabled", "not_set"],
                Match::Exact,
                "Invalid grade_passback_setting \"{value}\" for course {course_id}",
            ),
            boolean("homeroom_course"),
            t("friendly_name"),
            r("abstract_course_id", Ns::AbstractCourse),
            r("fallback_account_id", Ns::Account),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::Course, "course_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "section",
        all: &["section_id", "name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req(
                "section_id",
                "No section_id given for a section in course {course_id}",
            ),
            reqref(
                "course_id",
                "No course_id given for a section {section_id}",
                Ns::Course,
            ),
            with_req(
                t("name"),
                Req::UnlessDeleted,
                "No name given for section {section_id} in course {course_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "Improper status \"\" for section {section_id} in course {course_id}",
                "Improper status \"{value}\" for section {section_id} in course {course_id}",
            ),
            t("integration_id"),
            date(
                "start_date",
                false,
                "Bad date format for section {section_id}",
            ),
            date(
                "end_date",
                false,
                "Bad date format for section {section_id}",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::Section, "section_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "xlist",
        all: &["xlist_course_id", "section_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            req(
                "xlist_course_id",
                "No xlist_course_id given for a cross-listing",
            ),
            reqref(
                "section_id",
                "No section_id given for a cross-listing",
                Ns::Section,
            ),
            status(
                ACTIVE_DELETED,
                Match::Exact,
                "Improper status \"\" for a cross-listing",
                "Improper status \"{value}\" for a cross-listing",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "user",
        all: &["user_id", "login_id"],
        any: &[],
        none: &[
            "existing_user_id",
            "existing_integration_id",
            "existing_canvas_user_id",
        ],
        cols: &[
            req("user_id", "No user_id given for a user"),
            login("login_id", "No login_id given for user {user_id}"),
            status(
                &["active", "suspended", "deleted"],
                Match::Prefix,
                "No status given for user {user_id}",
                "Improper status for user {user_id}",
            ),
            t("integration_id"),
            t("authentication_provider_id"),
            t("password"),
            t("ssha_password"),
            t("first_name"),
            t("last_name"),
            t("full_name"),
            t("sortable_name"),
            t("short_name"),
            email("email", USER_EMAIL),
            t("pronouns"),
            Col {
                rule: Rule::Enum {
                    values: &[
                        "administrative",
                        "observer",
                        "staff",
                        "student",
                        "student_other",
                        "teacher",
                    ],
                    mode: Match::Exact,
                    delete: true,
                },
                invalid: "Invalid declared_user_type \"{value}\" for user {user_id}",
                skips: false,
                ..t("declared_user_type")
            },
            boolean("canvas_password_notification"),
            boolean("home_account"),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::User, "user_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[
            ("login_id", Ns::Login),
            ("integration_id", Ns::UserIntegration),
        ],
    },
    Kind {
        name: "login",
        all: &[],
        any: &[&[
            "existing_user_id",
            "existing_integration_id",
            "existing_canvas_user_id",
        ]],
        none: EMPTY,
        cols: &[
            req("user_id", "No user_id given for a user"),
            login("login_id", "No login_id given for user {user_id}"),
            t("existing_user_id"),
            t("existing_integration_id"),
            int(
                "existing_canvas_user_id",
                "Could not find the existing user for login with SIS ID {user_id}, skipping",
            ),
            t("root_account"),
            t("integration_id"),
            t("password"),
            t("ssha_password"),
            t("authentication_provider_id"),
            email("email", USER_EMAIL),
        ],
        one_of: &[OneOf {
            cols: &[
                "existing_user_id",
                "existing_integration_id",
                "existing_canvas_user_id",
            ],
            missing: "No existing user provided for login with SIS ID {user_id}",
            new_only: false,
        }],
        pairs: &[],
        defines: Some((Ns::User, "user_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[("login_id", Ns::Login)],
    },
    Kind {
        name: "enrollment",
        all: &[],
        any: &[
            &["course_id", "section_id"],
            &["user_id", "user_integration_id"],
        ],
        none: EMPTY,
        cols: &[
            r("course_id", Ns::Course),
            r("section_id", Ns::Section),
            r("user_id", Ns::User),
            r("user_integration_id", Ns::UserIntegration),
            t("role"),
            // A role_id that is no integer: Canvas goes by `role` (see rules.rs).
            int("role_id", "Improper role \"{role}\" for an enrollment"),
            status(
                &[
                    "active",
                    "deleted",
                    "completed",
                    "inactive",
                    "deleted_last_completed",
                ],
                Match::Prefix,
                "Improper status \"\" for an enrollment",
                "Improper status \"{value}\" for an enrollment",
            ),
            date("start_date", false, ENROLLMENT_DATE),
            date("end_date", false, ENROLLMENT_DATE),
            r("associated_user_id", Ns::User),
            boolean("limit_section_privileges"),
            boolean("notify"),
            r("temporary_enrollment_source_user_id", Ns::User),
            t("root_account"),
        ],
        one_of: &[
            OneOf {
                cols: &["course_id", "section_id"],
                missing: "No course_id or section_id given for an enrollment",
                new_only: false,
            },
            OneOf {
                cols: &["user_id", "user_integration_id"],
                missing: "No user_id given for an enrollment",
                new_only: false,
            },
            OneOf {
                cols: &["role", "role_id"],
                missing: "Improper role \"\" for an enrollment",
                new_only: false,
            },
        ],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "admin",
        all: &["account_id", "user_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            reqref("user_id", "No user_id given for admin", Ns::User),
            Col {
                req: Req::Header,
                refers: Some(Ns::Account),
                ..t("account_id")
            },
            t("role"),
            int("role_id", "Invalid role_id '{value}' for admin"),
            status(
                ACTIVE_DELETED,
                Match::Exact,
                "No status given for admin",
                "Invalid status {value} for admin",
            ),
            t("root_account"),
        ],
        one_of: &[OneOf {
            cols: &["role", "role_id"],
            missing: "No role_id or role given for admin",
            new_only: false,
        }],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "group_category",
        all: &["group_category_id", "category_name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("group_category_id", "No sis_id given for a group category"),
            req(
                "category_name",
                "No name given for group category {group_category_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "No status given for group category {group_category_id}",
                "Improper status \"{value}\" for group category {group_category_id}, skipping",
            ),
            r("account_id", Ns::Account),
            r("course_id", Ns::Course),
        ],
        one_of: &[],
        pairs: &[Pair::NotBoth(
            "course_id",
            "account_id",
            "Only one context is allowed and both course_id and account_id where provided for group category {group_category_id}.",
        )],
        defines: Some((Ns::GroupCategory, "group_category_id")),
        dup_extra: EMPTY,
        // The `GroupCategory` name validation: unique among the context's categories
        // that are not deleted, compared case-sensitively.
        unique_in: &[UniqueIn {
            col: "category_name",
            scope: &[("course_id", "course"), ("account_id", "account")],
            root: "the root account",
            ns: Ns::GroupCategoryName,
            message: "A group category did not pass validation (group category: {group_category_id}, error: Name {category_name} is already in use.)",
        }],
        unique: &[],
    },
    Kind {
        name: "differentiation_tag_set",
        all: &["tag_set_id", "set_name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req(
                "tag_set_id",
                "No sis_id given for a differentiation tag set",
            ),
            reqref(
                "course_id",
                "No course_id given for differentiation tag set {tag_set_id}",
                Ns::Course,
            ),
            req(
                "set_name",
                "No name given for differentiation tag set {tag_set_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "No status given for differentiation tag set {tag_set_id}",
                "Improper status \"{value}\" for differentiation tag set {tag_set_id}, skipping",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::TagSet, "tag_set_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "group",
        all: &["group_id", "name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("group_id", "No group_id given for a group."),
            req("name", "No name given for group {group_id}."),
            status(
                &["available", "deleted", "closed", "completed"],
                Match::Prefix,
                "Improper status \"\" for group {group_id}.",
                "Improper status \"{value}\" for group {group_id}.",
            ),
            r("group_category_id", Ns::GroupCategory),
            r("account_id", Ns::Account),
            r("course_id", Ns::Course),
        ],
        one_of: &[],
        pairs: &[Pair::NotBoth(
            "course_id",
            "account_id",
            "Only one context is allowed and both course_id and account_id where provided for group {group_id}.",
        )],
        defines: Some((Ns::Group, "group_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "differentiation_tag",
        all: &["tag_id", "name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("tag_id", "No tag_id given for a differentiation tag."),
            req("name", "No name given for differentiation tag {tag_id}."),
            status(
                &["available", "deleted"],
                Match::Prefix,
                "Improper status \"\" for differentiation tag {tag_id}.",
                "Improper status \"{value}\" for differentiation tag {tag_id}.",
            ),
            r("tag_set_id", Ns::TagSet),
            r("course_id", Ns::Course),
        ],
        one_of: &[OneOf {
            cols: &["tag_set_id", "course_id"],
            missing: "No tag_set_id or course_id given for differentiation tag {tag_id}. At least one is required for new tags.",
            new_only: true,
        }],
        pairs: &[],
        defines: Some((Ns::Tag, "tag_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "group_membership",
        all: &["group_id", "user_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            reqref("group_id", "No group_id given for a group user", Ns::Group),
            reqref("user_id", "No user_id given for a group user", Ns::User),
            status(
                &["accepted", "deleted"],
                Match::Prefix,
                "Improper status \"\" for a group user",
                "Improper status \"{value}\" for a group user",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "differentiation_tag_membership",
        all: &["tag_id", "user_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            reqref(
                "tag_id",
                "No tag_id given for a differentiation tag user",
                Ns::Tag,
            ),
            reqref(
                "user_id",
                "No user_id given for a differentiation tag user",
                Ns::User,
            ),
            status(
                &["accepted", "deleted"],
                Match::Prefix,
                "Improper status \"\" for a differentiation tag user",
                "Improper status \"{value}\" for a differentiation tag user",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "institutional_tag_category",
        all: &["category_id", "name"],
        any: &[],
        none: &["tag_id", "institutional_tag_id"],
        cols: &[
            req(
                "category_id",
                "No category_id given for an institutional tag category",
            ),
            req(
                "name",
                "No name given for institutional tag category {category_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "No status given for institutional tag category {category_id}",
                "Improper status \"{value}\" for institutional tag category {category_id}",
            ),
            t("description"),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::InstCategory, "category_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "institutional_tag",
        all: &["institutional_tag_id", "category_id", "name"],
        any: &[],
        none: EMPTY,
        cols: &[
            req(
                "institutional_tag_id",
                "No institutional_tag_id given for an institutional tag",
            ),
            reqref(
                "category_id",
                "No category_id given for institutional tag {institutional_tag_id}",
                Ns::InstCategory,
            ),
            req(
                "name",
                "No name given for institutional tag {institutional_tag_id}",
            ),
            req(
                "description",
                "No description given for institutional tag {institutional_tag_id}",
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "No status given for institutional tag {institutional_tag_id}",
                "Improper status \"{value}\" for institutional tag {institutional_tag_id}",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: Some((Ns::InstTag, "institutional_tag_id")),
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "institutional_tag_association",
        all: &["institutional_tag_id", "user_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            reqref(
                "institutional_tag_id",
                "No institutional_tag_id given for an institutional tag association",
                Ns::InstTag,
            ),
            reqref(
                "user_id",
                "No user_id given for an institutional tag association",
                Ns::User,
            ),
            status(
                ACTIVE_DELETED,
                Match::Prefix,
                "No status given for institutional tag association (tag: {institutional_tag_id}, user: {user_id})",
                "Improper status \"{value}\" for an institutional tag association",
            ),
        ],
        one_of: &[],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "grade_publishing_results",
        all: &["enrollment_id", "grade_publishing_status"],
        any: &[],
        none: EMPTY,
        cols: &[
            req("enrollment_id", "No enrollment_id given"),
            Col {
                rule: Rule::Enum {
                    values: &["published", "error"],
                    mode: Match::Exact,
                    delete: false,
                },
                req: Req::Yes,
                missing: "No grade_publishing_status given for enrollment {enrollment_id}",
                invalid: "Improper grade_publishing_status \"{value}\" for enrollment {enrollment_id}",
                ..t("grade_publishing_status")
            },
            t("message"),
        ],
        one_of: &[],
        pairs: &[],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
    Kind {
        name: "user_observer",
        all: &["observer_id", "student_id"],
        any: &[],
        none: EMPTY,
        cols: &[
            reqref(
                "observer_id",
                "No observer_id given for a user observer",
                Ns::User,
            ),
            reqref(
                "student_id",
                "No user_id given for a user observer",
                Ns::User,
            ),
            status(
                ACTIVE_DELETED,
                Match::Exact,
                "Improper status \"\" for a user_observer",
                "Improper status \"{value}\" for a user_observer",
            ),
        ],
        one_of: &[],
        pairs: &[Pair::Differ(
            "observer_id",
            "student_id",
            "Can't observe yourself user {observer_id}",
        )],
        defines: None,
        dup_extra: EMPTY,
        unique_in: &[],
        unique: &[],
    },
];

/// The kind Canvas would read a header as (first match), given lower-cased trimmed names.
pub fn recognise(has: &dyn Fn(&str) -> bool) -> Option<usize> {
    KINDS.iter().position(|k| k.matches(has))
}

pub fn kind_by_name(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_two_kinds_and_consistent_table() {
        assert_eq!(KINDS.len(), 22);
        for k in KINDS {
            for c in k.all.iter().chain(k.any.iter().flat_map(|g| g.iter())) {
                assert!(
                    k.col(c).is_some(),
                    "{}: recognition column {c} not in cols",
                    k.name
                );
            }
            for o in k.one_of {
                for c in o.cols {
                    assert!(k.col(c).is_some(), "{}: one_of {c}", k.name);
                }
            }
            if let Some((_, c)) = k.defines {
                assert!(k.col(c).is_some(), "{}: id {c}", k.name);
            }
            for (c, _) in k.unique {
                assert!(k.col(c).is_some(), "{}: unique {c}", k.name);
            }
            for c in k.dup_extra {
                assert!(k.col(c).is_some(), "{}: dup_extra {c}", k.name);
            }
            for u in k.unique_in {
                assert!(k.col(u.col).is_some(), "{}: unique_in {}", k.name, u.col);
                for (c, _) in u.scope {
                    assert!(k.col(c).is_some(), "{}: unique_in scope {c}", k.name);
                }
                assert!(k.defines.is_some(), "{}: unique_in needs an id", k.name);
            }
        }
    }

    #[test]
    fn first_match_order() {
        fn k(cols: &[&str]) -> Option<&'static str> {
            recognise(&|c: &str| cols.contains(&c)).map(|i| KINDS[i].name)
        }
        assert_eq!(
            k(&["section_id", "user_id", "role", "status", "name"]),
            Some("section")
        );
        assert_eq!(
            k(&["section_id", "user_id", "role", "status"]),
            Some("enrollment")
        );
        assert_eq!(
            k(&["term_id", "name", "course_id", "short_name"]),
            Some("term")
        );
        assert_eq!(
            k(&["group_id", "user_id", "status"]),
            Some("group_membership")
        );
        assert_eq!(
            k(&["user_id", "login_id", "existing_user_id"]),
            Some("login")
        );
        assert_eq!(
            k(&["abstract_course_id", "short_name", "course_id"]),
            Some("course")
        );
        assert_eq!(
            k(&["category_id", "name", "tag_id"]),
            Some("differentiation_tag")
        );
        assert_eq!(k(&["foo"]), None);
    }
}
