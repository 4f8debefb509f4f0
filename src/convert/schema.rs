//! The OneRoster 1.1 CSV files the converter reads: their columns, which ones it needs, and
//! the enumerations (reference §10.4; 1EdTech OneRoster v1.1 CSV binding).

/// One OneRoster CSV file.
pub struct FileSpec {
    /// The manifest's name for it (`file.<name>`); the file is `<name>.csv`.
    pub name: &'static str,
    /// The 1.1 header, in the binding's order (§10.4).
    pub cols: &'static [&'static str],
    /// Columns without which the file cannot be checked or converted (an error when absent);
    /// a missing column outside this list is a warning.
    pub required: &'static [&'static str],
    /// Columns OneRoster 1.2 adds to this file, accepted without a warning.
    pub v12: &'static [&'static str],
}

const COMMON_12: &[&str] = &["metadata"];

/// The files the converter reads, in the order it reads them: each one's references point
/// to files read before it (users' agents excepted: checked when users.csv ends).
pub const FILES: &[FileSpec] = &[
    FileSpec {
        name: "orgs",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ],
        required: &["sourcedId", "name", "type", "parentSourcedId"],
        v12: COMMON_12,
    },
    FileSpec {
        name: "academicSessions",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "type",
            "startDate",
            "endDate",
            "parentSourcedId",
            "schoolYear",
        ],
        required: &["sourcedId", "title", "type", "startDate", "endDate"],
        v12: COMMON_12,
    },
    FileSpec {
        name: "courses",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "schoolYearSourcedId",
            "title",
            "courseCode",
            "grades",
            "orgSourcedId",
            "subjects",
            "subjectCodes",
        ],
        required: &["sourcedId", "title", "orgSourcedId"],
        v12: &["metadata", "resourceSourcedIds"],
    },
    FileSpec {
        name: "classes",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "grades",
            "courseSourcedId",
            "classCode",
            "classType",
            "location",
            "schoolSourcedId",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
        ],
        required: &[
            "sourcedId",
            "title",
            "courseSourcedId",
            "classType",
            "schoolSourcedId",
            "termSourcedIds",
        ],
        v12: &["metadata", "resourceSourcedIds"],
    },
    FileSpec {
        name: "users",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
        ],
        required: &[
            "sourcedId",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "givenName",
            "familyName",
        ],
        v12: &[
            "metadata",
            "userMasterIdentifier",
            "resourceSourcedIds",
            "preferredGivenName",
            "preferredMiddleName",
            "preferredFamilyName",
            "primaryOrgSourcedId",
            "pronouns",
        ],
    },
    FileSpec {
        name: "enrollments",
        cols: &[
            "sourcedId",
            "status",
            "dateLastModified",
            "classSourcedId",
            "schoolSourcedId",
            "userSourcedId",
            "role",
            "primary",
            "beginDate",
            "endDate",
        ],
        required: &[
            "sourcedId",
            "classSourcedId",
            "schoolSourcedId",
            "userSourcedId",
            "role",
        ],
        v12: COMMON_12,
    },
];

/// OneRoster files that may be present and are not converted (no Canvas SIS kind takes them).
pub const NOT_CONVERTED: &[&str] = &[
    "demographics",
    "categories",
    "lineItems",
    "results",
    "classResources",
    "courseResources",
    "resources",
    "lineItemLearningObjectiveIds",
    "lineItemScoreScales",
    "resultLearningObjectiveIds",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
];

pub fn spec(name: &str) -> Option<&'static FileSpec> {
    FILES.iter().find(|f| f.name == name)
}

/// `status` (§10.4): blank in bulk files.
pub const STATUS: &[&str] = &["active", "tobedeleted"];
/// Org `type` (§10.4).
pub const ORG_TYPES: &[&str] = &[
    "department",
    "school",
    "district",
    "local",
    "state",
    "national",
];
/// academicSession `type` (§10.4).
pub const SESSION_TYPES: &[&str] = &["gradingPeriod", "semester", "schoolYear", "term"];
/// Class `classType` (OneRoster 1.1 CSV binding).
pub const CLASS_TYPES: &[&str] = &["homeroom", "scheduled"];
/// User `role` (§10.4).
pub const USER_ROLES: &[&str] = &[
    "administrator",
    "aide",
    "guardian",
    "parent",
    "proctor",
    "relative",
    "student",
    "teacher",
];
/// Enrollment `role`: 1.1's four (§10.4), plus `aide`, which OneRoster 1.2 allows and
/// SIS exports send for paraprofessionals.
pub const ENROLLMENT_ROLES: &[&str] = &["administrator", "aide", "proctor", "student", "teacher"];
/// Manifest `file.*` values (§10.4).
pub const MODES: &[&str] = &["absent", "bulk", "delta"];

/// The user roles that become observers of the students they are agents of.
pub fn is_guardian(role: &str) -> bool {
    matches!(role, "guardian" | "parent" | "relative")
}

/// `value` as it is spelled in `set`, compared case-insensitively (OneRoster's values are
/// case-sensitive, but a case slip is reported with the right spelling as a hint).
pub fn find(set: &[&'static str], value: &str) -> Option<&'static str> {
    set.iter().copied().find(|s| s.eq_ignore_ascii_case(value))
}
