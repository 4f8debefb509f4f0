//! The value rules: one short function per [`Rule`] of the kinds table, saying whether a
//! (trimmed, non-empty) value passes and, when not, how the finding reads.
//!
//! A rule function returns [`Verdict::Ok`] on its fast path; everything a finding needs
//! (hints, `format!`) is built only for a value that fails, in `#[cold]` code.

use std::borrow::Cow;

use super::kinds::{Col, Kind, Match, Rule};
use super::messages::nearest;
use super::values::{self, DateRead, LoginProblem};

/// The message of a value that breaks its rule when neither the rule nor the column
/// has one.
const GENERIC: &str = "Improper {col} \"{value}\" for {kind} {id}";

/// One value and the row it is in, as a rule sees it.
pub(super) struct Value<'a> {
    /// The trimmed value (never empty).
    pub val: &'a str,
    pub col: &'static Col,
    /// The column's index in the kind's columns.
    pub ci: usize,
    pub row: &'a RowValues<'a>,
}

/// The trimmed values of a row, by the kind's columns ("" when absent), and the
/// columns the row checks visit, in order.
pub(super) struct RowValues<'a> {
    pub kind: &'static Kind,
    pub vals: &'a [&'a str],
    pub active: &'a [usize],
}

impl RowValues<'_> {
    #[inline]
    pub fn v(&self, ci: usize) -> &str {
        self.vals[ci]
    }
}

/// What a rule says about a value: `Ok(())` when it passes (the fast path: nothing
/// is built), else a finding.
pub(super) type Verdict<'a> = Result<(), Box<Finding<'a>>>;

/// What a rule found in a value.
pub(super) enum Finding<'a> {
    /// Canvas accepts it, maybe not as meant: a warning, and the value is fine.
    Note {
        code: &'static str,
        message: String,
        hint: Option<String>,
    },
    /// It breaks the rule.
    Bad(Bad<'a>),
    /// It breaks the rule, but the row already has the one message Canvas gives for it.
    Quiet,
}

/// How a value that breaks its rule is reported: the message is `template`, else the
/// column's `invalid` template, else `fallback`.
pub(super) struct Bad<'a> {
    pub code: &'static str,
    pub hint: Option<String>,
    pub template: Option<&'static str>,
    pub fallback: &'static str,
    /// The value as the message shows it.
    pub shown: Cow<'a, str>,
}

impl<'a> Bad<'a> {
    fn new(code: &'static str, v: &Value<'a>) -> Self {
        Bad {
            code,
            hint: None,
            template: None,
            fallback: GENERIC,
            shown: Cow::Borrowed(v.val),
        }
    }
    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    fn verdict(self) -> Verdict<'a> {
        Err(Box::new(Finding::Bad(self)))
    }
    /// The message template for `col`.
    pub fn template(&self, col: &Col) -> &'static str {
        match self.template {
            Some(t) => t,
            None if !col.invalid.is_empty() => col.invalid,
            None => self.fallback,
        }
    }
}

impl Rule {
    /// Applies the rule to a trimmed, non-empty value.
    #[inline(always)]
    pub(super) fn check<'a>(self, v: &Value<'a>) -> Verdict<'a> {
        match self {
            Rule::Text => Ok(()),
            Rule::Enum {
                values,
                mode,
                delete,
            } => enumerated(v, values, mode, delete),
            Rule::Date { delete } => date(v, delete),
            Rule::Email => email(v),
            Rule::Int => integer(v),
            Rule::Bool => boolean(v),
            Rule::Login { too_long } => login(v, too_long),
        }
    }
}

#[inline(always)]
fn enumerated<'a>(v: &Value<'a>, values: &[&str], mode: Match, delete: bool) -> Verdict<'a> {
    if (delete && v.val == "<delete>") || values::enum_ok(v.val, values, mode) {
        return Ok(());
    }
    bad_enum(v, values, mode, delete)
}

#[cold]
fn bad_enum<'a>(v: &Value<'a>, values: &[&str], mode: Match, delete: bool) -> Verdict<'a> {
    let hint = match nearest(&v.val.to_ascii_lowercase(), values.iter().copied()) {
        Some(c) => format!("did you mean \"{c}\"?"),
        None => format!(
            "expected {}{}{}",
            values.join(", "),
            if delete { ", <delete>" } else { "" },
            if mode == Match::Prefix {
                " (prefix match)"
            } else {
                ""
            }
        ),
    };
    Bad::new("invalid_value", v).hint(hint).verdict()
}

/// Dates as Rails reads them. Canvas parses a row's dates in one `begin … rescue`: the
/// first bad one ends it, with one "Bad date format" message for the row (§6.4).
#[inline(always)]
fn date<'a>(v: &Value<'a>, delete: bool) -> Verdict<'a> {
    if delete && v.val == "<delete>" {
        return Ok(());
    }
    match values::read_date(v.val) {
        DateRead::Ok if v.row.kind.name == "enrollment" => lone_enrollment_date(v),
        DateRead::Ok => Ok(()),
        DateRead::DayFirst(ymd) => day_first(v, ymd),
        DateRead::RollsOver(given, read) => rolls_over(v, given, read),
        DateRead::Bad => bad_date(v),
    }
}

#[cold]
fn rolls_over<'a>(v: &Value<'a>, [_, m, d]: [u32; 3], [y2, m2, d2]: [u32; 3]) -> Verdict<'a> {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    Err(Box::new(Finding::Note {
        code: "rolled_over_date",
        message: format!(
            "{} \"{}\": {} has no day {d}; Canvas gives no warning and imports {y2:04}-{m2:02}-{d2:02} (Ruby's Time.new rolls the day over into the next month)",
            v.col.name,
            v.val,
            NAMES[m as usize - 1]
        ),
        hint: Some("write the date you mean".into()),
    }))
}

/// An enrollment's start_date without its end_date, or the reverse. Canvas's importer
/// saves each as given (the blank one clears the date it had), but an enrollment's own
/// dates govern access only when both are set (`EnrollmentDateBuilder`,
/// `enrollment_is_restricted?`); otherwise the section's, course's or term's apply.
#[inline(always)]
fn lone_enrollment_date<'a>(v: &Value<'a>) -> Verdict<'a> {
    // start_date and end_date are neighbours in the kinds table.
    let other = if v.col.name == "start_date" {
        v.ci + 1
    } else {
        v.ci.wrapping_sub(1)
    };
    match v.row.kind.cols.get(other) {
        Some(c) if matches!(c.name, "start_date" | "end_date") && v.row.v(other).is_empty() => {
            lone_date(v, c.name)
        }
        _ => Ok(()),
    }
}

#[cold]
fn lone_date<'a>(v: &Value<'a>, other: &str) -> Verdict<'a> {
    Err(Box::new(Finding::Note {
        code: "lone_enrollment_date",
        message: format!(
            "{} \"{}\" without {other}: Canvas saves it (and clears any {other} the enrollment had), but uses an enrollment's own dates only when both are set, so the section's, course's or term's dates still decide when the user has access",
            v.col.name, v.val
        ),
        hint: Some(format!(
            "set {other} too, or leave both empty to go by the section, course or term"
        )),
    }))
}

#[cold]
fn day_first<'a>(v: &Value<'a>, [y, m, d]: [u32; 3]) -> Verdict<'a> {
    // Canvas imports it, but maybe not as the SIS meant it.
    Err(Box::new(Finding::Note {
        code: "day_first_date",
        message: format!(
            "{} \"{}\" is read by Canvas as {y:04}-{m:02}-{d:02} (day first, as Ruby's date parser reads A/B/YYYY)",
            v.col.name, v.val
        ),
        hint: Some("if the month comes first, write the date as YYYY-MM-DD".into()),
    }))
}

/// Whether column `ci` of the row holds a date Canvas cannot read.
fn is_bad_date(row: &RowValues, ci: usize) -> bool {
    match row.kind.cols[ci].rule {
        Rule::Date { delete } => {
            let val = row.v(ci);
            !(val.is_empty() || delete && val == "<delete>")
                && values::read_date(val) == DateRead::Bad
        }
        _ => false,
    }
}

#[cold]
fn bad_date<'a>(v: &Value<'a>) -> Verdict<'a> {
    let (before, after) = v.row.active.split_at(
        v.row
            .active
            .iter()
            .position(|&c| c == v.ci)
            .expect("an active column"),
    );
    if before.iter().any(|&c| is_bad_date(v.row, c)) {
        return Err(Box::new(Finding::Quiet));
    }
    let mut h: String = match values::month_first_reading(v.val) {
        Some(iso) => format!(
            "Canvas reads A/B/YYYY day first, so \"{}\" has no such month; if you meant {iso}, write that; Canvas imports the row with this date empty",
            v.val
        ),
        None => "Canvas imports the row with this date empty; use YYYY-MM-DDTHH:MM:SSZ".into(),
    };
    // The row's later bad dates get no message of their own.
    if let Some(&later) = after[1..].iter().find(|&&c| is_bad_date(v.row, c)) {
        h.push_str(&format!(
            "; {} \"{}\" is not a date either: Canvas stops at the first bad date of a row",
            v.row.kind.cols[later].name,
            v.row.v(later)
        ));
    }
    Bad::new("bad_date", v).hint(h).verdict()
}

#[inline(always)]
fn email<'a>(v: &Value<'a>) -> Verdict<'a> {
    if values::is_email(v.val) {
        return Ok(());
    }
    bad_email(v)
}

#[cold]
fn bad_email<'a>(v: &Value<'a>) -> Verdict<'a> {
    Bad::new("invalid_email", v).verdict()
}

#[inline(always)]
fn integer<'a>(v: &Value<'a>) -> Verdict<'a> {
    if values::is_int(v.val) {
        return Ok(());
    }
    bad_integer(v)
}

#[cold]
fn bad_integer<'a>(v: &Value<'a>) -> Verdict<'a> {
    if v.row.kind.name == "enrollment" && v.col.name == "role_id" {
        return bad_role_id(v);
    }
    Bad::new("invalid_integer", v)
        .hint("expected an integer")
        .verdict()
}

/// An enrollment's `role_id` that is no role's id: `SIS::EnrollmentImporter` finds no
/// role by it (`Shard.global_id_for` of a non-integer is nil) and goes by `role`, so
/// the row is skipped only when `role` does not name one either.
fn bad_role_id<'a>(v: &Value<'a>) -> Verdict<'a> {
    let role = v.row.kind.col("role").map_or("", |ci| v.row.v(ci));
    if role.is_empty() {
        return Bad::new("invalid_integer", v)
            .hint(format!(
                "role_id \"{}\" is not a role id (an integer), so Canvas matches no role by it, and role is empty",
                v.val
            ))
            .verdict();
    }
    Err(Box::new(Finding::Note {
        code: "invalid_integer",
        message: format!(
            "role_id \"{}\" is not a role id (an integer): Canvas matches no role by it and enrolls by role \"{role}\"",
            v.val
        ),
        hint: Some("give the role's numeric id, or leave role_id empty".into()),
    }))
}

/// `value_to_boolean` (§1.1): Canvas takes anything; odd values are read as false.
#[inline(always)]
fn boolean<'a>(v: &Value<'a>) -> Verdict<'a> {
    if values::is_plain_bool(v.val) {
        return Ok(());
    }
    bad_boolean(v)
}

#[cold]
fn bad_boolean<'a>(v: &Value<'a>) -> Verdict<'a> {
    Bad {
        fallback: "\"{value}\" is not a boolean for column {col}",
        ..Bad::new("invalid_boolean", v).hint(format!(
            "Canvas reads \"{}\" as false; use true/false, yes/no or 1/0",
            v.val
        ))
    }
    .verdict()
}

#[inline(always)]
fn login<'a>(v: &Value<'a>, too_long: &'static str) -> Verdict<'a> {
    match values::login_problem(v.val) {
        None => Ok(()),
        Some(p) => bad_login(v, p, too_long),
    }
}

#[cold]
fn bad_login<'a>(v: &Value<'a>, p: LoginProblem, too_long: &'static str) -> Verdict<'a> {
    let name = v.col.name;
    let b = Bad::new("invalid_login_id", v);
    match p {
        LoginProblem::TooLong(n) => Bad {
            template: Some(too_long),
            ..b.hint(format!(
                "the {name} has {n} characters; Canvas allows at most {}",
                values::MAX_LOGIN_CHARS
            ))
        },
        LoginProblem::NotPrintable(at, c) => Bad {
            shown: values::escape_unprintable(v.val).into(),
            ..b.hint(format!(
                "character {at} of the {name} is U+{:04X}, {}; Canvas accepts only printable characters",
                c as u32,
                if c.is_control() {
                    "a control character"
                } else {
                    "not a printable character"
                }
            ))
        },
    }
    .verdict()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::kinds;

    /// Every kind's rules, on a value each accepts and one it refuses.
    #[test]
    fn rules_accept_and_refuse() {
        let k = &kinds::KINDS
            [kinds::recognise(&|c| ["user_id", "login_id"].contains(&c)).expect("users")];
        let vals: Vec<&str> = vec![""; k.cols.len()];
        let active: Vec<usize> = (0..k.cols.len()).collect();
        let row = RowValues {
            kind: k,
            vals: &vals,
            active: &active,
        };
        let check = |name: &str, val: &str| {
            let ci = k.col(name).expect("column");
            let col = &k.cols[ci];
            match col.rule.check(&Value {
                val,
                col,
                ci,
                row: &row,
            }) {
                Ok(()) => "ok".to_string(),
                Err(f) => match *f {
                    Finding::Bad(b) => format!("{} {}", b.code, b.template(col)),
                    Finding::Note { code, .. } => code.into(),
                    Finding::Quiet => "quiet".into(),
                },
            }
        };
        assert_eq!(check("status", "Active_x"), "ok");
        assert_eq!(
            check("status", "gone"),
            "invalid_value Improper status for user {user_id}"
        );
        assert_eq!(check("email", "a@example.edu"), "ok");
        assert!(check("email", "a@").starts_with("invalid_email "));
        assert_eq!(
            check("home_account", "maybe"),
            "invalid_boolean \"{value}\" is not a boolean for column {col}"
        );
        assert!(check("login_id", &"x".repeat(101)).contains("too long"));
        assert_eq!(check("declared_user_type", "<delete>"), "ok");
    }
}
